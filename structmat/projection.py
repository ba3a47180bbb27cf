"""Optimal Monarch projection, exact factor recovery and the 𝓜𝓜* factorisation.

The projection rests on the slab identity of :class:`~structmat.Monarch`: in the entry view

``M[d l + b, a p + j] = sum_{i : (a q + i) mod l = b} L[b, d, (a q + i) div l] R[a, i, j]``

each pair ``(a, b)`` owns the disjoint ``s x p`` slab ``A[{d l + b}, {a p + j}]`` and the slab of a
Monarch matrix has rank at most ``ranks[a, b]`` (its number of connecting middle indices
``i``, :func:`structmat.ops.monarch.slab_ranks`).  Distinct slabs use disjoint parameters, so the
Frobenius-optimal Monarch approximation is one truncated SVD per slab (Eckart–Young), each of
the slab's own rank (Dao et al., ICML 2022, Theorem 1, for the square case).

Slabs are solved in batches (all slabs of one rank together) on the Gram matrix ``G`` of the
smaller side, by the cheapest method whose answer can be proved optimal:

* rank 0 and full-rank slabs need no decomposition;
* rank-1 slabs of order >= 32 (float32) or >= 48 (float64): a Lanczos run on the Gram matrix
  from a random start (seeded), whose small tridiagonal problems are solved for all slabs at
  once.  On NumPy this runs cache-blocked over a few threads (:func:`_lanczos1_numpy`);
* every other slab: a batched ``eigh`` of its Gram matrix.

**The certificate.**  A slab's basis ``V`` is accepted only with a proven bound of the energy
it misses, ``sum_i lambda_i(G) - trace(V^H G V)``: the quadratic residual bound
``rho ||G V - V Theta||_F^2 / (theta_min - mu)`` (Kato–Temple for one vector), valid once
``mu`` is *proved* to bound the first eigenvalue the basis does not keep.  Three proofs of
``mu`` are used: the trace (``lambda_{rho+1} <= trace G - sum theta``, for slabs close to their
rank), an inertia count (a floating-point Cholesky factorisation of
``mu I - G + theta v v^H``, shifted by its rounding error bound, succeeds only if no second
eigenvalue lies above ``mu``), or the enclosure of a full symmetric eigensolver.  Every
rounding error of the computed quantities is bounded and added (:class:`_Margins`); a residual
that underflows cannot pass, because slabs whose energy leaves a safe range are first scaled
by a power of two (exact).  A slab passes when its bound is at most ``8 eps sqrt(m)`` times its
discarded energy plus ``(8 m eps)^2 ||S||_F^2``; Lanczos slabs that fail are restarted once
from their Ritz vector, and whatever still fails is solved by a full SVD.
:class:`ProjectionInfo` reports each slab's certificate and bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _backend as B
from . import _lapack, _parallel
from .base import StructuredMatrix, check_size
from .ops.monarch import Monarch, monarch_geometry, nearest_divisor, slab_ranks

__all__ = [
    "project_to_monarch",
    "projection_error",
    "monarch_factors",
    "factor_mm_star",
    "ProjectionInfo",
    "slab_singular_values",
]

#: seed of the start vectors of the iterative slab solvers (results are deterministic)
_START_SEED = 20220404
#: smallest slab order (of the Gram matrix) solved by Lanczos rather than a full ``eigh``
_LANCZOS_MIN_ORDER = 32
#: at most this many tridiagonal matrices are solved by a dense batched ``eigh``
_TRIDIAG_DENSE_MAX = 256
#: budget (bytes) of the Gram matrices of one batch chunk
_CHUNK_BYTES = 256 * 2**20


# ----------------------------------------------------------------------------------------------
# validation and namespace helpers
# ----------------------------------------------------------------------------------------------

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
            raise TypeError(f"{name} must be an array of shape (..., n_out, n_in); got a ragged "
                            f"{type(A).__name__}") from exc
    else:
        raise TypeError(f"{name} must be an array of shape (..., n_out, n_in); got {type(A).__name__}")
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
    return [_nest(items[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def _flatten(items: Any, depth: int) -> list:
    if depth == 0:
        return [items]
    if isinstance(items, StructuredMatrix) or not isinstance(items, (list, tuple)):
        raise TypeError(f"expected a nested sequence of depth {depth} of Monarch matrices")
    out = []
    for it in items:
        out.extend(_flatten(it, depth - 1))
    return out


# ----------------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProjectionInfo:
    """What :func:`project_to_monarch` knows about its result beyond the factors.

    Energies (``discarded``, ``norm_sq``, ``missed``) are float64 arrays in the namespace of
    ``A``, for every input dtype, and are those of ``A * 2**-exponent``: ``exponent`` is 0
    unless the energies of ``A`` itself would overflow or underflow float64 (float64 input with
    entries beyond about ``1e±135``).  :attr:`error` and :attr:`gap` are ratios and do not
    depend on it.

    Attributes
    ----------
    geometry : tuple
        ``(k, q, p, l, s, r)`` of the result (see :class:`~structmat.Monarch`).
    ranks : numpy.ndarray, shape (k, l)
        Rank allotted to each slab ``(a, b)`` (its number of connecting middle indices).
    discarded : array, shape (..., k, l)
        Discarded energy of each slab, ``||S - M_S||_F^2``: the slab's energy minus the kept
        energy, or, where that difference is below 1e-3 of the slab's energy (and would cancel),
        the residual measured directly.  :func:`slab_singular_values` gives the individual
        discarded singular values.
    norm_sq : array, shape (...)
        ``||A||_F^2`` of each matrix.
    solvers : dict
        Number of slabs handled by each method: ``"exact"`` (full-rank slab kept as is),
        ``"zero"`` (rank-0 or all-zero slab), ``"lanczos"``, ``"eigh"``, and ``"svd"`` (slabs
        whose certificate failed, also after a restart, solved by a full SVD).
    certificates : numpy.ndarray of str, shape (..., k, l)
        What proves each slab optimal: ``"exact"`` and ``"zero"`` (nothing to solve),
        ``"trace"`` (quadratic residual bound with the gap ``theta - (trace G - theta)``: slabs
        close to their rank), ``"inertia"`` (quadratic residual bound with a gap proved by a
        Cholesky inertia test that ``G`` has no other eigenvalue above the shift), ``"eigh"``
        (the gap from the enclosure of a full symmetric eigensolver) or ``"svd"`` (a full SVD).
    missed : array, shape (..., k, l)
        Proven upper bound of each slab's excess over its optimum,
        ``||S - M_S||_F^2 - min_rank ||S - X||_F^2`` (for ``"svd"`` slabs: the SVD's backward
        error ``m eps ||S||_F^2``; 0 for exact and zero slabs).  Certified slabs satisfy
        ``missed <= tol * discarded + phi * ||S||_F^2`` with ``tol = 8 eps sqrt(m)`` and
        ``phi = (8 m eps)^2`` (``m`` the slab's smaller side, ``eps`` of the dtype of ``A``).
    exponent : int
        Scale of the energies (see above).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import project_to_monarch
    >>> A = np.random.default_rng(0).standard_normal((16, 16))
    >>> M, info = project_to_monarch(A, return_info=True)
    >>> info.ranks.tolist()
    [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]]
    >>> bool(np.isclose(info.error, np.linalg.norm(A - M.to_dense()) / np.linalg.norm(A)))
    True
    >>> set(info.certificates.ravel().tolist()) <= {"eigh", "inertia", "svd", "trace"}
    True
    >>> info.gap < 1e-12          # the error is optimal to this relative bound (squared)
    True
    """

    geometry: tuple
    ranks: np.ndarray
    discarded: Any
    norm_sq: Any
    solvers: dict
    certificates: np.ndarray = None
    missed: Any = None
    exponent: int = 0

    def _ratio(self, num):
        xp = B.get_namespace(self.norm_sq)
        den = self.norm_sq
        safe = xp.where(den > 0, den, xp.ones_like(den))
        out = xp.where(den > 0, num / safe, xp.zeros_like(num))
        return out

    @property
    def error(self):
        """Relative Frobenius error ``||A - M||_F / ||A||_F`` from the discarded energies.

        A Python float for a single matrix, an array of the batch shape otherwise.
        """
        xp = B.get_namespace(self.discarded)
        err = xp.sqrt(self._ratio(xp.sum(self.discarded, axis=(-2, -1))))
        if err.ndim == 0:
            return float(err)
        return err

    @property
    def gap(self):
        """Proven bound of ``error**2 - optimal_error**2``: ``sum(missed) / norm_sq``.

        A Python float for a single matrix, an array of the batch shape otherwise.
        """
        xp = B.get_namespace(self.missed)
        g = self._ratio(xp.sum(self.missed, axis=(-2, -1)))
        if g.ndim == 0:
            return float(g)
        return g


# ----------------------------------------------------------------------------------------------
# the slab solvers
# ----------------------------------------------------------------------------------------------

def _lanczos_steps(xp, dtype) -> int:
    """Lanczos steps of the rank-1 solver (certified afterwards).

    With the start of :func:`_start_vectors`, 18 (float32) and 30 (float64) steps certify
    about 99 % of the slabs of Gaussian and power-law matrices at order 64; the rest are
    restarted.  More steps help little in float32 and hurt in float64, where the lost
    orthogonality of plain Lanczos starts to duplicate the top Ritz value.
    """
    return 18 if _eps(xp, dtype) > 1e-10 else 30


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
    col = xp.vecdot(onehot[:, None, :], G)                         # G e_i (G Hermitian)
    nc = xp.linalg.vector_norm(col, axis=-1)
    col = col / xp.astype(xp.where(nc > 0, nc, xp.ones_like(nc)), G.dtype)[:, None]
    q = col + mix * r
    nq = xp.linalg.vector_norm(q, axis=-1)
    return q / xp.astype(xp.where(nq > 0, nq, xp.ones_like(nq)), G.dtype)[:, None]


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
    if Z <= _TRIDIAG_DENSE_MAX:
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
    Y = None
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
    TY = alpha * Y + xp.concat([beta * Y[1:, ...], zero], axis=0) + xp.concat([zero, beta * Y[:-1, ...]], axis=0)
    theta1 = xp.sum(Y * TY, axis=0)
    return theta1 * scale, hi2[1, ...] * scale, Y


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
    V = xp.flip(Y[..., m - rho:], axis=-1)
    return V, w[..., m - rho - 1]


def _gram_times(xp, G, V):
    """``G @ V``; for one column as a batched dot product (NumPy's batched matmul calls one
    matrix-vector product per matrix, several times slower)."""
    if V.shape[-1] == 1:
        return xp.vecdot(_conj(xp, V[..., 0])[..., None, :], G)[..., None]
    return xp.matmul(G, V)


# ----------------------------------------------------------------------------------------------
# the certificate
# ----------------------------------------------------------------------------------------------

#: names of the certificate codes in :attr:`ProjectionInfo.certificates`
_CERT_NAMES = ("none", "exact", "zero", "trace", "inertia", "eigh", "svd")
_FAIL, _EXACT, _ZERO, _TRACE, _INERTIA, _EIGH, _SVD = range(7)


class _Margins:
    """Tolerance and rounding margins of the certificate for ``s x p`` slabs.

    All bounds are rigorous for the true slab ``S`` (exact arithmetic on the stored entries),
    with every computed quantity's rounding bounded in the standard model
    ``fl(a op b) = (a op b)(1 + d)``, ``|d| <= u = eps / 2`` (doubled for complex arithmetic),
    ``gamma_k = k u / (1 - k u)``, and a safety factor 1.25 on the sums below:

    * the Gram matrix ``G_c`` (dtype ``eps``): ``||G_c - S^H S||_2 <= gamma_n ||S||_F^2``
      (``n = max(s, p)``, the length of its inner products); the same bounds its trace;
    * a Rayleigh quotient ``theta = ||S v||^2`` and residual ``r = ||S^H S v - theta v||``
      computed from the slab in a dtype of unit roundoff ``eps_ritz / 2``:
      ``e_theta = 3 gamma_n + (m + 2) u`` and ``e_r = 2 gamma_n + e_theta + 2 u`` (relative to
      ``||S||_F^2``; ``m + 2`` covers ``||v|| != 1``); computed from ``G_c`` instead
      (``from_gram``) they also carry ``gamma_n`` of the Gram matrix;
    * a slab passes when the energy its basis may miss is at most ``tol`` times its discarded
      energy plus the floor ``phi ||S||_F^2``, ``tol = 8 eps sqrt(m)``, ``phi = (8 m eps)^2``
      (``m`` the slab's smaller side): below the floor, energies are not resolved by the
      dtype anyway.
    """

    def __init__(self, eps: float, s: int, p: int, *, eps_ritz: float | None = None,
                 cplx: bool = False, from_gram: bool = False):
        m = min(s, p)
        n = max(s, p)
        c = 2.0 if cplx else 1.0
        u = c * float(eps) / 2
        ur = c * float(eps if eps_ritz is None else eps_ritz) / 2

        def gamma(k, uu):
            return k * uu / (1.0 - k * uu)

        self.eps = float(eps)
        self.u = u
        self.m = m
        self.e_gram = gamma(n, u)
        e_theta = 3 * gamma(n, ur) + (m + 2) * ur
        e_r = 2 * gamma(n, ur) + e_theta + 2 * ur
        if from_gram:
            e_theta += self.e_gram
            e_r += self.e_gram
        self.e_theta = 1.25 * e_theta
        self.e_r = 1.25 * e_r
        self.g_chol = gamma(m + 1, u)
        self.tol = 8.0 * self.eps * math.sqrt(m)
        self.phi = (8.0 * m * self.eps) ** 2

    def budget(self, trG: np.ndarray, kept: np.ndarray) -> np.ndarray:
        """Energy a slab may miss: ``tol * discarded + phi * ||S||^2`` (host float64)."""
        return self.tol * np.maximum(trG - kept, 0.0) + self.phi * trG

    def missed(self, theta: np.ndarray, r: np.ndarray, trG: np.ndarray, mu: np.ndarray):
        """Bound of the energy missed by a Ritz basis, given ``mu >= lambda_{rho+1}``.

        ``theta`` and ``r`` (Z, rho) are the computed Rayleigh quotients and residual norms of
        the basis vectors, ``trG`` (Z,) the computed ``||S||_F^2`` and ``mu`` (Z,) a proven upper
        bound of the first eigenvalue of ``S^H S`` the basis does not keep.  With the margins
        of the class, ``theta_lo = theta - e_theta`` and ``r_hi = r + e_r`` bound the true
        values, and the quadratic residual bound (Kato–Temple for ``rho = 1``; Mathias 1998,
        for a Ritz basis of dimension ``rho``) gives
        ``sum_i lambda_i - sum_j theta_j <= rho ||R||_F^2 / (min_j theta_lo_j - mu)``.
        ``inf`` where that gap is not positive (host float64 arrays).
        """
        t = trG[:, None]
        th_lo = np.min(theta - self.e_theta * t, axis=1)
        rr = r + self.e_r * t
        gap = th_lo - mu
        num = theta.shape[1] * np.sum(rr * rr, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(gap > 0, num / np.where(gap > 0, gap, 1.0), np.inf)
        return np.where(np.isfinite(out), out, np.inf)

    def trace_mu(self, theta: np.ndarray, trG: np.ndarray) -> np.ndarray:
        """``lambda_{rho+1} <= trace G - sum_{j <= rho} lambda_j <= trace G - sum_j theta_j``
        (``G`` positive semidefinite, Ky Fan), with the rounding margins."""
        return trG * (1.0 + self.e_gram) - np.sum(theta - self.e_theta * trG[:, None], axis=1)

    def inertia_shift(self, theta: np.ndarray, r: np.ndarray, trG: np.ndarray,
                      budget: np.ndarray) -> np.ndarray:
        """The shift ``mu`` of the inertia test of a rank-1 Ritz pair: the largest for which
        :meth:`missed` is half the budget (the closer ``mu`` to ``theta``, the easier the test
        that no other eigenvalue lies above it)."""
        th_lo = theta[:, 0] - self.e_theta * trG
        rr = r[:, 0] + self.e_r * trG
        with np.errstate(divide="ignore", invalid="ignore"):
            return th_lo - rr * rr / (0.5 * budget)

    def inertia_margin(self, trH: np.ndarray, trG: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Shift ``c`` such that a successful floating-point Cholesky of ``H_c - c I`` proves
        the exact ``H = mu I - S^H S + theta v v^H`` positive definite.

        A Cholesky factorisation that runs to completion satisfies ``R^H R = A + dA`` with
        ``||dA||_2 <= gamma_{m+1} / (1 - gamma_{m+1}) trace(A)`` (Demmel 1989; Higham,
        *Accuracy and Stability of Numerical Algorithms*, Thm. 10.5), and ``H_c`` differs from
        ``H`` by at most ``(gamma_n + 6 u) ||S||_F^2 + 2 u sqrt(m) mu`` (Gram matrix and
        assembly); ``c`` is their sum times 1.25, plus an underflow allowance.
        """
        g1 = self.g_chol
        return 1.25 * (g1 / (1.0 - g1) * np.abs(trH) + (self.e_gram + 6 * self.u) * trG
                       + 2 * self.u * math.sqrt(self.m) * np.abs(mu)) + 1e-300


def _inertia_ok(Ht: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Cholesky test of ``Ht[z] - c[z] I`` (in place), NumPy."""
    m = Ht.shape[-1]
    idx = np.arange(m)
    Ht[:, idx, idx] -= c.astype(Ht.real.dtype)[:, None]
    return _lapack.cholesky_ok(Ht)


#: budget (bytes) of the Gram matrices of one task of the NumPy rank-1 solver: 256 slabs of
#: order 64 in float32, which stay in the shared L3 cache for all Lanczos steps (smaller tasks
#: spend their time in per-call overhead, larger ones spill; see benchmarks/projection.py)
_FAST_TASK_BYTES = 1 << 22
#: the NumPy rank-1 solver keeps every Gram matrix for the certificate when they take at most
#: this many bytes (otherwise the certificate forms them again from the slabs)
_KEEP_GRAM_BYTES = 256 * 2**20


def _energy_range(dt) -> tuple[float, float]:
    """Slab energies ``||S||_F^2`` the solvers handle without scaling in dtype ``dt``.

    Inside, every quantity of the Lanczos loop and of the certificate (down to squared
    residuals near ``(eps ||S||^2)^2``) stays a normal number; slabs outside are scaled by a
    power of two first.
    """
    fi = np.finfo(dt)
    return 2.0 ** (fi.minexp // 2 + fi.nmant + 8), 2.0 ** (fi.maxexp // 2 - 8)


def _fast_tasks(zs: np.ndarray, grid: tuple[int, int, int], cap: int) -> list[tuple[int, ...]]:
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


def _lanczos1_numpy(S5, zs: np.ndarray, right: bool, steps: int, mg: _Margins, starts,
                    q0=None) -> dict:
    """Rank-1 slabs on NumPy: Gram, Lanczos, Ritz pair and certificate, cache-blocked, threaded.

    The generic path (:func:`_solve_lanczos1` on all Gram matrices at once) streams every
    Gram matrix from memory once per Lanczos step.  Here the slabs ``zs`` (flat indices over
    ``(nb, k, l)`` of the view ``S5``) are cut into tasks of consecutive slabs (whole R-blocks,
    i.e. strided column bands of ``A``, or parts of one) whose Gram matrices take about
    ``_FAST_TASK_BYTES``; each task forms its Gram matrices and runs all ``steps`` Lanczos
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
    cap = max(1, min(_FAST_TASK_BYTES // (m * m * dt.itemsize), max(16, -(-n // (2 * workers)))))
    tasks = _fast_tasks(zs, (nb, k, l), cap)
    keep = n * m * m * dt.itemsize <= _KEEP_GRAM_BYTES
    Gkeep = np.empty((n, m, m), dtype=dt) if keep else None
    lo_e, hi_e = _energy_range(dt)

    def slabs(task):
        t0, t1, e, a, na, b, nbb = task
        X = S5[e, a:a + na, b:b + nbb]                          # (na, nbb, s, p)
        return X if right else X.swapaxes(-1, -2)

    def gram_t(X, out):
        """``G^T = conj(G)`` of the slabs ``X`` into ``out``."""
        if not cplx:
            np.matmul(X.swapaxes(-1, -2), X, out=out)
        elif right:                                             # G = S^H S: G^T = S^T conj(S)
            np.matmul(X.swapaxes(-1, -2), np.conj(X), out=out)
        else:                                                   # G = S S^H: G^T = conj(S) S^T
            np.matmul(np.conj(X).swapaxes(-1, -2), X, out=out)

    Q = np.empty((steps, n, m), dtype=dt)         # step-major: each step's vectors contiguous
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
        gbuf = None if keep else np.empty(cap * m * m, dtype=dt)   # reused: stays cache-warm
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
                Gt = gbuf[:c * m * m].reshape(bshape + (m, m))
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
            w3 = wbuf[:c * m].reshape(bshape + (1, m))
            w = w3[..., 0, :]
            tm = tbuf[:c * m].reshape(bshape + (m,))
            dd = dbuf[:c].reshape(bshape)
            b = None                                            # beta of the previous step
            for j in range(steps):
                q = Qt[j]
                np.matmul(q[..., None, :], Gt, out=w3)             # (G q)^T = q^T G^T
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
    Yc = np.ascontiguousarray(np.nan_to_num(Y.T).astype(dt))      # (n, steps)
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
        u = np.matmul(Xs, vin[..., None])                       # (..., m', 1)
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
        trH = m * mu + tg + th                        # bounds |trace H|
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
        G = buf[:Xs.shape[0] * m * m].reshape(Xs.shape[0], m, m)
        gram_t(Xs, G)
        np.negative(G, out=G)
        return G

    def _ritz_tasks():
        gbuf = np.empty(cap * m * m, dtype=dt)
        while (t := next_task()) is not None:
            t0, t1, _, _, na, _, nbb = task = tasks[t]
            c = t1 - t0
            bshape = (na, nbb)
            X = slabs(task)                                          # (na, nbb, s', p') view

            def pick(idx):                               # slabs at task positions idx (copy)
                return X[idx // nbb, idx % nbb]

            v = np.matmul(Yc[t0:t1, None, :], Q[:, t0:t1].swapaxes(0, 1))[:, 0, :]   # (c, m)
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
                    oki, misi = inertia(G, v[ci[rest]], th2[rest], r2[rest], tg2[rest],
                                        bud2[rest], mg)
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
    return {"V": V, "W": W, "trG": trG64, "theta": theta, "direct": direct,
            "missed": missed, "cert": cert, "oor": oor}


# ----------------------------------------------------------------------------------------------
# the plan: geometry, slab kinds, gather indices
# ----------------------------------------------------------------------------------------------

class _Plan:
    """Host-side bookkeeping of one projection geometry."""

    def __init__(self, geometry):
        k, q, p, l, s, r = geometry
        self.geometry = geometry
        self.ranks = slab_ranks(k, q, l)
        self.mp = min(s, p)
        self.right = p <= s          # Gram S^H S (p x p) when True, S S^H (s x s) otherwise
        eff = np.minimum(self.ranks, self.mp)
        self.eff = eff
        self.rho_max = int(eff.max())
        flat = eff.reshape(-1)
        self.exact = (self.ranks >= self.mp).reshape(-1)
        self.zero = flat == 0
        self.solve_ranks = sorted({int(x) for x in flat[~self.exact & ~self.zero]})
        # pool positions of every middle index t: slab z = a l + b, column m = i div l
        t = np.arange(k * q)
        a, i = t // q, t % q
        b, c = t % l, t // l
        z = a * l + b
        m = i // l
        pos = z * self.rho_max + m
        pos = np.where(m < eff[a, b], pos, -1)          # beyond the slab's order: zero
        self.posR = pos                                   # R[a, i] <- pool[pos[a q + i]]
        order_L = (np.arange(r)[None, :] * l + np.arange(l)[:, None]).reshape(-1)  # t for (b, c)
        self.posL = pos[order_L]                          # L[b, :, c] <- pool[posL[b r + c]]

    def solver_for(self, rho: int, m: int, steps: int) -> str:
        """``"lanczos"`` for rank-1 slabs of order >= 32 with ``steps`` <= 0.625 of the order
        (plain Lanczos stays reliable there and beats a batched ``eigh`` several times over),
        ``"eigh"`` otherwise."""
        if rho == 1 and m >= max(_LANCZOS_MIN_ORDER, math.ceil(1.6 * steps)):
            return "lanczos"
        return "eigh"

    def gather_index(self, nb: int, pos: np.ndarray) -> np.ndarray:
        """Pool indices for ``nb`` matrices; ``-1`` entries point at the trailing zero row."""
        k, _, _, l, _, _ = self.geometry
        per = k * l * self.rho_max
        total = nb * per
        offs = (np.arange(nb) * per)[:, None]
        idx = np.where(pos[None, :] >= 0, pos[None, :] + offs, total)
        return idx.reshape(-1)


# ----------------------------------------------------------------------------------------------
# the projection
# ----------------------------------------------------------------------------------------------

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
    out = np.empty(np.broadcast_shapes(X.shape[:-1] + (1,), Y.shape[:-2] + (1, Y.shape[-1])), dtype=dt)
    out.real = np.matmul(xr, yr) - np.matmul(xi, yi)
    out.imag = np.matmul(xr, yi) + np.matmul(xi, yr)
    return out


def _gather_slabs(xp, S5, zs: np.ndarray):
    """The slabs with flat indices ``zs`` (over ``(nb, k, l)``) of the view ``S5``, stacked."""
    nb, k, l = S5.shape[:3]
    ee, aa, bb = np.unravel_index(zs, (nb, k, l))
    if B.is_numpy(xp):
        return S5[ee, aa, bb]                       # one gather in C
    return xp.stack([S5[int(e_), int(a_), int(b_), ...] for e_, a_, b_ in zip(ee, aa, bb)])


def _slabs(xp, A3, geometry):
    """``(nb, k, l, s, p)`` view of ``A3 (nb, n_out, n_in)``: ``S[e, a, b] = A[e, {d l + b}, {a p + j}]``."""
    k, q, p, l, s, r = geometry
    nb = A3.shape[0]
    return xp.permute_dims(xp.reshape(A3, (nb, s, l, k, p)), (0, 3, 2, 1, 4))


class _NonFinite(Exception):
    """Some slab holds NaN or Inf entries."""


def _pow2_exponents(xp, S) -> np.ndarray:
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
    while np.any(rest):                         # powers of two of at most 2^+-60 per step
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


def _solve_generic(xp, Sg, rho: int, right: bool, method: str, steps: int, mg: _Margins, rng,
                   q0=None):
    """Solve a stack of slabs scaled into the safe range (not the NumPy rank-1 fast path).

    Returns ``(V (Z, m, rho), trG, cert, missed)``; slabs whose certificate fails get a full
    SVD (certificate ``"svd"``).  ``q0`` replaces the Lanczos start vectors.
    """
    G = _gram(xp, Sg, right)
    trG = _host(_real(xp, xp.linalg.trace(G))).astype(np.float64)
    Z, m = int(G.shape[0]), int(G.shape[-1])
    cert = np.zeros(Z, dtype=np.int8)
    missed = np.full(Z, np.inf)
    sdisc = np.full(Z, np.nan)       # discarded energies of SVD slabs, from their values
    if method == "lanczos":
        V, _, _ = _solve_lanczos1(xp, G, steps, rng, q0=q0)
        mu_e = None
    else:
        with _parallel.blas_single_threaded():
            w, Y = xp.linalg.eigh(G)
        V = xp.flip(Y[..., m - rho:], axis=-1)
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
                H = (xp.astype(muc, G.dtype)[:, None, None] * eye - Gc
                     + xp.astype(th, G.dtype)[:, None, None] * xp.matmul(Vc, _H(xp, Vc)))
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


def _redo_fast1(xp, S5, zs: np.ndarray, right: bool, mg: _Margins, starts, q0, steps: int,
                scale: bool, restart_steps: int):
    """Solve again, on a stack of just these slabs, the rank-1 slabs the fast pass did not
    certify: scaled into the energy range (``scale``) or restarted from ``q0``; a full SVD for
    those that still fail.  Returns ``(result dict, exponents)`` as :func:`_lanczos1_numpy`."""
    Sr = _gather_slabs(xp, S5, zs)
    er = np.zeros(zs.size, dtype=np.int64)
    if scale:
        er = _pow2_exponents(xp, Sr)
        if er is None:
            raise _NonFinite
        Sr = _ldexp(xp, Sr, -er)
    res = _lanczos1_numpy(Sr[None, None], np.arange(zs.size), right, steps, mg, starts, q0=q0)
    if scale:
        # a fresh run gets the restart that the first pass gave the in-range slabs
        again = np.nonzero((res["cert"] == _FAIL) & (res["trG"] > 0) & ~res["oor"])[0]
        if again.size:
            res2 = _lanczos1_numpy(Sr[again][None, None], np.arange(again.size), right,
                                   restart_steps, mg, starts[again], q0=res["V"][again, :, 0])
            for key in ("V", "W", "trG", "theta", "direct", "missed", "cert"):
                res[key][again] = res2[key]
    zero = (res["trG"] == 0) & ~res["oor"]      # slabs whose entries are all zero
    res["cert"][zero] = _ZERO
    res["missed"][zero] = 0.0
    res["V"][zero] = 0
    res["W"][zero] = 0
    res["theta"][zero] = 0.0
    still = np.nonzero(res["cert"] == _FAIL)[0]
    if still.size:
        m = res["V"].shape[1]
        with _parallel.blas_single_threaded():       # tiny problems: BLAS threads only spin
            U_, sv_, Vh_ = np.linalg.svd(Sr[still], full_matrices=False)
        if right:
            res["V"][still] = np.conj(Vh_[:, :1, :]).swapaxes(-1, -2)
            res["W"][still] = U_[:, :, 0] * sv_[:, :1]
        else:
            res["V"][still] = U_[:, :, :1]
            res["W"][still] = Vh_[:, 0, :] * sv_[:, :1]
        res["theta"][still] = sv_[:, 0].astype(np.float64) ** 2
        # the discarded energy from the discarded singular values (no cancellation)
        res["direct"][still] = np.sum(sv_[:, 1:].astype(np.float64) ** 2, axis=-1)
        res["trG"][still] = np.sum(np.abs(Sr[still]).astype(np.float64) ** 2, axis=(-2, -1))
        res["cert"][still] = _SVD
        res["missed"][still] = m * mg.eps * res["trG"][still]
    return res, er


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

    groups = []          # (zs, V (xp), SB (xp) or None, kept energies (host) or None)
    for rho in plan.solve_ranks:
        zs = np.nonzero(~kinds_exact & ~kinds_zero & (eff == rho))[0]
        method = plan.solver_for(rho, mp, steps)
        if B.is_numpy(xp) and method == "lanczos":
            starts = _unit_starts(rng, zs.size, mp, dt)
            res = _lanczos1_numpy(S5, zs, plan.right, steps, mg_fast, starts)
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
                r2, e2 = _redo_fast1(xp, S5, zs[part], plan.right, mg_fast, starts[part],
                                     None if fresh else V[part, :, 0],
                                     steps if fresh else restart_steps, fresh, restart_steps)
                V[part] = r2["V"]
                W[part] = r2["W"]
                g_tr[part] = r2["trG"]
                g_kept[part] = r2["theta"]
                g_dir[part] = r2["direct"]
                g_cert[part] = r2["cert"]
                g_mis[part] = r2["missed"]
                g_exp[part] = e2
            counts["lanczos"] = counts.get("lanczos", 0) + int(
                np.isin(g_cert, (_TRACE, _INERTIA)).sum())
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
            V, g_tr, g_cert, g_mis, g_sd = _solve_generic(xp, Sg, rho, plan.right, method,
                                                          steps, mg, rng)
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
    if np.any(cert == _FAIL):                                   # pragma: no cover - invariant
        raise AssertionError("a slab left the projection uncertified")

    # factors: split each singular value evenly between L and R (sqrt(sigma) each), in the
    # scaled domain, then undo each slab's scale 2**e as 2**ceil(e/2) on L and 2**floor(e/2) on R
    Lparts, Rparts = [], []
    sel = np.zeros(Z, dtype=np.int64)
    offset = 0
    one = xp.ones((), dtype=B.real_dtype_for(xp, dt))
    for zs, V, SB, ge, _, _ in groups:
        rho = int(V.shape[-1])
        sig = xp.linalg.vector_norm(SB, axis=-2 if plan.right else -1)       # (Z', rho)
        use = (sig > 0) & xp.isfinite(sig)
        f = xp.where(use, 1.0 / xp.sqrt(xp.where(use, sig, one)), one)
        fc = xp.astype(f, dt)
        if plan.right:
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
            Lc = Se[..., :rmax] if rmax <= p else xp.concat(
                [Se, xp.zeros((ze.size, s, rmax - p), dtype=dt)], axis=-1)
            Rr = xp.broadcast_to(xp.eye(rmax, p, dtype=dt)[None, ...], (ze.size, rmax, p))
        else:
            Rr = Se[..., :rmax, :] if rmax <= s else xp.concat(
                [Se, xp.zeros((ze.size, rmax - s, p), dtype=dt)], axis=-2)
            Lc = xp.broadcast_to(xp.eye(s, rmax, dtype=dt)[None, ...], (ze.size, s, rmax))
        Lparts.append(Lc)
        Rparts.append(Rr)
        sel[ze] = offset + np.arange(ze.size)
        offset += ze.size
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
    Algorithm: each slab's Gram matrix (of its smaller side) is formed by batched matmuls;
    rank-1 slabs of order >= 32 (float32) / 48 (float64) use 18 / 30 Lanczos steps from a
    random start (on NumPy cache-blocked over ``STRUCTMAT_NUM_THREADS`` threads, by default one
    per core), the others a batched ``eigh`` of the Gram matrix.  Slabs whose energy would
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
    _parallel.num_workers()            # a bad STRUCTMAT_NUM_THREADS fails here, at any size
    n_out, n_in = int(A.shape[-2]), int(A.shape[-1])
    geometry = monarch_geometry(n_in, n_out, nblocks)
    k, q, p, l, s, r = geometry
    batch = tuple(int(d) for d in A.shape[:-2])
    nb = math.prod(batch)
    A3 = xp.reshape(A, (nb, n_out, n_in))
    plan = _Plan(geometry)
    dt = A.dtype
    itemsize = 16 if dt == xp.complex128 else (4 if dt == xp.float32 else 8)
    gram_bytes = k * l * plan.mp * plan.mp * itemsize
    per_chunk = max(1, _CHUNK_BYTES // max(gram_bytes, 1))
    counts: dict[str, int] = {}
    Ls, Rs, Es = [], [], []
    for start in range(0, nb, per_chunk):
        S5 = _slabs(xp, A3[start:min(nb, start + per_chunk), ...], geometry)
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
    zrow_L = xp.zeros((1, s), dtype=dt)
    zrow_R = xp.zeros((1, p), dtype=dt)
    poolL = xp.concat([xp.reshape(xp.matrix_transpose(Lcols), (nb * k * l * plan.rho_max, s)), zrow_L], axis=0)
    poolR = xp.concat([xp.reshape(Rrows, (nb * k * l * plan.rho_max, p)), zrow_R], axis=0)
    idxL = xp.asarray(plan.gather_index(nb, plan.posL))
    idxR = xp.asarray(plan.gather_index(nb, plan.posR))
    Lall = xp.permute_dims(xp.reshape(xp.take(poolL, idxL, axis=0), (nb, l, r, s)), (0, 1, 3, 2))
    Rall = xp.reshape(xp.take(poolR, idxR, axis=0), (nb, k, q, p))
    mats = [Monarch(Lall[e, ...], Rall[e, ...]) for e in range(nb)]
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


def _make_rng(seed) -> np.random.Generator:
    """The generator of the solvers' random start vectors (``None``: a fixed default seed)."""
    if seed is None:
        return np.random.default_rng(_START_SEED)
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be None, an int or a numpy.random.Generator; got {seed!r}")
    return np.random.default_rng(int(seed))


# ----------------------------------------------------------------------------------------------
# error of a given Monarch matrix
# ----------------------------------------------------------------------------------------------

def _slab_slots(geometry):
    """Slab layout of a Monarch geometry.

    Returns ``(rmax, slot)``: middle index ``t`` lives in slab ``z = a l + b`` at column
    ``m = i div l`` (``a = t div q``, ``i = t mod q``, ``b = t mod l``), i.e. at position
    ``slot[t] = z * rmax + m`` of a ``(k, l, rmax)`` grid, ``rmax`` the largest slab rank.
    """
    k, q, p, l, s, r = geometry
    rmax = int(slab_ranks(k, q, l).max())
    t = np.arange(k * q)
    a, i = t // q, t % q
    b = t % l
    return rmax, (a * l + b) * rmax + i // l


def _monarch_slab_factors(xp, M: Monarch):
    """``(Lslab (k, l, s, rmax), Rslab (k, l, rmax, p))`` with ``slab(a, b) = Lslab @ Rslab``.

    Unused columns / rows (slabs of rank below ``rmax``) are zero.
    """
    k, q, p, l, s, r = M.geometry
    rmax, slot = _slab_slots(M.geometry)
    src_t = np.full(k * l * rmax, k * q, dtype=np.int64)    # default: the zero row
    src_t[slot] = np.arange(k * q)
    # L column of t: L[b, :, c] (t = c l + b); R row of t: R[a, i, :] (t = a q + i)
    Lt = xp.reshape(xp.permute_dims(M.L, (2, 0, 1)), (r * l, s))
    Rt = xp.reshape(M.R, (k * q, p))
    Lt = xp.concat([Lt, xp.zeros((1, s), dtype=M.L.dtype)], axis=0)
    Rt = xp.concat([Rt, xp.zeros((1, p), dtype=M.R.dtype)], axis=0)
    idx = xp.asarray(src_t)
    Lslab = xp.permute_dims(xp.reshape(xp.take(Lt, idx, axis=0), (k, l, rmax, s)), (0, 1, 3, 2))
    Rslab = xp.reshape(xp.take(Rt, idx, axis=0), (k, l, rmax, p))
    return Lslab, Rslab


def _monarch_from_slabs(xp, Lslab, Rslab, geometry) -> Monarch:
    """Inverse of :func:`_monarch_slab_factors` (padding entries are ignored)."""
    k, q, p, l, s, r = geometry
    rmax, slot = _slab_slots(geometry)
    poolL = xp.reshape(xp.matrix_transpose(Lslab), (k * l * rmax, s))
    poolR = xp.reshape(Rslab, (k * l * rmax, p))
    order_L = (np.arange(r)[None, :] * l + np.arange(l)[:, None]).reshape(-1)   # t of (b, c)
    L = xp.take(poolL, xp.asarray(slot[order_L]), axis=0)
    L = xp.permute_dims(xp.reshape(L, (l, r, s)), (0, 2, 1))
    R = xp.reshape(xp.take(poolR, xp.asarray(slot), axis=0), (k, q, p))
    return Monarch(L, R)


def _wide(xp, dt):
    """float64 / complex128 for single-precision ``dt`` (whose squares then never under- or
    overflow), ``dt`` itself otherwise."""
    if dt == xp.float32:
        return xp.float64
    if dt == xp.complex64:
        return xp.complex128
    return dt


def _residual_sq(xp, A2, M):
    """``(||A2 - M||_F^2, ||A2||_F^2)`` as host floats, both scaled by the same power of two.

    ``M`` is a Monarch matrix (summed slab by slab, temporaries of at most ~32 MiB, no dense
    ``M``) or a dense array.  Single precision is widened to double; double precision is scaled
    by the power of two of ``max |A2|`` (of ``M`` where ``A2`` is zero), with ``M``'s factors
    scaled so that the product carries the same power, so the ratio is exact to rounding at any
    input scale.
    """
    A3 = xp.reshape(A2, (1,) + tuple(A2.shape))
    if not isinstance(M, Monarch):
        Md = xp.reshape(M, (1,) + tuple(M.shape))
        e = _pow2_exponents(xp, A3)
        if e[0] == 0 and not bool(xp.any(A2 != 0)):
            e = _pow2_exponents(xp, Md)
        dt = _wide(xp, xp.result_type(A2.dtype, M.dtype))
        As = _ldexp(xp, xp.astype(A3, dt), -e)
        E = As - _ldexp(xp, xp.astype(Md, dt), -e)
        return (float(xp.sum(_abs2(xp, E))), float(xp.sum(_abs2(xp, As))))
    k, q, p, l, s, r = M.geometry
    Lslab, Rslab = _monarch_slab_factors(xp, M)
    dt = _wide(xp, xp.result_type(A2.dtype, M.dtype))
    eA = int(_pow2_exponents(xp, A3)[0])
    eL = int(_pow2_exponents(xp, xp.reshape(M.L, (1, -1, 1)))[0])
    eR = int(_pow2_exponents(xp, xp.reshape(M.R, (1, -1, 1)))[0])
    if not bool(xp.any(A2 != 0)):
        eA = eL + eR
    # M * 2**-eA = (L 2**-eL)(R 2**-eR) 2**(eL + eR - eA): the last power goes on L, clamped
    # where M is beyond float range relative to A (its share of the error then dominates)
    fL = int(np.clip(eL + eR - eA, -1000, 1000)) - eL
    S5 = _slabs(xp, _ldexp(xp, xp.astype(A3, dt), np.array([-eA])), M.geometry)[0, ...]
    Lslab = _ldexp(xp, xp.astype(Lslab, dt)[None, ...], np.array([fL]), axes=4)[0, ...]
    Rslab = _ldexp(xp, xp.astype(Rslab, dt)[None, ...], np.array([-eR]), axes=4)[0, ...]
    per_a = l * s * p * 16
    step = max(1, (32 * 2**20) // max(per_a, 1))
    total = 0.0
    for a0 in range(0, k, step):
        a1 = min(k, a0 + step)
        E = S5[a0:a1, ...] - xp.matmul(Lslab[a0:a1, ...], Rslab[a0:a1, ...])
        total += float(xp.sum(_abs2(xp, E)))
    return total, float(xp.sum(_abs2(xp, S5)))


def slab_singular_values(A: Any, nblocks: Any = None):
    """Every singular value of every slab of ``A`` for a Monarch geometry.

    :func:`project_to_monarch` keeps the top ``ranks[a, b]`` singular pairs of slab ``(a, b)``
    and discards the rest; its ``ProjectionInfo.discarded`` holds their squared sum, which is
    all the error needs and costs nothing extra.  This function returns the individual values
    (e.g. to see how fast a trained weight's slab spectra decay), at the price of one batched
    singular-value computation of all slabs.

    Parameters
    ----------
    A : array, shape (n_out, n_in) or (..., n_out, n_in)
        Real or complex, float32 or float64; NumPy, CuPy or any array-API namespace.
    nblocks : None, int or (int, int)
        The geometry, as in :func:`project_to_monarch`.

    Returns
    -------
    sv : array, shape (..., k, l, min(s, p))
        Singular values of slab ``(a, b)`` (rows ``{d l + b}``, columns ``{a p + j}``) in
        descending order, in the real dtype and namespace of ``A``.
    ranks : numpy.ndarray, shape (k, l)
        Rank kept by the projection in each slab: the discarded values of slab ``(a, b)`` are
        ``sv[..., a, b, ranks[a, b]:]``.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import project_to_monarch, slab_singular_values
    >>> A = np.random.default_rng(0).standard_normal((64, 64))
    >>> sv, ranks = slab_singular_values(A)
    >>> sv.shape, int(ranks.max())
    ((8, 8, 8), 1)
    >>> _, info = project_to_monarch(A, return_info=True)
    >>> bool(np.allclose((sv[..., 1:] ** 2).sum(-1), info.discarded))
    True
    """
    A, xp = _as_dense(A, "A")
    n_out, n_in = int(A.shape[-2]), int(A.shape[-1])
    geometry = monarch_geometry(n_in, n_out, nblocks)
    k, q, p, l, s, r = geometry
    batch = tuple(int(d) for d in A.shape[:-2])
    nb = math.prod(batch)
    S5 = _slabs(xp, xp.reshape(A, (nb, n_out, n_in)), geometry)
    S = xp.reshape(S5, (nb * k * l, s, p))            # one copy into slab order
    # each slab scaled by a power of two into [0.5, 1) max-abs and the values scaled back:
    # exact at any input scale (results beyond the dtype's range saturate)
    e = _pow2_exponents(xp, S)
    with np.errstate(over="ignore", under="ignore"):
        sv = _ldexp(xp, xp.linalg.svdvals(_ldexp(xp, S, -e)), e, axes=1)
    return xp.reshape(sv, batch + (k, l, min(s, p))), slab_ranks(k, q, l)


def projection_error(A: Any, M: Any):
    """Relative Frobenius error ``||A - M||_F / ||A||_F``.

    For a :class:`~structmat.Monarch` ``M`` the error is summed slab by slab through the slab
    identity (cost ``O(n_out n_in rank)``, no dense copy of ``M``); any other structured
    matrix or array is compared densely.

    Parameters
    ----------
    A : array, shape (n_out, n_in) or (..., n_out, n_in)
    M : Monarch, StructuredMatrix or array
        For a stack ``A``, a nested list of the same batch shape (as returned by
        :func:`project_to_monarch`) or an array of the same shape.

    Returns
    -------
    float, or an array of the batch shape for a stack.  ``0.0`` when ``A`` is zero and ``M``
    too (``inf`` when only ``A`` is zero).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import DFT, Permutation, project_to_monarch, projection_error
    >>> F = DFT(64).to_dense()
    >>> FP = F @ Permutation.transpose_perm(8, 8).to_dense()      # F_n P is Monarch
    >>> projection_error(FP, project_to_monarch(FP)) < 1e-13
    True
    >>> round(projection_error(F, project_to_monarch(F)), 4)       # F_n itself is not
    0.9354
    """
    A, xp = _as_dense(A, "A")
    batch = tuple(int(d) for d in A.shape[:-2])
    shape2 = tuple(int(d) for d in A.shape[-2:])
    nb = math.prod(batch)
    A3 = xp.reshape(A, (nb,) + shape2)
    if B.is_array(M) or isinstance(M, StructuredMatrix) and not batch:
        if isinstance(M, StructuredMatrix):
            if M.xp is not None and B.namespace_name(M.xp) != B.namespace_name(xp):
                raise TypeError(f"A is a {B.namespace_name(xp)} array but M has "
                                f"{B.namespace_name(M.xp)} parameters")
            if tuple(M.shape) != shape2:
                raise ValueError(f"M has shape {tuple(M.shape)}; expected {shape2} (the shape of A)")
        if isinstance(M, Monarch):
            mats = [M]
        else:
            Md = M.to_dense(xp) if isinstance(M, StructuredMatrix) else M
            if B.is_array(Md) and B.namespace_name(B.get_namespace(Md)) != B.namespace_name(xp):
                raise TypeError(f"A and M mix array namespaces: {B.namespace_name(xp)} and "
                                f"{B.namespace_name(B.get_namespace(Md))}")
            if tuple(Md.shape) != tuple(A.shape):
                raise ValueError(f"M has shape {tuple(Md.shape)}; expected {tuple(A.shape)}")
            if not B.all_finite(xp, Md):
                raise ValueError("M contains NaN or Inf entries")
            # both scaled by the same power of two (that of A, or of M where A is zero): the
            # ratio is unchanged and no square under- or overflows
            Md3 = xp.reshape(Md, (nb,) + shape2)
            eA = _pow2_exponents(xp, A3)
            eA = np.where(_host(xp.max(xp.abs(A3), axis=(-2, -1))) > 0, eA,
                          _pow2_exponents(xp, Md3))
            dt = _wide(xp, xp.result_type(A.dtype, Md.dtype))
            As = _ldexp(xp, xp.astype(A3, dt), -eA)
            diff = As - _ldexp(xp, xp.astype(Md3, dt), -eA)
            num = xp.sum(_abs2(xp, diff), axis=(-2, -1))
            den = xp.sum(_abs2(xp, As), axis=(-2, -1))
            return _ratio(xp, xp.reshape(num, batch), xp.reshape(den, batch))
    else:
        mats = _flatten(M, len(batch)) if batch else [M]
        if len(mats) != nb:
            raise ValueError(f"M holds {len(mats)} matrices; A is a stack of {nb}")
    nums, dens = [], []
    for e, Me in enumerate(mats):
        if not isinstance(Me, StructuredMatrix):
            raise TypeError(f"M must hold Monarch (or structured) matrices; got {type(Me).__name__}")
        if tuple(Me.shape) != shape2:
            raise ValueError(f"M has shape {tuple(Me.shape)}; expected {shape2} (the shape of A)")
        if Me.xp is not None and B.namespace_name(Me.xp) != B.namespace_name(xp):
            raise TypeError(f"A is a {B.namespace_name(xp)} array but M has "
                            f"{B.namespace_name(Me.xp)} parameters")
        if isinstance(Me, Monarch):
            num, den = _residual_sq(xp, A3[e, ...], Me)
        else:
            num, den = _residual_sq(xp, A3[e, ...], Me.to_dense(xp))
        nums.append(num)
        dens.append(den)
    num = np.asarray(nums, dtype=np.float64).reshape(batch)
    den = np.asarray(dens, dtype=np.float64).reshape(batch)
    return _ratio(np, num, den)


def _ratio(xp, num, den):
    safe = xp.where(den > 0, den, xp.ones_like(den))
    inf = xp.full(den.shape, math.inf, dtype=den.dtype)
    err = xp.where(den > 0, xp.sqrt(num / safe), xp.where(num > 0, inf, xp.zeros_like(den)))
    if err.ndim == 0:
        return float(err)
    return err


# ----------------------------------------------------------------------------------------------
# exact recovery
# ----------------------------------------------------------------------------------------------

def _rounding_tol(xp, dtype, n: int) -> float:
    """Relative tolerance for "exact up to rounding" at size ``n`` in ``dtype``."""
    return 32.0 * _eps(xp, dtype) * math.sqrt(max(n, 2))


def monarch_factors(M_dense: Any, nblocks: Any = None, *, rtol: float | None = None):
    """Recover ``Monarch(L, R)`` from a dense matrix that is Monarch (up to rounding).

    Parameters
    ----------
    M_dense : array, shape (n_out, n_in) or (..., n_out, n_in)
    nblocks : None, int or (int, int)
        The geometry, as in :func:`project_to_monarch`.
    rtol : float, optional
        Largest accepted relative residual ``||M_dense - M||_F / ||M_dense||_F``; default
        ``32 eps sqrt(max(n_out, n_in))`` for the dtype's ``eps``.

    Returns
    -------
    Monarch (nested lists of Monarch for a stack).  The factors are unique only up to the
    gauge ``(L, R) -> (L D, D^-1 R)`` along the middle index: compare
    products, not factors.

    Raises
    ------
    ValueError
        The input is not Monarch in this geometry within ``rtol``; the message gives the
        measured relative residual.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Monarch, monarch_factors
    >>> M0 = Monarch.random(96, nblocks=8, seed=2)          # slabs of ranks 1 and 2
    >>> M = monarch_factors(M0.to_dense(), nblocks=8)
    >>> bool(np.allclose(M.to_dense(), M0.to_dense()))
    True
    >>> monarch_factors(np.eye(96)[::-1].copy(), nblocks=8)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: M_dense is not a Monarch matrix of geometry (k, q, p, l, s, r) = (8, 12, 12, 8, 12, 12): relative residual 5.774e-01 > tolerance ...
    """
    A, xp = _as_dense(M_dense, "M_dense")
    n_out, n_in = int(A.shape[-2]), int(A.shape[-1])
    tol = _rounding_tol(xp, A.dtype, max(n_out, n_in)) if rtol is None else float(rtol)
    if not (tol >= 0):
        raise ValueError(f"rtol must be a non-negative number; got {rtol!r}")
    M = project_to_monarch(A, nblocks)
    err = projection_error(A, M)
    worst = float(xp.max(err)) if B.is_array(err) else float(err)
    if not worst <= tol:
        geo = monarch_geometry(n_in, n_out, nblocks)
        raise ValueError(
            f"M_dense is not a Monarch matrix of geometry (k, q, p, l, s, r) = {geo}: relative "
            f"residual {worst:.3e} > tolerance {tol:.3e}"
        )
    return M


# ----------------------------------------------------------------------------------------------
# the MM* factorisation
# ----------------------------------------------------------------------------------------------

def _mm_star_blocks(n: int, nblocks: Any) -> tuple[int, int]:
    """``(k, l)`` with ``k l = n`` for :func:`factor_mm_star`."""
    divs = [d for d in range(1, n + 1) if n % d == 0]
    if nblocks is None:
        k = nearest_divisor(n)
        return k, n // k
    if isinstance(nblocks, (tuple, list)):
        if len(nblocks) != 2:
            raise ValueError(f"nblocks must be an int or a pair (k, l); got {nblocks!r}")
        k = check_size(nblocks[0], "nblocks[0]")
        l = check_size(nblocks[1], "nblocks[1]")
    else:
        k = l = check_size(nblocks, "nblocks")
    if k * l != n:
        pairs = ", ".join(f"({d}, {n // d})" for d in divs)
        raise ValueError(
            f"factor_mm_star needs k * l == n (every slab of rank 1 and a full middle "
            f"dimension); got nblocks=({k}, {l}) for n={n}. Valid nblocks: {pairs}"
        )
    return k, l


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
    Mt = xp.permute_dims(xp.reshape(Mw, (k, l, k, l)), (1, 3, 0, 2))      # (l, l, k, k)
    # pivot block row i* and column j*: the best-conditioned ones (the algorithm inverts the
    # blocks of one block row and one block column)
    sv = xp.linalg.svdvals(Mt)                                             # (l, l, k)
    inv_cond = _host(sv[..., -1] / xp.where(sv[..., 0] > 0, sv[..., 0], xp.ones_like(sv[..., 0])))
    j0 = int(np.argmax(inv_cond.min(axis=0)))
    i0 = int(np.argmax(inv_cond.min(axis=1)))
    if min(inv_cond[:, j0].min(), inv_cond[i0, :].min()) <= 16 * _eps(xp, wdt):
        raise ValueError(
            "M is not factorable as M1 M2^H: every block row and column of M~ = P^T M P has a "
            "singular block (M singular, or the middle factor has zero entries)"
        )
    col = Mt[:, j0, ...]                                                   # M~_{b j0}
    row = Mt[i0, ...]                                                      # M~_{i0 b'}
    piv = xp.broadcast_to(Mt[i0, j0, ...][None, ...], (l, k, k))
    try:
        Ainv = xp.linalg.inv(col)
        C = xp.linalg.solve(row, piv)                                      # M~_{i0 b'}^-1 M~_{i0 j0}
    except np.linalg.LinAlgError as exc:
        raise ValueError("M is not factorable as M1 M2^H: singular pivot blocks (M singular, or "
                         f"the middle factor has zero entries): {exc}") from exc
    X = xp.matmul(xp.matmul(Ainv[:, None, ...], Mt), C[None, ...])         # (l, l, k, k)
    if not B.all_finite(xp, X):
        raise ValueError("M is not factorable as M1 M2^H: singular pivot blocks (non-finite "
                         "intermediate results)")
    rng = np.random.default_rng(seed)
    coef = xp.astype(xp.asarray(rng.standard_normal((l, l)), dtype=xp.float64), wdt)
    # normalise the X_bb' so that no single (badly conditioned) one dominates the combination
    xn = xp.linalg.matrix_norm(X)                                          # (l, l)
    coef = coef / xp.astype(xp.where(xn > 0, xn, xp.ones_like(xn)), wdt)
    Xc = xp.sum(coef[:, :, None, None] * X, axis=(0, 1))
    _, W = _eig(xp, Xc)
    if not cplx:
        W = xp.real(W)
    W = xp.astype(W, wdt)
    W = W / xp.linalg.vector_norm(W, axis=0)[None, :]
    # algebraic solution (gauge: D_{b j0} = I, L1_b = M~_{b j0} W, L2'_{j0} = W^-1)
    L1 = xp.matmul(col, W)                                                 # (l, k, k)
    try:
        Winv = xp.linalg.inv(W)
        L2t = xp.linalg.solve(xp.matmul(col[i0:i0 + 1, ...], W), row)     # L1_{i0}^-1 M~_{i0 b'}
    except np.linalg.LinAlgError as exc:
        raise ValueError("M is not factorable as M1 M2^H: its blocks have no common "
                         f"eigenbasis ({exc})") from exc
    D = xp.sum(xp.matrix_transpose(Winv)[None, None, ...] * xp.matmul(X, W[None, None, ...]), axis=-2)
    # the i0 row was gauged to D_{i0 b'} = I by the solve above; the others follow from X
    # least-squares polishing (alternating over L1, L2', D): the algebraic solution inverts
    # blocks whose conditioning grows with n; a few sweeps bring the fit to rounding level
    tol = math.sqrt(_eps(xp, out_dt)) * n ** 0.25 if rtol is None else float(rtol)
    try:
        L1, D, L2t = _mm_star_polish(xp, Mt, L1, D, L2t, target=_rounding_tol(xp, wdt, n))
    except np.linalg.LinAlgError as exc:
        raise ValueError(f"M is not in MM* for nblocks=({k}, {l}): the least-squares fit of "
                         f"its factors is singular ({exc})") from exc
    if not (B.all_finite(xp, L1) and B.all_finite(xp, D) and B.all_finite(xp, L2t)):
        raise ValueError("M is not factorable as M1 M2^H: the factorisation diverged "
                         "(singular blocks or a defective simultaneous eigenbasis)")
    Rm = xp.permute_dims(D, (2, 0, 1))                                     # R[c, b, b'] (k, l, l)
    L2 = _H(xp, L2t)                                                       # M2 = Monarch(L2, I)
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
        P2 = xp.matmul(L2t, _H(xp, L2t))                                   # (l, k, k)
        Dc = _conj(xp, D)
        gram = xp.sum(D[:, :, :, None] * P2[None, ...] * Dc[:, :, None, :], axis=1)
        rhs = xp.sum(xp.matmul(Mt, _H(xp, L2t)[None, ...]) * Dc[:, :, None, :], axis=1)
        L1 = xp.matrix_transpose(xp.linalg.solve(xp.matrix_transpose(gram), xp.matrix_transpose(rhs)))
        # L2'_b' = (sum_b conj(D) P1_b D)^-1 (sum_b conj(D_bb') L1_b^H M~_bb')
        P1 = xp.matmul(_H(xp, L1), L1)                                     # (l, k, k)
        gram = xp.sum(Dc[:, :, :, None] * P1[:, None, ...] * D[:, :, None, :], axis=0)
        rhs = xp.sum(Dc[:, :, :, None] * xp.matmul(_H(xp, L1)[:, None, ...], Mt), axis=0)
        L2t = xp.linalg.solve(gram, rhs)
        # D_bb' from (L1^H L1 o conj(L2' L2'^H)) d = diag(L1^H M~ L2'^H)
        P2 = xp.matmul(L2t, _H(xp, L2t))
        hmat = P1[:, None, ...] * _conj(xp, P2)[None, ...]                 # (l, l, k, k)
        proj = xp.matmul(xp.matmul(_H(xp, L1)[:, None, ...], Mt), _H(xp, L2t)[None, ...])
        diag = xp.linalg.diagonal(proj)                                    # (l, l, k)
        D = xp.linalg.solve(hmat, diag[..., None])[..., 0]
        new_fit = _mm_star_fit(xp, Mt, L1, D, L2t)
        if not new_fit < 0.95 * fit:
            fit = new_fit
            break
        fit = new_fit
    return L1, D, L2t
