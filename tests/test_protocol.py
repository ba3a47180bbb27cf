"""The StructuredMatrix protocol over the whole zoo, on every array namespace."""

from __future__ import annotations

import re
import zlib

import array_api_compat
import numpy as np
import pytest
import scipy.sparse.linalg

import structmat as sm
from structmat import Diagonal, Monarch, Product, StructuredMatrix, _backend as B
from structmat.base import Adjoint, Conjugate, Transpose

from .conftest import to_numpy
from .tolerance import assert_close, assert_close_scaled
from .zoo import SPECS, draw

over_zoo = pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])

_CACHE: dict = {}


def built(spec, xp):
    """The zoo entry for ``xp`` (built once per namespace)."""
    key = (spec.id, B.namespace_name(array_api_compat.array_namespace(xp.asarray([0.0]))))
    if key not in _CACHE:
        _CACHE[key] = spec.build(xp)
    return _CACHE[key]


def ns(a) -> str:
    return B.namespace_name(array_api_compat.array_namespace(a))


def xp_name(xp) -> str:
    return ns(xp.asarray([0.0]))


def is_np(xp) -> bool:
    return xp_name(xp) == "numpy"


def operand_dtype(entry) -> np.dtype:
    """An operand dtype that keeps the entry's precision and kind."""
    return entry.dtype if entry.dtype.kind in "fc" else np.dtype(np.float64)


def rows_times(A, X, xp):
    """``X @ A``: the operator for NumPy, the explicit method for strict arrays."""
    if is_np(xp):
        return X @ A
    return A.rmatmul(X)


def _rng(spec, salt):
    return np.random.default_rng(zlib.crc32(f"{spec.id}/{salt}".encode()))


# ----------------------------------------------------------------------------------------------
# dense views
# ----------------------------------------------------------------------------------------------


@over_zoo
def test_to_dense_matches_reference(spec, xp):
    e = built(spec, xp)
    A = e.A
    assert isinstance(A, StructuredMatrix)
    assert A.shape == e.ref.shape and A.ndim == 2 and len(A) == e.ref.shape[0]
    D = A.to_dense()
    expected_ns = xp_name(xp) if A.xp is not None else "numpy"
    assert ns(D) == expected_ns
    assert sm.base.dtype_name(D.dtype) == e.dtype.name
    assert_close(to_numpy(D), e.ref, e.dtype, e.n, e.depth, what=f"{e.id} to_dense")
    D2 = A.to_dense(xp)
    assert ns(D2) == xp_name(xp)
    assert_close(to_numpy(D2), e.ref, e.dtype, e.n, e.depth, what=f"{e.id} to_dense(xp)")


# ----------------------------------------------------------------------------------------------
# products with arrays
# ----------------------------------------------------------------------------------------------


@over_zoo
def test_matvec_1d(spec, xp):
    e = built(spec, xp)
    n_out, n_in = e.ref.shape
    x = draw(_rng(spec, "x"), n_in, operand_dtype(e))
    y = e.A @ xp.asarray(x)
    assert ns(y) == xp_name(xp) and tuple(y.shape) == (n_out,)
    assert_close(to_numpy(y), e.ref @ x, y.dtype, e.n, e.depth, what=f"{e.id} A @ x")
    y2 = e.A.dot(xp.asarray(x))
    assert_close(to_numpy(y2), e.ref @ x, y2.dtype, e.n, e.depth, what=f"{e.id} A.dot(x)")


@over_zoo
def test_matmat_columns(spec, xp):
    e = built(spec, xp)
    n_out, n_in = e.ref.shape
    X = draw(_rng(spec, "X"), (n_in, 3), operand_dtype(e))
    Y = e.A @ xp.asarray(X)
    assert ns(Y) == xp_name(xp) and tuple(Y.shape) == (n_out, 3)
    assert_close(to_numpy(Y), e.ref @ X, Y.dtype, e.n, e.depth, what=f"{e.id} A @ X")
    # column by column: each column of A @ X is A @ (that column)
    for j in range(3):
        yj = e.A @ xp.asarray(X[:, j])
        assert_close(
            to_numpy(yj), to_numpy(Y)[:, j], Y.dtype, e.n, e.depth, what=f"{e.id} column {j}"
        )


@over_zoo
def test_matmat_batched(spec, xp):
    e = built(spec, xp)
    n_out, n_in = e.ref.shape
    X = draw(_rng(spec, "batch"), (2, n_in, 3), operand_dtype(e))
    Y = e.A @ xp.asarray(X)
    assert tuple(Y.shape) == (2, n_out, 3)
    assert_close(
        to_numpy(Y),
        np.einsum("ij,bjk->bik", e.ref, X),
        Y.dtype,
        e.n,
        e.depth,
        what=f"{e.id} batched A @ X",
    )


