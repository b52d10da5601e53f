"""fastloss.torch: the drop-ins against torch.nn.functional (skipped without torch).

Equality with torch's own functions for every argument and input shape, torch's
OpInfo sample inputs, gradcheck in float64, autograd through a small nn.Module
training loop, torch.compile, and the errors.
"""

import itertools
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
flt = pytest.importorskip("fastloss.torch")
F = torch.nn.functional

REDUCTIONS = ("none", "sum", "mean")
DTYPES = (torch.float32, torch.float64)


def _tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype == torch.float32 else dict(rtol=1e-11, atol=1e-12)


def _both(fn_fl, fn_torch, tensors, grad_of, **kwargs):
    """Loss and gradients (of loss.sum(), w.r.t. the tensors at grad_of) of both functions."""
    out = []
    for fn in (fn_fl, fn_torch):
        ts = [t.detach().clone().requires_grad_(i in grad_of) if t is not None else None
              for i, t in enumerate(tensors)]
        loss = fn(*ts, **kwargs)
        grads = torch.autograd.grad(loss.sum(), [ts[i] for i in grad_of]) if grad_of else ()
        out.append((loss.detach(), [g.detach() for g in grads]))
    return out


def _assert_same(pair, dtype):
    (a, ga), (b, gb) = pair
    assert a.shape == b.shape and a.dtype == b.dtype
    torch.testing.assert_close(a, b, equal_nan=True, **_tol(dtype))
    for x, y in zip(ga, gb):
        torch.testing.assert_close(x, y, equal_nan=True, **_tol(dtype))


# ---- cross_entropy -------------------------------------------------------------------------

CE_SHAPES = [(5,), (1, 3), (7, 5), (33, 17), (3, 4, 5), (2, 3, 4, 2)]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, "positive", "signed"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_class_indices(dtype, shape, reduction, weight, label_smoothing):
    g = torch.Generator().manual_seed(1)
    c = shape[0] if len(shape) == 1 else shape[1]
    x = torch.randn(shape, generator=g, dtype=dtype) * 3
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    y = torch.randint(0, c, tshape, generator=g)
    if y.numel() > 2:
        y.view(-1)[1] = -100  # torch's default ignore_index
    w = None
    if weight is not None:
        w = torch.rand(c, generator=g, dtype=dtype) + 0.5
        if weight == "signed":
            w[::2] *= -1
    _assert_same(_both(flt.cross_entropy, F.cross_entropy, [x, y], [0], weight=w,
                       reduction=reduction, label_smoothing=label_smoothing), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, "signed"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("targets", ["distribution", "any"])
def test_cross_entropy_probabilities(dtype, shape, reduction, weight, label_smoothing, targets):
    g = torch.Generator().manual_seed(2)
    c = shape[0] if len(shape) == 1 else shape[1]
    x = torch.randn(shape, generator=g, dtype=dtype)
    if targets == "distribution":
        t = torch.softmax(torch.randn(shape, generator=g, dtype=dtype), dim=0 if len(shape) == 1 else 1)
    else:  # rows that do not sum to 1, negative entries: torch applies its formula
        t = torch.randn(shape, generator=g, dtype=dtype)
    w = None
    if weight is not None:
        w = torch.randn(c, generator=g, dtype=dtype)
    # the gradient with respect to the targets too
    _assert_same(_both(flt.cross_entropy, F.cross_entropy, [x, t], [0, 1], weight=w,
                       reduction=reduction, label_smoothing=label_smoothing), dtype)


@pytest.mark.parametrize("ignore_index", [-100, 0, 2, 7])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_ignore_index(ignore_index, reduction):
    x = torch.randn(9, 4, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 0])
    if ignore_index in (-100, 7):
        y[[1, 4]] = ignore_index
    _assert_same(_both(flt.cross_entropy, F.cross_entropy, [x, y], [0],
                       ignore_index=ignore_index, reduction=reduction), torch.float64)


@pytest.mark.parametrize("case", ["all_ignored", "weights_sum_to_zero"])
def test_cross_entropy_mean_over_zero_weight(case):
    x = torch.randn(4, 3, dtype=torch.float64)
    if case == "all_ignored":
        y, w = torch.full((4,), -100), None
    else:
        y, w = torch.tensor([0, 1, 0, 1]), torch.tensor([1.0, -1.0, 3.0], dtype=torch.float64)
    _assert_same(_both(flt.cross_entropy, F.cross_entropy, [x, y], [0], weight=w),
                 torch.float64)


