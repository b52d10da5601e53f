"""fastloss.softmax and fastloss.log_softmax against their NumPy references, torch, JAX and np.exp.

Forward only (torch.softmax / log_softmax, jax.nn.softmax / log_softmax
jitted); one thread.  Each group is one (function, dtype, shape); see
conftest.py.  The np.exp floor is the same benchmark in the softmax and the
log_softmax groups, so that each group is readable on its own.
"""

import pytest

from conftest import SHAPES, cases


@pytest.mark.parametrize("problem,impl", cases("softmax", SHAPES, threads=(1,)) + cases("log_softmax", SHAPES, threads=(1,)))
def test_softmax(bench, problem, impl):
    bench(problem, impl)
