"""fastloss.sigmoid_cross_entropy and fastloss.sigmoid against their NumPy references, N = 1e6.

Defaults: reduction="mean", no weights, gradient included; 0/1 int64 labels.
The floor is np.exp over the same array.  Each group is one (function, dtype).
"""

import functools

import numpy as np
import pytest

import fastloss
from fastloss import reference

IMPLS = {
    "sigmoid_cross_entropy": {
        "fastloss": lambda s, y, out: functools.partial(fastloss.sigmoid_cross_entropy, s, y, out=out),
        "reference": lambda s, y, out: functools.partial(reference.sigmoid_cross_entropy, s, y),
        "floor_np.exp": lambda s, y, out: functools.partial(np.exp, s, out=out),
    },
    "sigmoid": {
        "fastloss": lambda s, y, out: functools.partial(fastloss.sigmoid, s, out=out),
        "reference": lambda s, y, out: functools.partial(reference.sigmoid, s),
        "floor_np.exp": lambda s, y, out: functools.partial(np.exp, s, out=out),
    },
}
CASES = [(f, impl) for f in IMPLS for impl in IMPLS[f]]


@pytest.mark.benchmark(min_rounds=10, max_time=0.5, warmup=True, disable_gc=True)
@pytest.mark.parametrize("function,impl", CASES, ids=[f"{f}-{i}" for f, i in CASES])
def test_sigmoid_cross_entropy(benchmark, binary_case, function, impl):
    s, y, out = binary_case
    benchmark.group = f"{function} {s.dtype.name} ({s.shape[0]},)"
    benchmark.extra_info.update(function=function, impl=impl, dtype=s.dtype.name, shape=list(s.shape),
                                kernel_isa=fastloss.kernel_isa())
    benchmark(IMPLS[function][impl](s, y, out))
