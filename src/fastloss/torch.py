"""fastloss inside PyTorch: autograd-aware drop-ins for torch.nn.functional's losses.

``pip install "fastloss[torch]"``.  ``import fastloss`` never imports torch;
``import fastloss.torch`` does.

>>> import torch, fastloss.torch as flt
>>> x = torch.randn(8, 5, requires_grad=True)
>>> y = torch.randint(0, 5, (8,))
>>> loss = flt.cross_entropy(x, y)            # as torch.nn.functional.cross_entropy
>>> loss.backward()
>>> bool(torch.allclose(loss, torch.nn.functional.cross_entropy(x, y)))
True

Each function has the signature and the semantics of its torch.nn.functional
namesake: every argument, every input shape torch accepts (unbatched, batched,
K-dimensional with the class axis moved last), class-index and probability
targets, weights of any sign, torch's formula applied to whatever values it is
given.  The loss and its gradient come from one fused pass of fastloss's
kernels (GIL released); backward is one product with the incoming gradient.

Tensors are handed to the kernels without a copy when they are contiguous
CPU float32/float64 tensors with the class axis last ((N, C) and (C,) inputs,
any shape for the binary loss).  Copies are made where the layout demands:
a non-contiguous input, the class axis of a K-dimensional input (moved last,
the input copied once), weights (converted to float64, and for the binary loss
broadcast to the rows or elements).  float16/bfloat16 inputs are upcast to
float32 for the computation and the loss is returned in the input's dtype.

Out of reach, with a clear error: tensors on another device than the CPU
(``NotImplementedError``), complex or integer inputs (``TypeError``), the
gradient with respect to ``weight``/``pos_weight`` (``NotImplementedError``;
torch has none for cross_entropy's weight either), second derivatives
(backward is not itself differentiable: ``create_graph=True`` raises
``NotImplementedError``), ``linear_cross_entropy``'s chunking ``options``.

Under ``torch.compile`` the functions call the custom operators
``torch.ops.fastloss.cross_entropy``, ``.multi_margin_loss`` and
``.binary_cross_entropy_with_logits`` (defined with ``torch.library.custom_op``,
``register_autograd`` and ``register_fake``); in eager mode the same kernels are
reached through a ``torch.autograd.Function``, which costs less per call.
The kernels and the autograd are in ``fastloss/_torch_ops.py``.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

from . import _torch_ops as ops

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "linear_cross_entropy",
    "multi_margin_loss",
]

_REDUCTIONS = ("none", "mean", "sum")
_KERNEL_DTYPES = (torch.float32, torch.float64)
_UPCAST_DTYPES = (torch.float16, torch.bfloat16)


def _reduction(reduction: str, size_average: Any, reduce: Any) -> str:
    if size_average is not None or reduce is not None:
        from torch.nn import _reduction as legacy

        return legacy.legacy_get_string(size_average, reduce)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _check_input(x: Any, name: str = "input") -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.device.type != "cpu":
        raise NotImplementedError(
            f"fastloss.torch runs on CPU tensors; {name} is on {x.device}")
    if x.dtype not in _KERNEL_DTYPES and x.dtype not in _UPCAST_DTYPES:
        raise TypeError(
            f"{name} must be a floating tensor (float32 or float64, float16/bfloat16 "
            f"upcast to float32), got {x.dtype}")


def _no_weight_grad(*weights: Optional[Tensor]) -> None:
    if torch.is_grad_enabled() and any(w is not None and w.requires_grad for w in weights):
        raise NotImplementedError(
            "fastloss.torch does not compute the gradient with respect to weight or "
            "pos_weight; pass them detached")


def _as_weight(w: Optional[Tensor], dtype: torch.dtype, name: str) -> Optional[Tensor]:
    if w is None:
        return None
    if not isinstance(w, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or None, got {type(w).__name__}")
    if w.device.type != "cpu":
        raise NotImplementedError(f"fastloss.torch runs on CPU tensors; {name} is on {w.device}")
    return w.detach().to(dtype).contiguous()


def _run(kind: str, op, x: Tensor, target: Tensor, opts: tuple) -> Tensor:
    """The loss through autograd: the custom op when compiling, else the eager node."""
    need_grad = torch.is_grad_enabled() and (x.requires_grad or target.requires_grad)
    if torch.compiler.is_compiling():
        return op(x, target, *opts, need_grad)[0]
    if not need_grad:
        return ops.RUNNERS[kind](x, target, *opts, need_grad=False)[0]
    return ops.Fused.apply(x, target, kind, opts)


def _upcast(x: Tensor) -> Tensor:
    return x.float() if x.dtype in _UPCAST_DTYPES else x


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Optional[Tensor] = None,
    size_average: Optional[bool] = None,
    ignore_index: int = -100,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy of logits and targets: ``torch.nn.functional.cross_entropy``.

    With :math:`p = \\mathrm{softmax}(x)` over the class axis, label smoothing
    :math:`\\varepsilon` and class weights :math:`w` (default 1), a class-index
    target :math:`y` gives

    .. math:: \\ell = (1-\\varepsilon)\\, w_y (-\\log p_y)
              + \\frac{\\varepsilon}{C} \\sum_k w_k (-\\log p_k)

    and a probability target :math:`t` gives
    :math:`\\ell = -\\sum_k w_k t'_k \\log p_k` with
    :math:`t' = (1-\\varepsilon) t + \\varepsilon / C`.  ``"mean"`` divides the sum
    by :math:`\\sum w_{y}` over the targets that are not ``ignore_index`` (class
    indices; NaN or ±inf when that is 0, as torch) or by the number of rows
    (probabilities).  Computed by fastloss's fused softmax cross-entropy kernel,
    forward and backward in one pass.

    Parameters
    ----------
    input : Tensor, shape (C,), (N, C) or (N, C, d1, ..., dK)
        Logits; float32/float64 (float16/bfloat16 are computed in float32).
    target : Tensor
        Class indices, shape (), (N,) or (N, d1, ..., dK), any integer dtype;
        or class probabilities of ``input``'s shape (any values: rows need not
        sum to 1).
    weight : Tensor, shape (C,), optional
        Class weights, any sign.
    size_average, reduce : deprecated, as in torch.
    ignore_index : int
        Class-index targets equal to it count nowhere.
    reduction : {"mean", "sum", "none"}
    label_smoothing : float in [0, 1]

    Returns
    -------
    Tensor
        0-d for "mean"/"sum"; the target's shape for "none".

    Examples
    --------
    >>> import torch, fastloss.torch as flt
    >>> x = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], requires_grad=True)
    >>> loss = flt.cross_entropy(x, torch.tensor([0, 1]))
    >>> round(loss.item(), 5)
    0.31854
    >>> loss.backward(); x.grad.sum(dim=1).abs().max().item() < 1e-7
    True
    """
    if (weight is None and size_average is None and reduce is None
            and (reduction == "mean" or reduction == "sum") and type(input) is Tensor
            and type(target) is Tensor and input.dtype in _KERNEL_DTYPES
            and target.dtype is torch.int64 and input.dim() == 2 and target.dim() == 1
            and input.is_cpu and input.is_contiguous() and target.is_contiguous()
            and type(label_smoothing) is float and 0.0 <= label_smoothing <= 1.0
            and input.shape[0] == target.shape[0] and input.numel() > 0
            and type(ignore_index) is int and not 0 <= ignore_index < input.shape[1]
            and not torch.compiler.is_compiling()):
        # the common call: the least Python between torch and the kernel
        if input.requires_grad and torch.is_grad_enabled():
            return ops.FusedCrossEntropy.apply(input, target, ignore_index, reduction,
                                               label_smoothing)
        return ops.cross_entropy_value(input, target, ignore_index, reduction, label_smoothing)
    reduction = _reduction(reduction, size_average, reduce)
    _check_input(input)
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    dtype = input.dtype
    x = _upcast(input)
    d = x.dim()
    if d == 0:
        raise ValueError("cross_entropy: input must have at least 1 dimension (the classes), got 0")
    c = x.shape[0] if d == 1 else x.shape[1]
    soft = target.is_floating_point()
    _no_weight_grad(weight)
    if soft:
        if target.shape != input.shape:
            raise ValueError(
                f"cross_entropy: probability targets must have the input's shape "
                f"{tuple(input.shape)}, got {tuple(target.shape)}")
        t = target.to(x.dtype)
    else:
        if target.dtype == torch.bool or target.is_complex():
            raise TypeError(f"target must hold class indices (integers) or probabilities, "
                            f"got {target.dtype}")
        expected = () if d == 1 else (x.shape[0],) + tuple(x.shape[2:])
        if tuple(target.shape) != expected:
            raise ValueError(f"cross_entropy: class-index targets must have shape {expected} "
                             f"for input of shape {tuple(input.shape)}, got {tuple(target.shape)}")
        t = target if target.dtype in (torch.int64, torch.int32) else target.to(torch.int64)
    w = _as_weight(weight, x.dtype if soft else torch.float64, "weight")
    if w is not None and tuple(w.shape) != (c,):
        raise ValueError(f"weight must have shape ({c},), got {tuple(w.shape)}")
    # the kernel's form: rows of C classes
    if d == 1:
        x2, t2 = x.unsqueeze(0), (t.unsqueeze(0) if soft else t.reshape(1))
    elif d == 2:
        x2, t2 = x, t
    else:
        x2 = x.movedim(1, -1).reshape(-1, c)
        t2 = t.movedim(1, -1).reshape(-1, c) if soft else t.reshape(-1)
    loss = _run("cross_entropy", ops.cross_entropy_op, x2.contiguous(), t2.contiguous(),
                (w, int(ignore_index), reduction, float(label_smoothing)))
    if reduction == "none":
        loss = loss.reshape(() if d == 1 else (x.shape[0],) + tuple(x.shape[2:]))
    return loss if loss.dtype == dtype else loss.to(dtype)


