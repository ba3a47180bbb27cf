"""Exact recovery of the factors of a matrix that is Monarch (:func:`monarch_factors`)."""

from __future__ import annotations

from typing import Any

from .. import _backend as B
from ..geometry import monarch_geometry
from ._arrays import _as_dense, _rounding_tol
from .driver import project_to_monarch
from .error import projection_error


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
