/* Row primitives for the fastloss kernels: max, exp-and-sum, hinge terms.
 *
 * The kernels in _softmax.pxi and _hinge.pxi loop over rows in Cython and call
 * these for the work inside a row.  They are written with GCC/Clang generic
 * vectors of 64 bytes (16 floats or 8 doubles), which the compiler lowers to
 * whatever the build's instruction set has: 4 SSE2 registers, 2 AVX2
 * registers or 1 AVX-512 register.  Written this way nothing depends on the
 * auto-vectoriser: no reduction needs -ffast-math to be reordered (the lanes
 * ARE the reordering), no branch sits in a loop, and a row's last partial
 * block goes through a padded copy instead of scalar code.  Sums are
 * accumulated in double.  Other compilers get plain scalar loops with the
 * same results up to rounding.
 */
#ifndef FASTLOSS_SIMD_ROWS_H
#define FASTLOSS_SIMD_ROWS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_simd_math.h"

#if defined(__GNUC__) || defined(__clang__)

#if (defined(__x86_64__) || defined(__i386__)) && !defined(FL_GENERIC_VECTORS)
#define FL_X86 1
#include <immintrin.h>
#else
#define FL_X86 0 /* e.g. aarch64: generic vectors only (NEON via the compiler) */
#endif

#define FL_INLINE static inline __attribute__((always_inline))

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

/* v, rounded as it is: the vector fl_rounded (see _simd_math.h). */
#if defined(__x86_64__) || defined(__i386__)
#define FL_VROUNDED(v) __asm__("" : "+v"(v))
#elif defined(__aarch64__)
#define FL_VROUNDED(v) __asm__("" : "+w"(v))
#else
#define FL_VROUNDED(v) ((void)0)
#endif

/* ---- float32 ------------------------------------------------------------ */

FL_INLINE fl_vf fl_f32_splat(float x) { return (fl_vf){0} + x; }
FL_INLINE fl_vf fl_f32_load(const float *p) { fl_vf v; memcpy(&v, p, sizeof v); return v; }
FL_INLINE void fl_f32_store(float *p, fl_vf v) { memcpy(p, &v, sizeof v); }

/* m ? a : b, lane-wise (m is 0 or -1 per lane). */
FL_INLINE fl_vf fl_f32_select(fl_vi m, fl_vf a, fl_vf b)
{
    return (fl_vf)(((fl_vi)a & m) | ((fl_vi)b & ~m));
}

/* a > b ? a : b per lane (b where either is NaN): one instruction on x86,
 * where the compiler makes three of the select. */
FL_INLINE fl_vf fl_f32_max(fl_vf a, fl_vf b)
{
#if FL_X86 && defined(__AVX512F__)
    return (fl_vf)_mm512_max_ps((__m512)a, (__m512)b);
#elif FL_X86 && defined(__AVX__)
    return (fl_vf)_mm256_max_ps((__m256)a, (__m256)b);
#elif FL_X86
    return (fl_vf)_mm_max_ps((__m128)a, (__m128)b);
#else
    return fl_f32_select(a > b, a, b);
#endif
}

FL_INLINE fl_vi fl_f32_lane_index(void)
{
    fl_vi lane;
    for (int k = 0; k < FL_NF; k++) lane[k] = k;
    return lane;
}

/* p[:rem] (0 < rem < FL_NF) in the low lanes, pad in the others; reads only
 * p[:rem].  Masked loads where the instruction set has them, so no store to
 * a buffer is reloaded (a store-forwarding stall costs more than a block). */
FL_INLINE fl_vf fl_f32_load_tail(const float *p, ptrdiff_t rem, float pad)
{
#if FL_X86 && defined(__AVX512F__)
    return (fl_vf)_mm512_mask_loadu_ps(_mm512_set1_ps(pad), (__mmask16)((1u << rem) - 1u), p);
#elif FL_X86 && defined(__AVX__)
    fl_vi m = fl_f32_lane_index() < (int32_t)rem;
    return fl_f32_select(m, (fl_vf)_mm256_maskload_ps(p, (__m256i)m), fl_f32_splat(pad));
#else
    fl_vf v = fl_f32_splat(pad);
    for (ptrdiff_t k = 0; k < rem; k++) v[k] = p[k];
    return v;
#endif
}

FL_INLINE void fl_f32_store_tail(float *p, fl_vf v, ptrdiff_t rem)
{
#if FL_X86 && defined(__AVX512F__)
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << rem) - 1u), (__m512)v);
#elif FL_X86 && defined(__AVX__)
    _mm256_maskstore_ps(p, (__m256i)(fl_f32_lane_index() < (int32_t)rem), (__m256)v);
#else
    for (ptrdiff_t k = 0; k < rem; k++) p[k] = v[k];
#endif
}

/* True if any lane of the mask m (0 or -1 per lane) is set. */
FL_INLINE int fl_vi_any(fl_vi m)
{
#if FL_X86 && defined(__AVX512F__)
    return _mm512_test_epi32_mask((__m512i)m, (__m512i)m) != 0;
#elif FL_X86 && defined(__AVX__)
    return _mm256_movemask_ps((__m256)m) != 0;
#elif FL_X86
    return _mm_movemask_ps((__m128)m) != 0;
#else
    int32_t any = 0;
    for (int k = 0; k < FL_NF; k++) any |= m[k];
    return any != 0;
#endif
}

/* fl_expf (see _simd_math.h), a vector at a time.
 *
 * The scaling by 2^n is where the instruction sets differ.  AVX-512 has
 * vscalefps, which multiplies by 2^n with one rounding over the whole range
 * (overflow to +inf and subnormal results included).  Elsewhere the common
 * case -- every lane's result a normal number, as in a softmax where
 * x = s - max <= 0 -- adds n to the exponent field of the polynomial's
 * result, and a block with any lane outside [-87, 88] (or NaN) takes the
 * two-factor scaling of the scalar fl_expf, which is exact there too.  Both
 * ways give bit for bit the same results as fl_expf.  The AVX-512 version
 * does not clamp large x: it is exact for x <= 88.7 (+inf up to ~2.9e6,
 * where the rounding of x/ln2 by the magic number stops working); callers
 * with larger x clamp first (FL_EXPF_CLAMP). */
FL_INLINE fl_vf fl_f32_exp(fl_vf x)
{
#if FL_X86 && defined(__AVX512F__)
    /* Lanes whose result rounds to 0 (x < -104, -inf) are zeroed by the mask
     * of the final scalef, whatever they computed meanwhile (NaN for -inf:
     * AVX-512 takes no assist for NaN or inf).  NaN is kept (unordered compare)
     * and propagates.  No clamp above: see the comment before the function. */
    const __mmask16 keep = _mm512_cmp_ps_mask((__m512)x, _mm512_set1_ps(-104.0f), _CMP_NLT_UQ);
#else
    const fl_vf hi = fl_f32_splat(89.0f), zero = {0};
    /* Lanes whose result rounds to 0 compute exp(0) and are zeroed at the end,
     * so that -inf scores and padding never take the (slow, microcode-assisted
     * on x86) subnormal path. */
    const fl_vi tiny = x < -104.0f;
    x = fl_f32_select(tiny, zero, x);
    x = fl_f32_select(x > hi, hi, x);
#endif
    fl_vf t, nf, p;
    FL_EXPF_CORE(x, t, nf, p);
#if FL_X86 && defined(__AVX512F__)
    return (fl_vf)_mm512_maskz_scalef_ps(keep, (__m512)p, (__m512)nf);
#else
    fl_vi n = (fl_vi)t - (fl_vi)fl_f32_splat(12582912.0f);   /* in [-150, 129] */
    if (__builtin_expect(fl_vi_any(~((x >= -87.0f) & (x <= 88.0f))), 0)) {
        /* n1 = floor(n / 2) with a logical shift (every instruction set has one) */
        fl_vi n1 = (fl_vi)((fl_vu)(n + 256) >> 1) - 128;
        fl_vi n2 = n - n1;
        return (fl_vf)((fl_vi)(p * (fl_vf)((n1 + 127) << 23) * (fl_vf)((n2 + 127) << 23)) & ~tiny);
    }
    /* p in [0.7, 1.42] and n in [-126, 127]: p·2^n is normal, its exponent field
     * is p's plus n (tiny lanes have x = 0, n = 0, and are zeroed) */
    return (fl_vf)(((fl_vi)p + (n << 23)) & ~tiny);
#endif
}

#if FL_X86 && defined(__AVX512F__)
typedef float fl_vf8 __attribute__((vector_size(32)));

/* fl_f32_exp on 8 lanes, for a row's last partial vector of at most 8
 * elements: processors that run a 512-bit operation as two 256-bit halves
 * (AMD Zen 4) do it in half the time of a 16-lane one.  The same core
 * (FL_EXPF_CORE), so the same results. */
FL_INLINE __m256 fl_f32_exp8(__m256 xv)
{
    const __mmask8 keep = _mm256_cmp_ps_mask(xv, _mm256_set1_ps(-104.0f), _CMP_NLT_UQ);
    fl_vf8 x = (fl_vf8)xv, t, nf, p;
    FL_EXPF_CORE(x, t, nf, p);
    return _mm256_maskz_scalef_ps(keep, (__m256)p, (__m256)nf);
}
#endif

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

/* Σ of the lanes, as a tree (a chain of 8 dependent adds costs more). */
FL_INLINE double fl_f64_hsum(fl_vd v)
{
#if !FL_X86
    double total = 0.0;
    for (int k = 0; k < FL_ND; k++) total += v[k];
    return total;
#else
#if FL_X86 && defined(__AVX512F__)
    __m256d a = _mm256_add_pd(_mm512_castpd512_pd256((__m512d)v),
                              _mm512_extractf64x4_pd((__m512d)v, 1));
#elif FL_X86 && defined(__AVX__)
    __m256d a = (__m256d)v;
#endif
#if FL_X86 && defined(__AVX__)
    __m128d b = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
#else
    __m128d b = (__m128d)v;
#endif
    return _mm_cvtsd_f64(_mm_add_sd(b, _mm_unpackhi_pd(b, b)));
#endif
}

/* max of the lanes, as a tree. */
FL_INLINE float fl_f32_hmax(fl_vf v)
{
#if !FL_X86
    float m = v[0];
    for (int k = 1; k < FL_NF; k++) m = v[k] > m ? v[k] : m;
    return m;
#else
#if FL_X86 && defined(__AVX512F__)
    __m256 a = _mm256_max_ps(_mm512_castps512_ps256((__m512)v),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd((__m512)v), 1)));
#elif FL_X86 && defined(__AVX__)
    __m256 a = (__m256)v;
#endif
#if FL_X86 && defined(__AVX__)
    __m128 b = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
#else
    __m128 b = (__m128)v;
#endif
    b = _mm_max_ps(b, _mm_movehl_ps(b, b));
    return _mm_cvtss_f32(_mm_max_ss(b, _mm_shuffle_ps(b, b, 1)));
#endif
}

FL_INLINE double fl_f64_hmax(fl_vd v)
{
#if !FL_X86
    double m = v[0];
    for (int k = 1; k < FL_ND; k++) m = v[k] > m ? v[k] : m;
    return m;
#else
#if FL_X86 && defined(__AVX512F__)
    __m256d a = _mm256_max_pd(_mm512_castpd512_pd256((__m512d)v),
                              _mm512_extractf64x4_pd((__m512d)v, 1));
#elif FL_X86 && defined(__AVX__)
    __m256d a = (__m256d)v;
#endif
#if FL_X86 && defined(__AVX__)
    __m128d b = _mm_max_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
#else
    __m128d b = (__m128d)v;
#endif
    return _mm_cvtsd_f64(_mm_max_sd(b, _mm_unpackhi_pd(b, b)));
#endif
}

