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
 * X is read once per epoch.  Threads: a batch's groups are split into shares
 * (contiguous, as libgomp's static split), each adding into its own dW and
 * db; the partial sums are added in share order, element by element, by the
 * update's shares -- so a given thread count gives the same model bit for
 * bit.  One parallel region an epoch; the shares are tasks claimed from a
 * counter, no barriers (see train_epoch).
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
#if defined(__unix__) || defined(__APPLE__)
#include <sched.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

/* This thread's number in the running team, and the team's size (0 and 1
 * outside a parallel region or without OpenMP; the team may be smaller than
 * num_threads asked). */
#ifdef _OPENMP
#define fl_thread_num() omp_get_thread_num()
#define fl_team_size() omp_get_num_threads()
#else
#define fl_thread_num() 0
#define fl_team_size() 1
#endif

#include "call.h"
#include "hinge.h"
#include "sce.h"

/* Lanes of a vector (1 in the scalar sections): the steps of the product loops. */
#if FL_VECTORS
#define FL_TRAIN_NV FL_N
#else
#define FL_TRAIN_NV 1
#endif

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

/* The factor of a batch's mean: 1 / the sum of its rows' weights (the rows
 * order[i0 .. i0+m), or i0 .. i0+m without an order), 1/m without weights,
 * 0 if the weights sum to 0.  Summed in the batch's order. */
static inline double fl_train_mean_scale(const fl_train *t, ptrdiff_t i0, ptrdiff_t m)
{
    double denom = 0.0;
    if (t->sw == NULL) {
        denom = (double)m;
    } else if (t->order != NULL) {
        for (ptrdiff_t r = 0; r < m; r++) denom += t->sw[t->order[i0 + r]];
    } else {
        for (ptrdiff_t r = 0; r < m; r++) denom += t->sw[i0 + r];
    }
    return denom > 0.0 ? 1.0 / denom : 0.0;
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

#if defined(__GNUC__) || defined(__clang__)
#define FL_TRAIN_ATOMICS 1
#define fl_load_acq(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define fl_store_rel(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define fl_fetch_add(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
/* 1 if *p was 0 and is now 1 */
#define fl_claim(p) __extension__({ int zero_ = 0; \
    __atomic_compare_exchange_n((p), &zero_, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE); })
#else   /* no GCC atomics (MSVC): one thread, the same tasks in order */
#define FL_TRAIN_ATOMICS 0
#define fl_load_acq(p) (*(p))
#define fl_store_rel(p, v) (*(p) = (v))
#define fl_fetch_add(p, v) ((*(p) += (v)) - (v))
#define fl_claim(p) (*(p) == 0 ? (*(p) = 1) : 0)
#endif

/* Wait until *done >= need or *stop; a few hundred pauses, then yield the
 * core between looks (a waiting thread gives its time slice to one that
 * works, maybe its sibling). */
static inline void fl_train_wait(const long long *done, long long need, const int *stop)
{
    int spins = 0;
    while (fl_load_acq(done) < need && !fl_load_acq(stop)) {
        if (++spins < 256) {
#if FL_X86 && (defined(__GNUC__) || defined(__clang__))
            __builtin_ia32_pause();
#endif
        } else {
#if defined(__unix__) || defined(__APPLE__)
            sched_yield();
#endif
        }
    }
}

/* Claim the next task of an epoch (per step, nt tasks of one phase, then nt
 * of the next) and wait until every task of the phases before it is done:
 * 1 with *phase (the step's phases counted from the first) and *k (the
 * task's share) set, or 0 when no task is left or a step stopped the epoch. */
static inline int fl_train_claim(long long *next, long long ntasks, int nt, const long long *done,
                                 const int *stop, long long *phase, int *k)
{
    const long long T = fl_fetch_add(next, 1);
    if (T >= ntasks) return 0;
    *phase = T / nt;
    *k = (int)(T % nt);
    fl_train_wait(done, *phase * nt, stop);
    return !fl_load_acq(stop);
}

/* A task that found step's loss not finite: the first such task records the
 * step (*bad) and its loss (history); each counts itself done, and stops. */
static inline void fl_train_stop(const fl_train *t, int *stop, long long *done, ptrdiff_t step,
                                 double loss, ptrdiff_t *bad)
{
    if (fl_claim(stop)) {
        *bad = step;
        t->history[step] = loss;
    }
    fl_fetch_add(done, 1);
}

#define FL_TEMPLATE "train.h"
#include "template.h"

#endif /* FASTLOSS_SIMD_TRAIN_H */

#else /* FL_BITS: the body of template.h's two passes */

