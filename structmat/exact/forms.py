"""Exact Monarch forms: ``to_monarch(X, exact=True)``.

The factors are generated from the same closed forms as the floating-point ones
(:func:`structmat.monarch_form.closed_form` for the DFT, Hadamard, DCT and DST, the DFT blocks
of :func:`structmat.monarch_form._conv_form` for convolutions); only the evaluation differs:
the integers of each :class:`~structmat.monarch_form.RootSum` are read as elements of the
cyclotomic field ``Q(ζ_N)`` instead of being rounded to floating point.

Parametrised inputs carry floating-point parameters; those are read exactly as dyadic
rationals (every finite binary float is one), complex ones with ``i = ζ_4``.  With
``exact="symbolic"`` the parameters are replaced by free symbols instead: a convolution kernel by
real symbols ``c0, c1, ...`` and butterfly twiddles by the names of
:func:`structmat.exact.butterfly_symbol_names`; the form is then an identity in those symbols.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Any

import numpy as np

from ..base import Adjoint, Conjugate, Product, StructuredMatrix, Transpose
from ..ops import (
    DCT,
    DFT,
    DST,
    BlockDiagonal,
    Butterfly,
    Convolution,
    Diagonal,
    Hadamard,
    Monarch,
    Permutation,
)
from .elements import rootsum_conductor, rootsum_entries
from .matrices import (
    ExactAdjoint,
    ExactBlockDiagonal,
    ExactMatrix,
    ExactMonarch,
    ExactPermutation,
    ExactProduct,
)
from .ring import ExactRing

__all__ = ["exact_monarch", "kernel_symbol_names"]


def _lcm(a: int, b: int) -> int:
    return a * b // math.gcd(a, b)


def kernel_symbol_names(length: int, prefix: str = "c") -> list[str]:
    """Names ``c0, c1, ...`` of a symbolic convolution kernel of ``length`` taps.

    Examples
    --------
    >>> from structmat.exact import kernel_symbol_names
    >>> kernel_symbol_names(3)
    ['c0', 'c1', 'c2']
    """
    return [f"{prefix}{s}" for s in range(int(length))]


def exact_monarch(X: Any, nblocks: Any = None, mode: Any = True) -> ExactProduct:
    """The exact Monarch form of ``X``: same factors, order and ``form`` as :func:`to_monarch`.

    Usually reached as ``to_monarch(X, exact=True)`` (or ``exact="symbolic"``).

    Parameters
    ----------
    X : StructuredMatrix
        Any input :func:`structmat.to_monarch` accepts.
    nblocks : int or (int, int), optional
        The split, as for :func:`structmat.to_monarch`.
    mode : True or "symbolic"
        ``True``: parameters read exactly (floats as dyadic rationals); ``"symbolic"``:
        convolution kernels and butterfly twiddles become free symbols.

    Returns
    -------
    ExactProduct
        Factors :class:`ExactMonarch`, :class:`ExactAdjoint` of one, :class:`ExactPermutation`,
        :class:`ExactDiagonal`, all over one :class:`ExactRing`; ``.form`` as the float product.

    Examples
    --------
    >>> from structmat import DFT
    >>> from structmat.exact import exact_monarch
    >>> F = exact_monarch(DFT(6), nblocks=2)
    >>> F.form, F.ring.N, F.factors[0].L_terms.shape
    ('MP', 6, (3, 2, 2))
    """
    if mode not in (True, "symbolic"):
        raise ValueError(f"exact must be False, True or 'symbolic'; got {mode!r}")
    if not isinstance(X, StructuredMatrix):
        raise TypeError(f"X must be a structmat StructuredMatrix; got {type(X).__name__}")
    factors = _exact_rules.dispatch(type(X))(X, nblocks, mode)
    return _common_product(factors)


def _common_product(factors: list) -> ExactProduct:
    """An :class:`ExactProduct` of factors lifted into one ring (lcm of conductors, all symbols)."""
    N = 1
    names: list[str] = []
    cplx = False
    for f in factors:
        N = _lcm(N, f.ring.N)
        names += [s for s in f.ring.symbol_names if s not in names]
        cplx = cplx or f.ring.complex_symbols
    rings = {id(f.ring) for f in factors}
    if len(rings) == 1 and factors[0].ring.N == N:
        ring = factors[0].ring
    else:
        ring = ExactRing(N, names, complex_symbols=cplx)
    return ExactProduct(*[f.lifted(ring) for f in factors])


def _ring_for(terms: list, extra: int = 1, symbols=()) -> ExactRing:
    N = extra
    for t in terms:
        N = _lcm(N, rootsum_conductor(t))
    return ExactRing(N, list(symbols))


def _from_specs(specs: list) -> list:
    ring = _ring_for([t for sp in specs if sp[0] == "M" for t in sp[1:]])
    out: list[ExactMatrix] = []
    for sp in specs:
        if sp[0] == "P":
            out.append(ExactPermutation(sp[1], ring))
        else:
            out.append(ExactMonarch(sp[1], sp[2], ring))
    return out


@functools.singledispatch
def _exact_rules(X, nblocks, mode):
    """Classes with only a float rule (registered with ``to_monarch.register``): their float
    factors, read exactly (floats are dyadic rationals).  Unknown classes: the float path's
    TypeError."""
    from ..monarch_form import to_monarch

    F = to_monarch(X, nblocks)
    out = []
    for f in F.factors:
        out.extend(exact_monarch(f, None, True).factors)
    return out


@_exact_rules.register(DFT)
@_exact_rules.register(Hadamard)
@_exact_rules.register(DCT)
@_exact_rules.register(DST)
def _(X, nblocks, mode):
    from ..monarch_form import closed_form

    return _from_specs(closed_form(X, nblocks))


@_exact_rules.register(Permutation)
def _(X, nblocks, mode):
    from .convert import _host

    return [ExactPermutation(_host(X.perm), ExactRing(1))]


@_exact_rules.register(Diagonal)
@_exact_rules.register(Monarch)
def _(X, nblocks, mode):
    from .convert import to_exact

    return [to_exact(X)]


@_exact_rules.register(BlockDiagonal)
def _(X, nblocks, mode):
    from .convert import to_exact

    B = to_exact(X)
    nb, r = B.nblocks, B.block_shape[0]
    ones = ExactBlockDiagonal([[[1]]] * (nb * r), B.ring)
    return [ExactMonarch(ones, B, B.ring)]


@_exact_rules.register(Product)
def _(X, nblocks, mode):
    out: list = []
    for f in X.factors:
        out.extend(exact_monarch(f, nblocks, mode).factors)
    return out


def _flip(factors, conj: bool):
    out: list[ExactMatrix] = []
    for f in reversed(factors):
        if isinstance(f, ExactMonarch):
            out.append(ExactAdjoint(f if conj else f.conj()))
        elif isinstance(f, ExactAdjoint):
            out.append(f.base if conj else f.base.conj())
        elif isinstance(f, ExactPermutation):
            out.append(f.T)
        else:  # diagonal
            out.append(f.conj() if conj else f)
    return out


@_exact_rules.register(Transpose)
def _(X, nblocks, mode):
    return _flip(list(exact_monarch(X.base, nblocks, mode).factors), conj=False)


@_exact_rules.register(Adjoint)
def _(X, nblocks, mode):
    return _flip(list(exact_monarch(X.base, nblocks, mode).factors), conj=True)


@_exact_rules.register(Conjugate)
def _(X, nblocks, mode):
    return [f.conj() for f in exact_monarch(X.base, nblocks, mode).factors]


# -- butterfly ---------------------------------------------------------------------------------


def _sparse_rows(B: ExactBlockDiagonal) -> list[dict]:
    r, c = B.block_shape
    rows: list[dict] = []
    for b, blk in enumerate(B.blocks):
        for row in blk.to_list():
            rows.append({b * c + j: x for j, x in enumerate(row) if x})
    return rows


def _sparse_product(mats: list[list[dict]], ring: ExactRing) -> list[dict]:
    """``mats[0] @ mats[1] @ ...`` for sparse exact matrices (dict rows)."""
    out = mats[-1]
    for A in reversed(mats[:-1]):
        new = []
        for row in A:
            acc: dict = {}
            for j, a in row.items():
                for k, b in out[j].items():
                    acc[k] = acc.get(k, ring.zero) + a * b
            red = {k: ring.reduce(v) for k, v in acc.items()}
            new.append({k: v for k, v in red.items() if v})
        out = new
    return out


@_exact_rules.register(Butterfly)
def _(X, nblocks, mode):
    """``B = U · diag(R)``: the levels with blocks of size ``<= b`` multiply to the block-diagonal
    ``R`` (k blocks b × b), the others to ``U``, which couples only indices equal mod ``b``:
    ``L[b', d, a] = U[d b + b', a b + b']``.  Exact products of the exact level factors."""
    from ..geometry import divisors
    from ..monarch_form.common import _split
    from .convert import (
        butterfly_symbol_names,
        required_conductor,
        symbolic_butterfly_factors,
        to_exact,
    )

    n = X.n
    valid = [d for d in divisors(n) if 1 < d < n]
    if not valid:
        raise ValueError(
            f"Butterfly(n={n}) has no nontrivial Monarch split; to_monarch needs n = 2^a >= 4"
        )
    k = _split(n, nblocks, "Butterfly", valid)
    b = n // k
    e_split = b.bit_length() - 1
    s = n.bit_length() - 1
    if mode == "symbolic":
        ring = ExactRing(1, butterfly_symbol_names(n))
        levels = symbolic_butterfly_factors(ring, n)
    else:
        ring = ExactRing(required_conductor(X))
        levels = [to_exact(X.factor(e), ring) for e in range(s)]
    rows = [_sparse_rows(lv) for lv in levels]
    Rm = _sparse_product(rows[:e_split][::-1], ring)  # B_b ... B_2
    Um = _sparse_product(rows[e_split:][::-1], ring)  # B_n ... B_2b
    z = ring.zero
    R = [[[Rm[a * b + i].get(a * b + j, z) for j in range(b)] for i in range(b)] for a in range(k)]
    L = [
        [[Um[d * b + bb].get(a * b + bb, z) for a in range(k)] for d in range(k)] for bb in range(b)
    ]
    return [ExactMonarch(L, R, ring)]


# -- convolution -------------------------------------------------------------------------------


@_exact_rules.register(Convolution)
def _(X, nblocks, mode):
    """``C = X₁ Π X₂ᴴ`` with the DFT blocks of the float rule and the spectrum
    ``(F c)[u] = Σ_s c_s ζ_N^{-u s}`` computed exactly (rationals or symbols)."""
    from ..monarch_form.rules import _conv_form
    from .convert import _exact_array, _host, _is_complex_array

    n = X.n
    n_out = X.shape[0]
    N, P1, P2, (L1, R1, q1), (L2, R2, q2) = _conv_form(X, nblocks)
    K1 = N // P1
    c_host = _host(X.kernel)
    length = c_host.shape[0]
    Nr = _lcm(N, _lcm(rootsum_conductor(L1), rootsum_conductor(R1)))
    if mode == "symbolic":
        ring = ExactRing(Nr, kernel_symbol_names(length))
        c = [ring.symbol(s) for s in kernel_symbol_names(length)]
    else:
        ring = ExactRing(_lcm(Nr, 4) if _is_complex_array(c_host) else Nr)
        c = _exact_array(c_host, ring)
    f = ring.N // N
    invN = ring.from_int(Fraction(1, N))
    spec = []
    for u in range(N):
        acc = ring.zero
        for s_, cs in enumerate(c):
            acc += cs * ring.zeta(-f * ((u * s_) % N))
        spec.append(ring.reduce(acc * invN))
    R1e = rootsum_entries(R1, ring)
    R1x = [
        [
            [ring.reduce(R1e[a][i][j] * spec[int(q1[a * P1 + j])]) for j in range(P1)]
            for i in range(len(R1e[a]))
        ]
        for a in range(K1)
    ]
    X1 = ExactMonarch(rootsum_entries(L1[:, : n_out // P1, :], ring), R1x, ring)
    X2 = ExactMonarch(L2[:, : n // P2, :], R2, ring)
    out: list = [X1]
    if P1 != P2:
        inv2 = np.argsort(q2)
        out.append(ExactPermutation(inv2[q1], ring))
    out.append(ExactAdjoint(X2))
    return out
