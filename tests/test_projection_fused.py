"""Tests of the compiled rank-1 slab solver (:mod:`structmat.projection.fused` and its kernels).

Every result is checked against an independent float64 reference: ``numpy.linalg.eigh`` of the
dense tridiagonal matrix, one ``numpy.linalg.svd`` per slab, and the Frobenius norms of the
slabs computed here; the NumPy solver :func:`structmat.projection.kernel._lanczos1_numpy` is
the second opinion the compiled solver must agree with.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from structmat import project_to_monarch, projection_error
from structmat.geometry import monarch_geometry, slab_view
from structmat.projection import (
    SolverOptions,
    certificate,
    driver,
    fused,
    kernel,
    solver_options,
)
from structmat.projection.certificate import _FAIL, _INERTIA, _TRACE

from .tolerance import assert_close_scaled, eps, rtol

pytestmark = [
    pytest.mark.filterwarnings("ignore::structmat.StructmatWarning"),
    pytest.mark.skipif(
        fused.kernel() is None, reason=f"compiled solver unavailable: {fused.unavailable_reason()}"
    ),
]

REAL = ["float32", "float64"]
EPS64 = float(np.finfo(np.float64).eps)


# ----------------------------------------------------------------------------------------------
# references and drivers
# ----------------------------------------------------------------------------------------------


def _margins(dtype, s, p):
    """The margins the projection passes to the rank-1 solvers (double-precision Ritz pairs)."""
    return certificate._Margins(np.finfo(dtype).eps, s, p, eps_ritz=2.0**-52, cplx=False)


def _steps(dtype, m):
    return min(m, 18 if np.dtype(dtype) == np.float32 else 30)


def _solve(S5, right, dtype, *, steps=None, starts=None, q0=None, numpy_solver=False, seed=0):
    """Run a rank-1 solver on every slab of ``S5`` with the projection's margins."""
    nb, k, l, s, p = S5.shape
    m = p if right else s
    n = nb * k * l
    if starts is None:
        starts = kernel._unit_starts(np.random.default_rng(seed), n, m, dtype)
    solve = kernel._lanczos1_numpy if numpy_solver else fused.solve_rank1
    steps = _steps(dtype, m) if steps is None else steps
    return solve(S5, np.arange(n), right, steps, _margins(dtype, s, p), starts, q0=q0)


def _slabs64(S5, right):
    """The slabs as float64 ``X`` (n, m', m) whose Gram matrix ``X^T X`` the solver works on."""
    nb, k, l, s, p = S5.shape
    X = np.asarray(S5, dtype=np.float64).reshape(nb * k * l, s, p)
    return X if right else X.swapaxes(-1, -2)


def _svd_top(X):
    """Singular values (n, m) and top right singular vectors (n, m) of the float64 slabs."""
    _, sv, Vh = np.linalg.svd(X, full_matrices=False)
    return sv, Vh[:, 0, :]


def _gauss_slabs(rng, n_out, n_in, nblocks, dtype):
    """The ``(1, k, l, s, p)`` slab view of a Gaussian ``n_out x n_in`` matrix (strided)."""
    geo = monarch_geometry(n_in, n_out, nblocks=nblocks)
    A = rng.standard_normal((1, n_out, n_in)).astype(dtype)
    return slab_view(np, A, geo), A


def _near_rank1(rng, S5, every, dtype):
    """Overwrite every ``every``-th slab of the view with a nearly rank-1 slab (in place)."""
    _, k, l, s, p = S5.shape
    for z in range(0, k * l, every):
        a, b = divmod(z, l)
        delta = 10.0 ** -rng.uniform(2, 6)
        S = np.outer(rng.standard_normal(s), rng.standard_normal(p))
        S5[0, a, b] = (S + delta * rng.standard_normal((s, p))).astype(dtype)


# ----------------------------------------------------------------------------------------------
# tridiag_top: the top eigenpair of the small tridiagonal matrix
# ----------------------------------------------------------------------------------------------


