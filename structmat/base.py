"""The :class:`StructuredMatrix` protocol, lazy composition (:class:`Product`) and validation.

Every structured class of :mod:`structmat.ops` derives from :class:`StructuredMatrix`.  A
subclass supplies its shape, dtype and parameter namespace, and two kernels:

``_mul_cols(X)``
    ``X`` has shape ``(n_in, B)`` (columns) and already has the computation dtype; returns
    ``(n_out, B)``.
``_mul_rows(X)``
    ``X`` has shape ``(N, n_out)`` (rows); returns ``X @ A`` of shape ``(N, n_in)``.

Everything else — 1-D and batched operands, dtype promotion, namespace checks, ``.T``, ``.H``,
``.conj()``, :class:`Product`, ``to_dense``, ``__array__``, SciPy's operator protocol
(``matvec``, ``rmatvec``, ``rmatmat``), the operator algebra (``a * A``, ``A / a``, ``-A``,
``A + B``, ``A - B``, ``astype``; see :mod:`structmat.ops.sum`), pickling and deep copies — is
shared here.  A class with an exact, cheap closed form overrides ``_scaled(alpha)`` (``alpha *
A`` of its own kind) or ``_matmul_structured(B)`` (``A @ B`` for a structured ``B``).

Guarantees shared by every class:

* a product ``A @ X`` / ``X @ A`` never returns the caller's ``X`` or a view of it (size-1 and
  identity-like shortcuts included): the result is a new, writable array;
* parameter arrays are copied at construction, so later writes to the caller's arrays do not
  change the matrix (nor disagree with caches derived from the parameters);
* NumPy operands and parameters in non-native byte order (``">f8"``) are converted to native;
* every matrix pickles and deep-copies through one documented state dictionary
  (:meth:`StructuredMatrix.__getstate__`).
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import types
import warnings
from types import ModuleType
from typing import Any

import numpy as np

from . import _algebra as algebra_impl, _backend as B, _linop as linop_impl, _state as state_impl
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

__all__ = [
    "StructmatWarning",
    "StructuredMatrix",
    "Product",
    "Transpose",
    "Adjoint",
    "Conjugate",
    "as_param_array",
    "check_size",
    "check_int",
]


class StructmatWarning(UserWarning):
    """Warning for inputs that are valid but almost certainly not what was meant.

    Raised, for example, for a degenerate Monarch geometry (a prime size whose default blocks
    make every Monarch matrix rank 1).  Silence it with
    ``warnings.filterwarnings("ignore", category=structmat.StructmatWarning)`` where the
    degenerate case is intended.

    Examples
    --------
    >>> import warnings
    >>> from structmat import StructmatWarning
    >>> issubclass(StructmatWarning, UserWarning)
    True
    """


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
#: (namespace, matrix dtype, operand dtype) -> compute dtype (see StructuredMatrix._compute_dtype)
_COMPUTE_DTYPES: dict = {}


def warn(message: str, category: type = StructmatWarning) -> None:
    """Issue ``message``, attributed to the first caller outside the structmat package."""
    frame: types.FrameType | None = sys._getframe(0)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR + os.sep):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


# ----------------------------------------------------------------------------------------------
# the protocol
# ----------------------------------------------------------------------------------------------


class StructuredMatrix:
    """Base class of every structmat matrix.

    A structured matrix never materialises unless asked (:meth:`to_dense`); ``A @ X``
    applies it at its structured cost.  Operands:

    * ``A @ x`` with ``x`` of shape ``(n_in,)`` gives ``(n_out,)``;
    * ``A @ X`` with ``X`` of shape ``(..., n_in, k)`` acts on columns (leading dimensions are
      a batch);
    * ``X @ A`` (or ``A.rmatmul(X)``) with ``X`` of shape ``(..., n_out)`` acts on rows;
    * ``A @ B`` between structured matrices is a lazy :class:`Product`.

    Parameter arrays fix the array namespace (NumPy, CuPy, ``array_api_strict``); operands
    from another namespace raise ``TypeError``.  Parameter-free classes compute in the
    namespace of the operand.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Diagonal, Permutation
    >>> A = Permutation([2, 0, 1]) @ Diagonal(np.array([1.0, 2.0, 3.0]))
    >>> A @ np.ones(3)
    array([3., 1., 2.])
    >>> np.ones(3) @ A
    array([1., 2., 3.])
    """

    _structmat_operator = True
    #: NumPy must not turn ``ndarray @ A`` into a dense product: it defers to ``__rmatmul__``.
    __array_ufunc__ = None
    ndim = 2

    # subclasses set these in __init__
    _shape: tuple[int, int]
    _dtype: Any
    _xp: ModuleType | None = None

    # -- basic attributes ----------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(n_out, n_in)``."""
        return self._shape

    @property
    def dtype(self):
        """The dtype of the matrix entries (of its parameters; nominal for parameter-free classes)."""
        return self._dtype

    @property
    def xp(self) -> ModuleType | None:
        """Namespace of the parameters, or ``None`` for parameter-free classes."""
        return self._xp

    @property
    def nparams(self) -> int:
        """Number of free parameters (0 for fixed transforms)."""
        return 0

    def flops(self, batch: int = 1) -> int:
        """Floating-point operations of ``A @ X`` for ``X`` with ``batch`` columns (cost model).

        Counts real multiply-adds as 2 flops; complex arithmetic is not weighted.
        """
        raise NotImplementedError(f"{type(self).__name__} has no cost model")

    def __len__(self) -> int:
        return self._shape[0]

    # -- kernels (subclasses) ------------------------------------------------------------------
    def _mul_cols(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    def _mul_rows(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    def _compute_dtype(self, xp: ModuleType, x_dtype: Any):
        """dtype in which ``A @ X`` is computed for an operand of ``x_dtype``.

        Kept per (namespace, matrix dtype, operand dtype): the lookup costs microseconds,
        which a matrix-vector product of a few thousand entries notices."""
        key = (xp, self._dtype, x_dtype)
        keep = True
        try:
            return _COMPUTE_DTYPES[key]
        except KeyError:
            pass
        except TypeError:  # a dtype that cannot be a key
            keep = False
        xdt = B.float_dtype_for(xp, x_dtype)
        out = xp.result_type(dtype_in(xp, self._dtype), xdt)
        if keep and len(_COMPUTE_DTYPES) < 256:
            _COMPUTE_DTYPES[key] = out
        return out

    # -- operand handling ----------------------------------------------------------------------
    def _operand(self, X: Any, what: str):
        """Convert/validate an operand and return ``(X, xp)`` with X in the compute dtype."""
        if B.is_array(X):
            X = B.native_byteorder(X)
            xp = B.get_namespace(X)
            if self._xp is not None and B.namespace_name(xp) != B.namespace_name(self._xp):
                name = B.namespace_name(xp)
                raise TypeError(
                    f"{what} is a {name} array but {type(self).__name__} has "
                    f"{B.namespace_name(self._xp)} parameters; structmat never converts "
                    f"implicitly: move the matrix with A.to_backend({name!r}) (or pass the "
                    f"module, A.to_backend({name})), or convert the operand to "
                    f"{B.namespace_name(self._xp)}"
                )
        elif hasattr(X, "__dlpack__") or hasattr(X, "__array_namespace__"):
            raise TypeError(
                f"{what} is a {type(X).__module__}.{type(X).__name__}, an array structmat has no "
                f"namespace for; convert it explicitly (e.g. numpy.from_dlpack(X)) or move the "
                f"matrix to its library with A.to_backend(module)"
            )
        else:
            xp = self._xp if self._xp is not None else B.resolve_xp(None)
            if isinstance(X, (list, tuple)) or isinstance(X, numbers.Number):
                try:
                    X = xp.asarray(X)
                except Exception as exc:
                    raise TypeError(f"{what} must be an array; got {type(X).__name__}") from exc
            else:
                raise TypeError(f"{what} must be an array; got {type(X).__name__}")
        dt = self._compute_dtype(xp, X.dtype)
        if X.dtype != dt:
            X = xp.astype(X, dt)
        return X, xp

    def _apply(self, X):
        """``A @ X`` for a 2-D column block already validated for shape."""
        X, _ = self._operand(X, "X")
        return self._mul_cols(X)

    def _rapply(self, X):
        """``X @ A`` for a 2-D row block already validated for shape."""
        X, _ = self._operand(X, "X")
        return self._mul_rows(X)

    def _describe(self) -> str:
        return f"{self._shape[0]}x{self._shape[1]} {type(self).__name__}"

    def matmat(self, X):
        """``A @ X``; see the class docstring for accepted shapes.

        Wider than SciPy's ``LinearOperator.matmat`` (which takes 2-D ``(n_in, k)`` blocks
        only): 1-D vectors and stacks ``(..., n_in, k)`` are accepted, and a structured ``X``
        gives the structured product (:meth:`__matmul__`).  On a 2-D block both agree, so
        SciPy may call it.
        """
        if isinstance(X, StructuredMatrix):
            return self._matmul_structured(X)
        caller = X
        X, xp = self._operand(X, "X")
        n_out, n_in = self._shape
        if X.ndim == 0:
            raise ValueError("X must be at least 1-D for a matrix product; use a scalar multiply")
        if X.shape[0 if X.ndim == 1 else -2] != n_in:
            raise ValueError(
                f"X has shape {tuple(X.shape)}; expected ({n_in},) or (..., {n_in}, k) "
                f"for the {self._describe()}"
            )
        if X.ndim == 1:
            Y = B.reshape(xp, self._mul_cols(B.reshape(xp, X, (n_in, 1))), (n_out,))
        elif X.ndim == 2:
            Y = self._mul_cols(X)
        else:
            lead = tuple(X.shape[:-2])
            k = X.shape[-1]
            nb = math.prod(lead)
            # (..., n_in, k) -> (n_in, batch*k)
            Xc = xp.reshape(
                xp.permute_dims(xp.reshape(X, (nb, n_in, k)), (1, 0, 2)), (n_in, nb * k)
            )
            Y = self._mul_cols(Xc)
            Y = xp.permute_dims(xp.reshape(Y, (n_out, nb, k)), (1, 0, 2))
            Y = xp.reshape(Y, lead + (n_out, k))
        return _own_result(Y, caller)

    def rmatmul(self, X):
        """``X @ A`` for rows ``X`` of shape ``(..., n_out)``; returns ``(..., n_in)``.

        The explicit form of ``X @ A`` for array types that never call ``__rmatmul__``
        (``array_api_strict``).  Not SciPy's ``rmatmat`` (that is ``A^H X``, see
        :meth:`rmatmat`).
        """
        if isinstance(X, StructuredMatrix):
            return X._matmul_structured(self)
        caller = X
        X, xp = self._operand(X, "X")
        n_out, n_in = self._shape
        if X.ndim == 0 or X.shape[-1] != n_out:
            raise ValueError(
                f"X has shape {tuple(X.shape)}; expected (..., {n_out}) rows for X @ A with the "
                f"{self._describe()}"
            )
        lead = tuple(X.shape[:-1])
        Y = self._mul_rows(B.reshape(xp, X, (math.prod(lead), n_out)))
        return _own_result(B.reshape(xp, Y, lead + (n_in,)), caller)

    def __matmul__(self, X):
        return self.matmat(X)

    def __rmatmul__(self, X):
        return self.rmatmul(X)

    def dot(self, X):
        """Alias of ``A @ X``."""
        return self.matmat(X)

    def _matmul_structured(self, other: StructuredMatrix) -> StructuredMatrix:
        """``self @ other`` for a structured ``other``: a lazy :class:`Product`.

        Classes with an exact, cheap closed form for the product with their own kind
        (:class:`~structmat.Diagonal`, :class:`~structmat.Permutation`) override this.
        """
        return Product(self, other)

    # -- structured transposes -----------------------------------------------------------------
    def _transpose(self) -> StructuredMatrix:
        return Transpose(self)

    def _adjoint(self) -> StructuredMatrix:
        if not self._is_complex():
            return self._transpose()
        return Adjoint(self)

    def _conj(self) -> StructuredMatrix:
        if not self._is_complex():
            return self
        return Conjugate(self)

    def _is_complex(self) -> bool:
        return dtype_name(self._dtype).startswith("complex")

    @property
    def T(self) -> StructuredMatrix:
        """The transpose, as a structured matrix."""
        return self._transpose()

    @property
    def H(self) -> StructuredMatrix:
        """The conjugate transpose, as a structured matrix."""
        return self._adjoint()

    def conj(self) -> StructuredMatrix:
        """The entrywise complex conjugate, as a structured matrix."""
        return self._conj()

    def transpose(self) -> StructuredMatrix:
        return self._transpose()

    def adjoint(self) -> StructuredMatrix:
        return self._adjoint()

    # -- dense views ---------------------------------------------------------------------------
    def _device(self):
        """Device of the parameter arrays (``None``, the default device, when there are none).

        ``_dense`` is only called with parameters already in ``xp``; constants it creates go
        to this device so that they combine with the parameters.
        """
        if self._xp is None:
            return None
        name = B.namespace_name(self._xp)
        for value in vars(self).values():
            if B.is_array(value) and B.namespace_name(B.get_namespace(value)) == name:
                return B.device_of(value)
        return None

    def _dense(self, xp: ModuleType):
        """Dense matrix in namespace ``xp`` (default: apply to the identity)."""
        n_in = self._shape[1]
        eye = xp.eye(
            n_in, dtype=self._compute_dtype(xp, dtype_in(xp, self._dtype)), device=self._device()
        )
        return self._apply(eye)

    def to_dense(self, xp: Any = None):
        """The dense matrix, in the namespace of the parameters (or ``xp``).

        Parameters
        ----------
        xp : namespace or str, optional
            Target namespace (``numpy``, ``cupy``, ``array_api_strict`` or their names).
            Parametrised matrices are moved there first (explicitly, see
            :meth:`to_backend`).
        """
        if xp is None:
            target = self._xp if self._xp is not None else B.resolve_xp(None)
            return self._dense(target)
        target = B.resolve_xp(xp)
        if self._xp is not None and B.namespace_name(target) != B.namespace_name(self._xp):
            return self.to_backend(target)._dense(target)
        return self._dense(target)

    def toarray(self):
        """Alias of :meth:`to_dense` (SciPy spelling)."""
        return self.to_dense()

    def __array__(self, dtype=None, copy=None):
        if self._xp is not None and not B.is_numpy(self._xp):
            raise TypeError(
                f"{type(self).__name__} has {B.namespace_name(self._xp)} parameters; "
                f"use .to_dense() (no implicit conversion to NumPy)"
            )
        if copy is False:
            raise ValueError("a structured matrix cannot be viewed as a dense array without a copy")
        dense = self.to_dense(np)
        return np.asarray(dense, dtype=dtype)

    def to_backend(self, xp: Any) -> StructuredMatrix:
        """The same matrix with its parameters moved to namespace ``xp`` (a copy).

        Parameters
        ----------
        xp : str or module
            ``"numpy"``, ``"cupy"``, ``"torch"``, ``"array_api_strict"``, or the module itself
            (``numpy``, ``cupy``, ``torch``, ...).

        Notes
        -----
        Parameter-free classes return themselves: they compute in the namespace of each
        operand.  structmat never converts implicitly: ``A @ X`` with ``X`` from another
        library raises ``TypeError`` naming the ``to_backend`` call to make.  Arrays move to
        the target's default device (the CPU for torch); the dtype is kept.

        Torch tensors: a matrix built from tensors (``Monarch(L, R)`` with ``L``, ``R`` on any
        device) computes with torch operations, keeps their dtype and device, and is
        differentiable: gradients of ``(A @ x).sum()`` reach the caller's ``L`` and ``R``
        (the matrix holds ``clone()``-d copies, which stay in the autograd graph).

        Examples
        --------
        >>> import numpy as np, torch
        >>> from structmat import Monarch
        >>> M = Monarch.random(16, seed=0).to_backend("torch")
        >>> y = M @ torch.ones(16, dtype=torch.float64)
        >>> y.dtype, bool(np.allclose(y.numpy(), M.to_backend("numpy") @ np.ones(16)))
        (torch.float64, True)
        >>> L = M.L.clone().requires_grad_(True)
        >>> (Monarch(L, M.R) @ torch.ones(16, dtype=torch.float64)).sum().backward()
        >>> L.grad.shape
        torch.Size([4, 4, 4])
        """
        B.resolve_xp(xp)
        return self

    # -- SciPy's LinearOperator protocol (structmat/_linop.py) --------------------------------
    _scipy_vector = linop_impl._scipy_vector
    matvec = linop_impl.matvec
    rmatvec = linop_impl.rmatvec
    rmatmat = linop_impl.rmatmat
    aslinearoperator = linop_impl.aslinearoperator

    # -- operator algebra (structmat/_algebra.py) -----------------------------------------------
    _scaled = algebra_impl._scaled
    _algebra_operand = algebra_impl._algebra_operand
    __mul__ = algebra_impl.__mul__
    __rmul__ = algebra_impl.__rmul__
    __truediv__ = algebra_impl.__truediv__
    __neg__ = algebra_impl.__neg__
    __pos__ = algebra_impl.__pos__
    __add__ = algebra_impl.__add__
    __radd__ = algebra_impl.__radd__
    __sub__ = algebra_impl.__sub__
    __rsub__ = algebra_impl.__rsub__
    astype = algebra_impl.astype

    # -- pickling and copies (structmat/_state.py) ----------------------------------------------
    #: attributes holding caches derived from the parameters, with a factory of their empty
    #: value; they are left out of the state and rebuilt on use
    _CACHES: dict = {}
    #: whether the nominal dtype is a NumPy dtype whatever the backend (index-only classes)
    _NUMPY_DTYPE = False
    #: version of the state dictionary written by :meth:`__getstate__`
    STATE_VERSION = 1
    __getstate__ = state_impl.__getstate__
    _state = state_impl._state
    __setstate__ = state_impl.__setstate__

    # -- repr ----------------------------------------------------------------------------------
    def _repr_extra(self) -> str:
        return ""

    def __repr__(self) -> str:
        extra = self._repr_extra()
        backend = ""
        if self._xp is not None and not B.is_numpy(self._xp):
            backend = f", backend={B.namespace_name(self._xp)}"
        return (
            f"<{self._shape[0]}x{self._shape[1]} {type(self).__name__} with "
            f"dtype={dtype_name(self._dtype)}{extra}{backend}>"
        )


# the wrappers and the product are built on the protocol above; the protocol's methods create
# them at call time
from .compose import (  # noqa: E402
    Adjoint as Adjoint,
    Conjugate as Conjugate,
    Product as Product,
    Transpose as Transpose,
    _cast_tree as _cast_tree,
)
