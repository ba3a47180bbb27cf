"""Tests of structmat.torch: MonarchLinear and monarch_linear.

References written here, independent of the layer's batched multiply:

* ``dense_reference(L, R)`` builds the weight entry by entry from the slab identity
  ``M[d l + b, a p + j] = sum_{t = a q + i, t mod l = b} L[b, d, t div l] R[a, i, j]``
  (a differentiable torch scatter, used for values and gradients);
* ``projected_reference(W, geometry)`` is the optimal Monarch approximation by one full
  ``numpy.linalg.svd`` per slab, in float64 (Eckart–Young per slab).
"""

from __future__ import annotations

import copy
import io
import math
import pickle
import shutil
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

import structmat  # noqa: E402
from structmat import DFT, Monarch, project_to_monarch  # noqa: E402
from structmat.ops.monarch import monarch_geometry  # noqa: E402
from structmat.torch import MonarchLinear, monarch_linear  # noqa: E402

from .tolerance import assert_close, rtol  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::structmat.StructmatWarning")

DTYPES = [torch.float32, torch.float64, torch.complex64, torch.complex128]
# (in_features, out_features, nblocks): square, rectangular both ways, unequal block counts
GEOMETRIES = [
    (16, 16, None),
    (64, 32, 4),
    (32, 64, 4),
    (12, 8, (4, 2)),
    (24, 36, (2, 6)),
    (30, 30, (5, 3)),
    (7, 7, None),  # prime: rank-1 default geometry (degenerate but valid)
]


# ----------------------------------------------------------------------------------------------
# independent references
# ----------------------------------------------------------------------------------------------


def dense_reference(L, R):
    """The Monarch matrix of factors ``L`` (l, s, r) and ``R`` (k, q, p), entry by entry."""
    k, q, p = R.shape
    l, s, r = L.shape
    W = torch.zeros((l * s, k * p), dtype=torch.result_type(L, R))
    d = torch.arange(s)
    j = torch.arange(p)
    for t in range(k * q):
        a, i = divmod(t, q)
        c, b = divmod(t, l)
        rows = (d * l + b)[:, None].expand(s, p)
        cols = (a * p + j)[None, :].expand(s, p)
        W = W.index_put((rows, cols), torch.outer(L[b, :, c], R[a, i, :]), accumulate=True)
    return W


def projected_reference(W, geometry):
    """Frobenius-optimal Monarch approximation of ``W`` (numpy), one full SVD per slab."""
    k, q, p, l, s, r = geometry
    A = np.asarray(W, dtype=np.complex128 if np.iscomplexobj(W) else np.float64)
    M = np.zeros_like(A)
    for a in range(k):
        for b in range(l):
            rank = sum(1 for i in range(q) if (a * q + i) % l == b)
            U, sv, Vh = np.linalg.svd(A[b::l, a * p : (a + 1) * p], full_matrices=False)
            M[b::l, a * p : (a + 1) * p] = (U[:, :rank] * sv[:rank]) @ Vh[:rank]
    return M


def host(t):
    return t.detach().cpu().numpy()


def randn(shape, dtype, gen):
    return torch.randn(shape, dtype=dtype, generator=gen)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)


# ----------------------------------------------------------------------------------------------
# forward, weight and backward against the entrywise reference
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("n_in,n_out,nblocks", GEOMETRIES)
def test_forward_matches_dense_reference(n_in, n_out, nblocks, dtype, gen):
    torch.manual_seed(0)
    layer = MonarchLinear(n_in, n_out, nblocks=nblocks, dtype=dtype)
    assert layer.geometry == monarch_geometry(n_in, n_out, nblocks, warn=False)
    x = randn((3, 5, n_in), dtype, gen)
    y = layer(x)
    assert y.shape == (3, 5, n_out) and y.dtype == dtype
    W = dense_reference(
        layer.L.detach().to(torch.complex128 if dtype.is_complex else torch.float64),
        layer.R.detach().to(torch.complex128 if dtype.is_complex else torch.float64),
    )
    expected = host(x).astype(np.complex128 if dtype.is_complex else np.float64) @ host(W).T
    expected += host(layer.bias)
    assert_close(host(y), expected, dtype, max(n_in, n_out), depth=2, what="forward")
    assert_close(host(layer.to_dense()), host(W), dtype, max(n_in, n_out), depth=2, what="to_dense")
    # a single row (1-D input) like nn.Linear
    assert_close(host(layer(x[0, 0])), expected[0, 0], dtype, n_in, depth=2, what="1-D input")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("n_in,n_out,nblocks", GEOMETRIES[:5])
