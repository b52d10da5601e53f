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
 * Threads: the batch's groups of rows are split over the threads as in
 * train.h; each accumulates its dW into its own (d, c) buffer, kept zero
 * between steps, and lists the columns it touched (a per-thread stamp array
 * says whether a column is listed already).  After a barrier, a column is
 * updated by the first thread (in thread order) that touched it, which adds
 * the threads' partial rows in thread order and zeroes them: a given thread
 * count gives the same model bit for bit.  Two barriers a step.
 *
 * The CSR arrays are checked by kernels/sparse.pxi before any call here
 * (indptr from 0, non-decreasing, ending at nnz; every column in [0, d)).
 */
#ifndef FL_BITS
#ifndef FASTLOSS_SIMD_SPARSE_H
#define FASTLOSS_SIMD_SPARSE_H

#include "train.h"

#define FL_SPARSE_MIN_SCALE 1e-9

/* One CSR matrix: indices and indptr both int32 or both int64 (idx64). */
typedef struct {
    const void *data;
    const void *indices, *indptr;
    int idx64;
} fl_csr;

static inline ptrdiff_t fl_csr_ptr(const fl_csr *x, ptrdiff_t i)
{
    return x->idx64 ? (ptrdiff_t)((const int64_t *)x->indptr)[i]
                    : (ptrdiff_t)((const int32_t *)x->indptr)[i];
}

/* The first position of indptr (n + 1 entries) or indices (nnz) that is not
 * a valid CSR of d columns, as a code: 0 valid; 1 indptr[0] != 0; 2 indptr
 * decreasing at *where; 3 indptr[n] != nnz; 4 indices[*where] outside
 * [0, d).  One read of indptr and indices. */
static inline int fl_csr_check(const fl_csr *x, ptrdiff_t n, ptrdiff_t nnz, ptrdiff_t d,
                               ptrdiff_t *where)
{
    ptrdiff_t i, p;
    *where = 0;
    if (fl_csr_ptr(x, 0) != 0) return 1;
    for (i = 0; i < n; i++)
        if (fl_csr_ptr(x, i + 1) < fl_csr_ptr(x, i)) {
            *where = i + 1;
            return 2;
        }
    if (fl_csr_ptr(x, n) != nnz) {
        *where = n;
        return 3;
    }
    if (x->idx64) {
        const int64_t *ix = (const int64_t *)x->indices;
        for (p = 0; p < nnz; p++)
            if (ix[p] < 0 || ix[p] >= d) { *where = p; return 4; }
    } else {
        const int32_t *ix = (const int32_t *)x->indices;
        for (p = 0; p < nnz; p++)
            if (ix[p] < 0 || (ptrdiff_t)ix[p] >= d) { *where = p; return 4; }
    }
    return 0;
}

#define FL_TEMPLATE "sparse.h"
#include "template.h"

#endif /* FASTLOSS_SIMD_SPARSE_H */

#else /* FL_BITS */

/* S[j] = Σ_p data[p]·W[indices[p]·c + j] over the non-zeros [p0, p1), times
 * alpha, plus b[j]; idx64 a constant where this is inlined. */
FL_INLINE void FL_FN(csr_score_impl)(const fl_csr *x, ptrdiff_t p0, ptrdiff_t p1,
                                     const FL_T *W, const FL_T *b, FL_T alpha, FL_T *S,
                                     ptrdiff_t c, const int idx64)
{
    const FL_T *data = (const FL_T *)x->data;
    ptrdiff_t j, p;
    for (j = 0; j < c; j++) S[j] = 0;
    for (p = p0; p < p1; p++) {
        const ptrdiff_t col = idx64 ? (ptrdiff_t)((const int64_t *)x->indices)[p]
                                    : (ptrdiff_t)((const int32_t *)x->indices)[p];
        const FL_T xv = data[p];
        const FL_T *w = W + col * c;
        for (j = 0; j < c; j++) S[j] += xv * w[j];
    }
    for (j = 0; j < c; j++) S[j] = alpha * S[j] + (b != NULL ? b[j] : 0);
}

static inline void FL_FN(csr_score)(const fl_csr *x, ptrdiff_t p0, ptrdiff_t p1, const FL_T *W,
                                    const FL_T *b, FL_T alpha, FL_T *S, ptrdiff_t c)
{
    if (x->idx64) FL_FN(csr_score_impl)(x, p0, p1, W, b, alpha, S, c, 1);
    else FL_FN(csr_score_impl)(x, p0, p1, W, b, alpha, S, c, 0);
}

/* G[indices[p]·c + j] += data[p]·dS[j] over [p0, p1); the columns not yet
 * stamped `stamp` are stamped and listed in touched (NULL: no list). */
