"""fastloss.softmax and fastloss.log_softmax: reference, accuracy of the internal exp, invariants."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastloss as fl
from fastloss import reference as ref

from _strategies import HYP, make_scores, problems


FUNCS = {"softmax": (fl.softmax, ref.softmax), "log_softmax": (fl.log_softmax, ref.log_softmax)}


# --------------------------------------------------------------------------
# Against the reference
# --------------------------------------------------------------------------


@pytest.mark.parametrize("func", list(FUNCS))
@pytest.mark.parametrize("c", [1, 2, 3, 17, 100, 1000, 1031])
@pytest.mark.parametrize("n", [1, 7, 1003])
def test_matches_reference(isa, dtype, func, n, c, rng, assert_close):
    f, rf = FUNCS[func]
    s = make_scores(rng, n, c, dtype, scale=4.0)
    out = f(s)
    assert isinstance(out, np.ndarray) and out.dtype == dtype and out.shape == s.shape
    assert_close(out, rf(s), dtype)


@pytest.mark.parametrize("func", list(FUNCS))
def test_single_class(isa, dtype, func, rng):
    s = make_scores(rng, 6, 1, dtype, scale=100.0)
    expected = 1.0 if func == "softmax" else 0.0
    np.testing.assert_array_equal(FUNCS[func][0](s), np.full((6, 1), expected, dtype))


def test_known_values(isa, dtype):
    s = np.array([[1.0, 1.0], [0.0, -np.inf], [0.0, np.log(3.0)]], dtype)
    np.testing.assert_allclose(fl.softmax(s), [[0.5, 0.5], [1.0, 0.0], [0.25, 0.75]], rtol=1e-6)
    lp = fl.log_softmax(s)
    assert lp[1, 1] == -np.inf and lp[1, 0] == 0
    np.testing.assert_allclose(
        lp[[0, 2]], np.log([[0.5, 0.5], [0.25, 0.75]]), rtol=1e-6
    )


@pytest.mark.parametrize("func", list(FUNCS))
@pytest.mark.parametrize("c", [1, 3, 17, 1031])
def test_out_is_returned_and_filled(isa, dtype, func, c, rng):
    f, _ = FUNCS[func]
    s = make_scores(rng, 9, c, dtype)
    expected = f(s)
    out = np.full_like(s, np.nan)
    result = f(s, out=out)
    assert result is out
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("func", list(FUNCS))
@pytest.mark.parametrize("c", [1, 3, 17, 1031])
def test_out_is_scores_in_place(isa, dtype, func, c, rng, assert_close):
    f, rf = FUNCS[func]
    s = make_scores(rng, 9, c, dtype)
    expected = rf(s)
    work = s.copy()
    result = f(work, out=work)
    assert result is work
    assert_close(work, expected, dtype)


# --------------------------------------------------------------------------
# Accuracy of the vectorised exp, seen through softmax / log_softmax
# --------------------------------------------------------------------------

# (dtype, range of x for log_softmax([[x, 0]]), range of x <= 0 for softmax([[0, x]]))
EXP_RANGES = [
    (np.float64, 700.0, -745.0),
    (np.float32, 87.0, -104.0),
]


@pytest.mark.parametrize("dtype_, lim, _", EXP_RANGES, ids=["float64", "float32"])
def test_log_softmax_accuracy_wide_range(isa, dtype_, lim, _):
    x = np.linspace(-lim, lim, 40001).astype(dtype_)
    s = np.stack([x, np.zeros_like(x)], axis=1)
    got = fl.log_softmax(s).astype(np.float64)
    # np.exp / np.log in float64 on the same stable formula (float64 is exact enough for float32)
    s64 = s.astype(np.float64)
    shifted = s64 - s64.max(axis=1, keepdims=True)
    expected = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    eps = np.finfo(dtype_).eps
    np.testing.assert_allclose(got, expected, rtol=4 * eps, atol=4 * eps)


@pytest.mark.parametrize("dtype_, _, lo", EXP_RANGES, ids=["float64", "float32"])
def test_softmax_accuracy_wide_range(isa, dtype_, _, lo):
    x = np.linspace(lo, 0.0, 200001).astype(dtype_)
    x = np.concatenate([x, -np.logspace(-30, 0, 301).astype(dtype_)])
    s = np.stack([np.zeros_like(x), x], axis=1)
    got = fl.softmax(s).astype(np.float64)
    x64 = x.astype(np.float64)
    e = np.exp(x64)
    expected = np.stack([1.0 / (1.0 + e), e / (1.0 + e)], axis=1)
    info = np.finfo(dtype_)
    # few ulps where the result is a normal number; a couple of subnormal steps below
    normal = expected >= info.tiny
    np.testing.assert_allclose(got[normal], expected[normal], rtol=8 * info.eps, atol=0)
    subnormal_step = float(np.nextafter(dtype_(0), dtype_(1)))
    assert np.all(np.abs(got[~normal] - expected[~normal]) <= 2 * subnormal_step)
    assert np.all(np.isfinite(got))


@pytest.mark.parametrize("dtype_", [np.float64, np.float32])
def test_exp_special_values(isa, dtype_):
    big = 1e300 if dtype_ == np.float64 else 1e30
    s = np.array(
        [[0.0, -np.inf], [0.0, -big], [big, -big], [-big, big], [0.0, 0.0]], dtype_
    )
    p = fl.softmax(s)
    np.testing.assert_array_equal(p, np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0.5, 0.5]], dtype_))
    lp = fl.log_softmax(s)
    assert lp[0, 1] == -np.inf
    assert np.all(np.isfinite(lp[1:]))
    np.testing.assert_allclose(lp[2:4], [[0, -2 * big], [-2 * big, 0]], rtol=1e-6)


# --------------------------------------------------------------------------
# Properties (hypothesis)
# --------------------------------------------------------------------------


def _bound(dtype):
    return 1e30 if dtype == np.float32 else 1e250


def _draw_rows(data, dtype, wide):
    """Up to 6 rows of up to 70 scores, within ±50 or (wide) near the dtype's limits."""
    bound = _bound(dtype) if wide else 50.0
    s, _ = data.draw(problems(dtype=dtype, max_n=6, max_c=70, lo=-bound, hi=bound))
    return s


