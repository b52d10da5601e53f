"""What :class:`fastloss.LinearClassifier` accepts as data, checked as scikit-learn checks it.

Samples ``X`` (any 2-D array-like of real numbers), labels ``y`` (any
discrete labels: integers, whole-number floats, strings), ``sample_weight``
and ``class_weight``, and the stratified split that early stopping holds
out.  The errors carry the wording
scikit-learn's estimator checks look for (``Reshape your data``,
``Unknown label type``, ``0 feature(s) (shape=...) while a minimum of 1 is
required``...), so that code written against scikit-learn's estimators works
with this one; scikit-learn itself is never imported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _dispatch, _sparse
from . import _validation as v
from ._sklearn_compat import warn_data_conversion


def check_X(X: Any, name: str = "X", finite: bool = True) -> np.ndarray:
    """``X`` as a 2-D ndarray of real numbers with at least one sample and one feature.

    Integer, boolean and float arrays are returned as they are (converted
    later, once, to the training dtype); object arrays of numbers become
    float64; SciPy sparse matrices are checked and returned as CSR
    (``_sparse.check_X``).  Complex numbers, strings, anything not 2-D
    and, if ``finite``, NaN or infinity are rejected with an error naming
    ``X`` (fit leaves the last check to training: see
    ``LinearClassifier._fit``).
    """
    if X is None:
        raise ValueError(f"{name} must be a 2-D array-like (n_samples, n_features), got None")
    if _sparse.is_sparse(X):  # SciPy sparse: checked and kept as CSR (see _sparse.py)
        return _sparse.check_X(X, name, finite)
    arr = np.asarray(X)
    kind = arr.dtype.kind
    if kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {arr.dtype}")
    if kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name} must hold real numbers, but an entry could not be converted: {e}") from None
    elif kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        hint = ""
        if arr.ndim == 1:
            hint = (f". Reshape your data with {name}.reshape(-1, 1) if it has a single feature "
                    f"or {name}.reshape(1, -1) if it is a single sample")
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}{hint}")
    if arr.shape[0] == 0:
        raise ValueError(
            f"{name} has 0 sample(s) (shape={arr.shape}) while a minimum of 1 is required."
        )
    if arr.shape[1] == 0:
        raise ValueError(
            f"{name} has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required."
        )
    if finite and arr.dtype.kind == "f" and not all_finite(arr):
        raise not_finite(name)
    return arr


def not_finite(name: str) -> ValueError:
    return ValueError(f"{name} contains NaN or infinity")


def all_finite(arr: np.ndarray) -> bool:
    """Whether a float array holds no NaN or infinity (one read, no temporary when it can)."""
    if _sparse.is_sparse(arr):
        return _sparse.all_finite(arr)
    if arr.dtype in (np.float32, np.float64) and arr.flags.c_contiguous and arr.dtype.isnative:
        return bool(_dispatch.kernels.all_finite(arr.reshape(-1)))
    return bool(np.isfinite(arr).all())


# ---------------------------------------------------------------------------------------------
# Labels


def _continuous(values: np.ndarray) -> bool:
    """Whether some of these (unique, finite) values are numbers that are not whole."""
    if values.dtype.kind == "f":
        return bool((values != np.floor(values)).any())
    if values.dtype.kind == "O":
        return any(isinstance(x, (float, np.floating)) and not float(x).is_integer() for x in values)
    return False


def check_y(y: Any, n: int, estimator_name: str = "LinearClassifier") -> np.ndarray:
    """Class labels as a 1-D array of length ``n``.

    A column vector (n, 1) is raveled with a DataConversionWarning (as in
    scikit-learn).  Labels may be integers, booleans, strings or floats that
    are whole numbers; non-integer floats are a regression target and are
    rejected ("Unknown label type: continuous").
    """
    if y is None:
        raise ValueError(f"{estimator_name} requires y to be passed, but the target y is None")
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        warn_data_conversion(
            "A column-vector y was passed when a 1d array was expected. Please change the shape "
            "of y to (n_samples,), for example using ravel().", stacklevel=4,
        )
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-D (n_samples,), got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"X and y have different lengths: {n} samples in X, {arr.shape[0]} labels in y")
    kind = arr.dtype.kind
    if kind in "cmMV":
        raise ValueError(f"Unknown label type: y has dtype {arr.dtype}, which holds no class labels")
    if kind == "f" and not np.isfinite(arr).all():
        raise ValueError("y contains NaN or infinity")
    return arr


def classes_of(y: np.ndarray) -> np.ndarray:
    """The sorted distinct labels of ``y``; an error for a regression target or mixed label types."""
    if y.dtype.kind in "iu" and y.size and y.ndim == 1:
        # small non-negative class indices, the common case: a count, not a sort or a hash
        lo, hi = int(y.min()), int(y.max())
        if lo >= 0 and hi < (1 << 20):
            return np.flatnonzero(np.bincount(y, minlength=hi + 1)).astype(y.dtype)
    try:
        classes = np.unique(y)
    except TypeError:
        kinds = sorted({type(x).__name__ for x in y.tolist()})
        raise ValueError(
            f"Unknown label type: y mixes labels of types {kinds} that cannot be ordered; "
            "use labels of one type"
        ) from None
    if _continuous(classes):
        bad = next(x for x in classes.tolist() if not float(x).is_integer())
        raise ValueError(
            f"Unknown label type: continuous. y holds {bad!r}, a value that is not a class label: "
            "a classifier needs discrete classes (integers, strings, or floats that are whole "
            "numbers such as 1.0), not a regression target"
        )
    return classes


def encode(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The class codes of ``y`` (indices into the sorted ``classes``) as int64."""
    return np.searchsorted(classes, y).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Weights


