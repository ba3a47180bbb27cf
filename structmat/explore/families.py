"""Structure families: the best approximation of a dense matrix in each, and its exact size.

Every function takes a dense matrix ``A`` (a NumPy, CuPy or array-API array, a nested list,
or a structured matrix, which is densified) and returns a structured matrix with NumPy
parameters (move it with ``.to_backend(...)``).  The algorithms are optimal in the Frobenius
norm for their family and size:

=====================  ============================================  =========================
family                 algorithm                                     parameters
=====================  ============================================  =========================
low rank ``r``         truncated SVD (Eckart–Young)                  ``r (m + n)``
Monarch                :func:`structmat.project_to_monarch`          ``k q p + l s r``
block-diagonal         keep the diagonal blocks                      ``m n / b``
block-low-rank         truncated SVD of every tile                   ``k (g_c m + g_r n)``
Kronecker sums         Van Loan–Pitsianis rearrangement + SVD        ``t (m1 n1 + m2 n2)``
sparse                 keep the largest magnitudes                   ``2 nnz`` (value + index)
structured + low rank  alternating projections (monotone)            sum of the parts
=====================  ============================================  =========================

The sums (:func:`alternating_projections`) are not optimal — the joint problem is not convex —
but each half-step is the optimal projection for its part with the other part fixed, so the
error never increases from the start ``L_0 = SVD_r(A)``, ``S_0 = P(A - L_0)``, which is
already no worse than the rank-``r`` part alone (``S = 0`` is structured).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg

from .. import _backend as B
from ..base import (
    Product,
    StructmatWarning,
    StructuredMatrix,
    check_size,
    nominal_dtype,
)
from ..geometry import divisors
from ..ops.blockdiag import BlockDiagonal
from ..ops.kronecker import Kronecker
from ..ops.lowrank import LowRank
from ..ops.monarch import Monarch, monarch_geometry
from ..ops.permutation import Permutation
from ..ops.sparse import Sparse
from ..ops.sum import Sum

__all__ = [
    "as_matrix",
    "best_lowrank",
    "best_monarch",
    "best_blockdiag",
    "best_block_lowrank",
    "best_kronecker",
    "best_sparse",
    "alternating_projections",
    "AlternatingInfo",
    "relative_error",
    "divisors",
    "monarch_nparams",
]


# ----------------------------------------------------------------------------------------------
# input handling
# ----------------------------------------------------------------------------------------------


def as_matrix(A: Any, dtype: Any = None, name: str = "A") -> np.ndarray:
    """``A`` as a finite 2-D NumPy array of a floating dtype (``dtype``, or ``A``'s own).

    Integer input becomes float64; float16, booleans, NaN/Inf, empty arrays and arrays that
    are not 2-D are refused with a message naming ``name``.

    Examples
    --------
    >>> from structmat.explore import as_matrix
    >>> as_matrix([[1, 2], [3, 4]]).dtype
    dtype('float64')
    >>> as_matrix([[1.0, 2.0]], dtype="float32").dtype
    dtype('float32')
    """
    if isinstance(A, StructuredMatrix):
        A = A.to_dense(np)
    if B.is_array(A):
        arr = B.to_numpy(A)
    elif isinstance(A, (list, tuple)):
        try:
            arr = np.asarray(A)
        except ValueError as exc:
            raise TypeError(f"{name} must be a 2-D array; got a ragged {type(A).__name__}") from exc
    else:
        raise TypeError(
            f"{name} must be a 2-D array (NumPy, CuPy, array-API or a structured "
            f"matrix); got {type(A).__name__}"
        )
    if arr.dtype.kind in "iu":
        arr = arr.astype(np.float64)
    if arr.dtype.kind not in "fc" or arr.dtype == np.float16:
        raise TypeError(
            f"{name} has dtype {arr.dtype}; expected float32, float64, complex64 or "
            f"complex128 (integers are read as float64)"
        )
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix; got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must be non-empty; got shape {arr.shape}")
    target = arr.dtype if dtype is None else nominal_dtype(dtype)
    if target.kind == "f" and arr.dtype.kind == "c":
        raise TypeError(f"dtype {target} is real but {name} is complex; pass a complex dtype")
    out = np.array(arr, dtype=target.newbyteorder("="), copy=True, order="C")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} contains NaN or Inf entries")
    return out


def relative_error(A: Any, approx: Any) -> float:
    """``||A - approx||_F / ||A||_F`` in float64 (``approx`` dense or structured).

    Returns 0.0 when both are zero and ``inf`` when only ``A`` is.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore import relative_error
    >>> relative_error(np.eye(2), np.zeros((2, 2)))
    1.0
    """
    a = as_matrix(A).astype(np.result_type(as_matrix(A).dtype, np.float64))
    b = as_matrix(approx, name="approx").astype(a.dtype if a.dtype.kind == "c" else np.float64)
    if a.shape != b.shape:
        raise ValueError(f"approx has shape {b.shape}; expected A's shape {a.shape}")
    num = float(np.linalg.norm(a - b))
    den = float(np.linalg.norm(a))
    if den == 0.0:
        return 0.0 if num == 0.0 else math.inf
    return num / den


def _check_rank(rank: Any, name: str, limit: int) -> int:
    r = check_size(rank, name)
    if r > limit:
        raise ValueError(f"{name} must be at most {limit} here; got {r}")
    return r


# ----------------------------------------------------------------------------------------------
# dense kernels (shared with the explorer; all return dense approximations)
# ----------------------------------------------------------------------------------------------


def _svd(A: np.ndarray):
    """Thin SVD through LAPACK's divide and conquer (falling back to the QR iteration)."""
    try:
        return scipy.linalg.svd(A, full_matrices=False, lapack_driver="gesdd", check_finite=False)
    except np.linalg.LinAlgError:
        return scipy.linalg.svd(A, full_matrices=False, lapack_driver="gesvd", check_finite=False)


def _lowrank_parts(A: np.ndarray, r: int):
    U, s, Vh = _svd(A)
    root = np.sqrt(s[:r]).astype(A.dtype)
    return U[:, :r] * root, root[:, None] * Vh[:r]


def _blockdiag_blocks(A: np.ndarray, nb: int) -> np.ndarray:
    m, n = A.shape
    r, c = m // nb, n // nb
    return np.stack([A[i * r : (i + 1) * r, i * c : (i + 1) * c] for i in range(nb)])


def _blockdiag_dense(blocks: np.ndarray) -> np.ndarray:
    return scipy.linalg.block_diag(*blocks)


def _tiles(A: np.ndarray, gr: int, gc: int) -> np.ndarray:
    """``(gr, gc, tm, tn)`` view of the tiles of ``A``."""
    m, n = A.shape
    return A.reshape(gr, m // gr, gc, n // gc).transpose(0, 2, 1, 3)


def _rearrange(A: np.ndarray, m1: int, n1: int) -> np.ndarray:
    """Van Loan–Pitsianis rearrangement: row ``(a, b)`` is the block ``A[a, b]`` (m2 x n2), flattened."""
    m, n = A.shape
    m2, n2 = m // m1, n // n1
    return A.reshape(m1, m2, n1, n2).transpose(0, 2, 1, 3).reshape(m1 * n1, m2 * n2)


def _sparse_parts(A: np.ndarray, nnz: int):
    flat = np.abs(A).ravel()
    if nnz >= flat.size:
        keep = np.arange(flat.size)
    elif nnz == 0:
        keep = np.zeros(0, dtype=np.int64)
    else:
        keep = np.argpartition(flat, flat.size - nnz)[flat.size - nnz :]
    keep = np.sort(keep)
    n = A.shape[1]
    return keep // n, keep % n, A.ravel()[keep]


def _sparse_dense(A: np.ndarray, nnz: int) -> np.ndarray:
    rows, cols, vals = _sparse_parts(A, nnz)
    out = np.zeros_like(A)
    out[rows, cols] = vals
    return out


def _monarch_project(A: np.ndarray, nblocks: Any):
    from ..projection import project_to_monarch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StructmatWarning)  # degenerate geometries are scored
        return project_to_monarch(A, nblocks, return_info=True)


def _monarch_geom(n_out: int, n_in: int, nblocks: Any) -> tuple:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StructmatWarning)
        return monarch_geometry(n_in, n_out, nblocks)


