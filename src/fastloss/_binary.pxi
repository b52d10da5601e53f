# Binary losses and the sigmoid: binary_hinge, sigmoid_cross_entropy, sigmoid.
#
# Included by _kernels.pxi (once per instruction-set build).  The public
# wrappers with their validation and docstrings are in binary.py; the NumPy
# twins in reference.py.
#
# The arrays are flat: (N,) scores, or (N, K) logits seen as N·K elements.
# Labels come in their own dtype (any of blabel_t) and are checked in a first
# pass, before anything is written.  binary_hinge packs them to int8 signs in
# that pass (labels already int8 are only checked), and its kernel widens the
# signs in registers.  sigmoid_cross_entropy converts each block's targets
# (and weights, pos weights) to the dtype of the scores in small stack
# buffers (L1-resident).  One explicit-vector helper of _simd_rows.h then
# computes a block's loss, gradient and sum.  Blocks are split
# over OpenMP threads (``num_threads``, static schedule); the per-block work is
# a function of its own so that its stack buffers are private to a thread.

from cython.parallel cimport prange
from libc.stdint cimport int16_t   # int8_t: _rowops.pxi
from libc.stdlib cimport free, malloc

ctypedef fused blabel_t:
    int8_t
    int16_t
    int32_t
    int64_t
    float
    double

cdef enum:
    BLOCK = 1024
    CHECK_BLOCK = 16384     # labels per block of the (threaded) label check


cdef Py_ssize_t count_not_sign(const blabel_t* y, Py_ssize_t n) noexcept nogil:
    """How many y[i] are not -1 or +1 (a vectorisable count)."""
    cdef Py_ssize_t i, nbad = 0
    for i in range(n):
        nbad += (y[i] != 1) & (y[i] != -1)
    return nbad


cdef Py_ssize_t pack_signs(const blabel_t* y, int8_t* packed, Py_ssize_t n) noexcept nogil:
    """packed[i] = sign of y[i] as int8, and how many y[i] are not -1 or +1:
    the label check and a compact copy in one pass."""
    cdef Py_ssize_t i, nbad = 0
    for i in range(n):
        nbad += (y[i] != 1) & (y[i] != -1)
        packed[i] = 1 if y[i] > 0 else -1
    return nbad


cdef Py_ssize_t first_not_sign(const blabel_t* y, Py_ssize_t n) noexcept nogil:
    """Index of the first y[i] that is not -1 or +1, or -1."""
    cdef Py_ssize_t i
    for i in range(n):
        if y[i] != 1 and y[i] != -1:
            return i
    return -1


cdef Py_ssize_t count_not_unit(const blabel_t* y, Py_ssize_t n) noexcept nogil:
    """How many y[i] are outside [0, 1] (NaN included)."""
    cdef Py_ssize_t i, nbad = 0
    for i in range(n):
        nbad += (y[i] < 0) | (y[i] > 1) | (y[i] != y[i])
    return nbad


cdef Py_ssize_t first_not_unit(const blabel_t* y, Py_ssize_t n) noexcept nogil:
    """Index of the first y[i] outside [0, 1] (NaN included), or -1."""
    cdef Py_ssize_t i
    for i in range(n):
        if y[i] < 0 or y[i] > 1 or y[i] != y[i]:
            return i
    return -1


cdef inline const floating* as_floating(const blabel_t* y, floating* buf, Py_ssize_t m,
                                        floating dummy) noexcept nogil:
    """y[:m] in the dtype of the scores: y itself if it already is, else converted into buf."""
    cdef Py_ssize_t k
    if (floating is float and blabel_t is float) or (floating is double and blabel_t is double):
        return <const floating*>y
    else:
        for k in range(m):
            buf[k] = <floating>y[k]
        return buf


def sigmoid(const floating[::1] x, floating[::1] out, int num_threads=1):
    """out = σ(x) elementwise (flat arrays); ``out`` may be ``x``."""
    cdef Py_ssize_t n = x.shape[0], blk
    cdef int nt = num_threads if num_threads > 1 else 1
    cdef const floating* xp
    cdef floating* op
    if n == 0:
        return
    xp = &x[0]
    op = &out[0]
    for blk in prange((n + BLOCK - 1) // BLOCK, nogil=True, schedule="static", num_threads=nt,
                      use_threads_if=nt > 1):
        sigmoid_block(xp + blk * BLOCK, op + blk * BLOCK, min(<Py_ssize_t>BLOCK, n - blk * BLOCK))


