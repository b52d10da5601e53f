# The adaptive optimizers' in-place updates: Adam (and AdamW), RMSprop, Adagrad.
#
# Included by kernels.pxi (after fastpath.pxi, whose buffer helpers it uses).  The
# public wrappers, with their validation and docstrings, are in adaptive.py; the NumPy
# twins in reference.py; the per-element loops in ../simd/adaptive.h.
#
# One pass over memory: the parameter and every state array are read and written once
# per element, the gradient read once, nothing else touched.  Chunks of
# ADAPTIVE_CHUNK elements are split over OpenMP threads (static schedule) from
# ADAPTIVE_PARALLEL_MIN elements (fastloss._threads); every element is computed the
# same way for any thread count.
#
# For other Cython code (a training loop): the *_run functions below take a prepared
# hyper-parameter struct and raw pointers, nogil, and split over threads by the one
# policy; the C functions fl_adam_f32/_f64 (& co.) of simd/adaptive.h take an index
# range [i0, i1) for a caller that splits the work itself.  The structs:
#
#   fl_adam_hyper     fl_adam_init(&h, lr, beta1, beta2, eps, weight_decay, decoupled,
#                     amsgrad, maximize), then before each step fl_adam_prepare(&h, t)
#                     with the 1-based step t (the bias corrections; set h.lr first
#                     to change the learning rate)
#   fl_rmsprop_hyper  fl_rmsprop_init(&h, lr, alpha, eps, weight_decay, momentum,
#                     centered, maximize); nothing per step (h.lr may be changed)
#   fl_adagrad_hyper  fl_adagrad_init(&h, lr, lr_decay, weight_decay, eps, maximize),
#                     then fl_adagrad_prepare(&h, t) before step t (lr_decay)

cdef extern from "simd/adaptive.h":
    ctypedef struct fl_adam_hyper:
        double lr
        double beta1
        double beta2
        double eps
        double weight_decay
        int decoupled
        int amsgrad
        int maximize
        double step_size
        double inv_bc2
        double decay
    ctypedef struct fl_rmsprop_hyper:
        double lr
        double alpha
        double eps
        double weight_decay
        double momentum
        int centered
        int maximize
    ctypedef struct fl_adagrad_hyper:
        double lr
        double lr_decay
        double weight_decay
        double eps
        int maximize
        double clr
    void fl_adam_init(fl_adam_hyper* h, double lr, double beta1, double beta2, double eps,
                      double weight_decay, int decoupled, int amsgrad, int maximize) noexcept nogil
    void fl_adam_prepare(fl_adam_hyper* h, long long t) noexcept nogil
    void fl_adam_f32(const fl_adam_hyper* h, float* p, const float* g, float* m, float* v,
                     float* vmax, Py_ssize_t i0, Py_ssize_t i1) noexcept nogil
    void fl_adam_f64(const fl_adam_hyper* h, double* p, const double* g, double* m, double* v,
                     double* vmax, Py_ssize_t i0, Py_ssize_t i1) noexcept nogil
    void fl_rmsprop_init(fl_rmsprop_hyper* h, double lr, double alpha, double eps,
                         double weight_decay, double momentum, int centered,
                         int maximize) noexcept nogil
    void fl_rmsprop_f32(const fl_rmsprop_hyper* h, float* p, const float* g, float* sq,
                        float* gavg, float* buf, Py_ssize_t i0, Py_ssize_t i1) noexcept nogil
    void fl_rmsprop_f64(const fl_rmsprop_hyper* h, double* p, const double* g, double* sq,
                        double* gavg, double* buf, Py_ssize_t i0, Py_ssize_t i1) noexcept nogil
    void fl_adagrad_init(fl_adagrad_hyper* h, double lr, double lr_decay, double weight_decay,
                         double eps, int maximize) noexcept nogil
    void fl_adagrad_prepare(fl_adagrad_hyper* h, long long t) noexcept nogil
    void fl_adagrad_f32(const fl_adagrad_hyper* h, float* p, const float* g, float* s,
                        Py_ssize_t i0, Py_ssize_t i1) noexcept nogil
    void fl_adagrad_f64(const fl_adagrad_hyper* h, double* p, const double* g, double* s,
                        Py_ssize_t i0, Py_ssize_t i1) noexcept nogil

