"""Time fastloss's drop-ins inside PyTorch and JAX (``python -m fastloss bench --interop``).

Every figure is forward + backward with all wrapper overhead included, on one
case (function, dtype, shape, threads), the callables timed interleaved with
:func:`fastloss._bench.timing.time_interleaved` (medians of per-call times):

* ``fastloss.torch.<f>`` against ``torch.nn.functional.<f>``: the loss of a
  tensor with ``requires_grad=True`` and ``torch.autograd.grad(loss, x)``;
* the **eager overhead** of the drop-in: its time minus that of the bare
  NumPy API (``fastloss.softmax_cross_entropy(s, y, out=g)`` /
  ``fastloss.multiclass_hinge``, loss and gradient, on the same memory); for
  ``cross_entropy`` also without autograd (a tensor that needs no gradient,
  against ``fastloss.softmax_cross_entropy(s, y, grad=False)``), and the floor
  of any autograd-aware Python extension (``autograd_floor``: an empty
  ``torch.autograd.Function``, forward + ``torch.autograd.grad``; in the JSON);
* ``fastloss.jax.<f>`` against the same loss written in ``jax.numpy``, both as
  ``jax.jit(jax.value_and_grad(f))``, plus the JAX path's overhead over the
  bare NumPy API.

Ratios are peer time / fastloss time (above 1: fastloss is faster).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import peers, timing

#: (function, shape) of the torch drop-ins; the targets of issue 21 are the first three.
TORCH_CASES = (
    ("cross_entropy", (4096, 100)),
    ("cross_entropy", (128, 10)),
    ("multi_margin_loss", (4096, 100)),
    ("multi_margin_loss", (128, 10)),
    ("binary_cross_entropy_with_logits", (4096, 100)),
    ("linear_cross_entropy", (4096, 100)),
)
#: (function, shape) of the JAX functions.
JAX_CASES = (
    ("softmax_cross_entropy", (4096, 100)),
    ("multiclass_hinge", (4096, 100)),
    ("softmax_cross_entropy", (128, 10)),
)
#: linear_cross_entropy's input features.
LINEAR_FEATURES = 64


@dataclasses.dataclass
class InteropResult:
    """One case: median seconds per call of each callable timed, by name."""

    framework: str
    function: str
    dtype: str
    shape: tuple
    threads: int
    medians: dict

    @property
    def speedup(self):
        """Peer time / fastloss time."""
        return self.medians["peer"] / self.medians["fastloss"]

    @property
    def overhead(self):
        """fastloss drop-in time minus the bare NumPy API's, seconds (None if not timed)."""
        if "numpy_api" not in self.medians:
            return None
        return self.medians["fastloss"] - self.medians["numpy_api"]

    @property
    def overhead_no_grad(self):
        """The same for the loss alone, without autograd (None if not timed)."""
        if "no_grad" not in self.medians:
            return None
        return self.medians["no_grad"] - self.medians["numpy_api_no_grad"]

    def to_dict(self):
        return {"framework": self.framework, "function": self.function, "dtype": self.dtype,
                "shape": list(self.shape), "threads": self.threads,
                "median_us": {k: v * 1e6 for k, v in self.medians.items()},
                "speedup": self.speedup,
                "overhead_us": None if self.overhead is None else self.overhead * 1e6,
                "overhead_no_grad_us": (None if self.overhead_no_grad is None
                                        else self.overhead_no_grad * 1e6)}


