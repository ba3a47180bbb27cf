"""The per-call cost of small products: ``A @ x`` for one vector against the bare computation.

``python -m benchmarks overhead [--sizes N ...] [--repeats R] [--dtype D] [--out DIR]``

Iterative solvers (``scipy.sparse.linalg``'s ``gmres``, ``lsqr``, ``svds``) call ``A @ x`` for
one vector hundreds of times; at small ``n`` the checks and dispatch of each call, not the
arithmetic, decide their speed.  For each class and size (default n = 256 and 4096; ``x`` 1-D,
float64) this script times, interleaved (:func:`benchmarks.harness.measure`):

* ``structmat``: ``A @ x``;
* ``linop``: ``scipy.sparse.linalg.aslinearoperator(A).matvec(x)``, the call a SciPy solver
  makes;
* ``bare``: the same arithmetic written directly with NumPy/SciPy and no checks (Monarch: its
  two batched GEMMs; DFT, DCT: ``scipy.fft``; convolution: ``rfft``/``irfft`` with the kernel's
  spectrum computed beforehand; diagonal: ``d * x``; permutation: ``x[perm]``); for the
  Hadamard transform and a butterfly matrix, which no library computes, the dense product
  ``D @ x``, the product a user would otherwise call.

``extra_us`` is ``structmat`` minus ``bare`` in microseconds: the per-call cost of the
operator (for Hadamard and butterfly rows, negative where the fast transform beats the
dense product).  Every result is checked against ``bare``'s.  ``--out DIR`` writes
``overhead.csv`` and ``overhead.png``.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import scipy.fft
from scipy.sparse.linalg import aslinearoperator

import structmat
from benchmarks.harness import flag_ratio, measure, print_table, progress, save_figure, write_csv

PROG = "python -m benchmarks overhead"
SIZES = (256, 4096)
CLASSES = (
    "monarch",
    "dft",
    "dct",
    "convolution",
    "diagonal",
    "permutation",
    "hadamard",
    "butterfly",
)
COLUMNS = [
    "class",
    "n",
    "structmat_us",
    "linop_us",
    "bare_us",
    "bare_is",
    "extra_us",
    "structmat_over_bare",
    "flag",
    "structmat_min_us",
    "structmat_max_us",
    "max_rel_err",
]


def _monarch_bare(M):
    """``M @ x`` as the two batched GEMMs of the Monarch product, without checks."""
    k, q, p, l, s, r = M.geometry
    L, R = M.L, M.R

    def bare(x):
        U = np.matmul(R, x.reshape(k, p, 1))
        W = np.matmul(L, U.reshape(r, l, 1).transpose(1, 0, 2))
        return W.transpose(1, 0, 2).reshape(s * l)

    return bare


def build(name: str, n: int, dtype: str, rng):
    """``(A, bare, bare_is)``: the operator, the unchecked computation of ``A @ x`` for a 1-D
    ``x``, and what that computation is."""
    if name == "monarch":
        M = structmat.Monarch.random(n, seed=int(rng.integers(2**31)), dtype=dtype)
        return M, _monarch_bare(M), "two batched GEMMs"
    if name == "dft":
        return structmat.DFT(n), scipy.fft.fft, "scipy.fft.fft"
    if name == "dct":
        return structmat.DCT(n, type=2), lambda x: scipy.fft.dct(x, type=2), "scipy.fft.dct"
    if name == "convolution":
        c = rng.standard_normal(n).astype(dtype)
        spec = scipy.fft.rfft(c)
        return (
            structmat.Convolution(c),
            lambda x: scipy.fft.irfft(scipy.fft.rfft(x) * spec, n=n),
            "rfft, irfft",
        )
    if name == "diagonal":
        d = rng.standard_normal(n).astype(dtype)
        return structmat.Diagonal(d), lambda x: d * x, "d * x"
    if name == "permutation":
        perm = rng.permutation(n)
        return structmat.Permutation(perm), lambda x: x[perm], "x[perm]"
    if name == "hadamard":
        H = structmat.Hadamard(n, dtype=dtype)
        D = H.to_dense()
        return H, lambda x: D @ x, "dense D @ x"
    if name == "butterfly":
        Bf = structmat.Butterfly.random(n, seed=int(rng.integers(2**31)), dtype=dtype)
        D = Bf.to_dense()
        return Bf, lambda x: D @ x, "dense D @ x"
    raise ValueError(f"class must be one of {CLASSES}; got {name!r}")


def run(classes, sizes, dtype="float64", repeats=7, min_time=0.02, seed=0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for name, n in progress([(c, n) for c in classes for n in sizes], "overhead"):
        A, bare, what = build(name, n, dtype, rng)
        x = rng.standard_normal(n).astype(dtype)
        op = aslinearoperator(A)
        ref = bare(x)
        got = A @ x
        scale = max(float(np.max(np.abs(ref))), 1e-300)
        err = max(float(np.max(np.abs(got - ref))), float(np.max(np.abs(op.matvec(x) - ref))))
        t = measure(
            {"structmat": lambda: A @ x, "linop": lambda: op.matvec(x), "bare": lambda: bare(x)},
            repeats=repeats,
            min_time=min_time,
        )
        rows.append(
            {
                "class": name,
                "n": n,
                "structmat_us": 1e6 * t["structmat"],
                "linop_us": 1e6 * t["linop"],
                "bare_us": 1e6 * t["bare"],
                "bare_is": what,
                "extra_us": 1e6 * (t["structmat"] - t["bare"]),
                "structmat_over_bare": t["structmat"] / t["bare"],
                "flag": flag_ratio(t["structmat"], t["bare"]),
                "structmat_min_us": 1e6 * t["structmat"].lo,
                "structmat_max_us": 1e6 * t["structmat"].hi,
                "max_rel_err": err / scale,
            }
        )
    return rows


def _figure(path, rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({r["n"] for r in rows})
    names = [c for c in CLASSES if any(r["class"] == c for r in rows)]
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 3, 3.6))
    width = 0.8 / max(1, len(sizes))
    extra = {(r["class"], r["n"]): r["extra_us"] for r in rows}
    for j, n in enumerate(sizes):
        vals = [extra.get((c, n), 0.0) for c in names]
        ax.bar([i + j * width for i in range(len(names))], vals, width, label=f"n = {n}")
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))], names, rotation=30)
    ax.set(ylabel="structmat - bare (us per call)", title="Per-call cost of A @ x, one vector")
    ax.legend(fontsize=7)
    save_figure(fig, path)
    plt.close(fig)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", nargs="+", type=int, help=f"sizes n, powers of 4 (default {SIZES})")
    ap.add_argument("--classes", nargs="+", choices=CLASSES, default=list(CLASSES))
    ap.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    ap.add_argument("--repeats", type=int, default=7, help="interleaved repetitions (default 7)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="folder for overhead.csv and overhead.png")
    return ap


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    sizes = tuple(args.sizes or SIZES)
    bad = [n for n in sizes if n < 4 or n & (n - 1) or (n.bit_length() - 1) % 2]
    if bad or args.repeats < 1:
        print(
            f"--sizes must be powers of 4 (square Monarch blocks, Hadamard, butterfly) and "
            f"--repeats positive; got sizes {sizes}, repeats {args.repeats}",
            file=sys.stderr,
        )
        return 2
    rows = run(args.classes, sizes, dtype=args.dtype, repeats=args.repeats, seed=args.seed)
    print_table(
        rows,
        COLUMNS,
        title=(
            f"A @ x for one {args.dtype} vector ({os.cpu_count()} CPU cores; medians of "
            f"{args.repeats}, interleaved); extra_us = structmat - bare"
        ),
    )
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        write_csv(os.path.join(args.out, "overhead.csv"), rows, COLUMNS)
        _figure(os.path.join(args.out, "overhead.png"), rows)
        print(f"\nwrote overhead.csv and overhead.png to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
