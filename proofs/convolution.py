"""Proposition 3.2 of the paper: circulant (convolution), Toeplitz and AFDF matrices in ``M M*``.

With the DFT's factors ``F_n P = P L P^T R`` (the four-step FFT: ``L = I ⊗ F_m``, ``R = diag(D_k F_m)``):

* convolution ``C = F^-1 diag(F c) F = (1/n) X1 X2^H`` with ``X1 = P R^H P^T L''``,
  ``X2 = P R^H P^T`` and ``L'' = L^H (P^T diag(F c) P) L``;
* Toeplitz: the ``n x n`` Toeplitz matrix of ``t_{-(n-1)}..t_{n-1}`` is the top-left corner of
  the ``2n`` circulant with kernel ``(t_0, ..., t_{n-1}, 0, t_{-(n-1)}, ..., t_{-1})``: expansion
  ``e = 2`` (the paper does not say whether it needs one);
* AFDF ``A F D F^-1 = (1/n) M1 M2^H`` with ``M1 = P ((P^T A P) L) P^T R''``,
  ``R'' = R (P^T D P) R^H`` and ``M2 = P L P^T``.

The kernel (or, for the Toeplitz corners beyond ``2n = 16``, the spectrum ``F c``, an equivalent
free parametrisation since ``F`` is invertible) and the diagonals are symbols; identities are
checked as exact polynomial identities over ``Q(zeta_n)``.  For the convolution claim beyond
``n = 16`` the symbolic kernel is handled by linearity (see :func:`basis_witness`): the identity
holds for all ``c`` iff it holds for the ``n`` basis kernels ``e_s``, whose circulants are the
cyclic shifts ``S^s``; those ``n`` identities are checked on the vectorised monomial path.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from structmat.exact import (
    ExactMonarch,
    ExactProduct,
    ExactRing,
    MonomialMatrix,
    MonomialMonarch,
    monomial_equal,
    stride_permutation,
    sums_vanish,
)

from ._common import admits, composite, proper_splits, square
from ._core import Claim, Control, Outcome

KERNEL_MAX = 16  # symbolic kernel up to this size, symbolic spectrum beyond


def _dft_blocks(ring: ExactRing, n: int):
    """Blocks of the DFT's square Monarch factors: ``L_b = F_m`` and ``R_k = D_k F_m`` over ``Q(zeta_n)``."""
    m = math.isqrt(n)
    z = lambda e: ring.zeta(e * (ring.N // n))
    L = [[[z(-m * d * c) for c in range(m)] for d in range(m)] for _ in range(m)]
    R = [[[z(-(k * r + m * r * j)) for j in range(m)] for r in range(m)] for k in range(m)]
    return L, R


def _adj(block, ring):
    return [[ring.conj(block[i][j]) for i in range(len(block))] for j in range(len(block[0]))]


def _matmul(A, B, ring):
    return [
        [
            ring.reduce(sum((A[i][k] * B[k][j] for k in range(len(B))), ring.zero))
            for j in range(len(B[0]))
        ]
        for i in range(len(A))
    ]


def _diag_mul(d, A, ring, left=True):
    if left:
        return [[ring.reduce(d[i] * A[i][j]) for j in range(len(A[0]))] for i in range(len(A))]
    return [[ring.reduce(A[i][j] * d[j]) for j in range(len(A[0]))] for i in range(len(A))]


def _spectrum(ring, n, symbols, mode):
    """``F c`` for a symbolic kernel, or the symbolic spectrum itself."""
    sym = [ring.symbol(s) for s in symbols]
    if mode == "kernel":
        step = ring.N // n
        return [
            ring.reduce(sum((ring.zeta(-step * t * i) * sym[i] for i in range(n)), ring.zero))
            for t in range(n)
        ]
    return sym


def _kernel_from(ring, n, symbols, mode):
    """The kernel ``c`` (symbols, or ``F^-1`` of the symbolic spectrum)."""
    sym = [ring.symbol(s) for s in symbols]
    if mode == "kernel":
        return sym
    step = ring.N // n
    inv_n = ring.from_int(Fraction(1, n))
    return [
        ring.reduce(sum((ring.zeta(step * k * t) * sym[k] for k in range(n)), ring.zero) * inv_n)
        for t in range(n)
    ]


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
        d = [v[int(perm[b * m + t])] for t in range(m)]  # P^T diag(v) P, block b
        Lpp.append(_matmul(_adj(L[b], ring), _diag_mul(d, L[b], ring), ring))
    if perturb:
        Lpp[0][0][0] = ring.reduce(Lpp[0][0][0] + ring.one)
    Rh = [_adj(Rk, ring) for Rk in R]
    X1 = ExactMonarch(Rh, Lpp, ring)
    X2 = ExactMonarch(Rh, ExactMonarch.identity(n, ring).R, ring)
    return ring, n, names, mode, X1, X2


class BadTarget(tuple):
    """A witness wrapped as a negative control on the target: the check perturbs one entry (or
    one shift) of the matrix it builds from the definition."""


def _bad_target(w):
    return BadTarget((w,))


def check_circulant(w, n: int, corner: int | None = None) -> Outcome:
    bad = isinstance(w, BadTarget)
    if bad:
        w = w[0]
    ring, N_, names, mode, X1, X2 = w
    c = _kernel_from(ring, N_, names, mode)
    size = corner or N_
    target = [[ring.reduce(c[(i - j) % N_] * N_) for j in range(size)] for i in range(size)]
    if bad:
        target[0][1] = ring.reduce(target[0][1] + ring.one)
    prod = ExactProduct(X1, X2.H)
    D = prod.columns(0, size).to_list()[:size]
    for i in range(size):
        for j in range(size):
            if not ring.equal(D[i][j], target[i][j]):
                return Outcome(False, f"entry ({i}, {j}) of X1 X2^H differs from n·c[(i-j) mod n]")
    what = (
        "symbolic kernel c" if mode == "kernel" else "symbolic spectrum ĉ = F c (kernel c = F^-1 ĉ)"
    )
    if corner:
        return Outcome(
            True,
            f"{corner}x{corner} Toeplitz = corner of (1/{N_}) X1 X2^H, X1, X2 ∈ M (size {N_}, "
            f"expansion 2), {what}",
        )
    return Outcome(
        True, f"circulant(c) = (1/{N_}) X1 X2^H with X1 = P R^H P^T L'', X2 = P R^H P^T, {what}"
    )


def _circ_mode(n):
    return "kernel" if n <= KERNEL_MAX else "spectrum"


# -- symbolic kernel by linearity: one monomial identity per basis kernel ------------------------
#
# Both sides of ``circulant(c) = (1/n) X1(c) X2^H`` are linear in the kernel ``c``:
# ``circulant(c) = sum_s c_s S^s`` (``S`` the cyclic shift, ``S^s[i, j] = [i - j = s mod n]``),
# and ``c`` enters the witness only through ``diag(F c)`` inside ``L''(c)``, so
# ``X1(c) = sum_s c_s X1(e_s)`` with ``X1(e_s) = Monarch(R^H, L''(e_s))``.  A linear identity in
# the symbols ``c_0..c_(n-1)`` holds for every ``c`` iff it holds for each basis kernel ``e_s``:
# the symbolic-kernel claim is exactly the ``n`` identities ``X1(e_s) X2^H = n S^s`` over
# ``Q(zeta_n)``.  Each ``L''(e_s)`` turns out monomial (``F_q^H diag(zeta^.) F_q`` is ``q`` times
# a scaled cyclic shift), which is decided exactly from its defining sums below.  Since
# ``X2^H X2 = b I`` (checked exactly) and ``X2`` is square, ``X2`` is invertible with
# ``X2 X2^H = b I`` as well, hence ``X1(e_s) X2^H = n S^s  <=>  X1(e_s) = (n/b) S^s X2``: an
# entrywise equality of monomial matrices (``monomial_equal``), no sums of ``n`` terms needed.


def _split(n: int) -> int:
    """``sqrt(n)`` for a square ``n`` (the witness of the symbolic path), else the most balanced
    proper divisor."""
    m = math.isqrt(n)
    if m * m == n:
        return m
    splits = proper_splits(n)
    if not splits:
        raise ValueError(f"n must have a proper divisor for a Monarch split; got {n}")
    return min(splits, key=lambda d: (abs(d - m), d))


def _basis_blocks(n: int, b: int, perturb: bool = False):
    """Monomial blocks of ``L''(e_s)`` for every ``s``: ``(exp, coef)`` of shape ``(n, b, q, q)``.

    ``L''(e_s)_g = F_q^H diag(d_g) F_q`` (the DFT factor's ``L_g = F_q``) with ``d = P_out^T F e_s``,
    ``(F e_s)[t] = zeta_n^(-t s)``, and ``P_out = stride_permutation(b, q)`` the output
    permutation of ``F_n P_(b,n) = Monarch(L, R)``.  Each entry is a sum of ``q`` roots of unity;
    entries whose terms share one exponent are ``q zeta^e``, every other entry must vanish
    exactly (:func:`sums_vanish`), otherwise ``ValueError``.
    """
    q = n // b
    idx = np.argsort(stride_permutation(b, q)).reshape(b, q)  # d[g q + u] = v[idx[g, u]]
    u = np.arange(q)
    ij = (
        b * u[None, None, :] * (np.arange(q)[:, None, None] - np.arange(q)[None, :, None])
    ) % n  # (i, j, u)
    exp = np.empty((n, b, q, q), dtype=np.int64)
    coef = np.empty_like(exp)
    chunk = max(1, (1 << 20) // (b * q**3))
    for s0 in range(0, n, chunk):
        s = np.arange(s0, min(n, s0 + chunk))
        dexp = (-(idx[None] * s[:, None, None])) % n  # (S, g, u)
        E = (ij[None, None] + dexp[:, :, None, None, :]) % n  # (S, g, i, j, u)
        single = (E == E[..., :1]).all(axis=-1)
        mixed = ~single
        if mixed.any():
            ent = np.nonzero(mixed.ravel())[0]
            terms = E.reshape(-1, q)[ent]
            zero = sums_vanish(
                np.repeat(np.arange(ent.size), q),
                terms.ravel(),
                np.ones(terms.size, dtype=np.int64),
                n,
                ent.size,
            )
            if not zero.all():
                raise ValueError(
                    f"L''(e_s) has an entry that is not a monomial c·ζ^e (n={n}, b={b})"
                )
        exp[s] = np.where(single, E[..., 0], 0)
        coef[s] = np.where(single, q, 0)
    if perturb:
        s = 1 % n
        j = int(np.argmax(coef[s, 0, 0] != 0))
        exp[s, 0, 0, j] = (exp[s, 0, 0, j] + 1) % n  # one twiddle times zeta_n
    return exp, coef


def basis_witness(n: int, perturb: bool = False):
    """The convolution witness per basis kernel: ``(n, b, X2, X1s)`` with monomial Monarch
    matrices ``X2 = Monarch(R^H, I)`` and ``X1s[s] = Monarch(R^H, L''(e_s))`` in ``M^(b,n)``.

    ``R^H`` has the ``q = n/b`` blocks ``(D_c F_b)^H`` of the DFT's factors; for a square ``n`` these are
    the blocks of :func:`circulant_witness`.  ``perturb`` multiplies one twiddle of
    ``L''(e_1)`` by ``zeta_n`` (a negative control).
    """
    b = _split(n)
    q = n // b
    c = np.arange(q)[:, None, None]
    j = np.arange(b)[None, :, None]
    r = np.arange(b)[None, None, :]
    rh = np.broadcast_to((c * r + q * r * j) % n, (q, b, b)).copy()  # (D_c F_b)^H[j, r]
    ones = np.ones_like(rh)
    eye = np.broadcast_to(np.eye(q, dtype=np.int64), (b, q, q)).copy()
    X2 = MonomialMonarch(rh, ones, np.zeros_like(eye), eye, N=n, name="X2")
    le, lc = _basis_blocks(n, b, perturb)
    X1s = [MonomialMonarch(rh, ones, le[s], lc[s], N=n, name=f"X1(e_{s})") for s in range(n)]
    return n, b, X2, X1s


def _gram_is_scalar(X: MonomialMatrix, b: int) -> bool:
    """Exact test of ``X^H X = b I``: entry ``(i, j)`` is ``sum_k conj(X[k, i]) X[k, j]`` over the
    nonzero entries of row ``k`` (rows padded to equal width with zero coefficients)."""
    n = X.shape[0]
    e, c = X.dense()
    nz = c != 0
    w = max(int(nz.sum(axis=1).max()), 1)
    cols = np.argsort(~nz, axis=1, kind="stable")[:, :w]  # nonzero columns first
    ec = np.take_along_axis(e, cols, axis=1)
    cc = np.take_along_axis(c, cols, axis=1)
    ent = cols[:, :, None] * n + cols[:, None, :]
    ex = ec[:, None, :] - ec[:, :, None]
    co = cc[:, :, None] * cc[:, None, :]
    diag = np.arange(n) * (n + 1)
    entry = np.concatenate([ent.ravel(), diag])
    exp = np.concatenate([ex.ravel(), np.zeros(n, dtype=np.int64)])
    coef = np.concatenate([co.ravel(), np.full(n, -b, dtype=np.int64)])
    return bool(sums_vanish(entry, exp, coef, X.N, n * n).all())


def _shifted(X: MonomialMatrix, s: int, e: np.ndarray, c: np.ndarray, scale) -> MonomialMatrix:
    """``scale · S^s X`` (row ``i`` is row ``(i - s) mod n`` of ``X``) from ``X``'s dense rows."""
    n = X.shape[0]

    def fn(r0, r1):
        rows = (np.arange(r0, r1) - s) % n
        return e[rows], c[rows]

    return MonomialMatrix(X.shape, X.N, fn, scale, f"{scale}·S^{s}·{X.name}")


def check_basis(w, n: int) -> Outcome:
    bad = isinstance(w, BadTarget)
    if bad:
        w = w[0]
    n, b, X2, X1s = w
    q = n // b
    if not _gram_is_scalar(X2, b):
        return Outcome(False, f"X2^H X2 ≠ {b} I")
    e2, c2 = X2.dense()
    for s, X1 in enumerate(X1s):
        shift = s + 1 if (bad and s == 0) else s  # the target n S^s with S^1 for S^0
        ok, diff = monomial_equal(X1, _shifted(X2, shift, e2, c2, q))
        if not ok:
            (ca, ea), (cb, eb) = diff[2], diff[3]
            return Outcome(
                False,
                f"basis kernel e_{s}: entry {diff[:2]} of X1(e_{s}) differs from "
                f"({n}/{b}) (S^{s} X2): {ca}·ζ_{n}^{ea} vs {q * cb}·ζ_{n}^{eb}",
            )
    return Outcome(
        True,
        f"circulant(c) = (1/{n}) X1(c) X2^H, X1 = Monarch(R^H, L''(c)), X2 = Monarch(R^H, I) "
        f"in M^({b},{n}), symbolic kernel c by linearity: X2^H X2 = {b} I and "
        f"X1(e_s) = {q} S^s X2 for all {n} basis kernels e_s",
    )


def _conv_witness(n: int, perturb: bool = False):
    if n <= KERNEL_MAX and math.isqrt(n) ** 2 == n:
        return circulant_witness(n, "kernel", perturb=perturb)
    return basis_witness(n, perturb=perturb)


def check_convolution(w, n: int) -> Outcome:
    """Dispatch: the symbolic-kernel witness of :func:`circulant_witness` or the basis witness."""
    inner = w[0] if isinstance(w, BadTarget) else w
    if isinstance(inner[0], ExactRing):
        return check_circulant(w, n)
    return check_basis(w, n)


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
    bad = isinstance(w, BadTarget)
    if bad:
        w = w[0]
    ring, n, a, d, M1, M2 = w
    step = ring.N // n
    D = ExactProduct(M1, M2.H).to_dense().to_list()
    for i in range(n):
        for j in range(n):
            t = ring.reduce(
                sum((ring.zeta(step * k * (j - i)) * d[k] for k in range(n)), ring.zero) * a[i]
            )
            if bad and (i, j) == (0, 1):
                t = ring.reduce(t + ring.one)
            if not ring.equal(D[i][j], t):
                return Outcome(
                    False, f"entry ({i}, {j}) of M1 M2^H differs from n·(A F D F^-1)[i, j]"
                )
    return Outcome(
        True,
        f"A F D F^-1 = (1/{n}) M1 M2^H, M1 = P((P^T A P) L)P^T R'', M2 = P L P^T, symbolic A, D",
    )


CLAIMS = [
    Claim(
        name="convolution-mmstar",
        item="Proposition 3.2 (convolution ∈ MM*)",
        statement="circulant(c) = F^-1 diag(F c) F = (1/n) X1 X2^H with X1, X2 ∈ M (c symbolic)",
        method="n ≤ 16: SymPy polynomials in c over Q(ζ_n); beyond: linear in c ⇒ n basis kernels e_s, "
        "monomial identities",
        quick=(4, 16, 24),
        full=(4, 16, 24, 32, 64, 128, 256),
        witness=_conv_witness,
        check=check_convolution,
        negative=lambda n: _conv_witness(n, perturb=True),
        negative_label="L'' with one entry + 1 (n ≤ 16) / one twiddle of L''(e_1) times ζ_n (beyond)",
        controls=(
            Control(
                "target with entry (0, 1) + 1 (n ≤ 16) / n S^1 in place of n S^0 (beyond)",
                "target",
                lambda n: _bad_target(_conv_witness(n)),
            ),
        ),
        admits=admits(composite, limit=512, why="n basis kernels of n^2 entries"),
        notes="*Symbolic kernel by linearity (n > 16).* Both sides are linear in the kernel c: "
        "circulant(c) = Σ_s c_s S^s (S the cyclic shift) and X1(c) = Σ_s c_s X1(e_s), since c enters "
        "only through diag(F c) in L''. So the identity holds for symbolic c iff X1(e_s) X2^H = n S^s "
        "for each basis kernel e_s, s = 0..n-1, over Q(ζ_n). Each L''(e_s) is decided monomial exactly "
        "from its defining sums; X2^H X2 = b I is checked exactly, so X2 is invertible and the n "
        "identities are equivalent to the entrywise monomial equalities X1(e_s) = (n/b) S^s X2. "
        "Non-square n (e.g. 32, 128) use the DFT's Monarch factors for the most balanced split b | n.",
    ),
    Claim(
        name="toeplitz-mmstar",
        item="Proposition 3.2 (Toeplitz ∈ MM*)",
        statement="an n x n Toeplitz matrix is the corner of a 2n circulant: in (M M*)^1 with expansion e = 2",
        method="SymPy polynomials over Q(ζ_2n)",
        quick=(2, 8),
        full=(2, 8, 32),
        witness=lambda n: circulant_witness(2 * n, _circ_mode(2 * n)),
        check=lambda w, n: check_circulant(w, 2 * n, corner=n),
        negative=lambda n: circulant_witness(2 * n, _circ_mode(2 * n), perturb=True),
        negative_label="L'' with one entry + 1",
        controls=(
            Control(
                "Toeplitz target with entry (0, 1) + 1",
                "target",
                lambda n: _bad_target(circulant_witness(2 * n, _circ_mode(2 * n))),
            ),
        ),
        admits=admits(
            lambda n: (
                None
                if square(2 * n) is None
                else f"2n = {2 * n} is not a square (the witness uses the square Monarch)"
            ),
            limit=32,
            why="symbolic kernel",
        ),
        notes="*Expansion used.* T (n x n, entries t_(i-j)) is the top-left corner of the 2n x 2n circulant "
        "with kernel (t_0, ..., t_(n-1), 0, t_-(n-1), ..., t_-1): T ∈ (M M*)^1 with expansion e = 2. "
        "Whether Toeplitz matrices lie in M M* without expansion is not decided here.",
    ),
    Claim(
        name="afdf-mmstar",
        item="Proposition 3.2 (AFDF ∈ MM*)",
        statement="A F D F^-1 (A, D diagonal) = (1/n) M1 M2^H ∈ M M*",
        method="SymPy polynomials over Q(ζ_n)",
        quick=(4, 16),
        full=(4, 16, 64),
        witness=afdf_witness,
        check=check_afdf,
        negative=lambda n: afdf_witness(n, perturb=True),
        negative_label="R'' with one entry + 1",
        controls=(
            Control(
                "target with entry (0, 1) + 1", "target", lambda n: _bad_target(afdf_witness(n))
            ),
        ),
        admits=admits(square, limit=64, why="symbolic A, D: dense polynomial entries"),
    ),
]
