"""Monarch ``M @ X`` against dense GEMM ``A @ X`` and the plain four-step einsum (the definition
of :class:`structmat.Monarch`).

``python -m benchmarks multiply [--out DIR] [--quick] [--dtype D ...] [--backend numpy|cupy]``

For every dtype, size ``n`` and batch (number of columns of ``X``) the products are timed
interleaved in one run: Monarch ``M @ X``, dense ``A @ X`` (n <= 4096), the two plain
references of the four-step definition of :class:`structmat.Monarch` written out below (four steps with ``einsum``, and the same with batched
``matmul`` plus a contiguous copy per permutation, "bmm"), and ``X @ M`` on the same data laid
out as rows.  The script prints

* the main table: medians, Monarch's speed-up over dense and over both references, the FLOP
  ratio (the speed-up a perfect implementation would reach), achieved GFLOP/s of Monarch and of
  dense GEMM and their quotient, and the rows/columns time ratio;
* the crossover batch size where Monarch starts beating dense (refined between the grid's
  batch sizes by powers of two);
* the peak memory of the multiply (tracemalloc on NumPy, a pool hook on CuPy), in units of the
  output's size;
* the speed targets at n = 4096 (the largest measured n with a dense baseline), float32.

Note on OpenBLAS: after a multithreaded BLAS call (the dense product) OpenBLAS's idle workers
keep spinning for about 0.1 s, and the Monarch product (which spreads small single-threaded
GEMMs over its own threads) runs up to ~2x slower while they do.  Each candidate therefore runs
untimed for ``--settle`` seconds before its timed calls in every repetition, so each is measured
in its own steady state; ``--settle 0`` shows the cost of interleaving them back to back.
``OPENBLAS_THREAD_TIMEOUT=4`` shortens the spin in mixed workloads.

Order-p Monarch matrices (:class:`structmat.MonarchP`, ``--orders``, default 2 3 4) get a table
of their own: at n = 4096 and 16384 with batches 256 and 1024 (or the ``--sizes`` and
``--batches`` given), each order's ``A @ X`` is timed interleaved with dense GEMM, with its FLOP
count (``2 · nparams · batch``), GFLOP/s, the quotient of that rate and dense GEMM's rate
measured in the same run (at the largest n with a dense product for larger n), and its time
and FLOPs relative to order 2.  Sizes are split by :func:`structmat.ops.blocktt.orderp_sizes`
(16384 = 128·128, 32·32·16, 16·16·8·8); ``--quick`` measures n = 4096, batch 256 only;
``--orders`` with no value skips the table.

``--out DIR`` writes one CSV and one PNG per table.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import tracemalloc
from typing import Any

import numpy as np

import structmat
from benchmarks.harness import (
    flag_ratio,
    load_compiled_kernels,
    measure,
    print_table,
    progress,
    save_figure,
    sync_for,
    write_csv,
)

FULL_SIZES = (256, 1024, 4096, 16384)
FULL_BATCHES = (1, 16, 256, 1024)
FULL_DTYPES = ("float32", "float64", "complex64")
QUICK_SIZES = (256, 1024, 4096)
QUICK_DTYPES = ("float32",)
#: Largest n with a dense baseline (a 16384^2 float64 matrix is 2 GiB).
DENSE_MAX = 4096

MAIN_COLUMNS = [
    # in order of importance: the printed table keeps what fits in 120 columns, the CSV all
    "dtype",
    "n",
    "batch",
    "monarch_ms",
    "dense_ms",
    "speedup_vs_dense",
    "flag",
    "flop_ratio",
    "gflops_fraction",
    "rows_over_cols",
    "monarch_min_ms",
    "monarch_max_ms",
    "bmm_ms",
    "einsum_ms",
    "rows_ms",
    "speedup_vs_bmm",
    "speedup_vs_einsum",
    "monarch_gflops",
    "dense_gflops",
]
TARGET_COLUMNS = ["target", "case", "measured", "goal", "verdict"]
CROSS_COLUMNS = ["dtype", "n", "crossover_batch", "speedup_at_crossover", "batches_tried"]
MEM_COLUMNS = [
    "dtype",
    "n",
    "batch",
    "output_mb",
    "monarch_peak_mb",
    "monarch_extra_outputs",
    "rows_peak_mb",
    "rows_extra_outputs",
    "bmm_extra_outputs",
    "einsum_extra_outputs",
]


# ----------------------------------------------------------------------------------------------
# the plain references
# ----------------------------------------------------------------------------------------------


def einsum_reference(L, R, X, xp):
    """``M @ X`` by the four steps of the definition of :class:`structmat.Monarch`, one ``einsum`` per block-diagonal stage.

    ``R`` is ``(k, q, p)``, ``L`` is ``(l, s, r)``, ``X`` is ``(k p, B)``; every step
    materialises its result in the natural layout (this is the straightforward implementation
    the optimised multiply is measured against).
    """
    k, q, p = R.shape
    l, s, r = L.shape
    nb = X.shape[1]
    U = xp.einsum("aij,ajc->aic", R, xp.reshape(X, (k, p, nb)))  # step 1: (k, q, B)
    V = xp.ascontiguousarray(xp.transpose(xp.reshape(U, (r, l, nb)), (1, 0, 2)))  # step 2
    W = xp.einsum("bdc,bcx->bdx", L, V)  # step 3: (l, s, B)
    return xp.reshape(xp.ascontiguousarray(xp.transpose(W, (1, 0, 2))), (s * l, nb))  # step 4


def bmm_reference(L, R, X, xp):
    """The same four steps with batched ``matmul`` (BLAS) and a contiguous copy per permutation.

    This is the direct batched-GEMM implementation: two GEMMs and two layout copies.
    """
    k, q, p = R.shape
    l, s, r = L.shape
    nb = X.shape[1]
    U = xp.matmul(R, xp.reshape(X, (k, p, nb)))
    V = xp.ascontiguousarray(xp.transpose(xp.reshape(U, (r, l, nb)), (1, 0, 2)))
    W = xp.matmul(L, V)
    return xp.reshape(xp.ascontiguousarray(xp.transpose(W, (1, 0, 2))), (s * l, nb))


# ----------------------------------------------------------------------------------------------
# backends
# ----------------------------------------------------------------------------------------------


def _backend(name: str):
    """``(xp, sync)`` for ``numpy`` or ``cupy``; ``RuntimeError`` when CuPy has no device."""
    if name == "numpy":
        return np, sync_for(np)
    if name == "cupy":
        try:
            import cupy
        except ImportError as exc:
            raise RuntimeError("backend 'cupy' needs CuPy (pip install structmat[gpu])") from exc
        try:
            if cupy.cuda.runtime.getDeviceCount() < 1:
                raise RuntimeError("backend 'cupy': no CUDA device found")
        except cupy.cuda.runtime.CUDARuntimeError as exc:
            raise RuntimeError(f"backend 'cupy': no usable CUDA device ({exc})") from exc
        return cupy, sync_for(cupy)
    raise ValueError(f"backend must be 'numpy' or 'cupy'; got {name!r}")


def _random(xp, shape, dtype: str, rng) -> Any:
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return xp.asarray(a.astype(dtype))


class _CupyPeak:
    """Peak bytes handed out by CuPy's memory pool while the hook is active."""

    def __init__(self):
        import cupy

        class Hook(cupy.cuda.MemoryHook):
            name = "structmat-peak"

            def __init__(hook):
                hook.current = 0
                hook.peak = 0

            def malloc_postprocess(hook, device_id, size, mem_size, mem_ptr, pmem_id):
                hook.current += mem_size
                hook.peak = max(hook.peak, hook.current)

            def free_postprocess(hook, device_id, mem_size, mem_ptr, pmem_id):
                hook.current -= mem_size

        self.hook = Hook()


