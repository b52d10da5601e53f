"""fastloss on Dask: exact loss and gradient over row-chunked dask arrays.

Install with ``pip install "fastloss[dask]"``.  Nothing here is imported by
``import fastloss``: Dask stays an optional dependency.

:func:`svm_loss` and :func:`softmax_loss` are the distributed forms of
:func:`fastloss.svm_loss` and :func:`fastloss.softmax_loss`.  Every row chunk
of ``X`` (with the matching chunk of ``y``) is one task, run wherever Dask's
scheduler puts it -- a thread of the local threaded scheduler or a worker of a
``dask.distributed`` cluster.  A task computes, for its rows only,

    S_k = X_k W,    (loss_k, dS_k) = fastloss kernel with reduction="sum",
    dW_k = X_kᵀ dS_k,    n_k = rows

and the triples are added up by a tree of tasks (``_SPLIT_EVERY`` partials
per node).  The client divides by the global N and adds the L2 terms, so the
result is the full-data mean whatever the chunking: uneven chunks, chunks
whose rows are all of one class and empty chunks give the in-memory result up
to floating-point rounding.  Only W (once per call) and the (D, C) partial
gradients travel; the data stays where it lies.

If a worker dies during a call, ``dask.distributed`` reruns the tasks whose
results it lost on the remaining (or restarted) workers; the tasks are pure,
so the result is the same.
"""

import numpy as np

try:
    import dask
    import dask.array as da
except ImportError as exc:  # pragma: no cover - exercised only without dask
    raise ImportError(
        'fastloss.dask needs Dask; install it with: pip install "fastloss[dask]"'
    ) from exc

from . import _validation as v
from ._dispatch import kernels as _k
from .losses import multiclass_hinge, softmax_cross_entropy

__all__ = ["softmax_loss", "svm_loss"]

#: Fan-in of the reduction tree: partial results combined per task.
_SPLIT_EVERY = 8

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# --------------------------------------------------------------------------
# Validation (on the client, before any task is built)


def _check(W, X, y, reg):
    """Validated (W, X, y, reg): W a (D, C) ndarray, X (N, D) chunked by rows only, y (N,) aligned."""
    W = v.scores_2d(W, "W")
    X = da.asarray(X)
    y = da.asarray(y)
    if X.dtype != W.dtype:
        raise TypeError(f"X must have dtype {W.dtype} (that of W), got {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if any(np.isnan(n) for n in X.shape) or any(np.isnan(n) for n in y.shape):
        raise ValueError(
            "X and y must have known chunk sizes; call .compute_chunk_sizes() on them first"
        )
    if X.shape[1] != W.shape[0]:
        raise ValueError(
            f"X has {X.shape[1]} features (columns) but W has {W.shape[0]} rows; "
            "W must be (n_features, n_classes)"
        )
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class indices, got dtype {y.dtype}")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got shape {y.shape}")
    reg = v.finite_real(reg, "reg", low=0.0)
    # One chunk across the columns: a task needs whole rows to compute X_k W.
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    if y.chunks[0] != X.chunks[0]:
        y = y.rechunk((X.chunks[0],))
    return W, X, y, reg


# --------------------------------------------------------------------------
# Tasks (run on the workers)


def _partial(X, y, W, start, kind, margin):
    """(sum of row losses, X_kᵀ dS_k in float64, rows) of one row chunk starting at row ``start``."""
    c = W.shape[1]
    y = np.asarray(y)
    if y.size:
        bad = (y < 0) | (y >= c)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"y[{start + i}] = {y[i]} is not a class index in [0, {c})")
    scores = np.matmul(X, W)
    if kind == "svm":
        loss, _ = multiclass_hinge(scores, y, margin=margin, reduction="sum", out=scores)
    else:
        loss, _ = softmax_cross_entropy(scores, y, reduction="sum", out=scores)
    dW = np.matmul(X.T, scores).astype(np.float64, copy=False)
    return float(loss), dW, X.shape[0]


def _combine(*parts):
    """The sum of some (loss, dW, n) partials."""
    loss = sum(p[0] for p in parts)
    dW = parts[0][1].copy()
    for p in parts[1:]:
        dW += p[1]
    return loss, dW, sum(p[2] for p in parts)


def _tree_sum(parts, combine=_combine, split_every=_SPLIT_EVERY):
    """Reduce a list of delayed partials with a tree of ``combine`` tasks."""
    while len(parts) > 1:
        parts = [
            dask.delayed(combine, pure=True)(*parts[i : i + split_every])
            for i in range(0, len(parts), split_every)
        ]
    return parts[0]


