# Fast entries: the common calls of the public functions, checked in C.
#
# Included by kernels.pxi.  A public wrapper (losses.py, optim.py) first
# hands its arguments, untouched and in its own order, to the fast entry
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
cimport cython
from libc.math cimport isfinite, INFINITY

import numpy as _np

cdef object _ndarray = _np.ndarray
cdef object _empty = _np.empty
cdef object _float32 = _np.dtype(_np.float32)
cdef object _float64 = _np.dtype(_np.float64)

# Below this many elements a softmax_cross_entropy or multiclass_hinge call
# keeps the GIL: releasing and taking it back costs more than another thread
# could gain.  (sgd_update_fast always releases it.)
cdef Py_ssize_t NOGIL_MIN = 1 << 13


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


@cython.auto_pickle(False)
cdef class _FastCall:
    """The buffers of one fast call: inputs acquired, outputs allocated or checked.

    Built by fast_call(); the buffers are released when it goes.
    """
    cdef Py_buffer sb, yb, ob, lb
    cdef bint got_s, got_y, got_o, got_l
    cdef int fs, ys, red
    cdef Py_ssize_t n, c
    cdef void* gp
    cdef void* lp
    cdef object g_obj, lo_obj

    def __dealloc__(self):
        if self.got_l:
            PyBuffer_Release(&self.lb)
        if self.got_o:
            PyBuffer_Release(&self.ob)
        if self.got_y:
            PyBuffer_Release(&self.yb)
        if self.got_s:
            PyBuffer_Release(&self.sb)

    cdef object result(self, (Py_ssize_t, double) r):
        """The public functions' ``(loss, grad)``; None after a bad label (the full path raises)."""
        if r[0] >= 0:
            return None
        return (self.lo_obj if self.red == REDUCTION_NONE else r[1]), self.g_obj


cdef _FastCall fast_call(object scores, object y, object reduction, object grad, object out):
    """Checked buffers for a (scores, y) kernel call, or None to take the full path.

    Takes: ``scores`` a C-contiguous float32/float64 ndarray of shape (N, C),
    N, C >= 1; ``y`` a C-contiguous int32/int64 ndarray of shape (N,); a
    reduction string; ``grad`` True or False; ``out`` None or a writeable
    C-contiguous ndarray of the dtype and shape of ``scores`` that is
    ``scores`` itself or shares no memory with it or with ``y``.
    """
    cdef _FastCall call
    cdef int red = reduction_of(reduction)
    if (red < 0 or type(scores) is not _ndarray or type(y) is not _ndarray
            or (grad is not True and grad is not False)
            or (out is not None and (grad is False or type(out) is not _ndarray))):
        return None
    call = _FastCall.__new__(_FastCall)
    call.red = red
    try:
        PyObject_GetBuffer(scores, &call.sb, PyBUF_RECORDS_RO)
        call.got_s = True
        PyObject_GetBuffer(y, &call.yb, PyBUF_RECORDS_RO)
        call.got_y = True
    except (BufferError, TypeError, ValueError):
        return None
    call.fs = float_size(&call.sb)
    call.ys = int_size(&call.yb)
    if (call.fs == 0 or call.ys == 0 or call.sb.ndim != 2 or call.yb.ndim != 1
            or not PyBuffer_IsContiguous(&call.sb, b'C')
            or not PyBuffer_IsContiguous(&call.yb, b'C')):
        return None
    call.n = call.sb.shape[0]
    call.c = call.sb.shape[1]
    if call.n == 0 or call.c == 0 or call.yb.shape[0] != call.n:
        return None
    dtype = _float32 if call.fs == 4 else _float64
    if out is not None:
        try:
            PyObject_GetBuffer(out, &call.ob, PyBUF_RECORDS)      # writeable
            call.got_o = True
        except (BufferError, TypeError, ValueError):
            return None
        if (float_size(&call.ob) != call.fs or call.ob.ndim != 2 or call.ob.shape[0] != call.n
                or call.ob.shape[1] != call.c or not PyBuffer_IsContiguous(&call.ob, b'C')
                or overlaps(&call.ob, &call.yb)
                or (out is not scores and overlaps(&call.ob, &call.sb))):
            return None
        call.g_obj = out
        call.gp = call.ob.buf
    elif grad is True:
        call.g_obj = _empty((call.n, call.c), dtype)
        PyObject_GetBuffer(call.g_obj, &call.ob, PyBUF_RECORDS)
        call.got_o = True
        call.gp = call.ob.buf
    if red == REDUCTION_NONE:
        call.lo_obj = _empty(call.n, dtype)
        PyObject_GetBuffer(call.lo_obj, &call.lb, PyBUF_RECORDS)
        call.got_l = True
        call.lp = call.lb.buf
    return call


