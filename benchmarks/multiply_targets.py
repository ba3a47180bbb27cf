"""The schedule targets of the Monarch multiply, each measured the way it is stated.

``python -m benchmarks multiply_targets [--sizes N ...] [--batch B] [--repeats R] [--out DIR]``

For each ``n`` (default 1024, 4096, 16384; float32, ``Monarch.random(n)``, batch 256):

* ``rate_share``: Monarch's FLOP rate over dense GEMM's (``D @ X``, ``D = M.to_dense()``), both
  timed *settled*: per repetition, a 0.25 s pause (no BLAS thread of the previous block is
  still spinning), untimed calls for 0.2 s (at least two), and the median of back-to-back
  timed calls of the same product (at least five and at least 10 ms of them; the products
  take turns); target >= 0.75;
* ``after_dense``: ``M @ X`` timed right after an untimed ``D @ X`` (OpenBLAS's threads are
  then still spinning for about 0.1 s), over the settled ``M @ X``; target <= 1.2;
  ``dense_after``: the other order, ``D @ X`` right after ``M @ X`` over the settled ``D @ X``
  (information); ``after_dense_1t``: ``M @ X`` right after an untimed ``D @ X`` that ran on one
  BLAS thread, over the settled ``M @ X`` (information: the same dense work and memory
  traffic with no BLAS thread left behind, so ``after_dense`` above it is what OpenBLAS's
  polling threads cost, and the rest is what alternating with a dense product costs on this
  processor anyway);
* ``after_dense_shared``: the same as ``after_dense`` with :func:`structmat.share_blas_threads`
  on (OpenBLAS's threaded calls run on threads that sleep while idle), over the settled
  ``M @ X`` measured in that mode too; target <= 1.2.  ``dense_shared``: the settled ``D @ X``
  in that mode over the settled ``D @ X`` without it (information; only while one ``D @ X``
  takes at most :data:`SHARED_DENSE_LIMIT` seconds);
* ``rows_over_cols``: ``X @ M`` (rows) over ``M @ X`` (columns), settled; target <= 1.15;
* ``bw_share`` (batch 1): the bytes of the factors ``L`` and ``R`` read by one ``M @ x`` over
  its settled median time, against the read bandwidth of copying a 256 MiB array (bytes read
  per second); target >= 0.5.  Factors that fit in the processor's caches can exceed the copy
  bandwidth (they are read from cache in repeated calls);
* ``busy_over_quiet``: the settled ``M @ X`` while another process keeps a core busy (a Python
  spin loop started for the measurement) over the quiet one; target <= 2.

Dense is timed only while ``D`` takes at most 1 GiB.  Every ratio comes from medians of the
same run and is flagged when either side is unstable (harness :func:`flag_ratio`); a target
is judged only on stable medians.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time

import numpy as np

import structmat
from benchmarks.harness import (
    Timing,
    flag_ratio,
    load_compiled_kernels,
    print_table,
    progress,
    write_csv,
)
from structmat import _parallel

SIZES = (1024, 4096, 16384)
#: seconds of pause before each block: OpenBLAS's threads spin for about 0.1 s after a call
SETTLE = 0.25
#: seconds of untimed calls after each pause, and the least length of a timed block
WARM = 0.2
BLOCK_MIN = 0.01
DENSE_LIMIT = 1 << 30
#: seconds of one settled D @ X up to which it is timed again with the shared BLAS threads
SHARED_DENSE_LIMIT = 0.1
COLUMNS = [
    "n",
    "monarch_ms",
    "dense_ms",
    "rate_share",
    "after_dense",
    "after_dense_shared",
    "dense_after",
    "after_dense_1t",
    "dense_shared",
    "rows_over_cols",
    "bw_share",
    "busy_over_quiet",
    "bw_gbs",
    "copy_gbs",
    "flag",
]


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _warm(fn) -> None:
    """Untimed calls of ``fn``: at least two, and at least :data:`WARM` seconds of them.

    After the pause the processor needs about a tenth of a second of work to run at full speed
    again: on a 2-core machine, ``M @ X`` at n = 4096, batch 256 took 5.4 ms (median) after a
    0.25 s pause and 20 ms of warm-up calls, and 2.2 ms after 0.2 s of them, as without a
    pause."""
    t0 = time.perf_counter()
    calls = 0
    while calls < 2 or time.perf_counter() - t0 < WARM:
        fn()
        calls += 1


def _settled(fns: dict, repeats: int, block: int = 5) -> dict:
    """Steady-state medians (:class:`Timing`) of each function: per repetition and function,
    a pause, :func:`_warm`, and then back-to-back timed calls, at least ``block`` of them and
    at least :data:`BLOCK_MIN` seconds (their median is one sample), the functions taking
    turns (interleaved blocks)."""
    samples: dict = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            time.sleep(SETTLE)  # the BLAS threads of the previous block stop spinning
            _warm(fn)
            ts: list = []
            while len(ts) < block or (sum(ts) < BLOCK_MIN and len(ts) < 500):
                ts.append(_timed(fn))
            samples[k].append(float(np.median(ts)))
    return {k: Timing(v) for k, v in samples.items()}


def _after(first, second, repeats: int) -> Timing:
    """Median time of ``second`` called right after an untimed ``first`` (``second`` warmed
    by :func:`_warm` before ``first``)."""
    samples = []
    for _ in range(repeats):
        time.sleep(SETTLE)
        _warm(second)
        first()
        samples.append(_timed(second))
    return Timing(samples)


@contextlib.contextmanager
def shared_blas_threads():
    """:func:`structmat.share_blas_threads` on for the block, as before afterwards."""
    was = structmat.blas_threads_shared()
    structmat.share_blas_threads()
    try:
        time.sleep(SETTLE)  # OpenBLAS's own threads of the last call stop polling
        yield
    finally:
        structmat.share_blas_threads(was)


@contextlib.contextmanager
def busy_core():
    """One competing process that keeps a core busy (a Python spin loop) while the block runs."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)  # let it start spinning
        yield
    finally:
        proc.kill()
        proc.wait()


