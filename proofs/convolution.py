"""CLAIMS items 7 and 11: circulant (convolution), Toeplitz and AFDF matrices in ``M M*``.

With the DFT's factors ``F_n P = P L P^T R`` (item 8: ``L = I ⊗ F_m``, ``R = diag(D_k F_m)``):

* convolution ``C = F^-1 diag(F c) F = (1/n) X1 X2^H`` with ``X1 = P R^H P^T L''``,
  ``X2 = P R^H P^T`` and ``L'' = L^H (P^T diag(F c) P) L`` (item 11);
* Toeplitz: the ``n x n`` Toeplitz matrix of ``t_{-(n-1)}..t_{n-1}`` is the top-left corner of
  the ``2n`` circulant with kernel ``(t_0, ..., t_{n-1}, 0, t_{-(n-1)}, ..., t_{-1})``: expansion
  ``e = 2`` (the paper does not say whether it needs one);
* AFDF ``A F D F^-1 = (1/n) M1 M2^H`` with ``M1 = P ((P^T A P) L) P^T R''``,
  ``R'' = R (P^T D P) R^H`` and ``M2 = P L P^T``.

The kernel (or, for larger ``n``, the spectrum ``F c``, an equivalent free parametrisation since
``F`` is invertible) and the diagonals are symbols; identities are checked as exact polynomial
identities over ``Q(zeta_n)``.
"""

from __future__ import annotations

import math
from fractions import Fraction

from structmat.exact import ExactDense, ExactMonarch, ExactProduct, ExactRing, exact_equal, stride_permutation

from ._core import Claim, Outcome

KERNEL_MAX = 16   # symbolic kernel up to this size, symbolic spectrum beyond


