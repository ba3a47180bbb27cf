"""Exact verification of the Monarch paper's expressivity claims (see ``CLAIMS.md``).

Each claim family is a module whose ``CLAIMS`` list holds :class:`proofs._core.Claim` objects
(name, statement, quick and full sizes, witness builder, exact check, negative control);
``python -m proofs`` (or ``structmat prove``) runs them and writes ``proofs/REPORT.md``.

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
MODULES = ("structure", "closure", "butterfly", "dft", "hadamard", "convolution", "trig", "counts")


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
