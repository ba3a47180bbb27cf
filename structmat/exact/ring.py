"""Exact scalars: polynomials in symbols with coefficients in a cyclotomic field.

Every exact matrix of :mod:`structmat.exact` has entries in one :class:`ExactRing`
``Q(zeta_N)[x_1, ..., x_k]``: SymPy sparse polynomials (``sympy.polys.rings``) in a generator
``z`` standing for ``zeta_N = exp(2 pi i / N)`` and in the symbols, kept in a canonical form:

* the exponent of ``z`` is reduced modulo ``N`` (``z^N = 1``);
* the result is the remainder modulo the cyclotomic polynomial ``Phi_N(z)`` (the minimal
  polynomial of ``zeta_N``), computed with SymPy's multivariate division.  ``{Phi_N}`` is a
  Groebner basis of the ideal it generates, so the remainder is unique: two elements are equal
  if and only if their canonical forms are equal.  For ``N`` a power of two,
  ``Phi_N = z^(N/2) + 1`` and the remainder is a sign flip of the exponents ``>= N/2``, done
  term by term without a division.

This representation was chosen because products of sparse elements cost in proportion to
their terms, where ``QQ.algebraic_field`` multiplies dense ``ANP`` polynomials of degree
``phi(N)`` (orders of magnitude slower at ``N = 4096``).  No expression-level ``simplify`` is
ever used.
"""

from __future__ import annotations

import cmath
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from sympy import QQ, Symbol, cyclotomic_poly
from sympy.polys.orderings import lex
from sympy.polys.rings import PolyRing

__all__ = ["ExactRing"]


def _is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


