/* nub_softfp.h: the soft-float helpers of nub_softfp.c (the names and
 * signatures clang-19 calls for rv64emc_zbb; the libgcc/compiler-rt ABI),
 * declared once for the runtime and for its tests (tests/link/softfp.c). */
#ifndef NUB_SOFTFP_H
#define NUB_SOFTFP_H

float __addsf3(float a, float b);
float __subsf3(float a, float b);
float __mulsf3(float a, float b);
float __divsf3(float a, float b);
float __negsf2(float a);
double __adddf3(double a, double b);
double __subdf3(double a, double b);
double __muldf3(double a, double b);
double __divdf3(double a, double b);
double __negdf2(double a);
double __extendsfdf2(float a);
float __truncdfsf2(double a);
int __eqsf2(float a, float b);
int __nesf2(float a, float b);
int __ltsf2(float a, float b);
int __lesf2(float a, float b);
int __gtsf2(float a, float b);
int __gesf2(float a, float b);
int __unordsf2(float a, float b);
int __eqdf2(double a, double b);
int __nedf2(double a, double b);
int __ltdf2(double a, double b);
int __ledf2(double a, double b);
int __gtdf2(double a, double b);
int __gedf2(double a, double b);
int __unorddf2(double a, double b);
int32_t __fixsfsi(float a);
int64_t __fixsfdi(float a);
ti __fixsfti(float a);
uint32_t __fixunssfsi(float a);
uint64_t __fixunssfdi(float a);
uti __fixunssfti(float a);
int32_t __fixdfsi(double a);
int64_t __fixdfdi(double a);
ti __fixdfti(double a);
uint32_t __fixunsdfsi(double a);
uint64_t __fixunsdfdi(double a);
uti __fixunsdfti(double a);
float __floatsisf(int32_t a);
float __floatdisf(int64_t a);
float __floattisf(ti a);
float __floatunsisf(uint32_t a);
float __floatundisf(uint64_t a);
float __floatuntisf(uti a);
double __floatsidf(int32_t a);
double __floatdidf(int64_t a);
double __floattidf(ti a);
double __floatunsidf(uint32_t a);
double __floatundidf(uint64_t a);
double __floatuntidf(uti a);
float __powisf2(float a, int b);
double __powidf2(double a, int b);

#endif
