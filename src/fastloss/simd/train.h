/* The training engine: epochs of mini-batch SGD for a linear classifier,
 * without a return to Python per step.
 *
 * kernels/train.pxi checks one run's arrays and fills an fl_train; the
 * estimator's trainer (_training.py) calls fl_train_epoch_* once per epoch.
 * For each batch of the epoch's order of rows (the permutation):
 *
 *   for each group of t->group rows of the batch (read in place from X by
 *   their index -- no gathered copy):
 *     S  = x·W + b                  the scores, R rows at a time against all
 *                                   classes, W held transposed (c, d) in cache
 *     dS = the loss's per-row gradient, by the loops of the public kernels
 *                                   (sce.h's softmax cross-entropy, hinge.h's
 *                                   Weston-Watkins rows): the same code and
 *                                   semantics, with the batch's mean scale
 *     dW += dSᵀ·x, db += Σ dS       while the group's rows are still in cache
 *   then, over W's elements: the update (torch.optim.SGD's rule: momentum,
 *   Nesterov, weight decay 2·reg on W only), the L2 term reg·ΣW² of the
 *   step's loss taken before it; the step's loss goes to history.
 *
 * X is read once per epoch.  Threads: a batch's groups are split over the
 * threads (contiguous, libgomp's static split), each adds into its own dW
 * and db; the partial sums are added in thread order, element by element,
 * by the pass that updates -- so a given thread count gives the same model
 * bit for bit.  One parallel region an epoch, two barriers a step.
 *
 * Memory beyond X: W's gradient (and per extra thread one more), a group's
 * scores and gradient, the batch's labels and weights: O(B·C + D·C).
 */
#ifndef FL_BITS
#ifndef FASTLOSS_SIMD_TRAIN_H
#define FASTLOSS_SIMD_TRAIN_H

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "call.h"
#include "hinge.h"
#include "sce.h"

#define FL_TRAIN_SOFTMAX 0
#define FL_TRAIN_HINGE 1

/* Rows of a group (fl_train.group): scored, then their loss, then their
 * share of dW while they are in cache.  FL_TRAIN_G by default, a multiple of
 * every FL_ROWS (the row-block loop of the softmax loss takes FL_ROWS rows
 * at a time); FL_TRAIN_G_WIDE from FL_TRAIN_WIDE_C classes on, where dW
 * (C x D) is large and is read and written once a group. */
#define FL_TRAIN_G 16
#define FL_TRAIN_G_WIDE 32
#define FL_TRAIN_WIDE_C 256

/* Register blocks.  Scores: FL_TRAIN_R rows × FL_TRAIN_CB classes of vector
 * accumulators over d; gradient: FL_TRAIN_GB classes × 2 vectors of d,
 * accumulated over a group's rows.  32 vector registers with AVX-512, 16
 * elsewhere. */
#if FL_VECTORS && defined(__AVX512F__)
#define FL_TRAIN_R 4
#define FL_TRAIN_CB 5
#define FL_TRAIN_GB 10
#else
#define FL_TRAIN_R 2
#define FL_TRAIN_CB 5
#define FL_TRAIN_GB 6
#endif

/* The rows come from memory in random order, which no hardware prefetcher
 * foresees: while a group is scored, the cache lines of the next group's
 * rows are prefetched into L2, a few in every step of the scoring loops, so
 * that the reads of X spread over the group's arithmetic (fl_train_pf). */
typedef struct {
    const char *const *rows;    /* the rows to fetch (NULL: none) */
    ptrdiff_t nrows, lines;     /* how many; 64-byte lines a row */
    ptrdiff_t row, line;        /* the next line to fetch */
    int per_step;               /* lines a step of the scoring loop */
} fl_train_pf;

static inline void fl_train_prefetch(fl_train_pf *p)
{
    for (int q = 0; q < p->per_step && p->row < p->nrows; q++) {
        __builtin_prefetch(p->rows[p->row] + 64 * p->line, 0, 2);
        if (++p->line == p->lines) p->line = 0, p->row++;
    }
}

/* One run's arrays and options, as the epoch loop reads them.  Checked by
 * kernels/train.pxi: X C-contiguous (n, d), labels in [0, c), weights
 * finite and >= 0, W/b/V of the right shapes, order a permutation of
 * [0, n) (each index < n). */
