"""Order-p Monarch (MonarchP) and block tensor-train (BlockTT) matrices: equality with Monarch,
errors, pickling, random geometry, and property tests against the entry formula.

The protocol itself (products, transposes, backends, dtypes) runs over the zoo entries of
``tests/zoo_orderp.py``.
"""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import structmat as sm
from structmat import BlockTT, Monarch, MonarchP
from structmat.ops.blocktt import orderp_sizes

from .tolerance import assert_close, assert_close_scaled
from .zoo import monarch_entry_reference
from .zoo_orderp import _blocks_shapes, blocktt_entry_reference


def _cores_np(A):
    return [np.asarray(G) for G in A.cores]


# ----------------------------------------------------------------------------------------------
# equal to Monarch
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_in, n_out", [(16, 16), (12, 12), (24, 96), (96, 24), (36, 36)])
def test_monarchp_order2_is_monarch(n_in, n_out):
    """MonarchP([L, R]) is Monarch(L, R) for the paper's geometry (q = l): same arrays."""
    M = Monarch.random(n_in, n_out, seed=n_in + n_out)
    A = MonarchP([M.L, M.R])
    k, q, p, l, s, r = M.geometry
    assert A.in_sizes == (k, p) and A.out_sizes == (s, l)
    assert A.nparams == M.nparams and A.flops(7) == M.flops(7)
    ref = monarch_entry_reference(M.L, M.R)
    assert_close(A.to_dense(), ref, np.float64, max(n_in, n_out), 2)
    X = np.random.default_rng(0).standard_normal((n_in, 5))
    assert_close(A @ X, M @ X, np.float64, max(n_in, n_out), 2)
    assert np.array_equal(A.factors[0], M.L) and np.array_equal(A.factors[1], M.R)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("n_in, n_out", [(16, 16), (12, 8), (8, 18)])
def test_blocktt_two_cores_is_monarch_with_rank_r_slabs(rank, n_in, n_out):
    """BlockTT with 2 cores and rank r is Monarch(L, R) with L (l, s, r k), R (k, r l, p): every
    slab of rank r (slab_ranks), the cores reshapes of L and R."""
    k, _, p, l, s, _ = sm.ops.monarch.monarch_geometry(n_in, n_out, warn=False)
    rng = np.random.default_rng(rank)
    L = rng.standard_normal((l, s, rank * k))
    R = rng.standard_normal((k, rank * l, p))
    M = Monarch(L, R)
    assert (M.slab_ranks() == rank).all()
    A = BlockTT([L.reshape(l, 1, s, k, rank), R.reshape(k, rank, l, p, 1)])
    assert A.ranks == (rank,) and A.nparams == M.nparams
    assert_close(A.to_dense(), monarch_entry_reference(L, R), np.float64, max(n_in, n_out), 2)
    Y = rng.standard_normal((3, n_out))
    assert_close(Y @ A, Y @ M.to_dense(), np.float64, max(n_in, n_out), 2)


def test_monarchp_is_blocktt_with_rank_one():
    A = MonarchP.random((2, 3, 4), (3, 2, 2), seed=3)
    T = BlockTT(_cores_np(A))
    assert isinstance(A, BlockTT) and A.ranks == (1, 1) and A.order == 3
    assert np.array_equal(np.asarray(T), np.asarray(A))


# ----------------------------------------------------------------------------------------------
# geometry, random, pickling
# ----------------------------------------------------------------------------------------------

