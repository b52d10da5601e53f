"""OpenMP threads: fl.set_num_threads / get_num_threads / threads, OMP_NUM_THREADS,
threadpoolctl, and kernels whose per-row results do not depend on the thread count."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastloss as fl
import fastloss._dispatch as dispatch
import fastloss._threads as _threads

OPENMP = bool(dispatch.kernels.build_info()["openmp"])
assert OPENMP == _threads.openmp()
needs_openmp = pytest.mark.skipif(not OPENMP, reason="kernels built without OpenMP")


@pytest.fixture(autouse=True)
def _default_threads():
    fl.set_num_threads(None)
    yield
    fl.set_num_threads(None)


# ---- the API -------------------------------------------------------------------------

def test_default_is_openmps_max_threads():
    expected = _threads.omp_max_threads() if OPENMP else 1
    assert fl.get_num_threads() == expected >= 1


@needs_openmp
def test_set_and_restore():
    fl.set_num_threads(3)
    assert fl.get_num_threads() == 3
    fl.set_num_threads(np.int64(2))
    assert fl.get_num_threads() == 2
    fl.set_num_threads(None)
    assert fl.get_num_threads() == _threads.omp_max_threads()
    fl.set_num_threads(5)
    fl.set_num_threads(0)
    assert fl.get_num_threads() == _threads.omp_max_threads()


@needs_openmp
def test_context_manager_restores_the_previous_setting_even_on_error():
    fl.set_num_threads(3)
    with fl.threads(1):
        assert fl.get_num_threads() == 1
        with fl.threads(2):
            assert fl.get_num_threads() == 2
        assert fl.get_num_threads() == 1
    assert fl.get_num_threads() == 3
    with pytest.raises(RuntimeError):
        with fl.threads(2):
            raise RuntimeError
    assert fl.get_num_threads() == 3
    with fl.threads(None):
        assert fl.get_num_threads() == _threads.omp_max_threads()
    assert fl.get_num_threads() == 3


def test_without_openmp_always_one_thread():
    previous = _threads._pretend_openmp(False)
    try:
        fl.set_num_threads(4)
        assert fl.get_num_threads() == 1
        assert _threads.for_size(10**9) == 1
    finally:
        _threads._pretend_openmp(previous)


@pytest.mark.parametrize("bad", [-1, -8])
def test_negative_is_a_value_error(bad):
    fl.set_num_threads(2)
    with pytest.raises(ValueError, match="n must be >= 1"):
        fl.set_num_threads(bad)
    with pytest.raises(ValueError, match="n must be >= 1"):
        with fl.threads(bad):
            pass
    assert _threads.requested() == 2


@pytest.mark.parametrize("bad", [1.5, "2", True, [2]])
def test_non_integer_is_a_type_error(bad):
    with pytest.raises(TypeError, match="positive int or None"):
        fl.set_num_threads(bad)
    assert _threads.requested() is None


@needs_openmp
def test_small_problems_stay_on_one_thread():
    fl.set_num_threads(2)
    assert _threads.for_size(_threads.PARALLEL_MIN_ELEMENTS - 1) == 1
    assert _threads.for_size(_threads.PARALLEL_MIN_ELEMENTS) == 2


def _run(code, **env):
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True, env=full_env).stdout.strip()


@needs_openmp
@pytest.mark.parametrize("n", ["1", "3"])
def test_omp_num_threads_is_respected(n):
    assert _run("import fastloss as fl; print(fl.get_num_threads())", OMP_NUM_THREADS=n) == n


@needs_openmp
def test_threadpoolctl_limits_fastloss():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    fl.set_num_threads(None)
    with threadpoolctl.threadpool_limits(limits=1):
        assert fl.get_num_threads() == 1
    with threadpoolctl.threadpool_limits(limits=3, user_api="openmp"):
        assert fl.get_num_threads() == 3
    # an explicit fastloss setting takes precedence
    with fl.threads(2), threadpoolctl.threadpool_limits(limits=1):
        assert fl.get_num_threads() == 2


def test_show_config_reports_openmp_and_threads(capsys):
    info = fl.show_config(mode="dicts")
    assert info["openmp"] is OPENMP
    assert info["openmp"] == ("-fopenmp" in info["cflags"].split())
    assert info["threads"] == fl.get_num_threads()
    fl.show_config()
    out = capsys.readouterr().out
    assert f"OpenMP        {'on' if OPENMP else 'off'}, threads: {fl.get_num_threads()}" in out


@needs_openmp
def test_cli_info_reports_threads_from_omp_num_threads():
    info = json.loads(_run("import runpy, sys; sys.argv = ['fastloss', 'info', '--json']; "
                           "runpy.run_module('fastloss', run_name='__main__')",
                           OMP_NUM_THREADS="3"))
    assert info["openmp"] is True
    assert info["threads"] == 3


# ---- kernels: per-row results independent of the thread count --------------------------

#: Above the threshold, with a row count that is no multiple of 8 (the row block) nor of 2.
SHAPE = (2 * _threads.PARALLEL_MIN_ELEMENTS // 37 + 3, 37)


def _problem(rng, dtype, shape=SHAPE):
    n, c = shape
    assert n * c >= _threads.PARALLEL_MIN_ELEMENTS
    scores = (rng.standard_normal(shape) * 4).astype(dtype)
    scores[5, 3] = -1e4  # a huge logit
    y = rng.integers(0, c, n)
    y[5] = 0
    return scores, y


def _same_for_1_and_2_threads(fn, *args, **kwargs):
    """fn's per-row losses and gradient are identical with 1 and 2 threads; means agree to rounding."""
    results = {}
    for nt in (1, 2):
        with fl.threads(nt):
            assert _threads.for_size(SHAPE[0] * SHAPE[1]) == (nt if OPENMP else 1)
            rows, g_rows = fn(*args, reduction="none", **kwargs)
            mean, g_mean = fn(*args, reduction="mean", **kwargs)
            total, _ = fn(*args, reduction="sum", grad=False, **kwargs)
        results[nt] = rows, g_rows, mean, g_mean, total
    (r1, g1, m1, gm1, t1), (r2, g2, m2, gm2, t2) = results[1], results[2]
    np.testing.assert_array_equal(r1, r2)
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(gm1, gm2)
    for a, b in ((m1, m2), (t1, t2)):  # sums over rows in another order: rounding only
        if np.isnan(a):
            assert np.isnan(b)
        else:
            assert abs(a - b) <= 8 * np.finfo(r1.dtype).eps * abs(a)
    # and the threaded totals are the per-row results summed
    np.testing.assert_allclose(t2, np.sum(r1, dtype=np.float64), rtol=1e-5 if r1.dtype == np.float32 else 1e-12)
    return results


