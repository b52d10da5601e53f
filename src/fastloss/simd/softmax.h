/* Row primitives of the softmax family: max, exp-and-sum, affine maps.
 *
 * softmax, log_softmax and softmax_cross_entropy (kernels/softmax.pxi and the
 * block loops of sce.h) call these for the work inside one row.  Sums are
 * accumulated in double: a float partial sum would round 1 + δ (a row's
 * maximum and the small rest) to float, and the loss log(1 + δ) of a
 * confidently right row would lose its relative accuracy (6e-8 / δ).
 */
#ifndef FL_BITS
#ifndef FASTLOSS_SIMD_SOFTMAX_H
#define FASTLOSS_SIMD_SOFTMAX_H

#include "math.h"

#define FL_TEMPLATE "softmax.h"
#include "template.h"

#if FL_VECTORS

/* The rounding error of fl(a + b), exactly (Knuth's TwoSum; adds only, so
 * nothing for the compiler to fuse). */
FL_INLINE float fl_two_sum_err(float a, float b)
{
    const float s = a + b, bb = s - a, aa = s - bb;
    return (a - aa) + (b - bb);
}

/* out[j] = exp(x[j] - x[y]) (out may be NULL, not x); returns Σ_j out[j] in double.
 *
 * The shift by the label's score makes out[y] exactly 1 (exp(0)), so the sum
 * is 1 + Σ_{j≠y}, and the loss log(1 + Σ_{j≠y}) of a confidently right row
 * needs the small rest to its own relative accuracy.  Here groups of four
 * vectors are added in float, as (e0 + e1) + (e2 + e3), before they are
 * widened to double (one widening, the costly part, per four vectors; then at
 * most one pair): a group's sum is rounded twice, 1.2e-7 relative to itself,
 * except in the lane of the label's 1, where the roundings of 1 + (its
 * partner) and of that + (the other pair) would swamp a small rest.  Those
 * two rounding errors are found afterwards, exactly, by TwoSum on the stored
 * terms (read back from out, or from the group kept apart without out), and
 * added back.
 *
 * Unlike s - max, x - x[y] may be positive: the exp gets min(x, 89) (exp
 * overflows to +inf from 88.73 on), and the caller takes the max shift for a
 * row whose sum is not finite (or too large: see sce.h). */
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
        e0 = fl_f32_exp(fl_f32_exp_clamp(fl_f32_load(x + j) - shift));
        e1 = fl_f32_exp(fl_f32_exp_clamp(fl_f32_load(x + j + FL_NF) - shift));
        e2 = fl_f32_exp(fl_f32_exp_clamp(fl_f32_load(x + j + 2 * FL_NF) - shift));
        e3 = fl_f32_exp(fl_f32_exp_clamp(fl_f32_load(x + j + 3 * FL_NF) - shift));
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
        e0 = fl_f32_exp(fl_f32_exp_clamp(fl_f32_load(x + j) - shift));
        e1 = fl_f32_exp(fl_f32_exp_clamp(fl_f32_load(x + j + FL_NF) - shift));
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
        e0 = fl_f32_exp(fl_f32_exp_clamp(fl_f32_load(x + j) - shift));
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
        e0 = fl_f32_exp(fl_f32_exp_clamp(fl_f32_load_tail(x + j, n - j, -INFINITY) - shift));
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

/* Like fl_row_exp_sum_f64 -- out[j] = exp(x[j] - shift), out may be x or
 * NULL -- but returns the sum split as k + *rest: k terms exactly 1 (those
 * equal to the shift: the row's maxima, or the label's score) and the sum of
 * the others.  A row whose label has by far the top score has a loss
 * log(1 + rest) with rest tiny, and log of the rounded sum would lose log's
 * relative accuracy there; log1p((k - 1) + rest) keeps it.  clamp: x - shift
 * may be positive (shift = the label's score, not the max). */
FL_INLINE double fl_row_exp_sum_split_impl_f64(const double *x, double shift, double *out,
                                               ptrdiff_t n, double *rest, const int store,
                                               const int clamp)
{
    const fl_vd one = fl_f64_splat(1.0), zero = {0};
    fl_vd acc = {0}, ones = {0}, e, v;
    fl_vl is_one;
    ptrdiff_t j = 0;
    for (; j + FL_ND <= n; j += FL_ND) {
        v = fl_f64_load(x + j) - shift;
        e = fl_f64_exp(clamp ? fl_f64_exp_clamp(v) : v);
        if (store) fl_f64_store(out + j, e);
        is_one = e == one;
        acc += fl_f64_select(is_one, zero, e);
        ones += fl_f64_select(is_one, one, zero);
    }
    if (j < n) {
        v = fl_f64_load_tail(x + j, n - j, -INFINITY) - shift;
        e = fl_f64_exp(clamp ? fl_f64_exp_clamp(v) : v);
        if (store) fl_f64_store_tail(out + j, e, n - j);
        is_one = e == one;
        acc += fl_f64_select(is_one, zero, e);
        ones += fl_f64_select(is_one, one, zero);
    }
    *rest = fl_f64_hsum(acc);
    return fl_f64_hsum(ones);
}

