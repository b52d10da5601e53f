"""fastloss.svm_loss / softmax_loss (CS231n's W, X, y, reg losses) and fastloss.gradcheck."""

import numpy as np
import pytest

import fastloss as fl
from fastloss import reference as ref

from _strategies import central_difference, linear_problem

LOSSES = {"svm": (fl.svm_loss, ref.svm_loss), "softmax": (fl.softmax_loss, ref.softmax_loss)}
RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}


def _problem(rng, n, d, c, dtype, scale=0.01):
    return linear_problem(rng, n, d, c, dtype, scale)


@pytest.mark.parametrize("reg", [0.0, 0.5])
@pytest.mark.parametrize("n, d, c", [(1, 1, 2), (7, 5, 3), (64, 33, 10), (200, 17, 1)])
@pytest.mark.parametrize("name", list(LOSSES))
def test_matches_reference(isa, dtype, name, n, d, c, reg, rng):
    fast, slow = LOSSES[name]
    W, X, y = _problem(rng, n, d, c, dtype, scale=0.5)
    loss, dW = fast(W, X, y, reg)
    rloss, rdW = slow(W, X, y, reg)
    assert type(loss) is float
    assert dW.dtype == dtype and dW.shape == W.shape
    tol = RTOL[np.dtype(dtype)]
    assert loss == pytest.approx(rloss, rel=tol, abs=tol)
    np.testing.assert_allclose(dW, rdW, rtol=tol, atol=tol * max(1.0, np.abs(rdW).max()))


@pytest.mark.parametrize("margin", [0.0, 1.0, 2.5])
def test_svm_margin_matches_reference(isa, margin, rng):
    W, X, y = _problem(rng, 30, 6, 4, np.float64, scale=1.0)
    loss, dW = fl.svm_loss(W, X, y, 0.1, margin=margin)
    rloss, rdW = ref.svm_loss(W, X, y, 0.1, margin=margin)
    assert loss == pytest.approx(rloss, rel=1e-12)
    np.testing.assert_allclose(dW, rdW, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(LOSSES))
def test_gradient_central_differences(isa, name, rng):
    fast, _ = LOSSES[name]
    W, X, y = _problem(rng, 9, 4, 3, np.float64, scale=0.7)
    loss, dW = fast(W, X, y, 0.3)
    numeric = central_difference(lambda w: fast(w, X, y, 0.3)[0], W)
    np.testing.assert_allclose(dW, numeric, rtol=1e-6, atol=1e-8)


def test_cs231n_initial_loss(rng):
    """With W ~ 1e-4 N(0,1) and C = 10, the softmax loss is ~ log 10 and the SVM loss ~ C - 1."""
    W, X, y = _problem(rng, 500, 50, 10, np.float64, scale=1e-4)
    assert fl.softmax_loss(W, X, y)[0] == pytest.approx(np.log(10), rel=1e-2)
    assert fl.svm_loss(W, X, y)[0] == pytest.approx(9.0, rel=1e-2)


@pytest.mark.parametrize("name", list(LOSSES))
def test_inputs_not_modified(isa, name, rng):
    fast, _ = LOSSES[name]
    W, X, y = _problem(rng, 20, 5, 4, np.float32)
    W.flags.writeable = False
    X.flags.writeable = False
    Wc, Xc = W.copy(), X.copy()
    fast(W, X, y, 0.1)
    np.testing.assert_array_equal(W, Wc)
    np.testing.assert_array_equal(X, Xc)


