"""Closure facts of the paper's appendix: Theorem 3, the direction of ``P_(b,n)``, Proposition 13, non-closure."""

from __future__ import annotations

import math
import random

from structmat.exact import (
    ExactBlockDiagonal,
    ExactMonarch,
    ExactPermutation,
    ExactProduct,
    ExactRing,
    exact_equal,
    monarch_symbol_names,
    rank_at_most_one,
    stride_permutation,
    symbolic_monarch,
)

from ._common import admits, composite, inverse, pbn, proper_splits, square
from ._core import Claim, Outcome
from .structure import _slab_rows, _slabs, rank1_geometry

# -- Theorem 3 ----------------------------------------------------------------------------------


def _thm3_items(n: int, negative: bool = False):
    items = []
    for b in proper_splits(n):
        q = n // b
        # L: q x q grid of b x b diagonal blocks; entry x[u, v, r] at (u b + r, v b + r)
        entries = [
            ((u * b + r, v * b + r), f"x{u}_{v}_{r}")
            for u in range(q)
            for v in range(q)
            for r in range(b)
        ]
        perm = pbn(b, n)
        how = "P_(b,n)"
        if negative:
            if b != q:
                perm = stride_permutation(b, q)  # the "reshape to b x n/b" reading
                how = "P' (b x n/b reading)"
            else:
                entries = entries + [((0, 1), "y")]  # a non-diagonal entry in block (0, 0)
                how = "L with an off-diagonal entry"
        items.append((b, perm, entries, how))
    return items


