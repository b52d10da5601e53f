"""The tail every loss wrapper shares, in the shape of scikit-learn's ``BaseLoss``.

A public loss (losses.py, binary.py) checks its own arguments, then

    bufs = _base.buffers(s, out, scores, grad, reduction)      # gradient, per-row losses
    bad, loss = _dispatch.kernels.<entry>(s, y, reduction=..., grad=bufs[0],
                                          loss_out=bufs[1], <options>)
    return _base.finish(bad, loss, bufs, <reject>, <context>)  # raise, or (loss, grad)

:func:`buffers` allocates or checks the gradient buffer (``out=`` is never
copied) and the loss vector of ``reduction="none"``; :func:`finish` turns a
rejection by the kernel (a bad label or target, for which it wrote nothing)
into the wrapper's error and returns ``(loss, grad)`` as the public functions
document it.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import _validation as v


def buffers(s, out, source, grad, reduction, *, per_element=False, source_name="scores",
            reads=()):
    """``(grad_buffer, loss_vector)`` of a loss call, either None where not wanted.

    ``s`` is the checked scores; ``out`` the user's ``out=`` (checked here:
    dtype, shape, contiguity, no overlap with ``source`` -- the user's scores
    -- unless it is that very array) or None for a new buffer; ``reads`` the
    (name, array) pairs the kernel reads while it writes the gradient, which
    ``out`` must not overlap.  The loss vector has one loss per row, or per
    element with ``per_element`` (the binary losses).
    """
    if not grad:
        if out is not None:
            raise ValueError("out= was given but grad=False: there is no gradient to write")
        g = None
    elif out is None:
        g = np.empty_like(s)
    else:
        g = v.output(out, s, source, source_name=source_name)
        if reads:
            v.no_overlap(g, *reads)
    loss_vec = None
    if reduction == "none":
        loss_vec = np.empty(s.shape if per_element else s.shape[0], s.dtype)
    return g, loss_vec


def flat(a):
    """``a`` seen as one dimension (the binary kernels' layout), or None."""
    return None if a is None else a.reshape(-1)


def finish(bad: int, loss: Any, bufs: tuple, reject: Callable[..., None], *context: Any):
    """What the public function returns: ``(loss, grad)``, the loss vector for
    ``reduction="none"``.  A kernel that rejected its input (``bad >= 0``, the
    index of the bad label or target; ``loss`` then a detail of it) wrote
    nothing: ``reject(*context, bad, loss)`` raises the wrapper's error."""
    if bad >= 0:
        reject(*context, bad, loss)
    g, loss_vec = bufs
    return (loss if loss_vec is None else loss_vec), g
