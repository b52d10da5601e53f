/* The sparse training engine's epoch: tasks over shares of a step's rows
 * (scoring) and of W's columns (the update).  The templated part of
 * sparse.h, included by it once per precision (FL_BITS set, FL_T the
 * float type); the file's head in sparse.h says what a task does. */

/* ---- the epoch: tasks over shares of rows, then of columns --------------- */

/* The entries of one list (csr_bucket): their column, row in the batch, value. */
FL_INLINE void FL_FN(csr_apply_list_impl)(const ptrdiff_t *col, const int32_t *row,
                                          const FL_T *val, ptrdiff_t cnt, const FL_T *dS,
                                          FL_T *W, FL_T *Vv, FL_T s, FL_T mu, int nesterov,
                                          int64_t *marks, int64_t stamp, double *qacc,
                                          const ptrdiff_t c)
{
    const FL_T sg = nesterov ? s * (1 + mu) : s, s2 = s * mu * mu;
    for (ptrdiff_t e = 0; e < cnt; e++) {
        if (e + FL_SPARSE_PF < cnt) FL_FN(csr_prefetch_col)(W, Vv, marks, col[e + FL_SPARSE_PF], c);
        const ptrdiff_t j = col[e];
        FL_FN(csr_entry)(W + j * c, Vv != NULL ? Vv + j * c : NULL, val[e], dS + row[e] * c, s,
                         s2, sg, mu, nesterov, marks + j, stamp, qacc, c);
    }
}

/* One share of a step, for either phase: its lists of entries by the share
 * that owns their column (share q's from beg[q] to end[q]), its scale
 * (every share's is the same), the ΣV² of its columns after the steps of
 * either parity, and the scratch of its tasks. */
typedef struct {
    ptrdiff_t *col;
    int32_t *row;
    FL_T *val, *db;
    int64_t *yb;
    double *swb, *qacc;
    ptrdiff_t beg[FL_SPARSE_MAXT], end[FL_SPARSE_MAXT];
    double alpha, sq[2];
    char pad_[64];
} FL_FN(csr_share);

typedef struct {
    FL_T *Sb, *dSb;             /* the batch's scores and dS (batch, c) */
    double *gloss;              /* the loss sum of each group of the batch */
    double scale;               /* the batch's mean factor (score share 0) */
    const uint8_t *owner;       /* the share that owns each chunk of columns */
    int64_t *marks;             /* (d): the step that last applied a row's velocity */
    FL_FN(csr_share) *sh;
    const void *perm;
    int nt;
} FL_FN(csr_run);

/* The entries of the batch's rows [r0, r1) into share's lists, by the share
 * that owns their column, in order (without momentum not those of a row
 * whose dS is all zero). */
static inline void FL_FN(csr_bucket)(const fl_train *t, const fl_csr *x, const FL_FN(csr_run) *run,
                                     FL_FN(csr_share) *sh, ptrdiff_t i0, ptrdiff_t r0,
                                     ptrdiff_t r1)
{
    const ptrdiff_t c = t->c;
    const int nt = run->nt, skip = t->Vt == NULL;
    const FL_T *data = (const FL_T *)x->data;
    ptrdiff_t cnt[FL_SPARSE_MAXT + 1], r, p, q;
    for (q = 0; q <= nt; q++) cnt[q] = 0;
    for (r = r0; r < r1; r++) {
        const ptrdiff_t i = t->order != NULL ? (ptrdiff_t)t->order[i0 + r] : i0 + r;
        const ptrdiff_t p1 = fl_csr_ptr(x, i + 1);
        for (p = fl_csr_ptr(x, i); p < p1; p++) cnt[run->owner[FL_CSR_INDEX(x, p) >> FL_SPARSE_CHUNK]]++;
    }
    for (q = 0, p = 0; q < nt; q++) {
        const ptrdiff_t m = cnt[q];
        cnt[q] = sh->beg[q] = p;
        p += m;
    }
    for (r = r0; r < r1; r++) {
        const FL_T *ds = run->dSb + r * c;
        if (skip) {
            int any = 0;
            for (ptrdiff_t j = 0; j < c; j++) any |= ds[j] != 0;
            if (!any) continue;
        }
        const ptrdiff_t i = t->order != NULL ? (ptrdiff_t)t->order[i0 + r] : i0 + r;
        const ptrdiff_t p1 = fl_csr_ptr(x, i + 1);
        for (p = fl_csr_ptr(x, i); p < p1; p++) {
            const ptrdiff_t j = FL_CSR_INDEX(x, p);
            const ptrdiff_t e = cnt[run->owner[j >> FL_SPARSE_CHUNK]]++;
            sh->col[e] = j;
            sh->row[e] = (int32_t)r;
            sh->val[e] = data[p];
        }
    }
    for (q = 0; q < nt; q++) sh->end[q] = cnt[q];
}

