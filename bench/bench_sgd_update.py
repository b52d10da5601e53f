"""fastloss.sgd_update with momentum against NumPy, its reference, torch.optim.SGD(fused=True) and np.copyto.

One group per (dtype, size, threads).  Each implementation does one momentum
step (μ = 0.9, lr = 0.01) on its own param / velocity buffers:

* ``fastloss``: ``fl.sgd_update(w, g, lr=lr, momentum=mu, velocity=v)`` (one pass);
* ``numpy``: ``v *= mu; v -= lr * g; w += v`` (CS231n's momentum update, three
  passes and a temporary);
* ``reference``: :func:`fastloss.reference.sgd_update` (torch's rule in NumPy);
* ``torch``: ``torch.optim.SGD([w], lr, momentum=mu, fused=True).step()``, the
  gradient set once beforehand, when torch is installed;
* ``floor_np.copyto``: copying the parameters once.

With a constant gradient each velocity settles (at g / (1 - μ) with torch's
rule, -lr·g / (1 - μ) with the NumPy step) and the parameters drift linearly, so the values stay finite (and normal) however
many rounds are run.
"""

import functools

import numpy as np
import pytest

from conftest import cases
from fastloss._bench import peers as _peers
from fastloss._bench.timing import SGD_SIZES as SIZES


def _numpy_step(w, g, v):
    v *= _peers.SGD_MOMENTUM
    v -= _peers.SGD_LR * g
    w += v


def _numpy(problem):
    w, g = problem.inputs
    return functools.partial(_numpy_step, w.copy(), g, np.zeros_like(w))


@pytest.mark.parametrize("problem,impl", cases("sgd_update", [(n,) for n in SIZES], extra_impls=["numpy"]))
def test_sgd_update(bench, problem, impl):
    bench(problem, impl, _numpy(problem) if impl == "numpy" else None)
