"""Tests of fit_monarch_gd (Adam, SGD, ALS) and of the projection benchmark script."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import structmat
import structmat.fitting as fitting
from structmat import Monarch, fit_monarch_gd, project_to_monarch, projection_error
from structmat.geometry import slab_factors, slab_view
from structmat.ops.monarch import monarch_geometry

from .conftest import to_numpy
from .test_projection import geometries, random_matrix
from .tolerance import rtol


def _slab_problem(rng, geometry, dtype):
    """Random slab-layout factors (padding zeroed) and a random target in slab layout."""
    k, q, p, l, s, r = geometry
    M = Monarch.random(k * p, l * s, nblocks=(k, l), seed=rng, dtype=dtype)
    Ls, Rs = slab_factors(np, M.L, M.R, M.geometry)
    S = random_matrix(rng, (k, l, s, p), dtype)
    mask = np.asarray(fitting._slab_mask(np, geometry, dtype))
    return Ls, Rs, S, mask


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize(
    "n_out, n_in, nb", [(16, 16, None), (96, 96, 8), (24, 36, (4, 3)), (16, 16, (4, 8))]
)
def test_gradients_match_finite_differences(dtype, n_out, n_in, nb):
    rng = np.random.default_rng(0)
    geometry = monarch_geometry(n_in, n_out, nb)
    Ls, Rs, S, mask = _slab_problem(rng, geometry, dtype)
    loss, gL, gR = fitting._loss_and_grads(np, Ls, Rs, S)
    assert np.isclose(loss, 0.5 * np.sum(np.abs(Ls @ Rs - S) ** 2))
    h = 1e-6
    for _ in range(3):
        for which in ("L", "R"):
            base, g = (Ls, gL) if which == "L" else (Rs, gR)
            shape_mask = mask[..., None, :] if which == "L" else mask[..., :, None]
            D = random_matrix(rng, base.shape, dtype) * shape_mask

            def f(t):
                X = base + t * D
                args = (X, Rs) if which == "L" else (Ls, X)
                return float(fitting._loss_and_grads(np, *args, S)[0])

            fd = (f(h) - f(-h)) / (2 * h)
            # steepest-ascent direction: d/dt f(Z + t D) = Re <grad, D> (Wirtinger: grad = 2 df/dconj(Z))
            analytic = float(np.real(np.vdot(g, D)))
            assert abs(fd - analytic) <= 1e-6 * max(1.0, abs(analytic)), (which, fd, analytic)


@pytest.mark.parametrize("dtype", ["float64", "complex128", "float32"])
def test_gradient_vanishes_at_the_projection(dtype):
    rng = np.random.default_rng(1)
    for shape, nb in (((48, 48), None), ((96, 96), 8), ((24, 36), (4, 3))):
        A = random_matrix(rng, shape, dtype)
        M = project_to_monarch(A, nb)
        Ls, Rs = slab_factors(np, M.L, M.R, M.geometry)
        S = np.asarray(slab_view(np, A[None], M.geometry)[0])
        _, gL, gR = fitting._loss_and_grads(np, Ls, Rs, S)
        scale = np.linalg.norm(A) * max(np.abs(Ls).max(), np.abs(Rs).max())
        tol = rtol(dtype, max(shape), depth=2)
        assert np.linalg.norm(gL) <= tol * scale and np.linalg.norm(gR) <= tol * scale


@given(
    geo=geometries(),
    seed=st.integers(0, 2**16),
    optimizer=st.sampled_from(["adam", "sgd", "als"]),
    dtype=st.sampled_from(["float64", "complex128"]),
)
def test_gd_never_ends_below_the_projection(geo, seed, optimizer, dtype):
    n_out, n_in, nb = geo
    A = random_matrix(np.random.default_rng(seed), (n_out, n_in), dtype)
    e_opt = projection_error(A, project_to_monarch(A, nb))
    lr = 0.05 if optimizer == "adam" else 0.5 / (np.linalg.norm(A, 2) ** 1 + 1)
    M, hist = fit_monarch_gd(A, nb, steps=40, lr=lr, seed=seed, optimizer=optimizer)
    tol = rtol(dtype, max(n_in, n_out), depth=2)
    assert hist["rel_error"].min() >= e_opt - tol
    assert projection_error(A, M) >= e_opt - tol
    assert abs(projection_error(A, M) - hist["rel_error"][-1]) <= tol


@pytest.mark.parametrize("dtype", ["float64", "complex128", "float32"])
def test_als_reaches_the_projection(dtype):
    A = random_matrix(np.random.default_rng(2), (64, 64), dtype)
    e_opt = projection_error(A, project_to_monarch(A))
    M, hist = fit_monarch_gd(A, steps=400, seed=0, optimizer="als")
    assert hist["rel_error"][-1] >= e_opt - rtol(dtype, 64, depth=2)
    assert hist["rel_error"][-1] <= e_opt * (1 + 1e-4)


def test_adam_and_sgd_descend():
    A = random_matrix(np.random.default_rng(3), (64, 64), "float64")
    e_opt = projection_error(A, project_to_monarch(A))
    _, h = fit_monarch_gd(A, steps=300, lr=0.05, seed=0)
    assert h["rel_error"][0] > 1.2 * e_opt  # a random start
    assert h["rel_error"][-1] <= e_opt * 1.05
    _, h = fit_monarch_gd(A, steps=100, lr=0.02, seed=0, optimizer="sgd")
    assert np.all(np.diff(h["loss"]) <= 1e-9 * h["loss"][0])  # small steps: monotone


def test_starting_at_the_projection_stays_there():
    A = random_matrix(np.random.default_rng(4), (32, 48), "complex128")
    P = project_to_monarch(A, (4, 4))
    e_opt = projection_error(A, P)
    for opt in ("sgd", "als"):
        M, h = fit_monarch_gd(A, (4, 4), steps=10, lr=1e-3, optimizer=opt, init=P)
        assert h["rel_error"][0] == pytest.approx(e_opt, abs=1e-12)
        assert np.all(np.abs(h["rel_error"] - e_opt) <= 1e-10)


def test_history_and_stopping_rules():
    A = random_matrix(np.random.default_rng(5), (36, 36), "float64")
    M, h = fit_monarch_gd(A, steps=25, seed=1)
    assert set(h) == {"step", "rel_error", "loss", "time"}
    assert [len(v) for v in h.values()] == [26] * 4
    assert np.array_equal(h["step"], np.arange(26))
    assert np.all(np.diff(h["time"]) >= 0) and h["time"][0] >= 0
    assert np.allclose(h["rel_error"], np.sqrt(2 * h["loss"]) / np.linalg.norm(A))
    assert M.shape == A.shape and M.geometry == monarch_geometry(36, 36, None)
    # deterministic for a seed
    _, h2 = fit_monarch_gd(A, steps=25, seed=1)
    assert np.array_equal(h["loss"], h2["loss"])
    # a target stops early, and so does a time limit
    _, h3 = fit_monarch_gd(A, steps=500, seed=1, optimizer="als", target=h["rel_error"][-1])
    assert len(h3["loss"]) < 500
    _, h4 = fit_monarch_gd(A, steps=10**6, seed=1, time_limit=0.05)
    assert len(h4["loss"]) < 10**6 and h4["time"][-1] >= 0.05
    # zero steps: the start only
    _, h5 = fit_monarch_gd(A, steps=0, seed=1)
    assert len(h5["loss"]) == 1


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_backends_follow_numpy(xp, dtype):
    A = random_matrix(np.random.default_rng(6), (24, 36), dtype)
    for opt in ("adam", "sgd", "als"):
        Mx, hx = fit_monarch_gd(xp.asarray(A), (4, 3), steps=15, lr=0.01, seed=3, optimizer=opt)
        Mn, hn = fit_monarch_gd(A, (4, 3), steps=15, lr=0.01, seed=3, optimizer=opt)
        assert structmat._backend.namespace_name(
            structmat._backend.get_namespace(Mx.L)
        ) == structmat._backend.namespace_name(structmat._backend.get_namespace(xp.asarray(A)))
        assert Mx.dtype == xp.asarray(A).dtype
        np.testing.assert_allclose(hx["rel_error"], hn["rel_error"], rtol=1e-9)
        np.testing.assert_allclose(to_numpy(Mx.to_dense()), np.asarray(Mn.to_dense()), atol=1e-9)


def test_float32_stays_float32():
    A = random_matrix(np.random.default_rng(7), (32, 32), "float32")
    M, h = fit_monarch_gd(A, steps=5)
    assert M.dtype == np.float32 and M.L.dtype == np.float32


def test_bad_arguments():
    A = np.ones((16, 16))
    with pytest.raises(ValueError, match="2-D"):
        fit_monarch_gd(np.ones((2, 16, 16)))
    with pytest.raises(ValueError, match="1-D"):
        fit_monarch_gd(np.ones(16))
    with pytest.raises(TypeError, match="dtype"):
        fit_monarch_gd(np.ones((16, 16), dtype=int))
    with pytest.raises(ValueError, match="NaN"):
        fit_monarch_gd(np.full((16, 16), np.inf))
    with pytest.raises(ValueError, match="steps"):
        fit_monarch_gd(A, steps=-1)
    with pytest.raises(ValueError, match="steps"):
        fit_monarch_gd(A, steps=2.5)
    for lr in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="lr"):
            fit_monarch_gd(A, lr=lr)
    with pytest.raises(ValueError, match="optimizer"):
        fit_monarch_gd(A, optimizer="lbfgs")
    with pytest.raises(ValueError, match="betas"):
        fit_monarch_gd(A, betas=(1.0, 0.5))
    with pytest.raises(ValueError, match="Valid k"):
        fit_monarch_gd(A, nblocks=3)
    with pytest.raises(TypeError, match="init"):
        fit_monarch_gd(A, init=np.eye(16))
    with pytest.raises(ValueError, match="geometry"):
        fit_monarch_gd(A, init=Monarch.random(16, nblocks=2))
    with pytest.raises(TypeError, match="complex"):
        fit_monarch_gd(A, init=Monarch.random(16, dtype="complex128"))
    with pytest.raises(ValueError, match="diverged.*lr"):
        fit_monarch_gd(
            np.random.default_rng(0).standard_normal((16, 16)), steps=50, lr=1e3, optimizer="sgd"
        )


def test_progress_only_when_asked_or_on_a_terminal(capsys):
    A = np.random.default_rng(8).standard_normal((16, 16))
    fit_monarch_gd(A, steps=300)  # stderr is captured: not a terminal
    assert capsys.readouterr().err == ""
    fit_monarch_gd(A, steps=5, progress=True)
    err = capsys.readouterr().err
    assert "fit_monarch_gd" in err and "5/5" in err and err.endswith("\n")


# ----------------------------------------------------------------------------------------------
# the benchmark script
# ----------------------------------------------------------------------------------------------


def test_projection_benchmark_smoke(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from benchmarks import projection as bench

    rc = bench.main(
        ["--sizes", "16", "64", "--steps", "5", "--repeats", "1", "--out", str(tmp_path)]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "proj_over_copy" in out and "svd_over_proj" in out
    with open(tmp_path / "projection.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["family"], r["n"]) for r in rows] == [
        (f, n) for n in ("16", "64") for f in bench.FAMILIES
    ]
    for r in rows:
        # the projection and the SVD of the same slabs give the same (optimal) error
        assert abs(float(r["proj_err"]) - float(r["svd_err"])) <= 1e-4
        for key in ("proj_ms", "svd_ms", "copy_ms", "gd_s", "svd_over_proj", "proj_over_copy"):
            assert math.isfinite(float(r[key])) and float(r[key]) > 0
        assert float(r["gd_err"]) >= float(r["proj_err"]) - 1e-5
        assert r["gd_reach_s"] == "never" or float(r["gd_reach_s"]) >= 0
        if r["family"] == "dft_perm":
            assert float(r["proj_err"]) < 1e-5
    assert (tmp_path / "projection.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_projection_benchmark_families():
    from benchmarks import projection as bench

    rng = np.random.default_rng(0)
    for fam in bench.FAMILIES:
        A = bench.make_matrix(fam, 64, rng)
        assert A.shape == (64, 64) and A.dtype in (np.float32, np.complex64)
    assert (
        bench.block_size(4096) == 64 and bench.block_size(2048) == 32 and bench.block_size(96) == 8
    )
    sv = np.linalg.svd(bench.make_matrix("heavytail", 64, rng).astype(np.float64), compute_uv=False)
    np.testing.assert_allclose(sv, (np.arange(64) + 1.0) ** -0.5, rtol=1e-4)
    with pytest.raises(ValueError, match="unknown family"):
        bench.make_matrix("trained", 16, rng)


# ----------------------------------------------------------------------------------------------
# scale: relative errors are relative at every magnitude of A
# ----------------------------------------------------------------------------------------------


def _dense64(M):
    """Dense float64/complex128 copy of a Monarch matrix's ``to_dense`` (exact widening)."""
    return np.asarray(M.to_dense()).astype(np.complex128 if np.iscomplexobj(M.L) else np.float64)


