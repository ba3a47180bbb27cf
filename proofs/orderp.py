"""Order-p Monarch forms of the DFT and of Hadamard matrices (Fu et al., *Monarch Mixer*,
NeurIPS 2023, Section 3: order-p Monarch matrices; the mixed-radix FFT of Cooley and Tukey).

``F_n Q = MonarchP(F_0, ..., F_{p-1})`` for every factorisation ``n = b_0 ⋯ b_{p-1}`` with the
digit reversal ``Q`` (twiddles folded into the factors), and
``H_n = MonarchP(H_{b_0}, ..., H_{b_{p-1}})`` for every split of ``n = 2^a`` into powers of 2.
The witnesses are the library's own closed forms (:func:`structmat.monarch_form.orderp_closed_form`,
the source of ``to_monarch(X, order=p)``); the targets are built from the definitions
(``ζ_n^{∓uv}``, the bit parity ``(−1)^popcount(u & v)``).

Every factor entry is one root of unity ``c · ζ_N^e``, so every entry of an order-p Monarch
matrix with rank-1 links is the product of one entry per factor: a monomial whose exponent is
the sum of the factors' exponents.  Both sides are compared as canonical ``(c, e mod N)`` pairs
with NumPy integers, one row chunk at a time (exact; no floating point).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from structmat import DFT, Hadamard
from structmat.exact import MonomialMatrix, monomial_equal
from structmat.monarch_form import orderp_closed_form

from ._common import admits
from ._core import Claim, Control, Outcome

QUICK_DFT = (8, 12, 30, 64)
FULL_DFT = (8, 12, 30, 64, 360, 1024, 4096)
QUICK_HAD = (8, 16, 64)
FULL_HAD = (8, 16, 64, 512, 4096)


def _lcm(a: int, b: int) -> int:
    return a * b // math.gcd(a, b)


def _one_term(t):
    """``(exp, coef, N, scale)`` of a closed-form array with one root of unity per entry."""
    if t.radicand != 1:
        raise ValueError("an irrational scale")
    nz = (t.coef != 0).sum(axis=0)
    if (nz > 1).any():
        raise ValueError("an entry is a sum of several roots of unity")
    idx = np.argmax(t.coef != 0, axis=0)
    e = np.take_along_axis(t.exp, idx[None], axis=0)[0]
    c = np.take_along_axis(t.coef, idx[None], axis=0)[0]
    return e, c, t.N, t.scale


def orderp_monomial(cores, sizes, perm=None, name: str = "MonarchP") -> MonomialMatrix:
    """The square order-p Monarch matrix ``MonarchP(cores) · Q`` (``(Q x)[j] = x[perm[j]]``) as a
    :class:`MonomialMatrix`: entry ``(i, j)`` is the product of the factors' entries
    ``F_t[(i_{>t}, j_{<t}), i_t, j_t]`` (exponents added, coefficients multiplied).

    Examples
    --------
    >>> from structmat import DFT
    >>> from structmat.exact import MonomialMatrix, monomial_equal
    >>> from structmat.monarch_form import orderp_closed_form
    >>> (_, cores, sizes), (_, perm) = orderp_closed_form(DFT(8), 3)
    >>> monomial_equal(orderp_monomial(cores, sizes, perm), MonomialMatrix.dft(8))
    (True, None)
    """
    terms = [_one_term(c) for c in cores]
    N = 1
    for _, _, Nt, _ in terms:
        N = _lcm(N, Nt)
    if N % 2 and any((c < 0).any() for _, c, _, _ in terms):
        N *= 2
    scale = Fraction(1)
    for *_, s in terms:
        scale *= s
    exps = [e * (N // Nt) for e, _, Nt, _ in terms]
    coefs = [c for _, c, _, _ in terms]
    n = math.prod(sizes)
    p = len(sizes)
    cols = np.arange(n)
    J = np.unravel_index(cols, sizes)
    inv = None if perm is None else np.argsort(np.asarray(perm))

    def fn(r0, r1):
        I = np.unravel_index(np.arange(r0, r1), sizes)
        e = np.zeros((r1 - r0, n), dtype=np.int64)
        c = np.ones((r1 - r0, n), dtype=np.int64)
        for t in range(p):
            dims = tuple(sizes[t + 1 :]) + tuple(sizes[:t])
            if dims:
                ctx = np.ravel_multi_index(
                    tuple(
                        np.broadcast_arrays(
                            *[I[s][:, None] for s in range(t + 1, p)],
                            *[J[s][None, :] for s in range(t)],
                        )
                    ),
                    dims,
                )
            else:
                ctx = np.zeros((1, 1), dtype=np.int64)
            ctx = np.broadcast_to(ctx, (r1 - r0, n))
            it = np.broadcast_to(I[t][:, None], ctx.shape)
            jt = np.broadcast_to(J[t][None, :], ctx.shape)
            e += exps[t][ctx, it, jt]
            c *= coefs[t][ctx, it, jt]
        e %= N
        if inv is not None:  # (M Q)[:, perm[j]] = M[:, j]
            e, c = e[:, inv], c[:, inv]
        return e, c

    return MonomialMatrix((n, n), N, fn, scale, name)


def _factorisations(n: int, p: int) -> list[tuple[int, ...]]:
    """Ordered factorisations ``n = b_0 ⋯ b_{p-1}`` with every ``b_t >= 2``."""
    if p == 1:
        return [(n,)] if n >= 2 else []
    out = []
    for d in range(2, n + 1):
        if n % d == 0:
            out.extend((d,) + rest for rest in _factorisations(n // d, p - 1))
    return out


def _splits(n: int, power2: bool = False) -> list[tuple[int, ...]]:
    """The factorisations checked at size ``n``: for order 3 and 4, the one with the fewest
    parameters, its reverse, and (small n) every ordered factorisation of order 3."""
    from structmat.ops.blocktt import orderp_sizes

    out: list[tuple[int, ...]] = []
    for p in (3, 4):
        try:
            b = orderp_sizes(n, p)
        except ValueError:
            continue
        out += [b, b[::-1]]
    if n <= 64:
        out += [b for b in _factorisations(n, 3)]
    out = [b for b in dict.fromkeys(out) if not power2 or all(v & (v - 1) == 0 for v in b)]
    return out


def dft_target(n: int, inverse: bool, flip: bool = False) -> MonomialMatrix:
    """``ζ_n^{∓uv}`` from the definition (``1/n`` for the inverse); ``flip`` moves entry
    ``(n-1, n-1)`` by one power of ``ζ_n`` (a negative control on the target)."""
    T = MonomialMatrix.dft(n, inverse=inverse)
    if inverse:
        T.scale = Fraction(1, n)
    return T.perturbed(n - 1, n - 1) if flip else T


def _dft_items(n: int, perturb: str | None = None):
    items = []
    for inverse in (False, True):
        for b in _splits(n):
            (_, cores, sizes), (_, perm) = orderp_closed_form(DFT(n, inverse=inverse), len(b), b)
            if perturb == "witness" and not items:
                c0 = cores[-1]
                cores = list(cores)
                cores[-1] = type(c0)(c0.N, c0.exp.copy(), c0.coef.copy(), c0.scale, c0.radicand)
                cores[-1].exp[0, -1, -1, -1] = (cores[-1].exp[0, -1, -1, -1] + 1) % c0.N
            if perturb == "routing" and not items:
                perm = np.arange(n)
            items.append(
                (
                    inverse,
                    sizes,
                    orderp_monomial(cores, sizes, perm),
                    perturb == "target" and not items,
                )
            )
    return items


def check_dft(items, n: int) -> Outcome:
    """Every item's order-p form equals its target (the DFT or its inverse) entrywise.

    Examples
    --------
    >>> check_dft(_dft_items(12), 12).ok, check_dft(_dft_items(12, "routing"), 12).ok
    (True, False)
    """
    if not items:
        return Outcome(False, f"no factorisation of n = {n} into 3 or more factors")
    done = []
    for inverse, sizes, W, flip in items:
        ok, diff = monomial_equal(dft_target(n, inverse, flip), W)
        if not ok:
            what = "F_n^-1" if inverse else "F_n"
            return Outcome(
                False,
                f"sizes {sizes}: {what} Q differs from the order-{len(sizes)} "
                f"Monarch at entry {diff[:2]}: target {diff[2]} vs form {diff[3]} (coef, exp)",
            )
        done.append(sizes)
    orders = sorted({len(s) for s in done})
    return Outcome(
        True,
        f"F_n Q and F_n^-1 Q equal order-p Monarch matrices (p in {orders}) for "
        f"{len(done) // 2} factorisations, e.g. {done[0]}; canonical roots of unity "
        f"over Q(ζ_{n})",
    )


def hadamard_target(n: int, flip: bool = False) -> MonomialMatrix:
    T = MonomialMatrix.hadamard(n)
    return T.perturbed(n - 1, n - 1) if flip else T


def _had_items(n: int, perturb: str | None = None):
    items = []
    for b in _splits(n, power2=True):
        ((_, cores, sizes),) = orderp_closed_form(Hadamard(n), len(b), b)
        if perturb == "witness" and not items:
            c0 = cores[0]
            cores = list(cores)
            cores[0] = type(c0)(c0.N, c0.exp.copy(), c0.coef.copy(), c0.scale, c0.radicand)
            cores[0].exp[0, -1, -1, -1] ^= 1
        items.append((sizes, orderp_monomial(cores, sizes), perturb == "target" and not items))
    return items


def check_hadamard(items, n: int) -> Outcome:
    """Every item's order-p form equals ``H_n`` (or the perturbed target) entrywise.

    Examples
    --------
    >>> check_hadamard(_had_items(16), 16).ok, check_hadamard(_had_items(16, "witness"), 16).ok
    (True, False)
    """
    if not items:
        return Outcome(False, f"no split of n = {n} into 3 or more powers of 2")
    for sizes, W, flip in items:
        ok, diff = monomial_equal(hadamard_target(n, flip), W)
        if not ok:
            return Outcome(
                False, f"sizes {sizes}: H_{n} differs from MonarchP(H_b...) at {diff[:2]}"
            )
    return Outcome(
        True,
        f"H_{n} = MonarchP(H_(b_0), ..., H_(b_(p-1))) with no permutation for "
        f"{len(items)} splits, e.g. {items[0][0]}; bit-parity definition over Q(ζ_2)",
    )


def _three_factors(n: int) -> str | None:
    return None if _factorisations(n, 3) else f"n = {n} has no factorisation into 3 factors >= 2"


def _power2_eight(n: int) -> str | None:
    return None if n >= 8 and n & (n - 1) == 0 else f"n = {n} is not a power of 2 >= 8"


CLAIMS = [
    Claim(
        name="orderp-dft",
        item="order-p Monarch (Monarch Mixer, Section 3); mixed-radix FFT",
        statement="F_n Q ∈ M_p for every factorisation n = b_0⋯b_(p-1) (p = 3, 4; Q the digit "
        "reversal), with the library's closed-form factors; also for F_n^-1",
        method="monomial entrywise over Q(ζ_n) against ζ_n^(∓uv): exponents of the factors' "
        "entries added per entry (exact integers, row chunks)",
        quick=QUICK_DFT,
        full=FULL_DFT,
        witness=lambda n: _dft_items(n),
        check=check_dft,
        negative=lambda n: _dft_items(n, "witness"),
        negative_label="one entry of the last factor moved by ζ_n",
        controls=(
            Control(
                "target entry (n-1, n-1) moved by ζ_n", "target", lambda n: _dft_items(n, "target")
            ),
            Control(
                "digit reversal Q replaced by the identity",
                "routing",
                lambda n: _dft_items(n, "routing"),
            ),
        ),
        admits=admits(_three_factors, limit=8192, why="n^2 entries per factorisation"),
    ),
    Claim(
        name="orderp-hadamard",
        item="order-p Monarch (Monarch Mixer, Section 3); Sylvester's Kronecker products",
        statement="H_n = MonarchP(H_(b_0), ..., H_(b_(p-1))) ∈ M_p for every split of n = 2^a into "
        "powers of 2 (p = 3, 4), with no permutation",
        method="monomial entrywise over Q(ζ_2) against the bit-parity definition (exact integers)",
        quick=QUICK_HAD,
        full=FULL_HAD,
        witness=lambda n: _had_items(n),
        check=check_hadamard,
        negative=lambda n: _had_items(n, "witness"),
        negative_label="one entry of the first factor negated",
        controls=(
            Control("target entry (n-1, n-1) negated", "target", lambda n: _had_items(n, "target")),
        ),
        admits=admits(_power2_eight, limit=8192, why="n^2 entries per split"),
    ),
]
