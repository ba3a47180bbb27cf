"""Shared benchmark helpers: interleaved timing, ratio tables, CSV and figure output.

All timings of one table are taken in the same process, interleaved (candidate and baseline
alternate within each repetition) after a warm-up, and summarised by their median.
"""

from __future__ import annotations

import csv
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

__all__ = [
    "Timing",
    "measure",
    "ratio",
    "flag_ratio",
    "print_table",
    "write_csv",
    "atomic_write_bytes",
    "save_figure",
    "progress",
    "sync_for",
]


def sync_for(xp) -> Callable[[], None]:
    """A function that waits for queued device work (CuPy); a no-op for CPU namespaces."""
    name = getattr(xp, "__name__", "")
    if "cupy" in name:  # pragma: no cover - GPU only
        import cupy

        return lambda: cupy.cuda.get_current_stream().synchronize()
    return lambda: None


#: a timing is *stable* when its spread (max - min) is at most this fraction of its median
SPREAD_TOL = 0.5
#: fewer repetitions than this never make a stable timing (a median of two is an outlier's)
MIN_STABLE_REPEATS = 3
#: from this many repetitions on, stability leaves out the single fastest and the single
#: slowest repetition (:attr:`Timing.trimmed_spread`)
TRIM_REPEATS = 5


class Timing(float):
    """A median time (seconds; it *is* that float) with its spread.

    ``lo``/``hi`` are the fastest and slowest repetitions, ``samples`` all of them, and
    ``stable`` says whether the spread is within :data:`SPREAD_TOL` with at least
    :data:`MIN_STABLE_REPEATS` repetitions.  From :data:`TRIM_REPEATS` repetitions on, that
    spread is :attr:`trimmed_spread`, which leaves out the fastest and the slowest one: on a
    shared machine one repetition in seven can be hit by another process, and it moves
    neither the median nor, then, the verdict; two such repetitions do.  :attr:`spread`
    (all repetitions) is what the tables report.
    """

    samples: tuple
    lo: float
    hi: float

    def __new__(cls, samples: Sequence[float]):
        samples = tuple(float(x) for x in samples)
        med = statistics.median(samples)
        self = super().__new__(cls, med)
        self.samples = samples
        self.lo = min(samples)
        self.hi = max(samples)
        return self

    @property
    def spread(self) -> float:
        """``(max - min) / median`` of the repetitions."""
        return (self.hi - self.lo) / float(self) if float(self) > 0 else 0.0

    @property
    def trimmed_spread(self) -> float:
        """``(max - min) / median`` of the repetitions without the fastest and the slowest
        one (with fewer than :data:`TRIM_REPEATS` repetitions, :attr:`spread`)."""
        if len(self.samples) < TRIM_REPEATS:
            return self.spread
        mid = sorted(self.samples)[1:-1]
        return (mid[-1] - mid[0]) / float(self) if float(self) > 0 else 0.0

    @property
    def stable(self) -> bool:
        return len(self.samples) >= MIN_STABLE_REPEATS and self.trimmed_spread <= SPREAD_TOL


def load_compiled_kernels() -> None:
    """Load structmat's compiled kernels before anything is timed.

    A small ``X @ M`` in a fresh process uses NumPy's copy for its local transpose rather than
    load the compiled one (about a second); a long-running process that multiplies again and
    again has it loaded.  The benchmarks time that steady state.
    """
    from structmat.ops import _transpose

    _transpose.kernel()


def ratio(num: float, den: float) -> float:
    """``num / den`` of two medians (``nan`` when ``den`` is not positive)."""
    return float(num) / float(den) if float(den) > 0 else float("nan")


def flag_ratio(num: float, den: float) -> str:
    """``""`` when both timings are stable :class:`Timing` medians, else ``"unstable"``: a
    ratio is only as good as the noisier of its two sides."""
    ok = all(isinstance(t, Timing) and t.stable for t in (num, den))
    return "" if ok else "unstable"


