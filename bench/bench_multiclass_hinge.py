"""fastloss.multiclass_hinge against its NumPy reference, torch, JAX and the np.copyto floor.

Defaults: margin=1, not squared, reduction="mean", no weights, gradient
included; torch is ``C * F.multi_margin_loss`` (the same loss).  The target
shapes, float32 and float64, 1 and 2 threads; Crammer–Singer (no torch peer)
on the smaller shapes, one thread.  Each group is one case; see conftest.py.
"""

import pytest

from conftest import SHAPES, TARGET_SHAPES, cases


@pytest.mark.parametrize("problem,impl", cases("multiclass_hinge", TARGET_SHAPES))
def test_multiclass_hinge(bench, problem, impl):
    bench(problem, impl)


@pytest.mark.parametrize("problem,impl", cases("multiclass_hinge[crammer_singer]", SHAPES, threads=(1,)))
def test_multiclass_hinge_crammer_singer(bench, problem, impl):
    bench(problem, impl)