def test_orderp_sizes_minimise_the_parameter_count():
    assert orderp_sizes(16384, 3) == (32, 32, 16)
    assert orderp_sizes(16384, 2) == (128, 128)
    assert orderp_sizes(4096, 3) == (16, 16, 16)
    assert orderp_sizes(8, 3) == (2, 2, 2)
    # the sum of the sizes is the least over all factorisations into 3 factors >= 2
    for n in (60, 72, 96, 210):
        best = min(a + b + n // (a * b) for a in range(2, n) for b in range(2, n)
                   if n % (a * b) == 0 and n // (a * b) >= 2)
        assert sum(orderp_sizes(n, 3)) == best


@pytest.mark.parametrize("bad, exc, match", [
    (lambda: orderp_sizes(7, 2), ValueError, "does not factor"),
    (lambda: orderp_sizes(8, 1), ValueError, "order must be"),
    (lambda: MonarchP.random(7, order=2), ValueError, "n=7 does not factor"),
    (lambda: MonarchP.random((4,), seed=0), ValueError, "at least 2 sizes"),
    (lambda: MonarchP.random((4, 2.0)), TypeError, r"n_in\[1\]"),
    (lambda: MonarchP.random((2, 2), (2, 2, 2)), ValueError, "n_out lists 3 sizes"),
    (lambda: MonarchP([np.ones((2, 2, 2))]), ValueError, "at least 2"),
    (lambda: MonarchP(np.ones((2, 2, 2))), TypeError, "factors must be a list"),
    (lambda: MonarchP([np.ones((3, 2, 2)), np.ones((2, 2, 2))]), ValueError,
     r"cores\[0\] has 3 blocks .* need 2"),
    (lambda: MonarchP([np.ones((2, 2)), np.ones((2, 2, 2))]), ValueError, r"factors\[0\] must be a 3-D"),
    (lambda: BlockTT([np.ones((2, 1, 2, 2, 2)), np.ones((2, 3, 2, 2, 1))]), ValueError,
     "ranks do not chain"),
    (lambda: BlockTT([np.ones((2, 2, 2, 2, 2)), np.ones((2, 2, 2, 2, 1))]), ValueError,
     "outer ranks must be 1"),
    (lambda: BlockTT.random(16, ranks=(2, 2)), ValueError, "ranks must have 1 entries"),
    (lambda: BlockTT.random(16, ranks=0), ValueError, "ranks must be an integer >= 1"),
    (lambda: BlockTT([np.full((2, 1, 2, 2, 1), np.nan), np.ones((2, 1, 2, 2, 1))]), ValueError,
     "NaN"),
])
def test_errors_name_the_argument(bad, exc, match):
    with pytest.raises(exc, match=match):
        bad()


def test_shapes_that_do_not_chain_are_refused_with_the_expected_shape():
    A = MonarchP.random((2, 3), seed=0)
    with pytest.raises(ValueError, match=r"expected \(6,\)"):
        A @ np.ones(5)


def test_random_scale_and_geometry():
    A = MonarchP.random(16384, order=3, seed=0, dtype="float32")
    assert A.shape == (16384, 16384) and A.in_sizes == (32, 32, 16)
    assert [f.shape for f in A.factors] == [(512, 32, 32), (512, 32, 32), (1024, 16, 16)]
    x = np.random.default_rng(1).standard_normal(16384).astype(np.float32)
    ratio = np.linalg.norm(A @ x) / np.linalg.norm(x)
    assert 0.8 < ratio < 1.25
    T = BlockTT.random(64, cores=3, ranks=(2, 3), seed=0, dtype="complex128")
    assert T.geometry == [(16, 1, 4, 4, 2), (16, 2, 4, 4, 3), (16, 3, 4, 4, 1)]
    assert T.dtype == np.complex128


def test_parameters_are_copied_and_pickling_round_trips():
    rng = np.random.default_rng(4)
    F = [rng.standard_normal(s[:1] + s[2:4]) for s in _blocks_shapes((2, 2, 3), (3, 2, 2), (1, 1))]
    A = MonarchP(F)
    before = np.asarray(A)
    F[0][:] = 0.0
    assert np.array_equal(np.asarray(A), before)
    for B_ in (pickle.loads(pickle.dumps(A)), copy.deepcopy(A)):
        assert type(B_) is MonarchP and B_.out_sizes == A.out_sizes
        assert np.array_equal(np.asarray(B_), before)
    T = BlockTT.random((2, 3, 2), ranks=(2, 2), seed=5, dtype="complex64")
    T2 = pickle.loads(pickle.dumps(T))
    assert type(T2) is BlockTT and T2.ranks == (2, 2) and T2.dtype == np.complex64
    assert np.array_equal(np.asarray(T2), np.asarray(T))
    st_ = T.__getstate__()
    assert sorted(st_["arrays"]) == ["core0", "core1", "core2"]


def test_strict_backend_pickles_through_numpy_state():
    import array_api_strict as xs

    T = BlockTT.random((2, 2, 3), ranks=2, seed=6).to_backend(xs)
    st_ = T.__getstate__()
    assert st_["backend"] == "array_api_strict"
    assert all(isinstance(a, np.ndarray) for a in st_["arrays"].values())
    T2 = pickle.loads(pickle.dumps(T))
    assert np.array_equal(np.asarray(T2.to_dense(np)), np.asarray(T.to_dense(np)))


# ----------------------------------------------------------------------------------------------
# properties against the entry formula
# ----------------------------------------------------------------------------------------------

@st.composite
def blocktt_case(draw):
    c = draw(st.integers(2, 4))
    out_sizes = tuple(draw(st.integers(1, 3)) for _ in range(c))
    in_sizes = tuple(draw(st.integers(1, 3)) for _ in range(c))
    ranks = tuple(draw(st.integers(1, 3)) for _ in range(c - 1))
    cplx = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    return out_sizes, in_sizes, ranks, cplx, seed


@given(blocktt_case())
def test_multiply_matches_the_entry_formula(case):
    out_sizes, in_sizes, ranks, cplx, seed = case
    rng = np.random.default_rng(seed)
    dt = np.complex128 if cplx else np.float64
    cores = []
    for s in _blocks_shapes(out_sizes, in_sizes, ranks):
        a = rng.standard_normal(s)
        cores.append(a + 1j * rng.standard_normal(s) if cplx else a)
    A = BlockTT(cores)
    ref = blocktt_entry_reference(cores, out_sizes, in_sizes)
    n = max(ref.shape)
    depth = len(cores)
    X = rng.standard_normal((ref.shape[1], 3))
    Y = rng.standard_normal((2, ref.shape[0]))
    assert_close(A.to_dense(), ref, dt, n, depth)
    # products may cancel far below their terms: compare against the size of the terms
    absref = np.abs(ref)
    assert_close_scaled(A @ X, ref @ X, (absref @ np.abs(X)).max(), dt, n, depth + 1)
    assert_close_scaled(Y @ A, Y @ ref, (np.abs(Y) @ absref).max(), dt, n, depth + 1)
    assert A.flops(3) == 2 * 3 * sum(G.size for G in cores)


# ----------------------------------------------------------------------------------------------
# exact order-p forms of the DFT and Hadamard matrices
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, sizes", [(8, (2, 2, 2)), (12, (2, 3, 2)), (30, (5, 3, 2)),
                                      (64, (4, 2, 8)), (48, (2, 2, 3, 4)), (4096, None)])
