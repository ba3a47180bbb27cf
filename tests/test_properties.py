"""Hypothesis property tests: algebraic laws every structured matrix must satisfy.

Shapes, dtypes and geometries are drawn by hypothesis; array values are drawn as NumPy arrays
(``hypothesis.extra.numpy``) and moved with ``xp.asarray``.  Examples stay small so the module
runs in seconds under the derandomized "ci" profile.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from structmat import (
    DCT,
    DFT,
    DST,
    BlockDiagonal,
    Butterfly,
    Convolution,
    Diagonal,
    Hadamard,
    Monarch,
    Permutation,
    Product,
)
from structmat.ops.monarch import monarch_geometry

from .conftest import to_numpy
from .tolerance import assert_close, assert_close_scaled, fft_depth
from .zoo import monarch_einsum_reference, monarch_entry_reference

# the xp fixture only hands out a module: sharing it across examples is safe
fixture_ok = settings(
    suppress_health_check=list(settings.default.suppress_health_check)
    + [HealthCheck.function_scoped_fixture]
)

DTYPES = ["float32", "float64", "complex64", "complex128"]
dtypes = st.sampled_from(DTYPES)


def real_of(dtype: str) -> str:
    return {"complex64": "float32", "complex128": "float64"}.get(dtype, dtype)


@st.composite
def arrays(draw, shape, dtype):
    """A NumPy array of ``dtype`` with entries of modulus <= 1 (complex: two real draws)."""
    rdt = real_of(dtype)
    width = 32 if rdt == "float32" else 64
    # zero or 1e-3 <= |v| <= 1: no subnormals, so products of a few entries never underflow
    mag = st.floats(2.0**-10, 1, width=width)
    elems = st.one_of(st.just(0.0), mag, mag.map(lambda v: -v))
    re = draw(hnp.arrays(rdt, shape, elements=elems))
    if dtype.startswith("complex"):
        im = draw(hnp.arrays(rdt, shape, elements=elems))
        return (re + 1j * im).astype(dtype)
    return re


def up(a):
    a = np.asarray(a)
    return a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def monarch_geometries(draw, max_n=24):
    """Any valid (n_in, n_out, nblocks) of Monarch.random: None, an int, or a pair (k, l)."""
    n_in = draw(st.integers(1, max_n))
    n_out = draw(st.one_of(st.none(), st.integers(1, max_n)))
    no = n_in if n_out is None else n_out
    mid = min(n_in, no)
    ks = [d for d in divisors(n_in) if mid % d == 0]
    ls = [d for d in divisors(no) if mid % d == 0]
    choice = draw(st.sampled_from(["none", "int", "pair"]))
    if choice == "none":
        nblocks = None
    elif choice == "int":
        common = sorted(set(ks) & set(ls))
        nblocks = draw(st.sampled_from(common))
    else:
        nblocks = (draw(st.sampled_from(ks)), draw(st.sampled_from(ls)))
    return n_in, n_out, nblocks


@st.composite
def matrices(draw, xp, dtype, n=None):
    """A structured matrix of any parametrised or fixed family, with its tolerance depth.

    ``n`` fixes the number of columns (``n_in``) where given.
    """
    families = ["monarch", "diagonal", "blockdiag", "convolution", "dft", "trig", "permutation"]
    if n is None or (n & (n - 1) == 0 and n >= 2):
        families += ["butterfly", "hadamard"]
    fam = draw(st.sampled_from(families))
    if fam in ("butterfly", "hadamard") and n is None:
        n = 2 ** draw(st.integers(1, 4))
    if n is None:
        n = draw(st.integers(1, 16))
    if fam == "monarch":
        ks = divisors(n)
        k = draw(st.sampled_from(ks))
        p = n // k
        q = draw(st.integers(1, 4))
        l = draw(st.sampled_from(divisors(k * q)))
        R = draw(arrays((k, q, p), dtype))
        L = draw(arrays((l, draw(st.integers(1, 4)), k * q // l), dtype))
        return Monarch(xp.asarray(L), xp.asarray(R)), 2
    if fam == "diagonal":
        return Diagonal(xp.asarray(draw(arrays((n,), dtype)))), 1
    if fam == "blockdiag":
        nb = draw(st.sampled_from(divisors(n)))
        rows = draw(st.integers(1, 4))
        return BlockDiagonal(xp.asarray(draw(arrays((nb, rows, n // nb), dtype)))), 1
    if fam == "convolution":
        mode = draw(st.sampled_from(["circular", "full"]))
        L = draw(st.integers(1, n)) if mode == "circular" else draw(st.integers(1, 6))
        c = xp.asarray(draw(arrays((L,), dtype)))
        return Convolution(c, n=n, mode=mode), fft_depth(n + L)
    if fam == "dft":
        norm = draw(st.sampled_from([None, "ortho", "forward"]))
        return DFT(n, norm=norm, inverse=draw(st.booleans())), fft_depth(n)
    if fam == "trig":
        cls = draw(st.sampled_from([DCT, DST]))
        t = draw(st.sampled_from([1, 2, 3, 4] if (cls is DST or n >= 2) else [2, 3, 4]))
        return cls(n, type=t, norm=draw(st.sampled_from([None, "ortho"]))), fft_depth(n)
    if fam == "permutation":
        perm = draw(st.permutations(range(n)))
        return Permutation(xp.asarray(np.asarray(perm, dtype=np.int64))), 1
    if fam == "butterfly":
        s = int(math.log2(n))
        return Butterfly(xp.asarray(draw(arrays((s, 2, 2, n // 2), dtype)))), fft_depth(n)
    return Hadamard(n, norm=draw(st.sampled_from([None, "ortho"]))), fft_depth(n)


def dense(A):
    return up(to_numpy(A.to_dense()))


def result_dtype(*arrays_):
    return np.result_type(*[np.dtype(str(a.dtype).rsplit(".", 1)[-1]) for a in arrays_])


# ----------------------------------------------------------------------------------------------
# adjoint, composition, transposes
# ----------------------------------------------------------------------------------------------


@fixture_ok
@given(data=st.data(), dtype=dtypes)
def test_adjoint_law(xp, data, dtype):
    """<A x, y> = <x, A^H y> for every family, real and complex operands."""
    A, depth = data.draw(matrices(xp, dtype))
    n_out, n_in = A.shape
    x = data.draw(arrays((n_in,), dtype))
    y = data.draw(arrays((n_out,), dtype))
    Ax = to_numpy(A @ xp.asarray(x))
    AHy = to_numpy(A.H @ xp.asarray(y))
    scale = np.linalg.norm(dense(A), 2) * np.linalg.norm(up(x)) * np.linalg.norm(up(y))
    assert_close_scaled(
        np.vdot(y, Ax), np.vdot(AHy, x), scale, Ax.dtype, max(A.shape), depth + 1, what=f"{A!r}"
    )


@fixture_ok
@given(data=st.data(), dtype=dtypes)
def test_composition_is_associative(xp, data, dtype):
    """A (B x) = (A B) x, and the product's transpose and adjoint reverse the factors."""
    B_, db = data.draw(matrices(xp, dtype))
    A, da = data.draw(matrices(xp, dtype, n=B_.shape[0]))
    AB = A @ B_
    # a Product, or one matrix where a structure rule applies (Diagonal/Permutation pairs)
    rule = (Diagonal, Permutation)
    assert isinstance(AB, Product) or any(
        isinstance(A, c) and isinstance(B_, c) and isinstance(AB, c) for c in rule
    )
    assert AB.shape == (A.shape[0], B_.shape[1])
    x = data.draw(arrays((B_.shape[1], 2), dtype))
    lhs = to_numpy(A @ (B_ @ xp.asarray(x)))
    rhs = to_numpy(AB @ xp.asarray(x))
    nmax = max(A.shape + B_.shape)
    scale = np.linalg.norm(dense(A), 2) * np.linalg.norm(dense(B_), 2) * np.abs(up(x)).max()
    depth = da + db
    assert_close_scaled(lhs, rhs, scale, rhs.dtype, nmax, depth, what="A(Bx) vs (AB)x")
    # (A B)^T = B^T A^T and (A B)^H = B^H A^H, applied to rows and columns
    y = data.draw(arrays((A.shape[0], 2), dtype))
    t1 = to_numpy(AB.T @ xp.asarray(y))
    t2 = to_numpy(B_.T @ (A.T @ xp.asarray(y)))
    scale_y = np.linalg.norm(dense(A), 2) * np.linalg.norm(dense(B_), 2) * np.abs(up(y)).max()
    assert_close_scaled(t1, t2, scale_y, t1.dtype, nmax, depth, what="(AB)^T")
    h1 = to_numpy(AB.H @ xp.asarray(y))
    h2 = to_numpy(B_.H @ (A.H @ xp.asarray(y)))
    assert_close_scaled(h1, h2, scale_y, h1.dtype, nmax, depth, what="(AB)^H")
    r1 = to_numpy(AB.rmatmul(xp.asarray(y.T)))
    assert_close_scaled(r1, t1.T, scale_y, r1.dtype, nmax, depth, what="y @ (AB)")


