"""Each class against its SciPy / NumPy float64 reference, on every array namespace.

The zoo (``test_protocol``) checks the protocol on a few sizes; here each family is swept over
more sizes, norms, types and geometries, and the operand precision is varied: float32 and
complex64 results are held to the (looser) tolerance ``tests.tolerance`` derives for them.
"""

from __future__ import annotations

import itertools
import math
import zlib

import numpy as np
import pytest
import scipy.fft
import scipy.linalg

from structmat import DCT, DFT, DST, Butterfly, Convolution, Hadamard, Monarch
from structmat.ops.monarch import monarch_geometry, slab_ranks

from .conftest import to_numpy
from .tolerance import assert_close, fft_depth
from .zoo import (
    butterfly_factor_reference,
    butterfly_reference,
    draw,
    monarch_einsum_reference,
    monarch_entry_reference,
)

PRECISIONS = ["float64", "complex128", "float32", "complex64"]


def rng_for(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def up(a: np.ndarray) -> np.ndarray:
    """float64 / complex128 copy (the reference precision)."""
    return a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)


def is_np(xp) -> bool:
    return xp.__name__ == "numpy"


def rows(A, X, xp):
    return X @ A if is_np(xp) else A.rmatmul(X)


# ----------------------------------------------------------------------------------------------
# DFT
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 7, 8, 12, 15, 16, 97])
@pytest.mark.parametrize("norm", [None, "backward", "ortho", "forward"])
@pytest.mark.parametrize("inverse", [False, True])
def test_dft_vs_scipy_fft(xp, n, norm, inverse):
    fn = scipy.fft.ifft if inverse else scipy.fft.fft
    F = DFT(n, norm=norm, inverse=inverse)
    for prec in PRECISIONS:
        X = draw(rng_for("dft", n, norm, inverse, prec), (n, 3), prec)
        Y = F @ xp.asarray(X)
        want = fn(up(X), axis=0, norm=norm)
        # single precision in -> complex64 out, like scipy.fft
        assert str(Y.dtype).endswith(
            "complex64" if prec in ("float32", "complex64") else "complex128"
        )
        assert_close(to_numpy(Y), want, Y.dtype, n, fft_depth(n), what=f"DFT {n} {norm} {prec}")
        # rows: X @ F transforms each row (F is symmetric)
        Yr = rows(F, xp.asarray(X.T), xp)
        assert_close(
            to_numpy(Yr),
            fn(up(X.T), axis=1, norm=norm),
            Yr.dtype,
            n,
            fft_depth(n),
            what=f"X @ DFT {n} {norm} {prec}",
        )


@pytest.mark.parametrize("n", [3, 8, 10])
def test_dft_dense_is_scipy_linalg_dft(n):
    assert_close(DFT(n).to_dense(), scipy.linalg.dft(n), np.complex128, n)
    assert_close(DFT(n, "ortho").to_dense(), scipy.linalg.dft(n, scale="sqrtn"), np.complex128, n)
    assert_close(DFT(n, "forward").to_dense(), scipy.linalg.dft(n, scale="n"), np.complex128, n)
    assert_close(
        DFT(n, inverse=True).to_dense(),
        np.linalg.inv(scipy.linalg.dft(n)),
        np.complex128,
        n,
        fft_depth(n),
    )


# ----------------------------------------------------------------------------------------------
# DCT / DST
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dct", "dst"])
@pytest.mark.parametrize("type", [1, 2, 3, 4])
@pytest.mark.parametrize("norm", [None, "ortho"])
@pytest.mark.parametrize("n", [2, 3, 5, 8, 17])
def test_trig_vs_scipy(xp, kind, type, norm, n):
    fn = scipy.fft.dct if kind == "dct" else scipy.fft.dst
    A = (DCT if kind == "dct" else DST)(n, type=type, norm=norm)
    depth = fft_depth(n)
    for prec in PRECISIONS:
        X = draw(rng_for(kind, type, norm, n, prec), (n, 3), prec)
        Y = A @ xp.asarray(X)
        assert str(Y.dtype).endswith(prec)
        assert_close(
            to_numpy(Y),
            fn(up(X), type=type, norm=norm, axis=0),
            Y.dtype,
            n,
            depth,
            what=f"{kind}{type} {norm} n={n} {prec}",
        )
        Yr = rows(A, xp.asarray(X.T), xp)
        want = up(X.T) @ fn(np.eye(n), type=type, norm=norm, axis=0)
        assert_close(
            to_numpy(Yr), want, Yr.dtype, n, depth, what=f"X @ {kind}{type} {norm} n={n} {prec}"
        )


