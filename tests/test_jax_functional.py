"""fastloss.jax: softmax_cross_entropy and multiclass_hinge under jit, grad and vmap (skipped without JAX).

Values and gradients against the NumPy reference twin (fastloss.reference) and
against the same loss written in jax.numpy and differentiated by JAX.
"""

import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
flj = pytest.importorskip("fastloss.jax")
from fastloss import reference  # noqa: E402

REDUCTIONS = ("mean", "sum", "none")


@pytest.fixture(autouse=True, params=["ffi", "callback"])
def backend(request, monkeypatch):
    """Every test through XLA's FFI handlers and through jax.pure_callback."""
    monkeypatch.setattr(flj, "_BACKEND", request.param)
    jax.clear_caches()  # the backend is read when a function is traced
    yield request.param
    jax.clear_caches()


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    if request.param == "float64":
        with jax.enable_x64(True):
            yield np.float64
    else:
        yield np.float32


def _tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)


def _problem(n, c, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(scale=3.0, size=(n, c)).astype(dtype), rng.integers(0, c, n),
            rng.uniform(0.5, 2.0, c).astype(dtype))


def _value_and_grad(fn, s, y, **kw):
    def total(s):
        loss = fn(s, y, **kw)
        return loss.sum(), loss

    (_, loss), g = jax.jit(jax.value_and_grad(total, has_aux=True))(jnp.asarray(s))
    return np.asarray(loss), np.asarray(g)


