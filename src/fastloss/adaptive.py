"""The adaptive optimizers: Adam (and AdamW), RMSprop and Adagrad, as in-place kernels.

:func:`adam_update`, :func:`rmsprop_update` and :func:`adagrad_update` apply one
step of ``torch.optim``'s rule to a parameter array and the state arrays the
caller keeps, in place, in one pass over memory; :class:`Adam`, :class:`AdamW`,
:class:`RMSprop` and :class:`Adagrad` keep the state of a list of parameters and
follow their ``torch.optim`` namesakes step for step, stepping every parameter in
one kernel call.  Learning rates may be schedules (see optim.py, where :class:`SGD`
and the schedules live).

:func:`adam_update`'s common call goes to a fast entry checked in C
(kernels/adaptive.pxi); anything else is checked here once (errors name the
argument, nothing is written before every check passed) and runs the same kernel.
The per-element loops are in simd/adaptive.h, the NumPy twins in
:mod:`fastloss.reference`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _dispatch
from . import _validation as v
from .optim import LRSchedule, _grad, _Optimizer, _param

__all__ = ["Adagrad", "Adam", "AdamW", "RMSprop", "adagrad_update", "adam_update", "rmsprop_update"]

_Array = npt.NDArray[np.floating[Any]]
_Params = _Array | Iterable[_Array]
_LR = float | LRSchedule | Callable[[int], float]


# --------------------------------------------------------------------------
# Validation


def _state(arr, name, param, grad, others=()):
    """A state array updated in place: like ``param`` (dtype, shape), C-contiguous,
    writeable, sharing memory with none of ``param``, ``grad`` and the ``others``."""
    _param(arr, name)
    if arr.dtype != param.dtype:
        raise TypeError(f"{name} must have dtype {param.dtype} (that of param), got {arr.dtype}")
    if arr.shape != param.shape:
        raise ValueError(f"{name} must have shape {param.shape} (that of param), got {arr.shape}")
    for other_name, other in (("param", param), ("grad", grad), *others):
        if other is not None and np.may_share_memory(arr, other):
            raise ValueError(f"{name} must not share memory with {other_name}")
    return arr


def _optional_state(arr, name, wanted, why, param, grad, others):
    """A state array required when ``wanted`` (``why`` says when) and refused otherwise."""
    if wanted:
        if arr is None:
            raise ValueError(f"{name} is required {why} (start it at np.zeros_like(param))")
        return _state(arr, name, param, grad, others)
    if arr is not None:
        raise ValueError(f"{name} was given but is used only {why}: it would be ignored")
    return None


def _step_count(step):
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, (int, np.integer)) or step < 1:
        raise ValueError(f"step must be a positive integer (1 for the first step), got {step!r}")
    return int(step)


def _own_grad(g, param):
    """The gradient the kernel reads: a copy if it is the parameter itself (updated first)."""
    return g.copy() if np.may_share_memory(g, param) else g


def _adam_hyper(lr, betas, eps, weight_decay, decoupled, amsgrad, maximize):
    lr = v.finite_real(lr, "lr", low=0.0)
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError):
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
    b = []
    for k, beta in enumerate((beta1, beta2)):
        beta = v.finite_real(beta, f"betas[{k}]", low=0.0)
        if beta >= 1.0:
            raise ValueError(f"betas[{k}] must be in [0, 1), got {beta!r}")
        b.append(beta)
    return dict(lr=lr, beta1=b[0], beta2=b[1], eps=v.finite_real(eps, "eps", low=0.0),
                weight_decay=v.finite_real(weight_decay, "weight_decay", low=0.0),
                decoupled=v.flag(decoupled, "decoupled"), amsgrad=v.flag(amsgrad, "amsgrad"),
                maximize=v.flag(maximize, "maximize"))


def _rmsprop_hyper(lr, alpha, eps, weight_decay, momentum, centered, maximize):
    return dict(lr=v.finite_real(lr, "lr", low=0.0), alpha=v.finite_real(alpha, "alpha", low=0.0),
                eps=v.finite_real(eps, "eps", low=0.0),
                weight_decay=v.finite_real(weight_decay, "weight_decay", low=0.0),
                momentum=v.finite_real(momentum, "momentum", low=0.0),
                centered=v.flag(centered, "centered"), maximize=v.flag(maximize, "maximize"))


def _adagrad_hyper(lr, lr_decay, weight_decay, eps, maximize):
    return dict(lr=v.finite_real(lr, "lr", low=0.0),
                lr_decay=v.finite_real(lr_decay, "lr_decay", low=0.0),
                weight_decay=v.finite_real(weight_decay, "weight_decay", low=0.0),
                eps=v.finite_real(eps, "eps", low=0.0), maximize=v.flag(maximize, "maximize"))


# --------------------------------------------------------------------------
# The updates


def adam_update(
    param: _Array,
    grad: npt.ArrayLike,
    m: _Array,
    v: _Array,
    *,
    step: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled: bool = False,
    amsgrad: bool = False,
    v_max: _Array | None = None,
    maximize: bool = False,
) -> None:
    """One Adam (or AdamW) step, in place, in a single pass over memory (torch.optim.Adam's rule).

    With learning rate :math:`\\alpha`, :math:`\\beta_1, \\beta_2` = ``betas``, weight
    decay :math:`\\lambda` and the step count :math:`t` (1 for the first step):

    .. math::

        g &\\leftarrow \\pm\\nabla\\ (+\\ \\lambda\\theta \\text{ unless decoupled}),
            \\qquad \\theta \\leftarrow (1 - \\alpha\\lambda)\\,\\theta \\text{ if decoupled} \\\\
        m &\\leftarrow \\beta_1 m + (1 - \\beta_1)\\, g, \\qquad
        v \\leftarrow \\beta_2 v + (1 - \\beta_2)\\, g^2, \\qquad
        \\hat v = \\max(\\hat v, v) \\text{ (amsgrad) else } v \\\\
        \\theta &\\leftarrow \\theta - \\frac{\\alpha}{1 - \\beta_1^t}\\cdot
            \\frac{m}{\\sqrt{\\hat v} / \\sqrt{1 - \\beta_2^t} + \\epsilon}

    (:math:`-\\nabla` when ``maximize``).  That is ``torch.optim.Adam``: the bias
    corrections divide the step size and :math:`\\sqrt{\\hat v}`, :math:`\\epsilon`
    is added after the correction, ``weight_decay`` is the L2 penalty added to the
    gradient (Adam) or, with ``decoupled=True``, the decay of ``torch.optim.AdamW``
    (Loshchilov & Hutter), and AMSGrad keeps the running maximum ``v_max``.  The
    first moment is updated as torch's ``lerp`` (:math:`m + (1-\\beta_1)(g - m)`);
    :math:`\\sqrt{\\hat v}` is multiplied by :math:`1/\\sqrt{1-\\beta_2^t}` where torch
    divides (a rounding apart).  ``param``, ``m``, ``v`` (and ``v_max``) are read and
    written once, ``grad`` read once, and no temporary array is made; arithmetic is
    in the dtype of the arrays.  :class:`Adam` and :class:`AdamW` keep the state and
    the step count for you.

    Parameters
    ----------
    param : ndarray of float32 or float64, any shape
        Updated in place: C-contiguous and writeable (never copied).
    grad : array_like, same dtype and shape as ``param``
        May be read-only; a strided ``grad`` (or ``param`` itself) is copied first.
    m, v : ndarray, same dtype and shape as ``param``
        The first and second moments, updated in place (start them at zeros):
        C-contiguous, writeable, sharing no memory with each other, ``param`` or ``grad``.
    step : int >= 1
        :math:`t`, this step's number (1 for the first): the bias corrections.
    lr : float >= 0
    betas : (float, float), each in [0, 1)
    eps : float >= 0
    weight_decay : float >= 0
    decoupled : bool
        AdamW's decoupled weight decay instead of Adam's L2 penalty.
    amsgrad : bool
        Divide by the running maximum of :math:`v`, kept in ``v_max``.
    v_max : ndarray like ``m``, required with amsgrad (start it at zeros)
    maximize : bool
        Ascend instead of descend.

    Returns
    -------
    None

    Raises
    ------
    TypeError, ValueError
        For a bad argument (naming it); nothing is then modified.

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> w = np.array([1.0, -2.0]); m = np.zeros(2); v = np.zeros(2)
    >>> fl.adam_update(w, np.array([0.5, -1.0]), m, v, step=1, lr=0.1)
    >>> w.round(6).tolist(), m.round(6).tolist(), v.round(6).tolist()
    ([0.9, -1.9], [0.05, -0.1], [0.00025, 0.001])
    """
    if _dispatch.kernels.adam_update_fast(
        param, grad, m, v, step, lr, betas, eps, weight_decay, decoupled, amsgrad, v_max, maximize
    ):  # the common call, checked and run in C (see kernels/adaptive.pxi)
        return
    _param(param)
    g = _grad(grad, param)
    t = _step_count(step)
    h = _adam_hyper(lr, betas, eps, weight_decay, decoupled, amsgrad, maximize)
    _state(m, "m", param, g)
    _state(v, "v", param, g, (("m", m),))
    vmax = _optional_state(v_max, "v_max", h["amsgrad"], "with amsgrad=True", param, g,
                           (("m", m), ("v", v)))
    bad = _dispatch.kernels.adam_step([param], [_own_grad(g, param)], [m], [v], [vmax], step=t, **h)
    assert bad < 0


def rmsprop_update(
    param: _Array,
    grad: npt.ArrayLike,
    square_avg: _Array,
    *,
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    momentum_buffer: _Array | None = None,
    centered: bool = False,
    grad_avg: _Array | None = None,
    maximize: bool = False,
) -> None:
    """One RMSprop step, in place, in a single pass over memory (torch.optim.RMSprop's rule).

    With learning rate :math:`\\alpha`, smoothing constant :math:`\\rho` (``alpha``),
    momentum :math:`\\mu` and weight decay :math:`\\lambda`:

    .. math::

        g &\\leftarrow \\pm\\nabla + \\lambda\\theta, \\qquad
        s \\leftarrow \\rho s + (1 - \\rho)\\, g^2 \\\\
        a &= \\sqrt{s - \\bar g^2} + \\epsilon \\text{ with }
            \\bar g \\leftarrow \\rho \\bar g + (1 - \\rho)\\, g \\text{ (centered)},
            \\quad\\text{else } a = \\sqrt{s} + \\epsilon \\\\
        b &\\leftarrow \\mu b + g / a,\\ \\theta \\leftarrow \\theta - \\alpha b
            \\text{ if } \\mu > 0, \\quad\\text{else } \\theta \\leftarrow \\theta - \\alpha\\, g / a

    (:math:`-\\nabla` when ``maximize``; :math:`\\epsilon` added outside the root, as
    torch does).  ``param`` and every state array are read and written once,
    ``grad`` read once, no temporary array is made.  :class:`RMSprop` keeps the
    state for you.

    Parameters
    ----------
    param : ndarray of float32 or float64, any shape
        Updated in place: C-contiguous and writeable (never copied).
    grad : array_like, same dtype and shape as ``param``
    square_avg : ndarray like ``param``
        :math:`s`, updated in place (start it at zeros).
    lr : float >= 0
    alpha : float >= 0
        :math:`\\rho`.
    eps : float >= 0
    weight_decay : float >= 0
    momentum : float >= 0
    momentum_buffer : ndarray like ``param``, required if momentum > 0 (start it at zeros)
    centered : bool
        Divide by the centered second moment (an estimate of the variance).
    grad_avg : ndarray like ``param``, required if centered (start it at zeros)
        :math:`\\bar g`.
    maximize : bool

    Returns
    -------
    None

    Raises
    ------
    TypeError, ValueError
        For a bad argument (naming it); nothing is then modified.

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> w = np.array([1.0]); s = np.zeros(1)
    >>> fl.rmsprop_update(w, np.array([2.0]), s, lr=0.01)
    >>> w.round(6).tolist(), s.round(6).tolist()
    ([0.9], [0.04])
    """
    _param(param)
    g = _grad(grad, param)
    h = _rmsprop_hyper(lr, alpha, eps, weight_decay, momentum, centered, maximize)
    _state(square_avg, "square_avg", param, g)
    others = (("square_avg", square_avg),)
    buf = _optional_state(momentum_buffer, "momentum_buffer", h["momentum"] > 0,
                          "when momentum > 0", param, g, others)
    gavg = _optional_state(grad_avg, "grad_avg", h["centered"], "with centered=True", param, g,
                           (*others, ("momentum_buffer", buf)))
    bad = _dispatch.kernels.rmsprop_step([param], [_own_grad(g, param)], [square_avg], [gavg],
                                         [buf], **h)
    assert bad < 0


def adagrad_update(
    param: _Array,
    grad: npt.ArrayLike,
    state_sum: _Array,
    *,
    step: int,
    lr: float,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> None:
    """One Adagrad step, in place, in a single pass over memory (torch.optim.Adagrad's rule).

    With learning rate :math:`\\alpha`, its decay :math:`\\eta`, weight decay
    :math:`\\lambda` and the step count :math:`t` (1 for the first step):

    .. math::

        g \\leftarrow \\pm\\nabla + \\lambda\\theta, \\qquad
        s \\leftarrow s + g^2, \\qquad
        \\theta \\leftarrow \\theta - \\frac{\\alpha}{1 + (t - 1)\\,\\eta}\\cdot
            \\frac{g}{\\sqrt{s} + \\epsilon}

    (:math:`-\\nabla` when ``maximize``).  ``param`` and ``state_sum`` are read and
    written once, ``grad`` read once, no temporary array is made.
    :class:`Adagrad` keeps the sum (started at its ``initial_accumulator_value``)
    and the step count for you.

    Parameters
    ----------
    param : ndarray of float32 or float64, any shape
        Updated in place: C-contiguous and writeable (never copied).
    grad : array_like, same dtype and shape as ``param``
    state_sum : ndarray like ``param``
        :math:`s`, updated in place (torch starts it at ``initial_accumulator_value``, 0
        by default).
    step : int >= 1
    lr : float >= 0
    lr_decay : float >= 0
    weight_decay : float >= 0
    eps : float >= 0
    maximize : bool

    Returns
    -------
    None

    Raises
    ------
    TypeError, ValueError
        For a bad argument (naming it); nothing is then modified.

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> w = np.array([1.0]); s = np.zeros(1)
    >>> fl.adagrad_update(w, np.array([2.0]), s, step=1, lr=0.1)
    >>> w.round(6).tolist(), s.tolist()
    ([0.9], [4.0])
    """
    _param(param)
    g = _grad(grad, param)
    t = _step_count(step)
    h = _adagrad_hyper(lr, lr_decay, weight_decay, eps, maximize)
    _state(state_sum, "state_sum", param, g)
    bad = _dispatch.kernels.adagrad_step([param], [_own_grad(g, param)], [state_sum], step=t, **h)
    assert bad < 0


# --------------------------------------------------------------------------
# The optimisers


class _Adaptive(_Optimizer):
    """An optimiser with per-parameter state arrays, stepped in one kernel call.

    Subclasses set ``_STATES`` (the names of their state lists, each a list of arrays
    like the parameters, or None where the options do not use it) and ``_hyper_names``,
    and implement ``_hyper(**values)`` (the checked hyper-parameters), ``_structure``
    (those that decide which state lists exist) and ``_kernel(grads, lr, t)``.
    """

    _STATES: tuple[str, ...] = ()
    _hyper_names: tuple[str, ...] = ()

    def _zeros(self, wanted: bool, fill: float = 0.0) -> list[_Array] | None:
        return [np.full_like(p, fill) for p in self.params] if wanted else None

    def _kernel(self, grads: list[Any], lr: float, t: int) -> int:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def _structure(hyper: Mapping[str, Any]) -> tuple[Any, ...]:
        """What of the hyper-parameters decides which state arrays exist."""
        return ()

    def _hyper(self, **values: Any) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def step(self, grads: Iterable[npt.ArrayLike]) -> None:
        """Update every parameter in place with its gradient, in one kernel call.

        Parameters
        ----------
        grads : sequence of array_like
            One per parameter, same dtype and shape.  Everything is checked before
            anything is written.
        """
        grads = self._grad_list(grads)
        lr = self._step_lr()
        t = self.steps + 1
        if self._kernel(grads, lr, t) >= 0:
            # a gradient not in kernel form: checked (the error names it) and converted
            checked = [_own_grad(g, p) for g, p in zip(self._checked_grads(grads), self.params)]
            bad = self._kernel(checked, lr, t)
            if bad >= 0:
                raise ValueError(f"grads[{bad}] shares memory with this optimiser's state")
        self.steps = t

    def _hyper_values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._hyper_names}

    def state_dict(self) -> dict[str, Any]:
        """The optimiser's state: hyper-parameters, step count and copies of the state arrays."""
        state = {"lr": self._lr_state(), **self._hyper_values(), "steps": self.steps}
        for name in self._STATES:
            arrays = getattr(self, name)
            state[name] = None if arrays is None else [a.copy() for a in arrays]
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` (copied into this optimiser's own arrays).

        The options that decide which state arrays exist (``amsgrad``, ``momentum > 0``,
        ``centered``) must match this optimiser's; everything is checked before
        anything changes.
        """
        try:
            hyper = self._hyper(**{name: state[name] for name in self._hyper_names})
            steps = state["steps"]
            lr = state["lr"]
            arrays = {name: state[name] for name in self._STATES}
        except KeyError as e:
            raise ValueError(f"state is missing {e.args[0]!r}") from None
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
            raise ValueError(f"state['steps'] must be a non-negative integer, got {steps!r}")
        for name, src in arrays.items():
            dst = getattr(self, name)
            if (src is None) != (dst is None):
                raise ValueError(
                    f"state['{name}'] is {'absent' if src is None else 'present'} but this "
                    f"optimiser {'keeps' if src is None else 'has no'} {name} arrays: "
                    "the options that decide the state arrays differ")
            if src is None:
                continue
            if len(src) != len(dst):
                raise ValueError(f"state holds {len(src)} {name} arrays, expected {len(dst)}")
            for i, (a, b) in enumerate(zip(src, dst)):
                a = np.asarray(a)
                if a.dtype != b.dtype or a.shape != b.shape:
                    raise ValueError(f"state['{name}'][{i}] has dtype {a.dtype} and shape {a.shape}; "
                                     f"expected {b.dtype} and {b.shape}")
        if self._structure(hyper) != self._structure(self._hyper_values()):
            raise ValueError("the state's options do not match this optimiser's state arrays "
                             f"({', '.join(self._STATES)})")
        self.lr = lr  # (checked: a bad lr raises before anything changed)
        self._apply_hyper(hyper)
        self.steps = int(steps)
        for name, src in arrays.items():
            if src is not None:
                for a, b in zip(src, getattr(self, name)):
                    np.copyto(b, a)

    def _apply_hyper(self, hyper: dict[str, Any]) -> None:
        for name, value in hyper.items():
            setattr(self, name, value)


class Adam(_Adaptive):
    """Adam over a list of arrays, step for step ``torch.optim.Adam``.

    Each :meth:`step` applies :func:`adam_update` to every parameter with its
    gradient, in place, in one kernel call (the parameters' updates split over
    threads).  The moments ``m``, ``v`` (and ``v_max`` with amsgrad) are kept here,
    allocated once at zeros, and :attr:`steps` counts the steps for the bias
    corrections.  So for the same inputs the trajectory equals torch's up to rounding.

    Parameters
    ----------
    params : ndarray or sequence of ndarray
        float32/float64, C-contiguous, writeable; updated in place.
    lr : float >= 0 or LRSchedule
        A schedule is evaluated at the step count (0 for the first step).
        ``opt.lr`` may be reassigned between steps.
    betas, eps, weight_decay, amsgrad, maximize, decoupled
        As in :func:`adam_update` (``decoupled=True`` is :class:`AdamW`).

    Attributes
    ----------
    steps : int
        Steps taken so far.
    m, v, v_max : list of ndarray (v_max None without amsgrad)
        The state arrays (live, one per parameter).

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> w = np.array([1.0, -1.0])
    >>> opt = fl.Adam([w], lr=0.1)
    >>> for _ in range(3):
    ...     opt.step([2 * w])           # gradient of Σ w²
    >>> w.round(4).tolist()
    [0.7016, -0.7016]
    """

    _STATES = ("m", "v", "v_max")
    _hyper_names = ("betas", "eps", "weight_decay", "amsgrad", "maximize", "decoupled")

    def __init__(self, params: _Params, lr: _LR = 1e-3, *, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                 maximize: bool = False, decoupled: bool = False) -> None:
        self._set_params(params)
        self._apply_hyper(self._hyper(betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, decoupled=decoupled))
        self.lr = lr
        self.steps = 0
        self.m = self._zeros(True)
        self.v = self._zeros(True)
        self.v_max = self._zeros(self.amsgrad)

    def _hyper(self, *, betas: Any, eps: Any, weight_decay: Any, amsgrad: Any, maximize: Any,
               decoupled: Any) -> dict[str, Any]:
        h = _adam_hyper(0.0, betas, eps, weight_decay, decoupled, amsgrad, maximize)
        return dict(betas=(h["beta1"], h["beta2"]), eps=h["eps"], weight_decay=h["weight_decay"],
                    amsgrad=h["amsgrad"], maximize=h["maximize"], decoupled=h["decoupled"])

    @staticmethod
    def _structure(hyper: Mapping[str, Any]) -> tuple[Any, ...]:
        return (hyper["amsgrad"],)

    def _kernel(self, grads: list[Any], lr: float, t: int) -> int:
        return int(_dispatch.kernels.adam_step(
            self.params, grads, self.m, self.v, self.v_max, step=t, lr=lr, beta1=self.betas[0],
            beta2=self.betas[1], eps=self.eps, weight_decay=self.weight_decay,
            decoupled=self.decoupled, amsgrad=self.amsgrad, maximize=self.maximize))


class AdamW(Adam):
    """AdamW (Adam with decoupled weight decay) over a list of arrays, step for step ``torch.optim.AdamW``.

    :class:`Adam` with ``decoupled=True`` and torch's default ``weight_decay=1e-2``:
    each step first decays the parameters, :math:`\\theta \\leftarrow (1 - \\alpha\\lambda)\\theta`,
    then takes Adam's step on the gradient alone (see :func:`adam_update`).

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> w = np.array([1.0, -1.0])
    >>> opt = fl.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> opt.step([np.zeros(2)])         # no gradient: only the decay
    >>> w.tolist()
    [0.95, -0.95]
    """

    def __init__(self, params: _Params, lr: _LR = 1e-3, *, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled=True)


class RMSprop(_Adaptive):
    """RMSprop over a list of arrays, step for step ``torch.optim.RMSprop``.

    Each :meth:`step` applies :func:`rmsprop_update` to every parameter, in one
    kernel call; ``square_avg`` (and ``momentum_buffer`` with momentum,
    ``grad_avg`` when centered) are kept here, allocated once at zeros.

    Parameters
    ----------
    params : ndarray or sequence of ndarray
    lr : float >= 0 or LRSchedule
    alpha, eps, weight_decay, momentum, centered, maximize
        As in :func:`rmsprop_update`.

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> w = np.array([1.0, -1.0])
    >>> opt = fl.RMSprop([w], lr=0.01)
    >>> opt.step([2 * w])
    >>> w.round(4).tolist()
    [0.9, -0.9]
    """

    _STATES = ("square_avg", "momentum_buffer", "grad_avg")
    _hyper_names = ("alpha", "eps", "weight_decay", "momentum", "centered", "maximize")

    def __init__(self, params: _Params, lr: _LR = 1e-2, *, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 maximize: bool = False) -> None:
        self._set_params(params)
        self._apply_hyper(self._hyper(alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))
        self.lr = lr
        self.steps = 0
        self.square_avg = self._zeros(True)
        self.momentum_buffer = self._zeros(self.momentum > 0)
        self.grad_avg = self._zeros(self.centered)

    def _hyper(self, *, alpha: Any, eps: Any, weight_decay: Any, momentum: Any, centered: Any,
               maximize: Any) -> dict[str, Any]:
        h = _rmsprop_hyper(0.0, alpha, eps, weight_decay, momentum, centered, maximize)
        del h["lr"]
        return h

    @staticmethod
    def _structure(hyper: Mapping[str, Any]) -> tuple[Any, ...]:
        return (hyper["momentum"] > 0, hyper["centered"])

    def _kernel(self, grads: list[Any], lr: float, t: int) -> int:
        return int(_dispatch.kernels.rmsprop_step(
            self.params, grads, self.square_avg, self.grad_avg, self.momentum_buffer, lr=lr,
            alpha=self.alpha, eps=self.eps, weight_decay=self.weight_decay,
            momentum=self.momentum, centered=self.centered, maximize=self.maximize))


class Adagrad(_Adaptive):
    """Adagrad over a list of arrays, step for step ``torch.optim.Adagrad``.

    Each :meth:`step` applies :func:`adagrad_update` to every parameter, in one
    kernel call; the sums of squared gradients ``state_sum`` are kept here, started
    at ``initial_accumulator_value``, and :attr:`steps` counts the steps for
    ``lr_decay``.

    Parameters
    ----------
    params : ndarray or sequence of ndarray
    lr : float >= 0 or LRSchedule
    lr_decay, weight_decay, eps, maximize
        As in :func:`adagrad_update`.
    initial_accumulator_value : float >= 0
        The value ``state_sum`` starts at.

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> w = np.array([1.0, -1.0])
    >>> opt = fl.Adagrad([w], lr=0.1)
    >>> opt.step([2 * w])
    >>> w.round(4).tolist()
    [0.9, -0.9]
    """

    _STATES = ("state_sum",)
    _hyper_names = ("lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize")

    def __init__(self, params: _Params, lr: _LR = 1e-2, *, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, maximize: bool = False) -> None:
        self._set_params(params)
        self._apply_hyper(self._hyper(lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))
        self.lr = lr
        self.steps = 0
        self.state_sum = self._zeros(True, self.initial_accumulator_value)

    def _hyper(self, *, lr_decay: Any, weight_decay: Any, initial_accumulator_value: Any, eps: Any,
               maximize: Any) -> dict[str, Any]:
        h = _adagrad_hyper(0.0, lr_decay, weight_decay, eps, maximize)
        del h["lr"]
        h["initial_accumulator_value"] = v.finite_real(
            initial_accumulator_value, "initial_accumulator_value", low=0.0)
        return h

    def _kernel(self, grads: list[Any], lr: float, t: int) -> int:
        return int(_dispatch.kernels.adagrad_step(
            self.params, grads, self.state_sum, step=t, lr=lr, lr_decay=self.lr_decay,
            weight_decay=self.weight_decay, eps=self.eps, maximize=self.maximize))
