"""Comparisons of exact matrices: a common ring, exact equality (chunked), and the exact rank-one
test of a slab.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .matrices import ExactBlockDiagonal, ExactMatrix
from .ring import ExactRing

__all__ = [
    "common_ring",
    "exact_equal",
    "rank_at_most_one",
]


def common_ring(*rings: ExactRing) -> ExactRing:
    """The smallest ring of this kind holding all ``rings``: conductor the lcm of theirs, symbols
    the union (in order of appearance).  Returns the first ring itself when it already does.

    Examples
    --------
    >>> from structmat.exact import ExactRing, common_ring
    >>> common_ring(ExactRing(4), ExactRing(6, ["a"])).N, common_ring(ExactRing(4), ExactRing(6, ["a"])).symbol_names
    (12, ('a',))
    """
    N = 1
    names: list[str] = []
    cplx = {r.complex_symbols for r in rings if r.symbol_names}
    if len(cplx) > 1:
        raise TypeError("cannot combine rings with real and with complex symbols")
    for r in rings:
        N = N * r.N // math.gcd(N, r.N)
        names += [x for x in r.symbol_names if x not in names]
    first = rings[0]
    if first.N == N and list(first.symbol_names) == names:
        return first
    return ExactRing(N, names, complex_symbols=bool(cplx and cplx.pop()))


def exact_equal(A: ExactMatrix, B: ExactMatrix, chunk: int = 64):
    """Exact equality of two exact matrices; returns ``(equal, first_difference)``.

    Matrices over different rings are first lifted into their :func:`common_ring`.
    Block-diagonal pairs with the same layout are compared block by block; otherwise both
    sides are applied to identity columns, one column first and then chunks doubling up to
    ``chunk`` columns (a difference near the start is found at the cost of a few matrix-vector
    products).  The first difference is ``(row, col, a, b)`` or ``None``.

    Examples
    --------
    >>> from structmat.exact import ExactRing, ExactPermutation, ExactDense, exact_equal
    >>> K = ExactRing()
    >>> exact_equal(ExactPermutation([1, 0], K), ExactDense([[0, 1], [1, 0]], K))[0]
    True
    >>> exact_equal(ExactPermutation([1, 0], K), ExactDense([[0, 1], [1, 1]], K))[1][:2]
    (1, 1)
    >>> exact_equal(ExactDense([[-1]], ExactRing(2)), ExactDense([[ExactRing(4).zeta(2)]], ExactRing(4)))[0]
    True
    """
    if A.shape != B.shape:
        return False, ("shape", A.shape, B.shape)
    if A.ring is not B.ring:
        ring = common_ring(A.ring, B.ring)
        A, B = A.lifted(ring), B.lifted(ring)
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
    start, width = 0, 1
    while start < n:
        stop = min(n, start + width)
        X = A.columns(start, stop).to_list()
        Y = B.columns(start, stop).to_list()
        for i, (xr, yr) in enumerate(zip(X, Y)):
            for j, (x, y) in enumerate(zip(xr, yr)):
                if not ring.equal(x, y):
                    return False, (i, start + j, x, y)
        start, width = stop, min(2 * width, max(1, chunk))
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
