"""The one place test tolerances come from: derived from dtype and problem size."""

from __future__ import annotations

import math

import numpy as np

_EPS = {
    "float32": float(np.finfo(np.float32).eps),
    "complex64": float(np.finfo(np.float32).eps),
    "float64": float(np.finfo(np.float64).eps),
    "complex128": float(np.finfo(np.float64).eps),
}


def dtype_name(dtype) -> str:
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype).rsplit(".", 1)[-1]


def eps(dtype) -> float:
    """Machine epsilon of ``dtype`` (any backend's dtype object or name)."""
    return _EPS[dtype_name(dtype)]


def rtol(dtype, n: int, depth: int = 1, safety: float = 8.0) -> float:
    """Relative tolerance for a result computed in ``dtype`` from sums of length ``n``.

    Standard rounding-error bounds for an inner product of length n are ``n * eps`` in the worst
    case and about ``sqrt(n) * eps`` for random data; ``depth`` counts chained stages (a
    Monarch multiply has 2, an FFT log2(n)).  ``safety`` absorbs constants.
    """
    n = max(int(n), 2)
    return safety * eps(dtype) * math.sqrt(n) * max(1, depth)


def fft_depth(n: int) -> int:
    return max(1, math.ceil(math.log2(max(n, 2))))


def assert_close(actual, expected, dtype, n: int, depth: int = 1, what: str = "") -> None:
    """Assert ``actual`` matches ``expected`` in a norm-wise relative sense.

    The error is measured against ``max|expected|`` (the scale of the result), so entries that
    cancel to ~0 are not held to a relative standard they cannot meet.
    """
    a = np.asarray(actual)
    e = np.asarray(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != expected {e.shape}"
    scale = max(float(np.max(np.abs(e))) if e.size else 0.0, 1e-300)
    err = float(np.max(np.abs(a - e))) if a.size else 0.0
    tol = rtol(dtype, n, depth) * scale
    assert err <= tol, (
        f"{what}: max error {err:.3e} > tolerance {tol:.3e} (dtype {dtype_name(dtype)}, n={n})"
    )


def assert_close_scaled(
    actual, expected, scale: float, dtype, n: int, depth: int = 1, what: str = ""
) -> None:
    """Assert ``|actual - expected| <= rtol(dtype, n, depth) * scale`` entrywise.

    For reductions whose value may cancel far below the size of its terms, e.g. an inner
    product ``<u, v>`` checked against ``scale = ||u|| ||v||`` (the Cauchy–Schwarz bound).
    """
    a = np.asarray(actual)
    e = np.asarray(expected)
    err = float(np.max(np.abs(a - e))) if a.size else 0.0
    tol = rtol(dtype, n, depth) * max(float(scale), 1e-300)
    assert err <= tol, (
        f"{what}: error {err:.3e} > tolerance {tol:.3e} (dtype {dtype_name(dtype)}, n={n})"
    )
