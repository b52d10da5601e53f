/* Vector types and primitives of the fastloss kernels, and the float32/float64 template.
 *
 * The kernels are written with GCC/Clang generic vectors of one register of
 * the build's instruction set: 64 bytes (16 floats, 8 doubles) with AVX-512,
 * 32 with AVX, 16 with SSE2 or any other target (NEON on aarch64).  Written
 * this way nothing depends on the auto-vectoriser: no reduction needs
 * -ffast-math to be reordered (the lanes ARE the reordering) and no branch
 * sits in a loop.  Where an instruction set has a better instruction than the
 * compiler makes of the generic code (max, masked loads, widening), it is
 * called by its intrinsic.  Compilers without GNU vector extensions (and a
 * build with -DFL_SCALAR, which the tests use to exercise that path) get plain
 * scalar loops instead: FL_VECTORS is 0 and every family header
 * (softmax.h, hinge.h, binary.h, soft.h, rowblock.h) has its own scalar
 * section with the same results up to rounding.
 *
 * One body for both dtypes.  A family header instantiates its templated part
 * twice through template.h, with FL_BITS = 32 and then 64; inside it these
 * names follow FL_BITS:
 *
 *   FL_T    float / double          FL_V    fl_vf / fl_vd  (a vector of FL_T)
 *   FL_VM   fl_vi / fl_vl           (lane masks: 0 or -1, and integer lanes)
 *   FL_VU   fl_vu / fl_vq           FL_IT   int32_t / int64_t
 *   FL_N    lanes per vector        FL_FN(row_max)  fl_row_max_f32 / _f64
 *   FL_OP(load)  fl_f32_load / fl_f64_load   (vector operations)
 *   FL_MM(_mm512_max_p)  _mm512_max_ps / _mm512_max_pd   (intrinsics)
 *
 * Where the two dtypes run different algorithms (the float32 sums widened to
 * double, the float64 log1p of split sums) the template says so with
 * #if FL_BITS == 32.
 */
#ifndef FL_BITS /* included by a user: the definitions below, then this file's template */
#ifndef FASTLOSS_SIMD_VEC_H
#define FASTLOSS_SIMD_VEC_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if (defined(__GNUC__) || defined(__clang__)) && !defined(FL_SCALAR)
#define FL_VECTORS 1
#else
#define FL_VECTORS 0
#endif

#if FL_VECTORS && (defined(__x86_64__) || defined(__i386__)) && !defined(FL_GENERIC_VECTORS)
#define FL_X86 1
#include <immintrin.h>
#else
#define FL_X86 0 /* aarch64 and others: generic vectors only (NEON via the compiler) */
#endif

#if FL_VECTORS
#define FL_INLINE static inline __attribute__((always_inline))
#else
#define FL_INLINE static inline
#endif

/* ---- the template's names (see the header comment) -------------------- */

#define FL_CAT_(a, b) a##b
#define FL_CAT(a, b) FL_CAT_(a, b)
#define FL_CAT3(a, b, c) FL_CAT(FL_CAT(a, b), c)