def _tridiag_check(a, b):
    K = a.size
    jit = fused.kernel()
    y = np.zeros(K)
    work = np.zeros((4, K))
    bb = np.zeros(K)
    bb[: K - 1] = b
    th = jit.tridiag_top(a.copy(), bb, K, y, work)
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))) if b.size else 0.0)
    if scale == 0.0:
        assert th == 0.0
        assert y.tolist() == [1.0] + [0.0] * (K - 1)
        return
    # the reference on T / scale (LAPACK on the scaled matrix; no overflow in the squares)
    T = np.diag(a / scale) + np.diag(b / scale, 1) + np.diag(b / scale, -1)
    lam = np.linalg.eigvalsh(T)
    tol = 16 * K * EPS64  # relative to ||T|| ~ scale
    assert abs(np.linalg.norm(y) - 1.0) <= tol
    ty = T @ y
    rq = float(y @ ty)
    # the value returned is the Rayleigh quotient of y ...
    assert abs(th / scale - rq) <= tol, (th / scale, rq)
    # never above the top eigenvalue, and below it by at most what the residual of y allows
    # (Kato-Temple when theta lies above the second eigenvalue); to rounding when the top
    # eigenvalue is separated by more than the bisection bracket resolves (2**-16 ||T||)
    r = float(np.linalg.norm(ty - rq * y))
    below = lam[-1] - th / scale
    assert below >= -tol, (th / scale, lam[-1])
    gap2 = th / scale - lam[-2] if K > 1 else np.inf
    allowed = min(r, r * r / gap2) if gap2 > 0 else r
    assert below <= tol + allowed, (th / scale, lam[-1], r)
    if K == 1 or lam[-1] - lam[-2] >= 1e-2 or lam[-1] - lam[-2] <= tol:
        assert below <= tol, (th / scale, lam[-1])


@given(
    K=st.integers(1, 40),
    log_scale=st.floats(-200, 200),
    seed=st.integers(0, 2**32 - 1),
    zero_frac=st.sampled_from([0.0, 0.2, 0.6, 1.0]),
    repeat=st.booleans(),
)
def test_tridiag_top_matches_eigh(K, log_scale, seed, zero_frac, repeat):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(K)
    b = np.abs(rng.standard_normal(K - 1))  # Lanczos off-diagonals are norms
    b[rng.uniform(size=K - 1) < zero_frac] = 0.0  # decoupled blocks
    if repeat and K >= 2:
        # two decoupled copies of one block: every eigenvalue, the top one included, repeated
        h = K // 2
        a[h : 2 * h] = a[:h]
        b[h : 2 * h - 1] = b[: h - 1]
        b[h - 1] = 0.0
    _tridiag_check(a * 10.0**log_scale, b * 10.0**log_scale)


@pytest.mark.parametrize("K", [1, 2, 7, 40])
def test_tridiag_top_special_matrices(K):
    # all zero: the value 0 and the first unit vector
    _tridiag_check(np.zeros(K), np.zeros(K - 1))
    # a multiple of the identity: every unit vector is a top eigenvector
    _tridiag_check(np.full(K, 3.0), np.zeros(K - 1))
    # the top eigenvalue at the far end of a decoupled diagonal
    _tridiag_check(np.arange(K, dtype=float), np.zeros(K - 1))
    # off-diagonals 1: eigenvalues 2 + 2 cos(j pi / (K + 1)), closely spaced at the top
    _tridiag_check(np.full(K, 2.0), np.full(K - 1, 1.0))


@pytest.mark.parametrize("K", [4, 40])
def test_tridiag_top_negative_off_diagonals(K):
    # the second-difference matrix of even order: its top eigenvector is orthogonal to the
    # all-ones vector unless the signs of the off-diagonals are taken out first
    _tridiag_check(np.full(K, 2.0), np.full(K - 1, -1.0))


@pytest.mark.parametrize("K", [2, 5, 18, 30])
@pytest.mark.parametrize("seed", range(20))
def test_laguerre_finds_a_separated_top_eigenvalue(K, seed):
    # the iteration tridiag_top starts with: from the Gershgorin bound down to the top
    # eigenvalue, to rounding, whenever that eigenvalue is separated from the next one (it may
    # give up, NaN, on clusters: the bisection then takes over)
    jit = fused.kernel()
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(K)
    b = np.abs(rng.standard_normal(K - 1))
    T = np.diag(a) + np.diag(b, 1) + np.diag(b, -1)
    lam = np.linalg.eigvalsh(T)
    hi = float(np.max(a + np.r_[b, 0.0] + np.r_[0.0, b])) + 1e-13
    lo = float(np.max(a)) - 1e-13
    x = jit._laguerre_top(a, np.r_[b, 0.0], K, hi, lo)
    if lam[-1] - lam[-2] >= 1e-3:
        assert np.isfinite(x)
    if np.isfinite(x):
        assert abs(x - lam[-1]) <= 64 * K * EPS64 * max(1.0, float(np.max(np.abs(lam)))), (
            x,
            lam[-1],
        )


