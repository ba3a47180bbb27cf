"""``RootSum``: arrays of exact sums of roots of unity (with a rational scale and a square root),
the one description of every closed-form factor, evaluated in floating point or exactly.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from typing import Any

import numpy as np


class RootSum:
    r"""An exact array whose entries are ``scale · √radicand · Σ_t coef[t] ζ_N^{exp[t]}``.

    ``ζ_N = exp(2πi / N)``; ``exp`` and ``coef`` are int64 arrays of shape ``(T, *shape)`` (term
    ``t`` of every entry; ``coef = 0`` is an absent term), ``scale`` and ``radicand`` are
    rationals shared by the whole array (``radicand > 0``).  This is the one description of every
    closed-form Monarch factor: :func:`to_monarch` evaluates it in floating point
    (:meth:`to_complex`) and ``to_monarch(X, exact=True)`` reads the same integers as elements of
    the cyclotomic field ``Q(ζ_N, √radicand)`` (:mod:`structmat.exact`).  Arithmetic (products,
    sums, conjugates, real parts, gathers) only adds exponents and multiplies integers, so it is
    exact.

    Parameters
    ----------
    N : int
        Conductor (order of the root of unity ``ζ_N``).
    exp, coef : array_like of int
        Exponents and integer coefficients, shape ``(T, *shape)``.
    scale : Fraction or int, optional
    radicand : Fraction or int, optional

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.monarch_form import RootSum
    >>> w = RootSum.root(np.arange(4), 4, sign=-1)        # exp(-2πi m / 4), m = 0..3
    >>> np.round(w.to_complex(), 12).real.tolist(), np.round(w.to_complex(), 12).imag.tolist()
    ([1.0, 0.0, -1.0, 0.0], [0.0, -1.0, 0.0, 1.0])
    >>> (w * w.conj()).simplify().exp.tolist()             # |w|^2 = 1 exactly
    [[0, 0, 0, 0]]
    """

    __slots__ = ("N", "exp", "coef", "scale", "radicand")

    def __init__(self, N: int, exp: Any, coef: Any, scale: Any = 1, radicand: Any = 1):
        if isinstance(N, bool) or not isinstance(N, numbers.Integral) or N < 1:
            raise ValueError(f"N must be an integer >= 1; got {N!r}")
        self.N: int = int(N)
        e = np.asarray(exp, dtype=np.int64)
        c = np.asarray(coef, dtype=np.int64)
        if e.shape != c.shape or e.ndim < 1:
            raise ValueError("exp and coef must have the same shape (T, *shape)")
        if e.size and (int(e.min()) < 0 or int(e.max()) >= self.N):
            e = np.mod(e, self.N)
        self.exp: np.ndarray = e
        self.coef: np.ndarray = c
        self.scale: Fraction = Fraction(scale)
        self.radicand: Fraction = Fraction(radicand)
        if self.radicand <= 0:
            raise ValueError(f"radicand must be positive; got {radicand}")

    def __repr__(self) -> str:
        rad = f" · √{self.radicand}" if self.radicand != 1 else ""
        return (
            f"<RootSum shape={self.shape} terms={self.nterms} over Q(ζ_{self.N}), "
            f"scale {self.scale}{rad}>"
        )

    # -- constructors --------------------------------------------------------------------------
    @classmethod
    def root(cls, num: Any, den: int, sign: int = -1, coef: Any = 1) -> RootSum:
        """``coef · exp(sign · 2πi · num / den)`` (one term per entry)."""
        num = np.asarray(num, dtype=np.int64)
        c = np.broadcast_to(np.asarray(coef, dtype=np.int64), num.shape)
        return cls(den, (sign * num)[None], np.array(c)[None])

    @classmethod
    def const(cls, values: Any, scale: Any = 1, radicand: Any = 1) -> RootSum:
        """Integer values times ``scale · √radicand``."""
        v = np.asarray(values, dtype=np.int64)
        return cls(1, np.zeros((1,) + v.shape, dtype=np.int64), v[None], scale, radicand)

    @classmethod
    def sqrt_rational(cls, q: Any, fold_two: bool = True) -> RootSum:
        """``√q`` for a positive rational ``q``: the rational part is kept in ``scale`` and, with
        ``fold_two``, ``√2`` is written ``ζ_8 + ζ_8^{-1}``; the other square-free factors stay
        in ``radicand`` (all of them without ``fold_two``: one term per entry)."""
        q = Fraction(q)
        if q <= 0:
            raise ValueError(f"q must be positive; got {q}")
        m = q.numerator * q.denominator  # √(a/b) = √(ab) / b
        t, rest = 1, 1
        for p, e in _factorint(m).items():
            t *= p ** (e // 2)
            if e % 2:
                rest *= p
        out = cls.const(1, Fraction(t, q.denominator))
        if fold_two and rest % 2 == 0:
            out = out * cls(8, [[1], [7]], [[1], [1]]).reshape(())
            rest //= 2
        out.radicand = Fraction(rest)
        return out

    # -- shape ---------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.exp.shape[1:]

    @property
    def nterms(self) -> int:
        return self.exp.shape[0]

    def _like(self, exp, coef, N=None) -> RootSum:
        out = RootSum.__new__(RootSum)
        out.N = self.N if N is None else N
        out.exp, out.coef = exp, coef
        out.scale, out.radicand = self.scale, self.radicand
        return out

    def __getitem__(self, idx) -> RootSum:
        if not isinstance(idx, tuple):
            idx = (idx,)
        return self._like(self.exp[(slice(None),) + idx], self.coef[(slice(None),) + idx])

    def reshape(self, *shape) -> RootSum:
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape
        T = self.nterms
        return self._like(
            self.exp.reshape((T,) + tuple(shape)), self.coef.reshape((T,) + tuple(shape))
        )

    def transpose(self, *axes) -> RootSum:
        ax = (0,) + tuple(a + 1 for a in axes)
        return self._like(self.exp.transpose(ax), self.coef.transpose(ax))

    def broadcast_to(self, shape) -> RootSum:
        """The array broadcast to ``shape`` (NumPy rules on the entry axes; the term axis stays
        first)."""
        T = self.nterms
        shape = tuple(shape)
        pad = (T,) + (1,) * (len(shape) - len(self.shape)) + self.shape
        return self._like(
            np.broadcast_to(self.exp.reshape(pad), (T,) + shape).copy(),
            np.broadcast_to(self.coef.reshape(pad), (T,) + shape).copy(),
        )

    # -- arithmetic ----------------------------------------------------------------------------
    def lift(self, N: int) -> RootSum:
        """The same values with conductor ``N`` (a multiple of ``self.N``)."""
        if N % self.N:
            raise ValueError(f"conductor {N} is not a multiple of {self.N}")
        return self._like(self.exp * (N // self.N), self.coef, N)

    def __mul__(self, other) -> RootSum:
        if not isinstance(other, RootSum):
            other = RootSum.const(other)
        N = _lcm(self.N, other.N)
        a, b = self.lift(N), other.lift(N)
        nd = max(len(a.shape), len(b.shape))
        ae, ac = (
            v.reshape((a.nterms, 1) + (1,) * (nd - len(a.shape)) + a.shape) for v in (a.exp, a.coef)
        )
        be, bc = (
            v.reshape((1, b.nterms) + (1,) * (nd - len(b.shape)) + b.shape) for v in (b.exp, b.coef)
        )
        e = ae + be
        c = _mul_checked(ac, bc)
        T = e.shape[0] * e.shape[1]
        out = RootSum(N, e.reshape((T,) + e.shape[2:]), c.reshape((T,) + c.shape[2:]))
        out.scale = self.scale * other.scale
        out.radicand = self.radicand * other.radicand
        return out._fold_radicand()

    __rmul__ = __mul__

    def _fold_radicand(self) -> RootSum:
        r = self.radicand
        m = r.numerator * r.denominator
        s = math.isqrt(m)
        if s * s == m:  # a square: √r = s / den
            self.scale *= Fraction(s, r.denominator)
            self.radicand = Fraction(1)
        return self

    def _common(self, other: RootSum):
        if self.radicand != other.radicand:
            raise ValueError("sums need equal radicands")
        N = _lcm(self.N, other.N)
        a, b = self.lift(N), other.lift(N)
        s = Fraction(
            math.gcd(a.scale.numerator, b.scale.numerator),
            _lcm(a.scale.denominator, b.scale.denominator),
        ) or Fraction(1)
        ka = a.scale / s if s else Fraction(0)
        kb = b.scale / s if s else Fraction(0)
        return N, s, a, b, int(ka), int(kb)

    def __add__(self, other) -> RootSum:
        N, s, a, b, ka, kb = self._common(other)
        shape = np.broadcast_shapes(a.shape, b.shape)
        a, b = a.broadcast_to(shape), b.broadcast_to(shape)
        out = RootSum(
            N,
            np.concatenate([a.exp, b.exp]),
            np.concatenate([_mul_checked(a.coef, ka), _mul_checked(b.coef, kb)]),
        )
        out.scale, out.radicand = s, self.radicand
        return out

    def __neg__(self) -> RootSum:
        return self._like(self.exp, -self.coef)

    def __sub__(self, other) -> RootSum:
        return self + (-other)

    def conj(self) -> RootSum:
        """Complex conjugate (``ζ ↦ ζ^{-1}``; scale and radicand are real)."""
        return self._like(np.mod(-self.exp, self.N), self.coef)

    def real(self) -> RootSum:
        """Real part ``(x + x̄) / 2``."""
        out = self + self.conj()
        out.scale = out.scale / 2
        return out

    def imag(self) -> RootSum:
        """Imaginary part ``(x − x̄) / (2i)``."""
        d = (self - self.conj()) * RootSum(4, [[3]], [[1]]).reshape(())
        d.scale = d.scale / 2
        return d

    def simplify(self) -> RootSum:
        """Merge terms with equal exponents (``ζ^{e + N/2} = −ζ^e`` for even ``N``), drop zeros
        and pack the remaining terms into as few slots as possible (same values)."""
        N = self.N
        e = self.exp.reshape(self.nterms, -1)
        c = self.coef.reshape(self.nterms, -1)
        if N % 2 == 0:
            flip = e >= N // 2
            e = np.where(flip, e - N // 2, e)
            c = np.where(flip, -c, c)
        # per entry: sort the (few) terms by exponent, add up runs of equal exponents into the
        # last term of each run, then move the nonzero terms to the front (entries in rows:
        # contiguous sorts along the short term axis)
        eT = np.ascontiguousarray(e.T)
        cT = np.ascontiguousarray(c.T)
        if eT.shape[1] > 1:
            order = np.argsort(eT, axis=1, kind="stable")
            eT = np.take_along_axis(eT, order, axis=1)
            cT = np.take_along_axis(cT, order, axis=1)
            for t in range(1, eT.shape[1]):
                same = eT[:, t] == eT[:, t - 1]
                cT[:, t] += np.where(same, cT[:, t - 1], 0)
                cT[:, t - 1] = np.where(same, 0, cT[:, t - 1])
        nz = cT != 0
        T = max(1, int(nz.sum(axis=1).max()) if nz.size else 1)
        pos = np.cumsum(nz, axis=1) - 1
        rows = np.broadcast_to(np.arange(eT.shape[0])[:, None], eT.shape)
        E = np.zeros((T, eT.shape[0]), dtype=np.int64)
        C = np.zeros((T, eT.shape[0]), dtype=np.int64)
        E[pos[nz], rows[nz]] = eT[nz]
        C[pos[nz], rows[nz]] = cT[nz]
        if C.size and C.any():  # pull a common integer factor into scale
            g = int(np.gcd.reduce(np.abs(C[C != 0])))
            if g > 1:
                C //= g
                out = self._like(E.reshape((T,) + self.shape), C.reshape((T,) + self.shape))
                out.scale = self.scale * g
                return out
        return self._like(E.reshape((T,) + self.shape), C.reshape((T,) + self.shape))

    # -- evaluation ----------------------------------------------------------------------------
    def to_complex(self) -> np.ndarray:
        """Floating-point values (complex128)."""
        vals = np.sum(self.coef * np.exp(2j * np.pi * (self.exp / self.N)), axis=0)
        return vals * (float(self.scale) * math.sqrt(float(self.radicand)))

    def is_monomial(self) -> bool:
        """Whether every entry is one term ``c ζ^e`` (up to the shared scale)."""
        return self.nterms == 1

    @staticmethod
    def scatter(shape, index, vals: RootSum) -> RootSum:
        """``out[index] += vals`` into a zero array of ``shape`` (repeated indices accumulate
        as extra terms)."""
        size = int(np.prod(shape))
        flat = np.ravel_multi_index(tuple(np.broadcast_arrays(*index)), shape).ravel()
        T = vals.nterms
        ve = vals.broadcast_to(np.broadcast_shapes(*[np.shape(i) for i in index])).exp.reshape(
            T, -1
        )
        vc = vals.broadcast_to(np.broadcast_shapes(*[np.shape(i) for i in index])).coef.reshape(
            T, -1
        )
        order = np.argsort(flat, kind="stable")
        sf = flat[order]
        first = np.searchsorted(sf, sf, side="left")
        rank = np.empty_like(flat)
        rank[order] = np.arange(sf.size) - first
        R = int(rank.max()) + 1 if rank.size else 1
        E = np.zeros((T * R, size), dtype=np.int64)
        C = np.zeros((T * R, size), dtype=np.int64)
        for t in range(T):
            E[t * R + rank, flat] = ve[t]
            C[t * R + rank, flat] = vc[t]
        out = RootSum(
            vals.N, E.reshape((T * R,) + tuple(shape)), C.reshape((T * R,) + tuple(shape))
        )
        out.scale, out.radicand = vals.scale, vals.radicand
        return out


def _lcm(a: int, b: int) -> int:
    return a * b // math.gcd(a, b)


def _mul_checked(a, b):
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ma = int(np.abs(a).max()) if a.size else 0
    mb = int(np.abs(b).max()) if b.size else 0
    if ma and mb and ma * mb >= 1 << 62:
        raise OverflowError("closed-form coefficients exceed the exact int64 range")
    return a * b


def _factorint(m: int) -> dict:
    out: dict = {}
    p = 2
    while p * p <= m:
        while m % p == 0:
            out[p] = out.get(p, 0) + 1
            m //= p
        p += 1
    if m > 1:
        out[m] = out.get(m, 0) + 1
    return out


def _aligned(parts: list):
    """Exponent and coefficient arrays of ``parts`` on a common conductor, scale and number of
    terms: ``(N, scale, radicand, [exp], [coef])``."""
    if not parts:
        raise ValueError("nothing to combine")
    rad = parts[0].radicand
    if any(p.radicand != rad for p in parts):
        raise ValueError("combined closed forms need equal radicands")
    N, num, den = 1, 0, 1
    for p in parts:
        N = _lcm(N, p.N)
        num = math.gcd(num, p.scale.numerator)
        den = _lcm(den, p.scale.denominator)
    s = Fraction(num, den) if num else Fraction(1)
    T = max(p.nterms for p in parts)
    es, cs = [], []
    for p in parts:
        q = p.lift(N)
        k = int(p.scale / s) if num else 0
        pad = np.zeros((T - q.nterms,) + q.shape, dtype=np.int64)
        es.append(np.concatenate([q.exp, pad]))
        cs.append(np.concatenate([_mul_checked(q.coef, k), pad]))
    return N, s, rad, es, cs


def _stack(parts: list, axis: int = 0) -> RootSum:
    """Stack RootSums of equal shape along a new ``axis`` (common conductor and scale)."""
    N, s, rad, es, cs = _aligned(parts)
    ax = axis if axis >= 0 else axis + len(parts[0].shape) + 1
    return RootSum(N, np.stack(es, axis=ax + 1), np.stack(cs, axis=ax + 1), s, rad)


def _concat(parts: list, axis: int = 0) -> RootSum:
    """Concatenate RootSums along an existing ``axis``."""
    N, s, rad, es, cs = _aligned(parts)
    ax = axis if axis >= 0 else axis + len(parts[0].shape)
    return RootSum(N, np.concatenate(es, axis=ax + 1), np.concatenate(cs, axis=ax + 1), s, rad)
