"""fastloss.binary_hinge against its NumPy reference and the np.copyto floor, N = 1e6.

Defaults: margin=1, not squared, reduction="mean", no weights, gradient
included; labels ±1 (int64).  Each group is one dtype; see conftest.py.
"""

import functools

import numpy as np
import pytest

import fastloss
from fastloss import reference

FUNCTION = "binary_hinge"

IMPLS = {
    "fastloss": lambda s, y, out: functools.partial(fastloss.binary_hinge, s, y, out=out),
    "reference": lambda s, y, out: functools.partial(reference.binary_hinge, s, y),
    "floor_np.copyto": lambda s, y, out: functools.partial(np.copyto, out, s),
}


@pytest.mark.benchmark(min_rounds=10, max_time=0.5, warmup=True, disable_gc=True)
@pytest.mark.parametrize("impl", list(IMPLS))
def test_binary_hinge(benchmark, binary_case, impl):
    s, y01, out = binary_case
    y = 2 * y01 - 1
    benchmark.group = f"{FUNCTION} {s.dtype.name} ({s.shape[0]},)"
    benchmark.extra_info.update(function=FUNCTION, impl=impl, dtype=s.dtype.name, shape=list(s.shape),
                                kernel_isa=fastloss.kernel_isa())
    benchmark(IMPLS[impl](s, y, out))