#define FL_T FL_CAT(FL_T_, FL_BITS)
#define FL_T_32 float
#define FL_T_64 double
#define FL_IT FL_CAT(FL_IT_, FL_BITS)
#define FL_IT_32 int32_t
#define FL_IT_64 int64_t
#define FL_FN(name) FL_CAT3(fl_, name, FL_CAT(_f, FL_BITS))
#define FL_OP(name) FL_CAT3(fl_f, FL_BITS, FL_CAT(_, name))
#define FL_V FL_CAT(FL_V_, FL_BITS)
#define FL_V_32 fl_vf
#define FL_V_64 fl_vd
#define FL_VM FL_CAT(FL_VM_, FL_BITS)
#define FL_VM_32 fl_vi
#define FL_VM_64 fl_vl
#define FL_VU FL_CAT(FL_VU_, FL_BITS)
#define FL_VU_32 fl_vu
#define FL_VU_64 fl_vq
#define FL_N FL_CAT(FL_N_, FL_BITS)
#define FL_N_32 FL_NF
#define FL_N_64 FL_ND
/* intrinsics and their types: _mm512_max_p -> _mm512_max_ps / _mm512_max_pd */
#define FL_MM(name) FL_CAT(name, FL_CAT(FL_MMS_, FL_BITS))
#define FL_MM_(pre, post) FL_CAT3(pre, FL_CAT(FL_MMS_, FL_BITS), post)
#define FL_MMS_32 s
#define FL_MMS_64 d
#define FL_M512 FL_CAT(FL_M512_, FL_BITS)
#define FL_M512_32 __m512
#define FL_M512_64 __m512d
#define FL_M256 FL_CAT(FL_M256_, FL_BITS)
#define FL_M256_32 __m256
#define FL_M256_64 __m256d
#define FL_M128 FL_CAT(FL_M128_, FL_BITS)
#define FL_M128_32 __m128
#define FL_M128_64 __m128d
#define FL_MASK512 FL_CAT(FL_MASK512_, FL_BITS)   /* one bit a lane of a 512-bit vector */
#define FL_MASK512_32 __mmask16
#define FL_MASK512_64 __mmask8
#define FL_EPI FL_CAT(_epi, FL_BITS)               /* _epi32 / _epi64 */
#define FL_ABS_MASK_32 0x7fffffff                  /* all bits but the sign */
/* halves: of a 512-bit vector (AVX-512) and of a 256-bit one (AVX) */
#define FL_HALF_LO FL_CAT(FL_HALF_LO_, FL_BITS)
#define FL_HALF_HI FL_CAT(FL_HALF_HI_, FL_BITS)
#define FL_HALF_LO_32(v) _mm512_castps512_ps256((__m512)(v))
#define FL_HALF_HI_32(v) _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd((__m512)(v)), 1))
#define FL_HALF_LO_64(v) _mm512_castpd512_pd256((__m512d)(v))
#define FL_HALF_HI_64(v) _mm512_extractf64x4_pd((__m512d)(v), 1)
#define FL_QUARTER_LO FL_CAT(FL_QUARTER_LO_, FL_BITS)
#define FL_QUARTER_LO_32(a) _mm256_castps256_ps128(a)
#define FL_QUARTER_LO_64(a) _mm256_castpd256_pd128(a)
#define FL_ABS_MASK_64 0x7fffffffffffffffLL

/* ---- rounding barriers and bit casts (every build) ---------------------- */

/* x, rounded as it is: a product passed through fl_rounded is never fused
 * into an fma with what it is added to.  gcc contracts a*b + c on its own
 * (-ffp-contract=fast, its default), and two inlined or specialised copies of
 * one function may contract differently -- the serial and the threaded loop
 * would then give a row different results. */
static inline double fl_rounded(double x)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && defined(__SSE2__)
    __asm__("" : "+x"(x));
#elif defined(__GNUC__) && defined(__aarch64__)
    __asm__("" : "+w"(x));
#else
    volatile double v = x;
    x = v;
#endif
    return x;
}

/* a·b + c, with one rounding where the instruction set has an fma (as gcc's
 * contraction makes it there) and two elsewhere: spelled out where the
 * kernels sum weighted terms, so that the result does not depend on whether
 * the compiler contracts a given copy of the loop. */
static inline double fl_madd(double a, double b, double c)
{
#if defined(__FMA__) || defined(__aarch64__)
    return __builtin_fma(a, b, c);
#else
    return fl_rounded(a * b) + c;
#endif
}

static inline float fl_f32_from_bits(int32_t i) { float f; memcpy(&f, &i, sizeof f); return f; }
static inline int32_t fl_f32_to_bits(float f) { int32_t i; memcpy(&i, &f, sizeof i); return i; }
static inline double fl_f64_from_bits(int64_t i) { double f; memcpy(&f, &i, sizeof f); return f; }
static inline int64_t fl_f64_to_bits(double f) { int64_t i; memcpy(&i, &f, sizeof i); return i; }

#if FL_VECTORS

