"""Save and load structured matrices: a versioned, code-free file format.

:func:`save` writes any operator tree — products, transposes/adjoints/conjugates, every class
of :mod:`structmat.ops`, Monarch matrices of any geometry, butterflies, sums and scalar
multiples — and :func:`load` reads it back bit for bit.  Loading never executes code: a file
holds a JSON description and named numeric arrays, nothing else.

File format (version 1)
-----------------------
Two containers carry the same content:

``.npz`` (the default)
    A zip archive written with :func:`numpy.savez` and read with ``allow_pickle=False``.
    The member ``__structmat__`` is a ``uint8`` array with the UTF-8 bytes of the JSON header;
    every other member is a parameter array.
``.safetensors``
    The `safetensors` layout (``pip install structmat[io]``); the JSON header is the metadata
    entry ``"structmat"``.  Complex arrays, which safetensors does not store in every
    precision, are stored as real arrays with a trailing axis of length 2 (real, imaginary).

The JSON header is an object::

    {"format": "structmat-operator", "version": 1, "structmat": "0.1.0",
     "root": NODE,
     "arrays": {"a0": {"dtype": "float64", "shape": [4, 4, 4], "sha256": "..."}, ...}}

``NODE`` describes one matrix by the constructor call that rebuilds it::

    {"class": "Monarch", "shape": [16, 16], "dtype": "float64",
     "args": [VALUE, ...], "kwargs": {"name": VALUE, ...}}

where ``class`` is a name from the registry of loadable classes (:func:`registered`), and a
``VALUE`` is JSON ``null``, a boolean, an integer, a float, a string, or an object with one
key: ``{"array": "a0"}`` (a parameter array of the file), ``{"op": NODE}`` (a nested matrix),
``{"complex": [re, im]}`` or ``{"list": [VALUE, ...]}``.  Arrays are float32/64, complex64/128 or int64 (NumPy,
little-endian, C order); ``sha256`` is the digest of their bytes.  On load every array is
checked against its declared dtype, shape and digest, every node against its declared shape
and dtype, and every constructor validates its arguments as it does for user input; any
mismatch, a truncated file, a foreign file or a newer format version raises ``ValueError``
naming the file and the problem.

Registering further classes
---------------------------
A class becomes loadable with :func:`register`: give it a function that returns the
positional and keyword arguments of the constructor call that rebuilds a given matrix
(arrays, nested matrices, plain scalars and strings)::

    structmat.io.register(LowRank, lambda A: ([A.U, A.V], {}))

or define a method ``_save_args(self)`` with that result and call ``register(cls)``.
"""

from __future__ import annotations

import hashlib
import io as _io
import json
import os
import pathlib
import struct
import tempfile
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _backend as B
from .base import Adjoint, Conjugate, Product, StructuredMatrix, Transpose, dtype_name
from .ops import (
    DCT,
    DFT,
    DST,
    BlockDiagonal,
    BlockTT,
    Butterfly,
    Convolution,
    Diagonal,
    Hadamard,
    Monarch,
    MonarchP,
    Permutation,
    Scaled,
    Sum,
)
from .ops.kronecker import Kronecker
from .ops.lowrank import LowRank
from .ops.sparse import Sparse

__all__ = ["save", "load", "register", "registered", "FORMAT_VERSION"]

#: version of the file format written by :func:`save`; :func:`load` reads versions up to it
FORMAT_VERSION = 1
_FORMAT = "structmat-operator"
_HEADER_KEY = "__structmat__"
_ARRAY_DTYPES = ("float32", "float64", "complex64", "complex128", "int64")
_MAX_DEPTH = 64

_REGISTRY: dict[str, tuple[type, Callable[[Any], tuple[list, dict]]]] = {}


