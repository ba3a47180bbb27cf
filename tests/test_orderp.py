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
import scipy.linalg
from hypothesis import given, strategies as st

import structmat as sm
from structmat import BlockTT, Monarch, MonarchP
from structmat.ops.blocktt import orderp_sizes

from .tolerance import assert_close, assert_close_scaled, rtol
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
        best = min(
            a + b + n // (a * b)
            for a in range(2, n)
            for b in range(2, n)
            if n % (a * b) == 0 and n // (a * b) >= 2
        )
        assert sum(orderp_sizes(n, 3)) == best


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        (lambda: orderp_sizes(7, 2), ValueError, "does not factor"),
        (lambda: orderp_sizes(8, 1), ValueError, "order must be"),
        (lambda: MonarchP.random(7, order=2), ValueError, "n=7 does not factor"),
        (lambda: MonarchP.random((4,), seed=0), ValueError, "at least 2 sizes"),
        (lambda: MonarchP.random((4, 2.0)), TypeError, r"n_in\[1\]"),
        (lambda: MonarchP.random((2, 2), (2, 2, 2)), ValueError, "n_out lists 3 sizes"),
        (lambda: MonarchP([np.ones((2, 2, 2))]), ValueError, "at least 2"),
        (lambda: MonarchP(np.ones((2, 2, 2))), TypeError, "factors must be a list"),
        (
            lambda: MonarchP([np.ones((3, 2, 2)), np.ones((2, 2, 2))]),
            ValueError,
            r"cores\[0\] has 3 blocks .* need 2",
        ),
        (
            lambda: MonarchP([np.ones((2, 2)), np.ones((2, 2, 2))]),
            ValueError,
            r"factors\[0\] must be a 3-D",
        ),
        (
            lambda: BlockTT([np.ones((2, 1, 2, 2, 2)), np.ones((2, 3, 2, 2, 1))]),
            ValueError,
            "ranks do not chain",
        ),
        (
            lambda: BlockTT([np.ones((2, 2, 2, 2, 2)), np.ones((2, 2, 2, 2, 1))]),
            ValueError,
            "outer ranks must be 1",
        ),
        (lambda: BlockTT.random(16, ranks=(2, 2)), ValueError, "ranks must have 1 entries"),
        (lambda: BlockTT.random(16, ranks=0), ValueError, "ranks must be an integer >= 1"),
        (
            lambda: BlockTT([np.full((2, 1, 2, 2, 1), np.nan), np.ones((2, 1, 2, 2, 1))]),
            ValueError,
            "NaN",
        ),
    ],
)
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


@pytest.mark.parametrize(
    "n, sizes",
    [
        (8, (2, 2, 2)),
        (12, (2, 3, 2)),
        (30, (5, 3, 2)),
        (64, (4, 2, 8)),
        (48, (2, 2, 3, 4)),
        (4096, None),
    ],
)
@pytest.mark.parametrize(
    "inverse, norm", [(False, None), (True, None), (False, "ortho"), (True, "forward")]
)
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


@pytest.mark.parametrize(
    "n, sizes", [(8, (2, 2, 2)), (64, (2, 8, 4)), (64, (4, 4, 2, 2)), (16, (16, 1, 1))]
)
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


@pytest.mark.parametrize(
    "X, sizes",
    [
        (sm.DFT(8), (2, 2, 2)),
        (sm.DFT(12, inverse=True), (3, 2, 2)),
        (sm.DFT(8, norm="ortho"), (2, 2, 2)),
        (sm.Hadamard(16, norm="ortho"), (2, 2, 2, 2)),
    ],
)
def test_exact_order_p_forms_verify(X, sizes):
    from structmat.exact import verify

    E = sm.to_monarch(X, sizes, order=len(sizes), exact=True)
    assert E.shape == X.shape
    r = verify(E, X)
    assert r.verdict, str(r)
    other = (
        sm.DFT(X.n, inverse=not getattr(X, "inverse", False))
        if isinstance(X, sm.DFT)
        else sm.DFT(X.n)
    )
    assert not verify(E, other).verdict


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: sm.to_monarch(sm.DFT(8), order=1), ValueError, "order must be an integer >= 2"),
        (lambda: sm.to_monarch(sm.DFT(8), order=3.0), TypeError, "order must be an integer"),
        (
            lambda: sm.to_monarch(sm.DFT(8), (2, 4), order=3),
            ValueError,
            "not a split of DFT of size 8",
        ),
        (
            lambda: sm.to_monarch(sm.DFT(8), 2, order=3),
            TypeError,
            "nblocks must be a tuple of 3 sizes",
        ),
        (lambda: sm.to_monarch(sm.DFT(7), order=3), ValueError, "n=7 does not factor"),
        (lambda: sm.to_monarch(sm.Hadamard(8), (2, 4, 1), order=3).form, None, None),
        (lambda: sm.to_monarch(sm.DCT(8), order=3), TypeError, "covers DFT and Hadamard"),
        (
            lambda: sm.to_monarch(MonarchP.random((2, 2), seed=0), order=3),
            ValueError,
            "order 2, not 3",
        ),
        (lambda: sm.to_monarch(sm.DFT(8), order=3, exact="symbolic"), ValueError, "exact must be"),
    ],
)
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


