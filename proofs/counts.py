"""Parameter counts (paper §3.1 and §3.2): ``M^(b,n)`` has ``n^2/b + n b`` parameters
(``2 n^(3/2)`` for ``b = sqrt(n)``), a butterfly ``2 n log2 n``; checked in exact integers
against the library's ``nparams`` and the symbolic witnesses' symbol counts."""

from __future__ import annotations

import math

import numpy as np

from structmat import Butterfly, Monarch
from structmat.exact import butterfly_symbol_names, monarch_symbol_names

from ._common import admits, composite, proper_splits
from ._core import Claim, Outcome


def _formula(n: int, b: int) -> int:
    return n * n // b + n * b


def _wrong(n: int, b: int) -> int:
    # the square-case count applied to every split (the negative control)
    return 2 * n * math.isqrt(n)


def _witness(n: int, formula=_formula):
    return n, formula


def check(w, n: int) -> Outcome:
    n, formula = w
    rows = []
    for b in proper_splits(n):
        q = n // b
        M = Monarch(np.zeros((b, q, q)), np.zeros((q, b, b)))
        sym = len(monarch_symbol_names((q, b, b, b, q, q)))
        want = formula(n, b)
        if not (M.nparams == sym == want):
            return Outcome(False, f"b={b}: nparams {M.nparams}, symbols {sym}, claimed {want}")
        rows.append(f"b={b}: {want}")
    m = math.isqrt(n)
    extra = ""
    if m * m == n and formula(n, m) != 2 * n * m:
        return Outcome(False, f"square case: claimed {formula(n, m)} != 2 n^(3/2) = {2 * n * m}")
    if n & (n - 1) == 0:
        s = n.bit_length() - 1
        Bf = Butterfly(np.zeros((s, 2, 2, n // 2)))
        if not (Bf.nparams == len(butterfly_symbol_names(n)) == 2 * n * s):
            return Outcome(False, f"butterfly: nparams {Bf.nparams} != 2 n log2 n = {2 * n * s}")
        extra = f"; butterfly 2 n log2 n = {2 * n * s}"
    return Outcome(
        True,
        f"n^2/b + n b parameters for every split ({', '.join(rows)})"
        + (f"; square 2 n^(3/2) = {2 * n * m}" if m * m == n else "")
        + extra,
    )


CLAIMS = [
    Claim(
        name="parameter-counts",
        item="§3.1 (parameter counts)",
        statement="M^(b,n) has n^2/b + n b parameters (2 n^(3/2) for b = √n); B has 2 n log2 n",
        method="exact integers: nparams, symbol counts, formulas",
        quick=(16, 12),
        full=(16, 12, 64, 96, 256, 1024),
        witness=_witness,
        check=check,
        negative=lambda n: _witness(n, _wrong),
        negative_label="2 n^(3/2) claimed for every split",
        admits=admits(composite),
    ),
]
