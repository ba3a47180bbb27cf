"""The backend layer: namespace resolution, mixing errors, FFT/DCT/DST dispatch, moving arrays."""

from __future__ import annotations

import itertools
import types
import zlib

import array_api_compat
import array_api_strict
import numpy as np
import pytest
import scipy.fft

from structmat import (
    DCT,
    DFT,
    Convolution,
    Diagonal,
    Hadamard,
    Monarch,
    Permutation,
    Product,
    _backend as B,
)

from .conftest import to_numpy
from .tolerance import assert_close, fft_depth
from .zoo import SPECS, draw

KINDS_TYPES = list(itertools.product(("dct", "dst"), (1, 2, 3, 4)))


def rng_for(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# ----------------------------------------------------------------------------------------------
# namespace resolution
# ----------------------------------------------------------------------------------------------


def test_namespace_of_arrays():
    a = np.zeros(3)
    s = array_api_strict.asarray([1.0, 2.0])
    assert B.namespace_name(B.array_namespace(a)) == "numpy"
    assert B.namespace_name(B.array_namespace(s)) == "array_api_strict"
    assert B.namespace_name(B.array_namespace(None, a, None)) == "numpy"
    assert B.namespace_name(B.array_namespace(s, None, s)) == "array_api_strict"
    # no arrays at all: NumPy
    assert B.namespace_name(B.array_namespace()) == "numpy"
    assert B.namespace_name(B.get_namespace(s)) == "array_api_strict"
    assert B.namespace_name(None) == "none"


@pytest.mark.parametrize(
    "spec,name",
    [
        (None, "numpy"),
        ("numpy", "numpy"),
        ("np", "numpy"),
        ("NumPy", "numpy"),
        ("array_api_strict", "array_api_strict"),
        ("strict", "array_api_strict"),
        (np, "numpy"),
        (array_api_strict, "array_api_strict"),
    ],
)
def test_resolve_xp(spec, name):
    ns = B.resolve_xp(spec)
    assert B.namespace_name(ns) == name
    # resolution is idempotent
    assert B.namespace_name(B.resolve_xp(ns)) == name


@pytest.mark.parametrize(
    "bad,match",
    [("torch2", "xp must be"), (3, "xp must be"), (scipy.fft, "not an array namespace")],
)
def test_resolve_xp_rejects(bad, match):
    with pytest.raises(TypeError, match=match):
        B.resolve_xp(bad)


def test_is_array_and_predicates():
    assert B.is_array(np.zeros(2)) and B.is_array(array_api_strict.asarray([1.0]))
    assert not B.is_array([1.0, 2.0])
    assert not B.is_array(3.0)
    assert not B.is_array(Hadamard(2))
    assert B.is_numpy(B.resolve_xp("numpy")) and not B.is_numpy(array_api_strict)
    assert not B.is_numpy(None) and not B.is_cupy(None) and not B.is_cupy(np)


def test_parameter_namespace_decides(xp):
    d = Diagonal(xp.asarray(np.arange(1.0, 4.0)))
    assert B.namespace_name(d.xp) == B.namespace_name(B.get_namespace(xp.asarray([0.0])))
    # parameter-free classes follow the operand
    assert Hadamard(4).xp is None and DFT(4).xp is None
    y = Hadamard(4) @ xp.asarray(np.ones(4))
    assert B.namespace_name(B.get_namespace(y)) == B.namespace_name(
        B.get_namespace(xp.asarray([0.0]))
    )


# ----------------------------------------------------------------------------------------------
# mixing namespaces
# ----------------------------------------------------------------------------------------------

BOTH = r"(numpy.*array_api_strict|array_api_strict.*numpy)"


def test_array_namespace_mix_names_both():
    with pytest.raises(TypeError, match=BOTH):
        B.array_namespace(np.zeros(2), array_api_strict.asarray([1.0]))


def test_numpy_monarch_times_strict_array():
    M = Monarch.random(16, seed=0)
    x = array_api_strict.asarray(np.ones(16))
    with pytest.raises(TypeError, match=BOTH):
        M @ x
    with pytest.raises(TypeError, match=BOTH):
        M.rmatmul(x)


def test_strict_monarch_times_numpy_array():
    M = Monarch.random(16, seed=0, xp="array_api_strict")
    with pytest.raises(TypeError, match=BOTH):
        M @ np.ones(16)
    with pytest.raises(TypeError, match=BOTH):
        np.ones(16) @ M


def test_product_of_numpy_and_strict_monarch():
    A = Monarch.random(16, seed=0)
    S = Monarch.random(16, seed=1, xp=array_api_strict)
    with pytest.raises(TypeError, match=BOTH):
        A @ S
    with pytest.raises(TypeError, match=BOTH):
        Product(S, Hadamard(16), A)


def test_mixed_parameters_in_one_constructor():
    with pytest.raises(TypeError, match=BOTH):
        Monarch(np.ones((4, 4, 4)), array_api_strict.ones((4, 4, 4)))


def test_product_with_parameter_free_factor_checks_operand():
    P = Diagonal(array_api_strict.asarray(np.ones(8))) @ Hadamard(8)
    assert B.namespace_name(P.xp) == "array_api_strict"
    with pytest.raises(TypeError, match=BOTH):
        P @ np.ones(8)


# ----------------------------------------------------------------------------------------------
# FFT / DCT / DST dispatch
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind,type", KINDS_TYPES)
@pytest.mark.parametrize("norm", [None, "ortho"])
@pytest.mark.parametrize("n", [2, 5, 16])
def test_trig_fft_fallback_on_strict_vs_scipy(kind, type, norm, n):
    """The FFT formula that serves namespaces without a native DCT/DST equals SciPy's."""
    fn = scipy.fft.dct if kind == "dct" else scipy.fft.dst
    rng = rng_for(kind, type, norm, n)
    for prec in ("float64", "complex128", "float32", "complex64"):
        x = draw(rng, (n, 3), prec)
        want = fn(
            x.astype(np.complex128 if x.dtype.kind == "c" else np.float64),
            type=type,
            norm=norm,
            axis=0,
        )
        for axis in (0, 1):
            xs = array_api_strict.asarray(x if axis == 0 else x.T)
            via = B._trig_via_fft(array_api_strict, xs, kind, type, norm, axis=axis)
            disp = B.trig(array_api_strict, xs, kind, type, norm, axis=axis)
            for got in (via, disp):
                assert B.namespace_name(B.get_namespace(got)) == "array_api_strict"
                assert got.dtype == xs.dtype
                g = to_numpy(got)
                assert_close(
                    g if axis == 0 else g.T,
                    want,
                    x.dtype,
                    n,
                    fft_depth(2 * n),
                    what=f"{kind}{type} {norm} n={n} {prec} axis={axis}",
                )


def test_trig_fallback_on_numpy_namespace_matches_native():
    """The fallback is namespace-generic: on NumPy it agrees with scipy.fft itself."""
    rng = rng_for("np-fallback")
    x = rng.standard_normal((9, 2))
    for (kind, type), norm in itertools.product(KINDS_TYPES, (None, "ortho")):
        native = B.trig(B.resolve_xp("numpy"), x, kind, type, norm, axis=0)
        via = B._trig_via_fft(B.resolve_xp("numpy"), x, kind, type, norm, axis=0)
        assert_close(via, native, np.float64, 9, fft_depth(18), what=f"{kind}{type} {norm}")


@pytest.mark.parametrize("norm", [None, "backward", "ortho", "forward"])
def test_fft_ifft_dispatch(xp, norm):
    rng = rng_for("fft", norm)
    x = draw(rng, (12, 2), "float64")
    xa = xp.asarray(x)
    for fn, ref in ((B.fft, scipy.fft.fft), (B.ifft, scipy.fft.ifft)):
        for axis in (0, 1):
            got = fn(B.get_namespace(xa), xa, axis=axis, norm=norm)
            assert str(got.dtype).endswith("complex128")
            assert_close(
                to_numpy(got), ref(x, axis=axis, norm=norm), np.complex128, 12, fft_depth(12)
            )
    x32 = xp.asarray(draw(rng, 8, "float32"))
    assert str(B.fft(B.get_namespace(x32), x32, axis=0).dtype).endswith("complex64")


def test_rfft_irfft_round_trip(xp):
    x = draw(rng_for("rfft"), (10, 3), "float64")
    ns = B.get_namespace(xp.asarray(x))
    spec = B.rfft(ns, xp.asarray(x), axis=0, n=16)
    assert_close(to_numpy(spec), np.fft.rfft(x, n=16, axis=0), np.complex128, 16, fft_depth(16))
    back = B.irfft(ns, spec, axis=0, n=16)
    assert_close(to_numpy(back)[:10], x, np.float64, 16, 2 * fft_depth(16))


def test_next_fast_len():
    ns = B.resolve_xp("numpy")
    assert B.next_fast_len(ns, 97) == scipy.fft.next_fast_len(97) >= 97
    assert B.next_fast_len(array_api_strict, 97) == 97


# ----------------------------------------------------------------------------------------------
# moving arrays, dtypes
# ----------------------------------------------------------------------------------------------


def test_move_and_to_numpy():
    a = np.arange(6.0).reshape(2, 3)
    s = B.move(a, array_api_strict)
    assert B.namespace_name(B.get_namespace(s)) == "array_api_strict"
    assert s.shape == (2, 3) and s.dtype == array_api_strict.float64
    back = B.move(s, B.resolve_xp("numpy"))
    assert isinstance(back, np.ndarray) and np.array_equal(back, a)
    # same namespace: no copy
    assert B.move(a, B.resolve_xp("numpy")) is a
    assert B.move(s, array_api_strict) is s
    assert B.move(None, array_api_strict) is None
    assert B.to_numpy(a) is a
    assert np.array_equal(B.to_numpy(s), a)
    c = B.move(np.array([1 + 2j], dtype=np.complex64), array_api_strict)
    assert c.dtype == array_api_strict.complex64


def test_float_dtype_rules():
    ns = B.resolve_xp("numpy")
    assert B.float_dtype_for(ns, np.dtype(np.int32)) == np.float64
    assert B.float_dtype_for(ns, np.dtype(np.bool_)) == np.float64
    for dt in (np.float32, np.float64, np.complex64, np.complex128):
        assert B.float_dtype_for(ns, np.dtype(dt)) == dt
    with pytest.raises(TypeError, match="float16"):
        B.float_dtype_for(ns, np.dtype(np.float16), what="X")
    with pytest.raises(TypeError, match="dtype"):
        B.check_float_dtype(ns, np.dtype(np.int64), "dtype")
    assert B.real_dtype_for(ns, np.complex64) == np.float32
    assert B.complex_dtype_for(ns, np.float64) == np.complex128
    assert B.is_complex_dtype(ns, np.dtype(np.complex64))
    assert not B.is_complex_dtype(ns, np.dtype(np.float64))
    s = array_api_strict
    assert B.float_dtype_for(s, s.int64) == s.float64
    assert B.complex_dtype_for(s, s.float32) == s.complex64
    # non-native byte order maps to the native twin; other float widths are refused
    assert B.float_dtype_for(ns, np.dtype(">f4")) == np.dtype(np.float32)
    assert B.float_dtype_for(ns, np.dtype(">c16")).isnative
    for bad in (np.longdouble, np.clongdouble, np.float16):
        if np.dtype(bad).char in "fdFD":  # platforms where long double is double
            continue
        with pytest.raises(TypeError, match="expected a float32/64"):
            B.float_dtype_for(ns, np.dtype(bad))


@pytest.mark.parametrize("n", [1, 5, 64])
def test_one_vector_transforms_match_the_2d_call(n):
    # a single column (axis 0) or row (axis 1) goes to SciPy's FFTs as 1-D: same values and
    # shape as SciPy's 2-D call, also for strided views and padded lengths
    rng = np.random.default_rng(n)
    big = rng.standard_normal((n, 3)) + 1j * rng.standard_normal((n, 3))
    ns = B.resolve_xp("numpy")
    for X in (big[:, 1:2], np.ascontiguousarray(big[:, :1]), big[:, 2:3].real):
        for axis, Xa in ((0, X), (1, X.T)):
            cases = [
                (
                    B.fft(ns, Xa, axis=axis, norm="ortho"),
                    scipy.fft.fft(Xa, axis=axis, norm="ortho"),
                ),
                (B.ifft(ns, Xa, axis=axis), scipy.fft.ifft(Xa, axis=axis)),
                (B.fft(ns, Xa, axis=axis, n=n + 3), scipy.fft.fft(Xa, n=n + 3, axis=axis)),
            ]
            if not np.iscomplexobj(Xa):
                m = 2 * n + 1
                R = scipy.fft.rfft(Xa, n=m, axis=axis)
                cases += [
                    (B.rfft(ns, Xa, axis=axis, n=m), R),
                    (B.irfft(ns, R, axis=axis, n=m), scipy.fft.irfft(R, n=m, axis=axis)),
                ]
                if n > 1:
                    for kind, t in (("dct", 1), ("dct", 2), ("dst", 3), ("dst", 4)):
                        ref = getattr(scipy.fft, kind)(Xa, type=t, axis=axis)
                        cases.append((B.trig(ns, Xa, kind, t, None, axis), ref))
            for got, ref in cases:
                assert got.shape == ref.shape and got.dtype == ref.dtype
                np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12 * n)


