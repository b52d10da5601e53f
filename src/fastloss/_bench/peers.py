"""What fastloss is timed against: its NumPy twin, PyTorch, scikit-learn, JAX and two floors.

Used by ``python -m fastloss bench`` (:mod:`fastloss._bench.timing`) and by the
pytest-benchmark suite in ``bench/``, so both time the same callables on the
same inputs.  Nothing here is imported by ``import fastloss``; torch, sklearn
and jax are imported when a callable of theirs is made or :func:`version`
asks for theirs (call :func:`pin_jax_threads` before either).

A benchmark *case* is a :class:`Problem` -- function, dtype, shape, threads.
:func:`make` turns (implementation, problem) into a zero-argument callable,
or ``None`` when that implementation has nothing comparable for the function
(shown as "—").  Every callable returns what it computed, so that the tests
can check that the peers solve the same problem as fastloss
(:func:`as_numpy` converts their results).

Implementations (:data:`IMPLS`)
-------------------------------
``fastloss``
    The public function with its defaults (``reduction="mean"``, gradient
    included), writing the gradient into a preallocated ``out=`` buffer.
``reference``
    Its twin in :mod:`fastloss.reference`, called as a user would (allocating).
``torch``
    PyTorch on the CPU, forward and backward: ``F.cross_entropy`` (also with
    probability targets), ``C * F.multi_margin_loss`` (margin 1, p = 1: equal
    to :func:`fastloss.multiclass_hinge` with the mean reduction),
    ``F.binary_cross_entropy_with_logits``; ``torch.softmax``,
    ``torch.log_softmax`` and ``torch.sigmoid`` forward only (as fastloss's
    activations).  The scores are a leaf tensor with ``requires_grad``; each
    call sets its ``.grad`` to None first (as ``zero_grad()`` does), then runs
    ``loss.backward()``, so the gradient is allocated per call.  ``sgd_update``
    is one ``torch.optim.SGD([w], lr, momentum=0.9, fused=True).step()``, the
    gradient set once beforehand; ``adam_update`` one
    ``torch.optim.Adam([w], lr=1e-3, fused=True).step()`` alike.  The distance
    losses are ``F.mse_loss``, ``F.l1_loss``, ``F.huber_loss`` and
    ``F.smooth_l1_loss`` (mean, forward and backward).  ``torch.set_num_threads``
    follows the case's
    thread count (see :func:`threads`).  No peer for the binary hinge and the
    Crammer–Singer hinge (torch has neither).
``sklearn``
    scikit-learn's private loss module, the Cython kernels behind its linear
    models: ``HalfMultinomialLoss(n_classes=C).loss_gradient(y_true=float
    labels, raw_prediction=scores, loss_out=..., gradient_out=...,
    n_threads=k)`` for the softmax cross-entropy and ``HalfBinomialLoss`` for
    the sigmoid cross-entropy.  Despite the name, both are the *full*
    cross-entropy (the "half" refers to the deviance, twice the loss); they
    return the per-row losses and per-row gradients -- fastloss's
    ``reduction="none"`` (the mean's gradient times N) -- without a
    reduction, into preallocated buffers.  The time is comparable: fastloss's
    mean adds a sum over N values to the same one pass.
``jax``
    ``jax.jit(jax.value_and_grad(f))`` of the mean loss written in ``jnp``
    (``-mean(log_softmax(s)[arange(N), y])`` and the like; no optax), compiled
    when the callable is made, each call ending in ``block_until_ready``;
    ``jax.jit(jax.nn.softmax)`` & co. for the activations; no peer for
    ``sgd_update``, ``adam_update`` and the distance losses.  The inputs are
    put on the device once.  64-bit mode
    (``jax_enable_x64``) is switched on when JAX is first used, for the
    float64 cases.  XLA reads its thread settings once, at import: see
    :func:`pin_jax_threads`.
``floor_np.exp``, ``floor_np.copyto``
    One pass that reads and writes every element: ``np.exp`` over the scores
    into a preallocated array (softmax and sigmoid families: one exp per
    element is the least they must compute), ``np.copyto`` of the scores (or
    of the parameters) into one (hinge losses, ``sgd_update``, ``adam_update``,
    the distance losses).  A floor is timed only for the functions it belongs
    to.  ``adam_update`` must move 3.5 times the bytes of that copy (it reads
    param, grad, m, v and writes param, m, v: 7 arrays against the copy's 2),
    so its memory floor is 3.5 times ``np.copyto``'s time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import itertools
import importlib.util
import math
import os
import sys

import numpy as np

#: Every implementation, in table order: fastloss, then the peers, then the floors.
PEERS = ("reference", "torch", "sklearn", "jax")
FLOORS = ("floor_np.exp", "floor_np.copyto")
IMPLS = ("fastloss",) + PEERS + FLOORS

#: The module a peer needs (None: always there).
MODULES = {"reference": None, "torch": "torch", "sklearn": "sklearn", "jax": "jax"}

#: Functions (``name[option]``: the function with that option) and their floor.
FUNCTIONS = {
    "softmax_cross_entropy": "floor_np.exp",
    "softmax_cross_entropy[soft]": "floor_np.exp",
    "multiclass_hinge": "floor_np.copyto",
    "multiclass_hinge[crammer_singer]": "floor_np.copyto",
    "softmax": "floor_np.exp",
    "log_softmax": "floor_np.exp",
    "binary_hinge": "floor_np.copyto",
    "sigmoid_cross_entropy": "floor_np.exp",
    "sigmoid": "floor_np.exp",
    "sgd_update": "floor_np.copyto",
    "adam_update": "floor_np.copyto",
    "squared_error": "floor_np.copyto",
    "absolute_error": "floor_np.copyto",
    "huber": "floor_np.copyto",
    "smooth_l1": "floor_np.copyto",
}
#: The distance-based losses: pred and target of any shape (timed on (N,) and (N, K)).
DISTANCE = frozenset({"squared_error", "absolute_error", "huber", "smooth_l1"})
#: The functions each implementation has (elsewhere it shows as "—").
SUPPORTS = {
    "fastloss": frozenset(FUNCTIONS),
    "reference": frozenset(FUNCTIONS),
    "torch": frozenset(FUNCTIONS) - {"multiclass_hinge[crammer_singer]", "binary_hinge"},
    "sklearn": frozenset({"softmax_cross_entropy", "sigmoid_cross_entropy"}),
    "jax": frozenset(FUNCTIONS) - {"sgd_update", "adam_update"} - DISTANCE,
    **{floor: frozenset(f for f, fl in FUNCTIONS.items() if fl == floor) for floor in FLOORS},
}
#: Functions on (N,) arrays; the others take (N, C) scores.
ELEMENTWISE = frozenset({"binary_hinge", "sigmoid_cross_entropy", "sigmoid", "sgd_update",
                         "adam_update"}) | DISTANCE
#: sgd_update's hyper-parameters (a momentum step, torch's rule).
SGD_LR, SGD_MOMENTUM = 0.01, 0.9
#: adam_update's learning rate (torch's default betas and eps).
ADAM_LR = 1e-3

_XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def installed(peer):
    """Whether ``peer`` (one of :data:`PEERS`) can be imported; no import is done."""
    module = MODULES[peer]
    if module is None or sys.modules.get(module) is not None:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def version(peer):
    """The version string of ``peer``'s package, or None if it is not installed."""
    if not installed(peer):
        return None
    module = MODULES[peer]
    if module is None:
        from .. import __version__

        return __version__
    return getattr(importlib.import_module(module), "__version__", "?")


