"""Time fastloss against its NumPy twin, its peers and the floors (``python -m fastloss bench``).

What is measured
----------------
Each *case* is a function (every public kernel, also the soft-target
cross-entropy and the Crammer–Singer hinge, ``sgd_update`` and ``adam_update``), a dtype, a
shape and a thread count: a :class:`fastloss.peers.Problem`.  On its inputs
(seeded; see there) every implementation of :mod:`fastloss._bench.peers` that is
installed and has the function is timed:

* **fastloss** -- the public function with its defaults (``reduction="mean"``,
  gradient included), i.e. argument validation plus the compiled kernel,
  writing into a preallocated ``out=`` buffer, so the figure is the kernel and
  the fixed per-call overhead, not the allocation of the result;
* **reference** -- its plain-NumPy twin in :mod:`fastloss.reference`, called
  the way a user would call it (allocating its result and temporaries);
* **torch**, **sklearn**, **jax** -- the peers, when installed (forward and
  backward; what exactly each computes is in :mod:`fastloss._bench.peers`);
* a **floor** -- ``np.exp`` (softmax and sigmoid families) or ``np.copyto``
  (hinge losses, ``sgd_update``) over the same array: one pass that reads and
  writes every element.

How
---
With :func:`time.perf_counter`, for each callable: a few warm-up calls, then
the number of inner loops is chosen so that one *sample* (that many calls back
to back) lasts at least ``min_sample_time`` (2 ms by default), far above the
clock's resolution and the loop's own overhead.  Then ``repeats`` samples of
each callable are taken, **interleaved** -- fastloss, reference, torch, ...,
then the reverse order -- so that a burst of load from other processes, a
change of clock frequency or of cache state falls on all alike.  Where a
round of samples is long (large shapes, slow peers), fewer rounds are taken,
so that a case's sampling lasts about ``max_time`` (never fewer than
``min_repeats`` rounds).  The reported time is the median of the per-call
times of the samples (the median shrugs off the samples a preemption spoiled;
the mean does not).  The garbage collector is off while timing, as in
:mod:`timeit`.

Reading the numbers
-------------------
On a shared or virtualised machine absolute times drift by tens of percent
from one run to the next (other tenants, turbo and thermal limits, noisy
neighbours on the memory bus).  The **ratios**, measured interleaved on the
same inputs, are far more stable, and they are the meaningful figures:
peer / fastloss (above 1: fastloss is faster) and fastloss / floor (how many
one-pass sweeps of the array fastloss costs); absolute microseconds are only
comparable within one run.  The nanoseconds per element (fastloss time /
elements) show how the per-call overhead is amortised as the arrays grow.
"""

import dataclasses
import gc
import itertools
import math
import platform
import statistics
import sys
import time

import numpy as np

from . import peers

#: The target shapes (N, C) of the softmax cross-entropy and the hinge (issue 5).
TARGET_SHAPES = ((128, 10), (4096, 10), (65536, 10), (4096, 100), (1024, 1000), (16384, 1000))
#: Shapes (N, C) of the other multiclass functions.
SHAPES = ((128, 10), (4096, 10), (4096, 100), (1024, 1000))
#: Sizes N of the elementwise functions (binary losses, sigmoid) and of sgd_update.
BINARY_SIZES = (10_000, 1_000_000)
SGD_SIZES = (100_000, 1_000_000, 10_000_000)
#: Shapes of the distance-based losses (issue 20): N = 1e4, 1e6 and (N, K) = (4096, 100).
DISTANCE_SHAPES = ((10_000,), (1_000_000,), (4096, 100))

#: The cases of the full run, in table order: function -> shapes.
CASES = {
    "softmax_cross_entropy": TARGET_SHAPES,
    "softmax_cross_entropy[soft]": SHAPES,
    "multiclass_hinge": TARGET_SHAPES,
    "multiclass_hinge[crammer_singer]": SHAPES,
    "softmax": SHAPES,
    "log_softmax": SHAPES,
    "binary_hinge": tuple((n,) for n in BINARY_SIZES),
    "sigmoid_cross_entropy": tuple((n,) for n in BINARY_SIZES),
    "sigmoid": tuple((n,) for n in BINARY_SIZES),
    "sgd_update": tuple((n,) for n in SGD_SIZES),
    "adam_update": tuple((n,) for n in SGD_SIZES),
    **{f: DISTANCE_SHAPES for f in ("squared_error", "absolute_error", "huber", "smooth_l1")},
}
#: The cases of ``--quick``.
QUICK_CASES = {
    f: ((1_000_000,),) if f in peers.ELEMENTWISE else ((128, 10), (4096, 100)) for f in CASES
}
#: Rounds of samples per case (full run, quick run) ...
REPEATS = 41
QUICK_REPEATS = 9
#: ... fewer where a round is long, so that a case's sampling lasts about this many seconds ...
MAX_CASE_TIME = 2.0
QUICK_MAX_CASE_TIME = 0.3
#: ... but never fewer than this many rounds.
MIN_REPEATS = 5
QUICK_MIN_REPEATS = 3
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


def _calibrate(fn, min_sample_time):
    """(loops, seconds): the calls of ``fn`` that last at least ``min_sample_time``, and how long they took."""
    loops = 1
    while True:
        t = _sample(fn, loops)
        if t >= min_sample_time:
            return loops, t
        # Aim 20 % above the target; grow at most 10x per step, as a first
        # estimate from a very short sample can be far off.
        target = math.ceil(loops * 1.2 * min_sample_time / max(t, 1e-9))
        loops = max(loops + 1, min(target, 10 * loops))