cdef inline bint real_in(object x, double low, double high, double* value):
    """x is a Python float or int (not bool) in [low, high]: store it in value."""
    if type(x) is not float and type(x) is not int:
        return False
    value[0] = x
    return isfinite(value[0]) and low <= value[0] <= high


cdef (Py_ssize_t, double) sce_typed(_FastCall f, double eps, int nt) noexcept nogil:
    """sce_run on the buffers of a fast call."""
    cdef fl_mc_call a
    mc_call_init(&a)
    a.n = f.n
    a.c = f.c
    a.y = f.yb.buf
    a.y64 = f.ys == 8
    a.eps = eps
    if f.fs == 4:
        return sce_run(&a, <const float*>f.sb.buf, <float*>f.gp, <float*>f.lp, f.red, nt)
    return sce_run(&a, <const double*>f.sb.buf, <double*>f.gp, <double*>f.lp, f.red, nt)


cdef (Py_ssize_t, double) hinge_typed(_FastCall f, double margin, bint squared,
                                      int nt) noexcept nogil:
    """hinge_run (Weston–Watkins) on the buffers of a fast call."""
    cdef fl_mc_call a
    mc_call_init(&a)
    a.n = f.n
    a.c = f.c
    a.y = f.yb.buf
    a.y64 = f.ys == 8
    a.margin = margin
    a.squared = squared
    if f.fs == 4:
        return hinge_run(&a, <const float*>f.sb.buf, <float*>f.gp, <float*>f.lp, f.red, False, nt)
    return hinge_run(&a, <const double*>f.sb.buf, <double*>f.gp, <double*>f.lp, f.red, False, nt)


def softmax_cross_entropy_fast(scores, y, reduction, class_weight, sample_weight,
                               label_smoothing, ignore_index, grad, out):
    """fastloss.softmax_cross_entropy's common case, or None for the full path.

    Handled: the arrays fast_call() takes, any reduction, no weights, no
    ignore_index, ``label_smoothing`` a float or int in [0, 1].  A bad label
    also returns None (nothing is written before the labels are checked).
    """
    cdef double eps
    cdef _FastCall a
    cdef (Py_ssize_t, double) r
    cdef int nt
    if (class_weight is not None or sample_weight is not None or ignore_index is not None
            or not real_in(label_smoothing, 0.0, 1.0, &eps)):
        return None
    a = fast_call(scores, y, reduction, grad, out)
    if a is None:
        return None
    nt = threads_for(a.n * a.c, PARALLEL_MIN)
    if a.n * a.c >= NOGIL_MIN:
        with nogil:
            r = sce_typed(a, eps, nt)
    else:
        r = sce_typed(a, eps, nt)
    return a.result(r)


def multiclass_hinge_fast(scores, y, margin, squared, reduction, class_weight, sample_weight,
                          grad, out, variant):
    """fastloss.multiclass_hinge's common case (Weston–Watkins), or None for the full path.

    Handled: the arrays fast_call() takes, any reduction, no weights,
    ``margin`` a float or int >= 0, ``squared`` True or False.
    """
    cdef double delta
    cdef _FastCall a
    cdef (Py_ssize_t, double) r
    cdef int nt
    if (class_weight is not None or sample_weight is not None
            or type(variant) is not str or variant != "weston_watkins"
            or (squared is not True and squared is not False)
            or not real_in(margin, 0.0, INFINITY, &delta)):
        return None
    a = fast_call(scores, y, reduction, grad, out)
    if a is None:
        return None
    nt = threads_for(a.n * a.c, PARALLEL_MIN)
    if a.n * a.c >= NOGIL_MIN:
        with nogil:
            r = hinge_typed(a, delta, squared is True, nt)
    else:
        r = hinge_typed(a, delta, squared is True, nt)
    return a.result(r)


