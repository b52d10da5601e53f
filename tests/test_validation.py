"""Bad input raises a clear error naming the argument, and a rejected call modifies nothing."""

import numpy as np
import pytest

import fastloss as fl

N, C = 5, 4

LOSSES = {"softmax_cross_entropy": fl.softmax_cross_entropy, "multiclass_hinge": fl.multiclass_hinge}
ROWWISE = {"softmax": fl.softmax, "log_softmax": fl.log_softmax}
ALL = {**LOSSES, **ROWWISE}


def _problem(dtype=np.float64):
    rng = np.random.default_rng(7)
    s = rng.standard_normal((N, C)).astype(dtype)
    y = np.array([0, 3, 1, 2, 1])
    return s, y


def assert_rejected(exc, match, func, args, kwargs):
    """func(*args, **kwargs) raises exc matching ``match`` and leaves every array argument as it was."""
    arrays = [a for a in list(args) + list(kwargs.values()) if isinstance(a, np.ndarray)]
    before = [a.copy() for a in arrays]
    with pytest.raises(exc, match=match):
        func(*args, **kwargs)
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b)  # NaN sentinels compare equal here


def _sentinel_out(dtype=np.float64, shape=(N, C)):
    return np.full(shape, np.nan, dtype)


# --------------------------------------------------------------------------
# scores
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize(
    "bad_dtype", [np.int64, np.int32, np.float16, np.bool_, np.complex128, np.uint8],
    ids=lambda d: np.dtype(d).name,
)
def test_scores_bad_dtype(name, bad_dtype):
    s, y = _problem()
    s = s.astype(bad_dtype)
    args = (s, y) if name in LOSSES else (s,)
    assert_rejected(TypeError, "scores", ALL[name], args, {})


def test_scores_object_dtype():
    assert_rejected(TypeError, "scores", fl.softmax, (np.array([["a", "b"]], dtype=object),), {})


@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize("shape", [(C,), (1, N, C), (), (N, 0)], ids=["1d", "3d", "0d", "no_columns"])
def test_scores_bad_shape(name, shape):
    s = np.zeros(shape)
    y = np.zeros(shape[0] if shape else 1, np.int64)
    args = (s, y) if name in LOSSES else (s,)
    assert_rejected(ValueError, "scores", ALL[name], args, {})


@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["fortran", "strided_columns", "strided_rows", "readonly", "readonly_fortran"])
def test_non_contiguous_and_readonly_scores_accepted(name, dtype, layout):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((2 * N, 2 * C)).astype(dtype)
    if layout == "fortran":
        s = np.asfortranarray(base[:N, :C])
    elif layout == "strided_columns":
        s = base[:N, ::2]
    elif layout == "strided_rows":
        s = base[::2, :C]
    elif layout == "readonly":
        s = np.ascontiguousarray(base[:N, :C])
        s.flags.writeable = False
    else:
        s = np.asfortranarray(base[:N, :C])
        s.flags.writeable = False
    assert s.shape == (N, C)
    before = s.copy()
    contiguous = np.ascontiguousarray(s).copy()
    f = ALL[name]
    if name in LOSSES:
        y = np.array([0, 3, 1, 2, 1])
        for reduction in ("none", "sum", "mean"):
            loss, g = f(s, y, reduction=reduction)
            eloss, eg = f(contiguous, y, reduction=reduction)
            np.testing.assert_array_equal(loss, eloss)
            np.testing.assert_array_equal(g, eg)
            out = np.empty((N, C), dtype)
            loss, g = f(s, y, reduction=reduction, out=out)
            assert g is out
            np.testing.assert_array_equal(out, eg)
    else:
        np.testing.assert_array_equal(f(s), f(contiguous))
        out = np.empty((N, C), dtype)
        assert f(s, out=out) is out
        np.testing.assert_array_equal(out, f(contiguous))
    np.testing.assert_array_equal(s, before)


