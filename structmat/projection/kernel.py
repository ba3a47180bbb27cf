"""The threaded, cache-blocked NumPy solver of rank-1 slabs (:func:`_lanczos1_numpy`):
Gram matrices, Lanczos, Ritz pairs and their certificate, task by task.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _backend as B, _lapack, _parallel
from .certificate import _FAIL, _INERTIA, _TRACE, _energy_range, _Margins
from .options import current_options
from .tridiag import _tridiag_top


def _fast_tasks(zs: np.ndarray, grid: tuple[int, int, int], cap: int) -> list[tuple]:
    """Cut the sorted flat slab indices ``zs`` over ``grid = (nb, k, l)`` into tasks.

    A task ``(t0, t1, e, a, na, b, nbb)`` covers positions ``t0:t1`` of ``zs``, which are the
    slabs ``S5[e, a:a + na, b:b + nbb]`` (consecutive in ``zs``, at most ``cap`` of them):
    either whole R-blocks (``b = 0``, ``nbb = l``) or part of one.
    """
    nb, k, l = grid
    e_, a_, b_ = np.unravel_index(zs, grid)
    n = int(zs.size)
    brk = np.nonzero((np.diff(zs) != 1) | (np.diff(e_) != 0))[0] + 1
    tasks = []
    for i0, i1 in zip(np.r_[0, brk].tolist(), np.r_[brk, n].tolist()):
        i = i0
        while i < i1:
            e, a, b = int(e_[i]), int(a_[i]), int(b_[i])
            if b == 0 and i1 - i >= l and l <= cap:
                na = min((i1 - i) // l, cap // l)
                tasks.append((i, i + na * l, e, a, na, 0, l))
                i += na * l
            else:
                nbb = min(l - b, i1 - i, cap)
                tasks.append((i, i + nbb, e, a, 1, b, nbb))
                i += nbb
    return tasks


def _unit_starts(rng: np.random.Generator, n: int, m: int, dt) -> np.ndarray:
    """``n`` random unit vectors of length ``m`` in dtype ``dt`` (one per slab, seeded)."""
    rdt = np.finfo(dt).dtype
    r = rng.standard_normal((n, m), dtype=rdt)
    if np.dtype(dt).kind == "c":
        r = r + 1j * rng.standard_normal((n, m), dtype=rdt)
    r = r.astype(dt, copy=False)
    nr = np.sqrt(np.sum(np.abs(r) ** 2, axis=-1))
    return r / np.where(nr > 0, nr, 1).astype(rdt)[:, None]


def _lanczos1_numpy(
    S5, zs: np.ndarray, right: bool, steps: int, mg: _Margins, starts, q0=None
) -> dict:
    """Rank-1 slabs on NumPy: Gram, Lanczos, Ritz pair and certificate, cache-blocked, threaded.

    The generic path (:func:`_solve_lanczos1` on all Gram matrices at once) streams every
    Gram matrix from memory once per Lanczos step.  Here the slabs ``zs`` (flat indices over
    ``(nb, k, l)`` of the view ``S5``) are cut into tasks of consecutive slabs (whole R-blocks,
    i.e. strided column bands of ``A``, or parts of one) whose Gram matrices take about
    ``SolverOptions.task_bytes``; each task forms its Gram matrices and runs all ``steps`` Lanczos
    steps on them while they stay in cache, and the tasks are spread over a few threads (NumPy
    releases the GIL inside its kernels).  The small tridiagonal problems of all slabs are then
    solved together (:func:`_tridiag_top`), and a second threaded pass forms each Ritz vector
    ``v``, the other side ``W`` of the slab's rank-1 term, ``theta = ||W||^2`` and the residual
    ``||G v - theta v||`` from the slab itself, and certifies the pair (:class:`_Margins`):
    by the trace bound of the gap, or else by an inertia test — a Cholesky factorisation of
    ``mu I - G + theta v v^H`` proving that ``G`` has no second eigenvalue above ``mu``.

    With ``X = S`` (Gram ``S^H S``, ``right``) or ``X = S^T`` (Gram ``S S^H``) the Lanczos
    loop multiplies by ``G^T = conj(G)`` in NumPy's faster row-vector form
    (``(G q)^T = q^T G^T``); ``W = S v`` (right) or ``W = (v^H S)^T`` (left).  ``starts``
    (n, m) holds random unit vectors (the start is the Gram column of largest diagonal plus
    0.1 times that vector); ``q0`` (n, m) replaces the start (a restart).

    Slabs whose energy lies outside :func:`_energy_range` are not solved here: they come back
    with ``oor`` set (the caller scales them by a power of two and solves them again).

    Returns a dict of arrays in the order of ``zs``: ``V`` (n, m, 1), ``W`` (n, m'),
    ``trG``, ``theta``, ``direct`` (residual energy of nearly rank-1 slabs measured directly,
    NaN for the others), ``missed`` (the certified bound, inf where none), all float64, and
    ``cert`` (int8 codes, ``_FAIL`` where not certified) and ``oor`` (bool).  Written for NumPy
    because the generic path's speed is limited by memory traffic that only explicit cache
    blocking avoids (no library offers a batched top singular pair).
    """
    nb, k, l, s, p = S5.shape
    m = p if right else s
    dt = S5.dtype
    cplx = dt.kind == "c"
    rdt = np.finfo(dt).dtype
    n = int(zs.size)
    workers = _parallel.num_workers()
    # tasks: as large as the cache budget allows (fewer, longer NumPy calls), but at least two
    # per thread so that the threads stay balanced
    opts = current_options()
    cap = max(1, min(opts.task_bytes // (m * m * dt.itemsize), max(16, -(-n // (2 * workers)))))
    tasks = _fast_tasks(zs, (nb, k, l), cap)
    keep = n * m * m * dt.itemsize <= opts.keep_gram_bytes
    Gkeep = np.empty((n, m, m), dtype=dt) if keep else None
    lo_e, hi_e = _energy_range(dt)

    def slabs(task):
        t0, t1, e, a, na, b, nbb = task
        X = S5[e, a : a + na, b : b + nbb]  # (na, nbb, s, p)
        return X if right else X.swapaxes(-1, -2)

    def gram_t(X, out):
        """``G^T = conj(G)`` of the slabs ``X`` into ``out``."""
        if not cplx:
            np.matmul(X.swapaxes(-1, -2), X, out=out)
        elif right:  # G = S^H S: G^T = S^T conj(S)
            np.matmul(X.swapaxes(-1, -2), np.conj(X), out=out)
        else:  # G = S S^H: G^T = conj(S) S^T
            np.matmul(np.conj(X).swapaxes(-1, -2), X, out=out)

    Q = np.empty((steps, n, m), dtype=dt)  # step-major: each step's vectors contiguous
    alpha = np.zeros((steps, n), dtype=rdt)
    beta = np.zeros((steps, n), dtype=rdt)
    trG = np.empty(n, dtype=rdt)
    oor = np.zeros(n, dtype=bool)
    thr_rel = 8.0 * float(np.finfo(dt).eps) * math.sqrt(m)
    threads = max(1, min(workers, len(tasks)))
    next_task = _parallel.task_queue(len(tasks))

    def dot_re(x, y, out=None):
        """Real part of the conjugating dot product over the last axis."""
        if not cplx:
            return np.vecdot(x, y, out=out)
        d = np.vecdot(x, y).real
        if out is None:
            return d
        np.copyto(out, d)
        return out

    def lanczos_work():
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            _lanczos_tasks()

    def _lanczos_tasks():
        gbuf = None if keep else np.empty(cap * m * m, dtype=dt)  # reused: stays cache-warm
        wbuf = np.empty(cap * m, dtype=dt)
        tbuf = np.empty(cap * m, dtype=dt)
        dbuf = np.empty(cap, dtype=bool)
        while (t := next_task()) is not None:
            t0, t1, _, _, na, _, nbb = task = tasks[t]
            c = t1 - t0
            bshape = (na, nbb)
            X = slabs(task)
            if keep:
                Gt = Gkeep[t0:t1].reshape(bshape + (m, m))
            else:
                Gt = gbuf[: c * m * m].reshape(bshape + (m, m))
            gram_t(X, Gt)
            dg = np.diagonal(Gt, axis1=-2, axis2=-1).real.copy()
            tr = np.sum(dg, axis=-1)
            trG[t0:t1] = tr.reshape(-1)
            bad = ~((tr >= lo_e) & (tr <= hi_e))
            if bad.any():
                # outside the safe range (or NaN/Inf): solved again after scaling; keep the
                # loop below finite
                oor[t0:t1] = bad.reshape(-1)
                Gt[bad] = 0
                dg[bad] = 0
                tr = np.where(bad, 0, tr)
            # a Krylov space that became invariant (to rounding) stops: its later vectors are
            # zero, so its tridiagonal matrix decouples instead of collecting rounding noise
            thr = thr_rel * tr
            Qt = Q[:, t0:t1].reshape((steps,) + bshape + (m,))
            q = Qt[0]
            if q0 is None:
                # G e_i (i the largest diagonal; row i of G^T, free) plus 0.1 times a random
                # unit vector of this slab
                i = np.argmax(dg, axis=-1).reshape(c)
                col = Gt.reshape(c, m, m)[np.arange(c), i, :]
                nc = np.sqrt(dot_re(col, col))
                col /= np.where(nc > 0, nc, 1)[:, None]
                col += 0.1 * starts[t0:t1]
                col /= np.sqrt(dot_re(col, col))[:, None]
                q[...] = col.reshape(q.shape)
            else:
                q[...] = q0[t0:t1].reshape(q.shape)
                q /= np.sqrt(dot_re(q, q))[..., None]
            w3 = wbuf[: c * m].reshape(bshape + (1, m))
            w = w3[..., 0, :]
            tm = tbuf[: c * m].reshape(bshape + (m,))
            dd = dbuf[:c].reshape(bshape)
            b = None  # beta of the previous step
            for j in range(steps):
                q = Qt[j]
                np.matmul(q[..., None, :], Gt, out=w3)  # (G q)^T = q^T G^T
                a = dot_re(q, w, out=alpha[j, t0:t1].reshape(bshape))
                np.multiply(q, a[..., None], out=tm)
                w -= tm
                if j:
                    np.multiply(Qt[j - 1], b[..., None], out=tm)
                    w -= tm
                if j + 1 == steps:
                    break
                b = beta[j, t0:t1].reshape(bshape)
                np.sqrt(dot_re(w, w), out=b)
                np.less_equal(b, thr, out=dd)
                if dd.any():
                    b[dd] = 0
                    w[dd] = 0
                    np.divide(w, np.where(dd, 1, b)[..., None], out=Qt[j + 1])
                else:
                    np.divide(w, b[..., None], out=Qt[j + 1])
            if keep:
                # the certificate needs -G (its inertia test factors mu I - G + theta v v^H):
                # negated now, while the task's Gram matrices are still in cache
                np.negative(Gt, out=Gt)

    with _parallel.blas_single_threaded():
        _parallel.run_parallel(lanczos_work, threads)
    xp = B.get_namespace(S5)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        alpha64 = alpha.astype(np.float64)
        beta64 = beta[:-1].astype(np.float64)
        _, _, Y = _tridiag_top(xp, alpha64, beta64)
    Yc = np.ascontiguousarray(np.nan_to_num(Y.T).astype(dt))  # (n, steps)
    V = np.empty((n, m, 1), dtype=dt)
    W = np.empty((n, (s if right else p)), dtype=dt)
    theta = np.empty(n, dtype=np.float64)
    resid = np.empty(n, dtype=np.float64)
    direct = np.full(n, np.nan)
    missed = np.full(n, np.inf)
    cert = np.zeros(n, dtype=np.int8)
    trG64 = trG.astype(np.float64)
    wide = rdt == np.float32
    wdt = (np.complex128 if cplx else np.float64) if wide else dt
    # margins of Rayleigh quotients computed in the slab's own dtype (single precision: a
    # second, double-precision pass proves what these cannot)
    mg_lo = _Margins(np.finfo(dt).eps, s, p, cplx=cplx) if wide else mg
    next_task = _parallel.task_queue(len(tasks))

    def ritz_work():
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            _ritz_tasks()

    def quantities(Xs, vs):
        """``u = W``, ``theta``, residual norm of the unit vectors ``vs`` (..., m) on the slabs
        ``Xs`` (..., s', p'), in the dtype of ``Xs``; ``theta`` and the residual as float64."""
        vin = vs if right or not cplx else np.conj(vs)
        u = np.matmul(Xs, vin[..., None])  # (..., m', 1)
        uc = np.conj(u) if cplx else u
        gv = np.matmul(Xs.swapaxes(-1, -2), uc)[..., 0]
        if cplx and right:
            np.conj(gv, out=gv)
        th = dot_re(u[..., 0], u[..., 0])
        gv -= th[..., None] * vs
        res = np.sqrt(dot_re(gv, gv))
        return u[..., 0], th.astype(np.float64), res.astype(np.float64)

    def direct_energy(Xs, u, vs):
        """``||X - u v^T||_F^2`` (``v`` conjugated when ``X = S``), float64, (c,)."""
        vr = np.conj(vs) if cplx and right else vs
        E = Xs - u[..., :, None] * vr[..., None, :]
        Ef = E.reshape(E.shape[0], -1)
        return dot_re(Ef, Ef).astype(np.float64)

    def inertia(Gn, vs, th, r, tg, bud, mgx):
        """Inertia test of ``mu I - G + theta v v^H`` for slabs whose negated Gram matrices
        ``Gn`` (c, m, m; C order holding ``-conj(G)``, i.e. ``-G`` read in Fortran order;
        overwritten) belong to ``vs``; returns ``(ok, missed)``."""
        mu = mgx.inertia_shift(th[:, None], r[:, None], tg, bud)
        okm = (mu > 0) & np.isfinite(mu)
        mu = np.where(okm, mu, 0.0)
        trH = m * mu + tg + th  # bounds |trace H|
        di = np.arange(m)
        Gn[:, di, di] += (mu - mgx.inertia_margin(trH, tg, mu)).astype(rdt)[:, None]
        ok = _lapack.rank1_cholesky_ok(Gn, vs, th) & okm
        mis = mgx.missed(th[:, None], r[:, None], tg, mu)
        return ok, mis

    def certify(th, r, tg, kept, mgx):
        """Trace certificate: ``(budget, ok, missed bound)`` of each slab (float64 arrays)."""
        bud = mgx.budget(tg, kept)
        mis = mgx.missed(th[:, None], r[:, None], tg, mgx.trace_mu(th[:, None], tg))
        return bud, mis <= bud, mis

    def neg_gram(Xs, buf):
        """``-conj(G)`` of the slabs ``Xs`` (c, s', p') into ``buf``."""
        G = buf[: Xs.shape[0] * m * m].reshape(Xs.shape[0], m, m)
        gram_t(Xs, G)
        np.negative(G, out=G)
        return G

    def _ritz_tasks():
        gbuf = np.empty(cap * m * m, dtype=dt)
        while (t := next_task()) is not None:
            t0, t1, _, _, na, _, nbb = task = tasks[t]
            c = t1 - t0
            bshape = (na, nbb)
            X = slabs(task)  # (na, nbb, s', p') view

            def pick(idx, X=X, nbb=nbb):  # slabs at task positions idx (copy)
                return X[idx // nbb, idx % nbb]

            v = np.matmul(Yc[t0:t1, None, :], Q[:, t0:t1].swapaxes(0, 1))[:, 0, :]  # (c, m)
            nv = np.sqrt(dot_re(v, v))
            v /= np.where(nv > 0, nv, 1)[:, None]
            V[t0:t1, :, 0] = v
            u, th, r = quantities(X, v.reshape(bshape + (m,)))
            u = u.reshape(c, -1)
            th = th.reshape(-1)
            r = r.reshape(-1)
            W[t0:t1] = u
            tg = trG64[t0:t1]
            theta[t0:t1] = th
            resid[t0:t1] = r
            # nearly rank-1 slabs: trace(G) - theta would cancel, so their discarded energy
            # is measured directly while X is hot
            near = th >= (1 - 1e-3) * tg
            if near.any():
                ni = np.nonzero(near)[0]
                direct[t0:t1][ni] = direct_energy(pick(ni), u[ni], v[ni])
            kept = np.where(near, tg - np.nan_to_num(direct[t0:t1]), th)
            live = ~oor[t0:t1]
            # the certificate: trace gap first (free), then the inertia test
            bud, ok, mis = certify(th, r, tg, kept, mg_lo)
            ok &= live
            cert[t0:t1][ok] = _TRACE
            todo = live & ~ok
            if todo.any():
                ci = np.nonzero(todo)[0]
                if keep and ci.size == c:
                    G = Gkeep[t0:t1]
                elif keep:
                    G = Gkeep[t0:t1][ci]
                else:
                    G = neg_gram(pick(ci), gbuf)
                oki, misi = inertia(G, v[ci], th[ci], r[ci], tg[ci], bud[ci], mg_lo)
                good = ci[oki]
                mis[good] = misi[oki]
                ok[good] = True
                cert[t0:t1][good] = _INERTIA
                todo[good] = False
            missed[t0:t1][ok] = mis[ok]
            if wide and todo.any():
                # single precision: what the margins of single-precision Rayleigh quotients
                # could not prove, prove with the quotients in double precision
                ci = np.nonzero(todo)[0]
                Xs = pick(ci)
                Xw = Xs.astype(wdt)
                vw = v[ci].astype(wdt)
                u2, th2, r2 = quantities(Xw, vw)
                tg2 = tg[ci]
                kept2 = th2.copy()
                near2 = th2 >= (1 - 1e-3) * tg2
                if near2.any():
                    d2 = direct_energy(Xw[near2], u2[near2], vw[near2])
                    direct[t0:t1][ci[near2]] = d2
                    kept2[near2] = tg2[near2] - d2
                bud2, ok2, mis2 = certify(th2, r2, tg2, kept2, mg)
                cert[t0:t1][ci[ok2]] = _TRACE
                rest = np.nonzero(~ok2)[0]
                if rest.size:
                    G = neg_gram(Xs[rest], gbuf)
                    oki, misi = inertia(
                        G, v[ci[rest]], th2[rest], r2[rest], tg2[rest], bud2[rest], mg
                    )
                    mis2[rest[oki]] = misi[oki]
                    ok2[rest[oki]] = True
                    cert[t0:t1][ci[rest[oki]]] = _INERTIA
                missed[t0:t1][ci[ok2]] = mis2[ok2]
                theta[t0:t1][ci] = th2
                resid[t0:t1][ci] = r2
                W[t0:t1][ci] = u2.astype(dt)

    with _parallel.blas_single_threaded():
        _parallel.run_parallel(ritz_work, threads)
    cert[oor] = _FAIL
    return {
        "V": V,
        "W": W,
        "trG": trG64,
        "theta": theta,
        "direct": direct,
        "missed": missed,
        "cert": cert,
        "oor": oor,
    }
