"""Lazy sums and scalar multiples of structured matrices.

:class:`Sum` holds terms of equal shape and applies each one at its own structured cost;
:class:`Scaled` is ``alpha * A`` for a Python scalar ``alpha``.  Both are what the operator
algebra of :class:`~structmat.StructuredMatrix` returns where no structure rule applies:
``M + N`` and ``M - N`` give a :class:`Sum`, ``a * M``, ``M / a`` and ``-M`` a
:class:`Scaled` (a :class:`~structmat.Monarch` or :class:`~structmat.Diagonal` absorbs the
scalar instead and stays of its class).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import _backend as B
from ..base import StructuredMatrix, dtype_in, dtype_name

__all__ = ["Sum", "Scaled", "check_scalar", "scale_array"]


def check_scalar(alpha: Any, name: str = "alpha") -> int | float | complex:
    """Validate a scalar coefficient and return it as a Python ``int``, ``float`` or ``complex``.

    Python and NumPy numbers and 0-d NumPy arrays are accepted; booleans, arrays with
    dimensions, strings and structured matrices raise ``TypeError``; NaN and Inf raise
    ``ValueError``.  Complex values with a zero imaginary part stay complex (the dtype of a
    product must not depend on the value).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.ops.sum import check_scalar
    >>> check_scalar(np.float32(0.5)), check_scalar(2), check_scalar(1j)
    (0.5, 2, 1j)
    >>> check_scalar(float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: alpha must be a finite number; got nan
    """
    value = alpha
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Number):
        raise TypeError(
            f"{name} must be a real or complex number (Python or NumPy scalar); "
            f"got {type(alpha).__name__}"
        )
    if isinstance(value, numbers.Integral):
        out: int | float | complex = int(value)
    elif isinstance(value, numbers.Real):
        out = float(value)
    else:
        out = complex(value)  # type: ignore[call-overload]  # numbers.Complex
    if not np.isfinite(out):
        raise ValueError(f"{name} must be a finite number; got {out!r}")
    return out


def scale_array(a: Any, alpha: int | float | complex) -> Any:
    """``alpha * a`` in the namespace of ``a``; a complex ``alpha`` makes a real ``a`` complex.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.ops.sum import scale_array
    >>> scale_array(np.array([1.0, 2.0], dtype=np.float32), 1j).dtype
    dtype('complex64')
    """
    xp = B.get_namespace(a)
    if isinstance(alpha, complex) and not B.is_complex_dtype(xp, a.dtype):
        a = xp.astype(a, B.complex_dtype_for(xp, a.dtype))
    return a * alpha


def _common_xp(terms, what: str):
    xps = [t.xp for t in terms if t.xp is not None]
    names = {B.namespace_name(x) for x in xps}
    if len(names) > 1:
        a, b = sorted(names)[:2]
        raise TypeError(
            f"{what} mix array namespaces: {a} and {b}; move them to one backend "
            f"first (e.g. with .to_backend(...))"
        )
    return xps[0] if xps else None


def _dtype_of(xp, names: list[str]):
    """Promoted dtype of dtype names, as a dtype of ``xp`` (NumPy when ``xp`` is None)."""
    dt = np.result_type(*[np.dtype(n) for n in names])
    if xp is None or B.is_numpy(xp):
        return np.dtype(dt.name)
    return dtype_in(xp, dt.name)


class Sum(StructuredMatrix):
    """Lazy sum ``A_1 + A_2 + ... + A_k`` of structured matrices of one shape.

    ``S @ X`` applies every term at its own structured cost and adds the results; nothing is
    materialised.  Nested sums are flattened.

    Parameters
    ----------
    *terms : StructuredMatrix
        At least one term; all of the same shape and array namespace (parameter-free terms
        such as :class:`~structmat.DFT` combine with any namespace).

    Notes
    -----
    ``S.nparams`` and ``S.flops(batch)`` are the sums over the terms (plus
    ``(k - 1) * n_out * batch`` additions); ``S.T``, ``S.H`` and ``S.conj()`` are the sums of
    the terms' transposes, adjoints and conjugates, and ``alpha * S`` the sum of the terms'
    multiples.  The dtype is the promotion of the terms'
    dtypes.  A scalar coefficient on a term is a :class:`Scaled` term, so ``A - B`` is
    ``Sum(A, Scaled(-1, B))``.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Diagonal, Hadamard
    >>> from structmat.ops.sum import Sum
    >>> S = Sum(Hadamard(2), Diagonal(np.array([1.0, 2.0])))
    >>> S @ np.array([1.0, 1.0])
    array([3., 2.])
    >>> S.T.shape, len(Sum(S, S).terms)
    ((2, 2), 4)
    """

    def __init__(self, *terms: StructuredMatrix):
        flat: list[StructuredMatrix] = []
        for i, t in enumerate(terms):
            if not isinstance(t, StructuredMatrix):
                raise TypeError(f"terms[{i}] must be a StructuredMatrix; got {type(t).__name__}")
            flat.extend(t.terms if isinstance(t, Sum) else (t,))
        if not flat:
            raise ValueError("Sum needs at least one term")
        shape = tuple(flat[0].shape)
        for i, t in enumerate(flat[1:], start=1):
            if tuple(t.shape) != shape:
                raise ValueError(
                    f"terms of a Sum must have one shape: term 0 is {shape[0]}x{shape[1]} but "
                    f"term {i} is {t.shape[0]}x{t.shape[1]}"
                )
        self._xp = _common_xp(flat, "Sum terms")
        self.terms: tuple[StructuredMatrix, ...] = tuple(flat)
        self._shape = (int(shape[0]), int(shape[1]))
        self._dtype = _dtype_of(self._xp, [dtype_name(t.dtype) for t in flat])

    @property
    def nparams(self) -> int:
        return sum(t.nparams for t in self.terms)

    def flops(self, batch: int = 1) -> int:
        adds = (len(self.terms) - 1) * self._shape[0] * batch
        return sum(t.flops(batch) for t in self.terms) + adds

    def _device(self):
        for t in self.terms:
            dev = t._device()
            if dev is not None:
                return dev
        return None

    def _compute_dtype(self, xp, x_dtype):
        dt = B.float_dtype_for(xp, x_dtype)
        for t in self.terms:
            dt = xp.result_type(dt, t._compute_dtype(xp, dt))
        return dt

    def _mul_cols(self, X):
        Y = self.terms[0]._apply(X)
        for t in self.terms[1:]:
            Y = Y + t._apply(X)
        return Y

    def _mul_rows(self, X):
        Y = self.terms[0]._rapply(X)
        for t in self.terms[1:]:
            Y = Y + t._rapply(X)
        return Y

    def _transpose(self):
        return Sum(*[t.T for t in self.terms])

    def _adjoint(self):
        return Sum(*[t.H for t in self.terms])

    def _conj(self):
        return Sum(*[t.conj() for t in self.terms])

    def to_backend(self, xp):
        ns = B.resolve_xp(xp)
        return Sum(*[t.to_backend(ns) for t in self.terms])

    def _scaled(self, alpha):
        # alpha (A + B) = alpha A + alpha B: terms that absorb a scalar keep their class
        return Sum(*[t._scaled(alpha) for t in self.terms])

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._xp = _common_xp(self.terms, "Sum terms")
        self._dtype = _dtype_of(self._xp, [dtype_name(t.dtype) for t in self.terms])

    def _repr_extra(self) -> str:
        return ", terms=" + " + ".join(type(t).__name__ for t in self.terms)


class Scaled(StructuredMatrix):
    """The scalar multiple ``alpha * A`` of a structured matrix, applied lazily.

    Parameters
    ----------
    alpha : int, float or complex
        A finite scalar (Python or NumPy number).  A complex ``alpha`` makes the matrix
        complex.
    base : StructuredMatrix
        The matrix ``A``.

    Notes
    -----
    ``nparams`` is ``base.nparams + 1`` (the scalar is stored); ``flops`` adds one multiply
    per output entry.  ``.T`` is ``Scaled(alpha, A.T)``, ``.H`` and ``.conj()`` carry
    ``conj(alpha)``.  ``alpha * A`` returns this class only where ``A`` has no structured
    scalar multiple of its own (a Monarch, Diagonal or BlockDiagonal absorbs the scalar).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Hadamard
    >>> from structmat.ops.sum import Scaled
    >>> S = Scaled(0.5, Hadamard(2))
    >>> S @ np.array([1.0, 1.0])
    array([1., 0.])
    >>> S.alpha, S.nparams
    (0.5, 1)
    """

    def __init__(self, alpha: Any, base: StructuredMatrix):
        if not isinstance(base, StructuredMatrix):
            raise TypeError(f"base must be a StructuredMatrix; got {type(base).__name__}")
        self.alpha = check_scalar(alpha, "alpha")
        self.base = base
        self._init_derived()

    def _init_derived(self) -> None:
        self._xp = self.base.xp
        n_out, n_in = self.base.shape
        self._shape = (int(n_out), int(n_in))
        name = dtype_name(self.base.dtype)
        if isinstance(self.alpha, complex):
            name = np.result_type(np.dtype(name), np.complex64).name
        self._dtype = _dtype_of(self._xp, [name])

    @property
    def nparams(self) -> int:
        return self.base.nparams + 1

    def flops(self, batch: int = 1) -> int:
        return self.base.flops(batch) + self._shape[0] * batch

    def _device(self):
        return self.base._device()

    def _compute_dtype(self, xp, x_dtype):
        dt = self.base._compute_dtype(xp, B.float_dtype_for(xp, x_dtype))
        if isinstance(self.alpha, complex):
            dt = B.complex_dtype_for(xp, dt)
        return dt

    def _mul_cols(self, X):
        return scale_array(self.base._apply(X), self.alpha)

    def _mul_rows(self, X):
        return scale_array(self.base._rapply(X), self.alpha)

    def _scaled(self, alpha):
        return Scaled(alpha * self.alpha, self.base)

    def _transpose(self):
        return Scaled(self.alpha, self.base.T)

    def _adjoint(self):
        return Scaled(self.alpha.conjugate(), self.base.H)

    def _conj(self):
        return Scaled(self.alpha.conjugate(), self.base.conj())

    def to_backend(self, xp):
        return Scaled(self.alpha, self.base.to_backend(B.resolve_xp(xp)))

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._init_derived()

    def _repr_extra(self) -> str:
        return f", alpha={self.alpha!r} of {self.base!r}"