def check_thm3(items, n: int) -> Outcome:
    for b, perm, entries, how in items:
        q = n // b
        inv = inverse(perm)
        blocks: dict[int, set] = {}
        for (i, j), label in entries:
            # (P L P^T)[s, t] = L[perm[s], perm[t]]: entry (i, j) of L lands at (inv[i], inv[j])
            s, t = int(inv[i]), int(inv[j])
            if s // q != t // q:
                return Outcome(
                    False,
                    f"b={b} ({how}): entry {label} of L lands at ({s}, {t}), outside the "
                    f"{q}x{q} diagonal blocks",
                )
            blocks.setdefault(s // q, set()).add(label)
        if len(blocks) != b:
            return Outcome(False, f"b={b}: expected {b} blocks, got {len(blocks)}")
    return Outcome(
        True,
        f"P_(b,n) L P_(b,n)^T is block-diagonal (b blocks of n/b) for every split b in "
        f"{[it[0] for it in items]} (every symbolic entry of L traced by the index map)",
    )


# -- the direction of P_(b,n) ------------------------------------------------------------------


def _pbn_items(n: int, negative: bool = False):
    items = []
    for b in proper_splits(n):
        q = n // b
        geometry = (q, b, b, b, q, q)
        ring = ExactRing(1, monarch_symbol_names(geometry))
        M = symbolic_monarch(ring, geometry)
        perm = pbn(b, n)
        P = ExactPermutation(perm, ring)
        formula = ExactProduct(P.H, M.Lbd, P, M.Rbd)
        how = "P_(b,n)^T diag(L) P_(b,n) diag(R)"
        if negative:
            if b != q:
                Pw = ExactPermutation(stride_permutation(b, q), ring)
                formula = ExactProduct(Pw.H, M.Lbd, Pw, M.Rbd)
                how = "the b x n/b reading"
            else:
                formula = ExactProduct(M.Rbd, P.H, M.Lbd, P)
                how = "factors in the wrong order"
        items.append((b, M, formula, how))
    return items


def check_pbn(items, n: int) -> Outcome:
    for b, M, formula, how in items:
        ok, diff = exact_equal(M, formula)
        if not ok:
            return Outcome(
                False, f"b={b}: {how} differs from structmat's Monarch(L, R) at entry {diff[:2]}"
            )
    return Outcome(
        True,
        f"P_(b,n)^T diag(L^) P_(b,n) diag(R) with P_(b,n) x = x.reshape(n/b, b).T.ravel() equals "
        f"structmat's four-step Monarch(L^, R) symbolically for b in {[it[0] for it in items]}",
    )


# -- Proposition 13 ------------------------------------------------------------------------------


def _blocks_mul_adj(X, Y, ring):
    """Blockwise ``X_a Y_a^H`` of two block lists (DomainMatrix blocks)."""
    out = []
    for A, B in zip(X, Y):
        Bh = [[ring.conj(v) for v in col] for col in zip(*B.to_list())]
        prod = A.to_list()
        rows = [
            [
                ring.reduce(sum((prod[i][k] * Bh[k][j] for k in range(len(Bh))), ring.zero))
                for j in range(len(Bh[0]))
            ]
            for i in range(len(prod))
        ]
        out.append(rows)
    return out


def _prop13(n: int, negative: bool = False):
    m = math.isqrt(n)
    if m * m != n:
        raise ValueError(f"Proposition 13 is stated for square n = m^2; got {n}")
    g = (m,) * 6
    ring = ExactRing(
        1, monarch_symbol_names(g, "A") + monarch_symbol_names(g, "B"), complex_symbols=True
    )
    M1 = symbolic_monarch(ring, g, "A")
    M2 = symbolic_monarch(ring, g, "B")
    P = ExactPermutation(stride_permutation(m, m), ring)
    R = _blocks_mul_adj(M2.R, M1.R, ring) if negative else _blocks_mul_adj(M1.R, M2.R, ring)
    L2h = M2.Lbd.H
    three = ExactProduct(P.H, M1.Lbd, P, ExactBlockDiagonal(R, ring), P.H, L2h, P)
    # converse: (P^T L1 P) R (P^T L2 P) = M1' M2'^H with M1' = Monarch(L1, R), M2' = Monarch(L2^H, I)
    Rsym = M2.Rbd  # an arbitrary symbolic block-diagonal R
    lhs2 = ExactProduct(P.H, M1.Lbd, P, Rsym, P.H, M2.Lbd, P)
    M1p = ExactMonarch(M1.Lbd, Rsym, ring)
    M2p = ExactMonarch(M2.Lbd.H, ExactMonarch.identity(n, ring).Rbd, ring)
    return ring, ExactProduct(M1, M2.H), three, lhs2, ExactProduct(M1p, M2p.H), negative


def check_prop13(w, n: int) -> Outcome:
    ring, lhs, three, lhs2, rhs2, negative = w
    ok, diff = exact_equal(lhs, three)
    if not ok:
        return Outcome(False, f"M1 M2^H differs from (P^T L1 P)(R1 R2^H)(P^T L2^H P) at {diff[:2]}")
    ok, diff = exact_equal(lhs2, rhs2)
    if not ok:
        return Outcome(
            False,
            f"(P^T L1 P) R (P^T L2 P) differs from Monarch(L1, R) Monarch(L2^H, I)^H at {diff[:2]}",
        )
    return Outcome(
        True,
        f"M1 M2^H = (P^T L1 P)(R1 R2^H)(P^T L2^H P) and conversely, with complex symbolic blocks "
        f"({len(ring.symbol_names)} symbols and their conjugates)",
    )


# -- non-closure -----------------------------------------------------------------------------------


def _rand_monarch(n: int, ring, seed: int) -> ExactMonarch:
    rnd = random.Random(seed)
    g = rank1_geometry(n)
    k, q, p, l, s, r = g
    L = [[[rnd.randint(-3, 3) for _ in range(r)] for _ in range(s)] for _ in range(l)]
    R = [[[rnd.randint(-3, 3) for _ in range(p)] for _ in range(q)] for _ in range(k)]
    return ExactMonarch(L, R, ring)


def _nonclosure(n: int, negative: bool = False):
    ring = ExactRing(1)
    M1, M2 = _rand_monarch(n, ring, 1), _rand_monarch(n, ring, 2)
    if negative:
        # M1 times a block-diagonal matrix stays Monarch
        return (
            ring,
            n,
            [
                ("M1 · diag(R2)", ExactProduct(M1, M2.Rbd)),
                ("M2 · diag(R1)", ExactProduct(M2, M1.Rbd)),
            ],
        )
    return ring, n, [("M1 M2", ExactProduct(M1, M2)), ("M1^T", M1.H)]


def _find_rank2(D, geometry, ring):
    for a, b, _conn in _slabs(geometry):
        ok, wit = rank_at_most_one(_slab_rows(D, geometry, a, b), ring)
        if not ok:
            return (a, b), wit
    return None, None


def check_nonclosure(w, n: int) -> Outcome:
    ring, n, items = w
    g = rank1_geometry(n)
    msgs = []
    for label, X in items:
        D = X.to_dense().to_list()
        slab, wit = _find_rank2(D, g, ring)
        if slab is None:
            return Outcome(False, f"{label}: every slab has rank <= 1, so it is Monarch")
        msgs.append(f"{label}: slab {slab} has the nonzero 2x2 minor {wit[-1].as_expr()}")
    return Outcome(
        True, "integer Monarch matrices: " + "; ".join(msgs) + " (M is closed under neither)"
    )


CLAIMS = [
    Claim(
        name="theorem3",
        item="appendix Theorem 3",
        statement="P_(b,n) L P_(b,n)^T is block-diagonal (b blocks of n/b) for L a grid of diagonal b x b blocks",
        method="index maps on symbolic entries",
        quick=(4, 6, 8, 12),
        full=(4, 6, 8, 12, 16, 24, 36, 64, 96, 256),
        witness=_thm3_items,
        check=check_thm3,
        negative=lambda n: _thm3_items(n, negative=True),
        negative_label="the b x n/b reading (or, for b = √n, an off-diagonal entry)",
        admits=admits(composite, limit=4096, why="one symbolic entry per index"),
    ),
    Claim(
        name="pbn-direction",
        item="appendix, definition of M^(b,n)",
        statement="M^(b,n) = P_(b,n)^T diag(L^) P_(b,n) diag(R) with P_(b,n) x = x.reshape(n/b, b).T.ravel() "
        "is structmat's Monarch(L^, R); the b x n/b reading is not",
        method="SymPy polynomials, structured products",
        quick=(6, 8),
        full=(6, 8, 12, 16, 24),
        witness=_pbn_items,
        check=check_pbn,
        negative=lambda n: _pbn_items(n, negative=True),
        negative_label="the b x n/b reading (or wrong factor order for b = √n)",
        admits=admits(composite, limit=36, why="dense symbolic products"),
    ),
    Claim(
        name="prop13",
        item="appendix Proposition 13",
        statement="every M1 M2^H equals (P^T L1 P) R (P^T L2 P), and conversely (Proposition 13)",
        method="SymPy polynomials with conjugate symbols",
        quick=(4, 9),
        full=(4, 9, 16),
        witness=_prop13,
        check=check_prop13,
        negative=lambda n: _prop13(n, negative=True),
        negative_label="R = R2^H R1 (wrong order)",
        admits=admits(square, limit=16, why="products of complex symbolic blocks"),
    ),
    Claim(
        name="non-closure",
        item="§3 (M is not a group)",
        statement="M is not closed under products or transposes (a slab of rank > 1)",
        method="exact integers: nonzero 2x2 slab minor",
        quick=(4, 9),
        full=(4, 9, 16, 36, 64),
        witness=_nonclosure,
        check=check_nonclosure,
        negative=lambda n: _nonclosure(n, negative=True),
        negative_label="Monarch · block-diagonal (a member) claimed outside M",
        admits=admits(composite, limit=64, why="dense exact products"),
    ),
]
