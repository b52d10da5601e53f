"""The kernel calls and autograd of fastloss.torch (the public functions are in torch.py).

Each loss has one *runner* here: it takes 2-D (or flat) CPU tensors already in
kernel form (contiguous float32/float64, the class axis last), views them as
NumPy arrays without copying (``Tensor.numpy()``), lets the fused kernel write
the loss and the gradient into tensors torch allocated, and returns
``(loss, grad)``: ``grad`` is the gradient of the returned loss (of its sum
for ``reduction="none"``, whose rows or elements are independent), so that the
backward pass is one product with the incoming gradient.

Autograd reaches the runners two ways, with the same backward formula:

- eager: ``Fused.apply`` (a ``torch.autograd.Function``), the cheapest way torch
  offers to record a node;
- under ``torch.compile``: the custom operators ``torch.ops.fastloss.*``
  (``torch.library.custom_op``, with ``register_autograd`` and ``register_fake``),
  which the compiler keeps as opaque calls.

The kernels release the GIL (see kernels/*.pxi).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from . import _dispatch

# ---- the runners ---------------------------------------------------------------------------


def _empty_result(x: Tensor, reduction: str, rows: int, need_grad: bool):
    """The result over no rows: torch's mean of nothing is NaN, its sum 0."""
    if reduction == "none":
        loss = x.new_empty((rows,))
    else:
        loss = torch.scalar_tensor(math.nan if reduction == "mean" else 0.0, dtype=x.dtype)
    return loss, (torch.zeros_like(x) if need_grad else None)


def _loss_tensor(x: Tensor, reduction: str, value: float, loss_out: Optional[Tensor]) -> Tensor:
    return loss_out if reduction == "none" else torch.scalar_tensor(value, dtype=x.dtype)


def _f64(w: Optional[Tensor]):
    """A weight tensor as the float64 NumPy array the kernels take (or None)."""
    if w is None:
        return None
    return w.detach().to(torch.float64).contiguous().numpy()


def _out_of_bounds(y, bad: int) -> IndexError:
    return IndexError(f"Target {int(y[bad])} is out of bounds.")


def run_cross_entropy(x: Tensor, target: Tensor, weight: Optional[Tensor], ignore_index: int,
                      reduction: str, label_smoothing: float, need_grad: bool):
    """softmax cross-entropy of (M, C) ``x``: class indices (M,) or probabilities (M, C)."""
    m, c = x.shape
    if m == 0:
        return _empty_result(x, reduction, 0, need_grad)
    xs = x.detach().numpy()
    ys = target.detach().numpy()
    g = torch.empty_like(x, requires_grad=False) if need_grad else None
    lo = x.new_empty((m,)) if reduction == "none" else None
    gs = g.numpy() if g is not None else None
    los = lo.numpy() if lo is not None else None
    k = _dispatch.kernels
    if target.is_floating_point():
        w = weight.detach().numpy() if weight is not None else None
        _, loss = k.softmax_cross_entropy_soft(
            xs, ys, reduction=reduction, tol=0.0, class_weight=w,
            label_smoothing=label_smoothing, grad=gs, loss_out=los, check_targets=False)
        return _loss_tensor(x, reduction, loss, lo), g
    w = _f64(weight)
    # ignore_index outside [0, C) costs nothing unless a label equals it: the kernel
    # rejects such a label before writing anything, and the call is made again.
    ignore = ignore_index if 0 <= ignore_index < c else None
    bad, loss = k.softmax_cross_entropy(
        xs, ys, reduction=reduction, class_weight=w, label_smoothing=label_smoothing,
        ignore_index=ignore, grad=gs, loss_out=los, divide_by_zero=True)
    if bad >= 0 and ignore is None and ys[bad] == ignore_index:
        bad, loss = k.softmax_cross_entropy(
            xs, ys, reduction=reduction, class_weight=w, label_smoothing=label_smoothing,
            ignore_index=ignore_index, grad=gs, loss_out=los, divide_by_zero=True)
    if bad >= 0:
        raise _out_of_bounds(ys, bad)
    return _loss_tensor(x, reduction, loss, lo), g


