"""Reliability guarantees shared by every class, over the whole zoo.

* products never hand back the caller's operand (or a view of it);
* parameters are owned: writes to the caller's arrays do not reach the matrix or its caches;
* big-endian NumPy operands and parameters are accepted (converted to native order);
* integer arguments are checked at construction;
* ``STRUCTMAT_NUM_THREADS`` is validated the same way for every product size;
* the BLAS thread limit is restored exactly after concurrent kernels;
* degenerate Monarch geometries warn;
* every matrix pickles and deep-copies bit-exactly.
"""

from __future__ import annotations

import copy
import pickle
import threading
import warnings
import zlib

import array_api_strict
import numpy as np
import pytest
import scipy.linalg

import structmat as sm
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
    StructmatWarning,
    _backend as B,
    _parallel,
)
from structmat.ops.monarch import geometry_degeneracy, monarch_geometry

from .conftest import to_numpy
from .tolerance import assert_close
from .zoo import SPECS, draw

NAMESPACES = [pytest.param(np, id="numpy"), pytest.param(array_api_strict, id="array_api_strict")]
over_zoo = pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])

_CACHE: dict = {}


def built(spec, xp):
    key = (spec.id, xp.__name__)
    if key not in _CACHE:
        _CACHE[key] = spec.build(xp)
    return _CACHE[key]


def is_np(xp) -> bool:
    return xp is np


def operand_dtype(entry) -> np.dtype:
    """The dtype ``A @ X`` computes in for the entry: an operand of it is not converted, so
    a kernel that returns its input would hand back the caller's own buffer."""
    dt = entry.dtype if entry.dtype.kind in "fc" else np.dtype(np.float64)
    if entry.complex_out and dt.kind == "f":
        dt = np.dtype(np.complex64 if dt == np.float32 else np.complex128)
    return dt


def rows_times(A, X, xp):
    return X @ A if is_np(xp) else A.rmatmul(X)


def operand(spec, xp, shape, dtype, salt="x"):
    rng = np.random.default_rng(zlib.crc32(f"{spec.id}/{salt}".encode()))
    return xp.asarray(draw(rng, shape, dtype))


def bits(a) -> np.ndarray:
    """Host copy of ``a`` for a bit-for-bit comparison."""
    return np.ascontiguousarray(to_numpy(a))


def assert_bit_equal(a, b, what=""):
    a, b = bits(a), bits(b)
    assert a.dtype == b.dtype and a.shape == b.shape, what
    assert a.tobytes() == b.tobytes(), f"{what}: not bit-identical"


# ----------------------------------------------------------------------------------------------
# 1. no product returns the caller's operand
# ----------------------------------------------------------------------------------------------


def _products(A, xp, spec, entry):
    """``(name, operand, result)`` for ``A @ x``, ``A @ X``, ``x @ A``, ``X @ A`` and the same
    through ``.T`` and ``.H``."""
    dt = operand_dtype(entry)
    out = []
    for tag, op in (("A", A), ("A.T", A.T), ("A.H", A.H)):
        m, n = op.shape
        x = operand(spec, xp, (n,), dt, tag + "x")
        X = operand(spec, xp, (n, 3), dt, tag + "X")
        y = operand(spec, xp, (m,), dt, tag + "y")
        Y = operand(spec, xp, (2, m), dt, tag + "Y")
        out += [
            (f"{tag} @ x", x, op @ x),
            (f"{tag} @ X", X, op @ X),
            (f"y @ {tag}", y, rows_times(op, y, xp)),
            (f"Y @ {tag}", Y, rows_times(op, Y, xp)),
        ]
    return out


@over_zoo
@pytest.mark.parametrize("xp", NAMESPACES)
def test_products_never_share_the_operands_memory(spec, xp):
    entry = built(spec, xp)
    for what, X, Y in _products(entry.A, xp, spec, entry):
        assert not B.shares_memory(Y, X), f"{spec.id}: {what} shares memory with its operand"
        raw_x, raw_y = B._raw_buffer(X), B._raw_buffer(Y)
        assert not np.shares_memory(raw_x, raw_y), what
        if is_np(xp):
            assert Y.flags.writeable, what


