"""LinearClassifier's scikit-learn features: two-class form, probabilities, weights,
warm_start, early stopping and tol, partial_fit's classes, feature names, the divergence
rule, verbose, float labels, NotFittedError without scikit-learn; each with its errors."""

import pickle
import re
import warnings

import numpy as np
import pytest

import fastloss as fl
from fastloss import _sklearn_compat

LOSSES = ("softmax", "hinge")


def _blobs(rng, n_per=40, d=4, c=3, spread=3.0):
    centers = rng.standard_normal((c, d)) * spread
    X = np.concatenate([centers[k] + rng.standard_normal((n_per, d)) for k in range(c)])
    return X, np.repeat(np.arange(c), n_per)


def _clf(**kw):
    return fl.LinearClassifier(**{"epochs": 6, "batch_size": 16, "random_state": 0,
                                  "learning_rate": 0.1, **kw})


def _full_batch(**kw):
    """Gradient descent on the whole data: a weighted mean over it is exactly defined."""
    return _clf(**{"batch_size": 10**6, "shuffle": False, **kw})


def _model(clf):
    return np.vstack([clf.coef_.T, clf.intercept_])


# --------------------------------------------------------------------------
# Two classes: scikit-learn's shapes


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_two_classes_have_sklearns_shapes(loss, fit_intercept, rng):
    X, y = _blobs(rng, c=2)
    labels = np.array(["no", "yes"])[y]
    clf = _clf(loss=loss, fit_intercept=fit_intercept).fit(X, labels)
    assert clf.coef_.shape == (1, 4) and clf.intercept_.shape == (1,)
    d = clf.decision_function(X)
    assert d.shape == (80,)
    np.testing.assert_allclose(d, X @ clf.coef_[0] + clf.intercept_[0], rtol=1e-12, atol=1e-12)
    # the difference of the two class columns the model trains
    W = clf._W
    S = X @ W[:4] + (W[4] if fit_intercept else 0.0)
    np.testing.assert_allclose(d, S[:, 1] - S[:, 0], rtol=1e-10, atol=1e-12)
    if not fit_intercept:
        assert clf.intercept_.tolist() == [0.0]
    np.testing.assert_array_equal(clf.predict(X), np.where(d > 0, "yes", "no"))
    assert clf.score(X, labels) > 0.9
    if loss == "softmax":
        p = clf.predict_proba(X)
        assert p.shape == (80, 2)
        np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(-d)), rtol=1e-12)
        np.testing.assert_allclose(p, fl.softmax(S), rtol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predict_log_proba_is_log_softmax(dtype, rng):
    X, y = _blobs(rng)
    clf = _clf(dtype=dtype).fit(X, y)
    lp = clf.predict_log_proba(X)
    assert lp.dtype == np.dtype(dtype) and lp.shape == (120, 3)
    np.testing.assert_allclose(np.exp(lp), clf.predict_proba(X), rtol=1e-5 if dtype == "float32" else 1e-12)
    # far from the boundary a probability underflows to 0; its log stays finite and exact
    far = X * 1e4
    assert (clf.predict_proba(far) == 0).any()
    lp = clf.predict_log_proba(far)
    assert np.isfinite(lp).all()
    S = far.astype(dtype) @ clf.coef_.T + clf.intercept_
    np.testing.assert_allclose(lp, S - S.max(1, keepdims=True) - np.log(np.exp(S - S.max(1, keepdims=True)).sum(1, keepdims=True)),
                               rtol=1e-4 if dtype == "float32" else 1e-10)


def test_probabilities_only_for_softmax(rng):
    X, y = _blobs(rng)
    clf = _clf(loss="hinge").fit(X, y)
    assert not hasattr(clf, "predict_proba") and not hasattr(clf, "predict_log_proba")
    with pytest.raises(AttributeError, match="only with loss='softmax'"):
        clf.predict_log_proba(X)
    assert hasattr(_clf(), "predict_proba")


# --------------------------------------------------------------------------
# sample_weight and class_weight


@pytest.mark.parametrize("loss", LOSSES)
def test_integer_weights_equal_repeated_rows(loss, rng):
    X, y = _blobs(rng, n_per=10)
    w = rng.integers(0, 4, 30)
    weighted = _full_batch(loss=loss).fit(X, y, sample_weight=w)
    repeated = _full_batch(loss=loss).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(_model(weighted), _model(repeated), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted.loss_history_, repeated.loss_history_, rtol=1e-9)


def test_unit_weights_equal_no_weights_and_mini_batches_use_them(rng):
    X, y = _blobs(rng)
    plain = _clf().fit(X, y)
    ones = _clf().fit(X, y, sample_weight=np.ones(120))
    np.testing.assert_allclose(_model(ones), _model(plain), rtol=1e-12, atol=1e-14)
    scalar = _clf().fit(X, y, sample_weight=2.5)  # a scalar: every row the same weight
    np.testing.assert_allclose(_model(scalar), _model(plain), rtol=1e-12, atol=1e-14)
    w = np.where(y == 2, 5.0, 1.0)
    assert not np.allclose(_model(_clf().fit(X, y, sample_weight=w)), _model(plain))


@pytest.mark.parametrize("loss", LOSSES)
def test_class_weight_is_a_per_row_weight(loss, rng):
    X, y = _blobs(rng)
    labels = np.array(["a", "b", "c"])[y]
    cw = {"a": 2.0, "c": 0.5}
    by_class = _clf(loss=loss, class_weight=cw).fit(X, labels)
    by_row = _clf(loss=loss).fit(X, labels, sample_weight=np.array([2.0, 1.0, 0.5])[y])
    np.testing.assert_array_equal(_model(by_class), _model(by_row))
    sw = rng.uniform(0.5, 2.0, 120)
    both = _clf(loss=loss, class_weight=cw).fit(X, labels, sample_weight=sw)
    by_row = _clf(loss=loss).fit(X, labels, sample_weight=sw * np.array([2.0, 1.0, 0.5])[y])
    np.testing.assert_allclose(_model(both), _model(by_row), rtol=1e-12, atol=1e-14)


def test_balanced_class_weight_is_sklearns(rng):
    X, y = _blobs(rng)
    keep = np.r_[0:40, 40:55, 80:120]  # 40 / 15 / 40 rows
    X, y = X[keep], y[keep]
    balanced = _clf(class_weight="balanced").fit(X, y)
    counts = np.bincount(y)
    expected = len(y) / (3 * counts)
    manual = _clf().fit(X, y, sample_weight=expected[y])
    np.testing.assert_array_equal(_model(balanced), _model(manual))
    sk = pytest.importorskip("sklearn.utils.class_weight")
    np.testing.assert_allclose(sk.compute_class_weight("balanced", classes=np.arange(3), y=y), expected)


@pytest.mark.parametrize(
    "kw, fit_kw, exc, msg",
    [
        ({}, {"sample_weight": np.ones(7)}, ValueError, r"sample_weight must have shape \(120,\)"),
        ({}, {"sample_weight": -np.ones(120)}, ValueError, "non-negative"),
        ({}, {"sample_weight": np.full(120, np.nan)}, ValueError, "finite"),
        ({}, {"sample_weight": np.zeros(120)}, ValueError, "all zero"),
        ({}, {"sample_weight": np.repeat([1.0, 0.0, 0.0], 40)}, ValueError, "only one class with positive weight"),
        ({"class_weight": "auto"}, {}, ValueError, "class_weight must be None, 'balanced' or a dict"),
        ({"class_weight": {0: -1.0}}, {}, ValueError, r"class_weight\[0\] must be in"),
        ({"class_weight": {0: 2.0, 7: 1.0}}, {}, ValueError, "names labels that are not classes: \\[7\\]"),
    ],
)
def test_bad_weights_are_refused_and_change_nothing(kw, fit_kw, exc, msg, rng):
    X, y = _blobs(rng)
    clf = _clf().fit(X, y)
    before = _model(clf).copy()
    clf.set_params(**kw)
    with pytest.raises(exc, match=msg):
        clf.fit(X, y, **fit_kw)
    np.testing.assert_array_equal(_model(clf), before)


def test_partial_fit_weights(rng):
    X, y = _blobs(rng)
    a = _clf(class_weight={0: 3.0}).partial_fit(X, y, classes=[0, 1, 2])
    b = _clf().partial_fit(X, y, classes=[0, 1, 2], sample_weight=np.where(y == 0, 3.0, 1.0))
    np.testing.assert_array_equal(_model(a), _model(b))
    with pytest.raises(ValueError, match="'balanced' is not supported by partial_fit"):
        _clf(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


# --------------------------------------------------------------------------
# warm_start, partial_fit's classes


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_warm_start_continues_the_run(momentum, rng):
    X, y = _blobs(rng)
    full = _clf(epochs=5, momentum=momentum).fit(X, y)
    warm = _clf(epochs=2, momentum=momentum, warm_start=True).fit(X, y)
    warm.set_params(epochs=3).fit(X, y)
    assert warm.n_iter_ == 5
    np.testing.assert_array_equal(_model(warm), _model(full))
    np.testing.assert_array_equal(warm.loss_history_, full.loss_history_)
    cold = _clf(epochs=2, momentum=momentum).fit(X, y)
    cold.set_params(epochs=3).fit(X, y)
    assert cold.n_iter_ == 3 and not np.array_equal(_model(cold), _model(full))


def test_warm_start_errors(rng):
    X, y = _blobs(rng)
    clf = _clf(warm_start=True).fit(X, y)
    before = _model(clf).copy()
    with pytest.raises(ValueError, match="warm_start continues a model of the classes"):
        clf.fit(X[:80], y[:80])
    with pytest.raises(ValueError, match="X has 3 features, but LinearClassifier is expecting 4"):
        clf.fit(X[:, :3], y)
    with pytest.raises(ValueError, match="dtype changed"):
        clf.set_params(dtype="float32").fit(X, y)
    np.testing.assert_array_equal(_model(clf), before)


def test_partial_fit_requires_classes_on_its_first_call(rng):
    X, y = _blobs(rng)
    clf = _clf()
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "coef_")
    with pytest.raises(ValueError, match="classes must be 1-D"):
        clf.partial_fit(X, y, classes=[[0, 1, 2]])
    with pytest.raises(ValueError, match="at least two labels"):
        clf.partial_fit(X, y, classes=[0])
    with pytest.raises(ValueError, match=r"labels not in classes: \[2\]"):
        clf.partial_fit(X, y, classes=[0, 1])
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2, 3])  # labels seen later are announced
    assert clf.classes_.tolist() == [0, 1, 2, 3] and clf.coef_.shape == (4, 4)
    clf.partial_fit(X, y)  # later calls need no classes
    with pytest.raises(ValueError, match="differs from the classes of the first call"):
        clf.partial_fit(X, y, classes=[0, 1, 2])


