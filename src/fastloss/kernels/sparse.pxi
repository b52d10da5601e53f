# The training engine and the linear losses on CSR data.
#
# Included by kernels.pxi.  The callers are fastloss._sparse (the linear
# losses, the CSR checks) and fastloss._sparse_training.SparseMiniBatchSGD
# (LinearClassifier on sparse X); the NumPy twin is reference.sparse_train_epoch;
# the loops are in ../simd/sparse.h.

from libc.stdlib cimport calloc

cdef extern from "simd/sparse.h":
    ctypedef struct fl_csr:
        const void* data
        const void* indices
        const void* indptr
        int idx64
    int fl_csr_check(const fl_csr* x, Py_ssize_t n, Py_ssize_t nnz, Py_ssize_t d,
                     Py_ssize_t* where) noexcept nogil
    int FL_SPARSE_G
    int FL_SPARSE_MAXT
    Py_ssize_t fl_sparse_epoch_f32(const fl_train* t, const fl_csr* x, Py_ssize_t s0,
                                   Py_ssize_t s1, int nt) noexcept nogil
    Py_ssize_t fl_sparse_epoch_f64(const fl_train* t, const fl_csr* x, Py_ssize_t s0,
                                   Py_ssize_t s1, int nt) noexcept nogil
    double fl_sparse_gradient_f32(const fl_train* t, const fl_csr* x, float* G,
                                  int* oom) noexcept nogil
    double fl_sparse_gradient_f64(const fl_train* t, const fl_csr* x, double* G,
                                  int* oom) noexcept nogil

ctypedef fused csr_index:
    int32_t
    int64_t

# Multiply-adds (rows x non-zeros a row x classes) below which the linear losses'
# gradient stays on one thread, and a step's below which the engine does: a step's
# shares read the rows of W the other thread's shares last wrote, and below ~2^19
# (a batch of ~350 rows of 76 non-zeros at C = 20) two threads were no faster than
# one here (batch 256: 1.14x; 512: 1.41x; 1024: 1.45x; 16: 0.65x).
cdef Py_ssize_t SPARSE_PARALLEL_MIN = 1 << 16
cdef Py_ssize_t SPARSE_EPOCH_PARALLEL_MIN = 1 << 19


cdef fl_csr _csr_of(const floating[::1] data, const csr_index[::1] indices,
                    const csr_index[::1] indptr, Py_ssize_t n, Py_ssize_t d) except *:
    """The fl_csr of (data, indices, indptr), n rows of d columns, checked: every
    length and index, before anything is read through them (ValueError)."""
    cdef fl_csr x
    cdef Py_ssize_t nnz = data.shape[0], where = 0
    cdef int code
    if indptr.shape[0] != n + 1:
        raise ValueError(f"indptr must have n_rows + 1 = {n + 1} entries, got {indptr.shape[0]}")
    if indices.shape[0] != nnz:
        raise ValueError(f"indices and data must have the same length, got {indices.shape[0]} "
                         f"indices and {nnz} values")
    x.data = &data[0] if nnz else NULL
    x.indices = &indices[0] if nnz else NULL
    x.indptr = &indptr[0]
    x.idx64 = csr_index is int64_t
    with nogil:
        code = fl_csr_check(&x, n, nnz, d, &where)
    if code == 1:
        raise ValueError(f"indptr[0] must be 0, got {indptr[0]}")
    if code == 2:
        raise ValueError(f"indptr must be non-decreasing, but indptr[{where}] = {indptr[where]} "
                         f"< indptr[{where - 1}] = {indptr[where - 1]}")
    if code == 3:
        raise ValueError(f"indptr must end at the number of stored values {nnz}, got "
                         f"indptr[{n}] = {indptr[n]}")
    if code == 4:
        raise ValueError(f"indices[{where}] = {indices[where]} is not a column index "
                         f"(0 <= j < {d})")
    return x


