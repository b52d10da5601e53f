"""fastloss inside JAX: softmax_cross_entropy and multiclass_hinge under jit, grad and vmap.

``pip install "fastloss[jax]"``.  ``import fastloss`` never imports JAX;
``import fastloss.jax`` does.

>>> import jax, jax.numpy as jnp, fastloss.jax as flj
>>> s = jnp.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
>>> y = jnp.array([0, 1])
>>> loss, g = jax.jit(jax.value_and_grad(flj.softmax_cross_entropy))(s, y)
>>> round(float(loss), 5)
0.31854

How: each function is a :func:`jax.custom_vjp` whose forward pass runs
fastloss's fused kernel once, for the loss *and* the gradient; the gradient is
kept as the residual, and the backward pass is one product with the incoming
cotangent, traced by XLA.  The kernel is reached through XLA's typed FFI
(:func:`jax.ffi.ffi_call`): each kernel build carries C handlers
(kernels/xla.pxi) that XLA calls on its own buffers, with no copy and no Python
in the compiled program, registered with :func:`jax.ffi.register_ffi_target` on
first use.  Soft targets, and a jaxlib whose FFI cannot take the handlers, go
through :func:`jax.pure_callback` into the NumPy API instead, which copies the
arrays in and out of XLA (about 0.5 ms per call at (4096, 100) float32; the
FFI call costs a few microseconds over the kernel: see the README).  Under
:func:`jax.vmap` the handler (or the callback) receives the whole batch
(``vmap_method="broadcast_all"``) and runs one kernel call per problem.

The gradient is with respect to the scores; labels, soft targets and class
weights are constants (held by :func:`jax.lax.stop_gradient`).  Inputs are
float32 or float64 (float64 needs ``jax_enable_x64``); float16/bfloat16 are
computed in float32 and the loss returned in their dtype.  A label outside
[0, C) fails the call with JAX's runtime error, carrying fastloss's message.
The options are checked when the function is called; the values of class
weights are not (as in code written in ``jax.numpy``).
"""

from __future__ import annotations

import functools
from typing import Any, Literal, Optional

import jax
import jax.numpy as jnp
import numpy as np

from . import _dispatch
from . import losses as _losses

__all__ = ["multiclass_hinge", "softmax_cross_entropy"]

_REDUCTIONS = ("mean", "sum", "none")


def _host(fn_name: str, opts: tuple, has_cw: bool, reduction: str):
    """The callback: fastloss's kernel over every problem of a (batched) call."""
    fn = getattr(_losses, fn_name)
    kwargs = dict(opts)

    def run(scores, y, *cw):
        scores = np.asarray(scores)
        y = np.asarray(y)
        lead = scores.shape[:-2]
        n = scores.shape[-2]
        grad = np.empty_like(scores)
        loss = np.empty(lead + ((n,) if reduction == "none" else ()), scores.dtype)
        w = np.asarray(cw[0]) if has_cw else None
        for b in np.ndindex(*lead):
            lb, _ = fn(scores[b], y[b], reduction=reduction, out=grad[b],
                       class_weight=None if w is None else (w[b] if w.ndim > 1 else w),
                       **kwargs)
            loss[b] = lb
        return loss, grad

    return run


def _callback_call(fn_name: str, opts: tuple, reduction: str, scores, y, cw):
    n = scores.shape[-2]
    loss_shape = scores.shape[:-2] + ((n,) if reduction == "none" else ())
    result = (jax.ShapeDtypeStruct(loss_shape, scores.dtype),
              jax.ShapeDtypeStruct(scores.shape, scores.dtype))
    args = (scores, y) + ((cw,) if cw is not None else ())
    return jax.pure_callback(_host(fn_name, opts, cw is not None, reduction), result, *args,
                             vmap_method="broadcast_all")


_REDUCTION_CODES = {"none": 0, "sum": 1, "mean": 2}
#: The kernel builds whose XLA handlers are registered: isa -> True, or False if
#: this jaxlib cannot take them.
_registered: dict = {}
#: "ffi" (the default, where it can be registered) or "callback" (jax.pure_callback).
_BACKEND = "ffi"


def _ffi_target(fn_name: str) -> Optional[str]:
    """The name of the FFI target of ``fn_name`` for the kernel build in use, or None."""
    isa = _dispatch.isa
    if isa not in _registered:
        try:
            for name, capsule in _dispatch.kernels.xla_handlers().items():
                jax.ffi.register_ffi_target(f"fastloss_{isa}_{name}", capsule, platform="cpu",
                                            api_version=1)
            _registered[isa] = True
        except (AttributeError, TypeError, ValueError, RuntimeError):
            _registered[isa] = False
    return f"fastloss_{isa}_{fn_name}" if _registered[isa] else None