@pytest.mark.parametrize("inverse, norm", [(False, None), (True, None), (False, "ortho"),
                                           (True, "forward")])
def test_dft_order_p_form(n, sizes, inverse, norm):
    from .zoo import dft_reference

    order = 3 if sizes is None else len(sizes)
    F = sm.to_monarch(sm.DFT(n, norm=norm, inverse=inverse), sizes, order=order)
    assert F.form == "MP" and isinstance(F.factors[0], MonarchP)
    assert F.factors[0].order == order
    if sizes is not None:
        assert F.factors[0].in_sizes == sizes == F.factors[0].out_sizes
    depth = 2 * order
    x = np.random.default_rng(n).standard_normal(n)
    assert_close(F @ x, _fft(x, norm, inverse), np.complex128, n, depth)
    Q = F.factors[1]
    assert Q.shape == (n, n)
    if n <= 64:
        ref = dft_reference(n, norm, inverse)
        assert_close(F.to_dense(), ref, np.complex128, n, depth)
        # the permutation is the digit reversal: F_n Q^T is the order-p Monarch alone
        assert_close(F.factors[0].to_dense(), ref @ np.asarray(Q).T, np.complex128, n, depth)


def _fft(x, norm, inverse):
    import scipy.fft

    return scipy.fft.ifft(x, norm=norm) if inverse else scipy.fft.fft(x, norm=norm)