def csr_check(const floating[::1] data, const csr_index[::1] indices,
              const csr_index[::1] indptr, Py_ssize_t n_rows, Py_ssize_t n_cols):
    """Check a CSR matrix's arrays (ValueError naming the first problem): indptr of
    ``n_rows + 1`` entries, from 0, non-decreasing, ending at ``len(data)``; indices of
    ``len(data)`` entries, each in ``[0, n_cols)``.  One read of indptr and indices."""
    _csr_of(data, indices, indptr, n_rows, n_cols)


cdef int _sparse_threads(Py_ssize_t rows, Py_ssize_t nnz, Py_ssize_t n, Py_ssize_t c) noexcept:
    cdef Py_ssize_t per_row = max(1, nnz // max(n, 1))
    cdef int nt = threads_for(rows * per_row * c, SPARSE_PARALLEL_MIN)
    return max(1, min(nt, 256, (rows + FL_TRAIN_G - 1) // FL_TRAIN_G))


def sparse_train_epoch(const floating[::1] data, const csr_index[::1] indices,
                       const csr_index[::1] indptr, const int64_t[::1] y, floating[:, ::1] W,
                       const intptr_t[::1] order, const double[::1] lr, double[::1] history, *,
                       loss, Py_ssize_t batch_size, floating[::1] b=None,
                       floating[:, ::1] V=None, floating[::1] Vb=None,
                       const double[::1] sample_weight=None, double margin=1.0,
                       double reg=0.0, double momentum=0.0, bint nesterov=False,
                       Py_ssize_t start=0, Py_ssize_t stop=-1):
    """Steps ``start .. stop-1`` of one epoch of mini-batch SGD on CSR data.

    X is the CSR matrix ``(data, indices, indptr)`` of ``len(y)`` rows and
    ``W.shape[0]`` columns; ``W`` is (D, C) (not transposed, unlike
    train_epoch's ``Wt``) and ``V`` its velocity.  Batches, losses, the
    intercept and the history as in :func:`train_epoch`; the weights' update
    is simd/sparse.h's: weight decay ``2·reg`` on every weight every step
    (the scale trick), the data gradient on the rows of W named by the
    batch's columns, lazy momentum on those rows only (see sparse.h).
    Returns -1, or the first step whose loss was not finite (the loop stopped
    before its update).  Checks the CSR arrays, ``order`` and the labels
    before it touches anything (ValueError).
    """
    cdef Py_ssize_t n = y.shape[0], d = W.shape[0], c = W.shape[1], steps, i, bad, step_work
    cdef fl_train t
    cdef fl_csr x
    cdef int nt
    if loss not in ("softmax", "hinge"):
        raise ValueError(f"loss must be 'softmax' or 'hinge', got {loss!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if n == 0 or d == 0 or c < 1:
        raise ValueError("X must have at least one row and one column, W at least one class")
    x = _csr_of(data, indices, indptr, n, d)
    if order is not None and order.shape[0] != n:
        raise ValueError(f"order must have {n} entries (the rows of X), got {order.shape[0]}")
    if b is not None and b.shape[0] != c:
        raise ValueError(f"b must have shape ({c},), got ({b.shape[0]},)")
    if (V is None) != (momentum == 0.0) or (V is not None and (
            V.shape[0] != d or V.shape[1] != c or (b is not None) != (Vb is not None)
            or (Vb is not None and Vb.shape[0] != c))):
        raise ValueError("V (and Vb with b) must be given exactly when momentum > 0, "
                         "shaped as W (and b)")
    if sample_weight is not None and sample_weight.shape[0] != n:
        raise ValueError(f"sample_weight must have {n} entries, got {sample_weight.shape[0]}")
    steps = (n + batch_size - 1) // batch_size
    if stop < 0:
        stop = steps
    if not 0 <= start <= stop <= steps:
        raise ValueError(f"steps {start}..{stop} are not within the epoch's {steps}")
    if lr.shape[0] < stop or history.shape[0] < stop:
        raise ValueError(f"lr and history need {stop} entries, got {lr.shape[0]} and "
                         f"{history.shape[0]}")
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

    t.X = NULL
    t.n, t.d, t.c, t.ld = n, d, c, c
    t.y = &y[0]
    t.sw = &sample_weight[0] if sample_weight is not None else NULL
    t.Wt = &W[0, 0]
    t.b = &b[0] if b is not None else NULL
    t.Vt = &V[0, 0] if V is not None else NULL
    t.Vb = &Vb[0] if Vb is not None else NULL
    t.loss = FL_TRAIN_SOFTMAX if loss == "softmax" else FL_TRAIN_HINGE
    t.margin, t.reg, t.momentum, t.nesterov = margin, reg, momentum, nesterov
    t.batch = batch_size
    t.order = &order[0] if order is not None else NULL
    t.lr = &lr[0] if lr.shape[0] else NULL
    t.history = &history[0] if history.shape[0] else NULL
    t.steps_before = 0
    t.group = FL_SPARSE_G  # (the engine groups rows by FL_SPARSE_G)
    # threads: a share of a step's groups of FL_SPARSE_G rows each, when a step has
    # the work (SPARSE_EPOCH_PARALLEL_MIN)
    step_work = min(batch_size, n) * max(1, data.shape[0] // n) * c
    nt = max(1, min(threads_for(step_work, SPARSE_EPOCH_PARALLEL_MIN), FL_SPARSE_MAXT,
                    step_work // (SPARSE_EPOCH_PARALLEL_MIN // 2),   # >= 2^18 a thread
                    (min(batch_size, n) + FL_SPARSE_G - 1) // FL_SPARSE_G))
    t.threads = nt
    if start == stop:
        return -1
    with nogil:
        if floating is float:
            bad = fl_sparse_epoch_f32(&t, &x, start, stop, nt)
        else:
            bad = fl_sparse_epoch_f64(&t, &x, start, stop, nt)
    if bad == -2:
        raise MemoryError()
    return bad


def sparse_linear_gradient(const floating[::1] data, const csr_index[::1] indices,
                           const csr_index[::1] indptr, const int64_t[::1] y,
                           const floating[:, ::1] W, floating[:, ::1] dW, *, loss,
                           double margin):
    """The mean loss of ``S = X·W`` over all rows of the CSR matrix X
    ``(data, indices, indptr)`` (``len(y)`` rows, ``W.shape[0]`` columns), and
    ``dW = dL/dW`` (D, C), written.  No L2 term (the caller adds it).  Checks the
    CSR arrays and the labels before it reads anything through them (ValueError).
    """
    cdef Py_ssize_t n = y.shape[0], d = W.shape[0], c = W.shape[1], bad
    cdef fl_train t
    cdef fl_csr x
    cdef int nt, oom = 0
    cdef double total
    cdef floating* G = NULL
    if loss not in ("softmax", "hinge"):
        raise ValueError(f"loss must be 'softmax' or 'hinge', got {loss!r}")
    if dW.shape[0] != d or dW.shape[1] != c:
        raise ValueError(f"dW must have shape ({d}, {c}), got ({dW.shape[0]}, {dW.shape[1]})")
    if n == 0 or d == 0 or c < 1:
        raise ValueError("X must have at least one row and one column, W at least one class")
    x = _csr_of(data, indices, indptr, n, d)
    with nogil:
        bad = _first_bad_label(y, c)
    if bad >= 0:
        raise ValueError(f"y[{bad}] = {y[bad]} is not a class index (0 <= y < {c})")
    t.X = NULL
    t.n, t.d, t.c, t.ld = n, d, c, c
    t.y = &y[0]
    t.sw = NULL
    t.Wt = <void*>&W[0, 0]
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
    t.group = FL_TRAIN_G  # (the sparse loops group rows by FL_TRAIN_G)
    nt = _sparse_threads(n, data.shape[0], n, c)
    t.threads = nt
    G = <floating*>calloc(nt * d * c, sizeof(floating))
    if G == NULL:
        raise MemoryError()
    try:
        with nogil:
            if floating is float:
                total = fl_sparse_gradient_f32(&t, &x, G, &oom)
            else:
                total = fl_sparse_gradient_f64(&t, &x, G, &oom)
            if not oom:
                memcpy(&dW[0, 0], G, d * c * sizeof(floating))
    finally:
        free(G)
    if oom:
        raise MemoryError()
    return total
