/* Elementwise primitives of the distance-based losses, over n elements of the
 * difference d = pred − target:
 *
 *   kind 0  squared error  L = d²                                    ∂L/∂pred = 2d
 *   kind 1  absolute error L = |d|                                   sign(d), 0 at d = 0 (and NaN)
 *   kind 2  Huber (δ)      L = d²/2 if |d| < δ, else δ(|d| − δ/2)    clamp(d, −δ, δ)
 *   kind 3  smooth L1 (β)  L = d²/(2β) if |d| < β, else |d| − β/2     clamp(d/β, −1, 1)
 *
 * (smooth L1 with β = 0 is the absolute error: the kernels call kind 1 for it.)
 * Written as torch writes them (aten's loss kernels: the branches compare as its
 * forward and backward do, 0.5·d·d/β divides), so values and gradients agree with
 * torch.nn.functional's up to rounding.  NaN propagates to the loss and the gradient,
 * except the absolute error's gradient, 0 there as torch's sign(NaN).
 *
 * The kernels (kernels/distance.pxi) run over flat arrays; weights, when there are
 * any, arrive per element in the dtype of pred (NULL: all ones).  A last partial vector
 * is loaded with zeros, where every kind's loss and gradient are 0, so nothing needs
 * masking out of the sum.  Returns Σ_j w_j L_j in double; with lo: lo[j] = w_j L_j;
 * with g: g[j] = gs·w_j·∂L_j/∂pred_j.  g or lo may be pred.
 */
#ifndef FL_BITS
#ifndef FASTLOSS_SIMD_DISTANCE_H
#define FASTLOSS_SIMD_DISTANCE_H

#include "vec.h"

enum { FL_DIST_SQUARED = 0, FL_DIST_ABSOLUTE = 1, FL_DIST_HUBER = 2, FL_DIST_SMOOTH_L1 = 3 };

#define FL_TEMPLATE "distance.h"
#include "template.h"

#endif /* FASTLOSS_SIMD_DISTANCE_H */

#else /* FL_BITS: the body of template.h's two passes */

#if FL_VECTORS

/* The loss of d (|d| = a) and, in *gd, its derivative, for one kind (a constant). */
FL_INLINE FL_V FL_OP(dist_one)(FL_V d, FL_T par, const int kind, FL_V *gd)
{
    const FL_V zero = FL_OP(splat)(0), one = FL_OP(splat)(1);
    FL_V a = FL_OP(abs)(d);
    if (kind == FL_DIST_SQUARED) {
        *gd = d + d;
        return d * d;
    }
    if (kind == FL_DIST_ABSOLUTE) {
        /* sign(d): +1, −1, and 0 at ±0 and for NaN (torch's sgn) */
        *gd = FL_OP(select)(d > 0, one, FL_OP(select)(d < 0, -one, zero));
        return a;
    }
    const FL_V p = FL_OP(splat)(par);
    const FL_VM inner = a < p;
    if (kind == FL_DIST_HUBER) {
        FL_V quad = (FL_T)0.5 * d * d, lin = p * (a - (FL_T)0.5 * par);
        *gd = FL_OP(select)(d < -p, -p, FL_OP(select)(d > p, p, d));
        return FL_OP(select)(inner, quad, lin);
    }
    /* smooth L1 */
    FL_V quad = ((FL_T)0.5 * d * d) / p, lin = a - (FL_T)0.5 * par;
    *gd = FL_OP(select)(d <= -p, -one, FL_OP(select)(d >= p, one, d / p));
    return FL_OP(select)(inner, quad, lin);
}

