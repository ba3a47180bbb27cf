"""Convolution matrices: circular (circulant) and full linear (Toeplitz) convolution."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from .. import _backend as B
from ..base import StructuredMatrix, as_param_array, check_size

__all__ = ["Convolution"]


class Convolution(StructuredMatrix):
    """Convolution with a fixed ``kernel``, applied through FFTs.

    * ``mode="circular"`` (default): the ``n x n`` circulant ``C[i, j] = c[(i - j) mod n]``,
      equal to ``scipy.linalg.circulant(c)`` (the kernel is zero-padded to ``n``).
    * ``mode="full"``: the ``(n + len(kernel) - 1) x n`` linear-convolution (Toeplitz) matrix,
      ``C @ x == numpy.convolve(c, x)``.

    The kernel is copied at construction (the matrix owns it), so the FFT spectra cached on
    first use always match it, whatever the caller later writes into its own array.

    Parameters
    ----------
    kernel : array, shape (L,)
    n : int, optional
        Input length (default ``L``); circular mode needs ``n >= L``.
    mode : {"circular", "full"}

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from structmat import Convolution
    >>> c = np.array([1.0, 2.0, 3.0])
    >>> bool(np.allclose(Convolution(c).to_dense(), scipy.linalg.circulant(c)))
    True
    >>> Convolution(c, n=2, mode="full") @ np.array([1.0, 1.0])
    array([1., 3., 5., 3.])
    """

    _xp: ModuleType  # parameters always fix the namespace

    #: FFT spectra of the kernel, computed on first use (not part of the pickled state)
    _CACHES = {"_spectra": dict}

    def __init__(self, kernel: Any, n: int | None = None, mode: str = "circular"):
        c, xp = as_param_array(kernel, "kernel", ndim=1)
        L = c.shape[0]
        if L == 0:
            raise ValueError("kernel must not be empty")
        n = L if n is None else check_size(n, "n")
        if not isinstance(mode, str) or mode not in ("circular", "full"):
            raise ValueError(f"mode must be 'circular' or 'full'; got {mode!r}")
        if mode == "circular" and n < L:
            raise ValueError(f"circular mode needs n >= len(kernel) = {L}; got n = {n}")
        self.kernel = c
        self.n = n
        self.mode = mode
        self._xp = xp
        self._dtype = c.dtype
        n_out = n if mode == "circular" else n + L - 1
        self._shape = (n_out, n)
        # FFT length: the circulant size, or a fast length that avoids wrap-around
        self._nfft = n if mode == "circular" else B.next_fast_len(xp, n + L - 1)
        self._spectra: dict = {}

    def _padded(self, reverse: bool):
        """Kernel zero-padded to the FFT length; ``reverse`` gives ``c~[(-m) mod N] = c[m]``."""
        xp = self._xp
        c = self.kernel
        L = c.shape[0]
        zeros = xp.zeros(self._nfft - L, dtype=c.dtype, device=B.device_of(c))
        if not reverse:
            return xp.concat([c, zeros])
        return xp.concat([c[:1], zeros, xp.flip(c[1:])])

    def _spectrum(self, real: bool, reverse: bool, dtype):
        key = (real, reverse, dtype)  # dtypes of every namespace are hashable
        if key not in self._spectra:
            xp = self._xp
            c = xp.astype(self._padded(reverse), dtype)
            if real:
                self._spectra[key] = B.rfft(xp, c, axis=0, n=self._nfft)
            else:
                self._spectra[key] = B.fft(xp, c, axis=0)
        return self._spectra[key]

    def _conv(self, X, axis: int, reverse: bool, out_len: int):
        """Circular convolution (length ``nfft``) of ``X`` along ``axis``, first ``out_len``."""
        xp = self._xp
        N = self._nfft
        real = not B.is_complex_dtype(xp, X.dtype)
        spec = self._spectrum(real, reverse, X.dtype)
        shape = (-1, 1) if axis == 0 else (1, -1)
        spec = B.reshape(xp, spec, shape)
        if real:
            Y = B.irfft(xp, B.rfft(xp, X, axis=axis, n=N) * spec, axis=axis, n=N)
        else:
            Y = B.ifft(xp, B.fft(xp, X, axis=axis, n=N) * spec, axis=axis)
        if axis == 0:
            Y = Y[:out_len, ...]
        else:
            Y = Y[..., :out_len]
        if Y.dtype != X.dtype:
            Y = xp.astype(Y, X.dtype)
        return Y

    def _mul_cols(self, X):
        return self._conv(X, axis=0, reverse=False, out_len=self._shape[0])

    def _mul_rows(self, X):
        # X @ C = (C^T X^T)^T and C^T is the correlation with the kernel: a convolution with
        # the reversed kernel c~; without wrap-around its first n outputs are exact.
        return self._conv(X, axis=1, reverse=True, out_len=self.n)

    def _transpose(self):
        if self.mode == "circular":
            return Convolution(self._padded(reverse=True), n=self.n, mode="circular")
        return super()._transpose()

    def _conj(self):
        if not self._is_complex():
            return self
        return Convolution(self._xp.conj(self.kernel), n=self.n, mode=self.mode)

    def _dense(self, xp):
        c = B.move(self.kernel, xp)
        L = c.shape[0]
        n_out, n = self._shape
        i = np.arange(n_out)[:, None]
        j = np.arange(n)[None, :]
        if self.mode == "circular":
            idx = (i - j) % n
        else:
            d = i - j
            idx = np.where((d >= 0) & (d < L), d, L)  # index L points at an appended zero
        dev = B.device_of(c)
        c_ext = xp.concat([c, xp.zeros(max(n + 1 - L, 1), dtype=c.dtype, device=dev)])
        flat = xp.take(c_ext, xp.asarray(idx.reshape(-1), device=dev), axis=0)
        return xp.reshape(flat, (n_out, n))

    def to_backend(self, xp):
        return Convolution(B.move(self.kernel, B.resolve_xp(xp)), n=self.n, mode=self.mode)

    @property
    def nparams(self) -> int:
        return self.kernel.shape[0]

    def flops(self, batch: int = 1) -> int:
        N = self._nfft
        return int((2 * 5 * N * max(1.0, math.log2(N)) + 6 * N) * batch)

    def _repr_extra(self) -> str:
        return f", kernel_len={self.kernel.shape[0]}, mode={self.mode!r}"
