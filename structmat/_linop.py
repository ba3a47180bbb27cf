"""SciPy's ``LinearOperator`` protocol on every structured matrix (``matvec``, ``rmatvec``,
``rmatmat`` with SciPy's meanings, and an explicit ``aslinearoperator`` view)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import _backend as B
from ._validate import (
    _to_numpy_dtype,
)

if TYPE_CHECKING:
    from .base import StructuredMatrix


# -- SciPy's LinearOperator protocol --------------------------------------------------------
def _scipy_vector(self: StructuredMatrix, x, n: int, name: str):
    """Validate a SciPy-style vector: shape ``(n,)`` or ``(n, 1)``."""
    shape = tuple(getattr(x, "shape", np.shape(x)))
    if shape not in ((n,), (n, 1)):
        raise ValueError(f"{name} must have shape ({n},) or ({n}, 1); got {shape}")
    return shape


def matvec(self: StructuredMatrix, x):
    """``A @ x`` for a vector ``x`` of shape ``(n_in,)`` or ``(n_in, 1)`` (SciPy's meaning).

    With :meth:`rmatvec`, :meth:`rmatmat`, :attr:`shape` and :attr:`dtype` this makes every
    matrix usable where SciPy expects a linear operator:
    ``scipy.sparse.linalg.aslinearoperator(A)``, ``lsqr(A, b)``, ``gmres(A, b)``,
    ``svds(A, k)``.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Diagonal
    >>> Diagonal(np.array([1.0, 2.0])).matvec(np.ones((2, 1)))
    array([[1.],
           [2.]])
    """
    self._scipy_vector(x, self._shape[1], "x")
    return self.matmat(x)


def rmatvec(self: StructuredMatrix, x):
    """``A^H @ x`` (conjugate transpose) for ``x`` of shape ``(n_out,)`` or ``(n_out, 1)``.

    SciPy's meaning; for the plain row product ``x @ A`` use ``x @ A`` or :meth:`rmatmul`.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import DFT
    >>> bool(np.allclose(DFT(4).rmatvec(np.ones(4)), [4, 0, 0, 0]))
    True
    """
    self._scipy_vector(x, self._shape[0], "x")
    return self.H.matmat(x)


def rmatmat(self: StructuredMatrix, X):
    """``A^H @ X`` (conjugate transpose) for ``X`` of shape ``(n_out, k)`` (SciPy's meaning).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Diagonal
    >>> Diagonal(np.array([1j, 2.0])).rmatmat(np.ones((2, 1)))
    array([[0.-1.j],
           [2.+0.j]])
    """
    shape = tuple(getattr(X, "shape", np.shape(X)))
    if len(shape) != 2 or shape[0] != self._shape[0]:
        raise ValueError(f"X must have shape ({self._shape[0]}, k); got {shape}")
    return self.H.matmat(X)


def aslinearoperator(self: StructuredMatrix):
    """A :class:`scipy.sparse.linalg.LinearOperator` view (NumPy backend only).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import DFT
    >>> op = DFT(4).aslinearoperator()
    >>> np.allclose(op.matvec(np.ones(4)), [4, 0, 0, 0])
    True
    """
    from scipy.sparse.linalg import LinearOperator

    if self._xp is not None and not B.is_numpy(self._xp):
        raise TypeError(
            f"aslinearoperator needs NumPy parameters; {type(self).__name__} has "
            f"{B.namespace_name(self._xp)} ones"
        )
    A = self
    AH = self.H
    dt = _to_numpy_dtype(self._dtype)

    class _View(LinearOperator):
        def __init__(self):
            super().__init__(dtype=dt, shape=A.shape)

        def _matvec(self, x):
            x = np.asarray(x)
            return A @ x

        def _rmatvec(self, x):
            return AH @ np.asarray(x)

        def _matmat(self, X):
            return A @ np.asarray(X)

        def _rmatmat(self, X):
            return AH @ np.asarray(X)

        def _adjoint(self):
            return AH.aslinearoperator()

    return _View()
