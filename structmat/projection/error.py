"""Errors of a given Monarch matrix against a dense one, and the slab singular values
(the optimal error of every geometry), both scale-safe.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _backend as B
from ..base import StructuredMatrix
from ..geometry import monarch_geometry, slab_factors, slab_ranks, slab_view
from ..ops.monarch import Monarch
from ._arrays import (
    _abs2,
    _as_dense,
    _flatten,
    _host,
    _ldexp,
    _pow2_exponents,
    _ratio,
    _wide,
)


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
    Lslab, Rslab = slab_factors(xp, M.L, M.R, M.geometry)
    dt = _wide(xp, xp.result_type(A2.dtype, M.dtype))
    eA = int(_pow2_exponents(xp, A3)[0])
    eL = int(_pow2_exponents(xp, xp.reshape(M.L, (1, -1, 1)))[0])
    eR = int(_pow2_exponents(xp, xp.reshape(M.R, (1, -1, 1)))[0])
    if not bool(xp.any(A2 != 0)):
        eA = eL + eR
    # M * 2**-eA = (L 2**-eL)(R 2**-eR) 2**(eL + eR - eA): the last power goes on L, clamped
    # where M is beyond float range relative to A (its share of the error then dominates)
    fL = int(np.clip(eL + eR - eA, -1000, 1000)) - eL
    S5 = slab_view(xp, _ldexp(xp, xp.astype(A3, dt), np.array([-eA])), M.geometry)[0, ...]
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
    S5 = slab_view(xp, xp.reshape(A, (nb, n_out, n_in)), geometry)
    S = xp.reshape(S5, (nb * k * l, s, p))  # one copy into slab order
    # each slab scaled by a power of two into [0.5, 1) max-abs and the values scaled back:
    # exact at any input scale (results beyond the dtype's range saturate)
    e = _pow2_exponents(xp, S)
    assert e is not None  # the input was checked finite
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
                raise TypeError(
                    f"A is a {B.namespace_name(xp)} array but M has "
                    f"{B.namespace_name(M.xp)} parameters"
                )
            if tuple(M.shape) != shape2:
                raise ValueError(
                    f"M has shape {tuple(M.shape)}; expected {shape2} (the shape of A)"
                )
        if isinstance(M, Monarch):
            mats = [M]
        else:
            Md = M.to_dense(xp) if isinstance(M, StructuredMatrix) else M
            if B.is_array(Md) and B.namespace_name(B.get_namespace(Md)) != B.namespace_name(xp):
                raise TypeError(
                    f"A and M mix array namespaces: {B.namespace_name(xp)} and "
                    f"{B.namespace_name(B.get_namespace(Md))}"
                )
            if tuple(Md.shape) != tuple(A.shape):
                raise ValueError(f"M has shape {tuple(Md.shape)}; expected {tuple(A.shape)}")
            if not B.all_finite(xp, Md):
                raise ValueError("M contains NaN or Inf entries")
            # both scaled by the same power of two (that of A, or of M where A is zero): the
            # ratio is unchanged and no square under- or overflows
            Md3 = xp.reshape(Md, (nb,) + shape2)
            eA0, eM = _pow2_exponents(xp, A3), _pow2_exponents(xp, Md3)
            assert eA0 is not None and eM is not None  # both were checked finite
            eA = np.where(_host(xp.max(xp.abs(A3), axis=(-2, -1))) > 0, eA0, eM)
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
            raise TypeError(
                f"M must hold Monarch (or structured) matrices; got {type(Me).__name__}"
            )
        if tuple(Me.shape) != shape2:
            raise ValueError(f"M has shape {tuple(Me.shape)}; expected {shape2} (the shape of A)")
        if Me.xp is not None and B.namespace_name(Me.xp) != B.namespace_name(xp):
            raise TypeError(
                f"A is a {B.namespace_name(xp)} array but M has "
                f"{B.namespace_name(Me.xp)} parameters"
            )
        if isinstance(Me, Monarch):
            num, den = _residual_sq(xp, A3[e, ...], Me)
        else:
            num, den = _residual_sq(xp, A3[e, ...], Me.to_dense(xp))
        nums.append(num)
        dens.append(den)
    num = np.asarray(nums, dtype=np.float64).reshape(batch)
    den = np.asarray(dens, dtype=np.float64).reshape(batch)
    return _ratio(np, num, den)
