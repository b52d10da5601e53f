"""fastloss.multiclass_hinge against its NumPy reference and the np.copyto floor.

Defaults: margin=1, not squared, reduction="mean", no weights, gradient
included.  Each group is one (dtype, shape); see conftest.py.
"""

import functools

import numpy as np
import pytest

import fastloss
from fastloss import reference

FUNCTION = "multiclass_hinge"

IMPLS = {
    # loss + gradient, the gradient written into a preallocated buffer
    "fastloss": lambda c: functools.partial(fastloss.multiclass_hinge, c.scores, c.y, out=c.out),
    # loss + gradient, allocating, as a user would call it
    "reference": lambda c: functools.partial(reference.multiclass_hinge, c.scores, c.y),
    # read every element once, write every element once
    "floor_np.copyto": lambda c: functools.partial(np.copyto, c.out, c.scores),
}


@pytest.mark.parametrize("impl", list(IMPLS))
def test_multiclass_hinge(bench, case, impl):
    bench(FUNCTION, impl, IMPLS[impl](case))


CS_IMPLS = {
    "fastloss": lambda c: functools.partial(
        fastloss.multiclass_hinge, c.scores, c.y, out=c.out, variant="crammer_singer"),
    "reference": lambda c: functools.partial(reference.multiclass_hinge, c.scores, c.y, variant="crammer_singer"),
    "floor_np.copyto": lambda c: functools.partial(np.copyto, c.out, c.scores),
}


@pytest.mark.parametrize("impl", list(CS_IMPLS))
def test_multiclass_hinge_crammer_singer(bench, case, impl):
    bench(FUNCTION + "[crammer_singer]", impl, CS_IMPLS[impl](case))
