"""Tests of project_to_monarch, projection_error, monarch_factors and factor_mm_star.

Every optimality statement is checked against an independent reference written here: the
slabs (rows ``d l + b``, columns ``a p + j``) cut out of a float64/complex128 copy of ``A`` with
plain slicing, one
``numpy.linalg.svd`` per slab, truncated at the slab's number of connecting middle indices.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import structmat
from structmat import (
    DFT,
    Monarch,
    Permutation,
    factor_mm_star,
    monarch_factors,
    project_to_monarch,
    projection_error,
)
from structmat.ops.monarch import monarch_geometry
from structmat.projection import (
    certificate,
    driver,
    fused,
    kernel,
    mmstar,
    solver_options,
    solvers,
    tridiag,
)

from .conftest import to_numpy
from .tolerance import assert_close, rtol

DTYPES = ["float64", "float32", "complex128", "complex64"]

# drawn geometries include degenerate ones on purpose (the warning has its own tests)
pytestmark = pytest.mark.filterwarnings("ignore::structmat.StructmatWarning")


# ----------------------------------------------------------------------------------------------
# independent reference
# ----------------------------------------------------------------------------------------------


def reference(A, geometry):
    """(optimal dense M, discarded energy per slab (k, l)) by one full SVD per slab."""
    k, q, p, l, s, r = geometry
    A = np.asarray(A)
    wide = np.complex128 if np.iscomplexobj(A) else np.float64
    A = A.astype(wide)
    M = np.zeros_like(A)
    disc = np.zeros((k, l))
    for a in range(k):
        for b in range(l):
            rank = sum(1 for i in range(q) if (a * q + i) % l == b)
            S = A[b::l, a * p : (a + 1) * p]
            U, sv, Vh = np.linalg.svd(S, full_matrices=False)
            disc[a, b] = float(np.sum(sv[rank:] ** 2))
            M[b::l, a * p : (a + 1) * p] = (U[:, :rank] * sv[:rank]) @ Vh[:rank]
    return M, disc


def random_matrix(rng, shape, dtype):
    A = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        A = A + 1j * rng.standard_normal(shape)
    return A.astype(dtype)


@st.composite
def geometries(draw):
    """(n_out, n_in, nblocks) covering None, int and pair forms, square and rectangular."""
    kind = draw(st.sampled_from(["none", "int", "pair"]))
    if kind == "none":
        return draw(st.integers(2, 48)), draw(st.integers(2, 48)), None
    k = draw(st.integers(1, 6))
    l = k if kind == "int" else draw(st.integers(1, 6))
    mid = math.lcm(k, l) * draw(st.integers(1, 3))
    v = draw(st.integers(1, 3))
    if draw(st.booleans()):
        n_out, n_in = mid, mid * v
    else:
        n_out, n_in = mid * v, mid
    return n_out, n_in, (k if kind == "int" else (k, l))


def err_tol(dtype, n_out, n_in):
    """Absolute tolerance on a relative Frobenius error (a number in [0, 1])."""
    return rtol(dtype, max(n_out, n_in), depth=2)


# ----------------------------------------------------------------------------------------------
# optimality
# ----------------------------------------------------------------------------------------------


@given(geo=geometries(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_error_equals_slab_svd_reference(geo, dtype, seed):
    n_out, n_in, nb = geo
    A = random_matrix(np.random.default_rng(seed), (n_out, n_in), dtype)
    M, info = project_to_monarch(A, nb, return_info=True)
    geometry = monarch_geometry(n_in, n_out, nb)
    assert M.geometry == geometry and M.shape == (n_out, n_in)
    assert M.dtype == A.dtype and M.L.dtype == A.dtype
    Mref, disc_ref = reference(A, geometry)
    e_ref = math.sqrt(disc_ref.sum() / np.sum(np.abs(A.astype(np.complex128)) ** 2))
    tol = err_tol(dtype, n_out, n_in)
    e = projection_error(A, M)
    assert abs(e - e_ref) <= tol, (e, e_ref, info.solvers)
    # the dense error agrees, and so does the error predicted from the discarded energies
    dense = np.asarray(M.to_dense()).astype(np.complex128)
    e_dense = np.linalg.norm(A - dense) / np.linalg.norm(A.astype(np.complex128))
    assert abs(e_dense - e_ref) <= tol
    assert abs(info.error - e_ref) <= math.sqrt(tol)  # energies: accurate to eps * ||A||^2
    norm2 = np.sum(np.abs(A.astype(np.complex128)) ** 2)
    np.testing.assert_allclose(to_numpy(info.discarded), disc_ref, rtol=0, atol=tol * norm2)
    assert info.ranks.sum() == geometry[0] * geometry[1]


@given(
    geo=geometries(),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**16),
    batch=st.sampled_from([(), (2,)]),
)
def test_slab_singular_values_match_per_slab_svd(geo, dtype, seed, batch):
    n_out, n_in, nb = geo
    A = random_matrix(np.random.default_rng(seed), batch + (n_out, n_in), dtype)
    sv, ranks = structmat.slab_singular_values(A, nb)
    k, q, p, l, s, r = monarch_geometry(n_in, n_out, nb)
    assert sv.shape == batch + (k, l, min(s, p)) and ranks.shape == (k, l)
    assert sv.dtype == np.finfo(A.dtype).dtype
    _, info = project_to_monarch(A, nb, return_info=True)
    for e, A1 in enumerate(A.reshape((-1, n_out, n_in))):
        sv1 = sv.reshape((-1, k, l, min(s, p)))[e]
        wide = A1.astype(np.complex128)
        for a in range(k):
            for b in range(l):
                ref = np.linalg.svd(wide[b::l, a * p : (a + 1) * p], compute_uv=False)
                assert_close(sv1[a, b], ref, dtype, max(s, p), depth=2)
        # the discarded values square-sum to the projection's discarded energies
        disc = np.array(
            [
                [np.sum(sv1[a, b, ranks[a, b] :].astype(np.float64) ** 2) for b in range(l)]
                for a in range(k)
            ]
        )
        norm2 = float(np.sum(np.abs(wide) ** 2))
        np.testing.assert_allclose(
            to_numpy(info.discarded).reshape((-1, k, l))[e],
            disc,
            rtol=0,
            atol=err_tol(dtype, n_out, n_in) * norm2,
        )


def test_slab_singular_values_backends(xp):
    A = np.random.default_rng(3).standard_normal((24, 36))
    sv, ranks = structmat.slab_singular_values(xp.asarray(A), (4, 3))
    ref, _ = structmat.slab_singular_values(A, (4, 3))
    assert_close(to_numpy(sv), ref, "float64", 36, depth=2)
    with pytest.raises(ValueError, match="NaN or Inf"):
        structmat.slab_singular_values(np.full((4, 4), np.nan))


@given(geo=geometries(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_residual_is_orthogonal_to_the_projection(geo, dtype, seed):
    n_out, n_in, nb = geo
    A = random_matrix(np.random.default_rng(seed), (n_out, n_in), dtype)
    M = np.asarray(project_to_monarch(A, nb).to_dense()).astype(np.complex128)
    A = A.astype(np.complex128)
    E = A - M
    na2 = np.sum(np.abs(A) ** 2)
    tol = rtol(dtype, max(n_out, n_in), depth=2)
    assert abs(np.vdot(E, M)) <= tol * na2
    assert abs(na2 - np.sum(np.abs(M) ** 2) - np.sum(np.abs(E) ** 2)) <= tol * na2


@given(geo=geometries(), seed=st.integers(0, 2**16), scale=st.sampled_from([1e-3, 1e-1, 1.0]))
def test_perturbing_the_factors_never_lowers_the_error(geo, seed, scale):
    n_out, n_in, nb = geo
    rng = np.random.default_rng(seed)
    A = random_matrix(rng, (n_out, n_in), "float64")
    M = project_to_monarch(A, nb)
    e0 = projection_error(A, M)
    for _ in range(4):
        dL = rng.standard_normal(M.L.shape) * scale * (np.abs(M.L).max() + 1e-12)
        dR = rng.standard_normal(M.R.shape) * scale * (np.abs(M.R).max() + 1e-12)
        for L, R in ((M.L + dL, M.R), (M.L, M.R + dR), (M.L + dL, M.R + dR)):
            assert projection_error(A, Monarch(L, R)) >= e0 - err_tol("float64", n_out, n_in)


# ----------------------------------------------------------------------------------------------
# idempotence and invariances
# ----------------------------------------------------------------------------------------------


@given(geo=geometries(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_projecting_a_monarch_matrix_returns_it(geo, dtype, seed):
    n_out, n_in, nb = geo
    M0 = Monarch.random(n_in, n_out, nblocks=nb, seed=seed, dtype=dtype)
    D = np.asarray(M0.to_dense())
    M, info = project_to_monarch(D, nb, return_info=True)
    assert_close(np.asarray(M.to_dense()), D, dtype, max(n_in, n_out), depth=2, what="idempotence")
    assert projection_error(D, M) <= rtol(dtype, max(n_in, n_out), depth=2)
    assert info.error <= rtol(dtype, max(n_in, n_out), depth=2)  # measured, not cancelled


def test_idempotent_in_mixed_rank_and_rank_zero_geometries():
    cases = [(96, 96, 8), (64, 64, (4, 8)), (16, 16, (4, 8)), (24, 36, (4, 3)), (30, 30, (5, 3))]
    for n_out, n_in, nb in cases:
        k, q, p, l, s, r = monarch_geometry(n_in, n_out, nb)
        ranks = structmat.ops.monarch.slab_ranks(k, q, l)
        for dtype in ("float32", "complex128"):
            M0 = Monarch.random(n_in, n_out, nblocks=nb, seed=1, dtype=dtype)
            D = np.asarray(M0.to_dense())
            M, info = project_to_monarch(D, nb, return_info=True)
            assert_close(
                np.asarray(M.to_dense()),
                D,
                dtype,
                max(n_in, n_out),
                depth=2,
                what=f"{(n_out, n_in, nb)} ranks {sorted(set(ranks.ravel()))}",
            )
    # (16, 16, (4, 8)) has slabs of rank 0: they are reported and kept at zero
    _, info = project_to_monarch(np.ones((16, 16)), (4, 8), return_info=True)
    assert info.solvers["zero"] == 16 and (info.ranks == 0).sum() == 16


@given(
    geo=geometries(),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**16),
    c=st.sampled_from([2.5, -0.3, 1e-3, 1j, 0.6 - 0.8j]),
)
def test_scaling_the_input_scales_the_projection(geo, dtype, seed, c):
    n_out, n_in, nb = geo
    if isinstance(c, complex) and not dtype.startswith("complex"):
        c = abs(c)
    A = random_matrix(np.random.default_rng(seed), (n_out, n_in), dtype)
    cA = (c * A).astype(dtype)
    M = np.asarray(project_to_monarch(A, nb).to_dense())
    cM = np.asarray(project_to_monarch(cA, nb).to_dense())
    # the projection is unique when singular values are separated (random data)
    assert_close(cM, c * M, dtype, max(n_in, n_out), depth=4, what="c * A")


@pytest.mark.parametrize("n, b", [(16, 4), (64, 8), (128, 8), (96, 4), (256, 16)])
@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
def test_dft_with_its_input_permutation_is_monarch(n, b, dtype):
    F = np.asarray(DFT(n).to_dense()).astype(dtype)
    P = np.asarray(Permutation.transpose_perm(n // b, b).to_dense())
    FP = (F @ P).astype(dtype)
    nb = (n // b, b)
    M = project_to_monarch(FP, nb)
    assert projection_error(FP, M) <= rtol(dtype, n, depth=2)
    # F itself is not: each of its slabs is F_q times a unitary diagonal (all singular values
    # equal), so exactly the fraction 1/b of the energy survives
    e = projection_error(F, project_to_monarch(F, nb))
    assert abs(e - math.sqrt(1 - 1 / b)) <= rtol(dtype, n, depth=2)


# ----------------------------------------------------------------------------------------------
# solvers: Lanczos, certificate, fallback
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "complex64"])
def test_lanczos_path_is_optimal_at_its_natural_size(dtype):
    # n = 1024: 1024 slabs of 32 x 32, rank 1 -> the Lanczos solver (float32 threshold)
    A = random_matrix(np.random.default_rng(7), (1024, 1024), dtype)
    M, info = project_to_monarch(A, return_info=True)
    assert info.solvers.get("lanczos", 0) > 900
    _, disc = reference(A, M.geometry)
    e_ref = math.sqrt(disc.sum() / np.sum(np.abs(A.astype(np.complex128)) ** 2))
    assert abs(projection_error(A, M) - e_ref) <= err_tol(dtype, 1024, 1024)


@pytest.mark.parametrize("steps, expect", [(12, "lanczos"), (2, "svd")])
@pytest.mark.parametrize("dtype", ["float64", "complex128", "float32"])
def test_lanczos_certificate_and_svd_fallback(opts, steps, expect, dtype):
    opts(lanczos_min_order=4, lanczos_steps=steps)
    rng = np.random.default_rng(3)
    A = random_matrix(rng, (400, 400), dtype)  # 400 slabs of 20 x 20
    A[:20, :20] = 0.0  # a zero slab (breakdown at once)
    A[20:40, 20:40] = 1.0  # a rank-1 slab
    M, info = project_to_monarch(A, return_info=True)
    assert info.solvers.get(expect, 0) > 0, info.solvers
    _, disc = reference(A, M.geometry)
    e_ref = math.sqrt(disc.sum() / np.sum(np.abs(A.astype(np.complex128)) ** 2))
    assert abs(projection_error(A, M) - e_ref) <= err_tol(dtype, 400, 400)


# The NumPy rank-1 path (cache-blocked Lanczos over threads).  Its thresholds are lowered so
# that small matrices take it: every slab order >= 4, three Lanczos steps short of the order,
# tasks of a few slabs (partial R-blocks, runs broken by other slab kinds and batch edges).
FAST_CASES = [
    # (n_out, n_in, nblocks, batch)
    (400, 400, None, ()),  # 400 square slabs of 20 x 20
    (200, 800, (20, 10), ()),  # slabs 20 x 40: the Gram of the smaller (left) side
    (800, 200, (10, 20), ()),  # slabs 40 x 20
    (96, 96, 8, ()),  # ranks 1 and 2 mixed: rank-1 slabs are not contiguous
    (144, 144, None, (2, 3)),  # a batch: runs of slabs break at every matrix
]


@pytest.fixture
def opts():
    """``opts(**changes)`` applies :func:`solver_options` until the end of the test."""
    with contextlib.ExitStack() as stack:
        yield lambda **kw: stack.enter_context(solver_options(**kw))


def _small_fast_path(opts, task_bytes, dtype="float32"):
    steps = 6 if np.finfo(dtype).eps > 1e-10 else 7
    opts(lanczos_min_order=4, lanczos_steps=steps, task_bytes=task_bytes)


@pytest.mark.parametrize("case", FAST_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "task_bytes, threads, compiled",
    [
        (4096, "1", False),
        (20000, "2", False),
        (1 << 22, "3", False),
        (0, "1", True),
        (0, "3", True),
    ],
)
def test_fast_rank1_path_is_optimal(monkeypatch, opts, case, dtype, task_bytes, threads, compiled):
    _small_fast_path(opts, task_bytes, dtype)
    opts(compiled=compiled)
    monkeypatch.setenv("STRUCTMAT_NUM_THREADS", threads)
    n_out, n_in, nb, batch = case
    calls = []
    # the compiled solver serves real dtypes where Numba runs; the NumPy solver the others
    owner, name = (
        (fused, "solve_rank1")
        if compiled and fused.available(dtype)
        else (driver, "_lanczos1_numpy")
    )
    real = getattr(owner, name)
    monkeypatch.setattr(owner, name, lambda *a, **k: calls.append(1) or real(*a, **k))
    A = random_matrix(np.random.default_rng(11), batch + (n_out, n_in), dtype)
    res, info = project_to_monarch(A, nb, return_info=True)
    assert calls, info.solvers
    rank1 = int((info.ranks == 1).sum()) * math.prod(batch)
    assert info.solvers.get("lanczos", 0) + info.solvers.get("svd", 0) == rank1, info.solvers
    mats = [res] if not batch else [m for row in res for m in row]
    for A1, M, disc in zip(
        A.reshape((-1, n_out, n_in)),
        mats,
        to_numpy(info.discarded).reshape((len(mats),) + info.ranks.shape),
    ):
        assert M.dtype == A.dtype
        _, disc_ref = reference(A1, M.geometry)
        norm2 = float(np.sum(np.abs(A1.astype(np.complex128)) ** 2))
        e_ref = math.sqrt(disc_ref.sum() / norm2)
        tol = err_tol(dtype, n_out, n_in)
        assert abs(projection_error(A1, M) - e_ref) <= tol
        np.testing.assert_allclose(disc, disc_ref, rtol=0, atol=tol * norm2)


def test_fast_path_special_slabs(opts):
    # exactly rank-1 slabs (Krylov breakdown at the first step), zero slabs, and slabs whose
    # two top singular values are equal (any unit vector of the top pair is optimal)
    _small_fast_path(opts, 4096)
    opts(lanczos_steps=12)
    rng = np.random.default_rng(2)
    A = rng.standard_normal((400, 400)).astype(np.float32)
    l = p = 20
    for a in range(0, 20, 3):
        for b in range(0, 20, 4):
            u, v = rng.standard_normal(20), rng.standard_normal(20)
            A[b::l, a * p : (a + 1) * p] = np.outer(u, v)
    A[1::l, 2 * p : 3 * p] = 0.0
    A[2::l, 5 * p : 6 * p] = np.eye(20) * 3.0
    M, info = project_to_monarch(A, return_info=True)
    assert info.solvers.get("lanczos", 0) > 350, info.solvers
    _, disc_ref = reference(A, M.geometry)
    norm2 = float(np.sum(A.astype(np.float64) ** 2))
    assert abs(projection_error(A, M) - math.sqrt(disc_ref.sum() / norm2)) <= err_tol(
        "float32", 400, 400
    )
    # the exactly rank-1 slabs are reproduced, and their discarded energy is measured as ~0
    D = np.asarray(M.to_dense())
    assert_close(D[0::l, 0:p], A[0::l, 0:p], "float32", 20, depth=2)
    assert to_numpy(info.discarded)[0, 0] <= rtol("float32", 20) * norm2 * 1e-3


@pytest.mark.parametrize("dtype", ["float32", "complex64"])
def test_low_rank_slabs_certify_despite_repeated_ritz_values(dtype):
    # low rank plus 1 % noise: the top pair converges early and plain Lanczos repeats its Ritz
    # value; the certificate must see through the copies (no mass fallback to SVD) and the
    # result must still be optimal
    rng = np.random.default_rng(8)
    low = random_matrix(rng, (1024, 8), dtype) @ random_matrix(rng, (8, 1024), dtype)
    A = (low + 0.01 * np.linalg.norm(low) / 1024 * random_matrix(rng, (1024, 1024), dtype)).astype(
        dtype
    )
    M, info = project_to_monarch(A, return_info=True)
    assert info.solvers.get("svd", 0) <= 10 and info.solvers.get("lanczos", 0) >= 1014, info.solvers
    _, disc_ref = reference(A, M.geometry)
    norm2 = float(np.sum(np.abs(A.astype(np.complex128)) ** 2))
    assert abs(projection_error(A, M) - math.sqrt(disc_ref.sum() / norm2)) <= err_tol(
        dtype, 1024, 1024
    )
    np.testing.assert_allclose(
        to_numpy(info.discarded), disc_ref, rtol=0, atol=err_tol(dtype, 1024, 1024) * norm2
    )


def test_fast_path_restarts_and_falls_back(opts):
    # two steps cannot certify Gaussian slabs: restarts, then a full SVD, still optimal
    opts(lanczos_min_order=4, lanczos_steps=2)
    A = random_matrix(np.random.default_rng(4), (400, 400), "float64")
    M, info = project_to_monarch(A, return_info=True)
    assert info.solvers.get("svd", 0) > 0
    _, disc_ref = reference(A, M.geometry)
    assert abs(projection_error(A, M) - math.sqrt(disc_ref.sum() / np.sum(A**2))) <= err_tol(
        "float64", 400, 400
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fast_path_long_restart_spares_full_svds(monkeypatch, opts, dtype):
    # eight steps (restarts of four) leave many 20 x 20 Gaussian slabs uncertified; one more
    # restart of the full eight steps from their Ritz vectors certifies most of those, where a
    # full SVD would be taken otherwise; both results are optimal
    from structmat.projection import driver

    opts(lanczos_min_order=4, lanczos_steps=8)
    A = random_matrix(np.random.default_rng(4), (400, 400), dtype)
    M, info = project_to_monarch(A, return_info=True)
    _, disc_ref = reference(A, M.geometry)
    e_ref = math.sqrt(disc_ref.sum() / np.sum(A.astype(np.float64) ** 2))
    orig = driver._redo_fast1
    monkeypatch.setattr(driver, "_redo_fast1", lambda *a, **k: orig(*a, **{**k, "long_steps": 0}))
    M0, info0 = project_to_monarch(A, return_info=True)
    assert info.solvers["svd"] < info0.solvers["svd"] / 3, (info.solvers, info0.solvers)
    for Mx in (M, M0):
        assert abs(projection_error(A, Mx) - e_ref) <= err_tol(dtype, 400, 400)


def test_fast_path_does_not_depend_on_the_thread_count(monkeypatch, opts):
    _small_fast_path(opts, 20000)
    A = random_matrix(np.random.default_rng(5), (400, 400), "float32")
    out = []
    for threads in ("1", "2"):
        monkeypatch.setenv("STRUCTMAT_NUM_THREADS", threads)
        out.append(np.asarray(project_to_monarch(A).to_dense()))
    assert_close(out[1], out[0], "float32", 400, depth=4)


def test_solver_options_are_validated_and_scoped():
    with solver_options(lanczos_steps=3) as o:
        assert o.lanczos_steps == 3
        with solver_options(task_bytes=10):
            from structmat.projection import current_options

            assert current_options().lanczos_steps == 3 and current_options().task_bytes == 10
    from structmat.projection import current_options

    assert current_options().lanczos_steps is None
    with pytest.raises(TypeError, match="unknown option"):
        with solver_options(steps=3):
            pass
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="lanczos_steps"):
            with solver_options(lanczos_steps=bad):
                pass


def test_nonfinite_and_overflowing_input_on_every_path(opts):
    _small_fast_path(opts, 4096)
    for dtype in ("float32", "complex64", "float64"):
        A = random_matrix(np.random.default_rng(6), (400, 400), dtype)
        for bad in (np.nan, np.inf):
            B = A.copy()
            B[123, 321] = bad
            with pytest.raises(ValueError, match="NaN or Inf"):
                project_to_monarch(B)
            with pytest.raises(ValueError, match="NaN or Inf"):
                project_to_monarch(B, nblocks=(20, 10))  # rank-2 slabs: eigh path
    # entries whose squares overflow the dtype project as well (each slab is scaled by a power
    # of two first): a constant matrix is Monarch, its projection exact
    for value in (3e30, 3e38):
        big = np.full((400, 400), value, dtype=np.float32)
        M, info = project_to_monarch(big, return_info=True)
        assert np.all(np.isfinite(np.asarray(M.to_dense())))
        assert projection_error(big, M) <= rtol("float32", 400, depth=2)
        assert info.error <= rtol("float32", 400, depth=2) and math.isfinite(info.norm_sq)


@given(data=st.data())
def test_fast_tasks_partition_the_slabs(data):
    nb = data.draw(st.integers(1, 3))
    k = data.draw(st.integers(1, 5))
    l = data.draw(st.integers(1, 7))
    cap = data.draw(st.integers(1, 20))
    Z = nb * k * l
    keep = data.draw(st.lists(st.booleans(), min_size=Z, max_size=Z))
    zs = np.nonzero(keep)[0]
    tasks = kernel._fast_tasks(zs, (nb, k, l), cap)
    pos = 0
    for t0, t1, e, a, na, b, nbb in tasks:
        assert t0 == pos and t1 - t0 == na * nbb <= max(cap, l if b == 0 and nbb == l else cap)
        assert 1 <= t1 - t0 <= cap or (nbb == l and na * l <= cap)
        covered = [(e * k + a + i) * l + b + j for i in range(na) for j in range(nbb)]
        assert covered == zs[t0:t1].tolist()
        pos = t1
    assert pos == zs.size


def test_start_vectors_pick_the_largest_diagonal_column(rng):
    import array_api_compat.numpy as npx

    G = rng.standard_normal((5, 6, 6))
    G = G @ G.transpose(0, 2, 1)
    r = rng.standard_normal((5, 6))
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    q = solvers._start_vectors(npx, G, r)
    i = np.argmax(np.diagonal(G, axis1=1, axis2=2), axis=1)
    col = G[np.arange(5), :, i]
    expect = col / np.linalg.norm(col, axis=1, keepdims=True) + 0.1 * r
    expect /= np.linalg.norm(expect, axis=1, keepdims=True)
    np.testing.assert_allclose(q, expect, rtol=1e-12)
    # a zero Gram matrix still gives a unit start (its random part)
    q0 = solvers._start_vectors(npx, np.zeros((1, 6, 6)), r[:1])
    np.testing.assert_allclose(q0, r[:1], rtol=1e-12)


@pytest.mark.parametrize("dense_max", [0, 10**6])
def test_tridiagonal_top_pair_matches_eigh(rng, opts, dense_max):
    # both solvers: the vectorised bisection (many matrices) and the dense eigh (few)
    opts(tridiag_dense_max=dense_max)
    for K in (1, 2, 5, 20):
        Z = 64
        alpha = rng.standard_normal((K, Z))
        beta = np.abs(rng.standard_normal((K - 1, Z)))
        beta[:, :8] = 0.0  # decoupled (broken-down) cases
        with np.errstate(divide="ignore", invalid="ignore"):
            th1, th2, Y = tridiag._tridiag_top(np, alpha, beta)
        for z in range(Z):
            T = np.diag(alpha[:, z]) + np.diag(beta[:, z], 1) + np.diag(beta[:, z], -1)
            w = np.linalg.eigvalsh(T)
            scale = max(np.abs(w).max(), 1.0)
            assert abs(th1[z] - w[-1]) <= 1e-9 * scale
            if K > 1:
                assert th2[z] >= w[-2] - 1e-12 * scale and th2[z] <= w[-1] + 1e-6 * scale
            # Y is a unit vector achieving the top eigenvalue (eigenvector when it is simple)
            y = Y[:, z]
            assert abs(np.linalg.norm(y) - 1) < 1e-12
            assert np.linalg.norm(T @ y - th1[z] * y) <= 1e-6 * scale


# ----------------------------------------------------------------------------------------------
# backends and batches
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "complex64"])
def test_backends_agree_with_numpy(xp, dtype):
    rng = np.random.default_rng(5)
    for shape, nb in (((48, 48), None), ((24, 36), (4, 3)), ((96, 96), 8)):
        A = random_matrix(rng, shape, dtype)
        Ax = xp.asarray(A)
        M, info = project_to_monarch(Ax, nb, return_info=True)
        assert B_name(M.L) == B_name(Ax)
        Mn = project_to_monarch(A, nb)
        assert_close(to_numpy(M.to_dense()), np.asarray(Mn.to_dense()), dtype, max(shape), depth=2)
        assert abs(projection_error(Ax, M) - projection_error(A, Mn)) <= err_tol(dtype, *shape)
        assert abs(info.error - projection_error(A, Mn)) <= math.sqrt(err_tol(dtype, *shape))


def test_backend_lanczos_path(xp):
    A = random_matrix(np.random.default_rng(9), (1024, 1024), "float32")
    M, info = project_to_monarch(xp.asarray(A), return_info=True)
    assert info.solvers.get("lanczos", 0) > 900
    e = projection_error(xp.asarray(A), M)
    assert abs(e - projection_error(A, project_to_monarch(A))) <= err_tol("float32", 1024, 1024)


def B_name(a):
    return structmat._backend.namespace_name(structmat._backend.get_namespace(a))


@given(
    geo=geometries(),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**16),
    batch=st.sampled_from([(1,), (3,), (2, 2)]),
)
def test_batched_input_projects_each_matrix(geo, dtype, seed, batch):
    n_out, n_in, nb = geo
    A = random_matrix(np.random.default_rng(seed), batch + (n_out, n_in), dtype)
    Ms, info = project_to_monarch(A, nb, return_info=True)
    k, q, p, l, s, r = monarch_geometry(n_in, n_out, nb)
    assert info.discarded.shape == batch + (k, l) and info.norm_sq.shape == batch
    errs = projection_error(A, Ms)
    assert errs.shape == batch
    for idx in np.ndindex(*batch):
        Mi = Ms
        for i in idx:
            Mi = Mi[i]
        assert isinstance(Mi, Monarch)
        single = project_to_monarch(A[idx], nb)
        assert_close(
            np.asarray(Mi.to_dense()),
            np.asarray(single.to_dense()),
            dtype,
            max(n_in, n_out),
            depth=2,
            what=f"batch element {idx}",
        )
        assert abs(errs[idx] - projection_error(A[idx], single)) <= err_tol(dtype, n_out, n_in)
    np.testing.assert_allclose(
        info.error, errs, rtol=0, atol=math.sqrt(err_tol(dtype, n_out, n_in))
    )


# ----------------------------------------------------------------------------------------------
# projection_error on its own
# ----------------------------------------------------------------------------------------------


@given(geo=geometries(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_projection_error_matches_dense(geo, dtype, seed):
    n_out, n_in, nb = geo
    rng = np.random.default_rng(seed)
    A = random_matrix(rng, (n_out, n_in), dtype)
    M = Monarch.random(n_in, n_out, nblocks=nb, seed=seed + 1, dtype=dtype)
    D = np.asarray(M.to_dense())
    expect = np.linalg.norm(A.astype(np.complex128) - D) / np.linalg.norm(A.astype(np.complex128))
    assert abs(projection_error(A, M) - expect) <= err_tol(dtype, n_out, n_in) * max(expect, 1)
    assert abs(projection_error(A, D) - expect) <= err_tol(dtype, n_out, n_in) * max(expect, 1)


def test_projection_error_other_operands():
    F = DFT(16)
    Fd = np.asarray(F.to_dense())
    assert projection_error(Fd, F) <= 1e-14
    assert projection_error(np.zeros((4, 4)), np.zeros((4, 4))) == 0.0
    assert projection_error(np.zeros((4, 4)), np.ones((4, 4))) == math.inf
    with pytest.raises(ValueError, match="shape"):
        projection_error(np.ones((16, 16)), Monarch.random(12, seed=0))
    with pytest.raises(ValueError, match="shape"):
        projection_error(np.ones((16, 16)), np.ones((16, 12)))
    with pytest.raises(ValueError, match="holds 1 matrices"):
        projection_error(np.ones((2, 16, 16)), [Monarch.random(16, seed=0)])
    with pytest.raises(TypeError, match="Monarch"):
        projection_error(np.ones((2, 16, 16)), [1.0, 2.0])


def test_projection_error_namespace_mismatch():
    import array_api_strict as xs

    M = Monarch.random(16, seed=0)
    with pytest.raises(TypeError, match="array_api_strict"):
        projection_error(xs.asarray(np.ones((16, 16))), M)


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [project_to_monarch, monarch_factors])
def test_bad_inputs(fn):
    good = np.ones((16, 16))
    for bad in (np.nan, np.inf, -np.inf):
        A = good.copy()
        A[3, 5] = bad
        with pytest.raises(ValueError, match="NaN or Inf"):
            fn(A)
    with pytest.raises(ValueError, match=r"Valid k: \[1, 2, 4, 8, 16\]"):
        fn(good, nblocks=3)
    with pytest.raises(ValueError, match="invalid nblocks"):
        fn(good, nblocks=(4, 5))
    with pytest.raises(ValueError, match="1-D"):
        fn(np.ones(16))
    with pytest.raises(ValueError, match="0-D"):
        fn(np.float64(1.0))
    with pytest.raises(ValueError, match="empty"):
        fn(np.ones((0, 4)))
    for dt in ("int64", "int32", "bool", "float16", "uint8"):
        with pytest.raises(TypeError, match="dtype"):
            fn(good.astype(dt))
    with pytest.raises(TypeError, match="array"):
        fn("not an array")
    with pytest.raises(TypeError, match="nblocks"):
        fn(good, nblocks=2.0)


def test_bad_keyword_values():
    with pytest.raises(TypeError, match="return_info"):
        project_to_monarch(np.ones((4, 4)), return_info="yes")
    with pytest.raises(ValueError, match="rtol"):
        monarch_factors(np.eye(4), rtol=-1.0)


def test_structured_and_list_inputs():
    F = DFT(16)
    M = project_to_monarch(F)
    assert projection_error(np.asarray(F.to_dense()), M) > 0.5
    L = project_to_monarch([[1.0, 2.0], [2.0, 4.0]])  # 2 x 2: one slab of rank 1
    assert np.allclose(np.asarray(L.to_dense()), [[1.0, 2.0], [2.0, 4.0]])


# ----------------------------------------------------------------------------------------------
# monarch_factors
# ----------------------------------------------------------------------------------------------


@given(geo=geometries(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_monarch_factors_recovers_monarch_matrices(geo, dtype, seed):
    n_out, n_in, nb = geo
    M0 = Monarch.random(n_in, n_out, nblocks=nb, seed=seed, dtype=dtype)
    D = np.asarray(M0.to_dense())
    M = monarch_factors(D, nb)
    assert M.geometry == M0.geometry
    assert_close(np.asarray(M.to_dense()), D, dtype, max(n_in, n_out), depth=2)


def test_monarch_factors_rejects_non_monarch_with_residual():
    A = np.random.default_rng(0).standard_normal((64, 64))
    with pytest.raises(ValueError, match=r"relative residual \d\.\d+e-0\d > tolerance"):
        monarch_factors(A)
    # a Monarch matrix plus a perturbation far above rounding
    D = np.asarray(Monarch.random(64, seed=1).to_dense())
    with pytest.raises(ValueError, match="relative residual"):
        monarch_factors(D + 1e-6 * A)
    assert monarch_factors(D + 1e-6 * A, rtol=1e-3).shape == (64, 64)
    # batched: all must pass
    stack = np.stack([D, D])
    Ms = monarch_factors(stack)
    assert len(Ms) == 2
    with pytest.raises(ValueError, match="relative residual"):
        monarch_factors(np.stack([D, A]))


# ----------------------------------------------------------------------------------------------
# factor_mm_star
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, nb, dtype",
    [
        (16, None, "float64"),
        (64, None, "float64"),
        (64, None, "complex128"),
        (64, (16, 4), "float64"),
        (64, (4, 16), "complex128"),
        (36, (9, 4), "float64"),
        (12, None, "complex128"),
        (256, None, "float64"),
        (256, 16, "float32"),
        (144, None, "complex64"),
        (64, 4, "float64"),  # an int k: (k, n // k)
    ],
)
def test_factor_mm_star_recovers_products(n, nb, dtype):
    k, l = mmstar._mm_star_blocks(n, nb)
    worst = []
    for seed in (1, 2):
        A1 = Monarch.random(n, nblocks=(k, l), seed=seed, dtype=dtype)
        A2 = Monarch.random(n, nblocks=(k, l), seed=seed + 10, dtype=dtype)
        M = np.asarray((A1 @ A2.H).to_dense())
        M1, M2 = factor_mm_star(M, nb)
        assert isinstance(M1, Monarch) and isinstance(M2, Monarch)
        assert M1.dtype == M.dtype and M1.geometry == monarch_geometry(n, n, (k, l))
        # M2 = Monarch(L2, I): a pure P L P^T factor
        assert np.allclose(np.asarray(M2.R), np.eye(l)[None])
        recon = np.asarray((M1 @ M2.H).to_dense())
        rel = np.linalg.norm(recon - M) / np.linalg.norm(M)
        # the factorisation inverts blocks of M~ (conditioning enters): the guarantee is the
        # function's own check, sqrt(eps) n^(1/4); typical products land far below it
        eps = np.finfo(M.dtype).eps
        assert rel <= math.sqrt(eps) * n**0.25, rel
        worst.append(rel)
    assert min(worst) <= 1e-2 * math.sqrt(eps) * n**0.25  # far below it, typically


def test_nblocks_has_one_meaning():
    # R gets k blocks; L gets k too where the geometry is free, the count the structure
    # fixes where it is not (Monarch forms of transforms, the MM* factorisation)
    from structmat.geometry import parse_nblocks, split_nblocks

    assert monarch_geometry(64, nblocks=4)[::3] == (4, 4)
    assert Monarch.random(64, nblocks=4, seed=0).nblocks == (4, 4)
    assert mmstar._mm_star_blocks(64, 4) == (4, 16)
    assert structmat.to_monarch(structmat.DFT(64), nblocks=4).factors[0].nblocks in (
        (4, 16),
        (16, 4),
    )
    assert split_nblocks(64, (4, 16), "x") == (4, 16)
    with pytest.raises(ValueError, match="k \\* l == 64"):
        split_nblocks(64, (4, 4), "x")
    with pytest.raises(TypeError):
        parse_nblocks(2.0)
    with pytest.raises(ValueError, match="pair"):
        parse_nblocks((1, 2, 3))


def test_factor_mm_star_backends(xp):
    A1, A2 = Monarch.random(64, seed=3), Monarch.random(64, seed=4)
    M = np.asarray((A1 @ A2.H).to_dense())
    M1, M2 = factor_mm_star(xp.asarray(M))
    assert B_name(M1.L) == B_name(xp.asarray(M))
    recon = to_numpy((M1 @ M2.H).to_dense())
    assert np.linalg.norm(recon - M) / np.linalg.norm(M) <= 1e-10


def test_factor_mm_star_rejects_matrices_outside_the_class():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="(relative residual|singular)"):
        factor_mm_star(rng.standard_normal((64, 64)))
    with pytest.raises(ValueError, match="singular"):
        factor_mm_star(np.zeros((16, 16)))
    # a Monarch product whose middle factor has zero entries violates the assumption
    A1, A2 = Monarch.random(16, seed=1), Monarch.random(16, seed=2)
    R = np.asarray(A1.R).copy()
    R[:, 0, :] = 0.0  # R1 R2^H gets a zero row in every block
    M = np.asarray((Monarch(A1.L, R) @ A2.H).to_dense())
    with pytest.raises(ValueError, match="(singular|relative residual)"):
        factor_mm_star(M)
    with pytest.raises(ValueError, match="square"):
        factor_mm_star(np.ones((16, 12)))
    with pytest.raises(ValueError, match=r"valid nblocks: \(1, 16\), \(2, 8\)"):
        factor_mm_star(np.eye(16), nblocks=(2, 4))
    with pytest.raises(ValueError, match="single square"):
        factor_mm_star(np.ones((2, 16, 16)))
    with pytest.raises(ValueError, match="NaN"):
        factor_mm_star(np.full((16, 16), np.nan))
    with pytest.raises(TypeError, match="dtype"):
        factor_mm_star(np.eye(16, dtype=int))


# ----------------------------------------------------------------------------------------------
# the certificate: it must reject what it cannot prove
# ----------------------------------------------------------------------------------------------


def _hidden_top_slabs(n_slabs, m, dtype, rng):
    """Slabs ``S`` (n_slabs, m, m) with ``S^H S = 4 u u^H + e_0 e_0^H``, ``u`` orthogonal to
    ``e_0``: a Krylov space started at ``e_0`` never sees the top eigenvalue 4."""
    S = np.zeros((n_slabs, m, m), dtype=dtype)
    for z in range(n_slabs):
        u = rng.standard_normal(m)
        u[0] = 0
        u /= np.linalg.norm(u)
        S[z, 0, :] = 2 * u
        S[z, 1, 0] = 1
    return S


@pytest.mark.parametrize("dtype", DTYPES)
def test_certificate_rejects_a_ritz_pair_that_missed_the_top(dtype, rng):
    # restarting the Lanczos solver at e_0 (q0) keeps it in span(e_0): theta = 1, r = 0, a
    # "converged" pair; neither the trace bound nor the inertia test may accept it
    m = 48
    S = _hidden_top_slabs(6, m, dtype, rng)
    mg = certificate._Margins(
        np.finfo(dtype).eps, m, m, eps_ritz=2.0**-52, cplx=np.dtype(dtype).kind == "c"
    )
    q0 = np.zeros((6, m), dtype=dtype)
    q0[:, 0] = 1
    starts = kernel._unit_starts(np.random.default_rng(0), 6, m, dtype)
    res = kernel._lanczos1_numpy(S[None, None], np.arange(6), True, 10, mg, starts, q0=q0)
    np.testing.assert_allclose(res["theta"], 1.0, rtol=1e-5)
    assert np.all(res["cert"] == certificate._FAIL), res["cert"]
    # from a random start the same slabs are solved and certified
    res = kernel._lanczos1_numpy(S[None, None], np.arange(6), True, 10, mg, starts)
    assert np.all(res["cert"] != certificate._FAIL)
    np.testing.assert_allclose(res["theta"], 4.0, rtol=1e-5)


def test_inertia_test_needs_the_shifted_gram(rng):
    # the Cholesky test on mu I - G + theta v v^H: positive definite exactly when no other
    # eigenvalue of G lies above mu (with the rounding margin)
    m = 40
    Q, _ = np.linalg.qr(rng.standard_normal((m, m)))
    lam = np.r_[10.0, 6.0, np.linspace(0, 5, m - 2)]
    G = (Q * lam) @ Q.T
    v = Q[:, 0]
    mg = certificate._Margins(2.0**-52, m, m)
    # just above lambda_2 = 6 the exact matrix is positive definite, but not provably so at
    # the rounding level: the margin must refuse it
    for mu, expect in ((7.0, True), (5.5, False), (6.0 + 1e-14, False)):
        H = (mu * np.eye(m) - G + 10.0 * np.outer(v, v))[None]
        c = mg.inertia_margin(np.trace(H[0])[None], np.array([np.trace(G)]), np.array([mu]))
        assert certificate._inertia_ok(np.ascontiguousarray(H), c)[0] == expect


def test_cholesky_ok_reports_each_matrix(rng):
    from structmat._lapack import cholesky_ok

    for dt in ("float32", "float64", "complex64", "complex128"):
        X = random_matrix(rng, (5, 7, 7), dt)
        H = np.conj(np.swapaxes(X, -1, -2)) @ X + 0.1 * np.eye(7, dtype=dt)
        H[2] -= 100 * np.eye(7, dtype=dt)  # indefinite
        assert cholesky_ok(np.ascontiguousarray(H)).tolist() == [True, True, False, True, True]
    with pytest.raises(ValueError, match="C-contiguous"):
        cholesky_ok(np.zeros((2, 3, 4)))


@pytest.mark.parametrize("dtype", ["float32", "complex128"])
def test_hidden_top_eigenvalue_is_found_and_certified(dtype, rng):
    # a whole matrix of such slabs through the public API: optimal, every slab certified
    n = 1024 if dtype == "float32" else 2304
    m = int(math.isqrt(n))
    A = np.zeros((n, n), dtype=dtype)
    S = _hidden_top_slabs(m * m, m, dtype, rng)
    for z in range(m * m):
        a, b = divmod(z, m)
        A[b::m, a * m : (a + 1) * m] = S[z]
    M, info = project_to_monarch(A, return_info=True)
    assert abs(projection_error(A, M) - math.sqrt(0.2)) <= 1e-6
    assert abs(info.error - math.sqrt(0.2)) <= 1e-6
    assert "none" not in set(info.certificates.ravel().tolist())


def test_info_bounds_are_honest_and_seeded(rng):
    A = rng.standard_normal((1024, 1024)).astype(np.float32)
    M, info = project_to_monarch(A, return_info=True)
    Mref, disc = reference(A, M.geometry)
    opt = math.sqrt(disc.sum() / np.sum(A.astype(np.float64) ** 2))
    err = projection_error(A, M)
    # the measured excess over the optimum is within the certified gap (plus the rounding of
    # evaluating the float32 factors, m eps^2 relative)
    eps = float(np.finfo(np.float32).eps)
    assert err**2 - opt**2 <= info.gap + 32 * eps**2 * 32
    assert 0 <= info.gap <= 8 * eps * math.sqrt(32) * opt**2 + (8 * 32 * eps) ** 2
    assert np.all(np.asarray(info.missed) >= 0)
    assert set(info.certificates.ravel().tolist()) <= {"trace", "inertia", "svd"}
    # reproducible: the same seed gives the same factors, another seed the same optimum
    M2 = project_to_monarch(A, seed=None)
    np.testing.assert_array_equal(np.asarray(M.L), np.asarray(M2.L))
    M3 = project_to_monarch(A, seed=np.random.default_rng(7))
    assert abs(projection_error(A, M3) - err) <= 1e-6
    with pytest.raises(TypeError, match="seed"):
        project_to_monarch(A, seed=1.5)


def test_every_scale_gives_the_same_relative_answer(rng):
    base = rng.standard_normal((256, 256))
    for dtype, scales in (
        ("float32", (1e-38, 1e-20, 1.0, 1e20, 1e38)),
        ("float64", (1e-300, 1e-150, 1.0, 1e150, 1e300)),
    ):
        ref = None
        for c in scales:
            A = (base * (c / 8)).astype(dtype)
            M, info = project_to_monarch(A, return_info=True)
            e1 = projection_error(A, M)
            if ref is None:
                ref = e1
            tol = 64 * float(np.finfo(dtype).eps)
            assert abs(e1 - ref) <= tol and abs(info.error - ref) <= tol, (dtype, c, e1, ref)
            sv, _ = structmat.slab_singular_values(A)
            sv0, _ = structmat.slab_singular_values(base)
            np.testing.assert_allclose(
                np.asarray(sv, np.float64) / (c / 8), sv0, rtol=0, atol=tol * float(sv0.max())
            )
    # subnormal entries: scaled up exactly before the solve
    A = (base * 1e-42).astype(np.float32)
    M, info = project_to_monarch(A, return_info=True)
    assert abs(info.error - projection_error(A, M)) <= 1e-3


def test_factor_mm_star_at_extreme_scales(rng):
    A1, A2 = Monarch.random(64, seed=1), Monarch.random(64, seed=2)
    Mx = (A1 @ A2.H).to_dense()
    for c in (1e-280, 1e280):
        M1, M2 = factor_mm_star(Mx * c)
        np.testing.assert_allclose((M1 @ M2.H).to_dense() / c, Mx, atol=1e-9 * np.abs(Mx).max())


def test_generic_path_refuses_a_missed_top_and_falls_back(xp, rng):
    # the array-API path (CuPy, strict) proves its gaps with eigvalsh of the shifted matrix;
    # started inside span(e_0) it must refuse the pair and hand the slab to the SVD
    m = 40
    S = _hidden_top_slabs(5, m, "float64", rng)
    Sx = xp.asarray(S)
    q0 = np.zeros((5, m))
    q0[:, 0] = 1
    mg = certificate._Margins(2.0**-52, m, m, from_gram=True)
    V, trG, cert, missed, _ = solvers._solve_generic(
        xp, Sx, 1, True, "lanczos", 8, mg, np.random.default_rng(0), q0=xp.asarray(q0)
    )
    assert np.all(cert == certificate._SVD), cert
    V = to_numpy(V)
    # the SVD found the hidden direction: |v . u| = 1 with u the top right singular vector
    for z in range(5):
        u = S[z, 0] / np.linalg.norm(S[z, 0])
        assert abs(abs(float(V[z, :, 0] @ u)) - 1) < 1e-10
    V2, _, cert2, _, _ = solvers._solve_generic(
        xp, Sx, 1, True, "lanczos", 8, mg, np.random.default_rng(0)
    )
    assert np.all(np.isin(cert2, (certificate._TRACE, certificate._INERTIA))), cert2


def test_big_endian_input_and_thread_setting(monkeypatch, rng):
    A = rng.standard_normal((128, 128))
    for dt in (">f8", ">f4", ">c16"):
        Ab = A.astype(dt)
        M = project_to_monarch(Ab)
        Mn = project_to_monarch(Ab.astype(Ab.dtype.newbyteorder("=")))
        np.testing.assert_array_equal(np.asarray(M.L), np.asarray(Mn.L))
        assert projection_error(Ab, M) == projection_error(
            Ab.astype(Ab.dtype.newbyteorder("=")), Mn
        )
        sv, _ = structmat.slab_singular_values(Ab)
        assert np.all(np.isfinite(np.asarray(sv)))
    monkeypatch.setenv("STRUCTMAT_NUM_THREADS", "abc")
    with pytest.raises(ValueError, match="STRUCTMAT_NUM_THREADS"):
        project_to_monarch(A[:16, :16])  # a small projection checks it too
