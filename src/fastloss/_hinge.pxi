# Multiclass hinge (Weston–Watkins, CS231n's SVM loss) kernel.
#
# Included by _kernels.pxi (once per instruction-set build).  The public
# wrapper is losses.multiclass_hinge; the NumPy twin reference.multiclass_hinge.


cdef inline double hinge_span(const floating* s, floating* g, Py_ssize_t n, floating sy,
                              floating delta, bint squared, floating gs,
                              double* aux) noexcept nogil:
    """Hinge terms of the classes j in one span that excludes the label.

    t_j = s_j - s_y + Δ,  h_j = max(0, t_j) (NaN propagates).  Returns Σ h_j
    (or Σ h_j²).  With g != NULL writes g_j = gs·[t_j > 0] (or 2·gs·h_j) and
    adds Σ [t_j > 0] (or Σ h_j) to aux[0], from which the label's gradient is
    formed.
    """
    cdef double acc[LANES]
    cdef double cnt[LANES]
    cdef double total = 0.0, count = 0.0
    cdef floating t, h
    cdef Py_ssize_t b, j, k
    cdef Py_ssize_t nv = n - n % LANES
    for k in range(LANES):
        acc[k] = 0.0
        cnt[k] = 0.0
    if squared:
        for b in range(0, nv // LANES):
            j = b * LANES
            for k in range(LANES):
                t = s[j + k] - sy + delta
                h = 0 if t <= 0 else t
                acc[k] += h * h
                cnt[k] += h
                if g != NULL:
                    g[j + k] = 2 * gs * h
        for j in range(nv, n):
            t = s[j] - sy + delta
            h = 0 if t <= 0 else t
            total += h * h
            count += h
            if g != NULL:
                g[j] = 2 * gs * h
    else:
        for b in range(0, nv // LANES):
            j = b * LANES
            for k in range(LANES):
                t = s[j + k] - sy + delta
                h = 0 if t <= 0 else t
                acc[k] += h
                cnt[k] += 1 if t > 0 else 0
                if g != NULL:
                    g[j + k] = gs if t > 0 else 0
        for j in range(nv, n):
            t = s[j] - sy + delta
            h = 0 if t <= 0 else t
            total += h
            count += 1 if t > 0 else 0
            if g != NULL:
                g[j] = gs if t > 0 else 0
    for k in range(LANES):
        total += acc[k]
        count += cnt[k]
    aux[0] += count
    return total


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
    cdef double w, row_loss, aux
    cdef Py_ssize_t bad
    cdef floating sy, gs = 0
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
            sy = s[yi]
            w = (cw[yi] if cw != NULL else 1.0) * (sw[i] if sw != NULL else 1.0)
            if has_grad:
                g = &grad[i, 0]
                gs = <floating>(scale * w)
            aux = 0.0
            row_loss = hinge_span(s, g, yi, sy, delta, squared, gs, &aux)
            row_loss += hinge_span(s + yi + 1, (g + yi + 1) if has_grad else NULL,
                                   c - yi - 1, sy, delta, squared, gs, &aux)
            if has_grad:
                # d/ds_y = -Σ_{j≠y} d/ds_j
                g[yi] = <floating>(-(2.0 if squared else 1.0) * gs * aux)
            row_loss *= w
            total += row_loss
            if has_loss_out:
                loss_out[i] = <floating>row_loss
    return -1, total * scale