def monarch_nparams(n_out: int, n_in: int, nblocks: Any) -> int:
    """Parameters of a Monarch matrix of the geometry ``nblocks`` (see ``monarch_geometry``).

    Examples
    --------
    >>> from structmat.explore import monarch_nparams
    >>> monarch_nparams(384, 384, 4)          # 4 blocks: half of the dense 147456
    73728
    """
    k, q, p, l, s, r = _monarch_geom(n_out, n_in, nblocks)
    return k * q * p + l * s * r


# ----------------------------------------------------------------------------------------------
# single families
# ----------------------------------------------------------------------------------------------


def best_lowrank(A: Any, rank: int, *, dtype: Any = None) -> LowRank:
    """The best rank-``rank`` approximation (truncated SVD; optimal by Eckart–Young).

    Parameters
    ----------
    A : array, shape (m, n)
    rank : int
        ``1 <= rank <= min(m, n)``.
    dtype : dtype, optional
        Dtype of the computation and of the factors (default: ``A``'s).

    Returns
    -------
    LowRank
        ``left = U_r sqrt(S_r)``, ``right = sqrt(S_r) V_r^H``; ``r (m + n)`` parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore import best_lowrank
    >>> A = np.outer([1.0, 2.0], [3.0, 4.0]) + 1e-3 * np.eye(2)
    >>> L = best_lowrank(A, 1)
    >>> L.nparams, round(float(np.linalg.norm(A - L.to_dense())), 6)
    (4, 0.000984)
    """
    W = as_matrix(A, dtype)
    r = _check_rank(rank, "rank", min(W.shape))
    return LowRank(*_lowrank_parts(W, r))


