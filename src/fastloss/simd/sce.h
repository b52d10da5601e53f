/* softmax_cross_entropy with class-index labels: the loops over a block of rows.
 *
 * kernels/softmax.pxi checks the labels, totals the weights and splits the
 * rows over threads; each thread runs these on blocks of rows, which keeps
 * every array a block needs private to its thread.  A call's arrays and
 * options travel together in one fl_mc_call (call.h).  Two loops:
 *
 *   fl_sce_rowblocks_* few classes (C <= FL_SCE_ROWBLOCK_MAX_C): blocks of FL_ROWS rows,
 *                      each vectorised across its rows (rowblock.h);
 *   fl_sce_block_*     any C: up to FL_SCE_ROW_BLOCK rows, one row at a time.
 *
 * Both compute, for row i with weight w_i = cw_{y_i}·sw_i and smoothing ε,
 *   L_i = (1-ε)·cw_y·(log Σ_j e^{s_j - m} + m - s_y) + (ε/C)·Σ_k cw_k (-log p_k)
 *   dL/ds_j = gs·[((1-ε)·cw_y + ε·W_c/C)·e^{s_j - m}/Σ - (1-ε)·cw_y·[j = y] - (ε/C)·cw_j]
 * with gs = scale·sw_i (scale = 1/Σw for a mean, else 1), W_c = Σ_k cw_k.
 */
#ifndef FL_BITS
#ifndef FASTLOSS_SIMD_SCE_H
#define FASTLOSS_SIMD_SCE_H

#include <stdlib.h>

#include "call.h"
#include "rowblock.h"

/* Rows per fl_sce_block_* (the 8 of fl_log8_f64). */
#define FL_SCE_ROW_BLOCK 8
/* Widest rows vectorised across rows: float32 up to C = 63 (64 is four whole
 * vectors per row), float64, whose exp costs more than the gathers save, up
 * to C = 32 (docs/performance-notes.md). */
#define FL_SCE_ROWBLOCK_MAX_C_32 63
#define FL_SCE_ROWBLOCK_MAX_C_64 32
/* Widest rows whose exps an in-place call keeps on the stack (4 KiB float32,
 * 8 KiB float64) before they overwrite the scores; wider rows take the heap. */
#define FL_SCE_INPLACE_ROW_MAX 1024
/* Largest exp-sum a row keeps with the label shift (see fl_sce_block_*);
 * larger ones are redone with the max shift.  The gradient's factor
 * w/(N·sum) then stays >= 2^-64·w/N (float32) or 2^-512·w/N (float64), far
 * inside the normal range. */
#define FL_SCE_LABEL_SHIFT_MAX_SUM_32 0x1p64
#define FL_SCE_LABEL_SHIFT_MAX_SUM_64 0x1p512

#define FL_TEMPLATE "sce.h"
#include "template.h"

#endif /* FASTLOSS_SIMD_SCE_H */

#else /* FL_BITS: the body of template.h's two passes */

/* A row's gradient from its exps e (e may be g) and their sum: see the header
 * comment.  (fl_rounded: the same rounding in every compiled copy, see vec.h.) */
FL_INLINE void FL_FN(sce_row_grad)(const FL_T *e, FL_T *g, ptrdiff_t c, ptrdiff_t yi,
                                   double total, double cwy, double gs,
                                   const fl_mc_call *a, const int plain)
{
    const double eps = plain ? 0.0 : a->eps;
    if (plain) {
        FL_FN(row_affine)(e, (FL_T)(gs / total), 0, g, c);
        g[yi] -= (FL_T)gs;
        return;
    }
    FL_FN(row_affine)(e, (FL_T)(gs * (fl_rounded((1.0 - eps) * cwy) + eps * a->wc_total / (double)c)
                                / total), 0, g, c);
    g[yi] -= (FL_T)fl_rounded(gs * (1.0 - eps) * cwy);
    if (eps > 0.0) {
        if (a->cw == NULL) {
            const FL_T smooth_grad = (FL_T)(gs * eps / (double)c);
            for (ptrdiff_t k = 0; k < c; k++) g[k] -= smooth_grad;
        } else {
            for (ptrdiff_t k = 0; k < c; k++) g[k] -= (FL_T)(gs * eps / (double)c * a->cw[k]);
        }
    }
}

