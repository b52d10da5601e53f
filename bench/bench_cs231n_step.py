"""One CS231n training step, fastloss against plain NumPy (float32, N=256, D=3073, C=10).

A step is: scores = X·W, the loss and d loss / d scores, dW = Xᵀ·dS + 2·reg·W,
and the update W -= lr·dW, for the softmax and the SVM loss.

* ``fastloss``: :func:`fastloss.softmax_loss` / :func:`fastloss.svm_loss` (one
  pass over X by the training engine's machinery: the scores, the loss's
  gradient and dW while a group of rows is in cache) and ``W -= lr * dW``.
* ``numpy``: :func:`fastloss.reference.softmax_loss` / ``svm_loss``
  (CS231n's vectorised losses: two BLAS products) and ``W -= lr * dW``.

Both use the same batch every step, so that only the step is timed (the
whole of training is in bench_training.py).  Run with
``OPENBLAS_NUM_THREADS=1`` for a single-thread comparison.
"""

import numpy as np
import pytest

import fastloss as fl
from fastloss import reference

N, D, C = 256, 3073, 10
LR, REG = 1e-7, 2.5e4
_SETTINGS = dict(min_rounds=30, max_time=1.0, min_time=2e-4, warmup=True, warmup_iterations=20,
                 disable_gc=True)


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D)).astype(np.float32) * 60
    X[:, -1] = 1
    y = rng.integers(0, C, N).astype(np.int64)
    W = (rng.standard_normal((D, C)) * 1e-4).astype(np.float32)
    return X, y, W


@pytest.mark.benchmark(**_SETTINGS)
@pytest.mark.parametrize("impl", ["fastloss", "numpy"])
@pytest.mark.parametrize("loss", ["softmax", "svm"])
def test_cs231n_step(benchmark, loss, impl):
    X, y, W = _data()
    module = fl if impl == "fastloss" else reference
    loss_fn = module.softmax_loss if loss == "softmax" else module.svm_loss

    def fn():
        value, dW = loss_fn(W, X, y, REG)
        W -= LR * dW
        return value
    benchmark.group = f"cs231n step {loss} float32 N={N} D={D} C={C}"
    benchmark.extra_info.update(function="cs231n_step", impl=impl, loss=loss,
                                kernel_isa=fl.kernel_isa())
    benchmark(fn)
