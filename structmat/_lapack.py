"""A batched positive-definiteness test: one LAPACK ``potrf`` per matrix, without NumPy overhead.

The projection's certificate (:mod:`structmat.projection`) proves, for thousands of small
Hermitian matrices at once, that each is positive definite (an inertia count).  NumPy's
batched ``numpy.linalg.cholesky`` raises for the whole stack when one matrix fails and spends
most of its time copying each matrix in and out of Fortran order; SciPy's ``potrf`` wrapper holds
the GIL.  This module calls LAPACK's ``?potrf`` from SciPy's public Cython LAPACK table
(:mod:`scipy.linalg.cython_lapack`, the same library SciPy itself uses) through :mod:`ctypes`,
which releases the GIL during the call, so several threads factor different matrices in
parallel, and reports each matrix's own status.  Where the table cannot be read, SciPy's regular
wrapper is used instead (same results, slower).

A Hermitian matrix stored C-contiguously is, read in Fortran order, its own transpose (the
complex conjugate): positive definite exactly when the matrix is.  No copies are needed.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import numpy as np

__all__ = ["cholesky_ok"]

_CHARS = {
    np.dtype(np.float32): "s",
    np.dtype(np.float64): "d",
    np.dtype(np.complex64): "c",
    np.dtype(np.complex128): "z",
}
_lock = threading.Lock()
_funcs: dict = {}


def capsule_address(module: Any, name: str) -> int | None:
    """The address of the C function ``name`` in one of SciPy's Cython BLAS/LAPACK tables
    (:mod:`scipy.linalg.cython_blas`, :mod:`scipy.linalg.cython_lapack`), or ``None``."""
    try:
        cap = module.__pyx_capi__[name]
        api = ctypes.pythonapi
        api.PyCapsule_GetName.restype = ctypes.c_char_p
        api.PyCapsule_GetName.argtypes = [ctypes.py_object]
        api.PyCapsule_GetPointer.restype = ctypes.c_void_p
        api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
        ptr = api.PyCapsule_GetPointer(cap, api.PyCapsule_GetName(cap))
        return int(ptr) if ptr else None
    except Exception:  # pragma: no cover - SciPy without the table
        return None


def _capsule_function(module: Any, name: str, nargs: int):
    """The C function ``name`` of one of SciPy's Cython BLAS/LAPACK tables, or ``None``.

    Every argument is a pointer (Fortran calling convention); the result is a ctypes
    function that releases the GIL during the call.
    """
    ptr = capsule_address(module, name)
    if ptr is None:
        return None
    return ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * nargs))(ptr)


#: up to this order the unblocked ``?potf2`` is used (no blocking overhead for small matrices)
_UNBLOCKED_MAX = 128


def _potrf(dtype: np.dtype, m: int = 0):
    """``?potf2`` (``m <= _UNBLOCKED_MAX``) or ``?potrf``:
    ``void potrf(char *uplo, int *n, T *a, int *lda, int *info)``."""
    name = _CHARS[dtype] + ("potf2" if m <= _UNBLOCKED_MAX else "potrf")
    with _lock:
        if name not in _funcs:
            from scipy.linalg import cython_lapack

            _funcs[name] = _capsule_function(cython_lapack, name, 5)
        return _funcs[name]


def cholesky_ok(H: np.ndarray) -> np.ndarray:
    """Factor each Hermitian ``H[z]`` in place by Cholesky; ``True`` where it succeeded.

    Parameters
    ----------
    H : numpy.ndarray, shape (Z, m, m), C-contiguous, float32/float64/complex64/complex128
        Hermitian matrices (only one triangle is read).  Overwritten by the factors.

    Returns
    -------
    numpy.ndarray of bool, shape (Z,)
        ``True`` where LAPACK's ``potrf`` ran to completion (every pivot positive).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat._lapack import cholesky_ok
    >>> H = np.stack([np.eye(3), -np.eye(3), np.diag([1.0, 2.0, 0.0])])
    >>> cholesky_ok(H).tolist()
    [True, False, False]
    """
    if H.ndim != 3 or H.shape[1] != H.shape[2] or not H.flags.c_contiguous:
        raise ValueError("H must be a C-contiguous stack of square matrices (Z, m, m)")
    dt = np.dtype(H.dtype)
    if dt not in _CHARS:
        raise TypeError(f"H must be float32, float64, complex64 or complex128; got {dt}")
    Z, m = int(H.shape[0]), int(H.shape[1])
    out = np.zeros(Z, dtype=bool)
    if Z == 0 or m == 0:
        out[:] = True
        return out
    f = _potrf(dt, m)
    if f is None:  # pragma: no cover - fallback path
        from scipy.linalg import lapack

        g = getattr(lapack, _CHARS[dt] + "potrf")
        for z in range(Z):
            _, info = g(H[z].T, lower=1, overwrite_a=1, clean=0)
            out[z] = info == 0
        return out
    uplo = ctypes.c_char(b"L")
    n = ctypes.c_int(m)
    info = ctypes.c_int(0)
    pu, pn, pi = ctypes.byref(uplo), ctypes.byref(n), ctypes.byref(info)
    base = H.ctypes.data
    stride = m * m * dt.itemsize
    for z in range(Z):
        f(pu, pn, base + z * stride, pn, pi)
        out[z] = info.value == 0
    return out


_BLAS_R1 = {
    np.dtype(np.float32): "ssyr",
    np.dtype(np.float64): "dsyr",
    np.dtype(np.complex64): "cher",
    np.dtype(np.complex128): "zher",
}


def _rank1(dtype: np.dtype):
    """``?syr`` / ``?her`` (rank-1 update of one triangle):
    ``void syr(char *uplo, int *n, R *alpha, T *x, int *incx, T *a, int *lda)``."""
    name = _BLAS_R1[dtype]
    with _lock:
        if name not in _funcs:
            from scipy.linalg import cython_blas

            _funcs[name] = _capsule_function(cython_blas, name, 7)
        return _funcs[name]


def rank1_cholesky_ok(H: np.ndarray, x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``True`` where ``H[z] + alpha[z] x[z] x[z]^H`` is positive definite (Cholesky).

    Parameters
    ----------
    H : numpy.ndarray, shape (Z, m, m), C-contiguous
        Hermitian matrices, stored so that their Fortran reading (the transpose) is the
        matrix meant; overwritten by the updated factors.
    x : numpy.ndarray, shape (Z, m), C-contiguous, same dtype
    alpha : numpy.ndarray, shape (Z,), real, non-negative

    Returns
    -------
    numpy.ndarray of bool, shape (Z,)

    Notes
    -----
    One BLAS rank-1 update (``?syr``/``?her``, lower triangle) and one ``?potrf`` per matrix,
    while the matrix is in cache; no temporary the size of the stack.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat._lapack import rank1_cholesky_ok
    >>> H = np.stack([-np.eye(2), -np.eye(2)])
    >>> x = np.array([[1.0, 0.0], [0.0, 0.0]])
    >>> rank1_cholesky_ok(H.copy(), x, np.array([2.0, 2.0])).tolist()   # diag(1, -1): no
    [False, False]
    >>> H = np.stack([np.diag([-1.0, 1.0])])
    >>> rank1_cholesky_ok(H, np.array([[1.0, 0.0]]), np.array([2.0])).tolist()
    [True]
    """
    dt = np.dtype(H.dtype)
    if H.ndim != 3 or H.shape[1] != H.shape[2] or not H.flags.c_contiguous:
        raise ValueError("H must be a C-contiguous stack of square matrices (Z, m, m)")
    Z, m = int(H.shape[0]), int(H.shape[1])
    x = np.ascontiguousarray(x, dtype=dt)
    rdt = np.finfo(dt).dtype
    alpha = np.ascontiguousarray(alpha, dtype=rdt)
    g = _rank1(dt)
    f = _potrf(dt, m)
    if f is None or g is None:  # pragma: no cover - fallback path
        H += (alpha[:, None, None] * np.conj(x)[:, :, None]) * x[:, None, :]
        return cholesky_ok(H)
    out = np.zeros(Z, dtype=bool)
    uplo = ctypes.c_char(b"L")
    n = ctypes.c_int(m)
    one = ctypes.c_int(1)
    info = ctypes.c_int(0)
    pu, pn, p1, pi = ctypes.byref(uplo), ctypes.byref(n), ctypes.byref(one), ctypes.byref(info)
    hb, xb, ab = H.ctypes.data, x.ctypes.data, alpha.ctypes.data
    hs, xs, asz = m * m * dt.itemsize, m * dt.itemsize, rdt.itemsize
    for z in range(Z):
        g(pu, pn, ab + z * asz, xb + z * xs, p1, hb + z * hs, pn)
        f(pu, pn, hb + z * hs, pn, pi)
        out[z] = info.value == 0
    return out