# ----------------------------------------------------------------------------------------------
# save / load
# ----------------------------------------------------------------------------------------------


def test_save_and_load_round_trip(tmp_path):
    A = MonarchP.random((2, 3, 2), (3, 2, 2), seed=7, dtype="complex128")
    T = BlockTT.random((2, 2, 3), ranks=(2, 3), seed=8, dtype="float32")
    for name, M in (("a.npz", A), ("t.npz", T), ("p.npz", sm.to_monarch(sm.DFT(12), order=3))):
        sm.save(tmp_path / name, M)
        L = sm.load(tmp_path / name)
        assert type(L) is type(M) and L.shape == M.shape and L.dtype == M.dtype
        assert np.array_equal(np.asarray(L), np.asarray(M))


# ----------------------------------------------------------------------------------------------
# approximation: the sequential truncated SVD and its bound
# ----------------------------------------------------------------------------------------------


def _slab_optimum(A, out_sizes, in_sizes, rank):
    """Best error of a 2-core block tensor-train matrix: for every slab (i_1, j_0) (a loop over
    explicitly extracted m_0 x n_1 slabs) the discarded singular values of its SVD."""
    (m0, m1), (n0, n1) = out_sizes, in_sizes
    T = A.reshape(m0, m1, n0, n1)
    total = 0.0
    for i1 in range(m1):
        for j0 in range(n0):
            s = scipy.linalg.svdvals(T[:, i1, j0, :])
            total += float(np.sum(s[rank:] ** 2))
    return math.sqrt(total)


@st.composite
def projection_case(draw):
    c = draw(st.integers(2, 4))
    out_sizes = tuple(draw(st.integers(1, 4)) for _ in range(c))
    in_sizes = tuple(draw(st.integers(1, 4)) for _ in range(c))
    ranks = tuple(draw(st.integers(1, 4)) for _ in range(c - 1))
    kind = draw(st.sampled_from(["gauss", "complex", "lowrank", "near-btt"]))
    seed = draw(st.integers(0, 2**31 - 1))
    return out_sizes, in_sizes, ranks, kind, seed


def _matrix(out_sizes, in_sizes, ranks, kind, seed):
    rng = np.random.default_rng(seed)
    shape = (math.prod(out_sizes), math.prod(in_sizes))
    if kind == "gauss":
        return rng.standard_normal(shape)
    if kind == "complex":
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    if kind == "lowrank":
        return rng.standard_normal((shape[0], 2)) @ rng.standard_normal((2, shape[1]))
    T = BlockTT.random(in_sizes, out_sizes, ranks=ranks, seed=seed)
    return np.asarray(T) + 1e-3 * rng.standard_normal(shape)


@given(projection_case())
def test_tt_svd_error_is_within_its_proven_bound(case):
    """max_k ε_k <= ||A - B||_F <= sqrt(Σ ε_k²) <= sqrt(c-1) max_k ε_k, every ε_k a lower bound
    on the optimum; with 2 cores the error is the optimum (slab SVDs computed separately)."""
    out_sizes, in_sizes, ranks, kind, seed = case
    A = _matrix(out_sizes, in_sizes, ranks, kind, seed)
    B_, info = sm.project_to_blocktt(
        A, ranks=ranks, in_sizes=in_sizes, out_sizes=out_sizes, return_info=True
    )
    assert B_.out_sizes == out_sizes and B_.in_sizes == in_sizes and B_.ranks == ranks
    c = len(in_sizes)
    err = float(np.linalg.norm(A - np.asarray(B_)))
    slack = rtol(np.float64, A.size, 2 * c) * max(float(np.linalg.norm(A)), 1e-300)
    assert abs(err - info.error) <= slack
    assert info.lower_bound - slack <= err <= info.bound + slack
    assert info.bound <= math.sqrt(c - 1) * info.lower_bound + slack
    assert len(info.unfolding_errors) == c - 1 and info.factor == math.sqrt(c - 1)
    if c == 2:
        opt = _slab_optimum(A, out_sizes, in_sizes, ranks[0])
        assert abs(err - opt) <= slack
        assert abs(info.lower_bound - opt) <= slack


