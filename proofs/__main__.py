"""``python -m proofs``: run every claim exactly, print the table, write the reports.

Usage::

    python -m proofs [--quick] [--claim NAME ...] [--n N[,N...]] [--max-n N]
                     [--report PATH] [--json PATH] [--force] [--list]

Exit status 0 iff every check that ran is verified and every negative control is rejected; 1
otherwise; 2 for usage errors (unknown claim, unwritable or existing output path, ...).

Where the results go: a full, unfiltered run (no ``--quick``, ``--claim``, ``--n`` or
``--max-n``) replaces the tool's own ``proofs/REPORT.md`` and ``proofs/report.json``; any
filtered run writes nothing unless ``--report``/``--json`` is given.  Paths given by the user are
checked for writability before any check runs and are never overwritten without ``--force``.
Every write goes through a temporary file in the same folder and an atomic rename.  Progress
(one line per claim and size) goes to standard error, the table to standard output.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from . import all_claims
from ._core import run_one, skipped_row

HERE = Path(__file__).resolve().parent
DEFAULT_REPORT = HERE / "REPORT.md"
DEFAULT_JSON = HERE / "report.json"

PAPER = "Dao et al., *Monarch: Expressive Structured Matrices for Efficient and Accurate Training*, ICML 2022"


NOT_PROVED = [
    "## What is not proved here",
    "",
    "- **DCT/DST with square blocks.** The witnesses reach width 3 at b = √n (types 2 and 3), not the "
    "paper's 2; the report explains why no witness of that family can do better (exact slab-rank tests). "
    "Width 2 is reached with b = 2, and with expansion 2 by the library's rectangular-block form. Types 4 "
    "have no square-block witness here (only the library's form, expansion 2).",
    "- **ACDC.** Verified exactly through the library's DCT forms with width 4 (expansion 2), not the "
    "paper's 2.",
    "- **Toeplitz.** Verified as the corner of a 2n circulant (expansion 2) only.",
    "- **The M M* factorisation (Theorem 2/7).** The exact algorithm is run on random generic members "
    "(and rejects non-members); this checks the algebra, not every member of M M*.",
    "- **The hierarchy (appendix Theorem 5)**: matrices with linear circuits of depth d in (M M*)^O(d), and "
    "s-sparse matrices in (B B*)^(4⌈s/n⌉) with expansion 4, are not checked; only its permutation step "
    "(every permutation of a power-of-2 size in B B*, Beneš networks) is.",
    "- **Sizes.** Symbolic checks run at the sizes listed (their cost grows with the number of symbols); "
    "identities over roots of unity run up to n = 4096. Sizes named with `--n` beyond a claim's limit are "
    "reported as skipped with the reason.",
]


class UsageError(Exception):
    """A command-line problem reported with exit status 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="structmat prove",
        description="Exact (cyclotomic-field / exact-integer) verification of the Monarch paper's "
        "expressivity claims, including the library's own to_monarch factors.",
    )
    p.add_argument("--quick", action="store_true", help="small sizes only (a few seconds)")
    p.add_argument(
        "--claim",
        action="append",
        default=None,
        metavar="NAME",
        help="run only these claims (repeatable, or a comma-separated list; see --list)",
    )
    p.add_argument(
        "--n",
        action="append",
        default=None,
        metavar="N[,N...]",
        help="check exactly these sizes instead of the presets (sizes a claim does not "
        "admit are reported as skipped, with the reason)",
    )
    p.add_argument("--max-n", type=int, default=None, metavar="N", help="skip sizes larger than N")
    p.add_argument(
        "--report",
        default=None,
        metavar="PATH",
        help=f"Markdown report (a full unfiltered run writes {DEFAULT_REPORT.name} next to the proofs)",
    )
    p.add_argument("--json", default=None, metavar="PATH", help="JSON: one object per (claim, n)")
    p.add_argument("--force", action="store_true", help="overwrite existing --report/--json paths")
    p.add_argument("--list", action="store_true", help="list the claims and exit")
    return p


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write(d / "a.txt", "hi"); (d / "a.txt").read_text(), sorted(p.name for p in d.iterdir())
    ('hi', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check_writable(path: Path, force: bool, what: str) -> None:
    """Raise :class:`UsageError` unless ``path`` can be written (and, without ``force``, is new)."""
    path = Path(path)
    if path.exists():
        if path.is_dir():
            raise UsageError(f"{what} path {path} is a directory")
        if not force:
            raise UsageError(f"{what} path {path} exists; pass --force to overwrite it")
        if not os.access(path, os.W_OK):
            raise UsageError(f"cannot write {what} path {path}: permission denied")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {what} path {path}: folder {parent} is not writable")


def _fmt_table(rows: list[dict]) -> list[str]:
    head = ["claim", "n", "seconds", "verdict", "width", "negative controls"]
    body = [
        [
            r["claim"],
            str(r["n"]),
            f"{r['seconds']:.2f}",
            r["verdict"],
            r.get("width", ""),
            _controls_cell(r),
        ]
        for r in rows
    ]
    w = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w[i]) for i, c in enumerate(cells)).rstrip()
    return [line(head), line(["-" * x for x in w])] + [line(b) for b in body]


