"""Time the fastloss kernels against their NumPy reference (``python -m fastloss``).

What is measured
----------------
For each public kernel (``softmax_cross_entropy``, also with soft targets,
``multiclass_hinge``, also Crammer–Singer, ``softmax``, ``log_softmax`` on
(N, C); ``binary_hinge``, ``sigmoid_cross_entropy``, ``sigmoid`` on (N,)),
dtype and shape, two callables on the same inputs (scores ~ 3·N(0, 1) from a
seeded generator, labels uniform in [0, C), or 0/1 and ±1 for the binary
losses):

* **fastloss** -- the public function, i.e. argument validation plus the
  compiled kernel, writing into a preallocated ``out=`` buffer, so the figure
  is the kernel and the fixed per-call overhead, not the allocation of the
  result;
* **reference** -- its plain-NumPy twin in :mod:`fastloss.reference`, called
  the way a user would call it (without ``out=``; allocating its result and
  temporaries is part of what it costs).

The losses are timed with their defaults: ``reduction="mean"``, no weights,
gradient included.

How
---
With :func:`time.perf_counter`, for each callable: a few warm-up calls, then
the number of inner loops is chosen so that one *sample* (that many calls back
to back) lasts at least ``min_sample_time`` (2 ms by default), far above the
clock's resolution and the loop's own overhead.  Then ``repeats`` samples of
each callable are taken, **interleaved** -- fastloss, reference, reference,
fastloss, ... -- so that a burst of load from other processes, a change of
clock frequency or of cache state falls on both alike.  The reported time is
the median of the per-call times of the samples (the median shrugs off the
samples a preemption spoiled; the mean does not).  The garbage collector is
off while timing, as in :mod:`timeit`.

Reading the numbers
-------------------
On a shared or virtualised machine absolute times drift by tens of percent
from one run to the next (other tenants, turbo and thermal limits, noisy
neighbours on the memory bus).  The **ratio** reference / fastloss, measured
interleaved on the same inputs, is far more stable, and it is the meaningful
figure; absolute microseconds are only comparable within one run.  The
nanoseconds per element (fastloss time / (N·C)) show how the per-call
overhead is amortised as the arrays grow.
"""

import dataclasses
import functools
import gc
import itertools
import math
import platform
import statistics
import sys
import time

import numpy as np

#: Multiclass kernels timed, in table order (``name[option]``: the kernel with that option).
KERNELS = (
    "softmax_cross_entropy",
    "softmax_cross_entropy[soft]",
    "multiclass_hinge",
    "multiclass_hinge[crammer_singer]",
    "softmax",
    "log_softmax",
)
#: Shapes (N, C) of the full run and of ``--quick``.
SHAPES = ((128, 10), (4096, 10), (4096, 100), (1024, 1000))
QUICK_SHAPES = ((128, 10), (4096, 100))
#: Binary (elementwise) kernels, timed on (N,) arrays of these sizes.
BINARY_KERNELS = ("binary_hinge", "sigmoid_cross_entropy", "sigmoid")
BINARY_SIZES = (10_000, 1_000_000)
QUICK_BINARY_SIZES = (1_000_000,)
#: Samples per callable (full run, quick run).
REPEATS = 41
QUICK_REPEATS = 9
#: Seconds one sample lasts at least (the inner loop count is chosen to match).
MIN_SAMPLE_TIME = 2e-3
#: Seconds of warm-up calls per callable before calibrating (at least 2 calls).
WARMUP_TIME = 0.01


@dataclasses.dataclass
class Timing:
    """Per-call times of one callable, in seconds."""

    samples: list  # per-call time of each sample (sample time / loops)
    loops: int  # calls per sample

    @property
    def median(self):
        return statistics.median(self.samples)

    @property
    def min(self):
        return min(self.samples)


def _sample(fn, loops, timer=time.perf_counter):
    """Total seconds taken by ``loops`` back-to-back calls of ``fn()``."""
    it = itertools.repeat(None, loops)
    t0 = timer()
    for _ in it:
        fn()
    return timer() - t0


def warm_up(fn, seconds=WARMUP_TIME, min_calls=2):
    """Call ``fn`` at least ``min_calls`` times and for at least ``seconds``."""
    deadline = time.perf_counter() + seconds
    calls = 0
    while calls < min_calls or time.perf_counter() < deadline:
        fn()
        calls += 1


def calibrate(fn, min_sample_time=MIN_SAMPLE_TIME):
    """The number of back-to-back calls of ``fn`` that last at least ``min_sample_time``."""
    loops = 1
    while True:
        t = _sample(fn, loops)
        if t >= min_sample_time:
            return loops
        # Aim 20 % above the target; grow at most 10x per step, as a first
        # estimate from a very short sample can be far off.
        target = math.ceil(loops * 1.2 * min_sample_time / max(t, 1e-9))
        loops = max(loops + 1, min(target, 10 * loops))