def test_unfolding_errors_are_lower_bounds_for_other_block_tt_matrices():
    """No block tensor-train matrix of the sizes and ranks beats max ε_k: ALS from several starts
    (an independent route to good members of the class) never gets below it."""
    rng = np.random.default_rng(11)
    A = rng.standard_normal((27, 27))
    _, info = sm.project_to_blocktt(
        A, ranks=2, in_sizes=(3, 3, 3), out_sizes=(3, 3, 3), return_info=True
    )
    for seed in range(3):
        start = BlockTT.random((3, 3, 3), ranks=2, seed=seed)
        B_, hist = sm.fit_blocktt(A, start, steps=15)
        assert float(np.linalg.norm(A - np.asarray(B_))) >= info.lower_bound * (1 - 1e-12)
        assert np.all(np.diff(hist["rel_error"]) <= 1e-12)  # ALS never increases the error


def test_projection_recovers_a_block_tt_matrix_exactly():
    T = BlockTT.random((2, 3, 4), (3, 2, 2), ranks=(2, 3), seed=3, dtype="complex128")
    A = np.asarray(T)
    B_, info = sm.project_to_blocktt(
        A, ranks=(2, 3), in_sizes=(2, 3, 4), out_sizes=(3, 2, 2), return_info=True
    )
    assert_close(np.asarray(B_), A, np.complex128, 24, 6)
    assert info.bound <= rtol(np.float64, A.size, 6) * np.linalg.norm(A)
    M = MonarchP.random((4, 2, 4), seed=1, dtype="float32")
    P = sm.project_to_monarch_p(np.asarray(M), in_sizes=(4, 2, 4))
    assert isinstance(P, MonarchP) and P.dtype == np.float32
    assert_close(np.asarray(P), np.asarray(M), np.float32, 32, 6)


def test_projection_of_the_dft_recovers_its_order_p_form():
    """F_n Q is an order-3 Monarch matrix (the exact form above): the projection is exact."""
    F = sm.to_monarch(sm.DFT(64), (4, 4, 4), order=3)
    target = np.asarray(F.factors[0])
    P, info = sm.project_to_monarch_p(target, in_sizes=(4, 4, 4), return_info=True)
    assert info.rel_error <= rtol(np.complex128, 64, 6)
    D = np.asarray(sm.DFT(64))
    _, info_plain = sm.project_to_monarch_p(D, in_sizes=(4, 4, 4), return_info=True)
    assert info_plain.lower_bound > 0.5 * info_plain.norm  # F itself is far from M_3


def test_projection_on_strict_arrays_and_dtypes():
    import array_api_strict as xs

    A = np.random.default_rng(2).standard_normal((16, 8)).astype(np.float32)
    B_ = sm.project_to_blocktt(xs.asarray(A), cores=3, ranks=2)
    assert B_.xp is not None and "array_api_strict" in repr(B_) and B_.dtype == xs.float32
    assert B_.out_sizes == (4, 2, 2) and B_.in_sizes == (2, 2, 2)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (
            lambda: sm.project_to_blocktt(np.ones((6, 6)), in_sizes=(2, 2)),
            ValueError,
            "sizes do not fit",
        ),
        (lambda: sm.project_to_blocktt(np.ones(6)), ValueError, "2-D"),
        (lambda: sm.project_to_blocktt(np.ones((4, 4), dtype=np.float16)), TypeError, "float16"),
        (lambda: sm.project_to_blocktt(np.full((4, 4), np.nan)), ValueError, "NaN"),
        (
            lambda: sm.project_to_blocktt(np.ones((8, 8)), cores=3, ranks=(1,)),
            ValueError,
            "ranks must have 2",
        ),
        (lambda: sm.project_to_blocktt(sm.Hadamard(4)), TypeError, "to_dense"),
        (
            lambda: sm.fit_blocktt(
                np.ones((4, 4)), BlockTT.random((2, 2), seed=0), optimizer="sgd"
            ),
            ValueError,
            "optimizer",
        ),
        (
            lambda: sm.fit_blocktt(np.ones((4, 4)), BlockTT.random((2, 3), seed=0)),
            ValueError,
            "shape",
        ),
    ],
)
def test_projection_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_adam_baseline_decreases_the_error():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((16, 16))
    _, hist = sm.fit_blocktt(
        A, BlockTT.random((4, 4), ranks=2, seed=0), steps=150, optimizer="adam"
    )
    assert hist["rel_error"][-1] < 0.8 * hist["rel_error"][0]
    assert hist["step"].tolist() == list(range(151))


