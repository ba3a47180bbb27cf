"""Array helpers shared by the projection modules: input validation, namespace-generic
elementwise helpers, exact power-of-two scaling and scale-safe energies.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _backend as B
from ..base import StructuredMatrix


def _as_dense(A: Any, name: str = "A", check_finite: bool = True) -> tuple[Any, Any]:
    """Validate a dense operand of shape ``(..., n_out, n_in)``; return ``(array, xp)``.

    ``check_finite=False`` leaves the NaN/Inf test to the caller (the projection proves
    finiteness from its slab energies, saving a pass over ``A``).
    """
    if isinstance(A, StructuredMatrix):
        A = A.to_dense()
    if B.is_array(A):
        xp = B.get_namespace(A)
        A = B.native_byteorder(A)
    elif isinstance(A, (list, tuple)):
        xp = B.resolve_xp(None)
        try:
            A = xp.asarray(A)
        except Exception as exc:
            raise TypeError(
                f"{name} must be an array of shape (..., n_out, n_in); got a ragged "
                f"{type(A).__name__}"
            ) from exc
    else:
        raise TypeError(
            f"{name} must be an array of shape (..., n_out, n_in); got {type(A).__name__}"
        )
    if A.ndim < 2:
        raise ValueError(
            f"{name} must be a matrix (n_out, n_in) or a stack of matrices (..., n_out, n_in); "
            f"got a {A.ndim}-D array of shape {tuple(A.shape)}"
        )
    if A.dtype not in (xp.float32, xp.float64, xp.complex64, xp.complex128):
        raise TypeError(
            f"{name} has dtype {A.dtype}; expected float32, float64, complex64 or complex128 "
            f"(integer, boolean and float16 arrays must be cast explicitly, e.g. "
            f"xp.astype({name}, xp.float64))"
        )
    if any(int(d) == 0 for d in A.shape):
        raise ValueError(f"{name} must not be empty; got shape {tuple(A.shape)}")
    if check_finite and not B.all_finite(xp, A):
        raise ValueError(f"{name} contains NaN or Inf entries")
    return A, xp


def _is_complex(xp, dt) -> bool:
    return xp.isdtype(dt, "complex floating")


def _conj(xp, x):
    return xp.conj(x) if _is_complex(xp, x.dtype) else x


def _H(xp, x):
    """Conjugate transpose of the last two axes."""
    return _conj(xp, xp.matrix_transpose(x))


def _real(xp, x):
    return xp.real(x) if _is_complex(xp, x.dtype) else x


def _abs2(xp, x):
    if _is_complex(xp, x.dtype):
        return xp.real(x) ** 2 + xp.imag(x) ** 2
    return x * x


def _eps(xp, dt) -> float:
    return float(xp.finfo(dt).eps)


def _host(x) -> np.ndarray:
    """Explicit host copy of a small bookkeeping array (masks, counts)."""
    return B.to_numpy(x)


def _random(xp, rng: np.random.Generator, shape, dtype):
    """Gaussian start vectors drawn on the host and moved to ``xp`` (deterministic)."""
    a = rng.standard_normal(shape)
    if _is_complex(xp, dtype):
        a = a + 1j * rng.standard_normal(shape)
        return xp.asarray(a.astype(np.complex128), dtype=dtype)
    return xp.asarray(a, dtype=dtype)


def _take(xp, x, idx: np.ndarray, axis: int = 0):
    """``x`` gathered along ``axis`` with host indices ``idx`` (skipped when the identity)."""
    if idx.shape[0] == x.shape[axis] and np.array_equal(idx, np.arange(idx.shape[0])):
        return x
    return xp.take(x, xp.asarray(idx.astype(np.int64)), axis=axis)


def _nest(items: list, shape: tuple[int, ...]):
    """Reshape a flat list into nested lists of ``shape`` (C order)."""
    if len(shape) <= 1:
        return list(items)
    step = math.prod(shape[1:])
    return [_nest(items[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def _flatten(items: Any, depth: int) -> list:
    if depth == 0:
        return [items]
    if isinstance(items, StructuredMatrix) or not isinstance(items, (list, tuple)):
        raise TypeError(f"expected a nested sequence of depth {depth} of Monarch matrices")
    out = []
    for it in items:
        out.extend(_flatten(it, depth - 1))
    return out


def _gram(xp, S, right: bool):
    """Batched Gram matrices ``S^H S`` (``right``) or ``S S^H``.

    For complex NumPy arrays the product is assembled from real products of the real and
    imaginary parts: NumPy's batched complex matmul goes through one small ``cgemm`` per
    matrix, which OpenBLAS runs many times slower than the real ``sgemm``/``dgemm`` calls
    (measured 10-40x on 64 x 64 blocks).
    """
    if not (_is_complex(xp, S.dtype) and B.is_numpy(xp)):
        return xp.matmul(_H(xp, S), S) if right else xp.matmul(S, _H(xp, S))
    re = np.ascontiguousarray(S.real)
    im = np.ascontiguousarray(S.imag)
    t = np.swapaxes
    if right:
        g_re = np.matmul(t(re, -1, -2), re) + np.matmul(t(im, -1, -2), im)
        g_im = np.matmul(t(re, -1, -2), im)
        g_im = g_im - t(g_im, -1, -2)
    else:
        g_re = np.matmul(re, t(re, -1, -2)) + np.matmul(im, t(im, -1, -2))
        g_im = np.matmul(im, t(re, -1, -2))
        g_im = g_im - t(g_im, -1, -2)
    out = np.empty(g_re.shape, dtype=S.dtype)
    out.real = g_re
    out.imag = g_im
    return out


def _matmul(xp, X, Y):
    """``X @ Y``; complex NumPy operands through real products (see :func:`_gram`)."""
    if not (B.is_numpy(xp) and (_is_complex(xp, X.dtype) or _is_complex(xp, Y.dtype))):
        return xp.matmul(X, Y)
    dt = np.result_type(X.dtype, Y.dtype)
    xr, xi = np.ascontiguousarray(X.real), np.ascontiguousarray(np.imag(X))
    yr, yi = np.ascontiguousarray(Y.real), np.ascontiguousarray(np.imag(Y))
    out = np.empty(
        np.broadcast_shapes(X.shape[:-1] + (1,), Y.shape[:-2] + (1, Y.shape[-1])), dtype=dt
    )
    out.real = np.matmul(xr, yr) - np.matmul(xi, yi)
    out.imag = np.matmul(xr, yi) + np.matmul(xi, yr)
    return out


class _NonFinite(Exception):
    """Some slab holds NaN or Inf entries."""


def _pow2_exponents(xp, S) -> np.ndarray | None:
    """Per-slab exponents ``e`` (host int64) with ``max |S[z]| * 2**-e`` in ``[0.5, 1)``; 0 for
    zero slabs; ``None`` when some entry is NaN or Inf."""
    mx = _host(xp.max(xp.abs(S), axis=(-2, -1))).astype(np.float64)
    if not np.all(np.isfinite(mx)):
        return None
    _, e = np.frexp(mx)
    return np.where(mx > 0, e, 0).astype(np.int64)


def _ldexp(xp, x, e: np.ndarray, axes: int = 2):
    """``x[z] * 2**e[z]`` (exact unless the result is subnormal) for a stack ``x`` whose last
    ``axes`` axes belong to one slab; ``e`` host integers."""
    if not np.any(e):
        return x
    if B.is_numpy(xp):
        ee = e.reshape(e.shape + (1,) * axes)
        if np.iscomplexobj(x):
            out = np.empty_like(x)
            out.real = np.ldexp(x.real, ee)
            out.imag = np.ldexp(x.imag, ee)
            return out
        return np.ldexp(x, ee).astype(x.dtype, copy=False)
    rdt = B.real_dtype_for(xp, x.dtype)
    rest = e.astype(np.int64)
    while np.any(rest):  # powers of two of at most 2^+-60 per step
        part = np.clip(rest, -60, 60)
        rest = rest - part
        f = xp.asarray(np.ldexp(1.0, part), dtype=rdt)
        x = x * xp.astype(xp.reshape(f, tuple(f.shape) + (1,) * axes), x.dtype)
    return x


def _slab_energy(xp, S) -> tuple[np.ndarray, np.ndarray]:
    """``(energy, e)``: ``||S[z]||_F^2 = energy[z] * 4**e[z]`` without under- or overflow."""
    e = _pow2_exponents(xp, S)
    if e is None:
        raise _NonFinite
    Ss = _ldexp(xp, S, -e)
    en = _host(xp.sum(_abs2(xp, Ss), axis=(-2, -1))).astype(np.float64)
    return en, e


def _wide(xp, dt):
    """float64 / complex128 for single-precision ``dt`` (whose squares then never under- or
    overflow), ``dt`` itself otherwise."""
    if dt == xp.float32:
        return xp.float64
    if dt == xp.complex64:
        return xp.complex128
    return dt


def _ratio(xp, num, den):
    safe = xp.where(den > 0, den, xp.ones_like(den))
    inf = xp.full(den.shape, math.inf, dtype=den.dtype)
    err = xp.where(den > 0, xp.sqrt(num / safe), xp.where(num > 0, inf, xp.zeros_like(den)))
    if err.ndim == 0:
        return float(err)
    return err


def _rounding_tol(xp, dtype, n: int) -> float:
    """Relative tolerance for "exact up to rounding" at size ``n`` in ``dtype``."""
    return 32.0 * _eps(xp, dtype) * math.sqrt(max(n, 2))
