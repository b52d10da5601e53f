# Binary losses and the sigmoid: binary_hinge, sigmoid_cross_entropy, sigmoid.
#
# Included by kernels.pxi.  The public wrappers with their validation and
# docstrings are in binary.py; the NumPy twins in reference.py; the
# elementwise primitives in ../simd/binary.h.
#
# The arrays are flat: (N,) scores, or (N, K) logits seen as N·K elements.
# Labels come in their own dtype (any of blabel_t) and are checked in a first
# pass, before anything is written, block by block over the threads (a serial
# pass would cap the speed-up of two threads).  binary_hinge packs them to
# int8 signs in that pass (labels already int8 are only checked), and its
# kernel widens the signs in registers.  sigmoid_cross_entropy converts each
# block's targets (and weights, pos weights) to the dtype of the scores in
# small stack buffers (L1-resident).  Blocks are split over OpenMP threads
# (static schedule); the per-block work is a function of its own so that its
# stack buffers are private to a thread.

from libc.stdlib cimport free, malloc

cdef extern from "simd/binary.h":
    void fl_sigmoid_f32(const float* x, float* out, Py_ssize_t n) noexcept nogil
    void fl_sigmoid_f64(const double* x, double* out, Py_ssize_t n) noexcept nogil
    double fl_sigmoid_ce_f32(const float* x, const float* y, const float* p, const float* w,
                             float gs, float* g, float* lo, Py_ssize_t n) noexcept nogil
    double fl_sigmoid_ce_f64(const double* x, const double* y, const double* p, const double* w,
                             double gs, double* g, double* lo, Py_ssize_t n) noexcept nogil
    double fl_binary_hinge_f32(const float* s, const int8_t* y, const float* w, float delta,
                               int squared, float gs, float* g, float* lo, Py_ssize_t n) noexcept nogil
    double fl_binary_hinge_f64(const double* s, const int8_t* y, const double* w, double delta,
                               int squared, double gs, double* g, double* lo, Py_ssize_t n) noexcept nogil

ctypedef fused blabel_t:
    int8_t
    int16_t
    int32_t
    int64_t
    float
    double

cdef enum:
    BLOCK = 1024            # elements per block of the loss loops
    CHECK_BLOCK = 16384     # labels per block of the (threaded) label check

# One binary-loss call, as the block loops take it.
cdef struct binary_call:
    const double* sw        # sample weights or NULL
    const double* pw        # sigmoid_cross_entropy: (K,) pos weights or NULL
    Py_ssize_t k_cols       # sigmoid_cross_entropy: K, the logits' columns
    bint weight_per_row     # sample weights per row (each of its K elements) or per element
    double margin           # binary_hinge: Δ
    bint squared            # binary_hinge: square the hinge
    double scale            # the gradient's factor: 1/Σ w for the mean, else 1


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


cdef double binary_denominator(const binary_call* o, Py_ssize_t n, Py_ssize_t n_weights) noexcept nogil:
    """Σ w over every element (a row's weight counting K times), n without weights."""
    if o.sw == NULL:
        return <double>n
    if o.weight_per_row:
        return sum_f64(o.sw, n_weights) * o.k_cols
    return sum_f64(o.sw, n_weights)


def sigmoid(const floating[::1] x, floating[::1] out):
    """out = σ(x) elementwise (flat arrays); ``out`` may be ``x``."""
    cdef Py_ssize_t n = x.shape[0], blk
    cdef int nt = threads_for(n, PARALLEL_MIN)
    cdef const floating* xp
    cdef floating* op
    if n == 0:
        return
    xp = &x[0]
    op = &out[0]
    for blk in prange((n + BLOCK - 1) // BLOCK, nogil=True, schedule="static", num_threads=nt,
                      use_threads_if=nt > 1):
        if floating is float:
            fl_sigmoid_f32(xp + blk * BLOCK, op + blk * BLOCK, min(<Py_ssize_t>BLOCK, n - blk * BLOCK))
        else:
            fl_sigmoid_f64(xp + blk * BLOCK, op + blk * BLOCK, min(<Py_ssize_t>BLOCK, n - blk * BLOCK))


# ---- binary_hinge ---------------------------------------------------------------------------

