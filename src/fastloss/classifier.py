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
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from . import _dispatch, _sparse
from . import _validation as v
from ._training import MiniBatchSGD, TrainingDiverged
from .optim import LRSchedule

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["LinearClassifier", "NotFittedError"]

LOSSES = ("softmax", "hinge")


class NotFittedError(ValueError, AttributeError):
    """The estimator is used before ``fit`` (a ValueError and an AttributeError, like scikit-learn's)."""


def _check_X(X, name="X", finite=True):
    """X as an array, checked: real, 2-D, not empty; without NaN or infinity if ``finite``."""
    if _sparse.is_sparse(X):  # SciPy sparse: checked and kept as CSR (see _sparse.py)
        return _sparse.check_X(X, name, finite)
    arr = np.asarray(X)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no samples (shape {arr.shape})")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {arr.shape})")
    if finite and arr.dtype.kind == "f" and not _all_finite(arr):
        raise _not_finite(name)
    return arr


def _not_finite(name):
    return ValueError(f"{name} contains NaN or infinity")


def _all_finite(arr):
    if _sparse.is_sparse(arr):
        return _sparse.all_finite(arr)
    if arr.dtype in (np.float32, np.float64) and arr.flags.c_contiguous and arr.dtype.isnative:
        return _dispatch.kernels.all_finite(arr.reshape(-1))  # one read, no temporary
    return bool(np.isfinite(arr).all())


def _check_y(y, n):
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-D (n_samples,), got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"X and y have different lengths: {n} samples in X, {arr.shape[0]} labels in y")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError("y contains NaN or infinity")
    return arr


def _sparse_trainer():
    from ._sparse_training import SparseMiniBatchSGD

    return SparseMiniBatchSGD


