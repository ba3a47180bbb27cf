"""Operator algebra of every structured matrix: scalar multiples, sums, differences, negation
and ``astype``."""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _backend as B
from ._validate import (
    dtype_name,
    nominal_dtype,
)

if TYPE_CHECKING:
    from .base import StructuredMatrix


def _is_structured(x: Any) -> bool:
    """Whether ``x`` is a structured matrix (the marker every StructuredMatrix carries)."""
    return bool(getattr(type(x), "_structmat_operator", False))


# -- operator algebra -----------------------------------------------------------------------
def _scaled(self: StructuredMatrix, alpha) -> StructuredMatrix:
    """``alpha * A`` for a validated Python scalar; classes that absorb it override this."""
    from .ops.sum import Scaled

    return Scaled(alpha, self)


def _algebra_operand(self: StructuredMatrix, other, op: str):
    if _is_structured(other):
        return other
    if B.is_array(other) or isinstance(other, (numbers.Number, list, tuple, np.ndarray)):
        raise TypeError(
            f"A {op} {type(other).__name__}: a structured matrix {op} a scalar or dense array "
            f"is not defined; {op} takes two structured matrices of one shape (wrap a "
            f"dense array, e.g. as BlockDiagonal(X[None]), or a multiple of the identity as "
            f"Diagonal(c * ones))"
        )
    return None


def __mul__(self: StructuredMatrix, alpha):
    """``A * alpha``: the scalar multiple (``alpha`` a Python/NumPy number).

    ``A * X`` for an array or a structured ``X`` raises ``TypeError``: there is no
    entrywise product; ``A @ X`` is the matrix product.
    """
    if _is_structured(alpha) or B.is_array(alpha) and bool(getattr(alpha, "ndim", 0)):
        raise TypeError(
            f"A * {type(alpha).__name__}: only scalar multiples are defined for structured "
            f"matrices; use A @ X for the matrix product"
        )
    from .ops.sum import check_scalar

    return self._scaled(check_scalar(alpha, "alpha"))


def __rmul__(self: StructuredMatrix, alpha):
    return self.__mul__(alpha)


def __truediv__(self: StructuredMatrix, alpha):
    """``A / alpha``: the scalar multiple by ``1 / alpha``."""
    from .ops.sum import check_scalar

    if _is_structured(alpha) or B.is_array(alpha) and bool(getattr(alpha, "ndim", 0)):
        raise TypeError(f"A / {type(alpha).__name__}: only division by a scalar is defined")
    value = check_scalar(alpha, "alpha")
    if value == 0:
        raise ValueError("alpha must be nonzero in A / alpha; got 0")
    return self._scaled(1 / value)


def __neg__(self: StructuredMatrix):
    return self._scaled(-1)


def __pos__(self: StructuredMatrix):
    return self


def __add__(self: StructuredMatrix, other):
    """``A + B``: the lazy :class:`~structmat.ops.sum.Sum` of two structured matrices."""
    other = self._algebra_operand(other, "+")
    if other is None:
        return NotImplemented
    from .ops.sum import Sum

    return Sum(self, other)


def __radd__(self: StructuredMatrix, other):
    other = self._algebra_operand(other, "+")
    if other is None:
        return NotImplemented
    from .ops.sum import Sum

    return Sum(other, self)


def __sub__(self: StructuredMatrix, other):
    """``A - B`` = ``Sum(A, -B)``."""
    other = self._algebra_operand(other, "-")
    if other is None:
        return NotImplemented
    from .ops.sum import Sum

    return Sum(self, -other)


def __rsub__(self: StructuredMatrix, other):
    other = self._algebra_operand(other, "-")
    if other is None:
        return NotImplemented
    from .ops.sum import Sum

    return Sum(other, -self)


def astype(self: StructuredMatrix, dtype: Any) -> StructuredMatrix:
    """The same matrix with entries of ``dtype`` (a copy; parameters cast, classes kept).

    Parameters
    ----------
    dtype : {"float32", "float64", "complex64", "complex128"} or a NumPy dtype
        Casting a complex matrix to a real dtype raises ``TypeError`` (it would drop the
        imaginary parts).  A real matrix cast to a complex dtype gets complex parameters;
        in a complex tree (a product of real and complex factors) every leaf keeps its
        kind and takes the precision of ``dtype``.  Parameter-free classes change their
        nominal dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Diagonal, DFT
    >>> Diagonal(np.array([1.0, 2.0])).astype("float32").d.dtype
    dtype('float32')
    >>> (DFT(4) @ Diagonal(np.ones(4))).astype("complex64").dtype
    dtype('complex64')
    """
    target = nominal_dtype(dtype, what="dtype")
    current = np.dtype(dtype_name(self._dtype))
    if current.kind == "c" and target.kind != "c":
        raise TypeError(
            f"dtype {target.name} would discard the imaginary parts of a {current.name} "
            f"matrix; cast to complex64 or complex128"
        )
    from .base import _cast_tree  # defined beside Product, which it rebuilds

    return _cast_tree(
        self,
        target.itemsize // (2 if target.kind == "c" else 1) * 8,
        to_complex=current.kind != "c" and target.kind == "c",
    )