cdef enum:
    ADAPTIVE_CHUNK = 8192


# ---- the threaded runs over whole arrays (raw pointers, nogil) -----------------------

cdef void adam_run(const fl_adam_hyper* h, floating* p, const floating* g, floating* m,
                   floating* v, floating* vmax, Py_ssize_t n) noexcept nogil:
    """One Adam step over n elements (``h`` prepared for it); ``vmax`` NULL without amsgrad."""
    cdef Py_ssize_t blk, b, e
    cdef int nt = threads_for(n, ADAPTIVE_PARALLEL_MIN)
    if nt <= 1:
        if floating is float:
            fl_adam_f32(h, p, g, m, v, vmax, 0, n)
        else:
            fl_adam_f64(h, p, g, m, v, vmax, 0, n)
        return
    for blk in prange((n + ADAPTIVE_CHUNK - 1) // ADAPTIVE_CHUNK, schedule="static",
                      num_threads=nt):
        b = blk * ADAPTIVE_CHUNK
        e = min(b + ADAPTIVE_CHUNK, n)
        if floating is float:
            fl_adam_f32(h, p, g, m, v, vmax, b, e)
        else:
            fl_adam_f64(h, p, g, m, v, vmax, b, e)


cdef void rmsprop_run(const fl_rmsprop_hyper* h, floating* p, const floating* g, floating* sq,
                      floating* gavg, floating* buf, Py_ssize_t n) noexcept nogil:
    """One RMSprop step over n elements; ``gavg`` NULL unless centered, ``buf`` NULL without momentum."""
    cdef Py_ssize_t blk, b, e
    cdef int nt = threads_for(n, ADAPTIVE_PARALLEL_MIN)
    if nt <= 1:
        if floating is float:
            fl_rmsprop_f32(h, p, g, sq, gavg, buf, 0, n)
        else:
            fl_rmsprop_f64(h, p, g, sq, gavg, buf, 0, n)
        return
    for blk in prange((n + ADAPTIVE_CHUNK - 1) // ADAPTIVE_CHUNK, schedule="static",
                      num_threads=nt):
        b = blk * ADAPTIVE_CHUNK
        e = min(b + ADAPTIVE_CHUNK, n)
        if floating is float:
            fl_rmsprop_f32(h, p, g, sq, gavg, buf, b, e)
        else:
            fl_rmsprop_f64(h, p, g, sq, gavg, buf, b, e)


cdef void adagrad_run(const fl_adagrad_hyper* h, floating* p, const floating* g, floating* s,
                      Py_ssize_t n) noexcept nogil:
    """One Adagrad step over n elements (``h`` prepared for it)."""
    cdef Py_ssize_t blk, b, e
    cdef int nt = threads_for(n, ADAPTIVE_PARALLEL_MIN)
    if nt <= 1:
        if floating is float:
            fl_adagrad_f32(h, p, g, s, 0, n)
        else:
            fl_adagrad_f64(h, p, g, s, 0, n)
        return
    for blk in prange((n + ADAPTIVE_CHUNK - 1) // ADAPTIVE_CHUNK, schedule="static",
                      num_threads=nt):
        b = blk * ADAPTIVE_CHUNK
        e = min(b + ADAPTIVE_CHUNK, n)
        if floating is float:
            fl_adagrad_f32(h, p, g, s, b, e)
        else:
            fl_adagrad_f64(h, p, g, s, b, e)


# ---- buffers of a call over several arrays ----------------------------------------------