def best_monarch(A: Any, nblocks: Any = None, *, dtype: Any = None) -> Monarch:
    """The nearest Monarch matrix of the geometry ``nblocks`` (:func:`structmat.project_to_monarch`).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore import best_monarch
    >>> A = np.random.default_rng(0).standard_normal((16, 16))
    >>> M = best_monarch(A, 4)
    >>> M.geometry, M.nparams
    ((4, 4, 4, 4, 4, 4), 128)
    """
    W = as_matrix(A, dtype)
    M, _ = _monarch_project(W, nblocks)
    return M


def best_blockdiag(A: Any, nblocks: int, *, dtype: Any = None) -> BlockDiagonal:
    """The nearest block-diagonal matrix with ``nblocks`` equal blocks: ``A``'s diagonal blocks.

    ``nblocks`` must divide both dimensions; the result has ``m n / nblocks`` parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore import best_blockdiag
    >>> best_blockdiag(np.arange(16.0).reshape(4, 4), 2).to_dense()
    array([[ 0.,  1.,  0.,  0.],
           [ 4.,  5.,  0.,  0.],
           [ 0.,  0., 10., 11.],
           [ 0.,  0., 14., 15.]])
    """
    W = as_matrix(A, dtype)
    nb = check_size(nblocks, "nblocks")
    m, n = W.shape
    if m % nb or n % nb:
        common = [d for d in divisors(math.gcd(m, n))]
        raise ValueError(
            f"nblocks must divide both dimensions {m} and {n}; got {nb} (valid: {common})"
        )
    return BlockDiagonal(_blockdiag_blocks(W, nb))


