# Softmax-family kernels: softmax, log_softmax, softmax_cross_entropy.
#
# Included by _kernels.pxi (once per instruction-set build).  The public
# wrappers with their validation and docstrings are in losses.py; the NumPy
# twins are in reference.py.

from cython.parallel cimport prange
from libc.math cimport fabs, log, log1p
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy


cdef inline void row_exp_sums(const floating* s, floating m, floating* g, Py_ssize_t c,
                              double* total, double* total_m1) noexcept nogil:
    """g[j] = exp(s[j] - m) (g may be s or NULL); *total = Σ_j, *total_m1 = Σ_j - 1 (float64).

    float64 sums the terms equal to 1 (the row's maxima) apart from the others,
    for log1p: see fl_row_exp_sum_split_f64.  The C primitives are called
    directly, not through the fused wrappers of _rowops.pxi, so that they
    inline into the loops of sce_block and log_softmax and their vector
    constants are loaded once.
    """
    cdef double ones, rest
    if floating is float:
        total[0] = fl_row_exp_sum_f32(s, m, g, c)
    else:
        ones = fl_row_exp_sum_split_f64(s, m, g, c, &rest)
        total[0] = ones + rest
        total_m1[0] = (ones - 1.0) + rest


def softmax(const floating[:, ::1] scores, floating[:, ::1] out, int num_threads=1):
    """out = softmax(scores) row-wise; ``out`` may be ``scores`` itself.

    Rows are split over ``num_threads`` OpenMP threads (static schedule).
    """
    cdef Py_ssize_t n = scores.shape[0], c = scores.shape[1], i
    cdef floating m
    cdef double total
    cdef int nt = num_threads if num_threads > 1 else 1
    if n == 0 or c == 0:
        return
    for i in prange(n, nogil=True, schedule="static", num_threads=nt, use_threads_if=nt > 1):
        m = row_max(&scores[i, 0], c)
        total = row_exp_sum_store(&scores[i, 0], m, &out[i, 0], c)
        row_affine(&out[i, 0], <floating>(1.0 / total), 0, &out[i, 0], c)


def log_softmax(const floating[:, ::1] scores, floating[:, ::1] out, int num_threads=1):
    """out = log_softmax(scores) row-wise, as (s - max) - log Σ exp(s - max).

    Rows are split over ``num_threads`` OpenMP threads (static schedule).
    """
    cdef Py_ssize_t n = scores.shape[0], c = scores.shape[1], i
    cdef floating m, log_total
    cdef double total, total_m1
    cdef const floating* s
    cdef floating* o
    cdef int nt = num_threads if num_threads > 1 else 1
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


cdef inline void sce_row_grad(const floating* e, floating* g, Py_ssize_t c, Py_ssize_t yi,
                              double total, double cwy, double gs, double eps, double wc_total,
                              const double* cw) noexcept nogil:
    """A row's gradient from its exps e (e may be g) and their sum ``total``:

    d/ds_j = gs [((1-ε) cw_y + ε W_c / C) e_j / total - (1-ε) cw_y [j=y] - ε/C cw_j].
    (fl_rounded: the same rounding in every compiled copy, see _simd_math.h.)
    """
    cdef Py_ssize_t k
    cdef floating smooth_grad
    row_affine(e, <floating>(gs * (fl_rounded((1.0 - eps) * cwy) + eps * wc_total / c) / total),
               0, g, c)
    g[yi] -= <floating>fl_rounded(gs * (1.0 - eps) * cwy)
    if eps > 0.0:
        if cw == NULL:
            smooth_grad = <floating>(gs * eps / c)
            for k in range(c):
                g[k] -= smooth_grad
        else:
            for k in range(c):
                g[k] -= <floating>(gs * eps / c * cw[k])