/* max_j x[j], n >= 1.  NaNs may be skipped: the callers' next pass propagates them. */
FL_INLINE float fl_row_max_f32(const float *x, ptrdiff_t n)
{
    fl_vf acc = fl_f32_splat(-INFINITY), acc1 = acc, acc2 = acc, acc3 = acc, v;
    ptrdiff_t j = 0;
    /* four independent chains: a max has a latency of several cycles */
    for (; j + 4 * FL_NF <= n; j += 4 * FL_NF) {
        v = fl_f32_load(x + j);
        acc = fl_f32_max(v, acc);
        v = fl_f32_load(x + j + FL_NF);
        acc1 = fl_f32_max(v, acc1);
        v = fl_f32_load(x + j + 2 * FL_NF);
        acc2 = fl_f32_max(v, acc2);
        v = fl_f32_load(x + j + 3 * FL_NF);
        acc3 = fl_f32_max(v, acc3);
    }
    acc = fl_f32_max(acc1, acc);
    acc2 = fl_f32_max(acc3, acc2);
    acc = fl_f32_max(acc2, acc);
    for (; j + FL_NF <= n; j += FL_NF) {
        v = fl_f32_load(x + j);
        acc = fl_f32_max(v, acc);
    }
    if (j < n) {
        v = fl_f32_load_tail(x + j, n - j, -INFINITY);
        acc = fl_f32_max(v, acc);
    }
    return fl_f32_hmax(acc);
}

/* out[j] = exp(x[j] - shift) (out may be x); returns Σ_j out[j] in double. */
FL_INLINE double fl_row_exp_sum_impl_f32(const float *x, float shift, float *out, ptrdiff_t n,
                                         const int store)
{
    /* Every vector is widened to double before it is added: a float partial sum
     * would round 1 + δ (a row's maximum and the small rest) to float, and the
     * loss log(1 + δ) of a confidently right row would lose its relative
     * accuracy (6e-8 / δ). */
    fl_vd acc_lo = {0}, acc_hi = {0};
    fl_vf e;
    ptrdiff_t j = 0;
    for (; j + FL_NF <= n; j += FL_NF) {
        e = fl_f32_exp(fl_f32_load(x + j) - shift);
        if (store) fl_f32_store(out + j, e);
        fl_f32_add_wide(e, &acc_lo, &acc_hi);
    }
#if FL_X86 && defined(__AVX512F__)
    if (j < n && n - j <= 8) {     /* a short tail in 8 lanes: see fl_f32_exp8 */
        const __mmask8 m = (__mmask8)((1u << (n - j)) - 1u);
        __m256 e8 = fl_f32_exp8(_mm256_sub_ps(
            _mm256_mask_loadu_ps(_mm256_set1_ps(-INFINITY), m, x + j), _mm256_set1_ps(shift)));
        if (store) _mm256_mask_storeu_ps(out + j, m, e8);
        acc_lo += (fl_vd)_mm512_cvtps_pd(e8);
        return fl_f64_hsum(acc_lo + acc_hi);
    }
#endif
    if (j < n) {
        e = fl_f32_exp(fl_f32_load_tail(x + j, n - j, -INFINITY) - shift);
        if (store) fl_f32_store_tail(out + j, e, n - j);
        fl_f32_add_wide(e, &acc_lo, &acc_hi);
    }
    return fl_f64_hsum(acc_lo + acc_hi);
}

/* With out == NULL nothing is stored. */
FL_INLINE double fl_row_exp_sum_f32(const float *x, float shift, float *out, ptrdiff_t n)
{
    return out ? fl_row_exp_sum_impl_f32(x, shift, out, n, 1)
               : fl_row_exp_sum_impl_f32(x, shift, out, n, 0);
}

/* out[j] = exp(x[j] - x[y]) (out may be NULL, not x); returns Σ_j out[j] in double.
 *
 * The shift by the label's score makes out[y] exactly 1 (exp(0)), so the sum
 * is 1 + Σ_{j≠y}, and the loss log(1 + Σ_{j≠y}) of a confidently right row
 * needs the small rest to its own relative accuracy (see
 * fl_row_exp_sum_impl_f32).  Here groups of four vectors are added in float,
 * as (e0 + e1) + (e2 + e3), before they are widened to double (one widening,
 * the costly part, per four vectors; then at most one pair): a group's sum is
 * rounded twice, 1.2e-7 relative to itself, except in the lane of the
 * label's 1, where the roundings of 1 + (its partner) and of that + (the
 * other pair) would swamp a small rest.  Those two rounding errors are found
 * afterwards, exactly, by TwoSum on the stored terms (read back from out, or
 * from the group kept apart without out), and added back.
 *
 * Unlike s - max, x - x[y] may be positive: the AVX-512 fl_f32_exp, which
 * does not clamp, gets min(x, 89) (exp overflows to +inf from 88.73 on), and
 * the caller takes the max shift for a row whose sum is not finite (or too
 * large: see sce_block). */
#if FL_X86 && defined(__AVX512F__)
/* min(89, v): NaN stays (MINPS returns its second operand when one is NaN) */
#define FL_EXPF_CLAMP(v) ((fl_vf)_mm512_min_ps(_mm512_set1_ps(89.0f), (__m512)(v)))
#else
#define FL_EXPF_CLAMP(v) (v)     /* fl_f32_exp clamps */
#endif
/* The rounding error of fl(a + b), exactly (Knuth's TwoSum; adds only, so
 * nothing for the compiler to fuse). */
FL_INLINE float fl_two_sum_err(float a, float b)
{
    const float s = a + b, bb = s - a, aa = s - bb;
    return (a - aa) + (b - bb);
}

FL_INLINE double fl_row_exp_sum_label_impl_f32(const float *x, ptrdiff_t y, float *out,
                                               ptrdiff_t n, const int store)
{
    const float shift = x[y];
    const ptrdiff_t jy = y - y % (4 * FL_NF), ky = y - jy;    /* y's group, its place there */
    float keep[4 * FL_NF], junk[4 * FL_NF];   /* without out: y's group, the others */
    fl_vd acc_lo = {0}, acc_hi = {0};
    fl_vf e0, e1, e2, e3;
    float *dst;
    ptrdiff_t j = 0;
    /* groups of four vectors summed in float as (e0 + e1) + (e2 + e3) */
    for (; j + 4 * FL_NF <= n; j += 4 * FL_NF) {
        e0 = fl_f32_exp(FL_EXPF_CLAMP(fl_f32_load(x + j) - shift));
        e1 = fl_f32_exp(FL_EXPF_CLAMP(fl_f32_load(x + j + FL_NF) - shift));
        e2 = fl_f32_exp(FL_EXPF_CLAMP(fl_f32_load(x + j + 2 * FL_NF) - shift));
        e3 = fl_f32_exp(FL_EXPF_CLAMP(fl_f32_load(x + j + 3 * FL_NF) - shift));
        dst = store ? out + j : j == jy ? keep : junk;
        fl_f32_store(dst, e0);
        fl_f32_store(dst + FL_NF, e1);
        fl_f32_store(dst + 2 * FL_NF, e2);
        fl_f32_store(dst + 3 * FL_NF, e3);
        fl_f32_add_wide((e0 + e1) + (e2 + e3), &acc_lo, &acc_hi);
    }
    const ptrdiff_t j4 = j;
    /* then at most one pair, e0 + e1 */
    if (j + 2 * FL_NF <= n) {
        e0 = fl_f32_exp(FL_EXPF_CLAMP(fl_f32_load(x + j) - shift));
        e1 = fl_f32_exp(FL_EXPF_CLAMP(fl_f32_load(x + j + FL_NF) - shift));
        dst = store ? out + j : j == jy ? keep : junk;
        fl_f32_store(dst, e0);
        fl_f32_store(dst + FL_NF, e1);
        fl_f32_add_wide(e0 + e1, &acc_lo, &acc_hi);
        j += 2 * FL_NF;
    }
    double fix = 0.0;
    if (y < j) {
        /* In the label's lane the float sums were s = fl(1 + b), b the term in
         * the other vector of its pair, and in a group of four then fl(s + c),
         * c = fl(the other pair's two terms), as the vectors added them. */
        const float *q = store ? out + jy : keep;
        const ptrdiff_t v = ky / FL_NF, l = ky % FL_NF;
        const float b = q[(v ^ 1) * FL_NF + l];
        fix = (double)fl_two_sum_err(1.0f, b);
        if (y < j4) {
            const ptrdiff_t o = (v < 2 ? 2 * FL_NF : 0) + l;
            fix += (double)fl_two_sum_err(1.0f + b, q[o] + q[o + FL_NF]);
        }
    }
    if (j + FL_NF <= n) {
        e0 = fl_f32_exp(FL_EXPF_CLAMP(fl_f32_load(x + j) - shift));
        if (store) fl_f32_store(out + j, e0);
        fl_f32_add_wide(e0, &acc_lo, &acc_hi);
        j += FL_NF;
    }
#if FL_X86 && defined(__AVX512F__)
    if (j < n && n - j <= 8) {     /* a short tail in 8 lanes: see fl_f32_exp8 */
        const __mmask8 m = (__mmask8)((1u << (n - j)) - 1u);
        __m256 e8 = fl_f32_exp8(_mm256_min_ps(_mm256_set1_ps(89.0f), _mm256_sub_ps(
            _mm256_mask_loadu_ps(_mm256_set1_ps(-INFINITY), m, x + j), _mm256_set1_ps(shift))));
        if (store) _mm256_mask_storeu_ps(out + j, m, e8);
        acc_lo += (fl_vd)_mm512_cvtps_pd(e8);
        return fl_f64_hsum(acc_lo + acc_hi) + fix;
    }
#endif
    if (j < n) {
        e0 = fl_f32_exp(FL_EXPF_CLAMP(fl_f32_load_tail(x + j, n - j, -INFINITY) - shift));
        if (store) fl_f32_store_tail(out + j, e0, n - j);
        fl_f32_add_wide(e0, &acc_lo, &acc_hi);
    }
    return fl_f64_hsum(acc_lo + acc_hi) + fix;
}

/* With out == NULL nothing is stored. */
FL_INLINE double fl_row_exp_sum_label_f32(const float *x, ptrdiff_t y, float *out, ptrdiff_t n)
{
    return out ? fl_row_exp_sum_label_impl_f32(x, y, out, n, 1)
               : fl_row_exp_sum_label_impl_f32(x, y, out, n, 0);
}

/* x[j] = x[j] * a + b (out of place: out may be x). */
FL_INLINE void fl_row_affine_f32(const float *x, float a, float b, float *out, ptrdiff_t n)
{
    ptrdiff_t j = 0;
    for (; j + FL_NF <= n; j += FL_NF) fl_f32_store(out + j, fl_f32_load(x + j) * a + b);
    if (j < n) fl_f32_store_tail(out + j, fl_f32_load_tail(x + j, n - j, 0.0f) * a + b, n - j);
}

