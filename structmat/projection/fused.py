"""The fused rank-1 slab solver: one compiled pass per slab (Numba), threaded over slabs.

:func:`solve_rank1` returns what :func:`structmat.projection.kernel._lanczos1_numpy` returns
and certifies by the same bounds (:class:`~structmat.projection.certificate._Margins`), but
runs each slab's whole pipeline — gather, Gram matrix, Lanczos, Ritz pair, certificate —
while the slab is in cache (:mod:`structmat.projection._jit`).  It serves real float32 and
float64 slabs on NumPy; :func:`available` says whether it can run (Numba importable and
``SolverOptions.compiled`` on), and the NumPy solver takes over otherwise.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from .. import _parallel
from .certificate import _energy_range, _Margins
from .options import current_options

_lock = threading.Lock()
_loaded: dict = {}


def kernel():
    """The compiled module :mod:`structmat.projection._jit`, or ``None`` when Numba (or the
    LAPACK table it calls) is missing; the reason is kept in :func:`unavailable_reason`."""
    with _lock:
        if "mod" not in _loaded:
            try:
                from . import _jit

                _loaded["mod"] = _jit
            except Exception as exc:  # pragma: no cover - depends on the installation
                _loaded["mod"] = None
                _loaded["why"] = f"{type(exc).__name__}: {exc}"
        return _loaded["mod"]


def unavailable_reason() -> str | None:
    """Why the compiled solver cannot run (``None`` when it can)."""
    kernel()
    return _loaded.get("why")


def available(dtype) -> bool:
    """Whether :func:`solve_rank1` serves slabs of ``dtype`` here and now."""
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        return False
    if not current_options().compiled:
        return False
    return kernel() is not None


def start_key(rng: np.random.Generator) -> np.uint64:
    """A key for :func:`solve_rank1`'s start vectors, drawn from ``rng``."""
    return np.uint64(rng.integers(0, 2**63, dtype=np.int64))


def start_vectors(key, n: int, m: int, dtype) -> np.ndarray:
    """The ``n`` start vectors (before normalisation) that :func:`solve_rank1` derives from
    ``key`` for the slabs at positions ``0 .. n-1`` (the same hash, in NumPy): entries
    uniform in ``[-1, 1)``."""
    jit = kernel()
    out = np.empty((n, m))
    if jit is not None:
        jit.hash_uniform(np.uint64(key), out)
    return out.astype(dtype)


