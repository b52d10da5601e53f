"""fastloss.sigmoid_cross_entropy and fastloss.sigmoid against their NumPy twins and the math."""

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

SHAPES = [(1,), (7,), (2049,), (1, 1), (33, 5), (257, 17)]


def _targets(rng, shape, kind):
    if kind == "soft":
        return rng.random(shape)
    if kind == "int":
        return rng.integers(0, 2, shape)
    return rng.random(shape) < 0.5  # bool


def _options(rng, shape):
    n, k = shape[0], (shape[1] if len(shape) == 2 else 1)
    sw = rng.uniform(0.0, 3.0, n)
    sw[rng.random(n) < 0.2] = 0.0
    opts = [
        {},
        {"pos_weight": rng.uniform(0.0, 4.0, k) if len(shape) == 2 else 2.5},
        {"sample_weight": sw},
        {"sample_weight": sw, "pos_weight": rng.uniform(0.5, 3.0, k) if len(shape) == 2 else [0.3]},
    ]
    if len(shape) == 2:
        opts.append({"sample_weight": rng.uniform(0, 2, shape), "pos_weight": rng.uniform(0, 2, k)})
    return opts


def check_vs_reference(x, y, assert_close, **kw):
    return _check(fl.sigmoid_cross_entropy, ref.sigmoid_cross_entropy, x, y, assert_close,
                  per_element=True, **kw)