/* Weston–Watkins hinge terms of one row: returns Σ_{j≠y} h_j (or h_j²),
 * h_j = max(0, s_j - s_y + Δ) with NaN kept.  With g != NULL writes the row's
 * gradient scaled by gs: g_j = gs·[h_j > 0] (or 2·gs·h_j), g_y = -Σ_{j≠y} g_j.
 * g may be s.  The label's own lane is masked, not skipped, so the whole row
 * runs in vector blocks and stays exact for infinite and NaN scores.
 * This is the squared case; fl_row_hinge_lin_f32 below the plain one. */
FL_INLINE double fl_row_hinge_sq_f32(const float *s, float *g, ptrdiff_t n, ptrdiff_t y,
                                     float delta, float gs, const int store)
{
    const fl_vi lane = fl_f32_lane_index();
    const float sy = s[y];
    fl_vd acc_lo = {0}, acc_hi = {0}, aux_lo = {0}, aux_hi = {0};
    for (ptrdiff_t j = 0; j < n; j += FL_NF) {
        const ptrdiff_t rem = n - j < FL_NF ? n - j : FL_NF;
        fl_vf v = rem == FL_NF ? fl_f32_load(s + j) : fl_f32_load_tail(s + j, rem, 0.0f);
        fl_vf t = v - sy + delta;
        fl_vi drop = (t <= 0.0f) | (lane == (int32_t)(y - j)) | (lane >= (int32_t)rem);
        fl_vf h = (fl_vf)((fl_vi)t & ~drop);
        fl_f32_add_wide(h * h, &acc_lo, &acc_hi);
        fl_f32_add_wide(h, &aux_lo, &aux_hi);
        if (store) {
            fl_vf gv = (2.0f * gs) * h;
            if (rem == FL_NF) fl_f32_store(g + j, gv);
            else fl_f32_store_tail(g + j, gv, rem);
        }
    }
    if (store) g[y] = (float)(-2.0 * gs * fl_f64_hsum(aux_lo + aux_hi));
    return fl_f64_hsum(acc_lo + acc_hi);
}

/* The plain (not squared) hinge row, the default and the hot one.  Instead of a
 * second sum of the indicators it counts the lanes with h_j > 0 (g_y = -gs·count,
 * or NaN if some h_j is NaN, which is exactly when the loss is NaN: every h_j is
 * >= 0 or NaN).  Blocks go in pairs whose h are added in float (one rounding,
 * < 6e-8 relative, the terms being >= 0) and widened to double once. */
#if FL_X86 && defined(__AVX512F__)
/* AVX-512: the lane masks stay in mask registers.  keep: the lanes that count
 * (not the label, not past the row's end); a lane counts where h > 0 or NaN (NLE_UQ). */
FL_INLINE __m512 fl_hinge_block512_f32(__m512 v, __m512 syv, __m512 dv, __m512 gsv,
                                       __mmask16 keep, float *g, __mmask16 live,
                                       const int store, unsigned *cnt)
{
    __m512 t = _mm512_add_ps(_mm512_sub_ps(v, syv), dv);
    __mmask16 ok = _mm512_mask_cmp_ps_mask(keep, t, _mm512_setzero_ps(), _CMP_NLE_UQ);
    *cnt += (unsigned)__builtin_popcount((unsigned)ok);
    if (store) {
        /* gs, or NaN where t is NaN (t·inf is +inf or NaN; MINPS returns its
         * second operand when one is NaN) */
        __m512 gv = _mm512_maskz_min_ps(ok, gsv, _mm512_mul_ps(t, _mm512_set1_ps(INFINITY)));
        if (live == (__mmask16)0xffff) _mm512_storeu_ps(g, gv);
        else _mm512_mask_storeu_ps(g, live, gv);
    }
    return _mm512_maskz_mov_ps(ok, t);
}

/* all lanes but the label's, for the block starting at j */
#define FL_HINGE_KEEP16(y, j) \
    ((__mmask16) ~((size_t)((y) - (j)) < 16 ? 1u << ((y) - (j)) : 0u))

FL_INLINE double fl_row_hinge_lin_f32(const float *s, float *g, ptrdiff_t n, ptrdiff_t y,
                                      float delta, float gs, const int store)
{
    const __m512 syv = _mm512_set1_ps(s[y]), dv = _mm512_set1_ps(delta);
    const __m512 gsv = _mm512_set1_ps(gs);
    fl_vd acc_lo = {0}, acc_hi = {0};
    unsigned cnt = 0;
    ptrdiff_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m512 h = fl_hinge_block512_f32(_mm512_loadu_ps(s + j), syv, dv, gsv,
                                         FL_HINGE_KEEP16(y, j), g + j, 0xffff, store, &cnt);
        __m512 u = fl_hinge_block512_f32(_mm512_loadu_ps(s + j + 16), syv, dv, gsv,
                                         FL_HINGE_KEEP16(y, j + 16), g + j + 16, 0xffff, store,
                                         &cnt);
        fl_f32_add_wide((fl_vf)_mm512_add_ps(h, u), &acc_lo, &acc_hi);
    }
    for (; j < n; j += 16) {
        const __mmask16 live = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1u);
        __m512 h = fl_hinge_block512_f32(_mm512_maskz_loadu_ps(live, s + j), syv, dv, gsv,
                                         FL_HINGE_KEEP16(y, j) & live, g + j, live, store, &cnt);
        fl_f32_add_wide((fl_vf)h, &acc_lo, &acc_hi);
    }
    const double loss = fl_f64_hsum(acc_lo + acc_hi);
    if (store) g[y] = loss == loss ? (float)(-(double)gs * cnt) : (float)loss;
    return loss;
}
#else
/* One block: returns h (NaN kept, 0 where dropped); *gv = gs·[h > 0], NaN where
 * h is; *cnt -= 1 in the lanes that count (h > 0 or NaN). */
FL_INLINE fl_vf fl_hinge_block_f32(fl_vf v, fl_vf sy, fl_vf delta, fl_vf gs, fl_vi keep,
                                   fl_vf *gv, fl_vi *cnt)
{
    fl_vf t = v - sy + delta;
    fl_vi ok = ~(t <= 0.0f) & keep;
    *cnt += ok;
    *gv = (fl_vf)((fl_vi)fl_f32_select(t != t, t, gs) & ok);
    return (fl_vf)((fl_vi)t & ok);
}

FL_INLINE double fl_row_hinge_lin_f32(const float *s, float *g, ptrdiff_t n, ptrdiff_t y,
                                      float delta, float gs, const int store)
{
    const fl_vi lane = fl_f32_lane_index();
    const fl_vf syv = fl_f32_splat(s[y]), dv = fl_f32_splat(delta), gsv = fl_f32_splat(gs);
    fl_vd acc_lo = {0}, acc_hi = {0};
    fl_vf gv, gu;
    fl_vi cnt = {0};
    ptrdiff_t j = 0;
    for (; j + 2 * FL_NF <= n; j += 2 * FL_NF) {
        fl_vf h = fl_hinge_block_f32(fl_f32_load(s + j), syv, dv, gsv, lane != (int32_t)(y - j),
                                     &gv, &cnt);
        fl_vf u = fl_hinge_block_f32(fl_f32_load(s + j + FL_NF), syv, dv, gsv,
                                     lane != (int32_t)(y - j - FL_NF), &gu, &cnt);
        fl_f32_add_wide(h + u, &acc_lo, &acc_hi);
        if (store) {
            fl_f32_store(g + j, gv);
            fl_f32_store(g + j + FL_NF, gu);
        }
    }
    for (; j < n; j += FL_NF) {
        const ptrdiff_t rem = n - j < FL_NF ? n - j : FL_NF;
        fl_vf v = rem == FL_NF ? fl_f32_load(s + j) : fl_f32_load_tail(s + j, rem, 0.0f);
        fl_vf h = fl_hinge_block_f32(v, syv, dv, gsv,
                                     (lane != (int32_t)(y - j)) & (lane < (int32_t)rem), &gv, &cnt);
        fl_f32_add_wide(h, &acc_lo, &acc_hi);
        if (store) {
            if (rem == FL_NF) fl_f32_store(g + j, gv);
            else fl_f32_store_tail(g + j, gv, rem);
        }
    }
    const double loss = fl_f64_hsum(acc_lo + acc_hi);
    if (store) {
        int32_t count = 0;
        for (int k = 0; k < FL_NF; k++) count -= cnt[k];
        g[y] = loss == loss ? (float)(-(double)gs * count) : (float)loss;
    }
    return loss;
}
#endif

FL_INLINE double fl_row_hinge_f32(const float *s, float *g, ptrdiff_t n, ptrdiff_t y,
                                      float delta, int squared, float gs)
{
    if (squared)
        return g ? fl_row_hinge_sq_f32(s, g, n, y, delta, gs, 1)
                 : fl_row_hinge_sq_f32(s, g, n, y, delta, gs, 0);
    return g ? fl_row_hinge_lin_f32(s, g, n, y, delta, gs, 1)
             : fl_row_hinge_lin_f32(s, g, n, y, delta, gs, 0);
}

/* ---- float64 ------------------------------------------------------------ */

FL_INLINE fl_vd fl_f64_splat(double x) { return (fl_vd){0} + x; }
FL_INLINE fl_vd fl_f64_load(const double *p) { fl_vd v; memcpy(&v, p, sizeof v); return v; }
FL_INLINE void fl_f64_store(double *p, fl_vd v) { memcpy(p, &v, sizeof v); }

FL_INLINE fl_vd fl_f64_select(fl_vl m, fl_vd a, fl_vd b)
{
    return (fl_vd)(((fl_vl)a & m) | ((fl_vl)b & ~m));
}

/* a > b ? a : b per lane (b where either is NaN), as fl_f32_max. */
FL_INLINE fl_vd fl_f64_max(fl_vd a, fl_vd b)
{
#if FL_X86 && defined(__AVX512F__)
    return (fl_vd)_mm512_max_pd((__m512d)a, (__m512d)b);
#elif FL_X86 && defined(__AVX__)
    return (fl_vd)_mm256_max_pd((__m256d)a, (__m256d)b);
#elif FL_X86
    return (fl_vd)_mm_max_pd((__m128d)a, (__m128d)b);
#else
    return fl_f64_select(a > b, a, b);
#endif
}

FL_INLINE fl_vl fl_f64_lane_index(void)
{
    fl_vl lane;
    for (int k = 0; k < FL_ND; k++) lane[k] = k;
    return lane;
}

FL_INLINE fl_vd fl_f64_load_tail(const double *p, ptrdiff_t rem, double pad)
{
#if FL_X86 && defined(__AVX512F__)
    return (fl_vd)_mm512_mask_loadu_pd(_mm512_set1_pd(pad), (__mmask8)((1u << rem) - 1u), p);
#elif FL_X86 && defined(__AVX__)
    fl_vl m = fl_f64_lane_index() < (int64_t)rem;
    return fl_f64_select(m, (fl_vd)_mm256_maskload_pd(p, (__m256i)m), fl_f64_splat(pad));
#else
    fl_vd v = fl_f64_splat(pad);
    for (ptrdiff_t k = 0; k < rem; k++) v[k] = p[k];
    return v;
#endif
}

FL_INLINE void fl_f64_store_tail(double *p, fl_vd v, ptrdiff_t rem)
{
#if FL_X86 && defined(__AVX512F__)
    _mm512_mask_storeu_pd(p, (__mmask8)((1u << rem) - 1u), (__m512d)v);
#elif FL_X86 && defined(__AVX__)
    _mm256_maskstore_pd(p, (__m256i)(fl_f64_lane_index() < (int64_t)rem), (__m256d)v);
#else
    for (ptrdiff_t k = 0; k < rem; k++) p[k] = v[k];
#endif
}