@pytest.mark.parametrize("options", [
    {},
    {"label_smoothing": 0.1},
    {"class_weight": "random", "sample_weight": "random"},
    {"class_weight": "random", "label_smoothing": 0.2, "ignore_index": 2},
])
def test_softmax_cross_entropy_same_for_any_thread_count(rng, dtype, isa, options):
    scores, y = _problem(rng, dtype)
    options = dict(options)
    if options.get("class_weight") == "random":
        options["class_weight"] = rng.uniform(0.5, 2, scores.shape[1])
    if options.get("sample_weight") == "random":
        options["sample_weight"] = rng.uniform(0, 3, scores.shape[0])
    if "ignore_index" in options:
        y[::7] = options["ignore_index"]  # some ignored rows; label 2 is also a class
        options["ignore_index"] = -100
        y[::11] = -100
    _same_for_1_and_2_threads(fl.softmax_cross_entropy, scores, y, **options)


@pytest.mark.parametrize("variant", ["weston_watkins", "crammer_singer"])
@pytest.mark.parametrize("squared", [False, True])
def test_multiclass_hinge_same_for_any_thread_count(rng, dtype, isa, variant, squared):
    scores, y = _problem(rng, dtype)
    scores[9, 4] = np.nan  # a NaN row stays NaN in its own row only
    sw = rng.uniform(0, 3, scores.shape[0])
    res = _same_for_1_and_2_threads(fl.multiclass_hinge, scores, y, variant=variant,
                                    squared=squared, sample_weight=sw)
    rows = res[2][0]
    assert np.isnan(rows[9]) and np.isfinite(np.delete(rows, 9)).all()


def test_threaded_gradient_in_place_matches_out_of_place(rng, dtype):
    """grad may alias scores: each thread reads a row before it writes it."""
    scores, y = _problem(rng, dtype)
    with fl.threads(2):
        expected_loss, expected = fl.softmax_cross_entropy(scores, y)
        s = scores.copy()
        loss, g = fl.softmax_cross_entropy(s, y, out=s)
    assert g is s
    np.testing.assert_array_equal(g, expected)
    assert loss == expected_loss


