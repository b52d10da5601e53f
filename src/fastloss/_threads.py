"""How many OpenMP threads the kernels use: ``fl.set_num_threads``, ``fl.get_num_threads``, ``fl.threads``.

The kernels split rows over OpenMP threads (``prange``, static schedule) when
the build has OpenMP (``fl.show_config()`` tells) and the problem is large
enough: below ``PARALLEL_MIN_ELEMENTS`` elements a call stays on one thread,
where starting a thread team would cost more than it saves.  Each row is
computed by one thread exactly as on one thread, so per-row losses and
gradients do not depend on the thread count; a reduced loss (a sum over rows)
may differ in its last bits.

The default thread count is OpenMP's (``omp_get_max_threads()``): it follows
``OMP_NUM_THREADS`` and threadpoolctl's ``threadpool_limits``.
``set_num_threads(n)`` overrides it for the whole process until
``set_num_threads(None)``.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Iterator

from . import _dispatch

#: Problems smaller than this many elements (rows x classes) run on one thread: on the
#: 2-core development machine 2 threads were 1.1-1.5x faster from 4096 elements up.
PARALLEL_MIN_ELEMENTS = 1 << 14
#: sgd_update does little work per element (it is memory-bound): it needs more.
SGD_MIN_ELEMENTS = 1 << 17

_OPENMP: bool = bool(_dispatch.kernels.build_info()["openmp"])
_omp_max_threads = _dispatch.kernels.omp_max_threads
_requested: int | None = None


def _check(n: object) -> int | None:
    if n is None:
        return None
    if isinstance(n, bool):
        raise TypeError(f"n must be a positive int or None, got {n!r}")
    try:
        value = operator.index(n)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"n must be a positive int or None, got {n!r}") from None
    if value < 0:
        raise ValueError(f"n must be >= 1 (or 0/None for the default), got {value}")
    return value or None


def set_num_threads(n: int | None) -> None:
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
    _push()


def get_num_threads() -> int:
    """The number of threads a large enough kernel call uses (1 without OpenMP)."""
    if not _OPENMP:
        return 1
    if _requested is not None:
        return _requested
    return int(_omp_max_threads())


@contextlib.contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Context manager: ``set_num_threads(n)`` inside the block, the previous setting after.

    >>> import fastloss as fl
    >>> with fl.threads(1):
    ...     fl.get_num_threads()
    1
    """
    global _requested
    value = _check(n)
    previous = _requested
    _requested = value
    _push()
    try:
        yield
    finally:
        _requested = previous
        _push()


def _push() -> None:
    """Tell the kernels' fast entries (_fastpath.pxi), which choose threads in C, the policy.

    Every kernel build imported so far is told, not only the one in use, so a
    build loaded by name (the tests do) follows the same policy.
    """
    for module in _dispatch.loaded:
        module.set_thread_config(_requested or 0, PARALLEL_MIN_ELEMENTS, SGD_MIN_ELEMENTS)


_push()


def for_size(elements: int, minimum: int = PARALLEL_MIN_ELEMENTS) -> int:
    """The thread count for a kernel call over ``elements`` elements (1 below ``minimum``)."""
    if elements < minimum or not _OPENMP:
        return 1
    if _requested is not None:
        return _requested
    return int(_omp_max_threads())