/* The groups [*g0, *g1) of step u's batch that are share k's (its (m + G - 1) / G
 * groups split as fl_train_split splits them). */
static inline void FL_FN(csr_share_rows)(const fl_train *t, int nt, int k, ptrdiff_t u,
                                         ptrdiff_t *g0, ptrdiff_t *g1)
{
    const ptrdiff_t i0 = u * t->batch, m = t->n - i0 < t->batch ? t->n - i0 : t->batch;
    fl_train_split((m + FL_SPARSE_G - 1) / FL_SPARSE_G, nt, k, g0, g1);
}

/* The epoch positions [*a, *e) of the group `ahead` groups after group gi
 * in share k's sequence of groups from step u on (empty past the epoch). */
static inline void FL_FN(csr_ahead)(const fl_train *t, int nt, int k, ptrdiff_t u, ptrdiff_t gi,
                                    ptrdiff_t ahead, ptrdiff_t *a, ptrdiff_t *e)
{
    const ptrdiff_t n = t->n, B = t->batch;
    ptrdiff_t g0, g1;
    FL_FN(csr_share_rows)(t, nt, k, u, &g0, &g1);
    gi += ahead;
    while (gi >= g1) {  /* in a later step */
        const ptrdiff_t left = gi - g1;
        if (++u * B >= n) {
            *a = *e = n;
            return;
        }
        FL_FN(csr_share_rows)(t, nt, k, u, &g0, &g1);
        gi = g0 + left;
        if (g1 == g0) gi = g1 = g0 = 0;     /* (a short last batch without this share) */
    }
    const ptrdiff_t i0 = u * B, m = n - i0 < B ? n - i0 : B;
    *a = i0 + gi * FL_SPARSE_G;
    *e = i0 + (gi + 1) * FL_SPARSE_G < i0 + m ? i0 + (gi + 1) * FL_SPARSE_G : i0 + m;
}

/* Phase 0 of step u, share k: its groups of the batch's rows scored (into
 * Sb), their loss and its gradient (times the batch's mean factor, into
 * dSb; each group's loss sum into gloss), their entries into the share's
 * lists by the owner of their column. */
