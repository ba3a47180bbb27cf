"""Shared witness builders: DFT factors, permutations, sparse exact stages, Clos routing.

Index conventions (0-based; permutations as index arrays): ``(P x)[i] = x[perm[i]]``;
``P_(b,n) x = x.reshape(n/b, b).T.ravel()`` (``perm = stride_permutation(n/b, b)``).
In ``M^(b,n)`` a position is ``x = u b + g`` (``u < n/b``, ``g < b``).  A *strided stage*
``P_(b,n)^T diag(L_0..L_{b-1}) P_(b,n)`` mixes, for each residue ``g``, the positions
``u b + g`` through the ``(n/b) x (n/b)`` block ``L_g`` (indexed by ``u``); a *contiguous
stage* ``diag(C_0..C_{n/b-1})`` mixes the positions ``u b + g`` of one ``u`` through the
``b x b`` block ``C_u`` (indexed by ``g``).  A Monarch matrix of ``M^(b,n)`` (``structmat.Monarch``
geometry ``k = n/b, q = p = b, l = b, s = r = n/b``) is strided·contiguous, its adjoint
contiguous·strided, and ``M1 M2^H`` is strided·contiguous·strided.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from structmat.exact import ExactRing, MonomialMonarch, stride_permutation

__all__ = [
    "divisors",
    "proper_splits",
    "pbn",
    "dft_witness",
    "compose",
    "inverse",
    "Sparse",
    "Stages",
    "route",
    "RoutingError",
    "count_width",
]


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def proper_splits(n: int) -> list[int]:
    """Every ``b`` with ``1 < b < n`` and ``b | n``."""
    return [d for d in divisors(n) if 1 < d < n]


def pbn(b: int, n: int) -> np.ndarray:
    """Index array of ``P_(b,n)``: ``P x = x.reshape(n/b, b).T.ravel()``."""
    return stride_permutation(n // b, b)


def compose(p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
    """Index array of the product ``P1 P2`` (``(P1 P2 x)[i] = x[p2[p1[i]]]``)."""
    return np.asarray(p2)[np.asarray(p1)]


def inverse(p: np.ndarray) -> np.ndarray:
    """Index array of ``P^T``."""
    return np.argsort(np.asarray(p))


def dft_witness(n: int, b: int) -> MonomialMonarch:
    """The four-step FFT as a Monarch matrix: ``F_n P_(b,n) = P_(b,n)^T (I_b ⊗ F_q) P_(b,n) · diag_c(diag(w^(c r)) F_b)``.

    As ``structmat.Monarch(L, R)`` over ``Q(zeta_n)`` (``w = zeta_n^-1``):
    ``R[c][r, j] = w^(c r) w_b^(r j)`` (``q = n/b`` blocks of ``b x b``) and ``L[g] = F_q``
    (``b`` blocks of ``q x q``).
    """
    q = n // b
    c = np.arange(q)[:, None, None]
    r = np.arange(b)[None, :, None]
    j = np.arange(b)[None, None, :]
    Re = np.broadcast_to(-(c * r + q * r * j) % n, (q, b, b)).copy()
    d = np.arange(q)[:, None]
    cc = np.arange(q)[None, :]
    Le = np.broadcast_to((-b * d * cc) % n, (b, q, q)).copy()
    return MonomialMonarch(
        Le, np.ones_like(Le), Re, np.ones_like(Re), N=n, name=f"Monarch(F_{q}, D·F_{b})"
    )


# ----------------------------------------------------------------------------------------------
# sparse exact matrices (dict of rows) for stages and routings
# ----------------------------------------------------------------------------------------------


class Sparse:
    """A sparse exact ``n x n`` matrix over an :class:`ExactRing`: ``rows[i] = {j: value}``."""

    def __init__(self, n: int, ring: ExactRing, rows: dict | None = None):
        self.n = n
        self.ring = ring
        self.rows: dict[int, dict[int, Any]] = rows or {}

    def add(self, i: int, j: int, v: Any) -> None:
        r = self.rows.setdefault(int(i), {})
        r[int(j)] = self.ring.reduce(r.get(int(j), self.ring.zero) + v)
        if not r[int(j)]:
            del r[int(j)]

    def __matmul__(self, other: Sparse) -> Sparse:
        out = Sparse(self.n, self.ring)
        for i, row in self.rows.items():
            acc: dict[int, Any] = {}
            for k, a in row.items():
                for j, bv in other.rows.get(k, {}).items():
                    acc[j] = acc.get(j, self.ring.zero) + a * bv
            red = {j: self.ring.reduce(v) for j, v in acc.items()}
            red = {j: v for j, v in red.items() if v}
            if red:
                out.rows[i] = red
        return out

    def equals(self, other: Sparse):
        """``(True, None)`` or ``(False, (i, j, a, b))``."""
        keys = set(self.rows) | set(other.rows)
        for i in sorted(keys):
            a, b = self.rows.get(i, {}), other.rows.get(i, {})
            for j in sorted(set(a) | set(b)):
                x, y = a.get(j, self.ring.zero), b.get(j, self.ring.zero)
                if not self.ring.equal(x, y):
                    return False, (i, j, x, y)
        return True, None

    def nnz(self) -> int:
        return sum(len(r) for r in self.rows.values())

    @classmethod
    def permutation(cls, perm: np.ndarray, ring: ExactRing, values=None) -> Sparse:
        """``(P x)[i] = v_i x[perm[i]]``."""
        S = cls(len(perm), ring)
        for i, j in enumerate(np.asarray(perm).tolist()):
            S.rows[i] = {j: ring.one if values is None else values[i]}
        return S


class Stages:
    """Block lists of one routed ``strided · contiguous · strided`` product (see module doc).

    ``S1[g]`` and ``S2[g]`` are ``q x q`` blocks (dict ``{(u, u'): value}``) of the two
    strided stages, ``C[u]`` the ``b x b`` blocks (``{(h, g): value}``) of the contiguous one.
    """

    def __init__(self, n: int, b: int, ring: ExactRing):
        self.n, self.b, self.q, self.ring = n, b, n // b, ring
        self.S1 = [dict() for _ in range(b)]
        self.C = [dict() for _ in range(n // b)]
        self.S2 = [dict() for _ in range(b)]

    def strided(self, blocks) -> Sparse:
        M = Sparse(self.n, self.ring)
        for g, blk in enumerate(blocks):
            for (u, v), val in blk.items():
                M.add(u * self.b + g, v * self.b + g, val)
        return M

    def contiguous(self, blocks) -> Sparse:
        M = Sparse(self.n, self.ring)
        for u, blk in enumerate(blocks):
            for (h, g), val in blk.items():
                M.add(u * self.b + h, u * self.b + g, val)
        return M

    def product(self) -> Sparse:
        return self.strided(self.S1) @ self.contiguous(self.C) @ self.strided(self.S2)

    @staticmethod
    def dense_blocks(blocks, size: int, ring: ExactRing):
        out = []
        for blk in blocks:
            rows = [[ring.zero] * size for _ in range(size)]
            for (i, j), v in blk.items():
                rows[i][j] = v
            out.append(rows)
        return out


class RoutingError(ValueError):
    """The sparse matrix could not be routed through strided·contiguous·strided stages."""


def route(Y: Sparse, b: int) -> Stages:
    """Write a sparse ``Y`` whose support splits into components of at most 2 inputs and
    2 outputs (permutations, monomial matrices, the DCT's ``D_- + D_+ J``) as
    ``strided · contiguous · strided`` (a Clos network with ``n/b`` middle switches).

    Components are mixed in the contiguous stage (a middle switch) when their inputs and
    outputs lie in distinct residue groups, otherwise in a strided stage; switches are then
    assigned so that each (group, switch) port is used once: two-element components first
    (first fit), single paths by successive perfect matchings of the remaining port graph
    (``scipy.sparse.csgraph.maximum_bipartite_matching``; for a permutation this is the
    Slepian–Duguid/König construction).  Raises :class:`RoutingError` when the assignment
    fails.  The result is only a candidate: callers verify ``S1 C S2 == Y`` exactly.
    """
    n, ring = Y.n, Y.ring
    if n % b:
        raise RoutingError(f"b={b} must divide n={n}")
    q = n // b
    grp = lambda x: x % b
    pos = lambda x: x // b
    # bipartite components of the support
    cols: dict[int, dict[int, Any]] = {}
    for i, row in Y.rows.items():
        for j, v in row.items():
            cols.setdefault(j, {})[i] = v
    seen_in: set[int] = set()
    comps = []
    for x0 in sorted(cols):
        if x0 in seen_in:
            continue
        ins, outs = {x0}, set()
        frontier = [("in", x0)]
        while frontier:
            side, v = frontier.pop()
            if side == "in":
                for y in cols.get(v, {}):
                    if y not in outs:
                        outs.add(y)
                        frontier.append(("out", y))
            else:
                for x in Y.rows.get(v, {}):
                    if x not in ins:
                        ins.add(x)
                        frontier.append(("in", x))
        seen_in |= ins
        if len(ins) > 2 or len(outs) > 2 or len(ins) != len(outs):
            raise RoutingError(
                f"component with inputs {sorted(ins)} and outputs {sorted(outs)} is not 1x1 or 2x2"
            )
        comps.append((sorted(ins), sorted(outs)))
    if len(seen_in) != n:
        raise RoutingError("Y is singular (a zero column)")
    st = Stages(n, b, ring)
    used_in = np.zeros((b, q), dtype=bool)  # S2 port (group, switch)
    used_out = np.zeros((b, q), dtype=bool)  # S1 port (group, switch)
    singles = []  # (g_in, h_out, fill(u)) ; fill writes the stage entries once u is known
    mixes = []  # deferred S2/S1 mixing entries needing the switches of linked singles

    def val(y, x):
        return Y.rows.get(y, {}).get(x, ring.zero)

    doubles = []
    for ins, outs in comps:
        if len(ins) == 1:
            x, y = ins[0], outs[0]
            v = val(y, x)
            singles.append([grp(x), grp(y), ("plain", x, y, v), None])
            continue
        gi = {grp(x) for x in ins}
        go = {grp(y) for y in outs}
        if len(gi) == 2 and len(go) == 2:
            doubles.append((ins, outs))
        elif len(gi) == 1:
            # mix in S2 (group g): two linked singles from g to the outputs' groups
            g = grp(ins[0])
            link = {"ins": ins, "outs": outs, "u": [None, None], "where": "S2"}
            for a, y in enumerate(outs):
                singles.append([g, grp(y), ("linkS2", link, a), None])
            mixes.append(link)
        else:
            # inputs in two groups, outputs share one: mix in S1
            h = grp(outs[0])
            link = {"ins": ins, "outs": outs, "u": [None, None], "where": "S1"}
            for bi, x in enumerate(ins):
                singles.append([grp(x), h, ("linkS1", link, bi), None])
            mixes.append(link)
    # two-element components through one switch (first fit)
    for ins, outs in doubles:
        g = [grp(x) for x in ins]
        h = [grp(y) for y in outs]
        for u in range(q):
            if not (used_in[g, u].any() or used_out[h, u].any()):
                break
        else:
            raise RoutingError("no free middle switch for a 2x2 component")
        used_in[g, u] = True
        used_out[h, u] = True
        for bi, x in enumerate(ins):
            st.S2[g[bi]][(u, pos(x))] = ring.one
            for a, y in enumerate(outs):
                v = val(y, x)
                if v:
                    st.C[u][(h[a], g[bi])] = v
        for a, y in enumerate(outs):
            st.S1[h[a]][(pos(y), u)] = ring.one
    # single paths: successive perfect matchings between free in-groups and out-groups
    pending: dict[tuple[int, int], list] = {}
    for s in singles:
        pending.setdefault((s[0], s[1]), []).append(s)
    for u in range(q):
        fin = [g for g in range(b) if not used_in[g, u]]
        fout = [h for h in range(b) if not used_out[h, u]]
        if len(fin) != len(fout):
            raise RoutingError("unbalanced free ports")
        if not fin:
            continue
        avail = np.zeros((len(fin), len(fout)), dtype=np.int8)
        for a, g in enumerate(fin):
            for c, h in enumerate(fout):
                if pending.get((g, h)):
                    avail[a, c] = 1
        match = maximum_bipartite_matching(csr_matrix(avail), perm_type="column")
        if (match < 0).any():
            raise RoutingError(f"no perfect matching of free ports at switch {u}")
        for a, c in enumerate(match.tolist()):
            g, h = fin[a], fout[c]
            s = pending[(g, h)].pop()
            s[3] = u
            used_in[g, u] = True
            used_out[h, u] = True
    if any(v for v in pending.values()):
        raise RoutingError("unrouted single paths remain")
    for g, h, how, u in singles:
        if how[0] == "plain":
            _, x, y, v = how
            st.S2[g][(u, pos(x))] = ring.one
            st.C[u][(h, g)] = v
            st.S1[h][(pos(y), u)] = ring.one
        elif how[0] == "linkS2":
            how[1]["u"][how[2]] = u
            st.C[u][(h, g)] = ring.one
            y = how[1]["outs"][how[2]]
            st.S1[h][(pos(y), u)] = ring.one
        else:
            how[1]["u"][how[2]] = u
            x = how[1]["ins"][how[2]]
            st.S2[g][(u, pos(x))] = ring.one
            st.C[u][(h, g)] = ring.one
    for link in mixes:
        ins, outs, us = link["ins"], link["outs"], link["u"]
        if link["where"] == "S2":
            g = grp(ins[0])
            for a, y in enumerate(outs):
                for x in ins:
                    v = val(y, x)
                    if v:
                        st.S2[g][(us[a], pos(x))] = v
        else:
            h = grp(outs[0])
            for _a, y in enumerate(outs):
                for bi, x in enumerate(ins):
                    v = val(y, x)
                    if v:
                        st.S1[h][(pos(y), us[bi])] = v
    return st


def count_width(pattern: str) -> int:
    """Smallest ``w`` with the stage pattern (left to right, letters ``S`` strided and ``C``
    contiguous, adjacent equal letters already merged) inside ``(M M*)^w``: each factor of
    ``M M*`` is ``S C S`` (identity stages allowed).

    Examples
    --------
    >>> count_width("SCSCS"), count_width("SC"), count_width("SCSCSCS"), count_width("CSC")
    (2, 1, 3, 2)
    """
    w = 0
    i = 0
    p = pattern
    while i < len(p):
        # one factor S C S greedily covers the longest prefix of the form [S][C][S]
        w += 1
        if p[i] == "S":
            i += 1
        if i < len(p) and p[i] == "C":
            i += 1
        if i < len(p) and p[i] == "S":
            i += 1
    return w


# ----------------------------------------------------------------------------------------------
# admissible sizes (for sizes named on the command line)
# ----------------------------------------------------------------------------------------------


def composite(n: int) -> str | None:
    """``None`` if ``n`` has a split ``n = b q`` with ``b, q >= 2``, else the reason.

    Examples
    --------
    >>> composite(12) is None, composite(7)
    (True, 'n = 7 has no split n = b·q with b, q >= 2')
    """
    return None if proper_splits(n) else f"n = {n} has no split n = b·q with b, q >= 2"


def power_of_two(n: int, minimum: int = 4) -> str | None:
    """``None`` if ``n`` is a power of 2 at least ``minimum``."""
    if n >= minimum and n & (n - 1) == 0:
        return None
    return f"n = {n} is not a power of 2 >= {minimum}"


def square(n: int) -> str | None:
    """``None`` if ``n = m^2`` with ``m >= 2``."""
    m = math.isqrt(n)
    return None if m >= 2 and m * m == n else f"n = {n} is not a square m^2 (m >= 2)"


def even(n: int) -> str | None:
    return None if n % 2 == 0 and n >= 4 else f"n = {n} is not even (>= 4)"


def admits(*tests, limit: int | None = None, why: str = "") -> Any:
    """Combine size tests (each ``n -> reason or None``) and an optional cost limit.

    Examples
    --------
    >>> f = admits(composite, square, limit=64, why="symbolic entries")
    >>> f(16) is None, f(12), f(100)
    (True, 'n = 12 is not a square m^2 (m >= 2)', 'n = 100 > 64: symbolic entries')
    """

    def check(n: int):
        for t in tests:
            r = t(n)
            if r:
                return r
        if limit is not None and n > limit:
            return f"n = {n} > {limit}: {why}" if why else f"n = {n} > {limit}"
        return None

    return check
