"""Structure families of the explorer against independent dense float64 references."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings, strategies as st

import structmat as sm
from structmat.explore import (
    alternating_projections,
    best_block_lowrank,
    best_blockdiag,
    best_kronecker,
    best_lowrank,
    best_monarch,
    best_sparse,
    monarch_nparams,
)

from .tolerance import assert_close, rtol


def _rand(shape, seed, dtype="float64"):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def _svd_tail(X, r):
    """sqrt of the energy of the singular values past ``r`` (float64 LAPACK gesvd)."""
    s = scipy.linalg.svd(
        np.asarray(X, dtype=np.complex128 if np.iscomplexobj(X) else np.float64),
        compute_uv=False,
        lapack_driver="gesvd",
    )
    return math.sqrt(float(np.sum(s[r:] ** 2)))


def _truncated(X, r):
    U, s, Vh = scipy.linalg.svd(X, full_matrices=False, lapack_driver="gesvd")
    return (U[:, :r] * s[:r]) @ Vh[:r]


@pytest.mark.parametrize("dtype", ["float64", "float32", "complex128"])
@pytest.mark.parametrize("shape,rank", [((12, 9), 3), ((7, 20), 1), ((10, 10), 10)])
def test_lowrank_is_the_truncated_svd(shape, rank, dtype):
    A = _rand(shape, 1, dtype)
    L = best_lowrank(A, rank)
    ref = _truncated(A.astype(np.complex128 if A.dtype.kind == "c" else np.float64), rank)
    assert L.nparams == rank * sum(shape)
    assert np.dtype(L.dtype) == np.dtype(dtype)
    assert_close(L.to_dense(), ref, dtype, max(shape), depth=2, what="rank-r SVD")


def test_kronecker_matches_the_rearranged_svd():
    m1, n1, m2, n2 = 3, 4, 5, 2
    A = _rand((m1 * m2, n1 * n2), 2)
    # independent rearrangement: one row per block A[a m2:(a+1) m2, b n2:(b+1) n2]
    R = np.stack(
        [
            A[a * m2 : (a + 1) * m2, b * n2 : (b + 1) * n2].ravel()
            for a in range(m1)
            for b in range(n1)
        ]
    )
    for t in (1, 2, 5):
        K = best_kronecker(A, (m1, n1), t)
        Rt = _truncated(R, t)
        ref = np.zeros_like(A)
        for a in range(m1):
            for b in range(n1):
                ref[a * m2 : (a + 1) * m2, b * n2 : (b + 1) * n2] = Rt[a * n1 + b].reshape(m2, n2)
        assert K.nparams == t * (m1 * n1 + m2 * n2)
        assert_close(K.to_dense(), ref, np.float64, A.shape[0], depth=2, what=f"t={t}")
        err = np.linalg.norm(A - K.to_dense())
        assert abs(err - _svd_tail(R, t)) <= rtol(np.float64, A.size) * np.linalg.norm(A)


def test_kronecker_recovers_an_exact_sum_of_products():
    rng = np.random.default_rng(3)
    A = sum(np.kron(rng.standard_normal((4, 3)), rng.standard_normal((2, 5))) for _ in range(2))
    K = best_kronecker(A, (4, 3), 2)
    assert_close(K.to_dense(), A, np.float64, 12, depth=2)


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize("tiles,rank", [((2, 3), 1), ((3, 2), 2), ((1, 1), 2), ((6, 6), 1)])
def test_block_lowrank_is_the_per_tile_svd(tiles, rank, dtype):
    A = _rand((12, 18), 4, dtype)
    gr, gc = tiles
    tm, tn = 12 // gr, 18 // gc
    P = best_block_lowrank(A, tiles, rank)
    ref = np.zeros(A.shape, dtype=np.complex128 if A.dtype.kind == "c" else np.float64)
    for i in range(gr):
        for j in range(gc):
            tile = A[i * tm : (i + 1) * tm, j * tn : (j + 1) * tn]
            ref[i * tm : (i + 1) * tm, j * tn : (j + 1) * tn] = _truncated(tile, rank)
    assert P.nparams == gr * gc * rank * (tm + tn)
    assert_close(P.to_dense(), ref, dtype, 18, depth=3, what=f"tiles {tiles}")
    assert_close(P.T.to_dense(), ref.T, dtype, 18, depth=3, what="transpose")


@pytest.mark.parametrize("nblocks", [None, 2, 4, (2, 4)])
def test_monarch_is_the_optimal_projection(nblocks):
    A = _rand((16, 32), 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sm.StructmatWarning)
        ref, info = sm.project_to_monarch(A, nblocks, return_info=True)
    M = best_monarch(A, nblocks)
    assert M.nparams == monarch_nparams(16, 32, nblocks) == ref.nparams
    assert_close(M.to_dense(), ref.to_dense(), np.float64, 32, depth=2)
    assert abs(np.linalg.norm(A - M.to_dense()) / np.linalg.norm(A) - info.error) < 1e-12


def test_blockdiag_keeps_the_diagonal_blocks():
    A = _rand((12, 8), 6)
    D = best_blockdiag(A, 4)
    mask = scipy.linalg.block_diag(*[np.ones((3, 2))] * 4)
    assert D.nparams == 24
    np.testing.assert_array_equal(D.to_dense(), A * mask)


@pytest.mark.parametrize("dtype", ["float64", "complex64"])
def test_sparse_keeps_the_largest_entries(dtype):
    A = _rand((9, 7), 7, dtype)
    for nnz in (0, 1, 10, 63):
        S = best_sparse(A, nnz)
        order = np.argsort(np.abs(A).ravel())[::-1][:nnz]
        ref = np.zeros_like(A).ravel()
        ref[order] = A.ravel()[order]
        assert S.nnz == nnz and S.nparams == 2 * nnz
        np.testing.assert_array_equal(S.to_dense(), ref.reshape(A.shape))


def test_sum_recovers_blockdiag_plus_rank_one():
    rng = np.random.default_rng(8)
    A = scipy.linalg.block_diag(*rng.standard_normal((4, 5, 5))) + np.outer(
        rng.standard_normal(20), rng.standard_normal(20)
    )
    S, info = alternating_projections(A, "blockdiag", 1, nblocks=4, tol=1e-12, maxiter=200)
    assert S.nparams == 4 * 25 + 40
    assert info.error < 1e-6
    assert abs(np.linalg.norm(A - S.to_dense()) / np.linalg.norm(A) - info.error) < 1e-12


_PART = st.sampled_from(
    [
        ("monarch", 2, None),
        ("monarch", None, None),
        ("blockdiag", 2, None),
        ("blockdiag", 4, None),
        ("sparse", None, 20),
        ("sparse", None, 100),
    ]
)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    part=_PART,
    rank=st.integers(1, 5),
    dtype=st.sampled_from(["float64", "float32", "complex128"]),
    cols=st.sampled_from([8, 16]),
)
def test_alternating_projections_never_increase_the_error(seed, part, rank, dtype, cols):
    name, nblocks, nnz = part
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((16, cols)) * rng.lognormal(0, 1, (16, 1))
    if np.dtype(dtype).kind == "c":
        A = A + 1j * rng.standard_normal((16, cols))
    A = A.astype(dtype)
    S, info = alternating_projections(A, name, rank, nblocks=nblocks, nnz=nnz, tol=0.0, maxiter=8)
    slack = rtol(dtype, A.size)
    for a, b in zip(info.errors, info.errors[1:]):
        assert b <= a + slack, info.errors
    final = np.linalg.norm(A.astype(np.complex128) - S.to_dense()) / np.linalg.norm(
        A.astype(np.complex128)
    )
    assert abs(final - info.error) <= slack
    # the start is the best rank-r part plus the structured projection of the rest: never
    # worse than the rank-r part alone (S = 0 is structured)
    assert info.errors[0] <= _svd_tail(A, rank) / np.linalg.norm(A.astype(np.complex128)) + slack


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda A: best_lowrank(A, 0), ValueError, "rank must be an integer >= 1"),
        (lambda A: best_lowrank(A, 2.0), TypeError, "rank must be an integer"),
        (lambda A: best_lowrank(A, 13), ValueError, "rank must be at most 8"),
        (lambda A: best_kronecker(A, (5, 2), 1), ValueError, "factor_shape"),
        (lambda A: best_kronecker(A, 4, 1), TypeError, "factor_shape must be a pair"),
        (lambda A: best_block_lowrank(A, (3, 3), 1), ValueError, "tiles"),
        (lambda A: best_blockdiag(A, 3), ValueError, "nblocks must divide"),
        (lambda A: best_sparse(A, 97), ValueError, "nnz must be at most"),
        (lambda A: best_sparse(A, True), TypeError, "nnz"),
        (lambda A: alternating_projections(A, "dense", 1), ValueError, "part must be one of"),
        (lambda A: alternating_projections(A, "sparse", 1), TypeError, "needs nnz"),
        (
            lambda A: alternating_projections(A, "blockdiag", 1, nblocks=2, tol=2.0),
            ValueError,
            "tol",
        ),
        (lambda A: best_lowrank(A[0], 1), ValueError, "A must be a 2-D matrix"),
        (lambda A: best_lowrank(A.astype(np.float16), 1), TypeError, "float16"),
        (lambda A: best_lowrank(np.where(A > 0, np.nan, A), 1), ValueError, "NaN"),
        (lambda A: best_lowrank("A", 1), TypeError, "A must be a 2-D array"),
        (lambda A: best_lowrank(A + 0j, 1, dtype="float64"), TypeError, "complex"),
    ],
)
def test_bad_input_is_refused(call, exc, match):
    A = _rand((12, 8), 9)
    with pytest.raises(exc, match=match):
        call(A)


@pytest.mark.parametrize(
    "part,kw", [("sparse", {"nnz": 20}), ("monarch", {"nblocks": 4}), ("blockdiag", {"nblocks": 4})]
)
def test_start_is_never_worse_than_the_low_rank_part(part, kw):
    """L_0 = SVD_r(A) first: a matrix of rank r is reproduced from the start."""
    rng = np.random.default_rng(10)
    A = rng.standard_normal((16, 2)) @ rng.standard_normal((2, 16)) * rng.lognormal(0, 2, 16)
    _, info = alternating_projections(A, part, 2, tol=0.0, maxiter=0, **kw)
    assert info.iterations == 0 and info.errors[0] <= rtol(np.float64, A.size)
