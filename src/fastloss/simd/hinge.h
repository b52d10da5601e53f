/* Row primitives of the multiclass hinge losses: Weston–Watkins and Crammer–Singer.
 *
 * kernels/hinge.pxi loops over rows and calls these for the work inside one.
 * The label's own lane is masked, not skipped, so the whole row runs in
 * vector blocks and stays exact for infinite and NaN scores.  Sums are
 * accumulated in double.
 */
#ifndef FL_BITS
#ifndef FASTLOSS_SIMD_HINGE_H
#define FASTLOSS_SIMD_HINGE_H

#include "vec.h"

#if FL_VECTORS
/* acc_lo, acc_hi += a block pair h, u of hinge terms: float32 adds the pair in
 * float (one rounding, < 6e-8 relative, the terms being >= 0) and widens it
 * once; float64 keeps two accumulators. */
FL_INLINE void fl_f32_add_pair(fl_vf h, fl_vf u, fl_vd *acc_lo, fl_vd *acc_hi)
{
    fl_f32_add_wide(h + u, acc_lo, acc_hi);
}

FL_INLINE void fl_f64_add_pair(fl_vd h, fl_vd u, fl_vd *acc_lo, fl_vd *acc_hi)
{
    *acc_lo += h;
    *acc_hi += u;
}
#endif

#define FL_TEMPLATE "hinge.h"
#include "template.h"

#endif /* FASTLOSS_SIMD_HINGE_H */

#else /* FL_BITS: the body of template.h's two passes */

#if FL_VECTORS

/* Weston–Watkins hinge terms of one row: returns Σ_{j≠y} h_j (or h_j²),
 * h_j = max(0, s_j - s_y + Δ) with NaN kept.  With store, writes the row's
 * gradient scaled by gs into g: g_j = gs·[h_j > 0] (or 2·gs·h_j),
 * g_y = -Σ_{j≠y} g_j.  g may be s.  This is the squared case; row_hinge_lin
 * below the plain one. */
FL_INLINE double FL_FN(row_hinge_sq)(const FL_T *s, FL_T *g, ptrdiff_t n, ptrdiff_t y,
                                     FL_T delta, FL_T gs, const int store)
{
    const FL_VM lane = FL_OP(lane_index)();
    const FL_T sy = s[y];
    fl_vd acc_lo = {0}, acc_hi = {0}, aux_lo = {0}, aux_hi = {0};
    for (ptrdiff_t j = 0; j < n; j += FL_N) {
        const ptrdiff_t rem = n - j < FL_N ? n - j : FL_N;
        FL_V v = FL_OP(load_part)(s + j, rem, 0);
        FL_V t = v - sy + delta;
        FL_VM drop = (t <= 0) | (lane == (FL_IT)(y - j)) | (lane >= (FL_IT)rem);
        FL_V h = (FL_V)((FL_VM)t & ~drop);
        FL_OP(add_wide)(h * h, &acc_lo, &acc_hi);
        FL_OP(add_wide)(h, &aux_lo, &aux_hi);
        if (store) {
            FL_V gv = ((FL_T)2 * gs) * h;
            FL_OP(store_part)(g + j, gv, rem);
        }
    }
    if (store) g[y] = (FL_T)(-2.0 * gs * fl_f64_hsum(aux_lo + aux_hi));
    return fl_f64_hsum(acc_lo + acc_hi);
}

/* The plain (not squared) hinge row, the default and the hot one.  Instead of a
 * second sum of the indicators it counts the lanes with h_j > 0 (g_y = -gs·count,
 * or NaN if some h_j is NaN, which is exactly when the loss is NaN: every h_j is
 * >= 0 or NaN).  Blocks go in pairs (see fl_f32_add_pair). */
#if FL_X86 && defined(__AVX512F__)
/* AVX-512: the lane masks stay in mask registers.  keep: the lanes that count
 * (not the label, not past the row's end); a lane counts where h > 0 or NaN (NLE_UQ). */
FL_INLINE FL_V FL_OP(hinge_block512)(FL_V v, FL_V syv, FL_V dv, FL_V gsv, FL_MASK512 keep,
                                     FL_T *g, FL_MASK512 live, const int store, unsigned *cnt)
{
    FL_M512 t = FL_MM(_mm512_add_p)(FL_MM(_mm512_sub_p)((FL_M512)v, (FL_M512)syv), (FL_M512)dv);
    FL_MASK512 ok = FL_MM_(_mm512_mask_cmp_p, _mask)(keep, t, FL_MM(_mm512_setzero_p)(),
                                                     _CMP_NLE_UQ);
    *cnt += (unsigned)__builtin_popcount((unsigned)ok);
    if (store) {
        /* gs, or NaN where t is NaN (t·inf is +inf or NaN; MINPS returns its
         * second operand when one is NaN) */
        FL_M512 gv = FL_MM(_mm512_maskz_min_p)(ok, (FL_M512)gsv,
                                               FL_MM(_mm512_mul_p)(t, FL_MM(_mm512_set1_p)(INFINITY)));
        if (live == (FL_MASK512)~0u) FL_MM(_mm512_storeu_p)(g, gv);
        else FL_MM(_mm512_mask_storeu_p)(g, live, gv);
    }
    return (FL_V)FL_MM(_mm512_maskz_mov_p)(ok, t);
}