@over_zoo
def test_rows(spec, xp):
    e = built(spec, xp)
    n_out, n_in = e.ref.shape
    rng = _rng(spec, "rows")
    X = draw(rng, (4, n_out), operand_dtype(e))
    Y = rows_times(e.A, xp.asarray(X), xp)
    assert ns(Y) == xp_name(xp) and tuple(Y.shape) == (4, n_in)
    assert_close(to_numpy(Y), X @ e.ref, Y.dtype, e.n, e.depth, what=f"{e.id} X @ A")
    Xb = draw(rng, (2, 3, n_out), operand_dtype(e))
    Yb = e.A.rmatmul(xp.asarray(Xb))
    assert tuple(Yb.shape) == (2, 3, n_in)
    assert_close(to_numpy(Yb), Xb @ e.ref, Yb.dtype, e.n, e.depth, what=f"{e.id} batched X @ A")
    x = draw(rng, n_out, operand_dtype(e))
    y = e.A.rmatmul(xp.asarray(x))
    assert tuple(y.shape) == (n_in,)
    assert_close(to_numpy(y), x @ e.ref, y.dtype, e.n, e.depth, what=f"{e.id} x @ A")


@over_zoo
def test_ndarray_matmul_goes_through_rmatmul(spec, monkeypatch):
    xp = np
    e = built(spec, xp)
    n_out, _ = e.ref.shape

    def densify(*args, **kwargs):
        raise AssertionError("a dense view was built for ndarray @ A")

    monkeypatch.setattr(StructuredMatrix, "__array__", densify)
    monkeypatch.setattr(StructuredMatrix, "to_dense", densify)
    calls = []
    original = StructuredMatrix.__rmatmul__

    def spy(self, X):
        calls.append(type(self).__name__)
        return original(self, X)

    monkeypatch.setattr(StructuredMatrix, "__rmatmul__", spy)
    X = draw(_rng(spec, "nd"), (2, n_out), operand_dtype(e))
    Y = X @ e.A
    assert calls, "ndarray @ A did not reach __rmatmul__"
    assert isinstance(Y, np.ndarray)
    assert_close(Y, X @ e.ref, Y.dtype, e.n, e.depth, what=f"{e.id} ndarray @ A")


# ----------------------------------------------------------------------------------------------
# adjoint, transposes
# ----------------------------------------------------------------------------------------------


@over_zoo
@pytest.mark.parametrize("kind", ["real", "complex"])
def test_dot_test(spec, xp, kind):
    """<A x, y> = <x, A^H y> with A^H the structured adjoint."""
    e = built(spec, xp)
    n_out, n_in = e.ref.shape
    prec = 32 if e.dtype in (np.float32, np.complex64) else 64
    dt = {
        ("real", 32): "float32",
        ("real", 64): "float64",
        ("complex", 32): "complex64",
        ("complex", 64): "complex128",
    }[(kind, prec)]
    rng = _rng(spec, "dot" + kind)
    x, y = draw(rng, n_in, dt), draw(rng, n_out, dt)
    Ax = to_numpy(e.A @ xp.asarray(x))
    AHy = to_numpy(e.A.H @ xp.asarray(y))
    lhs = np.vdot(y, Ax)  # <A x, y> = y^H (A x)
    rhs = np.vdot(AHy, x)  # <x, A^H y> = (A^H y)^H x
    scale = np.linalg.norm(e.ref, 2) * np.linalg.norm(x) * np.linalg.norm(y)
    assert_close_scaled(lhs, rhs, scale, Ax.dtype, e.n, e.depth + 1, what=f"{e.id} dot test")


@over_zoo
def test_transpose_adjoint_conj(spec, xp):
    e = built(spec, xp)
    rng = _rng(spec, "tr")
    for name, M, ref in [
        ("T", e.A.T, e.ref.T),
        ("H", e.A.H, np.conj(e.ref).T),
        ("conj", e.A.conj(), np.conj(e.ref)),
        ("transpose()", e.A.transpose(), e.ref.T),
        ("adjoint()", e.A.adjoint(), np.conj(e.ref).T),
    ]:
        assert isinstance(M, StructuredMatrix), f"{e.id}.{name} is not structured"
        assert M.shape == ref.shape
        assert_close(to_numpy(M.to_dense()), ref, e.dtype, e.n, e.depth, what=f"{e.id}.{name}")
        X = draw(rng, (ref.shape[1], 2), operand_dtype(e))
        Y = M @ xp.asarray(X)
        assert_close(to_numpy(Y), ref @ X, Y.dtype, e.n, e.depth, what=f"{e.id}.{name} @ X")
        Xr = draw(rng, (2, ref.shape[0]), operand_dtype(e))
        Yr = M.rmatmul(xp.asarray(Xr))
        assert_close(to_numpy(Yr), Xr @ ref, Yr.dtype, e.n, e.depth, what=f"X @ {e.id}.{name}")


