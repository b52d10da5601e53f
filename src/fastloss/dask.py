"""fastloss on Dask: exact loss and gradient over row-chunked dask arrays.

Install with ``pip install "fastloss[dask]"``.  Nothing here is imported by
``import fastloss``: Dask stays an optional dependency.

:func:`svm_loss` and :func:`softmax_loss` are the distributed forms of
:func:`fastloss.svm_loss` and :func:`fastloss.softmax_loss`.  Every row chunk
of ``X`` (with the matching chunk of ``y``) is one task, run wherever Dask's
scheduler puts it -- a thread of the local threaded scheduler or a worker of a
``dask.distributed`` cluster.  A task computes, for its rows only,

    S_k = X_k W,    (loss_k, dS_k) = fastloss kernel with reduction="sum",
    dW_k = X_kᵀ dS_k,    n_k = rows

and the triples are added up by a tree of tasks (``_SPLIT_EVERY`` partials
per node).  The client divides by the global N and adds the L2 terms, so the
result is the full-data mean whatever the chunking: uneven chunks, chunks
whose rows are all of one class and empty chunks give the in-memory result up
to floating-point rounding.  Only W (once per call) and the (D, C) partial
gradients travel; the data stays where it lies.

If a worker dies during a call, ``dask.distributed`` reruns the tasks whose
results it lost on the remaining (or restarted) workers; the tasks are pure,
so the result is the same.

:class:`LinearClassifier` is :class:`fastloss.LinearClassifier` trained on a
row-chunked dask array by parameter averaging (Zinkevich, Weimer, Smola and Li,
"Parallelized Stochastic Gradient Descent", NIPS 2010), repeated in rounds as
in McDonald, Hall and Mann's "iterative parameter mixing" (NAACL 2010): every
row chunk is a shard; an epoch has the in-memory epoch's steps, and each shard's
batch is its share of the global batch; in each round every shard runs
``averaging_steps`` steps of the in-memory trainer (the training engine) from
the current weights and momentum, on a worker, and the client averages them,
weighted by the rows each shard used.  Averaging after every step is exactly
synchronous data-parallel SGD.  The model lives on the client; per round only
the (D+1, C) weights (and momentum) travel, twice per shard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, NoReturn

import numpy as np
import numpy.typing as npt

try:
    import dask
    import dask.array as da
except ImportError as exc:  # pragma: no cover - exercised only without dask
    raise ImportError(
        'fastloss.dask needs Dask; install it with: pip install "fastloss[dask]"'
    ) from exc

import sys
import time

from . import _dispatch, _docs
from . import _validation as v
from ._training import MiniBatchSGD, TrainingDiverged
from ._sklearn_compat import softmax_only
from .classifier import LinearClassifier as _InMemoryClassifier
from .losses import softmax
from .optim import LRSchedule

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["LinearClassifier", "softmax_loss", "svm_loss"]

#: The X and y of the docstrings.
_ARGS = ("dask.array.Array (or array_like) of the dtype of W, shape (N, D)",
         "dask.array.Array (or array_like) of int, shape (N,)")

#: Fan-in of the reduction tree: partial results combined per task.
_SPLIT_EVERY = 8

# Every task is built with pure=False: its key is fresh at every call, so a call always
# computes and never picks up the result of an identical earlier call that a cluster
# still holds (which would make timings meaningless).


# --------------------------------------------------------------------------
# Validation (on the client, before any task is built)


def _check(W, X, y, reg):
    """Validated (W, X, y, reg): W a (D, C) ndarray, X (N, D) chunked by rows only, y (N,) aligned."""
    W = v.scores_2d(W, "W")
    X = da.asarray(X)
    y = da.asarray(y)
    if X.dtype != W.dtype:
        raise TypeError(f"X must have dtype {W.dtype} (that of W), got {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if any(np.isnan(n) for n in X.shape) or any(np.isnan(n) for n in y.shape):
        raise ValueError(
            "X and y must have known chunk sizes; call .compute_chunk_sizes() on them first"
        )
    if X.shape[1] != W.shape[0]:
        raise ValueError(
            f"X has {X.shape[1]} features (columns) but W has {W.shape[0]} rows; "
            "W must be (n_features, n_classes)"
        )
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class indices, got dtype {y.dtype}")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got shape {y.shape}")
    reg = v.finite_real(reg, "reg", low=0.0)
    # One chunk across the columns: a task needs whole rows to compute X_k W.
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    if y.chunks[0] != X.chunks[0]:
        y = y.rechunk((X.chunks[0],))
    return W, X, y, reg


# --------------------------------------------------------------------------
# Tasks (run on the workers)


def _partial(X, y, W, start, kind, margin):
    """(sum of row losses, X_kᵀ dS_k in float64, rows) of one row chunk starting at row ``start``."""
    c = W.shape[1]
    y = np.asarray(y)
    if y.size:
        bad = (y < 0) | (y >= c)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"y[{start + i}] = {y[i]} is not a class index in [0, {c})")
    n = X.shape[0]
    if n == 0:
        return 0.0, np.zeros(W.shape), 0
    # one pass over the chunk (the training engine's machinery, as fastloss.svm_loss);
    # it gives means: the partial sums are n times them
    Wt = np.ascontiguousarray(W.T)
    dWt = np.empty_like(Wt)
    mean = _dispatch.kernels.linear_gradient(
        np.ascontiguousarray(X), np.ascontiguousarray(y, np.int64), Wt, dWt,
        loss="hinge" if kind == "svm" else "softmax", margin=margin)
    return float(mean) * n, dWt.T.astype(np.float64) * n, n


def _combine(*parts):
    """The sum of some (loss, dW, n) partials."""
    loss = sum(p[0] for p in parts)
    dW = parts[0][1].copy()
    for p in parts[1:]:
        dW += p[1]
    return loss, dW, sum(p[2] for p in parts)


def _tree_sum(parts, combine=_combine, split_every=_SPLIT_EVERY):
    """Reduce a list of delayed partials with a tree of ``combine`` tasks."""
    while len(parts) > 1:
        parts = [
            dask.delayed(combine, pure=False)(*parts[i : i + split_every])
            for i in range(0, len(parts), split_every)
        ]
    return parts[0]


def _graph(kind, W, X, y, margin):
    """A delayed (loss_sum, dW_sum, n) over every row chunk of validated X, y."""
    Wd = dask.delayed(W, pure=False)  # one key: shipped once to each worker that needs it
    xs = X.to_delayed().ravel()
    ys = y.to_delayed().ravel()
    starts = np.concatenate(([0], np.cumsum(X.chunks[0])[:-1]))
    task = dask.delayed(_partial, pure=False)
    parts = [task(xb, yb, Wd, int(s), kind, margin) for xb, yb, s in zip(xs, ys, starts)]
    return _tree_sum(parts)


def _loss(kind, W, X, y, reg, margin):
    W, X, y, reg = _check(W, X, y, reg)
    loss, dW, n = dask.compute(_graph(kind, W, X, y, margin))[0]
    if n:
        loss /= n
        dW /= n
    dW = dW.astype(W.dtype)
    if reg != 0.0:
        loss += reg * _dispatch.kernels.sum_squares(W.reshape(-1))
        dW += (2.0 * reg) * W
    return float(loss), dW


# --------------------------------------------------------------------------
# Public API


@_docs.fill(parameters=_docs.linear_parameters(*_ARGS, margin=True),
            returns=_docs.LINEAR_RETURNS)
def svm_loss(
    W: npt.ArrayLike, X: Any, y: Any, reg: float = 0.0, *, margin: float = 1.0
) -> tuple[float, npt.NDArray[np.floating[Any]]]:
    """Multiclass SVM loss and its gradient over a dask array (:func:`fastloss.svm_loss`, distributed).

    .. math::

        L = \\frac{1}{N} \\sum_i \\sum_{j \\ne y_i} \\max(0,\\ S_{ij} - S_{i,y_i} + \\Delta)
            + \\lambda \\sum W^2, \\qquad
        \\frac{\\partial L}{\\partial W} = X^\\top \\frac{\\partial L}{\\partial S} + 2 \\lambda W,
        \\qquad S = XW

    computed chunk by chunk on the Dask scheduler in use (the threaded one, or
    the cluster of the current ``dask.distributed.Client``) and reduced to the
    exact full-data mean.  W is a small in-memory array, sent once to every
    worker; X is chunked by rows (a chunking across the columns is merged
    first, ``X.rechunk({1: -1})``, which moves data: prefer row chunks), and
    y is rechunked to X's row chunks if needed.

    %(parameters)s

    %(returns)s

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastloss as fl, fastloss.dask as fld
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 5)); y = rng.integers(0, 3, 1000); W = rng.normal(size=(5, 3))
    >>> loss, dW = fld.svm_loss(W, da.from_array(X, chunks=(300, 5)), da.from_array(y, chunks=300))
    >>> expected, dW_expected = fl.svm_loss(W, X, y)
    >>> bool(np.isclose(loss, expected) and np.allclose(dW, dW_expected))
    True
    """
    delta = v.finite_real(margin, "margin", low=0.0)
    return _loss("svm", W, X, y, reg, delta)


@_docs.fill(parameters=_docs.linear_parameters(*_ARGS), returns=_docs.LINEAR_RETURNS)
def softmax_loss(W: npt.ArrayLike, X: Any, y: Any, reg: float = 0.0) -> tuple[float, npt.NDArray[np.floating[Any]]]:
    """Softmax cross-entropy loss and its gradient over a dask array (:func:`fastloss.softmax_loss`, distributed).

    .. math::

        L = \\frac{1}{N} \\sum_i -\\log \\frac{e^{S_{i,y_i}}}{\\sum_j e^{S_{ij}}} + \\lambda \\sum W^2,
        \\qquad
        \\frac{\\partial L}{\\partial W} = X^\\top (P - Y) / N + 2 \\lambda W,
        \\qquad S = XW

    computed chunk by chunk on the Dask scheduler in use and reduced to the
    exact full-data mean (see :func:`svm_loss` for the arguments).

    %(parameters)s

    %(returns)s

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastloss.dask as fld
    >>> X = da.ones((30, 5), chunks=(7, 5)); y = da.zeros(30, dtype=int, chunks=7)
    >>> loss, dW = fld.softmax_loss(np.zeros((5, 10)), X, y)
    >>> round(loss, 6)           # log 10: a uniform guess over ten classes
    2.302585
    """
    return _loss("softmax", W, X, y, reg, 0.0)


# --------------------------------------------------------------------------
# Distributed training: parameter averaging after every local epoch


def _rows_only(X, name="X"):
    """X as a 2-D dask array with known row chunks and one chunk across the columns."""
    X = da.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}")
    if any(np.isnan(n) for n in X.shape):
        raise ValueError(f"{name} must have known chunk sizes; call .compute_chunk_sizes() first")
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    return X


def _aligned_y(y, X):
    y = da.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_samples,), got shape {y.shape}")
    if np.isnan(y.shape[0]):
        raise ValueError("y must have known chunk sizes; call .compute_chunk_sizes() first")
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"X and y have different lengths: {X.shape[0]} samples in X, {y.shape[0]} labels in y"
        )
    if y.chunks[0] != X.chunks[0]:
        y = y.rechunk((X.chunks[0],))
    return y


def _shard(X, y, classes, dtype):
    """A shard as the in-memory trainer wants it: X C-contiguous in ``dtype``, class codes."""
    return np.ascontiguousarray(X, dtype), np.searchsorted(classes, y).astype(np.int64)


def _local_round(shard, W, V, seed, start, stop, steps_before, batch, params):
    """Steps ``start .. stop-1`` of a shard's epoch from the client's W (and momentum V).

    The shard's epoch has as many steps as the whole data's (its batches are
    its share of the global batch); its order is drawn from ``seed``, the
    same in every round of the epoch.  Returns (rows·W', rows·V' or None,
    rows, Σ step losses, steps), in float64, or None if the shard has no
    rows in these steps.
    """
    X, yc = shard
    n = X.shape[0]
    stop = min(stop, -(-n // batch))
    if start >= stop:
        return None
    W = W.copy()
    trainer = MiniBatchSGD(X, yc, W, rng=np.random.default_rng(seed), batch_size=batch, **params)
    trainer.steps = steps_before + start
    if V is not None:
        trainer.V[...] = V
    history = np.empty(stop)
    trainer.run_steps(history, start, stop)  # TrainingDiverged (a FloatingPointError) on divergence
    rows = min(stop * batch, n) - start * batch
    Vr = None if V is None else trainer.V.astype(np.float64) * rows
    return W.astype(np.float64) * rows, Vr, rows, float(history[start:stop].sum()), stop - start


def _add(*parts):
    """The elementwise sum of some (rows·W, rows·V, rows, Σ loss, steps) tuples (None: no rows)."""
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    W = parts[0][0].copy()
    V = None if parts[0][1] is None else parts[0][1].copy()
    for p in parts[1:]:
        W += p[0]
        if V is not None:
            V += p[1]
    return (W, V) + tuple(sum(p[i] for p in parts) for i in range(2, 5))


def _block_scores(X, coef, intercept):
    scores = X.astype(coef.dtype, copy=False) @ coef.T
    scores += intercept
    return scores


def _block_softmax(scores):
    return softmax(scores, out=scores)


def _block_predict(X, coef, intercept, classes):
    scores = _block_scores(X, coef, intercept)
    if scores.shape[1] == 1:  # two classes: the decision s1 - s0
        return classes[(scores[:, 0] > 0).astype(np.intp)]
    return classes[np.argmax(scores, axis=1)]


def _block_two_columns(decision):
    """(n,) decisions d of two classes -> (n, 2) class scores (0, d), whose softmax is the model's."""
    return np.column_stack([np.zeros_like(decision), decision])


