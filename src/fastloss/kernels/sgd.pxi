# In-place SGD update (torch.optim.SGD's rule) and the sum of squares of the L2 penalty.
#
# Included by kernels.pxi.  The public wrapper, with its validation and
# docstring, is optim.sgd_update; the NumPy twin is reference.sgd_update.
#
# One pass over memory: param (and velocity) are read and written once, grad
# read once, nothing else touched.  The loop is specialised per option
# combination so that each variant is a plain, branch-free loop gcc
# auto-vectorises (check with FASTLOSS_VEC_REPORT=1).  ``sign`` is +1 or -1
# (maximize); multiplying by it is exact.  Arithmetic is in the dtype of the
# arrays, like torch's.  Chunks of SGD_CHUNK elements are split over OpenMP
# threads (static schedule); every element is computed the same way for any
# thread count.

cdef enum:
    SGD_CHUNK = 8192

# One SGD step's hyper-parameters.
cdef struct sgd_step:
    double lr
    double momentum
    double dampening
    double weight_decay
    bint nesterov
    bint maximize
    bint first_step         # torch's first step: v = g (no dampening)


cdef inline void _sgd_plain(floating* p, const floating* g, Py_ssize_t n,
                            floating lr, floating sign) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        p[j] = p[j] - lr * (sign * g[j])


cdef inline void _sgd_wd(floating* p, const floating* g, Py_ssize_t n,
                         floating lr, floating sign, floating wd) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        p[j] = p[j] - lr * (sign * g[j] + wd * p[j])


cdef inline void _sgd_momentum(floating* p, const floating* g, floating* v, Py_ssize_t n,
                               floating lr, floating sign, floating wd, floating mu,
                               floating damp) noexcept nogil:
    # v = mu v + (1 - dampening) g ; p -= lr v
    cdef Py_ssize_t j
    cdef floating gj, vj
    for j in range(n):
        gj = sign * g[j] + wd * p[j]
        vj = mu * v[j] + damp * gj
        v[j] = vj
        p[j] = p[j] - lr * vj


cdef inline void _sgd_nesterov(floating* p, const floating* g, floating* v, Py_ssize_t n,
                               floating lr, floating sign, floating wd, floating mu,
                               floating damp) noexcept nogil:
    # v = mu v + (1 - dampening) g ; p -= lr (g + mu v)
    cdef Py_ssize_t j
    cdef floating gj, vj
    for j in range(n):
        gj = sign * g[j] + wd * p[j]
        vj = mu * v[j] + damp * gj
        v[j] = vj
        p[j] = p[j] - lr * (gj + mu * vj)


cdef inline void _sgd_first(floating* p, const floating* g, floating* v, Py_ssize_t n,
                            floating lr, floating sign, floating wd, floating mu,
                            bint nesterov) noexcept nogil:
    # torch's first step: v = g (no dampening), then as above.
    cdef Py_ssize_t j
    cdef floating gj
    if nesterov:
        for j in range(n):
            gj = sign * g[j] + wd * p[j]
            v[j] = gj
            p[j] = p[j] - lr * (gj + mu * gj)
    else:
        for j in range(n):
            gj = sign * g[j] + wd * p[j]
            v[j] = gj
            p[j] = p[j] - lr * gj


cdef inline void _sgd_first_nowd(floating* p, const floating* g, floating* v, Py_ssize_t n,
                                 floating lr, floating sign, floating mu,
                                 bint nesterov) noexcept nogil:
    cdef Py_ssize_t j
    cdef floating gj
    if nesterov:
        for j in range(n):
            gj = sign * g[j]
            v[j] = gj
            p[j] = p[j] - lr * (gj + mu * gj)
    else:
        for j in range(n):
            gj = sign * g[j]
            v[j] = gj
            p[j] = p[j] - lr * gj


cdef inline void _sgd_momentum_nowd(floating* p, const floating* g, floating* v, Py_ssize_t n,
                                    floating lr, floating sign, floating mu,
                                    floating damp) noexcept nogil:
    cdef Py_ssize_t j
    cdef floating vj
    for j in range(n):
        vj = mu * v[j] + damp * (sign * g[j])
        v[j] = vj
        p[j] = p[j] - lr * vj


