"""fastloss.softmax_cross_entropy against its NumPy twin, finite differences and its invariants."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastloss as fl
from fastloss import reference as ref

from _strategies import HYP, LABEL_DTYPES, REDUCTIONS, central_difference
from _strategies import make_labels, make_scores, problems, total
from _strategies import check_vs_reference as _check


def check_vs_reference(s, y, assert_close, **kw):
    """fastloss and the reference agree on loss and gradient; types are as documented."""
    return _check(fl.softmax_cross_entropy, ref.softmax_cross_entropy, s, y, assert_close,
                  grad_scale=grad_scale, **kw)


def grad_scale(s, y, class_weight=None, sample_weight=None, ignore_index=None,
               reduction="mean", **_):
    """Magnitude of the terms that make up a gradient entry: max_i w_i (/ Σ w_i for the mean).

    Absolute rounding errors are relative to this, even where the exact gradient
    is 0 (e.g. C = 1, where p = 1 and every entry cancels to 0).
    """
    n, c = s.shape
    y = np.asarray(y)
    valid = np.ones(n, bool) if ignore_index is None else y != ignore_index
    cw = np.ones(c) if class_weight is None else np.asarray(class_weight, float)
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    a = np.where(valid, sw, 0.0) * cw.max()
    if reduction == "mean":
        denom = np.sum(np.where(valid, sw * cw[np.where(valid, y, 0)], 0.0))
        return float(a.max() / denom) if denom > 0 else 0.0
    return float(a.max())


# --------------------------------------------------------------------------
# Against the reference: sizes, reductions, dtypes, every kernel build
# --------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("c", [1, 2, 3, 17, 100, 1000, 1031])
@pytest.mark.parametrize("n", [1, 7, 1003])
def test_matches_reference_sizes(isa, dtype, n, c, reduction, rng, assert_close):
    s = make_scores(rng, n, c, dtype)
    y = make_labels(rng, n, c)
    check_vs_reference(s, y, assert_close, reduction=reduction)


def _options(name, rng, n, c, y):
    """kwargs (and possibly new labels) for one option combination."""
    cw = rng.uniform(0.0, 2.0, c)
    cw[rng.random(c) < 0.2] = 0.0
    sw = rng.uniform(0.0, 3.0, n)
    sw[rng.random(n) < 0.2] = 0.0
    y = y.copy()
    if name == "class_weight":
        return y, {"class_weight": cw}
    if name == "sample_weight":
        return y, {"sample_weight": sw}
    if name == "both_weights":
        return y, {"class_weight": cw, "sample_weight": sw}
    if name == "smoothing":
        return y, {"label_smoothing": 0.1}
    if name == "smoothing_full":
        return y, {"label_smoothing": 1.0}
    if name == "smoothing_class_weight":
        return y, {"label_smoothing": 0.25, "class_weight": cw}
    if name == "smoothing_all_weights":
        return y, {"label_smoothing": 0.3, "class_weight": cw, "sample_weight": sw}
    if name == "ignore_class":
        # ignore_index that is also a valid class: those rows are skipped
        return y, {"ignore_index": int(y[0])}
    if name == "ignore_negative":
        y[rng.random(n) < 0.3] = -100
        y[0] = -100
        return y, {"ignore_index": -100}
    if name == "ignore_everything":
        y[rng.random(n) < 0.3] = -1
        y[-1] = -1
        return y, {
            "ignore_index": -1,
            "label_smoothing": 0.2,
            "class_weight": cw,
            "sample_weight": sw,
        }
    raise AssertionError(name)


OPTIONS = [
    "class_weight",
    "sample_weight",
    "both_weights",
    "smoothing",
    "smoothing_full",
    "smoothing_class_weight",
    "smoothing_all_weights",
    "ignore_class",
    "ignore_negative",
    "ignore_everything",
]


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("c", [1, 3, 17, 1031])
def test_options_match_reference(isa, dtype, c, reduction, option, rng, assert_close):
    n = 41
    s = make_scores(rng, n, c, dtype)
    y, kw = _options(option, rng, n, c, make_labels(rng, n, c))
    check_vs_reference(s, y, assert_close, reduction=reduction, **kw)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_large_problem_all_options(isa, dtype, reduction, rng, assert_close):
    n, c = 1003, 1031
    s = make_scores(rng, n, c, dtype, scale=5.0)
    y, kw = _options("ignore_everything", rng, n, c, make_labels(rng, n, c))
    check_vs_reference(s, y, assert_close, reduction=reduction, **kw)


def test_known_values_uniform_scores(isa, dtype):
    """Equal scores: every row's loss is log C, the gradient (1/C - onehot)/N."""
    n, c = 5, 7
    y = np.array([0, 6, 3, 3, 1])
    loss, g = fl.softmax_cross_entropy(np.zeros((n, c), dtype), y)
    assert loss == pytest.approx(math.log(c), rel=1e-6)
    expected = np.full((n, c), 1.0 / c)
    expected[np.arange(n), y] -= 1.0
    np.testing.assert_allclose(g, expected / n, rtol=1e-6, atol=1e-7)


def test_known_values_docstring_example(isa, dtype):
    scores = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], dtype)
    rows = [[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]]
    expected = [
        math.log(sum(math.exp(v) for v in row)) - row[label]
        for row, label in zip(rows, [0, 1])
    ]
    loss, g = fl.softmax_cross_entropy(scores, [0, 1], reduction="none")
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    loss, g = fl.softmax_cross_entropy(scores, [0, 1])
    assert loss == pytest.approx(sum(expected) / 2, rel=1e-6)


