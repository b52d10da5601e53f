"""A linear classifier trained by mini-batch SGD through the fused kernels.

:class:`LinearClassifier` follows scikit-learn's estimator conventions
(``fit``/``predict``/``score``, ``get_params``/``set_params``, fitted
attributes ending in ``_``) without depending on it.  Training is CS231n's
loop: sample a mini-batch, scores = X_b·W + b, the loss and d loss / d scores,
dW = X_bᵀ·dS, and torch.optim.SGD's update, with the L2 penalty as weight
decay 2·reg·W.  Each epoch is one call of the training engine
(kernels/train.pxi, simd/train.h), which runs every step of it in C without
the GIL, reading the batch's rows in place (see
:class:`fastloss._training.MiniBatchSGD`).
"""

from __future__ import annotations

import copy
import inspect
import sys
import time
from typing import TYPE_CHECKING, Any, Literal, Mapping

import numpy as np
import numpy.typing as npt

from . import _epochs, _sparse
from . import _estimator_input as inp
from . import _validation as v
from ._sklearn_compat import (NotFittedError, check_feature_names, feature_names, not_fitted,
                              sklearn_tags, softmax_only)
from ._training import MiniBatchSGD, TrainingDiverged
from .optim import LRSchedule

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["LinearClassifier", "NotFittedError"]

LOSSES = ("softmax", "hinge")


def _sparse_trainer():
    from ._sparse_training import SparseMiniBatchSGD

    return SparseMiniBatchSGD


