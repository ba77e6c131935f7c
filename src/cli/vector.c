/* vector.c: JSON test vectors: parse (json-c, u64-exact), build, compare. */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vector.h"

typedef struct {
	char *err;
	size_t errlen;
	bool failed;
} perr;

static bool fail(perr *pe, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(perr *pe, const char *fmt, ...)
{
	if (!pe->failed) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(pe->err, pe->errlen, fmt, ap);
		va_end(ap);
	}
	pe->failed = true;
	return false;
}

static json_object *field(perr *pe, json_object *o, const char *key, json_type t, bool required)
{
	json_object *f;
	if (!json_object_object_get_ex(o, key, &f)) {
		if (required)
			fail(pe, "missing field \"%s\"", key);
		return NULL;
	}
	if (!json_object_is_type(f, t)) {
		fail(pe, "field \"%s\" has the wrong type", key);
		return NULL;
	}
	return f;
}

/* An integer JSON value as u64, rejecting negatives and non-integers. */
static bool get_u64(perr *pe, json_object *o, const char *what, uint64_t max, uint64_t *v)
{
	if (!o || !json_object_is_type(o, json_type_int))
		return fail(pe, "%s: not an integer", what);
	int64_t s = json_object_get_int64(o);
	if (s < 0)
		return fail(pe, "%s: negative", what);
	uint64_t u = json_object_get_uint64(o);
	if (u > max)
		return fail(pe, "%s: %" PRIu64 " out of range", what, u);
	*v = u;
	return true;
}

static bool u64_field(perr *pe, json_object *o, const char *key, uint64_t max, uint64_t *v, bool required)
{
	json_object *f = field(pe, o, key, json_type_int, required);
	if (!f)
		return false;
	return get_u64(pe, f, key, max, v);
}

static bool regs_field(perr *pe, json_object *o, const char *key, uint64_t *regs)
{
	json_object *a = field(pe, o, key, json_type_array, true);
	if (!a)
		return false;
	if (json_object_array_length(a) != PVM_NUM_REGS)
		return fail(pe, "\"%s\" must have 13 entries", key);
	for (size_t i = 0; i < PVM_NUM_REGS; i++)
		if (!get_u64(pe, json_object_array_get_idx(a, i), key, UINT64_MAX, &regs[i]))
			return false;
	return true;
}

static bool bytes_of(perr *pe, json_object *a, const char *what, uint8_t **out, size_t *len)
{
	size_t n = json_object_array_length(a);
	uint8_t *b = malloc(n ? n : 1);
	if (!b)
		return fail(pe, "out of memory");
	for (size_t i = 0; i < n; i++) {
		uint64_t x;
		if (!get_u64(pe, json_object_array_get_idx(a, i), what, 255, &x)) {
			free(b);
			return false;
		}
		b[i] = (uint8_t)x;
	}
	*out = b;
	*len = n;
	return true;
}

static bool memory_field(perr *pe, json_object *o, const char *key, vec_chunk **out, size_t *n)
{
	json_object *a = field(pe, o, key, json_type_array, true);
	if (!a)
		return false;
	size_t cnt = json_object_array_length(a);
	vec_chunk *c = calloc(cnt ? cnt : 1, sizeof *c);
	if (!c)
		return fail(pe, "out of memory");
	*out = c;
	*n = cnt;
	for (size_t i = 0; i < cnt; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		if (!json_object_is_type(e, json_type_object))
			return fail(pe, "\"%s\"[%zu] is not an object", key, i);
		uint64_t addr;
		if (!u64_field(pe, e, "address", UINT32_MAX, &addr, true))
			return false;
		json_object *d = field(pe, e, "contents", json_type_array, true);
		if (!d)
			return false;
		size_t len;
		if (!bytes_of(pe, d, "contents", &c[i].data, &len))
			return false;
		if (addr + len > ((uint64_t)1 << 32))
			return fail(pe, "\"%s\"[%zu] runs past 2^32", key, i);
		c[i].addr = (uint32_t)addr;
		c[i].len = (uint32_t)len;
	}
	return true;
}

