"""Exact verification of a Monarch form against the transform it claims to be: :func:`verify`.

``verify(to_monarch(X, exact=True), X)`` proves (or refutes) the matrix identity
``form == X`` with exact arithmetic only.  The right-hand side is built from the transform's
*definition*, independently of the closed forms the factors come from:

* ``DFT``: entries ``s · ζ_n^{∓jk mod n}`` (``s`` its norm: 1, 1/n or 1/√n);
* ``Hadamard``: the bit-parity formula ``(−1)^popcount(j & k)`` (times 1/√n for "ortho");
* ``DCT``/``DST``: ``cos``/``sin`` of ``π (j + α)(k + β) / M`` as half-sums of roots of unity
  with SciPy's weights (:func:`structmat.exact.to_exact`);
* convolutions: the circulant (or Toeplitz) matrix of the kernel's exact values, or of symbols;
* butterflies: the product of the exact level factors; Monarch, block-diagonal, permutation and
  diagonal inputs: their parameters read exactly.

Two exact methods decide the identity:

* **monomial** (DFT, Hadamard, permutations; any size): when the form is permutations around one
  Monarch whose block entries are single roots of unity ``c · ζ_N^e`` and whose slabs have rank
  one, every entry of the product is one product ``L[b, d, a] R[a, i, j]``: a monomial with an
  integer exponent.  Entries ``c ζ_N^e`` with ``c > 0`` are equal in ``Q(ζ_N)`` iff their
  ``(c, e mod N)`` agree, so the comparison is integer arithmetic on NumPy arrays, one row chunk
  at a time.  A common irrational scale ``√m`` is split off both sides and compared on its own
  (square-free parts).
* **dense**: otherwise both sides are evaluated as exact matrices over one cyclotomic field
  (``Q(ζ_N)[symbols]`` in canonical form, :class:`~structmat.exact.ExactRing`) and compared
  entry by entry.

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
from ..ops import DFT, Butterfly, Convolution, Hadamard, Permutation
from .matrices import ExactDense, ExactMatrix, ExactMonarch, ExactPermutation, ExactProduct, exact_equal
from .monomial import MonomialMatrix, MonomialMonarch, monomial_equal
from .ring import ExactRing

__all__ = ["VerifyResult", "verify"]

_MONOMIAL = ("monomial: entrywise comparison of canonical roots of unity c·ζ_N^e (exact integer "
             "exponents mod N, row chunks)")
_DENSE = "dense: entrywise comparison of both exact matrices over the field (canonical forms)"


@dataclass(frozen=True, repr=False)
class VerifyResult:
    """The outcome of :func:`verify`; ``bool(result)`` is the verdict.

    Attributes
    ----------
    verdict : bool
        Whether ``form == X`` holds exactly.
    method : str
        How it was decided (always exact: ``"monomial: ..."`` or ``"dense: ..."``).
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
        return f"{head} in {self.seconds:.3g} s ({self.method.split(':')[0]})"

    def __repr__(self) -> str:
        return f"<VerifyResult {self}>"


def _describe(X: Any) -> str:
    if isinstance(X, ExactMatrix):
        return f"{type(X).__name__}{X.shape}"
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
        raise TypeError(f"form must be an exact matrix (to_monarch(X, exact=True)); got {type(form).__name__}")
    if not isinstance(X, (StructuredMatrix, ExactMatrix)):
        raise TypeError(f"X must be a structmat StructuredMatrix or an exact matrix; got {type(X).__name__}")
    target = _describe(X)
    fstr = getattr(form, "form", None)
    if tuple(form.shape) != tuple(X.shape):
        return VerifyResult(False, "shape comparison", _field(form.ring), time.perf_counter() - t0,
                            None, target, fstr)
    mono = _monomial_check(form, X)
    if mono is not None:
        ok, diff, N = mono
        return VerifyResult(ok, _MONOMIAL, f"Q(zeta_{N})" if N > 1 else "Q",
                            time.perf_counter() - t0, diff, target, fstr)
    ring, lhs, rhs = _common(form, X)
    ok, diff = exact_equal(lhs, rhs)
    if diff is not None and diff[0] != "shape":
        r, c, a, b = diff
        diff = (int(r), int(c), str(ring.to_expr(a)), str(ring.to_expr(b)))
    return VerifyResult(ok, _DENSE, _field(ring), time.perf_counter() - t0, diff, target, fstr)


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
    factors = list(form.factors) if isinstance(form, ExactProduct) else [form]
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
        A: MonomialMatrix = MonomialMonarch(Lt.exp[0], Lt.coef[0], Rt.exp[0], Rt.coef[0], N,
                                            scale=Lt.scale * Rt.scale)
    except ValueError:  # slabs of rank > 1
        return None
    for f in reversed(factors[: idx[0]]):
        A = A.permute_rows(f.perm)
    for f in factors[idx[0] + 1:]:
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
    N = _lcm(A.N, B.N)
    if sa == sb:
        ok, diff = monomial_equal(A, B)
        if diff is not None:
            r, c, (ca, ea), (cb, eb) = diff
            diff = (r, c, _mono_str(A, ca, ea, sa), _mono_str(B, cb, eb, sb))
        return ok, diff, _lcm(N, 1)
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
            return False, (int(r0 + i), int(j), _mono_str(A, ca[i, j], ea[i, j], sa),
                           _mono_str(B, cb[i, j], eb[i, j], sb)), N
    return True, None, N


def _mono_str(A: MonomialMatrix, c: int, e: int, sqf: int) -> str:
    if c == 0:
        return "0"
    val = A.scale * int(c)
    root = f"zeta_{A.N}^{int(e)}" if e else "1"
    rad = f"*sqrt({sqf})" if sqf != 1 else ""
    return f"{val}*{root}{rad}"


# ----------------------------------------------------------------------------------------------
# the dense method
# ----------------------------------------------------------------------------------------------

def _common(form: ExactMatrix, X: Any):
    """``(ring, lhs, rhs)``: both sides over one ring (lcm of conductors, all symbols)."""
    from .convert import required_conductor

    names = list(form.ring.symbol_names)
    if isinstance(X, ExactMatrix):
        N = _lcm(form.ring.N, X.ring.N)
        names += [s for s in X.ring.symbol_names if s not in names]
        cplx = form.ring.complex_symbols or X.ring.complex_symbols
    else:
        N = _lcm(form.ring.N, required_conductor(X))
        cplx = form.ring.complex_symbols
    if N == form.ring.N and names == list(form.ring.symbol_names):
        ring = form.ring
    else:
        ring = ExactRing(N, names, complex_symbols=cplx)
    lhs = form.lifted(ring)
    rhs = X.lifted(ring) if isinstance(X, ExactMatrix) else _target(X, ring)
    return ring, lhs, rhs


def _target(X: Any, ring: ExactRing) -> ExactMatrix:
    """The exact matrix of ``X`` from its definition; symbolic kernels/twiddles when ``ring``
    holds their symbols."""
    from .convert import butterfly_symbol_names, symbolic_butterfly_factors, to_exact
    from .forms import kernel_symbol_names

    names = set(ring.symbol_names)
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
