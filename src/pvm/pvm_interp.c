/* pvm_interp.c: the interpreter (GP 0.7.2 Ψ, one gas per instruction).
 *
 * Threaded dispatch over the decoded program: one label per instruction of
 * the table, reached through a table generated from pvm_opcodes.h.
 *
 * Gas. Observable behaviour is exactly one gas per instruction: an
 * instruction that cannot be paid for stops with OUT_OF_GAS, pc on it, gas 0
 * and the state unchanged; a faulting load or store has been paid for (GP
 * master, both reference interpreters). To keep the check out of the hot
 * path, entering a straight-line run (at a block start, the initial pc or a
 * resume point) charges the whole run (seg_len) at once when the gas
 * suffices; an exit in the middle of the run refunds the instructions not
 * reached. When the gas does not suffice, the run executes in checked mode:
 * dispatch goes through a table whose every entry first charges one gas.
 *
 * PVM_MEM_MMU (guest build): a load/store that pvm_mem_direct accepts goes
 * straight to window + a. Before it, the instruction, the gas counter and
 * whether the run was pre-charged are recorded in the instance; a page fault
 * there is either a copy-on-write fill (the access is retried) or ends the
 * run through the platform's catch in pvm_run, which rebuilds the stop
 * state from that record exactly like `stop:` below (faulting instruction
 * charged, the rest of the run refunded, nothing written).
 */
#include "pvm_mem.h"
#ifdef PVM_MEM_MMU
#include "pvm_platform.h"
#endif

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the engine assumes a little-endian host"
#endif

static inline uint64_t sx32(uint64_t x)
{
	return (uint64_t)(int64_t)(int32_t)(uint32_t)x;
}

/* SWAR popcount: no libgcc helper (__popcountdi2) in freestanding builds */
static inline uint64_t popcount64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
	return (x * 0x0101010101010101ull) >> 56;
}

static inline uint64_t rotr64(uint64_t x, unsigned s)
{
	s &= 63;
	return s ? (x >> s) | (x << (64 - s)) : x;
}

static inline uint32_t rotr32(uint32_t x, unsigned s)
{
	s &= 31;
	return s ? (x >> s) | (x << (32 - s)) : x;
}

static inline uint64_t mulh_ss(uint64_t a, uint64_t b)
{
	return (uint64_t)(((__int128)(int64_t)a * (__int128)(int64_t)b) >> 64);
}