def test_backward_matches_dense_reference(n_in, n_out, nblocks, dtype, gen):
    torch.manual_seed(1)
    layer = MonarchLinear(n_in, n_out, nblocks=nblocks, dtype=dtype)
    x = randn((4, n_in), dtype, gen).requires_grad_()
    g = randn((4, n_out), dtype, gen)
    (layer(x) * g).sum().backward()

    L = layer.L.detach().double().requires_grad_()
    R = layer.R.detach().double().requires_grad_()
    b = layer.bias.detach().double().requires_grad_()
    x64 = x.detach().double().requires_grad_()
    ((x64 @ dense_reference(L, R).T + b) * g.double()).sum().backward()
    n = max(n_in, n_out)
    for name, got, want in [
        ("x", x.grad, x64.grad),
        ("L", layer.L.grad, L.grad),
        ("R", layer.R.grad, R.grad),
        ("bias", layer.bias.grad, b.grad),
    ]:
        assert_close(host(got), host(want), dtype, n, depth=3, what=f"grad {name}")


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128], ids=str)
@pytest.mark.parametrize("n_in,n_out,nblocks", [(12, 8, (4, 2)), (8, 12, (2, 4)), (9, 9, None)])
def test_gradcheck(n_in, n_out, nblocks, dtype, gen):
    k, q, p, l, s, r = monarch_geometry(n_in, n_out, nblocks)
    args = (
        randn((2, 3, n_in), dtype, gen),
        randn((l, s, r), dtype, gen),
        randn((k, q, p), dtype, gen),
        randn((n_out,), dtype, gen),
    )
    args = tuple(a.requires_grad_() for a in args)
    assert torch.autograd.gradcheck(monarch_linear, args)
    assert torch.autograd.gradgradcheck(monarch_linear, args)


@given(
    data=st.data(),
    n_in=st.sampled_from([4, 6, 8, 9, 12, 16]),
    n_out=st.sampled_from([4, 6, 8, 9, 12, 16]),
)
def test_linearity_and_reference_any_geometry(data, n_in, n_out):
    """For every valid geometry the layer without bias is the linear map of its reference."""
    mid = min(n_in, n_out)
    ks = [d for d in range(1, n_in + 1) if n_in % d == 0 and mid % d == 0]
    ls = [d for d in range(1, n_out + 1) if n_out % d == 0 and mid % d == 0]
    nblocks = (data.draw(st.sampled_from(ks)), data.draw(st.sampled_from(ls)))
    seed = data.draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer = MonarchLinear(n_in, n_out, nblocks=nblocks, bias=False, dtype=torch.float64)
    with torch.no_grad():
        layer.L.copy_(randn(layer.L.shape, torch.float64, g))
        layer.R.copy_(randn(layer.R.shape, torch.float64, g))
    x, z = randn((2, n_in), torch.float64, g), randn((2, n_in), torch.float64, g)
    alpha = data.draw(st.floats(-3, 3))
    with torch.no_grad():
        lhs, rhs = layer(alpha * x + z), alpha * layer(x) + layer(z)
        W = dense_reference(layer.L, layer.R)
    scale = float(torch.abs(W).sum(1).max()) * 4
    assert float(torch.abs(lhs - rhs).max()) <= rtol(torch.float64, mid, 2) * scale
    assert_close(host(layer(x)), host(x @ W.T), torch.float64, mid, depth=2, what="reference")


