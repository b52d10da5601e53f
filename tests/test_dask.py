"""fastloss.dask: the distributed svm_loss / softmax_loss on Dask.

The threaded-scheduler tests check exactness against the in-memory
fastloss.svm_loss / softmax_loss over many chunkings; the dask.distributed
tests start a real LocalCluster (2 worker processes on 127.0.0.1, no mock),
and one of them kills a worker process in the middle of a reduction.
"""

import doctest
import importlib
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import fastloss as fl  # noqa: E402
import fastloss.dask as fld  # noqa: E402
from fastloss import reference  # noqa: E402
from _strategies import digits_split, linear_problem  # noqa: E402

LOSSES = {"svm": (fl.svm_loss, fld.svm_loss), "softmax": (fl.softmax_loss, fld.softmax_loss)}
RTOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}


def _problem(rng, n, d, c, dtype, scale=0.5):
    return linear_problem(rng, n, d, c, dtype, scale)


def _assert_exact(got, expected, dtype):
    """Equal up to floating-point rounding (a different summation order)."""
    loss, dW = got
    eloss, edW = expected
    tol = RTOL[np.dtype(dtype)]
    assert type(loss) is float
    assert isinstance(dW, np.ndarray) and dW.dtype == edW.dtype and dW.shape == edW.shape
    assert loss == pytest.approx(eloss, rel=tol, abs=tol)
    np.testing.assert_allclose(dW, edW, rtol=tol, atol=tol * max(1.0, np.abs(edW).max()))


# --------------------------------------------------------------------------
# Threaded scheduler


#: Row chunkings of N = 103 rows: even, uneven, one row per chunk, a single chunk, empty chunks.
CHUNKINGS = {
    "even": 25,
    "uneven": ((1, 50, 2, 40, 10),),
    "rows": 1,
    "single": 103,
    "with-empty": ((0, 60, 0, 43),),
}


@pytest.mark.parametrize("reg", [0.0, 0.3])
@pytest.mark.parametrize("chunks", list(CHUNKINGS), ids=str)
@pytest.mark.parametrize("name", list(LOSSES))
def test_matches_in_memory(dtype, name, chunks, reg, rng):
    local, distributed_loss = LOSSES[name]
    W, X, y = _problem(rng, 103, 9, 5, dtype)
    spec = CHUNKINGS[chunks]
    rows = spec if isinstance(spec, int) else spec[0]
    Xd = da.from_array(X, chunks=(rows, 9))
    yd = da.from_array(y, chunks=rows)
    with_dask = distributed_loss(W, Xd, yd, reg)
    _assert_exact(with_dask, local(W, X, y, reg), dtype)


@pytest.mark.parametrize("name", list(LOSSES))
def test_single_class_chunks(name, rng):
    """Sorted labels: every chunk holds rows of one class only (its own partial mean would be biased)."""
    local, distributed_loss = LOSSES[name]
    W, X, _ = _problem(rng, 90, 6, 3, np.float64)
    y = np.repeat([2, 0, 1], [25, 40, 25])
    rows = (25, 15, 25, 25)
    Xd = da.from_array(X, chunks=(rows, 6))
    yd = da.from_array(y, chunks=(rows,))
    assert all(len(np.unique(b)) == 1 for b in np.split(y, np.cumsum(yd.chunks[0])[:-1]))
    _assert_exact(distributed_loss(W, Xd, yd, 0.1), local(W, X, y, 0.1), np.float64)


@pytest.mark.parametrize("margin", [0.0, 2.5])
def test_svm_margin(margin, rng):
    W, X, y = _problem(rng, 64, 7, 4, np.float64)
    got = fld.svm_loss(W, da.from_array(X, chunks=(13, 7)), da.from_array(y, chunks=13), 0.2, margin=margin)
    _assert_exact(got, fl.svm_loss(W, X, y, 0.2, margin=margin), np.float64)


