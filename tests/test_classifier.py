"""fastloss.LinearClassifier: estimator conventions, determinism, accuracy, bad input, allocation."""

import pickle
import re
import tracemalloc

import numpy as np
import pytest

import fastloss as fl
from fastloss._training import MiniBatchSGD

from _strategies import digits_split

LOSSES = ("softmax", "hinge")


def _blobs(rng, n_per=40, d=5, c=3, labels=None, dtype=np.float64):
    centers = rng.standard_normal((c, d)) * 4
    X = np.concatenate([centers[k] + rng.standard_normal((n_per, d)) for k in range(c)]).astype(dtype)
    codes = np.repeat(np.arange(c), n_per)
    y = codes if labels is None else np.asarray(labels)[codes]
    return X, y


def _small(**kw):
    return fl.LinearClassifier(**{"epochs": 5, "batch_size": 16, "random_state": 0, **kw})


# --------------------------------------------------------------------------
# Conventions


@pytest.mark.parametrize("loss", LOSSES)
def test_fitted_attributes(isa, loss, rng):
    X, y = _blobs(rng)
    clf = _small(loss=loss)
    assert clf.fit(X, y) is clf
    assert clf.coef_.shape == (3, 5) and clf.intercept_.shape == (3,)
    assert clf.classes_.tolist() == [0, 1, 2]
    assert clf.n_features_in_ == 5 and clf.n_iter_ == 5
    steps_per_epoch = -(-120 // 16)
    assert clf.loss_history_.shape == (5 * steps_per_epoch,)
    np.testing.assert_allclose(clf.epoch_loss_, clf.loss_history_.reshape(5, -1).mean(axis=1))
    np.testing.assert_allclose(clf.decision_function(X), X @ clf.coef_.T + clf.intercept_, rtol=1e-12)
    assert clf.predict(X).tolist() == clf.classes_[np.argmax(clf.decision_function(X), 1)].tolist()
    assert clf.score(X, y) > 0.9


def test_string_labels_and_predict_proba(rng):
    X, y = _blobs(rng, labels=np.array(["cat", "dog", "frog"]))
    clf = _small().fit(X, y)
    assert clf.classes_.tolist() == ["cat", "dog", "frog"]
    assert set(clf.predict(X)) <= {"cat", "dog", "frog"}
    p = clf.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    assert (clf.classes_[p.argmax(1)] == clf.predict(X)).all()
    with pytest.raises(AttributeError, match="loss='softmax'"):
        _small(loss="hinge").fit(X, y).predict_proba(X)


def test_get_set_params_and_repr():
    clf = fl.LinearClassifier("hinge", reg=0.1)
    params = clf.get_params()
    assert params["loss"] == "hinge" and params["reg"] == 0.1 and params["batch_size"] == 200
    assert clf.set_params(epochs=3, momentum=0.9) is clf
    assert clf.epochs == 3 and clf.momentum == 0.9
    with pytest.raises(ValueError, match="invalid parameter 'alpha'"):
        clf.set_params(alpha=1.0)
    assert "loss='hinge'" in repr(clf) and "epochs=3" in repr(clf)


def test_loss_history_is_noisy_but_decreasing(rng):
    X, y = _blobs(rng, n_per=100)
    clf = _small(epochs=8, batch_size=8, learning_rate=0.05).fit(X, y)
    h = clf.loss_history_
    assert clf.epoch_loss_[-1] < clf.epoch_loss_[0]
    assert np.any(np.diff(h) > 0)  # mini-batch SGD: not monotone


def test_loss_history_matches_objective_on_the_batch(rng):
    """With one full batch and no shuffling, a step's loss is softmax_loss of the whole data."""
    X, y = _blobs(rng)
    reg = 0.01
    clf = fl.LinearClassifier(epochs=1, batch_size=10**6, reg=reg, shuffle=False, random_state=3)
    clf.fit(X, y)
    rng0 = np.random.default_rng(3)
    W0 = 0.001 * rng0.standard_normal((5, 3))
    Wb = np.vstack([W0, np.zeros(3)])
    Xa = np.hstack([X, np.ones((X.shape[0], 1))])
    data, _ = fl.softmax_loss(Wb, Xa, y)
    assert clf.loss_history_[0] == pytest.approx(data + reg * np.sum(W0 * W0), rel=1e-12)


def test_one_full_batch_step_is_gradient_descent(rng):
    """One step on the whole data equals θ − α ∇J with J's gradient from softmax_loss."""
    X, y = _blobs(rng)
    reg, lr = 0.05, 0.3
    clf = fl.LinearClassifier(epochs=1, batch_size=10**6, reg=reg, learning_rate=lr,
                              shuffle=False, random_state=3).fit(X, y)
    W0 = 0.001 * np.random.default_rng(3).standard_normal((5, 3))
    Wb = np.vstack([W0, np.zeros(3)])
    Xa = np.hstack([X, np.ones((X.shape[0], 1))])
    _, dW = fl.softmax_loss(Wb, Xa, y)
    dW[:5] += 2 * reg * W0  # the intercept row is not regularised
    expected = Wb - lr * dW
    np.testing.assert_allclose(clf.coef_.T, expected[:5], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(clf.intercept_, expected[5], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("kw", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True},
                                {"fit_intercept": False}, {"dtype": "float32"},
                                {"learning_rate": fl.CosineLR(0.5, 50)}],
                         ids=["plain", "momentum", "nesterov", "no_intercept", "float32", "cosine"])
def test_deterministic_bit_for_bit(isa, loss, kw, rng):
    X, y = _blobs(rng)
    a = _small(loss=loss, **kw).fit(X, y)
    b = _small(loss=loss, **kw).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    np.testing.assert_array_equal(a.loss_history_, b.loss_history_)
    assert a.score(X, y) > 0.85
    c = _small(loss=loss, **{**kw, "random_state": 1}).fit(X, y)
    assert not np.array_equal(a.coef_, c.coef_)


def test_refit_starts_over_and_partial_fit_continues(rng):
    X, y = _blobs(rng)
    clf = _small(epochs=3)
    first = clf.fit(X, y).coef_.copy()
    np.testing.assert_array_equal(clf.fit(X, y).coef_, first)
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 4 and clf.loss_history_.shape[0] == 4 * 8
    assert not np.array_equal(clf.coef_, first)
    # partial_fit from scratch, batch by batch, with all the classes announced
    inc = _small()
    for part in np.array_split(np.random.default_rng(0).permutation(120), 4):
        inc.partial_fit(X[part], y[part], classes=[0, 1, 2])
    assert inc.classes_.tolist() == [0, 1, 2] and inc.n_iter_ == 4
    assert inc.score(X, y) > 0.8


def test_partial_fit_equals_fit_epoch_by_epoch(rng):
    X, y = _blobs(rng)
    a = _small(epochs=3, momentum=0.9).fit(X, y)
    b = _small(epochs=1, momentum=0.9)
    for _ in range(3):
        b.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.loss_history_, b.loss_history_)


