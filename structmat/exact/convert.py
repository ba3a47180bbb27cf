"""From ``structmat`` objects to exact matrices, and symbolic builders.

:func:`to_exact` turns any ops object into its exact matrix: parameter-free transforms from
their defining formulas (DFT, DCT/DST, Hadamard, with normalisations built from exact square
roots in a cyclotomic field), parametrised ones from their floating-point parameters taken
*exactly* (every float is a dyadic rational).  :func:`to_monomial` gives the vectorised monomial
form of DFT, Hadamard and permutations for large sizes.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Any

import numpy as np

from .. import _backend as B
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
from ..ops.sum import Scaled, Sum
from .cyclo import cyclotomic_sqrt, sqrt_conductor
from .matrices import (
    ExactBlockDiagonal,
    ExactDense,
    ExactDiagonal,
    ExactMatrix,
    ExactMonarch,
    ExactPermutation,
    ExactProduct,
)
from .monomial import MonomialMatrix
from .ring import ExactRing

__all__ = [
    "to_exact",
    "to_monomial",
    "required_conductor",
    "monarch_symbol_names",
    "symbolic_monarch",
    "butterfly_symbol_names",
    "symbolic_butterfly_factors",
    "trig_exact_scalings",
]


def _lcm(a: int, b: int) -> int:
    return a * b // math.gcd(a, b)


def _host(a: Any) -> np.ndarray:
    """An explicit host copy of a parameter array (exact conversion reads parameters once)."""
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "get"):  # CuPy: explicit device -> host copy
        return a.get()
    return np.asarray(B.move(a, np))


def _is_complex_array(a: np.ndarray) -> bool:
    return np.iscomplexobj(a) and bool(np.any(np.imag(a) != 0))


# ----------------------------------------------------------------------------------------------
# exact normalisations of DCT/DST (SciPy's definitions; values r * sqrt(m))
# ----------------------------------------------------------------------------------------------


def trig_exact_scalings(kind: str, type: int, n: int, norm: str | None):
    """Exact input weights ``w`` and output scales ``f`` of SciPy's DCT/DST.

    Each value is a pair ``(r, m)`` meaning ``r * sqrt(m)`` (``r``, ``m`` Fractions), mirroring
    :func:`structmat._backend.trig_scalings` (which returns their floating-point values).

    Examples
    --------
    >>> from structmat.exact import trig_exact_scalings
    >>> w, f = trig_exact_scalings("dct", 2, 3, "ortho")
    >>> [str(r) + "*sqrt(" + str(m) + ")" for r, m in f]
    ['1*sqrt(1/12)', '1*sqrt(1/6)', '1*sqrt(1/6)']
    """
    one = (Fraction(1), Fraction(1))
    two = (Fraction(2), Fraction(1))
    w = [two] * n
    f = [one] * n
    if (kind, type) == ("dct", 1):
        w[0] = w[-1] = one
    elif (kind, type) == ("dct", 3):
        w[0] = one
    elif (kind, type) == ("dst", 3):
        w[-1] = one
    if norm == "ortho":
        if type == 1:
            big = 2 * (n - 1) if kind == "dct" else 2 * (n + 1)
            f = [(Fraction(1), Fraction(1, big))] * n
            if kind == "dct":
                w[0] = w[-1] = (Fraction(1), Fraction(2))
                f[0] = f[-1] = (Fraction(1), Fraction(1, 2 * big))
        elif type == 2:
            f = [(Fraction(1), Fraction(1, 2 * n))] * n
            edge = 0 if kind == "dct" else n - 1
            f[edge] = (Fraction(1), Fraction(1, 4 * n))
        elif type == 3:
            f = [(Fraction(1), Fraction(1, 2 * n))] * n
            edge = 0 if kind == "dct" else n - 1
            w = [two] * n
            w[edge] = (Fraction(1), Fraction(2))
        else:
            f = [(Fraction(1), Fraction(1, 2 * n))] * n
    elif norm is not None:
        raise ValueError(f"norm must be None or 'ortho'; got {norm!r}")
    return w, f


def _trig_kernel_conductor(op) -> int:
    _, a, b, mfun = B.TRIG_KERNELS[(op._kind, op.type)]
    return 8 * mfun(op.n)


def _dft_scale(op: DFT):
    """``(rational, radicand)`` of the DFT's scale."""
    n = op.n
    if op.norm == "ortho":
        return Fraction(1), Fraction(1, n)
    if (op.norm == "forward") != op.inverse:
        return Fraction(1, n), Fraction(1)
    return Fraction(1), Fraction(1)


