"""Tests of structmat.exact: cyclotomic arithmetic, exact conversions against float references,
structured exact products against dense ones, and the vectorised monomial path."""

from __future__ import annotations

import math
from fractions import Fraction

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
)
from structmat.exact import (
    ExactBlockDiagonal,
    ExactDense,
    ExactDiagonal,
    ExactMonarch,
    ExactPermutation,
    ExactProduct,
    ExactRing,
    MonomialMatrix,
    MonomialMonarch,
    canonical_monomials,
    cyclotomic_sqrt,
    exact_equal,
    find_prime,
    modular_slab_ranks,
    monarch_symbol_names,
    monomial_equal,
    rank_at_most_one,
    required_conductor,
    root_of_unity_mod,
    slab_rank_one,
    stride_permutation,
    sums_vanish,
    symbolic_monarch,
    to_exact,
    to_monomial,
)
from tests.tolerance import assert_close, fft_depth

# ------------------------------------------------------------------------------------------------
# cyclotomic arithmetic
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("N", [1, 2, 3, 4, 5, 6, 8, 12, 15, 16, 24])
def test_cyclotomic_relations(N):
    K = ExactRing(N)
    z = K.zeta(1)
    assert K.equal(z**N, K.one)
    if N > 1:
        assert K.is_zero(sum((K.zeta(k) for k in range(N)), K.zero))  # sum of all N-th roots
    assert K.equal(K.conj(z) * z, K.one)
    for k in range(1, N):  # primitive: zeta^k != 1
        if N > 1:
            assert not K.equal(K.zeta(k), K.one)


def test_imaginary_unit_in_non_power_of_two_field():
    K = ExactRing(12)
    i = K.zeta(3)
    assert K.equal(i * i, K.from_int(-1))
    # zeta_12 + zeta_12^-1 = sqrt(3): its square is 3
    s = K.zeta(1) + K.zeta(-1)
    assert K.equal(s * s, K.from_int(3))


@given(
    st.lists(st.integers(-5, 5), min_size=1, max_size=30),
    st.lists(st.integers(-3, 3), min_size=1, max_size=8),
    st.sampled_from([5, 7, 9, 12, 16, 20]),
)
def test_canonical_form_is_unique(coeffs, mult, N):
    """p and p + Phi_N * r reduce to the same canonical element; the value is preserved."""
    K = ExactRing(N)
    z = K.ring.gens[0]
    p = sum((c * z**i for i, c in enumerate(coeffs)), K.ring.zero)
    r = sum((c * z**i for i, c in enumerate(mult)), K.ring.zero)
    a, b = K.reduce(p), K.reduce(p + K.phi * r)
    assert a == b
    zeta = np.exp(2j * np.pi / N)
    ref = sum(c * zeta**i for i, c in enumerate(coeffs))
    assert abs(K.evaluate(a) - ref) <= 1e-9 * max(1.0, abs(ref)) + 1e-9 * len(coeffs)


@pytest.mark.parametrize("m", [2, 3, 5, 6, 7, 8, 12, Fraction(1, 8), Fraction(3, 2)])
def test_cyclotomic_sqrt(m):
    from structmat.exact import sqrt_conductor

    K = ExactRing(sqrt_conductor(m))
    s = cyclotomic_sqrt(m, K)
    assert K.equal(s * s, K.from_int(Fraction(m)))
    assert abs(K.evaluate(s) - math.sqrt(float(m))) < 1e-12


def test_ring_symbols_and_conjugation():
    K = ExactRing(4, ["x"], complex_symbols=True)
    x = K.symbol("x")
    xc = K.symbol("x", conjugate=True)
    e = K.reduce(K.zeta(1) * x)
    assert K.equal(K.conj(e), K.reduce(K.zeta(3) * xc))
    assert abs(K.evaluate(e, {"x": 2 + 1j}) - 1j * (2 + 1j)) < 1e-12
    assert K.as_monomial(K.zeta(3)) == (Fraction(1), 3)
    assert K.as_monomial(K.from_int(-2)) == (Fraction(2), 2)