def best_block_lowrank(A: Any, tiles: Any, rank: int, *, dtype: Any = None) -> Product:
    """The best approximation whose ``g_r x g_c`` equal tiles each have rank ``rank``.

    Every tile gets its own truncated SVD (optimal for the tiling: the tiles are independent).
    The result is ``BlockDiagonal(U) @ Permutation @ BlockDiagonal(V)``: the right factor
    computes every tile's ``V_ij^H x_j``, the permutation groups them by tile row, and the left
    factor applies ``[U_i1 ... U_igc]``; ``rank (g_c m + g_r n)`` parameters.

    Parameters
    ----------
    A : array, shape (m, n)
    tiles : (int, int)
        ``(g_r, g_c)``, dividing ``m`` and ``n``.
    rank : int
        Rank of each tile, at most ``min(m / g_r, n / g_c)``.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore import best_block_lowrank
    >>> A = np.random.default_rng(0).standard_normal((8, 6))
    >>> P = best_block_lowrank(A, (2, 3), 1)
    >>> P.nparams, [type(f).__name__ for f in P.factors]
    (36, ['BlockDiagonal', 'Permutation', 'BlockDiagonal'])
    """
    W = as_matrix(A, dtype)
    m, n = W.shape
    if not isinstance(tiles, (tuple, list)) or len(tiles) != 2:
        raise TypeError(f"tiles must be a pair (g_r, g_c); got {tiles!r}")
    gr = check_size(tiles[0], "tiles[0]")
    gc = check_size(tiles[1], "tiles[1]")
    if m % gr or n % gc:
        raise ValueError(
            f"tiles ({gr}, {gc}) must divide the shape ({m}, {n}); valid g_r: "
            f"{divisors(m)}, valid g_c: {divisors(n)}"
        )
    tm, tn = m // gr, n // gc
    k = _check_rank(rank, "rank", min(tm, tn))
    T = _tiles(W, gr, gc)  # (gr, gc, tm, tn)
    U, s, Vh = np.linalg.svd(T, full_matrices=False)
    root = np.sqrt(s[..., :k]).astype(W.dtype)
    Uk = U[..., :k] * root[..., None, :]  # (gr, gc, tm, k)
    Vk = root[..., :, None] * Vh[..., :k, :]  # (gr, gc, k, tn)
    left = Uk.transpose(0, 2, 1, 3).reshape(gr, tm, gc * k)  # block i: [U_i0 ... U_i,gc-1]
    right = Vk.transpose(1, 0, 2, 3).reshape(gc, gr * k, tn)  # block j: rows (i, t)
    # the right factor's output is ordered (j, i, t); the left factor reads (i, j, t)
    i, j, t = np.meshgrid(np.arange(gr), np.arange(gc), np.arange(k), indexing="ij")
    perm = (j * gr * k + i * k + t).reshape(-1)
    return Product(BlockDiagonal(left), Permutation(perm), BlockDiagonal(right))


def best_kronecker(A: Any, factor_shape: Any, nterms: int, *, dtype: Any = None) -> Kronecker:
    """The best sum of ``nterms`` Kronecker products ``B_i ⊗ C_i`` with ``B_i`` of ``factor_shape``.

    Van Loan and Pitsianis (1993): rearranging ``A`` so that each ``m2 x n2`` block becomes a
    row turns ``sum_i B_i ⊗ C_i`` into ``sum_i vec(B_i) vec(C_i)^T``, so the truncated SVD of
    the rearranged matrix is optimal.

    Parameters
    ----------
    A : array, shape (m1 m2, n1 n2)
    factor_shape : (int, int)
        ``(m1, n1)``, dividing ``A``'s shape; ``C_i`` is ``(m / m1) x (n / n1)``.
    nterms : int
        At most ``min(m1 n1, m2 n2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore import best_kronecker
    >>> B0, C0 = np.arange(1.0, 5.0).reshape(2, 2), np.array([[1.0, -1.0, 2.0]])
    >>> K = best_kronecker(np.kron(B0, C0), (2, 2), 1)
    >>> bool(np.allclose(K.to_dense(), np.kron(B0, C0))), K.nparams
    (True, 7)
    """
    W = as_matrix(A, dtype)
    m, n = W.shape
    if not isinstance(factor_shape, (tuple, list)) or len(factor_shape) != 2:
        raise TypeError(f"factor_shape must be a pair (m1, n1); got {factor_shape!r}")
    m1 = check_size(factor_shape[0], "factor_shape[0]")
    n1 = check_size(factor_shape[1], "factor_shape[1]")
    if m % m1 or n % n1:
        raise ValueError(
            f"factor_shape ({m1}, {n1}) must divide the shape ({m}, {n}); valid "
            f"m1: {divisors(m)}, valid n1: {divisors(n)}"
        )
    m2, n2 = m // m1, n // n1
    t = _check_rank(nterms, "nterms", min(m1 * n1, m2 * n2))
    U, s, Vh = _svd(_rearrange(W, m1, n1))
    root = np.sqrt(s[:t]).astype(W.dtype)
    Bf = (U[:, :t] * root).T.reshape(t, m1, n1)
    Cf = (root[:, None] * Vh[:t]).reshape(t, m2, n2)
    return Kronecker(Bf, Cf)