FL_INLINE int fl_vl_any(fl_vl m)
{
#if FL_X86 && defined(__AVX512F__)
    return _mm512_test_epi64_mask((__m512i)m, (__m512i)m) != 0;
#elif FL_X86 && defined(__AVX__)
    return _mm256_movemask_pd((__m256d)m) != 0;
#elif FL_X86
    return _mm_movemask_pd((__m128d)m) != 0;
#else
    int64_t any = 0;
    for (int k = 0; k < FL_ND; k++) any |= m[k];
    return any != 0;
#endif
}

/* fl_exp (see _simd_math.h), a vector at a time; the scaling and domain as in fl_f32_exp. */
FL_INLINE fl_vd fl_f64_exp(fl_vd x)
{
#if FL_X86 && defined(__AVX512F__)
    const __mmask8 keep = _mm512_cmp_pd_mask((__m512d)x, _mm512_set1_pd(-745.2), _CMP_NLT_UQ);
#else
    const fl_vd hi = fl_f64_splat(710.0), zero = {0};
    const fl_vl tiny = x < -745.2;              /* result rounds to 0: see fl_f32_exp */
    x = fl_f64_select(tiny, zero, x);
    x = fl_f64_select(x > hi, hi, x);
#endif
    fl_vd t, nf, p;
    FL_EXP_CORE(x, t, nf, p);
#if FL_X86 && defined(__AVX512F__)
    return (fl_vd)_mm512_maskz_scalef_pd(keep, (__m512d)p, (__m512d)nf);
#else
    fl_vl n = (fl_vl)t - (fl_vl)fl_f64_splat(6755399441055744.0);   /* in [-1076, 1025] */
    if (__builtin_expect(fl_vl_any(~((x >= -708.0) & (x <= 709.0))), 0)) {
        fl_vl n1 = (fl_vl)((fl_vq)(n + 2048) >> 1) - 1024;
        fl_vl n2 = n - n1;
        return (fl_vd)((fl_vl)(p * (fl_vd)((n1 + 1023) << 52) * (fl_vd)((n2 + 1023) << 52)) & ~tiny);
    }
    return (fl_vd)(((fl_vl)p + (n << 52)) & ~tiny);
#endif
}

FL_INLINE double fl_row_max_f64(const double *x, ptrdiff_t n)
{
    fl_vd acc = fl_f64_splat(-INFINITY), acc1 = acc, acc2 = acc, acc3 = acc, v;
    ptrdiff_t j = 0;
    for (; j + 4 * FL_ND <= n; j += 4 * FL_ND) {
        v = fl_f64_load(x + j);
        acc = fl_f64_max(v, acc);
        v = fl_f64_load(x + j + FL_ND);
        acc1 = fl_f64_max(v, acc1);
        v = fl_f64_load(x + j + 2 * FL_ND);
        acc2 = fl_f64_max(v, acc2);
        v = fl_f64_load(x + j + 3 * FL_ND);
        acc3 = fl_f64_max(v, acc3);
    }
    acc = fl_f64_max(acc1, acc);
    acc2 = fl_f64_max(acc3, acc2);
    acc = fl_f64_max(acc2, acc);
    for (; j + FL_ND <= n; j += FL_ND) {
        v = fl_f64_load(x + j);
        acc = fl_f64_max(v, acc);
    }
    if (j < n) {
        v = fl_f64_load_tail(x + j, n - j, -INFINITY);
        acc = fl_f64_max(v, acc);
    }
    return fl_f64_hmax(acc);
}

FL_INLINE double fl_row_exp_sum_impl_f64(const double *x, double shift, double *out,
                                         ptrdiff_t n, const int store)
{
    fl_vd acc0 = {0}, acc1 = {0}, e;
    ptrdiff_t j = 0;
    for (; j + FL_ND <= n; j += FL_ND) {
        e = fl_f64_exp(fl_f64_load(x + j) - shift);
        if (store) fl_f64_store(out + j, e);
        acc0 += e;
    }
    if (j < n) {
        e = fl_f64_exp(fl_f64_load_tail(x + j, n - j, -INFINITY) - shift);
        if (store) fl_f64_store_tail(out + j, e, n - j);
        acc1 += e;
    }
    return fl_f64_hsum(acc0 + acc1);
}

FL_INLINE double fl_row_exp_sum_f64(const double *x, double shift, double *out, ptrdiff_t n)
{
    return out ? fl_row_exp_sum_impl_f64(x, shift, out, n, 1)
               : fl_row_exp_sum_impl_f64(x, shift, out, n, 0);
}

FL_INLINE void fl_row_affine_f64(const double *x, double a, double b, double *out, ptrdiff_t n)
{
    ptrdiff_t j = 0;
    for (; j + FL_ND <= n; j += FL_ND) fl_f64_store(out + j, fl_f64_load(x + j) * a + b);
    if (j < n) fl_f64_store_tail(out + j, fl_f64_load_tail(x + j, n - j, 0.0) * a + b, n - j);
}

/* Natural log of a vector of positive doubles, ~1 ulp; NaN propagates.
 * x = 2^e · m with m in [√½, √2); log m = 2·atanh(f), f = (m-1)/(m+1), |f| <= 0.1716,
 * summed to f^23 (truncation < 1e-17 relative); e·ln2 in two parts (fdlibm's). */
FL_INLINE fl_vd fl_f64_log(fl_vd x)
{
    const fl_vd magic = fl_f64_splat(6755399441055744.0); /* 1.5·2^52: int64 -> double */
    fl_vq bits = (fl_vq)x;
    fl_vl e = (fl_vl)((bits >> 52) & 0x7ff) - 1023;
    fl_vd m = (fl_vd)((bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
    fl_vl big = m > 1.4142135623730951;
    m = fl_f64_select(big, m * 0.5, m);
    e -= big;                                           /* big is -1 where true */
    fl_vd ed = (fl_vd)((fl_vl)magic + e) - magic;
    fl_vd f = (m - 1.0) / (m + 1.0);
    fl_vd f2 = f * f;
    fl_vd p = fl_f64_splat(1.0 / 23);
    p = p * f2 + 1.0 / 21;
    p = p * f2 + 1.0 / 19;
    p = p * f2 + 1.0 / 17;
    p = p * f2 + 1.0 / 15;
    p = p * f2 + 1.0 / 13;
    p = p * f2 + 1.0 / 11;
    p = p * f2 + 1.0 / 9;
    p = p * f2 + 1.0 / 7;
    p = p * f2 + 1.0 / 5;
    p = p * f2 + 1.0 / 3;
    /* The products are rounded as they are: whether gcc fuses one of them
     * into an fma with the sum differs between inlined copies of this
     * function (seen: the serial and the threaded loop of softmax_cross_entropy),
     * and so would the last bit of the log of a sum >= 2 (e != 0). */
    fl_vd ln2_hi = ed * 6.93147180369123816490e-1, ln2_lo = ed * 1.90821492927058770002e-10;
    fl_vd tail = 2.0 * f * f2 * p;
    FL_VROUNDED(ln2_hi);
    FL_VROUNDED(ln2_lo);
    FL_VROUNDED(tail);
    fl_vd r = ln2_hi + (2.0 * f + (tail + ln2_lo));
    return fl_f64_select(x != x, x, r);
}

/* out[k] = log(x[k]) for k < 8 (positive finite doubles or NaN). */
FL_INLINE void fl_log8_f64(const double *x, double *out)
{
    for (int k = 0; k < 8; k += FL_ND) fl_f64_store(out + k, fl_f64_log(fl_f64_load(x + k)));
}

/* (float64) The squared hinge row: see fl_row_hinge_sq_f32. */
FL_INLINE double fl_row_hinge_sq_f64(const double *s, double *g, ptrdiff_t n, ptrdiff_t y,
                                     double delta, double gs, const int store)
{
    const fl_vl lane = fl_f64_lane_index();
    const double sy = s[y];
    fl_vd acc = {0}, aux = {0};
    for (ptrdiff_t j = 0; j < n; j += FL_ND) {
        const ptrdiff_t rem = n - j < FL_ND ? n - j : FL_ND;
        fl_vd v = rem == FL_ND ? fl_f64_load(s + j) : fl_f64_load_tail(s + j, rem, 0.0);
        fl_vd t = v - sy + delta;
        fl_vl drop = (t <= 0.0) | (lane == (int64_t)(y - j)) | (lane >= (int64_t)rem);
        fl_vd h = (fl_vd)((fl_vl)t & ~drop);
        acc += h * h;
        aux += h;
        if (store) {
            fl_vd gv = (2.0 * gs) * h;
            if (rem == FL_ND) fl_f64_store(g + j, gv);
            else fl_f64_store_tail(g + j, gv, rem);
        }
    }
    if (store) g[y] = -2.0 * gs * fl_f64_hsum(aux);
    return fl_f64_hsum(acc);
}

/* (float64) The plain hinge row: see fl_row_hinge_lin_f32 (no widening here). */
#if FL_X86 && defined(__AVX512F__)
FL_INLINE __m512d fl_hinge_block512_f64(__m512d v, __m512d syv, __m512d dv, __m512d gsv,
                                        __mmask8 keep, double *g, __mmask8 live,
                                        const int store, unsigned *cnt)
{
    __m512d t = _mm512_add_pd(_mm512_sub_pd(v, syv), dv);
    __mmask8 ok = _mm512_mask_cmp_pd_mask(keep, t, _mm512_setzero_pd(), _CMP_NLE_UQ);
    *cnt += (unsigned)__builtin_popcount((unsigned)ok);
    if (store) {
        __m512d gv = _mm512_maskz_min_pd(ok, gsv, _mm512_mul_pd(t, _mm512_set1_pd(INFINITY)));
        if (live == (__mmask8)0xff) _mm512_storeu_pd(g, gv);
        else _mm512_mask_storeu_pd(g, live, gv);
    }
    return _mm512_maskz_mov_pd(ok, t);
}

#define FL_HINGE_KEEP8(y, j) \
    ((__mmask8) ~((size_t)((y) - (j)) < 8 ? 1u << ((y) - (j)) : 0u))

FL_INLINE double fl_row_hinge_lin_f64(const double *s, double *g, ptrdiff_t n, ptrdiff_t y,
                                      double delta, double gs, const int store)
{
    const __m512d syv = _mm512_set1_pd(s[y]), dv = _mm512_set1_pd(delta);
    const __m512d gsv = _mm512_set1_pd(gs);
    __m512d acc = _mm512_setzero_pd(), acc1 = acc;
    unsigned cnt = 0;
    ptrdiff_t j = 0;
    for (; j + 16 <= n; j += 16) {
        acc = _mm512_add_pd(acc, fl_hinge_block512_f64(_mm512_loadu_pd(s + j), syv, dv, gsv,
                                                       FL_HINGE_KEEP8(y, j), g + j, 0xff,
                                                       store, &cnt));
        acc1 = _mm512_add_pd(acc1, fl_hinge_block512_f64(_mm512_loadu_pd(s + j + 8), syv, dv,
                                                         gsv, FL_HINGE_KEEP8(y, j + 8), g + j + 8,
                                                         0xff, store, &cnt));
    }
    for (; j < n; j += 8) {
        const __mmask8 live = n - j >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n - j)) - 1u);
        acc = _mm512_add_pd(acc, fl_hinge_block512_f64(_mm512_maskz_loadu_pd(live, s + j), syv,
                                                       dv, gsv, FL_HINGE_KEEP8(y, j) & live,
                                                       g + j, live, store, &cnt));
    }
    const double loss = fl_f64_hsum((fl_vd)_mm512_add_pd(acc, acc1));
    if (store) g[y] = loss == loss ? -gs * cnt : loss;
    return loss;
}
#else
FL_INLINE fl_vd fl_hinge_block_f64(fl_vd v, fl_vd sy, fl_vd delta, fl_vd gs, fl_vl keep,
                                   fl_vd *gv, fl_vl *cnt)
{
    fl_vd t = v - sy + delta;
    fl_vl ok = ~(t <= 0.0) & keep;
    *cnt += ok;
    *gv = (fl_vd)((fl_vl)fl_f64_select(t != t, t, gs) & ok);
    return (fl_vd)((fl_vl)t & ok);
}

