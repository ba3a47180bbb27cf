"""Array interop: to_backend by name or module, explicit conversion only, torch tensors.

Torch tests need the ``torch`` package (``pytest.importorskip``); CUDA cases run where a
CUDA device is present.
"""

from __future__ import annotations

import numpy as np
import pytest

import structmat as sm
from structmat import DFT, Diagonal, Hadamard, Monarch

from .tolerance import assert_close

torch = pytest.importorskip("torch")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _ops():
    M = Monarch.random(16, seed=0)
    D = Diagonal(np.linspace(1.0, 2.0, 16))
    return {
        "Monarch": M,
        "Product": M @ D @ Hadamard(16),
        "Sum": M + 0.5 * D - Hadamard(16),
        "Adjoint-complex": (Monarch.random(16, seed=1, dtype="complex128") @ DFT(16)).H,
    }


@pytest.mark.parametrize("name", list(_ops()))
@pytest.mark.parametrize("how", ["name", "module"])
@pytest.mark.parametrize("device", DEVICES)
def test_to_backend_torch_matches_numpy(name, how, device):
    A = _ops()[name]
    T = A.to_backend("torch" if how == "name" else torch)
    if device != "cpu":
        T = _to_device(T, device)
    assert sm._backend.namespace_name(T.xp) == "torch"
    dt = getattr(torch, sm.base.dtype_name(A.dtype))
    x = np.random.default_rng(0).standard_normal((16, 3))
    y = T @ torch.asarray(x, device=device)
    assert isinstance(y, torch.Tensor) and y.device.type == device and y.dtype == dt
    assert_close(y.cpu().numpy(), A @ x, dt, 16, 8, what=f"{name} torch @")
    r = torch.asarray(x.T, device=device) @ T
    assert r.device.type == device and r.dtype == dt
    assert_close(r.cpu().numpy(), x.T @ A, dt, 16, 8, what=f"{name} torch rows")
    back = T.to_backend("numpy")
    assert np.array_equal(np.asarray(back), np.asarray(A))


def _to_device(T, device):
    """A torch-backed Monarch moved to ``device`` (other trees are checked on the CPU)."""
    if not isinstance(T, Monarch):
        pytest.skip("device moves are checked on Monarch")
    return Monarch(T.L.to(device), T.R.to(device))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("device", DEVICES)
def test_torch_factors_keep_dtype_device_and_autograd(dtype, device):
    """Monarch(L, R) with torch leaves: results on their device/dtype, gradients reach L, R."""
    M0 = Monarch.random(16, seed=2, dtype=dtype)
    L = torch.asarray(M0.L, device=device).requires_grad_(True)
    R = torch.asarray(M0.R, device=device).requires_grad_(True)
    M = 2.0 * Monarch(L, R)
    x = torch.ones(16, 2, dtype=L.dtype, device=device)
    y = M @ x
    assert y.dtype == L.dtype and y.device == L.device
    y.square().sum().backward()
    assert L.grad is not None and R.grad is not None
    assert L.grad.dtype == L.dtype and L.grad.device == L.device
    if dtype == "float64":
        # <grad_L, d> against a central difference of f(L) = sum((2 M(L, R) x)^2) along d
        X = np.ones((16, 2))

        def f(Lv):
            return float(np.sum((2.0 * (Monarch(Lv, M0.R) @ X)) ** 2))

        d = np.random.default_rng(3).standard_normal(M0.L.shape)
        h = 1e-6
        fd = (f(M0.L + h * d) - f(M0.L - h * d)) / (2 * h)
        assert float(np.sum(L.grad.cpu().numpy() * d)) == pytest.approx(fd, rel=1e-6)


def test_foreign_operand_error_says_how_to_convert():
    M = Monarch.random(16, seed=0)
    with pytest.raises(TypeError, match=r"A\.to_backend\('torch'\).*A\.to_backend\(torch\)"):
        M @ torch.ones(16, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"to_backend\('torch'\)"):
        torch.ones(2, 16, dtype=torch.float64) @ M
    T = M.to_backend("torch")
    with pytest.raises(TypeError, match=r"to_backend\('numpy'\)"):
        T @ np.ones(16)


def test_unknown_array_types_are_refused_with_a_hint():
    class DLPackOnly:
        def __dlpack__(self, stream=None):
            raise AssertionError("must not be converted implicitly")

        def __dlpack_device__(self):
            return (1, 0)

    with pytest.raises(TypeError, match="convert it explicitly"):
        Monarch.random(4, seed=0) @ DLPackOnly()


def test_to_backend_names():
    D = Diagonal(np.ones(3))
    assert sm._backend.namespace_name(D.to_backend("np").xp) == "numpy"
    assert sm._backend.namespace_name(D.to_backend("array_api_strict").xp) == "array_api_strict"
    with pytest.raises(TypeError, match="'numpy', 'cupy', 'torch', 'array_api_strict'"):
        D.to_backend("jax-ish")


def test_parameter_free_matrices_follow_torch_operands():
    x = torch.arange(8, dtype=torch.float32)
    y = DFT(8) @ x
    assert y.dtype == torch.complex64
    assert_close(y.numpy(), np.fft.fft(x.numpy()), "complex64", 8, 3)
    z = (0.5 * Hadamard(8)) @ x
    assert z.dtype == torch.float32


def test_torch_backed_matrices_pickle_and_deepcopy():
    import copy
    import pickle

    T = (Monarch.random(16, seed=0) + 2j * DFT(16)).to_backend("torch")
    for back in (pickle.loads(pickle.dumps(T)), copy.deepcopy(T)):
        assert sm._backend.namespace_name(back.xp) == "torch"
        x = torch.ones(16, dtype=torch.float64)
        assert torch.equal(back @ x, T @ x)
