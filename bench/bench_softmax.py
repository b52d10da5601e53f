"""fastloss.softmax and fastloss.log_softmax against their NumPy references and np.exp.

Each group is one (function, dtype, shape); see conftest.py.  The np.exp
floor is the same benchmark in the softmax and the log_softmax groups, so
that each group is readable on its own.
"""

import functools

import numpy as np
import pytest

import fastloss
from fastloss import reference

FUNCTIONS = ("softmax", "log_softmax")


def _impls(function):
    return {
        # written into a preallocated buffer
        "fastloss": lambda c: functools.partial(getattr(fastloss, function), c.scores, out=c.out),
        # allocating, as a user would call it
        "reference": lambda c: functools.partial(getattr(reference, function), c.scores),
        # one exp per element into a preallocated buffer
        "floor_np.exp": lambda c: functools.partial(np.exp, c.scores, out=c.out),
    }


IMPLS = {f: _impls(f) for f in FUNCTIONS}


@pytest.mark.parametrize("impl", list(IMPLS["softmax"]))
@pytest.mark.parametrize("function", FUNCTIONS)
def test_softmax(bench, case, function, impl):
    bench(function, impl, IMPLS[function][impl](case))
