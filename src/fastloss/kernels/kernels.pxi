# The kernels, compiled once per instruction set.
#
# _kernels_baseline.pyx, _kernels_avx2.pyx and _kernels_avx512.pyx each
# include this file and nothing else; setup.py compiles them with different
# -march flags and fastloss._dispatch imports the one build the CPU runs best.
#
# The entries here (a def function per public function, its options as
# keyword arguments) take C-contiguous arrays already checked by the Python
# wrappers (losses.py, binary.py, optim.py), or checked in C by the fast
# entries of fastpath.pxi.  They check what only the data can tell (labels,
# targets), total the weights, split the rows over threads (prange, with the
# count from the one thread policy of fastloss._threads) and call the loops
# and row primitives of ../simd/*.h.  Every loss entry returns
# ``(bad_index, loss)``: bad_index >= 0 means the input at that index was
# rejected and nothing was written (the wrapper raises the error).

from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t
from libc.string cimport memset

from fastloss._threads cimport (ADAPTIVE_PARALLEL_MIN, PARALLEL_MIN, SGD_PARALLEL_MIN,
                                TRAIN_PARALLEL_MIN, threads_for)

cdef extern from *:
    """
    #ifndef FL_BUILD_CFLAGS
    #define FL_BUILD_CFLAGS ""
    #endif
    #ifndef FL_BUILD_DEBUG
    #define FL_BUILD_DEBUG 0
    #endif
    #define FL_STR2(x) #x
    #define FL_STR(x) FL_STR2(x)
    #if defined(__clang__)
    #define FL_COMPILER "clang " __clang_version__
    #elif defined(__GNUC__)
    #define FL_COMPILER "gcc " __VERSION__
    #elif defined(_MSC_VER)
    #define FL_COMPILER "msvc " FL_STR(_MSC_VER)
    #else
    #define FL_COMPILER "unknown"
    #endif
    #if defined(__AVX512F__)
    #define FL_VECTOR_BITS 512
    #elif defined(__AVX__)
    #define FL_VECTOR_BITS 256
    #else
    #define FL_VECTOR_BITS 128
    #endif
    """
    const char* FL_BUILD_CFLAGS
    const char* FL_COMPILER
    int FL_BUILD_DEBUG
    int FL_VECTOR_BITS

cdef extern from "_threads.h":
    int FL_OPENMP


def build_info():
    """How this kernel build was compiled: compiler, flags, vector width, debug checks, OpenMP."""
    return {
        "compiler": FL_COMPILER.decode("utf-8", "replace"),
        "cflags": FL_BUILD_CFLAGS.decode("utf-8", "replace"),
        "vector_bits": FL_VECTOR_BITS,
        "debug_checks": bool(FL_BUILD_DEBUG),
        "openmp": bool(FL_OPENMP),
    }


# ---- the contract shared by the entries -------------------------------------------

cdef extern from "simd/call.h":
    ctypedef struct fl_mc_call:
        const void* scores
        void* grad
        void* loss_out
        const void* y
        int y64
        Py_ssize_t n
        Py_ssize_t c
        const double* cw
        const double* sw
        double scale
        int use_ignore
        long long ignore_index
        double eps
        double wc_total
        const void* perm
        double margin
        int squared
    long long FL_NO_LABEL
    Py_ssize_t fl_label_at(const void* y, int y64, Py_ssize_t i) noexcept nogil
    Py_ssize_t fl_check_labels(const fl_mc_call* a, double* denom) noexcept nogil

ctypedef fused label_t:
    int32_t
    int64_t

# The reduction codes: the entries take the strings, as the public functions do.
cdef enum Reduction:
    REDUCTION_NONE = 0
    REDUCTION_SUM = 1
    REDUCTION_MEAN = 2


cdef inline int reduction_of(object reduction) noexcept:
    """The code of a reduction string, or -1 for anything else."""
    if type(reduction) is not str:
        return -1
    if reduction == "mean":
        return REDUCTION_MEAN
    if reduction == "sum":
        return REDUCTION_SUM
    if reduction == "none":
        return REDUCTION_NONE
    return -1


cdef int reduction_code(object reduction) except -1:
    cdef int code = reduction_of(reduction)
    if code < 0:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return code


cdef inline void mc_call_init(fl_mc_call* a) noexcept nogil:
    """Every field zero (NULL), the scale 1, no label ignored."""
    memset(a, 0, sizeof(a[0]))
    a.scale = 1.0
    a.ignore_index = FL_NO_LABEL


cdef fl_mc_call mc_call(Py_ssize_t n, Py_ssize_t c, const void* y, bint y64,
                        const double[::1] class_weight, const double[::1] sample_weight,
                        object ignore_index):
    """A multiclass call with its labels and weights; the rest as mc_call_init leaves it."""
    cdef fl_mc_call a
    mc_call_init(&a)
    a.n = n
    a.c = c
    a.y = y
    a.y64 = y64
    if class_weight is not None:
        a.cw = &class_weight[0]
    if sample_weight is not None:
        a.sw = &sample_weight[0]
    if ignore_index is not None:
        a.use_ignore = True
        a.ignore_index = ignore_index
    return a


cdef inline double sum_f64(const double* x, Py_ssize_t n) noexcept nogil:
    """Σ_j x[j] in 16 independent partial sums (so gcc vectorises it)."""
    cdef double acc[16]
    cdef Py_ssize_t b, k, nv = n - n % 16
    cdef double total = 0.0
    for k in range(16):
        acc[k] = 0.0
    for b in range(nv // 16):
        for k in range(16):
            acc[k] += x[b * 16 + k]
    for k in range(16):
        total += acc[k]
    for b in range(nv, n):
        total += x[b]
    return total


cdef inline Py_ssize_t static_lo(Py_ssize_t n, int nt, int t) noexcept nogil:
    """Where thread ``t`` of ``nt`` starts in ``range(n)`` under OpenMP's static
    schedule (libgomp's split: the first ``n % nt`` threads take one more), so that
    a loop run as one range a thread sums what ``prange(n)`` would, in its order."""
    return t * (n // nt) + min(t, n % nt)


cdef inline void zero(floating* x, Py_ssize_t n) noexcept nogil:
    """x[:n] = 0 (a mean over zero total weight has a zero gradient)."""
    memset(x, 0, n * sizeof(floating))


include "softmax.pxi"
include "hinge.pxi"
include "binary.pxi"
include "sgd.pxi"
include "fastpath.pxi"
include "train.pxi"
include "sparse.pxi"
include "adaptive.pxi"
include "distance.pxi"
include "xla.pxi"


def _report_keyword_defaults():
    """Cython (3.0-3.3) reports a fused function's keyword-only defaults as
    positional ones in its ``__defaults__``; its specialisations have them
    right.  Copy theirs, for inspect.signature and the stubs' check: the
    values calls use are not affected (Cython says so in a RuntimeWarning)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for f in (softmax_cross_entropy, softmax_cross_entropy_soft, multiclass_hinge,
                  binary_hinge, sigmoid_cross_entropy, sgd_update, train_epoch, distance,
                  sparse_train_epoch):
            f.__defaults__ = None
            f.__kwdefaults__ = next(iter(f.__signatures__.values())).__kwdefaults__


_report_keyword_defaults()
