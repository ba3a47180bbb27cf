"""Claims as data, and running one claim at one size."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Outcome", "Claim", "run_one"]


@dataclass
class Outcome:
    """What an exact check concluded: ``ok`` and a one-line summary of the witness."""

    ok: bool
    summary: str
    extra: dict = field(default_factory=dict)


@dataclass
class Claim:
    """One claim of ``CLAIMS.md`` as data.

    ``witness(n)`` builds the witness, ``check(witness, n)`` decides it exactly and returns an
    :class:`Outcome`; ``negative(n)`` builds a perturbed witness or a non-member that the same
    ``check`` must reject.
    """

    name: str
    item: str
    statement: str
    method: str
    quick: tuple
    full: tuple
    witness: Callable[[int], Any]
    check: Callable[[Any, int], Outcome]
    negative: Callable[[int], Any]
    negative_label: str
    notes: str = ""


def run_one(claim: Claim, n: int) -> dict:
    """Run ``claim`` at size ``n``: its check, then its negative control."""
    t0 = time.perf_counter()
    row: dict = {"claim": claim.name, "n": int(n), "method": claim.method}
    try:
        out = claim.check(claim.witness(n), n)
        row["verdict"] = "verified" if out.ok else "refuted"
        row["summary"] = out.summary
        row["extra"] = out.extra
    except Exception as exc:  # reported, never swallowed silently
        row["verdict"] = "error"
        row["summary"] = f"{type(exc).__name__}: {exc}"
        row["traceback"] = traceback.format_exc()
    row["seconds"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    try:
        neg = claim.check(claim.negative(n), n)
        row["negative_control"] = "accepted" if neg.ok else "rejected"
        row["negative_summary"] = f"{claim.negative_label}: {neg.summary}"
    except Exception as exc:
        row["negative_control"] = "error"
        row["negative_summary"] = f"{claim.negative_label}: {type(exc).__name__}: {exc}"
    row["negative_seconds"] = time.perf_counter() - t1
    return row