def time_interleaved(funcs, *, repeats=REPEATS, min_sample_time=MIN_SAMPLE_TIME,
                     warmup_time=WARMUP_TIME, max_time=None, min_repeats=1):
    """Time several zero-argument callables against each other.

    Each is warmed up and calibrated (see :func:`_calibrate`), then ``repeats``
    samples of each are taken in rounds, one sample of every callable per
    round, the order reversed every other round so that none is always first.
    With ``max_time`` (seconds), the rounds are fewer if ``repeats`` of them
    would last longer than that (as estimated from the calibration), but at
    least ``min_repeats``.

    Returns a list of :class:`Timing`, one per callable, in the order given.
    """
    funcs = list(funcs)
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if min_repeats < 1:
        raise ValueError(f"min_repeats must be >= 1, got {min_repeats}")
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        loops, round_time = [], 0.0
        for fn in funcs:
            warm_up(fn, warmup_time)
            n, t = _calibrate(fn, min_sample_time)
            loops.append(n)
            round_time += t
        if max_time is not None and repeats * round_time > max_time:
            repeats = max(min_repeats, min(repeats, int(max_time / max(round_time, 1e-9))))
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
# The benchmark run: cases x implementations.

#: Status of an implementation in a case that was not timed.
NOT_INSTALLED = "not installed"
NOT_APPLICABLE = "not applicable"


@dataclasses.dataclass
class Result:
    """Every implementation against fastloss on one case (function, dtype, shape, threads)."""

    function: str
    dtype: str
    shape: tuple
    threads: int
    timings: dict  # impl -> Timing, "fastloss" first, for the implementations timed
    missing: dict = dataclasses.field(default_factory=dict)  # impl -> NOT_INSTALLED / NOT_APPLICABLE

    @property
    def fastloss(self):
        return self.timings["fastloss"]

    def ratio(self, impl):
        """peer median / fastloss median for a peer, fastloss / floor for a floor; None if not timed."""
        t = self.timings.get(impl)
        if t is None:
            return None
        if impl in peers.FLOORS:
            return self.fastloss.median / t.median
        return t.median / self.fastloss.median

    @property
    def ns_per_element(self):
        """fastloss median per element of scores (or parameters), in nanoseconds."""
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
            "function": self.function,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "threads": self.threads,
            "fastloss_ns_per_element": self.ns_per_element,
            "ratios": {i: self.ratio(i) for i in peers.IMPLS[1:]},
            "timings": {i: us(t) for i, t in self.timings.items()},
            "status": {i: "timed" if i in self.timings else self.missing.get(i, NOT_APPLICABLE)
                       for i in peers.IMPLS},
        }


def run_case(problem, impls=peers.IMPLS, *, repeats=REPEATS, min_sample_time=MIN_SAMPLE_TIME,
             max_time=None, min_repeats=1):
    """Time the ``impls`` that are installed and have ``problem``'s function, interleaved; a :class:`Result`.

    ``"fastloss"`` is always timed (first).
    """
    impls = ["fastloss"] + [i for i in impls if i != "fastloss"]
    funcs, missing = {}, {}
    with peers.threads(problem.threads):
        for impl in impls:
            if impl in peers.PEERS and not peers.installed(impl):
                missing[impl] = NOT_INSTALLED
                continue
            fn = peers.make(impl, problem)
            if fn is None:
                missing[impl] = NOT_APPLICABLE
            else:
                funcs[impl] = fn
        timings = time_interleaved(funcs.values(), repeats=repeats, min_sample_time=min_sample_time,
                                   max_time=max_time, min_repeats=min_repeats)
    return Result(problem.function, problem.dtype, problem.shape, problem.threads,
                  dict(zip(funcs, timings)), missing)


def run(cases=CASES, dtypes=("float32",), *, threads=1, impls=peers.IMPLS, repeats=REPEATS,
        min_sample_time=MIN_SAMPLE_TIME, max_time=MAX_CASE_TIME, min_repeats=MIN_REPEATS, seed=0):
    """Time every (function, dtype, shape) of ``cases`` (function -> shapes); yield a :class:`Result` as each is done."""
    for function, shapes in cases.items():
        for dtype in dtypes:
            for shape in shapes:
                problem = peers.Problem(function, dtype, shape, threads, seed)
                yield run_case(problem, impls, repeats=repeats, min_sample_time=min_sample_time,
                               max_time=max_time, min_repeats=min_repeats)


def environment(threads=1):
    """Versions, machine and code path (kernel build, threads) the figures were measured with."""
    import fastloss
    from fastloss import _dispatch, _threads

    with fastloss.threads(threads):
        fastloss_threads = fastloss.get_num_threads()
    return {
        "fastloss": fastloss.__version__,
        "numpy": np.__version__,
        "kernel_isa": fastloss.kernel_isa(),
        "available_isas": list(_dispatch.available_isas()),
        "openmp": _threads.openmp(),
        "threads": threads,
        "fastloss_threads": fastloss_threads,
        "parallel_min_elements": _threads.PARALLEL_MIN_ELEMENTS,
        "sgd_parallel_min_elements": _threads.SGD_MIN_ELEMENTS,
        "adaptive_parallel_min_elements": _threads.ADAPTIVE_MIN_ELEMENTS,
        "jax_threads": peers.jax_threads(),
        "peers": {p: peers.version(p) for p in peers.PEERS},
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
    }
