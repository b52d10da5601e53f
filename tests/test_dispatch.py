"""Kernel builds per instruction set: discovery, selection, and agreement between builds."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastloss
import fastloss._dispatch as dispatch
import fastloss.losses as losses

AVAILABLE = dispatch.available_isas()
PACKAGE_PARENT = str(Path(fastloss.__file__).resolve().parent.parent)


def test_kernel_isa_is_available():
    assert fastloss.kernel_isa() in AVAILABLE
    assert fastloss.kernel_isa() in ("avx512", "avx2", "baseline")


def test_baseline_always_available():
    assert "baseline" in AVAILABLE


def test_available_isas_fastest_first():
    assert list(AVAILABLE) == [isa for isa in dispatch.ISA_ORDER if isa in AVAILABLE]
    assert len(set(AVAILABLE)) == len(AVAILABLE)


def test_default_selection_is_fastest_or_forced():
    forced = os.environ.get("FASTLOSS_ISA", "").strip().lower()
    assert fastloss.kernel_isa() == (forced or AVAILABLE[0])
    assert dispatch.kernels is dispatch.load(fastloss.kernel_isa())


@pytest.mark.parametrize("isa", AVAILABLE)
def test_load_returns_kernel_module(isa):
    module = dispatch.load(isa)
    assert module.__name__ == f"fastloss._kernels_{isa}"
    for fn in ("softmax", "log_softmax", "softmax_cross_entropy", "multiclass_hinge"):
        assert callable(getattr(module, fn))


def test_load_unknown_isa_fails():
    with pytest.raises(ImportError):
        dispatch.load("sse9000")


def _run_with_isa(value):
    env = dict(os.environ)
    env["FASTLOSS_ISA"] = value
    env["PYTHONPATH"] = PACKAGE_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-c", "import fastloss; print(fastloss.kernel_isa())"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("isa", AVAILABLE)
def test_fastloss_isa_env_forces_a_build(isa):
    proc = _run_with_isa(isa.upper())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == isa


def test_fastloss_isa_env_rejects_unknown_name():
    proc = _run_with_isa("avx9000")
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr and "FASTLOSS_ISA" in proc.stderr


def _problem(dtype, rng, n=301, c=1031):
    s = (rng.standard_normal((n, c)) * 4).astype(dtype)
    y = rng.integers(0, c, n)
    y[::7] = -1
    cw = rng.uniform(0.0, 2.0, c)
    sw = rng.uniform(0.0, 2.0, n)
    return s, y, cw, sw


def _results(isa, s, y, cw, sw):
    with dispatch.use(isa):
        return _results_here(s, y, cw, sw)


def _results_here(s, y, cw, sw):
    out = {"softmax": fastloss.softmax(s), "log_softmax": fastloss.log_softmax(s)}
    for red in ("none", "sum", "mean"):
        out[f"ce_{red}"] = fastloss.softmax_cross_entropy(
            s, y, reduction=red, class_weight=cw, sample_weight=sw, label_smoothing=0.1, ignore_index=-1
        )
        yy = np.where(y < 0, 0, y)
        for sq in (False, True):
            out[f"hinge_{red}_{sq}"] = fastloss.multiclass_hinge(
                s, yy, reduction=red, class_weight=cw, sample_weight=sw, margin=0.5, squared=sq
            )
    return out


def _flatten(result):
    if isinstance(result, tuple):
        return [np.asarray(r, dtype=np.float64) for r in result]
    return [np.asarray(result, dtype=np.float64)]


@pytest.mark.skipif(len(AVAILABLE) < 2, reason="only one kernel build runs on this CPU")
@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-6), (np.float64, 1e-12)], ids=["float32", "float64"])
def test_builds_agree(dtype, rtol, rng):
    s, y, cw, sw = _problem(dtype, rng)
    base = _results("baseline", s, y, cw, sw)
    for isa in AVAILABLE:
        if isa == "baseline":
            continue
        other = _results(isa, s, y, cw, sw)
        for key in base:
            for a, b in zip(_flatten(other[key]), _flatten(base[key])):
                np.testing.assert_allclose(
                    a, b, rtol=rtol, atol=rtol * max(1.0, np.abs(b).max()), err_msg=f"{isa} vs baseline: {key}"
                )


def test_import_loads_one_kernel_build_and_no_benchmark_module():
    """``import fastloss`` imports the build it uses and nothing of the benchmark tooling."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", "import sys, fastloss; "
         "print(' '.join(sorted(m for m in sys.modules if m.startswith('fastloss'))))"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout.split()
    assert [m for m in out if m.startswith("fastloss._kernels_")] == [
        f"fastloss._kernels_{fastloss.kernel_isa()}"
    ]
    assert not [m for m in out if m.startswith("fastloss._bench")]
    assert "fastloss.dask" not in out


@pytest.mark.parametrize("isa", AVAILABLE)
def test_use_routes_every_public_function_through_a_build(isa):
    before = fastloss.kernel_isa()
    with dispatch.use(isa) as module:
        assert fastloss.kernel_isa() == isa and dispatch.kernels is module
        assert module.__name__ == f"fastloss._kernels_{isa}"
        loss, _ = fastloss.softmax_cross_entropy(np.zeros((2, 3)), [0, 1])
        assert loss == pytest.approx(np.log(3))
    assert fastloss.kernel_isa() == before and dispatch.kernels is dispatch.load(before)