cdef double binary_hinge_chunk(const binary_call* o, const floating* scores, const int8_t* y,
                               floating* grad, floating* loss_out, Py_ssize_t b,
                               Py_ssize_t m) noexcept nogil:
    """binary_hinge over elements b .. b+m-1 (m <= BLOCK), labels as int8 signs (converted
    in registers); grad, loss_out may be NULL."""
    cdef floating wbuf[BLOCK]
    cdef floating* wb = NULL
    cdef floating* g = grad + b if grad != NULL else NULL
    cdef floating* lo = loss_out + b if loss_out != NULL else NULL
    cdef Py_ssize_t k
    if o.sw != NULL:
        for k in range(m):
            wbuf[k] = <floating>o.sw[b + k]
        wb = wbuf
    if floating is float:
        return fl_binary_hinge_f32(scores + b, y + b, wb, <float>o.margin, o.squared,
                                   <float>o.scale, g, lo, m)
    else:
        return fl_binary_hinge_f64(scores + b, y + b, wb, o.margin, o.squared, o.scale, g, lo, m)


def binary_hinge(const floating[::1] scores, const blabel_t[::1] y, *, reduction,
                 double margin=1.0, bint squared=False, const double[::1] sample_weight=None,
                 floating[::1] grad=None, floating[::1] loss_out=None):
    """Fused binary hinge loss and gradient over (N,) scores and labels ±1.

    Returns ``(bad_label_index, loss)``: an index >= 0 means y holds a value
    other than -1/+1 there, and nothing was written.  ``grad`` and
    ``loss_out`` may be None; ``grad`` may be ``scores`` itself.
    """
    cdef Py_ssize_t n = scores.shape[0], blk, bad, nbad = 0
    cdef int red = reduction_code(reduction)
    cdef int nt = threads_for(n, PARALLEL_MIN)
    cdef binary_call o
    cdef double denom, total = 0.0
    cdef floating* gp = NULL
    cdef floating* lp = NULL
    cdef int8_t* packed = NULL
    cdef const int8_t* yp
    cdef const blabel_t* y0

    if n == 0:
        return -1, 0.0
    y0 = &y[0]
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
        memset(&o, 0, sizeof(o))
        o.margin = margin
        o.squared = squared
        o.scale = 1.0
        if sample_weight is not None:
            o.sw = &sample_weight[0]
        if grad is not None:
            gp = &grad[0]
        if loss_out is not None:
            lp = &loss_out[0]
        with nogil:
            denom = binary_denominator(&o, n, n)
        if red == REDUCTION_MEAN:
            if denom == 0.0:
                if gp != NULL:
                    zero(gp, n)
                return -1, 0.0
            o.scale = 1.0 / denom
        for blk in prange((n + BLOCK - 1) // BLOCK, nogil=True, schedule="static",
                          num_threads=nt, use_threads_if=nt > 1):
            total += binary_hinge_chunk(&o, &scores[0], yp, gp, lp, blk * BLOCK,
                                        min(<Py_ssize_t>BLOCK, n - blk * BLOCK))
    finally:
        free(packed)
    return -1, total * o.scale


# ---- sigmoid_cross_entropy ------------------------------------------------------------------

cdef double sigmoid_ce_chunk(const binary_call* o, const floating* logits, const blabel_t* y,
                             floating* grad, floating* loss_out, Py_ssize_t b,
                             Py_ssize_t m) noexcept nogil:
    """sigmoid_cross_entropy over flat elements b .. b+m-1 (m <= BLOCK); grad, loss_out
    may be NULL."""
    cdef floating ybuf[BLOCK]
    cdef floating wbuf[BLOCK]
    cdef floating pbuf[BLOCK]
    cdef const floating* yb
    cdef floating* wb = NULL
    cdef floating* pb = NULL
    cdef floating* g = grad + b if grad != NULL else NULL
    cdef floating* lo = loss_out + b if loss_out != NULL else NULL
    cdef floating gs = <floating>o.scale
    cdef Py_ssize_t k, row, col
    yb = as_floating(y + b, ybuf, m, gs)
    if o.pw != NULL or (o.sw != NULL and o.weight_per_row):
        row = b // o.k_cols
        col = b - row * o.k_cols
        for k in range(m):
            if o.pw != NULL:
                pbuf[k] = <floating>o.pw[col]
            if o.sw != NULL and o.weight_per_row:
                wbuf[k] = <floating>o.sw[row]
            col += 1
            if col == o.k_cols:
                col = 0
                row += 1
        if o.pw != NULL:
            pb = pbuf
    if o.sw != NULL:
        if not o.weight_per_row:
            for k in range(m):
                wbuf[k] = <floating>o.sw[b + k]
        wb = wbuf
    if floating is float:
        return fl_sigmoid_ce_f32(logits + b, yb, pb, wb, gs, g, lo, m)
    else:
        return fl_sigmoid_ce_f64(logits + b, yb, pb, wb, gs, g, lo, m)


