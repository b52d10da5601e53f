"""fastloss.torch and fastloss.jax against torch.nn.functional and the jax.numpy losses.

Forward + backward with every wrapper overhead (a tensor with
requires_grad=True and torch.autograd.grad; jax.jit(jax.value_and_grad(f))),
and the bare NumPy API on the same data (the overhead's baseline): the
callables of ``python -m fastloss bench --interop`` (fastloss._bench.interop).
Each group is one case; one thread (see conftest.py).
"""

import pytest

from fastloss._bench import interop, peers


def _cases(framework, cases, make):
    out = []
    for function, shape in cases:
        for name in ("fastloss", "peer", "numpy_api", "no_grad", "numpy_api_no_grad",
                     "autograd_floor"):
            out.append(pytest.param(framework, function, shape, name, make,
                                    id=f"{framework}-{function}-{shape[0]}x{shape[1]}-{name}"))
    return out


@pytest.mark.parametrize(
    "framework,function,shape,name,make",
    _cases("torch", interop.TORCH_CASES, interop.torch_callables)
    + _cases("jax", interop.JAX_CASES, interop.jax_callables))
def test_interop(benchmark, framework, function, shape, name, make):
    pytest.importorskip(framework)
    with peers.threads(1):
        funcs = make(function, "float32", shape)
        if name not in funcs:
            pytest.skip(f"no {name} for {function}")
        benchmark.group = f"{framework}-{function}-float32-{shape[0]}x{shape[1]}-1thr"
        benchmark(funcs[name])