@pytest.mark.parametrize("shape", [(1, 2), (7, 5), (33, 17), (64, 100)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_softmax_cross_entropy(dtype, shape, reduction, weighted, label_smoothing):
    s, y, w = _problem(*shape, dtype)
    kw = dict(reduction=reduction, label_smoothing=label_smoothing,
              class_weight=w if weighted else None)
    loss, g = _value_and_grad(flj.softmax_cross_entropy, s, jnp.asarray(y), **kw)
    want, want_g = reference.softmax_cross_entropy(s, y, **kw)
    assert loss.dtype == dtype and g.dtype == dtype
    np.testing.assert_allclose(loss, want, **_tol(dtype))
    np.testing.assert_allclose(g, want_g, **_tol(dtype))


def test_softmax_cross_entropy_soft_targets_and_ignore_index(dtype):
    s, y, w = _problem(9, 4, dtype, seed=1)
    t = np.asarray(jax.nn.softmax(jnp.asarray(s[::-1].copy()), axis=1))
    loss, g = _value_and_grad(flj.softmax_cross_entropy, s, jnp.asarray(t), class_weight=w)
    want, want_g = reference.softmax_cross_entropy(s, t, class_weight=w)
    np.testing.assert_allclose(loss, want, **_tol(dtype))
    np.testing.assert_allclose(g, want_g, **_tol(dtype))
    y[[2, 5]] = -1
    loss, g = _value_and_grad(flj.softmax_cross_entropy, s, jnp.asarray(y), ignore_index=-1)
    want, want_g = reference.softmax_cross_entropy(s, y, ignore_index=-1)
    np.testing.assert_allclose(loss, want, **_tol(dtype))
    np.testing.assert_allclose(g, want_g, **_tol(dtype))


@pytest.mark.parametrize("shape", [(1, 2), (37, 19)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("variant", ["weston_watkins", "crammer_singer"])
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_hinge(dtype, shape, reduction, variant, squared, weighted):
    s, y, w = _problem(*shape, dtype, seed=2)
    kw = dict(reduction=reduction, variant=variant, squared=squared, margin=0.7,
              class_weight=w if weighted else None)
    loss, g = _value_and_grad(flj.multiclass_hinge, s, jnp.asarray(y), **kw)
    want, want_g = reference.multiclass_hinge(s, y, **kw)
    np.testing.assert_allclose(loss, want, **_tol(dtype))
    np.testing.assert_allclose(g, want_g, **_tol(dtype))


def _jnp_cross_entropy(s, y):
    return -jnp.mean(jax.nn.log_softmax(s)[jnp.arange(s.shape[0]), y])


def _jnp_hinge(s, y):
    sy = s[jnp.arange(s.shape[0]), y]
    m = jnp.maximum(0, s - sy[:, None] + 1)
    return jnp.mean(jnp.sum(jnp.where(jnp.arange(s.shape[1]) == y[:, None], 0, m), axis=1))


@pytest.mark.parametrize("ours, theirs", [(flj.softmax_cross_entropy, _jnp_cross_entropy),
                                          (flj.multiclass_hinge, _jnp_hinge)])
def test_equal_to_jax_autodiff(dtype, ours, theirs):
    s, y, _ = _problem(50, 13, dtype, seed=3)
    s, y = jnp.asarray(s), jnp.asarray(y)
    a, ga = jax.jit(jax.value_and_grad(ours))(s, y)
    b, gb = jax.jit(jax.value_and_grad(theirs))(s, y)
    np.testing.assert_allclose(a, b, **_tol(dtype))
    np.testing.assert_allclose(ga, gb, **_tol(dtype))


def test_vmap_grad_and_jit(dtype):
    """A batch of independent problems, with per-problem class weights, vmapped."""
    rng = np.random.default_rng(4)
    s = rng.normal(size=(3, 8, 5)).astype(dtype)
    y = rng.integers(0, 5, (3, 8))
    w = rng.uniform(0.5, 2.0, (3, 5)).astype(dtype)

    def loss(s, y, w):
        return flj.softmax_cross_entropy(s, y, class_weight=w) + flj.multiclass_hinge(s, y)

    vg = jax.jit(jax.vmap(jax.value_and_grad(loss)))
    values, grads = vg(jnp.asarray(s), jnp.asarray(y), jnp.asarray(w))
    for b in range(3):
        l1, g1 = reference.softmax_cross_entropy(s[b], y[b], class_weight=w[b])
        l2, g2 = reference.multiclass_hinge(s[b], y[b])
        np.testing.assert_allclose(values[b], l1 + l2, **_tol(dtype))
        np.testing.assert_allclose(grads[b], g1 + g2, **_tol(dtype))
    # vmap of "none", with shared (unbatched) class weights
    none = jax.vmap(lambda s, y: flj.softmax_cross_entropy(s, y, reduction="none",
                                                           class_weight=jnp.asarray(w[0])))
    out = none(jnp.asarray(s), jnp.asarray(y))
    assert out.shape == (3, 8)
    np.testing.assert_allclose(
        out[1], reference.softmax_cross_entropy(s[1], y[1], reduction="none",
                                                class_weight=w[0])[0], **_tol(dtype))


def test_training_steps_follow_jax_autodiff():
    """A few gradient-descent steps of a linear model: same losses as the jnp loss's."""
    rng = np.random.default_rng(5)
    x = jnp.asarray(rng.normal(size=(32, 6)).astype(np.float32))
    y = jnp.asarray(rng.integers(0, 4, 32))

    def run(loss_fn):
        w = jnp.zeros((6, 4))
        step = jax.jit(jax.value_and_grad(lambda w: loss_fn(x @ w, y)))
        history = []
        for _ in range(10):
            value, g = step(w)
            w = w - 0.5 * g
            history.append(float(value))
        return history

    np.testing.assert_allclose(run(flj.softmax_cross_entropy), run(_jnp_cross_entropy),
                               rtol=1e-5)


def test_half_precision_is_computed_in_float32():
    s, y, _ = _problem(6, 4, np.float32)
    loss = flj.softmax_cross_entropy(jnp.asarray(s, dtype=jnp.bfloat16), jnp.asarray(y))
    assert loss.dtype == jnp.bfloat16
    want = reference.softmax_cross_entropy(np.asarray(jnp.asarray(s, jnp.bfloat16), np.float32), y)[0]
    np.testing.assert_allclose(float(loss), want, rtol=1e-2)


def test_errors():
    s, y, _ = _problem(4, 3, np.float32)
    with pytest.raises(Exception, match="not a class index"):
        flj.softmax_cross_entropy(jnp.asarray(s), jnp.asarray([0, 1, 5, 2])).block_until_ready()
    with pytest.raises(ValueError, match="shape"):
        flj.softmax_cross_entropy(jnp.zeros((2, 3, 4)), jnp.zeros((2, 3), int))
    with pytest.raises(TypeError, match="float"):
        flj.multiclass_hinge(jnp.zeros((2, 3), int), jnp.zeros(2, int))
    with pytest.raises(ValueError, match="reduction"):
        flj.multiclass_hinge(jnp.zeros((2, 3)), jnp.zeros(2, int), reduction="avg")


def test_import_fastloss_does_not_import_jax():
    code = "import sys, fastloss; assert 'jax' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_ffi_handler_is_what_runs(backend):
    s, y, _ = _problem(4, 3, np.float32)
    text = jax.jit(flj.softmax_cross_entropy).lower(jnp.asarray(s), jnp.asarray(y)).as_text()
    if backend == "ffi":
        assert "custom_call @fastloss_" in text and "softmax_cross_entropy" in text
    else:
        assert "custom_call @fastloss_" not in text


_ABI_CHECK = r"""
#include "xla/ffi/api/c_api.h"
#include "_xla_ffi.h"
#define SAME(a, fa, b, fb) _Static_assert(offsetof(a, fa) == offsetof(b, fb) \
    && sizeof(((a *)0)->fa) == sizeof(((b *)0)->fb), #a "." #fa)
#define EQ(a, b) _Static_assert((int)(a) == (int)(b), #a)
SAME(XLA_FFI_Extension_Base, type, FL_XLA_Extension_Base, type);
SAME(XLA_FFI_Extension_Base, next, FL_XLA_Extension_Base, next);
SAME(XLA_FFI_Api_Version, extension_start, FL_XLA_Api_Version, extension_start);
SAME(XLA_FFI_Api_Version, major_version, FL_XLA_Api_Version, major_version);
SAME(XLA_FFI_Api_Version, minor_version, FL_XLA_Api_Version, minor_version);
SAME(XLA_FFI_Error_Create_Args, message, FL_XLA_Error_Create_Args, message);
SAME(XLA_FFI_Error_Create_Args, errc, FL_XLA_Error_Create_Args, errc);
SAME(XLA_FFI_Api, api_version, FL_XLA_Api, api_version);
SAME(XLA_FFI_Api, internal_api, FL_XLA_Api, internal_api);
SAME(XLA_FFI_Api, XLA_FFI_Error_Create, FL_XLA_Api, Error_Create);
SAME(XLA_FFI_Buffer, dtype, FL_XLA_Buffer, dtype);
SAME(XLA_FFI_Buffer, data, FL_XLA_Buffer, data);
SAME(XLA_FFI_Buffer, rank, FL_XLA_Buffer, rank);
SAME(XLA_FFI_Buffer, dims, FL_XLA_Buffer, dims);
SAME(XLA_FFI_ByteSpan, ptr, FL_XLA_ByteSpan, ptr);
SAME(XLA_FFI_ByteSpan, len, FL_XLA_ByteSpan, len);
SAME(XLA_FFI_Scalar, dtype, FL_XLA_Scalar, dtype);
SAME(XLA_FFI_Scalar, value, FL_XLA_Scalar, value);
SAME(XLA_FFI_Args, size, FL_XLA_Buffers, size);
SAME(XLA_FFI_Args, types, FL_XLA_Buffers, types);
SAME(XLA_FFI_Args, args, FL_XLA_Buffers, items);
SAME(XLA_FFI_Rets, size, FL_XLA_Buffers, size);
SAME(XLA_FFI_Rets, types, FL_XLA_Buffers, types);
SAME(XLA_FFI_Rets, rets, FL_XLA_Buffers, items);
SAME(XLA_FFI_Attrs, size, FL_XLA_Attrs, size);
SAME(XLA_FFI_Attrs, types, FL_XLA_Attrs, types);
SAME(XLA_FFI_Attrs, names, FL_XLA_Attrs, names);
SAME(XLA_FFI_Attrs, attrs, FL_XLA_Attrs, attrs);
SAME(XLA_FFI_CallFrame, api, FL_XLA_CallFrame, api);
SAME(XLA_FFI_CallFrame, ctx, FL_XLA_CallFrame, ctx);
SAME(XLA_FFI_CallFrame, stage, FL_XLA_CallFrame, stage);
SAME(XLA_FFI_CallFrame, args, FL_XLA_CallFrame, args);
SAME(XLA_FFI_CallFrame, rets, FL_XLA_CallFrame, rets);
SAME(XLA_FFI_CallFrame, attrs, FL_XLA_CallFrame, attrs);
SAME(XLA_FFI_Metadata, api_version, FL_XLA_Metadata, api_version);
SAME(XLA_FFI_Metadata, traits, FL_XLA_Metadata, traits);
SAME(XLA_FFI_Metadata_Extension, metadata, FL_XLA_Metadata_Extension, metadata);
EQ(XLA_FFI_CallFrame_STRUCT_SIZE, FL_XLA_CALL_FRAME_SIZE);
EQ(XLA_FFI_Buffer_STRUCT_SIZE, FL_XLA_BUFFER_SIZE);
EQ(XLA_FFI_Metadata_STRUCT_SIZE, FL_XLA_METADATA_SIZE);
EQ(XLA_FFI_Metadata_Extension_STRUCT_SIZE, FL_XLA_METADATA_EXTENSION_SIZE);
EQ(XLA_FFI_Api_Version_STRUCT_SIZE, FL_XLA_API_VERSION_SIZE);
EQ(XLA_FFI_Error_Create_Args_STRUCT_SIZE, FL_XLA_ERROR_CREATE_ARGS_SIZE);
EQ(XLA_FFI_DataType_PRED, FL_XLA_PRED); EQ(XLA_FFI_DataType_S8, FL_XLA_S8);
EQ(XLA_FFI_DataType_S16, FL_XLA_S16); EQ(XLA_FFI_DataType_S32, FL_XLA_S32);
EQ(XLA_FFI_DataType_S64, FL_XLA_S64); EQ(XLA_FFI_DataType_U8, FL_XLA_U8);
EQ(XLA_FFI_DataType_U16, FL_XLA_U16); EQ(XLA_FFI_DataType_U32, FL_XLA_U32);
EQ(XLA_FFI_DataType_U64, FL_XLA_U64); EQ(XLA_FFI_DataType_F16, FL_XLA_F16);
EQ(XLA_FFI_DataType_F32, FL_XLA_F32); EQ(XLA_FFI_DataType_F64, FL_XLA_F64);
EQ(XLA_FFI_DataType_BF16, FL_XLA_BF16);
EQ(XLA_FFI_ArgType_BUFFER, FL_XLA_ARG_BUFFER); EQ(XLA_FFI_RetType_BUFFER, FL_XLA_ARG_BUFFER);
EQ(XLA_FFI_AttrType_SCALAR, FL_XLA_ATTR_SCALAR);
EQ(XLA_FFI_ExecutionStage_EXECUTE, FL_XLA_STAGE_EXECUTE);
EQ(XLA_FFI_Extension_Metadata, FL_XLA_EXTENSION_METADATA);
EQ(XLA_FFI_Error_Code_INVALID_ARGUMENT, FL_XLA_ERROR_INVALID_ARGUMENT);
EQ(XLA_FFI_Error_Code_RESOURCE_EXHAUSTED, FL_XLA_ERROR_RESOURCE_EXHAUSTED);
EQ(XLA_FFI_API_MAJOR, FL_XLA_API_MAJOR);
_Static_assert(XLA_FFI_API_MINOR >= FL_XLA_API_MINOR, "minor version");
"""


def test_xla_ffi_header_matches_jaxlib(tmp_path, backend):
    """fastloss's declarations of XLA's FFI structures (src/fastloss/_xla_ffi.h) against
    the C API header this jaxlib ships: every offset, size and value the handlers use."""
    import os
    import shutil

    if backend != "ffi":
        pytest.skip("a check of the FFI header")
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    include = jax.ffi.include_dir()
    if cc is None or not os.path.exists(os.path.join(include, "xla/ffi/api/c_api.h")):
        pytest.skip("no C compiler or no XLA FFI headers in this jaxlib")
    import fastloss

    src = tmp_path / "abi.c"
    src.write_text(_ABI_CHECK)
    header_dir = os.path.dirname(fastloss.__file__)
    subprocess.run([cc, "-std=c11", "-w", "-c", str(src), "-o", str(tmp_path / "abi.o"),
                    "-I", include, "-I", header_dir], check=True)


def test_docstring_examples(backend):
    import doctest

    result = doctest.testmod(flj, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0 and result.failed == 0
