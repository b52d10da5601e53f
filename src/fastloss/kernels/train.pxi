# The training engine: epochs of mini-batch SGD of a linear classifier in one call.
#
# Included by kernels.pxi.  The caller is fastloss._training.MiniBatchSGD (the
# loop of LinearClassifier and of fastloss.dask's shards); the NumPy twin is
# reference.train_epoch; the loops are in ../simd/train.h.

from libc.stdint cimport intptr_t
from libc.stdlib cimport free, malloc
from libc.math cimport INFINITY
from libc.string cimport memcpy

cdef extern from "simd/train.h":
    ctypedef struct fl_train:
        const void* X
        Py_ssize_t n, d, c, ld
        const int64_t* y
        const double* sw
        void* Wt
        void* b
        void* Vt
        void* Vb
        int loss
        double margin, reg, momentum
        int nesterov
        Py_ssize_t batch
        int threads
        const intptr_t* order
        const double* lr
        double* history
        long long steps_before
        Py_ssize_t group
    int FL_TRAIN_SOFTMAX, FL_TRAIN_HINGE, FL_TRAIN_G, FL_TRAIN_G_WIDE, FL_TRAIN_WIDE_C
    int fl_all_finite(const void* p, Py_ssize_t n, int bits) noexcept nogil
    Py_ssize_t fl_train_steps(const fl_train* t) noexcept nogil
    Py_ssize_t fl_train_epoch_f32(const fl_train* t, Py_ssize_t s0, Py_ssize_t s1, float* dWt,
                                  float* db, void* work) noexcept nogil
    Py_ssize_t fl_train_epoch_f64(const fl_train* t, Py_ssize_t s0, Py_ssize_t s1, double* dWt,
                                  double* db, void* work) noexcept nogil
    Py_ssize_t fl_train_work_bytes_f32(const fl_train* t) noexcept nogil
    Py_ssize_t fl_train_work_bytes_f64(const fl_train* t) noexcept nogil
    double fl_train_gradient_f32(const fl_train* t, float* dWt, float* db,
                                 void* work) noexcept nogil
    double fl_train_gradient_f64(const fl_train* t, double* dWt, double* db,
                                 void* work) noexcept nogil


cdef Py_ssize_t _group(Py_ssize_t c, Py_ssize_t group) except -1:
    """Rows of a group: ``group`` if > 0 (tests, experiments), else by the class count."""
    if group < 0:
        raise ValueError(f"group must be >= 0, got {group}")
    if group:
        return group
    return FL_TRAIN_G_WIDE if c >= FL_TRAIN_WIDE_C else FL_TRAIN_G


cdef Py_ssize_t _first_bad_label(const int64_t[::1] y, Py_ssize_t c) noexcept nogil:
    """The first i with y[i] outside [0, c), or -1."""
    cdef Py_ssize_t i
    for i in range(y.shape[0]):
        if y[i] < 0 or y[i] >= c:
            return i
    return -1


def all_finite(const floating[::1] x):
    """Whether every element of x is finite (no NaN, no infinity): one read, no allocation."""
    cdef int ok = 1
    if x.shape[0] == 0:
        return True
    with nogil:
        ok = fl_all_finite(&x[0], x.shape[0], 32 if floating is float else 64)
    return bool(ok)