# ----------------------------------------------------------------------------------------------
# conversions
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize(
    "n_in,n_out,nblocks", [(64, 64, None), (64, 32, 4), (48, 96, (4, 8)), (64, 64, 2)]
)
def test_from_linear_matches_linear_with_projected_weight(n_in, n_out, nblocks, dtype, gen):
    """Forward and backward equal nn.Linear holding the optimal projection of its weight."""
    torch.manual_seed(2)
    dense = nn.Linear(n_in, n_out, dtype=dtype)
    layer = MonarchLinear.from_linear(dense, nblocks=nblocks)
    geometry = monarch_geometry(n_in, n_out, nblocks)
    assert layer.geometry == geometry
    assert layer.R.dtype == dtype and layer.bias.dtype == dtype
    assert torch.equal(layer.bias, dense.bias) and layer.bias is not dense.bias

    # optimal: the projection's error equals the one of the slab-wise SVD reference
    W64 = host(dense.weight).astype(np.float64)
    err_ref = np.linalg.norm(W64 - projected_reference(W64, geometry)) ** 2
    err = np.linalg.norm(W64 - host(layer.to_dense()).astype(np.float64)) ** 2
    n = max(n_in, n_out)
    assert abs(err - err_ref) <= rtol(dtype, n, depth=4) * np.linalg.norm(W64) ** 2

    # nn.Linear holding the projected weight (NumPy float64 projection of the same weight)
    ref = nn.Linear(n_in, n_out, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(project_to_monarch(W64, nblocks).to_dense()))
        ref.bias.copy_(dense.bias)
    assert_close(host(layer.to_dense()), host(ref.weight), dtype, n, depth=4, what="weight")

    x = randn((6, n_in), dtype, gen).requires_grad_()
    x64 = x.detach().double().requires_grad_()
    g = randn((6, n_out), dtype, gen)
    y, y_ref = layer(x), ref(x64)
    assert_close(host(y), host(y_ref), dtype, n, depth=4, what="forward")
    (y * g).sum().backward()
    (y_ref * g.double()).sum().backward()
    assert_close(host(x.grad), host(x64.grad), dtype, n, depth=4, what="grad x")
    assert_close(host(layer.bias.grad), host(ref.bias.grad), dtype, n, depth=1, what="grad bias")
    # the weight gradient of nn.Linear, pulled back through the factors by the chain rule
    L = layer.L.detach().double().requires_grad_()
    R = layer.R.detach().double().requires_grad_()
    (dense_reference(L, R) * ref.weight.grad).sum().backward()
    assert_close(host(layer.L.grad), host(L.grad), dtype, n, depth=4, what="grad L")
    assert_close(host(layer.R.grad), host(R.grad), dtype, n, depth=4, what="grad R")


def test_from_dense_numpy_and_tensor_agree(rng):
    W = rng.standard_normal((32, 48))
    a = MonarchLinear.from_dense(W, nblocks=(4, 4))
    b = MonarchLinear.from_dense(torch.from_numpy(W), nblocks=(4, 4))
    assert a.R.dtype == torch.float64 and a.bias is None
    assert_close(host(a.to_dense()), host(b.to_dense()), "float64", 48, depth=4)
    expected = projected_reference(W, a.geometry)
    assert_close(host(a.to_dense()), expected, "float64", 48, depth=4, what="from_dense")
    c = MonarchLinear.from_dense(W, bias=np.ones(32), nblocks=(4, 4), dtype=torch.float32)
    assert c.R.dtype == torch.float32 and c.bias.dtype == torch.float32
    assert torch.equal(c.bias, torch.ones(32))