int vector_status(const char *s)
{
	if (!strcmp(s, "halt"))
		return PVM_EXIT_HALT;
	if (!strcmp(s, "panic") || !strcmp(s, "trap"))
		return PVM_EXIT_PANIC;
	if (!strcmp(s, "out-of-gas") || !strcmp(s, "oog"))
		return PVM_EXIT_OOG;
	if (!strcmp(s, "page-fault"))
		return PVM_EXIT_PAGE_FAULT;
	if (!strcmp(s, "host") || !strcmp(s, "ecalli"))
		return PVM_EXIT_HOST;
	return -1;
}

void vector_free(vector *v)
{
	free(v->name);
	free(v->pages);
	for (size_t i = 0; i < v->n_mem; i++)
		free(v->mem[i].data);
	free(v->mem);
	for (size_t i = 0; i < v->n_emem; i++)
		free(v->emem[i].data);
	free(v->emem);
	free(v->program);
	memset(v, 0, sizeof *v);
}

static bool parse_obj(perr *pe, json_object *root, vector *v)
{
	json_object *f;
	uint64_t x;
	if (!json_object_is_type(root, json_type_object))
		return fail(pe, "top level is not a JSON object");
	if ((f = field(pe, root, "name", json_type_string, false)) != NULL)
		v->name = strdup(json_object_get_string(f));
	else if (pe->failed)
		return false;
	if (!regs_field(pe, root, "initial-regs", v->regs))
		return false;
	if (!u64_field(pe, root, "initial-pc", UINT32_MAX, &x, true))
		return false;
	v->pc = (uint32_t)x;
	if (!u64_field(pe, root, "initial-gas", INT64_MAX, &x, true))
		return false;
	v->gas = (int64_t)x;
	if (!(f = field(pe, root, "initial-page-map", json_type_array, true)))
		return false;
	v->n_pages = json_object_array_length(f);
	v->pages = calloc(v->n_pages ? v->n_pages : 1, sizeof *v->pages);
	if (!v->pages)
		return fail(pe, "out of memory");
	for (size_t i = 0; i < v->n_pages; i++) {
		json_object *e = json_object_array_get_idx(f, i), *w;
		uint64_t addr, len;
		if (!json_object_is_type(e, json_type_object))
			return fail(pe, "initial-page-map[%zu] is not an object", i);
		if (!u64_field(pe, e, "address", UINT32_MAX, &addr, true) ||
		    !u64_field(pe, e, "length", (uint64_t)1 << 32, &len, true))
			return false;
		if (!(w = field(pe, e, "is-writable", json_type_boolean, true)))
			return false;
		if ((addr | len) & 4095 || addr + len > ((uint64_t)1 << 32))
			return fail(pe, "initial-page-map[%zu]: not page-aligned or past 2^32", i);
		v->pages[i].addr = (uint32_t)addr;
		v->pages[i].len = (uint32_t)len;
		v->pages[i].writable = json_object_get_boolean(w);
	}
	if (!memory_field(pe, root, "initial-memory", &v->mem, &v->n_mem))
		return false;
	if (!(f = field(pe, root, "program", json_type_array, true)))
		return false;
	if (!bytes_of(pe, f, "program", &v->program, &v->program_len))
		return false;

	/* expectations: all or nothing */
	if (!(f = field(pe, root, "expected-status", json_type_string, false)))
		return !pe->failed;
	v->has_expect = true;
	v->status = vector_status(json_object_get_string(f));
	if (v->status < 0)
		return fail(pe, "expected-status \"%s\" is not a known status", json_object_get_string(f));
	if (!regs_field(pe, root, "expected-regs", v->eregs))
		return false;
	if (!u64_field(pe, root, "expected-pc", UINT32_MAX, &x, true))
		return false;
	v->epc = (uint32_t)x;
	if (!u64_field(pe, root, "expected-gas", INT64_MAX, &x, true))
		return false;
	v->egas = (int64_t)x;
	if (!memory_field(pe, root, "expected-memory", &v->emem, &v->n_emem))
		return false;
	if (u64_field(pe, root, "expected-page-fault-address", UINT32_MAX, &x, false)) {
		v->has_fault = true;
		v->efault = (uint32_t)x;
	} else if (pe->failed) {
		return false;
	}
	if (u64_field(pe, root, "expected-host-call", UINT64_MAX, &x, false)) {
		v->has_host = true;
		v->ehost = (uint32_t)x;
	} else if (pe->failed) {
		return false;
	}
	return true;
}

