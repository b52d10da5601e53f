# The fused loss kernels, compiled once per instruction set.
#
# _kernels_baseline.pyx, _kernels_avx2.pyx and _kernels_avx512.pyx each
# include this file and nothing else; setup.py compiles them with different
# -march flags and _dispatch.py imports the best one the CPU supports.  Kernels
# take C-contiguous arrays validated by the Python wrappers (losses.py,
# binary.py, optim.py), or checked in C by the fast entries of _fastpath.pxi.

from libc.stdint cimport int32_t, int64_t

include "_rowops.pxi"

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
    int fl_omp_max_threads() noexcept nogil


def build_info():
    """How this kernel build was compiled: compiler, flags, vector width, debug checks, OpenMP."""
    return {
        "compiler": FL_COMPILER.decode("utf-8", "replace"),
        "cflags": FL_BUILD_CFLAGS.decode("utf-8", "replace"),
        "vector_bits": FL_VECTOR_BITS,
        "debug_checks": bool(FL_BUILD_DEBUG),
        "openmp": bool(FL_OPENMP),
    }


def omp_max_threads():
    """OpenMP's omp_get_max_threads() (1 without OpenMP): follows OMP_NUM_THREADS
    and omp_set_num_threads, which threadpoolctl's threadpool_limits calls."""
    return fl_omp_max_threads()

ctypedef fused label_t:
    int32_t
    int64_t

cdef enum:
    REDUCTION_NONE = 0
    REDUCTION_SUM = 1
    REDUCTION_MEAN = 2


cdef Py_ssize_t check_labels(const label_t* y, Py_ssize_t n, Py_ssize_t c, bint use_ignore,
                             long long ignore_index, const double* cw, const double* sw,
                             double* denom) noexcept nogil:
    """Check every label and total the row weights w_i = cw[y_i] · sw_i.

    Returns the index of the first label outside [0, c) that is not
    ``ignore_index``, or -1; on -1, ``denom[0]`` is Σ w_i over the rows not
    ignored.  Run before any output is written, so a bad label changes nothing.
    """
    cdef Py_ssize_t i
    cdef double total = 0.0, w
    cdef long long yi
    for i in range(n):
        yi = y[i]
        if use_ignore and yi == ignore_index:
            continue
        if yi < 0 or yi >= c:
            return i
        w = cw[yi] if cw != NULL else 1.0
        if sw != NULL:
            w *= sw[i]
        total += w
    denom[0] = total
    return -1


include "_softmax.pxi"
include "_hinge.pxi"
include "_binary.pxi"
include "_sgd.pxi"
include "_fastpath.pxi"
