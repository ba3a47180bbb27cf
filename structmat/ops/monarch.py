"""Monarch matrices ``M = P_out · diag(L) · P_mid · diag(R)`` in every geometry."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _backend as B, _parallel
from ..base import StructuredMatrix, as_param_array, nominal_dtype
from ..geometry import (
    geometry_degeneracy,
    monarch_geometry,
    nearest_divisor,
    slab_ranks,
    warn_if_degenerate,
)
from . import _transpose

__all__ = [
    "Monarch",
    "monarch_geometry",
    "slab_ranks",
    "nearest_divisor",
    "geometry_degeneracy",
    "warn_if_degenerate",
]


class Monarch(StructuredMatrix):
    """A Monarch matrix ``M = P_out · diag(L_0..L_{l-1}) · P_mid · diag(R_0..R_{k-1})``.

    ``R`` has shape ``(k, q, p)`` and ``L`` shape ``(l, s, r)`` with ``l r == k q``; ``M`` maps
    ``n_in = k p`` to ``n_out = l s``.  The multiply is two batched GEMMs.

    ``L`` and ``R`` are copied at construction: the matrix owns its parameters, and later
    writes to the caller's arrays do not change it.  The constructor takes any consistent
    block shapes and does not warn; :meth:`random` and :func:`monarch_geometry` warn about
    degenerate geometries (:func:`geometry_degeneracy`).

    Parameters
    ----------
    L : array, shape (l, s, r)
    R : array, shape (k, q, p)

    Notes
    -----
    ``y = M x`` in four steps:

    1. ``u[a, i] = sum_j R[a, i, j] x[a p + j]``
    2. ``t = a q + i``; ``v[b, c] = u`` at ``t = c l + b``
    3. ``w[b, d] = sum_c L[b, d, c] v[b, c]``
    4. ``y[d l + b] = w[b, d]``

    For ``n = m^2`` and all block counts ``m`` this is the paper's ``M = P L P^T R`` (Dao et
    al., ICML 2022, Section 3).  ``R`` is the first factor of the reference code's
    ``MonarchLinear`` (``blkdiag1``) and ``L`` its second (``blkdiag2``).  The slab view of the
    same formula (:mod:`structmat.geometry`) is what the optimal projection solves.

    On NumPy the stride permutations are folded into the GEMMs' strides and output buffer (no
    layout copy for ``A @ X``); large products split the batch into cache-sized chunks shared
    by a few threads, at most ``STRUCTMAT_NUM_THREADS`` (an environment variable).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Monarch
    >>> M = Monarch.random(16, seed=0)
    >>> M.shape, M.nblocks, M.nparams
    ((16, 16), (4, 4), 128)
    >>> x = np.arange(16.0)
    >>> bool(np.allclose(M @ x, M.to_dense() @ x))
    True
    """

    def __init__(self, L: Any, R: Any):
        Ra, xp = as_param_array(R, "R", ndim=3)
        La, _ = as_param_array(L, "L", ndim=3, xp=xp)
        k, q, p = Ra.shape
        l, s, r = La.shape
        if min(k, q, p, l, s, r) == 0:
            raise ValueError(
                f"L and R must have nonzero shapes; got L {tuple(La.shape)}, R {tuple(Ra.shape)}"
            )
        if l * r != k * q:
            raise ValueError(
                f"middle dimensions differ: L has l*r = {l}*{r} = {l * r} but R has "
                f"k*q = {k}*{q} = {k * q} (L.shape = (l, s, r), R.shape = (k, q, p))"
            )
        dt = xp.result_type(La.dtype, Ra.dtype)
        self.L = La if La.dtype == dt else xp.astype(La, dt)
        self.R = Ra if Ra.dtype == dt else xp.astype(Ra, dt)
        self._xp = xp
        self._dtype = dt
        self._shape = (l * s, k * p)

    @classmethod
    def _trusted(cls, L: Any, R: Any, xp) -> Monarch:
        """A Monarch matrix on factors that structmat itself just computed: fresh arrays
        (nothing else holds them), finite, of one float dtype and matching shapes, so the
        validating copy of :meth:`__init__` is skipped."""
        self = cls.__new__(cls)
        self.L = L
        self.R = R
        self._xp = xp
        self._dtype = L.dtype
        self._shape = (int(L.shape[0]) * int(L.shape[1]), int(R.shape[0]) * int(R.shape[2]))
        return self

    # -- geometry --------------------------------------------------------------------------------
    @property
    def geometry(self) -> tuple[int, int, int, int, int, int]:
        """``(k, q, p, l, s, r)``."""
        k, q, p = self.R.shape
        l, s, r = self.L.shape
        return (k, q, p, l, s, r)

    @property
    def nblocks(self) -> tuple[int, int]:
        """``(k, l)``: number of blocks of ``R`` and of ``L``."""
        return (self.R.shape[0], self.L.shape[0])

    def slab_ranks(self) -> np.ndarray:
        """Maximum rank of each ``s x p`` slab ``(a, b)``; see :func:`slab_ranks`."""
        k, q, _, l, _, _ = self.geometry
        return slab_ranks(k, q, l)

    @staticmethod
    def geometry_for(n_in: int, n_out: int | None = None, nblocks: Any = None):
        """Alias of :func:`monarch_geometry`."""
        return monarch_geometry(n_in, n_out, nblocks)

    @classmethod
    def random(
        cls,
        n_in: int,
        n_out: int | None = None,
        nblocks: Any = None,
        seed: Any = None,
        dtype: Any = "float64",
        xp: Any = None,
    ) -> Monarch:
        """A Monarch matrix with independent Gaussian block entries.

        Blocks are scaled so that ``M @ x`` has about the norm of ``x``.

        Parameters
        ----------
        n_in, n_out, nblocks :
            Geometry, see :func:`monarch_geometry`.
        seed : int or numpy.random.Generator, optional
        dtype : float32, float64, complex64 or complex128
        xp : namespace or name, optional
            Backend of the parameters (default NumPy).

        Examples
        --------
        >>> from structmat import Monarch
        >>> Monarch.random(12, 8, nblocks=(4, 2), seed=1).geometry
        (4, 2, 3, 2, 4, 4)
        """
        name = nominal_dtype(dtype).name
        k, q, p, l, s, r = monarch_geometry(n_in, n_out, nblocks)
        rng = np.random.default_rng(seed)

        def draw(shape, fan_in):
            a = rng.standard_normal(shape)
            if name.startswith("complex"):
                a = (a + 1j * rng.standard_normal(shape)) / math.sqrt(2.0)
            return (a / math.sqrt(fan_in)).astype(name)

        ns = B.resolve_xp(xp)
        R = ns.asarray(draw((k, q, p), p))
        L = ns.asarray(draw((l, s, r), r))
        return cls(L, R)

    # -- protocol --------------------------------------------------------------------------------
    @property
    def nparams(self) -> int:
        k, q, p, l, s, r = self.geometry
        return k * q * p + l * s * r

    def flops(self, batch: int = 1) -> int:
        return 2 * self.nparams * batch

    # -- multiply kernels ------------------------------------------------------------------------
    # NumPy path.  Both products are two batched GEMMs whose stride permutations are folded into
    # the operands' strides and the output buffers, so BLAS reads and writes every array in
    # place (NumPy takes its BLAS loop whenever each matrix has one unit stride; X @ M needs one
    # local transpose of its input, see _mul_rows).  The batch is cut into chunks whose
    # intermediate stays in cache (_CHUNK_BYTES), so the second GEMM reads it from cache, not
    # from memory.  With blocks of a few thousand entries each GEMM call is too short for
    # BLAS's own threading (its per-call synchronisation dominates, and collapses on a busy
    # machine), so large products instead spread the chunks over a few threads (NumPy releases
    # the GIL inside matmul), with chunks small enough that BLAS keeps every call on its calling
    # thread (_SERIAL_GEMM).  Real blocks too large for that (chunks narrower than
    # _CHUNK_RANGE[0]) are multiplied in phases instead (_cols_phased, _rows_phased): the
    # threads share out the blocks of one factor over a whole panel of the batch, then those of
    # the other, with BLAS held to one thread.  Complex dtypes keep BLAS's own threading.
    _CHUNK_BYTES = 2 << 20  # target size of one chunk's intermediate (about an L2 cache)
    _CHUNK_RANGE = (64, 256)  # columns (rows) per chunk: fewer make the GEMMs inefficient
    _ALIGN = 16  # threaded chunks are multiples of this many columns
    _SERIAL_GEMM = 1 << 18  # multiply-adds per call that OpenBLAS runs without threads
    _PARALLEL_FLOPS = 1 << 24  # products below this run on the calling thread only
    _PAD = 64  # bytes added to the rows of X @ M's chunk buffers (see _mul_rows)
    _PANEL = 256  # columns (rows) per panel of the phased schedule of large blocks
    _GROUPS = 8  # tasks per thread and phase in the phased schedule
    _LOAD_TRANSPOSE = 1 << 20  # entries of X from which X @ M loads the compiled transpose
    # up to this many columns (rows) the two batched GEMMs run as they stand, without chunks,
    # work buffers or threads: at n = 1024, float32, one column took 14 us this way against
    # 18 us chunked, one row 12 us against 23 us (min of 7)
    _FEW = 4

    def _schedule(self, nb: int, width: int, dtype):
        """``(chunk, threads, next_start, phased)`` for a batch of ``nb`` columns (rows).

        ``width`` is the length of one column of a chunk's intermediate buffers.  The threads
        take chunks from ``next_start()`` (``None`` when none is left) until all are done, so a
        thread slowed down by other work on its core takes fewer of them.  ``phased`` says that
        the blocks are too large for the calls to stay on their thread by size alone: the
        product then runs on ``threads`` threads in phases over the blocks (``_cols_phased``,
        ``_rows_phased``, with BLAS held to one thread), and the chunks are not used.
        """
        import threading

        # read (and validate) STRUCTMAT_NUM_THREADS for every product, small or large, so a
        # bad value is reported the same way whatever the size
        workers = _parallel.num_workers()
        lo, hi = self._CHUNK_RANGE
        m = self._ALIGN
        chunk = min(hi, max(lo, self._CHUNK_BYTES // (width * dtype.itemsize)))
        chunk = max(m, chunk // m * m) if chunk >= m else chunk
        R, L = self.R.shape, self.L.shape
        serial_chunk = self._SERIAL_GEMM // max(R[1] * R[2], L[1] * L[2])
        threads = 1
        if dtype.kind == "c":
            # Complex GEMMs called from several threads at once do not run in parallel (measured
            # with NumPy's OpenBLAS): keep BLAS's own threading, with fewer, larger calls.
            chunk = hi
            if nb <= hi and width * nb * dtype.itemsize > self._CHUNK_BYTES:
                # the whole batch in one chunk would make an intermediate as large as the
                # output: two chunks keep the extra memory at half the output
                chunk = max(m, -(-nb // 2) // m * m)
        elif self.flops(nb) >= self._PARALLEL_FLOPS:
            threads = max(1, min(workers, nb // m))
        if threads > 1 and serial_chunk >= lo:
            # chunks small enough for BLAS to keep each call on its thread, at least one each
            chunk = min(chunk, serial_chunk // m * m, -(-nb // (threads * m)) * m)
        elif threads > 1:
            # large blocks: BLAS's own threading of such calls collapses when another process
            # holds a core, so the threads share out the blocks instead
            return chunk, threads, None, True
        chunk = max(1, min(chunk, nb))
        starts = iter(range(0, nb, chunk))
        lock = threading.Lock()

        def next_start():
            with lock:
                return next(starts, None)

        threads = min(threads, -(-nb // chunk)) if nb else 1
        return chunk, threads, next_start, False

    def _mul_cols(self, X):
        xp = self._xp
        k, q, p, l, s, r = self.geometry
        nb = X.shape[1]
        on_np = B.is_numpy(xp)
        if on_np and nb <= self._FEW:
            _parallel.num_workers()  # validates STRUCTMAT_NUM_THREADS, as every product does
            # the generic lines below with ndarray methods: array_api_compat's wrappers and
            # NumPy's module functions cost about 1 us per call, half of M @ x at n = 256
            U = np.matmul(self.R, X.reshape(k, p, nb))
            W = np.matmul(self.L, U.reshape(r, l, nb).transpose(1, 0, 2))
            return W.transpose(1, 0, 2).reshape(s * l, nb)
        if not on_np:
            U = xp.matmul(self.R, xp.reshape(X, (k, p, nb)))  # (k, q, nb): rows t = a q + i
            V = xp.permute_dims(
                xp.reshape(U, (r, l, nb)), (1, 0, 2)
            )  # (l, r, nb): v[b, c] = u[c l + b]
            W = xp.matmul(self.L, V)  # (l, s, nb)
            return xp.reshape(xp.permute_dims(W, (1, 0, 2)), (s * l, nb))
        dt = X.dtype
        R = self.R.astype(dt, copy=False)
        L = self.L.astype(dt, copy=False)
        X3 = X.reshape(k, p, nb)  # x[a p + j, c]
        Y = np.empty((s, l, nb), dtype=dt)  # y[d l + b, c]
        Yt = Y.transpose(1, 0, 2)  # w[b, d, c], strided
        chunk, threads, next_start, phased = self._schedule(nb, k * q, dt)
        if phased:
            self._cols_phased(R, L, X3, Yt, threads)
            return Y.reshape(s * l, nb)

        def work():
            c0 = next_start()
            buf = _parallel.scratch("monarch_u", k * q * chunk if c0 is not None else 0, dt)
            while c0 is not None:
                c1 = min(nb, c0 + chunk)
                U = buf[: k * q * (c1 - c0)].reshape(k, q, c1 - c0)  # u[a, i, c], t = a q + i
                np.matmul(R, X3[:, :, c0:c1], out=U)
                V = U.reshape(r, l, c1 - c0).transpose(1, 0, 2)  # v[b, c', c] = u[c' l + b, c]
                np.matmul(L, V, out=Yt[:, :, c0:c1])
                c0 = next_start()

        _parallel.run_parallel(work, threads)
        return Y.reshape(s * l, nb)

    def _groups(self, count: int, threads: int) -> tuple[int, int]:
        """``(tasks, size)``: ``count`` blocks cut into groups of ``size``, about
        :data:`_GROUPS` tasks per thread."""
        size = max(1, count // (self._GROUPS * threads))
        return -(-count // size), size

    def _cols_phased(self, R, L, X3, Yt, threads: int) -> None:
        """``M @ X`` for large blocks, in panels of :data:`_PANEL` columns: the threads first
        share out the blocks of ``R`` over the whole panel, then (after all of them are done)
        the blocks of ``L``.

        Each block then multiplies a whole panel in one call, and each factor is read once per
        panel.  Cutting the batch into narrow chunks instead, one per thread, made every thread
        read every block of both factors once per chunk: at n = 16384 (128 x 128 blocks), batch
        256, float32, 2 threads, the chunked schedule took 25-26 ms against 17-20 ms phased
        (medians of 7, interleaved, three runs).
        """
        k, q, p, l, s, r = self.geometry
        nb = X3.shape[2]
        width = min(nb, self._PANEL)
        ubuf = _parallel.scratch("monarch_u", k * q * width, X3.dtype)
        na, ga = self._groups(k, threads)
        nl, gl = self._groups(l, threads)
        phases = []
        for c0 in range(0, nb, width):
            c1 = min(nb, c0 + width)
            U = ubuf[: k * q * (c1 - c0)].reshape(k, q, c1 - c0)  # u[a, i, c], t = a q + i
            V = U.reshape(r, l, c1 - c0).transpose(1, 0, 2)  # v[b, c', c] = u[c' l + b, c]

            def first(i, U=U, c0=c0, c1=c1):
                a = slice(i * ga, (i + 1) * ga)
                np.matmul(R[a], X3[a, :, c0:c1], out=U[a])

            def second(i, V=V, c0=c0, c1=c1):
                b = slice(i * gl, (i + 1) * gl)
                np.matmul(L[b], V[b], out=Yt[b, :, c0:c1])

            phases += [(na, first), (nl, second)]
        with _parallel.blas_single_threaded():
            _parallel.run_phases(phases, threads)

    def _rows_phased(self, R, L, X, Z, threads: int, load: bool) -> None:
        """``X @ M`` for large blocks, as ``(M^T X^T)^T`` in panels of rows of ``X`` (the
        counterpart of :meth:`_cols_phased`): the threads transpose the panel (by column
        groups), then share out the blocks of ``L``, then those of ``R``, each phase after the
        one before.

        In the transposed panel the rows that one block of ``L`` reads are whole rows, so both
        GEMM phases have the shapes and layouts of ``M @ X``'s; the last one writes its blocks
        of the output in place, transposed.  The transposed panel and the intermediate
        together take at most twice the output's size (panels of :data:`_PANEL` rows; half
        panels were slower: at n = 16384, batch 256, float32, 2 threads, 25.7 ms against
        22.3 ms, with ``M @ X`` at 19.9 ms, medians of 5 interleaved).
        """
        k, q, p, l, s, r = self.geometry
        N = X.shape[0]
        dt = X.dtype
        n_in = s * l
        height = max(1, min(N, self._PANEL))
        tbuf = _parallel.scratch("monarch_x", n_in * height, dt)
        wbuf = _parallel.scratch("monarch_w", r * l * height, dt)
        nt = min(n_in // 8 or 1, self._GROUPS * threads)
        cols = -(-n_in // nt)
        nl, gl = self._groups(l, threads)
        na, ga = self._groups(k, threads)
        Zb = Z.reshape(N, k, p).transpose(1, 2, 0)  # z^T[a, j, N]
        phases = []
        for n0 in range(0, N, height):
            m = min(N, n0 + height) - n0
            T = tbuf[: n_in * m].reshape(n_in, m)  # x^T[d l + b, N]
            Tb = T.reshape(s, l, m).transpose(1, 0, 2)  # [b, d, N]
            Wst = wbuf[: r * l * m].reshape(r, l, m)  # w[c, b, N], t = c l + b
            U = Wst.reshape(k, q, m)  # u[a, i, N], t = a q + i

            def transpose(i, T=T, n0=n0, m=m):
                lo, hi = i * cols, min(n_in, (i + 1) * cols)
                if lo < hi:
                    _transpose.transpose_into(
                        T[None, lo:hi], X[None, n0 : n0 + m, lo:hi], load=load
                    )

            def first(i, Tb=Tb, Wst=Wst):
                b = slice(i * gl, (i + 1) * gl)
                np.matmul(L[b].transpose(0, 2, 1), Tb[b], out=Wst.transpose(1, 0, 2)[b])

            def second(i, U=U, n0=n0, m=m):
                a = slice(i * ga, (i + 1) * ga)
                np.matmul(R[a].transpose(0, 2, 1), U[a], out=Zb[a, :, n0 : n0 + m])

            phases += [(-(-n_in // cols), transpose), (nl, first), (na, second)]
        with _parallel.blas_single_threaded():
            _parallel.run_phases(phases, threads)

    def _mul_rows(self, X):
        xp = self._xp
        k, q, p, l, s, r = self.geometry
        N = X.shape[0]
        on_np = B.is_numpy(xp)
        if on_np and N <= self._FEW:
            _parallel.num_workers()  # validates STRUCTMAT_NUM_THREADS, as every product does
            U = np.matmul(X.reshape(N, s, l).transpose(2, 0, 1), self.L).transpose(1, 2, 0)
            Z = np.matmul(U.reshape(N, k, q).transpose(1, 0, 2), self.R)
            return Z.transpose(1, 0, 2).reshape(N, k * p)
        if not on_np:
            Xb = xp.permute_dims(xp.reshape(X, (N, s, l)), (2, 0, 1))  # (l, N, s)
            W = xp.matmul(Xb, self.L)  # (l, N, r): [b, N, c]
            U = xp.reshape(xp.permute_dims(W, (1, 2, 0)), (N, k, q))  # rows of u, t = c l + b
            Z = xp.matmul(xp.permute_dims(U, (1, 0, 2)), self.R)  # (k, N, p)
            return xp.reshape(xp.permute_dims(Z, (1, 0, 2)), (N, k * p))
        dt = X.dtype
        R = self.R.astype(dt, copy=False)
        L = self.L.astype(dt, copy=False)
        n_in = s * l
        Z = np.empty((N, k * p), dtype=dt)  # z[N, a p + j]
        Zb = Z.reshape(N, k, p).transpose(1, 2, 0)  # z^T[a, j, N], strided
        chunk, threads, next_start, phased = self._schedule(N, l * max(r, s), dt)
        # the compiled transpose is loaded (about a second, once per process) only for a
        # product large enough to use it for long, or once Numba is loaded anyway
        load = N * n_in >= self._LOAD_TRANSPOSE
        if phased:
            self._rows_phased(R, L, X, Z, threads, load)
            return Z
        pad = self._PAD // dt.itemsize
        Lt, Rt = L.transpose(0, 2, 1), R.transpose(0, 2, 1)

        def work():
            # X @ M = (M^T X^T)^T, one chunk of rows of X at a time: x[N, d l + b] has no unit
            # stride along d for fixed b, so the chunk is transposed once (in cache); in
            # x^T[d l + b, N] the rows that one block of L reads are whole rows, and both GEMMs
            # then have the operand layouts of M @ X's, the second one writing its blocks of
            # the output in place, transposed.  This took 0.94-1.12 times M @ X's time at
            # n = 1024 and 4096 (batch 256, float32, 2 threads, medians of 9), against
            # 1.06-1.36 for transposing each row into blocks instead.  The rows of both
            # buffers are padded: at power-of-two strides the rows of one GEMM operand would
            # share a few cache sets.
            n0 = next_start()
            ld = chunk + pad
            tbuf = _parallel.scratch("monarch_x", n_in * ld if n0 is not None else 0, dt)
            wbuf = _parallel.scratch("monarch_w", r * l * ld if n0 is not None else 0, dt)
            while n0 is not None:
                m = min(N, n0 + chunk) - n0
                T = tbuf[: n_in * ld].reshape(n_in, ld)[:, :m]  # x^T[d l + b, N]
                _transpose.transpose_into(T[None], X[None, n0 : n0 + m], load=load)
                Tb = T.reshape(s, l, m).transpose(1, 0, 2)  # [b, d, N]
                W2 = wbuf[: r * l * ld].reshape(r * l, ld)[:, :m]  # w[t = c l + b, N]
                np.matmul(Lt, Tb, out=W2.reshape(r, l, m).transpose(1, 0, 2))
                # u[a, i, N], t = a q + i; z^T[a, j, N] = sum_i R[a, i, j] u[a, i, N]
                np.matmul(Rt, W2.reshape(k, q, m), out=Zb[:, :, n0 : n0 + m])
                n0 = next_start()

        _parallel.run_parallel(work, threads)
        return Z

    def _conj(self):
        if not self._is_complex():
            return self
        return Monarch(self._xp.conj(self.L), self._xp.conj(self.R))

    def to_backend(self, xp):
        ns = B.resolve_xp(xp)
        return Monarch(B.move(self.L, ns), B.move(self.R, ns))

    def _scaled(self, alpha):
        """``alpha * M`` is the Monarch matrix with ``alpha * L`` and the same ``R``."""
        from .sum import scale_array

        return Monarch(scale_array(self.L, alpha), self.R)

    def _repr_extra(self) -> str:
        k, q, p, l, s, r = self.geometry
        return f", nblocks=({k}, {l}), R_blocks=({q}, {p}), L_blocks=({s}, {r})"