@HYP
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]), wide=st.booleans())
def test_softmax_rows_are_distributions(isa, data, dtype, wide):
    s = _draw_rows(data, dtype, wide)
    p = fl.softmax(s)
    assert p.dtype == dtype
    assert np.all(np.isfinite(p))
    assert np.all((p >= 0) & (p <= 1))
    c = s.shape[1]
    np.testing.assert_allclose(p.sum(axis=1, dtype=np.float64), 1.0, rtol=0, atol=(c + 4) * np.finfo(dtype).eps)
    # the largest score gets the largest probability
    rows = np.arange(s.shape[0])
    assert np.all(p[rows, s.argmax(axis=1)] == p.max(axis=1))


@HYP
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]), wide=st.booleans())
def test_log_softmax_is_log_of_softmax(isa, data, dtype, wide):
    s = _draw_rows(data, dtype, wide)
    lp = fl.log_softmax(s)
    assert lp.dtype == dtype
    assert np.all(np.isfinite(lp)) and np.all(lp <= 0)
    p = fl.softmax(s)
    info = np.finfo(dtype)
    ok = p > info.tiny * 2**10  # comfortably normal: log(p) keeps p's relative accuracy
    with np.errstate(divide="ignore"):
        logp = np.log(p.astype(np.float64))
    lp64 = lp.astype(np.float64)
    # softmax's sum 1 + Σ(small terms) takes up to C/2 roundings of ~eps/2 each
    # (so does p = e^0 / sum near 1): the oracle log(p) is only that accurate
    c = s.shape[1]
    assert np.all(
        np.abs(lp64[ok] - logp[ok]) <= (c + 8) * info.eps * (1 + np.abs(logp[ok]))
    ), np.abs(lp64[ok] - logp[ok]).max()
    # where softmax underflows to 0, log_softmax is very negative (but finite)
    assert np.all(lp64[p == 0] < np.log(info.tiny))


