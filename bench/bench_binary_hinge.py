"""fastloss.binary_hinge against its NumPy reference, JAX and the np.copyto floor, N = 1e6.

Defaults: margin=1, not squared, reduction="mean", no weights, gradient
included; labels ±1 (int64).  torch and scikit-learn have no such loss.
float32 and float64, 1 and 2 threads; each group is one case (see conftest.py).
"""

import pytest

from conftest import BINARY_N, cases


@pytest.mark.parametrize("problem,impl", cases("binary_hinge", [(BINARY_N,)]))
def test_binary_hinge(bench, problem, impl):
    bench(problem, impl)
