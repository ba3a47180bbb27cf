"""The factorisation of a matrix of the class 𝓜𝓜* (:func:`factor_mm_star`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _backend as B
from ..geometry import split_nblocks
from ..ops.monarch import Monarch
from ._arrays import (
    _H,
    _abs2,
    _as_dense,
    _conj,
    _eps,
    _host,
    _is_complex,
    _ldexp,
    _pow2_exponents,
    _rounding_tol,
)


def _mm_star_blocks(n: int, nblocks: Any) -> tuple[int, int]:
    """``(k, l)`` with ``k l = n`` for :func:`factor_mm_star` (every slab of rank 1 and a full
    middle dimension: :func:`structmat.geometry.split_nblocks`)."""
    return split_nblocks(n, nblocks, "factor_mm_star (which needs k * l == n)")


def _eig(xp, X):
    """Eigen-decomposition of a general square matrix.

    Uses ``xp.linalg.eig`` where the namespace has it (NumPy, array-API 2025.12); otherwise
    the one small ``k x k`` problem is solved on the host, explicitly, and moved back.
    """
    eig = getattr(xp.linalg, "eig", None)
    if eig is not None:
        res = eig(X)
        return res[0], res[1]
    w, V = np.linalg.eig(B.to_numpy(X))
    return B.move(w, xp), B.move(V, xp)


def factor_mm_star(M: Any, nblocks: Any = None, *, rtol: float | None = None, seed: Any = 0):
    """Factor ``M = M1 @ M2.H`` with Monarch ``M1``, ``M2`` (the 𝓜𝓜* class; Dao et al.,
    ICML 2022, Theorem 2).

    Write ``M~ = P_out^T M P_out`` as an ``l x l`` grid of ``k x k`` blocks.  For
    ``M = M1 M2^H`` it factors as ``M~_{bb'} = L1_b D_{bb'} L2_{b'}`` with ``D_{bb'}`` diagonal
    (the middle factor ``R1 R2^H`` seen through the stride permutation), so the matrices
    ``X_{bb'} = M~_{b0}^-1 M~_{bb'} M~_{0b'}^-1 M~_{00}`` are simultaneously diagonalised by
    ``L2_0^-1`` (Dao et al. 2022, Theorem 2 / appendix Theorem 7).  One eigen-decomposition of a
    random combination of them gives ``L2_0``; the other blocks follow by solves, and
    ``D_{bb'} = diag(L2_0 X_{bb'} L2_0^-1)``.  Cost ``O(n^2 k)`` (``O(n^{5/2})`` for ``k = sqrt n``).
    Computed in double precision; the result has the dtype of ``M``.

    Parameters
    ----------
    M : array, shape (n, n)
        Square, real or complex, float32 or float64.
    nblocks : None, int or (int, int)
        ``(k, l)`` with ``k l = n``: ``M1`` is ``Monarch(L1, R)`` with ``L1`` of shape
        ``(l, k, k)`` and ``R`` of shape ``(k, l, l)``; ``M2`` is ``Monarch(L2, I)``.  An int
        ``b`` means ``(b, b)`` (``b^2 = n``); ``None`` takes ``k`` the divisor of ``n`` nearest
        ``sqrt(n)``.
    rtol : float, optional
        Accepted relative residual ``||M - M1 M2^H||_F / ||M||_F``; default
        ``sqrt(eps) * n^(1/4)`` of the dtype of ``M`` (conditioning of the blocks enters).
    seed : int, optional
        Seed of the random combination (the result does not depend on it beyond the gauge).

    Returns
    -------
    (Monarch, Monarch)

    Raises
    ------
    ValueError
        ``M`` is not square, ``nblocks`` is invalid, a block ``M~_{b0}`` / ``M~_{0b'}`` is
        singular (``M`` singular or the middle factor has zero entries), or the verified
        reconstruction misses ``M`` by more than ``rtol`` (``M`` is not in 𝓜𝓜*); the message
        gives the measured residual.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Monarch, factor_mm_star
    >>> A1, A2 = Monarch.random(64, seed=1), Monarch.random(64, seed=2)
    >>> M = (A1 @ A2.H).to_dense()
    >>> M1, M2 = factor_mm_star(M)
    >>> bool(np.allclose((M1 @ M2.H).to_dense(), M))
    True
    """
    A, xp = _as_dense(M, "M")
    if A.ndim != 2:
        raise ValueError(f"M must be a single square matrix (n, n); got shape {tuple(A.shape)}")
    n_out, n_in = int(A.shape[0]), int(A.shape[1])
    if n_out != n_in:
        raise ValueError(f"M must be square; got shape {(n_out, n_in)}")
    n = n_in
    k, l = _mm_star_blocks(n, nblocks)
    out_dt = A.dtype
    cplx = _is_complex(xp, out_dt)
    wdt = xp.complex128 if cplx else xp.float64
    # work on M * 2**-e, max |entry| in [0.5, 1): the same factors up to the exact power of two
    # folded back into L1 at the end, without under- or overflow at any input scale
    e_m = _pow2_exponents(xp, xp.reshape(A, (1, n, n)))
    if e_m is None:
        raise ValueError("M contains NaN or Inf entries")
    Mw = _ldexp(xp, xp.reshape(xp.astype(A, wdt), (1, n, n)), -e_m)[0, ...]
    # M~[b, b'] = M[{d l + b}, {d' l + b'}]  (k x k blocks, s = k)
    Mt = xp.permute_dims(xp.reshape(Mw, (k, l, k, l)), (1, 3, 0, 2))  # (l, l, k, k)
    # pivot block row i* and column j*: the best-conditioned ones (the algorithm inverts the
    # blocks of one block row and one block column)
    sv = xp.linalg.svdvals(Mt)  # (l, l, k)
    inv_cond = _host(sv[..., -1] / xp.where(sv[..., 0] > 0, sv[..., 0], xp.ones_like(sv[..., 0])))
    j0 = int(np.argmax(inv_cond.min(axis=0)))
    i0 = int(np.argmax(inv_cond.min(axis=1)))
    if min(inv_cond[:, j0].min(), inv_cond[i0, :].min()) <= 16 * _eps(xp, wdt):
        raise ValueError(
            "M is not factorable as M1 M2^H: every block row and column of M~ = P^T M P has a "
            "singular block (M singular, or the middle factor has zero entries)"
        )
    col = Mt[:, j0, ...]  # M~_{b j0}
    row = Mt[i0, ...]  # M~_{i0 b'}
    piv = xp.broadcast_to(Mt[i0, j0, ...][None, ...], (l, k, k))
    try:
        Ainv = xp.linalg.inv(col)
        C = xp.linalg.solve(row, piv)  # M~_{i0 b'}^-1 M~_{i0 j0}
    except np.linalg.LinAlgError as exc:
        raise ValueError(
            "M is not factorable as M1 M2^H: singular pivot blocks (M singular, or "
            f"the middle factor has zero entries): {exc}"
        ) from exc
    X = xp.matmul(xp.matmul(Ainv[:, None, ...], Mt), C[None, ...])  # (l, l, k, k)
    if not B.all_finite(xp, X):
        raise ValueError(
            "M is not factorable as M1 M2^H: singular pivot blocks (non-finite "
            "intermediate results)"
        )
    rng = np.random.default_rng(seed)
    coef = xp.astype(xp.asarray(rng.standard_normal((l, l)), dtype=xp.float64), wdt)
    # normalise the X_bb' so that no single (badly conditioned) one dominates the combination
    xn = xp.linalg.matrix_norm(X)  # (l, l)
    coef = coef / xp.astype(xp.where(xn > 0, xn, xp.ones_like(xn)), wdt)
    Xc = xp.sum(coef[:, :, None, None] * X, axis=(0, 1))
    _, W = _eig(xp, Xc)
    if not cplx:
        W = xp.real(W)
    W = xp.astype(W, wdt)
    W = W / xp.linalg.vector_norm(W, axis=0)[None, :]
    # algebraic solution (gauge: D_{b j0} = I, L1_b = M~_{b j0} W, L2'_{j0} = W^-1)
    L1 = xp.matmul(col, W)  # (l, k, k)
    try:
        Winv = xp.linalg.inv(W)
        L2t = xp.linalg.solve(xp.matmul(col[i0 : i0 + 1, ...], W), row)  # L1_{i0}^-1 M~_{i0 b'}
    except np.linalg.LinAlgError as exc:
        raise ValueError(
            f"M is not factorable as M1 M2^H: its blocks have no common eigenbasis ({exc})"
        ) from exc
    D = xp.sum(
        xp.matrix_transpose(Winv)[None, None, ...] * xp.matmul(X, W[None, None, ...]), axis=-2
    )
    # the i0 row was gauged to D_{i0 b'} = I by the solve above; the others follow from X
    # least-squares polishing (alternating over L1, L2', D): the algebraic solution inverts
    # blocks whose conditioning grows with n; a few sweeps bring the fit to rounding level
    tol = math.sqrt(_eps(xp, out_dt)) * n**0.25 if rtol is None else float(rtol)
    try:
        L1, D, L2t = _mm_star_polish(xp, Mt, L1, D, L2t, target=_rounding_tol(xp, wdt, n))
    except np.linalg.LinAlgError as exc:
        raise ValueError(
            f"M is not in MM* for nblocks=({k}, {l}): the least-squares fit of "
            f"its factors is singular ({exc})"
        ) from exc
    if not (B.all_finite(xp, L1) and B.all_finite(xp, D) and B.all_finite(xp, L2t)):
        raise ValueError(
            "M is not factorable as M1 M2^H: the factorisation diverged "
            "(singular blocks or a defective simultaneous eigenbasis)"
        )
    Rm = xp.permute_dims(D, (2, 0, 1))  # R[c, b, b'] (k, l, l)
    L2 = _H(xp, L2t)  # M2 = Monarch(L2, I)
    eye = xp.broadcast_to(xp.eye(l, dtype=wdt)[None, ...], (k, l, l))
    M1 = Monarch(xp.astype(L1, out_dt), xp.astype(Rm, out_dt))
    M2 = Monarch(xp.astype(L2, out_dt), xp.astype(eye, out_dt))
    # verify the reconstruction (structured products, O(n^2 k))
    recon = (M1 @ M2.H).to_dense()
    num = xp.sum(_abs2(xp, xp.astype(recon, wdt) - Mw))
    den = xp.sum(_abs2(xp, Mw))
    res = float(xp.sqrt(num / den)) if float(den) > 0 else float(xp.sqrt(num))
    if not res <= tol:
        raise ValueError(
            f"M is not in MM* for nblocks=({k}, {l}) (or violates the invertibility / nonzero "
            f"middle-factor assumption): relative residual of M1 @ M2.H is {res:.3e} > "
            f"tolerance {tol:.3e}"
        )
    if e_m[0]:
        M1 = Monarch(_ldexp(xp, M1.L, np.full(int(M1.L.shape[0]), e_m[0])), M1.R)
    return M1, M2


def _mm_star_fit(xp, Mt, L1, D, L2t) -> float:
    """Relative misfit ``||M~ - L1 D L2'||_F / ||M~||_F`` over all blocks."""
    prod = xp.matmul(L1[:, None, ...] * D[:, :, None, :], L2t[None, ...])
    den = float(xp.sum(_abs2(xp, Mt)))
    return math.sqrt(float(xp.sum(_abs2(xp, Mt - prod))) / den) if den > 0 else 0.0


def _mm_star_polish(xp, Mt, L1, D, L2t, target: float, max_sweeps: int = 100):
    """Alternating least squares on ``M~_{bb'} = L1_b diag(D_{bb'}) L2'_{b'}``.

    The algebraic solution inverts blocks whose conditioning grows with ``n`` and amplifies
    rounding (or the rounding of a float32 input) by orders of magnitude.  Each update here is
    the exact minimiser of the Frobenius misfit over one factor with the others fixed (normal
    equations of size ``k``), so the misfit never increases; sweeps stop at ``target``, when
    they stagnate, or after ``max_sweeps``.  Cost per sweep ``O(l^2 k^3)``.
    """
    fit = _mm_star_fit(xp, Mt, L1, D, L2t)
    if not math.isfinite(fit):
        return L1, D, L2t
    for _ in range(max_sweeps):
        if fit <= target:
            break
        # L1_b = (sum_b' M~_bb' L2'^H_b' conj(D_bb')) (sum_b' D_bb' P_b' conj(D_bb'))^-1
        P2 = xp.matmul(L2t, _H(xp, L2t))  # (l, k, k)
        Dc = _conj(xp, D)
        gram = xp.sum(D[:, :, :, None] * P2[None, ...] * Dc[:, :, None, :], axis=1)
        rhs = xp.sum(xp.matmul(Mt, _H(xp, L2t)[None, ...]) * Dc[:, :, None, :], axis=1)
        L1 = xp.matrix_transpose(
            xp.linalg.solve(xp.matrix_transpose(gram), xp.matrix_transpose(rhs))
        )
        # L2'_b' = (sum_b conj(D) P1_b D)^-1 (sum_b conj(D_bb') L1_b^H M~_bb')
        P1 = xp.matmul(_H(xp, L1), L1)  # (l, k, k)
        gram = xp.sum(Dc[:, :, :, None] * P1[:, None, ...] * D[:, :, None, :], axis=0)
        rhs = xp.sum(Dc[:, :, :, None] * xp.matmul(_H(xp, L1)[:, None, ...], Mt), axis=0)
        L2t = xp.linalg.solve(gram, rhs)
        # D_bb' from (L1^H L1 o conj(L2' L2'^H)) d = diag(L1^H M~ L2'^H)
        P2 = xp.matmul(L2t, _H(xp, L2t))
        hmat = P1[:, None, ...] * _conj(xp, P2)[None, ...]  # (l, l, k, k)
        proj = xp.matmul(xp.matmul(_H(xp, L1)[:, None, ...], Mt), _H(xp, L2t)[None, ...])
        diag = xp.linalg.diagonal(proj)  # (l, l, k)
        D = xp.linalg.solve(hmat, diag[..., None])[..., 0]
        new_fit = _mm_star_fit(xp, Mt, L1, D, L2t)
        if not new_fit < 0.95 * fit:
            fit = new_fit
            break
        fit = new_fit
    return L1, D, L2t
