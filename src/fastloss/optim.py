"""Stochastic gradient descent: the in-place update kernel, an optimiser, schedules.

:func:`sgd_update` hands its common call (ndarrays in kernel form) to a fast
entry that checks and runs it in C (kernels/fastpath.pxi); any other call is
checked here once (see _validation.py) and calls the kernel of the build in
use (_dispatch.py).  The kernel is in kernels/sgd.pxi, its NumPy twin in
:func:`fastloss.reference.sgd_update`.
:class:`SGD` keeps the momentum state of a list of parameters and follows
``torch.optim.SGD`` step for step; the learning-rate schedules
(:class:`ConstantLR`, :class:`StepLR`, :class:`InverseScalingLR`,
:class:`InverseTimeLR`, :class:`CosineLR`) are small callables ``t -> learning rate`` that an
:class:`SGD` evaluates at its step count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _dispatch
from . import _validation as v
from ._validation import FLOAT_DTYPES

__all__ = [
    "SGD",
    "ConstantLR",
    "CosineLR",
    "InverseScalingLR",
    "InverseTimeLR",
    "LRSchedule",
    "StepLR",
    "sgd_update",
]


# --------------------------------------------------------------------------
# Validation


def _param(param, name="param"):
    """A float32/float64 ndarray updated in place: C-contiguous, writeable, never copied."""
    if not isinstance(param, np.ndarray):
        raise TypeError(
            f"{name} must be a numpy.ndarray (it is updated in place), got {type(param).__name__}"
        )
    if param.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be a float32 or float64 array, got dtype {param.dtype}")
    if not param.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (it is updated in place, never copied)")
    if not param.flags.writeable:
        raise ValueError(f"{name} must be writeable (it is updated in place)")
    return param


def _grad(grad, param, name="grad", pname="param"):
    """``grad`` as a C-contiguous array of param's dtype and shape (copied only if strided)."""
    g = np.asarray(grad)
    if g.dtype != param.dtype:
        raise TypeError(f"{name} must have dtype {param.dtype} (that of {pname}), got {g.dtype}")
    if g.shape != param.shape:
        raise ValueError(f"{name} must have shape {param.shape} (that of {pname}), got {g.shape}")
    if not g.flags.c_contiguous:
        g = np.ascontiguousarray(g)
    elif np.may_share_memory(g, param) and not _same_buffer(g, param):
        raise ValueError(f"{name} overlaps {pname} without being the same array")
    return g


def _same_buffer(a, b):
    return a.__array_interface__["data"][0] == b.__array_interface__["data"][0] and a.strides == b.strides


def _velocity(velocity, param, grad, name="velocity", pname="param"):
    _param(velocity, name)
    if velocity.dtype != param.dtype:
        raise TypeError(
            f"{name} must have dtype {param.dtype} (that of {pname}), got {velocity.dtype}"
        )
    if velocity.shape != param.shape:
        raise ValueError(
            f"{name} must have shape {param.shape} (that of {pname}), got {velocity.shape}"
        )
    if np.may_share_memory(velocity, param) or np.may_share_memory(velocity, grad):
        raise ValueError(f"{name} must not share memory with {pname} or the gradient")
    return velocity


def _hyper(lr, momentum, dampening, weight_decay, nesterov, maximize):
    """Checked hyper-parameters as Python floats and bools."""
    lr = v.finite_real(lr, "lr", low=0.0)
    momentum = v.finite_real(momentum, "momentum", low=0.0)
    dampening = v.finite_real(dampening, "dampening", low=0.0, high=1.0)
    weight_decay = v.finite_real(weight_decay, "weight_decay", low=0.0)
    nesterov = v.flag(nesterov, "nesterov")
    maximize = v.flag(maximize, "maximize")
    if nesterov and (momentum <= 0.0 or dampening != 0.0):
        raise ValueError(
            "nesterov=True requires momentum > 0 and dampening = 0 "
            f"(got momentum={momentum!r}, dampening={dampening!r})"
        )
    return lr, momentum, dampening, weight_decay, nesterov, maximize