def train_epoch(const floating[:, ::1] X, const int64_t[::1] y, floating[:, ::1] Wt,
                const intptr_t[::1] order, const double[::1] lr, double[::1] history, *,
                loss, Py_ssize_t batch_size, floating[::1] b=None, floating[:, ::1] Vt=None,
                floating[::1] Vb=None, const double[::1] sample_weight=None,
                double margin=1.0, double reg=0.0, double momentum=0.0, bint nesterov=False,
                long long steps_before=0, Py_ssize_t start=0, Py_ssize_t stop=-1,
                Py_ssize_t group=0):
    """Steps ``start .. stop-1`` of one epoch of mini-batch SGD (all of it by default).

    Batch k is the rows ``order[k·B : (k+1)·B]`` of X (B = batch_size, the last
    batch may be smaller; ``order`` None: the rows in X's order).  Each step: scores ``x·W + b`` of the batch's rows,
    read in place; the loss's gradient per row (``loss`` "softmax": softmax
    cross-entropy, "hinge": Weston–Watkins with ``margin``; the weighted mean
    over the batch with ``sample_weight``); ``dW = dSᵀ·x``, ``db = Σ dS``;
    then torch.optim.SGD's update with ``lr[k]``, ``momentum``, ``nesterov``
    and weight decay ``2·reg`` on W (not b).  ``history[k]`` gets the step's
    loss before its update, ``reg·ΣW²`` included.  ``Wt`` is W transposed,
    (C, D); ``Vt``/``Vb`` the momentum buffers (None without momentum);
    ``steps_before`` the steps of earlier epochs (at 0 the first step sets
    the momentum buffer to the gradient, as torch does).  ``group``: rows
    scored and added into dW together (0: by C; other values for tests).

    Returns -1, or the first step whose loss was not finite: the loop stopped
    there, before that step's update.  Checks every index of ``order`` and
    every label before it writes anything (ValueError).
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], c = Wt.shape[0], steps, i, bad
    cdef fl_train t
    cdef int nt
    cdef floating* dW = NULL
    cdef floating* db = NULL
    cdef void* work = NULL
    cdef Py_ssize_t wbytes
    if loss not in ("softmax", "hinge"):
        raise ValueError(f"loss must be 'softmax' or 'hinge', got {loss!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if Wt.shape[1] != d or c < 1:
        raise ValueError(f"Wt must have shape (C, {d}), got ({Wt.shape[0]}, {Wt.shape[1]})")
    if y.shape[0] != n:
        raise ValueError(f"y must have {n} entries (the rows of X), got {y.shape[0]}")
    if order is not None and order.shape[0] != n:
        raise ValueError(f"order must have {n} entries (the rows of X), got {order.shape[0]}")
    if b is not None and b.shape[0] != c:
        raise ValueError(f"b must have shape ({c},), got ({b.shape[0]},)")
    if (Vt is None) != (momentum == 0.0) or (Vt is not None and (
            Vt.shape[0] != c or Vt.shape[1] != d or (b is not None) != (Vb is not None)
            or (Vb is not None and Vb.shape[0] != c))):
        raise ValueError("Vt (and Vb with b) must be given exactly when momentum > 0, "
                         "shaped as Wt (and b)")
    if sample_weight is not None and sample_weight.shape[0] != n:
        raise ValueError(f"sample_weight must have {n} entries, got {sample_weight.shape[0]}")
    if n == 0 or d == 0:
        raise ValueError("X must have at least one row and one column")
    steps = (n + batch_size - 1) // batch_size
    if stop < 0:
        stop = steps
    if not 0 <= start <= stop <= steps:
        raise ValueError(f"steps {start}..{stop} are not within the epoch's {steps}")
    if lr.shape[0] < stop or history.shape[0] < stop:
        raise ValueError(f"lr and history need {stop} entries, got {lr.shape[0]} and "
                         f"{history.shape[0]}")
    # indices and labels from outside: checked before any memory is touched through them
    bad = -1
    if order is not None:
        with nogil:
            for i in range(n):
                if order[i] < 0 or order[i] >= n:
                    bad = i
                    break
    if bad >= 0:
        raise ValueError(f"order[{bad}] = {order[bad]} is not a row of X (0 <= i < {n})")
    with nogil:
        bad = _first_bad_label(y, c)
    if bad >= 0:
        raise ValueError(f"y[{bad}] = {y[bad]} is not a class index (0 <= y < {c})")
    if sample_weight is not None:
        with nogil:
            for i in range(n):
                if not (sample_weight[i] >= 0.0 and sample_weight[i] < INFINITY):
                    bad = i
                    break
        if bad >= 0:
            raise ValueError(f"sample_weight[{bad}] = {sample_weight[bad]} is not a finite "
                             "weight >= 0")

    t.X = &X[0, 0]
    t.n, t.d, t.c, t.ld = n, d, c, d
    t.y = &y[0]
    t.sw = &sample_weight[0] if sample_weight is not None else NULL
    t.Wt = &Wt[0, 0]
    t.b = &b[0] if b is not None else NULL
    t.Vt = &Vt[0, 0] if Vt is not None else NULL
    t.Vb = &Vb[0] if Vb is not None else NULL
    t.loss = FL_TRAIN_SOFTMAX if loss == "softmax" else FL_TRAIN_HINGE
    t.margin, t.reg, t.momentum, t.nesterov = margin, reg, momentum, nesterov
    t.batch = batch_size
    t.order = &order[0] if order is not None else NULL
    t.lr = &lr[0]
    t.history = &history[0]
    t.steps_before = steps_before
    t.group = _group(c, group)
    # threads: only where a step's work pays for its two phases; no more than its groups
    nt = threads_for(min(batch_size, n) * d * c, TRAIN_PARALLEL_MIN)
    nt = max(1, min(nt, 256, (min(batch_size, n) + t.group - 1) // t.group))
    t.threads = nt
    if floating is float:
        wbytes = fl_train_work_bytes_f32(&t)
    else:
        wbytes = fl_train_work_bytes_f64(&t)
    dW = <floating*>malloc(nt * c * d * sizeof(floating))
    db = <floating*>malloc(nt * c * sizeof(floating))
    work = malloc(wbytes)
    if dW == NULL or db == NULL or work == NULL:
        free(dW)
        free(db)
        free(work)
        raise MemoryError()
    try:
        with nogil:
            if floating is float:
                bad = fl_train_epoch_f32(&t, start, stop, dW, db, work)
            else:
                bad = fl_train_epoch_f64(&t, start, stop, dW, db, work)
    finally:
        free(dW)
        free(db)
        free(work)
    return bad


def linear_gradient(const floating[:, ::1] X, const int64_t[::1] y, const floating[:, ::1] Wt,
                    floating[:, ::1] dWt, *, loss, double margin):
    """The mean loss of the linear classifier ``S = X·W`` over all rows, and ``dWt = (dL/dW)ᵀ``.

    ``Wt`` is W transposed, (C, D); ``dWt`` (C, D) is written.  The passes of
    one step of :func:`train_epoch` over the rows in X's order, without the
    update (and without an L2 term: the caller adds it): the one-pass
    machinery of ``fastloss.svm_loss`` / ``softmax_loss``.  Checks every
    label before it reads anything through it (ValueError).
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], c = Wt.shape[0], bad
    cdef fl_train t
    cdef int nt
    cdef double total
    cdef floating* db = NULL
    cdef void* work = NULL
    if loss not in ("softmax", "hinge"):
        raise ValueError(f"loss must be 'softmax' or 'hinge', got {loss!r}")
    if Wt.shape[1] != d or c < 1:
        raise ValueError(f"Wt must have shape (C, {d}), got ({Wt.shape[0]}, {Wt.shape[1]})")
    if dWt.shape[0] != c or dWt.shape[1] != d:
        raise ValueError(f"dWt must have shape ({c}, {d}), got ({dWt.shape[0]}, {dWt.shape[1]})")
    if y.shape[0] != n:
        raise ValueError(f"y must have {n} entries (the rows of X), got {y.shape[0]}")
    if n == 0 or d == 0:
        raise ValueError("X must have at least one row and one column")
    with nogil:
        bad = _first_bad_label(y, c)
    if bad >= 0:
        raise ValueError(f"y[{bad}] = {y[bad]} is not a class index (0 <= y < {c})")
    t.X = &X[0, 0]
    t.n, t.d, t.c, t.ld = n, d, c, d
    t.y = &y[0]
    t.sw = NULL
    t.Wt = <void*>&Wt[0, 0]
    t.b = NULL
    t.Vt = NULL
    t.Vb = NULL
    t.loss = FL_TRAIN_SOFTMAX if loss == "softmax" else FL_TRAIN_HINGE
    t.margin, t.reg, t.momentum, t.nesterov = margin, 0.0, 0.0, 0
    t.batch = n
    t.order = NULL
    t.lr = NULL
    t.history = NULL
    t.steps_before = 0
    t.group = _group(c, 0)
    nt = threads_for(n * d * c, TRAIN_PARALLEL_MIN)
    nt = max(1, min(nt, 256, (n + t.group - 1) // t.group))
    t.threads = nt
    # one thread adds into dWt itself; more add into partial sums, reduced into the first
    cdef floating* parts = &dWt[0, 0]
    if nt > 1:
        parts = <floating*>malloc(nt * c * d * sizeof(floating))
    if floating is float:
        work = malloc(fl_train_work_bytes_f32(&t))
    else:
        work = malloc(fl_train_work_bytes_f64(&t))
    if work == NULL or parts == NULL:
        free(work)
        if nt > 1:
            free(parts)
        raise MemoryError()
    try:
        with nogil:
            if floating is float:
                total = fl_train_gradient_f32(&t, parts, db, work)
            else:
                total = fl_train_gradient_f64(&t, parts, db, work)
            if nt > 1:
                memcpy(&dWt[0, 0], parts, c * d * sizeof(floating))
    finally:
        free(work)
        if nt > 1:
            free(parts)
    return total
