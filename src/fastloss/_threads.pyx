# cython: language_level=3
"""How many OpenMP threads the kernels use: ``fl.set_num_threads``, ``fl.get_num_threads``, ``fl.threads``.

The one thread policy of fastloss.  Every kernel build ``cimport``\\s
:c:func:`threads_for` from here (declared in ``_threads.pxd``), so all of them,
and their fast entries, read the same setting.

The kernels split rows over OpenMP threads (``prange``, static schedule) when
the build has OpenMP (``fl.show_config()`` tells) and the problem is large
enough: below ``PARALLEL_MIN_ELEMENTS`` elements (``SGD_MIN_ELEMENTS`` for
``sgd_update``, which does little work per element, ``ADAPTIVE_MIN_ELEMENTS`` for
the adaptive optimizers) a call stays on one
thread, where starting a thread team would cost more than it saves.  Each row
is computed by one thread exactly as on one thread, so per-row losses and
gradients do not depend on the thread count; a reduced loss (a sum over rows)
may differ in its last bits.

The default thread count is OpenMP's (``omp_get_max_threads()``): it follows
``OMP_NUM_THREADS`` and threadpoolctl's ``threadpool_limits``.
``set_num_threads(n)`` overrides it for the whole process until
``set_num_threads(None)``.
"""

import operator

cdef extern from "_threads.h":
    int FL_OPENMP
    int fl_omp_max_threads() noexcept nogil

#: Problems smaller than this many elements (rows x classes) run on one thread.
PARALLEL_MIN_ELEMENTS = PARALLEL_MIN
#: The same for sgd_update.
SGD_MIN_ELEMENTS = SGD_PARALLEL_MIN
#: The same for the adaptive optimizers (adam_update, rmsprop_update, adagrad_update).
ADAPTIVE_MIN_ELEMENTS = ADAPTIVE_PARALLEL_MIN

# The policy's state: the threads asked for by set_num_threads (0: OpenMP's
# default), and whether the build has OpenMP (a test can pretend it has not).
cdef int _requested = 0
cdef bint _openmp = FL_OPENMP


cdef int threads_for(Py_ssize_t elements, Py_ssize_t minimum) noexcept nogil:
    """The thread count for a kernel call over ``elements`` elements (1 below ``minimum``)."""
    if elements < minimum or not _openmp:
        return 1
    if _requested > 0:
        return _requested
    return fl_omp_max_threads()


def for_size(elements, minimum=PARALLEL_MIN_ELEMENTS):
    """The thread count for a kernel call over ``elements`` elements (1 below ``minimum``)."""
    return threads_for(elements, minimum)


def openmp():
    """Whether the kernels were built with OpenMP."""
    return bool(FL_OPENMP)


def omp_max_threads():
    """OpenMP's omp_get_max_threads() (1 without OpenMP): follows OMP_NUM_THREADS
    and omp_set_num_threads, which threadpoolctl's threadpool_limits calls."""
    return fl_omp_max_threads()


def requested():
    """The count set by set_num_threads or a ``threads`` block, or None for the default."""
    return _requested or None


def _pretend_openmp(flag):
    """Behave as a build with (True) or without (False) OpenMP; returns the previous state.
    For the tests of the single-thread fallback."""
    global _openmp
    previous = bool(_openmp)
    _openmp = bool(flag) and FL_OPENMP
    return previous


def _check(n):
    if n is None:
        return 0
    if isinstance(n, bool):
        raise TypeError(f"n must be a positive int or None, got {n!r}")
    try:
        value = operator.index(n)
    except TypeError:
        raise TypeError(f"n must be a positive int or None, got {n!r}") from None
    if value < 0:
        raise ValueError(f"n must be >= 1 (or 0/None for the default), got {value}")
    if value > 1 << 30:
        raise ValueError(f"n must be at most 2**30, got {value}")
    return value


def set_num_threads(n):
    """Use ``n`` threads in the kernels from now on; ``None`` or 0 restores the default.

    The default is OpenMP's ``omp_get_max_threads()``, which follows
    ``OMP_NUM_THREADS`` and threadpoolctl's ``threadpool_limits``; a value set
    here takes precedence over both.  The setting is process-wide.  Without
    OpenMP (see ``fl.show_config()``) it is accepted and has no effect.

    >>> import fastloss as fl
    >>> fl.set_num_threads(1); fl.get_num_threads()
    1
    >>> fl.set_num_threads(None)
    """
    global _requested
    _requested = _check(n)


def get_num_threads():
    """The number of threads a large enough kernel call uses (1 without OpenMP)."""
    return threads_for(PARALLEL_MIN, PARALLEL_MIN)


class threads:
    """Context manager: ``set_num_threads(n)`` inside the block, the previous setting after.

    >>> import fastloss as fl
    >>> with fl.threads(1):
    ...     fl.get_num_threads()
    1
    """

    def __init__(self, n):
        self._n = n
        self._previous = []

    def __enter__(self):
        global _requested
        value = _check(self._n)
        self._previous.append(_requested)
        _requested = value
        return None

    def __exit__(self, *exc):
        global _requested
        _requested = self._previous.pop()
        return False
