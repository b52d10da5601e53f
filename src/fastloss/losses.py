"""Multiclass losses and the softmax: validated wrappers over the fused kernels.

softmax_cross_entropy and multiclass_hinge first offer their arguments,
untouched, to the fast entry of their kernel (kernels/fastpath.pxi), which
takes the common call -- ndarrays already in kernel form, no weights --
checks it in C and runs it.  Anything else comes back (None) and is checked
here once (see _validation.py), converted where it may be, and runs through
the shared tail of _base.py on the kernel build in use (_dispatch.py).  The
kernels are in kernels/softmax.pxi and kernels/hinge.pxi (the loops in
simd/sce.h and simd/hinge.h); their NumPy twins in fastloss.reference.
"""

from __future__ import annotations

from typing import Any, Literal, SupportsIndex

import numpy as np
import numpy.typing as npt

from . import _base, _dispatch, _docs
from . import _validation as v

__all__ = ["log_softmax", "multiclass_hinge", "softmax", "softmax_cross_entropy"]

#: Soft targets: each row must sum to 1 within this (absolute) tolerance.
SOFT_TARGET_TOL = 1e-4
#: multiclass_hinge variants.
HINGE_VARIANTS = ("weston_watkins", "crammer_singer")


def _bad_label(y, c, ignore_index, bad, _detail):
    """The rejection of a class-index kernel: y[bad] is not a class index."""
    allowed = f"[0, {c})"
    if ignore_index is not None:
        allowed += f" or ignore_index={ignore_index}"
    raise ValueError(f"y[{bad}] = {y[bad]} is not a class index in {allowed}")


def _bad_targets(t, bad, row_sum):
    """The rejection of the soft-target kernel: row ``bad`` of t is no distribution."""
    if not (t[bad] >= 0).all():
        problem = "has a negative or NaN entry"
    else:
        problem = f"sums to {row_sum!r}"
    raise ValueError(
        f"y[{bad}] {problem}: each row of soft targets must be a probability "
        f"distribution (entries >= 0 summing to 1 within {SOFT_TARGET_TOL:g})"
    )


@_docs.fill(parameters=_docs.ROWWISE_PARAMETERS)
def softmax(scores: npt.ArrayLike, *, out: npt.NDArray[np.floating[Any]] | None = None) -> npt.NDArray[np.floating[Any]]:
    """Row-wise softmax, computed stably.

    .. math:: p_{ij} = \\frac{e^{s_{ij} - m_i}}{\\sum_k e^{s_{ik} - m_i}}, \\quad m_i = \\max_k s_{ik}

    %(parameters)s

    Returns
    -------
    p : ndarray, shape (N, C)
        Rows sum to 1.  ``out`` if it was given.

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> fl.softmax(np.array([[1.0, 1.0], [0.0, -np.inf]])).tolist()
    [[0.5, 0.5], [1.0, 0.0]]
    """
    s = v.scores_2d(scores)
    o = np.empty_like(s) if out is None else v.output(out, s, scores)
    _dispatch.kernels.softmax(s, o)
    return o


@_docs.fill(parameters=_docs.ROWWISE_PARAMETERS)
def log_softmax(scores: npt.ArrayLike, *, out: npt.NDArray[np.floating[Any]] | None = None) -> npt.NDArray[np.floating[Any]]:
    """Row-wise log-softmax, computed stably as ``(s - max) - log Σ exp(s - max)``.

    .. math:: \\log p_{ij} = (s_{ij} - m_i) - \\log \\sum_k e^{s_{ik} - m_i}

    %(parameters)s

    Returns
    -------
    log_p : ndarray, shape (N, C)
        ``out`` if it was given.  A ``-inf`` score gives ``-inf``.

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> fl.log_softmax(np.array([[0.0, 0.0]])).round(6).tolist()
    [[-0.693147, -0.693147]]
    """
    s = v.scores_2d(scores)
    o = np.empty_like(s) if out is None else v.output(out, s, scores)
    _dispatch.kernels.log_softmax(s, o)
    return o