def best_sparse(A: Any, nnz: int, *, dtype: Any = None) -> Sparse:
    """The best approximation with ``nnz`` non-zeros: the ``nnz`` largest entries in magnitude.

    ``2 nnz`` parameters (each non-zero stores a value and a position).  Ties are broken by
    :func:`numpy.argpartition`.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore import best_sparse
    >>> best_sparse(np.array([[1.0, -5.0], [3.0, 0.5]]), 2).to_dense()
    array([[ 0., -5.],
           [ 3.,  0.]])
    """
    W = as_matrix(A, dtype)
    if isinstance(nnz, (bool, np.bool_)):
        raise TypeError(f"nnz must be an integer >= 0; got {nnz!r}")
    k = check_size(nnz, "nnz", minimum=0)
    if k > W.size:
        raise ValueError(f"nnz must be at most A.size = {W.size}; got {k}")
    rows, cols, vals = _sparse_parts(W, k)
    return Sparse(rows, cols, vals, W.shape)


# ----------------------------------------------------------------------------------------------
# structured + low rank
# ----------------------------------------------------------------------------------------------


@dataclass
class AlternatingInfo:
    """What :func:`alternating_projections` did.

    Attributes
    ----------
    errors : list of float
        Relative error ``||A - S - L||_F / ||A||_F`` after the start and after every
        iteration (non-increasing up to rounding).
    iterations : int
        Number of iterations after the start.
    converged : bool
        Whether the relative decrease of the last iteration fell below ``tol``.
    seconds : float
        Wall time.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore import alternating_projections
    >>> A = np.random.default_rng(0).standard_normal((8, 8))
    >>> _, info = alternating_projections(A, "sparse", 1, nnz=8, tol=0.0, maxiter=3)
    >>> info.iterations, len(info.errors), info.error == info.errors[-1]
    (3, 4, True)
    """

    errors: list = field(default_factory=list)
    iterations: int = 0
    converged: bool = False
    seconds: float = 0.0

    @property
    def error(self) -> float:
        """The final relative error."""
        return self.errors[-1]


_PARTS = ("monarch", "blockdiag", "sparse")


def _part_projector(part: str, W: np.ndarray, nblocks: Any, nnz: Any):
    """``(project(X) -> dense, build(X) -> operator)`` for the structured part."""
    m, n = W.shape
    if part == "monarch":
        monarch_nparams(m, n, nblocks)  # validates nblocks

        def project(X):
            M, _ = _monarch_project(X, nblocks)
            return M.to_dense()

        def build(X):
            return _monarch_project(X, nblocks)[0]

        return project, build
    if part == "blockdiag":
        nb = check_size(nblocks, "nblocks")
        if m % nb or n % nb:
            raise ValueError(f"nblocks must divide both dimensions {m} and {n}; got {nb}")

        def project(X):
            return _blockdiag_dense(_blockdiag_blocks(X, nb))

        def build(X):
            return BlockDiagonal(_blockdiag_blocks(X, nb))

        return project, build
    if part == "sparse":
        if nnz is None:
            raise TypeError("part='sparse' needs nnz (the number of non-zeros)")
        k = check_size(nnz, "nnz", minimum=0)
        if k > W.size:
            raise ValueError(f"nnz must be at most A.size = {W.size}; got {k}")

        def project(X):
            return _sparse_dense(X, k)

        def build(X):
            rows, cols, vals = _sparse_parts(X, k)
            return Sparse(rows, cols, vals, X.shape)

        return project, build
    raise ValueError(f"part must be one of {', '.join(_PARTS)}; got {part!r}")


