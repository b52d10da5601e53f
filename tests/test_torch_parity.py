"""Parity with torch.nn.functional.cross_entropy and multi_margin_loss (skipped without torch)."""

import numpy as np
import pytest

import fastloss as fl

torch = pytest.importorskip("torch")
F = torch.nn.functional

REDUCTIONS = ("none", "sum", "mean")


def _torch_ce(s, y, reduction, class_weight, ignore_index, label_smoothing):
    x = torch.tensor(s, requires_grad=True)
    loss = F.cross_entropy(
        x,
        torch.tensor(y, dtype=torch.int64),
        weight=None if class_weight is None else torch.tensor(class_weight, dtype=x.dtype),
        ignore_index=-100 if ignore_index is None else ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )
    loss.sum().backward()
    return loss.detach().numpy(), x.grad.numpy()


def _torch_margin(s, y, reduction, class_weight, margin, squared):
    x = torch.tensor(s, requires_grad=True)
    c = s.shape[1]
    loss = c * F.multi_margin_loss(
        x,
        torch.tensor(y, dtype=torch.int64),
        p=2 if squared else 1,
        margin=margin,
        weight=None if class_weight is None else torch.tensor(class_weight, dtype=x.dtype),
        reduction=reduction,
    )
    loss.sum().backward()
    return loss.detach().numpy(), x.grad.numpy()


def _tols(dtype):
    return (1e-10, 1e-12) if dtype == np.float64 else (2e-5, 2e-6)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.7])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "class_weight"])
@pytest.mark.parametrize("ignore", [None, 2, -100], ids=["no_ignore", "ignore_class", "ignore_-100"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_torch(isa, dtype, reduction, ignore, weighted, smoothing, rng):
    n, c = 37, 11
    s = (rng.standard_normal((n, c)) * 3).astype(dtype)
    y = rng.integers(0, c, n)
    if ignore == -100:
        y[rng.random(n) < 0.3] = -100
    cw = rng.uniform(0.1, 2.0, c) if weighted else None
    loss, g = fl.softmax_cross_entropy(
        s, y, reduction=reduction, class_weight=cw, ignore_index=ignore, label_smoothing=smoothing
    )
    tloss, tg = _torch_ce(s, y, reduction, cw, ignore, smoothing)
    rtol, atol = _tols(dtype)
    np.testing.assert_allclose(loss, tloss, rtol=rtol, atol=atol)
    np.testing.assert_allclose(g, tg, rtol=rtol, atol=atol * max(1.0, np.abs(tg).max()))


@pytest.mark.parametrize("c", [2, 17, 1031])
def test_cross_entropy_matches_torch_sizes(isa, dtype, c, rng):
    n = 50
    s = (rng.standard_normal((n, c)) * 3).astype(dtype)
    y = rng.integers(0, c, n)
    for reduction in REDUCTIONS:
        loss, g = fl.softmax_cross_entropy(s, y, reduction=reduction, label_smoothing=0.05)
        tloss, tg = _torch_ce(s, y, reduction, None, None, 0.05)
        rtol, atol = _tols(dtype)
        np.testing.assert_allclose(loss, tloss, rtol=rtol, atol=atol)
        np.testing.assert_allclose(g, tg, rtol=rtol, atol=atol * max(1.0, np.abs(tg).max()))


@pytest.mark.parametrize("margin", [0.0, 1.0, 2.5])
@pytest.mark.parametrize("squared", [False, True], ids=["p1", "p2"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "class_weight"])
@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_multi_margin_matches_torch(isa, dtype, reduction, weighted, squared, margin, rng):
    n, c = 37, 11
    s = rng.standard_normal((n, c)).astype(dtype)
    y = rng.integers(0, c, n)
    cw = rng.uniform(0.1, 2.0, c) if weighted else None
    loss, g = fl.multiclass_hinge(
        s, y, reduction=reduction, class_weight=cw, margin=margin, squared=squared
    )
    tloss, tg = _torch_margin(s, y, reduction, cw, margin, squared)
    rtol, atol = _tols(dtype)
    np.testing.assert_allclose(loss, tloss, rtol=rtol, atol=atol)
    np.testing.assert_allclose(g, tg, rtol=rtol, atol=atol * max(1.0, np.abs(tg).max()))


@pytest.mark.parametrize("margin", [0.0, 1.0, 2.5])
@pytest.mark.parametrize("squared", [False, True], ids=["p1", "p2"])
@pytest.mark.parametrize("c", [2, 17, 1031])
def test_multi_margin_mean_matches_torch_without_weights(isa, dtype, c, squared, margin, rng):
    n = 40
    s = rng.standard_normal((n, c)).astype(dtype)
    y = rng.integers(0, c, n)
    loss, g = fl.multiclass_hinge(s, y, reduction="mean", margin=margin, squared=squared)
    tloss, tg = _torch_margin(s, y, "mean", None, margin, squared)
    rtol, atol = _tols(dtype)
    np.testing.assert_allclose(loss, tloss, rtol=rtol, atol=atol)
    np.testing.assert_allclose(g, tg, rtol=rtol, atol=atol * max(1.0, np.abs(tg).max()))