def test_cross_entropy_extreme_values():
    x = torch.tensor([[1e4, -1e4, 0.0], [0.0, -float("inf"), 1.0], [1e6, 1e6 + 1, 1e6 - 1]])
    y = torch.tensor([1, 0, 2])
    _assert_same(_both(flt.cross_entropy, F.cross_entropy, [x, y], [0]), torch.float32)


def test_cross_entropy_empty_batch():
    x, y = torch.randn(0, 3), torch.zeros(0, dtype=torch.int64)
    for r in REDUCTIONS:
        _assert_same(_both(flt.cross_entropy, F.cross_entropy, [x, y], [0], reduction=r),
                     torch.float32)


@pytest.mark.filterwarnings("ignore:size_average and reduce")
def test_legacy_reduction_arguments():
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1])
    for sa, rd in itertools.product([None, True, False], [None, True, False]):
        if sa is None and rd is None:
            continue
        _assert_same(_both(flt.cross_entropy, F.cross_entropy, [x, y], [0], size_average=sa,
                           reduce=rd), torch.float32)


# ---- multi_margin_loss ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(), (1,), (6,), (1, 4), (9, 5), (40, 19)], ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [1.0, 0.3, -0.5])
@pytest.mark.parametrize("weight", [None, "signed"])
def test_multi_margin_loss(dtype, shape, reduction, p, margin, weight):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(shape, generator=g, dtype=dtype)
    c = shape[-1] if len(shape) else 1
    n = shape[0] if len(shape) == 2 else 1
    y = torch.randint(0, c, (n,) if len(shape) == 2 else (), generator=g)
    w = None
    if weight is not None:
        w = torch.randn(c, generator=g, dtype=dtype)
    _assert_same(_both(flt.multi_margin_loss, F.multi_margin_loss, [x, y], [0], p=p,
                       margin=margin, weight=w, reduction=reduction), dtype)


def test_multi_margin_loss_one_element_target():
    x, y = torch.randn(5, dtype=torch.float64), torch.tensor([2])
    _assert_same(_both(flt.multi_margin_loss, F.multi_margin_loss, [x, y], [0],
                       reduction="none"), torch.float64)


# ---- binary_cross_entropy_with_logits ------------------------------------------------------