def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Optional[Tensor] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> Tensor:
    """Multiclass hinge loss: ``torch.nn.functional.multi_margin_loss``.

    .. math:: \\ell_i = \\frac{1}{C} \\sum_{j \\ne y_i} w_{y_i}
              \\max(0,\\ \\Delta - x_{i,y_i} + x_{ij})^p

    with margin :math:`\\Delta` (any sign) and class weights :math:`w`
    (default 1); ``"mean"`` divides the sum by N.  This is fastloss's
    Weston-Watkins hinge (``fastloss.multiclass_hinge``) divided by C, fused
    with its gradient (subgradient 0 at the kink, as torch).  A NaN score
    propagates (torch drops a NaN term).

    Parameters
    ----------
    input : Tensor, shape (), (C,) or (N, C)
    target : Tensor of integers, shape (), (1,) or (N,)
    p : {1, 2}
    margin : float
    weight : Tensor, shape (C,), optional
    size_average, reduce : deprecated, as in torch.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    Tensor
        0-d for "mean"/"sum"; the target's shape for "none".

    Examples
    --------
    >>> import torch, fastloss.torch as flt
    >>> x = torch.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> round(flt.multi_margin_loss(x, torch.tensor([3])).item(), 4)
    0.325
    """
    reduction = _reduction(reduction, size_average, reduce)
    _check_input(input)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if not isinstance(target, Tensor) or target.is_floating_point() or target.is_complex() \
            or target.dtype == torch.bool:
        raise TypeError("target must be a tensor of class indices (integers)")
    dtype = input.dtype
    x = _upcast(input)
    d = x.dim()
    if d > 2:
        raise ValueError(f"multi_margin_loss: input must be 0-, 1- or 2-dimensional, got {d}")
    x2 = x.reshape(1, -1) if d < 2 else x
    n, c = x2.shape
    if target.numel() != n or target.dim() > 1 or (d == 2 and target.dim() != 1):
        raise ValueError(f"multi_margin_loss: target must have shape ({n},) for input of shape "
                         f"{tuple(input.shape)}, got {tuple(target.shape)}")
    t2 = target.reshape(n)
    if t2.dtype not in (torch.int64, torch.int32):
        t2 = t2.to(torch.int64)
    _no_weight_grad(weight)
    w = _as_weight(weight, torch.float64, "weight")
    if w is not None and w.numel() != c:
        raise ValueError(f"weight must have {c} elements, got {tuple(w.shape)}")
    if w is not None:
        w = w.reshape(c)
    loss = _run("multi_margin", ops.multi_margin_op, x2.contiguous(), t2.contiguous(),
                (w, int(p), float(margin), reduction))
    if reduction == "none" and d < 2:
        loss = loss.reshape(target.shape)
    return loss if loss.dtype == dtype else loss.to(dtype)


