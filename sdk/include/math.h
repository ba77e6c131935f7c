/* math.h: the part of <math.h> that needs no library, for nub guests (the
 * SDK has no libm: sqrt, sin, floor, ... are not provided and stay
 * undeclared, so a program that calls them fails to compile, not to link).
 * Everything here is a compiler builtin: bit operations or the soft-float
 * compare helpers of sdk/lib/nub_softfp.c. float and double only. */
#ifndef NUB_MATH_H
#define NUB_MATH_H

#define HUGE_VAL __builtin_huge_val()
#define HUGE_VALF __builtin_huge_valf()
#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")

#define FP_NAN 0
#define FP_INFINITE 1
#define FP_ZERO 2
#define FP_SUBNORMAL 3
#define FP_NORMAL 4

#define fpclassify(x) __builtin_fpclassify(FP_NAN, FP_INFINITE, FP_NORMAL, FP_SUBNORMAL, FP_ZERO, x)
#define isnan(x) __builtin_isnan(x)
#define isinf(x) __builtin_isinf(x)
#define isfinite(x) __builtin_isfinite(x)
#define isnormal(x) __builtin_isnormal(x)
#define signbit(x) __builtin_signbit(x)
#define isgreater(x, y) __builtin_isgreater(x, y)
#define isgreaterequal(x, y) __builtin_isgreaterequal(x, y)
#define isless(x, y) __builtin_isless(x, y)
#define islessequal(x, y) __builtin_islessequal(x, y)
#define islessgreater(x, y) __builtin_islessgreater(x, y)
#define isunordered(x, y) __builtin_isunordered(x, y)

static inline double fabs(double x)
{
	return __builtin_fabs(x);
}

static inline float fabsf(float x)
{
	return __builtin_fabsf(x);
}

static inline double copysign(double x, double y)
{
	return __builtin_copysign(x, y);
}

static inline float copysignf(float x, float y)
{
	return __builtin_copysignf(x, y);
}

#endif
