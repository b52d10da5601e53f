"""Fixtures for the pytest-benchmark suite of fastloss.

Run with ``OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python -m pytest bench --benchmark-only``
(the default ``testpaths`` only holds ``tests``, so ``bench`` must be named).

Every benchmark is one *case* -- (function, dtype, shape, threads), a
:class:`fastloss._bench.peers.Problem` -- and one implementation;
``benchmark.group`` is the case, so each group of the report puts side by
side, on the same inputs and the same number of threads:

* ``fastloss``: the public function, writing into a preallocated ``out=``
  buffer (so that the kernel is measured, not the allocation of the result);
* ``reference``: its NumPy twin in :mod:`fastloss.reference`, called as a user
  would call it (allocations included);
* ``torch``, ``sklearn``, ``jax``: the peers, each skipped (``importorskip``)
  when it is not installed;
* a *floor*: ``np.exp`` over the same array (softmax and sigmoid families) or
  ``np.copyto`` into a preallocated array of the same shape (hinge losses,
  ``sgd_update``) -- one pass that reads and writes every element, which the
  fused kernel cannot beat by much.  It tells how far from the memory/exp
  bound each implementation is.

The callables are those of ``python -m fastloss bench``: both come from
:mod:`fastloss._bench.peers`, whose docstring says what each peer computes.
Threads: fastloss and torch follow the case (``_peers.threads``),
scikit-learn gets ``n_threads``; JAX reads its thread settings once, at
import, so this suite pins it to one thread (``XLA_FLAGS``, set here unless
already set) and times it in the one-thread groups only.

Benchmarks are not tests: nothing here asserts anything about speed.  On a
shared machine compare the figures within a group (ratios), not across runs.
"""

import time

import numpy as np
import pytest

import fastloss
from fastloss._bench import peers as _peers

_peers.pin_jax_threads(1)  # before anything imports jax

#: The target shapes (N, C) of the softmax cross-entropy and the hinge, and those of the
#: other multiclass functions: the CLI's (python -m fastloss bench).
from fastloss._bench.timing import SHAPES, TARGET_SHAPES  # noqa: E402
#: Size of the elementwise cases (binary losses, sigmoid).
BINARY_N = 1_000_000
DTYPES = ("float32", "float64")
#: Cases run with 2 threads too, from this many elements (smaller ones stay on one).
TWO_THREADS_FROM = 100_000

# How long each benchmark runs.  The fixture times one call, packs enough calls
# into a round to last MIN_ROUND_TIME, and runs as many rounds as fit in
# BUDGET (at least MIN_ROUNDS, at most MAX_ROUNDS), after one warm-up round:
# a fixed plan made before timing, so that a burst of load on the shared
# machine during the run cannot multiply the number of rounds (pytest-benchmark's
# own max_time calibrates once and then keeps going).  The whole suite runs in
# about three minutes.
BUDGET = 0.15
MIN_ROUND_TIME = 5e-4
MIN_ROUNDS, MAX_ROUNDS = 3, 200
_NO_GC = pytest.mark.benchmark(disable_gc=True)


def _plan(fn):
    """(rounds, iterations) for ``fn`` from one timed call after a warm-up call."""
    fn()
    t0 = time.perf_counter()
    fn()
    t = max(time.perf_counter() - t0, 1e-7)
    iterations = max(1, int(MIN_ROUND_TIME / t))
    rounds = int(BUDGET / (t * iterations))
    return min(MAX_ROUNDS, max(MIN_ROUNDS, rounds)), iterations


def _id(problem, impl):
    shape = "x".join(map(str, problem.shape)) if len(problem.shape) == 2 else f"{problem.shape[0]:.0e}"
    return f"{problem.dtype}-{shape}-{problem.threads}thr-{impl}"


def cases(function, shapes, *, dtypes=DTYPES, threads=(1, 2), extra_impls=()):
    """pytest params ``(problem, impl)`` of ``function``: every shape, dtype and thread count.

    Two threads only from TWO_THREADS_FROM elements; JAX only on one thread.
    ``extra_impls`` are benchmark-local implementations (the test makes their callable).
    """
    params = []
    for dtype in dtypes:
        for shape in shapes:
            for n in threads:
                problem = _peers.Problem(function, dtype, shape, n)
                if n > 1 and problem.size < TWO_THREADS_FROM:
                    continue
                impls = _peers.impls_for(function) + list(extra_impls)
                for impl in impls:
                    if impl == "jax" and n != 1:
                        continue
                    params.append(pytest.param(problem, impl, id=_id(problem, impl), marks=_NO_GC))
    return params


@pytest.fixture
def bench(benchmark):
    """``bench(problem, impl, fn=None)``: benchmark ``impl`` on ``problem`` in the case's group.

    ``fn`` defaults to ``fastloss._bench.peers.make(impl, problem)``; a peer that
    is not installed is skipped.  Rounds and iterations are planned as said
    above BUDGET.  Records the case in ``extra_info`` (kept by
    ``--benchmark-json``).
    """

    def run(problem, impl, fn=None):
        module = _peers.MODULES.get(impl)
        if module is not None:
            pytest.importorskip(module)
        with _peers.threads(problem.threads):
            if fn is None:
                fn = _peers.make(impl, problem)
            benchmark.group = problem.group
            benchmark.extra_info.update(
                function=problem.function,
                impl=impl,
                dtype=problem.dtype,
                shape=list(problem.shape),
                threads=problem.threads,
                kernel_isa=fastloss.kernel_isa(),
            )
            rounds, iterations = _plan(fn)
            return benchmark.pedantic(fn, rounds=rounds, iterations=iterations, warmup_rounds=1)

    return run


def pytest_report_header(config):
    versions = ", ".join(f"{p} {_peers.version(p) or 'not installed'}" for p in _peers.PEERS[1:])
    return (
        f"fastloss {fastloss.__version__}, kernel ISA {fastloss.kernel_isa()}, "
        f"numpy {np.__version__}; peers: {versions}; JAX threads: {_peers.jax_threads()}"
    )
