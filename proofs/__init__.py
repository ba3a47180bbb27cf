"""Exact verification of the expressivity claims of the Monarch paper (Dao et al., ICML 2022) and of
the library's own Monarch forms.

Each claim family is a module whose ``CLAIMS`` list holds :class:`proofs._core.Claim` objects
(name, the paper's statement and where it is made, quick and full sizes, witness builder, exact
check, negative controls).  ``structmat prove`` (or ``python -m proofs``) runs them; a full,
unfiltered run writes ``proofs/REPORT.md`` and ``proofs/report.json``.

Families: ``library`` (``to_monarch(X, exact=True)`` against each transform's definition),
``structure`` and ``closure`` (the Monarch class itself), ``butterfly``, ``dft``, ``hadamard``,
``convolution``, ``trig`` (DCT/DST widths), ``counts``, ``permutations`` (Beneš networks in
``B B*``), ``mmstar`` (the ``M M*`` factorisation run exactly) and ``products`` (``(HD)^3``,
Fastfood, convolution outside ``M``) and ``orderp`` (order-p Monarch forms of the DFT and of
Hadamard matrices).

Examples
--------
>>> from proofs import all_claims
>>> "dft-monarch" in [c.name for c in all_claims()]
True
"""

from __future__ import annotations

import importlib

__all__ = ["MODULES", "all_claims", "main"]

#: claim families, in report order
MODULES = (
    "library",
    "structure",
    "closure",
    "butterfly",
    "dft",
    "hadamard",
    "convolution",
    "trig",
    "counts",
    "permutations",
    "mmstar",
    "products",
    "orderp",
)


def all_claims() -> list:
    """Every claim of every family module, in report order."""
    out = []
    for name in MODULES:
        out.extend(importlib.import_module(f"{__name__}.{name}").CLAIMS)
    return out


def main(argv=None) -> int:
    """Entry point of ``python -m proofs`` / ``structmat prove``; returns the exit status."""
    from .__main__ import main as _main

    return _main(argv)