# --------------------------------------------------------------------------
# The update


def sgd_update(
    param: npt.NDArray[np.floating[Any]],
    grad: npt.ArrayLike,
    *,
    lr: float,
    momentum: float = 0.0,
    velocity: npt.NDArray[np.floating[Any]] | None = None,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> None:
    """One SGD step, in place, in a single pass over memory (torch.optim.SGD's rule).

    .. math::

        g &= \\pm\\nabla + \\lambda\\,\\theta \\\\
        v &\\leftarrow \\mu v + (1 - \\tau)\\, g \\quad (\\text{if } \\mu > 0) \\\\
        \\theta &\\leftarrow \\theta - \\alpha \\cdot
            \\begin{cases} g + \\mu v & \\text{nesterov} \\\\ v & \\mu > 0 \\\\ g & \\mu = 0 \\end{cases}

    with learning rate :math:`\\alpha` (``lr``), momentum :math:`\\mu`,
    dampening :math:`\\tau`, weight decay :math:`\\lambda` and :math:`-\\nabla`
    when ``maximize``.  ``param`` (and ``velocity``) are read and written once,
    ``grad`` read once, and no temporary array is made.  The velocity is the
    caller's (start it at zeros); :class:`SGD` keeps it for you and also
    applies torch's first-step rule (:math:`v = g` on the first step).

    Parameters
    ----------
    param : ndarray of float32 or float64, any shape
        Updated in place: C-contiguous and writeable (never copied).
    grad : array_like, same dtype and shape as ``param``
        May be read-only; a strided ``grad`` is copied first.
    lr : float >= 0
    momentum : float >= 0
    velocity : ndarray, same dtype and shape as ``param``, required if momentum > 0
        Updated in place; C-contiguous, writeable, sharing no memory with
        ``param`` or ``grad``.
    dampening : float in [0, 1]
    weight_decay : float >= 0
    nesterov : bool
        Nesterov momentum; needs momentum > 0 and dampening = 0.
    maximize : bool
        Ascend instead of descend.

    Returns
    -------
    None

    Raises
    ------
    TypeError, ValueError
        For a bad argument (naming it); ``param`` and ``velocity`` are then untouched.

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> w = np.array([1.0, 2.0]); v = np.zeros(2)
    >>> fl.sgd_update(w, np.array([0.5, -1.0]), lr=0.1, momentum=0.9, velocity=v)
    >>> w.tolist(), v.tolist()
    ([0.95, 2.1], [0.5, -1.0])
    """
    if _dispatch.kernels.sgd_update_fast(
        param, grad, lr, momentum, velocity, dampening, weight_decay, nesterov, maximize
    ):  # the common call, checked and run in C (see kernels/fastpath.pxi)
        return
    _param(param)
    g = _grad(grad, param)
    lr, momentum, dampening, weight_decay, nesterov, maximize = _hyper(
        lr, momentum, dampening, weight_decay, nesterov, maximize
    )
    if momentum > 0.0:
        if velocity is None:
            raise ValueError("velocity is required when momentum > 0 (start it at np.zeros_like(param))")
        vel = _velocity(velocity, param, g).reshape(-1)
    else:
        if velocity is not None:
            raise ValueError("velocity was given but momentum is 0: it would be ignored")
        vel = None
    _dispatch.kernels.sgd_update(
        param.reshape(-1), g.reshape(-1), velocity=vel, lr=lr, momentum=momentum, dampening=dampening,
        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
    )


# --------------------------------------------------------------------------
# Learning-rate schedules


class LRSchedule:
    """A learning rate as a function of the step count ``t`` (0 for the first step).

    Subclasses implement ``__call__(t) -> float``.  An :class:`SGD` given a
    schedule as ``lr`` uses ``schedule(opt.steps)`` at each step.
    """

    def __call__(self, t: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={val!r}" for k, val in vars(self).items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(vars(self).items()))))


def _step(t):
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0:
        raise ValueError(f"t must be a non-negative integer step count, got {t!r}")
    return int(t)


class ConstantLR(LRSchedule):
    """η_t = η0.

    >>> ConstantLR(0.1)(1000)
    0.1
    """

    def __init__(self, lr: float) -> None:
        self.lr = v.finite_real(lr, "lr", low=0.0)

    def __call__(self, t: int) -> float:
        _step(t)
        return self.lr


class StepLR(LRSchedule):
    """Step decay: η_t = η0 · γ^⌊t / step_size⌋.

    >>> s = StepLR(1.0, step_size=10, gamma=0.5)
    >>> s(0), s(9), s(10), s(25)
    (1.0, 1.0, 0.5, 0.25)
    """

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1) -> None:
        self.lr = v.finite_real(lr, "lr", low=0.0)
        self.step_size = v.positive_int(step_size, "step_size")
        self.gamma = v.finite_real(gamma, "gamma", low=0.0)

    def __call__(self, t: int) -> float:
        return self.lr * self.gamma ** (_step(t) // self.step_size)


class InverseScalingLR(LRSchedule):
    """Inverse scaling: η_t = η0 / (t + 1)^power (scikit-learn's ``"invscaling"``).

    >>> s = InverseScalingLR(1.0, power=0.5)
    >>> s(0), s(3)
    (1.0, 0.5)
    """

    def __init__(self, lr: float, power: float = 0.5) -> None:
        self.lr = v.finite_real(lr, "lr", low=0.0)
        self.power = v.finite_real(power, "power", low=0.0)

    def __call__(self, t: int) -> float:
        return self.lr / (_step(t) + 1) ** self.power


class InverseTimeLR(LRSchedule):
    """Inverse-time decay: η_t = η0 / (1 + t / decay_steps).

    The rate halves after ``decay_steps`` steps and falls as 1/t after that:
    Bottou's SGD schedule, Keras's ``InverseTimeDecay``, and the form of
    scikit-learn's ``"optimal"`` rate (η0 = 1/(α·t0), decay_steps = t0).  On
    sparse text data it lets the first steps be large and the model settle.

    >>> s = InverseTimeLR(1.0, decay_steps=10)
    >>> s(0), s(10), s(30)
    (1.0, 0.5, 0.25)
    """

    def __init__(self, lr: float, decay_steps: float) -> None:
        self.lr = v.finite_real(lr, "lr", low=0.0)
        self.decay_steps = v.finite_real(decay_steps, "decay_steps", low=0.0)
        if self.decay_steps == 0.0:
            raise ValueError("decay_steps must be > 0, got 0.0")

    def __call__(self, t: int) -> float:
        return self.lr / (1.0 + _step(t) / self.decay_steps)


class CosineLR(LRSchedule):
    """Cosine annealing: η_t = η_min + (η0 − η_min)(1 + cos(π t / T)) / 2, then η_min for t ≥ T.

    >>> s = CosineLR(1.0, total_steps=10)
    >>> s(0), round(s(5), 12), s(10), s(99)
    (1.0, 0.5, 0.0, 0.0)
    """

    def __init__(self, lr: float, total_steps: int, min_lr: float = 0.0) -> None:
        self.lr = v.finite_real(lr, "lr", low=0.0)
        self.total_steps = v.positive_int(total_steps, "total_steps")
        self.min_lr = v.finite_real(min_lr, "min_lr", low=0.0, high=self.lr)

    def __call__(self, t: int) -> float:
        t = min(_step(t), self.total_steps)
        cos = 0.5 * (1.0 + math.cos(math.pi * t / self.total_steps))
        return self.min_lr + (self.lr - self.min_lr) * cos


# --------------------------------------------------------------------------
# What the optimisers share


class _Optimizer:
    """The parameters, the learning rate (or its schedule) and the gradients' checks
    of every optimiser: :class:`SGD` here; ``Adam``, ``AdamW``, ``RMSprop`` and
    ``Adagrad`` in adaptive.py."""

    params: list[npt.NDArray[np.floating[Any]]]
    steps: int
    _lr: float | None
    _schedule: Callable[[int], float] | None

    def _set_params(self, params: npt.NDArray[np.floating[Any]] | Iterable[npt.NDArray[np.floating[Any]]]) -> None:
        if isinstance(params, np.ndarray):
            params = [params]
        params = list(params)
        if not params:
            raise ValueError("params must hold at least one array")
        for i, p in enumerate(params):
            _param(p, f"params[{i}]")
        for i in range(len(params)):
            for j in range(i):
                if np.may_share_memory(params[i], params[j]):
                    raise ValueError(f"params[{i}] shares memory with params[{j}]")
        self.params = params

    @property
    def lr(self) -> float:
        """The learning rate of the next step (a schedule's value at :attr:`steps`)."""
        if self._schedule is not None:
            return self._schedule(self.steps)
        assert self._lr is not None
        return self._lr

    @lr.setter
    def lr(self, value: float | LRSchedule | Callable[[int], float]) -> None:
        if isinstance(value, LRSchedule) or (callable(value) and not isinstance(value, (int, float))):
            self._schedule = value
            self._lr = None
        else:
            self._lr = v.finite_real(value, "lr", low=0.0)
            self._schedule = None

    @property
    def schedule(self) -> Callable[[int], float] | None:
        """The learning-rate schedule, or None for a constant ``lr``."""
        return self._schedule

    def _lr_state(self) -> Any:
        """``lr`` as a state dict keeps it: the schedule, or the float."""
        return self._schedule if self._schedule is not None else self._lr

    def _step_lr(self) -> float:
        """The learning rate of the step about to be taken, checked."""
        return v.finite_real(self.lr, "lr", low=0.0)

    def _grad_list(self, grads: Iterable[npt.ArrayLike]) -> list[Any]:
        """``grads`` as a list of one gradient per parameter (an array alone for one parameter)."""
        if isinstance(grads, np.ndarray) and len(self.params) == 1:
            grads = [grads]
        grads = list(grads)
        if len(grads) != len(self.params):
            raise ValueError(f"grads must hold {len(self.params)} arrays (one per param), got {len(grads)}")
        return grads

    def _checked_grads(self, grads: list[Any]) -> list[npt.NDArray[np.floating[Any]]]:
        """Every gradient checked against its parameter (errors name it), C-contiguous."""
        return [_grad(g, p, f"grads[{i}]", f"params[{i}]")
                for i, (p, g) in enumerate(zip(self.params, grads))]


# --------------------------------------------------------------------------
# The optimiser


class SGD(_Optimizer):
    """Stochastic gradient descent over a list of arrays, step for step ``torch.optim.SGD``.

    Each :meth:`step` applies :func:`sgd_update` to every parameter with its
    gradient, in place.  The momentum buffers are kept here (allocated once)
    and follow torch's rule: on the first step the buffer is set to the
    gradient, afterwards :math:`v = \\mu v + (1 - \\tau) g`.  So for the same
    inputs the trajectory equals torch's up to rounding.

    Parameters
    ----------
    params : ndarray or sequence of ndarray
        float32/float64, C-contiguous, writeable; updated in place.
    lr : float >= 0 or LRSchedule
        A schedule is evaluated at the step count (0 for the first step).
        ``opt.lr`` may be reassigned between steps.
    momentum, dampening, weight_decay, nesterov, maximize
        As in :func:`sgd_update`.

    Attributes
    ----------
    steps : int
        Steps taken so far.

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> w = np.array([1.0, -1.0])
    >>> opt = fl.SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.step([2 * w])           # gradient of Σ w²
    >>> w.round(4).tolist()
    [0.46, -0.46]
    """

    def __init__(self, params: npt.NDArray[np.floating[Any]] | Iterable[npt.NDArray[np.floating[Any]]],
                 lr: float | LRSchedule | Callable[[int], float], *, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, maximize: bool = False) -> None:
        self._set_params(params)
        (_, self.momentum, self.dampening, self.weight_decay, self.nesterov,
         self.maximize) = _hyper(0.0, momentum, dampening, weight_decay, nesterov, maximize)
        self.lr = lr
        self.steps = 0
        params = self.params
        self._velocity = [np.zeros_like(p) for p in params] if self.momentum > 0 else None
        # flat views made once: a step allocates no array
        self._flat_params = [p.reshape(-1) for p in params]
        self._flat_velocity = (
            [b.reshape(-1) for b in self._velocity] if self._velocity is not None
            else [None] * len(params)
        )

    def step(self, grads: Iterable[npt.ArrayLike]) -> None:
        """Update every parameter in place with its gradient.

        Parameters
        ----------
        grads : sequence of array_like
            One per parameter, same dtype and shape.  Everything is checked
            before anything is written.
        """
        flat = [g.reshape(-1) for g in self._checked_grads(self._grad_list(grads))]
        lr = self._step_lr()
        first = self.steps == 0
        for p, g, b in zip(self._flat_params, flat, self._flat_velocity):
            _dispatch.kernels.sgd_update(
                p, g, velocity=b, lr=lr, momentum=self.momentum, dampening=self.dampening,
                weight_decay=self.weight_decay, nesterov=self.nesterov, maximize=self.maximize,
                first_step=first,
            )
        self.steps += 1

    def zero_velocity(self) -> None:
        """Forget the momentum (the next step is a first step again)."""
        if self._velocity is not None:
            for b in self._velocity:
                b.fill(0)
        self.steps = 0

    @property
    def velocity(self) -> list[npt.NDArray[np.floating[Any]]] | None:
        """The momentum buffers (live arrays), or None without momentum."""
        return self._velocity

    def state_dict(self) -> dict[str, Any]:
        """The optimiser's state: hyper-parameters, step count and copies of the buffers."""
        return {
            "lr": self._lr_state(),
            "momentum": self.momentum,
            "dampening": self.dampening,
            "weight_decay": self.weight_decay,
            "nesterov": self.nesterov,
            "maximize": self.maximize,
            "steps": self.steps,
            "velocity": None if self._velocity is None else [b.copy() for b in self._velocity],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` (copied into this optimiser's own buffers)."""
        try:
            momentum = state["momentum"]
            vel = state["velocity"]
            steps = state["steps"]
            hyper = _hyper(0.0, momentum, state["dampening"], state["weight_decay"],
                           state["nesterov"], state["maximize"])
            lr = state["lr"]
        except KeyError as e:
            raise ValueError(f"state is missing {e.args[0]!r}") from None
        if (vel is None) != (self._velocity is None):
            raise ValueError("state's momentum setting does not match this optimiser's buffers")
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
            raise ValueError(f"state['steps'] must be a non-negative integer, got {steps!r}")
        if vel is not None:
            if len(vel) != len(self._velocity):
                raise ValueError(f"state holds {len(vel)} velocity buffers, expected {len(self._velocity)}")
            for i, (src, dst) in enumerate(zip(vel, self._velocity)):
                src = np.asarray(src)
                if src.dtype != dst.dtype or src.shape != dst.shape:
                    raise ValueError(
                        f"state['velocity'][{i}] has dtype {src.dtype} and shape {src.shape}; "
                        f"expected {dst.dtype} and {dst.shape}"
                    )
        if hyper[1] > 0 and self._velocity is None:
            raise ValueError("state has momentum > 0 but this optimiser has no velocity buffers")
        old_lr = (self._lr, self._schedule)
        self.lr = lr
        if hyper[1] == 0 and self._velocity is not None:
            self._lr, self._schedule = old_lr
            raise ValueError("state has momentum 0 but this optimiser keeps velocity buffers")
        (_, self.momentum, self.dampening, self.weight_decay, self.nesterov, self.maximize) = hyper
        self.steps = int(steps)
        if vel is not None:
            for src, dst in zip(vel, self._velocity):
                np.copyto(dst, src)
