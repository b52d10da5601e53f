# The avx512 build of the kernels has the same functions as every other build
# (one source, kernels/kernels.pxi, compiled per instruction set); its stub is theirs.
from fastloss._kernels_baseline import *
