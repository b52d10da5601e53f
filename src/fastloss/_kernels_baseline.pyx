# cython: language_level=3
# The kernels built for the baseline instruction set (flags in setup.py).
include "kernels/kernels.pxi"