class LinearClassifier:
    """Linear classifier (softmax or multiclass SVM) trained by mini-batch SGD.

    Minimises CS231n's objective

    .. math::

        J(W, b) = \\frac{1}{N} \\sum_i L_i(x_i W + b,\\ y_i) + \\lambda \\sum W^2

    with :math:`L_i` the softmax cross-entropy or the multiclass hinge
    (margin 1), by SGD on mini-batches of ``batch_size`` rows:
    :math:`\\theta \\leftarrow \\theta - \\alpha \\nabla_\\theta J_\\text{batch}`
    (with momentum / Nesterov if asked; the intercept is not regularised).
    Each step sees only part of the data, so the per-step loss
    (``loss_history_``) is noisy around its per-epoch mean (``epoch_loss_``).

    Parameters
    ----------
    loss : {"softmax", "hinge"}
    reg : float >= 0
        :math:`\\lambda`, the L2 penalty on the weights.
    learning_rate : float > 0 or LRSchedule
        A schedule is evaluated at the step count (see :mod:`fastloss.optim`).
    batch_size : int >= 1
    epochs : int >= 1
        Passes over the data made by :meth:`fit` (:meth:`partial_fit` makes one).
    momentum : float in [0, 1)
    nesterov : bool
    fit_intercept : bool
    shuffle : bool
        Shuffle the rows before every epoch.
    random_state : int, numpy.random.Generator or None
        Seeds the initial weights (0.001·N(0, 1), CS231n's) and the shuffling:
        the same seed gives the same model, bit for bit.
    verbose : bool
        Print the mean loss and time of every epoch.
    dtype : {"float64", "float32"}
        Precision of training and of the fitted weights.

    Attributes
    ----------
    coef_ : ndarray (n_classes, n_features)
    intercept_ : ndarray (n_classes,)
    classes_ : ndarray (n_classes,)
        The labels seen, sorted (any values: ints, strings).
    n_features_in_ : int
    n_iter_ : int
        Epochs run.
    loss_history_ : ndarray
        The loss of every mini-batch step (data loss + L2 penalty, before the update).
    epoch_loss_ : ndarray
        The mean of ``loss_history_`` over each epoch.

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(-2, 1, (50, 2)), rng.normal(2, 1, (50, 2))]
    >>> y = np.repeat(["neg", "pos"], 50)
    >>> clf = fl.LinearClassifier(random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.95, clf.classes_.tolist(), clf.coef_.shape
    (True, ['neg', 'pos'], (2, 2))
    """

    def __init__(self, loss: Literal["softmax", "hinge"] = "softmax", *, reg: float = 1e-4,
                 learning_rate: float | LRSchedule = 0.5, batch_size: int = 200, epochs: int = 50,
                 momentum: float = 0.0, nesterov: bool = False, fit_intercept: bool = True,
                 shuffle: bool = True, random_state: int | np.random.Generator | None = None,
                 verbose: bool = False, dtype: npt.DTypeLike = "float64") -> None:
        self.loss = loss
        self.reg = reg
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.momentum = momentum
        self.nesterov = nesterov
        self.fit_intercept = fit_intercept
        self.shuffle = shuffle
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

    # scikit-learn < 1.6 reads this attribute, later versions the tags below
    _estimator_type = "classifier"

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's estimator tags (imported only when scikit-learn asks)."""
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags(multi_class=True, poor_score=False),
        )

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
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        return dict(reg=reg, schedule=schedule, lr=lr, batch_size=batch, epochs=epochs,
                    momentum=momentum, nesterov=nesterov, dtype=dtype)

    #: What fit and partial_fit change: put back as it was when they fail.
    _STATE = ("coef_", "intercept_", "classes_", "n_features_in_", "n_iter_", "_W", "_V",
              "_steps", "_rng", "loss_history_", "epoch_loss_")

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
        if "_W" in saved:  # coef_ and intercept_ are views of _W
            d = saved["n_features_in_"]
            self.coef_ = self._W[:d].T
            if self.fit_intercept and self._W.shape[0] == d + 1:
                self.intercept_ = self._W[d]

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike) -> Self:
        """Fit from scratch: ``epochs`` passes of mini-batch SGD.  Returns self.

        ``X`` may be a SciPy sparse matrix (every method takes one): the sparse
        training engine, lazy momentum (see :mod:`fastloss._sparse_training`).
        """
        X = _check_X(X, finite=False)  # NaN/inf: found by training, see _fit
        y = _check_y(y, X.shape[0])
        classes = np.unique(y)
        if classes.shape[0] < 2:
            raise ValueError(
                f"y has a single class ({classes[0]!r}); a classifier needs at least two"
            )
        params = self._checked_params()  # before anything is dropped: a rejected fit keeps the model
        return self._fit(X, y, classes, params, reset=True)

    def partial_fit(self, X: npt.ArrayLike, y: npt.ArrayLike, classes: npt.ArrayLike | None = None) -> Self:
        """One more pass of mini-batch SGD over (X, y), keeping the model (and starting one if none).

        ``classes`` lists every label the model will see (all of them must be
        known at the first call); by default the labels of this first ``y``.
        """
        X = _check_X(X, finite=False)  # NaN/inf: found by training, see _fit
        y = _check_y(y, X.shape[0])
        params = self._checked_params()
        params["epochs"] = 1
        fitted = hasattr(self, "_W")
        if not fitted:
            cl = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if cl.shape[0] < 2:
                raise ValueError(f"classes must hold at least two labels, got {cl.tolist()!r}")
        else:
            cl = self.classes_
            if classes is not None and not np.array_equal(np.unique(np.asarray(classes)), cl):
                raise ValueError(
                    f"classes={list(classes)!r} differs from the classes of the first call {cl.tolist()!r}"
                )
            if X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features, but this classifier was fitted with "
                    f"{self.n_features_in_}"
                )
        unknown = ~np.isin(y, cl)
        if unknown.any():
            raise ValueError(f"y contains labels not in classes: {np.unique(y[unknown]).tolist()!r}")
        return self._fit(X, y, cl, params, reset=not fitted)

    def _fit(self, X, y, classes, params, *, reset):
        """Train; if anything fails or is interrupted, the model is left as it was.

        X is not checked for NaN and infinity beforehand (a pass over X, a
        quarter of an epoch's time): one in X makes a step's loss or the
        weights non-finite, so training stops with a FloatingPointError, and
        only then is X checked, to say which it was.
        """
        saved = self._save_state()
        try:
            return self._train(X, y, classes, params, reset=reset)
        except BaseException as err:  # KeyboardInterrupt included: never a half-trained model
            self._restore_state(saved)
            if isinstance(err, FloatingPointError) and X.dtype.kind == "f" and not _all_finite(X):
                raise _not_finite("X") from None
            raise

    def _train(self, X, y, classes, params, *, reset):
        dtype = params["dtype"]
        n, d = X.shape
        if not reset:
            if self._W.dtype != dtype:
                raise ValueError(
                    f"dtype changed from {self._W.dtype} to {dtype} between partial_fit calls"
                )
            if self._W.shape[0] != (d + 1 if self.fit_intercept else d):
                raise ValueError(
                    f"fit_intercept changed between partial_fit calls (the model was started "
                    f"with fit_intercept={not self.fit_intercept}); call fit to start again"
                )
        else:
            for attr in self._STATE:
                self.__dict__.pop(attr, None)
            self._rng = np.random.default_rng(self.random_state)
            c = classes.shape[0]
            W = np.zeros((d + 1 if self.fit_intercept else d, c), dtype)
            W[:d] = 0.001 * self._rng.standard_normal((d, c))
            self._W = W
            self._steps = 0
            self.classes_ = classes
            self.n_features_in_ = d
            self.n_iter_ = 0
            self.loss_history_ = np.empty(0)
            self.epoch_loss_ = np.empty(0)
            self.coef_ = W[:d].T
            self.intercept_ = W[d] if self.fit_intercept else np.zeros(c, dtype)
        if y.dtype.kind in "iu" and classes[0] == 0 and classes[-1] == classes.shape[0] - 1:
            yc = y.astype(np.int64, copy=False)  # the labels are the class codes 0 .. C-1
        else:
            yc = np.searchsorted(classes, y).astype(np.int64)
        # read in place by the engine: no copy when X already is C-contiguous of dtype
        sparse = _sparse.is_sparse(X)  # CSR: the sparse engine (_sparse_training.py)
        Xc = X if sparse else np.ascontiguousarray(X, dtype)
        trainer = (_sparse_trainer() if sparse else MiniBatchSGD)(
            Xc, yc, self._W, loss=self.loss, reg=params["reg"],
            batch_size=params["batch_size"], momentum=params["momentum"],
            nesterov=params["nesterov"], intercept=self.fit_intercept, shuffle=self.shuffle,
            rng=self._rng, schedule=params["schedule"], lr=params["lr"],
        )
        trainer.steps = self._steps
        if not reset and trainer.V is not None and getattr(self, "_V", None) is not None:
            trainer.V[...] = self._V
        epochs = params["epochs"]
        spe = trainer.steps_per_epoch
        history = np.empty(epochs * spe)
        epoch_loss = np.empty(epochs)
        for e in range(epochs):
            t0 = time.perf_counter()
            try:
                trainer.epoch(history, e * spe)
            except TrainingDiverged as err:
                raise FloatingPointError(
                    f"training diverged in epoch {self.n_iter_ + e + 1}: {err} of {spe} "
                    f"(batches of {trainer.batch_size} rows); lower learning_rate. The model "
                    "is left as it was before this call"
                ) from None
            epoch_loss[e] = history[e * spe:(e + 1) * spe].mean()
            if e == epochs - 1 and not trainer.weights_finite():
                raise FloatingPointError(
                    f"training diverged in epoch {self.n_iter_ + e + 1}: the weights overflowed "
                    "in its last update; lower learning_rate. The model is left as it was "
                    "before this call"
                )
            if self.verbose:
                print(f"epoch {self.n_iter_ + e + 1:4d}  loss {epoch_loss[e]:.6f}  "
                      f"{time.perf_counter() - t0:.3f} s", file=sys.stdout, flush=True)
        self._steps = trainer.steps
        self._V = trainer.V
        self.n_iter_ += epochs
        self.loss_history_ = np.concatenate([self.loss_history_, history])
        self.epoch_loss_ = np.concatenate([self.epoch_loss_, epoch_loss])
        return self

    # ------------------------------------------------------------------
    # Prediction

    def _require_fitted(self):
        if not hasattr(self, "_W"):
            raise NotFittedError("this LinearClassifier is not fitted yet: call fit first")

    def _require_n_features(self, n_features):
        if n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but this classifier was fitted with "
                f"{self.n_features_in_}"
            )

    def _check_fitted_X(self, X):
        self._require_fitted()
        X = _check_X(X)
        self._require_n_features(X.shape[1])
        return X

    def decision_function(self, X: npt.ArrayLike) -> npt.NDArray[np.floating[Any]]:
        """Scores X·coefᵀ + intercept, shape (n_samples, n_classes)."""
        X = self._check_fitted_X(X)
        scores = X.astype(self._W.dtype, copy=False) @ self.coef_.T
        scores += self.intercept_
        return scores

    def predict(self, X: npt.ArrayLike) -> npt.NDArray[Any]:
        """The class of highest score for every row."""
        scores = self.decision_function(X)  # checks first that the model is fitted
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X: npt.ArrayLike) -> npt.NDArray[np.floating[Any]]:
        """Class probabilities: the softmax of the scores (``loss="softmax"`` only)."""
        if self.loss != "softmax":
            raise AttributeError("predict_proba is available only with loss='softmax'")
        from .losses import softmax

        s = self.decision_function(X)
        return softmax(s, out=s)

    def score(self, X: npt.ArrayLike, y: npt.ArrayLike) -> float:
        """Mean accuracy on (X, y)."""
        X = self._check_fitted_X(X)
        y = _check_y(y, X.shape[0])
        return float(np.mean(self.predict(X) == y))
