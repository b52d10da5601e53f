"""The training engine (kernels/train.pxi, simd/train.h) against its NumPy twin.

``train_epoch`` runs the steps of an epoch of mini-batch SGD in C; its twin
is :func:`fastloss.reference.train_epoch`, the step as the classifier ran it
before the engine (gather, two products, the loss, torch's SGD update).
``linear_gradient`` is the same machinery without the update, behind
:func:`fastloss.svm_loss` and :func:`fastloss.softmax_loss`.  Then the
classifier on top: fit equal to a loop of twins, partial_fit, schedules,
divergence and interruption leaving the model as it was, threads.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastloss as fl
import fastloss._dispatch as dispatch
from fastloss import reference
from fastloss._training import MiniBatchSGD, TrainingDiverged

OPENMP = bool(dispatch.kernels.build_info()["openmp"])


def _tol(dtype):
    return dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)


def _problem(rng, n, d, c, dtype, *, intercept=True, weights=False, momentum=0.0):
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, c, n)
    W = (0.1 * rng.standard_normal((d, c))).astype(dtype)
    b = (0.1 * rng.standard_normal(c)).astype(dtype) if intercept else None
    sw = rng.uniform(0.0, 2.0, n) if weights else None
    return X, y, W, b, sw


def _engine(X, y, W, b, order, lr, *, loss, batch, sw=None, momentum=0.0, nesterov=False,
            reg=0.0, margin=1.0, V=None, Vb=None, steps_before=0, start=0, stop=-1):
    """One call of the engine on W (D, C): returns (history, W, b, V, Vb, bad) as the twin's."""
    Wt = W.T.copy()  # (not ascontiguousarray: W.T of a (1, C) W is contiguous, a view)
    b = None if b is None else b.copy()
    Vt = None if V is None else V.T.copy()
    Vb = None if Vb is None else Vb.copy()
    steps = -(-X.shape[0] // batch)
    history = np.full(steps, np.nan)
    bad = dispatch.kernels.train_epoch(
        X, np.asarray(y, np.int64), Wt, order, np.asarray(lr, np.float64), history, loss=loss,
        batch_size=batch, b=b, Vt=Vt, Vb=Vb, sample_weight=sw, margin=margin, reg=reg,
        momentum=momentum, nesterov=nesterov, steps_before=steps_before, start=start, stop=stop)
    return history, Wt.T, b, None if Vt is None else Vt.T, Vb, bad


def _twin(X, y, W, b, order, lr, *, loss, batch, sw=None, momentum=0.0, nesterov=False,
          reg=0.0, margin=1.0, V=None, Vb=None):
    W, b = W.copy(), None if b is None else b.copy()
    V = None if V is None else V.copy()
    Vb = None if Vb is None else Vb.copy()
    order = np.arange(X.shape[0]) if order is None else order
    history = reference.train_epoch(X, y, W, order, lr, loss=loss, batch_size=batch, b=b, V=V,
                                    Vb=Vb, sample_weight=sw, margin=margin, reg=reg,
                                    momentum=momentum, nesterov=nesterov)
    return history, W, b, V, Vb


def _assert_same_run(got, want, dtype):
    tol = _tol(dtype)
    history, W, b, V, Vb, bad = got
    assert bad == -1
    np.testing.assert_allclose(history, want[0], **tol)
    np.testing.assert_allclose(W, want[1], **tol)
    for g, w in zip((b, V, Vb), want[2:]):
        assert (g is None) == (w is None)
        if g is not None:
            np.testing.assert_allclose(g, w, **tol)


# --------------------------------------------------------------------------
# train_epoch against the twin


SHAPES = [  # (N, D, C, batch): tiny, odd, a last short batch, batch 1, batch N, wide C
    (1, 1, 2, 1), (7, 3, 2, 1), (33, 17, 3, 8), (100, 33, 10, 32), (257, 65, 7, 256),
    (64, 40, 5, 64), (50, 24, 10, 200), (90, 19, 37, 16), (40, 31, 300, 16),
]


@pytest.mark.parametrize("loss", ["softmax", "hinge"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_epoch_equals_twin(isa, dtype, loss, shape, rng):
    n, d, c, batch = shape
    X, y, W, b, _ = _problem(rng, n, d, c, dtype)
    order = rng.permutation(n).astype(np.intp)
    lr = rng.uniform(0.01, 0.2, -(-n // batch))
    args = (X, y, W, b, order, lr)
    kw = dict(loss=loss, batch=batch, reg=1e-3, margin=0.7 if loss == "hinge" else 1.0)
    _assert_same_run(_engine(*args, **kw), _twin(*args, **kw), dtype)


@pytest.mark.parametrize("loss", ["softmax", "hinge"])
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
@pytest.mark.parametrize("intercept", [True, False], ids=["intercept", "no-intercept"])
@pytest.mark.parametrize("weights", [False, True], ids=["unweighted", "weighted"])
def test_every_option_equals_twin(isa, dtype, loss, momentum, nesterov, intercept, weights, rng):
    n, d, c, batch = 203, 37, 6, 32
    X, y, W, b, sw = _problem(rng, n, d, c, dtype, intercept=intercept, weights=weights)
    order = rng.permutation(n).astype(np.intp)
    lr = np.full(-(-n // batch), 0.05)
    V = np.zeros_like(W) if momentum else None
    Vb = np.zeros_like(b) if (momentum and intercept) else None
    kw = dict(loss=loss, batch=batch, sw=sw, momentum=momentum, nesterov=nesterov, reg=2e-3,
              V=V, Vb=Vb)
    _assert_same_run(_engine(X, y, W, b, order, lr, **kw), _twin(X, y, W, b, order, lr, **kw),
                     dtype)


def test_later_epochs_and_step_ranges_continue_the_run(dtype, rng):
    """steps_before > 0: the momentum buffer goes on (v = mu v + g); start/stop split an epoch."""
    n, d, c, batch = 150, 20, 4, 16
    X, y, W, b, _ = _problem(rng, n, d, c, dtype)
    steps = -(-n // batch)
    o1, o2 = rng.permutation(n).astype(np.intp), rng.permutation(n).astype(np.intp)
    lr = np.linspace(0.1, 0.01, steps)
    kw = dict(loss="softmax", batch=batch, momentum=0.8, nesterov=True, reg=1e-3)
    V0, Vb0 = np.zeros_like(W), np.zeros_like(b)
    want1 = _twin(X, y, W, b, o1, lr, V=V0, Vb=Vb0, **kw)
    want2 = _twin(X, y, want1[1], want1[2], o2, lr, V=want1[3], Vb=want1[4], **kw)
    got1 = _engine(X, y, W, b, o1, lr, V=V0, Vb=Vb0, **kw)
    got2 = _engine(X, y, got1[1], got1[2], o2, lr, V=got1[3], Vb=got1[4], steps_before=steps, **kw)
    _assert_same_run(got2, want2, dtype)
    # the second epoch in two calls, steps [0, 4) and [4, steps): the same bits as one call
    h_a, W_a, b_a, V_a, Vb_a, bad = _engine(X, y, got1[1], got1[2], o2, lr, V=got1[3],
                                            Vb=got1[4], steps_before=steps, stop=4, **kw)
    assert bad == -1
    h_b, W_b, b_b, V_b, Vb_b, bad = _engine(X, y, W_a, b_a, o2, lr, V=V_a, Vb=Vb_a,
                                            steps_before=steps, start=4, **kw)
    assert bad == -1
    np.testing.assert_array_equal(np.r_[h_a[:4], h_b[4:]], got2[0])
    np.testing.assert_array_equal(W_b, got2[1])
    np.testing.assert_array_equal(V_b, got2[3])


@pytest.mark.parametrize("group", [1, 3, 16, 64])
@pytest.mark.parametrize("c", [4, 260])
def test_group_size_is_only_an_order_of_work(group, c, dtype, rng):
    """Groups of any size (the default is 16 rows, 32 from 256 classes) give the twin's run."""
    X, y, W, b, _ = _problem(rng, 150, 21, c, dtype)
    order = rng.permutation(150).astype(np.intp)
    lr = np.full(3, 0.1)
    Wt, h = W.T.copy(), np.empty(3)
    bb = b.copy()
    assert dispatch.kernels.train_epoch(X, y, Wt, order, lr, h, loss="softmax", batch_size=64,
                                        b=bb, reg=1e-3, group=group) == -1
    want = _twin(X, y, W, b, order, lr, loss="softmax", batch=64, reg=1e-3)
    tol = _tol(dtype)
    np.testing.assert_allclose(h, want[0], **tol)
    np.testing.assert_allclose(Wt.T, want[1], **tol)
    np.testing.assert_allclose(bb, want[2], **tol)


def test_no_order_is_the_rows_in_order(dtype, rng):
    X, y, W, b, _ = _problem(rng, 99, 13, 5, dtype)
    lr = np.full(4, 0.1)
    a = _engine(X, y, W, b, None, lr, loss="hinge", batch=25)
    o = _engine(X, y, W, b, np.arange(99, dtype=np.intp), lr, loss="hinge", batch=25)
    for u, v in zip(a[:3], o[:3]):
        np.testing.assert_array_equal(u, v)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 70), d=st.integers(1, 40), c=st.integers(1, 24),
       batch=st.integers(1, 80), loss=st.sampled_from(["softmax", "hinge"]),
       f32=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_property_equals_twin(n, d, c, batch, loss, f32, seed):
    dtype = np.float32 if f32 else np.float64
    rng = np.random.default_rng(seed)
    X, y, W, b, _ = _problem(rng, n, d, c, dtype)
    X *= rng.uniform(0.1, 30.0)  # large scores: the shifted softmax and the hinge's kinks
    order = rng.permutation(n).astype(np.intp)
    lr = np.full(-(-n // batch), 0.01)
    kw = dict(loss=loss, batch=batch, reg=1e-3)
    got, want = _engine(X, y, W, b, order, lr, **kw), _twin(X, y, W, b, order, lr, **kw)
    tol = _tol(dtype)
    np.testing.assert_allclose(got[0], want[0], rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
    np.testing.assert_allclose(got[1], want[1], rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)


def test_gradient_of_a_full_batch_step_by_finite_differences(rng):
    """Batch N, lr 1, no momentum: W_after = W - dJ/dW, with J checked by central differences."""
    n, d, c = 12, 5, 4
    X, y, W, b, _ = _problem(rng, n, d, c, np.float64)
    reg = 0.05
    for loss in ("softmax", "hinge"):
        h, W1, b1, _, _, bad = _engine(X, y, W, b, None, [1.0], loss=loss, batch=n, reg=reg)
        grad_W, grad_b = W - W1, b - b1

        def J(W_, b_):
            S = X @ W_ + b_
            fn = reference.softmax_cross_entropy if loss == "softmax" else reference.multiclass_hinge
            return fn(S, y)[0] + reg * np.sum(W_ ** 2)
        assert h[0] == pytest.approx(J(W, b), rel=1e-12)
        eps = 1e-6
        for i in range(d):
            for j in range(c):
                Wp, Wm = W.copy(), W.copy()
                Wp[i, j] += eps
                Wm[i, j] -= eps
                assert grad_W[i, j] == pytest.approx((J(Wp, b) - J(Wm, b)) / (2 * eps), abs=1e-6)
        for j in range(c):
            bp, bm = b.copy(), b.copy()
            bp[j] += eps
            bm[j] -= eps
            assert grad_b[j] == pytest.approx((J(W, bp) - J(W, bm)) / (2 * eps), abs=1e-6)


# --------------------------------------------------------------------------
# Non-finite losses and bad input


def test_a_non_finite_loss_stops_before_its_update(dtype, rng):
    n, d, c, batch = 64, 8, 3, 16
    X, y, W, b, _ = _problem(rng, n, d, c, dtype)
    order = np.arange(n, dtype=np.intp)
    X[40, 2] = np.nan  # in the third batch
    lr = np.full(4, 0.1)
    h, W1, b1, _, _, bad = _engine(X, y, W, b, order, lr, loss="softmax", batch=batch)
    assert bad == 2
    assert np.isnan(h[2]) and np.isnan(h[3])  # step 2's loss is reported, step 3 never ran
    want = _twin(X[:32], y[:32], W, b, np.arange(32), lr[:2], loss="softmax", batch=batch)
    np.testing.assert_allclose(W1, want[1], **_tol(dtype))  # two updates made, not three
    assert np.isfinite(W1).all() and np.isfinite(b1).all()


@pytest.mark.parametrize("bad_order", [[-1], [64], [10**12]])
def test_bad_order_is_refused_before_anything_is_touched(bad_order, rng):
    X, y, W, b, _ = _problem(rng, 64, 8, 3, np.float64)
    order = np.arange(64, dtype=np.intp)
    order[17] = bad_order[0]
    Wt, b0 = np.ascontiguousarray(W.T), b.copy()
    Wt0, history = Wt.copy(), np.zeros(4)
    with pytest.raises(ValueError, match=r"order\[17\]"):
        dispatch.kernels.train_epoch(X, y, Wt, order, np.full(4, 0.1), history,
                                     loss="softmax", batch_size=16, b=b)
    np.testing.assert_array_equal(Wt, Wt0)
    np.testing.assert_array_equal(b, b0)
    assert not history.any()


@pytest.mark.parametrize("label", [-1, 3, 2**40])
def test_bad_label_is_refused_before_anything_is_touched(label, rng):
    X, y, W, b, _ = _problem(rng, 64, 8, 3, np.float32)
    y[50] = label
    Wt = np.ascontiguousarray(W.T)
    Wt0, history = Wt.copy(), np.zeros(4)
    with pytest.raises(ValueError, match=r"y\[50\]"):
        dispatch.kernels.train_epoch(X, y, Wt, None, np.full(4, 0.1), history,
                                     loss="hinge", batch_size=16)
    np.testing.assert_array_equal(Wt, Wt0)
    with pytest.raises(ValueError, match=r"y\[50\]"):
        dispatch.kernels.linear_gradient(X, y, Wt, np.empty_like(Wt), loss="softmax", margin=1.0)


@pytest.mark.parametrize("weight", [-1.0, np.nan, np.inf])
def test_bad_sample_weight_is_refused_before_anything_is_touched(weight, rng):
    X, y, W, b, sw = _problem(rng, 64, 8, 3, np.float64, weights=True)
    sw[33] = weight
    Wt = np.ascontiguousarray(W.T)
    Wt0 = Wt.copy()
    with pytest.raises(ValueError, match=r"sample_weight\[33\]"):
        dispatch.kernels.train_epoch(X, y, Wt, None, np.full(4, 0.1), np.zeros(4),
                                     loss="softmax", batch_size=16, sample_weight=sw)
    np.testing.assert_array_equal(Wt, Wt0)


@pytest.mark.parametrize("kwargs,match", [
    (dict(loss="logistic"), "loss must be"),
    (dict(batch_size=0), "batch_size"),
    (dict(momentum=0.9), "Vt"),
    (dict(stop=9), "steps"),
    (dict(start=3, stop=2), "steps"),
])
def test_bad_arguments(kwargs, match, rng):
    X, y, W, b, _ = _problem(rng, 64, 8, 3, np.float64)
    args = dict(loss="softmax", batch_size=16)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        dispatch.kernels.train_epoch(X, y, np.ascontiguousarray(W.T), None, np.full(4, 0.1),
                                     np.zeros(4), **args)


# --------------------------------------------------------------------------
# Threads: a given count gives the same bits; any count the same model up to rounding


@pytest.mark.skipif(not OPENMP, reason="kernels built without OpenMP")
@pytest.mark.parametrize("threads", [2, 3])
def test_threads_are_deterministic(threads, rng):
    n, d, c, batch = 4096, 300, 10, 1024  # B·D·C above the engine's threshold
    X, y, W, b, _ = _problem(rng, n, d, c, np.float32)
    order = rng.permutation(n).astype(np.intp)
    lr = np.full(4, 0.05)
    kw = dict(loss="softmax", batch=batch, momentum=0.9, V=np.zeros_like(W), Vb=np.zeros_like(b),
              reg=1e-4)
    with fl.threads(threads):
        r1 = _engine(X, y, W, b, order, lr, **kw)
        r2 = _engine(X, y, W, b, order, lr, **kw)
    with fl.threads(1):
        r0 = _engine(X, y, W, b, order, lr, **kw)
    for u, v in zip(r1[:5], r2[:5]):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_allclose(r1[1], r0[1], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(r1[0], r0[0], rtol=1e-5)


# --------------------------------------------------------------------------
# linear_gradient: svm_loss / softmax_loss


@pytest.mark.parametrize("loss", ["softmax", "hinge"])
@pytest.mark.parametrize("shape", [(1, 1, 1), (5, 3, 2), (37, 19, 10), (300, 70, 17),
                                   (64, 33, 1000), (2048, 129, 10)],
                         ids=lambda s: "x".join(map(str, s)))
def test_linear_losses_equal_reference(isa, dtype, loss, shape, rng):
    n, d, c = shape
    X, y, W, _, _ = _problem(rng, n, d, c, dtype, intercept=False)
    X *= 5
    if loss == "softmax":
        got, want = fl.softmax_loss(W, X, y, 0.1), reference.softmax_loss(W, X, y, 0.1)
    else:
        got, want = fl.svm_loss(W, X, y, 0.1), reference.svm_loss(W, X, y, 0.1)
    tol = _tol(dtype)
    assert got[0] == pytest.approx(want[0], rel=tol["rtol"], abs=tol["atol"])
    assert got[1].shape == W.shape and got[1].dtype == dtype and got[1].flags.c_contiguous
    np.testing.assert_allclose(got[1], want[1], rtol=tol["rtol"], atol=tol["atol"] * 10)


@pytest.mark.skipif(not OPENMP, reason="kernels built without OpenMP")
def test_linear_gradient_threads(rng):
    X, y, W, _, _ = _problem(rng, 8192, 256, 10, np.float64, intercept=False)
    with fl.threads(1):
        one = fl.softmax_loss(W, X, y)
    with fl.threads(2):
        two, again = fl.softmax_loss(W, X, y), fl.softmax_loss(W, X, y)
    assert two[0] == again[0]
    np.testing.assert_array_equal(two[1], again[1])
    assert two[0] == pytest.approx(one[0], rel=1e-12)
    np.testing.assert_allclose(two[1], one[1], rtol=1e-10, atol=1e-14)


# --------------------------------------------------------------------------
# The classifier on the engine


def _clf(**kw):
    params = dict(learning_rate=0.1, batch_size=32, epochs=3, random_state=7, reg=1e-3)
    params.update(kw)
    return fl.LinearClassifier(**params)


def _fit_by_twin(clf, X, y):
    """LinearClassifier.fit, step for step, by the NumPy twin (the same draws of the generator)."""
    p = clf._checked_params()
    dtype = p["dtype"]
    classes = np.unique(y)
    yc = np.searchsorted(classes, y)
    n, d = X.shape
    c = classes.shape[0]
    rng = np.random.default_rng(clf.random_state)
    W = (0.001 * rng.standard_normal((d, c))).astype(dtype)
    b = np.zeros(c, dtype) if clf.fit_intercept else None
    V = np.zeros_like(W) if p["momentum"] else None
    Vb = np.zeros_like(b) if (p["momentum"] and b is not None) else None
    Xc = X.astype(dtype)
    batch = min(p["batch_size"], n)
    steps = -(-n // batch)
    history, t = [], 0
    for _ in range(p["epochs"]):
        order = np.arange(n)
        if clf.shuffle:
            rng.shuffle(order)
        lr = (np.full(steps, p["lr"]) if p["schedule"] is None
              else np.array([p["schedule"](t + k) for k in range(steps)]))
        if V is not None and t == 0:
            V[...] = 0  # the first step sets v = g: the same as mu * 0 + g
        history.append(reference.train_epoch(
            Xc, yc, W, order, lr, loss=clf.loss, batch_size=batch, b=b, V=V, Vb=Vb,
            reg=p["reg"], momentum=p["momentum"], nesterov=p["nesterov"]))
        t += steps
    return W, b, np.concatenate(history)


SCHEDULES = [None, fl.StepLR(0.2, step_size=5, gamma=0.5), fl.InverseScalingLR(0.2),
             fl.CosineLR(0.2, total_steps=20, min_lr=0.01), fl.ConstantLR(0.05)]


@pytest.mark.parametrize("loss", ["softmax", "hinge"])
@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, True)])
def test_fit_equals_the_twin_loop(dtype, loss, schedule, fit_intercept, momentum, nesterov, rng):
    X = rng.standard_normal((150, 12)) + np.repeat(np.eye(3, 12) * 3, 50, axis=0)
    y = np.repeat(np.array([3, 5, 9]), 50)
    kw = dict(loss=loss, fit_intercept=fit_intercept, momentum=momentum, nesterov=nesterov,
              dtype=np.dtype(dtype).name)
    if schedule is not None:
        kw["learning_rate"] = schedule
    clf = _clf(**kw).fit(X, y)
    W, b, history = _fit_by_twin(clf, X, y)
    tol = _tol(dtype)
    np.testing.assert_allclose(clf.coef_, W.T, **tol)
    if fit_intercept:
        np.testing.assert_allclose(clf.intercept_, b, **tol)
    np.testing.assert_allclose(clf.loss_history_, history, **tol)
    assert clf.loss_history_.shape == (3 * 5,)  # 150 rows in batches of 32: the last has 22


@pytest.mark.parametrize("batch_size", [1, 150, 1000], ids=["batch-1", "batch-N", "above-N"])
def test_batch_one_and_full_batch_gradient_descent(batch_size, rng):
    X = rng.standard_normal((150, 6))
    y = rng.integers(0, 4, 150)
    clf = _clf(batch_size=batch_size, epochs=2, dtype="float64").fit(X, y)
    W, b, history = _fit_by_twin(clf, X, y)
    np.testing.assert_allclose(clf.coef_, W.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(clf.loss_history_, history, rtol=1e-9)
    assert clf.loss_history_.shape == (2 * -(-150 // min(batch_size, 150)),)


def test_partial_fit_epoch_by_epoch_equals_fit(rng):
    X = rng.standard_normal((130, 9))
    y = rng.integers(0, 3, 130)
    kw = dict(momentum=0.9, learning_rate=fl.StepLR(0.1, 4), epochs=4)
    full = _clf(**kw).fit(X, y)
    part = _clf(**kw)
    for _ in range(4):
        part.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(part.coef_, full.coef_)
    np.testing.assert_array_equal(part.intercept_, full.intercept_)
    np.testing.assert_array_equal(part.loss_history_, full.loss_history_)


def test_fit_reads_float32_X_in_place(rng):
    """No copy of a C-contiguous X of the model's dtype: the engine reads the caller's rows."""
    X = rng.standard_normal((100, 7)).astype(np.float32)
    y = rng.integers(0, 3, 100)
    seen = {}
    real = dispatch.kernels.train_epoch

    class Spy:
        def __getattr__(self, name):
            return getattr(dispatch.kernels, name)

        def train_epoch(self, Xc, *a, **k):
            seen["X"] = Xc
            return real(Xc, *a, **k)
    import fastloss._training as training

    old = training._dispatch
    training._dispatch = type("D", (), {"kernels": Spy()})
    try:
        _clf(dtype="float32", epochs=1).fit(X, y)
    finally:
        training._dispatch = old
    assert np.shares_memory(seen["X"], X)


def _state(clf):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(clf).items()
            if k.endswith("_") or k in ("_W", "_V", "_steps")}


def _assert_state(clf, state):
    now = _state(clf)
    assert now.keys() == state.keys()
    for k, v in state.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(now[k], v)
        else:
            assert now[k] == v or (v is None and now[k] is None)


def test_divergence_names_epoch_and_step_and_leaves_the_model_as_it_was(rng):
    X = rng.standard_normal((200, 5))
    y = rng.integers(0, 3, 200)
    clf = _clf(epochs=2).fit(X, y)
    state = _state(clf)
    predictions = clf.predict(X)
    clf.set_params(learning_rate=1e30)
    with pytest.raises(FloatingPointError, match=r"epoch 3: .*step \d+ of 7"):
        clf.partial_fit(X * 1e10, y)
    _assert_state(clf, state)
    np.testing.assert_array_equal(clf.predict(X), predictions)
    # a fit from scratch that diverges leaves the previous model too
    with pytest.raises(FloatingPointError, match="epoch 1"):
        clf.fit(X * 1e10, y)
    _assert_state(clf, state)
    # and an unfitted estimator stays unfitted
    fresh = _clf(learning_rate=1e30)
    with pytest.raises(FloatingPointError):
        fresh.fit(X * 1e10, y)
    assert not hasattr(fresh, "coef_") and not hasattr(fresh, "_W")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("loss", ["softmax", "hinge"])
def test_non_finite_X_is_a_value_error_and_changes_nothing(value, loss, rng):
    X = rng.standard_normal((120, 4))
    y = rng.integers(0, 3, 120)
    clf = _clf(loss=loss, epochs=1).fit(X, y)
    state = _state(clf)
    for row in (0, 57, 119):  # the first, a middle and the last step's rows
        bad = X.copy()
        bad[row, 1] = value
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            clf.partial_fit(bad, y)
        _assert_state(clf, state)
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            clf.fit(bad, y)
        _assert_state(clf, state)


def test_keyboard_interrupt_leaves_the_model_as_it_was(rng):
    X = rng.standard_normal((100, 5))
    y = rng.integers(0, 2, 100)

    class Interrupting(fl.ConstantLR):
        """Ctrl-C arriving while the second epoch starts."""

        def __call__(self, t):
            if t >= 2 * 4:
                raise KeyboardInterrupt
            return super().__call__(t)
    clf = _clf(epochs=1).fit(X, y)
    state = _state(clf)
    clf.set_params(learning_rate=Interrupting(0.1), epochs=3)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    _assert_state(clf, state)


def test_training_diverged_carries_the_step(rng):
    X = rng.standard_normal((64, 3)) * 1e30
    y = rng.integers(0, 2, 64)
    W = np.zeros((4, 2))
    t = MiniBatchSGD(X, np.asarray(y, np.int64), W, loss="softmax", reg=0.0, batch_size=16,
                     momentum=0.0, nesterov=False, intercept=True, shuffle=False, rng=None,
                     schedule=None, lr=1e300)
    history = np.zeros(4)
    with pytest.raises(TrainingDiverged) as err:
        for _ in range(3):
            t.epoch(history, 0)
    assert 0 <= err.value.step < 4 and not np.isfinite(err.value.loss)
    assert np.isfinite(W).all()  # the trainer's W is never left with a diverged epoch's weights
