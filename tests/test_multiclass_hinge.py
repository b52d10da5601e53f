"""fastloss.multiclass_hinge against its NumPy twin, finite differences and its invariants."""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import fastloss as fl
from fastloss import reference as ref

from _strategies import HYP, LABEL_DTYPES, REDUCTIONS, central_difference
from _strategies import make_labels, make_scores, problems, total
from _strategies import check_vs_reference as _check


def check_vs_reference(s, y, assert_close, **kw):
    return _check(fl.multiclass_hinge, ref.multiclass_hinge, s, y, assert_close, **kw)


# --------------------------------------------------------------------------
# Against the reference
# --------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("c", [1, 2, 3, 17, 100, 1000, 1031])
@pytest.mark.parametrize("n", [1, 7, 1003])
def test_matches_reference_sizes(isa, dtype, n, c, reduction, rng, assert_close):
    s = make_scores(rng, n, c, dtype, scale=1.0)
    y = make_labels(rng, n, c)
    check_vs_reference(s, y, assert_close, reduction=reduction)


def _options(name, rng, n, c):
    cw = rng.uniform(0.0, 2.0, c)
    cw[rng.random(c) < 0.2] = 0.0
    sw = rng.uniform(0.0, 3.0, n)
    sw[rng.random(n) < 0.2] = 0.0
    return {
        "class_weight": {"class_weight": cw},
        "sample_weight": {"sample_weight": sw},
        "both_weights": {"class_weight": cw, "sample_weight": sw},
        "margin0": {"margin": 0.0},
        "margin2.5": {"margin": 2.5},
        "squared": {"squared": True},
        "squared_margin0": {"squared": True, "margin": 0.0},
        "squared_everything": {
            "squared": True,
            "margin": 0.7,
            "class_weight": cw,
            "sample_weight": sw,
        },
        "everything": {"margin": 3.0, "class_weight": cw, "sample_weight": sw},
    }[name]


OPTIONS = [
    "class_weight",
    "sample_weight",
    "both_weights",
    "margin0",
    "margin2.5",
    "squared",
    "squared_margin0",
    "squared_everything",
    "everything",
]


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("c", [1, 3, 17, 1031])
def test_options_match_reference(isa, dtype, c, reduction, option, rng, assert_close):
    n = 41
    s = make_scores(rng, n, c, dtype, scale=1.0)
    y = make_labels(rng, n, c)
    check_vs_reference(s, y, assert_close, reduction=reduction, **_options(option, rng, n, c))


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_large_problem_all_options(isa, dtype, reduction, squared, rng, assert_close):
    n, c = 1003, 1031
    s = make_scores(rng, n, c, dtype, scale=0.5)
    y = make_labels(rng, n, c)
    kw = _options("everything", rng, n, c)
    check_vs_reference(s, y, assert_close, reduction=reduction, squared=squared, **kw)


def test_cs231n_example(isa, dtype):
    s = np.array([[3.2, 5.1, -1.7]], dtype)
    loss, g = fl.multiclass_hinge(s, [0])
    assert loss == pytest.approx(2.9, rel=1e-6)
    np.testing.assert_array_equal(g, [[-1.0, 1.0, 0.0]])
    loss, g = fl.multiclass_hinge(s, [0], squared=True)
    assert loss == pytest.approx(2.9**2, rel=1e-6)
    np.testing.assert_allclose(g, [[-5.8, 5.8, 0.0]], rtol=1e-6)


def test_single_class_has_zero_loss(isa, dtype, rng):
    s = make_scores(rng, 5, 1, dtype)
    for reduction in REDUCTIONS:
        loss, g = fl.multiclass_hinge(s, np.zeros(5, int), reduction=reduction, squared=True)
        assert np.all(np.asarray(loss) == 0)
        assert np.all(g == 0)


