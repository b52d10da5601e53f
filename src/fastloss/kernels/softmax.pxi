# Softmax family: softmax, log_softmax, softmax_cross_entropy (class indices or soft targets).
#
# Included by kernels.pxi.  The public wrappers, with their validation and
# docstrings, are in losses.py; the NumPy twins in reference.py.  The block
# loops of the cross-entropy are in ../simd/sce.h, the row primitives in
# ../simd/softmax.h, rowblock.h and soft.h.

from libc.math cimport INFINITY, fabs, log, log1p

cdef extern from "simd/sce.h":
    float fl_row_max_f32(const float* x, Py_ssize_t n) noexcept nogil
    double fl_row_max_f64(const double* x, Py_ssize_t n) noexcept nogil
    double fl_row_exp_sum_f32(const float* x, float shift, float* out, Py_ssize_t n) noexcept nogil
    double fl_row_exp_sum_f64(const double* x, double shift, double* out, Py_ssize_t n) noexcept nogil
    void fl_row_exp_sums_f32(const float* s, float m, Py_ssize_t y, float* g, Py_ssize_t c,
                             double* total, double* total_m1, int by_label) noexcept nogil
    void fl_row_exp_sums_f64(const double* s, double m, Py_ssize_t y, double* g, Py_ssize_t c,
                             double* total, double* total_m1, int by_label) noexcept nogil
    void fl_row_affine_f32(const float* x, float a, float b, float* out, Py_ssize_t n) noexcept nogil
    void fl_row_affine_f64(const double* x, double a, double b, double* out, Py_ssize_t n) noexcept nogil
    enum: FL_ROWBLOCK_MAX_C     # a compile-time constant: sizes the permutation tables
    enum: FL_SCE_ROW_BLOCK
    int FL_ROWS_F32
    int FL_ROWS_F64
    void fl_rows_perm_f32(Py_ssize_t c, int32_t* perm) noexcept nogil
    void fl_rows_perm_f64(Py_ssize_t c, int64_t* perm) noexcept nogil
    Py_ssize_t fl_sce_rowblock_rows_f32(const fl_mc_call* a, Py_ssize_t n) noexcept nogil
    Py_ssize_t fl_sce_rowblock_rows_f64(const fl_mc_call* a, Py_ssize_t n) noexcept nogil
    double fl_sce_rowblocks_f32(const fl_mc_call* a, Py_ssize_t b0, Py_ssize_t b1) noexcept nogil
    double fl_sce_rowblocks_f64(const fl_mc_call* a, Py_ssize_t b0, Py_ssize_t b1) noexcept nogil
    double fl_sce_block_f32(const fl_mc_call* a, Py_ssize_t i0, Py_ssize_t nb) noexcept nogil
    double fl_sce_block_f64(const fl_mc_call* a, Py_ssize_t i0, Py_ssize_t nb) noexcept nogil

cdef extern from "simd/soft.h":
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


# ---- the dtype's C primitive, picked at compile time ----------------------------------

cdef inline floating row_max(const floating* x, Py_ssize_t n) noexcept nogil:
    """max_j x[j] for n >= 1 (NaNs may be skipped; the next pass propagates them)."""
    if floating is float:
        return fl_row_max_f32(x, n)
    else:
        return fl_row_max_f64(x, n)


cdef inline double row_exp_sum(const floating* x, floating shift, floating* out,
                               Py_ssize_t n) noexcept nogil:
    """out[j] = exp(x[j] - shift) (out may be x, or NULL: nothing stored); returns Σ_j in double."""
    if floating is float:
        return fl_row_exp_sum_f32(x, shift, out, n)
    else:
        return fl_row_exp_sum_f64(x, shift, out, n)


cdef inline void row_exp_sums(const floating* s, floating m, floating* g, Py_ssize_t c,
                              double* total, double* total_m1) noexcept nogil:
    """g[j] = exp(s[j] - m) (g may be s or NULL); *total = Σ_j, *total_m1 = Σ_j - 1 (float64)."""
    if floating is float:
        fl_row_exp_sums_f32(s, m, 0, g, c, total, total_m1, 0)
    else:
        fl_row_exp_sums_f64(s, m, 0, g, c, total, total_m1, 0)


