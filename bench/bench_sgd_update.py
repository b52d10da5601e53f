"""fastloss.sgd_update with momentum against NumPy's three-liner and torch.optim.SGD(fused=True).

One group per (dtype, size).  Each implementation does one momentum step
(μ = 0.9, lr = 0.01) on its own param / velocity buffers:

* ``fastloss``: ``fl.sgd_update(w, g, lr=lr, momentum=mu, velocity=v)`` (one pass);
* ``numpy``: ``v *= mu; v -= lr * g; w += v`` (CS231n's momentum update, three
  passes and a temporary);
* ``reference``: :func:`fastloss.reference.sgd_update` (torch's rule in NumPy);
* ``torch_fused``: ``torch.optim.SGD([w], lr, momentum=mu, fused=True).step()``
  on one thread, when torch is installed.

The update is a contraction towards the same fixed point for all of them, so
the values stay bounded however many rounds are run.
"""

import numpy as np
import pytest

import fastloss as fl
from fastloss import reference

SIZES = (100_000, 1_000_000, 10_000_000)
LR, MU = 0.01, 0.9
_SETTINGS = dict(min_rounds=10, max_time=0.5, min_time=2e-4, warmup=True, warmup_iterations=5,
                 disable_gc=True)


def _arrays(n, dtype):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    return w, g, np.zeros_like(w)


def _numpy_step(w, g, v):
    v *= MU
    v -= LR * g
    w += v


IMPLS = ("fastloss", "numpy", "reference", "torch_fused")


@pytest.mark.benchmark(**_SETTINGS)
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"{n:.0e}")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sgd_update(benchmark, dtype, n, impl):
    w, g, v = _arrays(n, dtype)
    if impl == "fastloss":
        def fn():
            fl.sgd_update(w, g, lr=LR, momentum=MU, velocity=v)
    elif impl == "numpy":
        def fn():
            _numpy_step(w, g, v)
    elif impl == "reference":
        def fn():
            reference.sgd_update(w, g, lr=LR, momentum=MU, velocity=v)
    else:
        torch = pytest.importorskip("torch")
        torch.set_num_threads(1)
        tw = torch.from_numpy(w).requires_grad_()
        tw.grad = torch.from_numpy(g)
        opt = torch.optim.SGD([tw], lr=LR, momentum=MU, fused=True)
        fn = opt.step
    benchmark.group = f"sgd_update momentum {dtype} {n:.0e}"
    benchmark.extra_info.update(function="sgd_update", impl=impl, dtype=dtype, size=n,
                                kernel_isa=fl.kernel_isa())
    benchmark(fn)