class _Alternation:
    """The iteration of :func:`alternating_projections` on a dense ``W``, one step at a time."""

    def __init__(self, W: np.ndarray, project, rank: int, info: AlternatingInfo):
        self.W, self.project, self.rank, self.info = W, project, rank, info
        norm = float(np.linalg.norm(W))
        self.scale = norm if norm > 0 else 1.0
        self.S = np.zeros_like(W)
        self._update()

    def _update(self) -> float:
        """``L = SVD_r(A - S)``, then ``S = P(A - L)``; records and returns the error."""
        W = self.W
        self.U, self.V = _lowrank_parts(W - self.S, self.rank)
        self.L = self.U @ self.V
        self.source = W - self.L  # the argument of the last structured projection
        self.S = self.project(self.source)
        err = float(np.linalg.norm(self.source - self.S)) / self.scale
        self.info.errors.append(err)
        return err

    def step(self) -> float:
        """One iteration; returns the new error."""
        err = self._update()
        self.info.iterations += 1
        return err

    def run(self, tol: float, maxiter: int) -> None:
        """Iterate until the relative decrease is below ``tol`` or ``maxiter`` iterations in all."""
        while self.info.iterations < maxiter:
            prev = self.info.errors[-1]
            err = self.step()
            if prev - err <= tol * prev:
                self.info.converged = True
                break


def alternating_projections(
    A: Any,
    part: str,
    rank: int,
    *,
    nblocks: Any = None,
    nnz: int | None = None,
    tol: float = 1e-4,
    maxiter: int = 50,
    dtype: Any = None,
) -> tuple[Sum, AlternatingInfo]:
    """Approximate ``A`` by a structured part plus a rank-``rank`` part, ``S + L``.

    Starting from ``L_0 = SVD_r(A)`` (the best rank-``r`` part alone) and
    ``S_0 = P(A - L_0)`` (``P`` the optimal structured projection), each iteration sets
    ``L = SVD_r(A - S)`` and then ``S = P(A - L)``.  Both are optimal for their part with the
    other fixed, so ``||A - S - L||_F`` never increases, and since ``S = 0`` is structured the
    start is already no worse than ``L_0`` alone.  The iteration stops when the error
    decreases by less than ``tol`` (relative) in one iteration, or after ``maxiter``
    iterations.

    Parameters
    ----------
    A : array, shape (m, n)
    part : {"monarch", "blockdiag", "sparse"}
        The structured family: a Monarch matrix of geometry ``nblocks``, a block-diagonal one
        with ``nblocks`` blocks, or a sparse one with ``nnz`` non-zeros.
    rank : int
        Rank of the low-rank part (``1 <= rank <= min(m, n)``).
    nblocks, nnz
        The structured part's size (see ``part``).
    tol : float
        Relative decrease below which the iteration stops (``0 <= tol < 1``).
    maxiter : int
        Largest number of iterations after the start (``>= 0``).
    dtype : dtype, optional
        Dtype of the computation and the factors.

    Returns
    -------
    Sum
        ``Sum(S, LowRank)``; its ``nparams`` is the sum of the parts'.
    AlternatingInfo
        The error after every iteration, the iteration count and whether it converged.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore import alternating_projections, best_lowrank
    >>> rng = np.random.default_rng(0)
    >>> A = np.kron(np.eye(4), rng.standard_normal((4, 4))) + np.outer(rng.standard_normal(16),
    ...                                                                rng.standard_normal(16))
    >>> S, info = alternating_projections(A, "blockdiag", 1, nblocks=4, tol=1e-10)
    >>> info.error < 1e-6, S.nparams
    (True, 96)
    >>> all(b <= a * (1 + 1e-12) for a, b in zip(info.errors, info.errors[1:]))
    True
    """
    W = as_matrix(A, dtype)
    if not isinstance(part, str):
        raise TypeError(f"part must be a string ({', '.join(_PARTS)}); got {type(part).__name__}")
    r = _check_rank(rank, "rank", min(W.shape))
    if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, (int, float, np.floating)):
        raise TypeError(f"tol must be a float in [0, 1); got {tol!r}")
    if not 0 <= float(tol) < 1:
        raise ValueError(f"tol must be a float in [0, 1); got {tol!r}")
    maxiter = check_size(maxiter, "maxiter", minimum=0)
    project, build = _part_projector(part, W, nblocks, nnz)
    info = AlternatingInfo()
    t0 = time.perf_counter()
    it = _Alternation(W, project, r, info)
    it.run(float(tol), maxiter)
    S = build(it.source)
    info.seconds = time.perf_counter() - t0
    return Sum(S, LowRank(it.U, it.V)), info
