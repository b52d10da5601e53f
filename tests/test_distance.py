"""The distance-based losses (distance.py): squared_error, absolute_error, huber, smooth_l1,
against their NumPy twins, torch.nn.functional (skipped without torch), central differences
and their invariants; the C primitives of simd/distance.h on each of their paths."""

import math
import os
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastloss as fl
from fastloss import _threads
from fastloss import reference as ref

from _strategies import HYP, REDUCTIONS, central_difference, check_out_and_in_place, float_elements, total

#: (public function, twin, torch.nn.functional name, the options to try)
LOSSES = {
    "squared_error": (fl.squared_error, ref.squared_error, "mse_loss", [{}]),
    "absolute_error": (fl.absolute_error, ref.absolute_error, "l1_loss", [{}]),
    "huber": (fl.huber, ref.huber, "huber_loss", [{}, {"delta": 0.3}, {"delta": 2.5}]),
    "smooth_l1": (fl.smooth_l1, ref.smooth_l1, "smooth_l1_loss",
                  [{}, {"beta": 0.3}, {"beta": 2.5}, {"beta": 0.0}]),
}
NAMES = list(LOSSES)
SHAPES = [(1,), (7,), (33,), (1023,), (3001,), (17, 5), (2, 3, 4), (64, 100)]


def _problem(rng, shape, dtype, scale=2.0):
    pred = (rng.standard_normal(shape) * scale).astype(dtype)
    target = (rng.standard_normal(shape) * scale).astype(dtype)
    return pred, target


def _weights(rng, shape):
    """Per-row and per-element weights, some of them zero."""
    rows = rng.uniform(0.0, 3.0, shape[0])
    rows[rng.random(shape[0]) < 0.2] = 0.0
    elems = rng.uniform(0.0, 3.0, shape)
    elems[rng.random(shape) < 0.2] = 0.0
    return [rows, elems]


def _check(fn, ref_fn, pred, target, assert_close, **kw):
    loss, g = fn(pred, target, **kw)
    rloss, rg = ref_fn(pred, target, **kw)
    if kw.get("reduction", "mean") == "none":
        assert isinstance(loss, np.ndarray) and loss.dtype == pred.dtype and loss.shape == pred.shape
    else:
        assert type(loss) is float
    assert_close(loss, rloss, pred.dtype)
    if kw.get("grad", True):
        assert isinstance(g, np.ndarray) and g.dtype == pred.dtype and g.shape == pred.shape
        assert_close(g, rg, pred.dtype)
    else:
        assert g is None


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_matches_reference(isa, dtype, name, shape, reduction, rng, assert_close):
    fn, ref_fn, _, options = LOSSES[name]
    pred, target = _problem(rng, shape, dtype)
    for kw in options:
        for sw in [None, *_weights(rng, shape)]:
            for grad in (True, False):
                _check(fn, ref_fn, pred, target, assert_close, reduction=reduction,
                       sample_weight=sw, grad=grad, **kw)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", NAMES)
def test_matches_torch(dtype, name, reduction, rng, assert_close):
    torch = pytest.importorskip("torch")
    fn, _, tname, options = LOSSES[name]
    for shape in [(1,), (37,), (5, 13), (2, 3, 7)]:
        pred, target = _problem(rng, shape, dtype)
        pred.flat[::5] = target.flat[::5]            # d = 0: the subgradient at the kink
        for kw in options:
            x = torch.tensor(pred, requires_grad=True)
            tl = getattr(torch.nn.functional, tname)(x, torch.tensor(target), reduction=reduction, **kw)
            tl.sum().backward()
            loss, g = fn(pred, target, reduction=reduction, **kw)
            assert_close(loss, tl.detach().numpy(), dtype)
            assert_close(g, x.grad.numpy(), dtype)


@pytest.mark.parametrize("name", NAMES)
def test_special_values_match_torch(dtype, name):
    """inf and NaN as torch gives them (L1's gradient 0 at NaN, as torch's sign)."""
    torch = pytest.importorskip("torch")
    fn, _, tname, options = LOSSES[name]
    pred = np.array([0.0, np.nan, np.inf, -np.inf, 1.0, 3.0, -0.5, np.inf], dtype)
    target = np.array([0.0, 1.0, 0.0, 0.0, np.nan, 3.0, 0.5, np.inf], dtype)
    for kw in options:
        x = torch.tensor(pred, requires_grad=True)
        tl = getattr(torch.nn.functional, tname)(x, torch.tensor(target), reduction="none", **kw)
        tl.sum().backward()
        loss, g = fn(pred, target, reduction="none", **kw)
        np.testing.assert_array_equal(loss, tl.detach().numpy())
        np.testing.assert_array_equal(g, x.grad.numpy())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", NAMES)