# --------------------------------------------------------------------------
# Ignored rows and zero total weight
# --------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.4])
def test_every_row_ignored(isa, dtype, reduction, smoothing, rng):
    n, c = 9, 17
    s = make_scores(rng, n, c, dtype)
    y = np.full(n, 4)
    out = np.full((n, c), np.nan, dtype)
    loss, g = fl.softmax_cross_entropy(
        s, y, ignore_index=4, reduction=reduction, label_smoothing=smoothing, out=out
    )
    assert g is out
    assert np.all(g == 0)
    if reduction == "none":
        assert loss.dtype == dtype
        assert np.all(loss == 0)
    else:
        assert type(loss) is float and loss == 0.0


@pytest.mark.parametrize(
    "weights",
    ["zero_sample_weight", "zero_class_weight_of_labels", "zero_class_weight_smoothing"],
)
def test_mean_over_zero_total_weight_is_zero(isa, dtype, weights, rng):
    n, c = 8, 5
    s = make_scores(rng, n, c, dtype)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    kw = {}
    if weights == "zero_sample_weight":
        kw["sample_weight"] = np.zeros(n)
    else:
        kw["class_weight"] = np.array([0.0, 0.0, 0.0, 1.0, 2.0])
        if weights == "zero_class_weight_smoothing":
            kw["label_smoothing"] = 0.3
    out = np.full((n, c), np.nan, dtype)
    loss, g = fl.softmax_cross_entropy(s, y, reduction="mean", out=out, **kw)
    assert type(loss) is float and loss == 0.0
    assert g is out and np.all(g == 0)
    loss, g = fl.softmax_cross_entropy(s, y, reduction="mean", grad=False, **kw)
    assert loss == 0.0 and g is None


def test_ignored_rows_do_not_count_in_mean(isa, dtype, rng, assert_close):
    n, c = 10, 6
    s = make_scores(rng, n, c, dtype)
    y = make_labels(rng, n, c)
    y_ign = y.copy()
    y_ign[::2] = -7
    loss, g = fl.softmax_cross_entropy(s, y_ign, ignore_index=-7)
    sub_loss, sub_g = fl.softmax_cross_entropy(s[1::2], y[1::2])
    assert_close(loss, sub_loss, dtype)
    assert np.all(g[::2] == 0)
    assert_close(g[1::2], sub_g, dtype)


# --------------------------------------------------------------------------
# Labels of every integer dtype, out=, grad=False, return types
# --------------------------------------------------------------------------


@pytest.mark.parametrize("label_dtype", LABEL_DTYPES, ids=lambda d: np.dtype(d).name)
def test_label_dtypes(isa, dtype, label_dtype, rng):
    n, c = 13, 100
    s = make_scores(rng, n, c, dtype)
    y = make_labels(rng, n, c)
    expected_loss, expected_g = fl.softmax_cross_entropy(s, y.astype(np.int64), reduction="none")
    loss, g = fl.softmax_cross_entropy(s, y.astype(label_dtype), reduction="none")
    np.testing.assert_array_equal(loss, expected_loss)
    np.testing.assert_array_equal(g, expected_g)


def test_labels_as_list_and_strided(dtype, rng):
    n, c = 6, 4
    s = make_scores(rng, n, c, dtype)
    y = make_labels(rng, n, c)
    expected = fl.softmax_cross_entropy(s, y, reduction="none")
    for labels in (
        y.tolist(),
        np.repeat(y, 2)[::2],
        np.repeat(y.astype(np.int32), 2)[::2],
        y.astype(">i4"),  # non-native byte order
        y.astype(">u8"),
    ):
        loss, g = fl.softmax_cross_entropy(s, labels, reduction="none")
        np.testing.assert_array_equal(loss, expected[0])
        np.testing.assert_array_equal(g, expected[1])