def test_threaded_matches_the_reference(rng, dtype, assert_close):
    from fastloss import reference
    scores, y = _problem(rng, dtype)
    scores[5, 3] = 0.0
    with fl.threads(2):
        rows, g = fl.softmax_cross_entropy(scores, y, reduction="none")
        hrows, hg = fl.multiclass_hinge(scores, y, reduction="none")
    ref_rows, ref_g = reference.softmax_cross_entropy(scores, y, reduction="none")
    assert_close(rows, ref_rows, dtype)
    assert_close(g, ref_g, dtype)
    ref_rows, ref_g = reference.multiclass_hinge(scores, y, reduction="none")
    assert_close(hrows, ref_rows, dtype)
    assert_close(hg, ref_g, dtype)


def test_bad_label_found_before_any_thread_writes(rng, dtype):
    scores, y = _problem(rng, dtype)
    y[-1] = scores.shape[1]
    out = np.full_like(scores, 7.0)
    with fl.threads(2):
        with pytest.raises(ValueError, match=rf"y\[{len(y) - 1}\]"):
            fl.softmax_cross_entropy(scores, y, out=out)
        with pytest.raises(ValueError, match=rf"y\[{len(y) - 1}\]"):
            fl.multiclass_hinge(scores, y, out=out)
    assert (out == 7.0).all()


