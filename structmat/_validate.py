"""Validation helpers shared by the classes: integer and size checks, parameter arrays, dtype
names, and the guarantee that products never hand back their operand."""

from __future__ import annotations

import numbers
from types import ModuleType
from typing import Any

import numpy as np

from . import _backend as B

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
