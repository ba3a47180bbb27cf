"""The structure explorer: which structure approximates a matrix best at a parameter budget.

* :mod:`~structmat.explore.families`: every family's optimal (or monotone) algorithm and
  exact parameter count;
* :func:`approximate` and :func:`frontier` (with :func:`plot_frontier`): the search over
  families, configurations and budget splits;
* :func:`compress`: the same over every matrix of a ``.safetensors`` or ``.npz`` checkpoint,
  serially or on Dask distributed (``structmat compress`` on the command line).
"""

from .approximate import (
    FAMILIES,
    SINGLE_FAMILIES,
    SUM_FAMILIES,
    Approximation,
    Candidate,
    Frontier,
    approximate,
    frontier,
    parse_budget,
)
from .compress import CompressResult, compress, list_matrices, read_matrix
from .families import (
    AlternatingInfo,
    alternating_projections,
    as_matrix,
    best_block_lowrank,
    best_blockdiag,
    best_kronecker,
    best_lowrank,
    best_monarch,
    best_sparse,
    divisors,
    monarch_nparams,
    relative_error,
)
from .plot import plot_frontier

__all__ = [
    "AlternatingInfo",
    "Approximation",
    "Candidate",
    "CompressResult",
    "FAMILIES",
    "Frontier",
    "SINGLE_FAMILIES",
    "SUM_FAMILIES",
    "alternating_projections",
    "approximate",
    "as_matrix",
    "best_block_lowrank",
    "best_blockdiag",
    "best_kronecker",
    "best_lowrank",
    "best_monarch",
    "best_sparse",
    "compress",
    "divisors",
    "frontier",
    "list_matrices",
    "monarch_nparams",
    "parse_budget",
    "plot_frontier",
    "read_matrix",
    "relative_error",
]
