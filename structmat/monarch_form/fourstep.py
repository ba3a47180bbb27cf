"""The four-step (Cooley–Tukey) builder shared by the DFT, DCT/DST and convolution forms:
DFT blocks, twiddles and the stride permutations, as ``RootSum`` arrays.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .rootsum import RootSum


def _ct_monarch(N, K, sign, rows, ext, groups):
    """Blocks of ``G · F_N · H`` as one Monarch, exactly (:class:`RootSum` blocks).

    ``F_N[u, e] = ω^{u e}`` (``ω = exp(sign 2πi / N)``) splits with ``N = K P``, ``u = d P + b``,
    ``e = a + K j`` as ``ω_K^{d a} · ω_N^{b e}``.  ``rows = (y, u, coef)`` says output ``y`` is
    ``coef`` times row ``u``; ``ext = (e, x, coef)`` lists the entries ``H[e, x]`` (``coef`` are
    1-D RootSums); ``groups`` are tuples of residues ``a`` (mod K) read by one ``R`` block.
    Requires every ``L`` block (residue ``b = u mod P``) to keep the same number of rows, and
    every ``x`` to reach only residues of one group.

    Returns ``L (P, s, K)``, ``R (len(groups), gs·P, p)``, ``in_perm`` (Monarch input index ->
    ``x``) and ``out_map`` (Monarch output index -> ``y``); the middle index of group ``g``,
    member ``m``, block ``b`` is ``R`` row ``m P + b`` and ``L`` column ``g gs + m``.
    """
    P = N // K
    y, u = np.asarray(rows[0]), np.asarray(rows[1])
    cy = rows[2]
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
    L = cb[:, :, None] * RootSum.root(db[:, :, None] * res_col[None, None, :], K, sign)

    e, x = np.asarray(ext[0]), np.asarray(ext[1])
    ce = ext[2]
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
    vals = ce[:, None] * RootSum.root(bvec[None, :] * e[:, None], N, sign)
    R = RootSum.scatter(
        (len(groups), gs * P, p),
        (g_e[:, None], member_of[a_e][:, None] * P + bvec[None, :], pos[x][:, None]),
        vals,
    )
    out_map = yb.T.reshape(-1)  # Monarch output d' P + b -> y
    return L, R, in_perm, out_map, yb


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
    bb = np.broadcast_to(np.arange(l)[None, :], (s, l))
    dd = np.broadcast_to(np.arange(s)[:, None], (s, l))
    src_b = np.empty((l, s), dtype=np.int64)
    src_d = np.empty((l, s), dtype=np.int64)
    src_b[pi[bb], dnew] = bb
    src_d[pi[bb], dnew] = dd
    Ln = L[src_b, src_d, :]
    i = np.arange(q)
    src_i = np.empty(q, dtype=np.int64)
    src_i[(i // l) * l + pi[i % l]] = i
    Rn = R[:, src_i, :]
    return Ln, Rn


def _specs_with_perms(L, R, in_perm, out_map):
    """Factor specs ``[("P", out)?, ("M", L, R), ("P", in)?]`` from builder output."""
    specs: list = []
    if not np.array_equal(out_map, np.arange(out_map.size)):
        folded = _fold_output(L, R, out_map)
        if folded is None:
            specs.append(("P", np.argsort(out_map)))
        else:
            L, R = folded
    specs.append(("M", L, R))
    if not np.array_equal(in_perm, np.arange(in_perm.size)):
        specs.append(("P", np.asarray(in_perm, dtype=np.int64)))
    return specs


def _dft_norm(n: int, norm, inverse: bool) -> RootSum:
    """The DFT's normalisation as an exact scalar: ``1``, ``1/n`` or ``1/√n``."""
    if norm == "ortho":
        return RootSum.sqrt_rational(Fraction(1, n), fold_two=False)
    if (norm == "forward") != bool(inverse):
        return RootSum.const(1, Fraction(1, n))
    return RootSum.const(1)


def _dft_blocks(n, k, sign, scale=None):
    """``L (p, k, k)``, ``R (k, p, p)`` (RootSums) and ``Q``'s index array with
    ``F = Monarch(L, R) · Q``; ``F[u, x] = scale · exp(sign 2πi u x / n)``, ``n = k p``."""
    u = np.arange(n)
    x = np.arange(n)
    one = RootSum.const(np.ones(n, dtype=np.int64))
    L, R, in_perm, out_map, _ = _ct_monarch(
        n, k, sign, (u, u, one), (x, x, one), [(a,) for a in range(k)]
    )
    assert np.array_equal(out_map, u)
    if scale is not None:
        L = L * scale
    return L, R, in_perm


def _sylvester(m: int) -> np.ndarray:
    """Sign exponents (0 for +1, 1 for −1) of the Sylvester Hadamard matrix of order ``m``,
    by the doubling ``H_{2m} = [[H, H], [H, −H]]``."""
    E = np.zeros((1, 1), dtype=np.int64)
    while E.shape[0] < m:
        E = np.block([[E, E], [E, E + 1]])
    return E % 2