BCE_CASES = [
    # shape, weight shape, pos_weight shape
    ((), None, None), ((), (), ()), ((5,), None, (5,)), ((5,), (5,), (1,)),
    ((4, 3), None, None), ((4, 3), (4, 1), (3,)), ((4, 3), (3,), (3,)), ((4, 3), (4, 3), (4, 1)),
    ((2, 3, 4), (1, 3, 1), (4,)), ((2, 3, 4), (2, 1, 1), (3, 1)), ((17, 9), (), (1, 9)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", BCE_CASES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("targets", ["unit", "any"])
def test_binary_cross_entropy_with_logits(dtype, case, reduction, targets):
    shape, wshape, pshape = case
    g = torch.Generator().manual_seed(4)
    x = torch.randn(shape, generator=g, dtype=dtype) * 4
    t = torch.rand(shape, generator=g, dtype=dtype)
    if targets == "any":
        t = t * 3 - 1
    w = torch.randn(wshape, generator=g, dtype=dtype) if wshape is not None else None
    pw = torch.rand(pshape, generator=g, dtype=dtype) * 3 - 1 if pshape is not None else None
    _assert_same(_both(flt.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits,
                       [x, t], [0, 1], weight=w, pos_weight=pw, reduction=reduction), dtype)


# ---- torch's own sample inputs -------------------------------------------------------------


def _opinfo_samples(name):
    try:
        import expecttest  # noqa: F401  (torch's test helpers subclass its TestCase)
    except ImportError:
        # Only its TestCase base class is needed to import the OpInfo database:
        # stand in for the package (a test-only helper, not installed here).
        import types
        import unittest

        sys.modules["expecttest"] = types.SimpleNamespace(TestCase=unittest.TestCase)
    try:
        from torch.testing._internal.common_methods_invocations import op_db
    except Exception as exc:  # pragma: no cover - depends on the torch build
        pytest.skip(f"torch's OpInfo database is not importable: {exc}")
    for op in op_db:
        if op.name == name:
            for dtype in DTYPES:
                yield from op.sample_inputs("cpu", dtype, requires_grad=True)
            return
    pytest.skip(f"no OpInfo for {name}")


@pytest.mark.parametrize("name, fl_fn, torch_fn", [
    ("nn.functional.cross_entropy", flt.cross_entropy, F.cross_entropy),
    ("nn.functional.multi_margin_loss", flt.multi_margin_loss, F.multi_margin_loss),
    ("nn.functional.binary_cross_entropy_with_logits", flt.binary_cross_entropy_with_logits,
     F.binary_cross_entropy_with_logits),
])
def test_opinfo_sample_inputs(name, fl_fn, torch_fn):
    """Every sample input torch tests its own function with, all shapes: same numbers."""
    count = 0
    for s in _opinfo_samples(name):
        tensors = [s.input] + list(s.args)
        grad_of = [i for i, t in enumerate(tensors) if isinstance(t, torch.Tensor)
                   and t.is_floating_point() and t.requires_grad][:2]
        kwargs = {k: (v.detach() if isinstance(v, torch.Tensor) else v)
                  for k, v in s.kwargs.items()}
        pair = _both(fl_fn, torch_fn, [t.detach() if isinstance(t, torch.Tensor) else t
                                      for t in tensors], grad_of, **kwargs)
        _assert_same(pair, s.input.dtype)
        count += 1
    assert count > 0


# ---- autograd ------------------------------------------------------------------------------


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(4, 5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 5, (4, 3), generator=g)
    w = torch.rand(5, generator=g, dtype=torch.float64) + 0.5
    t = torch.softmax(torch.randn(4, 5, 3, generator=g, dtype=torch.float64), 1).requires_grad_()
    for red in REDUCTIONS:
        assert torch.autograd.gradcheck(
            lambda x: flt.cross_entropy(x, y, weight=w, label_smoothing=0.1, reduction=red), (x,))
        assert torch.autograd.gradcheck(
            lambda x, t: flt.cross_entropy(x, t, weight=w, reduction=red), (x, t))
    x2 = torch.randn(6, 5, generator=g, dtype=torch.float64, requires_grad=True)
    y2 = torch.randint(0, 5, (6,), generator=g)
    for p, red in itertools.product((1, 2), REDUCTIONS):
        assert torch.autograd.gradcheck(
            lambda x: flt.multi_margin_loss(x, y2, p=p, margin=0.5, weight=w, reduction=red),
            (x2,))
    tb = torch.rand(6, 5, generator=g, dtype=torch.float64, requires_grad=True)
    for red in REDUCTIONS:
        assert torch.autograd.gradcheck(
            lambda x, t: flt.binary_cross_entropy_with_logits(
                x, t, weight=w[:, None][:1].expand(6, 1), pos_weight=w, reduction=red),
            (x2, tb))


def test_gradcheck_through_compiled_op():
    """The custom operator's registered autograd (the path torch.compile uses)."""
    from fastloss import _torch_ops as ops

    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 3, 1, 2, 3])
    t = torch.rand(5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x: ops.cross_entropy_op(x, y, None, -100, "mean", 0.1, True)[0], (x,))
    assert torch.autograd.gradcheck(
        lambda x, t: ops.cross_entropy_op(x, t, None, -100, "none", 0.0, True)[0], (x, t))
    assert torch.autograd.gradcheck(
        lambda x: ops.multi_margin_op(x, y, None, 2, 1.0, "sum", True)[0], (x,))
    xf, tf = x.reshape(-1), t.reshape(-1)
    assert torch.autograd.gradcheck(
        lambda x, t: ops.bce_with_logits_op(x, t, None, None, 4, False, "mean", True)[0], (xf, tf))
    torch.library.opcheck(ops.cross_entropy_op, (x.detach(), y, None, -100, "mean", 0.0, True))


class _Probe(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(12, 16)
        self.out = torch.nn.Linear(16, 5)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


@pytest.mark.parametrize("loss", ["cross_entropy", "multi_margin_loss", "bce"])
def test_training_loop_matches_torch(loss):
    """The same model and SGD steps with torch's loss and with fastloss's: same losses."""
    g = torch.Generator().manual_seed(6)
    x = torch.randn(64, 12, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (64,), generator=g)
    fns = {
        "cross_entropy": (lambda s: flt.cross_entropy(s, y, label_smoothing=0.05),
                          lambda s: F.cross_entropy(s, y, label_smoothing=0.05)),
        "multi_margin_loss": (lambda s: flt.multi_margin_loss(s, y),
                              lambda s: F.multi_margin_loss(s, y)),
        "bce": (lambda s: flt.binary_cross_entropy_with_logits(s, F.one_hot(y, 5).double()),
                lambda s: F.binary_cross_entropy_with_logits(s, F.one_hot(y, 5).double())),
    }[loss]
    histories = []
    for fn in fns:
        torch.manual_seed(0)
        model = _Probe().double()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        history = []
        for _ in range(15):
            opt.zero_grad()
            value = fn(model(x))
            value.backward()
            opt.step()
            history.append(value.item())
        histories.append(history)
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-10)
    assert histories[0][-1] < histories[0][0]


