"""The monomial method of :func:`~structmat.exact.verify`: forms and targets whose entries are
single roots of unity, compared as integer exponents.
"""

from __future__ import annotations

from fractions import Fraction
from math import lcm as _lcm
from typing import Any

import numpy as np

from ..base import StructuredMatrix
from ..ops import DFT, Hadamard, Permutation
from .matrices import ExactMatrix, ExactMonarch, ExactPermutation, ExactProduct
from .monomial import MonomialMatrix, MonomialMonarch, monomial_equal


def _squarefree(q: Fraction) -> tuple[Fraction, int]:
    """``√q = r · √m`` with ``r`` rational and ``m`` a square-free integer."""
    from sympy import factorint

    a = q.numerator * q.denominator
    t, m = 1, 1
    for p, e in factorint(a).items():
        t *= p ** (e // 2)
        if e % 2:
            m *= p
    return Fraction(t, q.denominator), m


def _form_monomial(form: ExactMatrix):
    """``(MonomialMatrix, radicand)`` of a form made of permutations and one Monarch with
    single-root-of-unity blocks and rank-one slabs, else ``None``."""
    factors: list[Any] = list(form.factors) if isinstance(form, ExactProduct) else [form]
    idx = [i for i, f in enumerate(factors) if isinstance(f, ExactMonarch)]
    if len(idx) != 1 or not all(isinstance(f, (ExactMonarch, ExactPermutation)) for f in factors):
        return None
    M = factors[idx[0]]
    if not M.has_terms or M.L_terms.nterms != 1 or M.R_terms.nterms != 1:
        return None
    if form.ring.symbol_names:
        return None
    Lt, Rt = M.L_terms, M.R_terms
    N = _lcm(Lt.N, Rt.N)
    if N % 2 and (np.any(Lt.coef < 0) or np.any(Rt.coef < 0)):
        N *= 2
    Lt, Rt = Lt.lift(N), Rt.lift(N)
    try:
        A: MonomialMatrix = MonomialMonarch(
            Lt.exp[0], Lt.coef[0], Rt.exp[0], Rt.coef[0], N, scale=Lt.scale * Rt.scale
        )
    except ValueError:  # slabs of rank > 1
        return None
    for f in reversed(factors[: idx[0]]):
        A = A.permute_rows(f.perm)
    for f in factors[idx[0] + 1 :]:
        A = A.permute_columns(f.perm)
    return A, Lt.radicand * Rt.radicand


def _target_monomial(X: Any):
    """``(MonomialMatrix, radicand)`` of a DFT, Hadamard or permutation from its definition."""
    if isinstance(X, DFT):
        n = X.n
        T = MonomialMatrix.dft(n, inverse=X.inverse)
        if X.norm == "ortho":
            return T, Fraction(1, n)
        T.scale = Fraction(1, n) if (X.norm == "forward") != bool(X.inverse) else Fraction(1)
        return T, Fraction(1)
    if isinstance(X, Hadamard):
        T = MonomialMatrix.hadamard(X.n)
        return T, (Fraction(1, X.n) if X.norm == "ortho" else Fraction(1))
    if isinstance(X, Permutation):
        from .convert import _host

        return MonomialMatrix.permutation(_host(X.perm)), Fraction(1)
    return None


def _monomial_check(form: ExactMatrix, X: Any):
    t = _target_monomial(X) if isinstance(X, StructuredMatrix) else None
    if t is None:
        return None
    f = _form_monomial(form)
    if f is None:
        return None
    (A, ma), (B, mb) = f, t
    ra, sa = _squarefree(ma)
    rb, sb = _squarefree(mb)
    A.scale, B.scale = A.scale * ra, B.scale * rb
    from .cyclo import sqrt_conductor

    N = _lcm(_lcm(A.N, B.N), _lcm(sqrt_conductor(sa), sqrt_conductor(sb)))
    if sa == sb:
        ok, diff = monomial_equal(A, B)
        if diff is not None:
            r, c, (ca, ea), (cb, eb) = diff
            diff = (r, c, _mono_str(A, ca, ea, sa), _mono_str(B, cb, eb, sb))
        return ok, diff, N
    # different square-free parts: r·√sa·(root) = r'·√sb·(root') forces √(sa·sb) rational,
    # impossible, so only entries that are zero on both sides agree
    chunk = max(1, (1 << 16) // max(A.shape[1], 1))
    for r0 in range(0, A.shape[0], chunk):
        r1 = min(A.shape[0], r0 + chunk)
        ea, ca = A.rows(r0, r1)
        eb, cb = B.rows(r0, r1)
        bad = (ca != 0) | (cb != 0)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            return (
                False,
                (
                    int(r0 + i),
                    int(j),
                    _mono_str(A, ca[i, j], ea[i, j], sa),
                    _mono_str(B, cb[i, j], eb[i, j], sb),
                ),
                N,
            )
    return True, None, N


def _mono_str(A: MonomialMatrix, c: int, e: int, sqf: int) -> str:
    if c == 0:
        return "0"
    val = A.scale * int(c)
    parts = [str(val)] if val != 1 else []
    if e:
        parts.append(f"zeta_{A.N}^{int(e)}")
    if sqf != 1:
        parts.append(f"sqrt({sqf})")
    return "*".join(parts) or "1"