def test_gradient_finite_differences(isa, name, reduction, rng):
    fn, _, _, options = LOSSES[name]
    pred, target = _problem(rng, (6, 5), np.float64)
    d = pred - target
    for kw in options:
        kink = kw.get("delta", kw.get("beta", 1.0))
        # away from the kinks (0, ±δ/β) where the derivative jumps
        for k in (0.0, kink, -kink):
            close = np.abs(d - k) < 0.05
            pred[close] += 0.2
            d = pred - target
        for sw in (None, rng.uniform(0.5, 2.0, 6), rng.uniform(0.5, 2.0, (6, 5))):
            _, g = fn(pred, target, reduction=reduction, sample_weight=sw, **kw)
            fd = central_difference(
                lambda x: total(fn(x, target, reduction=reduction, sample_weight=sw, grad=False, **kw)[0]),
                pred)
            np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
            assert np.abs(g).max() > 0


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", NAMES)
def test_out_and_in_place(isa, dtype, name, reduction, rng, assert_close):
    fn, ref_fn, _, options = LOSSES[name]
    pred, target = _problem(rng, (31, 9), dtype)
    kw = dict(reduction=reduction, sample_weight=rng.uniform(0, 2, 31), **options[-1])
    check_out_and_in_place(fn, ref_fn, pred, target, assert_close, **kw)
    # strided, read-only predictions and integer targets are fine
    p2 = np.repeat(pred, 2, axis=1)[:, ::2]
    p2.flags.writeable = False
    t_int = np.round(target).astype(np.int16)
    assert_close(fn(p2, t_int, **kw)[1], ref_fn(pred, t_int, **kw)[1], dtype)


def test_weight_semantics(isa, rng):
    pred, target = _problem(rng, (9, 4), np.float64)
    w = rng.uniform(0, 2, 9)
    for fn in (fl.squared_error, fl.absolute_error, fl.huber, fl.smooth_l1):
        plain, gp = fn(pred, target, reduction="none")
        weighted, gw = fn(pred, target, reduction="none", sample_weight=w)
        np.testing.assert_allclose(weighted, w[:, None] * plain, rtol=1e-14)
        np.testing.assert_allclose(gw, w[:, None] * gp, rtol=1e-14)
        assert fn(pred, target, reduction="sum", sample_weight=w)[0] == pytest.approx(
            np.sum(w[:, None] * plain), rel=1e-14)
        mean, gm = fn(pred, target, sample_weight=w)
        assert mean == pytest.approx(np.sum(w[:, None] * plain) / (4 * w.sum()), rel=1e-14)
        np.testing.assert_allclose(gm, w[:, None] * gp / (4 * w.sum()), rtol=1e-14)
        # the same weights given per element
        same, gs = fn(pred, target, sample_weight=np.repeat(w, 4).reshape(9, 4))
        assert same == pytest.approx(mean, rel=1e-14)
        np.testing.assert_allclose(gs, gm, rtol=1e-14)
        out = np.full((9, 4), np.nan)
        loss, g = fn(pred, target, sample_weight=np.zeros(9), out=out)
        assert loss == 0.0 and np.all(g == 0) and g is out


def test_huber_is_delta_times_smooth_l1(isa, dtype, rng, assert_close):
    pred, target = _problem(rng, 501, dtype, scale=3.0)
    for delta in (0.25, 1.0, 4.0):
        h, gh = fl.huber(pred, target, delta=delta, reduction="none")
        s, gs = fl.smooth_l1(pred, target, beta=delta, reduction="none")
        assert_close(h, delta * s.astype(np.float64), dtype)
        assert_close(gh, delta * gs.astype(np.float64), dtype)


def test_zero_dimensional_and_empty(isa, dtype):
    loss, g = fl.squared_error(np.array(3.0, dtype), 1.0)
    assert loss == 4.0 and g.shape == () and g == 4.0
    loss, g = fl.huber(np.array(3.0, dtype), np.array(1.0), reduction="none")
    assert loss.shape == () and loss == 1.5 and g == 1.0
    # empty: 0.0 (torch's mean gives NaN; fastloss's mean of no weight is 0, as for its other losses)
    for reduction in REDUCTIONS:
        loss, g = fl.absolute_error(np.zeros((0, 3), dtype), np.zeros((0, 3)), reduction=reduction)
        assert g.shape == (0, 3)
        assert (loss.shape == (0, 3)) if reduction == "none" else loss == 0.0