def test_trig_dense_is_scipy_of_identity():
    for kind, type, norm, n in itertools.product(
        ("dct", "dst"), (1, 2, 3, 4), (None, "ortho"), (4, 9)
    ):
        fn = scipy.fft.dct if kind == "dct" else scipy.fft.dst
        A = (DCT if kind == "dct" else DST)(n, type=type, norm=norm)
        assert_close(
            np.asarray(A),
            fn(np.eye(n), type=type, norm=norm, axis=0),
            np.float64,
            n,
            what=f"{kind}{type} {norm}",
        )


# ----------------------------------------------------------------------------------------------
# Hadamard
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 4, 8, 32, 128])
@pytest.mark.parametrize("norm", [None, "ortho"])
def test_hadamard_vs_scipy(xp, n, norm):
    H = Hadamard(n, norm=norm)
    ref = scipy.linalg.hadamard(n).astype(np.float64) / (math.sqrt(n) if norm else 1.0)
    assert_close(np.asarray(H), ref, np.float64, n)
    for prec in PRECISIONS:
        X = draw(rng_for("had", n, norm, prec), (n, 2), prec)
        Y = H @ xp.asarray(X)
        assert str(Y.dtype).endswith(prec)
        assert_close(to_numpy(Y), ref @ up(X), Y.dtype, n, fft_depth(n), what=f"H{n} {prec}")
        Yr = rows(H, xp.asarray(X.T), xp)
        assert_close(to_numpy(Yr), up(X.T) @ ref, Yr.dtype, n, fft_depth(n), what=f"X @ H{n}")


def test_hadamard_radix_blocks_are_never_handed_out():
    # the radix-16 blocks of the NumPy path are built once per dtype and kept: every product
    # must still return a fresh, writable array, and writing to one must not change the next
    H = Hadamard(256)
    ref = scipy.linalg.hadamard(256).astype(np.float64)
    rng = np.random.default_rng(5)
    for dt in (np.float32, np.float64, np.complex64, np.complex128):
        x = rng.standard_normal((256, 3)).astype(dt)
        for _ in range(2):
            y = H @ x
            assert y.dtype == dt and y.flags.writeable
            assert_close(y, ref @ up(x), y.dtype, 256, fft_depth(256), what=f"H256 {dt}")
            y[...] = 7
    for n in (1, 2, 16):  # small sizes build their dense matrix the uncached way
        D = Hadamard(n).to_dense()
        assert D.flags.writeable
        D[...] = 0
        assert np.array_equal(Hadamard(n).to_dense(), scipy.linalg.hadamard(n))


# ----------------------------------------------------------------------------------------------
# Convolution
# ----------------------------------------------------------------------------------------------


