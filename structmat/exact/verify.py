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
from typing import Any

from ..base import StructuredMatrix
from ..ops import DFT, Convolution, Hadamard
from .compare import exact_equal
from .matrices import ExactMatrix, ExactMonarch, ExactProduct
from .method_dense import _common
from .method_monomial import _monomial_check
from .method_terms import _terms_check
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
