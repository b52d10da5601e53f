"""Argument checks shared by the public wrappers.

Every check runs before any output is written, so a rejected call modifies
nothing.  Errors name the argument and what was expected: TypeError for a wrong
type or dtype, ValueError for a wrong shape or value.
"""

import math
import numbers
import operator

import numpy as np

#: The reductions of every loss (the kernels take these strings too).
REDUCTIONS = ("mean", "sum", "none")
#: The dtypes the kernels compute in.
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_LABEL_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))
_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


def scores_2d(scores, name="scores"):
    """A C-contiguous float32/float64 (N, C) array with C >= 1.

    Non-contiguous input is copied (the kernels need rows in contiguous
    memory); read-only input is used as it is.
    """
    arr = np.asarray(scores)
    if arr.dtype.kind == "f" and not arr.dtype.isnative and arr.dtype.newbyteorder("=") in FLOAT_DTYPES:
        arr = arr.astype(arr.dtype.newbyteorder("="))  # byte-swapped input: one native copy
    if arr.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be a float32 or float64 array, got dtype {arr.dtype}"
            + (" (cast it with .astype(np.float32))" if arr.dtype.kind in "fiub" else "")
        )
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_classes), got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one class (column), got shape {arr.shape}")
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return arr


def labels(y, n, name="y"):
    """Integer class labels as a contiguous int32/int64 (N,) array (no copy if already so)."""
    arr = np.asarray(y)
    if arr.dtype.kind not in "iu":
        hint = ""
        if arr.dtype.kind == "f":
            hint = (f"; for whole-number float labels cast them: {name}.astype(np.int64) "
                    "(fastloss.LinearClassifier takes any labels)")
        raise TypeError(f"{name} must hold integer class indices, got dtype {arr.dtype}{hint}")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match scores, got shape {arr.shape}")
    if arr.dtype not in _LABEL_DTYPES or not arr.dtype.isnative:
        if arr.dtype == np.uint64 and n and arr.max() > _INT64_MAX:
            i = int(np.argmax(arr > _INT64_MAX))
            raise ValueError(f"{name}[{i}] = {arr[i]} is not a valid class index")
        arr = arr.astype(np.int64)
    elif not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return arr


def reduction(value):
    """``value`` if it is one of REDUCTIONS (as a plain str), else a ValueError."""
    if isinstance(value, str) and value in REDUCTIONS:
        return str(value)
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {value!r}")


def finite_real(value, name, *, low=None, high=None):
    """A Python float, finite and within [low, high] where those are given.

    Only real numbers are accepted (int, float, NumPy integer or floating
    scalars or 0-d arrays); a string or a bool is a TypeError, not parsed.
    """
    if type(value) is not float and type(value) is not int:  # (the common case skips the ABC check)
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
            raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if (low is not None and v < low) or (high is not None and v > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value!r}")
    return v