def circular_convolve(c: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    """Circular convolution of length n: fold ``numpy.convolve`` modulo n (aliases summed)."""
    z = np.convolve(c, x)
    out = np.zeros(n, dtype=z.dtype)
    np.add.at(out, np.arange(z.shape[0]) % n, z)
    return out


@pytest.mark.parametrize("L,n", [(1, None), (5, None), (4, 9), (3, 16), (8, 8), (7, 11)])
def test_circular_convolution_vs_numpy(xp, L, n):
    nn = L if n is None else n
    for prec in PRECISIONS:
        rng = rng_for("circ", L, n, prec)
        c = draw(rng, L, prec)
        C = Convolution(xp.asarray(c), n=n)
        pad = np.concatenate([up(c), np.zeros(nn - L)])
        assert_close(to_numpy(C.to_dense()), scipy.linalg.circulant(pad), c.dtype, nn)
        X = draw(rng, (nn, 3), prec)
        Y = C @ xp.asarray(X)
        want = np.stack([circular_convolve(up(c), up(X[:, j]), nn) for j in range(3)], axis=1)
        depth = fft_depth(nn)
        assert_close(to_numpy(Y), want, Y.dtype, nn, depth, what=f"circ L={L} n={nn} {prec}")
        Yr = rows(C, xp.asarray(X.T), xp)
        assert_close(
            to_numpy(Yr),
            up(X.T) @ scipy.linalg.circulant(pad),
            Yr.dtype,
            nn,
            depth,
            what=f"X @ circ L={L} n={nn} {prec}",
        )


@pytest.mark.parametrize("L,n", [(1, 4), (3, 6), (4, 5), (7, 1), (6, 13)])
def test_full_convolution_vs_numpy(xp, L, n):
    for prec in PRECISIONS:
        rng = rng_for("full", L, n, prec)
        c = draw(rng, L, prec)
        C = Convolution(xp.asarray(c), n=n, mode="full")
        assert C.shape == (n + L - 1, n)
        X = draw(rng, (n, 3), prec)
        Y = C @ xp.asarray(X)
        want = np.stack([np.convolve(up(c), up(X[:, j])) for j in range(3)], axis=1)
        nfft = n + L - 1
        assert_close(
            to_numpy(Y), want, Y.dtype, nfft, fft_depth(nfft), what=f"full L={L} n={n} {prec}"
        )
        # rows: X @ C is the correlation of each row with the kernel
        Z = draw(rng, (2, nfft), prec)
        Zr = rows(C, xp.asarray(Z), xp)
        # numpy.correlate conjugates its second argument
        want_r = np.stack([np.correlate(up(Z[i]), np.conj(up(c)), mode="valid") for i in range(2)])
        assert_close(
            to_numpy(Zr),
            want_r,
            Zr.dtype,
            nfft,
            fft_depth(nfft),
            what=f"X @ full L={L} n={n} {prec}",
        )


# ----------------------------------------------------------------------------------------------
# Monarch
# ----------------------------------------------------------------------------------------------

MONARCH_GEOMETRIES = [
    (16, None, None),
    (16, None, 2),
    (16, None, (2, 8)),
    (9, None, None),
    (12, None, None),
    (12, None, 4),
    (18, None, (3, 6)),
    (7, None, None),
    (7, None, 7),
    (1, None, None),
    (64, None, None),
    (64, None, 4),
    (96, None, 8),
    (96, 24, None),
    (96, 24, 4),
    (24, 96, None),
    (24, 96, (6, 3)),
    (12, 8, (4, 2)),
    (8, 12, (2, 4)),
    (30, 20, (5, 2)),
    (10, 15, 5),
]


@pytest.mark.parametrize("n_in,n_out,nblocks", MONARCH_GEOMETRIES)
def test_monarch_vs_einsum_reference(xp, n_in, n_out, nblocks):
    k, q, p, l, s, r = monarch_geometry(n_in, n_out, nblocks)
    for prec in PRECISIONS:
        rng = rng_for("monarch", n_in, n_out, nblocks, prec)
        R, L = draw(rng, (k, q, p), prec), draw(rng, (l, s, r), prec)
        M = Monarch(xp.asarray(L), xp.asarray(R))
        assert M.geometry == (k, q, p, l, s, r)
        X = draw(rng, (n_in, 3), prec)
        want = monarch_einsum_reference(up(L), up(R), up(X))
        Y = M @ xp.asarray(X)
        nmax = max(M.shape)
        assert_close(to_numpy(Y), want, Y.dtype, nmax, 2, what=f"Monarch {n_in}->{n_out} {prec}")
        dense = monarch_entry_reference(up(L), up(R))
        Z = draw(rng, (2, M.shape[0]), prec)
        Zr = rows(M, xp.asarray(Z), xp)
        assert_close(
            to_numpy(Zr),
            up(Z) @ dense,
            Zr.dtype,
            nmax,
            2,
            what=f"X @ Monarch {n_in}->{n_out} {prec}",
        )


@pytest.mark.parametrize("n_in,n_out,nblocks", MONARCH_GEOMETRIES)
def test_monarch_entry_formula_and_slab_ranks(n_in, n_out, nblocks):
    """The two references agree, and every (a, b) slab has at most its predicted rank."""
    k, q, p, l, s, r = monarch_geometry(n_in, n_out, nblocks)
    rng = rng_for("slab", n_in, n_out, nblocks)
    R, L = draw(rng, (k, q, p), "float64"), draw(rng, (l, s, r), "float64")
    dense = monarch_entry_reference(L, R)
    n = max(dense.shape)
    assert_close(monarch_einsum_reference(L, R, np.eye(k * p)), dense, np.float64, n, 2)
    ranks = slab_ranks(k, q, l)
    assert ranks.sum() == k * q
    for a, b in itertools.product(range(k), range(l)):
        slab = dense[b::l, a * p : (a + 1) * p]
        sv = np.linalg.svd(slab, compute_uv=False)
        tol = sv[0] * s * p * np.finfo(np.float64).eps if sv.size and sv[0] > 0 else 0.0
        assert int(np.sum(sv > tol)) <= ranks[a, b]


def test_monarch_square_is_P_L_Pt_R():
    """For n = m^2 with m blocks everywhere: M = P L P^T R (the paper's form, Dao et al., ICML 2022, section 3)."""
    m = 5
    rng = rng_for("plpr")
    R, L = draw(rng, (m, m, m), "float64"), draw(rng, (m, m, m), "float64")
    M = Monarch(L, R)
    P = np.eye(m * m)[np.arange(m * m).reshape(m, m).T.reshape(-1)]
    want = P @ scipy.linalg.block_diag(*L) @ P.T @ scipy.linalg.block_diag(*R)
    assert_close(np.asarray(M), want, np.float64, m * m, 2)
    assert M.nparams == 2 * m**3 and M.flops() == 4 * (m * m) ** 1.5


@pytest.mark.slow
def test_monarch_every_valid_nblocks_exhaustive():
    for n_in, n_out in [(36, 36), (48, 48), (60, 24), (24, 60), (64, 32)]:
        mid = min(n_in, n_out)
        ks = [d for d in range(1, n_in + 1) if n_in % d == 0 and mid % d == 0]
        ls = [d for d in range(1, n_out + 1) if n_out % d == 0 and mid % d == 0]
        for k, l in itertools.product(ks, ls):
            M = Monarch.random(n_in, n_out, nblocks=(k, l), seed=k * 100 + l, dtype="complex128")
            dense = monarch_entry_reference(to_numpy(M.L), to_numpy(M.R))
            assert_close(
                np.asarray(M),
                dense,
                np.complex128,
                max(n_in, n_out),
                2,
                what=f"{n_in}->{n_out} ({k}, {l})",
            )


# ----------------------------------------------------------------------------------------------
# Butterfly
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 4, 8, 16, 64, 512])  # one, two and three fused groups
def test_butterfly_vs_factor_product(xp, n):
    levels = int(math.log2(n))
    for prec in PRECISIONS:
        rng = rng_for("bf", n, prec)
        tw = draw(rng, (levels, 2, 2, n // 2), prec)
        Bf = Butterfly(xp.asarray(tw))
        ref = butterfly_reference(up(tw))
        depth = fft_depth(n)
        assert_close(to_numpy(Bf.to_dense()), ref, tw.dtype, n, depth, what=f"Butterfly {n}")
        for e in range(levels):
            assert_close(
                to_numpy(Bf.factor(e).to_dense()),
                butterfly_factor_reference(up(tw), e),
                tw.dtype,
                n,
                what=f"Butterfly factor {e}",
            )
        X = draw(rng, (n, 3), prec)
        Y = Bf @ xp.asarray(X)
        assert_close(to_numpy(Y), ref @ up(X), Y.dtype, n, depth, what=f"Butterfly {n} {prec}")
        Yr = rows(Bf, xp.asarray(X.T), xp)
        assert_close(to_numpy(Yr), up(X.T) @ ref, Yr.dtype, n, depth, what=f"X @ Bf {n} {prec}")


def test_butterfly_factor_is_sparse_butterfly_pattern():
    """Each factor of block size k has exactly 2 nonzeros per row, at i and i ± k/2 (Dao et al.)."""
    n = 16
    Bf = Butterfly.random(n, seed=1)
    for e in range(4):
        k = 2 ** (e + 1)
        F = np.asarray(Bf.factor(e))
        for i in range(n):
            partner = i + k // 2 if (i % k) < k // 2 else i - k // 2
            assert set(np.flatnonzero(F[i])) == {i, partner}


def test_butterfly_random_is_reproducible_and_typed():
    a, b = Butterfly.random(8, seed=4), Butterfly.random(8, seed=4)
    assert np.array_equal(a.twiddle, b.twiddle)
    assert Butterfly.random(8, seed=4, dtype="complex64").dtype == np.complex64


@pytest.mark.parametrize("dtype, out", [("float32", "complex64"), ("float64", "complex128")])
def test_dft_of_real_input_is_scipys_real_input_fft(dtype, out):
    # real operands go to the FFT as they are (no complex copy first): the same numbers as
    # scipy.fft.fft of the real array, in the matching complex precision, columns and rows
    X = np.random.default_rng(0).standard_normal((48, 5)).astype(dtype)
    Y = DFT(48) @ X
    assert Y.dtype == np.dtype(out)
    np.testing.assert_array_equal(Y, scipy.fft.fft(X, axis=0))
    np.testing.assert_array_equal(X.T @ DFT(48), scipy.fft.fft(X.T, axis=1))
    np.testing.assert_array_equal(
        DFT(48, norm="ortho", inverse=True) @ X, scipy.fft.ifft(X, axis=0, norm="ortho")
    )
