"""SciPy sparse (CSR) input: the linear losses, the sparse training engine, the classifier.

Every sparse result is compared with the dense result on the same data
densified (the losses; the engine and the classifier without momentum), and
the engine with the lazy-momentum semantics with its NumPy twin
:func:`fastloss.reference.sparse_train_epoch`.  Then the CSR forms (int32 /
int64 indices, unsorted, duplicates, empty rows, explicit zeros, no
non-zeros, CSC/COO), each malformed CSR's error (nothing written), NaN and
infinity, threads, and that ``import fastloss`` does not import SciPy.
"""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sp = pytest.importorskip("scipy.sparse")

import fastloss as fl  # noqa: E402
import fastloss._dispatch as dispatch  # noqa: E402
from fastloss import reference  # noqa: E402

OPENMP = bool(dispatch.kernels.build_info()["openmp"])
LOSSES = {"hinge": fl.svm_loss, "softmax": fl.softmax_loss}


def _tol(dtype):
    return dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)


def _csr(rng, n, d, density, dtype, *, index=np.int32, duplicates=False, unsorted=False,
         explicit_zeros=False, empty_rows=False):
    """A random csr_array with the requested oddities."""
    X = sp.random_array((n, d), density=density, format="coo", dtype=np.float64, rng=rng)
    rows, cols, vals = X.row, X.col, X.data * 2 - 1
    if duplicates and rows.size:
        k = max(1, rows.size // 3)
        rows, cols = np.r_[rows, rows[:k]], np.r_[cols, cols[:k]]
        vals = np.r_[vals, rng.standard_normal(k)]
    if explicit_zeros and rows.size:
        vals[::4] = 0.0
    if empty_rows:
        keep = rows % 3 != 0
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
    # CSR arrays by hand: keeps duplicates and explicit zeros as they are
    order = np.argsort(rows, kind="stable")
    if not unsorted:
        order = np.lexsort((cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    indptr = np.zeros(n + 1, index)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    if unsorted:  # shuffle within each row
        for i in range(n):
            lo, hi = indptr[i], indptr[i + 1]
            p = rng.permutation(hi - lo) + lo
            cols[lo:hi], vals[lo:hi] = cols[p], vals[p]
    return sp.csr_array((vals.astype(dtype), cols.astype(index), indptr), shape=(n, d))


def _dense(X):
    """X densified with duplicates summed (toarray sums them)."""
    return np.asarray(X.toarray())


# ---------------------------------------------------------------------------
# svm_loss / softmax_loss


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("shape", [(1, 3, 2), (17, 9, 3), (64, 40, 10), (33, 130, 21)])
def test_losses_equal_dense(loss, index, shape, dtype, rng):
    n, d, c = shape
    X = _csr(rng, n, d, 0.2, dtype, index=index, duplicates=True, unsorted=True,
             explicit_zeros=True, empty_rows=True)
    y = rng.integers(0, c, n)
    W = (0.3 * rng.standard_normal((d, c))).astype(dtype)
    for reg in (0.0, 0.25):
        kw = dict(margin=0.5) if loss == "hinge" else {}
        got, dW = LOSSES[loss](W, X, y, reg, **kw)
        want, dWd = LOSSES[loss](W, _dense(X), y, reg, **kw)
        ref, dWr = getattr(reference, f"{'svm' if loss == 'hinge' else 'softmax'}_loss")(
            W, _dense(X), y, reg, **kw)
        assert dW.shape == (d, c) and dW.dtype == dtype
        np.testing.assert_allclose(got, want, **_tol(dtype))
        np.testing.assert_allclose(dW, dWd, **_tol(dtype))
        np.testing.assert_allclose(dW, dWr, **_tol(dtype))


@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_array", "coo_array", "lil_matrix", "dok_array"])
def test_losses_other_formats(fmt, rng):
    X = _csr(rng, 20, 12, 0.3, np.float64)
    Xf = getattr(sp, fmt)(X)
    y = rng.integers(0, 4, 20)
    W = rng.standard_normal((12, 4))
    for f in LOSSES.values():
        got, dW = f(W, Xf, y, 0.1)
        want, dWd = f(W, _dense(X), y, 0.1)
        np.testing.assert_allclose(got, want, rtol=1e-12)
        np.testing.assert_allclose(dW, dWd, rtol=1e-12, atol=1e-14)


def test_losses_no_nonzeros_and_no_rows(rng):
    W = rng.standard_normal((6, 3))
    X = sp.csr_array((5, 6))
    for f in LOSSES.values():
        got, dW = f(W, X, [0, 1, 2, 0, 1])
        want, dWd = f(W, np.zeros((5, 6)), [0, 1, 2, 0, 1])
        assert got == pytest.approx(want) and np.array_equal(dW, dWd)
        # no rows: no data term, the L2 term alone (reg·ΣW², gradient 2·reg·W)
        got, dW = f(W, sp.csr_array((0, 6)), np.zeros(0, int), 0.5)
        assert got == pytest.approx(0.5 * np.sum(W ** 2)) and np.allclose(dW, W)


def test_losses_gradcheck(rng):
    X = _csr(rng, 30, 15, 0.3, np.float64, duplicates=True)
    y = rng.integers(0, 5, 30)
    W = 0.01 * rng.standard_normal((15, 5))
    _, dW = fl.softmax_loss(W, X, y, 0.1)
    assert fl.gradcheck(lambda w: fl.softmax_loss(w, X, y, 0.1), W, dW, seed=0) < 1e-7


def test_losses_errors(rng):
    W = rng.standard_normal((6, 3))
    X = _csr(rng, 5, 6, 0.5, np.float64)
    with pytest.raises(TypeError, match="X must have dtype float64"):
        fl.svm_loss(W, X.astype(np.float32), np.zeros(5, int))
    with pytest.raises(ValueError, match="X has 6 features"):
        fl.svm_loss(W[:4], X, np.zeros(5, int))
    with pytest.raises(ValueError, match="is not a class index"):
        fl.softmax_loss(W, X, [0, 1, 2, 3, 0])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), d=st.integers(1, 50), c=st.integers(1, 12),
       density=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1),
       loss=st.sampled_from(sorted(LOSSES)), index=st.sampled_from([np.int32, np.int64]),
       odd=st.booleans())