def peak_bytes(fn, xp, sync) -> tuple[int, Any]:
    """Peak memory allocated while ``fn()`` runs (its result included) and the result."""
    gc.collect()
    if xp is np:
        tracemalloc.start()
        try:
            out = fn()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return peak, out
    tracker = _CupyPeak()  # pragma: no cover - GPU only
    with tracker.hook:
        out = fn()
        sync()
    return tracker.hook.peak, out


# ----------------------------------------------------------------------------------------------
# the measurement
# ----------------------------------------------------------------------------------------------


def _case(
    M, A, X, Xrows, xp, sync, repeats: int, min_time: float, settle: float, with_extras: bool = True
):
    fns = {"monarch": lambda: M @ X}
    if A is not None:
        fns["dense"] = lambda: A @ X
    if with_extras:
        fns["bmm"] = lambda: bmm_reference(M.L, M.R, X, xp)
        fns["einsum"] = lambda: einsum_reference(M.L, M.R, X, xp)
        fns["rows"] = lambda: Xrows @ M
    return measure(fns, repeats=repeats, warmup=1, min_time=min_time, sync=sync, settle=settle)


def _crossover(speed: dict[int, float]) -> tuple[Any, Any]:
    """Smallest batch from which Monarch wins at every larger measured batch."""
    batches = sorted(speed)
    winner = None
    for b in reversed(batches):
        if speed[b] > 1.0:
            winner = b
        else:
            break
    if winner is None:
        return "none", ""
    return winner, round(speed[winner], 3)


