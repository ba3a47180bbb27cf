"""The slab layout of a Monarch geometry: views of a dense matrix as its slabs, the plan of a
projection (slab ranks, solvers, pool positions), and the map between factors and slabs.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .. import _backend as B
from ..geometry import (
    l_middle_index,
    slab_columns,
    slab_ranks,
)
from .options import current_options


class _Plan:
    """Host-side bookkeeping of one projection geometry."""

    def __init__(self, geometry):
        k, q, p, l, s, r = geometry
        self.geometry = geometry
        self.ranks = slab_ranks(k, q, l)
        self.mp = min(s, p)
        self.right = p <= s  # Gram S^H S (p x p) when True, S S^H (s x s) otherwise
        eff = np.minimum(self.ranks, self.mp)
        self.eff = eff
        self.rho_max = int(eff.max())
        flat = eff.reshape(-1)
        self.exact = (self.ranks >= self.mp).reshape(-1)
        self.zero = flat == 0
        self.solve_ranks = sorted({int(x) for x in flat[~self.exact & ~self.zero]})
        # pool positions of every middle index t (column m of slab z); columns beyond the
        # slab's order (more middle indices than the slab has rows or columns) stay zero
        z, m = slab_columns(geometry)
        pos = np.where(m < eff.reshape(-1)[z], z * self.rho_max + m, -1)
        self.posR = pos  # R[a, i] <- pool[pos[a q + i]]
        self.posL = pos[l_middle_index(geometry)]  # L[b, :, c] <- pool[posL[b r + c]]
        for arr in (self.ranks, self.eff, self.exact, self.zero, self.posR, self.posL):
            arr.setflags(write=False)  # shared between projections (see _plan_for)

    def solver_for(self, rho: int, m: int, steps: int) -> str:
        """``"lanczos"`` for rank-1 slabs of order >= 32 with ``steps`` <= 0.625 of the order
        (plain Lanczos stays reliable there and beats a batched ``eigh`` several times over),
        ``"eigh"`` otherwise."""
        if rho == 1 and m >= max(current_options().lanczos_min_order, math.ceil(1.6 * steps)):
            return "lanczos"
        return "eigh"

    def gather_index(self, nb: int, pos: np.ndarray) -> np.ndarray:
        """Pool indices for ``nb`` matrices; ``-1`` entries point at the trailing zero row."""
        k, _, _, l, _, _ = self.geometry
        per = k * l * self.rho_max
        total = nb * per
        offs = (np.arange(nb) * per)[:, None]
        idx = np.where(pos[None, :] >= 0, pos[None, :] + offs, total)
        return idx.reshape(-1)


@functools.lru_cache(maxsize=16)
def _plan_for(geometry: tuple[int, int, int, int, int, int]) -> _Plan:
    """The :class:`_Plan` of ``geometry``, kept for the next projection of that geometry (its
    arrays are read-only)."""
    return _Plan(tuple(int(x) for x in geometry))


def _gather_slabs(xp, S5, zs: np.ndarray):
    """The slabs with flat indices ``zs`` (over ``(nb, k, l)``) of the view ``S5``, stacked."""
    nb, k, l = S5.shape[:3]
    ee, aa, bb = np.unravel_index(zs, (nb, k, l))
    if B.is_numpy(xp):
        return S5[ee, aa, bb]  # one gather in C
    return xp.stack([S5[int(e_), int(a_), int(b_), ...] for e_, a_, b_ in zip(ee, aa, bb)])
