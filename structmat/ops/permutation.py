"""Permutation matrices."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _backend as B
from ..base import StructuredMatrix, check_size

__all__ = ["Permutation"]


class Permutation(StructuredMatrix):
    """The permutation matrix with ``(P @ x)[i] == x[perm[i]]``.

    Parameters
    ----------
    perm : array_like of int, shape (n,)
        A permutation of ``0..n-1``.  Its namespace (NumPy, CuPy, ...) is the matrix's.
    dtype : dtype, optional
        Nominal dtype (used by :meth:`to_dense`); ``A @ X`` keeps the dtype of ``X``.

    Notes
    -----
    ``P.T`` (= ``P.H``) is the inverse permutation.  :meth:`transpose_perm` builds the stride
    permutation that reads a vector as a row-major matrix and returns its transpose (the
    middle permutation of a Monarch matrix).  ``perm`` is copied at construction (the matrix
    owns it); big-endian NumPy indices are accepted.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Permutation
    >>> P = Permutation([2, 0, 1])
    >>> P @ np.array([10.0, 20.0, 30.0])
    array([30., 10., 20.])
    >>> P.T @ (P @ np.array([10.0, 20.0, 30.0]))
    array([10., 20., 30.])
    >>> (P @ P).perm                # a product of Permutations is a Permutation
    array([1, 2, 0])
    """

    _NUMPY_DTYPE = True

    def __init__(self, perm: Any, dtype: Any = "float64"):
        if isinstance(perm, StructuredMatrix):
            raise TypeError("perm must be an array of indices, not a structured matrix")
        if B.is_array(perm):
            arr = B.native_byteorder(perm)
            xp = B.get_namespace(arr)
        else:
            xp = B.resolve_xp(None)
            try:
                arr = xp.asarray(perm)
            except Exception as exc:
                raise TypeError(
                    f"perm must be an array of integers; got {type(perm).__name__}"
                ) from exc
        if not xp.isdtype(arr.dtype, "integral"):
            raise TypeError(f"perm must have an integer dtype; got {arr.dtype}")
        if arr.ndim != 1:
            raise ValueError(f"perm must be 1-D; got shape {tuple(arr.shape)}")
        if arr.shape[0] == 0:
            raise ValueError("perm must not be empty")
        n = arr.shape[0]
        arr = xp.astype(arr, xp.int64, copy=True)  # owned: later writes to perm do not leak in
        if bool(xp.any(arr < 0)) or bool(xp.any(arr >= n)):
            raise ValueError(f"perm must hold indices in [0, {n}); got values outside")
        # a permutation iff its sorted values are 0..n-1
        if bool(xp.any(xp.sort(arr) != xp.arange(n, dtype=xp.int64, device=B.device_of(arr)))):
            raise ValueError("perm must be a permutation of 0..n-1 (it has repeated indices)")
        self.perm = arr
        self._xp = xp
        self._shape = (n, n)
        try:
            self._dtype = np.dtype(dtype).newbyteorder("=")
        except TypeError as exc:
            raise TypeError(f"dtype must be a NumPy dtype or its name; got {dtype!r}") from exc
        self._inv = None

    @classmethod
    def transpose_perm(cls, r: int, c: int, xp: Any = None) -> Permutation:
        """The stride permutation: reads ``x`` as an ``r x c`` row-major array, returns its
        transpose flattened (``y = x.reshape(r, c).T.ravel()``).

        Examples
        --------
        >>> import numpy as np
        >>> from structmat import Permutation
        >>> Permutation.transpose_perm(2, 3) @ np.arange(6.0)
        array([0., 3., 1., 4., 2., 5.])
        """
        r = check_size(r, "r")
        c = check_size(c, "c")
        perm = np.arange(r * c).reshape(r, c).T.reshape(-1)
        ns = B.resolve_xp(xp)
        return cls(ns.asarray(perm))

    @property
    def inverse_perm(self):
        """The inverse permutation as an index array."""
        if self._inv is None:
            xp = self._xp
            self._inv = xp.argsort(self.perm)
        return self._inv

    def _compute_dtype(self, xp, x_dtype):
        # a permutation only moves entries: keep the operand's dtype (integers included)
        if x_dtype == getattr(xp, "float16", None):
            return B.float_dtype_for(xp, x_dtype)
        return x_dtype

    def _check_ns(self, X):
        xp = B.get_namespace(X)
        return xp

    def _mul_cols(self, X):
        xp = self._check_ns(X)
        return xp.take(X, self.perm, axis=0)

    def _mul_rows(self, X):
        xp = self._check_ns(X)
        return xp.take(X, self.inverse_perm, axis=1)

    def _transpose(self):
        P = Permutation(self.inverse_perm, dtype=self._dtype)
        P._inv = self.perm
        return P

    def _adjoint(self):
        return self._transpose()

    def _conj(self):
        return self

    def _dense(self, xp):
        n = self._shape[0]
        perm = B.move(self.perm, xp)
        eye = xp.eye(
            n, dtype=B.float_dtype_for(xp, getattr(xp, self._dtype.name)), device=B.device_of(perm)
        )
        return xp.take(eye, perm, axis=0)

    def to_backend(self, xp):
        ns = B.resolve_xp(xp)
        return Permutation(B.move(self.perm, ns), dtype=self._dtype)

    def flops(self, batch: int = 1) -> int:
        return 0

    def _matmul_structured(self, other):
        """``P1 @ P2`` of one namespace is the Permutation ``perm2[perm1]`` (else a Product).

        ``(P1 @ P2 @ x)[i] = (P2 @ x)[perm1[i]] = x[perm2[perm1[i]]]``; the nominal dtype is
        the promotion of both.
        """
        if (
            isinstance(other, Permutation)
            and other.shape == self.shape
            and B.namespace_name(other.xp) == B.namespace_name(self._xp)
        ):
            xp = self._xp
            dt = np.result_type(self._dtype, other._dtype)
            return Permutation(xp.take(other.perm, self.perm, axis=0), dtype=dt)
        return super()._matmul_structured(other)

    def _repr_extra(self) -> str:
        return ""
