# Row primitives shared by the loss kernels.
#
# Included (not imported) by _kernels.pxi, so each instruction-set build of the
# kernels gets its own copy compiled for that instruction set.  The hot ones
# (max, exp-and-sum, hinge terms) are explicit-vector C in _simd_rows.h; these
# fused-type wrappers pick the float32 or float64 version at compile time.

from cython cimport floating
from libc.stdint cimport int8_t, int32_t, int64_t

cdef extern from "_simd_rows.h":
    float fl_expf(float x) noexcept nogil
    double fl_exp(double x) noexcept nogil
    double fl_rounded(double x) noexcept nogil
    float fl_row_max_f32(const float* x, Py_ssize_t n) noexcept nogil
    double fl_row_max_f64(const double* x, Py_ssize_t n) noexcept nogil
    double fl_row_exp_sum_f32(const float* x, float shift, float* out, Py_ssize_t n) noexcept nogil
    double fl_row_exp_sum_f64(const double* x, double shift, double* out, Py_ssize_t n) noexcept nogil
    double fl_row_exp_sum_label_f32(const float* x, Py_ssize_t y, float* out,
                                    Py_ssize_t n) noexcept nogil
    void fl_row_affine_f32(const float* x, float a, float b, float* out, Py_ssize_t n) noexcept nogil
    void fl_row_affine_f64(const double* x, double a, double b, double* out, Py_ssize_t n) noexcept nogil
    void fl_log8_f64(const double* x, double* out) noexcept nogil
    double fl_row_hinge_f32(const float* s, float* g, Py_ssize_t n, Py_ssize_t y, float delta,
                            int squared, float gs) noexcept nogil
    double fl_row_hinge_f64(const double* s, double* g, Py_ssize_t n, Py_ssize_t y,
                            double delta, int squared, double gs) noexcept nogil
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
    double fl_row_sum_nonneg_f32(const float* t, Py_ssize_t n, int* bad) noexcept nogil
    double fl_row_sum_nonneg_f64(const double* t, Py_ssize_t n, int* bad) noexcept nogil
    double fl_row_soft_f32(const float* s, const float* t, const float* cw, float alpha,
                           float beta, float shift, double* mass, Py_ssize_t n) noexcept nogil
    double fl_row_soft_f64(const double* s, const double* t, const double* cw, double alpha,
                           double beta, double shift, double* mass, Py_ssize_t n) noexcept nogil
    void fl_row_soft_grad_f32(float* g, const float* t, const float* cw, float gamma,
                              float alpha, float beta, Py_ssize_t n) noexcept nogil
    void fl_row_soft_grad_f64(double* g, const double* t, const double* cw, double gamma,
                              double alpha, double beta, Py_ssize_t n) noexcept nogil
    Py_ssize_t fl_row_argmax_excl_f32(const float* s, Py_ssize_t n, Py_ssize_t y,
                                      int* has_nan) noexcept nogil
    Py_ssize_t fl_row_argmax_excl_f64(const double* s, Py_ssize_t n, Py_ssize_t y,
                                      int* has_nan) noexcept nogil

cdef extern from "_simd_rowblock.h":
    int FL_ROWS_F32
    int FL_ROWS_F64
    int FL_ROWBLOCK_FAST
    enum: FL_ROWBLOCK_MAX_C     # a compile-time constant: sizes the row-block buffers
    void fl_rows_perm_f32(Py_ssize_t c, int32_t* perm) noexcept nogil
    void fl_rows_perm_f64(Py_ssize_t c, int64_t* perm) noexcept nogil
    void fl_rows_exp_sum_f32(const float* x, Py_ssize_t c, const int32_t* perm, float* out,
                             float* maxes, double* sums) noexcept nogil
    void fl_rows_exp_sum_f64(const double* x, Py_ssize_t c, const int64_t* perm, double* out,
                             double* maxes, double* sums, double* sums_m1) noexcept nogil
    double fl_row_exp_sum_split_f64(const double* x, double shift, double* out, Py_ssize_t n,
                                    double* rest) noexcept nogil
    double fl_row_exp_sum_split_label_f64(const double* x, Py_ssize_t y, double* out,
                                          Py_ssize_t n, double* rest) noexcept nogil
    void fl_log1p8_f64(const double* t, double* out) noexcept nogil
    double fl_sce_plain_block_f32(const float* scores, const void* y, int y64, float* grad,
                                  float* loss_out, Py_ssize_t i0, Py_ssize_t nb, Py_ssize_t c,
                                  double gs, double max_sum) noexcept nogil
    void fl_rows_scale_f32(float* g, Py_ssize_t c, const int32_t* perm,
                           const float* factors) noexcept nogil
    void fl_rows_scale_f64(double* g, Py_ssize_t c, const int64_t* perm,
                           const double* factors) noexcept nogil