FL_INLINE void FL_FN(dist_step)(const FL_T *x, const FL_T *t, const FL_T *w, FL_T par, FL_T gs,
                                FL_T *g, FL_T *lo, ptrdiff_t j, ptrdiff_t rem, const int kind,
                                fl_vd *acc)
{
    FL_V xv = FL_OP(load_part)(x + j, rem, 0);
    FL_V tv = FL_OP(load_part)(t + j, rem, 0);
    FL_V gd, loss = FL_OP(dist_one)(xv - tv, par, kind, &gd);
    FL_V gsv = FL_OP(splat)(gs);
    if (w) {
        FL_V wv = FL_OP(load_part)(w + j, rem, 0);
        loss = loss * wv;
        gsv = gsv * wv;
    }
    FL_OP(add_wide)(loss, &acc[0], &acc[1]);
    if (g) FL_OP(store_part)(g + j, gsv * gd, rem);
    if (lo) FL_OP(store_part)(lo + j, loss, rem);
}

FL_INLINE double FL_FN(dist_impl)(const FL_T *x, const FL_T *t, const FL_T *w, FL_T par,
                                  FL_T gs, FL_T *g, FL_T *lo, ptrdiff_t n, const int kind)
{
    fl_vd acc[2] = {{0}, {0}};
    ptrdiff_t j = 0;
    for (; j + FL_N <= n; j += FL_N)
        FL_FN(dist_step)(x, t, w, par, gs, g, lo, j, FL_N, kind, acc);
    if (j < n)
        FL_FN(dist_step)(x, t, w, par, gs, g, lo, j, n - j, kind, acc);
    return fl_f64_hsum(acc[0] + acc[1]);
}

#else /* scalar: the same results up to rounding */

static inline FL_T FL_FN(dist_one)(FL_T d, FL_T par, const int kind, FL_T *gd)
{
    FL_T a = d < 0 ? -d : d;
    switch (kind) {
    case FL_DIST_SQUARED:
        *gd = d + d;
        return d * d;
    case FL_DIST_ABSOLUTE:
        *gd = d > 0 ? (FL_T)1 : d < 0 ? (FL_T)-1 : (FL_T)0;
        return a;
    case FL_DIST_HUBER:
        *gd = d < -par ? -par : d > par ? par : d;
        return a < par ? (FL_T)0.5 * d * d : par * (a - (FL_T)0.5 * par);
    default:
        *gd = d <= -par ? (FL_T)-1 : d >= par ? (FL_T)1 : d / par;
        return a < par ? ((FL_T)0.5 * d * d) / par : a - (FL_T)0.5 * par;
    }
}

static inline double FL_FN(dist_impl)(const FL_T *x, const FL_T *t, const FL_T *w, FL_T par,
                                      FL_T gs, FL_T *g, FL_T *lo, ptrdiff_t n, const int kind)
{
    double total = 0.0;
    for (ptrdiff_t j = 0; j < n; j++) {
        FL_T gd, loss = FL_FN(dist_one)(x[j] - t[j], par, kind, &gd), s = gs;
        if (w) {
            loss *= w[j];
            s *= w[j];
        }
        total += loss;
        if (g) g[j] = s * gd;
        if (lo) lo[j] = loss;
    }
    return total;
}

#endif /* FL_VECTORS */

/* Σ_j w_j L_j over n elements of one kind (FL_DIST_*); see the top of the file. */
static double FL_FN(distance)(int kind, const FL_T *x, const FL_T *t, const FL_T *w, FL_T par,
                              FL_T gs, FL_T *g, FL_T *lo, ptrdiff_t n)
{
    switch (kind) {
    case FL_DIST_SQUARED: return FL_FN(dist_impl)(x, t, w, par, gs, g, lo, n, FL_DIST_SQUARED);
    case FL_DIST_ABSOLUTE: return FL_FN(dist_impl)(x, t, w, par, gs, g, lo, n, FL_DIST_ABSOLUTE);
    case FL_DIST_HUBER: return FL_FN(dist_impl)(x, t, w, par, gs, g, lo, n, FL_DIST_HUBER);
    default: return FL_FN(dist_impl)(x, t, w, par, gs, g, lo, n, FL_DIST_SMOOTH_L1);
    }
}

#endif /* FL_BITS */
