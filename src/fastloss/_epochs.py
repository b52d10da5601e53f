"""Between the epochs of a :class:`fastloss.LinearClassifier` fit: divergence, stopping, progress.

The training engine runs an epoch's steps (:class:`fastloss._training.MiniBatchSGD`);
after each, the estimator asks here whether the fit diverged
(:func:`diverged`: a step loss more than :data:`DIVERGENCE_FACTOR` times the
model's first loss, or not finite), whether to stop (:class:`StoppingRule`,
scikit-learn ``SGDClassifier``'s ``tol`` and ``n_iter_no_change``), and
what ``verbose`` prints (:func:`progress`).
"""

from __future__ import annotations

import math

import numpy as np

from . import _sparse

#: A step loss above this many times the model's first step loss means the fit diverged.
DIVERGENCE_FACTOR = 1e4


class StoppingRule:
    """scikit-learn ``SGDClassifier``'s convergence test, epoch by epoch.

    With a validation set (early stopping), an epoch *improves* when its
    validation score exceeds the best so far by more than ``tol``; without,
    when its mean training loss is below the best so far by more than
    ``tol``.  The fit stops after ``n_iter_no_change`` epochs in a row
    without improvement.  ``tol=None`` never stops.
    """

    def __init__(self, tol: float | None, n_iter_no_change: int, on_validation: bool) -> None:
        self.tol = tol
        self.patience = n_iter_no_change
        self.on_validation = on_validation
        self.best = -math.inf if on_validation else math.inf
        self.stale = 0

    def update(self, loss: float, score: float | None) -> bool:
        """Record one epoch; True when the fit should stop after it."""
        if self.on_validation:
            assert score is not None
            worse = self.tol is not None and score < self.best + self.tol
            self.best = max(self.best, score)
        else:
            worse = self.tol is not None and loss > self.best - self.tol
            self.best = min(self.best, loss)
        self.stale = self.stale + 1 if worse else 0
        return self.tol is not None and self.stale >= self.patience

    def reason(self) -> str:
        what = "validation score" if self.on_validation else "training loss"
        return (f"no improvement of the {what} by more than tol={self.tol:g} in "
                f"{self.patience} epoch{'s' if self.patience > 1 else ''}")


def diverged(history: np.ndarray, loss0: float) -> int:
    """The index of the first step of ``history`` whose loss is above
    ``DIVERGENCE_FACTOR · loss0`` or not finite, or -1."""
    bad = ~(history <= DIVERGENCE_FACTOR * loss0)  # NaN compares False: counted as bad
    return int(np.argmax(bad)) if bad.any() else -1


def hint(learning_rate: object, X: np.ndarray) -> str:
    """What to change after a fit diverged: the learning rate, or the scale of the features."""
    with np.errstate(all="ignore"):
        if _sparse.is_sparse(X):  # its stored values
            data = np.asarray(X.data, dtype=np.float64)
            top = float(np.max(np.abs(data))) if data.size else 0.0
            mean = np.asarray(X.mean(axis=0), dtype=np.float64).ravel()
            sq = np.asarray(X.multiply(X).mean(axis=0), dtype=np.float64).ravel()
            scale = float(np.sqrt(np.max(np.maximum(sq - mean * mean, 0.0)))) if mean.size else 0.0
        else:
            top = float(np.max(np.abs(X))) if X.size else 0.0
            scale = float(np.max(np.std(X, axis=0, dtype=np.float64))) if X.size else 0.0
    return (f"use a smaller learning_rate (it is {learning_rate!r}) or scale the features "
            f"(e.g. sklearn.preprocessing.StandardScaler: the largest |value| in X is {top:.3g}, "
            f"the largest standard deviation of a feature {scale:.3g})")


def duration(seconds: float) -> str:
    """``seconds`` in a unit that shows its digits: µs, ms or s."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def progress(epoch: int, loss: float, score: float | None, seconds: float, total: float) -> str:
    """The line ``verbose`` prints after an epoch."""
    val = "" if score is None else f"  validation score {score:.4f}"
    return (f"epoch {epoch:4d}  loss {loss:.6f}{val}  time {duration(seconds)} "
            f"(total {duration(total)})")
