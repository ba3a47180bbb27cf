"""Closed forms: one description per transform (DFT, Hadamard, DCT/DST) as factor
specifications of ``RootSum`` arrays and permutations, evaluated in floating point.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from .. import _backend as B
from ..base import StructuredMatrix, dtype_name
from ..geometry import divisors
from ..ops import (
    DCT,
    DFT,
    DST,
    Hadamard,
    Monarch,
)
from .common import _arr, _perm, _split
from .fourstep import _ct_monarch, _dft_blocks, _dft_norm, _specs_with_perms, _sylvester
from .rootsum import RootSum, _concat, _stack


def closed_form(X: StructuredMatrix, nblocks: Any = None) -> list:
    r"""The exact closed-form factors of a DFT, Hadamard, DCT or DST in Monarch form.

    This is the single description from which :func:`to_monarch` evaluates its floating-point
    factors and ``to_monarch(X, exact=True)`` builds exact ones.

    Parameters
    ----------
    X : DFT, Hadamard, DCT or DST
    nblocks : int or (int, int), optional
        The split, as for :func:`to_monarch`.

    Returns
    -------
    list of tuples
        ``("M", L, R)`` (a Monarch with :class:`RootSum` blocks) or ``("P", perm)`` (a
        permutation, ``(P x)[i] = x[perm[i]]``), in product order.

    Examples
    --------
    >>> from structmat import DFT
    >>> from structmat.monarch_form import closed_form
    >>> (tok, L, R), (tok2, perm) = closed_form(DFT(6), nblocks=2)
    >>> tok, L.shape, R.shape, L.N, R.N, perm.tolist()
    ('M', (3, 2, 2), (2, 3, 3), 2, 6, [0, 2, 4, 1, 3, 5])
    """
    if isinstance(X, DFT):
        n = X.n
        k = _split(n, nblocks, "DFT")
        sign = 1 if X.inverse else -1
        L, R, in_perm = _dft_blocks(n, k, sign, _dft_norm(n, X.norm, X.inverse))
        return [("M", L, R), ("P", np.asarray(in_perm, dtype=np.int64))]
    if isinstance(X, Hadamard):
        return _hadamard_form(X, nblocks)
    if isinstance(X, (DCT, DST)):
        name = type(X).__name__
        if X.type == 1:
            raise ValueError(
                f"{name} type 1 has no Monarch form here; to_monarch covers {name} types 2, 3 "
                f"and 4 (composite n)"
            )
        k = _split(X.n, nblocks, f"{name} type {X.type}")
        return _trig_form(name.lower(), X.type, X.n, X.norm, k)
    raise TypeError(f"closed_form covers DFT, Hadamard, DCT and DST; got {type(X).__name__}")


def _hadamard_form(X, nblocks):
    """Sylvester: ``H_n = H_k ⊗ H_p``; with rows ``d p + b`` and columns ``a p + j`` the entry is
    ``H_k[d, a] H_p[b, j]``, i.e. ``L[b] = H_k`` (p blocks) and ``R[a] = H_p`` (k blocks)."""
    n = X.n
    valid = [d for d in divisors(n) if 1 < d < n]
    if not valid:
        raise ValueError(
            f"Hadamard(n={n}) has no nontrivial Monarch split; to_monarch needs n = 2^a >= 4 "
            f"(n = k·p with k, p >= 2 powers of 2)"
        )
    k = _split(n, nblocks, "Hadamard", valid)
    p = n // k
    Lb = RootSum.root(np.broadcast_to(_sylvester(k), (p, k, k)), 2, sign=1)
    Rb = RootSum.root(np.broadcast_to(_sylvester(p), (k, p, p)), 2, sign=1)
    if X.norm == "ortho":
        Lb = Lb * RootSum.sqrt_rational(Fraction(1, n), fold_two=False)
    return [("M", Lb, Rb)]


def _trig_weights(kind: str, typ: int, n: int, norm):
    """SciPy's input weights ``w`` and output scales ``f`` (types 2–4) as exact RootSums."""
    # each value is stored squared: the weight is its positive square root
    w = [Fraction(4)] * n
    f = [Fraction(1)] * n
    if (kind, typ) == ("dct", 3):
        w[0] = Fraction(1)
    elif (kind, typ) == ("dst", 3):
        w[-1] = Fraction(1)
    if norm == "ortho":
        f = [Fraction(1, 2 * n)] * n
        edge = 0 if kind == "dct" else n - 1
        if typ == 2:
            f[edge] = Fraction(1, 4 * n)
        elif typ == 3:
            w = [Fraction(4)] * n
            w[edge] = Fraction(2)
    elif norm is not None:
        raise ValueError(f"norm must be None or 'ortho'; got {norm!r}")

    def to_rs(vals):
        uniq = sorted(set(vals))
        pos = {v: i for i, v in enumerate(uniq)}
        return _stack([RootSum.sqrt_rational(v) for v in uniq])[np.array([pos[v] for v in vals])]

    return to_rs(w), to_rs(f)