def test_from_dense_drops_autograd_history_and_copies():
    W = torch.randn(16, 16, requires_grad=True)
    layer = MonarchLinear.from_dense(W * 2)
    assert layer.R.grad_fn is None and layer.R.is_leaf and layer.R.requires_grad
    M = Monarch.random(16, seed=0)
    layer = MonarchLinear.from_structmat(M)
    with torch.no_grad():
        layer.R.add_(1.0)
    assert not np.array_equal(M.R, host(layer.R))  # the Monarch's factors are untouched


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_from_linear_low_precision_projects_in_float32(dtype):
    torch.manual_seed(3)
    dense = nn.Linear(32, 32, dtype=dtype)
    layer = MonarchLinear.from_linear(dense)
    assert layer.R.dtype == dtype and layer.L.dtype == dtype and layer.bias.dtype == dtype
    W32 = dense.weight.float()
    expected = projected_reference(host(W32), layer.geometry)
    err = np.abs(host(layer.to_dense().float()) - expected).max()
    assert err <= 8 * float(torch.finfo(dtype).eps) * np.abs(expected).max() * 4


@pytest.mark.parametrize("n_in,n_out,nblocks", GEOMETRIES)
@pytest.mark.parametrize("dtype", ["float64", "complex64"])
def test_structmat_round_trip(n_in, n_out, nblocks, dtype):
    M = Monarch.random(n_in, n_out, nblocks=nblocks, seed=5, dtype=dtype)
    layer = MonarchLinear.from_structmat(M)
    assert layer.geometry == M.geometry
    assert layer.R.dtype == getattr(torch, dtype)
    assert np.array_equal(host(layer.R), M.R) and np.array_equal(host(layer.L), M.L)
    assert_close(host(layer.to_dense()), M.to_dense(), dtype, max(n_in, n_out), depth=2)
    back = layer.to_structmat()
    assert isinstance(back, Monarch) and isinstance(back.L, torch.Tensor)
    assert back.geometry == M.geometry
    assert_close(host(back.to_dense()), host(layer.to_dense()), dtype, max(n_in, n_out), depth=2)
    again = MonarchLinear.from_structmat(back, bias=torch.zeros(n_out))
    assert torch.equal(again.R, layer.R) and torch.equal(again.L, layer.L)
    assert again.bias is not None and not again.bias.any()


def test_from_structmat_array_api_strict_and_dtype_override():
    xps = pytest.importorskip("array_api_strict")
    M = Monarch.random(16, seed=6, xp=xps)
    layer = MonarchLinear.from_structmat(M, dtype=torch.float32)
    assert layer.R.dtype == torch.float32
    assert np.allclose(host(layer.R), np.asarray(Monarch.random(16, seed=6).R), rtol=1e-6)


def test_state_dict_round_trip(gen):
    torch.manual_seed(4)
    layer = MonarchLinear(48, 24, nblocks=(4, 2))
    assert set(layer.state_dict()) == {"R", "L", "bias"}
    buf = io.BytesIO()
    torch.save(layer.state_dict(), buf)
    buf.seek(0)
    other = MonarchLinear(48, 24, nblocks=(4, 2))
    assert not torch.equal(other.R, layer.R)
    other.load_state_dict(torch.load(buf, weights_only=True))
    x = randn((5, 48), torch.float32, gen)
    assert torch.equal(other(x), layer(x))
    with pytest.raises(RuntimeError, match="size mismatch"):
        MonarchLinear(48, 24, nblocks=4).load_state_dict(layer.state_dict())
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert torch.equal(clone(x), layer(x))


@pytest.mark.parametrize("n_in,n_out,nblocks", GEOMETRIES)
def test_parameter_count(n_in, n_out, nblocks):
    k, q, p, l, s, r = monarch_geometry(n_in, n_out, nblocks, warn=False)
    layer = MonarchLinear(n_in, n_out, nblocks=nblocks)
    assert layer.nparams == k * q * p + l * s * r == layer.to_structmat().nparams
    assert sum(t.numel() for t in layer.parameters()) == layer.nparams + n_out
    no_bias = MonarchLinear(n_in, n_out, nblocks=nblocks, bias=False)
    assert no_bias.bias is None
    assert sum(t.numel() for t in no_bias.parameters()) == layer.nparams


