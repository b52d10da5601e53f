"""Type stubs for the compiled kernel module (kernels/kernels.pxi, built once per instruction set).

_kernels_baseline, _kernels_avx2 and _kernels_avx512 are the same Cython code
compiled with different -march flags, so their stubs are identical.  Memoryview
arguments take C-contiguous float32/float64 (or int32/int64 label) arrays; those
typed ``| None`` may be None.  Options are keyword arguments; every loss returns
``(bad_index, loss)``.  Callers are the validated wrappers (through
fastloss._dispatch.kernels) in losses.py, binary.py, optim.py, linear.py,
_training.py and dask.py.
"""

from typing import Any

import numpy.typing as npt

_Array = npt.NDArray[Any]

def build_info() -> dict[str, Any]: ...
def softmax(scores: _Array, out: _Array) -> None: ...
def log_softmax(scores: _Array, out: _Array) -> None: ...
def softmax_cross_entropy(
    scores: _Array,
    y: _Array,
    *,
    reduction: str,
    class_weight: _Array | None = ...,
    sample_weight: _Array | None = ...,
    label_smoothing: float = ...,
    ignore_index: int | None = ...,
    grad: _Array | None = ...,
    loss_out: _Array | None = ...,
    divide_by_zero: bool = ...,
) -> tuple[int, float]: ...
def softmax_cross_entropy_soft(
    scores: _Array,
    targets: _Array,
    *,
    reduction: str,
    tol: float,
    class_weight: _Array | None = ...,
    sample_weight: _Array | None = ...,
    label_smoothing: float = ...,
    grad: _Array | None = ...,
    loss_out: _Array | None = ...,
    check_targets: bool = ...,
) -> tuple[int, float]: ...
def multiclass_hinge(
    scores: _Array,
    y: _Array,
    *,
    reduction: str,
    variant: str = ...,
    margin: float = ...,
    squared: bool = ...,
    class_weight: _Array | None = ...,
    sample_weight: _Array | None = ...,
    grad: _Array | None = ...,
    loss_out: _Array | None = ...,
    divisor: float | None = ...,
) -> tuple[int, float]: ...
def sigmoid(x: _Array, out: _Array) -> None: ...
def binary_hinge(
    scores: _Array,
    y: _Array,
    *,
    reduction: str,
    margin: float = ...,
    squared: bool = ...,
    sample_weight: _Array | None = ...,
    grad: _Array | None = ...,
    loss_out: _Array | None = ...,
) -> tuple[int, float]: ...
def sigmoid_cross_entropy(
    logits: _Array,
    y: _Array,
    *,
    reduction: str,
    k_cols: int = ...,
    pos_weight: _Array | None = ...,
    sample_weight: _Array | None = ...,
    weight_per_row: bool = ...,
    grad: _Array | None = ...,
    loss_out: _Array | None = ...,
    check_targets: bool = ...,
    divisor: float | None = ...,
) -> tuple[int, float]: ...
def sgd_update(
    param: _Array,
    grad: _Array,
    *,
    lr: float,
    velocity: _Array | None = ...,
    momentum: float = ...,
    dampening: float = ...,
    weight_decay: float = ...,
    nesterov: bool = ...,
    maximize: bool = ...,
    first_step: bool = ...,
) -> None: ...
def sum_squares(x: _Array) -> float: ...

# The XLA FFI handlers (kernels/xla.pxi), as PyCapsules by function name.
def xla_handlers() -> dict[str, Any]: ...

# The fast entries (kernels/fastpath.pxi) take the public function's arguments, in its order.
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
