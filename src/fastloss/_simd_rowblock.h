/* Softmax work on a block of short rows at once: vectorised across rows.
 *
 * With few classes (C = 10, say) a row is less than one vector, and the
 * per-row path of _simd_rows.h spends most of its time on what every row
 * costs whatever its length: a horizontal max, a horizontal sum, a padded
 * tail.  Here a block of L rows (L = the lanes of one vector: 16 floats or 8
 * doubles with AVX-512) is handled together.  Its L·C contiguous elements
 * are exactly C vectors, so
 *
 *   - the row maxima come from C gathers, one per column, each giving that
 *     column of all L rows: an element-wise max over them is every row's max,
 *     with no horizontal step;
 *   - exp(s - max) runs over the C contiguous vectors, each lane's shift put
 *     in place by a permutation of the vector of maxima (element e of the
 *     block belongs to row e / C: the permutations are a table made once per
 *     call, fl_rows_perm_*);
 *   - the row sums are again C gathers, of the stored exponentials, added;
 *   - the gradient's scaling by each row's factor is the same permutation.
 *
 * The results per row are those of the per-row path up to the order of the
 * additions in the sum.  Without AVX2/AVX-512 (no gathers, no variable
 * permutations) the gathers and permutations are lane-by-lane loops: correct,
 * not faster, and the kernels do not take this path there (FL_ROWBLOCK_FAST).
 */
#ifndef FASTLOSS_SIMD_ROWBLOCK_H
#define FASTLOSS_SIMD_ROWBLOCK_H

#include "_simd_rows.h"

/* Widest C the block path takes (the Cython side sizes its buffers by it). */
#define FL_ROWBLOCK_MAX_C 64

#if defined(__GNUC__) || defined(__clang__)

#define FL_ROWS_F32 FL_NF /* rows per block */
#define FL_ROWS_F64 FL_ND
#if FL_X86 && (defined(__AVX512F__) || defined(__AVX2__))
#define FL_ROWBLOCK_FAST 1
#else
#define FL_ROWBLOCK_FAST 0
#endif

/* perm[j·L + k] = (j·L + k) / c: the row, within a block of L rows of c
 * columns, of lane k of the block's j-th vector.  c <= FL_ROWBLOCK_MAX_C. */
static inline void fl_rows_perm_f32(ptrdiff_t c, int32_t *perm)
{
    int32_t r = 0;
    for (ptrdiff_t e = 0, j = 0; e < c * FL_ROWS_F32; e++) {  /* no division: it costs more */
        perm[e] = r;
        if (++j == c) j = 0, r++;
    }
}

/* The same for doubles, as 64-bit lanes; with AVX2 each holds the pair of
 * 32-bit lane indices (2r, 2r + 1) that vpermps moves a double with. */
static inline void fl_rows_perm_f64(ptrdiff_t c, int64_t *perm)
{
    int64_t r = 0;
    for (ptrdiff_t e = 0, j = 0; e < c * FL_ROWS_F64; e++) {
#if FL_X86 && !defined(__AVX512F__) && defined(__AVX2__)
        perm[e] = (2 * r) | ((2 * r + 1) << 32);
#else
        perm[e] = r;
#endif
        if (++j == c) j = 0, r++;
    }
}

FL_INLINE fl_vf fl_f32_permute(fl_vf v, const int32_t *idx)
{
#if FL_X86 && defined(__AVX512F__)
    return (fl_vf)_mm512_permutexvar_ps(_mm512_loadu_si512((const void *)idx), (__m512)v);
#elif FL_X86 && defined(__AVX2__)
    return (fl_vf)_mm256_permutevar8x32_ps((__m256)v, _mm256_loadu_si256((const __m256i *)idx));
#else
    fl_vf o;
    for (int k = 0; k < FL_NF; k++) o[k] = v[idx[k]];
    return o;
#endif
}

FL_INLINE fl_vd fl_f64_permute(fl_vd v, const int64_t *idx)
{
#if FL_X86 && defined(__AVX512F__)
    return (fl_vd)_mm512_permutexvar_pd(_mm512_loadu_si512((const void *)idx), (__m512d)v);
#elif FL_X86 && defined(__AVX2__)
    return (fl_vd)_mm256_permutevar8x32_ps((__m256)v, _mm256_loadu_si256((const __m256i *)idx));
#else
    fl_vd o;
    for (int k = 0; k < FL_ND; k++) o[k] = v[idx[k]];
    return o;
#endif
}

