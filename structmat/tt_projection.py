r"""Approximation of a dense matrix by a block tensor-train or order-p Monarch matrix.

:func:`project_to_blocktt` runs the sequential truncated SVD of Oseledets (*Tensor-Train
Decomposition*, SIAM J. Sci. Comput. 33(5), 2011, Algorithm 1 and Theorem 2.2) on the slab
tensors of ``A``.  In the index conventions of :mod:`structmat.ops.blocktt`, cores ``0 .. k-1``
of a block tensor-train matrix depend on the digits ``(i, j_{<k})`` and cores ``k .. c-1`` on
``(i_{>=k}, j)``; they share the *context* ``(i_{>=k}, j_{<k})``.  So for every context the
``k``-th unfolding

.. math::

    A^{(k)}_{ctx}[(i_{<k}),\ (j_{>=k})]

has rank at most ``r_k`` (a block of ``c - 1`` batched matrices, one per context).  With
``ε_k`` the best rank-``r_k`` error of the ``k``-th unfolding (the Frobenius norm of its
discarded singular values, over all contexts):

* every ``ε_k`` is a lower bound on the error of *any* block tensor-train matrix of these sizes
  and ranks (its ``k``-th unfolding has rank ``<= r_k``);
* the sequential truncated SVD returns a block tensor-train matrix with
  ``||A - B||_F <= sqrt(ε_1² + ... + ε_{c-1}²) <= sqrt(c - 1) · (optimal error)``
  (Theorem 2.2 of Oseledets: each step is an orthogonal projection per context, and the errors
  of the steps are orthogonal);
* for ``c = 2`` the algorithm is one truncated SVD per slab: the optimum (Eckart–Young), the
  rank-``r`` Monarch projection.

:func:`fit_blocktt` runs the two iterative baselines: alternating least squares (each core in
turn set to its exact least-squares optimum given the others) and gradient descent with Adam.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _backend as B
from .base import check_size
from .ops.blocktt import BlockTT, _geometry, _resolve_sizes
from .ops.monarch_p import MonarchP

__all__ = ["BlockTTInfo", "project_to_blocktt", "project_to_monarch_p", "fit_blocktt"]


@dataclass(frozen=True)
class BlockTTInfo:
    """What :func:`project_to_blocktt` knows about its result.

    Attributes
    ----------
    error : float
        ``||A - B||_F`` of the returned matrix ``B`` (computed in float64 from ``B``'s cores).
    unfolding_errors : tuple of float
        ``ε_1, ..., ε_{c-1}``: best rank-``r_k`` error of the ``k``-th unfolding of ``A``.
    bound : float
        ``sqrt(Σ ε_k²)``: the proven upper bound on ``error``.
    lower_bound : float
        ``max ε_k``: no block tensor-train matrix of these sizes and ranks is closer to ``A``.
    factor : float
        ``sqrt(c - 1)``: the proven ratio of ``bound`` to ``lower_bound`` at most.
    norm : float
        ``||A||_F``.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import project_to_blocktt
    >>> A = np.random.default_rng(1).standard_normal((16, 16))
    >>> _, info = project_to_blocktt(A, cores=2, ranks=2, return_info=True)
    >>> bool(np.isclose(info.error, info.lower_bound)), len(info.unfolding_errors)
    (True, 1)
    """

    error: float
    unfolding_errors: tuple
    bound: float
    lower_bound: float
    factor: float
    norm: float

    @property
    def rel_error(self) -> float:
        """``error / ||A||_F``."""
        return self.error / self.norm if self.norm else 0.0


def _ranks_arg(ranks: Any, c: int) -> tuple[int, ...]:
    if isinstance(ranks, (tuple, list)):
        if len(ranks) != c - 1:
            raise ValueError(
                f"ranks must have {c - 1} entries (one per link of {c} cores); got {tuple(ranks)!r}"
            )
        return tuple(check_size(r, f"ranks[{t}]") for t, r in enumerate(ranks))
    return (check_size(ranks, "ranks"),) * (c - 1)


def _dense_arg(A: Any) -> tuple[np.ndarray, Any, np.dtype]:
    """``A`` as a float64/complex128 NumPy array and its namespace (for the result)."""
    if hasattr(A, "_structmat_operator"):
        raise TypeError("A must be a dense array; use A.to_dense() for a structured matrix")
    if B.is_array(A):
        xp = B.get_namespace(A)
        host = B.to_numpy(A)
    else:
        xp = B.resolve_xp(None)
        try:
            host = np.asarray(A)
        except Exception as exc:
            raise TypeError(f"A must be a 2-D array; got {type(A).__name__}") from exc
    if host.ndim != 2:
        raise ValueError(f"A must be a 2-D array; got shape {host.shape}")
    if host.dtype.kind not in "fciu" or host.dtype == np.float16:
        raise TypeError(
            f"A must be a float32, float64, complex64 or complex128 array; got {host.dtype}"
        )
    if host.size and not np.isfinite(host).all():
        raise ValueError("A contains NaN or Inf entries")
    work = host.astype(np.complex128 if host.dtype.kind == "c" else np.float64)
    return work, xp, host.dtype


def _sizes_for(
    A: np.ndarray, cores, in_sizes, out_sizes
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    n_out, n_in = A.shape
    if in_sizes is None:
        in_sizes = n_in
    if out_sizes is None:
        # a square A with given input sizes: the same output sizes
        square = isinstance(in_sizes, (tuple, list)) and n_out == n_in
        out_sizes = tuple(in_sizes) if square else n_out
    if isinstance(in_sizes, (tuple, list)) and cores is None:
        cores = len(in_sizes)
    ins, outs = _resolve_sizes(in_sizes, out_sizes, cores)
    if math.prod(ins) != n_in or math.prod(outs) != n_out:
        raise ValueError(
            f"sizes do not fit A of shape {A.shape}: out_sizes {outs} (product {math.prod(outs)}) "
            f"and in_sizes {ins} (product {math.prod(ins)})"
        )
    return ins, outs


def _truncate(M: np.ndarray, r: int):
    """Batched rank-``r`` truncation of ``M (..., a, b)``: ``U (..., a, r)``, ``W (..., r, b)``
    (zero-padded when ``min(a, b) < r``) and the discarded squared singular values' sum."""
    U, s, Vh = np.linalg.svd(M, full_matrices=False)
    k = s.shape[-1]
    disc = float(np.sum(s[..., r:] ** 2)) if k > r else 0.0
    keep = min(r, k)
    U = U[..., :keep]
    W = s[..., :keep, None] * Vh[..., :keep, :]
    if keep < r:
        padU = np.zeros(U.shape[:-1] + (r - keep,), dtype=U.dtype)
        padW = np.zeros(W.shape[:-2] + (r - keep, W.shape[-1]), dtype=W.dtype)
        U = np.concatenate([U, padU], axis=-1)
        W = np.concatenate([W, padW], axis=-2)
    return U, W, disc


def _unfolding(A: np.ndarray, outs, ins, k: int) -> np.ndarray:
    """The ``k``-th unfolding of ``A``: ``(contexts, Π m_{<k}, Π n_{>=k})``, contexts ordered
    ``(i_{>=k}, j_{<k})``."""
    c = len(outs)
    T = A.reshape(tuple(outs) + tuple(ins))
    order = (
        list(range(k, c))
        + [c + s for s in range(k)]
        + list(range(k))
        + [c + s for s in range(k, c)]
    )
    ctx = math.prod(outs[k:]) * math.prod(ins[:k])
    return T.transpose(order).reshape(ctx, math.prod(outs[:k]), math.prod(ins[k:]))


def _tt_svd(A: np.ndarray, outs, ins, ranks) -> list[np.ndarray]:
    """Cores ``(nblocks_t, r_t, m_t, n_t, r_{t+1})`` of the sequential truncated SVD."""
    c = len(outs)
    full: tuple[int, ...] = (1,) + tuple(ranks) + (1,)
    # W axes: (J = j_<t, α_t, i_t, ..., i_{c-1}, j_t, ..., j_{c-1})
    W: np.ndarray = A.reshape((1, 1) + tuple(outs) + tuple(ins))
    cores = []
    for t in range(c - 1):
        nt = c - t  # digits left on each side
        J = W.shape[0]
        r0, m, n = full[t], outs[t], ins[t]
        I_t = math.prod(outs[t + 1 :])
        # -> (i_>t, J, j_t, α_t, i_t, j_>t): contexts (i_>t, j_<t, j_t), rows (α_t, i_t)
        ax_i = list(range(2, 2 + nt))  # i_t .. i_{c-1}
        ax_j = list(range(2 + nt, 2 + 2 * nt))  # j_t .. j_{c-1}
        order = ax_i[1:] + [0, ax_j[0], 1, ax_i[0]] + ax_j[1:]
        M = W.transpose(order).reshape(I_t, J, n, r0 * m, math.prod(ins[t + 1 :]))
        U, Wn, _ = _truncate(M, full[t + 1])  # U (I, J, n, r0 m, r1), Wn (I, J, n, r1, rest)
        core = U.reshape(I_t, J, n, r0, m, full[t + 1]).transpose(0, 1, 3, 4, 2, 5)
        cores.append(np.ascontiguousarray(core).reshape(I_t * J, r0, m, n, full[t + 1]))
        # new W: (J j_t, α_{t+1}, i_{>t}, j_{>t})
        Wn = Wn.reshape((I_t, J * n, full[t + 1]) + tuple(ins[t + 1 :]))
        Wn = Wn.reshape(tuple(outs[t + 1 :]) + (J * n, full[t + 1]) + tuple(ins[t + 1 :]))
        k = len(outs) - t - 1
        W = Wn.transpose([k, k + 1] + list(range(k)) + list(range(k + 2, k + 2 + k)))
    J = W.shape[0]
    cores.append(np.ascontiguousarray(W).reshape(J, full[c - 1], outs[c - 1], ins[c - 1], 1))
    return cores


def project_to_blocktt(
    A: Any,
    cores: int | None = None,
    ranks: Any = 1,
    *,
    in_sizes: Any = None,
    out_sizes: Any = None,
    return_info: bool = False,
):
    r"""A block tensor-train matrix close to ``A``, within ``sqrt(c - 1)`` of the best one.

    The sequential truncated SVD on the slab tensors (module docstring): for ``c = 2`` the
    optimum, otherwise ``||A - B||_F <= sqrt(Σ_k ε_k²) <= sqrt(c - 1) · min_B' ||A - B'||_F``
    with ``ε_k`` the best rank-``r_k`` errors of the unfoldings (each a lower bound on the
    optimum).

    Parameters
    ----------
    A : array, shape (n_out, n_in)
        NumPy, CuPy or ``array_api_strict`` array (computed on the host in float64/complex128;
        the cores come back in ``A``'s namespace and dtype).
    cores : int, optional
        Number of cores ``c`` when the sizes are not given (default 2; sizes split by
        :func:`structmat.ops.blocktt.orderp_sizes`).
    ranks : int or tuple of int, default 1
        ``(r_1, ..., r_{c-1})`` or one rank for every link.
    in_sizes, out_sizes : tuple of int, optional
        Digit sizes with products ``n_in`` and ``n_out`` (for a square ``A``, ``out_sizes``
        defaults to ``in_sizes``).
    return_info : bool, default False
        Also return a :class:`BlockTTInfo` (error, the ``ε_k``, the bound and lower bound).

    Returns
    -------
    BlockTT, or (BlockTT, BlockTTInfo)

    Raises
    ------
    ValueError
        The sizes do not factor ``A``'s shape, ``A`` is not 2-D or holds NaN/Inf.
    TypeError
        ``A`` is not an array of a supported dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import project_to_blocktt
    >>> A = np.random.default_rng(0).standard_normal((64, 64))
    >>> B, info = project_to_blocktt(A, cores=3, ranks=2, return_info=True)
    >>> B.in_sizes, B.ranks, info.factor
    ((4, 4, 4), (2, 2), 1.4142135623730951)
    >>> bool(info.lower_bound <= info.error <= info.bound)
    True
    """
    work, xp, dtype = _dense_arg(A)
    ins, outs = _sizes_for(work, cores, in_sizes, out_sizes)
    c = len(ins)
    rk = _ranks_arg(ranks, c)
    G = _tt_svd(work, outs, ins, rk)
    out_dt = dtype if dtype.kind in "fc" else np.dtype(np.float64)
    result = BlockTT([xp.asarray(g.astype(out_dt)) for g in G])
    if not return_info:
        return result
    eps = []
    for k in range(1, c):
        s = np.linalg.svd(_unfolding(work, outs, ins, k), compute_uv=False)
        eps.append(math.sqrt(float(np.sum(s[..., rk[k - 1] :] ** 2))))
    D = BlockTT(G).to_dense()
    info = BlockTTInfo(
        error=float(np.linalg.norm(D - work)),
        unfolding_errors=tuple(eps),
        bound=math.sqrt(sum(e * e for e in eps)),
        lower_bound=max(eps),
        factor=math.sqrt(c - 1),
        norm=float(np.linalg.norm(work)),
    )
    return result, info


def project_to_monarch_p(
    A: Any,
    order: int | None = None,
    *,
    in_sizes: Any = None,
    out_sizes: Any = None,
    return_info: bool = False,
):
    """An order-``p`` Monarch matrix close to ``A``: :func:`project_to_blocktt` with every rank 1,
    within ``sqrt(p - 1)`` of the best order-``p`` Monarch matrix (the optimum for ``p = 2``).

    Parameters
    ----------
    A : array, shape (n_out, n_in)
    order : int, optional
        ``p`` when the sizes are not given (default 2).
    in_sizes, out_sizes : tuple of int, optional
    return_info : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import MonarchP, project_to_monarch_p
    >>> M = MonarchP.random((4, 2, 4), seed=0)
    >>> P = project_to_monarch_p(np.asarray(M), in_sizes=(4, 2, 4))
    >>> bool(np.allclose(np.asarray(P), np.asarray(M)))
    True
    """
    B_, info = project_to_blocktt(
        A, order, 1, in_sizes=in_sizes, out_sizes=out_sizes, return_info=True
    )
    P = MonarchP._from_blocks(B_._blocks(), B_.out_sizes, B_.in_sizes, B_.ranks)
    return (P, info) if return_info else P


# ----------------------------------------------------------------------------------------------
# iterative baselines: alternating least squares and Adam
# ----------------------------------------------------------------------------------------------


def _six(G5, outs, ins, t):
    """Core ``t`` ``(nblocks, r0, m, n, r1)`` as ``(I_t, J_t, r0, m, n, r1)``."""
    I_t, J_t = math.prod(outs[t + 1 :]), math.prod(ins[:t])
    return G5.reshape((I_t, J_t) + G5.shape[1:])


def _left_envs_step(E, G6, outs, t):
    """``E_{t+1}`` from ``E_t (n_out, J_t, r_t)`` and core ``t``: ``(n_out, J_{t+1}, r_{t+1})``."""
    I_t, J_t, r0, m, n, r1 = G6.shape
    P = E.shape[0] // (m * I_t)
    E5 = E.reshape(P, m, I_t, J_t, r0)
    En = np.einsum("PiIJa,IJaijs->PiIJjs", E5, G6, optimize=True)
    return En.reshape(E.shape[0], J_t * n, r1)


def _right_envs(cores6, outs, ins):
    """``F_t (Π m_{>=t}, n_in, r_t)`` for ``t = c .. 0`` (list indexed by ``t``)."""
    c = len(outs)
    n_in = math.prod(ins)
    F = [None] * (c + 1)
    F[c] = np.ones((1, n_in, 1), dtype=cores6[0].dtype)
    for t in range(c - 1, -1, -1):
        I_t, J_t, r0, m, n, r1 = cores6[t].shape
        K = n_in // (J_t * n)
        F5 = F[t + 1].reshape(I_t, J_t, n, K, r1)
        Ft = np.einsum("IJaijs,IJjKs->iIJjKa", cores6[t], F5, optimize=True)
        F[t] = Ft.reshape(m * I_t, n_in, r0)
    return F


def fit_blocktt(
    A: Any,
    start: BlockTT,
    steps: int = 100,
    optimizer: str = "als",
    lr: float | None = None,
    time_limit: float | None = None,
):
    """Iterative baselines for :func:`project_to_blocktt`: ALS sweeps or Adam steps from ``start``.

    ``"als"``: one step is a sweep over the cores, each set to its exact least-squares
    optimum given the others (a pseudo-inverse per block and digit pair); the error never
    increases.  ``"adam"``: one step of Adam on ``½||A - B||_F²`` with step size ``lr``
    (default ``0.01 ×`` the RMS entry of ``start``'s cores).

    Parameters
    ----------
    A : NumPy array, shape (n_out, n_in)
    start : BlockTT
        Initial cores (sizes and ranks of the result).
    steps : int
    optimizer : "als" or "adam"
    lr : float, optional
    time_limit : float, optional
        Stop after this many seconds.

    Returns
    -------
    (BlockTT, dict)
        The last iterate and its history: ``"step"``, ``"time"`` (seconds since the start) and
        ``"rel_error"`` arrays (step 0 is ``start``).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import BlockTT, fit_blocktt, project_to_blocktt
    >>> A = np.random.default_rng(0).standard_normal((16, 16))
    >>> B, hist = fit_blocktt(A, BlockTT.random((2, 4, 2), ranks=2, seed=0), steps=20)
    >>> bool(np.all(np.diff(hist["rel_error"]) <= 1e-12))
    True
    """
    if optimizer not in ("als", "adam"):
        raise ValueError(f"optimizer must be 'als' or 'adam'; got {optimizer!r}")
    if not isinstance(start, BlockTT):
        raise TypeError(f"start must be a BlockTT; got {type(start).__name__}")
    steps = check_size(steps, "steps", 0)
    work, _, _ = _dense_arg(A)
    if work.shape != start.shape:
        raise ValueError(f"A has shape {work.shape} but start is {start.shape[0]}x{start.shape[1]}")
    outs, ins = start.out_sizes, start.in_sizes
    c = len(outs)
    dt = np.result_type(work.dtype, np.dtype(B.to_numpy(start._blocks()[0]).dtype), np.float64)
    work = work.astype(dt)
    cores = [
        _six(np.asarray(B.to_numpy(g)).astype(dt), outs, ins, t) for t, g in enumerate(start.cores)
    ]
    norm = float(np.linalg.norm(work)) or 1.0
    n_out, n_in = work.shape

    def dense(cs):
        return _right_envs(cs, outs, ins)[0].reshape(n_out, n_in)

    hist: dict[str, list] = {
        "step": [0],
        "time": [0.0],
        "rel_error": [float(np.linalg.norm(dense(cores) - work)) / norm],
    }
    t0 = time.perf_counter()
    if optimizer == "adam":
        rms = math.sqrt(
            sum(float(np.sum(np.abs(g) ** 2)) for g in cores) / sum(g.size for g in cores)
        )
        step = (0.01 * rms) if lr is None else float(lr)
        m1 = [np.zeros_like(g) for g in cores]
        m2 = [np.zeros(g.shape) for g in cores]
        b1, b2, eps = 0.9, 0.999, 1e-12
    for it in range(1, steps + 1):
        F = _right_envs(cores, outs, ins)
        E = np.ones((n_out, 1, 1), dtype=dt)
        if optimizer == "adam":
            R = F[0].reshape(n_out, n_in) - work
            grads = []
        for t in range(c):
            I_t, J_t, r0, m, n, r1 = cores[t].shape
            P = n_out // (m * I_t)
            K = n_in // (J_t * n)
            E5 = E.reshape(P, m, I_t, J_t, r0)
            F5 = F[t + 1].reshape(I_t, J_t, n, K, r1)
            if optimizer == "als":
                A6 = work.reshape(P, m, I_t, J_t, n, K)
                Lp = np.linalg.pinv(E5.transpose(1, 2, 3, 0, 4))  # (m, I, J, r0, P)
                Rp = np.linalg.pinv(
                    F5.transpose(0, 1, 2, 4, 3)
                )  # (I, J, n, K, r1) pinv of (r1 x K)^T
                cores[t] = np.einsum("iIJaP,PiIJjK,IJjKs->IJaijs", Lp, A6, Rp, optimize=True)
            else:
                R6 = R.reshape(P, m, I_t, J_t, n, K)
                grads.append(
                    np.einsum("PiIJa,PiIJjK,IJjKs->IJaijs", E5.conj(), R6, F5.conj(), optimize=True)
                )
            E = _left_envs_step(E, cores[t], outs, t)
        if optimizer == "adam":
            for t in range(c):
                g = grads[t]
                m1[t] = b1 * m1[t] + (1 - b1) * g
                m2[t] = b2 * m2[t] + (1 - b2) * np.abs(g) ** 2
                mh = m1[t] / (1 - b1**it)
                vh = m2[t] / (1 - b2**it)
                cores[t] = cores[t] - step * mh / (np.sqrt(vh) + eps)
        hist["step"].append(it)
        hist["time"].append(time.perf_counter() - t0)
        hist["rel_error"].append(float(np.linalg.norm(dense(cores) - work)) / norm)
        if time_limit is not None and hist["time"][-1] >= time_limit:
            break
    geo = _geometry(outs, ins, (1,) + start.ranks + (1,))
    result = BlockTT([g.reshape(s) for g, s in zip(cores, geo)])
    return result, {k: np.asarray(v) for k, v in hist.items()}
