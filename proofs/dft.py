"""The DFT (Proposition 3.2 of the paper): the DFT is not Monarch, ``F_n P`` is, and ``F_n ∈ (M M*)^2``.

Entries are roots of unity handled exactly by the vectorised monomial path of
:mod:`structmat.exact` (canonical ``(coefficient, exponent mod N)`` pairs), permutations by
index maps, routed stages by sparse exact matrices.
"""

from __future__ import annotations

import math

import numpy as np

from structmat.exact import (
    ExactRing,
    MonomialMatrix,
    modular_slab_ranks,
    monomial_equal,
    slab_rank_one,
    stride_permutation,
)

from ._common import (
    Sparse,
    Stages,
    admits,
    compose,
    composite,
    count_width,
    dft_witness,
    inverse,
    pbn,
    proper_splits,
    route,
    square,
)
from ._core import Claim, Control, Outcome

QUICK = (4, 9, 12, 16, 36, 45, 256)
FULL = (4, 9, 12, 16, 36, 45, 64, 256, 1024, 4096, 24, 96, 768)
SQUARE_QUICK = (4, 16, 256)
SQUARE_FULL = (4, 16, 64, 256, 1024, 4096)


def _fmt_minor(w) -> str:
    (c1, e1), (c2, e2) = w["products"]
    return f"slab {w['slab']}: rows {w['rows']}, cols {w['cols']}: {c1}·ζ^{e1} − {c2}·ζ^{e2} ≠ 0 (N={w['N']})"


# -- F_n ∉ M^(b,n), P F_n ∉ M^(b,n) --------------------------------------------------------------


def _nonmembers(n: int):
    F = MonomialMatrix.dft(n)
    return [(b, f"F_{n}", F) for b in proper_splits(n)] + [
        (b, f"P_({b},{n}) F_{n}", F.permute_rows(pbn(b, n))) for b in proper_splits(n)
    ]


def _members(n: int):
    F = MonomialMatrix.dft(n)
    return [(b, f"F_{n} P_({b},{n})", F.permute_columns(pbn(b, n))) for b in proper_splits(n)]