def solve_rank1(
    S5, zs, right: bool, steps: int, mg: _Margins, starts, q0=None, *, _stop_after: str = ""
) -> dict:
    """Rank-1 slabs ``zs`` (flat indices over ``S5.shape[:3]``) by the compiled solver.

    Same arguments and result as :func:`structmat.projection.kernel._lanczos1_numpy`, except
    that ``starts`` may also be a key from :func:`start_key`: the start of the slab at position
    ``t`` then comes from a hash of the key, ``t`` and the entry's index (:func:`start_vectors`),
    drawn inside the compiled loop instead of stored beforehand.  ``mg``
    must hold the margins of Rayleigh quotients computed in double precision from the slab
    (``eps_ritz = 2**-52``), which is how the compiled solver computes them.  ``_stop_after``
    (one of :data:`structmat.projection._jit.STAGES`, for timing the stages only) ends each
    slab's work after that stage; its results are then incomplete.
    """
    jit = kernel()
    if jit is None:  # pragma: no cover - guarded by available()
        raise RuntimeError(f"the compiled slab solver is unavailable: {unavailable_reason()}")
    nb, k, l, s, p = S5.shape
    m = p if right else s
    mr = s if right else p
    dt = np.dtype(S5.dtype)
    n = int(zs.size)
    e_idx, a_idx, b_idx = (
        np.ascontiguousarray(x, dtype=np.int64) for x in np.unravel_index(zs, (nb, k, l))
    )
    lo_e, hi_e = _energy_range(dt)
    cst = np.zeros(jit.N_CONST)
    cst[jit.C_LO_E] = lo_e
    cst[jit.C_HI_E] = hi_e
    cst[jit.C_THR_REL] = 8.0 * float(np.finfo(dt).eps) * math.sqrt(m)
    cst[jit.C_E_THETA] = mg.e_theta
    cst[jit.C_E_R] = mg.e_r
    cst[jit.C_E_GRAM] = mg.e_gram
    cst[jit.C_G_CHOL] = mg.g_chol
    cst[jit.C_U] = mg.u
    cst[jit.C_TOL] = mg.tol
    cst[jit.C_PHI] = mg.phi
    cst[jit.C_M] = float(m)
    cst[jit.C_NEAR] = 1.0 - 1e-3
    if _stop_after and _stop_after not in jit.STAGES:
        raise ValueError(f"_stop_after must be one of {jit.STAGES}; got {_stop_after!r}")
    cst[jit.C_STOP] = jit.STAGES.index(_stop_after) + 1 if _stop_after else 0
    if isinstance(starts, (int, np.integer)):
        key = np.uint64(starts)
        starts = np.zeros((0, m), dtype=dt)
        use_key = True
    else:
        key = np.uint64(0)
        starts = np.ascontiguousarray(starts, dtype=dt)
        use_key = False
    use_q0 = q0 is not None
    q0a = np.ascontiguousarray(q0, dtype=dt) if use_q0 else starts[:0]
    V = np.empty((n, m), dtype=dt)
    W = np.empty((n, mr), dtype=dt)
    trG = np.zeros(n)
    theta = np.zeros(n)
    direct = np.full(n, np.nan)
    missed = np.full(n, np.inf)
    cert = np.zeros(n, dtype=np.int8)
    oor = np.zeros(n, dtype=bool)
    result = {
        "V": V[:, :, None],
        "W": W,
        "trG": trG,
        "theta": theta,
        "direct": direct,
        "missed": missed,
        "cert": cert,
        "oor": oor,
    }
    if n == 0:
        return result
    # slabs in the order (matrix, L-block, R-block): consecutive slabs then read neighbouring
    # column bands of the same rows of A
    order = np.lexsort((a_idx, b_idx, e_idx))
    # the kernel reads each slab row as a contiguous run of a flat view of the memory
    isz = dt.itemsize
    st = S5.strides
    if st[4] != isz or any(x < 0 or x % isz for x in st):
        S5 = np.ascontiguousarray(S5)
        st = S5.strides
    span = sum((d - 1) * x for d, x in zip(S5.shape, st)) // isz + 1
    flat = np.lib.stride_tricks.as_strided(S5, shape=(span,), strides=(isz,), writeable=False)
    off = (e_idx[order] * st[0] + a_idx[order] * st[1] + b_idx[order] * st[2]) // isz
    solve = jit.solver(dt)  # compiled (or loaded) here, before the threads start
    workers = _parallel.num_workers()
    # tasks of a few dozen slabs: long enough that the Python loop is negligible, short
    # enough that threads stay balanced
    size = max(1, min(64, -(-n // (4 * workers)))) if n else 1
    bounds = list(range(0, n, size)) + [n]
    ntasks = len(bounds) - 1
    threads = max(1, min(workers, ntasks))
    next_task = _parallel.task_queue(ntasks)

    def work():
        while (t := next_task()) is not None:
            i0, i1 = bounds[t], bounds[t + 1]
            solve(
                flat,
                off[i0:i1],
                s,
                p,
                st[3] // isz,
                order[i0:i1],
                right,
                steps,
                starts,
                key,
                use_key,
                q0a,
                use_q0,
                cst,
                V,
                W,
                trG,
                theta,
                direct,
                missed,
                cert,
                oor,
            )

    if ntasks:
        with _parallel.blas_single_threaded():
            _parallel.run_parallel(work, threads)
    return result  # filled in place by the kernel
