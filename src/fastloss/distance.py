"""Distance-based losses: validated wrappers over one fused kernel.

``squared_error``, ``absolute_error``, ``huber`` and ``smooth_l1`` are losses of the
difference :math:`d = \\hat y - y` between a prediction and its target (the
regression losses; the margin-based losses of binary.py and losses.py look at
:math:`y \\hat y` instead).  Each checks its arguments once (see _validation.py),
then runs through the shared tail of _base.py on the kernel build in use
(_dispatch.py).  The kernel is ``distance`` in kernels/distance.pxi (the
elementwise loops in simd/distance.h), whose fast entry ``distance_fast`` takes the
common call (arrays already in kernel form, no weights) before any Python check; the
NumPy twins are in fastloss.reference.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from . import _base, _dispatch, _docs
from . import _validation as v

__all__ = ["absolute_error", "huber", "smooth_l1", "squared_error"]

_Loss = tuple[float | npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]] | None]

#: The shared parts of the four docstrings.
_PARAMETERS = """pred : array_like of float32 or float64, any shape
        The predictions.  Need not be contiguous or writeable.
    target : array_like of the shape of pred
        Real values (any integer, bool or float dtype), converted to the dtype of
        ``pred``."""
_WEIGHTS = """reduction : {"mean", "sum", "none"}
    sample_weight : array_like of shape (N,) or of the shape of pred, optional
        Finite, non-negative weight per row (each of its elements; N =
        ``pred.shape[0]``) or per element."""
_REDUCTION = """With sample weights :math:`w` (default 1): ``"none"`` gives the array
    :math:`(w L)` of the shape of ``pred``, ``"sum"`` :math:`\\sum w L`, ``"mean"``
    :math:`\\sum w L / \\sum w` over all elements (a row's weight counts once per
    element of the row; 0.0 with a zero gradient if the total weight is 0).  The
    gradient (with respect to ``pred``; that with respect to ``target`` is its
    negative) is that of the returned loss (for ``"none"``, of its sum)."""
_TORCH = """Without weights it equals ``torch.nn.functional.{name}(pred, target, {extra}reduction=r)``
    in value and gradient for every reduction ``r`` (up to rounding: the sums here
    are accumulated in double).  torch has no weights for it; with them this is the
    weighted sum of torch's ``reduction="none"`` losses, and the mean divides by the
    total weight."""


def _fill(name: str, extra: str = "") -> Any:
    return _docs.fill(parameters=_PARAMETERS, weights=_WEIGHTS, reduction=_REDUCTION,
                      torch=_TORCH.format(name=name, extra=extra),
                      grad_out=_docs.grad_out("pred"),
                      returns=_docs.loss_returns("pred", "of the shape of pred"))


def _param(kind, param):
    """Huber's δ (> 0) or smooth L1's β (>= 0), checked; 0.0 for the other kinds."""
    if kind == "huber":
        d = v.finite_real(param, "delta", low=0.0)
        if d <= 0.0:
            raise ValueError(f"delta must be > 0, got {param!r}")
        return d
    if kind == "smooth_l1":
        return v.finite_real(param, "beta", low=0.0)
    return 0.0


def _distance(kind, pred, target, reduction, sample_weight, grad, out, param=0.0):
    """The shared body: the fast entry, else checks, buffers, the kernel, ``(loss, grad)``."""
    fast = _dispatch.kernels.distance_fast(pred, target, kind, param, reduction, sample_weight,
                                           grad, out)
    if fast is not None:  # the common call, checked and run in C (see kernels/distance.pxi)
        return fast
    param = _param(kind, param)
    x = v.float_array(pred, "pred")
    t = v.regression_target(target, x, "target")
    reduction = v.reduction(reduction)
    sw, per_row = None, True
    if sample_weight is not None:
        sw_shape = np.shape(sample_weight)
        if sw_shape == x.shape or x.ndim == 0:
            sw = v.weights(np.reshape(sample_weight, -1), x.size, "sample_weight", "one per element")
            per_row = False
        else:
            sw = v.weights(
                sample_weight, x.shape[0], "sample_weight",
                "one weight per row of pred" + (f", or shape {x.shape}" if x.ndim > 1 else ""),
            )
    grad = v.flag(grad, "grad")
    bufs = _base.buffers(x, out, pred, grad, reduction, per_element=True, source_name="pred",
                         reads=(("target", target), ("target", t), ("sample_weight", sw)))
    if reduction == "mean":
        sw = v.scaled_for_mean(sw)
    k = x.size // x.shape[0] if x.ndim and x.shape[0] else 1
    _, loss = _dispatch.kernels.distance(
        x.reshape(-1), t.reshape(-1), kind=kind, reduction=reduction, param=param, k_cols=k,
        sample_weight=sw, weight_per_row=per_row, grad=_base.flat(bufs[0]),
        loss_out=_base.flat(bufs[1]),
    )
    return _base.finish(-1, loss, bufs, None)


@_fill("mse_loss")
def squared_error(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    reduction: Literal["mean", "sum", "none"] = "mean",
    sample_weight: npt.ArrayLike | None = None,
    grad: bool = True,
    out: npt.NDArray[np.floating[Any]] | None = None,
) -> _Loss:
    """Squared error (the L2 / MSE loss) and its gradient, fused in one pass.

    .. math:: L = (\\hat y - y)^2, \\qquad \\frac{\\partial L}{\\partial \\hat y} = 2 (\\hat y - y)

    elementwise; %(reduction)s

    %(torch)s

    Parameters
    ----------
    %(parameters)s
    %(weights)s
    %(grad_out)s

    %(returns)s

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> loss, g = fl.squared_error(np.array([1.0, 2.0, 4.0]), [1, 1, 1])
    >>> round(loss, 6), g.round(6).tolist()
    (3.333333, [0.0, 0.666667, 2.0])
    """
    return _distance("squared", pred, target, reduction, sample_weight, grad, out)


@_fill("l1_loss")
def absolute_error(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    reduction: Literal["mean", "sum", "none"] = "mean",
    sample_weight: npt.ArrayLike | None = None,
    grad: bool = True,
    out: npt.NDArray[np.floating[Any]] | None = None,
) -> _Loss:
    """Absolute error (the L1 loss) and its (sub)gradient, fused in one pass.

    .. math:: L = |\\hat y - y|, \\qquad \\frac{\\partial L}{\\partial \\hat y} = \\operatorname{sign}(\\hat y - y)

    elementwise, with torch's subgradient at the kink: 0 where :math:`\\hat y = y`
    (torch's ``sign(0) = 0``; any value in [-1, 1] is a subgradient there), and 0
    where the difference is NaN (torch's ``sign(NaN)``; the loss is NaN).
    %(reduction)s

    %(torch)s

    Parameters
    ----------
    %(parameters)s
    %(weights)s
    %(grad_out)s

    %(returns)s

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> loss, g = fl.absolute_error(np.array([0.0, 1.0, 3.0]), [1, 1, 1], reduction="sum")
    >>> loss, g.tolist()
    (3.0, [-1.0, 0.0, 1.0])
    """
    return _distance("absolute", pred, target, reduction, sample_weight, grad, out)


@_fill("huber_loss", "delta=delta, ")
def huber(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    delta: float = 1.0,
    reduction: Literal["mean", "sum", "none"] = "mean",
    sample_weight: npt.ArrayLike | None = None,
    grad: bool = True,
    out: npt.NDArray[np.floating[Any]] | None = None,
) -> _Loss:
    """Huber loss and its gradient, fused in one pass.

    With :math:`d = \\hat y - y`, elementwise:

    .. math::

        L = \\begin{cases} \\tfrac12 d^2 & |d| < \\delta \\\\
                           \\delta (|d| - \\tfrac12 \\delta) & \\text{otherwise} \\end{cases}
        \\qquad \\frac{\\partial L}{\\partial \\hat y} = \\operatorname{clip}(d, -\\delta, \\delta)

    quadratic near 0, linear (slope :math:`\\delta`) beyond: the squared error's
    smoothness with the absolute error's robustness to outliers.  It is
    :math:`\\delta` times :func:`smooth_l1` with :math:`\\beta = \\delta`.
    %(reduction)s

    %(torch)s

    Parameters
    ----------
    %(parameters)s
    delta : float > 0
        :math:`\\delta`, where the loss turns from quadratic to linear.
    %(weights)s
    %(grad_out)s

    %(returns)s

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> loss, g = fl.huber(np.array([0.5, 3.0]), [0, 0], reduction="none")
    >>> loss.tolist(), g.tolist()
    ([0.125, 2.5], [0.5, 1.0])
    """
    return _distance("huber", pred, target, reduction, sample_weight, grad, out, delta)


@_fill("smooth_l1_loss", "beta=beta, ")
def smooth_l1(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    beta: float = 1.0,
    reduction: Literal["mean", "sum", "none"] = "mean",
    sample_weight: npt.ArrayLike | None = None,
    grad: bool = True,
    out: npt.NDArray[np.floating[Any]] | None = None,
) -> _Loss:
    """Smooth L1 loss and its gradient, fused in one pass.

    With :math:`d = \\hat y - y`, elementwise:

    .. math::

        L = \\begin{cases} d^2 / (2\\beta) & |d| < \\beta \\\\
                           |d| - \\tfrac12 \\beta & \\text{otherwise} \\end{cases}
        \\qquad \\frac{\\partial L}{\\partial \\hat y} = \\operatorname{clip}(d / \\beta, -1, 1)

    (Fast R-CNN's loss; :func:`huber` divided by :math:`\\beta`).  With
    :math:`\\beta = 0` it is :func:`absolute_error`, as in torch.
    %(reduction)s

    %(torch)s

    Parameters
    ----------
    %(parameters)s
    beta : float >= 0
        :math:`\\beta`, where the loss turns from quadratic to linear.
    %(weights)s
    %(grad_out)s

    %(returns)s

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> loss, g = fl.smooth_l1(np.array([0.5, 3.0]), [0, 0], beta=2.0, reduction="none")
    >>> loss.tolist(), g.tolist()
    ([0.0625, 2.0], [0.25, 1.0])
    """
    return _distance("smooth_l1", pred, target, reduction, sample_weight, grad, out, beta)