FL_INLINE void FL_FN(csr_grad_impl)(const fl_csr *x, ptrdiff_t p0, ptrdiff_t p1,
                                    const FL_T *dS, FL_T *G, ptrdiff_t c, int64_t *marks,
                                    int64_t stamp, ptrdiff_t *touched, ptrdiff_t *ntouched,
                                    const int idx64)
{
    const FL_T *data = (const FL_T *)x->data;
    ptrdiff_t j, p;
    for (p = p0; p < p1; p++) {
        const ptrdiff_t col = idx64 ? (ptrdiff_t)((const int64_t *)x->indices)[p]
                                    : (ptrdiff_t)((const int32_t *)x->indices)[p];
        const FL_T xv = data[p];
        FL_T *g = G + col * c;
        for (j = 0; j < c; j++) g[j] += xv * dS[j];
        if (touched != NULL && marks[col] != stamp) {
            marks[col] = stamp;
            touched[(*ntouched)++] = col;
        }
    }
}

static inline void FL_FN(csr_grad)(const fl_csr *x, ptrdiff_t p0, ptrdiff_t p1, const FL_T *dS,
                                   FL_T *G, ptrdiff_t c, int64_t *marks, int64_t stamp,
                                   ptrdiff_t *touched, ptrdiff_t *ntouched)
{
    if (x->idx64)
        FL_FN(csr_grad_impl)(x, p0, p1, dS, G, c, marks, stamp, touched, ntouched, 1);
    else
        FL_FN(csr_grad_impl)(x, p0, p1, dS, G, c, marks, stamp, touched, ntouched, 0);
}

/* The rows [r0, r0+m) of the batch (row i = order[k], or k without order)
 * of this thread's share: scored in groups of FL_TRAIN_G, their loss's
 * gradient (times scale) added into G (d, c) and db (c), the touched columns
 * listed.  Returns the loss sum. */
static inline double FL_FN(csr_batch)(const fl_train *t, const fl_csr *x, const intptr_t *order,
                                      ptrdiff_t i0, ptrdiff_t m, const int64_t *yb,
                                      const double *swb, double scale, const void *perm,
                                      const FL_T *W, const FL_T *b, FL_T alpha, FL_T *S, FL_T *dS,
                                      FL_T *G, FL_T *db, int64_t *marks, int64_t stamp,
                                      ptrdiff_t *touched, ptrdiff_t *ntouched, int me, int nt)
{
    const ptrdiff_t c = t->c;
    const ptrdiff_t ngroups = (m + FL_TRAIN_G - 1) / FL_TRAIN_G;
    ptrdiff_t glo, ghi, k;
    double total = 0.0;
    fl_train_split(ngroups, nt, me, &glo, &ghi);
    for (ptrdiff_t gi = glo; gi < ghi; gi++) {
        const ptrdiff_t r0 = gi * FL_TRAIN_G;
        const ptrdiff_t g = m - r0 < FL_TRAIN_G ? m - r0 : FL_TRAIN_G;
        for (k = 0; k < g; k++) {
            const ptrdiff_t i = order != NULL ? (ptrdiff_t)order[i0 + r0 + k] : i0 + r0 + k;
            FL_FN(csr_score)(x, fl_csr_ptr(x, i), fl_csr_ptr(x, i + 1), W, b, alpha, S + k * c, c);
        }
        total += FL_FN(train_loss)(t, S, dS, yb + r0, swb != NULL ? swb + r0 : NULL, g, scale,
                                   perm);
        for (k = 0; k < g; k++) {
            const ptrdiff_t i = order != NULL ? (ptrdiff_t)order[i0 + r0 + k] : i0 + r0 + k;
            FL_FN(csr_grad)(x, fl_csr_ptr(x, i), fl_csr_ptr(x, i + 1), dS + k * c, G, c, marks,
                            stamp, touched, ntouched);
            if (db != NULL)
                for (ptrdiff_t j = 0; j < c; j++) db[j] += dS[k * c + j];
        }
    }
    return total;
}

/* Scratch of one call: the row-block permutation, then per thread its S and
 * dS (FL_TRAIN_G, c), the batch's labels and weights, its stamps (d) and
 * list of touched columns (d).  NULL if out of memory. */
typedef struct {
    FL_T *S, *dS;
    int64_t *yb;
    double *swb;
    int64_t *marks;
    ptrdiff_t *touched;
    ptrdiff_t ntouched;
} FL_FN(csr_scratch);

