"""structmat.explore.approximate / frontier: budget handling, the search, reports, the plot."""

from __future__ import annotations

import math
import os

import matplotlib
import numpy as np
import pytest
import scipy.linalg

matplotlib.use("Agg")

from structmat.explore import (  # noqa: E402
    FAMILIES,
    SINGLE_FAMILIES,
    approximate,
    frontier,
    parse_budget,
    relative_error,
)

from .tolerance import rtol  # noqa: E402


def _weights(m, n, seed):
    """A matrix with a decaying spectrum plus a block-diagonal part (like trained weights)."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((m, m)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    k = min(m, n)
    s = 1.0 / (1.0 + np.arange(k)) ** 0.7
    A = (U[:, :k] * s) @ V[:, :k].T
    return A + 0.05 * scipy.linalg.block_diag(*rng.standard_normal((4, m // 4, n // 4)))


def _lowrank_error(A, P):
    r = min(P // sum(A.shape), min(A.shape))
    s = np.linalg.svd(A, compute_uv=False)
    return math.sqrt(float(np.sum(s[r:] ** 2)) / float(np.sum(s**2)))


@pytest.mark.parametrize("budget", [0.125, 0.25, 0.5, 700])
@pytest.mark.parametrize("shape", [(32, 32), (16, 48)])
def test_never_worse_than_any_single_family(shape, budget):
    A = _weights(*shape, seed=hash(shape) % 1000)
    res = approximate(A, budget)
    P = parse_budget(budget, A.size)
    assert res.budget == P and res.nparams <= P and res.operator.nparams == res.nparams
    # the reported error is the operator's, measured densely here
    dense_err = np.linalg.norm(A - res.operator.to_dense()) / np.linalg.norm(A)
    assert abs(res.error - dense_err) <= rtol(np.float64, A.size)
    singles = [c for c in res.candidates if c.family in SINGLE_FAMILIES]
    assert {c.family for c in singles} >= {"lowrank", "monarch", "sparse"}
    slack = rtol(np.float64, A.size)
    assert res.error <= min(c.error for c in singles) + slack
    # low rank at the same budget, computed independently
    assert res.error <= _lowrank_error(A, P) + slack
    for c in res.candidates:
        assert c.nparams <= P and c.seconds >= 0
        if c.split is not None:
            assert sum(c.split) == c.nparams and c.iterations >= 0


def test_candidate_errors_are_those_of_the_built_operators():
    from structmat.explore.search import _Matrix

    A = _weights(24, 24, 3)
    ctx = _Matrix(A, 0.25, (0.25, 0.5, 0.75), 1e-3, 10)
    for fam in FAMILIES:
        for c in ctx.candidates(fam, 200):
            op = ctx.build(c)
            assert op.nparams == c.nparams, (c.family, c.config)
            assert abs(relative_error(A, op) - c.error) <= rtol(np.float64, A.size, 4), c


def test_sum_split_is_searched_and_beats_its_parts_on_a_sum():
    rng = np.random.default_rng(5)
    A = scipy.linalg.block_diag(*rng.standard_normal((8, 4, 4))) + np.outer(
        rng.standard_normal(32), rng.standard_normal(32)
    )
    res = approximate(
        A,
        0.25,
        families=["lowrank", "blockdiag", "blockdiag+lowrank"],
        splits=(0.25, 0.5, 0.75),
        tol=1e-8,
        maxiter=100,
    )
    splits = {c.split for c in res.candidates if c.family == "blockdiag+lowrank"}
    assert len(splits) >= 2
    assert res.family == "blockdiag+lowrank" and res.error < 1e-5


def test_float32_and_complex():
    A = _weights(16, 16, 7)
    r32 = approximate(A.astype(np.float32), 0.5, families=["lowrank", "monarch"])
    assert r32.operator.dtype == np.float32
    rc = approximate(A + 1j * _weights(16, 16, 8), 0.5, dtype="complex128")
    assert np.dtype(rc.operator.dtype) == np.complex128
    assert rc.error < 1.0


def test_zero_matrix_costs_nothing():
    res = approximate(np.zeros((8, 8)), 0.25)
    assert res.nparams == 0 and res.error == 0.0
    assert not np.any(res.operator.to_dense())


def test_report_table_and_rows():
    res = approximate(_weights(16, 16, 9), 0.25, families=["lowrank", "sparse+lowrank"])
    text = res.table()
    assert text.splitlines()[0].split()[:3] == ["family", "params", "error"]
    assert "lowrank" in text
    row = res.candidates[-1].as_row()
    assert set(row) == {"family", "config", "nparams", "error", "seconds", "split", "iterations"}


def test_frontier_and_plot(tmp_path):
    A = _weights(32, 32, 11)
    fr = frontier(
        A, [0.125, 0.25, 0.5], families=["lowrank", "monarch", "sparse", "monarch+lowrank"]
    )
    assert fr.budgets == [128, 256, 512]
    lr = [c.error for c in fr.points["lowrank"]]
    assert lr == sorted(lr, reverse=True)
    for P, c in zip(fr.budgets, fr.points["lowrank"]):
        assert abs(c.error - _lowrank_error(A, P)) <= rtol(np.float64, A.size)
    front = fr.pareto()
    assert [c.nparams for c in front] == sorted(c.nparams for c in front)
    assert all(b.error < a.error for a, b in zip(front, front[1:]))
    for best, P in zip(fr.best(), fr.budgets):
        assert (
            best.error == approximate(A, P, families=list(fr.points)).error
            or best.error <= approximate(A, P, families=list(fr.points)).error + 1e-12
        )
    path = tmp_path / "frontier.png"
    fig = fr.plot(path, title="test")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "parameters"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Pareto front" in labels and "lowrank" in labels
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        fr.plot(path)
    fr.plot(path, overwrite=True)
    assert [p for p in os.listdir(tmp_path) if p.startswith(".tmp")] == []


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"budget": 0}, ValueError, "budget must be an integer >= 1"),
        ({"budget": 1.5}, ValueError, "fractional budget"),
        ({"budget": True}, TypeError, "budget must be a parameter count"),
        ({"budget": "half"}, TypeError, "budget must be a parameter count"),
        ({"budget": 0.5, "families": ["dense"]}, ValueError, "unknown family"),
        ({"budget": 0.5, "families": []}, ValueError, "at least one"),
        ({"budget": 3, "families": ["lowrank"]}, ValueError, "no family fits"),
        ({"budget": 0.5, "splits": (0.0,)}, ValueError, "splits"),
        ({"budget": 0.5, "min_fill": 2}, ValueError, "min_fill"),
        ({"budget": 0.5, "maxiter": -1}, ValueError, "maxiter"),
        ({"budget": 0.5, "exhaustive": 1}, TypeError, "exhaustive"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        approximate(np.ones((8, 8)), **kwargs)


def test_exhaustive_tries_every_geometry():
    A = _weights(16, 32, 12)
    quick = approximate(A, 0.5, families=["monarch", "kronecker", "block_lowrank"])
    full = approximate(A, 0.5, families=["monarch", "kronecker", "block_lowrank"], exhaustive=True)
    assert len(full.candidates) > len(quick.candidates)
    assert full.error <= quick.error + rtol(np.float64, A.size)