@pytest.mark.parametrize("n, sizes", [(8, (2, 2, 2)), (64, (2, 8, 4)), (64, (4, 4, 2, 2)),
                                      (16, (16, 1, 1))])
@pytest.mark.parametrize("norm", [None, "ortho"])
def test_hadamard_order_p_form_has_no_permutation(n, sizes, norm):
    from .zoo import hadamard_reference

    H = sm.to_monarch(sm.Hadamard(n, norm=norm), sizes, order=len(sizes))
    assert H.form == "M" and len(H.factors) == 1
    assert_close(H.to_dense(), hadamard_reference(n, norm), np.float64, n, len(sizes))
    assert H.dtype == np.float64


def test_order_two_keeps_the_monarch_forms():
    for X in (sm.DFT(12), sm.Hadamard(16), sm.DCT(12, type=2)):
        a, b = sm.to_monarch(X), sm.to_monarch(X, order=2)
        assert a.form == b.form and [type(f) for f in a.factors] == [type(f) for f in b.factors]
        assert np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("X, sizes", [(sm.DFT(8), (2, 2, 2)), (sm.DFT(12, inverse=True), (3, 2, 2)),
                                      (sm.DFT(8, norm="ortho"), (2, 2, 2)),
                                      (sm.Hadamard(16, norm="ortho"), (2, 2, 2, 2))])
def test_exact_order_p_forms_verify(X, sizes):
    from structmat.exact import verify

    E = sm.to_monarch(X, sizes, order=len(sizes), exact=True)
    assert E.shape == X.shape
    r = verify(E, X)
    assert r.verdict, str(r)
    other = sm.DFT(X.n, inverse=not getattr(X, "inverse", False)) if isinstance(X, sm.DFT) else sm.DFT(X.n)
    assert not verify(E, other).verdict


@pytest.mark.parametrize("call, exc, match", [
    (lambda: sm.to_monarch(sm.DFT(8), order=1), ValueError, "order must be an integer >= 2"),
    (lambda: sm.to_monarch(sm.DFT(8), order=3.0), TypeError, "order must be an integer"),
    (lambda: sm.to_monarch(sm.DFT(8), (2, 4), order=3), ValueError, "not a split of DFT of size 8"),
    (lambda: sm.to_monarch(sm.DFT(8), 2, order=3), TypeError, "nblocks must be a tuple of 3 sizes"),
    (lambda: sm.to_monarch(sm.DFT(7), order=3), ValueError, "n=7 does not factor"),
    (lambda: sm.to_monarch(sm.Hadamard(8), (2, 4, 1), order=3).form, None, None),
    (lambda: sm.to_monarch(sm.DCT(8), order=3), TypeError, "covers DFT and Hadamard"),
    (lambda: sm.to_monarch(MonarchP.random((2, 2), seed=0), order=3), ValueError, "order 2, not 3"),
    (lambda: sm.to_monarch(sm.DFT(8), order=3, exact="symbolic"), ValueError, "exact must be"),
])
def test_order_p_errors(call, exc, match):
    if exc is None:
        call()
        return
    with pytest.raises(exc, match=match):
        call()


def test_monarchp_passes_through_to_monarch():
    A = MonarchP.random((2, 3, 2), seed=0)
    P = sm.to_monarch(A, order=3)
    assert P.form == "M" and P.factors[0] is A
