# Fast entries: the common calls of the public functions, checked in C.
#
# Included by _kernels.pxi (once per instruction-set build).  A public
# wrapper in losses.py first hands its arguments, untouched, to the fast entry
# of its kernel here.  When every argument is already what the kernel takes
# -- exact ndarrays of a kernel dtype, C-contiguous, the options at simple
# values, an ``out=`` buffer that fits and overlaps nothing it must not -- the
# entry checks that with a few C comparisons on the buffers, runs the kernel
# and returns the result.  Anything else (a list, a strided array, a bad
# label, a weight array...) returns None, and the wrapper takes its full
# Python path, which converts what may be converted and raises the errors.
# So there is one place for the error messages, the fast entry never changes
# what a call means, and a call it declines has written nothing.

from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBuffer_IsContiguous,
                             PyBUF_RECORDS, PyBUF_RECORDS_RO)
from libc.math cimport isfinite

import numpy as _np

cdef object _ndarray = _np.ndarray
cdef object _empty = _np.empty
cdef object _float32 = _np.dtype(_np.float32)
cdef object _float64 = _np.dtype(_np.float64)

# The thread policy of fastloss._threads, mirrored here by set_thread_config.
cdef int _requested_threads = 0
cdef Py_ssize_t _parallel_min = 1 << 14
# Below this many elements a call keeps the GIL: releasing and taking it back
# costs more than another thread could gain.
cdef Py_ssize_t NOGIL_MIN = 1 << 13


def set_thread_config(int requested, Py_ssize_t parallel_min):
    """Mirror fastloss._threads' policy: ``requested`` threads (0: OpenMP's
    default), one thread below ``parallel_min`` elements."""
    global _requested_threads, _parallel_min
    _requested_threads = requested if requested > 0 else 0
    _parallel_min = parallel_min


cdef int threads_for(Py_ssize_t elements) noexcept nogil:
    if elements < _parallel_min or not FL_OPENMP:
        return 1
    if _requested_threads > 0:
        return _requested_threads
    return fl_omp_max_threads()


cdef inline int float_size(const Py_buffer* b) noexcept:
    """4 or 8 for a native float32/float64 buffer, else 0."""
    if b.format == NULL or b.format[0] == 0 or b.format[1] != 0:
        return 0
    if b.format[0] == b'f' and b.itemsize == 4:
        return 4
    if b.format[0] == b'd' and b.itemsize == 8:
        return 8
    return 0


cdef inline int int_size(const Py_buffer* b) noexcept:
    """4 or 8 for a native int32/int64 buffer, else 0."""
    if b.format == NULL or b.format[0] == 0 or b.format[1] != 0:
        return 0
    if b.format[0] != b'i' and b.format[0] != b'l' and b.format[0] != b'q':
        return 0
    if b.itemsize == 4 or b.itemsize == 8:
        return <int>b.itemsize
    return 0


cdef inline bint overlaps(const Py_buffer* a, const Py_buffer* b) noexcept:
    cdef const char* pa = <const char*>a.buf
    cdef const char* pb = <const char*>b.buf
    return a.len > 0 and b.len > 0 and pa < pb + b.len and pb < pa + a.len


cdef inline int reduction_of(object reduction) noexcept:
    """The kernel code of a reduction string, or -1 for anything else."""
    if type(reduction) is not str:
        return -1
    if reduction == "mean":
        return REDUCTION_MEAN
    if reduction == "sum":
        return REDUCTION_SUM
    if reduction == "none":
        return REDUCTION_NONE
    return -1


cdef (Py_ssize_t, double) sce_typed(int fs, int ys, const void* s, Py_ssize_t n, Py_ssize_t c,
                                    const void* y, double eps, int red, void* g, void* lo,
                                    int nt) noexcept nogil:
    """sce_core for the float size ``fs`` and label size ``ys`` of untyped buffers."""
    if fs == 4 and ys == 8:
        return sce_core(<const float*>s, n, c, <const int64_t*>y, NULL, NULL, eps, False, 0, red,
                        <float*>g, <float*>lo, nt)
    if fs == 4:
        return sce_core(<const float*>s, n, c, <const int32_t*>y, NULL, NULL, eps, False, 0, red,
                        <float*>g, <float*>lo, nt)
    if ys == 8:
        return sce_core(<const double*>s, n, c, <const int64_t*>y, NULL, NULL, eps, False, 0, red,
                        <double*>g, <double*>lo, nt)
    return sce_core(<const double*>s, n, c, <const int32_t*>y, NULL, NULL, eps, False, 0, red,
                    <double*>g, <double*>lo, nt)