class LinearClassifier(_InMemoryClassifier):
    """:class:`fastloss.LinearClassifier` trained across Dask workers by parameter averaging.

    The same model, objective, hyper-parameters and fitted attributes as the
    in-memory estimator; ``fit`` takes a dask array ``X`` (N, D) chunked by
    rows and labels ``y`` (N,), and trains by *iterative parameter averaging*:

    1. the client draws the initial weights as the in-memory estimator does;
    2. an epoch has the in-memory epoch's S = ⌈N / batch_size⌉ steps; a row
       chunk (a *shard*) of :math:`n_k` rows takes batches of
       :math:`b_k = \\lceil n_k B / N \\rceil` rows, its share of the batch;
    3. in each round, every shard runs ``averaging_steps`` steps of the
       in-memory trainer over its own rows (its order of the epoch shuffled
       as the in-memory estimator shuffles), on a worker, from the client's
       current weights :math:`W` (and momentum buffer), which gives
       :math:`W_k`;
    4. the client sets :math:`W \\leftarrow \\sum_k r_k W_k / \\sum_k r_k`
       (:math:`r_k` the rows shard :math:`k` used in the round; the momentum
       buffer alike) and goes on with step 3.

    With ``averaging_steps=1`` this is synchronous data-parallel SGD, step for
    step the in-memory update over the union of the shards' batches.  Larger
    values average less often (Zinkevich, Weimer, Smola and Li, NIPS 2010;
    McDonald, Hall and Mann's iterative parameter mixing, NAACL 2010): fewer
    rounds, each of more local work.  The default, ``"auto"``, averages
    :attr:`AUTO_ROUNDS` (4) times an epoch (every step if the epoch has fewer).
    On scikit-learn's digits (pixels / 16, 1,400 training rows in 4 chunks,
    default settings) it reaches the in-memory fit's test accuracy to within a
    point: 0.962 / 0.962 (softmax) and 0.975 / 0.977 (hinge), measured with
    ``tests/test_dask.py::test_digits_in_four_chunks_within_one_point``.

    ``fit`` prepares each shard once (cast to ``dtype``, class codes) and
    keeps it in the workers' memory until it returns.  With the same
    ``random_state`` and the same chunking the model is the same, bit for
    bit.  ``predict``, ``decision_function`` and ``predict_proba`` of a dask
    array are lazy dask arrays; ``score`` of a dask array computes.  NumPy
    input works as in the in-memory estimator.

    Parameters
    ----------
    averaging_steps : int >= 1, "auto" or "epoch", default "auto"
        Local steps between two averagings; ``"epoch"``: once an epoch.
    Others
        See :class:`fastloss.LinearClassifier`.

    Attributes
    ----------
    coef_, intercept_, classes_, n_features_in_, n_iter_
        As in :class:`fastloss.LinearClassifier` (``coef_`` and ``intercept_``
        are in-memory arrays).
    epoch_loss_ : ndarray
        Per epoch, the mean loss of the local mini-batch steps of every shard.
    n_shards_ : int
        Row chunks that trained (empty chunks are skipped).

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastloss.dask as fld
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(-2, 1, (500, 2)), rng.normal(2, 1, (500, 2))]
    >>> y = np.repeat([0, 1], 500)
    >>> perm = rng.permutation(1000)
    >>> Xd = da.from_array(X[perm], chunks=(250, 2)); yd = da.from_array(y[perm], chunks=250)
    >>> clf = fld.LinearClassifier(random_state=0, epochs=5).fit(Xd, yd)
    >>> clf.n_shards_, clf.coef_.shape, clf.score(Xd, yd) > 0.95
    (4, (1, 2), True)
    """

    def __init__(self, loss: Literal["softmax", "hinge"] = "softmax", *, reg: float = 1e-4,
                 learning_rate: float | LRSchedule = 0.5, batch_size: int = 200, epochs: int = 50,
                 momentum: float = 0.0, nesterov: bool = False, fit_intercept: bool = True,
                 shuffle: bool = True, random_state: int | np.random.Generator | None = None,
                 verbose: bool = False, dtype: npt.DTypeLike = "float64",
                 averaging_steps: int | Literal["auto", "epoch"] = "auto") -> None:
        super().__init__(loss, reg=reg, learning_rate=learning_rate, batch_size=batch_size,
                         epochs=epochs, momentum=momentum, nesterov=nesterov,
                         fit_intercept=fit_intercept, shuffle=shuffle,
                         random_state=random_state, verbose=verbose, dtype=dtype)
        self.averaging_steps = averaging_steps

    #: "auto": rounds of averaging an epoch.
    AUTO_ROUNDS = 4

    def _sync_steps(self):
        """Local steps between two averagings: an int, or None for once an epoch ("epoch")."""
        a = self.averaging_steps
        if isinstance(a, str):
            if a == "epoch":
                return None
            if a == "auto":
                return -1
            raise ValueError(f"averaging_steps must be 'auto', 'epoch' or an int >= 1, got {a!r}")
        return v.positive_int(a, "averaging_steps")

    def fit(self, X: Any, y: Any) -> Self:
        """Fit from scratch on a dask array: ``epochs`` epochs, the chunks' weights averaged
        every ``averaging_steps`` steps (see the class).  Returns self."""
        if not isinstance(X, da.Array) and not isinstance(y, da.Array):
            X = da.from_array(np.asarray(X), chunks=(-1, -1))
        params = self._checked_params()
        sync = self._sync_steps()
        X = _rows_only(X)
        y = _aligned_y(y, X)
        if X.shape[0] == 0:
            raise ValueError(f"X has no samples (shape {X.shape})")
        if X.shape[1] == 0:
            raise ValueError(f"X has no features (shape {X.shape})")
        finite = da.isfinite(X).all() if X.dtype.kind == "f" else True
        y_finite = da.isfinite(y).all() if y.dtype.kind == "f" else True
        classes, finite, y_finite = dask.compute(da.unique(y), finite, y_finite)
        if not finite:
            raise ValueError("X contains NaN or infinity")
        if not y_finite:
            raise ValueError("y contains NaN or infinity")
        if classes.shape[0] < 2:
            raise ValueError(
                f"y has a single class ({classes[0]!r}); a classifier needs at least two"
            )
        for attr in ("coef_", "intercept_", "classes_", "_W", "loss_history_", "epoch_loss_"):
            self.__dict__.pop(attr, None)

        dtype = params["dtype"]
        n, d = X.shape
        rng = np.random.default_rng(self.random_state)
        c = classes.shape[0]
        W = np.zeros((d + 1 if self.fit_intercept else d, c), dtype)
        W[:d] = 0.001 * rng.standard_normal((d, c))
        V = np.zeros_like(W) if params["momentum"] > 0 else None

        keep = [i for i, rows in enumerate(X.chunks[0]) if rows]
        xs = X.to_delayed().ravel()
        ys = y.to_delayed().ravel()
        prepare = dask.delayed(_shard, pure=False)
        shards = [prepare(xs[i], ys[i], classes, dtype) for i in keep]
        shards = dask.persist(*shards)  # prepared once, kept on the workers during fit
        trainer_params = dict(
            loss=self.loss, reg=params["reg"], momentum=params["momentum"],
            nesterov=params["nesterov"], intercept=self.fit_intercept, shuffle=self.shuffle,
            schedule=params["schedule"], lr=params["lr"],
        )
        # the epoch has the in-memory epoch's steps; a shard's batches are its
        # share of the global batch, so one step over all shards sees batch_size rows
        batch = min(params["batch_size"], n)
        steps = -(-n // batch)
        rows_k = np.asarray([X.chunks[0][i] for i in keep], dtype=np.int64)
        batches = -(-rows_k * batch // n)  # ⌈n_k·B/N⌉: at most `steps` steps a shard
        if sync == -1:  # "auto": AUTO_ROUNDS rounds an epoch (every step if it has fewer)
            sync = -(-steps // self.AUTO_ROUNDS)
        every = steps if sync is None else min(sync, steps)
        epoch_loss = np.empty(params["epochs"])
        local = dask.delayed(_local_round, pure=False)
        for e in range(params["epochs"]):
            t0 = time.perf_counter()
            seeds = rng.integers(0, 2**63, size=len(shards))
            loss_sum, step_count = 0.0, 0
            for start in range(0, steps, every):
                stop = min(start + every, steps)
                Wd = dask.delayed(W, pure=False)
                Vd = dask.delayed(V, pure=False)
                parts = [
                    local(shard, Wd, Vd, int(seed), start, stop, e * steps, int(batch),
                          trainer_params)
                    for shard, seed, batch in zip(shards, seeds, batches)
                ]
                try:
                    total, Vtotal, rows, round_loss, round_steps = dask.compute(
                        _tree_sum(parts, combine=_add))[0]
                except TrainingDiverged as err:
                    raise FloatingPointError(
                        f"training diverged in epoch {e + 1} on a shard: {err}; lower "
                        "learning_rate"
                    ) from None
                if not np.isfinite(total).all():
                    raise FloatingPointError(
                        f"training diverged in epoch {e + 1}: the weights overflowed; lower "
                        "learning_rate"
                    )
                W = (total / rows).astype(dtype)
                if V is not None:
                    V = (Vtotal / rows).astype(dtype)
                loss_sum += round_loss
                step_count += round_steps
            epoch_loss[e] = loss_sum / step_count
            if self.verbose:
                print(f"epoch {e + 1:4d}  loss {epoch_loss[e]:.6f}  "
                      f"{time.perf_counter() - t0:.3f} s", file=sys.stdout, flush=True)
        del shards

        self._W = W
        self.classes_ = classes
        self.n_features_in_ = d
        self.n_iter_ = params["epochs"]
        self.n_shards_ = len(keep)
        self.epoch_loss_ = epoch_loss
        self._set_coef()  # scikit-learn's form: (1, D) and (1,) for two classes
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> NoReturn:
        """Not available: use :meth:`fit` (its epochs run rounds of parameter averaging)."""
        raise NotImplementedError(
            "fastloss.dask.LinearClassifier has no partial_fit; fit runs `epochs` epochs of "
            "parameter averaging (rounds of `averaging_steps` steps)"
        )

    def _check_fitted_dask(self, X):
        self._require_fitted()
        X = _rows_only(X)
        self._require_n_features(X.shape[1])
        return X

    def decision_function(self, X: Any) -> Any:
        """Scores X·coefᵀ + intercept, (n_samples, n_classes) or (n_samples,) for two classes;
        lazy for a dask array."""
        if not isinstance(X, da.Array):
            return super().decision_function(X)
        X = self._check_fitted_dask(X)
        k = self.coef_.shape[0]
        scores = X.map_blocks(
            _block_scores, self.coef_, self.intercept_,
            chunks=(X.chunks[0], (k,)), dtype=self._W.dtype,
        )
        return scores[:, 0] if k == 1 else scores

    def predict(self, X: Any) -> Any:
        """The class of highest score for every row; lazy for a dask array."""
        if not isinstance(X, da.Array):
            return super().predict(X)
        X = self._check_fitted_dask(X)
        return X.map_blocks(
            _block_predict, self.coef_, self.intercept_, self.classes_,
            drop_axis=1, chunks=(X.chunks[0],), dtype=self.classes_.dtype,
        )

    @softmax_only
    def predict_proba(self, X: Any) -> Any:
        """Class probabilities (``loss="softmax"`` only); lazy for a dask array."""
        if not isinstance(X, da.Array):
            return super().predict_proba(X)
        scores = self.decision_function(X)
        if scores.ndim == 1:
            scores = scores.map_blocks(_block_two_columns, new_axis=1,
                                       chunks=(scores.chunks[0], (2,)), dtype=self._W.dtype)
        return scores.map_blocks(_block_softmax, dtype=self._W.dtype)

    def score(self, X: Any, y: Any) -> float:
        """Mean accuracy on (X, y), computed (also for dask arrays)."""
        if not isinstance(X, da.Array) and not isinstance(y, da.Array):
            return super().score(X, y)
        X = self._check_fitted_dask(X)
        y = _aligned_y(y, X)
        return float((self.predict(X) == y).mean().compute())