cdef inline void sce_label_row_done(const floating* scores, const label_t* y, floating* grad,
                                    floating* tmp, bint in_place, Py_ssize_t i, Py_ssize_t r,
                                    Py_ssize_t c, const double* cw, const double* sw, double eps,
                                    double wc_total, double scale, double* sums, double* sums_m1,
                                    floating* maxes, double* bases) noexcept nogil:
    """sce_block, label shift: row i (r in the block) after its exps and sums[r].

    A sum that is not finite or too large is redone with the max shift; then
    the row's gradient, while it is in cache (it does not need the log); in
    place, from the row buffer ``tmp``.
    """
    cdef const floating* s = scores + i * c
    cdef floating* g = grad + i * c if grad != NULL else NULL
    cdef Py_ssize_t yi = <Py_ssize_t>y[i]
    cdef floating sy = s[yi]
    cdef bint finite
    # not +inf (an exp overflowed, an infinite score), not NaN, and not
    # so large that the gradient's factor 1/sum would near the end of
    # the normal range for a small weight (the max shift keeps sum <= C)
    if floating is float:
        finite = sums[r] <= LABEL_SHIFT_MAX_SUM_F32
    else:
        finite = sums[r] <= LABEL_SHIFT_MAX_SUM_F64
    maxes[r] = sy if finite else row_max(s, c)
    bases[r] = <double>maxes[r] - sy
    # the scores row is read up to here: g may overwrite it
    if not finite:
        row_exp_sums(s, maxes[r], g, c, &sums[r], &sums_m1[r])
    if g != NULL:
        sce_row_grad(tmp if in_place and finite else g, g, c, yi, sums[r],
                     cw[yi] if cw != NULL else 1.0, scale * (sw[i] if sw != NULL else 1.0), eps,
                     wc_total, cw)


