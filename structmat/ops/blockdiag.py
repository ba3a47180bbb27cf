"""Block-diagonal matrices with equal (possibly rectangular) blocks."""

from __future__ import annotations

from typing import Any

from .. import _backend as B
from ..base import StructuredMatrix, as_param_array

__all__ = ["BlockDiagonal"]


class BlockDiagonal(StructuredMatrix):
    """``diag(blocks[0], ..., blocks[nb-1])`` with ``blocks`` of shape ``(nb, rows, cols)``.

    The matrix is ``(nb*rows) x (nb*cols)``; ``A @ X`` is one batched GEMM.

    Parameters
    ----------
    blocks : array, shape (nblocks, rows, cols)
        Copied at construction: the matrix owns its parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import BlockDiagonal
    >>> A = BlockDiagonal(np.arange(8.0).reshape(2, 2, 2))
    >>> A.to_dense()
    array([[0., 1., 0., 0.],
           [2., 3., 0., 0.],
           [0., 0., 4., 5.],
           [0., 0., 6., 7.]])
    """

    def __init__(self, blocks: Any):
        arr, xp = as_param_array(blocks, "blocks", ndim=3)
        nb, r, c = arr.shape
        if nb == 0 or r == 0 or c == 0:
            raise ValueError(
                f"blocks must have a nonzero shape (nblocks, rows, cols); got {tuple(arr.shape)}"
            )
        self.blocks = arr
        self._xp = xp
        self._dtype = arr.dtype
        self._shape = (nb * r, nb * c)

    @property
    def nblocks(self) -> int:
        return self.blocks.shape[0]

    @property
    def nparams(self) -> int:
        nb, r, c = self.blocks.shape
        return nb * r * c

    def flops(self, batch: int = 1) -> int:
        return 2 * self.nparams * batch

    def _mul_cols(self, X):
        xp = self._xp
        nb, r, c = self.blocks.shape
        Bc = X.shape[1]
        Y = xp.matmul(self.blocks, xp.reshape(X, (nb, c, Bc)))
        return xp.reshape(Y, (nb * r, Bc))

    def _mul_rows(self, X):
        xp = self._xp
        nb, r, c = self.blocks.shape
        N = X.shape[0]
        Xr = xp.permute_dims(xp.reshape(X, (N, nb, r)), (1, 0, 2))
        Y = xp.matmul(Xr, self.blocks)  # (nb, N, c)
        return xp.reshape(xp.permute_dims(Y, (1, 0, 2)), (N, nb * c))

    def _transpose(self):
        return BlockDiagonal(self._xp.permute_dims(self.blocks, (0, 2, 1)))

    def _adjoint(self):
        return BlockDiagonal(self._xp.conj(self._xp.permute_dims(self.blocks, (0, 2, 1))))

    def _conj(self):
        if not self._is_complex():
            return self
        return BlockDiagonal(self._xp.conj(self.blocks))

    def _dense(self, xp):
        nb, r, c = self.blocks.shape
        eye = xp.eye(nb, dtype=self.blocks.dtype, device=B.device_of(self.blocks))
        full = self.blocks[:, :, None, :] * eye[:, None, :, None]
        return xp.reshape(full, (nb * r, nb * c))

    def to_backend(self, xp):
        return BlockDiagonal(B.move(self.blocks, B.resolve_xp(xp)))

    def _repr_extra(self) -> str:
        nb, r, c = self.blocks.shape
        return f", nblocks={nb}, block_shape=({r}, {c})"
