"""Shared fixtures for the fastloss test suite.

Fixtures
--------
rng       a fresh, seeded numpy Generator per test
dtype     parametrised over float32 and float64
isa       parametrised over every kernel build this CPU can run; while the test
          runs, every public function runs on that build (``_dispatch.use``)
tol       tol(dtype) -> dict(rtol=..., atol=...) for kernel-vs-reference checks
assert_close
          assert_close(actual, expected, dtype, scale=None): elementwise
          |a - e| <= rtol*|e| + rtol*scale (scale defaults to max|e|, at least 1e-30),
          NaN/inf must match position and sign exactly
"""

import numpy as np
import pytest

import fastloss
import fastloss._dispatch as dispatch

AVAILABLE_ISAS = dispatch.available_isas()
FLOAT_DTYPES = (np.float32, np.float64)

# Relative tolerance of a kernel result against the NumPy reference computed
# in the same dtype.  The kernels accumulate in double, the reference in the
# dtype of scores, so float32 differs by a few float32 ulps per operation.
_RTOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-10}


@pytest.fixture
def rng():
    return np.random.default_rng(20240531)


@pytest.fixture(params=FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param


@pytest.fixture(params=AVAILABLE_ISAS)
def isa(request):
    """Route the public API through one instruction-set build of the kernels."""
    with dispatch.use(request.param):
        yield request.param


def _tol(dtype):
    rtol = _RTOL[np.dtype(dtype)]
    return {"rtol": rtol, "atol": rtol}


@pytest.fixture
def tol():
    return _tol


def _assert_close(actual, expected, dtype, scale=None, rtol=None):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if rtol is None:
        rtol = _RTOL[np.dtype(dtype)]
    finite = np.isfinite(expected)
    # Non-finite values must agree exactly (same NaN / same signed inf).
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_array_equal(actual[np.isinf(expected)], expected[np.isinf(expected)])
    if scale is None:
        scale = float(np.max(np.abs(expected[finite]), initial=0.0))
    scale = max(scale, 1e-30)
    np.testing.assert_allclose(
        actual[finite], expected[finite], rtol=rtol, atol=rtol * scale
    )


@pytest.fixture
def assert_close():
    return _assert_close


def pytest_report_header(config):
    return (
        f"fastloss {fastloss.__version__}: kernel_isa={fastloss.kernel_isa()}, "
        f"available_isas={AVAILABLE_ISAS}"
    )
