"""The report of a projection: :class:`ProjectionInfo`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _backend as B


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
    certificates: np.ndarray | None = None
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