def _controls_cell(r: dict) -> str:
    ctl = r.get("controls", [])
    if not ctl:
        return r["negative_control"]
    rej = sum(c["outcome"] == "rejected" for c in ctl)
    return f"{rej} of {len(ctl)} rejected"


def _scaling(rows: list[dict]) -> list[str]:
    """Measured growth: slope of log(seconds) against log(n) between the two largest sizes."""
    out = []
    by: dict[str, list] = {}
    for r in rows:
        if r["verdict"] == "verified":
            by.setdefault(r["claim"], []).append((r["n"], r["seconds"]))
    for name, pts in by.items():
        pts = sorted(set(pts))
        big = [p for p in pts if p[1] > 0.05]
        if len(big) >= 2:
            (n1, t1), (n2, t2) = big[-2], big[-1]
            if n2 > n1 and t1 > 0:
                out.append(
                    f"| {name} | {n1} → {n2} | {t1:.2f} s → {t2:.2f} s | {math.log(t2 / t1) / math.log(n2 / n1):.2f} |"
                )
                continue
        if pts:
            out.append(
                f"| {name} | ≤ {pts[-1][0]} | ≤ {max(t for _, t in pts):.2f} s | (too fast to fit) |"
            )
    return out


def _ok(rows: list[dict]) -> bool:
    ran = [r for r in rows if r["verdict"] != "skipped"]
    return bool(ran) and all(
        r["verdict"] == "verified" and r["negative_control"] == "rejected" for r in ran
    )


def _command_line(argv) -> str:
    return "structmat prove" + ("" if not argv else " " + " ".join(argv))