/* x[idx[k]] in lane k. */
FL_INLINE fl_vf fl_f32_gather(const float *x, fl_vi idx)
{
#if FL_X86 && defined(__AVX512F__)
    return (fl_vf)_mm512_i32gather_ps((__m512i)idx, x, 4);
#elif FL_X86 && defined(__AVX2__)
    return (fl_vf)_mm256_i32gather_ps(x, (__m256i)idx, 4);
#else
    fl_vf o;
    for (int k = 0; k < FL_NF; k++) o[k] = x[idx[k]];
    return o;
#endif
}

typedef int32_t fl_vi_half __attribute__((vector_size(FL_VBYTES / 2)));

FL_INLINE fl_vd fl_f64_gather(const double *x, fl_vi_half idx)
{
#if FL_X86 && defined(__AVX512F__)
    return (fl_vd)_mm512_i32gather_pd((__m256i)idx, x, 8);
#elif FL_X86 && defined(__AVX2__)
    return (fl_vd)_mm256_i32gather_pd(x, (__m128i)idx, 8);
#else
    fl_vd o;
    for (int k = 0; k < FL_ND; k++) o[k] = x[idx[k]];
    return o;
#endif
}

/* A block of FL_ROWS_F32 rows of c columns starting at x (row stride c):
 * maxes[r] = max of row r, out[r·c + j] = exp(x[r·c + j] - maxes[r]) (out may
 * be x) and sums[r] = Σ_j out[r·c + j], in double.  perm from fl_rows_perm_f32.
 * NaNs may be skipped by the max; the exp propagates them. */
FL_INLINE void fl_rows_exp_sum_f32(const float *x, ptrdiff_t c, const int32_t *perm, float *out,
                                   float *maxes, double *sums)
{
    const fl_vi col = fl_f32_lane_index() * (int32_t)c;
    fl_vf m = fl_f32_splat(-INFINITY), m1 = m, v;
    ptrdiff_t k = 0;
    for (; k + 2 <= c; k += 2) {
        v = fl_f32_gather(x, col + (int32_t)k);
        m = fl_f32_max(v, m);
        v = fl_f32_gather(x, col + (int32_t)(k + 1));
        m1 = fl_f32_max(v, m1);
    }
    if (k < c) {
        v = fl_f32_gather(x, col + (int32_t)k);
        m = fl_f32_max(v, m);
    }
    m = fl_f32_max(m1, m);
    fl_f32_store(maxes, m);
    for (ptrdiff_t j = 0; j < c; j++)
        fl_f32_store(out + j * FL_NF,
                     fl_f32_exp(fl_f32_load(x + j * FL_NF) - fl_f32_permute(m, perm + j * FL_NF)));
    /* Column sums in double (as fl_row_exp_sum_f32: a float sum would round a
     * row's 1 + δ and the loss log(1 + δ) with it). */
    fl_vd lo = {0}, hi = {0};
    for (k = 0; k < c; k++) fl_f32_add_wide(fl_f32_gather(out, col + (int32_t)k), &lo, &hi);
    fl_f64_store(sums, lo);
    fl_f64_store(sums + FL_ND, hi);
}

/* g[r·c + j] *= factors[r] over a block of FL_ROWS_F32 rows. */
FL_INLINE void fl_rows_scale_f32(float *g, ptrdiff_t c, const int32_t *perm, const float *factors)
{
    const fl_vf f = fl_f32_load(factors);
    for (ptrdiff_t j = 0; j < c; j++)
        fl_f32_store(g + j * FL_NF, fl_f32_load(g + j * FL_NF) * fl_f32_permute(f, perm + j * FL_NF));
}

FL_INLINE void fl_rows_exp_sum_f64(const double *x, ptrdiff_t c, const int64_t *perm, double *out,
                                   double *maxes, double *sums, double *sums_m1)
{
    fl_vi_half col;
    for (int k = 0; k < FL_ND; k++) col[k] = k * (int32_t)c;
    fl_vd m = fl_f64_splat(-INFINITY), m1 = m, v;
    ptrdiff_t k = 0;
    for (; k + 2 <= c; k += 2) {
        v = fl_f64_gather(x, col + (int32_t)k);
        m = fl_f64_max(v, m);
        v = fl_f64_gather(x, col + (int32_t)(k + 1));
        m1 = fl_f64_max(v, m1);
    }
    if (k < c) {
        v = fl_f64_gather(x, col + (int32_t)k);
        m = fl_f64_max(v, m);
    }
    m = fl_f64_max(m1, m);
    fl_f64_store(maxes, m);
    for (ptrdiff_t j = 0; j < c; j++)
        fl_f64_store(out + j * FL_ND,
                     fl_f64_exp(fl_f64_load(x + j * FL_ND) - fl_f64_permute(m, perm + j * FL_ND)));
    /* Σ as (terms == 1) + (the others): see fl_row_exp_sum_split_f64 */
    const fl_vd one = fl_f64_splat(1.0), zero = {0};
    fl_vd rest = {0}, ones = {0};
    for (k = 0; k < c; k++) {
        v = fl_f64_gather(out, col + (int32_t)k);
        fl_vl is_one = v == one;
        rest += fl_f64_select(is_one, zero, v);
        ones += fl_f64_select(is_one, one, zero);
    }
    fl_f64_store(sums, ones + rest);
    fl_f64_store(sums_m1, (ones - 1.0) + rest);
}