# ----------------------------------------------------------------------------------------------
# the Gram matrix and the matrix-vector product of the Lanczos loop
# ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _gram_gemv():
    """Compiled wrappers of the kernels' inlined ``_gram`` and ``_gemv`` (made once)."""
    from numba import njit

    jit = fused.kernel()

    @njit
    def gram(X, G):
        jit._gram(X, G, X.shape[0], X.shape[1])

    @njit
    def gemv(G, q, w):
        jit._gemv(G, q, w, G.shape[0])

    return gram, gemv


@pytest.mark.parametrize("dtype", REAL)
@pytest.mark.parametrize(
    "mr, m", [(64, 64), (64, 128), (128, 32), (17, 48), (5, 16), (1, 32), (64, 20), (3, 80), (9, 7)]
)
def test_gram_and_gemv_match_float64(dtype, mr, m, rng):
    gram, gemv = _gram_gemv()
    X = rng.standard_normal((mr, m)).astype(dtype)
    G = np.full((m, m), np.nan, dtype=dtype)  # every entry must be written
    gram(X, G)
    X64 = X.astype(np.float64)
    ref = X64.T @ X64
    # a sum of mr products in any order, fused or not: |error| <= gamma_mr |X|^T |X|
    u = eps(dtype) / 2
    gam = lambda k: k * u / (1 - k * u)  # noqa: E731
    absX = np.abs(X64)
    assert np.all(np.abs(G - ref) <= gam(mr) * (absX.T @ absX)), float(np.max(np.abs(G - ref)))
    if m % 16 == 0:
        assert np.array_equal(G, G.T)  # the lower blocks are the mirror images
    q = rng.standard_normal(m).astype(dtype)
    w = np.full(m, np.nan, dtype=dtype)
    gemv(G, q, w)
    G64 = G.astype(np.float64)
    q64 = q.astype(np.float64)
    bound = gam(m) * (np.abs(G64) @ np.abs(q64))
    assert np.all(np.abs(w - G64 @ q64) <= bound), float(np.max(np.abs(w - G64 @ q64)))


@given(
    dtype=st.sampled_from(REAL),
    m=st.sampled_from([16, 32, 48, 64, 20]),
    mr=st.integers(1, 70),
    exp=st.integers(-1100, 1000),
    seed=st.integers(0, 2**32 - 1),
)
def test_gram_and_gemv_at_every_scale(dtype, m, mr, exp, seed):
    # entries scaled by 2**exp, from subnormal to near overflow of the squares: every entry
    # within gamma_mr |X|^T |X| of the exact Gram matrix, plus what underflow can lose (one
    # subnormal spacing per product), and nothing overflows where the exact sums do not
    gram, gemv = _gram_gemv()
    fi = np.finfo(dtype)
    lo, hi = fi.minexp - fi.nmant, (fi.maxexp - 1) // 2 - 4  # squares of 2**hi fit, 64 of them
    e = min(max(exp, lo + 1), hi)
    rng = np.random.default_rng(seed)
    X = np.ldexp(rng.uniform(-1.0, 1.0, (mr, m)), e).astype(dtype)
    G = np.full((m, m), np.nan, dtype=dtype)
    gram(X, G)
    X64 = X.astype(np.float64)
    absX = np.abs(X64)
    u = eps(dtype) / 2
    tiny = float(fi.smallest_subnormal)
    gam = mr * u / (1 - mr * u)
    # the exact sums in float64 (products of float32 entries are exact there; for float64
    # data the same bound holds against the float64 product to twice the slack)
    ref = X64.T @ X64
    slack = 1.0 if dtype == "float32" else 2.0
    bound = slack * gam * (absX.T @ absX) + 2 * mr * tiny
    assert np.all(np.isfinite(G))
    assert np.all(np.abs(G.astype(np.float64) - ref) <= bound)
    q = rng.uniform(-1.0, 1.0, m).astype(dtype)
    w = np.full(m, np.nan, dtype=dtype)
    gemv(G, q, w)
    G64 = G.astype(np.float64)
    gm = m * u / (1 - m * u)
    bq = slack * gm * (np.abs(G64) @ np.abs(q.astype(np.float64))) + 2 * m * tiny
    assert np.all(np.abs(w.astype(np.float64) - G64 @ q.astype(np.float64)) <= bq)


# ----------------------------------------------------------------------------------------------
# the blocked Cholesky of the inertia test
# ----------------------------------------------------------------------------------------------