def test_verbose_prints_each_epoch(capsys, rng):
    X, y = _blobs(rng)
    _small(epochs=3, verbose=True).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert re.fullmatch(r"epoch    3  loss \d+\.\d{6}  time \d+(\.\d+)? (µs|ms|s) \(total .*\)", lines[2])


def test_pickle_round_trip(rng):
    X, y = _blobs(rng)
    clf = _small().fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))


# --------------------------------------------------------------------------
# Accuracy on the digits data (scikit-learn's bundled copy)


@pytest.mark.parametrize("loss", LOSSES)
def test_digits_accuracy_with_defaults(loss):
    X_train, X_test, y_train, y_test = digits_split()
    clf = fl.LinearClassifier(loss, random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.90


# --------------------------------------------------------------------------
# scikit-learn interoperability (when installed)


def test_sklearn_clone_and_pipeline(rng):
    base = pytest.importorskip("sklearn.base")
    pipeline = pytest.importorskip("sklearn.pipeline")
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    X, y = _blobs(rng)
    clf = _small(loss="hinge", reg=0.01)
    twin = base.clone(clf)
    assert twin is not clf and twin.get_params() == clf.get_params()
    pipe = pipeline.make_pipeline(preprocessing.StandardScaler(), _small())
    assert pipe.fit(X, y).score(X, y) > 0.9
    assert pipe.predict(X).shape == (120,)
    np.testing.assert_allclose(pipe.predict_proba(X).sum(axis=1), 1.0)


def test_sklearn_grid_search(rng):
    model_selection = pytest.importorskip("sklearn.model_selection")
    X, y = _blobs(rng)
    search = model_selection.GridSearchCV(_small(), {"reg": [1e-4, 1e-2]}, cv=3).fit(X, y)
    assert search.best_params_["reg"] in (1e-4, 1e-2)


# --------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "make_X, make_y, exc, msg",
    [
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), None, ValueError, "NaN or infinity"),
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 7, np.inf, X), None, ValueError, "NaN or infinity"),
        (None, lambda y: y[:-1], ValueError, "different lengths"),
        (None, lambda y: np.zeros_like(y), ValueError, "1 class"),
        (lambda X: X[:, :, None], None, ValueError, "must be 2-D"),
        (lambda X: X[:0], lambda y: y[:0], ValueError, "0 sample"),
        (lambda X: X.astype(str), None, TypeError, "real numbers"),
        (None, lambda y: np.c_[y, y], ValueError, "y must be 1-D"),
    ],
)
def test_bad_fit_input(make_X, make_y, exc, msg, rng):
    X, y = _blobs(rng)
    X = X if make_X is None else make_X(X)
    y = y if make_y is None else make_y(y)
    with pytest.raises(exc, match=msg):
        _small().fit(X, y)


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"loss": "log"}, "loss must be"),
        ({"reg": -1.0}, "reg must be in"),
        ({"learning_rate": 0.0}, "learning_rate must be > 0"),
        ({"learning_rate": float("nan")}, "learning_rate must be finite"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"epochs": 2.5}, "epochs must be a positive integer"),
        ({"momentum": 1.0}, "momentum must be in"),
        ({"nesterov": True}, "nesterov=True requires momentum"),
        ({"dtype": "int32"}, "dtype must be"),
    ],
)
def test_bad_hyperparameters(kw, msg, rng):
    X, y = _blobs(rng)
    with pytest.raises(ValueError, match=msg):
        _small(**kw).fit(X, y)


