"""The distance-based losses (squared_error, absolute_error, huber, smooth_l1) against
their NumPy twins, torch.nn.functional and np.copyto.

One group per (function, dtype, shape, threads), the shapes of the issue: N = 1e4,
1e6 and (N, K) = (4096, 100).  Each implementation computes the mean loss and its
gradient with respect to ``pred``:

* ``fastloss``: the public function, the gradient into a preallocated ``out=``;
* ``reference``: its twin in :mod:`fastloss.reference` (allocating);
* ``torch``: ``F.mse_loss`` / ``l1_loss`` / ``huber_loss`` / ``smooth_l1_loss``,
  forward and ``backward()`` (the gradient allocated per call), when installed;
* ``floor_np.copyto``: copying ``pred`` once into a preallocated array.
"""

import pytest

from conftest import cases
from fastloss._bench.timing import DISTANCE_SHAPES


_CASES = [pytest.param(*p.values, id=f"{function}-{p.id}", marks=p.marks)
          for function in ("squared_error", "absolute_error", "huber", "smooth_l1")
          for p in cases(function, DISTANCE_SHAPES)]


@pytest.mark.parametrize("problem,impl", _CASES)
def test_distance(bench, problem, impl):
    bench(problem, impl)
