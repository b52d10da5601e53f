"""fastloss.adam_update against its NumPy twin, torch.optim.Adam(fused=True) and np.copyto.

One group per (dtype, size, threads).  Each implementation takes Adam steps
(lr = 1e-3, torch's default betas and eps, the step count growing by one per
call) on its own param / m / v buffers with a constant gradient:

* ``fastloss``: ``fl.adam_update(w, g, m, v, step=t, lr=lr)`` (one pass);
* ``reference``: :func:`fastloss.reference.adam_update` (torch's rule in NumPy);
* ``torch``: ``torch.optim.Adam([w], lr, fused=True).step()``, the gradient set
  once beforehand, when torch is installed;
* ``floor_np.copyto``: copying the parameters once.  The update moves 3.5 times
  those bytes (it reads param, grad, m, v and writes param, m, v), so the
  memory floor of the issue's target is 3.5 x this time.

Adam's step is at most about lr per element, so the parameters stay finite however
many rounds are run.

``test_adam_class_step`` times the optimiser classes on lists of parameters: ``fl.Adam.step``
(every array in one kernel call), ``adam_update`` called per array, and
``torch.optim.Adam`` with ``fused=True`` and ``foreach=True``.
"""

import functools
import itertools

import numpy as np
import pytest

import fastloss as fl
from conftest import cases
from fastloss._bench.timing import SGD_SIZES as SIZES


@pytest.mark.parametrize("problem,impl", cases("adam_update", [(n,) for n in SIZES]))
def test_adam_update(bench, problem, impl):
    bench(problem, impl)


# ---- the optimiser classes: every parameter in one step ---------------------------------------

#: Parameter lists: CS231n's linear classifier on CIFAR-10 (W, b) and ten arrays of 1e5.
PARAM_SETS = {"W3073x10+b10": [(3073, 10), (10,)], "10x1e5": [(100_000,)] * 10}


def _class_step(impl, shapes):
    """One Adam step over every array of ``shapes`` (float32, constant gradients)."""
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    if impl == "fastloss":
        return functools.partial(fl.Adam(params, 1e-3).step, grads)
    if impl == "fastloss_per_array":  # adam_update on each array, the state kept here
        m, v = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
        steps = itertools.count(1)

        def per_array():
            t = next(steps)
            for i, p in enumerate(params):
                fl.adam_update(p, grads[i], m[i], v[i], step=t, lr=1e-3)

        return per_array
    torch = pytest.importorskip("torch")
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    for t, g in zip(tensors, grads):
        t.grad = torch.tensor(g)
    kw = {"fused": True} if impl == "torch_fused" else {"foreach": True}
    return torch.optim.Adam(tensors, lr=1e-3, **kw).step


@pytest.mark.parametrize("impl", ["fastloss", "fastloss_per_array", "torch_fused", "torch_foreach"])
@pytest.mark.parametrize("params", list(PARAM_SETS))
def test_adam_class_step(benchmark, impl, params):
    """fl.Adam.step (one kernel call for every parameter) against torch.optim.Adam, one thread."""
    from fastloss._bench import peers as _peers

    with _peers.threads(1):
        fn = _class_step(impl, PARAM_SETS[params])
        benchmark.group = f"Adam.step float32 {params} threads=1"
        benchmark.extra_info.update(impl=impl, params=params, threads=1)
        benchmark.pedantic(fn, rounds=50, iterations=5, warmup_rounds=1)