def test_numpy_namespace_shortcut_agrees_with_generic_detection():
    # plain NumPy arrays are recognised by type before array_api_compat's generic detection:
    # both must give the very same namespace object, and subclasses keep the generic path
    a = np.zeros(3)
    assert B.get_namespace(a) is array_api_compat.array_namespace(a)
    assert B.is_array(a) and B.is_numpy(B.get_namespace(a)) and B.is_numpy(np)
    assert B.namespace_name(B.get_namespace(a)) == "numpy"
    m = np.ma.masked_array([1.0, 2.0])
    assert B.is_array(m) == array_api_compat.is_array_api_obj(m)
    assert not B.is_numpy(array_api_strict) and not B.is_numpy(None)


def test_all_finite(xp):
    ns = B.get_namespace(xp.asarray([0.0]))
    assert B.all_finite(ns, xp.asarray([1.0, 2.0]))
    assert not B.all_finite(ns, xp.asarray([1.0, float("nan")]))
    assert not B.all_finite(ns, xp.asarray([float("-inf"), 0.0]))


def test_to_backend_moves_every_parametrised_class():
    objs = [
        Monarch.random(12, 8, nblocks=(4, 2), seed=0),
        Diagonal(np.ones(3)),
        Permutation([1, 0, 2]),
        Convolution(np.arange(1.0, 4.0), n=5, mode="full"),
        Product(Diagonal(np.ones(4)), Hadamard(4)),
    ]
    for A in objs:
        S = A.to_backend("array_api_strict")
        assert B.namespace_name(S.xp) == "array_api_strict"
        assert np.array_equal(to_numpy(S.to_dense()), np.asarray(A))
        N = S.to_backend(np)
        assert B.namespace_name(N.xp) == "numpy"
    # parameter-free: the same object, whatever the target
    H = Hadamard(4)
    assert H.to_backend(array_api_strict) is H and DCT(4).to_backend("numpy").xp is None
    with pytest.raises(TypeError, match="xp"):
        H.to_backend("torch2")