def render_report(rows: list[dict], claims: dict, argv, elapsed: float) -> str:
    """The Markdown report of a run."""
    import numpy
    import sympy

    ok = _ok(rows)
    ran = [r for r in rows if r["verdict"] != "skipped"]
    short = [r for r in ran if r.get("width_reached") is False]
    lines = [
        "# Exact verification of the Monarch expressivity claims",
        "",
        f"Generated by `{_command_line(argv)}` on {datetime.date.today().isoformat()}, "
        f"Python {platform.python_version()}, SymPy {sympy.__version__}, NumPy {numpy.__version__}; "
        f"{len(ran)} checks in {elapsed:.1f} s. Section and theorem numbers refer to {PAPER} "
        "(arXiv 2204.00595 v1, main text and appendix).",
        "",
        f"**Overall: {'every check verified, every negative control rejected' if ok else 'FAILURES — see below'}.**",
        "",
    ]
    if short:
        names = sorted({r["claim"] for r in short})
        lines += [
            f"**Widths not reached:** {', '.join(names)} — the witnesses found use more "
            "M M* factors than the paper states (see the width column and the notes).",
            "",
        ]
    lines += [
        "No check uses floating point: entries are exact elements of Q(ζ_N)[symbols] (SymPy sparse "
        "polynomials reduced modulo the cyclotomic polynomial Φ_N, including N with odd prime factors) "
        "or canonical (coefficient, exponent mod N) pairs of roots of unity in NumPy integers; "
        "permutations are index maps. Every claim runs negative controls through the same check — a "
        "perturbed witness, and where the check has later steps a perturbed target, a corrupted routing "
        "or a wrong width — and each must be rejected.",
        "",
        "| claim | n | method | seconds | verdict | width | negative controls |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['claim']} | {r['n']} | {r['method']} | {r['seconds']:.2f} | "
            f"{r['verdict']} | {r.get('width', '')} | {_controls_cell(r)} |"
        )
    lines += ["", "## Claims, witnesses and negative controls", ""]
    for name, c in claims.items():
        mine = [r for r in rows if r["claim"] == name]
        if not mine:
            continue
        lines.append(f"### {name}")
        lines.append("")
        lines.append(f"*Claim ({c.item}).* {c.statement}")
        lines.append("")
        largest = max((r["n"] for r in mine if r["verdict"] == "verified"), default=None)
        lines.append(f"*Largest n verified:* {largest}.")
        lines.append("")
        done = [r for r in mine if r["verdict"] != "skipped"]
        last = done[-1] if done else None
        for r in mine:
            if r["verdict"] == "skipped":
                lines.append(f"- n = {r['n']}: skipped — {r['summary']}")
                continue
            if r["verdict"] != "verified" or r is last:
                wt = f" ({r['width']})" if r.get("width") else ""
                lines.append(f"- n = {r['n']}: {r['verdict']}{wt} — {r['summary']}")
                for ctl in r.get("controls", []):
                    lines.append(
                        f"  - negative control, step *{ctl['step']}* — {ctl['label']}: "
                        f"**{ctl['outcome']}** ({ctl['summary']})"
                    )
        if c.notes:
            lines += ["", c.notes]
        lines.append("")
    lines += NOT_PROVED + [""]
    lines += [
        "## How each check scales (measured in this run)",
        "",
        "| claim | sizes | seconds | exponent of n |",
        "|---|---|---|---|",
    ]
    lines += _scaling(rows)
    lines.append("")
    return "\n".join(lines) + "\n"


def json_rows(rows: list[dict]) -> list[dict]:
    keys = (
        "claim",
        "n",
        "method",
        "seconds",
        "negative_seconds",
        "verdict",
        "negative_control",
        "width",
        "w",
        "paper_width",
        "width_reached",
        "summary",
    )
    out = []
    for r in rows:
        d = {k: r[k] for k in keys if k in r}
        d["controls"] = [
            {k: c[k] for k in ("label", "step", "outcome")} for c in r.get("controls", [])
        ]
        out.append(d)
    return out


def _select(names_arg, claims: dict) -> list[str]:
    if names_arg is None:
        return list(claims)
    wanted = [x.strip() for a in names_arg for x in a.split(",") if x.strip()]
    if not wanted:
        raise UsageError("--claim needs at least one claim name (see --list)")
    unknown = [w for w in wanted if w not in claims]
    if unknown:
        raise UsageError(f"unknown claim(s) {unknown}; known: {', '.join(claims)}")
    return list(dict.fromkeys(wanted))


def _sizes(n_arg) -> list[int] | None:
    if n_arg is None:
        return None
    out = []
    for a in n_arg:
        for x in a.split(","):
            x = x.strip()
            if not x:
                continue
            try:
                v = int(x)
            except ValueError:
                raise UsageError(f"--n takes positive integers; got {x!r}") from None
            if v < 1:
                raise UsageError(f"--n takes positive integers; got {v}")
            out.append(v)
    if not out:
        raise UsageError("--n needs at least one size")
    return list(dict.fromkeys(out))