def register(
    cls: type, args: Callable[[Any], tuple[list, dict]] | None = None, *, name: str | None = None
) -> type:
    """Make a :class:`~structmat.StructuredMatrix` subclass savable and loadable.

    Parameters
    ----------
    cls : type
        The class; :func:`load` rebuilds its matrices by calling ``cls(*args, **kwargs)``.
    args : callable, optional
        ``args(A) -> (list, dict)``: the positional and keyword arguments of the constructor
        call that rebuilds ``A``.  Values may be arrays (any backend; stored as NumPy),
        structured matrices (stored as nested nodes), ``None``, booleans, integers, floats,
        complex numbers, strings, and lists or tuples of these (read back as lists).  Default: the method ``cls._save_args``.
    name : str, optional
        The name written to files (default ``cls.__name__``); it must stay stable across
        versions, since files refer to classes by it.

    Returns
    -------
    type
        ``cls`` (so that ``register`` can decorate a class that defines ``_save_args``).

    Examples
    --------
    >>> import numpy as np
    >>> import structmat
    >>> from structmat.ops.diagonal import Diagonal
    >>> class Scale(Diagonal):
    ...     def _save_args(self):
    ...         return [self.d], {}
    >>> _ = structmat.io.register(Scale)
    >>> "Scale" in structmat.io.registered()
    True
    """
    if not isinstance(cls, type) or not issubclass(cls, StructuredMatrix):
        raise TypeError(f"cls must be a StructuredMatrix subclass; got {cls!r}")
    if args is None:
        method = getattr(cls, "_save_args", None)
        if method is None:
            raise TypeError(
                f"register({cls.__name__}) needs args=... or a method {cls.__name__}._save_args "
                f"returning the constructor arguments (list, dict)"
            )
        args = method
    elif not callable(args):
        raise TypeError(f"args must be a callable A -> (list, dict); got {type(args).__name__}")
    key = cls.__name__ if name is None else name
    if not isinstance(key, str) or not key.isidentifier():
        raise ValueError(f"name must be a Python identifier; got {key!r}")
    known = _REGISTRY.get(key)
    if known is not None and known[0] is not cls:
        raise ValueError(
            f"name {key!r} is already registered for {known[0].__module__}.{known[0].__qualname__}"
        )
    _REGISTRY[key] = (cls, args)
    return cls


def registered() -> dict[str, type]:
    """The loadable classes by the names files use.

    Examples
    --------
    >>> from structmat.io import registered
    >>> registered()["Monarch"].__name__
    'Monarch'
    """
    return {k: v[0] for k, v in _REGISTRY.items()}


def _dtype_arg(A) -> str:
    return dtype_name(A.dtype)


for _cls, _fn in [
    (Permutation, lambda A: ([A.perm], {"dtype": _dtype_arg(A)})),
    (Diagonal, lambda A: ([A.d], {})),
    (BlockDiagonal, lambda A: ([A.blocks], {})),
    (Monarch, lambda A: ([A.L, A.R], {})),
    (Butterfly, lambda A: ([A.twiddle], {})),
    (Convolution, lambda A: ([A.kernel], {"n": A.n, "mode": A.mode})),
    (DFT, lambda A: ([A.n], {"norm": A.norm, "inverse": A.inverse, "dtype": _dtype_arg(A)})),
    (DCT, lambda A: ([A.n], {"type": A.type, "norm": A.norm, "dtype": _dtype_arg(A)})),
    (DST, lambda A: ([A.n], {"type": A.type, "norm": A.norm, "dtype": _dtype_arg(A)})),
    (Hadamard, lambda A: ([A.n], {"norm": A.norm, "dtype": _dtype_arg(A)})),
    (Product, lambda A: (list(A.factors), {"form": A.form})),
    (Sum, lambda A: (list(A.terms), {})),
    (Scaled, lambda A: ([A.alpha, A.base], {})),
    (MonarchP, lambda A: ([list(A.factors)], {})),
    (BlockTT, lambda A: ([list(A.cores)], {})),
    (LowRank, lambda A: ([A.left, A.right], {})),
    (Kronecker, lambda A: ([A.B, A.C], {})),
    (Sparse, lambda A: ([A.rows, A.cols, A.values, list(A.shape)], {})),
    (Transpose, lambda A: ([A.base], {})),
    (Adjoint, lambda A: ([A.base], {})),
    (Conjugate, lambda A: ([A.base], {})),
]:
    register(_cls, _fn)