@pytest.mark.parametrize(
    "A",
    [
        Hadamard(1),
        Hadamard(1, norm="ortho"),
        DFT(1),
        DCT(1, type=2),
        DST(1, type=4),
        Permutation([0]),
        Diagonal(np.ones(1)),
        BlockDiagonal(np.ones((1, 1, 1))),
        Convolution(np.ones(1)),
        Hadamard(1) @ Hadamard(1),
        Hadamard(1).T,
        Permutation([0, 1]).T,
    ],
    ids=lambda A: repr(A).split(" with")[0].strip("<"),
)
@pytest.mark.parametrize("shape", [(1,), (1, 1), (3, 1, 4)], ids=["1d", "2d", "3d"])
def test_identity_like_matrices_return_fresh_writable_arrays(A, shape):
    n = A.shape[1]
    shape = tuple(
        n if d == 1 and i == len(shape) - (1 if len(shape) == 1 else 2) else d
        for i, d in enumerate(shape)
    )
    dt = np.complex128 if isinstance(A, DFT) else np.float64
    X = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape).astype(dt)
    X.setflags(write=False)  # read-only input
    keep = X.copy()
    Y = A @ X
    assert not np.shares_memory(Y, X) and Y.flags.writeable
    Y[...] = -7  # writing the result ...
    np.testing.assert_array_equal(X, keep)  # ... leaves the input alone
    R = np.ones(shape[:-2] + (2, A.shape[0]) if len(shape) > 1 else (A.shape[0],), dtype=dt)
    R.setflags(write=False)
    Z = R @ A
    assert not np.shares_memory(Z, R) and Z.flags.writeable


def test_hadamard_1_regression():
    X = np.arange(3.0).reshape(1, 3)
    Y = Hadamard(1) @ X
    assert Y is not X and not np.shares_memory(Y, X)
    x = np.arange(1.0)
    y = Hadamard(1) @ x
    y[0] = 5.0
    assert x[0] == 0.0


# ----------------------------------------------------------------------------------------------
# 2. parameters are owned
# ----------------------------------------------------------------------------------------------


def _param_cases():
    rng = np.random.default_rng(7)
    perm = rng.permutation(6)
    return [
        ("Diagonal", lambda a: Diagonal(a[0]), [draw(rng, 5, "float64")]),
        ("BlockDiagonal", lambda a: BlockDiagonal(a[0]), [draw(rng, (3, 2, 4), "complex128")]),
        (
            "Monarch",
            lambda a: Monarch(a[0], a[1]),
            [draw(rng, (4, 4, 4), "float64"), draw(rng, (4, 4, 4), "float64")],
        ),
        ("Butterfly", lambda a: Butterfly(a[0]), [draw(rng, (3, 2, 2, 4), "float32")]),
        ("Convolution-circular", lambda a: Convolution(a[0], n=7), [draw(rng, 4, "float64")]),
        (
            "Convolution-full",
            lambda a: Convolution(a[0], n=5, mode="full"),
            [draw(rng, 3, "complex128")],
        ),
        ("Permutation", lambda a: Permutation(a[0]), [perm]),
    ]


@pytest.mark.parametrize("xp", NAMESPACES)
@pytest.mark.parametrize("name, make, params", _param_cases(), ids=[c[0] for c in _param_cases()])
def test_parameters_are_copied_at_construction(xp, name, make, params):
    caller = [xp.asarray(p.copy()) for p in params]
    A = make(caller)
    ref = to_numpy(make([xp.asarray(p.copy()) for p in params]).to_dense())
    n = A.shape[1]
    dt = np.complex128 if np.iscomplexobj(ref) else np.float64
    x = xp.asarray(np.arange(1.0, n + 1.0).astype(dt))
    before = to_numpy(A @ x)  # fills any cache (FFT spectra)
    for c in caller:  # the caller overwrites its arrays
        if c.dtype == xp.int64:
            c[...] = xp.asarray(np.arange(c.shape[0])[::-1].copy())
        else:
            c[...] = 2
    dense = to_numpy(A.to_dense())
    np.testing.assert_array_equal(dense, ref)
    assert_bit_equal(A @ x, before, name)
    assert_close(to_numpy(A @ x), ref @ to_numpy(x), ref.dtype, n, depth=4, what=name)


