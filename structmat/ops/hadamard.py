"""The Walsh–Hadamard transform in Sylvester order."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from .. import _backend as B
from ..base import StructuredMatrix, check_size, nominal_dtype

__all__ = ["Hadamard"]


_RADIX_BITS = 4  # apply H_16 blocks: log2(n)/4 small GEMM passes instead of log2(n) passes


def _small_hadamard(xp, c: int, dtype, device=None):
    """Sylvester's ``H_c``, entry ``(-1)^popcount(i & j)``, as a new array of ``xp``."""
    idx = np.arange(c)
    parity = np.bitwise_count(np.bitwise_and(idx[:, None], idx[None, :])) & 1
    return xp.asarray(1.0 - 2.0 * parity, dtype=dtype, device=device)


@functools.lru_cache(maxsize=32)
def _radix_block(c: int, dtype: np.dtype) -> np.ndarray:
    """``H_c`` for one radix pass of :func:`_fwht` on NumPy operands, built once per size and
    dtype (building it took about 25 us, most of ``Hadamard(256) @ x``); read-only, and never
    handed out."""
    H = _small_hadamard(np, c, dtype)
    H.setflags(write=False)
    return H


def _fwht(xp, X, n: int, axis: int):
    """Fast Walsh–Hadamard transform of ``X`` (2-D) along ``axis``, O(n log n) per vector.

    Sylvester's H_n is the Kronecker power of H_2, so it factors as
    H_n = H_{c_1} ⊗ ... ⊗ H_{c_t} with every c_i <= 16; each factor is applied as one batched
    GEMM with a constant 16x16 (or smaller) matrix on a reshaped view.  Written by hand because
    neither NumPy nor SciPy has a fast Walsh–Hadamard transform; the radix-16 passes keep the
    work in BLAS instead of log2(n) elementwise passes.
    """
    if n == 1:
        return X
    shape = X.shape
    if axis == 0:
        pre_total, post_total = 1, shape[1]
    else:
        pre_total, post_total = shape[0], 1
    bits = n.bit_length() - 1
    done = 0  # bits of the index already transformed (least significant first)
    while done < bits:
        t = min(_RADIX_BITS, bits - done)
        c = 1 << t
        inner = 1 << done  # index bits below this chunk
        outer = n // (inner * c)  # index bits above it
        if B.is_numpy(xp):
            Hc = _radix_block(c, X.dtype)
        else:
            Hc = _small_hadamard(xp, c, X.dtype, device=B.device_of(X))
        V = xp.reshape(X, (pre_total * outer, c, inner * post_total))
        X = xp.reshape(xp.matmul(Hc, V), shape)
        done += t
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
            raise ValueError(
                f"n must be a power of 2 (1, 2, 4, 8, ...) for a Hadamard matrix; got {n}"
            )
        if norm not in (None, "ortho"):
            raise ValueError(f"norm must be None or 'ortho'; got {norm!r}")
        self.n = n
        self.norm = norm
        self._shape = (n, n)
        self._dtype = nominal_dtype(dtype)

    def _compute_dtype(self, xp, x_dtype):
        return B.float_dtype_for(xp, x_dtype)

    def _scale(self, xp, Y):
        if self.norm == "ortho":
            return Y * (1.0 / math.sqrt(self.n))
        return Y

    def _mul_cols(self, X):
        xp = B.get_namespace(X)
        return self._scale(xp, _fwht(xp, X, self.n, axis=0))

    def _mul_rows(self, X):
        xp = B.get_namespace(X)
        return self._scale(xp, _fwht(xp, X, self.n, axis=1))

    def _transpose(self):
        return self

    def _adjoint(self):
        return self

    def _conj(self):
        return self

    def _dense(self, xp):
        n = self.n
        # Sylvester entry: (-1)^{popcount(i & j)}
        H = _small_hadamard(xp, n, getattr(xp, self._dtype.name))
        if self.norm == "ortho":
            H = H * (1.0 / math.sqrt(n))
        return H

    @property
    def nparams(self) -> int:
        return 0

    def flops(self, batch: int = 1) -> int:
        n = self.n
        return n * (n.bit_length() - 1) * batch

    def _repr_extra(self) -> str:
        return f", norm={self.norm!r}" if self.norm else ""
