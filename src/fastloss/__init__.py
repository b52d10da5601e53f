"""fastloss: fused loss + gradient kernels and in-place optimizer steps.

The multiclass SVM (hinge) loss, the softmax and its cross-entropy, the binary
hinge and the sigmoid cross-entropy, the distance-based (regression) losses,
computed with their gradient in one fused pass over contiguous NumPy arrays by
typed Cython kernels; SGD, Adam/AdamW, RMSprop and Adagrad steps in one pass,
in place; ``fastloss.reference`` holds a plain NumPy twin of each.

>>> import numpy as np, fastloss as fl
>>> loss, grad = fl.softmax_cross_entropy(np.zeros((4, 3)), [0, 1, 2, 0])
>>> round(loss, 6)
1.098612
"""

from __future__ import annotations

from . import _dispatch
from ._config import show_config
from ._threads import get_num_threads, set_num_threads, threads
from ._version import __version__
from .adaptive import Adagrad, Adam, AdamW, RMSprop, adagrad_update, adam_update, rmsprop_update
from .binary import binary_hinge, sigmoid, sigmoid_cross_entropy
from .distance import absolute_error, huber, smooth_l1, squared_error
from .losses import log_softmax, multiclass_hinge, softmax, softmax_cross_entropy
from .classifier import LinearClassifier, NotFittedError
from .linear import gradcheck, softmax_loss, svm_loss
from .optim import (SGD, ConstantLR, CosineLR, InverseScalingLR, InverseTimeLR, LRSchedule, StepLR,
                    sgd_update)

__all__ = [
    # the losses (losses.py, binary.py, distance.py)
    "softmax_cross_entropy", "multiclass_hinge", "softmax", "log_softmax",
    "binary_hinge", "sigmoid_cross_entropy", "sigmoid",
    "squared_error", "absolute_error", "huber", "smooth_l1",
    # optimisation (optim.py, adaptive.py, linear.py) and the classifier (classifier.py)
    "sgd_update", "SGD", "LRSchedule", "ConstantLR", "StepLR", "InverseScalingLR", "InverseTimeLR",
    "CosineLR",
    "adam_update", "rmsprop_update", "adagrad_update", "Adam", "AdamW", "RMSprop", "Adagrad",
    "svm_loss", "softmax_loss", "gradcheck", "LinearClassifier", "NotFittedError",
    # the build and its threads
    "__version__", "kernel_isa", "show_config", "get_num_threads", "set_num_threads", "threads",
]


def kernel_isa() -> str:
    """The instruction set of the kernel build in use: "avx512", "avx2" or "baseline".

    Chosen at import as the fastest build the CPU supports; the environment
    variable ``FASTLOSS_ISA`` forces one.
    """
    return _dispatch.isa