# --------------------------------------------------------------------------
# early stopping and tol


def test_early_stopping_records_validation_scores_and_stops(rng):
    X, y = _blobs(rng, n_per=100, spread=4.0)
    clf = _clf(epochs=100, early_stopping=True, tol=1e-3, n_iter_no_change=3,
               validation_fraction=0.2).fit(X, y)
    scores = clf.validation_scores_
    assert 3 < clf.n_iter_ < 100 and scores.shape == (clf.n_iter_,)
    assert clf.best_validation_score_ == scores.max() > 0.9
    # the rule: none of the last n_iter_no_change epochs beat the best before it by tol
    assert all(scores[i] < scores[:i].max() + 1e-3 for i in range(clf.n_iter_ - 3, clf.n_iter_))
    # the fit trained on 80 % of the rows: ceil(0.2 * 300) = 60 held out, 240 in batches of 16
    assert clf.loss_history_.shape == (clf.n_iter_ * 15,)
    again = _clf(epochs=100, early_stopping=True, tol=1e-3, n_iter_no_change=3,
                 validation_fraction=0.2).fit(X, y)
    np.testing.assert_array_equal(again.validation_scores_, scores)
    np.testing.assert_array_equal(_model(again), _model(clf))
    # without early stopping there are no validation scores
    plain = _clf().fit(X, y)
    assert plain.validation_scores_ is None and plain.best_validation_score_ is None


