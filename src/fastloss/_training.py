"""Mini-batch SGD over in-memory data: the loop of :class:`fastloss.LinearClassifier`.

One :class:`MiniBatchSGD` holds the state of one run; fastloss.dask runs one
per shard on its workers.  An epoch is one call of the training engine
(``train_epoch``, kernels/train.pxi and simd/train.h): every step of it in
C, without the GIL and without a return to Python.  Its NumPy twin, the
step as this module ran it before the engine (gather, two products, the
loss, the update), is :func:`fastloss.reference.train_epoch`.
"""

import numpy as np

from . import _dispatch


class TrainingDiverged(FloatingPointError):
    """The loss of a step was not finite: the run stopped before that step's update.

    ``step`` is the step's index within its epoch (0-based) and ``loss`` its value.
    """

    def __init__(self, step, loss):
        self.step, self.loss = int(step), float(loss)
        super().__init__(f"the loss was {self.loss} at step {self.step + 1}")


class MiniBatchSGD:
    """The state of one mini-batch SGD run.

    ``X`` is the training data (C-contiguous, of the weights' dtype: read in
    place, never copied or written), ``yc`` the class codes (int64 in
    [0, C)), ``W`` the (D', C) weights, D' = D + 1 with an intercept (its
    last row), written at the end of every epoch; ``V`` the momentum buffer
    of the same shape.  The engine works on ``W`` transposed (C, D), so both
    products run along the rows of X; :meth:`epoch` copies W and V in at its
    start and out at its end (D·C elements: nothing next to an epoch), so
    that the caller may set ``V`` or ``steps`` between epochs.

    After construction nothing is allocated per step; an epoch allocates its
    learning rates (one float per step) and the engine its gradient buffers.
    """

    #: the engine's layout of W[:d] (and V[:d]) in ``Wt`` (``Vt``): transposed, (C, D)
    transposed = True

    def __init__(self, X, yc, W, *, loss, reg, batch_size, momentum, nesterov,
                 intercept, shuffle, rng, schedule, lr, margin=1.0, sample_weight=None):
        n, d = X.shape
        c = W.shape[1]
        if W.shape[0] != d + bool(intercept):
            raise ValueError(f"W must have {d + bool(intercept)} rows, got {W.shape[0]}")
        self.X, self.yc, self.W = X, np.ascontiguousarray(yc, np.int64), W
        self.n, self.d = n, d
        self.rng = rng
        self.shuffle = shuffle
        self.loss = loss
        self.margin = float(margin)
        self.reg = float(reg)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.schedule, self.lr = schedule, float(lr) if schedule is None else None
        self.batch_size = min(int(batch_size), n)
        self.sample_weight = (None if sample_weight is None
                              else np.ascontiguousarray(sample_weight, np.float64))
        self.intercept = bool(intercept)
        self.order = np.arange(n, dtype=np.intp)
        self.perm = self.order.copy()
        self.V = np.zeros_like(W) if self.momentum > 0 else None
        shape = (c, d) if self.transposed else (d, c)
        self.Wt = np.empty(shape, W.dtype)  # the engine's copies of W[:d] and V[:d]
        self.b = np.empty(c, W.dtype) if intercept else None
        self.Vt = np.empty(shape, W.dtype) if self.V is not None else None
        self.Vb = np.empty(c, W.dtype) if (self.V is not None and intercept) else None
        self.steps = 0

    @property
    def steps_per_epoch(self):
        return -(-self.n // self.batch_size)

    def learning_rates(self, epoch_start, start, stop):
        """Step k's learning rate at ``lr[k]`` for the epoch's steps ``start .. stop-1``
        (float64; the epoch's first step is the run's step ``epoch_start``)."""
        if self.schedule is None:
            return np.full(stop, self.lr)
        lr = np.zeros(stop)
        for k in range(start, stop):
            lr[k] = self.schedule(epoch_start + k)
        return lr

    def _rows(self, A):
        """A's first d rows (W's or V's) in the engine's layout."""
        return A[:self.d].T if self.transposed else A[:self.d]

    def _load(self):
        np.copyto(self.Wt, self._rows(self.W))
        if self.b is not None:
            np.copyto(self.b, self.W[self.d])
        if self.V is not None:
            np.copyto(self.Vt, self._rows(self.V))
            if self.Vb is not None:
                np.copyto(self.Vb, self.V[self.d])

    def _store(self):
        np.copyto(self._rows(self.W), self.Wt)
        if self.b is not None:
            np.copyto(self.W[self.d], self.b)
        if self.V is not None:
            np.copyto(self._rows(self.V), self.Vt)
            if self.Vb is not None:
                np.copyto(self.V[self.d], self.Vb)

    def epoch(self, history, offset):
        """One pass over the data; writes each step's loss into ``history[offset:]``.

        Raises :class:`TrainingDiverged` if a step's loss is not finite; ``W``,
        ``V`` and ``steps`` are then left as they were before the epoch.  (The
        weights after the last step are not checked here: see
        :meth:`weights_finite`.)
        """
        self.run_steps(history[offset:offset + self.steps_per_epoch])

    def run_steps(self, history, start=0, stop=None):
        """Steps ``start .. stop-1`` of an epoch (all by default), ``history[k]`` their losses.

        The epoch's order is drawn from the generator first (so that
        fastloss.dask's shards, which run an epoch in rounds from a generator
        seeded alike each round, see one order).  ``steps`` counts the steps
        made; on :class:`TrainingDiverged`, W, V and ``steps`` are unchanged.
        """
        if self.shuffle:
            # each epoch's order depends only on the generator's state, so
            # partial_fit epoch by epoch equals fit
            np.copyto(self.perm, self.order)
            self.rng.shuffle(self.perm)
            order = self.perm
        else:
            order = None
        spe = self.steps_per_epoch
        stop = spe if stop is None else stop
        self._load()
        bad = self._engine(order, self.learning_rates(self.steps - start, start, stop), history,
                           start, stop)
        if bad < 0:
            # the last step's loss is taken before its update (the engine
            # stops at the first non-finite data loss); weights overflowed by
            # an epoch's last update make the next epoch's first loss
            # non-finite, and the caller checks them after the last epoch
            nonfinite = np.flatnonzero(~np.isfinite(history[start:stop]))
            if nonfinite.size:
                bad = start + int(nonfinite[0])
        if bad >= 0:
            raise TrainingDiverged(bad, history[bad])
        self._store()
        self.steps += stop - start

    def _engine(self, order, lr, history, start, stop):
        """Steps ``start .. stop-1`` by the engine; -1 or the first diverged step."""
        return _dispatch.kernels.train_epoch(
            self.X, self.yc, self.Wt, order, lr, history,
            loss=self.loss, batch_size=self.batch_size, b=self.b, Vt=self.Vt, Vb=self.Vb,
            sample_weight=self.sample_weight, margin=self.margin, reg=self.reg,
            momentum=self.momentum, nesterov=self.nesterov, steps_before=self.steps - start,
            start=start, stop=stop,
        )

    def weights_finite(self):
        """Whether W (and the intercept) are all finite."""
        return bool(np.isfinite(self.W).all())
