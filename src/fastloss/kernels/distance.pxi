# The distance-based losses: squared error, absolute error, Huber, smooth L1.
#
# Included by kernels.pxi.  The public wrappers, with their validation and
# docstrings, are in distance.py; the NumPy twins in reference.py; the elementwise
# primitives in ../simd/distance.h.
#
# The arrays are flat: pred and target of any shape seen as N·K elements (K the
# elements per row, for per-row weights).  Without weights each thread runs one
# contiguous range (OpenMP's static split), one pass that reads pred and target and
# writes the gradient (and the per-element losses of reduction="none").  With weights
# the elements go in blocks of BLOCK, each block's weights converted to the dtype of
# pred in a stack buffer (L1-resident), as the binary kernels do.

cdef extern from "simd/distance.h":
    double fl_distance_f32(int kind, const float* x, const float* t, const float* w, float par,
                           float gs, float* g, float* lo, Py_ssize_t n) noexcept nogil
    double fl_distance_f64(int kind, const double* x, const double* t, const double* w,
                           double par, double gs, double* g, double* lo, Py_ssize_t n) noexcept nogil
    int FL_DIST_SQUARED
    int FL_DIST_ABSOLUTE
    int FL_DIST_HUBER
    int FL_DIST_SMOOTH_L1

# One distance-loss call, as the loops take it.
cdef struct dist_call:
    int kind                # FL_DIST_*
    double param            # Huber's δ, smooth L1's β
    const double* sw        # sample weights or NULL
    Py_ssize_t k_cols       # elements per row (per-row weights)
    bint weight_per_row     # weights per row (each of its K elements) or per element
    double scale            # the gradient's factor: 1/Σ w for the mean, else 1


cdef inline double dist_call_f(const dist_call* o, const floating* x, const floating* t,
                               const floating* w, floating* g, floating* lo,
                               Py_ssize_t n) noexcept nogil:
    """The loop of simd/distance.h over n elements from the given pointers."""
    if floating is float:
        return fl_distance_f32(o.kind, x, t, w, <float>o.param, <float>o.scale, g, lo, n)
    else:
        return fl_distance_f64(o.kind, x, t, w, o.param, o.scale, g, lo, n)


cdef double dist_range(const dist_call* o, const floating* x, const floating* t, floating* g,
                       floating* lo, Py_ssize_t b, Py_ssize_t e) noexcept nogil:
    """Elements b .. e-1 without weights; g, lo may be NULL."""
    if e <= b:
        return 0.0
    return dist_call_f(o, x + b, t + b, <const floating*>NULL,
                       g + b if g != NULL else NULL, lo + b if lo != NULL else NULL, e - b)


cdef double dist_block(const dist_call* o, const floating* x, const floating* t, floating* g,
                       floating* lo, Py_ssize_t b, Py_ssize_t m) noexcept nogil:
    """Elements b .. b+m-1 (m <= BLOCK) with weights, converted to the dtype of x."""
    cdef floating wbuf[BLOCK]
    cdef Py_ssize_t k, row, col
    if o.weight_per_row:
        row = b // o.k_cols
        col = b - row * o.k_cols
        for k in range(m):
            wbuf[k] = <floating>o.sw[row]
            col += 1
            if col == o.k_cols:
                col = 0
                row += 1
    else:
        for k in range(m):
            wbuf[k] = <floating>o.sw[b + k]
    return dist_call_f(o, x + b, t + b, <const floating*>wbuf,
                       g + b if g != NULL else NULL, lo + b if lo != NULL else NULL, m)


cdef double dist_unweighted(const dist_call* o, const floating* xp, const floating* tp,
                            floating* gp, floating* lp, Py_ssize_t n, int nt) noexcept nogil:
    """Σ w L over n elements without weights: one contiguous range per thread."""
    cdef int tid
    cdef double total = 0.0
    if nt <= 1:
        return dist_range(o, xp, tp, gp, lp, 0, n)
    for tid in prange(nt, schedule="static", num_threads=nt):
        total += dist_range(o, xp, tp, gp, lp, static_lo(n, nt, tid), static_lo(n, nt, tid + 1))
    return total


