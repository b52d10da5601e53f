/* The adaptive optimizers' in-place updates: Adam (and AdamW), RMSprop, Adagrad.
 *
 * torch.optim's update rules, element by element, over the index range [i0, i1) of
 * flat arrays: every array is read and written once per element in one loop, the
 * gradient read once, nothing else touched (no temporary).  Arithmetic is in the
 * dtype of the arrays (as torch does for float32 and float64); the per-step scalars
 * (bias corrections, the decayed learning rate) are computed in double once per step
 * by the fl_*_prepare functions, then rounded to the dtype.
 *
 * The loops are plain C that the compiler vectorises (sqrt and division included:
 * the builds have -fno-math-errno): no reductions, so no vector extension is needed
 * and every compiler (MSVC too) builds the same loops.  Each option combination gets
 * its own loop: the public functions call an always-inlined body with the options as
 * constants.  FL_RESTRICT tells the compiler the arrays do not overlap (the wrappers
 * check that; the gradient may be the parameter itself only where noted).
 *
 * Calling them from other C or Cython code (a training loop):
 *
 *     fl_adam_hyper h;
 *     fl_adam_init(&h, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize);
 *     for (t = 1; ...; t++) {                 // t: the 1-based step count
 *         fl_adam_prepare(&h, t);             // bias corrections of step t (h.lr may change first)
 *         fl_adam_f32(&h, p, g, m, v, vmax, i0, i1);   // any split of [0, n) over threads
 *     }
 *
 * and alike fl_rmsprop_* (no per-step state: fl_rmsprop_prepare only refreshes the
 * rounded scalars after a change of h.lr) and fl_adagrad_* (prepare(t) for lr_decay).
 */
#ifndef FL_BITS
#ifndef FASTLOSS_SIMD_ADAPTIVE_H
#define FASTLOSS_SIMD_ADAPTIVE_H

#include <math.h>
#include <stddef.h>

#include "vec.h"

#if defined(_MSC_VER) && !defined(__clang__)
#define FL_RESTRICT __restrict
#else
#define FL_RESTRICT __restrict__
#endif

/* ---- Adam / AdamW ---------------------------------------------------------------- */

/* One Adam optimizer's hyper-parameters, and the scalars of its current step. */
typedef struct {
    /* set by fl_adam_init (lr may be changed between steps, then prepare again) */
    double lr, beta1, beta2, eps, weight_decay;
    int decoupled;      /* AdamW's decay θ ← θ(1 − αλ) instead of Adam's g ← g + λθ */
    int amsgrad;        /* the denominator from v_max = max(v_max, v) */
    int maximize;       /* ascend: g ← −g */
    /* set by fl_adam_prepare(h, t) for step t >= 1 */
    double step_size;   /* α / (1 − β1^t) */
    double inv_bc2;     /* 1 / sqrt(1 − β2^t) */
    double decay;       /* 1 − αλ (decoupled), else 1 */
} fl_adam_hyper;

static inline void fl_adam_init(fl_adam_hyper *h, double lr, double beta1, double beta2,
                                double eps, double weight_decay, int decoupled, int amsgrad,
                                int maximize)
{
    h->lr = lr;
    h->beta1 = beta1;
    h->beta2 = beta2;
    h->eps = eps;
    h->weight_decay = weight_decay;
    h->decoupled = decoupled != 0;
    h->amsgrad = amsgrad != 0;
    h->maximize = maximize != 0;
    h->step_size = lr;
    h->inv_bc2 = 1.0;
    h->decay = 1.0;
}

/* The bias corrections of step t (1 for the first step), as torch computes them in
 * double: step_size = lr / (1 − β1^t), and 1 / sqrt(1 − β2^t). */
static inline void fl_adam_prepare(fl_adam_hyper *h, long long t)
{
    h->step_size = h->lr / (1.0 - pow(h->beta1, (double)t));
    h->inv_bc2 = 1.0 / sqrt(1.0 - pow(h->beta2, (double)t));
    h->decay = h->decoupled ? 1.0 - h->lr * h->weight_decay : 1.0;
}

/* ---- RMSprop ------------------------------------------------------------------------- */

typedef struct {
    double lr, alpha, eps, weight_decay, momentum;
    int centered;       /* divide by the centered second moment sqrt(E[g²] − E[g]²) */
    int maximize;
} fl_rmsprop_hyper;

static inline void fl_rmsprop_init(fl_rmsprop_hyper *h, double lr, double alpha, double eps,
                                   double weight_decay, double momentum, int centered,
                                   int maximize)
{
    h->lr = lr;
    h->alpha = alpha;
    h->eps = eps;
    h->weight_decay = weight_decay;
    h->momentum = momentum;
    h->centered = centered != 0;
    h->maximize = maximize != 0;
}

/* ---- Adagrad ------------------------------------------------------------------------- */

typedef struct {
    double lr, lr_decay, weight_decay, eps;
    int maximize;
    double clr;         /* set by fl_adagrad_prepare(h, t): lr / (1 + (t − 1)·lr_decay) */
} fl_adagrad_hyper;