@_docs.fill(grad_out=_docs.grad_out(), returns=_docs.loss_returns())
def softmax_cross_entropy(
    scores: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    reduction: Literal["mean", "sum", "none"] = "mean",
    class_weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    label_smoothing: float = 0.0,
    ignore_index: SupportsIndex | None = None,
    grad: bool = True,
    out: npt.NDArray[np.floating[Any]] | None = None,
) -> tuple[float | npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]] | None]:
    """Softmax cross-entropy loss and its gradient, fused in one pass per row.

    With :math:`p_i = \\mathrm{softmax}(s_i)`, label smoothing :math:`\\varepsilon`,
    class weights :math:`c` (default 1) and sample weights :math:`u` (default 1),
    the loss of row :math:`i` is

    .. math::

        L_i = (1-\\varepsilon)\\, c_{y_i} (-\\log p_{i,y_i})
              + \\frac{\\varepsilon}{C} \\sum_k c_k (-\\log p_{ik})

    which without class weights is :math:`-\\sum_k q_{ik} \\log p_{ik}` with
    :math:`q_i = (1-\\varepsilon)\\,\\mathrm{onehot}(y_i) + \\varepsilon / C`.
    With row weight :math:`w_i = c_{y_i} u_i`:

    - ``"none"``: the vector :math:`(u_i L_i)`;
    - ``"sum"``: :math:`\\sum_i u_i L_i`;
    - ``"mean"``: :math:`\\sum_i u_i L_i / \\sum_i w_i` (0.0 if the total weight is 0).

    Rows whose label is ``ignore_index`` contribute nothing to the loss, the
    gradient or the mean's denominator.  The returned gradient is that of the
    returned loss (for ``"none"``, of its sum):

    .. math::

        \\frac{\\partial L_i}{\\partial s_{ij}} = (1-\\varepsilon) c_{y_i} (p_{ij} - [j = y_i])
            + \\frac{\\varepsilon}{C} \\Big(p_{ij} \\sum_k c_k - c_j\\Big)

    This is exactly :func:`torch.nn.functional.cross_entropy` with
    ``weight=class_weight``, ``ignore_index``, ``label_smoothing`` and the same
    ``reduction`` (sample weights are fastloss's addition; torch has none).
    Note that, like torch, the smoothing term weights each class by its own
    weight :math:`c_k`, not by :math:`c_{y_i}`.

    **Soft targets.**  When ``y`` is a float array of shape (N, C), each row
    :math:`t_i` is a probability distribution over the classes (entries
    :math:`\\ge 0` summing to 1 within ``1e-4``; anything else is an error) and

    .. math::

        L_i = -\\sum_k c_k\\, t'_{ik} \\log p_{ik}, \\qquad
        t'_i = (1-\\varepsilon)\\, t_i + \\varepsilon / C, \\qquad
        \\frac{\\partial L_i}{\\partial s_{ij}} = p_{ij} \\sum_k c_k t'_{ik} - c_j t'_{ij}

    (a term with :math:`c_k t'_{ik} = 0` counts 0, so a ``-inf`` score without
    target mass costs nothing).  ``"none"`` gives :math:`(u_i L_i)`, ``"sum"``
    :math:`\\sum_i u_i L_i` and ``"mean"`` :math:`\\sum_i u_i L_i / \\sum_i u_i`:
    class weights scale the terms but, as in torch, do not enter the mean's
    denominator (N without sample weights).  This is exactly
    ``torch.nn.functional.cross_entropy(scores, targets, weight=class_weight,
    label_smoothing=ε, reduction=r)`` with probability targets.
    ``ignore_index`` is an error with soft targets.

    Parameters
    ----------
    scores : array_like of float32 or float64, shape (N, C)
        Unnormalised scores (logits).  Need not be contiguous or writeable.
        ``-inf`` marks a class as impossible (allowed except for the label
        when ``label_smoothing > 0``, where the loss is then ``inf``).
    y : array_like of int, shape (N,), or of float, shape (N, C)
        Class indices in ``[0, C)`` (or ``ignore_index``), any integer dtype;
        or soft targets, one probability distribution per row, any float dtype.
    reduction : {"mean", "sum", "none"}
    class_weight : array_like, shape (C,), optional
        Finite, non-negative weight per class.
    sample_weight : array_like, shape (N,), optional
        Finite, non-negative weight per row.
    label_smoothing : float in [0, 1]
    ignore_index : int, optional
        Label value whose rows are skipped.
    %(grad_out)s

    %(returns)s

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> scores = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    >>> loss, g = fl.softmax_cross_entropy(scores, [0, 1])
    >>> round(loss, 6)
    0.31854
    >>> g.sum(axis=1).round(12).tolist()
    [0.0, 0.0]

    Soft targets (a one-hot row gives the same loss as its class index):

    >>> t = np.array([[1.0, 0.0, 0.0], [0.1, 0.8, 0.1]])
    >>> loss, g = fl.softmax_cross_entropy(scores, t, reduction="none")
    >>> loss.round(6).tolist()
    [0.41703, 0.64005]
    """
    fast = _dispatch.kernels.softmax_cross_entropy_fast(
        scores, y, reduction, class_weight, sample_weight, label_smoothing, ignore_index, grad, out
    )
    if fast is not None:  # the common call, checked and run in C (see kernels/fastpath.pxi)
        return fast
    s = v.scores_2d(scores)
    n, c = s.shape
    y_arr = np.asarray(y)
    soft = y_arr.dtype.kind == "f" and y_arr.ndim == 2  # float labels of shape (N,): TypeError below
    if soft:
        if y_arr.shape != (n, c):
            raise ValueError(
                f"y holds floats, so it must be soft targets of shape ({n}, {c}) (one probability "
                f"distribution per row of scores), got shape {y_arr.shape}"
            )
        if ignore_index is not None:
            raise ValueError("ignore_index cannot be used with soft targets (y of shape (N, C))")
    else:
        yy = v.labels(y, n)
    reduction = v.reduction(reduction)
    cw = v.weights(class_weight, c, "class_weight", "one weight per class")
    sw = v.weights(sample_weight, n, "sample_weight", "one weight per row of scores")
    eps = v.finite_real(label_smoothing, "label_smoothing", low=0.0, high=1.0)
    ignore = v.optional_index(ignore_index, "ignore_index")
    grad = v.flag(grad, "grad")

    if soft:
        bufs = _base.buffers(s, out, scores, grad, reduction,
                             reads=(("y (the soft targets)", y_arr), ("sample_weight", sw)))
        t = np.ascontiguousarray(y_arr, dtype=s.dtype)
        if reduction == "mean":  # the soft mean divides by Σ sample weights only
            sw = v.scaled_for_mean(sw)
        bad, loss = _dispatch.kernels.softmax_cross_entropy_soft(
            s, t, reduction=reduction, tol=SOFT_TARGET_TOL,
            class_weight=None if cw is None else cw.astype(s.dtype), sample_weight=sw,
            label_smoothing=eps, grad=bufs[0], loss_out=bufs[1],
        )
        return _base.finish(bad, loss, bufs, _bad_targets, t)

    bufs = _base.buffers(s, out, scores, grad, reduction)
    if reduction == "mean":
        cw, sw = v.scaled_for_mean(cw), v.scaled_for_mean(sw)
    bad, loss = _dispatch.kernels.softmax_cross_entropy(
        s, yy, reduction=reduction, class_weight=cw, sample_weight=sw, label_smoothing=eps,
        ignore_index=ignore, grad=bufs[0], loss_out=bufs[1],
    )
    return _base.finish(bad, loss, bufs, _bad_label, yy, c, ignore)


