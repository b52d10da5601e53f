/* The training engine and the linear losses on CSR data.
 *
 * A row of X is its non-zeros: values data[p], columns indices[p] for p in
 * [indptr[i], indptr[i+1]).  W is held (d, c), row-major -- the C weights of
 * a column contiguous -- so a row's scores are
 *
 *     S[i, :] = b + Σ_p data[p] · W[indices[p], :]
 *
 * a sum of nnz(x_i) contiguous vectors of c, and its gradient
 * dW[indices[p], :] += data[p] · dS[i, :] touches only the rows of W named
 * by the row's columns.  (The dense engine's (c, d) layout would put the c
 * weights of a column d elements apart: c cache lines a non-zero.)
 *
 * L2 weight decay without sweeping W every step: Bottou's scale trick, as in
 * scikit-learn's sparse SGD.  The engine holds W = α·V; a step's decay
 * (1 - lr·2·reg) multiplies α alone, and the data gradient g of a touched
 * row is applied to V as -lr·g/α.  Without momentum this is the dense
 * engine's update (torch.optim.SGD with weight decay 2·reg) exactly, up to
 * rounding.  When |α| falls below FL_SPARSE_MIN_SCALE, W is materialised
 * (V *= α, α = 1), a sweep of W every few thousand steps at most.  The
 * step's L2 term reg·ΣW² = reg·α²·ΣV², with ΣV² kept up to date by the
 * changes of the touched rows (and recomputed at every call's start).
 *
 * Momentum on sparse data ("lazy" momentum, as TensorFlow's lazy optimizers):
 * the velocity of row j of W holds only the data gradient; it is updated
 * (v = μ·v + g) and applied (W -= lr·v, or lr·(g + μ·v) with Nesterov) only
 * at the steps whose batch stores an entry in column j (explicit zeros
 * included); the weight decay is applied to every weight at every step, not
 * through the velocity.  The intercept, touched by every step, follows the
 * dense rule.  reference.sparse_train_epoch is the twin of exactly this.
 *
 * The gradient of W is never stored: the update is linear in it, so each
 * entry of the batch adds its term x_v·dS[i, :] (times -lr/α) to its row of
 * W directly, after the whole batch was scored (with momentum, a column's
 * first entry of the step applies the velocity's share first: see
 * csr_apply).  A non-zero costs one random row of W read to score and one
 * read-modify-write to update -- no (d, c) gradient buffer to fetch, add
 * into and clear.
 *
 * Threads: an epoch is a sequence of tasks, as in train.h: for each step,
 * nt scoring tasks, then nt update tasks.  Scoring task k takes share k of
 * the batch's groups of FL_SPARSE_G rows (as fl_train_split splits them):
 * their scores, their loss and dS, and their entries listed by the share
 * that owns their column (chunk q of 64 columns -- whole cache lines of W's
 * rows -- belongs to share q mod nt).  Update task k applies the entries of
 * its columns, every scoring share's list in share order: the batch's order.
 * A task starts once every task of the phases before it is done; threads
 * claim tasks from one shared counter, so a thread that is not running
 * holds up at most the task it holds.  W, b and the velocity do not depend
 * on the thread count (a column's entries are applied in the batch's order;
 * the loss and the intercepts are sums over the batch's groups and rows in
 * order); the history's L2 term sums ΣW² by share, up to rounding.
 *
 * The CSR arrays are checked by kernels/sparse.pxi before any call here
 * (indptr from 0, non-decreasing, ending at nnz; every column in [0, d)).
 */
#ifndef FL_BITS
#ifndef FASTLOSS_SIMD_SPARSE_H
#define FASTLOSS_SIMD_SPARSE_H

#include "train.h"

#define FL_SPARSE_MIN_SCALE 1e-9
#if defined(_MSC_VER)
#define FL_SPARSE_RESTRICT __restrict
#else
#define FL_SPARSE_RESTRICT __restrict__
#endif
/* Classes scored with a row's sums on the stack (more: the sums in S itself). */
#define FL_SPARSE_CMAX 64
/* The epoch's rows in groups of FL_SPARSE_G (a share of a step: whole groups;
 * a multiple of every FL_ROWS, as train.h's groups, for sce.h's row blocks);
 * shares at most FL_SPARSE_MAXT; columns owned by chunks of 2^FL_SPARSE_CHUNK. */
