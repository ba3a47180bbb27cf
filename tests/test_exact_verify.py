"""Exact Monarch forms (``to_monarch(X, exact=True)``) proved with ``structmat.exact.verify``.

Every class ``to_monarch`` accepts is proved at three or more sizes (non-powers of two where the
class allows them); each class also has negative controls: one perturbed exact entry of a factor,
and a different transform as target, both rejected with the first differing entry.  The exact
factors are evaluated numerically and compared with the float factors of ``to_monarch``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings, strategies as st

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
    to_monarch,
)
from structmat.base import Adjoint
from structmat.exact import (
    ExactAdjoint,
    ExactBlockDiagonal,
    ExactDiagonal,
    ExactMonarch,
    ExactPermutation,
    ExactProduct,
    ExactRing,
    RootSum,
    VerifyResult,
    monarch_width,
    to_exact,
    verify,
)

from .tolerance import rtol

# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def _perturb(form: ExactProduct) -> ExactProduct:
    """The same form with one exact entry of its first Monarch factor's R changed by +1."""
    factors = list(form.factors)
    for i, f in enumerate(factors):
        base = f.base if isinstance(f, ExactAdjoint) else f
        if not isinstance(base, ExactMonarch):
            continue
        ring = form.ring
        if base.has_terms:
            Rt = base.R_terms
            one = RootSum(
                Rt.N,
                np.zeros((1,) + Rt.shape, dtype=np.int64),
                np.zeros((1,) + Rt.shape, dtype=np.int64),
                Rt.scale,
                Rt.radicand,
            )
            one.coef[0, 0, 0, 0] = 1
            new = ExactMonarch(base.L_terms, Rt + one, ring)
        else:
            blocks = [B.to_list() for B in base.Rbd.blocks]
            blocks[0][0][0] = ring.reduce(blocks[0][0][0] + ring.one)
            new = ExactMonarch(base.Lbd, ExactBlockDiagonal(blocks, ring), ring)
        factors[i] = ExactAdjoint(new) if isinstance(f, ExactAdjoint) else new
        return ExactProduct(*factors)
    # no Monarch: perturb a diagonal entry or swap a permutation
    f = factors[0]
    if isinstance(f, ExactDiagonal):
        d = list(f.d)
        d[0] = form.ring.reduce(d[0] + form.ring.one)
        factors[0] = ExactDiagonal(d, form.ring)
    else:
        perm = f.perm.copy()
        perm[[0, 1]] = perm[[1, 0]]
        factors[0] = ExactPermutation(perm, form.ring)
    return ExactProduct(*factors)


def _proved(X, nblocks=None, mode=True):
    E = to_monarch(X, nblocks, exact=mode)
    assert isinstance(E, ExactProduct)
    F = to_monarch(X, nblocks)
    assert E.form == F.form
    r = verify(E, X)
    assert isinstance(r, VerifyResult)
    assert r.verdict is True and bool(r) and r.first_difference is None, str(r)
    return E, r


def _rejected(form, X):
    r = verify(form, X)
    assert r.verdict is False and not r, str(r)
    assert r.first_difference is not None
    row, col, a, b = r.first_difference
    assert (
        isinstance(row, int) and isinstance(col, int) and isinstance(a, str) and isinstance(b, str)
    )
    assert a != b
    return r


def _blocks_value(bd, ring) -> np.ndarray:
    """Numerical value of exact blocks, evaluated element by element from the ring elements."""
    return np.array([[[ring.evaluate(x) for x in row] for row in B.to_list()] for B in bd.blocks])


def _numeric(f) -> np.ndarray:
    """Numerical value of one exact factor (dense), from its ring elements."""
    if isinstance(f, ExactMonarch):
        L, R = _blocks_value(f.Lbd, f.ring), _blocks_value(f.Rbd, f.ring)
        return np.asarray(Monarch(L, R).to_dense())
    return f.to_complex()


