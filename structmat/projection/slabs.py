"""The slab layout of a Monarch geometry: views of a dense matrix as its slabs, the plan of a
projection (slab ranks, solvers, pool positions), and the map between factors and slabs.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _backend as B
from ..ops.monarch import Monarch, slab_ranks
from .options import current_options


class _Plan:
    """Host-side bookkeeping of one projection geometry."""

    def __init__(self, geometry):
        k, q, p, l, s, r = geometry
        self.geometry = geometry
        self.ranks = slab_ranks(k, q, l)
        self.mp = min(s, p)
        self.right = p <= s          # Gram S^H S (p x p) when True, S S^H (s x s) otherwise
        eff = np.minimum(self.ranks, self.mp)
        self.eff = eff
        self.rho_max = int(eff.max())
        flat = eff.reshape(-1)
        self.exact = (self.ranks >= self.mp).reshape(-1)
        self.zero = flat == 0
        self.solve_ranks = sorted({int(x) for x in flat[~self.exact & ~self.zero]})
        # pool positions of every middle index t: slab z = a l + b, column m = i div l
        t = np.arange(k * q)
        a, i = t // q, t % q
        b = t % l
        z = a * l + b
        m = i // l
        pos = z * self.rho_max + m
        pos = np.where(m < eff[a, b], pos, -1)          # beyond the slab's order: zero
        self.posR = pos                                   # R[a, i] <- pool[pos[a q + i]]
        order_L = (np.arange(r)[None, :] * l + np.arange(l)[:, None]).reshape(-1)  # t for (b, c)
        self.posL = pos[order_L]                          # L[b, :, c] <- pool[posL[b r + c]]

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


def _gather_slabs(xp, S5, zs: np.ndarray):
    """The slabs with flat indices ``zs`` (over ``(nb, k, l)``) of the view ``S5``, stacked."""
    nb, k, l = S5.shape[:3]
    ee, aa, bb = np.unravel_index(zs, (nb, k, l))
    if B.is_numpy(xp):
        return S5[ee, aa, bb]                       # one gather in C
    return xp.stack([S5[int(e_), int(a_), int(b_), ...] for e_, a_, b_ in zip(ee, aa, bb)])


def _slabs(xp, A3, geometry):
    """``(nb, k, l, s, p)`` view of ``A3 (nb, n_out, n_in)``: ``S[e, a, b] = A[e, {d l + b}, {a p + j}]``."""
    k, q, p, l, s, r = geometry
    nb = A3.shape[0]
    return xp.permute_dims(xp.reshape(A3, (nb, s, l, k, p)), (0, 3, 2, 1, 4))


def _slab_slots(geometry):
    """Slab layout of a Monarch geometry.

    Returns ``(rmax, slot)``: middle index ``t`` lives in slab ``z = a l + b`` at column
    ``m = i div l`` (``a = t div q``, ``i = t mod q``, ``b = t mod l``), i.e. at position
    ``slot[t] = z * rmax + m`` of a ``(k, l, rmax)`` grid, ``rmax`` the largest slab rank.
    """
    k, q, p, l, s, r = geometry
    rmax = int(slab_ranks(k, q, l).max())
    t = np.arange(k * q)
    a, i = t // q, t % q
    b = t % l
    return rmax, (a * l + b) * rmax + i // l


def _monarch_slab_factors(xp, M: Monarch):
    """``(Lslab (k, l, s, rmax), Rslab (k, l, rmax, p))`` with ``slab(a, b) = Lslab @ Rslab``.

    Unused columns / rows (slabs of rank below ``rmax``) are zero.
    """
    k, q, p, l, s, r = M.geometry
    rmax, slot = _slab_slots(M.geometry)
    src_t = np.full(k * l * rmax, k * q, dtype=np.int64)    # default: the zero row
    src_t[slot] = np.arange(k * q)
    # L column of t: L[b, :, c] (t = c l + b); R row of t: R[a, i, :] (t = a q + i)
    Lt = xp.reshape(xp.permute_dims(M.L, (2, 0, 1)), (r * l, s))
    Rt = xp.reshape(M.R, (k * q, p))
    Lt = xp.concat([Lt, xp.zeros((1, s), dtype=M.L.dtype)], axis=0)
    Rt = xp.concat([Rt, xp.zeros((1, p), dtype=M.R.dtype)], axis=0)
    idx = xp.asarray(src_t)
    Lslab = xp.permute_dims(xp.reshape(xp.take(Lt, idx, axis=0), (k, l, rmax, s)), (0, 1, 3, 2))
    Rslab = xp.reshape(xp.take(Rt, idx, axis=0), (k, l, rmax, p))
    return Lslab, Rslab


def _monarch_from_slabs(xp, Lslab, Rslab, geometry) -> Monarch:
    """Inverse of :func:`_monarch_slab_factors` (padding entries are ignored)."""
    k, q, p, l, s, r = geometry
    rmax, slot = _slab_slots(geometry)
    poolL = xp.reshape(xp.matrix_transpose(Lslab), (k * l * rmax, s))
    poolR = xp.reshape(Rslab, (k * l * rmax, p))
    order_L = (np.arange(r)[None, :] * l + np.arange(l)[:, None]).reshape(-1)   # t of (b, c)
    L = xp.take(poolL, xp.asarray(slot[order_L]), axis=0)
    L = xp.permute_dims(xp.reshape(L, (l, r, s)), (0, 2, 1))
    R = xp.reshape(xp.take(poolR, xp.asarray(slot), axis=0), (k, q, p))
    return Monarch(L, R)