#define FL_SPARSE_G FL_TRAIN_G
#define FL_SPARSE_MAXT 64
#define FL_SPARSE_CHUNK 6
/* The groups ahead whose rows a share prefetches. */
#ifndef FL_SPARSE_AHEAD
#define FL_SPARSE_AHEAD 2
#endif

#include "csr.h"     /* fl_csr: a CSR matrix's arrays, and their check */

#define FL_TEMPLATE "sparse.h"
#include "template.h"

#endif /* FASTLOSS_SIMD_SPARSE_H */

#else /* FL_BITS */

/* The column of entry p. */
#define FL_CSR_COL(x, p, idx64) \
    ((idx64) ? (ptrdiff_t)((const int64_t *)(x)->indices)[p] \
             : (ptrdiff_t)((const int32_t *)(x)->indices)[p])

/* S[j] = alpha·Σ_p data[p]·W[indices[p]·c + j] + b[j] over the non-zeros
 * [p0, p1): a sum of contiguous rows of W, which arrive from memory in no
 * order a hardware prefetcher foresees -- the row FL_SPARSE_PF entries ahead
 * is prefetched.  c and idx64 are constants where this is inlined. */
#define FL_SPARSE_PF 24
FL_INLINE void FL_FN(csr_score_impl)(const fl_csr *x, ptrdiff_t p0, ptrdiff_t p1,
                                     ptrdiff_t pn0, ptrdiff_t pn1, const FL_T *FL_SPARSE_RESTRICT W,
                                     const FL_T *b, FL_T alpha, FL_T *FL_SPARSE_RESTRICT S,
                                     const ptrdiff_t c, const int idx64)
{
    /* two sums, of the even and the odd entries: two chains of additions
     * (with c a constant, in registers) where one would wait on the last */
    FL_T a0[FL_SPARSE_CMAX], a1[FL_SPARSE_CMAX];
    const FL_T *data = (const FL_T *)x->data;
    ptrdiff_t j, p;
    for (j = 0; j < c; j++) a0[j] = a1[j] = 0;
    for (p = p0; p < p1; p++) {
        /* the row FL_SPARSE_PF entries ahead, in this row or the next one [pn0, pn1) */
        const int in_row = p + FL_SPARSE_PF < p1;
        const ptrdiff_t ahead = in_row ? p + FL_SPARSE_PF : pn0 + (p + FL_SPARSE_PF - p1);
        if (in_row || ahead < pn1) {
            const FL_T *q = W + FL_CSR_COL(x, ahead, idx64) * c;
            __builtin_prefetch(q, 0, 3);
            __builtin_prefetch(q + c - 1, 0, 3);
        }
        const FL_T xv = data[p];
        const FL_T *w = W + FL_CSR_COL(x, p, idx64) * c;
        if ((p - p0) & 1) {
            for (j = 0; j < c; j++) a1[j] += xv * w[j];
        } else {
            for (j = 0; j < c; j++) a0[j] += xv * w[j];
        }
    }
    for (j = 0; j < c; j++) S[j] = alpha * (a0[j] + a1[j]) + (b != NULL ? b[j] : 0);
}

/* The general case: c classes at most FL_SPARSE_CMAX at a time. */
FL_INLINE void FL_FN(csr_score_wide)(const fl_csr *x, ptrdiff_t p0, ptrdiff_t p1,
                                     ptrdiff_t pn0, ptrdiff_t pn1, const FL_T *FL_SPARSE_RESTRICT W,
                                     const FL_T *b, FL_T alpha, FL_T *FL_SPARSE_RESTRICT S,
                                     const ptrdiff_t c, const int idx64)
{
    if (c <= FL_SPARSE_CMAX) {
        FL_FN(csr_score_impl)(x, p0, p1, pn0, pn1, W, b, alpha, S, c, idx64);
        return;
    }
    const FL_T *data = (const FL_T *)x->data;
    ptrdiff_t j, p;
    for (j = 0; j < c; j++) S[j] = 0;
    for (p = p0; p < p1; p++) {
        if (p + FL_SPARSE_PF < p1) __builtin_prefetch(W + FL_CSR_COL(x, p + FL_SPARSE_PF, idx64) * c, 0, 3);
        const FL_T xv = data[p];
        const FL_T *w = W + FL_CSR_COL(x, p, idx64) * c;
        for (j = 0; j < c; j++) S[j] += xv * w[j];
    }
    for (j = 0; j < c; j++) S[j] = alpha * S[j] + (b != NULL ? b[j] : 0);
}

