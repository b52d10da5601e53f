"""Type stubs for the compiled kernel module (_kernels.pxi, built once per instruction set).

_kernels_baseline, _kernels_avx2 and _kernels_avx512 are the same Cython code
compiled with different -march flags, so their stubs are identical.  Memoryview
arguments take C-contiguous float32/float64 (or int32/int64 label) arrays; those
typed ``| None`` may be None.  Callers are the validated wrappers in losses.py,
binary.py, optim.py, linear.py, classifier.py and dask.py.
"""

from typing import Any

import numpy.typing as npt

def build_info() -> dict[str, Any]: ...
def omp_max_threads() -> int: ...
def softmax(scores: npt.NDArray[Any], out: npt.NDArray[Any], num_threads: int = ...) -> None: ...
def log_softmax(
    scores: npt.NDArray[Any], out: npt.NDArray[Any], num_threads: int = ...
) -> None: ...
def softmax_cross_entropy(
    scores: npt.NDArray[Any],
    y: npt.NDArray[Any],
    class_weight: npt.NDArray[Any] | None,
    sample_weight: npt.NDArray[Any] | None,
    label_smoothing: float,
    use_ignore: bool,
    ignore_index: int,
    reduction: int,
    grad: npt.NDArray[Any] | None,
    loss_out: npt.NDArray[Any] | None,
    num_threads: int = ...,
) -> tuple[int, float]: ...
def set_thread_config(requested: int, parallel_min: int, sgd_parallel_min: int) -> None: ...
def softmax_cross_entropy_fast(
    scores: object,
    y: object,
    reduction: object,
    class_weight: object,
    sample_weight: object,
    label_smoothing: object,
    ignore_index: object,
    grad: object,
    out: object,
) -> tuple[Any, Any] | None: ...
def multiclass_hinge_fast(
    scores: object,
    y: object,
    margin: object,
    squared: object,
    reduction: object,
    class_weight: object,
    sample_weight: object,
    grad: object,
    out: object,
    variant: object,
) -> tuple[Any, Any] | None: ...
def sgd_update_fast(
    param: object,
    grad: object,
    lr: object,
    momentum: object,
    velocity: object,
    dampening: object,
    weight_decay: object,
    nesterov: object,
    maximize: object,
) -> bool | None: ...
def softmax_cross_entropy_soft(
    scores: npt.NDArray[Any],
    targets: npt.NDArray[Any],
    class_weight: npt.NDArray[Any] | None,
    sample_weight: npt.NDArray[Any] | None,
    label_smoothing: float,
    tol: float,
    reduction: int,
    grad: npt.NDArray[Any] | None,
    loss_out: npt.NDArray[Any] | None,
    num_threads: int = ...,
) -> tuple[int, float, float]: ...
def multiclass_hinge(
    scores: npt.NDArray[Any],
    y: npt.NDArray[Any],
    class_weight: npt.NDArray[Any] | None,
    sample_weight: npt.NDArray[Any] | None,
    margin: float,
    squared: bool,
    reduction: int,
    grad: npt.NDArray[Any] | None,
    loss_out: npt.NDArray[Any] | None,
    num_threads: int = ...,
) -> tuple[int, float]: ...
def multiclass_hinge_crammer_singer(
    scores: npt.NDArray[Any],
    y: npt.NDArray[Any],
    class_weight: npt.NDArray[Any] | None,
    sample_weight: npt.NDArray[Any] | None,
    margin: float,
    squared: bool,
    reduction: int,
    grad: npt.NDArray[Any] | None,
    loss_out: npt.NDArray[Any] | None,
    num_threads: int = ...,
) -> tuple[int, float]: ...
def sigmoid(x: npt.NDArray[Any], out: npt.NDArray[Any], num_threads: int = ...) -> None: ...
def binary_hinge(
    scores: npt.NDArray[Any],
    y: npt.NDArray[Any],
    sample_weight: npt.NDArray[Any] | None,
    margin: float,
    squared: bool,
    reduction: int,
    grad: npt.NDArray[Any] | None,
    loss_out: npt.NDArray[Any] | None,
    num_threads: int = ...,
) -> tuple[int, float]: ...
def sigmoid_cross_entropy(
    logits: npt.NDArray[Any],
    y: npt.NDArray[Any],
    k_cols: int,
    pos_weight: npt.NDArray[Any] | None,
    sample_weight: npt.NDArray[Any] | None,
    weight_per_row: bool,
    reduction: int,
    grad: npt.NDArray[Any] | None,
    loss_out: npt.NDArray[Any] | None,
    num_threads: int = ...,
) -> tuple[int, float]: ...
def sgd_update(
    param: npt.NDArray[Any],
    grad: npt.NDArray[Any],
    velocity: npt.NDArray[Any] | None,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
    first_step: bool,
    num_threads: int = ...,
) -> None: ...
def sum_squares(x: npt.NDArray[Any]) -> float: ...