def test_losses_random_patterns(n, d, c, density, seed, loss, index, odd):
    rng = np.random.default_rng(seed)
    X = _csr(rng, n, d, density, np.float64, index=index, duplicates=odd, unsorted=odd,
             explicit_zeros=odd, empty_rows=odd)
    y = rng.integers(0, c, n)
    W = rng.standard_normal((d, c))
    got, dW = LOSSES[loss](W, X, y, 0.01)
    want, dWd = LOSSES[loss](W, _dense(X), y, 0.01)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dW, dWd, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------
# the sparse engine against its twin, and against the dense engine


def _sparse_engine(X, y, W, b, order, lr, *, V=None, Vb=None, **kw):
    W, b = W.copy(), None if b is None else b.copy()
    V = None if V is None else V.copy()
    Vb = None if Vb is None else Vb.copy()
    steps = -(-X.shape[0] // kw["batch_size"])
    history = np.full(steps, np.nan)
    bad = dispatch.kernels.sparse_train_epoch(
        X.data, X.indices, X.indptr, np.asarray(y, np.int64), W, order,
        np.asarray(lr, np.float64), history, b=b, V=V, Vb=Vb, **kw)
    return history, W, b, V, Vb, bad


def _sparse_twin(X, y, W, b, order, lr, *, V=None, Vb=None, **kw):
    W, b = W.copy(), None if b is None else b.copy()
    V = np.zeros_like(W) if V is None else V.copy()
    Vb = None if b is None else (np.zeros_like(b) if Vb is None else Vb.copy())
    order = np.arange(X.shape[0]) if order is None else order
    history = reference.sparse_train_epoch(X.data, X.indices, X.indptr, X.shape, y, W, order,
                                           lr, b=b, V=V, Vb=Vb, **kw)
    return history, W, b, V, Vb


@pytest.mark.parametrize("loss", ["softmax", "hinge"])
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.8, True)])
@pytest.mark.parametrize("batch", [1, 7, 32])
def test_engine_equals_twin(loss, momentum, nesterov, batch, dtype, rng):
    n, d, c = 75, 40, 5
    X = _csr(rng, n, d, 0.1, dtype, duplicates=True, unsorted=True, explicit_zeros=True,
             empty_rows=True)
    y = rng.integers(0, c, n)
    W = (0.1 * rng.standard_normal((d, c))).astype(dtype)
    b = (0.1 * rng.standard_normal(c)).astype(dtype)
    sw = rng.uniform(0, 2, n)
    order = rng.permutation(n).astype(np.intp)
    steps = -(-n // batch)
    lr = np.linspace(0.3, 0.1, steps)
    kw = dict(loss=loss, batch_size=batch, sample_weight=sw, reg=0.05, margin=0.7,
              momentum=momentum, nesterov=nesterov)
    V = np.zeros_like(W) if momentum else None
    Vb = np.zeros_like(b) if momentum else None
    h, W1, b1, V1, Vb1, bad = _sparse_engine(X, y, W, b, order, lr, V=V, Vb=Vb, **kw)
    ht, Wt, bt, Vt, Vbt = _sparse_twin(X, y, W, b, order, lr, **kw)
    assert bad == -1
    np.testing.assert_allclose(h, ht, **_tol(dtype))
    np.testing.assert_allclose(W1, Wt, **_tol(dtype))
    np.testing.assert_allclose(b1, bt, **_tol(dtype))
    if momentum:
        np.testing.assert_allclose(V1, Vt, **_tol(dtype))
        np.testing.assert_allclose(Vb1, Vbt, **_tol(dtype))


@pytest.mark.parametrize("loss", ["softmax", "hinge"])
@pytest.mark.parametrize("intercept", [True, False])
def test_engine_without_momentum_equals_dense_engine(loss, intercept, dtype, rng):
    n, d, c = 90, 33, 7
    X = _csr(rng, n, d, 0.15, dtype, index=np.int64, duplicates=True, empty_rows=True)
    y = rng.integers(0, c, n)
    W = (0.1 * rng.standard_normal((d, c))).astype(dtype)
    b = (0.1 * rng.standard_normal(c)).astype(dtype) if intercept else None
    order = rng.permutation(n).astype(np.intp)
    lr = np.full(-(-n // 16), 0.2)
    kw = dict(loss=loss, batch_size=16, reg=0.1)
    h, W1, b1, _, _, _ = _sparse_engine(X, y, W, b, order, lr, **kw)
    Wt = W.T.copy()
    bd = None if b is None else b.copy()
    hd = np.full(lr.shape[0], np.nan)
    dispatch.kernels.train_epoch(_dense(X), np.asarray(y, np.int64), Wt, order, lr, hd, b=bd,
                                 **kw)
    np.testing.assert_allclose(h, hd, **_tol(dtype))
    np.testing.assert_allclose(W1, Wt.T, **_tol(dtype))
    if intercept:
        np.testing.assert_allclose(b1, bd, **_tol(dtype))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 30), d=st.integers(1, 20), c=st.integers(1, 6),
       density=st.floats(0.0, 0.8), batch=st.integers(1, 12), seed=st.integers(0, 2**32 - 1),
       momentum=st.sampled_from([0.0, 0.5]), loss=st.sampled_from(["softmax", "hinge"]))
def test_engine_random_patterns(n, d, c, density, batch, seed, momentum, loss):
    rng = np.random.default_rng(seed)
    X = _csr(rng, n, d, density, np.float64, duplicates=True, unsorted=True)
    y = rng.integers(0, c, n)
    W = 0.1 * rng.standard_normal((d, c))
    b = 0.1 * rng.standard_normal(c)
    order = rng.permutation(n).astype(np.intp)
    lr = np.full(-(-n // batch), 0.1)
    kw = dict(loss=loss, batch_size=batch, reg=0.02, momentum=momentum)
    V, Vb = (np.zeros_like(W), np.zeros_like(b)) if momentum else (None, None)
    h, W1, b1, _, _, _ = _sparse_engine(X, y, W, b, order, lr, V=V, Vb=Vb, **kw)
    ht, Wt, bt, _, _ = _sparse_twin(X, y, W, b, order, lr, **kw)
    np.testing.assert_allclose(h, ht, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(W1, Wt, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(b1, bt, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("decay", [0.999, 1.0, 1.5])
def test_engine_scale_renormalised(decay, rng):
    """lr·2·reg close to 1 drives the scale α below 1e-9 within a few steps (W is then
    materialised), exactly 1 zeroes every weight, above 1 flips their sign."""
    n, d, c = 40, 10, 3
    X = _csr(rng, n, d, 0.3, np.float64)
    y = rng.integers(0, c, n)
    W = rng.standard_normal((d, c))
    lr = np.full(20, 0.5)
    kw = dict(loss="softmax", batch_size=2, reg=decay)  # 1 - lr·2·reg = 1 - decay
    h, W1, _, _, _, bad = _sparse_engine(X, y, W, None, None, lr, **kw)
    ht, Wt, _, _, _ = _sparse_twin(X, y, W, None, None, lr, **kw)
    assert bad == -1
    np.testing.assert_allclose(h, ht, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(W1, Wt, rtol=1e-8, atol=1e-12)


def test_lazy_momentum(rng):
    """A column stored in the first batch only: its weights move by the decay alone
    afterwards (its velocity is neither updated nor applied), others by their velocity."""
    X = sp.csr_array(np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]))
    y = np.array([0, 1, 1])
    W = np.zeros((2, 2))
    V = np.zeros((2, 2))
    lr, reg, mu = np.full(3, 0.1), 0.05, 0.9
    h, W1, _, V1, _, _ = _sparse_engine(X, y, W, None, None, lr, V=V, loss="softmax",
                                        batch_size=1, reg=reg, momentum=mu)
    g0 = np.array([-0.5, 0.5])  # softmax of equal scores minus one-hot, x = 1
    decay = 1 - 0.1 * 2 * reg
    np.testing.assert_allclose(V1[0], g0)                           # stored once: v = g
    np.testing.assert_allclose(W1[0], -0.1 * g0 * decay * decay)    # then two decays only
    np.testing.assert_allclose(V1[1], np.array([0.5, -0.5]))        # only the third step
    np.testing.assert_allclose(W1[1], -0.1 * np.array([0.5, -0.5]))


@pytest.mark.skipif(not OPENMP, reason="kernels built without OpenMP")
@pytest.mark.parametrize("threads", [2, 3, 5])
@pytest.mark.parametrize("loss", ["softmax", "hinge"])
@pytest.mark.parametrize("momentum,nesterov,reg", [(0.0, False, 0.01), (0.9, False, 0.01),
                                                    (0.8, True, 0.0), (0.0, False, 0.0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_engine_threads(threads, loss, momentum, nesterov, reg, dtype, rng):
    # Shares of a step's rows score, shares of W's columns update: W, b and the
    # velocity are the same bits at every thread count; the history's L2 term
    # sums ΣW² share by share (rounding).
    # a step of 500 rows x ~140 non-zeros x 21 classes: work enough for 5 threads
    # (kernels/sparse.pxi: 2^19 multiply-adds a step, 2^18 a thread)
    n, d, c = 1500, 400, 21
    X = _csr(rng, n, d, 0.35, dtype, duplicates=True)
    y = rng.integers(0, c, n)
    W = (0.1 * rng.standard_normal((d, c))).astype(dtype)
    b = np.zeros(c, dtype)
    order = rng.permutation(n).astype(np.intp)
    lr = np.full(3, 0.5)
    kw = dict(loss=loss, batch_size=500, reg=reg, momentum=momentum, nesterov=nesterov,
              sample_weight=rng.random(n))
    if momentum:
        kw.update(V=np.zeros_like(W), Vb=np.zeros_like(b))
    with fl.threads(threads):
        many = _sparse_engine(X, y, W, b, order, lr, **kw)
    with fl.threads(1):
        one = _sparse_engine(X, y, W, b, order, lr, **kw)
    np.testing.assert_allclose(many[0], one[0], rtol=1e-13)
    for u, w in zip(many[1:], one[1:]):
        if isinstance(u, np.ndarray):
            assert u.tobytes() == w.tobytes()
        else:
            assert u == w
    twin = _sparse_twin(X, y, W, b, order, lr, **kw)
    tol = dict(rtol=2e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-12)
    for u, w in zip(many[:3], twin[:3]):
        np.testing.assert_allclose(u, w, **tol)


@pytest.mark.skipif(not OPENMP, reason="kernels built without OpenMP")
def test_engine_threads_stop_at_the_same_step(rng):
    # A step whose loss is not finite stops every block's task before its update.
    n, d, c = 400, 400, 32
    X = _csr(rng, n, d, 0.5, np.float64)
    y = rng.integers(0, c, n)
    W, b = np.zeros((d, c)), np.zeros(c)
    lr = np.array([0.1, 0.1, 1e308, 0.1])
    kw = dict(loss="softmax", batch_size=100)
    with fl.threads(2):
        many = _sparse_engine(X, y, W, b, None, lr, **kw)
    with fl.threads(1):
        one = _sparse_engine(X, y, W, b, None, lr, **kw)
    assert many[5] == one[5] == 3
    assert not np.isfinite(many[0][3]) and np.isnan(many[0][4:]).all()
    assert many[1].tobytes() == one[1].tobytes() and np.isfinite(many[1]).all()


@pytest.mark.skipif(not OPENMP, reason="kernels built without OpenMP")
@pytest.mark.parametrize("threads", [2, 3])
def test_linear_loss_threads(threads, rng):
    n, d, c = 600, 300, 20
    X = _csr(rng, n, d, 0.08, np.float64, duplicates=True)
    y = rng.integers(0, c, n)
    W = 0.1 * rng.standard_normal((d, c))
    with fl.threads(threads):
        got = fl.softmax_loss(W, X, y)
    with fl.threads(1):
        want = fl.softmax_loss(W, X, y)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------------------
# malformed CSR: a ValueError naming the problem, nothing written


def _raw(rng):
    X = _csr(rng, 6, 5, 0.5, np.float64)
    return X.data.copy(), X.indices.copy(), X.indptr.copy()


MALFORMED = {
    "index too large": (lambda d, i, p: (d, np.where(np.arange(i.size) == 1, 5, i), p),
                        r"indices\[1\] = 5 is not a column index"),
    "negative index": (lambda d, i, p: (d, np.where(np.arange(i.size) == 0, -1, i), p),
                       r"indices\[0\] = -1 is not a column index"),
    "indptr decreasing": (lambda d, i, p: (d, i, np.r_[p[:3], p[2] - 1, p[4:]]),
                          "indptr must be non-decreasing"),
    "indptr not at nnz": (lambda d, i, p: (d, i, np.r_[p[:-1], p[-1] - 1]),
                          "indptr must end at the number of stored values"),
    "indptr not from 0": (lambda d, i, p: (d, i, np.r_[1, p[1:]]), r"indptr\[0\] must be 0"),
    "indptr length": (lambda d, i, p: (d, i, p[:-1]), "indptr must have n_rows"),
    "data length": (lambda d, i, p: (d[:-1], i, p), "indices and data must have the same length"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_csr_kernels(case, rng):
    make, msg = MALFORMED[case]
    data, indices, indptr = make(*_raw(rng))
    indices, indptr = indices.astype(np.int32), indptr.astype(np.int32)
    y = np.zeros(6, np.int64)
    W = rng.standard_normal((5, 3))
    W0 = W.copy()
    dW = np.full((5, 3), 7.0)
    with pytest.raises(ValueError, match=msg):
        dispatch.kernels.sparse_linear_gradient(data, indices, indptr, y, W, dW, loss="softmax",
                                                margin=1.0)
    history = np.full(6, 3.0)
    with pytest.raises(ValueError, match=msg):
        dispatch.kernels.sparse_train_epoch(data, indices, indptr, y, W, None, np.ones(6),
                                            history, loss="hinge", batch_size=1)
    assert np.array_equal(W, W0) and np.all(dW == 7.0) and np.all(history == 3.0)


def _mutated(rng, case):
    """A csr_array made valid, then its arrays changed in place (as SciPy allows)."""
    make, msg = MALFORMED[case]
    data, indices, indptr = make(*_raw(rng))
    X = sp.csr_array((5 * [0.0], 5 * [0], [0, 5, 5, 5, 5, 5, 5]), shape=(6, 5))
    X.data, X.indices, X.indptr = data, indices.astype(np.int32), indptr.astype(np.int32)
    return X, msg


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_csr_public(case, rng):
    X, msg = _mutated(rng, case)
    y = np.array([0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match=msg):
        fl.svm_loss(rng.standard_normal((5, 3)), X, y)
    clf = fl.LinearClassifier(epochs=1, random_state=0)
    with pytest.raises(ValueError, match="X is not a valid CSR matrix: " + msg):
        clf.fit(X, y)
    good = _csr(rng, 6, 5, 0.5, np.float64)
    clf.fit(good, y)
    coef = clf.coef_.copy()
    for call in (lambda: clf.partial_fit(X, y), lambda: clf.predict(X),
                 lambda: clf.decision_function(X), lambda: clf.score(X, y)):
        with pytest.raises(ValueError, match=msg):
            call()
    assert np.array_equal(clf.coef_, coef) and clf.n_iter_ == 1


def test_malformed_shape_and_dtype(rng):
    with pytest.raises(ValueError, match="must be 2-D"):
        fl.LinearClassifier().fit(sp.coo_array(np.ones(4)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="no features"):
        fl.LinearClassifier().fit(sp.csr_array((4, 0)), [0, 1, 0, 1])
    with pytest.raises(TypeError, match="must hold real numbers"):
        fl.LinearClassifier().fit(sp.csr_array(np.ones((2, 2), np.complex128)), [0, 1])


# ---------------------------------------------------------------------------
# the classifier


@pytest.mark.parametrize("loss", ["softmax", "hinge"])
@pytest.mark.parametrize("fmt", ["csr_array", "csr_matrix", "csc_matrix", "coo_array"])
def test_classifier_equals_dense(loss, fmt, dtype, rng):
    n, d, c = 120, 30, 4
    Xs = _csr(rng, n, d, 0.2, np.float64, duplicates=True, empty_rows=True)
    Xd = _dense(Xs)
    y = np.array(["a", "b", "c", "d"])[rng.integers(0, c, n)]
    X = getattr(sp, fmt)(Xs)
    kw = dict(loss=loss, epochs=4, batch_size=16, reg=1e-2, random_state=3, dtype=dtype)
    s = fl.LinearClassifier(**kw).fit(X, y)
    e = fl.LinearClassifier(**kw).fit(Xd, y)
    tol = _tol(dtype)
    np.testing.assert_allclose(s.coef_, e.coef_, **tol)
    np.testing.assert_allclose(s.intercept_, e.intercept_, **tol)
    np.testing.assert_allclose(s.loss_history_, e.loss_history_, **tol)
    np.testing.assert_allclose(s.decision_function(X), e.decision_function(Xd), **tol)
    assert np.array_equal(s.predict(X), e.predict(Xd)) or dtype == np.float32
    assert s.score(X, y) == pytest.approx(e.score(Xd, y), abs=0.02)
    if loss == "softmax":
        np.testing.assert_allclose(s.predict_proba(X), e.predict_proba(Xd), **tol)
    s.partial_fit(X, y)
    e.partial_fit(Xd, y)
    np.testing.assert_allclose(s.coef_, e.coef_, **tol)
    assert s.coef_.dtype == dtype


def test_classifier_momentum_equals_twin(rng):
    n, d, c = 64, 20, 3
    X = _csr(rng, n, d, 0.2, np.float64)
    y = rng.integers(0, c, n)
    clf = fl.LinearClassifier(epochs=1, batch_size=8, momentum=0.9, nesterov=True, reg=0.01,
                              learning_rate=0.2, shuffle=False, random_state=0).fit(X, y)
    W0 = 0.001 * np.random.default_rng(0).standard_normal((d, c))
    ht, Wt, bt, _, _ = _sparse_twin(X, y, W0, np.zeros(c), None, np.full(8, 0.2),
                                    loss="softmax", batch_size=8, reg=0.01, momentum=0.9,
                                    nesterov=True)
    np.testing.assert_allclose(clf.coef_, Wt.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(clf.intercept_, bt, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(clf.loss_history_, ht, rtol=1e-9)


def test_classifier_learns_and_mixes_inputs(rng):
    n, d = 400, 200
    X = _csr(rng, n, d, 0.05, np.float64)
    w = rng.standard_normal(d)
    y = (X @ w > 0).astype(int)
    clf = fl.LinearClassifier(epochs=30, batch_size=20, reg=1e-5, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.9
    # a model fitted on sparse data predicts dense data alike, and the reverse
    assert np.array_equal(clf.predict(_dense(X)), clf.predict(X))
    int_X = sp.csr_array((np.ones(X.nnz, np.int64), X.indices, X.indptr), shape=X.shape)
    fl.LinearClassifier(epochs=1).fit(int_X, y)  # integer values: float64


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_values(bad, rng):
    X = _csr(rng, 30, 8, 0.5, np.float64)
    X.data[3] = bad
    y = rng.integers(0, 2, 30)
    clf = fl.LinearClassifier(epochs=2, random_state=0)
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        clf.fit(X, y)
    assert not hasattr(clf, "coef_")
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        fl.LinearClassifier(epochs=1).fit(X.toarray(), y)  # the same error as dense input
    clf.fit(_csr(rng, 30, 8, 0.5, np.float64), y)
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        clf.predict(X)


def test_no_nonzeros_and_empty_rows(rng):
    X = sp.csr_array((10, 4))
    y = np.arange(10) % 2
    clf = fl.LinearClassifier(epochs=3, random_state=0).fit(X, y)
    e = fl.LinearClassifier(epochs=3, random_state=0).fit(np.zeros((10, 4)), y)
    np.testing.assert_allclose(clf.coef_, e.coef_, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(clf.intercept_, e.intercept_, rtol=1e-12)


def test_import_does_not_import_scipy():
    code = "import sys, fastloss; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
