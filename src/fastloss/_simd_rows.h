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

/* ---- float32 ------------------------------------------------------------ */

FL_INLINE fl_vf fl_f32_splat(float x) { return (fl_vf){0} + x; }
FL_INLINE fl_vf fl_f32_load(const float *p) { fl_vf v; memcpy(&v, p, sizeof v); return v; }
FL_INLINE void fl_f32_store(float *p, fl_vf v) { memcpy(p, &v, sizeof v); }

/* m ? a : b, lane-wise (m is 0 or -1 per lane). */
FL_INLINE fl_vf fl_f32_select(fl_vi m, fl_vf a, fl_vf b)
{
    return (fl_vf)(((fl_vi)a & m) | ((fl_vi)b & ~m));
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

/* fl_expf (see _simd_math.h), a vector at a time. */
FL_INLINE fl_vf fl_f32_exp(fl_vf x)
{
    const fl_vf hi = fl_f32_splat(89.0f), zero = {0};
    const fl_vf magic = fl_f32_splat(12582912.0f);
    /* Lanes whose result rounds to 0 compute exp(0) and are zeroed at the end,
     * so that -inf scores and padding never take the (slow, microcode-assisted
     * on x86) subnormal path. */
    const fl_vi tiny = x < -104.0f;
    x = fl_f32_select(tiny, zero, x);
    x = fl_f32_select(x > hi, hi, x);
    fl_vf t = x * 1.44269504088896341f + magic;
    fl_vi n = (fl_vi)t - (fl_vi)magic;          /* in [-150, 129] */
    fl_vf nf = t - magic;
    fl_vf r = x - nf * 0.693359375f;
    r = r - nf * -2.12194440e-4f;
    fl_vf p = fl_f32_splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    /* n1 = floor(n / 2) with a logical shift (every instruction set has one) */
    fl_vi n1 = (fl_vi)((fl_vu)(n + 256) >> 1) - 128;
    fl_vi n2 = n - n1;
    return (fl_vf)((fl_vi)(p * (fl_vf)((n1 + 127) << 23) * (fl_vf)((n2 + 127) << 23)) & ~tiny);
}

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
    /* four independent chains: a compare-and-select has a latency of several cycles */
    for (; j + 4 * FL_NF <= n; j += 4 * FL_NF) {
        v = fl_f32_load(x + j);
        acc = fl_f32_select(v > acc, v, acc);
        v = fl_f32_load(x + j + FL_NF);
        acc1 = fl_f32_select(v > acc1, v, acc1);
        v = fl_f32_load(x + j + 2 * FL_NF);
        acc2 = fl_f32_select(v > acc2, v, acc2);
        v = fl_f32_load(x + j + 3 * FL_NF);
        acc3 = fl_f32_select(v > acc3, v, acc3);
    }
    acc = fl_f32_select(acc1 > acc, acc1, acc);
    acc2 = fl_f32_select(acc3 > acc2, acc3, acc2);
    acc = fl_f32_select(acc2 > acc, acc2, acc);
    for (; j + FL_NF <= n; j += FL_NF) {
        v = fl_f32_load(x + j);
        acc = fl_f32_select(v > acc, v, acc);
    }
    if (j < n) {
        v = fl_f32_load_tail(x + j, n - j, -INFINITY);
        acc = fl_f32_select(v > acc, v, acc);
    }
    return fl_f32_hmax(acc);
}

