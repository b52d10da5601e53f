"""fastloss.sgd_update and fastloss.SGD against the NumPy twin and torch.optim.SGD."""

import itertools

import numpy as np
import pytest

import fastloss as fl
from fastloss import reference as ref

from _strategies import torch_trajectory

# (momentum, dampening, nesterov, weight_decay, maximize): every combination torch allows
OPTIONS = [
    (mu, damp, nest, wd, mx)
    for mu, damp, nest, wd, mx in itertools.product(
        (0.0, 0.9), (0.0, 0.3), (False, True), (0.0, 0.01), (False, True)
    )
    if not (nest and (mu == 0.0 or damp != 0.0)) and not (mu == 0.0 and damp != 0.0)
]
OPTION_IDS = [f"mu{o[0]}-damp{o[1]}-nest{int(o[2])}-wd{o[3]}-max{int(o[4])}" for o in OPTIONS]
SHAPES = [(1,), (7,), (33,), (1000,), (17, 5), (2, 3, 4)]
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def _kw(opt):
    mu, damp, nest, wd, mx = opt
    return dict(momentum=mu, dampening=damp, nesterov=nest, weight_decay=wd, maximize=mx)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("opt", OPTIONS, ids=OPTION_IDS)
def test_matches_reference(isa, dtype, opt, shape, rng):
    kw = _kw(opt)
    p = rng.standard_normal(shape).astype(dtype)
    p_ref = p.copy()
    vel = np.zeros_like(p) if kw["momentum"] else None
    vel_ref = np.zeros_like(p) if kw["momentum"] else None
    for _ in range(5):
        g = rng.standard_normal(shape).astype(dtype)
        assert fl.sgd_update(p, g, lr=0.05, velocity=vel, **kw) is None
        ref.sgd_update(p_ref, g, lr=0.05, velocity=vel_ref, **kw)
    np.testing.assert_allclose(p, p_ref, rtol=RTOL[p.dtype], atol=RTOL[p.dtype])
    if vel is not None:
        np.testing.assert_allclose(vel, vel_ref, rtol=RTOL[p.dtype], atol=RTOL[p.dtype])


def test_plain_step_within_one_ulp(isa, dtype, rng):
    """Without momentum or decay, p - lr*g is within one ulp of NumPy's (FMA builds round once)."""
    p = rng.standard_normal(1001).astype(dtype)
    g = rng.standard_normal(1001).astype(dtype)
    expected = p - dtype(0.01) * g
    fl.sgd_update(p, g, lr=0.01)
    np.testing.assert_array_max_ulp(p, expected, maxulp=1)


def test_in_place_same_buffer(isa, dtype, rng):
    p = rng.standard_normal((64, 10)).astype(dtype)
    vel = np.zeros_like(p)
    addr_p, addr_v = p.ctypes.data, vel.ctypes.data
    before = p.copy()
    fl.sgd_update(p, np.ones_like(p), lr=0.1, momentum=0.9, velocity=vel)
    assert p.ctypes.data == addr_p and vel.ctypes.data == addr_v
    np.testing.assert_allclose(p, before - dtype(0.1))
    np.testing.assert_array_equal(vel, np.ones_like(p))


def test_empty_and_grad_is_param(isa, dtype):
    p = np.zeros((0, 3), dtype)
    fl.sgd_update(p, np.zeros((0, 3), dtype), lr=0.1)
    p = np.array([1.0, 2.0], dtype)
    fl.sgd_update(p, p, lr=0.5)  # p -= 0.5 p
    np.testing.assert_array_equal(p, np.array([0.5, 1.0], dtype))


def test_readonly_and_strided_grad_accepted(isa, dtype, rng):
    p = rng.standard_normal(10).astype(dtype)
    p2 = p.copy()
    big = rng.standard_normal(20).astype(dtype)
    g = big[::2]
    g.flags.writeable = False
    fl.sgd_update(p, g, lr=0.1)
    ref.sgd_update(p2, g, lr=0.1)
    np.testing.assert_array_max_ulp(p, p2, maxulp=1)


def test_nan_propagates(isa, dtype):
    p = np.zeros(5, dtype)
    g = np.array([0, np.nan, 0, np.inf, 0], dtype)
    fl.sgd_update(p, g, lr=1.0)
    assert np.isnan(p[1]) and p[3] == -np.inf and (p[[0, 2, 4]] == 0).all()