cdef inline void row_affine(const floating* x, floating a, floating b, floating* out,
                            Py_ssize_t n) noexcept nogil:
    """out[j] = x[j] * a + b; ``out`` may be ``x``."""
    if floating is float:
        fl_row_affine_f32(x, a, b, out, n)
    else:
        fl_row_affine_f64(x, a, b, out, n)


# ---- softmax, log_softmax ---------------------------------------------------------------

def softmax(const floating[:, ::1] scores, floating[:, ::1] out):
    """out = softmax(scores) row-wise; ``out`` may be ``scores`` itself.

    Rows are split over OpenMP threads (static schedule).
    """
    cdef Py_ssize_t n = scores.shape[0], c = scores.shape[1], i
    cdef floating m
    cdef double total
    cdef int nt = threads_for(n * c, PARALLEL_MIN)
    if n == 0 or c == 0:
        return
    for i in prange(n, nogil=True, schedule="static", num_threads=nt, use_threads_if=nt > 1):
        m = row_max(&scores[i, 0], c)
        total = row_exp_sum(&scores[i, 0], m, &out[i, 0], c)
        row_affine(&out[i, 0], <floating>(1.0 / total), 0, &out[i, 0], c)


def log_softmax(const floating[:, ::1] scores, floating[:, ::1] out):
    """out = log_softmax(scores) row-wise, as (s - max) - log Σ exp(s - max).

    Rows are split over OpenMP threads (static schedule).
    """
    cdef Py_ssize_t n = scores.shape[0], c = scores.shape[1], i
    cdef floating m, log_total
    cdef double total, total_m1
    cdef const floating* s
    cdef floating* o
    cdef int nt = threads_for(n * c, PARALLEL_MIN)
    if n == 0 or c == 0:
        return
    for i in prange(n, nogil=True, schedule="static", num_threads=nt, use_threads_if=nt > 1):
        s = &scores[i, 0]
        o = &out[i, 0]
        m = row_max(s, c)
        row_exp_sums(s, m, NULL, c, &total, &total_m1)
        if floating is float:
            log_total = <floating>log(total)
        else:
            # log1p of the sum less its terms equal to 1: exact for a dominant class
            log_total = log1p(total_m1)
        # (s - m) - log Σ: the shift by m is exact-ish, the log is small
        row_affine(s, 1, -m, o, c)
        row_affine(o, 1, -log_total, o, c)


# ---- softmax_cross_entropy with class indices ---------------------------------------------