def _ffi_attrs(fn_name: str, opts: tuple, reduction: str, weighted: bool) -> dict:
    o = dict(opts)
    attrs = {"reduction": np.int32(_REDUCTION_CODES[reduction]), "weights": np.int32(weighted)}
    if fn_name == "softmax_cross_entropy":
        attrs["label_smoothing"] = np.float64(o["label_smoothing"])
        attrs["use_ignore"] = np.int32("ignore_index" in o)
        attrs["ignore_index"] = np.int64(o.get("ignore_index", 0))
    else:
        attrs["margin"] = np.float64(o["margin"])
        attrs["squared"] = np.int32(o["squared"])
        attrs["crammer_singer"] = np.int32(o["variant"] == "crammer_singer")
    return attrs


def _call(fn_name: str, opts: tuple, reduction: str, scores, y, cw):
    """(loss, gradient) from the kernel: through the FFI handler, or the callback."""
    target = None
    if _BACKEND == "ffi" and not jnp.issubdtype(y.dtype, jnp.floating):
        target = _ffi_target(fn_name)
    if target is None:
        return _callback_call(fn_name, opts, reduction, scores, y, cw)
    n = scores.shape[-2]
    loss_shape = scores.shape[:-2] + ((n,) if reduction == "none" else ())
    call = jax.ffi.ffi_call(target, (jax.ShapeDtypeStruct(loss_shape, scores.dtype),
                                     jax.ShapeDtypeStruct(scores.shape, scores.dtype)),
                            vmap_method="broadcast_all")
    args = (scores, y) + ((cw,) if cw is not None else ())
    return call(*args, **_ffi_attrs(fn_name, opts, reduction, cw is not None))


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2))
def _fused(fn_name, opts, reduction, scores, y, cw):
    return _call(fn_name, opts, reduction, scores, y, cw)[0]


def _fused_fwd(fn_name, opts, reduction, scores, y, cw):
    loss, grad = _call(fn_name, opts, reduction, scores, y, cw)
    return loss, grad


def _fused_bwd(fn_name, opts, reduction, grad, ct):
    if reduction == "none":
        ct = ct[..., None]
    return grad * ct, None, None


_fused.defvjp(_fused_fwd, _fused_bwd)