cdef inline bint same_layout(const Py_buffer* a, const Py_buffer* b) noexcept:
    """Same item format, dimensions and shape (both already C-contiguous)."""
    cdef int k
    if a.ndim != b.ndim or a.itemsize != b.itemsize or a.len != b.len:
        return False
    for k in range(a.ndim):
        if a.shape[k] != b.shape[k]:
            return False
    return float_size(a) == float_size(b)


def sgd_update_fast(param, grad, lr, momentum, velocity, dampening, weight_decay, nesterov,
                    maximize):
    """fastloss.sgd_update's common case, done: True; or None for the full path.

    Handled: ``param`` a writeable C-contiguous float32/float64 ndarray;
    ``grad`` a C-contiguous ndarray of its dtype and shape, ``param`` itself
    or sharing no memory with it; with momentum > 0 ``velocity`` a writeable
    C-contiguous ndarray like ``param`` sharing no memory with either (and None
    without momentum); the hyper-parameters Python floats/ints and bools
    within their documented ranges.
    """
    cdef Py_buffer pb, gb, vb
    cdef bint got_p = False, got_g = False, got_v = False
    cdef sgd_step o
    cdef Py_ssize_t n
    cdef int fs
    if (type(param) is not _ndarray or type(grad) is not _ndarray
            or (nesterov is not True and nesterov is not False)
            or (maximize is not True and maximize is not False)
            or not real_in(lr, 0.0, INFINITY, &o.lr)
            or not real_in(momentum, 0.0, INFINITY, &o.momentum)
            or not real_in(dampening, 0.0, 1.0, &o.dampening)
            or not real_in(weight_decay, 0.0, INFINITY, &o.weight_decay)):
        return None
    o.nesterov = nesterov is True
    o.maximize = maximize is True
    o.first_step = False
    if o.nesterov and (o.momentum <= 0.0 or o.dampening != 0.0):
        return None
    if ((o.momentum > 0.0) != (velocity is not None)
            or (velocity is not None and type(velocity) is not _ndarray)):
        return None
    try:
        try:
            PyObject_GetBuffer(param, &pb, PyBUF_RECORDS)     # writeable
            got_p = True
            PyObject_GetBuffer(grad, &gb, PyBUF_RECORDS_RO)
            got_g = True
            if velocity is not None:
                PyObject_GetBuffer(velocity, &vb, PyBUF_RECORDS)
                got_v = True
        except (BufferError, TypeError, ValueError):
            return None
        fs = float_size(&pb)
        if (fs == 0 or not PyBuffer_IsContiguous(&pb, b'C') or not PyBuffer_IsContiguous(&gb, b'C')
                or not same_layout(&pb, &gb)
                or (overlaps(&pb, &gb) and pb.buf != gb.buf)):
            return None
        if got_v and (not PyBuffer_IsContiguous(&vb, b'C') or not same_layout(&pb, &vb)
                      or overlaps(&vb, &pb) or overlaps(&vb, &gb)):
            return None
        n = pb.len // pb.itemsize
        with nogil:
            if fs == 4:
                sgd_run(&o, <float*>pb.buf, <const float*>gb.buf,
                        <float*>vb.buf if got_v else NULL, n)
            else:
                sgd_run(&o, <double*>pb.buf, <const double*>gb.buf,
                        <double*>vb.buf if got_v else NULL, n)
    finally:
        if got_v:
            PyBuffer_Release(&vb)
        if got_g:
            PyBuffer_Release(&gb)
        if got_p:
            PyBuffer_Release(&pb)
    return True