def _bce_layout(shape: torch.Size, weight: Optional[Tensor], pos_weight: Optional[Tensor]):
    """The kernel's layout of the weights of a logits tensor of ``shape``: (weight flat,
    pos_weight flat, k_cols, weight_per_row).  pos_weight goes by column when it
    varies along the last axis only, else per element (k_cols = the number of
    elements); weight goes by row (of k_cols elements) when it is constant along the
    last axis and pos_weight goes by column, else per element."""
    numel = shape.numel()
    k = shape[-1] if len(shape) else 1
    k_cols = k
    pw = None
    if pos_weight is not None:
        ps = (1,) * (len(shape) - pos_weight.dim()) + tuple(pos_weight.shape)
        if len(shape) and all(s == 1 for s in ps[:-1]):
            pw = pos_weight.reshape(-1).expand(k).contiguous()
        else:
            k_cols = max(numel, 1)
            pw = pos_weight.expand(shape).reshape(-1).contiguous()
    w, per_row = None, False
    if weight is not None:
        ws = (1,) * (len(shape) - weight.dim()) + tuple(weight.shape)
        if k_cols == k and len(shape) and ws[-1] == 1:
            w = weight.expand(tuple(shape[:-1]) + (1,)).reshape(-1).contiguous()
            per_row = True
        else:
            w = weight.expand(shape).reshape(-1).contiguous()
    return w, pw, k_cols, per_row


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Optional[Tensor] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
    pos_weight: Optional[Tensor] = None,
) -> Tensor:
    """Sigmoid cross-entropy with logits: ``torch.nn.functional.binary_cross_entropy_with_logits``.

    .. math:: \\ell = -w \\big(p\\, y \\log \\sigma(x) + (1 - y) \\log(1 - \\sigma(x))\\big)

    elementwise, with ``weight`` :math:`w` and ``pos_weight`` :math:`p`
    broadcast to the input (any sign), the formula applied to any target values
    (torch does not check them); ``"mean"`` divides the sum by the number of
    elements.  The gradient with respect to ``target`` is computed too (torch
    has it); not with respect to the weights.

    Parameters
    ----------
    input : Tensor, any shape (0-d included)
    target : Tensor of ``input``'s shape
    weight : Tensor broadcastable to ``input``, optional
        By row when constant along the last axis, else expanded per element.
    size_average, reduce : deprecated, as in torch.
    reduction : {"mean", "sum", "none"}
    pos_weight : Tensor broadcastable to ``input``, optional
        Usually (C,): one per column of the last axis.

    Returns
    -------
    Tensor
        0-d for "mean"/"sum"; ``input``'s shape for "none".

    Examples
    --------
    >>> import torch, fastloss.torch as flt
    >>> x = torch.tensor([0.5, -1.0]); y = torch.tensor([1.0, 0.0])
    >>> round(flt.binary_cross_entropy_with_logits(x, y).item(), 5)
    0.39367
    """
    reduction = _reduction(reduction, size_average, reduce)
    _check_input(input)
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}")
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    dtype = input.dtype
    x = _upcast(input)
    shape = x.shape
    _no_weight_grad(weight, pos_weight)
    w = _as_weight(weight, torch.float64, "weight")
    pw = _as_weight(pos_weight, torch.float64, "pos_weight")
    for name, t in (("weight", w), ("pos_weight", pw)):
        if t is not None:
            try:
                ok = torch.broadcast_shapes(t.shape, shape) == shape
            except RuntimeError:
                ok = False
            if not ok:
                raise ValueError(f"{name} of shape {tuple(t.shape)} does not broadcast to the "
                                 f"input's shape {tuple(shape)}")
    wf, pwf, k_cols, per_row = _bce_layout(shape, w, pw)
    loss = _run("bce_with_logits", ops.bce_with_logits_op, x.contiguous().reshape(-1),
                target.to(x.dtype).contiguous().reshape(-1),
                (wf, pwf, k_cols, per_row, reduction))
    if reduction == "none":
        loss = loss.reshape(shape)
    return loss if loss.dtype == dtype else loss.to(dtype)