def _graph(kind, W, X, y, margin):
    """A delayed (loss_sum, dW_sum, n) over every row chunk of validated X, y."""
    Wd = dask.delayed(W, pure=True)  # one key: shipped once to each worker that needs it
    xs = X.to_delayed().ravel()
    ys = y.to_delayed().ravel()
    starts = np.concatenate(([0], np.cumsum(X.chunks[0])[:-1]))
    task = dask.delayed(_partial, pure=True)
    parts = [task(xb, yb, Wd, int(s), kind, margin) for xb, yb, s in zip(xs, ys, starts)]
    return _tree_sum(parts)


def _loss(kind, W, X, y, reg, margin):
    W, X, y, reg = _check(W, X, y, reg)
    loss, dW, n = dask.compute(_graph(kind, W, X, y, margin))[0]
    if n:
        loss /= n
        dW /= n
    dW = dW.astype(W.dtype)
    if reg != 0.0:
        loss += reg * _k.sum_squares(W.reshape(-1))
        dW += (2.0 * reg) * W
    return float(loss), dW


# --------------------------------------------------------------------------
# Public API


def svm_loss(W, X, y, reg=0.0, *, margin=1.0):
    """Multiclass SVM loss and its gradient over a dask array (:func:`fastloss.svm_loss`, distributed).

    .. math::

        L = \\frac{1}{N} \\sum_i \\sum_{j \\ne y_i} \\max(0,\\ S_{ij} - S_{i,y_i} + \\Delta)
            + \\lambda \\sum W^2, \\qquad
        \\frac{\\partial L}{\\partial W} = X^\\top \\frac{\\partial L}{\\partial S} + 2 \\lambda W,
        \\qquad S = XW

    computed chunk by chunk on the Dask scheduler in use (the threaded one, or
    the cluster of the current ``dask.distributed.Client``) and reduced to the
    exact full-data mean.

    Parameters
    ----------
    W : array_like of float32 or float64, shape (D, C)
        Weights; a small in-memory array, sent once to every worker.
    X : dask.array.Array (or array_like) of the dtype of W, shape (N, D)
        Chunked by rows.  A chunking across the columns is merged first
        (``X.rechunk({1: -1})``), which moves data: prefer row chunks.
    y : dask.array.Array (or array_like) of int, shape (N,)
        Class indices in ``[0, C)``; rechunked to X's row chunks if needed.
    reg : float >= 0
        :math:`\\lambda`, the L2 regularisation strength.
    margin : float >= 0
        :math:`\\Delta`.

    Returns
    -------
    loss : float
    dW : ndarray, shape (D, C), the dtype of W

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastloss as fl, fastloss.dask as fld
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 5)); y = rng.integers(0, 3, 1000); W = rng.normal(size=(5, 3))
    >>> loss, dW = fld.svm_loss(W, da.from_array(X, chunks=(300, 5)), da.from_array(y, chunks=300))
    >>> expected, dW_expected = fl.svm_loss(W, X, y)
    >>> bool(np.isclose(loss, expected) and np.allclose(dW, dW_expected))
    True
    """
    delta = v.finite_real(margin, "margin", low=0.0)
    return _loss("svm", W, X, y, reg, delta)


def softmax_loss(W, X, y, reg=0.0):
    """Softmax cross-entropy loss and its gradient over a dask array (:func:`fastloss.softmax_loss`, distributed).

    .. math::

        L = \\frac{1}{N} \\sum_i -\\log \\frac{e^{S_{i,y_i}}}{\\sum_j e^{S_{ij}}} + \\lambda \\sum W^2,
        \\qquad
        \\frac{\\partial L}{\\partial W} = X^\\top (P - Y) / N + 2 \\lambda W,
        \\qquad S = XW

    computed chunk by chunk on the Dask scheduler in use and reduced to the
    exact full-data mean (see :func:`svm_loss` for the arguments).

    Parameters
    ----------
    W : array_like of float32 or float64, shape (D, C)
    X : dask.array.Array (or array_like) of the dtype of W, shape (N, D)
    y : dask.array.Array (or array_like) of int, shape (N,)
    reg : float >= 0

    Returns
    -------
    loss : float
    dW : ndarray, shape (D, C), the dtype of W

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastloss.dask as fld
    >>> X = da.ones((30, 5), chunks=(7, 5)); y = da.zeros(30, dtype=int, chunks=7)
    >>> loss, dW = fld.softmax_loss(np.zeros((5, 10)), X, y)
    >>> round(loss, 6)           # log 10: a uniform guess over ten classes
    2.302585
    """
    return _loss("softmax", W, X, y, reg, 0.0)