# ----------------------------------------------------------------------------------------------
# Monarch: any valid geometry
# ----------------------------------------------------------------------------------------------


@fixture_ok
@given(geom=monarch_geometries(), dtype=dtypes, data=st.data())
def test_monarch_random_geometry_matches_einsum(xp, geom, dtype, data):
    n_in, n_out, nblocks = geom
    seed = data.draw(st.integers(0, 2**32 - 1))
    M = Monarch.random(n_in, n_out, nblocks=nblocks, seed=seed, dtype=dtype, xp=xp)
    k, q, p, l, s, r = monarch_geometry(n_in, n_out, nblocks)
    assert M.geometry == (k, q, p, l, s, r)
    no = n_in if n_out is None else n_out
    assert M.shape == (no, n_in)
    if nblocks is None:
        # the paper's Monarch: every (a, b) slab has rank 1
        assert (q, r) == (l, k) and (M.slab_ranks() == 1).all()
    else:
        assert k * q == l * r == min(n_in, no)
        assert M.nblocks == ((nblocks, nblocks) if isinstance(nblocks, int) else nblocks)
    assert M.nparams == k * q * p + l * s * r
    L, R = up(to_numpy(M.L)), up(to_numpy(M.R))
    X = data.draw(arrays((n_in, 2), dtype))
    Y = M @ xp.asarray(X)
    assert_close(to_numpy(Y), monarch_einsum_reference(L, R, up(X)), Y.dtype, max(M.shape), 2)
    Z = data.draw(arrays((3, no), dtype))
    Zr = M.rmatmul(xp.asarray(Z))
    assert_close(to_numpy(Zr), up(Z) @ monarch_entry_reference(L, R), Zr.dtype, max(M.shape), 2)