cdef int distance_kind(object kind, double param) except -1:
    if kind == "squared":
        return FL_DIST_SQUARED
    if kind == "absolute":
        return FL_DIST_ABSOLUTE
    if kind == "huber":
        return FL_DIST_HUBER
    if kind == "smooth_l1":
        # torch: smooth L1 with β = 0 is the L1 loss
        return FL_DIST_SMOOTH_L1 if param > 0.0 else FL_DIST_ABSOLUTE
    raise ValueError(f"kind must be 'squared', 'absolute', 'huber' or 'smooth_l1', got {kind!r}")


def distance(const floating[::1] pred, const floating[::1] target, *, kind, reduction,
             double param=0.0, Py_ssize_t k_cols=1, const double[::1] sample_weight=None,
             bint weight_per_row=True, floating[::1] grad=None, floating[::1] loss_out=None):
    """Fused distance loss ``kind`` and its gradient over N·K flat elements.

    ``param`` is Huber's δ or smooth L1's β; ``sample_weight`` is (N,) with
    ``weight_per_row`` (each row's weight applies to its ``k_cols`` elements) or (N·K,).
    Returns ``(-1, loss)`` (no input is rejected: the shape of the loss contract).
    ``grad`` and ``loss_out`` may be None; ``grad`` may be ``pred``.
    """
    cdef Py_ssize_t n = pred.shape[0], blk, n_weights = 0
    cdef int red = reduction_code(reduction)
    cdef int nt = threads_for(n, PARALLEL_MIN)
    cdef dist_call o
    cdef double denom, total = 0.0
    cdef floating* gp = NULL
    cdef floating* lp = NULL
    cdef const floating* xp
    cdef const floating* tp
    memset(&o, 0, sizeof(o))
    o.kind = distance_kind(kind, param)
    o.param = param
    o.k_cols = max(k_cols, 1)
    o.weight_per_row = weight_per_row
    o.scale = 1.0
    if n == 0:
        return -1, 0.0
    xp = &pred[0]
    tp = &target[0]
    if sample_weight is not None:
        o.sw = &sample_weight[0]
        n_weights = sample_weight.shape[0]
    if grad is not None:
        gp = &grad[0]
    if loss_out is not None:
        lp = &loss_out[0]
    if o.sw == NULL:
        denom = <double>n
    else:
        with nogil:
            denom = sum_f64(o.sw, n_weights) * (o.k_cols if o.weight_per_row else 1)
    if red == REDUCTION_MEAN:
        if denom == 0.0:
            if gp != NULL:
                zero(gp, n)
            return -1, 0.0
        o.scale = 1.0 / denom
    if o.sw == NULL:
        with nogil:
            total = dist_unweighted(&o, xp, tp, gp, lp, n, nt)
    else:
        for blk in prange((n + BLOCK - 1) // BLOCK, nogil=True, schedule="static",
                          num_threads=nt, use_threads_if=nt > 1):
            total += dist_block(&o, xp, tp, gp, lp, blk * BLOCK,
                                min(<Py_ssize_t>BLOCK, n - blk * BLOCK))
    return -1, total * o.scale


# ---- the fast entry (the common call, checked in C) ------------------------------------------

cdef inline void* acquire(object obj, Py_buffer* b, bint writable, bint* got) except? NULL:
    """The data of ndarray ``obj`` (its buffer acquired into ``b``)."""
    PyObject_GetBuffer(obj, b, PyBUF_RECORDS if writable else PyBUF_RECORDS_RO)
    got[0] = True
    return b.buf