typedef struct {
    const void *X;          /* (n, ld) rows, float32 or float64 (the suffix says which), of
                               which the first d columns are the features */
    ptrdiff_t n, d, c, ld;
    const int64_t *y;       /* (n,) class codes in [0, c) */
    const double *sw;       /* (n,) sample weights or NULL */
    void *Wt;               /* (c, d): the weights, transposed; updated in place */
    void *b;                /* (c,) intercept or NULL */
    void *Vt, *Vb;          /* momentum buffers of Wt and b, or NULL (no momentum) */
    int loss;               /* FL_TRAIN_SOFTMAX or FL_TRAIN_HINGE */
    double margin;          /* the hinge's Δ */
    double reg;             /* L2: reg·ΣW² in the loss, 2·reg·W in the gradient */
    double momentum;
    int nesterov;
    ptrdiff_t batch;        /* rows a step (the epoch's last step may have fewer) */
    int threads;
    const intptr_t *order;  /* (n,) the epoch's order of rows; NULL: X's order */
    const double *lr;       /* (steps,) each step's learning rate */
    double *history;        /* (steps,) each step's loss, written by the loop */
    long long steps_before; /* steps of earlier epochs: the first one sets v = g */
    ptrdiff_t group;        /* rows of a group (see FL_TRAIN_G) */
} fl_train;

static inline ptrdiff_t fl_train_steps(const fl_train *t)
{
    return (t->n + t->batch - 1) / t->batch;
}

/* Row range [lo, hi) of thread k of nt over n items, as OpenMP's static
 * schedule splits them (libgomp: the first n % nt threads take one more). */
static inline void fl_train_split(ptrdiff_t n, int nt, int k, ptrdiff_t *lo, ptrdiff_t *hi)
{
    ptrdiff_t q = n / nt, r = n % nt;
    *lo = k * q + (k < r ? k : r);
    *hi = *lo + q + (k < r);
}

/* Whether the n floats at p (float32: bits 32, float64: 64) are all finite:
 * an exponent of all ones is an infinity or a NaN.  The test of a block is
 * an integer sum, which gcc vectorises; the scan stops at the first block
 * with one.  One read of the data, no allocation. */
static inline int fl_all_finite(const void *p, ptrdiff_t n, int bits)
{
    const ptrdiff_t block = 4096;
    for (ptrdiff_t i0 = 0; i0 < n; i0 += block) {
        const ptrdiff_t m = n - i0 < block ? n - i0 : block;
        unsigned int bad = 0;
        if (bits == 32) {
            const uint32_t *u = (const uint32_t *)p + i0;
            for (ptrdiff_t i = 0; i < m; i++) bad += (u[i] & 0x7f800000u) == 0x7f800000u;
        } else {
            const uint64_t *u = (const uint64_t *)p + i0;
            for (ptrdiff_t i = 0; i < m; i++)
                bad += (u[i] & 0x7ff0000000000000ull) == 0x7ff0000000000000ull;
        }
        if (bad) return 0;
    }
    return 1;
}

#define FL_TEMPLATE "train.h"
#include "template.h"

#endif /* FASTLOSS_SIMD_TRAIN_H */

#else /* FL_BITS: the body of template.h's two passes */

/* ---- the two products, for a group of rows ------------------------------ */

#if FL_VECTORS

/* Σ of the lanes of v, as a tree. */
FL_INLINE FL_T FL_FN(train_hsum)(FL_V v)
{
#if FL_X86 && defined(__AVX512F__)
    return FL_MM(_mm512_reduce_add_p)((FL_M512)v);
#elif FL_X86 && defined(__AVX__)
    FL_M128 s = FL_MM(_mm_add_p)(FL_QUARTER_LO((FL_M256)v), FL_MM(_mm256_extractf128_p)((FL_M256)v, 1));
#if FL_BITS == 32
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
#else
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
#endif
#elif FL_X86
    FL_M128 s = (FL_M128)v;
#if FL_BITS == 32
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
#else
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
#endif
#else
    FL_T s = 0;
    for (int k = 0; k < FL_N; k++) s += v[k];
    return s;
#endif
}

/* S[k·c + j] = x_k · Wt[j] + b[j] for the rows x[0 .. nr-1] (nr <= FL_TRAIN_R)
 * and the classes j0 .. j0+nc-1 (nc <= FL_TRAIN_CB): nr·nc vector
 * accumulators over d, each x vector loaded once for the nc classes and each
 * W vector once for the nr rows.  nr and nc are constants where this is
 * inlined (fl_train_score_*), so the accumulators live in registers. */
