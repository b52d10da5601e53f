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
 * Threads: a step's rows are scored in groups split over the threads (as
 * in train.h), their dS kept for the batch, and each thread sorts its rows'
 * entries by the thread that owns their column (thread k: the columns j
 * with j·nt/d = k); after a barrier each thread applies the entries of its
 * columns, the threads' lists in thread order -- the batch's order -- so W
 * does not depend on the thread count (the intercept and the loss are sums
 * in thread order).  Two barriers a step.
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
 * scattered over X. */
static inline void FL_FN(csr_prefetch_rows)(const fl_csr *x, const intptr_t *order,
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

/* This thread's share of the groups of rows [i0, i0+m) of the batch (row
 * order[k], or k without order): scored in groups of FL_TRAIN_G, their
 * loss's gradient (times scale) into dSb (the batch's, (m, c)) and db --
 * or, with dSb NULL, into the group's dS and then G (d, c).  Returns the
 * loss sum. */
static inline double FL_FN(csr_batch)(const fl_train *t, const fl_csr *x, const intptr_t *order,
                                      ptrdiff_t i0, ptrdiff_t m, const int64_t *yb,
                                      const double *swb, double scale, const void *perm,
                                      const FL_T *W, const FL_T *b, FL_T alpha, FL_T *S,
                                      FL_T *dS, FL_T *dSb, FL_T *G, FL_T *db, int me, int nt)
{
    const ptrdiff_t c = t->c;
    const ptrdiff_t ngroups = (m + FL_TRAIN_G - 1) / FL_TRAIN_G;
    ptrdiff_t glo, ghi, k;
    double total = 0.0;
    fl_train_split(ngroups, nt, me, &glo, &ghi);
    for (ptrdiff_t gi = glo; gi < ghi; gi++) {
        const ptrdiff_t r0 = gi * FL_TRAIN_G;
        const ptrdiff_t g = m - r0 < FL_TRAIN_G ? m - r0 : FL_TRAIN_G;
        FL_T *dg = dSb != NULL ? dSb + r0 * c : dS;
        /* the next group's rows (of this batch or the next one) on their way while
         * this one is scored */
        const ptrdiff_t e1 = i0 + r0 + g + FL_TRAIN_G < t->n ? i0 + r0 + g + FL_TRAIN_G : t->n;
        if (i0 + r0 + g < e1) FL_FN(csr_prefetch_rows)(x, order, i0 + r0 + g, e1);
        for (k = 0; k < g; k++) {
            const ptrdiff_t i = order != NULL ? (ptrdiff_t)order[i0 + r0 + k] : i0 + r0 + k;
            ptrdiff_t pn0 = 0, pn1 = 0;
            if (k + 1 < g) {
                const ptrdiff_t in = order != NULL ? (ptrdiff_t)order[i0 + r0 + k + 1]
                                                   : i0 + r0 + k + 1;
                pn0 = fl_csr_ptr(x, in);
                pn1 = fl_csr_ptr(x, in + 1);
            }
            FL_FN(csr_score)(x, fl_csr_ptr(x, i), fl_csr_ptr(x, i + 1), pn0, pn1, W, b, alpha,
                             S + k * c, c);
        }
        total += FL_FN(train_loss)(t, S, dg, yb + r0, swb != NULL ? swb + r0 : NULL, g, scale,
                                   perm);
        if (db != NULL)
            for (k = 0; k < g; k++)
                for (ptrdiff_t j = 0; j < c; j++) db[j] += dg[k * c + j];
        if (dSb == NULL)
            for (k = 0; k < g; k++) {
                const ptrdiff_t i = order != NULL ? (ptrdiff_t)order[i0 + r0 + k] : i0 + r0 + k;
                FL_FN(csr_grad)(x, fl_csr_ptr(x, i), fl_csr_ptr(x, i + 1), dS + k * c, G, c);
            }
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

/* One thread: every entry of the batch's rows [i0, i0+m), in order. */
FL_INLINE void FL_FN(csr_apply_impl)(const fl_csr *x, const intptr_t *order, ptrdiff_t i0,
                                     ptrdiff_t m, const FL_T *dSb, FL_T *W, FL_T *Vv, FL_T s,
                                     FL_T mu, int nesterov, int64_t *marks, int64_t stamp,
                                     double *qacc, const ptrdiff_t c, const int idx64)
{
    const FL_T *data = (const FL_T *)x->data;
    const FL_T sg = nesterov ? s * (1 + mu) : s, s2 = s * mu * mu;
    for (ptrdiff_t r = 0; r < m; r++) {
        const ptrdiff_t i = order != NULL ? (ptrdiff_t)order[i0 + r] : i0 + r;
        const ptrdiff_t p0 = fl_csr_ptr(x, i), p1 = fl_csr_ptr(x, i + 1);
        for (ptrdiff_t p = p0; p < p1; p++) {
            if (p + FL_SPARSE_PF < p1)
                FL_FN(csr_prefetch_col)(W, Vv, marks, FL_CSR_COL(x, p + FL_SPARSE_PF, idx64), c);
            const ptrdiff_t col = FL_CSR_COL(x, p, idx64);
            FL_FN(csr_entry)(W + col * c, Vv != NULL ? Vv + col * c : NULL, data[p],
                             dSb + r * c, s, s2, sg, mu, nesterov, marks + col, stamp, qacc, c);
        }
    }
}

/* Several threads: the entries listed in P (their positions) and R (their
 * rows in the batch), cnt of them, in order. */
FL_INLINE void FL_FN(csr_apply_list_impl)(const fl_csr *x, const int64_t *P, const int32_t *R,
                                          ptrdiff_t cnt, const FL_T *dSb, FL_T *W, FL_T *Vv,
                                          FL_T s, FL_T mu, int nesterov, int64_t *marks,
                                          int64_t stamp, double *qacc, const ptrdiff_t c,
                                          const int idx64)
{
    const FL_T *data = (const FL_T *)x->data;
    const FL_T sg = nesterov ? s * (1 + mu) : s, s2 = s * mu * mu;
    for (ptrdiff_t k = 0; k < cnt; k++) {
        if (k + FL_SPARSE_PF < cnt)
            FL_FN(csr_prefetch_col)(W, Vv, marks, FL_CSR_COL(x, P[k + FL_SPARSE_PF], idx64), c);
        const ptrdiff_t p = (ptrdiff_t)P[k];
        const ptrdiff_t col = FL_CSR_COL(x, p, idx64);
        FL_FN(csr_entry)(W + col * c, Vv != NULL ? Vv + col * c : NULL, data[p],
                         dSb + (ptrdiff_t)R[k] * c, s, s2, sg, mu, nesterov, marks + col, stamp,
                         qacc, c);
    }
}

/* With P NULL the rows [i0, i0+m), else the list (P, R, cnt). */
static inline void FL_FN(csr_apply)(const fl_csr *x, const intptr_t *order, ptrdiff_t i0,
                                    ptrdiff_t m, const int64_t *P, const int32_t *R,
                                    ptrdiff_t cnt, const FL_T *dSb, FL_T *W, FL_T *Vv, FL_T s,
                                    FL_T mu, int nesterov, int64_t *marks, int64_t stamp,
                                    double *qacc, ptrdiff_t c)
{
#define FL_CSR_APPLY(cc, i64)                                                                  \
    do {                                                                                       \
        if (P == NULL)                                                                         \
            FL_FN(csr_apply_impl)(x, order, i0, m, dSb, W, Vv, s, mu, nesterov, marks, stamp,  \
                                  qacc, cc, i64);                                              \
        else                                                                                   \
            FL_FN(csr_apply_list_impl)(x, P, R, cnt, dSb, W, Vv, s, mu, nesterov, marks,       \
                                       stamp, qacc, cc, i64);                                  \
    } while (0)
    if (x->idx64) {
        if (c == 2) FL_CSR_APPLY(2, 1);
        else FL_CSR_APPLY(c, 1);
    } else {
        if (c == 2) FL_CSR_APPLY(2, 0);
        else FL_CSR_APPLY(c, 0);
    }
#undef FL_CSR_APPLY
}

/* The entries of the batch's rows [r0, r1) (of this thread) sorted by the
 * thread that updates their column (col·nt/d), each thread's in order: their
 * positions into P, their rows into R, thread k's from off[k] to off[k+1]. */
static inline void FL_FN(csr_bucket)(const fl_csr *x, const intptr_t *order, ptrdiff_t i0,
                                     ptrdiff_t r0, ptrdiff_t r1, int nt, ptrdiff_t d,
                                     int64_t *P, int32_t *R, ptrdiff_t *off)
{
    ptrdiff_t cnt[257], r, p, k;
    for (k = 0; k <= nt; k++) cnt[k] = 0;
    for (r = r0; r < r1; r++) {
        const ptrdiff_t i = order != NULL ? (ptrdiff_t)order[i0 + r] : i0 + r;
        const ptrdiff_t p1 = fl_csr_ptr(x, i + 1);
        for (p = fl_csr_ptr(x, i); p < p1; p++) cnt[FL_CSR_INDEX(x, p) * nt / d]++;
    }
    off[0] = 0;
    for (k = 0; k < nt; k++) off[k + 1] = off[k] + cnt[k];
    for (k = 0; k < nt; k++) cnt[k] = off[k];
    for (r = r0; r < r1; r++) {
        const ptrdiff_t i = order != NULL ? (ptrdiff_t)order[i0 + r] : i0 + r;
        const ptrdiff_t p1 = fl_csr_ptr(x, i + 1);
        for (p = fl_csr_ptr(x, i); p < p1; p++) {
            const ptrdiff_t q = cnt[FL_CSR_INDEX(x, p) * nt / d]++;
            P[q] = (int64_t)p;
            R[q] = (int32_t)r;
        }
    }
}

/* Scratch of one call: the row-block permutation, the batch's dS (batch, c)
 * and the columns' stamps (d); per thread its S and dS (FL_TRAIN_G, c), the
 * batch's labels and weights, its per-class sums of squares (c).  NULL if
 * out of memory. */
typedef struct {
    FL_T *S, *dS;
    int64_t *yb;
    double *swb, *qacc;
    int64_t *P;             /* several threads: the entries of the thread's rows by the */
    int32_t *R;             /* thread of their column (csr_bucket) */
    ptrdiff_t off[257];
} FL_FN(csr_scratch);

static inline void *FL_FN(csr_alloc)(const fl_train *t, int nt, FL_FN(csr_scratch) *w,
                                     const FL_IT **perm, FL_T **dSb, int64_t **marks,
                                     int epoch, ptrdiff_t max_nnz)
{
    const ptrdiff_t c = t->c, d = t->d, B = epoch ? t->batch : 0;
    const ptrdiff_t lists = epoch && nt > 1 ? max_nnz : 0;
    const ptrdiff_t head = (FL_ROWS * c * (ptrdiff_t)sizeof(FL_IT) + 127) / 64 * 64;
    const ptrdiff_t shared = (B * c * (ptrdiff_t)sizeof(FL_T)
                              + (epoch ? d : 0) * (ptrdiff_t)sizeof(int64_t) + 127) / 64 * 64;
    const ptrdiff_t per = ((2 * FL_TRAIN_G * c) * (ptrdiff_t)sizeof(FL_T)
                           + B * (ptrdiff_t)(sizeof(int64_t) + sizeof(double))
                           + c * (ptrdiff_t)sizeof(double)
                           + lists * (ptrdiff_t)(sizeof(int64_t) + sizeof(int32_t))
                           + 127) / 64 * 64;
    char *work = (char *)malloc(head + shared + nt * per), *base, *p;
    if (work == NULL) return NULL;
    *perm = FL_FN(train_perm)(t, work, &base);
    *dSb = (FL_T *)base;
    *marks = (int64_t *)(base + B * c * sizeof(FL_T));
    if (epoch)
        for (ptrdiff_t j = 0; j < d; j++) (*marks)[j] = -1;
    base += shared;
    for (int k = 0; k < nt; k++) {
        p = base + k * per;
        w[k].S = (FL_T *)p;             p += FL_TRAIN_G * c * sizeof(FL_T);
        w[k].dS = (FL_T *)p;            p += FL_TRAIN_G * c * sizeof(FL_T);
        w[k].yb = (int64_t *)p;         p += B * sizeof(int64_t);
        w[k].swb = (double *)p;         p += B * sizeof(double);
        w[k].qacc = (double *)p;        p += c * sizeof(double);
        w[k].P = (int64_t *)p;          p += lists * sizeof(int64_t);
        w[k].R = (int32_t *)p;
    }
    return work;
}

/* Steps [s0, s1) of an epoch on CSR data: t->Wt is W (d, c) and t->Vt its
 * velocity (or NULL), updated in place; t->X is not read (x holds X).
 * db: (threads, c) scratch.  Each step: the batch's rows scored and their
 * dS, split over the threads by groups of rows; a barrier; the decay into
 * alpha; the update of W's rows, split over the threads by ranges of
 * columns (each applies, in the batch's order, the entries of its columns:
 * the model does not depend on the thread count but by the intercept's and
 * the loss's sums); a barrier.  Returns -1, the first step whose data loss
 * was not finite (history gets it; the loop stops before its update; W is
 * as after the step before), or -2 if out of memory. */
static ptrdiff_t FL_FN(sparse_epoch)(const fl_train *t, const fl_csr *x, ptrdiff_t s0,
                                     ptrdiff_t s1, FL_T *db_all)
{
    const ptrdiff_t n = t->n, d = t->d, c = t->c, B = t->batch;
    FL_T *W = (FL_T *)t->Wt, *b = (FL_T *)t->b, *Vv = (FL_T *)t->Vt, *Vb = (FL_T *)t->Vb;
    const int nt = t->threads > 1 ? t->threads : 1;
    const double wd = 2.0 * t->reg;
    const FL_T mu = (FL_T)t->momentum;
    const int track_sq = t->reg != 0.0;
    ptrdiff_t bad = -1;
    double loss_part[256], sq_part[256];
    FL_FN(csr_scratch) ws[256];
    const FL_IT *perm;
    FL_T *dSb;
    int64_t *marks;
    /* several threads: the most entries one batch holds (each thread lists its share) */
    ptrdiff_t max_nnz = 0;
    if (nt > 1)
        for (ptrdiff_t step = s0; step < s1; step++) {
            ptrdiff_t e = 0;
            const ptrdiff_t i0 = step * B, m = n - i0 < B ? n - i0 : B;
            for (ptrdiff_t r = 0; r < m; r++) {
                const ptrdiff_t i = t->order != NULL ? (ptrdiff_t)t->order[i0 + r] : i0 + r;
                e += fl_csr_ptr(x, i + 1) - fl_csr_ptr(x, i);
            }
            if (e > max_nnz) max_nnz = e;
        }
    void *work = FL_FN(csr_alloc)(t, nt, ws, &perm, &dSb, &marks, 1, max_nnz);
    double sq0 = 0.0;
    if (work == NULL) return -2;
    if (track_sq) sq0 = FL_FN(train_sum_sq)(W, d * c);

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
        FL_T *db = b != NULL ? db_all + me * c : NULL;
        double alpha = 1.0, sq = sq0;     /* W = alpha·V; sq = ΣV² (the same in every thread) */
        for (ptrdiff_t step = s0; step < s1; step++) {
            const ptrdiff_t i0 = step * B;
            const ptrdiff_t m = n - i0 < B ? n - i0 : B;
            const int64_t *yb = t->y + i0;
            const double *swb = t->sw != NULL ? t->sw + i0 : NULL;
            if (t->order != NULL) {
                const intptr_t *idx = t->order + i0;
                for (ptrdiff_t r = 0; r < m; r++) w->yb[r] = t->y[idx[r]];
                yb = w->yb;
                if (swb != NULL) {
                    for (ptrdiff_t r = 0; r < m; r++) w->swb[r] = t->sw[idx[r]];
                    swb = w->swb;
                }
            }
            const double scale = fl_train_mean_scale(t, i0, m);
            if (db != NULL) memset(db, 0, c * sizeof(FL_T));
            loss_part[me] = FL_FN(csr_batch)(t, x, t->order, i0, m, yb, swb, scale, perm, W, b,
                                             (FL_T)alpha, w->S, w->dS, dSb, NULL, db, me, nt);
            if (nt > 1) {   /* this thread's entries, by the thread that applies them */
                ptrdiff_t glo, ghi;
                fl_train_split((m + FL_TRAIN_G - 1) / FL_TRAIN_G, nt, me, &glo, &ghi);
                FL_FN(csr_bucket)(x, t->order, i0, glo * FL_TRAIN_G,
                                  ghi * FL_TRAIN_G < m ? ghi * FL_TRAIN_G : m, nt, d, w->P, w->R,
                                  w->off);
            }
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
                ptrdiff_t elo, ehi;
                fl_train_split(d * c, nt, me, &elo, &ehi);
                for (ptrdiff_t e = elo; e < ehi; e++) W[e] = (FL_T)(W[e] * f);
                sq = sq * f * f;
                alpha = 1.0;
#ifdef _OPENMP
#pragma omp barrier
#endif
            } else {
                alpha = f;
            }
            /* the data gradient on the rows of this thread's columns */
            double dsq = 0.0;
            if (track_sq) memset(w->qacc, 0, c * sizeof(double));
            if (nt == 1) {
                FL_FN(csr_apply)(x, t->order, i0, m, NULL, NULL, 0, dSb, W, Vv,
                                 (FL_T)(lr / alpha), mu, t->nesterov, marks, step,
                                 track_sq ? w->qacc : NULL, c);
            } else {    /* the entries of this thread's columns, the threads' lists in order */
                for (int k = 0; k < nt; k++)
                    FL_FN(csr_apply)(x, NULL, 0, 0, ws[k].P + ws[k].off[me], ws[k].R + ws[k].off[me],
                                     ws[k].off[me + 1] - ws[k].off[me], dSb, W, Vv,
                                     (FL_T)(lr / alpha), mu, t->nesterov, marks, step,
                                     track_sq ? w->qacc : NULL, c);
            }
            if (track_sq)
                for (ptrdiff_t j = 0; j < c; j++) dsq += w->qacc[j];
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
            ptrdiff_t elo, ehi;
            fl_train_split(d * c, nt, me, &elo, &ehi);
            for (ptrdiff_t e = elo; e < ehi; e++) W[e] = (FL_T)(W[e] * alpha);
        }
    }
    free(work);
    return bad;
}

/* The mean loss over all n rows (in order) and its gradient dW (d, c) into
 * G_all[0 .. d·c): per thread a partial dW, added in thread order.  G_all:
 * (threads, d, c), zeroed.  Returns NAN if out of memory (*oom set). */
static double FL_FN(sparse_gradient)(const fl_train *t, const fl_csr *x, FL_T *G_all, int *oom)
{
    const ptrdiff_t n = t->n, d = t->d, c = t->c;
    const int nt = t->threads > 1 ? t->threads : 1;
    double loss_part[256];
    FL_FN(csr_scratch) ws[256];
    const FL_IT *perm;
    FL_T *dSb;
    int64_t *marks;
    void *work = FL_FN(csr_alloc)(t, nt, ws, &perm, &dSb, &marks, 0, 0);
    *oom = work == NULL;
    if (work == NULL) return NAN;
    const double scale = fl_train_mean_scale(t, 0, n);
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
                                         NULL, G_all + me * d * c, NULL, me, nt);
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
