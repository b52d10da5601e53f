"""What fastloss is and how it was built: ``fl.show_config()`` and ``python -m fastloss info``."""

from __future__ import annotations

import platform
import sys
from typing import Any, Literal

import numpy as np

from . import _dispatch, _threads
from ._version import __version__

_ISA_LEVEL = {"baseline": "x86-64 baseline (SSE2)", "avx2": "x86-64-v3 (AVX2, FMA)",
              "avx512": "x86-64-v4 (AVX-512)"}


def config() -> dict[str, Any]:
    """The facts show_config prints, as a dict."""
    build = _dispatch.kernels.build_info()
    return {
        "fastloss": __version__,
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "platform": f"{platform.system()} {platform.machine()}",
        "numpy": np.__version__,
        "kernel_isa": _dispatch.isa,
        "kernel_isa_level": _ISA_LEVEL.get(_dispatch.isa, _dispatch.isa),
        "kernel_isa_chosen_by": "FASTLOSS_ISA" if _dispatch.forced else "CPU detection at import",
        "usable_isas": list(_dispatch.available_isas()),
        "compiler": build["compiler"],
        "cflags": build["cflags"],
        "vector_bits": build["vector_bits"],
        "openmp": build["openmp"],
        "threads": _threads.get_num_threads(),
        "debug_checks": build["debug_checks"],
    }


def show_config(mode: Literal["stdout", "dicts"] = "stdout") -> dict[str, Any] | None:
    """Print (or return) the version, build and run-time configuration of fastloss.

    Parameters
    ----------
    mode : {"stdout", "dicts"}
        ``"stdout"`` prints a report; ``"dicts"`` returns it as a dict.

    The report names the kernel build in use (the instruction set picked at
    import, or forced by ``FASTLOSS_ISA``), the builds this CPU could run, the
    compiler and flags the kernels were built with, whether they were built with
    OpenMP, and how many threads a large enough call uses (``fl.get_num_threads()``).
    """
    info = config()
    if mode == "dicts":
        return info
    if mode != "stdout":
        raise ValueError(f"mode must be 'stdout' or 'dicts', got {mode!r}")
    lines = [
        f"fastloss {info['fastloss']}",
        f"  python        {info['python']} on {info['platform']}",
        f"  numpy         {info['numpy']}",
        f"  kernels       {info['kernel_isa']}: {info['kernel_isa_level']}, "
        f"{info['vector_bits']}-bit vectors ({info['kernel_isa_chosen_by']})",
        f"  usable here   {', '.join(info['usable_isas'])}",
        f"  compiler      {info['compiler']}",
        f"  flags         {info['cflags']}",
        f"  OpenMP        {'on' if info['openmp'] else 'off'}, threads: {info['threads']}",
        f"  debug checks  {'on' if info['debug_checks'] else 'off'}",
    ]
    print("\n".join(lines), file=sys.stdout)
    return None