def check_not_monarch(items, n: int) -> Outcome:
    first = None
    for b, label, A in items:
        ok, w = slab_rank_one(A, b)
        if ok:
            return Outcome(
                False, f"{label}: every slab of M^({b},{n}) has rank <= 1 (no nonzero 2x2 minor)"
            )
        first = first or f"{label}, b={b}: {_fmt_minor(w)}"
    summary = (
        f"{len(items)} (matrix, split) pairs each exhibit a nonzero 2x2 slab minor; e.g. {first}"
    )
    extra = {}
    if n <= 1024 and any(lbl == f"F_{n}" for _, lbl, _ in items):
        b = min(proper_splits(n), key=lambda d: (abs(d - math.isqrt(n)), d))
        ranks, p = modular_slab_ranks(MonomialMatrix.dft(n), b)
        full = min(b, n // b)
        if int(ranks.min()) != full:
            return Outcome(False, f"slab ranks mod p={p} below {full}: min {int(ranks.min())}")
        summary += f"; all {ranks.size} slabs of F_{n} in M^({b},{n}) have rank exactly {full} (mod-p lower bound, p={p})"
        extra["slab_rank"] = full
    return Outcome(True, summary, extra)


# -- F_n P_(b,n) ∈ M^(b,n) -------------------------------------------------------------------------


def _split_witness(n: int):
    F = MonomialMatrix.dft(n)
    return [(b, F.permute_columns(pbn(b, n)), dft_witness(n, b)) for b in proper_splits(n)]


def _split_negative(n: int):
    F = MonomialMatrix.dft(n)
    return [(b, F.permute_rows(pbn(b, n)), dft_witness(n, b)) for b in proper_splits(n)]


def check_split(items, n: int) -> Outcome:
    if not items:
        return Outcome(False, f"no split of n = {n}")
    for b, target, W in items:
        ok, diff = monomial_equal(target, W)
        if not ok:
            return Outcome(
                False,
                f"b={b}: entry {diff[:2]} differs: target {diff[2]} vs Monarch {diff[3]} (coef, exp)",
            )
    bs = [b for b, _, _ in items]
    return Outcome(
        True, f"F_{n} P_(b,{n}) = Monarch(L=I_b⊗F_(n/b), R=diag(D_c F_b)) entrywise for b in {bs}"
    )


# -- the stride permutation in M M* ------------------------------------------------


def _perm_of_block(blk: dict, size: int):
    """Index array of a 0/1 block given as {(i, j): value}; None if not a permutation matrix."""
    sigma = -np.ones(size, dtype=np.int64)
    for (i, j), v in blk.items():
        if v != 1 or sigma[i] >= 0:
            return None
        sigma[i] = j
    if (sigma < 0).any() or len(set(sigma.tolist())) != size:
        return None
    return sigma


def stride_mmstar_witness(n: int, ring: ExactRing, swap: bool = False) -> Stages:
    """The stride permutation for ``n = m^2``: ``P = M1 M2^H``, ``M1 = P L1 P^T B``, ``M2 = P L2 P^T``.

    ``t = (i + j) mod m``: column ``t`` of block ``i`` of ``L1`` is ``e_j``; row ``t`` of block
    ``j`` of ``L2^H`` is ``e_i^T``; ``B = P D P^T`` with ``D``'s ``(i, j)`` block ``e_t e_t^T``.
    Returned as strided·contiguous·strided stages (``S1 = L1``, ``C = B``'s blocks,
    ``S2 = L2^H``); ``swap`` exchanges two columns of ``L1``'s block 0 (a negative control).
    """
    m = math.isqrt(n)
    if m * m != n:
        raise ValueError(f"the stride-permutation witness needs n = m^2; got {n}")
    st = Stages(n, m, ring)
    for i in range(m):
        for t in range(m):
            j = (t - i) % m
            st.S1[i][(j, t)] = ring.one
    if swap and m > 1:
        b0 = st.S1[0]
        cols = {(r, {0: 1, 1: 0}.get(c, c)): v for (r, c), v in b0.items()}
        st.S1[0] = cols
    for j in range(m):
        for t in range(m):
            i = (t - j) % m
            st.S2[j][(t, i)] = ring.one
    # B = P D P^T, D[i m + t, j m + t] = 1: entries B[a, c] = D[P(a), P(c)]
    P = stride_permutation(m, m)
    Pinv = inverse(P)
    for i in range(m):
        for j in range(m):
            t = (i + j) % m
            a, c = int(Pinv[i * m + t]), int(Pinv[j * m + t])
            ua, uc = a // m, c // m
            if ua != uc:
                raise ValueError(f"B = P D P^T is not block-diagonal: entry ({a}, {c})")
            st.C[ua][(a % m, c % m)] = ring.one
    return st


def _as_permutation(st: Stages):
    """The product of 0/1 stages as an index array (every block must be a permutation)."""
    S1 = [_perm_of_block(bk, st.q) for bk in st.S1]
    C = [_perm_of_block(bk, st.b) for bk in st.C]
    S2 = [_perm_of_block(bk, st.q) for bk in st.S2]
    if any(x is None for x in S1 + C + S2):
        return None
    n, b = st.n, st.b
    ps = lambda blocks: np.array([blocks[x % b][x // b] * b + x % b for x in range(n)])
    pc = lambda blocks: np.array([(x // b) * b + blocks[x // b][x % b] for x in range(n)])
    return compose(compose(ps(S1), pc(C)), ps(S2))


def check_stride(w, n: int) -> Outcome:
    st, target, label = w
    perm = _as_permutation(st)
    if perm is None:
        return Outcome(False, "a stage block is not a permutation matrix")
    if not np.array_equal(perm, target):
        i = int(np.argmax(perm != target))
        return Outcome(
            False,
            f"M1 M2^H differs from {label} at row {i}: column {int(perm[i])} vs {int(target[i])}",
        )
    # cross-check with sparse exact products at moderate sizes
    if n <= 1024:
        ok, diff = st.product().equals(Sparse.permutation(target, st.ring))
        if not ok:
            return Outcome(False, f"sparse exact product differs at {diff[:2]}")
    return Outcome(
        True,
        f"{label} = M1 M2^H with 0/1 blocks (S C S stages, m={st.b}); checked as index maps"
        + (" and sparse exact products" if n <= 1024 else ""),
        {"w": count_width("SCS")},
    )


def _swap01(perm):
    p = np.array(perm, copy=True)
    p[[0, 1]] = p[[1, 0]]
    return p


def _stride_witness(n, swap=False):
    m = math.isqrt(n)
    return (
        stride_mmstar_witness(n, ExactRing(1), swap=swap),
        stride_permutation(m, m),
        f"P (m={m})",
    )


# -- F_n ∈ (M M*)^2 ---------------------------------------------------------------------------------


def _mm2_witness(n: int, mode: str | None = None):
    """Items ``(b, stages, P_(b,n)^T, how, mode)``; ``mode`` selects a negative control:
    ``"drop"`` (the M M* factor left out), ``"target"`` (one entry of F_n changed), ``"route"``
    (two rows of a routed stage exchanged) or ``"width"`` (width 1 claimed)."""
    items = []
    ring = ExactRing(1)
    for b in proper_splits(n):
        Pt = inverse(pbn(b, n))  # P_(b,n)^T
        if b * b == n:
            st = stride_mmstar_witness(n, ring)
            how = "explicit 0/1 witness"
        else:
            st = route(Sparse.permutation(Pt, ring), b)
            how = "Clos routing"
        if mode == "route":
            g = 0
            blk = st.S1[g]
            rows = sorted({i for i, _ in blk})
            if len(rows) >= 2:
                r0, r1 = rows[:2]
                st.S1[g] = {
                    ((r1 if i == r0 else r0 if i == r1 else i), j): v for (i, j), v in blk.items()
                }
        items.append((b, st, Pt, how, mode))
    return items


def check_mm2(items, n: int) -> Outcome:
    """Steps: routing (the routed stages multiply to ``P_(b,n)^T``, index maps), final equality
    (``F_n = (F_n P_(b,n)) P_(b,n)^T`` entrywise, monomial), width (``S C · S C S``)."""
    if not items:
        return Outcome(False, f"no split of n = {n}")
    F = MonomialMatrix.dft(n)
    widths = set()
    for b, st, Pt, _how, mode in items:
        perm = _as_permutation(st)
        if perm is None or not np.array_equal(perm, Pt):
            return Outcome(False, f"b={b}: routing — the M M* factor is not P_({b},{n})^T")
        W = dft_witness(n, b)
        rhs = W if mode == "drop" else W.permute_columns(perm)
        tgt = F.perturbed(1, 1) if mode == "target" else F
        ok, diff = monomial_equal(tgt, rhs)
        if not ok:
            return Outcome(
                False, f"b={b}: final equality — F_{n} differs from the product at entry {diff[:2]}"
            )
        widths.add(count_width("SC" + "SCS"))
    w = max(widths)
    if items[0][4] == "width" and w != 1:
        return Outcome(False, f"width — width 1 claimed, the stages S C · S C S give {w}")
    hows = sorted({it[3] for it in items})
    return Outcome(
        True,
        f"F_{n} = Monarch(F-factors) · (M1 M2^H = P_(b,{n})^T) for every split b "
        f"({', '.join(hows)}); stages SC·SCS -> width w = {w}",
        {"w": w},
    )


def _split_control(n: int, what: str):
    F = MonomialMatrix.dft(n)
    out = []
    for b in proper_splits(n):
        tgt = F.permute_columns(pbn(b, n))
        out.append((b, tgt.perturbed(n - 1, 1) if what == "target" else tgt, dft_witness(n, b)))
    return out


CLAIMS = [
    Claim(
        name="dft-not-monarch",
        item="Proposition 3.2 (the DFT is not Monarch)",
        statement="F_n ∉ M^(b,n) and P_(b,n) F_n ∉ M^(b,n) for every split n = b·q (a slab of rank > 1)",
        method="monomial: nonzero 2x2 slab minor; slab ranks mod p",
        quick=QUICK,
        full=FULL,
        witness=_nonmembers,
        check=check_not_monarch,
        negative=_members,
        negative_label="F_n P_(b,n) (a member) claimed outside M^(b,n)",
        admits=admits(composite, limit=8192, why="n^2 monomial entries per split"),
    ),
    Claim(
        name="dft-monarch",
        item="Proposition 3.2 (four-step FFT: F P ∈ M)",
        statement="F_n P_(b,n) = P_(b,n)^T (I_b ⊗ F_q) P_(b,n) · diag_c(diag(ω^(c r)) F_b) ∈ M^(b,n) for every split",
        method="monomial entrywise (row chunks)",
        quick=QUICK,
        full=FULL,
        witness=_split_witness,
        check=check_split,
        negative=_split_negative,
        negative_label="P_(b,n) F_n against the same witness",
        negative_step="target",
        controls=(
            Control(
                "F_n P_(b,n) with entry (n-1, 1) times ζ_n",
                "target",
                lambda n: _split_control(n, "target"),
            ),
            Control(
                "Monarch witness with entry (1, 1) times ζ_n",
                "witness",
                lambda n: [(b, T, W.perturbed(1, 1)) for b, T, W in _split_witness(n)],
            ),
        ),
        admits=admits(composite, limit=8192, why="n^2 monomial entries per split"),
    ),
    Claim(
        name="stride-perm-mmstar",
        item="Proposition 3.2 (permutation in MM*)",
        statement="the stride permutation P = M1 M2^H with explicit 0/1 blocks (n = m^2)",
        method="index maps + sparse exact product",
        quick=SQUARE_QUICK,
        full=SQUARE_FULL,
        witness=_stride_witness,
        check=check_stride,
        negative=lambda n: _stride_witness(n, swap=True),
        negative_label="L1 with two columns of block 0 swapped",
        controls=(
            Control(
                "target permutation with two entries exchanged",
                "target",
                lambda n: (
                    _stride_witness(n)[:1]
                    + (_swap01(_stride_witness(n)[1]),)
                    + _stride_witness(n)[2:]
                ),
            ),
        ),
        admits=admits(square),
        paper_width=1,
    ),
    Claim(
        name="dft-mmstar2",
        item="Proposition 3.2 (DFT ∈ (MM*)^2)",
        statement="F_n = (F_n P_(b,n)) · P_(b,n)^T ∈ M · M M* ⊆ (M M*)^2 for every split (w = 2)",
        method="monomial entrywise + index maps (Clos routing for b ≠ √n)",
        quick=QUICK,
        full=FULL,
        witness=_mm2_witness,
        check=check_mm2,
        negative=lambda n: _mm2_witness(n, "drop"),
        negative_label="the M M* factor dropped (F_n = F_n P claimed)",
        negative_step="final equality",
        controls=(
            Control("one entry of F_n changed", "target", lambda n: _mm2_witness(n, "target")),
            Control(
                "two rows of a routed stage exchanged",
                "routing",
                lambda n: _mm2_witness(n, "route"),
            ),
            Control("width 1 claimed", "width", lambda n: _mm2_witness(n, "width")),
        ),
        admits=admits(composite, limit=4096, why="n^2 monomial entries per split"),
        paper_width=2,
    ),
]
