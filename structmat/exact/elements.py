"""Exact elements and dense helpers: closed forms (``RootSum`` arrays) read as ring elements,
lifting between rings, dense exact matrices from rows, stride permutations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sympy.polys.matrices import DomainMatrix

from .ring import ExactRing

__all__ = [
    "dense_from_rows",
    "lift_element",
    "rootsum_conductor",
    "rootsum_entries",
    "stride_permutation",
]


def dense_from_rows(
    rows: Sequence[Sequence[Any]], ring: ExactRing, shape: tuple[int, int] | None = None
) -> DomainMatrix:
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


def _mm(A: DomainMatrix, B: DomainMatrix) -> DomainMatrix:
    """``A @ B`` whatever SymPy storage format (dense or sparse) each side has."""
    if A.rep.fmt != B.rep.fmt:
        A, B = A.to_dense(), B.to_dense()
    return A.matmul(B)


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


def _is_rootsum(x: Any) -> bool:
    from ..monarch_form import RootSum

    return isinstance(x, RootSum)


def rootsum_conductor(t: Any) -> int:
    """The least conductor of a ring that holds a closed-form array exactly.

    A :class:`structmat.monarch_form.RootSum` has entries ``scale · √radicand · Σ c ζ_N^e``:
    the field needs ``ζ_N`` and the square root (a Gauss sum, see
    :func:`structmat.exact.sqrt_conductor`).

    Examples
    --------
    >>> from fractions import Fraction
    >>> from structmat.monarch_form import RootSum
    >>> from structmat.exact import rootsum_conductor
    >>> rootsum_conductor(RootSum.sqrt_rational(Fraction(1, 12)))   # √3 / 6 needs Q(ζ_12)
    12
    """
    from .cyclo import sqrt_conductor

    need = sqrt_conductor(t.radicand)
    return t.N * need // math.gcd(t.N, need)


def rootsum_entries(t: Any, ring: ExactRing) -> Any:
    """Nested lists (shape ``t.shape``) of the ring elements of a closed-form array ``t``.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.monarch_form import RootSum
    >>> from structmat.exact import ExactRing, rootsum_entries
    >>> rootsum_entries(RootSum.root(np.arange(4), 4, sign=-1), ExactRing(4))
    [1, -z, -1, z]
    """
    from .cyclo import cyclotomic_sqrt

    if ring.N % rootsum_conductor(t):
        raise ValueError(
            f"the ring's conductor {ring.N} is not a multiple of {rootsum_conductor(t)}"
        )
    f = ring.N // t.N
    nz = ring.ring.ngens - 1
    tail = (0,) * nz
    QQd = ring.ring.domain
    sc = QQd(t.scale.numerator, t.scale.denominator)
    sq = None if t.radicand == 1 else cyclotomic_sqrt(t.radicand, ring)
    T = t.nterms
    E = (t.exp.reshape(T, -1) * f).T.tolist()
    C = t.coef.reshape(T, -1).T.tolist()
    from_dict, reduce = ring.ring.from_dict, ring.reduce
    out = []
    for es, cs in zip(E, C):
        d: dict = {}
        for e, c in zip(es, cs):
            if c:
                key = (e,) + tail
                d[key] = d.get(key, 0) + QQd(c) * sc
        x = reduce(from_dict({k: v for k, v in d.items() if v}))
        if sq is not None and x:
            x = reduce(x * sq)
        out.append(x)
    if not t.shape:
        return out[0]
    arr = np.empty(len(out), dtype=object)
    for i, x in enumerate(out):
        arr[i] = x
    return arr.reshape(t.shape).tolist()


def lift_element(x: Any, src: ExactRing, dst: ExactRing) -> Any:
    """``x`` of ring ``src`` as an element of ``dst`` (conductor a multiple, symbols a superset).

    Examples
    --------
    >>> from structmat.exact import ExactRing, lift_element
    >>> K4, K8 = ExactRing(4), ExactRing(8)
    >>> lift_element(K4.zeta(1), K4, K8)        # i = zeta_4 = zeta_8^2
    z**2
    """
    if src is dst:
        return x
    if src.ring == dst.ring and src.N == dst.N:
        return x
    return src.lift(x, dst)
