"""Docstring parts that several public functions share, written once.

A docstring holds ``%(name)s`` where a part goes; :func:`fill` puts them in
(as scipy's ``doccer`` does), so ``help()`` and the rendered docs show the
whole text.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def fill(**parts: str) -> Callable[[F], F]:
    """Decorator: the function's docstring with every ``%(name)s`` replaced by ``parts[name]``."""

    def decorate(f: F) -> F:
        if f.__doc__:
            f.__doc__ = f.__doc__ % parts
        return f

    return decorate


def grad_out(name: str = "scores") -> str:
    """The ``grad`` and ``out`` parameters of a loss whose input is called ``name``."""
    return f"""grad : bool
        If False, skip the gradient and return ``(loss, None)``.
    out : ndarray, optional
        Receives the gradient: C-contiguous, writeable, same dtype and shape
        as ``{name}``; may be ``{name}`` itself.  Returned as the gradient."""


def loss_returns(name: str = "scores", shape: str = "of shape (N,)") -> str:
    """The ``Returns`` section of a loss: ``(loss, grad)``."""
    return f"""Returns
    -------
    loss : float, or ndarray {shape} for ``reduction="none"``
        Accumulated in double precision.
    grad : ndarray of the dtype and shape of {name}, or None"""


#: ``scores`` and ``out`` of softmax and log_softmax.
ROWWISE_PARAMETERS = """Parameters
    ----------
    scores : array_like of float32 or float64, shape (N, C)
    out : ndarray, optional
        C-contiguous, writeable array of the same dtype and shape that
        receives the result; may be ``scores`` itself (in place)."""


def linear_parameters(x: str, y: str, margin: bool = False) -> str:
    """``W, X, y, reg`` (and ``margin``) of the CS231n losses ``(W, X, y, reg) -> (loss, dW)``."""
    return f"""Parameters
    ----------
    W : array_like of float32 or float64, shape (D, C)
        Weights (bias folded in as a row, CS231n's bias trick, if wanted).
    X : {x}
    y : {y}
        Class indices in ``[0, C)``.
    reg : float >= 0
        :math:`\\lambda`, the L2 regularisation strength.""" + (
        """
    margin : float >= 0
        :math:`\\Delta`.""" if margin else "")


#: The ``Returns`` section of the CS231n losses.
LINEAR_RETURNS = """Returns
    -------
    loss : float
    dW : ndarray, shape (D, C), the dtype of W"""