@pytest.mark.parametrize("weight", [None, "weighted"])
def test_backward_twice_through_a_retained_graph(weight):
    """The gradient handed to autograd is the saved one when the incoming gradient is 1:
    a retained graph gives it again, and changing it in place is caught."""
    x = torch.randn(6, 4, requires_grad=True)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    w = torch.rand(4) if weight else None
    loss = flt.cross_entropy(x, y, weight=w)
    loss.backward(retain_graph=True)
    first = x.grad.clone()
    loss.backward(retain_graph=True)
    torch.testing.assert_close(x.grad, 2 * first)
    (g,) = torch.autograd.grad(loss, x, retain_graph=True)
    torch.testing.assert_close(g, first)
    g.mul_(3)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_double_backward_is_refused():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    for loss in (flt.cross_entropy(x, torch.tensor([0, 1, 2, 0])),
                 flt.multi_margin_loss(x, torch.tensor([0, 1, 2, 0]))):
        with pytest.raises(NotImplementedError, match="first derivatives"):
            torch.autograd.grad(loss, x, create_graph=True)


def test_torch_compile():
    def step(x, y, t):
        s = x * 2.0
        return (flt.cross_entropy(s, y, label_smoothing=0.1) + flt.multi_margin_loss(s, y)
                + flt.binary_cross_entropy_with_logits(s, t))

    def step_torch(x, y, t):
        s = x * 2.0
        return (F.cross_entropy(s, y, label_smoothing=0.1) + F.multi_margin_loss(s, y)
                + F.binary_cross_entropy_with_logits(s, t))

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    x = torch.randn(8, 5, dtype=torch.float64, requires_grad=True)
    y, t = torch.randint(0, 5, (8,)), torch.rand(8, 5, dtype=torch.float64)
    got = compiled(x, y, t)
    (gx,) = torch.autograd.grad(got, x)
    want = step_torch(x, y, t)
    (wx,) = torch.autograd.grad(want, x)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(gx, wx)


def test_torch_compile_inductor():
    x = torch.randn(16, 7, requires_grad=True)
    y = torch.randint(0, 7, (16,))
    compiled = torch.compile(lambda x, y: flt.cross_entropy(torch.tanh(x), y, reduction="sum"))
    got = compiled(x, y)
    (gx,) = torch.autograd.grad(got, x)
    want = F.cross_entropy(torch.tanh(x), y, reduction="sum")
    (wx,) = torch.autograd.grad(want, x)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(gx, wx)


def test_linear_cross_entropy():
    g = torch.Generator().manual_seed(7)
    x = torch.randn(10, 6, generator=g)
    W = torch.randn(4, 6, generator=g)
    b = torch.randn(4, generator=g)
    y = torch.randint(0, 4, (10,), generator=g)
    y[3] = -100
    for red in REDUCTIONS:
        _assert_same(_both(flt.linear_cross_entropy, F.linear_cross_entropy, [x, W, y], [0, 1],
                           linear_bias=b, reduction=red, label_smoothing=0.1), torch.float32)
    with pytest.raises(NotImplementedError):
        flt.linear_cross_entropy(x, W, y, options=object())


# ---- dtypes, devices, errors ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_half_precision_is_upcast(dtype):
    x = torch.randn(6, 4).to(dtype).requires_grad_()
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    loss = flt.cross_entropy(x, y)
    assert loss.dtype == dtype
    loss.backward()
    assert x.grad.dtype == dtype
    want = F.cross_entropy(x.detach().float(), y)
    torch.testing.assert_close(loss.float(), want, rtol=1e-2, atol=1e-2)