FL_INLINE void fl_rows_scale_f64(double *g, ptrdiff_t c, const int64_t *perm, const double *factors)
{
    const fl_vd f = fl_f64_load(factors);
    for (ptrdiff_t j = 0; j < c; j++)
        fl_f64_store(g + j * FL_ND, fl_f64_load(g + j * FL_ND) * fl_f64_permute(f, perm + j * FL_ND));
}

/* Like fl_row_exp_sum_f64 -- out[j] = exp(x[j] - shift), out may be x or
 * NULL -- but returns the sum split as k + *rest: k terms exactly 1 (those
 * equal to the shift: the row's maxima, or the label's score) and the sum of
 * the others.  A row whose label has by far the top
 * score has a loss log(1 + rest) with rest tiny, and log of the rounded sum
 * would lose log's relative accuracy there; log1p((k - 1) + rest) keeps it. */
#if FL_X86 && defined(__AVX512F__)
/* min(710, v) for the AVX-512 fl_f64_exp, which does not clamp (see
 * FL_EXPF_CLAMP): exp overflows to +inf from 709.79 on; NaN stays */
#define FL_EXP_CLAMP(v) ((fl_vd)_mm512_min_pd(_mm512_set1_pd(710.0), (__m512d)(v)))
#else
#define FL_EXP_CLAMP(v) (v)      /* fl_f64_exp clamps */
#endif