# ----------------------------------------------------------------------------------------------
# encoding
# ----------------------------------------------------------------------------------------------


class _Encoder:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def node(self, A: StructuredMatrix, depth: int = 0) -> dict:
        if depth > _MAX_DEPTH:
            raise ValueError(f"operator tree deeper than {_MAX_DEPTH} levels")
        name = _name_of(A)
        args, kwargs = _REGISTRY[name][1](A)
        return {
            "class": name,
            "shape": [int(d) for d in A.shape],
            "dtype": dtype_name(A.dtype),
            "args": [self.value(v, depth) for v in args],
            "kwargs": {str(k): self.value(v, depth) for k, v in kwargs.items()},
        }

    def value(self, v: Any, depth: int) -> Any:
        if isinstance(v, StructuredMatrix):
            return {"op": self.node(v, depth + 1)}
        if B.is_array(v):
            arr = np.ascontiguousarray(B.native_byteorder(B.to_numpy(v)))
            if arr.dtype.name not in _ARRAY_DTYPES:
                raise TypeError(
                    f"cannot save an array of dtype {arr.dtype}; expected one of "
                    f"{', '.join(_ARRAY_DTYPES)}"
                )
            key = f"a{len(self.arrays)}"
            self.arrays[key] = arr
            return {"array": key}
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            return float(v)
        if isinstance(v, (complex, np.complexfloating)):
            return {"complex": [float(v.real), float(v.imag)]}
        if isinstance(v, (list, tuple)):
            return {"list": [self.value(x, depth) for x in v]}
        raise TypeError(f"cannot save a constructor argument of type {type(v).__name__}")


def _name_of(A: StructuredMatrix) -> str:
    for key, (cls, _) in _REGISTRY.items():
        if type(A) is cls:
            return key
    raise TypeError(
        f"{type(A).__module__}.{type(A).__qualname__} is not a registered structured matrix "
        f"class; make it loadable with structmat.io.register"
    )