def test_to_dense_in_another_namespace_is_explicit():
    M = Monarch.random(16, seed=2)
    D = M.to_dense(array_api_strict)
    assert B.namespace_name(B.get_namespace(D)) == "array_api_strict"
    assert np.array_equal(to_numpy(D), np.asarray(M))
    assert B.namespace_name(M.xp) == "numpy"  # the original stays where it was


# ----------------------------------------------------------------------------------------------
# devices: array_api_strict's second device stands in for a GPU
# ----------------------------------------------------------------------------------------------

_DEVICE = array_api_strict.Device("device1")


class _OnDevice(types.ModuleType):
    """array_api_strict whose ``asarray`` places new arrays on its second device."""

    def __init__(self):
        super().__init__("array_api_strict")

    def __getattr__(self, name):
        return getattr(array_api_strict, name)

    def asarray(self, a, **kwargs):
        kwargs.setdefault("device", _DEVICE)
        return array_api_strict.asarray(a, **kwargs)


def test_arrays_on_a_second_device_cannot_reach_numpy():
    """What makes the next test meaningful: such arrays refuse any conversion to NumPy."""
    a = _OnDevice().asarray(np.ones(3))
    with pytest.raises((RuntimeError, TypeError, ValueError, BufferError)):
        np.asarray(a)


