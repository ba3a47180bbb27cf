"""The Hadamard transform (Proposition 3.2 of the paper; also a butterfly): Sylvester Hadamard matrices.

``H_n = H_(n/b) ⊗ H_b = (H_(n/b) ⊗ I_b)(I_(n/b) ⊗ H_b)`` and
``H_(n/b) ⊗ I_b = P_(b,n)^T (I_b ⊗ H_(n/b)) P_(b,n)``: a single Monarch factor of ``M^(b,n)``
with ``L = b`` copies of ``H_(n/b)`` and ``R = n/b`` copies of ``H_b``.  Entries ``±1`` are the
roots of unity of order 2, checked by the exact monomial path; the butterfly form is checked
with exact integer arithmetic.
"""

from __future__ import annotations

import numpy as np

from structmat.exact import MonomialMatrix, MonomialMonarch, monomial_equal

from ._common import admits, power_of_two
from ._core import Claim, Control, Outcome
from .products import _sylvester, hadamard_def

QUICK = (4, 8, 16, 256)
FULL = (4, 8, 16, 64, 256, 1024, 4096)


def _hadamard_exp(n: int) -> np.ndarray:
    """Sign exponents of ``H_n`` by the Sylvester doubling ``[[H, H], [H, -H]]`` (witness blocks)."""
    return (1 - _sylvester(n)) // 2


def hadamard_target(n: int, flip: bool = False) -> MonomialMatrix:
    """``(-1)^popcount(i & j)`` from the definition (a different construction from the witness's
    blocks); ``flip`` negates entry ``(n-1, n-1)`` (a negative control on the target)."""
    e = (1 - hadamard_def(n)) // 2
    if flip:
        e = e.copy()
        e[-1, -1] ^= 1
    return MonomialMatrix.from_arrays(e, np.ones_like(e), 2, name=f"H_{n}")


def _witness(n: int, b: int, negate_block: bool = False) -> MonomialMonarch:
    q = n // b
    Le = np.broadcast_to(_hadamard_exp(q), (b, q, q)).copy()
    Re = np.broadcast_to(_hadamard_exp(b), (q, b, b)).copy()
    if negate_block:
        Re[q - 1] = (Re[q - 1] + 1) % 2
    return MonomialMonarch(
        Le, np.ones_like(Le), Re, np.ones_like(Re), N=2, name=f"Monarch(H_{q}, H_{b})"
    )


def _splits(n: int) -> list[int]:
    return [1 << k for k in range(1, n.bit_length() - 1)]


def _butterfly_hadamard(n: int) -> np.ndarray:
    """The butterfly ``B_n ... B_2`` with every factor ``[[I, I], [I, -I]]`` applied to the
    identity in exact integer arithmetic (entries stay in {-1, 0, 1})."""
    X = np.eye(n, dtype=np.int64)
    k = 2
    while k <= n:
        h = k // 2
        V = X.reshape(n // k, 2, h, n)
        X = np.concatenate([V[:, :1] + V[:, 1:], V[:, :1] - V[:, 1:]], axis=1).reshape(n, n)
        k *= 2
    return X


def check(items, n: int) -> Outcome:
    flip = bool(items) and items[0] == "flip-target"
    if flip:
        items = items[1:]
    if not items:
        return Outcome(False, f"no split of n = {n}")
    H = hadamard_target(n, flip)
    for b, W in items:
        ok, diff = monomial_equal(H, W)
        if not ok:
            return Outcome(False, f"b={b}: H_{n} differs from Monarch(H_(n/b), H_b) at {diff[:2]}")
    msg = f"H_{n} = P_(b,n)^T (I_b ⊗ H_(n/b)) P_(b,n) (I_(n/b) ⊗ H_b) for b in {[b for b, _ in items]}"
    if n <= 1024:
        Bf = _butterfly_hadamard(n)
        e, _ = H.dense()
        if not np.array_equal(Bf, 1 - 2 * e):
            return Outcome(False, f"the butterfly with factors [[I, I], [I, -I]] is not H_{n}")
        msg += "; and H_n = butterfly with all factors [[I, I], [I, -I]] (exact integers)"
    return Outcome(True, msg)


CLAIMS = [
    Claim(
        name="hadamard-monarch",
        item="Proposition 3.2 (Hadamard ∈ MM*; in fact ∈ B ⊂ M)",
        statement="H_n ∈ M^(b,n) for every power-of-2 b (L = I_b⊗H_(n/b), R = I⊗H_b), and H_n ∈ B",
        method="monomial entrywise over Q(ζ_2) against the bit-parity definition; exact integer butterfly (n <= 1024)",
        quick=QUICK,
        full=FULL,
        witness=lambda n: [(b, _witness(n, b)) for b in _splits(n)],
        check=check,
        negative=lambda n: [(b, _witness(n, b, negate_block=True)) for b in _splits(n)],
        negative_label="last R block negated",
        controls=(
            Control(
                "target with entry (n-1, n-1) negated",
                "target",
                lambda n: ["flip-target"] + [(b, _witness(n, b)) for b in _splits(n)],
            ),
        ),
        admits=admits(power_of_two, limit=8192, why="n^2 entries per split"),
    ),
]