def _digest(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def _header(root: dict, arrays: dict[str, np.ndarray]) -> str:
    from . import __version__

    meta = {
        k: {"dtype": a.dtype.name, "shape": list(a.shape), "sha256": _digest(a)}
        for k, a in arrays.items()
    }
    doc = {
        "format": _FORMAT,
        "version": FORMAT_VERSION,
        "structmat": __version__,
        "root": root,
        "arrays": meta,
    }
    return json.dumps(doc, allow_nan=False, separators=(",", ":"))


def _npz_bytes(header: str, arrays: dict[str, np.ndarray]) -> bytes:
    buf = _io.BytesIO()
    members = dict(arrays)
    members[_HEADER_KEY] = np.frombuffer(header.encode("utf-8"), dtype=np.uint8)
    np.savez(buf, **members)  # type: ignore[arg-type]  # member names, not allow_pickle
    return buf.getvalue()


def _safetensors_module():
    try:
        import safetensors.numpy as stn
    except ImportError as exc:  # pragma: no cover - safetensors is in the test extra
        raise ImportError(
            "format='safetensors' needs the safetensors package: pip install 'structmat[io]' "
            "(or pip install safetensors); the default .npz format needs nothing extra"
        ) from exc
    return stn


def _safetensors_bytes(header: str, arrays: dict[str, np.ndarray]) -> bytes:
    stn = _safetensors_module()
    tensors = {}
    for k, a in arrays.items():
        if a.dtype.kind == "c":
            real = np.float32 if a.dtype == np.complex64 else np.float64
            a = np.ascontiguousarray(a).view(real).reshape(a.shape + (2,))
        tensors[k] = np.ascontiguousarray(a)
    return stn.save(tensors, metadata={"structmat": header})


def _write_atomic(path: pathlib.Path, data: bytes, overwrite: bool) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory."""
    directory = path.parent if str(path.parent) else pathlib.Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # atomic, and refuses an existing path
            except FileExistsError:
                raise FileExistsError(f"{path} exists; pass overwrite=True to replace it") from None
            except OSError:  # no hard links on this file system
                if path.exists():
                    raise FileExistsError(
                        f"{path} exists; pass overwrite=True to replace it"
                    ) from None
                os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save(
    path: str | os.PathLike,
    op: StructuredMatrix,
    *,
    format: str | None = None,
    overwrite: bool = False,
) -> pathlib.Path:
    """Save a structured matrix (any operator tree) to ``path``.

    Parameters
    ----------
    path : str or path-like
        Destination.  Its suffix picks the format when ``format`` is None:
        ``.safetensors`` gives safetensors, anything else ``.npz``.
    op : StructuredMatrix
        The matrix; every class in the tree must be registered (all classes of structmat
        are, see :func:`register` for others).  Parameters of any backend are saved as
        host NumPy arrays (torch tensors detached).
    format : {"npz", "safetensors"}, optional
    overwrite : bool, default False
        An existing ``path`` raises ``FileExistsError`` unless this is True.

    Returns
    -------
    pathlib.Path
        The path written.  The file appears complete or not at all (written to a temporary
        file in the same directory and moved into place).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> import structmat
    >>> M = structmat.Monarch.random(16, seed=0)
    >>> op = 2.0 * M.T @ structmat.DFT(16)
    >>> path = os.path.join(tempfile.mkdtemp(), "op.npz")
    >>> _ = structmat.save(path, op)
    >>> back = structmat.load(path)
    >>> bool(np.array_equal(back.to_dense(), op.to_dense()))
    True
    """
    if not isinstance(op, StructuredMatrix):
        raise TypeError(f"op must be a StructuredMatrix; got {type(op).__name__}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like; got {type(path).__name__}")
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False; got {overwrite!r}")
    p = pathlib.Path(path)
    if format is None:
        format = "safetensors" if p.suffix.lower() == ".safetensors" else "npz"
    if format not in ("npz", "safetensors"):
        raise ValueError(f"format must be 'npz' or 'safetensors'; got {format!r}")
    if p.exists() and not overwrite:
        raise FileExistsError(f"{p} exists; pass overwrite=True to replace it")
    enc = _Encoder()
    root = enc.node(op)
    header = _header(root, enc.arrays)
    data = (_npz_bytes if format == "npz" else _safetensors_bytes)(header, enc.arrays)
    _write_atomic(p, data, overwrite)
    return p


# ----------------------------------------------------------------------------------------------
# decoding
# ----------------------------------------------------------------------------------------------


def _read_npz(data: bytes, where: str) -> tuple[str, dict[str, np.ndarray]]:
    try:
        with np.load(_io.BytesIO(data), allow_pickle=False) as npz:
            names = list(npz.files)
            if _HEADER_KEY not in names:
                raise ValueError(
                    f"{where}: a .npz file without a structmat header (member "
                    f"{_HEADER_KEY!r}); not written by structmat.save"
                )
            raw = npz[_HEADER_KEY]
            arrays = {k: npz[k] for k in names if k != _HEADER_KEY}
    except ValueError as exc:
        if str(exc).startswith(where):
            raise
        raise ValueError(f"{where}: unreadable .npz content ({exc})") from exc
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, zipfile.LargeZipFile) as exc:
        raise ValueError(f"{where}: truncated or corrupted .npz file ({exc})") from exc
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError(f"{where}: the structmat header is not a uint8 byte array")
    try:
        return raw.tobytes().decode("utf-8"), arrays
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: the structmat header is not UTF-8 text") from exc


def _read_safetensors(data: bytes, where: str, header_doc: dict) -> tuple[str, dict]:
    meta = header_doc.get("__metadata__")
    if not isinstance(meta, dict) or "structmat" not in meta:
        raise ValueError(
            f"{where}: a safetensors file without structmat metadata; not written by structmat.save"
        )
    stn = _safetensors_module()
    try:
        arrays = dict(stn.load(data))
    except Exception as exc:  # the Rust reader raises its own error type
        raise ValueError(f"{where}: truncated or corrupted safetensors file ({exc})") from exc
    return meta["structmat"], arrays


def _sniff(data: bytes, where: str) -> tuple[str, dict[str, np.ndarray]]:
    """The JSON header text and the raw arrays of a file in either container."""
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _read_npz(data, where)
    if len(data) >= 10:
        (n,) = struct.unpack("<Q", data[:8])
        if data[8:9] == b"{" and 8 + n <= len(data):
            try:
                doc = json.loads(data[8 : 8 + n].decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValueError(f"{where}: corrupted safetensors header ({exc})") from exc
            if isinstance(doc, dict):
                return _read_safetensors(data, where, doc)
        if data[8:9] == b"{":
            raise ValueError(
                f"{where}: truncated safetensors file (header of {n} bytes, file of {len(data)})"
            )
    if not data:
        raise ValueError(f"{where}: empty file")
    raise ValueError(f"{where}: not a structmat file (neither .npz nor safetensors content)")


class _Decoder:
    def __init__(self, where: str, arrays: dict[str, np.ndarray]):
        self.where = where
        self.arrays = arrays
        self.used: set[str] = set()

    def fail(self, at: str, msg: str) -> ValueError:
        return ValueError(f"{self.where}: {msg} (at {at})")

    def node(self, doc: Any, at: str, depth: int = 0) -> StructuredMatrix:
        if depth > _MAX_DEPTH:
            raise self.fail(at, f"operator tree deeper than {_MAX_DEPTH} levels")
        if not isinstance(doc, dict) or set(doc) != {"class", "shape", "dtype", "args", "kwargs"}:
            raise self.fail(
                at, "a node must be an object with keys class, shape, dtype, args, kwargs"
            )
        name = doc["class"]
        if not isinstance(name, str) or name not in _REGISTRY:
            raise self.fail(
                at,
                f"unknown class {name!r}; loadable classes are "
                f"{', '.join(sorted(_REGISTRY))} (others: structmat.io.register)",
            )
        args, kwargs = doc["args"], doc["kwargs"]
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise self.fail(at, "args must be a list and kwargs an object")
        pos = [self.value(v, f"{at}.args[{i}]", depth) for i, v in enumerate(args)]
        kw = {k: self.value(v, f"{at}.kwargs.{k}", depth) for k, v in kwargs.items()}
        cls = _REGISTRY[name][0]
        try:
            op = cls(*pos, **kw)
        except (TypeError, ValueError) as exc:
            raise self.fail(at, f"invalid {name}: {exc}") from exc
        shape = doc["shape"]
        if [int(d) for d in op.shape] != shape:
            raise self.fail(at, f"{name} has shape {list(op.shape)} but the file says {shape}")
        if dtype_name(op.dtype) != doc["dtype"]:
            raise self.fail(
                at, f"{name} has dtype {dtype_name(op.dtype)} but the file says {doc['dtype']!r}"
            )
        return op

    def value(self, v: Any, at: str, depth: int) -> Any:
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, dict) and len(v) == 1:
            ((key, val),) = v.items()
            if key == "op":
                return self.node(val, at, depth + 1)
            if key == "array":
                if not isinstance(val, str) or val not in self.arrays:
                    raise self.fail(at, f"reference to a missing array {val!r}")
                if val in self.used:
                    raise self.fail(at, f"array {val!r} referenced twice")
                self.used.add(val)
                return self.arrays[val]
            if key == "list" and isinstance(val, list):
                return [self.value(x, f"{at}[{i}]", depth) for i, x in enumerate(val)]
            if key == "complex":
                if (
                    isinstance(val, list)
                    and len(val) == 2
                    and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in val)
                ):
                    return complex(val[0], val[1])
        raise self.fail(at, f"unsupported value {json.dumps(v)[:80]}")


def _check_arrays(
    meta: Any, raw: dict[str, np.ndarray], where: str, restore_complex: bool
) -> dict[str, np.ndarray]:
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: header field 'arrays' must be an object")
    missing = sorted(set(meta) - set(raw))
    extra = sorted(set(raw) - set(meta))
    if missing:
        raise ValueError(f"{where}: arrays {missing} are declared but missing (truncated file?)")
    if extra:
        raise ValueError(f"{where}: arrays {extra} are not declared in the header")
    out = {}
    for key, m in meta.items():
        if (
            not isinstance(m, dict)
            or m.get("dtype") not in _ARRAY_DTYPES
            or not isinstance(m.get("shape"), list)
            or not all(isinstance(d, int) and d >= 0 for d in m["shape"])
            or not isinstance(m.get("sha256"), str)
        ):
            raise ValueError(f"{where}: invalid declaration of array {key!r}: {m!r}"[:300])
        a = raw[key]
        dt = np.dtype(m["dtype"])
        if restore_complex and dt.kind == "c":
            real = np.float32 if dt == np.complex64 else np.float64
            if a.dtype != real or a.ndim < 1 or a.shape[-1] != 2:
                raise ValueError(
                    f"{where}: array {key!r} has dtype {a.dtype} and shape "
                    f"{a.shape}; expected {np.dtype(real).name} pairs"
                )
            a = np.ascontiguousarray(a).view(dt)[..., 0]
        if a.dtype.newbyteorder("=") != dt or list(a.shape) != m["shape"]:
            raise ValueError(
                f"{where}: array {key!r} has dtype {a.dtype} and shape "
                f"{list(a.shape)}; the header says {dt.name} {m['shape']}"
            )
        a = B.native_byteorder(a)
        if _digest(a) != m["sha256"]:
            raise ValueError(
                f"{where}: array {key!r} is corrupted (its SHA-256 digest does not "
                f"match the header)"
            )
        out[key] = a
    return out


def load(path: str | os.PathLike, *, xp: Any = None) -> StructuredMatrix:
    """Load a structured matrix written by :func:`save`.

    The container (``.npz`` or safetensors) is recognised from the content, not the name.
    Nothing in the file is executed: classes come from the registry (:func:`registered`),
    arrays are read without pickle, and everything is validated (see the module
    docstring).

    Parameters
    ----------
    path : str or path-like
    xp : namespace or name, optional
        Backend of the parameters (``"numpy"`` by default; ``"torch"``, ``"cupy"``, a module,
        ...); the loaded matrix is moved with :meth:`~structmat.StructuredMatrix.to_backend`.

    Raises
    ------
    ValueError
        For a truncated, corrupted or foreign file, a newer format version, an unknown class,
        or content that does not validate; the message names the file and the problem.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> import structmat
    >>> path = os.path.join(tempfile.mkdtemp(), "perm.safetensors")
    >>> _ = structmat.save(path, structmat.Permutation([2, 0, 1]))
    >>> structmat.load(path).perm
    array([2, 0, 1])
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like; got {type(path).__name__}")
    p = pathlib.Path(path)
    where = str(p)
    with open(p, "rb") as fh:
        data = fh.read()
    text, raw = _sniff(data, where)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: corrupted structmat header ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        raise ValueError(
            f"{where}: not a structmat operator file (format field "
            f"{doc.get('format') if isinstance(doc, dict) else None!r})"
        )
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{where}: invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{where}: written in format version {version} by a newer structmat; "
            f"this one reads versions up to {FORMAT_VERSION} (upgrade structmat)"
        )
    arrays = _check_arrays(doc.get("arrays"), raw, where, restore_complex=data[:2] != b"PK")
    dec = _Decoder(where, arrays)
    op = dec.node(doc.get("root"), "root")
    unused = sorted(set(arrays) - dec.used)
    if unused:
        raise ValueError(f"{where}: arrays {unused} are not used by the operator tree")
    if xp is not None:
        op = op.to_backend(xp)
    return op