static inline void fl_adagrad_init(fl_adagrad_hyper *h, double lr, double lr_decay,
                                   double weight_decay, double eps, int maximize)
{
    h->lr = lr;
    h->lr_decay = lr_decay;
    h->weight_decay = weight_decay;
    h->eps = eps;
    h->maximize = maximize != 0;
    h->clr = lr;
}

static inline void fl_adagrad_prepare(fl_adagrad_hyper *h, long long t)
{
    h->clr = h->lr / (1.0 + (double)(t - 1) * h->lr_decay);
}

#define FL_TEMPLATE "adaptive.h"
#include "template.h"

#endif /* FASTLOSS_SIMD_ADAPTIVE_H */

#else /* FL_BITS: the body of template.h's two passes */

/* torch's lerp a + w (b − a), written as it writes it: for w < 1/2 from a, else from b
 * (b − (b − a)(1 − w)), so that w near 1 loses nothing.  `small` is w < 1/2, `cw` is w
 * or 1 − w (that of the dtype's w, as torch rounds it). */
#if FL_BITS == 32
#define FL_SQRT sqrtf
#else
#define FL_SQRT sqrt
#endif
#define FL_LERP(a, b, small, cw) ((small) ? (a) + (cw) * ((b) - (a)) : (b) - (cw) * ((b) - (a)))

/* Adam over [i0, i1), the options as constants (wd: 0 none, 1 L2, 2 decoupled):
 *   g ← ±g (+ λθ)           θ ← θ(1 − αλ) if decoupled
 *   m ← lerp(m, g, 1 − β1)   v ← β2 v + (1 − β2) g²      v_max ← max(v_max, v) (amsgrad)
 *   θ ← θ − s·m / (sqrt(v or v_max)/sqrt(1 − β2^t) + ε),  s = α / (1 − β1^t)
 * torch divides sqrt(v) by sqrt(1 − β2^t); this multiplies by the inverse (a rounding
 * apart, one division less).  The last update is torch's addcdiv, θ − s·(m / d), in its
 * order (and so are RMSprop's and Adagrad's below). */
FL_INLINE void FL_FN(adam_body)(const fl_adam_hyper *h, FL_T *FL_RESTRICT p,
                                const FL_T *FL_RESTRICT g, FL_T *FL_RESTRICT m,
                                FL_T *FL_RESTRICT v, FL_T *FL_RESTRICT vmax, ptrdiff_t i0,
                                ptrdiff_t i1, const int wd, const int amsgrad)
{
    const FL_T sign = h->maximize ? (FL_T)-1 : (FL_T)1;
    const FL_T lam = (FL_T)h->weight_decay, decay = (FL_T)h->decay;
    const double w1 = 1.0 - h->beta1;
    const int small = w1 < 0.5;
    const FL_T c1 = small ? (FL_T)w1 : (FL_T)1 - (FL_T)w1;
    const FL_T b2 = (FL_T)h->beta2, c2 = (FL_T)(1.0 - h->beta2);
    const FL_T ss = (FL_T)h->step_size, ib = (FL_T)h->inv_bc2, eps = (FL_T)h->eps;
    for (ptrdiff_t i = i0; i < i1; i++) {
        FL_T pi = p[i], gi = sign * g[i], mi = m[i], vi = v[i], d;
        if (wd == 1) gi = gi + lam * pi;
        if (wd == 2) pi = pi * decay;
        mi = FL_LERP(mi, gi, small, c1);
        vi = b2 * vi + c2 * (gi * gi);
        if (amsgrad) {
            FL_T vm = vmax[i];
            vm = vm > vi ? vm : vi;
            vmax[i] = vm;
            d = FL_SQRT(vm) * ib + eps;
        } else {
            d = FL_SQRT(vi) * ib + eps;
        }
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - ss * (mi / d);
    }
}

/* One Adam step over [i0, i1) of flat arrays (h prepared for the step); vmax is used
 * only with h->amsgrad.  g may not alias p here (the wrappers copy it first). */
static void FL_FN(adam)(const fl_adam_hyper *h, FL_T *p, const FL_T *g, FL_T *m, FL_T *v,
                        FL_T *vmax, ptrdiff_t i0, ptrdiff_t i1)
{
    const int wd = h->weight_decay == 0.0 ? 0 : h->decoupled ? 2 : 1;
    if (h->amsgrad) {
        if (wd == 0) FL_FN(adam_body)(h, p, g, m, v, vmax, i0, i1, 0, 1);
        else if (wd == 1) FL_FN(adam_body)(h, p, g, m, v, vmax, i0, i1, 1, 1);
        else FL_FN(adam_body)(h, p, g, m, v, vmax, i0, i1, 2, 1);
    } else {
        if (wd == 0) FL_FN(adam_body)(h, p, g, m, v, vmax, i0, i1, 0, 0);
        else if (wd == 1) FL_FN(adam_body)(h, p, g, m, v, vmax, i0, i1, 1, 0);
        else FL_FN(adam_body)(h, p, g, m, v, vmax, i0, i1, 2, 0);
    }
}