# --------------------------------------------------------------------------
# Bad input: a clear error and nothing touched


def _bad_calls(dtype):
    p = lambda: np.ones((4, 3), dtype)  # noqa: E731
    g = np.ones((4, 3), dtype)
    other = np.float64 if dtype == np.float32 else np.float32
    ro = p()
    ro.flags.writeable = False
    nc = np.ones((4, 6), dtype)[:, ::2]
    return [
        ("shape", ValueError, "grad must have shape", p(), np.ones((3, 4), dtype), {}),
        ("dtype", TypeError, "grad must have dtype", p(), g.astype(other), {}),
        ("int param", TypeError, "param must be a float32 or float64", np.ones(3, np.int64), np.ones(3), {}),
        ("list param", TypeError, "param must be a numpy.ndarray", [1.0, 2.0], np.ones(2), {}),
        ("non-contiguous", ValueError, "param must be C-contiguous", nc, np.ones((4, 3), dtype), {}),
        ("read-only", ValueError, "param must be writeable", ro, g, {}),
        ("lr<0", ValueError, "lr must be in", p(), g, {"lr": -0.1}),
        ("lr nan", ValueError, "lr must be finite", p(), g, {"lr": float("nan")}),
        ("lr inf", ValueError, "lr must be finite", p(), g, {"lr": float("inf")}),
        ("lr str", TypeError, "lr must be a real number", p(), g, {"lr": "big"}),
        ("momentum<0", ValueError, "momentum must be in", p(), g, {"momentum": -1.0}),
        ("nesterov no momentum", ValueError, "nesterov=True requires momentum", p(), g, {"nesterov": True}),
        ("nesterov dampening", ValueError, "nesterov=True requires", p(), g,
         {"nesterov": True, "momentum": 0.9, "dampening": 0.1, "velocity": np.zeros((4, 3), dtype)}),
        ("velocity missing", ValueError, "velocity is required", p(), g, {"momentum": 0.9}),
        ("velocity unused", ValueError, "momentum is 0", p(), g, {"velocity": np.zeros((4, 3), dtype)}),
        ("velocity shape", ValueError, "velocity must have shape", p(), g,
         {"momentum": 0.9, "velocity": np.zeros(12, dtype)}),
        ("velocity dtype", TypeError, "velocity must have dtype", p(), g,
         {"momentum": 0.9, "velocity": np.zeros((4, 3), other)}),
        ("weight_decay<0", ValueError, "weight_decay must be in", p(), g, {"weight_decay": -1e-3}),
        ("dampening>1", ValueError, "dampening must be in", p(), g, {"dampening": 2.0}),
        ("maximize int", TypeError, "maximize must be True or False", p(), g, {"maximize": 1}),
    ]


@pytest.mark.parametrize("i", range(20))
def test_bad_input_leaves_param_untouched(dtype, i):
    name, exc, msg, param, grad, kw = _bad_calls(dtype)[i]
    kw = {"lr": 0.1, **kw}
    before = np.array(param, copy=True)
    vel = kw.get("velocity")
    vel_before = None if vel is None else vel.copy()
    with pytest.raises(exc, match=msg):
        fl.sgd_update(param, grad, **kw)
    np.testing.assert_array_equal(np.asarray(param), before)
    if vel is not None:
        np.testing.assert_array_equal(vel, vel_before)


def test_velocity_aliasing_param_rejected(dtype):
    p = np.ones(6, dtype)
    with pytest.raises(ValueError, match="must not share memory"):
        fl.sgd_update(p, np.ones(6, dtype), lr=0.1, momentum=0.9, velocity=p)
    np.testing.assert_array_equal(p, np.ones(6, dtype))


def test_grad_partially_overlapping_param_rejected(dtype):
    buf = np.arange(8, dtype=dtype)
    before = buf.copy()
    with pytest.raises(ValueError, match="overlaps"):
        fl.sgd_update(buf[:6], buf[2:], lr=0.1)
    np.testing.assert_array_equal(buf, before)


# --------------------------------------------------------------------------
# SGD


