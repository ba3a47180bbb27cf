"""Discrete cosine and sine transforms (types 1–4), exactly as ``scipy.fft.dct/dst``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _backend as B
from ..base import StructuredMatrix, check_int, check_size, nominal_dtype

__all__ = ["DCT", "DST"]

_TRANSPOSE_TYPE = {1: 1, 2: 3, 3: 2, 4: 4}


class _Trig(StructuredMatrix):
    _kind = ""

    def __init__(self, n: int, type: int = 2, norm: str | None = None, dtype: Any = "float64"):
        self.n = check_size(n, "n")
        type = check_int(type, "type", (1, 2, 3, 4))
        if norm == "backward":
            norm = None
        if norm not in (None, "ortho"):
            raise ValueError(f"norm must be None or 'ortho'; got {norm!r}")
        if self._kind == "dct" and type == 1 and self.n < 2:
            raise ValueError("n must be >= 2 for a type-1 DCT")
        self.type = type
        self.norm = norm
        self._dtype = nominal_dtype(dtype)
        self._shape = (self.n, self.n)
        self._w, self._f = B.trig_scalings(self._kind, type, self.n, norm)

    def _compute_dtype(self, xp, x_dtype):
        return B.float_dtype_for(xp, x_dtype)

    def _mul_cols(self, X):
        xp = B.get_namespace(X)
        return B.trig(xp, X, self._kind, self.type, self.norm, axis=0)

    def _mul_rows(self, X):
        # A = diag(f) K diag(w), and K^T is the kernel of the transpose type t' (types 2 and 3
        # swap, 1 and 4 are symmetric).  With A' = diag(f') K^T diag(w') the SciPy transform of
        # type t':  X @ A = (A^T X^T)^T  and  A^T = diag(w / f') A' diag(f / w').
        xp = B.get_namespace(X)
        t2 = _TRANSPOSE_TYPE[self.type]
        w2, f2 = B.trig_scalings(self._kind, t2, self.n, self.norm)
        rdt = B.real_dtype_for(xp, X.dtype)
        pre = xp.asarray(self._f / w2, dtype=rdt, device=B.device_of(X))
        post = xp.asarray(self._w / f2, dtype=rdt, device=B.device_of(X))
        Y = B.trig(xp, X * pre, self._kind, t2, self.norm, axis=1)
        return Y * post

    def _transpose(self):
        if self.norm == "ortho":
            # orthogonal: the transpose is the inverse, the transform of the transpose type
            return type(self)(self.n, _TRANSPOSE_TYPE[self.type], self.norm, dtype=self._dtype)
        if self.type == 4 or (self._kind == "dst" and self.type == 1):
            return self  # symmetric matrices
        return super()._transpose()

    def _adjoint(self):
        return self._transpose()

    def _conj(self):
        return self

    def _dense(self, xp):
        trig_name, a, b, mfun = B.TRIG_KERNELS[(self._kind, self.type)]
        n = self.n
        m = mfun(n)
        k = np.arange(n)
        # theta = pi (k + a)(j + b) / m with 2a, 2b integers: reduce the integer numerator of
        # theta / (pi / 4m) modulo the period 8m first, so large arguments lose no accuracy
        num = np.outer(2 * k + int(2 * a), 2 * k + int(2 * b)) % (8 * m)
        theta = np.pi * num / (4 * m)
        K = np.cos(theta) if trig_name == "cos" else np.sin(theta)
        A = self._f[:, None] * K * self._w[None, :]
        return xp.asarray(A, dtype=getattr(xp, self._dtype.name))

    @property
    def nparams(self) -> int:
        return 0

    def flops(self, batch: int = 1) -> int:
        n = self.n
        return int(5 * n * max(1.0, math.log2(n)) * batch)

    def _repr_extra(self) -> str:
        norm = f", norm={self.norm!r}" if self.norm else ""
        return f", type={self.type}{norm}"


class DCT(_Trig):
    """The DCT matrix of ``scipy.fft.dct(x, type, norm=norm)`` (types 1–4).

    Parameter-free; ``A @ X`` runs ``scipy.fft.dct`` along the columns for NumPy (an exact
    FFT formula for namespaces without a DCT).  Complex operands are transformed C-linearly.

    Parameters
    ----------
    n : int
    type : {1, 2, 3, 4}
    norm : {None, "ortho"}
    dtype : dtype, optional
        Nominal dtype for :meth:`to_dense`.

    Examples
    --------
    >>> import numpy as np, scipy.fft
    >>> from structmat import DCT
    >>> x = np.arange(6.0)
    >>> bool(np.allclose(DCT(6) @ x, scipy.fft.dct(x)))
    True
    >>> bool(np.allclose(DCT(6, 3, "ortho").T.to_dense(), DCT(6, 2, "ortho").to_dense()))
    True
    """

    _kind = "dct"


class DST(_Trig):
    """The DST matrix of ``scipy.fft.dst(x, type, norm=norm)`` (types 1–4).

    Examples
    --------
    >>> import numpy as np, scipy.fft
    >>> from structmat import DST
    >>> x = np.arange(5.0)
    >>> bool(np.allclose(DST(5, type=4) @ x, scipy.fft.dst(x, type=4)))
    True
    """

    _kind = "dst"