def check_sample_weight(sample_weight: Any, n: int) -> np.ndarray | None:
    """None, or a float64 (n,) array of finite weights >= 0 (a scalar is broadcast).

    The returned array may be the caller's: it is never written.
    """
    if sample_weight is None:
        return None
    arr = np.asarray(sample_weight)
    if arr.ndim == 0:
        return np.full(n, v.finite_real(arr, "sample_weight", low=0.0))
    return v.weights(arr, n, "sample_weight", "one weight per sample")


def class_weights(class_weight: Any, classes: np.ndarray, codes: np.ndarray | None) -> np.ndarray | None:
    """The weight of each class, float64 (n_classes,), or None for ``class_weight=None``.

    ``"balanced"``: n_samples / (n_classes · count of the class in ``codes``),
    scikit-learn's definition.  A dict maps labels to weights; a class it
    does not name weighs 1.  As in scikit-learn, a label of the dict that is
    not a class is an error only when some class is left unweighted.
    """
    if class_weight is None:
        return None
    c = classes.shape[0]
    if isinstance(class_weight, str) and class_weight == "balanced":
        if codes is None:
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: the class frequencies "
                "of one call are not those of the data. Compute the weights on a large enough "
                "sample of the labels, n_samples / (n_classes * np.bincount(y)) (or "
                "sklearn.utils.class_weight.compute_class_weight('balanced', ...)), and pass them "
                "as a dict"
            )
        counts = np.bincount(codes, minlength=c).astype(np.float64)
        return codes.shape[0] / (c * counts)
    if not isinstance(class_weight, Mapping):
        raise ValueError(
            f"class_weight must be None, 'balanced' or a dict {{label: weight}}, got {class_weight!r}"
        )
    weights = np.ones(c)
    unweighted = []
    for k, label in enumerate(classes.tolist()):
        if label in class_weight:
            weights[k] = v.finite_real(class_weight[label], f"class_weight[{label!r}]", low=0.0)
        else:
            unweighted.append(label)
    if unweighted and c - len(unweighted) != len(class_weight):
        known = set(classes.tolist())
        strangers = [k for k in class_weight if k not in known]
        raise ValueError(
            f"class_weight names labels that are not classes: {strangers!r} (the classes are "
            f"{classes.tolist()!r})"
        )
    return weights


def row_weights(sample_weight: np.ndarray | None, cw: np.ndarray | None,
                codes: np.ndarray) -> np.ndarray | None:
    """The weight of each row, sample weight × class weight of its label (a new array), or None."""
    if cw is None:
        return None if sample_weight is None else np.array(sample_weight, dtype=np.float64)
    w = cw[codes]
    if sample_weight is not None:
        w *= sample_weight
    return w


# ---------------------------------------------------------------------------------------------
# The validation split of early stopping


def validation_split(codes: np.ndarray, n_classes: int, fraction: float,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(train_rows, validation_rows)``: a stratified random split, ``fraction`` held out.

    ceil(fraction · n) rows are held out, shared among the classes in
    proportion to their counts (largest remainders), each class keeping at
    least one training row; the rows of each class are drawn at random.
    Both index arrays are sorted.
    """
    n = codes.shape[0]
    n_val = math.ceil(fraction * n)
    counts = np.bincount(codes, minlength=n_classes)
    share = counts * (n_val / n)
    take = np.floor(share).astype(np.int64)
    rest = n_val - int(take.sum())
    if rest > 0:
        order = np.argsort(-(share - take), kind="stable")
        take[order[:rest]] += 1
    take = np.minimum(take, counts - 1)
    if take.sum() == 0:
        raise ValueError(
            f"Splitting {n} samples into a train set and a validation set with "
            f"validation_fraction={fraction!r} led to an empty validation set. Please either "
            "change validation_fraction, increase the number of samples, or disable early_stopping."
        )
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    val = [rng.permutation(order[starts[k]:starts[k + 1]])[:take[k]] for k in range(n_classes)]
    val_rows = np.sort(np.concatenate(val))
    keep = np.ones(n, dtype=bool)
    keep[val_rows] = False
    return np.flatnonzero(keep), val_rows
