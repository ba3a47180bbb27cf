"""Every permutation of a power-of-2 size is in ``B B*`` (Kaleidoscope, Dao et al., ICLR 2020),
constructively through a Beneš network.

A Beneš network of size ``n = 2^a`` has ``2a - 1`` stages of 2x2 switches.  Stage ``k``
(``k = n, n/2, ..., 2``) pairs ``i`` with ``i + k/2`` inside blocks of ``k`` consecutive
indices: exactly the support of a butterfly factor ``B_k`` (block-diagonal, blocks
``[[D1, D2], [D3, D4]]`` with diagonal ``D``'s).  A switch is straight (``D1 = D4 = 1``,
``D2 = D3 = 0``) or crossed (``D1 = D4 = 0``, ``D2 = D3 = 1``), so every twiddle is 0 or 1.

Routing (the looping algorithm): the outputs ``i`` and ``i + n/2`` of one output switch must
come from different half-size subnetworks, and so must the inputs ``j`` and ``j + n/2`` of one
input switch; two-colouring the cycles of these constraints assigns a subnetwork to every path,
and the two halves are routed recursively.  With ``P = S_n^out ... S_4^out · S_2 · S_4^in ... S_n^in``:

* ``B1 = B_n ... B_2`` with ``B_k = S_k^out`` and ``B_2 = S_2`` (the middle stage);
* ``B2 = B'_n ... B'_2`` with ``B'_k = (S_k^in)^T`` and ``B'_2 = I``, so ``B2^H = S_4^in ... S_n^in``;

hence ``P = B1 B2^H`` with ``B1, B2`` butterflies.  The check rebuilds both butterflies from
their 0/1 twiddles alone and multiplies them in exact integer arithmetic.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

from ._common import admits, power_of_two
from ._core import Claim, Control, Outcome

__all__ = ["benes_route", "butterfly_from_twiddles", "benes_witness", "check_benes"]


def benes_route(perm) -> tuple[dict, dict, np.ndarray]:
    """Switch settings of a Beneš network realising ``(P x)[i] = x[perm[i]]``.

    Returns ``(inp, out, mid)``: ``inp[k]`` and ``out[k]`` (``k = n, ..., 4``) are 0/1 arrays of
    ``n/2`` switch settings of the input and output stages of block size ``k`` (switch
    ``t k/2 + i`` joins ``t k + i`` and ``t k + i + k/2``), ``mid`` the ``n/2`` middle switches.

    Examples
    --------
    >>> inp, out, mid = benes_route([1, 0, 3, 2])
    >>> sorted(inp), mid.tolist()
    ([4], [1, 1])
    """
    perm = np.asarray(perm, dtype=np.int64)
    n = perm.size
    if n < 2 or n & (n - 1) or sorted(perm.tolist()) != list(range(n)):
        raise ValueError(f"perm must be a permutation of a power-of-2 size >= 2; got size {n}")
    inp = {k: np.zeros(n // 2, dtype=np.int64) for k in _levels(n)}
    out = {k: np.zeros(n // 2, dtype=np.int64) for k in _levels(n)}
    mid = np.zeros(n // 2, dtype=np.int64)
    work = [(perm, 0)]
    while work:
        p, off = work.pop()
        m = p.size
        if m == 2:
            mid[off // 2] = int(p[0] == 1)
            continue
        h = m // 2
        inv = np.argsort(p)
        col = -np.ones(m, dtype=np.int64)
        for start in range(m):
            if col[start] >= 0:
                continue
            i, c = start, 0
            while col[i] < 0:
                col[i] = c
                i2 = (i + h) % m
                col[i2] = 1 - c
                jp = (int(p[i2]) + h) % m  # the partner of i2's input goes the other way
                i = int(inv[jp])
        sw = off // 2
        cin = col[inv]  # colour (subnetwork) of each input
        inp[m][sw : sw + h] = cin[:h]  # input j goes to the top iff colour 0
        out[m][sw : sw + h] = col[:h]  # output i reads the top iff colour 0
        top = np.where(col[:h] == 0, p[:h], p[h:]) % h
        bot = np.where(col[:h] == 1, p[:h], p[h:]) % h
        work.append((top, off))
        work.append((bot, off + h))
    return inp, out, mid


def _levels(n: int) -> list[int]:
    """Block sizes ``n, n/2, ..., 4``."""
    out, k = [], n
    while k >= 4:
        out.append(k)
        k //= 2
    return out


def _twiddles(bits: np.ndarray) -> np.ndarray:
    """0/1 twiddles ``(2, 2, n/2)`` of one butterfly factor from switch settings."""
    b = np.asarray(bits, dtype=np.int64)
    return np.stack([np.stack([1 - b, b]), np.stack([b, 1 - b])])


def butterfly_from_twiddles(tw: np.ndarray) -> csr_matrix:
    """The butterfly ``B_n ... B_2`` from integer twiddles ``tw[e]`` of shape ``(2, 2, n/2)``.

    ``tw[e]`` belongs to the factor of block size ``2^(e+1)``; factor ``k`` maps ``x`` to ``y``
    with ``y[a] = D1 x[a] + D2 x[a + k/2]``, ``y[a + k/2] = D3 x[a] + D4 x[a + k/2]`` for every
    pair (switch ``t k/2 + i``, ``a = t k + i``).  Exact integer sparse arithmetic.

    Examples
    --------
    >>> import numpy as np
    >>> tw = np.array([[[[1, 1], [1, 1]], [[1, 1], [-1, -1]]], [[[1, 1], [1, 1]], [[1, 1], [-1, -1]]]])
    >>> butterfly_from_twiddles(tw).toarray().tolist()[3]   # the 4-point Hadamard matrix
    [1, -1, -1, 1]
    """
    tw = np.asarray(tw)
    levels = tw.shape[0]
    n = 2 * tw.shape[-1]
    if n != 1 << levels:
        raise ValueError(f"a butterfly of size {n} has {n.bit_length() - 1} factors; got {levels}")
    B = None
    for e in range(levels):
        k = 2 << e
        h = k // 2
        s = np.arange(n // 2)
        a = (s // h) * k + s % h
        rows = np.concatenate([a, a, a + h, a + h])
        cols = np.concatenate([a, a + h, a, a + h])
        vals = np.concatenate([tw[e, 0, 0], tw[e, 0, 1], tw[e, 1, 0], tw[e, 1, 1]]).astype(np.int64)
        F = csr_matrix((vals, (rows, cols)), shape=(n, n), dtype=np.int64)
        B = F if B is None else F @ B  # B_k applied after the smaller factors
    return B


def benes_witness(perm) -> dict:
    """``{"perm", "B1", "B2"}``: the 0/1 twiddles of both butterflies (``P = B1 B2^H``)."""
    perm = np.asarray(perm, dtype=np.int64)
    n = perm.size
    inp, out, mid = benes_route(perm)
    a = n.bit_length() - 1
    tw1 = np.empty((a, 2, 2, n // 2), dtype=np.int64)
    tw2 = np.empty_like(tw1)
    tw1[0] = _twiddles(mid)
    tw2[0] = _twiddles(np.zeros(n // 2, dtype=np.int64))  # B'_2 = I
    for e in range(1, a):
        k = 2 << e
        tw1[e] = _twiddles(out[k])
        tw2[e] = _twiddles(inp[k]).transpose(1, 0, 2)  # B'_k = (S_k^in)^T
    return {"perm": perm, "target": perm, "B1": tw1, "B2": tw2}


def _is_switch(tw: np.ndarray) -> bool:
    """Every 2x2 twiddle block is the identity or the swap (0/1 entries)."""
    d1, d2, d3, d4 = tw[:, 0, 0], tw[:, 0, 1], tw[:, 1, 0], tw[:, 1, 1]
    straight = (d1 == 1) & (d4 == 1) & (d2 == 0) & (d3 == 0)
    cross = (d1 == 0) & (d4 == 0) & (d2 == 1) & (d3 == 1)
    return bool((straight | cross).all())


def check_benes(items, n: int) -> Outcome:
    """Steps: (1) routing — every twiddle block is a 0/1 switch; (2) width — two butterflies of
    ``log2 n`` factors each, at most ``2 log2 n - 1`` non-identity stages; (3) final equality —
    ``B1 B2^T`` (exact integers) is the target permutation matrix, built from its index map."""
    a = n.bit_length() - 1
    labels = []
    for label, w in items:
        tw1, tw2 = np.asarray(w["B1"]), np.asarray(w["B2"])
        for nm, tw in (("B1", tw1), ("B2", tw2)):
            if not _is_switch(tw):
                return Outcome(
                    False, f"{label}: routing — a twiddle block of {nm} is not a 0/1 switch"
                )
        if tw1.shape != (a, 2, 2, n // 2) or tw2.shape != (a, 2, 2, n // 2):
            return Outcome(
                False,
                f"{label}: width — butterflies with {tw1.shape[0]} and {tw2.shape[0]} factors, "
                f"expected {a} each (B1 B2^H, one element of B B*)",
            )
        nontrivial = sum(int(not (t[0, 1] == 0).all()) for t in tw1) + sum(
            int(not (t[0, 1] == 0).all()) for t in tw2
        )
        if nontrivial > 2 * a - 1:
            return Outcome(
                False, f"{label}: width — {nontrivial} switching stages, more than 2 log2 n - 1"
            )
        B1 = butterfly_from_twiddles(tw1)
        B2 = butterfly_from_twiddles(tw2)
        prod = (B1 @ B2.T).tocoo()
        tgt = np.asarray(w["target"], dtype=np.int64)
        want = csr_matrix((np.ones(n, dtype=np.int64), (np.arange(n), tgt)), shape=(n, n)).tocoo()
        diff = prod.tocsr() - want.tocsr()
        diff.eliminate_zeros()
        if diff.nnz:
            r, c = diff.nonzero()
            return Outcome(
                False,
                f"{label}: final equality — B1 B2^H differs from the permutation at ({r[0]}, {c[0]})",
            )
        labels.append(label)
    return Outcome(
        True,
        f"P = B1 B2^H with 0/1 twiddles (Beneš network, {2 * a - 1} switching stages) for "
        f"{', '.join(labels)}; exact integer products",
        {"w": 1},
    )


def _perms(n: int) -> list:
    rng = np.random.default_rng(n)
    a = n.bit_length() - 1
    rev = np.array([int(format(i, f"0{a}b")[::-1], 2) for i in range(n)], dtype=np.int64)
    return [
        ("a random permutation", rng.permutation(n)),
        ("another random permutation", rng.permutation(n)),
        ("bit reversal", rev),
        ("the cyclic shift", (np.arange(n) + 1) % n),
    ]


def _items(n: int, tweak=None) -> list:
    out = []
    for i, (label, p) in enumerate(_perms(n)):
        w = benes_witness(p)
        if tweak is not None and i == 0:
            w = tweak(w, n)
        out.append((label, w))
    return out


def _flip_switch(w, n):
    tw = w["B1"].copy()
    tw[0, :, :, 0] = tw[0, ::-1, :, 0]  # toggle one middle switch
    return dict(w, B1=tw)


def _swap_target(w, n):
    t = w["target"].copy()
    t[[0, 1]] = t[[1, 0]]
    return dict(w, target=t)


def _scaled_switch(w, n):
    """Middle switch 0 of B1 times 2 and B2's (identity) smallest block 0 times 1/2: both act on
    positions 0 and 1 next to each other in B1 B2^H, so the product is unchanged, but the twiddles
    are no longer 0/1."""
    from fractions import Fraction

    tw1 = w["B1"].astype(object)
    tw2 = w["B2"].astype(object)
    tw1[0, :, :, 0] = tw1[0, :, :, 0] * 2
    tw2[0, :, :, 0] = tw2[0, :, :, 0] * Fraction(1, 2)
    return dict(w, B1=tw1, B2=tw2)


def _extra_level(w, n):
    ident = _twiddles(np.zeros(n // 2, dtype=np.int64))[None]
    return dict(w, B1=np.concatenate([w["B1"], ident]))


CLAIMS = [
    Claim(
        name="permutation-bbstar",
        item="Kaleidoscope (Dao et al., ICLR 2020): every permutation is in B B*",
        statement="every permutation of size n = 2^a is B1 B2^H with B1, B2 butterflies with 0/1 twiddles "
        "(a Beneš network routed by the looping algorithm)",
        method="looping-algorithm routing; exact integer sparse products of the butterflies",
        quick=(8, 64),
        full=(8, 64, 256, 1024),
        witness=_items,
        check=check_benes,
        negative=lambda n: _items(n, _flip_switch),
        negative_label="one middle switch of B1 toggled",
        negative_step="final equality",
        controls=(
            Control(
                "target permutation with two rows exchanged",
                "target",
                lambda n: _items(n, _swap_target),
            ),
            Control(
                "a switch scaled by 2 and its paths by 1/2 (product unchanged, twiddles not 0/1)",
                "routing",
                lambda n: _items(n, _scaled_switch),
            ),
            Control(
                "B1 with an extra identity factor (not a butterfly of log2 n factors)",
                "width",
                lambda n: _items(n, _extra_level),
            ),
        ),
        admits=admits(power_of_two, limit=1 << 14, why="Python-level routing"),
        notes="*Width.* A Beneš network has 2 log2 n − 1 switching stages; the middle stage belongs to B1 and "
        "B2's smallest factor is the identity. Since B ⊂ M^(b,n) (the butterfly claim above), this places "
        "every permutation of a power-of-2 size in M M* as well.",
    ),
]
