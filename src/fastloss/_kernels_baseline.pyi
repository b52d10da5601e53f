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
def adam_step(
    params: list[Any],
    grads: list[Any],
    m: list[Any],
    v: list[Any],
    v_max: list[Any] | None,
    *,
    step: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled: bool,
    amsgrad: bool,
    maximize: bool,
) -> int: ...
def rmsprop_step(
    params: list[Any],
    grads: list[Any],
    square_avg: list[Any],
    grad_avg: list[Any] | None,
    momentum_buffer: list[Any] | None,
    *,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
) -> int: ...
def adagrad_step(
    params: list[Any],
    grads: list[Any],
    state_sum: list[Any],
    *,
    step: int,
    lr: float,
    lr_decay: float,
    weight_decay: float,
    eps: float,
    maximize: bool,
) -> int: ...
def distance(
    pred: _Array,
    target: _Array,
    *,
    kind: str,
    reduction: str,
    param: float = ...,
    k_cols: int = ...,
    sample_weight: _Array | None = ...,
    weight_per_row: bool = ...,
    grad: _Array | None = ...,
    loss_out: _Array | None = ...,
) -> tuple[int, float]: ...

# The training engine (kernels/train.pxi).
def all_finite(x: _Array) -> bool: ...
def train_epoch(
    X: _Array,
    y: _Array,
    Wt: _Array,
    order: _Array | None,
    lr: _Array,
    history: _Array,
    *,
    loss: str,
    batch_size: int,
    b: _Array | None = ...,
    Vt: _Array | None = ...,
    Vb: _Array | None = ...,
    sample_weight: _Array | None = ...,
    margin: float = ...,
    reg: float = ...,
    momentum: float = ...,
    nesterov: bool = ...,
    steps_before: int = ...,
    start: int = ...,
    stop: int = ...,
    group: int = ...,
) -> int: ...
def linear_gradient(
    X: _Array, y: _Array, Wt: _Array, dWt: _Array, *, loss: str, margin: float
) -> float: ...

# The XLA FFI handlers (kernels/xla.pxi), as PyCapsules by function name.
def xla_handlers() -> dict[str, Any]: ...

# The training engine and the linear losses on CSR data (kernels/sparse.pxi).
def csr_check(data: _Array, indices: _Array, indptr: _Array, n_rows: int, n_cols: int) -> None: ...
def sparse_train_epoch(
    data: _Array,
    indices: _Array,
    indptr: _Array,
    y: _Array,
    W: _Array,
    order: _Array | None,
    lr: _Array,
    history: _Array,
    *,
    loss: str,
    batch_size: int,
    b: _Array | None = ...,
    V: _Array | None = ...,
    Vb: _Array | None = ...,
    sample_weight: _Array | None = ...,
    margin: float = ...,
    reg: float = ...,
    momentum: float = ...,
    nesterov: bool = ...,
    start: int = ...,
    stop: int = ...,
) -> int: ...
def sparse_linear_gradient(
    data: _Array, indices: _Array, indptr: _Array, y: _Array, W: _Array, dW: _Array, *,
    loss: str, margin: float
) -> float: ...

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
def distance_fast(
    pred: object,
    target: object,
    kind: object,
    param: object,
    reduction: object,
    sample_weight: object,
    grad: object,
    out: object,
) -> tuple[Any, Any] | None: ...
def adam_update_fast(
    param: object,
    grad: object,
    m: object,
    v: object,
    step: object,
    lr: object,
    betas: object,
    eps: object,
    weight_decay: object,
    decoupled: object,
    amsgrad: object,
    v_max: object,
    maximize: object,
) -> bool | None: ...