FL_INLINE double fl_row_hinge_lin_f64(const double *s, double *g, ptrdiff_t n, ptrdiff_t y,
                                      double delta, double gs, const int store)
{
    const fl_vl lane = fl_f64_lane_index();
    const fl_vd syv = fl_f64_splat(s[y]), dv = fl_f64_splat(delta), gsv = fl_f64_splat(gs);
    fl_vd acc = {0}, acc1 = {0}, gv, gu;
    fl_vl cnt = {0};
    ptrdiff_t j = 0;
    for (; j + 2 * FL_ND <= n; j += 2 * FL_ND) {
        acc += fl_hinge_block_f64(fl_f64_load(s + j), syv, dv, gsv, lane != (int64_t)(y - j),
                                  &gv, &cnt);
        acc1 += fl_hinge_block_f64(fl_f64_load(s + j + FL_ND), syv, dv, gsv,
                                   lane != (int64_t)(y - j - FL_ND), &gu, &cnt);
        if (store) {
            fl_f64_store(g + j, gv);
            fl_f64_store(g + j + FL_ND, gu);
        }
    }
    for (; j < n; j += FL_ND) {
        const ptrdiff_t rem = n - j < FL_ND ? n - j : FL_ND;
        fl_vd v = rem == FL_ND ? fl_f64_load(s + j) : fl_f64_load_tail(s + j, rem, 0.0);
        acc += fl_hinge_block_f64(v, syv, dv, gsv,
                                  (lane != (int64_t)(y - j)) & (lane < (int64_t)rem), &gv, &cnt);
        if (store) {
            if (rem == FL_ND) fl_f64_store(g + j, gv);
            else fl_f64_store_tail(g + j, gv, rem);
        }
    }
    const double loss = fl_f64_hsum(acc + acc1);
    if (store) {
        int64_t count = 0;
        for (int k = 0; k < FL_ND; k++) count -= cnt[k];
        g[y] = loss == loss ? -gs * (double)count : loss;
    }
    return loss;
}
#endif

FL_INLINE double fl_row_hinge_f64(const double *s, double *g, ptrdiff_t n, ptrdiff_t y,
                                      double delta, int squared, double gs)
{
    if (squared)
        return g ? fl_row_hinge_sq_f64(s, g, n, y, delta, gs, 1)
                 : fl_row_hinge_sq_f64(s, g, n, y, delta, gs, 0);
    return g ? fl_row_hinge_lin_f64(s, g, n, y, delta, gs, 1)
             : fl_row_hinge_lin_f64(s, g, n, y, delta, gs, 0);
}

/* ---- binary losses, the sigmoid, soft targets, Crammer–Singer ----------- */

/* The binary kernels (_binary.pxi) run over flat arrays; these helpers take a
 * block of n elements.  Labels, targets and weights arrive in the dtype of
 * the scores (the kernels convert them block by block into L1-sized
 * buffers); NULL weights mean all ones.  A block's last partial vector is
 * loaded with neutral padding and its lanes are masked out of every sum. */

FL_INLINE fl_vf fl_f32_abs(fl_vf x) { return (fl_vf)((fl_vi)x & 0x7fffffff); }

/* log(1 + e) for 0 <= e <= 1, as 2·atanh(s) = 2(s + s³/3 + s⁵/5 + ...), s = e/(2 + e) <= 1/3:
 * no 1 + e is ever rounded, so tiny e keeps its full precision (log1p(e) = e), and the
 * series cut after s¹⁵ errs by < 2e-9 relative.  NaN passes. */
FL_INLINE fl_vf fl_f32_log1p_unit(fl_vf e)
{
    fl_vf s = e / (2.0f + e);
    fl_vf z = s * s;
    fl_vf p = fl_f32_splat(2.0f / 15.0f);
    p = p * z + 2.0f / 13.0f;
    p = p * z + 2.0f / 11.0f;
    p = p * z + 2.0f / 9.0f;
    p = p * z + 2.0f / 7.0f;
    p = p * z + 2.0f / 5.0f;
    p = p * z + 2.0f / 3.0f;
    return (s * z) * p + (s + s);
}

/* σ(x) = 1/(1 + e^{-x}); sets *comp = 1 - σ(x) = σ(-x) and *e = e^{-|x|}.  From one
 * division, σ(-|x|) = e^{-|x|} / (1 + e^{-|x|}) with e^{-|x|} in (0, 1] (never overflows),
 * and σ(|x|) = 1 - σ(-|x|) (not 1/(1 + e), which rounds to 1 too early): 0 or 1 come out
 * only where the true value rounds there.  NaN passes. */
FL_INLINE fl_vf fl_f32_sigmoid2(fl_vf x, fl_vf *comp, fl_vf *e_out)
{
    fl_vf e = fl_f32_exp(-fl_f32_abs(x));
    fl_vf small = e / (1.0f + e);   /* σ(-|x|), in (0, 1/2] */
    fl_vf large = 1.0f - small;     /* σ(|x|): rounds to 1 exactly where the true value does */
    fl_vi pos = x >= 0.0f;
    *comp = fl_f32_select(pos, small, large);
    *e_out = e;
    return fl_f32_select(pos, large, small);
}

/* out[j] = σ(x[j]) (out may be x). */
FL_INLINE void fl_sigmoid_f32(const float *x, float *out, ptrdiff_t n)
{
    fl_vf c, e;
    ptrdiff_t j = 0;
    for (; j + FL_NF <= n; j += FL_NF)
        fl_f32_store(out + j, fl_f32_sigmoid2(fl_f32_load(x + j), &c, &e));
    if (j < n)
        fl_f32_store_tail(out + j, fl_f32_sigmoid2(fl_f32_load_tail(x + j, n - j, 0.0f), &c, &e), n - j);
}

/* 1 in the first rem lanes, 0 in the others. */
FL_INLINE fl_vf fl_f32_ones_head(ptrdiff_t rem)
{
    return (fl_vf)((fl_vi)fl_f32_splat(1.0f) & (fl_f32_lane_index() < (int32_t)rem));
}

/* Sigmoid cross-entropy of n logits x with targets y in [0, 1], pos weights p:
 *   L_j = c_j·log(1 + e^{-|x_j|}) + |x_j|·q_j,   c = 1 + (p - 1)·y,   q = x >= 0 ? 1 - y : p·y,
 * the stable form of -[p·y·log σ(x) + (1 - y)·log(1 - σ(x))], with |x|·q taken as 0 where
 * q = 0 (so x = ±inf gives the limit, 0 or inf, not NaN).  Returns Σ_j w_j L_j in double;
 * with lo: lo[j] = w_j L_j; with g: g[j] = gs·w_j·((1 - y_j)·σ(x_j) - p_j·y_j·(1 - σ(x_j))).
 * g or lo may be x. */
FL_INLINE double fl_sigmoid_ce_f32(const float *x, const float *y, const float *p, const float *w,
                                   float gs, float *g, float *lo, ptrdiff_t n)
{
    const fl_vf one = fl_f32_splat(1.0f);
    fl_vd acc_lo = {0}, acc_hi = {0};
    for (ptrdiff_t j = 0; j < n; j += FL_NF) {
        const ptrdiff_t rem = n - j < FL_NF ? n - j : FL_NF;
        const int full = rem == FL_NF;
        fl_vf xv = full ? fl_f32_load(x + j) : fl_f32_load_tail(x + j, rem, 0.0f);
        fl_vf yv = full ? fl_f32_load(y + j) : fl_f32_load_tail(y + j, rem, 0.0f);
        fl_vf pv = !p ? one : full ? fl_f32_load(p + j) : fl_f32_load_tail(p + j, rem, 1.0f);
        fl_vf wv = w ? (full ? fl_f32_load(w + j) : fl_f32_load_tail(w + j, rem, 0.0f))
                     : (full ? one : fl_f32_ones_head(rem));
        fl_vf comp, e;
        fl_vf sg = fl_f32_sigmoid2(xv, &comp, &e);
        fl_vf py = pv * yv, ny = one - yv;
        fl_vf q = fl_f32_select(xv >= 0.0f, ny, py);
        fl_vf ax = (fl_vf)((fl_vi)(fl_f32_abs(xv) * q) & ~(q == 0.0f));
        fl_vf loss = ((py + ny) * fl_f32_log1p_unit(e) + ax) * wv;
        fl_f32_add_wide(loss, &acc_lo, &acc_hi);
        if (g) {
            fl_vf gv = (gs * wv) * (ny * sg - py * comp);
            if (full) fl_f32_store(g + j, gv); else fl_f32_store_tail(g + j, gv, rem);
        }
        if (lo) {
            if (full) fl_f32_store(lo + j, loss); else fl_f32_store_tail(lo + j, loss, rem);
        }
    }
    return fl_f64_hsum(acc_lo + acc_hi);
}

/* FL_NF int8 signs (±1) from y as fl_vf lanes; a tail of rem < FL_NF padded with 0.
 * Sign-extending conversions where the instruction set has them (gcc makes
 * one scalar conversion per lane of __builtin_convertvector from bytes). */
FL_INLINE fl_vf fl_f32_load_signs(const int8_t *y, ptrdiff_t rem)
{
#if FL_X86 && defined(__AVX512F__)
    if (rem == FL_NF)
        return (fl_vf)_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)y)));
#elif FL_X86 && defined(__AVX2__)
    if (rem == FL_NF)
        return (fl_vf)_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)y)));
#elif FL_X86 && !defined(__AVX__)  /* (AVX without AVX2: the loop below) */
    if (rem == FL_NF) {         /* SSE2: widen by unpacking, sign-extend by a shift */
        int32_t four;
        memcpy(&four, y, 4);
        __m128i b = _mm_cvtsi32_si128(four);
        b = _mm_unpacklo_epi8(b, b);
        b = _mm_unpacklo_epi16(b, b);
        return (fl_vf)_mm_cvtepi32_ps(_mm_srai_epi32(b, 24));
    }
#endif
    fl_vf v = {0};
    for (ptrdiff_t k = 0; k < rem; k++) v[k] = y[k];
    return v;
}