static void FL_FN(csr_phase_score)(const fl_train *t, const fl_csr *x, FL_FN(csr_run) *run, int k,
                                   ptrdiff_t u)
{
    const ptrdiff_t n = t->n, c = t->c, B = t->batch, G = FL_SPARSE_G;
    const ptrdiff_t i0 = u * B, m = n - i0 < B ? n - i0 : B;
    const intptr_t *order = t->order;
    const FL_T *W = (const FL_T *)t->Wt, *b = (const FL_T *)t->b;
    const FL_T alpha = (FL_T)run->sh[0].alpha;
    const int isz = x->idx64 ? 8 : 4;
    FL_FN(csr_share) *sh = &run->sh[k];
    ptrdiff_t glo, ghi, r;
    FL_FN(csr_share_rows)(t, run->nt, k, u, &glo, &ghi);
    const ptrdiff_t r_lo = glo * G, r_hi = ghi * G < m ? ghi * G : m;
    const int64_t *yb = t->y + i0;
    const double *swb = t->sw != NULL ? t->sw + i0 : NULL;
    if (order != NULL) {
        for (r = r_lo; r < r_hi; r++) sh->yb[r] = t->y[order[i0 + r]];
        yb = sh->yb;
        if (swb != NULL) {
            for (r = r_lo; r < r_hi; r++) sh->swb[r] = t->sw[order[i0 + r]];
            swb = sh->swb;
        }
    }
    const double scale = fl_train_mean_scale(t, i0, m);
    if (k == 0) run->scale = scale;
    for (ptrdiff_t gi = glo; gi < ghi; gi++) {
        const ptrdiff_t r0 = gi * G, g = m - r0 < G ? m - r0 : G;
        /* the rows of the share's group FL_SPARSE_AHEAD groups on (of this batch
         * or the next) on their way while this one is scored, and the row
         * pointers of the group after that */
        ptrdiff_t a, e;
        FL_FN(csr_ahead)(t, run->nt, k, u, gi, FL_SPARSE_AHEAD, &a, &e);
        if (a < e) FL_FN(csr_prefetch_rows)(x, order, a, e);
        FL_FN(csr_ahead)(t, run->nt, k, u, gi, FL_SPARSE_AHEAD + 1, &a, &e);
        if (order != NULL)
            for (ptrdiff_t q = a; q < e; q++)
                __builtin_prefetch((const char *)x->indptr + (ptrdiff_t)order[q] * isz, 0, 2);
        for (ptrdiff_t q = 0; q < g; q++) {
            const ptrdiff_t rr = i0 + r0 + q;
            const ptrdiff_t i = order != NULL ? (ptrdiff_t)order[rr] : rr;
            ptrdiff_t pn0 = 0, pn1 = 0;
            if (q + 1 < g) {
                const ptrdiff_t in = order != NULL ? (ptrdiff_t)order[rr + 1] : rr + 1;
                pn0 = fl_csr_ptr(x, in);
                pn1 = fl_csr_ptr(x, in + 1);
            }
            FL_FN(csr_score)(x, fl_csr_ptr(x, i), fl_csr_ptr(x, i + 1), pn0, pn1, W, b, alpha,
                             run->Sb + (r0 + q) * c, c);
        }
        run->gloss[gi] = FL_FN(train_loss)(t, run->Sb + r0 * c, run->dSb + r0 * c, yb + r0,
                                           swb != NULL ? swb + r0 : NULL, g, scale, run->perm);
    }
    if (run->nt > 1) FL_FN(csr_bucket)(t, x, run, sh, i0, r_lo, r_hi);
}

/* Phase 1 of step u, share k: the step's data loss (the groups' sums in
 * order: the same in every task), its history (share 0), the decay into
 * alpha, the data gradient on the rows of W of the share's columns -- every
 * share's list of them, in share order: the batch's order --, the
 * intercepts (share 0).  Returns the data loss; when it is not finite,
 * nothing was updated. */
static double FL_FN(csr_phase_update)(const fl_train *t, const fl_csr *x, FL_FN(csr_run) *run,
                                      int k, ptrdiff_t u)
{
    const ptrdiff_t n = t->n, d = t->d, c = t->c, B = t->batch, G = FL_SPARSE_G;
    const ptrdiff_t i0 = u * B, m = n - i0 < B ? n - i0 : B;
    const int nt = run->nt, par = (int)(u & 1), track = t->reg != 0.0;
    FL_T *W = (FL_T *)t->Wt, *Vv = (FL_T *)t->Vt;
    FL_FN(csr_share) *sh = &run->sh[k];
    ptrdiff_t j, q, r;
    double total = 0.0;
    for (q = 0; q < (m + G - 1) / G; q++) total += run->gloss[q];
    const double data_loss = total * run->scale;
    if (!isfinite(data_loss)) return data_loss;
    const double lr = t->lr[u];
    if (k == 0) {   /* the loss with the L2 term before the update */
        double sq = 0.0;
        for (q = 0; q < nt; q++) sq += run->sh[q].sq[1 - par];
        t->history[u] = data_loss + t->reg * sh->alpha * sh->alpha * sq;
    }
    /* the decay of every weight: into alpha, or (rarely) into W itself */
    const double f = sh->alpha * (1.0 - lr * (2.0 * t->reg));
    double sq = sh->sq[1 - par];
    if (!(fabs(f) >= FL_SPARSE_MIN_SCALE)) {
        for (q = 0; q << FL_SPARSE_CHUNK < d; q++)
            if (run->owner == NULL || run->owner[q] == k) {
                const ptrdiff_t e1 = ((q + 1) << FL_SPARSE_CHUNK) < d ? (q + 1) << FL_SPARSE_CHUNK : d;
                for (ptrdiff_t e = (q << FL_SPARSE_CHUNK) * c; e < e1 * c; e++)
                    W[e] = (FL_T)(W[e] * f);
            }
        sq = sq * f * f;
        sh->alpha = 1.0;
    } else {
        sh->alpha = f;
    }
    /* the data gradient on the rows of the share's columns */
    const FL_T s = (FL_T)(lr / sh->alpha), mu = (FL_T)t->momentum;
    if (track) memset(sh->qacc, 0, c * sizeof(double));
    if (nt == 1) {
        FL_FN(csr_apply)(x, t->order, i0, m, run->dSb, c, W, Vv, s, mu, t->nesterov, run->marks, u,
                         track ? sh->qacc : NULL, c);
    } else {
        for (q = 0; q < nt; q++) {
            const FL_FN(csr_share) *o = &run->sh[q];
            const ptrdiff_t e0 = o->beg[k];
#define FL_CSR_LIST(cc)                                                                     \
    FL_FN(csr_apply_list_impl)(o->col + e0, o->row + e0, o->val + e0, o->end[k] - e0,       \
                               run->dSb, W, Vv, s, mu, t->nesterov, run->marks, u,          \
                               track ? sh->qacc : NULL, cc)
            if (c == 2) FL_CSR_LIST(2);
            else FL_CSR_LIST(c);
#undef FL_CSR_LIST
        }
    }
    if (track)
        for (j = 0; j < c; j++) sq += sh->qacc[j];
    sh->sq[par] = sq;
    if (k == 0 && t->b != NULL) {   /* the intercepts: dS summed over the batch in order */
        FL_T *gb[1];
        gb[0] = sh->db;
        for (j = 0; j < c; j++) sh->db[j] = 0;
        for (r = 0; r < m; r++)
            for (j = 0; j < c; j++) sh->db[j] += run->dSb[r * c + j];
        FL_FN(train_update)((FL_T *)t->b, gb, 1, (FL_T *)t->Vb, c, (FL_T)lr, 0, mu,
                            t->nesterov, 0);
    }
    return data_loss;
}