# ----------------------------------------------------------------------------------------------
# fixed transforms and permutations
# ----------------------------------------------------------------------------------------------


@fixture_ok
@given(data=st.data(), n=st.integers(1, 12))
def test_permutation_composition_and_inverse(xp, data, n):
    p = np.asarray(data.draw(st.permutations(range(n))), dtype=np.int64)
    q = np.asarray(data.draw(st.permutations(range(n))), dtype=np.int64)
    P, Q = Permutation(xp.asarray(p)), Permutation(xp.asarray(q))
    x = data.draw(arrays((n,), data.draw(dtypes)))
    xa = xp.asarray(x)
    # (P Q x)[i] = (Q x)[p[i]] = x[q[p[i]]]: entries only move, so equality is exact
    assert np.array_equal(to_numpy((P @ Q) @ xa), x[q[p]])
    assert np.array_equal(to_numpy(P @ (Q @ xa)), x[q[p]])
    assert np.array_equal(to_numpy(P.T @ (P @ xa)), x)
    assert np.array_equal(to_numpy(P @ (P.H @ xa)), x)
    assert np.array_equal(to_numpy(P.T.perm), np.argsort(p))
    assert np.array_equal(to_numpy(P.rmatmul(xa)), x[np.argsort(p)])
    r, c = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))
    T = Permutation.transpose_perm(r, c, xp=xp)
    v = np.arange(r * c, dtype=np.float64)
    assert np.array_equal(to_numpy(T @ xp.asarray(v)), v.reshape(r, c).T.ravel())
    # the inverse of the (r, c) stride permutation is the (c, r) one
    back = Permutation.transpose_perm(c, r, xp=xp)
    assert np.array_equal(to_numpy(back @ (T @ xp.asarray(v))), v)