cdef (Py_ssize_t, double) sce_run(fl_mc_call* a, const floating* scores, floating* grad,
                                  floating* loss_out, int reduction, int nt,
                                  bint divide_by_zero=False) noexcept nogil:
    """softmax_cross_entropy on the call ``a`` (n >= 1): ``(bad_label_index, loss)``.

    Shared by the entry below and the fast entry of fastpath.pxi.  Checks the labels and totals the weights before
    anything is written; then rows in blocks over ``nt`` threads: with few
    classes and no label smoothing blocks of rows vectorised across the rows
    (fl_sce_rowblocks_*), the rest (or all) in blocks of FL_SCE_ROW_BLOCK rows
    (fl_sce_block_*; see sce.h).  A mean over a total weight of 0 is 0 with a
    zero gradient, or with ``divide_by_zero`` the division done anyway (the
    scale +inf: 0/0 gives NaN, x/0 ±inf, as torch does).
    """
    cdef double denom = 0.0, total = 0.0
    cdef Py_ssize_t bad, blk, nblocks, rows, done = 0, k, i0
    cdef int t
    cdef Py_ssize_t n = a.n, c = a.c
    cdef int32_t perm32[16 * FL_ROWBLOCK_MAX_C]     # L x C, L <= 16 lanes
    cdef int64_t perm64[8 * FL_ROWBLOCK_MAX_C]
    a.scores = scores
    a.grad = grad
    a.loss_out = loss_out
    a.wc_total = <double>c
    if a.cw != NULL:
        a.wc_total = 0.0
        for k in range(c):
            a.wc_total += a.cw[k]
    bad = fl_check_labels(a, &denom)
    if bad >= 0:
        return bad, 0.0
    if reduction == REDUCTION_MEAN:
        if denom == 0.0 and divide_by_zero:
            a.scale = INFINITY
        elif denom == 0.0:
            # Nothing to average over: loss 0, gradient 0 (not NaN).
            if grad != NULL:
                zero(grad, n * c)
            return -1, 0.0
        else:
            a.scale = 1.0 / denom

    if floating is float:
        rows = FL_ROWS_F32
        done = fl_sce_rowblock_rows_f32(a, n)
        if done:
            fl_rows_perm_f32(c, perm32)
            a.perm = perm32
    else:
        rows = FL_ROWS_F64
        done = fl_sce_rowblock_rows_f64(a, n)
        if done:
            fl_rows_perm_f64(c, perm64)
            a.perm = perm64
    if done:
        # one range of row blocks a thread, split as OpenMP's static schedule
        # splits iterations (so a thread sums the same blocks in the same order)
        nblocks = done // rows
        if nt > 1:
            for t in prange(nt, schedule="static", num_threads=nt):
                if floating is float:
                    total += fl_sce_rowblocks_f32(a, static_lo(nblocks, nt, t),
                                                  static_lo(nblocks, nt, t + 1))
                else:
                    total += fl_sce_rowblocks_f64(a, static_lo(nblocks, nt, t),
                                                  static_lo(nblocks, nt, t + 1))
        else:
            if floating is float:
                total += fl_sce_rowblocks_f32(a, 0, nblocks)
            else:
                total += fl_sce_rowblocks_f64(a, 0, nblocks)
    nblocks = (n - done + FL_SCE_ROW_BLOCK - 1) // FL_SCE_ROW_BLOCK
    if nt > 1 and nblocks > 1:
        for blk in prange(nblocks, schedule="static", num_threads=nt):
            i0 = done + blk * FL_SCE_ROW_BLOCK
            if floating is float:
                total += fl_sce_block_f32(a, i0, min(<Py_ssize_t>FL_SCE_ROW_BLOCK, n - i0))
            else:
                total += fl_sce_block_f64(a, i0, min(<Py_ssize_t>FL_SCE_ROW_BLOCK, n - i0))
    else:
        for blk in range(nblocks):
            i0 = done + blk * FL_SCE_ROW_BLOCK
            if floating is float:
                total += fl_sce_block_f32(a, i0, min(<Py_ssize_t>FL_SCE_ROW_BLOCK, n - i0))
            else:
                total += fl_sce_block_f64(a, i0, min(<Py_ssize_t>FL_SCE_ROW_BLOCK, n - i0))
    return -1, total * a.scale


def softmax_cross_entropy(const floating[:, ::1] scores, const label_t[::1] y, *, reduction,
                          const double[::1] class_weight=None,
                          const double[::1] sample_weight=None, double label_smoothing=0.0,
                          ignore_index=None, floating[:, ::1] grad=None,
                          floating[::1] loss_out=None, bint divide_by_zero=False):
    """Fused softmax cross-entropy loss and gradient over rows of class-index labels.

    Returns ``(bad_label_index, loss)``: a bad index >= 0 means a label outside
    [0, C) (and not ``ignore_index``) was found there, and nothing was written.
    ``grad`` (the gradient) and ``loss_out`` (the per-row losses) may be None;
    ``grad`` may be ``scores`` itself.  Each row's results are the same for
    any thread count.  The weights may have any sign; ``divide_by_zero``: a
    mean over a total weight of 0 divides anyway (NaN or ±inf, torch's
    result) instead of giving 0.  See sce.h for the loops.
    """
    cdef Py_ssize_t n = scores.shape[0], c = scores.shape[1]
    cdef int red = reduction_code(reduction)
    cdef fl_mc_call a
    cdef (Py_ssize_t, double) result
    cdef floating* g = NULL
    cdef floating* lo = NULL
    if n == 0:
        return -1, 0.0
    a = mc_call(n, c, &y[0], label_t is int64_t, class_weight, sample_weight, ignore_index)
    a.eps = label_smoothing
    if grad is not None:
        g = &grad[0, 0]
    if loss_out is not None:
        lo = &loss_out[0]
    with nogil:
        result = sce_run(&a, &scores[0, 0], g, lo, red, threads_for(n * c, PARALLEL_MIN),
                         divide_by_zero)
    return result


