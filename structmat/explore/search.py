"""The search over one matrix: its SVD and sorted energies computed once, and the best
configuration of every family within a parameter budget, split budgets for the sums.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..ops.lowrank import LowRank
from ..ops.sum import Sum
from . import families as F
from .results import SUM_FAMILIES, Candidate


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
