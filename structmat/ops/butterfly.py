"""Butterfly matrices (Dao et al., ICML 2019): products of butterfly factor matrices."""

from __future__ import annotations

import math
from types import ModuleType
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
    """A butterfly matrix ``B = B_n B_{n/2} ... B_2`` of size ``n = 2^s`` (``B_2`` applied
    first); the multiply costs ``O(n log n)``.

    Parameters
    ----------
    twiddle : array, shape (log2(n), 2, 2, n // 2)
        ``twiddle[e]`` holds the factor of block size ``k = 2^(e+1)`` (see Notes).  Copied at
        construction: the matrix owns its parameters.

    Notes
    -----
    The butterfly factor matrix ``B_k`` of block size ``k`` is block-diagonal with ``n/k``
    butterfly factors ``[[D1, D2], [D3, D4]]``, each ``D`` diagonal of size ``k/2`` (Dao et
    al., ICML 2019).  The diagonal of ``D`` at block row ``u`` and block column ``v`` of
    butterfly factor ``g`` is ``twiddle[e, u, v, g*k//2 : (g+1)*k//2]`` (``D1 = [0, 0]``,
    ``D2 = [0, 1]``, ``D3 = [1, 0]``, ``D4 = [1, 1]``).

    Levels are fused four at a time: level ``e`` mixes rows whose indices differ in bit ``e``
    only, so four consecutive levels act as a dense ``16 x 16`` block on each group of rows,
    and each group is one batched GEMM over ``X`` instead of four elementwise passes.

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

    _xp: ModuleType  # parameters always fix the namespace

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
    def random(cls, n: int, seed: Any = None, dtype: Any = "float64", xp: Any = None) -> Butterfly:
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

    def factor(self, e: int) -> StructuredMatrix:
        """The butterfly factor matrix of block size ``2^(e+1)`` as a :class:`BlockDiagonal`."""
        from .blockdiag import BlockDiagonal

        xp = self._xp
        n = self.n
        k = 2 ** (e + 1)
        t = xp.reshape(self.twiddle[e, ...], (2, 2, n // k, k // 2))
        eye = xp.eye(k // 2, dtype=self._dtype, device=B.device_of(self.twiddle))
        # blocks[g, u*h + i, v*h + i'] = t[u, v, g, i] * [i == i']
        blk = t[:, :, :, :, None] * eye[None, None, None, :, :]  # (2, 2, g, h, h)
        blk = xp.permute_dims(blk, (2, 0, 3, 1, 4))  # (g, u, i, v, i')
        return BlockDiagonal(xp.reshape(blk, (n // k, k, k)))

    #: butterfly levels fused into one group: a dense ``2^g x 2^g`` block per index group
    _GROUP_LEVELS = 4

    def _levels(self, X, lo: int, hi: int):
        """Levels ``lo .. hi-1`` (``B_2`` first) applied to the columns of ``X`` (n, B) one by
        one, elementwise."""
        xp = self._xp
        n = self.n
        Bc = X.shape[1]
        for e in range(lo, hi):
            k = 2 ** (e + 1)
            h = k // 2
            t = xp.reshape(self.twiddle[e, ...], (2, 2, n // k, h, 1))
            Xv = xp.reshape(X, (n // k, 2, h, Bc))
            x0, x1 = Xv[:, 0, ...], Xv[:, 1, ...]
            y0 = t[0, 0, ...] * x0 + t[0, 1, ...] * x1
            y1 = t[1, 0, ...] * x0 + t[1, 1, ...] * x1
            X = xp.reshape(xp.stack([y0, y1], axis=1), (n, Bc))
        return X

    _CACHES = {"_group_cache": dict}

    def _groups(self, dtype) -> list[tuple[int, int, Any]]:
        """The fused groups ``(lo, hi, M)``: levels ``lo .. hi-1`` as the dense blocks
        ``M[h, l]`` (shape ``(H, L, P, P)``, ``P = 2^(hi-lo)``, ``L = 2^lo``) acting on the
        middle bits of the row index ``i = (h P + m) L + l``.

        Level ``e`` mixes rows whose indices differ in bit ``e`` only, so the levels of a
        group mix the ``P`` rows of each ``(h, l)`` among themselves: the group is a batch of
        small dense matrices, applied as one batched GEMM instead of ``hi - lo`` elementwise
        passes over ``X``.  Built once per matrix (the parameters are owned, so the blocks
        never go stale) by applying the levels to identity columns, in the compute ``dtype``
        (wider operands than parameters keep their precision: the blocks are products of
        several levels).
        """
        cache = self.__dict__.setdefault("_group_cache", {})
        hit = cache.get(dtype)  # dtypes of every namespace are hashable
        if hit is not None:
            return hit
        xp = self._xp
        n = self.n
        s = n.bit_length() - 1
        out = []
        for lo in range(0, s, self._GROUP_LEVELS):
            hi = min(s, lo + self._GROUP_LEVELS)
            P, L = 2 ** (hi - lo), 2**lo
            H = n // (P * L)
            eye = xp.eye(P, dtype=dtype, device=B.device_of(self.twiddle))
            Z = xp.reshape(xp.broadcast_to(eye[None, :, None, :], (H, P, L, P)), (n, P))
            Z = self._levels(Z, lo, hi)  # columns c: M[h, l][:, c]
            M = xp.permute_dims(xp.reshape(Z, (H, P, L, P)), (0, 2, 1, 3))  # [h, l, m, c]
            out.append((lo, hi, M))
        cache[dtype] = out
        return out

    def _grouped(self, X, transpose: bool):
        """``B @ X`` (or ``B^T @ X``) for columns ``X`` (n, B): one batched GEMM per group."""
        xp = self._xp
        n = self.n
        Bc = X.shape[1]
        numpy = B.is_numpy(xp)
        groups = self._groups(X.dtype)
        for _lo, _hi, M in reversed(groups) if transpose else groups:
            H, L, P = M.shape[0], M.shape[1], M.shape[2]
            if numpy:
                # BLAS reads and writes the strided views directly (row stride L B); ndarray
                # methods, not array_api_compat's wrappers (about 1 us per call)
                if transpose:
                    M = M.transpose(0, 1, 3, 2)
                Xv = X.reshape(H, P, L, Bc).transpose(0, 2, 1, 3)  # (H, L, P, B)
                Y = np.empty((n, Bc), dtype=X.dtype)
                np.matmul(M, Xv, out=Y.reshape(H, P, L, Bc).transpose(0, 2, 1, 3))
                X = Y
            else:
                if transpose:
                    M = xp.permute_dims(M, (0, 1, 3, 2))
                Xv = xp.permute_dims(xp.reshape(X, (H, P, L, Bc)), (0, 2, 1, 3))
                X = xp.reshape(xp.permute_dims(xp.matmul(M, Xv), (0, 2, 1, 3)), (n, Bc))
        return X

    def _mul_cols(self, X):
        return self._grouped(X, transpose=False)

    def _mul_rows(self, X):
        # X @ B = (B^T X^T)^T: rows become columns once, so that every group is a BLAS call
        xp = self._xp
        Xt = xp.permute_dims(X, (1, 0))
        if B.is_numpy(xp):
            Xt = np.ascontiguousarray(Xt)
        return xp.permute_dims(self._grouped(Xt, transpose=True), (1, 0))

    def _conj(self):
        if not self._is_complex():
            return self
        return Butterfly(self._xp.conj(self.twiddle))

    def to_backend(self, xp):
        return Butterfly(B.move(self.twiddle, B.resolve_xp(xp)))
