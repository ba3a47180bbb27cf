"""Operator algebra: scalar multiples, lazy sums, astype and the structure rules.

Every law is checked over the whole zoo (and the algebra entries of ``tests/zoo_algebra.py``)
against the float64/complex128 NumPy references of the entries.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import structmat as sm
from structmat import DFT, Diagonal, Hadamard, Monarch, Permutation, Product
from structmat.ops.sum import Scaled, Sum, check_scalar

from . import zoo_algebra
from .conftest import to_numpy
from .tolerance import assert_close, eps
from .zoo import SPECS

ALL = {s.id: s for s in SPECS + zoo_algebra.specs()}
SPEC_LIST = list(ALL.values())
over_zoo = pytest.mark.parametrize("spec", SPEC_LIST, ids=[s.id for s in SPEC_LIST])

SCALARS = (2.5, -1, 0.5j)


def dense(A):
    return np.asarray(to_numpy(A.to_dense()))


def tol_dtype(e, D):
    """The lower of the result's precision and the parameters' (absorbed scalars round there)."""
    if e.param_dtype is not None and np.finfo(e.param_dtype).eps > np.finfo(D.dtype).eps:
        return e.param_dtype
    return D.dtype


def kind_of(A) -> str:
    return np.dtype(sm.base.dtype_name(A.dtype)).kind


def test_algebra_zoo_entries_exist():
    families = {s.family for s in zoo_algebra.specs()}
    assert {"Sum", "Scaled", "Monarch", "Diagonal", "Permutation"} <= families


@over_zoo
@pytest.mark.parametrize("alpha", SCALARS, ids=["real", "int", "imag"])
def test_scalar_multiple_law(spec, xp, alpha):
    """(a A) x = a (A x) for a * A, A * a, A / (1/a) and -A, in the matrix's dtype."""
    e = spec.build(xp)
    A = e.A
    for name, got, want in [
        ("a*A", alpha * A, alpha * e.ref),
        ("A*a", A * alpha, alpha * e.ref),
        ("A/a", A / alpha, e.ref / alpha),
        ("-A", -A, -e.ref),
    ]:
        assert got.shape == A.shape
        if isinstance(A, (Monarch, Diagonal)):
            assert type(got) is type(A), f"{name} keeps the class of {A!r}"
        D = dense(got)
        want_kind = (
            "c" if kind_of(A) == "c" or (isinstance(alpha, complex) and name != "-A") else "f"
        )
        assert kind_of(got) == want_kind, f"{name}: dtype {got.dtype}"
        assert_close(D, want, tol_dtype(e, D), e.n, e.depth + 1, what=f"{e.id} {name}")


@over_zoo
def test_sum_law(spec, xp):
    """(A + 2 conj(A) - A^T^T) x = A x + 2 conj(A) x - A x; T, H and conj of the sum."""
    e = spec.build(xp)
    A = e.A
    S = A + 2 * A.conj() - A.T.T
    # sums flatten, and a multiple of a sum is the sum of the multiples
    assert isinstance(S, Sum) and len(S.terms) == 3 * (len(A.terms) if isinstance(A, Sum) else 1)
    ref = e.ref + 2 * np.conj(e.ref) - e.ref
    # transpose, adjoint and conjugate of a sum are sums of the terms' ones
    assert all(isinstance(W, Sum) and len(W.terms) == len(S.terms) for W in (S.T, S.H, S.conj()))
    for name, got, want in [
        ("S", S, ref),
        ("S.T", S.T, ref.T),
        ("S.H", S.H, np.conj(ref).T),
        ("S.conj()", S.conj(), np.conj(ref)),
    ]:
        D = dense(got)
        assert_close(D, want, tol_dtype(e, D), e.n, e.depth + 2, what=f"{e.id} {name}")
    # applied to columns and rows, not only densified
    rng = np.random.default_rng(7)
    x = rng.standard_normal((A.shape[1], 2))
    y = to_numpy(S @ xp.asarray(x))
    assert_close(y, ref @ x, tol_dtype(e, y), e.n, e.depth + 2, what=f"{e.id} S @ x")
    r = rng.standard_normal((2, A.shape[0]))
    z = to_numpy(xp.asarray(r) @ S if xp is np else S.rmatmul(xp.asarray(r)))
    assert_close(z, r @ ref, tol_dtype(e, z), e.n, e.depth + 2, what=f"{e.id} x @ S")
    assert S.nparams == sum(t.nparams for t in S.terms)
    assert S.flops(3) == sum(t.flops(3) for t in S.terms) + (len(S.terms) - 1) * A.shape[0] * 3


@over_zoo
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
def test_astype_law(spec, dtype):
    """A.astype(t) has dtype t and the entries of A rounded to t; complex -> real refuses."""
    e = spec.build(np)
    A = e.A
    if kind_of(A) == "c" and dtype.startswith("float"):
        with pytest.raises(TypeError, match="imaginary"):
            A.astype(dtype)
        return
    C = A.astype(dtype)
    assert sm.base.dtype_name(C.dtype) == dtype and C.shape == A.shape
    assert type(C) is type(A)
    D = np.asarray(C.to_dense())
    assert D.dtype == np.dtype(dtype) or e.complex_out
    # parameters rounded to dtype: the error is of the order of eps(dtype), not eps(A.dtype)
    assert_close(D, e.ref, dtype, e.n, e.depth + 1, what=f"{e.id} astype({dtype})")
    if kind_of(A) == np.dtype(dtype).kind:
        assert C.astype(sm.base.dtype_name(A.dtype)).dtype == A.dtype