def test_ring_errors():
    with pytest.raises(ValueError, match="conductor"):
        ExactRing(0)
    with pytest.raises(ValueError, match="distinct"):
        ExactRing(1, ["a", "a"])
    with pytest.raises(ValueError, match="unknown symbol"):
        ExactRing(1, ["a"]).symbol("b")
    with pytest.raises(ValueError, match="multiple of 4"):
        ExactRing(6).from_complex_float(1j)
    with pytest.raises(ValueError, match="finite"):
        ExactRing(1).from_int(float("nan"))


# ------------------------------------------------------------------------------------------------
# exact conversions against float references (tolerance from tests/tolerance.py)
# ------------------------------------------------------------------------------------------------


def _close(exact, reference, n, depth=1):
    assert_close(
        exact.to_complex(),
        np.asarray(reference, dtype=complex),
        "float64",
        n,
        depth,
        what="exact vs float",
    )


@pytest.mark.parametrize("n", [1, 2, 5, 8, 12])
@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
@pytest.mark.parametrize("inverse", [False, True])
def test_to_exact_dft(n, norm, inverse):
    op = DFT(n, norm=norm, inverse=inverse)
    _close(to_exact(op), op.to_dense(), n)


@pytest.mark.parametrize("n", [1, 2, 8, 16])
@pytest.mark.parametrize("norm", [None, "ortho"])
def test_to_exact_hadamard(n, norm):
    _close(
        to_exact(Hadamard(n, norm=norm)),
        scipy.linalg.hadamard(n) / (math.sqrt(n) if norm else 1),
        n,
    )


@pytest.mark.parametrize("cls,name", [(DCT, "dct"), (DST, "dst")])
@pytest.mark.parametrize("type_", [1, 2, 3, 4])
@pytest.mark.parametrize("norm", [None, "ortho"])
def test_to_exact_trig_matches_scipy(cls, name, type_, norm):
    n = 6
    ref = getattr(scipy.fft, name)(np.eye(n), type=type_, norm=norm, axis=0)
    _close(to_exact(cls(n, type_, norm)), ref, n)


def test_to_exact_parametrised(rng):
    n = 12
    M = Monarch.random(n, seed=1)
    _close(to_exact(M), M.to_dense(), n, 2)
    Mc = Monarch.random(8, 8, nblocks=(2, 4), seed=2, dtype="complex128")
    _close(to_exact(Mc), Mc.to_dense(), 8, 2)
    D = Diagonal(rng.standard_normal(5) + 1j * rng.standard_normal(5))
    _close(to_exact(D), D.to_dense(), 5)
    Bd = BlockDiagonal(rng.standard_normal((3, 2, 2)))
    _close(to_exact(Bd), Bd.to_dense(), 6)
    Bf = Butterfly.random(8, seed=3)
    _close(to_exact(Bf), Bf.to_dense(), 8, 3)
    c = rng.standard_normal(4)
    _close(to_exact(Convolution(c)), scipy.linalg.circulant(c), 4)
    _close(
        to_exact(Convolution(c, n=3, mode="full")), Convolution(c, n=3, mode="full").to_dense(), 6
    )
    P = Permutation([2, 0, 3, 1])
    _close(to_exact(P), P.to_dense(), 4)
    prod = DFT(4) @ P
    _close(to_exact(prod), prod.to_dense(), 4)
    _close(to_exact(DFT(4).H), DFT(4).H.to_dense(), 4)
    _close(to_exact(M.T), M.to_dense().T, n, 2)


def test_to_exact_errors():
    with pytest.raises(TypeError, match="StructuredMatrix"):
        to_exact(np.eye(3))
    with pytest.raises(ValueError, match="multiple of 8"):
        to_exact(DFT(8), ring=ExactRing(4))
    with pytest.raises(ValueError, match="ortho"):
        to_monomial(DFT(4, norm="ortho"))
    assert required_conductor(DFT(4) @ DCT(4)) == 32


