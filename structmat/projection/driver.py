"""The projection driver: :func:`project_to_monarch` cuts the slabs into batch chunks, sends
each rank group to its solver, gives the uncertified slabs one restart or scaling and then
a full SVD, and assembles the factors.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _backend as B, _parallel
from ..geometry import monarch_geometry, slab_view
from ..ops.monarch import Monarch
from . import fused
from ._arrays import (
    _H,
    _abs2,
    _as_dense,
    _eps,
    _host,
    _is_complex,
    _ldexp,
    _matmul,
    _nest,
    _NonFinite,
    _pow2_exponents,
    _slab_energy,
    _take,
)
from .certificate import (
    _CERT_NAMES,
    _EIGH,
    _EXACT,
    _FAIL,
    _INERTIA,
    _SVD,
    _TRACE,
    _ZERO,
    _energy_range,
    _Margins,
)
from .info import ProjectionInfo
from .kernel import _lanczos1_numpy, _unit_starts
from .options import _lanczos_steps, _make_rng, current_options
from .slabs import _gather_slabs, _Plan, _plan_for
from .solvers import _solve_generic


def _rank1_solver(dt):
    """The fast rank-1 solver for slabs of ``dt`` on NumPy: the compiled one where it runs."""
    return fused.solve_rank1 if fused.available(dt) else _lanczos1_numpy


def _redo_fast1(
    xp,
    S5,
    zs: np.ndarray,
    right: bool,
    mg: _Margins,
    starts,
    q0,
    steps: int,
    scale: bool,
    restart_steps: int,
    long_steps: int = 0,
):
    """Solve again the rank-1 slabs the fast pass did not certify: scaled into the energy range
    (``scale``, on a stack of just these slabs) or restarted from ``q0`` (in place); those
    still uncertified get one more restart of ``long_steps`` steps from their new Ritz vector
    (when ``long_steps`` > 0), and a full SVD if that fails too.  Returns ``(result dict,
    exponents)`` as :func:`_lanczos1_numpy`."""
    er = np.zeros(zs.size, dtype=np.int64)
    Sr = None
    src, idx = S5, zs
    if scale:
        Sr = _gather_slabs(xp, S5, zs)
        got = _pow2_exponents(xp, Sr)
        if got is None:
            raise _NonFinite
        er = got
        Sr = _ldexp(xp, Sr, -er)
        src, idx = Sr[None, None], np.arange(zs.size)
    solve = _rank1_solver(S5.dtype)
    res = solve(src, idx, right, steps, mg, starts, q0=q0)

    def restart(n_steps: int) -> None:
        # the in-range slabs not certified yet, again from their Ritz vectors
        again = np.nonzero((res["cert"] == _FAIL) & (res["trG"] > 0) & ~res["oor"])[0]
        if again.size == 0:
            return
        res2 = solve(
            Sr[again][None, None] if Sr is not None else S5,
            np.arange(again.size) if Sr is not None else zs[again],
            right,
            n_steps,
            mg,
            starts[again],
            q0=res["V"][again, :, 0],
        )
        for key in ("V", "W", "trG", "theta", "direct", "missed", "cert"):
            res[key][again] = res2[key]

    if Sr is not None:
        # a fresh run gets the restart that the first pass gave the in-range slabs
        restart(restart_steps)
    if long_steps > 0:
        # a slab whose top two singular values are close needs more steps: a longer restart
        # costs about one pass over the slab, a full SVD of it tens of passes
        restart(long_steps)
    zero = (res["trG"] == 0) & ~res["oor"]  # slabs whose entries are all zero
    res["cert"][zero] = _ZERO
    res["missed"][zero] = 0.0
    res["V"][zero] = 0
    res["W"][zero] = 0
    res["theta"][zero] = 0.0
    still = np.nonzero(res["cert"] == _FAIL)[0]
    if still.size:
        m = res["V"].shape[1]
        Ss = Sr[still] if Sr is not None else _gather_slabs(xp, S5, zs[still])
        kk = min(Ss.shape[-2:])
        U_ = np.empty(Ss.shape[:-1] + (kk,), dtype=Ss.dtype)
        Vh_ = np.empty(Ss.shape[:-2] + (kk, Ss.shape[-1]), dtype=Ss.dtype)
        sv_ = np.empty(Ss.shape[:-2] + (kk,), dtype=np.abs(Ss[:0]).dtype)
        # the SVDs spread over the threads in batches (BLAS threads inside such small
        # problems only spin)
        workers = _parallel.num_workers()
        size = -(-still.size // (2 * workers))
        bounds = list(range(0, still.size, size)) + [still.size]
        next_task = _parallel.task_queue(len(bounds) - 1)

        def svd_work():
            while (t := next_task()) is not None:
                sl = slice(bounds[t], bounds[t + 1])
                U_[sl], sv_[sl], Vh_[sl] = np.linalg.svd(Ss[sl], full_matrices=False)

        with _parallel.blas_single_threaded():
            _parallel.run_parallel(svd_work, min(workers, len(bounds) - 1))
        if right:
            res["V"][still] = np.conj(Vh_[:, :1, :]).swapaxes(-1, -2)
            res["W"][still] = U_[:, :, 0] * sv_[:, :1]
        else:
            res["V"][still] = U_[:, :, :1]
            res["W"][still] = Vh_[:, 0, :] * sv_[:, :1]
        res["theta"][still] = sv_[:, 0].astype(np.float64) ** 2
        # the discarded energy from the discarded singular values (no cancellation)
        res["direct"][still] = np.sum(sv_[:, 1:].astype(np.float64) ** 2, axis=-1)
        res["trG"][still] = np.sum(np.abs(Ss).astype(np.float64) ** 2, axis=(-2, -1))
        res["cert"][still] = _SVD
        res["missed"][still] = m * mg.eps * res["trG"][still]
    return res, er


def _pool_take(xp, rows, idx: np.ndarray):
    """``rows`` (one per slab and rank) picked by ``idx`` (host integers; ``len(rows)``
    stands for a zero row); ``rows`` itself when ``idx`` picks every row in order."""
    total = rows.shape[0]
    if idx.size == total and np.array_equal(idx, np.arange(total)):
        return rows
    if idx.size and int(idx.max()) < total:  # no zero row asked for: no copy of the pool
        return xp.take(rows, xp.asarray(idx), axis=0)
    pool = xp.concat([rows, xp.zeros((1, rows.shape[1]), dtype=rows.dtype)], axis=0)
    return xp.take(pool, xp.asarray(idx), axis=0)


def _project_chunk(xp, S5, plan: _Plan, rng, counts: dict):
    """Project the slabs of one batch chunk.

    Returns ``(Lcols, Rrows, energies)``: ``Lcols`` (nb, k, l, s, rho_max) and ``Rrows``
    (nb, k, l, rho_max, p) with slab ``(a, b)`` of the result ``Lcols[a, b] @ Rrows[a, b]``, and
    a dict of host arrays over the flat slabs: ``trG``, ``disc``, ``missed`` (energies, each
    ``value * 4**exp``), ``exp`` (int64) and ``cert`` (int8 codes).
    """
    k, q, p, l, s, r = plan.geometry
    nb = S5.shape[0]
    Z = nb * k * l
    mp, rmax = plan.mp, plan.rho_max
    dt = S5.dtype
    kinds_exact = np.tile(plan.exact, nb)
    kinds_zero = np.tile(plan.zero, nb) & ~kinds_exact
    eff = np.tile(plan.eff.reshape(-1), nb)
    cplx = _is_complex(xp, dt)
    # the fast path computes Rayleigh quotients and residuals in double precision from the
    # slab; the generic path from the Gram matrix in the slab's dtype
    mg_fast = _Margins(_eps(xp, dt), s, p, eps_ritz=2.0**-52, cplx=cplx)
    mg = _Margins(_eps(xp, dt), s, p, cplx=cplx, from_gram=True)
    steps = min(mp, _lanczos_steps(xp, dt))
    # a restart begins at the Ritz vector, already close: a third of the steps certify nearly
    # all of those slabs, and longer restarts certify fewer (the converged value repeats)
    restart_steps = max(4, (steps + 2) // 3)
    lo_e, hi_e = _energy_range(np.dtype(B.to_numpy(xp.zeros((), dtype=dt)).dtype))

    trG = np.zeros(Z)
    disc = np.zeros(Z)
    missed = np.zeros(Z)
    sexp = np.zeros(Z, dtype=np.int64)
    cert = np.zeros(Z, dtype=np.int8)
    cert[kinds_exact] = _EXACT
    cert[kinds_zero] = _ZERO
    # exact and zero slabs: their energy only
    other = np.nonzero(kinds_exact | kinds_zero)[0]
    if other.size:
        en, ee = _slab_energy(xp, _gather_slabs(xp, S5, other))
        trG[other] = en
        sexp[other] = ee
        disc[other] = np.where(kinds_zero[other], en, 0.0)
    counts["exact"] = counts.get("exact", 0) + int(kinds_exact.sum())
    counts["zero"] = counts.get("zero", 0) + int(kinds_zero.sum())

    groups = []  # (zs, V (xp), SB (xp) or None, kept energies (host) or None)
    for rho in plan.solve_ranks:
        zs = np.nonzero(~kinds_exact & ~kinds_zero & (eff == rho))[0]
        method = plan.solver_for(rho, mp, steps)
        if B.is_numpy(xp) and method == "lanczos":
            solve = _rank1_solver(dt)
            # the compiled solver draws each slab's start from a key (a hash of the key and the
            # slab's position), the NumPy solver from a stack of random vectors
            starts = (
                fused.start_key(rng)
                if solve is fused.solve_rank1
                else _unit_starts(rng, zs.size, mp, dt)
            )
            res = solve(S5, zs, plan.right, steps, mg_fast, starts)
            V, W = res["V"], res["W"]
            g_tr, g_cert, g_mis = res["trG"], res["cert"], res["missed"]
            g_kept = res["theta"].copy()
            g_dir = res["direct"]
            g_exp = np.zeros(zs.size, dtype=np.int64)
            redo = np.nonzero(g_cert == _FAIL)[0]
            oor = res["oor"][redo]
            for part, fresh in ((redo[oor], True), (redo[~oor], False)):
                if part.size == 0:
                    continue
                # out-of-range slabs start afresh, scaled into the range; the others restart
                # from their Ritz vector with a third of the steps
                r2, e2 = _redo_fast1(
                    xp,
                    S5,
                    zs[part],
                    plan.right,
                    mg_fast,
                    starts[part]
                    if isinstance(starts, np.ndarray)
                    else _unit_starts(rng, part.size, mp, dt),
                    None if fresh else V[part, :, 0],
                    steps if fresh else restart_steps,
                    fresh,
                    restart_steps,
                    long_steps=steps,
                )
                V[part] = r2["V"]
                W[part] = r2["W"]
                g_tr[part] = r2["trG"]
                g_kept[part] = r2["theta"]
                g_dir[part] = r2["direct"]
                g_cert[part] = r2["cert"]
                g_mis[part] = r2["missed"]
                g_exp[part] = e2
            counts["lanczos"] = counts.get("lanczos", 0) + int(
                np.isin(g_cert, (_TRACE, _INERTIA)).sum()
            )
            counts["svd"] = counts.get("svd", 0) + int((g_cert == _SVD).sum())
            counts["zero"] = counts.get("zero", 0) + int((g_cert == _ZERO).sum())
            SB = W[:, :, None] if plan.right else W[:, None, :]
            near = np.isfinite(g_dir)
            g_disc = np.where(near, g_dir, np.maximum(g_tr - g_kept, 0.0))
            groups.append((zs, V, SB, g_exp, g_disc, None))
        else:
            Sg = _gather_slabs(xp, S5, zs)
            ge = _pow2_exponents(xp, Sg)
            if ge is None:
                raise _NonFinite
            Sg = _ldexp(xp, Sg, -ge)
            V, g_tr, g_cert, g_mis, g_sd = _solve_generic(
                xp, Sg, rho, plan.right, method, steps, mg, rng
            )
            zero2 = g_tr == 0
            g_cert[zero2] = _ZERO
            g_mis[zero2] = 0.0
            for name, code in (("lanczos", (_TRACE, _INERTIA)), ("eigh", (_TRACE, _EIGH))):
                if method == name:
                    counts[name] = counts.get(name, 0) + int(np.isin(g_cert, code).sum())
            counts["svd"] = counts.get("svd", 0) + int((g_cert == _SVD).sum())
            counts["zero"] = counts.get("zero", 0) + int(zero2.sum())
            SB = _matmul(xp, Sg, V) if plan.right else _matmul(xp, _H(xp, V), Sg)
            kept = _host(xp.sum(_abs2(xp, SB), axis=(-2, -1))).astype(np.float64)
            g_disc = np.maximum(g_tr - kept, 0.0)
            # nearly of the slab's rank: trace - kept cancels, so measure the residual
            small = np.nonzero(g_disc <= 1e-3 * g_tr)[0]
            if small.size:
                Vs = _take(xp, V, small)
                SBs = _take(xp, SB, small)
                Ss = _take(xp, Sg, small)
                E = Ss - (_matmul(xp, SBs, _H(xp, Vs)) if plan.right else _matmul(xp, Vs, SBs))
                g_disc[small] = _host(xp.sum(_abs2(xp, E), axis=(-2, -1))).astype(np.float64)
            sv_known = np.isfinite(g_sd)
            g_disc[sv_known] = g_sd[sv_known]
            groups.append((zs, V, SB, ge, g_disc, None))
        trG[zs] = g_tr
        cert[zs] = g_cert
        missed[zs] = np.where(g_cert == _ZERO, 0.0, g_mis)
        disc[zs] = groups[-1][4]
        sexp[zs] = groups[-1][3]
    if np.any(cert == _FAIL):  # pragma: no cover - invariant
        raise AssertionError("a slab left the projection uncertified")

    # factors: split each singular value evenly between L and R (sqrt(sigma) each), in the
    # scaled domain, then undo each slab's scale 2**e as 2**ceil(e/2) on L and 2**floor(e/2) on R
    Lparts, Rparts = [], []
    sel = np.zeros(Z, dtype=np.int64)
    offset = 0
    one = xp.ones((), dtype=B.real_dtype_for(xp, dt))
    for zs, V, SB, ge, _, _ in groups:
        rho = int(V.shape[-1])
        # V and SB are this call's own arrays: real rank-1 factors on NumPy are scaled in place
        # (each temporary of this size costs more in fresh pages than in arithmetic)
        inplace = rho == 1 and B.is_numpy(xp) and not cplx
        if inplace:
            sig = np.sqrt(np.einsum("zij,zij->zj" if plan.right else "zij,zij->zi", SB, SB))
        else:
            sig = xp.linalg.vector_norm(SB, axis=-2 if plan.right else -1)  # (Z', rho)
        use = (sig > 0) & xp.isfinite(sig)
        f = xp.where(use, 1.0 / xp.sqrt(xp.where(use, sig, one)), one)
        fc = xp.astype(f, dt)
        if inplace and plan.right:
            SB *= fc[:, None, :]
            Lc = SB
            V /= fc[:, None, :]
            Rr = xp.reshape(V, (V.shape[0], 1, V.shape[1]))
        elif inplace:
            SB *= fc[:, :, None]
            Rr = SB
            V /= fc[:, None, :]
            Lc = V
        elif plan.right:
            Lc = SB * fc[:, None, :]
            Rr = _H(xp, V) / fc[:, :, None]
        else:
            Rr = SB * fc[:, :, None]
            Lc = V / fc[:, None, :]
        Lc = _ldexp(xp, Lc, (ge + 1) // 2)
        Rr = _ldexp(xp, Rr, ge // 2)
        if rho < rmax:
            Lc = xp.concat([Lc, xp.zeros((Lc.shape[0], s, rmax - rho), dtype=dt)], axis=-1)
            Rr = xp.concat([Rr, xp.zeros((Rr.shape[0], rmax - rho, p), dtype=dt)], axis=-2)
        Lparts.append(Lc)
        Rparts.append(Rr)
        sel[zs] = offset + np.arange(zs.size)
        offset += zs.size
    if kinds_exact.any():
        # full-rank slabs are kept as they are: L = S (columns), R = identity rows (right),
        # or L = identity columns, R = S (left)
        ze = np.nonzero(kinds_exact)[0]
        Se = _gather_slabs(xp, S5, ze)
        if plan.right:
            Lc = (
                Se[..., :rmax]
                if rmax <= p
                else xp.concat([Se, xp.zeros((ze.size, s, rmax - p), dtype=dt)], axis=-1)
            )
            Rr = xp.broadcast_to(xp.eye(rmax, p, dtype=dt)[None, ...], (ze.size, rmax, p))
        else:
            Rr = (
                Se[..., :rmax, :]
                if rmax <= s
                else xp.concat([Se, xp.zeros((ze.size, rmax - s, p), dtype=dt)], axis=-2)
            )
            Lc = xp.broadcast_to(xp.eye(s, rmax, dtype=dt)[None, ...], (ze.size, s, rmax))
        Lparts.append(Lc)
        Rparts.append(Rr)
        sel[ze] = offset + np.arange(ze.size)
        offset += ze.size
    if (
        len(groups) == 1 == len(Lparts)
        and offset == Z
        and np.array_equal(groups[0][0], np.arange(Z))
    ):
        # one group holding every slab in order: its factors are the result as they stand
        return (
            xp.reshape(Lparts[0], (nb, k, l, s, rmax)),
            xp.reshape(Rparts[0], (nb, k, l, rmax, p)),
            {"trG": trG, "disc": disc, "missed": missed, "exp": sexp, "cert": cert},
        )
    Lparts.append(xp.zeros((1, s, rmax), dtype=dt))
    Rparts.append(xp.zeros((1, rmax, p), dtype=dt))
    sel[kinds_zero] = offset
    idx = xp.asarray(sel)
    Lcols = xp.reshape(xp.take(xp.concat(Lparts, axis=0), idx, axis=0), (nb, k, l, s, rmax))
    Rrows = xp.reshape(xp.take(xp.concat(Rparts, axis=0), idx, axis=0), (nb, k, l, rmax, p))
    return Lcols, Rrows, {"trG": trG, "disc": disc, "missed": missed, "exp": sexp, "cert": cert}


def project_to_monarch(A: Any, nblocks: Any = None, *, return_info: bool = False, seed: Any = None):
    """The Frobenius-optimal Monarch approximation of a dense matrix (or a stack of them).

    Every slab ``(a, b)`` of ``A`` (rows ``{d l + b}``, columns ``{a p + j}``) gets its best
    approximation of rank ``ranks[a, b]`` (the number of middle indices connecting R-block
    ``a`` to L-block ``b``); slabs are independent, so the result minimises ``||A - M||_F`` over
    all Monarch matrices of the geometry (Theorem 1 of Dao et al., ICML 2022, extended to every
    geometry including slabs of different ranks).  Each slab's optimality is proved, not
    assumed (see Notes), for inputs of any scale in the dtype's range.

    Parameters
    ----------
    A : array, shape (n_out, n_in) or (..., n_out, n_in)
        Real or complex, float32 or float64 (the result has the same dtype and namespace:
        NumPy, CuPy or any array-API namespace).  A structured matrix is densified first.
    nblocks : None, int or (int, int)
        Target geometry, as in :func:`structmat.ops.monarch.monarch_geometry`: ``(k, l)``
        gives ``R`` ``k`` blocks and ``L`` ``l`` blocks with middle dimension
        ``min(n_in, n_out)``; ``b`` means ``(b, b)``; ``None`` is the paper's Monarch (every
        slab rank 1).
    return_info : bool
        Also return a :class:`ProjectionInfo` with the discarded energy of every slab (so the
        optimal error is known without forming ``M``), each slab's certificate and its bound.
    seed : None, int or numpy.random.Generator
        Seeds the random start vectors of the iterative slab solvers; ``None`` is a fixed
        default, so results are reproducible.  Any seed gives an optimal result (to the
        certified bound); the factors may differ in the last bits.

    Returns
    -------
    Monarch, or nested lists of Monarch for a stack
        For ``A`` of shape ``(B1, ..., Bk, n_out, n_in)`` the result is a nested list with
        ``result[i1]...[ik]`` the projection of ``A[i1, ..., ik]`` (the ``Monarch`` class holds
        one matrix; all matrices are nevertheless solved in one batched computation).
    ProjectionInfo
        Only with ``return_info=True``.

    Raises
    ------
    TypeError
        ``A`` is not an array or has an integer, boolean or float16 dtype.
    ValueError
        ``A`` has fewer than 2 dimensions, is empty, contains NaN/Inf, or ``nblocks`` does not
        divide the sizes (the message lists the valid choices).

    Notes
    -----
    Algorithm: each slab's Gram matrix (of its smaller side) is formed by matmuls; rank-1
    slabs of order >= 32 (float32) / 48 (float64) use 18 / 30 Lanczos steps from a random
    start, the others a batched ``eigh`` of the Gram matrix.  On NumPy, real rank-1 slabs go
    through a compiled solver (Numba; :mod:`structmat.projection.fused`) that does each slab's
    whole work in one pass while it is in cache, over ``STRUCTMAT_NUM_THREADS`` threads (by
    default one per core); complex ones through a cache-blocked NumPy solver.  Slabs whose energy would
    under- or overflow the dtype's squares are scaled by a power of two first (exact) and the
    factors scaled back.

    Certificate: a slab's basis is accepted only when a rigorous bound of the energy it misses
    (a quadratic residual bound whose gap is proved by the trace, by a Cholesky inertia test of
    the shifted, deflated Gram matrix, or by the enclosure of a full eigensolver; every rounding
    error bounded) is at most ``8 eps sqrt(m)`` times the slab's discarded energy plus
    ``(8 m eps)^2 ||S||_F^2``.  Lanczos slabs that fail are restarted once from their Ritz
    vector, and those still failing are solved by a batched full SVD.  ``info.certificates``
    says which proof each slab got, ``info.missed`` holds the bounds and ``info.gap`` their
    relative sum.  The singular value is split evenly: ``L`` columns carry
    ``sqrt(sigma) u`` and ``R`` rows ``sqrt(sigma) v^H``.

    Interoperability: ``Monarch(L, R)`` maps to the factor pair of the paper authors'
    reference code (``MonarchLinear``) as ``R`` = their first block-diagonal factor
    (``blkdiag1``, applied first) and ``L`` = their second (``blkdiag2``); ``nblocks=b`` is their
    ``nblocks``.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Monarch, project_to_monarch, projection_error
    >>> M0 = Monarch.random(64, seed=0)
    >>> M = project_to_monarch(M0.to_dense())          # a Monarch matrix projects onto itself
    >>> bool(np.allclose(M.to_dense(), M0.to_dense()))
    True
    >>> A = np.random.default_rng(1).standard_normal((384, 1536)).astype(np.float32)
    >>> P = project_to_monarch(A, nblocks=4)            # a rectangular, rank-24-slab geometry
    >>> P.shape, P.dtype, P.geometry
    ((384, 1536), dtype('float32'), (4, 96, 384, 4, 96, 96))
    >>> round(projection_error(A, P), 3)
    0.757
    """
    A, xp = _as_dense(A, "A", check_finite=False)
    if not isinstance(return_info, (bool, np.bool_)):
        raise TypeError(f"return_info must be a bool; got {return_info!r}")
    rng = _make_rng(seed)
    _parallel.num_workers()  # a bad STRUCTMAT_NUM_THREADS fails here, at any size
    n_out, n_in = int(A.shape[-2]), int(A.shape[-1])
    geometry = monarch_geometry(n_in, n_out, nblocks)
    k, q, p, l, s, r = geometry
    batch = tuple(int(d) for d in A.shape[:-2])
    nb = math.prod(batch)
    A3 = xp.reshape(A, (nb, n_out, n_in))
    plan = _plan_for(geometry)
    dt = A.dtype
    itemsize = 16 if dt == xp.complex128 else (4 if dt == xp.float32 else 8)
    gram_bytes = k * l * plan.mp * plan.mp * itemsize
    per_chunk = max(1, current_options().chunk_bytes // max(gram_bytes, 1))
    counts: dict[str, int] = {}
    Ls, Rs, Es = [], [], []
    for start in range(0, nb, per_chunk):
        S5 = slab_view(xp, A3[start : min(nb, start + per_chunk), ...], geometry)
        try:
            Lc, Rr, en = _project_chunk(xp, S5, plan, rng, counts)
        except _NonFinite:
            raise ValueError("A contains NaN or Inf entries") from None
        Ls.append(Lc)
        Rs.append(Rr)
        Es.append(en)
    Lcols = Ls[0] if len(Ls) == 1 else xp.concat(Ls, axis=0)
    Rrows = Rs[0] if len(Rs) == 1 else xp.concat(Rs, axis=0)
    # gather the factor blocks from the per-slab columns / rows
    rowsL = xp.reshape(xp.matrix_transpose(Lcols), (nb * k * l * plan.rho_max, s))
    rowsR = xp.reshape(Rrows, (nb * k * l * plan.rho_max, p))
    Lall = xp.permute_dims(
        xp.reshape(_pool_take(xp, rowsL, plan.gather_index(nb, plan.posL)), (nb, l, r, s)),
        (0, 1, 3, 2),
    )
    Rall = xp.reshape(_pool_take(xp, rowsR, plan.gather_index(nb, plan.posR)), (nb, k, q, p))
    mats = [Monarch._trusted(Lall[e, ...], Rall[e, ...], xp) for e in range(nb)]
    result = mats[0] if not batch else _nest(mats, batch)
    if not return_info:
        return result
    en = {key: np.concatenate([e[key] for e in Es]) for key in Es[0]}
    # one scale for all energies: 4**exponent, 0 unless float64 would under- or overflow
    live = en["trG"] > 0
    emax = int(en["exp"][live].max()) if live.any() else 0
    exponent = emax if abs(emax) > 450 else 0

    def scaled(x):
        with np.errstate(under="ignore", over="ignore"):
            return np.ldexp(x, 2 * (en["exp"] - exponent))

    shape = batch + (k, l)
    to_xp = lambda x: xp.asarray(np.array(x, dtype=np.float64))  # noqa: E731
    trG = scaled(en["trG"]).reshape((nb, k * l))
    info = ProjectionInfo(
        geometry=geometry,
        ranks=plan.ranks.copy(),
        discarded=to_xp(scaled(en["disc"]).reshape(shape)),
        norm_sq=to_xp(np.sum(trG, axis=1).reshape(batch)),
        solvers=counts,
        certificates=np.asarray(_CERT_NAMES)[en["cert"]].reshape(shape),
        missed=to_xp(scaled(en["missed"]).reshape(shape)),
        exponent=exponent,
    )
    return result, info