def _factors_agree(E, F, n):
    """Exact and float factors agree entry by entry (blocks, permutations, diagonals)."""
    assert len(E.factors) == len(F.factors)
    for e, f in zip(E.factors, F.factors):
        fe = e.base if isinstance(e, ExactAdjoint) else e
        ff = f.base if isinstance(f, Adjoint) else f
        assert type(fe).__name__.replace("Exact", "") == type(ff).__name__
        tol = rtol(ff.dtype, n, 2)
        if isinstance(fe, ExactMonarch):
            for exact_bd, flt in ((fe.Lbd, ff.L), (fe.Rbd, ff.R)):
                a, b = _blocks_value(exact_bd, fe.ring), np.asarray(flt)
                assert a.shape == b.shape
                assert np.abs(a - b).max() <= tol * max(1.0, float(np.abs(b).max()))
        elif isinstance(fe, ExactPermutation):
            np.testing.assert_array_equal(fe.perm, np.asarray(ff.perm))
        else:
            a, b = _numeric(fe), np.asarray(ff.to_dense())
            assert np.abs(a - b).max() <= tol * max(1.0, float(np.abs(b).max()))


# ----------------------------------------------------------------------------------------------
# DFT: monomial method, every norm, inverse, non-powers of two
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [6, 12, 96, 1024])
@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
@pytest.mark.parametrize("inverse", [False, True])
def test_dft_proved(n, norm, inverse):
    X = DFT(n, norm=norm, inverse=inverse)
    E, r = _proved(X)
    assert r.method.startswith("monomial")
    assert E.form == "MP"


@pytest.mark.parametrize("n,k", [(12, 2), (12, 6), (45, 9), (100, 4)])
def test_dft_every_split_proved(n, k):
    _proved(DFT(n), nblocks=k)


@pytest.mark.parametrize("n", [12, 96])
def test_dft_negative_controls(n):
    E = to_monarch(DFT(n), exact=True)
    _rejected(_perturb(E), DFT(n))
    _rejected(E, DFT(n, inverse=True, norm="forward"))  # the conjugate matrix
    _rejected(E, DFT(n, norm="ortho"))  # same entries, other scale


def test_dft_conjugated_root_in_L_is_caught():
    E = to_monarch(DFT(24), exact=True)
    M, Q = E.factors
    bad = ExactProduct(ExactMonarch(M.L_terms.conj(), M.R_terms, E.ring), Q)
    r = _rejected(bad, DFT(24))
    assert r.method.startswith("monomial")


def test_dft_large_sizes_are_fast():
    for n in (768, 4096):
        E, r = _proved(DFT(n))
        assert r.seconds < 30


# ----------------------------------------------------------------------------------------------
# Hadamard
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 64, 1024])
@pytest.mark.parametrize("norm", [None, "ortho"])
def test_hadamard_proved(n, norm):
    E, r = _proved(Hadamard(n, norm=norm))
    assert E.form == "M" and r.method.startswith("monomial")


@pytest.mark.parametrize("n", [8, 64])
def test_hadamard_negative_controls(n):
    E = to_monarch(Hadamard(n), exact=True)
    _rejected(_perturb(E), Hadamard(n))
    _rejected(E, Hadamard(n, norm="ortho"))
    # one block entry negated
    M = E.factors[0]
    Lt = M.L_terms
    e = Lt.exp.copy()
    e[0, 1, 1, 1] += 1
    bad = ExactMonarch(RootSum(Lt.N, e, Lt.coef, Lt.scale, Lt.radicand), M.R_terms, E.ring)
    _rejected(ExactProduct(bad), Hadamard(n))


# ----------------------------------------------------------------------------------------------
# DCT / DST types 2-4
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [DCT, DST])
@pytest.mark.parametrize("typ", [2, 3, 4])
@pytest.mark.parametrize("norm", [None, "ortho"])
@pytest.mark.parametrize("n", [4, 6, 12])
def test_trig_proved(cls, typ, norm, n):
    E, r = _proved(cls(n, type=typ, norm=norm))
    assert E.form == to_monarch(cls(n, type=typ, norm=norm)).form


@pytest.mark.parametrize("cls", [DCT, DST])
@pytest.mark.parametrize("typ", [2, 3, 4])
def test_trig_negative_controls(cls, typ):
    X = cls(8, type=typ, norm="ortho")
    E = to_monarch(X, exact=True)
    _rejected(_perturb(E), X)
    other = DST if cls is DCT else DCT
    _rejected(E, other(8, type=typ, norm="ortho"))
    _rejected(E, cls(8, type=typ))  # same kernel, other normalisation


# ----------------------------------------------------------------------------------------------
# convolutions: exact kernels (integers, dyadic rationals) and symbolic kernels
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [6, 8, 24])
def test_circular_convolution_proved(n, rng):
    kernel = rng.integers(-4, 5, n) / 4.0  # dyadic rationals, read exactly
    E, r = _proved(Convolution(kernel))
    assert E.form == "MM*"


