"""The best structured approximation at a parameter budget, and the error-vs-size frontier."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..base import check_size
from ..ops.sparse import Sparse
from . import families as F
from .results import (  # re-exported: part of this module's interface
    FAMILIES,
    SINGLE_FAMILIES,
    SUM_FAMILIES,
    Approximation,
    Candidate,
)
from .search import _Matrix

__all__ = [
    "FAMILIES",
    "SINGLE_FAMILIES",
    "SUM_FAMILIES",
    "Candidate",
    "Approximation",
    "Frontier",
    "approximate",
    "frontier",
    "parse_budget",
]


def parse_budget(budget: Any, size: int) -> int:
    """A budget as a parameter count: an int ``>= 1`` as is, a float in ``(0, 1]`` times ``size``.

    Examples
    --------
    >>> from structmat.explore import parse_budget
    >>> parse_budget(0.25, 1000), parse_budget(300, 1000)
    (250, 300)
    """
    if isinstance(budget, (bool, np.bool_)):
        raise TypeError(
            f"budget must be a parameter count (int >= 1) or a fraction of A.size "
            f"(float in (0, 1]); got {budget!r}"
        )
    if isinstance(budget, (int, np.integer)):
        return check_size(int(budget), "budget")
    if isinstance(budget, (float, np.floating)):
        b = float(budget)
        if not (0.0 < b <= 1.0):
            raise ValueError(f"a fractional budget must lie in (0, 1]; got {b}")
        return max(1, int(math.floor(b * size)))
    raise TypeError(
        f"budget must be a parameter count (int >= 1) or a fraction of A.size "
        f"(float in (0, 1]); got {type(budget).__name__}"
    )


def _check_families(families: Any) -> tuple[str, ...]:
    if families is None:
        return FAMILIES
    if isinstance(families, str):
        families = (families,)
    try:
        fams = tuple(families)
    except TypeError:
        raise TypeError(f"families must be a sequence of family names; got {families!r}") from None
    if not fams:
        raise ValueError(f"families must name at least one of {', '.join(FAMILIES)}")
    for f in fams:
        if f not in FAMILIES:
            raise ValueError(f"unknown family {f!r}; expected some of {', '.join(FAMILIES)}")
    return fams


def _check_common(min_fill, splits, tol, maxiter, exhaustive=False):
    if not isinstance(exhaustive, (bool, np.bool_)):
        raise TypeError(f"exhaustive must be a bool; got {exhaustive!r}")
    if (
        isinstance(min_fill, (bool, np.bool_))
        or not isinstance(min_fill, (int, float, np.floating))
        or not 0.0 <= float(min_fill) <= 1.0
    ):
        raise ValueError(f"min_fill must be a float in [0, 1]; got {min_fill!r}")
    try:
        sp = tuple(float(f) for f in splits)
    except (TypeError, ValueError):
        raise TypeError(f"splits must be a sequence of floats in (0, 1); got {splits!r}") from None
    if not sp or any(not 0.0 < f < 1.0 for f in sp):
        raise ValueError(f"splits must be a non-empty sequence of floats in (0, 1); got {splits!r}")
    if (
        isinstance(tol, (bool, np.bool_))
        or not isinstance(tol, (int, float, np.floating))
        or not 0.0 <= float(tol) < 1.0
    ):
        raise ValueError(f"tol must be a float in [0, 1); got {tol!r}")
    return float(min_fill), sp, float(tol), check_size(maxiter, "maxiter", minimum=0)


def _zero_result(W: np.ndarray, budget: int) -> Approximation:
    op = Sparse(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, W.dtype), W.shape)
    c = Candidate("sparse", {"nnz": 0}, 0, 0.0, 0.0)
    return Approximation(op, "sparse", c.config, 0, 0.0, budget, [c])


def approximate(
    A: Any,
    budget: Any,
    families: Any = None,
    dtype: Any = None,
    *,
    splits: Any = (0.25, 0.5, 0.75),
    min_fill: float = 0.25,
    tol: float = 1e-3,
    maxiter: int = 20,
    exhaustive: bool = False,
) -> Approximation:
    """The best structured approximation of ``A`` with at most ``budget`` parameters.

    Every family of ``families`` is tried in each of its configurations that fit the budget:
    Monarch geometries ``nblocks = (b, b)`` and the rank-1-slab default (every ``(k, l)`` with
    ``exhaustive=True``); every block-diagonal block count; ``g x g`` tilings and Kronecker
    factors ``B`` of ``A``'s aspect ratio (every tiling and factor shape with
    ``exhaustive=True``), each with the largest rank the budget allows; the largest rank and
    number of non-zeros.  The lowest relative Frobenius error wins.  The errors of the single
    families come from the discarded singular values / slab energies, without forming the
    approximations; only the winner is built.

    For the sums (``"monarch+lowrank"``, ...) the split of the budget is searched: for each
    fraction ``f`` of ``splits`` the structured part is the best configuration of its family
    within ``f * budget`` and the low-rank part gets the largest rank the rest allows.  Each
    split runs 3 iterations of :func:`structmat.explore.alternating_projections`; the best one
    then continues until ``tol`` or ``maxiter``.

    Parameters
    ----------
    A : array, shape (m, n)
        Real or complex; a structured matrix is densified.
    budget : int or float
        A parameter count (int ``>= 1``) or a fraction of ``A.size`` (float in ``(0, 1]``).
    families : sequence of str, optional
        Names from :data:`FAMILIES` (default: all).
    dtype : dtype, optional
        Dtype of the computation and of the result's parameters (default: ``A``'s).
    splits : sequence of float
        Fractions of the budget given to the structured part of a sum.
    min_fill : float
        Configurations with fewer than ``min_fill * budget`` parameters are not tried (they
        are dominated in practice and would dominate the run time); 0 tries everything.
    tol, maxiter
        Stopping rule of the alternating projections.
    exhaustive : bool
        Try every Monarch geometry, tiling and Kronecker factor shape (slower).

    Returns
    -------
    Approximation
        The winner (``operator``, ``family``, ``config``, ``nparams``, ``error``) and every
        candidate tried.  Since every single family's best candidate is among them, the
        winner's error is never above the best single family's.  An all-zero ``A`` gives a
        :class:`~structmat.ops.sparse.Sparse` without non-zeros (error 0).

    Raises
    ------
    ValueError
        No family fits the budget (the message gives the smallest sizes), or a bad argument.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore import approximate
    >>> rng = np.random.default_rng(0)
    >>> A = np.kron(rng.standard_normal((8, 8)), rng.standard_normal((8, 8)))
    >>> res = approximate(A, 0.1, families=["lowrank", "kronecker", "monarch"])
    >>> res.family, res.nparams <= 0.1 * A.size, res.error < 1e-12
    ('kronecker', True, True)
    >>> print(res.table().splitlines()[0])
    family                params    error  time s  config
    """
    W = F.as_matrix(A, dtype)
    fams = _check_families(families)
    min_fill, splits, tol, maxiter = _check_common(min_fill, splits, tol, maxiter, exhaustive)
    P = parse_budget(budget, W.size)
    ctx = _Matrix(W, min_fill, splits, tol, maxiter, bool(exhaustive))
    if ctx.norm_sq == 0.0:
        return _zero_result(W, P)
    return _approximate(ctx, P, fams)


def _approximate(ctx: _Matrix, P: int, fams: tuple) -> Approximation:
    cands: list[Candidate] = []
    for fam in fams:
        cands.extend(ctx.candidates(fam, P))
    if not cands:
        m, n = ctx.m, ctx.n
        raise ValueError(
            f"no family fits a budget of {P} parameters for a {m}x{n} matrix (rank 1 needs "
            f"{m + n}, one sparse entry 2); raise the budget or add families"
        )
    best = min(cands, key=lambda c: (c.error, c.nparams))
    op = ctx.build(best)
    err = F.relative_error(ctx.W, op)
    return Approximation(op, best.family, best.config, int(op.nparams), err, P, cands)


@dataclass
class Frontier:
    """Result of :func:`frontier`: the best error of every family at every budget.

    Attributes
    ----------
    budgets : list of int
        The budgets in parameters, increasing.
    points : dict
        ``{family: [Candidate or None per budget]}``: the best candidate within each budget.
    size : int
        ``A.size`` (the dense parameter count).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore import frontier
    >>> fr = frontier(np.random.default_rng(1).standard_normal((8, 8)), [16, 32],
    ...               families=["lowrank"])
    >>> fr.budgets, fr.size, [c.nparams for c in fr.best()]
    ([16, 32], 64, [16, 32])
    """

    budgets: list
    points: dict
    size: int

    def pareto(self) -> list:
        """The Pareto front over all families: candidates no other beats in both size and error."""
        allc = [c for cs in self.points.values() for c in cs if c is not None]
        allc.sort(key=lambda c: (c.nparams, c.error))
        front, best_err = [], math.inf
        for c in allc:
            if c.error < best_err:
                front.append(c)
                best_err = c.error
        return front

    def best(self) -> list:
        """The best candidate (any family) at each budget."""
        out = []
        for i in range(len(self.budgets)):
            cs = [v[i] for v in self.points.values() if v[i] is not None]
            out.append(min(cs, key=lambda c: c.error) if cs else None)
        return out

    def plot(
        self, path: Any = None, *, ax: Any = None, title: str | None = None, overwrite: bool = False
    ):
        """Plot error against parameters (see :func:`structmat.explore.plot_frontier`)."""
        from .plot import plot_frontier

        return plot_frontier(self, path, ax=ax, title=title, overwrite=overwrite)


def frontier(
    A: Any,
    budgets: Any,
    families: Any = None,
    dtype: Any = None,
    *,
    splits: Any = (0.25, 0.5, 0.75),
    min_fill: float = 0.25,
    tol: float = 1e-3,
    maxiter: int = 20,
    exhaustive: bool = False,
) -> Frontier:
    """The error-vs-parameters frontier of every family over ``budgets``.

    Decompositions are shared between budgets (one SVD per tiling, rearrangement and Monarch
    geometry).  Arguments as in :func:`approximate`; ``budgets`` is a sequence of parameter
    counts or fractions of ``A.size``.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore import frontier
    >>> A = np.random.default_rng(0).standard_normal((16, 16))
    >>> fr = frontier(A, [0.125, 0.25, 0.5], families=["lowrank", "monarch"])
    >>> fr.budgets
    [32, 64, 128]
    >>> [round(c.error, 3) for c in fr.points["lowrank"]]
    [0.885, 0.781, 0.627]
    >>> len(fr.pareto()) >= 1
    True
    """
    W = F.as_matrix(A, dtype)
    fams = _check_families(families)
    min_fill, splits, tol, maxiter = _check_common(min_fill, splits, tol, maxiter, exhaustive)
    try:
        raw = list(budgets)
    except TypeError:
        raise TypeError(f"budgets must be a sequence of budgets; got {budgets!r}") from None
    if not raw:
        raise ValueError("budgets must not be empty")
    Ps = sorted({parse_budget(b, W.size) for b in raw})
    ctx = _Matrix(W, min_fill, splits, tol, maxiter, bool(exhaustive))
    points: dict = {f: [] for f in fams}
    for P in Ps:
        for fam in fams:
            cs = ctx.candidates(fam, P) if ctx.norm_sq > 0 else []
            points[fam].append(min(cs, key=lambda c: (c.error, c.nparams)) if cs else None)
        ctx._runs.clear()  # nothing is built: drop the iterates
    return Frontier(Ps, points, int(W.size))
