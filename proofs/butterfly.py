"""Butterflies are Monarch (paper §3.2, appendix Theorem 4): butterflies are Monarch (``B ⊆ M^(b,n)`` for every power-of-2 ``b``), and
the parameter/dimension count behind strictness."""

from __future__ import annotations

from structmat.exact import (
    ExactDense,
    ExactMonarch,
    ExactPermutation,
    ExactProduct,
    ExactRing,
    butterfly_symbol_names,
    exact_equal,
    symbolic_butterfly_factors,
)

from ._common import admits, pbn, power_of_two
from ._core import Claim, Control, Outcome


def _splits(n: int) -> list[int]:
    return [1 << k for k in range(1, n.bit_length() - 1)]


def _witness(n: int, shift: int = 0):
    ring = ExactRing(1, butterfly_symbol_names(n))
    factors = symbolic_butterfly_factors(ring, n)  # [B_2, B_4, ..., B_n]
    items = []
    for b in _splits(n):
        e = b.bit_length() - 1 + shift  # R = B_b ... B_2 uses the first e factors
        items.append((b, e))
    return ring, factors, items, shift


def _blocks_of(D, nb: int, size: int, ring):
    """Diagonal blocks of a dense list-of-rows matrix; ``None`` if an off-block entry is nonzero."""
    n = nb * size
    for i in range(n):
        for j in range(n):
            if i // size != j // size and D[i][j]:
                return None, (i, j)
    return [
        [row[g * size : (g + 1) * size] for row in D[g * size : (g + 1) * size]] for g in range(nb)
    ], None


def check(w, n: int) -> Outcome:
    ring, factors, items, shift = w[:4]
    Bfly = ExactProduct(*reversed(factors))  # B_n ... B_2
    dense_B = Bfly.to_dense()
    if len(w) > 4 and w[4] == "bad-target":
        rows = dense_B.to_list()
        rows[0][n - 1] = ring.reduce(rows[0][n - 1] + ring.one)
        dense_B = ExactDense(rows, ring).to_dense()
    for b, e in items:
        q = n // b
        Rprod = ExactProduct(*reversed(factors[:e])) if e else None
        Uprod = ExactProduct(*reversed(factors[e:])) if e < len(factors) else None
        R_dense = Rprod.to_dense().to_list()
        Rb, bad = _blocks_of(R_dense, q, b, ring)
        if Rb is None:
            return Outcome(
                False,
                f"b={b}: R = B_{2**e}...B_2 has a nonzero entry {bad} outside its {b}x{b} blocks",
            )
        # L^ = P_(b,n) U P_(b,n)^T, block-diagonal with b blocks of n/b (Theorem 3)
        P = ExactPermutation(pbn(b, n), ring)
        Lhat = ExactProduct(P, Uprod, P.H).to_dense().to_list()
        Lb, bad = _blocks_of(Lhat, b, q, ring)
        if Lb is None:
            return Outcome(
                False, f"b={b}: P U P^T has a nonzero entry {bad} outside its {q}x{q} blocks"
            )
        M = ExactMonarch(Lb, Rb, ring)
        ok, diff = exact_equal(M, ExactDense(dense_B, ring))
        if not ok:
            return Outcome(False, f"b={b}: Monarch(L^, R) differs from the butterfly at {diff[:2]}")
    return Outcome(
        True,
        f"fully symbolic butterfly ({len(ring.symbol_names)} twiddles): B = Monarch(L^ = P U P^T, "
        f"R = B_b...B_2) in M^(b,{n}) for b in {[b for b, _ in items]}",
    )


# -- strictness count ------------------------------------------------------------------------------


def _strict_witness(n_max: int, threshold: int = 256):
    return n_max, threshold


def check_strict(w, n: int) -> Outcome:
    n_max, threshold = w
    s_max = n_max.bit_length() - 1
    for s in range(1, s_max + 1):
        nn = 1 << s
        # 2 n log2 n < n^{3/2}  <=>  4 n^2 s^2 < n^3  <=>  4 s^2 < n   (exact integers)
        less = 4 * s * s < nn
        if less != (nn > threshold):
            return Outcome(
                False,
                f"at n = 2^{s}: 2n log2 n < n^(3/2) is {less}, but n > {threshold} is {nn > threshold}",
            )
    # sharper: dim M^(b,n) = n (n/b + b - 1) (product of rank-<=1 slab varieties) vs 2 n log2 n params of B
    first = first_sq = None
    for s in range(2, s_max + 1):
        nn = 1 << s
        dim = max(nn * (nn // b + b - 1) for b in _splits(nn))
        bsq = 1 << (s // 2)
        if 2 * nn * s < dim and first is None:
            first = nn
        if 2 * nn * s < nn * (nn // bsq + bsq - 1) and first_sq is None:
            first_sq = nn
    return Outcome(
        True,
        f"for n = 2^s, 2 <= n <= 2^{s_max}: 2n log2 n < n^(3/2) iff n > {threshold} (exact integers); "
        f"dimension count 2n log2 n < n(n/b+b-1) = dim M^(b,n): from n = {first} for the best b, "
        f"from n = {first_sq} for b = 2^floor(s/2)",
        {"dimension_threshold": first, "square_threshold": first_sq},
    )


CLAIMS = [
    Claim(
        name="butterfly-monarch",
        item="§3.2, appendix Theorem 4",
        statement="B ⊆ M^(b,n) for every power-of-2 b in (1, n): R = B_b...B_2, P_(b,n) B_n...B_2b P_(b,n)^T block-diagonal",
        method="SymPy polynomials (symbolic twiddles), structured products",
        quick=(4, 8, 16),
        full=(4, 8, 16, 32),
        witness=_witness,
        check=check,
        negative=lambda n: _witness(n, shift=1),
        negative_label="R = B_2b...B_2 claimed b x b block-diagonal",
        controls=(
            Control(
                "the butterfly's dense product with entry (0, n-1) + 1",
                "target",
                lambda n: _witness(n) + ("bad-target",),
            ),
        ),
        admits=admits(power_of_two, limit=64, why="fully symbolic butterfly products"),
    ),
    Claim(
        name="butterfly-strictness",
        item="§3.2 (strictness of B ⊂ M)",
        statement="2n log2 n < n^(3/2) iff n > 256 (n = 2^s): B ⊊ M for n >= 512 by counting",
        method="exact integer arithmetic",
        quick=(1024, 2**20),
        full=(2**20, 2**64),
        witness=lambda n: _strict_witness(n),
        check=check_strict,
        negative=lambda n: _strict_witness(n, threshold=128),
        negative_label="threshold 128 instead of 256",
        admits=admits(power_of_two),
        notes="*Note on the count.* The parameter count is right (2n log2 n < n^(3/2) exactly for n > 256), but "
        "it is not the sharp strictness threshold: M^(b,n) is the set of matrices whose n slabs "
        "((n/b) x b) have rank <= 1 (the rank characterisation), a variety of dimension n(n/b + b - 1), while B is the "
        "image of 2n log2 n parameters. So B ⊊ M^(b,n) as soon as 2n log2 n < n(n/b + b - 1): from "
        "n = 16 with b = 2 and from n = 32 with b = 2^floor(s/2) (both computed in this check).",
    ),
]