@pytest.mark.parametrize("ignore", [None, 2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_out_is_returned_and_filled(isa, dtype, reduction, ignore, rng):
    n, c = 11, 19
    s = make_scores(rng, n, c, dtype)
    y = make_labels(rng, n, c)
    expected_loss, expected_g = fl.softmax_cross_entropy(
        s, y, reduction=reduction, ignore_index=ignore, label_smoothing=0.1
    )
    out = np.full((n, c), np.nan, dtype)
    loss, g = fl.softmax_cross_entropy(
        s, y, reduction=reduction, ignore_index=ignore, label_smoothing=0.1, out=out
    )
    assert g is out
    np.testing.assert_array_equal(out, expected_g)
    np.testing.assert_array_equal(loss, expected_loss)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("c", [1, 3, 17, 1031])
def test_out_is_scores_in_place(isa, dtype, c, reduction, rng, assert_close):
    n = 9
    s = make_scores(rng, n, c, dtype)
    y = make_labels(rng, n, c)
    cw = rng.uniform(0.5, 2.0, c)
    kw = dict(reduction=reduction, label_smoothing=0.2, class_weight=cw)
    expected_loss, expected_g = ref.softmax_cross_entropy(s, y, **kw)
    work = s.copy()
    loss, g = fl.softmax_cross_entropy(work, y, out=work, **kw)
    assert g is work
    assert_close(loss, expected_loss, dtype)
    assert_close(work, expected_g, dtype, scale=max(np.abs(expected_g).max(), grad_scale(s, y, **kw)))


@pytest.mark.parametrize("label_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("c", [3, 64, 100, 1031])
def test_plain_call_same_bits_as_unit_weights(isa, dtype, c, reduction, label_dtype, rng):
    """Without weights, smoothing or ignore_index, float32 rows take a C loop of their own
    (fl_sce_plain_block_f32); unit class and sample weights take sce_block's general loop.
    Both must give the same bits -- with and without the gradient, on 1 and 2 threads, for
    rows redone with the max shift (a score far above the label's) and in place, where the
    general loop is used too.  n = 41: a last block of one row; with C = 3 the row-block path
    takes the first 32 rows, so the redo rows are put after them."""
    n = 41
    s = make_scores(rng, n, c, dtype)
    s[33, (c - 1) // 2] += 400.0                      # a redo in float32 and float64
    s[40, 0] = -np.inf
    s[39, -1] = 60.0                                  # a redo in float32 only
    y = make_labels(rng, n, c).astype(label_dtype)
    y[40] = c - 1
    y[39] = 0
    unit = dict(class_weight=np.ones(c), sample_weight=np.ones(n))
    with fl.threads(1):
        plain = fl.softmax_cross_entropy(s, y, reduction=reduction)
        general = fl.softmax_cross_entropy(s, y, reduction=reduction, **unit)
        work = s.copy()
        in_place = fl.softmax_cross_entropy(work, y, reduction=reduction, out=work)
        loss_plain = fl.softmax_cross_entropy(s, y, reduction=reduction, grad=False)[0]
        loss_general = fl.softmax_cross_entropy(s, y, reduction=reduction, grad=False, **unit)[0]
    with fl.threads(2):
        two = fl.softmax_cross_entropy(s, y, reduction=reduction)
    for other in (general, in_place):
        np.testing.assert_array_equal(plain[0], other[0])
        np.testing.assert_array_equal(plain[1], other[1])
    np.testing.assert_array_equal(plain[1], two[1])
    if reduction == "none":
        np.testing.assert_array_equal(plain[0], two[0])
    np.testing.assert_array_equal(plain[0], loss_plain)
    np.testing.assert_array_equal(loss_plain, loss_general)
    assert np.isfinite(plain[1]).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_grad_false(isa, dtype, reduction, rng, assert_close):
    n, c = 7, 17
    s = make_scores(rng, n, c, dtype)
    y = make_labels(rng, n, c)
    kw = dict(reduction=reduction, label_smoothing=0.15, sample_weight=rng.uniform(0, 2, n))
    loss_g, _ = fl.softmax_cross_entropy(s, y, **kw)
    loss, g = fl.softmax_cross_entropy(s, y, grad=False, **kw)
    assert g is None
    assert_close(loss, loss_g, dtype, rtol=1e-12 if dtype == np.float64 else 1e-6)
    check_vs_reference(s, y, assert_close, grad=False, **kw)


def test_scores_as_nested_list():
    loss, g = fl.softmax_cross_entropy([[0.0, 0.0], [1.0, -1.0]], [0, 1], reduction="none")
    rloss, rg = ref.softmax_cross_entropy(np.array([[0.0, 0.0], [1.0, -1.0]]), [0, 1], reduction="none")
    assert g.dtype == np.float64
    np.testing.assert_allclose(loss, rloss, rtol=1e-12)
    np.testing.assert_allclose(g, rg, rtol=1e-12, atol=1e-15)


def test_sample_weight_semantics(isa, rng):
    """sum = Σ sw_i L_i and mean = Σ sw_i L_i / Σ cw[y_i] sw_i, with L_i including cw."""
    n, c = 6, 4
    s = make_scores(rng, n, c, np.float64)
    y = np.array([0, 1, 2, 3, 0, 1])
    cw = np.array([0.5, 1.0, 2.0, 3.0])
    sw = np.array([1.0, 0.0, 2.0, 0.5, 1.5, 3.0])
    per_row, _ = fl.softmax_cross_entropy(s, y, reduction="none", class_weight=cw)
    weighted, _ = fl.softmax_cross_entropy(
        s, y, reduction="none", class_weight=cw, sample_weight=sw
    )
    np.testing.assert_allclose(weighted, sw * per_row, rtol=1e-12)
    total_sum, _ = fl.softmax_cross_entropy(s, y, reduction="sum", class_weight=cw, sample_weight=sw)
    assert total_sum == pytest.approx(np.sum(sw * per_row), rel=1e-12)
    mean, _ = fl.softmax_cross_entropy(s, y, reduction="mean", class_weight=cw, sample_weight=sw)
    assert mean == pytest.approx(np.sum(sw * per_row) / np.sum(cw[y] * sw), rel=1e-12)


# --------------------------------------------------------------------------
# Gradient against central finite differences (float64)
# --------------------------------------------------------------------------

FD_OPTIONS = {
    "plain": {},
    "class_weight": {"class_weight": np.array([0.5, 2.0, 1.0, 0.0, 1.5])},
    "sample_weight": {"sample_weight": np.array([1.0, 0.5, 2.0, 0.0])},
    "smoothing": {"label_smoothing": 0.2},
    "smoothing_full": {"label_smoothing": 1.0},
    "smoothing_class_weight": {
        "label_smoothing": 0.3,
        "class_weight": np.array([0.5, 2.0, 1.0, 0.0, 1.5]),
    },
    "everything": {
        "label_smoothing": 0.3,
        "class_weight": np.array([0.5, 2.0, 1.0, 0.1, 1.5]),
        "sample_weight": np.array([1.0, 0.5, 2.0, 1.5]),
        "ignore_index": 3,
    },
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", list(FD_OPTIONS))
def test_gradient_finite_differences(isa, option, reduction, rng):
    kw = dict(FD_OPTIONS[option], reduction=reduction)
    s = make_scores(rng, 4, 5, np.float64, scale=1.5)
    y = np.array([1, 3, 0, 4])

    def f(x):
        return total(fl.softmax_cross_entropy(x, y, grad=False, **kw)[0])

    _, g = fl.softmax_cross_entropy(s, y, **kw)
    fd = central_difference(f, s, h=1e-6)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=2e-8)


# --------------------------------------------------------------------------
# Properties (hypothesis)
# --------------------------------------------------------------------------


@HYP
@given(
    problem=problems(dtype=np.float64, max_c=40),
    data=st.data(),
    reduction=st.sampled_from(REDUCTIONS),
    smoothing=st.sampled_from([0.0, 0.1, 0.5]),
)
def test_row_shift_invariance(isa, problem, data, reduction, smoothing):
    s, y = problem
    shift = data.draw(
        st.lists(st.floats(-1e3, 1e3), min_size=s.shape[0], max_size=s.shape[0]).map(np.array)
    )
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    loss0, g0 = fl.softmax_cross_entropy(s, y, **kw)
    loss1, g1 = fl.softmax_cross_entropy(s + shift[:, None], y, **kw)
    np.testing.assert_allclose(loss1, loss0, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(g1, g0, rtol=1e-9, atol=1e-10)


@HYP
@given(
    problem=problems(dtype=np.float64, max_c=40),
    data=st.data(),
    smoothing=st.sampled_from([0.0, 0.2, 1.0]),
    weighted=st.booleans(),
)
def test_gradient_rows_sum_to_zero(isa, problem, data, smoothing, weighted):
    s, y = problem
    n, c = s.shape
    kw = dict(reduction="sum", label_smoothing=smoothing)
    if weighted:
        kw["class_weight"] = np.array(data.draw(st.lists(st.floats(0, 3), min_size=c, max_size=c)))
        kw["sample_weight"] = np.array(data.draw(st.lists(st.floats(0, 3), min_size=n, max_size=n)))
    _, g = fl.softmax_cross_entropy(s, y, **kw)
    scale = 1.0 + np.abs(g).max(axis=1)
    assert np.all(np.abs(g.sum(axis=1)) <= 1e-13 * c * scale), g.sum(axis=1)


@HYP
@given(
    data=st.data(),
    dtype=st.sampled_from([np.float32, np.float64]),
    reduction=st.sampled_from(REDUCTIONS),
    smoothing=st.sampled_from([0.0, 0.3]),
)
def test_finite_input_gives_finite_output(isa, data, dtype, reduction, smoothing):
    bound = 1e15 if dtype == np.float32 else 1e100
    s, y = data.draw(problems(dtype=dtype, max_c=40, lo=-bound, hi=bound))
    loss, g = fl.softmax_cross_entropy(s, y, reduction=reduction, label_smoothing=smoothing)
    assert np.all(np.isfinite(loss))
    assert np.all(np.isfinite(g))
    assert np.all(np.asarray(loss) >= 0)


@HYP
@given(problem=problems(dtype=np.float64, max_c=40, lo=-50, hi=50))
def test_loss_is_minus_log_softmax_at_label(isa, problem):
    s, y = problem
    loss, _ = fl.softmax_cross_entropy(s, y, reduction="none")
    lp = fl.log_softmax(s)
    np.testing.assert_allclose(loss, -lp[np.arange(len(y)), y], rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------
# Numerical edge cases
# --------------------------------------------------------------------------


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float32_huge_logits_match_float64(isa, reduction, smoothing, rng):
    n, c = 64, 23
    s = make_scores(rng, n, c, np.float32)
    big = rng.random((n, c)) < 0.3
    s[big] = rng.choice(np.array([1e4, -1e4, 9999.5, -9998.0], np.float32), size=big.sum())
    s[0, :] = 1e4
    s[1, :] = -1e4
    s[2, 0], s[2, 1] = 1e4, -1e4
    y = make_labels(rng, n, c)
    y[2] = 1  # label at -1e4 while another class is at 1e4: loss ~2e4
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    loss32, g32 = fl.softmax_cross_entropy(s, y, **kw)
    loss64, g64 = ref.softmax_cross_entropy(s.astype(np.float64), y, **kw)
    assert np.all(np.isfinite(loss32)) and np.all(np.isfinite(g32))
    np.testing.assert_allclose(loss32, loss64, rtol=1e-6)
    np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-6 * np.abs(g64).max())


@pytest.mark.parametrize("c", [3, 40, 100, 1031])
def test_scores_far_above_the_label_take_the_max_shift(isa, dtype, c, rng):
    """exp(s - s_y) overflows for a score > ~88 (float32) or ~709 (float64) above s_y.

    Such a row, and one with an infinite score, is redone with the max shift:
    every way of calling (out of place, in place, loss only) gives the same
    finite results as the float64 reference, bit for bit the same as each other.
    """
    n = 24
    s = make_scores(rng, n, c, dtype)
    y = make_labels(rng, n, c)
    gaps = np.array([10.0, 21.0, 23.0, 80.0, 88.5, 700.0, 720.0, 3e6, 1e30], dtype)
    for i, gap in enumerate(gaps):
        j = (int(y[i]) + 1 + i) % c
        if j != y[i]:
            s[i, j] = s[i, y[i]] + gap      # one score far above the label's
    s[10, :] = -1e30
    s[10, (int(y[10]) + 1) % c] = 1e30      # the label among the lowest of a huge range
    s[11, (int(y[11]) + 1) % c] = np.inf    # +inf elsewhere than the label: NaN, as torch
    kw = dict(reduction="none", sample_weight=rng.uniform(0.5, 2, n))
    loss, g = fl.softmax_cross_entropy(s, y, **kw)
    only, none = fl.softmax_cross_entropy(s, y, grad=False, **kw)
    work = s.copy()
    loss_ip, g_ip = fl.softmax_cross_entropy(work, y, out=work, **kw)
    assert none is None and g_ip is work
    np.testing.assert_array_equal(only, loss)
    np.testing.assert_array_equal(loss_ip, loss)
    np.testing.assert_array_equal(g_ip, g)
    finite = np.ones(n, bool)
    finite[11] = False
    rloss, rg = ref.softmax_cross_entropy(s[finite].astype(np.float64), y[finite], **{
        **kw, "sample_weight": kw["sample_weight"][finite]})
    assert np.all(np.isfinite(loss[finite])) and np.all(np.isfinite(g[finite]))
    np.testing.assert_allclose(loss[finite], rloss, rtol=2e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(g[finite], rg, rtol=0, atol=1e-6 if dtype == np.float32 else 1e-13)
    assert np.isnan(loss[11]) and np.isnan(g[11]).any()


@pytest.mark.parametrize("gap", [5.0, 23.0, 40.0, 50.0, 85.0, 87.0, 300.0, 400.0, 705.0])
def test_gradient_of_a_class_far_above_the_label_keeps_its_accuracy(isa, dtype, gap):
    """The mean over many rows makes the gradient's factor w/(N·sum) small: a
    sum of e^85 (the label shift without its bound) would push it below the
    normal range and lose the gradient's digits (or zero it under FTZ)."""
    if dtype == np.float32 and gap > 88:
        pytest.skip("beyond float32's exp range: covered by the overflow test")
    n, c = 4096, 100
    s = np.zeros((n, c), dtype)
    s[:, 1] = gap
    y = np.zeros(n, np.int64)
    w = np.full(n, 1e-3)
    _, g = fl.softmax_cross_entropy(s, y, reduction="mean", sample_weight=w)
    _, rg = ref.softmax_cross_entropy(s.astype(np.longdouble), y, reduction="mean", sample_weight=w)
    rg = rg.astype(np.float64)
    big = np.abs(rg) > 1e3 * np.finfo(dtype).tiny
    np.testing.assert_allclose(g[big], rg[big], rtol=1e-6 if dtype == np.float32 else 1e-13)


def test_float64_label_smoothing_far_below_the_other_scores(isa):
    """Σ cw_k (s_k - m) and W log Σ exp(s - m) cancel unless m is the max."""
    if np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps:
        pytest.skip("the oracle needs a long double wider than float64")
    rng = np.random.default_rng(7)
    for c, gap in ((100, 700.0), (1000, 300.0), (100, 15.0)):
        s = rng.standard_normal((6, c)) + gap
        y = np.arange(6) % c
        s[np.arange(6), y] = 0.0
        for eps, cw in ((1.0, None), (0.1, np.r_[1e-3, np.ones(c - 1)])):
            loss, _ = fl.softmax_cross_entropy(s, y, reduction="none", label_smoothing=eps,
                                               class_weight=cw)
            rloss, _ = ref.softmax_cross_entropy(s.astype(np.longdouble), y, reduction="none",
                                                 label_smoothing=eps, class_weight=cw)
            np.testing.assert_allclose(loss, rloss.astype(np.float64), rtol=1e-14)


@pytest.mark.parametrize("c", [33, 100, 130, 200])
def test_small_rest_keeps_its_relative_accuracy_at_every_label_place(isa, dtype, c):
    """A confidently right row: loss = log(1 + rest), rest ~1e-3, to 1e-6 relative.

    The label's term is exactly 1.  A term 4 to 48 places away (in another
    vector of the group of four the kernel adds in float) gets e^-7, the rest
    e^-30; the rounding of 1 + e^-7 alone would be an error of ~7e-5 relative
    to the loss, so this fails unless that rounding is corrected, wherever the
    label is.
    """
    rows = []
    labels = []
    for yi in range(c):
        for d in (4, -4, 8, -8, 16, -16, 32, -32, 48, -48):
            if 0 <= yi + d < c:
                r = np.full(c, -30.0)
                r[yi] = 0.0
                r[yi + d] = -7.0 + 0.001 * yi   # not a power of two apart from 1
                rows.append(r)
                labels.append(yi)
    if dtype == np.float64 and np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps:
        pytest.skip("the oracle needs a long double wider than float64")
    s = np.array(rows, dtype)
    y = np.array(labels)
    loss, g = fl.softmax_cross_entropy(s, y, reduction="none")
    # the twin in long double: in float64 its log(1 + rest) is only ~1e-13 relative
    rloss, rg = ref.softmax_cross_entropy(s.astype(np.longdouble), y, reduction="none")
    np.testing.assert_allclose(loss, rloss.astype(np.float64), rtol=1e-6 if dtype == np.float32 else 1e-14)
    # g_y = p_y - 1 with p_y near 1: a few ulps of 1
    np.testing.assert_allclose(g, rg.astype(np.float64), rtol=0, atol=1e-7 if dtype == np.float32 else 4e-16)


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float64_shift_by_1e6(isa, reduction, smoothing, rng):
    n, c = 20, 37
    shifted = make_scores(rng, n, c, np.float64) + 1e6
    base = shifted - 1e6  # exact (Sterbenz), so both arrays hold the same row differences
    kw = dict(reduction=reduction, label_smoothing=smoothing, class_weight=rng.uniform(0.5, 2, c))
    y = make_labels(rng, n, c)
    loss0, g0 = fl.softmax_cross_entropy(base, y, **kw)
    loss1, g1 = fl.softmax_cross_entropy(shifted, y, **kw)
    np.testing.assert_allclose(loss1, loss0, rtol=1e-9)
    np.testing.assert_allclose(g1, g0, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("c", [4, 17, 40])
def test_minus_inf_masked_classes(isa, dtype, c, rng, assert_close):
    n = 12
    s = make_scores(rng, n, c, dtype)
    y = make_labels(rng, n, c)
    mask = rng.random((n, c)) < 0.5
    mask[np.arange(n), y] = False
    s[mask] = -np.inf
    cw = rng.uniform(0.5, 2.0, c)
    for kw in ({}, {"class_weight": cw}):
        loss, g = fl.softmax_cross_entropy(s, y, reduction="none", **kw)
        assert np.all(np.isfinite(loss)) and np.all(np.isfinite(g))
        assert np.all(g[mask] == 0)
        for i in range(n):
            keep = ~mask[i]
            yi = int(np.count_nonzero(keep[: y[i]]))
            sub = ref.softmax_cross_entropy(
                s[i : i + 1, keep],
                [yi],
                reduction="none",
                **({"class_weight": cw[keep]} if kw else {}),
            )
            assert_close(loss[i : i + 1], sub[0], dtype)
            assert_close(g[i, keep][None], sub[1], dtype, scale=max(1.0, cw.max()))


@pytest.mark.parametrize("c", [2, 5, 16, 33])
def test_all_but_target_minus_inf_gives_zero(isa, dtype, c):
    n = 3
    s = np.full((n, c), -np.inf, dtype)
    y = np.array([0, c - 1, c // 2])
    s[np.arange(n), y] = np.array([3.5, -1e4, 0.0], dtype)
    for reduction in REDUCTIONS:
        loss, g = fl.softmax_cross_entropy(s, y, reduction=reduction)
        np.testing.assert_allclose(loss, 0.0, atol=1e-12)
        np.testing.assert_allclose(g, 0.0, atol=1e-12)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("where", ["first", "last", "label", "middle"])
@pytest.mark.parametrize("c", [3, 17, 40])
def test_nan_propagates_to_loss(isa, dtype, c, where, smoothing, rng, assert_close):
    n = 5
    s = make_scores(rng, n, c, dtype)
    y = make_labels(rng, n, c)
    y[2] = 1
    col = {"first": 0, "last": c - 1, "label": 1, "middle": c // 2}[where]
    s[2, col] = np.nan
    loss, g = fl.softmax_cross_entropy(s, y, reduction="none", label_smoothing=smoothing)
    assert np.isnan(loss[2])
    others = np.array([0, 1, 3, 4])
    rloss, rg = ref.softmax_cross_entropy(
        s[others], y[others], reduction="none", label_smoothing=smoothing
    )
    assert_close(loss[others], rloss, dtype)
    assert_close(g[others], rg, dtype)
    for reduction in ("sum", "mean"):
        loss, _ = fl.softmax_cross_entropy(s, y, reduction=reduction, label_smoothing=smoothing)
        assert math.isnan(loss)
        loss, _ = fl.softmax_cross_entropy(
            s, y, reduction=reduction, label_smoothing=smoothing, grad=False
        )
        assert math.isnan(loss)


# --------------------------------------------------------------------------
# Every row length, label position and position of the maximum
# --------------------------------------------------------------------------


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_every_row_length_and_label_position(isa, dtype, smoothing, rng, assert_close):
    for c in list(range(1, 70)) + [127, 128, 129]:
        s = make_scores(rng, c, c, dtype, scale=1.0)
        s[np.arange(c), np.arange(c)] += 6.0  # the row maximum at column i in row i
        y = (np.arange(c) * 7 + 3) % c
        kw = dict(reduction="none", label_smoothing=smoothing)
        loss, g = fl.softmax_cross_entropy(s, y, **kw)
        rloss, rg = ref.softmax_cross_entropy(s, y, **kw)
        assert_close(loss, rloss, dtype)
        assert_close(g, rg, dtype, scale=1.0)
        work = s.copy()
        fl.softmax_cross_entropy(work, y, out=work, **kw)
        assert_close(work, rg, dtype, scale=1.0)
        s_nan = s.copy()
        s_nan[np.arange(c), np.arange(c)] = np.nan  # NaN at every position, once per row
        loss, _ = fl.softmax_cross_entropy(s_nan, y, **kw)
        assert np.isnan(loss).all(), c
        if smoothing == 0.0:
            masked = np.full((c, c), -np.inf, dtype)
            masked[np.arange(c), y] = s[np.arange(c), y]
            loss, g = fl.softmax_cross_entropy(masked, y, **kw)
            np.testing.assert_allclose(loss, 0.0, atol=1e-12)
            np.testing.assert_allclose(g, 0.0, atol=1e-12)


@pytest.mark.parametrize("ignored", [False, True])
def test_log_of_row_sums_is_accurate(isa, ignored):
    """Uniform scores: every row's loss is exactly log C.

    Exercises the batched vector log of the row sums across many mantissas and
    binades (C = 1 ... 3000), every position within a block of rows, and
    blocks with ignored rows.
    """
    cs = np.unique(np.geomspace(1, 3000, 300).astype(int))
    for c in cs:
        n = 11
        y = np.arange(n) % c
        if ignored:
            y[3] = -1
        loss, _ = fl.softmax_cross_entropy(
            np.zeros((n, c)), y, reduction="none", ignore_index=-1 if ignored else None
        )
        expected = np.full(n, math.log(c))
        if ignored:
            expected[3] = 0.0
        np.testing.assert_allclose(loss, expected, rtol=4 * np.finfo(np.float64).eps, atol=0)


# --------------------------------------------------------------------------
# Soft (probability) targets
# --------------------------------------------------------------------------


def _soft_targets(rng, n, c, dtype=np.float64):
    t = rng.random((n, c)) ** 3
    t[rng.random((n, c)) < 0.3] = 0.0
    t[:, 0] += 1e-3
    return (t / t.sum(axis=1, keepdims=True)).astype(dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("c", [1, 2, 17, 100, 1031])
@pytest.mark.parametrize("n", [1, 7, 301])
def test_soft_targets_match_reference(isa, dtype, n, c, reduction, rng, assert_close):
    s = make_scores(rng, n, c, dtype)
    t = _soft_targets(rng, n, c)
    cw = rng.uniform(0.0, 2.0, c)
    sw = rng.uniform(0.0, 2.0, n)
    for kw in ({}, {"label_smoothing": 0.2}, {"class_weight": cw},
               {"class_weight": cw, "sample_weight": sw, "label_smoothing": 0.05}):
        for grad in (True, False):
            loss, g = fl.softmax_cross_entropy(s, t, reduction=reduction, grad=grad, **kw)
            rloss, rg = ref.softmax_cross_entropy(s, t, reduction=reduction, grad=grad, **kw)
            assert (type(loss) is float) == (reduction != "none")
            assert_close(loss, rloss, dtype)
            if grad:
                assert g.dtype == dtype
                # entries are O(weights): with C = 1 the gradient is 0 up to rounding
                assert_close(g, rg, dtype, scale=max(1.0, float(np.abs(rg).max())))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_one_hot_soft_targets_equal_hard_labels(isa, dtype, reduction, rng, assert_close):
    n, c = 37, 13
    s = make_scores(rng, n, c, dtype)
    y = make_labels(rng, n, c)
    kw = dict(reduction=reduction, sample_weight=rng.uniform(0.5, 2, n), label_smoothing=0.1)
    hard = fl.softmax_cross_entropy(s, y, **kw)
    soft = fl.softmax_cross_entropy(s, np.eye(c, dtype=np.float32)[y], **kw)
    assert_close(soft[0], hard[0], dtype)
    assert_close(soft[1], hard[1], dtype)


def test_soft_targets_out_in_place_and_edges(isa, dtype, rng, assert_close):
    n, c = 9, 21
    s = make_scores(rng, n, c, dtype)
    t = _soft_targets(rng, n, c, np.float32)
    rloss, rg = ref.softmax_cross_entropy(s, t, reduction="sum")
    work = s.copy()
    loss, g = fl.softmax_cross_entropy(work, t, reduction="sum", out=work)
    assert g is work
    assert_close(work, rg, dtype)
    assert_close(loss, rloss, dtype)
    # -inf scores where there is no target mass cost nothing; a shift by 1e6 changes nothing
    s2 = s.astype(np.float64)
    t2 = t.astype(np.float64)
    t2[:, 3] = 0.0
    t2 /= t2.sum(axis=1, keepdims=True)
    s2[:, 3] = -np.inf
    loss, g = fl.softmax_cross_entropy(s2, t2, reduction="none")
    assert np.all(np.isfinite(loss)) and np.all(g[:, 3] == 0)
    shifted = fl.softmax_cross_entropy(s2 + 1e6, t2, reduction="none")[0]
    np.testing.assert_allclose(shifted, loss, rtol=1e-9)
    out = np.full((n, c), np.nan, dtype)
    loss, g = fl.softmax_cross_entropy(s, t, sample_weight=np.zeros(n), out=out)
    assert loss == 0.0 and np.all(g == 0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_targets_finite_differences(isa, reduction, rng):
    s = rng.uniform(-2, 2, (4, 5))
    t = _soft_targets(rng, 4, 5)
    kw = dict(reduction=reduction, class_weight=[0.5, 2.0, 1.0, 0.0, 1.5],
              sample_weight=[1.0, 0.5, 2.0, 1.5], label_smoothing=0.1)
    _, g = fl.softmax_cross_entropy(s, t, **kw)
    fd = central_difference(lambda x: total(fl.softmax_cross_entropy(x, t, grad=False, **kw)[0]), s)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------
# Few classes: blocks of rows vectorised across rows (_simd_rowblock.h)
# --------------------------------------------------------------------------

#: Rows per block are 4-16 depending on build and dtype; 53 rows give whole
#: blocks and a remainder for every build.  C runs over the widths that take
#: the block path (<= 63 for float32, <= 32 for float64) and just past them.
ROWBLOCK_N = 53
ROWBLOCK_C = list(range(1, 34)) + [47, 63, 64, 65]

ROWBLOCK_OPTIONS = {
    "plain": {},
    "class_weight": {"class_weight": "cw"},
    "sample_weight": {"sample_weight": "sw"},
    "ignore_index": {"ignore_index": -100},
    "no_grad": {"grad": False},
}


@pytest.mark.parametrize("option", list(ROWBLOCK_OPTIONS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_row_blocks_match_reference(isa, dtype, reduction, option, rng, assert_close):
    for c in ROWBLOCK_C:
        s = make_scores(rng, ROWBLOCK_N, c, dtype)
        y = rng.integers(0, c, ROWBLOCK_N)
        kw = dict(ROWBLOCK_OPTIONS[option], reduction=reduction)
        if option == "class_weight":
            kw["class_weight"] = rng.uniform(0.1, 2.0, c)
        elif option == "sample_weight":
            kw["sample_weight"] = rng.uniform(0.0, 2.0, ROWBLOCK_N)
        elif option == "ignore_index":
            y[::5] = -100  # ignored rows inside blocks and in the remainder
        check_vs_reference(s, y, assert_close, **kw)


@pytest.mark.parametrize("c", [2, 10, 16, 31, 63])
def test_row_blocks_in_place_and_edge_values(isa, dtype, c, rng, assert_close):
    s = make_scores(rng, ROWBLOCK_N, c, dtype)
    y = rng.integers(0, c, ROWBLOCK_N)
    s[3, :] = -np.inf
    s[3, y[3]] = 1.0                   # all but the label masked: loss 0, gradient 0
    s[20, (y[20] + 1) % c] = -np.inf   # one masked class
    s[40] += 1e4 if dtype == np.float64 else 1e3  # a shifted row
    rloss, rg = ref.softmax_cross_entropy(s, y, reduction="none")
    work = s.copy()
    loss, g = fl.softmax_cross_entropy(work, y, reduction="none", out=work)
    assert g is work
    assert_close(loss, rloss, dtype)
    assert_close(work, rg, dtype, scale=1.0)
    assert loss[3] == 0.0 and not work[3].any()
    s[17, c // 2] = np.nan             # NaN poisons its row only
    loss, g = fl.softmax_cross_entropy(s, y, reduction="none")
    assert np.isnan(loss[17]) and np.isnan(g[17]).all()
    assert np.isfinite(np.delete(loss, 17)).all()


def test_row_blocks_accurate_for_confident_rows(isa, dtype):
    """A row whose label wins by a wide gap has loss log(1 + δ), δ tiny: relative accuracy kept."""
    n, c = 64, 10
    s = np.zeros((n, c), dtype)
    y = np.arange(n) % c
    gap = np.linspace(8.0, 25.0 if dtype == np.float64 else 15.0, n)
    s[np.arange(n), y] = gap
    loss, _ = fl.softmax_cross_entropy(s, y, reduction="none")
    exact = np.log1p((c - 1) * np.exp(-gap.astype(np.float64)))
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(loss, exact, rtol=rtol, atol=0)


# --------------------------------------------------------------------------
# The fast entry (kernels/fastpath.pxi): the common call checked in C
# --------------------------------------------------------------------------


def _fast(*args):
    from fastloss import _dispatch as dispatch

    return dispatch.kernels.softmax_cross_entropy_fast(*args)


@pytest.mark.parametrize("label_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_fast_entry_gives_the_full_paths_result(isa, dtype, reduction, label_dtype, rng):
    s = make_scores(rng, 77, 13, dtype)
    y = rng.integers(0, 13, 77).astype(label_dtype)
    out = np.empty_like(s)
    fast = _fast(s, y, reduction, None, None, 0.0, None, True, out)
    assert fast is not None and fast[1] is out
    # y as a list declines the fast entry: the full path, the same kernel
    slow = fl.softmax_cross_entropy(s, y.tolist(), reduction=reduction)
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(out, slow[1])
    loss, g = fl.softmax_cross_entropy(s, y, reduction=reduction, grad=False)
    np.testing.assert_array_equal(loss, slow[0])
    assert g is None


class _Sub(np.ndarray):
    pass


def test_fast_entry_declines_what_it_does_not_check(isa, rng):
    """Every call the fast entry is not sure of goes to the full path (None), unchanged."""
    s = make_scores(rng, 20, 5, np.float32)
    y = rng.integers(0, 5, 20)
    out = np.zeros_like(s)
    ro = np.zeros_like(s)
    ro.flags.writeable = False
    base = (s, y, "mean", None, None, 0.0, None, True, None)
    # C-contiguous buffers that share memory: with the scores (shifted by a row)
    # and with the labels (their bytes seen as float32)
    shared = np.zeros(105, np.float32)
    s_shared, out_on_s = shared[:100].reshape(20, 5), shared[5:].reshape(20, 5)
    s_shared[...] = s
    y_bytes = np.zeros(50, np.int64)
    y_bytes[:20] = y
    y_shared, out_on_y = y_bytes[:20], y_bytes.view(np.float32)[:100].reshape(20, 5)
    declined = {
        "scores list": (s.tolist(),) + base[1:],
        "scores strided": (np.asfortranarray(s),) + base[1:],
        "scores float16": (s.astype(np.float16),) + base[1:],
        "scores 1-D": (s[0],) + base[1:],
        "scores subclass": (s.view(_Sub),) + base[1:],
        "y uint8": (s, y.astype(np.uint8)) + base[2:],
        "y strided": (s, np.repeat(y, 2)[::2]) + base[2:],
        "y wrong length": (s, y[:-1]) + base[2:],
        "reduction": base[:2] + ("avg",) + base[3:],
        "class_weight": base[:3] + (np.ones(5),) + base[4:],
        "sample_weight": base[:4] + (np.ones(20),) + base[5:],
        "label_smoothing string": base[:5] + ("0",) + base[6:],
        "label_smoothing > 1": base[:5] + (1.5,) + base[6:],
        "label_smoothing nan": base[:5] + (float("nan"),) + base[6:],
        "ignore_index": base[:6] + (-100,) + base[7:],
        "grad 1": base[:7] + (1,) + base[8:],
        "out read-only": base[:8] + (ro,),
        "out float64": base[:8] + (out.astype(np.float64),),
        "out wrong shape": base[:8] + (out[:-1],),
        "out overlaps scores": (s_shared,) + base[1:8] + (out_on_s,),
        "out overlaps y": (s, y_shared) + base[2:8] + (out_on_y,),
        "out with grad=False": base[:7] + (False, out),
        "bad label": (s, np.where(np.arange(20) == 7, 5, y)) + base[2:],
    }
    for what, args in declined.items():
        assert _fast(*args) is None, what
    assert not out.any()  # nothing written by a declined call
    np.testing.assert_array_equal(s_shared, s)
    np.testing.assert_array_equal(y_shared, y)
    with pytest.raises(ValueError, match=r"y\[7\] = 5"):
        fl.softmax_cross_entropy(s, np.where(np.arange(20) == 7, 5, y), out=out)
    assert not out.any()
    with pytest.raises(ValueError, match="out must be writeable"):
        fl.softmax_cross_entropy(s, y, out=ro)


def test_fast_entry_in_place_and_read_only_scores(isa, dtype, rng, assert_close):
    s = make_scores(rng, 40, 7, dtype)
    y = rng.integers(0, 7, 40)
    rloss, rg = ref.softmax_cross_entropy(s, y)
    frozen = s.copy()
    frozen.flags.writeable = False
    loss, g = _fast(frozen, y, "mean", None, None, 0, None, True, None)
    assert_close(loss, rloss, dtype)
    assert_close(g, rg, dtype, scale=1.0)
    work = s.copy()
    loss, g = _fast(work, y, "mean", None, None, 0.0, None, True, work)
    assert g is work
    assert_close(work, rg, dtype, scale=1.0)
