"""CS231n's linear-classifier losses ``(W, X, y, reg) -> (loss, dW)`` and its gradient check.

:func:`svm_loss` and :func:`softmax_loss` are CS231n's ``svm_loss_vectorized``
and ``softmax_loss_vectorized``, computed in one pass over X by the training
engine's machinery (``linear_gradient``, kernels/train.pxi, simd/train.h):
for a group of rows, the scores x·W, the loss's gradient of the scores by the
loops of :func:`fastloss.multiclass_hinge` / :func:`fastloss.softmax_cross_entropy`,
and dW += xᵀ·dS while the rows are in cache -- X is read once, where the
textbook's two matrix products read it twice.  The L2 penalty is summed by a
kernel (``sum_squares``, kernels/sgd.pxi).  Their NumPy twins are in
:mod:`fastloss.reference`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _dispatch, _docs, _sparse
from . import _validation as v
from .losses import multiclass_hinge, softmax_cross_entropy

__all__ = ["gradcheck", "softmax_loss", "svm_loss"]

#: The X and y of the docstrings.
_ARGS = ("array_like of the dtype of W, shape (N, D), or a scipy.sparse matrix of it (CSR read "
         "in place; the sum over a row's non-zeros)", "array_like of int, shape (N,)")


def _check(W, X, y, reg):
    """Validated (W, X, y, reg): W (D, C) and X (N, D) C-contiguous of one float dtype."""
    W = v.scores_2d(W, "W")
    Xa = np.asarray(X)
    if Xa.dtype != W.dtype:
        raise TypeError(f"X must have dtype {W.dtype} (that of W), got {Xa.dtype}")
    if Xa.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {Xa.shape}")
    if Xa.shape[1] != W.shape[0]:
        raise ValueError(
            f"X has {Xa.shape[1]} features (columns) but W has {W.shape[0]} rows; "
            "W must be (n_features, n_classes)"
        )
    X = np.ascontiguousarray(Xa)
    yy = v.labels(y, X.shape[0])
    reg = v.finite_real(reg, "reg", low=0.0)
    return W, X, yy, reg


def _loss(loss, W, X, y, reg, margin=1.0):
    if _sparse.is_sparse(X):  # SciPy sparse X: the CSR kernel (see _sparse.py)
        return _sparse.linear_loss(loss, W, X, y, reg, margin)
    W, X, yy, reg = _check(W, X, y, reg)
    if X.shape[0] and X.shape[1]:
        Wt = np.ascontiguousarray(W.T)  # (C, D): both passes run along the rows of X
        dWt = np.empty_like(Wt)
        total = _dispatch.kernels.linear_gradient(X, np.asarray(yy, np.int64), Wt, dWt,
                                                  loss=loss, margin=margin)
        dW = np.ascontiguousarray(dWt.T)
    else:  # no rows (the mean of nothing is 0) or no features: the products are trivial
        scores = np.matmul(X, W)
        if loss == "softmax":
            total, _ = softmax_cross_entropy(scores, yy, out=scores)
        else:
            total, _ = multiclass_hinge(scores, yy, out=scores, margin=margin)
        dW = np.matmul(X.T, scores)
    total = float(total)
    if reg != 0.0:
        total += reg * _dispatch.kernels.sum_squares(W.reshape(-1))
        dW += (2.0 * reg) * W
    return total, dW


@_docs.fill(parameters=_docs.linear_parameters(*_ARGS, margin=True),
            returns=_docs.LINEAR_RETURNS)
def svm_loss(
    W: npt.ArrayLike, X: npt.ArrayLike, y: npt.ArrayLike, reg: float = 0.0, *, margin: float = 1.0
) -> tuple[float, npt.NDArray[np.floating[Any]]]:
    """Multiclass SVM loss of a linear classifier and its gradient (CS231n's ``svm_loss_vectorized``).

    .. math::

        S = XW, \\qquad
        L = \\frac{1}{N} \\sum_i \\sum_{j \\ne y_i} \\max(0,\\ S_{ij} - S_{i,y_i} + \\Delta)
            + \\lambda \\sum W^2, \\qquad
        \\frac{\\partial L}{\\partial W} = X^\\top \\frac{\\partial L}{\\partial S} + 2 \\lambda W

    %(parameters)s

    %(returns)s

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> W = np.zeros((3, 4)); X = np.ones((2, 3))
    >>> loss, dW = fl.svm_loss(W, X, [0, 1])
    >>> loss, dW.shape           # all scores equal: each wrong class costs the margin
    (3.0, (3, 4))
    """
    delta = v.finite_real(margin, "margin", low=0.0)
    return _loss("hinge", W, X, y, reg, margin=delta)


@_docs.fill(parameters=_docs.linear_parameters(*_ARGS), returns=_docs.LINEAR_RETURNS)
def softmax_loss(
    W: npt.ArrayLike, X: npt.ArrayLike, y: npt.ArrayLike, reg: float = 0.0
) -> tuple[float, npt.NDArray[np.floating[Any]]]:
    """Softmax cross-entropy loss of a linear classifier and its gradient (CS231n's ``softmax_loss_vectorized``).

    .. math::

        S = XW, \\qquad
        L = \\frac{1}{N} \\sum_i -\\log \\frac{e^{S_{i,y_i}}}{\\sum_j e^{S_{ij}}} + \\lambda \\sum W^2,
        \\qquad
        \\frac{\\partial L}{\\partial W} = X^\\top (P - Y) / N + 2 \\lambda W

    with :math:`P` the row-wise softmax of :math:`S` and :math:`Y` the one-hot labels.

    %(parameters)s

    %(returns)s

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> loss, dW = fl.softmax_loss(np.zeros((5, 10)), np.ones((3, 5)), [0, 1, 2])
    >>> round(loss, 6)           # log 10: a uniform guess over ten classes
    2.302585
    """
    return _loss("softmax", W, X, y, reg)


def gradcheck(
    f: Callable[[npt.NDArray[np.floating[Any]]], Any],
    x: npt.NDArray[np.floating[Any]],
    analytic_grad: npt.ArrayLike,
    *,
    num_checks: int = 10,
    h: float = 1e-5,
    seed: int | np.random.Generator | None = None,
) -> float:
    """Sparse numerical gradient check (CS231n's ``grad_check_sparse``).

    At ``num_checks`` coordinates drawn at random, compares the analytic
    gradient with the centred difference

    .. math:: \\frac{f(x + h e_k) - f(x - h e_k)}{2h}

    and returns the worst relative error
    :math:`|g_\\text{num} - g_\\text{ana}| / (|g_\\text{num}| + |g_\\text{ana}|)`
    (0 where both are 0).  Below ~1e-7 (float64) the gradient is right; kinks
    of the hinge loss can give an occasional larger value.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns the loss, or a tuple whose first item is the loss
        (so ``lambda W: fl.svm_loss(W, X, y)`` works as it is).
    x : ndarray of float
        The point; perturbed in place during the check and restored exactly
        (also if ``f`` raises).  Use float64: float32 is too coarse for
        centred differences.
    analytic_grad : array_like, shape of x
    num_checks : int >= 1
    h : float > 0
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    float
        The largest relative error found.

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> rng = np.random.default_rng(0)
    >>> W = rng.normal(size=(5, 3)) * 0.01; X = rng.normal(size=(8, 5)); y = rng.integers(0, 3, 8)
    >>> loss, dW = fl.softmax_loss(W, X, y, reg=0.1)
    >>> fl.gradcheck(lambda w: fl.softmax_loss(w, X, y, reg=0.1), W, dW, seed=0) < 1e-7
    True
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError("x must be a floating-point numpy.ndarray (it is perturbed in place)")
    if not x.flags.writeable:
        raise ValueError("x must be writeable (it is perturbed in place and restored)")
    g = np.asarray(analytic_grad)
    if g.shape != x.shape:
        raise ValueError(f"analytic_grad must have shape {x.shape} (that of x), got {g.shape}")
    if isinstance(num_checks, bool) or not isinstance(num_checks, (int, np.integer)) or num_checks < 1:
        raise ValueError(f"num_checks must be a positive integer, got {num_checks!r}")
    h = v.finite_real(h, "h")
    if h <= 0:
        raise ValueError(f"h must be > 0, got {h!r}")
    if x.size == 0:
        return 0.0
    rng = np.random.default_rng(seed)

    def value(out):
        return float(out[0] if isinstance(out, tuple) else out)

    worst = 0.0
    for _ in range(int(num_checks)):
        ix = tuple(int(rng.integers(m)) for m in x.shape)
        old = x[ix].copy()
        try:
            x[ix] = old + h
            fxph = value(f(x))
            x[ix] = old - h
            fxmh = value(f(x))
        finally:
            x[ix] = old
        numeric = (fxph - fxmh) / (2 * h)
        analytic = float(g[ix])
        denom = abs(numeric) + abs(analytic)
        err = 0.0 if denom == 0.0 else abs(numeric - analytic) / denom
        if math.isnan(err):
            return math.nan
        worst = max(worst, err)
    return worst