#define FL_SPARSE_AL(bytes) (((ptrdiff_t)(bytes) + 63) / 64 * 64)

/* Steps [s0, s1) of an epoch on CSR data, in nt shares (and as many
 * threads; 1 without GCC's atomics): t->Wt is W (d, c) and t->Vt its
 * velocity (or NULL), updated in place; t->X is not read (x holds X).  The
 * tasks: see the file's head.  Returns -1, the first step whose data loss
 * was not finite (history gets it; the loop stops before its update; W is
 * as after the step before), or -2 if out of memory. */
static ptrdiff_t FL_FN(sparse_epoch)(const fl_train *t, const fl_csr *x, ptrdiff_t s0,
                                     ptrdiff_t s1, int nt)
{
    const ptrdiff_t n = t->n, d = t->d, c = t->c, B = t->batch, mb = B < n ? B : n;
    const ptrdiff_t ngroups = (mb + FL_SPARSE_G - 1) / FL_SPARSE_G;
    const ptrdiff_t nchunks = (d >> FL_SPARSE_CHUNK) + 1;
    FL_T *W = (FL_T *)t->Wt;
    ptrdiff_t q, cap = 0;
    if (!FL_TRAIN_ATOMICS || nt < 1) nt = 1;
    if (nt > FL_SPARSE_MAXT) nt = FL_SPARSE_MAXT;
    if (nt > ngroups) nt = (int)ngroups;
    if (nt > 1)     /* the most entries of one batch: a share's lists hold at most these */
        for (ptrdiff_t step = s0; step < s1; step++) {
            ptrdiff_t e = 0;
            const ptrdiff_t i0 = step * B, m = n - i0 < B ? n - i0 : B;
            for (ptrdiff_t r = 0; r < m; r++) {
                const ptrdiff_t i = t->order != NULL ? (ptrdiff_t)t->order[i0 + r] : i0 + r;
                e += fl_csr_ptr(x, i + 1) - fl_csr_ptr(x, i);
            }
            cap = e > cap ? e : cap;
        }
    const ptrdiff_t per = FL_SPARSE_AL(cap * (sizeof(ptrdiff_t) + sizeof(int32_t)))
                          + FL_SPARSE_AL((cap + c) * sizeof(FL_T))
                          + FL_SPARSE_AL(mb * (sizeof(int64_t) + sizeof(double)) + c * sizeof(double));
    const ptrdiff_t bytes = FL_SPARSE_AL(FL_ROWS * c * sizeof(FL_IT)) + 64
                            + 2 * FL_SPARSE_AL(mb * c * sizeof(FL_T)) + FL_SPARSE_AL(ngroups * 8)
                            + (nt > 1 ? FL_SPARSE_AL(nchunks) : 0)
                            + (t->Vt != NULL ? FL_SPARSE_AL(d * sizeof(int64_t)) : 0)
                            + FL_SPARSE_AL(nt * sizeof(FL_FN(csr_share))) + nt * per;
    char *work = (char *)malloc(bytes), *p;
    if (work == NULL) return -2;
    FL_FN(csr_run) run;
    run.nt = nt;
    run.perm = FL_FN(train_perm)(t, work, &p);
    run.Sb = (FL_T *)p;                 p += FL_SPARSE_AL(mb * c * sizeof(FL_T));
    run.dSb = (FL_T *)p;                p += FL_SPARSE_AL(mb * c * sizeof(FL_T));
    run.gloss = (double *)p;            p += FL_SPARSE_AL(ngroups * 8);
    run.owner = NULL;
    if (nt > 1) {   /* chunk q of columns to share q mod nt */
        uint8_t *owner = (uint8_t *)p;
        for (q = 0; q < nchunks; q++) owner[q] = (uint8_t)(q % nt);
        run.owner = owner;
        p += FL_SPARSE_AL(nchunks);
    }
    run.marks = NULL;
    if (t->Vt != NULL) {
        run.marks = (int64_t *)p;
        for (q = 0; q < d; q++) run.marks[q] = -1;
        p += FL_SPARSE_AL(d * sizeof(int64_t));
    }
    run.sh = (FL_FN(csr_share) *)p;
    p += FL_SPARSE_AL(nt * sizeof(FL_FN(csr_share)));
    for (int k = 0; k < nt; k++) {
        FL_FN(csr_share) *sh = &run.sh[k];
        char *h = p + k * per;
        sh->col = (ptrdiff_t *)h;
        sh->row = (int32_t *)(h + cap * sizeof(ptrdiff_t));
        h += FL_SPARSE_AL(cap * (sizeof(ptrdiff_t) + sizeof(int32_t)));
        sh->val = (FL_T *)h;
        sh->db = sh->val + cap;
        h += FL_SPARSE_AL((cap + c) * sizeof(FL_T));
        sh->yb = (int64_t *)h;
        sh->swb = (double *)(h + mb * sizeof(int64_t));
        sh->qacc = sh->swb + mb;
        sh->alpha = 1.0;
        sh->sq[0] = sh->sq[1] = 0.0;
        if (t->reg != 0.0) {    /* ΣW² of the share's columns, as after the step before s0 */
            double sq = 0.0;
            if (nt == 1) sq = FL_FN(train_sum_sq)(W, d * c);
            else
                for (q = k; q << FL_SPARSE_CHUNK < d; q += nt) {
                    const ptrdiff_t r0 = q << FL_SPARSE_CHUNK;
                    sq += FL_FN(train_sum_sq)(W + r0 * c, ((r0 + (1 << FL_SPARSE_CHUNK) < d ?
                                                            r0 + (1 << FL_SPARSE_CHUNK) : d) - r0) * c);
                }
            sh->sq[1 - (s0 & 1)] = sq;
        }
    }
    long long next = 0, done = 0;   /* tasks claimed, tasks finished */
    const long long ntasks = 2LL * (s1 - s0) * nt;
    int stop = 0;                   /* a step's loss was not finite */
    ptrdiff_t bad = -1;

#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        long long phase_index;  /* 2·(step - s0) + phase */
        int k;
        while (fl_train_claim(&next, ntasks, nt, &done, &stop, &phase_index, &k)) {
            const ptrdiff_t step = s0 + (ptrdiff_t)(phase_index / 2);
            if (phase_index % 2 == 0) {
                FL_FN(csr_phase_score)(t, x, &run, k, step);
            } else {
                const double loss = FL_FN(csr_phase_update)(t, x, &run, k, step);
                if (!isfinite(loss)) {
                    fl_train_stop(t, &stop, &done, step, loss, &bad);
                    break;
                }
            }
            fl_fetch_add(&done, 1);
        }
    }
    /* W itself again (every share has the same alpha) */
    const double alpha = run.sh[0].alpha;
    if (alpha != 1.0)
        for (q = 0; q < d * c; q++) W[q] = (FL_T)(W[q] * alpha);
    free(work);
    return bad;
}