def test_tol_stops_on_the_training_loss(rng):
    X, y = _blobs(rng, n_per=100, spread=4.0)
    clf = _clf(epochs=200, tol=1e-2, n_iter_no_change=2).fit(X, y)
    loss = clf.epoch_loss_
    assert 2 < clf.n_iter_ < 200 and loss.shape == (clf.n_iter_,)
    assert all(loss[i] > loss[:i].min() - 1e-2 for i in range(clf.n_iter_ - 2, clf.n_iter_))
    # and the epoch before them did improve on its best by tol (else the fit had stopped earlier)
    i = clf.n_iter_ - 3
    assert i == 0 or loss[i] <= loss[:i].min() - 1e-2
    assert clf.validation_scores_ is None
    assert _clf(epochs=30).fit(X, y).n_iter_ == 30  # tol=None: every epoch


def test_a_validation_set_that_would_be_empty_is_an_error(rng):
    X, y = _blobs(rng)
    clf = _clf(early_stopping=True, tol=1e-3)
    with pytest.raises(ValueError, match="led to an empty validation set"):
        clf.fit(X[[0, 40, 80]], y[[0, 40, 80]])  # one row per class: none can be held out
    assert not hasattr(clf, "coef_")


def test_early_stopping_sample_weight_scores_the_held_out_rows(rng):
    X, y = _blobs(rng, n_per=50)
    w = rng.uniform(0.5, 2.0, 150)
    clf = _clf(early_stopping=True, tol=0.0, n_iter_no_change=100, epochs=3).fit(X, y, sample_weight=w)
    assert clf.validation_scores_.shape == (3,) and 0 <= clf.validation_scores_.min() <= 1


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"early_stopping": True}, "early_stopping=True needs tol"),
        ({"early_stopping": True, "tol": 1e-3, "validation_fraction": 1.0}, r"validation_fraction must be in \(0, 1\)"),
        ({"n_iter_no_change": 0}, "n_iter_no_change must be a positive integer"),
        ({"tol": -1.0}, "tol must be in"),
        ({"early_stopping": "yes", "tol": 1e-3}, "early_stopping"),
        ({"warm_start": 1}, "warm_start"),
        ({"verbose": -1}, "verbose must be"),
    ],
)
def test_bad_stopping_parameters(kw, msg, rng):
    X, y = _blobs(rng)
    with pytest.raises((ValueError, TypeError), match=msg):
        _clf(**kw).fit(X, y)