FL_INLINE void FL_FN(train_dot)(const FL_T *const *x, const FL_T *Wt, const FL_T *b, FL_T *S,
                                ptrdiff_t d, ptrdiff_t c, ptrdiff_t j0, const int nr,
                                const int nc, fl_train_pf *pf)
{
    FL_V acc[FL_TRAIN_R][FL_TRAIN_CB], xv[FL_TRAIN_R], w;
    ptrdiff_t e = 0;
    int r, j;
    /* the prefetch cursor in registers for the loop (through pf, its counters
     * would be stored and reloaded every step: a chain through memory) */
    fl_train_pf p = *pf;
    for (r = 0; r < nr; r++)
        for (j = 0; j < nc; j++) acc[r][j] = FL_OP(splat)(0);
    for (; e + FL_N <= d; e += FL_N) {
        fl_train_prefetch(&p);
        for (r = 0; r < nr; r++) xv[r] = FL_OP(load)(x[r] + e);
        for (j = 0; j < nc; j++) {
            w = FL_OP(load)(Wt + (j0 + j) * d + e);
            for (r = 0; r < nr; r++) acc[r][j] += xv[r] * w;
        }
    }
    if (e < d) {
        for (r = 0; r < nr; r++) xv[r] = FL_OP(load_tail)(x[r] + e, d - e, 0);
        for (j = 0; j < nc; j++) {
            w = FL_OP(load_tail)(Wt + (j0 + j) * d + e, d - e, 0);
            for (r = 0; r < nr; r++) acc[r][j] += xv[r] * w;
        }
    }
    *pf = p;
    for (r = 0; r < nr; r++)
        for (j = 0; j < nc; j++)
            S[r * c + j0 + j] = FL_FN(train_hsum)(acc[r][j]) + (b != NULL ? b[j0 + j] : 0);
}

/* dWt[j] += Σ_k dS[k·c + j] · x_k and db[j] += Σ_k dS[k·c + j] over the rows
 * x[0 .. g-1], for the classes j0 .. j0+nc-1 (nc <= FL_TRAIN_GB): nc × 2
 * vector accumulators over the rows for each stretch of 2 vectors of d, so
 * dWt is read and written once a group. */
FL_INLINE void FL_FN(train_outer)(const FL_T *const *x, ptrdiff_t g, const FL_T *dS, FL_T *dWt,
                                  ptrdiff_t d, ptrdiff_t c, ptrdiff_t j0, const int nc,
                                  fl_train_pf *pf)
{
    FL_V a0[FL_TRAIN_GB], a1[FL_TRAIN_GB], x0, x1, s;
    ptrdiff_t e = 0, k;
    int j;
    fl_train_pf p = *pf;    /* (in registers: see train_dot) */
    for (; e + 2 * FL_N <= d; e += 2 * FL_N) {
        for (j = 0; j < nc; j++) {
            a0[j] = FL_OP(load)(dWt + (j0 + j) * d + e);
            a1[j] = FL_OP(load)(dWt + (j0 + j) * d + e + FL_N);
        }
        for (k = 0; k < g; k++) {
            fl_train_prefetch(&p);
            x0 = FL_OP(load)(x[k] + e);
            x1 = FL_OP(load)(x[k] + e + FL_N);
            for (j = 0; j < nc; j++) {
                s = FL_OP(splat)(dS[k * c + j0 + j]);
                a0[j] += s * x0;
                a1[j] += s * x1;
            }
        }
        for (j = 0; j < nc; j++) {
            FL_OP(store)(dWt + (j0 + j) * d + e, a0[j]);
            FL_OP(store)(dWt + (j0 + j) * d + e + FL_N, a1[j]);
        }
    }
    *pf = p;
    for (; e < d; e += FL_N) {
        const ptrdiff_t m = d - e < FL_N ? d - e : FL_N;
        for (j = 0; j < nc; j++) a0[j] = FL_OP(load_part)(dWt + (j0 + j) * d + e, m, 0);
        for (k = 0; k < g; k++) {
            x0 = FL_OP(load_part)(x[k] + e, m, 0);
            for (j = 0; j < nc; j++) a0[j] += FL_OP(splat)(dS[k * c + j0 + j]) * x0;
        }
        for (j = 0; j < nc; j++) FL_OP(store_part)(dWt + (j0 + j) * d + e, a0[j], m);
    }
}

#else /* scalar */

