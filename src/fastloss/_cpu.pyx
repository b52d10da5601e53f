# cython: language_level=3
"""What the running CPU can execute: the facts _dispatch.py picks a kernel build by."""

cdef extern from "_cpu.h":
    int fl_cpu_has_x86_64_v3() noexcept nogil
    int fl_cpu_has_x86_64_v4() noexcept nogil


def has_x86_64_v3() -> bool:
    """True when the CPU and OS support x86-64-v3 (AVX2, FMA, BMI1/2, F16C)."""
    return bool(fl_cpu_has_x86_64_v3())


def has_x86_64_v4() -> bool:
    """True when the CPU and OS support x86-64-v4 (AVX-512 F/BW/CD/DQ/VL)."""
    return bool(fl_cpu_has_x86_64_v4())
