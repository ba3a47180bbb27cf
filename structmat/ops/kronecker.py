"""Sums of Kronecker products ``sum_i B_i ⊗ C_i``."""

from __future__ import annotations

from typing import Any

from .. import _backend as B
from ..base import StructuredMatrix, as_param_array

__all__ = ["Kronecker"]


def _kron_apply(xp, Bf, Cf, X):
    """``(sum_i Bf[i] ⊗ Cf[i]) @ X`` for ``X`` of shape ``(n1 n2, b)``.

    With ``X`` read as ``(n1, n2, b)`` the product is ``sum_i Bf[i] X C_i^T`` per column: one
    batched GEMM over the ``n2`` axis, one over the ``n1`` axis, and a sum over the terms.
    """
    r, m1, n1 = Bf.shape
    _, m2, n2 = Cf.shape
    b = X.shape[1]
    Xr = xp.reshape(X, (1, n1, n2, b))
    Z = xp.matmul(Cf[:, None, :, :], Xr)  # (r, n1, m2, b)
    Y = xp.matmul(Bf, xp.reshape(Z, (r, n1, m2 * b)))  # (r, m1, m2 b)
    return xp.reshape(xp.sum(Y, axis=0), (m1 * m2, b))


class Kronecker(StructuredMatrix):
    """``sum_{i<r} B[i] ⊗ C[i]``: a sum of ``r`` Kronecker products.

    With ``B`` of shape ``(r, m1, n1)`` and ``C`` of shape ``(r, m2, n2)`` the matrix is
    ``(m1 m2) x (n1 n2)`` with entry ``[a m2 + c, b n2 + d] = sum_i B[i, a, b] C[i, c, d]``
    (:func:`numpy.kron` order).  ``A @ X`` never forms the matrix: it costs
    ``2 r (n1 m2 n2 + m1 n1 m2)`` flops per column.

    Parameters
    ----------
    B : array, shape (r, m1, n1)
    C : array, shape (r, m2, n2)
        Same namespace and number of terms; copied at construction.

    Notes
    -----
    ``nparams`` is ``r (m1 n1 + m2 n2)``.  The best sum of ``r`` products for given factor
    shapes (Van Loan and Pitsianis, "Approximation with Kronecker products", 1993) is
    :func:`structmat.explore.best_kronecker`.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.ops.kronecker import Kronecker
    >>> Bf = np.array([[[1.0, 2.0]]])            # one term, B is 1 x 2
    >>> Cf = np.array([[[1.0], [10.0]]])         # C is 2 x 1
    >>> K = Kronecker(Bf, Cf)
    >>> bool(np.array_equal(K.to_dense(), np.kron(Bf[0], Cf[0])))
    True
    >>> K.shape, K.nterms, K.nparams
    ((2, 2), 1, 4)
    """

    def __init__(self, B: Any, C: Any):
        Bf, xp = as_param_array(B, "B", ndim=3)
        Cf, _ = as_param_array(C, "C", ndim=3, xp=xp)
        if 0 in tuple(Bf.shape) or 0 in tuple(Cf.shape):
            raise ValueError(
                f"B (r, m1, n1) and C (r, m2, n2) must have nonzero sizes; got {tuple(Bf.shape)} "
                f"and {tuple(Cf.shape)}"
            )
        if Bf.shape[0] != Cf.shape[0]:
            raise ValueError(
                f"B and C must have the same number of terms (first axis); got {Bf.shape[0]} "
                f"and {Cf.shape[0]}"
            )
        dt = xp.result_type(Bf.dtype, Cf.dtype)
        self.B = Bf if Bf.dtype == dt else xp.astype(Bf, dt)
        self.C = Cf if Cf.dtype == dt else xp.astype(Cf, dt)
        self._xp = xp
        self._dtype = dt
        _, m1, n1 = Bf.shape
        _, m2, n2 = Cf.shape
        self._shape = (int(m1 * m2), int(n1 * n2))

    @property
    def nterms(self) -> int:
        """Number of Kronecker products ``r``."""
        return int(self.B.shape[0])

    @property
    def factor_shapes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """``((m1, n1), (m2, n2))``."""
        _, m1, n1 = self.B.shape
        _, m2, n2 = self.C.shape
        return (int(m1), int(n1)), (int(m2), int(n2))

    @property
    def nparams(self) -> int:
        (m1, n1), (m2, n2) = self.factor_shapes
        return self.nterms * (m1 * n1 + m2 * n2)

    def flops(self, batch: int = 1) -> int:
        (m1, n1), (m2, n2) = self.factor_shapes
        return 2 * self.nterms * (n1 * m2 * n2 + m1 * n1 * m2) * batch

    def _mul_cols(self, X):
        return _kron_apply(self._xp, self.B, self.C, X)

    def _mul_rows(self, X):
        xp = self._xp
        Bt = xp.permute_dims(self.B, (0, 2, 1))
        Ct = xp.permute_dims(self.C, (0, 2, 1))
        return _kron_apply(xp, Bt, Ct, X.T).T

    def _transpose(self):
        xp = self._xp
        return Kronecker(xp.permute_dims(self.B, (0, 2, 1)), xp.permute_dims(self.C, (0, 2, 1)))

    def _adjoint(self):
        xp = self._xp
        return Kronecker(
            xp.conj(xp.permute_dims(self.B, (0, 2, 1))), xp.conj(xp.permute_dims(self.C, (0, 2, 1)))
        )

    def _conj(self):
        if not self._is_complex():
            return self
        xp = self._xp
        return Kronecker(xp.conj(self.B), xp.conj(self.C))

    def to_backend(self, xp):
        ns = B.resolve_xp(xp)
        return Kronecker(B.move(self.B, ns), B.move(self.C, ns))

    def _repr_extra(self) -> str:
        (m1, n1), (m2, n2) = self.factor_shapes
        return f", nterms={self.nterms}, factors=({m1}x{n1}) ⊗ ({m2}x{n2})"
