"""fastloss: fused loss + gradient kernels and the SGD step for linear classifiers.

The multiclass SVM (hinge) loss, the softmax and its cross-entropy, the binary
hinge and the sigmoid cross-entropy, computed
with their gradient in one fused pass over contiguous NumPy arrays by typed
Cython kernels; ``fastloss.reference`` holds a plain NumPy twin of each.

>>> import numpy as np, fastloss as fl
>>> loss, grad = fl.softmax_cross_entropy(np.zeros((4, 3)), [0, 1, 2, 0])
>>> round(loss, 6)
1.098612
"""

from __future__ import annotations

from ._config import show_config
from ._dispatch import isa as _isa
from ._threads import get_num_threads, set_num_threads, threads
from ._version import __version__
from .binary import binary_hinge, sigmoid, sigmoid_cross_entropy
from .losses import log_softmax, multiclass_hinge, softmax, softmax_cross_entropy
from .classifier import LinearClassifier, NotFittedError
from .linear import gradcheck, softmax_loss, svm_loss
from .optim import SGD, ConstantLR, CosineLR, InverseScalingLR, LRSchedule, StepLR, sgd_update

__all__ = [
    "SGD",
    "ConstantLR",
    "CosineLR",
    "InverseScalingLR",
    "LRSchedule",
    "LinearClassifier",
    "NotFittedError",
    "StepLR",
    "__version__",
    "binary_hinge",
    "get_num_threads",
    "gradcheck",
    "kernel_isa",
    "log_softmax",
    "show_config",
    "multiclass_hinge",
    "sigmoid",
    "sigmoid_cross_entropy",
    "set_num_threads",
    "sgd_update",
    "softmax",
    "softmax_cross_entropy",
    "softmax_loss",
    "svm_loss",
    "threads",
]


def kernel_isa() -> str:
    """The instruction set of the kernel build in use: "avx512", "avx2" or "baseline".

    Chosen at import as the fastest build the CPU supports; the environment
    variable ``FASTLOSS_ISA`` forces one.
    """
    return _isa