def positive_int(value, name):
    """A Python int >= 1 (not a bool), else a ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def optional_index(value, name):
    if value is None:
        return None
    try:
        index = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer or None, got {value!r}") from None
    if not _INT64_MIN <= index <= _INT64_MAX:
        raise ValueError(f"{name} must fit in a 64-bit integer, got {value!r}")
    return index


def weights(w, length, name, what):
    """None, or a contiguous float64 (length,) array of finite, non-negative weights."""
    if w is None:
        return None
    arr = np.asarray(w)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a real-valued array, got dtype {arr.dtype}")
    if arr.shape != (length,):
        raise ValueError(f"{name} must have shape ({length},) ({what}), got shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    if (arr < 0).any():
        raise ValueError(f"{name} must be non-negative; found {arr.min()!r}")
    return arr


def float_array(x, name, ndims=None):
    """A C-contiguous float32/float64 array whose ndim is in ``ndims`` (any if None).

    Non-contiguous input is copied; read-only input is used as it is.
    """
    arr = np.asarray(x)
    if arr.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be a float32 or float64 array, got dtype {arr.dtype}"
            + (" (cast it with .astype(np.float32))" if arr.dtype.kind in "fiub" else "")
        )
    if ndims is not None and arr.ndim not in ndims:
        want = " or ".join(_NDIM_SHAPES[d] for d in ndims)
        raise ValueError(f"{name} must have shape {want}, got shape {arr.shape}")
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return arr


_NDIM_SHAPES = {1: "(N,)", 2: "(N, K)"}
# Label dtypes the binary kernels read directly; others are converted.
_BINARY_LABEL_DTYPES = tuple(
    np.dtype(d) for d in (np.int8, np.int16, np.int32, np.int64, np.float32, np.float64)
)


def binary_labels(y, shape, name="y"):
    """Labels or targets of any real dtype, shaped like the scores, as a flat contiguous array.

    int8/16/32/64 and float32/64 are passed as they are (flattened, no copy
    when contiguous); bool is viewed as int8; unsigned integers become int64
    and float16 float32 (their values are checked by the kernel, and an error
    quotes the original array).
    """
    arr = np.asarray(y)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real-valued (integer or float) array, got dtype {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} to match the scores, got shape {arr.shape}")
    if arr.dtype.kind == "b":
        arr = arr.view(np.int8)
    elif arr.dtype not in _BINARY_LABEL_DTYPES or not arr.dtype.isnative:
        if arr.dtype.kind == "u":
            # 2**64 - 1 would wrap to -1, a valid ±1 label: reject what int64 cannot hold
            if arr.size and arr.max() > _INT64_MAX:
                i = int(np.argmax(arr.reshape(-1) > _INT64_MAX))
                raise ValueError(f"{name} holds {arr.reshape(-1)[i]}, which is not a valid label")
            arr = arr.astype(np.int64)
        elif arr.dtype.kind == "i":
            arr = arr.astype(np.int64)
        else:
            arr = arr.astype(np.float32 if arr.dtype.itemsize <= 4 else np.float64)
    return np.ascontiguousarray(arr).reshape(-1)


def output(out, like, source, name="out", source_name="scores"):
    """Check an ``out=`` buffer: same dtype and shape as ``like``, C-contiguous, writeable.

    ``out`` may be the very array ``source`` (the user's input) when that is
    C-contiguous: the kernels read each element before writing it.  Any other
    overlap with ``source`` is rejected.  ``out`` is never copied.
    """
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != like.dtype:
        raise TypeError(f"{name} must have dtype {like.dtype} (that of {source_name}), got {out.dtype}")
    if out.shape != like.shape:
        raise ValueError(f"{name} must have shape {like.shape} (that of {source_name}), got {out.shape}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (it is written in place, never copied)")
    if not out.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    if isinstance(source, np.ndarray) and np.may_share_memory(out, source):
        same = (
            out.__array_interface__["data"][0] == like.__array_interface__["data"][0]
            and out.strides == like.strides
        )
        if not same:
            raise ValueError(
                f"{name} overlaps {source_name} without being the same array; pass "
                f"out={source_name} (in place) or a separate buffer"
            )
    return out


_WEIGHT_RESCALE = 2.0**500


def scaled_for_mean(w):
    """Weights divided by their maximum when that is huge (> 2**500), else as they are.

    A mean Σ w L / Σ w does not change when every weight is scaled alike, but
    the sums overflow double for weights near its maximum.  Ordinary weights
    are returned untouched, so ordinary results are bit for bit the same.
    """
    if w is None or w.size == 0:
        return w
    top = w.max()
    return w / top if top > _WEIGHT_RESCALE else w


def no_overlap(out, *inputs, name="out"):
    """Reject an ``out=`` buffer that shares memory with an input the kernel reads.

    The kernels write the gradient while they still read labels, targets and
    weights, so an overlap would silently change the result.  ``inputs`` are
    (argument name, array) pairs; non-arrays are skipped.
    """
    if out is None:
        return
    for arg, arr in inputs:
        if isinstance(arr, np.ndarray) and np.may_share_memory(out, arr):
            raise ValueError(f"{name} overlaps {arg}; pass a separate buffer")


def flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def regression_target(y, like, name="target"):
    """Real targets of the shape of ``like`` as a C-contiguous array of its dtype.

    Any integer, bool or float dtype is accepted and converted (a copy only when the
    dtype differs or the array is strided); complex, object or string arrays are a
    TypeError, another shape a ValueError.
    """
    arr = np.asarray(y)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real-valued (integer or float) array, got dtype {arr.dtype}")
    if arr.shape != like.shape:
        raise ValueError(f"{name} must have shape {like.shape} (that of pred), got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=like.dtype)
