"""Products of structured matrices in ``(M M*)^w`` (Proposition 3.2 of the paper): ``(HD)^3`` and
Fastfood, and the convolution's non-membership in ``M`` for a generic kernel.

Stages (see :mod:`proofs._common`): in ``M^(b,n)`` with ``n = q b`` a position is ``u b + g``; a
strided stage ``S`` mixes the positions of one residue ``g`` through a ``q x q`` block, a
contiguous stage ``C`` those of one ``u`` through a ``b x b`` block.  A Monarch matrix is
``S C``, its adjoint ``C S``, so ``M M*`` is ``S C S`` and a merged stage pattern has width
:func:`proofs._common.count_width`.

* The Sylvester Hadamard matrix ``H_n = H_q ⊗ H_b`` is both ``S_H C_H`` and ``C_H S_H``
  (``S_H``: blocks ``H_q``; ``C_H``: blocks ``H_b``), and a diagonal folds into any adjacent stage.
* ``(HD)^3 = H D1 H D2 H D3 = [S_H C_H D1] [C_H S_H D2] [S_H C_H D3]`` merges to ``S C S C``: w = 2.
* Fastfood ``V = S H G Π H B`` (``S, G, B`` diagonal, ``Π`` a permutation): routing ``Π`` as
  contiguous·strided·contiguous (a Clos network whose outer switches are the contiguous blocks;
  :func:`proofs._common.route` on the conjugated permutation) gives
  ``[S S_H C_H G C1] [S_Π] [C2 C_H S_H B]`` = ``S C S C S``: w = 2.

Every identity is checked exactly with symbolic diagonals (SymPy polynomials over ``Q``): each
merged stage against its defining factors, ``S_H C_H = C_H S_H = H`` against the Hadamard matrix
built from its definition ``(-1)^popcount(i & j)``, the routed stages against ``Π``, and for
``n <= 8`` the whole product against the dense target.
"""

from __future__ import annotations

import math

import numpy as np

from structmat.exact import ExactRing, rank_at_most_one

from ._common import (
    RoutingError,
    Sparse,
    Stages,
    admits,
    composite,
    count_width,
    power_of_two,
    proper_splits,
    route,
)
from ._core import Claim, Control, Outcome

DIRECT_MAX = 8


def hadamard_def(n: int) -> np.ndarray:
    """``H[i, j] = (-1)^popcount(i & j)`` from the definition (integers)."""
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    x = i & j
    par = np.zeros_like(x)
    while x.any():
        par ^= x & 1
        x = x >> 1
    return 1 - 2 * par


def _sylvester(k: int) -> np.ndarray:
    """``H_k`` by the Sylvester doubling ``[[H, H], [H, -H]]`` (an independent construction)."""
    H = np.ones((1, 1), dtype=np.int64)
    while H.shape[0] < k:
        H = np.block([[H, H], [H, -H]])
    return H


def _sq_split(n: int) -> int:
    m = math.isqrt(n)
    if m * m == n:
        return m
    return min(proper_splits(n), key=lambda d: (abs(d - m), d))


def _dense_sparse(A: np.ndarray, ring: ExactRing) -> Sparse:
    S = Sparse(A.shape[0], ring)
    for i, j in zip(*np.nonzero(A)):
        S.add(int(i), int(j), ring.from_int(int(A[i, j])))
    return S


def _diag(vals, ring) -> Sparse:
    S = Sparse(len(vals), ring)
    for i, v in enumerate(vals):
        S.add(i, i, v)
    return S