def run_multi_margin(x: Tensor, target: Tensor, weight: Optional[Tensor], p: int,
                     margin: float, reduction: str, need_grad: bool):
    """torch's multi_margin_loss of (M, C) ``x``: fastloss's Weston-Watkins hinge / C."""
    m, c = x.shape
    if m == 0:
        return _empty_result(x, reduction, 0, need_grad)
    g = torch.empty_like(x, requires_grad=False) if need_grad else None
    lo = x.new_empty((m,)) if reduction == "none" else None
    ys = target.detach().numpy()
    # torch divides every row's sum by C, and the mean by N on top: a "mean" over
    # the divisor N·C (or C for the sum, and for the rows of "none").
    divisor = float(m * c) if reduction == "mean" else float(c)
    bad, loss = _dispatch.kernels.multiclass_hinge(
        x.detach().numpy(), ys, reduction="mean", margin=margin, squared=p == 2,
        class_weight=_f64(weight), grad=g.numpy() if g is not None else None,
        loss_out=lo.numpy() if lo is not None else None, divisor=divisor)
    if bad >= 0:
        raise _out_of_bounds(ys, bad)
    if lo is not None:
        lo.div_(c)
    return _loss_tensor(x, reduction, loss, lo), g


def run_bce_with_logits(x: Tensor, target: Tensor, weight: Optional[Tensor],
                        pos_weight: Optional[Tensor], k_cols: int, weight_per_row: bool,
                        reduction: str, need_grad: bool):
    """Sigmoid cross-entropy of the flat logits ``x`` (n,): ``pos_weight`` (k_cols,)
    by column, ``weight`` per row of k_cols elements or per element."""
    n = x.shape[0]
    if n == 0:
        return _empty_result(x, reduction, 0, need_grad)
    g = torch.empty_like(x, requires_grad=False) if need_grad else None
    lo = x.new_empty((n,)) if reduction == "none" else None
    _, loss = _dispatch.kernels.sigmoid_cross_entropy(
        x.detach().numpy(), target.detach().numpy(), reduction=reduction, k_cols=k_cols,
        pos_weight=_f64(pos_weight), sample_weight=_f64(weight), weight_per_row=weight_per_row,
        grad=g.numpy() if g is not None else None,
        loss_out=lo.numpy() if lo is not None else None, check_targets=False,
        divisor=float(n) if reduction == "mean" else None)
    return _loss_tensor(x, reduction, loss, lo), g


# ---- backward ------------------------------------------------------------------------------


def _times(g: Tensor, go: Tensor, eager: bool = False) -> Tensor:
    """The kernel's gradient g times the incoming gradient (of a scalar loss, of the
    rows of an (M,) loss, or elementwise).

    In eager mode the incoming gradient of a scalar loss is usually exactly 1
    (``loss.backward()``): then g itself is the answer.  It is a saved tensor, which autograd frees after
    the backward pass (unless the graph is retained), so ``x.grad`` takes it over
    without a copy; an in-place change of it before a second backward pass through
    a retained graph is caught by autograd's version check.
    """
    if go.dim() == 0:
        return g if eager and go.item() == 1.0 else g * go
    return g * go.reshape(go.shape + (1,) * (g.dim() - go.dim()))


def _ce_target_grad(x, target, weight, reduction, label_smoothing, go):
    """d loss / d target for probability targets: -(1-ε) w_k log p_k per row."""
    d = torch.log_softmax(x.detach(), dim=1).mul_(-(1.0 - label_smoothing))
    if weight is not None:
        d.mul_(weight)
    if reduction == "mean":
        d.div_(x.shape[0])
    return _times(d, go)


