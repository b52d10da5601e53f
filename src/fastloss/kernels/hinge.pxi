# Multiclass hinge: Weston–Watkins (CS231n's SVM loss) and Crammer–Singer.
#
# Included by kernels.pxi.  The public wrapper is losses.multiclass_hinge (its
# ``variant`` picks the loop); the NumPy twin reference.multiclass_hinge; the
# row primitives are in ../simd/hinge.h.

from libc.math cimport INFINITY, NAN

cdef extern from "simd/vec.h":
    double fl_madd(double a, double b, double c) noexcept nogil

cdef extern from "simd/hinge.h":
    double fl_row_hinge_f32(const float* s, float* g, Py_ssize_t n, Py_ssize_t y, float delta,
                            int squared, float gs) noexcept nogil
    double fl_row_hinge_f64(const double* s, double* g, Py_ssize_t n, Py_ssize_t y,
                            double delta, int squared, double gs) noexcept nogil
    Py_ssize_t fl_row_argmax_excl_f32(const float* s, Py_ssize_t n, Py_ssize_t y,
                                      int* has_nan) noexcept nogil
    Py_ssize_t fl_row_argmax_excl_f64(const double* s, Py_ssize_t n, Py_ssize_t y,
                                      int* has_nan) noexcept nogil


cdef double ww_rows(const fl_mc_call* a, const floating* scores, floating* grad,
                    floating* loss_out, Py_ssize_t i0, Py_ssize_t i1) noexcept nogil:
    """Weston–Watkins over rows i0 .. i1-1: the sum of their weighted losses (each into
    loss_out[i] if given), their gradients into grad's rows if given.  A row's loss is
    Σ_{j≠y} max(0, s_j - s_y + Δ) (or of squares) times its weight; the weight's product
    is fused into the sum where the ISA has an fma."""
    if a.y64:
        return ww_rows_y(a, <const int64_t*>a.y, scores, grad, loss_out, i0, i1)
    return ww_rows_y(a, <const int32_t*>a.y, scores, grad, loss_out, i0, i1)


cdef inline double ww_rows_y(const fl_mc_call* a, const label_t* y, const floating* scores,
                             floating* grad, floating* loss_out, Py_ssize_t i0,
                             Py_ssize_t i1) noexcept nogil:
    """ww_rows with typed labels, the call's fields in locals (no store can change them)."""
    cdef Py_ssize_t c = a.c, i, yi
    cdef const double* cw = a.cw
    cdef const double* sw = a.sw
    cdef double scale = a.scale, margin = a.margin
    cdef bint squared = a.squared
    cdef double w, h, total = 0.0
    cdef floating* g
    if cw == NULL and sw == NULL:
        # unweighted (w = 1): the same values without the weight's loads, products and
        # the test of them in every row
        for i in range(i0, i1):
            yi = <Py_ssize_t>y[i]
            g = grad + i * c if grad != NULL else NULL
            if floating is float:
                h = fl_row_hinge_f32(scores + i * c, g, c, yi, <float>margin, squared,
                                     <float>scale)
            else:
                h = fl_row_hinge_f64(scores + i * c, g, c, yi, margin, squared, scale)
            if loss_out != NULL:
                loss_out[i] = <floating>h
            total += h          # (an add: half the latency of an fma in the chain)
        return total
    for i in range(i0, i1):
        yi = <Py_ssize_t>y[i]
        w = (cw[yi] if cw != NULL else 1.0) * (sw[i] if sw != NULL else 1.0)
        g = grad + i * c if grad != NULL else NULL
        if floating is float:
            h = fl_row_hinge_f32(scores + i * c, g, c, yi, <float>margin, squared,
                                 <float>(scale * w))
        else:
            h = fl_row_hinge_f64(scores + i * c, g, c, yi, margin, squared, scale * w)
        if loss_out != NULL:
            loss_out[i] = <floating>(h * w)
        total = fl_madd(h, w, total)
    return total


cdef inline double cs_row(const fl_mc_call* a, const floating* scores, floating* grad,
                          floating* loss_out, Py_ssize_t i) noexcept nogil:
    """Crammer–Singer: row i's weighted loss max(0, Δ + s_{j*} - s_y), j* the lowest
    index of max_{j≠y} s_j; the gradient +1 at j*, -1 at y where the hinge is active
    (2h for squared), 0 at the kink; a NaN anywhere in the row makes its loss and
    gradient NaN."""
    cdef Py_ssize_t c = a.c, yi = fl_label_at(a.y, a.y64, i), j, k
    cdef const floating* s = scores + i * c
    cdef double w = (a.cw[yi] if a.cw != NULL else 1.0) * (a.sw[i] if a.sw != NULL else 1.0)
    cdef double row_loss
    cdef int has_nan = 0
    cdef floating top, t, h, coef
    cdef floating* g
    if floating is float:
        j = fl_row_argmax_excl_f32(s, c, yi, &has_nan)
    else:
        j = fl_row_argmax_excl_f64(s, c, yi, &has_nan)
    top = s[j] if j >= 0 else <floating>(-INFINITY)
    t = (top - s[yi]) + <floating>a.margin
    if has_nan:
        t = <floating>NAN
    h = 0 if t <= 0 else t
    row_loss = <double>h * <double>h if a.squared else <double>h
    row_loss = row_loss * w
    if loss_out != NULL:
        loss_out[i] = <floating>row_loss
    if grad != NULL:
        g = grad + i * c
        if h != h:
            for k in range(c):
                g[k] = <floating>NAN
        else:
            zero(g, c)
            if h > 0:
                coef = <floating>(a.scale * w) * (2 * h if a.squared else 1)
                g[j] += coef
                g[yi] -= coef
    return row_loss