def test_predict_errors(rng):
    X, y = _blobs(rng)
    clf = _small()
    for method in (clf.predict, clf.decision_function, clf.predict_proba):
        with pytest.raises(fl.NotFittedError, match="not fitted"):
            method(X)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="X has 4 features, but LinearClassifier is expecting 5 features as input"):
        clf.predict(X[:, :4])
    with pytest.raises(ValueError, match="NaN or infinity"):
        clf.predict(np.full((2, 5), np.nan))
    with pytest.raises(ValueError, match="labels not in classes"):
        clf.partial_fit(X, y + 1)


def test_diverging_fit_is_reported(rng):
    X, y = _blobs(rng)
    with pytest.raises(FloatingPointError, match="diverged"):
        _small(learning_rate=1e200).fit(X * 1e100, y)


# --------------------------------------------------------------------------
# A training step allocates nothing


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_step_allocates_nothing(isa, loss, dtype, rng):
    """After warm-up, epochs leave no allocation behind and make no array of the data's size.

    tracemalloc sees NumPy's data buffers and every Python object.  Over 600
    steps the traced memory must not grow at all (no per-step leak or
    history growth), and the peak above the starting point must stay far
    below a gathered batch of X (64 x 300 x 4 = 76,800 bytes) and bounded
    whatever the number of steps: what remains are an epoch's learning rates
    (10 floats) and the small, immediately freed objects of the engine's call
    (its ten memoryview wrappers, ~3-4.5 kB).
    """
    n, d, c, b = 640, 300, 10, 64
    X = rng.standard_normal((n, d)).astype(dtype)
    yc = rng.integers(0, c, n).astype(np.int64)
    W = np.zeros((d + 1, c), dtype)
    trainer = MiniBatchSGD(
        X, yc, W, loss=loss, reg=1e-3, batch_size=b, momentum=0.9, nesterov=True,
        intercept=True, shuffle=True, rng=np.random.default_rng(0), schedule=fl.StepLR(0.1, 100),
        lr=None,
    )
    history = np.empty(trainer.steps_per_epoch * 91)
    # warm-up past 256 steps, so that the step counters are no longer CPython's cached small ints
    for e in range(30):
        trainer.epoch(history, e * trainer.steps_per_epoch)
    w_addr = W.ctypes.data
    mem = np.zeros(4, np.int64)  # readings stored here: an int kept in a variable is traced too
    tracemalloc.start()
    try:
        mem[0] = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        trainer.epoch(history, 30 * trainer.steps_per_epoch)  # 10 steps: NumPy caches a few bytes once
        mem[1] = tracemalloc.get_traced_memory()[0]
        for e in range(31, 91):  # 600 more steps, with the in-place shuffle of every epoch
            trainer.epoch(history, e * trainer.steps_per_epoch)
        mem[2:] = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    base, after_10, after_610, peak = (int(m) for m in mem)
    print(f"retained first 10 steps: {after_10 - base} B, next 600: {after_610 - after_10} B, transient peak: {peak - base} B")
    assert W.ctypes.data == w_addr
    assert np.isfinite(history[: 91 * trainer.steps_per_epoch]).all()
    assert after_10 - base < 1024, f"{after_10 - base} bytes retained by the first 10 steps"
    # No per-step growth: even one small object kept per step would leave 600 x 28 bytes.
    # (Exactly 0 is what CPython 3.11+ gives; 3.10 may keep a few hundred bytes of its
    # own caches once, whatever the step count.)
    assert after_610 - after_10 < 1024, f"{after_610 - after_10} bytes retained by 600 steps"
    assert peak - base < 8192, f"transient peak {peak - base} bytes within an epoch"


def test_rejected_fit_keeps_the_fitted_model():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), np.repeat([0, 1, 2], 20)
    clf = fl.LinearClassifier(epochs=2, random_state=0).fit(X, y)
    before = clf.predict(X)
    clf.set_params(reg=-1.0)
    with pytest.raises(ValueError, match="reg"):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict(X), before)


def test_partial_fit_names_a_changed_fit_intercept():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), np.repeat([0, 1, 2], 20)
    clf = fl.LinearClassifier(epochs=1, random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    clf.set_params(fit_intercept=False)
    with pytest.raises(ValueError, match="fit_intercept changed"):
        clf.partial_fit(X, y)
