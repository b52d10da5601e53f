/* One call of a multiclass loss kernel, as the loops over its rows take it.
 *
 * kernels/softmax.pxi and kernels/hinge.pxi fill one per call, after the
 * Python wrapper has checked the arguments; the row loops (sce.h, and the
 * hinge loop of kernels/hinge.pxi) read everything they need from it. */
#ifndef FASTLOSS_SIMD_CALL_H
#define FASTLOSS_SIMD_CALL_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const void *scores;     /* (N, C), float32 or float64 (the loop's suffix says which) */
    void *grad;             /* (N, C) gradient or NULL; may be scores (in place) */
    void *loss_out;         /* (N,) per-row losses or NULL */
    const void *y;          /* (N,) labels: int64 if y64 else int32 */
    int y64;
    ptrdiff_t n, c;         /* rows, classes */
    const double *cw;       /* (C,) class weights or NULL */
    const double *sw;       /* (N,) sample weights or NULL */
    double scale;           /* 1/Σ w for the mean, 1 otherwise (set after the label check) */
    int use_ignore;         /* rows labelled ignore_index count nowhere */
    long long ignore_index; /* (FL_NO_LABEL without use_ignore: no label equals it, so the
                               loops' `yi == ignore_index` branch is always predicted) */
    double eps;             /* softmax_cross_entropy: label smoothing */
    double wc_total;        /* softmax_cross_entropy: Σ_k cw_k (C without class weights) */
    const void *perm;       /* softmax_cross_entropy: the row-block permutation table */
    double margin;          /* multiclass_hinge: Δ */
    int squared;            /* multiclass_hinge: square each term */
} fl_mc_call;

/* A value no checked label takes. */
#define FL_NO_LABEL (-1 - 0x7fffffffffffffffLL)

static inline ptrdiff_t fl_label_at(const void *y, int y64, ptrdiff_t i)
{
    return y64 ? (ptrdiff_t)((const int64_t *)y)[i] : (ptrdiff_t)((const int32_t *)y)[i];
}

/* Check every label and total the row weights w_i = cw[y_i] · sw_i.  Returns
 * the index of the first label outside [0, c) that is not ignore_index, or -1;
 * on -1, *denom is Σ w_i over the rows not ignored.  Run before any output is
 * written, so a bad label changes nothing.  (y64: the labels' width, a
 * compile-time constant in each copy.) */
static inline ptrdiff_t fl_check_labels_impl(const fl_mc_call *a, double *denom, const int y64)
{
    const void *y = a->y;
    const ptrdiff_t n = a->n, c = a->c;
    const double *cw = a->cw, *sw = a->sw;
    const int use_ignore = a->use_ignore;
    const long long ignore_index = a->ignore_index;
    double total = 0.0, w;
    for (ptrdiff_t i = 0; i < n; i++) {
        const ptrdiff_t yi = fl_label_at(y, y64, i);
        if (use_ignore && yi == ignore_index) continue;
        if (yi < 0 || yi >= c) return i;
        w = cw != NULL ? cw[yi] : 1.0;
        if (sw != NULL) w *= sw[i];
        total += w;
    }
    *denom = total;
    return -1;
}

static inline ptrdiff_t fl_check_labels(const fl_mc_call *a, double *denom)
{
    return a->y64 ? fl_check_labels_impl(a, denom, 1) : fl_check_labels_impl(a, denom, 0);
}

#endif /* FASTLOSS_SIMD_CALL_H */