@cython.auto_pickle(False)
cdef class _Buffers:
    """The buffers of one optimizer call: acquired one by one, released when it goes."""
    cdef Py_buffer* b
    cdef Py_ssize_t n, cap

    def __cinit__(self, Py_ssize_t cap):
        self.b = <Py_buffer*>malloc(max(cap, 1) * sizeof(Py_buffer))
        if self.b == NULL:
            raise MemoryError()
        self.cap = cap
        self.n = 0

    def __dealloc__(self):
        cdef Py_ssize_t i
        for i in range(self.n):
            PyBuffer_Release(&self.b[i])
        free(self.b)

    cdef Py_buffer* get(self, object obj, bint writable, int fs, bint exact=True):
        """The buffer of ``obj``: an ndarray (``exact``: not a subclass), C-contiguous, of float
        size ``fs`` (4 or 8; 0: either); NULL if it is anything else."""
        cdef Py_buffer* b
        if self.n == self.cap or (type(obj) is not _ndarray
                                  and (exact or not isinstance(obj, _ndarray))):
            return NULL
        b = &self.b[self.n]
        try:
            PyObject_GetBuffer(obj, b, PyBUF_RECORDS if writable else PyBUF_RECORDS_RO)
        except (BufferError, TypeError, ValueError):
            return NULL
        self.n += 1
        if (float_size(b) == 0 or (fs != 0 and float_size(b) != fs)
                or not PyBuffer_IsContiguous(b, b'C')):
            return NULL
        return b


cdef inline bint like(const Py_buffer* a, const Py_buffer* b) noexcept:
    """b has a's dtype and shape and shares no memory with it."""
    return same_layout(a, b) and not overlaps(a, b)


cdef inline void* ptr(const Py_buffer* b) noexcept nogil:
    return b.buf if b != NULL else NULL


cdef Py_ssize_t optimizer_buffers(_Buffers bufs, list params, list grads, list states,
                                  Py_buffer** out, int nstate) except -2:
    """Acquire params[i], grads[i] and states[k][i] (None: none) into ``out`` (row i:
    param, grad, the states); -1 when every one is in kernel form, else the first i whose
    gradient is not (shape, dtype, layout, overlap) -- the wrapper then checks that
    gradient in Python.  Parameters and state arrays are the optimizer's, checked when
    it was made."""
    cdef Py_ssize_t i, k, n = len(params), w = 2 + nstate
    cdef Py_buffer* pb
    cdef Py_buffer* gb
    cdef Py_buffer* sb
    cdef object s
    if len(grads) != n:
        return 0
    for i in range(n):
        pb = bufs.get(params[i], True, 0, False)     # a memmap is updated in place too
        if pb == NULL:
            raise ValueError(f"params[{i}] is not a writeable C-contiguous float array")
        gb = bufs.get(grads[i], False, float_size(pb))
        if gb == NULL or not same_layout(pb, gb) or overlaps(pb, gb):
            return i
        out[i * w] = pb
        out[i * w + 1] = gb
        for k in range(nstate):
            s = (<list>states[k])[i] if states[k] is not None else None
            if s is None:
                out[i * w + 2 + k] = NULL
                continue
            sb = bufs.get(s, True, float_size(pb), False)
            if sb == NULL or not same_layout(pb, sb):
                raise ValueError("an optimizer state array is not like its parameter")
            if overlaps(sb, gb):
                return i
            out[i * w + 2 + k] = sb
    return -1


# ---- Adam / AdamW -------------------------------------------------------------------------

cdef void adam_on(const fl_adam_hyper* h, Py_buffer** row) noexcept nogil:
    cdef Py_ssize_t n = row[0].len // row[0].itemsize
    if row[0].itemsize == 4:
        adam_run(h, <float*>row[0].buf, <const float*>row[1].buf, <float*>row[2].buf,
                 <float*>row[3].buf, <float*>ptr(row[4]), n)
    else:
        adam_run(h, <double*>row[0].buf, <const double*>row[1].buf, <double*>row[2].buf,
                 <double*>row[3].buf, <double*>ptr(row[4]), n)