FL_INLINE double fl_row_exp_sum_split_f64(const double *x, double shift, double *out, ptrdiff_t n,
                                          double *rest)
{
    return out ? fl_row_exp_sum_split_impl_f64(x, shift, out, n, rest, 1, 0)
               : fl_row_exp_sum_split_impl_f64(x, shift, out, n, rest, 0, 0);
}

/* The same with shift = x[y], the label's score (see fl_row_exp_sum_label_f32):
 * no term needs to be at most 1 here.  A score more than ~709.78 above x[y]
 * gives +inf. */
FL_INLINE double fl_row_exp_sum_split_label_f64(const double *x, ptrdiff_t y, double *out,
                                                ptrdiff_t n, double *rest)
{
    return out ? fl_row_exp_sum_split_impl_f64(x, x[y], out, n, rest, 1, 1)
               : fl_row_exp_sum_split_impl_f64(x, x[y], out, n, rest, 0, 1);
}

#else /* scalar */

static inline double fl_row_exp_sum_label_f32(const float *x, ptrdiff_t y, float *out, ptrdiff_t n)
{
    return fl_row_exp_sum_f32(x, x[y], out, n);   /* every term in double; exp1 clamps */
}

static inline double fl_row_exp_sum_split_f64(const double *x, double shift, double *out,
                                              ptrdiff_t n, double *rest)
{
    double k = 0.0, others = 0.0;
    for (ptrdiff_t j = 0; j < n; j++) {
        double e = fl_exp1_f64(x[j] - shift);
        if (out) out[j] = e;
        if (e == 1.0) k += 1.0;
        else others += e;
    }
    *rest = others;
    return k;
}

static inline double fl_row_exp_sum_split_label_f64(const double *x, ptrdiff_t y, double *out,
                                                    ptrdiff_t n, double *rest)
{
    return fl_row_exp_sum_split_f64(x, x[y], out, n, rest);   /* exp1 clamps */
}

#endif /* FL_VECTORS */

#define FL_TEMPLATE "softmax.h"
#define FL_SOFTMAX_SECOND_PART 1
#include "template.h"
#undef FL_SOFTMAX_SECOND_PART

#endif /* FASTLOSS_SIMD_SOFTMAX_H */

#elif !defined(FL_SOFTMAX_SECOND_PART) /* FL_BITS, first part: the per-dtype primitives */

#if FL_VECTORS

/* max_j x[j], n >= 1.  NaNs may be skipped: the callers' next pass propagates them. */
FL_INLINE FL_T FL_FN(row_max)(const FL_T *x, ptrdiff_t n)
{
    FL_V acc = FL_OP(splat)(-INFINITY), acc1 = acc, acc2 = acc, acc3 = acc, v;
    ptrdiff_t j = 0;
    /* four independent chains: a max has a latency of several cycles */
    for (; j + 4 * FL_N <= n; j += 4 * FL_N) {
        v = FL_OP(load)(x + j);
        acc = FL_OP(max)(v, acc);
        v = FL_OP(load)(x + j + FL_N);
        acc1 = FL_OP(max)(v, acc1);
        v = FL_OP(load)(x + j + 2 * FL_N);
        acc2 = FL_OP(max)(v, acc2);
        v = FL_OP(load)(x + j + 3 * FL_N);
        acc3 = FL_OP(max)(v, acc3);
    }
    acc = FL_OP(max)(acc1, acc);
    acc2 = FL_OP(max)(acc3, acc2);
    acc = FL_OP(max)(acc2, acc);
    for (; j + FL_N <= n; j += FL_N) {
        v = FL_OP(load)(x + j);
        acc = FL_OP(max)(v, acc);
    }
    if (j < n) {
        v = FL_OP(load_tail)(x + j, n - j, -INFINITY);
        acc = FL_OP(max)(v, acc);
    }
    return FL_OP(hmax)(acc);
}

/* out[j] = exp(x[j] - shift) (out may be x); returns Σ_j out[j] in double. */
FL_INLINE double FL_FN(row_exp_sum_impl)(const FL_T *x, FL_T shift, FL_T *out, ptrdiff_t n,
                                         const int store)
{
    fl_vd acc_lo = {0}, acc_hi = {0};
    FL_V e;
    ptrdiff_t j = 0;
    for (; j + FL_N <= n; j += FL_N) {
        e = FL_OP(exp)(FL_OP(load)(x + j) - shift);
        if (store) FL_OP(store)(out + j, e);
        FL_OP(add_wide)(e, &acc_lo, &acc_hi);
    }
#if FL_BITS == 32 && FL_X86 && defined(__AVX512F__)
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
        e = FL_OP(exp)(FL_OP(load_tail)(x + j, n - j, -INFINITY) - shift);
        if (store) FL_OP(store_tail)(out + j, e, n - j);
        FL_OP(add_wide)(e, &acc_lo, &acc_hi);
    }
    return fl_f64_hsum(acc_lo + acc_hi);
}