/* The per-row block's state: its rows' sums, logs, shifts. */
typedef struct {
    double sums[FL_SCE_ROW_BLOCK], sums_m1[FL_SCE_ROW_BLOCK], logs[FL_SCE_ROW_BLOCK];
    double bases[FL_SCE_ROW_BLOCK], shifts[FL_SCE_ROW_BLOCK];
    FL_T maxes[FL_SCE_ROW_BLOCK];
} FL_FN(sce_rows);

/* With the label shift: row i (r in the block) after its exps and sums[r].
 * A sum that is not finite or too large is redone with the max shift; then
 * the row's gradient, while it is in cache (it does not need the log); in
 * place, from the row buffer tmp. */
FL_INLINE void FL_FN(sce_label_row_done)(const fl_mc_call *a, FL_FN(sce_rows) *b, FL_T *tmp,
                                         int in_place, ptrdiff_t i, ptrdiff_t r, const int plain,
                                         const int y64)
{
    const ptrdiff_t c = a->c;
    const FL_T *s = (const FL_T *)a->scores + i * c;
    FL_T *g = a->grad != NULL ? (FL_T *)a->grad + i * c : NULL;
    const ptrdiff_t yi = fl_label_at(a->y, y64, i);
    const FL_T sy = s[yi];
    /* not +inf (an exp overflowed, an infinite score), not NaN, and not so
     * large that the gradient's factor 1/sum would near the end of the normal
     * range for a small weight (the max shift keeps sum <= C) */
    const int finite = b->sums[r] <= FL_CAT(FL_SCE_LABEL_SHIFT_MAX_SUM_, FL_BITS);
    b->maxes[r] = finite ? sy : FL_FN(row_max)(s, c);
    b->bases[r] = (double)b->maxes[r] - sy;
    /* the scores row is read up to here: g may overwrite it */
    if (!finite) FL_FN(row_exp_sums)(s, b->maxes[r], yi, g, c, &b->sums[r], &b->sums_m1[r], 0);
    if (g != NULL) {
        const double cwy = !plain && a->cw != NULL ? a->cw[yi] : 1.0;
        const double swi = !plain && a->sw != NULL ? a->sw[i] : 1.0;
        FL_FN(sce_row_grad)(in_place && finite ? tmp : g, g, c, yi, b->sums[r], cwy,
                            a->scale * swi, a, plain);
    }
}

/* Loss and gradient of rows i0 .. i0+nb-1 (nb <= FL_SCE_ROW_BLOCK); returns
 * their loss sum.
 *
 * Each row goes through exp-and-sum (exp stored into the gradient row) and
 * then, while it is in cache, its gradient, which needs the sum but not its
 * log; then the block's logs in one vector call (a libm log per row costs
 * more than a short row) and each row's loss.
 *
 * Without label smoothing the shift of exp(s - m) is the label's score,
 * m = s_y, not the row's max: softmax and its loss are the same for any
 * shift, and s_y costs no pass over the row.  The label's term is then
 * exactly 1 and the sum 1 + Σ_{j≠y}, summed as accurately as with the max
 * shift (fl_row_exp_sum_label_f32, fl_row_exp_sum_split_label_f64).  A row
 * with a sum above FL_SCE_LABEL_SHIFT_MAX_SUM (a score more than ~44 / ~355
 * above s_y), or not finite (an infinite or NaN score), is done again with
 * the max shift: the gradient's factor w/sum stays far from underflow either
 * way.  Out of place, a row's check and gradient (which wait on the row's
 * whole chain: exps, sum, reduction, division) are issued after the next
 * row's exps, so that independent work sits between them in program order.
 * In place (grad is scores) the exps go to a row buffer first, so that such
 * a redo still reads the scores, and the gradient is scaled from it into
 * place (no lag: the buffer is reused by the next row); if that buffer cannot
 * be had (a row wider than FL_SCE_INPLACE_ROW_MAX and no memory), every row
 * takes the max shift, with the gradient scaled at the end.  So does label
 * smoothing, whose Σ_k cw_k (s_k - m) would cancel against W log Σ with any
 * other shift than the max.
 *
 * plain (a compile-time constant): no weights, smoothing, ignore_index, and
 * not in place -- the common call, for which the compiler drops every test
 * of an option.  The same operations in the same order: the same results.
 * y64: the labels' width, a constant in the plain copies (the general one
 * reads it per label: its options cost more than that test).  The call is
 * read from a local copy, which no store to the outputs can change (the
 * extensions are built with -fno-strict-aliasing, Python's). */