cdef inline void _sgd_nesterov_nowd(floating* p, const floating* g, floating* v, Py_ssize_t n,
                                    floating lr, floating sign, floating mu,
                                    floating damp) noexcept nogil:
    cdef Py_ssize_t j
    cdef floating gj, vj
    for j in range(n):
        gj = sign * g[j]
        vj = mu * v[j] + damp * gj
        v[j] = vj
        p[j] = p[j] - lr * (gj + mu * vj)


cdef void _sgd_chunk(const sgd_step* o, floating* p, const floating* g, floating* v,
                     Py_ssize_t n) noexcept nogil:
    """One SGD step over n elements, the loop specialised for the options."""
    cdef floating lr = <floating>o.lr
    cdef floating sign = <floating>(-1.0 if o.maximize else 1.0)
    cdef floating wd = <floating>o.weight_decay
    cdef floating mu = <floating>o.momentum
    cdef floating damp = <floating>(1.0 - o.dampening)
    cdef bint has_wd = o.weight_decay != 0.0
    if v == NULL:
        if has_wd:
            _sgd_wd(p, g, n, lr, sign, wd)
        else:
            _sgd_plain(p, g, n, lr, sign)
    elif o.first_step:
        if has_wd:
            _sgd_first(p, g, v, n, lr, sign, wd, mu, o.nesterov)
        else:
            _sgd_first_nowd(p, g, v, n, lr, sign, mu, o.nesterov)
    elif o.nesterov:
        if has_wd:
            _sgd_nesterov(p, g, v, n, lr, sign, wd, mu, damp)
        else:
            _sgd_nesterov_nowd(p, g, v, n, lr, sign, mu, damp)
    else:
        if has_wd:
            _sgd_momentum(p, g, v, n, lr, sign, wd, mu, damp)
        else:
            _sgd_momentum_nowd(p, g, v, n, lr, sign, mu, damp)


cdef void sgd_run(const sgd_step* o, floating* p, const floating* g, floating* v,
                  Py_ssize_t n) noexcept nogil:
    """sgd_update on raw pointers; ``v`` NULL without momentum.  Shared by the
    entry below and the fast entry of fastpath.pxi."""
    cdef Py_ssize_t blk, b
    cdef int nt = threads_for(n, SGD_PARALLEL_MIN)
    if n == 0:
        return
    if nt <= 1:
        _sgd_chunk(o, p, g, v, n)
        return
    for blk in prange((n + SGD_CHUNK - 1) // SGD_CHUNK, schedule="static", num_threads=nt):
        b = blk * SGD_CHUNK
        _sgd_chunk(o, p + b, g + b, v + b if v != NULL else NULL,
                   min(<Py_ssize_t>SGD_CHUNK, n - b))


def sgd_update(floating[::1] param, const floating[::1] grad, *, double lr,
               floating[::1] velocity=None, double momentum=0.0, double dampening=0.0,
               double weight_decay=0.0, bint nesterov=False, bint maximize=False,
               bint first_step=False):
    """One in-place SGD step over flat, C-contiguous, validated arrays.

    g = ±grad (+ weight_decay · param); with momentum (``velocity`` not None)
    v = momentum · v + (1 − dampening) · g — or v = g when ``first_step`` —
    then g = g + momentum · v (nesterov) or g = v; param −= lr · g.  Chunks of
    SGD_CHUNK elements are split over OpenMP threads.
    """
    cdef Py_ssize_t n = param.shape[0]
    cdef floating* v = NULL
    cdef sgd_step o
    o.lr = lr
    o.momentum = momentum
    o.dampening = dampening
    o.weight_decay = weight_decay
    o.nesterov = nesterov
    o.maximize = maximize
    o.first_step = first_step
    if n == 0:
        return
    if velocity is not None:
        v = &velocity[0]
    with nogil:
        sgd_run(&o, &param[0], &grad[0], v, n)


def sum_squares(const floating[::1] x):
    """Σ_j x[j]² accumulated in double (the L2 penalty of a flat weight array)."""
    cdef Py_ssize_t n = x.shape[0], b, j, k
    cdef double acc[16]
    cdef double total = 0.0
    cdef Py_ssize_t nv = n - n % 16
    for k in range(16):
        acc[k] = 0.0
    with nogil:
        for b in range(nv // 16):
            j = b * 16
            for k in range(16):
                acc[k] += <double>x[j + k] * <double>x[j + k]
        for k in range(16):
            total += acc[k]
        for j in range(nv, n):
            total += <double>x[j] * <double>x[j]
    return total