def test_non_contiguous_inputs(isa, rng):
    W, X, y = _problem(rng, 20, 5, 4, np.float64)
    Wf, Xf = np.asfortranarray(W), np.asfortranarray(X)
    a = fl.softmax_loss(Wf, Xf, y, 0.2)
    b = fl.softmax_loss(W, X, y, 0.2)
    assert a[0] == pytest.approx(b[0], rel=1e-14)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-13)


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize(
    "mutate, exc, msg",
    [
        (lambda W, X, y: (W.astype(np.float32), X, y, 0.0), TypeError, "X must have dtype float32"),
        (lambda W, X, y: (W.astype(np.int64), X, y, 0.0), TypeError, "W must be a float32 or float64"),
        (lambda W, X, y: (W[:3], X, y, 0.0), ValueError, "X has 5 features"),
        (lambda W, X, y: (W, X[:, :, None], y, 0.0), ValueError, "X must be 2-D"),
        (lambda W, X, y: (W, X, y[:-1], 0.0), ValueError, "y must have shape"),
        (lambda W, X, y: (W, X, y + 10, 0.0), ValueError, r"y\[0\] = \d+ is not a class index"),
        (lambda W, X, y: (W, X, y.astype(float), 0.0), TypeError, "y must hold integer"),
        (lambda W, X, y: (W, X, y, -1.0), ValueError, "reg must be in"),
        (lambda W, X, y: (W, X, y, float("nan")), ValueError, "reg must be finite"),
    ],
)
def test_bad_input(name, mutate, exc, msg, rng):
    fast, _ = LOSSES[name]
    W, X, y = _problem(rng, 6, 5, 3, np.float64)
    with pytest.raises(exc, match=msg):
        fast(*mutate(W, X, y))


# --------------------------------------------------------------------------
# gradcheck


@pytest.mark.parametrize("name", list(LOSSES))
def test_gradcheck_accepts_right_gradient(name, rng):
    fast, _ = LOSSES[name]
    W, X, y = _problem(rng, 20, 6, 4, np.float64, scale=0.3)
    loss, dW = fast(W, X, y, 0.2)
    before = W.copy()
    err = fl.gradcheck(lambda w: fast(w, X, y, 0.2), W, dW, num_checks=20, seed=1)
    # the hinge is piecewise linear: centred differences near a kink are less exact
    assert 0.0 <= err < (1e-5 if name == "svm" else 1e-7)
    np.testing.assert_array_equal(W, before)  # restored exactly


def test_gradcheck_flags_wrong_gradient(rng):
    W, X, y = _problem(rng, 20, 6, 4, np.float64, scale=0.3)
    loss, dW = fl.softmax_loss(W, X, y, 0.2)
    wrong = dW - 2 * 0.2 * W  # the L2 term forgotten twice
    assert fl.gradcheck(lambda w: fl.softmax_loss(w, X, y, 0.2)[0], W, wrong, num_checks=20, seed=1) > 1e-3


def test_gradcheck_matches_cs231n_formula():
    """f(x) = Σ x³: gradient 3x²; a gradient off by 10 % has relative error 0.1/1.9 everywhere."""
    x = np.linspace(0.5, 2.0, 12).reshape(3, 4)
    f = lambda z: float((z**3).sum())  # noqa: E731
    assert fl.gradcheck(f, x, 3 * x**2, seed=0) < 1e-8
    assert fl.gradcheck(f, x, 1.1 * 3 * x**2, seed=0) == pytest.approx(0.1 / 2.1, rel=1e-5)


def test_gradcheck_is_seeded_and_restores_on_error(rng):
    x = rng.standard_normal(50)
    g = np.zeros(50)
    f = lambda z: float(z.sum())  # noqa: E731
    assert fl.gradcheck(f, x, g, seed=3) == fl.gradcheck(f, x, g, seed=3) == 1.0
    before = x.copy()

    def boom(z):
        raise RuntimeError("user loss failed")

    with pytest.raises(RuntimeError):
        fl.gradcheck(boom, x, g, seed=0)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize(
    "args, kw, exc, msg",
    [
        ((None, np.zeros(3), np.zeros(3)), {}, TypeError, "f must be callable"),
        ((sum, [1.0, 2.0], np.zeros(2)), {}, TypeError, "x must be a floating-point"),
        ((sum, np.zeros(3), np.zeros(4)), {}, ValueError, "analytic_grad must have shape"),
        ((sum, np.zeros(3), np.zeros(3)), {"num_checks": 0}, ValueError, "num_checks"),
        ((sum, np.zeros(3), np.zeros(3)), {"h": 0.0}, ValueError, "h must be > 0"),
    ],
)
def test_gradcheck_bad_input(args, kw, exc, msg):
    with pytest.raises(exc, match=msg):
        fl.gradcheck(*args, **kw)