def required_conductor(op: Any) -> int:
    """The conductor ``N`` of the cyclotomic field that holds the entries of ``op`` exactly.

    Dispatches on the class of ``op`` (:func:`functools.singledispatch`, as
    :func:`structmat.to_monarch` does); a class without an exact form raises ``TypeError``.

    Examples
    --------
    >>> from structmat import DFT, DCT, Hadamard
    >>> from structmat.exact import required_conductor
    >>> required_conductor(DFT(6)), required_conductor(DFT(4, norm="ortho")), required_conductor(DCT(4))
    (6, 4, 32)
    >>> required_conductor(Hadamard(8, norm="ortho"))
    8
    """
    return _conductor(op)


@functools.singledispatch
def _conductor(op) -> int:
    _exact(op, None, 0)  # no exact form: raises the TypeError that names the classes with one
    raise AssertionError("unreachable")


@_conductor.register(DFT)
def _conductor_dft(op):
    r, m = _dft_scale(op)
    return _lcm(op.n, sqrt_conductor(m))


@_conductor.register(Hadamard)
def _conductor_hadamard(op):
    return sqrt_conductor(Fraction(1, op.n)) if op.norm == "ortho" else 1


@_conductor.register(DCT)
@_conductor.register(DST)
def _conductor_dct(op):
    N = _trig_kernel_conductor(op)
    w, f = trig_exact_scalings(op._kind, op.type, op.n, op.norm)
    for _r, m in w + f:
        N = _lcm(N, sqrt_conductor(m))
    return N


@_conductor.register(Permutation)
def _conductor_permutation(op):
    return 1


@_conductor.register(Diagonal)
def _conductor_diagonal(op):
    return 4 if _is_complex_array(_host(op.d)) else 1


@_conductor.register(BlockDiagonal)
def _conductor_blockdiagonal(op):
    return 4 if _is_complex_array(_host(op.blocks)) else 1


@_conductor.register(Monarch)
def _conductor_monarch(op):
    return 4 if (_is_complex_array(_host(op.L)) or _is_complex_array(_host(op.R))) else 1


@_conductor.register(Butterfly)
def _conductor_butterfly(op):
    return 4 if _is_complex_array(_host(op.twiddle)) else 1


@_conductor.register(Convolution)
def _conductor_convolution(op):
    return 4 if _is_complex_array(_host(op.kernel)) else 1


@_conductor.register(Product)
def _conductor_product(op):
    N = 1
    for f in op.factors:
        N = _lcm(N, required_conductor(f))
    return N


@_conductor.register(Transpose)
@_conductor.register(Adjoint)
@_conductor.register(Conjugate)
def _conductor_transpose(op):
    return _lcm(required_conductor(op.base), 1)


@_conductor.register(Sum)
def _conductor_sum(op):
    N = 1
    for t in op.terms:
        N = _lcm(N, required_conductor(t))
    return N


@_conductor.register(Scaled)
def _conductor_scaled(op):
    return _lcm(required_conductor(op.base), 4 if isinstance(op.alpha, complex) else 1)


def _scaled(ring: ExactRing, r: Fraction, m: Fraction):
    return ring.reduce(ring.from_int(r) * cyclotomic_sqrt(m, ring))


def _exact_array(a: np.ndarray, ring: ExactRing):
    """Nested lists of exact ring elements from a float/complex NumPy array."""
    if np.iscomplexobj(a):
        return np.vectorize(lambda v: ring.from_complex_float(complex(v)), otypes=[object])(
            a
        ).tolist()
    return np.vectorize(lambda v: ring.from_int(float(v)), otypes=[object])(a).tolist()


