"""Learning-rate schedules: their formulas, their use by SGD, their bad input."""

import math

import numpy as np
import pytest

import fastloss as fl


def test_constant():
    s = fl.ConstantLR(0.3)
    assert [s(t) for t in (0, 1, 10**6)] == [0.3, 0.3, 0.3]


def test_step_decay():
    s = fl.StepLR(0.8, step_size=3, gamma=0.5)
    assert [s(t) for t in range(8)] == [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2]


@pytest.mark.parametrize("power", [0.0, 0.25, 0.5, 1.0])
def test_inverse_scaling(power):
    s = fl.InverseScalingLR(2.0, power=power)
    for t in (0, 1, 9, 99):
        assert s(t) == pytest.approx(2.0 / (t + 1) ** power, rel=1e-15)


@pytest.mark.parametrize("decay_steps", [0.5, 1, 10, 2e4])
def test_inverse_time(decay_steps):
    s = fl.InverseTimeLR(3.0, decay_steps=decay_steps)
    for t in (0, 1, 9, 99, 10**7):
        assert s(t) == pytest.approx(3.0 / (1 + t / decay_steps), rel=1e-15)
    assert s(0) == 3.0
    if decay_steps == int(decay_steps):
        assert s(int(decay_steps)) == 1.5  # halved after decay_steps steps


def test_cosine():
    s = fl.CosineLR(1.0, total_steps=100, min_lr=0.1)
    assert s(0) == 1.0
    assert s(50) == pytest.approx(0.55)
    assert s(100) == pytest.approx(0.1) and s(1000) == pytest.approx(0.1)
    values = [s(t) for t in range(101)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert s(25) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi / 4)) / 2)


def test_schedules_compare_and_repr():
    assert fl.StepLR(1.0, 2) == fl.StepLR(1.0, 2)
    assert fl.StepLR(1.0, 2) != fl.StepLR(1.0, 3)
    assert "CosineLR(lr=1.0, total_steps=5, min_lr=0.0)" == repr(fl.CosineLR(1.0, 5))


@pytest.mark.parametrize(
    "make, exc, msg",
    [
        (lambda: fl.ConstantLR(-1.0), ValueError, "lr must be in"),
        (lambda: fl.ConstantLR(float("inf")), ValueError, "lr must be finite"),
        (lambda: fl.StepLR(1.0, step_size=0), ValueError, "step_size must be a positive integer"),
        (lambda: fl.StepLR(1.0, step_size=2.5), ValueError, "step_size"),
        (lambda: fl.StepLR(1.0, 2, gamma=-0.1), ValueError, "gamma must be in"),
        (lambda: fl.InverseScalingLR(1.0, power=-1), ValueError, "power must be in"),
        (lambda: fl.InverseTimeLR(1.0, decay_steps=0), ValueError, "decay_steps must be > 0"),
        (lambda: fl.InverseTimeLR(1.0, decay_steps=-5), ValueError, "decay_steps must be in"),
        (lambda: fl.InverseTimeLR(-1.0, decay_steps=5), ValueError, "lr must be in"),
        (lambda: fl.CosineLR(1.0, total_steps=0), ValueError, "total_steps"),
        (lambda: fl.CosineLR(1.0, 10, min_lr=2.0), ValueError, "min_lr must be in"),
    ],
)
def test_bad_arguments(make, exc, msg):
    with pytest.raises(exc, match=msg):
        make()


@pytest.mark.parametrize("t", [-1, 1.5, "3", True])
def test_bad_step_count(t):
    with pytest.raises(ValueError, match="non-negative integer step count"):
        fl.ConstantLR(0.1)(t)


@pytest.mark.parametrize(
    "schedule",
    [fl.ConstantLR(0.1), fl.StepLR(0.1, 2, 0.5), fl.InverseScalingLR(0.1, 0.5),
     fl.InverseTimeLR(0.1, 3), fl.CosineLR(0.1, 4)],
    ids=lambda s: type(s).__name__,
)
def test_sgd_follows_schedule(schedule):
    """Stepping with gradient -1 moves the parameter by exactly Σ_t lr_t."""
    p = np.zeros(4)
    opt = fl.SGD([p], schedule)
    for _ in range(6):
        opt.step([-np.ones(4)])
    assert p == pytest.approx(np.full(4, sum(schedule(t) for t in range(6))), rel=1e-14)
    assert opt.lr == schedule(6)


def test_torch_step_lr_parity():
    torch = pytest.importorskip("torch")
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.3)
    ours = fl.StepLR(0.2, step_size=3, gamma=0.3)
    for t in range(10):
        assert ours(t) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
        opt.step()
        sched.step()