def run(
    dtypes,
    sizes,
    batches,
    backend="numpy",
    repeats=5,
    min_time=0.05,
    settle=0.1,
    refine=True,
    memory=True,
    seed=0,
):
    """Measure everything; returns ``(main_rows, crossover_rows, memory_rows)``."""
    xp, sync = _backend(backend)
    rng = np.random.default_rng(seed)
    main_rows, cross_rows, mem_rows = [], [], []
    cases = [(dt, n) for dt in dtypes for n in sizes]
    dense_rate: dict[tuple[str, int], float] = {}
    for dt, n in progress(cases, "multiply"):
        M = structmat.Monarch.random(n, seed=int(rng.integers(2**31)), dtype=dt, xp=backend)
        A = M.to_dense() if n <= DENSE_MAX else None
        speed: dict[int, float] = {}
        for nb in batches:
            X = _random(xp, (n, nb), dt, rng)
            Xrows = xp.ascontiguousarray(X.T)
            t = _case(M, A, X, Xrows, xp, sync, repeats, min_time, settle)
            mflop = M.flops(nb)
            dflop = 2 * n * n * nb
            row = {
                "dtype": dt,
                "n": n,
                "batch": nb,
                "monarch_ms": t["monarch"] * 1e3,
                "bmm_ms": t["bmm"] * 1e3,
                "einsum_ms": t["einsum"] * 1e3,
                "rows_ms": t["rows"] * 1e3,
                "speedup_vs_bmm": t["bmm"] / t["monarch"],
                "speedup_vs_einsum": t["einsum"] / t["monarch"],
                "flop_ratio": dflop / mflop,
                "monarch_gflops": mflop / t["monarch"] / 1e9,
                "rows_over_cols": t["rows"] / t["monarch"],
                "monarch_min_ms": t["monarch"].lo * 1e3,
                "monarch_max_ms": t["monarch"].hi * 1e3,
                # a ratio is only as good as the noisier of its two sides
                "flag": " ".join(
                    sorted({flag_ratio(t["monarch"], t[k]) for k in t if k != "monarch"} - {""})
                ),
            }
            if A is not None:
                row["dense_ms"] = t["dense"] * 1e3
                row["speedup_vs_dense"] = t["dense"] / t["monarch"]
                row["dense_gflops"] = dflop / t["dense"] / 1e9
                dense_rate[(dt, nb)] = row["dense_gflops"]
                speed[nb] = row["speedup_vs_dense"]
            elif (dt, nb) in dense_rate:
                # no dense product at this size: compare with the dense rate of the largest n
                row["dense_gflops"] = dense_rate[(dt, nb)]
            if "dense_gflops" in row:
                row["gflops_fraction"] = row["monarch_gflops"] / row["dense_gflops"]
            main_rows.append(row)
            if memory and nb == max(batches):
                mem_rows.append(_memory_row(M, X, Xrows, xp, sync, dt, n, nb))
            del X, Xrows
        if A is not None:
            if refine:
                _refine(M, A, speed, xp, sync, dt, n, rng, repeats, min_time, settle)
            cb, sp = _crossover(speed)
            cross_rows.append(
                {
                    "dtype": dt,
                    "n": n,
                    "crossover_batch": cb,
                    "speedup_at_crossover": sp,
                    "batches_tried": " ".join(str(b) for b in sorted(speed)),
                }
            )
        del A, M
    return main_rows, cross_rows, mem_rows