@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("dtype", ["float32", "complex128"])
def test_chunked_threaded_multiply_matches_the_whole_batch(threads, dtype, monkeypatch):
    """The NumPy path cuts large batches into chunks shared by threads: same result as the
    whole-batch kernel, for columns and rows, with a batch that is not a multiple of the chunk."""
    monkeypatch.setenv("STRUCTMAT_NUM_THREADS", threads)
    monkeypatch.setattr(BlockTT, "_PARALLEL_FLOPS", 0)
    monkeypatch.setattr(BlockTT, "_CHUNK_BYTES", 1 << 12)
    T = BlockTT.random((4, 3, 2), (2, 3, 4), ranks=(2, 3), seed=9, dtype=dtype)
    rng = np.random.default_rng(10)
    X = rng.standard_normal((24, 301)).astype(dtype)
    Y = rng.standard_normal((257, 24)).astype(dtype)
    ref = blocktt_entry_reference(_cores_np(T), T.out_sizes, T.in_sizes)
    got = T @ X
    assert_close(got, T._cols_kernel_xp(X), dtype, 24, 4)
    assert_close_scaled(got, ref @ X, (np.abs(ref) @ np.abs(X)).max(), dtype, 24, 4)
    got_r = Y @ T
    assert_close(got_r, T._rows_kernel(Y), dtype, 24, 4)
    assert_close_scaled(got_r, Y @ ref, (np.abs(Y) @ np.abs(ref)).max(), dtype, 24, 4)


# ----------------------------------------------------------------------------------------------
# benchmark additions (smoke: tiny sizes; timings are never asserted)
# ----------------------------------------------------------------------------------------------


def test_multiply_benchmark_order_table(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from benchmarks import multiply

    rows = multiply.run_orders(["float32"], (64, 7), (4,), repeats=1, min_time=0.0, settle=0.0)
    assert [(r["n"], r["order"]) for r in rows] == [(64, 2), (64, 3), (64, 4)]  # 7 does not split
    for r in rows:
        M = MonarchP.random(tuple(int(b) for b in r["sizes"].split("x")), seed=0)
        assert r["gflop"] == pytest.approx(M.flops(4) / 1e9)
        for key in (
            "ms",
            "gflops",
            "dense_gflops",
            "rate_fraction",
            "speedup_vs_dense",
            "time_over_order2",
        ):
            assert math.isfinite(r[key]) and r[key] > 0
        assert r["flops_over_order2"] == pytest.approx(
            M.flops(1) / MonarchP.random((8, 8)).flops(1)
        )
    assert (
        multiply.main(
            [
                "--sizes",
                "16",
                "--batches",
                "2",
                "--dtype",
                "float32",
                "--repeats",
                "1",
                "--settle",
                "0",
                "--orders",
                "2",
                "3",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert "Order-p Monarch" in capsys.readouterr().out
    assert (tmp_path / "orders.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "orders.csv").read_text().count("\n") == 3
    assert multiply.main(["--sizes", "16", "--orders", "1"]) == 2


def test_projection_benchmark_blocktt_table(tmp_path):
    pytest.importorskip("matplotlib")
    from benchmarks import projection

    row = projection.run_blocktt_case("gaussian", 64, 3, 2, steps=5, time_limit=5.0, repeats=1)
    assert row["sizes"] == "4x4x4" and row["als_steps"] == 5 and row["adam_steps"] == 5
    assert row["lower_bound"] <= row["tt_err"] * (1 + 1e-9) <= row["upper_bound"] * (1 + 1e-9)
    assert row["als_err"] >= row["lower_bound"] * (1 - 1e-9)
    assert (
        projection.main(
            [
                "--sizes",
                "16",
                "--steps",
                "3",
                "--repeats",
                "1",
                "--families",
                "gaussian",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    text = (tmp_path / "blocktt.csv").read_text()
    assert text.startswith("family,n,cores,ranks") and text.count("\n") == 3


@given(
    st.lists(st.integers(1, 6), min_size=3, max_size=4),
    st.booleans(),
    st.sampled_from([None, "ortho", "forward"]),
    st.integers(0, 2**31 - 1),
)
def test_dft_order_p_form_for_any_factorisation(sizes, inverse, norm, seed):
    """F_n = MonarchP(F_0..F_{p-1}) Q for every ordered factorisation (p = 3, 4; sizes 1 included),
    against scipy.fft; Q is a permutation and the MonarchP has the given sizes."""
    n = math.prod(sizes)
    F = sm.to_monarch(sm.DFT(n, norm=norm, inverse=inverse), tuple(sizes), order=len(sizes))
    assert F.factors[0].in_sizes == tuple(sizes) == F.factors[0].out_sizes
    assert sorted(np.asarray(F.factors[1].perm).tolist()) == list(range(n))
    x = np.random.default_rng(seed).standard_normal((n, 2))
    assert_close(F @ x, _fft(x.T, norm, inverse).T, np.complex128, n, 2 * len(sizes))
