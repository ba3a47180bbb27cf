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
from typing import Callable, Iterable, Mapping, Sequence

__all__ = [
    "measure",
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


def measure(
    fns: Mapping[str, Callable[[], object]],
    repeats: int = 7,
    warmup: int = 1,
    min_time: float = 0.05,
    sync: Callable[[], None] | None = None,
    settle: float = 0.0,
) -> dict[str, float]:
    """Median wall time (seconds) of each callable, interleaved.

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
    return {name: statistics.median(v) for name, v in samples.items()}


def _fmt(v) -> str:
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 1e4 or abs(v) < 1e-3:
            return f"{v:.3e}"
        return f"{v:.4g}"
    return str(v)


def print_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None,
                title: str | None = None, file=None) -> str:
    """Print ``rows`` (dicts) as an aligned text table and return the text."""
    file = file or sys.stdout
    if not rows:
        return ""
    columns = list(columns or rows[0].keys())
    cells = [[_fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    out = io.StringIO()
    if title:
        out.write(f"\n{title}\n")
    out.write("  ".join(c.rjust(w) for c, w in zip(columns, widths)) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write("  ".join(v.rjust(w) for v, w in zip(row, widths)) + "\n")
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


def write_csv(path: str, rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None) -> None:
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
    """Yield ``items``, printing ``label i/n`` to stderr when it is a terminal."""
    items = list(items)
    tty = sys.stderr.isatty()
    for i, it in enumerate(items, 1):
        if tty:
            sys.stderr.write(f"\r{label} {i}/{len(items)} ")
            sys.stderr.flush()
        yield it
    if tty:
        sys.stderr.write("\n")