def _bce_target_grad(x, weight, pos_weight, k_cols, weight_per_row, reduction, go):
    """d loss / d target: -w (pw log σ(x) - log σ(-x)) per element."""
    xd = x.detach()
    ls = torch.nn.functional.logsigmoid(xd)
    if pos_weight is not None:
        ls = ls.view(-1, k_cols).mul(pos_weight).view(-1)
    d = torch.nn.functional.logsigmoid(-xd).sub_(ls)
    if weight is not None:
        d = d.view(-1, k_cols).mul_(weight.view(-1, 1)).view(-1) if weight_per_row else d.mul_(weight)
    if reduction == "mean":
        d.div_(x.shape[0])
    return _times(d, go)


def target_grad(kind: str, x: Tensor, target: Tensor, opts: tuple, go: Tensor):
    """The gradient with respect to a floating target, or None where there is none."""
    if kind == "cross_entropy" and target.is_floating_point():
        weight, _, reduction, label_smoothing = opts
        return _ce_target_grad(x, target, weight, reduction, label_smoothing, go)
    if kind == "bce_with_logits":
        weight, pos_weight, k_cols, weight_per_row, reduction = opts
        return _bce_target_grad(x, weight, pos_weight, k_cols, weight_per_row, reduction, go)
    return None


RUNNERS = {
    "cross_entropy": run_cross_entropy,
    "multi_margin": run_multi_margin,
    "bce_with_logits": run_bce_with_logits,
}


def _first_order_only() -> None:
    """Backward runs with grad mode on only for create_graph=True (double backward)."""
    if torch.is_grad_enabled():
        raise NotImplementedError(
            "fastloss.torch computes first derivatives only: its backward is not "
            "differentiable (create_graph=True / double backward)")


class Fused(torch.autograd.Function):
    """The eager autograd node: forward runs the fused kernel (loss and gradient in one
    pass) and keeps the gradient; backward multiplies it by the incoming gradient."""

    @staticmethod
    def forward(ctx, x, target, kind, opts):  # type: ignore[override]
        loss, g = RUNNERS[kind](x, target, *opts, need_grad=True)
        ctx.kind = kind
        ctx.opts = opts
        if ctx.needs_input_grad[1]:
            ctx.save_for_backward(g, x, target)
        else:
            ctx.save_for_backward(g)
        return loss

    @staticmethod
    def backward(ctx, go):  # type: ignore[override]
        _first_order_only()
        saved = ctx.saved_tensors
        gx = _times(saved[0], go, eager=True) if ctx.needs_input_grad[0] else None
        gt = None
        if ctx.needs_input_grad[1]:
            gt = target_grad(ctx.kind, saved[1], saved[2], ctx.opts, go)
        return gx, gt, None, None


def cross_entropy_value(x: Tensor, target: Tensor, ignore_index: int, reduction: str,
                        label_smoothing: float) -> Tensor:
    """The common cross_entropy call without autograd: the loss only, through the fast entry."""
    r = _dispatch.kernels.softmax_cross_entropy_fast(
        (x.detach() if x.requires_grad else x).numpy(), target.numpy(), reduction, None, None,
        label_smoothing, None, False, None)
    if r is None:  # a label outside [0, C): ignore_index, or an error
        return run_cross_entropy(x, target, None, ignore_index, reduction, label_smoothing,
                                 False)[0]
    return torch.scalar_tensor(r[0], dtype=x.dtype)


class FusedCrossEntropy(torch.autograd.Function):
    """The common cross_entropy call (see fastloss.torch.cross_entropy): (N, C)
    contiguous float32/float64 logits requiring grad, int64 class indices, no weight,
    a scalar reduction -- through the kernel's fast entry, with the least Python."""

    @staticmethod
    def forward(ctx, x, target, ignore_index, reduction, label_smoothing):  # type: ignore[override]
        g = torch.empty_like(x, requires_grad=False)
        r = _dispatch.kernels.softmax_cross_entropy_fast(
            x.detach().numpy(), target.numpy(), reduction, None, None, label_smoothing, None,
            True, g.numpy())
        if r is None:  # a label outside [0, C): ignore_index, or an error
            loss, g = run_cross_entropy(x, target, None, ignore_index, reduction,
                                        label_smoothing, True)
        else:
            loss = torch.scalar_tensor(r[0], dtype=x.dtype)
        ctx.save_for_backward(g)
        return loss

    @staticmethod
    def backward(ctx, go):  # type: ignore[override]
        _first_order_only()
        return _times(ctx.saved_tensors[0], go, eager=True), None, None, None, None