cdef enum:
    LANES = 16
    ROW_BLOCK = 8   # rows per fl_log8_f64 call (and fl_sce_plain_block_f32's limit)
    # Widest rows softmax_cross_entropy vectorises across rows (<= FL_ROWBLOCK_MAX_C).
    # Measured with AVX-512 (4096 rows): float32 is faster that way up to C = 63
    # (C = 64 is four whole vectors per row); float64, whose exp costs more than
    # the gathers save, up to C = 32.
    SMALL_C_MAX_F32 = 63
    SMALL_C_MAX_F64 = 32
    # Widest rows whose exps softmax_cross_entropy, in place, keeps on the
    # stack (4 KiB float32, 8 KiB float64) before they overwrite the scores
    # (see sce_block); wider rows take a heap buffer.
    INPLACE_ROW_MAX = 1024

cdef extern from *:
    """
    /* Largest exp-sum a softmax_cross_entropy row keeps with the label shift
     * (see sce_block): larger ones are redone with the max shift.  The
     * gradient's factor w/(N·sum) then stays >= 2^-64·w/N (float32) or
     * 2^-512·w/N (float64), far inside the normal range. */
    #define LABEL_SHIFT_MAX_SUM_F32 0x1p64
    #define LABEL_SHIFT_MAX_SUM_F64 0x1p512
    """
    const double LABEL_SHIFT_MAX_SUM_F32
    const double LABEL_SHIFT_MAX_SUM_F64


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


cdef inline double sum_f64(const double* x, Py_ssize_t n) noexcept nogil:
    """Σ_j x[j] in LANES independent partial sums (so gcc vectorises it)."""
    cdef double acc[LANES]
    cdef Py_ssize_t b, k, nv = n - n % LANES
    cdef double total = 0.0
    for k in range(LANES):
        acc[k] = 0.0
    for b in range(nv // LANES):
        for k in range(LANES):
            acc[k] += x[b * LANES + k]
    for k in range(LANES):
        total += acc[k]
    for b in range(nv, n):
        total += x[b]
    return total


# ---- binary losses, the sigmoid, soft targets, Crammer–Singer (see _simd_rows.h)

cdef inline void sigmoid_block(const floating* x, floating* out, Py_ssize_t n) noexcept nogil:
    """out[j] = σ(x[j]); ``out`` may be ``x``."""
    if floating is float:
        fl_sigmoid_f32(x, out, n)
    else:
        fl_sigmoid_f64(x, out, n)


cdef inline double sigmoid_ce_block(const floating* x, const floating* y, const floating* p,
                                    const floating* w, floating gs, floating* g, floating* lo,
                                    Py_ssize_t n) noexcept nogil:
    """Σ_j w_j L_j of the sigmoid cross-entropy (fl_sigmoid_ce_f32); p, w, g, lo may be NULL."""
    if floating is float:
        return fl_sigmoid_ce_f32(x, y, p, w, gs, g, lo, n)
    else:
        return fl_sigmoid_ce_f64(x, y, p, w, gs, g, lo, n)


cdef inline double binary_hinge_block(const floating* s, const int8_t* y, const floating* w,
                                      floating delta, bint squared, floating gs, floating* g,
                                      floating* lo, Py_ssize_t n) noexcept nogil:
    """Σ_j w_j L_j of the binary hinge (fl_binary_hinge_f32), labels as int8 signs; w, g, lo may be NULL."""
    if floating is float:
        return fl_binary_hinge_f32(s, y, w, delta, squared, gs, g, lo, n)
    else:
        return fl_binary_hinge_f64(s, y, w, delta, squared, gs, g, lo, n)


cdef inline double row_sum_nonneg(const floating* t, Py_ssize_t n, int* bad) noexcept nogil:
    """Σ_j t[j] in double; sets bad[0] = 1 if some t[j] is negative or NaN."""
    if floating is float:
        return fl_row_sum_nonneg_f32(t, n, bad)
    else:
        return fl_row_sum_nonneg_f64(t, n, bad)


cdef inline double row_soft(const floating* s, const floating* t, const floating* cw,
                            floating alpha, floating beta, floating shift, double* mass,
                            Py_ssize_t n) noexcept nogil:
    """Σ_j a_j (s_j - shift), a_j = cw_j (α t_j + β), terms with a_j = 0 counting 0; mass = Σ a_j."""
    if floating is float:
        return fl_row_soft_f32(s, t, cw, alpha, beta, shift, mass, n)
    else:
        return fl_row_soft_f64(s, t, cw, alpha, beta, shift, mass, n)


cdef inline void row_soft_grad(floating* g, const floating* t, const floating* cw,
                               floating gamma, floating alpha, floating beta,
                               Py_ssize_t n) noexcept nogil:
    """g_j = g_j γ - cw_j (α t_j + β)."""
    if floating is float:
        fl_row_soft_grad_f32(g, t, cw, gamma, alpha, beta, n)
    else:
        fl_row_soft_grad_f64(g, t, cw, gamma, alpha, beta, n)


cdef inline Py_ssize_t row_argmax_excl(const floating* s, Py_ssize_t n, Py_ssize_t y,
                                       int* has_nan) noexcept nogil:
    """Lowest index of max_{j≠y} s_j (-1 if none exceeds -inf); has_nan[0] = 1 on a NaN."""
    if floating is float:
        return fl_row_argmax_excl_f32(s, n, y, has_nan)
    else:
        return fl_row_argmax_excl_f64(s, n, y, has_nan)