def _trig_form(kind: str, typ: int, n: int, norm, k: int):
    """Real ``L (p, k, 2k)``, ``R (k, 2p, p)`` and index maps of the DCT/DST (module docstring)."""
    trig_name, alpha, beta, _ = B.TRIG_KERNELS[(kind, typ)]
    w, f = _trig_weights(kind, typ, n, norm)
    N, K = 2 * n, 2 * k
    shift = int(math.floor(alpha))
    a2 = int(round(2 * (alpha - shift)))  # 2α' in {0, 1}
    b2 = int(round(2 * beta))  # 2β in {0, 1, 2}
    y = np.arange(n)
    u = y + shift
    out_coef = RootSum.root(u * b2, 2 * N)  # ω_N^{u β} (f applied after)
    j = np.arange(n)
    e1 = j
    e2 = np.mod(-j - b2, N)
    t = (e2 + j + b2) // N  # wrap count of e2, 0 or 1
    # λ₁ = λ₂ = ½ (cos) or λ₁ = ½ i, λ₂ = −½ i (sin); w applied after
    c1 = RootSum.root(a2 * (2 * e1 + b2), 4 * N)  # ω_N^{α' (e + β)}
    c2 = RootSum.root(a2 * (2 * e2 + b2), 4 * N, coef=(-1) ** (a2 * t))
    if trig_name == "sin":  # λ₁ = ½ i, λ₂ = −½ i (cos: ½, ½)
        c1 = c1 * RootSum.root(np.array(1), 4, sign=1)
        c2 = c2 * RootSum.root(np.array(3), 4, sign=1)
    c1.scale = c1.scale / 2
    c2.scale = c2.scale / 2
    ext = (np.concatenate([e1, e2]), np.concatenate([j, j]), _concat([c1, c2]))
    # partner residues a <-> -a - 2β (mod K); self-partnered residues (two of them when 2β is
    # even) share one group
    groups: list[tuple[int, ...]] = []
    kinds: list[str] = []
    selfs: list[int] = []
    for a in range(K):
        partner = (-a - b2) % K
        if partner == a:
            selfs.append(a)
        elif a < partner:
            groups.append((a, partner))
            kinds.append("pair")
    if selfs:
        groups.append(tuple(selfs))
        kinds.append("self")
    order = np.argsort([min(g) for g in groups], kind="stable")
    groups = [groups[i] for i in order]
    kinds = [kinds[i] for i in order]
    L, R, in_perm, out_map, yb = _ct_monarch(N, K, -1, (y, u, out_coef), ext, groups)
    L, R = _realify(L, R, kinds)
    # real positive scalings commute with taking real parts: output scales on L's rows, input
    # weights on R's columns
    L = (L * f[yb][:, :, None]).simplify()
    G, _, p = R.shape
    R = (R * w[in_perm.reshape(G, p)][:, None, :]).simplify()
    return _specs_with_perms(L, R, in_perm, out_map)


def _phase(m: RootSum):
    """``(coef, exponent)`` arrays of a one-term RootSum (its phase ``ζ_N^e`` and sign)."""
    s = m.simplify() if m.nterms != 1 else m
    if s.nterms != 1:
        raise AssertionError("expected one root of unity per entry")
    return s.coef[0], s.exp[0]