/* One vector of fl_binary_hinge_impl_f32 at j: rem = FL_NF (a whole one) or the tail. */
FL_INLINE void fl_binary_hinge_step_f32(const float *s, const int8_t *y, const float *w, float delta,
                                         float gs, float *g, float *lo, ptrdiff_t j, ptrdiff_t rem,
                                         const int squared, fl_vd *acc_lo, fl_vd *acc_hi)
{
    const int full = rem == FL_NF;
    fl_vf sv = full ? fl_f32_load(s + j) : fl_f32_load_tail(s + j, rem, 0.0f);
    fl_vf yv = fl_f32_load_signs(y + j, rem);
    fl_vf wv = w ? (full ? fl_f32_load(w + j) : fl_f32_load_tail(w + j, rem, 0.0f))
               : (full ? fl_f32_splat(1.0f) : fl_f32_ones_head(rem));
    fl_vf t = delta - yv * sv;
    fl_vf h = (fl_vf)((fl_vi)t & ~(t <= 0.0f));
    fl_vf loss = (squared ? h * h : h) * wv;
    fl_f32_add_wide(loss, acc_lo, acc_hi);
    if (g) {
        fl_vf gv = squared ? ((-2.0f * gs) * wv * yv) * h
                         : (fl_vf)((fl_vi)((-gs) * wv * yv) & (h > 0.0f));
        gv = fl_f32_select(h != h, h, gv); /* NaN in, NaN gradient */
        if (full) fl_f32_store(g + j, gv); else fl_f32_store_tail(g + j, gv, rem);
    }
    if (lo) {
        if (full) fl_f32_store(lo + j, loss); else fl_f32_store_tail(lo + j, loss, rem);
    }
}

/* Binary hinge of n scores s with labels y = ±1 (int8 signs): h_j = max(0, Δ - y_j·s_j) (NaN kept),
 * L_j = h_j (or h_j² if squared).  Returns Σ_j w_j L_j in double; with lo: lo[j] = w_j L_j;
 * with g: g[j] = -gs·w_j·y_j·[h_j > 0] (or -2·gs·w_j·y_j·h_j).  g or lo may be s. */
FL_INLINE double fl_binary_hinge_impl_f32(const float *s, const int8_t *y, const float *w, float delta,
                                          float gs, float *g, float *lo, ptrdiff_t n,
                                          const int squared)
{
    fl_vd acc_lo = {0}, acc_hi = {0};
    ptrdiff_t j = 0;
    for (; j + FL_NF <= n; j += FL_NF)
        fl_binary_hinge_step_f32(s, y, w, delta, gs, g, lo, j, FL_NF, squared, &acc_lo, &acc_hi);
    if (j < n)
        fl_binary_hinge_step_f32(s, y, w, delta, gs, g, lo, j, n - j, squared, &acc_lo, &acc_hi);
    return fl_f64_hsum(acc_lo + acc_hi);
}

FL_INLINE double fl_binary_hinge_f32(const float *s, const int8_t *y, const float *w, float delta,
                                     int squared, float gs, float *g, float *lo, ptrdiff_t n)
{
    return squared ? fl_binary_hinge_impl_f32(s, y, w, delta, gs, g, lo, n, 1)
                   : fl_binary_hinge_impl_f32(s, y, w, delta, gs, g, lo, n, 0);
}

/* Σ_j t[j] in double; *bad = 1 if some t[j] is negative or NaN (else unchanged). */
FL_INLINE double fl_row_sum_nonneg_f32(const float *t, ptrdiff_t n, int *bad)
{
    fl_vd acc_lo = {0}, acc_hi = {0};
    fl_vi neg = {0};
    ptrdiff_t j = 0;
    for (; j + FL_NF <= n; j += FL_NF) {
        fl_vf v = fl_f32_load(t + j);
        neg |= ~(v >= 0.0f);
        fl_f32_add_wide(v, &acc_lo, &acc_hi);
    }
    if (j < n) {
        fl_vf v = fl_f32_load_tail(t + j, n - j, 0.0f);
        neg |= ~(v >= 0.0f);
        fl_f32_add_wide(v, &acc_lo, &acc_hi);
    }
    for (int k = 0; k < FL_NF; k++) if (neg[k]) *bad = 1;
    return fl_f64_hsum(acc_lo + acc_hi);
}

/* Soft-target row sums.  With a_j = cw_j·(α·t_j + β) (cw NULL: all ones), returns
 * Σ_j a_j·(s_j - shift) in double, a term with a_j = 0 counting 0 whatever s_j (a -inf
 * score with no target mass costs nothing), and sets *mass = Σ_j a_j. */
FL_INLINE double fl_row_soft_f32(const float *s, const float *t, const float *cw, float alpha,
                                 float beta, float shift, double *mass, ptrdiff_t n)
{
    fl_vd acc_lo = {0}, acc_hi = {0}, m_lo = {0}, m_hi = {0};
    for (ptrdiff_t j = 0; j < n; j += FL_NF) {
        const ptrdiff_t rem = n - j < FL_NF ? n - j : FL_NF;
        const int full = rem == FL_NF;
        fl_vf sv = full ? fl_f32_load(s + j) : fl_f32_load_tail(s + j, rem, 0.0f);
        fl_vf tv = full ? fl_f32_load(t + j) : fl_f32_load_tail(t + j, rem, 0.0f);
        fl_vf a = tv * alpha + beta;
        if (cw) a *= full ? fl_f32_load(cw + j) : fl_f32_load_tail(cw + j, rem, 0.0f);
        else if (!full) a *= fl_f32_ones_head(rem);
        fl_vf d = (fl_vf)((fl_vi)(a * (sv - shift)) & ~(a == 0.0f));
        fl_f32_add_wide(d, &acc_lo, &acc_hi);
        fl_f32_add_wide(a, &m_lo, &m_hi);
    }
    *mass = fl_f64_hsum(m_lo + m_hi);
    return fl_f64_hsum(acc_lo + acc_hi);
}

/* g[j] = g[j]·gamma - cw_j·(α·t_j + β)   (cw NULL: all ones). */
FL_INLINE void fl_row_soft_grad_f32(float *g, const float *t, const float *cw, float gamma,
                                    float alpha, float beta, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j += FL_NF) {
        const ptrdiff_t rem = n - j < FL_NF ? n - j : FL_NF;
        const int full = rem == FL_NF;
        fl_vf gv = full ? fl_f32_load(g + j) : fl_f32_load_tail(g + j, rem, 0.0f);
        fl_vf tv = full ? fl_f32_load(t + j) : fl_f32_load_tail(t + j, rem, 0.0f);
        fl_vf a = tv * alpha + beta;
        if (cw) a *= full ? fl_f32_load(cw + j) : fl_f32_load_tail(cw + j, rem, 0.0f);
        gv = gv * gamma - a;
        if (full) fl_f32_store(g + j, gv); else fl_f32_store_tail(g + j, gv, rem);
    }
}

/* Bit k set where lane k of the comparison mask m is true. */
FL_INLINE unsigned fl_f32_mask_bits(fl_vi m)
{
#if FL_X86 && defined(__AVX512F__)
    return _mm512_movepi32_mask((__m512i)m);
#elif FL_X86 && defined(__AVX__)
    return (unsigned)_mm256_movemask_ps((__m256)m);
#elif FL_X86
    return (unsigned)_mm_movemask_ps((__m128)m);
#else
    unsigned bits = 0;
    for (int k = 0; k < FL_NF; k++) bits |= (m[k] != 0) << k;
    return bits;
#endif
}

/* Crammer–Singer: the lowest index of max_{j≠y} s_j, or -1 if no s_j (j≠y) exceeds -inf.
 * Sets *has_nan = 1 if the row holds a NaN (else leaves it).  Two passes over the row
 * (it is in L1 for the second): a vector max, then the first lane equal to it. */
FL_INLINE ptrdiff_t fl_row_argmax_excl_f32(const float *s, ptrdiff_t n, ptrdiff_t y, int *has_nan)
{
    const fl_vi lane = fl_f32_lane_index();
    const fl_vf ninf = fl_f32_splat(-INFINITY);
    fl_vf best = ninf, best1 = ninf;
    fl_vi nan = {0};
    ptrdiff_t j = 0;
    for (; j + 2 * FL_NF <= n; j += 2 * FL_NF) {
        fl_vf v = fl_f32_load(s + j), u = fl_f32_load(s + j + FL_NF);
        nan |= (v != v) | (u != u);
        v = fl_f32_select(lane == (int32_t)(y - j), ninf, v);
        u = fl_f32_select(lane == (int32_t)(y - j - FL_NF), ninf, u);
        best = fl_f32_max(v, best);
        best1 = fl_f32_max(u, best1);
    }
    for (; j < n; j += FL_NF) {
        fl_vf v = n - j >= FL_NF ? fl_f32_load(s + j) : fl_f32_load_tail(s + j, n - j, -INFINITY);
        nan |= v != v;
        v = fl_f32_select(lane == (int32_t)(y - j), ninf, v);
        best = fl_f32_max(v, best);
    }
    best = fl_f32_max(best1, best);
    if (fl_f32_mask_bits(nan)) *has_nan = 1;
    const float m = fl_f32_hmax(best);
    if (!(m > -INFINITY)) return -1;
    for (j = 0; j < n; j += FL_NF) {
        const ptrdiff_t rem = n - j < FL_NF ? n - j : FL_NF;
        fl_vf v = rem == FL_NF ? fl_f32_load(s + j) : fl_f32_load_tail(s + j, rem, -INFINITY);
        unsigned bits = fl_f32_mask_bits((v == m) & (lane != (int32_t)(y - j)));
        if (bits) return j + __builtin_ctz(bits);
    }
    return -1; /* not reached */
}

/* float64 versions of the helpers above */

FL_INLINE void fl_f64_add_wide(fl_vd v, fl_vd *acc_lo, fl_vd *acc_hi)
{
    (void)acc_hi;
    *acc_lo += v;
}


/* The binary kernels (_binary.pxi) run over flat arrays; these helpers take a
 * block of n elements.  Labels, targets and weights arrive in the dtype of
 * the scores (the kernels convert them block by block into L1-sized
 * buffers); NULL weights mean all ones.  A block's last partial vector is
 * loaded with neutral padding and its lanes are masked out of every sum. */

FL_INLINE fl_vd fl_f64_abs(fl_vd x) { return (fl_vd)((fl_vl)x & 0x7fffffffffffffffLL); }

/* log(1 + e) for 0 <= e <= 1, as in fl_f32_log1p_unit; the series cut after s³¹ errs by
 * < 2e-17 relative. */
FL_INLINE fl_vd fl_f64_log1p_unit(fl_vd e)
{
    fl_vd s = e / (2.0 + e);
    fl_vd z = s * s;
    fl_vd p = fl_f64_splat(2.0 / 31.0);
    p = p * z + 2.0 / 29.0;
    p = p * z + 2.0 / 27.0;
    p = p * z + 2.0 / 25.0;
    p = p * z + 2.0 / 23.0;
    p = p * z + 2.0 / 21.0;
    p = p * z + 2.0 / 19.0;
    p = p * z + 2.0 / 17.0;
    p = p * z + 2.0 / 15.0;
    p = p * z + 2.0 / 13.0;
    p = p * z + 2.0 / 11.0;
    p = p * z + 2.0 / 9.0;
    p = p * z + 2.0 / 7.0;
    p = p * z + 2.0 / 5.0;
    p = p * z + 2.0 / 3.0;
    return (s * z) * p + (s + s);
}

/* σ(x) = 1/(1 + e^{-x}); sets *comp = 1 - σ(x) = σ(-x) and *e = e^{-|x|}.  From one
 * division, σ(-|x|) = e^{-|x|} / (1 + e^{-|x|}) with e^{-|x|} in (0, 1] (never overflows),
 * and σ(|x|) = 1 - σ(-|x|) (not 1/(1 + e), which rounds to 1 too early): 0 or 1 come out
 * only where the true value rounds there.  NaN passes. */