@pytest.mark.parametrize("name", list(LOSSES))
def test_misaligned_chunks_are_realigned(name, rng):
    """X chunked across columns too, y chunked differently from X's rows: both are rechunked."""
    local, distributed_loss = LOSSES[name]
    W, X, y = _problem(rng, 80, 12, 4, np.float64)
    Xd = da.from_array(X, chunks=(30, 5))
    yd = da.from_array(y, chunks=17)
    _assert_exact(distributed_loss(W, Xd, yd), local(W, X, y), np.float64)


@pytest.mark.parametrize("name", list(LOSSES))
def test_numpy_inputs_and_lazy_graphs(name, rng):
    """X and y may be plain arrays or any lazy dask expression (here, computed on the fly)."""
    local, distributed_loss = LOSSES[name]
    W, X, y = _problem(rng, 50, 4, 3, np.float64)
    _assert_exact(distributed_loss(W, X, y), local(W, X, y), np.float64)
    Xd = da.from_array(X, chunks=(11, 4)) * 2.0
    yd = (da.from_array(y, chunks=11) + 1) % 3
    _assert_exact(distributed_loss(W, Xd, yd), local(W, 2.0 * X, (y + 1) % 3), np.float64)


@pytest.mark.parametrize("name", list(LOSSES))
def test_no_rows(name):
    """N = 0 gives what the in-memory function gives: no data loss, only the penalty."""
    local, distributed_loss = LOSSES[name]
    W = np.ones((3, 4))
    X = np.zeros((0, 3))
    y = np.zeros(0, dtype=np.int64)
    got = distributed_loss(W, da.from_array(X, chunks=(5, 3)), da.from_array(y, chunks=5), 0.1)
    _assert_exact(got, local(W, X, y, 0.1), np.float64)


def test_gradient_central_differences(rng):
    W, X, y = _problem(rng, 40, 4, 3, np.float64, scale=0.7)
    Xd = da.from_array(X, chunks=(9, 4))
    yd = da.from_array(y, chunks=9)
    _, dW = fld.softmax_loss(W, Xd, yd, 0.3)
    assert fl.gradcheck(lambda w: fld.softmax_loss(w, Xd, yd, 0.3), W, dW, num_checks=6, seed=0) < 1e-7