@pytest.mark.parametrize("name", list(ALL))
def test_scores_unchanged_without_out(name):
    s, y = _problem()
    before = s.copy()
    if name in LOSSES:
        ALL[name](s, y, reduction="none")
    else:
        ALL[name](s)
    np.testing.assert_array_equal(s, before)


# --------------------------------------------------------------------------
# y
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("bad", ["short", "long", "2d", "scalar"])
def test_y_bad_shape(name, bad):
    s, y = _problem()
    yb = {"short": y[:-1], "long": np.append(y, 0), "2d": y[:, None], "scalar": np.int64(1)}[bad]
    out = _sentinel_out()
    assert_rejected(ValueError, r"\by\b", LOSSES[name], (s, yb), {"out": out})


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("bad_dtype", [np.float64, np.float32, np.bool_, np.complex64, "U1"], ids=str)
def test_y_non_integer_dtype(name, bad_dtype):
    s, y = _problem()
    out = _sentinel_out()
    assert_rejected(TypeError, r"\by\b", LOSSES[name], (s, y.astype(bad_dtype)), {"out": out})


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize(
    "label_dtype, bad_value",
    [(dt, v) for dt in (np.int8, np.int32, np.int64, np.uint8, np.uint64) for v in (C, -1, 100, 2**40)
     if np.iinfo(dt).min <= v <= np.iinfo(dt).max],
    ids=lambda v: np.dtype(v).name if isinstance(v, type) else str(v),
)
@pytest.mark.parametrize("row", [0, N - 1])
def test_label_out_of_range(name, label_dtype, bad_value, row):
    s, y = _problem()
    y = y.astype(label_dtype)
    y[row] = bad_value
    out = _sentinel_out()
    for reduction in ("none", "sum", "mean"):
        assert_rejected(
            ValueError, rf"y\[{row}\].*{bad_value}", LOSSES[name], (s, y), {"out": out, "reduction": reduction}
        )
        assert_rejected(
            ValueError, rf"y\[{row}\]", LOSSES[name], (s, y), {"grad": False, "reduction": reduction}
        )


def test_label_out_of_range_in_place_scores_untouched():
    for f in LOSSES.values():
        s, y = _problem()
        y[-1] = C
        before = s.copy()
        with pytest.raises(ValueError, match=r"y\[4\]"):
            f(s, y, out=s)
        np.testing.assert_array_equal(s, before)


def test_label_uint64_beyond_int64():
    s, y = _problem()
    y = y.astype(np.uint64)
    y[2] = np.uint64(2**63 + 5)
    for f in LOSSES.values():
        assert_rejected(ValueError, r"y\[2\]", f, (s, y), {"out": _sentinel_out()})


def test_label_error_with_ignore_index_names_the_label():
    s, y = _problem()
    y[1] = -100
    y[3] = 9
    out = _sentinel_out()
    assert_rejected(
        ValueError, r"y\[3\] = 9", fl.softmax_cross_entropy, (s, y), {"ignore_index": -100, "out": out}
    )
    # ignore_index does not make other out-of-range labels acceptable
    y[3] = -1
    assert_rejected(
        ValueError, r"y\[3\] = -1", fl.softmax_cross_entropy, (s, y), {"ignore_index": -100, "out": out}
    )


def test_ignore_index_must_be_an_integer():
    s, y = _problem()
    assert_rejected(TypeError, "ignore_index", fl.softmax_cross_entropy, (s, y), {"ignore_index": 1.5})


# --------------------------------------------------------------------------
# reduction, margin, label_smoothing, flags
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("reduction", ["avg", "MEAN", "", None, 1])
def test_unknown_reduction(name, reduction):
    s, y = _problem()
    assert_rejected(ValueError, "reduction", LOSSES[name], (s, y), {"reduction": reduction, "out": _sentinel_out()})