# --------------------------------------------------------------------------
# Threads


@contextlib.contextmanager
def threads(n):
    """Run fastloss (``fl.threads``) and torch, if installed, on ``n`` threads inside the block.

    scikit-learn takes the count per call (:class:`Problem` ``.threads``);
    JAX's is fixed at its import (:func:`pin_jax_threads`).
    """
    import fastloss

    # torch imported here if installed, not only if already imported: make()
    # inside this block would otherwise import it with its default count.
    torch = importlib.import_module("torch") if installed("torch") else None
    previous = torch.get_num_threads() if torch is not None else None
    with fastloss.threads(n):
        if torch is not None:
            torch.set_num_threads(n)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(previous)


def pin_jax_threads(n):
    """Ask XLA for one CPU thread if ``n == 1``, before JAX is imported; describe the setting.

    XLA reads ``XLA_FLAGS`` once, when ``jax`` is imported, so JAX's thread
    count cannot follow each case.  With ``n == 1`` and JAX not yet imported,
    ``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`` is
    added to ``XLA_FLAGS`` (unless it already names the first flag).  Returns
    what JAX will run with: ``"1"`` or ``"default"`` (XLA's own choice, which
    is every core for its multithreaded ops).
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if n == 1 and "jax" not in sys.modules and "xla_cpu_multi_thread_eigen" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {_XLA_ONE_THREAD}".strip()
    return jax_threads()


def jax_threads():
    """``"1"`` if XLA_FLAGS pins JAX's CPU work to one thread, else ``"default"``."""
    return "1" if "xla_cpu_multi_thread_eigen=false" in os.environ.get("XLA_FLAGS", "") else "default"