/* RMSprop over [i0, i1):
 *   g ← ±g (+ λθ)      s ← α s + (1 − α) g²
 *   centered: ḡ ← lerp(ḡ, g, 1 − α), a = sqrt(s − ḡ²) + ε;  else a = sqrt(s) + ε
 *   momentum μ > 0: b ← μ b + g/a, θ ← θ − α_lr b;  else θ ← θ − α_lr g/a */
FL_INLINE void FL_FN(rmsprop_body)(const fl_rmsprop_hyper *h, FL_T *FL_RESTRICT p,
                                   const FL_T *FL_RESTRICT g, FL_T *FL_RESTRICT sq,
                                   FL_T *FL_RESTRICT gavg, FL_T *FL_RESTRICT buf,
                                   ptrdiff_t i0, ptrdiff_t i1, const int has_wd,
                                   const int centered, const int momentum)
{
    const FL_T sign = h->maximize ? (FL_T)-1 : (FL_T)1;
    const FL_T lam = (FL_T)h->weight_decay, lr = (FL_T)h->lr, eps = (FL_T)h->eps;
    const FL_T alpha = (FL_T)h->alpha, ca = (FL_T)(1.0 - h->alpha), mu = (FL_T)h->momentum;
    const double w = 1.0 - h->alpha;
    const int small = w < 0.5;
    const FL_T cw = small ? (FL_T)w : (FL_T)1 - (FL_T)w;
    for (ptrdiff_t i = i0; i < i1; i++) {
        FL_T pi = p[i], gi = sign * g[i], si, a;
        if (has_wd) gi = gi + lam * pi;
        si = alpha * sq[i] + ca * (gi * gi);
        sq[i] = si;
        if (centered) {
            FL_T gm = FL_LERP(gavg[i], gi, small, cw);
            gavg[i] = gm;
            a = FL_SQRT(si - gm * gm) + eps;
        } else {
            a = FL_SQRT(si) + eps;
        }
        if (momentum) {
            FL_T bi = mu * buf[i] + gi / a;
            buf[i] = bi;
            p[i] = pi - lr * bi;
        } else {
            p[i] = pi - lr * (gi / a);
        }
    }
}

/* One RMSprop step over [i0, i1); gavg is used only with h->centered, buf only with
 * h->momentum > 0. */
static void FL_FN(rmsprop)(const fl_rmsprop_hyper *h, FL_T *p, const FL_T *g, FL_T *sq,
                           FL_T *gavg, FL_T *buf, ptrdiff_t i0, ptrdiff_t i1)
{
    const int wd = h->weight_decay != 0.0, c = h->centered, mo = h->momentum != 0.0;
#define FL_RMS(a, b, k) FL_FN(rmsprop_body)(h, p, g, sq, gavg, buf, i0, i1, a, b, k)
    if (wd) {
        if (c) { if (mo) FL_RMS(1, 1, 1); else FL_RMS(1, 1, 0); }
        else   { if (mo) FL_RMS(1, 0, 1); else FL_RMS(1, 0, 0); }
    } else {
        if (c) { if (mo) FL_RMS(0, 1, 1); else FL_RMS(0, 1, 0); }
        else   { if (mo) FL_RMS(0, 0, 1); else FL_RMS(0, 0, 0); }
    }
#undef FL_RMS
}

/* Adagrad over [i0, i1):  g ← ±g (+ λθ),  s ← s + g²,  θ ← θ − clr·g/(sqrt(s) + ε),
 * clr = lr / (1 + (t − 1)·lr_decay). */
FL_INLINE void FL_FN(adagrad_body)(const fl_adagrad_hyper *h, FL_T *FL_RESTRICT p,
                                   const FL_T *FL_RESTRICT g, FL_T *FL_RESTRICT s,
                                   ptrdiff_t i0, ptrdiff_t i1, const int has_wd)
{
    const FL_T sign = h->maximize ? (FL_T)-1 : (FL_T)1;
    const FL_T lam = (FL_T)h->weight_decay, clr = (FL_T)h->clr, eps = (FL_T)h->eps;
    for (ptrdiff_t i = i0; i < i1; i++) {
        FL_T pi = p[i], gi = sign * g[i], si;
        if (has_wd) gi = gi + lam * pi;
        si = s[i] + gi * gi;
        s[i] = si;
        p[i] = pi - clr * (gi / (FL_SQRT(si) + eps));
    }
}

/* One Adagrad step over [i0, i1) (h prepared for the step). */
static void FL_FN(adagrad)(const fl_adagrad_hyper *h, FL_T *p, const FL_T *g, FL_T *s,
                           ptrdiff_t i0, ptrdiff_t i1)
{
    if (h->weight_decay != 0.0) FL_FN(adagrad_body)(h, p, g, s, i0, i1, 1);
    else FL_FN(adagrad_body)(h, p, g, s, i0, i1, 0);
}

#undef FL_LERP
#undef FL_SQRT

#endif /* FL_BITS */
