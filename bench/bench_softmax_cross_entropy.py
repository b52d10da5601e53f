"""fastloss.softmax_cross_entropy against its NumPy reference, torch, scikit-learn, JAX and np.exp.

Defaults: reduction="mean", no weights, no smoothing, gradient included
(scikit-learn's HalfMultinomialLoss gives the per-row losses and gradients:
see fastloss._bench.peers).  The target shapes, float32 and float64, 1 and 2
threads; soft targets on the smaller shapes, one thread.  Each group is one
case; see conftest.py.
"""

import pytest

from conftest import SHAPES, TARGET_SHAPES, cases


@pytest.mark.parametrize("problem,impl", cases("softmax_cross_entropy", TARGET_SHAPES))
def test_softmax_cross_entropy(bench, problem, impl):
    bench(problem, impl)


@pytest.mark.parametrize("problem,impl", cases("softmax_cross_entropy[soft]", SHAPES, threads=(1,)))
def test_softmax_cross_entropy_soft_targets(bench, problem, impl):
    bench(problem, impl)