# --------------------------------------------------------------------------
# Problems


@dataclasses.dataclass(frozen=True)
class Problem:
    """One benchmark case: ``function`` (a key of :data:`FUNCTIONS`) on ``dtype`` data of ``shape``.

    Inputs are seeded: scores ~ 3·N(0, 1), labels uniform in [0, C) (0/1 for
    the binary losses, ±1 for ``binary_hinge``), soft targets the softmax of
    normal scores; for ``sgd_update`` parameters and a gradient ~ N(0, 1).
    They are made on first use, shared by every implementation and read-only;
    each callable gets its own output (and, for ``sgd_update``, its own
    parameter and velocity) buffers.
    """

    function: str
    dtype: str
    shape: tuple
    threads: int = 1
    seed: int = 0

    def __post_init__(self):
        if self.function not in FUNCTIONS:
            raise ValueError(f"function must be one of {sorted(FUNCTIONS)}, got {self.function!r}")
        object.__setattr__(self, "dtype", np.dtype(self.dtype).name)
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        ndim = 1 if self.name in ELEMENTWISE else 2
        if len(self.shape) != ndim and not (self.name in DISTANCE and len(self.shape) >= 1):
            raise ValueError(f"shape must have {ndim} dimension(s) for {self.function}, got {self.shape}")

    @property
    def name(self):
        """The fastloss function's name (``function`` without its ``[option]``)."""
        return self.function.partition("[")[0]

    @property
    def option(self):
        """The ``[option]`` of ``function``, or ``""``."""
        return self.function.partition("[")[2].rstrip("]")

    @property
    def size(self):
        """Elements of the scores (or parameters)."""
        return math.prod(self.shape)

    @property
    def group(self):
        """``function dtype (shape) threads=k``: the pytest-benchmark group of this case."""
        return f"{self.function} {self.dtype} {self.shape} threads={self.threads}"

    @property
    def inputs(self):
        """(scores, targets): read-only arrays (for ``sgd_update``: (param, grad))."""
        return _inputs(self.function, self.dtype, self.shape, self.seed)


@functools.lru_cache(maxsize=4)
def _inputs(function, dtype, shape, seed):
    """The inputs of :class:`Problem` (the last few kept, whatever the thread count)."""
    name, _, option = function.rstrip("]").partition("[")
    rng = np.random.default_rng(seed)
    if name in ("sgd_update", "adam_update"):
        arrays = (rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype))
    elif name in DISTANCE:  # (pred, target)
        arrays = ((3.0 * rng.standard_normal(shape)).astype(dtype),
                  rng.standard_normal(shape).astype(dtype))
    else:
        scores = (3.0 * rng.standard_normal(shape)).astype(dtype)
        high = shape[1] if len(shape) == 2 else 2
        y = rng.integers(0, high, size=shape[0], dtype=np.int64)
        if option == "soft":
            z = np.random.default_rng(seed + 1).standard_normal(shape)
            t = np.exp(z - z.max(axis=1, keepdims=True))
            y = (t / t.sum(axis=1, keepdims=True)).astype(dtype)
        elif name == "binary_hinge":
            y = 2 * y - 1
        arrays = (scores, y)
    for a in arrays:
        a.flags.writeable = False
    return arrays


def _torch_tensor(a):
    """A torch tensor with a copy of ``a`` (from_numpy refuses read-only arrays)."""
    import torch

    return torch.from_numpy(np.array(a))