@pytest.mark.parametrize("kind", ["soft", "int", "bool"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_matches_reference(isa, dtype, shape, reduction, kind, rng, assert_close):
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    y = _targets(rng, shape, kind)
    for kw in _options(rng, shape):
        check_vs_reference(x, y, assert_close, reduction=reduction, **kw)
    check_vs_reference(x, y, assert_close, reduction=reduction, grad=False, **kw)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_out_and_in_place(isa, dtype, reduction, rng, assert_close):
    x = (rng.standard_normal((101, 3)) * 4).astype(dtype)
    y = rng.random((101, 3)).astype(np.float32)
    kw = dict(reduction=reduction, pos_weight=[1.0, 2.0, 0.5], sample_weight=rng.uniform(0, 2, 101))
    check_out_and_in_place(fl.sigmoid_cross_entropy, ref.sigmoid_cross_entropy, x, y,
                           assert_close, **kw)
    expected_loss, expected_g = ref.sigmoid_cross_entropy(x, y, **kw)
    xf = np.asfortranarray(x)
    assert_close(fl.sigmoid_cross_entropy(xf, y, **kw)[1], expected_g, dtype)


def test_definition_and_weight_semantics(isa, rng):
    x = rng.uniform(-5, 5, (6, 3))
    y = rng.random((6, 3))
    p = np.array([0.5, 1.0, 3.0])
    sig = 1 / (1 + np.exp(-x))
    expected = -(p * y * np.log(sig) + (1 - y) * np.log(1 - sig))
    loss, g = fl.sigmoid_cross_entropy(x, y, pos_weight=p, reduction="none")
    np.testing.assert_allclose(loss, expected, rtol=1e-13)
    np.testing.assert_allclose(g, sig * (1 + (p - 1) * y) - p * y, rtol=1e-12, atol=1e-15)
    w = rng.uniform(0, 2, 6)
    mean, gm = fl.sigmoid_cross_entropy(x, y, pos_weight=p, sample_weight=w)
    assert mean == pytest.approx(np.sum(w[:, None] * expected) / (3 * w.sum()), rel=1e-13)
    np.testing.assert_allclose(gm, w[:, None] * g / (3 * w.sum()), rtol=1e-12)
    w2 = rng.uniform(0, 2, (6, 3))
    mean2 = fl.sigmoid_cross_entropy(x, y, pos_weight=p, sample_weight=w2)[0]
    assert mean2 == pytest.approx(np.sum(w2 * expected) / w2.sum(), rel=1e-13)
    out = np.full((6, 3), np.nan)
    loss, g = fl.sigmoid_cross_entropy(x, y, sample_weight=np.zeros(6), out=out)
    assert loss == 0.0 and np.all(g == 0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", [False, True])
def test_gradient_finite_differences(isa, reduction, weights, rng):
    x = rng.uniform(-4, 4, (5, 3))
    y = rng.random((5, 3))
    kw = dict(reduction=reduction)
    if weights:
        kw.update(pos_weight=[0.5, 2.0, 1.5], sample_weight=rng.uniform(0.5, 2, 5))
    _, g = fl.sigmoid_cross_entropy(x, y, **kw)
    fd = central_difference(lambda z: total(fl.sigmoid_cross_entropy(z, y, grad=False, **kw)[0]), x)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


def test_extreme_logits(isa, dtype):
    big = np.finfo(dtype).max
    x = np.array([big, big, -big, -big, 100.0, -100.0, 30.0, np.inf, np.inf, -np.inf, -np.inf, np.inf], dtype)
    y = np.array([1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 1, 0.5], dtype)
    loss, g = fl.sigmoid_cross_entropy(x, y, reduction="none")
    assert np.all(loss >= 0) and not np.any(np.isnan(loss))
    np.testing.assert_array_equal(loss[[0, 2, 7, 9]], 0)
    np.testing.assert_array_equal(loss[[1, 3, 8, 10, 11]], [big, big, np.inf, np.inf, np.inf])
    # tiny losses keep their precision: log1p(e^-|x|), not log(1 + e^-|x|)
    for i in (4, 5, 6):
        expected = math.log1p(math.exp(-abs(float(x[i]))))
        assert loss[i] == pytest.approx(expected, rel=1e-5 if dtype == np.float32 else 1e-13)
    np.testing.assert_array_equal(g[[0, 1, 2, 3, 7, 8, 9, 10, 11]], [0, 1, 0, -1, 0, 1, 0, -1, 0.5])
    assert np.all(np.isfinite(fl.sigmoid_cross_entropy(x[:7], y[:7], pos_weight=3.0)[1]))
    xn = np.array([np.nan, 1.0], dtype)
    assert np.isnan(fl.sigmoid_cross_entropy(xn, [1, 0], reduction="none")[0][0])


@HYP
@given(
    x=st.lists(st.floats(-60, 60), min_size=1, max_size=40),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_properties(isa, x, seed, dtype):
    x = np.array(x, dtype)
    y = np.random.default_rng(seed).random(len(x)).astype(dtype)
    loss, g = fl.sigmoid_cross_entropy(x, y, reduction="none")
    assert np.all(loss >= 0)
    # the gradient is σ(x) - y; swapping the label and the sign of x changes nothing
    np.testing.assert_allclose(g, ref.sigmoid(x).astype(np.float64) - y, atol=2e-7 if dtype == np.float32 else 1e-15)
    loss2, g2 = fl.sigmoid_cross_entropy(-x, 1 - y, reduction="none")
    # 1 - y is rounded to the dtype: an absolute error up to ~|x|·eps from the label alone
    swap_atol = 4 * float(np.finfo(dtype).eps) * (float(np.max(np.abs(x), initial=0)) + 1)
    np.testing.assert_allclose(loss2, loss, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=swap_atol)
    np.testing.assert_allclose(g2, -g, rtol=1e-5, atol=1e-6 if dtype == np.float32 else 1e-15)


# --------------------------------------------------------------------------
# sigmoid
# --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(), (1,), (17,), (1001,), (3, 5, 7)], ids=str)
def test_sigmoid_matches_reference(isa, dtype, shape, rng, assert_close):
    x = (rng.standard_normal(shape) * 10).astype(dtype)
    p = fl.sigmoid(x)
    assert p.dtype == dtype and p.shape == x.shape
    assert_close(p, ref.sigmoid(x), dtype)
    out = np.empty_like(x)
    assert fl.sigmoid(x, out=out) is out
    np.testing.assert_array_equal(out, p)
    if x.ndim:
        work = x.copy()
        fl.sigmoid(work, out=work)
        np.testing.assert_array_equal(work, p)


def test_sigmoid_is_correctly_rounded_at_the_ends(isa, dtype):
    info = np.finfo(dtype)
    hi = 110.0 if dtype == np.float32 else 760.0
    x = np.concatenate([np.linspace(-hi, hi, 20011), [info.max, -info.max, np.inf, -np.inf, np.nan]]).astype(dtype)
    p = fl.sigmoid(x)
    # truth: float64 / long double evaluation, rounded to dtype
    xl = x.astype(np.longdouble)
    with np.errstate(over="ignore"):
        truth = (1 / (1 + np.exp(-xl))).astype(dtype)
    assert np.isnan(p[-1])
    ok = np.isfinite(x)
    ulp = np.spacing(np.abs(truth[ok]).astype(dtype))
    assert np.all(np.abs(p[ok] - truth[ok]) <= 2 * ulp)
    # exactly 0 and exactly 1 only where the true value rounds there
    np.testing.assert_array_equal(p[ok] == 1, truth[ok] == 1)
    np.testing.assert_array_equal(p[ok] == 0, truth[ok] == 0)
    np.testing.assert_array_equal(p[-5:-1], [1, 0, 1, 0])


def test_label_swap_at_a_small_loss_found_by_hypothesis(isa):
    """The case hypothesis found: x = -7 with a float32 soft label (small loss, rounded 1 - y)."""
    x = np.array([-7.0], np.float32)
    y = np.random.default_rng(6854).random(1).astype(np.float32)
    loss, _ = fl.sigmoid_cross_entropy(x, y, reduction="none")
    loss2, _ = fl.sigmoid_cross_entropy(-x, 1 - y, reduction="none")
    t = float(y[0])
    exact = t * float(np.logaddexp(0, 7.0)) + (1 - t) * float(np.logaddexp(0, -7.0))  # at x = -7
    assert loss[0] == pytest.approx(exact, rel=1e-6)
    np.testing.assert_allclose(loss2, loss, atol=4 * np.finfo(np.float32).eps * 8)
