# Multiclass hinge kernels: Weston–Watkins (CS231n's SVM loss) and Crammer–Singer.
#
# Included by _kernels.pxi (once per instruction-set build).  The public
# wrapper is losses.multiclass_hinge (its ``variant`` picks the kernel); the
# NumPy twin reference.multiclass_hinge.

from cython.parallel cimport prange
from libc.math cimport INFINITY, NAN


cdef inline double hinge_weighted_row(const floating* sp, const label_t* yp, const double* cw,
                                     const double* sw, floating delta, bint squared,
                                     double scale, floating* G, floating* lo, Py_ssize_t i,
                                     Py_ssize_t c) noexcept nogil:
    """Row i's weighted hinge loss (stored in lo[i] if lo), its gradient into G's row i if G."""
    cdef Py_ssize_t yi = <Py_ssize_t>yp[i]
    cdef double w = (cw[yi] if cw != NULL else 1.0) * (sw[i] if sw != NULL else 1.0)
    cdef double row_loss = hinge_row(sp + i * c, G + i * c if G != NULL else NULL, c, yi, delta,
                                     squared, <floating>(scale * w)) * w
    if lo != NULL:
        lo[i] = <floating>row_loss
    return row_loss


cdef (Py_ssize_t, double) hinge_core(const floating* sp, Py_ssize_t n, Py_ssize_t c,
                                     const label_t* yp, const double* cw, const double* sw,
                                     double margin, bint squared, int reduction, floating* G,
                                     floating* lo, int nt) noexcept nogil:
    """multiclass_hinge on raw pointers (n >= 1): ``(bad_label_index, loss)``.

    Shared by the memoryview entry below and the fast entry of _fastpath.pxi.
    ``G`` and ``lo`` may be NULL; ``G`` may be ``sp``.
    """
    cdef double denom = 0.0, scale = 1.0, total = 0.0
    cdef Py_ssize_t bad, i
    cdef floating delta = <floating>margin
    bad = check_labels(yp, n, c, False, 0, cw, sw, &denom)
    if bad >= 0:
        return bad, 0.0
    if reduction == REDUCTION_MEAN:
        if denom == 0.0:
            if G != NULL:
                for i in range(n):
                    row_fill(G + i * c, <floating>0, c)
            return -1, 0.0
        scale = 1.0 / denom
    # prange only with threads: its parallel region costs even when not taken
    if nt > 1:
        for i in prange(n, schedule="static", num_threads=nt):
            total += hinge_weighted_row(sp, yp, cw, sw, delta, squared, scale, G, lo, i, c)
    else:
        for i in range(n):
            total += hinge_weighted_row(sp, yp, cw, sw, delta, squared, scale, G, lo, i, c)
    return -1, total * scale


def multiclass_hinge(const floating[:, ::1] scores, const label_t[::1] y,
                     const double[::1] class_weight, const double[::1] sample_weight,
                     double margin, bint squared, int reduction,
                     floating[:, ::1] grad, floating[::1] loss_out, int num_threads=1):
    """Fused Weston–Watkins hinge loss and gradient, one pass per row.

    Returns ``(bad_label_index, loss)`` like softmax_cross_entropy.  ``grad``
    and ``loss_out`` may be None; ``grad`` may be ``scores`` itself.  Rows are
    split over ``num_threads`` OpenMP threads (static schedule); each row's
    results are the same for any thread count.
    """
    cdef Py_ssize_t n = scores.shape[0], c = scores.shape[1]
    cdef const double* cw = NULL
    cdef const double* sw = NULL
    cdef floating* G = NULL
    cdef floating* lo = NULL
    cdef (Py_ssize_t, double) result
    if n == 0:
        return -1, 0.0
    if class_weight is not None:
        cw = &class_weight[0]
    if sample_weight is not None:
        sw = &sample_weight[0]
    if grad is not None:
        G = &grad[0, 0]
    if loss_out is not None:
        lo = &loss_out[0]
    with nogil:
        result = hinge_core(&scores[0, 0], n, c, &y[0], cw, sw, margin, squared, reduction, G,
                            lo, num_threads if num_threads > 1 else 1)
    return result


def multiclass_hinge_crammer_singer(const floating[:, ::1] scores, const label_t[::1] y,
                                    const double[::1] class_weight,
                                    const double[::1] sample_weight, double margin,
                                    bint squared, int reduction, floating[:, ::1] grad,
                                    floating[::1] loss_out, int num_threads=1):
    """Fused Crammer–Singer hinge loss and gradient, one pass per row.

    L_i = max(0, Δ + s_{j*} - s_y), j* the lowest index of max_{j≠y} s_j; the
    gradient is +1 at j*, -1 at y where the hinge is active (2h for squared),
    0 at the kink; a NaN anywhere in a row makes its loss and gradient NaN.
    Returns ``(bad_label_index, loss)`` like multiclass_hinge; threaded like it.
    """
    cdef Py_ssize_t n = scores.shape[0], c = scores.shape[1], i, yi, j
    cdef const double* cw = NULL
    cdef const double* sw = NULL
    cdef bint has_grad = grad is not None
    cdef bint has_loss_out = loss_out is not None
    cdef double denom = 0.0, scale = 1.0, total = 0.0
    cdef double w, row_loss
    cdef Py_ssize_t bad
    cdef int has_nan
    cdef floating delta = <floating>margin
    cdef floating top, t, h, coef
    cdef const floating* s
    cdef floating* g
    cdef floating* G = NULL
    cdef int nt = num_threads if num_threads > 1 else 1

    if n == 0:
        return -1, 0.0
    if class_weight is not None:
        cw = &class_weight[0]
    if sample_weight is not None:
        sw = &sample_weight[0]
    with nogil:
        bad = check_labels(&y[0], n, c, False, 0, cw, sw, &denom)
    if bad >= 0:
        return bad, 0.0
    if reduction == REDUCTION_MEAN:
        if denom == 0.0:
            if has_grad:
                with nogil:
                    for i in range(n):
                        row_fill(&grad[i, 0], <floating>0, c)
            return -1, 0.0
        scale = 1.0 / denom

    if has_grad:
        G = &grad[0, 0]
    for i in prange(n, nogil=True, schedule="static", num_threads=nt, use_threads_if=nt > 1):
        yi = <Py_ssize_t>y[i]
        s = &scores[i, 0]
        w = (cw[yi] if cw != NULL else 1.0) * (sw[i] if sw != NULL else 1.0)
        has_nan = 0
        j = row_argmax_excl(s, c, yi, &has_nan)
        top = s[j] if j >= 0 else <floating>(-INFINITY)
        t = (top - s[yi]) + delta
        if has_nan:
            t = <floating>NAN
        h = 0 if t <= 0 else t
        row_loss = <double>h * <double>h if squared else <double>h
        row_loss = row_loss * w
        total += row_loss
        if has_loss_out:
            loss_out[i] = <floating>row_loss
        if has_grad:
            g = G + i * c
            if h != h:
                row_fill(g, <floating>NAN, c)
            else:
                row_fill(g, <floating>0, c)
                if h > 0:
                    coef = <floating>(scale * w) * (2 * h if squared else 1)
                    g[j] += coef
                    g[yi] -= coef
    return -1, total * scale