static inline void FL_FN(train_dot)(const FL_T *const *x, const FL_T *Wt, const FL_T *b, FL_T *S,
                                    ptrdiff_t d, ptrdiff_t c, ptrdiff_t j0, const int nr,
                                    const int nc, fl_train_pf *pf)
{
    (void)pf;
    for (int r = 0; r < nr; r++)
        for (int j = 0; j < nc; j++) {
            FL_T acc = 0;
            const FL_T *w = Wt + (j0 + j) * d;
            for (ptrdiff_t e = 0; e < d; e++) acc += x[r][e] * w[e];
            S[r * c + j0 + j] = acc + (b != NULL ? b[j0 + j] : 0);
        }
}

static inline void FL_FN(train_outer)(const FL_T *const *x, ptrdiff_t g, const FL_T *dS,
                                      FL_T *dWt, ptrdiff_t d, ptrdiff_t c, ptrdiff_t j0,
                                      const int nc, fl_train_pf *pf)
{
    (void)pf;
    for (int j = 0; j < nc; j++) {
        FL_T *w = dWt + (j0 + j) * d;
        for (ptrdiff_t k = 0; k < g; k++) {
            const FL_T s = dS[k * c + j0 + j];
            for (ptrdiff_t e = 0; e < d; e++) w[e] += s * x[k][e];
        }
    }
}

#endif /* FL_VECTORS */

/* The scores of rows x[0 .. g-1] against every class into S (g, c), while
 * pf's lines are prefetched. */
static inline void FL_FN(train_score)(const FL_T *const *x, ptrdiff_t g, const FL_T *Wt,
                                      const FL_T *b, FL_T *S, ptrdiff_t d, ptrdiff_t c,
                                      fl_train_pf *pf)
{
    ptrdiff_t k = 0, j;
    for (; k + FL_TRAIN_R <= g; k += FL_TRAIN_R) {
        for (j = 0; j + FL_TRAIN_CB <= c; j += FL_TRAIN_CB)
            FL_FN(train_dot)(x + k, Wt, b, S + k * c, d, c, j, FL_TRAIN_R, FL_TRAIN_CB, pf);
        switch (c - j) {    /* (constant block sizes: accumulators in registers) */
#if FL_TRAIN_CB > 4
        case 4: FL_FN(train_dot)(x + k, Wt, b, S + k * c, d, c, j, FL_TRAIN_R, 4, pf); break;
#endif
        case 3: FL_FN(train_dot)(x + k, Wt, b, S + k * c, d, c, j, FL_TRAIN_R, 3, pf); break;
        case 2: FL_FN(train_dot)(x + k, Wt, b, S + k * c, d, c, j, FL_TRAIN_R, 2, pf); break;
        case 1: FL_FN(train_dot)(x + k, Wt, b, S + k * c, d, c, j, FL_TRAIN_R, 1, pf); break;
        default: break;
        }
    }
    for (; k < g; k++)      /* rows left over: one at a time */
        for (j = 0; j < c; j += FL_TRAIN_CB) {
            const ptrdiff_t nc = c - j < FL_TRAIN_CB ? c - j : FL_TRAIN_CB;
            if (nc == FL_TRAIN_CB)
                FL_FN(train_dot)(x + k, Wt, b, S + k * c, d, c, j, 1, FL_TRAIN_CB, pf);
            else for (ptrdiff_t jj = j; jj < c; jj++)
                FL_FN(train_dot)(x + k, Wt, b, S + k * c, d, c, jj, 1, 1, pf);
        }
}

/* dWt += dSᵀ·x and db += Σ_k dS[k] for the group's rows x[0 .. g-1], while
 * pf's lines are prefetched. */
static inline void FL_FN(train_grad)(const FL_T *const *x, ptrdiff_t g, const FL_T *dS, FL_T *dWt,
                                     FL_T *db, ptrdiff_t d, ptrdiff_t c, fl_train_pf *pf)
{
    ptrdiff_t j = 0, k;
    for (; j + FL_TRAIN_GB <= c; j += FL_TRAIN_GB)
        FL_FN(train_outer)(x, g, dS, dWt, d, c, j, FL_TRAIN_GB, pf);
    for (; j < c; j++)
        FL_FN(train_outer)(x, g, dS, dWt, d, c, j, 1, pf);
    if (db != NULL)
        for (k = 0; k < g; k++)
            for (j = 0; j < c; j++) db[j] += dS[k * c + j];
}