def test_initialisation_matches_linear_output_scale():
    """Default initialisation: output variance ~ that of nn.Linear's (in_features / 3 · E x^2)."""
    torch.manual_seed(7)
    n = 256
    layer = MonarchLinear(n, n, bias=False)
    x = torch.randn(2000, n)
    with torch.no_grad():
        var = float(layer(x).var())
    assert abs(var - 1.0 / 3.0) < 0.05, var


# ----------------------------------------------------------------------------------------------
# dtype, device, compile
# ----------------------------------------------------------------------------------------------


def _devices():
    devs = ["cpu"]
    if torch.cuda.is_available():
        devs.append("cuda")
    return devs


@pytest.mark.filterwarnings("ignore:Complex modules:UserWarning")
@pytest.mark.parametrize("device", _devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.complex64], ids=str)
def test_dtype_and_device_preserved(device, dtype, gen):
    dense = nn.Linear(32, 16, dtype=dtype, device=device)
    layer = MonarchLinear.from_linear(dense, nblocks=4)
    for t in (layer.R, layer.L, layer.bias):
        assert t.dtype == dtype and t.device.type == device
    x = randn((3, 32), dtype, gen).to(device)
    y = layer(x)
    assert y.dtype == dtype and y.device.type == device
    M = layer.to_structmat()
    assert M.L.device.type == device and M.L.dtype == dtype
    assert MonarchLinear.from_structmat(M).R.device.type == device
    fresh = MonarchLinear(32, 16, dtype=dtype, device=device)
    assert fresh.L.dtype == dtype and fresh.L.device.type == device
    moved = fresh.to(torch.float64 if not dtype.is_complex else torch.complex128)
    assert moved(x.to(moved.R.dtype)).dtype == moved.R.dtype


def test_meta_device_and_default_dtype():
    layer = MonarchLinear(64, 64, device="meta")
    assert layer.R.is_meta
    assert layer(torch.empty(3, 64, device="meta")).shape == (3, 64)
    assert MonarchLinear(16, 16).R.dtype == torch.get_default_dtype()


def test_autocast_allows_mixed_dtypes():
    layer = MonarchLinear(32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(torch.randn(4, 32))
    assert y.dtype == torch.bfloat16


def _compile_or_skip(fn, **kw):
    if not hasattr(torch, "compile"):
        pytest.skip("torch.compile is not available in this torch version")
    return torch.compile(fn, **kw)


@pytest.mark.parametrize("fullgraph", [True])
def test_torch_compile_graph_capture(fullgraph, gen):
    """The layer traces into one graph (no graph breaks) and gives the eager result."""
    torch._dynamo.reset()
    torch.manual_seed(8)
    layer = MonarchLinear(48, 24, nblocks=(4, 2))
    compiled = _compile_or_skip(layer, backend="aot_eager", fullgraph=fullgraph)
    x = randn((2, 3, 48), torch.float32, gen).requires_grad_()
    y = compiled(x)
    assert torch.equal(y, layer(x))
    y.sum().backward()
    gx = x.grad.clone()
    x.grad = None
    layer(x).sum().backward()
    assert torch.equal(gx, x.grad)


@pytest.mark.slow
def test_torch_compile_inductor(gen):
    """The default backend (C++ code generation on CPU) matches eager to rounding."""
    torch._dynamo.reset()
    torch.manual_seed(9)
    layer = MonarchLinear(64, 64)
    if not any(shutil.which(cc) for cc in ("c++", "g++", "clang++")):
        pytest.skip("torch.compile's default backend needs a C++ compiler; none found")
    compiled = _compile_or_skip(layer, fullgraph=True)
    x = randn((16, 64), torch.float32, gen)
    y = compiled(x)
    assert_close(host(y), host(layer(x)), torch.float32, 64, depth=2, what="inductor")


# ----------------------------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(in_features=0, out_features=4), ValueError, "in_features"),
        (dict(in_features=4.0, out_features=4), TypeError, "in_features"),
        (dict(in_features=4, out_features="8"), TypeError, "out_features"),
        (dict(in_features=16, out_features=16, nblocks=3), ValueError, "Valid k"),
        (dict(in_features=16, out_features=16, nblocks=(2, 2, 2)), ValueError, "nblocks"),
        (dict(in_features=16, out_features=16, bias=None), TypeError, "bias must be a bool"),
        (dict(in_features=16, out_features=16, dtype=torch.int32), TypeError, "dtype"),
        (dict(in_features=16, out_features=16, dtype="float32"), TypeError, "torch.dtype"),
    ],
)
def test_constructor_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        MonarchLinear(**kwargs)


