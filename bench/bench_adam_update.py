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
"""

import pytest

from conftest import cases
from fastloss._bench.timing import SGD_SIZES as SIZES


@pytest.mark.parametrize("problem,impl", cases("adam_update", [(n,) for n in SIZES]))
def test_adam_update(bench, problem, impl):
    bench(problem, impl)