@pytest.mark.parametrize("label_dtype", [np.int8, np.int64, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_binary_labels_checked_block_by_block_first_bad_one_reported(rng, dtype, label_dtype,
                                                                     threads):
    """The label check runs in blocks over the threads: the first bad label is the one
    reported even when later blocks (another thread's) hold bad ones too, and nothing is
    written."""
    n = 200_003                                       # 13 check blocks, the last one short
    scores = rng.standard_normal(n).astype(dtype)
    signs = (2 * rng.integers(0, 2, n) - 1).astype(label_dtype)
    targets = rng.integers(0, 2, n).astype(label_dtype)
    for first, later in ((70_001, [70_002, 199_999]), (n - 1, []), (0, [n - 1])):
        y, t = signs.copy(), targets.copy()
        for k in [first, *later]:
            y[k] = 0
            t[k] = 3
        out = np.full_like(scores, 7.0)
        with fl.threads(threads):
            with pytest.raises(ValueError, match=rf"y\[{first}\]"):
                fl.binary_hinge(scores, y, out=out)
            with pytest.raises(ValueError, match=rf"y\[{first}\]"):
                fl.sigmoid_cross_entropy(scores, t, out=out)
        assert (out == 7.0).all()
    with fl.threads(threads):                         # and all good labels pass
        np.testing.assert_array_equal(fl.binary_hinge(scores, signs)[1],
                                      fl.binary_hinge(scores, signs.astype(np.int8))[1])


def _same_output(fn, *args, **kwargs):
    results = []
    for nt in (1, 2):
        with fl.threads(nt):
            results.append(fn(*args, **kwargs))
    np.testing.assert_array_equal(results[0], results[1])
    return results[1]


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_same_for_any_thread_count(rng, dtype, isa, name):
    scores, _ = _problem(rng, dtype)
    _same_output(getattr(fl, name), scores)
    # in place, too
    expected = getattr(fl, name)(scores)
    with fl.threads(2):
        s = scores.copy()
        getattr(fl, name)(s, out=s)
    np.testing.assert_array_equal(s, expected)


def test_soft_targets_same_for_any_thread_count(rng, dtype, isa):
    scores, _ = _problem(rng, dtype)
    targets = rng.dirichlet(np.ones(scores.shape[1]), scores.shape[0]).astype(dtype)
    sw = rng.uniform(0, 2, scores.shape[0])
    _same_for_1_and_2_threads(fl.softmax_cross_entropy, scores, targets, sample_weight=sw,
                              label_smoothing=0.1, class_weight=rng.uniform(0.5, 2, scores.shape[1]))


#: Flat sizes above the threshold that are no multiple of the kernels' blocks.
FLAT_N = 2 * _threads.PARALLEL_MIN_ELEMENTS + 1001


def test_sigmoid_same_for_any_thread_count(rng, dtype, isa):
    x = (rng.standard_normal(FLAT_N) * 10).astype(dtype)
    _same_output(fl.sigmoid, x)


@pytest.mark.parametrize("squared", [False, True])
def test_binary_hinge_same_for_any_thread_count(rng, dtype, isa, squared):
    scores = rng.standard_normal(FLAT_N).astype(dtype)
    y = rng.choice(np.array([-1, 1], np.int8), FLAT_N)
    sw = rng.uniform(0, 2, FLAT_N)
    _same_for_1_and_2_threads_flat(fl.binary_hinge, scores, y, squared=squared, sample_weight=sw)


@pytest.mark.parametrize("k", [1, 7])
def test_sigmoid_cross_entropy_same_for_any_thread_count(rng, dtype, isa, k):
    n = FLAT_N // k
    logits = (rng.standard_normal((n, k)) * 5).astype(dtype).squeeze()
    y = rng.uniform(0, 1, logits.shape).astype(dtype)
    pw = rng.uniform(0.5, 3, k) if k > 1 else None
    sw = rng.uniform(0, 2, n)  # one per row: row and column tracked across block boundaries
    _same_for_1_and_2_threads_flat(fl.sigmoid_cross_entropy, logits, y, pos_weight=pw,
                                   sample_weight=sw)


def _same_for_1_and_2_threads_flat(fn, *args, **kwargs):
    results = {}
    for nt in (1, 2):
        with fl.threads(nt):
            rows, g = fn(*args, reduction="none", **kwargs)
            mean, gm = fn(*args, **kwargs)
        results[nt] = rows, g, mean, gm
    (r1, g1, m1, gm1), (r2, g2, m2, gm2) = results[1], results[2]
    np.testing.assert_array_equal(r1, r2)
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(gm1, gm2)
    assert abs(m1 - m2) <= 8 * np.finfo(r1.dtype).eps * abs(m1)


@pytest.mark.parametrize("options", [
    {},
    {"weight_decay": 1e-2},
    {"momentum": 0.9},
    {"momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
    {"momentum": 0.9, "dampening": 0.1, "maximize": True},
])
def test_sgd_update_same_for_any_thread_count(rng, dtype, isa, options):
    n = 2 * _threads.SGD_MIN_ELEMENTS + 12345
    param0 = rng.standard_normal(n).astype(dtype)
    grad = rng.standard_normal(n).astype(dtype)
    vel0 = rng.standard_normal(n).astype(dtype)
    results = []
    for nt in (1, 2):
        param = param0.copy()
        vel = vel0.copy() if options.get("momentum") else None
        with fl.threads(nt):
            assert _threads.for_size(n, _threads.SGD_MIN_ELEMENTS) == (nt if OPENMP else 1)
            fl.sgd_update(param, grad, lr=0.1, velocity=vel, **options)
        results.append((param, vel))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    if options.get("momentum"):
        np.testing.assert_array_equal(results[0][1], results[1][1])
    assert not np.array_equal(results[1][0], param0)


def test_sgd_optimizer_same_for_any_thread_count(rng, dtype, isa):
    n = 2 * _threads.SGD_MIN_ELEMENTS + 777
    w0 = rng.standard_normal((n // 10, 10)).astype(dtype)
    grads = [rng.standard_normal(w0.shape).astype(dtype) for _ in range(3)]
    finals = []
    for nt in (1, 2):
        w = w0.copy()
        opt = fl.SGD([w], lr=0.05, momentum=0.9, nesterov=True)
        with fl.threads(nt):
            for g in grads:
                opt.step([g])
        finals.append(w)
    np.testing.assert_array_equal(finals[0], finals[1])


@pytest.mark.parametrize("name", ["svm_loss", "softmax_loss"])
def test_linear_losses_same_for_any_thread_count(rng, dtype, name):
    n, d, c = 2 * _threads.PARALLEL_MIN_ELEMENTS // 10 + 3, 20, 10
    W = (rng.standard_normal((d, c)) * 0.1).astype(dtype)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, c, n)
    res = []
    for nt in (1, 2):
        with fl.threads(nt):
            res.append(getattr(fl, name)(W, X, y, reg=1e-3))
    np.testing.assert_array_equal(res[0][1], res[1][1])
    assert abs(res[0][0] - res[1][0]) <= 8 * np.finfo(dtype).eps * abs(res[0][0])
