"""Monarch projection against gradient descent, a batched full SVD and a plain copy of ``A``.

``python -m benchmarks projection [--out DIR] [--quick] [--sizes N ...] [--steps N]
[--time-limit S] [--repeats R]``

For every matrix family and size ``n`` the script projects ``A`` onto the paper's Monarch
geometry (``nblocks = (n / b, b)``, ``b`` the largest power of two ``<= sqrt(n)``: every slab of
rank 1, ``k = l = sqrt(n)`` for square ``n``) and compares, in one run:

* the projection (:func:`structmat.project_to_monarch`) — error and time;
* gradient descent (:func:`structmat.fit_monarch_gd`, Adam, default step size) and alternating
  least squares (``optimizer="als"``) from a random start: error after their steps, time, and
  the time they first get within 0.1 % (plus ``1e-6``) of the projection's error, or "never",
  and that time over the projection's;
* a batched full SVD of the same slabs (``numpy.linalg.svd`` on the stacked ``s x p`` slabs,
  gathered beforehand) and one copy of ``A`` (``A.copy()``) — the projection's time relative to
  both, and the error the SVD gives (the optimum) next to the projection's, with their
  difference ``err_minus_svd`` (float rounding when the projection is optimal), the
  certified bound ``cert_gap`` (``info.gap``: a proven bound of ``error**2 - optimum**2``) and
  the number of slabs the certificate sent to a full SVD (``svd_slabs``).

Projection, SVD and copy are timed interleaved (harness :func:`~benchmarks.harness.measure`:
warm-up, then medians of several repetitions, each timed call preceded by an untimed one so
that no candidate runs in the wake of the previous one's BLAS threads); GD and ALS are run once each (their histories
carry wall times).  Families (real ones in float32, the DFT in complex64):

``gaussian``
    i.i.d. standard normal entries.
``lowrank``
    rank 16 plus Gaussian noise at 1 % of its Frobenius norm.
``dft`` / ``dft_perm``
    the DFT matrix ``structmat.DFT(n).to_dense()``, without and with its input permutation
    ``P = Permutation.transpose_perm(n / b, b)`` (``F_n P`` is Monarch: the four-step FFT).
``heavytail``
    a synthetic heavy-tailed spectrum ``U diag(sigma) V^T`` with ``sigma_i = (i + 1)^-0.5``, the
    kind of power-law decay seen in trained weight matrices; ``U``, ``V`` random orthogonal
    (Gaussian QR).  No trained weights are available offline, so none are used.

A second table splits the projection's time at the largest size (float32 Gaussian,
``--no-split`` skips it).  The compiled slab solver does all of a slab's work in one pass while
the slab is in cache, so its stages are timed by stopping every slab after a stage (cumulative
times, interleaved with the whole projection; a stage's own time is the difference to the one
before): ``gather`` (the slab read from ``A``, its energy), ``gram`` (the Gram matrix),
``lanczos``, ``ritz`` (the small tridiagonal problem and the Ritz pair in double precision) and
``certificate`` (trace bound or Cholesky inertia test).  ``rest`` is the projection minus the
solver: start vectors, restarts and SVD fallbacks, and scattering the factors into the
Monarch matrix.

A third table compares the block tensor-train approximation
(:func:`structmat.project_to_blocktt`, the sequential truncated SVD with its proven bound)
with the two iterative baselines of :func:`structmat.fit_blocktt` started from a random member:
alternating least squares and Adam.  For every family, size (default 256 and 1024, or
``--sizes``) and configuration (3 cores of rank 1: the order-3 Monarch matrices; 3 cores of
rank 4) it reports the relative error of the truncated SVD, the proven lower bound ``max ε_k``
and upper bound ``sqrt(Σ ε_k²)`` (relative), its time, and for ALS and Adam the error after
their steps and the time they first get within 0.1 % of the truncated SVD's error (and that
time over the truncated SVD's).  ``--no-blocktt`` skips the table.

``--out DIR`` writes ``projection.csv`` and ``projection.png`` (relative error against wall
time: GD and ALS curves, the projection as a point), each atomically, and ``blocktt.csv``.  The machine running
this is usually shared; quote the ratios, measured in the same run, not absolute times.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any

import numpy as np

import structmat
from benchmarks.harness import measure, print_table, progress, save_figure, write_csv

FAMILIES = ("gaussian", "lowrank", "dft", "dft_perm", "heavytail")
FULL_SIZES = (256, 1024, 2048, 4096)
QUICK_SIZES = (256, 1024)
#: the projection counts as reached within this relative slack (plus an absolute 1e-6)
REACH_SLACK = 1e-3

COLUMNS = [
    # in order of importance: the printed table keeps what fits in 120 columns, the CSV all
    "family",
    "n",
    "dtype",
    "proj_ms",
    "copy_ms",
    "proj_over_copy",
    "svd_ms",
    "svd_over_proj",
    "err_minus_svd",
    "cert_gap",
    "svd_slabs",
    "proj_err",
    "svd_err",
    "gd_err",
    "gd_steps",
    "gd_s",
    "gd_over_proj",
    "gd_reach_s",
    "gd_reach_over_proj",
    "als_err",
    "als_steps",
    "als_reach_s",
    "als_reach_over_proj",
]


def block_size(n: int) -> int:
    """Largest power of two ``b <= sqrt(n)`` dividing ``n``."""
    b = 1
    while (2 * b) ** 2 <= n and n % (2 * b) == 0:
        b *= 2
    return b


def make_matrix(family: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """The test matrix of ``family`` at size ``n`` (float32, or complex64 for the DFT)."""
    if family == "gaussian":
        return rng.standard_normal((n, n)).astype(np.float32)
    if family == "lowrank":
        r = 16
        low = rng.standard_normal((n, r)) @ rng.standard_normal((r, n))
        noise = rng.standard_normal((n, n))
        A = low + 0.01 * np.linalg.norm(low) / np.linalg.norm(noise) * noise
        return A.astype(np.float32)
    if family in ("dft", "dft_perm"):
        F = np.asarray(structmat.DFT(n).to_dense())
        if family == "dft_perm":
            b = block_size(n)
            F = F @ np.asarray(structmat.Permutation.transpose_perm(n // b, b).to_dense())
        return F.astype(np.complex64)
    if family == "heavytail":
        U, _ = np.linalg.qr(rng.standard_normal((n, n)).astype(np.float32))
        V, _ = np.linalg.qr(rng.standard_normal((n, n)).astype(np.float32))
        sigma = (np.arange(n, dtype=np.float32) + 1) ** -0.5
        return np.ascontiguousarray((U * sigma) @ V.T, dtype=np.float32)
    raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")


def stacked_slabs(A: np.ndarray, nblocks) -> np.ndarray:
    """The ``k l`` slabs of ``A`` (rows ``d l + b``, columns ``a p + j``), stacked contiguously:
    ``(k l, s, p)``."""
    n_out, n_in = A.shape
    k, q, p, l, s, r = structmat.Monarch.geometry_for(n_in, n_out, nblocks)
    return np.ascontiguousarray(A.reshape(s, l, k, p).transpose(2, 1, 0, 3)).reshape(k * l, s, p)


def svd_error(A: np.ndarray, sv: np.ndarray) -> float:
    """Optimal relative error from the singular values of the rank-1 slabs."""
    disc = float(np.sum(sv[..., 1:].astype(np.float64) ** 2))
    return math.sqrt(
        disc
        / float(np.sum(np.abs(A.astype(np.complex128 if np.iscomplexobj(A) else np.float64)) ** 2))
    )


def reach_time(hist: dict, goal: float) -> Any:
    """Wall time at which a history first gets within the slack of ``goal``, or ``"never"``."""
    ok = np.nonzero(hist["rel_error"] <= goal * (1 + REACH_SLACK) + 1e-6)[0]
    return float(hist["time"][ok[0]]) if ok.size else "never"


def run_case(family: str, n: int, steps: int, time_limit: float, repeats: int, seed: int = 0):
    """One (family, n) row and the curves for the figure."""
    rng = np.random.default_rng(seed)
    A = make_matrix(family, n, rng)
    b = block_size(n)
    nblocks = (n // b, b)
    S = stacked_slabs(A, nblocks)
    times = measure(
        {
            "copy": lambda: A.copy(),
            "projection": lambda: structmat.project_to_monarch(A, nblocks),
            "svd": lambda: np.linalg.svd(S),
        },
        repeats=repeats,
        warmup=1,
        min_time=0.0,
        # each candidate runs once untimed before its timed call: OpenBLAS's threads keep
        # spinning for about 0.1 s after the multithreaded SVD and would otherwise take a core
        # from whatever is timed next
        settle=0.15,
    )
    M, info = structmat.project_to_monarch(A, nblocks, return_info=True)
    proj_err = structmat.projection_error(A, M)
    sv_err = svd_error(A, np.linalg.svd(S, compute_uv=False))
    _, gd = structmat.fit_monarch_gd(A, nblocks, steps=steps, seed=seed, time_limit=time_limit)
    _, als = structmat.fit_monarch_gd(
        A, nblocks, steps=steps, seed=seed, optimizer="als", time_limit=time_limit
    )
    gd_s = float(gd["time"][-1])
    tp = times["projection"]

    def over(t):
        return t / tp if isinstance(t, float) else t

    row = {
        "family": family,
        "n": n,
        "dtype": str(A.dtype),
        "proj_err": proj_err,
        "svd_err": sv_err,
        "err_minus_svd": proj_err - sv_err,
        "cert_gap": info.gap,
        "svd_slabs": int(info.solvers.get("svd", 0)),
        "proj_ms": 1e3 * times["projection"],
        "gd_err": float(gd["rel_error"][-1]),
        "gd_steps": int(gd["step"][-1]),
        "gd_s": gd_s,
        "gd_over_proj": gd_s / tp,
        "gd_reach_s": reach_time(gd, proj_err),
        "gd_reach_over_proj": over(reach_time(gd, proj_err)),
        "als_err": float(als["rel_error"][-1]),
        "als_steps": int(als["step"][-1]),
        "als_reach_s": reach_time(als, proj_err),
        "als_reach_over_proj": over(reach_time(als, proj_err)),
        "svd_ms": 1e3 * times["svd"],
        "svd_over_proj": times["svd"] / times["projection"],
        "copy_ms": 1e3 * times["copy"],
        "proj_over_copy": times["projection"] / times["copy"],
    }
    curves = {"gd": gd, "als": als, "proj": (times["projection"], proj_err)}
    return row, curves


SPLIT_COLUMNS = ["stage", "cumulative_ms", "stage_ms", "share", "over_copy"]


def run_split(n: int, repeats: int, seed: int = 0) -> list[dict]:
    """The time split of one float32 Gaussian projection at size ``n`` (rows of
    :data:`SPLIT_COLUMNS`); empty when the compiled solver does not run here."""
    from structmat.geometry import monarch_geometry, slab_view
    from structmat.projection import _jit, fused
    from structmat.projection.certificate import _Margins
    from structmat.projection.kernel import _unit_starts
    from structmat.projection.options import _lanczos_steps

    A = make_matrix("gaussian", n, np.random.default_rng(seed))
    if not fused.available(A.dtype):
        return []
    b = block_size(n)
    geometry = monarch_geometry(n, n, (n // b, b), warn=False)
    k, q, p, l, s, r = geometry
    if min(s, p) < 2:
        return []
    S5 = slab_view(np, A[None], geometry)
    right = p <= s
    m = p if right else s
    mg = _Margins(float(np.finfo(A.dtype).eps), s, p, eps_ritz=2.0**-52)
    zs = np.arange(k * l)
    steps = min(m, _lanczos_steps(np, A.dtype))
    starts = _unit_starts(np.random.default_rng(seed), zs.size, m, A.dtype)
    cands = {"copy": lambda: A.copy(), "projection": lambda: structmat.project_to_monarch(A)}
    for stage in _jit.STAGES:
        cands[stage] = lambda stage=stage: fused.solve_rank1(
            S5, zs, right, steps, mg, starts, _stop_after=stage
        )
    times = measure(cands, repeats=repeats, warmup=1, min_time=0.0, settle=0.05)
    total = float(times["projection"])
    rows, prev = [], 0.0
    for stage in list(_jit.STAGES) + ["rest"]:
        cum = float(times[stage]) if stage != "rest" else total
        own = cum - prev
        rows.append(
            {
                "stage": stage,
                "cumulative_ms": 1e3 * cum,
                "stage_ms": 1e3 * own,
                "share": own / total,
                "over_copy": own / float(times["copy"]),
            }
        )
        prev = cum
    rows.append(
        {
            "stage": "total",
            "cumulative_ms": 1e3 * total,
            "stage_ms": 1e3 * total,
            "share": 1.0,
            "over_copy": total / float(times["copy"]),
        }
    )
    return rows


def run(families, sizes, steps: int, time_limit: float, repeats: int):
    rows, curves = [], {}
    cases = [(f, n) for n in sizes for f in families]
    for family, n in progress(cases, "projection benchmark"):
        row, cur = run_case(family, n, steps, time_limit, repeats)
        rows.append(row)
        curves[(family, n)] = cur
    return rows, curves


BTT_SIZES = (256, 1024)
#: (cores, ranks) of the block tensor-train table
BTT_CONFIGS = ((3, 1), (3, 4))
BTT_COLUMNS = [
    "family",
    "n",
    "cores",
    "ranks",
    "sizes",
    "tt_err",
    "lower_bound",
    "upper_bound",
    "tt_ms",
    "als_err",
    "als_steps",
    "als_reach_s",
    "als_reach_over_tt",
    "adam_err",
    "adam_steps",
    "adam_reach_s",
    "adam_reach_over_tt",
]


def run_blocktt_case(
    family: str,
    n: int,
    cores: int,
    ranks: int,
    steps: int,
    time_limit: float,
    repeats: int,
    seed: int = 0,
) -> dict:
    """One row of the block tensor-train table (see the module docstring)."""
    rng = np.random.default_rng(seed)
    A = make_matrix(family, n, rng)
    t = measure(
        {"tt": lambda: structmat.project_to_blocktt(A, cores=cores, ranks=ranks)},
        repeats=repeats,
        warmup=1,
        min_time=0.0,
    )["tt"]
    B, info = structmat.project_to_blocktt(A, cores=cores, ranks=ranks, return_info=True)
    norm = info.norm or 1.0
    start = structmat.BlockTT.random(
        B.in_sizes,
        B.out_sizes,
        ranks=B.ranks,
        seed=seed,
        dtype="complex128" if np.iscomplexobj(A) else "float64",
    )
    _, als = structmat.fit_blocktt(A, start, steps=steps, optimizer="als", time_limit=time_limit)
    _, adam = structmat.fit_blocktt(A, start, steps=steps, optimizer="adam", time_limit=time_limit)
    goal = info.rel_error

    def over(x):
        return x / t if isinstance(x, float) else x

    return {
        "family": family,
        "n": n,
        "cores": cores,
        "ranks": ranks,
        "sizes": "x".join(str(b) for b in B.in_sizes),
        "tt_err": info.rel_error,
        "lower_bound": info.lower_bound / norm,
        "upper_bound": info.bound / norm,
        "tt_ms": 1e3 * t,
        "als_err": float(als["rel_error"][-1]),
        "als_steps": int(als["step"][-1]),
        "als_reach_s": reach_time(als, goal),
        "als_reach_over_tt": over(reach_time(als, goal)),
        "adam_err": float(adam["rel_error"][-1]),
        "adam_steps": int(adam["step"][-1]),
        "adam_reach_s": reach_time(adam, goal),
        "adam_reach_over_tt": over(reach_time(adam, goal)),
    }


def run_blocktt(
    families, sizes, steps: int, time_limit: float, repeats: int, configs=BTT_CONFIGS
) -> list[dict]:
    """Every (family, n, configuration) row of the block tensor-train table."""
    cases = [(f, n, c, r) for n in sizes for f in families for c, r in configs]
    return [
        run_blocktt_case(f, n, c, r, steps, time_limit, repeats)
        for f, n, c, r in progress(cases, "block tensor-train benchmark")
    ]


def figure(curves, families, sizes):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(families), figsize=(4.2 * len(families), 3.6), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, fam in zip(axes[0], families):
        for ci, n in enumerate(sizes):
            if (fam, n) not in curves:
                continue
            cur = curves[(fam, n)]
            col = colors[ci % len(colors)]
            for key, style in (("gd", "-"), ("als", ":")):
                h = cur[key]
                t = np.maximum(h["time"], 1e-4)
                ax.plot(
                    t,
                    np.maximum(h["rel_error"], 1e-9),
                    style,
                    color=col,
                    label=f"n={n} {'GD (Adam)' if key == 'gd' else 'ALS'}",
                )
            tp, ep = cur["proj"]
            ax.plot([tp], [max(ep, 1e-9)], "o", color=col, label=f"n={n} projection")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(fam)
        ax.set_xlabel("wall time (s)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("relative error ||A - M||_F / ||A||_F")
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks projection", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--out", metavar="DIR", help="write projection.csv and projection.png here")
    ap.add_argument(
        "--quick", action="store_true", help=f"sizes {QUICK_SIZES}, fewer steps and repeats"
    )
    ap.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        metavar="N",
        help="matrix sizes (default: 256 1024 2048 4096)",
    )
    ap.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    ap.add_argument("--steps", type=int, help="GD / ALS steps (default 300; quick 200)")
    ap.add_argument(
        "--time-limit", type=float, help="seconds per GD / ALS run (default 10; quick 5)"
    )
    ap.add_argument("--repeats", type=int, help="timing repetitions (default 3)")
    ap.add_argument("--no-split", action="store_true", help="skip the time split of the projection")
    ap.add_argument(
        "--no-blocktt",
        action="store_true",
        help="skip the block tensor-train table (truncated SVD vs ALS and Adam)",
    )
    args = ap.parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)
    for n in sizes:
        if n < 4 or block_size(n) < 2:
            ap.error(f"size {n} has no power-of-two block size >= 2 (use multiples of 4)")
    steps = args.steps if args.steps is not None else (200 if args.quick else 300)
    time_limit = args.time_limit if args.time_limit is not None else (5.0 if args.quick else 10.0)
    repeats = args.repeats if args.repeats is not None else 3
    rows, curves = run(args.families, sizes, steps, time_limit, repeats)
    print_table(
        rows,
        COLUMNS,
        title=(
            "Monarch projection vs gradient descent (Adam), ALS, batched full SVD of the slabs and "
            "one copy of A (times: medians, interleaved; *_over_* are ratios)"
        ),
    )
    split_rows = []
    if not args.no_split:
        n_split = max(sizes)
        split_rows = run_split(n_split, max(repeats, 5))
        if split_rows:
            print_table(
                split_rows,
                SPLIT_COLUMNS,
                title=(
                    f"Time split of the projection, n = {n_split} float32 Gaussian (stages timed "
                    "by stopping the compiled solver after each; medians, interleaved)"
                ),
            )
    btt_rows = []
    if not args.no_blocktt:
        btt_rows = run_blocktt(args.families, args.sizes or BTT_SIZES, steps, time_limit, repeats)
        print_table(
            btt_rows,
            BTT_COLUMNS,
            title=(
                "Block tensor-train: sequential truncated SVD (proven bounds, relative) vs ALS and "
                "Adam from a random start (reach: first time within 0.1 % of the truncated SVD)"
            ),
        )
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        write_csv(os.path.join(args.out, "projection.csv"), rows, COLUMNS)
        if btt_rows:
            write_csv(os.path.join(args.out, "blocktt.csv"), btt_rows, BTT_COLUMNS)
        if split_rows:
            write_csv(os.path.join(args.out, "split.csv"), split_rows, SPLIT_COLUMNS)
        fig = figure(curves, args.families, sizes)
        save_figure(fig, os.path.join(args.out, "projection.png"))
        import matplotlib.pyplot as plt

        plt.close(fig)
        print(
            f"wrote {os.path.join(args.out, 'projection.csv')} and projection.png", file=sys.stderr
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
