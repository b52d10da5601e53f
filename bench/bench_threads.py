"""OpenMP threads: the fused losses with 1 and 2 threads, side by side.

One group per (function, shape), float32, gradient into a preallocated
``out=``; compare the two rows of a group (a ratio), not figures across runs.
(128, 10) is below fastloss._threads.PARALLEL_MIN_ELEMENTS, so both rows run
on one thread there: it shows that small calls do not pay for threading.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python -m pytest bench/bench_threads.py --benchmark-only
"""

import numpy as np
import pytest

import fastloss as fl

SHAPES = ((16384, 1000), (65536, 10), (128, 10))
FUNCTIONS = ("softmax_cross_entropy", "multiclass_hinge")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("function", FUNCTIONS)
def test_threads(benchmark, function, shape, threads):
    rng = np.random.default_rng(0)
    scores = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, shape[1], shape[0])
    out = np.empty_like(scores)
    fn = getattr(fl, function)
    benchmark.group = f"{function} float32 {shape[0]}x{shape[1]}"
    with fl.threads(threads):
        benchmark.pedantic(fn, args=(scores, y), kwargs={"out": out}, rounds=30,
                           iterations=1 if shape[0] * shape[1] >= 10**5 else 100,
                           warmup_rounds=2)