cdef double binary_hinge_chunk(const floating* scores, const int8_t* y, const double* sw,
                               floating delta, bint squared, floating gs, floating* grad,
                               floating* loss_out, Py_ssize_t b, Py_ssize_t m) noexcept nogil:
    """binary_hinge over elements b .. b+m-1 (m <= BLOCK), labels as int8 signs (converted
    in registers); grad, loss_out, sw may be NULL."""
    cdef floating wbuf[BLOCK]
    cdef floating* wb = NULL
    cdef Py_ssize_t k
    if sw != NULL:
        for k in range(m):
            wbuf[k] = <floating>sw[b + k]
        wb = wbuf
    return binary_hinge_block(scores + b, y + b, wb, delta, squared, gs,
                              grad + b if grad != NULL else NULL,
                              loss_out + b if loss_out != NULL else NULL, m)


def binary_hinge(const floating[::1] scores, const blabel_t[::1] y,
                 const double[::1] sample_weight, double margin, bint squared, int reduction,
                 floating[::1] grad, floating[::1] loss_out, int num_threads=1):
    """Fused binary hinge loss and gradient over (N,) scores and labels ±1.

    Returns ``(bad_label_index, loss)``: an index >= 0 means y holds a value
    other than -1/+1 there, and nothing was written.  ``grad`` and
    ``loss_out`` may be None; ``grad`` may be ``scores`` itself.
    """
    cdef Py_ssize_t n = scores.shape[0], blk
    cdef Py_ssize_t bad
    cdef const double* sw = NULL
    cdef bint has_grad = grad is not None
    cdef double denom, scale = 1.0, total = 0.0
    cdef floating* gp = NULL
    cdef floating* lp = NULL
    cdef floating delta = <floating>margin
    cdef floating gs
    cdef int nt = num_threads if num_threads > 1 else 1
    cdef int8_t* packed = NULL
    cdef const int8_t* yp
    cdef const blabel_t* y0
    cdef Py_ssize_t nbad = 0

    if n == 0:
        return -1, 0.0
    y0 = &y[0]
    # The labels are checked before anything is written, block by block over
    # the threads (a serial pass would cap the speed-up of two threads).
    if blabel_t is int8_t:
        for blk in prange((n + CHECK_BLOCK - 1) // CHECK_BLOCK, nogil=True, schedule="static",
                          num_threads=nt, use_threads_if=nt > 1 and n > CHECK_BLOCK):
            nbad += count_not_sign(y0 + blk * CHECK_BLOCK,
                                   min(<Py_ssize_t>CHECK_BLOCK, n - blk * CHECK_BLOCK))
        yp = <const int8_t*>y0
    else:
        # Wider labels are checked and copied as int8 signs in one pass: the
        # kernel is memory-bound, and an int64 label is twice the bytes of
        # its float32 score -- read once here instead of twice.
        packed = <int8_t*>malloc(n)
        if packed == NULL:
            raise MemoryError()
        for blk in prange((n + CHECK_BLOCK - 1) // CHECK_BLOCK, nogil=True, schedule="static",
                          num_threads=nt, use_threads_if=nt > 1 and n > CHECK_BLOCK):
            nbad += pack_signs(y0 + blk * CHECK_BLOCK, packed + blk * CHECK_BLOCK,
                               min(<Py_ssize_t>CHECK_BLOCK, n - blk * CHECK_BLOCK))
        yp = packed
    if nbad:
        free(packed)
        with nogil:
            bad = first_not_sign(y0, n)
        return bad, 0.0
    try:
        if sample_weight is not None:
            sw = &sample_weight[0]
            with nogil:
                denom = sum_f64(sw, n)
        else:
            denom = <double>n
        if reduction == REDUCTION_MEAN:
            if denom == 0.0:
                if has_grad:
                    with nogil:
                        row_fill(&grad[0], <floating>0, n)
                return -1, 0.0
            scale = 1.0 / denom
        gs = <floating>scale

        if has_grad:
            gp = &grad[0]
        if loss_out is not None:
            lp = &loss_out[0]
        for blk in prange((n + BLOCK - 1) // BLOCK, nogil=True, schedule="static",
                          num_threads=nt, use_threads_if=nt > 1):
            total += binary_hinge_chunk(&scores[0], yp, sw, delta, squared, gs, gp, lp,
                                        blk * BLOCK, min(<Py_ssize_t>BLOCK, n - blk * BLOCK))
    finally:
        free(packed)
    return -1, total * scale