@pytest.mark.parametrize("squared", [False, True])
def test_subgradient_is_zero_at_the_kink(isa, dtype, squared):
    # t_j = s_j - s_y + margin is exactly 0 for every wrong class
    s = np.array([[1.0, 0.0, 0.0, -1.5], [2.0, 2.0, 2.0, 2.0]], dtype)
    y = np.array([0, 3])
    loss, g = fl.multiclass_hinge(s, y, margin=1.0, squared=squared, reduction="none")
    assert loss[0] == 0  # -1.5 - 1 + 1 < 0, the two others exactly at the kink
    assert np.all(g[0] == 0)
    assert loss[1] == 3.0 and np.all(g[1] != 0)  # three terms t = 1
    # second row: ties with margin 0 are kinks too
    loss, g = fl.multiclass_hinge(s, y, margin=0.0, squared=squared, reduction="none")
    assert loss[1] == 0 and np.all(g[1] == 0)


def test_weight_semantics(isa, rng):
    """none: w_i L_i with w_i = cw[y_i] sw_i; sum: Σ w_i L_i; mean: Σ w_i L_i / Σ w_i."""
    n, c = 6, 4
    s = make_scores(rng, n, c, np.float64)
    y = np.array([0, 1, 2, 3, 0, 1])
    cw = np.array([0.5, 1.0, 2.0, 3.0])
    sw = np.array([1.0, 0.0, 2.0, 0.5, 1.5, 3.0])
    w = cw[y] * sw
    plain, g_plain = fl.multiclass_hinge(s, y, reduction="none")
    weighted, g = fl.multiclass_hinge(s, y, reduction="none", class_weight=cw, sample_weight=sw)
    np.testing.assert_allclose(weighted, w * plain, rtol=1e-12)
    np.testing.assert_allclose(g, w[:, None] * g_plain, rtol=1e-12)
    total_sum, _ = fl.multiclass_hinge(s, y, reduction="sum", class_weight=cw, sample_weight=sw)
    assert total_sum == pytest.approx(np.sum(w * plain), rel=1e-12)
    mean, g_mean = fl.multiclass_hinge(s, y, reduction="mean", class_weight=cw, sample_weight=sw)
    assert mean == pytest.approx(np.sum(w * plain) / np.sum(w), rel=1e-12)
    np.testing.assert_allclose(g_mean, w[:, None] * g_plain / np.sum(w), rtol=1e-12)


@pytest.mark.parametrize("weights", ["sample", "class"])
@pytest.mark.parametrize("squared", [False, True])
def test_mean_over_zero_total_weight_is_zero(isa, dtype, weights, squared, rng):
    n, c = 8, 5
    s = make_scores(rng, n, c, dtype)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    if weights == "sample":
        kw = {"sample_weight": np.zeros(n)}
    else:
        kw = {"class_weight": np.array([0.0, 0.0, 0.0, 1.0, 2.0])}
    out = np.full((n, c), np.nan, dtype)
    loss, g = fl.multiclass_hinge(s, y, squared=squared, out=out, **kw)
    assert type(loss) is float and loss == 0.0
    assert g is out and np.all(g == 0)


# --------------------------------------------------------------------------
# Labels, out=, grad=False
# --------------------------------------------------------------------------