def test_threads_give_the_same_elements(dtype, rng):
    """Large arrays are split over threads; every element is computed as on one thread."""
    n = 3 * _threads.PARALLEL_MIN_ELEMENTS + 777
    pred, target = _problem(rng, n, dtype)
    sw = rng.uniform(0, 2, n)
    for fn in (fl.squared_error, fl.huber):
        for kw in ({}, {"sample_weight": sw}):
            results = []
            for nt in (1, 2):
                with fl.threads(nt):
                    results.append((fn(pred, target, reduction="none", **kw),
                                    fn(pred, target, reduction="sum", **kw)[0]))
            np.testing.assert_array_equal(results[0][0][0], results[1][0][0])
            np.testing.assert_array_equal(results[0][0][1], results[1][0][1])
            assert results[0][1] == pytest.approx(results[1][1], rel=1e-12)


def test_large_values_do_not_lose_the_sum(isa):
    """float32 sums are accumulated in double: 1e6 equal errors sum to exactly their total."""
    pred = np.full(10**6, 0.1, np.float32)
    loss, _ = fl.absolute_error(pred, np.zeros(10**6, np.float32), reduction="sum")
    assert loss == pytest.approx(10**6 * float(np.float32(0.1)), rel=1e-12)


# ---- properties -------------------------------------------------------------------------------

@HYP
@given(data=st.data(), name=st.sampled_from(NAMES), dtype=st.sampled_from([np.float32, np.float64]),
       param=st.floats(0.01, 10.0))
def test_properties(isa, data, name, dtype, param):
    """L ≥ 0, L = 0 and ∂L = 0 where pred = target, ∂L has the sign of d, |∂L| bounded by
    the slope of the linear part (absolute, Huber, smooth L1), the twin agrees."""
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=9))
    pred = data.draw(hnp.arrays(dtype, shape, elements=float_elements(dtype, -1e3, 1e3)))
    target = data.draw(hnp.arrays(dtype, shape, elements=float_elements(dtype, -1e3, 1e3)))
    fn, ref_fn, _, _ = LOSSES[name]
    kw = {"huber": {"delta": param}, "smooth_l1": {"beta": param}}.get(name, {})
    loss, g = fn(pred, target, reduction="none", **kw)
    d = pred.astype(np.float64) - target
    assert (loss >= 0).all()
    assert (loss[d == 0] == 0).all() and (g[d == 0] == 0).all()
    assert (np.sign(g) == np.sign(d)).all() or name == "squared_error" and (g * d >= 0).all()
    bound = {"absolute_error": 1.0, "huber": np.float32(param) if dtype == np.float32 else param,
             "smooth_l1": 1.0}.get(name)
    if bound is not None:
        assert (np.abs(g) <= bound).all()
    rloss, rg = ref_fn(pred, target, reduction="none", **kw)
    rtol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss, rloss, rtol=rtol, atol=rtol * float(np.abs(rloss).max(initial=0)))
    np.testing.assert_allclose(g, rg, rtol=rtol, atol=rtol * float(np.abs(rg).max(initial=0)))


# ---- bad input: a clear error and nothing modified ---------------------------------------------

def _bad_calls(dtype):
    a = lambda *s: np.ones(s or (4, 3), dtype)  # noqa: E731
    other = np.float64 if dtype == np.float32 else np.float32
    target = a()
    return [
        # (exception, message, function, pred, target, keywords)
        (ValueError, "target must have shape", fl.squared_error, a(), a(3, 4), {}),
        (TypeError, "target must be a real-valued", fl.absolute_error, a(), a().astype(complex), {}),
        (TypeError, "target must be a real-valued", fl.absolute_error, a(), np.full((4, 3), "x"), {}),
        (TypeError, "pred must be a float32 or float64", fl.huber, np.ones((4, 3), np.int64), a(), {}),
        (ValueError, "reduction must be", fl.smooth_l1, a(), a(), {"reduction": "avg"}),
        (ValueError, "delta must be > 0", fl.huber, a(), a(), {"delta": 0.0}),
        (ValueError, "delta must be", fl.huber, a(), a(), {"delta": -1.0}),
        (ValueError, "delta must be finite", fl.huber, a(), a(), {"delta": float("inf")}),
        (ValueError, "beta must be", fl.smooth_l1, a(), a(), {"beta": -0.5}),
        (TypeError, "beta must be", fl.smooth_l1, a(), a(), {"beta": "1"}),
        (ValueError, "sample_weight must have shape", fl.squared_error, a(), a(), {"sample_weight": np.ones(3)}),
        (ValueError, "sample_weight must be finite", fl.squared_error, a(), a(),
         {"sample_weight": np.array([1, np.nan, 1, 1])}),
        (ValueError, "sample_weight", fl.squared_error, a(), a(), {"sample_weight": -np.ones(4)}),
        (TypeError, "grad must be True or False", fl.squared_error, a(), a(), {"grad": 1}),
        (ValueError, "out= was given but grad=False", fl.squared_error, a(), a(),
         {"grad": False, "out": a()}),
        (TypeError, "out", fl.squared_error, a(), a(), {"out": a().astype(other)}),
        (ValueError, "out", fl.squared_error, a(), a(), {"out": a(12)}),
        (ValueError, "out", fl.squared_error, a(), a(), {"out": np.ones((4, 6), dtype)[:, ::2]}),
        (ValueError, "out", fl.squared_error, a(), target, {"out": target}),
    ]