@fixture_ok
@given(data=st.data(), logn=st.integers(0, 6), dtype=dtypes)
def test_hadamard_involution(xp, data, logn, dtype):
    n = 2**logn
    X = data.draw(arrays((n, 2), dtype))
    H = Hadamard(n)
    got = to_numpy(H @ (H @ xp.asarray(X)))
    assert_close(got, n * up(X), got.dtype, n, 2 * fft_depth(n), what="H H = n I")
    Ho = Hadamard(n, norm="ortho")
    got = to_numpy(Ho.rmatmul(Ho.rmatmul(xp.asarray(X.T))))
    assert_close(got, up(X.T), got.dtype, n, 2 * fft_depth(n), what="H_o H_o = I")


@fixture_ok
@given(data=st.data(), n=st.integers(1, 40), dtype=dtypes)
def test_dft_times_adjoint_is_n_identity(xp, data, n, dtype):
    X = data.draw(arrays((n, 2), dtype))
    F = DFT(n)
    got = to_numpy(F @ (F.H @ xp.asarray(X)))
    assert_close(got, n * up(X), got.dtype, n, 2 * fft_depth(n), what="F F^H = n I")
    got = to_numpy(F.H @ (F @ xp.asarray(X)))
    assert_close(got, n * up(X), got.dtype, n, 2 * fft_depth(n), what="F^H F = n I")
    Fo = DFT(n, norm="ortho")
    got = to_numpy(DFT(n, inverse=True) @ (F @ xp.asarray(X)))
    assert_close(got, up(X), got.dtype, n, 2 * fft_depth(n), what="ifft fft = I")
    got = to_numpy((Fo @ Fo.H) @ xp.asarray(X))
    assert_close(got, up(X), got.dtype, n, 2 * fft_depth(n), what="ortho F F^H = I")


@fixture_ok
@given(data=st.data(), n=st.integers(1, 20), dtype=dtypes)
def test_convolution_commutes_with_circular_shift(xp, data, n, dtype):
    L = data.draw(st.integers(1, n))
    shift = data.draw(st.integers(0, n))
    c = data.draw(arrays((L,), dtype))
    x = data.draw(arrays((n,), dtype))
    C = Convolution(xp.asarray(c), n=n)
    S = Permutation(xp.asarray((np.arange(n) - shift) % n))  # (S x)[i] = x[i - shift]
    assert np.array_equal(to_numpy(S @ xp.asarray(x)), np.roll(x, shift))
    lhs = to_numpy(C @ (S @ xp.asarray(x)))
    rhs = to_numpy(S @ (C @ xp.asarray(x)))
    scale = np.abs(up(c)).sum() * np.abs(up(x)).max()
    depth = fft_depth(n)
    assert_close_scaled(lhs, rhs, scale, lhs.dtype, n, depth, what="C S = S C")
    # circular convolution is commutative: conv(c, x) = conv(x, c) (c zero-padded to n)
    cpad = np.concatenate([c, np.zeros(n - L, dtype=c.dtype)])
    swapped = to_numpy(Convolution(xp.asarray(x)) @ xp.asarray(cpad))
    assert_close_scaled(
        swapped, to_numpy(C @ xp.asarray(x)), scale, lhs.dtype, n, depth, what="c * x = x * c"
    )


@fixture_ok
@given(
    data=st.data(),
    n=st.integers(1, 24),
    type=st.sampled_from([1, 2, 3, 4]),
    cls=st.sampled_from([DCT, DST]),
    dtype=dtypes,
)
def test_ortho_trig_is_orthogonal(xp, data, n, type, cls, dtype):
    if cls is DCT and type == 1 and n < 2:
        n = 2
    A = cls(n, type=type, norm="ortho")
    X = data.draw(arrays((n, 2), dtype))
    depth = 2 * fft_depth(n)
    for what, got in [
        ("A^T A", A.T @ (A @ xp.asarray(X))),
        ("A A^T", A @ (A.T @ xp.asarray(X))),
        ("A^H A", A.H @ (A @ xp.asarray(X))),
    ]:
        got = to_numpy(got)
        assert_close(got, up(X), got.dtype, n, depth, what=f"{cls.__name__}{type} {what}")
    # orthogonal matrices preserve norms
    y = to_numpy(A @ xp.asarray(X))
    assert_close(np.linalg.norm(up(y), axis=0), np.linalg.norm(up(X), axis=0), y.dtype, n, depth)
