"""Compress every matrix of a checkpoint: serially or on Dask distributed, resumable.

:func:`compress` reads the 2-D floating-point tensors of a ``.safetensors`` or ``.npz`` file
one at a time (the file is never loaded whole: safetensors tensors are read at their byte
offsets, ``.npz`` members one by one), finds each one's best structured approximation with
:func:`structmat.explore.approximate`, and writes to the output directory:

``<name>.npz`` / ``<name>.safetensors``
    One file per matrix, in the input's format, loadable with :func:`structmat.load`
    (the tensor name is kept in ``manifest.json``; characters other than letters, digits,
    ``.``, ``-`` and ``_`` are %-escaped in the file name).
``manifest.json``
    The settings and, for every finished matrix, its file and report row.  Rewritten
    atomically after each matrix, after that matrix's file: an interrupted run loses at most
    the matrices in progress, and a re-run with the same settings skips the finished ones.
``report.csv``, ``summary.txt``, ``frontier.png``
    The per-matrix report (family, configuration, parameters, error, low rank's error at the
    same budget, time), a summary table, and the frontier over the whole checkpoint (one
    point per family and budget: total parameters against the energy-weighted error).

With ``scheduler="local"`` (a :class:`dask.distributed.LocalCluster`) or the address of a
running Dask scheduler, the matrices are approximated on the cluster's workers.  The client
reads each matrix and sends it with its task, keeping at most ``2 x workers`` matrices in
flight, so workers need no access to the input file; results are written by the client in
input order, and are identical to the serial run's (same computation on the same data).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import pathlib
import struct
import time
import urllib.parse
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ..base import check_size
from .approximate import Frontier, _check_families, approximate, parse_budget
from .plot import atomic_write_bytes, plot_frontier
from .results import Candidate, _config_text

__all__ = ["compress", "list_matrices", "read_matrix", "CompressResult"]

_ST_DTYPES: dict[str, Any] = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "BF16": "bfloat16",
}
_MANIFEST = "manifest.json"
_MANIFEST_FORMAT = "structmat-compress"


# ----------------------------------------------------------------------------------------------
# streaming readers
# ----------------------------------------------------------------------------------------------


def _format_of(path: pathlib.Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head[:2] == b"PK":
        return "npz"
    if len(head) == 8:
        return "safetensors"
    raise ValueError(f"{path}: neither a .npz archive nor a safetensors file")


def _safetensors_header(path: pathlib.Path) -> tuple[dict, int]:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) < 8:
            raise ValueError(f"{path}: truncated safetensors file")
        (n,) = struct.unpack("<Q", raw)
        if n > size - 8 or n > 100_000_000:
            raise ValueError(f"{path}: corrupted safetensors header length {n}")
        try:
            header = json.loads(fh.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: corrupted safetensors header ({exc})") from exc
    if not isinstance(header, dict):
        raise ValueError(f"{path}: corrupted safetensors header (not an object)")
    return header, 8 + n


def _npz_header(zf: zipfile.ZipFile, member: str):
    with zf.open(member) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    return tuple(shape), np.dtype(dtype)


def list_matrices(path: Any) -> list[tuple[str, tuple, str]]:
    """The 2-D floating-point tensors of a checkpoint: ``[(name, shape, dtype name), ...]``.

    Reads headers only.  Tensors of other ranks or dtypes (biases, integer buffers) are left
    out; float16 and bfloat16 matrices are included (computed in float32).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from structmat.explore import list_matrices
    >>> p = os.path.join(tempfile.mkdtemp(), "ck.npz")
    >>> np.savez(p, w=np.ones((3, 4)), b=np.ones(3), i=np.ones((2, 2), dtype=np.int64))
    >>> list_matrices(p)
    [('w', (3, 4), 'float64')]
    """
    p = pathlib.Path(os.fspath(path))
    fmt = _format_of(p)
    out = []
    if fmt == "safetensors":
        header, _ = _safetensors_header(p)
        entries = [(k, v) for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
        entries.sort(key=lambda kv: tuple(kv[1].get("data_offsets", (0, 0))))  # file order
        for name, meta in entries:
            dt = meta.get("dtype")
            shape = tuple(meta.get("shape", ()))
            if dt in _ST_DTYPES and len(shape) == 2 and min(shape) > 0:
                out.append(
                    (name, shape, dt.lower() if dt == "BF16" else np.dtype(_ST_DTYPES[dt]).name)
                )
        return out
    with zipfile.ZipFile(p) as zf:
        for member in zf.namelist():
            if not member.endswith(".npy"):
                continue
            shape, dtype = _npz_header(zf, member)
            if len(shape) == 2 and min(shape) > 0 and dtype.kind in "fc":
                out.append((member[:-4], shape, dtype.name))
    return out


def read_matrix(path: Any, name: str) -> np.ndarray:
    """Read one tensor of a checkpoint (float16 and bfloat16 are returned as float32).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from structmat.explore import read_matrix
    >>> p = os.path.join(tempfile.mkdtemp(), "ck.npz")
    >>> np.savez(p, w=np.eye(2))
    >>> read_matrix(p, "w")
    array([[1., 0.],
           [0., 1.]])
    """
    p = pathlib.Path(os.fspath(path))
    if _format_of(p) == "npz":
        with zipfile.ZipFile(p) as zf:
            try:
                fh = zf.open(name + ".npy")
            except KeyError:
                raise KeyError(f"{p}: no tensor {name!r}") from None
            with fh:
                arr = np.lib.format.read_array(fh, allow_pickle=False)
    else:
        header, start = _safetensors_header(p)
        meta = header.get(name)
        if not isinstance(meta, dict):
            raise KeyError(f"{p}: no tensor {name!r}")
        b0, b1 = meta["data_offsets"]
        shape = tuple(meta["shape"])
        dt = meta["dtype"]
        if dt not in _ST_DTYPES:
            raise ValueError(f"{p}: tensor {name!r} has dtype {dt}; expected a float type")
        with open(p, "rb") as fh:
            fh.seek(start + b0)
            raw = fh.read(b1 - b0)
        if dt == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32).reshape(shape)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(_ST_DTYPES[dt]).newbyteorder("<")).reshape(
                shape
            )
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    return np.array(arr, dtype=arr.dtype.newbyteorder("="), copy=True)


# ----------------------------------------------------------------------------------------------
# the per-matrix task (runs on a worker)
# ----------------------------------------------------------------------------------------------


def _task(
    name: str,
    A: np.ndarray,
    budget: Any,
    families: tuple,
    dtype: Any,
    frontier_budgets: tuple,
    options: dict,
) -> dict:
    t0 = time.perf_counter()
    res = approximate(A, budget, families=families, dtype=dtype, **options)
    best = res.best_per_family()
    lowrank = best.get("lowrank")
    if lowrank is None:  # low rank's error at the same budget
        try:
            lowrank = approximate(A, budget, families=["lowrank"], dtype=dtype).candidates[0]
        except ValueError:
            lowrank = None
    norm_sq = float(np.vdot(A, A).real)
    # keyed by the budget as given (a fraction means a different count for each matrix)
    points = {repr(budget): [res.budget, {f: (c.nparams, c.error) for f, c in best.items()}]}
    for b in frontier_budgets:
        if repr(b) in points:
            continue
        P = parse_budget(b, A.size)
        try:
            other = approximate(A, b, families=families, dtype=dtype, **options)
        except ValueError:
            points[repr(b)] = [P, {}]
            continue
        points[repr(b)] = [P, {f: (c.nparams, c.error) for f, c in other.best_per_family().items()}]
    row = {
        "name": name,
        "rows": A.shape[0],
        "cols": A.shape[1],
        "dense_params": int(A.size),
        "budget_params": res.budget,
        "family": res.family,
        "config": _config_text(res.config),
        "nparams": res.nparams,
        "error": res.error,
        "lowrank_error": "" if lowrank is None else lowrank.error,
        "candidates": len(res.candidates),
        "seconds": time.perf_counter() - t0,
    }
    return {"row": row, "operator": res.operator, "norm_sq": norm_sq, "points": points}


# ----------------------------------------------------------------------------------------------
# output directory
# ----------------------------------------------------------------------------------------------


def _file_name(name: str, ext: str) -> str:
    safe = urllib.parse.quote(name, safe="._-")
    if safe.startswith("."):
        safe = "%2E" + safe[1:]
    return safe + "." + ext


def _write_json(path: pathlib.Path, doc: dict) -> None:
    atomic_write_bytes(path, json.dumps(doc, indent=1, sort_keys=True).encode(), overwrite=True)


class CompressResult(dict):
    """What :func:`compress` did: a dictionary with ``rows`` (one report row per matrix, in
    input order), ``computed`` and ``resumed`` (names), ``out`` (the output directory),
    ``summary`` (the summary table as text) and ``frontier`` (a
    :class:`~structmat.explore.Frontier` of the whole checkpoint).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from structmat.explore import compress
    >>> d = tempfile.mkdtemp()
    >>> np.savez(os.path.join(d, "ck.npz"), w=np.eye(8))
    >>> res = compress(os.path.join(d, "ck.npz"), os.path.join(d, "o"), 0.5, ["sparse"],
    ...                progress=False)
    >>> res["computed"], res["rows"][0]["family"], res["rows"][0]["error"]
    (['w'], 'sparse', 0.0)
    """


def _settings(src: pathlib.Path, budget, families, dtype, frontier_budgets, options) -> dict:
    st = src.stat()
    return {
        "source": src.name,
        "source_bytes": st.st_size,
        "budget": budget,
        "families": list(families),
        "dtype": None if dtype is None else np.dtype(dtype).name,
        "frontier_budgets": list(frontier_budgets),
        "options": options,
    }


def _summary(rows: list[dict]) -> str:
    dense = sum(r["dense_params"] for r in rows)
    kept = sum(r["nparams"] for r in rows)
    fams: dict = {}
    for r in rows:
        fams[r["family"]] = fams.get(r["family"], 0) + 1
    lines = [
        f"{'matrix':<40} {'shape':>11} {'family':<18} {'params':>9} {'error':>8} {'lowrank':>8}"
    ]
    for r in rows:
        lr = r["lowrank_error"]
        lr = f"{lr:8.4f}" if isinstance(lr, float) else f"{'-':>8}"
        lines.append(
            f"{r['name'][:40]:<40} {str(r['rows']) + 'x' + str(r['cols']):>11} "
            f"{r['family']:<18} {r['nparams']:>9} {r['error']:>8.4f} {lr}"
        )
    lines.append(
        f"{len(rows)} matrices: {kept} of {dense} parameters "
        f"({100.0 * kept / max(dense, 1):.1f} %); families: "
        + ", ".join(f"{f} {n}" for f, n in sorted(fams.items()))
    )
    return "\n".join(lines)


def _checkpoint_frontier(results: list[dict], families: tuple) -> Frontier:
    """One point per family and budget: total parameters, energy-weighted error.

    A budget counts for the checkpoint as the sum of the matrices' budgets; a family gets a
    point where it fits every matrix.
    """
    keys = list(results[0]["points"]) if results else []
    totals = {k: sum(r["points"][k][0] for r in results) for k in keys}
    keys.sort(key=lambda k: totals[k])
    total_sq = sum(r["norm_sq"] for r in results) or 1.0
    points: dict = {f: [] for f in families}
    for key in keys:
        for f in families:
            if all(f in r["points"][key][1] for r in results):
                P = sum(r["points"][key][1][f][0] for r in results)
                err = math.sqrt(
                    sum(r["points"][key][1][f][1] ** 2 * r["norm_sq"] for r in results) / total_sq
                )
                points[f].append(Candidate(f, {}, P, err, 0.0))
            else:
                points[f].append(None)
    size = sum(r["row"]["dense_params"] for r in results)
    return Frontier([totals[k] for k in keys], points, size)


# ----------------------------------------------------------------------------------------------
# the driver
# ----------------------------------------------------------------------------------------------


def _serial(jobs: Iterable, submit_args: Callable) -> Iterator:
    for name in jobs:
        yield name, _task(*submit_args(name))


def _distributed(jobs: list, submit_args: Callable, scheduler: Any) -> Iterator:
    from dask.distributed import Client, LocalCluster

    own_cluster = None
    if isinstance(scheduler, str) and scheduler == "local":
        own_cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        )
        client = Client(own_cluster)
        close = True
    elif isinstance(scheduler, str):
        client = Client(scheduler)
        close = True
    else:
        client = scheduler  # a dask.distributed.Client or LocalCluster
        if not isinstance(client, Client):
            client = Client(scheduler)
            close = True
        else:
            close = False
    pending: deque = deque()
    try:
        nworkers = max(1, len(client.scheduler_info().get("workers", {})))
        window = 2 * nworkers
        todo = iter(jobs)
        for name in todo:
            pending.append((name, client.submit(_task, *submit_args(name), pure=False)))
            if len(pending) >= window:
                break
        while pending:
            name, fut = pending.popleft()
            result = fut.result()
            fut.release()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append((nxt, client.submit(_task, *submit_args(nxt), pure=False)))
            yield name, result
    finally:
        for _, fut in pending:
            fut.cancel()
        if close:
            client.close()
        if own_cluster is not None:
            own_cluster.close()


def compress(
    src: Any,
    out: Any,
    budget: Any = 0.25,
    families: Any = None,
    *,
    dtype: Any = None,
    scheduler: Any = None,
    frontier_budgets: Any = (),
    min_size: int = 2,
    overwrite: bool = False,
    progress: bool = True,
    on_result: Callable | None = None,
    **options: Any,
) -> CompressResult:
    """Approximate every matrix of a checkpoint and write the factors and a report to ``out``.

    Parameters
    ----------
    src : str or path-like
        A ``.safetensors`` or ``.npz`` file (recognised from its content).
    out : str or path-like
        Output directory (created).  If it holds a previous run with the same settings, the
        finished matrices are kept and skipped; a directory with other content is refused
        unless ``overwrite=True`` (which replaces the files this function writes, nothing
        else).
    budget : int or float
        Per matrix: a parameter count or a fraction of the matrix's size.
    families : sequence of str, optional
        As in :func:`~structmat.explore.approximate` (default: all).
    dtype : dtype, optional
        Computation and output dtype (default: the tensor's; float16/bfloat16 become float32).
    scheduler : None, "local", str or dask.distributed.Client
        ``None`` runs serially; ``"local"`` starts a 2-worker ``LocalCluster``; any other
        string is the address of a running Dask scheduler (``"tcp://host:8786"``); a
        ``Client`` is used as is.
    frontier_budgets : sequence
        Further budgets to evaluate (not written) for the frontier plot.
    min_size : int
        Matrices with a side below this are left out.
    overwrite : bool
    progress : bool
        A tqdm progress bar on stderr.
    on_result : callable, optional
        Called with each finished matrix's report row (after its files are written).
    **options
        Further arguments of :func:`~structmat.explore.approximate` (``splits``, ``tol``,
        ``maxiter``, ``min_fill``, ``exhaustive``).

    Returns
    -------
    CompressResult

    Examples
    --------
    >>> import os, tempfile, numpy as np, structmat
    >>> from structmat.explore import compress
    >>> d = tempfile.mkdtemp()
    >>> rng = np.random.default_rng(0)
    >>> np.savez(os.path.join(d, "ck.npz"), a=rng.standard_normal((16, 16)),
    ...          b=rng.standard_normal((8, 24)), bias=np.zeros(16))
    >>> res = compress(os.path.join(d, "ck.npz"), os.path.join(d, "out"), 0.5,
    ...                families=["lowrank", "monarch"], progress=False)
    >>> [r["name"] for r in res["rows"]], sorted(os.listdir(os.path.join(d, "out")))
    (['a', 'b'], ['a.npz', 'b.npz', 'frontier.png', 'manifest.json', 'report.csv', 'summary.txt'])
    >>> structmat.load(os.path.join(d, "out", "a.npz")).nparams <= 128
    True
    """
    srcp = pathlib.Path(os.fspath(src))
    if not srcp.is_file():
        raise FileNotFoundError(f"src {srcp} is not a file")
    fmt = _format_of(srcp)
    fams = _check_families(families)
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False; got {overwrite!r}")
    min_size = check_size(min_size, "min_size")
    fb = tuple(frontier_budgets)
    for b in (budget,) + fb:
        parse_budget(b, 10**12)  # type and range checks
    if scheduler is not None and not isinstance(scheduler, str):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - dask is optional
            raise TypeError("scheduler must be None, 'local' or a scheduler address") from None
        if not isinstance(scheduler, (Client, LocalCluster)):
            raise TypeError(
                f"scheduler must be None, 'local', an address string or a "
                f"dask.distributed Client; got {type(scheduler).__name__}"
            )
    outp = pathlib.Path(os.fspath(out))
    settings = _settings(srcp, budget, fams, dtype, fb, {k: options[k] for k in sorted(options)})
    outp.mkdir(parents=True, exist_ok=True)
    manifest_path = outp / _MANIFEST
    done: dict = {}
    if manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{manifest_path}: corrupted manifest ({exc})") from exc
        if old.get("format") != _MANIFEST_FORMAT:
            raise ValueError(f"{manifest_path} is not a structmat compress manifest")
        if old.get("settings") == settings:
            done = old.get("done", {})
        elif not overwrite:
            raise FileExistsError(
                f"{outp} holds a run with other settings ({old.get('settings')}); pass "
                f"overwrite=True (--overwrite) to replace it, or choose another directory"
            )
    elif any(outp.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{outp} is not empty and holds no compress manifest; pass "
            f"overwrite=True (--overwrite) or choose an empty directory"
        )
    ext = "safetensors" if fmt == "safetensors" else "npz"
    matrices = [m for m in list_matrices(srcp) if min(m[1]) >= min_size]
    if not matrices:
        raise ValueError(f"{srcp} holds no 2-D floating-point tensor with both sides >= {min_size}")
    results: dict = {}
    for name, _, _ in matrices:
        entry = done.get(name)
        if entry and (outp / entry["file"]).is_file():
            results[name] = entry
    todo = [name for name, _, _ in matrices if name not in results]
    resumed = [name for name, _, _ in matrices if name in results]

    def submit_args(name):
        return (name, read_matrix(srcp, name), budget, fams, dtype, fb, options)

    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=len(matrices), initial=len(resumed), unit="matrix", desc="structmat compress"
            )
        except ImportError:  # pragma: no cover - tqdm is optional
            bar = None
    from ..io import save

    runner = (
        _serial(todo, submit_args)
        if scheduler is None
        else _distributed(todo, submit_args, scheduler)
    )
    computed = []
    try:
        for name, res in runner:
            fname = _file_name(name, ext)
            save(outp / fname, res["operator"], format=fmt, overwrite=True)
            entry = {
                "file": fname,
                "row": res["row"],
                "norm_sq": res["norm_sq"],
                "points": res["points"],
            }
            results[name] = entry
            done[name] = entry
            _write_json(
                manifest_path,
                {"format": _MANIFEST_FORMAT, "version": 1, "settings": settings, "done": done},
            )
            computed.append(name)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"{name[:24]} {res['row']['family']} {res['row']['error']:.3f}")
            if on_result is not None:
                on_result(res["row"])
    finally:
        if bar is not None:
            bar.close()
    ordered = [results[name] for name, _, _ in matrices]
    rows = [dict(e["row"], file=e["file"]) for e in ordered]
    buf = io.StringIO()
    fields = [
        "name",
        "rows",
        "cols",
        "dense_params",
        "budget_params",
        "family",
        "config",
        "nparams",
        "error",
        "lowrank_error",
        "candidates",
        "seconds",
        "file",
    ]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in fields})
    atomic_write_bytes(outp / "report.csv", buf.getvalue().encode(), overwrite=True)
    summary = _summary(rows)
    atomic_write_bytes(outp / "summary.txt", (summary + "\n").encode(), overwrite=True)
    fr = _checkpoint_frontier(ordered, fams)
    fig = plot_frontier(
        fr, outp / "frontier.png", overwrite=True, title=f"{srcp.name}: {len(rows)} matrices"
    )
    import matplotlib.pyplot as plt

    plt.close(fig)
    return CompressResult(
        rows=rows, computed=computed, resumed=resumed, out=str(outp), summary=summary, frontier=fr
    )
