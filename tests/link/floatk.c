/* floatk.c: guest program for tests/test_link.c: ordinary floating-point C
 * on the soft-float runtime (sdk/lib/nub_softfp.c): a double dot product,
 * Newton square roots in float and double, Mandelbrot iteration counts, a
 * float 4x4 matrix power and a Horner polynomial, folded into one value
 * that must equal the native (x86-64 SSE) run bit for bit. */
#include "nub_guest.h"

uint64_t floatk_main(void);

static uint64_t h = 0x84222325cbf29ce4ull;

static void mix(uint64_t v)
{
	h = (h ^ v) * 0x100000001b3ull;
	h ^= h >> 31;
}

static uint64_t dbits(double d)
{
	union { double d; uint64_t u; } v = {.d = d};
	return v.u;
}

static uint32_t fbits(float f)
{
	union { float f; uint32_t u; } v = {.f = f};
	return v.u;
}

static double dot(const double *a, const double *b, int n)
{
	double s = 0;
	for (int i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static double newton_sqrt(double x)
{
	if (x <= 0)
		return 0;
	double r = x > 1 ? x / 2 : 1;
	for (int i = 0; i < 60; i++) {
		double nr = 0.5 * (r + x / r);
		if (nr == r)
			break;
		r = nr;
	}
	return r;
}

static float newton_sqrtf(float x)
{
	if (x <= 0)
		return 0;
	float r = x > 1 ? x / 2 : 1;
	for (int i = 0; i < 40; i++)
		r = 0.5f * (r + x / r);
	return r;
}

static int mandel(double cr, double ci, int max)
{
	double zr = 0, zi = 0;
	int n = 0;
	while (n < max && zr * zr + zi * zi <= 4.0) {
		double t = zr * zr - zi * zi + cr;
		zi = 2 * zr * zi + ci;
		zr = t;
		n++;
	}
	return n;
}

static double horner(const double *c, int n, double x)
{
	double r = c[n - 1];
	for (int i = n - 2; i >= 0; i--)
		r = r * x + c[i];
	return r;
}

uint64_t floatk_main(void)
{
	static double a[256], b[256];
	for (int i = 0; i < 256; i++) {
		a[i] = (double)(i * 37 % 101) / 7.0 - 5.5;
		b[i] = 1.0 / (double)(i + 1) + (double)(i % 13) * 0.25;
	}
	mix(dbits(dot(a, b, 256)));
	for (int i = 1; i < 200; i++) {
		double x = (double)i * 1.37 + 0.001 * (double)i * (double)i;
		mix(dbits(newton_sqrt(x)));
		mix(fbits(newton_sqrtf((float)x)));
		mix((uint64_t)(int64_t)(newton_sqrt(x) * 1000.0));
	}
	uint64_t total = 0;
	for (int y = 0; y < 24; y++)
		for (int x = 0; x < 40; x++) {
			int n = mandel(-2.2 + 3.0 * x / 40, -1.2 + 2.4 * y / 24, 200);
			total += (uint64_t)n;
			mix((uint64_t)n);
		}
	mix(total);
	float m[16], p[16], t[16];
	for (int i = 0; i < 16; i++) {
		m[i] = (float)(i % 5) * 0.3f - 0.4f + (i % 5 == i / 4 ? 1.0f : 0.0f);
		p[i] = i % 5 == 0 ? 1.0f : 0.0f;
	}
	for (int k = 0; k < 20; k++) {
		for (int i = 0; i < 4; i++)
			for (int j = 0; j < 4; j++) {
				float s = 0;
				for (int l = 0; l < 4; l++)
					s += p[i * 4 + l] * m[l * 4 + j];
				t[i * 4 + j] = s;
			}
		for (int i = 0; i < 16; i++)
			p[i] = t[i];
	}
	for (int i = 0; i < 16; i++)
		mix(fbits(p[i]));
	static const double c[] = {1.0, -0.5, 1.0 / 3, -0.25, 0.2, -1.0 / 6, 1.0 / 7};
	for (int i = -50; i <= 50; i++)
		mix(dbits(horner(c, 7, (double)i / 51.0)));
	return h;
}

NUB_EXPORT(0, floatk_main);