def test_forward_errors():
    layer = MonarchLinear(16, 8, nblocks=(4, 2))
    with pytest.raises(ValueError, match=r"\(\.\.\., 16\)"):
        layer(torch.randn(3, 15))
    with pytest.raises(ValueError, match="in_features"):
        layer(torch.tensor(1.0))
    with pytest.raises(TypeError, match="torch.Tensor"):
        layer(np.ones((3, 16), dtype=np.float32))
    with pytest.raises(TypeError, match="dtype torch.float64"):
        layer(torch.randn(3, 16, dtype=torch.float64))


def test_functional_errors():
    L, R = torch.randn(2, 4, 4), torch.randn(4, 2, 4)
    x = torch.randn(3, 16)
    assert monarch_linear(x, L, R).shape == (3, 8)
    with pytest.raises(ValueError, match="middle dimensions differ"):
        monarch_linear(x, torch.randn(2, 4, 3), R)
    with pytest.raises(ValueError, match="3-D"):
        monarch_linear(x, L[0], R)
    with pytest.raises(TypeError, match="R must be a torch.Tensor"):
        monarch_linear(x, L, R.numpy())
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 16\)"):
        monarch_linear(torch.randn(3, 12), L, R)
    with pytest.raises(ValueError, match=r"bias must have shape \(8,\)"):
        monarch_linear(x, L, R, torch.randn(16))
    with pytest.raises(TypeError, match="bias must be a torch.Tensor"):
        monarch_linear(x, L, R, np.zeros(8))


def test_conversion_errors():
    with pytest.raises(TypeError, match="torch.nn.Linear"):
        MonarchLinear.from_linear(nn.Conv1d(4, 4, 1))
    with pytest.raises(TypeError, match="to_monarch"):
        MonarchLinear.from_structmat(DFT(16))
    with pytest.raises(TypeError, match="from_dense"):
        MonarchLinear.from_structmat(np.eye(16))
    with pytest.raises(ValueError, match=r"bias must have shape \(16,\)"):
        MonarchLinear.from_structmat(Monarch.random(16, seed=0), bias=np.zeros(8))
    with pytest.raises(ValueError, match="Valid k"):
        MonarchLinear.from_dense(torch.randn(16, 16), nblocks=3)
    with pytest.raises(TypeError, match="dtype"):
        MonarchLinear.from_dense(torch.randn(16, 16), dtype=np.float32)
    with pytest.raises(ValueError, match="NaN"):
        MonarchLinear.from_dense(torch.full((16, 16), math.nan))


def test_exact_monarch_form_of_a_transform_goes_through_from_structmat(gen):
    """A DFT's exact Monarch factorisation becomes a layer computing the DFT times Q."""
    P = structmat.to_monarch(DFT(16))
    M = next(f for f in P.factors if isinstance(f, Monarch))
    layer = MonarchLinear.from_structmat(M)
    assert layer.R.dtype == torch.complex128
    assert_close(host(layer.to_dense()), M.to_dense(), "complex128", 16, depth=2)
    x = randn((2, 16), torch.complex128, gen)
    assert_close(host(layer(x)), host(x) @ M.to_dense().T, "complex128", 16, depth=2)