@pytest.mark.parametrize(
    "dtype, scale",
    [
        ("float32", 1e-30),
        ("float32", 1e-20),
        ("float32", 1e20),
        ("float32", 1e30),
        ("complex64", 1e-30),
        ("float64", 1e-200),
        ("float64", 1e200),
        ("complex128", 1e-250),
    ],
)
def test_relative_error_is_relative_at_any_scale(dtype, scale):
    rng = np.random.default_rng(11)
    A = random_matrix(rng, (64, 64), dtype)
    As = (A.astype(np.complex128 if dtype.startswith("complex") else np.float64) * scale).astype(
        dtype
    )
    assert np.all(np.isfinite(As)) and np.any(As != 0)
    _, h_ref = fit_monarch_gd(A, steps=0, seed=3)
    Ms, h = fit_monarch_gd(As, steps=20, lr=0.02, seed=3)
    # a random start scaled to the norm of A: relative error about 1.4 (not an absolute error)
    tol = rtol(dtype, 64, depth=2)
    assert abs(h["rel_error"][0] - h_ref["rel_error"][0]) <= tol * h_ref["rel_error"][0]
    assert 1.0 < h["rel_error"][0] < 2.0
    assert np.all(np.isfinite(h["rel_error"])) and h["rel_error"][-1] < h["rel_error"][0]
    # the returned factors are in the units of A: their error (measured in float64 on the
    # matrix brought to unit scale by an exact power of two) is the history's last entry
    e = int(np.frexp(np.max(np.abs(As)))[1])
    A64 = As.astype(np.complex128 if dtype.startswith("complex") else np.float64)
    k, q, p, l, s, r = Ms.geometry
    L64 = np.ldexp(Ms.L.real.astype(np.float64), -(e // 2))
    R64 = np.ldexp(Ms.R.real.astype(np.float64), -(e - e // 2))
    if dtype.startswith("complex"):
        L64 = L64 + 1j * np.ldexp(Ms.L.imag.astype(np.float64), -(e // 2))
        R64 = R64 + 1j * np.ldexp(Ms.R.imag.astype(np.float64), -(e - e // 2))
    M64 = _dense64(Monarch(L64, R64))
    Au = np.ldexp(A64.real, -e) + (
        1j * np.ldexp(A64.imag, -e) if dtype.startswith("complex") else 0
    )
    measured = np.linalg.norm(Au - M64) / np.linalg.norm(Au)
    assert abs(measured - h["rel_error"][-1]) <= tol
    assert Ms.dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_subnormal_input(dtype):
    rng = np.random.default_rng(12)
    A = rng.standard_normal((64, 64))
    j = -140 if dtype == "float32" else -1060  # every entry subnormal
    As = np.ldexp(A, j).astype(dtype)
    tiny = np.finfo(dtype).smallest_normal
    assert np.max(np.abs(As)) < tiny and np.count_nonzero(As) > 0.99 * As.size
    # the reference: the same (already rounded) entries lifted to normal numbers exactly
    Au = np.ldexp(As.astype(np.float64), -j).astype(dtype)
    _, h_ref = fit_monarch_gd(Au, steps=5, seed=4)
    M, h = fit_monarch_gd(As, steps=5, seed=4)
    np.testing.assert_allclose(h["rel_error"], h_ref["rel_error"], rtol=rtol(dtype, 64, depth=2))
    assert np.all(np.isfinite(np.asarray(M.L))) and np.any(np.asarray(M.L) != 0)


@pytest.mark.parametrize(
    "dtype, j",
    [("float32", -100), ("float32", 77), ("float64", -901), ("complex64", 61), ("complex128", 500)],
)
@pytest.mark.parametrize("optimizer", ["adam", "sgd", "als"])
def test_powers_of_two_scale_exactly(dtype, j, optimizer):
    """The fit of ``2**j A`` is the fit of ``A`` with factors scaled by ``2**(j/2)``, bit for bit."""
    A = random_matrix(np.random.default_rng(13), (24, 36), dtype)
    As = A * np.asarray(2.0**j, dtype=A.real.dtype)
    assert np.array_equal(As / np.asarray(2.0**j, dtype=A.real.dtype), A)  # exact scaling
    M, h = fit_monarch_gd(A, (4, 3), steps=8, lr=0.01, seed=5, optimizer=optimizer)
    Ms, hs = fit_monarch_gd(As, (4, 3), steps=8, lr=0.01, seed=5, optimizer=optimizer)
    assert np.array_equal(h["rel_error"], hs["rel_error"])
    np.testing.assert_array_equal(hs["loss"], np.ldexp(h["loss"], 2 * j))
    jL = (j + fitting._scale_exponent(np, A)) // 2 - fitting._scale_exponent(np, A) // 2
    np.testing.assert_array_equal(np.asarray(Ms.L), np.asarray(M.L) * 2.0**jL)
    np.testing.assert_array_equal(np.asarray(Ms.R), np.asarray(M.R) * 2.0 ** (j - jL))


def test_start_from_an_init_at_any_scale():
    """A given start is taken in the units of A: starting at a scaled projection stays optimal."""
    A = random_matrix(np.random.default_rng(14), (64, 64), "float32")
    P = project_to_monarch(A)
    e_opt = projection_error(A, P)
    c = 2.0**-90
    As = A * np.float32(c)
    init = Monarch(P.L * np.float32(2.0**-45), P.R * np.float32(2.0**-45))
    M, h = fit_monarch_gd(As, steps=3, optimizer="als", init=init)
    assert abs(h["rel_error"][0] - e_opt) <= rtol("float32", 64, depth=2)
    assert abs(h["rel_error"][-1] - e_opt) <= rtol("float32", 64, depth=2)
    np.testing.assert_allclose(
        h["loss"][0], 0.5 * (e_opt * np.linalg.norm(A.astype(np.float64)) * c) ** 2, rtol=1e-5
    )


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "als"])
def test_zero_matrix(optimizer):
    A = np.zeros((16, 16), dtype=np.float32)
    M, h = fit_monarch_gd(A, steps=3, optimizer=optimizer, seed=0)
    assert np.all(h["rel_error"] == 0) and np.all(h["loss"] == 0)
    assert not np.any(np.asarray(M.to_dense()))
    # a nonzero start against a zero A: no relative error exists (as projection_error: inf)
    _, h = fit_monarch_gd(A, steps=0, init=Monarch.random(16, seed=0, dtype="float32"))
    assert h["rel_error"][0] == np.inf


def test_scale_exponent_helper():
    for dtype in ("float32", "float64", "complex64"):
        A = random_matrix(np.random.default_rng(15), (40, 30), dtype)
        A[0, 0] = 1e3  # a spread of magnitudes
        for j in (-140, -40, 0, 3, 90):
            with np.errstate(over="ignore"):
                Aj = (
                    (A.astype(np.complex128) * 2.0**j).astype(dtype)
                    if dtype == "complex64"
                    else (A.astype(np.float64) * 2.0**j).astype(dtype)
                )
            if not np.all(np.isfinite(Aj)):
                continue
            e = fitting._scale_exponent(np, Aj)
            W = Aj.astype(np.complex128)
            rms = np.sqrt(np.mean(np.ldexp(W.real, -e) ** 2 + np.ldexp(W.imag, -e) ** 2))
            if e == 0:
                # moderate scales are fitted as given: rms within 2**+-30 (plus rounding)
                assert 2.0**-30.5 <= rms <= 2.0**30.5, (dtype, j, rms)
            else:
                assert 2**-0.5 <= rms <= 2**0.5 * (1 + 1e-6), (dtype, j, rms)
                assert abs(e) > fitting._SCALE_FREE
    assert fitting._scale_exponent(np, np.zeros((3, 3))) == 0
    x = np.ones(4, dtype=np.float32)
    # 2**-140 is subnormal in float32 and 2**+-250 outside its range: applied in steps
    assert np.array_equal(
        fitting._times_pow2(np, x, -140), np.ldexp(np.ones(4), -140).astype(np.float32)
    )
    small = x * np.float32(2.0**-120)
    big = fitting._times_pow2(np, small, 200)  # 2**200 is not a float32
    assert big.dtype == np.float32 and np.all(big == np.float32(2.0**80))
    assert np.array_equal(fitting._times_pow2(np, big, -200), small)


def test_scaled_input_on_every_backend(xp):
    """The exponent search and the exact rescaling run in any namespace (float32, 1e-30)."""
    A = (random_matrix(np.random.default_rng(16), (32, 32), "float64") * 1e-30).astype("float32")
    Mx, hx = fit_monarch_gd(xp.asarray(A), steps=5, lr=0.02, seed=2)
    Mn, hn = fit_monarch_gd(A, steps=5, lr=0.02, seed=2)
    np.testing.assert_allclose(hx["rel_error"], hn["rel_error"], rtol=1e-4)
    assert 1.0 < hx["rel_error"][0] < 2.0
    np.testing.assert_allclose(
        to_numpy(Mx.L), np.asarray(Mn.L), rtol=1e-3, atol=1e-3 * np.abs(Mn.L).max()
    )