static inline void FL_FN(csr_score)(const fl_csr *x, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t pn0,
                                    ptrdiff_t pn1, const FL_T *W, const FL_T *b, FL_T alpha,
                                    FL_T *S, ptrdiff_t c)
{
    if (x->idx64) {
        if (c == 2) FL_FN(csr_score_impl)(x, p0, p1, pn0, pn1, W, b, alpha, S, 2, 1);
        else FL_FN(csr_score_wide)(x, p0, p1, pn0, pn1, W, b, alpha, S, c, 1);
    } else {
        if (c == 2) FL_FN(csr_score_impl)(x, p0, p1, pn0, pn1, W, b, alpha, S, 2, 0);
        else FL_FN(csr_score_wide)(x, p0, p1, pn0, pn1, W, b, alpha, S, c, 0);
    }
}

/* The cache lines of the non-zeros (values and columns) of rows
 * order[k0 .. k1) (or k0 .. k1), into L2: the rows of a shuffled epoch are
 * scattered over X.  Always inlined: gcc takes a function of prefetches and
 * loads alone for a pure one, and drops a call whose result is void (a
 * static inline one was never run). */
FL_INLINE void FL_FN(csr_prefetch_rows)(const fl_csr *x, const intptr_t *order,
                                        ptrdiff_t k0, ptrdiff_t k1)
{
    const int isz = x->idx64 ? 8 : 4;
    for (ptrdiff_t k = k0; k < k1; k++) {
        const ptrdiff_t i = order != NULL ? (ptrdiff_t)order[k] : k;
        const ptrdiff_t p0 = fl_csr_ptr(x, i), p1 = fl_csr_ptr(x, i + 1);
        const char *dp = (const char *)x->data, *ip = (const char *)x->indices;
        for (ptrdiff_t q = p0 * (ptrdiff_t)sizeof(FL_T); q < p1 * (ptrdiff_t)sizeof(FL_T); q += 64)
            __builtin_prefetch(dp + q, 0, 2);
        for (ptrdiff_t q = p0 * isz; q < p1 * isz; q += 64) __builtin_prefetch(ip + q, 0, 2);
    }
}

/* G[indices[p]·c + j] += data[p]·dS[j] over [p0, p1) (the linear losses'
 * gradient, all rows at once). */
static inline void FL_FN(csr_grad)(const fl_csr *x, ptrdiff_t p0, ptrdiff_t p1, const FL_T *dS,
                                   FL_T *G, ptrdiff_t c)
{
    const FL_T *data = (const FL_T *)x->data;
    for (ptrdiff_t p = p0; p < p1; p++) {
        const FL_T xv = data[p];
        FL_T *g = G + FL_CSR_COL(x, p, x->idx64) * c;
        for (ptrdiff_t j = 0; j < c; j++) g[j] += xv * dS[j];
    }
}
/* This thread's share (me of nt) of the groups of all n rows, in order
 * (the linear losses): scored in groups of FL_TRAIN_G, their loss's
 * gradient (times scale) into the group's dS and then into G (d, c).
 * Returns the loss sum. */
static inline double FL_FN(csr_batch)(const fl_train *t, const fl_csr *x, double scale,
                                      const void *perm, const FL_T *W, FL_T *S, FL_T *dS,
                                      FL_T *G, int me, int nt)
{
    const ptrdiff_t c = t->c, m = t->n;
    const ptrdiff_t ngroups = (m + FL_TRAIN_G - 1) / FL_TRAIN_G;
    ptrdiff_t glo, ghi, k;
    double total = 0.0;
    fl_train_split(ngroups, nt, me, &glo, &ghi);
    for (ptrdiff_t gi = glo; gi < ghi; gi++) {
        const ptrdiff_t r0 = gi * FL_TRAIN_G;
        const ptrdiff_t g = m - r0 < FL_TRAIN_G ? m - r0 : FL_TRAIN_G;
        for (k = 0; k < g; k++) {
            const ptrdiff_t i = r0 + k;
            const ptrdiff_t pn0 = k + 1 < g ? fl_csr_ptr(x, i + 1) : 0;
            const ptrdiff_t pn1 = k + 1 < g ? fl_csr_ptr(x, i + 2) : 0;
            FL_FN(csr_score)(x, fl_csr_ptr(x, i), fl_csr_ptr(x, i + 1), pn0, pn1, W, NULL,
                             (FL_T)1, S + k * c, c);
        }
        total += FL_FN(train_loss)(t, S, dS, t->y + r0, t->sw != NULL ? t->sw + r0 : NULL, g,
                                   scale, perm);
        for (k = 0; k < g; k++)
            FL_FN(csr_grad)(x, fl_csr_ptr(x, r0 + k), fl_csr_ptr(x, r0 + k + 1), dS + k * c, G, c);
    }
    return total;
}

