"""Exact verification of a Monarch form against the transform it claims to be: :func:`verify`.

``verify(to_monarch(X, exact=True), X)`` proves (or refutes) the matrix identity
``form == X`` with exact arithmetic only.  The right-hand side is built from the transform's
*definition*, independently of the closed forms the factors come from:

* ``DFT``: entries ``s · ζ_n^{∓jk mod n}`` (``s`` its norm: 1, 1/n or 1/√n);
* ``Hadamard``: the bit-parity formula ``(−1)^popcount(j & k)`` (times 1/√n for "ortho");
* ``DCT``/``DST``: ``cos``/``sin`` of ``π (j + α)(k + β) / M`` as half-sums of roots of unity
  with SciPy's weights (as in :func:`structmat.exact.to_exact`);
* convolutions: the circulant (or Toeplitz) matrix of the kernel's exact values, or of symbols;
* butterflies: the product of the exact level factors; Monarch, block-diagonal, permutation and
  diagonal inputs: their parameters read exactly.

Three exact methods decide the identity (the first that applies is used):

* **monomial** (DFT, Hadamard, permutations; any size): when the form is permutations around one
  Monarch whose block entries are single roots of unity ``c · ζ_N^e`` and whose slabs have rank
  one, every entry of the product is one product ``L[b, d, a] R[a, i, j]``: a monomial with an
  integer exponent.  Entries ``c ζ_N^e`` with ``c > 0`` are equal in ``Q(ζ_N)`` iff their
  ``(c, e mod N)`` agree, so the comparison is integer arithmetic on NumPy arrays, one row chunk
  at a time.  A common irrational scale ``√m`` is split off both sides and compared on its own
  (square-free parts).
* **terms** (DCT, DST, and any form of permutations around one closed-form Monarch against a
  DFT, Hadamard, DCT/DST or permutation; any size): every entry of both sides is a sum of roots
  of unity ``Σ c ζ_N^e``, computed with integer arrays row chunk by row chunk.  Each ``ζ_N^e`` is
  rewritten in a basis of ``Q(ζ_N)`` over ``Q`` (the products of ``ζ_q^x``, ``x < φ(q)``, over
  the prime powers ``q`` of ``N``, using ``Φ_q(ζ_q) = 0``); coordinates in a basis are unique,
  so an entry of the difference is zero iff all its integer coordinates are.
* **dense**: otherwise both sides are evaluated as exact matrices over one cyclotomic field
  (``Q(ζ_N)[symbols]`` in canonical form, :class:`~structmat.exact.ExactRing`) and compared
  entry by entry, by exact structured products with identity columns: one column first, then
  chunks doubling up to 64 columns (a wrong form is rejected after a few columns).  Its cost
  grows like ``n^2.5`` exact field operations: seconds up to ``n`` of about 64 (convolutions,
  butterflies), minutes beyond a few hundred.

Both sides are brought to one field automatically (the least common multiple of the
conductors, the union of the symbols).

Examples
--------
>>> from structmat import DFT, to_monarch
>>> from structmat.exact import verify
>>> r = verify(to_monarch(DFT(96), exact=True), DFT(96))
>>> bool(r), r.field, r.method.split(":")[0]
(True, 'Q(zeta_96)', 'monomial')
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..base import StructuredMatrix
from ..monarch_form import RootSum
from ..ops import DFT, Butterfly, Convolution, Hadamard, Permutation
from .compare import exact_equal
from .matrices import ExactDense, ExactMatrix, ExactMonarch, ExactPermutation, ExactProduct
from .monomial import MonomialMatrix, MonomialMonarch, monomial_equal
from .ring import ExactRing

__all__ = ["VerifyResult", "verify"]

_MONOMIAL = (
    "monomial: entrywise comparison of canonical roots of unity c·ζ_N^e (exact integer "
    "exponents mod N, row chunks)"
)
_TERMS = (
    "terms: entrywise comparison of sums of roots of unity written in a basis of Q(ζ_N) "
    "(exact integer coordinates, row chunks)"
)
_DENSE = "dense: entrywise comparison of both exact matrices over the field (canonical forms)"


@dataclass(frozen=True, repr=False)
class VerifyResult:
    """The outcome of :func:`verify`; ``bool(result)`` is the verdict.

    Attributes
    ----------
    verdict : bool
        Whether ``form == X`` holds exactly.
    method : str
        How it was decided (always exact: ``"monomial: ..."``, ``"terms: ..."`` or
        ``"dense: ..."``, see the module docstring).
    field : str
        The field both sides were compared in, e.g. ``"Q(zeta_12)"`` (with its symbols).
    seconds : float
        Wall time of the check.
    first_difference : tuple of (int, int, str, str) or None
        ``(row, col, form_entry, target_entry)`` of the first differing entry (row-major order
        of the chunks compared), ``None`` when equal.
    target : str
        What the form was compared with.
    form : str or None
        The form's factor string (``"MP"``, ``"MM*"``, ...).
    note : str
        A hint when the verdict has a likely simple cause (factors read from floating point).

    Examples
    --------
    >>> from structmat import Hadamard, to_monarch
    >>> from structmat.exact import verify
    >>> r = verify(to_monarch(Hadamard(8), exact=True), Hadamard(8))
    >>> r.verdict, r.first_difference, str(r).split(" in ")[0]
    (True, None, 'verified: M == Hadamard(8) exactly over Q(zeta_2)')
    """

    verdict: bool
    method: str
    field: str
    seconds: float
    first_difference: tuple | None = None
    target: str = ""
    form: str | None = None
    note: str = ""

    def __bool__(self) -> bool:
        return bool(self.verdict)

    def __str__(self) -> str:
        lhs = self.form or "form"
        if self.verdict:
            head = f"verified: {lhs} == {self.target} exactly over {self.field}"
        else:
            head = f"REJECTED: {lhs} != {self.target} over {self.field}"
            if self.first_difference is not None:
                r, c, a, b = self.first_difference
                head += f"; first difference at ({r}, {c}): form {a}, target {b}"
                if not self.method.startswith("monomial") and self.field.startswith("Q(zeta_"):
                    head += f" (z = {self.field[2:].split(')')[0]})"
        tail = f" [{self.note}]" if self.note else ""
        return f"{head} in {self.seconds:.3g} s ({self.method.split(':')[0]}){tail}"

    def __repr__(self) -> str:
        return f"<VerifyResult {self}>"


def _describe(X: Any) -> str:
    from ..base import Adjoint, Conjugate, Product, Transpose

    if isinstance(X, ExactMatrix):
        return f"{type(X).__name__}{X.shape}"
    if isinstance(X, Product):
        return " @ ".join(_describe(f) for f in X.factors)
    for cls, suffix in ((Adjoint, ".H"), (Transpose, ".T"), (Conjugate, ".conj()")):
        if isinstance(X, cls):
            inner = _describe(X.base)
            return f"({inner}){suffix}" if " @ " in inner else f"{inner}{suffix}"
    name = type(X).__name__
    n = getattr(X, "n", None)
    extra = []
    if isinstance(X, DFT):
        if X.inverse:
            extra.append("inverse=True")
        if X.norm not in (None, "backward"):
            extra.append(f"norm={X.norm!r}")
    elif isinstance(X, Hadamard) and X.norm == "ortho":
        extra.append("norm='ortho'")
    elif hasattr(X, "type") and hasattr(X, "norm"):
        extra.append(f"type={X.type}")
        if X.norm is not None:
            extra.append(f"norm={X.norm!r}")
    elif isinstance(X, Convolution):
        extra.append(f"mode={X.mode!r}")
    if n is None:
        return f"{name}{tuple(X.shape)}"
    return f"{name}({', '.join([str(n)] + extra)})"


def _field(ring: ExactRing) -> str:
    f = f"Q(zeta_{ring.N})" if ring.N > 1 else "Q"
    if ring.symbol_names:
        f += f"[{len(ring.symbol_names)} symbols]"
    return f


def _lcm(a: int, b: int) -> int:
    return a * b // math.gcd(a, b)


def verify(form: Any, X: Any) -> VerifyResult:
    """Prove or refute ``form == X`` exactly.

    Parameters
    ----------
    form : ExactMatrix
        Usually ``to_monarch(X, exact=True)`` (an :class:`~structmat.exact.ExactProduct`); any
        exact matrix works.
    X : StructuredMatrix or ExactMatrix
        The transform (``DFT(1024)``, ``Hadamard(64)``, ``DCT(12, type=4)``, a convolution, ...)
        whose exact matrix is built from its definition (module docstring), or an exact matrix.

    Returns
    -------
    VerifyResult
        Verdict, method, field, time and the first differing entry when the verdict is False.

    Raises
    ------
    TypeError
        ``form`` holds floating-point factors (binary fractions are not roots of unity: build
        it with ``to_monarch(X, exact=True)``), or an argument is not a matrix.

    Examples
    --------
    >>> from structmat import DCT, DFT, to_monarch
    >>> from structmat.exact import verify
    >>> verify(to_monarch(DCT(12, type=2, norm="ortho"), exact=True), DCT(12, type=2, norm="ortho")).verdict
    True
    >>> bad = verify(to_monarch(DFT(12), exact=True), DFT(12, inverse=True, norm="forward"))
    >>> bad.verdict, bad.first_difference[:2]
    (False, (1, 1))
    >>> verify(to_monarch(DFT(8)), DFT(8))
    Traceback (most recent call last):
    ...
    TypeError: form has floating-point factors (Product): binary fractions are not roots of unity, so they cannot be checked exactly against DFT(8); build the exact form with to_monarch(X, exact=True)
    """
    t0 = time.perf_counter()
    if isinstance(form, StructuredMatrix):
        raise TypeError(
            f"form has floating-point factors ({type(form).__name__}): binary fractions are not "
            f"roots of unity, so they cannot be checked exactly against {_describe(X)}; build "
            f"the exact form with to_monarch(X, exact=True)"
        )
    if not isinstance(form, ExactMatrix):
        raise TypeError(
            f"form must be an exact matrix (to_monarch(X, exact=True)); got {type(form).__name__}"
        )
    if not isinstance(X, (StructuredMatrix, ExactMatrix)):
        raise TypeError(
            f"X must be a structmat StructuredMatrix or an exact matrix; got {type(X).__name__}"
        )
    target = _describe(X)
    fstr = getattr(form, "form", None)
    if tuple(form.shape) != tuple(X.shape):
        return VerifyResult(
            False,
            "shape comparison",
            _field(form.ring),
            time.perf_counter() - t0,
            None,
            target,
            fstr,
        )
    try:
        mono = _monomial_check(form, X)
    except OverflowError:  # coefficients beyond int64: the dense method below decides
        mono = None
    if mono is not None:
        ok, diff, N = mono
        return VerifyResult(
            ok,
            _MONOMIAL,
            f"Q(zeta_{N})" if N > 1 else "Q",
            time.perf_counter() - t0,
            diff,
            target,
            fstr,
        )
    try:
        terms = _terms_check(form, X)
    except OverflowError:
        terms = None
    if terms is not None:
        ok, diff, N = terms
        return VerifyResult(
            ok,
            _TERMS,
            f"Q(zeta_{N})" if N > 1 else "Q",
            time.perf_counter() - t0,
            diff,
            target,
            fstr,
        )
    ring, lhs, rhs = _common(form, X)
    ok, diff = exact_equal(lhs, rhs)
    if diff is not None and diff[0] != "shape":
        r, c, a, b = diff
        diff = (int(r), int(c), str(ring.to_expr(a)), str(ring.to_expr(b)))
    return VerifyResult(
        ok,
        _DENSE,
        _field(ring),
        time.perf_counter() - t0,
        diff,
        target,
        fstr,
        "" if ok else _float_hint(form, X),
    )


def _float_hint(form: ExactMatrix, X: Any) -> str:
    """A hint when a transform with irrational entries meets Monarch factors that carry no
    closed form (typically ``to_exact`` of floating-point factors)."""
    from ..ops import DCT, DST

    if not isinstance(X, (DFT, DCT, DST, Hadamard)):
        return ""
    factors: list[Any] = list(form.factors) if isinstance(form, ExactProduct) else [form]
    for f in factors:
        base = getattr(f, "base", f)
        if isinstance(base, ExactMonarch) and not base.has_terms:
            return (
                "a Monarch factor holds rationals read from floating point (binary fractions "
                "are not roots of unity); build the form with to_monarch(X, exact=True)"
            )
    return ""


# ----------------------------------------------------------------------------------------------
# the monomial method
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# the terms method: sums of roots of unity reduced to a basis of Q(zeta_N), vectorised
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# the dense method
# ----------------------------------------------------------------------------------------------


def _common(form: ExactMatrix, X: Any):
    """``(ring, lhs, rhs)``: both sides over one ring (lcm of conductors, all symbols)."""
    from .compare import common_ring
    from .convert import required_conductor

    other = X.ring if isinstance(X, ExactMatrix) else ExactRing(required_conductor(X))
    ring = common_ring(form.ring, other)
    lhs = form.lifted(ring)
    rhs = X.lifted(ring) if isinstance(X, ExactMatrix) else _target(X, ring)
    return ring, lhs, rhs


class _DefinitionColumns(ExactMatrix):
    """A DFT or Hadamard matrix from its definition, producing exact columns on demand (both
    are symmetric: columns ``start:stop`` are the transposed rows of the monomial definition)."""

    def __init__(self, X: Any, ring: ExactRing):
        from .cyclo import cyclotomic_sqrt

        T, rad = _target_monomial(X)
        r, sqf = _squarefree(rad)
        self.X, self.T, self.ring, self.shape = X, T, ring, tuple(X.shape)
        s = ring.from_int(T.scale * r)
        self.s = ring.reduce(s * cyclotomic_sqrt(sqf, ring)) if sqf != 1 else s

    def columns(self, start, stop):
        from sympy.polys.matrices import DomainMatrix

        e, c = self.T.rows(start, stop)
        red, s = self.ring.reduce, self.s
        cols = [
            [red(self._root(ei, ci) * s) if ci else self.ring.zero for ei, ci in zip(er, cr)]
            for er, cr in zip(e.tolist(), c.tolist())
        ]
        return DomainMatrix(
            [list(r) for r in zip(*cols)], (self.shape[0], stop - start), self.ring.domain
        )

    def _root(self, e: int, c: int):
        """``c · ζ_M^e`` (``M`` the definition's conductor) as an element of the ring."""
        frac = Fraction(int(e), self.T.N) % 1
        order = frac.denominator
        if self.ring.N % order == 0:
            return self.ring.zeta(frac.numerator * (self.ring.N // order), int(c))
        if order == 2:  # -1 in any ring
            return self.ring.from_int(-int(c))
        raise ValueError(
            f"zeta_{order} is not in the ring Q(zeta_{self.ring.N})"
        )  # pragma: no cover

    def apply(self, X):
        return _mm_dense(self.columns(0, self.shape[1]), X)

    @property
    def H(self):
        return ExactDense(self.columns(0, self.shape[1]), self.ring).H

    def lifted(self, ring):
        """The same definition over ``ring`` (its columns are built there directly)."""
        return self if ring is self.ring else _DefinitionColumns(self.X, ring)


def _mm_dense(A, B):
    return A.to_dense().matmul(B.to_dense())


def _target(X: Any, ring: ExactRing) -> ExactMatrix:
    """The exact matrix of ``X`` from its definition; symbolic kernels/twiddles when ``ring``
    holds their symbols."""
    from ..base import Adjoint, Conjugate, Product, Transpose
    from .convert import butterfly_symbol_names, symbolic_butterfly_factors, to_exact
    from .forms import kernel_symbol_names

    names = set(ring.symbol_names)
    if names and isinstance(X, (Product, Adjoint, Transpose, Conjugate)):
        # symbolic parameters inside: build the wrapped targets symbolically too
        if isinstance(X, Product):
            return ExactProduct(*[_target(f, ring) for f in X.factors])
        base = _target(X.base, ring)
        if isinstance(X, Adjoint):
            return base.H
        if isinstance(X, Transpose):
            return ExactDense(base.to_dense().transpose(), ring)
        return base.conj()
    if isinstance(X, (DFT, Hadamard)):
        return _DefinitionColumns(X, ring)
    if isinstance(X, Convolution):
        kn = kernel_symbol_names(X.kernel.shape[0])
        if names and set(kn) <= names:
            c = [ring.symbol(s) for s in kn]
            n_out, n = X.shape
            rows = []
            for i in range(n_out):
                row = []
                for j in range(n):
                    d = (i - j) % n if X.mode == "circular" else i - j
                    row.append(c[d] if 0 <= d < len(c) else ring.zero)
                rows.append(row)
            return ExactDense(rows, ring)
    if isinstance(X, Butterfly):
        bn = butterfly_symbol_names(X.n)
        if names and set(bn) <= names:
            return ExactProduct(*reversed(symbolic_butterfly_factors(ring, X.n)))
    return to_exact(X, ring)
