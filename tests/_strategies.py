"""Helpers shared by the test modules (data builders, finite differences, hypothesis strategies)."""

import os

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

REDUCTIONS = ("none", "sum", "mean")

#: Settings of every property test.  FASTLOSS_HYPOTHESIS_EXAMPLES raises the number of
#: examples for a longer, deeper run; ``isa`` is a function-scoped fixture, but the
#: kernel module it installs is the same for every example, so sharing it is safe.
HYP = settings(
    max_examples=int(os.environ.get("FASTLOSS_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
LABEL_DTYPES = (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64)


def make_scores(rng, n, c, dtype, scale=3.0):
    return (rng.standard_normal((n, c)) * scale).astype(dtype)


def make_labels(rng, n, c):
    return rng.integers(0, c, n)


def total(loss):
    """The scalar whose gradient the API returns: the loss, or the sum of the 'none' vector."""
    return float(np.sum(np.asarray(loss, dtype=np.float64)))


def central_difference(f, s, h=1e-6):
    """Central finite-difference gradient of the scalar function f at every entry of s."""
    g = np.empty_like(s, dtype=np.float64)
    for idx in np.ndindex(s.shape):
        sp = s.copy()
        sm = s.copy()
        sp[idx] += h
        sm[idx] -= h
        g[idx] = (f(sp) - f(sm)) / (2 * h)
    return g


def float_elements(dtype, lo, hi):
    if np.dtype(dtype) == np.float32:
        # bounds must be representable in float32; rounding inwards keeps them in range
        lo32, hi32 = np.float32(lo), np.float32(hi)
        lo32 = lo32 if lo32 >= lo else np.nextafter(lo32, np.float32(np.inf))
        hi32 = hi32 if hi32 <= hi else np.nextafter(hi32, np.float32(-np.inf))
        return st.floats(float(lo32), float(hi32), allow_nan=False, allow_infinity=False, width=32)
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def problems(draw, dtype=np.float64, max_n=8, min_c=1, max_c=40, lo=-30.0, hi=30.0):
    """(scores, y): a small (N, C) scores array of ``dtype`` with labels in [0, C)."""
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(min_c, max_c))
    s = draw(hnp.arrays(dtype, (n, c), elements=float_elements(dtype, lo, hi)))
    y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    return s, y


def snapshot(*arrays):
    return [None if a is None else np.array(a, copy=True) for a in arrays]
