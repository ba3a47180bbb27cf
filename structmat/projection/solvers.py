"""The slab solvers on any array namespace: Lanczos on stacked Gram matrices, a batched
``eigh``, and :func:`_solve_generic`, which certifies their answers and sends the rest to a
batched SVD.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _backend as B, _parallel
from ._arrays import _H, _conj, _eps, _gram, _host, _is_complex, _random, _real, _take
from .certificate import _EIGH, _FAIL, _INERTIA, _SVD, _TRACE, _Margins
from .tridiag import _tridiag_top


def _start_vectors(xp, G, r, i=None, mix: float = 0.1):
    """Lanczos start vectors: the column of ``G`` of largest diagonal plus ``mix`` times the
    random unit vector ``r``.

    The column ``G e_i`` costs no product and is the first Krylov vector from ``e_i``; the
    largest diagonal favours coordinates where the top eigenvector is large, which saves
    about two Lanczos steps over a random start.  The random part keeps the start generic: a
    coordinate start alone could miss the top eigenvector of a structured ``G`` entirely (an
    invariant subspace the certificate could not see).  ``r`` must hold unit vectors; ``i``
    (optional) the index of the largest diagonal entry of each ``G[z]``.
    """
    m = G.shape[-1]
    if i is None:
        i = xp.argmax(_real(xp, xp.linalg.diagonal(G)), axis=-1)
    onehot = xp.astype(xp.arange(m)[None, :] == i[:, None], G.dtype)
    col = xp.vecdot(onehot[:, None, :], G)  # G e_i (G Hermitian)
    nc = xp.linalg.vector_norm(col, axis=-1)
    col = col / xp.astype(xp.where(nc > 0, nc, xp.ones_like(nc)), G.dtype)[:, None]
    q = col + mix * r
    nq = xp.linalg.vector_norm(q, axis=-1)
    return q / xp.astype(xp.where(nq > 0, nq, xp.ones_like(nq)), G.dtype)[:, None]


def _solve_lanczos1(xp, G, steps: int, rng, q0=None):
    """Top eigenvector of each Hermitian PSD ``G[z]`` by ``steps`` Lanczos steps.

    Plain three-term Lanczos (no reorthogonalisation: stacking the basis every step would
    double the cost); its copies of converged Ritz values do not affect the top pair as long
    as ``steps`` stays well below the order (:meth:`_Plan.solver_for`), and the certificate
    catches the rest.  ``q0`` (Z, m) replaces the random start (a restart from the current
    Ritz vectors).  Returns ``(V (Z, m, 1), theta_next (Z,), ritz)`` where ``theta_next``
    bounds the second Ritz value from above (the certificate's gap estimate) and ``ritz`` holds
    the tridiagonal matrices ``(alpha, beta)`` for :func:`_certified`.
    """
    Z, m = G.shape[0], G.shape[-1]
    dt = G.dtype
    cplx = _is_complex(xp, dt)
    rdt = B.real_dtype_for(xp, dt)
    if q0 is None:
        r = _random(xp, rng, (Z, m), dt)
        q = _start_vectors(xp, G, r / xp.astype(xp.linalg.vector_norm(r, axis=-1), dt)[:, None])
    else:
        q = q0 / xp.astype(xp.linalg.vector_norm(q0, axis=-1), dt)[:, None]
    q_prev = xp.zeros_like(q)
    b_prev = xp.zeros((Z,), dtype=rdt)
    Qs, alphas, betas = [], [], []
    # a slab whose Krylov space became invariant (to rounding) stops there: its later vectors
    # are zero, so its tridiagonal matrix decouples instead of collecting rounding noise
    brk = 8.0 * _eps(xp, dt) * math.sqrt(m)
    scale = xp.zeros((Z,), dtype=rdt)
    for _ in range(steps):
        Qs.append(q)
        # w = G q as a batched dot product (vecdot conjugates its first argument)
        w = xp.vecdot(_conj(xp, q)[:, None, :], G)
        a = _real(xp, xp.vecdot(q, w))
        w = w - a[:, None] * q - b_prev[:, None] * q_prev
        b = xp.linalg.vector_norm(w, axis=-1)
        scale = xp.maximum(scale, xp.abs(a) + b_prev)
        b = xp.where(b > brk * scale, b, xp.zeros_like(b))
        alphas.append(a)
        betas.append(b)
        safe = xp.where(b > 0, b, xp.ones_like(b))
        q_prev, q = q, xp.where((b > 0)[:, None], w / safe[:, None], xp.zeros_like(w))
        b_prev = b
    f64 = xp.float64
    alpha = xp.astype(xp.stack(alphas), f64)
    beta = xp.astype(xp.stack(betas[:-1]), f64) if steps > 1 else xp.zeros((0, Z), dtype=f64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        _, theta2, Y = _tridiag_top(xp, alpha, beta)
    Yc = xp.astype(Y, dt) if not cplx else xp.astype(xp.astype(Y, rdt), dt)
    v = Yc[0, ...][:, None] * Qs[0]
    for i in range(1, steps):
        v = v + Yc[i, ...][:, None] * Qs[i]
    v = v / xp.linalg.vector_norm(v, axis=-1)[:, None]
    return v[:, :, None], xp.astype(theta2, rdt), (alpha, beta)


def _solve_eigh(xp, G, rho: int):
    w, Y = xp.linalg.eigh(G)
    m = G.shape[-1]
    V = xp.flip(Y[..., m - rho :], axis=-1)
    return V, w[..., m - rho - 1]


def _gram_times(xp, G, V):
    """``G @ V``; for one column as a batched dot product (NumPy's batched matmul calls one
    matrix-vector product per matrix, several times slower)."""
    if V.shape[-1] == 1:
        return xp.vecdot(_conj(xp, V[..., 0])[..., None, :], G)[..., None]
    return xp.matmul(G, V)


def _solve_generic(
    xp, Sg, rho: int, right: bool, method: str, steps: int, mg: _Margins, rng, q0=None
):
    """Solve a stack of slabs scaled into the safe range (not the NumPy rank-1 fast path).

    Returns ``(V (Z, m, rho), trG, cert, missed)``; slabs whose certificate fails get a full
    SVD (certificate ``"svd"``).  ``q0`` replaces the Lanczos start vectors.
    """
    G = _gram(xp, Sg, right)
    trG = _host(_real(xp, xp.linalg.trace(G))).astype(np.float64)
    Z, m = int(G.shape[0]), int(G.shape[-1])
    cert = np.zeros(Z, dtype=np.int8)
    missed = np.full(Z, np.inf)
    sdisc = np.full(Z, np.nan)  # discarded energies of SVD slabs, from their values
    if method == "lanczos":
        V, _, _ = _solve_lanczos1(xp, G, steps, rng, q0=q0)
        mu_e = None
    else:
        with _parallel.blas_single_threaded():
            w, Y = xp.linalg.eigh(G)
        V = xp.flip(Y[..., m - rho :], axis=-1)
        # the eigensolver's own enclosure: its eigenvalues are those of G_c + E with
        # ||E|| <= 8 m eps ||G_c|| (backward stability of the symmetric eigensolvers)
        w_next = _host(w[..., m - rho - 1]).astype(np.float64)
        mu_e = w_next + (8.0 * m * mg.eps + mg.e_gram) * trG
    GV = _gram_times(xp, G, V)
    theta = _host(_real(xp, xp.sum(_conj(xp, V) * GV, axis=-2))).astype(np.float64)
    resid = GV - V * xp.astype(xp.asarray(theta), V.dtype)[..., None, :]
    r = _host(xp.linalg.vector_norm(resid, axis=-2)).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        bud = mg.budget(trG, np.sum(theta, axis=1))
        mis = mg.missed(theta, r, trG, mg.trace_mu(theta, trG))
        ok = mis <= bud
        cert[ok] = _TRACE
        missed[ok] = mis[ok]
        if mu_e is not None:
            mis2 = mg.missed(theta, r, trG, mu_e)
            ok2 = ~ok & (mis2 <= bud)
            cert[ok2] = _EIGH
            missed[ok2] = mis2[ok2]
        elif rho == 1:
            # inertia test of mu I - G + theta v v^H by its smallest eigenvalue (generic
            # namespaces have no per-matrix Cholesky status)
            mu = mg.inertia_shift(theta, r, trG, bud)
            cand = np.nonzero((cert == _FAIL) & (mu > 0) & np.isfinite(mu))[0]
            if cand.size:
                Gc = _take(xp, G, cand)
                Vc = _take(xp, V, cand)
                rdt = B.real_dtype_for(xp, G.dtype)
                th = xp.asarray(theta[cand, 0], dtype=rdt)
                muc = xp.asarray(mu[cand], dtype=rdt)
                eye = xp.eye(m, dtype=G.dtype)
                H = (
                    xp.astype(muc, G.dtype)[:, None, None] * eye
                    - Gc
                    + xp.astype(th, G.dtype)[:, None, None] * xp.matmul(Vc, _H(xp, Vc))
                )
                lam = _host(xp.linalg.eigvalsh(H)[..., 0]).astype(np.float64)
                hf = _host(xp.linalg.matrix_norm(H)).astype(np.float64)
                marg = mg.inertia_margin(hf, trG[cand], mu[cand]) + 8.0 * m * mg.eps * hf
                good = cand[lam > marg]
                cert[good] = _INERTIA
                missed[good] = mg.missed(theta[good], r[good], trG[good], mu[good])
    bad = np.nonzero(cert == _FAIL)[0]
    if bad.size:
        with _parallel.blas_single_threaded():
            U_, sv_, Vh_ = xp.linalg.svd(_take(xp, Sg, bad), full_matrices=False)
        Vs = _H(xp, Vh_)[..., :rho] if right else U_[..., :rho]
        sdisc[bad] = np.sum(_host(sv_).astype(np.float64)[:, rho:] ** 2, axis=-1)
        sel = np.arange(Z)
        sel[bad] = Z + np.arange(bad.size)
        V = _take(xp, xp.concat([V, Vs], axis=0), sel)
        cert[bad] = _SVD
        missed[bad] = m * mg.eps * trG[bad]
    return V, trG, cert, missed, sdisc
