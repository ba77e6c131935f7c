/* pvm_spi.c: JAM standard program (SPI) parsing and initialisation (GP A.7). */
#include "pvm_mem.h"

static uint32_t le(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static uint64_t page_up(uint64_t x)
{
	return (x + PVM_PAGE_SIZE - 1) & ~(uint64_t)(PVM_PAGE_SIZE - 1);
}

static uint64_t zone_up(uint64_t x)
{
	return (x + PVM_ZONE_SIZE - 1) & ~(uint64_t)(PVM_ZONE_SIZE - 1);
}

pvm_err pvm_spi_parse(const uint8_t *p, size_t len, pvm_spi *out)
{
	if (len < 11)
		return PVM_E_SPI_TRUNCATED;
	out->ro_len = le(p, 3);
	out->rw_len = le(p + 3, 3);
	out->heap_pages = le(p + 6, 2);
	out->stack_size = le(p + 8, 3);
	size_t off = 11;
	if (len - off < out->ro_len)
		return PVM_E_SPI_TRUNCATED;
	out->ro = p + off;
	off += out->ro_len;
	if (len - off < out->rw_len)
		return PVM_E_SPI_TRUNCATED;
	out->rw = p + off;
	off += out->rw_len;
	if (len - off < 4)
		return PVM_E_SPI_TRUNCATED;
	out->blob_len = le(p + off, 4);
	off += 4;
	if (len - off < out->blob_len)
		return PVM_E_SPI_TRUNCATED;
	out->blob = p + off;
	if (len - off > out->blob_len)
		return PVM_E_SPI_TRAILING;
	uint64_t total = 5ull * PVM_ZONE_SIZE + zone_up(out->ro_len) +
			 zone_up((uint64_t)out->rw_len + (uint64_t)out->heap_pages * PVM_PAGE_SIZE) +
			 zone_up(out->stack_size) + PVM_INPUT_SIZE;
	if (total > ((uint64_t)1 << 32))
		return PVM_E_SPI_TOO_LARGE;
	return PVM_E_OK;
}

uint32_t pvm_spi_ro_addr(const pvm_spi *s)
{
	(void)s;
	return PVM_SPI_RO_ADDR;
}

uint32_t pvm_spi_rw_addr(const pvm_spi *s)
{
	return (uint32_t)PVM_SPI_RW_ADDR((uint64_t)s->ro_len);
}

pvm_err pvm_spi_init(pvm_instance *m, const pvm_spi *s, const uint8_t *args, uint32_t args_len)
{
	pvm_err e;
	if (args_len > PVM_INPUT_SIZE)
		return PVM_E_SPI_ARGS_TOO_LARGE;
	uint32_t ro = pvm_spi_ro_addr(s);
	uint32_t heap = pvm_spi_rw_addr(s);
	uint32_t heap_len = (uint32_t)(page_up(s->rw_len) + (uint64_t)s->heap_pages * PVM_PAGE_SIZE);
	uint32_t stack_top = PVM_SPI_STACK_TOP;
	uint32_t stack_len = (uint32_t)page_up(s->stack_size);
	uint32_t arg = PVM_SPI_ARG_ADDR;

	_Static_assert(PVM_SPI_STACK_TOP == ((uint64_t)1 << 32) - 2 * PVM_ZONE_SIZE - PVM_INPUT_SIZE &&
			       PVM_SPI_ARG_ADDR == ((uint64_t)1 << 32) - PVM_ZONE_SIZE - PVM_INPUT_SIZE &&
			       PVM_HALT_ADDR == ((uint64_t)1 << 32) - PVM_ZONE_SIZE,
		       "GP A.7 layout");
	if ((e = pvm_mem_map(m, ro, (uint32_t)page_up(s->ro_len), PVM_ACCESS_RO)) ||
	    (s->ro && (e = pvm_mem_write(m, ro, s->ro, s->ro_len))) ||
	    (e = pvm_mem_map(m, heap, heap_len, PVM_ACCESS_RW)) ||
	    (s->rw && (e = pvm_mem_write(m, heap, s->rw, s->rw_len))) ||
	    (e = pvm_mem_map(m, stack_top - stack_len, stack_len, PVM_ACCESS_RW)) ||
	    (e = pvm_mem_map(m, arg, (uint32_t)page_up(args_len), PVM_ACCESS_RO)) ||
	    (e = pvm_mem_write(m, arg, args, args_len)))
		return e;
	for (unsigned i = 0; i < PVM_NUM_REGS; i++)
		m->regs[i] = 0;
	m->regs[0] = PVM_HALT_ADDR;
	m->regs[1] = stack_top;
	m->regs[7] = arg;
	m->regs[8] = args_len;
	m->heap = (uint64_t)heap + heap_len;
	pvm_set_pc(m, 0);
	return PVM_E_OK;
}
