/* Softmax work on a block of short rows at once: vectorised across rows.
 *
 * With few classes (C = 10, say) a row is less than one vector, and the
 * per-row primitives of softmax.h spend most of their time on what every row
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
#ifndef FL_BITS
#ifndef FASTLOSS_SIMD_ROWBLOCK_H
#define FASTLOSS_SIMD_ROWBLOCK_H

#include "softmax.h"

/* Widest C the block path takes (the permutation tables are sized by it). */
#define FL_ROWBLOCK_MAX_C 64

#if FL_VECTORS

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

/* Column offsets of a gather: int32 lanes, as many as the vector has elements. */
typedef int32_t fl_vi_half __attribute__((vector_size(FL_VBYTES / 2)));
#define FL_COLS_32 fl_vi
#define FL_COLS_64 fl_vi_half
#define FL_COLS FL_CAT(FL_COLS_, FL_BITS)
#define FL_GATHER_IDX512_32 __m512i   /* their intrinsics' type */
#define FL_GATHER_IDX512_64 __m256i
#define FL_GATHER_IDX256_32 __m256i
#define FL_GATHER_IDX256_64 __m128i

#else /* scalar: the per-row primitives, one row at a time */

#define FL_ROWS_F32 4
#define FL_ROWS_F64 4
#define FL_ROWBLOCK_FAST 0

static inline void fl_rows_perm_f32(ptrdiff_t c, int32_t *perm) { (void)c; (void)perm; }
static inline void fl_rows_perm_f64(ptrdiff_t c, int64_t *perm) { (void)c; (void)perm; }

#endif /* FL_VECTORS */

#define FL_ROWS FL_CAT(FL_ROWS_F, FL_BITS)
#define FL_TEMPLATE "rowblock.h"
#include "template.h"

#endif /* FASTLOSS_SIMD_ROWBLOCK_H */

#else /* FL_BITS: the body of template.h's two passes */

#if FL_VECTORS

/* v[idx[k]] in lane k: a variable permutation (the AVX2 float64 table holds
 * the pairs of float lanes that move a double, see fl_rows_perm_f64). */
FL_INLINE FL_V FL_OP(permute)(FL_V v, const FL_IT *idx)
{
#if FL_X86 && defined(__AVX512F__)
    return (FL_V)FL_MM(_mm512_permutexvar_p)(_mm512_loadu_si512((const void *)idx), (FL_M512)v);
#elif FL_X86 && defined(__AVX2__)
    return (FL_V)_mm256_permutevar8x32_ps((__m256)v, _mm256_loadu_si256((const __m256i *)idx));
#else
    FL_V o;
    for (int k = 0; k < FL_N; k++) o[k] = v[idx[k]];
    return o;
#endif
}

/* x[idx[k]] in lane k. */
FL_INLINE FL_V FL_OP(gather)(const FL_T *x, FL_COLS idx)
{
#if FL_X86 && defined(__AVX512F__)
    return (FL_V)FL_MM(_mm512_i32gather_p)((FL_CAT(FL_GATHER_IDX512_, FL_BITS))idx, x, sizeof(FL_T));
#elif FL_X86 && defined(__AVX2__)
    return (FL_V)FL_MM(_mm256_i32gather_p)(x, (FL_CAT(FL_GATHER_IDX256_, FL_BITS))idx,
                                            sizeof(FL_T));
#else
    FL_V o;
    for (int k = 0; k < FL_N; k++) o[k] = x[idx[k]];
    return o;
#endif
}

/* A block of FL_ROWS rows of c columns starting at x (row stride c):
 * maxes[r] = max of row r, out[r·c + j] = exp(x[r·c + j] - maxes[r]) (out may
 * be x) and sums[r] = Σ_j out[r·c + j] in double (float64: also sums_m1[r] =
 * sums[r] - 1 with the terms equal to 1 counted apart, for log1p; see
 * fl_row_exp_sum_split_f64).  perm from fl_rows_perm_*.  NaNs may be skipped by
 * the max; the exp propagates them. */
FL_INLINE void FL_FN(rows_exp_sum)(const FL_T *x, ptrdiff_t c, const FL_IT *perm, FL_T *out,
                                   FL_T *maxes, double *sums, double *sums_m1)
{
    FL_COLS col;
    for (int k = 0; k < FL_N; k++) col[k] = k * (int32_t)c;
    FL_V m = FL_OP(splat)(-INFINITY), m1 = m, v;
    ptrdiff_t k = 0;
    for (; k + 2 <= c; k += 2) {
        v = FL_OP(gather)(x, col + (int32_t)k);
        m = FL_OP(max)(v, m);
        v = FL_OP(gather)(x, col + (int32_t)(k + 1));
        m1 = FL_OP(max)(v, m1);
    }
    if (k < c) {
        v = FL_OP(gather)(x, col + (int32_t)k);
        m = FL_OP(max)(v, m);
    }
    m = FL_OP(max)(m1, m);
    FL_OP(store)(maxes, m);
    for (ptrdiff_t j = 0; j < c; j++)
        FL_OP(store)(out + j * FL_N,
                     FL_OP(exp)(FL_OP(load)(x + j * FL_N) - FL_OP(permute)(m, perm + j * FL_N)));
#if FL_BITS == 32
    /* column sums in double (see fl_row_exp_sum_f32) */
    (void)sums_m1;
    fl_vd lo = {0}, hi = {0};
    for (k = 0; k < c; k++) fl_f32_add_wide(fl_f32_gather(out, col + (int32_t)k), &lo, &hi);
    fl_f64_store(sums, lo);
    fl_f64_store(sums + FL_ND, hi);
#else
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
#endif
}

/* g[r·c + j] *= factors[r] over a block of FL_ROWS rows. */
FL_INLINE void FL_FN(rows_scale)(FL_T *g, ptrdiff_t c, const FL_IT *perm, const FL_T *factors)
{
    const FL_V f = FL_OP(load)(factors);
    for (ptrdiff_t j = 0; j < c; j++)
        FL_OP(store)(g + j * FL_N, FL_OP(load)(g + j * FL_N) * FL_OP(permute)(f, perm + j * FL_N));
}

#else /* scalar */

static inline void FL_FN(rows_exp_sum)(const FL_T *x, ptrdiff_t c, const FL_IT *perm, FL_T *out,
                                       FL_T *maxes, double *sums, double *sums_m1)
{
    (void)perm;
    for (int r = 0; r < FL_ROWS; r++) {
        maxes[r] = FL_FN(row_max)(x + r * c, c);
        FL_FN(row_exp_sums)(x + r * c, maxes[r], 0, out + r * c, c, &sums[r], &sums_m1[r], 0);
    }
}

static inline void FL_FN(rows_scale)(FL_T *g, ptrdiff_t c, const FL_IT *perm, const FL_T *f)
{
    (void)perm;
    for (int r = 0; r < FL_ROWS; r++) FL_FN(row_affine)(g + r * c, f[r], 0, g + r * c, c);
}

#endif /* FL_VECTORS */

#endif /* FL_BITS */