cdef double sce_block(const floating* scores, const label_t* y, floating* grad,
                      floating* loss_out, Py_ssize_t i0, Py_ssize_t nb, Py_ssize_t c,
                      const double* cw, const double* sw, double eps, double wc_total,
                      bint use_ignore, long long ignore_index, double scale) noexcept nogil:
    """Loss and gradient of rows i0 .. i0+nb-1 (nb <= ROW_BLOCK); returns their loss sum.

    A function of its own so that its arrays are private to the calling thread
    (Cython shares the C arrays of a function across a ``prange``).  Each row
    goes through exp-and-sum (exp stored into the gradient row) and then, while
    it is in cache, its gradient, which needs the sum but not its log (with the
    label shift, out of place, after the next row's exps: see below); then
    the block's logs in one vector call (a libm log per row costs more than a
    short row) and each row's loss.  ``grad`` and ``loss_out`` may be NULL.

    A row's gradient waits on a long chain (exps, sum, its reduction, the
    factor's division); issued right after it, it leaves the processor little
    independent work in reach (less still, presumably, when another hardware
    thread shares the core's out-of-order window).  The next row's exps in between
    took float32 4096x100 from 1.19-1.24x to 1.14-1.18x np.exp (float64
    1.33-1.38x to 1.28-1.37x) in interleaved runs on an AVX-512 Xeon; a lag of
    two rows gained nothing more.

    Without label smoothing the shift of exp(s - m) is the label's score,
    m = s_y, not the row's max: softmax and its loss are the same for any
    shift, and s_y costs no pass over the row.  The label's term is then
    exactly 1 and the sum 1 + Σ_{j≠y}, summed as accurately as with the max
    shift (fl_row_exp_sum_label_f32, fl_row_exp_sum_split_label_f64).  A row
    with a sum above LABEL_SHIFT_MAX_SUM_F32/F64 = 2^64 / 2^512 (a score more
    than ~44 / ~355 above s_y), or not finite (an infinite or NaN score), is
    done again with the max shift: the gradient's factor w/sum stays far from
    underflow either way.  In place (``grad`` is ``scores``) the
    exps go to a row buffer first, so that such a redo still reads the
    scores, and the gradient is scaled from it into place; if that buffer
    cannot be had (a row wider than INPLACE_ROW_MAX and no memory), every row
    takes the max shift, with the gradient scaled at the end.  So does label
    smoothing, whose Σ_k cw_k (s_k - m) would cancel against W log Σ with
    any other shift than the max.
    """
    cdef double sums[ROW_BLOCK]
    cdef double sums_m1[ROW_BLOCK]
    cdef double logs[ROW_BLOCK]
    cdef double bases[ROW_BLOCK]
    cdef double shifts[ROW_BLOCK]
    cdef floating maxes[ROW_BLOCK]
    cdef floating rowbuf[INPLACE_ROW_MAX]
    cdef floating* tmp = NULL
    cdef bint smooth = eps > 0.0
    cdef bint in_place = grad != NULL and <const floating*>grad == scores
    cdef bint by_label = not smooth
    cdef bint lag
    cdef double total = 0.0, cwy, swi, row_loss, rest, ones
    cdef Py_ssize_t i, r, prev
    cdef const floating* s
    cdef floating* g
    if floating is float and cw == NULL and sw == NULL and not smooth and not use_ignore \
            and not in_place:
        # float32's plain case, without the per-row handling of the options:
        # the same operations in C (fl_sce_plain_block_f32), the same results,
        # 4-10 % faster at 4096x100.  (A float64 twin measured 3-9 % slower
        # than this function's own loop, so float64 stays here.)
        # (label_t is int32_t or int64_t: the C side reads int32 unless told int64)
        return fl_sce_plain_block_f32(scores, <const void*>y, label_t is int64_t, grad,
                                      loss_out, i0, nb, c, scale, LABEL_SHIFT_MAX_SUM_F32)
    for r in range(ROW_BLOCK):
        sums[r] = 1.0
        sums_m1[r] = 0.0
    if by_label and in_place:
        if c <= INPLACE_ROW_MAX:
            tmp = &rowbuf[0]
        else:
            tmp = <floating*>malloc(c * sizeof(floating))
        by_label = tmp != NULL
    if by_label:
        # Out of place, a row's check and gradient (which wait on its whole
        # exp-and-sum) come after the next row's exps, so that independent
        # work sits between them in program order.  In place, the row buffer
        # is reused by the next row: no lag.
        lag = not in_place
        prev = -1
        for r in range(nb):
            i = i0 + r
            if use_ignore and y[i] == ignore_index:
                continue
            s = scores + i * c
            g = grad + i * c if grad != NULL else NULL
            if floating is float:
                sums[r] = fl_row_exp_sum_label_f32(s, <Py_ssize_t>y[i], tmp if in_place else g, c)
            else:
                ones = fl_row_exp_sum_split_label_f64(s, <Py_ssize_t>y[i], tmp if in_place else g,
                                                      c, &rest)
                sums[r] = ones + rest
                sums_m1[r] = (ones - 1.0) + rest
            if not lag:
                sce_label_row_done(scores, y, grad, tmp, in_place, i, r, c, cw, sw, eps, wc_total,
                                   scale, sums, sums_m1, maxes, bases)
                continue
            if prev >= 0:
                sce_label_row_done(scores, y, grad, tmp, in_place, i0 + prev, prev, c, cw, sw,
                                   eps, wc_total, scale, sums, sums_m1, maxes, bases)
            prev = r
        if prev >= 0:
            sce_label_row_done(scores, y, grad, tmp, in_place, i0 + prev, prev, c, cw, sw, eps,
                               wc_total, scale, sums, sums_m1, maxes, bases)
        if tmp != NULL and tmp != &rowbuf[0]:
            free(tmp)
    else:
        # Everything read from a scores row is read before its gradient row
        # is written.
        for r in range(nb):
            i = i0 + r
            if use_ignore and y[i] == ignore_index:
                continue
            s = scores + i * c
            maxes[r] = row_max(s, c)
            bases[r] = <double>maxes[r] - <double>s[<Py_ssize_t>y[i]]
            if smooth:
                shifts[r] = row_shifted_sum(s, <double>maxes[r], cw, c)
            row_exp_sums(s, maxes[r], grad + i * c if grad != NULL else NULL, c, &sums[r],
                         &sums_m1[r])
    if floating is float:
        fl_log8_f64(sums, logs)
    else:
        fl_log1p8_f64(sums_m1, logs)
    for r in range(nb):
        i = i0 + r
        if use_ignore and y[i] == ignore_index:
            if loss_out != NULL:
                loss_out[i] = 0
            continue
        cwy = cw[y[i]] if cw != NULL else 1.0
        swi = sw[i] if sw != NULL else 1.0
        # -log p_y = log Σ exp(s - m) + m - s_y
        row_loss = (1.0 - eps) * cwy * (logs[r] + bases[r])
        if smooth:
            # Σ_k cw_k (-log p_k) = W_c · log Σ exp(s - m) - Σ_k cw_k (s_k - m)
            # (fl_rounded: the same rounding in every compiled copy, see _simd_math.h)
            row_loss = fl_rounded(row_loss) + fl_rounded(
                eps / c * (fl_rounded(wc_total * logs[r]) - shifts[r]))
        row_loss *= swi
        total += row_loss
        if loss_out != NULL:
            loss_out[i] = <floating>row_loss
    if grad == NULL:
        return total
    for r in range(nb):
        i = i0 + r
        g = grad + i * c
        if use_ignore and y[i] == ignore_index:
            row_fill(g, <floating>0, c)
        elif not by_label:      # (the label shift did the gradient with the exps)
            sce_row_grad(g, g, c, <Py_ssize_t>y[i], sums[r], cw[y[i]] if cw != NULL else 1.0,
                         scale * (sw[i] if sw != NULL else 1.0), eps, wc_total, cw)
    return total


