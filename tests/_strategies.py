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


def check_vs_reference(fn, ref_fn, s, y, assert_close, *, per_element=False, grad_scale=None,
                       **kw):
    """fastloss's ``fn`` and its reference twin agree on loss and gradient; types are as documented.

    The loss vector of ``reduction="none"`` has a loss per row of ``s``, or per
    element with ``per_element``; ``grad_scale(s, y, **kw)``, if given, is the
    magnitude the gradient's rounding errors are measured against (see
    test_softmax_cross_entropy.grad_scale).
    """
    loss, g = fn(s, y, **kw)
    rloss, rg = ref_fn(s, y, **kw)
    if kw.get("reduction", "mean") == "none":
        assert isinstance(loss, np.ndarray)
        assert loss.dtype == s.dtype and loss.shape == (s.shape if per_element else s.shape[:1])
    else:
        assert type(loss) is float
    assert_close(loss, rloss, s.dtype)
    if kw.get("grad", True):
        assert isinstance(g, np.ndarray)
        assert g.dtype == s.dtype and g.shape == s.shape
        scale = None if grad_scale is None else max(np.abs(rg).max(initial=0), grad_scale(s, y, **kw))
        assert_close(g, rg, s.dtype, scale=scale)
    else:
        assert g is None
    return loss, g


def check_out_and_in_place(fn, ref_fn, s, y, assert_close, **kw):
    """``out=`` receives the gradient (and is returned), also when it is ``s`` itself."""
    expected_loss, expected_g = ref_fn(s, y, **kw)
    out = np.full_like(s, np.nan)
    loss, g = fn(s, y, out=out, **kw)
    assert g is out
    assert_close(out, expected_g, s.dtype)
    work = s.copy()
    loss, g = fn(work, y, out=work, **kw)
    assert g is work
    assert_close(work, expected_g, s.dtype)
    assert_close(loss, expected_loss, s.dtype)


def linear_problem(rng, n, d, c, dtype, scale):
    """(W, X, y) of a CS231n loss: W (D, C) scaled by ``scale``, X (N, D), y (N,) in [0, C)."""
    W = (rng.standard_normal((d, c)) * scale).astype(dtype)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, c, n)
    return W, X, y


def digits_split():
    """scikit-learn's digits, pixels / 16, split 1347 / 450 at seed 0 (skips without scikit-learn)."""
    import pytest

    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    X = X / 16.0
    perm = np.random.default_rng(0).permutation(len(y))
    train, test = perm[:1347], perm[1347:]
    return X[train], X[test], y[train], y[test]


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


def torch_trajectory(torch, cls, params0, grads_seq, lrs, **kw):
    """The parameters after each step of the torch optimiser ``cls(params, lr, **kw)`` fed
    ``grads_seq`` (a list of gradient lists), with learning rate ``lrs[k]`` at step k."""
    ts = [torch.tensor(p.copy(), requires_grad=True) for p in params0]
    opt = cls(ts, lr=lrs[0], **kw)
    out = []
    for k, grads in enumerate(grads_seq):
        for group in opt.param_groups:
            group["lr"] = lrs[k]
        for t, g in zip(ts, grads):
            t.grad = torch.tensor(g)
        opt.step()
        out.append([t.detach().numpy().copy() for t in ts])
    return out