FL_INLINE fl_vd fl_f64_sigmoid2(fl_vd x, fl_vd *comp, fl_vd *e_out)
{
    fl_vd e = fl_f64_exp(-fl_f64_abs(x));
    fl_vd small = e / (1.0 + e);   /* σ(-|x|), in (0, 1/2] */
    fl_vd large = 1.0 - small;     /* σ(|x|): rounds to 1 exactly where the true value does */
    fl_vl pos = x >= 0.0;
    *comp = fl_f64_select(pos, small, large);
    *e_out = e;
    return fl_f64_select(pos, large, small);
}

/* out[j] = σ(x[j]) (out may be x). */
FL_INLINE void fl_sigmoid_f64(const double *x, double *out, ptrdiff_t n)
{
    fl_vd c, e;
    ptrdiff_t j = 0;
    for (; j + FL_ND <= n; j += FL_ND)
        fl_f64_store(out + j, fl_f64_sigmoid2(fl_f64_load(x + j), &c, &e));
    if (j < n)
        fl_f64_store_tail(out + j, fl_f64_sigmoid2(fl_f64_load_tail(x + j, n - j, 0.0), &c, &e), n - j);
}

/* 1 in the first rem lanes, 0 in the others. */
FL_INLINE fl_vd fl_f64_ones_head(ptrdiff_t rem)
{
    return (fl_vd)((fl_vl)fl_f64_splat(1.0) & (fl_f64_lane_index() < (int64_t)rem));
}

/* Sigmoid cross-entropy of n logits x with targets y in [0, 1], pos weights p:
 *   L_j = c_j·log(1 + e^{-|x_j|}) + |x_j|·q_j,   c = 1 + (p - 1)·y,   q = x >= 0 ? 1 - y : p·y,
 * the stable form of -[p·y·log σ(x) + (1 - y)·log(1 - σ(x))], with |x|·q taken as 0 where
 * q = 0 (so x = ±inf gives the limit, 0 or inf, not NaN).  Returns Σ_j w_j L_j in double;
 * with lo: lo[j] = w_j L_j; with g: g[j] = gs·w_j·((1 - y_j)·σ(x_j) - p_j·y_j·(1 - σ(x_j))).
 * g or lo may be x. */
FL_INLINE double fl_sigmoid_ce_f64(const double *x, const double *y, const double *p, const double *w,
                                   double gs, double *g, double *lo, ptrdiff_t n)
{
    const fl_vd one = fl_f64_splat(1.0);
    fl_vd acc_lo = {0}, acc_hi = {0};
    for (ptrdiff_t j = 0; j < n; j += FL_ND) {
        const ptrdiff_t rem = n - j < FL_ND ? n - j : FL_ND;
        const int full = rem == FL_ND;
        fl_vd xv = full ? fl_f64_load(x + j) : fl_f64_load_tail(x + j, rem, 0.0);
        fl_vd yv = full ? fl_f64_load(y + j) : fl_f64_load_tail(y + j, rem, 0.0);
        fl_vd pv = !p ? one : full ? fl_f64_load(p + j) : fl_f64_load_tail(p + j, rem, 1.0);
        fl_vd wv = w ? (full ? fl_f64_load(w + j) : fl_f64_load_tail(w + j, rem, 0.0))
                     : (full ? one : fl_f64_ones_head(rem));
        fl_vd comp, e;
        fl_vd sg = fl_f64_sigmoid2(xv, &comp, &e);
        fl_vd py = pv * yv, ny = one - yv;
        fl_vd q = fl_f64_select(xv >= 0.0, ny, py);
        fl_vd ax = (fl_vd)((fl_vl)(fl_f64_abs(xv) * q) & ~(q == 0.0));
        fl_vd loss = ((py + ny) * fl_f64_log1p_unit(e) + ax) * wv;
        fl_f64_add_wide(loss, &acc_lo, &acc_hi);
        if (g) {
            fl_vd gv = (gs * wv) * (ny * sg - py * comp);
            if (full) fl_f64_store(g + j, gv); else fl_f64_store_tail(g + j, gv, rem);
        }
        if (lo) {
            if (full) fl_f64_store(lo + j, loss); else fl_f64_store_tail(lo + j, loss, rem);
        }
    }
    return fl_f64_hsum(acc_lo + acc_hi);
}

/* FL_ND int8 signs (±1) from y as fl_vd lanes; a tail of rem < FL_ND padded with 0.
 * Sign-extending conversions where the instruction set has them (gcc makes
 * one scalar conversion per lane of __builtin_convertvector from bytes). */
FL_INLINE fl_vd fl_f64_load_signs(const int8_t *y, ptrdiff_t rem)
{
#if FL_X86 && defined(__AVX512F__)
    if (rem == FL_ND)
        return (fl_vd)_mm512_cvtepi32_pd(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)y)));
#elif FL_X86 && defined(__AVX2__)
    if (rem == FL_ND) {
        int32_t four;
        memcpy(&four, y, 4);
        return (fl_vd)_mm256_cvtepi32_pd(_mm_cvtepi8_epi32(_mm_cvtsi32_si128(four)));
    }
#elif FL_X86 && !defined(__AVX__)  /* (AVX without AVX2: the loop below) */
    if (rem == FL_ND) {         /* SSE2, as in fl_f32_load_signs */
        uint16_t two;
        memcpy(&two, y, 2);
        __m128i b = _mm_cvtsi32_si128(two);
        b = _mm_unpacklo_epi8(b, b);
        b = _mm_unpacklo_epi16(b, b);
        return (fl_vd)_mm_cvtepi32_pd(_mm_srai_epi32(b, 24));
    }
#endif
    fl_vd v = {0};
    for (ptrdiff_t k = 0; k < rem; k++) v[k] = y[k];
    return v;
}

/* One vector of fl_binary_hinge_impl_f64 at j: rem = FL_ND (a whole one) or the tail. */
FL_INLINE void fl_binary_hinge_step_f64(const double *s, const int8_t *y, const double *w, double delta,
                                         double gs, double *g, double *lo, ptrdiff_t j, ptrdiff_t rem,
                                         const int squared, fl_vd *acc_lo, fl_vd *acc_hi)
{
    const int full = rem == FL_ND;
    fl_vd sv = full ? fl_f64_load(s + j) : fl_f64_load_tail(s + j, rem, 0.0);
    fl_vd yv = fl_f64_load_signs(y + j, rem);
    fl_vd wv = w ? (full ? fl_f64_load(w + j) : fl_f64_load_tail(w + j, rem, 0.0))
               : (full ? fl_f64_splat(1.0) : fl_f64_ones_head(rem));
    fl_vd t = delta - yv * sv;
    fl_vd h = (fl_vd)((fl_vl)t & ~(t <= 0.0));
    fl_vd loss = (squared ? h * h : h) * wv;
    fl_f64_add_wide(loss, acc_lo, acc_hi);
    if (g) {
        fl_vd gv = squared ? ((-2.0 * gs) * wv * yv) * h
                         : (fl_vd)((fl_vl)((-gs) * wv * yv) & (h > 0.0));
        gv = fl_f64_select(h != h, h, gv); /* NaN in, NaN gradient */
        if (full) fl_f64_store(g + j, gv); else fl_f64_store_tail(g + j, gv, rem);
    }
    if (lo) {
        if (full) fl_f64_store(lo + j, loss); else fl_f64_store_tail(lo + j, loss, rem);
    }
}

/* Binary hinge of n scores s with labels y = ±1 (int8 signs): h_j = max(0, Δ - y_j·s_j) (NaN kept),
 * L_j = h_j (or h_j² if squared).  Returns Σ_j w_j L_j in double; with lo: lo[j] = w_j L_j;
 * with g: g[j] = -gs·w_j·y_j·[h_j > 0] (or -2·gs·w_j·y_j·h_j).  g or lo may be s. */
FL_INLINE double fl_binary_hinge_impl_f64(const double *s, const int8_t *y, const double *w, double delta,
                                          double gs, double *g, double *lo, ptrdiff_t n,
                                          const int squared)
{
    fl_vd acc_lo = {0}, acc_hi = {0};
    ptrdiff_t j = 0;
    for (; j + FL_ND <= n; j += FL_ND)
        fl_binary_hinge_step_f64(s, y, w, delta, gs, g, lo, j, FL_ND, squared, &acc_lo, &acc_hi);
    if (j < n)
        fl_binary_hinge_step_f64(s, y, w, delta, gs, g, lo, j, n - j, squared, &acc_lo, &acc_hi);
    return fl_f64_hsum(acc_lo + acc_hi);
}

FL_INLINE double fl_binary_hinge_f64(const double *s, const int8_t *y, const double *w, double delta,
                                     int squared, double gs, double *g, double *lo, ptrdiff_t n)
{
    return squared ? fl_binary_hinge_impl_f64(s, y, w, delta, gs, g, lo, n, 1)
                   : fl_binary_hinge_impl_f64(s, y, w, delta, gs, g, lo, n, 0);
}

/* Σ_j t[j] in double; *bad = 1 if some t[j] is negative or NaN (else unchanged). */
FL_INLINE double fl_row_sum_nonneg_f64(const double *t, ptrdiff_t n, int *bad)
{
    fl_vd acc_lo = {0}, acc_hi = {0};
    fl_vl neg = {0};
    ptrdiff_t j = 0;
    for (; j + FL_ND <= n; j += FL_ND) {
        fl_vd v = fl_f64_load(t + j);
        neg |= ~(v >= 0.0);
        fl_f64_add_wide(v, &acc_lo, &acc_hi);
    }
    if (j < n) {
        fl_vd v = fl_f64_load_tail(t + j, n - j, 0.0);
        neg |= ~(v >= 0.0);
        fl_f64_add_wide(v, &acc_lo, &acc_hi);
    }
    for (int k = 0; k < FL_ND; k++) if (neg[k]) *bad = 1;
    return fl_f64_hsum(acc_lo + acc_hi);
}

/* Soft-target row sums.  With a_j = cw_j·(α·t_j + β) (cw NULL: all ones), returns
 * Σ_j a_j·(s_j - shift) in double, a term with a_j = 0 counting 0 whatever s_j (a -inf
 * score with no target mass costs nothing), and sets *mass = Σ_j a_j. */
FL_INLINE double fl_row_soft_f64(const double *s, const double *t, const double *cw, double alpha,
                                 double beta, double shift, double *mass, ptrdiff_t n)
{
    fl_vd acc_lo = {0}, acc_hi = {0}, m_lo = {0}, m_hi = {0};
    for (ptrdiff_t j = 0; j < n; j += FL_ND) {
        const ptrdiff_t rem = n - j < FL_ND ? n - j : FL_ND;
        const int full = rem == FL_ND;
        fl_vd sv = full ? fl_f64_load(s + j) : fl_f64_load_tail(s + j, rem, 0.0);
        fl_vd tv = full ? fl_f64_load(t + j) : fl_f64_load_tail(t + j, rem, 0.0);
        fl_vd a = tv * alpha + beta;
        if (cw) a *= full ? fl_f64_load(cw + j) : fl_f64_load_tail(cw + j, rem, 0.0);
        else if (!full) a *= fl_f64_ones_head(rem);
        fl_vd d = (fl_vd)((fl_vl)(a * (sv - shift)) & ~(a == 0.0));
        fl_f64_add_wide(d, &acc_lo, &acc_hi);
        fl_f64_add_wide(a, &m_lo, &m_hi);
    }
    *mass = fl_f64_hsum(m_lo + m_hi);
    return fl_f64_hsum(acc_lo + acc_hi);
}

