# cython: language_level=3
# The fused kernels built for the avx512 instruction set (flags in setup.py).
include "_kernels.pxi"