def measure(
    fns: Mapping[str, Callable[[], object]],
    repeats: int = 7,
    warmup: int = 1,
    min_time: float = 0.05,
    sync: Callable[[], None] | None = None,
    settle: float = 0.0,
) -> dict[str, Timing]:
    """Median wall time (seconds) of each callable, interleaved, as a :class:`Timing` (a
    float that also carries the minimum, the maximum and a stability flag).

    Every repetition calls each function once in turn (so slow drifts of the machine hit all
    candidates alike).  A function faster than ``min_time`` is looped within a repetition and
    its mean per call recorded.  With ``settle > 0`` each function is also run, untimed, for
    about ``settle`` seconds before its timed calls in every repetition, so that it is measured
    in its own steady state and not in the wake of the previous candidate (e.g. OpenBLAS's
    idle threads keep spinning for about 0.1 s after a multithreaded call).
    """
    sync = sync or (lambda: None)
    loops: dict[str, int] = {}
    for name, fn in fns.items():
        for _ in range(max(warmup, 1)):
            t0 = time.perf_counter()
            fn()
            sync()
            dt = time.perf_counter() - t0
        loops[name] = max(1, int(min_time / max(dt, 1e-9)))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            nloop = loops[name]
            if settle > 0:
                t_end = time.perf_counter() + settle
                fn()
                while time.perf_counter() < t_end:
                    fn()
                sync()
            t0 = time.perf_counter()
            for _ in range(nloop):
                fn()
            sync()
            samples[name].append((time.perf_counter() - t0) / nloop)
    return {name: Timing(v) for name, v in samples.items()}


def _fmt(v) -> str:
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 1e4 or abs(v) < 1e-3:
            return f"{v:.3e}"
        return f"{v:.4g}"
    return str(v)


#: printed tables are cut to this many characters a line (the CSV keeps every column)
TABLE_WIDTH = 120


def print_table(
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[str] | None = None,
    title: str | None = None,
    file=None,
    width: int = TABLE_WIDTH,
) -> str:
    """Print ``rows`` (dicts) as an aligned text table and return the text.

    ``columns`` are in order of importance: those that do not fit in ``width`` characters
    are left out of the printed table (a last line names them; the CSV has them all).
    """
    file = file or sys.stdout
    if not rows:
        return ""
    columns = list(columns or rows[0].keys())
    cells_all = [[_fmt(r.get(c, "")) for c in columns] for r in rows]
    widths_all = [max(len(c), *(len(row[i]) for row in cells_all)) for i, c in enumerate(columns)]
    keep, used = [], 0
    for i, w in enumerate(widths_all):
        if keep and used + 2 + w > width:
            continue
        keep.append(i)
        used += w + (2 if len(keep) > 1 else 0)
    left_out = [columns[i] for i in range(len(columns)) if i not in keep]
    columns = [columns[i] for i in keep]
    cells = [[row[i] for i in keep] for row in cells_all]
    widths = [widths_all[i] for i in keep]
    out = io.StringIO()
    if title:
        out.write(f"\n{title}\n")
    out.write("  ".join(c.rjust(w) for c, w in zip(columns, widths)) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write("  ".join(v.rjust(w) for v, w in zip(row, widths)) + "\n")
    if left_out:
        out.write(f"(not shown, in the CSV: {', '.join(left_out)})\n")
    text = out.getvalue()
    file.write(text)
    file.flush()
    return text


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_csv(
    path: str, rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None
) -> None:
    """Write ``rows`` as CSV, atomically."""
    columns = list(columns or (rows[0].keys() if rows else []))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    atomic_write_bytes(path, buf.getvalue().encode())


def save_figure(fig, path: str) -> None:
    """Save a matplotlib figure as PNG, atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def progress(items: Iterable, label: str = "") -> Iterable:
    """Yield ``items``, reporting ``label i/n`` and the elapsed time on stderr as it goes (one
    updating line on a terminal, one line per item otherwise), so a long run is never silent."""
    items = list(items)
    tty = sys.stderr.isatty()
    t0 = time.perf_counter()
    for i, it in enumerate(items, 1):
        msg = f"{label} {i}/{len(items)} ({time.perf_counter() - t0:.0f} s)"
        sys.stderr.write(f"\r{msg} " if tty else msg + "\n")
        sys.stderr.flush()
        yield it
    if tty:
        sys.stderr.write("\n")
