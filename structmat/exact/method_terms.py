"""The terms method of :func:`~structmat.exact.verify`: sums of roots of unity written in a basis
of ``Q(zeta_N)`` and compared as exact integer coordinates, vectorised.
"""

from __future__ import annotations

from fractions import Fraction
from math import lcm as _lcm
from typing import Any

import numpy as np

from ..base import StructuredMatrix
from ..monarch_form import RootSum
from ..ops import DFT, Hadamard, Permutation
from .matrices import ExactMatrix, ExactMonarch, ExactPermutation, ExactProduct
from .method_monomial import _squarefree
from .monomial import MonomialMatrix
from .ring import ExactRing


def _crt_components(N: int) -> list[tuple[int, int, int, int]]:
    """``(q, p, m, u)`` per prime power ``q = p^a`` of ``N``: ``m = q / p`` and ``u`` with
    ``ζ_N^e = Π ζ_q^{e u mod q}`` (``u = (N/q)^{-1} mod q``)."""
    from sympy import factorint

    out = []
    for p_, a in sorted(factorint(N).items()):
        q = p_**a
        u = pow(N // q, -1, q) if q > 1 else 0
        out.append((q, p_, q // p_, u))
    return out


def _vanish(
    entry: np.ndarray, exp: np.ndarray, coef: np.ndarray, N: int, n_entries: int
) -> np.ndarray:
    """For each entry id, whether ``Σ coef · ζ_N^exp`` over its terms is exactly zero.

    Each ``ζ_N^e`` is written in the basis ``Π_q {ζ_q^x : x < φ(q)}`` of ``Q(ζ_N)`` (tensor
    product over the prime powers ``q = p^a`` of ``N``): ``ζ_q^x`` with ``x = i q/p + j`` is a
    basis element when ``i < p − 1`` and ``−Σ_{t < p−1} ζ_q^{t q/p + j}`` when ``i = p − 1``
    (the relation ``Φ_q(ζ_q) = 0``).  Coordinates in a basis are unique, so an entry is zero iff
    all its integer coordinates vanish.
    """
    ent = np.asarray(entry, dtype=np.int64).ravel()
    e = np.mod(np.asarray(exp, dtype=np.int64).ravel(), N)
    c = np.asarray(coef, dtype=np.int64).ravel()
    keep = c != 0
    ent, e, c = ent[keep], e[keep], c[keep]
    idx = np.zeros_like(e)
    for q, p_, m, u in _crt_components(N) if N > 1 else []:
        x = (e * u) % q
        top = x // m == p_ - 1
        phi = q - m
        lo_ent, lo_idx, lo_c, lo_e = ent[~top], idx[~top] * phi + x[~top], c[~top], e[~top]
        j = x[top] % m
        reps = p_ - 1
        hi_ent = np.repeat(ent[top], reps)
        hi_e = np.repeat(e[top], reps)
        hi_c = -np.repeat(c[top], reps)
        t = np.tile(np.arange(reps, dtype=np.int64), int(top.sum()))
        hi_idx = np.repeat(idx[top], reps) * phi + t * m + np.repeat(j, reps)
        ent = np.concatenate([lo_ent, hi_ent])
        idx = np.concatenate([lo_idx, hi_idx])
        c = np.concatenate([lo_c, hi_c])
        e = np.concatenate([lo_e, hi_e])
    width = 1
    for q, _p, m, _u in _crt_components(N) if N > 1 else []:
        width *= q - m
    key = ent * width + idx
    uk, inv = np.unique(key, return_inverse=True)
    tot = np.zeros(uk.size, dtype=np.int64)
    np.add.at(tot, inv.ravel(), c)
    zero = np.ones(n_entries, dtype=bool)
    zero[np.unique(uk[tot != 0] // width)] = False
    return zero


def _gauss_sqrt(s: int) -> RootSum:
    """``√s`` (``s`` a square-free positive integer) as a sum of roots of unity (Gauss sums)."""
    from sympy import factorint

    out = RootSum.const(1)
    for p_ in sorted(factorint(s)):
        if p_ == 2:
            g = RootSum(8, [[1], [7]], [[1], [1]]).reshape(())
        else:
            k = np.arange(p_, dtype=np.int64)
            g = RootSum(p_, ((k * k) % p_)[:, None], np.ones((p_, 1), dtype=np.int64)).reshape(())
            if p_ % 4 == 3:  # G(p) = i √p
                g = g * RootSum(4, [[3]], [[1]]).reshape(())
        out = (out * g).simplify()
    return out


def _unit_radicand(x: RootSum) -> RootSum:
    """The same values with radicand 1 (square roots written as sums of roots of unity)."""
    if x.radicand == 1:
        return x
    r, s = _squarefree(x.radicand)
    y = x._like(x.exp, x.coef)
    y.scale = x.scale * r
    y.radicand = Fraction(1)
    return (y * _gauss_sqrt(s)) if s != 1 else y


def _difference(a: RootSum, b: RootSum) -> RootSum:
    if a.radicand != b.radicand:
        a, b = _unit_radicand(a), _unit_radicand(b)
    return a - b


def _rows_of_monarch(L: RootSum, R: RootSum, geometry, rows: np.ndarray) -> RootSum:
    """Rows ``rows`` of the Monarch product with closed-form blocks, as sums of roots of unity:
    ``M[d l + b, a p + j] = Σ_{i ≡ b − a q (mod l), i < q} L[b, d, (a q + i) div l] R[a, i, j]``."""
    k, q, p, l, s_, r = geometry
    d, b = rows // l, rows % l
    a = np.arange(k, dtype=np.int64)
    i0 = (b[:, None] - a[None, :] * q) % l
    parts = []
    for t in range(-(-q // l)):
        i = i0 + t * l
        valid = i < q
        if not valid.any():
            continue
        ic = np.where(valid, i, 0)
        c = (a[None, :] * q + ic) // l
        Lv = L[b[:, None], d[:, None], np.minimum(c, r - 1)]  # (rows, k)
        Lv = Lv._like(Lv.exp, Lv.coef * valid)
        Rv = R[a[None, :], ic, :]  # (rows, k, p)
        prod = Lv[:, :, None] * Rv
        parts.append(prod.reshape(rows.size, k * p))
    out = parts[0]
    for extra in parts[1:]:
        out = out + extra
    return out


def _form_rows(form: ExactMatrix):
    """``rows(r0, r1) -> RootSum`` for a form of permutations and one closed-form Monarch."""
    factors: list[Any] = list(form.factors) if isinstance(form, ExactProduct) else [form]
    idx = [i for i, f in enumerate(factors) if isinstance(f, ExactMonarch)]
    if len(idx) != 1 or not all(isinstance(f, (ExactMonarch, ExactPermutation)) for f in factors):
        return None
    M = factors[idx[0]]
    if not M.has_terms or form.ring.symbol_names:
        return None
    n_rows, n_cols = form.shape
    rowmap = np.arange(n_rows, dtype=np.int64)
    for f in factors[: idx[0]]:  # (P A)[i] = A[perm[i]]
        rowmap = f.perm[rowmap]
    colmap = np.arange(n_cols, dtype=np.int64)
    for f in reversed(factors[idx[0] + 1 :]):
        colmap = np.argsort(f.perm)[colmap]

    def rows(r0, r1):
        A = _rows_of_monarch(M.L_terms, M.R_terms, M.geometry, rowmap[r0:r1])
        return A[:, colmap]

    return rows


def _target_rows(X: Any):
    """``rows(r0, r1) -> RootSum`` of a DFT, Hadamard, DCT/DST or permutation from its definition."""
    from .. import _backend as B
    from ..ops import DCT, DST
    from .convert import _dft_scale, _host, trig_exact_scalings

    if isinstance(X, DFT):
        n = X.n
        r, m = _dft_scale(X)
        sc = RootSum.sqrt_rational(m) * RootSum.const(1, r)
        sign = 1 if X.inverse else -1

        def rows(r0, r1):
            j = np.arange(r0, r1, dtype=np.int64)[:, None]
            k = np.arange(n, dtype=np.int64)[None, :]
            return RootSum.root((j * k) % n, n, sign) * sc

        return rows
    if isinstance(X, Hadamard):
        T = MonomialMatrix.hadamard(X.n)
        sc = RootSum.sqrt_rational(Fraction(1, X.n)) if X.norm == "ortho" else RootSum.const(1)

        def rows(r0, r1):
            e, c = T.rows(r0, r1)
            return RootSum(2, e[None], c[None]) * sc

        return rows
    if isinstance(X, (DCT, DST)):
        trig_name, a, b, mfun = B.TRIG_KERNELS[(X._kind, X.type)]
        n = X.n
        M8 = 8 * mfun(n)
        w, f = trig_exact_scalings(X._kind, X.type, n, X.norm)
        to_rs = lambda vals: [RootSum.sqrt_rational(m) * RootSum.const(1, r) for r, m in vals]  # noqa: E731
        from ..monarch_form.rootsum import _stack

        try:
            W, Fo = _stack(to_rs(w)), _stack(to_rs(f))
        except ValueError:
            return None
        a4, b4 = int(round(4 * a)), int(round(4 * b))
        xs = np.arange(n, dtype=np.int64)

        def rows(r0, r1):
            y = np.arange(r0, r1, dtype=np.int64)[:, None]
            Xp = ((4 * y + a4) * (4 * xs[None, :] + b4)) // 4
            K = RootSum(
                M8,
                np.stack([Xp, -Xp]),
                np.stack([np.ones_like(Xp), np.ones_like(Xp)]),
                Fraction(1, 2),
            )
            if trig_name == "sin":
                K = RootSum(
                    M8,
                    np.stack([Xp, -Xp]),
                    np.stack([np.ones_like(Xp), -np.ones_like(Xp)]),
                    Fraction(1, 2),
                ) * RootSum(4, [[3]], [[1]]).reshape(())
            return Fo[r0:r1][:, None] * K * W[None, :]

        return rows
    if isinstance(X, Permutation):
        perm = _host(X.perm)
        n = perm.size

        def rows(r0, r1):
            c = np.zeros((r1 - r0, n), dtype=np.int64)
            c[np.arange(r1 - r0), perm[r0:r1]] = 1
            return RootSum(1, np.zeros((1,) + c.shape, dtype=np.int64), c[None])

        return rows
    return None


def _terms_check(form: ExactMatrix, X: Any):
    if not isinstance(X, StructuredMatrix):
        return None
    fr = _form_rows(form)
    if fr is None:
        return None
    tr = _target_rows(X)
    if tr is None:
        return None
    n_rows, n_cols = form.shape
    probe = _difference(fr(0, 1), tr(0, 1))
    chunk = max(1, min(n_rows, (1 << 20) // max(1, n_cols * probe.nterms)))
    N_all = probe.N
    for r0 in range(0, n_rows, chunk):
        r1 = min(n_rows, r0 + chunk)
        A, T = fr(r0, r1), tr(r0, r1)
        D = _difference(A, T)
        N_all = _lcm(N_all, _rs_cond(D))
        n_ent = (r1 - r0) * n_cols
        ent = np.broadcast_to(
            np.arange(n_ent, dtype=np.int64).reshape(r1 - r0, n_cols), D.exp.shape
        )
        zero = _vanish(ent, D.exp, D.coef, D.N, n_ent)
        if not zero.all():
            k = int(np.argmin(zero))
            i, j = divmod(k, n_cols)
            ring = ExactRing(_lcm(D.N, _lcm(_rs_cond(A), _rs_cond(T))))
            from .elements import rootsum_entries

            a = rootsum_entries(A[i, j], ring)
            b = rootsum_entries(T[i, j], ring)
            return False, (r0 + i, j, str(ring.to_expr(a)), str(ring.to_expr(b))), ring.N
    return True, None, N_all


def _rs_cond(t: RootSum) -> int:
    from .elements import rootsum_conductor

    return rootsum_conductor(t)
