"""fastloss.binary_hinge against its NumPy twin, finite differences and its invariants."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastloss as fl
from fastloss import reference as ref

from _strategies import HYP, REDUCTIONS, central_difference, total
from _strategies import check_out_and_in_place
from _strategies import check_vs_reference as _check


def _problem(rng, n, dtype, scale=2.0):
    return (rng.standard_normal(n) * scale).astype(dtype), rng.choice(np.array([-1, 1]), n)


def _options(rng, n):
    sw = rng.uniform(0.0, 3.0, n)
    sw[rng.random(n) < 0.2] = 0.0
    return [
        {},
        {"margin": 0.0},
        {"margin": 2.5},
        {"squared": True},
        {"sample_weight": sw},
        {"squared": True, "margin": 0.7, "sample_weight": sw},
    ]


def check_vs_reference(s, y, assert_close, **kw):
    return _check(fl.binary_hinge, ref.binary_hinge, s, y, assert_close, per_element=True, **kw)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("n", [1, 7, 1023, 3001])
def test_matches_reference(isa, dtype, n, reduction, rng, assert_close):
    s, y = _problem(rng, n, dtype)
    for kw in _options(rng, n):
        check_vs_reference(s, y, assert_close, reduction=reduction, **kw)
        check_vs_reference(s, y, assert_close, reduction=reduction, grad=False, **kw)


@pytest.mark.parametrize(
    "label_dtype",
    [np.int8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64, ">i4", ">f8"],
    ids=str,
)
def test_label_dtypes(isa, dtype, label_dtype, rng):
    s, y = _problem(rng, 1500, dtype)
    expected = fl.binary_hinge(s, y, reduction="none", squared=True)
    loss, g = fl.binary_hinge(s, y.astype(label_dtype), reduction="none", squared=True)
    np.testing.assert_array_equal(loss, expected[0])
    np.testing.assert_array_equal(g, expected[1])
    # unsigned labels can only hold +1
    ones = np.ones(1500, np.uint16)
    np.testing.assert_array_equal(fl.binary_hinge(s, ones)[1], fl.binary_hinge(s, ones.astype(float))[1])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_out_and_in_place(isa, dtype, reduction, rng, assert_close):
    s, y = _problem(rng, 1031, dtype)
    kw = dict(reduction=reduction, squared=True, sample_weight=rng.uniform(0, 2, 1031))
    check_out_and_in_place(fl.binary_hinge, ref.binary_hinge, s, y, assert_close, **kw)
    expected_loss, expected_g = ref.binary_hinge(s, y, **kw)
    # strided, read-only scores are fine
    s2 = np.repeat(s, 2)[::2]
    s2.flags.writeable = False
    assert_close(fl.binary_hinge(s2, y, **kw)[1], expected_g, dtype)


def test_weight_semantics(isa, rng):
    s, y = _problem(rng, 9, np.float64)
    w = rng.uniform(0, 2, 9)
    plain, gp = fl.binary_hinge(s, y, reduction="none", margin=30.0)
    assert np.all(plain > 0)
    weighted, gw = fl.binary_hinge(s, y, reduction="none", margin=30.0, sample_weight=w)
    np.testing.assert_allclose(weighted, w * plain, rtol=1e-14)
    np.testing.assert_allclose(gw, w * gp, rtol=1e-14)
    assert fl.binary_hinge(s, y, reduction="sum", margin=30.0, sample_weight=w)[0] == pytest.approx(
        np.sum(w * plain), rel=1e-14)
    mean, gm = fl.binary_hinge(s, y, margin=30.0, sample_weight=w)
    assert mean == pytest.approx(np.sum(w * plain) / w.sum(), rel=1e-14)
    np.testing.assert_allclose(gm, w * gp / w.sum(), rtol=1e-14)
    out = np.full(9, np.nan)
    loss, g = fl.binary_hinge(s, y, sample_weight=np.zeros(9), out=out)
    assert loss == 0.0 and np.all(g == 0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("squared", [False, True])
def test_gradient_finite_differences(isa, reduction, squared, rng):
    s = rng.uniform(-3, 3, 23)
    y = rng.choice([-1, 1], 23)
    t = 1.5 - y * s
    s[np.abs(t) < 0.05] += 0.2  # away from the kink
    kw = dict(margin=1.5, squared=squared, reduction=reduction, sample_weight=rng.uniform(0.5, 2, 23))
    _, g = fl.binary_hinge(s, y, **kw)
    fd = central_difference(lambda x: total(fl.binary_hinge(x, y, grad=False, **kw)[0]), s)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    assert np.abs(g).max() > 0


def test_kink_and_edge_values(isa, dtype):
    big = np.finfo(dtype).max
    s = np.array([1.0, -1.0, np.inf, -np.inf, np.inf, big, -big, np.nan, 0.5], dtype)
    y = np.array([1, -1, 1, 1, -1, 1, 1, 1, -1])
    loss, g = fl.binary_hinge(s, y, reduction="none")
    np.testing.assert_array_equal(loss[:7], [0, 0, 0, np.inf, np.inf, 0, big])
    assert np.isnan(loss[7]) and loss[8] == 1.5
    # NaN in, NaN gradient (an SGD loop must not carry on silently)
    np.testing.assert_array_equal(g, [0, 0, 0, -1, 1, 0, -1, np.nan, 1])
    loss, g = fl.binary_hinge(s, y, reduction="none", squared=True)
    np.testing.assert_array_equal(loss[[0, 1, 2, 3, 5, 6]], [0, 0, 0, np.inf, 0, np.inf])
    assert loss[8] == 2.25 and g[8] == 3.0
    for reduction in ("sum", "mean"):
        assert math.isnan(fl.binary_hinge(s, y, reduction=reduction)[0])


@HYP
@given(
    n=st.integers(1, 50),
    margin=st.floats(0.0, 5.0),
    gap=st.floats(1e-3, 100.0),
    squared=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**32 - 1),
)
def test_zero_once_every_margin_is_met(isa, n, margin, gap, squared, dtype, seed):
    rng = np.random.default_rng(seed)
    y = rng.choice([-1, 1], n)
    s = (y * (margin + gap + rng.uniform(0, 10, n))).astype(dtype)
    loss, g = fl.binary_hinge(s, y, margin=margin, squared=squared, reduction="none")
    assert np.all(loss == 0) and np.all(g == 0)


@HYP
@given(n=st.integers(1, 60), seed=st.integers(0, 2**32 - 1), squared=st.booleans())
def test_gradient_points_against_the_label(isa, n, seed, squared):
    rng = np.random.default_rng(seed)
    s = rng.uniform(-1e3, 1e3, n)
    y = rng.choice([-1, 1], n)
    loss, g = fl.binary_hinge(s, y, margin=1.0, squared=squared, reduction="none")
    assert np.all(loss >= 0) and np.all(np.isfinite(g))
    assert np.all(g * y <= 0)
    assert np.all((g != 0) == (loss > 0))


@pytest.mark.parametrize("label_dtype", [np.int8, np.int16, np.int32, np.int64, np.float32, np.float64])
def test_first_bad_label_reported_nothing_written(label_dtype, rng):
    """The labels are checked (and, wider than int8, packed) in one pass before any write."""
    s, y = _problem(rng, 3000, np.float32)
    y = y.astype(label_dtype)
    y[1234] = 0
    y[2999] = 3
    out = np.full_like(s, 7.0)
    with pytest.raises(ValueError, match=r"y\[1234\]"):
        fl.binary_hinge(s, y, out=out)
    assert (out == 7.0).all()