def adam_step(list params, list grads, list m, list v, list v_max, *, long long step, double lr,
              double beta1, double beta2, double eps, double weight_decay, bint decoupled,
              bint amsgrad, bint maximize):
    """One Adam step of every parameter, in one call: params[i] with grads[i] and its
    states m[i], v[i] (v_max[i] with amsgrad; ``v_max`` None otherwise).  Arrays of any
    shape, each state of its parameter's dtype and shape; the hyper-parameters checked
    by the wrapper.  Returns -1, or the index of the first gradient that is not an
    ndarray of its parameter's dtype and shape, C-contiguous, sharing no memory with
    its parameter or states -- then nothing was written."""
    cdef Py_ssize_t i, n = len(params), bad
    cdef _Buffers bufs = _Buffers(5 * n)
    cdef Py_buffer** rows = <Py_buffer**>malloc(max(5 * n, 1) * sizeof(Py_buffer*))
    cdef fl_adam_hyper h
    if rows == NULL:
        raise MemoryError()
    try:
        bad = optimizer_buffers(bufs, params, grads, [m, v, v_max if amsgrad else None], rows, 3)
        if bad >= 0:
            return bad
        fl_adam_init(&h, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize)
        fl_adam_prepare(&h, step)
        with nogil:
            for i in range(n):
                adam_on(&h, rows + 5 * i)
    finally:
        free(rows)
    return -1


# ---- RMSprop ------------------------------------------------------------------------------

cdef void rmsprop_on(const fl_rmsprop_hyper* h, Py_buffer** row) noexcept nogil:
    cdef Py_ssize_t n = row[0].len // row[0].itemsize
    if row[0].itemsize == 4:
        rmsprop_run(h, <float*>row[0].buf, <const float*>row[1].buf, <float*>row[2].buf,
                    <float*>ptr(row[3]), <float*>ptr(row[4]), n)
    else:
        rmsprop_run(h, <double*>row[0].buf, <const double*>row[1].buf, <double*>row[2].buf,
                    <double*>ptr(row[3]), <double*>ptr(row[4]), n)


def rmsprop_step(list params, list grads, list square_avg, list grad_avg, list momentum_buffer,
                 *, double lr, double alpha, double eps, double weight_decay, double momentum,
                 bint centered, bint maximize):
    """One RMSprop step of every parameter, in one call (see adam_step): ``grad_avg``
    with centered, ``momentum_buffer`` with momentum > 0, else None."""
    cdef Py_ssize_t i, n = len(params), bad
    cdef _Buffers bufs = _Buffers(5 * n)
    cdef Py_buffer** rows = <Py_buffer**>malloc(max(5 * n, 1) * sizeof(Py_buffer*))
    cdef fl_rmsprop_hyper h
    if rows == NULL:
        raise MemoryError()
    try:
        bad = optimizer_buffers(bufs, params, grads,
                                [square_avg, grad_avg if centered else None,
                                 momentum_buffer if momentum != 0.0 else None], rows, 3)
        if bad >= 0:
            return bad
        fl_rmsprop_init(&h, lr, alpha, eps, weight_decay, momentum, centered, maximize)
        with nogil:
            for i in range(n):
                rmsprop_on(&h, rows + 5 * i)
    finally:
        free(rows)
    return -1


# ---- Adagrad ------------------------------------------------------------------------------

cdef void adagrad_on(const fl_adagrad_hyper* h, Py_buffer** row) noexcept nogil:
    cdef Py_ssize_t n = row[0].len // row[0].itemsize
    if row[0].itemsize == 4:
        adagrad_run(h, <float*>row[0].buf, <const float*>row[1].buf, <float*>row[2].buf, n)
    else:
        adagrad_run(h, <double*>row[0].buf, <const double*>row[1].buf, <double*>row[2].buf, n)


