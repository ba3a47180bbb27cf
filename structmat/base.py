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

from . import _backend as B

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


def warn(message: str, category: type = StructmatWarning) -> None:
    """Issue ``message``, attributed to the first caller outside the structmat package."""
    frame: types.FrameType | None = sys._getframe(0)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR + os.sep):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


# ----------------------------------------------------------------------------------------------
# validation helpers shared by the ops modules
# ----------------------------------------------------------------------------------------------


def _as_int(value: Any) -> int | None:
    """``value`` as an ``int`` if it is an integer (Python or NumPy, not bool), else ``None``."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
        return int(value)
    return None


def check_size(value: Any, name: str, minimum: int = 1) -> int:
    """Validate an integer size argument and return it as ``int``.

    Python and NumPy integers (``np.int64(8)``) are accepted; floats (even integer-valued
    ones such as ``4.0``), booleans and strings raise ``TypeError``, values below ``minimum``
    ``ValueError``; both messages name the argument.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.base import check_size
    >>> check_size(np.int64(8), "n")
    8
    >>> check_size(4.0, "n")
    Traceback (most recent call last):
    ...
    TypeError: n must be an integer >= 1; got 4.0 (a float; pass an int)
    """
    as_int = _as_int(value)
    if as_int is None:
        hint = " (a float; pass an int)" if isinstance(value, (float, np.floating)) else ""
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}{hint}")
    if as_int < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {as_int}")
    return as_int


def check_int(value: Any, name: str, choices: tuple[int, ...]) -> int:
    """Validate an integer argument with a fixed set of allowed values; return it as ``int``.

    Examples
    --------
    >>> from structmat.base import check_int
    >>> check_int(2, "type", (1, 2, 3, 4))
    2
    >>> check_int(2.0, "type", (1, 2, 3, 4))
    Traceback (most recent call last):
    ...
    TypeError: type must be an integer (1, 2, 3 or 4); got 2.0 (a float; pass an int)
    """
    words = [str(c) for c in choices]
    allowed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    as_int = _as_int(value)
    if as_int is None:
        hint = " (a float; pass an int)" if isinstance(value, (float, np.floating)) else ""
        raise TypeError(f"{name} must be an integer ({allowed}); got {value!r}{hint}")
    if as_int not in choices:
        raise ValueError(f"{name} must be {allowed}; got {as_int}")
    return as_int


def as_param_array(
    value: Any,
    name: str,
    ndim: int,
    xp: ModuleType | None = None,
    dtype: Any = None,
    check_finite: bool = True,
) -> tuple[Any, ModuleType]:
    """Validate a parameter array and return ``(array, namespace)``.

    Lists and scalars are converted with ``xp`` (NumPy when ``xp`` is None); integer input
    becomes float64; float16 is refused; NaN/Inf raise ``ValueError``; NumPy input in
    non-native byte order is converted.  The result never shares memory with ``value``: the
    matrix owns its parameters.
    """
    if hasattr(value, "_structmat_operator"):
        raise TypeError(
            f"{name} must be an array, not a structured matrix ({type(value).__name__})"
        )
    if B.is_array(value):
        ns = B.get_namespace(value)
        if xp is not None and B.namespace_name(xp) != B.namespace_name(ns):
            raise TypeError(
                f"{name} is a {B.namespace_name(ns)} array but the other parameters are "
                f"{B.namespace_name(xp)} arrays"
            )
        arr = B.native_byteorder(value)
    else:
        ns = B.resolve_xp(xp) if xp is not None else B.resolve_xp(None)
        try:
            arr = ns.asarray(value)
        except Exception as exc:
            raise TypeError(
                f"{name} must be an array-like of numbers; got {type(value).__name__}"
            ) from exc
    # dtype first: a non-numeric object (a 0-d object array) is a type error, not a shape one
    target = B.float_dtype_for(ns, arr.dtype, what=name) if dtype is None else dtype
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array; got shape {tuple(arr.shape)}")
    if target != arr.dtype:
        arr = ns.astype(arr, target)
    if check_finite and not B.all_finite(ns, arr):
        raise ValueError(f"{name} contains NaN or Inf entries")
    if B.is_array(value) and B.shares_memory(arr, value):
        arr = B.fresh_copy(arr)
    return arr, ns


def nominal_dtype(
    dtype: Any,
    allowed: tuple[str, ...] = ("float32", "float64", "complex64", "complex128"),
    what: str = "dtype",
) -> np.dtype:
    """Validate a dtype argument (a name, a NumPy dtype or type); return the native NumPy dtype.

    Byte order is ignored (``">f8"`` is float64).

    Examples
    --------
    >>> from structmat.base import nominal_dtype
    >>> nominal_dtype(">f4")
    dtype('float32')
    """
    try:
        dt = np.dtype(dtype)
    except TypeError:
        try:
            dt = np.dtype(dtype_name(dtype))
        except TypeError:
            dt = None
    if dt is None or dt.name not in allowed:
        raise TypeError(f"{what} must be {', '.join(allowed[:-1])} or {allowed[-1]}; got {dtype!r}")
    return np.dtype(dt.name)


def dtype_name(dtype: Any) -> str:
    """Backend-neutral name of a dtype (``"float32"``, ``"complex128"``, ...)."""
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype).rsplit(".", 1)[-1]


def dtype_in(xp: ModuleType, dtype: Any) -> Any:
    """The dtype of namespace ``xp`` with the same name as ``dtype``."""
    return getattr(xp, dtype_name(dtype))


def _to_numpy_dtype(dtype: Any) -> np.dtype:
    return np.dtype(dtype_name(dtype))


def _own_result(Y: Any, caller: Any) -> Any:
    """``Y``, copied when it may share memory with the caller's operand.

    Size-1 and identity-like shortcuts (``Hadamard(1)``, a product of such factors, a
    transpose of them) return their input or a view of it; the caller must get a new array.
    """
    if B.is_array(caller) and B.shares_memory(Y, caller):
        return B.fresh_copy(Y)
    return Y


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
        """dtype in which ``A @ X`` is computed for an operand of ``x_dtype``."""
        xdt = B.float_dtype_for(xp, x_dtype)
        return xp.result_type(dtype_in(xp, self._dtype), xdt)

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
            Y = xp.reshape(self._mul_cols(xp.reshape(X, (n_in, 1))), (n_out,))
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
        Y = self._mul_rows(xp.reshape(X, (math.prod(lead), n_out)))
        return _own_result(xp.reshape(Y, lead + (n_in,)), caller)

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

    # -- SciPy's LinearOperator protocol --------------------------------------------------------
    def _scipy_vector(self, x, n: int, name: str):
        """Validate a SciPy-style vector: shape ``(n,)`` or ``(n, 1)``."""
        shape = tuple(getattr(x, "shape", np.shape(x)))
        if shape not in ((n,), (n, 1)):
            raise ValueError(f"{name} must have shape ({n},) or ({n}, 1); got {shape}")
        return shape

    def matvec(self, x):
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

    def rmatvec(self, x):
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

    def rmatmat(self, X):
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

    # -- operator algebra -----------------------------------------------------------------------
    def _scaled(self, alpha) -> StructuredMatrix:
        """``alpha * A`` for a validated Python scalar; classes that absorb it override this."""
        from .ops.sum import Scaled

        return Scaled(alpha, self)

    def _algebra_operand(self, other, op: str):
        if isinstance(other, StructuredMatrix):
            return other
        if B.is_array(other) or isinstance(other, (numbers.Number, list, tuple, np.ndarray)):
            raise TypeError(
                f"A {op} {type(other).__name__}: a structured matrix {op} a scalar or dense array "
                f"is not defined; {op} takes two structured matrices of one shape (wrap a "
                f"dense array, e.g. as BlockDiagonal(X[None]), or a multiple of the identity as "
                f"Diagonal(c * ones))"
            )
        return None

    def __mul__(self, alpha):
        """``A * alpha``: the scalar multiple (``alpha`` a Python/NumPy number).

        ``A * X`` for an array or a structured ``X`` raises ``TypeError``: there is no
        entrywise product; ``A @ X`` is the matrix product.
        """
        if isinstance(alpha, StructuredMatrix) or B.is_array(alpha) and getattr(alpha, "ndim", 0):
            raise TypeError(
                f"A * {type(alpha).__name__}: only scalar multiples are defined for structured "
                f"matrices; use A @ X for the matrix product"
            )
        from .ops.sum import check_scalar

        return self._scaled(check_scalar(alpha, "alpha"))

    def __rmul__(self, alpha):
        return self.__mul__(alpha)

    def __truediv__(self, alpha):
        """``A / alpha``: the scalar multiple by ``1 / alpha``."""
        from .ops.sum import check_scalar

        if isinstance(alpha, StructuredMatrix) or B.is_array(alpha) and getattr(alpha, "ndim", 0):
            raise TypeError(f"A / {type(alpha).__name__}: only division by a scalar is defined")
        value = check_scalar(alpha, "alpha")
        if value == 0:
            raise ValueError("alpha must be nonzero in A / alpha; got 0")
        return self._scaled(1 / value)

    def __neg__(self):
        return self._scaled(-1)

    def __pos__(self):
        return self

    def __add__(self, other):
        """``A + B``: the lazy :class:`~structmat.ops.sum.Sum` of two structured matrices."""
        other = self._algebra_operand(other, "+")
        if other is None:
            return NotImplemented
        from .ops.sum import Sum

        return Sum(self, other)

    def __radd__(self, other):
        other = self._algebra_operand(other, "+")
        if other is None:
            return NotImplemented
        from .ops.sum import Sum

        return Sum(other, self)

    def __sub__(self, other):
        """``A - B`` = ``Sum(A, -B)``."""
        other = self._algebra_operand(other, "-")
        if other is None:
            return NotImplemented
        from .ops.sum import Sum

        return Sum(self, -other)

    def __rsub__(self, other):
        other = self._algebra_operand(other, "-")
        if other is None:
            return NotImplemented
        from .ops.sum import Sum

        return Sum(other, -self)

    def astype(self, dtype: Any) -> StructuredMatrix:
        """The same matrix with entries of ``dtype`` (a copy; parameters cast, classes kept).

        Parameters
        ----------
        dtype : {"float32", "float64", "complex64", "complex128"} or a NumPy dtype
            Casting a complex matrix to a real dtype raises ``TypeError`` (it would drop the
            imaginary parts).  A real matrix cast to a complex dtype gets complex parameters;
            in a complex tree (a product of real and complex factors) every leaf keeps its
            kind and takes the precision of ``dtype``.  Parameter-free classes change their
            nominal dtype.

        Examples
        --------
        >>> import numpy as np
        >>> from structmat import Diagonal, DFT
        >>> Diagonal(np.array([1.0, 2.0])).astype("float32").d.dtype
        dtype('float32')
        >>> (DFT(4) @ Diagonal(np.ones(4))).astype("complex64").dtype
        dtype('complex64')
        """
        target = nominal_dtype(dtype, what="dtype")
        current = np.dtype(dtype_name(self._dtype))
        if current.kind == "c" and target.kind != "c":
            raise TypeError(
                f"dtype {target.name} would discard the imaginary parts of a {current.name} "
                f"matrix; cast to complex64 or complex128"
            )
        return _cast_tree(
            self,
            target.itemsize // (2 if target.kind == "c" else 1) * 8,
            to_complex=current.kind != "c" and target.kind == "c",
        )

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

    def aslinearoperator(self):
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

    # -- pickling and copies --------------------------------------------------------------------
    #: attributes holding caches derived from the parameters, with a factory of their empty
    #: value; they are left out of the state and rebuilt on use
    _CACHES: dict = {}
    #: whether the nominal dtype is a NumPy dtype whatever the backend (index-only classes)
    _NUMPY_DTYPE = False
    #: version of the state dictionary written by :meth:`__getstate__`
    STATE_VERSION = 1

    def __getstate__(self) -> dict:
        """The state used by :mod:`pickle` and :func:`copy.deepcopy`: a plain dictionary.

        Keys:

        ``"version"``
            :attr:`STATE_VERSION` (1).
        ``"class"``
            ``"module.QualifiedName"`` of the class (informational).
        ``"backend"``
            Name of the parameters' namespace (``"numpy"``, ``"array_api_strict"``,
            ``"cupy"``) or ``None`` for parameter-free matrices.  Never a module object.
        ``"shape"``, ``"dtype"``
            ``(n_out, n_in)`` and the dtype's name (``"float64"``, ...).
        ``"arrays"``
            ``{attribute: numpy.ndarray}``: host NumPy copies of the parameter arrays (and
            other backend arrays), moved back to ``backend`` on restore (default device).
        ``"attributes"``
            ``{attribute: value}``: every other attribute — Python scalars and strings,
            NumPy constants, and nested structured matrices (factors of a product, the base
            of a transpose), which carry their own state.

        Caches derived from the parameters are not part of the state.

        Examples
        --------
        >>> import pickle, numpy as np
        >>> from structmat import Diagonal
        >>> D = Diagonal(np.array([1.0, 2.0]))
        >>> st = D.__getstate__()
        >>> st["backend"], st["dtype"], st["shape"], sorted(st["arrays"])
        ('numpy', 'float64', (2, 2), ['d'])
        >>> pickle.loads(pickle.dumps(D)) @ np.ones(2)
        array([1., 2.])
        """
        return self._state(host=True)

    def _state(self, host: bool) -> dict:
        """The state of :meth:`__getstate__`; with ``host=False`` arrays stay in the backend."""
        arrays: dict = {}
        attributes: dict = {}
        for name, value in vars(self).items():
            if name in ("_xp", "_dtype", "_shape") or name in self._CACHES:
                continue
            if B.is_array(value) and not isinstance(value, np.ndarray):
                arrays[name] = B.to_numpy(value) if host else value
            elif B.is_array(value) and self._xp is not None and B.is_numpy(self._xp):
                arrays[name] = value
            else:
                attributes[name] = value
        cls = type(self)
        return {
            "version": self.STATE_VERSION,
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "backend": None if self._xp is None else B.namespace_name(self._xp),
            "shape": tuple(int(d) for d in self._shape),
            "dtype": dtype_name(self._dtype),
            "arrays": arrays,
            "attributes": attributes,
        }

    def __setstate__(self, state: dict) -> None:
        """Restore from the dictionary of :meth:`__getstate__` (see there)."""
        if not isinstance(state, dict) or state.get("version") != self.STATE_VERSION:
            found = state.get("version") if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f"cannot restore a {type(self).__name__} from state version {found!r}; this "
                f"structmat reads version {self.STATE_VERSION}"
            )
        backend = state["backend"]
        xp = None if backend is None else B.resolve_xp(backend)
        self._xp = xp
        self._shape = tuple(state["shape"])
        if xp is None or B.is_numpy(xp) or self._NUMPY_DTYPE:
            self._dtype = np.dtype(state["dtype"])
        else:
            self._dtype = dtype_in(xp, state["dtype"])
        for name, value in state["attributes"].items():
            setattr(self, name, value)
        for name, value in state["arrays"].items():
            setattr(self, name, value if xp is None or B.is_numpy(xp) else xp.asarray(value))
        for name, empty in self._CACHES.items():
            setattr(self, name, empty())

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
