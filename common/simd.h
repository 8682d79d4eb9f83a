/* Run-time choice of vector code on x86-64, where the build's baseline
 * (SSE2) lacks what d4's per-sample loops want: a byte shuffle (SSSE3's
 * pshufb) for packing 24-bit samples, 8-lane integer and double
 * arithmetic (AVX2, FMA) for the meters. Elsewhere (AArch64's NEON is
 * the baseline there) these are nothing and the plain C is vectorised by
 * the compiler.
 *
 * D4_CLONES: gcc builds the function twice, for x86-64-v3 (Haswell and
 * later: AVX2, FMA) and the baseline, and the dynamic loader picks one
 * once, by the CPU (an ifunc). D4_HAVE_SSSE3: a function written with
 * SSSE3 intrinsics can be built; d4_cpu_ssse3() says whether this CPU
 * runs it. */
#ifndef D4_COMMON_SIMD_H
#define D4_COMMON_SIMD_H

#include <stdbool.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define D4_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define D4_CLONES
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define D4_HAVE_SSSE3 1
#define D4_TARGET_SSSE3 __attribute__((target("ssse3")))
static inline bool d4_cpu_ssse3(void)
{
	return __builtin_cpu_supports("ssse3");
}
#else
#define D4_HAVE_SSSE3 0
static inline bool d4_cpu_ssse3(void)
{
	return false;
}
#endif

#endif
