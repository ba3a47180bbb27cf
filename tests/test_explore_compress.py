"""structmat compress: checkpoints of >= 20 matrices, serial and on a 2-worker Dask cluster,
resumption after an interruption, the streaming readers, the command line."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

import structmat
from structmat.cli import main as cli_main
from structmat.explore import approximate, compress, list_matrices, read_matrix

safetensors_numpy = pytest.importorskip("safetensors.numpy")

FAMS = ["lowrank", "monarch", "kronecker", "sparse+lowrank"]
OPTS = {"maxiter": 4}


def _matrices(count=22, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(16, 16), (8, 24), (24, 8), (12, 12), (16, 32)]
    out = {}
    for i in range(count):
        m, n = shapes[i % len(shapes)]
        A = rng.standard_normal((m, 4)) @ rng.standard_normal((4, n)) + 0.1 * rng.standard_normal(
            (m, n)
        )
        out[f"layers.{i}.weight"] = A.astype(np.float32 if i % 3 == 0 else np.float64)
    return out


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    d = tmp_path_factory.mktemp("ck")
    mats = _matrices()
    extra = {"layers.0.bias": np.zeros(16), "step": np.array([[3, 4]], dtype=np.int64)}
    np.savez(d / "model.npz", **mats, **extra)
    safetensors_numpy.save_file({**mats, **extra}, str(d / "model.safetensors"))
    return d, mats


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("small")
    mats = _matrices(3, seed=2)
    np.savez(d / "model.npz", **mats)
    return d, mats


def _loaded(out, rows):
    return {r["name"]: structmat.load(os.path.join(out, r["file"])).to_dense() for r in rows}


def _stable(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_serial_round_trip_matches_approximate(checkpoint, tmp_path):
    d, mats = checkpoint
    res = compress(d / "model.npz", tmp_path / "out", 0.25, FAMS, progress=False, **OPTS)
    assert [r["name"] for r in res["rows"]] == list(mats)  # bias and int tensor skipped
    assert len(res["computed"]) == len(mats) >= 20 and res["resumed"] == []
    dense = _loaded(tmp_path / "out", res["rows"])
    for r in res["rows"]:
        A = mats[r["name"]]
        ref = approximate(A, 0.25, FAMS, **OPTS)  # the same search, directly
        assert r["family"] == ref.family and r["nparams"] == ref.nparams <= 0.25 * A.size
        np.testing.assert_array_equal(dense[r["name"]], ref.operator.to_dense())
        assert dense[r["name"]].dtype == A.dtype
        err = np.linalg.norm(A - dense[r["name"]]) / np.linalg.norm(A)
        assert abs(err - r["error"]) <= 1e-5
        assert r["error"] <= r["lowrank_error"] + 1e-6
    with open(tmp_path / "out" / "report.csv") as fh:
        table = list(csv.DictReader(fh))
    assert [t["name"] for t in table] == list(mats)
    assert (tmp_path / "out" / "frontier.png").read_bytes()[:4] == b"\x89PNG"
    assert "matrices:" in (tmp_path / "out" / "summary.txt").read_text()


def test_dask_local_cluster_gives_identical_outputs(checkpoint, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    d, mats = checkpoint
    serial = compress(
        d / "model.safetensors", tmp_path / "serial", 0.25, FAMS, progress=False, **OPTS
    )
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        dist = compress(
            d / "model.safetensors",
            tmp_path / "dask",
            0.25,
            FAMS,
            scheduler=client,
            progress=False,
            **OPTS,
        )
    assert _stable(dist["rows"]) == _stable(serial["rows"])
    a, b = _loaded(tmp_path / "serial", serial["rows"]), _loaded(tmp_path / "dask", dist["rows"])
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    for name in os.listdir(tmp_path / "serial"):
        if name.endswith(".safetensors"):
            assert (tmp_path / "serial" / name).read_bytes() == (
                tmp_path / "dask" / name
            ).read_bytes()


def test_interrupted_run_resumes_without_redoing(checkpoint, tmp_path):
    d, mats = checkpoint
    out = tmp_path / "out"
    seen = []

    def stop_after_five(row):
        seen.append(row["name"])
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compress(
            d / "model.npz", out, 0.25, FAMS, progress=False, on_result=stop_after_five, **OPTS
        )
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["done"]) == sorted(seen)
    kept = {n: (out / manifest["done"][n]["file"]).read_bytes() for n in seen}
    again = []
    res = compress(
        d / "model.npz",
        out,
        0.25,
        FAMS,
        progress=False,
        on_result=lambda row: again.append(row["name"]),
        **OPTS,
    )
    assert res["resumed"] == seen and set(again) == set(mats) - set(seen)
    assert {n: (out / manifest["done"][n]["file"]).read_bytes() for n in seen} == kept
    full = compress(d / "model.npz", tmp_path / "full", 0.25, FAMS, progress=False, **OPTS)
    assert _stable(res["rows"]) == _stable(full["rows"])
    # a third run has nothing left to do
    assert compress(d / "model.npz", out, 0.25, FAMS, progress=False, **OPTS)["computed"] == []


def test_existing_data_is_never_overwritten_unasked(small, tmp_path):
    d, _ = small
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="not empty"):
        compress(d / "model.npz", tmp_path / "mine", 0.25, ["lowrank"], progress=False)
    compress(d / "model.npz", tmp_path / "o", 0.25, ["lowrank"], progress=False)
    with pytest.raises(FileExistsError, match="other settings"):
        compress(d / "model.npz", tmp_path / "o", 0.5, ["lowrank"], progress=False)
    res = compress(
        d / "model.npz", tmp_path / "o", 0.5, ["lowrank"], progress=False, overwrite=True
    )
    assert all(r["budget_params"] == r["dense_params"] // 2 for r in res["rows"])
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_streaming_readers_against_safetensors(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {
        "a": rng.standard_normal((3, 5)).astype(np.float16),
        "b/c": rng.standard_normal((4, 2)),
        "v": np.ones(3, np.float32),
    }
    path = tmp_path / "t.safetensors"
    safetensors_numpy.save_file(tensors, str(path))
    assert sorted(list_matrices(path)) == [("a", (3, 5), "float16"), ("b/c", (4, 2), "float64")]
    np.testing.assert_array_equal(read_matrix(path, "a"), tensors["a"].astype(np.float32))
    np.testing.assert_array_equal(read_matrix(path, "b/c"), tensors["b/c"])
    # bfloat16: the upper 16 bits of float32
    bf = np.array([[1.0, -2.5], [3.0, 0.15625]], dtype=np.float32)
    raw = (bf.view(np.uint32) >> 16).astype("<u2").tobytes()
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, len(raw)]}})
    hb = header.encode()
    (tmp_path / "bf.safetensors").write_bytes(len(hb).to_bytes(8, "little") + hb + raw)
    np.testing.assert_array_equal(read_matrix(tmp_path / "bf.safetensors", "w"), bf)
    with pytest.raises(KeyError, match="no tensor"):
        read_matrix(path, "zzz")
    (tmp_path / "bad.safetensors").write_bytes(b"\xff" * 8 + b"{}")
    with pytest.raises(ValueError, match="header length"):
        list_matrices(tmp_path / "bad.safetensors")


def test_command_line(small, tmp_path, capsys):
    d, mats = small
    code = cli_main(
        [
            "compress",
            str(d / "model.npz"),
            str(tmp_path / "cli"),
            "--budget",
            "50%",
            "--families",
            "lowrank",
            "sparse",
            "--quiet",
        ]
    )
    assert code == 0
    files = sorted(f for f in os.listdir(tmp_path / "cli") if f.startswith("layers"))
    assert len(files) == len(mats)
    assert (
        cli_main(
            [
                "compress",
                str(d / "model.npz"),
                str(tmp_path / "cli"),
                "--budget",
                "0.25",
                "--families",
                "lowrank",
                "--quiet",
            ]
        )
        == 2
    )
    assert "other settings" in capsys.readouterr().err
    assert cli_main(["compress", str(d / "missing.npz"), str(tmp_path / "x"), "--quiet"]) == 2


def test_bad_arguments(small, tmp_path):
    d, _ = small
    with pytest.raises(ValueError, match="unknown family"):
        compress(d / "model.npz", tmp_path / "o", 0.25, ["dense"], progress=False)
    with pytest.raises(TypeError, match="budget"):
        compress(d / "model.npz", tmp_path / "o", "all", progress=False)
    with pytest.raises(TypeError, match="scheduler"):
        compress(d / "model.npz", tmp_path / "o", 0.25, scheduler=3, progress=False)
    with pytest.raises(FileNotFoundError):
        compress(tmp_path / "none.npz", tmp_path / "o", 0.25, progress=False)