def _dft_blocks(ring: ExactRing, n: int):
    """Blocks of item 8's square factors: ``L_b = F_m`` and ``R_k = D_k F_m`` over ``Q(zeta_n)``."""
    m = math.isqrt(n)
    z = lambda e: ring.zeta(e * (ring.N // n))
    L = [[[z(-m * d * c) for c in range(m)] for d in range(m)] for _ in range(m)]
    R = [[[z(-(k * r + m * r * j)) for j in range(m)] for r in range(m)] for k in range(m)]
    return L, R


def _adj(block, ring):
    return [[ring.conj(block[i][j]) for i in range(len(block))] for j in range(len(block[0]))]


def _matmul(A, B, ring):
    return [[ring.reduce(sum((A[i][k] * B[k][j] for k in range(len(B))), ring.zero)) for j in range(len(B[0]))]
            for i in range(len(A))]


def _diag_mul(d, A, ring, left=True):
    if left:
        return [[ring.reduce(d[i] * A[i][j]) for j in range(len(A[0]))] for i in range(len(A))]
    return [[ring.reduce(A[i][j] * d[j]) for j in range(len(A[0]))] for i in range(len(A))]


def _spectrum(ring, n, symbols, mode):
    """``F c`` for a symbolic kernel, or the symbolic spectrum itself."""
    sym = [ring.symbol(s) for s in symbols]
    if mode == "kernel":
        step = ring.N // n
        return [ring.reduce(sum((ring.zeta(-step * t * i) * sym[i] for i in range(n)), ring.zero)) for t in range(n)]
    return sym


def _kernel_from(ring, n, symbols, mode):
    """The kernel ``c`` (symbols, or ``F^-1`` of the symbolic spectrum)."""
    sym = [ring.symbol(s) for s in symbols]
    if mode == "kernel":
        return sym
    step = ring.N // n
    inv_n = ring.from_int(Fraction(1, n))
    return [ring.reduce(sum((ring.zeta(step * k * t) * sym[k] for k in range(n)), ring.zero) * inv_n) for t in range(n)]


def circulant_witness(n: int, mode: str, perturb: bool = False):
    m = math.isqrt(n)
    if m * m != n:
        raise ValueError(f"this witness uses the square Monarch: n must be m^2; got {n}")
    names = [f"c{i}" for i in range(n)]
    ring = ExactRing(n, names)
    L, R = _dft_blocks(ring, n)
    v = _spectrum(ring, n, names, mode)
    perm = stride_permutation(m, m)
    Lpp = []
    for b in range(m):
        d = [v[int(perm[b * m + t])] for t in range(m)]           # P^T diag(v) P, block b
        Lpp.append(_matmul(_adj(L[b], ring), _diag_mul(d, L[b], ring), ring))
    if perturb:
        Lpp[0][0][0] = ring.reduce(Lpp[0][0][0] + ring.one)
    Rh = [_adj(Rk, ring) for Rk in R]
    X1 = ExactMonarch(Rh, Lpp, ring)
    X2 = ExactMonarch(Rh, ExactMonarch.identity(n, ring).R, ring)
    return ring, n, names, mode, X1, X2


def check_circulant(w, n: int, corner: int | None = None) -> Outcome:
    ring, N_, names, mode, X1, X2 = w
    c = _kernel_from(ring, N_, names, mode)
    size = corner or N_
    target = [[ring.reduce(c[(i - j) % N_] * N_) for j in range(size)] for i in range(size)]
    prod = ExactProduct(X1, X2.H)
    D = prod.columns(0, size).to_list()[:size]
    for i in range(size):
        for j in range(size):
            if not ring.equal(D[i][j], target[i][j]):
                return Outcome(False, f"entry ({i}, {j}) of X1 X2^H differs from n·c[(i-j) mod n]")
    what = "symbolic kernel c" if mode == "kernel" else "symbolic spectrum ĉ = F c (kernel c = F^-1 ĉ)"
    if corner:
        return Outcome(True, f"{corner}x{corner} Toeplitz = corner of (1/{N_}) X1 X2^H, X1, X2 ∈ M (size {N_}, "
                             f"expansion 2), {what}")
    return Outcome(True, f"circulant(c) = (1/{N_}) X1 X2^H with X1 = P R^H P^T L'', X2 = P R^H P^T, {what}")


def _circ_mode(n):
    return "kernel" if n <= KERNEL_MAX else "spectrum"


# -- AFDF ----------------------------------------------------------------------------------------

def afdf_witness(n: int, perturb: bool = False):
    m = math.isqrt(n)
    if m * m != n:
        raise ValueError(f"n must be m^2; got {n}")
    names = [f"a{i}" for i in range(n)] + [f"d{i}" for i in range(n)]
    ring = ExactRing(n, names)
    L, R = _dft_blocks(ring, n)
    a = [ring.symbol(f"a{i}") for i in range(n)]
    d = [ring.symbol(f"d{i}") for i in range(n)]
    perm = stride_permutation(m, m)
    L1 = [_diag_mul([a[int(perm[b * m + t])] for t in range(m)], L[b], ring) for b in range(m)]
    Rpp = []
    for k in range(m):
        dd = [d[int(perm[k * m + t])] for t in range(m)]
        Rpp.append(_matmul(_diag_mul(dd, R[k], ring, left=False), _adj(R[k], ring), ring))
    if perturb:
        Rpp[0][0][1] = ring.reduce(Rpp[0][0][1] + ring.one)
    M1 = ExactMonarch(L1, Rpp, ring)
    M2 = ExactMonarch(L, ExactMonarch.identity(n, ring).R, ring)
    return ring, n, a, d, M1, M2


def check_afdf(w, n: int) -> Outcome:
    ring, n, a, d, M1, M2 = w
    step = ring.N // n
    D = ExactProduct(M1, M2.H).to_dense().to_list()
    for i in range(n):
        for j in range(n):
            t = ring.reduce(sum((ring.zeta(step * k * (j - i)) * d[k] for k in range(n)), ring.zero) * a[i])
            if not ring.equal(D[i][j], t):
                return Outcome(False, f"entry ({i}, {j}) of M1 M2^H differs from n·(A F D F^-1)[i, j]")
    return Outcome(True, f"A F D F^-1 = (1/{n}) M1 M2^H, M1 = P((P^T A P) L)P^T R'', M2 = P L P^T, symbolic A, D")


CLAIMS = [
    Claim(
        name="convolution-mmstar",
        item="11, 7",
        statement="circulant(c) = F^-1 diag(F c) F = (1/n) X1 X2^H with X1, X2 ∈ M (c symbolic)",
        method="SymPy polynomials over Q(ζ_n), structured products",
        quick=(4, 16), full=(4, 16, 64),
        witness=lambda n: circulant_witness(n, _circ_mode(n)),
        check=check_circulant,
        negative=lambda n: circulant_witness(n, _circ_mode(n), perturb=True),
        negative_label="L'' with one entry + 1",
    ),
    Claim(
        name="toeplitz-mmstar",
        item="7",
        statement="an n x n Toeplitz matrix is the corner of a 2n circulant: in (M M*)^1 with expansion e = 2",
        method="SymPy polynomials over Q(ζ_2n)",
        quick=(2, 8), full=(2, 8, 32),
        witness=lambda n: circulant_witness(2 * n, _circ_mode(2 * n)),
        check=lambda w, n: check_circulant(w, 2 * n, corner=n),
        negative=lambda n: circulant_witness(2 * n, _circ_mode(2 * n), perturb=True),
        negative_label="L'' with one entry + 1",
        notes="*Expansion used.* T (n x n, entries t_(i-j)) is the top-left corner of the 2n x 2n circulant "
              "with kernel (t_0, ..., t_(n-1), 0, t_-(n-1), ..., t_-1): T ∈ (M M*)^1 with expansion e = 2. "
              "Whether Toeplitz matrices lie in M M* without expansion is not decided here.",
    ),
    Claim(
        name="afdf-mmstar",
        item="7",
        statement="A F D F^-1 (A, D diagonal) = (1/n) M1 M2^H ∈ M M*",
        method="SymPy polynomials over Q(ζ_n)",
        quick=(4, 16), full=(4, 16, 64),
        witness=afdf_witness, check=check_afdf,
        negative=lambda n: afdf_witness(n, perturb=True),
        negative_label="R'' with one entry + 1",
    ),
]