def to_exact(op: Any, ring: ExactRing | None = None) -> ExactMatrix:
    """The exact matrix of a ``structmat`` object.

    Parameter-free transforms come from their formulas: ``DFT`` (``zeta_n^(-jk)`` and its
    scale), ``DCT``/``DST`` (``cos``/``sin`` of multiples of ``pi / M`` as half-sums of roots
    of unity of order ``8M``, SciPy's weights), ``Hadamard`` (``+-1``); ``norm="ortho"`` uses
    exact square roots in the cyclotomic field (Gauss sums).  Parametrised objects (``Monarch``,
    ``BlockDiagonal``, ``Diagonal``, ``Butterfly``, ``Convolution``) use their parameters read
    exactly (floats are dyadic rationals; complex ones need ``i = zeta_4``).  Structure is kept:
    a ``Monarch`` becomes an :class:`ExactMonarch`, a ``Product`` an :class:`ExactProduct`.

    Parameters
    ----------
    op : StructuredMatrix
    ring : ExactRing, optional
        Target ring; its conductor must be a multiple of :func:`required_conductor`.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import DFT, DCT
    >>> from structmat.exact import to_exact
    >>> F = to_exact(DFT(4))
    >>> F.to_dense().to_list()[1]
    [1, -z, -1, z]
    >>> bool(np.allclose(to_exact(DCT(5, type=3, norm="ortho")).to_complex(), DCT(5, 3, "ortho").to_dense()))
    True
    """
    if not isinstance(op, StructuredMatrix):
        raise TypeError(f"op must be a structmat StructuredMatrix; got {type(op).__name__}")
    need = required_conductor(op)
    if ring is None:
        ring = ExactRing(need)
    elif ring.N % need:
        raise ValueError(
            f"ring conductor must be a multiple of {need} for {type(op).__name__}; got {ring.N}"
        )
    return _exact(op, ring, ring.N)


@functools.singledispatch
def _exact(op, ring, N) -> ExactMatrix:
    from ..registry import classes

    # the registered classes that have an exact form (the registry is the list of classes)
    have = [c.name for c in classes() if _exact.dispatch(c.cls) is not _exact.registry[object]]
    raise TypeError(f"no exact form for {type(op).__name__}; classes with one: {', '.join(have)}")


@_exact.register(DFT)
def _exact_dft(op, ring, N):
    n = op.n
    r, m = _dft_scale(op)
    s = _scaled(ring, r, m)
    step = N // n
    sign = 1 if op.inverse else -1
    rows = [
        [ring.reduce(ring.zeta(sign * step * ((j * k) % n)) * s) for k in range(n)]
        for j in range(n)
    ]
    return ExactDense(rows, ring)


@_exact.register(Hadamard)
def _exact_hadamard(op, ring, N):
    n = op.n
    s = _scaled(ring, Fraction(1), Fraction(1, n)) if op.norm == "ortho" else ring.one
    rows = [[s if bin(i & j).count("1") % 2 == 0 else -s for j in range(n)] for i in range(n)]
    return ExactDense(rows, ring)


