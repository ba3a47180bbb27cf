"""The best structured approximation at a parameter budget, and the error-vs-size frontier."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..base import check_size
from ..ops.lowrank import LowRank
from ..ops.sparse import Sparse
from ..ops.sum import Sum
from . import families as F

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

#: families with one part, each with its optimal algorithm
SINGLE_FAMILIES = ("lowrank", "monarch", "blockdiag", "block_lowrank", "kronecker", "sparse")
#: structured part + low rank, by alternating projections
SUM_FAMILIES = ("monarch+lowrank", "blockdiag+lowrank", "sparse+lowrank")
FAMILIES = SINGLE_FAMILIES + SUM_FAMILIES


@dataclass
class Candidate:
    """One approximation tried by :func:`approximate`.

    Attributes
    ----------
    family : str
        One of :data:`FAMILIES`.
    config : dict
        The family's size: ``rank``; ``nblocks`` (Monarch: ``None`` or ``(k, l)``);
        ``tiles`` and ``rank``; ``factor_shape`` and ``nterms``; ``nnz``; for sums the
        structured part's configuration under ``"part"`` and the low rank under ``"rank"``.
    nparams : int
        Exact parameter count of the approximation.
    error : float
        Relative Frobenius error ``||A - approx||_F / ||A||_F``.
    seconds : float
        Time spent on this candidate (a decomposition shared by several candidates is charged
        to the first one that needed it).
    split : tuple of int or None
        For sums: ``(structured parameters, low-rank parameters)``.
    iterations : int or None
        For sums: iterations of the alternating projections.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore import approximate
    >>> res = approximate(np.eye(8), 32, families=["sparse"])
    >>> c = res.candidates[0]
    >>> c.family, c.config, c.nparams, c.error
    ('sparse', {'nnz': 16}, 32, 0.0)
    >>> c.as_row()["config"]
    'nnz=16'
    """

    family: str
    config: dict
    nparams: int
    error: float
    seconds: float
    split: tuple | None = None
    iterations: int | None = None

    def as_row(self) -> dict:
        """A flat dictionary (for CSV reports)."""
        return {
            "family": self.family,
            "config": _config_text(self.config),
            "nparams": self.nparams,
            "error": self.error,
            "seconds": self.seconds,
            "split": "" if self.split is None else f"{self.split[0]}+{self.split[1]}",
            "iterations": "" if self.iterations is None else self.iterations,
        }


def _config_text(config: dict) -> str:
    parts = []
    for key, value in config.items():
        if isinstance(value, dict):
            value = "{" + _config_text(value) + "}"
        elif isinstance(value, tuple):
            value = "x".join(str(v) for v in value)
        parts.append(f"{key}={value}")
    return " ".join(parts)


@dataclass
class Approximation:
    """Result of :func:`approximate`.

    Attributes
    ----------
    operator : StructuredMatrix
        The best approximation found (NumPy parameters).
    family : str
    config : dict
    nparams : int
        ``operator.nparams``; never above ``budget``.
    error : float
        ``||A - operator||_F / ||A||_F``, measured densely in float64.
    budget : int
        The budget in parameters.
    candidates : list of Candidate
        Every candidate tried, in the order tried.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore import approximate
    >>> res = approximate(np.outer(np.arange(1.0, 9.0), np.ones(8)), 0.25,
    ...                   families=["lowrank", "sparse"])
    >>> res.family, res.nparams, res.error < 1e-12
    ('lowrank', 16, True)
    >>> sorted(res.best_per_family())
    ['lowrank', 'sparse']
    """

    operator: Any
    family: str
    config: dict
    nparams: int
    error: float
    budget: int
    candidates: list = field(default_factory=list)

    def best_per_family(self) -> dict:
        """``{family: Candidate}``: the lowest-error candidate of every family tried."""
        out: dict = {}
        for c in self.candidates:
            if c.family not in out or c.error < out[c.family].error:
                out[c.family] = c
        return out

    def table(self) -> str:
        """A plain-text table of the best candidate of each family, best first."""
        rows = sorted(self.best_per_family().values(), key=lambda c: c.error)
        lines = [f"{'family':<18} {'params':>9} {'error':>8} {'time s':>7}  config"]
        for c in rows:
            lines.append(
                f"{c.family:<18} {c.nparams:>9} {c.error:>8.4f} {c.seconds:>7.3f}  "
                f"{_config_text(c.config)}"
            )
        return "\n".join(lines)


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


class _Matrix:
    """One matrix with every decomposition the families share, computed once on demand."""

    def __init__(
        self,
        W: np.ndarray,
        min_fill: float,
        splits: tuple,
        tol: float,
        maxiter: int,
        exhaustive: bool = False,
    ):
        self.W = W
        self.exhaustive = exhaustive
        self.m, self.n = W.shape
        self.norm_sq = float(np.vdot(W, W).real)
        self.min_fill = min_fill
        self.splits = splits
        self.tol = tol
        self.maxiter = maxiter
        self._sv: dict = {}
        self._monarch: dict = {}
        self._sorted_sq: np.ndarray | None = None
        self._runs: dict = {}
        self.probe = 3

    # -- shared decompositions -----------------------------------------------------------------
    def _timed(self, key, compute):
        if key in self._sv:
            return self._sv[key], 0.0
        t0 = time.perf_counter()
        self._sv[key] = compute()
        return self._sv[key], time.perf_counter() - t0

    def _err_from_tail(self, tail_sq: float) -> float:
        if self.norm_sq == 0.0:
            return 0.0
        return math.sqrt(max(tail_sq, 0.0) / self.norm_sq)

    def _tail(self, s: np.ndarray, keep: int) -> float:
        """Energy of the singular values past ``keep`` (along the last axis)."""
        return float(np.sum(np.asarray(s[..., keep:], dtype=np.float64) ** 2))

    def fits(self, nparams: int, budget: int) -> bool:
        return self.min_fill * budget <= nparams <= budget

    # -- candidates of the single families ------------------------------------------------------
    def lowrank(self, budget: int):
        r = min(budget // (self.m + self.n), min(self.m, self.n))
        if r < 1:
            return
        s, dt = self._timed("svd", lambda: np.linalg.svd(self.W, compute_uv=False))
        yield Candidate(
            "lowrank", {"rank": r}, r * (self.m + self.n), self._err_from_tail(self._tail(s, r)), dt
        )

    def monarch_configs(self, budget: int, fill: bool = True):
        mid = min(self.m, self.n)
        out: list[tuple[int, int] | None] = [None]
        for k in F.divisors(self.n):
            if mid % k:
                continue
            for l in F.divisors(self.m):
                if mid % l == 0 and (self.exhaustive or k == l):
                    out.append((k, l))
        seen = set()
        for nb in out:
            p = F.monarch_nparams(self.m, self.n, nb)
            key = F._monarch_geom(self.m, self.n, nb)
            if key in seen:
                continue
            seen.add(key)
            if p <= budget and (not fill or self.fits(p, budget)):
                yield nb, p

    def monarch_error(self, nb) -> tuple[float, float]:
        if nb in self._monarch:
            return self._monarch[nb], 0.0
        t0 = time.perf_counter()
        _, info = F._monarch_project(self.W, nb)
        self._monarch[nb] = float(info.error) if self.norm_sq > 0 else 0.0
        return self._monarch[nb], time.perf_counter() - t0

    def monarch(self, budget: int):
        for nb, p in self.monarch_configs(budget):
            err, dt = self.monarch_error(nb)
            yield Candidate("monarch", {"nblocks": nb}, p, err, dt)

    def blockdiag_configs(self, budget: int, fill: bool = True):
        for nb in F.divisors(math.gcd(self.m, self.n)):
            p = self.m * self.n // nb
            if p <= budget and (not fill or self.fits(p, budget)):
                yield nb, p

    def blockdiag_error(self, nb: int) -> tuple[float, float]:
        val, dt = self._timed(
            ("bd", nb),
            lambda: float(np.sum(np.abs(F._blockdiag_blocks(self.W, nb)).astype(np.float64) ** 2)),
        )
        return self._err_from_tail(self.norm_sq - val), dt

    def blockdiag(self, budget: int):
        for nb, p in self.blockdiag_configs(budget):
            err, dt = self.blockdiag_error(nb)
            yield Candidate("blockdiag", {"nblocks": nb}, p, err, dt)

    def block_lowrank(self, budget: int):
        for gr in F.divisors(self.m):
            for gc in F.divisors(self.n):
                if gr == gc == 1:
                    continue  # plain low rank
                if not self.exhaustive and gr != gc:
                    continue
                tm, tn = self.m // gr, self.n // gc
                k = min(budget // (gc * self.m + gr * self.n), min(tm, tn))
                if k < 1 or k == min(tm, tn):
                    continue  # full-rank tiles: no saving
                p = k * (gc * self.m + gr * self.n)
                if not self.fits(p, budget):
                    continue
                s, dt = self._timed(
                    ("tiles", gr, gc),
                    lambda gr=gr, gc=gc: np.linalg.svd(F._tiles(self.W, gr, gc), compute_uv=False),
                )
                yield Candidate(
                    "block_lowrank",
                    {"tiles": (gr, gc), "rank": k},
                    p,
                    self._err_from_tail(self._tail(s, k)),
                    dt,
                )

    def kronecker(self, budget: int):
        for m1 in F.divisors(self.m):
            if self.exhaustive:
                n1s = F.divisors(self.n)
            else:  # B keeps the aspect of A
                want = m1 * self.n / self.m
                n1s = [min(F.divisors(self.n), key=lambda d: (abs(math.log(d / want)), d))]
            for n1 in n1s:
                m2, n2 = self.m // m1, self.n // n1
                if (m1 == 1 and n2 == 1) or (n1 == 1 and m2 == 1):
                    continue  # an outer product: plain low rank
                per = m1 * n1 + m2 * n2
                t = min(budget // per, min(m1 * n1, m2 * n2))
                if t < 1 or min(m1 * n1, m2 * n2) == 1:
                    continue  # a scaled copy of A: no saving
                p = t * per
                if not self.fits(p, budget):
                    continue
                s, dt = self._timed(
                    ("kron", m1, n1),
                    lambda m1=m1, n1=n1: np.linalg.svd(
                        F._rearrange(self.W, m1, n1), compute_uv=False
                    ),
                )
                yield Candidate(
                    "kronecker",
                    {"factor_shape": (m1, n1), "nterms": t},
                    p,
                    self._err_from_tail(self._tail(s, t)),
                    dt,
                )

    def sparse_error(self, nnz: int) -> tuple[float, float]:
        dt = 0.0
        if self._sorted_sq is None:
            t0 = time.perf_counter()
            sq = np.sort((np.abs(self.W).astype(np.float64) ** 2).ravel())
            self._sorted_sq = np.concatenate([[0.0], np.cumsum(sq)])  # energy of the smallest j
            dt = time.perf_counter() - t0
        drop = self.W.size - nnz
        return self._err_from_tail(float(self._sorted_sq[drop])), dt

    def sparse(self, budget: int):
        nnz = min(budget // 2, self.W.size)
        if nnz < 1:
            return
        err, dt = self.sparse_error(nnz)
        yield Candidate("sparse", {"nnz": nnz}, 2 * nnz, err, dt)

    # -- sums -----------------------------------------------------------------------------------
    def _best_part(self, part: str, share: int):
        """The best single-family configuration of ``part`` within ``share`` parameters."""
        best = None
        if part == "monarch":
            for nb, p in self.monarch_configs(share, fill=False):
                err, _ = self.monarch_error(nb)
                if best is None or err < best[0]:
                    best = (err, {"nblocks": nb}, p)
        elif part == "blockdiag":
            for nb, p in self.blockdiag_configs(share, fill=False):
                err, _ = self.blockdiag_error(nb)
                if best is None or err < best[0]:
                    best = (err, {"nblocks": nb}, p)
        else:
            nnz = min(share // 2, self.W.size)
            if nnz >= 1:
                best = (self.sparse_error(nnz)[0], {"nnz": nnz}, 2 * nnz)
        return best

    def sums(self, family: str, budget: int):
        """Candidates of a sum: every split probed, the best one iterated to convergence."""
        part = family.split("+")[0]
        runs, tried = [], set()
        for f in self.splits:
            share = int(math.floor(f * budget))
            t0 = time.perf_counter()
            best = self._best_part(part, share)
            if best is None:
                continue
            _, cfg, p_struct = best
            r = min((budget - p_struct) // (self.m + self.n), min(self.m, self.n))
            key = (tuple(cfg.items()), r)
            if r < 1 or key in tried:
                continue
            tried.add(key)
            project, _ = F._part_projector(part, self.W, cfg.get("nblocks"), cfg.get("nnz"))
            info = F.AlternatingInfo()
            it = F._Alternation(self.W, project, r, info)
            it.run(self.tol, min(self.probe, self.maxiter))
            runs.append([it, cfg, p_struct, r, time.perf_counter() - t0])
        if not runs:
            return
        if len(runs) > 1 or not runs[0][0].info.converged:
            lead = min(runs, key=lambda x: x[0].info.errors[-1])
            t0 = time.perf_counter()
            lead[0].run(self.tol, self.maxiter)
            lead[4] += time.perf_counter() - t0
        for it, cfg, p_struct, r, seconds in runs:
            p_lr = r * (self.m + self.n)
            c = Candidate(
                family,
                {"part": cfg, "rank": r},
                p_struct + p_lr,
                it.info.errors[-1],
                seconds,
                split=(p_struct, p_lr),
                iterations=it.info.iterations,
            )
            self._runs[id(c)] = (part, it)
            yield c

    def candidates(self, family: str, budget: int):
        if family in SUM_FAMILIES:
            return list(self.sums(family, budget))
        return list(getattr(self, family)(budget))

    # -- the winner as an operator ---------------------------------------------------------------
    def build(self, c: Candidate):
        W, cfg = self.W, c.config
        if c.family == "lowrank":
            return F.best_lowrank(W, cfg["rank"])
        if c.family == "monarch":
            return F.best_monarch(W, cfg["nblocks"])
        if c.family == "blockdiag":
            return F.best_blockdiag(W, cfg["nblocks"])
        if c.family == "block_lowrank":
            return F.best_block_lowrank(W, cfg["tiles"], cfg["rank"])
        if c.family == "kronecker":
            return F.best_kronecker(W, cfg["factor_shape"], cfg["nterms"])
        if c.family == "sparse":
            return F.best_sparse(W, cfg["nnz"])
        part, it = self._runs[id(c)]
        _, build = F._part_projector(part, W, cfg["part"].get("nblocks"), cfg["part"].get("nnz"))
        return Sum(build(it.source), LowRank(it.U, it.V))


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