static inline void *FL_FN(csr_alloc)(const fl_train *t, int nt, FL_FN(csr_scratch) *w,
                                     const FL_IT **perm)
{
    const ptrdiff_t c = t->c, d = t->d, B = t->batch;
    const ptrdiff_t head = (FL_ROWS * c * (ptrdiff_t)sizeof(FL_IT) + 127) / 64 * 64;
    const ptrdiff_t per = ((2 * FL_TRAIN_G * c) * (ptrdiff_t)sizeof(FL_T)
                           + B * (ptrdiff_t)(sizeof(int64_t) + sizeof(double))
                           + d * (ptrdiff_t)(sizeof(int64_t) + sizeof(ptrdiff_t)) + 127) / 64 * 64;
    char *work = (char *)malloc(head + nt * per), *base;
    if (work == NULL) return NULL;
    *perm = FL_FN(train_perm)(t, work, &base);
    for (int k = 0; k < nt; k++) {
        char *p = base + k * per;
        w[k].S = (FL_T *)p;             p += FL_TRAIN_G * c * sizeof(FL_T);
        w[k].dS = (FL_T *)p;            p += FL_TRAIN_G * c * sizeof(FL_T);
        w[k].yb = (int64_t *)p;         p += B * sizeof(int64_t);
        w[k].swb = (double *)p;         p += B * sizeof(double);
        w[k].marks = (int64_t *)p;      p += d * sizeof(int64_t);
        w[k].touched = (ptrdiff_t *)p;
        w[k].ntouched = 0;
        for (ptrdiff_t j = 0; j < d; j++) w[k].marks[j] = -1;
    }
    return work;
}

/* Steps [s0, s1) of an epoch on CSR data: t->Wt is W (d, c) and t->Vt its
 * velocity (or NULL), updated in place; t->X unused (x holds the data).
 * G: (threads, d, c) zeroed gradient buffers; db: (threads, c).  Returns -1,
 * the first step whose data loss was not finite (history gets it; the loop
 * stops before its update; W is then as after the step before, or -2 if out
 * of memory. */
