"""Helpers shared by the asv benchmark modules: backend selection, synchronisation, data."""

from __future__ import annotations

import numpy as np

BACKENDS = ["numpy", "cupy"]


def backend(name: str):
    """``(xp, sync)`` for ``name``; ``NotImplementedError`` (asv: skip) when it is unavailable."""
    if name == "numpy":
        return np, _no_sync
    if name != "cupy":
        raise ValueError(f"backend must be 'numpy' or 'cupy'; got {name!r}")
    try:
        import cupy
    except ImportError as exc:
        raise NotImplementedError("CuPy is not installed") from exc
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise NotImplementedError("no CUDA device")
    except cupy.cuda.runtime.CUDARuntimeError as exc:
        raise NotImplementedError(f"no usable CUDA device: {exc}") from exc
    stream = cupy.cuda.get_current_stream()
    return cupy, stream.synchronize


def _no_sync() -> None:
    return None


def random_array(xp, shape, dtype: str, seed: int = 0):
    """Gaussian array drawn with NumPy (complex when ``dtype`` is), moved to ``xp``."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return xp.asarray(a.astype(dtype))


def warm_up(*fns, seconds: float = 0.15, sync=_no_sync) -> None:
    """Call each of ``fns`` once, then keep calling the last one for about ``seconds``.

    OpenBLAS's idle threads spin for about 0.1 s after a multithreaded call (e.g. a dense
    product) and slow down whatever runs next; ending the warm-up with the benchmarked
    operation itself lets the timing start in its steady state.
    """
    import time

    for fn in fns:
        fn()
    sync()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        fns[-1]()
        sync()
