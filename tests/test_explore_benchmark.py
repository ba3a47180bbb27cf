"""python -m benchmarks approximate: tables, files, and the monotone iteration curve."""

from __future__ import annotations

import csv

import numpy as np

from benchmarks import __main__ as bench_main, approximate as bench


def _read(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_prints_and_writes(tmp_path, capsys):
    rc = bench.main(
        [
            "--sizes",
            "16",
            "--iterations",
            "3",
            "--repeats",
            "1",
            "--budget",
            "0.5",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "vs one SVD" in out and "Alternating projections" in out
    rows = _read(tmp_path / "approximate.csv")
    assert {r["family"] for r in rows} >= {"lowrank", "monarch", "monarch+lowrank"}
    for r in rows:
        assert int(r["nparams"]) <= int(r["budget_params"]) == 128
        ratio = float(r["family_ms"]) / float(r["svd_ms"])
        assert abs(ratio - float(r["family_over_svd"])) <= 1e-6 * ratio
    lowrank = next(float(r["error"]) for r in rows if r["family"] == "lowrank")
    s = np.linalg.svd(bench.bench_matrix(16), compute_uv=False)
    assert abs(lowrank - np.sqrt(np.sum(s[4:] ** 2) / np.sum(s**2))) < 1e-12
    curve = _read(tmp_path / "approximate_iterations.csv")
    for fam in {r["family"] for r in curve}:
        errs = [float(r["error"]) for r in curve if r["family"] == fam]
        assert len(errs) == 4
        assert all(b <= a + 1e-12 for a, b in zip(errs, errs[1:]))
    assert (tmp_path / "approximate.png").read_bytes()[:4] == b"\x89PNG"


def test_registered_and_options(capsys):
    assert "approximate" in bench_main.available()
    assert bench.main(["--sizes", "12"]) == 2
    assert bench.main(["--budget", "2"]) == 2
    assert bench.main(["--iterations", "0"]) == 2
    assert "multiples of 8" in capsys.readouterr().err