def _chol_buffer(H, garbage=None):
    """``H`` in the layout :func:`_jit.cholesky_ok` takes: rows padded with zeros to whole
    vectors; ``garbage`` (optional) replaces everything below the diagonal."""
    m = H.shape[0]
    jit = fused.kernel()
    mp = -(-m // jit.LANES) * jit.LANES
    buf = np.zeros((m, mp), dtype=H.dtype)
    buf[:, :m] = H
    if garbage is not None:
        low = np.tril_indices(m, -1)
        buf[low] = garbage
    return buf


def _spectrum_matrix(lams, dtype, rng):
    m = len(lams)
    Q, _ = np.linalg.qr(rng.standard_normal((m, m)))
    H = (Q * np.asarray(lams)) @ Q.T
    return ((H + H.T) / 2).astype(dtype)


@pytest.mark.parametrize("dtype", REAL)
@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 64, 70])
def test_cholesky_factor_meets_the_rounding_bound(dtype, m, rng):
    jit = fused.kernel()
    X = rng.standard_normal((m + 3, m))
    H = (X.T @ X + 0.1 * np.eye(m)).astype(dtype)
    buf = _chol_buffer(H)
    assert jit.cholesky_ok(buf, m)
    R = np.triu(buf[:, :m]).astype(np.float64)
    assert np.all(buf[:, m:] == 0)  # the padding stays zero
    # Higham, Thm. 10.3: R^T R = H + dH with |dH| <= gamma_(m+1) |R^T| |R| (the bound the
    # certificate's margin uses), checked entrywise in double precision
    u = float(np.finfo(dtype).eps) / 2
    gam = (m + 1) * u / (1 - (m + 1) * u)
    dH = np.abs(R.T @ R - H.astype(np.float64))
    bound = gam * (np.abs(R).T @ np.abs(R))
    assert np.all(dH <= bound * (1 + 1e-6) + 1e-300), float(np.max(dH / bound))
    # and it is the Cholesky factor (forward error at most about m * cond(H) * eps)
    ref = np.linalg.cholesky(H.astype(np.float64)).T
    cond = float(np.linalg.cond(H.astype(np.float64)))
    err = float(np.max(np.abs(R - ref)))
    assert err <= 4 * m * cond * eps(dtype) * float(np.max(np.abs(ref))), err


