"""Fast transforms: structmat's fast path against SciPy / dense, and the Monarch form.

``python -m benchmarks transforms [--out DIR] [--quick] [--dtype D] [--backend numpy|cupy]``

For the DFT, the type-2 DCT, the Hadamard transform, circular convolution and a butterfly
matrix, ``T @ X`` is timed
interleaved with

* the library baseline: ``scipy.fft.fft`` / ``scipy.fft.dct`` / a circular convolution written
  with ``scipy.fft.rfft``/``irfft`` (``cupyx.scipy.fft`` on CuPy); SciPy has no Walsh–Hadamard
  transform, so the Hadamard row has no library baseline; a random butterfly matrix
  (Dao et al., ICML 2019) has none either;
* the dense product ``D @ X`` with the materialised matrix (n <= 4096);
* when ``structmat.to_monarch`` exists, the Monarch-form product ``to_monarch(T) @ X``: the
  transform computed as block-diagonal GEMMs, permutations and diagonals.  For the DFT this is
  the honest cost of an FFT done as two batched GEMMs on this machine.

Each case also records the largest deviation of ``T @ X`` (and of the Monarch form) from the
baseline relative to the baseline's largest entry, so every timing is of a correct result.
``--out DIR`` writes ``transforms.csv`` and ``transforms.png``.

A second table judges the speed targets on the medians of the same run (a ratio flagged
unstable is not judged):

* ``butterfly_speedup``: a random butterfly matrix at n = 4096, batch 256: ``D @ X`` over
  ``B @ X``, target >= 10 (its ``flop_ratio``, dense FLOPs over the butterfly's, is printed
  beside it);
* ``real_dft``: ``DFT(n) @ X`` on real ``X`` over ``scipy.fft.fft(X, axis=0)``, every ``n``
  and batch of the run, target <= 1.2.  ``extra_us`` is the difference in microseconds: for
  one short column it is the per-call cost of the operator (argument checks, dtype and
  backend dispatch), a few microseconds, not a difference in the transform's work.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import structmat
from benchmarks.harness import flag_ratio, measure, print_table, progress, save_figure, write_csv
from benchmarks.multiply import _backend

FULL_SIZES = (256, 1024, 4096)
FULL_BATCHES = (1, 64, 256, 1024)
QUICK_SIZES = (256, 1024)
QUICK_BATCHES = (1, 64)
TRANSFORMS = ("dft", "dct", "hadamard", "convolution", "butterfly")
#: Largest n with a dense baseline.
DENSE_MAX = 4096

COLUMNS = [
    "transform",
    "n",
    "batch",
    "structmat_ms",
    "library_ms",
    "dense_ms",
    "structmat_over_library",
    "dense_over_structmat",
    "flag",
    "monarch_form_ms",
    "monarch_form_over_library",
    "monarch_form_over_dense",
    "structmat_err",
    "monarch_form_err",
    "structmat_min_ms",
    "structmat_max_ms",
    "flop_ratio",
]


def _fft_lib(xp):
    if xp is np:
        import scipy.fft

        return scipy.fft
    import cupyx.scipy.fft  # pragma: no cover - GPU only

    return cupyx.scipy.fft  # pragma: no cover


def build(name: str, n: int, dtype: str, xp, rng):
    """``(T, library_fn or None)`` for transform ``name`` of size ``n``.

    ``library_fn(X)`` computes ``T @ X`` with SciPy's (or CuPy's) FFT routines.
    """
    fft = _fft_lib(xp)
    cdtype = "complex64" if dtype in ("float32", "complex64") else "complex128"
    if name == "dft":
        return structmat.DFT(n, dtype=cdtype), lambda X: fft.fft(X, axis=0)
    if name == "dct":
        return structmat.DCT(n, type=2, dtype=dtype), lambda X: fft.dct(X, type=2, axis=0)
    if name == "hadamard":
        return structmat.Hadamard(n, dtype=dtype), None
    if name == "butterfly":
        # no library has butterfly matrices: the dense product is the baseline
        return structmat.Butterfly.random(
            n, seed=int(rng.integers(2**31)), dtype=dtype, xp=xp
        ), None
    if name == "convolution":
        kernel = rng.standard_normal(n).astype(dtype)
        spec = fft.rfft(xp.asarray(kernel))[:, None]
        T = structmat.Convolution(xp.asarray(kernel))
        return T, lambda X: fft.irfft(fft.rfft(X, axis=0) * spec, n=n, axis=0)
    raise ValueError(f"transform must be one of {TRANSFORMS}; got {name!r}")


def monarch_form(T):
    """``structmat.to_monarch(T)``, or ``None`` when it is unavailable for ``T``."""
    to_monarch = getattr(structmat, "to_monarch", None)
    if to_monarch is None:
        return None
    try:
        return to_monarch(T)
    except (ValueError, NotImplementedError, TypeError):
        return None


def _err(xp, actual, expected) -> float:
    scale = float(xp.max(xp.abs(expected)))
    return float(xp.max(xp.abs(actual - expected))) / max(scale, 1e-300)


def run(
    transforms,
    sizes,
    batches,
    dtype="float32",
    backend="numpy",
    repeats=5,
    min_time=0.05,
    settle=0.1,
    seed=0,
):
    xp, sync = _backend(backend)
    rng = np.random.default_rng(seed)
    rows = []
    cases = [(t, n) for t in transforms for n in sizes]
    for name, n in progress(cases, "transforms"):
        T, lib = build(name, n, dtype, xp, rng)
        D = T.to_dense(xp) if n <= DENSE_MAX else None
        P = monarch_form(T)
        if P is not None and P.xp is not None and P.xp is not xp:
            P = P.to_backend(xp)
        for nb in batches:
            X = xp.asarray(rng.standard_normal((n, nb)).astype(dtype))
            fns = {"structmat": lambda: T @ X}
            if lib is not None:
                fns["library"] = lambda: lib(X)
            if D is not None:
                fns["dense"] = lambda: D @ X
            if P is not None:
                fns["monarch_form"] = lambda: P @ X
            t = measure(fns, repeats=repeats, warmup=1, min_time=min_time, sync=sync, settle=settle)
            ref = lib(X) if lib is not None else D @ X if D is not None else None
            row = {
                "transform": name,
                "n": n,
                "batch": nb,
                "structmat_ms": t["structmat"] * 1e3,
                "structmat_min_ms": t["structmat"].lo * 1e3,
                "structmat_max_ms": t["structmat"].hi * 1e3,
            }
            # a ratio is only as good as the noisier of its two sides; ``unstable_vs`` (not a
            # column) names the baselines whose ratio to structmat is flagged
            row["unstable_vs"] = [
                k for k in t if k != "structmat" and flag_ratio(t["structmat"], t[k])
            ]
            row["flag"] = "unstable" if row["unstable_vs"] else ""
            if ref is not None:
                row["structmat_err"] = _err(xp, T @ X, ref)
            if "library" in t:
                row["library_ms"] = t["library"] * 1e3
                row["structmat_over_library"] = t["structmat"] / t["library"]
            if "dense" in t:
                row["dense_ms"] = t["dense"] * 1e3
                row["dense_over_structmat"] = t["dense"] / t["structmat"]
                flops = getattr(T, "flops", None)
                if name == "butterfly" and flops is not None:
                    row["flop_ratio"] = 2.0 * n * n * nb / flops(nb)
            if "monarch_form" in t:
                row["monarch_form_ms"] = t["monarch_form"] * 1e3
                if "library" in t:
                    row["monarch_form_over_library"] = t["monarch_form"] / t["library"]
                if "dense" in t:
                    row["monarch_form_over_dense"] = t["monarch_form"] / t["dense"]
                if ref is not None:
                    row["monarch_form_err"] = _err(xp, P @ X, ref)
            rows.append(row)
    return rows


#: (n, batch) of the butterfly target
BUTTERFLY_CASE = (4096, 256)
TARGET_COLUMNS = ["target", "n", "batch", "measured", "goal", "verdict", "flop_ratio", "extra_us"]


def verdicts(rows: list[dict]) -> list[dict]:
    """The speed targets judged on the rows of :func:`run` (see the module docstring): one
    row per judged case with the measured ratio, the goal and ``holds``, ``missed`` or
    ``unstable: not judged``."""
    out = []
    for r in rows:
        if r["transform"] == "butterfly" and (r["n"], r["batch"]) == BUTTERFLY_CASE:
            key, goal, ok, side = "dense_over_structmat", ">= 10", lambda v: v >= 10, "dense"
            name = "butterfly_speedup"
        elif r["transform"] == "dft":
            key, goal, ok, side = "structmat_over_library", "<= 1.2", lambda v: v <= 1.2, "library"
            name = "real_dft"
        else:
            continue
        unstable = side in r.get("unstable_vs", [side] if r.get("flag") else [])
        v = r.get(key)
        if not isinstance(v, float):
            continue
        row = {
            "target": name,
            "n": r["n"],
            "batch": r["batch"],
            "measured": round(v, 3),
            "goal": goal,
            "verdict": "unstable: not judged" if unstable else ("holds" if ok(v) else "missed"),
        }
        if "flop_ratio" in r:
            row["flop_ratio"] = round(r["flop_ratio"], 1)
        if name == "real_dft":
            row["extra_us"] = round(1e3 * (r["structmat_ms"] - r["library_ms"]), 1)
        out.append(row)
    return out


def _figure(out, rows, backend):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [t for t in TRANSFORMS if any(r["transform"] == t for r in rows)]
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        sub = [r for r in rows if r["transform"] == name]
        for nb in sorted({r["batch"] for r in sub}):
            pts = [r for r in sub if r["batch"] == nb]
            xs = [r["n"] for r in pts]
            ax.plot(xs, [r["structmat_ms"] for r in pts], "o-", label=f"structmat B={nb}")
            if all("library_ms" in r for r in pts):
                ax.plot(xs, [r["library_ms"] for r in pts], "s--", label=f"scipy B={nb}")
            if all("monarch_form_ms" in r for r in pts):
                ax.plot(xs, [r["monarch_form_ms"] for r in pts], "^:", label=f"Monarch form B={nb}")
            dense = [r for r in pts if "dense_ms" in r]
            if dense:
                ax.plot(
                    [r["n"] for r in dense],
                    [r["dense_ms"] for r in dense],
                    "x-.",
                    label=f"dense B={nb}",
                )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("n")
        ax.set_ylabel("median time (ms)")
        ax.set_title(f"{name} ({backend})")
        ax.legend(fontsize=6)
    save_figure(fig, os.path.join(out, "transforms.png"))
    plt.close(fig)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks transforms", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--out", help="folder for transforms.csv and transforms.png")
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"n in {QUICK_SIZES}, batch in {QUICK_BATCHES}, fewer repetitions",
    )
    ap.add_argument(
        "--dtype",
        default="float32",
        choices=("float32", "float64"),
        help="dtype of X (the DFT result is the matching complex dtype)",
    )
    ap.add_argument("--backend", default="numpy", choices=("numpy", "cupy"))
    ap.add_argument("--transforms", nargs="+", choices=TRANSFORMS, default=list(TRANSFORMS))
    ap.add_argument(
        "--sizes", nargs="+", type=int, help=f"sizes n, powers of 2 (default {FULL_SIZES})"
    )
    ap.add_argument("--batches", nargs="+", type=int, help=f"batch sizes (default {FULL_BATCHES})")
    ap.add_argument("--repeats", type=int, help="interleaved repetitions (default 7; --quick: 3)")
    ap.add_argument(
        "--settle",
        type=float,
        default=0.1,
        help="seconds each candidate runs untimed before its timed calls (default 0.1)",
    )
    ap.add_argument("--seed", type=int, default=0)
    return ap


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    sizes = tuple(args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES))
    batches = tuple(args.batches or (QUICK_BATCHES if args.quick else FULL_BATCHES))
    bad = [n for n in sizes if n < 2 or n & (n - 1)]
    if bad or any(b < 1 for b in batches):
        print(
            f"--sizes must be powers of 2 >= 2 (Hadamard) and --batches positive; got "
            f"sizes {sizes}, batches {batches}",
            file=sys.stderr,
        )
        return 2
    repeats = args.repeats or (3 if args.quick else 7)
    try:
        rows = run(
            args.transforms,
            sizes,
            batches,
            dtype=args.dtype,
            backend=args.backend,
            repeats=repeats,
            min_time=0.02 if args.quick else 0.05,
            settle=max(0.0, args.settle),
            seed=args.seed,
        )
    except RuntimeError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    have = (
        "available"
        if hasattr(structmat, "to_monarch")
        else "not available (no Monarch-form column)"
    )
    print_table(
        rows,
        COLUMNS,
        title=(
            f"Transforms, X {args.dtype} ({args.backend}, {os.cpu_count()} CPU cores; medians of "
            f"{repeats}; to_monarch {have}); *_over_* are time ratios, err is max|T@X - ref|/max|ref|"
        ),
    )
    targets = verdicts(rows)
    if targets:
        print_table(
            targets,
            TARGET_COLUMNS,
            title=(
                "Speed targets (medians of the run above; extra_us: structmat's time minus "
                "SciPy's per call)"
            ),
        )
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        write_csv(os.path.join(args.out, "transforms.csv"), rows, COLUMNS)
        names = "transforms.csv"
        if targets:
            write_csv(os.path.join(args.out, "transforms_targets.csv"), targets, TARGET_COLUMNS)
            names += ", transforms_targets.csv"
        _figure(args.out, rows, args.backend)
        print(f"\nwrote {names} and transforms.png to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
