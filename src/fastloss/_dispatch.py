"""Pick the kernel build for this CPU, once, at import.

setup.py compiles the kernels for several x86-64 instruction-set levels (see
its docstring).  ``kernels`` is the fastest build this CPU and OS support.  The
environment variable ``FASTLOSS_ISA`` (``baseline``, ``avx2`` or ``avx512``)
forces a build, for testing and benchmarking each path; asking for one the CPU
cannot run, or that was not built, is an error rather than a crash.
"""

import importlib
import os
import sys

from . import _cpu

#: Kernel builds from fastest to most portable.
ISA_ORDER = ("avx512", "avx2", "baseline")

_CPU_SUPPORTS = {
    "avx512": _cpu.has_x86_64_v4,
    "avx2": _cpu.has_x86_64_v3,
    "baseline": lambda: True,
}


def load(isa):
    """Import and return the kernel module built for ``isa``.

    A build first imported after fastloss._threads gets its thread policy.
    """
    module = importlib.import_module(f"fastloss._kernels_{isa}")
    if module not in loaded:
        loaded.append(module)
        threads = sys.modules.get("fastloss._threads")
        if threads is not None:
            threads._push()
    return module


#: Every kernel build imported so far (fastloss._threads tells each its thread policy).
loaded = []


def available_isas():
    """The kernel builds that are installed and that this CPU can run, fastest first."""
    found = []
    for isa in ISA_ORDER:
        if not _CPU_SUPPORTS[isa]():
            continue
        try:
            load(isa)
        except ImportError:
            continue
        found.append(isa)
    return tuple(found)


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
        return forced
    return usable[0]


#: Name of the kernel build in use: "avx512", "avx2" or "baseline".
isa = _select()
#: Whether FASTLOSS_ISA chose it (read once, at import, like the choice itself).
forced = bool(os.environ.get("FASTLOSS_ISA", "").strip())
#: The kernel module in use.
kernels = load(isa)
