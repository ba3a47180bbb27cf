"""Top eigenpairs of many small symmetric tridiagonal matrices at once (the Lanczos
projections of the slab Gram matrices): vectorised Sturm bisection and inverse iteration.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _backend as B
from .options import current_options


def _bisect_numpy(a_rows, b_rows, lo, hi, target, iters: int) -> None:
    """The Sturm-count bisection of :func:`_tridiag_top` on NumPy, in place on ``lo``/``hi``.

    Same recurrence as the generic loop, with preallocated buffers: the loop runs about
    ``iters * K`` small array operations, whose allocations would otherwise cost a third of
    its time.
    """
    K = len(a_rows)
    x = np.empty_like(lo)
    d = np.empty_like(lo)
    t = np.empty_like(lo)
    neg = np.empty(lo.shape, dtype=bool)
    cnt = np.empty(lo.shape, dtype=np.int32)
    up = np.empty(lo.shape, dtype=bool)
    for _ in range(iters):
        np.add(lo, hi, out=x)
        x *= 0.5
        np.subtract(a_rows[0], x, out=d)
        np.less(d, 0, out=neg)
        np.copyto(cnt, neg)
        for i in range(1, K):
            np.divide(b_rows[i - 1], d, out=t)
            np.subtract(a_rows[i], x, out=d)
            d -= t
            np.less(d, 0, out=neg)
            cnt += neg
        np.greater_equal(cnt, target, out=up)
        np.copyto(hi, x, where=up)
        np.logical_not(up, out=up)
        np.copyto(lo, x, where=up)


def _tridiag_dense(xp, alpha, beta):
    """The symmetric tridiagonal matrices (Z, K, K) of diagonals ``alpha`` (K, Z) and
    off-diagonals ``beta`` (K-1, Z); non-finite entries become 0 (left to the certificate)."""
    K, Z = alpha.shape
    f64 = alpha.dtype
    idx = xp.arange(K)
    T = xp.where(idx[:, None] == idx[None, :], xp.permute_dims(alpha, (1, 0))[:, :, None], 0.0)
    up = xp.concat([xp.permute_dims(beta, (1, 0)), xp.zeros((Z, 1), dtype=f64)], axis=1)[:, :, None]
    T = T + xp.where(idx[None, :] == idx[:, None] + 1, up, 0.0)
    T = T + xp.where(idx[:, None] == idx[None, :] + 1, xp.permute_dims(up, (0, 2, 1)), 0.0)
    return xp.where(xp.isfinite(T), T, xp.zeros_like(T))


def _tridiag_top(xp, alpha, beta, iters: int = 14, inv_iters: int = 3):
    """Top eigenpair and second eigenvalue of many symmetric tridiagonal matrices at once.

    ``alpha`` (K, Z) holds the diagonals and ``beta`` (K-1, Z) the off-diagonals (float64).
    Hand-written because batched LAPACK calls on thousands of 20x20 matrices cost far more
    (one call per matrix) than these vectorised recurrences:

    * Sturm-count bisection (IEEE form of the LDL^T recurrence, Kahan) brackets the three
      largest eigenvalues of all matrices together;
    * inverse iteration with the shift just above the top eigenvalue (``sigma I - T`` is
      positive definite, so the LDL^T solve needs no pivoting) gives its eigenvector, and its
      Rayleigh quotient the refined eigenvalue.

    Returns ``(theta1, theta2_upper, Y)``: ``theta2_upper`` is an upper bound of the second
    eigenvalue, ``Y`` (K, Z) the unit top eigenvectors.
    """
    K, Z = alpha.shape
    f64 = alpha.dtype
    zero = xp.zeros((1, Z), dtype=f64)
    if K == 1:
        return alpha[0, ...], xp.full((Z,), -xp.inf, dtype=f64), xp.ones((1, Z), dtype=f64)
    if Z <= current_options().tridiag_dense_max:
        # few matrices: the recurrences below cost about 10^3 array operations whatever Z is,
        # a batched dense eigh is cheaper
        w, U = xp.linalg.eigh(_tridiag_dense(xp, alpha, beta))
        # the computed second eigenvalue plus its rounding error bounds the true one
        err = 64 * 2.0**-52 * xp.max(xp.abs(w), axis=-1)
        return w[:, -1], w[:, -2] + err, xp.permute_dims(U[:, :, -1], (1, 0))
    # work on T / ||T|| (a zero matrix stays zero): the thresholds below are then absolute
    scale = xp.max(xp.abs(alpha), axis=0) + xp.max(xp.abs(beta), axis=0)
    scale = xp.where(scale > 0, scale, xp.ones_like(scale))
    alpha = alpha / scale
    beta = beta / scale
    ab = xp.abs(beta)
    tiny = xp.full((Z,), 1e-280, dtype=f64)
    # a zero off-diagonal would make 0/0 in the recurrence: replace it by a negligible one
    b2 = xp.maximum(beta * beta, tiny)
    rad = xp.concat([ab, zero], axis=0) + xp.concat([zero, ab], axis=0)
    lo = xp.min(alpha - rad, axis=0)
    hi = xp.max(alpha + rad, axis=0)
    # strictly above the spectrum, also when it is a single point (the shift of the inverse
    # iteration below must not sit on an eigenvalue to rounding)
    hi = hi + 1e-12 * (hi - lo) + 1e-13
    lo2 = xp.stack([lo, lo])
    hi2 = xp.stack([hi, hi])
    target = xp.asarray([[K], [K - 1]], dtype=xp.int32)
    a_rows = [xp.stack([alpha[i, ...], alpha[i, ...]]) for i in range(K)]
    b_rows = [xp.stack([b2[i, ...], b2[i, ...]]) for i in range(K - 1)]
    if B.is_numpy(xp):
        _bisect_numpy(a_rows, b_rows, lo2, hi2, target, iters)
    else:
        for _ in range(iters):
            x = 0.5 * (lo2 + hi2)
            d = a_rows[0] - x
            negs = [d < 0]
            for i in range(1, K):
                d = (a_rows[i] - x) - b_rows[i - 1] / d
                negs.append(d < 0)
            cnt = xp.sum(xp.astype(xp.stack(negs), xp.int32), axis=0)
            up = cnt >= target
            hi2 = xp.where(up, x, hi2)
            lo2 = xp.where(up, lo2, x)
    sig = hi2[0, ...]
    # LDL^T of sigma I - T (all pivots positive)
    d = [xp.maximum(sig - alpha[0, ...], tiny)]
    for i in range(1, K):
        d.append(xp.maximum((sig - alpha[i, ...]) - b2[i - 1, ...] / d[i - 1], tiny))
    lfac = [beta[i, ...] / d[i] for i in range(K - 1)]
    y = [xp.ones((Z,), dtype=f64)] * K
    assert inv_iters >= 1
    Y: Any = None
    for _ in range(inv_iters):
        z = [y[0]]
        for i in range(1, K):
            z.append(y[i] + lfac[i - 1] * z[i - 1])
        out = [None] * K
        out[K - 1] = z[K - 1] / d[K - 1]
        for i in range(K - 2, -1, -1):
            out[i] = z[i] / d[i] + lfac[i] * out[i + 1]
        Y = xp.stack(out)
        Y = Y / xp.linalg.vector_norm(Y, axis=0)
        y = [Y[i, ...] for i in range(K)]
    TY = (
        alpha * Y
        + xp.concat([beta * Y[1:, ...], zero], axis=0)
        + xp.concat([zero, beta * Y[:-1, ...]], axis=0)
    )
    theta1 = xp.sum(Y * TY, axis=0)
    return theta1 * scale, hi2[1, ...] * scale, Y