def _inputs(function, dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    n, c = shape
    s = (3.0 * rng.standard_normal(shape)).astype(dtype)
    if function == "binary_cross_entropy_with_logits":
        return s, rng.integers(0, 2, shape).astype(dtype)
    return s, rng.integers(0, c, n)


def _autograd_floor(x):
    """Forward + ``torch.autograd.grad`` of an empty ``torch.autograd.Function`` (forward
    returns a precomputed loss, backward a precomputed gradient): what any autograd-aware
    Python extension pays per call, before any work."""
    import torch

    loss, grad = x.detach().sum(), torch.zeros_like(x)

    class Empty(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return loss.clone()

        @staticmethod
        def backward(ctx, go):
            return grad

    return lambda: torch.autograd.grad(Empty.apply(x), x)


def torch_callables(function, dtype, shape):
    """{"fastloss", "peer", "numpy_api"}: zero-argument fwd+bwd callables on shared inputs."""
    import torch
    import torch.nn.functional as F

    import fastloss
    import fastloss.torch as flt

    s_np, y_np = _inputs(function, dtype, shape)
    y = torch.from_numpy(y_np)
    if function == "linear_cross_entropy":
        rng = np.random.default_rng(1)
        h = torch.from_numpy(rng.standard_normal((shape[0], LINEAR_FEATURES)).astype(dtype))
        w = torch.from_numpy((0.1 * rng.standard_normal((shape[1], LINEAR_FEATURES)))
                             .astype(dtype)).requires_grad_()

        def make(fn):
            def call():
                return torch.autograd.grad(fn(h, w, y), w)
            return call

        return {"fastloss": make(flt.linear_cross_entropy),
                "peer": make(F.linear_cross_entropy)}
    x = torch.from_numpy(s_np).requires_grad_()

    def make(fn):
        def call():
            return torch.autograd.grad(fn(x, y), x)
        return call

    out = {"fastloss": make(getattr(flt, function)), "peer": make(getattr(F, function))}
    g = np.empty_like(s_np)
    if function == "cross_entropy":
        out["numpy_api"] = lambda: fastloss.softmax_cross_entropy(s_np, y_np, out=g)
        x0 = torch.from_numpy(s_np)  # no autograd: the loss alone, both ways
        out["no_grad"] = lambda: flt.cross_entropy(x0, y)
        out["numpy_api_no_grad"] = lambda: fastloss.softmax_cross_entropy(s_np, y_np, grad=False)
        out["autograd_floor"] = _autograd_floor(x)
    elif function == "multi_margin_loss":
        out["numpy_api"] = lambda: fastloss.multiclass_hinge(s_np, y_np, out=g)
    return out


def jax_callables(function, dtype, shape):
    """{"fastloss", "peer", "numpy_api"} for fastloss.jax.<function> against the jnp loss."""
    import jax

    import fastloss
    import fastloss.jax as flj

    s_np, y_np = _inputs(function, dtype, shape)
    jnp_loss = peers._jax_functions()[function]  # jit(value_and_grad) of the jnp loss
    ours = jax.jit(jax.value_and_grad(getattr(flj, function)))
    s, y = jax.device_put(s_np), jax.device_put(y_np)
    g = np.empty_like(s_np)
    out = {
        "fastloss": lambda: jax.block_until_ready(ours(s, y)),
        "peer": lambda: jax.block_until_ready(jnp_loss(s, y)),
        "numpy_api": lambda: getattr(fastloss, function)(s_np, y_np, out=g),
    }
    for fn in out.values():
        fn()  # compile now
    return out


def run(*, dtype="float32", threads=1, repeats=timing.REPEATS, max_time=timing.MAX_CASE_TIME,
        torch_cases=TORCH_CASES, jax_cases=JAX_CASES):
    """Yield an :class:`InteropResult` per case whose framework is installed."""
    frameworks = []
    if peers.installed("torch"):
        frameworks.append(("torch", torch_cases, torch_callables))
    if peers.installed("jax"):
        frameworks.append(("jax", jax_cases, jax_callables))
    for framework, cases, make in frameworks:
        for function, shape in cases:
            with peers.threads(threads):
                funcs = make(function, dtype, shape)
                timings = timing.time_interleaved(
                    funcs.values(), repeats=repeats, max_time=max_time,
                    min_repeats=timing.MIN_REPEATS)
            yield InteropResult(framework, function, dtype, shape, threads,
                                {k: t.median for k, t in zip(funcs, timings)})


def format_row(r):
    over = "—" if r.overhead is None else f"{r.overhead * 1e6:+.1f}"
    over0 = "—" if r.overhead_no_grad is None else f"{r.overhead_no_grad * 1e6:+.1f}"
    return (f"{r.framework:6s} {r.function:34s} {r.dtype:8s} {'x'.join(map(str, r.shape)):>9s} "
            f"{r.medians['fastloss'] * 1e6:10.1f} {r.medians['peer'] * 1e6:10.1f} "
            f"{r.speedup:8.2f}x {over:>10s} {over0:>10s}")


HEADER = (f"{'':6s} {'function':34s} {'dtype':8s} {'shape':>9s} {'fastloss':>10s} "
          f"{'peer':>10s} {'peer/fl':>9s} {'overhead':>10s} {'no grad':>10s}\n"
          f"{'':6s} {'':34s} {'':8s} {'':>9s} {'µs':>10s} {'µs':>10s} {'':>9s} {'µs':>10s} "
          f"{'overhead':>10s}")


def main(args):
    """``bench --interop``: print the table (and write the JSON if asked)."""
    import json

    from . import cli

    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    peers.pin_jax_threads(args.threads)  # before anything imports jax
    env = timing.environment(args.threads)
    if args.quick:
        repeats, max_time = timing.QUICK_REPEATS, timing.QUICK_MAX_CASE_TIME
    else:
        repeats, max_time = timing.REPEATS, timing.MAX_CASE_TIME
    print(f"fastloss {env['fastloss']} ({env['kernel_isa']} kernels), threads {args.threads}, "
          f"torch {env['peers']['torch']}, jax {env['peers']['jax']} "
          f"(jax threads: {env['jax_threads']}); medians of {repeats} interleaved samples")
    print("forward + backward per call; peer/fl above 1x: fastloss faster; overhead: "
          "drop-in minus the bare NumPy API (loss and gradient)")
    print(HEADER.replace("µ", cli.micro()), flush=True)
    results = []
    for dtype in dtypes:
        for r in run(dtype=dtype, threads=args.threads, repeats=repeats, max_time=max_time):
            results.append(r)
            print(format_row(r), flush=True)
    if not results:
        print("neither torch nor jax is installed: nothing to time")
    if args.json and results:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"environment": env, "results": [r.to_dict() for r in results]}, f,
                      indent=2)
            f.write("\n")
        print(f"\nwrote {args.json}")
    return 0