/* With out == NULL nothing is stored. */
FL_INLINE double FL_FN(row_exp_sum)(const FL_T *x, FL_T shift, FL_T *out, ptrdiff_t n)
{
    return out ? FL_FN(row_exp_sum_impl)(x, shift, out, n, 1)
               : FL_FN(row_exp_sum_impl)(x, shift, out, n, 0);
}

/* out[j] = x[j] * a + b (out may be x). */
FL_INLINE void FL_FN(row_affine)(const FL_T *x, FL_T a, FL_T b, FL_T *out, ptrdiff_t n)
{
    ptrdiff_t j = 0;
    for (; j + FL_N <= n; j += FL_N) FL_OP(store)(out + j, FL_OP(load)(x + j) * a + b);
    if (j < n) FL_OP(store_tail)(out + j, FL_OP(load_tail)(x + j, n - j, 0) * a + b, n - j);
}

#else /* scalar */

static inline FL_T FL_FN(row_max)(const FL_T *x, ptrdiff_t n)
{
    FL_T m = -INFINITY;
    for (ptrdiff_t j = 0; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

static inline double FL_FN(row_exp_sum)(const FL_T *x, FL_T shift, FL_T *out, ptrdiff_t n)
{
    double total = 0.0;
    for (ptrdiff_t j = 0; j < n; j++) {
        FL_T e = FL_FN(exp1)(x[j] - shift);
        if (out) out[j] = e;
        total += e;
    }
    return total;
}

static inline void FL_FN(row_affine)(const FL_T *x, FL_T a, FL_T b, FL_T *out, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++) out[j] = x[j] * a + b;
}

#endif /* FL_VECTORS */

#else /* FL_BITS, second part: what both dtypes build on the parts above */

/* g[j] = exp(s[j] - shift) (g may be s or NULL), the shift m, or with by_label
 * (a compile-time constant) the label's score s[y]; *total = Σ_j, and for
 * float64 *total_m1 = Σ_j - 1 with the terms equal to 1 (the shift's own)
 * summed apart from the others, for log1p (see fl_row_exp_sum_split_f64). */
FL_INLINE void FL_FN(row_exp_sums)(const FL_T *s, FL_T m, ptrdiff_t y, FL_T *g, ptrdiff_t c,
                                   double *total, double *total_m1, const int by_label)
{
#if FL_BITS == 32
    (void)total_m1;
    *total = by_label ? fl_row_exp_sum_label_f32(s, y, g, c) : fl_row_exp_sum_f32(s, m, g, c);
#else
    double rest, ones = by_label ? fl_row_exp_sum_split_label_f64(s, y, g, c, &rest)
                                 : fl_row_exp_sum_split_f64(s, m, g, c, &rest);
    *total = ones + rest;
    *total_m1 = (ones - 1.0) + rest;
#endif
}

/* logs[k] = log of 8 sums: log(total) in float32, log1p(total_m1) in float64
 * (exact for a dominant class, see row_exp_sums). */
FL_INLINE void FL_FN(log8_sums)(const double *totals, const double *totals_m1, double *logs)
{
#if FL_BITS == 32
    (void)totals_m1;
    fl_log8_f64(totals, logs);
#else
    (void)totals;
    fl_log1p8_f64(totals_m1, logs);
#endif
}

/* Σ_j w[j] · (x[j] - shift) in double (w = NULL means all ones), in 16
 * independent partial sums (so gcc vectorises it).  Shifting by the row
 * maximum first keeps the sum well conditioned for huge logits. */
static inline double FL_FN(row_shifted_sum)(const FL_T *x, double shift, const double *w,
                                            ptrdiff_t n)
{
    double acc[16], total;
    ptrdiff_t b, j, k, nv = n - n % 16;
    for (k = 0; k < 16; k++) acc[k] = 0.0;
    /* two loops, not a select in one: gcc vectorises neither inlined in the
     * softmax-CE loop otherwise (1·d adds exactly what d does) */
    if (w == NULL) {
        for (b = 0; b < nv / 16; b++) {
            j = b * 16;
            for (k = 0; k < 16; k++) acc[k] += (double)x[j + k] - shift;
        }
    } else {
        for (b = 0; b < nv / 16; b++) {
            j = b * 16;
            for (k = 0; k < 16; k++) acc[k] += w[j + k] * ((double)x[j + k] - shift);
        }
    }
    total = 0.0;
    for (k = 0; k < 16; k++) total += acc[k];
    for (j = nv; j < n; j++) total += (w != NULL ? w[j] : 1.0) * ((double)x[j] - shift);
    return total;
}

#endif /* FL_BITS */