# ------------------------------------------------------------------------------------------------
# structured exact products against dense exact products
# ------------------------------------------------------------------------------------------------


def _dense_product(*mats):
    out = mats[0].to_dense()
    for m in mats[1:]:
        out = out.matmul(m.to_dense())
    K = mats[0].ring
    return ExactDense(out, K)


@pytest.mark.parametrize(
    "geometry", [(2, 2, 2, 2, 2, 2), (3, 2, 2, 2, 3, 3), (2, 6, 6, 3, 4, 4), (2, 3, 6, 3, 2, 2)]
)
def test_monarch_four_steps_equal_factor_product(geometry):
    K = ExactRing(1, monarch_symbol_names(geometry))
    M = symbolic_monarch(K, geometry)
    assert exact_equal(M, _dense_product(*M.factors()))[0]
    # the adjoint is structured and equals the dense conjugate transpose
    assert exact_equal(M.H, ExactDense(M.to_dense(), K).H)[0]
    # the entry view of the Monarch multiply
    D = M.to_dense().to_list()
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            assert K.equal(D[i][j], M.entry_formula(i, j))


def test_structured_product_equals_dense_product(rng):
    K = ExactRing(8)
    n = 8
    P = ExactPermutation(rng.permutation(n), K)
    Dg = ExactDiagonal([K.zeta(int(e)) for e in rng.integers(0, 8, n)], K)
    Bd = ExactBlockDiagonal(
        [[[K.zeta(int(rng.integers(8))) for _ in range(4)] for _ in range(4)] for _ in range(2)], K
    )
    prod = ExactProduct(P, Dg, Bd, P.H)
    assert exact_equal(prod, _dense_product(P, Dg, Bd, P.H))[0]
    other = ExactProduct(P, Bd, Dg, P.H)
    eq, diff = exact_equal(prod, other)
    assert not eq and diff is not None


def test_block_diagonal_compared_block_by_block():
    K = ExactRing(1)
    A = ExactBlockDiagonal([[[1, 2], [3, 4]], [[5, 6], [7, 8]]], K)
    B = ExactBlockDiagonal([[[1, 2], [3, 4]], [[5, 6], [7, 9]]], K)
    eq, diff = exact_equal(A, B)
    assert not eq and diff[:2] == (3, 3)


def test_rank_at_most_one():
    K = ExactRing(1, ["u0", "u1", "v0", "v1"])
    u = [K.symbol("u0"), K.symbol("u1")]
    v = [K.symbol("v0"), K.symbol("v1")]
    assert rank_at_most_one([[ui * vj for vj in v] for ui in u], K)[0]
    ok, wit = rank_at_most_one([[u[0], v[0]], [v[1], u[1]]], K)
    assert not ok and wit[-1]
    assert rank_at_most_one([[0, 0], [0, 0]], K)[0]


def test_matrix_validation():
    K = ExactRing(1)
    with pytest.raises(ValueError, match="middle dimensions"):
        ExactMonarch([[[1]]], [[[1, 0], [0, 1]]], K)
    with pytest.raises(ValueError, match="permutation"):
        ExactPermutation([0, 0, 1], K)
    with pytest.raises(ValueError, match="same shape"):
        ExactBlockDiagonal([[[1]], [[1, 2], [3, 4]]], K)
    with pytest.raises(ValueError, match="chain"):
        ExactProduct(ExactPermutation([0, 1], K), ExactPermutation([0, 1, 2], K))


# ------------------------------------------------------------------------------------------------
# the vectorised monomial path
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 6, 8])
def test_monomial_dft_equals_ring_dft(n):
    K = ExactRing(n)
    rows = MonomialMatrix.dft(n).to_ring(K)
    D = to_exact(DFT(n), K).to_dense().to_list()
    assert all(K.equal(a, b) for ra, rb in zip(rows, D) for a, b in zip(ra, rb))
    assert_close(
        MonomialMatrix.dft(n).to_complex(), scipy.linalg.dft(n), "float64", n, fft_depth(n)
    )
    assert_close(
        to_monomial(Hadamard(n if n != 6 else 8)).to_complex(),
        scipy.linalg.hadamard(n if n != 6 else 8),
        "float64",
        n,
    )