def time_interleaved(funcs, *, repeats=REPEATS, min_sample_time=MIN_SAMPLE_TIME,
                     warmup_time=WARMUP_TIME):
    """Time several zero-argument callables against each other.

    Each is warmed up and calibrated (see :func:`calibrate`), then ``repeats``
    samples of each are taken in rounds, one sample of every callable per
    round, the order reversed every other round so that none is always first.

    Returns a list of :class:`Timing`, one per callable, in the order given.
    """
    funcs = list(funcs)
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        loops = []
        for fn in funcs:
            warm_up(fn, warmup_time)
            loops.append(calibrate(fn, min_sample_time))
        samples = [[] for _ in funcs]
        order = list(range(len(funcs)))
        for r in range(repeats):
            for i in order if r % 2 == 0 else order[::-1]:
                samples[i].append(_sample(funcs[i], loops[i]) / loops[i])
    finally:
        if gc_was_enabled:
            gc.enable()
    return [Timing(s, n) for s, n in zip(samples, loops)]


# --------------------------------------------------------------------------
# The benchmark suite: kernels x dtypes x shapes.


def make_inputs(shape, dtype, seed=0):
    """Scores ~ 3·N(0, 1) of ``dtype`` and shape (N, C) or (N,), and int64 labels, seeded.

    Labels are uniform in [0, C) for (N, C) scores and in {0, 1} for (N,) scores.
    """
    rng = np.random.default_rng(seed)
    scores = (3.0 * rng.standard_normal(shape)).astype(dtype)
    high = shape[1] if len(shape) == 2 else 2
    y = rng.integers(0, high, size=shape[0], dtype=np.int64)
    return scores, y


#: The options behind ``name[option]`` kernel names.
_OPTIONS = {"crammer_singer": {"variant": "crammer_singer"}}


def kernel_pair(kernel, scores, y):
    """Zero-argument callables ``(fastloss, reference)`` computing ``kernel`` on the inputs.

    The fastloss call writes into a buffer preallocated here (``out=``).
    ``softmax_cross_entropy[soft]`` uses soft targets (softmax of random
    scores, of the dtype of ``scores``); ``binary_hinge`` labels ``2y - 1``.
    """
    import fastloss
    from fastloss import reference

    name, _, option = kernel.partition("[")
    option = option.rstrip("]")
    fast, ref = getattr(fastloss, name), getattr(reference, name)
    kw = _OPTIONS.get(option, {})
    out = np.empty_like(scores)
    if name in ("softmax", "log_softmax", "sigmoid"):
        return functools.partial(fast, scores, out=out), functools.partial(ref, scores)
    if option == "soft":
        rng = np.random.default_rng(1)
        y = reference.softmax(rng.standard_normal(scores.shape)).astype(scores.dtype)
    elif name == "binary_hinge":
        y = 2 * y - 1
    return (functools.partial(fast, scores, y, out=out, **kw),
            functools.partial(ref, scores, y, **kw))


@dataclasses.dataclass
class Result:
    """fastloss against reference for one (kernel, dtype, shape)."""

    kernel: str
    dtype: str
    shape: tuple
    fastloss: Timing
    reference: Timing

    @property
    def speedup(self):
        """reference median / fastloss median."""
        return self.reference.median / self.fastloss.median

    @property
    def ns_per_element(self):
        """fastloss median per element of scores, in nanoseconds."""
        return self.fastloss.median / math.prod(self.shape) * 1e9

    def to_dict(self):
        def us(t):
            return {
                "median_us": t.median * 1e6,
                "min_us": t.min * 1e6,
                "loops": t.loops,
                "samples_us": [s * 1e6 for s in t.samples],
            }

        return {
            "kernel": self.kernel,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "fastloss": us(self.fastloss),
            "reference": us(self.reference),
            "speedup": self.speedup,
            "fastloss_ns_per_element": self.ns_per_element,
        }


def run(kernels=KERNELS, dtypes=("float32",), shapes=SHAPES, *, repeats=REPEATS,
        min_sample_time=MIN_SAMPLE_TIME, seed=0, binary_kernels=BINARY_KERNELS,
        binary_sizes=BINARY_SIZES):
    """Time every (kernel, dtype, shape); yield a :class:`Result` as each is done.

    The multiclass ``kernels`` run on every (N, C) of ``shapes``, the
    ``binary_kernels`` on every (N,) of ``binary_sizes``.
    """
    cases = [(k, shapes) for k in kernels] + [(k, [(n,) for n in binary_sizes]) for k in binary_kernels]
    for kernel, kernel_shapes in cases:
        for dtype in dtypes:
            for shape in kernel_shapes:
                scores, y = make_inputs(shape, dtype, seed)
                fast, ref = kernel_pair(kernel, scores, y)
                t_fast, t_ref = time_interleaved(
                    (fast, ref), repeats=repeats, min_sample_time=min_sample_time
                )
                yield Result(kernel, np.dtype(dtype).name, tuple(shape), t_fast, t_ref)


def environment():
    """Versions and machine the figures were measured with."""
    import fastloss
    from fastloss import _dispatch

    return {
        "fastloss": fastloss.__version__,
        "numpy": np.__version__,
        "kernel_isa": fastloss.kernel_isa(),
        "available_isas": list(_dispatch.available_isas()),
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
    }