@pytest.mark.parametrize("margin", [-1.0, -1e-12, np.nan, np.inf, -np.inf])
def test_bad_margin(margin):
    s, y = _problem()
    assert_rejected(ValueError, "margin", fl.multiclass_hinge, (s, y), {"margin": margin, "out": _sentinel_out()})


def test_margin_not_a_number():
    s, y = _problem()
    assert_rejected(TypeError, "margin", fl.multiclass_hinge, (s, y), {"margin": "big"})


@pytest.mark.parametrize("eps", [-0.1, 1.0000001, 2.0, np.nan, np.inf])
def test_bad_label_smoothing(eps):
    s, y = _problem()
    assert_rejected(
        ValueError, "label_smoothing", fl.softmax_cross_entropy, (s, y),
        {"label_smoothing": eps, "out": _sentinel_out()},
    )


@pytest.mark.parametrize("eps", [0.0, 1.0])
def test_label_smoothing_bounds_accepted(eps):
    s, y = _problem()
    loss, _ = fl.softmax_cross_entropy(s, y, label_smoothing=eps)
    assert np.isfinite(loss)


@pytest.mark.parametrize(
    "func, flag",
    [
        (fl.softmax_cross_entropy, "grad"),
        (fl.multiclass_hinge, "grad"),
        (fl.multiclass_hinge, "squared"),
    ],
)
def test_flags_must_be_bool(func, flag):
    s, y = _problem()
    assert_rejected(TypeError, flag, func, (s, y), {flag: "yes"})


# --------------------------------------------------------------------------
# class_weight, sample_weight
# --------------------------------------------------------------------------


def _bad_weights(length):
    return {
        "short": np.ones(length - 1),
        "long": np.ones(length + 1),
        "2d": np.ones((length, 1)),
        "scalar": np.float64(1.0),
        "negative": np.r_[np.ones(length - 1), -0.5],
        "nan": np.r_[np.ones(length - 1), np.nan],
        "inf": np.r_[np.inf, np.ones(length - 1)],
    }


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("which", ["class_weight", "sample_weight"])
@pytest.mark.parametrize("bad", list(_bad_weights(3)))
def test_bad_weights(name, which, bad):
    s, y = _problem()
    w = _bad_weights(C if which == "class_weight" else N)[bad]
    out = _sentinel_out()
    assert_rejected(ValueError, which, LOSSES[name], (s, y), {which: w, "out": out})


@pytest.mark.parametrize("name", list(LOSSES))
def test_weights_as_lists_and_int_dtypes_accepted(name):
    s, y = _problem()
    f = LOSSES[name]
    expected = f(s, y, class_weight=np.array([1.0, 2.0, 0.0, 1.0]), sample_weight=np.arange(N, dtype=float))
    got = f(s, y, class_weight=[1, 2, 0, 1], sample_weight=np.arange(N))
    assert got[0] == expected[0]
    np.testing.assert_array_equal(got[1], expected[1])


# --------------------------------------------------------------------------
# out=
# --------------------------------------------------------------------------


def _call(name, s, y):
    return (s, y) if name in LOSSES else (s,)


@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_wrong_dtype(name, dtype):
    s, y = _problem(dtype)
    other = np.float64 if dtype == np.float32 else np.float32
    for out_dtype in (other, np.float16, np.int64):
        out = np.zeros((N, C), out_dtype)
        assert_rejected(TypeError, "out", ALL[name], _call(name, s, y), {"out": out})


@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize("shape", [(N, C + 1), (N - 1, C), (C, N), (N * C,), (1, N, C)], ids=str)
def test_out_wrong_shape(name, shape):
    s, y = _problem()
    out = np.full(shape, np.nan)
    assert_rejected(ValueError, "out", ALL[name], _call(name, s, y), {"out": out})


@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize("layout", ["fortran", "strided"])
def test_out_not_c_contiguous(name, layout):
    s, y = _problem()
    if layout == "fortran":
        out = np.asfortranarray(_sentinel_out())
    else:
        out = np.full((N, 2 * C), np.nan)[:, ::2]
    assert_rejected(ValueError, "out", ALL[name], _call(name, s, y), {"out": out})


