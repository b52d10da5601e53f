# Multiclass hinge (Weston–Watkins, CS231n's SVM loss) kernel.
#
# Included by _kernels.pxi (once per instruction-set build).  The public
# wrapper is losses.multiclass_hinge; the NumPy twin reference.multiclass_hinge.


def multiclass_hinge(const floating[:, ::1] scores, const label_t[::1] y,
                     const double[::1] class_weight, const double[::1] sample_weight,
                     double margin, bint squared, int reduction,
                     floating[:, ::1] grad, floating[::1] loss_out):
    """Fused Weston–Watkins hinge loss and gradient, one pass per row.

    Returns ``(bad_label_index, loss)`` like softmax_cross_entropy.  ``grad``
    and ``loss_out`` may be None; ``grad`` may be ``scores`` itself.
    """
    cdef Py_ssize_t n = scores.shape[0], c = scores.shape[1], i, yi
    cdef const double* cw = NULL
    cdef const double* sw = NULL
    cdef bint has_grad = grad is not None
    cdef bint has_loss_out = loss_out is not None
    cdef double denom = 0.0, scale = 1.0, total = 0.0
    cdef double w, row_loss
    cdef Py_ssize_t bad
    cdef floating gs = 0
    cdef floating delta = <floating>margin
    cdef const floating* s
    cdef floating* g = NULL

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

    with nogil:
        for i in range(n):
            yi = <Py_ssize_t>y[i]
            s = &scores[i, 0]
            w = (cw[yi] if cw != NULL else 1.0) * (sw[i] if sw != NULL else 1.0)
            if has_grad:
                g = &grad[i, 0]
                gs = <floating>(scale * w)
            row_loss = hinge_row(s, g, c, yi, delta, squared, gs)
            row_loss *= w
            total += row_loss
            if has_loss_out:
                loss_out[i] = <floating>row_loss
    return -1, total * scale
