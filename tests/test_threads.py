"""OpenMP threads: fl.set_num_threads / get_num_threads / threads, OMP_NUM_THREADS,
threadpoolctl, and kernels whose per-row results do not depend on the thread count."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastloss as fl
import fastloss._dispatch as dispatch
import fastloss._threads as _threads

OPENMP = bool(dispatch.kernels.build_info()["openmp"])
needs_openmp = pytest.mark.skipif(not OPENMP, reason="kernels built without OpenMP")


@pytest.fixture(autouse=True)
def _default_threads():
    fl.set_num_threads(None)
    yield
    fl.set_num_threads(None)


# ---- the API -------------------------------------------------------------------------

def test_default_is_openmps_max_threads():
    expected = dispatch.kernels.omp_max_threads() if OPENMP else 1
    assert fl.get_num_threads() == expected >= 1


@needs_openmp
def test_set_and_restore():
    fl.set_num_threads(3)
    assert fl.get_num_threads() == 3
    fl.set_num_threads(np.int64(2))
    assert fl.get_num_threads() == 2
    fl.set_num_threads(None)
    assert fl.get_num_threads() == dispatch.kernels.omp_max_threads()
    fl.set_num_threads(5)
    fl.set_num_threads(0)
    assert fl.get_num_threads() == dispatch.kernels.omp_max_threads()


@needs_openmp
def test_context_manager_restores_the_previous_setting_even_on_error():
    fl.set_num_threads(3)
    with fl.threads(1):
        assert fl.get_num_threads() == 1
        with fl.threads(2):
            assert fl.get_num_threads() == 2
        assert fl.get_num_threads() == 1
    assert fl.get_num_threads() == 3
    with pytest.raises(RuntimeError):
        with fl.threads(2):
            raise RuntimeError
    assert fl.get_num_threads() == 3
    with fl.threads(None):
        assert fl.get_num_threads() == dispatch.kernels.omp_max_threads()
    assert fl.get_num_threads() == 3


def test_without_openmp_always_one_thread(monkeypatch):
    monkeypatch.setattr(_threads, "_OPENMP", False)
    fl.set_num_threads(4)
    assert fl.get_num_threads() == 1
    assert _threads.for_size(10**9) == 1


@pytest.mark.parametrize("bad", [-1, -8])
def test_negative_is_a_value_error(bad):
    fl.set_num_threads(2)
    with pytest.raises(ValueError, match="n must be >= 1"):
        fl.set_num_threads(bad)
    with pytest.raises(ValueError, match="n must be >= 1"):
        with fl.threads(bad):
            pass
    assert _threads._requested == 2


@pytest.mark.parametrize("bad", [1.5, "2", True, [2]])
def test_non_integer_is_a_type_error(bad):
    with pytest.raises(TypeError, match="positive int or None"):
        fl.set_num_threads(bad)
    assert _threads._requested is None


@needs_openmp
def test_small_problems_stay_on_one_thread():
    fl.set_num_threads(2)
    assert _threads.for_size(_threads.PARALLEL_MIN_ELEMENTS - 1) == 1
    assert _threads.for_size(_threads.PARALLEL_MIN_ELEMENTS) == 2


def _run(code, **env):
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True, env=full_env).stdout.strip()


@needs_openmp
@pytest.mark.parametrize("n", ["1", "3"])
def test_omp_num_threads_is_respected(n):
    assert _run("import fastloss as fl; print(fl.get_num_threads())", OMP_NUM_THREADS=n) == n


@needs_openmp
def test_threadpoolctl_limits_fastloss():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    fl.set_num_threads(None)
    with threadpoolctl.threadpool_limits(limits=1):
        assert fl.get_num_threads() == 1
    with threadpoolctl.threadpool_limits(limits=3, user_api="openmp"):
        assert fl.get_num_threads() == 3
    # an explicit fastloss setting takes precedence
    with fl.threads(2), threadpoolctl.threadpool_limits(limits=1):
        assert fl.get_num_threads() == 2


def test_show_config_reports_openmp_and_threads(capsys):
    info = fl.show_config(mode="dicts")
    assert info["openmp"] is OPENMP
    assert info["openmp"] == ("-fopenmp" in info["cflags"].split())
    assert info["threads"] == fl.get_num_threads()
    fl.show_config()
    out = capsys.readouterr().out
    assert f"OpenMP        {'on' if OPENMP else 'off'}, threads: {fl.get_num_threads()}" in out


@needs_openmp
def test_cli_info_reports_threads_from_omp_num_threads():
    info = json.loads(_run("import runpy, sys; sys.argv = ['fastloss', 'info', '--json']; "
                           "runpy.run_module('fastloss', run_name='__main__')",
                           OMP_NUM_THREADS="3"))
    assert info["openmp"] is True
    assert info["threads"] == 3
