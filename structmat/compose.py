"""Wrappers and composition: the transpose, adjoint and conjugate of a structured matrix, and
the lazy :class:`Product` of several."""

from __future__ import annotations

import numpy as np

from . import _backend as B
from ._validate import (  # re-exported: the classes import them from here
    _as_int as _as_int,
    _own_result as _own_result,
    _to_numpy_dtype as _to_numpy_dtype,
    as_param_array as as_param_array,
    check_int as check_int,
    check_size as check_size,
    dtype_in as dtype_in,
    dtype_name as dtype_name,
    nominal_dtype as nominal_dtype,
)
from .base import StructuredMatrix

__all__ = ["Transpose", "Adjoint", "Conjugate", "Product"]


# ----------------------------------------------------------------------------------------------
# wrappers: transpose, adjoint, conjugate
# ----------------------------------------------------------------------------------------------


class _Wrapped(StructuredMatrix):
    def __init__(self, base: StructuredMatrix):
        self.base = base
        self._dtype = base._dtype
        self._xp = base._xp

    @property
    def nparams(self) -> int:
        return self.base.nparams

    def _device(self):
        return self.base._device()

    def _compute_dtype(self, xp, x_dtype):
        return self.base._compute_dtype(xp, x_dtype)

    def to_backend(self, xp):
        return type(self)(self.base.to_backend(xp))

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._dtype = self.base._dtype

    def _repr_extra(self) -> str:
        return f" of {self.base!r}"


class Transpose(_Wrapped):
    """``A.T`` for a class without a structured transpose of its own kind."""

    def __init__(self, base):
        super().__init__(base)
        self._shape = (base.shape[1], base.shape[0])

    def flops(self, batch: int = 1) -> int:
        return self.base.flops(batch)

    def _mul_cols(self, X):
        return self.base._mul_rows(X.T).T

    def _mul_rows(self, X):
        return self.base._mul_cols(X.T).T

    def _transpose(self):
        return self.base

    def _adjoint(self):
        return self.base._conj()

    def _conj(self):
        return self.base._adjoint()


class Adjoint(_Wrapped):
    """``A.H`` (conjugate transpose) for a class without a structured adjoint of its own kind."""

    def __init__(self, base):
        super().__init__(base)
        self._shape = (base.shape[1], base.shape[0])

    def flops(self, batch: int = 1) -> int:
        return self.base.flops(batch)

    def _mul_cols(self, X):
        xp = B.get_namespace(X)
        return xp.conj(self.base._mul_rows(xp.conj(X).T)).T

    def _mul_rows(self, X):
        xp = B.get_namespace(X)
        return xp.conj(self.base._mul_cols(xp.conj(X).T)).T

    def _transpose(self):
        return self.base._conj()

    def _adjoint(self):
        return self.base

    def _conj(self):
        return self.base._transpose()


class Conjugate(_Wrapped):
    """``A.conj()`` for a complex class without a structured conjugate of its own kind."""

    def __init__(self, base):
        super().__init__(base)
        self._shape = base.shape

    def flops(self, batch: int = 1) -> int:
        return self.base.flops(batch)

    def _mul_cols(self, X):
        xp = B.get_namespace(X)
        return xp.conj(self.base._mul_cols(xp.conj(X)))

    def _mul_rows(self, X):
        xp = B.get_namespace(X)
        return xp.conj(self.base._mul_rows(xp.conj(X)))

    def _transpose(self):
        return self.base._adjoint()

    def _adjoint(self):
        return self.base._transpose()

    def _conj(self):
        return self.base


# ----------------------------------------------------------------------------------------------
# composition
# ----------------------------------------------------------------------------------------------


