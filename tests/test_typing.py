"""Static typing: the .pyi stubs of the compiled modules and the annotations of the API.

``fastloss`` ships ``py.typed``, stubs for its Cython modules (_cpu.pyi,
_threads.pyi and one _kernels_<isa>.pyi per kernel build) and annotations on every public function.
The first test runs ``mypy --strict`` over tests/typing_example.py, a small
program that calls every public function and class; the second runs
``mypy.stubtest`` to check that the stubs match the compiled modules.  Both look
at the fastloss this test session imported (the source tree with
PYTHONPATH=src after an in-place build, or an installed wheel): its parent
directory is put on the PYTHONPATH that mypy's interpreter query sees, so mypy
treats it as an installed package (errors inside it are not reported).  Skipped
without mypy (``pip install mypy``; it is in the ``test`` extra).
"""

import os
import pathlib
import subprocess
import sys

import pytest

import fastloss
import fastloss._dispatch as dispatch

mypy_api = pytest.importorskip("mypy.api")

EXAMPLE = pathlib.Path(__file__).with_name("typing_example.py")
#: Where the imported fastloss lives (src/ in a checkout, site-packages when installed).
PACKAGE_PARENT = str(pathlib.Path(fastloss.__file__).resolve().parent.parent)

# Cython adds a ``__test__`` dict (its doctest hook) to every compiled module, and
# ``__pyx_capi__`` (the C functions other modules cimport) to _threads: implementation
# details, deliberately left out of the stubs.
STUBTEST_ALLOWLIST = r"fastloss\._(cpu|threads|kernels_\w+)\.__test__|fastloss\._threads\.__pyx_capi__"


def _pythonpath():
    return os.pathsep.join(p for p in (PACKAGE_PARENT, os.environ.get("PYTHONPATH")) if p)


def test_mypy_strict_passes_on_example(tmp_path, monkeypatch):
    # mypy finds installed packages by asking this interpreter for its sys.path,
    # in a subprocess that inherits the environment
    monkeypatch.setenv("PYTHONPATH", _pythonpath())
    config = tmp_path / "mypy.ini"  # empty: no project settings may loosen --strict
    config.write_text("[mypy]\n")
    stdout, stderr, status = mypy_api.run([
        "--strict",
        "--config-file", str(config),
        "--python-executable", sys.executable,
        "--cache-dir", str(tmp_path / "mypy_cache"),
        "--show-error-codes",
        str(EXAMPLE),
    ])
    assert status == 0, f"mypy --strict {EXAMPLE.name} failed:\n{stdout}{stderr}"


def test_stubs_match_compiled_modules(tmp_path):
    allowlist = tmp_path / "stubtest_allowlist.txt"
    allowlist.write_text(STUBTEST_ALLOWLIST + "\n")
    # an empty configuration: stubtest must not pick up a project's mypy settings
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n")
    # only the kernel builds this CPU can import: an AVX-512 build may not load elsewhere
    modules = ["fastloss._cpu", "fastloss._threads"] + [
        f"fastloss._kernels_{isa}" for isa in dispatch.available_isas()
    ]
    env = dict(os.environ, PYTHONPATH=_pythonpath())
    proc = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "--allowlist", str(allowlist),
         "--mypy-config-file", str(config), *modules],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, f"stubtest {' '.join(modules)} failed:\n{proc.stdout}{proc.stderr}"


def test_every_kernel_build_has_the_same_functions():
    """The per-ISA stubs re-export the baseline's; stubtest above checks each module
    against it, and this checks the compiled builds expose the same functions."""
    names = {isa: {n for n in dir(dispatch.load(isa)) if not n.startswith("_")}
             for isa in dispatch.available_isas()}
    assert len({frozenset(v) for v in names.values()}) == 1, names
