"""Pickling and copies of every structured matrix: one documented, versioned state dictionary
holding host arrays and a backend name, never a module."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import _backend as B
from ._validate import (
    dtype_in,
    dtype_name,
)

if TYPE_CHECKING:
    from .base import StructuredMatrix


# -- pickling and copies --------------------------------------------------------------------


def __getstate__(self: StructuredMatrix) -> dict:
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


def _state(self: StructuredMatrix, host: bool) -> dict:
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


def __setstate__(self: StructuredMatrix, state: dict) -> None:
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
