"""SciPy duck typing: every matrix is a linear operator for ``scipy.sparse.linalg``.

``aslinearoperator(A)`` reads ``shape``, ``dtype``, ``matvec``, ``rmatvec`` and ``rmatmat``
from the object; the solvers are then checked against dense float64/complex128 references.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from scipy.sparse.linalg import LinearOperator, aslinearoperator, gmres, lsqr, svds

import structmat as sm
from structmat import DFT, Diagonal, Hadamard, Monarch

from . import zoo_algebra
from .tolerance import assert_close, eps
from .zoo import SPECS

ALL = {s.id: s for s in SPECS + zoo_algebra.specs()}
SPEC_LIST = list(ALL.values())


def operand_dtype(e):
    return np.result_type(sm.base.dtype_name(e.A.dtype), np.float64)


@pytest.mark.parametrize("spec", SPEC_LIST, ids=[s.id for s in SPEC_LIST])
def test_scipy_protocol_over_zoo(spec):
    """matvec, rmatvec (= A^H x), matmat and rmatmat (= A^H X) with SciPy's meanings."""
    e = spec.build(np)
    A = e.A
    rng = np.random.default_rng(1)
    n_out, n_in = A.shape
    x = rng.standard_normal(n_in)
    y = rng.standard_normal(n_out) + 1j * rng.standard_normal(n_out)
    X = rng.standard_normal((n_in, 3))
    Y = rng.standard_normal((n_out, 2))
    AH = np.conj(e.ref).T
    dt = sm.base.dtype_name(A.dtype) if e.param_dtype is not None else "float64"
    op = aslinearoperator(A)
    assert op.shape == A.shape and op.dtype == np.dtype(sm.base.dtype_name(A.dtype))
    for name, got, want in [
        ("matvec", A.matvec(x), e.ref @ x),
        ("matvec column", A.matvec(x[:, None]), (e.ref @ x)[:, None]),
        ("rmatvec", A.rmatvec(y), AH @ y),
        ("rmatmat", A.rmatmat(Y), AH @ Y),
        ("matmat", A.matmat(X), e.ref @ X),
        ("op.matvec", op.matvec(x), e.ref @ x),
        ("op.rmatvec", op.rmatvec(y), AH @ y),
        ("op.matmat", op.matmat(X), e.ref @ X),
        ("op.rmatmat", op.rmatmat(Y), AH @ Y),
        ("op.H", op.H.matvec(y), AH @ y),
        ("method view", A.aslinearoperator().rmatmat(Y), AH @ Y),
        ("method view matmat", A.aslinearoperator().matmat(X), e.ref @ X),
    ]:
        got = np.asarray(got)
        assert got.shape == want.shape, (name, got.shape, want.shape)
        assert_close(got, want, dt, e.n, e.depth, what=f"{e.id} {name}")


def test_scipy_protocol_rejects_bad_shapes():
    M = Monarch.random(16, seed=0)
    with pytest.raises(ValueError, match=r"x must have shape \(16,\) or \(16, 1\)"):
        M.matvec(np.ones((16, 2)))
    with pytest.raises(ValueError, match=r"x must have shape"):
        M.rmatvec(np.ones(15))
    with pytest.raises(ValueError, match=r"X must have shape \(16, k\)"):
        M.rmatmat(np.ones(16))


def _cases():
    rng = np.random.default_rng(2)
    M = Monarch.random(64, seed=3)
    M_rect = Monarch.random(96, 48, seed=4)  # 48 x 96, underdetermined for lsqr
    F = DFT(32, norm="ortho")
    P = Monarch.random(64, seed=1) @ Diagonal(rng.uniform(1.0, 2.0, 64)) @ Hadamard(64)
    return {"Monarch": M, "Monarch-rect": M_rect, "DFT": F, "Product": P}


CASES = _cases()


@pytest.mark.parametrize("name", list(CASES))
def test_lsqr_matches_dense_least_squares(name):
    A = CASES[name]
    dense = np.asarray(A.to_dense())
    rng = np.random.default_rng(6)
    b = rng.standard_normal(A.shape[0])
    if np.iscomplexobj(dense):
        b = b + 1j * rng.standard_normal(A.shape[0])
    x = lsqr(A, b, atol=1e-14, btol=1e-14, iter_lim=5000)[0]
    ref = scipy.linalg.lstsq(dense, b)[0]  # minimum-norm solution, as lsqr started at 0
    cond = np.linalg.cond(dense)
    scale = np.linalg.norm(ref)
    assert np.linalg.norm(x - ref) <= 1e3 * cond * eps("float64") * max(A.shape) * scale


@pytest.mark.parametrize("name", ["Monarch", "DFT", "Product"])
def test_gmres_solves_square_systems(name):
    A = CASES[name]
    dense = np.asarray(A.to_dense())
    b = np.random.default_rng(7).standard_normal(A.shape[0])
    x, info = gmres(A, b, rtol=1e-12, atol=0.0, restart=A.shape[0], maxiter=10)
    assert info == 0
    ref = np.linalg.solve(dense, b)
    cond = np.linalg.cond(dense)
    assert np.linalg.norm(x - ref) <= 1e-12 * cond * 10 * np.linalg.norm(ref)


@pytest.mark.parametrize("name", list(CASES))
def test_svds_matches_dense_singular_values(name):
    A = CASES[name]
    dense = np.asarray(A.to_dense())
    s = svds(A, k=3, return_singular_vectors=False, random_state=0, tol=0)
    ref = scipy.linalg.svdvals(dense)[:3]
    assert_close(np.sort(s)[::-1], ref, "float64", max(A.shape), depth=10, what=f"{name} svds")


def test_linear_operator_algebra_mixes_with_scipy():
    M = Monarch.random(16, seed=0)
    op = aslinearoperator(M) * 2.0 + aslinearoperator(np.eye(16))
    assert isinstance(op, LinearOperator)
    x = np.arange(16.0)
    assert_close(op.matvec(x), 2 * (np.asarray(M) @ x) + x, "float64", 16, 3)
