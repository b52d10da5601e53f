"""fastloss._bench.peers: every implementation the benchmarks time solves the problem fastloss solves.

The callables of ``python -m fastloss bench`` and of ``bench/`` are called
once on a small input and their results compared with fastloss's; each peer's
tests are skipped when that peer is not installed.  Nothing is timed.
"""

import os
import sys

import numpy as np
import pytest

import fastloss as fl
from fastloss._bench import peers as _peers

N, C = 9, 5
LOSSES = ("softmax_cross_entropy", "softmax_cross_entropy[soft]", "multiclass_hinge",
          "multiclass_hinge[crammer_singer]", "binary_hinge", "sigmoid_cross_entropy")
DISTANCE = ("squared_error", "absolute_error", "huber", "smooth_l1")
ACTIVATIONS = ("softmax", "log_softmax", "sigmoid")

#: What each peer has: function -> the peers that make a callable for it.
HAS = {
    "softmax_cross_entropy": {"torch", "sklearn", "jax"},
    "softmax_cross_entropy[soft]": {"torch", "jax"},
    "multiclass_hinge": {"torch", "jax"},
    "multiclass_hinge[crammer_singer]": {"jax"},
    "softmax": {"torch", "jax"},
    "log_softmax": {"torch", "jax"},
    "binary_hinge": {"jax"},
    "sigmoid_cross_entropy": {"torch", "sklearn", "jax"},
    "sigmoid": {"torch", "jax"},
    "sgd_update": {"torch"},
    "adam_update": {"torch"},
    "squared_error": {"torch"},
    "absolute_error": {"torch"},
    "huber": {"torch"},
    "smooth_l1": {"torch"},
}


def _problem(function, dtype, threads=1):
    shape = (N,) if function.partition("[")[0] in _peers.ELEMENTWISE else (N, C)
    return _peers.Problem(function, dtype, shape, threads)


def _tol(dtype):
    return {"rtol": 2e-5, "atol": 2e-6} if np.dtype(dtype) == np.float32 else {"rtol": 1e-10, "atol": 1e-12}


def _call(impl, problem):
    with _peers.threads(problem.threads):
        fn = _peers.make(impl, problem)
        assert fn is not None, f"{impl} has no callable for {problem.function}"
        return _peers.as_numpy(fn())


def _expected(problem, **kw):
    """fastloss's own result on the problem (a fresh call, not the benchmarked callable)."""
    x, y = problem.inputs
    if problem.name == "sgd_update":
        w = x.copy()
        fl.sgd_update(w, y, lr=_peers.SGD_LR, momentum=_peers.SGD_MOMENTUM, velocity=np.zeros_like(w))
        return w
    if problem.name == "adam_update":
        w = x.copy()
        fl.adam_update(w, y, np.zeros_like(w), np.zeros_like(w), step=1, lr=_peers.ADAM_LR)
        return w
    fn = getattr(fl, problem.name)
    if problem.option == "crammer_singer":
        kw["variant"] = "crammer_singer"
    return fn(x) if problem.name in ACTIVATIONS else fn(x, y, **kw)


@pytest.fixture(autouse=True)
def _keep_xla_flags(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))


@pytest.mark.parametrize("function", list(_peers.FUNCTIONS))
def test_fastloss_and_reference_agree(function, dtype):
    p = _problem(function, dtype)
    expected = _expected(p)
    for impl in ("fastloss", "reference"):
        got = _call(impl, p)
        for g, e in zip(got, expected) if isinstance(expected, tuple) else [(got, expected)]:
            np.testing.assert_allclose(g, e, **_tol(dtype))


@pytest.mark.parametrize("function", list(_peers.FUNCTIONS))
def test_floors(function):
    p = _problem(function, "float64")
    floor = _peers.FUNCTIONS[function]
    other = ({"floor_np.exp", "floor_np.copyto"} - {floor}).pop()
    assert _peers.make(other, p) is None
    fn = _peers.make(floor, p)
    fn()
    if floor == "floor_np.exp":
        np.testing.assert_array_equal(fn.keywords["out"], np.exp(p.inputs[0]))
    else:  # np.copyto(buffer, x) returns None
        np.testing.assert_array_equal(fn.args[0], p.inputs[0])


@pytest.mark.parametrize("function", list(_peers.FUNCTIONS))
@pytest.mark.parametrize("peer", ["torch", "sklearn", "jax"])
def test_which_peer_has_which_function(peer, function):
    pytest.importorskip(peer)
    fn = _peers.make(peer, _problem(function, "float64"))
    assert (fn is not None) == (peer in HAS[function])