/* ---- the loss of a group ------------------------------------------------ */

/* The loss sum of the group's scores S (g, c) with labels yb and weights swb
 * (NULL: 1), its gradient (times scale, the batch's mean factor) into dS:
 * softmax cross-entropy by sce.h's loops, the hinge by hinge.h's rows, as
 * the public kernels run them on a call of g rows. */
static inline double FL_FN(train_loss)(const fl_train *t, const FL_T *S, FL_T *dS,
                                       const int64_t *yb, const double *swb, ptrdiff_t g,
                                       double scale, const void *perm)
{
    const ptrdiff_t c = t->c;
    double total = 0.0;
    if (t->loss == FL_TRAIN_SOFTMAX) {
        fl_mc_call a;
        memset(&a, 0, sizeof a);
        a.scores = S;
        a.grad = dS;
        a.y = yb;
        a.y64 = 1;
        a.n = g;
        a.c = c;
        a.sw = swb;
        a.scale = scale;
        a.ignore_index = FL_NO_LABEL;
        a.wc_total = (double)c;
        a.perm = perm;
        const ptrdiff_t done = perm != NULL ? FL_FN(sce_rowblock_rows)(&a, g) : 0;
        if (done) total += FL_FN(sce_rowblocks)(&a, 0, done / FL_ROWS);
        for (ptrdiff_t i0 = done; i0 < g; i0 += FL_SCE_ROW_BLOCK)
            total += FL_FN(sce_block)(&a, i0, g - i0 < FL_SCE_ROW_BLOCK ? g - i0 : FL_SCE_ROW_BLOCK);
    } else {
        for (ptrdiff_t k = 0; k < g; k++) {
            const double w = swb != NULL ? swb[k] : 1.0;
            const double h = FL_FN(row_hinge)(S + k * c, dS + k * c, c, (ptrdiff_t)yb[k],
                                              (FL_T)t->margin, 0, (FL_T)(scale * w));
            if (swb == NULL) total += h;
            else total = fl_madd(h, w, total);
        }
    }
    return total;
}

/* ---- the update --------------------------------------------------------- */

/* Σ p[j]² over [0, m), in double, in 16 partial sums (so gcc vectorises it). */
static inline double FL_FN(train_sum_sq)(const FL_T *p, ptrdiff_t m)
{
    double acc[16], total = 0.0;
    ptrdiff_t j, k, mv = m - m % 16;
    for (k = 0; k < 16; k++) acc[k] = 0.0;
    for (j = 0; j < mv; j += 16)
        for (k = 0; k < 16; k++) acc[k] += (double)p[j + k] * (double)p[j + k];
    for (k = 0; k < 16; k++) total += acc[k];
    for (j = mv; j < m; j++) total += (double)p[j] * (double)p[j];
    return total;
}

/* p[j] -= lr·(the step of g[j] + wd·p[j]) over j in [0, m): torch.optim.SGD's
 * rule as kernels/sgd.pxi computes it (momentum mu, dampening 0, the first
 * step v = g), in the arrays' precision.  The gradient is the sum of the nt
 * partial ones gs[0][j] + gs[1][j] + ..., in thread order (into gs[0]).
 * Each variant a plain loop, which gcc vectorises. */
static inline void FL_FN(train_update)(FL_T *p, FL_T *const *gs, int nt, FL_T *v, ptrdiff_t m,
                                       FL_T lr, FL_T wd, FL_T mu, int nesterov, int first)
{
    FL_T *g = gs[0];
    ptrdiff_t j;
    for (int k = 1; k < nt; k++) {
        const FL_T *h = gs[k];
        for (j = 0; j < m; j++) g[j] += h[j];
    }
    if (v == NULL) {
        for (j = 0; j < m; j++) p[j] = p[j] - lr * (g[j] + wd * p[j]);
    } else if (first) {
        for (j = 0; j < m; j++) {
            const FL_T gj = g[j] + wd * p[j];
            v[j] = gj;
            p[j] = p[j] - lr * (nesterov ? gj + mu * gj : gj);
        }
    } else if (nesterov) {
        for (j = 0; j < m; j++) {
            const FL_T gj = g[j] + wd * p[j];
            const FL_T vj = mu * v[j] + gj;
            v[j] = vj;
            p[j] = p[j] - lr * (gj + mu * vj);
        }
    } else {
        for (j = 0; j < m; j++) {
            const FL_T vj = mu * v[j] + (g[j] + wd * p[j]);
            v[j] = vj;
            p[j] = p[j] - lr * vj;
        }
    }
}