# ---- the custom operators, for torch.compile ---------------------------------------------


@torch.library.custom_op("fastloss::cross_entropy", mutates_args=())
def cross_entropy_op(x: Tensor, target: Tensor, weight: Optional[Tensor], ignore_index: int,
                     reduction: str, label_smoothing: float,
                     need_grad: bool) -> tuple[Tensor, Tensor]:
    """(loss, gradient) of fastloss.torch.cross_entropy on kernel-form tensors."""
    loss, g = run_cross_entropy(x, target, weight, ignore_index, reduction, label_smoothing,
                                need_grad)
    return loss, (g if g is not None else x.new_empty((0,)))


@torch.library.custom_op("fastloss::multi_margin_loss", mutates_args=())
def multi_margin_op(x: Tensor, target: Tensor, weight: Optional[Tensor], p: int, margin: float,
                    reduction: str, need_grad: bool) -> tuple[Tensor, Tensor]:
    """(loss, gradient) of fastloss.torch.multi_margin_loss on kernel-form tensors."""
    loss, g = run_multi_margin(x, target, weight, p, margin, reduction, need_grad)
    return loss, (g if g is not None else x.new_empty((0,)))


@torch.library.custom_op("fastloss::binary_cross_entropy_with_logits", mutates_args=())
def bce_with_logits_op(x: Tensor, target: Tensor, weight: Optional[Tensor],
                       pos_weight: Optional[Tensor], k_cols: int, weight_per_row: bool,
                       reduction: str, need_grad: bool) -> tuple[Tensor, Tensor]:
    """(loss, gradient) of fastloss.torch.binary_cross_entropy_with_logits, flat tensors."""
    loss, g = run_bce_with_logits(x, target, weight, pos_weight, k_cols, weight_per_row,
                                  reduction, need_grad)
    return loss, (g if g is not None else x.new_empty((0,)))


def _fake(x: Tensor, reduction: str, need_grad: bool):
    loss = x.new_empty((x.shape[0],)) if reduction == "none" else x.new_empty(())
    return loss, (torch.empty_like(x) if need_grad else x.new_empty((0,)))


@cross_entropy_op.register_fake
def _(x, target, weight, ignore_index, reduction, label_smoothing, need_grad):
    return _fake(x, reduction, need_grad)


@multi_margin_op.register_fake
def _(x, target, weight, p, margin, reduction, need_grad):
    return _fake(x, reduction, need_grad)


@bce_with_logits_op.register_fake
def _(x, target, weight, pos_weight, k_cols, weight_per_row, reduction, need_grad):
    return _fake(x, reduction, need_grad)


def _register_autograd(op, kind: str, n_opts: int, opts_of):
    """Backward of an op: the saved gradient times the incoming one (and the target's)."""

    def setup_context(ctx, inputs, output):
        x, target = inputs[0], inputs[1]
        ctx.kind = kind
        ctx.opts = opts_of(inputs)
        ctx.save_for_backward(output[1], x, target)

    def backward(ctx, go, _go_grad):
        g, x, target = ctx.saved_tensors
        gx = _times(g, go) if ctx.needs_input_grad[0] else None
        gt = target_grad(kind, x, target, ctx.opts, go) if ctx.needs_input_grad[1] else None
        return (gx, gt) + (None,) * n_opts

    op.register_autograd(backward, setup_context=setup_context)


_register_autograd(cross_entropy_op, "cross_entropy", 5,
                   lambda i: (i[2], i[3], i[4], i[5]))
_register_autograd(multi_margin_op, "multi_margin", 5, lambda i: (i[2], i[3], i[4], i[5]))
_register_autograd(bce_with_logits_op, "bce_with_logits", 6,
                   lambda i: (i[2], i[3], i[4], i[5], i[6]))