/* One vector = one register of the build's instruction set. */
#if FL_X86 && defined(__AVX512F__)
#define FL_VBYTES 64
#elif FL_X86 && defined(__AVX__)
#define FL_VBYTES 32
#else
#define FL_VBYTES 16
#endif
#define FL_NF (FL_VBYTES / 4) /* float lanes  */
#define FL_ND (FL_VBYTES / 8) /* double lanes */

typedef float fl_vf __attribute__((vector_size(FL_VBYTES)));
typedef int32_t fl_vi __attribute__((vector_size(FL_VBYTES)));
typedef uint32_t fl_vu __attribute__((vector_size(FL_VBYTES)));
typedef double fl_vd __attribute__((vector_size(FL_VBYTES)));
typedef int64_t fl_vl __attribute__((vector_size(FL_VBYTES)));
typedef uint64_t fl_vq __attribute__((vector_size(FL_VBYTES)));

/* v, rounded as it is: the vector fl_rounded. */
#if defined(__x86_64__) || defined(__i386__)
#define FL_VROUNDED(v) __asm__("" : "+v"(v))
#elif defined(__aarch64__)
#define FL_VROUNDED(v) __asm__("" : "+w"(v))
#else
#define FL_VROUNDED(v) ((void)0)
#endif

/* ---- what differs between the dtypes ------------------------------------ */

/* acc_lo, acc_hi += v widened to double (the ISA's own conversions: going
 * through memory for the halves would stall on store forwarding). */
