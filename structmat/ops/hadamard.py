"""The Walsh–Hadamard transform in Sylvester order."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _backend as B
from ..base import StructuredMatrix, check_size

__all__ = ["Hadamard"]


def _fwht_rows(xp, X, n: int):
    """Fast Walsh–Hadamard transform of each row of ``X`` (shape ``(N, n)``), O(n log n) each.

    Each pass combines the pairs that differ in one bit of the index; after all log2(n)
    passes the result is the Kronecker power of [[1, 1], [1, -1]] (Sylvester order).
    """
    N = X.shape[0]
    h = 1
    while h < n:
        V = xp.reshape(X, (N, n // (2 * h), 2, h))
        a, b = V[:, :, 0, :], V[:, :, 1, :]
        X = xp.reshape(xp.stack([a + b, a - b], axis=2), (N, n))
        h *= 2
    return X


class Hadamard(StructuredMatrix):
    """The ``n x n`` Hadamard matrix in Sylvester order (``scipy.linalg.hadamard(n)``).

    Parameter-free: it computes in the namespace of the operand, through a fast
    Walsh–Hadamard transform (``O(n log n)`` per vector).

    Parameters
    ----------
    n : int
        A power of 2.
    norm : {None, "ortho"}
        ``"ortho"`` scales by ``1/sqrt(n)`` (an orthogonal, symmetric involution).
    dtype : dtype, optional
        Nominal dtype for :meth:`to_dense` (default float64).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Hadamard
    >>> Hadamard(4) @ np.array([1.0, 0.0, 0.0, 0.0])
    array([1., 1., 1., 1.])
    """

    def __init__(self, n: int, norm: str | None = None, dtype: Any = "float64"):
        n = check_size(n, "n")
        if n & (n - 1):
            raise ValueError(f"n must be a power of 2 (1, 2, 4, 8, ...) for a Hadamard matrix; got {n}")
        if norm not in (None, "ortho"):
            raise ValueError(f"norm must be None or 'ortho'; got {norm!r}")
        self.n = n
        self.norm = norm
        self._shape = (n, n)
        self._dtype = np.dtype(dtype)
        B.check_float_dtype(np, self._dtype, "dtype")

    def _compute_dtype(self, xp, x_dtype):
        return B.float_dtype_for(xp, x_dtype)

    def _scale(self, xp, Y):
        if self.norm == "ortho":
            return Y * (1.0 / math.sqrt(self.n))
        return Y

    def _matmat(self, X):
        xp = B.get_namespace(X)
        return self._scale(xp, _fwht_rows(xp, X.T, self.n).T)

    def _rmatmat(self, X):
        xp = B.get_namespace(X)
        return self._scale(xp, _fwht_rows(xp, X, self.n))

    def _transpose(self):
        return self

    def _adjoint(self):
        return self

    def _conj(self):
        return self

    def _dense(self, xp):
        n = self.n
        idx = np.arange(n)
        # Sylvester entry: (-1)^{popcount(i & j)}
        bits = np.bitwise_and(idx[:, None], idx[None, :])
        parity = np.zeros_like(bits)
        while bits.any():
            parity ^= bits & 1
            bits >>= 1
        H = 1.0 - 2.0 * parity
        if self.norm == "ortho":
            H = H / math.sqrt(n)
        return xp.asarray(H, dtype=getattr(xp, self._dtype.name))

    @property
    def nparams(self) -> int:
        return 0

    def flops(self, batch: int = 1) -> int:
        n = self.n
        return n * (n.bit_length() - 1) * batch

    def _repr_extra(self) -> str:
        return f", norm={self.norm!r}" if self.norm else ""