static inline uint64_t mulh_uu(uint64_t a, uint64_t b)
{
	return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

static inline uint64_t mulh_su(uint64_t a, uint64_t b)
{
	return (uint64_t)(((__int128)(int64_t)a * (__int128)b) >> 64);
}

static uint64_t div_s64(uint64_t a, uint64_t b)
{
	if (b == 0)
		return UINT64_MAX;
	if ((int64_t)a == INT64_MIN && (int64_t)b == -1)
		return a;
	return (uint64_t)((int64_t)a / (int64_t)b);
}

static uint64_t rem_s64(uint64_t a, uint64_t b)
{
	if (b == 0)
		return a;
	if ((int64_t)a == INT64_MIN && (int64_t)b == -1)
		return 0;
	return (uint64_t)((int64_t)a % (int64_t)b);
}

static uint64_t div_s32(uint64_t a64, uint64_t b64)
{
	int32_t a = (int32_t)(uint32_t)a64, b = (int32_t)(uint32_t)b64;
	if (b == 0)
		return UINT64_MAX;
	if (a == INT32_MIN && b == -1)
		return (uint64_t)(int64_t)a;
	return (uint64_t)(int64_t)(a / b);
}

static uint64_t rem_s32(uint64_t a64, uint64_t b64)
{
	int32_t a = (int32_t)(uint32_t)a64, b = (int32_t)(uint32_t)b64;
	if (b == 0)
		return (uint64_t)(int64_t)a;
	if (a == INT32_MIN && b == -1)
		return 0;
	return (uint64_t)(int64_t)(a % b);
}

#ifdef PVM_MEM_MMU
#define PVM_INTERP static __attribute__((noinline)) pvm_exit interp
#else
#define PVM_INTERP pvm_exit pvm_run
#endif

PVM_INTERP(pvm_instance *m)
{
	static const void *const labels[PVM_I_COUNT] = {
#define PVM_OP(name, code, fmt, flags) &&L_##name,
#include "pvm_opcodes.h"
#undef PVM_OP
	};
	const pvm_program *p = m->prog;
	const pvm_insn *const base = p->insns;
	const uint32_t *const jt = p->jt_idx;
	const uint32_t jt_len = p->jt_len;
	static const void *const checked[PVM_I_COUNT] = {
#define PVM_OP(name, code, fmt, flags) &&L_checked,
#include "pvm_opcodes.h"
#undef PVM_OP
	};
	const void *const *tbl;
	uint64_t *const r = m->regs;
	uint64_t gas = m->gas < 0 ? 0 : (uint64_t)m->gas;
	const pvm_insn *ip;
	pvm_exit ex;
	uint32_t idx = m->resume_idx;
#ifdef PVM_MEM_MMU
	uint8_t *const win = m->win;
#endif

	m->resume_idx = PVM_NO_TARGET;
	m->exit_arg = 0;
	if (idx == PVM_NO_TARGET)
		idx = pvm_insn_index(p, m->pc);
	if (idx == PVM_NO_TARGET) {
		/* pc is inside an instruction or past the code: reads as trap */
		if (gas == 0) {
			m->gas = 0;
			return PVM_EXIT_OOG;
		}
		m->gas = (int64_t)(gas - 1);
		return PVM_EXIT_PANIC;
	}

/* enter a straight-line run at instruction pointer `to` */
#define ENTER(to)                                                                                                      \
	do {                                                                                                           \
		ip = (to);                                                                                             \
		if (__builtin_expect(gas >= ip->seg, 1)) {                                                             \
			gas -= ip->seg;                                                                                \
			tbl = labels;                                                                                  \
		} else {                                                                                               \
			tbl = checked;                                                                                 \
		}                                                                                                      \
		goto *tbl[ip->opi];                                                                                    \
	} while (0)
/* the next instruction of the same run */
#define NEXT()                                                                                                         \
	do {                                                                                                           \
		ip++;                                                                                                  \
		goto *tbl[ip->opi];                                                                                    \
	} while (0)
#define JUMP_TO(t)                                                                                                     \
	do {                                                                                                           \
		uint32_t t_ = (t);                                                                                     \
		if (__builtin_expect(t_ == PVM_NO_TARGET, 0))                                                          \
			goto panic;                                                                                    \
		ENTER(base + t_);                                                                                      \
	} while (0)
#define BRANCH(cond)                                                                                                   \
	do {                                                                                                           \
		if (cond)                                                                                              \
			JUMP_TO(ip->target);                                                                           \
		ENTER(ip + 1);                                                                                         \
	} while (0)
#define DJUMP(addr)                                                                                                    \
	do {                                                                                                           \
		uint32_t a_ = (uint32_t)(addr);                                                                        \
		if (a_ == PVM_HALT_ADDR)                                                                               \
			goto halt;                                                                                     \
		if (a_ == 0 || (a_ & 1) || a_ / 2 > jt_len)                                                            \
			goto panic;                                                                                    \
		JUMP_TO(jt[a_ / 2 - 1]);                                                                               \
	} while (0)
/* The memory fast path: a host pointer for n bytes at PVM address a, or 0
 * for the slow path. Under the MMU (guest build) the access goes straight
 * into the address-space window, and where a fault of it stops is recorded
 * first (the #PF handler resumes pvm_run from there). */
#ifdef PVM_MEM_MMU
#define MEM_PTR(a, n, need) pvm_mem_direct(win, (a), (n))
#define DIRECT_BEGIN()                                                                                                 \
	do {                                                                                                           \
		m->f_ip = ip;                                                                                          \
		m->f_gas = gas;                                                                                        \
		m->f_pre = tbl == labels;                                                                              \
		__asm__ volatile("" : : : "memory");                                                                   \
	} while (0)
#define DIRECT_END() __asm__ volatile("" : : : "memory")
#else
#define MEM_PTR(a, n, need) pvm_mem_fast(m, (a), (n), (need))
#define DIRECT_BEGIN() ((void)0)
#define DIRECT_END() ((void)0)
#endif
#define LOAD(T, addr, dst, conv)                                                                                       \
	do {                                                                                                           \
		uint32_t a_ = (uint32_t)(addr);                                                                        \
		const uint8_t *h_ = MEM_PTR(a_, sizeof(T), PVM_PTE_R);                                                 \
		uint64_t v_;                                                                                           \
		if (__builtin_expect(h_ != 0, 1)) {                                                                    \
			T t_;                                                                                          \
			DIRECT_BEGIN();                                                                                \
			__builtin_memcpy(&t_, h_, sizeof(T));                                                          \
			DIRECT_END();                                                                                  \
			v_ = (uint64_t)t_;                                                                             \
		} else {                                                                                               \
			int e_ = pvm_mem_load_slow(m, a_, sizeof(T), &v_);                                             \
			if (e_ >= 0) {                                                                                 \
				ex = (pvm_exit)e_;                                                                     \
				goto stop;                                                                             \
			}                                                                                              \
		}                                                                                                      \
		r[dst] = conv(v_);                                                                                     \
		NEXT();                                                                                                \
	} while (0)
#define STORE(T, addr, val)                                                                                            \
	do {                                                                                                           \
		uint32_t a_ = (uint32_t)(addr);                                                                        \
		uint8_t *h_ = MEM_PTR(a_, sizeof(T), PVM_PTE_R | PVM_PTE_W);                                           \
		if (__builtin_expect(h_ != 0, 1)) {                                                                    \
			T t_ = (T)(val);                                                                               \
			DIRECT_BEGIN();                                                                                \
			__builtin_memcpy(h_, &t_, sizeof(T));                                                          \
			DIRECT_END();                                                                                  \
		} else {                                                                                               \
			int e_ = pvm_mem_store_slow(m, a_, sizeof(T), (uint64_t)(val));                                \
			if (e_ >= 0) {                                                                                 \
				ex = (pvm_exit)e_;                                                                     \
				goto stop;                                                                             \
			}                                                                                              \
		}                                                                                                      \
		NEXT();                                                                                                \
	} while (0)
#define U(x) ((uint64_t)(x))
#define S8(x) ((uint64_t)(int64_t)(int8_t)(uint8_t)(x))
#define S16(x) ((uint64_t)(int64_t)(int16_t)(uint16_t)(x))
#define S32(x) sx32(x)
#define OP2I(name, expr)                                                                                               \
	L_##name:                                                                                                      \
	{                                                                                                              \
		uint64_t b = r[ip->b], i = ip->imm;                                                                    \
		(void)b;                                                                                               \
		(void)i;                                                                                               \
		r[ip->a] = (expr);                                                                                     \
		NEXT();                                                                                                \
	}
#define OP3(name, expr)                                                                                                \
	L_##name:                                                                                                      \
	{                                                                                                              \
		uint64_t a = r[ip->a], b = r[ip->b];                                                                   \
		r[ip->d] = (expr);                                                                                     \
		NEXT();                                                                                                \
	}
#define OP2(name, expr)                                                                                                \
	L_##name:                                                                                                      \
	{                                                                                                              \
		uint64_t a = r[ip->a];                                                                                 \
		r[ip->d] = (expr);                                                                                     \
		NEXT();                                                                                                \
	}

	ENTER(base + idx);

L_checked:
	if (gas == 0)
		goto out_of_gas;
	gas--;
	goto *labels[ip->opi];
L_trap:
	goto panic;
L_fallthrough:
	ENTER(ip + 1);
L_ecalli:
	m->exit_arg = (uint32_t)ip->imm;
	m->resume_idx = (uint32_t)(ip - base) + 1;
	ex = PVM_EXIT_HOST;
	goto stop;
L_load_imm_64:
	r[ip->a] = ip->imm;
	NEXT();
L_store_imm_u8:
	STORE(uint8_t, ip->imm2, ip->imm);
L_store_imm_u16:
	STORE(uint16_t, ip->imm2, ip->imm);
L_store_imm_u32:
	STORE(uint32_t, ip->imm2, ip->imm);
L_store_imm_u64:
	STORE(uint64_t, ip->imm2, ip->imm);
L_jump:
	JUMP_TO(ip->target);
L_jump_ind:
	DJUMP(r[ip->a] + ip->imm);
L_load_imm:
	r[ip->a] = ip->imm;
	NEXT();
L_load_u8:
	LOAD(uint8_t, ip->imm, ip->a, U);
L_load_i8:
	LOAD(uint8_t, ip->imm, ip->a, S8);
L_load_u16:
	LOAD(uint16_t, ip->imm, ip->a, U);
L_load_i16:
	LOAD(uint16_t, ip->imm, ip->a, S16);
L_load_u32:
	LOAD(uint32_t, ip->imm, ip->a, U);
L_load_i32:
	LOAD(uint32_t, ip->imm, ip->a, S32);
L_load_u64:
	LOAD(uint64_t, ip->imm, ip->a, U);
L_store_u8:
	STORE(uint8_t, ip->imm, r[ip->a]);
L_store_u16:
	STORE(uint16_t, ip->imm, r[ip->a]);
L_store_u32:
	STORE(uint32_t, ip->imm, r[ip->a]);
L_store_u64:
	STORE(uint64_t, ip->imm, r[ip->a]);
L_store_imm_ind_u8:
	STORE(uint8_t, r[ip->a] + ip->imm2, ip->imm);
L_store_imm_ind_u16:
	STORE(uint16_t, r[ip->a] + ip->imm2, ip->imm);
L_store_imm_ind_u32:
	STORE(uint32_t, r[ip->a] + ip->imm2, ip->imm);
L_store_imm_ind_u64:
	STORE(uint64_t, r[ip->a] + ip->imm2, ip->imm);
L_load_imm_jump:
	r[ip->a] = ip->imm;
	JUMP_TO(ip->target);
L_branch_eq_imm:
	BRANCH(r[ip->a] == ip->imm);
L_branch_ne_imm:
	BRANCH(r[ip->a] != ip->imm);
L_branch_lt_u_imm:
	BRANCH(r[ip->a] < ip->imm);
L_branch_le_u_imm:
	BRANCH(r[ip->a] <= ip->imm);
L_branch_ge_u_imm:
	BRANCH(r[ip->a] >= ip->imm);
L_branch_gt_u_imm:
	BRANCH(r[ip->a] > ip->imm);
L_branch_lt_s_imm:
	BRANCH((int64_t)r[ip->a] < (int64_t)ip->imm);
L_branch_le_s_imm:
	BRANCH((int64_t)r[ip->a] <= (int64_t)ip->imm);
L_branch_ge_s_imm:
	BRANCH((int64_t)r[ip->a] >= (int64_t)ip->imm);
L_branch_gt_s_imm:
	BRANCH((int64_t)r[ip->a] > (int64_t)ip->imm);
	OP2(move_reg, a)
L_sbrk:
	r[ip->d] = pvm_mem_sbrk(m, (uint32_t)r[ip->a]);
	NEXT();
	OP2(count_set_bits_64, popcount64(a))
	OP2(count_set_bits_32, popcount64((uint32_t)a))
	OP2(leading_zero_bits_64, a ? U(__builtin_clzll(a)) : 64)
	OP2(leading_zero_bits_32, (uint32_t)a ? U(__builtin_clz((uint32_t)a)) : 32)
	OP2(trailing_zero_bits_64, a ? U(__builtin_ctzll(a)) : 64)
	OP2(trailing_zero_bits_32, (uint32_t)a ? U(__builtin_ctz((uint32_t)a)) : 32)
	OP2(sign_extend_8, S8(a))
	OP2(sign_extend_16, S16(a))
	OP2(zero_extend_16, a & 0xFFFF)
	OP2(reverse_bytes, __builtin_bswap64(a))
L_store_ind_u8:
	STORE(uint8_t, r[ip->b] + ip->imm, r[ip->a]);
L_store_ind_u16:
	STORE(uint16_t, r[ip->b] + ip->imm, r[ip->a]);
L_store_ind_u32:
	STORE(uint32_t, r[ip->b] + ip->imm, r[ip->a]);
L_store_ind_u64:
	STORE(uint64_t, r[ip->b] + ip->imm, r[ip->a]);
L_load_ind_u8:
	LOAD(uint8_t, r[ip->b] + ip->imm, ip->a, U);
L_load_ind_i8:
	LOAD(uint8_t, r[ip->b] + ip->imm, ip->a, S8);
L_load_ind_u16:
	LOAD(uint16_t, r[ip->b] + ip->imm, ip->a, U);
L_load_ind_i16:
	LOAD(uint16_t, r[ip->b] + ip->imm, ip->a, S16);
L_load_ind_u32:
	LOAD(uint32_t, r[ip->b] + ip->imm, ip->a, U);
L_load_ind_i32:
	LOAD(uint32_t, r[ip->b] + ip->imm, ip->a, S32);
L_load_ind_u64:
	LOAD(uint64_t, r[ip->b] + ip->imm, ip->a, U);
	OP2I(add_imm_32, S32(b + i))
	OP2I(and_imm, b & i)
	OP2I(xor_imm, b ^ i)
	OP2I(or_imm, b | i)
	OP2I(mul_imm_32, S32(b * i))
	OP2I(set_lt_u_imm, U(b < i))
	OP2I(set_lt_s_imm, U((int64_t)b < (int64_t)i))
	OP2I(shlo_l_imm_32, S32((uint32_t)b << (i & 31)))
	OP2I(shlo_r_imm_32, S32((uint32_t)b >> (i & 31)))
	OP2I(shar_r_imm_32, U((int64_t)((int32_t)(uint32_t)b >> (i & 31))))
	OP2I(neg_add_imm_32, S32(i - b))
	OP2I(set_gt_u_imm, U(b > i))
	OP2I(set_gt_s_imm, U((int64_t)b > (int64_t)i))
	OP2I(shlo_l_imm_alt_32, S32((uint32_t)i << (b & 31)))
	OP2I(shlo_r_imm_alt_32, S32((uint32_t)i >> (b & 31)))
	OP2I(shar_r_imm_alt_32, U((int64_t)((int32_t)(uint32_t)i >> (b & 31))))
	OP2I(cmov_iz_imm, b == 0 ? i : r[ip->a])
	OP2I(cmov_nz_imm, b != 0 ? i : r[ip->a])
	OP2I(add_imm_64, b + i)
	OP2I(mul_imm_64, b * i)
	OP2I(shlo_l_imm_64, b << (i & 63))
	OP2I(shlo_r_imm_64, b >> (i & 63))
	OP2I(shar_r_imm_64, U((int64_t)b >> (i & 63)))
	OP2I(neg_add_imm_64, i - b)
	OP2I(shlo_l_imm_alt_64, i << (b & 63))
	OP2I(shlo_r_imm_alt_64, i >> (b & 63))
	OP2I(shar_r_imm_alt_64, U((int64_t)i >> (b & 63)))
	OP2I(rot_r_64_imm, rotr64(b, (unsigned)i))
	OP2I(rot_r_64_imm_alt, rotr64(i, (unsigned)b))
	OP2I(rot_r_32_imm, S32(rotr32((uint32_t)b, (unsigned)i)))
	OP2I(rot_r_32_imm_alt, S32(rotr32((uint32_t)i, (unsigned)b)))
L_branch_eq:
	BRANCH(r[ip->a] == r[ip->b]);
L_branch_ne:
	BRANCH(r[ip->a] != r[ip->b]);
L_branch_lt_u:
	BRANCH(r[ip->a] < r[ip->b]);
L_branch_lt_s:
	BRANCH((int64_t)r[ip->a] < (int64_t)r[ip->b]);
L_branch_ge_u:
	BRANCH(r[ip->a] >= r[ip->b]);
L_branch_ge_s:
	BRANCH((int64_t)r[ip->a] >= (int64_t)r[ip->b]);
L_load_imm_jump_ind:
{
	uint64_t t = r[ip->b] + sx32(ip->imm2);
	r[ip->a] = ip->imm;
	DJUMP(t);
}
	OP3(add_32, S32(a + b))
	OP3(sub_32, S32(a - b))
	OP3(mul_32, S32(a * b))
	OP3(div_u_32, (uint32_t)b == 0 ? UINT64_MAX : S32((uint32_t)a / (uint32_t)b))
	OP3(div_s_32, div_s32(a, b))
	OP3(rem_u_32, (uint32_t)b == 0 ? S32(a) : S32((uint32_t)a % (uint32_t)b))
	OP3(rem_s_32, rem_s32(a, b))
	OP3(shlo_l_32, S32((uint32_t)a << (b & 31)))
	OP3(shlo_r_32, S32((uint32_t)a >> (b & 31)))
	OP3(shar_r_32, U((int64_t)((int32_t)(uint32_t)a >> (b & 31))))
	OP3(add_64, a + b)
	OP3(sub_64, a - b)
	OP3(mul_64, a * b)
	OP3(div_u_64, b == 0 ? UINT64_MAX : a / b)
	OP3(div_s_64, div_s64(a, b))
	OP3(rem_u_64, b == 0 ? a : a % b)
	OP3(rem_s_64, rem_s64(a, b))
	OP3(shlo_l_64, a << (b & 63))
	OP3(shlo_r_64, a >> (b & 63))
	OP3(shar_r_64, U((int64_t)a >> (b & 63)))
	OP3(and, a & b)
	OP3(xor, a ^ b)
	OP3(or, a | b)
	OP3(mul_upper_s_s, mulh_ss(a, b))
	OP3(mul_upper_u_u, mulh_uu(a, b))
	OP3(mul_upper_s_u, mulh_su(a, b))
	OP3(set_lt_u, U(a < b))
	OP3(set_lt_s, U((int64_t)a < (int64_t)b))
	OP3(cmov_iz, b == 0 ? a : r[ip->d])
	OP3(cmov_nz, b != 0 ? a : r[ip->d])
	OP3(rot_l_64, rotr64(a, (unsigned)(64 - (b & 63))))
	OP3(rot_l_32, S32(rotr32((uint32_t)a, (unsigned)(32 - (b & 31)))))
	OP3(rot_r_64, rotr64(a, (unsigned)b))
	OP3(rot_r_32, S32(rotr32((uint32_t)a, (unsigned)b)))
	OP3(and_inv, a & ~b)
	OP3(or_inv, a | ~b)
	OP3(xnor, ~(a ^ b))
	OP3(max, (int64_t)a > (int64_t)b ? a : b)
	OP3(max_u, a > b ? a : b)
	OP3(min, (int64_t)a < (int64_t)b ? a : b)
	OP3(min_u, a < b ? a : b)

out_of_gas:
	m->pc = ip->pc;
	m->gas = 0;
	return PVM_EXIT_OOG;
halt:
	ex = PVM_EXIT_HALT;
	goto stop;
panic:
	ex = PVM_EXIT_PANIC;
stop:
	/* refund the part of a pre-charged run that was not reached */
	if (tbl == labels)
		gas += ip->seg - 1;
	m->pc = ip->pc;
	m->gas = (int64_t)gas;
	return ex;
#undef ENTER
#undef NEXT
#undef JUMP_TO
#undef BRANCH
#undef DJUMP
#undef LOAD
#undef STORE
#undef MEM_PTR
#undef DIRECT_BEGIN
#undef DIRECT_END
#undef OP2I
#undef OP3
#undef OP2
}

#ifdef PVM_MEM_MMU
pvm_exit pvm_run(pvm_instance *m)
{
	pvm_plat_catch c = {.inst = m};
	m->win = pvm_plat_as_enter(m->as);
	if (pvm_plat_catch_arm(&c)) {
		/* a direct access faulted: stop on it as `stop:` would */
		pvm_plat_catch_disarm(&c);
		const pvm_insn *ip = m->f_ip;
		uint64_t gas = m->f_gas;
		if (m->f_pre)
			gas += ip->seg - 1;
		m->pc = ip->pc;
		m->gas = (int64_t)gas;
		return (pvm_exit)m->f_exit;
	}
	pvm_exit x = interp(m);
	pvm_plat_catch_disarm(&c);
	return x;
}
#endif
