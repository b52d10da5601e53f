"""fastloss.softmax_cross_entropy against its NumPy reference and the np.exp floor.

Defaults: reduction="mean", no weights, no smoothing, gradient included.
Each group is one (dtype, shape); see conftest.py.
"""

import functools

import numpy as np
import pytest

import fastloss
from fastloss import reference

from conftest import soft_targets

FUNCTION = "softmax_cross_entropy"

IMPLS = {
    # loss + gradient, the gradient written into a preallocated buffer
    "fastloss": lambda c: functools.partial(fastloss.softmax_cross_entropy, c.scores, c.y, out=c.out),
    # loss + gradient, allocating, as a user would call it
    "reference": lambda c: functools.partial(reference.softmax_cross_entropy, c.scores, c.y),
    # one exp per element into a preallocated buffer
    "floor_np.exp": lambda c: functools.partial(np.exp, c.scores, out=c.out),
}


@pytest.mark.parametrize("impl", list(IMPLS))
def test_softmax_cross_entropy(bench, case, impl):
    bench(FUNCTION, impl, IMPLS[impl](case))


SOFT_IMPLS = {
    "fastloss": lambda c, t: functools.partial(fastloss.softmax_cross_entropy, c.scores, t, out=c.out),
    "reference": lambda c, t: functools.partial(reference.softmax_cross_entropy, c.scores, t),
    "floor_np.exp": lambda c, t: functools.partial(np.exp, c.scores, out=c.out),
}


@pytest.mark.parametrize("impl", list(SOFT_IMPLS))
def test_softmax_cross_entropy_soft_targets(bench, case, impl):
    t = soft_targets(case.scores.shape, case.scores.dtype.name)
    bench(FUNCTION + "[soft]", impl, SOFT_IMPLS[impl](case, t))
