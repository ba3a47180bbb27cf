"""Vectorised exact arithmetic on matrices of roots of unity (the large-size path).

A *monomial* matrix has entries ``c * zeta_N^e`` with ``c`` a non-negative integer (``c = 0``
is the zero entry) times one rational ``scale`` for the whole matrix.  With ``N`` even, every
nonzero ``c' zeta^e'`` with ``c'`` a nonzero integer has the unique form ``|c'| zeta^(e' + N/2 [c'<0])``:
``c zeta^a = c' zeta^b`` with ``c, c' > 0`` forces ``zeta^(a-b) = c'/c > 0``, hence
``a = b (mod N)`` and ``c = c'``.  Equality of canonical ``(c, e mod N)`` pairs is therefore
exact equality in ``Q(zeta_N)``, and products are integer additions of exponents — NumPy
``int64`` arithmetic, no rounding anywhere (overflow is checked).

This is the representation of the DFT (``zeta_n^(-jk)``), its four-step factors and twiddles,
Hadamard matrices (``+-1``) and permutations.  A Monarch matrix whose slabs have rank one
(every connecting set of the Monarch entry view has one element) has monomial entries
``L[b, d, c] R[a, i, j]`` when its blocks do, so identities such as ``F_n P = Monarch(L, R)``
are checked entry by entry, one row chunk at a time: memory O(chunk * n), work O(n^2).

Sums of roots of unity (:func:`sums_vanish`) are decided exactly: for ``N`` a power of two by
folding ``zeta^e = -zeta^(e - N/2)`` onto the basis ``1, zeta, ..., zeta^(N/2-1)``; otherwise
terms with equal exponent are merged and any entry that does not cancel that way is decided
by the SymPy ring (remainder modulo ``Phi_N``).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from .cyclo import find_prime, root_of_unity_mod
from .ring import ExactRing

__all__ = [
    "MonomialMatrix",
    "MonomialMonarch",
    "monomial_equal",
    "slab_rank_one",
    "modular_slab_ranks",
    "sums_vanish",
    "canonical_monomials",
]

_LIMIT = 1 << 62


def canonical_monomials(exp: np.ndarray, coef: np.ndarray, N: int) -> tuple[np.ndarray, np.ndarray]:
    """Canonical ``(exp, coef)`` arrays: ``coef >= 0``, ``exp`` in ``[0, N)``, ``exp = 0`` where zero.

    Negative coefficients need ``N`` even (``-1 = zeta^(N/2)``).

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.exact import canonical_monomials
    >>> canonical_monomials(np.array([1, 9, 3]), np.array([-2, 1, 0]), 8)
    (array([5, 1, 0]), array([2, 1, 0]))
    """
    exp = np.asarray(exp, dtype=np.int64)
    coef = np.asarray(coef, dtype=np.int64)
    neg = coef < 0
    if neg.any():
        if N % 2:
            raise ValueError(f"negative coefficients need an even conductor; got N={N}")
        exp = exp + neg * (N // 2)
        coef = np.abs(coef)
    if exp.size:
        lo, hi = int(exp.min()), int(exp.max())
        if lo >= 0 and hi < 2 * N:
            if hi >= N:  # one subtraction is cheaper than a division
                exp = exp - N * (exp >= N)
        elif lo < 0 or hi >= N:
            exp = np.mod(exp, N)
    zero = coef == 0
    if zero.any():
        exp = np.where(zero, 0, exp)
    return exp, coef


def _mul_coef(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ma = int(np.abs(a).max()) if a.size else 0
    mb = int(np.abs(b).max()) if b.size else 0
    if ma and mb and ma * mb >= _LIMIT:
        raise OverflowError("monomial coefficients exceed the exact int64 range")
    return a * b


class MonomialMatrix:
    """An exact matrix ``scale * [coef * zeta_N^exp]`` produced one row chunk at a time.

    Parameters
    ----------
    shape : (int, int)
    N : int
        Conductor (made even by the constructors when negative signs occur).
    rows_fn : callable
        ``rows_fn(r0, r1) -> (exp, coef)``, int64 arrays of shape ``(r1 - r0, ncols)``.
    scale : Fraction or int
        A rational factor of the whole matrix.
    name : str

    Examples
    --------
    >>> from structmat.exact import MonomialMatrix
    >>> F = MonomialMatrix.dft(4)
    >>> F.rows(0, 4)[0].tolist()
    [[0, 0, 0, 0], [0, 3, 2, 1], [0, 2, 0, 2], [0, 1, 2, 3]]
    """

    def __init__(self, shape, N: int, rows_fn: Callable, scale: Any = 1, name: str = ""):
        self.shape = (int(shape[0]), int(shape[1]))
        self.N = int(N)
        self._rows_fn = rows_fn
        self.scale = Fraction(scale)
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.shape[0]}x{self.shape[1]} MonomialMatrix {self.name} over Q(zeta_{self.N})>"

    def rows(self, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
        """Canonical ``(exp, coef)`` of rows ``r0:r1``."""
        e, c = self._rows_fn(r0, r1)
        return canonical_monomials(e, c, self.N)

    def dense(self) -> tuple[np.ndarray, np.ndarray]:
        """All rows (small matrices only)."""
        return self.rows(0, self.shape[0])

    # -- constructors ------------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, exp, coef, N: int, scale: Any = 1, name: str = "") -> MonomialMatrix:
        """A monomial matrix from full ``exp`` and ``coef`` arrays."""
        e, c = canonical_monomials(np.asarray(exp), np.asarray(coef), N)
        if e.ndim != 2 or e.shape != c.shape:
            raise ValueError("exp and coef must be 2-D arrays of the same shape")
        return cls(e.shape, N, lambda r0, r1: (e[r0:r1], c[r0:r1]), scale, name)

    @classmethod
    def dft(cls, n: int, inverse: bool = False, conductor: int | None = None) -> MonomialMatrix:
        """``F[j, k] = zeta_n^(-jk)`` (``scipy.linalg.dft``); ``inverse`` flips the sign.

        The scale is 1 (unnormalised); ``conductor`` may be any multiple of ``n``.
        """
        N = n if conductor is None else int(conductor)
        if N % n:
            raise ValueError(f"conductor must be a multiple of n={n}; got {N}")
        f = N // n
        sign = 1 if inverse else -1

        def fn(r0, r1):
            j = np.arange(r0, r1, dtype=np.int64)[:, None]
            k = np.arange(n, dtype=np.int64)[None, :]
            e = (sign * ((j * k) % n) * f) % N
            return e, np.ones_like(e)

        return cls((n, n), N, fn, 1, f"F_{n}" + ("^-1" if inverse else ""))

    @classmethod
    def hadamard(cls, n: int) -> MonomialMatrix:
        """Sylvester Hadamard ``H[i, j] = (-1)^popcount(i & j)`` over ``Q(zeta_2)``."""
        if n < 1 or n & (n - 1):
            raise ValueError(f"n must be a power of 2; got {n}")

        def fn(r0, r1):
            i = np.arange(r0, r1, dtype=np.int64)[:, None]
            j = np.arange(n, dtype=np.int64)[None, :]
            bits = i & j
            par = np.zeros(bits.shape, dtype=np.int64)
            while bits.any():
                par ^= bits & 1
                bits = bits >> 1
            return par, np.ones_like(par)

        return cls((n, n), 2, fn, 1, f"H_{n}")

    @classmethod
    def permutation(cls, perm, N: int = 2) -> MonomialMatrix:
        """The permutation matrix ``(P x)[i] = x[perm[i]]``."""
        perm = np.asarray(perm, dtype=np.int64)
        n = perm.size

        def fn(r0, r1):
            c = np.zeros((r1 - r0, n), dtype=np.int64)
            c[np.arange(r1 - r0), perm[r0:r1]] = 1
            return np.zeros_like(c), c

        return cls((n, n), N, fn, 1, "P")

    # -- structured products with permutations -------------------------------------------------
    def permute_columns(self, perm) -> MonomialMatrix:
        """``A @ P`` for ``(P x)[i] = x[perm[i]]``: column ``perm[i]`` of the result is column
        ``i`` of ``A``."""
        perm = np.asarray(perm, dtype=np.int64)
        inv = np.argsort(perm)
        src = self

        def fn(r0, r1):
            e, c = src.rows(r0, r1)
            return e[:, inv], c[:, inv]

        return MonomialMatrix(self.shape, self.N, fn, self.scale, f"{self.name}·P")

    def permute_rows(self, perm) -> MonomialMatrix:
        """``P @ A`` for ``(P x)[i] = x[perm[i]]``: row ``i`` is row ``perm[i]`` of ``A``."""
        perm = np.asarray(perm, dtype=np.int64)
        src = self

        def fn(r0, r1):
            idx = perm[r0:r1]
            # rows of A needed, fetched in one sweep over sorted chunks
            out_e = np.empty((r1 - r0, src.shape[1]), dtype=np.int64)
            out_c = np.empty_like(out_e)
            order = np.argsort(idx)
            sidx = idx[order]
            start = 0
            while start < sidx.size:
                lo = int(sidx[start])
                hi = min(lo + max(r1 - r0, 1), src.shape[0])
                stop = int(np.searchsorted(sidx, hi))
                e, c = src.rows(lo, hi)
                out_e[order[start:stop]] = e[sidx[start:stop] - lo]
                out_c[order[start:stop]] = c[sidx[start:stop] - lo]
                start = stop
            return out_e, out_c

        return MonomialMatrix(self.shape, self.N, fn, self.scale, f"P·{self.name}")

    def perturbed(self, row: int, col: int, de: int = 1) -> MonomialMatrix:
        """The same matrix with entry ``(row, col)`` multiplied by ``zeta^de`` (or set to 1 if
        zero): a negative control."""
        src = self

        def fn(r0, r1):
            e, c = src.rows(r0, r1)
            if r0 <= row < r1:
                e = e.copy()
                c = c.copy()
                if c[row - r0, col] == 0:
                    c[row - r0, col] = 1
                else:
                    e[row - r0, col] += de
            return e, c

        return MonomialMatrix(self.shape, self.N, fn, self.scale, f"{self.name}(perturbed)")

    def to_ring(self, ring: ExactRing):
        """Dense rows of SymPy ring elements (small matrices; for cross-checks)."""
        if ring.N % self.N:
            raise ValueError(f"ring conductor {ring.N} is not a multiple of {self.N}")
        f = ring.N // self.N
        e, c = self.dense()
        s = ring.from_int(self.scale)
        return [
            [
                ring.reduce(ring.zeta(int(e[i, j]) * f, int(c[i, j])) * s)
                for j in range(self.shape[1])
            ]
            for i in range(self.shape[0])
        ]

    def to_complex(self) -> np.ndarray:
        """Numerical values (tests and display only)."""
        e, c = self.dense()
        return float(self.scale) * c * np.exp(2j * np.pi * e / self.N)


class MonomialMonarch(MonomialMatrix):
    """A Monarch matrix (the library's convention) with monomial blocks, evaluated by its entry view.

    ``M[d l + b, a p + j] = sum_{i : (a q + i) mod l = b} L[b, d, (a q + i) div l] R[a, i, j]``;
    every connecting set must have at most one element (slabs of rank one; this covers the
    paper's square Monarch and every ``M^(b,n)``), so each entry is one product of monomials.

    Parameters
    ----------
    L_exp, L_coef : int arrays of shape (l, s, r)
    R_exp, R_coef : int arrays of shape (k, q, p)
    N : int
        Common conductor of the block entries.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.exact import MonomialMonarch
    >>> one = lambda *s: (np.zeros(s, int), np.tile(np.eye(s[1], dtype=int), (s[0], 1, 1)))
    >>> M = MonomialMonarch(*one(2, 2, 2), *one(2, 2, 2), N=2)   # P I P^T I = I
    >>> M.rows(0, 4)[1].tolist()
    [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    """

    def __init__(self, L_exp, L_coef, R_exp, R_coef, N: int, scale: Any = 1, name: str = "Monarch"):
        Le, Lc = canonical_monomials(np.asarray(L_exp), np.asarray(L_coef), N)
        Re, Rc = canonical_monomials(np.asarray(R_exp), np.asarray(R_coef), N)
        if Le.ndim != 3 or Re.ndim != 3 or Le.shape != Lc.shape or Re.shape != Rc.shape:
            raise ValueError("L and R exponent/coefficient arrays must be 3-D and match")
        l, s, r = Le.shape
        k, q, p = Re.shape
        if l * r != k * q:
            raise ValueError(f"middle dimensions differ: l*r = {l * r}, k*q = {k * q}")
        conn = -np.ones((k, l), dtype=np.int64)
        for a in range(k):
            for i in range(q):
                b = (a * q + i) % l
                if conn[a, b] >= 0:
                    raise ValueError(
                        "this geometry has slabs of rank > 1 (several connecting indices); "
                        "use ExactMonarch for it"
                    )
                conn[a, b] = i
        self.L_exp, self.L_coef, self.R_exp, self.R_coef = Le, Lc, Re, Rc
        self.geometry = (k, q, p, l, s, r)
        self._conn = conn

        ones = bool((Lc == 1).all() and (Rc == 1).all() and (conn >= 0).all())
        a_idx = np.arange(k, dtype=np.int64)[None, :]

        def fn(r0, r1):
            rows = np.arange(r0, r1, dtype=np.int64)
            d, b = rows // l, rows % l
            i = conn[:, b].T  # (rows, k): connecting index
            valid = i >= 0
            ii = np.where(valid, i, 0)
            c = (a_idx * q + ii) // l
            le = Le[b[:, None], d[:, None], c]  # (rows, k)
            re = Re[a_idx, ii, :]  # (rows, k, p): contiguous gathers
            e = (le[:, :, None] + re).reshape(rows.size, k * p)
            if ones:
                return e, np.ones_like(e)
            lc = Lc[b[:, None], d[:, None], c] * valid
            rc = Rc[a_idx, ii, :]
            return e, _mul_coef(lc[:, :, None], rc).reshape(rows.size, k * p)

        super().__init__((l * s, k * p), N, fn, scale, name)


def monomial_equal(A: MonomialMatrix, B: MonomialMatrix, chunk: int | None = None):
    """Exact equality of two monomial matrices, row chunk by row chunk.

    Returns ``(True, None)`` or ``(False, (row, col, (cA, eA), (cB, eB)))``.

    Examples
    --------
    >>> from structmat.exact import MonomialMatrix, monomial_equal
    >>> F = MonomialMatrix.dft(8)
    >>> monomial_equal(F, F)[0], monomial_equal(F, F.perturbed(3, 5))[1][:2]
    (True, (3, 5))
    """
    if A.shape != B.shape:
        return False, ("shape", A.shape, B.shape)
    N = A.N * B.N // np.gcd(A.N, B.N)
    fa, fb = N // A.N, N // B.N
    # scale_A * cA == scale_B * cB  <=>  cA * nA * dB == cB * nB * dA
    ka = A.scale.numerator * B.scale.denominator
    kb = B.scale.numerator * A.scale.denominator
    n_rows, n_cols = A.shape
    if chunk is None:
        # about 64k entries per chunk: the temporaries stay in cache
        chunk = max(1, min(n_rows, (1 << 16) // max(n_cols, 1)))
    for r0 in range(0, n_rows, chunk):
        r1 = min(n_rows, r0 + chunk)
        ea, ca = A.rows(r0, r1)
        eb, cb = B.rows(r0, r1)
        va = _mul_coef(ca, np.full_like(ca, ka)) if ka != 1 else ca
        vb = _mul_coef(cb, np.full_like(cb, kb)) if kb != 1 else cb
        if fa == 1 and fb == 1:
            same = (va == vb) & ((va == 0) | (ea == eb))
        else:
            same = (va == vb) & ((va == 0) | ((ea * fa) % N == (eb * fb) % N))
        if not same.all():
            i, j = np.argwhere(~same)[0]
            return False, (
                int(r0 + i),
                int(j),
                (int(ca[i, j]), int(ea[i, j])),
                (int(cb[i, j]), int(eb[i, j])),
            )
    return True, None


def _slab_view(e: np.ndarray, c: np.ndarray, nb: int, q: int):
    """Rows ``r0, r0 + b, ...`` (all columns) reshaped into the ``q`` slabs of ``M^(b,n)``:
    returns arrays of shape ``(q, n/b, b)`` (slab ``c1``, row ``row div b``, column ``col mod b``)."""
    return (
        e.reshape(e.shape[0], q, nb).transpose(1, 0, 2),
        c.reshape(c.shape[0], q, nb).transpose(1, 0, 2),
    )


def slab_rank_one(A: MonomialMatrix, b: int):
    """Exact test that every slab of ``A`` for ``M^(b,n)`` has rank <= 1.

    The slabs are ``A.reshape(n/b, b, n/b, b)[:, r0, c1, :]``.  Each slab uses the pivot
    test of :func:`structmat.exact.rank_at_most_one` with its first nonzero entry as pivot; a
    2x2 minor of monomials vanishes iff its two products are equal canonical monomials.
    Returns ``(True, None)`` or ``(False, witness)`` with the slab, the minor's rows/columns in
    ``A`` and its two (nonzero-difference) products.

    Examples
    --------
    >>> from structmat.exact import MonomialMatrix, slab_rank_one
    >>> slab_rank_one(MonomialMatrix.dft(16), 4)[0]
    False
    >>> from structmat.exact import stride_permutation
    >>> slab_rank_one(MonomialMatrix.dft(16).permute_columns(stride_permutation(4, 4)), 4)[0]
    True
    """
    n_rows, n_cols = A.shape
    if n_rows % b or n_cols % b:
        raise ValueError(f"b={b} must divide both dimensions {A.shape}")
    q = n_cols // b
    N = A.N
    for r0 in range(b):
        rows = np.arange(r0, n_rows, b)
        e, c = _rows_at(A, rows)
        E, C = _slab_view(e, c, b, q)  # (q, q_rows, b)
        nz = C.reshape(q, -1) != 0
        has = nz.any(axis=1)
        piv = np.argmax(nz, axis=1)
        pr, pc = piv // b, piv % b
        s_idx = np.arange(q)
        ea = E[s_idx, pr, pc][:, None, None]
        ca = C[s_idx, pr, pc][:, None, None]
        e_rowq = E[s_idx, :, pc][:, :, None]
        c_rowq = C[s_idx, :, pc][:, :, None]
        e_pj = E[s_idx, pr, :][:, None, :]
        c_pj = C[s_idx, pr, :][:, None, :]
        lc = _mul_coef(C, ca)
        rc = _mul_coef(c_rowq, c_pj)
        le = (E + ea) % N
        re = (e_rowq + e_pj) % N
        ok = (lc == rc) & ((lc == 0) | (le == re))
        ok |= ~has[:, None, None]
        if not ok.all():
            sl, i, j = np.argwhere(~ok)[0]
            return False, {
                "slab": (int(r0), int(sl)),
                "rows": (int(rows[pr[sl]]), int(rows[i])),
                "cols": (int(sl * b + pc[sl]), int(sl * b + j)),
                "products": (
                    (int(lc[sl, i, j]), int(le[sl, i, j])),
                    (int(rc[sl, i, j]), int(re[sl, i, j])),
                ),
                "N": N,
            }
    return True, None


def _rows_at(A: MonomialMatrix, rows: np.ndarray):
    """Rows ``rows`` (sorted) of ``A``, fetched in contiguous chunks."""
    n_cols = A.shape[1]
    out_e = np.empty((rows.size, n_cols), dtype=np.int64)
    out_c = np.empty_like(out_e)
    chunk = max(1, (1 << 16) // max(n_cols, 1))
    pos = 0
    while pos < rows.size:
        lo = int(rows[pos])
        # fetch a contiguous range only while the requested rows are dense in it
        stop = pos + 1
        while stop < rows.size and rows[stop] == rows[stop - 1] + 1 and stop - pos < chunk:
            stop += 1
        hi = int(rows[stop - 1]) + 1
        e, c = A.rows(lo, hi)
        out_e[pos:stop] = e
        out_c[pos:stop] = c
        pos = stop
    return out_e, out_c


def _batched_rank_mod_p(M: np.ndarray, p: int) -> np.ndarray:
    """Ranks over GF(p) of a batch of integer matrices ``M`` (shape ``(B, R, C)``, entries in
    ``[0, p)``, ``p < 2^31``).  Hand-written batched Gaussian elimination: no library does
    batched modular elimination, and products stay below ``2^62`` in int64."""
    M = M.copy() % p
    Bn, R, C = M.shape
    rank = np.zeros(Bn, dtype=np.int64)
    used = np.zeros((Bn, R), dtype=bool)
    for col in range(C):
        cand = (M[:, :, col] != 0) & ~used
        has = cand.any(axis=1)
        if not has.any():
            continue
        prow = np.argmax(cand, axis=1)
        bidx = np.nonzero(has)[0]
        pr = prow[bidx]
        used[bidx, pr] = True
        rank[bidx] += 1
        piv = M[bidx, pr, :]  # (h, C)
        inv = np.array([pow(int(v), p - 2, p) for v in piv[:, col]], dtype=np.int64)
        piv = (piv * inv[:, None]) % p
        M[bidx, pr, :] = piv
        factors = M[bidx, :, col].copy()  # (h, R)
        factors[np.arange(bidx.size), pr] = 0
        M[bidx] = (M[bidx] - (factors[:, :, None] * piv[:, None, :]) % p) % p
    return rank


def modular_slab_ranks(A: MonomialMatrix, b: int, p: int | None = None) -> tuple[np.ndarray, int]:
    """Exact lower bounds of the ranks of all ``M^(b,n)`` slabs of ``A``.

    Entries ``c zeta^e`` are mapped to ``c g^e mod p`` with ``g`` of order ``N`` modulo a prime
    ``p = 1 (mod N)`` (a ring homomorphism ``Z[zeta_N] -> GF(p)``); the rank of the image is a
    lower bound of the rank over ``Q(zeta_N)``.  Returns ``(ranks[r0, c1], p)``.

    Examples
    --------
    >>> from structmat.exact import MonomialMatrix, modular_slab_ranks
    >>> ranks, p = modular_slab_ranks(MonomialMatrix.dft(16), 4)
    >>> int(ranks.min()), int(ranks.max())
    (4, 4)
    """
    N = A.N
    if p is None:
        p = find_prime(N)
    g = root_of_unity_mod(N, p)
    powers = np.array([pow(g, e, p) for e in range(N)], dtype=np.int64)
    n_rows, n_cols = A.shape
    q = n_cols // b
    out = np.zeros((b, q), dtype=np.int64)
    for r0 in range(b):
        rows = np.arange(r0, n_rows, b)
        e, c = _rows_at(A, rows)
        vals = (powers[e] * (c % p)) % p
        V = vals.reshape(rows.size, q, b).transpose(1, 0, 2)  # (q, n/b, b)
        out[r0] = _batched_rank_mod_p(V, p)
    return out, p


def sums_vanish(
    entry: np.ndarray, exp: np.ndarray, coef: np.ndarray, N: int, n_entries: int
) -> np.ndarray:
    """For each entry id, whether ``sum coef * zeta_N^exp`` over its terms is exactly zero.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.exact import sums_vanish
    >>> # entry 0: zeta_8^1 + zeta_8^5 = 0;  entry 1: 1 + zeta_8^2 != 0
    >>> sums_vanish(np.array([0, 0, 1, 1]), np.array([1, 5, 0, 2]), np.array([1, 1, 1, 1]), 8, 2).tolist()
    [True, False]
    >>> # entry 0: 1 + zeta_3 + zeta_3^2 = 0 (decided modulo Phi_3)
    >>> sums_vanish(np.zeros(3, int), np.arange(3), np.ones(3, int), 3, 1).tolist()
    [True]
    """
    entry = np.asarray(entry, dtype=np.int64)
    exp = np.mod(np.asarray(exp, dtype=np.int64), N)
    coef = np.asarray(coef, dtype=np.int64)
    if N > 1 and N & (N - 1) == 0:
        half = N // 2
        flip = exp >= half
        coef = np.where(flip, -coef, coef)
        exp = np.where(flip, exp - half, exp)
        width = half
    elif N == 1:
        exp = np.zeros_like(exp)
        width = 1
    else:
        width = N
    key = entry * width + exp
    uk, inv = np.unique(key, return_inverse=True)
    tot = np.zeros(uk.size, dtype=np.int64)
    np.add.at(tot, inv, coef)
    bad_entries = np.unique(uk[tot != 0] // width)
    zero = np.ones(n_entries, dtype=bool)
    zero[bad_entries] = False
    if width == N and N > 2 and bad_entries.size:
        # not a power of two: merged terms did not cancel; decide modulo Phi_N exactly
        ring = ExactRing(N)
        sel = np.isin(uk // width, bad_entries) & (tot != 0)
        for ent in bad_entries:
            m = sel & (uk // width == ent)
            val = ring.zero
            for e, cf in zip((uk[m] % width).tolist(), tot[m].tolist()):
                val += ring.zeta(e, cf)
            zero[ent] = ring.is_zero(val)
    return zero