def test_no_grad_and_non_contiguous():
    x = torch.randn(5, 8, dtype=torch.float64)[:, ::2]
    y = torch.tensor([0, 1, 2, 3, 0])
    with torch.no_grad():
        torch.testing.assert_close(flt.cross_entropy(x, y), F.cross_entropy(x, y))
    _assert_same(_both(flt.cross_entropy, F.cross_entropy, [x.t().contiguous().t(), y], [0]),
                 torch.float64)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_without_autograd(reduction):
    """The common call on tensors that need no gradient (the loss only), ignore_index too."""
    x = torch.randn(9, 4, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 0])
    _assert_same(_both(flt.cross_entropy, F.cross_entropy, [x, y], [], reduction=reduction,
                       label_smoothing=0.1), torch.float64)
    y[[2, 7]] = -100
    _assert_same(_both(flt.cross_entropy, F.cross_entropy, [x, y], [], reduction=reduction),
                 torch.float64)
    with pytest.raises(IndexError, match="out of bounds"):
        flt.cross_entropy(x, torch.tensor([0, 1, 2, 3, 4, 1, 2, 3, 0]), reduction=reduction)


def test_errors_leave_everything_untouched():
    x = torch.randn(3, 4, requires_grad=True)
    with pytest.raises(IndexError, match="out of bounds"):
        flt.cross_entropy(x, torch.tensor([0, 4, 1]))
    with pytest.raises(IndexError, match="out of bounds"):
        flt.multi_margin_loss(x, torch.tensor([0, -1, 1]))
    assert x.grad is None
    with pytest.raises(TypeError, match="floating"):
        flt.cross_entropy(torch.ones(3, 4, dtype=torch.int64), torch.tensor([0, 1, 2]))
    with pytest.raises(NotImplementedError, match="CPU"):
        flt.cross_entropy(torch.empty(3, 4, device="meta"), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="shape"):
        flt.cross_entropy(x, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="weight"):
        flt.cross_entropy(x, torch.tensor([0, 1, 2]), weight=torch.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        flt.cross_entropy(x, torch.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match="p == 1"):
        flt.multi_margin_loss(x, torch.tensor([0, 1, 2]), p=3)
    with pytest.raises(ValueError, match="same as input size"):
        flt.binary_cross_entropy_with_logits(x, torch.rand(3, 5))
    with pytest.raises(ValueError, match="broadcast"):
        flt.binary_cross_entropy_with_logits(x, torch.rand(3, 4), weight=torch.ones(2))
    with pytest.raises(NotImplementedError, match="weight"):
        flt.cross_entropy(x, torch.tensor([0, 1, 2]), weight=torch.ones(4, requires_grad=True))
    assert x.grad is None


def test_import_fastloss_does_not_import_torch():
    code = "import sys, fastloss; assert 'torch' not in sys.modules and 'jax' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_docstring_examples():
    import doctest

    result = doctest.testmod(flt, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0 and result.failed == 0


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 9), c=st.integers(1, 19), k=st.integers(0, 2),
       reduction=st.sampled_from(REDUCTIONS), eps=st.sampled_from([0.0, 0.15, 1.0]),
       weighted=st.booleans(), soft=st.booleans(), scale=st.sampled_from([1e-3, 1.0, 30.0]),
       seed=st.integers(0, 2**31 - 1))
def test_cross_entropy_property(n, c, k, reduction, eps, weighted, soft, scale, seed):
    """Random shapes (K-dimensional too), options and scales: torch's numbers in float64."""
    g = torch.Generator().manual_seed(seed)
    shape = (n, c) + (2,) * k
    x = torch.randn(shape, generator=g, dtype=torch.float64) * scale
    if soft:
        t = torch.rand(shape, generator=g, dtype=torch.float64)
    else:
        t = torch.randint(0, c, (n,) + (2,) * k, generator=g)
    w = torch.rand(c, generator=g, dtype=torch.float64) if weighted else None
    _assert_same(_both(flt.cross_entropy, F.cross_entropy, [x, t], [0], weight=w,
                       reduction=reduction, label_smoothing=eps), torch.float64)


@settings(max_examples=60, deadline=None)
@given(shape=st.sampled_from([(), (3,), (4, 5), (2, 3, 4)]), reduction=st.sampled_from(REDUCTIONS),
       weighted=st.booleans(), pos=st.booleans(), scale=st.sampled_from([1e-3, 1.0, 50.0]),
       seed=st.integers(0, 2**31 - 1))
def test_bce_with_logits_property(shape, reduction, weighted, pos, scale, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64) * scale
    t = torch.rand(shape, generator=g, dtype=torch.float64)
    last = shape[-1:] if shape else ()
    w = torch.rand(last, generator=g, dtype=torch.float64) if weighted else None
    pw = torch.rand(last, generator=g, dtype=torch.float64) * 2 if pos else None
    _assert_same(_both(flt.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits,
                       [x, t], [0, 1], weight=w, pos_weight=pw, reduction=reduction),
                 torch.float64)