@over_zoo
def test_generic_wrappers(spec, xp):
    """The Transpose/Adjoint/Conjugate wrappers themselves, on any matrix (classes with a
    structured transpose of their own never build them through .T/.H/.conj())."""
    e = built(spec, xp)
    rng = _rng(spec, "wrap")
    cases = [
        (Transpose(e.A), e.ref.T),
        (Adjoint(e.A), np.conj(e.ref).T),
        (Conjugate(e.A), np.conj(e.ref)),
    ]
    for W, ref in cases:
        name = type(W).__name__
        assert W.shape == ref.shape and W.nparams == e.A.nparams
        assert W.flops(2) == e.A.flops(2)
        X = draw(rng, (ref.shape[1], 2), operand_dtype(e))
        Y = W @ xp.asarray(X)
        assert_close(to_numpy(Y), ref @ X, Y.dtype, e.n, e.depth, what=f"{name}({e.id}) @ X")
        Z = draw(rng, (3, ref.shape[0]), operand_dtype(e))
        Yr = W.rmatmul(xp.asarray(Z))
        assert_close(to_numpy(Yr), Z @ ref, Yr.dtype, e.n, e.depth, what=f"Z @ {name}({e.id})")
        for what, M, want in [
            ("T", W.T, ref.T),
            ("H", W.H, np.conj(ref).T),
            ("conj", W.conj(), np.conj(ref)),
        ]:
            assert_close(
                to_numpy(M.to_dense()), want, e.dtype, e.n, e.depth, what=f"{name}({e.id}).{what}"
            )
    assert_close(to_numpy(e.A.toarray()), e.ref, e.dtype, e.n, e.depth, what="toarray")


@over_zoo
def test_double_transpose_gives_back_the_matrix(spec, xp):
    e = built(spec, xp)
    for name, M in [
        ("T.T", e.A.T.T),
        ("H.H", e.A.H.H),
        ("conj().conj()", e.A.conj().conj()),
        ("T.H.conj()", e.A.T.H.conj()),
    ]:
        assert isinstance(M, StructuredMatrix)
        assert M.shape == e.A.shape
        assert_close(to_numpy(M.to_dense()), e.ref, e.dtype, e.n, e.depth, what=f"{e.id}.{name}")


# ----------------------------------------------------------------------------------------------
# composition
# ----------------------------------------------------------------------------------------------


@over_zoo
def test_composition(spec, xp):
    e = built(spec, xp)
    n_out, n_in = e.ref.shape
    rng = _rng(spec, "comp")
    d_in = draw(rng, n_in, "float64")
    d_out = draw(rng, n_out, "float64")
    Din, Dout = Diagonal(xp.asarray(d_in)), Diagonal(xp.asarray(d_out))
    left = e.A @ Din
    if isinstance(e.A, Diagonal):
        # structure rule: a product of Diagonals is a Diagonal
        assert isinstance(left, Diagonal)
        assert_close(
            to_numpy(left.to_dense()),
            e.ref @ np.diag(d_in),
            left.dtype,
            e.n,
            2,
            what=f"{e.id} Diagonal product",
        )
        return
    assert isinstance(left, Product)
    nA = len(e.A.factors) if isinstance(e.A, Product) else 1
    assert len(left.factors) == nA + 1 and left.factors[-1] is Din
    nested = Dout @ left
    assert isinstance(nested, Product) and len(nested.factors) == nA + 2
    assert all(not isinstance(f, Product) for f in nested.factors)
    flat = Product(Product(Dout, e.A), Product(Din))
    assert len(flat.factors) == nA + 2
    assert flat.shape == (n_out, n_in)
    ref = np.diag(d_out) @ e.ref @ np.diag(d_in)
    x = draw(rng, n_in, operand_dtype(e))
    for P in (nested, flat):
        y = P @ xp.asarray(x)
        assert_close(to_numpy(y), ref @ x, y.dtype, e.n, e.depth + 2, what=f"{e.id} product")
    assert_close(
        to_numpy(flat.to_dense()),
        ref,
        flat.to_dense().dtype,
        e.n,
        e.depth + 2,
        what=f"{e.id} product dense",
    )
    # rmatmul with a structured operand composes too
    assert isinstance(e.A.rmatmul(Dout), Product)


