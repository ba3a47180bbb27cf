"""A compiled batched transpose of real arrays (Numba), for the local transposes of products
such as ``X @ M`` (:meth:`structmat.Monarch._mul_rows`).

NumPy copies a transposed view element by element; here each 8 x 8 tile is loaded as eight
vectors, transposed with three rounds of vector shuffles and stored as eight vectors, which is
3-4 times faster for float32 tiles in cache.  Written by hand because neither NumPy nor SciPy
offers a vectorised transpose.  :func:`transpose_into` falls back to :func:`numpy.copyto` when
Numba is missing, for other dtypes, for rows without unit stride, and for small products in a
process that has not loaded Numba (its first load takes about a second).
"""

from __future__ import annotations

import sys
import threading

import numpy as np

_lock = threading.Lock()
_loaded: dict = {}

#: dtypes the compiled transpose serves
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _build():
    from llvmlite import ir
    from numba import njit, types
    from numba.extending import intrinsic

    def _shuffle(builder, a, b, mask):
        return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(ir.IntType(32), 8), mask))

    @intrinsic
    def _tile8(typingctx, src, sstride, dst, dstride, witness):
        """``dst[j, i] = src[i, j]`` for ``i, j < 8``: integer addresses of the two tiles' first
        entries and their row strides in bytes; ``witness`` (unused) carries the entry type."""
        if not all(isinstance(x, types.Integer) for x in (src, sstride, dst, dstride)):
            return None
        if not isinstance(witness, types.Float):
            return None

        def codegen(context, builder, sig, args):
            fty = context.get_value_type(sig.args[4])
            al = context.get_abi_sizeof(fty)
            vty = ir.VectorType(fty, 8)
            s0, ss, d0, ds = args[:4]
            rows = []
            for i in range(8):
                a = builder.add(s0, builder.mul(ss, ir.Constant(ss.type, i)))
                rows.append(builder.load(builder.inttoptr(a, vty.as_pointer()), align=al))
            # round 1: pairs of rows interleaved by entries, round 2: by pairs of entries,
            # round 3: by halves; row i, entry j ends in vector j, lane i
            lo1, hi1 = [0, 8, 1, 9, 4, 12, 5, 13], [2, 10, 3, 11, 6, 14, 7, 15]
            t = []
            for q in range(4):
                t.append(_shuffle(builder, rows[2 * q], rows[2 * q + 1], lo1))
                t.append(_shuffle(builder, rows[2 * q], rows[2 * q + 1], hi1))
            lo2, hi2 = [0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15]
            u = []
            for a_, b_ in ((0, 2), (1, 3), (4, 6), (5, 7)):
                u.append(_shuffle(builder, t[a_], t[b_], lo2))
                u.append(_shuffle(builder, t[a_], t[b_], hi2))
            lo3, hi3 = [0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15]
            out = [None] * 8
            for c in range(4):
                out[c] = _shuffle(builder, u[c], u[c + 4], lo3)
                out[c + 4] = _shuffle(builder, u[c], u[c + 4], hi3)
            for j in range(8):
                a = builder.add(d0, builder.mul(ds, ir.Constant(ds.type, j)))
                builder.store(out[j], builder.inttoptr(a, vty.as_pointer()), align=al)
            return context.get_dummy_value()

        return types.void(src, sstride, dst, dstride, witness), codegen

    @njit(nogil=True, cache=True)
    def transpose_tiles(src, dst):
        """``dst[N, b, d] = src[N, d, b]`` for real ``src`` (m, s, l) and ``dst`` (m, l, s),
        both with unit stride along their last axis."""
        m, s, l = src.shape
        ss0, ss1, _ = src.strides
        ds0, ds1, _ = dst.strides
        sb = src.ctypes.data
        db = dst.ctypes.data
        isz = src.itemsize
        w = src.dtype.type(0)
        s8 = s - s % 8
        l8 = l - l % 8
        for N in range(m):
            for d0 in range(0, s8, 8):
                for b0 in range(0, l8, 8):
                    _tile8(
                        sb + N * ss0 + d0 * ss1 + b0 * isz,
                        ss1,
                        db + N * ds0 + b0 * ds1 + d0 * isz,
                        ds1,
                        w,
                    )
            for d in range(s8):  # the columns past the last whole tile
                for b in range(l8, l):
                    dst[N, b, d] = src[N, d, b]
            for d in range(s8, s):  # the rows past the last whole tile
                for b in range(l):
                    dst[N, b, d] = src[N, d, b]

    return transpose_tiles


def kernel(load: bool = True):
    """The compiled transpose, or ``None`` when Numba cannot be imported here.

    With ``load=False`` it is returned only when it costs nothing more: already built, or
    Numba already imported by this process (by the projection, say).  Building it in a fresh
    process imports Numba and loads the compiled code from Numba's disk cache, about a second.
    """
    if not load and "fn" not in _loaded and "numba" not in sys.modules:
        return None
    with _lock:
        if "fn" not in _loaded:
            try:
                _loaded["fn"] = _build()
            except Exception:  # pragma: no cover - depends on the installation
                _loaded["fn"] = None
        return _loaded["fn"]


def transpose_into(dst: np.ndarray, src: np.ndarray, *, load: bool = True) -> None:
    """``dst[N, b, d] = src[N, d, b]`` for NumPy arrays ``src`` (m, s, l) and ``dst`` (m, l, s).

    ``dst`` must not overlap ``src``.  The compiled tile transpose serves float32 and float64
    with unit stride along both last axes; anything else goes through :func:`numpy.copyto`,
    and so does everything while the compiled transpose is not built yet and ``load`` is
    false (see :func:`kernel`).  Both give the same array: a transpose moves entries
    unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.ops._transpose import transpose_into
    >>> src = np.arange(2 * 9 * 10, dtype=np.float32).reshape(2, 9, 10)
    >>> dst = np.empty((2, 10, 9), dtype=np.float32)
    >>> transpose_into(dst, src)
    >>> bool(np.array_equal(dst, src.transpose(0, 2, 1)))
    True
    """
    if src.ndim != 3 or dst.shape != (src.shape[0], src.shape[2], src.shape[1]):
        raise ValueError(
            f"dst must have shape (m, l, s) for src of shape (m, s, l); got src {src.shape}, "
            f"dst {dst.shape}"
        )
    fast = (
        src.dtype in DTYPES
        and dst.dtype == src.dtype
        and src.strides[2] == src.itemsize
        and dst.strides[2] == dst.itemsize
        and min(src.shape[1], src.shape[2]) >= 8
        and dst.flags.writeable
    )
    fn = kernel(load) if fast else None
    if fn is None:
        np.copyto(dst, src.transpose(0, 2, 1))
        return
    fn(src, dst)