def _prepare(scores, y, class_weight, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    scores = jnp.asarray(scores)
    if not jnp.issubdtype(scores.dtype, jnp.floating):
        raise TypeError(f"scores must be float32 or float64, got {scores.dtype}")
    if scores.ndim != 2:
        raise ValueError(f"scores must have shape (N, C) (use jax.vmap for batches of "
                         f"problems), got {scores.shape}")
    dtype = scores.dtype
    if dtype not in (jnp.float32, jnp.float64):
        scores = scores.astype(jnp.float32)
    y = jax.lax.stop_gradient(jnp.asarray(y))
    if jnp.issubdtype(y.dtype, jnp.floating):
        y = y.astype(scores.dtype)
        if y.shape != scores.shape:
            raise ValueError(f"soft targets must have the scores' shape {scores.shape}, "
                             f"got {y.shape}")
    elif jnp.issubdtype(y.dtype, jnp.integer):
        if y.dtype not in (jnp.int32, jnp.int64):
            y = y.astype(jnp.int32)
        if y.shape != scores.shape[:1]:
            raise ValueError(f"y must have shape ({scores.shape[0]},), got {y.shape}")
    else:
        raise TypeError(f"y must hold class indices (integers) or soft targets, got {y.dtype}")
    cw = None
    if class_weight is not None:
        cw = jax.lax.stop_gradient(jnp.asarray(class_weight, dtype=scores.dtype))
        if cw.shape != scores.shape[1:]:
            raise ValueError(f"class_weight must have shape ({scores.shape[1]},), got {cw.shape}")
    return scores, y, cw, dtype


def softmax_cross_entropy(
    scores: Any,
    y: Any,
    *,
    reduction: Literal["mean", "sum", "none"] = "mean",
    class_weight: Optional[Any] = None,
    label_smoothing: float = 0.0,
    ignore_index: Optional[int] = None,
) -> Any:
    """Softmax cross-entropy of (N, C) scores: :func:`fastloss.softmax_cross_entropy` in JAX.

    .. math:: L_i = -\\sum_k c_k q_{ik} \\log \\mathrm{softmax}(s_i)_k, \\qquad
              q_i = (1-\\varepsilon)\\,\\mathrm{onehot}(y_i) + \\varepsilon / C

    (or soft targets :math:`t_i` in place of the one-hot row);
    ``"mean"`` divides :math:`\\sum_i L_i` by :math:`\\sum_i c_{y_i}` (by N with
    soft targets), as ``torch.nn.functional.cross_entropy`` and fastloss's
    NumPy API do.  Differentiable with respect to ``scores`` (``jax.grad``), and
    usable under ``jax.jit`` and ``jax.vmap`` (a batch of problems).

    Parameters
    ----------
    scores : array, shape (N, C), float32 or float64
    y : array of int, shape (N,), or soft targets of float, shape (N, C)
        Checked as in the NumPy API (class indices in [0, C); distributions).
    reduction : {"mean", "sum", "none"}
    class_weight : array, shape (C,), optional
    label_smoothing : float in [0, 1]
    ignore_index : int, optional

    Returns
    -------
    loss : array, shape () or (N,) for "none"

    Examples
    --------
    >>> import jax, jax.numpy as jnp, fastloss.jax as flj
    >>> s = jnp.zeros((4, 3)); y = jnp.array([0, 1, 2, 0])
    >>> round(float(flj.softmax_cross_entropy(s, y)), 6)
    1.098612
    >>> jax.grad(flj.softmax_cross_entropy)(s, y).shape
    (4, 3)
    """
    scores, y, cw, dtype = _prepare(scores, y, class_weight, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
    if ignore_index is not None and jnp.issubdtype(y.dtype, jnp.floating):
        raise ValueError("ignore_index applies to class-index labels, not to soft targets")
    opts = (("label_smoothing", float(label_smoothing)),)
    if ignore_index is not None:
        opts += (("ignore_index", int(ignore_index)),)
    return _fused("softmax_cross_entropy", opts, reduction, scores, y, cw).astype(dtype)


def multiclass_hinge(
    scores: Any,
    y: Any,
    *,
    reduction: Literal["mean", "sum", "none"] = "mean",
    margin: float = 1.0,
    squared: bool = False,
    variant: Literal["weston_watkins", "crammer_singer"] = "weston_watkins",
    class_weight: Optional[Any] = None,
) -> Any:
    """Multiclass hinge loss of (N, C) scores: :func:`fastloss.multiclass_hinge` in JAX.

    Weston-Watkins (CS231n's SVM loss):
    :math:`L_i = \\sum_{j \\ne y_i} \\max(0, s_{ij} - s_{i,y_i} + \\Delta)` (each
    term squared with ``squared=True``); Crammer-Singer:
    :math:`L_i = \\max(0, \\Delta + \\max_{j \\ne y_i} s_{ij} - s_{i,y_i})`.
    ``"mean"`` divides by :math:`\\sum_i c_{y_i}` (N without class weights).
    Differentiable with respect to ``scores`` (the subgradient 0 at the kink),
    under ``jax.jit``, ``jax.grad`` and ``jax.vmap``.

    Parameters
    ----------
    scores : array, shape (N, C)
    y : array of int, shape (N,)
    reduction : {"mean", "sum", "none"}
    margin : float >= 0
    squared : bool
    variant : {"weston_watkins", "crammer_singer"}
    class_weight : array, shape (C,), optional

    Returns
    -------
    loss : array, shape () or (N,) for "none"

    Examples
    --------
    >>> import jax.numpy as jnp, fastloss.jax as flj
    >>> round(float(flj.multiclass_hinge(jnp.array([[0.1, 0.2, 0.4, 0.8]]), jnp.array([3]))), 4)
    1.3
    """
    scores, y, cw, dtype = _prepare(scores, y, class_weight, reduction)
    if jnp.issubdtype(y.dtype, jnp.floating):
        raise TypeError("multiclass_hinge takes class indices, not soft targets")
    if not margin >= 0.0:
        raise ValueError(f"margin must be >= 0, got {margin!r}")
    if variant not in ("weston_watkins", "crammer_singer"):
        raise ValueError(f"variant must be 'weston_watkins' or 'crammer_singer', got {variant!r}")
    opts = (("margin", float(margin)), ("squared", bool(squared)), ("variant", variant))
    return _fused("multiclass_hinge", opts, reduction, scores, y, cw).astype(dtype)