@pytest.mark.parametrize("n,length", [(5, 3), (6, 4), (8, 3)])
def test_full_convolution_proved(n, length, rng):
    _proved(Convolution(rng.integers(-3, 4, length).astype(float), n=n, mode="full"))


@pytest.mark.parametrize(
    "n,mode,length", [(8, "circular", 8), (12, "circular", 12), (6, "full", 3)]
)
def test_symbolic_convolution_proved(n, mode, length):
    X = Convolution(np.zeros(length), n=n, mode=mode)
    E, r = _proved(X, mode="symbolic")
    assert set(E.ring.symbol_names) == {f"c{s}" for s in range(length)}


def test_complex_convolution_proved(rng):
    _proved(Convolution(rng.integers(-2, 3, 6) + 1j * rng.integers(-2, 3, 6)))


def test_convolution_negative_controls(rng):
    c = rng.integers(1, 5, 12).astype(float)
    X = Convolution(c)
    E = to_monarch(X, exact=True)
    _rejected(_perturb(E), X)
    _rejected(E, Convolution(np.roll(c, 1)))
    S = to_monarch(Convolution(np.zeros(8)), exact="symbolic")
    _rejected(_perturb(S), Convolution(np.zeros(8)))


# ----------------------------------------------------------------------------------------------
# butterflies, parametrised classes, products and wrappers
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 8, 16])
@pytest.mark.parametrize("complex_", [False, True])
def test_butterfly_proved(n, complex_, rng):
    s = n.bit_length() - 1
    tw = rng.standard_normal((s, 2, 2, n // 2))
    if complex_:
        tw = tw + 1j * rng.standard_normal(tw.shape)
    _proved(Butterfly(tw))


@pytest.mark.parametrize("n", [4, 8])
def test_symbolic_butterfly_proved_and_control(n, rng):
    X = Butterfly(rng.standard_normal((n.bit_length() - 1, 2, 2, n // 2)))
    E, _ = _proved(X, mode="symbolic")
    _rejected(_perturb(E), X)
    _rejected(_perturb(to_monarch(X, exact=True)), X)


def test_parametrised_classes_proved_and_controls(rng):
    cases = [
        Monarch(rng.standard_normal((3, 2, 4)), rng.standard_normal((4, 3, 2))),
        Monarch(rng.standard_normal((2, 3, 3)) + 1j, rng.standard_normal((3, 2, 2))),
        BlockDiagonal(rng.standard_normal((3, 2, 2))),
        Diagonal(rng.standard_normal(5)),
        Permutation(np.array([2, 0, 3, 1])),
    ]
    for X in cases:
        E, _ = _proved(X)
        _rejected(_perturb(E), X)


def test_products_and_wrappers_proved(rng):
    cases = [
        DFT(4) @ Hadamard(4),
        Hadamard(8) @ DFT(8) @ Permutation(np.arange(8)[::-1].copy()),
        DFT(12).H,
        DFT(12).T,
        DFT(12).conj(),
        DCT(6, type=2, norm="ortho").T,
        DST(6, type=4).H,
        Convolution(rng.integers(-3, 4, 6).astype(float)).T,
        Convolution(rng.integers(-3, 4, 6) + 1j).H,
        Convolution(np.arange(3.0), n=5, mode="full").conj(),
        Monarch(rng.standard_normal((2, 2, 2)) + 1j, rng.standard_normal((2, 2, 2))).T,
    ]
    for X in cases:
        E, _ = _proved(X)
        _rejected(_perturb(E), X)


# ----------------------------------------------------------------------------------------------
# exact and float factors agree
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "X",
    [
        DFT(12),
        DFT(15, norm="ortho", inverse=True),
        Hadamard(16, norm="ortho"),
        DCT(12, type=2, norm="ortho"),
        DST(12, type=3),
        DCT(9, type=4, norm="ortho"),
        DFT(12).H,
        DST(6, type=2).T,
    ],
    ids=repr,
)
def test_exact_and_float_factors_agree(X):
    _factors_agree(to_monarch(X, exact=True), to_monarch(X), X.shape[0])


def test_exact_and_float_factors_agree_parametrised(rng):
    for X in [
        Convolution(rng.integers(-3, 4, 12) / 8.0),
        Convolution(np.arange(4.0), n=6, mode="full"),
        Butterfly(rng.standard_normal((3, 2, 2, 4))),
    ]:
        _factors_agree(to_monarch(X, exact=True), to_monarch(X), X.shape[0])


@pytest.mark.parametrize("dtype", ["complex64", "float32"])
def test_float32_factors_agree_at_their_precision(dtype):
    X = DFT(24, dtype=dtype) if dtype == "complex64" else DCT(24, type=2, dtype=dtype)
    _factors_agree(to_monarch(X, exact=True), to_monarch(X), 24)


@pytest.mark.parametrize("cls", [DCT, DST])
@pytest.mark.parametrize("k", [2, 3, 4, 6])
def test_trig_every_split_proved(cls, k):
    X = cls(12, type=2 + k % 3, norm="ortho")
    E, _ = _proved(X, nblocks=k)
    assert E.factors[-2 if E.form.endswith("P") else -1].geometry[0] == k


# ----------------------------------------------------------------------------------------------
# API: errors, result object, rings, widths, to_exact on products
# ----------------------------------------------------------------------------------------------


def test_float_factors_are_refused_with_a_pointer_to_exact():
    with pytest.raises(TypeError, match=r"binary fractions are not roots of unity.*exact=True"):
        verify(to_monarch(DFT(8)), DFT(8))
    with pytest.raises(TypeError, match="form must be an exact matrix"):
        verify(np.eye(8), DFT(8))
    with pytest.raises(TypeError, match="X must be"):
        verify(to_monarch(DFT(8), exact=True), np.eye(8))
    with pytest.raises(ValueError, match="exact must be"):
        to_monarch(DFT(8), exact="yes")


def test_result_object():
    r = verify(to_monarch(DFT(12), exact=True), DFT(12))
    assert dataclasses.is_dataclass(r)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.verdict = False
    assert r.field == "Q(zeta_12)" and r.seconds >= 0 and r.form == "MP"
    assert str(r).startswith("verified: MP == DFT(12) exactly over Q(zeta_12)")
    assert repr(r).startswith("<VerifyResult verified")
    bad = verify(to_monarch(DFT(12), exact=True), DFT(12, inverse=True, norm="forward"))
    assert str(bad).startswith("REJECTED") and "first difference at (1, 1)" in str(bad)


def test_shape_mismatch_is_a_false_verdict():
    r = verify(to_monarch(DFT(12), exact=True), DFT(6))
    assert not r and r.first_difference is None


def test_rings_are_brought_together():
    # the form lives in Q(zeta_12); the target's square roots need more; and an exact target in
    # another ring
    E = to_monarch(DFT(12), exact=True)
    assert verify(E, to_exact(DFT(12), ExactRing(24))).verdict
    H = to_monarch(Hadamard(8, norm="ortho"), exact=True)
    assert verify(H, to_exact(Hadamard(8, norm="ortho"))).verdict
    assert not verify(H, to_exact(Hadamard(8))).verdict


def test_to_exact_on_every_product():
    D = to_exact(DFT(4) @ Hadamard(4)).to_dense()
    expected = scipy.linalg.dft(4) @ scipy.linalg.hadamard(4)
    K = to_exact(DFT(4) @ Hadamard(4)).ring
    got = np.array([[K.evaluate(x) for x in row] for row in D.to_list()])
    np.testing.assert_allclose(got, expected, atol=1e-12)
    P = to_exact(Hadamard(4) @ DFT(4) @ Hadamard(4) @ DCT(4, type=2))
    assert P.to_dense().shape == (4, 4)


def test_monarch_width():
    assert monarch_width(to_monarch(DFT(16), exact=True)) == (1, 1)
    assert monarch_width(to_monarch(Convolution(np.arange(8.0)), exact=True)) == (2, 1)
    assert monarch_width("MPM*") == (2, 1)
    assert monarch_width("M*M") == (2, 2)
    assert monarch_width("MM*MM*") == (2 * 2, 2)
    assert monarch_width("P") == (0, 0)
    with pytest.raises(ValueError, match="form strings"):
        monarch_width("MX")
    with pytest.raises(TypeError, match="form"):
        monarch_width(3)


def test_factors_read_from_floats_are_rejected_with_a_hint():
    # the old user route: to_exact of float factors reads binary fractions; verify proves the
    # inequality quickly (one column first) and says why
    r = verify(to_exact(to_monarch(DFT(64))), DFT(64))
    assert not r and r.first_difference is not None and "binary fractions" in r.note
    assert "binary fractions" in str(r)
    r = verify(to_exact(to_monarch(Hadamard(8, norm="ortho"))), Hadamard(8, norm="ortho"))
    assert not r and "exact=True" in r.note
    # Hadamard's float factors are exactly +-1: read exactly, they are right
    assert verify(to_exact(to_monarch(Hadamard(16))), Hadamard(16)).verdict


def test_exact_equal_lifts_to_a_common_ring():
    from structmat.exact import common_ring, exact_equal

    A = to_exact(DFT(4))  # Q(zeta_4)
    B = to_exact(DFT(4), ExactRing(12))
    assert exact_equal(A, B)[0]
    assert common_ring(A.ring, ExactRing(6, ["a"])).N == 12
    assert not exact_equal(A, to_exact(DFT(4, inverse=True, norm="forward"), ExactRing(8)))[0]


@given(
    k=st.integers(2, 24),
    p=st.integers(2, 24),
    norm=st.sampled_from([None, "ortho", "forward"]),
    inverse=st.booleans(),
    which=st.sampled_from(["L", "R"]),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=25, deadline=None)
def test_dft_any_split_proved_and_any_single_entry_change_rejected(
    k, p, norm, inverse, which, seed
):
    n = k * p
    X = DFT(n, norm=norm, inverse=inverse)
    E = to_monarch(X, nblocks=k, exact=True)
    assert verify(E, X).verdict
    M, Q = E.factors
    rng = np.random.default_rng(seed)
    Lt, Rt = M.L_terms, M.R_terms
    t = Lt if which == "L" else Rt
    e = t.exp.copy()
    idx = tuple(int(rng.integers(0, s)) for s in t.shape)
    e[(0,) + idx] += int(rng.integers(1, t.N))  # another root of unity at one entry
    t2 = RootSum(t.N, e, t.coef, t.scale, t.radicand)
    bad = ExactMonarch(t2, Rt, E.ring) if which == "L" else ExactMonarch(Lt, t2, E.ring)
    r = verify(ExactProduct(bad, Q), X)
    assert not r.verdict and r.first_difference is not None


@given(
    k=st.integers(2, 6),
    p=st.integers(2, 6),
    cls=st.sampled_from([DCT, DST]),
    typ=st.sampled_from([2, 3, 4]),
    norm=st.sampled_from([None, "ortho"]),
)
@settings(max_examples=15, deadline=None)
def test_trig_any_split_proved(k, p, cls, typ, norm):
    X = cls(k * p, type=typ, norm=norm)
    r = verify(to_monarch(X, nblocks=k, exact=True), X)
    assert r.verdict and r.method.startswith("terms"), str(r)


def test_symbolic_parameters_inside_wrappers_and_products(rng):
    B = Butterfly(rng.standard_normal((3, 2, 2, 4)))
    C = Convolution(np.zeros(3), n=5, mode="full")
    for X in [B.H, B.T, B.conj(), C.T, C.H, DFT(8) @ B, (DFT(8) @ B).H]:
        E = to_monarch(X, exact="symbolic")
        assert E.ring.symbol_names
        r = verify(E, X)
        assert r.verdict, str(r)
        _rejected(_perturb(E), X)
    assert "== Butterfly(8).T @ DFT(8, inverse=True" in str(
        verify(to_monarch((DFT(8) @ B).H, exact=True), (DFT(8) @ B).H)
    )


def test_definition_target_lifts_and_transposes():
    # the definition's target built over one ring equals itself built over a larger one, and
    # its adjoint is the conjugate transpose (the inverse DFT up to n)
    from structmat import DFT
    from structmat.exact import ExactRing
    from structmat.exact.method_dense import _DefinitionColumns

    D = _DefinitionColumns(DFT(6), ExactRing(6))
    L = D.lifted(ExactRing(12))
    assert L.ring.N == 12 and D.lifted(D.ring) is D
    lifted_back = [[str(x) for x in row] for row in L.columns(0, 6).to_list()]
    direct = [
        [str(x) for x in row]
        for row in _DefinitionColumns(DFT(6), ExactRing(12)).columns(0, 6).to_list()
    ]
    assert lifted_back == direct
    prod = D.H.to_dense().matmul(D.columns(0, 6)).to_list()
    six = D.ring.from_int(6)
    red = D.ring.reduce
    assert all(
        red(prod[i][j]) == (six if i == j else D.ring.zero) for i in range(6) for j in range(6)
    )
