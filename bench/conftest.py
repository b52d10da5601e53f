"""Fixtures for the pytest-benchmark suite of fastloss.

Run with ``PYTHONPATH=src python -m pytest bench --benchmark-only`` (the
default ``testpaths`` only holds ``tests``, so ``bench`` must be named).

Every benchmark is one *case* -- (function, dtype, shape) -- and one
implementation; ``benchmark.group`` is the case, so each group of the report
puts side by side:

* ``fastloss``: the public function, writing into a preallocated ``out=``
  buffer (so that the kernel is measured, not the allocation of the result);
* ``reference``: its NumPy twin in :mod:`fastloss.reference`, called as a user
  would call it (allocations included);
* a *floor*: ``np.exp`` over the same array (softmax family) or ``np.copyto``
  into a preallocated array of the same shape (hinge) -- one pass that reads
  and writes every element, which the fused kernel cannot beat by much.  It
  tells how far from the memory/exp bound each implementation is.

Benchmarks are not tests: nothing here asserts anything about speed.  On a
shared machine compare the figures within a group (ratios), not across runs.
"""

import dataclasses
import functools

import numpy as np
import pytest

import fastloss

#: Shapes (N, C) and dtypes of every case.
SHAPES = ((128, 10), (4096, 10), (4096, 100), (1024, 1000))
DTYPES = ("float32", "float64")

# pytest-benchmark settings.  Rounds last >= 0.2 ms (the iterations per round
# are calibrated to that); each benchmark runs for ~max_time and at least
# min_rounds rounds.  The (1024, 1000) cases take milliseconds per call for
# the reference, so they get fewer rounds.  The whole suite (96 benchmarks)
# runs in well under 3 minutes.
_SETTINGS = dict(
    min_rounds=20,
    max_time=0.25,
    min_time=2e-4,
    warmup=True,
    warmup_iterations=20,
    disable_gc=True,
)
_LARGE_SETTINGS = dict(_SETTINGS, min_rounds=10)
_LARGE = 500_000  # elements from which a case counts as large


def _shape_param(shape):
    n, c = shape
    settings = _LARGE_SETTINGS if n * c >= _LARGE else _SETTINGS
    return pytest.param(shape, id=f"{n}x{c}", marks=pytest.mark.benchmark(**settings))


@pytest.fixture(params=DTYPES)
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture(params=[_shape_param(s) for s in SHAPES])
def shape(request):
    return request.param


@functools.lru_cache(maxsize=None)
def _inputs(shape, dtype_name, seed=0):
    """Scores ~ 3·N(0, 1) and labels uniform in [0, C), seeded; read-only, shared."""
    n, c = shape
    rng = np.random.default_rng(seed)
    scores = (3.0 * rng.standard_normal((n, c))).astype(dtype_name)
    y = rng.integers(0, c, size=n, dtype=np.int64)
    scores.flags.writeable = False
    y.flags.writeable = False
    return scores, y


@dataclasses.dataclass
class Case:
    """Inputs of one (dtype, shape) case and a fresh output buffer."""

    scores: np.ndarray
    y: np.ndarray
    out: np.ndarray  # preallocated, same dtype and shape as scores

    def group(self, function):
        """The pytest-benchmark group of ``function`` on this case."""
        n, c = self.scores.shape
        return f"{function} {self.scores.dtype.name} ({n}, {c})"


@pytest.fixture
def case(dtype, shape):
    scores, y = _inputs(shape, dtype.name)
    return Case(scores, y, np.empty_like(scores))


@pytest.fixture
def bench(benchmark, case):
    """``bench(function_name, impl, fn)``: benchmark ``fn()`` in the case's group.

    Records the case in ``extra_info`` (kept by ``--benchmark-json``).
    """

    def run(function, impl, fn):
        benchmark.group = case.group(function)
        benchmark.extra_info.update(
            function=function,
            impl=impl,
            dtype=case.scores.dtype.name,
            shape=list(case.scores.shape),
            kernel_isa=fastloss.kernel_isa(),
        )
        return benchmark(fn)

    return run


def pytest_report_header(config):
    return (
        f"fastloss {fastloss.__version__}, kernel ISA {fastloss.kernel_isa()}, "
        f"numpy {np.__version__}"
    )


#: Size of the binary (elementwise) cases.
BINARY_N = 1_000_000


@functools.lru_cache(maxsize=None)
def binary_inputs(n, dtype_name, seed=0):
    """(N,) scores ~ 3·N(0, 1) and int64 labels in {0, 1}, seeded; read-only, shared."""
    rng = np.random.default_rng(seed)
    scores = (3.0 * rng.standard_normal(n)).astype(dtype_name)
    y = rng.integers(0, 2, size=n, dtype=np.int64)
    scores.flags.writeable = False
    y.flags.writeable = False
    return scores, y


@pytest.fixture
def binary_case(dtype):
    """(scores, y01, out) for N = BINARY_N: out is a preallocated buffer like scores."""
    scores, y = binary_inputs(BINARY_N, dtype.name)
    return scores, y, np.empty_like(scores)


@functools.lru_cache(maxsize=None)
def soft_targets(shape, dtype_name, seed=1):
    """(N, C) soft targets: the softmax of random scores, one distribution per row; read-only."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(shape)
    t = np.exp(z - z.max(axis=1, keepdims=True))
    t = (t / t.sum(axis=1, keepdims=True)).astype(dtype_name)
    t.flags.writeable = False
    return t
