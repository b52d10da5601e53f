/* Row primitives of softmax_cross_entropy with soft (probability) targets.
 *
 * kernels/softmax.pxi checks each target row (row_sum_nonneg), then per row:
 * the weighted shifted sum and target mass (row_soft), the exps and their sum
 * (softmax.h), and the gradient (row_soft_grad).
 */
#ifndef FL_BITS
#ifndef FASTLOSS_SIMD_SOFT_H
#define FASTLOSS_SIMD_SOFT_H

#include "vec.h"

#define FL_TEMPLATE "soft.h"
#include "template.h"

#endif /* FASTLOSS_SIMD_SOFT_H */

#else /* FL_BITS: the body of template.h's two passes */

#if FL_VECTORS

/* Σ_j t[j] in double; *bad = 1 if some t[j] is negative or NaN (else unchanged). */
FL_INLINE double FL_FN(row_sum_nonneg)(const FL_T *t, ptrdiff_t n, int *bad)
{
    fl_vd acc_lo = {0}, acc_hi = {0};
    FL_VM neg = {0};
    ptrdiff_t j = 0;
    for (; j + FL_N <= n; j += FL_N) {
        FL_V v = FL_OP(load)(t + j);
        neg |= ~(v >= 0);
        FL_OP(add_wide)(v, &acc_lo, &acc_hi);
    }
    if (j < n) {
        FL_V v = FL_OP(load_tail)(t + j, n - j, 0);
        neg |= ~(v >= 0);
        FL_OP(add_wide)(v, &acc_lo, &acc_hi);
    }
    for (int k = 0; k < FL_N; k++) if (neg[k]) *bad = 1;
    return fl_f64_hsum(acc_lo + acc_hi);
}

/* a_j = cw_j·(α·t_j + β) over the rem lanes at t (cw NULL: all ones). */
FL_INLINE FL_V FL_FN(soft_mass)(const FL_T *t, const FL_T *cw, FL_T alpha, FL_T beta,
                                ptrdiff_t rem)
{
    FL_V a = FL_OP(load_part)(t, rem, 0) * alpha + beta;
    if (cw) a *= FL_OP(load_part)(cw, rem, 0);
    return a;
}

/* With a_j = cw_j·(α·t_j + β), returns Σ_j a_j·(s_j - shift) in double, a
 * term with a_j = 0 counting 0 whatever s_j (a -inf score with no target mass
 * costs nothing), and sets *mass = Σ_j a_j. */
FL_INLINE double FL_FN(row_soft)(const FL_T *s, const FL_T *t, const FL_T *cw, FL_T alpha,
                                 FL_T beta, FL_T shift, double *mass, ptrdiff_t n)
{
    fl_vd acc_lo = {0}, acc_hi = {0}, m_lo = {0}, m_hi = {0};
    for (ptrdiff_t j = 0; j < n; j += FL_N) {
        const ptrdiff_t rem = n - j < FL_N ? n - j : FL_N;
        FL_V a = FL_FN(soft_mass)(t + j, cw ? cw + j : NULL, alpha, beta, rem);
        if (!cw && rem < FL_N) a *= FL_OP(ones_head)(rem);     /* the padding has no mass */
        FL_V d = (FL_V)((FL_VM)(a * (FL_OP(load_part)(s + j, rem, 0) - shift)) & ~(a == 0));
        FL_OP(add_wide)(d, &acc_lo, &acc_hi);
        FL_OP(add_wide)(a, &m_lo, &m_hi);
    }
    *mass = fl_f64_hsum(m_lo + m_hi);
    return fl_f64_hsum(acc_lo + acc_hi);
}

/* g[j] = g[j]·gamma - cw_j·(α·t_j + β)   (cw NULL: all ones). */
FL_INLINE void FL_FN(row_soft_grad)(FL_T *g, const FL_T *t, const FL_T *cw, FL_T gamma,
                                    FL_T alpha, FL_T beta, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j += FL_N) {
        const ptrdiff_t rem = n - j < FL_N ? n - j : FL_N;
        FL_V gv = FL_OP(load_part)(g + j, rem, 0);
        FL_V a = FL_OP(load_part)(t + j, rem, 0) * alpha + beta;
        if (cw) a *= FL_OP(load_part)(cw + j, rem, 0);
        gv = gv * gamma - a;
        FL_OP(store_part)(g + j, gv, rem);
    }
}

#else /* scalar: the same results up to rounding */

static inline double FL_FN(row_sum_nonneg)(const FL_T *t, ptrdiff_t n, int *bad)
{
    double total = 0.0;
    for (ptrdiff_t j = 0; j < n; j++) {
        if (!(t[j] >= 0)) *bad = 1;
        total += t[j];
    }
    return total;
}

static inline double FL_FN(row_soft)(const FL_T *s, const FL_T *t, const FL_T *cw, FL_T alpha,
                                     FL_T beta, FL_T shift, double *mass, ptrdiff_t n)
{
    double total = 0.0, m = 0.0;
    for (ptrdiff_t j = 0; j < n; j++) {
        FL_T a = (t[j] * alpha + beta) * (cw ? cw[j] : 1);
        total += a == 0 ? 0 : a * (s[j] - shift);
        m += a;
    }
    *mass = m;
    return total;
}

static inline void FL_FN(row_soft_grad)(FL_T *g, const FL_T *t, const FL_T *cw, FL_T gamma,
                                        FL_T alpha, FL_T beta, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++)
        g[j] = g[j] * gamma - (t[j] * alpha + beta) * (cw ? cw[j] : 1);
}

#endif /* FL_VECTORS */

#endif /* FL_BITS */