@pytest.mark.parametrize("label_dtype", LABEL_DTYPES, ids=lambda d: np.dtype(d).name)
def test_label_dtypes(isa, dtype, label_dtype, rng):
    n, c = 13, 100
    s = make_scores(rng, n, c, dtype)
    y = make_labels(rng, n, c)
    expected = fl.multiclass_hinge(s, y.astype(np.int64), reduction="none", squared=True)
    loss, g = fl.multiclass_hinge(s, y.astype(label_dtype), reduction="none", squared=True)
    np.testing.assert_array_equal(loss, expected[0])
    np.testing.assert_array_equal(g, expected[1])


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_out_is_returned_and_filled(isa, dtype, reduction, squared, rng):
    n, c = 11, 19
    s = make_scores(rng, n, c, dtype)
    y = make_labels(rng, n, c)
    expected_loss, expected_g = fl.multiclass_hinge(s, y, reduction=reduction, squared=squared)
    out = np.full((n, c), np.nan, dtype)
    loss, g = fl.multiclass_hinge(s, y, reduction=reduction, squared=squared, out=out)
    assert g is out
    np.testing.assert_array_equal(out, expected_g)
    np.testing.assert_array_equal(loss, expected_loss)


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("c", [1, 3, 17, 1031])
def test_out_is_scores_in_place(isa, dtype, c, reduction, squared, rng, assert_close):
    n = 9
    s = make_scores(rng, n, c, dtype, scale=0.5)
    y = make_labels(rng, n, c)
    kw = dict(reduction=reduction, squared=squared, class_weight=rng.uniform(0.5, 2.0, c))
    expected_loss, expected_g = ref.multiclass_hinge(s, y, **kw)
    work = s.copy()
    loss, g = fl.multiclass_hinge(work, y, out=work, **kw)
    assert g is work
    assert_close(loss, expected_loss, dtype)
    assert_close(work, expected_g, dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_grad_false(isa, dtype, reduction, rng, assert_close):
    n, c = 7, 17
    s = make_scores(rng, n, c, dtype)
    y = make_labels(rng, n, c)
    kw = dict(reduction=reduction, squared=True, margin=0.5, sample_weight=rng.uniform(0, 2, n))
    loss_g, _ = fl.multiclass_hinge(s, y, **kw)
    loss, g = fl.multiclass_hinge(s, y, grad=False, **kw)
    assert g is None
    assert_close(loss, loss_g, dtype, rtol=1e-12 if dtype == np.float64 else 1e-6)
    check_vs_reference(s, y, assert_close, grad=False, **kw)


# --------------------------------------------------------------------------
# Gradient against central finite differences (float64), away from the kinks
# --------------------------------------------------------------------------


def _away_from_kinks(rng, n, c, margin, gap=0.05):
    """Scores whose hinge arguments s_j - s_y + margin are all at least ``gap`` from 0."""
    y = rng.integers(0, c, n)
    while True:
        s = rng.uniform(-2.0, 2.0, (n, c))
        t = s - s[np.arange(n), y][:, None] + margin
        t[np.arange(n), y] = 1.0
        if np.abs(t).min() > gap and (t > 0).sum() >= n:
            return s, y


FD_OPTIONS = {
    "plain": {},
    "margin0": {"margin": 0.0},
    "margin2": {"margin": 2.0},
    "squared": {"squared": True},
    "squared_margin0.5": {"squared": True, "margin": 0.5},
    "class_weight": {"class_weight": np.array([0.5, 2.0, 1.0, 0.0, 1.5])},
    "sample_weight": {"sample_weight": np.array([1.0, 0.5, 2.0, 0.0])},
    "squared_everything": {
        "squared": True,
        "margin": 1.5,
        "class_weight": np.array([0.5, 2.0, 1.0, 0.3, 1.5]),
        "sample_weight": np.array([1.0, 0.5, 2.0, 1.5]),
    },
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", list(FD_OPTIONS))
def test_gradient_finite_differences(isa, option, reduction, rng):
    kw = dict(FD_OPTIONS[option], reduction=reduction)
    s, y = _away_from_kinks(rng, 4, 5, kw.get("margin", 1.0))

    def f(x):
        return total(fl.multiclass_hinge(x, y, grad=False, **kw)[0])

    _, g = fl.multiclass_hinge(s, y, **kw)
    fd = central_difference(f, s, h=1e-6)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=2e-8)
    assert np.abs(g).max() > 0  # the check must not be vacuous


# --------------------------------------------------------------------------
# Properties (hypothesis)
# --------------------------------------------------------------------------


@HYP
@given(
    problem=problems(dtype=np.float64, max_c=40, lo=-100, hi=100),
    margin=st.floats(0.0, 10.0),
    gap=st.floats(1e-3, 50.0),
    squared=st.booleans(),
    reduction=st.sampled_from(REDUCTIONS),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_zero_once_every_margin_is_met(isa, problem, margin, gap, squared, reduction, dtype):
    s, y = problem
    n, c = s.shape
    rows = np.arange(n)
    others = s.copy()
    others[rows, y] = -np.inf
    s[rows, y] = others.max(axis=1) + margin + gap if c > 1 else s[rows, y]
    s = s.astype(dtype)
    # after rounding to dtype the margin must still be met
    t = s - s[rows, y][:, None] + dtype(margin)
    t[rows, y] = -1
    assume(not np.any(t > 0))
    loss, g = fl.multiclass_hinge(s, y, margin=margin, squared=squared, reduction=reduction)
    assert np.all(np.asarray(loss) == 0)
    assert np.all(g == 0)


@HYP
@given(
    data=st.data(),
    dtype=st.sampled_from([np.float32, np.float64]),
    margin=st.floats(0.0, 5.0),
    squared=st.booleans(),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_finite_input_gives_finite_output(isa, data, dtype, margin, squared, reduction):
    bound = 1e15 if dtype == np.float32 else 1e100
    s, y = data.draw(problems(dtype=dtype, max_c=40, lo=-bound, hi=bound))
    loss, g = fl.multiclass_hinge(s, y, margin=margin, squared=squared, reduction=reduction)
    assert np.all(np.isfinite(loss)) and np.all(np.asarray(loss) >= 0)
    assert np.all(np.isfinite(g))


@HYP
@given(
    problem=problems(dtype=np.float64, max_c=40, lo=-5, hi=5),
    margin=st.floats(0.0, 3.0),
    squared=st.booleans(),
)
def test_gradient_rows_sum_to_zero(isa, problem, margin, squared):
    s, y = problem
    _, g = fl.multiclass_hinge(s, y, margin=margin, squared=squared, reduction="sum")
    np.testing.assert_allclose(g.sum(axis=1), 0.0, atol=1e-12 * (1 + np.abs(g).max()) * s.shape[1])
    # the label's entry is minus the sum of the others, all others non-negative
    rows = np.arange(len(y))
    others = g.copy()
    others[rows, y] = 0
    assert np.all(others >= 0)


@HYP
@given(
    problem=problems(dtype=np.float64, max_c=20, lo=-5, hi=5),
    margin=st.floats(0.0, 3.0),
)
def test_squared_is_sum_of_squared_terms(isa, problem, margin):
    s, y = problem
    n, c = s.shape
    rows = np.arange(n)
    t = np.maximum(0, s - s[rows, y][:, None] + margin)
    t[rows, y] = 0
    plain, _ = fl.multiclass_hinge(s, y, margin=margin, reduction="none")
    sq, _ = fl.multiclass_hinge(s, y, margin=margin, squared=True, reduction="none")
    np.testing.assert_allclose(plain, t.sum(axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sq, (t * t).sum(axis=1), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------
# Numerical edge cases
# --------------------------------------------------------------------------


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float32_huge_scores_match_float64(isa, reduction, squared, rng):
    n, c = 64, 23
    s = make_scores(rng, n, c, np.float32)
    big = rng.random((n, c)) < 0.3
    s[big] = rng.choice(np.array([1e4, -1e4, 9999.5, -9998.0], np.float32), size=big.sum())
    y = make_labels(rng, n, c)
    kw = dict(reduction=reduction, squared=squared)
    loss32, g32 = fl.multiclass_hinge(s, y, **kw)
    loss64, g64 = ref.multiclass_hinge(s.astype(np.float64), y, **kw)
    np.testing.assert_allclose(loss32, loss64, rtol=1e-6)
    np.testing.assert_allclose(g32, g64, rtol=1e-6, atol=1e-6 * np.abs(g64).max())


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("c", [4, 17, 40])
def test_minus_inf_masked_classes_cost_nothing(isa, dtype, c, squared, rng, assert_close):
    n = 12
    s = make_scores(rng, n, c, dtype, scale=0.5)
    y = make_labels(rng, n, c)
    mask = rng.random((n, c)) < 0.5
    mask[np.arange(n), y] = False
    s[mask] = -np.inf
    loss, g = fl.multiclass_hinge(s, y, reduction="none", squared=squared)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(g))
    assert np.all(g[mask] == 0)
    for i in range(n):
        keep = ~mask[i]
        yi = int(np.count_nonzero(keep[: y[i]]))
        sub = ref.multiclass_hinge(s[i : i + 1, keep], [yi], reduction="none", squared=squared)
        assert_close(loss[i : i + 1], sub[0], dtype)
        assert_close(g[i, keep][None], sub[1], dtype)


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("where", ["first", "last", "label", "middle"])
@pytest.mark.parametrize("c", [3, 17, 40])
def test_nan_propagates_to_loss(isa, dtype, c, where, squared, rng, assert_close):
    n = 5
    s = make_scores(rng, n, c, dtype)
    y = make_labels(rng, n, c)
    y[2] = 1
    col = {"first": 0, "last": c - 1, "label": 1, "middle": c // 2}[where]
    s[2, col] = np.nan
    loss, g = fl.multiclass_hinge(s, y, reduction="none", squared=squared)
    assert np.isnan(loss[2])
    others = np.array([0, 1, 3, 4])
    rloss, rg = ref.multiclass_hinge(s[others], y[others], reduction="none", squared=squared)
    assert_close(loss[others], rloss, dtype)
    assert_close(g[others], rg, dtype)
    for reduction in ("sum", "mean"):
        for grad in (True, False):
            loss, _ = fl.multiclass_hinge(s, y, reduction=reduction, squared=squared, grad=grad)
            assert math.isnan(loss)


# --------------------------------------------------------------------------
# Every row length and every label position (vector blocks, tails, lane masks)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("squared", [False, True])
def test_every_row_length_and_label_position(isa, dtype, squared, rng, assert_close):
    for c in list(range(1, 70)) + [127, 128, 129]:
        s = make_scores(rng, c, c, dtype, scale=1.0)
        y = np.arange(c)  # row i has its label at column i
        kw = dict(reduction="none", squared=squared, margin=1.5)
        loss, g = fl.multiclass_hinge(s, y, **kw)
        rloss, rg = ref.multiclass_hinge(s, y, **kw)
        assert_close(loss, rloss, dtype)
        assert_close(g, rg, dtype)
        work = s.copy()
        fl.multiclass_hinge(work, y, out=work, **kw)
        assert_close(work, rg, dtype)
        # a NaN anywhere in a row makes that row's loss NaN
        if c > 1:
            s_nan = s.copy()
            s_nan[np.arange(c), (np.arange(c) + 1) % c] = np.nan
            loss, _ = fl.multiclass_hinge(s_nan, y, **kw)
            assert np.isnan(loss).all(), c


# --------------------------------------------------------------------------
# Crammer–Singer variant
# --------------------------------------------------------------------------

CS = {"variant": "crammer_singer"}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("c", [1, 2, 3, 17, 100, 1031])
@pytest.mark.parametrize("n", [1, 7, 301])
def test_crammer_singer_matches_reference(isa, dtype, n, c, reduction, rng, assert_close):
    s = make_scores(rng, n, c, dtype, scale=1.0)
    y = make_labels(rng, n, c)
    for option in ("sample_weight", "both_weights", "margin0", "margin2.5", "squared", "squared_everything"):
        check_vs_reference(s, y, assert_close, reduction=reduction, **CS, **_options(option, rng, n, c))
    check_vs_reference(s, y, assert_close, reduction=reduction, grad=False, **CS)


def test_crammer_singer_every_row_length_and_label_position(isa, dtype, rng, assert_close):
    for c in list(range(1, 40)) + [127, 128, 129]:
        s = np.round(make_scores(rng, c, c, dtype, scale=1.0))  # many ties
        y = np.arange(c)
        for squared in (False, True):
            kw = dict(reduction="none", squared=squared, margin=1.5, **CS)
            loss, g = fl.multiclass_hinge(s, y, **kw)
            rloss, rg = ref.multiclass_hinge(s, y, **kw)
            assert_close(loss, rloss, dtype)
            np.testing.assert_array_equal(g, rg)  # the same j* on ties
            work = s.copy()
            fl.multiclass_hinge(work, y, out=work, **kw)
            np.testing.assert_array_equal(work, rg)


def test_crammer_singer_ties_pick_the_lowest_index(isa, dtype):
    s = np.array([[0.0, 2.0, 5.0, 2.0, 5.0], [1.0, 1.0, 1.0, 1.0, 1.0]], dtype)
    loss, g = fl.multiclass_hinge(s, [1, 4], reduction="none", **CS)
    np.testing.assert_array_equal(loss, [4.0, 1.0])
    np.testing.assert_array_equal(g, [[0, -1, 1, 0, 0], [1, 0, 0, 0, -1]])
    # at the kink the subgradient is 0
    loss, g = fl.multiclass_hinge(np.array([[3.0, 2.0, 1.0]], dtype), [0], **CS)
    assert loss == 0 and np.all(g == 0)


def test_crammer_singer_edge_values(isa, dtype):
    s = np.array([[1.0, -np.inf, 0.0], [-np.inf, -np.inf, 2.0], [np.nan, 1.0, 0.0], [np.inf, 0.0, 1.0]], dtype)
    y = np.array([0, 2, 1, 2])
    loss, g = fl.multiclass_hinge(s, y, reduction="none", **CS)
    np.testing.assert_array_equal(loss[[0, 1, 3]], [0.0, 0.0, np.inf])
    assert np.isnan(loss[2]) and np.all(np.isnan(g[2]))
    np.testing.assert_array_equal(g[[0, 1, 3]], [[0, 0, 0], [0, 0, 0], [1, 0, -1]])
    assert math.isnan(fl.multiclass_hinge(s, y, **CS)[0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("squared", [False, True])
def test_crammer_singer_finite_differences(isa, reduction, squared, rng):
    while True:
        s = rng.uniform(-2, 2, (4, 5))
        y = rng.integers(0, 5, 4)
        others = s.copy()
        others[np.arange(4), y] = -np.inf
        top = np.sort(others, axis=1)
        t = top[:, -1] - s[np.arange(4), y] + 1.0
        if np.all(top[:, -1] - top[:, -2] > 0.05) and np.all(np.abs(t) > 0.05) and np.any(t > 0):
            break
    kw = dict(reduction=reduction, squared=squared, class_weight=[0.5, 2.0, 1.0, 0.3, 1.5],
              sample_weight=[1.0, 0.5, 2.0, 1.5], **CS)
    _, g = fl.multiclass_hinge(s, y, **kw)
    fd = central_difference(lambda x: total(fl.multiclass_hinge(x, y, grad=False, **kw)[0]), s)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=2e-8)
    assert np.abs(g).max() > 0


@HYP
@given(
    problem=problems(dtype=np.float64, max_c=40, lo=-100, hi=100),
    margin=st.floats(0.0, 5.0),
    squared=st.booleans(),
)
def test_crammer_singer_properties(isa, problem, margin, squared):
    s, y = problem
    cs, gcs = fl.multiclass_hinge(s, y, margin=margin, squared=squared, reduction="none", **CS)
    ww, _ = fl.multiclass_hinge(s, y, margin=margin, squared=squared, reduction="none")
    assert np.all(cs >= 0) and np.all(cs <= ww + 1e-9 * (1 + np.abs(ww)))
    # at most two non-zero entries per row, summing to 0
    assert np.all((gcs != 0).sum(axis=1) <= 2)
    np.testing.assert_allclose(gcs.sum(axis=1), 0.0, atol=1e-12 * (1 + np.abs(gcs).max()))


@pytest.mark.parametrize("squared", [False, True])
def test_nan_score_poisons_its_gradient_and_the_labels(isa, dtype, squared):
    """A NaN score gives a NaN loss, a NaN gradient entry and a NaN label entry.

    (An SGD loop fed a finite gradient from a NaN loss would carry on silently.)
    """
    s = np.array([[0, np.nan, 0, 1.0], [0, 1, 2, 3]], dtype)
    loss, g = fl.multiclass_hinge(s, [0, 1], squared=squared, reduction="none")
    assert np.isnan(loss[0]) and np.isfinite(loss[1])
    assert np.isnan(g[0, 0]) and np.isnan(g[0, 1])
    assert np.isfinite(g[0, 2:]).all() and np.isfinite(g[1]).all()


# --------------------------------------------------------------------------
# The fast entry (kernels/fastpath.pxi): the common call checked in C
# --------------------------------------------------------------------------


def _fast(*args):
    from fastloss import _dispatch as dispatch

    return dispatch.kernels.multiclass_hinge_fast(*args)


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("label_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_fast_entry_gives_the_full_paths_result(isa, dtype, reduction, label_dtype, squared, rng):
    s = make_scores(rng, 77, 13, dtype)
    y = rng.integers(0, 13, 77).astype(label_dtype)
    out = np.empty_like(s)
    fast = _fast(s, y, 0.5, squared, reduction, None, None, True, out, "weston_watkins")
    assert fast is not None and fast[1] is out
    # y as a list declines the fast entry: the full path, the same kernel
    slow = fl.multiclass_hinge(s, y.tolist(), margin=0.5, squared=squared, reduction=reduction)
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(out, slow[1])
    work = s.copy()
    loss, g = fl.multiclass_hinge(work, y, margin=0.5, squared=squared, reduction=reduction,
                                  out=work)
    assert g is work
    np.testing.assert_array_equal(work, slow[1])


def test_fast_entry_declines_what_it_does_not_check(isa, rng):
    s = make_scores(rng, 20, 5, np.float32)
    y = rng.integers(0, 5, 20)
    out = np.zeros_like(s)
    base = (s, y, 1.0, False, "mean", None, None, True, out, "weston_watkins")
    shared = np.zeros(105, np.float32)  # C-contiguous scores and out sharing memory
    s_shared, out_on_s = shared[:100].reshape(20, 5), shared[5:].reshape(20, 5)
    s_shared[...] = s
    declined = {
        "crammer_singer": base[:9] + ("crammer_singer",),
        "bad variant": base[:9] + ("ww",),
        "margin negative": (s, y, -1.0) + base[3:],
        "margin string": (s, y, "1") + base[3:],
        "margin inf": (s, y, float("inf")) + base[3:],
        "squared 0": (s, y, 1.0, 0) + base[4:],
        "class_weight": base[:5] + (np.ones(5),) + base[6:],
        "sample_weight": base[:6] + (np.ones(20),) + base[7:],
        "scores list": (s.tolist(),) + base[1:],
        "bad label": (s, np.where(np.arange(20) == 3, -1, y)) + base[2:],
        "out overlaps scores": (s_shared,) + base[1:8] + (out_on_s, "weston_watkins"),
    }
    for what, args in declined.items():
        assert _fast(*args) is None, what
    assert not out.any()
    np.testing.assert_array_equal(s_shared, s)
    with pytest.raises(ValueError, match="margin"):
        fl.multiclass_hinge(s, y, margin=-1.0)
    with pytest.raises(ValueError, match=r"y\[3\] = -1"):
        fl.multiclass_hinge(s, np.where(np.arange(20) == 3, -1, y), out=out)
    assert not out.any()