# ---- softmax_cross_entropy with soft targets ------------------------------------------------

def softmax_cross_entropy_soft(const floating[:, ::1] scores, const floating[:, ::1] targets, *,
                               reduction, double tol, const floating[::1] class_weight=None,
                               const double[::1] sample_weight=None,
                               double label_smoothing=0.0, floating[:, ::1] grad=None,
                               floating[::1] loss_out=None, bint check_targets=True):
    """Softmax cross-entropy with soft (probability) targets, fused per row.

    With a_k = cw_k ((1-ε) t_k + ε/C) and A = Σ_k a_k, the row loss is
    -Σ_k a_k log p_k = A log Σ exp(s - max) - Σ_k a_k (s_k - max), and its
    gradient A p_j - a_j.  A first pass checks that every target row is
    non-negative and sums to 1 within ``tol``; returns ``(bad_row, row_sum)``
    with bad_row >= 0 (nothing written) if not, else ``(-1, loss)``.  With
    ``check_targets=False`` there is no such pass: the formula is applied to
    any targets and class weights (of any sign), as torch applies it.
    ``grad`` and ``loss_out`` may be None; ``grad`` may be ``scores`` itself.
    Rows are split over OpenMP threads after the serial check.
    """
    cdef Py_ssize_t n = scores.shape[0], c = scores.shape[1], i
    cdef int red = reduction_code(reduction)
    cdef int nt = threads_for(n * c, PARALLEL_MIN)
    cdef floating* G = NULL
    cdef const floating* cw = NULL
    cdef const double* sw = NULL
    cdef bint has_grad = grad is not None
    cdef bint has_loss_out = loss_out is not None
    cdef double denom, scale = 1.0, total = 0.0
    cdef double tsum = 0.0, mass, shifted, sum_exp, row_loss, swi, gs
    cdef Py_ssize_t bad = -1
    cdef int negative = 0
    cdef floating m
    cdef floating alpha = <floating>(1.0 - label_smoothing)
    cdef floating beta = <floating>(label_smoothing / c)
    cdef const floating* s
    cdef const floating* t
    cdef floating* g

    if n == 0:
        return -1, 0.0
    if check_targets:
        with nogil:
            for i in range(n):
                tsum = row_sum_nonneg(&targets[i, 0], c, &negative)
                if negative or not (fabs(tsum - 1.0) <= tol):
                    bad = i
                    break
        if bad >= 0:
            return bad, tsum
    if class_weight is not None:
        cw = &class_weight[0]
    if sample_weight is not None:
        sw = &sample_weight[0]
        with nogil:
            denom = sum_f64(sw, n)
    else:
        denom = <double>n
    if has_grad:
        G = &grad[0, 0]
    if red == REDUCTION_MEAN:
        if denom == 0.0:
            if has_grad:
                zero(G, n * c)
            return -1, 0.0
        scale = 1.0 / denom

    for i in prange(n, nogil=True, schedule="static", num_threads=nt, use_threads_if=nt > 1):
        s = &scores[i, 0]
        t = &targets[i, 0]
        swi = sw[i] if sw != NULL else 1.0
        m = row_max(s, c)
        # all reads of the scores row come before the gradient row is written
        mass = 0.0
        shifted = row_soft(s, t, cw, alpha, beta, m, &mass, c)
        g = G + i * c if has_grad else NULL
        sum_exp = row_exp_sum(s, m, g, c)
        row_loss = (mass * log(sum_exp) - shifted) * swi
        total += row_loss
        if has_loss_out:
            loss_out[i] = <floating>row_loss
        if has_grad:
            gs = scale * swi
            row_soft_grad(g, t, cw, <floating>(gs * mass / sum_exp), <floating>(gs * alpha),
                          <floating>(gs * beta), c)
    return -1, total * scale


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
