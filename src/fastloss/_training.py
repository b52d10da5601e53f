"""Mini-batch SGD over in-memory data: the loop of :class:`fastloss.LinearClassifier`.

One :class:`MiniBatchSGD` holds the buffers of one run; fastloss.dask runs one
per shard on its workers.
"""

import numpy as np

from . import _dispatch
from .losses import multiclass_hinge, softmax_cross_entropy


class MiniBatchSGD:
    """The preallocated buffers and the step of one mini-batch SGD run.

    ``Xa`` is the training data (C-contiguous, with a column of ones appended
    when there is an intercept), ``yc`` the class codes, ``W`` the (D', C)
    weights updated in place (the last row is the intercept if any).  After
    construction, :meth:`step` allocates no array: the batch is gathered into
    ``Xb``/``yb`` with ``np.take(out=)`` (or, without shuffling, is a slice of
    the data), the products go into ``S`` and
    ``dW`` with ``np.matmul(out=)``, the kernels write in place.
    """

    def __init__(self, Xa, yc, W, *, loss, reg, batch_size, momentum, nesterov,
                 intercept, shuffle, rng, schedule, lr, margin=1.0):
        n, d = Xa.shape
        c = W.shape[1]
        self.Xa, self.yc, self.W = Xa, yc, W
        self.n = n
        self.rng = rng
        self.shuffle = shuffle
        self.reg = float(reg)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.schedule, self.lr = schedule, float(lr) if schedule is None else None
        b = min(batch_size, n)
        self.order = np.arange(n, dtype=np.intp)
        self.perm = self.order.copy()
        self.Xb = np.empty((b, d), Xa.dtype) if shuffle else None
        self.yb = np.empty(b, np.int64) if shuffle else None
        self.S = np.empty((b, c), Xa.dtype)
        self.dW = np.empty_like(W)
        self.V = np.zeros_like(W) if self.momentum > 0 else None
        # the weights that are regularised and those that are not (the intercept row)
        dr = d - 1 if intercept else d
        self.parts = [(W[:dr].reshape(-1), self.dW[:dr].reshape(-1),
                       None if self.V is None else self.V[:dr].reshape(-1), 2.0 * self.reg)]
        if intercept:
            self.parts.append((W[dr:].reshape(-1), self.dW[dr:].reshape(-1),
                               None if self.V is None else self.V[dr:].reshape(-1), 0.0))
        self.W_reg = self.parts[0][0]
        if loss == "softmax":
            self.loss_fn, self.loss_options = softmax_cross_entropy, {}
        else:
            self.loss_fn, self.loss_options = multiclass_hinge, {"margin": float(margin)}
        # every batch's views, made once (the permutation is shuffled in place);
        # without shuffling a batch is a slice of the data itself: nothing to gather
        self.batches = []
        for start in range(0, n, b):
            stop = min(start + b, n)
            m = stop - start
            if shuffle:
                Xb, yb, gather = self.Xb[:m], self.yb[:m], True
            else:
                Xb, yb, gather = Xa[start:stop], yc[start:stop], False
            self.batches.append((gather, self.perm[start:stop], Xb, Xb.T, yb, self.S[:m]))
        self.steps = 0

    @property
    def steps_per_epoch(self):
        return len(self.batches)

    def step(self, k):
        """Mini-batch ``k`` of the current epoch; returns its loss (before the update)."""
        gather, idx, Xb, XbT, yb, S = self.batches[k]
        if gather:
            np.take(self.Xa, idx, axis=0, out=Xb, mode="clip")  # indices are valid: clip never clips
            np.take(self.yc, idx, out=yb, mode="clip")
        np.matmul(Xb, self.W, out=S)
        loss = self.loss_fn(S, yb, out=S, **self.loss_options)[0]
        np.matmul(XbT, S, out=self.dW)
        if self.reg != 0.0:
            loss += self.reg * _dispatch.kernels.sum_squares(self.W_reg)
        lr = self.lr if self.schedule is None else self.schedule(self.steps)
        first = self.steps == 0
        for p, g, vel, wd in self.parts:
            _dispatch.kernels.sgd_update(p, g, velocity=vel, lr=lr, momentum=self.momentum,
                                         weight_decay=wd, nesterov=self.nesterov, first_step=first)
        self.steps += 1
        return loss

    def epoch(self, history, offset):
        """One pass over the data; writes each step's loss into ``history[offset:]``."""
        if self.shuffle:
            # each epoch's order depends only on the generator's state, so
            # partial_fit epoch by epoch equals fit
            np.copyto(self.perm, self.order)
            self.rng.shuffle(self.perm)
        for k in range(len(self.batches)):
            history[offset + k] = self.step(k)
