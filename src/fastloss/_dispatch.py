"""The one way to the kernels: the build for this CPU, picked once, at import.

setup.py compiles the kernels for several x86-64 instruction-set levels (see
its docstring).  ``kernels`` is the build in use -- the fastest one this CPU
and OS support, or the one the environment variable ``FASTLOSS_ISA``
(``baseline``, ``avx2`` or ``avx512``) names -- and the only one imported.
Asking for a build the CPU cannot run, or that was not built, is an error
rather than a crash.

Every wrapper (losses.py, binary.py, optim.py, linear.py, classifier.py,
dask.py) reaches the kernels as ``_dispatch.kernels.<entry>`` when it is
called, so :func:`use` routes every public function through another build:
the tests run each of them on every build this CPU can run.
"""

import contextlib
import importlib
import importlib.util
import os

from . import _cpu

#: Kernel builds from fastest to most portable.
ISA_ORDER = ("avx512", "avx2", "baseline")

_CPU_SUPPORTS = {
    "avx512": _cpu.has_x86_64_v4,
    "avx2": _cpu.has_x86_64_v3,
    "baseline": lambda: True,
}


def _module_name(isa):
    return f"fastloss._kernels_{isa}"


def available_isas():
    """The kernel builds that are installed and that this CPU can run, fastest first.

    Found without importing them.
    """
    return tuple(
        isa for isa in ISA_ORDER
        if _CPU_SUPPORTS[isa]() and importlib.util.find_spec(_module_name(isa)) is not None
    )


def load(isa):
    """Import and return the kernel build for ``isa`` (ImportError if there is none)."""
    if isa not in ISA_ORDER:
        raise ImportError(f"no kernel build {isa!r}: the builds are {', '.join(ISA_ORDER)}")
    return importlib.import_module(_module_name(isa))


def _select():
    forced = os.environ.get("FASTLOSS_ISA", "").strip().lower()
    usable = available_isas()
    if forced:
        if forced not in ISA_ORDER:
            raise ImportError(
                f"FASTLOSS_ISA must be one of {', '.join(ISA_ORDER)}; got {forced!r}"
            )
        if forced not in usable:
            raise ImportError(
                f"FASTLOSS_ISA={forced!r}: that kernel build is not installed or this CPU "
                f"cannot run it (usable here: {', '.join(usable)})"
            )
        return forced, load(forced)
    for candidate in usable:  # the fastest that imports
        try:
            return candidate, load(candidate)
        except ImportError:
            continue
    raise ImportError("no fastloss kernel build could be imported: reinstall fastloss")


#: Name of the kernel build in use: "avx512", "avx2" or "baseline".
#: The kernel module in use.
isa, kernels = _select()
#: Whether FASTLOSS_ISA chose it (read once, at import, like the choice itself).
forced = bool(os.environ.get("FASTLOSS_ISA", "").strip())


@contextlib.contextmanager
def use(name):
    """Inside the block, every public function runs on the kernel build ``name``.

    For the tests and benchmarks; not thread-safe (it swaps a module global).
    """
    global isa, kernels
    module = load(name)
    previous = isa, kernels
    isa, kernels = name, module
    try:
        yield module
    finally:
        isa, kernels = previous
