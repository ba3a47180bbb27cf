"""Claims as data, and running one claim at one size.

A :class:`Claim` couples a witness builder with an exact check and a list of negative
controls.  Each control is a deliberately wrong input (a perturbed witness, a perturbed target,
a corrupted routing, a wrong width) that the *same* check must reject; the step a control
targets is recorded so that a check which returns early without reaching that step is caught.

Examples
--------
>>> c = Claim(name="even", item="-", statement="n is even", method="integers",
...           quick=(2,), full=(2,), witness=lambda n: n, check=lambda w, n: Outcome(w % 2 == 0, "parity"),
...           negative=lambda n: n + 1, negative_label="n + 1")
>>> row = run_one(c, 4)
>>> row["verdict"], row["negative_control"], [x["outcome"] for x in row["controls"]]
('verified', 'rejected', ['rejected'])
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Outcome", "Control", "Claim", "run_one", "width_text"]


@dataclass
class Outcome:
    """What an exact check concluded: ``ok`` and a one-line summary of the witness.

    ``extra`` may carry ``"w"``: the width (number of ``M M*`` factors) computed from the
    witness's factors.
    """

    ok: bool
    summary: str
    extra: dict = field(default_factory=dict)


@dataclass
class Control:
    """A negative control: ``build(n)`` makes an input that ``Claim.check`` must reject.

    ``step`` names the part of the check the control exercises (``"witness"``, ``"target"``,
    ``"final equality"``, ``"routing"``, ``"width"``, ...).
    """

    label: str
    step: str
    build: Callable[[int], Any]


@dataclass
class Claim:
    """One claim of the Monarch paper (or of the papers it builds on) as data.

    ``witness(n)`` builds the witness, ``check(witness, n)`` decides it exactly and returns an
    :class:`Outcome`; ``negative(n)`` builds a perturbed witness or a non-member that the same
    ``check`` must reject, and ``controls`` lists further negative controls (each one step).
    ``admits(n)`` returns ``None`` when ``n`` is a valid size for the claim, else the reason it
    is not (used for sizes named on the command line).  ``paper_width`` is the width ``w`` of
    ``(M M*)^w`` the paper states, compared with the width the check computes.
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
    controls: tuple = ()
    admits: Callable[[int], Any] | None = None
    paper_width: int | None = None
    negative_step: str = "witness"

    def all_controls(self) -> list[Control]:
        """The first negative control followed by ``controls``."""
        return [Control(self.negative_label, self.negative_step, self.negative)] + list(
            self.controls
        )

    def reason_to_skip(self, n: int) -> str | None:
        """``None`` if ``n`` is admissible, else why not."""
        if self.admits is None:
            return None
        return self.admits(n)


def width_text(w: Any, paper: int | None) -> str:
    """``"width 3 (paper: 2)"``, ``"width 2 (paper: 2)"`` or ``""``.

    Examples
    --------
    >>> width_text(3, 2), width_text({2: 2, 4: 3}, 2), width_text(None, 2)
    ('width 3 (paper: 2)', 'width 3 (paper: 2)', '')
    """
    if w is None:
        return ""
    if isinstance(w, dict):
        w = max(w.values())
    return f"width {w}" + (f" (paper: {paper})" if paper is not None else "")


def run_one(claim: Claim, n: int) -> dict:
    """Run ``claim`` at size ``n``: its check, then each negative control."""
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
        row["extra"] = {}
    row["seconds"] = time.perf_counter() - t0
    w = row["extra"].get("w")
    row["width"] = width_text(w, claim.paper_width)
    if w is not None:
        row["w"] = max(w.values()) if isinstance(w, dict) else w
        row["paper_width"] = claim.paper_width
        row["width_reached"] = claim.paper_width is None or row["w"] <= claim.paper_width
    t1 = time.perf_counter()
    controls = []
    for ctl in claim.all_controls():
        try:
            neg = claim.check(ctl.build(n), n)
            outcome = "accepted" if neg.ok else "rejected"
            summary = neg.summary
        except Exception as exc:
            outcome, summary = "error", f"{type(exc).__name__}: {exc}"
        controls.append(
            {"label": ctl.label, "step": ctl.step, "outcome": outcome, "summary": summary}
        )
    row["controls"] = controls
    outs = {c["outcome"] for c in controls}
    row["negative_control"] = (
        "rejected" if outs == {"rejected"} else ("error" if "error" in outs else "accepted")
    )
    row["negative_summary"] = "; ".join(
        f"{c['label']} [{c['step']}]: {c['outcome']} — {c['summary']}" for c in controls
    )
    row["negative_seconds"] = time.perf_counter() - t1
    return row


def skipped_row(claim: Claim, n: int, reason: str) -> dict:
    """A report row for a size that is not admissible for ``claim``."""
    return {
        "claim": claim.name,
        "n": int(n),
        "method": claim.method,
        "verdict": "skipped",
        "summary": reason,
        "seconds": 0.0,
        "negative_control": "-",
        "negative_summary": "",
        "controls": [],
        "extra": {},
        "width": "",
    }
