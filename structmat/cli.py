"""The ``structmat`` command line.

``structmat prove``
    Exact verification of the Monarch expressivity claims (the ``proofs`` runner; same flags
    as ``python -m proofs``; ``--n 768`` checks named sizes).
``structmat verify KIND N``
    Build one transform's exact Monarch form (``to_monarch(X, exact=True)``) and prove it equal
    to the transform with :func:`structmat.exact.verify`; prints the verdict, the field and the
    time (``structmat verify dft 1024``, ``structmat verify dct 12 --type 2``).
``structmat tour``
    Every structured class at a few sizes: shape, parameter count, error of ``A @ X`` against
    the dense matrix, and the time of ``A @ X`` against dense ``to_dense() @ X`` (same run).
``structmat compress IN OUT --budget 0.25 [--families ...] [--scheduler local|ADDRESS]``
    The best structured approximation of every matrix of a ``.safetensors`` or ``.npz``
    checkpoint (:func:`structmat.explore.compress`): factors, report and frontier plot in the
    directory OUT; a re-run resumes; ``--scheduler`` runs the matrices on Dask distributed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

__all__ = ["main", "tour", "verify_one", "compress_main"]


def _median_time(fn, repeats: int = 5) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _tour_cases(quick: bool):
    """An example of every registered class (:mod:`structmat.registry`) at a few sizes, then
    two rectangular cases."""
    from . import Convolution, Monarch
    from .registry import classes

    rng = np.random.default_rng(0)
    sizes = [64, 1024] if quick else [64, 1024, 4096]
    for n in sizes:
        for seed, info in enumerate(classes()):
            if info.example is not None:
                yield info.example(n, seed)
    yield Monarch.random(1536, 384, seed=3)
    yield Convolution(rng.standard_normal(31), n=1000, mode="full")


def tour(batch: int = 64, quick: bool = False, file=None) -> list[dict]:
    """Print one line per structured matrix: shape, parameters, error and speed vs dense.

    Returns the rows as dictionaries.

    Examples
    --------
    >>> rows = tour(batch=4, quick=True, file=open("/dev/null", "w"))
    >>> all(r["rel_error"] < 1e-10 for r in rows)
    True
    """
    file = file or sys.stdout
    rng = np.random.default_rng(7)
    rows = []
    header = (
        f"{'class':<13}{'shape':>13}{'params':>10}{'rel. error':>12}"
        f"{'A@X (ms)':>11}{'dense (ms)':>12}{'speed-up':>10}"
    )
    print(
        f"structmat tour: A @ X with X of {batch} columns, float64 (complex where the class is)",
        file=file,
    )
    print(header, file=file)
    print("-" * len(header), file=file)
    for A in _tour_cases(quick):
        X = rng.standard_normal((A.shape[1], batch))
        D = A.to_dense()
        Y = A @ X
        Yd = D @ X
        err = float(np.linalg.norm(Y - Yd)) / max(float(np.linalg.norm(Yd)), 1e-300)
        t_s = _median_time(lambda A=A, X=X: A @ X)
        t_d = _median_time(lambda D=D, X=X: D @ X)
        row = {
            "class": type(A).__name__,
            "shape": f"{A.shape[0]}x{A.shape[1]}",
            "nparams": A.nparams,
            "rel_error": err,
            "time_structured": t_s,
            "time_dense": t_d,
        }
        rows.append(row)
        print(
            f"{row['class']:<13}{row['shape']:>13}{row['nparams']:>10}{err:>12.1e}"
            f"{t_s * 1e3:>11.3f}{t_d * 1e3:>12.3f}{t_d / t_s:>9.1f}x",
            file=file,
        )
    return rows


def _prove(argv) -> int:
    try:
        from proofs.__main__ import main as proofs_main
    except ImportError as exc:  # pragma: no cover - installation problem
        print(f"structmat prove: the proofs package is not importable ({exc})", file=sys.stderr)
        return 2
    return int(proofs_main(argv) or 0)


_KINDS = ("dft", "idft", "hadamard", "dct", "dst", "convolution", "butterfly")


def _transform(kind: str, n: int, type_: int, norm, seed: int):
    from . import DCT, DFT, DST, Butterfly, Convolution, Hadamard

    if kind == "dft":
        return DFT(n, norm=norm)
    if kind == "idft":
        return DFT(n, inverse=True, norm=norm)
    if kind == "hadamard":
        return Hadamard(n, norm=norm)
    if kind in ("dct", "dst"):
        return (DCT if kind == "dct" else DST)(n, type=type_, norm=norm)
    if kind == "convolution":
        return Convolution(np.random.default_rng(seed).standard_normal(n))
    return Butterfly.random(n, seed=seed)


def verify_one(
    kind: str,
    n: int,
    *,
    type: int = 2,
    norm=None,
    nblocks=None,
    symbolic: bool = False,
    seed: int = 0,
    file=None,
) -> bool:
    """Prove ``to_monarch(X, exact=True) == X`` exactly for one transform and print the verdict.

    Parameters
    ----------
    kind : {"dft", "idft", "hadamard", "dct", "dst", "convolution", "butterfly"}
    n : int
        Size of the transform.
    type : int
        DCT/DST type (2, 3 or 4).
    norm : str, optional
        The transform's ``norm`` (e.g. ``"ortho"``).
    nblocks : int, optional
        The split passed to ``to_monarch``.
    symbolic : bool
        Convolution kernel / butterfly twiddles as free symbols (``exact="symbolic"``) instead of
        the exact values of a random float kernel.
    seed : int
        Seed of the random kernel or twiddles.

    Returns
    -------
    bool
        The verdict.

    Examples
    --------
    >>> import io
    >>> buf = io.StringIO()
    >>> verify_one("dft", 12, file=buf)
    True
    >>> buf.getvalue().splitlines()[-1].startswith("verified: MP == DFT(12) exactly over Q(zeta_12)")
    True
    """
    from .exact import verify
    from .monarch_form import monarch_width, to_monarch

    file = file or sys.stdout
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)}; got {kind!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    X = _transform(kind, n, type, norm, seed)
    t0 = time.perf_counter()
    form = to_monarch(X, nblocks, exact="symbolic" if symbolic else True)
    t_build = time.perf_counter() - t0
    mw = monarch_width(form)
    print(
        f"to_monarch({type_name(X)}, exact={'symbolic' if symbolic else True}): form {form.form}, "
        f"{mw.monarch_factors} Monarch factor(s), width {mw.width}; built in {t_build:.3g} s",
        file=file,
    )
    res = verify(form, X)
    print(str(res), file=file)
    return bool(res)


def type_name(X) -> str:
    n = getattr(X, "n", None)
    extra = ""
    if hasattr(X, "type"):
        extra = f", type={X.type}"
    return f"{type(X).__name__}({n}{extra})"


def _verify_cmd(argv) -> int:
    p = argparse.ArgumentParser(
        prog="structmat verify",
        description="prove one transform's exact Monarch form (to_monarch(X, exact=True)) "
        "equal to the transform, exactly",
    )
    p.add_argument("kind", choices=_KINDS)
    p.add_argument("n", type=int)
    p.add_argument(
        "--type", type=int, default=2, choices=(2, 3, 4), help="DCT/DST type (default 2)"
    )
    p.add_argument("--norm", default=None, help="the transform's norm (e.g. ortho)")
    p.add_argument("--nblocks", type=int, default=None, help="the split n = k·p (k R blocks)")
    p.add_argument(
        "--symbolic",
        action="store_true",
        help="convolution kernel / butterfly twiddles as symbols (default: a random float kernel read exactly)",
    )
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        ok = verify_one(
            args.kind,
            args.n,
            type=args.type,
            norm=args.norm,
            nblocks=args.nblocks,
            symbolic=args.symbolic,
            seed=args.seed,
        )
    except (ValueError, TypeError) as exc:
        print(f"structmat verify: error: {exc}", file=sys.stderr)
        return 2
    return 0 if ok else 1


def _budget_arg(text: str):
    """A budget on the command line: an integer count, or a fraction such as ``0.25`` / ``25%``."""
    t = text.strip()
    try:
        if t.endswith("%"):
            return float(t[:-1]) / 100.0
        if any(c in t for c in ".eE"):
            return float(t)
        return int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a parameter count (int) or a fraction (0.25 or 25%); got {text!r}"
        ) from None


def compress_main(argv) -> int:
    """``structmat compress``: see :func:`structmat.explore.compress`.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> np.savez(os.path.join(d, "ck.npz"), w=np.random.default_rng(0).standard_normal((8, 8)))
    >>> compress_main([os.path.join(d, "ck.npz"), os.path.join(d, "out"), "--budget", "50%",
    ...                "--families", "lowrank", "sparse", "--quiet"])
    0
    """
    from .explore import FAMILIES

    p = argparse.ArgumentParser(
        prog="structmat compress",
        description="Best structured approximation of every 2-D floating-point tensor of a "
        ".safetensors or .npz checkpoint; factors (loadable by structmat.load), "
        "report.csv, summary.txt and frontier.png go to the directory OUT. "
        "Re-running with the same settings resumes.",
    )
    p.add_argument("src", metavar="IN", help="checkpoint (.safetensors or .npz)")
    p.add_argument("out", metavar="OUT", help="output directory")
    p.add_argument(
        "--budget",
        type=_budget_arg,
        default=0.25,
        help="per matrix: a fraction of its size (0.25, 25%%) or a parameter count (default 0.25)",
    )
    p.add_argument(
        "--families",
        nargs="+",
        choices=FAMILIES,
        metavar="FAMILY",
        help="families to try (default: all): " + ", ".join(FAMILIES),
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help="'local' (a 2-worker Dask LocalCluster) or a Dask scheduler address "
        "such as tcp://host:8786 (default: serial)",
    )
    p.add_argument(
        "--dtype",
        choices=["float32", "float64", "complex64", "complex128"],
        help="computation and output dtype (default: each tensor's)",
    )
    p.add_argument(
        "--frontier",
        type=_budget_arg,
        nargs="*",
        default=[],
        help="further budgets evaluated for the frontier plot",
    )
    p.add_argument(
        "--min-size", type=int, default=2, help="skip matrices with a side below this (default 2)"
    )
    p.add_argument(
        "--exhaustive",
        action="store_true",
        help="try every Monarch geometry, tiling and Kronecker factor shape",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace a previous run with other settings in OUT"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    args = p.parse_args(argv)
    from .explore import compress

    try:
        res = compress(
            args.src,
            args.out,
            args.budget,
            args.families,
            dtype=args.dtype,
            scheduler=args.scheduler,
            frontier_budgets=args.frontier,
            min_size=args.min_size,
            overwrite=args.overwrite,
            progress=not args.quiet,
            exhaustive=args.exhaustive,
        )
    except (ValueError, TypeError, FileExistsError, FileNotFoundError) as exc:
        print(f"structmat compress: error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(res["summary"])
        print(
            f"resumed {len(res['resumed'])}, computed {len(res['computed'])}; "
            f"report in {res['out']}"
        )
    return 0


def main(argv=None) -> int:
    """Entry point of the ``structmat`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="structmat", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    p_tour = sub.add_parser("tour", help="every class: shape, parameters, error and speed vs dense")
    p_tour.add_argument("--batch", type=int, default=64, help="number of columns of X (default 64)")
    p_tour.add_argument("--quick", action="store_true", help="small sizes only")
    sub.add_parser(
        "prove",
        help="exact verification of the expressivity claims (see python -m proofs -h)",
        add_help=False,
    )
    sub.add_parser(
        "verify",
        help="prove one transform's to_monarch(X, exact=True) form exactly "
        "(structmat verify dft 1024)",
        add_help=False,
    )
    sub.add_parser(
        "compress",
        help="best structured approximation of every matrix of a "
        "checkpoint (structmat compress IN OUT --budget 0.25)",
        add_help=False,
    )
    if argv and argv[0] == "prove":
        return _prove(argv[1:])
    if argv and argv[0] == "verify":
        return _verify_cmd(argv[1:])
    if argv and argv[0] == "compress":
        return compress_main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "tour":
        if args.batch < 1:
            parser.error("--batch must be >= 1")
        tour(batch=args.batch, quick=args.quick)
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