/* g[j] = g[j]·gamma - cw_j·(α·t_j + β)   (cw NULL: all ones). */
FL_INLINE void fl_row_soft_grad_f64(double *g, const double *t, const double *cw, double gamma,
                                    double alpha, double beta, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j += FL_ND) {
        const ptrdiff_t rem = n - j < FL_ND ? n - j : FL_ND;
        const int full = rem == FL_ND;
        fl_vd gv = full ? fl_f64_load(g + j) : fl_f64_load_tail(g + j, rem, 0.0);
        fl_vd tv = full ? fl_f64_load(t + j) : fl_f64_load_tail(t + j, rem, 0.0);
        fl_vd a = tv * alpha + beta;
        if (cw) a *= full ? fl_f64_load(cw + j) : fl_f64_load_tail(cw + j, rem, 0.0);
        gv = gv * gamma - a;
        if (full) fl_f64_store(g + j, gv); else fl_f64_store_tail(g + j, gv, rem);
    }
}

/* (float64) Bit k set where lane k of the comparison mask m is true. */
FL_INLINE unsigned fl_f64_mask_bits(fl_vl m)
{
#if FL_X86 && defined(__AVX512F__)
    return _mm512_movepi64_mask((__m512i)m);
#elif FL_X86 && defined(__AVX__)
    return (unsigned)_mm256_movemask_pd((__m256d)m);
#elif FL_X86
    return (unsigned)_mm_movemask_pd((__m128d)m);
#else
    unsigned bits = 0;
    for (int k = 0; k < FL_ND; k++) bits |= (m[k] != 0) << k;
    return bits;
#endif
}

/* (float64) Crammer–Singer: the lowest index of max_{j≠y} s_j, or -1 if no s_j (j≠y) exceeds -inf.
 * Sets *has_nan = 1 if the row holds a NaN (else leaves it).  Two passes over the row
 * (it is in L1 for the second): a vector max, then the first lane equal to it. */
FL_INLINE ptrdiff_t fl_row_argmax_excl_f64(const double *s, ptrdiff_t n, ptrdiff_t y, int *has_nan)
{
    const fl_vl lane = fl_f64_lane_index();
    const fl_vd ninf = fl_f64_splat(-INFINITY);
    fl_vd best = ninf, best1 = ninf;
    fl_vl nan = {0};
    ptrdiff_t j = 0;
    for (; j + 2 * FL_ND <= n; j += 2 * FL_ND) {
        fl_vd v = fl_f64_load(s + j), u = fl_f64_load(s + j + FL_ND);
        nan |= (v != v) | (u != u);
        v = fl_f64_select(lane == (int64_t)(y - j), ninf, v);
        u = fl_f64_select(lane == (int64_t)(y - j - FL_ND), ninf, u);
        best = fl_f64_max(v, best);
        best1 = fl_f64_max(u, best1);
    }
    for (; j < n; j += FL_ND) {
        fl_vd v = n - j >= FL_ND ? fl_f64_load(s + j) : fl_f64_load_tail(s + j, n - j, -INFINITY);
        nan |= v != v;
        v = fl_f64_select(lane == (int64_t)(y - j), ninf, v);
        best = fl_f64_max(v, best);
    }
    best = fl_f64_max(best1, best);
    if (fl_f64_mask_bits(nan)) *has_nan = 1;
    const double m = fl_f64_hmax(best);
    if (!(m > -INFINITY)) return -1;
    for (j = 0; j < n; j += FL_ND) {
        const ptrdiff_t rem = n - j < FL_ND ? n - j : FL_ND;
        fl_vd v = rem == FL_ND ? fl_f64_load(s + j) : fl_f64_load_tail(s + j, rem, -INFINITY);
        unsigned bits = fl_f64_mask_bits((v == m) & (lane != (int64_t)(y - j)));
        if (bits) return j + __builtin_ctz(bits);
    }
    return -1; /* not reached */
}

#else /* no GNU vector extensions: scalar loops, same results up to rounding */

#define FL_ROW_SCALAR(T, SUF, EXP)                                                          \
    static inline T fl_row_max_##SUF(const T *x, ptrdiff_t n)                               \
    {                                                                                       \
        T m = -INFINITY;                                                                    \
        for (ptrdiff_t j = 0; j < n; j++) m = x[j] > m ? x[j] : m;                          \
        return m;                                                                           \
    }                                                                                       \
    static inline double fl_row_exp_sum_##SUF(const T *x, T shift, T *out, ptrdiff_t n)     \
    {                                                                                       \
        double total = 0.0;                                                                 \
        for (ptrdiff_t j = 0; j < n; j++) {                                                 \
            T e = EXP(x[j] - shift);                                                        \
            if (out) out[j] = e;                                                            \
            total += e;                                                                     \
        }                                                                                   \
        return total;                                                                       \
    }                                                                                       \
    static inline void fl_row_affine_##SUF(const T *x, T a, T b, T *out, ptrdiff_t n)       \
    {                                                                                       \
        for (ptrdiff_t j = 0; j < n; j++) out[j] = x[j] * a + b;                            \
    }                                                                                       \
    static inline double fl_row_hinge_##SUF(const T *s, T *g, ptrdiff_t n, ptrdiff_t y,     \
                                            T delta, int squared, T gs)                     \
    {                                                                                       \
        const T sy = s[y];                                                                  \
        double total = 0.0, aux = 0.0;                                                      \
        for (ptrdiff_t j = 0; j < n; j++) {                                                 \
            T t = s[j] - sy + delta;                                                        \
            T h = (t <= 0 || j == y) ? (T)0 : t;                                            \
            total += squared ? (double)h * h : (double)h;                                   \
            aux += squared ? (double)h : (h != h ? (double)h : h > 0 ? 1.0 : 0.0);          \
            if (g) g[j] = squared ? 2 * gs * h : (h != h ? h : h > 0 ? gs : (T)0);          \
        }                                                                                   \
        if (g) g[y] = (T)(-(squared ? 2.0 : 1.0) * gs * aux);                               \
        return total;                                                                       \
    }

static inline void fl_log8_f64(const double *x, double *out)
{
    for (int k = 0; k < 8; k++) out[k] = log(x[k]);
}

FL_ROW_SCALAR(float, f32, fl_expf)
FL_ROW_SCALAR(double, f64, fl_exp)


/* binary losses, the sigmoid, soft targets, Crammer–Singer: see the vector versions above */
#define FL_BINARY_SCALAR(T, SUF, EXP)                                                       \
    static inline T fl_sigmoid2_##SUF(T x, T *comp, T *e_out)                               \
    {                                                                                       \
        T e = EXP(-fabs(x)), small = e / (1 + e), large = 1 - small;                        \
        *comp = x >= 0 ? small : large;                                                     \
        *e_out = e;                                                                         \
        return x >= 0 ? large : small;                                                      \
    }                                                                                       \
    static inline void fl_sigmoid_##SUF(const T *x, T *out, ptrdiff_t n)                    \
    {                                                                                       \
        T c, e;                                                                             \
        for (ptrdiff_t j = 0; j < n; j++) out[j] = fl_sigmoid2_##SUF(x[j], &c, &e);         \
    }                                                                                       \
    static inline double fl_sigmoid_ce_##SUF(const T *x, const T *y, const T *p,            \
                                             const T *w, T gs, T *g, T *lo, ptrdiff_t n)    \
    {                                                                                       \
        double total = 0.0;                                                                 \
        for (ptrdiff_t j = 0; j < n; j++) {                                                 \
            T c, e, pv = p ? p[j] : 1, wv = w ? w[j] : 1;                                   \
            T sg = fl_sigmoid2_##SUF(x[j], &c, &e);                                         \
            T py = pv * y[j], ny = 1 - y[j], q = x[j] >= 0 ? ny : py;                       \
            T ax = q == 0 ? 0 : (T)fabs(x[j]) * q;                                          \
            T loss = ((py + ny) * (T)log1p(e) + ax) * wv;                                   \
            total += loss;                                                                  \
            if (g) g[j] = gs * wv * (ny * sg - py * c);                                     \
            if (lo) lo[j] = loss;                                                           \
        }                                                                                   \
        return total;                                                                       \
    }                                                                                       \
    static inline double fl_binary_hinge_##SUF(const T *s, const int8_t *y, const T *w,     \
                                               T delta, int squared, T gs, T *g, T *lo,     \
                                               ptrdiff_t n)                                 \
    {                                                                                       \
        double total = 0.0;                                                                 \
        for (ptrdiff_t j = 0; j < n; j++) {                                                 \
            T wv = w ? w[j] : 1, t = delta - y[j] * s[j], h = t <= 0 ? 0 : t;              \
            T loss = (squared ? h * h : h) * wv;                                            \
            total += loss;                                                                  \
            if (g) g[j] = squared ? -2 * gs * wv * y[j] * h                                 \
                                  : (h != h ? h : h > 0 ? -gs * wv * y[j] : 0);             \
            if (lo) lo[j] = loss;                                                           \
        }                                                                                   \
        return total;                                                                       \
    }                                                                                       \
    static inline double fl_row_sum_nonneg_##SUF(const T *t, ptrdiff_t n, int *bad)         \
    {                                                                                       \
        double total = 0.0;                                                                 \
        for (ptrdiff_t j = 0; j < n; j++) {                                                 \
            if (!(t[j] >= 0)) *bad = 1;                                                     \
            total += t[j];                                                                  \
        }                                                                                   \
        return total;                                                                       \
    }                                                                                       \
    static inline double fl_row_soft_##SUF(const T *s, const T *t, const T *cw, T alpha,    \
                                           T beta, T shift, double *mass, ptrdiff_t n)      \
    {                                                                                       \
        double total = 0.0, m = 0.0;                                                        \
        for (ptrdiff_t j = 0; j < n; j++) {                                                 \
            T a = (t[j] * alpha + beta) * (cw ? cw[j] : 1);                                 \
            total += a == 0 ? 0 : a * (s[j] - shift);                                       \
            m += a;                                                                         \
        }                                                                                   \
        *mass = m;                                                                          \
        return total;                                                                       \
    }                                                                                       \
    static inline void fl_row_soft_grad_##SUF(T *g, const T *t, const T *cw, T gamma,       \
                                              T alpha, T beta, ptrdiff_t n)                 \
    {                                                                                       \
        for (ptrdiff_t j = 0; j < n; j++)                                                   \
            g[j] = g[j] * gamma - (t[j] * alpha + beta) * (cw ? cw[j] : 1);                 \
    }                                                                                       \
    static inline ptrdiff_t fl_row_argmax_excl_##SUF(const T *s, ptrdiff_t n, ptrdiff_t y,  \
                                                     int *has_nan)                          \
    {                                                                                       \
        T best = -INFINITY;                                                                 \
        ptrdiff_t bi = -1;                                                                  \
        for (ptrdiff_t j = 0; j < n; j++) {                                                 \
            if (s[j] != s[j]) *has_nan = 1;                                                 \
            if (j != y && s[j] > best) { best = s[j]; bi = j; }                             \
        }                                                                                   \
        return bi;                                                                          \
    }

FL_BINARY_SCALAR(float, f32, fl_expf)
FL_BINARY_SCALAR(double, f64, fl_exp)

static inline double fl_row_exp_sum_label_f32(const float *x, ptrdiff_t y, float *out, ptrdiff_t n)
{
    return fl_row_exp_sum_f32(x, x[y], out, n);   /* every term in double; fl_expf clamps */
}

#endif

#endif /* FASTLOSS_SIMD_ROWS_H */