/* json-c clamps integers beyond 2^64-1 to 2^64-1 without a word: find them
 * in the text first (outside strings) and name the field they belong to. */
static bool integers_in_range(perr *pe, const char *json, size_t len)
{
	char key[64] = "";
	size_t key_at = 0, key_len = 0;
	bool in_str = false;
	for (size_t i = 0; i < len; i++) {
		char c = json[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"') {
				in_str = false;
				key_len = i - key_at;
			}
			continue;
		}
		if (c == '"') {
			in_str = true;
			key_at = i + 1;
			continue;
		}
		if (c == ':' && key_len) { /* the string before it was a key */
			size_t n = key_len < sizeof key - 1 ? key_len : sizeof key - 1;
			memcpy(key, json + key_at, n);
			key[n] = 0;
			continue;
		}
		if (c < '0' || c > '9' || (i && ((json[i - 1] >= '0' && json[i - 1] <= '9') || json[i - 1] == '.')))
			continue;
		size_t j = i;
		while (j < len && json[j] >= '0' && json[j] <= '9')
			j++;
		bool integer = j >= len || (json[j] != '.' && json[j] != 'e' && json[j] != 'E');
		size_t nd = j - i;
		static const char max[] = "18446744073709551615";
		if (integer && (nd > 20 || (nd == 20 && memcmp(json + i, max, 20) > 0)))
			return fail(pe, "field \"%s\": %.*s%s is beyond 2^64-1", key, (int)(nd < 40 ? nd : 40), json + i,
			            nd > 40 ? "..." : "");
		i = j - 1;
	}
	return true;
}

bool vector_parse(const char *json, size_t len, vector *v, char *err, size_t errlen)
{
	perr pe = {err, errlen, false};
	memset(v, 0, sizeof *v);
	if (len > VECTOR_MAX_JSON) {
		/* json-c takes about 37 times the text's size: refuse before that */
		fail(&pe, "JSON vector of %zu bytes: larger than the %u MiB a vector may have", len,
		     (unsigned)(VECTOR_MAX_JSON >> 20));
		return false;
	}
	if (!integers_in_range(&pe, json, len))
		return false;
	json_tokener *tok = json_tokener_new();
	if (!tok) {
		fail(&pe, "out of memory");
		return false;
	}
	json_object *root = json_tokener_parse_ex(tok, json, (int)len);
	enum json_tokener_error je = json_tokener_get_error(tok);
	if (!root && je == json_tokener_success) { /* a JSON null, or json-c's word for a failed allocation */
		size_t k = 0;
		while (k < len && (json[k] == ' ' || json[k] == '\n' || json[k] == '\r' || json[k] == '\t'))
			k++;
		if (len - k >= 4 && !memcmp(json + k, "null", 4))
			fail(&pe, "a vector must be a JSON object, not null");
		else
			fail(&pe, "out of memory while parsing %zu bytes of JSON", len);
		json_tokener_free(tok);
		return false;
	}
	if (!root || je != json_tokener_success) {
		fail(&pe, "invalid JSON: %s", json_tokener_error_desc(je == json_tokener_success ? json_tokener_continue : je));
		json_object_put(root);
		json_tokener_free(tok);
		return false;
	}
	/* nothing but whitespace may follow */
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
		if (json[i] != ' ' && json[i] != '\n' && json[i] != '\r' && json[i] != '\t') {
			fail(&pe, "invalid JSON: trailing data after the object");
			json_object_put(root);
			json_tokener_free(tok);
			return false;
		}
	json_tokener_free(tok);
	bool ok = parse_obj(&pe, root, v);
	json_object_put(root);
	if (!ok)
		vector_free(v);
	return ok;
}