@pytest.mark.parametrize("i", range(19))
def test_bad_input_modifies_nothing(dtype, i):
    exc, msg, fn, pred, target, kw = _bad_calls(dtype)[i]
    arrays = [x for x in (pred, target, kw.get("out")) if isinstance(x, np.ndarray)]
    before = [x.copy() for x in arrays]
    with pytest.raises(exc, match=msg):
        fn(pred, target, **kw)
    for x, b in zip(arrays, before):
        np.testing.assert_array_equal(x, b)


# ---- the C primitives on each path (as tests/test_simd.py does for the row primitives) -------

HARNESS = r"""
#include <stdio.h>
#include "simd/distance.h"
int main(void) {
    for (int kind = 0; kind < 4; kind++)
    for (int n = 1; n <= 40; n += 3) {
        float x[40], t[40], w[40], g[40], lo[40];
        double xd[40], td[40], wd[40], gd[40], lod[40];
        for (int i = 0; i < n; i++) {
            x[i] = (float)((i * 37 % 11) - 5) * 0.37f; t[i] = (float)(i % 3) * 0.5f;
            w[i] = (float)(i % 4) * 0.5f;
            xd[i] = x[i]; td[i] = t[i]; wd[i] = w[i];
        }
        double s = fl_distance_f32(kind, x, t, w, 0.8f, 0.5f, g, lo, n);
        double sd = fl_distance_f64(kind, xd, td, NULL, 0.8, 0.5, gd, lod, n);
        for (int i = 0; i < n; i++)
            printf("%d %d %d %.9g %.9g %.17g %.17g\n", kind, n, i, (double)g[i], (double)lo[i], gd[i], lod[i]);
        printf("sum %d %d %.17g %.17g\n", kind, n, s, sd);
    }
    return 0;
}
"""


def _compiler():
    return shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")


def _twin_parts(kind, d, par):
    a = np.abs(d)
    if kind == 0:
        return d * d, 2 * d
    if kind == 1:
        return a, np.sign(d)
    if kind == 2:
        return np.where(a < par, 0.5 * d * d, par * (a - 0.5 * par)), np.clip(d, -par, par)
    return np.where(a < par, 0.5 * d * d / par, a - 0.5 * par), np.clip(d / par, -1, 1)


@pytest.mark.skipif(_compiler() is None, reason="no C compiler")
@pytest.mark.parametrize("extra", [[], ["-DFL_GENERIC_VECTORS"], ["-DFL_SCALAR"]],
                         ids=["native", "generic", "scalar"])