@HYP
@given(
    problem=problems(dtype=np.float64, max_n=6, max_c=70, lo=-30, hi=30),
    data=st.data(),
)
def test_row_shift_invariance(isa, problem, data):
    s, _ = problem
    shift = np.array(
        data.draw(st.lists(st.floats(-1e3, 1e3), min_size=s.shape[0], max_size=s.shape[0]))
    )
    shifted = s + shift[:, None]
    np.testing.assert_allclose(fl.softmax(shifted), fl.softmax(s), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fl.log_softmax(shifted), fl.log_softmax(s), rtol=1e-9, atol=1e-10)


# --------------------------------------------------------------------------
# Numerical edge cases
# --------------------------------------------------------------------------


@pytest.mark.parametrize("func", list(FUNCS))
def test_float32_huge_scores_match_float64(isa, func, rng):
    f, rf = FUNCS[func]
    s = make_scores(rng, 64, 23, np.float32)
    big = rng.random(s.shape) < 0.3
    s[big] = rng.choice(np.array([1e4, -1e4, 9999.5, -9998.0], np.float32), size=big.sum())
    s[0] = 1e4
    got = f(s)
    expected = rf(s.astype(np.float64))
    assert np.all(np.isfinite(got))
    if func == "softmax":
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("func", list(FUNCS))
def test_float64_shift_by_1e6(isa, func, rng):
    f, _ = FUNCS[func]
    shifted = make_scores(rng, 20, 37, np.float64) + 1e6
    base = shifted - 1e6  # exact
    np.testing.assert_allclose(f(shifted), f(base), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("c", [4, 17, 40])
def test_minus_inf_masked_classes(isa, dtype, c, rng, assert_close):
    n = 12
    s = make_scores(rng, n, c, dtype)
    mask = rng.random((n, c)) < 0.5
    mask[np.arange(n), rng.integers(0, c, n)] = False
    s[mask] = -np.inf
    p = fl.softmax(s)
    lp = fl.log_softmax(s)
    assert np.all(p[mask] == 0) and np.all(lp[mask] == -np.inf)
    for i in range(n):
        keep = ~mask[i]
        assert_close(p[i, keep][None], ref.softmax(s[i : i + 1, keep]), dtype)
        assert_close(lp[i, keep][None], ref.log_softmax(s[i : i + 1, keep]), dtype)


@pytest.mark.parametrize("func", list(FUNCS))
@pytest.mark.parametrize("where", ["first", "last", "middle"])
@pytest.mark.parametrize("c", [3, 17, 40])
def test_nan_propagates(isa, dtype, func, c, where, rng, assert_close):
    f, rf = FUNCS[func]
    s = make_scores(rng, 5, c, dtype)
    col = {"first": 0, "last": c - 1, "middle": c // 2}[where]
    s[2, col] = np.nan
    out = f(s)
    assert np.isnan(out[2]).all()
    others = [0, 1, 3, 4]
    assert_close(out[others], rf(s[others]), dtype)


# --------------------------------------------------------------------------
# Every row length and position of the maximum (vector blocks and tails)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("func", list(FUNCS))
def test_every_row_length_and_max_position(isa, dtype, func, rng, assert_close):
    f, rf = FUNCS[func]
    for c in list(range(1, 70)) + [127, 128, 129]:
        s = make_scores(rng, c, c, dtype, scale=1.0)
        s[np.arange(c), np.arange(c)] += 6.0
        expected = rf(s)
        assert_close(f(s), expected, dtype)
        work = s.copy()
        assert f(work, out=work) is work
        assert_close(work, expected, dtype)
        s_nan = s.copy()
        s_nan[np.arange(c), np.arange(c)] = np.nan
        assert np.isnan(f(s_nan)).all(), c
        masked = np.where(np.eye(c, dtype=bool), s, -np.inf).astype(dtype)
        got = f(masked)
        if func == "softmax":
            np.testing.assert_array_equal(got, np.eye(c, dtype=dtype))
        else:
            np.testing.assert_array_equal(got, np.where(np.eye(c, dtype=bool), 0, -np.inf).astype(dtype))
