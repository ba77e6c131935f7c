/* pvm_in_pvm.c: guest program for tests/test_link.c — nub's own PVM engine
 * (src/pvm, freestanding C) compiled to RV64E, linked by nub link, running a
 * small PVM program inside PVM. A large, real C code base (decoder tables,
 * the interpreter's dispatch, function pointers) must give the same answer
 * as the same code built natively. */
#include "nub_guest.h"
#include "pvm/pvm.h"
#include "pvm/pvm_platform.h"

void *pvm_plat_alloc(size_t size)
{
	void *p = nub_malloc(size);
	if (p)
		memset(p, 0, size);
	return p;
}
void pvm_plat_free(void *p, size_t size)
{
	(void)size;
	nub_free(p);
}
void *pvm_plat_page_alloc(void)
{
	uint8_t *p = nub_malloc(2 * 4096);
	if (!p)
		return NULL;
	p = (uint8_t *)(((uintptr_t)p + 4095) & ~(uintptr_t)4095);
	memset(p, 0, 4096);
	return p;
}
void pvm_plat_page_free(void *page)
{
	(void)page; /* leaked: the guest's heap is discarded at exit */
}

/* r7 = 0; r8 = 100; do { r7 += 3; r8 -= 1; } while (r8); also a memory
 * round trip through a mapped page; then jump_ind r0 (halt). */
static const uint8_t inner_blob[] = {
	0x00, 0x00, 0x11,                   /* |j| = 0, z = 0, |c| = 17 */
	0x33, 0x07,                         /* @0  load_imm r7, 0 */
	0x33, 0x08, 0x64,                   /* @2  load_imm r8, 100 */
	0x01,                               /* @5  fallthrough */
	0x95, 0x77, 0x03,                   /* @6  add_imm_64 r7, r7, 3 */
	0x95, 0x88, 0xff,                   /* @9  add_imm_64 r8, r8, -1 */
	0x52, 0x08, 0xfa,                   /* @12 branch_ne_imm r8, 0, @6 */
	0x32, 0x00,                         /* @15 jump_ind r0, 0 */
	0x65, 0x92, 0x00,                   /* bitmask: 0, 2, 5, 6, 9, 12, 15 */
};

uint64_t pvm_in_pvm(void)
{
	pvm_program *p = NULL;
	pvm_instance *m = NULL;
	if (pvm_program_new(inner_blob, sizeof inner_blob, &p) != PVM_E_OK)
		return 1;
	if (pvm_instance_new(p, &m) != PVM_E_OK)
		return 2;
	if (pvm_mem_map(m, 0x20000, 4096, PVM_ACCESS_RW) != PVM_E_OK)
		return 3;
	static const uint8_t pat[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	uint8_t back[8];
	if (pvm_mem_write(m, 0x20010, pat, 8) != PVM_E_OK || pvm_mem_read(m, 0x20010, back, 8) != PVM_E_OK ||
	    memcmp(pat, back, 8) != 0)
		return 4;
	pvm_set_reg(m, 0, PVM_HALT_ADDR);
	pvm_set_gas(m, 100000);
	pvm_exit e = pvm_run(m);
	uint64_t r = ((uint64_t)e << 56) ^ (pvm_reg(m, 7) << 20) ^ (uint64_t)pvm_gas(m) ^ ((uint64_t)pvm_pc(m) << 40);
	char text[64];
	pvm_disasm(p, 6, text, sizeof text);
	for (const char *c = text; *c; c++)
		r = r * 31 + (uint8_t)*c;
	pvm_instance_free(m);
	pvm_program_free(p);
	return r;
}
NUB_EXPORT(0, pvm_in_pvm);