class ExactRing:
    """The ring ``Q(zeta_N)[symbols]`` with canonical reduction (see the module docstring).

    Parameters
    ----------
    conductor : int
        ``N``: the generator ``z`` is a primitive ``N``-th root of unity ``exp(2 pi i / N)``.
        ``N = 1`` gives rational coefficients.
    symbols : sequence of str, optional
        Names of the free symbols (block entries, twiddles, kernel values, ...).
    complex_symbols : bool
        If True every symbol ``x`` gets a conjugate generator ``conj(x)`` so that
        :meth:`conj` (and hence ``.H``) is exact for complex-valued symbols; otherwise symbols
        are real and ``conj(x) = x``.

    Examples
    --------
    >>> from structmat.exact import ExactRing
    >>> K = ExactRing(8)
    >>> K.equal(K.zeta(2) * K.zeta(2), K.from_int(-1))   # i * i = -1 in Q(zeta_8)
    True
    >>> K.is_zero(K.zeta(1) + K.zeta(5))                  # zeta_8^5 = -zeta_8
    True
    >>> S = ExactRing(4, symbols=["a"])
    >>> a = S.symbol("a")
    >>> S.equal(S.reduce((a + S.zeta(1)) * (a - S.zeta(1))), S.reduce(a**2 + 1))
    True
    """

    def __init__(
        self, conductor: int = 1, symbols: Sequence[str] = (), complex_symbols: bool = False
    ):
        if (
            isinstance(conductor, bool)
            or not isinstance(conductor, numbers.Integral)
            or conductor < 1
        ):
            raise ValueError(f"conductor must be an integer >= 1; got {conductor!r}")
        names = [str(s) for s in symbols]
        if len(set(names)) != len(names):
            raise ValueError("symbols must be distinct names")
        if "z" in names:
            raise ValueError("symbols must not use the name 'z' (reserved for zeta_N)")
        self.N: int = int(conductor)
        self.symbol_names: tuple[str, ...] = tuple(names)
        self.complex_symbols: bool = bool(complex_symbols)
        gens = ["z"] + names
        if self.complex_symbols:
            gens += [f"conj({s})" for s in names]
        self.ring: Any = PolyRing([Symbol(g) for g in gens], QQ, lex)
        self.domain: Any = self.ring.to_domain()
        self._index: dict[str, int] = {name: i + 1 for i, name in enumerate(names)}
        k = len(names)
        if self.complex_symbols:
            # generator permutation of conjugation: z stays (its exponent is negated), x <-> conj(x)
            self._conj_perm = [0] + [1 + k + i for i in range(k)] + [1 + i for i in range(k)]
        else:
            self._conj_perm = list(range(1 + k))
        self._pow2 = _is_power_of_two(self.N)
        z = self.ring.gens[0]
        if self.N == 1:
            self.phi = z - 1
        else:
            self.phi = self.ring(cyclotomic_poly(self.N, Symbol("z")))
        self.degree: int = self.phi.degree(z) if self.N > 1 else 1
        self.zero: Any = self.ring.zero
        self.one: Any = self.ring.one

    # -- construction --------------------------------------------------------------------------
    def __repr__(self) -> str:
        kind = "complex" if self.complex_symbols else "real"
        return f"ExactRing(Q(zeta_{self.N}), {len(self.symbol_names)} {kind} symbols)"

    def zeta(self, e: int, coeff: Any = 1):
        """``coeff * zeta_N^e`` (canonical)."""
        e = int(e) % self.N
        if isinstance(coeff, numbers.Integral):
            c = QQ(int(coeff))
        else:
            f = Fraction(coeff)
            c = QQ(f.numerator, f.denominator)
        if c == 0:
            return self.zero
        nvars = self.ring.ngens
        return self.reduce(self.ring.from_dict({(e,) + (0,) * (nvars - 1): c}))

    def from_int(self, value: Any):
        """A rational constant (int, :class:`fractions.Fraction` or a float, taken exactly)."""
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"value must be finite; got {value}")
            value = Fraction(value)
        if isinstance(value, Fraction):
            return self.ring(QQ(value.numerator, value.denominator))
        if isinstance(value, numbers.Integral):
            return self.ring(int(value))
        raise TypeError(f"value must be an int, Fraction or float; got {type(value).__name__}")

    def from_complex_float(self, value: complex):
        """The exact value of a complex float ``a + b i`` (``i = zeta_4``; needs ``4 | N``)."""
        value = complex(value)
        re, im = value.real, value.imag
        if not (math.isfinite(re) and math.isfinite(im)):
            raise ValueError(f"value must be finite; got {value}")
        out = self.from_int(re)
        if im != 0.0:
            if self.N % 4:
                raise ValueError(
                    f"a complex value needs i = zeta_4 in the field: conductor must be a multiple "
                    f"of 4; got conductor={self.N}"
                )
            out = out + self.zeta(self.N // 4) * self.from_int(im)
        return self.reduce(out)

    def symbol(self, name: str, conjugate: bool = False):
        """The generator of symbol ``name`` (or of its conjugate)."""
        if name not in self._index:
            raise ValueError(f"unknown symbol {name!r}; this ring has {len(self._index)} symbols")
        i = self._index[name]
        if conjugate:
            if not self.complex_symbols:
                return self.ring.gens[i]
            i += len(self.symbol_names)
        return self.ring.gens[i]

    def convert(self, value: Any):
        """An element of this ring from a ring element, int, Fraction or float."""
        if hasattr(value, "ring") and value.ring == self.ring:
            return value
        return self.from_int(value)

    # -- canonical form ------------------------------------------------------------------------
    def reduce(self, p):
        """Canonical form of ``p`` (see the module docstring)."""
        N = self.N
        if not p:
            return p
        out: dict = {}
        if N == 1:
            for monom, c in p.items():
                key = (0,) + monom[1:]
                out[key] = out.get(key, 0) + c
        elif self._pow2:
            half = N // 2
            for monom, c in p.items():
                e = monom[0] % N
                if e >= half:
                    e -= half
                    c = -c
                key = (e,) + monom[1:]
                out[key] = out.get(key, 0) + c
        else:
            needs_division = False
            for monom, c in p.items():
                e = monom[0] % N
                if e >= self.degree:
                    needs_division = True
                key = (e,) + monom[1:]
                out[key] = out.get(key, 0) + c
        q = self.ring.from_dict({k: v for k, v in out.items() if v})
        if N > 2 and not self._pow2 and needs_division:
            q = q.rem(self.phi)
        return q

    def is_zero(self, p) -> bool:
        """Whether ``p`` is zero in the ring (exact)."""
        return not self.reduce(p)

    def equal(self, a, b) -> bool:
        """Whether ``a == b`` in the ring (exact)."""
        return not self.reduce(a - b)

    def mul(self, a, b):
        return self.reduce(a * b)

    def conj(self, p):
        """Complex conjugate: ``zeta -> zeta^-1``, symbols to their conjugates, rationals fixed."""
        if not p:
            return p
        perm = self._conj_perm
        out = {}
        for monom, c in p.items():
            key = tuple(monom[j] for j in perm)
            key = ((-key[0]) % self.N,) + key[1:]
            out[key] = out.get(key, 0) + c
        return self.reduce(self.ring.from_dict({k: v for k, v in out.items() if v}))

    # -- inspection ----------------------------------------------------------------------------
    def as_monomial(self, p):
        """``(coeff, e)`` with ``p == coeff * zeta^e`` and ``coeff > 0`` rational, ``None`` for zero.

        Raises ``ValueError`` if ``p`` involves symbols or is not a single root of unity times
        a rational (for ``N`` even the sign is absorbed: ``-1 = zeta^(N/2)``).
        """
        p = self.reduce(p)
        if not p:
            return None
        if len(p) != 1:
            raise ValueError(f"not a monomial c * zeta^e: {p.as_expr()}")
        ((monom, c),) = p.items()
        if any(monom[1:]):
            raise ValueError(f"not a constant of the cyclotomic field: {p.as_expr()}")
        e = monom[0]
        c = Fraction(int(c.numerator), int(c.denominator))
        if c < 0:
            if self.N % 2:
                return (c, e)
            c, e = -c, (e + self.N // 2) % self.N
        return (c, e)

    def evaluate(self, p, values: Mapping[str, complex] | None = None) -> complex:
        """Numerical value of ``p`` (``zeta = exp(2 pi i / N)``, symbols from ``values``).

        For tests and display only; exact decisions never use it.
        """
        values = dict(values or {})
        names = list(self.symbol_names)
        vals = [values.get(s, 0.0) for s in names]
        if self.complex_symbols:
            vals = vals + [complex(v).conjugate() for v in vals]
        total = 0j
        for monom, c in p.items():
            term = complex(float(c.numerator) / float(c.denominator))
            term *= cmath.exp(2j * cmath.pi * monom[0] / self.N)
            for v, k in zip(vals, monom[1:]):
                if k:
                    term *= complex(v) ** k
            total += term
        return total

    def to_expr(self, p):
        """A SymPy expression for display (``z`` stands for ``zeta_N``)."""
        return p.as_expr()

    def extend(self, conductor: int | None = None, symbols: Iterable[str] = ()) -> ExactRing:
        """A ring containing this one: conductor a multiple of ``N``, more symbols."""
        N = self.N if conductor is None else int(conductor)
        if N % self.N:
            raise ValueError(f"conductor must be a multiple of {self.N}; got {N}")
        names = list(self.symbol_names) + [s for s in symbols if s not in self._index]
        return ExactRing(N, names, complex_symbols=self.complex_symbols)

    def lift(self, p, target: ExactRing):
        """Map ``p`` into ``target`` (``zeta_N = zeta_M^(M/N)``; symbols by name)."""
        if target is self:
            return p
        if target.N % self.N:
            raise ValueError(f"target conductor {target.N} is not a multiple of {self.N}")
        if target.complex_symbols != self.complex_symbols and self.symbol_names:
            raise ValueError("target ring must have the same symbol kind (real/complex)")
        factor = target.N // self.N
        k = len(self.symbol_names)
        kt = len(target.symbol_names)
        pos = [target._index[s] for s in self.symbol_names]
        if self.complex_symbols:
            pos = pos + [target._index[s] + kt for s in self.symbol_names]
        out = {}
        nt = target.ring.ngens
        for monom, c in p.items():
            key = [0] * nt
            key[0] = monom[0] * factor
            for j, e in zip(pos, monom[1 : 1 + (2 * k if self.complex_symbols else k)]):
                key[j] = e
            out[tuple(key)] = c
        return target.reduce(target.ring.from_dict(out))
