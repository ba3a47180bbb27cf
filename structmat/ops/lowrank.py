"""Low-rank matrices ``A = left @ right`` kept in factored form."""

from __future__ import annotations

from typing import Any

from .. import _backend as B
from ..base import StructuredMatrix, as_param_array

__all__ = ["LowRank"]


class LowRank(StructuredMatrix):
    """The rank-``r`` matrix ``left @ right`` with ``left`` ``(m, r)`` and ``right`` ``(r, n)``.

    ``A @ X`` costs two thin GEMMs, ``2 r (m + n)`` flops per column, instead of ``2 m n``.

    Parameters
    ----------
    left : array, shape (m, r)
    right : array, shape (r, n)
        Same namespace; the dtype is their promotion.  Both are copied at construction.

    Notes
    -----
    ``nparams`` is ``r (m + n)``: every entry of both factors.  The best ``LowRank`` of a
    given rank (Eckart–Young) is :func:`structmat.explore.best_lowrank`.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.ops.lowrank import LowRank
    >>> A = LowRank(np.array([[1.0], [2.0]]), np.array([[3.0, 4.0, 5.0]]))
    >>> A.to_dense()
    array([[ 3.,  4.,  5.],
           [ 6.,  8., 10.]])
    >>> A.shape, A.rank, A.nparams
    ((2, 3), 1, 5)
    """

    def __init__(self, left: Any, right: Any):
        U, xp = as_param_array(left, "left", ndim=2)
        V, _ = as_param_array(right, "right", ndim=2, xp=xp)
        m, r = U.shape
        r2, n = V.shape
        if m == 0 or n == 0 or r == 0:
            raise ValueError(
                f"left (m, r) and right (r, n) must have nonzero sizes; got {tuple(U.shape)} "
                f"and {tuple(V.shape)}"
            )
        if r != r2:
            raise ValueError(
                f"left has {r} columns but right has {r2} rows; expected left (m, r) and "
                f"right (r, n)"
            )
        dt = xp.result_type(U.dtype, V.dtype)
        self.left = U if U.dtype == dt else xp.astype(U, dt)
        self.right = V if V.dtype == dt else xp.astype(V, dt)
        self._xp = xp
        self._dtype = dt
        self._shape = (int(m), int(n))

    @property
    def rank(self) -> int:
        """The inner dimension ``r``."""
        return int(self.left.shape[1])

    @property
    def nparams(self) -> int:
        m, n = self._shape
        return self.rank * (m + n)

    def flops(self, batch: int = 1) -> int:
        return 2 * self.nparams * batch

    def _mul_cols(self, X):
        xp = self._xp
        return xp.matmul(self.left, xp.matmul(self.right, X))

    def _mul_rows(self, X):
        xp = self._xp
        return xp.matmul(xp.matmul(X, self.left), self.right)

    def _transpose(self):
        return LowRank(self.right.T, self.left.T)

    def _adjoint(self):
        xp = self._xp
        return LowRank(xp.conj(self.right.T), xp.conj(self.left.T))

    def _conj(self):
        if not self._is_complex():
            return self
        xp = self._xp
        return LowRank(xp.conj(self.left), xp.conj(self.right))

    def to_backend(self, xp):
        ns = B.resolve_xp(xp)
        return LowRank(B.move(self.left, ns), B.move(self.right, ns))

    def _repr_extra(self) -> str:
        return f", rank={self.rank}"