#include "train_products.h"   /* the two products of a group: train_score, train_grad */

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
        /* the group's rows, and the next ones this thread will score, to
         * prefetch into its core's L2 (in a shuffled order no hardware
         * prefetcher foresees them; in X's order it does, but not as evenly):
         * its next group of this batch, or after its last one, its first
         * group of the next batch (the batches' groups split alike) */
        ptrdiff_t p0 = i0 + r0 + g, gn = 0;     /* in the epoch's order */
        if (gi + 1 < ghi) {
            gn = m - (r0 + G) < G ? m - (r0 + G) : G;
        } else if (i0 + m < n) {
            const ptrdiff_t mn = n - (i0 + m) < t->batch ? n - (i0 + m) : t->batch;
            ptrdiff_t lo, hi;
            fl_train_split((mn + G - 1) / G, nt, me, &lo, &hi);
            if (lo < hi) {
                p0 = i0 + m + lo * G;
                gn = mn - lo * G < G ? mn - lo * G : G;
            }
        }
        if (idx != NULL) {
            for (ptrdiff_t k = 0; k < g; k++) w->rows[k] = X + idx[r0 + k] * t->ld;
            for (ptrdiff_t k = 0; k < gn; k++) w->rows[g + k] = X + t->order[p0 + k] * t->ld;
        } else {
            for (ptrdiff_t k = 0; k < g; k++) w->rows[k] = X + (i0 + r0 + k) * t->ld;
            for (ptrdiff_t k = 0; k < gn; k++) w->rows[g + k] = X + (p0 + k) * t->ld;
        }
        fl_train_pf pf = {(const char *const *)(w->rows + g), gn,
                          (d * (ptrdiff_t)sizeof(FL_T) + 63) / 64, 0, 0, 0};
        /* the prefetches spread evenly over the steps of both products: the
         * fetch of the next group's rows then asks for half the bandwidth it
         * would during the scores alone (at D = 512, C = 10 that is what keeps
         * the core's line-fill buffers from filling up and stalling it) */
        const ptrdiff_t steps = (g / FL_TRAIN_R) * ((c + FL_TRAIN_CB - 1) / FL_TRAIN_CB)
                                * ((d + FL_TRAIN_NV - 1) / FL_TRAIN_NV)
                                + ((c + FL_TRAIN_GB - 1) / FL_TRAIN_GB) * (d / (2 * FL_TRAIN_NV))
                                  * g
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

/* The epoch's work is a sequence of tasks, in this order: for each step,
 * nt gradient tasks (task k: the groups of the batch that share k gets, as
 * OpenMP's static split would give thread k, added into partial gradient k),
 * then nt update tasks (task k: element range k of W, the partial gradients
 * added in share order; task 0 also updates b).  The threads claim tasks by
 * one shared counter, in order, and a task starts once every task of the
 * phases before it is done.  What a task computes depends only on its share
 * k, never on the thread that runs it, so a given thread count gives the
 * same bits -- and a thread that is not running (the machine is shared, or
 * has fewer free cores than threads) holds nobody up: the running ones take
 * its tasks.  (With a barrier a step, an epoch took 20-80x as long whenever
 * another process held the second core.) */
/* Steps [s0, s1) of the epoch (0-based within it).  Returns -1, or the first
 * step whose data loss was not finite (history gets that loss; the step's
 * update is not made; the loop stops).  dWt/db: the run's gradient buffers,
 * (threads, c, d) and (threads, c); work: fl_train_work_bytes_* bytes. */
