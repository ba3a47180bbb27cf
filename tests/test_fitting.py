"""Tests of fit_monarch_gd (Adam, SGD, ALS) and of the projection benchmark script."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import structmat
import structmat.fitting as fitting
import structmat.projection as proj
from structmat import Monarch, fit_monarch_gd, project_to_monarch, projection_error
from structmat.ops.monarch import monarch_geometry

from .conftest import to_numpy
from .test_projection import geometries, random_matrix
from .tolerance import rtol


def _slab_problem(rng, geometry, dtype):
    """Random slab-layout factors (padding zeroed) and a random target in slab layout."""
    k, q, p, l, s, r = geometry
    M = Monarch.random(k * p, l * s, nblocks=(k, l), seed=rng, dtype=dtype)
    Ls, Rs = proj._monarch_slab_factors(np, M)
    S = random_matrix(rng, (k, l, s, p), dtype)
    mask = np.asarray(fitting._slab_mask(np, geometry, dtype))
    return Ls, Rs, S, mask


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize("n_out, n_in, nb", [(16, 16, None), (96, 96, 8), (24, 36, (4, 3)), (16, 16, (4, 8))])
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
        Ls, Rs = proj._monarch_slab_factors(np, M)
        S = np.asarray(proj._slabs(np, A[None], M.geometry)[0])
        _, gL, gR = fitting._loss_and_grads(np, Ls, Rs, S)
        scale = np.linalg.norm(A) * max(np.abs(Ls).max(), np.abs(Rs).max())
        tol = rtol(dtype, max(shape), depth=2)
        assert np.linalg.norm(gL) <= tol * scale and np.linalg.norm(gR) <= tol * scale


@given(geo=geometries(), seed=st.integers(0, 2**16),
       optimizer=st.sampled_from(["adam", "sgd", "als"]), dtype=st.sampled_from(["float64", "complex128"]))
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
    assert h["rel_error"][0] > 1.2 * e_opt                            # a random start
    assert h["rel_error"][-1] <= e_opt * 1.05
    _, h = fit_monarch_gd(A, steps=100, lr=0.02, seed=0, optimizer="sgd")
    assert np.all(np.diff(h["loss"]) <= 1e-9 * h["loss"][0])          # small steps: monotone


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
        assert structmat._backend.namespace_name(structmat._backend.get_namespace(Mx.L)) == \
            structmat._backend.namespace_name(structmat._backend.get_namespace(xp.asarray(A)))
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
        fit_monarch_gd(np.random.default_rng(0).standard_normal((16, 16)), steps=50, lr=1e3,
                       optimizer="sgd")


def test_progress_only_when_asked_or_on_a_terminal(capsys):
    A = np.random.default_rng(8).standard_normal((16, 16))
    fit_monarch_gd(A, steps=300)                      # stderr is captured: not a terminal
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

    rc = bench.main(["--sizes", "16", "64", "--steps", "5", "--repeats", "1", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "proj_over_copy" in out and "svd_over_proj" in out
    with open(tmp_path / "projection.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["family"], r["n"]) for r in rows] == [(f, n) for n in ("16", "64") for f in bench.FAMILIES]
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
    assert bench.block_size(4096) == 64 and bench.block_size(2048) == 32 and bench.block_size(96) == 8
    sv = np.linalg.svd(bench.make_matrix("heavytail", 64, rng).astype(np.float64), compute_uv=False)
    np.testing.assert_allclose(sv, (np.arange(64) + 1.0) ** -0.5, rtol=1e-4)
    with pytest.raises(ValueError, match="unknown family"):
        bench.make_matrix("trained", 16, rng)
