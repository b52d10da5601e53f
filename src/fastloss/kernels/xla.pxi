# XLA FFI handlers: softmax_cross_entropy and multiclass_hinge called from inside
# compiled JAX programs (fastloss.jax, through jax.ffi.ffi_call).
#
# Included by kernels.pxi, so that each kernel build has handlers that call its
# own loops.  XLA calls a handler with one call frame (see ../_xla_ffi.h):
#
#   arguments  scores (B..., N, C) float32/float64; labels (B..., N) int32/int64;
#              then, if the attribute ``weights`` is 1, class weights (C,) or
#              (B..., C) of the dtype of the scores
#   results    the loss: (B...) for "mean"/"sum", (B..., N) for "none"; then the
#              gradient (B..., N, C)
#   attributes reduction (0 none, 1 sum, 2 mean), weights; softmax: label_smoothing,
#              ignore_index with use_ignore; hinge: margin, squared, crammer_singer
#
# The leading B... dimensions are independent problems (jax.vmap's
# "broadcast_all" batching): each is one call of sce_run / hinge_run, with the
# semantics of the NumPy API (a mean divides by the total weight, 0 if that is
# 0).  A bad label is an error XLA raises; the handlers never touch Python.

from libc.stdlib cimport free, malloc

cdef extern from "_xla_ffi.h":
    ctypedef struct FL_XLA_Error:
        pass
    ctypedef struct FL_XLA_Buffer:
        int dtype
        void* data
        int64_t rank
        int64_t* dims
    ctypedef struct FL_XLA_CallFrame:
        pass
    enum:
        FL_XLA_F32
        FL_XLA_F64
        FL_XLA_S32
        FL_XLA_S64
        FL_XLA_ERROR_INVALID_ARGUMENT
        FL_XLA_ERROR_RESOURCE_EXHAUSTED
    FL_XLA_Error* fl_xla_error(const FL_XLA_CallFrame* frame, int code, const char* fmt, ...) nogil
    int fl_xla_preamble(FL_XLA_CallFrame* frame, FL_XLA_Error** err) nogil
    FL_XLA_Buffer* fl_xla_buffer(const FL_XLA_CallFrame* frame, int rets, int64_t i) nogil
    int fl_xla_attr(const FL_XLA_CallFrame* frame, const char* name, double* value) nogil
    int fl_xla_attr_int(const FL_XLA_CallFrame* frame, const char* name, int64_t* value) nogil

from cpython.pycapsule cimport PyCapsule_New


cdef inline bint dims_are(const FL_XLA_Buffer* b, const int64_t* dims, int64_t rank) noexcept nogil:
    """b has exactly the dimensions dims[:rank]."""
    cdef int64_t k
    if b.rank != rank:
        return False
    for k in range(rank):
        if b.dims[k] != dims[k]:
            return False
    return True


cdef inline bint weight_dims(const FL_XLA_Buffer* w, const FL_XLA_Buffer* s, int64_t last,
                             int64_t* stride) noexcept nogil:
    """A weight buffer of the scores' dtype, (last,) (*stride = 0: shared by every
    problem) or (B..., last) with the scores' batch dimensions (*stride = last)."""
    cdef int64_t k
    if w.dtype != s.dtype:
        return False
    if w.rank == 1 and w.dims[0] == last:
        stride[0] = 0
        return True
    if w.rank != s.rank - 1 or w.dims[w.rank - 1] != last:
        return False
    for k in range(s.rank - 2):
        if w.dims[k] != s.dims[k]:
            return False
    stride[0] = last
    return True


cdef inline void to_double(const FL_XLA_Buffer* w, int64_t offset, double* out,
                           int64_t n) noexcept nogil:
    """out[:n] = the weights at element ``offset`` of w, in double."""
    cdef int64_t k
    if w.dtype == FL_XLA_F32:
        for k in range(n):
            out[k] = (<const float*>w.data)[offset + k]
    else:
        for k in range(n):
            out[k] = (<const double*>w.data)[offset + k]