@pytest.mark.parametrize("name", list(ALL))
def test_out_read_only(name):
    s, y = _problem()
    out = _sentinel_out()
    out.flags.writeable = False
    assert_rejected(ValueError, "out", ALL[name], _call(name, s, y), {"out": out})


@pytest.mark.parametrize("name", list(ALL))
def test_out_read_only_scores_in_place_rejected(name):
    s, y = _problem()
    s.flags.writeable = False
    assert_rejected(ValueError, "out", ALL[name], _call(name, s, y), {"out": s})


@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize("overlap", ["shifted_rows", "shifted_flat"])
def test_out_partially_overlapping_scores(name, overlap):
    """out is C-contiguous, writeable, of the right dtype and shape: only the overlap is wrong."""
    rng = np.random.default_rng(11)
    buf = rng.standard_normal((N + 1) * C)
    s = buf[: N * C].reshape(N, C)
    shift = C if overlap == "shifted_rows" else 1
    out = buf[shift : shift + N * C].reshape(N, C)
    assert out.flags.c_contiguous and out.flags.writeable
    y = np.array([0, 3, 1, 2, 1])
    before = buf.copy()
    with pytest.raises(ValueError, match="out"):
        ALL[name](*_call(name, s, y), out=out)
    np.testing.assert_array_equal(buf, before)


@pytest.mark.parametrize("name", list(LOSSES))
def test_out_with_grad_false(name):
    s, y = _problem()
    out = _sentinel_out()
    assert_rejected(ValueError, "out", LOSSES[name], (s, y), {"out": out, "grad": False})


@pytest.mark.parametrize("name", list(ALL))
def test_out_not_an_array(name):
    s, y = _problem()
    assert_rejected(TypeError, "out", ALL[name], _call(name, s, y), {"out": [[0.0] * C] * N})


@pytest.mark.parametrize("name", list(ALL))
def test_out_equal_to_a_copy_of_scores_is_fine(name):
    """A separate buffer with equal contents is not an overlap."""
    s, y = _problem()
    out = s.copy()
    result = ALL[name](*_call(name, s, y), out=out)
    got = result[1] if name in LOSSES else result
    assert got is out


def test_ignore_index_out_of_int64_range_names_the_argument(rng):
    scores = rng.normal(size=(4, 3))
    with pytest.raises(ValueError, match="ignore_index"):
        fl.softmax_cross_entropy(scores, [0, 1, 2, 0], ignore_index=2**70)


@pytest.mark.parametrize("fn", [fl.softmax_cross_entropy, fl.multiclass_hinge])
def test_byte_swapped_scores_are_accepted(fn, rng):
    scores = rng.normal(size=(5, 4))
    y = rng.integers(0, 4, 5)
    swapped = scores.astype(scores.dtype.newbyteorder(">" if np.little_endian else "<"))
    loss, grad = fn(swapped, y)
    expected_loss, expected_grad = fn(scores, y)
    assert loss == expected_loss
    np.testing.assert_array_equal(grad, expected_grad)
    assert grad.dtype.isnative


# --------------------------------------------------------------------------
# binary_hinge, sigmoid_cross_entropy, sigmoid, soft targets, variant
# --------------------------------------------------------------------------


def _binary():
    rng = np.random.default_rng(5)
    return rng.standard_normal(6), np.array([1, -1, 1, 1, -1, -1])


@pytest.mark.parametrize("bad", [[0, 1, 1, 0, 1, 0], [1, -1, 2, 1, -1, 1], [1, -1, 0.5, 1, -1, 1],
                                 [1, -1, np.nan, 1, -1, 1]], ids=["zero_one", "two", "half", "nan"])
