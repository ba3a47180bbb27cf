"""The ``to_monarch`` rules of every class: transforms from their closed forms, structured
classes from their parameters, and products, transposes and adjoints factor by factor.
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np

from .. import _backend as B
from ..base import Adjoint, Conjugate, Product, StructuredMatrix, Transpose
from ..geometry import divisors
from ..ops import (
    DCT,
    DFT,
    DST,
    BlockDiagonal,
    Butterfly,
    Convolution,
    Diagonal,
    Hadamard,
    Monarch,
    Permutation,
)
from .closed import _float_factors, closed_form
from .common import _arr, _ns, _on, _perm, _split, _star
from .dispatch import _rules, to_monarch
from .fourstep import _dft_blocks


@_rules.register(Monarch)
@_rules.register(Permutation)
@_rules.register(Diagonal)
def _(X, nblocks, xp):
    return [_on(X, xp)]


@_rules.register(BlockDiagonal)
def _(X, nblocks, xp):
    # diag(B_0..B_{nb-1}) = Monarch(L = ones((nb·rows, 1, 1)), R = blocks): with 1x1 L blocks
    # both stride permutations are the identity.
    X = _on(X, xp)
    ns = X.xp
    nb, r, _ = X.blocks.shape
    ones = ns.ones((nb * r, 1, 1), dtype=X.blocks.dtype)
    return [Monarch(ones, X.blocks)]


@_rules.register(Product)
def _(X, nblocks, xp):
    factors: list[StructuredMatrix] = []
    for f in X.factors:
        factors.extend(to_monarch(f, nblocks, xp=xp).factors)
    return factors


def _flip(factors, conj: bool):
    """Factors of the transpose (``conj=False``) or adjoint (``conj=True``), reversed."""
    out: list[StructuredMatrix] = []
    for f in reversed(factors):
        if isinstance(f, Monarch):
            out.append(_star(f if conj else cast(Monarch, f.conj())))
        elif isinstance(f, Adjoint):
            out.append(f.base if conj else f.base.conj())
        elif isinstance(f, Permutation):
            out.append(f.T)
        else:  # Diagonal
            out.append(f.conj() if conj else f)
    return out


@_rules.register(Transpose)
def _(X, nblocks, xp):
    return _flip(to_monarch(X.base, nblocks, xp=xp).factors, conj=False)


@_rules.register(Adjoint)
def _(X, nblocks, xp):
    return _flip(to_monarch(X.base, nblocks, xp=xp).factors, conj=True)


@_rules.register(Conjugate)
def _(X, nblocks, xp):
    out = []
    for f in to_monarch(X.base, nblocks, xp=xp).factors:
        out.append(_star(f.base.conj()) if isinstance(f, Adjoint) else f.conj())
    return out


@_rules.register(DFT)
@_rules.register(Hadamard)
def _(X, nblocks, xp):
    """DFT (four-step FFT) and Hadamard (Sylvester): the closed forms of :func:`closed_form`."""
    return _float_factors(closed_form(X, nblocks), _ns(X, xp), X.dtype)


@_rules.register(Butterfly)
def _(X, nblocks, xp):
    """``B = (B_n ⋯ B_{2b}) (B_b ⋯ B_2)`` with ``b = n / k``: the right group is
    block-diagonal (k blocks b × b, the ``R`` factor) and the left group only couples indices
    equal mod b (b residue blocks of k × k, the ``L`` factor).  Each group is evaluated by the
    butterfly's own multiply with the other group's factors set to the identity."""
    X = _on(X, xp)
    ns = X.xp
    n = X.n
    valid = [d for d in divisors(n) if 1 < d < n]
    if not valid:
        raise ValueError(
            f"Butterfly(n={n}) has no nontrivial Monarch split; to_monarch needs n = 2^a >= 4"
        )
    k = _split(n, nblocks, "Butterfly", valid)
    b = n // k
    e_split = b.bit_length() - 1  # levels 0..e_split-1 have block size <= b
    tw = X.twiddle
    levels = tw.shape[0]
    dt = tw.dtype
    one = ns.ones((n // 2,), dtype=dt)
    zero = ns.zeros((n // 2,), dtype=dt)
    ident = ns.stack([ns.stack([one, zero]), ns.stack([zero, one])])[None, ...]  # (1, 2, 2, n/2)

    def idents(m):
        return [ident] * m

    tw_r = ns.concat([tw[:e_split, ...]] + idents(levels - e_split), axis=0)
    tw_l = ns.concat(idents(e_split) + [tw[e_split:, ...]], axis=0)
    Xr = _arr(ns, np.tile(np.eye(b), (k, 1)), dt)  # [a b + i, j] = δ_ij
    R = ns.reshape(Butterfly(tw_r) @ Xr, (k, b, b))
    Xl = _arr(ns, np.kron(np.eye(k), np.ones((b, 1))), dt)  # [c b + b', c'] = δ_cc'
    Y = ns.reshape(Butterfly(tw_l) @ Xl, (k, b, k))  # [d, b', c]
    L = ns.permute_dims(Y, (1, 0, 2))
    return [Monarch(L, R)]


def _trig_rule(X, nblocks, xp):
    return _float_factors(closed_form(X, nblocks), _ns(X, xp), X.dtype)


_rules.register(DCT, _trig_rule)


_rules.register(DST, _trig_rule)


def _conv_plan(n: int, n_out: int):
    """``(N, P1, P2)`` for a full convolution: the circulant size and the two L-block counts.

    ``X₁`` keeps rows ``< n_out`` of an N-point Monarch with ``P1`` L blocks (needs
    ``P1 | n_out``), ``X₂`` rows ``< n`` (needs ``P2 | n``); ``N`` is the least multiple of
    ``lcm(P1, P2)`` that is ``>= n_out`` with at least two R blocks.  Minimises the parameter
    count, then prefers ``P1 == P2`` (no middle permutation).
    """
    best = None
    for P1 in divisors(n_out):
        for P2 in divisors(n):
            if P1 < 2 or P2 < 2:
                continue
            lcm = P1 * P2 // math.gcd(P1, P2)
            N = lcm * max(1, -(-max(n_out, 2 * P1, 2 * P2) // lcm))
            K1, K2 = N // P1, N // P2
            cost = K1 * P1 * P1 + n_out * K1 + K2 * P2 * P2 + n * K2
            key = (cost, P1 != P2, N)
            if best is None or key < best[0]:
                best = (key, (N, P1, P2))
    if best is None:
        raise ValueError(
            f"a full convolution with n={n} has no Monarch form: to_monarch needs n >= 2 "
            f"(and kernel length >= 1)"
        )
    return best[1]


def _conv_form(X, nblocks):
    """The closed-form part of a convolution's Monarch form (the DFT blocks of both factors).

    Returns ``(N, P1, P2, (L1, R1, q1), (L2, R2, q2))`` with RootSum blocks of the
    inverse-sign N-point DFT for ``P1`` and ``P2`` L blocks; the kernel's spectrum enters only
    ``R1``'s columns (see the Convolution rule).
    """
    n = X.n
    n_out = X.shape[0]
    if X.mode == "circular":
        try:
            k = _split(n, nblocks, "circular Convolution")
        except ValueError as exc:
            if nblocks is not None:
                raise
            raise ValueError(
                f"{exc}; for other n use mode='full', which embeds the "
                f"convolution in a circulant of composite size"
            ) from None
        N, P1, P2 = n, n // k, n // k
    else:
        N, P1, P2 = _conv_plan(n, n_out)
    one = _dft_blocks(N, N // P1, +1)
    two = one if P2 == P1 else _dft_blocks(N, N // P2, +1)
    return N, P1, P2, one, two


@_rules.register(Convolution)
def _(X, nblocks, xp):
    """``C = F⁻¹ diag(F c) F``.  With ``F = M Q`` (DFT rule) and ``F = Fᵀ = Qᵀ Mᵀ``:
    ``C = (1/N) M̄₁ Q₁ diag(F c) Q₂ᵀ M₂ᵀ = X₁ Π X₂ᴴ`` where ``X₁ = M̄₁ diag(Q₁ F c / N)``
    (diagonal folded into R's columns), ``X₂ = M̄₂`` and ``Π = Q₁ Q₂ᵀ`` (the identity when both
    splits agree, giving ``MM*``).  Full mode keeps rows ``< n + len - 1`` of ``X₁`` and rows
    ``< n`` of ``X₂`` (rectangular Monarch factors)."""
    X = _on(X, xp)
    ns = X.xp
    c = X.kernel
    cdt = B.complex_dtype_for(ns, c.dtype)
    n = X.n
    n_out = X.shape[0]
    N, P1, P2, (L1, R1, q1), (L2, R2, q2) = _conv_form(X, nblocks)
    K1 = N // P1
    L1, R1, L2, R2 = (t.to_complex() for t in (L1, R1, L2, R2))
    spec = B.fft(ns, c, axis=0, n=N)  # F c, in the kernel's namespace
    spec = ns.astype(spec, cdt) if spec.dtype != cdt else spec
    d = ns.take(spec, ns.asarray(q1), axis=0) / N  # Q₁ (F c) / N
    R1x = _arr(ns, R1, cdt) * ns.reshape(d, (K1, 1, P1))
    X1 = Monarch(_arr(ns, L1[:, : n_out // P1, :], cdt), R1x)
    X2 = Monarch(_arr(ns, L2[:, : n // P2, :], cdt), _arr(ns, R2, cdt))
    factors: list[StructuredMatrix] = [X1]
    if P1 != P2:
        inv2 = np.argsort(q2)
        factors.append(_perm(ns, inv2[q1], cdt))
    factors.append(_star(X2))
    return factors