def test_convolution_cache_follows_the_kernel():
    c = np.array([1.0, 2.0, 3.0])
    C = Convolution(c)
    x = np.array([1.0, 0.0, 0.0])
    first = C @ x
    c[:] = 2
    np.testing.assert_allclose(C @ x, [1.0, 2.0, 3.0], rtol=1e-15, atol=1e-15)
    np.testing.assert_array_equal(C.to_dense(), scipy.linalg.circulant([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(C @ x, first)


# ----------------------------------------------------------------------------------------------
# 3. big-endian input
# ----------------------------------------------------------------------------------------------

BIG = [">f8", ">c16", ">f4", ">c8"]


@over_zoo
@pytest.mark.parametrize("order", BIG)
def test_big_endian_operands_are_converted(spec, order):
    entry = built(spec, np)
    A = entry.A
    m, n = A.shape
    native = np.dtype(order).newbyteorder("=")
    X = operand(spec, np, (n, 2), native)
    Y = operand(spec, np, (3, m), native)
    assert_bit_equal(A @ X.astype(order), A @ X, f"{spec.id} A @ X {order}")
    x = X[:, 0].copy()
    assert_bit_equal(A @ x.astype(order), A @ x, f"{spec.id} A @ x {order}")
    assert_bit_equal(Y.astype(order) @ A, Y @ A, f"{spec.id} X @ A {order}")
    assert (A @ X.astype(order)).dtype.isnative


@pytest.mark.parametrize("order", BIG)
@pytest.mark.parametrize("name, make, params", _param_cases(), ids=[c[0] for c in _param_cases()])
def test_big_endian_parameters_are_converted(name, make, params, order):
    if name == "Permutation":
        big = [params[0].astype(">i8")]
    else:
        kind = "c" if np.iscomplexobj(params[0]) or order[1] == "c" else "f"
        target = np.dtype(order) if kind == order[1] else np.dtype(">c16")
        big = [p.astype(target) for p in params]
    native = [b.astype(b.dtype.newbyteorder("=")) for b in big]
    A, R = make(big), make(native)
    assert np.dtype(sm.base.dtype_name(A.dtype)) == np.dtype(sm.base.dtype_name(R.dtype))
    assert_bit_equal(A.to_dense(), R.to_dense(), name)
    x = np.arange(1.0, A.shape[1] + 1.0)
    assert_bit_equal(A @ x, R @ x, name)


@pytest.mark.parametrize(
    "make",
    [
        lambda d: Hadamard(4, dtype=d),
        lambda d: DCT(4, dtype=d),
        lambda d: DST(4, dtype=d),
        lambda d: Permutation([1, 0], dtype=d),
        lambda d: Monarch.random(16, dtype=d, seed=0),
        lambda d: Butterfly.random(8, dtype=d, seed=0),
    ],
)
def test_big_endian_nominal_dtypes(make):
    assert_bit_equal(make(">f8").to_dense(), make("float64").to_dense())
    assert_bit_equal(DFT(4, dtype=">c16").to_dense(), DFT(4).to_dense())


def test_big_endian_dtype_maps_to_native():
    xp = B.resolve_xp(None)
    assert B.float_dtype_for(xp, np.dtype(">f4")) == np.float32
    assert B.float_dtype_for(xp, np.dtype(">i2")) == np.float64
    x = np.arange(3.0).astype(">f8")
    assert B.native_byteorder(x).dtype.isnative
    assert B.native_byteorder(np.arange(3.0)) is not None


# ----------------------------------------------------------------------------------------------
# 4. integer arguments
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, ok",
    [
        (lambda v: DFT(v), 8),
        (lambda v: Hadamard(v), 8),
        (lambda v: DCT(v), 8),
        (lambda v: DST(v, type=1), 8),
        (lambda v: Butterfly.random(v, seed=0), 8),
        (lambda v: Monarch.random(v, seed=0), 16),
        (lambda v: Convolution(np.ones(3), n=v), 8),
        (lambda v: Permutation.transpose_perm(v, 3), 4),
        (lambda v: Monarch.random(16, nblocks=v, seed=0), 4),
    ],
)
def test_integer_arguments(make, ok):
    ref = make(ok).to_dense()
    for good in (np.int64(ok), np.int32(ok), np.uint16(ok), np.array(ok)):
        np.testing.assert_array_equal(make(good).to_dense(), ref)
    for bad in (float(ok), ok + 0.5, np.float64(ok), True, np.bool_(True), "8", 1j):
        with pytest.raises(TypeError, match="must be an integer"):
            make(bad)


@pytest.mark.parametrize(
    "bad, exc",
    [
        (8.5, TypeError),
        (4.0, TypeError),
        (True, TypeError),
        (0, ValueError),
        (-8, ValueError),
        (12, ValueError),
    ],
)
def test_hadamard_size_is_checked_at_construction(bad, exc):
    with pytest.raises(exc, match=r"\bn must be"):
        Hadamard(bad)


def test_dct_type_float_is_refused_at_construction():
    with pytest.raises(TypeError, match=r"type must be an integer \(1, 2, 3 or 4\); got 2.0"):
        DCT(4, type=2.0)


# ----------------------------------------------------------------------------------------------
# 5. STRUCTMAT_NUM_THREADS
# ----------------------------------------------------------------------------------------------

BAD_THREADS = ["0", "-1", "abc", "²", "1.5", "+2", "٣", "0x2", "2 3"]


@pytest.mark.parametrize("value", BAD_THREADS)
def test_bad_thread_counts_are_refused_for_every_product_size(monkeypatch, value):
    small = Monarch.random(16, seed=0)
    large = Monarch.random(1024, seed=0)
    x_small = np.ones((16, 2))
    x_large = np.ones((1024, 1024))
    monkeypatch.setenv("STRUCTMAT_NUM_THREADS", value)
    msg = r"STRUCTMAT_NUM_THREADS must be a positive integer \(1, 2, \.\.\.\) or unset; got "
    with pytest.raises(ValueError, match=msg):
        _parallel.num_workers()
    with pytest.raises(ValueError, match=msg):
        small @ x_small
    with pytest.raises(ValueError, match=msg):
        x_small.T @ small
    with pytest.raises(ValueError, match=msg):
        large @ x_large


@pytest.mark.parametrize(
    "value, expected", [("3", 3), (" 2 ", 2), ("1", 1), ("", None), ("   ", None)]
)
def test_good_thread_counts(monkeypatch, value, expected):
    monkeypatch.delenv("STRUCTMAT_NUM_THREADS", raising=False)
    default = _parallel.num_workers()
    monkeypatch.setenv("STRUCTMAT_NUM_THREADS", value)
    assert _parallel.num_workers() == (default if expected is None else expected)
    M = Monarch.random(1024, seed=1)
    X = np.random.default_rng(0).standard_normal((1024, 512))
    np.testing.assert_allclose(M @ X, M.to_dense() @ X, rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------------------------------------
# 6. the BLAS thread limit
# ----------------------------------------------------------------------------------------------


def _blas_threads():
    from threadpoolctl import threadpool_info

    return [(i["filepath"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]


def test_concurrent_projections_restore_the_blas_limit():
    import contextlib

    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    mats = [rng.standard_normal((2048, 2048), dtype=np.float32) for _ in range(3)]
    with contextlib.ExitStack() as stack:
        if all(n < 2 for _, n in _blas_threads()):
            # a count above 1 even on a single-core runner, so that a leaked limit shows
            stack.enter_context(threadpool_limits(limits=2, user_api="blas"))
        before = _blas_threads()
        errors = []
        start = threading.Barrier(len(mats))

        def run(A):
            try:
                start.wait(30)
                for _ in range(2):
                    sm.project_to_monarch(A)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        ts = [threading.Thread(target=run, args=(A,)) for A in mats]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        assert not errors
        # a restore that OpenBLAS refused while other threads were in BLAS calls is retried
        # in the background: it must complete as soon as they are done
        assert _parallel.wait_blas_restored(10)
        assert _blas_threads() == before


def test_overlapping_blas_limits_restore_the_original_count():
    np.ones((4, 4)) @ np.ones((4, 4))
    before = _blas_threads()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with _parallel.blas_single_threaded():
            a_in.set()
            b_in.wait(10)
        a_out.set()  # leaves while the other is still inside

    def second():
        a_in.wait(10)
        with _parallel.blas_single_threaded():
            b_in.set()
            a_out.wait(10)
            seen["inside"] = _blas_threads()  # still limited: one user remains

    ts = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    assert all(n == 1 for _, n in seen["inside"]), (
        seen,
        before,
        [(l.filepath, l.num_threads) for l in _parallel._blas_libraries()],
    )
    assert _blas_threads() == before


def test_blas_limit_is_restored_after_an_error():
    before = _blas_threads()
    with pytest.raises(RuntimeError):
        with _parallel.blas_single_threaded():
            raise RuntimeError("boom")
    assert _blas_threads() == before


# ----------------------------------------------------------------------------------------------
# 7. degenerate Monarch geometries
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, words",
    [
        (
            lambda: Monarch.random(997, seed=0),
            ["(1, 1, 997, 1, 997, 1)", "rank at most 1", "nblocks=", "zero-padding"],
        ),
        (
            lambda: monarch_geometry(3072, 769),
            [
                "(48, 1, 64, 1, 769, 48)",
                "rank at most 48",
                "nblocks=",
                "zero-padding to 770 x 3072",
            ],
        ),
        (
            lambda: monarch_geometry(16, nblocks=8),
            ["(8, 2, 2, 8, 2, 2)", "48 of its 64 slabs are structurally zero", "nblocks=(4, 8)"],
        ),
        (lambda: Monarch.random(64, nblocks=(16, 16), seed=0), ["slabs are structurally zero"]),
    ],
)
def test_degenerate_geometries_warn(call, words):
    with pytest.warns(StructmatWarning) as caught:
        call()
    msg = str(caught[0].message)
    for w in words:
        assert w in msg, msg
    assert caught[0].filename == __file__  # attributed to the caller


def test_degenerate_projection_warns():
    A = np.random.default_rng(0).standard_normal((769, 3072)).astype(np.float32)
    with pytest.warns(StructmatWarning, match=r"769"):
        sm.project_to_monarch(A)


def test_warning_suggestions_are_valid_and_not_degenerate():
    with pytest.warns(StructmatWarning) as caught:
        monarch_geometry(16, nblocks=8)
    import re

    for k, l in re.findall(r"\((\d+), (\d+)\) \(\d+ parameters\)", str(caught[0].message)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            monarch_geometry(16, nblocks=(int(k), int(l)))


@pytest.mark.parametrize(
    "args",
    [
        (16,),
        (64,),
        (8,),
        (12,),
        (2048,),
        (1536, 384),
        (96, 24),
        (24, 96),
        (2,),
        (3,),
        (16, 16, 4),
        (96, 96, 8),
        (12, 8, (4, 2)),
        (4096,),
        (1000,),
    ],
)
def test_usual_geometries_do_not_warn(args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        geo = monarch_geometry(*args)
        assert geometry_degeneracy(geo) is None


def test_geometry_degeneracy_counts_empty_slabs():
    from structmat.ops.monarch import slab_ranks

    for n, b in [(16, 8), (64, 16), (36, 6), (36, 9), (100, 20), (96, 12)]:
        k, q, p, l, s, r = monarch_geometry(n, nblocks=b, warn=False)
        empty = int((slab_ranks(k, q, l) == 0).sum())
        why = geometry_degeneracy((k, q, p, l, s, r))
        assert (why is not None) == (empty > k * l / 2), (n, b, empty, why)
        if why is not None:
            assert f"{empty} of its {k * l} slabs" in why


# ----------------------------------------------------------------------------------------------
# 8. pickling and deep copies
# ----------------------------------------------------------------------------------------------


def _no_modules(obj, path="state"):
    import types

    if isinstance(obj, types.ModuleType):
        raise AssertionError(f"{path} holds a module object")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _no_modules(v, f"{path}[{k!r}]")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _no_modules(v, f"{path}[{i}]")
    elif isinstance(obj, sm.StructuredMatrix):
        _no_modules(obj.__getstate__(), f"{path}<{type(obj).__name__}>")


@over_zoo
@pytest.mark.parametrize("xp", NAMESPACES)
def test_pickle_and_deepcopy_round_trip_bit_exactly(spec, xp):
    entry = built(spec, xp)
    A = entry.A
    m, n = A.shape
    dt = operand_dtype(entry)
    X = operand(spec, xp, (n, 3), dt, "pickle-X")
    Y = operand(spec, xp, (2, m), dt, "pickle-Y")
    dense, AX, YA = A.to_dense(), A @ X, rows_times(A, Y, xp)
    state = A.__getstate__()
    _no_modules(state)
    assert state["version"] == 1 and state["shape"] == A.shape
    assert state["backend"] in (None, "numpy", "array_api_strict")
    for C in (pickle.loads(pickle.dumps(A)), copy.deepcopy(A), copy.copy(A)):
        assert type(C) is type(A) and C.shape == A.shape
        assert sm.base.dtype_name(C.dtype) == sm.base.dtype_name(A.dtype)
        assert (C.xp is None) == (A.xp is None)
        if A.xp is not None:
            assert B.namespace_name(C.xp) == B.namespace_name(A.xp)
        assert repr(C) == repr(A)
        assert_bit_equal(C.to_dense(), dense, f"{spec.id} to_dense")
        assert_bit_equal(C @ X, AX, f"{spec.id} A @ X")
        assert_bit_equal(rows_times(C, Y, xp), YA, f"{spec.id} X @ A")
        assert_bit_equal(C.T.to_dense(), A.T.to_dense(), f"{spec.id} .T")
        if A.xp is not None:
            # parameters come back in the original namespace
            for name in state["arrays"]:
                assert B.namespace_name(B.get_namespace(getattr(C, name))) == B.namespace_name(A.xp)


def test_pickled_convolution_rebuilds_its_cache():
    C = Convolution(np.array([1.0, 2.0, 3.0]), n=5)
    x = np.arange(5.0)
    y = C @ x  # cache filled
    assert "_spectra" not in C.__getstate__()["attributes"]
    D = pickle.loads(pickle.dumps(C))
    assert D._spectra == {}
    assert_bit_equal(D @ x, y)


def test_state_version_is_checked():
    D = Diagonal(np.ones(2))
    state = D.__getstate__()
    state["version"] = 99
    E = Diagonal.__new__(Diagonal)
    with pytest.raises(ValueError, match="state version 99"):
        E.__setstate__(state)


def test_projection_info_pickles():
    A = np.random.default_rng(0).standard_normal((16, 16))
    M, info = sm.project_to_monarch(A, return_info=True)
    M2, info2 = pickle.loads(pickle.dumps((M, info)))
    assert_bit_equal(M2.to_dense(), M.to_dense())
    assert info2.error == info.error
