"""Helpers of the Monarch forms: the admissible splits ``n = k p`` (through
:mod:`structmat.geometry`), the namespace and dtype of the factors, and small factor builders.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .. import _backend as B
from ..base import Adjoint, StructuredMatrix, dtype_name
from ..geometry import divisors, split_nblocks
from ..ops import (
    Monarch,
    Permutation,
)

_SUPPORTED = (
    "DFT (composite n, any norm, inverse), Hadamard (n = 2^a >= 4), DCT/DST (types 2, 3, 4, "
    "composite n), Convolution (circular with composite n, or full), Butterfly (n >= 4), "
    "Monarch, BlockDiagonal, Permutation, Diagonal, Product, and .T/.H/.conj() of these"
)


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
