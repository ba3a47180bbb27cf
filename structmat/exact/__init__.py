"""Exact matrices for verifying identities: cyclotomic fields and symbolic parameters.

* :class:`ExactRing` — scalars ``Q(zeta_N)[symbols]`` in canonical form (SymPy sparse
  polynomials reduced modulo the cyclotomic polynomial).
* Structured exact matrices — :class:`ExactPermutation`, :class:`ExactDiagonal`,
  :class:`ExactBlockDiagonal`, :class:`ExactMonarch` (the four steps of the Monarch multiply),
  :class:`ExactProduct`, :class:`ExactAdjoint`, :class:`ExactDense` — multiplied at their
  structured cost;
  :func:`exact_equal`, :func:`rank_at_most_one`.
* The vectorised monomial path for large sizes — :class:`MonomialMatrix`,
  :class:`MonomialMonarch`, :func:`monomial_equal`, :func:`slab_rank_one`,
  :func:`modular_slab_ranks`, :func:`sums_vanish`.
* Conversion — :func:`to_exact`, :func:`to_monomial`, symbolic Monarch and butterfly builders.
* Exact Monarch forms and their proof — :func:`exact_monarch` (``to_monarch(X, exact=True)``)
  and :func:`verify` (a :class:`VerifyResult`).

Examples
--------
>>> from structmat import DFT
>>> from structmat.exact import to_exact, ExactRing
>>> F = to_exact(DFT(4))
>>> F.ring.N, F.to_dense().to_list()[2]
(4, [1, -1, 1, -1])
"""

from ..monarch_form import MonarchWidth, RootSum, monarch_width
from .compare import common_ring, exact_equal, rank_at_most_one
from .convert import (
    butterfly_symbol_names,
    monarch_symbol_names,
    required_conductor,
    symbolic_butterfly_factors,
    symbolic_monarch,
    to_exact,
    to_monomial,
    trig_exact_scalings,
)
from .cyclo import cyclotomic_sqrt, find_prime, root_of_unity_mod, sqrt_conductor
from .elements import (
    dense_from_rows,
    lift_element,
    rootsum_conductor,
    rootsum_entries,
    stride_permutation,
)
from .forms import exact_monarch, kernel_symbol_names
from .matrices import (
    ExactAdjoint,
    ExactBlockDiagonal,
    ExactDense,
    ExactDiagonal,
    ExactMatrix,
    ExactMonarch,
    ExactPermutation,
    ExactProduct,
)
from .monomial import (
    MonomialMatrix,
    MonomialMonarch,
    canonical_monomials,
    modular_slab_ranks,
    monomial_equal,
    slab_rank_one,
    sums_vanish,
)
from .ring import ExactRing
from .verify import VerifyResult, verify

__all__ = [
    "ExactRing",
    "ExactMatrix",
    "ExactDense",
    "ExactPermutation",
    "ExactDiagonal",
    "ExactBlockDiagonal",
    "ExactMonarch",
    "ExactProduct",
    "ExactAdjoint",
    "verify",
    "VerifyResult",
    "exact_monarch",
    "monarch_width",
    "MonarchWidth",
    "RootSum",
    "kernel_symbol_names",
    "rootsum_conductor",
    "rootsum_entries",
    "lift_element",
    "exact_equal",
    "common_ring",
    "rank_at_most_one",
    "stride_permutation",
    "dense_from_rows",
    "MonomialMatrix",
    "MonomialMonarch",
    "canonical_monomials",
    "monomial_equal",
    "slab_rank_one",
    "modular_slab_ranks",
    "sums_vanish",
    "to_exact",
    "to_monomial",
    "required_conductor",
    "trig_exact_scalings",
    "monarch_symbol_names",
    "symbolic_monarch",
    "butterfly_symbol_names",
    "symbolic_butterfly_factors",
    "cyclotomic_sqrt",
    "sqrt_conductor",
    "find_prime",
    "root_of_unity_mod",
]
