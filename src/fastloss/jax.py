"""fastloss inside JAX: softmax_cross_entropy and multiclass_hinge under jit, grad and vmap.

``pip install "fastloss[jax]"``.  ``import fastloss`` never imports JAX;
``import fastloss.jax`` does.

>>> import jax, jax.numpy as jnp, fastloss.jax as flj
>>> s = jnp.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
>>> y = jnp.array([0, 1])
>>> loss, g = jax.jit(jax.value_and_grad(flj.softmax_cross_entropy))(s, y)
>>> round(float(loss), 5)
0.31854

How: each function is a :func:`jax.custom_vjp` whose forward pass is one
:func:`jax.pure_callback` into fastloss's fused kernel (the NumPy API of
:mod:`fastloss.losses`), which returns the loss *and* the gradient; the
gradient is kept as the residual, and the backward pass is one product with
the incoming cotangent, traced by XLA.  Under :func:`jax.vmap` the callback
receives the whole batch (``vmap_method="broadcast_all"``) and runs one kernel
call per problem.  The callback costs a fixed overhead per call (measured:
see the README); XLA's typed FFI (``jax.ffi``) would cost less per call but
needs a C handler compiled against XLA's FFI headers for each jaxlib, which
fastloss's wheels, built without JAX, do not ship (see docs/ARCHITECTURE.md).

The gradient is with respect to the scores; labels, soft targets and class
weights are constants (held by :func:`jax.lax.stop_gradient`).  Inputs are
float32 or float64 (float64 needs ``jax_enable_x64``); float16/bfloat16 are
computed in float32 and the loss returned in their dtype.  A label outside
[0, C) fails the call with fastloss's ValueError, raised by JAX's runtime.
"""

from __future__ import annotations

import functools
from typing import Any, Literal, Optional

import jax
import jax.numpy as jnp
import numpy as np

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


def _call(fn_name: str, opts: tuple, reduction: str, scores, y, cw):
    n = scores.shape[-2]
    loss_shape = scores.shape[:-2] + ((n,) if reduction == "none" else ())
    result = (jax.ShapeDtypeStruct(loss_shape, scores.dtype),
              jax.ShapeDtypeStruct(scores.shape, scores.dtype))
    args = (scores, y) + ((cw,) if cw is not None else ())
    return jax.pure_callback(_host(fn_name, opts, cw is not None, reduction), result, *args,
                             vmap_method="broadcast_all")


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
    cw = None
    if class_weight is not None:
        cw = jax.lax.stop_gradient(jnp.asarray(class_weight, dtype=scores.dtype))
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
    opts = (("margin", float(margin)), ("squared", bool(squared)), ("variant", variant))
    return _fused("multiclass_hinge", opts, reduction, scores, y, cw).astype(dtype)