/* clamp: x - shift may be positive (shift = the label's score, not the max) */
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
        e = fl_f64_exp(clamp ? FL_EXP_CLAMP(v) : v);
        if (store) fl_f64_store(out + j, e);
        is_one = e == one;
        acc += fl_f64_select(is_one, zero, e);
        ones += fl_f64_select(is_one, one, zero);
    }
    if (j < n) {
        v = fl_f64_load_tail(x + j, n - j, -INFINITY) - shift;
        e = fl_f64_exp(clamp ? FL_EXP_CLAMP(v) : v);
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

/* out[k] = log1p(t[k]) for 8 doubles t >= -1/2 (NaN propagates):
 * log(u) - ((u - 1) - t) / u with u = 1 + t, which corrects the rounding of u. */
FL_INLINE void fl_log1p8_f64(const double *t, double *out)
{
    for (int k = 0; k < 8; k += FL_ND) {
        fl_vd tv = fl_f64_load(t + k), u = tv + 1.0;
        fl_f64_store(out + k, fl_f64_log(u) - ((u - 1.0) - tv) / u);
    }
}

#else /* no GNU vector extensions: the per-row primitives, one row at a time */

#define FL_ROWS_F32 4
#define FL_ROWS_F64 4
#define FL_ROWBLOCK_FAST 0

static inline void fl_rows_perm_f32(ptrdiff_t c, int32_t *perm) { (void)c; (void)perm; }
static inline void fl_rows_perm_f64(ptrdiff_t c, int64_t *perm) { (void)c; (void)perm; }

static inline double fl_row_exp_sum_split_f64(const double *x, double shift, double *out,
                                              ptrdiff_t n, double *rest)
{
    double k = 0.0, others = 0.0;
    for (ptrdiff_t j = 0; j < n; j++) {
        double e = fl_exp(x[j] - shift);
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
    return fl_row_exp_sum_split_f64(x, x[y], out, n, rest);   /* fl_exp clamps */
}

static inline void fl_log1p8_f64(const double *t, double *out)
{
    for (int k = 0; k < 8; k++) out[k] = log1p(t[k]);
}

static inline void fl_rows_exp_sum_f32(const float *x, ptrdiff_t c, const int32_t *perm,
                                       float *out, float *maxes, double *sums)
{
    (void)perm;
    for (int r = 0; r < FL_ROWS_F32; r++) {
        maxes[r] = fl_row_max_f32(x + r * c, c);
        sums[r] = fl_row_exp_sum_f32(x + r * c, maxes[r], out + r * c, c);
    }
}

static inline void fl_rows_exp_sum_f64(const double *x, ptrdiff_t c, const int64_t *perm,
                                       double *out, double *maxes, double *sums, double *sums_m1)
{
    (void)perm;
    for (int r = 0; r < FL_ROWS_F64; r++) {
        double rest;
        maxes[r] = fl_row_max_f64(x + r * c, c);
        double k = fl_row_exp_sum_split_f64(x + r * c, maxes[r], out + r * c, c, &rest);
        sums[r] = k + rest;
        sums_m1[r] = (k - 1.0) + rest;
    }
}

#define FL_ROWS_SCALAR(T, SUF, PT)                                                          \
    static inline void fl_rows_scale_##SUF(T *g, ptrdiff_t c, const PT *perm, const T *f)   \
    {                                                                                       \
        (void)perm;                                                                         \
        for (int r = 0; r < FL_ROWS_##SUF; r++) fl_row_affine_##SUF(g + r * c, f[r], 0, g + r * c, c); \
    }
#define FL_ROWS_f32 FL_ROWS_F32
#define FL_ROWS_f64 FL_ROWS_F64
FL_ROWS_SCALAR(float, f32, int32_t)
FL_ROWS_SCALAR(double, f64, int64_t)

#endif

/* softmax_cross_entropy's plain case over rows i0 .. i0+nb-1 (nb <= 8): no
 * class or sample weights, no label smoothing, no ignore_index, the gradient
 * (grad may be NULL) not in place.  The same operations, in the same order,
 * as sce_block of _softmax.pxi with those options -- so the same results (up
 * to the sign of a NaN loss) -- without its per-row handling of them (4-10 %
 * of a 100-class row's time in interleaved runs):
 *   per row, exp(s - s_y) and its sum (the max shift when the sum exceeds
 *   max_sum or is not finite);
 *   one row later (see sce_block), the gradient g = gs·e/sum, g_y -= gs;
 *   then the block's logs and the row losses log(sum) + m - s_y (loss_out
 *   may be NULL).
 * Labels y are int64 (y64) or int32 and already checked.  Returns the block's
 * loss sum.  tests/test_softmax_cross_entropy.py holds it to the bits of the
 * general loop. */
static inline ptrdiff_t fl_label_at(const void *y, int y64, ptrdiff_t i)
{
    return y64 ? (ptrdiff_t)((const int64_t *)y)[i] : (ptrdiff_t)((const int32_t *)y)[i];
}

static inline void fl_sce_plain_row_f32(const float *s, ptrdiff_t yi, float *g, ptrdiff_t c,
                                        double gs, double max_sum, double *sum, double *base)
{
    const float sy = s[yi];
    const int finite = *sum <= max_sum;
    const float m = finite ? sy : fl_row_max_f32(s, c);
    *base = (double)m - (double)sy;
    if (!finite) *sum = fl_row_exp_sum_f32(s, m, g, c);
    if (g) {
        fl_row_affine_f32(g, (float)(gs / *sum), 0.0f, g, c);
        g[yi] -= (float)gs;
    }
}

static inline double fl_sce_plain_block_f32(const float *scores, const void *y, int y64,
                                            float *grad, float *loss_out, ptrdiff_t i0,
                                            ptrdiff_t nb, ptrdiff_t c, double gs, double max_sum)
{
    /* 1 <= nb <= 8: the block of fl_log8_f64 (ROW_BLOCK in _rowops.pxi) */
    double sums[8], logs[8], bases[8], total = 0.0;
    ptrdiff_t r;
    for (r = 0; r < 8; r++) sums[r] = 1.0;
    for (r = 0; r < nb; r++) {
        const ptrdiff_t i = i0 + r;
        sums[r] = fl_row_exp_sum_label_f32(scores + i * c, fl_label_at(y, y64, i),
                                           grad ? grad + i * c : NULL, c);
        if (r > 0)
            fl_sce_plain_row_f32(scores + (i - 1) * c, fl_label_at(y, y64, i - 1),
                                 grad ? grad + (i - 1) * c : NULL, c, gs, max_sum,
                                 &sums[r - 1], &bases[r - 1]);
    }
    fl_sce_plain_row_f32(scores + (i0 + nb - 1) * c, fl_label_at(y, y64, i0 + nb - 1),
                         grad ? grad + (i0 + nb - 1) * c : NULL, c, gs, max_sum,
                         &sums[nb - 1], &bases[nb - 1]);
    fl_log8_f64(sums, logs);
    for (r = 0; r < nb; r++) {
        const double row_loss = logs[r] + bases[r];
        total += row_loss;
        if (loss_out) loss_out[i0 + r] = (float)row_loss;
    }
    return total;
}

#endif /* FASTLOSS_SIMD_ROWBLOCK_H */
