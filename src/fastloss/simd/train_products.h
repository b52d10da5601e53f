/* The training engine's two products for a group of rows (scores x·W + b,
 * and dW += dSᵀ·x), register-blocked, with the prefetch of the next rows
 * spread over their steps.  Part of train.h's template body: included from
 * it once per precision (FL_BITS 32, 64), never on its own. */
#ifndef FL_BITS
#error "train_products.h is included by train.h's template body only"
#endif

/* ---- the two products, for a group of rows ------------------------------ */

#if FL_VECTORS

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
            S[r * c + j0 + j] = FL_OP(hsum)(acc[r][j]) + (b != NULL ? b[j0 + j] : 0);
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