def test_binary_hinge_bad_labels(bad):
    s, _ = _binary()
    y = np.array(bad)
    match = r"y\[\d\].*-1 or \+1" + (r".*2 \* y - 1" if bad[0] == 0 else "")
    assert_rejected(ValueError, match, fl.binary_hinge, (s, y), {"out": np.full(6, np.nan)})
    work = s.copy()
    assert_rejected(ValueError, r"y\[", fl.binary_hinge, (work, y), {"out": work})


@pytest.mark.parametrize("bad", [[1.5, 0, 1], [-0.1, 0, 1], [np.nan, 0, 1], [2, 0, 1]], ids=str)
def test_sigmoid_cross_entropy_bad_targets(bad):
    x = np.zeros((2, 3))
    y = np.array([[0, 1, 0.5], bad])
    assert_rejected(ValueError, r"y\[1, 0\].*\[0, 1\]", fl.sigmoid_cross_entropy, (x, y), {"out": np.full((2, 3), np.nan)})


def test_binary_bad_shapes_dtypes_and_weights():
    s, y = _binary()
    out = np.full(6, np.nan)
    for f in (fl.binary_hinge, fl.sigmoid_cross_entropy):
        yy = y if f is fl.binary_hinge else (y > 0)
        assert_rejected(ValueError, r"\by\b", f, (s, yy[:5]), {"out": out})
        assert_rejected(TypeError, r"\by\b", f, (s, yy.astype(complex)), {"out": out})
        assert_rejected(TypeError, "scores|logits", f, (s.astype(int), yy), {})
        assert_rejected(ValueError, "sample_weight", f, (s, yy), {"sample_weight": -np.ones(6), "out": out})
        assert_rejected(ValueError, "sample_weight", f, (s, yy), {"sample_weight": np.ones(5), "out": out})
        assert_rejected(ValueError, "reduction", f, (s, yy), {"reduction": "avg", "out": out})
        assert_rejected(ValueError, "out", f, (s, yy), {"out": np.zeros(5)})
    assert_rejected(ValueError, "scores", fl.binary_hinge, (s.reshape(2, 3), y.reshape(2, 3)), {})
    assert_rejected(ValueError, "logits", fl.sigmoid_cross_entropy, (np.zeros((1, 2, 3)), np.zeros((1, 2, 3))), {})
    assert_rejected(ValueError, "margin", fl.binary_hinge, (s, y), {"margin": -1.0, "out": out})
    x = np.zeros((6, 3))
    t = np.zeros((6, 3))
    for pw in (-1.0, [1.0, -2.0, 1.0], [1.0, 1.0], [1.0, np.inf, 1.0]):
        assert_rejected(ValueError, "pos_weight", fl.sigmoid_cross_entropy, (x, t), {"pos_weight": pw})
    assert_rejected(ValueError, "sample_weight", fl.sigmoid_cross_entropy, (x, t), {"sample_weight": np.ones((6, 2))})
    assert_rejected(TypeError, r"\bx\b", fl.sigmoid, (np.arange(3),), {})
    assert_rejected(ValueError, "out", fl.sigmoid, (np.zeros(3),), {"out": np.zeros(4)})


def test_soft_targets_bad_input():
    s, _ = _problem()
    t = np.full((N, C), 1.0 / C)
    out = _sentinel_out()
    bad = t.copy()
    bad[2] = [0.5, 0.5, 0.5, -0.5]
    assert_rejected(ValueError, r"y\[2\].*negative", fl.softmax_cross_entropy, (s, bad), {"out": out})
    bad = t.copy()
    bad[3, 0] += 0.01
    assert_rejected(ValueError, r"y\[3\] sums to", fl.softmax_cross_entropy, (s, bad), {"out": out})
    assert_rejected(ValueError, r"y\[3\]", fl.softmax_cross_entropy, (s, np.where(np.arange(N)[:, None] == 3, np.nan, t)), {"out": out})
    assert_rejected(ValueError, "shape", fl.softmax_cross_entropy, (s, t[:, :3]), {"out": out})
    assert_rejected(TypeError, r"\by\b", fl.softmax_cross_entropy, (s, np.zeros(N)), {"out": out})
    assert_rejected(ValueError, "ignore_index", fl.softmax_cross_entropy, (s, t), {"ignore_index": 0, "out": out})
    assert_rejected(ValueError, "out overlaps y", fl.softmax_cross_entropy, (s, t), {"out": t})
    work = s.copy()
    assert_rejected(ValueError, r"y\[3\]", fl.softmax_cross_entropy, (work, bad), {"out": work})