@pytest.mark.parametrize("function", [f for f in LOSSES + DISTANCE if "torch" in HAS[f]])
def test_torch_loss_and_grad(function, dtype):
    pytest.importorskip("torch")
    p = _problem(function, dtype)
    loss, grad = _call("torch", p)
    e_loss, e_grad = _expected(p)
    np.testing.assert_allclose(loss, e_loss, **_tol(dtype))
    np.testing.assert_allclose(grad, e_grad, **_tol(dtype))
    assert grad.dtype == np.dtype(dtype)


@pytest.mark.parametrize("function", ACTIVATIONS)
@pytest.mark.parametrize("peer", ["torch", "jax"])
def test_activations(peer, function, dtype):
    pytest.importorskip(peer)
    p = _problem(function, dtype)
    np.testing.assert_allclose(_call(peer, p), _expected(p), **_tol(dtype))


def test_torch_fused_sgd_step(dtype):
    pytest.importorskip("torch")
    p = _problem("sgd_update", dtype)
    # torch's first step sets the velocity to the gradient; fastloss's from zeros gives the same
    np.testing.assert_allclose(_call("torch", p), _expected(p), **_tol(dtype))


def test_torch_fused_adam_step(dtype):
    pytest.importorskip("torch")
    p = _problem("adam_update", dtype)
    np.testing.assert_allclose(_call("torch", p), _expected(p), **_tol(dtype))


def test_distance_problems_take_any_shape():
    p = _peers.Problem("huber", "float32", (4, 6))
    pred, target = p.inputs
    assert pred.shape == target.shape == (4, 6) and pred.dtype == target.dtype == np.float32
    with pytest.raises(ValueError, match="shape must have 1 dimension"):
        _peers.Problem("adam_update", "float32", (4, 6))


def test_torch_threads_follow_the_case():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with _peers.threads(2):
        assert torch.get_num_threads() == 2
        openmp = bool(fl._dispatch.kernels.build_info()["openmp"])
        assert fl.get_num_threads() == (2 if openmp else 1)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("function", ["softmax_cross_entropy", "sigmoid_cross_entropy"])
def test_sklearn_per_row_loss_and_grad(function, dtype, threads):
    """HalfMultinomialLoss / HalfBinomialLoss: the full cross-entropy per row, as reduction="none"."""
    pytest.importorskip("sklearn")
    p = _problem(function, dtype, threads)
    loss, grad = _call("sklearn", p)
    e_loss, e_grad = _expected(p, reduction="none")
    np.testing.assert_allclose(loss, e_loss, **_tol(dtype))
    np.testing.assert_allclose(grad, e_grad, **_tol(dtype))
    assert loss.dtype == grad.dtype == np.dtype(dtype)


@pytest.mark.parametrize("function", LOSSES)
def test_jax_value_and_grad(function, dtype):
    pytest.importorskip("jax")
    p = _problem(function, dtype)
    value, grad = _call("jax", p)
    e_loss, e_grad = _expected(p)
    tol = _tol(dtype)
    np.testing.assert_allclose(value, e_loss, **tol)
    np.testing.assert_allclose(grad, e_grad, **tol)
    assert grad.dtype == np.dtype(dtype)


def test_problem_inputs_are_shared_and_read_only():
    p = _problem("binary_hinge", "float32")
    x, y = p.inputs
    assert p.inputs[0] is x and not x.flags.writeable and not y.flags.writeable
    assert set(np.unique(y)) <= {-1, 1}
    t = _problem("softmax_cross_entropy[soft]", "float64").inputs[1]
    np.testing.assert_allclose(t.sum(axis=1), 1.0)
    assert p.group == "binary_hinge float32 (9,) threads=1"


def test_problem_errors_name_the_argument():
    with pytest.raises(ValueError, match="function must be one of"):
        _peers.Problem("hinge", "float32", (3, 2))
    with pytest.raises(ValueError, match=r"shape must have 2 dimension\(s\) for softmax"):
        _peers.Problem("softmax", "float32", (3,))
    with pytest.raises(ValueError, match="impl must be one of"):
        _peers.make("tensorflow", _problem("softmax", "float32"))


def test_missing_peer(monkeypatch):
    monkeypatch.setitem(_peers.MODULES, "torch", "fastloss_no_such_module")
    assert not _peers.installed("torch") and _peers.version("torch") is None
    assert _peers.installed("reference") and _peers.version("reference") == fl.__version__


def test_pin_jax_threads(monkeypatch):
    monkeypatch.delitem(sys.modules, "jax", raising=False)  # as if JAX were not imported yet
    monkeypatch.delenv("XLA_FLAGS")
    assert _peers.pin_jax_threads(2) == "default" and "XLA_FLAGS" not in os.environ
    assert _peers.pin_jax_threads(1) == "1"
    assert "--xla_cpu_multi_thread_eigen=false" in os.environ["XLA_FLAGS"]
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true")  # the user's choice stays
    assert _peers.pin_jax_threads(1) == "default"
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=true"
