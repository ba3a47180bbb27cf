"""to_monarch: every rule against dense SciPy/NumPy references, forms, factor classes, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.fft
import scipy.linalg
from hypothesis import given, strategies as st

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
    StructuredMatrix,
)
from structmat.base import Adjoint
from structmat.monarch_form import to_monarch

from .conftest import to_numpy
from .tolerance import assert_close, rtol

#: a Monarch multiply is two chained GEMM stages
DEPTH = 2


def divisors(n):
    return [d for d in range(2, n) if n % d == 0]


def check_factors(P):
    """Only Monarch / Adjoint(Monarch) / Permutation / Diagonal, and .form spells them."""
    assert isinstance(P, Product)
    tokens = []
    for f in P.factors:
        if isinstance(f, Adjoint):
            assert isinstance(f.base, Monarch), type(f.base)
            tokens.append("M*")
        else:
            assert type(f) in (Monarch, Permutation, Diagonal), type(f)
            tokens.append({Monarch: "M", Permutation: "P", Diagonal: "D"}[type(f)])
    assert P.form == "".join(tokens)


def dft_ref(n, norm=None, inverse=False):
    eye = np.eye(n)
    fn = scipy.fft.ifft if inverse else scipy.fft.fft
    return fn(eye, axis=0, norm=norm)


def trig_ref(kind, n, typ, norm):
    fn = scipy.fft.dct if kind == "dct" else scipy.fft.dst
    return fn(np.eye(n), type=typ, norm=norm, axis=0)


# ----------------------------------------------------------------------------------------------
# DFT
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 6, 12, 15, 24, 45, 96, 100])
@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
@pytest.mark.parametrize("inverse", [False, True])
def test_dft_every_split_dense(n, norm, inverse):
    ref = dft_ref(n, norm, inverse)
    for k in divisors(n):
        P = to_monarch(DFT(n, norm=norm, inverse=inverse), nblocks=k)
        check_factors(P)
        assert P.form == "MP"
        M = P.factors[0]
        assert M.nblocks == (k, n // k)
        assert M.geometry == (k, n // k, n // k, n // k, k, k)
        assert P.nparams == n * (k + n // k)
        assert_close(P.to_dense(), ref, "complex128", n, DEPTH, what=f"DFT n={n} k={k}")


@pytest.mark.parametrize("n", [4, 6, 8, 12, 16, 24])
def test_dft_matches_scipy_linalg_dft(n):
    # scipy.linalg.dft evaluates exp(-2πi jk/n) at angles up to 2π n without reducing jk mod n,
    # so the reference itself carries an error growing like n·eps: depth n accounts for it
    assert_close(to_monarch(DFT(n)).to_dense(), scipy.linalg.dft(n), "complex128", n, n)


def test_dft_placement_is_the_documented_formula():
    n, k = 12, 3
    p = n // k
    P = to_monarch(DFT(n), nblocks=k)
    M, Q = P.factors
    w = lambda num, den: np.exp(-2j * np.pi * (num % den) / den)  # noqa: E731
    d, a = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    for b in range(p):
        np.testing.assert_allclose(M.L[b], w(d * a, k), atol=1e-15)
    b, j = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    for a_ in range(k):
        np.testing.assert_allclose(M.R[a_], w(b * (a_ + k * j), n), atol=1e-15)
    np.testing.assert_array_equal(Q.perm, Permutation.transpose_perm(p, k).perm)


def test_dft_default_split_and_pair_nblocks():
    assert to_monarch(DFT(1024)).factors[0].nblocks == (32, 32)
    assert to_monarch(DFT(12)).factors[0].nblocks == (3, 4)  # divisor nearest sqrt(12)
    assert to_monarch(DFT(12), nblocks=(4, 3)).factors[0].nblocks == (4, 3)


def test_dft_adjoint_and_transpose():
    n = 24
    F = DFT(n)
    assert_close(to_monarch(F.H).to_dense(), dft_ref(n).conj().T, "complex128", n, DEPTH)
    assert_close(to_monarch(F.T).to_dense(), dft_ref(n), "complex128", n, DEPTH)
    assert_close(to_monarch(F.conj()).to_dense(), dft_ref(n).conj(), "complex128", n, DEPTH)


@given(
    k=st.integers(2, 64),
    p=st.integers(2, 64),
    norm=st.sampled_from([None, "ortho", "forward"]),
    inverse=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_dft_hypothesis_against_scipy_fft(k, p, norm, inverse, seed):
    n = k * p
    X = np.random.default_rng(seed).standard_normal((n, 2))
    P = to_monarch(DFT(n, norm=norm, inverse=inverse), nblocks=k)
    check_factors(P)
    fn = scipy.fft.ifft if inverse else scipy.fft.fft
    assert_close(P @ X, fn(X, axis=0, norm=norm), "complex128", n, DEPTH)


@pytest.mark.slow
def test_every_composite_n_up_to_512_every_split():
    rng = np.random.default_rng(11)
    for n in range(4, 513):
        X = rng.standard_normal((n, 2))
        for k in divisors(n):
            assert_close(
                to_monarch(DFT(n), nblocks=k) @ X, scipy.fft.fft(X, axis=0), "complex128", n, DEPTH
            )
            for cls, fn in ((DCT, scipy.fft.dct), (DST, scipy.fft.dst)):
                for typ in (2, 3, 4):
                    assert_close(
                        to_monarch(cls(n, typ), nblocks=k) @ X,
                        fn(X, type=typ, axis=0),
                        "float64",
                        n,
                        DEPTH,
                    )


# ----------------------------------------------------------------------------------------------
# DCT / DST
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dct", "dst"])
@pytest.mark.parametrize("typ", [2, 3, 4])
@pytest.mark.parametrize("norm", [None, "ortho"])
@pytest.mark.parametrize("n", [4, 6, 9, 12, 15, 16, 45, 96])
def test_trig_every_split_dense(kind, typ, norm, n):
    cls = DCT if kind == "dct" else DST
    ref = trig_ref(kind, n, typ, norm)
    for k in divisors(n):
        P = to_monarch(cls(n, typ, norm), nblocks=k)
        check_factors(P)
        assert P.form == "MP"
        M = P.factors[0]
        p = n // k
        # one real Monarch of middle dimension 2n: R k blocks 2p x p, L p blocks k x 2k
        assert M.geometry == (k, 2 * p, p, p, k, 2 * k)
        assert M.dtype == np.float64
        assert P.nparams == 2 * n * (k + p)
        assert_close(P.to_dense(), ref, "float64", n, DEPTH, what=f"{kind}{typ} n={n} k={k}")


@given(
    k=st.integers(2, 64),
    p=st.integers(2, 64),
    kind=st.sampled_from(["dct", "dst"]),
    typ=st.sampled_from([2, 3, 4]),
    norm=st.sampled_from([None, "ortho"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_trig_hypothesis_against_scipy(k, p, kind, typ, norm, seed):
    n = k * p
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2)) + 1j * rng.standard_normal((n, 2))
    cls = DCT if kind == "dct" else DST
    fn = scipy.fft.dct if kind == "dct" else scipy.fft.dst
    P = to_monarch(cls(n, typ, norm), nblocks=k)
    check_factors(P)
    assert_close(P @ X, fn(X, type=typ, norm=norm, axis=0), "complex128", n, DEPTH)


def test_trig_transposes():
    n = 12
    # unnormalised transposes are Transpose wrappers (reversed factors); orthonormal ones are
    # transforms of the transposed type themselves
    cases = (
        (DCT(n, 2).T, "PM*"),
        (DST(n, 3).T, "PM*"),
        (DST(n, 2).H, "PM*"),
        (DCT(n, 4, "ortho").T, "MP"),
        (DST(n, 2, "ortho").T, "MP"),
    )
    for A, form in cases:
        P = to_monarch(A)
        check_factors(P)
        assert P.form == form
        assert_close(P.to_dense(), np.asarray(A), "float64", n, DEPTH)


@pytest.mark.parametrize("cls", [DCT, DST])
def test_trig_type1_is_refused_naming_the_types(cls):
    with pytest.raises(ValueError, match="types 2, 3 and 4"):
        to_monarch(cls(12, 1))


# ----------------------------------------------------------------------------------------------
# Hadamard and butterfly
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 8, 16, 64, 256])
@pytest.mark.parametrize("norm", [None, "ortho"])
def test_hadamard_every_split(n, norm):
    ref = scipy.linalg.hadamard(n) / (math.sqrt(n) if norm else 1.0)
    for k in divisors(n):
        P = to_monarch(Hadamard(n, norm=norm), nblocks=k)
        check_factors(P)
        assert P.form == "M" and P.factors[0].nblocks == (k, n // k)
        assert P.nparams == n * (k + n // k)
        assert_close(P.to_dense(), ref, "float64", n, DEPTH)


@pytest.mark.parametrize("n", [1, 2])
def test_hadamard_without_split_is_refused(n):
    with pytest.raises(ValueError, match="2\\^a >= 4"):
        to_monarch(Hadamard(n))


@pytest.mark.parametrize("n", [4, 8, 32, 256])
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_butterfly_every_split(n, dtype):
    Bf = Butterfly.random(n, seed=n, dtype=dtype)
    ref = to_numpy(Bf.to_dense())
    X = np.random.default_rng(0).standard_normal((n, 3))
    for k in divisors(n):
        P = to_monarch(Bf, nblocks=k)
        check_factors(P)
        assert P.form == "M" and P.factors[0].nblocks == (k, n // k)
        assert_close(P.to_dense(), ref, dtype, n, DEPTH + int(math.log2(n)))
        assert_close(P @ X, Bf @ X, dtype, n, DEPTH + int(math.log2(n)))


def test_butterfly_too_small():
    with pytest.raises(ValueError, match="n = 2\\^a >= 4"):
        to_monarch(Butterfly.random(2, seed=0))


# ----------------------------------------------------------------------------------------------
# convolution
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 12, 15, 96])
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_circular_convolution(n, dtype):
    rng = np.random.default_rng(n)
    for length in (n, max(1, n // 3)):
        c = rng.standard_normal(length)
        if dtype == "complex128":
            c = c + 1j * rng.standard_normal(length)
        ref = scipy.linalg.circulant(np.concatenate([c, np.zeros(n - length)]))
        for k in divisors(n):
            P = to_monarch(Convolution(c, n=n), nblocks=k)
            check_factors(P)
            assert P.form == "MM*"
            assert P.nparams == 2 * n * (k + n // k)
            assert_close(P.to_dense(), ref, "complex128", n, 2 * DEPTH)


def full_ref(c, n):
    return np.stack([np.convolve(c, e) for e in np.eye(n)], axis=1)


@pytest.mark.parametrize(
    "n,length,form",
    [
        (12, 5, "MM*"),
        (16, 1, "MM*"),
        (16, 4, "MPM*"),
        (7, 5, "MPM*"),
        (10, 3, "MPM*"),
        (2, 2, "MPM*"),
    ],
)
def test_full_convolution(n, length, form):
    c = np.random.default_rng(length).standard_normal(length)
    P = to_monarch(Convolution(c, n=n, mode="full"))
    check_factors(P)
    assert P.form == form
    assert P.shape == (n + length - 1, n)
    assert_close(P.to_dense(), full_ref(c, n), "complex128", n + length, 2 * DEPTH)


@given(n=st.integers(2, 160), length=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_full_convolution_hypothesis(n, length, seed):
    rng = np.random.default_rng(seed)
    c = rng.standard_normal(length)
    x = rng.standard_normal(n)
    P = to_monarch(Convolution(c, n=n, mode="full"))
    check_factors(P)
    assert P.form in ("MM*", "MPM*")
    assert_close(P @ x, np.convolve(c, x), "complex128", n + length, 2 * DEPTH)


def test_circular_convolution_prime_n_points_to_full_mode():
    with pytest.raises(ValueError, match="composite.*mode='full'"):
        to_monarch(Convolution(np.ones(3), n=7))


def test_full_convolution_needs_two_inputs():
    with pytest.raises(ValueError, match="n >= 2"):
        to_monarch(Convolution(np.ones(3), n=1, mode="full"))


# ----------------------------------------------------------------------------------------------
# classes already in Monarch form, products, wrappers
# ----------------------------------------------------------------------------------------------


def test_monarch_permutation_diagonal_are_kept():
    M = Monarch.random(12, seed=0)
    Pm = Permutation([2, 0, 1])
    D = Diagonal(np.arange(1.0, 4.0))
    for A, form in ((M, "M"), (Pm, "P"), (D, "D")):
        P = to_monarch(A)
        assert P.form == form and P.factors[0] is A


def test_blockdiagonal_is_a_monarch():
    blocks = np.random.default_rng(0).standard_normal((3, 2, 4))
    A = BlockDiagonal(blocks)
    P = to_monarch(A)
    check_factors(P)
    assert P.form == "M" and P.shape == (6, 12)
    np.testing.assert_array_equal(P.to_dense(), A.to_dense())


def test_product_concatenates_forms():
    n = 12
    c = np.random.default_rng(1).standard_normal(n)
    A = DFT(n) @ Diagonal(np.arange(1.0, n + 1)) @ Convolution(c) @ DCT(n)
    P = to_monarch(A, nblocks=3)
    check_factors(P)
    assert P.form == "MPDMM*MP"
    assert_close(P.to_dense(), np.asarray(A), "complex128", n, 4 * DEPTH)
    assert to_monarch(P).form == P.form  # idempotent


def test_wrappers_of_monarch():
    M = Monarch.random(12, nblocks=(3, 4), seed=2, dtype="complex128")
    for A, form in ((M.H, "M*"), (M.T, "M*"), (M.conj(), "M")):
        P = to_monarch(A)
        check_factors(P)
        assert P.form == form
        np.testing.assert_allclose(P.to_dense(), np.asarray(A), atol=1e-14)
    Mr = Monarch.random(12, seed=3)
    P = to_monarch(Mr.T)
    assert P.form == "M*"
    np.testing.assert_allclose(P.to_dense(), np.asarray(Mr).T, atol=1e-14)


@pytest.mark.parametrize(
    "A",
    [
        DFT(96),
        DFT(45, norm="ortho", inverse=True),
        DCT(96, 3, "ortho"),
        DST(45, 2),
        Hadamard(64),
        Convolution(np.arange(1.0, 8.0), n=24),
        Convolution(np.arange(1.0, 8.0), n=24, mode="full"),
        Butterfly.random(64, seed=5),
    ],
    ids=lambda A: repr(A).split(" with")[0].strip("<"),
)
def test_product_multiply_equals_own_fast_multiply(A):
    rng = np.random.default_rng(7)
    n_out, n_in = A.shape
    X = rng.standard_normal((n_in, 3))
    Y = rng.standard_normal((2, n_out))
    P = to_monarch(A)
    check_factors(P)
    dt = "complex128" if P._is_complex() else "float64"
    assert_close(P @ X, A @ X, dt, n_in, 2 * DEPTH)
    assert_close(Y @ P, Y @ A, dt, n_out, 2 * DEPTH)


# ----------------------------------------------------------------------------------------------
# float32
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "A,ref",
    [
        (DFT(256, dtype="complex64"), lambda X: scipy.fft.fft(X, axis=0)),
        (
            DFT(1000, norm="ortho", inverse=True, dtype="complex64"),
            lambda X: scipy.fft.ifft(X, axis=0, norm="ortho"),
        ),
        (DCT(240, 2, dtype="float32"), lambda X: scipy.fft.dct(X, axis=0)),
        (
            DST(240, 3, "ortho", dtype="float32"),
            lambda X: scipy.fft.dst(X, type=3, norm="ortho", axis=0),
        ),
        (Hadamard(256, dtype="float32"), lambda X: scipy.linalg.hadamard(256) @ X),
    ],
    ids=["dft", "idft", "dct2", "dst3", "hadamard"],
)
def test_float32_factors(A, ref):
    n = A.shape[1]
    X = np.random.default_rng(3).standard_normal((n, 2)).astype(np.float32)
    P = to_monarch(A)
    check_factors(P)
    assert P.factors[0].dtype == A.dtype
    Y = P @ X
    assert Y.dtype in (np.float32, np.complex64)
    assert_close(Y, ref(X.astype(np.float64)), A.dtype, n, DEPTH)


# ----------------------------------------------------------------------------------------------
# namespaces
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda xp: DFT(12),
        lambda xp: DST(15, 3, "ortho"),
        lambda xp: Hadamard(16),
        lambda xp: Convolution(xp.asarray(np.arange(1.0, 13.0))),
        lambda xp: Convolution(xp.asarray(np.arange(1.0, 6.0)), n=7, mode="full"),
        lambda xp: Butterfly.random(16, seed=0, xp=xp),
        lambda xp: DCT(12).T,
    ],
    ids=["dft", "dst3", "hadamard", "circular", "full", "butterfly", "dct2T"],
)
def test_factors_in_requested_namespace(xp, make):
    from structmat import _backend as B

    A = make(xp)
    P = to_monarch(A, xp=xp)
    check_factors(P)
    for f in P.factors:
        base = f.base if isinstance(f, Adjoint) else f
        assert B.namespace_name(base.xp) == B.namespace_name(B.resolve_xp(xp))
    x_np = np.random.default_rng(0).standard_normal(A.shape[1])
    y = P @ xp.asarray(x_np)
    assert B.namespace_name(B.get_namespace(y)) == B.namespace_name(B.resolve_xp(xp))
    ref = to_numpy(A.to_dense()) @ x_np
    dt = "complex128" if np.iscomplexobj(to_numpy(y)) else "float64"
    assert_close(to_numpy(y), ref, dt, A.shape[1], 2 * DEPTH)


def test_xp_moves_parametrised_input_explicitly():
    import array_api_strict

    from structmat import _backend as B

    P = to_monarch(Convolution(np.arange(1.0, 13.0)), xp="array_api_strict")
    assert all(
        B.namespace_name((f.base if isinstance(f, Adjoint) else f).xp) == "array_api_strict"
        for f in P.factors
    )
    y = P @ array_api_strict.asarray(np.ones(12))
    np.testing.assert_allclose(to_numpy(y).real, np.full(12, 78.0), rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# errors and registration
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 7, 13, 4093])
def test_prime_dft_is_refused_naming_composite_sizes(n):
    with pytest.raises(ValueError, match="composite"):
        to_monarch(DFT(n))
    with pytest.raises(ValueError, match="composite"):
        to_monarch(DCT(n, 2))


def test_unsupported_inputs_name_what_works():
    with pytest.raises(TypeError, match="supported: DFT"):
        to_monarch(np.eye(4))

    class Opaque(StructuredMatrix):
        def __init__(self):
            self._shape = (2, 2)
            self._dtype = np.dtype("float64")

    with pytest.raises(TypeError, match="no rule for Opaque.*Hadamard"):
        to_monarch(Opaque())


@pytest.mark.parametrize(
    "nblocks,exc,match",
    [
        (5, ValueError, "valid k: \\[2, 3, 4, 6\\]"),
        ((3, 3), ValueError, "expected \\(3, 4\\)"),
        (2.0, TypeError, "integer"),
        ((1, 2, 3), ValueError, "pair"),
        (12, ValueError, "valid k"),
    ],
)
def test_bad_nblocks(nblocks, exc, match):
    with pytest.raises(exc, match=match):
        to_monarch(DFT(12), nblocks=nblocks)


@pytest.mark.parametrize("foldable", [True, False])
def test_output_permutation_folds_or_stays_a_factor(foldable):
    from structmat.monarch_form import RootSum
    from structmat.monarch_form.closed import _float_factors
    from structmat.monarch_form.fourstep import _specs_with_perms

    rng = np.random.default_rng(4)
    k, q, p, l, s, r = 3, 4, 2, 2, 6, 6  # l divides q: block-to-block maps fold
    L = rng.integers(-9, 10, (l, s, r)).astype(float)
    R = rng.integers(-9, 10, (k, q, p)).astype(float)
    n_out, n_in = l * s, k * p
    if foldable:  # swap the two L blocks and reverse the rows inside each
        out_map = np.array([(s - 1 - o // l) * l + (1 - o % l) for o in range(n_out)])
    else:
        out_map = rng.permutation(n_out)
    in_perm = rng.permutation(n_in)
    specs = _specs_with_perms(
        RootSum.const(L.astype(int)), RootSum.const(R.astype(int)), in_perm, out_map
    )
    factors = _float_factors(specs, np, "float64")
    assert [type(f) for f in factors] == (
        [Monarch, Permutation] if foldable else [Permutation, Monarch, Permutation]
    )
    dense = np.asarray(Monarch(L, R))
    expected = np.empty_like(dense)
    expected[out_map] = dense  # Monarch output o lands at y = out_map[o]
    expected = expected[:, np.argsort(in_perm)]  # Monarch input c reads x = in_perm[c]
    np.testing.assert_allclose(np.asarray(Product(*factors)), expected, atol=1e-14)


def test_register_a_new_rule():
    class Scaled(StructuredMatrix):
        """``s · I`` of size n (a toy class registering its own rule)."""

        def __init__(self, n, s):
            self._shape = (n, n)
            self._dtype = np.dtype("float64")
            self.s = s

        def _mul_cols(self, X):
            return self.s * X

    @to_monarch.register(Scaled)
    def _(X, nblocks, xp):
        return [Diagonal(np.full(X.shape[0], float(X.s)))]

    P = to_monarch(Scaled(3, 2.0))
    assert P.form == "D"
    np.testing.assert_array_equal(P.to_dense(), 2.0 * np.eye(3))
    # the exact form of a class with only a float rule: its factors read exactly
    from structmat.exact import to_exact, verify

    E = to_monarch(Scaled(3, 2.0), exact=True)
    assert E.form == "D" and verify(E, to_exact(Diagonal(np.full(3, 2.0)))).verdict
    with pytest.raises(TypeError, match="X must be a structmat StructuredMatrix"):
        to_monarch(np.eye(3), exact=True)

    class Bad(Scaled):
        pass

    @to_monarch.register(Bad)
    def _(X, nblocks, xp):
        return [Hadamard(4)]

    with pytest.raises(TypeError, match="returned a Hadamard"):
        to_monarch(Bad(4, 1.0))


# ----------------------------------------------------------------------------------------------
# RootSum: the exact closed-form arrays behind both the float and the exact factors
# ----------------------------------------------------------------------------------------------


def _random_rootsum(rng, N, shape, T=3):
    from structmat.monarch_form import RootSum

    return RootSum(
        N,
        rng.integers(-2 * N, 2 * N, (T,) + shape),
        rng.integers(-3, 4, (T,) + shape),
        scale=int(rng.integers(1, 5)),
        radicand=1,
    )


@given(N1=st.integers(1, 24), N2=st.integers(1, 24), seed=st.integers(0, 2**32 - 1))
def test_rootsum_arithmetic_matches_complex_values(N1, N2, seed):
    from fractions import Fraction

    from structmat.monarch_form import RootSum

    rng = np.random.default_rng(seed)
    a = _random_rootsum(rng, N1, (3, 4))
    b = _random_rootsum(rng, N2, (4,))
    b.scale = Fraction(1, int(rng.integers(1, 6)))
    va, vb = a.to_complex(), b.to_complex()
    tol = rtol("complex128", 64, 4) * max(
        1.0, float(np.abs(va).max()) * max(1.0, float(np.abs(vb).max()))
    )
    for got, want in [
        ((a * b).to_complex(), va * vb),
        ((a + b).to_complex(), va + vb),
        ((a - b).to_complex(), va - vb),
        (a.conj().to_complex(), va.conj()),
        (a.real().to_complex(), va.real),
        (a.imag().to_complex(), va.imag),
        (a.simplify().to_complex(), va),
        ((a * b).simplify().to_complex(), va * vb),
        (a[1:, ::2].to_complex(), va[1:, ::2]),
        (a.transpose(1, 0).to_complex(), va.T),
        (a.lift(N1 * 6).to_complex(), va),
    ]:
        assert np.abs(got - want).max() <= tol
    # simplify is a canonical form for a power-of-two conductor: x - x simplifies to zero
    z = (a - a).simplify()
    assert not z.coef.any()
    w = RootSum.root(np.arange(8), 8)
    assert not (w + w.lift(16).conj().conj() * RootSum.const(-1)).simplify().coef.any()


@pytest.mark.parametrize("q", ["1/2", "1/3", "2/27", "1/96", "5", "1/4", "12"])
def test_rootsum_square_roots(q):
    from fractions import Fraction

    from structmat.monarch_form import RootSum

    q = Fraction(q)
    for fold in (True, False):
        s = RootSum.sqrt_rational(q, fold_two=fold)
        v = s.to_complex()
        assert abs(v - float(q) ** 0.5) <= 1e-14 * max(1.0, float(q) ** 0.5)
        assert s.radicand.denominator == 1 and (not fold or s.radicand.numerator % 2)


def test_rootsum_scatter_accumulates_repeated_indices():
    from structmat.monarch_form import RootSum

    vals = RootSum.root(np.array([1, 2, 3]), 4)
    out = RootSum.scatter((2,), (np.array([0, 0, 1]),), vals)
    want = np.zeros(2, complex)
    np.add.at(want, [0, 0, 1], vals.to_complex())
    np.testing.assert_allclose(out.to_complex(), want, atol=1e-15)
    with pytest.raises(ValueError, match="N must be"):
        RootSum(0, [[1]], [[1]])
    with pytest.raises(ValueError, match="same shape"):
        RootSum(4, [[1, 2]], [[1]])
    with pytest.raises(ValueError, match="radicand"):
        RootSum(4, [[1]], [[1]], radicand=-2)