@pytest.mark.parametrize("opt", OPTIONS, ids=OPTION_IDS)
def test_sgd_matches_torch(isa, dtype, opt, rng):
    torch = pytest.importorskip("torch")
    kw = _kw(opt)
    params0 = [rng.standard_normal((13, 7)).astype(dtype), rng.standard_normal(7).astype(dtype)]
    grads_seq = [[rng.standard_normal(p.shape).astype(dtype) for p in params0] for _ in range(6)]
    lrs = [0.1, 0.1, 0.05, 0.05, 0.2, 0.01]
    expected = torch_trajectory(torch, torch.optim.SGD, params0, grads_seq, lrs, foreach=False,
                                **kw)
    params = [p.copy() for p in params0]
    addrs = [p.ctypes.data for p in params]
    sgd = fl.SGD(params, 0.1, **kw)
    for k, grads in enumerate(grads_seq):
        sgd.lr = lrs[k]
        sgd.step(grads)
        for p, e in zip(params, expected[k]):
            np.testing.assert_allclose(p, e, rtol=RTOL[p.dtype] * 10, atol=RTOL[p.dtype] * 10)
    assert [p.ctypes.data for p in params] == addrs
    assert sgd.steps == 6


@pytest.mark.parametrize("opt", OPTIONS, ids=OPTION_IDS)
def test_sgd_matches_reference_with_first_step_rule(isa, opt, rng):
    """SGD = the twin with v = g on the first step (the twin's v starts at zeros)."""
    kw = _kw(opt)
    p = rng.standard_normal(50)
    p_ref = p.copy()
    sgd = fl.SGD([p], 0.1, **kw)
    vel = None
    for k in range(4):
        g = rng.standard_normal(50)
        sgd.step([g])
        if kw["momentum"] and k == 0:
            # torch's first step: v = g (no dampening)
            gg = (-g if kw["maximize"] else g) + kw["weight_decay"] * p_ref
            vel = gg.copy()
            p_ref -= 0.1 * (gg + kw["momentum"] * vel if kw["nesterov"] else vel)
        else:
            ref.sgd_update(p_ref, g, lr=0.1, velocity=vel, **kw)
    np.testing.assert_allclose(p, p_ref, rtol=1e-12, atol=1e-12)