def _realify(L, R, kinds):
    """Real factors with the same product, slab by slab (the slabs are real matrices).

    In slab (group g, block b) the two L columns are ``ℓ`` and ``c ℓ̄`` with ``|c| = 1`` (a pair
    group) or each column is ``c ℓ̄`` itself (self-partnered residues).  With ``ρ² = c`` and
    ``m = ℓ / ρ``: ``[ℓ, c ℓ̄] = ρ [m, m̄] = ρ [2 Re m, 2 Im m] U⁻¹``, ``U⁻¹ = ½ [[1, 1], [i, −i]]``,
    so L gets ``[2 Re m, 2 Im m]`` and R gets ``ρ U⁻¹ R``, whose imaginary part multiplies to
    zero (the slab is real) and is dropped.  ``ρ`` is a root of unity of twice the conductor:
    ``c = ζ_N^E`` gives ``ρ = ζ_{2N}^E``.  All pair groups are handled at once.
    """
    P = L.shape[0]
    G = len(kinds)
    pair = np.array([g for g, kd in enumerate(kinds) if kd == "pair"], dtype=np.int64)
    selfg = [g for g, kd in enumerate(kinds) if kd != "pair"]
    cols, groups = [], []  # (column index, RootSum (P, s, m)), (group, R)
    if pair.size:
        l0 = L[:, :, 2 * pair]  # (P, s, G')
        s0, e0 = _phase(L[:, 0, 2 * pair])
        s1, e1 = _phase(L[:, 0, 2 * pair + 1])
        if np.any(np.abs(s0) != np.abs(s1)):
            raise AssertionError("partner columns differ in modulus")
        E = e1 + e0 + np.where(s0 * s1 < 0, L.N // 2, 0)  # c = ζ_N^E, (P, G')
        rho = RootSum.root(E, 2 * L.N, sign=1)  # ρ = ζ_{2N}^E
        m = l0 * rho[:, None, :].conj()
        cols += [(2 * pair, (m + m.conj()).simplify()), (2 * pair + 1, (m.imag() * 2).simplify())]
        r0, r1 = R[pair, :P, :], R[pair, P:, :]  # (G', P, p)
        rr = rho.transpose(1, 0)[:, :, None]  # (G', P, 1)
        top = (rr * (r0 + r1)).real()
        top.scale = top.scale / 2
        bot = (rr * (r0 - r1) * RootSum.root(np.array(1), 4, sign=1)).real()
        bot.scale = bot.scale / 2
        groups.append((pair, _concat([top.simplify(), bot.simplify()], axis=1)))
    for g in selfg:
        parts = []
        for col, rows in ((2 * g, slice(0, P)), (2 * g + 1, slice(P, 2 * P))):
            _, e0 = _phase(L[:, 0, col])
            rho = RootSum.root(e0, L.N, sign=1)[:, None]  # the phase of ℓ[b, 0]
            cols.append(
                (np.array([col]), (L[:, :, col] * rho.conj()).real().simplify()[:, :, None])
            )
            parts.append((rho * R[g, rows, :]).real().simplify())
        groups.append((np.array([g]), _concat(parts, axis=0)[None]))
    Lall = _concat([c for _, c in cols], axis=-1)
    order = np.argsort(np.concatenate([i for i, _ in cols]))
    Rall = _concat([r for _, r in groups], axis=0)
    gorder = np.argsort(np.concatenate([i for i, _ in groups]))
    assert Lall.shape[-1] == 2 * G and Rall.shape[0] == G
    return Lall[:, :, order], Rall[gorder]


def _float_factors(specs, xp, dtype) -> list:
    """Floating-point factors (``Monarch``, ``Permutation``) from closed-form specs."""
    out: list[StructuredMatrix] = []
    real = not np.issubdtype(np.dtype(dtype_name(dtype)), np.complexfloating)
    for spec in specs:
        if spec[0] == "P":
            out.append(_perm(xp, spec[1], dtype))
        else:
            L, R = spec[1].to_complex(), spec[2].to_complex()
            if real:
                L, R = L.real, R.real
            out.append(Monarch(_arr(xp, L, dtype), _arr(xp, R, dtype)))
    return out