cdef double sce_rowblock(const floating* scores, const label_t* y, floating* grad,
                         floating* loss_out, Py_ssize_t i0, Py_ssize_t c, const void* perm,
                         const double* cw, const double* sw, bint use_ignore,
                         long long ignore_index, double scale) noexcept nogil:
    """Loss and gradient of rows i0 .. i0+L-1 together, L = FL_ROWS_F32/F64; returns their loss sum.

    The block path for few classes (c <= FL_ROWBLOCK_MAX_C), without label
    smoothing: max, exp and sum vectorised across the L rows by
    fl_rows_exp_sum_* (see _simd_rowblock.h), the L logs in vector calls, the
    loss per row, then the gradient scaled by fl_rows_scale_* and the label
    terms subtracted.  The same per-row formulas as sce_block.  ``grad`` and
    ``loss_out`` may be NULL; ``grad`` may be ``scores``.
    """
    cdef double sums[16]
    cdef double sums_m1[16]
    cdef double logs[16]
    cdef double sy[16]
    cdef double label_grad[16]
    cdef floating maxes[16]
    cdef floating factors[16]
    cdef floating scratch[16 * FL_ROWBLOCK_MAX_C]      # L x C, when there is no gradient
    cdef Py_ssize_t rows = FL_ROWS_F32 if floating is float else FL_ROWS_F64
    cdef Py_ssize_t r, i, yi
    cdef const floating* s = scores + i0 * c
    cdef floating* g = grad + i0 * c if grad != NULL else scratch
    cdef double total = 0.0, cwy, swi, row_loss, gs
    for r in range(16):
        sums[r] = 1.0
        sums_m1[r] = 0.0
    # s[y] before the block's exponentials overwrite it (grad may alias scores)
    for r in range(rows):
        if use_ignore and y[i0 + r] == ignore_index:
            sy[r] = 0.0
        else:
            sy[r] = s[r * c + <Py_ssize_t>y[i0 + r]]
    if floating is float:
        fl_rows_exp_sum_f32(s, c, <const int32_t*>perm, g, maxes, sums)
    else:
        fl_rows_exp_sum_f64(s, c, <const int64_t*>perm, g, maxes, sums, sums_m1)
    if floating is float:
        fl_log8_f64(sums, logs)
        if rows > 8:
            fl_log8_f64(&sums[8], &logs[8])
    else:
        fl_log1p8_f64(sums_m1, logs)    # float64: log1p of the sum less 1, see sce_block
    for r in range(rows):
        i = i0 + r
        if use_ignore and y[i] == ignore_index:
            factors[r] = 0
            label_grad[r] = 0.0
            if loss_out != NULL:
                loss_out[i] = 0
            continue
        yi = <Py_ssize_t>y[i]
        cwy = cw[yi] if cw != NULL else 1.0
        swi = sw[i] if sw != NULL else 1.0
        # -log p_y = log Σ exp(s - m) + m - s_y
        row_loss = cwy * (logs[r] + (<double>maxes[r] - sy[r])) * swi
        total += row_loss
        if loss_out != NULL:
            loss_out[i] = <floating>row_loss
        gs = scale * swi
        factors[r] = <floating>(gs * cwy / sums[r])
        label_grad[r] = gs * cwy
    if grad != NULL:
        if floating is float:
            fl_rows_scale_f32(g, c, <const int32_t*>perm, factors)
        else:
            fl_rows_scale_f64(g, c, <const int64_t*>perm, factors)
        for r in range(rows):
            i = i0 + r
            if use_ignore and y[i] == ignore_index:
                row_fill(g + r * c, <floating>0, c)
            else:
                g[r * c + <Py_ssize_t>y[i]] -= <floating>label_grad[r]
    return total


