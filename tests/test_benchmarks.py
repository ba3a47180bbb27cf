"""Smoke tests of the benchmark scripts: each runs with tiny options, prints its tables and
writes one CSV and one PNG per table.  Timings are never asserted (they belong to the
printout), only that the numbers are there, finite and consistent."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import structmat  # noqa: E402
from benchmarks import (  # noqa: E402
    __main__ as bench_main,  # noqa: E402
    multiply,
    transforms,
)
from structmat import _parallel  # noqa: E402


def _read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_multiply_prints_and_writes(tmp_path, capsys):
    rc = multiply.main(
        [
            "--sizes",
            "16",
            "64",
            "--batches",
            "1",
            "8",
            "--dtype",
            "float32",
            "--repeats",
            "1",
            "--settle",
            "0",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "speedup_vs_dense" in text and "Crossover" in text and "Peak memory" in text
    assert "Speed targets" in text
    for name in ("multiply", "crossover", "memory", "targets"):
        assert (tmp_path / f"{name}.csv").stat().st_size > 0
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = _read(tmp_path / "multiply.csv")
    assert [(r["n"], r["batch"]) for r in rows] == [
        ("16", "1"),
        ("16", "8"),
        ("64", "1"),
        ("64", "8"),
    ]
    for r in rows:
        for key in (
            "monarch_ms",
            "dense_ms",
            "bmm_ms",
            "einsum_ms",
            "rows_ms",
            "speedup_vs_dense",
            "speedup_vs_bmm",
            "gflops_fraction",
            "rows_over_cols",
        ):
            assert math.isfinite(float(r[key])) and float(r[key]) > 0, (key, r)
        M = structmat.Monarch.random(int(r["n"]))
        assert float(r["flop_ratio"]) == pytest.approx(2 * M.shape[0] ** 2 / M.flops(1))
    mem = _read(tmp_path / "memory.csv")
    assert [r["batch"] for r in mem] == ["8", "8"]
    assert all(float(r["monarch_peak_mb"]) >= float(r["output_mb"]) for r in mem)
    tgt = _read(tmp_path / "targets.csv")
    assert [r["case"] for r in tgt][:3] == ["n=64 batch=8", "n=64 batch=1", "n=64 batch=8"]
    # one repetition is never a stable timing: the targets are reported but not judged
    assert all(r["verdict"] == "unstable: not judged" for r in tgt[:3]), tgt
    assert all(r["verdict"] in ("holds", "missed", "unstable: not judged") for r in tgt)


def test_multiply_without_dense_column(capsys):
    # a size above the dense limit gets no dense time but still a GFLOP/s fraction
    rows, cross, mem = multiply.run(
        ["float64"],
        [16, multiply.DENSE_MAX * 2],
        [2],
        repeats=1,
        min_time=0.0,
        settle=0.0,
        refine=False,
        memory=False,
    )
    big = rows[-1]
    assert "dense_ms" not in big and big["gflops_fraction"] > 0
    assert len(cross) == 1 and cross[0]["n"] == 16


@pytest.mark.parametrize("ref", [multiply.einsum_reference, multiply.bmm_reference])
def test_references_match_dense(ref):
    for n_in, n_out, nb in ((12, 12, None), (24, 8, (4, 2)), (96, 96, 8)):
        M = structmat.Monarch.random(n_in, n_out, nblocks=nb, seed=3)
        X = np.random.default_rng(0).standard_normal((n_in, 5))
        np.testing.assert_allclose(ref(M.L, M.R, X, np), M.to_dense() @ X, rtol=1e-12, atol=1e-12)


def test_targets_verdicts():
    rows = [
        {
            "dtype": "float32",
            "n": 64,
            "batch": b,
            "speedup_vs_dense": s,
            "rows_over_cols": 1.1,
            "gflops_fraction": 0.5,
        }
        for b, s in ((1, 0.5), (16, 20.0))
    ]
    mem = [
        {
            "dtype": "float32",
            "n": 64,
            "batch": 16,
            "monarch_extra_outputs": 0.1,
            "rows_extra_outputs": 2.5,
        }
    ]
    got = {r["target"]: r["verdict"] for r in multiply.targets(rows, mem)}
    assert got["speed-up over dense GEMM"] == "holds"
    assert got["speed-up over dense (fewest columns)"] == "missed"
    assert got["X @ M time / M @ X time"] == "holds"
    assert got["extra memory / output size (M @ X, X @ M)"] == "missed"
    assert multiply.targets(rows, mem, dtype="float64") == []


def test_measure_settles_each_candidate():
    from benchmarks.harness import measure

    calls = {"a": 0, "b": 0}

    def make(name):
        def fn():
            calls[name] += 1

        return fn

    t = measure({"a": make("a"), "b": make("b")}, repeats=2, warmup=1, min_time=0.0, settle=0.01)
    assert set(t) == {"a", "b"} and all(v >= 0 for v in t.values())
    # warm-up + per repetition: the settle loop (many calls) and the timed call
    assert calls["a"] > 2 + 2 and calls["b"] > 2 + 2


def test_crossover_rule():
    assert multiply._crossover({1: 0.5, 16: 2.0, 256: 3.0}) == (16, 2.0)
    assert multiply._crossover({1: 1.5, 16: 0.9, 256: 3.0}) == (256, 3.0)
    assert multiply._crossover({1: 0.5, 16: 0.9}) == ("none", "")


def test_transforms_prints_and_writes(tmp_path, capsys):
    rc = transforms.main(
        [
            "--sizes",
            "16",
            "32",
            "--batches",
            "1",
            "3",
            "--repeats",
            "1",
            "--settle",
            "0",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "structmat_over_library" in text
    assert (tmp_path / "transforms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = _read(tmp_path / "transforms.csv")
    assert sorted({r["transform"] for r in rows}) == [
        "butterfly",
        "convolution",
        "dct",
        "dft",
        "hadamard",
    ]
    assert len(rows) == 5 * 2 * 2
    # the real-DFT target is judged on every DFT row (the butterfly's only at n = 4096)
    assert "Speed targets" in text
    targets = _read(tmp_path / "transforms_targets.csv")
    assert [(t["target"], t["n"], t["batch"]) for t in targets] == [
        ("real_dft", "16", "1"),
        ("real_dft", "16", "3"),
        ("real_dft", "32", "1"),
        ("real_dft", "32", "3"),
    ]
    assert all(t["verdict"] in ("holds", "missed", "unstable: not judged") for t in targets)
    for r in rows:
        # every timed result was checked against the library (or dense) result
        assert float(r["structmat_err"]) < 1e-4, r
        assert float(r["dense_ms"]) > 0
        if r["transform"] not in ("hadamard", "butterfly"):
            assert float(r["library_ms"]) > 0
        if hasattr(structmat, "to_monarch") and r["monarch_form_ms"]:
            assert float(r["monarch_form_err"]) < 1e-4, r


def test_transforms_verdicts():
    base = {"structmat_ms": 1.0, "library_ms": 0.9, "flag": "", "unstable_vs": []}

    def row(transform, n, batch, ratio, unstable_vs=()):
        key = "dense_over_structmat" if transform == "butterfly" else "structmat_over_library"
        r = dict(base, transform=transform, n=n, batch=batch, unstable_vs=list(unstable_vs))
        r[key] = ratio
        r["flag"] = "unstable" if unstable_vs else ""
        return r

    rows = [
        row("butterfly", 4096, 256, 12.0),
        row("butterfly", 4096, 64, 3.0),
        row("butterfly", 1024, 256, 3.0),
        row("dft", 256, 1, 1.3),
        row("dft", 256, 64, 1.1),
        # only the dense side is unstable: the library ratio is still judged
        row("dft", 1024, 64, 1.1, ["dense"]),
        row("dft", 1024, 1, 1.0, ["library"]),
        row("dct", 256, 1, 3.0),
    ]
    got = [(v["target"], v["n"], v["batch"], v["verdict"]) for v in transforms.verdicts(rows)]
    assert got == [
        ("butterfly_speedup", 4096, 256, "holds"),
        ("real_dft", 256, 1, "missed"),
        ("real_dft", 256, 64, "holds"),
        ("real_dft", 1024, 64, "holds"),
        ("real_dft", 1024, 1, "unstable: not judged"),
    ]
    slow = dict(rows[0], dense_over_structmat=9.9)
    assert transforms.verdicts([slow])[0]["verdict"] == "missed"
    assert transforms.verdicts(rows)[1]["extra_us"] == 100.0


def test_overhead_prints_and_writes(tmp_path, capsys):
    from benchmarks import overhead

    rc = overhead.main(["--sizes", "16", "64", "--repeats", "1", "--out", str(tmp_path)])
    assert rc == 0
    assert "extra_us" in capsys.readouterr().out
    assert (tmp_path / "overhead.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = _read(tmp_path / "overhead.csv")
    assert [(r["class"], r["n"]) for r in rows] == [
        (c, n) for c in overhead.CLASSES for n in ("16", "64")
    ]
    for r in rows:
        # A @ x, and SciPy's matvec of it, agree with the unchecked computation timed beside them
        assert float(r["max_rel_err"]) < 1e-12, r
        us = [float(r[k]) for k in ("structmat_us", "linop_us", "bare_us")]
        assert all(math.isfinite(v) and v > 0 for v in us), r
        assert math.isclose(float(r["extra_us"]), us[0] - us[2], rel_tol=1e-6, abs_tol=1e-6)
    assert overhead.main(["--sizes", "32"]) == 2  # not a power of 4
    assert overhead.main(["--repeats", "0"]) == 2


def test_bad_options(capsys):
    assert transforms.main(["--sizes", "12"]) == 2
    assert multiply.main(["--sizes", "0"]) == 2
    with pytest.raises(SystemExit):
        multiply.main(["--backend", "jax"])


def test_module_entry_point(capsys):
    assert bench_main.main([]) == 2
    assert "multiply" in capsys.readouterr().out
    assert bench_main.main(["nosuch"]) == 2
    assert (
        bench_main.main(
            [
                "multiply",
                "--sizes",
                "16",
                "--batches",
                "2",
                "--dtype",
                "float64",
                "--repeats",
                "1",
                "--settle",
                "0.01",
            ]
        )
        == 0
    )


def test_cupy_backend_missing_is_reported(capsys):
    try:
        import cupy  # noqa: F401

        pytest.skip("CuPy is installed: the GPU run is exercised by the benchmark itself")
    except ImportError:
        pass
    assert multiply.main(["--backend", "cupy", "--sizes", "16", "--batches", "1"]) == 2
    assert "CuPy" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# the fast multiply paths the benchmark measures: chunked and threaded, checked exactly
# ----------------------------------------------------------------------------------------------

GEOMETRIES = [  # (n_in, n_out, nblocks): square, non-square splits, rectangular, mixed slab ranks
    (64, 64, None),
    (96, 96, 8),
    (96, 96, (8, 4)),
    (64, 64, (16, 4)),
    (30, 30, (5, 3)),
    (24, 8, (4, 2)),
    (8, 24, (2, 4)),
    (100, 20, (5, 2)),
    (36, 36, (2, 3)),
]


def _integer_monarch(n_in, n_out, nblocks, dtype, xp, rng):
    """A Monarch matrix with small-integer blocks: every product below is exact in floating point."""
    from tests.zoo import monarch_entry_reference

    geo = structmat.Monarch.random(n_in, n_out, nblocks=nblocks).geometry
    k, q, p, l, s, r = geo

    def draw(shape):
        a = rng.integers(-3, 4, shape).astype(np.float64)
        if dtype.startswith("complex"):
            a = a + 1j * rng.integers(-3, 4, shape)
        return a.astype(dtype)

    L, R = draw((l, s, r)), draw((k, q, p))
    return structmat.Monarch(xp.asarray(L), xp.asarray(R)), monarch_entry_reference(L, R)


@pytest.mark.parametrize("serial_gemm, panel", [(1 << 30, 256), (1, 256), (1, 5)])
@pytest.mark.parametrize("threads", ["1", "3"])
@pytest.mark.parametrize("dtype", ["float64", "complex128", "float32"])
def test_fast_multiply_paths_exact(xp, dtype, threads, serial_gemm, panel, monkeypatch):
    from threadpoolctl import threadpool_info

    from tests.conftest import to_numpy

    # tiny chunks and thresholds so that small products take the chunked, threaded path;
    # serial_gemm = 1: every block counts as large, so the threads run with BLAS limited to
    # one thread (the path of blocks of 128 x 128 and more, in phases over the blocks);
    # panel = 5: that path cuts the batch into several panels, with groups of several blocks
    monkeypatch.setenv("STRUCTMAT_NUM_THREADS", threads)
    monkeypatch.setattr(structmat.Monarch, "_CHUNK_RANGE", (3, 5))
    monkeypatch.setattr(structmat.Monarch, "_CHUNK_BYTES", 64)
    monkeypatch.setattr(structmat.Monarch, "_PARALLEL_FLOPS", 1)
    monkeypatch.setattr(structmat.Monarch, "_ALIGN", 2)
    monkeypatch.setattr(structmat.Monarch, "_SERIAL_GEMM", serial_gemm)
    monkeypatch.setattr(structmat.Monarch, "_PANEL", panel)
    monkeypatch.setattr(structmat.Monarch, "_GROUPS", 8 if panel > 5 else 1)
    blas_before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    rng = np.random.default_rng(7)
    for n_in, n_out, nb in GEOMETRIES:
        M, D = _integer_monarch(n_in, n_out, nb, dtype, xp, rng)
        for batch in (1, 2, 7, 13):
            X = rng.integers(-3, 4, (n_in, batch)).astype(dtype)
            Xr = rng.integers(-3, 4, (batch, n_out)).astype(dtype)
            case = (n_in, n_out, nb, batch)
            np.testing.assert_array_equal(
                to_numpy(M @ xp.asarray(X)), (D @ X).astype(dtype), str(case)
            )
            np.testing.assert_array_equal(
                to_numpy(M.rmatmul(xp.asarray(Xr))), (Xr @ D).astype(dtype), str(case)
            )
            if xp is np:  # operands that are not C-contiguous
                np.testing.assert_array_equal(M @ np.asfortranarray(X), (D @ X).astype(dtype))
                np.testing.assert_array_equal(np.asfortranarray(Xr) @ M, (Xr @ D).astype(dtype))
                np.testing.assert_array_equal(
                    M @ np.repeat(X, 2, axis=1)[:, ::2], (D @ X).astype(dtype)
                )
    _parallel.wait_blas_restored()
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == blas_before


def test_thread_setting_is_validated(monkeypatch):
    M = structmat.Monarch.random(64, seed=0)
    monkeypatch.setenv("STRUCTMAT_NUM_THREADS", "0")
    monkeypatch.setattr(structmat.Monarch, "_PARALLEL_FLOPS", 1)
    with pytest.raises(ValueError, match="STRUCTMAT_NUM_THREADS"):
        M @ np.ones((64, 64))


def test_timing_statistics_and_ratio_flags():
    from benchmarks.harness import Timing, flag_ratio, ratio

    calm = Timing([1.0, 1.1, 1.05, 0.98, 1.02])
    assert float(calm) == pytest.approx(1.02) and calm.lo == 0.98 and calm.hi == 1.1
    assert calm.stable and 0.1 < calm.spread < 0.13
    wild = Timing([1.0, 1.0, 16.0])  # one outlier: the median ignores it ...
    assert float(wild) == 1.0 and not wild.stable  # ... but the spread flags the timing
    assert not Timing([1.0]).stable and not Timing([1.0, 1.0]).stable
    # from five repetitions on, one outlier at either end is left out of the stability test
    # (but not out of the reported spread); two are not
    one_off = Timing([1.0, 1.02, 0.99, 1.01, 16.0])
    assert one_off.stable and one_off.spread > 14 and one_off.trimmed_spread < 0.04
    assert Timing([0.01, 1.0, 1.02, 0.99, 1.01]).stable
    assert not Timing([1.0, 1.02, 0.99, 9.0, 16.0]).stable
    assert not Timing([0.2, 0.3, 1.0, 1.02, 0.99]).stable
    assert Timing([1.0, 1.0, 1.0, 1.0]).trimmed_spread == 0.0
    assert not Timing([1.0, 1.0, 1.0, 9.0]).stable  # four repetitions: nothing left out
    assert flag_ratio(calm, Timing([2.0, 2.1, 2.05])) == ""
    assert flag_ratio(calm, wild) == "unstable" and flag_ratio(calm, 2.0) == "unstable"
    assert ratio(Timing([2.0, 2.0, 2.0]), calm) == pytest.approx(2 / 1.02)


# ----------------------------------------------------------------------------------------------
# scaling: time against n, the fitted exponents, the peak memory of M @ X
# ----------------------------------------------------------------------------------------------

from hypothesis import given, strategies as st  # noqa: E402


def test_scaling_quick_path_writes_every_column(tmp_path, capsys, monkeypatch):
    from benchmarks import scaling
    from tests.tolerance import rtol

    # n = 64 is above this limit: its dense product is not run, and its row says why
    monkeypatch.setattr(scaling, "DENSE_LIMIT_BYTES", 16 * 16 * 4)
    argv = ["scaling", "--quick", "--sizes", "16", "64", "--batch", "4", "--settle", "0"]
    argv += ["--memory-n", "64", "--memory-batch", "4", "--out", str(tmp_path)]
    assert bench_main.main(argv) == 0
    captured = capsys.readouterr()
    assert "scaling 1/2" in captured.err and "scaling 2/2" in captured.err
    assert "not run: 64 x 64 float32 is" in captured.out and "theory 1.5" in captured.out
    # the tables fit in 120 columns (the list of columns left out and the output path may not)
    long = [x for x in captured.out.splitlines() if len(x) > 120]
    assert all(x.startswith(("(not shown", "wrote")) for x in long), long
    with open(tmp_path / "scaling.csv", newline="") as fh:
        assert next(csv.reader(fh)) == scaling.COLUMNS
    small, big = _read(tmp_path / "scaling.csv")
    assert (small["n"], big["n"], small["batch"], small["repeats"]) == ("16", "64", "4", "3")
    for r in (small, big):
        n, batch = int(r["n"]), int(r["batch"])
        # two block-diagonal factors of sqrt(n) blocks of sqrt(n) x sqrt(n) each
        assert float(r["monarch_gflop"]) == pytest.approx(2 * 2 * n * math.isqrt(n) * batch / 1e9)
        assert float(r["dense_gflop"]) == pytest.approx(2 * n * n * batch / 1e9)
        ms = float(r["monarch_ms"])
        assert float(r["monarch_min_ms"]) <= ms <= float(r["monarch_max_ms"])
        assert float(r["monarch_gflops"]) == pytest.approx(float(r["monarch_gflop"]) / ms * 1e3)
    assert small["flag"] in ("", "unstable") and small["dense_note"] == ""
    assert float(small["dense_min_ms"]) <= float(small["dense_ms"]) <= float(small["dense_max_ms"])
    assert float(small["speedup"]) == pytest.approx(
        float(small["dense_ms"]) / float(small["monarch_ms"])
    )
    assert float(small["rate_share"]) == pytest.approx(
        float(small["monarch_gflops"]) / float(small["dense_gflops"])
    )
    assert float(small["max_rel_err"]) <= rtol("float32", 16, depth=2)
    assert big["dense_ms"] == "" and big["speedup"] == "" and big["rate_share"] == ""
    assert big["dense_note"] == f"not run: 64 x 64 float32 is {64 * 64 * 4 / 2**30:.3g} GiB"
    fit = {r["product"]: r for r in _read(tmp_path / "scaling_fit.csv")}
    assert set(fit) == {"monarch"}  # dense ran at one size only: nothing to fit
    assert fit["monarch"]["theory"] == "1.5" and fit["monarch"]["sizes"] == "16 64"
    (mem,) = _read(tmp_path / "scaling_memory.csv")
    assert (mem["n"], mem["batch"]) == ("64", "4")
    assert float(mem["output_mb"]) == 64 * 4 * 4 / 2**20
    share = float(mem["peak_over_output"])
    assert share >= 1.0  # the output itself is allocated
    assert share == pytest.approx(float(mem["peak_mb"]) / float(mem["output_mb"]))
    assert float(mem["beyond_output_over_output"]) == pytest.approx(share - 1)
    assert mem["verdict"].split(":")[0] in ("holds", "missed")
    assert (tmp_path / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scaling_memory_counts_the_work_arrays():
    from benchmarks import scaling

    # n = 1024, batch 64 runs on the calling thread with one chunk of 64 columns: its
    # intermediate is as large as the output, kept between products, and counted anyway
    mem = scaling.memory(1024, 64)
    assert 0.9 <= mem["beyond_output_over_output"] <= 1.1, mem
    assert mem["verdict"].startswith("holds") and mem["target"] == "extra <= 2"


def test_scaling_fit_recovers_exact_power_laws():
    from benchmarks import scaling

    sizes = [256, 1024, 4096, 16384, 65536]
    a, c = scaling.fit_exponent(sizes, [3e-9 * n**1.5 for n in sizes])
    assert a == pytest.approx(1.5, abs=1e-12) and c == pytest.approx(3e-9, rel=1e-10)
    a, c = scaling.fit_exponent(sizes[:2], [7.0 * n**2 for n in sizes[:2]])
    assert a == pytest.approx(2.0, abs=1e-12) and c == pytest.approx(7.0, rel=1e-10)
    rows = [
        {"n": n, "monarch_ms": 1e3 * 3e-9 * n**1.5, "dense_ms": 1e3 * 5e-11 * n**2} for n in sizes
    ]
    rows[-1]["dense_ms"] = None  # a size without a dense product is left out of its fit
    got = {f["product"]: f for f in scaling.fits(rows)}
    assert got["monarch"]["exponent"] == pytest.approx(1.5, abs=1e-12)
    assert got["dense"]["exponent"] == pytest.approx(2.0, abs=1e-12)
    assert got["dense"]["points"] == 4 and got["monarch"]["points"] == 5


@given(
    exponent=st.floats(0.25, 3.0),
    coefficient=st.floats(1e-9, 1e3),
    sizes=st.lists(st.integers(2, 10**6), min_size=2, max_size=8, unique=True),
)
def test_scaling_fit_property(exponent, coefficient, sizes):
    from benchmarks import scaling

    a, c = scaling.fit_exponent(sizes, [coefficient * n**exponent for n in sizes])
    assert a == pytest.approx(exponent, abs=1e-9)
    assert c == pytest.approx(coefficient, rel=1e-7)


def test_scaling_rejects_bad_input(capsys):
    from benchmarks import scaling

    with pytest.raises(ValueError, match="sizes and times"):
        scaling.fit_exponent([1, 2, 3], [1.0, 2.0])
    with pytest.raises(ValueError, match="two distinct"):
        scaling.fit_exponent([4, 4], [1.0, 2.0])
    with pytest.raises(ValueError, match="times must be positive"):
        scaling.fit_exponent([4, 16], [1.0, 0.0])
    with pytest.raises(ValueError, match="perfect squares"):
        scaling.run([16, 32], batch=2, repeats=1)
    assert scaling.main(["--sizes", "16", "32"]) == 2
    assert "--sizes" in capsys.readouterr().err
    assert scaling.main(["--sizes", "16", "--batch", "0"]) == 2
    assert "--batch" in capsys.readouterr().err
    assert scaling.main(["--sizes", "16", "--memory-n", "20"]) == 2
    assert "--memory-n" in capsys.readouterr().err


def test_multiply_targets_quick(tmp_path, capsys):
    from benchmarks import multiply_targets

    assert (
        multiply_targets.main(
            ["--sizes", "16", "64", "--batch", "8", "--repeats", "3", "--out", str(tmp_path)]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Targets" in out and "rate_share" in out
    with open(tmp_path / "multiply_targets.csv") as f:
        header = f.readline().strip().split(",")
    assert header == multiply_targets.COLUMNS
    with open(tmp_path / "multiply_targets.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:  # both modes measured; the shared one is switched off again afterwards
        assert float(r["after_dense"]) > 0 and float(r["after_dense_shared"]) > 0
        assert float(r["dense_shared"]) > 0 and float(r["after_dense_1t"]) > 0
    assert not structmat.blas_threads_shared()
    assert multiply_targets.main(["--sizes", "15"]) == 2  # not a perfect square


def test_multiply_target_verdicts():
    from benchmarks.multiply_targets import verdicts

    row = {
        "n": 4096,
        "rate_share": 0.8,
        "after_dense": 1.5,
        "after_dense_shared": 1.1,
        "rows_over_cols": 1.1,
        "bw_share": 0.4,
        "busy_over_quiet": 1.6,
        "flag": "rows",
    }
    got = {v["target"]: v["verdict"] for v in verdicts([row])}
    assert got == {
        "rate_share": "holds",
        "after_dense": "missed",
        "after_dense_shared": "holds",
        "rows_over_cols": "unstable: not judged",
        "bw_share": "missed",
        "busy_over_quiet": "holds",
    }
    # dense not run: its targets are absent, not judged as met
    row2 = {"n": 65536, "dense_ms": "not run", "rows_over_cols": 1.0, "bw_share": 0.9, "flag": ""}
    assert {v["target"] for v in verdicts([row2])} == {"rows_over_cols", "bw_share"}