def main(argv: list[str] | None = None) -> int:
    """Run the proofs; returns the exit status (0: all verified, all negative controls rejected).

    Examples
    --------
    >>> main(["--claim", "parameter-counts", "--n", "16,7"])  # doctest: +ELLIPSIS
    claim ...
    0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    claims = {c.name: c for c in all_claims()}
    if args.list:
        for c in claims.values():
            print(f"{c.name:24s} {c.statement}  [{c.item}]")
        return 0
    try:
        names = _select(args.claim, claims)
        sizes = _sizes(args.n)
        if args.max_n is not None and args.max_n < 1:
            raise UsageError("--max-n must be a positive integer")
        full_run = not (
            args.quick or args.claim is not None or sizes is not None or args.max_n is not None
        )
        report_path = Path(args.report) if args.report else (DEFAULT_REPORT if full_run else None)
        json_path = Path(args.json) if args.json else (DEFAULT_JSON if full_run else None)
        if report_path is not None and args.report:
            check_writable(report_path, args.force, "--report")
        if json_path is not None and args.json:
            check_writable(json_path, args.force, "--json")
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # the tool's own default reports (full runs): replaced in place; skipped with a warning when
    # their folder is not writable (e.g. a read-only installation)
    for given, path, what in ((args.report, report_path, "report"), (args.json, json_path, "json")):
        if path is not None and not given:
            try:
                check_writable(path, True, what)
            except UsageError as exc:
                print(
                    f"warning: {exc}; the default {what} is not written (pass --{what} PATH)",
                    file=sys.stderr,
                )
                if what == "report":
                    report_path = None
                else:
                    json_path = None
    rows = []
    t0 = time.perf_counter()
    for name in names:
        c = claims[name]
        todo = sizes if sizes is not None else (c.quick if args.quick else c.full)
        for n in todo:
            if args.max_n is not None and n > args.max_n:
                continue
            reason = c.reason_to_skip(n)
            if reason:
                rows.append(skipped_row(c, n, reason))
                print(f"[{name}] n={n}: skipped ({reason})", file=sys.stderr, flush=True)
                continue
            print(f"[{name}] n={n} ...", end=" ", file=sys.stderr, flush=True)
            r = run_one(c, n)
            rows.append(r)
            wt = f", {r['width']}" if r.get("width") else ""
            print(
                f"{r['verdict']}{wt} ({r['seconds']:.2f} s); negative controls {_controls_cell(r)}",
                file=sys.stderr,
                flush=True,
            )
            if r["verdict"] == "error":
                print(r.get("traceback", r["summary"]), file=sys.stderr)
            for ctl in r["controls"]:
                if ctl["outcome"] != "rejected":
                    print(
                        f"  negative control {ctl['label']} [{ctl['step']}]: {ctl['outcome']}: {ctl['summary']}",
                        file=sys.stderr,
                    )
    elapsed = time.perf_counter() - t0
    print("\n".join(_fmt_table(rows)))
    ok = _ok(rows)
    ran = [r for r in rows if r["verdict"] != "skipped"]
    nctl = sum(len(r["controls"]) for r in ran)
    nrej = sum(c["outcome"] == "rejected" for r in ran for c in r["controls"])
    print()
    print(
        f"{sum(r['verdict'] == 'verified' for r in ran)} of {len(ran)} checks verified, "
        f"{nrej} of {nctl} negative controls rejected"
        + (f", {len(rows) - len(ran)} skipped" if len(rows) > len(ran) else "")
        + f" ({elapsed:.1f} s)"
    )
    status = 0 if ok else 1
    if report_path is not None:
        text = render_report(rows, {k: claims[k] for k in names}, argv, elapsed)
        try:
            atomic_write(report_path, text)
            print(f"report: {report_path}")
        except OSError as exc:
            print(f"error: cannot write {report_path}: {exc}", file=sys.stderr)
            status = 2
    if json_path is not None:
        try:
            atomic_write(
                json_path, json.dumps(json_rows(rows), indent=1, ensure_ascii=False) + "\n"
            )
            print(f"json: {json_path}")
        except OSError as exc:
            print(f"error: cannot write {json_path}: {exc}", file=sys.stderr)
            status = 2
    if not ran:
        print("error: no check ran (check --claim / --n / --max-n)", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
