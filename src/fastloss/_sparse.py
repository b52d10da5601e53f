"""SciPy sparse input: its recognition, checks and conversion, and the linear losses on it.

A matrix of ``scipy.sparse`` (``csr_array``/``csr_matrix`` as they are; CSC,
COO and every other format converted to CSR once) reaches the kernels as its
three CSR arrays: ``data`` (the stored values, of the computation's dtype),
``indices`` (their columns) and ``indptr`` (where each row starts), int32 or
int64.  Unsorted column indices, duplicate entries (summed, as SciPy sums
them), empty rows, explicit zeros and a matrix without stored values are all
valid.  A malformed CSR (an index outside ``[0, n_features)``, ``indptr`` not
starting at 0, decreasing or not ending at the number of stored values,
arrays of mismatched length) is a ValueError naming the problem, found by
``csr_check`` (kernels/sparse.pxi) before any kernel reads through it.

SciPy is never imported here: a matrix is sparse only if ``scipy.sparse`` is
already imported by whoever made it (``import fastloss`` stays free of SciPy).
The training engine on CSR data is :mod:`fastloss._sparse_training`.
"""

from __future__ import annotations

import sys

import numpy as np

from . import _dispatch
from . import _validation as v

_INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def is_sparse(X):
    """Whether X is a SciPy sparse matrix or array (without importing SciPy)."""
    sp = sys.modules.get("scipy.sparse")
    return sp is not None and sp.issparse(X)


def check_X(X, name="X", finite=True):
    """X as a checked CSR matrix (``csr_array`` or ``csr_matrix``, as X was).

    Other formats are converted to CSR (once, a copy); integer and boolean
    values to float64.  Raises TypeError for values that are not real
    numbers, ValueError for a shape that is not 2-D with rows and columns, a
    malformed CSR (named), and NaN or infinity among the stored values if
    ``finite`` (the message of dense input).
    """
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if len(X.shape) != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no samples (shape {X.shape})")
    if X.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {X.shape})")
    if X.format != "csr":
        X = X.tocsr()
    if X.dtype.kind != "f" or X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    data, indices, indptr = _arrays(X, name)
    if finite and not _dispatch.kernels.all_finite(data):
        raise ValueError(f"{name} contains NaN or infinity")
    return X


def _arrays(X, name="X", check=True):
    """The CSR arrays (data, indices, indptr) of the CSR matrix X, as they are (contiguous,
    native; indices and indptr of one integer dtype), checked unless ``check`` is False."""
    data = np.ascontiguousarray(X.data)
    if not data.dtype.isnative:
        data = data.astype(data.dtype.newbyteorder("="))
    if data.ndim != 1:
        raise ValueError(f"{name}.data must be 1-D, got shape {data.shape}")
    indices, indptr = np.asarray(X.indices), np.asarray(X.indptr)
    if indices.ndim != 1 or indptr.ndim != 1:
        raise ValueError(f"{name}.indices and {name}.indptr must be 1-D")
    if indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise TypeError(f"{name}.indices and {name}.indptr must hold integers, got "
                        f"{indices.dtype} and {indptr.dtype}")
    if indices.dtype != indptr.dtype or indices.dtype not in _INDEX_DTYPES \
            or not indices.dtype.isnative:
        indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)
    indices, indptr = np.ascontiguousarray(indices), np.ascontiguousarray(indptr)
    if not check:
        return data, indices, indptr
    try:
        _dispatch.kernels.csr_check(data, indices, indptr, X.shape[0], X.shape[1])
    except ValueError as err:
        raise ValueError(f"{name} is not a valid CSR matrix: {err}") from None
    return data, indices, indptr


def arrays(X, dtype, name="X", check=True):
    """(data, indices, indptr) of the CSR matrix X for the kernels, data of ``dtype``
    (a copy of the stored values only if their dtype differs), checked unless ``check`` is
    False (X came from :func:`check_X`; the kernels check their CSR arrays again anyway)."""
    data, indices, indptr = _arrays(X, name, check)
    return data.astype(dtype, copy=False), indices, indptr


def all_finite(X):
    """Whether every stored value of X is finite (the values not stored are 0)."""
    data = np.asarray(X.data)
    if data.dtype in (np.float32, np.float64) and data.dtype.isnative:
        return _dispatch.kernels.all_finite(np.ascontiguousarray(data))
    return bool(np.isfinite(data).all())


def linear_loss(loss, W, X, y, reg, margin=1.0):
    """:func:`fastloss.svm_loss` / :func:`fastloss.softmax_loss` with X sparse.

    The mean loss and ``dW`` (D, C) by ``sparse_linear_gradient``: a row's
    scores are the sum over its non-zeros of ``x_v·W[col, :]``, its gradient
    adds ``x_v·dS`` to those rows of dW only.  The same checks and errors as
    dense X (X's values must have W's dtype: TypeError).
    """
    W = v.scores_2d(W, "W")
    if X.dtype != W.dtype:
        raise TypeError(f"X must have dtype {W.dtype} (that of W), got {X.dtype}")
    if len(X.shape) != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[1] != W.shape[0]:
        raise ValueError(
            f"X has {X.shape[1]} features (columns) but W has {W.shape[0]} rows; "
            "W must be (n_features, n_classes)"
        )
    if X.format != "csr":
        X = X.tocsr()
    n = X.shape[0]
    yy = v.labels(y, n)
    reg = v.finite_real(reg, "reg", low=0.0)
    if n == 0 or X.shape[1] == 0:  # nothing to sum: the dense path's answer
        from .linear import _loss

        return _loss(loss, W, X.toarray(), yy, reg, margin)
    data, indices, indptr = arrays(X, W.dtype)
    dW = np.empty_like(W)
    total = float(_dispatch.kernels.sparse_linear_gradient(
        data, indices, indptr, np.asarray(yy, np.int64), W, dW, loss=loss, margin=margin))
    if reg != 0.0:
        total += reg * _dispatch.kernels.sum_squares(W.reshape(-1))
        dW += (2.0 * reg) * W
    return total, dW