/* all lanes but the label's, for the block starting at j */
#define FL_HINGE_KEEP(y, j) \
    ((FL_MASK512) ~((size_t)((y) - (j)) < FL_N ? 1u << ((y) - (j)) : 0u))

FL_INLINE double FL_FN(row_hinge_lin)(const FL_T *s, FL_T *g, ptrdiff_t n, ptrdiff_t y,
                                      FL_T delta, FL_T gs, const int store)
{
    const FL_V syv = FL_OP(splat)(s[y]), dv = FL_OP(splat)(delta), gsv = FL_OP(splat)(gs);
    const FL_MASK512 all = (FL_MASK512)~0u;
    fl_vd acc_lo = {0}, acc_hi = {0};
    unsigned cnt = 0;
    ptrdiff_t j = 0;
    for (; j + 2 * FL_N <= n; j += 2 * FL_N) {
        FL_V h = FL_OP(hinge_block512)(FL_OP(load)(s + j), syv, dv, gsv, FL_HINGE_KEEP(y, j),
                                       g + j, all, store, &cnt);
        FL_V u = FL_OP(hinge_block512)(FL_OP(load)(s + j + FL_N), syv, dv, gsv,
                                       FL_HINGE_KEEP(y, j + FL_N), g + j + FL_N, all, store, &cnt);
        FL_OP(add_pair)(h, u, &acc_lo, &acc_hi);
    }
    for (; j < n; j += FL_N) {
        const FL_MASK512 live = n - j >= FL_N ? all : (FL_MASK512)((1u << (n - j)) - 1u);
        FL_V h = FL_OP(hinge_block512)((FL_V)FL_MM(_mm512_maskz_loadu_p)(live, s + j), syv, dv,
                                       gsv, FL_HINGE_KEEP(y, j) & live, g + j, live, store, &cnt);
        FL_OP(add_wide)(h, &acc_lo, &acc_hi);
    }
    const double loss = fl_f64_hsum(acc_lo + acc_hi);
    if (store) g[y] = loss == loss ? (FL_T)(-(double)gs * cnt) : (FL_T)loss;
    return loss;
}
#undef FL_HINGE_KEEP
#else
/* One block: returns h (NaN kept, 0 where dropped); *gv = gs·[h > 0], NaN where
 * h is; *cnt -= 1 in the lanes that count (h > 0 or NaN). */
FL_INLINE FL_V FL_OP(hinge_block)(FL_V v, FL_V sy, FL_V delta, FL_V gs, FL_VM keep, FL_V *gv,
                                  FL_VM *cnt)
{
    FL_V t = v - sy + delta;
    FL_VM ok = ~(t <= 0) & keep;
    *cnt += ok;
    *gv = (FL_V)((FL_VM)FL_OP(select)(t != t, t, gs) & ok);
    return (FL_V)((FL_VM)t & ok);
}

FL_INLINE double FL_FN(row_hinge_lin)(const FL_T *s, FL_T *g, ptrdiff_t n, ptrdiff_t y,
                                      FL_T delta, FL_T gs, const int store)
{
    const FL_VM lane = FL_OP(lane_index)();
    const FL_V syv = FL_OP(splat)(s[y]), dv = FL_OP(splat)(delta), gsv = FL_OP(splat)(gs);
    fl_vd acc_lo = {0}, acc_hi = {0};
    FL_V gv, gu;
    FL_VM cnt = {0};
    ptrdiff_t j = 0;
    for (; j + 2 * FL_N <= n; j += 2 * FL_N) {
        FL_V h = FL_OP(hinge_block)(FL_OP(load)(s + j), syv, dv, gsv, lane != (FL_IT)(y - j),
                                    &gv, &cnt);
        FL_V u = FL_OP(hinge_block)(FL_OP(load)(s + j + FL_N), syv, dv, gsv,
                                    lane != (FL_IT)(y - j - FL_N), &gu, &cnt);
        FL_OP(add_pair)(h, u, &acc_lo, &acc_hi);
        if (store) {
            FL_OP(store)(g + j, gv);
            FL_OP(store)(g + j + FL_N, gu);
        }
    }
    for (; j < n; j += FL_N) {
        const ptrdiff_t rem = n - j < FL_N ? n - j : FL_N;
        FL_V v = FL_OP(load_part)(s + j, rem, 0);
        FL_V h = FL_OP(hinge_block)(v, syv, dv, gsv,
                                    (lane != (FL_IT)(y - j)) & (lane < (FL_IT)rem), &gv, &cnt);
        FL_OP(add_wide)(h, &acc_lo, &acc_hi);
        if (store) {
            FL_OP(store_part)(g + j, gv, rem);
        }
    }
    const double loss = fl_f64_hsum(acc_lo + acc_hi);
    if (store) {
        FL_IT count = 0;
        for (int k = 0; k < FL_N; k++) count -= cnt[k];
        g[y] = loss == loss ? (FL_T)(-(double)gs * (double)count) : (FL_T)loss;
    }
    return loss;
}
#endif

