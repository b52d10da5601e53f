"""fastloss.sigmoid_cross_entropy and fastloss.sigmoid against NumPy, torch, scikit-learn, JAX, N = 1e6.

Defaults: reduction="mean", no weights, gradient included; 0/1 int64 labels.
torch: ``F.binary_cross_entropy_with_logits`` forward and backward (and
``torch.sigmoid``); scikit-learn: ``HalfBinomialLoss`` (per-element losses
and gradients).  The floor is np.exp over the same array.  float32 and
float64, 1 and 2 threads for the loss; each group is one case (see conftest.py).
"""

import pytest

from conftest import BINARY_N, cases


@pytest.mark.parametrize("problem,impl", cases("sigmoid_cross_entropy", [(BINARY_N,)]) + cases("sigmoid", [(BINARY_N,)], threads=(1,)))
def test_sigmoid_cross_entropy(bench, problem, impl):
    bench(problem, impl)