pvm_err vector_instance(const vector *v, const pvm_program *p, pvm_instance **out)
{
	pvm_instance *m;
	pvm_err e = pvm_instance_new(p, &m);
	if (e)
		return e;
	uint64_t heap = 0;
	for (size_t i = 0; i < v->n_pages && !e; i++) {
		e = pvm_mem_map(m, v->pages[i].addr, v->pages[i].len, v->pages[i].writable ? PVM_ACCESS_RW : PVM_ACCESS_RO);
		if ((uint64_t)v->pages[i].addr + v->pages[i].len > heap)
			heap = (uint64_t)v->pages[i].addr + v->pages[i].len;
	}
	for (size_t i = 0; i < v->n_mem && !e; i++)
		e = pvm_mem_write(m, v->mem[i].addr, v->mem[i].data, v->mem[i].len);
	if (e) {
		pvm_instance_free(m);
		return e;
	}
	for (unsigned i = 0; i < PVM_NUM_REGS; i++)
		pvm_set_reg(m, i, v->regs[i]);
	pvm_set_pc(m, v->pc);
	pvm_set_gas(m, v->gas);
	/* generic-program sbrk convention: the heap starts at the end of the
	 * highest mapped region (README, "Extended statuses") */
	pvm_set_heap_ptr(m, (uint32_t)(heap > UINT32_MAX ? UINT32_MAX : heap));
	*out = m;
	return PVM_E_OK;
}

void vector_addf(char *d, size_t n, const char *fmt, ...)
{
	size_t l = strlen(d);
	if (l + 3 >= n)
		return;
	if (l) {
		strcat(d, "; ");
		l += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d + l, n - l, fmt, ap);
	va_end(ap);
}

static int cmp_chunk(const void *a, const void *b)
{
	const vec_chunk *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* True when some chunk of the sorted list (maxend[i] = the largest end of
 * chunks 0..i) puts a non-zero byte into [page, page+4096). */
static bool page_expected_nonzero(const vec_chunk *c, const uint64_t *maxend, size_t n, uint32_t page)
{
	uint64_t pend = (uint64_t)page + PVM_PAGE_SIZE;
	size_t lo = 0, hi = n; /* first chunk starting at or after page */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c[mid].addr < page)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < n && c[i].addr < pend; i++)
		for (uint32_t k = 0; k < c[i].len && c[i].addr + (uint64_t)k < pend; k++)
			if (c[i].data[k])
				return true;
	/* chunks starting below the page reach into it only if maxend says so */
	for (size_t i = lo; i-- > 0 && maxend[i] > page;)
		for (uint64_t x = page; x < (uint64_t)c[i].addr + c[i].len && x < pend; x++)
			if (c[i].data[x - c[i].addr])
				return true;
	return false;
}

/* The expected contents of the page at `page`: zero except the chunks. */
static void expected_page(const vector *v, uint32_t page, uint8_t *out)
{
	memset(out, 0, PVM_PAGE_SIZE);
	for (size_t i = 0; i < v->n_emem; i++) {
		uint64_t lo = v->emem[i].addr, hi = lo + v->emem[i].len;
		uint64_t plo = page, phi = (uint64_t)page + PVM_PAGE_SIZE;
		if (hi <= plo || lo >= phi)
			continue;
		uint64_t a = lo > plo ? lo : plo, b = hi < phi ? hi : phi;
		memcpy(out + (a - plo), v->emem[i].data + (a - lo), (size_t)(b - a));
	}
}