/* One row, the variant picked at run time.  Not inlined: the row loop of
 * kernels/hinge.pxi stays small, which matters for short rows (see
 * docs/performance-notes.md). */
static __attribute__((noinline, unused)) double FL_FN(row_hinge)(const FL_T *s, FL_T *g, ptrdiff_t n,
                                                         ptrdiff_t y, FL_T delta, int squared,
                                                         FL_T gs)
{
    if (squared)
        return g ? FL_FN(row_hinge_sq)(s, g, n, y, delta, gs, 1)
                 : FL_FN(row_hinge_sq)(s, g, n, y, delta, gs, 0);
    return g ? FL_FN(row_hinge_lin)(s, g, n, y, delta, gs, 1)
             : FL_FN(row_hinge_lin)(s, g, n, y, delta, gs, 0);
}

/* Crammer–Singer: the lowest index of max_{j≠y} s_j, or -1 if no s_j (j≠y) exceeds -inf.
 * Sets *has_nan = 1 if the row holds a NaN (else leaves it).  Two passes over the row
 * (it is in L1 for the second): a vector max, then the first lane equal to it. */
FL_INLINE ptrdiff_t FL_FN(row_argmax_excl)(const FL_T *s, ptrdiff_t n, ptrdiff_t y, int *has_nan)
{
    const FL_VM lane = FL_OP(lane_index)();
    const FL_V ninf = FL_OP(splat)(-INFINITY);
    FL_V best = ninf, best1 = ninf;
    FL_VM nan = {0};
    ptrdiff_t j = 0;
    for (; j + 2 * FL_N <= n; j += 2 * FL_N) {
        FL_V v = FL_OP(load)(s + j), u = FL_OP(load)(s + j + FL_N);
        nan |= (v != v) | (u != u);
        v = FL_OP(select)(lane == (FL_IT)(y - j), ninf, v);
        u = FL_OP(select)(lane == (FL_IT)(y - j - FL_N), ninf, u);
        best = FL_OP(max)(v, best);
        best1 = FL_OP(max)(u, best1);
    }
    for (; j < n; j += FL_N) {
        FL_V v = n - j >= FL_N ? FL_OP(load)(s + j) : FL_OP(load_tail)(s + j, n - j, -INFINITY);
        nan |= v != v;
        v = FL_OP(select)(lane == (FL_IT)(y - j), ninf, v);
        best = FL_OP(max)(v, best);
    }
    best = FL_OP(max)(best1, best);
    if (FL_OP(mask_bits)(nan)) *has_nan = 1;
    const FL_T m = FL_OP(hmax)(best);
    if (!(m > -INFINITY)) return -1;
    for (j = 0; j < n; j += FL_N) {
        const ptrdiff_t rem = n - j < FL_N ? n - j : FL_N;
        FL_V v = FL_OP(load_part)(s + j, rem, -INFINITY);
        unsigned bits = FL_OP(mask_bits)((v == m) & (lane != (FL_IT)(y - j)));
        if (bits) return j + __builtin_ctz(bits);
    }
    return -1; /* not reached */
}

#else /* scalar: the same results up to rounding */

static inline double FL_FN(row_hinge)(const FL_T *s, FL_T *g, ptrdiff_t n, ptrdiff_t y,
                                      FL_T delta, int squared, FL_T gs)
{
    const FL_T sy = s[y];
    double total = 0.0, aux = 0.0;
    for (ptrdiff_t j = 0; j < n; j++) {
        FL_T t = s[j] - sy + delta;
        FL_T h = (t <= 0 || j == y) ? (FL_T)0 : t;
        total += squared ? (double)h * h : (double)h;
        aux += squared ? (double)h : (h != h ? (double)h : h > 0 ? 1.0 : 0.0);
        if (g) g[j] = squared ? 2 * gs * h : (h != h ? h : h > 0 ? gs : (FL_T)0);
    }
    if (g) g[y] = (FL_T)(-(squared ? 2.0 : 1.0) * gs * aux);
    return total;
}

static inline ptrdiff_t FL_FN(row_argmax_excl)(const FL_T *s, ptrdiff_t n, ptrdiff_t y,
                                               int *has_nan)
{
    FL_T best = -INFINITY;
    ptrdiff_t bi = -1;
    for (ptrdiff_t j = 0; j < n; j++) {
        if (s[j] != s[j]) *has_nan = 1;
        if (j != y && s[j] > best) { best = s[j]; bi = j; }
    }
    return bi;
}

#endif /* FL_VECTORS */

#endif /* FL_BITS */
