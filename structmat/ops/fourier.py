"""The discrete Fourier transform matrix."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _backend as B
from ..base import StructuredMatrix, check_size, nominal_dtype

__all__ = ["DFT"]

_NORMS = ("backward", "ortho", "forward")
_SWAP = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


class DFT(StructuredMatrix):
    """The DFT matrix ``F[j, k] = exp(-2 pi i j k / n)`` (``scipy.linalg.dft(n)``).

    ``F @ x`` equals ``scipy.fft.fft(x, axis=0, norm=norm)``; with ``inverse=True`` the sign of
    the exponent flips and ``F @ x`` equals ``scipy.fft.ifft(x, axis=0, norm=norm)``.
    Parameter-free: computes in the namespace of the operand through its FFT.

    Parameters
    ----------
    n : int
    norm : {None, "backward", "ortho", "forward"}
        SciPy's normalisation modes (None = "backward": the forward transform is unscaled,
        the inverse divides by ``n``; "ortho" divides both by ``sqrt(n)``).
    inverse : bool
        The inverse transform (``DFT(n).H == DFT(n, norm="forward", inverse=True)``).
    dtype : complex64 or complex128
        Nominal dtype for :meth:`to_dense`; ``A @ X`` follows the precision of ``X``
        (float32 -> complex64, like ``scipy.fft``).

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from structmat import DFT
    >>> F = DFT(8)
    >>> bool(np.allclose(F.to_dense(), scipy.linalg.dft(8)))
    True
    >>> x = np.arange(8.0)
    >>> bool(np.allclose(F.H @ (F @ x) / 8, x))
    True
    """

    def __init__(
        self, n: int, norm: str | None = None, inverse: bool = False, dtype: Any = "complex128"
    ):
        self.n = check_size(n, "n")
        if norm is None:
            norm = "backward"
        if norm not in _NORMS:
            raise ValueError(f"norm must be None, 'backward', 'ortho' or 'forward'; got {norm!r}")
        if not isinstance(inverse, (bool, np.bool_)):
            raise TypeError(f"inverse must be a bool; got {inverse!r}")
        self.norm = norm
        self.inverse = bool(inverse)
        dt = nominal_dtype(dtype, ("complex64", "complex128"))
        self._dtype = dt
        self._shape = (self.n, self.n)

    @property
    def scale(self) -> float:
        """The scalar multiplying ``exp(∓2 pi i j k / n)``."""
        n = self.n
        if self.norm == "ortho":
            return 1.0 / math.sqrt(n)
        if (self.norm == "forward") != self.inverse:
            return 1.0 / n
        return 1.0

    def _compute_dtype(self, xp, x_dtype):
        # real operands go to the FFT as they are: SciPy's FFT of real input does half the
        # work of a complex one, and returns the complex result of matching precision
        return B.float_dtype_for(xp, x_dtype)

    def _along(self, X, axis):
        xp = B.get_namespace(X)
        if self.inverse:
            return B.ifft(xp, X, axis=axis, norm=self.norm)
        return B.fft(xp, X, axis=axis, norm=self.norm)

    def _mul_cols(self, X):
        return self._along(X, 0)

    def _mul_rows(self, X):
        # F is symmetric: X @ F = (F X^T)^T is the transform of each row
        return self._along(X, 1)

    def _transpose(self):
        return self

    def _adjoint(self):
        return DFT(self.n, norm=_SWAP[self.norm], inverse=not self.inverse, dtype=self._dtype)

    def _conj(self):
        return self._adjoint()

    def _dense(self, xp):
        n = self.n
        jk = np.outer(np.arange(n), np.arange(n)) % n
        sign = 1.0 if self.inverse else -1.0
        F = np.exp(sign * 2j * np.pi * jk / n) * self.scale
        return xp.asarray(F, dtype=getattr(xp, self._dtype.name))

    @property
    def nparams(self) -> int:
        return 0

    def flops(self, batch: int = 1) -> int:
        n = self.n
        return int(5 * n * max(1.0, math.log2(n)) * batch)

    def _repr_extra(self) -> str:
        inv = ", inverse=True" if self.inverse else ""
        return f", norm={self.norm!r}{inv}"