/* w[j] -= a·u[j] over j < c (optionally v[j] = mu·v[j] first, for the
 * velocity's share), with qacc[j] += w_new² - w_old² if qacc is not NULL:
 * ΣW² kept up to date class by class (a vector loop, no reduction). */
#define FL_CSR_AXPY(c, w, a, u, qacc)                                                      \
    do {                                                                                   \
        if ((qacc) != NULL) {                                                              \
            for (ptrdiff_t j_ = 0; j_ < (c); j_++) {                                       \
                const FL_T wo_ = (w)[j_], wn_ = wo_ - (a) * (u)[j_];                       \
                (w)[j_] = wn_;                                                             \
                (qacc)[j_] += (double)wn_ * (double)wn_ - (double)wo_ * (double)wo_;       \
            }                                                                              \
        } else {                                                                           \
            for (ptrdiff_t j_ = 0; j_ < (c); j_++) (w)[j_] -= (a) * (u)[j_];               \
        }                                                                                  \
    } while (0)

/* The update of the rows of W by one entry of the batch (csr_entry), and by
 * all the entries of its rows (csr_apply_impl) or of a list (csr_apply_list_impl,
 * the entries of one thread's columns): each entry, in the batch's order, adds
 * its term of the gradient, g_e = data[p]·dSb[r], straight to W's row (held
 * as V = W/alpha, so the step is s = lr/alpha).  The update is linear in g:
 * summed over a column's entries it is the update by its gradient g = Σ g_e,
 * which is never stored.  With momentum, at a column's first entry of the
 * step (marks[col] != stamp) its velocity's share: without Nesterov
 * W -= lr·(μv + g) (v = μv, W -= s·v, then per entry v += g_e, W -= s·g_e);
 * with Nesterov W -= lr·(g + μ(μv + g)) (W -= s·μ²v, v = μv, then per entry
 * v += g_e, W -= s·(1 + μ)·g_e).  qacc (or NULL) gets the changes of the
 * squares.  c, idx64 constants where this is inlined. */
FL_INLINE void FL_FN(csr_entry)(FL_T *w, FL_T *v, FL_T xv, const FL_T *ds, FL_T s, FL_T s2,
                                FL_T sg, FL_T mu, int nesterov, int64_t *mark, int64_t stamp,
                                double *qacc, const ptrdiff_t c)
{
    ptrdiff_t j;
    if (v != NULL) {
        if (*mark != stamp) {
            *mark = stamp;
            if (nesterov) {
                FL_CSR_AXPY(c, w, s2, v, qacc);
                for (j = 0; j < c; j++) v[j] *= mu;
            } else {
                for (j = 0; j < c; j++) v[j] *= mu;
                FL_CSR_AXPY(c, w, s, v, qacc);
            }
        }
        for (j = 0; j < c; j++) v[j] += xv * ds[j];
    }
    const FL_T xs = sg * xv;
    FL_CSR_AXPY(c, w, xs, ds, qacc);
}

/* The rows of W (and V) of column col into cache, for writing. */
FL_INLINE void FL_FN(csr_prefetch_col)(FL_T *W, FL_T *Vv, int64_t *marks, ptrdiff_t col,
                                       ptrdiff_t c)
{
    __builtin_prefetch(W + col * c, 1, 3);
    __builtin_prefetch(W + col * c + c - 1, 1, 3);
    if (Vv != NULL) {
        __builtin_prefetch(Vv + col * c, 1, 3);
        __builtin_prefetch(Vv + col * c + c - 1, 1, 3);
        __builtin_prefetch(marks + col, 1, 3);
    }
}

/* Every entry of the batch's rows [i0, i0+m), in order, on W (d, c):
 * row r's dS is dS[r·lds .. r·lds + c).  Without momentum a row whose dS
 * is all zero (the hinge of a row outside every margin) is skipped: its
 * entries would add zeros.  c, idx64 constants where this is inlined. */