class _Ctx:
    def __init__(self, n: int, names):
        self.n = n
        self.b = _sq_split(n)
        self.q = n // self.b
        self.ring = ExactRing(1, names)
        st = Stages(n, self.b, self.ring)
        Hq, Hb = _sylvester(self.q), _sylvester(self.b)
        one = lambda v: self.ring.from_int(int(v))
        self.SH = st.strided(
            [{(u, v): one(Hq[u, v]) for u in range(self.q) for v in range(self.q)}] * self.b
        )
        self.CH = st.contiguous(
            [{(h, g): one(Hb[h, g]) for h in range(self.b) for g in range(self.b)}] * self.q
        )
        self.st = st
        self.H = _dense_sparse(hadamard_def(n), self.ring)

    def sym(self, prefix):
        return [self.ring.symbol(f"{prefix}{i}") for i in range(self.n)]

    def stage_kind(self, M: Sparse) -> str | None:
        """``"S"``, ``"C"`` or ``None`` (neither) from the support of ``M``."""
        b = self.b
        sup = [(i, j) for i, r in M.rows.items() for j in r]
        if all(i % b == j % b for i, j in sup):
            return "S"
        if all(i // b == j // b for i, j in sup):
            return "C"
        return None


def hd3_witness(n: int, tamper: str | None = None):
    names = [f"{p}{i}" for p in ("d", "e", "f") for i in range(n)]
    cx = _Ctx(n, names)
    D1, D2, D3 = (_diag(cx.sym(p), cx.ring) for p in ("d", "e", "f"))
    stages = [cx.SH, cx.CH @ D1 @ cx.CH, cx.SH @ D2 @ cx.SH, cx.CH @ D3]
    if tamper == "witness":
        stages[1].add(0, 0, cx.ring.one)
    factors = [("H", None), ("D", D1), ("H", None), ("D", D2), ("H", None), ("D", D3)]
    return {"cx": cx, "stages": stages, "factors": factors, "tamper": tamper, "what": "(HD)^3"}


def fastfood_witness(n: int, tamper: str | None = None, seed: int = 0):
    names = [f"{p}{i}" for p in ("s", "g", "t") for i in range(n)]
    cx = _Ctx(n, names)
    ring = cx.ring
    Sd, G, Bd = (_diag(cx.sym(p), ring) for p in ("s", "g", "t"))
    perm = np.random.default_rng(n + seed).permutation(n)
    Pi = Sparse.permutation(perm, ring)
    C1, S_pi, C2 = route_csc(perm, cx)
    if tamper == "routing":
        # swap rows g and b + g of the middle strided stage (same residue, so still strided):
        # the routed stages no longer give Pi
        r0, r1 = 0, cx.b
        S_pi.rows[r0], S_pi.rows[r1] = S_pi.rows.get(r1, {}), S_pi.rows.get(r0, {})
    stages = [Sd @ cx.SH, cx.CH @ G @ C1, S_pi, C2 @ cx.CH, cx.SH @ Bd]
    if tamper == "witness":
        stages[2] = Sparse(n, ring, {i: dict(r) for i, r in S_pi.rows.items()})
        stages[2].add(0, 0, ring.one)
    factors = [("D", Sd), ("H", None), ("D", G), ("P", Pi), ("H", None), ("D", Bd)]
    return {
        "cx": cx,
        "stages": stages,
        "factors": factors,
        "tamper": tamper,
        "what": "Fastfood S H G Π H B",
        "routed": (C1, S_pi, C2, Pi),
    }


def route_csc(perm, cx: _Ctx):
    """``Π = C1 S C2`` (contiguous, strided, contiguous) for ``(Π x)[i] = x[perm[i]]``.

    Conjugating by ``sigma: u b + g -> g q + u`` exchanges strided and contiguous stages; the
    conjugated permutation is routed as strided·contiguous·strided with ``q`` residue groups and
    mapped back."""
    n, b, q, ring = cx.n, cx.b, cx.q, cx.ring
    x = np.arange(n)
    sig = (x % b) * q + x // b  # new index of position x
    sinv = np.argsort(sig)
    perm_s = sig[np.asarray(perm)[sinv]]  # sigma Pi sigma^T
    try:
        st = route(Sparse.permutation(perm_s, ring), q)
    except RoutingError as exc:
        raise ValueError(f"routing failed: {exc}") from None
    back = lambda M: _conj(M, sinv, ring)
    return back(st.strided(st.S1)), back(st.contiguous(st.C)), back(st.strided(st.S2))


def _conj(M: Sparse, sinv, ring) -> Sparse:
    """``sigma^T M sigma`` (entry (i, j) in sigma's indices goes to (sinv[i], sinv[j]))."""
    out = Sparse(M.n, ring)
    for i, r in M.rows.items():
        for j, v in r.items():
            out.add(int(sinv[i]), int(sinv[j]), v)
    return out


def _prod(ms):
    out = ms[0]
    for m in ms[1:]:
        out = out @ m
    return out


def _target(w) -> Sparse:
    cx = w["cx"]
    ms = [cx.H if kind == "H" else M for kind, M in w["factors"]]
    return _prod(ms)


def check_product(w, n: int) -> Outcome:
    """Steps: Hadamard stages against the definition; each merged stage against its factors
    (routing, for Fastfood); the width of the merged pattern; for ``n <= 16`` the whole
    product against the dense target (the final equality)."""
    cx, stages = w["cx"], w["stages"]
    if w.get("tamper") == "target":
        cx.H.rows[0][1] = cx.ring.reduce(-cx.H.rows[0][1])  # one entry of the target H negated
    ok, diff = (cx.SH @ cx.CH).equals(cx.H)
    ok2, _ = (cx.CH @ cx.SH).equals(cx.H)
    if not (ok and ok2):
        return Outcome(
            False, f"S_H C_H or C_H S_H is not the Hadamard matrix (entry {diff and diff[:2]})"
        )
    kinds = [cx.stage_kind(M) for M in stages]
    if None in kinds:
        return Outcome(False, f"width: stage {kinds.index(None)} is neither strided nor contiguous")
    pattern = "".join(kinds)
    merged = "".join(k for i, k in enumerate(pattern) if i == 0 or pattern[i - 1] != k)
    if merged != pattern:
        return Outcome(False, f"width: adjacent stages of one kind were not merged ({pattern})")
    wd = count_width(pattern)
    # each merged stage against the factors it stands for
    H_s = {"SH": cx.SH, "CH": cx.CH}
    if "routed" in w:
        C1, S_pi, C2, Pi = w["routed"]
        okr, diff = _prod([C1, S_pi, C2]).equals(Pi)
        if not okr:
            return Outcome(False, f"routing: C1 S C2 differs from Π at {diff[:2]}")
        Sd, G, Bd = w["factors"][0][1], w["factors"][2][1], w["factors"][5][1]
        pieces = [[Sd, H_s["SH"]], [H_s["CH"], G, C1], [S_pi], [C2, H_s["CH"]], [H_s["SH"], Bd]]
        chain = "S·S_H | C_H·G·C1 | S_Π | C2·C_H | S_H·B"
    else:
        D1, D2, D3 = w["factors"][1][1], w["factors"][3][1], w["factors"][5][1]
        pieces = [
            [H_s["SH"]],
            [H_s["CH"], D1, H_s["CH"]],
            [H_s["SH"], D2, H_s["SH"]],
            [H_s["CH"], D3],
        ]
        chain = "S_H | C_H·D1·C_H | S_H·D2·S_H | C_H·D3"
    for i, (M, ps) in enumerate(zip(stages, pieces)):
        okp, diff = M.equals(_prod(ps))
        if not okp:
            return Outcome(
                False, f"stage {i} ({chain.split(' | ')[i]}) differs from its factors at {diff[:2]}"
            )
    if w.get("claimed_width") is not None and w["claimed_width"] != wd:
        return Outcome(
            False, f"width: claimed {w['claimed_width']}, the stages {pattern} give {wd}"
        )
    msg = (
        f"{w['what']} (symbolic diagonals, n = {n}, b = {cx.b}) = {chain}, stages {pattern}: w = {wd}; every "
        f"stage equals its factors exactly and S_H C_H = C_H S_H = H (from (-1)^popcount(i&j))"
    )
    if n <= DIRECT_MAX or w.get("tamper") == "final":
        tgt = _target(w)
        if w.get("tamper") == "final":
            tgt.add(0, 1, cx.ring.one)
        okf, diff = _prod(stages).equals(tgt)
        if not okf:
            return Outcome(
                False,
                f"final equality: the product of the stages differs from the target at {diff[:2]}",
            )
        msg += "; the product of the stages equals the dense target"
    return Outcome(True, msg, {"w": wd})


def _with(builder, **kw):
    def make(n):
        tamper = kw.get("tamper")
        w = builder(n, tamper=tamper if tamper in ("witness", "routing") else None)
        w.update({k: v for k, v in kw.items() if k != "tamper"})
        if tamper in ("target", "final"):
            w["tamper"] = tamper
        return w

    return make


# -- convolution ∉ M for a generic kernel -----------------------------------------------------------


def conv_not_m_witness(n: int, kernel: str = "generic"):
    names = [f"c{i}" for i in range(n)]
    ring = ExactRing(1, names)
    if kernel == "generic":
        c = [ring.symbol(s) for s in names]
    elif kernel == "constant":
        c = [ring.symbol("c0")] * n
    else:  # a delta: c0 times the identity
        c = [ring.symbol("c0")] + [ring.zero] * (n - 1)
    A = [[c[(i - j) % n] for j in range(n)] for i in range(n)]
    return ring, A, kernel


def check_conv_not_m(w, n: int) -> Outcome:
    """For every split ``b``: some slab ``A.reshape(n/b, b, n/b, b)[:, r0, c1, :]`` has a nonzero
    2x2 minor (a nonzero polynomial in the kernel's symbols)."""
    ring, A, kernel = w
    found = []
    for b in proper_splits(n):
        q = n // b
        hit = None
        for r0 in range(b):
            for c1 in range(q):
                S = [[A[u * b + r0][c1 * b + v] for v in range(b)] for u in range(q)]
                ok, wit = rank_at_most_one(S, ring)
                if not ok:
                    hit = (r0, c1, wit[-1])
                    break
            if hit:
                break
        if hit is None:
            return Outcome(
                False,
                f"{kernel} kernel: every slab of M^({b},{n}) has rank <= 1 (the circulant is in M)",
            )
        found.append(f"b={b}: slab {hit[:2]} minor {ring.to_expr(hit[2])}")
    return Outcome(
        True,
        f"circulant of a symbolic kernel c_0..c_{n - 1} ∉ M^(b,{n}) for every split: "
        + "; ".join(found[:2])
        + (f"; ... ({len(found)} splits)" if len(found) > 2 else ""),
    )


CLAIMS = [
    Claim(
        name="hd3-mmstar2",
        item="Proposition 3.2 ((HD)^3 ∈ (MM*)^2)",
        statement="(HD)^3 = H D1 H D2 H D3 (H Walsh–Hadamard, D_i diagonal) ∈ (M M*)^2: "
        "[S_H C_H D1][C_H S_H D2][S_H C_H D3] merges to S C S C",
        method="SymPy polynomials (symbolic diagonals): sparse stage products; dense product n <= 8",
        quick=(4, 16),
        full=(4, 16, 32),
        witness=hd3_witness,
        check=check_product,
        negative=_with(hd3_witness, tamper="witness"),
        negative_label="stage C_H D1 C_H with entry (0, 0) + 1",
        controls=(
            Control(
                "target Hadamard matrix with entry (0, 1) negated",
                "target",
                _with(hd3_witness, tamper="target"),
            ),
            Control(
                "dense target with entry (0, 1) + 1 (the dense product is formed for this control)",
                "final equality",
                lambda n: _with(hd3_witness, tamper="final")(min(n, 4)),
            ),
            Control(
                "width 1 claimed for the same stages", "width", _with(hd3_witness, claimed_width=1)
            ),
        ),
        admits=admits(power_of_two, limit=256, why="symbolic sparse stage products"),
        paper_width=2,
    ),
    Claim(
        name="fastfood-mmstar2",
        item="Proposition 3.2 (Fastfood ∈ (MM*)^2)",
        statement="Fastfood V = S H G Π H B (S, G, B diagonal, Π a random permutation) ∈ (M M*)^2, with Π "
        "routed as contiguous·strided·contiguous",
        method="SymPy polynomials (symbolic diagonals) + Clos routing; dense product n <= 8",
        quick=(4, 16),
        full=(4, 16, 32),
        witness=fastfood_witness,
        check=check_product,
        negative=_with(fastfood_witness, tamper="witness"),
        negative_label="middle strided stage with entry (0, 0) + 1",
        controls=(
            Control(
                "rows g and b + g of the routed strided stage exchanged",
                "routing",
                _with(fastfood_witness, tamper="routing"),
            ),
            Control(
                "target Hadamard matrix with entry (0, 1) negated",
                "target",
                _with(fastfood_witness, tamper="target"),
            ),
            Control(
                "dense target with entry (0, 1) + 1 (the dense product is formed for this control)",
                "final equality",
                lambda n: _with(fastfood_witness, tamper="final")(min(n, 4)),
            ),
            Control(
                "width 1 claimed for the same stages",
                "width",
                _with(fastfood_witness, claimed_width=1),
            ),
        ),
        admits=admits(power_of_two, limit=256, why="symbolic sparse stage products"),
        paper_width=2,
        notes="*Width reached: 2.* A naive grouping (Π as strided·contiguous·strided between two Monarch "
        "factors) gives width 3. Routing Π instead with the contiguous blocks as the outer switches "
        "(C1 S C2) lets C1 and C2 merge with the Hadamard factors' contiguous stages, since H = S_H C_H = "
        "C_H S_H.",
    ),
    Claim(
        name="convolution-not-monarch",
        item="Proposition 3.2 (convolution ∈ MM* but ∉ M)",
        statement="the circulant of a generic (symbolic) kernel is not in M^(b,n) for any split b",
        method="SymPy polynomials: a nonzero 2x2 slab minor per split",
        quick=(6, 24),
        full=(6, 16, 24, 36, 64),
        witness=conv_not_m_witness,
        check=check_conv_not_m,
        negative=lambda n: conv_not_m_witness(n, "constant"),
        negative_label="constant kernel (rank-1 circulant, a member of M)",
        negative_step="target",
        controls=(
            Control(
                "delta kernel (c_0 times the identity, a member of M)",
                "target",
                lambda n: conv_not_m_witness(n, "delta"),
            ),
        ),
        admits=admits(composite, limit=256, why="symbolic slab minors"),
    ),
]