FL_INLINE double FL_FN(sce_block_impl)(const fl_mc_call *call, ptrdiff_t i0, ptrdiff_t nb,
                                       const int plain, const int y64)
{
    const fl_mc_call local = *call, *a = &local;
    const ptrdiff_t c = a->c;
    const FL_T *scores = (const FL_T *)a->scores;
    FL_T *grad = (FL_T *)a->grad;
    FL_T *loss_out = (FL_T *)a->loss_out;
    const double *cw = plain ? NULL : a->cw;
    const double *sw = plain ? NULL : a->sw;
    const double eps = plain ? 0.0 : a->eps;
    const int use_ignore = plain ? 0 : a->use_ignore;
    const int smooth = eps > 0.0;
    const int in_place = !plain && grad != NULL && (const FL_T *)grad == scores;
    FL_FN(sce_rows) b;
    FL_T rowbuf[FL_SCE_INPLACE_ROW_MAX];
    FL_T *tmp = NULL;
    int by_label = !smooth;
    double total = 0.0;
    ptrdiff_t i, r;
    for (r = 0; r < FL_SCE_ROW_BLOCK; r++) {
        b.sums[r] = 1.0;
        b.sums_m1[r] = 0.0;
    }
    if (by_label && in_place) {
        tmp = c <= FL_SCE_INPLACE_ROW_MAX ? rowbuf : (FL_T *)malloc(c * sizeof(FL_T));
        by_label = tmp != NULL;
    }
    if (by_label) {
        /* Out of place (lag), a row is done after the next row's exps, the
         * last one after the loop (r == nb); in place, right after its own.
         * (One call site: each copy of this loop inlines it once.) */
        const int lag = !in_place;
        ptrdiff_t prev = -1, cur, done;
        for (r = 0; r <= nb; r++) {
            cur = -1;
            if (r < nb) {
                i = i0 + r;
                const ptrdiff_t yi = fl_label_at(a->y, y64, i);
                if (!(use_ignore && yi == a->ignore_index)) {
                    FL_T *g = grad != NULL ? grad + i * c : NULL;
                    FL_FN(row_exp_sums)(scores + i * c, 0, yi, in_place ? tmp : g, c,
                                        &b.sums[r], &b.sums_m1[r], 1);
                    cur = r;
                }
            }
            done = -1;
            if (!lag) {
                done = cur;
            } else if (cur >= 0 || r == nb) {
                done = prev;
                prev = cur;
            }
            if (done >= 0) FL_FN(sce_label_row_done)(a, &b, tmp, in_place, i0 + done, done, plain, y64);
        }
        if (prev >= 0) FL_FN(sce_label_row_done)(a, &b, tmp, in_place, i0 + prev, prev, plain, y64);
        if (tmp != NULL && tmp != rowbuf) free(tmp);
    } else {
        /* Everything read from a scores row is read before its gradient row
         * is written. */
        for (r = 0; r < nb; r++) {
            i = i0 + r;
            const ptrdiff_t yi = fl_label_at(a->y, y64, i);
            if (use_ignore && yi == a->ignore_index) continue;
            const FL_T *s = scores + i * c;
            b.maxes[r] = FL_FN(row_max)(s, c);
            b.bases[r] = (double)b.maxes[r] - (double)s[yi];
            if (smooth) b.shifts[r] = FL_FN(row_shifted_sum)(s, (double)b.maxes[r], cw, c);
            FL_FN(row_exp_sums)(s, b.maxes[r], yi, grad != NULL ? grad + i * c : NULL, c,
                                &b.sums[r], &b.sums_m1[r], 0);
        }
    }
    FL_FN(log8_sums)(b.sums, b.sums_m1, b.logs);
    for (r = 0; r < nb; r++) {
        i = i0 + r;
        const ptrdiff_t yi = fl_label_at(a->y, y64, i);
        if (use_ignore && yi == a->ignore_index) {
            if (loss_out != NULL) loss_out[i] = 0;
            continue;
        }
        const double cwy = cw != NULL ? cw[yi] : 1.0;
        const double swi = sw != NULL ? sw[i] : 1.0;
        /* -log p_y = log Σ exp(s - m) + m - s_y */
        double row_loss = (1.0 - eps) * cwy * (b.logs[r] + b.bases[r]);
        if (smooth)
            /* Σ_k cw_k (-log p_k) = W_c · log Σ exp(s - m) - Σ_k cw_k (s_k - m) */
            row_loss = fl_rounded(row_loss) + fl_rounded(
                eps / (double)c * (fl_rounded(a->wc_total * b.logs[r]) - b.shifts[r]));
        row_loss *= swi;
        total += fl_rounded(row_loss);      /* the rounded row losses, summed */
        if (loss_out != NULL) loss_out[i] = (FL_T)row_loss;
    }
    if (grad == NULL) return total;
    for (r = 0; r < nb; r++) {
        i = i0 + r;
        const ptrdiff_t yi = fl_label_at(a->y, y64, i);
        if (use_ignore && yi == a->ignore_index)
            memset(grad + i * c, 0, c * sizeof(FL_T));
        else if (!by_label)     /* (the label shift did the gradient with the exps) */
            FL_FN(sce_row_grad)(grad + i * c, grad + i * c, c, yi, b.sums[r],
                                cw != NULL ? cw[yi] : 1.0, a->scale * (sw != NULL ? sw[i] : 1.0),
                                a, plain);
    }
    return total;
}

