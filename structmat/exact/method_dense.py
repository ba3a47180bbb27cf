"""The dense method of :func:`~structmat.exact.verify`: both sides as exact matrices over the field,
the target built column by column from its definition.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from ..ops import DFT, Butterfly, Convolution, Hadamard
from .matrices import ExactDense, ExactMatrix, ExactProduct
from .method_monomial import _squarefree, _target_monomial
from .ring import ExactRing


def _common(form: ExactMatrix, X: Any):
    """``(ring, lhs, rhs)``: both sides over one ring (lcm of conductors, all symbols)."""
    from .compare import common_ring
    from .convert import required_conductor

    other = X.ring if isinstance(X, ExactMatrix) else ExactRing(required_conductor(X))
    ring = common_ring(form.ring, other)
    lhs = form.lifted(ring)
    rhs = X.lifted(ring) if isinstance(X, ExactMatrix) else _target(X, ring)
    return ring, lhs, rhs


class _DefinitionColumns(ExactMatrix):
    """A DFT or Hadamard matrix from its definition, producing exact columns on demand (both
    are symmetric: columns ``start:stop`` are the transposed rows of the monomial definition)."""

    def __init__(self, X: Any, ring: ExactRing):
        from .cyclo import cyclotomic_sqrt

        T, rad = _target_monomial(X)
        r, sqf = _squarefree(rad)
        self.X, self.T, self.ring, self.shape = X, T, ring, tuple(X.shape)
        s = ring.from_int(T.scale * r)
        self.s = ring.reduce(s * cyclotomic_sqrt(sqf, ring)) if sqf != 1 else s

    def columns(self, start, stop):
        from sympy.polys.matrices import DomainMatrix

        e, c = self.T.rows(start, stop)
        red, s = self.ring.reduce, self.s
        cols = [
            [red(self._root(ei, ci) * s) if ci else self.ring.zero for ei, ci in zip(er, cr)]
            for er, cr in zip(e.tolist(), c.tolist())
        ]
        return DomainMatrix(
            [list(r) for r in zip(*cols)], (self.shape[0], stop - start), self.ring.domain
        )

    def _root(self, e: int, c: int):
        """``c · ζ_M^e`` (``M`` the definition's conductor) as an element of the ring."""
        frac = Fraction(int(e), self.T.N) % 1
        order = frac.denominator
        if self.ring.N % order == 0:
            return self.ring.zeta(frac.numerator * (self.ring.N // order), int(c))
        if order == 2:  # -1 in any ring
            return self.ring.from_int(-int(c))
        raise ValueError(
            f"zeta_{order} is not in the ring Q(zeta_{self.ring.N})"
        )  # pragma: no cover

    def apply(self, X):
        return _mm_dense(self.columns(0, self.shape[1]), X)

    @property
    def H(self):
        return ExactDense(self.columns(0, self.shape[1]), self.ring).H

    def lifted(self, ring):
        """The same definition over ``ring`` (its columns are built there directly)."""
        return self if ring is self.ring else _DefinitionColumns(self.X, ring)


def _mm_dense(A, B):
    return A.to_dense().matmul(B.to_dense())


def _target(X: Any, ring: ExactRing) -> ExactMatrix:
    """The exact matrix of ``X`` from its definition; symbolic kernels/twiddles when ``ring``
    holds their symbols."""
    from ..base import Adjoint, Conjugate, Product, Transpose
    from .convert import butterfly_symbol_names, symbolic_butterfly_factors, to_exact
    from .forms import kernel_symbol_names

    names = set(ring.symbol_names)
    if names and isinstance(X, (Product, Adjoint, Transpose, Conjugate)):
        # symbolic parameters inside: build the wrapped targets symbolically too
        if isinstance(X, Product):
            return ExactProduct(*[_target(f, ring) for f in X.factors])
        base = _target(X.base, ring)
        if isinstance(X, Adjoint):
            return base.H
        if isinstance(X, Transpose):
            return ExactDense(base.to_dense().transpose(), ring)
        return base.conj()
    if isinstance(X, (DFT, Hadamard)):
        return _DefinitionColumns(X, ring)
    if isinstance(X, Convolution):
        kn = kernel_symbol_names(X.kernel.shape[0])
        if names and set(kn) <= names:
            c = [ring.symbol(s) for s in kn]
            n_out, n = X.shape
            rows = []
            for i in range(n_out):
                row = []
                for j in range(n):
                    d = (i - j) % n if X.mode == "circular" else i - j
                    row.append(c[d] if 0 <= d < len(c) else ring.zero)
                rows.append(row)
            return ExactDense(rows, ring)
    if isinstance(X, Butterfly):
        bn = butterfly_symbol_names(X.n)
        if names and set(bn) <= names:
            return ExactProduct(*reversed(symbolic_butterfly_factors(ring, X.n)))
    return to_exact(X, ring)