/* ---- the epoch ---------------------------------------------------------- */

/* Scratch of one thread: its dW (c, d) and db (c) -- thread 0 adds into the
 * run's own -- a group's S and dS, the batch's labels and weights, the
 * group's row pointers, the row-block permutation. */
typedef struct {
    FL_T *dWt, *db, *S, *dS;
    int64_t *yb;
    double *swb;
    const FL_T **rows;
} FL_FN(train_scratch);

/* Bytes of one thread's scratch, and of the work buffer fl_train_epoch_*
 * takes: the row-block permutation, then each thread's scratch. */
static inline ptrdiff_t FL_FN(train_thread_bytes)(const fl_train *t)
{
    const ptrdiff_t bytes = 2 * t->group * t->c * (ptrdiff_t)sizeof(FL_T)
                            + (t->order != NULL ? t->batch : 0)
                                  * (ptrdiff_t)(sizeof(int64_t) + sizeof(double))
                            + 2 * t->group * (ptrdiff_t)sizeof(FL_T *);
    return (bytes + 127) / 64 * 64;     /* threads' scratch a cache line apart, or more */
}

static inline ptrdiff_t FL_FN(train_work_bytes)(const fl_train *t)
{
    const int nt = t->threads > 1 ? t->threads : 1;
    return (FL_ROWS * t->c * (ptrdiff_t)sizeof(FL_IT) + 127) / 64 * 64
           + nt * FL_FN(train_thread_bytes)(t);
}

/* This thread's share of the groups of a batch: the rows order[i0 .. i0+m)
 * (order NULL: the rows i0 .. i0+m of X) with labels yb and weights swb
 * (NULL: 1), scored, their loss's gradient (times scale, the batch's mean
 * factor) added into w->dWt and w->db, which are zeroed first.  Returns the
 * thread's loss sum (unscaled). */
static inline double FL_FN(train_batch)(const fl_train *t, FL_FN(train_scratch) *w,
                                        ptrdiff_t i0, ptrdiff_t m, const int64_t *yb,
                                        const double *swb, double scale, const void *perm,
                                        int me, int nt)
{
    const ptrdiff_t n = t->n, d = t->d, c = t->c;
    const FL_T *X = (const FL_T *)t->X;
    const FL_T *Wt = (const FL_T *)t->Wt, *b = (const FL_T *)t->b;
    const intptr_t *idx = t->order != NULL ? t->order + i0 : NULL;
    const ptrdiff_t G = t->group;
    const ptrdiff_t ngroups = (m + G - 1) / G;
    ptrdiff_t glo, ghi;
    double total = 0.0;
    fl_train_split(ngroups, nt, me, &glo, &ghi);
    memset(w->dWt, 0, c * d * sizeof(FL_T));
    if (w->db != NULL) memset(w->db, 0, c * sizeof(FL_T));
    for (ptrdiff_t gi = glo; gi < ghi; gi++) {
        const ptrdiff_t r0 = gi * G;
        const ptrdiff_t g = m - r0 < G ? m - r0 : G;
        /* the group's rows, and the next group's, to prefetch (in a shuffled
         * order no hardware prefetcher foresees them; in X's order it does,
         * but not as evenly) */
        const ptrdiff_t gn = n - (i0 + r0 + g) < G ? n - (i0 + r0 + g) : G;
        if (idx != NULL) {
            for (ptrdiff_t k = 0; k < g + gn; k++) w->rows[k] = X + idx[r0 + k] * t->ld;
        } else {
            for (ptrdiff_t k = 0; k < g + gn; k++) w->rows[k] = X + (i0 + r0 + k) * t->ld;
        }
        fl_train_pf pf = {(const char *const *)(w->rows + g), gn,
                          (d * (ptrdiff_t)sizeof(FL_T) + 63) / 64, 0, 0, 0};
        /* the prefetches spread evenly over the steps of both products: the
         * fetch of the next group's rows then asks for half the bandwidth it
         * would during the scores alone (at D = 512, C = 10 that is what keeps
         * the core's line-fill buffers from filling up and stalling it) */
        const ptrdiff_t steps = (g / FL_TRAIN_R) * ((c + FL_TRAIN_CB - 1) / FL_TRAIN_CB)
                                * ((d + FL_N - 1) / FL_N)
                                + ((c + FL_TRAIN_GB - 1) / FL_TRAIN_GB) * (d / (2 * FL_N)) * g
                                + 1;
        pf.per_step = (int)((pf.nrows * pf.lines + steps - 1) / steps);
        FL_FN(train_score)(w->rows, g, Wt, b, w->S, d, c, &pf);
        total += FL_FN(train_loss)(t, w->S, w->dS, yb + r0, swb != NULL ? swb + r0 : NULL, g,
                                   scale, perm);
        FL_FN(train_grad)(w->rows, g, w->dS, w->dWt, w->db, d, c, &pf);
    }
    return total;
}

