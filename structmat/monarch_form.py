r"""Every transform in Monarch form: :func:`to_monarch`.

``to_monarch(X)`` returns a :class:`~structmat.Product` whose factors are only
:class:`~structmat.Monarch`, :class:`~structmat.Permutation`, :class:`~structmat.Diagonal` and
adjoints of Monarch matrices (:class:`structmat.base.Adjoint`), equal to ``X`` to rounding.  Every
factor is built from a closed-form formula (roots of unity, Hadamard blocks, butterfly twiddles);
nothing is fitted or projected numerically.  ``Product.form`` spells the factors: ``"M"`` a
Monarch matrix, ``"M*"`` the adjoint of one, ``"P"`` a permutation, ``"D"`` a diagonal.

Conventions are those of DESIGN §3: ``Monarch(L, R)`` with ``R`` of shape ``(k, q, p)`` and ``L``
of shape ``(l, s, r)``, ``M[d l + b, a p + j] = sum_i L[b, d, c(i)] R[a, i, j]``; ``ω_N = exp(-2πi/N)``.
Below ``n = k p`` is the split chosen with ``nblocks=k`` (default: the divisor of ``n`` nearest
``√n``); the Monarch's ``R`` then has ``k`` blocks and its ``L`` has ``p`` blocks.

Summary (``n = k p``; "geometry" lists ``R`` as blocks × (rows × cols), then ``L``):

=================================  =======  ==========================  =================
transform                          form     Monarch geometry            parameters
=================================  =======  ==========================  =================
DFT(n), inverse, every norm        MP       R k×(p×p), L p×(k×k)        n (k + p)
Hadamard(n), n = 2^a ≥ 4           M        R k×(p×p), L p×(k×k)        n (k + p)
DCT, DST types 2, 3, 4             MP       R k×(2p×p), L p×(k×2k)      2 n (k + p)
Convolution, circular              MM*      two DFT geometries          2 n (k + p)
Convolution, full                  MM*      rows kept: n+len-1 and n    ≈ 2 N (K + P)
                                   or MPM*  of an N-point pair
Butterfly(n), n = 2^a ≥ 4          M        R k×(p×p), L p×(k×k)        n (k + p)
Monarch                            M        its own                     its own
BlockDiagonal(blocks)              M        R = blocks, L 1×1 ones      blocks + n_out
Permutation, Diagonal              P, D     (kept)                      0, n
Product, A.T, A.H, A.conj()        concat.  factors converted           sum
=================================  =======  ==========================  =================

Formulas (``ω_m = exp(-2πi/m)``; output index ``d p + b``, input ``a p + j`` unless stated):

* **DFT** (CLAIMS 8, four-step FFT): ``F_n = M Q`` with ``L[b, d, a] = s ω_k^{d a}``,
  ``R[a, b, j] = ω_n^{b (a + k j)}`` (twiddles times ``DFT_p``), ``s`` the norm scale, and
  ``Q x = x.reshape(p, k).T.ravel()`` (``Permutation.transpose_perm(p, k)``).  The inverse
  flips the sign of every exponent.
* **Hadamard** (CLAIMS 10): ``H_n = H_k ⊗ H_p``: ``L[b] = H_k``, ``R[a] = H_p``; "ortho" scales L.
* **DCT/DST**: one real Monarch of middle dimension ``2n`` (slabs of rank 2) times an input
  reordering; derivation below.  Type 1 is not covered (below).
* **Convolution** (CLAIMS 11): ``C = F⁻¹ diag(F c) F = X₁ X₂ᴴ`` with ``X₁ = M̄ · diag(Q F c / n)``
  (the diagonal folded into R's columns) and ``X₂ = M̄``, ``M̄`` the inverse-sign DFT Monarch.
  Full mode embeds the ``(n + len - 1) × n`` Toeplitz matrix in a circulant of size
  ``N = K P ≥ n + len - 1``: ``X₁`` keeps its first ``n + len - 1`` rows and ``X₂`` its first
  ``n`` (rectangular Monarch factors; an L block of ``P`` rows keeps ``rows / P`` of them, so
  ``P`` must divide the count).  When one ``P`` divides both ``n`` and ``n + len - 1`` the form
  is ``MM*``; otherwise two splits ``P₁ | n + len - 1``, ``P₂ | n`` of the same ``N`` are used
  with a permutation between them (``MPM*``).  ``N`` and the splits minimise the parameter
  count; when ``n + len - 1`` is prime the left factor has one-row L blocks.
* **Butterfly** (CLAIMS 6): ``R = B_p ⋯ B_2`` (block-diagonal, ``k`` blocks ``p × p``) and
  ``L`` the ``p`` residue blocks (indices equal mod ``p``) of ``B_n ⋯ B_{2p}``.

DCT/DST derivation (types 2–4, SciPy's convention ``A = diag(f) K diag(w)``,
``K[y, x] = cos or sin(π (y + α)(x + β) / n)``, ``N = 2n``).  With ``u = y + ⌊α⌋``,
``α' = α − ⌊α⌋`` and ``θ = 2π (u + α')(x + β) / N``, both ``e^{-iθ}`` and ``e^{+iθ}`` are entries
``ω_N^{u e}`` of the length-``N`` DFT at the extension indices ``e₁ = x`` and
``e₂ = (−x − 2β) mod N`` times diagonal twiddles (``ω_N^{uβ}`` on the output,
``ω_N^{α'(e + β)}`` and ``±1`` on the input).  In the four-step factorisation of ``F_N`` with
``K = 2k`` blocks, ``e₁ mod K`` and ``e₂ mod K`` are partner residues ``a ↔ −a − 2β``; grouping the
two partners in one ``R`` block makes ``R`` block-diagonal on ``x``, and keeping the output rows
``u < n`` (or ``1 ≤ u ≤ n``) keeps ``k`` rows of every ``L`` block.  Each slab is then a sum of two
complex conjugate rank-1 terms; a 2 × 2 change of basis per slab (``[m, m̄] → [2 Re m, 2 Im m]``)
makes both factors real.  Type 1 has extension lengths ``2(n ∓ 1)`` whose row selection cannot be
uniform over the ``L`` blocks, so it is not covered.

Other modules add rules with ``to_monarch.register``::

    @to_monarch.register(MyClass)
    def _(X, nblocks, xp):
        return [...]          # a sequence of allowed factors, or a Product

Examples
--------
The DFT is a Monarch product:

>>> import numpy as np, scipy.fft
>>> from structmat import DFT, to_monarch
>>> F = to_monarch(DFT(1024)); x = np.random.default_rng(0).standard_normal(1024)
>>> F.form, bool(np.allclose(F @ x, scipy.fft.fft(x)))
('MP', True)
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any

import numpy as np

from . import _backend as B
from .base import Adjoint, Conjugate, Product, StructuredMatrix, Transpose, dtype_name
from .ops import (
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

__all__ = ["to_monarch"]

_SUPPORTED = (
    "DFT (composite n, any norm, inverse), Hadamard (n = 2^a >= 4), DCT/DST (types 2, 3, 4, "
    "composite n), Convolution (circular with composite n, or full), Butterfly (n >= 4), "
    "Monarch, BlockDiagonal, Permutation, Diagonal, Product, and .T/.H/.conj() of these"
)


# ----------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------

def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def _root(num: Any, den: int, sign: int = -1) -> np.ndarray:
    """``exp(sign · 2πi · num / den)`` with the integer numerator reduced mod ``den`` first."""
    m = np.mod(np.asarray(num, dtype=np.int64), den)
    return np.exp(sign * 2j * np.pi * (m / den))


def _split(n: int, nblocks: Any, what: str, valid: list[int] | None = None) -> int:
    """The number ``k`` of ``R`` blocks of a Monarch form of size ``n`` (``L`` gets ``n // k``)."""
    if valid is None:
        valid = [d for d in _divisors(n) if 1 < d < n]
    if not valid:
        raise ValueError(
            f"{what} has no Monarch form for n={n}: it needs n = k·p with k, p >= 2 "
            f"(a composite n such as 4, 6, 12, 1000)"
        )
    if nblocks is None:
        root = math.sqrt(n)
        return min(valid, key=lambda d: (abs(d - root), d))
    if isinstance(nblocks, (tuple, list)):
        if len(nblocks) != 2:
            raise ValueError(f"nblocks must be an int k or the pair (k, n // k); got {nblocks!r}")
        k = _as_int(nblocks[0], "nblocks[0]")
        l = _as_int(nblocks[1], "nblocks[1]")
        if k * l != n:
            raise ValueError(
                f"nblocks=({k}, {l}) does not fit {what} of size {n}: the Monarch form has R with "
                f"k blocks and L with n // k blocks, so expected ({k}, {n // k if k else '?'})"
            )
    else:
        k = _as_int(nblocks, "nblocks")
    if k not in valid:
        raise ValueError(f"nblocks={k} is not a valid split of {what} of size {n}; valid k: {valid}")
    return k


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    return int(value)


def _ns(X: StructuredMatrix, xp: Any):
    """The namespace the factors are built in: ``xp``, else X's parameters', else NumPy."""
    if xp is not None:
        return xp
    return X.xp if X.xp is not None else B.resolve_xp(None)


def _on(X: StructuredMatrix, xp: Any) -> StructuredMatrix:
    """X with its parameters in namespace ``xp`` (an explicit move when requested)."""
    if xp is None or X.xp is None or B.namespace_name(X.xp) == B.namespace_name(xp):
        return X
    return X.to_backend(xp)


def _arr(xp, a: np.ndarray, dtype: Any):
    """A NumPy-built closed-form array in namespace ``xp`` with dtype ``dtype``."""
    return xp.asarray(np.ascontiguousarray(a.astype(dtype_name(dtype))))


def _perm(xp, perm: np.ndarray, dtype: Any) -> Permutation:
    return Permutation(xp.asarray(np.asarray(perm, dtype=np.int64)), dtype=dtype_name(dtype))


def _star(M: Monarch) -> Adjoint:
    """``Mᴴ`` as an :class:`Adjoint` (also for real M, so the factor class is uniform)."""
    return Adjoint(M)


# ----------------------------------------------------------------------------------------------
# the four-step (Cooley–Tukey) builder shared by DFT, DCT/DST and convolution
# ----------------------------------------------------------------------------------------------

def _ct_monarch(N, K, sign, rows, ext, groups):
    """Blocks of ``G · F_N · H`` as one Monarch (NumPy, complex128).

    ``F_N[u, e] = ω^{u e}`` (``ω = exp(sign 2πi / N)``) splits with ``N = K P``, ``u = d P + b``,
    ``e = a + K j`` as ``ω_K^{d a} · ω_N^{b e}``.  ``rows = (y, u, coef)`` says output ``y`` is
    ``coef`` times row ``u``; ``ext = (e, x, coef)`` lists the entries ``H[e, x]``; ``groups`` are
    tuples of residues ``a`` (mod K) read by one ``R`` block.  Requires every ``L`` block
    (residue ``b = u mod P``) to keep the same number of rows, and every ``x`` to reach only
    residues of one group.

    Returns ``L (P, s, K)``, ``R (len(groups), gs·P, p)``, ``in_perm`` (Monarch input index ->
    ``x``) and ``out_map`` (Monarch output index -> ``y``); the middle index of group ``g``,
    member ``m``, block ``b`` is ``R`` row ``m P + b`` and ``L`` column ``g gs + m``.
    """
    P = N // K
    y, u, cy = (np.asarray(v) for v in rows)
    b_of, d_of = u % P, u // P
    counts = np.bincount(b_of, minlength=P)
    if counts.min() != counts.max():
        raise AssertionError("output rows are not spread evenly over the L blocks")
    s = int(counts[0])
    order = np.lexsort((d_of, b_of))
    yb = y[order].reshape(P, s)
    db = d_of[order].reshape(P, s)
    cb = cy[order].reshape(P, s)
    gs = len(groups[0])
    res_col = np.array([a for g in groups for a in g], dtype=np.int64)  # column -> residue
    # L[b, d', g gs + m] = coef_y · ω_K^{d a_m}
    L = cb[:, :, None] * _root(db[:, :, None] * res_col[None, None, :], K, sign)

    e, x, ce = (np.asarray(v) for v in ext)
    a_e = e % K
    group_of = np.full(K, -1)
    member_of = np.full(K, -1)
    for g, grp in enumerate(groups):
        for m, a in enumerate(grp):
            group_of[a], member_of[a] = g, m
    g_e = group_of[a_e]
    n_in = int(x.max()) + 1
    x_group = np.full(n_in, -1)
    x_group[x] = g_e
    if np.any(x_group[x] != g_e) or np.any(x_group < 0):
        raise AssertionError("an input reaches residues of two groups")
    sizes = np.bincount(x_group, minlength=len(groups))
    if sizes.min() != sizes.max():
        raise AssertionError("groups read different numbers of inputs")
    p = int(sizes[0])
    in_perm = np.argsort(x_group, kind="stable")  # x sorted by group, increasing within a group
    pos = np.empty(n_in, dtype=np.int64)
    pos[in_perm] = np.arange(n_in) % p
    bvec = np.arange(P)
    # R[g, m P + b, pos(x)] += coef · ω_N^{b e}
    vals = ce[:, None] * _root(bvec[None, :] * e[:, None], N, sign)
    R = np.zeros((len(groups), gs * P, p), dtype=np.complex128)
    np.add.at(R, (g_e[:, None], member_of[a_e][:, None] * P + bvec[None, :], pos[x][:, None]), vals)
    out_map = yb.T.reshape(-1)  # Monarch output d' P + b -> y
    return L, R, in_perm, out_map


def _fold_output(L, R, out_map):
    """Fold an output permutation that maps L blocks onto L blocks into ``(L, R)``.

    ``out_map[d l + b] = y``.  If every block ``b`` lands on one block ``π(b)`` and ``l``
    divides ``q``, then relabelling L's blocks by ``π`` and R's rows ``i -> (i div l) l +
    π(i mod l)`` (inside each R block) gives the permuted matrix.  Returns ``None`` otherwise.
    """
    l, s, _ = L.shape
    _, q, _ = R.shape
    tab = np.asarray(out_map).reshape(s, l)  # [d, b]
    pi = tab[0] % l
    if q % l or np.any(tab % l != pi[None, :]) or len(set(pi.tolist())) != l:
        return None
    dnew = tab // l
    Ln = np.empty_like(L)
    bb = np.broadcast_to(np.arange(l)[None, :], (s, l))
    dd = np.broadcast_to(np.arange(s)[:, None], (s, l))
    Ln[pi[bb], dnew, :] = L[bb, dd, :]
    i = np.arange(q)
    Rn = np.empty_like(R)
    Rn[:, (i // l) * l + pi[i % l], :] = R
    return Ln, Rn


def _assemble(xp, L, R, in_perm, out_map, dtype):
    """Factors ``[P_out?, Monarch, P_in?]`` from builder output."""
    factors: list[StructuredMatrix] = []
    if not np.array_equal(out_map, np.arange(out_map.size)):
        folded = _fold_output(L, R, out_map)
        if folded is None:
            factors.append(_perm(xp, np.argsort(out_map), dtype))
        else:
            L, R = folded
    factors.append(Monarch(_arr(xp, L, dtype), _arr(xp, R, dtype)))
    if not np.array_equal(in_perm, np.arange(in_perm.size)):
        factors.append(_perm(xp, in_perm, dtype))
    return factors


def _dft_blocks(n, k, sign, scale=1.0):
    """``L (p, k, k)``, ``R (k, p, p)`` and ``Q``'s index array with ``F = Monarch(L, R) · Q``.

    ``F[u, x] = scale · exp(sign 2πi u x / n)``, ``n = k p``.
    """
    u = np.arange(n)
    x = np.arange(n)
    L, R, in_perm, out_map = _ct_monarch(
        n, k, sign, (u, u, np.full(n, scale, dtype=np.complex128)),
        (x, x, np.ones(n, dtype=np.complex128)), [(a,) for a in range(k)]
    )
    assert np.array_equal(out_map, u)
    return L, R, in_perm


# ----------------------------------------------------------------------------------------------
# dispatch
# ----------------------------------------------------------------------------------------------

@functools.singledispatch
def _rules(X, nblocks, xp):
    raise TypeError(
        f"to_monarch has no rule for {type(X).__name__}; supported: {_SUPPORTED}. "
        f"New classes add one with to_monarch.register(cls)"
    )


_TOKEN = {Monarch: "M", Permutation: "P", Diagonal: "D"}


def _token(f: Any) -> str | None:
    if isinstance(f, Adjoint) and isinstance(f.base, Monarch):
        return "M*"
    for cls, tok in _TOKEN.items():
        if isinstance(f, cls):
            return tok
    return None


def to_monarch(X: Any, nblocks: Any = None, *, xp: Any = None) -> Product:
    """Write ``X`` exactly as a product of Monarch, permutation and diagonal factors.

    Parameters
    ----------
    X : StructuredMatrix
        A DFT (composite n), Hadamard, DCT/DST (types 2–4), Convolution, Butterfly, Monarch,
        BlockDiagonal, Permutation, Diagonal, a Product of these, or ``.T``/``.H``/``.conj()``
        of one (see the table in :mod:`structmat.monarch_form`).
    nblocks : int or (int, int), optional
        The split ``n = k·p``: the Monarch's ``R`` gets ``k`` blocks and its ``L`` ``n // k``
        (a pair must be ``(k, n // k)``).  Default: the divisor of ``n`` nearest ``√n``.
        Ignored by factors already in Monarch form and by full convolutions (which pick their
        own circulant size).
    xp : namespace or name, optional
        Namespace of the factors (default: X's parameters', else NumPy).  Parametrised inputs
        are moved there explicitly with ``X.to_backend(xp)``.

    Returns
    -------
    Product
        With factors :class:`~structmat.Monarch`, :class:`~structmat.base.Adjoint` of a Monarch,
        :class:`~structmat.Permutation` and :class:`~structmat.Diagonal` only; ``.form`` spells
        them (``"M"``, ``"M*"``, ``"P"``, ``"D"``), e.g. ``"MP"`` for the DFT.

    Raises
    ------
    TypeError
        X has no rule (a plain array, an unregistered class).
    ValueError
        X's size has no Monarch form (prime n, n < 4, DCT type 1) or ``nblocks`` is invalid.

    Examples
    --------
    >>> import numpy as np, scipy.fft, scipy.linalg
    >>> from structmat import DCT, DFT, Hadamard, to_monarch
    >>> F = to_monarch(DFT(12), nblocks=3)
    >>> F.form, [type(f).__name__ for f in F.factors], F.factors[0].nblocks
    ('MP', ['Monarch', 'Permutation'], (3, 4))
    >>> bool(np.allclose(F.to_dense(), scipy.linalg.dft(12)))
    True
    >>> to_monarch(Hadamard(8)).form
    'M'
    >>> C = to_monarch(DCT(15, type=2, norm="ortho"))
    >>> C.form, bool(np.allclose(C @ np.eye(15), scipy.fft.dct(np.eye(15), norm="ortho", axis=0)))
    ('MP', True)
    >>> to_monarch(DFT(7))
    Traceback (most recent call last):
    ...
    ValueError: DFT has no Monarch form for n=7: it needs n = k·p with k, p >= 2 (a composite n such as 4, 6, 12, 1000)
    """
    ns = None if xp is None else B.resolve_xp(xp)
    out = _rules.dispatch(type(X))(X, nblocks, ns)  # the default rule raises TypeError
    factors = list(out.factors) if isinstance(out, Product) else list(out)
    tokens = []
    for i, f in enumerate(factors):
        tok = _token(f)
        if tok is None:
            raise TypeError(
                f"the to_monarch rule for {type(X).__name__} returned a {type(f).__name__} as "
                f"factor {i}; allowed: Monarch, Adjoint of a Monarch, Permutation, Diagonal"
            )
        tokens.append(tok)
    return Product(*factors, form="".join(tokens))


to_monarch.register = _rules.register
to_monarch.registry = _rules.registry


# ----------------------------------------------------------------------------------------------
# rules
# ----------------------------------------------------------------------------------------------

@_rules.register(Monarch)
@_rules.register(Permutation)
@_rules.register(Diagonal)
def _(X, nblocks, xp):
    return [_on(X, xp)]


@_rules.register(BlockDiagonal)
def _(X, nblocks, xp):
    # diag(B_0..B_{nb-1}) = Monarch(L = ones((nb·rows, 1, 1)), R = blocks): with 1x1 L blocks
    # both stride permutations are the identity.
    X = _on(X, xp)
    ns = X.xp
    nb, r, _ = X.blocks.shape
    ones = ns.ones((nb * r, 1, 1), dtype=X.blocks.dtype)
    return [Monarch(ones, X.blocks)]


@_rules.register(Product)
def _(X, nblocks, xp):
    factors: list[StructuredMatrix] = []
    for f in X.factors:
        factors.extend(to_monarch(f, nblocks, xp=xp).factors)
    return factors


def _flip(factors, conj: bool):
    """Factors of the transpose (``conj=False``) or adjoint (``conj=True``), reversed."""
    out = []
    for f in reversed(factors):
        if isinstance(f, Monarch):
            out.append(_star(f if conj else f.conj()))
        elif isinstance(f, Adjoint):
            out.append(f.base if conj else f.base.conj())
        elif isinstance(f, Permutation):
            out.append(f.T)
        else:  # Diagonal
            out.append(f.conj() if conj else f)
    return out


@_rules.register(Transpose)
def _(X, nblocks, xp):
    return _flip(to_monarch(X.base, nblocks, xp=xp).factors, conj=False)


@_rules.register(Adjoint)
def _(X, nblocks, xp):
    return _flip(to_monarch(X.base, nblocks, xp=xp).factors, conj=True)


@_rules.register(Conjugate)
def _(X, nblocks, xp):
    out = []
    for f in to_monarch(X.base, nblocks, xp=xp).factors:
        out.append(_star(f.base.conj()) if isinstance(f, Adjoint) else f.conj())
    return out


@_rules.register(DFT)
def _(X, nblocks, xp):
    """Four-step FFT: ``F_n = Monarch(L, R) · Q`` with, for ``n = k p``, ``u = d p + b`` and
    ``x = a + k j``: ``F[u, x] = s · ω_k^{d a} · ω_n^{b x}`` (``ω = exp(∓2πi/·)``, s the norm
    scale), so ``L[b, d, a] = s ω_k^{d a}`` (p blocks k × k), ``R[a, b, j] = ω_n^{b (a + k j)}``
    (k blocks p × p: twiddles times DFT_p) and ``Q = Permutation.transpose_perm(p, k)``."""
    n = X.n
    k = _split(n, nblocks, "DFT")
    ns = _ns(X, xp)
    sign = 1 if X.inverse else -1
    L, R, in_perm = _dft_blocks(n, k, sign, X.scale)
    return [Monarch(_arr(ns, L, X.dtype), _arr(ns, R, X.dtype)), _perm(ns, in_perm, X.dtype)]


@_rules.register(Hadamard)
def _(X, nblocks, xp):
    """Sylvester: ``H_n = H_k ⊗ H_p``; with rows ``d p + b`` and columns ``a p + j`` the entry is
    ``H_k[d, a] H_p[b, j]``, i.e. ``L[b] = H_k`` (p blocks) and ``R[a] = H_p`` (k blocks)."""
    import scipy.linalg

    n = X.n
    valid = [d for d in _divisors(n) if 1 < d < n]
    if not valid:
        raise ValueError(
            f"Hadamard(n={n}) has no nontrivial Monarch split; to_monarch needs n = 2^a >= 4 "
            f"(n = k·p with k, p >= 2 powers of 2)"
        )
    k = _split(n, nblocks, "Hadamard", valid)
    p = n // k
    ns = _ns(X, xp)
    scale = 1.0 / math.sqrt(n) if X.norm == "ortho" else 1.0
    L = np.broadcast_to(scipy.linalg.hadamard(k) * scale, (p, k, k))
    R = np.broadcast_to(scipy.linalg.hadamard(p).astype(float), (k, p, p))
    return [Monarch(_arr(ns, L, X.dtype), _arr(ns, R, X.dtype))]


@_rules.register(Butterfly)
def _(X, nblocks, xp):
    """``B = (B_n ⋯ B_{2b}) (B_b ⋯ B_2)`` with ``b = n / k``: the right group is
    block-diagonal (k blocks b × b, the ``R`` factor) and the left group only couples indices
    equal mod b (b residue blocks of k × k, the ``L`` factor).  Each group is evaluated by the
    butterfly's own multiply with the other group's factors set to the identity."""
    X = _on(X, xp)
    ns = X.xp
    n = X.n
    valid = [d for d in _divisors(n) if 1 < d < n]
    if not valid:
        raise ValueError(
            f"Butterfly(n={n}) has no nontrivial Monarch split; to_monarch needs n = 2^a >= 4"
        )
    k = _split(n, nblocks, "Butterfly", valid)
    b = n // k
    e_split = b.bit_length() - 1  # levels 0..e_split-1 have block size <= b
    tw = X.twiddle
    levels = tw.shape[0]
    dt = tw.dtype
    one = ns.ones((n // 2,), dtype=dt)
    zero = ns.zeros((n // 2,), dtype=dt)
    ident = ns.stack([ns.stack([one, zero]), ns.stack([zero, one])])[None, ...]  # (1, 2, 2, n/2)

    def idents(m):
        return [ident] * m

    tw_r = ns.concat([tw[:e_split, ...]] + idents(levels - e_split), axis=0)
    tw_l = ns.concat(idents(e_split) + [tw[e_split:, ...]], axis=0)
    Xr = _arr(ns, np.tile(np.eye(b), (k, 1)), dt)                      # [a b + i, j] = δ_ij
    R = ns.reshape(Butterfly(tw_r) @ Xr, (k, b, b))
    Xl = _arr(ns, np.kron(np.eye(k), np.ones((b, 1))), dt)              # [c b + b', c'] = δ_cc'
    Y = ns.reshape(Butterfly(tw_l) @ Xl, (k, b, k))                     # [d, b', c]
    L = ns.permute_dims(Y, (1, 0, 2))
    return [Monarch(L, R)]


# -- DCT / DST ---------------------------------------------------------------------------------

def _trig_blocks(kind: str, typ: int, n: int, norm, k: int):
    """Real ``L (p, k, 2k)``, ``R (k, 2p, p)`` and index maps of the DCT/DST (module docstring)."""
    trig_name, alpha, beta, _ = B.TRIG_KERNELS[(kind, typ)]
    w, f = B.trig_scalings(kind, typ, n, norm)
    N, K = 2 * n, 2 * k
    shift = int(math.floor(alpha))
    a2 = int(round(2 * (alpha - shift)))  # 2α' in {0, 1}
    b2 = int(round(2 * beta))             # 2β in {0, 1, 2}
    y = np.arange(n)
    u = y + shift
    out_coef = f * _root(u * b2, 2 * N)                     # f_y · ω_N^{u β}
    j = np.arange(n)
    e1 = j
    e2 = np.mod(-j - b2, N)
    t = (e2 + j + b2) // N                                  # wrap count of e2, 0 or 1
    lam1, lam2 = (0.5, 0.5) if trig_name == "cos" else (0.5j, -0.5j)
    c1 = lam1 * w * _root(a2 * (2 * e1 + b2), 4 * N)         # ω_N^{α' (e + β)}
    c2 = lam2 * w * _root(a2 * (2 * e2 + b2), 4 * N) * (-1.0) ** (a2 * t)
    ext = (np.concatenate([e1, e2]), np.concatenate([j, j]), np.concatenate([c1, c2]))
    # partner residues a <-> -a - 2β (mod K); self-partnered residues (two of them when 2β is
    # even) share one group
    groups, kinds, selfs = [], [], []
    for a in range(K):
        partner = (-a - b2) % K
        if partner == a:
            selfs.append(a)
        elif a < partner:
            groups.append((a, partner))
            kinds.append("pair")
    if selfs:
        groups.append(tuple(selfs))
        kinds.append("self")
    order = np.argsort([min(g) for g in groups], kind="stable")
    groups = [groups[i] for i in order]
    kinds = [kinds[i] for i in order]
    L, R, in_perm, out_map = _ct_monarch(N, K, -1, (y, u, out_coef), ext, groups)
    L, R = _realify(L, R, kinds)
    return L, R, in_perm, out_map


def _realify(L, R, kinds):
    """Real factors with the same product, slab by slab (the slabs are real matrices).

    In slab (group g, block b) the two L columns are ``ℓ`` and ``c ℓ̄`` with ``|c| = 1`` (a pair
    group) or each column is ``c ℓ̄`` itself (self-partnered residues).  With ``ρ² = c`` and
    ``m = ℓ / ρ``: ``[ℓ, c ℓ̄] = ρ [m, m̄] = ρ [2 Re m, 2 Im m] U⁻¹``, ``U⁻¹ = ½ [[1, 1], [i, −i]]``,
    so L gets ``[2 Re m, 2 Im m]`` and R gets ``ρ U⁻¹ R``, whose imaginary part multiplies to
    zero (the slab is real) and is dropped.
    """
    P = L.shape[0]
    Lr = np.empty(L.shape)
    Rr = np.empty(R.shape)
    for g, kind in enumerate(kinds):
        c0, c1 = 2 * g, 2 * g + 1
        r0, r1 = R[g, :P, :], R[g, P:, :]
        if kind == "pair":
            l0 = L[:, :, c0]
            rho = np.sqrt(L[:, 0, c1] / np.conj(l0[:, 0]))[:, None]
            m = l0 / rho
            Lr[:, :, c0] = 2 * m.real
            Lr[:, :, c1] = 2 * m.imag
            Rr[g, :P, :] = (rho * 0.5 * (r0 + r1)).real
            Rr[g, P:, :] = (rho * 0.5j * (r0 - r1)).real
        else:
            for col, rows in ((c0, slice(0, P)), (c1, slice(P, 2 * P))):
                l_ = L[:, :, col]
                rho = np.sqrt(l_[:, 0] / np.conj(l_[:, 0]))[:, None]
                Lr[:, :, col] = (l_ / rho).real
                Rr[g, rows, :] = (rho * R[g, rows, :]).real
    return Lr, Rr


def _trig_rule(X, nblocks, xp):
    name = type(X).__name__
    if X.type == 1:
        raise ValueError(
            f"{name} type 1 has no Monarch form here; to_monarch covers {name} types 2, 3 and 4 "
            f"(composite n)"
        )
    k = _split(X.n, nblocks, f"{name} type {X.type}")
    ns = _ns(X, xp)
    L, R, in_perm, out_map = _trig_blocks(name.lower(), X.type, X.n, X.norm, k)
    return _assemble(ns, L, R, in_perm, out_map, X.dtype)


_rules.register(DCT, _trig_rule)
_rules.register(DST, _trig_rule)


# -- convolution -------------------------------------------------------------------------------

def _conv_plan(n: int, n_out: int):
    """``(N, P1, P2)`` for a full convolution: the circulant size and the two L-block counts.

    ``X₁`` keeps rows ``< n_out`` of an N-point Monarch with ``P1`` L blocks (needs
    ``P1 | n_out``), ``X₂`` rows ``< n`` (needs ``P2 | n``); ``N`` is the least multiple of
    ``lcm(P1, P2)`` that is ``>= n_out`` with at least two R blocks.  Minimises the parameter
    count, then prefers ``P1 == P2`` (no middle permutation).
    """
    best = None
    for P1 in _divisors(n_out):
        for P2 in _divisors(n):
            if P1 < 2 or P2 < 2:
                continue
            lcm = P1 * P2 // math.gcd(P1, P2)
            N = lcm * max(1, -(-max(n_out, 2 * P1, 2 * P2) // lcm))
            K1, K2 = N // P1, N // P2
            cost = K1 * P1 * P1 + n_out * K1 + K2 * P2 * P2 + n * K2
            key = (cost, P1 != P2, N)
            if best is None or key < best[0]:
                best = (key, (N, P1, P2))
    if best is None:
        raise ValueError(
            f"a full convolution with n={n} has no Monarch form: to_monarch needs n >= 2 "
            f"(and kernel length >= 1)"
        )
    return best[1]


@_rules.register(Convolution)
def _(X, nblocks, xp):
    """``C = F⁻¹ diag(F c) F``.  With ``F = M Q`` (DFT rule) and ``F = Fᵀ = Qᵀ Mᵀ``:
    ``C = (1/N) M̄₁ Q₁ diag(F c) Q₂ᵀ M₂ᵀ = X₁ Π X₂ᴴ`` where ``X₁ = M̄₁ diag(Q₁ F c / N)``
    (diagonal folded into R's columns), ``X₂ = M̄₂`` and ``Π = Q₁ Q₂ᵀ`` (the identity when both
    splits agree, giving ``MM*``).  Full mode keeps rows ``< n + len - 1`` of ``X₁`` and rows
    ``< n`` of ``X₂`` (rectangular Monarch factors)."""
    X = _on(X, xp)
    ns = X.xp
    c = X.kernel
    cdt = B.complex_dtype_for(ns, c.dtype)
    n = X.n
    n_out = X.shape[0]
    if X.mode == "circular":
        try:
            k = _split(n, nblocks, "circular Convolution")
        except ValueError as exc:
            if nblocks is not None:
                raise
            raise ValueError(f"{exc}; for other n use mode='full', which embeds the "
                             f"convolution in a circulant of composite size") from None
        N, P1, P2 = n, n // k, n // k
    else:
        N, P1, P2 = _conv_plan(n, n_out)
    K1, K2 = N // P1, N // P2
    L1, R1, q1 = _dft_blocks(N, K1, +1)
    if P2 == P1:
        L2, R2, q2 = L1, R1, q1
    else:
        L2, R2, q2 = _dft_blocks(N, K2, +1)
    spec = B.fft(ns, c, axis=0, n=N)                      # F c, in the kernel's namespace
    spec = ns.astype(spec, cdt) if spec.dtype != cdt else spec
    d = ns.take(spec, ns.asarray(q1), axis=0) / N        # Q₁ (F c) / N
    R1x = _arr(ns, R1, cdt) * ns.reshape(d, (K1, 1, P1))
    X1 = Monarch(_arr(ns, L1[:, : n_out // P1, :], cdt), R1x)
    X2 = Monarch(_arr(ns, L2[:, : n // P2, :], cdt), _arr(ns, R2, cdt))
    factors: list[StructuredMatrix] = [X1]
    if P1 != P2:
        inv2 = np.argsort(q2)
        factors.append(_perm(ns, inv2[q1], cdt))
    factors.append(_star(X2))
    return factors