# Permutation.transpose_perm(r, c, xp) builds its index array on xp's default device by design
_DEVICE_SPECS = [s for s in SPECS if "transpose_perm" not in s.id]


@pytest.mark.parametrize("spec", _DEVICE_SPECS, ids=[s.id for s in _DEVICE_SPECS])
def test_zoo_stays_on_the_parameters_device(spec):
    """Every multiply and dense view runs on the device of its inputs: constants are created
    there and nothing makes a trip through NumPy (which would raise for device1 arrays)."""
    e = spec.build(_OnDevice())
    n_out, n_in = e.ref.shape
    rng = rng_for("device", spec.id)
    X = array_api_strict.asarray(draw(rng, (n_in, 2), "complex128"), device=_DEVICE)
    Y = array_api_strict.asarray(draw(rng, (2, n_out), "float64"), device=_DEVICE)
    results = [e.A @ X, e.A.rmatmul(Y), e.A.H @ Y.T]
    if e.A.xp is not None:
        results.append(e.A.to_dense())
    for r in results:
        assert r.device == _DEVICE
    cpu = array_api_strict.Device("CPU_DEVICE")
    got, x = results[0].to_device(cpu), to_numpy(X.to_device(cpu))
    assert_close(to_numpy(got), e.ref @ x, np.complex128, e.n, e.depth, what=e.id)