FL_INLINE void fl_f32_add_wide(fl_vf v, fl_vd *acc_lo, fl_vd *acc_hi)
{
#if FL_X86 && defined(__AVX512F__)
    __m512 x = (__m512)v;
    *acc_lo += (fl_vd)_mm512_cvtps_pd(_mm512_castps512_ps256(x));
    *acc_hi += (fl_vd)_mm512_cvtps_pd(
        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
#elif FL_X86 && defined(__AVX__)
    __m256 x = (__m256)v;
    *acc_lo += (fl_vd)_mm256_cvtps_pd(_mm256_castps256_ps128(x));
    *acc_hi += (fl_vd)_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
#elif FL_X86
    __m128 x = (__m128)v;
    *acc_lo += (fl_vd)_mm_cvtps_pd(x);
    *acc_hi += (fl_vd)_mm_cvtps_pd(_mm_movehl_ps(x, x));
#else
    for (int k = 0; k < FL_ND; k++) {
        (*acc_lo)[k] += (double)v[k];
        (*acc_hi)[k] += (double)v[k + FL_ND];
    }
#endif
}

/* float64 is its own width: the sum goes into acc_lo (acc_hi stays 0, and
 * the callers' final acc_lo + acc_hi adds an exact 0). */
FL_INLINE void fl_f64_add_wide(fl_vd v, fl_vd *acc_lo, fl_vd *acc_hi)
{
    (void)acc_hi;
    *acc_lo += v;
}

/* Σ of the lanes, as a tree (a chain of 8 dependent adds costs more). */
FL_INLINE double fl_f64_hsum(fl_vd v)
{
#if FL_X86 && defined(__AVX512F__)
    const __m256d a = _mm256_add_pd(FL_HALF_LO_64(v), FL_HALF_HI_64(v));
    const __m128d b = _mm_add_pd(FL_QUARTER_LO_64(a), _mm256_extractf128_pd(a, 1));
#elif FL_X86 && defined(__AVX__)
    const __m128d b = _mm_add_pd(FL_QUARTER_LO_64((__m256d)v), _mm256_extractf128_pd((__m256d)v, 1));
#elif FL_X86
    const __m128d b = (__m128d)v;
#endif
#if FL_X86
    return _mm_cvtsd_f64(_mm_add_sd(b, _mm_unpackhi_pd(b, b)));
#else
    double total = 0.0;
    for (int k = 0; k < FL_ND; k++) total += v[k];
    return total;
#endif
}

/* ---- the same for both dtypes -------------------------------------------- */

#define FL_TEMPLATE "vec.h"
#include "template.h"

#endif /* FL_VECTORS */

#endif /* FASTLOSS_SIMD_VEC_H */

#else /* FL_BITS: the body of template.h's two passes (vector builds only) */

/* x in every lane (a broadcast; x - 0 is x for every x, -0.0 included). */
FL_INLINE FL_V FL_OP(splat)(FL_T x)
{
#if FL_X86 && defined(__AVX512F__)
    return (FL_V)FL_MM(_mm512_set1_p)(x);
#elif FL_X86 && defined(__AVX__)
    return (FL_V)FL_MM(_mm256_set1_p)(x);
#elif FL_X86
    return (FL_V)FL_MM(_mm_set1_p)(x);
#else
    return x - (FL_V){0};
#endif
}
FL_INLINE FL_V FL_OP(load)(const FL_T *p) { FL_V v; memcpy(&v, p, sizeof v); return v; }
FL_INLINE void FL_OP(store)(FL_T *p, FL_V v) { memcpy(p, &v, sizeof v); }

/* m ? a : b, lane-wise (m is 0 or -1 per lane). */
FL_INLINE FL_V FL_OP(select)(FL_VM m, FL_V a, FL_V b)
{
    return (FL_V)(((FL_VM)a & m) | ((FL_VM)b & ~m));
}

/* a > b ? a : b per lane (b where either is NaN): one instruction on x86,
 * where the compiler makes three of the select. */
FL_INLINE FL_V FL_OP(max)(FL_V a, FL_V b)
{
#if FL_X86 && defined(__AVX512F__)
    return (FL_V)FL_MM(_mm512_max_p)((FL_M512)a, (FL_M512)b);
#elif FL_X86 && defined(__AVX__)
    return (FL_V)FL_MM(_mm256_max_p)((FL_M256)a, (FL_M256)b);
#elif FL_X86
    return (FL_V)FL_MM(_mm_max_p)((FL_M128)a, (FL_M128)b);
#else
    return FL_OP(select)(a > b, a, b);
#endif
}

FL_INLINE FL_VM FL_OP(lane_index)(void)
{
    FL_VM lane;
    for (int k = 0; k < FL_N; k++) lane[k] = k;
    return lane;
}

/* p[:rem] (0 < rem < FL_N) in the low lanes, pad in the others; reads only
 * p[:rem].  Masked loads where the instruction set has them, so no store to
 * a buffer is reloaded (a store-forwarding stall costs more than a block). */
FL_INLINE FL_V FL_OP(load_tail)(const FL_T *p, ptrdiff_t rem, FL_T pad)
{
#if FL_X86 && defined(__AVX512F__)
    return (FL_V)FL_MM(_mm512_mask_loadu_p)(FL_MM(_mm512_set1_p)(pad),
                                            (FL_MASK512)((1u << rem) - 1u), p);
#elif FL_X86 && defined(__AVX__)
    FL_VM m = FL_OP(lane_index)() < (FL_IT)rem;
    return FL_OP(select)(m, (FL_V)FL_MM(_mm256_maskload_p)(p, (__m256i)m), FL_OP(splat)(pad));
#else
    FL_V v = FL_OP(splat)(pad);
    for (ptrdiff_t k = 0; k < rem; k++) v[k] = p[k];
    return v;
#endif
}

FL_INLINE void FL_OP(store_tail)(FL_T *p, FL_V v, ptrdiff_t rem)
{
#if FL_X86 && defined(__AVX512F__)
    FL_MM(_mm512_mask_storeu_p)(p, (FL_MASK512)((1u << rem) - 1u), (FL_M512)v);
#elif FL_X86 && defined(__AVX__)
    FL_MM(_mm256_maskstore_p)(p, (__m256i)(FL_OP(lane_index)() < (FL_IT)rem), (FL_M256)v);
#else
    for (ptrdiff_t k = 0; k < rem; k++) p[k] = v[k];
#endif
}

#if FL_BITS == 32
/* Σ of the lanes, as a tree: fl_f32_hsum (float64's, fl_f64_hsum, is above). */
FL_INLINE float FL_OP(hsum)(fl_vf v)
{
#if FL_X86 && defined(__AVX512F__)
    return _mm512_reduce_add_ps((__m512)v);
#elif FL_X86
#if defined(__AVX__)
    __m128 b = _mm_add_ps(FL_QUARTER_LO_32((__m256)v), _mm256_extractf128_ps((__m256)v, 1));
#else
    __m128 b = (__m128)v;
#endif
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    return _mm_cvtss_f32(_mm_add_ss(b, _mm_shuffle_ps(b, b, 1)));
#else
    float s = 0;
    for (int k = 0; k < FL_N; k++) s += v[k];
    return s;
#endif
}
#endif

/* max of the lanes, as a tree (NaNs may be skipped). */
FL_INLINE FL_T FL_OP(hmax)(FL_V v)
{
#if FL_X86
#if defined(__AVX512F__)
    FL_M256 a = FL_MM(_mm256_max_p)(FL_HALF_LO(v), FL_HALF_HI(v));
#elif defined(__AVX__)
    FL_M256 a = (FL_M256)v;
#endif
#if defined(__AVX__)
    FL_M128 b = FL_MM(_mm_max_p)(FL_QUARTER_LO(a), FL_MM(_mm256_extractf128_p)(a, 1));
#else
    FL_M128 b = (FL_M128)v;
#endif
#if FL_BITS == 32
    b = _mm_max_ps(b, _mm_movehl_ps(b, b));
    return _mm_cvtss_f32(_mm_max_ss(b, _mm_shuffle_ps(b, b, 1)));
#else
    return _mm_cvtsd_f64(_mm_max_sd(b, _mm_unpackhi_pd(b, b)));
#endif
#else
    FL_T m = v[0];
    for (int k = 1; k < FL_N; k++) m = v[k] > m ? v[k] : m;
    return m;
#endif
}

/* p[:rem] for 0 < rem <= FL_N: a whole vector, or a tail padded with pad. */
FL_INLINE FL_V FL_OP(load_part)(const FL_T *p, ptrdiff_t rem, FL_T pad)
{
    return rem == FL_N ? FL_OP(load)(p) : FL_OP(load_tail)(p, rem, pad);
}

FL_INLINE void FL_OP(store_part)(FL_T *p, FL_V v, ptrdiff_t rem)
{
    if (rem == FL_N) FL_OP(store)(p, v);
    else FL_OP(store_tail)(p, v, rem);
}

/* True if any lane of the mask m (0 or -1 per lane) is set. */
FL_INLINE int FL_OP(any)(FL_VM m)
{
#if FL_X86 && defined(__AVX512F__)
    return FL_CAT3(_mm512_test, FL_EPI, _mask)((__m512i)m, (__m512i)m) != 0;
#elif FL_X86 && defined(__AVX__)
    return FL_MM(_mm256_movemask_p)((FL_M256)m) != 0;
#elif FL_X86
    return FL_MM(_mm_movemask_p)((FL_M128)m) != 0;
#else
    FL_IT any = 0;
    for (int k = 0; k < FL_N; k++) any |= m[k];
    return any != 0;
#endif
}

/* Bit k set where lane k of the comparison mask m is true. */
FL_INLINE unsigned FL_OP(mask_bits)(FL_VM m)
{
#if FL_X86 && defined(__AVX512F__)
    return FL_CAT3(_mm512_movepi, FL_BITS, _mask)((__m512i)m);
#elif FL_X86 && defined(__AVX__)
    return (unsigned)FL_MM(_mm256_movemask_p)((FL_M256)m);
#elif FL_X86
    return (unsigned)FL_MM(_mm_movemask_p)((FL_M128)m);
#else
    unsigned bits = 0;
    for (int k = 0; k < FL_N; k++) bits |= (m[k] != 0) << k;
    return bits;
#endif
}

/* |x| (clears the sign bits). */
FL_INLINE FL_V FL_OP(abs)(FL_V x) { return (FL_V)((FL_VM)x & FL_CAT(FL_ABS_MASK_, FL_BITS)); }

/* 1 in the first rem lanes, 0 in the others. */
FL_INLINE FL_V FL_OP(ones_head)(ptrdiff_t rem)
{
    return (FL_V)((FL_VM)FL_OP(splat)(1) & (FL_OP(lane_index)() < (FL_IT)rem));
}

#endif /* FL_BITS */
