"""Parity with torch.nn.functional.cross_entropy, multi_margin_loss and binary_cross_entropy_with_logits (skipped without torch)."""

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


def _assert_matches(loss, g, tloss, tg, dtype):
    """fastloss's (loss, grad) equals torch's to the dtype's rounding."""
    rtol, atol = _tols(dtype)
    np.testing.assert_allclose(loss, tloss, rtol=rtol, atol=atol)
    np.testing.assert_allclose(g, tg, rtol=rtol, atol=atol * max(1.0, np.abs(tg).max()))


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
    _assert_matches(loss, g, tloss, tg, dtype)


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
    _assert_matches(loss, g, tloss, tg, dtype)


@pytest.mark.parametrize("margin", [0.0, 1.0, 2.5])
@pytest.mark.parametrize("squared", [False, True], ids=["p1", "p2"])
@pytest.mark.parametrize("c", [2, 17, 1031])
def test_multi_margin_mean_matches_torch_without_weights(isa, dtype, c, squared, margin, rng):
    n = 40
    s = rng.standard_normal((n, c)).astype(dtype)
    y = rng.integers(0, c, n)
    loss, g = fl.multiclass_hinge(s, y, reduction="mean", margin=margin, squared=squared)
    tloss, tg = _torch_margin(s, y, "mean", None, margin, squared)
    _assert_matches(loss, g, tloss, tg, dtype)


# --------------------------------------------------------------------------
# binary_cross_entropy_with_logits, cross_entropy with probability targets
# --------------------------------------------------------------------------


def _torch_bce(x, y, reduction, weight, pos_weight):
    xt = torch.tensor(x, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(
        xt,
        torch.tensor(y, dtype=xt.dtype),
        weight=None if weight is None else torch.tensor(weight, dtype=xt.dtype),
        pos_weight=None if pos_weight is None else torch.tensor(pos_weight, dtype=xt.dtype),
        reduction=reduction,
    )
    loss.sum().backward()
    return loss.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("weights", ["none", "pos_weight", "sample_weight", "both"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(41,), (37, 5)], ids=str)
def test_bce_with_logits_matches_torch(isa, dtype, shape, reduction, weights, rng):
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    y = rng.random(shape)
    k = shape[1] if len(shape) == 2 else 1
    pw = rng.uniform(0.2, 3.0, k) if weights in ("pos_weight", "both") else None
    sw = rng.uniform(0.2, 2.0, shape[0]) if weights in ("sample_weight", "both") else None
    loss, g = fl.sigmoid_cross_entropy(x, y, reduction=reduction, pos_weight=pw, sample_weight=sw)
    tw = None if sw is None else (sw[:, None] if len(shape) == 2 else sw)
    tloss, tg = _torch_bce(x, y, reduction, tw, pw)
    if reduction == "mean" and sw is not None:
        # torch's mean divides by the number of elements, fastloss's by the total weight
        total_weight = np.broadcast_to(tw, shape).sum()
        tloss = tloss * x.size / total_weight
        tg = tg * x.size / total_weight
    _assert_matches(loss, g, tloss, tg, dtype)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "class_weight"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probability_targets_match_torch(isa, dtype, reduction, weighted, smoothing, rng):
    n, c = 37, 11
    s = (rng.standard_normal((n, c)) * 3).astype(dtype)
    t = rng.random((n, c))
    t /= t.sum(axis=1, keepdims=True)
    t = t.astype(dtype)
    cw = rng.uniform(0.1, 2.0, c) if weighted else None
    loss, g = fl.softmax_cross_entropy(s, t, reduction=reduction, class_weight=cw, label_smoothing=smoothing)
    x = torch.tensor(s, requires_grad=True)
    tl = F.cross_entropy(
        x, torch.tensor(t), weight=None if cw is None else torch.tensor(cw, dtype=x.dtype),
        reduction=reduction, label_smoothing=smoothing,
    )
    tl.sum().backward()
    rtol, atol = _tols(dtype)
    np.testing.assert_allclose(loss, tl.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(g, x.grad.numpy(), rtol=rtol, atol=atol)
