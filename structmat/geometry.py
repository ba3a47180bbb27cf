"""Monarch geometry: the one place that parses ``nblocks``, chooses block shapes, and maps
slabs to factor entries.

A Monarch matrix ``M = P_out · diag(L) · P_mid · diag(R)`` (:class:`structmat.Monarch`) of size
``n_out x n_in`` has the geometry ``(k, q, p, l, s, r)``: ``R`` has ``k`` blocks of ``q x p``,
``L`` has ``l`` blocks of ``s x r``, ``n_in = k p``, ``n_out = l s`` and the middle dimension
``k q = l r``.

**nblocks.**  Every function of structmat that takes ``nblocks`` reads it here
(:func:`parse_nblocks`), with one meaning: the numbers of diagonal blocks of the two factors,
``(k, l)`` — ``R`` (applied first) has ``k`` blocks, ``L`` has ``l``.  An int ``b`` gives ``R``
its ``b`` blocks, and ``L`` gets ``b`` blocks too where the geometry is free
(:func:`monarch_geometry`: :meth:`~structmat.Monarch.random`,
:func:`~structmat.project_to_monarch`, :func:`~structmat.fit_monarch_gd`), or the count the
structure fixes where it is not (:func:`split_nblocks`: the Monarch form of a transform of
size ``n = k p`` needs ``l = p``; the 𝓜𝓜* factorisation needs ``k l = n``).  ``None`` is each
function's default.

**Slabs.**  In the entry view
``M[d l + b, a p + j] = sum_{i : (a q + i) mod l = b} L[b, d, (a q + i) div l] R[a, i, j]``
each pair ``(a, b)`` owns the ``s x p`` slab ``A[{d l + b}, {a p + j}]`` (:func:`slab_view`);
its rank is at most ``ranks[a, b]`` (:func:`slab_ranks`), and :func:`slab_slots`,
:func:`slab_factors` and :func:`factors_from_slabs` move between factors and slabs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import check_size, warn

__all__ = [
    "divisors",
    "nearest_divisor",
    "parse_nblocks",
    "split_nblocks",
    "monarch_geometry",
    "geometry_degeneracy",
    "warn_if_degenerate",
    "slab_ranks",
    "slab_view",
    "slab_columns",
    "l_middle_index",
    "slab_slots",
    "slab_factors",
    "factors_from_slabs",
]


def divisors(n: int) -> list[int]:
    """The divisors of ``n``, ascending.

    Examples
    --------
    >>> from structmat.geometry import divisors
    >>> divisors(12)
    [1, 2, 3, 4, 6, 12]
    """
    n = check_size(n, "n")
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def nearest_divisor(n: int) -> int:
    """The divisor of ``n`` nearest to ``sqrt(n)`` (the smaller one on a tie).

    Examples
    --------
    >>> from structmat.geometry import nearest_divisor
    >>> nearest_divisor(12), nearest_divisor(64), nearest_divisor(997)
    (3, 8, 1)
    """
    root = math.sqrt(n)
    return min(divisors(n), key=lambda d: (abs(d - root), d))


def parse_nblocks(nblocks: Any) -> tuple[int, int | None] | None:
    """Read an ``nblocks`` argument: ``None``, ``(k, None)`` for an int ``k``, or ``(k, l)``.

    The one parser of ``nblocks`` in structmat (see the module docstring for its meaning).

    Raises
    ------
    ValueError
        For a sequence that is not a pair, or counts below 1.
    TypeError
        For counts that are not integers (``2.0`` included).

    Examples
    --------
    >>> from structmat.geometry import parse_nblocks
    >>> parse_nblocks(None), parse_nblocks(4), parse_nblocks((4, 16))
    (None, (4, None), (4, 16))
    """
    if nblocks is None:
        return None
    if isinstance(nblocks, (tuple, list)):
        if len(nblocks) != 2:
            raise ValueError(f"nblocks must be an int or a pair (k, l); got {nblocks!r}")
        return check_size(nblocks[0], "nblocks[0]"), check_size(nblocks[1], "nblocks[1]")
    return check_size(nblocks, "nblocks"), None


def split_nblocks(
    n: int, nblocks: Any, what: str, valid: list[int] | None = None, default: int | None = None
) -> tuple[int, int]:
    """``(k, l)`` with ``k l = n`` for a structure that fixes ``l`` once ``k`` is chosen.

    An int ``k`` gives ``(k, n // k)``; a pair must multiply to ``n``; ``None`` gives
    ``default`` (or the divisor of ``n`` nearest ``sqrt(n)``).  ``valid`` lists the admissible
    ``k`` (default: every divisor).  ``what`` names the object in error messages.

    Examples
    --------
    >>> from structmat.geometry import split_nblocks
    >>> split_nblocks(64, 4, "DFT"), split_nblocks(64, None, "DFT"), split_nblocks(12, (3, 4), "DFT")
    ((4, 16), (8, 8), (3, 4))
    """
    valid = divisors(n) if valid is None else list(valid)
    kl = parse_nblocks(nblocks)
    if kl is None:
        k = nearest_divisor(n) if default is None else int(default)
        if k not in valid:
            raise ValueError(
                f"{what} of size {n} has no admissible split n = k * (n // k); valid k: {valid}"
            )
        return k, n // k
    k, l = kl
    if l is not None and k * l != n:
        pairs = ", ".join(f"({d}, {n // d})" for d in valid)
        hint = f", so expected ({k}, {n // k})" if k in valid else ""
        raise ValueError(
            f"nblocks=({k}, {l}) does not fit {what} of size {n}: it needs "
            f"k * l == {n}{hint}; valid nblocks: {pairs}"
        )
    if k not in valid:
        raise ValueError(
            f"nblocks={k} is not a valid split of {what} of size {n}; valid k: {valid}"
        )
    return k, n // k


def monarch_geometry(
    n_in: int, n_out: int | None = None, nblocks: Any = None, warn: bool = True
) -> tuple[int, ...]:
    """Block geometry ``(k, q, p, l, s, r)`` of a Monarch matrix.

    ``R`` has ``k`` blocks of ``q x p`` and ``L`` has ``l`` blocks of ``s x r``, with
    ``n_in = k p``, ``n_out = l s`` and middle dimension ``k q = l r``.

    Parameters
    ----------
    n_in : int
        Number of columns.
    n_out : int, optional
        Number of rows (default ``n_in``).
    nblocks : None, int or (int, int)
        ``(k, l)``: ``R`` gets ``k`` blocks and ``L`` gets ``l`` blocks, the middle dimension is
        ``min(n_in, n_out)``; an int ``b`` means ``(b, b)`` (the geometry is free: see the
        module docstring); ``None`` gives the paper's Monarch
        (every slab rank 1: ``q = l``, ``r = k``, with ``k`` and ``l`` the divisors of ``n_in``
        and ``n_out`` nearest their square roots).
    warn : bool, default True
        Issue a :class:`~structmat.StructmatWarning` when the geometry is degenerate (see
        :func:`geometry_degeneracy`): a prime size makes the default geometry rank 1, and
        too many blocks leave most slabs structurally zero.

    Examples
    --------
    >>> from structmat.geometry import monarch_geometry
    >>> monarch_geometry(16)
    (4, 4, 4, 4, 4, 4)
    >>> monarch_geometry(1536, 384, nblocks=4)
    (4, 96, 384, 4, 96, 96)
    """
    n_in = check_size(n_in, "n_in")
    n_out = n_in if n_out is None else check_size(n_out, "n_out")
    if nblocks is None:
        k = nearest_divisor(n_in)
        l = nearest_divisor(n_out)
        geometry = (k, l, n_in // k, l, n_out // l, k)
        if warn:
            warn_if_degenerate(geometry)
        return geometry
    kl = parse_nblocks(nblocks)
    assert kl is not None  # None was handled above
    k, l_ = kl
    l = k if l_ is None else l_
    mid = min(n_in, n_out)
    bad = []
    if n_in % k or mid % k:
        bad.append(f"k={k} must divide n_in={n_in} and the middle dimension {mid}")
    if n_out % l or mid % l:
        bad.append(f"l={l} must divide n_out={n_out} and the middle dimension {mid}")
    if bad:
        ks = [d for d in divisors(n_in) if mid % d == 0]
        ls = [d for d in divisors(n_out) if mid % d == 0]
        raise ValueError("invalid nblocks: " + "; ".join(bad) + f". Valid k: {ks}; valid l: {ls}")
    geometry = (k, mid // k, n_in // k, l, n_out // l, mid // l)
    if warn:
        warn_if_degenerate(geometry)
    return geometry


def _good_size(n: int) -> int:
    """The smallest size ``>= n`` whose default geometry is not degenerate."""
    m = max(n, 1)
    while geometry_degeneracy(_default_geometry(m, m)) is not None:
        m += 1
    return m


def _default_geometry(n_in: int, n_out: int) -> tuple[int, ...]:
    k, l = nearest_divisor(n_in), nearest_divisor(n_out)
    return (k, l, n_in // k, l, n_out // l, k)


def _nblocks_suggestions(n_in: int, n_out: int, limit: int = 3) -> list[tuple[int, int]]:
    """Valid, non-degenerate ``nblocks=(k, l)`` for an ``n_out x n_in`` Monarch, fewest
    parameters first (at most ``limit``)."""
    mid = min(n_in, n_out)
    ks = [d for d in divisors(n_in) if mid % d == 0]
    ls = [d for d in divisors(n_out) if mid % d == 0]
    found = []
    for k in ks:
        for l in ls:
            geo = (k, mid // k, n_in // k, l, n_out // l, mid // l)
            if geometry_degeneracy(geo) is None:
                nparams = mid * (n_in // k) + n_out * (mid // l)
                found.append((nparams, (k, l)))
    found.sort()
    return [kl for _, kl in found[:limit]]


def geometry_degeneracy(geometry: tuple[int, ...]) -> str | None:
    """Why a Monarch geometry ``(k, q, p, l, s, r)`` is degenerate, or ``None`` if it is not.

    Two cases are reported:

    * **low rank**: every Monarch matrix of the geometry has rank at most the middle
      dimension ``k q``; below a quarter of ``min(n_in, n_out)`` the class is a thin low-rank
      family (a prime ``n`` with the default blocks gives ``k = l = 1``: rank 1);
    * **empty slabs**: an ``R`` block reaches only ``min(q, l)`` of the ``l`` blocks of ``L``,
      so when ``q < l / 2`` more than half of the ``k l`` slabs are structurally zero.

    Sizes below 4 are never reported (every geometry of them is small anyway).

    Examples
    --------
    >>> from structmat.geometry import geometry_degeneracy, monarch_geometry
    >>> geometry_degeneracy(monarch_geometry(64)) is None
    True
    >>> print(geometry_degeneracy((1, 1, 997, 1, 997, 1)))
    rank at most 1 (middle dimension k*q = 1*1) for a 997 x 997 matrix
    """
    k, q, p, l, s, r = (int(v) for v in geometry)
    n_in, n_out = k * p, l * s
    mid = k * q
    small = min(n_in, n_out)
    if small < 4:
        return None
    if 4 * mid < small:
        return f"rank at most {mid} (middle dimension k*q = {k}*{q}) for a {n_out} x {n_in} matrix"
    if 2 * q < l:
        empty = k * l - k * min(q, l)
        return (
            f"{empty} of its {k * l} slabs are structurally zero (each of the k = {k} "
            f"blocks of R reaches only q = {q} of the l = {l} blocks of L)"
        )
    return None


def warn_if_degenerate(geometry: tuple[int, ...]) -> bool:
    """Warn (:class:`~structmat.StructmatWarning`) if ``geometry`` is degenerate.

    The message names the geometry, says why (see :func:`geometry_degeneracy`) and suggests
    ``nblocks`` choices that are not degenerate, or sizes to pad to.  Returns whether it
    warned.  Called by :func:`monarch_geometry` (hence by :meth:`Monarch.random`, the
    projection and the fitting routines).

    Examples
    --------
    >>> import warnings
    >>> from structmat.geometry import warn_if_degenerate
    >>> warn_if_degenerate((4, 4, 4, 4, 4, 4))
    False
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_if_degenerate((1, 1, 997, 1, 997, 1))
    True
    >>> "nblocks" in str(caught[0].message)
    True
    """
    why = geometry_degeneracy(geometry)
    if why is None:
        return False
    k, q, p, l, s, r = (int(v) for v in geometry)
    n_in, n_out = k * p, l * s
    hints = []
    good = _nblocks_suggestions(n_in, n_out)
    if good:
        mid = min(n_in, n_out)
        opts = ", ".join(
            f"{kl} ({mid * (n_in // kl[0]) + n_out * (mid // kl[1])} parameters)" for kl in good
        )
        hints.append(f"nblocks={opts}")
    pad_in, pad_out = _good_size(n_in), _good_size(n_out)
    if why.startswith("rank") and (pad_in, pad_out) != (n_in, n_out):
        hints.append(
            f"zero-padding to {pad_out} x {pad_in} (default blocks "
            f"{_default_geometry(pad_in, pad_out)[0]} and "
            f"{_default_geometry(pad_in, pad_out)[3]})"
        )
    warn(
        f"degenerate Monarch geometry (k, q, p, l, s, r) = {(k, q, p, l, s, r)}: {why} "
        f"(a dense {n_out} x {n_in} matrix has {n_out * n_in} entries). Consider "
        + " or ".join(hints)
        + "."
    )
    return True


def slab_ranks(k: int, q: int, l: int) -> np.ndarray:
    """``ranks[a, b]`` = number of middle indices connecting R-block ``a`` to L-block ``b``.

    Middle index ``t = a q + i`` (``0 <= i < q``) reaches L-block ``b = t mod l``; the slab
    ``(a, b)`` of a Monarch matrix has rank at most ``ranks[a, b]``.

    Examples
    --------
    >>> from structmat.geometry import slab_ranks
    >>> slab_ranks(2, 4, 2).tolist()          # every slab of rank 2
    [[2, 2], [2, 2]]
    """
    t = np.arange(k * q).reshape(k, q) % l
    ranks = np.zeros((k, l), dtype=np.int64)
    for a in range(k):
        ranks[a] = np.bincount(t[a], minlength=l)
    return ranks


def slab_view(xp, A3, geometry):
    """The ``(nb, k, l, s, p)`` view of a stack ``A3 (nb, n_out, n_in)`` as its slabs:
    ``S[e, a, b][d, j] = A3[e, d l + b, a p + j]`` (no copy where the namespace allows).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.geometry import slab_view
    >>> A = np.arange(16.0).reshape(1, 4, 4)
    >>> slab_view(np, A, (2, 2, 2, 2, 2, 2))[0, 1, 0].tolist()     # rows 0, 2; columns 2, 3
    [[2.0, 3.0], [10.0, 11.0]]
    """
    k, q, p, l, s, r = geometry
    nb = A3.shape[0]
    return xp.permute_dims(xp.reshape(A3, (nb, s, l, k, p)), (0, 3, 2, 1, 4))


def slab_columns(geometry) -> tuple[np.ndarray, np.ndarray]:
    """``(z, m)`` over the middle indices ``t``: ``t`` is column ``m = i div l`` of slab
    ``z = a l + b`` (``a = t div q``, ``i = t mod q``, ``b = t mod l``).

    Examples
    --------
    >>> from structmat.geometry import slab_columns
    >>> [v.tolist() for v in slab_columns((2, 4, 2, 2, 2, 4))]
    [[0, 1, 0, 1, 2, 3, 2, 3], [0, 0, 1, 1, 0, 0, 1, 1]]
    """
    k, q, p, l, s, r = geometry
    t = np.arange(k * q)
    a, i = t // q, t % q
    return a * l + t % l, i // l


def l_middle_index(geometry) -> np.ndarray:
    """The middle index ``t = c l + b`` of each column ``L[b, :, c]``, in the order ``(b, c)``.

    Examples
    --------
    >>> from structmat.geometry import l_middle_index
    >>> l_middle_index((2, 2, 2, 2, 2, 2)).tolist()
    [0, 2, 1, 3]
    """
    k, q, p, l, s, r = geometry
    return (np.arange(r)[None, :] * l + np.arange(l)[:, None]).reshape(-1)


def slab_slots(geometry) -> tuple[int, np.ndarray]:
    """Where each middle index lives among the slabs.

    Returns ``(rmax, slot)``: middle index ``t`` is at position ``slot[t] = z * rmax + m`` of a
    ``(k, l, rmax)`` grid (``z``, ``m`` of :func:`slab_columns`), ``rmax`` the largest slab
    rank.

    Examples
    --------
    >>> from structmat.geometry import slab_slots
    >>> rmax, slot = slab_slots((2, 2, 2, 2, 2, 2))
    >>> rmax, slot.tolist()
    (1, [0, 1, 2, 3])
    """
    k, q, p, l, s, r = geometry
    rmax = int(slab_ranks(k, q, l).max())
    z, m = slab_columns(geometry)
    return rmax, z * rmax + m


def slab_factors(xp, L, R, geometry):
    """``(Lslab (k, l, s, rmax), Rslab (k, l, rmax, p))`` with ``slab(a, b) = Lslab @ Rslab``
    for the Monarch factors ``L (l, s, r)``, ``R (k, q, p)``.

    Unused columns / rows (slabs of rank below ``rmax``) are zero.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Monarch
    >>> from structmat.geometry import slab_factors, slab_view
    >>> M = Monarch.random(16, seed=0)
    >>> Ls, Rs = slab_factors(np, M.L, M.R, M.geometry)
    >>> S = slab_view(np, M.to_dense()[None], M.geometry)[0]
    >>> bool(np.allclose(Ls @ Rs, S))
    True
    """
    k, q, p, l, s, r = geometry
    rmax, slot = slab_slots(geometry)
    src_t = np.full(k * l * rmax, k * q, dtype=np.int64)  # default: the zero row
    src_t[slot] = np.arange(k * q)
    # L column of t: L[b, :, c] (t = c l + b); R row of t: R[a, i, :] (t = a q + i)
    Lt = xp.reshape(xp.permute_dims(L, (2, 0, 1)), (r * l, s))
    Rt = xp.reshape(R, (k * q, p))
    Lt = xp.concat([Lt, xp.zeros((1, s), dtype=L.dtype)], axis=0)
    Rt = xp.concat([Rt, xp.zeros((1, p), dtype=R.dtype)], axis=0)
    idx = xp.asarray(src_t)
    Lslab = xp.permute_dims(xp.reshape(xp.take(Lt, idx, axis=0), (k, l, rmax, s)), (0, 1, 3, 2))
    Rslab = xp.reshape(xp.take(Rt, idx, axis=0), (k, l, rmax, p))
    return Lslab, Rslab


def factors_from_slabs(xp, Lslab, Rslab, geometry):
    """The Monarch factors ``(L, R)`` of slab factors (inverse of :func:`slab_factors`;
    padding entries are ignored).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Monarch
    >>> from structmat.geometry import factors_from_slabs, slab_factors
    >>> M = Monarch.random(12, 8, nblocks=(4, 2), seed=1)
    >>> L, R = factors_from_slabs(np, *slab_factors(np, M.L, M.R, M.geometry), M.geometry)
    >>> bool(np.array_equal(L, M.L) and np.array_equal(R, M.R))
    True
    """
    k, q, p, l, s, r = geometry
    rmax, slot = slab_slots(geometry)
    poolL = xp.reshape(xp.matrix_transpose(Lslab), (k * l * rmax, s))
    poolR = xp.reshape(Rslab, (k * l * rmax, p))
    L = xp.take(poolL, xp.asarray(slot[l_middle_index(geometry)]), axis=0)
    L = xp.permute_dims(xp.reshape(L, (l, r, s)), (0, 2, 1))
    R = xp.reshape(xp.take(poolR, xp.asarray(slot), axis=0), (k, q, p))
    return L, R