def test_docstring_examples():
    result = doctest.testmod(fld, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


# --------------------------------------------------------------------------
# Bad input


def _bad_input_cases(rng):
    W, X, y = _problem(rng, 20, 4, 3, np.float64)
    Xd = da.from_array(X, chunks=(7, 4))
    yd = da.from_array(y, chunks=7)
    return W, X, y, Xd, yd


@pytest.mark.parametrize("name", list(LOSSES))
def test_bad_input(name, rng):
    _, f = LOSSES[name]
    W, X, y, Xd, yd = _bad_input_cases(rng)
    W0 = W.copy()
    with pytest.raises(TypeError, match="X must have dtype float64"):
        f(W, Xd.astype(np.float32), yd)
    with pytest.raises(TypeError, match="W must be a float32 or float64"):
        f(W.astype(np.int64), Xd, yd)
    with pytest.raises(ValueError, match="X must be 2-D"):
        f(W, Xd[:, 0], yd)
    with pytest.raises(ValueError, match="X has 4 features .* W has 3 rows"):
        f(W[:3], Xd, yd)
    with pytest.raises(TypeError, match="y must hold integer"):
        f(W, Xd, yd.astype(np.float64))
    with pytest.raises(ValueError, match=r"y must have shape \(20,\)"):
        f(W, Xd, yd[:19])
    with pytest.raises(ValueError, match="reg must be in"):
        f(W, Xd, yd, -1.0)
    with pytest.raises(ValueError, match="known chunk sizes"):
        f(W, Xd[Xd[:, 0] > 0], yd[Xd[:, 0] > 0])
    np.testing.assert_array_equal(W, W0)


@pytest.mark.parametrize("bad_label", [-1, 3])
@pytest.mark.parametrize("name", list(LOSSES))
def test_bad_label_names_its_global_row(name, bad_label, rng):
    _, f = LOSSES[name]
    W, X, y, _, _ = _bad_input_cases(rng)
    y[16] = bad_label
    with pytest.raises(ValueError, match=rf"y\[16\] = {bad_label} is not a class index in \[0, 3\)"):
        f(W, da.from_array(X, chunks=(7, 4)), da.from_array(y, chunks=7))


def test_bad_margin(rng):
    W, X, y, Xd, yd = _bad_input_cases(rng)
    with pytest.raises(ValueError, match="margin must be in"):
        fld.svm_loss(W, Xd, yd, margin=-1.0)


def test_missing_dask_names_the_extra(monkeypatch):
    """Without Dask, importing fastloss.dask fails with the pip command of the extra."""
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.array", None)
    monkeypatch.delitem(sys.modules, "fastloss.dask")
    with pytest.raises(ImportError, match=r'pip install "fastloss\[dask\]"'):
        importlib.import_module("fastloss.dask")
    assert "dask" not in dir(fl) or fl.dask is fld  # import fastloss never imports it


# --------------------------------------------------------------------------
# dask.distributed: a real LocalCluster of two worker processes on loopback


#: The directory fastloss is imported from, first on the workers' path (fastloss must be
#: importable by the worker processes, also from an in-place build).
_FASTLOSS_PATH = os.pathsep.join(
    p for p in (os.path.dirname(os.path.dirname(fl.__file__)), os.environ.get("PYTHONPATH")) if p
)


def _local_cluster():
    return distributed.LocalCluster(
        host="127.0.0.1",
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        # The scheduler's HTTP server always starts; with dashboard_address=None it would listen
        # on port 8787 of every interface.  ":0" keeps it on `host` (loopback), on a free port.
        dashboard_address=":0",
        env={"PYTHONPATH": _FASTLOSS_PATH},
    )


@pytest.fixture(scope="module")
def client():
    with _local_cluster() as cluster, distributed.Client(cluster) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


@pytest.mark.parametrize("name", list(LOSSES))
def test_local_cluster_matches_in_memory(client, dtype, name):
    local, distributed_loss = LOSSES[name]
    rng = np.random.default_rng(7)
    W, X, y = _problem(rng, 10_001, 20, 10, dtype)
    Xd = da.from_array(X, chunks=(1500, 20))
    yd = da.from_array(y, chunks=1500)
    Xd, yd = client.persist([Xd, yd])
    got = distributed_loss(W, Xd, yd, 0.05)
    _assert_exact(got, local(W, X, y, 0.05), dtype)
    # both workers held data and ran tasks
    assert len({w for ws in client.who_has(Xd).values() for w in ws}) == 2


def test_local_cluster_worker_errors_reach_the_client(client, rng):
    W, X, y = _problem(rng, 30, 4, 3, np.float64)
    y[25] = 9
    with pytest.raises(ValueError, match=r"y\[25\] = 9 is not a class index"):
        fld.svm_loss(W, da.from_array(X, chunks=(10, 4)), da.from_array(y, chunks=10))


def _slow_rows(block):
    """Test-only: a row chunk that takes a moment to produce, so that a reduction lasts seconds."""
    time.sleep(0.1)
    return block


def test_worker_killed_mid_reduction(rng):
    """SIGKILL a worker process while the reduction runs: Dask reruns the lost tasks, the result is exact."""
    cloudpickle = pytest.importorskip("cloudpickle")
    W, X, y = _problem(rng, 6000, 16, 10, np.float64)
    expected = fl.softmax_loss(W, X, y, 0.01)
    # Ship _slow_rows by value: the worker processes cannot import this test module.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        with _local_cluster() as cluster, distributed.Client(cluster) as c:
            c.wait_for_workers(2, timeout=60)
            pids = c.run(os.getpid)
            Xd = da.from_array(X, chunks=(100, 16)).map_blocks(_slow_rows, dtype=X.dtype)
            yd = da.from_array(y, chunks=100)
            with ThreadPoolExecutor(1) as pool:
                running = pool.submit(fld.softmax_loss, W, Xd, yd, 0.01)
                victim = _wait_for_results_on_a_worker(c, running)
                os.kill(pids[victim], signal.SIGKILL)
                killed_while_running = not running.done()
                got = running.result(timeout=120)
            assert killed_while_running
            # the nanny restarted the worker: a new process took the dead one's place
            c.wait_for_workers(2, timeout=60)
            assert set(c.run(os.getpid).values()) != set(pids.values())
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    _assert_exact(got, expected, np.float64)


def _wait_for_results_on_a_worker(c, running, timeout=60.0):
    """The address of a worker that holds finished partial results and still has tasks to run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.done():
            running.result()  # raise the error, if any
            pytest.fail("the reduction finished before a worker could be killed")
        processing = c.processing()
        for addr, keys in c.has_what().items():
            if any("_partial" in str(k) for k in keys) and processing.get(addr):
                return addr
        time.sleep(0.05)
    pytest.fail("no worker held partial results within the timeout")


# --------------------------------------------------------------------------
# fastloss.dask.LinearClassifier: parameter averaging after every local epoch


def _blobs(rng, n=600, d=5, c=3):
    centers = rng.normal(0, 3, (c, d))
    y = rng.integers(0, c, n)
    X = centers[y] + rng.normal(0, 1, (n, d))
    return X, y


def test_classifier_one_shard_is_the_in_memory_estimator(rng):
    """One chunk, no shuffling, no momentum: the same SGD steps as fastloss.LinearClassifier."""
    X, y = _blobs(rng)
    kw = dict(random_state=3, epochs=4, shuffle=False, batch_size=64)
    local = fl.LinearClassifier(**kw).fit(X, y)
    dist = fld.LinearClassifier(**kw).fit(da.from_array(X, chunks=(600, 5)), da.from_array(y, chunks=600))
    assert dist.n_shards_ == 1
    np.testing.assert_allclose(dist.coef_, local.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dist.intercept_, local.intercept_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dist.epoch_loss_, local.epoch_loss_, rtol=1e-12)


@pytest.mark.parametrize("loss", ["softmax", "hinge"])
def test_classifier_averages_the_shards_weighted_by_rows(loss, rng):
    """averaging_steps="epoch": one epoch over uneven shards = the row-weighted mean of each
    shard's in-memory epoch from the same start, its batches its share of the global batch."""
    X, y = _blobs(rng, n=500)
    rows = (100, 250, 150)
    kw = dict(loss=loss, random_state=5, epochs=1, shuffle=False, batch_size=40, reg=0.01)
    dist = fld.LinearClassifier(averaging_steps="epoch", **kw).fit(
        da.from_array(X, chunks=(rows, 5)), da.from_array(y, chunks=(rows,)))
    steps = -(-500 // 40)  # the in-memory epoch's 13 steps
    bounds = np.cumsum((0,) + rows)
    Ws = []
    for r, a, b in zip(rows, bounds[:-1], bounds[1:]):
        assert len(np.unique(y[a:b])) == 3  # same class codes as the whole
        shard_kw = dict(kw, batch_size=-(-r * 40 // 500))  # 8, 20 and 12 rows a step
        m = fl.LinearClassifier(**shard_kw).fit(X[a:b], y[a:b])  # same seed: same initial weights
        assert m.loss_history_.shape == (steps,)
        Ws.append(np.vstack([m.coef_.T, m.intercept_]))
    expected = sum(r * W for r, W in zip(rows, Ws)) / sum(rows)
    np.testing.assert_allclose(dist.coef_, expected[:-1].T, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dist.intercept_, expected[-1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("loss", ["softmax", "hinge"])
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_classifier_averaging_every_step_is_synchronous_data_parallel_sgd(loss, momentum,
                                                                          nesterov, rng):
    """averaging_steps=1: every step, each shard's share of the batch; the average (momentum
    buffers too) is the in-memory step over the union of the shares: the NumPy twin's run."""
    X, y = _blobs(rng, n=400)
    rows = (100, 200, 100)
    kw = dict(loss=loss, random_state=2, epochs=2, shuffle=False, batch_size=40, reg=0.01,
              momentum=momentum, nesterov=nesterov, learning_rate=0.2)
    dist = fld.LinearClassifier(averaging_steps=1, **kw).fit(
        da.from_array(X, chunks=(rows, 5)), da.from_array(y, chunks=(rows,)))
    # the twin: batches of 40 rows made of 10, 20 and 10 rows of the three chunks
    order = np.concatenate([np.r_[s * 10:(s + 1) * 10, 100 + s * 20:100 + (s + 1) * 20,
                                  300 + s * 10:300 + (s + 1) * 10] for s in range(10)])
    r0 = np.random.default_rng(2)
    W = 0.001 * r0.standard_normal((5, 3))
    b = np.zeros(3)
    V, Vb = (np.zeros_like(W), np.zeros_like(b)) if momentum else (None, None)
    for _ in range(2):
        reference.train_epoch(X, y, W, order, np.full(10, 0.2), loss=loss, batch_size=40, b=b,
                              V=V, Vb=Vb, reg=0.01, momentum=momentum, nesterov=nesterov)
    np.testing.assert_allclose(dist.coef_, W.T, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(dist.intercept_, b, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("bad", [0, -1, "sometimes", 1.5])
def test_classifier_bad_averaging_steps(bad, rng):
    X, y = _blobs(rng, n=60)
    with pytest.raises((ValueError, TypeError), match="averaging_steps"):
        fld.LinearClassifier(averaging_steps=bad).fit(da.from_array(X, chunks=(30, 5)),
                                                      da.from_array(y, chunks=30))


def test_classifier_is_deterministic_and_follows_estimator_conventions(rng):
    X, y = _blobs(rng)
    labels = np.array(["a", "b", "c"])[y]
    Xd = da.from_array(X, chunks=(170, 5))
    yd = da.from_array(labels, chunks=170)
    one = fld.LinearClassifier(random_state=1, epochs=5, dtype="float32").fit(Xd, yd)
    two = fld.LinearClassifier(random_state=1, epochs=5, dtype="float32").fit(Xd, yd)
    np.testing.assert_array_equal(one.coef_, two.coef_)
    np.testing.assert_array_equal(one.intercept_, two.intercept_)
    assert one.classes_.tolist() == ["a", "b", "c"]
    assert one.coef_.shape == (3, 5) and one.coef_.dtype == np.float32
    assert one.intercept_.shape == (3,) and one.n_features_in_ == 5
    assert one.n_iter_ == 5 and one.epoch_loss_.shape == (5,) and one.n_shards_ == 4
    assert one.epoch_loss_[-1] < one.epoch_loss_[0]
    # lazy prediction of a dask array = prediction of the same rows in memory
    pred = one.predict(Xd)
    assert isinstance(pred, da.Array)
    np.testing.assert_array_equal(pred.compute(), one.predict(X))
    np.testing.assert_allclose(one.decision_function(Xd).compute(), one.decision_function(X), rtol=1e-6)
    np.testing.assert_allclose(one.predict_proba(Xd).compute(), one.predict_proba(X), rtol=1e-6)
    assert one.score(Xd, yd) == one.score(X, labels) > 0.9
    assert fld.LinearClassifier(random_state=2, epochs=5).fit(Xd, yd).coef_.tolist() != one.coef_.tolist()


def test_classifier_bad_input(rng):
    X, y = _blobs(rng, n=60)
    Xd = da.from_array(X, chunks=(20, 5))
    yd = da.from_array(y, chunks=20)
    clf = fld.LinearClassifier(epochs=1)
    with pytest.raises(ValueError, match="single class"):
        clf.fit(Xd, da.zeros(60, dtype=int, chunks=20))
    Xnan = X.copy()
    Xnan[45, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        clf.fit(da.from_array(Xnan, chunks=(20, 5)), yd)
    with pytest.raises(ValueError, match="different lengths"):
        clf.fit(Xd, yd[:59])
    with pytest.raises(ValueError, match="2-D"):
        clf.fit(Xd[:, 0], yd)
    with pytest.raises(ValueError, match="loss must be"):
        fld.LinearClassifier(loss="nope").fit(Xd, yd)
    with pytest.raises(fl.NotFittedError):
        clf.predict(Xd)
    with pytest.raises(NotImplementedError, match="partial_fit"):
        clf.partial_fit(Xd, yd)
    clf.fit(Xd, yd)
    with pytest.raises(ValueError, match="4 features"):
        clf.predict(Xd[:, :4])


@pytest.mark.parametrize("loss", ["softmax", "hinge"])
def test_local_cluster_digits_accuracy_within_one_point(client, loss):
    """Trained on 2 worker processes (one shard each), default settings: test accuracy within
    1 point of the in-memory fit."""
    X_train, X_test, y_train, y_test = digits_split()
    in_memory = fl.LinearClassifier(loss, random_state=0).fit(X_train, y_train)
    Xd = da.from_array(X_train, chunks=(674, 64))
    yd = da.from_array(y_train, chunks=674)
    Xd, yd = client.persist([Xd, yd])
    dist = fld.LinearClassifier(loss, random_state=0).fit(Xd, yd)
    assert dist.n_shards_ == 2
    assert len({w for ws in client.who_has(Xd).values() for w in ws}) == 2
    acc_memory = in_memory.score(X_test, y_test)
    acc_dist = dist.score(da.from_array(X_test, chunks=100), da.from_array(y_test, chunks=100))
    assert acc_memory >= 0.90
    assert abs(acc_dist - acc_memory) <= 0.01, (acc_dist, acc_memory)


@pytest.mark.parametrize("loss", ["softmax", "hinge"])
def test_digits_in_four_chunks_within_one_point(loss):
    """1,400 training rows in 4 chunks (the local threaded scheduler), default settings."""
    X, y = _digits()
    perm = np.random.default_rng(0).permutation(len(y))
    train, test = perm[:1400], perm[1400:]
    in_memory = fl.LinearClassifier(loss, random_state=0).fit(X[train], y[train])
    Xd = da.from_array(X[train], chunks=(350, 64))
    yd = da.from_array(y[train], chunks=350)
    dist = fld.LinearClassifier(loss, random_state=0).fit(Xd, yd)
    assert dist.n_shards_ == 4
    acc_memory = in_memory.score(X[test], y[test])
    acc_dist = dist.score(X[test], y[test])
    assert acc_memory >= 0.95
    assert abs(acc_dist - acc_memory) <= 0.01, (acc_dist, acc_memory)


def _digits():
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    return X / 16.0, y


def test_two_classes_have_sklearns_shapes_on_dask_arrays():
    """The dask estimator's two-class form is the in-memory one's: (1, D), (1,), (n,), (n, 2)."""
    rng = np.random.default_rng(5)
    X = np.r_[rng.normal(-2, 1, (200, 3)), rng.normal(2, 1, (200, 3))]
    y = np.repeat(["a", "b"], 200)
    perm = rng.permutation(400)
    X, y = X[perm], y[perm]
    Xd, yd = da.from_array(X, chunks=(100, 3)), da.from_array(y, chunks=100)
    clf = fld.LinearClassifier(random_state=0, epochs=3).fit(Xd, yd)
    assert clf.coef_.shape == (1, 3) and clf.intercept_.shape == (1,)
    d = clf.decision_function(Xd)
    assert d.shape == (400,)
    np.testing.assert_allclose(d.compute(), clf.decision_function(X), rtol=1e-12)
    np.testing.assert_allclose(d.compute(), X @ clf.coef_[0] + clf.intercept_[0], rtol=1e-12)
    p = clf.predict_proba(Xd)
    assert p.shape == (400, 2)
    np.testing.assert_allclose(p.compute(), clf.predict_proba(X), rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(Xd).compute(), clf.predict(X))
    assert clf.score(Xd, yd) > 0.95
    hinge = fld.LinearClassifier("hinge", random_state=0, epochs=2).fit(Xd, yd)
    assert not hasattr(hinge, "predict_proba")
