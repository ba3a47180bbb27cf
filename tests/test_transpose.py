"""The compiled batched transpose behind ``X @ M`` (``structmat.ops._transpose``)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import structmat
from structmat.ops import _transpose

from .tolerance import rtol

compiled = pytest.mark.skipif(_transpose.kernel() is None, reason="Numba unavailable")


def _src(shape, dtype, rng):
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "int32"])
@pytest.mark.parametrize(
    "shape", [(1, 8, 8), (3, 16, 16), (2, 9, 10), (4, 24, 7), (2, 7, 31), (5, 33, 64), (0, 8, 8)]
)
def test_transpose_into_is_an_exact_transpose(dtype, shape, rng):
    src = _src(shape, dtype, rng)
    dst = np.full((shape[0], shape[2], shape[1]), -1, dtype=dtype)
    _transpose.transpose_into(dst, src)
    assert np.array_equal(dst, src.transpose(0, 2, 1))


@compiled
@given(
    m=st.integers(0, 4),
    s=st.integers(1, 40),
    l=st.integers(1, 40),
    dtype=st.sampled_from(["float32", "float64"]),
    scale=st.sampled_from([1.0, 1e-42, 1e300, np.inf, np.nan]),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=60, deadline=None)
def test_transpose_tiles_bit_for_bit(m, s, l, dtype, scale, seed):
    # every entry moved unchanged, subnormal, huge and non-finite entries included
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        src = (rng.standard_normal((m, s, l)) * scale).astype(dtype)
    dst = np.zeros((m, l, s), dtype=dtype)
    _transpose.kernel()(src, dst)
    assert dst.tobytes() == np.ascontiguousarray(src.transpose(0, 2, 1)).tobytes()


@compiled
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_transpose_into_strided_views(dtype, rng):
    big = _src((6, 40, 50), dtype, rng)
    # rows far apart, reversed batch, a window of columns: unit stride along the last axis only
    for src in (big[::2, 3:35, 5:45], big[::-1, ::-1, 2:26], big[:, 1:17, 16:48]):
        dst_buf = np.zeros((src.shape[2], src.shape[0], src.shape[1]), dtype=dtype)
        dst = dst_buf.transpose(1, 0, 2)  # (m, l, s) with rows of dst far apart
        _transpose.transpose_into(dst, src)
        assert np.array_equal(dst, src.transpose(0, 2, 1))
    # no unit stride along the last axis: the NumPy copy takes over
    src = big[:, :16, ::2]
    dst = np.zeros((6, src.shape[2], 16), dtype=dtype)
    _transpose.transpose_into(dst, src)
    assert np.array_equal(dst, src.transpose(0, 2, 1))


def test_transpose_into_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="dst must have shape"):
        _transpose.transpose_into(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="dst must have shape"):
        _transpose.transpose_into(np.zeros((3, 4)), np.zeros((4, 3)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n, batch", [(64, 3), (1024, 256), (4096, 40), (72, 5)])
def test_x_at_monarch_through_the_tile_transpose(dtype, n, batch, rng):
    # X @ M runs the compiled transpose (once loaded) when the blocks are 8 wide or more:
    # against the dense product in double precision
    _transpose.kernel()
    M = structmat.Monarch.random(n, dtype=dtype)
    X = rng.standard_normal((batch, n)).astype(dtype)
    ref = X.astype(np.float64) @ M.to_dense().astype(np.float64)
    # entrywise scale of the rounding errors: |X| times the Monarch matrix of |L| and |R|
    absM = structmat.Monarch(np.abs(M.L), np.abs(M.R)).to_dense().astype(np.float64)
    scale = np.abs(X).astype(np.float64) @ absM
    got = X @ M
    assert got.shape == (batch, n) and got.dtype == np.dtype(dtype)
    assert np.all(np.abs(got - ref) <= rtol(dtype, n, depth=2) * scale)


def test_products_reusing_work_arrays_stay_exact(rng):
    # the chunk buffers of M @ X and X @ M are kept per thread between calls: products of
    # changing sizes, dtypes and batches one after another must not see each other's data
    for n, batch, dtype in [
        (1024, 300, "float32"),
        (256, 5, "float64"),
        (4096, 17, "float32"),
        (1024, 64, "float64"),
        (256, 512, "float32"),
    ]:
        M = structmat.Monarch.random(n, dtype=dtype)
        D = M.to_dense().astype(np.float64)
        absM = structmat.Monarch(np.abs(M.L), np.abs(M.R)).to_dense().astype(np.float64)
        X = rng.standard_normal((n, batch)).astype(dtype)
        tol = rtol(dtype, n, depth=2)
        got = M @ X
        assert np.all(np.abs(got - D @ X) <= tol * (absM @ np.abs(X)))
        got = X.T @ M
        assert np.all(np.abs(got - X.T @ D) <= tol * (np.abs(X.T) @ absM))


@compiled
def test_small_products_do_not_load_the_compiled_transpose(monkeypatch, rng):
    # in a process without Numba, a small X @ M takes NumPy's copy (no second-long load);
    # both routes give the same bits
    M = structmat.Monarch.random(1024, dtype="float32")
    X = rng.standard_normal((16, 1024)).astype("float32")
    fast = X @ M  # the compiled transpose (Numba is loaded in this test process)
    monkeypatch.setattr(_transpose, "_loaded", {})
    monkeypatch.delitem(sys.modules, "numba")
    assert _transpose.kernel(load=False) is None
    slow = X @ M
    assert _transpose._loaded == {}  # nothing was loaded
    assert np.array_equal(fast, slow)