def softmax_cross_entropy_fast(scores, y, reduction, class_weight, sample_weight,
                               label_smoothing, ignore_index, grad, out):
    """fastloss.softmax_cross_entropy's common case, or None for the full path.

    Handled: ``scores`` a C-contiguous float32/float64 ndarray of shape (N, C)
    with N, C >= 1; ``y`` a C-contiguous int32/int64 ndarray of shape (N,);
    any reduction; no weights, no ignore_index; ``label_smoothing`` a float or
    int in [0, 1]; ``grad`` True or False; ``out`` None or a writeable
    C-contiguous ndarray like ``scores`` that is ``scores`` itself or shares
    no memory with it or with ``y``.  A bad label also returns None (nothing
    is written before the labels are checked).
    """
    cdef Py_buffer sb, yb, ob, lb
    cdef bint got_s = False, got_y = False, got_o = False, got_l = False
    cdef int red = reduction_of(reduction), fs, ys, nt
    cdef double eps
    cdef Py_ssize_t n, c
    cdef void* gp = NULL
    cdef void* lp = NULL
    cdef (Py_ssize_t, double) result
    cdef object g_obj = None, lo_obj = None

    if (red < 0 or type(scores) is not _ndarray or type(y) is not _ndarray
            or class_weight is not None or sample_weight is not None or ignore_index is not None
            or (grad is not True and grad is not False)
            or (out is not None and (grad is False or type(out) is not _ndarray))):
        return None
    if type(label_smoothing) is float or type(label_smoothing) is int:
        eps = label_smoothing
        if not (isfinite(eps) and 0.0 <= eps <= 1.0):
            return None
    else:
        return None
    try:
        try:
            PyObject_GetBuffer(scores, &sb, PyBUF_RECORDS_RO)
            got_s = True
            PyObject_GetBuffer(y, &yb, PyBUF_RECORDS_RO)
            got_y = True
        except (BufferError, TypeError, ValueError):
            return None
        fs = float_size(&sb)
        ys = int_size(&yb)
        if (fs == 0 or ys == 0 or sb.ndim != 2 or yb.ndim != 1
                or not PyBuffer_IsContiguous(&sb, b'C') or not PyBuffer_IsContiguous(&yb, b'C')):
            return None
        n = sb.shape[0]
        c = sb.shape[1]
        if n == 0 or c == 0 or yb.shape[0] != n:
            return None
        if out is not None:
            try:
                PyObject_GetBuffer(out, &ob, PyBUF_RECORDS)      # writeable
                got_o = True
            except (BufferError, TypeError, ValueError):
                return None
            if (float_size(&ob) != fs or ob.ndim != 2 or ob.shape[0] != n or ob.shape[1] != c
                    or not PyBuffer_IsContiguous(&ob, b'C') or overlaps(&ob, &yb)
                    or (out is not scores and overlaps(&ob, &sb))):
                return None
            g_obj = out
            gp = ob.buf
        elif grad is True:
            g_obj = _empty((n, c), _float32 if fs == 4 else _float64)
            PyObject_GetBuffer(g_obj, &ob, PyBUF_RECORDS)
            got_o = True
            gp = ob.buf
        if red == REDUCTION_NONE:
            lo_obj = _empty(n, _float32 if fs == 4 else _float64)
            PyObject_GetBuffer(lo_obj, &lb, PyBUF_RECORDS)
            got_l = True
            lp = lb.buf

        nt = threads_for(n * c)
        if n * c >= NOGIL_MIN:
            with nogil:
                result = sce_typed(fs, ys, sb.buf, n, c, yb.buf, eps, red, gp, lp, nt)
        else:
            result = sce_typed(fs, ys, sb.buf, n, c, yb.buf, eps, red, gp, lp, nt)
    finally:
        if got_l:
            PyBuffer_Release(&lb)
        if got_o:
            PyBuffer_Release(&ob)
        if got_y:
            PyBuffer_Release(&yb)
        if got_s:
            PyBuffer_Release(&sb)
    if result[0] >= 0:
        return None
    return (lo_obj if red == REDUCTION_NONE else result[1]), g_obj