/* The row-block permutation of the softmax loop (NULL where it is not used)
 * and where the threads' scratch begins, in work. */
static inline FL_IT *FL_FN(train_perm)(const fl_train *t, void *work, char **base)
{
    FL_IT *perm = (FL_IT *)work;
    *base = (char *)work + (FL_ROWS * t->c * (ptrdiff_t)sizeof(FL_IT) + 127) / 64 * 64;
    if (t->c > FL_ROWBLOCK_MAX_C) return NULL;
    FL_CAT(fl_rows_perm_f, FL_BITS)(t->c, perm);
    return perm;
}

static inline void FL_FN(train_scratch_at)(const fl_train *t, FL_FN(train_scratch) *w, char *p,
                                           FL_T *dWt_all, FL_T *db_all, int me)
{
    const ptrdiff_t c = t->c;
    w->S = (FL_T *)p;                       p += t->group * c * sizeof(FL_T);
    w->dS = (FL_T *)p;                      p += t->group * c * sizeof(FL_T);
    if (t->order != NULL) {
        w->yb = (int64_t *)p;               p += t->batch * sizeof(int64_t);
        w->swb = (double *)p;               p += t->batch * sizeof(double);
    } else {
        w->yb = NULL;
        w->swb = NULL;
    }
    w->rows = (const FL_T **)p;
    w->dWt = dWt_all + me * c * t->d;
    w->db = t->b != NULL ? db_all + me * c : NULL;
}

/* Steps [s0, s1) of the epoch (0-based within it).  Returns -1, or the first
 * step whose data loss was not finite (history gets that loss; the step's
 * update is not made; the loop stops).  dWt/db: the run's gradient buffers,
 * (threads, c, d) and (threads, c); work: fl_train_work_bytes_* bytes. */