static ptrdiff_t FL_FN(sparse_epoch)(const fl_train *t, const fl_csr *x, ptrdiff_t s0,
                                     ptrdiff_t s1, FL_T *G_all, FL_T *db_all)
{
    const ptrdiff_t n = t->n, d = t->d, c = t->c, B = t->batch;
    FL_T *W = (FL_T *)t->Wt, *b = (FL_T *)t->b, *Vv = (FL_T *)t->Vt, *Vb = (FL_T *)t->Vb;
    const int nt = t->threads > 1 ? t->threads : 1;
    const double wd = 2.0 * t->reg;
    const FL_T mu = (FL_T)t->momentum;
    ptrdiff_t bad = -1;
    double loss_part[256], sq_part[256];
    FL_FN(csr_scratch) ws[256];
    const FL_IT *perm;
    void *work = FL_FN(csr_alloc)(t, nt, ws, &perm);
    double sq0 = 0.0;
    if (work == NULL) return -2;
    if (t->reg != 0.0) sq0 = FL_FN(train_sum_sq)(W, d * c);

#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
#ifdef _OPENMP
        const int me = omp_get_thread_num();
#else
        const int me = 0;
#endif
        FL_FN(csr_scratch) *w = &ws[me];
        FL_T *G = G_all + me * d * c;
        FL_T *db = b != NULL ? db_all + me * c : NULL;
        double alpha = 1.0, sq = sq0;     /* W = alpha·V; sq = ΣV² (the same in every thread) */
        for (ptrdiff_t step = s0; step < s1; step++) {
            const ptrdiff_t i0 = step * B;
            const ptrdiff_t m = n - i0 < B ? n - i0 : B;
            const int64_t *yb = t->y + i0;
            const double *swb = t->sw != NULL ? t->sw + i0 : NULL;
            double denom = 0.0;
            if (t->order != NULL) {
                const intptr_t *idx = t->order + i0;
                for (ptrdiff_t r = 0; r < m; r++) w->yb[r] = t->y[idx[r]];
                yb = w->yb;
                if (swb != NULL) {
                    for (ptrdiff_t r = 0; r < m; r++) w->swb[r] = t->sw[idx[r]];
                    swb = w->swb;
                }
            }
            if (swb != NULL) {
                for (ptrdiff_t r = 0; r < m; r++) denom += swb[r];
            } else {
                denom = (double)m;
            }
            const double scale = denom > 0.0 ? 1.0 / denom : 0.0;
            if (db != NULL) memset(db, 0, c * sizeof(FL_T));
            w->ntouched = 0;
            loss_part[me] = FL_FN(csr_batch)(t, x, t->order, i0, m, yb, swb, scale, perm, W, b,
                                             (FL_T)alpha, w->S, w->dS, G, db, w->marks, step,
                                             w->touched, &w->ntouched, me, nt);
#ifdef _OPENMP
#pragma omp barrier
#endif
            double data_loss = 0.0;
            for (int k = 0; k < nt; k++) data_loss += loss_part[k];
            data_loss *= scale;
            if (!isfinite(data_loss)) {
                if (me == 0) {
                    bad = step;
                    t->history[step] = data_loss;
                }
                break;
            }
            const double lr = t->lr[step];
            if (me == 0) t->history[step] = data_loss + t->reg * alpha * alpha * sq;
            /* the decay of every weight: into alpha, or (rarely) into W itself */
            const double f = alpha * (1.0 - lr * wd);
            if (!(fabs(f) >= FL_SPARSE_MIN_SCALE)) {
                ptrdiff_t lo, hi;
                fl_train_split(d * c, nt, me, &lo, &hi);
                for (ptrdiff_t e = lo; e < hi; e++) W[e] = (FL_T)(W[e] * f);
                sq = sq * f * f;
                alpha = 1.0;
#ifdef _OPENMP
#pragma omp barrier
#endif
            } else {
                alpha = f;
            }
            /* the touched rows this thread updates: those no earlier thread touched */
            const FL_T step_scale = (FL_T)(lr / alpha);
            double dsq = 0.0;
            for (ptrdiff_t q = 0; q < w->ntouched; q++) {
                const ptrdiff_t col = w->touched[q];
                int k, owner = 1;
                for (k = 0; k < me; k++)
                    if (ws[k].marks[col] == step) { owner = 0; break; }
                if (!owner) continue;
                FL_T *g = G_all + me * d * c + col * c;
                for (k = me + 1; k < nt; k++)
                    if (ws[k].marks[col] == step) {
                        FL_T *h = G_all + k * d * c + col * c;
                        for (ptrdiff_t j = 0; j < c; j++) { g[j] += h[j]; h[j] = 0; }
                    }
                FL_T *wr = W + col * c;
                if (t->reg != 0.0)
                    for (ptrdiff_t j = 0; j < c; j++) dsq -= (double)wr[j] * (double)wr[j];
                if (Vv == NULL) {
                    for (ptrdiff_t j = 0; j < c; j++) wr[j] -= step_scale * g[j];
                } else {
                    FL_T *vr = Vv + col * c;
                    if (t->nesterov) {
                        for (ptrdiff_t j = 0; j < c; j++) {
                            const FL_T vj = mu * vr[j] + g[j];
                            vr[j] = vj;
                            wr[j] -= step_scale * (g[j] + mu * vj);
                        }
                    } else {
                        for (ptrdiff_t j = 0; j < c; j++) {
                            const FL_T vj = mu * vr[j] + g[j];
                            vr[j] = vj;
                            wr[j] -= step_scale * vj;
                        }
                    }
                }
                if (t->reg != 0.0)
                    for (ptrdiff_t j = 0; j < c; j++) dsq += (double)wr[j] * (double)wr[j];
                for (ptrdiff_t j = 0; j < c; j++) g[j] = 0;
            }
            sq_part[me] = dsq;
            if (me == 0 && b != NULL) {
                FL_T *gb[256];
                for (int k = 0; k < nt; k++) gb[k] = db_all + k * c;
                FL_FN(train_update)(b, gb, nt, Vb, c, (FL_T)lr, 0, mu, t->nesterov, 0);
            }
#ifdef _OPENMP
#pragma omp barrier
#endif
            for (int k = 0; k < nt; k++) sq += sq_part[k];
        }
        /* W itself again */
#ifdef _OPENMP
#pragma omp barrier
#endif
        if (alpha != 1.0) {
            ptrdiff_t lo, hi;
            fl_train_split(d * c, nt, me, &lo, &hi);
            for (ptrdiff_t e = lo; e < hi; e++) W[e] = (FL_T)(W[e] * alpha);
        }
    }
    free(work);
    return bad;
}

/* The mean loss over all n rows (in order) and its gradient dW (d, c) into
 * G_all[0 .. d·c), db unused: the threads' partial sums added in thread
 * order.  G_all: (threads, d, c), zeroed.  Returns NAN if out of memory
 * (*oom set). */
static double FL_FN(sparse_gradient)(const fl_train *t, const fl_csr *x, FL_T *G_all, int *oom)
{
    const ptrdiff_t n = t->n, d = t->d, c = t->c;
    const int nt = t->threads > 1 ? t->threads : 1;
    double loss_part[256];
    FL_FN(csr_scratch) ws[256];
    const FL_IT *perm;
    void *work = FL_FN(csr_alloc)(t, nt, ws, &perm);
    double denom = 0.0;
    *oom = work == NULL;
    if (work == NULL) return NAN;
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
        loss_part[me] = FL_FN(csr_batch)(t, x, NULL, 0, n, t->y, t->sw, scale, perm,
                                         (const FL_T *)t->Wt, NULL, (FL_T)1, ws[me].S, ws[me].dS,
                                         G_all + me * d * c, NULL, NULL, 0, NULL, NULL, me, nt);
#ifdef _OPENMP
#pragma omp barrier
#endif
        ptrdiff_t lo, hi;
        fl_train_split(d * c, nt, me, &lo, &hi);
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