def adagrad_step(list params, list grads, list state_sum, *, long long step, double lr,
                 double lr_decay, double weight_decay, double eps, bint maximize):
    """One Adagrad step of every parameter, in one call (see adam_step)."""
    cdef Py_ssize_t i, n = len(params), bad
    cdef _Buffers bufs = _Buffers(3 * n)
    cdef Py_buffer** rows = <Py_buffer**>malloc(max(3 * n, 1) * sizeof(Py_buffer*))
    cdef fl_adagrad_hyper h
    if rows == NULL:
        raise MemoryError()
    try:
        bad = optimizer_buffers(bufs, params, grads, [state_sum], rows, 1)
        if bad >= 0:
            return bad
        fl_adagrad_init(&h, lr, lr_decay, weight_decay, eps, maximize)
        fl_adagrad_prepare(&h, step)
        with nogil:
            for i in range(n):
                adagrad_on(&h, rows + 3 * i)
    finally:
        free(rows)
    return -1


# ---- the fast entry of adam_update (the common call, checked in C) -------------------------

cdef inline bint flag_of(object x, int* value) noexcept:
    if x is True:
        value[0] = 1
        return True
    if x is False:
        value[0] = 0
        return True
    return False


def adam_update_fast(param, grad, m, v, step, lr, betas, eps, weight_decay, decoupled, amsgrad,
                     v_max, maximize):
    """fastloss.adam_update's common case, done: True; or None for the full path.

    Handled: ``param``, ``m``, ``v`` (and ``v_max`` with amsgrad) writeable C-contiguous
    ndarrays of one float dtype and shape sharing no memory, ``grad`` a C-contiguous
    ndarray like them overlapping none; ``step`` a Python int >= 1; ``betas`` a tuple of
    two floats in [0, 1); the other hyper-parameters Python floats/ints and bools in
    their documented ranges.
    """
    cdef fl_adam_hyper h
    cdef double lr_ = 0.0, b1 = 0.0, b2 = 0.0, eps_ = 0.0, wd = 0.0
    cdef int dec, ams, mx
    cdef long long t
    cdef _Buffers bufs
    cdef Py_buffer* row[5]
    cdef int k
    if (type(step) is not int or type(betas) is not tuple or len(<tuple>betas) != 2
            or not real_in(lr, 0.0, INFINITY, &lr_) or not real_in(eps, 0.0, INFINITY, &eps_)
            or not real_in(weight_decay, 0.0, INFINITY, &wd)
            or not real_in((<tuple>betas)[0], 0.0, 1.0, &b1)
            or not real_in((<tuple>betas)[1], 0.0, 1.0, &b2) or b1 >= 1.0 or b2 >= 1.0
            or not flag_of(decoupled, &dec) or not flag_of(amsgrad, &ams)
            or not flag_of(maximize, &mx) or (ams != 0) != (v_max is not None)):
        return None
    if not 1 <= step <= (1 << 62):
        return None
    t = step
    bufs = _Buffers(5)
    row[0] = bufs.get(param, True, 0)
    if row[0] == NULL:
        return None
    row[1] = bufs.get(grad, False, float_size(row[0]))
    row[2] = bufs.get(m, True, float_size(row[0]))
    row[3] = bufs.get(v, True, float_size(row[0]))
    row[4] = bufs.get(v_max, True, float_size(row[0])) if ams else NULL
    if row[1] == NULL or row[2] == NULL or row[3] == NULL or (ams and row[4] == NULL):
        return None
    for k in range(1, 5 if ams else 4):
        if not like(row[0], row[k]):
            return None
    for k in range(2, 5 if ams else 4):
        if overlaps(row[1], row[k]) or (k < 4 and ams and overlaps(row[k], row[4])):
            return None
    if overlaps(row[2], row[3]):
        return None
    fl_adam_init(&h, lr_, b1, b2, eps_, wd, dec, ams, mx)
    fl_adam_prepare(&h, t)
    with nogil:
        adam_on(&h, row)
    return True
