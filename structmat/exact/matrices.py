"""Structured exact matrices over an :class:`~structmat.exact.ExactRing`.

Dense exact matrices are SymPy ``DomainMatrix`` objects over the ring's polynomial domain.
Structured factors keep their structure: a permutation is an index map, a diagonal a list of
entries, a block-diagonal matrix a list of ``DomainMatrix`` blocks and a Monarch matrix its two
block lists.  ``A.apply(X)`` multiplies a dense exact ``X`` at the structured cost of ``A``
(row gathers, row scalings, one block product per block), and products of structured factors
are applied factor by factor, so exact work grows like the structured multiply.

Index conventions are those of DESIGN §3: ``(P x)[i] = x[perm[i]]``, ``BlockDiagonal`` blocks
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
from typing import Any, Sequence

import numpy as np
from sympy.polys.matrices import DomainMatrix

from .ring import ExactRing

__all__ = [
    "ExactMatrix",
    "ExactDense",
    "ExactPermutation",
    "ExactDiagonal",
    "ExactBlockDiagonal",
    "ExactMonarch",
    "ExactProduct",
    "exact_equal",
    "stride_permutation",
    "rank_at_most_one",
    "dense_from_rows",
]


# ----------------------------------------------------------------------------------------------
# dense helpers
# ----------------------------------------------------------------------------------------------

def dense_from_rows(rows: Sequence[Sequence[Any]], ring: ExactRing, shape: tuple[int, int] | None = None) -> DomainMatrix:
    """A ``DomainMatrix`` over ``ring`` from rows of ring elements (or ints/Fractions).

    Examples
    --------
    >>> from structmat.exact import ExactRing, dense_from_rows
    >>> K = ExactRing(4)
    >>> dense_from_rows([[1, K.zeta(1)], [0, 2]], K).to_list()
    [[1, z], [0, 2]]
    """
    conv = [[ring.convert(x) for x in row] for row in rows]
    if shape is None:
        shape = (len(conv), len(conv[0]) if conv else 0)
    return DomainMatrix(conv, shape, ring.domain)


def _reduce_dm(X: DomainMatrix, ring: ExactRing) -> DomainMatrix:
    rows = X.to_list()
    return DomainMatrix([[ring.reduce(x) for x in row] for row in rows], X.shape, ring.domain)


def _take_rows(X: DomainMatrix, idx: Sequence[int]) -> DomainMatrix:
    rows = X.to_list()
    return DomainMatrix([rows[i] for i in idx], (len(idx), X.shape[1]), X.domain)


def _identity(n: int, ring: ExactRing) -> DomainMatrix:
    return DomainMatrix.eye(n, ring.domain)


def stride_permutation(r: int, c: int) -> np.ndarray:
    """Index array of the stride permutation reading ``x`` as ``r x c`` and transposing.

    Equals ``structmat.Permutation.transpose_perm(r, c).perm``.

    Examples
    --------
    >>> from structmat.exact import stride_permutation
    >>> stride_permutation(2, 3).tolist()
    [0, 3, 1, 4, 2, 5]
    """
    return np.arange(r * c).reshape(r, c).T.reshape(-1)


# ----------------------------------------------------------------------------------------------
# the protocol
# ----------------------------------------------------------------------------------------------

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
    def H(self) -> "ExactMatrix":  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dense(self) -> DomainMatrix:
        """The dense exact matrix (applies the structure to the identity)."""
        return self.apply(_identity(self.shape[1], self.ring))

    def columns(self, start: int, stop: int) -> DomainMatrix:
        """Columns ``start:stop`` of the dense matrix, at the structured cost."""
        n = self.shape[1]
        eye = DomainMatrix(
            [[self.ring.one if i == j else self.ring.zero for j in range(start, stop)] for i in range(n)],
            (n, stop - start),
            self.ring.domain,
        )
        return self.apply(eye)

    def to_complex(self, values: dict | None = None) -> np.ndarray:
        """Numerical values (``complex128``) of the dense matrix, for tests and display."""
        D = self.to_dense().to_list()
        return np.array([[self.ring.evaluate(x, values) for x in row] for row in D], dtype=complex)

    def __matmul__(self, other: "ExactMatrix") -> "ExactProduct":
        if not isinstance(other, ExactMatrix):
            raise TypeError(f"can only compose with another ExactMatrix; got {type(other).__name__}")
        return ExactProduct(self, other)

    def _check_ring(self, X: DomainMatrix, what: str = "X") -> None:
        if X.domain != self.ring.domain:
            raise TypeError(f"{what} has domain {X.domain}, expected the ring's domain {self.ring.domain}")
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
        return _reduce_dm(self.M.matmul(X), self.ring)

    def to_dense(self):
        return self.M

    @property
    def H(self):
        rows = self.M.to_list()
        n, m = self.shape
        return ExactDense([[self.ring.conj(rows[i][j]) for i in range(n)] for j in range(m)], self.ring)

    @property
    def T(self):
        return ExactDense(self.M.transpose(), self.ring)


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
            chunk = DomainMatrix(rows[b * c:(b + 1) * c], (c, X.shape[1]), X.domain)
            out_rows.extend(B.matmul(chunk).to_list())
        red = self.ring.reduce
        return DomainMatrix([[red(x) for x in row] for row in out_rows], (self.shape[0], X.shape[1]), X.domain)

    @property
    def H(self):
        out = []
        for B in self.blocks:
            rows = B.to_list()
            r, c = B.shape
            out.append([[self.ring.conj(rows[i][j]) for i in range(r)] for j in range(c)])
        return ExactBlockDiagonal(out, self.ring)


class ExactMonarch(ExactMatrix):
    """The Monarch matrix of DESIGN §3 with exact blocks ``L`` (``l`` of ``s x r``) and ``R``
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

    def __init__(self, L: Sequence[Any], R: Sequence[Any], ring: ExactRing):
        self.ring = ring
        self.Lbd = L if isinstance(L, ExactBlockDiagonal) else ExactBlockDiagonal(L, ring)
        self.Rbd = R if isinstance(R, ExactBlockDiagonal) else ExactBlockDiagonal(R, ring)
        if self.Lbd.ring is not ring or self.Rbd.ring is not ring:
            raise TypeError("L and R must be over the given ring")
        l, (s, r) = self.Lbd.nblocks, self.Lbd.block_shape
        k, (q, p) = self.Rbd.nblocks, self.Rbd.block_shape
        if l * r != k * q:
            raise ValueError(
                f"middle dimensions differ: L has l*r = {l}*{r} but R has k*q = {k}*{q}"
            )
        self.geometry = (k, q, p, l, s, r)
        self.shape = (l * s, k * p)
        self.P_mid = ExactPermutation(stride_permutation(r, l), ring)
        self.P_out = ExactPermutation(stride_permutation(l, s), ring)

    @classmethod
    def identity(cls, n: int, ring: ExactRing, nblocks: int | None = None) -> "ExactMonarch":
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
            chunk = DomainMatrix(rows[a * p:(a + 1) * p], (p, ncol), X.domain)
            U.extend(Ra.matmul(chunk).to_list())
        # step 2: v[b, c] = u[c l + b]
        # step 3: w[b, d] = sum_c L[b, d, c] v[b, c]
        W = []
        for b, Lb in enumerate(self.L):
            V = DomainMatrix([U[c * l + b] for c in range(r)], (r, ncol), X.domain)
            W.append(Lb.matmul(V).to_list())
        # step 4: y[d l + b] = w[b, d]
        Y = [[red(x) for x in W[b][d]] for d in range(s) for b in range(l)]
        return DomainMatrix(Y, (l * s, ncol), X.domain)

    @property
    def H(self):
        return ExactProduct(self.Rbd.H, self.P_mid.H, self.Lbd.H, self.P_out.H)

    def entry_formula(self, row: int, col: int):
        """``M[row, col]`` from the entry view of DESIGN §3:
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
        self.factors_list = flat
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


# ----------------------------------------------------------------------------------------------
# comparisons
# ----------------------------------------------------------------------------------------------

def exact_equal(A: ExactMatrix, B: ExactMatrix, chunk: int = 64):
    """Exact equality of two exact matrices; returns ``(equal, first_difference)``.

    Block-diagonal pairs with the same layout are compared block by block; otherwise both
    sides are applied to ``chunk`` identity columns at a time (structured cost).  The first
    difference is ``(row, col, a, b)`` or ``None``.

    Examples
    --------
    >>> from structmat.exact import ExactRing, ExactPermutation, ExactDense, exact_equal
    >>> K = ExactRing()
    >>> exact_equal(ExactPermutation([1, 0], K), ExactDense([[0, 1], [1, 0]], K))[0]
    True
    >>> exact_equal(ExactPermutation([1, 0], K), ExactDense([[0, 1], [1, 1]], K))[1][:2]
    (1, 1)
    """
    if A.shape != B.shape:
        return False, ("shape", A.shape, B.shape)
    if A.ring is not B.ring:
        raise TypeError("A and B must be over the same ExactRing")
    ring = A.ring
    if (
        isinstance(A, ExactBlockDiagonal)
        and isinstance(B, ExactBlockDiagonal)
        and A.block_shape == B.block_shape
    ):
        r, c = A.block_shape
        for b, (X, Y) in enumerate(zip(A.blocks, B.blocks)):
            xs, ys = X.to_list(), Y.to_list()
            for i in range(r):
                for j in range(c):
                    if not ring.equal(xs[i][j], ys[i][j]):
                        return False, (b * r + i, b * c + j, xs[i][j], ys[i][j])
        return True, None
    n = A.shape[1]
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        X = A.columns(start, stop).to_list()
        Y = B.columns(start, stop).to_list()
        for i, (xr, yr) in enumerate(zip(X, Y)):
            for j, (x, y) in enumerate(zip(xr, yr)):
                if not ring.equal(x, y):
                    return False, (i, start + j, x, y)
    return True, None


def rank_at_most_one(S: Sequence[Sequence[Any]], ring: ExactRing):
    """Exact test that a matrix over the ring (an integral domain) has rank <= 1.

    With a nonzero pivot ``a = S[p, q]``: rank <= 1 iff ``S[i, j] a == S[i, q] S[p, j]`` for all
    ``i, j`` (every row is then ``S[i, q] / a`` times row ``p`` over the fraction field).
    Returns ``(True, None)`` or ``(False, (p, q, i, j, minor))`` with a nonzero 2x2 minor.

    Examples
    --------
    >>> from structmat.exact import ExactRing, rank_at_most_one
    >>> K = ExactRing()
    >>> rank_at_most_one([[1, 2], [2, 4]], K)[0]
    True
    >>> rank_at_most_one([[1, 2], [3, 4]], K)[1][-1]
    -2
    """
    rows = [[ring.convert(x) for x in row] for row in S]
    pivot = None
    for i, row in enumerate(rows):
        for j, x in enumerate(row):
            if not ring.is_zero(x):
                pivot = (i, j)
                break
        if pivot:
            break
    if pivot is None:
        return True, None
    p, q = pivot
    a = rows[p][q]
    for i, row in enumerate(rows):
        for j, x in enumerate(row):
            minor = ring.reduce(x * a - row[q] * rows[p][j])
            if minor:
                return False, (p, q, i, j, minor)
    return True, None
