"""Structured exact matrices over an :class:`~structmat.exact.ExactRing`.

Dense exact matrices are SymPy ``DomainMatrix`` objects over the ring's polynomial domain.
Structured factors keep their structure: a permutation is an index map, a diagonal a list of
entries, a block-diagonal matrix a list of ``DomainMatrix`` blocks and a Monarch matrix its two
block lists.  ``A.apply(X)`` multiplies a dense exact ``X`` at the structured cost of ``A``
(row gathers, row scalings, one block product per block), and products of structured factors
are applied factor by factor, so exact work grows like the structured multiply.

Index conventions (those of :mod:`structmat`): ``(P x)[i] = x[perm[i]]``, ``BlockDiagonal`` blocks
of shape ``(nblocks, rows, cols)``, and ``Monarch(L, R)`` with the four steps

1. ``u[a, i] = sum_j R[a, i, j] x[a p + j]``
2. ``v[b, c] = u[t]`` with ``t = c l + b``
3. ``w[b, d] = sum_c L[b, d, c] v[b, c]``
4. ``y[d l + b] = w[b, d]``

that is ``M = P_out · diag(L) · P_mid · diag(R)`` with ``P_mid = transpose_perm(r, l)`` and
``P_out = transpose_perm(l, s)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sympy.polys.matrices import DomainMatrix

from .elements import (
    _identity,
    _is_rootsum,
    _mm,
    _reduce_dm,
    _take_rows,
    dense_from_rows,
    lift_element,
    rootsum_conductor,
    rootsum_entries,
    stride_permutation,
)
from .ring import ExactRing

__all__ = [
    "ExactMatrix",
    "ExactDense",
    "ExactPermutation",
    "ExactDiagonal",
    "ExactBlockDiagonal",
    "ExactMonarch",
    "ExactProduct",
    "ExactAdjoint",
]


class ExactMatrix:
    """Base class of the structured exact matrices.

    Subclasses provide ``shape``, ``ring``, :meth:`apply` (``self @ X`` for a dense exact
    ``X``) and :attr:`H` (the conjugate transpose, again structured).

    Examples
    --------
    >>> from structmat.exact import ExactRing, ExactPermutation, ExactDiagonal
    >>> K = ExactRing(4)
    >>> A = ExactPermutation([1, 0], K) @ ExactDiagonal([K.from_int(2), K.zeta(1)], K)
    >>> A.to_dense().to_list()
    [[0, z], [2, 0]]
    """

    ring: ExactRing
    shape: tuple[int, int]

    def apply(self, X: DomainMatrix) -> DomainMatrix:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def H(self) -> ExactMatrix:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dense(self) -> DomainMatrix:
        """The dense exact matrix (applies the structure to the identity)."""
        return self.apply(_identity(self.shape[1], self.ring))

    def columns(self, start: int, stop: int) -> DomainMatrix:
        """Columns ``start:stop`` of the dense matrix, at the structured cost."""
        n = self.shape[1]
        eye = DomainMatrix(
            [
                [self.ring.one if i == j else self.ring.zero for j in range(start, stop)]
                for i in range(n)
            ],
            (n, stop - start),
            self.ring.domain,
        )
        return self.apply(eye)

    def to_complex(self, values: dict | None = None) -> np.ndarray:
        """Numerical values (``complex128``) of the dense matrix, for tests and display."""
        D = self.to_dense().to_list()
        return np.array([[self.ring.evaluate(x, values) for x in row] for row in D], dtype=complex)

    def conj(self) -> ExactMatrix:
        """The entrywise complex conjugate."""
        return ExactDense(self.to_dense(), self.ring).conj()

    def lifted(self, ring: ExactRing) -> ExactMatrix:
        """The same matrix over a larger ring (conductor a multiple, symbols a superset)."""
        return self if ring is self.ring else ExactDense(self.to_dense(), self.ring).lifted(ring)

    def __matmul__(self, other: ExactMatrix) -> ExactProduct:
        if not isinstance(other, ExactMatrix):
            raise TypeError(
                f"can only compose with another ExactMatrix; got {type(other).__name__}"
            )
        return ExactProduct(self, other)

    def _check_ring(self, X: DomainMatrix, what: str = "X") -> None:
        if X.domain != self.ring.domain:
            raise TypeError(
                f"{what} has domain {X.domain}, expected the ring's domain {self.ring.domain}"
            )
        if X.shape[0] != self.shape[1]:
            raise ValueError(f"{what} has {X.shape[0]} rows; expected {self.shape[1]}")

    def __repr__(self) -> str:
        return f"<{self.shape[0]}x{self.shape[1]} {type(self).__name__} over {self.ring!r}>"


class ExactDense(ExactMatrix):
    """A dense exact matrix (a ``DomainMatrix`` over the ring).

    Examples
    --------
    >>> from structmat.exact import ExactRing, ExactDense
    >>> K = ExactRing(4)
    >>> A = ExactDense([[1, K.zeta(1)], [0, 1]], K)
    >>> A.H.to_dense().to_list()
    [[1, 0], [-z, 1]]
    """

    def __init__(self, entries: Any, ring: ExactRing):
        self.ring = ring
        if isinstance(entries, DomainMatrix):
            if entries.domain != ring.domain:
                raise TypeError(f"entries has domain {entries.domain}, expected {ring.domain}")
            self.M = _reduce_dm(entries, ring)
        else:
            rows = [list(r) for r in entries]
            if not rows or any(len(r) != len(rows[0]) for r in rows):
                raise ValueError("entries must be a non-empty rectangular list of rows")
            self.M = _reduce_dm(dense_from_rows(rows, ring), ring)
        self.shape = tuple(self.M.shape)

    def apply(self, X):
        self._check_ring(X)
        return _reduce_dm(_mm(self.M, X), self.ring)

    def to_dense(self):
        return self.M

    def columns(self, start: int, stop: int) -> DomainMatrix:
        """Columns ``start:stop`` (a slice, no product)."""
        return self.M.extract(list(range(self.shape[0])), list(range(start, stop)))

    @property
    def H(self):
        rows = self.M.to_list()
        n, m = self.shape
        return ExactDense(
            [[self.ring.conj(rows[i][j]) for i in range(n)] for j in range(m)], self.ring
        )

    @property
    def T(self):
        return ExactDense(self.M.transpose(), self.ring)

    def conj(self):
        return ExactDense([[self.ring.conj(x) for x in row] for row in self.M.to_list()], self.ring)

    def lifted(self, ring):
        if ring is self.ring:
            return self
        return ExactDense(
            [[lift_element(x, self.ring, ring) for x in row] for row in self.M.to_list()], ring
        )


class ExactPermutation(ExactMatrix):
    """The permutation matrix with ``(P x)[i] = x[perm[i]]`` (an index map).

    Examples
    --------
    >>> from structmat.exact import ExactRing, ExactPermutation
    >>> K = ExactRing()
    >>> P = ExactPermutation([2, 0, 1], K)
    >>> (P.H @ P).to_dense() == ExactPermutation([0, 1, 2], K).to_dense()
    True
    """

    def __init__(self, perm: Any, ring: ExactRing):
        p = np.asarray(perm)
        if p.ndim != 1 or p.size == 0 or not np.issubdtype(p.dtype, np.integer):
            raise ValueError("perm must be a non-empty 1-D array of integers")
        n = p.size
        if not np.array_equal(np.sort(p), np.arange(n)):
            raise ValueError(f"perm must be a permutation of 0..{n - 1}")
        self.perm = p.astype(np.int64)
        self.ring = ring
        self.shape = (n, n)

    def apply(self, X):
        self._check_ring(X)
        return _take_rows(X, self.perm.tolist())

    @property
    def H(self):
        return ExactPermutation(np.argsort(self.perm), self.ring)

    T = H

    def conj(self):
        return self

    def lifted(self, ring):
        return self if ring is self.ring else ExactPermutation(self.perm, ring)

    def is_identity(self) -> bool:
        return bool(np.array_equal(self.perm, np.arange(self.shape[0])))


class ExactDiagonal(ExactMatrix):
    """``diag(d)`` with exact entries.

    Examples
    --------
    >>> from structmat.exact import ExactRing, ExactDiagonal
    >>> K = ExactRing(8)
    >>> D = ExactDiagonal([K.zeta(1), K.zeta(3)], K)
    >>> D.H.d == [K.zeta(7), K.zeta(5)]
    True
    """

    def __init__(self, d: Sequence[Any], ring: ExactRing):
        self.d = [ring.reduce(ring.convert(x)) for x in d]
        if not self.d:
            raise ValueError("d must not be empty")
        self.ring = ring
        self.shape = (len(self.d), len(self.d))

    def apply(self, X):
        self._check_ring(X)
        rows = X.to_list()
        red = self.ring.reduce
        out = [[red(di * x) if x else x for x in row] for di, row in zip(self.d, rows)]
        return DomainMatrix(out, X.shape, X.domain)

    @property
    def H(self):
        return ExactDiagonal([self.ring.conj(x) for x in self.d], self.ring)

    def conj(self):
        return self.H

    @property
    def T(self):
        return self

    def lifted(self, ring):
        if ring is self.ring:
            return self
        return ExactDiagonal([lift_element(x, self.ring, ring) for x in self.d], ring)


class ExactBlockDiagonal(ExactMatrix):
    """``diag(B_0, ..., B_{nb-1})`` with equal-shape exact blocks (``DomainMatrix`` each).

    Examples
    --------
    >>> from structmat.exact import ExactRing, ExactBlockDiagonal
    >>> K = ExactRing()
    >>> B = ExactBlockDiagonal([[[1, 2], [3, 4]], [[0, 1], [1, 0]]], K)
    >>> B.shape, B.to_dense().to_list()[2]
    ((4, 4), [0, 0, 0, 1])
    """

    def __init__(self, blocks: Sequence[Any], ring: ExactRing):
        bl = []
        for i, b in enumerate(blocks):
            if isinstance(b, DomainMatrix):
                if b.domain != ring.domain:
                    raise TypeError(f"blocks[{i}] has domain {b.domain}, expected {ring.domain}")
                bl.append(_reduce_dm(b, ring))
            else:
                bl.append(_reduce_dm(dense_from_rows(b, ring), ring))
        if not bl:
            raise ValueError("blocks must not be empty")
        shp = bl[0].shape
        if any(b.shape != shp for b in bl):
            raise ValueError("blocks must all have the same shape")
        self.blocks = bl
        self.ring = ring
        self.block_shape = tuple(shp)
        self.shape = (len(bl) * shp[0], len(bl) * shp[1])

    @property
    def nblocks(self) -> int:
        return len(self.blocks)

    def apply(self, X):
        self._check_ring(X)
        r, c = self.block_shape
        rows = X.to_list()
        out_rows = []
        for b, B in enumerate(self.blocks):
            chunk = DomainMatrix(rows[b * c : (b + 1) * c], (c, X.shape[1]), X.domain)
            out_rows.extend(_mm(B, chunk).to_list())
        red = self.ring.reduce
        return DomainMatrix(
            [[red(x) for x in row] for row in out_rows], (self.shape[0], X.shape[1]), X.domain
        )

    @property
    def H(self):
        out = []
        for B in self.blocks:
            rows = B.to_list()
            r, c = B.shape
            out.append([[self.ring.conj(rows[i][j]) for i in range(r)] for j in range(c)])
        return ExactBlockDiagonal(out, self.ring)

    def conj(self):
        return ExactBlockDiagonal(
            [[[self.ring.conj(x) for x in row] for row in B.to_list()] for B in self.blocks],
            self.ring,
        )

    def lifted(self, ring):
        if ring is self.ring:
            return self
        return ExactBlockDiagonal(
            [
                [[lift_element(x, self.ring, ring) for x in row] for row in B.to_list()]
                for B in self.blocks
            ],
            ring,
        )


class ExactMonarch(ExactMatrix):
    """The Monarch matrix (four-step multiply of the module docstring) with exact blocks ``L`` (``l`` of ``s x r``) and ``R``
    (``k`` of ``q x p``), ``l r == k q``.

    ``apply`` runs the four steps literally; :meth:`factors` gives
    ``(P_out, diag(L), P_mid, diag(R))`` and :attr:`H` is the structured adjoint.

    Examples
    --------
    >>> from structmat.exact import ExactRing, ExactMonarch
    >>> K = ExactRing()
    >>> I2 = [[1, 0], [0, 1]]
    >>> M = ExactMonarch([I2, I2], [I2, I2], K)   # P I P^T I = identity
    >>> M.to_dense() == ExactMonarch.identity(4, K).to_dense()
    True
    """

    def __init__(self, L: Any, R: Any, ring: ExactRing):
        self.ring = ring
        self.L_terms: Any = None
        self.R_terms: Any = None
        self._Lbd = self._Rbd = None
        if _is_rootsum(L) or _is_rootsum(R):
            if not (_is_rootsum(L) and _is_rootsum(R)):
                raise TypeError("L and R must both be closed forms (RootSum) or both be blocks")
            for name, t in (("L", L), ("R", R)):
                if len(t.shape) != 3:
                    raise ValueError(f"{name} must have shape (blocks, rows, cols); got {t.shape}")
                need = rootsum_conductor(t)
                if ring.N % need:
                    raise ValueError(
                        f"{name} needs a ring conductor multiple of {need}; got {ring.N}"
                    )
            self.L_terms, self.R_terms = L, R
            l, s_, r = L.shape
            k, q, p = R.shape
        else:
            self._Lbd = L if isinstance(L, ExactBlockDiagonal) else ExactBlockDiagonal(L, ring)
            self._Rbd = R if isinstance(R, ExactBlockDiagonal) else ExactBlockDiagonal(R, ring)
            if self._Lbd.ring is not ring or self._Rbd.ring is not ring:
                raise TypeError("L and R must be over the given ring")
            l, (s_, r) = self._Lbd.nblocks, self._Lbd.block_shape
            k, (q, p) = self._Rbd.nblocks, self._Rbd.block_shape
        if l * r != k * q:
            raise ValueError(
                f"middle dimensions differ: L has l*r = {l}*{r} but R has k*q = {k}*{q}"
            )
        self.geometry = (k, q, p, l, s_, r)
        self.shape = (l * s_, k * p)
        self.P_mid = ExactPermutation(stride_permutation(r, l), ring)
        self.P_out = ExactPermutation(stride_permutation(l, s_), ring)

    @property
    def Lbd(self) -> ExactBlockDiagonal:
        """``L`` as an :class:`ExactBlockDiagonal` (built from the closed form on first use)."""
        if self._Lbd is None:
            self._Lbd = ExactBlockDiagonal(rootsum_entries(self.L_terms, self.ring), self.ring)
        return self._Lbd

    @property
    def Rbd(self) -> ExactBlockDiagonal:
        """``R`` as an :class:`ExactBlockDiagonal` (built from the closed form on first use)."""
        if self._Rbd is None:
            self._Rbd = ExactBlockDiagonal(rootsum_entries(self.R_terms, self.ring), self.ring)
        return self._Rbd

    @property
    def has_terms(self) -> bool:
        """Whether the blocks are held as closed-form arrays of sums of roots of unity."""
        return self.L_terms is not None

    def conj(self) -> ExactMonarch:
        """The entrywise complex conjugate (a Monarch of the same geometry)."""
        if self.has_terms:
            return ExactMonarch(self.L_terms.conj(), self.R_terms.conj(), self.ring)
        return ExactMonarch(self.Lbd.conj(), self.Rbd.conj(), self.ring)

    def lifted(self, ring: ExactRing) -> ExactMonarch:
        """The same matrix over ``ring`` (a larger conductor and/or more symbols)."""
        if ring is self.ring:
            return self
        if self.has_terms:
            return ExactMonarch(self.L_terms, self.R_terms, ring)
        return ExactMonarch(self.Lbd.lifted(ring), self.Rbd.lifted(ring), ring)

    @classmethod
    def identity(cls, n: int, ring: ExactRing, nblocks: int | None = None) -> ExactMonarch:
        """The identity as a Monarch matrix with ``nblocks`` blocks (default ``sqrt(n)``)."""
        b = math.isqrt(n) if nblocks is None else int(nblocks)
        if b < 1 or n % b or (nblocks is None and b * b != n):
            raise ValueError(f"n={n}: nblocks must divide n (default sqrt(n) needs a square n)")
        q = n // b
        eyeR = [[[1 if i == j else 0 for j in range(b)] for i in range(b)] for _ in range(q)]
        eyeL = [[[1 if i == j else 0 for j in range(q)] for i in range(q)] for _ in range(b)]
        return cls(eyeL, eyeR, ring)

    @property
    def L(self) -> list:
        return self.Lbd.blocks

    @property
    def R(self) -> list:
        return self.Rbd.blocks

    def factors(self) -> tuple:
        """``(P_out, diag(L), P_mid, diag(R))`` with ``M = P_out diag(L) P_mid diag(R)``."""
        return (self.P_out, self.Lbd, self.P_mid, self.Rbd)

    def apply(self, X):
        self._check_ring(X)
        k, q, p, l, s, r = self.geometry
        ncol = X.shape[1]
        rows = X.to_list()
        red = self.ring.reduce
        # step 1: u[a, i] = sum_j R[a, i, j] x[a p + j]  -> rows t = a q + i
        U = []
        for a, Ra in enumerate(self.R):
            chunk = DomainMatrix(rows[a * p : (a + 1) * p], (p, ncol), X.domain)
            U.extend(_mm(Ra, chunk).to_list())
        # step 2: v[b, c] = u[c l + b]
        # step 3: w[b, d] = sum_c L[b, d, c] v[b, c]
        W = []
        for b, Lb in enumerate(self.L):
            V = DomainMatrix([U[c * l + b] for c in range(r)], (r, ncol), X.domain)
            W.append(_mm(Lb, V).to_list())
        # step 4: y[d l + b] = w[b, d]
        Y = [[red(x) for x in W[b][d]] for d in range(s) for b in range(l)]
        return DomainMatrix(Y, (l * s, ncol), X.domain)

    @property
    def H(self):
        if getattr(self, "_H", None) is None:
            self._H = ExactProduct(self.Rbd.H, self.P_mid.H, self.Lbd.H, self.P_out.H)
        return self._H

    def entry_formula(self, row: int, col: int):
        """``M[row, col]`` from the entry view of the Monarch multiply:
        ``M[d l + b, a p + j] = sum_{i : (a q + i) mod l = b} L[b, d, (a q + i) div l] R[a, i, j]``.
        """
        k, q, p, l, s, r = self.geometry
        d, b = divmod(row, l)
        a, j = divmod(col, p)
        total = self.ring.zero
        for i in range(q):
            t = a * q + i
            if t % l == b:
                total += self.L[b].to_list()[d][t // l] * self.R[a].to_list()[i][j]
        return self.ring.reduce(total)


class ExactProduct(ExactMatrix):
    """``A_1 @ A_2 @ ... @ A_k``, applied factor by factor (right to left).

    Examples
    --------
    >>> from structmat.exact import ExactRing, ExactPermutation
    >>> K = ExactRing()
    >>> P = ExactPermutation([1, 2, 0], K)
    >>> (P @ P @ P).to_dense() == ExactPermutation([0, 1, 2], K).to_dense()
    True
    """

    def __init__(self, *factors: ExactMatrix):
        flat: list[ExactMatrix] = []
        for f in factors:
            if not isinstance(f, ExactMatrix):
                raise TypeError(f"factors must be ExactMatrix objects; got {type(f).__name__}")
            flat.extend(f.factors_list if isinstance(f, ExactProduct) else [f])
        if not flat:
            raise ValueError("ExactProduct needs at least one factor")
        ring = flat[0].ring
        for i, f in enumerate(flat):
            if f.ring is not ring:
                raise TypeError(f"factor {i} is over a different ring")
        for i in range(len(flat) - 1):
            if flat[i].shape[1] != flat[i + 1].shape[0]:
                raise ValueError(
                    f"factor shapes do not chain: factor {i} is {flat[i].shape} and factor "
                    f"{i + 1} is {flat[i + 1].shape}"
                )
        self.factors_list: list = flat
        self.ring = ring
        self.shape = (flat[0].shape[0], flat[-1].shape[1])

    def apply(self, X):
        self._check_ring(X)
        for f in reversed(self.factors_list):
            X = f.apply(X)
        return X

    @property
    def H(self):
        return ExactProduct(*[f.H for f in reversed(self.factors_list)])

    @property
    def factors(self) -> tuple:
        """The factors, left to right."""
        return tuple(self.factors_list)

    @property
    def form(self) -> str | None:
        """The factor classes spelled as in :attr:`structmat.Product.form` (``"M"`` Monarch,
        ``"M*"`` adjoint of one, ``"P"`` permutation, ``"D"`` diagonal), or ``None`` when
        another kind of factor occurs."""
        tokens = [_token(f) for f in self.factors_list]
        return None if None in tokens else "".join(t for t in tokens if t is not None)

    def conj(self):
        return ExactProduct(*[f.conj() for f in self.factors_list])

    def lifted(self, ring):
        if ring is self.ring:
            return self
        return ExactProduct(*[f.lifted(ring) for f in self.factors_list])


class ExactAdjoint(ExactMatrix):
    """The conjugate transpose ``Aᴴ`` of an exact matrix, kept as one factor (``"M*"`` in a form
    when ``A`` is an :class:`ExactMonarch`).

    Examples
    --------
    >>> from structmat.exact import ExactRing, ExactMonarch, ExactAdjoint
    >>> K = ExactRing(4)
    >>> M = ExactMonarch([[[1, K.zeta(1)]]] * 2, [[[1], [1]]] * 2, K)
    >>> A = ExactAdjoint(M)
    >>> A.shape, A.to_dense() == M.H.to_dense()
    ((2, 2), True)
    """

    def __init__(self, base: ExactMatrix):
        if not isinstance(base, ExactMatrix):
            raise TypeError(f"base must be an ExactMatrix; got {type(base).__name__}")
        self.base = base
        self.ring = base.ring
        self.shape = (base.shape[1], base.shape[0])

    def apply(self, X):
        self._check_ring(X)
        return self.base.H.apply(X)

    @property
    def H(self):
        return self.base

    def conj(self):
        return ExactAdjoint(self.base.conj())

    def lifted(self, ring):
        return self if ring is self.ring else ExactAdjoint(self.base.lifted(ring))


def _token(f: ExactMatrix) -> str | None:
    if isinstance(f, ExactAdjoint) and isinstance(f.base, ExactMonarch):
        return "M*"
    if isinstance(f, ExactMonarch):
        return "M"
    if isinstance(f, ExactPermutation):
        return "P"
    if isinstance(f, ExactDiagonal):
        return "D"
    return None
