r"""Block tensor-train matrices: :class:`BlockTT` (``c`` cores with ranks between them).

Index conventions.  The input index ``j`` of an ``n_out x n_in`` matrix is read as the digits
``(j_0, ..., j_{c-1})`` of ``n_in = n_0 ⋯ n_{c-1}`` in row-major order (``j_0`` most
significant), the output index ``i`` as ``(i_0, ..., i_{c-1})`` of ``n_out = m_0 ⋯ m_{c-1}``.
Core ``t`` holds one block for every value of the *context* ``(i_{t+1}, ..., i_{c-1},
j_0, ..., j_{t-1})`` (output digits after ``t``, input digits before ``t``, flattened in that
order); the block maps ``(j_t, α_{t+1})`` to ``(α_t, i_t)`` with ranks ``r_0 = r_c = 1``:

.. math::

    A[i, j] = \sum_{α_1, …, α_{c-1}} \prod_{t=0}^{c-1}
              G_t[(i_{>t}, j_{<t}),\ α_t, i_t,\ j_t, α_{t+1}].

With all ranks 1 this is the order-``c`` Monarch matrix (:class:`~structmat.MonarchP`):
core ``c-1`` is applied first and mixes the last digit, core ``0`` last; with two cores it is
the Monarch matrix ``Monarch(L, R)`` of Dao et al. (2022) with ``L = G_0`` and ``R = G_1``, and
ranks ``r`` give its rank-``r`` slabs.  Block tensor-train matrices are those of Qiu et al.,
*Compute Better Spent: Replacing Dense Layers with Structured Matrices* (ICML 2024).

The multiply is one batched GEMM per core (``xp.matmul`` over the core's blocks) and one axis
permutation (a layout copy) between consecutive GEMMs: ``c`` GEMMs and ``c`` copies for
``A @ X``, ``c`` GEMMs and ``c + 1`` copies for ``X @ A`` (on NumPy, ``A @ X`` writes each GEMM's
output straight into the next core's layout: no copies).  Cost ``2 · nparams`` flops per
column.  On NumPy a large batch is cut into chunks whose intermediates stay in cache, shared
by a few threads with BLAS single-threaded (``STRUCTMAT_NUM_THREADS`` caps their number), as
for :class:`~structmat.Monarch`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _backend as B, _parallel
from ..base import StructuredMatrix, as_param_array, check_size, nominal_dtype

__all__ = ["BlockTT", "orderp_sizes"]


def _sizes_arg(value: Any, name: str) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of integer sizes; got {value!r}")
    if len(value) < 2:
        raise ValueError(f"{name} needs at least 2 sizes (one per core); got {tuple(value)!r}")
    return tuple(check_size(v, f"{name}[{t}]") for t, v in enumerate(value))


def _factorisations(n: int, parts: int, smallest: int = 2) -> list[tuple[int, ...]]:
    """Every way to write ``n`` as a non-increasing product of ``parts`` factors >= ``smallest``
    (listed smallest factor first inside the recursion)."""
    if parts == 1:
        return [(n,)] if n >= smallest else []
    out = []
    d = smallest
    while d**parts <= n:
        if n % d == 0:
            for rest in _factorisations(n // d, parts - 1, d):
                out.append((d,) + rest)
        d += 1
    return out


def orderp_sizes(n: int, order: int) -> tuple[int, ...]:
    """The factorisation ``n = b_0 ⋯ b_{order-1}`` (every ``b_t >= 2``) with the smallest sum
    ``Σ b_t`` (the fewest parameters of a square order-``p`` Monarch), largest factor first.

    Parameters
    ----------
    n : int
        Size to split.
    order : int
        Number of factors (``>= 2``).

    Raises
    ------
    ValueError
        ``n`` has fewer than ``order`` prime factors (counted with multiplicity).

    Examples
    --------
    >>> from structmat.ops.blocktt import orderp_sizes
    >>> orderp_sizes(16384, 3), orderp_sizes(4096, 4), orderp_sizes(12, 2)
    ((32, 32, 16), (8, 8, 8, 8), (4, 3))
    >>> orderp_sizes(14, 3)
    Traceback (most recent call last):
    ...
    ValueError: n=14 does not factor into order=3 sizes >= 2 (it has only 2 prime factors); pass the sizes explicitly (a size may be 1) or pad n
    """
    n = check_size(n, "n")
    order = check_size(order, "order", 2)
    found = _factorisations(n, order)
    if not found:
        m, primes, p = n, 0, 2
        while p * p <= m:
            while m % p == 0:
                m //= p
                primes += 1
            p += 1
        primes += m > 1
        raise ValueError(
            f"n={n} does not factor into order={order} sizes >= 2 (it has only {primes} prime "
            f"factors); pass the sizes explicitly (a size may be 1) or pad n"
        )
    best = min(found, key=lambda f: (sum(f), max(f)))
    return tuple(sorted(best, reverse=True))


def _geometry(out_sizes, in_sizes, ranks) -> list[tuple[int, int, int, int, int]]:
    """Per core ``(nblocks, r_t, m_t, n_t, r_{t+1})``."""
    c = len(out_sizes)
    out = []
    for t in range(c):
        nb = math.prod(out_sizes[t + 1 :]) * math.prod(in_sizes[:t])
        out.append((nb, ranks[t], out_sizes[t], in_sizes[t], ranks[t + 1]))
    return out


class BlockTT(StructuredMatrix):
    r"""A block tensor-train matrix with ``c >= 2`` cores (module docstring for the indices).

    Parameters
    ----------
    cores : sequence of arrays
        Core ``t`` has shape ``(nblocks_t, r_t, m_t, n_t, r_{t+1})`` with ``r_0 = r_c = 1`` and
        ``nblocks_t = m_{t+1} ⋯ m_{c-1} · n_0 ⋯ n_{t-1}`` (block index: output digits after
        ``t``, then input digits before ``t``, row-major).  The matrix is
        ``(m_0 ⋯ m_{c-1}) x (n_0 ⋯ n_{c-1})``.  Copied at construction.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import BlockTT
    >>> A = BlockTT.random((4, 4, 4), ranks=(2, 2), seed=0)
    >>> A.shape, A.ranks, A.nparams, A.flops(1)
    ((64, 64), (2, 2), 2048, 4096)
    >>> x = np.arange(64.0)
    >>> bool(np.allclose(A @ x, A.to_dense() @ x))
    True
    """

    def __init__(self, cores: Sequence[Any]):
        if isinstance(cores, (str, bytes)) or not isinstance(cores, (tuple, list)):
            raise TypeError(f"cores must be a list of 5-D arrays; got {type(cores).__name__}")
        if len(cores) < 2:
            raise ValueError(f"cores must hold at least 2 arrays; got {len(cores)}")
        arrs, xp = [], None
        for t, G in enumerate(cores):
            a, xp = as_param_array(G, f"cores[{t}]", ndim=5, xp=xp)
            arrs.append(a)
        shapes = [tuple(int(v) for v in a.shape) for a in arrs]
        c = len(arrs)
        ranks = [1] + [s[4] for s in shapes[:-1]] + [1]
        out_sizes = tuple(s[2] for s in shapes)
        in_sizes = tuple(s[3] for s in shapes)
        if shapes[0][1] != 1 or shapes[-1][4] != 1:
            raise ValueError(
                f"the outer ranks must be 1: cores[0].shape[1] = {shapes[0][1]} and "
                f"cores[{c - 1}].shape[4] = {shapes[-1][4]} (core shape (nblocks, r_t, m_t, n_t, r_t+1))"
            )
        for t in range(c - 1):
            if shapes[t][4] != shapes[t + 1][1]:
                raise ValueError(
                    f"ranks do not chain: cores[{t}].shape[4] = {shapes[t][4]} but "
                    f"cores[{t + 1}].shape[1] = {shapes[t + 1][1]}"
                )
        self._set(arrs, xp, out_sizes, in_sizes, tuple(ranks[1:-1]), shapes, 5)

    # -- construction ------------------------------------------------------------------------------
    def _set(self, arrs, xp, out_sizes, in_sizes, ranks, shapes, ndim):
        c = len(arrs)
        full = (1,) + tuple(ranks) + (1,)
        geo = _geometry(out_sizes, in_sizes, full)
        for t in range(c):
            if min(shapes[t]) == 0:
                raise ValueError(f"cores[{t}] has a zero dimension: shape {shapes[t]}")
            if shapes[t][0] != geo[t][0]:
                raise ValueError(
                    f"cores[{t}] has {shapes[t][0]} blocks but output sizes {out_sizes} and input "
                    f"sizes {in_sizes} need {geo[t][0]} (product of the output sizes after {t} and "
                    f"the input sizes before {t})"
                )
        dt = xp.result_type(*[a.dtype for a in arrs])
        self._xp = xp
        self._dtype = dt
        self.out_sizes = tuple(out_sizes)
        self.in_sizes = tuple(in_sizes)
        self.ranks = tuple(ranks)
        self.ncores = c
        for t, (a, g) in enumerate(zip(arrs, geo)):
            a = a if a.dtype == dt else xp.astype(a, dt)
            setattr(self, f"core{t}", xp.reshape(a, (g[0], g[1] * g[2], g[3] * g[4])))
        self._shape = (math.prod(out_sizes), math.prod(in_sizes))

    @classmethod
    def _from_blocks(cls, blocks, out_sizes, in_sizes, ranks):
        """A matrix of this class from 3-D blocks ``(nblocks, r_t m_t, n_t r_{t+1})``."""
        obj = cls.__new__(cls)
        xp = B.get_namespace(blocks[0])
        shapes = [tuple(int(v) for v in b.shape) for b in blocks]
        full = (1,) + tuple(ranks) + (1,)
        geo = _geometry(out_sizes, in_sizes, full)
        shapes5 = [(s[0], g[1], g[2], g[3], g[4]) for s, g in zip(shapes, geo)]
        obj._set(list(blocks), xp, out_sizes, in_sizes, ranks, shapes5, 3)
        return obj

    def _blocks(self) -> list:
        return [getattr(self, f"core{t}") for t in range(self.ncores)]

    # -- geometry ----------------------------------------------------------------------------------
    @property
    def cores(self) -> tuple:
        """The cores as 5-D arrays ``(nblocks_t, r_t, m_t, n_t, r_{t+1})`` (views).

        Examples
        --------
        >>> from structmat import BlockTT
        >>> [G.shape for G in BlockTT.random((2, 3), ranks=2, seed=0).cores]
        [(3, 1, 2, 2, 2), (2, 2, 3, 3, 1)]
        """
        xp = self._xp
        assert xp is not None  # parameters fix the namespace
        geo = _geometry(self.out_sizes, self.in_sizes, (1,) + self.ranks + (1,))
        return tuple(xp.reshape(G, g) for G, g in zip(self._blocks(), geo))

    @property
    def geometry(self) -> list[tuple[int, int, int, int, int]]:
        """Per core ``(nblocks_t, r_t, m_t, n_t, r_{t+1})``.

        Examples
        --------
        >>> from structmat import BlockTT
        >>> BlockTT.random((2, 3), (4, 1), ranks=2, seed=0).geometry
        [(1, 1, 4, 2, 2), (2, 2, 1, 3, 1)]
        """
        return _geometry(self.out_sizes, self.in_sizes, (1,) + self.ranks + (1,))

    @classmethod
    def random(
        cls,
        n_in: Any,
        n_out: Any = None,
        ranks: Any = 1,
        cores: int | None = None,
        seed: Any = None,
        dtype: Any = "float64",
        xp: Any = None,
    ) -> BlockTT:
        """A block tensor-train matrix with independent Gaussian entries.

        Blocks are scaled by ``1/sqrt(fan-in)`` so that ``A @ x`` has about the norm of ``x``.

        Parameters
        ----------
        n_in : int or tuple of int
            Input size, or the input sizes ``(n_0, ..., n_{c-1})``.
        n_out : int or tuple of int, optional
            Output size or sizes (default: the input sizes).  An int is split like ``n_in``.
        ranks : int or tuple of int, default 1
            ``(r_1, ..., r_{c-1})``, or one rank for every link.
        cores : int, optional
            Number of cores when ``n_in`` is an int (split by :func:`orderp_sizes`); default 2.
        seed : int or numpy.random.Generator, optional
        dtype : float32, float64, complex64 or complex128
        xp : namespace or name, optional
            Backend of the parameters (default NumPy).

        Examples
        --------
        >>> from structmat import BlockTT
        >>> BlockTT.random(24, 8, cores=3, ranks=2, seed=1).geometry
        [(4, 1, 2, 4, 2), (8, 2, 2, 3, 2), (12, 2, 2, 2, 1)]
        """
        name = nominal_dtype(dtype).name
        in_sizes, out_sizes = _resolve_sizes(n_in, n_out, cores)
        c = len(in_sizes)
        if isinstance(ranks, (tuple, list)):
            if len(ranks) != c - 1:
                raise ValueError(
                    f"ranks must have {c - 1} entries (one per link of {c} cores); got {tuple(ranks)!r}"
                )
            rk = tuple(check_size(r, f"ranks[{t}]") for t, r in enumerate(ranks))
        else:
            rk = (check_size(ranks, "ranks"),) * (c - 1)
        rng = np.random.default_rng(seed)
        ns = B.resolve_xp(xp)
        arrs = []
        for g in _geometry(out_sizes, in_sizes, (1,) + rk + (1,)):
            a = rng.standard_normal(g)
            if name.startswith("complex"):
                a = (a + 1j * rng.standard_normal(g)) / math.sqrt(2.0)
            arrs.append(ns.asarray((a / math.sqrt(g[3] * g[4])).astype(name)))
        return cls._random_from_cores(arrs)

    @classmethod
    def _random_from_cores(cls, arrs):
        return BlockTT(arrs)

    # -- protocol ----------------------------------------------------------------------------------
    @property
    def nparams(self) -> int:
        return sum(math.prod(g) for g in self.geometry)

    def flops(self, batch: int = 1) -> int:
        return 2 * self.nparams * int(batch)

    # NumPy: the batch is cut into chunks whose intermediates stay in cache; the chunks are
    # shared by a few threads with BLAS single-threaded (each GEMM of a chunk is too short for
    # BLAS's own threads, whose synchronisation dominates on a busy machine).  Other
    # namespaces (CuPy, array_api_strict) take the whole batch at once.
    _CHUNK_BYTES = 2 << 20  # target size of one chunk's largest intermediate
    _CHUNK_RANGE = (32, 256)  # columns (rows) per chunk
    _PARALLEL_FLOPS = 1 << 24  # products below this run on the calling thread only

    def _chunked(self, X, axis: int, kernel):
        """``kernel`` applied to chunks of ``X`` along ``axis`` (NumPy), or to all of ``X``."""
        nb = X.shape[axis]
        lo, hi = self._CHUNK_RANGE
        if not B.is_numpy(self._xp) or nb <= lo:
            return kernel(X)
        width = max(max(g[0] * g[1] * g[2], g[0] * g[3] * g[4]) for g in self.geometry)
        chunk = min(hi, max(lo, self._CHUNK_BYTES // (width * X.dtype.itemsize)))
        nchunks = -(-nb // chunk)
        out_len = self._shape[0] if axis == 1 else self._shape[1]
        Y = np.empty((out_len, nb) if axis == 1 else (nb, out_len), dtype=X.dtype)
        next_task = _parallel.task_queue(nchunks)

        def work():
            k = next_task()
            while k is not None:
                c0, c1 = k * chunk, min(nb, (k + 1) * chunk)
                if axis == 1:
                    Y[:, c0:c1] = kernel(np.ascontiguousarray(X[:, c0:c1]))
                else:
                    Y[c0:c1] = kernel(X[c0:c1])
                k = next_task()

        workers = _parallel.num_workers()
        threads = min(workers, nchunks) if self.flops(nb) >= self._PARALLEL_FLOPS else 1
        with _parallel.blas_single_threaded():
            _parallel.run_parallel(work, threads)
        return Y

    def _mul_cols(self, X):
        return self._chunked(X, 1, self._cols_kernel)

    def _mul_rows(self, X):
        return self._chunked(X, 0, self._rows_kernel)

    def _cols_kernel(self, X):
        if isinstance(X, np.ndarray) and B.is_numpy(self._xp):
            return self._cols_kernel_numpy(X)
        return self._cols_kernel_xp(X)

    def _cols_kernel_numpy(self, X):
        """``A @ X`` on NumPy: each GEMM writes straight into the next core's layout (a strided
        output view that BLAS accepts), so no copy is made between the stages."""
        nb = X.shape[1]
        dt = X.dtype
        S = np.ascontiguousarray(X)
        for t in range(self.ncores - 1, -1, -1):
            nblk, r0, m, n, r1 = self.geometry[t]
            G = getattr(self, f"core{t}").astype(dt, copy=False)
            I_t = math.prod(self.out_sizes[t + 1 :])
            J_t = nblk // I_t
            Y = np.empty((m, I_t, J_t, r0, nb), dtype=dt)  # (i_t, i_>t, j_<t, α_t, B)
            out = Y.reshape(m, nblk, r0, nb).transpose(1, 2, 0, 3)  # [block, α_t, i_t, B]
            np.matmul(G.reshape(nblk, r0, m, n * r1), S.reshape(nblk, 1, n * r1, nb), out=out)
            S = Y.reshape(m * nblk * r0, nb)
        return S

    def _cols_kernel_xp(self, X):
        xp = B.get_namespace(X)
        nb = X.shape[1]
        geo = self.geometry
        Gs = self._blocks()
        S = X
        for t in range(self.ncores - 1, -1, -1):
            nblk, r0, m, n, r1 = geo[t]
            G = Gs[t] if Gs[t].dtype == X.dtype else xp.astype(Gs[t], X.dtype)
            Y = xp.matmul(G, xp.reshape(S, (nblk, n * r1, nb)))  # (I_t J_t, r_t m_t, B)
            I_t = math.prod(self.out_sizes[t + 1 :])
            J_t = nblk // I_t
            # (i_>t, j_<t, α_t, i_t, B) -> (i_t, i_>t, j_<t, α_t, B): the next core's layout
            Y = xp.permute_dims(xp.reshape(Y, (I_t, J_t, r0, m, nb)), (3, 0, 1, 2, 4))
            S = xp.reshape(Y, (m * I_t * J_t * r0, nb))
        return S

    def _rows_kernel(self, X):
        xp = B.get_namespace(X)
        N = X.shape[0]
        geo = self.geometry
        Gs = self._blocks()
        m0 = self.out_sizes[0]
        # x[N, i_0, i_>0] -> (i_>0, N, i_0): the first core's layout
        S = xp.permute_dims(xp.reshape(X, (N, m0, geo[0][0])), (2, 0, 1))
        c = self.ncores
        for t in range(c):
            nblk, r0, m, n, r1 = geo[t]
            G = Gs[t] if Gs[t].dtype == X.dtype else xp.astype(Gs[t], X.dtype)
            Z = xp.matmul(xp.reshape(S, (nblk, N, r0 * m)), G)  # (I_t J_t, N, n_t r_t+1)
            I_t = math.prod(self.out_sizes[t + 1 :])
            J_t = nblk // I_t
            if t == c - 1:
                # (j_<c-1, N, j_c-1) -> (N, j)
                Z = xp.permute_dims(xp.reshape(Z, (J_t, N, n)), (1, 0, 2))
                return xp.reshape(Z, (N, J_t * n))
            m1 = self.out_sizes[t + 1]
            # (i_t+1, i_>t+1, j_<t, N, j_t, α_t+1) -> (i_>t+1, j_<t, j_t, N, α_t+1, i_t+1)
            Z = xp.reshape(Z, (m1, I_t // m1, J_t, N, n, r1))
            S = xp.permute_dims(Z, (1, 2, 4, 3, 5, 0))
        raise AssertionError("unreachable")  # pragma: no cover

    def _conj(self):
        if not self._is_complex():
            return self
        xp = self._xp
        return type(self)._from_blocks(
            [xp.conj(G) for G in self._blocks()], self.out_sizes, self.in_sizes, self.ranks
        )

    def to_backend(self, xp):
        ns = B.resolve_xp(xp)
        return type(self)._from_blocks(
            [B.move(G, ns) for G in self._blocks()], self.out_sizes, self.in_sizes, self.ranks
        )

    def _repr_extra(self) -> str:
        return f", out_sizes={self.out_sizes}, in_sizes={self.in_sizes}, ranks={self.ranks}"


def _resolve_sizes(n_in: Any, n_out: Any, cores: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(in_sizes, out_sizes)`` from ints (split into ``cores`` factors) or tuples."""
    if isinstance(n_in, (tuple, list)):
        in_sizes = _sizes_arg(n_in, "n_in")
        c = len(in_sizes)
        if cores is not None and check_size(cores, "cores", 2) != c:
            raise ValueError(f"cores={cores} but n_in lists {c} sizes")
    else:
        c = 2 if cores is None else check_size(cores, "cores", 2)
        in_sizes = orderp_sizes(check_size(n_in, "n_in"), c)
    if n_out is None:
        out_sizes = in_sizes
    elif isinstance(n_out, (tuple, list)):
        out_sizes = _sizes_arg(n_out, "n_out")
        if len(out_sizes) != c:
            raise ValueError(f"n_out lists {len(out_sizes)} sizes but n_in has {c}")
    else:
        out_sizes = orderp_sizes(check_size(n_out, "n_out"), c)
    return in_sizes, out_sizes