static inline double FL_FN(sce_block)(const fl_mc_call *a, ptrdiff_t i0, ptrdiff_t nb)
{
    if (a->cw == NULL && a->sw == NULL && a->eps == 0.0 && !a->use_ignore &&
        !(a->grad != NULL && a->grad == a->scores))
        return a->y64 ? FL_FN(sce_block_impl)(a, i0, nb, 1, 1)
                      : FL_FN(sce_block_impl)(a, i0, nb, 1, 0);
    return FL_FN(sce_block_impl)(a, i0, nb, 0, a->y64);  /* (the label width read per label) */
}

/* How many of the first n rows the row-block path takes (a whole number of
 * FL_ROWS blocks), 0 where it does not apply. */
static inline ptrdiff_t FL_FN(sce_rowblock_rows)(const fl_mc_call *a, ptrdiff_t n)
{
    if (!FL_ROWBLOCK_FAST || a->eps != 0.0 || a->c > FL_CAT(FL_SCE_ROWBLOCK_MAX_C_, FL_BITS) ||
        a->c > FL_ROWBLOCK_MAX_C || n < FL_ROWS)
        return 0;
    return n - n % FL_ROWS;
}

/* Loss and gradient of rows i0 .. i0+FL_ROWS-1 together; returns their loss
 * sum.  The row-block path for few classes, without label smoothing: max, exp
 * and sum vectorised across the rows by fl_rows_exp_sum_*, the logs in vector
 * calls, the loss per row, then the gradient scaled by fl_rows_scale_* and
 * the label terms subtracted.  The same per-row formulas as fl_sce_block_*.
 * a->grad may be a->scores; y64 a constant, as in sce_block_impl. */