def test_sgd_state_dict_round_trip(rng):
    p0 = rng.standard_normal((5, 4))
    grads = [rng.standard_normal((5, 4)) for _ in range(6)]
    a = p0.copy()
    opt_a = fl.SGD([a], 0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
    for g in grads[:3]:
        opt_a.step([g])
    state = opt_a.state_dict()
    snapshot = a.copy()
    for g in grads[3:]:
        opt_a.step([g])

    b = snapshot.copy()
    opt_b = fl.SGD([b], 0.5, momentum=0.5)
    vel_addr = opt_b.velocity[0].ctypes.data
    opt_b.load_state_dict(state)
    assert opt_b.steps == 3 and opt_b.lr == 0.1 and opt_b.nesterov
    assert opt_b.velocity[0].ctypes.data == vel_addr
    for g in grads[3:]:
        opt_b.step([g])
    np.testing.assert_array_equal(a, b)
    # the state is a copy, not a view of the live buffers
    state["velocity"][0][...] = 123.0
    assert not (opt_b.velocity[0] == 123.0).any()


def test_sgd_load_state_dict_rejects_mismatch(rng):
    p = np.zeros((5, 4))
    opt = fl.SGD([p], 0.1, momentum=0.9)
    state = opt.state_dict()
    state["velocity"] = [np.zeros((4, 5))]
    with pytest.raises(ValueError, match="velocity"):
        opt.load_state_dict(state)
    no_momentum = fl.SGD([np.zeros((5, 4))], 0.1).state_dict()
    with pytest.raises(ValueError, match="momentum"):
        opt.load_state_dict(no_momentum)
    assert opt.momentum == 0.9 and opt.lr == 0.1


def test_sgd_bad_grads_leave_every_param_untouched(dtype, rng):
    a, b = np.ones(3, dtype), np.ones((2, 2), dtype)
    opt = fl.SGD([a, b], 0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"grads\[1\] must have shape"):
        opt.step([np.ones(3, dtype), np.ones(4, dtype)])
    with pytest.raises(ValueError, match="grads must hold 2 arrays"):
        opt.step([np.ones(3, dtype)])
    with pytest.raises(TypeError, match=r"grads\[0\] must have dtype"):
        opt.step([np.ones(3, np.float16), np.ones((2, 2), dtype)])
    assert (a == 1).all() and (b == 1).all() and opt.steps == 0
    assert (opt.velocity[0] == 0).all()


def test_sgd_bad_construction():
    with pytest.raises(ValueError, match="nesterov"):
        fl.SGD([np.zeros(2)], 0.1, nesterov=True)
    with pytest.raises(ValueError, match="lr must be"):
        fl.SGD([np.zeros(2)], -1.0)
    with pytest.raises(ValueError, match=r"params\[0\] must be writeable"):
        ro = np.zeros(2)
        ro.flags.writeable = False
        fl.SGD([ro], 0.1)
    with pytest.raises(ValueError, match="shares memory"):
        z = np.zeros(4)
        fl.SGD([z[:2], z], 0.1)
    with pytest.raises(ValueError, match="at least one"):
        fl.SGD([], 0.1)
    opt = fl.SGD(np.zeros(2), 0.1)
    with pytest.raises(ValueError, match="lr must be finite"):
        opt.lr = float("nan")
    assert opt.lr == 0.1


def test_sgd_with_schedule_uses_step_count(rng):
    p = np.zeros(3)
    sched = fl.StepLR(1.0, step_size=2, gamma=0.5)
    opt = fl.SGD([p], sched)
    for _ in range(5):
        opt.step([-np.ones(3)])  # p += lr
    assert p[0] == 1.0 + 1.0 + 0.5 + 0.5 + 0.25
    assert opt.lr == 0.25 and opt.schedule is sched
    opt.lr = 0.01  # a float replaces the schedule
    assert opt.schedule is None and opt.lr == 0.01


# --------------------------------------------------------------------------
# The fast entry (kernels/fastpath.pxi): the common call checked in C
# --------------------------------------------------------------------------


class _Sub(np.ndarray):
    pass


def _fast(*args):
    from fastloss import _dispatch as dispatch

    return dispatch.kernels.sgd_update_fast(*args)


@pytest.mark.parametrize("shape", [(1,), (37,), (3, 5, 7)])
@pytest.mark.parametrize("opt", OPTIONS, ids=OPTION_IDS)
def test_fast_entry_gives_the_full_paths_result(isa, dtype, opt, shape, rng):
    kw = _kw(opt)
    w = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    v = rng.standard_normal(shape).astype(dtype) if kw["momentum"] > 0 else None
    w2, v2 = w.copy(), None if v is None else v.copy()
    args = (0.05, kw["momentum"], v, kw["dampening"], kw["weight_decay"], kw["nesterov"],
            kw["maximize"])
    assert _fast(w, g, *args) is True
    # grad as an ndarray subclass declines the fast entry: the full path, the same kernel
    fl.sgd_update(w2, g.view(_Sub), lr=0.05, velocity=v2, **kw)
    np.testing.assert_array_equal(w, w2)
    if v is not None:
        np.testing.assert_array_equal(v, v2)


def test_fast_entry_declines_what_it_does_not_check(rng):
    w = rng.standard_normal(10).astype(np.float32)
    g = rng.standard_normal(10).astype(np.float32)
    v = np.zeros(10, np.float32)
    ro = w.copy()
    ro.flags.writeable = False
    base = (w, g, 0.1, 0.9, v, 0.0, 0.0, False, False)
    declined = {
        "param read-only": (ro,) + base[1:],
        "param list": (w.tolist(),) + base[1:],
        "param strided": (np.repeat(w, 2)[::2],) + base[1:],
        "grad float64": (w, g.astype(np.float64)) + base[2:],
        "grad shape": (w, g.reshape(2, 5)) + base[2:],
        "lr negative": (w, g, -0.1) + base[3:],
        "lr string": (w, g, "0.1") + base[3:],
        "momentum without velocity": (w, g, 0.1, 0.9, None) + base[5:],
        "velocity without momentum": (w, g, 0.1, 0.0, v) + base[5:],
        "velocity is param": (w, g, 0.1, 0.9, w) + base[5:],
        "dampening > 1": base[:5] + (1.5,) + base[6:],
        "nesterov with dampening": base[:5] + (0.5, 0.0, True, False),
        "nesterov 1": base[:7] + (1, False),
        "maximize None": base[:8] + (None,),
    }
    before = w.copy()
    for what, args in declined.items():
        assert _fast(*args) is None, what
    np.testing.assert_array_equal(w, before)
    assert not v.any()
    shared = np.zeros(20, np.float32)  # grad partly overlapping param
    assert _fast(shared[:10], shared[5:15], 0.1, 0.0, None, 0.0, 0.0, False, False) is None
    with pytest.raises(ValueError, match="lr"):
        fl.sgd_update(w, g, lr=-0.1)