FL_INLINE void FL_FN(csr_apply_impl)(const fl_csr *x, const intptr_t *order, ptrdiff_t i0,
                                     ptrdiff_t m, const FL_T *dS, ptrdiff_t lds, FL_T *W,
                                     FL_T *Vv, FL_T s, FL_T mu, int nesterov, int64_t *marks,
                                     int64_t stamp, double *qacc, const ptrdiff_t c,
                                     const int idx64)
{
    const FL_T *data = (const FL_T *)x->data;
    const FL_T sg = nesterov ? s * (1 + mu) : s, s2 = s * mu * mu;
    for (ptrdiff_t r = 0; r < m; r++) {
        const FL_T *ds = dS + r * lds;
        if (Vv == NULL) {
            int any = 0;
            for (ptrdiff_t j = 0; j < c; j++) any |= ds[j] != 0;
            if (!any) continue;
        }
        const ptrdiff_t i = order != NULL ? (ptrdiff_t)order[i0 + r] : i0 + r;
        const ptrdiff_t p0 = fl_csr_ptr(x, i), p1 = fl_csr_ptr(x, i + 1);
        for (ptrdiff_t p = p0; p < p1; p++) {
            if (p + FL_SPARSE_PF < p1)
                FL_FN(csr_prefetch_col)(W, Vv, marks, FL_CSR_COL(x, p + FL_SPARSE_PF, idx64), c);
            const ptrdiff_t col = FL_CSR_COL(x, p, idx64);
            FL_FN(csr_entry)(W + col * c, Vv != NULL ? Vv + col * c : NULL, data[p], ds, s, s2,
                             sg, mu, nesterov, marks + col, stamp, qacc, c);
        }
    }
}

static inline void FL_FN(csr_apply)(const fl_csr *x, const intptr_t *order, ptrdiff_t i0,
                                    ptrdiff_t m, const FL_T *dS, ptrdiff_t lds, FL_T *W,
                                    FL_T *Vv, FL_T s, FL_T mu, int nesterov, int64_t *marks,
                                    int64_t stamp, double *qacc, ptrdiff_t c)
{
#define FL_CSR_APPLY(cc, i64)                                                               \
    FL_FN(csr_apply_impl)(x, order, i0, m, dS, lds, W, Vv, s, mu, nesterov, marks, stamp,   \
                          qacc, cc, i64)
    if (x->idx64) {
        if (c == 2) FL_CSR_APPLY(2, 1);
        else FL_CSR_APPLY(c, 1);
    } else {
        if (c == 2) FL_CSR_APPLY(2, 0);
        else FL_CSR_APPLY(c, 0);
    }
#undef FL_CSR_APPLY
}

#include "sparse_epoch.h"   /* the epoch: csr_phase_score, csr_phase_update, sparse_epoch */

/* The mean loss over all n rows (in order) and its gradient dW (d, c) into
 * G_all[0 .. d·c): per thread a partial dW, added in thread order.  G_all:
 * (threads, d, c), zeroed.  Returns NAN if out of memory (*oom set). */
static double FL_FN(sparse_gradient)(const fl_train *t, const fl_csr *x, FL_T *G_all, int *oom)
{
    const ptrdiff_t d = t->d, c = t->c;
    const int nt = t->threads > 1 ? t->threads : 1;
    const ptrdiff_t per = FL_SPARSE_AL(2 * FL_TRAIN_G * c * sizeof(FL_T));
    double loss_part[256];
    char *work = (char *)malloc(FL_SPARSE_AL(FL_ROWS * c * sizeof(FL_IT)) + 64 + nt * per), *p;
    *oom = work == NULL;
    if (work == NULL) return NAN;
    const FL_IT *perm = FL_FN(train_perm)(t, work, &p);
    const double scale = fl_train_mean_scale(t, 0, t->n);
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        const int me = fl_thread_num();
        const int nth = fl_team_size();
        for (int k = me; k < nt; k += nth) {   /* (OpenMP may give fewer threads) */
            FL_T *S = (FL_T *)(p + k * per);
            loss_part[k] = FL_FN(csr_batch)(t, x, scale, perm, (const FL_T *)t->Wt, S,
                                            S + FL_TRAIN_G * c, G_all + k * d * c, k, nt);
        }
#ifdef _OPENMP
#pragma omp barrier
#endif
        ptrdiff_t lo, hi;
        fl_train_split(d * c, nth, me, &lo, &hi);
        for (int k = 1; k < nt; k++) {
            const FL_T *h = G_all + k * d * c;
            for (ptrdiff_t e = lo; e < hi; e++) G_all[e] += h[e];
        }
    }
    free(work);
    double total = 0.0;
    for (int k = 0; k < nt; k++) total += loss_part[k];
    return total * scale;
}

#endif /* FL_BITS */