def test_c_primitives_match_numpy(tmp_path, extra):
    include = os.path.dirname(fl.__file__)
    if not os.path.exists(os.path.join(include, "simd", "distance.h")):
        pytest.skip("the headers are not installed beside the package")
    src = tmp_path / "harness.c"
    src.write_text(HARNESS)
    exe = tmp_path / "harness"
    subprocess.run([_compiler(), "-O2", "-std=c11", "-Wno-psabi", f"-I{include}", *extra, str(src),
                    "-o", str(exe), "-lm"], check=True, capture_output=True, text=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()
    rows = np.array([line.split() for line in out if not line.startswith("sum")], dtype=np.float64)
    sums = np.array([line.split()[1:] for line in out if line.startswith("sum")], dtype=np.float64)
    assert len(sums) == 4 * 14
    for kind, n, s, sd in sums:
        i = np.arange(int(n))
        x = (((i * 37 % 11) - 5) * np.float32(0.37)).astype(np.float32).astype(np.float64)
        t = (i % 3) * 0.5
        w = (i % 4) * 0.5
        loss, g = _twin_parts(int(kind), x - t, 0.8 if kind != 2 else 0.8)
        part = rows[(rows[:, 0] == kind) & (rows[:, 1] == n)]
        np.testing.assert_allclose(part[:, 3], 0.5 * w * g, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(part[:, 4], w * loss, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(part[:, 5], 0.5 * g, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(part[:, 6], loss, rtol=1e-13, atol=1e-15)
        assert s == pytest.approx(np.sum(w * loss), rel=1e-6, abs=1e-7)
        assert sd == pytest.approx(np.sum(loss), rel=1e-13, abs=1e-15)
        assert math.isfinite(s)


# ---- the fast entry (kernels/distance.pxi: distance_fast) ----------------------------------

class _Sub(np.ndarray):
    pass


_KINDS = {"squared_error": ("squared", 0.0), "absolute_error": ("absolute", 0.0),
          "huber": ("huber", 0.7), "smooth_l1": ("smooth_l1", 0.7)}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(1,), (33,), (5, 7), (3 * 2**14 + 5,)], ids=str)
def test_fast_entry_gives_the_full_paths_bits(isa, dtype, name, shape, reduction, rng):
    """The fast entry runs the same loops with the same split and scale: the same bits."""
    fn = LOSSES[name][0]
    kind, param = _KINDS[name]
    kw = {"huber": {"delta": param}, "smooth_l1": {"beta": param}}.get(name, {})
    pred, target = _problem(rng, shape, dtype)
    for grad, out in ((True, None), (True, np.empty_like(pred)), (False, None)):
        fast = fl._dispatch.kernels.distance_fast(pred, target, kind, param, reduction, None,
                                                  grad, out)
        assert fast is not None
        full = fn(pred.view(_Sub), target, reduction=reduction, grad=grad, **kw)  # the full path
        if reduction == "none":
            np.testing.assert_array_equal(fast[0], full[0])
        else:
            assert type(fast[0]) is float and fast[0] == full[0]
        if grad:
            np.testing.assert_array_equal(fast[1], full[1])
            assert out is None or fast[1] is out
        else:
            assert fast[1] is None
    work = pred.copy()
    assert fl._dispatch.kernels.distance_fast(work, target, kind, param, reduction, None, True,
                                              work)[1] is work          # in place
    np.testing.assert_array_equal(work, fn(pred, target, reduction=reduction, **kw)[1])


def test_fast_entry_declines_what_it_does_not_check(rng):
    x, t = _problem(rng, 10, np.float32)
    base = [x, t, "huber", 1.0, "mean", None, True, None]

    def with_(i, value):
        args = list(base)
        args[i] = value
        return args

    out_over_t = np.empty(20, np.float32)
    t_in_out = out_over_t[:10]
    t_in_out[...] = t
    buf = np.empty(20, np.float32)
    x_in_buf = buf[:10]
    x_in_buf[...] = x
    declined = {
        "pred list": with_(0, x.tolist()),
        "pred subclass": with_(0, x.view(_Sub)),
        "target float64": with_(1, t.astype(np.float64)),
        "target int": with_(1, t.astype(np.int32)),
        "target other shape": with_(1, t[:9]),
        "pred strided": with_(0, np.repeat(x, 2)[::2]),
        "pred empty": [x[:0], t[:0], "huber", 1.0, "mean", None, True, None],
        "kind unknown": with_(2, "cubic"),
        "delta 0": with_(3, 0.0),
        "delta nan": with_(3, float("nan")),
        "delta str": with_(3, "1"),
        "beta negative": [x, t, "smooth_l1", -1.0, "mean", None, True, None],
        "reduction": with_(4, "avg"),
        "weights": with_(5, np.ones(10)),
        "grad 1": with_(6, 1),
        "out without grad": [x, t, "huber", 1.0, "mean", None, False, np.empty_like(x)],
        "out float64": with_(7, np.empty(10)),
        "out over target": [x, t_in_out, "huber", 1.0, "mean", None, True, out_over_t[5:15]],
        "out over pred": [x_in_buf, t, "huber", 1.0, "mean", None, True, buf[5:15]],
    }
    for what, args in declined.items():
        assert fl._dispatch.kernels.distance_fast(*args) is None, what