def _refine(M, A, speed, xp, sync, dt, n, rng, repeats, min_time, settle):
    """Fill in powers of two between the last losing and the first winning batch."""
    cb, _ = _crossover(speed)
    if cb == "none":
        return
    lower = [b for b in sorted(speed) if b < cb]
    if not lower:
        return
    b = 2 ** (int(math.log2(lower[-1])) + 1)
    while b < cb:
        X = _random(xp, (n, b), dt, rng)
        t = _case(M, A, X, None, xp, sync, repeats, min_time, settle, with_extras=False)
        speed[b] = t["dense"] / t["monarch"]
        b *= 2


def _memory_row(M, X, Xrows, xp, sync, dt, n, nb):
    out_bytes = n * nb * np.dtype(dt).itemsize
    peak, Y = peak_bytes(lambda: M @ X, xp, sync)
    del Y
    rpeak, Y = peak_bytes(lambda: Xrows @ M, xp, sync)
    del Y
    bpeak, Y = peak_bytes(lambda: bmm_reference(M.L, M.R, X, xp), xp, sync)
    del Y
    epeak, Y = peak_bytes(lambda: einsum_reference(M.L, M.R, X, xp), xp, sync)
    del Y
    return {
        "dtype": dt,
        "n": n,
        "batch": nb,
        "output_mb": out_bytes / 2**20,
        "monarch_peak_mb": peak / 2**20,
        "monarch_extra_outputs": (peak - out_bytes) / out_bytes,
        "rows_peak_mb": rpeak / 2**20,
        "rows_extra_outputs": (rpeak - out_bytes) / out_bytes,
        "bmm_extra_outputs": (bpeak - out_bytes) / out_bytes,
        "einsum_extra_outputs": (epeak - out_bytes) / out_bytes,
    }


def targets(main_rows, mem_rows, dtype="float32"):
    """The speed targets, checked on the measured rows of ``dtype`` at the largest dense n."""
    rows = [r for r in main_rows if r["dtype"] == dtype and "speedup_vs_dense" in r]
    if not rows:
        return []
    n = max(r["n"] for r in rows)
    rows = sorted((r for r in rows if r["n"] == n), key=lambda r: r["batch"])
    big, small = rows[-1], rows[0]
    out = []

    def add(name, case, value, goal, ok, row=None):
        # a target is judged on medians, and only where both sides of the ratio were stable
        unstable = row is not None and bool(row.get("flag"))
        out.append(
            {
                "target": name,
                "case": case,
                "measured": round(value, 3),
                "goal": goal,
                "verdict": "unstable: not judged" if unstable else ("holds" if ok else "missed"),
            }
        )

    add(
        "speed-up over dense GEMM",
        f"n={n} batch={big['batch']}",
        big["speedup_vs_dense"],
        ">= 16",
        big["speedup_vs_dense"] >= 16,
        big,
    )
    add(
        "speed-up over dense (fewest columns)",
        f"n={n} batch={small['batch']}",
        small["speedup_vs_dense"],
        "> 1",
        small["speedup_vs_dense"] > 1,
        small,
    )
    add(
        "X @ M time / M @ X time",
        f"n={n} batch={big['batch']}",
        big["rows_over_cols"],
        "<= 1.2",
        big["rows_over_cols"] <= 1.2,
        big,
    )
    add(
        "Monarch GFLOP/s / dense GFLOP/s",
        f"n={n} batch={big['batch']}",
        big["gflops_fraction"],
        "(info)",
        True,
    )
    mem = [m for m in mem_rows if m["dtype"] == dtype and m["n"] == n]
    if mem:
        m = mem[0]
        worst = max(m["monarch_extra_outputs"], m["rows_extra_outputs"])
        add(
            "extra memory / output size (M @ X, X @ M)",
            f"n={n} batch={m['batch']}",
            worst,
            "<= 2",
            worst <= 2,
        )
    return out


