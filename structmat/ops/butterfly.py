"""Butterfly matrices (Dao et al., ICML 2019): products of butterfly factor matrices."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _backend as B
from ..base import StructuredMatrix, as_param_array, check_size, nominal_dtype

__all__ = ["Butterfly"]


def _log2_exact(n: int, name: str) -> int:
    if n < 2 or n & (n - 1):
        raise ValueError(f"{name} must be a power of 2 >= 2 (2, 4, 8, 16, ...); got {n}")
    return n.bit_length() - 1


class Butterfly(StructuredMatrix):
    """A butterfly matrix ``B = B_n B_{n/2} ... B_2`` of size ``n = 2^s``.

    The butterfly factor matrix ``B_k`` of block size ``k`` is block-diagonal with ``n/k``
    butterfly factors ``[[D1, D2], [D3, D4]]``, each ``D`` diagonal of size ``k/2``
    (Dao et al., ICML 2019).  ``B_2`` is applied first.  The multiply costs ``O(n log n)``.

    Parameters
    ----------
    twiddle : array, shape (log2(n), 2, 2, n // 2)
        ``twiddle[e]`` holds the factor of block size ``k = 2^(e+1)``: the diagonal of ``D``
        at block row ``u`` and block column ``v`` of butterfly factor ``g`` is
        ``twiddle[e, u, v, g*k//2 : (g+1)*k//2]`` (``D1 = [0, 0]``, ``D2 = [0, 1]``,
        ``D3 = [1, 0]``, ``D4 = [1, 1]``).  Copied at construction: the matrix owns its
        parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Butterfly
    >>> Bf = Butterfly.random(8, seed=0)
    >>> Bf.shape, Bf.nparams
    ((8, 8), 48)
    >>> bool(np.allclose(Bf @ np.eye(8), Bf.to_dense()))
    True
    """

    def __init__(self, twiddle: Any):
        tw, xp = as_param_array(twiddle, "twiddle", ndim=4)
        levels, two_a, two_b, half = tw.shape
        n = 2 * half
        if two_a != 2 or two_b != 2 or n < 2 or n & (n - 1) or levels != n.bit_length() - 1:
            raise ValueError(
                "twiddle must have shape (log2(n), 2, 2, n // 2) for n a power of 2 >= 2; "
                f"got {tuple(tw.shape)}"
            )
        self.twiddle = tw
        self._xp = xp
        self._dtype = tw.dtype
        self._shape = (n, n)

    @classmethod
    def random(cls, n: int, seed: Any = None, dtype: Any = "float64", xp: Any = None) -> "Butterfly":
        """A butterfly matrix with Gaussian twiddles of variance 1/2 (norm-preserving on average).

        Examples
        --------
        >>> from structmat import Butterfly
        >>> Butterfly.random(16, seed=3).twiddle.shape
        (4, 2, 2, 8)
        """
        n = check_size(n, "n")
        s = _log2_exact(n, "n")
        name = nominal_dtype(dtype).name
        rng = np.random.default_rng(seed)
        shape = (s, 2, 2, n // 2)
        tw = rng.standard_normal(shape)
        if name.startswith("complex"):
            tw = (tw + 1j * rng.standard_normal(shape)) / math.sqrt(2.0)
        tw = (tw / math.sqrt(2.0)).astype(name)
        return cls(B.resolve_xp(xp).asarray(tw))

    @property
    def n(self) -> int:
        return self._shape[0]

    @property
    def nparams(self) -> int:
        n = self.n
        return 2 * n * (n.bit_length() - 1)

    def flops(self, batch: int = 1) -> int:
        return 2 * self.nparams * batch

    def factor(self, e: int) -> "StructuredMatrix":
        """The butterfly factor matrix of block size ``2^(e+1)`` as a :class:`BlockDiagonal`."""
        from .blockdiag import BlockDiagonal

        xp = self._xp
        n = self.n
        k = 2 ** (e + 1)
        t = xp.reshape(self.twiddle[e, ...], (2, 2, n // k, k // 2))
        eye = xp.eye(k // 2, dtype=self._dtype, device=B.device_of(self.twiddle))
        # blocks[g, u*h + i, v*h + i'] = t[u, v, g, i] * [i == i']
        blk = t[:, :, :, :, None] * eye[None, None, None, :, :]          # (2, 2, g, h, h)
        blk = xp.permute_dims(blk, (2, 0, 3, 1, 4))                       # (g, u, i, v, i')
        return BlockDiagonal(xp.reshape(blk, (n // k, k, k)))

    def _levels(self, X, transpose: bool, rows: bool):
        xp = self._xp
        n = self.n
        s = n.bit_length() - 1
        order = range(s) if not rows else range(s - 1, -1, -1)
        # rows of X @ B apply the transposed factors, B_n first
        tr = transpose != rows
        if rows:
            N = X.shape[0]
        else:
            Bc = X.shape[1]
        for e in order:
            k = 2 ** (e + 1)
            h = k // 2
            t = self.twiddle[e, ...]  # explicit ellipsis: array API indexing
            if rows:
                t = xp.reshape(t, (2, 2, 1, n // k, h))
                Xv = xp.reshape(X, (N, n // k, 2, h))
                x0, x1 = Xv[:, :, 0, :], Xv[:, :, 1, :]
            else:
                t = xp.reshape(t, (2, 2, n // k, h, 1))
                Xv = xp.reshape(X, (n // k, 2, h, Bc))
                x0, x1 = Xv[:, 0, ...], Xv[:, 1, ...]
            t01, t10 = (t[1, 0, ...], t[0, 1, ...]) if tr else (t[0, 1, ...], t[1, 0, ...])
            y0 = t[0, 0, ...] * x0 + t01 * x1
            y1 = t10 * x0 + t[1, 1, ...] * x1
            if rows:
                X = xp.reshape(xp.stack([y0, y1], axis=2), (N, n))
            else:
                X = xp.reshape(xp.stack([y0, y1], axis=1), (n, Bc))
        return X

    def _mul_cols(self, X):
        return self._levels(X, transpose=False, rows=False)

    def _mul_rows(self, X):
        return self._levels(X, transpose=False, rows=True)

    def _conj(self):
        if not self._is_complex():
            return self
        return Butterfly(self._xp.conj(self.twiddle))

    def to_backend(self, xp):
        return Butterfly(B.move(self.twiddle, B.resolve_xp(xp)))
