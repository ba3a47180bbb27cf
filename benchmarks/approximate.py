"""The structure explorer: time of each family's search against one SVD, and the alternating
methods' error against iterations.

``python -m benchmarks approximate [--out DIR] [--quick] [--sizes N ...] [--budget F]
[--iterations K] [--repeats R]``

The matrix is a synthetic stand-in for a trained weight matrix (fixed seed): ``U diag(s) V^T``
with singular values ``s_i = (1 + i)^-0.6`` and Haar-random ``U``, ``V``, plus a
block-diagonal term of 8 blocks with a tenth of its norm.

Table 1 — for every family, :func:`structmat.explore.approximate` restricted to that family
at the budget (default 25 % of the dense parameters; the whole search over the family's
configurations, including building the winner) is timed interleaved with one
``scipy.linalg.svd`` of the same matrix (``gesdd``, thin), medians of ``--repeats``
repetitions; the table gives both times, their ratio, the parameters used and the relative
error.

Table 2 — for each sum family (Monarch / block-diagonal / sparse + low rank) at the same
budget and the split the search picks, :func:`structmat.explore.alternating_projections` is
run for ``--iterations`` iterations without a stopping tolerance; the table gives the error
after every iteration next to low rank's error at the same budget (non-increasing by
construction).  ``--out DIR`` writes ``approximate.csv``, ``approximate_iterations.csv`` and
``approximate.png`` (error against iterations).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import scipy.linalg

from benchmarks.harness import measure, print_table, progress, save_figure, write_csv
from structmat.explore import (
    FAMILIES,
    SUM_FAMILIES,
    alternating_projections,
    approximate,
)

FULL_SIZES = (256, 512)
QUICK_SIZES = (128,)

COLUMNS = [
    "family",
    "n",
    "budget_params",
    "nparams",
    "error",
    "family_ms",
    "svd_ms",
    "family_over_svd",
]
ITER_COLUMNS = ["family", "n", "iteration", "error", "lowrank_error"]


def bench_matrix(n: int, seed: int = 0) -> np.ndarray:
    """The benchmark matrix of order ``n`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    s = (1.0 + np.arange(n)) ** -0.6
    A = (U * s) @ V.T
    nb = 8 if n % 8 == 0 else 1
    D = scipy.linalg.block_diag(*rng.standard_normal((nb, n // nb, n // nb)))
    return A + 0.1 * np.linalg.norm(A) / np.linalg.norm(D) * D


def run(sizes, budget: float, iterations: int, repeats: int):
    rows, iter_rows = [], []
    for n in sizes:
        A = bench_matrix(n)
        for fam in progress(FAMILIES, f"n={n}"):
            try:
                res = approximate(A, budget, families=[fam])
            except ValueError:
                continue  # nothing of the family fits
            t = measure(
                {
                    "family": lambda: approximate(A, budget, families=[fam]),
                    "svd": lambda: scipy.linalg.svd(A, full_matrices=False, lapack_driver="gesdd"),
                },
                repeats=repeats,
                warmup=1,
                min_time=0.0,
            )
            rows.append(
                {
                    "family": fam,
                    "n": n,
                    "budget_params": res.budget,
                    "nparams": res.nparams,
                    "error": res.error,
                    "family_ms": 1e3 * t["family"],
                    "svd_ms": 1e3 * t["svd"],
                    "family_over_svd": t["family"] / t["svd"],
                }
            )
            if fam in SUM_FAMILIES:
                cfg = res.config
                lr = approximate(A, budget, families=["lowrank"]).error
                _, info = alternating_projections(
                    A,
                    fam.split("+")[0],
                    cfg["rank"],
                    nblocks=cfg["part"].get("nblocks"),
                    nnz=cfg["part"].get("nnz"),
                    tol=0.0,
                    maxiter=iterations,
                )
                for i, e in enumerate(info.errors):
                    iter_rows.append(
                        {"family": fam, "n": n, "iteration": i, "error": e, "lowrank_error": lr}
                    )
    return rows, iter_rows


def plot(iter_rows):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    keys = sorted({(r["family"], r["n"]) for r in iter_rows})
    for fam, n in keys:
        pts = [r for r in iter_rows if r["family"] == fam and r["n"] == n]
        ax.plot(
            [r["iteration"] for r in pts],
            [r["error"] for r in pts],
            marker="o",
            markersize=3,
            label=f"{fam}, n={n}",
        )
        ax.axhline(pts[0]["lowrank_error"], linestyle=":", color="grey", linewidth=1)
    ax.set_xlabel("iteration of the alternating projections")
    ax.set_ylabel("relative Frobenius error")
    ax.set_title("structured + low rank at equal budget (dotted: low rank alone)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks approximate", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--out", help="directory for the CSV files and the figure")
    ap.add_argument("--quick", action="store_true", help="n = 128 only, 3 repetitions")
    ap.add_argument("--sizes", type=int, nargs="+", help="matrix orders (multiples of 8)")
    ap.add_argument(
        "--budget", type=float, default=0.25, help="fraction of the dense parameters (default 0.25)"
    )
    ap.add_argument(
        "--iterations",
        type=int,
        default=15,
        help="iterations of the alternating projections in table 2 (default 15)",
    )
    ap.add_argument("--repeats", type=int, help="timed repetitions (default 5, quick 3)")
    args = ap.parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)
    if any(n < 8 or n % 8 for n in sizes):
        print("--sizes must be multiples of 8 (>= 8)", file=sys.stderr)
        return 2
    if not 0 < args.budget <= 1:
        print("--budget must be a fraction in (0, 1]", file=sys.stderr)
        return 2
    if args.iterations < 1:
        print("--iterations must be >= 1", file=sys.stderr)
        return 2
    repeats = args.repeats or (3 if args.quick else 5)
    if repeats < 1:
        print("--repeats must be >= 1", file=sys.stderr)
        return 2
    rows, iter_rows = run(sizes, args.budget, args.iterations, repeats)
    print_table(
        rows,
        COLUMNS,
        title=f"Explorer: each family's search at {100 * args.budget:g} % "
        f"of the dense parameters vs one SVD (medians of {repeats})",
    )
    last = {}
    for r in iter_rows:
        last[(r["family"], r["n"])] = r
    summary = []
    for (fam, n), r in sorted(last.items()):
        first = next(x for x in iter_rows if x["family"] == fam and x["n"] == n)
        summary.append(
            {
                "family": fam,
                "n": n,
                "start_error": first["error"],
                "final_error": r["error"],
                "iterations": r["iteration"],
                "lowrank_error": r["lowrank_error"],
            }
        )
    print_table(
        summary,
        title="Alternating projections: error at the start and after the "
        "last iteration (full curve in approximate_iterations.csv)",
    )
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        write_csv(os.path.join(args.out, "approximate.csv"), rows, COLUMNS)
        write_csv(os.path.join(args.out, "approximate_iterations.csv"), iter_rows, ITER_COLUMNS)
        if iter_rows:
            save_figure(plot(iter_rows), os.path.join(args.out, "approximate.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