def distance_fast(pred, target, kind, param, reduction, sample_weight, grad, out):
    """The distance losses' common case, done: ``(loss, grad)``; or None for the full path.

    Handled: ``pred`` and ``target`` ndarrays of one float dtype and shape, C-contiguous,
    at least one element; no weights; ``param`` (Huber's δ > 0, smooth L1's β >= 0) a
    Python float or int; any reduction string; ``grad`` True or False; ``out`` None or
    (with grad) a writeable C-contiguous ndarray like ``pred`` that is ``pred`` itself or
    overlaps neither input.  The same loops, split and scale as ``distance``: the same bits.
    """
    cdef Py_buffer xb, tb, ob, gb, lb
    cdef bint got_x = False, got_t = False, got_o = False, got_g = False, got_l = False
    cdef dist_call o
    cdef int red = reduction_of(reduction), fs, nt
    cdef Py_ssize_t n
    cdef double par = 0.0, total
    cdef object g_obj = None, lo_obj = None
    cdef void* gp = NULL
    cdef void* lp = NULL
    if (red < 0 or sample_weight is not None or type(pred) is not _ndarray
            or type(target) is not _ndarray or (grad is not True and grad is not False)
            or (out is not None and (grad is False or type(out) is not _ndarray))):
        return None
    memset(&o, 0, sizeof(o))
    o.k_cols = 1
    o.scale = 1.0
    if kind == "squared":
        o.kind = FL_DIST_SQUARED
    elif kind == "absolute":
        o.kind = FL_DIST_ABSOLUTE
    elif kind == "huber":
        if not real_in(param, 0.0, INFINITY, &par) or par <= 0.0:
            return None
        o.kind = FL_DIST_HUBER
    elif kind == "smooth_l1":
        if not real_in(param, 0.0, INFINITY, &par):
            return None
        o.kind = FL_DIST_SMOOTH_L1 if par > 0.0 else FL_DIST_ABSOLUTE
    else:
        return None
    o.param = par
    try:
        try:
            acquire(pred, &xb, False, &got_x)
            acquire(target, &tb, False, &got_t)
            if out is not None:
                acquire(out, &ob, True, &got_o)
        except (BufferError, TypeError, ValueError):
            return None
        fs = float_size(&xb)
        if (fs == 0 or xb.len == 0 or not PyBuffer_IsContiguous(&xb, b'C')
                or not PyBuffer_IsContiguous(&tb, b'C') or not same_layout(&xb, &tb)):
            return None
        if got_o and (not PyBuffer_IsContiguous(&ob, b'C') or not same_layout(&xb, &ob)
                      or overlaps(&ob, &tb) or (overlaps(&ob, &xb) and ob.buf != xb.buf)):
            return None
        n = xb.len // xb.itemsize
        if grad is True:
            if got_o:
                g_obj = out
                gp = ob.buf
            else:
                g_obj = _empty(pred.shape, pred.dtype)
                gp = acquire(g_obj, &gb, True, &got_g)
        if red == REDUCTION_NONE:
            lo_obj = _empty(pred.shape, pred.dtype)
            lp = acquire(lo_obj, &lb, True, &got_l)
        elif red == REDUCTION_MEAN:
            o.scale = 1.0 / <double>n
        nt = threads_for(n, PARALLEL_MIN)
        with nogil:
            if fs == 4:
                total = dist_unweighted(&o, <const float*>xb.buf, <const float*>tb.buf,
                                        <float*>gp, <float*>lp, n, nt)
            else:
                total = dist_unweighted(&o, <const double*>xb.buf, <const double*>tb.buf,
                                        <double*>gp, <double*>lp, n, nt)
    finally:
        if got_l:
            PyBuffer_Release(&lb)
        if got_g:
            PyBuffer_Release(&gb)
        if got_o:
            PyBuffer_Release(&ob)
        if got_t:
            PyBuffer_Release(&tb)
        if got_x:
            PyBuffer_Release(&xb)
    return (lo_obj if red == REDUCTION_NONE else total * o.scale), g_obj