def test_astype_copies_and_rejects():
    d = np.array([1.0, 2.0])
    D = Diagonal(d)
    E = D.astype("float64")
    assert E is not D and not np.shares_memory(E.d, D.d)
    with pytest.raises(TypeError, match="dtype must be"):
        D.astype("int64")
    with pytest.raises(TypeError, match="imaginary"):
        DFT(4).astype(np.float32)


@pytest.mark.parametrize("cls", ["Diagonal", "Permutation"])
def test_structure_rules_over_zoo(cls, xp):
    """A product of two zoo matrices of one of these classes is of that class, and exact."""
    entries = [s.build(xp) for s in SPEC_LIST if isinstance(s.build(np).A, getattr(sm, cls))]
    assert len(entries) >= 3
    for a in entries:
        for b in entries:
            if a.A.shape != b.A.shape:
                continue
            P = a.A @ b.A
            assert type(P) is getattr(sm, cls), (a.id, b.id)
            D = dense(P)
            assert_close(D, a.ref @ b.ref, D.dtype, a.n, 2, what=f"{a.id} @ {b.id}")
            if cls == "Permutation":
                np.testing.assert_array_equal(D, a.ref @ b.ref)


def test_structure_rules_keep_products_otherwise():
    D = Diagonal(np.arange(1.0, 5.0))
    assert isinstance(D @ Hadamard(4), Product)
    assert isinstance(Permutation([1, 0]) @ Diagonal(np.ones(2)), Product)
    # explicit Product construction is never simplified
    assert isinstance(Product(D, D), Product)


@given(perms=st.lists(st.permutations(list(range(6))), min_size=2, max_size=4))
def test_permutation_products_compose(perms):
    """P_1 @ ... @ P_k is one Permutation with the dense product's matrix (any k)."""
    Ps = [Permutation(np.array(p)) for p in perms]
    P = Ps[0]
    ref = np.eye(6)[np.array(perms[0])]
    for Q, p in zip(Ps[1:], perms[1:]):
        P = P @ Q
        ref = ref @ np.eye(6)[np.array(p)]
    assert isinstance(P, Permutation)
    np.testing.assert_array_equal(np.asarray(P), ref)


@given(
    a=st.complex_numbers(max_magnitude=1e3, allow_nan=False, allow_infinity=False),
    b=st.floats(-1e3, 1e3).filter(lambda v: abs(v) > 1e-3),
)
def test_scalar_multiples_compose(a, b):
    """a (b A) = (a b) A, for absorbed (Monarch) and lazy (Scaled) multiples alike."""
    M = Monarch.random(12, seed=3)
    H = Hadamard(4)
    for A, ref in ((M, np.asarray(M)), (H, np.asarray(H))):
        got = np.asarray(a * (b * A))
        want = (a * b) * ref
        scale = abs(a * b) * np.abs(ref).max()
        assert np.abs(got - want).max() <= 16 * eps("float64") * max(scale, 1e-300)
    assert isinstance(a * (b * H), Scaled) and not isinstance((a * (b * H)).base, Scaled)


def test_scaled_and_sum_attributes():
    H = Hadamard(4)
    S = 2 * H
    assert isinstance(S, Scaled) and S.alpha == 2 and S.nparams == 1
    assert S.flops(2) == H.flops(2) + 4 * 2
    assert isinstance(S.T, Scaled) and isinstance((1j * H).H, Scaled)
    assert (1j * H).H.alpha == -1j
    M = Monarch.random(16, seed=0)
    T = Sum(M, Sum(Hadamard(16), M))
    assert len(T.terms) == 3 and T.nparams == 2 * M.nparams
    assert +M is M


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        (np.ones(4), TypeError, "only scalar multiples"),
        ("2", TypeError, "alpha must be a real or complex number"),
        (float("inf"), ValueError, "finite"),
        (True, TypeError, "alpha must be a real or complex number"),
    ],
)
def test_scalar_multiple_rejects(bad, exc, match):
    with pytest.raises(exc, match=match):
        Hadamard(4) * bad
    with pytest.raises(exc, match=match):
        bad * Hadamard(4)


def test_algebra_errors_name_the_problem():
    M = Monarch.random(16, seed=0)
    with pytest.raises(ValueError, match="one shape"):
        M + Hadamard(8)
    with pytest.raises(TypeError, match="scalar or dense array"):
        M + 1.0
    with pytest.raises(TypeError, match="scalar or dense array"):
        np.ones((16, 16)) - M
    with pytest.raises(TypeError, match="matrix product"):
        M * M
    with pytest.raises(ValueError, match="nonzero"):
        M / 0
    with pytest.raises(TypeError, match="StructuredMatrix"):
        Sum(M, np.eye(16))
    with pytest.raises(ValueError, match="at least one"):
        Sum()
    with pytest.raises(TypeError, match="alpha must be"):
        Scaled("x", M)
    with pytest.raises(TypeError, match="base must be"):
        Scaled(2.0, np.eye(2))
    import array_api_strict as xs

    with pytest.raises(TypeError, match="mix array namespaces"):
        M + M.to_backend(xs)


def test_check_scalar_types():
    assert type(check_scalar(np.int32(3))) is int
    assert type(check_scalar(np.array(2.0))) is float
    assert type(check_scalar(np.complex64(1 + 0j))) is complex
    with pytest.raises(TypeError):
        check_scalar(np.ones(2))