static ptrdiff_t FL_FN(train_epoch)(const fl_train *t, ptrdiff_t s0, ptrdiff_t s1, FL_T *dWt_all,
                                    FL_T *db_all, void *work)
{
    const ptrdiff_t n = t->n, d = t->d, c = t->c, B = t->batch, G = t->group;
    FL_T *Wt = (FL_T *)t->Wt, *b = (FL_T *)t->b, *Vt = (FL_T *)t->Vt, *Vb = (FL_T *)t->Vb;
    const int nt = t->threads > 1 ? t->threads : 1;            /* shares of a step */
    const int nthreads = FL_TRAIN_ATOMICS ? nt : 1;            /* threads that run them */
    const ptrdiff_t wsize = c * d;
    const long long ntasks = 2LL * (s1 - s0) * nt;
    ptrdiff_t bad = -1;
    double loss_part[256], sq_part[256];    /* per share (<= 256, checked) */
    double step_scale = 0.0;                /* the batch's mean factor (share 0's) */
    long long next = 0, done = 0;   /* tasks claimed, tasks finished */
    int stop = 0;                   /* a step's loss was not finite */
    char *base;
    const FL_IT *perm = FL_FN(train_perm)(t, work, &base);
    const ptrdiff_t per_thread = FL_FN(train_thread_bytes)(t);
    (void)nthreads;     /* (without OpenMP) */
    loss_part[0] = 0.0;  /* (read only after its phase: for -Wall) */

#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
#endif
    {
        const int me = fl_thread_num();
        FL_FN(train_scratch) w;
        FL_FN(train_scratch_at)(t, &w, base + me * per_thread, dWt_all, db_all, me);
        long long phase_index;      /* 2·(step - s0) + phase */
        int k;
        while (fl_train_claim(&next, ntasks, nt, &done, &stop, &phase_index, &k)) {
            const ptrdiff_t step = s0 + (ptrdiff_t)(phase_index / 2);
            const int update = (int)(phase_index % 2);
            const ptrdiff_t i0 = step * B;
            const ptrdiff_t m = n - i0 < B ? n - i0 : B;
            if (!update) {
                /* share k's groups: their labels and weights, the batch's mean factor */
                ptrdiff_t glo, ghi;
                fl_train_split((m + G - 1) / G, nt, k, &glo, &ghi);
                const ptrdiff_t r_lo = glo * G, r_hi = ghi * G < m ? ghi * G : m;
                const int64_t *yb = t->y + i0;
                const double *swb = t->sw != NULL ? t->sw + i0 : NULL;
                if (t->order != NULL) {
                    const intptr_t *idx = t->order + i0;
                    for (ptrdiff_t r = r_lo; r < r_hi; r++) w.yb[r] = t->y[idx[r]];
                    yb = w.yb;
                    if (swb != NULL) {
                        for (ptrdiff_t r = r_lo; r < r_hi; r++) w.swb[r] = t->sw[idx[r]];
                        swb = w.swb;
                    }
                }
                const double scale = fl_train_mean_scale(t, i0, m);
                w.dWt = dWt_all + k * wsize;
                w.db = b != NULL ? db_all + k * c : NULL;
                loss_part[k] = FL_FN(train_batch)(t, &w, i0, m, yb, swb, scale, perm, k, nt);
                if (k == 0) step_scale = scale;
                fl_fetch_add(&done, 1);
                continue;
            }
            /* the step's data loss, in share order (the same in every task) */
            double data_loss = 0.0;
            for (int q = 0; q < nt; q++) data_loss += loss_part[q];
            data_loss *= step_scale;
            if (!isfinite(data_loss)) {
                fl_train_stop(t, &stop, &done, step, data_loss, &bad);
                break;
            }
            /* share k of W (and b, with share 0): the partial gradients added in share order */
            const FL_T lr = (FL_T)t->lr[step];
            const int first = t->steps_before + step == 0;
            ptrdiff_t lo, hi;
            fl_train_split(wsize, nt, k, &lo, &hi);
            FL_T *gs[256];
            for (int q = 0; q < nt; q++) gs[q] = dWt_all + q * wsize + lo;
            sq_part[k] = t->reg != 0.0 ? FL_FN(train_sum_sq)(Wt + lo, hi - lo) : 0.0;
            FL_FN(train_update)(Wt + lo, gs, nt, Vt != NULL ? Vt + lo : NULL, hi - lo, lr,
                                (FL_T)(2.0 * t->reg), (FL_T)t->momentum, t->nesterov, first);
            if (k == 0 && b != NULL) {
                FL_T *gb[256];
                for (int q = 0; q < nt; q++) gb[q] = db_all + q * c;
                FL_FN(train_update)(b, gb, nt, Vb, c, lr, 0, (FL_T)t->momentum, t->nesterov,
                                    first);
            }
            if (fl_fetch_add(&done, 1) + 1 == (phase_index + 1) * nt) {
                /* the step's last task: its loss, with the L2 term before the update */
                double sq = 0.0;
                for (int q = 0; q < nt; q++) sq += sq_part[q];
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
    char *base;
    const FL_IT *perm = FL_FN(train_perm)(t, work, &base);
    const ptrdiff_t per_thread = FL_FN(train_thread_bytes)(t);
    const double scale = fl_train_mean_scale(t, 0, n);

#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        const int me = fl_thread_num();
        const int nth = fl_team_size();
        for (int k = me; k < nt; k += nth) {   /* (OpenMP may give fewer threads) */
            FL_FN(train_scratch) w;
            FL_FN(train_scratch_at)(t, &w, base + k * per_thread, dWt_all, db_all, k);
            loss_part[k] = FL_FN(train_batch)(t, &w, 0, n, t->y, t->sw, scale, perm, k, nt);
        }
#ifdef _OPENMP
#pragma omp barrier
#endif
        ptrdiff_t lo, hi;
        fl_train_split(wsize, nth, me, &lo, &hi);
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
