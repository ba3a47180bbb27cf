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

``--out DIR`` writes ``projection.csv`` and ``projection.png`` (relative error against wall
time: GD and ALS curves, the projection as a point), each atomically.  The machine running
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
    "family", "n", "dtype", "proj_err", "svd_err", "err_minus_svd", "cert_gap", "svd_slabs", "proj_ms", "gd_err", "gd_steps", "gd_s",
    "gd_over_proj", "gd_reach_s", "gd_reach_over_proj", "als_err", "als_steps", "als_reach_s",
    "als_reach_over_proj", "svd_ms", "svd_over_proj", "copy_ms", "proj_over_copy",
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
    return math.sqrt(disc / float(np.sum(np.abs(A.astype(np.complex128 if np.iscomplexobj(A) else np.float64)) ** 2)))


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
    _, als = structmat.fit_monarch_gd(A, nblocks, steps=steps, seed=seed, optimizer="als",
                                      time_limit=time_limit)
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


def run(families, sizes, steps: int, time_limit: float, repeats: int):
    rows, curves = [], {}
    cases = [(f, n) for n in sizes for f in families]
    for family, n in progress(cases, "projection benchmark"):
        row, cur = run_case(family, n, steps, time_limit, repeats)
        rows.append(row)
        curves[(family, n)] = cur
    return rows, curves


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
                ax.plot(t, np.maximum(h["rel_error"], 1e-9), style, color=col,
                        label=f"n={n} {'GD (Adam)' if key == 'gd' else 'ALS'}")
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
    ap = argparse.ArgumentParser(prog="python -m benchmarks projection", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", metavar="DIR", help="write projection.csv and projection.png here")
    ap.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}, fewer steps and repeats")
    ap.add_argument("--sizes", type=int, nargs="+", metavar="N", help="matrix sizes (default: 256 1024 2048 4096)")
    ap.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    ap.add_argument("--steps", type=int, help="GD / ALS steps (default 300; quick 200)")
    ap.add_argument("--time-limit", type=float, help="seconds per GD / ALS run (default 10; quick 5)")
    ap.add_argument("--repeats", type=int, help="timing repetitions (default 3)")
    args = ap.parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)
    for n in sizes:
        if n < 4 or block_size(n) < 2:
            ap.error(f"size {n} has no power-of-two block size >= 2 (use multiples of 4)")
    steps = args.steps if args.steps is not None else (200 if args.quick else 300)
    time_limit = args.time_limit if args.time_limit is not None else (5.0 if args.quick else 10.0)
    repeats = args.repeats if args.repeats is not None else 3
    rows, curves = run(args.families, sizes, steps, time_limit, repeats)
    print_table(rows, COLUMNS, title=(
        "Monarch projection vs gradient descent (Adam), ALS, batched full SVD of the slabs and "
        "one copy of A (times: medians, interleaved; *_over_* are ratios)"))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        write_csv(os.path.join(args.out, "projection.csv"), rows, COLUMNS)
        fig = figure(curves, args.families, sizes)
        save_figure(fig, os.path.join(args.out, "projection.png"))
        import matplotlib.pyplot as plt

        plt.close(fig)
        print(f"wrote {os.path.join(args.out, 'projection.csv')} and projection.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
