"""The adaptive optimizers (adaptive.py): adam_update, rmsprop_update, adagrad_update and
Adam, AdamW, RMSprop, Adagrad, against their NumPy twins and torch.optim (skipped
without torch), for every option combination, float32 and float64."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastloss as fl
from fastloss import _dispatch
from fastloss import _threads
from fastloss import reference as ref

from _strategies import HYP, torch_trajectory

SHAPES = [(1,), (7,), (33,), (17, 5), (2, 3, 4)]
#: Trajectory tolerances: many steps of rounding-level differences (torch divides by
#: sqrt(1 - β2^t) where the kernels multiply by its inverse, and fuses differently).
#: float32's atol is set by the worst-conditioned case, centered RMSprop with α = 0.3
#: (sqrt(s − ḡ²) of a small variance): there the NumPy twin itself ends 4.7e-6 from
#: torch after 40 steps (fastloss 3.1e-6), torch's foreach and single-tensor paths 0.
TRAJ = {np.dtype(np.float32): dict(rtol=2e-5, atol=1e-5),
        np.dtype(np.float64): dict(rtol=1e-11, atol=1e-12)}
STEPS = 40

# ---- the option combinations ------------------------------------------------------------

ADAM = [dict(betas=b, weight_decay=wd, decoupled=dec, amsgrad=ams, maximize=mx)
        for b, wd, dec, ams, mx in itertools.product(
            ((0.9, 0.999), (0.3, 0.6)), (0.0, 0.1), (False, True), (False, True), (False, True))
        if not (dec and wd == 0.0)]
RMSPROP = [dict(alpha=a, weight_decay=wd, momentum=mu, centered=c, maximize=mx)
           for a, wd, mu, c, mx in itertools.product(
               (0.99, 0.3), (0.0, 0.1), (0.0, 0.9), (False, True), (False, True))]
ADAGRAD = [dict(lr_decay=d, weight_decay=wd, initial_accumulator_value=iv, maximize=mx)
           for d, wd, iv, mx in itertools.product((0.0, 0.1), (0.0, 0.1), (0.0, 0.5), (False, True))]


def _ids(options):
    return ["-".join(f"{k}={v}" for k, v in o.items()) for o in options]


def _grads(rng, shapes, dtype, steps=STEPS):
    return [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(steps)]


# ---- the functional updates against their twins -------------------------------------------

def _run_adam(update, p, grads, kw, lr=0.01):
    m, v = np.zeros_like(p), np.zeros_like(p)
    vmax = np.zeros_like(p) if kw["amsgrad"] else None
    for t, (g,) in enumerate(grads, 1):
        update(p, g, m, v, step=t, lr=lr, v_max=vmax, **kw)
    return p, m, v, vmax


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kw", ADAM, ids=_ids(ADAM))
def test_adam_update_matches_reference(isa, dtype, kw, shape, rng):
    p0 = rng.standard_normal(shape).astype(dtype)
    grads = _grads(rng, [shape], dtype, 8)
    got = _run_adam(fl.adam_update, p0.copy(), grads, kw)
    want = _run_adam(ref.adam_update, p0.copy(), grads, kw)
    for a, b in zip(got, want):
        if b is not None:
            np.testing.assert_allclose(a, b, **TRAJ[np.dtype(dtype)])


def _run_rmsprop(update, p, grads, kw, lr=0.01):
    kw = dict(kw)
    sq = np.zeros_like(p)
    buf = np.zeros_like(p) if kw["momentum"] > 0 else None
    gavg = np.zeros_like(p) if kw["centered"] else None
    for (g,) in grads:
        update(p, g, sq, lr=lr, momentum_buffer=buf, grad_avg=gavg, **kw)
    return p, sq, buf, gavg


@pytest.mark.parametrize("shape", SHAPES[:3], ids=str)
@pytest.mark.parametrize("kw", RMSPROP, ids=_ids(RMSPROP))
def test_rmsprop_update_matches_reference(isa, dtype, kw, shape, rng):
    p0 = rng.standard_normal(shape).astype(dtype)
    grads = _grads(rng, [shape], dtype, 8)
    for a, b in zip(_run_rmsprop(fl.rmsprop_update, p0.copy(), grads, kw),
                    _run_rmsprop(ref.rmsprop_update, p0.copy(), grads, kw)):
        if b is not None:
            np.testing.assert_allclose(a, b, **TRAJ[np.dtype(dtype)])


def _run_adagrad(update, p, grads, kw, lr=0.05):
    kw = dict(kw)
    s = np.full_like(p, kw.pop("initial_accumulator_value"))
    for t, (g,) in enumerate(grads, 1):
        update(p, g, s, step=t, lr=lr, **kw)
    return p, s


@pytest.mark.parametrize("shape", SHAPES[:3], ids=str)
@pytest.mark.parametrize("kw", ADAGRAD, ids=_ids(ADAGRAD))
def test_adagrad_update_matches_reference(isa, dtype, kw, shape, rng):
    p0 = rng.standard_normal(shape).astype(dtype)
    grads = _grads(rng, [shape], dtype, 8)
    for a, b in zip(_run_adagrad(fl.adagrad_update, p0.copy(), grads, kw),
                    _run_adagrad(ref.adagrad_update, p0.copy(), grads, kw)):
        np.testing.assert_allclose(a, b, **TRAJ[np.dtype(dtype)])


# ---- the optimisers against torch.optim ----------------------------------------------------

def _check_trajectory(opt, params, grads_seq, lrs, expected, dtype):
    addrs = [p.ctypes.data for p in params]
    for k, grads in enumerate(grads_seq):
        opt.lr = lrs[k]
        opt.step(grads)
        for p, e in zip(params, expected[k]):
            np.testing.assert_allclose(p, e, **TRAJ[np.dtype(dtype)], err_msg=f"step {k + 1}")
    assert [p.ctypes.data for p in params] == addrs   # in place, never copied
    assert opt.steps == len(grads_seq)


def _problem(rng, dtype):
    params0 = [rng.standard_normal((13, 7)).astype(dtype), rng.standard_normal(7).astype(dtype)]
    grads_seq = _grads(rng, [p.shape for p in params0], dtype)
    lrs = [0.01] * 10 + [0.005] * 10 + [0.02] * 10 + [0.001] * 10
    return params0, grads_seq, lrs


@pytest.mark.parametrize("kw", ADAM, ids=_ids(ADAM))
def test_adam_matches_torch(isa, dtype, kw, rng):
    torch = pytest.importorskip("torch")
    params0, grads_seq, lrs = _problem(rng, dtype)
    tkw = dict(kw)
    decoupled = tkw.pop("decoupled")
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    expected = torch_trajectory(torch, cls, params0, grads_seq, lrs, foreach=False, **tkw)
    params = [p.copy() for p in params0]
    opt = fl.AdamW(params, **tkw) if decoupled else fl.Adam(params, **tkw)
    _check_trajectory(opt, params, grads_seq, lrs, expected, dtype)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_matches_torch_fused(dtype, amsgrad, rng):
    torch = pytest.importorskip("torch")
    params0, grads_seq, lrs = _problem(rng, dtype)
    expected = torch_trajectory(torch, torch.optim.Adam, params0, grads_seq, lrs, fused=True,
                          amsgrad=amsgrad, weight_decay=0.01)
    params = [p.copy() for p in params0]
    _check_trajectory(fl.Adam(params, amsgrad=amsgrad, weight_decay=0.01), params, grads_seq,
                      lrs, expected, dtype)


@pytest.mark.parametrize("kw", RMSPROP, ids=_ids(RMSPROP))
def test_rmsprop_matches_torch(isa, dtype, kw, rng):
    torch = pytest.importorskip("torch")
    params0, grads_seq, lrs = _problem(rng, dtype)
    expected = torch_trajectory(torch, torch.optim.RMSprop, params0, grads_seq, lrs, foreach=False, **kw)
    params = [p.copy() for p in params0]
    _check_trajectory(fl.RMSprop(params, **kw), params, grads_seq, lrs, expected, dtype)


@pytest.mark.parametrize("kw", ADAGRAD, ids=_ids(ADAGRAD))
def test_adagrad_matches_torch(isa, dtype, kw, rng):
    torch = pytest.importorskip("torch")
    params0, grads_seq, lrs = _problem(rng, dtype)
    expected = torch_trajectory(torch, torch.optim.Adagrad, params0, grads_seq, lrs, foreach=False, **kw)
    params = [p.copy() for p in params0]
    _check_trajectory(fl.Adagrad(params, **kw), params, grads_seq, lrs, expected, dtype)


def test_mixed_dtypes_in_one_optimiser(rng):
    torch = pytest.importorskip("torch")
    params0 = [rng.standard_normal(50).astype(np.float32), rng.standard_normal((4, 6))]
    grads_seq = [[rng.standard_normal(p.shape).astype(p.dtype) for p in params0] for _ in range(10)]
    expected = torch_trajectory(torch, torch.optim.Adam, params0, grads_seq, [0.01] * 10, foreach=False)
    params = [p.copy() for p in params0]
    opt = fl.Adam(params, 0.01)
    for grads in grads_seq:
        opt.step(grads)
    for p, e in zip(params, expected[-1]):
        np.testing.assert_allclose(p, e, **TRAJ[p.dtype])


# ---- threads: a large array split over threads, each element computed alike -------------

@pytest.mark.parametrize("which", ["adam", "rmsprop", "adagrad"])
def test_threads_give_the_same_bits(dtype, which, rng):
    n = 3 * _threads.ADAPTIVE_MIN_ELEMENTS + 1234
    p0 = rng.standard_normal(n).astype(dtype)
    grads = _grads(rng, [(n,)], dtype, 3)
    results = []
    for nt in (1, 2):
        p = p0.copy()
        with fl.threads(nt):
            opt = {"adam": lambda: fl.Adam([p], 0.01, amsgrad=True),
                   "rmsprop": lambda: fl.RMSprop([p], 0.01, centered=True, momentum=0.5),
                   "adagrad": lambda: fl.Adagrad([p], 0.01, lr_decay=0.1)}[which]()
            for (g,) in grads:
                opt.step([g])
        results.append(p)
    np.testing.assert_array_equal(results[0], results[1])


# ---- in place, special inputs ---------------------------------------------------------------

def test_adam_update_in_place_never_copied(isa, dtype, rng):
    p = rng.standard_normal((64, 10)).astype(dtype)
    m, v, vmax = (np.zeros_like(p) for _ in range(3))
    addrs = [a.ctypes.data for a in (p, m, v, vmax)]
    fl.adam_update(p, np.ones_like(p), m, v, step=1, lr=0.1, amsgrad=True, v_max=vmax)
    assert [a.ctypes.data for a in (p, m, v, vmax)] == addrs
    assert (m != 0).all() and (v != 0).all() and (vmax == v).all()


def test_grad_is_param_and_strided_grad(isa, dtype, rng):
    p = rng.standard_normal(10).astype(dtype)
    q = p.copy()
    m, v, m2, v2 = (np.zeros_like(p) for _ in range(4))
    fl.adam_update(p, p, m, v, step=1, lr=0.1)           # the gradient is read before p changes
    ref.adam_update(q, q.copy(), m2, v2, step=1, lr=0.1)
    np.testing.assert_allclose(p, q, **TRAJ[np.dtype(dtype)])
    big = rng.standard_normal(20).astype(dtype)
    g = big[::2]
    g.flags.writeable = False
    s, s2 = np.zeros_like(p), np.zeros_like(p)
    fl.adagrad_update(p, g, s, step=1, lr=0.1)
    ref.adagrad_update(q, g, s2, step=1, lr=0.1)
    np.testing.assert_allclose(p, q, **TRAJ[np.dtype(dtype)])
    opt = fl.RMSprop([p], 0.01)
    opt.step([p])                                        # grads[0] is params[0]
    opt.step([g])                                        # strided, read-only


def test_empty_arrays(dtype):
    p = np.zeros((0, 3), dtype)
    fl.adam_update(p, p.copy(), p.copy(), p.copy(), step=1, lr=0.1)
    fl.rmsprop_update(p, p.copy(), p.copy(), lr=0.1)
    fl.adagrad_update(p, p.copy(), p.copy(), step=1, lr=0.1)
    fl.Adam([p]).step([p.copy()])


def test_nan_propagates(dtype):
    p = np.zeros(4, dtype)
    m, v = np.zeros_like(p), np.zeros_like(p)
    fl.adam_update(p, np.array([0, np.nan, 1, 0], dtype), m, v, step=1, lr=0.1)
    assert np.isnan(p[1]) and np.isfinite(p[[0, 2, 3]]).all()


# ---- bad input: a clear error and nothing modified -------------------------------------------

def _adam_bad_calls(dtype):
    other = np.float64 if dtype == np.float32 else np.float32
    a = lambda *s: np.ones(s or (4, 3), dtype)  # noqa: E731
    nc = np.ones((4, 6), dtype)[:, ::2]
    ro = a()
    ro.flags.writeable = False
    shared = a()
    return [
        # (exception, message, param, grad, m, v, keywords)
        (ValueError, "grad must have shape", a(), a(3, 4), a(), a(), {}),
        (TypeError, "grad must have dtype", a(), a().astype(other), a(), a(), {}),
        (TypeError, "param must be a float32 or float64", np.ones(3, np.int64), np.ones(3), np.ones(3), np.ones(3), {}),
        (ValueError, "param must be C-contiguous", nc, a(), a(), a(), {}),
        (ValueError, "param must be writeable", ro, a(), a(), a(), {}),
        (ValueError, "m must be C-contiguous", a(), a(), nc, a(), {}),
        (ValueError, "v must have shape", a(), a(), a(), a(12), {}),
        (TypeError, "m must have dtype", a(), a(), a().astype(other), a(), {}),
        (ValueError, "v must not share memory with m", a(), a(), shared, shared, {}),
        (ValueError, "m must not share memory with param", shared, a(), shared, a(), {}),
        (ValueError, "lr must be in", a(), a(), a(), a(), {"lr": -0.1}),
        (ValueError, "eps must be in", a(), a(), a(), a(), {"eps": -1e-8}),
        (ValueError, r"betas\[0\] must be in \[0, 1\)", a(), a(), a(), a(), {"betas": (1.0, 0.9)}),
        (ValueError, r"betas\[1\] must be in", a(), a(), a(), a(), {"betas": (0.9, -0.1)}),
        (TypeError, "betas must be a pair", a(), a(), a(), a(), {"betas": 0.9}),
        (ValueError, "weight_decay must be in", a(), a(), a(), a(), {"weight_decay": -1.0}),
        (ValueError, "step must be a positive integer", a(), a(), a(), a(), {"step": 0}),
        (ValueError, "step must be a positive integer", a(), a(), a(), a(), {"step": 1.5}),
        (ValueError, "v_max is required", a(), a(), a(), a(), {"amsgrad": True}),
        (ValueError, "v_max was given", a(), a(), a(), a(), {"v_max": a()}),
        (TypeError, "maximize must be True or False", a(), a(), a(), a(), {"maximize": 1}),
        (ValueError, "lr must be finite", a(), a(), a(), a(), {"lr": float("nan")}),
    ]


@pytest.mark.parametrize("i", range(22))
def test_adam_bad_input_modifies_nothing(dtype, i):
    exc, msg, p, g, m, v, kw = _adam_bad_calls(dtype)[i]
    kw = {"step": 1, "lr": 0.1, **kw}
    arrays = [x for x in (p, m, v, kw.get("v_max")) if isinstance(x, np.ndarray)]
    before = [x.copy() for x in arrays]
    with pytest.raises(exc, match=msg):
        fl.adam_update(p, g, m, v, **kw)
    for x, b in zip(arrays, before):
        np.testing.assert_array_equal(x, b)


def test_rmsprop_and_adagrad_bad_input_modify_nothing(dtype):
    p, g, s = np.ones(5, dtype), np.ones(5, dtype), np.ones(5, dtype)
    cases = [
        (fl.rmsprop_update, ValueError, "momentum_buffer is required", {"lr": 0.1, "momentum": 0.9}),
        (fl.rmsprop_update, ValueError, "grad_avg is required", {"lr": 0.1, "centered": True}),
        (fl.rmsprop_update, ValueError, "grad_avg was given", {"lr": 0.1, "grad_avg": np.ones(5, dtype)}),
        (fl.rmsprop_update, ValueError, "alpha must be in", {"lr": 0.1, "alpha": -0.5}),
        (fl.rmsprop_update, ValueError, "eps must be in", {"lr": 0.1, "eps": -1.0}),
        (fl.rmsprop_update, ValueError, "lr must be in", {"lr": -0.1}),
        (fl.adagrad_update, ValueError, "lr_decay must be in", {"lr": 0.1, "step": 1, "lr_decay": -1}),
        (fl.adagrad_update, ValueError, "step must be", {"lr": 0.1, "step": True}),
        (fl.adagrad_update, ValueError, "eps must be in", {"lr": 0.1, "step": 1, "eps": -1}),
    ]
    for fn, exc, msg, kw in cases:
        with pytest.raises(exc, match=msg):
            fn(p, g, s, **kw)
    with pytest.raises(ValueError, match="state_sum must have shape"):
        fl.adagrad_update(p, g, np.ones(4, dtype), step=1, lr=0.1)
    assert (p == 1).all() and (s == 1).all()


@pytest.mark.parametrize("cls", [fl.Adam, fl.AdamW, fl.RMSprop, fl.Adagrad])
def test_optimiser_bad_grads_modify_nothing(cls, dtype):
    a, b = np.ones(3, dtype), np.ones((2, 2), dtype)
    opt = cls([a, b], 0.1)
    state = opt.state_dict()
    with pytest.raises(ValueError, match=r"grads\[1\] must have shape"):
        opt.step([np.ones(3, dtype), np.ones(4, dtype)])
    with pytest.raises(ValueError, match="grads must hold 2 arrays"):
        opt.step([np.ones(3, dtype)])
    with pytest.raises(TypeError, match=r"grads\[0\] must have dtype"):
        opt.step([np.ones(3, np.float16), np.ones((2, 2), dtype)])
    assert (a == 1).all() and (b == 1).all() and opt.steps == 0
    for name in cls._STATES:
        if state[name] is not None:
            for x, y in zip(state[name], getattr(opt, name)):
                np.testing.assert_array_equal(x, y)


def test_bad_construction():
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        fl.Adam([np.zeros(2)], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="lr must be"):
        fl.RMSprop([np.zeros(2)], -1.0)
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        fl.Adagrad([np.zeros(2)], initial_accumulator_value=-1.0)
    with pytest.raises(ValueError, match="shares memory"):
        z = np.zeros(4)
        fl.Adam([z[:2], z])
    with pytest.raises(ValueError, match="at least one"):
        fl.AdamW([])


# ---- state_dict, schedules ------------------------------------------------------------------

@pytest.mark.parametrize("cls,kw", [(fl.Adam, dict(amsgrad=True, weight_decay=0.01)),
                                    (fl.AdamW, {}),
                                    (fl.RMSprop, dict(momentum=0.9, centered=True)),
                                    (fl.Adagrad, dict(lr_decay=0.01, initial_accumulator_value=0.1))])
def test_state_dict_round_trip(cls, kw, rng):
    p0 = rng.standard_normal((5, 4))
    grads = [rng.standard_normal((5, 4)) for _ in range(6)]
    a = p0.copy()
    opt_a = cls([a], 0.05, **kw)
    for g in grads[:3]:
        opt_a.step([g])
    state = opt_a.state_dict()
    snapshot = a.copy()
    for g in grads[3:]:
        opt_a.step([g])
    b = snapshot.copy()
    opt_b = cls([b], 0.5, **kw)
    addrs = {name: [x.ctypes.data for x in getattr(opt_b, name)]
             for name in cls._STATES if getattr(opt_b, name) is not None}
    opt_b.load_state_dict(state)
    assert opt_b.steps == 3 and opt_b.lr == 0.05
    assert addrs == {name: [x.ctypes.data for x in getattr(opt_b, name)] for name in addrs}
    for g in grads[3:]:
        opt_b.step([g])
    np.testing.assert_array_equal(a, b)
    first = next(iter(addrs))
    state[first][0][...] = 123.0            # the state holds copies
    assert not (getattr(opt_b, first)[0] == 123.0).any()


def test_load_state_dict_rejects_mismatch():
    opt = fl.Adam([np.zeros(3)], 0.1, amsgrad=True)
    other = fl.Adam([np.zeros(3)], 0.1).state_dict()
    with pytest.raises(ValueError, match="v_max"):
        opt.load_state_dict(other)
    bad = opt.state_dict()
    bad["v"] = [np.zeros(4)]
    with pytest.raises(ValueError, match="state\\['v'\\]\\[0\\]"):
        opt.load_state_dict(bad)
    bad = opt.state_dict()
    del bad["betas"]
    with pytest.raises(ValueError, match="missing 'betas'"):
        opt.load_state_dict(bad)
    bad = opt.state_dict()
    bad["lr"] = -1.0
    with pytest.raises(ValueError, match="lr must be"):
        opt.load_state_dict(bad)
    assert opt.lr == 0.1 and opt.amsgrad
    bad = fl.RMSprop([np.zeros(3)], momentum=0.9).state_dict()
    with pytest.raises(ValueError, match="momentum_buffer"):
        fl.RMSprop([np.zeros(3)]).load_state_dict(bad)


def test_schedules_use_the_step_count():
    p = np.zeros(3)
    sched = fl.StepLR(1.0, step_size=2, gamma=0.5)
    opt = fl.Adagrad([p], sched)
    seen = []
    for _ in range(5):
        seen.append(opt.lr)
        opt.step([np.ones(3)])
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.25] and opt.schedule is sched
    q = np.zeros(3)
    s = np.zeros(3)
    for t, lr in enumerate(seen, 1):
        fl.adagrad_update(q, np.ones(3), s, step=t, lr=lr)
    np.testing.assert_array_equal(p, q)
    opt.lr = 0.01
    assert opt.schedule is None and opt.lr == 0.01


# ---- the fast entry of adam_update ------------------------------------------------------------

class _Sub(np.ndarray):
    pass


@pytest.mark.parametrize("kw", ADAM, ids=_ids(ADAM))
def test_adam_fast_entry_gives_the_full_paths_result(isa, dtype, kw, rng):
    shape = (3, 5, 7)
    w = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    m, v = rng.standard_normal(shape).astype(dtype), rng.random(shape).astype(dtype)
    vmax = v + rng.random(shape).astype(dtype) if kw["amsgrad"] else None
    copies = [None if x is None else x.copy() for x in (w, m, v, vmax)]
    args = (3, 0.05, kw["betas"], 1e-8, kw["weight_decay"], kw["decoupled"], kw["amsgrad"],
            vmax, kw["maximize"])
    assert _dispatch.kernels.adam_update_fast(w, g, m, v, *args) is True
    w2, m2, v2, vmax2 = copies
    fl.adam_update(w2, g.view(_Sub), m2, v2, step=3, lr=0.05, v_max=vmax2, **kw)  # the full path
    for a, b in zip((w, m, v, vmax), (w2, m2, v2, vmax2)):
        if a is not None:
            np.testing.assert_array_equal(a, b)


def test_adam_fast_entry_declines_what_it_does_not_check(rng):
    w = rng.standard_normal(10).astype(np.float32)
    g = rng.standard_normal(10).astype(np.float32)
    m, v = np.zeros(10, np.float32), np.zeros(10, np.float32)
    base = [w, g, m, v, 1, 0.1, (0.9, 0.999), 1e-8, 0.0, False, False, None, False]

    def with_(i, value):
        args = list(base)
        args[i] = value
        return args

    declined = {
        "param list": with_(0, w.tolist()),
        "grad float64": with_(1, g.astype(np.float64)),
        "grad is param": with_(1, w),
        "m is v": with_(2, v),
        "m strided": with_(2, np.zeros(20, np.float32)[::2]),
        "step 0": with_(4, 0),
        "step float": with_(4, 1.0),
        "lr negative": with_(5, -0.1),
        "betas list": with_(6, [0.9, 0.999]),
        "beta 1": with_(6, (1.0, 0.999)),
        "eps nan": with_(7, float("nan")),
        "amsgrad without v_max": with_(10, True),
        "v_max without amsgrad": with_(11, np.zeros(10, np.float32)),
        "maximize 1": with_(12, 1),
    }
    before = w.copy()
    for what, args in declined.items():
        assert _dispatch.kernels.adam_update_fast(*args) is None, what
    np.testing.assert_array_equal(w, before)
    assert not m.any() and not v.any()


# ---- properties (hypothesis) ------------------------------------------------------------------

@HYP
@given(n=st.integers(1, 70), dtype=st.sampled_from([np.float32, np.float64]),
       steps=st.integers(1, 5), beta1=st.floats(0.0, 0.99), beta2=st.floats(0.0, 0.9999),
       weight_decay=st.sampled_from([0.0, 0.05]), decoupled=st.booleans(), amsgrad=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_adam_update_properties(isa, n, dtype, steps, beta1, beta2, weight_decay, decoupled,
                                amsgrad, seed):
    """Equal to the twin; maximize with g gives the bits of minimize with −g; with amsgrad
    v_max ≥ v everywhere
    (the twin computes the bias corrections alike)."""
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(n).astype(dtype)
    grads = [(rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4)).astype(dtype) for _ in range(steps)]
    kw = dict(betas=(beta1, beta2), weight_decay=weight_decay, decoupled=decoupled, amsgrad=amsgrad)
    got = _run_adam(fl.adam_update, p0.copy(), [(g,) for g in grads], kw)
    want = _run_adam(ref.adam_update, p0.copy(), [(g,) for g in grads], kw)
    tol = {np.dtype(np.float32): dict(rtol=1e-4, atol=1e-5),
           np.dtype(np.float64): dict(rtol=1e-9, atol=1e-11)}[np.dtype(dtype)]
    for a, b in zip(got, want):
        if b is not None:
            np.testing.assert_allclose(a, b, **tol)
    up = _run_adam(fl.adam_update, p0.copy(), [(-g,) for g in grads], dict(kw, maximize=True))
    for a, b in zip(got, up):
        if a is not None:
            np.testing.assert_array_equal(a, b)
    if amsgrad:
        assert (got[3] >= got[2]).all()


def test_memmap_param_and_state_are_updated_in_place(tmp_path, dtype, rng):
    """ndarray subclasses (a memmap) are parameters like any array: updated where they are."""
    p0 = rng.standard_normal(50).astype(dtype)
    g = rng.standard_normal(50).astype(dtype)
    mm = np.lib.format.open_memmap(tmp_path / "w.npy", mode="w+", dtype=dtype, shape=(50,))
    mm[...] = p0
    m, v = np.zeros_like(p0), np.zeros_like(p0)
    fl.adam_update(mm, g, m, v, step=1, lr=0.1)
    q, m2, v2 = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    fl.adam_update(q, g, m2, v2, step=1, lr=0.1)
    np.testing.assert_array_equal(mm, q)
    opt = fl.Adagrad([mm], 0.1)
    opt.step([g])
    np.testing.assert_array_equal(np.load(tmp_path / "w.npy", mmap_mode="r"), mm)