# ----------------------------------------------------------------------------------------------
# order-p Monarch matrices
# ----------------------------------------------------------------------------------------------

ORDERS = (2, 3, 4)
ORDER_SIZES = (4096, 16384)
ORDER_BATCHES = (256, 1024)
ORDER_COLUMNS = [
    "dtype",
    "n",
    "batch",
    "order",
    "sizes",
    "gflop",
    "ms",
    "gflops",
    "dense_ms",
    "dense_gflops",
    "rate_fraction",
    "speedup_vs_dense",
    "flops_over_order2",
    "time_over_order2",
]


def run_orders(
    dtypes,
    sizes,
    batches,
    orders=ORDERS,
    backend="numpy",
    repeats=5,
    min_time=0.05,
    settle=0.1,
    seed=0,
):
    """Order-p Monarch ``A @ X`` against dense GEMM; one row per (dtype, n, batch, order).

    Orders whose size does not factor (``orderp_sizes`` raises) are left out.  Dense GEMM is
    timed at ``n <= DENSE_MAX``; larger ``n`` use the dense rate of the largest such ``n`` at
    the same batch (when one was measured)."""
    from structmat.ops.blocktt import orderp_sizes

    xp, sync = _backend(backend)
    rng = np.random.default_rng(seed)
    rows = []
    dense_rate: dict[tuple[str, int], float] = {}
    cases = [(dt, n) for dt in dtypes for n in sorted(sizes)]
    for dt, n in progress(cases, "order-p multiply"):
        mats = {}
        for p in orders:
            try:
                split = orderp_sizes(n, p)
            except ValueError:
                continue
            mats[p] = structmat.MonarchP.random(
                split, seed=int(rng.integers(2**31)), dtype=dt, xp=backend
            )
        if not mats:
            continue
        A = _random(xp, (n, n), dt, rng) if n <= DENSE_MAX else None
        for nb in batches:
            X = _random(xp, (n, nb), dt, rng)
            fns = {f"p{p}": (lambda M=M: M @ X) for p, M in mats.items()}
            if A is not None:
                fns["dense"] = lambda: A @ X
            t = measure(fns, repeats=repeats, warmup=1, min_time=min_time, sync=sync, settle=settle)
            dflop = 2 * n * n * nb
            if A is not None:
                dense_rate[(dt, nb)] = dflop / t["dense"] / 1e9
            base = mats.get(2)
            for p, M in mats.items():
                fl = M.flops(nb)
                row = {
                    "dtype": dt,
                    "n": n,
                    "batch": nb,
                    "order": p,
                    "sizes": "x".join(str(b) for b in M.in_sizes),
                    "gflop": fl / 1e9,
                    "ms": t[f"p{p}"] * 1e3,
                    "gflops": fl / t[f"p{p}"] / 1e9,
                }
                if A is not None:
                    row["dense_ms"] = t["dense"] * 1e3
                    row["speedup_vs_dense"] = t["dense"] / t[f"p{p}"]
                if (dt, nb) in dense_rate:
                    row["dense_gflops"] = dense_rate[(dt, nb)]
                    row["rate_fraction"] = row["gflops"] / row["dense_gflops"]
                if base is not None:
                    row["flops_over_order2"] = fl / base.flops(nb)
                    row["time_over_order2"] = t[f"p{p}"] / t["p2"]
                rows.append(row)
            del X
        del A, mats
    return rows