static ptrdiff_t FL_FN(train_epoch)(const fl_train *t, ptrdiff_t s0, ptrdiff_t s1, FL_T *dWt_all,
                                    FL_T *db_all, void *work)
{
    const ptrdiff_t n = t->n, d = t->d, c = t->c, B = t->batch;
    FL_T *Wt = (FL_T *)t->Wt, *b = (FL_T *)t->b, *Vt = (FL_T *)t->Vt, *Vb = (FL_T *)t->Vb;
    const int nt = t->threads > 1 ? t->threads : 1;
    const ptrdiff_t wsize = c * d;
    ptrdiff_t bad = -1;
    double loss_part[256], sq_part[256];   /* per thread (threads <= 256, checked) */
    char *base;
    const FL_IT *perm = FL_FN(train_perm)(t, work, &base);
    const ptrdiff_t per_thread = FL_FN(train_thread_bytes)(t);

#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
#ifdef _OPENMP
        const int me = omp_get_thread_num();
#else
        const int me = 0;
#endif
        FL_FN(train_scratch) w;
        FL_FN(train_scratch_at)(t, &w, base + me * per_thread, dWt_all, db_all, me);
        FL_T *gw[256], *gb[256];
        for (int k = 0; k < nt; k++) {
            gw[k] = dWt_all + k * wsize;
            gb[k] = db_all + k * c;
        }
        for (ptrdiff_t step = s0; step < s1; step++) {
            const ptrdiff_t i0 = step * B;
            const ptrdiff_t m = n - i0 < B ? n - i0 : B;
            /* the batch's labels and weights, and its mean's factor */
            const int64_t *yb = t->y + i0;
            const double *swb = t->sw != NULL ? t->sw + i0 : NULL;
            double denom = 0.0;
            if (t->order != NULL) {
                const intptr_t *idx = t->order + i0;
                for (ptrdiff_t r = 0; r < m; r++) w.yb[r] = t->y[idx[r]];
                yb = w.yb;
                if (swb != NULL) {
                    for (ptrdiff_t r = 0; r < m; r++) w.swb[r] = t->sw[idx[r]];
                    swb = w.swb;
                }
            }
            if (swb != NULL) {
                for (ptrdiff_t r = 0; r < m; r++) denom += swb[r];
            } else {
                denom = (double)m;
            }
            const double scale = denom > 0.0 ? 1.0 / denom : 0.0;
            loss_part[me] = FL_FN(train_batch)(t, &w, i0, m, yb, swb, scale, perm, me, nt);
#ifdef _OPENMP
#pragma omp barrier
#endif
            /* the step's data loss, in thread order (the same in every thread) */
            double data_loss = 0.0;
            for (int k = 0; k < nt; k++) data_loss += loss_part[k];
            data_loss *= scale;
            if (!isfinite(data_loss)) {
                if (me == 0) {
                    bad = step;
                    t->history[step] = data_loss;
                }
                break;      /* every thread sees the same value: all leave together */
            }
            /* the update over this thread's share of W (and of b, by thread 0) */
            const FL_T lr = (FL_T)t->lr[step];
            const int first = t->steps_before + step == 0;
            ptrdiff_t lo, hi;
            fl_train_split(wsize, nt, me, &lo, &hi);
            FL_T *gs[256];
            for (int k = 0; k < nt; k++) gs[k] = gw[k] + lo;
            sq_part[me] = t->reg != 0.0 ? FL_FN(train_sum_sq)(Wt + lo, hi - lo) : 0.0;
            FL_FN(train_update)(Wt + lo, gs, nt, Vt != NULL ? Vt + lo : NULL, hi - lo, lr,
                                (FL_T)(2.0 * t->reg), (FL_T)t->momentum, t->nesterov, first);
            if (me == 0 && b != NULL)
                FL_FN(train_update)(b, gb, nt, Vb, c, lr, 0, (FL_T)t->momentum, t->nesterov,
                                    first);
#ifdef _OPENMP
#pragma omp barrier
#endif
            if (me == 0) {
                double sq = 0.0;
                for (int k = 0; k < nt; k++) sq += sq_part[k];
                t->history[step] = data_loss + t->reg * sq;
            }
        }
    }
    return bad;
}

/* The mean loss over all n rows of X, in order (t->order NULL, t->batch n),
 * and its gradient: dWt_all[0 .. c·d) = dLᵀ/dW (c, d) and db_all[0 .. c) =
 * dL/db, the threads' partial sums added in thread order (no L2 term: the
 * caller adds it).  A call of the linear losses: the same passes as a step
 * of the epoch, without the update. */
static double FL_FN(train_gradient)(const fl_train *t, FL_T *dWt_all, FL_T *db_all, void *work)
{
    const ptrdiff_t n = t->n, c = t->c;
    const int nt = t->threads > 1 ? t->threads : 1;
    const ptrdiff_t wsize = c * t->d;
    double loss_part[256];
    double denom = 0.0;
    char *base;
    const FL_IT *perm = FL_FN(train_perm)(t, work, &base);
    const ptrdiff_t per_thread = FL_FN(train_thread_bytes)(t);
    if (t->sw != NULL) {
        for (ptrdiff_t r = 0; r < n; r++) denom += t->sw[r];
    } else {
        denom = (double)n;
    }
    const double scale = denom > 0.0 ? 1.0 / denom : 0.0;

#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
#ifdef _OPENMP
        const int me = omp_get_thread_num();
#else
        const int me = 0;
#endif
        FL_FN(train_scratch) w;
        FL_FN(train_scratch_at)(t, &w, base + me * per_thread, dWt_all, db_all, me);
        loss_part[me] = FL_FN(train_batch)(t, &w, 0, n, t->y, t->sw, scale, perm, me, nt);
#ifdef _OPENMP
#pragma omp barrier
#endif
        ptrdiff_t lo, hi;
        fl_train_split(wsize, nt, me, &lo, &hi);
        for (int k = 1; k < nt; k++) {
            const FL_T *h = dWt_all + k * wsize;
            for (ptrdiff_t j = lo; j < hi; j++) dWt_all[j] += h[j];
        }
        if (me == 0 && t->b != NULL)
            for (int k = 1; k < nt; k++)
                for (ptrdiff_t j = 0; j < c; j++) db_all[j] += db_all[k * c + j];
    }
    double total = 0.0;
    for (int k = 0; k < nt; k++) total += loss_part[k];
    return total * scale;
}

#endif /* FL_BITS */