def copy_bandwidth(repeats: int, nbytes: int = 256 << 20) -> float:
    """Bytes read per second by ``np.copyto`` of a ``nbytes`` float32 array (median)."""
    a = np.ones(nbytes // 4, dtype=np.float32)
    b = np.empty_like(a)
    np.copyto(b, a)
    t = Timing([_timed(lambda: np.copyto(b, a)) for _ in range(max(3, repeats))])
    return nbytes / float(t)


def run_case(n: int, batch: int, repeats: int, copy_bw: float, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    M = structmat.Monarch.random(n, seed=seed, dtype="float32")
    X = rng.standard_normal((n, batch)).astype(np.float32)
    Xr = np.ascontiguousarray(X.T)
    x1 = rng.standard_normal((n, 1)).astype(np.float32)
    fns = {"cols": lambda: M @ X, "rows": lambda: Xr @ M, "one": lambda: M @ x1}
    D = None
    if 4 * n * n <= DENSE_LIMIT:
        D = M.to_dense()
        fns["dense"] = lambda: D @ X
    t = _settled(fns, repeats)
    row: dict = {"n": n, "monarch_ms": 1e3 * float(t["cols"])}
    flags = []

    def ratio(a, b, name):
        f = flag_ratio(a, b)
        if f:
            flags.append(name)
        return float(a) / float(b)

    row["rows_over_cols"] = ratio(t["rows"], t["cols"], "rows")
    factor_bytes = (M.L.size + M.R.size) * M.L.itemsize
    row["bw_gbs"] = factor_bytes / float(t["one"]) / 1e9
    row["copy_gbs"] = copy_bw / 1e9
    row["bw_share"] = factor_bytes / float(t["one"]) / copy_bw
    if not t["one"].stable:
        flags.append("batch1")
    if D is not None:
        row["dense_ms"] = 1e3 * float(t["dense"])
        # rate share = (flops_M / t_M) / (flops_D / t_D)
        row["rate_share"] = (M.flops(batch) / float(t["cols"])) / (
            2.0 * n * n * batch / float(t["dense"])
        )
        if flag_ratio(t["cols"], t["dense"]):
            flags.append("rate")
        after = _after(fns["dense"], fns["cols"], repeats)
        row["after_dense"] = ratio(after, t["cols"], "after")
        before = _after(fns["cols"], fns["dense"], repeats)
        row["dense_after"] = ratio(before, t["dense"], "dense_after")
        with _parallel.blas_single_threaded():  # M @ X keeps its own threads (real dtypes)
            after_1t = _after(fns["dense"], fns["cols"], repeats)
        row["after_dense_1t"] = ratio(after_1t, t["cols"], "after_1t")
        shared_fns = {"cols": fns["cols"]}
        if float(t["dense"]) <= SHARED_DENSE_LIMIT:
            shared_fns["dense"] = fns["dense"]
        with shared_blas_threads():
            ts = _settled(shared_fns, repeats)
            after_shared = _after(fns["dense"], fns["cols"], repeats)
        row["after_dense_shared"] = ratio(after_shared, ts["cols"], "after_shared")
        if "dense" in ts:
            row["dense_shared"] = ratio(ts["dense"], t["dense"], "dense_shared")
    else:
        row["dense_ms"] = f"not run: {n} x {n} float32 is {4 * n * n / 2**30:.0f} GiB"
    # the same M @ X while another process holds a core
    with busy_core():
        busy = _settled({"cols": fns["cols"]}, repeats)["cols"]
    row["busy_over_quiet"] = ratio(busy, t["cols"], "busy")
    row["flag"] = ",".join(flags)
    return row


def verdicts(rows: list[dict]) -> list[dict]:
    """One row per (target, n): the measured value, the goal and the verdict."""
    goals = {
        "rate_share": (">= 0.75", lambda v: v >= 0.75, "rate"),
        "after_dense": ("<= 1.2", lambda v: v <= 1.2, "after"),
        "after_dense_shared": ("<= 1.2", lambda v: v <= 1.2, "after_shared"),
        "rows_over_cols": ("<= 1.15", lambda v: v <= 1.15, "rows"),
        "bw_share": (">= 0.5", lambda v: v >= 0.5, "batch1"),
        "busy_over_quiet": ("<= 2", lambda v: v <= 2, "busy"),
    }
    out = []
    for r in rows:
        flags = set(r["flag"].split(",")) if r["flag"] else set()
        for key, (goal, ok, flag) in goals.items():
            v = r.get(key)
            if not isinstance(v, float):
                continue
            verdict = "unstable: not judged" if flag in flags else ("holds" if ok(v) else "missed")
            out.append(
                {
                    "target": key,
                    "n": r["n"],
                    "measured": round(v, 3),
                    "goal": goal,
                    "verdict": verdict,
                }
            )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks multiply_targets", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--sizes", nargs="+", type=int, default=list(SIZES), metavar="N")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", metavar="DIR", help="write multiply_targets.csv here")
    args = ap.parse_args(argv)
    load_compiled_kernels()
    bad = [n for n in args.sizes if n < 4 or int(round(n**0.5)) ** 2 != n]
    if bad or args.batch < 1 or args.repeats < 1:
        print(
            f"--sizes must be perfect squares >= 4 (got {bad}); --batch and --repeats positive",
            file=sys.stderr,
        )
        return 2
    copy_bw = copy_bandwidth(args.repeats)
    rows = [
        run_case(n, args.batch, args.repeats, copy_bw)
        for n in progress(args.sizes, "multiply targets")
    ]
    print_table(
        rows,
        COLUMNS,
        title=(
            f"Monarch multiply schedule, float32, batch {args.batch} ({os.cpu_count()} CPU cores;"
            f" medians of {args.repeats} steady-state blocks)"
        ),
    )
    vrows = verdicts(rows)
    print_table(vrows, ["target", "n", "measured", "goal", "verdict"], title="Targets")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        write_csv(os.path.join(args.out, "multiply_targets.csv"), rows, COLUMNS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
