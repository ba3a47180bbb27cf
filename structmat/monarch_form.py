r"""Every transform in Monarch form: :func:`to_monarch`.

``to_monarch(X)`` returns a :class:`~structmat.Product` whose factors are only
:class:`~structmat.Monarch`, :class:`~structmat.Permutation`, :class:`~structmat.Diagonal` and
adjoints of Monarch matrices (:class:`structmat.base.Adjoint`), equal to ``X`` to rounding.  Every
factor is built from a closed-form formula (roots of unity, Hadamard blocks, butterfly twiddles);
nothing is fitted or projected numerically.  ``Product.form`` spells the factors: ``"M"`` a
Monarch matrix, ``"M*"`` the adjoint of one, ``"P"`` a permutation, ``"D"`` a diagonal.

Conventions: ``Monarch(L, R)`` with ``R`` of shape ``(k, q, p)`` and ``L``
of shape ``(l, s, r)``, ``M[d l + b, a p + j] = sum_i L[b, d, c(i)] R[a, i, j]``; ``ω_N = exp(-2πi/N)``.
Below ``n = k p`` is the split chosen with ``nblocks=k`` (default: the divisor of ``n`` nearest
``√n``); the Monarch's ``R`` then has ``k`` blocks and its ``L`` has ``p`` blocks.

Summary (``n = k p``; "geometry" lists ``R`` as blocks × (rows × cols), then ``L``):

=================================  =======  ==========================  =================
transform                          form     Monarch geometry            parameters
=================================  =======  ==========================  =================
DFT(n), inverse, every norm        MP       R k×(p×p), L p×(k×k)        n (k + p)
Hadamard(n), n = 2^a ≥ 4           M        R k×(p×p), L p×(k×k)        n (k + p)
DCT, DST types 2, 3, 4             MP       R k×(2p×p), L p×(k×2k)      2 n (k + p)
Convolution, circular              MM*      two DFT geometries          2 n (k + p)
Convolution, full                  MM*      rows kept: n+len-1 and n    ≈ 2 N (K + P)
                                   or MPM*  of an N-point pair
Butterfly(n), n = 2^a ≥ 4          M        R k×(p×p), L p×(k×k)        n (k + p)
Monarch                            M        its own                     its own
BlockDiagonal(blocks)              M        R = blocks, L 1×1 ones      blocks + n_out
Permutation, Diagonal              P, D     (kept)                      0, n
Product, A.T, A.H, A.conj()        concat.  factors converted           sum
=================================  =======  ==========================  =================

Formulas (``ω_m = exp(-2πi/m)``; output index ``d p + b``, input ``a p + j`` unless stated):

* **DFT** (four-step FFT): ``F_n = M Q`` with ``L[b, d, a] = s ω_k^{d a}``,
  ``R[a, b, j] = ω_n^{b (a + k j)}`` (twiddles times ``DFT_p``), ``s`` the norm scale, and
  ``Q x = x.reshape(p, k).T.ravel()`` (``Permutation.transpose_perm(p, k)``).  The inverse
  flips the sign of every exponent.
* **Hadamard** (Sylvester): ``H_n = H_k ⊗ H_p``: ``L[b] = H_k``, ``R[a] = H_p``; "ortho" scales L.
* **DCT/DST**: one real Monarch of middle dimension ``2n`` (slabs of rank 2) times an input
  reordering; derivation below.  Type 1 is not covered (below).
* **Convolution** (diagonalised by the DFT): ``C = F⁻¹ diag(F c) F = X₁ X₂ᴴ`` with ``X₁ = M̄ · diag(Q F c / n)``
  (the diagonal folded into R's columns) and ``X₂ = M̄``, ``M̄`` the inverse-sign DFT Monarch.
  Full mode embeds the ``(n + len - 1) × n`` Toeplitz matrix in a circulant of size
  ``N = K P ≥ n + len - 1``: ``X₁`` keeps its first ``n + len - 1`` rows and ``X₂`` its first
  ``n`` (rectangular Monarch factors; an L block of ``P`` rows keeps ``rows / P`` of them, so
  ``P`` must divide the count).  When one ``P`` divides both ``n`` and ``n + len - 1`` the form
  is ``MM*``; otherwise two splits ``P₁ | n + len - 1``, ``P₂ | n`` of the same ``N`` are used
  with a permutation between them (``MPM*``).  ``N`` and the splits minimise the parameter
  count; when ``n + len - 1`` is prime the left factor has one-row L blocks.
* **Butterfly** (levels split at the block size): ``R = B_p ⋯ B_2`` (block-diagonal, ``k`` blocks ``p × p``) and
  ``L`` the ``p`` residue blocks (indices equal mod ``p``) of ``B_n ⋯ B_{2p}``.

DCT/DST derivation (types 2–4, SciPy's convention ``A = diag(f) K diag(w)``,
``K[y, x] = cos or sin(π (y + α)(x + β) / n)``, ``N = 2n``).  With ``u = y + ⌊α⌋``,
``α' = α − ⌊α⌋`` and ``θ = 2π (u + α')(x + β) / N``, both ``e^{-iθ}`` and ``e^{+iθ}`` are entries
``ω_N^{u e}`` of the length-``N`` DFT at the extension indices ``e₁ = x`` and
``e₂ = (−x − 2β) mod N`` times diagonal twiddles (``ω_N^{uβ}`` on the output,
``ω_N^{α'(e + β)}`` and ``±1`` on the input).  In the four-step factorisation of ``F_N`` with
``K = 2k`` blocks, ``e₁ mod K`` and ``e₂ mod K`` are partner residues ``a ↔ −a − 2β``; grouping the
two partners in one ``R`` block makes ``R`` block-diagonal on ``x``, and keeping the output rows
``u < n`` (or ``1 ≤ u ≤ n``) keeps ``k`` rows of every ``L`` block.  Each slab is then a sum of two
complex conjugate rank-1 terms; a 2 × 2 change of basis per slab (``[m, m̄] → [2 Re m, 2 Im m]``)
makes both factors real.  Type 1 has extension lengths ``2(n ∓ 1)`` whose row selection cannot be
uniform over the ``L`` blocks, so it is not covered.

One source for float and exact factors: the DFT, Hadamard, DCT and DST factors are computed
by :func:`closed_form` as :class:`RootSum` arrays (integer exponents of roots of unity, integer
coefficients, a rational scale and at most one square root), and so are the DFT blocks of the
convolution factors.  :func:`to_monarch` evaluates them in floating point;
``to_monarch(X, exact=True)`` reads the same integers as elements of a cyclotomic field (see
:mod:`structmat.exact`, whose :func:`~structmat.exact.verify` proves the result equal to ``X``
built from its definition).  :func:`monarch_width` counts a form's Monarch factors.

Order-``p`` forms: ``to_monarch(X, order=p)`` (``p >= 3``) writes a DFT as
``MonarchP(F_0, ..., F_{p-1}) · Q`` (the mixed-radix FFT, ``Q`` the digit reversal, form ``"MP"``)
and a Hadamard matrix as ``MonarchP(H_{b_0}, ..., H_{b_{p-1}})`` (form ``"M"``) for any
factorisation ``n = b_0 ⋯ b_{p-1}`` given as ``nblocks``; see :func:`orderp_closed_form`.

Other modules add rules with ``to_monarch.register``::

    @to_monarch.register(MyClass)
    def _(X, nblocks, xp):
        return [...]          # a sequence of allowed factors, or a Product

Examples
--------
The DFT is a Monarch product:

>>> import numpy as np, scipy.fft
>>> from structmat import DFT, to_monarch
>>> F = to_monarch(DFT(1024)); x = np.random.default_rng(0).standard_normal(1024)
>>> F.form, bool(np.allclose(F @ x, scipy.fft.fft(x)))
('MP', True)
"""