/* out[j] = exp(x[j] - shift) (out may be x); returns Σ_j out[j] in double. */
FL_INLINE double fl_row_exp_sum_impl_f32(const float *x, float shift, float *out, ptrdiff_t n,
                                         const int store)
{
    fl_vd acc_lo = {0}, acc_hi = {0};
    fl_vf e;
    ptrdiff_t j = 0;
    for (; j + FL_NF <= n; j += FL_NF) {
        e = fl_f32_exp(fl_f32_load(x + j) - shift);
        if (store) fl_f32_store(out + j, e);
        fl_f32_add_wide(e, &acc_lo, &acc_hi);
    }
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
 * runs in vector blocks and stays exact for infinite and NaN scores. */
FL_INLINE double fl_row_hinge_impl_f32(const float *s, float *g, ptrdiff_t n, ptrdiff_t y,
                                       float delta, float gs, const int squared, const int store)
{
    const fl_vi lane = fl_f32_lane_index();
    const float sy = s[y];
    fl_vd acc_lo = {0}, acc_hi = {0}, aux_lo = {0}, aux_hi = {0};
    fl_vi count = {0};
    for (ptrdiff_t j = 0; j < n; j += FL_NF) {
        const ptrdiff_t rem = n - j < FL_NF ? n - j : FL_NF;
        fl_vf v = rem == FL_NF ? fl_f32_load(s + j) : fl_f32_load_tail(s + j, rem, 0.0f);
        fl_vf t = v - sy + delta;
        fl_vi drop = (t <= 0.0f) | (lane == (int32_t)(y - j)) | (lane >= (int32_t)rem);
        fl_vf h = (fl_vf)((fl_vi)t & ~drop);
        fl_vi pos = h > 0.0f;
        fl_vf gv;
        if (squared) {
            fl_f32_add_wide(h * h, &acc_lo, &acc_hi);
            fl_f32_add_wide(h, &aux_lo, &aux_hi);
            gv = (2.0f * gs) * h;
        } else {
            fl_f32_add_wide(h, &acc_lo, &acc_hi);
            count -= pos;
            gv = (fl_vf)((fl_vi)fl_f32_splat(gs) & pos);
        }
        if (store) {
            if (rem == FL_NF) fl_f32_store(g + j, gv);
            else fl_f32_store_tail(g + j, gv, rem);
        }
    }
    if (store) {
        double total_grad;
        if (squared) {
            total_grad = 2.0 * gs * fl_f64_hsum(aux_lo + aux_hi);
        } else {
            int64_t c = 0;
            for (int k = 0; k < FL_NF; k++) c += count[k];
            total_grad = (double)gs * (double)c;
        }
        g[y] = (float)-total_grad;
    }
    return fl_f64_hsum(acc_lo + acc_hi);
}

FL_INLINE double fl_row_hinge_f32(const float *s, float *g, ptrdiff_t n, ptrdiff_t y,
                                      float delta, int squared, float gs)
{
    if (squared)
        return g ? fl_row_hinge_impl_f32(s, g, n, y, delta, gs, 1, 1)
                 : fl_row_hinge_impl_f32(s, g, n, y, delta, gs, 1, 0);
    return g ? fl_row_hinge_impl_f32(s, g, n, y, delta, gs, 0, 1)
             : fl_row_hinge_impl_f32(s, g, n, y, delta, gs, 0, 0);
}

/* ---- float64 ------------------------------------------------------------ */

FL_INLINE fl_vd fl_f64_splat(double x) { return (fl_vd){0} + x; }
FL_INLINE fl_vd fl_f64_load(const double *p) { fl_vd v; memcpy(&v, p, sizeof v); return v; }
FL_INLINE void fl_f64_store(double *p, fl_vd v) { memcpy(p, &v, sizeof v); }

FL_INLINE fl_vd fl_f64_select(fl_vl m, fl_vd a, fl_vd b)
{
    return (fl_vd)(((fl_vl)a & m) | ((fl_vl)b & ~m));
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

/* fl_exp (see _simd_math.h), a vector at a time. */
FL_INLINE fl_vd fl_f64_exp(fl_vd x)
{
    const fl_vd hi = fl_f64_splat(710.0), zero = {0};
    const fl_vd magic = fl_f64_splat(6755399441055744.0);
    const fl_vl tiny = x < -745.2;              /* result rounds to 0: see fl_f32_exp */
    x = fl_f64_select(tiny, zero, x);
    x = fl_f64_select(x > hi, hi, x);
    fl_vd t = x * 1.4426950408889634074 + magic;
    fl_vl n = (fl_vl)t - (fl_vl)magic;          /* in [-1076, 1025] */
    fl_vd nf = t - magic;
    fl_vd r = x - nf * 6.93147180369123816490e-1;
    r = r - nf * 1.90821492927058770002e-10;
    fl_vd p = fl_f64_splat(2.08767569878680989792e-9);
    p = p * r + 2.50521083854417187751e-8;
    p = p * r + 2.75573192239858906526e-7;
    p = p * r + 2.75573192239858906526e-6;
    p = p * r + 2.48015873015873015873e-5;
    p = p * r + 1.98412698412698412698e-4;
    p = p * r + 1.38888888888888888889e-3;
    p = p * r + 8.33333333333333333333e-3;
    p = p * r + 4.16666666666666666667e-2;
    p = p * r + 1.66666666666666666667e-1;
    p = p * r + 0.5;
    p = p * (r * r) + r + 1.0;
    fl_vl n1 = (fl_vl)((fl_vq)(n + 2048) >> 1) - 1024;
    fl_vl n2 = n - n1;
    return (fl_vd)((fl_vl)(p * (fl_vd)((n1 + 1023) << 52) * (fl_vd)((n2 + 1023) << 52)) & ~tiny);
}

FL_INLINE double fl_row_max_f64(const double *x, ptrdiff_t n)
{
    fl_vd acc = fl_f64_splat(-INFINITY), acc1 = acc, acc2 = acc, acc3 = acc, v;
    ptrdiff_t j = 0;
    for (; j + 4 * FL_ND <= n; j += 4 * FL_ND) {
        v = fl_f64_load(x + j);
        acc = fl_f64_select(v > acc, v, acc);
        v = fl_f64_load(x + j + FL_ND);
        acc1 = fl_f64_select(v > acc1, v, acc1);
        v = fl_f64_load(x + j + 2 * FL_ND);
        acc2 = fl_f64_select(v > acc2, v, acc2);
        v = fl_f64_load(x + j + 3 * FL_ND);
        acc3 = fl_f64_select(v > acc3, v, acc3);
    }
    acc = fl_f64_select(acc1 > acc, acc1, acc);
    acc2 = fl_f64_select(acc3 > acc2, acc3, acc2);
    acc = fl_f64_select(acc2 > acc, acc2, acc);
    for (; j + FL_ND <= n; j += FL_ND) {
        v = fl_f64_load(x + j);
        acc = fl_f64_select(v > acc, v, acc);
    }
    if (j < n) {
        v = fl_f64_load_tail(x + j, n - j, -INFINITY);
        acc = fl_f64_select(v > acc, v, acc);
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
    fl_vd r = ed * 6.93147180369123816490e-1 + (2.0 * f + (2.0 * f * f2 * p + ed * 1.90821492927058770002e-10));
    return fl_f64_select(x != x, x, r);
}

/* out[k] = log(x[k]) for k < 8 (positive finite doubles or NaN). */
FL_INLINE void fl_log8_f64(const double *x, double *out)
{
    for (int k = 0; k < 8; k += FL_ND) fl_f64_store(out + k, fl_f64_log(fl_f64_load(x + k)));
}

FL_INLINE double fl_row_hinge_impl_f64(const double *s, double *g, ptrdiff_t n, ptrdiff_t y,
                                       double delta, double gs, const int squared, const int store)
{
    const fl_vl lane = fl_f64_lane_index();
    const double sy = s[y];
    fl_vd acc = {0}, aux = {0};
    fl_vl count = {0};
    for (ptrdiff_t j = 0; j < n; j += FL_ND) {
        const ptrdiff_t rem = n - j < FL_ND ? n - j : FL_ND;
        fl_vd v = rem == FL_ND ? fl_f64_load(s + j) : fl_f64_load_tail(s + j, rem, 0.0);
        fl_vd t = v - sy + delta;
        fl_vl drop = (t <= 0.0) | (lane == (int64_t)(y - j)) | (lane >= (int64_t)rem);
        fl_vd h = (fl_vd)((fl_vl)t & ~drop);
        fl_vl pos = h > 0.0;
        fl_vd gv;
        if (squared) {
            acc += h * h;
            aux += h;
            gv = (2.0 * gs) * h;
        } else {
            acc += h;
            count -= pos;
            gv = (fl_vd)((fl_vl)fl_f64_splat(gs) & pos);
        }
        if (store) {
            if (rem == FL_ND) fl_f64_store(g + j, gv);
            else fl_f64_store_tail(g + j, gv, rem);
        }
    }
    if (store) {
        double total_grad;
        if (squared) {
            total_grad = 2.0 * gs * fl_f64_hsum(aux);
        } else {
            int64_t c = 0;
            for (int k = 0; k < FL_ND; k++) c += count[k];
            total_grad = gs * (double)c;
        }
        g[y] = -total_grad;
    }
    return fl_f64_hsum(acc);
}

FL_INLINE double fl_row_hinge_f64(const double *s, double *g, ptrdiff_t n, ptrdiff_t y,
                                      double delta, int squared, double gs)
{
    if (squared)
        return g ? fl_row_hinge_impl_f64(s, g, n, y, delta, gs, 1, 1)
                 : fl_row_hinge_impl_f64(s, g, n, y, delta, gs, 1, 0);
    return g ? fl_row_hinge_impl_f64(s, g, n, y, delta, gs, 0, 1)
             : fl_row_hinge_impl_f64(s, g, n, y, delta, gs, 0, 0);
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
            aux += squared ? (double)h : (h > 0 ? 1.0 : 0.0);                               \
            if (g) g[j] = squared ? 2 * gs * h : (h > 0 ? gs : (T)0);                       \
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

#endif

#endif /* FASTLOSS_SIMD_ROWS_H */