def linear_cross_entropy(
    input: Tensor,
    linear_weight: Tensor,
    target: Tensor,
    *,
    linear_bias: Optional[Tensor] = None,
    weight: Optional[Tensor] = None,
    reduction: str = "mean",
    ignore_index: Optional[int] = None,
    label_smoothing: float = 0.0,
    options: Any = None,
) -> Tensor:
    """Cross-entropy of a linear map: ``torch.nn.functional.linear_cross_entropy``.

    ``cross_entropy(torch.nn.functional.linear(input, linear_weight, linear_bias),
    target, weight=weight, ignore_index=ignore_index, ...)``: the logits are one
    matmul (torch's, on its BLAS, with its backward), the loss and the logits'
    gradient fastloss's fused softmax cross-entropy kernel.  ``ignore_index``
    None means -100, as in torch.  Not the chunked, fused-through-the-matmul
    machinery of torch's ``options`` (which is ``NotImplementedError`` here):
    the (N, C) logits are materialised.

    Parameters
    ----------
    input : Tensor, shape (N, D) or (D,)
    linear_weight : Tensor, shape (C, D)
    target : Tensor
        As for :func:`cross_entropy` on the logits.
    linear_bias : Tensor, optional
    weight, reduction, ignore_index, label_smoothing : as :func:`cross_entropy`

    Examples
    --------
    >>> import torch, fastloss.torch as flt
    >>> x = torch.randn(4, 3); W = torch.randn(5, 3, requires_grad=True)
    >>> loss = flt.linear_cross_entropy(x, W, torch.tensor([0, 1, 2, 4]))
    >>> loss.backward(); W.grad.shape
    torch.Size([5, 3])
    """
    if options is not None:
        raise NotImplementedError(
            "fastloss.torch.linear_cross_entropy has no chunked mode: pass options=None")
    logits = torch.nn.functional.linear(input, linear_weight, linear_bias)
    return cross_entropy(logits, target, weight=weight,
                         ignore_index=-100 if ignore_index is None else ignore_index,
                         reduction=reduction, label_smoothing=label_smoothing)