# --------------------------------------------------------------------------
# Feature names


def test_feature_names_from_dataframes(rng):
    pd = pytest.importorskip("pandas")
    X, y = _blobs(rng)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = _clf().fit(df, y)
    assert clf.feature_names_in_.tolist() == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(clf.predict(df), _clf().fit(X, y).predict(X))
    with pytest.raises(ValueError, match="The feature names should match those that were passed during fit"):
        clf.predict(df[["b", "a", "c", "d"]])
    with pytest.raises(ValueError, match="Feature names unseen at fit time:\n- e"):
        clf.predict(df.rename(columns={"d": "e"}))
    with pytest.raises(ValueError, match="Feature names seen at fit time, yet now missing:\n- d"):
        clf.predict(df[["a", "b", "c"]])
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        clf.predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # X is checked once: no warning about its own names
        assert clf.score(df, y) == np.mean(clf.predict(df) == y)
        clf.decision_function(df)
    plain = _clf().fit(X, y)
    assert not hasattr(plain, "feature_names_in_")
    with pytest.warns(UserWarning, match="X has feature names, but LinearClassifier was fitted without"):
        plain.predict(df)
    with pytest.raises(TypeError, match="only supported if all input features have string names"):
        _clf().fit(pd.DataFrame(X, columns=["a", "b", 3, 4]), y)
    # a refit on an array drops the names
    assert not hasattr(clf.fit(X, y), "feature_names_in_")


# --------------------------------------------------------------------------
# Divergence


@pytest.mark.parametrize("loss", LOSSES)
def test_a_loss_past_1e4_times_the_first_stops_the_fit(loss, rng):
    X, y = _blobs(rng)
    clf = _clf(loss=loss).fit(X, y)
    before = _model(clf).copy()
    clf.set_params(learning_rate=1.0)
    with pytest.raises(FloatingPointError) as err:
        clf.fit(X * 1e3, y)
    msg = str(err.value)
    assert re.search(r"diverged in epoch 1: the loss was \S+ at step \d+ of 8 .*more than 10000 times "
                     r"the first loss", msg)
    assert "smaller learning_rate (it is 1.0)" in msg and "scale the features" in msg
    assert "StandardScaler" in msg
    np.testing.assert_array_equal(_model(clf), before)
    assert clf.loss_history_.shape == (6 * 8,)  # the histories of the model it kept