# --------------------------------------------------------------------------
# The callables, one maker per implementation: maker(problem) -> callable or None

_FASTLOSS_OPTIONS = {"crammer_singer": {"variant": "crammer_singer"}}
_ACTIVATIONS = ("softmax", "log_softmax", "sigmoid")


def _fastloss_or_reference(module, problem):
    x, y = problem.inputs
    fn = getattr(module, problem.name)
    own_out = module.__name__ == "fastloss"
    if problem.name == "sgd_update":
        w, v = x.copy(), np.zeros_like(x)

        def step():
            fn(w, y, lr=SGD_LR, momentum=SGD_MOMENTUM, velocity=v)
            return w

        return step
    if problem.name == "adam_update":
        w, m, v = x.copy(), np.zeros_like(x), np.zeros_like(x)
        steps = itertools.count(1)

        def adam_step():
            fn(w, y, m, v, step=next(steps), lr=ADAM_LR)
            return w

        return adam_step
    kw = dict(_FASTLOSS_OPTIONS.get(problem.option, {}))
    if own_out:
        kw["out"] = np.empty_like(x)
    if problem.name in _ACTIVATIONS:
        return functools.partial(fn, x, **kw)
    return functools.partial(fn, x, y, **kw)


def _make_fastloss(problem):
    import fastloss

    return _fastloss_or_reference(fastloss, problem)


def _make_reference(problem):
    from .. import reference

    return _fastloss_or_reference(reference, problem)


#: The torch.nn.functional name of each distance loss.
_TORCH_DISTANCE_NAMES = {"squared_error": "mse_loss", "absolute_error": "l1_loss",
                         "huber": "huber_loss", "smooth_l1": "smooth_l1_loss"}


def _make_torch(problem):
    import torch
    import torch.nn.functional as F

    x_np, y_np = problem.inputs
    name = problem.name
    if name == "sgd_update":
        w = _torch_tensor(x_np).requires_grad_()
        w.grad = _torch_tensor(y_np)
        opt = torch.optim.SGD([w], lr=SGD_LR, momentum=SGD_MOMENTUM, fused=True)

        def step():
            opt.step()
            return w

        return step
    if name == "adam_update":
        w = _torch_tensor(x_np).requires_grad_()
        w.grad = _torch_tensor(y_np)
        adam = torch.optim.Adam([w], lr=ADAM_LR, fused=True)

        def adam_step():
            adam.step()
            return w

        return adam_step
    if name in _ACTIVATIONS:
        act = {"softmax": functools.partial(torch.softmax, dim=-1),
               "log_softmax": functools.partial(torch.log_softmax, dim=-1),
               "sigmoid": torch.sigmoid}[name]
        return functools.partial(act, _torch_tensor(x_np))
    x = _torch_tensor(x_np).requires_grad_()
    if name == "softmax_cross_entropy":
        t = _torch_tensor(y_np)  # int64 labels or float soft targets
        loss_fn = functools.partial(F.cross_entropy, x, t)
    elif name == "multiclass_hinge":
        c = problem.shape[1]
        t = _torch_tensor(y_np)

        def loss_fn():
            return c * F.multi_margin_loss(x, t)
    elif name in DISTANCE:
        loss_fn = functools.partial(getattr(F, _TORCH_DISTANCE_NAMES[name]), x, _torch_tensor(y_np))
    else:  # sigmoid_cross_entropy
        t = _torch_tensor(y_np.astype(problem.dtype))
        loss_fn = functools.partial(F.binary_cross_entropy_with_logits, x, t)

    def fwd_bwd():
        x.grad = None
        loss = loss_fn()
        loss.backward()
        return loss, x.grad

    return fwd_bwd


def _make_sklearn(problem):
    from sklearn._loss import loss as sk_loss

    if problem.function == "softmax_cross_entropy":
        loss = sk_loss.HalfMultinomialLoss(n_classes=problem.shape[1])
    else:  # sigmoid_cross_entropy
        loss = sk_loss.HalfBinomialLoss()
    x, y = problem.inputs
    return functools.partial(
        loss.loss_gradient, y_true=y.astype(problem.dtype), raw_prediction=x,
        loss_out=np.empty(problem.shape[0], problem.dtype), gradient_out=np.empty_like(x),
        n_threads=problem.threads,
    )