# ----------------------------------------------------------------------------------------------
# SciPy and NumPy interoperability
# ----------------------------------------------------------------------------------------------


@over_zoo
def test_aslinearoperator(spec):
    xp = np
    e = built(spec, xp)
    n_out, n_in = e.ref.shape
    op = e.A.aslinearoperator()
    assert isinstance(op, scipy.sparse.linalg.LinearOperator)
    assert op.shape == (n_out, n_in) and op.dtype == e.dtype
    rng = _rng(spec, "lo")
    dt = operand_dtype(e)
    x, y = draw(rng, n_in, dt), draw(rng, n_out, dt)
    X, Y = draw(rng, (n_in, 3), dt), draw(rng, (n_out, 2), dt)
    checks = [
        ("matvec", op.matvec(x), e.ref @ x),
        ("rmatvec", op.rmatvec(y), np.conj(e.ref).T @ y),
        ("matmat", op.matmat(X), e.ref @ X),
        ("rmatmat", op.rmatmat(Y), np.conj(e.ref).T @ Y),
        ("op @ x", op @ x, e.ref @ x),
        ("op.H", op.H.matvec(y), np.conj(e.ref).T @ y),
        ("op.T", op.T.matvec(y), e.ref.T @ y),
    ]
    for what, got, want in checks:
        got = np.asarray(got)
        assert_close(got, want, got.dtype, e.n, e.depth, what=f"{e.id} LinearOperator {what}")


@over_zoo
def test_numpy_asarray(spec):
    """numpy.asarray of NumPy-backed matrices (strict-backed ones raise: test_errors)."""
    xp = np
    e = built(spec, xp)
    D = np.asarray(e.A)
    assert isinstance(D, np.ndarray) and D.dtype == e.dtype
    assert_close(D, e.ref, e.dtype, e.n, e.depth, what=f"{e.id} numpy.asarray")
    D2 = np.asarray(e.A, dtype=np.complex128)
    assert D2.dtype == np.complex128
    assert_close(D2, e.ref, e.dtype, e.n, e.depth, what=f"{e.id} numpy.asarray(dtype)")


@over_zoo
def test_repr(spec, xp):
    e = built(spec, xp)
    n_out, n_in = e.ref.shape
    text = repr(e.A)
    pattern = rf"^<{n_out}x{n_in} {type(e.A).__name__} with dtype={e.dtype.name}\b.*>$"
    assert re.match(pattern, text, flags=re.S), text
    if e.A.xp is not None and not is_np(xp):
        assert f"backend={xp_name(xp)}" in text


@over_zoo
def test_nparams_and_flops(spec, xp):
    e = built(spec, xp)
    assert e.A.nparams == e.nparams
    f1, f3 = e.A.flops(), e.A.flops(3)
    assert isinstance(f1, int) and isinstance(f3, int)
    assert 0 <= f1 <= f3 <= 3 * f1 + 3
    if e.nparams > 0:
        assert f1 > 0
    if isinstance(e.A, Monarch):
        k, q, p, l, s, r = e.A.geometry
        assert e.A.nparams == k * q * p + l * s * r
        assert e.A.flops(5) == 2 * (k * q * p + l * s * r) * 5


@over_zoo
def test_to_backend_round_trip(spec, xp):
    import array_api_strict

    e = built(spec, xp)
    other = array_api_strict if is_np(xp) else np
    moved = e.A.to_backend(other)
    assert isinstance(moved, StructuredMatrix) and moved.shape == e.A.shape
    assert sm.base.dtype_name(moved.dtype) == e.dtype.name
    if e.A.xp is not None:
        assert B.namespace_name(moved.xp) == xp_name(other)
        assert ns(moved.to_dense()) == xp_name(other)
    else:
        assert moved.xp is None
    assert_close(
        to_numpy(moved.to_dense()),
        e.ref,
        e.dtype,
        e.n,
        e.depth,
        what=f"{e.id} moved to {xp_name(other)}",
    )
    x = draw(_rng(spec, "mv"), e.ref.shape[1], operand_dtype(e))
    y = moved @ other.asarray(x)
    assert ns(y) == xp_name(other)
    assert_close(to_numpy(y), e.ref @ x, y.dtype, e.n, e.depth, what=f"{e.id} moved @ x")
    back = moved.to_backend(xp)
    if e.A.xp is not None:
        assert B.namespace_name(back.xp) == xp_name(xp)
    assert_close(to_numpy(back.to_dense()), e.ref, e.dtype, e.n, e.depth, what=f"{e.id} round trip")