def test_the_divergence_rule_follows_the_first_loss_of_the_model(rng):
    """partial_fit and warm_start measure against the model's first step loss, kept."""
    X, y = _blobs(rng)
    clf = _clf().partial_fit(X, y, classes=[0, 1, 2])
    first = clf.loss_history_[0]
    assert clf._loss0 == max(first, np.log(3))
    clf.partial_fit(X, y)
    assert clf._loss0 == max(first, np.log(3))


def test_a_non_finite_loss_names_the_epoch_and_hints(rng):
    X, y = _blobs(rng)
    with pytest.raises(FloatingPointError, match=r"epoch 1: .*smaller learning_rate.*scale the features"):
        _clf(learning_rate=1e300).fit(X * 1e200, y)


# --------------------------------------------------------------------------
# verbose


def test_verbose_prints_loss_validation_score_and_real_times(capsys, rng):
    X, y = _blobs(rng, n_per=200)
    _clf(epochs=3, verbose=1, early_stopping=True, tol=1e-3, n_iter_no_change=1).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    pattern = (r"epoch +(\d+)  loss \d+\.\d{6}  validation score (\d\.\d{4})  time "
               r"(\d+(?:\.\d+)?) (µs|ms|s) \(total .*\)")
    epochs = [m for m in (re.fullmatch(pattern, line) for line in lines) if m]
    assert 1 <= len(epochs) <= 3
    assert all(float(m.group(3)) > 0 for m in epochs)  # measured, not 0.000
    if len(epochs) < 3:
        assert lines[-1].startswith(f"stopped after epoch {len(epochs)}: no improvement of the validation score")


def test_not_verbose_prints_nothing(capsys, rng):
    X, y = _blobs(rng)
    _clf().fit(X, y)
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------
# Labels


def test_whole_number_float_labels(rng):
    X, y = _blobs(rng)
    yf = y.astype(np.float64) * 2.0 - 1.0  # -1.0, 1.0, 3.0
    clf = _clf().fit(X, yf)
    assert clf.classes_.tolist() == [-1.0, 1.0, 3.0] and clf.classes_.dtype == np.float64
    assert set(clf.predict(X).tolist()) <= {-1.0, 1.0, 3.0}
    np.testing.assert_array_equal(_model(clf), _model(_clf().fit(X, y)))
    with pytest.raises(ValueError, match="Unknown label type: continuous. y holds 0.5"):
        _clf().fit(X, np.where(y == 0, 0.5, y))


def test_column_vector_y_is_raveled_with_a_warning(rng):
    X, y = _blobs(rng)
    with pytest.warns(_sklearn_compat.DataConversionWarning, match="column-vector y"):
        clf = _clf().fit(X, y[:, None])
    np.testing.assert_array_equal(_model(clf), _model(_clf().fit(X, y)))


def test_low_level_losses_say_how_to_cast_float_labels():
    with pytest.raises(TypeError, match=r"integer class indices.*astype\(np.int64\)"):
        fl.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))


# --------------------------------------------------------------------------
# NotFittedError with and without scikit-learn


def test_not_fitted_error_without_sklearn(monkeypatch):
    monkeypatch.setattr(_sklearn_compat, "_sklearn_class", lambda name: None)
    monkeypatch.delitem(_sklearn_compat.__dict__, "SklearnNotFittedError", raising=False)
    with pytest.raises(fl.NotFittedError, match="This LinearClassifier instance is not fitted yet") as err:
        fl.LinearClassifier().predict(np.zeros((1, 2)))
    assert type(err.value) is fl.NotFittedError
    assert isinstance(err.value, ValueError) and isinstance(err.value, AttributeError)


def test_not_fitted_error_with_sklearn_pickles():
    exceptions = pytest.importorskip("sklearn.exceptions")
    with pytest.raises(exceptions.NotFittedError) as err:
        fl.LinearClassifier().decision_function(np.zeros((1, 2)))
    back = pickle.loads(pickle.dumps(err.value))
    assert isinstance(back, exceptions.NotFittedError) and isinstance(back, fl.NotFittedError)