cdef FL_XLA_Error* xla_multiclass(FL_XLA_CallFrame* frame, bint hinge) noexcept nogil:
    """One softmax_cross_entropy (hinge False) or multiclass_hinge call from XLA."""
    cdef FL_XLA_Error* err = NULL
    cdef FL_XLA_Buffer* s
    cdef FL_XLA_Buffer* y
    cdef FL_XLA_Buffer* lo
    cdef FL_XLA_Buffer* g
    cdef FL_XLA_Buffer* cwb = NULL
    cdef double red_attr = 2, weights = 0, eps = 0, margin = 1, squared = 0, cs = 0
    cdef double use_ignore = 0
    cdef int64_t ignore = 0, nb = 1, n, c, k, b, cw_stride = 0, item
    cdef int red, nt, f64
    cdef double* cw = NULL
    cdef fl_mc_call a
    cdef (Py_ssize_t, double) r
    cdef char* sp
    cdef char* gp
    cdef char* lp

    if fl_xla_preamble(frame, &err):
        return err
    s = fl_xla_buffer(frame, 0, 0)
    y = fl_xla_buffer(frame, 0, 1)
    lo = fl_xla_buffer(frame, 1, 0)
    g = fl_xla_buffer(frame, 1, 1)
    fl_xla_attr(frame, "reduction", &red_attr)
    fl_xla_attr(frame, "weights", &weights)
    red = <int>red_attr
    if hinge:
        fl_xla_attr(frame, "margin", &margin)
        fl_xla_attr(frame, "squared", &squared)
        fl_xla_attr(frame, "crammer_singer", &cs)
    else:
        fl_xla_attr(frame, "label_smoothing", &eps)
        fl_xla_attr(frame, "use_ignore", &use_ignore)
        fl_xla_attr_int(frame, "ignore_index", &ignore)
    if (s == NULL or y == NULL or lo == NULL or g == NULL or s.rank < 2
            or (s.dtype != FL_XLA_F32 and s.dtype != FL_XLA_F64)):
        return fl_xla_error(frame, FL_XLA_ERROR_INVALID_ARGUMENT,
                            "fastloss: expected float32/float64 scores of rank >= 2, labels; "
                            "a loss and a gradient")
    if (y.dtype != FL_XLA_S32 and y.dtype != FL_XLA_S64) or not dims_are(y, s.dims, s.rank - 1):
        return fl_xla_error(frame, FL_XLA_ERROR_INVALID_ARGUMENT,
                            "fastloss: labels must be int32/int64 of the scores' shape less its last axis")
    if red < REDUCTION_NONE or red > REDUCTION_MEAN:
        return fl_xla_error(frame, FL_XLA_ERROR_INVALID_ARGUMENT, "fastloss: bad reduction %d", red)
    if not (g.dtype == s.dtype and dims_are(g, s.dims, s.rank)):
        return fl_xla_error(frame, FL_XLA_ERROR_INVALID_ARGUMENT,
                            "fastloss: the gradient must have the scores' dtype and shape")
    if lo.dtype != s.dtype or not dims_are(lo, s.dims, s.rank - (2 if red != REDUCTION_NONE else 1)):
        return fl_xla_error(frame, FL_XLA_ERROR_INVALID_ARGUMENT,
                            "fastloss: the loss must have the scores' dtype and batch shape")
    n = s.dims[s.rank - 2]
    c = s.dims[s.rank - 1]
    for k in range(s.rank - 2):
        nb *= s.dims[k]
    if weights != 0:
        cwb = fl_xla_buffer(frame, 0, 2)
        if cwb == NULL or not weight_dims(cwb, s, c, &cw_stride):
            return fl_xla_error(frame, FL_XLA_ERROR_INVALID_ARGUMENT,
                                "fastloss: class weights must be (C,) or (batch..., C), of the scores' dtype")
    f64 = s.dtype == FL_XLA_F64
    item = 8 if f64 else 4
    if n == 0 or c == 0 or nb == 0:
        if red != REDUCTION_NONE:
            memset(lo.data, 0, nb * item)
        return NULL
    if cwb != NULL:
        cw = <double*>malloc(c * sizeof(double))
        if cw == NULL:
            return fl_xla_error(frame, FL_XLA_ERROR_RESOURCE_EXHAUSTED, "fastloss: out of memory")
    nt = threads_for(n * c, PARALLEL_MIN)
    for b in range(nb):
        mc_call_init(&a)
        a.n = n
        a.c = c
        a.y64 = y.dtype == FL_XLA_S64
        a.y = <char*>y.data + b * n * (8 if a.y64 else 4)
        if cw != NULL:
            to_double(cwb, b * cw_stride, cw, c)
            a.cw = cw
        sp = <char*>s.data + b * n * c * item
        gp = <char*>g.data + b * n * c * item
        lp = <char*>lo.data + b * n * item if red == REDUCTION_NONE else NULL
        if hinge:
            a.margin = margin
            a.squared = squared != 0
            if f64:
                r = hinge_run(&a, <const double*>sp, <double*>gp, <double*>lp, red, cs != 0, nt)
            else:
                r = hinge_run(&a, <const float*>sp, <float*>gp, <float*>lp, red, cs != 0, nt)
        else:
            a.eps = eps
            if use_ignore != 0:
                a.use_ignore = True
                a.ignore_index = ignore
            if f64:
                r = sce_run(&a, <const double*>sp, <double*>gp, <double*>lp, red, nt)
            else:
                r = sce_run(&a, <const float*>sp, <float*>gp, <float*>lp, red, nt)
        if r[0] >= 0:
            free(cw)
            return fl_xla_error(frame, FL_XLA_ERROR_INVALID_ARGUMENT,
                                "fastloss: y[%lld] = %lld is not a class index in [0, %lld) "
                                "(problem %lld of the batch)",
                                <long long>r[0], <long long>fl_label_at(a.y, a.y64, r[0]),
                                <long long>c, <long long>b)
        if red != REDUCTION_NONE:
            if f64:
                (<double*>lo.data)[b] = r[1]
            else:
                (<float*>lo.data)[b] = <float>r[1]
    free(cw)
    return NULL


cdef FL_XLA_Error* xla_softmax_cross_entropy(FL_XLA_CallFrame* frame) noexcept nogil:
    return xla_multiclass(frame, False)


cdef FL_XLA_Error* xla_multiclass_hinge(FL_XLA_CallFrame* frame) noexcept nogil:
    return xla_multiclass(frame, True)


def xla_handlers():
    """The XLA FFI handlers of this build, as PyCapsules for ``jax.ffi.register_ffi_target``
    (api_version 1): ``{"softmax_cross_entropy": ..., "multiclass_hinge": ...}``."""
    return {
        "softmax_cross_entropy": PyCapsule_New(<void*>xla_softmax_cross_entropy, NULL, NULL),
        "multiclass_hinge": PyCapsule_New(<void*>xla_multiclass_hinge, NULL, NULL),
    }
