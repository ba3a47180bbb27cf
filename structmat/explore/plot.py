"""The frontier plot: relative error against parameters, one line per family."""

from __future__ import annotations

import os
import tempfile
from typing import Any

__all__ = ["plot_frontier", "atomic_write_bytes"]


def atomic_write_bytes(path: Any, data: bytes, overwrite: bool = False) -> str:
    """Write ``data`` to ``path`` through a temporary file in the same directory.

    The file appears complete or not at all (``os.replace``); an existing ``path`` is only
    replaced with ``overwrite=True`` (else ``FileExistsError``).

    Examples
    --------
    >>> import os, tempfile
    >>> from structmat.explore.plot import atomic_write_bytes
    >>> d = tempfile.mkdtemp()
    >>> p = atomic_write_bytes(os.path.join(d, "x.txt"), b"hi")
    >>> open(p, "rb").read()
    b'hi'
    """
    path = os.fspath(path)
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"data must be bytes; got {type(data).__name__}")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def plot_frontier(
    fr: Any, path: Any = None, *, ax: Any = None, title: str | None = None, overwrite: bool = False
):
    """Plot a :class:`~structmat.explore.Frontier`: error against parameters.

    One line per family (its best candidate at each budget, plotted at the parameters it
    uses), a logarithmic parameter axis labelled in parameters and in percent of the dense
    size, and the Pareto front over all families drawn as a thick dashed line.

    Parameters
    ----------
    fr : Frontier
    path : str or path-like, optional
        Save the figure there (format from the suffix, e.g. ``.png``, ``.svg``), written
        atomically; an existing file is replaced only with ``overwrite=True``.
    ax : matplotlib Axes, optional
        Draw into these axes (default: a new figure).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from structmat.explore import frontier, plot_frontier
    >>> fr = frontier(np.random.default_rng(0).standard_normal((16, 16)), [0.25, 0.5],
    ...               families=["lowrank", "sparse"])
    >>> fig = plot_frontier(fr)
    >>> fig.axes[0].get_xscale(), fig.axes[0].get_xlabel()
    ('log', 'parameters')
    """
    import io

    import matplotlib

    if ax is None:
        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5))
    else:
        fig = ax.figure
    if not hasattr(fr, "points") or not hasattr(fr, "pareto"):
        raise TypeError(
            f"fr must be a Frontier (from structmat.explore.frontier); got {type(fr).__name__}"
        )
    for family, cands in fr.points.items():
        pts = sorted({(c.nparams, c.error) for c in cands if c is not None})
        if not pts:
            continue
        ax.plot(
            [p for p, _ in pts],
            [e for _, e in pts],
            marker="o",
            markersize=3,
            linewidth=1.2,
            label=family,
        )
    front = fr.pareto()
    if front:
        # a staircase: the best error reachable with at most that many parameters
        ax.plot(
            [c.nparams for c in front],
            [c.error for c in front],
            color="black",
            linestyle="--",
            linewidth=2.5,
            alpha=0.6,
            label="Pareto front",
            zorder=0,
            drawstyle="steps-post",
        )
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("relative Frobenius error")
    size = fr.size
    sec = ax.secondary_xaxis(
        "top", functions=(lambda x: 100.0 * x / size, lambda p: p * size / 100.0)
    )
    from matplotlib.ticker import FuncFormatter

    pct = FuncFormatter(lambda v, _pos: f"{v:g}")
    sec.xaxis.set_major_formatter(pct)
    sec.xaxis.set_minor_formatter(pct)
    sec.set_xlabel("% of dense parameters")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    if title:
        ax.set_title(title)
    if path is not None:
        buf = io.BytesIO()
        fmt = os.path.splitext(os.fspath(path))[1].lstrip(".") or "png"
        fig.savefig(buf, format=fmt, bbox_inches="tight")
        atomic_write_bytes(path, buf.getvalue(), overwrite=overwrite)
    return fig