@pytest.mark.parametrize("variant", ["crammer-singer", "ww", None, "CRAMMER_SINGER"])
def test_unknown_variant(variant):
    s, y = _problem()
    assert_rejected(ValueError, "variant", fl.multiclass_hinge, (s, y), {"variant": variant, "out": _sentinel_out()})


# --- regressions found in review ------------------------------------------------

def test_uint64_label_that_would_wrap_to_minus_one_is_rejected():
    with pytest.raises(ValueError, match="y"):
        fl.binary_hinge(np.array([3.0]), np.array([2**64 - 1], np.uint64))


@pytest.mark.parametrize("fn", ["binary_hinge", "sigmoid_cross_entropy"])
def test_out_overlapping_y_is_rejected_and_nothing_changes(fn):
    buf = np.ones(41)
    buf[::3] = -1 if fn == "binary_hinge" else 0
    before = buf.copy()
    s = np.linspace(-2, 2, 40)
    with pytest.raises(ValueError, match="out overlaps y"):
        getattr(fl, fn)(s, buf[:-1], reduction="sum", out=buf[1:])
    np.testing.assert_array_equal(buf, before)


def test_out_overlapping_sample_weight_is_rejected():
    w = np.ones(10)
    with pytest.raises(ValueError, match="out overlaps sample_weight"):
        fl.binary_hinge(np.zeros(10), np.ones(10), sample_weight=w, out=w)


@pytest.mark.parametrize("value", ["0.5", b"1", True, None, [0.5]])
def test_numeric_options_are_not_parsed_from_other_types(value):
    w, g = np.ones(3), np.ones(3)
    with pytest.raises(TypeError, match="lr"):
        fl.sgd_update(w, g, lr=value)
    np.testing.assert_array_equal(w, 1)
    with pytest.raises(TypeError, match="margin"):
        fl.multiclass_hinge(np.zeros((2, 3)), [0, 1], margin=value)


def test_numpy_scalars_and_0d_arrays_are_numbers():
    a = fl.multiclass_hinge(np.zeros((2, 3)), [0, 1], margin=np.float32(0.5))[0]
    b = fl.multiclass_hinge(np.zeros((2, 3)), [0, 1], margin=np.array(0.5))[0]
    assert a == b == 1.0


@pytest.mark.parametrize("call", [
    lambda w: fl.softmax_cross_entropy(np.zeros((2, 2)), [0, 1], sample_weight=w),
    lambda w: fl.softmax_cross_entropy(np.zeros((2, 2)), [0, 1], class_weight=w),
    lambda w: fl.multiclass_hinge(np.zeros((2, 2)), [0, 1], sample_weight=w),
    lambda w: fl.binary_hinge(np.zeros(2), [1, -1], sample_weight=w),
    lambda w: fl.sigmoid_cross_entropy(np.zeros(2), [1, 0], sample_weight=w),
    lambda w: fl.softmax_cross_entropy(np.zeros((2, 2)), np.eye(2), sample_weight=w),
])
def test_mean_with_huge_weights_does_not_overflow(call):
    """The mean is invariant to scaling every weight: 1e308 weights give the unit-weight mean."""
    huge_loss, huge_grad = call([1e308, 1e308])
    unit_loss, unit_grad = call([1.0, 1.0])
    assert huge_loss == pytest.approx(unit_loss, rel=1e-15)
    np.testing.assert_allclose(huge_grad, unit_grad, rtol=1e-15)
