/* Run-time choice of vector code on x86-64, where the build's baseline
 * (SSE2) lacks what d4's per-sample loops want: a byte shuffle (SSSE3's
 * pshufb) for packing 24-bit samples, 8-lane integer and double
 * arithmetic (AVX2) for the meters. Elsewhere (AArch64's NEON is
 * the baseline there) these are nothing and the plain C is vectorised by
 * the compiler.
 *
 * D4_CLONES: gcc builds the function twice, for AVX2 (Haswell and later)
 * and the baseline, and the dynamic loader picks one once, by the CPU (an
 * ifunc). D4_HAVE_SSSE3: functions written with
 * SSSE3 or AVX2 intrinsics can be built; d4_cpu_ssse3() and
 * d4_cpu_avx2() say whether this CPU runs them. */
#ifndef D4_COMMON_SIMD_H
#define D4_COMMON_SIMD_H

#include <stdbool.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define D4_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define D4_CLONES
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define D4_HAVE_SSSE3 1
#define D4_TARGET_SSSE3 __attribute__((target("ssse3")))
#define D4_TARGET_AVX2	__attribute__((target("avx2")))
static inline bool d4_cpu_ssse3(void)
{
	return __builtin_cpu_supports("ssse3");
}
static inline bool d4_cpu_avx2(void)
{
	return __builtin_cpu_supports("avx2");
}
#else
#define D4_HAVE_SSSE3 0
static inline bool d4_cpu_ssse3(void)
{
	return false;
}
static inline bool d4_cpu_avx2(void)
{
	return false;
}
#endif

#endif