def sigmoid_cross_entropy(const floating[::1] logits, const blabel_t[::1] y, *, reduction,
                          Py_ssize_t k_cols=1, const double[::1] pos_weight=None,
                          const double[::1] sample_weight=None, bint weight_per_row=True,
                          floating[::1] grad=None, floating[::1] loss_out=None,
                          bint check_targets=True, divisor=None):
    """Fused sigmoid cross-entropy loss and gradient over N·K flat logits.

    The logits are an (N, K) array seen flat (K = 1 for (N,) logits).
    ``pos_weight`` is (K,), one per column (with K = N·K, one per element);
    ``sample_weight`` is (N,) with ``weight_per_row`` (each row's weight
    applies to its K elements) or (N·K,).  Returns ``(bad_target_index, loss)``
    like binary_hinge (a target outside [0, 1]).  ``grad`` and ``loss_out``
    may be None; ``grad`` may be ``logits``.  With ``check_targets=False`` the
    targets are not checked: the formula is applied to any values, as torch
    applies it; weights of any sign work either way.  ``divisor`` (> 0): what
    ``reduction="mean"`` divides by instead of the total weight (torch's mean
    divides by the number of elements).
    """
    cdef Py_ssize_t n = logits.shape[0], blk, bad, nbad = 0, n_weights
    cdef int red = reduction_code(reduction)
    cdef int nt = threads_for(n, PARALLEL_MIN)
    cdef binary_call o
    cdef double denom, total = 0.0
    cdef floating* gp = NULL
    cdef floating* lp = NULL
    cdef const blabel_t* y0
    cdef double div = 0.0

    if divisor is not None:
        div = divisor
        if not div > 0.0:
            raise ValueError(f"divisor must be > 0, got {divisor!r}")
    if n == 0:
        return -1, 0.0
    y0 = &y[0]
    # the targets are checked before anything is written (threaded, as in binary_hinge)
    if check_targets:
        for blk in prange((n + CHECK_BLOCK - 1) // CHECK_BLOCK, nogil=True, schedule="static",
                          num_threads=nt, use_threads_if=nt > 1 and n > CHECK_BLOCK):
            nbad += count_not_unit(y0 + blk * CHECK_BLOCK,
                                   min(<Py_ssize_t>CHECK_BLOCK, n - blk * CHECK_BLOCK))
    if nbad:
        with nogil:
            bad = first_not_unit(y0, n)
        return bad, 0.0
    memset(&o, 0, sizeof(o))
    o.k_cols = k_cols
    o.weight_per_row = weight_per_row
    o.scale = 1.0
    if pos_weight is not None:
        o.pw = &pos_weight[0]
    if sample_weight is not None:
        o.sw = &sample_weight[0]
    if grad is not None:
        gp = &grad[0]
    if loss_out is not None:
        lp = &loss_out[0]
    n_weights = sample_weight.shape[0] if sample_weight is not None else 0
    with nogil:
        denom = div if div > 0.0 else binary_denominator(&o, n, n_weights)
    if red == REDUCTION_MEAN:
        if denom == 0.0:
            if gp != NULL:
                zero(gp, n)
            return -1, 0.0
        o.scale = 1.0 / denom
    for blk in prange((n + BLOCK - 1) // BLOCK, nogil=True, schedule="static", num_threads=nt,
                      use_threads_if=nt > 1):
        total += sigmoid_ce_chunk(&o, &logits[0], y0, gp, lp, blk * BLOCK,
                                  min(<Py_ssize_t>BLOCK, n - blk * BLOCK))
    return -1, total * o.scale