cdef (Py_ssize_t, double) hinge_run(fl_mc_call* a, const floating* scores, floating* grad,
                                    floating* loss_out, int reduction, bint crammer_singer,
                                    int nt, double divisor=0.0) noexcept nogil:
    """multiclass_hinge on the call ``a`` (n >= 1): ``(bad_label_index, loss)``.

    Shared by the entry below and the fast entry of fastpath.pxi.  Checks the
    labels and totals the weights before anything is written; then the rows
    over ``nt`` threads.  ``grad`` and ``loss_out`` may be NULL; ``grad`` may
    be ``scores``.  A mean divides by ``divisor`` if it is > 0, else by the
    total weight.
    """
    cdef double denom = 0.0, total = 0.0
    cdef Py_ssize_t bad, i, n = a.n
    cdef int t
    a.scores = scores
    a.grad = grad
    a.loss_out = loss_out
    bad = fl_check_labels(a, &denom)
    if bad >= 0:
        return bad, 0.0
    if reduction == REDUCTION_MEAN:
        if divisor > 0.0:
            a.scale = 1.0 / divisor
        elif denom == 0.0:
            if grad != NULL:
                zero(grad, n * a.c)
            return -1, 0.0
        else:
            a.scale = 1.0 / denom
    if crammer_singer:
        for i in prange(n, schedule="static", num_threads=nt, use_threads_if=nt > 1):
            total += cs_row(a, scores, grad, loss_out, i)
    elif nt > 1:
        # one contiguous range of rows a thread, as OpenMP's static schedule splits them
        for t in prange(nt, schedule="static", num_threads=nt):
            total += ww_rows(a, scores, grad, loss_out, static_lo(n, nt, t), static_lo(n, nt, t + 1))
    else:
        total = ww_rows(a, scores, grad, loss_out, 0, n)
    return -1, total * a.scale


def multiclass_hinge(const floating[:, ::1] scores, const label_t[::1] y, *, reduction,
                     variant="weston_watkins", double margin=1.0, bint squared=False,
                     const double[::1] class_weight=None, const double[::1] sample_weight=None,
                     floating[:, ::1] grad=None, floating[::1] loss_out=None, divisor=None):
    """Fused multiclass hinge loss and gradient, one pass per row.

    ``variant`` "weston_watkins" (CS231n's SVM loss) or "crammer_singer".
    Returns ``(bad_label_index, loss)`` like softmax_cross_entropy.  ``grad``
    and ``loss_out`` may be None; ``grad`` may be ``scores`` itself.  Each
    row's results are the same for any thread count.  The weights and the
    margin may have any sign.  ``divisor`` (> 0): what ``reduction="mean"``
    divides the weighted sum by, instead of the total weight (torch's
    multi_margin_loss divides by N·C).
    """
    cdef Py_ssize_t n = scores.shape[0], c = scores.shape[1]
    cdef int red = reduction_code(reduction)
    cdef bint cs
    cdef fl_mc_call a
    cdef (Py_ssize_t, double) result
    cdef floating* g = NULL
    cdef floating* lo = NULL
    cdef double div = 0.0
    if variant not in ("weston_watkins", "crammer_singer"):
        raise ValueError(f"variant must be 'weston_watkins' or 'crammer_singer', got {variant!r}")
    cs = variant == "crammer_singer"
    if divisor is not None:
        div = divisor
        if not div > 0.0:
            raise ValueError(f"divisor must be > 0, got {divisor!r}")
    if n == 0:
        return -1, 0.0
    a = mc_call(n, c, &y[0], label_t is int64_t, class_weight, sample_weight, None)
    a.margin = margin
    a.squared = squared
    if grad is not None:
        g = &grad[0, 0]
    if loss_out is not None:
        lo = &loss_out[0]
    with nogil:
        result = hinge_run(&a, &scores[0, 0], g, lo, red, cs, threads_for(n * c, PARALLEL_MIN),
                           div)
    return result