cdef double sigmoid_ce_chunk(const floating* logits, const blabel_t* y, Py_ssize_t k_cols,
                             const double* pw, const double* sw, bint weight_per_row,
                             floating gs, floating* grad, floating* loss_out, Py_ssize_t b,
                             Py_ssize_t m) noexcept nogil:
    """sigmoid_cross_entropy over flat elements b .. b+m-1 (m <= BLOCK); pw, sw, grad,
    loss_out may be NULL."""
    cdef floating ybuf[BLOCK]
    cdef floating wbuf[BLOCK]
    cdef floating pbuf[BLOCK]
    cdef const floating* yb
    cdef floating* wb = NULL
    cdef floating* pb = NULL
    cdef Py_ssize_t k, row, col
    yb = as_floating(y + b, ybuf, m, gs)
    if pw != NULL or (sw != NULL and weight_per_row):
        row = b // k_cols
        col = b - row * k_cols
        for k in range(m):
            if pw != NULL:
                pbuf[k] = <floating>pw[col]
            if sw != NULL and weight_per_row:
                wbuf[k] = <floating>sw[row]
            col += 1
            if col == k_cols:
                col = 0
                row += 1
        if pw != NULL:
            pb = pbuf
    if sw != NULL:
        if not weight_per_row:
            for k in range(m):
                wbuf[k] = <floating>sw[b + k]
        wb = wbuf
    return sigmoid_ce_block(logits + b, yb, pb, wb, gs,
                            grad + b if grad != NULL else NULL,
                            loss_out + b if loss_out != NULL else NULL, m)


def sigmoid_cross_entropy(const floating[::1] logits, const blabel_t[::1] y, Py_ssize_t k_cols,
                          const double[::1] pos_weight, const double[::1] sample_weight,
                          bint weight_per_row, int reduction, floating[::1] grad,
                          floating[::1] loss_out, int num_threads=1):
    """Fused sigmoid cross-entropy loss and gradient over N·K flat logits.

    The logits are an (N, K) array seen flat (K = 1 for (N,) logits).
    ``pos_weight`` is (K,), one per column; ``sample_weight`` is (N,) with
    ``weight_per_row`` (each row's weight applies to its K elements) or (N·K,).
    Returns ``(bad_target_index, loss)`` like binary_hinge (a target outside
    [0, 1]).  ``grad`` and ``loss_out`` may be None; ``grad`` may be ``logits``.
    """
    cdef Py_ssize_t n = logits.shape[0], blk
    cdef Py_ssize_t bad
    cdef const double* sw = NULL
    cdef const double* pw = NULL
    cdef bint has_grad = grad is not None
    cdef double denom, scale = 1.0, total = 0.0
    cdef floating* gp = NULL
    cdef floating* lp = NULL
    cdef floating gs
    cdef int nt = num_threads if num_threads > 1 else 1
    cdef const blabel_t* y0
    cdef Py_ssize_t nbad = 0

    if n == 0:
        return -1, 0.0
    y0 = &y[0]
    # the targets are checked before anything is written (threaded, as in binary_hinge)
    for blk in prange((n + CHECK_BLOCK - 1) // CHECK_BLOCK, nogil=True, schedule="static",
                      num_threads=nt, use_threads_if=nt > 1 and n > CHECK_BLOCK):
        nbad += count_not_unit(y0 + blk * CHECK_BLOCK,
                               min(<Py_ssize_t>CHECK_BLOCK, n - blk * CHECK_BLOCK))
    if nbad:
        with nogil:
            bad = first_not_unit(y0, n)
        return bad, 0.0
    if pos_weight is not None:
        pw = &pos_weight[0]
    if sample_weight is not None:
        sw = &sample_weight[0]
        with nogil:
            denom = sum_f64(sw, sample_weight.shape[0])
        if weight_per_row:
            denom *= k_cols
    else:
        denom = <double>n
    if reduction == REDUCTION_MEAN:
        if denom == 0.0:
            if has_grad:
                with nogil:
                    row_fill(&grad[0], <floating>0, n)
            return -1, 0.0
        scale = 1.0 / denom
    gs = <floating>scale

    if has_grad:
        gp = &grad[0]
    if loss_out is not None:
        lp = &loss_out[0]
    for blk in prange((n + BLOCK - 1) // BLOCK, nogil=True, schedule="static", num_threads=nt,
                      use_threads_if=nt > 1):
        total += sigmoid_ce_chunk(&logits[0], &y[0], k_cols, pw, sw, weight_per_row, gs, gp, lp,
                                  blk * BLOCK, min(<Py_ssize_t>BLOCK, n - blk * BLOCK))
    return -1, total * scale