cdef (Py_ssize_t, double) sce_core(const floating* sp, Py_ssize_t n, Py_ssize_t c,
                                   const label_t* yp, const double* cw, const double* sw,
                                   double label_smoothing, bint use_ignore,
                                   long long ignore_index, int reduction, floating* g,
                                   floating* lo, int nt) noexcept nogil:
    """softmax_cross_entropy on raw pointers (n >= 1): ``(bad_label_index, loss)``.

    Shared by the memoryview entry below and the fast entry of _fastpath.pxi.
    ``g`` and ``lo`` may be NULL; ``g`` may be ``sp``.
    """
    cdef double denom = 0.0, scale = 1.0, total = 0.0
    cdef double wc_total = <double>c
    cdef Py_ssize_t bad, blk, nblocks, rows, done = 0, i, k, small_max
    cdef int32_t perm32[16 * FL_ROWBLOCK_MAX_C]     # L x C, L <= 16 lanes
    cdef int64_t perm64[8 * FL_ROWBLOCK_MAX_C]
    cdef const void* perm = NULL

    if cw != NULL:
        wc_total = 0.0
        for k in range(c):
            wc_total += cw[k]
    bad = check_labels(yp, n, c, use_ignore, ignore_index, cw, sw, &denom)
    if bad >= 0:
        return bad, 0.0
    if reduction == REDUCTION_MEAN:
        if denom == 0.0:
            # Nothing to average over: loss 0, gradient 0 (not NaN).
            if g != NULL:
                for i in range(n):
                    row_fill(g + i * c, <floating>0, c)
            return -1, 0.0
        scale = 1.0 / denom

    # Few classes: blocks of `rows` rows vectorised across rows; the last
    # n % rows rows (or all of them otherwise) one at a time.
    rows = FL_ROWS_F32 if floating is float else FL_ROWS_F64
    small_max = SMALL_C_MAX_F32 if floating is float else SMALL_C_MAX_F64
    if (FL_ROWBLOCK_FAST and label_smoothing == 0.0 and c <= small_max
            and c <= FL_ROWBLOCK_MAX_C and n >= rows):
        done = n - n % rows
        if floating is float:
            fl_rows_perm_f32(c, perm32)
            perm = perm32
        else:
            fl_rows_perm_f64(c, perm64)
            perm = perm64
        if nt > 1:
            for blk in prange(done // rows, schedule="static", num_threads=nt):
                total += sce_rowblock(sp, yp, g, lo, blk * rows, c, perm, cw, sw,
                                      use_ignore, ignore_index, scale)
        else:
            for blk in range(done // rows):
                total += sce_rowblock(sp, yp, g, lo, blk * rows, c, perm, cw, sw,
                                      use_ignore, ignore_index, scale)
    nblocks = (n - done + ROW_BLOCK - 1) // ROW_BLOCK
    if nt > 1 and nblocks > 1:
        for blk in prange(nblocks, schedule="static", num_threads=nt):
            total += sce_block(sp, yp, g, lo, done + blk * ROW_BLOCK,
                               min(<Py_ssize_t>ROW_BLOCK, n - done - blk * ROW_BLOCK), c, cw,
                               sw, label_smoothing, wc_total, use_ignore, ignore_index, scale)
    else:
        for blk in range(nblocks):
            total += sce_block(sp, yp, g, lo, done + blk * ROW_BLOCK,
                               min(<Py_ssize_t>ROW_BLOCK, n - done - blk * ROW_BLOCK), c, cw,
                               sw, label_smoothing, wc_total, use_ignore, ignore_index, scale)
    return -1, total * scale


def softmax_cross_entropy(const floating[:, ::1] scores, const label_t[::1] y,
                          const double[::1] class_weight, const double[::1] sample_weight,
                          double label_smoothing, bint use_ignore, long long ignore_index,
                          int reduction, floating[:, ::1] grad, floating[::1] loss_out,
                          int num_threads=1):
    """Fused softmax cross-entropy loss and gradient, one pass group per row.

    Per row, while it is in cache: exp(s - s_y) into the gradient row and
    its sum, and the gradient scaled in place; then the loss.  A row whose
    sum exceeds 2^64 (float64: 2^512) or is not finite, and every row under label smoothing
    (with Σ cw_k (s_k - max)), takes the max shift instead (see sce_block).
    With at most SMALL_C_MAX_F32/F64 classes and no smoothing, blocks of rows
    are vectorised across rows instead (sce_rowblock).  Returns
    ``(bad_label_index, loss)``: a bad index >= 0 means a label outside [0, C)
    was found and nothing was written.  ``grad`` and ``loss_out`` may be None;
    ``grad`` may be ``scores`` itself.  Blocks of rows are split over
    ``num_threads`` OpenMP threads (static schedule); each row's results are
    the same for any thread count.
    """
    cdef Py_ssize_t n = scores.shape[0], c = scores.shape[1]
    cdef floating* g = NULL
    cdef floating* lo = NULL
    cdef const double* cw = NULL
    cdef const double* sw = NULL
    cdef (Py_ssize_t, double) result
    if n == 0:
        return -1, 0.0
    if class_weight is not None:
        cw = &class_weight[0]
    if sample_weight is not None:
        sw = &sample_weight[0]
    if grad is not None:
        g = &grad[0, 0]
    if loss_out is not None:
        lo = &loss_out[0]
    with nogil:
        result = sce_core(&scores[0, 0], n, c, &y[0], cw, sw, label_smoothing, use_ignore,
                          ignore_index, reduction, g, lo, num_threads if num_threads > 1 else 1)
    return result


def softmax_cross_entropy_soft(const floating[:, ::1] scores, const floating[:, ::1] targets,
                               const floating[::1] class_weight, const double[::1] sample_weight,
                               double label_smoothing, double tol, int reduction,
                               floating[:, ::1] grad, floating[::1] loss_out,
                               int num_threads=1):
    """Softmax cross-entropy with soft (probability) targets, fused per row.

    With a_k = cw_k ((1-ε) t_k + ε/C) and A = Σ_k a_k, the row loss is
    -Σ_k a_k log p_k = A log Σ exp(s - max) - Σ_k a_k (s_k - max), and its
    gradient A p_j - a_j.  A first pass checks that every target row is
    non-negative and sums to 1 within ``tol``; returns
    ``(bad_row, row_sum, loss)`` with bad_row >= 0 (nothing written) if not.
    ``grad`` and ``loss_out`` may be None; ``grad`` may be ``scores`` itself.
    Rows are split over ``num_threads`` OpenMP threads after the serial check.
    """
    cdef Py_ssize_t n = scores.shape[0], c = scores.shape[1], i
    cdef int nt = num_threads if num_threads > 1 else 1
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
        return -1, 0.0, 0.0
    with nogil:
        for i in range(n):
            tsum = row_sum_nonneg(&targets[i, 0], c, &negative)
            if negative or not (fabs(tsum - 1.0) <= tol):
                bad = i
                break
    if bad >= 0:
        return bad, tsum, 0.0
    if class_weight is not None:
        cw = &class_weight[0]
    if sample_weight is not None:
        sw = &sample_weight[0]
        with nogil:
            denom = sum_f64(sw, n)
    else:
        denom = <double>n
    if reduction == REDUCTION_MEAN:
        if denom == 0.0:
            if has_grad:
                with nogil:
                    for i in range(n):
                        row_fill(&grad[i, 0], <floating>0, c)
            return -1, 0.0, 0.0
        scale = 1.0 / denom

    if has_grad:
        G = &grad[0, 0]
    for i in prange(n, nogil=True, schedule="static", num_threads=nt, use_threads_if=nt > 1):
        s = &scores[i, 0]
        t = &targets[i, 0]
        swi = sw[i] if sw != NULL else 1.0
        m = row_max(s, c)
        # all reads of the scores row come before the gradient row is written
        mass = 0.0
        shifted = row_soft(s, t, cw, alpha, beta, m, &mass, c)
        g = G + i * c if has_grad else NULL
        if has_grad:
            sum_exp = row_exp_sum_store(s, m, g, c)
        else:
            sum_exp = row_exp_sum(s, m, c)
        row_loss = (mass * log(sum_exp) - shifted) * swi
        total += row_loss
        if has_loss_out:
            loss_out[i] = <floating>row_loss
        if has_grad:
            gs = scale * swi
            row_soft_grad(g, t, cw, <floating>(gs * mass / sum_exp), <floating>(gs * alpha),
                          <floating>(gs * beta), c)
    return -1, 0.0, total * scale