class Product(StructuredMatrix):
    """Lazy product ``A_1 @ A_2 @ ... @ A_k`` of structured matrices.

    Nested products are flattened; ``A @ x`` applies the factors right to left, each at its
    own structured cost.

    Parameters
    ----------
    *factors : StructuredMatrix
        At least one factor; inner dimensions must agree.
    form : str, optional
        The class the product witnesses (``"M"``, ``"MP"``, ``"MM*"``, ...), set by
        :func:`structmat.to_monarch`.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Product, Hadamard, Diagonal
    >>> P = Product(Hadamard(4), Diagonal(np.arange(1.0, 5.0)))
    >>> P.shape, len(P.factors)
    ((4, 4), 2)
    >>> bool(np.allclose(np.asarray(P), np.asarray(Hadamard(4)) * np.arange(1.0, 5.0)))
    True
    """

    def __init__(self, *factors: StructuredMatrix, form: str | None = None):
        flat: list[StructuredMatrix] = []
        for i, f in enumerate(factors):
            if not isinstance(f, StructuredMatrix):
                raise TypeError(
                    f"factors[{i}] must be a StructuredMatrix; got {type(f).__name__} "
                    f"(wrap dense arrays, e.g. as BlockDiagonal(A[None]))"
                )
            if isinstance(f, Product):
                flat.extend(f.factors)
            else:
                flat.append(f)
        if not flat:
            raise ValueError("Product needs at least one factor")
        for i in range(len(flat) - 1):
            if flat[i].shape[1] != flat[i + 1].shape[0]:
                raise ValueError(
                    f"factor shapes do not chain: factor {i} is {flat[i].shape[0]}x{flat[i].shape[1]} "
                    f"but factor {i + 1} is {flat[i + 1].shape[0]}x{flat[i + 1].shape[1]}"
                )
        xps = [f.xp for f in flat if f.xp is not None]
        names = {B.namespace_name(x) for x in xps}
        if len(names) > 1:
            a, b = sorted(names)[:2]
            raise TypeError(f"Product factors mix array namespaces: {a} and {b}")
        self.factors: tuple[StructuredMatrix, ...] = tuple(flat)
        self.form = form
        self._xp = xps[0] if xps else None
        self._shape = (flat[0].shape[0], flat[-1].shape[1])
        ref = self._xp if self._xp is not None else np
        self._dtype = ref.result_type(*[dtype_in(ref, f.dtype) for f in flat])

    @property
    def nparams(self) -> int:
        return sum(f.nparams for f in self.factors)

    def _device(self):
        for f in self.factors:
            dev = f._device()
            if dev is not None:
                return dev
        return None

    def flops(self, batch: int = 1) -> int:
        return sum(f.flops(batch) for f in self.factors)

    def _compute_dtype(self, xp, x_dtype):
        dt = B.float_dtype_for(xp, x_dtype)
        for f in self.factors:
            dt = xp.result_type(dt, f._compute_dtype(xp, dt))
        return dt

    def _mul_cols(self, X):
        for f in reversed(self.factors):
            X = f._apply(X)
        return X

    def _mul_rows(self, X):
        for f in self.factors:
            X = f._rapply(X)
        return X

    def _transpose(self):
        return Product(*[f.T for f in reversed(self.factors)], form=None)

    def _adjoint(self):
        return Product(*[f.H for f in reversed(self.factors)], form=None)

    def _conj(self):
        return Product(*[f.conj() for f in self.factors], form=self.form)

    def to_backend(self, xp):
        return Product(*[f.to_backend(xp) for f in self.factors], form=self.form)

    def _repr_extra(self) -> str:
        names = " @ ".join(type(f).__name__ for f in self.factors)
        form = f", form={self.form!r}" if self.form else ""
        return f", factors={names}{form}"


def _cast_tree(op: StructuredMatrix, bits: int, to_complex: bool) -> StructuredMatrix:
    """Copy of ``op`` with floating parameters of ``bits`` precision (see ``astype``).

    Works on the state of :meth:`StructuredMatrix.__getstate__` without a trip to the host:
    floating arrays are cast in their namespace (and on their device), nested matrices
    recursively, and the nominal dtype follows.
    """
    state = op._state(host=False)
    arrays = {}
    for name, arr in state["arrays"].items():
        ns = B.get_namespace(arr)
        if B.is_float_dtype(ns, arr.dtype):
            cplx = to_complex or B.is_complex_dtype(ns, arr.dtype)
            new = getattr(ns, f"complex{2 * bits}" if cplx else f"float{bits}")
            arr = ns.astype(arr, new, copy=True)
        arrays[name] = arr
    attributes = {}
    for name, value in state["attributes"].items():
        if isinstance(value, StructuredMatrix):
            value = _cast_tree(value, bits, to_complex)
        elif (
            isinstance(value, (tuple, list))
            and value
            and all(isinstance(v, StructuredMatrix) for v in value)
        ):
            value = type(value)(_cast_tree(v, bits, to_complex) for v in value)
        attributes[name] = value
    cplx = to_complex or state["dtype"].startswith("complex")
    state = dict(
        state,
        arrays=arrays,
        attributes=attributes,
        dtype=f"complex{2 * bits}" if cplx else f"float{bits}",
    )
    out = type(op).__new__(type(op))
    out.__setstate__(state)
    return out
