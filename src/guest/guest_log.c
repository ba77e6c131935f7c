/* guest_log.c: COM1 serial console, a tiny printf, exit and panic. */
#include <stdarg.h>

#include "guest/guest.h"
#include "guest/guest_cpu_x86_64.h"

#define COM1 NUB_GUEST_SERIAL_PORT
#define UART_LSR 5
#define UART_LSR_THRE 0x20 /* transmitter holding register empty */

/* Under the kvm host the UART is the VMM's, always ready: no status polling
 * (each port access is a VM exit). */
static bool uart_polled = true;

void guest_log_set_unpolled(void)
{
	uart_polled = false;
}

void guest_log_init(void)
{
	outb(COM1 + 1, 0x00); /* no interrupts */
	outb(COM1 + 3, 0x80); /* DLAB */
	outb(COM1 + 0, 0x01); /* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); /* 8N1 */
	outb(COM1 + 2, 0xC7); /* FIFO on, cleared */
	outb(COM1 + 4, 0x03); /* DTR, RTS */
}

void guest_log_putc(char c)
{
	for (unsigned spin = 0; uart_polled && spin < 100000 && !(inb(COM1 + UART_LSR) & UART_LSR_THRE); spin++)
		;
	outb(COM1, (uint8_t)c);
}

typedef struct {
	char *buf;
	size_t cap, len; /* buf == NULL: straight to the console */
} sink;

static void put(sink *s, char c)
{
	if (!s->buf) {
		if (c == '\n')
			guest_log_putc('\r');
		guest_log_putc(c);
	} else if (s->len + 1 < s->cap) {
		s->buf[s->len] = c;
	}
	s->len++;
}

static void put_num(sink *s, uint64_t v, unsigned base, unsigned width, char pad, bool neg)
{
	char tmp[24];
	unsigned n = 0;
	do {
		unsigned d = (unsigned)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	while (n < width && n < sizeof tmp)
		tmp[n++] = pad;
	while (n)
		put(s, tmp[--n]);
}

static void vformat(sink *s, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(s, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		unsigned width = 0, lng = 0;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned)(*fmt++ - '0');
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		if (*fmt == 'z') {
			lng = 2;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *str = va_arg(ap, const char *);
			for (str = str ? str : "(null)"; *str; str++)
				put(s, *str);
			break;
		}
		case 'c':
			put(s, (char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = lng ? va_arg(ap, long long) : va_arg(ap, int);
			put_num(s, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 10, width, pad, v < 0);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
			put_num(s, v, *fmt == 'u' ? 10 : 16, width, pad, false);
			break;
		}
		case '%':
			put(s, '%');
			break;
		case '\0':
			return;
		default:
			put(s, '?');
			break;
		}
	}
}

void guest_log(const char *fmt, ...)
{
	sink s = {0};
	va_list ap;
	va_start(ap, fmt);
	vformat(&s, fmt, ap);
	va_end(ap);
}

size_t guest_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
	sink s = {buf, cap, 0};
	va_list ap;
	va_start(ap, fmt);
	vformat(&s, fmt, ap);
	va_end(ap);
	if (cap)
		buf[s.len < cap ? s.len : cap - 1] = '\0';
	return s.len;
}

void guest_exit(uint32_t code)
{
	outl(NUB_GUEST_EXIT_PORT, code);
	halt_forever();
}

void guest_panic(const char *file, int line, const char *what)
{
	NubRpcMailbox *mb = guest_mailbox();
	mb->h.fault.vector = 0xFFFFFFFFu;
	mb->h.fault.error_code = (uint64_t)line;
	mb->h.fault.rip = (uint64_t)(uintptr_t)__builtin_return_address(0);
	mb->h.fault.cr2 = 0;
	mb->h.fault.fn_id = guest_rpc_current_fn;
	mb->h.fault.valid = 1;
	guest_log("ASSERT %s:%d: %s\n", file, line, what);
	outl(NUB_RPC_DOORBELL_PORT, NUB_DOORBELL_FAULT);
	if (guest_exit_on_fault)
		guest_exit(NUB_GUEST_EXIT_FAULT);
	halt_forever();
}