def _orders_figure(out, rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({(r["dtype"], r["n"], r["batch"]) for r in rows})
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for dt, n, nb in keys:
        sub = sorted(
            (r for r in rows if (r["dtype"], r["n"], r["batch"]) == (dt, n, nb)),
            key=lambda r: r["order"],
        )
        ax.plot(
            [r["order"] for r in sub], [r["ms"] for r in sub], "o-", label=f"{dt} n={n} batch={nb}"
        )
    ax.set_yscale("log")
    ax.set_xlabel("order p")
    ax.set_ylabel("A @ X time (ms, median)")
    ax.set_title("order-p Monarch multiply")
    ax.legend(fontsize=7)
    save_figure(fig, os.path.join(out, "orders.png"))
    plt.close(fig)


# ----------------------------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------------------------


def _figures(out, main_rows, cross_rows, mem_rows, target_rows, backend):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtypes = sorted({r["dtype"] for r in main_rows})
    fig, axes = plt.subplots(1, len(dtypes), figsize=(5 * len(dtypes), 4), squeeze=False)
    for ax, dt in zip(axes[0], dtypes):
        rows = [r for r in main_rows if r["dtype"] == dt]
        for n in sorted({r["n"] for r in rows}):
            sub = [r for r in rows if r["n"] == n]
            xs = [r["batch"] for r in sub]
            if all("speedup_vs_dense" in r for r in sub):
                ax.plot(xs, [r["speedup_vs_dense"] for r in sub], "o-", label=f"n={n} vs dense")
            ax.plot(xs, [r["speedup_vs_bmm"] for r in sub], "x--", label=f"n={n} vs bmm")
        ax.axhline(1.0, color="gray", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch (columns of X)")
        ax.set_ylabel("Monarch speed-up")
        ax.set_title(f"{dt}, {backend}")
        ax.legend(fontsize=7)
    save_figure(fig, os.path.join(out, "multiply.png"))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    labels = [f"{r['dtype']}\nn={r['n']}" for r in cross_rows]
    vals = [
        r["crossover_batch"] if isinstance(r["crossover_batch"], int) else 0 for r in cross_rows
    ]
    ax.bar(range(len(vals)), vals)
    ax.set_xticks(range(len(vals)), labels, fontsize=7)
    ax.set_ylabel("crossover batch (0: never)")
    ax.set_title("smallest batch where Monarch beats dense")
    save_figure(fig, os.path.join(out, "crossover.png"))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    labels = [f"{r['dtype']}\nn={r['n']}" for r in mem_rows]
    x = np.arange(len(mem_rows))
    for off, key, name in (
        (-0.3, "monarch_extra_outputs", "M @ X"),
        (-0.1, "rows_extra_outputs", "X @ M"),
        (0.1, "bmm_extra_outputs", "bmm"),
        (0.3, "einsum_extra_outputs", "einsum"),
    ):
        ax.bar(x + off, [r[key] for r in mem_rows], width=0.2, label=name)
    ax.axhline(2.0, color="gray", lw=0.8, ls="--")
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("peak extra memory / output size")
    ax.legend(fontsize=7)
    save_figure(fig, os.path.join(out, "memory.png"))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    shown = [r for r in target_rows if r["goal"] != "(info)"]
    if not shown:
        ax.text(0.5, 0.5, "no float32 rows with a dense baseline", ha="center", va="center")
    colors = ["tab:green" if r["verdict"] == "holds" else "tab:red" for r in shown]
    ax.barh(range(len(shown)), [r["measured"] for r in shown], color=colors)
    ax.set_yticks(
        range(len(shown)),
        [f"{r['target']}\n{r['case']} (goal {r['goal']})" for r in shown],
        fontsize=7,
    )
    ax.set_xscale("log")
    ax.set_title("speed targets (green: holds)")
    save_figure(fig, os.path.join(out, "targets.png"))
    plt.close(fig)


# ----------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks multiply", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--out", help="folder for CSV and PNG files")
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"float32, n in {QUICK_SIZES}, fewer repetitions (under a minute)",
    )
    ap.add_argument(
        "--dtype",
        nargs="+",
        choices=("float32", "float64", "complex64", "complex128"),
        help=f"dtypes (default {' '.join(FULL_DTYPES)}; --quick: float32)",
    )
    ap.add_argument("--backend", default="numpy", choices=("numpy", "cupy"))
    ap.add_argument("--sizes", nargs="+", type=int, help=f"matrix sizes n (default {FULL_SIZES})")
    ap.add_argument("--batches", nargs="+", type=int, help=f"batch sizes (default {FULL_BATCHES})")
    ap.add_argument("--repeats", type=int, help="interleaved repetitions (default 7; --quick: 3)")
    ap.add_argument(
        "--settle",
        type=float,
        default=0.1,
        help="seconds each candidate runs untimed before its timed calls in every "
        "repetition (default 0.1; 0 measures each in the wake of the previous)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--orders",
        nargs="*",
        type=int,
        default=None,
        help="orders p of the MonarchP table (default 2 3 4; no value: skip it); "
        f"sizes and batches default to {ORDER_SIZES} and {ORDER_BATCHES}",
    )
    return ap


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    load_compiled_kernels()
    sizes = tuple(args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES))
    batches = tuple(args.batches or FULL_BATCHES)
    dtypes = tuple(args.dtype or (QUICK_DTYPES if args.quick else FULL_DTYPES))
    repeats = args.repeats or (3 if args.quick else 7)
    for name, vals in (("--sizes", sizes), ("--batches", batches)):
        if any(v < 1 for v in vals):
            print(f"{name} must be positive integers; got {vals}", file=sys.stderr)
            return 2
    orders = tuple(ORDERS if args.orders is None else args.orders)
    if any(p < 2 for p in orders):
        print(f"--orders must be integers >= 2; got {orders}", file=sys.stderr)
        return 2
    try:
        main_rows, cross_rows, mem_rows = run(
            dtypes,
            sizes,
            batches,
            backend=args.backend,
            repeats=repeats,
            min_time=0.02 if args.quick else 0.05,
            settle=max(0.0, args.settle),
            seed=args.seed,
        )
    except RuntimeError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    cores = os.cpu_count()
    head = f"backend {args.backend}, {cores} CPU cores, numpy {np.__version__}"
    print_table(
        main_rows,
        MAIN_COLUMNS,
        title=f"Monarch M @ X vs dense A @ X vs references ({head}; medians of {repeats})",
    )
    print_table(
        cross_rows, CROSS_COLUMNS, title="Crossover: smallest batch from which Monarch beats dense"
    )
    if mem_rows:
        print_table(
            mem_rows,
            MEM_COLUMNS,
            title="Peak memory of the multiply (extra_outputs = (peak - output) / output)",
        )
    target_rows = targets(main_rows, mem_rows)
    if target_rows:
        print_table(
            target_rows, TARGET_COLUMNS, title=f"Speed targets (float32; {cores} CPU cores)"
        )
    order_rows = []
    if orders:
        order_rows = run_orders(
            dtypes,
            tuple(args.sizes or (ORDER_SIZES[:1] if args.quick else ORDER_SIZES)),
            tuple(args.batches or (ORDER_BATCHES[:1] if args.quick else ORDER_BATCHES)),
            orders,
            backend=args.backend,
            repeats=repeats,
            min_time=0.02 if args.quick else 0.05,
            settle=max(0.0, args.settle),
            seed=args.seed,
        )
        print_table(
            order_rows,
            ORDER_COLUMNS,
            title=f"Order-p Monarch A @ X vs dense GEMM ({head}; medians of {repeats})",
        )
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        write_csv(os.path.join(args.out, "multiply.csv"), main_rows, MAIN_COLUMNS)
        write_csv(os.path.join(args.out, "crossover.csv"), cross_rows, CROSS_COLUMNS)
        write_csv(os.path.join(args.out, "memory.csv"), mem_rows, MEM_COLUMNS)
        write_csv(os.path.join(args.out, "targets.csv"), target_rows, TARGET_COLUMNS)
        _figures(args.out, main_rows, cross_rows, mem_rows, target_rows, args.backend)
        if order_rows:
            write_csv(os.path.join(args.out, "orders.csv"), order_rows, ORDER_COLUMNS)
            _orders_figure(args.out, order_rows)
        print(f"\nwrote multiply/crossover/memory/targets .csv and .png to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