@_docs.fill(grad_out=_docs.grad_out(), returns=_docs.loss_returns())
def multiclass_hinge(
    scores: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    margin: float = 1.0,
    squared: bool = False,
    reduction: Literal["mean", "sum", "none"] = "mean",
    class_weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    grad: bool = True,
    out: npt.NDArray[np.floating[Any]] | None = None,
    variant: Literal["weston_watkins", "crammer_singer"] = "weston_watkins",
) -> tuple[float | npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]] | None]:
    """Multiclass hinge (SVM) loss, Weston–Watkins or Crammer–Singer, and its gradient.

    The loss CS231n teaches: each wrong class whose score comes within the
    margin :math:`\\Delta` of the correct one costs the shortfall,

    .. math:: L_i = \\sum_{j \\ne y_i} \\max(0,\\ s_{ij} - s_{i,y_i} + \\Delta)

    (each term squared when ``squared=True``).  With row weight
    :math:`w_i = c_{y_i} u_i` (class and sample weights, default 1): ``"none"``
    gives :math:`(w_i L_i)`, ``"sum"`` :math:`\\sum_i w_i L_i` and ``"mean"``
    :math:`\\sum_i w_i L_i / \\sum_i w_i` (0.0 if the total weight is 0).  The
    gradient is that of the returned loss (for ``"none"``, of its sum); at a
    kink (:math:`s_{ij} - s_{i,y_i} + \\Delta = 0`) the subgradient 0 is used:

    .. math::

        \\frac{\\partial L_i}{\\partial s_{ij}} = [t_{ij} > 0]\\ (j \\ne y_i), \\qquad
        \\frac{\\partial L_i}{\\partial s_{i,y_i}} = -\\sum_{j \\ne y_i} [t_{ij} > 0]

    Correspondence: ``C * torch.nn.functional.multi_margin_loss(scores, y,
    p=1 (2 if squared), margin=margin, weight=class_weight, reduction=r)`` for
    ``r`` in "none"/"sum", and for "mean" when there are no class weights
    (torch's mean divides by N, not by the total weight).

    ``variant="crammer_singer"`` charges only the most violating wrong class:

    .. math:: L_i = \\max\\big(0,\\ \\Delta + \\max_{j \\ne y_i} s_{ij} - s_{i,y_i}\\big)

    (squared when ``squared=True``), with the same weights and reductions.
    When several wrong classes tie for the maximum, the lowest index
    :math:`j^*` is used: the gradient is :math:`+1` at :math:`j^*` and
    :math:`-1` at :math:`y_i` where the hinge is active (:math:`\\pm 2h` when
    squared), 0 at the kink, a valid subgradient either way.  A NaN score
    makes its row's loss and whole gradient row NaN.  With C = 1 the loss is
    0.  This is ``optax.losses.multiclass_hinge_loss(scores, y)`` (margin 1)
    and liblinear's Crammer–Singer loss (``LinearSVC(multi_class="crammer_singer")``).

    Parameters
    ----------
    scores : array_like of float32 or float64, shape (N, C)
    y : array_like of int, shape (N,)
        Class indices in ``[0, C)``; any integer dtype.
    margin : float >= 0
        :math:`\\Delta`.
    squared : bool
        Square each hinge term (the L2-SVM loss).
    reduction : {"mean", "sum", "none"}
    class_weight : array_like, shape (C,), optional
    sample_weight : array_like, shape (N,), optional
    %(grad_out)s
    variant : {"weston_watkins", "crammer_singer"}
        Sum over every wrong class (CS231n's SVM loss, the default), or the
        most violating one only.

    %(returns)s

    Examples
    --------
    CS231n's example: scores cat 3.2, car 5.1, frog -1.7 for a cat image.

    >>> import numpy as np, fastloss as fl
    >>> loss, g = fl.multiclass_hinge(np.array([[3.2, 5.1, -1.7]]), [0])
    >>> round(loss, 6), g.tolist()
    (2.9, [[-1.0, 1.0, 0.0]])
    >>> loss, g = fl.multiclass_hinge(np.array([[3.2, 5.1, 5.1]]), [0], variant="crammer_singer")
    >>> round(loss, 6), g.tolist()
    (2.9, [[-1.0, 1.0, 0.0]])
    """
    fast = _dispatch.kernels.multiclass_hinge_fast(
        scores, y, margin, squared, reduction, class_weight, sample_weight, grad, out, variant
    )
    if fast is not None:  # the common call, checked and run in C (see kernels/fastpath.pxi)
        return fast
    s = v.scores_2d(scores)
    n, c = s.shape
    yy = v.labels(y, n)
    reduction = v.reduction(reduction)
    delta = v.finite_real(margin, "margin", low=0.0)
    squared = v.flag(squared, "squared")
    cw = v.weights(class_weight, c, "class_weight", "one weight per class")
    sw = v.weights(sample_weight, n, "sample_weight", "one weight per row of scores")
    grad = v.flag(grad, "grad")
    if variant not in HINGE_VARIANTS:
        raise ValueError(
            f"variant must be 'weston_watkins' or 'crammer_singer', got {variant!r}"
        )
    bufs = _base.buffers(s, out, scores, grad, reduction)
    if reduction == "mean":
        cw, sw = v.scaled_for_mean(cw), v.scaled_for_mean(sw)
    bad, loss = _dispatch.kernels.multiclass_hinge(
        s, yy, reduction=reduction, variant=variant, margin=delta, squared=squared,
        class_weight=cw, sample_weight=sw, grad=bufs[0], loss_out=bufs[1],
    )
    return _base.finish(bad, loss, bufs, _bad_label, yy, c, None)