FL_INLINE double FL_FN(sce_rowblock_impl)(const fl_mc_call *a, ptrdiff_t i0, const int y64)
{
    const double *cw = a->cw;
    const double *sw = a->sw;
    const int use_ignore = a->use_ignore;
    double sums[16], sums_m1[16], logs[16], sy[16], label_grad[16];
    FL_T maxes[16], factors[16];
    FL_T scratch[16 * FL_ROWBLOCK_MAX_C];      /* L x C, when there is no gradient */
    const ptrdiff_t c = a->c;
    const FL_T *s = (const FL_T *)a->scores + i0 * c;
    FL_T *g = a->grad != NULL ? (FL_T *)a->grad + i0 * c : scratch;
    FL_T *loss_out = (FL_T *)a->loss_out;
    double total = 0.0;
    ptrdiff_t r, i, yi;
    for (r = 0; r < 16; r++) {
        sums[r] = 1.0;
        sums_m1[r] = 0.0;
    }
    /* s[y] before the block's exponentials overwrite it (grad may alias scores) */
    for (r = 0; r < FL_ROWS; r++) {
        yi = fl_label_at(a->y, y64, i0 + r);
        sy[r] = use_ignore && yi == a->ignore_index ? 0.0 : s[r * c + yi];
    }
    FL_FN(rows_exp_sum)(s, c, (const FL_IT *)a->perm, g, maxes, sums, sums_m1);
    FL_FN(log8_sums)(sums, sums_m1, logs);
    if (FL_ROWS > 8) FL_FN(log8_sums)(sums + 8, sums_m1 + 8, logs + 8);
    for (r = 0; r < FL_ROWS; r++) {
        i = i0 + r;
        yi = fl_label_at(a->y, y64, i);
        if (use_ignore && yi == a->ignore_index) {
            factors[r] = 0;
            label_grad[r] = 0.0;
            if (loss_out != NULL) loss_out[i] = 0;
            continue;
        }
        const double cwy = cw != NULL ? cw[yi] : 1.0;
        const double swi = sw != NULL ? sw[i] : 1.0;
        /* -log p_y = log Σ exp(s - m) + m - s_y, times the row's weights.  float64
         * adds the rounded row losses; float32 fuses the last weight product into
         * the running sum where the ISA has an fma -- each as its loop has always
         * rounded, so that results stay those of earlier releases. */
        const double nll = logs[r] + ((double)maxes[r] - sy[r]);
        const double row_loss = cwy * nll * swi;
#if FL_BITS == 64
        total += fl_rounded(row_loss);
#else
        if (sw != NULL)
            total = fl_madd(cwy * nll, swi, total);
        else if (cw != NULL)
            total = fl_madd(cwy, nll, total);
        else
            total += nll;       /* (an add: half the latency of an fma in the chain) */
#endif
        if (loss_out != NULL) loss_out[i] = (FL_T)row_loss;
        const double gs = a->scale * swi;
        factors[r] = (FL_T)(gs * cwy / sums[r]);
        label_grad[r] = gs * cwy;
    }
    if (a->grad != NULL) {
        FL_FN(rows_scale)(g, c, (const FL_IT *)a->perm, factors);
        for (r = 0; r < FL_ROWS; r++) {
            i = i0 + r;
            yi = fl_label_at(a->y, y64, i);
            if (use_ignore && yi == a->ignore_index)
                memset(g + r * c, 0, c * sizeof(FL_T));
            else
                g[r * c + yi] -= (FL_T)label_grad[r];
        }
    }
    return total;
}

/* Row blocks b0 .. b1-1 (rows b0·FL_ROWS .. b1·FL_ROWS-1); their loss sum,
 * added block by block.  One call a thread: the call is copied once (no store
 * to the outputs can change the copy) and the label width tested once, not
 * per block of a few short rows.  Unlike the per-row loop, this one has no
 * plain copy: it measured no faster. */
static inline double FL_FN(sce_rowblocks)(const fl_mc_call *call, ptrdiff_t b0, ptrdiff_t b1)
{
    const fl_mc_call local = *call;
    double total = 0.0;
    ptrdiff_t blk;
    if (local.y64)
        for (blk = b0; blk < b1; blk++) total += FL_FN(sce_rowblock_impl)(&local, blk * FL_ROWS, 1);
    else
        for (blk = b0; blk < b1; blk++) total += FL_FN(sce_rowblock_impl)(&local, blk * FL_ROWS, 0);
    return total;
}

#endif /* FL_BITS */
