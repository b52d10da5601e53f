"""Binary losses and the sigmoid: validated wrappers over the fused kernels.

``binary_hinge``, ``sigmoid_cross_entropy`` and ``sigmoid`` check their
arguments once (see _validation.py), then run through the shared tail of
_base.py on the kernel build in use (_dispatch.py).  The kernels are in
kernels/binary.pxi (the elementwise loops in simd/binary.h); their NumPy
twins in fastloss.reference.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from . import _base, _dispatch, _docs
from . import _validation as v

__all__ = ["binary_hinge", "sigmoid", "sigmoid_cross_entropy"]


def _bad_value(y, flat_index):
    """``y[i] = value`` (or ``y[i, k] = value``) of the original array for an error message."""
    y = np.asarray(y)
    idx = np.unravel_index(flat_index, y.shape)
    where = ", ".join(str(int(i)) for i in idx)
    return f"y[{where}] = {y[idx]!r}"


def _bad_sign(y, bad, _detail):
    """The rejection of the binary_hinge kernel: y at flat index ``bad`` is not ±1."""
    hint = ""
    if np.isin(np.asarray(y), (0, 1)).all():
        hint = "; y holds 0/1 labels: convert them with 2 * y - 1"
    raise ValueError(
        f"{_bad_value(y, bad)} is not a valid label: binary_hinge needs labels -1 or +1{hint}"
    )


def _bad_target(y, bad, _detail):
    """The rejection of the sigmoid_cross_entropy kernel: y at flat index ``bad`` is outside [0, 1]."""
    raise ValueError(
        f"{_bad_value(y, bad)} is not a valid target: sigmoid_cross_entropy needs targets "
        "in [0, 1] (0/1 labels or probabilities)"
    )


def sigmoid(x: npt.ArrayLike, *, out: npt.NDArray[np.floating[Any]] | None = None) -> npt.NDArray[np.floating[Any]]:
    """The logistic sigmoid, elementwise, computed without overflow.

    .. math:: \\sigma(x) = \\frac{1}{1 + e^{-x}}

    evaluated as :math:`1 / (1 + e^{-|x|})` for :math:`x \\ge 0` and
    :math:`e^{-|x|} / (1 + e^{-|x|})` otherwise, so no exponential overflows,
    and a result is exactly 0 or 1 only where the true value rounds there
    (e.g. ``sigmoid(np.float32(-100))`` is 3.7e-44, a subnormal, not 0).
    ``±inf`` gives 1 and 0; NaN gives NaN.

    Parameters
    ----------
    x : array_like of float32 or float64, any shape
    out : ndarray, optional
        C-contiguous, writeable array of the same dtype and shape that
        receives the result; may be ``x`` itself (in place).

    Returns
    -------
    p : ndarray of the dtype and shape of x
        ``out`` if it was given.

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> fl.sigmoid(np.array([0.0, 2.0, -800.0, np.inf])).round(6).tolist()
    [0.5, 0.880797, 0.0, 1.0]
    """
    a = v.float_array(x, "x")
    o = np.empty_like(a) if out is None else v.output(out, a, x, source_name="x")
    _dispatch.kernels.sigmoid(a.reshape(-1), o.reshape(-1))
    return o


@_docs.fill(grad_out=_docs.grad_out(), returns=_docs.loss_returns())
def binary_hinge(
    scores: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    margin: float = 1.0,
    squared: bool = False,
    reduction: Literal["mean", "sum", "none"] = "mean",
    sample_weight: npt.ArrayLike | None = None,
    grad: bool = True,
    out: npt.NDArray[np.floating[Any]] | None = None,
) -> tuple[float | npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]] | None]:
    """Binary hinge (SVM) loss with labels ±1, and its gradient, fused in one pass.

    .. math:: L_i = \\max(0,\\ \\Delta - y_i s_i)

    (squared when ``squared=True``: the L2-SVM loss).  With sample weights
    :math:`w_i` (default 1): ``"none"`` gives :math:`(w_i L_i)`, ``"sum"``
    :math:`\\sum_i w_i L_i` and ``"mean"`` :math:`\\sum_i w_i L_i / \\sum_i w_i`
    (0.0 with a zero gradient if the total weight is 0).  The gradient is that
    of the returned loss (for ``"none"``, of its sum); at the kink
    :math:`\\Delta - y_i s_i = 0` the subgradient 0 is used:

    .. math::

        \\frac{\\partial L_i}{\\partial s_i} = -y_i\\,[\\Delta - y_i s_i > 0]
        \\quad\\text{or, squared,}\\quad -2 y_i \\max(0, \\Delta - y_i s_i)

    Correspondence: ``torch.nn.functional.hinge_embedding_loss`` is a
    different loss; this is ``sklearn.svm.LinearSVC``'s ``loss="hinge"`` /
    ``"squared_hinge"`` data term, and ``optax.hinge_loss`` with margin 1.

    Parameters
    ----------
    scores : array_like of float32 or float64, shape (N,)
        Decision values (``X @ w + b``).  Need not be contiguous or writeable.
    y : array_like, shape (N,)
        Labels -1 or +1, of any integer or float dtype.  Labels in {0, 1}
        are an error: convert them with ``2 * y - 1``.
    margin : float >= 0
        :math:`\\Delta`.
    squared : bool
        Square the hinge.
    reduction : {"mean", "sum", "none"}
    sample_weight : array_like, shape (N,), optional
        Finite, non-negative weight per sample.
    %(grad_out)s

    %(returns)s

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> loss, g = fl.binary_hinge(np.array([2.0, 0.5, -1.0]), [1, 1, 1], reduction="none")
    >>> loss.tolist(), g.tolist()
    ([0.0, 0.5, 2.0], [0.0, -1.0, -1.0])
    """
    s = v.float_array(scores, "scores", ndims=(1,))
    n = s.shape[0]
    yy = v.binary_labels(y, s.shape)
    reduction = v.reduction(reduction)
    delta = v.finite_real(margin, "margin", low=0.0)
    squared = v.flag(squared, "squared")
    sw = v.weights(sample_weight, n, "sample_weight", "one weight per score")
    grad = v.flag(grad, "grad")
    bufs = _base.buffers(s, out, scores, grad, reduction, per_element=True,
                         reads=(("y", y), ("y", yy), ("sample_weight", sw)))
    if reduction == "mean":
        sw = v.scaled_for_mean(sw)
    bad, loss = _dispatch.kernels.binary_hinge(
        s, yy, reduction=reduction, margin=delta, squared=squared, sample_weight=sw,
        grad=bufs[0], loss_out=bufs[1],
    )
    return _base.finish(bad, loss, bufs, _bad_sign, y)


@_docs.fill(grad_out=_docs.grad_out("logits"),
            returns=_docs.loss_returns("logits", "of the shape of logits"))
def sigmoid_cross_entropy(
    logits: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    reduction: Literal["mean", "sum", "none"] = "mean",
    pos_weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    grad: bool = True,
    out: npt.NDArray[np.floating[Any]] | None = None,
) -> tuple[float | npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]] | None]:
    """Sigmoid (binary) cross-entropy on logits, and its gradient, fused in one pass.

    For logits :math:`x` and targets :math:`y \\in [0, 1]` (hard 0/1 labels or
    soft labels), with the positive-class weight :math:`p` of the column
    (default 1):

    .. math::

        L = -\\big[p\\, y \\log \\sigma(x) + (1 - y) \\log(1 - \\sigma(x))\\big]
          = (1 + (p - 1) y)\\, \\log(1 + e^{-|x|}) + |x| \\cdot
            \\begin{cases} 1 - y & x \\ge 0 \\\\ p\\, y & x < 0 \\end{cases}

    The right-hand side is how it is computed: no exponential overflows for
    any finite :math:`x` (up to the dtype's maximum), nothing cancels for
    hard labels, and :math:`x = \\pm\\infty` gives the limit (0 or
    :math:`\\infty`; torch gives NaN for :math:`x = +\\infty, y = 1`).  The
    gradient is

    .. math:: \\frac{\\partial L}{\\partial x} = (1 - y)\\,\\sigma(x) - p\\, y\\, (1 - \\sigma(x))

    (:math:`\\sigma(x) - y` without ``pos_weight``).  Logits of shape (N, K)
    are K independent binary problems per row.  With sample weights
    :math:`w` (one per row, or one per element): ``"none"`` gives the array
    :math:`(w L)` of the shape of ``logits``, ``"sum"`` :math:`\\sum w L`,
    ``"mean"`` :math:`\\sum w L / \\sum w` over all N·K elements (a row's
    weight counts K times; 0.0 with a zero gradient if the total weight is 0).
    The gradient is that of the returned loss (for ``"none"``, of its sum).

    Correspondence: ``torch.nn.functional.binary_cross_entropy_with_logits(
    logits, y, weight=w, pos_weight=p, reduction=r)`` with ``w`` broadcast
    to the shape of ``logits`` (``sample_weight[:, None]`` for per-row
    weights) is equal for ``r`` = "none" and "sum", and for "mean" without
    sample weights.  With sample weights torch's mean divides by the number
    of elements N·K, fastloss's by the total weight :math:`\\sum w`: torch's
    mean is fastloss's mean times :math:`\\sum w / (N K)`.

    Parameters
    ----------
    logits : array_like of float32 or float64, shape (N,) or (N, K)
        Need not be contiguous or writeable.
    y : array_like, shape of logits
        Targets in [0, 1]: floats (soft labels allowed) or integers/bools
        0 and 1.
    reduction : {"mean", "sum", "none"}
    pos_weight : float or array_like of shape (K,), optional
        Finite, non-negative weight of the positive term, per column (for
        (N,) logits a scalar or shape (1,)).
    sample_weight : array_like of shape (N,) or of the shape of logits, optional
        Finite, non-negative weight per row (each of its K elements) or per
        element.
    %(grad_out)s

    %(returns)s

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> loss, g = fl.sigmoid_cross_entropy(np.array([0.0, 3.0, -3.0]), [1, 1, 0.25])
    >>> round(loss, 6), g.round(6).tolist()
    (0.513441, [-0.166667, -0.015809, -0.067525])
    """
    x = v.float_array(logits, "logits", ndims=(1, 2))
    k = 1 if x.ndim == 1 else x.shape[1]
    n = x.shape[0]
    yy = v.binary_labels(y, x.shape)
    reduction = v.reduction(reduction)
    pw = None
    if pos_weight is not None:
        pw_arr = np.asarray(pos_weight)
        if pw_arr.ndim == 0 and pw_arr.dtype.kind in "fiub":
            pw_arr = np.full(k, pw_arr, dtype=np.float64)
        pw = v.weights(pw_arr, k, "pos_weight", "one weight per column of logits")
    sw, per_row = None, True
    if sample_weight is not None:
        sw_shape = np.shape(sample_weight)
        if x.ndim == 2 and sw_shape == x.shape:
            sw = v.weights(np.reshape(sample_weight, -1), x.size, "sample_weight", "one per element")
            per_row = False
        else:
            sw = v.weights(
                sample_weight, n, "sample_weight",
                "one weight per row of logits" + (f", or shape {x.shape}" if x.ndim == 2 else ""),
            )
    grad = v.flag(grad, "grad")
    bufs = _base.buffers(x, out, logits, grad, reduction, per_element=True, source_name="logits",
                         reads=(("y", y), ("y", yy), ("sample_weight", sw), ("pos_weight", pw)))
    if reduction == "mean":
        sw = v.scaled_for_mean(sw)
    bad, loss = _dispatch.kernels.sigmoid_cross_entropy(
        x.reshape(-1), yy, reduction=reduction, k_cols=k, pos_weight=pw, sample_weight=sw,
        weight_per_row=per_row, grad=_base.flat(bufs[0]), loss_out=_base.flat(bufs[1]),
    )
    return _base.finish(bad, loss, bufs, _bad_target, y)
