"""How the Monarch multiply scales with ``n``: ``M @ X`` against dense ``D @ X`` at one batch.

``python -m benchmarks scaling [--sizes N ...] [--batch 256] [--repeats R] [--quick] [--out DIR]``

For every size ``n`` (a perfect square, so that the default Monarch geometry has ``sqrt(n)``
blocks of ``sqrt(n) x sqrt(n)`` in both factors) the script times ``M @ X`` for
``M = structmat.Monarch.random(n, dtype=float32)`` and ``X`` of shape ``(n, batch)``, and dense
``D @ X`` with ``D = M.to_dense()``, interleaved in one run (:func:`benchmarks.harness.measure`).
Dense is timed only where the ``n x n`` float32 matrix takes at most :data:`DENSE_LIMIT_BYTES`;
above that its row says so instead of giving a number.

The table has the medians, Monarch's speed-up over dense (flagged ``unstable`` when either
timing spread more than the harness allows), the FLOP rates (Monarch: ``2 * (size of L + size
of R) * batch`` FLOPs, from the actual factor shapes; dense: ``2 n^2 batch``) and their
quotient; up to ``n = CHECK_MAX`` the CSV also has the largest error of ``M @ X`` against a
float64 dense product, relative to its largest entry.  Then the exponent ``a`` of
``t = c n^a`` is fitted by least squares on ``log t`` against ``log n`` for both products
(theory: 1.5 for Monarch, whose two block-diagonal factors have ``n^1.5`` entries each, and 2
for dense), and the peak memory of one ``M @ X`` (NumPy allocations, traced by
:mod:`tracemalloc`; BLAS's internal buffers are not seen) is reported in units of the
output's size, at ``n = 65536`` and batch 64 by default.

``--quick``: n = 256, 1024, 4096, three repetitions, memory at the largest measured n.
``--out DIR`` writes ``scaling.csv`` (every column, min and max included), ``scaling_fit.csv``,
``scaling_memory.csv`` and ``scaling.png`` (medians with min-max error bars).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

import structmat
from benchmarks.harness import (
    flag_ratio,
    measure,
    print_table,
    progress,
    save_figure,
    write_csv,
)
from benchmarks.multiply import peak_bytes
from structmat import _parallel

FULL_SIZES = (256, 1024, 4096, 16384, 65536)
QUICK_SIZES = (256, 1024, 4096)
BATCH = 256
MEMORY_N = 65536
MEMORY_BATCH = 64
#: the largest dense matrix that is timed (bytes); a 16384 x 16384 float32 matrix is 1 GiB
DENSE_LIMIT_BYTES = 2 * 2**30
DTYPE = "float32"
#: the largest n whose product is checked against a float64 dense product (``max_rel_err``)
CHECK_MAX = 4096
#: the exponents of ``t = c n^a`` the operation counts predict
THEORY = {"monarch": 1.5, "dense": 2.0}

COLUMNS = [
    # in order of importance: the printed table keeps what fits in 120 columns, the CSV all
    "n",
    "monarch_ms",
    "dense_ms",
    "speedup",
    "flag",
    "monarch_gflops",
    "dense_gflops",
    "rate_share",
    "monarch_min_ms",
    "monarch_max_ms",
    "dense_min_ms",
    "dense_max_ms",
    "monarch_stable",
    "dense_stable",
    "batch",
    "repeats",
    "monarch_gflop",
    "dense_gflop",
    "max_rel_err",
    "dense_note",
]
FIT_COLUMNS = ["product", "exponent", "theory", "coefficient", "points", "sizes"]
MEMORY_COLUMNS = [
    "n",
    "batch",
    "output_mb",
    "peak_mb",
    "peak_over_output",
    "beyond_output_over_output",
    "target",
    "verdict",
]
#: target on the memory ``M @ X`` allocates beyond its output, in units of the output's size
MEMORY_TARGET = 2.0


def dense_bytes(n: int, dtype: str = DTYPE) -> int:
    """Bytes of an ``n x n`` dense matrix of ``dtype``.

    Parameters
    ----------
    n : int
        Matrix size.
    dtype : str, optional
        NumPy dtype name (default ``"float32"``).

    Returns
    -------
    int
        ``n * n * itemsize``.

    Examples
    --------
    >>> dense_bytes(65536) / 2**30
    16.0
    """
    return int(n) * int(n) * np.dtype(dtype).itemsize


def fit_exponent(sizes, times) -> tuple[float, float]:
    """Least-squares fit of ``t = c n^a`` on ``log t`` against ``log n``.

    Parameters
    ----------
    sizes : sequence of positive numbers
        The sizes ``n`` (at least two distinct values).
    times : sequence of positive numbers
        The times measured at those sizes (same length).

    Returns
    -------
    (exponent, coefficient) : tuple of float
        ``a`` and ``c``.

    Raises
    ------
    ValueError
        When the lengths differ, fewer than two distinct sizes are given, or a value is not
        positive and finite.

    Examples
    --------
    >>> a, c = fit_exponent([256, 1024, 4096], [3 * 256**1.5, 3 * 1024**1.5, 3 * 4096**1.5])
    >>> round(a, 12), round(c, 9)
    (1.5, 3.0)
    """
    n = np.asarray(sizes, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    if n.ndim != 1 or t.shape != n.shape:
        raise ValueError(
            f"sizes and times must be 1-D of equal length; got {n.shape} and {t.shape}"
        )
    if not (np.all(np.isfinite(n)) and np.all(n > 0)):
        raise ValueError(f"sizes must be positive and finite; got {n.tolist()}")
    if not (np.all(np.isfinite(t)) and np.all(t > 0)):
        raise ValueError(f"times must be positive and finite; got {t.tolist()}")
    if np.unique(n).size < 2:
        raise ValueError(f"sizes must hold at least two distinct values; got {n.tolist()}")
    a, log_c = np.polyfit(np.log(n), np.log(t), 1)
    return float(a), float(np.exp(log_c))


def _check_sizes(sizes) -> None:
    bad = [n for n in sizes if n < 1 or math.isqrt(n) ** 2 != n]
    if bad:
        raise ValueError(f"sizes must be positive perfect squares (n = m * m); got {bad}")


def _timing_fields(name: str, t, flop: float) -> dict:
    """The CSV fields of one timing: median, fastest and slowest (ms), stability, GFLOP/s."""
    return {
        f"{name}_ms": t * 1e3,
        f"{name}_min_ms": t.lo * 1e3,
        f"{name}_max_ms": t.hi * 1e3,
        f"{name}_stable": t.stable,
        f"{name}_gflops": flop / t / 1e9,
    }


def run(sizes, batch=BATCH, repeats=5, min_time=0.05, settle=0.1, seed=0):
    """Time ``M @ X`` and dense ``D @ X`` (float32) at every size; one row per size.

    Parameters
    ----------
    sizes : sequence of int
        Matrix sizes ``n``, each a perfect square.
    batch : int, optional
        Columns of ``X`` (default 256).
    repeats : int, optional
        Interleaved repetitions per size (the medians' sample size).
    min_time : float, optional
        A product faster than this (seconds) is looped within a repetition.
    settle : float, optional
        Seconds each product runs untimed before its timed calls in every repetition (see
        :func:`benchmarks.harness.measure`).
    seed : int, optional
        Seed of the random Monarch matrices and inputs.

    Returns
    -------
    list of dict
        The rows, with the keys of :data:`COLUMNS` (dense entries only where dense ran;
        ``dense_note`` says why where it did not) and the :class:`benchmarks.harness.Timing`
        objects under ``_monarch_timing`` and ``_dense_timing``.

    Raises
    ------
    ValueError
        When a size is not a positive perfect square or ``batch``/``repeats`` is not positive.

    Examples
    --------
    >>> rows = run([16, 64], batch=4, repeats=3, min_time=0.0, settle=0.0)
    >>> [r["n"] for r in rows], all(r["monarch_ms"] > 0 and r["max_rel_err"] < 1e-5 for r in rows)
    ([16, 64], True)
    """
    sizes = [int(n) for n in sizes]
    _check_sizes(sizes)
    if batch < 1:
        raise ValueError(f"batch must be a positive integer; got {batch}")
    if repeats < 1:
        raise ValueError(f"repeats must be a positive integer; got {repeats}")
    rng = np.random.default_rng(seed)
    rows = []
    for n in progress(sizes, "scaling"):
        M = structmat.Monarch.random(n, seed=int(rng.integers(2**31)), dtype=DTYPE)
        X = rng.standard_normal((n, batch), dtype=np.float32)
        mflop = 2 * (math.prod(M.L.shape) + math.prod(M.R.shape)) * batch
        dflop = 2 * n * n * batch
        row = {
            "n": n,
            "batch": batch,
            "repeats": repeats,
            "monarch_gflop": mflop / 1e9,
            "dense_gflop": dflop / 1e9,
        }
        fns = {"monarch": lambda: M @ X}
        D = None
        dbytes = dense_bytes(n)
        if dbytes <= DENSE_LIMIT_BYTES:
            D = M.to_dense()
            fns["dense"] = lambda: D @ X
            if n <= CHECK_MAX:
                ref = D.astype(np.float64) @ X.astype(np.float64)
                row["max_rel_err"] = float(np.max(np.abs(M @ X - ref)) / np.max(np.abs(ref)))
                del ref
        else:
            row["dense_note"] = f"not run: {n} x {n} {DTYPE} is {dbytes / 2**30:.3g} GiB"
        t = measure(fns, repeats=repeats, warmup=1, min_time=min_time, settle=settle)
        tm = t["monarch"]
        row.update(_timing_fields("monarch", tm, mflop))
        if D is not None:
            td = t["dense"]
            row.update(_timing_fields("dense", td, dflop))
            row.update(
                speedup=td / tm,
                flag=flag_ratio(td, tm),
            )
            row["rate_share"] = row["monarch_gflops"] / row["dense_gflops"]
            # the timings themselves, for the fit and the figure
            row["_dense_timing"] = td
        row["_monarch_timing"] = tm
        rows.append(row)
        del M, X, D, fns
    return rows


def fits(rows) -> list[dict]:
    """The fitted exponents of time against ``n`` for both products (those with >= 2 sizes).

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`run` (``monarch_ms``, and ``dense_ms`` where dense ran, as numbers).

    Returns
    -------
    list of dict
        One row per product with the keys of :data:`FIT_COLUMNS`.

    Examples
    --------
    >>> rows = [{"n": n, "monarch_ms": 2e-6 * n**1.5, "dense_ms": 1e-6 * n**2} for n in (64, 256)]
    >>> [(f["product"], round(f["exponent"], 9), f["theory"]) for f in fits(rows)]
    [('monarch', 1.5, 1.5), ('dense', 2.0, 2.0)]
    """
    out = []
    for product in ("monarch", "dense"):
        pts = [
            (r["n"], r[f"{product}_ms"])
            for r in rows
            if isinstance(r.get(f"{product}_ms"), float | int)
        ]
        if len({n for n, _ in pts}) < 2:
            continue
        a, c = fit_exponent([n for n, _ in pts], [t / 1e3 for _, t in pts])
        out.append(
            {
                "product": product,
                "exponent": a,
                "theory": THEORY[product],
                "coefficient": c,
                "points": len(pts),
                "sizes": " ".join(str(n) for n, _ in pts),
            }
        )
    return out


def memory(n=MEMORY_N, batch=MEMORY_BATCH, seed=0) -> dict:
    """Peak NumPy memory allocated by one ``M @ X`` (float32), in units of the output's size.

    The inputs ``M`` and ``X`` exist before the product and are not counted; the output is
    (``peak_over_output`` is at least 1).  The work arrays that the multiply keeps between
    products are dropped before the traced one (:func:`structmat._parallel.drop_scratch`), so
    it allocates them as the first product in a process does.  :mod:`tracemalloc` sees
    NumPy's allocations, not BLAS's internal buffers.

    Parameters
    ----------
    n : int, optional
        Matrix size (a perfect square; default 65536).
    batch : int, optional
        Columns of ``X`` (default 64).
    seed : int, optional
        Seed of the random matrix and input.

    Returns
    -------
    dict
        With the keys of :data:`MEMORY_COLUMNS`; ``verdict`` compares
        ``beyond_output_over_output`` (the extra memory) with :data:`MEMORY_TARGET`.

    Examples
    --------
    >>> m = memory(256, 8)
    >>> m["output_mb"] == 256 * 8 * 4 / 2**20, m["peak_over_output"] >= 1
    (True, True)
    """
    _check_sizes([int(n)])
    if batch < 1:
        raise ValueError(f"batch must be a positive integer; got {batch}")
    rng = np.random.default_rng(seed)
    M = structmat.Monarch.random(n, seed=int(rng.integers(2**31)), dtype=DTYPE)
    X = rng.standard_normal((n, batch), dtype=np.float32)
    M @ X  # first call outside the trace (lazy imports, thread pools)
    # the traced product allocates its work arrays as a first product in the process does
    # (large blocks keep theirs on the calling thread; a repeated product reuses them)
    _parallel.drop_scratch()
    out_bytes = n * batch * np.dtype(DTYPE).itemsize
    peak, Y = peak_bytes(lambda: M @ X, np, lambda: None)
    del Y
    share = peak / out_bytes
    extra = (peak - out_bytes) / out_bytes
    return {
        "n": n,
        "batch": batch,
        "output_mb": out_bytes / 2**20,
        "peak_mb": peak / 2**20,
        "peak_over_output": share,
        "beyond_output_over_output": extra,
        "target": f"extra <= {MEMORY_TARGET:g}",
        "verdict": (
            f"holds: {extra:.4f} <= {MEMORY_TARGET:g}"
            if extra <= MEMORY_TARGET
            else f"missed: {extra:.4f} > {MEMORY_TARGET:g}"
        ),
    }


def _figure(path, rows, fit_rows, batch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for product, marker, label in (
        ("monarch", "s", "Monarch M @ X"),
        ("dense", "o", "dense D @ X"),
    ):
        sub = [r for r in rows if f"_{product}_timing" in r]
        if not sub:
            continue
        ns = np.array([r["n"] for r in sub], dtype=float)
        med = np.array([float(r[f"_{product}_timing"]) for r in sub]) * 1e3
        lo = np.array([r[f"_{product}_timing"].lo for r in sub]) * 1e3
        hi = np.array([r[f"_{product}_timing"].hi for r in sub]) * 1e3
        bars = ax.errorbar(ns, med, yerr=[med - lo, hi - med], fmt=marker, capsize=3, label=label)
        for f in fit_rows:
            if f["product"] == product:
                ax.plot(
                    ns,
                    f["coefficient"] * ns ** f["exponent"] * 1e3,
                    "--",
                    color=bars[0].get_color(),
                    lw=0.8,
                    label=f"fit n^{f['exponent']:.2f} (theory {f['theory']:g})",
                )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("n")
    ax.set_ylabel(f"ms (median, min-max bars; batch {batch}, float32)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path)
    plt.close(fig)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks scaling", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument(
        "--sizes", nargs="+", type=int, help=f"perfect squares n (default {FULL_SIZES})"
    )
    ap.add_argument("--batch", type=int, default=BATCH, help=f"columns of X (default {BATCH})")
    ap.add_argument("--repeats", type=int, help="interleaved repetitions (default 5; --quick: 3)")
    ap.add_argument(
        "--quick", action="store_true", help=f"n in {QUICK_SIZES}, 3 repetitions (for tests)"
    )
    ap.add_argument(
        "--settle",
        type=float,
        default=0.1,
        help="seconds each product runs untimed before its timed calls in every repetition",
    )
    ap.add_argument(
        "--memory-n",
        type=int,
        help=f"n of the memory measurement (default {MEMORY_N}; --quick: the largest size; "
        "0 skips it)",
    )
    ap.add_argument(
        "--memory-batch",
        type=int,
        default=MEMORY_BATCH,
        help=f"batch of the memory measurement (default {MEMORY_BATCH})",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="folder for the CSV files and the PNG figure")
    return ap


def main(argv=None) -> int:
    """Run the scaling benchmark from the command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default ``sys.argv[1:]``); see ``python -m benchmarks scaling -h``.

    Returns
    -------
    int
        0 on success, 2 on a bad option.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):
    ...     rc = main(["--sizes", "16", "64", "--batch", "4", "--repeats", "1",
    ...                "--settle", "0", "--memory-n", "0"])
    >>> rc
    0
    """
    args = _parser().parse_args(argv)
    sizes = tuple(args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES))
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 5)
    memory_n = args.memory_n
    if memory_n is None:
        memory_n = max(sizes) if args.quick else MEMORY_N
    problems = []
    try:
        _check_sizes(sizes)
    except ValueError as exc:
        problems.append(f"--sizes: {exc}")
    for name, value in (
        ("--batch", args.batch),
        ("--repeats", repeats),
        ("--memory-batch", args.memory_batch),
    ):
        if value < 1:
            problems.append(f"{name} must be a positive integer; got {value}")
    if memory_n:
        try:
            _check_sizes([memory_n])
        except ValueError as exc:
            problems.append(f"--memory-n (0 to skip): {exc}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    rows = run(
        sizes,
        batch=args.batch,
        repeats=repeats,
        min_time=0.02 if args.quick else 0.05,
        settle=max(0.0, args.settle),
        seed=args.seed,
    )
    head = f"{os.cpu_count()} CPU cores, numpy {np.__version__}"
    # rows without a dense product say why in the dense column of the printed table
    shown = [dict(r, dense_ms=r["dense_note"]) if "dense_note" in r else r for r in rows]
    print_table(
        shown,
        COLUMNS,
        title=f"Monarch M @ X vs dense D @ X, float32, batch {args.batch} "
        f"({head}; medians of {repeats}, interleaved)",
    )
    fit_rows = fits(rows)
    print("\nExponent a of t = c n^a (least squares on log t vs log n):")
    for f in fit_rows:
        print(
            f"  {f['product']:7s} a = {f['exponent']:.3f}  (theory {f['theory']:g}; "
            f"{f['points']} sizes: {f['sizes']})"
        )
    if not fit_rows:
        print("  (fewer than two sizes: no fit)")
    mem_rows = []
    if memory_n:
        sys.stderr.write(f"scaling: peak memory of M @ X at n={memory_n}\n")
        mem_rows.append(memory(memory_n, args.memory_batch, seed=args.seed))
        print_table(
            mem_rows,
            MEMORY_COLUMNS,
            title="Peak memory of M @ X (NumPy allocations; the output counts, the inputs not)",
        )
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        plain = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
        write_csv(os.path.join(args.out, "scaling.csv"), plain, COLUMNS)
        write_csv(os.path.join(args.out, "scaling_fit.csv"), fit_rows, FIT_COLUMNS)
        write_csv(os.path.join(args.out, "scaling_memory.csv"), mem_rows, MEMORY_COLUMNS)
        _figure(os.path.join(args.out, "scaling.png"), rows, fit_rows, args.batch)
        print(
            f"\nwrote scaling.csv, scaling_fit.csv, scaling_memory.csv, scaling.png to {args.out}"
        )
    return 0


__all__ = ["dense_bytes", "fit_exponent", "fits", "memory", "run", "main"]

if __name__ == "__main__":
    sys.exit(main())