@pytest.mark.parametrize("n,b", [(16, 4), (12, 3), (12, 4), (8, 2)])
def test_monomial_monarch_matches_exact_monarch(n, b, rng):
    q = n // b
    Le = rng.integers(0, n, (b, q, q))
    Lc = rng.integers(0, 3, (b, q, q))
    Re = rng.integers(0, n, (q, b, b))
    Rc = rng.integers(0, 3, (q, b, b))
    MM = MonomialMonarch(Le, Lc, Re, Rc, N=n)
    K = ExactRing(n)
    blk = lambda E, C: [
        [
            [K.zeta(int(E[a, i, j]), int(C[a, i, j])) for j in range(E.shape[2])]
            for i in range(E.shape[1])
        ]
        for a in range(E.shape[0])
    ]
    EM = ExactMonarch(blk(Le, Lc), blk(Re, Rc), K)
    D = EM.to_dense().to_list()
    rows = MM.to_ring(K)
    assert all(K.equal(a, c) for ra, rc in zip(rows, D) for a, c in zip(ra, rc))
    # and against the float Monarch class
    f = lambda E, C: C * np.exp(2j * np.pi * E / n)
    assert_close(MM.to_complex(), Monarch(f(Le, Lc), f(Re, Rc)).to_dense(), "float64", n, 2)


def test_monomial_equal_detects_perturbation():
    F = MonomialMatrix.dft(16)
    ok, diff = monomial_equal(F, F.perturbed(5, 7))
    assert not ok and diff[:2] == (5, 7)
    assert monomial_equal(
        F.permute_columns(stride_permutation(4, 4)).permute_columns(stride_permutation(4, 4)), F
    )[0]
    half = MonomialMatrix.dft(4)
    half.scale = Fraction(1, 2)
    assert not monomial_equal(half, MonomialMatrix.dft(4))[0]


def test_slab_rank_one_agrees_with_ring_test(rng):
    n, b = 16, 4
    F = MonomialMatrix.dft(n)
    ok, w = slab_rank_one(F, b)
    assert not ok
    # the exhibited minor is nonzero in the ring
    K = ExactRing(n)
    D = F.to_ring(K)
    (r1, r2), (c1, c2) = w["rows"], w["cols"]
    minor = K.reduce(D[r1][c1] * D[r2][c2] - D[r1][c2] * D[r2][c1])
    assert minor
    assert slab_rank_one(F.permute_columns(stride_permutation(4, 4)), b)[0]


def test_modular_ranks_and_primes():
    p = find_prime(48)
    assert p % 48 == 1
    g = root_of_unity_mod(48, p)
    assert pow(g, 48, p) == 1 and pow(g, 24, p) != 1 and pow(g, 16, p) != 1
    ranks, _ = modular_slab_ranks(MonomialMatrix.dft(36), 6)
    assert ranks.min() == ranks.max() == 6
    ranks, _ = modular_slab_ranks(
        MonomialMatrix.dft(16).permute_columns(stride_permutation(4, 4)), 4
    )
    assert ranks.max() == 1


def test_sums_vanish_both_paths():
    # power of two: 1 + zeta_8^4 = 0; zeta_8 + zeta_8^3 != 0
    z = sums_vanish(np.array([0, 0, 1, 1]), np.array([0, 4, 1, 3]), np.array([1, 1, 1, 1]), 8, 2)
    assert z.tolist() == [True, False]
    # N = 5: 1 + zeta + ... + zeta^4 = 0 only modulo Phi_5; 1 + zeta != 0
    z = sums_vanish(
        np.array([0] * 5 + [1, 1]), np.array([0, 1, 2, 3, 4, 0, 1]), np.ones(7, int), 5, 2
    )
    assert z.tolist() == [True, False]


def test_canonical_monomials_errors():
    with pytest.raises(ValueError, match="even conductor"):
        canonical_monomials(np.array([1]), np.array([-1]), 5)