from __future__ import annotations

import functools
import math
import numbers
from fractions import Fraction
from typing import Any, NamedTuple, cast

import numpy as np

from . import _backend as B
from .base import Adjoint, Conjugate, Product, StructuredMatrix, Transpose, dtype_name
from .geometry import divisors, split_nblocks
from .ops import (
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

__all__ = [
    "to_monarch",
    "closed_form",
    "orderp_closed_form",
    "RootSum",
    "monarch_width",
    "MonarchWidth",
]

_SUPPORTED = (
    "DFT (composite n, any norm, inverse), Hadamard (n = 2^a >= 4), DCT/DST (types 2, 3, 4, "
    "composite n), Convolution (circular with composite n, or full), Butterfly (n >= 4), "
    "Monarch, BlockDiagonal, Permutation, Diagonal, Product, and .T/.H/.conj() of these"
)


# ----------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------


def _split(n: int, nblocks: Any, what: str, valid: list[int] | None = None) -> int:
    """The number ``k`` of ``R`` blocks of a Monarch form of size ``n`` (``L`` gets ``n // k``:
    :func:`structmat.geometry.split_nblocks`); ``valid`` lists the admissible ``k``."""
    if valid is None:
        valid = [d for d in divisors(n) if 1 < d < n]
    if not valid:
        raise ValueError(
            f"{what} has no Monarch form for n={n}: it needs n = k·p with k, p >= 2 "
            f"(a composite n such as 4, 6, 12, 1000)"
        )
    root = math.sqrt(n)
    default = min(valid, key=lambda d: (abs(d - root), d))
    return split_nblocks(n, nblocks, what, valid, default=default)[0]


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    return int(value)


def _ns(X: StructuredMatrix, xp: Any):
    """The namespace the factors are built in: ``xp``, else X's parameters', else NumPy."""
    if xp is not None:
        return xp
    return X.xp if X.xp is not None else B.resolve_xp(None)


def _on(X: StructuredMatrix, xp: Any) -> StructuredMatrix:
    """X with its parameters in namespace ``xp`` (an explicit move when requested)."""
    if xp is None or X.xp is None or B.namespace_name(X.xp) == B.namespace_name(xp):
        return X
    return X.to_backend(xp)


def _arr(xp, a: np.ndarray, dtype: Any):
    """A NumPy-built closed-form array in namespace ``xp`` with dtype ``dtype``."""
    return xp.asarray(np.ascontiguousarray(a.astype(dtype_name(dtype))))


def _perm(xp, perm: np.ndarray, dtype: Any) -> Permutation:
    return Permutation(xp.asarray(np.asarray(perm, dtype=np.int64)), dtype=dtype_name(dtype))


def _star(M: Monarch) -> Adjoint:
    """``Mᴴ`` as an :class:`Adjoint` (also for real M, so the factor class is uniform)."""
    return Adjoint(M)


# ----------------------------------------------------------------------------------------------
# exact closed forms: arrays of sums of roots of unity
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# the four-step (Cooley–Tukey) builder shared by DFT, DCT/DST and convolution
# ----------------------------------------------------------------------------------------------


def _ct_monarch(N, K, sign, rows, ext, groups):
    """Blocks of ``G · F_N · H`` as one Monarch, exactly (:class:`RootSum` blocks).

    ``F_N[u, e] = ω^{u e}`` (``ω = exp(sign 2πi / N)``) splits with ``N = K P``, ``u = d P + b``,
    ``e = a + K j`` as ``ω_K^{d a} · ω_N^{b e}``.  ``rows = (y, u, coef)`` says output ``y`` is
    ``coef`` times row ``u``; ``ext = (e, x, coef)`` lists the entries ``H[e, x]`` (``coef`` are
    1-D RootSums); ``groups`` are tuples of residues ``a`` (mod K) read by one ``R`` block.
    Requires every ``L`` block (residue ``b = u mod P``) to keep the same number of rows, and
    every ``x`` to reach only residues of one group.

    Returns ``L (P, s, K)``, ``R (len(groups), gs·P, p)``, ``in_perm`` (Monarch input index ->
    ``x``) and ``out_map`` (Monarch output index -> ``y``); the middle index of group ``g``,
    member ``m``, block ``b`` is ``R`` row ``m P + b`` and ``L`` column ``g gs + m``.
    """
    P = N // K
    y, u = np.asarray(rows[0]), np.asarray(rows[1])
    cy = rows[2]
    b_of, d_of = u % P, u // P
    counts = np.bincount(b_of, minlength=P)
    if counts.min() != counts.max():
        raise AssertionError("output rows are not spread evenly over the L blocks")
    s = int(counts[0])
    order = np.lexsort((d_of, b_of))
    yb = y[order].reshape(P, s)
    db = d_of[order].reshape(P, s)
    cb = cy[order].reshape(P, s)
    gs = len(groups[0])
    res_col = np.array([a for g in groups for a in g], dtype=np.int64)  # column -> residue
    # L[b, d', g gs + m] = coef_y · ω_K^{d a_m}
    L = cb[:, :, None] * RootSum.root(db[:, :, None] * res_col[None, None, :], K, sign)

    e, x = np.asarray(ext[0]), np.asarray(ext[1])
    ce = ext[2]
    a_e = e % K
    group_of = np.full(K, -1)
    member_of = np.full(K, -1)
    for g, grp in enumerate(groups):
        for m, a in enumerate(grp):
            group_of[a], member_of[a] = g, m
    g_e = group_of[a_e]
    n_in = int(x.max()) + 1
    x_group = np.full(n_in, -1)
    x_group[x] = g_e
    if np.any(x_group[x] != g_e) or np.any(x_group < 0):
        raise AssertionError("an input reaches residues of two groups")
    sizes = np.bincount(x_group, minlength=len(groups))
    if sizes.min() != sizes.max():
        raise AssertionError("groups read different numbers of inputs")
    p = int(sizes[0])
    in_perm = np.argsort(x_group, kind="stable")  # x sorted by group, increasing within a group
    pos = np.empty(n_in, dtype=np.int64)
    pos[in_perm] = np.arange(n_in) % p
    bvec = np.arange(P)
    # R[g, m P + b, pos(x)] += coef · ω_N^{b e}
    vals = ce[:, None] * RootSum.root(bvec[None, :] * e[:, None], N, sign)
    R = RootSum.scatter(
        (len(groups), gs * P, p),
        (g_e[:, None], member_of[a_e][:, None] * P + bvec[None, :], pos[x][:, None]),
        vals,
    )
    out_map = yb.T.reshape(-1)  # Monarch output d' P + b -> y
    return L, R, in_perm, out_map, yb


def _fold_output(L, R, out_map):
    """Fold an output permutation that maps L blocks onto L blocks into ``(L, R)``.

    ``out_map[d l + b] = y``.  If every block ``b`` lands on one block ``π(b)`` and ``l``
    divides ``q``, then relabelling L's blocks by ``π`` and R's rows ``i -> (i div l) l +
    π(i mod l)`` (inside each R block) gives the permuted matrix.  Returns ``None`` otherwise.
    """
    l, s, _ = L.shape
    _, q, _ = R.shape
    tab = np.asarray(out_map).reshape(s, l)  # [d, b]
    pi = tab[0] % l
    if q % l or np.any(tab % l != pi[None, :]) or len(set(pi.tolist())) != l:
        return None
    dnew = tab // l
    bb = np.broadcast_to(np.arange(l)[None, :], (s, l))
    dd = np.broadcast_to(np.arange(s)[:, None], (s, l))
    src_b = np.empty((l, s), dtype=np.int64)
    src_d = np.empty((l, s), dtype=np.int64)
    src_b[pi[bb], dnew] = bb
    src_d[pi[bb], dnew] = dd
    Ln = L[src_b, src_d, :]
    i = np.arange(q)
    src_i = np.empty(q, dtype=np.int64)
    src_i[(i // l) * l + pi[i % l]] = i
    Rn = R[:, src_i, :]
    return Ln, Rn


def _specs_with_perms(L, R, in_perm, out_map):
    """Factor specs ``[("P", out)?, ("M", L, R), ("P", in)?]`` from builder output."""
    specs: list = []
    if not np.array_equal(out_map, np.arange(out_map.size)):
        folded = _fold_output(L, R, out_map)
        if folded is None:
            specs.append(("P", np.argsort(out_map)))
        else:
            L, R = folded
    specs.append(("M", L, R))
    if not np.array_equal(in_perm, np.arange(in_perm.size)):
        specs.append(("P", np.asarray(in_perm, dtype=np.int64)))
    return specs


def _dft_norm(n: int, norm, inverse: bool) -> RootSum:
    """The DFT's normalisation as an exact scalar: ``1``, ``1/n`` or ``1/√n``."""
    if norm == "ortho":
        return RootSum.sqrt_rational(Fraction(1, n), fold_two=False)
    if (norm == "forward") != bool(inverse):
        return RootSum.const(1, Fraction(1, n))
    return RootSum.const(1)


def _dft_blocks(n, k, sign, scale=None):
    """``L (p, k, k)``, ``R (k, p, p)`` (RootSums) and ``Q``'s index array with
    ``F = Monarch(L, R) · Q``; ``F[u, x] = scale · exp(sign 2πi u x / n)``, ``n = k p``."""
    u = np.arange(n)
    x = np.arange(n)
    one = RootSum.const(np.ones(n, dtype=np.int64))
    L, R, in_perm, out_map, _ = _ct_monarch(
        n, k, sign, (u, u, one), (x, x, one), [(a,) for a in range(k)]
    )
    assert np.array_equal(out_map, u)
    if scale is not None:
        L = L * scale
    return L, R, in_perm


def _sylvester(m: int) -> np.ndarray:
    """Sign exponents (0 for +1, 1 for −1) of the Sylvester Hadamard matrix of order ``m``,
    by the doubling ``H_{2m} = [[H, H], [H, −H]]``."""
    E = np.zeros((1, 1), dtype=np.int64)
    while E.shape[0] < m:
        E = np.block([[E, E], [E, E + 1]])
    return E % 2


# ----------------------------------------------------------------------------------------------
# closed forms: one description per transform, evaluated in floating point or exactly
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# dispatch
# ----------------------------------------------------------------------------------------------


@functools.singledispatch
def _rules(X, nblocks, xp):
    raise TypeError(
        f"to_monarch has no rule for {type(X).__name__}; supported: {_SUPPORTED}. "
        f"New classes add one with to_monarch.register(cls)"
    )


_TOKEN = {Monarch: "M", Permutation: "P", Diagonal: "D"}


def _token(f: Any) -> str | None:
    if isinstance(f, Adjoint) and isinstance(f.base, Monarch):
        return "M*"
    for cls, tok in _TOKEN.items():
        if isinstance(f, cls):
            return tok
    return None


class MonarchWidth(NamedTuple):
    """Monarch factor count and the width ``w`` of a form (see :func:`monarch_width`)."""

    monarch_factors: int
    width: int


def _form_tokens(form: str) -> list[str]:
    toks, i = [], 0
    while i < len(form):
        if form.startswith("M*", i):
            toks.append("M*")
            i += 2
        elif form[i] in "MPD":
            toks.append(form[i])
            i += 1
        else:
            raise ValueError(f"form strings use M, M*, P and D only; got {form!r}")
    return toks


def monarch_width(form: Any) -> MonarchWidth:
    """How many Monarch factors a form uses and the least ``w`` with the form's Monarch factors
    fitting the pattern ``(M M*)^w``.

    The ``M`` and ``M*`` factors are read left to right and placed greedily in the alternating
    slots ``M, M*, M, M*, ...`` (an ``M`` factor takes the next ``M`` slot, an ``M*`` the next
    ``M*`` slot, skipped slots are identities); ``w`` is the number of ``M M*`` pairs used.
    Permutations and diagonals are not counted: they stay visible in the form string.

    Parameters
    ----------
    form : str, Product or ExactProduct
        A form string such as ``"MPM*"`` or an object with a ``.form`` attribute.

    Returns
    -------
    MonarchWidth
        ``(monarch_factors, width)``.

    Examples
    --------
    >>> from structmat import DFT, Convolution, to_monarch
    >>> from structmat.monarch_form import monarch_width
    >>> monarch_width(to_monarch(DFT(16))), monarch_width("MM*"), monarch_width("M*M")
    (MonarchWidth(monarch_factors=1, width=1), MonarchWidth(monarch_factors=2, width=1), MonarchWidth(monarch_factors=2, width=2))
    """
    s = form if isinstance(form, str) else getattr(form, "form", None)
    if not isinstance(s, str):
        raise TypeError(
            f"form must be a form string or have a .form string; got {type(form).__name__}"
        )
    slot = -1  # slots 0, 2, 4, ... are M; 1, 3, ... are M*
    count = 0
    for tok in _form_tokens(s):
        if tok in ("M", "M*"):
            count += 1
            want = 0 if tok == "M" else 1
            slot += 1
            if slot % 2 != want:
                slot += 1
    return MonarchWidth(count, (slot + 2) // 2 if count else 0)


def to_monarch(
    X: Any, nblocks: Any = None, *, xp: Any = None, exact: Any = False, order: Any = None
) -> Any:
    """Write ``X`` exactly as a product of Monarch, permutation and diagonal factors.

    Parameters
    ----------
    X : StructuredMatrix
        A DFT (composite n), Hadamard, DCT/DST (types 2–4), Convolution, Butterfly, Monarch,
        BlockDiagonal, Permutation, Diagonal, a Product of these, or ``.T``/``.H``/``.conj()``
        of one (see the table in :mod:`structmat.monarch_form`).
    nblocks : int or (int, int), optional
        The split ``n = k·p``: the Monarch's ``R`` gets ``k`` blocks and its ``L`` ``n // k``
        (a pair must be ``(k, n // k)``).  Default: the divisor of ``n`` nearest ``√n``.
        Ignored by factors already in Monarch form and by full convolutions (which pick their
        own circulant size).
    xp : namespace or name, optional
        Namespace of the factors (default: X's parameters', else NumPy).  Parametrised inputs
        are moved there explicitly with ``X.to_backend(xp)``.  Not used with ``exact``.
    exact : False, True or "symbolic", optional
        ``True`` returns the same product (same factor classes, order and ``form``) with exact
        factors from :mod:`structmat.exact`, generated from the same closed forms as the float
        ones: entries in a cyclotomic field ``Q(ζ_N)`` (square roots of the "ortho" norms
        included).  Floating-point parameters (a convolution kernel, butterfly twiddles, Monarch
        blocks) are read exactly as the dyadic rationals they are.  ``"symbolic"`` replaces a
        convolution kernel by real symbols ``c0, c1, ...`` and butterfly twiddles by symbols
        (:func:`structmat.exact.butterfly_symbol_names`).  Check the result with
        :func:`structmat.exact.verify`.
    order : int, optional
        ``None`` or 2: the Monarch forms above.  ``p >= 3``: the order-``p`` Monarch form
        (:class:`~structmat.MonarchP`) of a DFT or Hadamard matrix, see
        :func:`orderp_closed_form`; ``nblocks`` is then the tuple of sizes
        ``(b_0, ..., b_{p-1})`` with product ``n`` (default :func:`structmat.ops.blocktt.orderp_sizes`).
        With ``exact=True`` each factor of the order-``p`` Monarch is written as a block-diagonal
        :class:`~structmat.exact.ExactMonarch` between axis permutations (``verify`` then uses
        its dense method: sizes up to about 64; ``structmat prove --claim orderp-dft`` checks
        the same closed forms entrywise up to ``n = 4096``).

    Returns
    -------
    Product or structmat.exact.ExactProduct
        With factors :class:`~structmat.Monarch`, :class:`~structmat.base.Adjoint` of a Monarch,
        :class:`~structmat.Permutation` and :class:`~structmat.Diagonal` only; ``.form`` spells
        them (``"M"``, ``"M*"``, ``"P"``, ``"D"``), e.g. ``"MP"`` for the DFT.  With ``exact``
        an :class:`~structmat.exact.ExactProduct` of the exact counterparts.

    Raises
    ------
    TypeError
        X has no rule (a plain array, an unregistered class).
    ValueError
        X's size has no Monarch form (prime n, n < 4, DCT type 1) or ``nblocks`` is invalid.

    Examples
    --------
    >>> import numpy as np, scipy.fft, scipy.linalg
    >>> from structmat import DCT, DFT, Hadamard, to_monarch
    >>> F = to_monarch(DFT(12), nblocks=3)
    >>> F.form, [type(f).__name__ for f in F.factors], F.factors[0].nblocks
    ('MP', ['Monarch', 'Permutation'], (3, 4))
    >>> bool(np.allclose(F.to_dense(), scipy.linalg.dft(12)))
    True
    >>> to_monarch(Hadamard(8)).form
    'M'
    >>> C = to_monarch(DCT(15, type=2, norm="ortho"))
    >>> C.form, bool(np.allclose(C @ np.eye(15), scipy.fft.dct(np.eye(15), norm="ortho", axis=0)))
    ('MP', True)
    >>> from structmat.exact import verify
    >>> E = to_monarch(DFT(12), nblocks=3, exact=True)
    >>> E.form, E.ring.N, bool(verify(E, DFT(12)))
    ('MP', 12, True)
    >>> F3 = to_monarch(DFT(4096), order=3)
    >>> F3.form, type(F3.factors[0]).__name__, F3.factors[0].in_sizes
    ('MP', 'MonarchP', (16, 16, 16))
    >>> x = np.random.default_rng(1).standard_normal(4096)
    >>> bool(np.allclose(F3 @ x, scipy.fft.fft(x)))
    True
    >>> to_monarch(DFT(7))
    Traceback (most recent call last):
    ...
    ValueError: DFT has no Monarch form for n=7: it needs n = k·p with k, p >= 2 (a composite n such as 4, 6, 12, 1000)
    """
    if order is not None and _orderp_order(order) != 2:
        return _to_monarch_orderp(X, nblocks, _orderp_order(order), xp, exact)
    if exact is not False:
        from .exact.forms import exact_monarch

        return exact_monarch(X, nblocks, exact)
    ns = None if xp is None else B.resolve_xp(xp)
    out = _rules.dispatch(type(X))(X, nblocks, ns)  # the default rule raises TypeError
    factors = list(out.factors) if isinstance(out, Product) else list(out)
    tokens = []
    for i, f in enumerate(factors):
        tok = _token(f)
        if tok is None:
            raise TypeError(
                f"the to_monarch rule for {type(X).__name__} returned a {type(f).__name__} as "
                f"factor {i}; allowed: Monarch, Adjoint of a Monarch, Permutation, Diagonal"
            )
        tokens.append(tok)
    return Product(*factors, form="".join(tokens))


to_monarch.register = _rules.register  # type: ignore[attr-defined]
to_monarch.registry = _rules.registry  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------------------------
# rules
# ----------------------------------------------------------------------------------------------


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


# -- DCT / DST ---------------------------------------------------------------------------------


def _trig_rule(X, nblocks, xp):
    return _float_factors(closed_form(X, nblocks), _ns(X, xp), X.dtype)


_rules.register(DCT, _trig_rule)
_rules.register(DST, _trig_rule)


# -- convolution -------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# order-p forms: the mixed-radix FFT and Sylvester's Kronecker products as MonarchP
# ----------------------------------------------------------------------------------------------


def _orderp_order(order: Any) -> int:
    if isinstance(order, bool) or not isinstance(order, numbers.Integral):
        raise TypeError(f"order must be an integer >= 2; got {order!r}")
    if int(order) < 2:
        raise ValueError(f"order must be an integer >= 2; got {int(order)}")
    return int(order)


def _orderp_sizes(n: int, order: int, nblocks: Any, what: str) -> tuple[int, ...]:
    from .ops.blocktt import orderp_sizes

    if nblocks is None:
        return orderp_sizes(n, order)
    if isinstance(nblocks, (str, bytes)) or not isinstance(nblocks, (tuple, list)):
        raise TypeError(
            f"with order={order}, nblocks must be a tuple of {order} sizes with product "
            f"{n}; got {nblocks!r}"
        )
    sizes = tuple(_as_int(b, f"nblocks[{t}]") for t, b in enumerate(nblocks))
    if len(sizes) != order or min(sizes) < 1 or math.prod(sizes) != n:
        raise ValueError(
            f"nblocks={tuple(nblocks)!r} is not a split of {what} of size {n} into "
            f"order={order} sizes >= 1 with product {n}"
        )
    return sizes


def _digits_value(index: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    """``Σ_s j_s E_s`` (``E_s = b_0 ⋯ b_{s-1}``, ``j_0`` least significant) of the row-major
    digits ``(j_0, ..., j_{t-1})`` of ``index``: the digit reversal of mixed radix."""
    if not sizes:
        return np.zeros_like(index)
    digits = np.unravel_index(index, sizes)
    out = np.zeros_like(index)
    E = 1
    for s, b in enumerate(sizes):
        out = out + digits[s] * E
        E *= b
    return out


def orderp_closed_form(X: StructuredMatrix, order: int, sizes: Any = None) -> list:
    r"""The exact closed-form order-``p`` Monarch factors of a DFT or Hadamard matrix.

    Sizes ``n = b_0 ⋯ b_{p-1}``; input digits ``j`` and output digits ``i`` row-major
    (module :mod:`structmat.ops.monarch_p`), ``U_t = b_{t+1} ⋯ b_{p-1}`` and
    ``E_t = b_0 ⋯ b_{t-1}``.

    * **DFT** (mixed-radix decimation in time, twiddles folded into the blocks):
      ``F_n = MonarchP(F_0, ..., F_{p-1}) · Q`` with
      ``F_t[(i_{>t}, j_{<t}), i_t, j_t] = ω_n^{i_t U_t (j_t E_t + Σ_{s<t} j_s E_s)}`` and
      ``(Q x)[j] = x[Σ_s j_s E_s]`` (the digit reversal).  Proof: with ``u = Σ i_t U_t`` and
      ``e = Σ j_s E_s``, ``u e = Σ_{t,s} i_t j_s U_t E_s`` and ``U_t E_s`` is a multiple of
      ``n`` whenever ``s > t``, so ``ω_n^{u e}`` is the product over ``t`` of the terms with
      ``s <= t``, which is the product of the factors' entries.  For ``p = 2`` this is the
      four-step form ``F P ∈ M`` of :func:`closed_form`.  The norm's scale goes to ``F_0``.
    * **Hadamard** (``n = 2^a``, every ``b_t`` a power of 2): ``H_n = H_{b_0} ⊗ ⋯ ⊗ H_{b_{p-1}}``,
      every block of ``F_t`` is ``H_{b_t}``; no permutation.

    Parameters
    ----------
    X : DFT or Hadamard
    order : int
        ``p >= 2``.
    sizes : tuple of int, optional
        ``(b_0, ..., b_{p-1})`` (default :func:`structmat.ops.blocktt.orderp_sizes`).

    Returns
    -------
    list of tuples
        ``("Mp", [F_0, ..., F_{p-1}], sizes)`` (:class:`RootSum` factors of shape
        ``(nblocks_t, b_t, b_t)``), followed for the DFT by ``("P", perm)``.

    Examples
    --------
    >>> from structmat import DFT
    >>> from structmat.monarch_form import orderp_closed_form
    >>> (tok, F, sizes), (tok2, perm) = orderp_closed_form(DFT(8), 3)
    >>> tok, sizes, [f.shape for f in F], perm.tolist()
    ('Mp', (2, 2, 2), [(4, 2, 2), (4, 2, 2), (4, 2, 2)], [0, 4, 2, 6, 1, 5, 3, 7])
    """
    order = _orderp_order(order)
    if isinstance(X, DFT):
        n = X.n
        b = _orderp_sizes(n, order, sizes, "DFT")
        sign = (-1, 1)[bool(X.inverse)]  # ω_n = exp(sign 2πi / n)
        cores = []
        for t in range(order):
            I_t = math.prod(b[t + 1 :])
            J_t = math.prod(b[:t])
            U_t, E_t = I_t, J_t
            jl = _digits_value(np.arange(J_t), b[:t])  # Σ_{s<t} j_s E_s
            # exponent [j_<t, i_t, j_t] = i_t U_t (j_t E_t + Σ_{s<t} j_s E_s) mod n
            expo = (
                np.arange(b[t])[None, :, None]
                * U_t
                * (np.arange(b[t])[None, None, :] * E_t + jl[:, None, None])
            ) % n
            core = RootSum.root(
                np.broadcast_to(expo[None], (I_t, J_t, b[t], b[t])).reshape(I_t * J_t, b[t], b[t]),
                n,
                sign,
            )
            cores.append(core)
        cores[0] = cores[0] * _dft_norm(n, X.norm, X.inverse)
        perm = _digits_value(np.arange(n), b)
        return [("Mp", cores, b), ("P", np.asarray(perm, dtype=np.int64))]
    if isinstance(X, Hadamard):
        n = X.n
        b = _orderp_sizes(n, order, sizes, "Hadamard")
        if any(v & (v - 1) for v in b):
            raise ValueError(f"Hadamard sizes must be powers of 2; got {b}")
        cores = []
        for t in range(order):
            nb = n // b[t]
            cores.append(
                RootSum.root(np.broadcast_to(_sylvester(b[t]), (nb, b[t], b[t])), 2, sign=1)
            )
        if X.norm == "ortho":
            cores[0] = cores[0] * RootSum.sqrt_rational(Fraction(1, n), fold_two=False)
        return [("Mp", cores, b)]
    raise TypeError(f"order-p forms cover DFT and Hadamard; got {type(X).__name__}")


def _orderp_stage_specs(cores: list, sizes: tuple[int, ...]) -> list:
    """Order-2 specs ``[("P", ...), ("M", ones, F_0), ("P", ...), ..., ("M", ones, F_{p-1}), ("P", ...)]``
    of an order-``p`` Monarch with square sizes: factor ``t`` is a block-diagonal Monarch (one
    ``1 x 1`` block per row of ``L``) between the permutations that move digit ``t`` last and
    back.  Identity permutations are left out; adjacent ones are merged."""
    p = len(cores)
    n = math.prod(sizes)
    perms: list = []  # (out_perm, in_perm) per stage, as index arrays
    for t in range(p):
        I_t, J_t, b = math.prod(sizes[t + 1 :]), math.prod(sizes[:t]), sizes[t]
        # before stage t the vector is (j_<t, j_t, i_>t); the blocks read (i_>t, j_<t, j_t)
        pin = np.arange(n).reshape(J_t, b, I_t).transpose(2, 0, 1).reshape(-1)
        pout = np.arange(n).reshape(I_t, J_t, b).transpose(1, 2, 0).reshape(-1)
        perms.append((pout, pin))
    specs: list = []
    pending = None  # a permutation to the right of the last factor
    for t in range(p):
        pout, pin = perms[t]
        left = pout if pending is None else pending[pout]  # (P_a P_b x)[i] = x[b[a[i]]]
        if not np.array_equal(left, np.arange(n)):
            specs.append(("P", left))
        nb, m, _ = cores[t].shape
        ones = RootSum.const(np.ones((nb * m, 1, 1), dtype=np.int64))
        specs.append(("M", ones, cores[t]))
        pending = pin
    if pending is not None and not np.array_equal(pending, np.arange(n)):
        specs.append(("P", pending))
    return specs


def _to_monarch_orderp(X, nblocks, order, xp, exact):
    from .ops.monarch_p import MonarchP

    if isinstance(X, MonarchP) and exact is False:
        if X.order != order:
            raise ValueError(f"X is a MonarchP of order {X.order}, not {order}")
        return Product(_on(X, xp), form="M")
    if not isinstance(X, (DFT, Hadamard)):
        raise TypeError(
            f"to_monarch(..., order={order}) covers DFT and Hadamard (and MonarchP "
            f"itself); got {type(X).__name__}"
        )
    specs = orderp_closed_form(X, order, nblocks)
    if exact is not False:
        if exact is not True:
            raise ValueError(f"exact must be False or True with order={order}; got {exact!r}")
        from .exact.forms import _common_product, _from_specs

        flat = []
        for sp in specs:
            flat.extend(_orderp_stage_specs(sp[1], sp[2]) if sp[0] == "Mp" else [sp])
        return _common_product(_from_specs(flat))
    ns = _ns(X, xp)
    real = not np.issubdtype(np.dtype(dtype_name(X.dtype)), np.complexfloating)
    factors: list = []
    tokens = ""
    for sp in specs:
        if sp[0] == "P":
            factors.append(_perm(ns, sp[1], X.dtype))
            tokens += "P"
        else:
            blocks = []
            for core in sp[1]:
                v = core.to_complex()
                blocks.append(_arr(ns, v.real if real else v, X.dtype))
            factors.append(MonarchP(blocks))
            tokens += "M"
    return Product(*factors, form=tokens)
