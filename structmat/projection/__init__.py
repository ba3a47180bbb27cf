"""Optimal Monarch projection, exact factor recovery and the 𝓜𝓜* factorisation.

The projection rests on the slab identity of :class:`~structmat.Monarch`: in the entry view

``M[d l + b, a p + j] = sum_{i : (a q + i) mod l = b} L[b, d, (a q + i) div l] R[a, i, j]``

each pair ``(a, b)`` owns the disjoint ``s x p`` slab ``A[{d l + b}, {a p + j}]`` and the slab of a
Monarch matrix has rank at most ``ranks[a, b]`` (its number of connecting middle indices
``i``, :func:`structmat.ops.monarch.slab_ranks`).  Distinct slabs use disjoint parameters, so the
Frobenius-optimal Monarch approximation is one truncated SVD per slab (Eckart–Young), each of
the slab's own rank (Dao et al., ICML 2022, Theorem 1, for the square case).

Slabs are solved in batches (all slabs of one rank together) on the Gram matrix ``G`` of the
smaller side, by the cheapest method whose answer can be proved optimal:

* rank 0 and full-rank slabs need no decomposition;
* rank-1 slabs of order >= 32 (float32) or >= 48 (float64): a Lanczos run on the Gram matrix
  from a random start (seeded), whose small tridiagonal problems are solved for all slabs at
  once.  On NumPy this runs cache-blocked over a few threads (:mod:`.kernel`);
* every other slab: a batched ``eigh`` of its Gram matrix.

**The certificate.**  A slab's basis ``V`` is accepted only with a proven bound of the energy
it misses, ``sum_i lambda_i(G) - trace(V^H G V)``: the quadratic residual bound
``rho ||G V - V Theta||_F^2 / (theta_min - mu)`` (Kato–Temple for one vector), valid once
``mu`` is *proved* to bound the first eigenvalue the basis does not keep.  Three proofs of
``mu`` are used: the trace (``lambda_{rho+1} <= trace G - sum theta``, for slabs close to their
rank), an inertia count (a floating-point Cholesky factorisation of
``mu I - G + theta v v^H``, shifted by its rounding error bound, succeeds only if no second
eigenvalue lies above ``mu``), or the enclosure of a full symmetric eigensolver.  Every
rounding error of the computed quantities is bounded and added (:mod:`.certificate`); a residual
that underflows cannot pass, because slabs whose energy leaves a safe range are first scaled
by a power of two (exact).  A slab passes when its bound is at most ``8 eps sqrt(m)`` times its
discarded energy plus ``(8 m eps)^2 ||S||_F^2``; Lanczos slabs that fail are restarted once
from their Ritz vector, and whatever still fails is solved by a full SVD.
:class:`ProjectionInfo` reports each slab's certificate and bound.
"""

from .driver import project_to_monarch
from .error import projection_error, slab_singular_values
from .info import ProjectionInfo
from .mmstar import factor_mm_star
from .options import SolverOptions, current_options, solver_options
from .recovery import monarch_factors

__all__ = [
    "project_to_monarch",
    "projection_error",
    "monarch_factors",
    "factor_mm_star",
    "ProjectionInfo",
    "slab_singular_values",
    "SolverOptions",
    "solver_options",
    "current_options",
]