@functools.lru_cache(maxsize=None)
def _jax_functions():
    """The jnp losses (mean over rows) and activations, by function."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def label_mask(s, y):
        return jnp.arange(s.shape[1])[None, :] == y[:, None]

    def cross_entropy(s, y):
        return -jnp.mean(jax.nn.log_softmax(s)[jnp.arange(s.shape[0]), y])

    def soft_cross_entropy(s, t):
        return -jnp.mean(jnp.sum(t * jax.nn.log_softmax(s), axis=1))

    def hinge(s, y):  # Weston–Watkins, margin 1: sum over j != y of max(0, s_j - s_y + 1)
        sy = s[jnp.arange(s.shape[0]), y]
        m = jnp.where(label_mask(s, y), 0, jnp.maximum(0, s - sy[:, None] + 1))
        return jnp.mean(jnp.sum(m, axis=1))

    def crammer_singer(s, y):
        sy = s[jnp.arange(s.shape[0]), y]
        other = jnp.max(jnp.where(label_mask(s, y), -jnp.inf, s), axis=1)
        return jnp.mean(jnp.maximum(0, 1 + other - sy))

    def binary_hinge(s, y):
        return jnp.mean(jnp.maximum(0, 1 - y * s))

    def sigmoid_cross_entropy(x, y):
        return jnp.mean(jnp.maximum(x, 0) - x * y + jnp.log1p(jnp.exp(-jnp.abs(x))))

    losses = {
        "softmax_cross_entropy": cross_entropy,
        "softmax_cross_entropy[soft]": soft_cross_entropy,
        "multiclass_hinge": hinge,
        "multiclass_hinge[crammer_singer]": crammer_singer,
        "binary_hinge": binary_hinge,
        "sigmoid_cross_entropy": sigmoid_cross_entropy,
    }
    compiled = {k: jax.jit(jax.value_and_grad(f)) for k, f in losses.items()}
    compiled.update(softmax=jax.jit(jax.nn.softmax), log_softmax=jax.jit(jax.nn.log_softmax),
                    sigmoid=jax.jit(jax.nn.sigmoid))
    return compiled


def _make_jax(problem):
    import jax

    fn = _jax_functions()[problem.function]

    x, y = problem.inputs
    if problem.name in ("binary_hinge", "sigmoid_cross_entropy"):
        y = y.astype(problem.dtype)
    args = (jax.device_put(x),) if problem.name in _ACTIVATIONS else (jax.device_put(x), jax.device_put(y))

    def call():
        return jax.block_until_ready(fn(*args))

    call()  # compile now, not in the timed region
    return call


def _make_floor(ufunc_name, problem):
    x = problem.inputs[0]
    buf = np.empty_like(x)
    if ufunc_name == "floor_np.exp":
        return functools.partial(np.exp, x, out=buf)
    return functools.partial(np.copyto, buf, x)


_MAKERS = {
    "fastloss": _make_fastloss,
    "reference": _make_reference,
    "torch": _make_torch,
    "sklearn": _make_sklearn,
    "jax": _make_jax,
    "floor_np.exp": functools.partial(_make_floor, "floor_np.exp"),
    "floor_np.copyto": functools.partial(_make_floor, "floor_np.copyto"),
}


def make(impl, problem):
    """A zero-argument callable computing ``problem`` with ``impl``, or None if ``impl`` has no such function.

    ``impl`` is one of :data:`IMPLS`; a peer must be :func:`installed`
    (its module is imported here).  Make and call it inside
    ``with threads(problem.threads):``.
    """
    if impl not in _MAKERS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    if problem.function not in SUPPORTS[impl]:
        return None
    return _MAKERS[impl](problem)


def impls_for(function):
    """The implementations that have ``function`` (installed or not), in :data:`IMPLS` order."""
    return [impl for impl in IMPLS if function in SUPPORTS[impl]]


def as_numpy(value):
    """``value`` (a torch tensor, a JAX array, an ndarray, a scalar or a tuple of them) as NumPy."""
    if isinstance(value, tuple):
        return tuple(as_numpy(v) for v in value)
    if hasattr(value, "detach"):  # torch
        value = value.detach()
    return np.asarray(value)