class LinearClassifier:
    """Linear classifier (softmax or multiclass SVM) trained by mini-batch SGD.

    Minimises CS231n's objective

    .. math::

        J(W, b) = \\frac{\\sum_i w_i L_i(x_i W + b,\\ y_i)}{\\sum_i w_i} + \\lambda \\sum W^2

    with :math:`L_i` the softmax cross-entropy or the multiclass hinge
    (margin 1) and row weights :math:`w_i` (sample weight × class weight,
    1 by default), by SGD on mini-batches of ``batch_size`` rows:
    :math:`\\theta \\leftarrow \\theta - \\alpha \\nabla_\\theta J_\\text{batch}`,
    :math:`J_\\text{batch}` the batch's weighted mean (with momentum /
    Nesterov if asked; the intercept is not regularised).  Each step sees
    only part of the data, so the per-step loss (``loss_history_``) is noisy
    around its per-epoch mean (``epoch_loss_``).

    A scikit-learn estimator (it passes ``check_estimator``) that does not
    need scikit-learn: clone, Pipeline, GridSearchCV and cross_val_score work
    with it.  **Two classes**: the model keeps a column of weights per class
    inside, and shows, as scikit-learn's linear classifiers do, their
    difference: ``coef_`` (1, n_features), ``intercept_`` (1,) and
    ``decision_function`` (n_samples,) are :math:`d = s_1 - s_0`, positive
    for ``classes_[1]``.  The softmax of :math:`(s_0, s_1)` is
    :math:`(1 - \\sigma(d), \\sigma(d))`: logistic regression on :math:`d`.

    Parameters
    ----------
    loss : {"softmax", "hinge"}
    reg : float >= 0
        :math:`\\lambda`, the L2 penalty on the weights.
    learning_rate : float > 0 or LRSchedule
        A schedule is evaluated at the step count (see :mod:`fastloss.optim`).
    batch_size : int >= 1
    epochs : int >= 1
        Passes over the data made by :meth:`fit` (at most, with ``tol``);
        :meth:`partial_fit` makes one.
    momentum : float in [0, 1)
    nesterov : bool
    fit_intercept : bool
    shuffle : bool
        Shuffle the rows before every epoch.
    class_weight : dict, "balanced" or None
        Weight of each class, multiplying the sample weights: ``{label:
        weight}`` (a class not named weighs 1) or ``"balanced"``,
        n_samples / (n_classes · count of the class in ``y``), scikit-learn's
        definition (not with :meth:`partial_fit`, whose ``y`` is a part of
        the data).
    early_stopping : bool
        :meth:`fit` holds out a stratified ``validation_fraction`` of the data,
        scores it (accuracy, weighted by the sample weights) after every
        epoch into ``validation_scores_``, and stops when the score has not
        improved by more than ``tol`` for ``n_iter_no_change`` epochs in a
        row (``SGDClassifier``'s meaning; needs ``tol``).  The model is that
        of the last epoch.
    validation_fraction : float in (0, 1)
    n_iter_no_change : int >= 1
    tol : float >= 0 or None
        Without early stopping, :meth:`fit` stops when the epoch's mean
        training loss has not fallen below the best so far minus ``tol`` for
        ``n_iter_no_change`` epochs in a row (``SGDClassifier``'s rule).
        None, the default, runs all ``epochs`` (CS231n's fixed loop).
    warm_start : bool
        :meth:`fit` continues the fitted model (its weights, momentum, step
        count and random stream; the histories and ``n_iter_`` go on, as with
        :meth:`partial_fit`) instead of starting again.  The data must have
        the classes and features of the first fit.
    random_state : int, numpy.random.Generator or None
        Seeds the initial weights (0.001·N(0, 1), CS231n's), the shuffling
        and the validation split: the same seed gives the same model, bit for bit.
    verbose : int >= 0
        If > 0, print after every epoch its mean loss, the validation score
        (with early stopping) and its time.
    dtype : {"float64", "float32"}
        Precision of training and of the fitted weights.

    Attributes
    ----------
    coef_ : ndarray (n_classes, n_features), or (1, n_features) for two classes
    intercept_ : ndarray (n_classes,), or (1,) for two classes
    classes_ : ndarray (n_classes,)
        The labels seen, sorted (ints, whole-number floats, strings, ...).
    n_features_in_ : int
    feature_names_in_ : ndarray of str (n_features_in_,)
        The column names of X, when it was a DataFrame with string column names.
    n_iter_ : int
        Epochs the model was trained (``fit`` starts again at 0 unless
        ``warm_start``; :meth:`partial_fit` adds one).
    loss_history_ : ndarray
        The loss of every mini-batch step (weighted data loss + L2 penalty,
        before the update).
    epoch_loss_ : ndarray (n_iter_,)
        The mean of ``loss_history_`` over each epoch.
    validation_scores_ : ndarray or None
        With ``early_stopping``, the validation score after each epoch of the
        last :meth:`fit`; else None.
    best_validation_score_ : float or None
        The best of ``validation_scores_``.

    Raises
    ------
    FloatingPointError
        From fit and partial_fit when training diverges: a step loss is not
        finite or is more than 1e4 times the model's first step loss (at
        least that of the zero model: log C for softmax, C - 1 for the hinge);
        the message names the epoch and the step and suggests a smaller
        ``learning_rate`` or scaled features.  The model is left as it was
        before the call (as after any error or interruption).

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(-2, 1, (50, 2)), rng.normal(2, 1, (50, 2))]
    >>> y = np.repeat(["neg", "pos"], 50)
    >>> clf = fl.LinearClassifier(random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.95, clf.classes_.tolist(), clf.coef_.shape
    (True, ['neg', 'pos'], (1, 2))
    >>> clf.decision_function(X[:3]).shape, clf.predict_proba(X[:3]).shape
    ((3,), (3, 2))
    """

    def __init__(self, loss: Literal["softmax", "hinge"] = "softmax", *, reg: float = 1e-4,
                 learning_rate: float | LRSchedule = 0.5, batch_size: int = 200, epochs: int = 50,
                 momentum: float = 0.0, nesterov: bool = False, fit_intercept: bool = True,
                 shuffle: bool = True, class_weight: Mapping[Any, float] | Literal["balanced"] | None = None,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 5, tol: float | None = None, warm_start: bool = False,
                 random_state: int | np.random.Generator | None = None,
                 verbose: int = 0, dtype: npt.DTypeLike = "float64") -> None:
        self.loss = loss
        self.reg = reg
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.momentum = momentum
        self.nesterov = nesterov
        self.fit_intercept = fit_intercept
        self.shuffle = shuffle
        self.class_weight = class_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype

    # ------------------------------------------------------------------
    # scikit-learn's parameter protocol

    @classmethod
    def _param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(p for p in sig.parameters if p != "self")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters, as a dict."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        """Set constructor parameters; returns self."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for LinearClassifier; valid: {valid}")
            setattr(self, name, value)
        return self

    # scikit-learn < 1.6 reads this attribute, later versions the tags
    _estimator_type = "classifier"

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's estimator tags (imported only when scikit-learn asks)."""
        return sklearn_tags(self)

    def __sklearn_is_fitted__(self) -> bool:
        """Whether the estimator is fitted (scikit-learn's ``check_is_fitted`` asks this)."""
        return "_W" in self.__dict__

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
            if p.name != "self"
        }
        changed = [f"{k}={v!r}" for k, v in self.get_params().items()
                   if not (isinstance(v, type(defaults[k])) and v == defaults[k])]
        return f"LinearClassifier({', '.join(changed)})"


    # ------------------------------------------------------------------
    # Fitting

    def _checked_params(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be 'softmax' or 'hinge', got {self.loss!r}")
        reg = v.finite_real(self.reg, "reg", low=0.0)
        if isinstance(self.learning_rate, LRSchedule):
            schedule, lr = self.learning_rate, None
        else:
            schedule, lr = None, v.finite_real(self.learning_rate, "learning_rate", low=0.0)
            if lr == 0.0:
                raise ValueError("learning_rate must be > 0")
        batch = v.positive_int(self.batch_size, "batch_size")
        epochs = v.positive_int(self.epochs, "epochs")
        momentum = v.finite_real(self.momentum, "momentum", low=0.0)
        if momentum >= 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        nesterov = v.flag(self.nesterov, "nesterov")
        if nesterov and momentum == 0.0:
            raise ValueError("nesterov=True requires momentum > 0")
        v.flag(self.fit_intercept, "fit_intercept")
        v.flag(self.shuffle, "shuffle")
        v.flag(self.warm_start, "warm_start")
        early = v.flag(self.early_stopping, "early_stopping")
        fraction = v.finite_real(self.validation_fraction, "validation_fraction")
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        patience = v.positive_int(self.n_iter_no_change, "n_iter_no_change")
        tol = None if self.tol is None else v.finite_real(self.tol, "tol", low=0.0)
        if early and tol is None:
            raise ValueError("early_stopping=True needs tol (the improvement of the validation "
                             "score that counts, e.g. tol=1e-3), got tol=None")
        if isinstance(self.verbose, (bool, np.bool_)):
            verbose = int(self.verbose)
        elif isinstance(self.verbose, (int, np.integer)) and self.verbose >= 0:
            verbose = int(self.verbose)
        else:
            raise ValueError(f"verbose must be a bool or an int >= 0, got {self.verbose!r}")
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        return dict(reg=reg, schedule=schedule, lr=lr, batch_size=batch, epochs=epochs,
                    momentum=momentum, nesterov=nesterov, dtype=dtype, early_stopping=early,
                    validation_fraction=fraction, n_iter_no_change=patience, tol=tol,
                    verbose=verbose)

    #: What fit and partial_fit change: put back as it was when they fail.
    _STATE = ("coef_", "intercept_", "classes_", "n_features_in_", "feature_names_in_", "n_iter_",
              "_W", "_V", "_steps", "_rng", "_loss0", "loss_history_", "epoch_loss_",
              "validation_scores_", "best_validation_score_")

    def _save_state(self):
        saved = {}
        for attr in self._STATE:
            if attr in self.__dict__:
                val = self.__dict__[attr]
                if isinstance(val, np.random.Generator):
                    val = copy.deepcopy(val)
                elif isinstance(val, np.ndarray):
                    val = val.copy()
                saved[attr] = val
        return saved

    def _restore_state(self, saved):
        for attr in self._STATE:
            self.__dict__.pop(attr, None)
        self.__dict__.update(saved)
        if "_W" in saved:
            self._set_coef()

    def _set_coef(self):
        """``coef_`` and ``intercept_`` from the weights ``_W`` ((D [+ 1], C), intercept last).

        C > 2: views of ``_W``.  Two classes: scikit-learn's form, the decision
        :math:`s_1 - s_0` (new arrays).
        """
        W, d = self._W, self.n_features_in_
        coef = W[:d].T
        intercept = W[d] if W.shape[0] == d + 1 else np.zeros(W.shape[1], W.dtype)
        if W.shape[1] == 2:
            self.coef_ = (coef[1] - coef[0])[None, :]
            self.intercept_ = np.array([intercept[1] - intercept[0]], W.dtype)
        else:
            self.coef_ = coef
            self.intercept_ = intercept

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike,
            sample_weight: npt.ArrayLike | None = None) -> Self:
        """Fit: ``epochs`` passes of mini-batch SGD (fewer with ``tol``).  Returns self.

        From scratch, or from the fitted model with ``warm_start``.
        ``sample_weight`` (n_samples,), finite and >= 0, weighs each row's
        loss in its batch's weighted mean (times its class's ``class_weight``).
        ``X`` may be a SciPy sparse matrix (every method takes one): the sparse
        training engine, with lazy momentum (see :mod:`fastloss._sparse_training`).
        """
        continuing = bool(self.warm_start) and self.__sklearn_is_fitted__()
        if continuing:
            check_feature_names(self, X)
        names = feature_names(X)
        X = inp.check_X(X, finite=False)  # NaN/inf: found by training, see _fit
        y = inp.check_y(y, X.shape[0], type(self).__name__)
        params = self._checked_params()  # before anything is dropped: a rejected fit keeps the model
        classes = inp.classes_of(y)
        if continuing:
            self._check_continuation(X, params, "warm_start")
            if not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"warm_start continues a model of the classes {self.classes_.tolist()!r}; "
                    f"y has {classes.tolist()!r}. Set warm_start=False to start again"
                )
        elif classes.shape[0] < 2:
            raise ValueError(
                f"y holds 1 class ({classes[0]!r}): a classifier needs at least two classes"
            )
        return self._fit(X, y, classes, params, sample_weight, names, reset=not continuing,
                         partial=False)

    def partial_fit(self, X: npt.ArrayLike, y: npt.ArrayLike, classes: npt.ArrayLike | None = None,
                    sample_weight: npt.ArrayLike | None = None) -> Self:
        """One more pass of mini-batch SGD over (X, y), keeping the model.  Returns self.

        ``classes`` lists every label the model will ever see: required on the
        first call (as in scikit-learn), and if given later, the same.
        ``sample_weight`` as in :meth:`fit`; ``class_weight`` must be None or a
        dict.  ``early_stopping`` and ``tol`` apply to :meth:`fit` only.
        """
        fitted = self.__sklearn_is_fitted__()
        if fitted:
            check_feature_names(self, X)
        names = feature_names(X)
        X = inp.check_X(X, finite=False)  # NaN/inf: found by training, see _fit
        y = inp.check_y(y, X.shape[0], type(self).__name__)
        params = self._checked_params()
        params["epochs"] = 1
        if not fitted:
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit: every label the "
                    "model will see, e.g. classes=np.unique(y_all)"
                )
            cl = np.asarray(classes)
            if cl.ndim != 1:
                raise ValueError(f"classes must be 1-D (the labels), got shape {cl.shape}")
            cl = inp.classes_of(cl)
            if cl.shape[0] < 2:
                raise ValueError(f"classes must hold at least two labels, got {cl.tolist()!r}")
        else:
            cl = self.classes_
            if classes is not None and not np.array_equal(np.unique(np.asarray(classes)), cl):
                raise ValueError(
                    f"classes={list(classes)!r} differs from the classes of the first call "
                    f"{cl.tolist()!r}"
                )
            self._check_continuation(X, params, "partial_fit")
        unknown = ~np.isin(y, cl)
        if unknown.any():
            raise ValueError(f"y contains labels not in classes: {np.unique(y[unknown]).tolist()!r}")
        return self._fit(X, y, cl, params, sample_weight, names, reset=not fitted, partial=True)

    def _check_continuation(self, X, params, how):
        """Errors for a call that would continue the model with what it cannot take."""
        self._require_n_features(X.shape[1])
        if self._W.dtype != params["dtype"]:
            raise ValueError(f"dtype changed from {self._W.dtype} to {params['dtype']} since the "
                             f"model was started; call fit without {how} to start again")
        if self._W.shape[0] != self.n_features_in_ + bool(self.fit_intercept):
            raise ValueError(
                f"fit_intercept changed since the model was started (it was started with "
                f"fit_intercept={not self.fit_intercept}); call fit without {how} to start again"
            )

    def _fit(self, X, y, classes, params, sample_weight, names, *, reset, partial):
        """Train; if anything fails or is interrupted, the model is left as it was.

        X is not checked for NaN and infinity beforehand (a pass over X, a
        quarter of an epoch's time): one in X makes a step's loss or the
        weights non-finite, so training stops with a FloatingPointError, and
        only then is X checked, to say which it was.
        """
        saved = self._save_state()
        try:
            return self._train(X, y, classes, params, sample_weight, names, reset=reset,
                               partial=partial)
        except BaseException as err:  # KeyboardInterrupt included: never a half-trained model
            self._restore_state(saved)
            if isinstance(err, FloatingPointError) and X.dtype.kind == "f" and not inp.all_finite(X):
                raise inp.not_finite("X") from None
            raise

    def _weights(self, y, codes, classes, sample_weight, partial):
        """The row weights (sample weight × class weight) as float64 (n,), or None; checked."""
        sw = inp.check_sample_weight(sample_weight, y.shape[0])
        cw = inp.class_weights(self.class_weight, classes, None if partial else codes)
        w = inp.row_weights(sw, cw, codes)
        if w is not None and not w.any():
            raise ValueError("the sample weights (times the class weights) are all zero: "
                             "nothing to fit")
        if w is not None and not partial:
            weighted = np.flatnonzero(np.bincount(codes, weights=w, minlength=classes.shape[0]) > 0)
            if weighted.size < 2:
                raise ValueError(
                    "the sample weights (times the class weights) leave "
                    + (f"only one class with positive weight ({classes[weighted[0]]!r})"
                       if weighted.size else "no class with positive weight")
                    + ": a classifier needs at least two classes with positive weight"
                )
        return sw, w

    def _start(self, d, c, dtype):
        """A new model: weights 0.001·N(0, 1) (CS231n's), zero intercept, nothing trained."""
        for attr in self._STATE:
            self.__dict__.pop(attr, None)
        rs = self.random_state
        if isinstance(rs, np.random.RandomState):
            rs = rs.randint(np.iinfo(np.int32).max)
        self._rng = np.random.default_rng(rs)
        W = np.zeros((d + 1 if self.fit_intercept else d, c), dtype)
        W[:d] = 0.001 * self._rng.standard_normal((d, c))
        self._W = W
        self._V = None
        self._steps = 0
        self._loss0 = None
        self.n_iter_ = 0
        self.loss_history_ = np.empty(0)
        self.epoch_loss_ = np.empty(0)

    def _train(self, X, y, classes, params, sample_weight, names, *, reset, partial):
        dtype = params["dtype"]
        n, d = X.shape
        c = classes.shape[0]
        if y.dtype.kind in "iu" and classes[0] == 0 and classes[-1] == c - 1:
            codes = y.astype(np.int64, copy=False)  # the labels are the class codes 0 .. C-1
        else:
            codes = inp.encode(y, classes)
        sw, w = self._weights(y, codes, classes, sample_weight, partial)
        if reset:
            self._start(d, c, dtype)
            self.classes_ = classes
            self.n_features_in_ = d
            if names is not None:
                self.feature_names_in_ = names
        # read in place by the engine: no copy when X already is C-contiguous of dtype
        sparse = _sparse.is_sparse(X)  # CSR: the sparse engine (_sparse_training.py)
        Xc = X if sparse else np.ascontiguousarray(X, dtype)
        val = None
        if params["early_stopping"] and not partial:
            train, held = inp.validation_split(codes, c, params["validation_fraction"], self._rng)
            val = (Xc[held], codes[held], None if sw is None else sw[held])
            if not inp.all_finite(val[0]):
                raise inp.not_finite("X")
            if val[2] is not None and not val[2].sum() > 0:
                raise ValueError("the sample weights of the validation set are all zero; use "
                                 "another random_state or validation_fraction")
            Xc, codes, w = Xc[train], codes[train], None if w is None else w[train]
        trainer = (_sparse_trainer() if sparse else MiniBatchSGD)(
            Xc, codes, self._W, loss=self.loss, reg=params["reg"],
            batch_size=params["batch_size"], momentum=params["momentum"],
            nesterov=params["nesterov"], intercept=self.fit_intercept, shuffle=self.shuffle,
            rng=self._rng, schedule=params["schedule"], lr=params["lr"], sample_weight=w,
        )
        trainer.steps = self._steps
        if trainer.V is not None and self._V is not None:
            trainer.V[...] = self._V
        if self._loss0 is None:  # the scale divergence is measured against: the zero model's loss
            self._loss0 = float(np.log(c)) if self.loss == "softmax" else float(c - 1)
        scores = self._epochs(trainer, params, val, X, partial)
        self._steps = trainer.steps
        self._V = trainer.V
        if not partial:
            self.validation_scores_ = scores
            self.best_validation_score_ = None if scores is None else float(scores.max())
        elif reset:
            self.validation_scores_ = self.best_validation_score_ = None
        self._set_coef()
        return self

    def _epochs(self, trainer, params, val, X, partial):
        """Up to ``epochs`` epochs; returns the validation scores (an array) or None.

        After each epoch: the divergence test (FloatingPointError: the caller
        puts the model back), the validation score, the stopping rule and the
        line ``verbose`` prints.
        """
        epochs = params["epochs"]
        spe = trainer.steps_per_epoch
        history = np.empty(epochs * spe)
        losses, scores = [], []
        rule = None if partial else _epochs.StoppingRule(
            params["tol"], params["n_iter_no_change"], val is not None)
        start = time.perf_counter()
        for e in range(epochs):
            t0 = time.perf_counter()
            epoch = self.n_iter_ + e + 1
            where = f"(batches of {trainer.batch_size} rows)"
            try:
                trainer.epoch(history, e * spe)
            except TrainingDiverged as err:
                raise FloatingPointError(
                    f"training diverged in epoch {epoch}: {err} of {spe} {where}; "
                    f"{_epochs.hint(self.learning_rate, X)}. The model is left as it was "
                    "before this call"
                ) from None
            h = history[e * spe:(e + 1) * spe]
            if e == 0 and self.n_iter_ == 0:  # the model's first step loss, at least the zero model's
                self._loss0 = max(self._loss0, float(h[0]))
            k = _epochs.diverged(h, self._loss0)
            if k >= 0:
                raise FloatingPointError(
                    f"training diverged in epoch {epoch}: the loss was {h[k]:.6g} at step {k + 1} "
                    f"of {spe} {where}, more than {_epochs.DIVERGENCE_FACTOR:g} times the first "
                    f"loss ({self._loss0:.6g}); {_epochs.hint(self.learning_rate, X)}. The model "
                    "is left as it was before this call"
                )
            if not trainer.weights_finite():
                raise FloatingPointError(
                    f"training diverged in epoch {epoch}: the weights overflowed in its last "
                    f"update; {_epochs.hint(self.learning_rate, X)}. The model is left as it was "
                    "before this call"
                )
            losses.append(float(h.mean()))
            score = None
            if val is not None:
                score = _accuracy(self._val_scores(trainer.W, val[0]), val[1], val[2])
                scores.append(score)
            stop = rule is not None and rule.update(losses[-1], score)
            now = time.perf_counter()
            if params["verbose"]:
                print(_epochs.progress(epoch, losses[-1], score, now - t0, now - start),
                      file=sys.stdout, flush=True)
            if stop:
                if params["verbose"]:
                    print(f"stopped after epoch {epoch}: {rule.reason()}", file=sys.stdout,
                          flush=True)
                break
        done = len(losses)
        self.n_iter_ += done
        self.loss_history_ = np.concatenate([self.loss_history_, history[:done * spe]])
        self.epoch_loss_ = np.concatenate([self.epoch_loss_, losses])
        return None if val is None else np.asarray(scores)

    def _val_scores(self, W, Xv):
        d = self.n_features_in_
        S = Xv @ W[:d]
        if W.shape[0] == d + 1:
            S += W[d]
        return S

    # ------------------------------------------------------------------
    # Prediction

    def _require_fitted(self):
        if not self.__sklearn_is_fitted__():
            raise not_fitted(self)

    def _require_n_features(self, n_features):
        if n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )

    def _check_fitted_X(self, X):
        self._require_fitted()
        check_feature_names(self, X)
        X = inp.check_X(X)
        self._require_n_features(X.shape[1])
        return X

    def decision_function(self, X: npt.ArrayLike) -> npt.NDArray[np.floating[Any]]:
        """Scores X·coefᵀ + intercept: (n_samples, n_classes), or (n_samples,) for two classes.

        For two classes, the score of ``classes_[1]`` minus that of
        ``classes_[0]``: positive predicts ``classes_[1]``.
        """
        return self._decision(self._check_fitted_X(X))

    def _decision(self, X):
        """decision_function of an X already checked (``_check_fitted_X``)."""
        scores = X.astype(self.coef_.dtype, copy=False) @ self.coef_.T
        scores += self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def _labels(self, s):
        """The predicted classes of decision scores ``s``."""
        index = (s > 0).astype(np.intp) if s.ndim == 1 else np.argmax(s, axis=1)
        return self.classes_[index]

    def _class_scores(self, X):
        """(n_samples, n_classes) scores whose softmax is the model's probabilities."""
        s = self.decision_function(X)
        return np.column_stack([np.zeros_like(s), s]) if s.ndim == 1 else s

    def predict(self, X: npt.ArrayLike) -> npt.NDArray[Any]:
        """The class of highest score for every row."""
        return self._labels(self.decision_function(X))  # checks first that it is fitted

    @softmax_only
    def predict_proba(self, X: npt.ArrayLike) -> npt.NDArray[np.floating[Any]]:
        """Class probabilities (n_samples, n_classes), the softmax of the class scores.

        Only with ``loss="softmax"`` (otherwise the attribute does not exist).
        For two classes :math:`(1 - \\sigma(d), \\sigma(d))` of the decision
        :math:`d`, the softmax of :math:`(0, d)`.
        """
        from .losses import softmax

        s = self._class_scores(X)
        return softmax(s, out=s)

    @softmax_only
    def predict_log_proba(self, X: npt.ArrayLike) -> npt.NDArray[np.floating[Any]]:
        """Log of the class probabilities, :math:`s - \\max s - \\log \\sum e^{s - \\max s}` per row.

        Computed by :func:`fastloss.log_softmax`, not as ``log(predict_proba)``:
        finite where a probability underflows to 0.  Only with ``loss="softmax"``.
        """
        from .losses import log_softmax

        s = self._class_scores(X)
        return log_softmax(s, out=s)

    def score(self, X: npt.ArrayLike, y: npt.ArrayLike,
              sample_weight: npt.ArrayLike | None = None) -> float:
        """Mean accuracy on (X, y), weighted by ``sample_weight`` if given."""
        X = self._check_fitted_X(X)
        y = inp.check_y(y, X.shape[0], type(self).__name__)
        sw = inp.check_sample_weight(sample_weight, X.shape[0])
        return float(np.average(self._labels(self._decision(X)) == y, weights=sw))


def _accuracy(scores, codes, weights):
    """Accuracy of (n, C) class scores on class codes, weighted if ``weights`` is given."""
    hit = np.argmax(scores, axis=1) == codes
    return float(np.average(hit, weights=weights))
