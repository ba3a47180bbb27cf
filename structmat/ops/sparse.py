"""Sparse matrices stored as (row, column, value) triples."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _backend as B
from ..base import StructuredMatrix, as_param_array, check_size

__all__ = ["Sparse"]


def _index_array(value: Any, name: str, bound: int, nnz: int | None) -> np.ndarray:
    """Validate an index vector (any namespace) and return it as host int64."""
    if hasattr(value, "_structmat_operator"):
        raise TypeError(f"{name} must be an integer array, not a structured matrix")
    try:
        arr = B.to_numpy(value) if B.is_array(value) else np.asarray(value)
    except Exception as exc:
        raise TypeError(f"{name} must be a 1-D integer array; got {type(value).__name__}") from exc
    if arr.dtype.kind == "f" and arr.size == 0:
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be a 1-D integer array; got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D integer array; got shape {arr.shape}")
    if nnz is not None and arr.shape[0] != nnz:
        raise ValueError(f"{name} must have one entry per value ({nnz}); got {arr.shape[0]}")
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= bound):
        raise ValueError(
            f"{name} entries must lie in [0, {bound}); got range "
            f"[{int(arr.min())}, {int(arr.max())}]"
        )
    return np.array(arr, dtype=np.int64, copy=True)


def _ell(major: np.ndarray, minor: np.ndarray, n_major: int):
    """Padded per-row layout of the non-zeros, as host index tables.

    Returns ``(idx, src)``, both ``(n_major, w)``: ``idx[i, t]`` is the minor index of the
    ``t``-th non-zero of row ``i`` and ``src[i, t]`` its position in the value vector; padding
    has ``idx = 0`` and ``src = nnz`` (a zero appended to the values).
    """
    nnz = major.size
    counts = np.bincount(major, minlength=n_major)
    w = max(int(counts.max()) if counts.size else 0, 1)
    order = np.argsort(major, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(nnz) - starts[major[order]]
    idx = np.zeros((n_major, w), dtype=np.int64)
    src = np.full((n_major, w), nnz, dtype=np.int64)
    idx[major[order], pos] = minor[order]
    src[major[order], pos] = order
    return idx, src


class Sparse(StructuredMatrix):
    """An ``n_out x n_in`` matrix with non-zeros ``values`` at ``(rows, cols)``.

    Positions are stored sorted row by row; a position may appear only once.  On NumPy
    ``A @ X`` is a :mod:`scipy.sparse` CSR product; on other namespaces it is a gather and a
    reduction over a padded per-row table (array-API operations only).

    Parameters
    ----------
    rows, cols : integer arrays, shape (nnz,)
        Positions of the non-zeros (any namespace; kept on the host as int64).
    values : array, shape (nnz,)
        The non-zero values; their namespace is the matrix's.  Copied at construction.
    shape : (int, int)
        ``(n_out, n_in)``.

    Notes
    -----
    ``nparams`` is ``2 nnz``: each non-zero stores its value and one position index
    (``row * n_in + col``), so a budget in parameters pays for the indices too.  The best
    sparse approximation with ``nnz`` non-zeros keeps the largest-magnitude entries
    (:func:`structmat.explore.best_sparse`).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.ops.sparse import Sparse
    >>> S = Sparse([0, 1], [2, 0], np.array([5.0, -1.0]), shape=(2, 3))
    >>> S.to_dense()
    array([[ 0.,  0.,  5.],
           [-1.,  0.,  0.]])
    >>> S.nnz, S.nparams
    (2, 4)
    >>> S @ np.ones(3)
    array([ 5., -1.])
    """

    _CACHES = {"_plan": lambda: None}

    def __init__(self, rows: Any, cols: Any, values: Any, shape: Any):
        if not isinstance(shape, (tuple, list)) or len(shape) != 2:
            raise TypeError(f"shape must be a pair (n_out, n_in); got {shape!r}")
        n_out = check_size(shape[0], "shape[0]")
        n_in = check_size(shape[1], "shape[1]")
        vals, xp = as_param_array(values, "values", ndim=1)
        nnz = int(vals.shape[0])
        r = _index_array(rows, "rows", n_out, nnz)
        c = _index_array(cols, "cols", n_in, nnz)
        flat = r * n_in + c
        order = np.argsort(flat, kind="stable")
        if nnz > 1 and np.any(np.diff(flat[order]) == 0):
            raise ValueError("rows and cols repeat a position; each non-zero must appear once")
        if not np.array_equal(order, np.arange(nnz)):
            vals = xp.take(vals, xp.asarray(order, device=B.device_of(vals)), axis=0)
            r, c = r[order], c[order]
        self.rows = r
        self.cols = c
        self.values = vals
        self._xp = xp
        self._dtype = vals.dtype
        self._shape = (n_out, n_in)
        self._plan = None

    @property
    def nnz(self) -> int:
        """Number of stored non-zeros."""
        return int(self.rows.shape[0])

    @property
    def nparams(self) -> int:
        return 2 * self.nnz

    def flops(self, batch: int = 1) -> int:
        return 2 * self.nnz * batch

    def _device(self):
        return B.device_of(self.values)

    # -- kernels -------------------------------------------------------------------------------
    def _get_plan(self):
        if self._plan is None:
            n_out, n_in = self._shape
            if B.is_numpy(self._xp):
                import scipy.sparse

                csr = scipy.sparse.csr_array(
                    (self.values, (self.rows, self.cols)), shape=self._shape
                )
                self._plan = ("scipy", csr, csr.T.tocsr())
            else:
                xp = self._xp
                dev = B.device_of(self.values)
                padded = self._padded_values()
                tables = []
                for major, minor, n_major in (
                    (self.rows, self.cols, n_out),
                    (self.cols, self.rows, n_in),
                ):
                    idx, src = _ell(major, minor, n_major)
                    vals = xp.take(padded, xp.asarray(np.reshape(src, (-1,)), device=dev), axis=0)
                    tables.append(
                        (
                            xp.asarray(np.reshape(idx, (-1,)), device=dev),
                            xp.reshape(vals, idx.shape),
                        )
                    )
                self._plan = ("ell", tables[0], tables[1])
        return self._plan

    def _ell_apply(self, table, X):
        """``out[i] = sum_t val[i, t] X[idx[i, t]]`` for ``X`` of shape ``(n, b)``."""
        xp = self._xp
        idx, val = table
        n_major, w = val.shape
        G = xp.reshape(xp.take(X, idx, axis=0), (n_major, w, X.shape[1]))
        return xp.sum(xp.astype(val, X.dtype)[:, :, None] * G, axis=1)

    def _mul_cols(self, X):
        kind, fwd, bwd = self._get_plan()
        if kind == "scipy":
            return np.asarray(fwd @ X, dtype=X.dtype)
        return self._ell_apply(fwd, X)

    def _mul_rows(self, X):
        kind, fwd, bwd = self._get_plan()
        if kind == "scipy":
            return np.asarray(bwd @ X.T, dtype=X.dtype).T
        return self._ell_apply(bwd, X.T).T

    # -- structure -----------------------------------------------------------------------------
    def _transpose(self):
        return Sparse(self.cols, self.rows, self.values, (self._shape[1], self._shape[0]))

    def _adjoint(self):
        return Sparse(
            self.cols, self.rows, self._xp.conj(self.values), (self._shape[1], self._shape[0])
        )

    def _conj(self):
        if not self._is_complex():
            return self
        return Sparse(self.rows, self.cols, self._xp.conj(self.values), self._shape)

    def _padded_values(self):
        """The values with one zero appended (the target of padding and empty positions)."""
        xp = self._xp
        zero = xp.zeros((1,), dtype=self.values.dtype, device=B.device_of(self.values))
        return xp.concat([self.values, zero], axis=0)

    def _dense(self, xp):
        n_out, n_in = self._shape
        src = np.full(n_out * n_in, self.nnz, dtype=np.int64)
        src[self.rows * n_in + self.cols] = np.arange(self.nnz)
        ns = self._xp
        dev = B.device_of(self.values)
        flat = ns.take(self._padded_values(), ns.asarray(src, device=dev), axis=0)
        return ns.reshape(flat, (n_out, n_in))

    def to_backend(self, xp):
        ns = B.resolve_xp(xp)
        return Sparse(self.rows, self.cols, B.move(self.values, ns), self._shape)

    def _repr_extra(self) -> str:
        return f", nnz={self.nnz}"
