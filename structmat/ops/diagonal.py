"""Diagonal matrices."""

from __future__ import annotations

from typing import Any

from .. import _backend as B
from ..base import StructuredMatrix, as_param_array

__all__ = ["Diagonal"]


class Diagonal(StructuredMatrix):
    """The diagonal matrix ``diag(d)``.

    Parameters
    ----------
    d : array, shape (n,)
        Diagonal entries (float32/64 or complex64/128; integers become float64).  Copied at
        construction: the matrix owns its parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Diagonal
    >>> D = Diagonal(np.array([1.0, 2.0, 3.0]))
    >>> D @ np.ones(3)
    array([1., 2., 3.])
    >>> D.nparams
    3
    >>> D @ D                     # a product of Diagonals is a Diagonal
    <3x3 Diagonal with dtype=float64>
    >>> (2 * D).d
    array([2., 4., 6.])
    """

    def __init__(self, d: Any):
        arr, xp = as_param_array(d, "d", ndim=1)
        if arr.shape[0] == 0:
            raise ValueError("d must not be empty")
        self.d = arr
        self._xp = xp
        self._dtype = arr.dtype
        n = arr.shape[0]
        self._shape = (n, n)

    @property
    def nparams(self) -> int:
        return self._shape[0]

    def flops(self, batch: int = 1) -> int:
        return self._shape[0] * batch

    def _mul_cols(self, X):
        return self.d[:, None] * X

    def _mul_rows(self, X):
        return X * self.d[None, :]

    def _transpose(self):
        return self

    def _adjoint(self):
        return self._conj()

    def _conj(self):
        if not self._is_complex():
            return self
        return Diagonal(self._xp.conj(self.d))

    def _dense(self, xp):
        n = self._shape[0]
        return xp.eye(n, dtype=self.d.dtype, device=B.device_of(self.d)) * self.d[None, :]

    def to_backend(self, xp):
        return Diagonal(B.move(self.d, B.resolve_xp(xp)))

    def _scaled(self, alpha):
        """``alpha * D`` is the Diagonal of ``alpha * d``."""
        from .sum import scale_array

        return Diagonal(scale_array(self.d, alpha))

    def _matmul_structured(self, other):
        """``D1 @ D2`` of one namespace is the Diagonal of ``d1 * d2`` (else a Product)."""
        if (
            isinstance(other, Diagonal)
            and other.shape == self.shape
            and B.namespace_name(other.xp) == B.namespace_name(self._xp)
        ):
            return Diagonal(self.d * other.d)
        return super()._matmul_structured(other)