@_exact.register(DCT)
@_exact.register(DST)
def _exact_dct(op, ring, N):
    trig_name, a, b, mfun = B.TRIG_KERNELS[(op._kind, op.type)]
    n = op.n
    M = mfun(n)
    unit = N // (8 * M)  # zeta_{8M} = zeta_N^unit
    w, f = trig_exact_scalings(op._kind, op.type, n, op.norm)
    ws = [_scaled(ring, *x) for x in w]
    fs = [_scaled(ring, *x) for x in f]
    half = ring.from_int(Fraction(1, 2))
    minus_i = ring.zeta(-(N // 4)) if N % 4 == 0 else None
    a4, b4 = int(round(4 * a)), int(round(4 * b))
    rows = []
    for k in range(n):
        row = []
        for j in range(n):
            # theta = pi (k + a)(j + b) / M = 2 pi x / (8 M) with x = (4k + 4a)(4j + 4b) / 4
            x = (4 * k + a4) * (4 * j + b4) // 4
            ep, em = ring.zeta(unit * x), ring.zeta(-unit * x)
            if trig_name == "cos":
                val = (ep + em) * half
            else:
                val = (ep - em) * half * minus_i
            row.append(ring.reduce(fs[k] * val * ws[j]))
        rows.append(row)
    return ExactDense(rows, ring)


@_exact.register(Permutation)
def _exact_permutation(op, ring, N):
    return ExactPermutation(_host(op.perm), ring)


@_exact.register(Diagonal)
def _exact_diagonal(op, ring, N):
    return ExactDiagonal(_exact_array(_host(op.d), ring), ring)


@_exact.register(BlockDiagonal)
def _exact_blockdiagonal(op, ring, N):
    return ExactBlockDiagonal(_exact_array(_host(op.blocks), ring), ring)


@_exact.register(Monarch)
def _exact_monarch(op, ring, N):
    return ExactMonarch(_exact_array(_host(op.L), ring), _exact_array(_host(op.R), ring), ring)


@_exact.register(Butterfly)
def _exact_butterfly(op, ring, N):
    s = op.n.bit_length() - 1
    return ExactProduct(*[to_exact(op.factor(e), ring) for e in range(s - 1, -1, -1)])


@_exact.register(Convolution)
def _exact_convolution(op, ring, N):
    c = _exact_array(_host(op.kernel), ring)
    L = len(c)
    n_out, n = op.shape
    rows = []
    for i in range(n_out):
        row = []
        for j in range(n):
            d = (i - j) % n if op.mode == "circular" else i - j
            row.append(c[d] if 0 <= d < L else ring.zero)
        rows.append(row)
    return ExactDense(rows, ring)


@_exact.register(Product)
def _exact_product(op, ring, N):
    return ExactProduct(*[to_exact(f, ring) for f in op.factors])


@_exact.register(Adjoint)
def _exact_adjoint(op, ring, N):
    return to_exact(op.base, ring).H


@_exact.register(Transpose)
def _exact_transpose(op, ring, N):
    D = to_exact(op.base, ring).to_dense()
    return ExactDense(D.transpose(), ring)


@_exact.register(Conjugate)
def _exact_conjugate(op, ring, N):
    D = to_exact(op.base, ring).to_dense().to_list()
    return ExactDense([[ring.conj(x) for x in row] for row in D], ring)


@_exact.register(Sum)
def _exact_sum(op, ring, N):
    D = to_exact(op.terms[0], ring).to_dense()
    for t in op.terms[1:]:
        D = D + to_exact(t, ring).to_dense()
    return ExactDense(D, ring)


@_exact.register(Scaled)
def _exact_scaled(op, ring, N):
    a = op.alpha
    s = ring.from_complex_float(a) if isinstance(a, complex) else ring.from_int(Fraction(a))
    D = to_exact(op.base, ring).to_dense()
    return ExactDense([[ring.reduce(s * x) for x in row] for row in D.to_list()], ring)


def to_monomial(op: Any) -> MonomialMatrix:
    """The vectorised monomial form of ``DFT``, ``Hadamard`` or ``Permutation``.

    Normalisations are a rational ``scale``; ``norm="ortho"`` (an irrational scale) is not
    representable here: use :func:`to_exact`, or compare unnormalised matrices.

    Examples
    --------
    >>> from structmat import DFT
    >>> from structmat.exact import to_monomial
    >>> F = to_monomial(DFT(8, inverse=True))
    >>> F.scale, F.rows(1, 2)[0].tolist()
    (Fraction(1, 8), [[0, 1, 2, 3, 4, 5, 6, 7]])
    """
    if isinstance(op, DFT):
        r, m = _dft_scale(op)
        if m != 1:
            raise ValueError(
                "norm='ortho' has the irrational scale 1/sqrt(n); use to_exact or norm=None"
            )
        F = MonomialMatrix.dft(op.n, inverse=op.inverse)
        F.scale = r
        return F
    if isinstance(op, Hadamard):
        if op.norm == "ortho":
            raise ValueError(
                "norm='ortho' has the irrational scale 1/sqrt(n) for odd log2(n); use to_exact"
            )
        return MonomialMatrix.hadamard(op.n)
    if isinstance(op, Permutation):
        return MonomialMatrix.permutation(_host(op.perm))
    raise TypeError(f"no monomial form for {type(op).__name__} (DFT, Hadamard, Permutation)")


# ----------------------------------------------------------------------------------------------
# symbolic builders
# ----------------------------------------------------------------------------------------------


def monarch_symbol_names(geometry, prefix: str = "") -> list[str]:
    """Symbol names ``{prefix}L{b}_{d}_{c}`` and ``{prefix}R{a}_{i}_{j}`` of a symbolic Monarch.

    Examples
    --------
    >>> from structmat.exact import monarch_symbol_names
    >>> monarch_symbol_names((1, 1, 2, 1, 1, 1))
    ['L0_0_0', 'R0_0_0', 'R0_0_1']
    """
    k, q, p, l, s, r = geometry
    names = [f"{prefix}L{b}_{d}_{c}" for b in range(l) for d in range(s) for c in range(r)]
    names += [f"{prefix}R{a}_{i}_{j}" for a in range(k) for i in range(q) for j in range(p)]
    return names


def symbolic_monarch(ring: ExactRing, geometry, prefix: str = "") -> ExactMonarch:
    """An :class:`ExactMonarch` whose block entries are the symbols of
    :func:`monarch_symbol_names` (which ``ring`` must contain).

    Examples
    --------
    >>> from structmat.exact import ExactRing, monarch_symbol_names, symbolic_monarch
    >>> g = (2, 2, 2, 2, 2, 2)
    >>> K = ExactRing(1, monarch_symbol_names(g))
    >>> M = symbolic_monarch(K, g)
    >>> M.to_dense().to_list()[2][1]
    L0_1_0*R0_0_1
    """
    k, q, p, l, s, r = geometry
    L = [
        [[ring.symbol(f"{prefix}L{b}_{d}_{c}") for c in range(r)] for d in range(s)]
        for b in range(l)
    ]
    R = [
        [[ring.symbol(f"{prefix}R{a}_{i}_{j}") for j in range(p)] for i in range(q)]
        for a in range(k)
    ]
    return ExactMonarch(L, R, ring)


def butterfly_symbol_names(n: int, prefix: str = "t") -> list[str]:
    """Names of the ``2 n log2(n)`` twiddles of a symbolic butterfly (layout of
    :class:`structmat.Butterfly`: ``twiddle[e, u, v, idx]``).

    Examples
    --------
    >>> from structmat.exact import butterfly_symbol_names
    >>> names = butterfly_symbol_names(4)
    >>> len(names), names[:3]
    (16, ['t0_00_0', 't0_00_1', 't0_01_0'])
    """
    if n < 2 or n & (n - 1):
        raise ValueError(f"n must be a power of 2 >= 2; got {n}")
    s = n.bit_length() - 1
    return [
        f"{prefix}{e}_{u}{v}_{i}"
        for e in range(s)
        for u in range(2)
        for v in range(2)
        for i in range(n // 2)
    ]


def symbolic_butterfly_factors(
    ring: ExactRing, n: int, prefix: str = "t"
) -> list[ExactBlockDiagonal]:
    """The butterfly factor matrices ``[B_2, B_4, ..., B_n]`` with symbolic twiddles.

    ``B_k`` (``k = 2^(e+1)``) is block-diagonal with ``n/k`` butterfly factors
    ``[[D1, D2], [D3, D4]]``; the diagonal of ``D`` at block row ``u``, block column ``v`` of
    factor ``g`` is ``twiddle[e, u, v, g k/2 : (g+1) k/2]`` (the layout of :class:`structmat.Butterfly`).
    The butterfly matrix is ``B_n ... B_4 B_2``.

    Examples
    --------
    >>> from structmat.exact import ExactRing, butterfly_symbol_names, symbolic_butterfly_factors
    >>> K = ExactRing(1, butterfly_symbol_names(4))
    >>> B2, B4 = symbolic_butterfly_factors(K, 4)
    >>> B4.to_dense().to_list()[0]
    [t1_00_0, 0, t1_01_0, 0]
    """
    names = set(butterfly_symbol_names(n, prefix))
    if not names.issubset(ring.symbol_names):
        raise ValueError("ring must contain butterfly_symbol_names(n, prefix)")
    s = n.bit_length() - 1
    out = []
    for e in range(s):
        k = 2 ** (e + 1)
        h = k // 2
        blocks = []
        for g in range(n // k):
            blk = [[ring.zero] * k for _ in range(k)]
            for u in range(2):
                for v in range(2):
                    for i in range(h):
                        blk[u * h + i][v * h + i] = ring.symbol(f"{prefix}{e}_{u}{v}_{g * h + i}")
            blocks.append(blk)
        out.append(ExactBlockDiagonal(blocks, ring))
    return out