unsigned vector_compare(const vector *v, const pvm_instance *m, pvm_exit ex, char *diff, size_t difflen)
{
	unsigned d = 0;
	diff[0] = 0;
	if ((int)ex != v->status) {
		d |= VEC_D_STATUS;
		vector_addf(diff, difflen, "status %s, expected %s", pvm_exit_name(ex), pvm_exit_name((pvm_exit)v->status));
	}
	if (pvm_pc(m) != v->epc) {
		d |= VEC_D_PC;
		vector_addf(diff, difflen, "pc %u, expected %u", pvm_pc(m), v->epc);
	}
	if (pvm_gas(m) != v->egas) {
		d |= VEC_D_GAS;
		vector_addf(diff, difflen, "gas %" PRId64 ", expected %" PRId64, pvm_gas(m), v->egas);
	}
	for (unsigned i = 0; i < PVM_NUM_REGS; i++)
		if (pvm_reg(m, i) != v->eregs[i]) {
			d |= VEC_D_REGS;
			vector_addf(diff, difflen, "r%u 0x%" PRIx64 ", expected 0x%" PRIx64, i, pvm_reg(m, i), v->eregs[i]);
		}
	if (ex == PVM_EXIT_PAGE_FAULT && v->has_fault && pvm_exit_arg(m) != v->efault) {
		d |= VEC_D_FAULT;
		vector_addf(diff, difflen, "fault address 0x%x, expected 0x%x", pvm_exit_arg(m), v->efault);
	}
	if (ex == PVM_EXIT_HOST && v->has_host && pvm_exit_arg(m) != v->ehost) {
		d |= VEC_D_HOST;
		vector_addf(diff, difflen, "host call %u, expected %u", pvm_exit_arg(m), v->ehost);
	}
	/* every expected non-zero byte must lie in accessible memory */
	for (size_t i = 0; i < v->n_emem; i++)
		for (uint32_t k = 0; k < v->emem[i].len; k++)
			if (v->emem[i].data[k] && pvm_mem_access(m, v->emem[i].addr + k) == PVM_ACCESS_NONE) {
				d |= VEC_D_MEM;
				vector_addf(diff, difflen, "memory 0x%x expected 0x%02x but is not mapped", v->emem[i].addr + k,
				     v->emem[i].data[k]);
				break;
			}
	/* every byte of every mapped page */
	uint32_t page;
	int acc;
	unsigned reported = 0;
	uint8_t buf[PVM_PAGE_SIZE], want[PVM_PAGE_SIZE];
	/* pages never written (e.g. a large sbrk) are zero: only chunks can differ */
	size_t ne = v->n_emem ? v->n_emem : 1;
	vec_chunk *sorted = malloc(ne * sizeof *sorted);
	uint64_t *maxend = malloc(ne * sizeof *maxend);
	if (sorted && maxend) {
		memcpy(sorted, v->emem, v->n_emem * sizeof *sorted);
		qsort(sorted, v->n_emem, sizeof *sorted, cmp_chunk);
		for (size_t i = 0; i < v->n_emem; i++) {
			uint64_t end = (uint64_t)sorted[i].addr + sorted[i].len;
			maxend[i] = i && maxend[i - 1] > end ? maxend[i - 1] : end;
		}
	}
	for (uint64_t from = 0; pvm_mem_next_page(m, from, &page, &acc); from = (uint64_t)page + PVM_PAGE_SIZE) {
		if (sorted && maxend && pvm_mem_page_untouched(m, page) &&
		    !page_expected_nonzero(sorted, maxend, v->n_emem, page))
			continue;
		pvm_mem_read(m, page, buf, PVM_PAGE_SIZE);
		expected_page(v, page, want);
		for (uint32_t k = 0; k < PVM_PAGE_SIZE; k++)
			if (buf[k] != want[k]) {
				d |= VEC_D_MEM;
				if (reported++ < 4)
					vector_addf(diff, difflen, "memory 0x%x = 0x%02x, expected 0x%02x", page + k, buf[k], want[k]);
			}
	}
	free(sorted);
	free(maxend);
	if (reported > 4)
		vector_addf(diff, difflen, "... %u differing bytes in all", reported);
	return d;
}
