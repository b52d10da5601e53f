# Row primitives shared by the loss kernels: a vectorisable exp and reductions.
#
# Included (not imported) by _kernels.pxi, so each instruction-set build of the
# kernels gets its own copy compiled for that instruction set.
#
# gcc does not vectorise a floating-point sum or max reduction without
# -ffast-math (it would reorder the operations).  These helpers reorder them
# explicitly: LANES independent partial results, combined at the end, which gcc
# turns into vector registers at any instruction set (see FASTLOSS_VEC_REPORT in
# setup.py).  Sums are accumulated in double whatever the input dtype.

from cython cimport floating

cdef extern from "_simd_math.h":
    float fl_expf(float x) noexcept nogil
    double fl_exp(double x) noexcept nogil

cdef enum:
    LANES = 16


cdef inline floating _exp(floating x) noexcept nogil:
    if floating is float:
        return fl_expf(x)
    else:
        return fl_exp(x)


cdef inline floating row_max(const floating* x, Py_ssize_t n) noexcept nogil:
    """max_j x[j] for n >= 1.

    NaN entries may be skipped; every caller's next pass over the row
    propagates them into its result.
    """
    cdef floating acc[LANES]
    cdef floating m
    cdef Py_ssize_t b, j, k
    cdef Py_ssize_t nv = n - n % LANES
    if nv == 0:
        m = x[0]
        for j in range(1, n):
            m = x[j] if x[j] > m else m
        return m
    for k in range(LANES):
        acc[k] = x[k]
    for b in range(1, nv // LANES):
        j = b * LANES
        for k in range(LANES):
            acc[k] = x[j + k] if x[j + k] > acc[k] else acc[k]
    m = acc[0]
    for k in range(1, LANES):
        m = acc[k] if acc[k] > m else m
    for j in range(nv, n):
        m = x[j] if x[j] > m else m
    return m


cdef inline double row_exp_sum_store(const floating* x, floating shift, floating* out,
                                     Py_ssize_t n) noexcept nogil:
    """out[j] = exp(x[j] - shift); returns Σ_j out[j] (in double).

    ``out`` may be ``x`` itself (each element is read before it is written).
    """
    cdef double acc[LANES]
    cdef floating e
    cdef double total
    cdef Py_ssize_t b, j, k
    cdef Py_ssize_t nv = n - n % LANES
    for k in range(LANES):
        acc[k] = 0.0
    for b in range(0, nv // LANES):
        j = b * LANES
        for k in range(LANES):
            e = _exp(x[j + k] - shift)
            out[j + k] = e
            acc[k] += e
    total = 0.0
    for k in range(LANES):
        total += acc[k]
    for j in range(nv, n):
        e = _exp(x[j] - shift)
        out[j] = e
        total += e
    return total


cdef inline double row_exp_sum(const floating* x, floating shift, Py_ssize_t n) noexcept nogil:
    """Σ_j exp(x[j] - shift) (in double), nothing stored."""
    cdef double acc[LANES]
    cdef double total
    cdef Py_ssize_t b, j, k
    cdef Py_ssize_t nv = n - n % LANES
    for k in range(LANES):
        acc[k] = 0.0
    for b in range(0, nv // LANES):
        j = b * LANES
        for k in range(LANES):
            acc[k] += _exp(x[j + k] - shift)
    total = 0.0
    for k in range(LANES):
        total += acc[k]
    for j in range(nv, n):
        total += _exp(x[j] - shift)
    return total


cdef inline double row_shifted_sum(const floating* x, double shift, const double* w,
                                   Py_ssize_t n) noexcept nogil:
    """Σ_j w[j] · (x[j] - shift) in double (w = NULL means all ones).

    Shifting by the row maximum first keeps the sum well conditioned for
    huge logits.
    """
    cdef double acc[LANES]
    cdef double total
    cdef Py_ssize_t b, j, k
    cdef Py_ssize_t nv = n - n % LANES
    for k in range(LANES):
        acc[k] = 0.0
    if w == NULL:
        for b in range(0, nv // LANES):
            j = b * LANES
            for k in range(LANES):
                acc[k] += <double>x[j + k] - shift
        total = 0.0
        for k in range(LANES):
            total += acc[k]
        for j in range(nv, n):
            total += <double>x[j] - shift
    else:
        for b in range(0, nv // LANES):
            j = b * LANES
            for k in range(LANES):
                acc[k] += w[j + k] * (<double>x[j + k] - shift)
        total = 0.0
        for k in range(LANES):
            total += acc[k]
        for j in range(nv, n):
            total += w[j] * (<double>x[j] - shift)
    return total


cdef inline void row_scale(floating* x, floating a, Py_ssize_t n) noexcept nogil:
    """x[j] *= a."""
    cdef Py_ssize_t j
    for j in range(n):
        x[j] = x[j] * a


cdef inline void row_fill(floating* x, floating value, Py_ssize_t n) noexcept nogil:
    """x[j] = value."""
    cdef Py_ssize_t j
    for j in range(n):
        x[j] = value
