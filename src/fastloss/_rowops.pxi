# Row primitives shared by the loss kernels.
#
# Included (not imported) by _kernels.pxi, so each instruction-set build of the
# kernels gets its own copy compiled for that instruction set.  The hot ones
# (max, exp-and-sum, hinge terms) are explicit-vector C in _simd_rows.h; these
# fused-type wrappers pick the float32 or float64 version at compile time.

from cython cimport floating

cdef extern from "_simd_rows.h":
    float fl_expf(float x) noexcept nogil
    double fl_exp(double x) noexcept nogil
    float fl_row_max_f32(const float* x, Py_ssize_t n) noexcept nogil
    double fl_row_max_f64(const double* x, Py_ssize_t n) noexcept nogil
    double fl_row_exp_sum_f32(const float* x, float shift, float* out, Py_ssize_t n) noexcept nogil
    double fl_row_exp_sum_f64(const double* x, double shift, double* out, Py_ssize_t n) noexcept nogil
    void fl_row_affine_f32(const float* x, float a, float b, float* out, Py_ssize_t n) noexcept nogil
    void fl_row_affine_f64(const double* x, double a, double b, double* out, Py_ssize_t n) noexcept nogil
    void fl_log8_f64(const double* x, double* out) noexcept nogil
    double fl_row_hinge_f32(const float* s, float* g, Py_ssize_t n, Py_ssize_t y, float delta,
                            int squared, float gs) noexcept nogil
    double fl_row_hinge_f64(const double* s, double* g, Py_ssize_t n, Py_ssize_t y,
                            double delta, int squared, double gs) noexcept nogil

cdef enum:
    LANES = 16
    ROW_BLOCK = 8   # rows per fl_log8_f64 call


cdef inline floating row_max(const floating* x, Py_ssize_t n) noexcept nogil:
    """max_j x[j] for n >= 1 (NaNs may be skipped; the next pass propagates them)."""
    if floating is float:
        return fl_row_max_f32(x, n)
    else:
        return fl_row_max_f64(x, n)


cdef inline double row_exp_sum_store(const floating* x, floating shift, floating* out,
                                     Py_ssize_t n) noexcept nogil:
    """out[j] = exp(x[j] - shift); returns Σ_j out[j] in double.  ``out`` may be ``x``."""
    if floating is float:
        return fl_row_exp_sum_f32(x, shift, out, n)
    else:
        return fl_row_exp_sum_f64(x, shift, out, n)


cdef inline double row_exp_sum(const floating* x, floating shift, Py_ssize_t n) noexcept nogil:
    """Σ_j exp(x[j] - shift) in double, nothing stored."""
    if floating is float:
        return fl_row_exp_sum_f32(x, shift, NULL, n)
    else:
        return fl_row_exp_sum_f64(x, shift, NULL, n)


cdef inline double hinge_row(const floating* s, floating* g, Py_ssize_t c, Py_ssize_t y,
                             floating delta, bint squared, floating gs) noexcept nogil:
    """Σ_{j≠y} max(0, s_j - s_y + Δ) (or of squares); with g, the row's gradient
    scaled by gs (see fl_row_hinge_f32).  ``g`` may be ``s``."""
    if floating is float:
        return fl_row_hinge_f32(s, g, c, y, delta, squared, gs)
    else:
        return fl_row_hinge_f64(s, g, c, y, delta, squared, gs)


cdef inline double row_shifted_sum(const floating* x, double shift, const double* w,
                                   Py_ssize_t n) noexcept nogil:
    """Σ_j w[j] · (x[j] - shift) in double (w = NULL means all ones).

    Shifting by the row maximum first keeps the sum well conditioned for
    huge logits.  Used only with label smoothing, so not blocked further.
    """
    cdef double acc[LANES]
    cdef Py_ssize_t b, j, k
    cdef Py_ssize_t nv = n - n % LANES
    cdef double total
    for k in range(LANES):
        acc[k] = 0.0
    for b in range(nv // LANES):
        j = b * LANES
        for k in range(LANES):
            acc[k] += (w[j + k] if w != NULL else 1.0) * (<double>x[j + k] - shift)
    total = 0.0
    for k in range(LANES):
        total += acc[k]
    for j in range(nv, n):
        total += (w[j] if w != NULL else 1.0) * (<double>x[j] - shift)
    return total


cdef inline void row_affine(const floating* x, floating a, floating b, floating* out,
                            Py_ssize_t n) noexcept nogil:
    """out[j] = x[j] * a + b; ``out`` may be ``x``."""
    if floating is float:
        fl_row_affine_f32(x, a, b, out, n)
    else:
        fl_row_affine_f64(x, a, b, out, n)


cdef inline void row_fill(floating* x, floating value, Py_ssize_t n) noexcept nogil:
    """x[j] = value."""
    cdef Py_ssize_t j
    for j in range(n):
        x[j] = value