@pytest.mark.parametrize("dtype", REAL)
@pytest.mark.parametrize("m", [1, 4, 6, 16, 33, 64])
def test_cholesky_decides_definiteness(dtype, m, rng):
    jit = fused.kernel()
    lams = np.geomspace(1.0, 10.0, m)
    # positive definite: well above rounding
    assert jit.cholesky_ok(_chol_buffer(_spectrum_matrix(lams, dtype, rng)), m)
    for j in {0, m // 2, m - 1}:
        neg = lams.copy()
        neg[j] = -1e-2  # one negative eigenvalue, far above rounding, at any position
        assert not jit.cholesky_ok(_chol_buffer(_spectrum_matrix(neg, dtype, rng)), m)
        zero = lams.copy()
        zero[j] = 0.0
        Hz = _spectrum_matrix(zero, dtype, rng)
        if m == 1:
            assert not jit.cholesky_ok(_chol_buffer(Hz), m)
    # NaN anywhere in the upper triangle, or a NaN pivot
    H = _spectrum_matrix(lams, dtype, rng)
    for i, j in {(0, 0), (0, m - 1), (m - 1, m - 1), (m // 2, m - 1)}:
        Hn = H.copy()
        Hn[i, j] = np.nan
        assert not jit.cholesky_ok(_chol_buffer(Hn), m)


@pytest.mark.parametrize("dtype", REAL)
@pytest.mark.parametrize("m", [5, 20, 64])
def test_cholesky_reads_only_the_upper_triangle(dtype, m, rng):
    jit = fused.kernel()
    H = _spectrum_matrix(np.geomspace(1.0, 10.0, m), dtype, rng)
    clean = _chol_buffer(H)
    assert jit.cholesky_ok(clean, m)
    for garbage in (np.nan, 1e30, -7.0):
        buf = _chol_buffer(H, garbage=garbage)
        assert jit.cholesky_ok(buf, m)
        assert np.array_equal(np.triu(buf[:, :m]), np.triu(clean[:, :m]))
    neg = _spectrum_matrix(np.r_[-1.0, np.ones(m - 1)], dtype, rng)
    assert not jit.cholesky_ok(_chol_buffer(neg, garbage=1e30), m)


# ----------------------------------------------------------------------------------------------
# solve_rank1 against one SVD per slab
# ----------------------------------------------------------------------------------------------

# (n_out, n_in, nblocks): rectangular 20 x 40 slabs, and square 20 x 20 slabs
SHAPES = [(200, 800, (20, 10)), (400, 400, None)]


def _check_result(res, S5, right, dtype, trg_rtol=1e-12, ritz_eps=2.0**-52):
    """Every claim of a result dict against the float64 SVD of each slab (``trg_rtol``: the
    accuracy of ``trG``, ``ritz_eps``: the precision of ``theta``; both double precision in the
    compiled solver)."""
    X = _slabs64(S5, right)
    n, mr, m = X.shape
    s, p = S5.shape[-2:]
    mg = certificate._Margins(np.finfo(dtype).eps, s, p, eps_ritz=ritz_eps)
    sv, _ = _svd_top(X)
    tg_ref = np.sum(X * X, axis=(-2, -1))
    top = sv[:, 0] ** 2
    assert res["V"].shape == (n, m, 1) and res["W"].shape == (n, mr)
    assert res["V"].dtype == np.dtype(dtype) and res["W"].dtype == np.dtype(dtype)
    np.testing.assert_allclose(res["trG"], tg_ref, rtol=trg_rtol, atol=0)
    ok = np.isin(res["cert"], [_TRACE, _INERTIA])
    assert np.all(ok | (res["cert"] == _FAIL)), res["cert"]
    assert np.all(np.isfinite(res["missed"][ok]))
    assert np.all(np.isinf(res["missed"][~ok]))
    V = res["V"][:, :, 0].astype(np.float64)
    W = res["W"].astype(np.float64)
    # V unit to the dtype's rounding; W = X v for the returned (rounded) v
    np.testing.assert_allclose(np.linalg.norm(V, axis=1), 1.0, rtol=0, atol=rtol(dtype, m))
    XV = np.einsum("zij,zj->zi", X, V)
    for z in range(n):
        assert_close_scaled(W[z], XV[z], math.sqrt(tg_ref[z]), dtype, m, what=f"W of slab {z}")
    # theta: the Rayleigh quotient of v, within the certified bound below the top eigenvalue
    margin = mg.e_theta * tg_ref + 4 * m * EPS64 * tg_ref
    assert np.all(res["theta"] <= top + margin), np.max(res["theta"] - top)
    under = top - res["theta"]
    assert np.all(under[ok] <= res["missed"][ok] + margin[ok]), np.max(
        under[ok] - res["missed"][ok]
    )
    # a certified slab meets the budget of the projection
    kept = np.where(np.isfinite(res["direct"]), res["trG"] - res["direct"], res["theta"])
    assert np.all(res["missed"][ok] <= mg.budget(res["trG"], kept)[ok] * (1 + 1e-12))
    # the residual energy is measured directly exactly for the nearly rank-1 slabs
    near = res["theta"] >= (1 - 1e-3) * res["trG"]
    assert np.array_equal(np.isfinite(res["direct"]), near & ~res["oor"])
    Vr = res["V"][:, :, 0].astype(np.float64)
    direct_ref = np.sum((X - W[:, :, None] * Vr[:, None, :]) ** 2, axis=(-2, -1))
    np.testing.assert_allclose(
        res["direct"][near], direct_ref[near], rtol=1e-9, atol=0, err_msg="direct"
    )
    return ok


@pytest.mark.parametrize("dtype", REAL)
@pytest.mark.parametrize("right", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_solve_rank1_is_certified_against_the_svd(dtype, right, shape, rng):
    n_out, n_in, nblocks = shape
    S5, _ = _gauss_slabs(rng, n_out, n_in, nblocks, dtype)
    _near_rank1(rng, S5, 7, dtype)
    res = _solve(S5, right, dtype)
    ok = _check_result(res, S5, right, dtype)
    assert not res["oor"].any()
    # Gaussian slabs of this size: nearly all certify at the first pass
    assert ok.mean() >= 0.8, np.bincount(res["cert"])
    assert np.isfinite(res["direct"]).sum() >= S5.shape[1] * S5.shape[2] // 8


@pytest.mark.parametrize("dtype", REAL)
@pytest.mark.parametrize("right", [True, False])
def test_solve_rank1_agrees_with_the_numpy_solver(dtype, right, rng):
    # a clear gap (singular values 10, then at most 1): both solvers certify every slab by the
    # same proof and find the same Ritz pair up to the dtype's rounding
    nb, s, p = 60, 20, 40
    U, _ = np.linalg.qr(rng.standard_normal((nb, s, s)))
    Vq, _ = np.linalg.qr(rng.standard_normal((nb, p, s)))
    sv = np.concatenate([np.full((nb, 1), 10.0), rng.uniform(0, 1, (nb, s - 1))], axis=1)
    S = ((U * sv[:, None, :]) @ Vq.swapaxes(-1, -2)).astype(dtype)
    S5 = S[None, None]
    res_c = _solve(S5, right, dtype)
    res_n = _solve(S5, right, dtype, numpy_solver=True)
    _check_result(res_c, S5, right, dtype)
    # the NumPy solver sums the energy, and first forms theta, in the slab's dtype
    _check_result(res_n, S5, right, dtype, trg_rtol=rtol(dtype, s * p), ritz_eps=eps(dtype))
    # past convergence, plain Lanczos holds near copies of the top Ritz value whose rounding
    # differs between the two solvers' operation orders, so a slab or two may need the
    # restart in one solver and not in the other; nearly all certify in both
    both = (res_c["cert"] != _FAIL) & (res_n["cert"] != _FAIL)
    assert both.sum() >= nb - 3, (np.bincount(res_c["cert"]), np.bincount(res_n["cert"]))
    np.testing.assert_array_equal(res_c["oor"], res_n["oor"])
    m = p if right else s
    tol = rtol(dtype, m) * res_n["trG"]
    assert np.all(np.abs(res_c["theta"] - res_n["theta"])[both] <= tol[both])
    np.testing.assert_allclose(res_c["trG"], res_n["trG"], rtol=rtol(dtype, s * p))
    vc = res_c["V"][both, :, 0].astype(np.float64)
    vn = res_n["V"][both, :, 0].astype(np.float64)
    cos = np.abs(np.sum(vc * vn, axis=1))
    np.testing.assert_allclose(cos, 1.0, rtol=0, atol=rtol(dtype, m))


@pytest.mark.parametrize("dtype", REAL)
@pytest.mark.parametrize("right", [True, False])
def test_restart_from_the_top_vectors_certifies_every_slab(dtype, right, rng):
    S5, _ = _gauss_slabs(rng, 200, 800, (20, 10), dtype)
    X = _slabs64(S5, right)
    _, v_top = _svd_top(X)
    steps = max(4, (_steps(dtype, X.shape[-1]) + 2) // 3)  # the restart's steps
    res = _solve(S5, right, dtype, steps=steps, q0=v_top.astype(dtype))
    ok = _check_result(res, S5, right, dtype)
    assert ok.all(), np.bincount(res["cert"])


# ----------------------------------------------------------------------------------------------
# slabs the solver must hand back: outside the energy range, zero, NaN
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", REAL)
def test_out_of_range_zero_and_nan_slabs_are_not_certified(dtype, rng):
    fi = np.finfo(dtype)
    s, p = 20, 40
    S = rng.standard_normal((12, s, p)).astype(dtype)
    big = 2.0**100 if dtype == "float32" else 2.0**300
    S[1] *= dtype_scalar(dtype, big)  # above the range (float64: the energy overflows)
    S[2] = (S[2] * fi.smallest_subnormal * 64).astype(dtype)  # subnormal entries
    S[3] = 0.0
    S[4, 3, 5] = np.nan
    S[5] = np.nan
    S[6, 0, 0] = np.inf
    bad = np.zeros(12, dtype=bool)
    bad[1:7] = True
    assert np.all(S[2][S[2] != 0] < fi.smallest_normal)
    for right in (True, False):
        m = p if right else s
        starts = kernel._unit_starts(np.random.default_rng(1), 12, m, dtype)
        res = _solve(S[None, None], right, dtype, starts=starts)
        np.testing.assert_array_equal(res["oor"], bad)
        assert np.all(res["cert"][bad] == _FAIL)
        assert np.all(np.isinf(res["missed"][bad]))
        assert res["trG"][3] == 0.0
        assert np.isnan(res["trG"][4]) and np.isnan(res["trG"][5])
        # the other slabs are solved exactly as if alone
        alone = _solve(S[~bad][None, None], right, dtype, starts=starts[~bad])
        for key in ("V", "W", "trG", "theta", "missed", "cert"):
            np.testing.assert_array_equal(res[key][~bad], alone[key], err_msg=key)
        ok = _check_result(alone, S[~bad][None, None], right, dtype)
        assert ok.mean() >= 0.5


def dtype_scalar(dtype, x):
    return np.dtype(dtype).type(x)


# ----------------------------------------------------------------------------------------------
# adversarial slabs: the top singular direction orthogonal to the start's main part
# ----------------------------------------------------------------------------------------------


def _spread_unit(rng, m):
    """A unit vector orthogonal to ``e_0`` with every entry below 1/2 in magnitude."""
    while True:
        u = rng.standard_normal(m)
        u[0] = 0.0
        u /= np.linalg.norm(u)
        if np.max(np.abs(u)) < 0.5:
            return u


def _hidden_top(rng, c, s, p, dtype):
    """Slabs with ``S^T S = 4 u u^T + e_0 e_0^T`` and ``S S^T = 4 x x^T + e_0 e_0^T``: the largest
    Gram diagonal entry (1, at index 0) lies on the smaller singular direction, so a start
    built from that Gram row sees only the singular value 1, and the top one is 2."""
    S = np.zeros((c, s, p))
    for z in range(c):
        S[z] = 2.0 * np.outer(_spread_unit(rng, s), _spread_unit(rng, p))
        S[z, 0, 0] = 1.0
    return S.astype(dtype)


@pytest.mark.parametrize("dtype", REAL)
@pytest.mark.parametrize("right", [True, False])
def test_adversarial_slabs_get_no_false_certificate(dtype, right, rng):
    c, s, p = 16, 24, 40
    m = p if right else s
    S5 = _hidden_top(rng, c, s, p, dtype)[None, None]
    e0 = np.zeros((c, m), dtype=dtype)
    e0[:, 0] = 1.0
    # the random part of the start along e_0 too: the Krylov space never leaves span(e_0),
    # where the pair (1, e_0) looks converged; as a start and as a restart vector
    for kw in ({"starts": e0}, {"q0": e0}):
        res = _solve(S5, right, dtype, **kw)
        np.testing.assert_allclose(res["theta"], 1.0, rtol=rtol(dtype, m))
        assert np.all(res["cert"] == _FAIL), res["cert"]
        _check_result(res, S5, right, dtype)
    # random starts find the singular value 2, with an honest bound
    res = _solve(S5, right, dtype)
    ok = _check_result(res, S5, right, dtype)
    np.testing.assert_allclose(res["theta"][ok], 4.0, rtol=rtol(dtype, m))
    assert ok.mean() >= 0.5


# ----------------------------------------------------------------------------------------------
# the switch to the NumPy solver
# ----------------------------------------------------------------------------------------------


def test_fallback_when_the_compiled_solver_is_missing(monkeypatch, rng):
    A = rng.standard_normal((256, 256)).astype(np.float32)
    _, info_c = project_to_monarch(A, return_info=True)
    assert fused.available(np.float32) and fused.available("float64")
    assert driver._rank1_solver(np.dtype(np.float32)) is fused.solve_rank1
    monkeypatch.setattr(fused, "_loaded", {"mod": None, "why": "test"})
    assert fused.kernel() is None
    assert not fused.available(np.float32) and not fused.available(np.float64)
    assert fused.unavailable_reason() == "test"
    assert driver._rank1_solver(np.dtype(np.float32)) is kernel._lanczos1_numpy
    _, info_n = project_to_monarch(A, return_info=True)
    assert info_n.error == pytest.approx(info_c.error, rel=1e-6)
    monkeypatch.undo()
    assert fused.unavailable_reason() is None and fused.available(np.float32)


def test_compiled_option():
    assert not fused.available(np.complex64) and not fused.available(np.float16)
    assert fused.available(np.float32)
    with solver_options(compiled=False) as o:
        assert o.compiled is False
        assert not fused.available(np.float32) and not fused.available(np.float64)
        assert driver._rank1_solver(np.dtype(np.float64)) is kernel._lanczos1_numpy
    assert fused.available(np.float64)
    for bad in (1, 0, "yes", None):
        with pytest.raises(TypeError, match="compiled"):
            SolverOptions(compiled=bad)
        with pytest.raises(TypeError, match="compiled"):
            with solver_options(compiled=bad):
                pass


# ----------------------------------------------------------------------------------------------
# end to end: project_to_monarch with and without the compiled solver
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, dtype", [(1024, "float32"), (2304, "float64")])
def test_projection_compiled_and_numpy_agree(n, dtype):
    A = np.random.default_rng(n).standard_normal((n, n)).astype(dtype)
    out = {}
    for compiled in (True, False):
        with solver_options(compiled=compiled):
            _, out[compiled] = project_to_monarch(A, return_info=True)
    ic, inp = out[True], out[False]
    assert ic.error == pytest.approx(inp.error, rel=1e-6)
    cc = {c: int(np.sum(ic.certificates == c)) for c in ("trace", "inertia", "svd")}
    cn = {c: int(np.sum(inp.certificates == c)) for c in ("trace", "inertia", "svd")}
    for c in cc:
        assert abs(cc[c] - cn[c]) <= 4, (cc, cn)
    # the per-slab optimum by one float64 SVD per slab (every slab rank 1 here)
    geo = ic.geometry
    assert np.all(ic.ranks == 1)
    S = slab_view(np, A.astype(np.float64)[None], geo)[0]
    sv = np.linalg.svd(S, compute_uv=False)
    disc_ref = np.sum(sv[..., 1:] ** 2, axis=-1)
    tg = np.sum(S * S, axis=(-2, -1))
    norm2 = float(tg.sum())
    e2_opt = disc_ref.sum() / norm2
    s, p = geo[4], geo[2]
    # the rounding of the reported energies: the compiled solver sums them in double
    # precision, the NumPy solver in the dtype of A
    for info, slack in ((ic, 1e-12), (inp, rtol(dtype, s * p))):
        disc = np.asarray(info.discarded)
        missed = np.asarray(info.missed)
        assert info.exponent == 0
        # each slab within its certified bound of its optimum
        assert np.all(disc - disc_ref <= missed + slack * tg), np.max(disc - disc_ref - missed)
        assert np.all(disc_ref - disc <= slack * tg), np.max((disc_ref - disc) / tg)
        assert info.error**2 - e2_opt <= info.gap + slack
        assert info.error**2 - e2_opt >= -slack


# ----------------------------------------------------------------------------------------------
# start vectors drawn inside the compiled loop from a key
# ----------------------------------------------------------------------------------------------


def test_start_vectors_from_a_key_are_uniform_and_reproducible():
    v = fused.start_vectors(np.uint64(7), 2000, 64, np.float64)
    assert v.shape == (2000, 64)
    assert np.all((v >= -1) & (v < 1))
    # mean 0 and variance 1/3 of the uniform distribution, to a few standard errors
    assert abs(v.mean()) < 4 * math.sqrt(1 / 3 / v.size)
    assert abs(v.var() - 1 / 3) < 0.01
    # neighbouring entries and slabs uncorrelated
    assert abs(np.corrcoef(v[:, 0], v[:, 1])[0, 1]) < 0.1
    assert abs(np.corrcoef(v[:-1].ravel(), v[1:].ravel())[0, 1]) < 0.02
    np.testing.assert_array_equal(v, fused.start_vectors(np.uint64(7), 2000, 64, np.float64))
    assert not np.array_equal(v, fused.start_vectors(np.uint64(8), 2000, 64, np.float64))
    key = fused.start_key(np.random.default_rng(3))
    assert key == fused.start_key(np.random.default_rng(3))


@pytest.mark.parametrize("dtype", REAL)
def test_solve_rank1_with_a_key(dtype, rng):
    S5, _ = _gauss_slabs(rng, 400, 400, None, dtype)
    nb, k, l, s, p = S5.shape
    n = nb * k * l
    steps = _steps(dtype, p)
    mg = _margins(dtype, s, p)
    a = fused.solve_rank1(S5, np.arange(n), True, steps, mg, np.uint64(11))
    b = fused.solve_rank1(S5, np.arange(n), True, steps, mg, np.uint64(11))
    c = fused.solve_rank1(S5, np.arange(n), True, steps, mg, np.uint64(12))
    for key in ("V", "W", "theta", "cert", "missed"):
        np.testing.assert_array_equal(a[key], b[key])  # the same key: the same bits
    assert not np.array_equal(a["V"], c["V"])  # another key: other starts
    for res in (a, c):
        _check_result(res, S5, True, dtype)
    # the explicit stack of the same start vectors gives the same certificates
    v = fused.start_vectors(np.uint64(11), n, p, np.float64)
    starts = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(dtype)
    d = fused.solve_rank1(S5, np.arange(n), True, steps, mg, starts)
    assert np.mean(d["cert"] == a["cert"]) >= 0.95


def test_no_slabs_and_broadcast_input():
    S5 = np.ones((1, 2, 2, 8, 8), np.float32)
    res = fused.solve_rank1(S5, np.arange(0), True, 4, _margins("float32", 8, 8), np.uint64(1))
    assert res["V"].shape == (0, 8, 1) and res["W"].shape == (0, 8) and res["cert"].size == 0
    # rows or columns broadcast (stride 0): every slab is rank 1, the projection exact
    rng = np.random.default_rng(0)
    for B in (
        np.broadcast_to(rng.standard_normal(1024).astype(np.float32), (1024, 1024)),
        np.broadcast_to(rng.standard_normal((1024, 1)).astype(np.float32), (1024, 1024)),
    ):
        M, info = project_to_monarch(B, return_info=True)
        assert info.solvers["lanczos"] == 1024
        assert projection_error(B, M) <= 64 * np.finfo(np.float32).eps