# ----------------------------------------------------------------------------------------------
# dtype rules
# ----------------------------------------------------------------------------------------------


def expected_dtype(e, x_dtype: np.dtype) -> np.dtype:
    """NumPy-like promotion: integers compute as float64 (a Permutation keeps them)."""
    if x_dtype.kind in "iub":
        if e.keeps_int:
            return x_dtype
        x_dtype = np.dtype(np.float64)
    dt = x_dtype if e.param_dtype is None else np.result_type(e.param_dtype, x_dtype)
    if e.complex_out:
        dt = np.result_type(dt, np.complex64)
    return np.dtype(dt)


@over_zoo
@pytest.mark.parametrize("x_dtype", ["float32", "float64", "complex64", "complex128", "int64"])
def test_dtype_rules(spec, xp, x_dtype):
    e = built(spec, xp)
    n_out, n_in = e.ref.shape
    rng = _rng(spec, "dt" + x_dtype)
    if x_dtype == "int64":
        x = rng.integers(-5, 6, size=(n_in, 2))
    else:
        x = draw(rng, (n_in, 2), x_dtype)
    want = expected_dtype(e, x.dtype)
    y = e.A @ xp.asarray(x)
    assert sm.base.dtype_name(y.dtype) == want.name, f"{e.id}: {x_dtype} -> {y.dtype}, want {want}"
    tol_dtype = want if want.kind in "fc" else np.float64
    assert_close(to_numpy(y), e.ref @ x, tol_dtype, e.n, e.depth, what=f"{e.id} {x_dtype}")
    xr = draw(rng, (2, n_out), x_dtype) if x_dtype != "int64" else rng.integers(-5, 6, (2, n_out))
    yr = e.A.rmatmul(xp.asarray(xr))
    assert sm.base.dtype_name(yr.dtype) == expected_dtype(e, xr.dtype).name


@over_zoo
def test_float16_is_refused(spec):
    """float16 operands are refused, never silently upcast (array_api_strict has no float16)."""
    xp = np
    e = built(spec, xp)
    n_out, n_in = e.ref.shape
    with pytest.raises(TypeError, match="float16"):
        e.A @ np.ones(n_in, dtype=np.float16)
    with pytest.raises(TypeError, match="float16"):
        np.ones(n_out, dtype=np.float16) @ e.A


# ----------------------------------------------------------------------------------------------
# scipy.sparse.linalg on structured matrices
# ----------------------------------------------------------------------------------------------


def test_lsqr_solves_a_tall_monarch_system():
    """lsqr through the LinearOperator view recovers x from b = M x (M tall, full column rank)."""
    from .tolerance import rtol

    rng = np.random.default_rng(7)
    M = Monarch.random(24, 96, seed=rng)
    x = rng.standard_normal(24)
    b = M @ x
    res = scipy.sparse.linalg.lsqr(
        M.aslinearoperator(), b, atol=0.0, btol=0.0, conlim=0.0, iter_lim=500
    )
    cond = np.linalg.cond(np.asarray(M))
    err = np.linalg.norm(res[0] - x) / np.linalg.norm(x)
    assert err <= cond * rtol(np.float64, 96, 2), (err, cond)


def test_svds_matches_dense_singular_values():
    rng = np.random.default_rng(8)
    M = Monarch.random(36, seed=rng, dtype="complex128")
    s_ref = np.linalg.svd(np.asarray(M), compute_uv=False)
    s = scipy.sparse.linalg.svds(
        M.aslinearoperator(), k=4, return_singular_vectors=False, random_state=0
    )
    # singular values are perfectly conditioned: |s_i - s_ref_i| <= ||E|| ~ eps ||M||
    assert_close_scaled(np.sort(s)[::-1], s_ref[:4], s_ref[0], np.complex128, 36, 2, what="svds")


def test_gmres_inverts_a_circulant():
    """A well-conditioned circulant solved through its LinearOperator view."""
    from .tolerance import rtol

    rng = np.random.default_rng(9)
    c = rng.standard_normal(16) * 0.1
    c[0] = 4.0
    C = sm.Convolution(c)
    b = rng.standard_normal(16)
    x, info = scipy.sparse.linalg.gmres(
        C.aslinearoperator(), b, rtol=rtol(np.float64, 16), atol=0.0
    )
    assert info == 0
    dense = np.asarray(C)
    x_ref = np.linalg.solve(dense, b)
    # forward error <= condition number x the backward error gmres was asked for
    scale = np.linalg.cond(dense) * np.linalg.norm(x_ref)
    assert_close_scaled(x, x_ref, scale, np.float64, 16, what="gmres solution")
