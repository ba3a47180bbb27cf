"""Checks for structured matrices: the dot test and the protocol checks structmat runs on its own
classes, for a user who writes a new one.

A class that derives from :class:`~structmat.StructuredMatrix` supplies two kernels
(``_mul_cols``: ``A @ X`` on columns, ``_mul_rows``: ``X @ A`` on rows) and inherits the rest.
:func:`check_operator` then checks what a user of the class relies on — shapes and dtypes,
``A @ x`` for 1-D, 2-D and batched operands, ``X @ A``, ``.T``/``.H``/``.conj()``, the adjoint
by :func:`dottest`, results that never alias the operand, composition, pickling and parameter
counts — against the class's own ``to_dense()`` or, better, an independent dense reference.

Tolerances follow from the dtype and the size: a result computed in a dtype of machine epsilon
``eps`` through ``depth`` chained stages of sums of length ``n`` may differ from the exact one by
about ``8 eps sqrt(n) depth`` relative to the scale of the result (``rtol`` overrides it).
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np

from . import _backend as B
from .base import StructuredMatrix, dtype_name

__all__ = ["dottest", "check_operator", "default_rtol"]


def default_rtol(dtype: Any, n: int, depth: int = 1) -> float:
    """The relative tolerance of a result in ``dtype`` from sums of length ``n`` over
    ``depth`` chained stages: ``8 eps sqrt(n) depth``.

    Examples
    --------
    >>> from structmat.testing import default_rtol
    >>> default_rtol("float64", 64) == 8 * 2.0**-52 * 8
    True
    """
    dt = np.dtype(dtype if isinstance(dtype, (str, np.dtype)) else dtype_name(dtype))
    return 8.0 * float(np.finfo(dt).eps) * math.sqrt(max(int(n), 2)) * max(1, int(depth))


def _check_matrix(A: Any) -> StructuredMatrix:
    if not isinstance(A, StructuredMatrix):
        raise TypeError(f"A must be a structmat.StructuredMatrix; got {type(A).__name__}")
    return A


def _draw(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def _operand_dtype(A: StructuredMatrix) -> np.dtype:
    return np.dtype(dtype_name(A.dtype))


def _xp(A: StructuredMatrix):
    return A.xp if A.xp is not None else np


def _close(actual, expected, scale: float, tol: float, what: str) -> None:
    a = np.asarray(actual)
    e = np.asarray(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{what}: shape {a.shape}, expected {e.shape}")
    err = float(np.max(np.abs(a - e))) if a.size else 0.0
    if not err <= tol * max(scale, 1e-300):
        raise AssertionError(f"{what}: max error {err:.3e} exceeds {tol:.3e} x scale {scale:.3e}")


def dottest(
    A: Any,
    *,
    rtol: float | None = None,
    depth: int | None = None,
    seed: int = 0,
    complex_operands: bool | None = None,
) -> float:
    """The dot test: ``<A x, y> = <x, A^H y>`` with ``A^H`` the matrix's own ``.H``.

    Parameters
    ----------
    A : StructuredMatrix
    rtol : float, optional
        Tolerance relative to ``||A x|| ||y|| + ||x|| ||A^H y||``; default
        :func:`default_rtol` of the dtype, the larger side and ``depth``.
    depth : int, optional
        Chained stages of the multiply (default ``ceil(log2 n) + 2``, enough for fast
        transforms).
    seed : int
        Seed of the random ``x`` and ``y``.
    complex_operands : bool, optional
        Draw complex ``x``, ``y`` (default: when ``A`` is complex).

    Returns
    -------
    float
        The relative mismatch found.

    Raises
    ------
    AssertionError
        When the mismatch exceeds the tolerance (the adjoint is wrong).
    TypeError
        When ``A`` is not a :class:`~structmat.StructuredMatrix`.

    Examples
    --------
    >>> import structmat as sm
    >>> from structmat.testing import dottest
    >>> dottest(sm.DFT(12)) < 1e-12
    True
    """
    A = _check_matrix(A)
    xp = _xp(A)
    n_out, n_in = A.shape
    dt = _operand_dtype(A)
    if complex_operands is None:
        complex_operands = dt.kind == "c"
    if complex_operands and dt.kind != "c":
        dt = np.dtype(np.complex64 if dt == np.float32 else np.complex128)
    n = max(n_out, n_in)
    if depth is None:
        depth = math.ceil(math.log2(max(n, 2))) + 2
    tol = default_rtol(dt, n, depth) if rtol is None else float(rtol)
    rng = np.random.default_rng(seed)
    x, y = _draw(rng, n_in, dt), _draw(rng, n_out, dt)
    Ax = B.to_numpy(A @ xp.asarray(x))
    AHy = B.to_numpy(A.H @ xp.asarray(y))
    if Ax.shape != (n_out,) or AHy.shape != (n_in,):
        raise AssertionError(
            f"dot test: A @ x has shape {Ax.shape} (expected {(n_out,)}), "
            f"A.H @ y has shape {AHy.shape} (expected {(n_in,)})"
        )
    lhs = complex(np.vdot(y.astype(np.complex128), Ax.astype(np.complex128)))
    rhs = complex(np.vdot(AHy.astype(np.complex128), x.astype(np.complex128)))
    scale = np.linalg.norm(Ax) * np.linalg.norm(y) + np.linalg.norm(x) * np.linalg.norm(AHy)
    mismatch = abs(lhs - rhs) / max(float(scale), 1e-300)
    if not mismatch <= tol:
        raise AssertionError(
            f"dot test failed for {type(A).__name__} {A.shape}: "
            f"<A x, y> = {lhs:.6g}, <x, A^H y> = {rhs:.6g}, relative mismatch "
            f"{mismatch:.3e} > {tol:.3e}"
        )
    return float(mismatch)


def check_operator(
    A: Any,
    reference: Any = None,
    *,
    rtol: float | None = None,
    depth: int | None = None,
    seed: int = 0,
    pickling: bool = True,
) -> None:
    """Run structmat's protocol checks on one matrix.

    Parameters
    ----------
    A : StructuredMatrix
        The matrix to check.
    reference : array_like, optional
        An independent dense matrix (NumPy, float64/complex128 preferred) that ``A`` should
        equal.  Without it, ``A.to_dense()`` is the reference and only consistency is checked.
    rtol, depth, seed
        As in :func:`dottest`.
    pickling : bool
        Check that ``A`` pickles bit-exactly (default ``True``).

    Raises
    ------
    AssertionError
        Naming the first check that failed.
    TypeError
        When ``A`` is not a :class:`~structmat.StructuredMatrix`.

    Notes
    -----
    The checks: ``shape`` is two positive ints and ``dtype`` a floating dtype; ``nparams``
    and ``flops(b)`` are non-negative ints, ``flops`` non-decreasing in ``b``;
    ``to_dense()`` has the shape and dtype (and equals ``reference``); ``A @ x`` for
    ``x`` of shape ``(n_in,)``, ``(n_in, 3)`` and ``(2, n_in, 3)``, ``X @ A`` and
    ``A.rmatmul(X)`` for ``X`` of shape ``(3, n_out)``, against the dense matrix; ``.T``,
    ``.H`` and ``.conj()`` against its transpose, adjoint and conjugate, and ``.T.T`` back;
    the dot test of ``A`` and ``A.T``; results never share memory with the operand;
    ``(A.H @ A) @ x == A.H @ (A @ x)``; a pickle round trip gives the same dense matrix
    bit for bit.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> import structmat as sm
    >>> from structmat.testing import check_operator
    >>> check_operator(sm.Hadamard(16), scipy.linalg.hadamard(16))
    """
    A = _check_matrix(A)
    xp = _xp(A)
    shape = A.shape
    if (
        not isinstance(shape, tuple)
        or len(shape) != 2
        or not all(isinstance(s, int) and s >= 1 for s in shape)
    ):
        raise AssertionError(f"shape must be a tuple of two positive ints; got {shape!r}")
    n_out, n_in = shape
    dt = _operand_dtype(A)
    if dt.kind not in "fc":
        raise AssertionError(f"dtype must be a floating dtype; got {dt}")
    n = max(n_out, n_in)
    if depth is None:
        depth = math.ceil(math.log2(max(n, 2))) + 2
    tol = default_rtol(dt, n, depth) if rtol is None else float(rtol)
    name = f"{type(A).__name__} {shape}"

    npar = A.nparams
    f1, f3 = A.flops(1), A.flops(3)
    for what, v in (("nparams", npar), ("flops(1)", f1), ("flops(3)", f3)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise AssertionError(f"{name}: {what} must be a non-negative int; got {v!r}")
    if f3 < f1:
        raise AssertionError(f"{name}: flops(3) = {f3} < flops(1) = {f1}")

    D = A.to_dense()
    Dn = B.to_numpy(D)
    if Dn.shape != shape:
        raise AssertionError(f"{name}: to_dense() has shape {Dn.shape}")
    if Dn.dtype != dt:
        raise AssertionError(f"{name}: to_dense() has dtype {Dn.dtype}, A.dtype is {dt}")
    wide = np.complex128 if dt.kind == "c" else np.float64
    if reference is not None:
        ref = np.asarray(B.to_numpy(reference))
        if ref.shape != shape:
            raise AssertionError(f"{name}: reference has shape {ref.shape}")
        if np.iscomplexobj(ref):
            wide = np.complex128
        ref = ref.astype(wide)
    else:
        ref = Dn.astype(wide)
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    _close(Dn, ref, scale, tol, f"{name}: to_dense() against the reference")

    rng = np.random.default_rng(seed)
    x1 = _draw(rng, n_in, dt)
    X2 = _draw(rng, (n_in, 3), dt)
    X3 = _draw(rng, (2, n_in, 3), dt)
    R2 = _draw(rng, (3, n_out), dt)

    def against(op, Xn, expected, what):
        Xx = xp.asarray(Xn)
        Y = op(Xx)
        if B.is_array(Y) and B.shares_memory(Y, Xx):
            raise AssertionError(f"{name}: {what} shares memory with its operand")
        Yn = B.to_numpy(Y)
        sc = scale * float(np.max(np.abs(Xn))) * max(n_in, n_out)
        _close(Yn, expected, sc, tol, f"{name}: {what}")
        return Yn

    against(lambda X: A @ X, x1, ref @ x1, "A @ x (1-D)")
    against(lambda X: A @ X, X2, ref @ X2, "A @ X (columns)")
    against(lambda X: A @ X, X3, ref @ X3, "A @ X (batched)")
    if B.is_numpy(xp):
        # other namespaces' arrays need not defer ``X @ A`` to ``A``: ``A.rmatmul(X)`` is the
        # portable spelling
        against(lambda X: X @ A, R2, R2 @ ref, "X @ A (rows)")
    against(lambda X: A.rmatmul(X), R2, R2 @ ref, "A.rmatmul(X)")
    for what, W, Wref in (
        ("A.T", A.T, ref.T),
        ("A.H", A.H, ref.conj().T),
        ("A.conj()", A.conj(), ref.conj()),
        ("A.T.T", A.T.T, ref),
    ):
        Wn = B.to_numpy(W.to_dense())
        if W.shape != Wref.shape:
            raise AssertionError(f"{name}: {what} has shape {W.shape}")
        _close(Wn, Wref, scale, tol, f"{name}: {what}.to_dense()")
    y = _draw(rng, n_out, dt)
    against(lambda X: A.H @ X, y, ref.conj().T @ y, "A.H @ y")
    dottest(A, rtol=rtol, depth=depth, seed=seed)
    dottest(A.T, rtol=rtol, depth=depth, seed=seed + 1)
    G = A.H @ A
    lhs = B.to_numpy(G @ xp.asarray(x1))
    rhs = B.to_numpy(A.H @ (A @ xp.asarray(x1)))
    _close(
        lhs,
        rhs,
        float(np.max(np.abs(rhs))) if rhs.size else 0.0,
        tol,
        f"{name}: (A.H @ A) @ x against A.H @ (A @ x)",
    )
    if pickling:
        A2 = pickle.loads(pickle.dumps(A))
        D2 = B.to_numpy(A2.to_dense())
        if (
            D2.dtype != Dn.dtype
            or D2.shape != Dn.shape
            or not np.array_equal(D2, Dn, equal_nan=True)
        ):
            raise AssertionError(f"{name}: a pickle round trip changed the matrix")
