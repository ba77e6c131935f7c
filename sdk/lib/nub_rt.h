/* nub_rt.h: the compiler-runtime helpers of nub_rt.c (128-bit arithmetic,
 * overflow-checked and trapping arithmetic, bit counts: the names and
 * signatures of the libgcc/compiler-rt ABI that clang-19 calls for
 * rv64emc_zbb), declared once for the runtime and for its tests
 * (tests/link/runtime.c, which builds natively against libgcc too). */
#ifndef NUB_RT_H
#define NUB_RT_H

#include <stdint.h>

typedef __int128 ti;
typedef unsigned __int128 uti;

uti __multi3(uti a, uti b);
uti __udivmodti4(uti a, uti b, uti *rem);
ti __divmodti4(ti a, ti b, ti *rem);
uti __udivti3(uti a, uti b);
uti __umodti3(uti a, uti b);
ti __divti3(ti a, ti b);
ti __modti3(ti a, ti b);
ti __ashlti3(ti a, int b);
ti __ashrti3(ti a, int b);
ti __lshrti3(ti a, int b);
ti __negti2(ti a);
int __cmpti2(ti a, ti b);
int __ucmpti2(uti a, uti b);
int __clzti2(ti a);
int __ctzti2(ti a);
int __ffsti2(ti a);
int __popcountti2(ti a);
int __parityti2(ti a);
int __clzdi2(int64_t a);
int __ctzdi2(int64_t a);
int __ffsdi2(int64_t a);
int __popcountdi2(int64_t a);
int __paritydi2(int64_t a);
int __clzsi2(int32_t a);
int __ctzsi2(int32_t a);
int __popcountsi2(int32_t a);
int __paritysi2(int32_t a);
int64_t __bswapdi2(int64_t a);
int32_t __bswapsi2(int32_t a);
ti __muloti4(ti a, ti b, int *overflow);
int64_t __mulodi4(int64_t a, int64_t b, int *overflow);
int32_t __mulosi4(int32_t a, int32_t b, int *overflow);
ti __mulvti3(ti a, ti b);
ti __addvti3(ti a, ti b);
ti __subvti3(ti a, ti b);
ti __negvti2(ti a);
ti __absvti2(ti a);
int64_t __mulvdi3(int64_t a, int64_t b);
int64_t __addvdi3(int64_t a, int64_t b);
int64_t __subvdi3(int64_t a, int64_t b);
int64_t __negvdi2(int64_t a);
int64_t __absvdi2(int64_t a);
int32_t __mulvsi3(int32_t a, int32_t b);
int32_t __addvsi3(int32_t a, int32_t b);
int32_t __subvsi3(int32_t a, int32_t b);
int32_t __negvsi2(int32_t a);
int32_t __absvsi2(int32_t a);

#endif
