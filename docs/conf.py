"""Sphinx configuration of the structmat documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html`` from the repository
root (after ``pip install -e ".[docs]"``).  Three things are generated at build time, so that
nothing here lists what the package already lists:

* the API pages read each module's ``__all__`` (directive ``structmat-api``);
* the claims table reads ``proofs.all_claims()`` and the verdicts of ``proofs/report.json``
  (directive ``structmat-claims``);
* the gallery renders ``notebooks/*.ipynb`` with their stored outputs: the notebooks are
  copied into ``docs/gallery/_notebooks/`` (ignored by git) when the build starts, and
  myst-nb renders them without executing anything.
"""

from __future__ import annotations

import glob
import importlib
import inspect
import json
import os
import sys
import tempfile

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

DOCS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DOCS)
sys.path.insert(0, ROOT)  # the ``proofs`` package and an uninstalled ``structmat``

import structmat  # noqa: E402

project = "structmat"
author = "the structmat authors"
copyright = "the structmat authors, BSD-3-Clause"
release = structmat.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
root_doc = "index"

# numpydoc renders the Parameters/Returns/Notes/Examples sections; class members are
# documented by autodoc below them instead of as autosummary tables of stub pages.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "none"

# notebooks: render the stored outputs, never execute
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
# the notebooks' own heading levels (a "###" under a "#") are their authors' style, not an error
suppress_warnings = ["myst.header"]

html_theme = "alabaster"
html_theme_options = {
    "description": "Structured matrices on NumPy, CuPy and the array API",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "240px",
}
html_title = "structmat"
html_static_path: list[str] = []
html_show_sourcelink = False


# ---------------------------------------------------------------------------------------------
# the API pages: one section per module, read from its ``__all__``
# ---------------------------------------------------------------------------------------------


def _kind(obj) -> str:
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "data"


def _first_paragraph(obj) -> str:
    """The first paragraph of ``obj``'s docstring on one line (complete inline markup)."""
    doc = inspect.getdoc(obj) or ""
    para = doc.strip().split("\n\n", 1)[0]
    return " ".join(para.split()) or " "


class StructmatAPI(SphinxDirective):
    """``.. structmat-api:: module`` documents every name of ``module.__all__``.

    With ``:see-also: other.module [another.module ...]``, names that are the same object as
    a name exported by one of those modules get a cross reference instead of a second
    description (a second one would be a duplicate object for Sphinx).
    """

    required_arguments = 1
    option_spec = {"see-also": directives.unchanged}

    def run(self):
        modname = self.arguments[0]
        module = importlib.import_module(modname)
        names = list(getattr(module, "__all__", []))
        if not names:
            raise self.error(f"module {modname} has no __all__ to document")
        elsewhere: dict[int, str] = {}
        for other_name in self.options.get("see-also", "").split():
            other = importlib.import_module(other_name)
            for name in getattr(other, "__all__", []):
                elsewhere.setdefault(id(getattr(other, name)), f"{other_name}.{name}")

        own, shared, submodules = [], [], []
        for name in names:
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                submodules.append(obj.__name__)
            else:
                (shared if id(obj) in elsewhere else own).append((name, obj))

        lines = [f".. currentmodule:: {modname}", ""]
        if submodules:
            refs = ", ".join(f":mod:`{sub}`" for sub in submodules)
            lines += [f"Submodules exported by name: {refs}.", ""]
        if own:
            lines += [".. list-table::", "   :widths: 25 75", ""]
            for name, obj in own:
                role = {"class": "class", "function": "func", "data": "data"}[_kind(obj)]
                summary = (
                    _first_paragraph(obj)
                    if role != "data"
                    else f"a constant (``{type(obj).__name__}``)"
                )
                lines += [f"   * - :{role}:`{name}`", f"     - {summary}"]
            lines.append("")
        if shared:
            refs = ", ".join(
                f":{'class' if inspect.isclass(obj) else 'func'}:`{name} <{elsewhere[id(obj)]}>`"
                for name, obj in shared
            )
            lines += [
                f"Also exported here and documented on the page of the module named in "
                f"the link: {refs}.",
                "",
            ]
        for name, obj in own:
            directive = {"class": "autoclass", "function": "autofunction", "data": "autodata"}[
                _kind(obj)
            ]
            lines += [f".. {directive}:: {name}", ""]
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(
            StringList(lines, source=f"<structmat-api {modname}>"), self.content_offset, node
        )
        return node.children


# ---------------------------------------------------------------------------------------------
# the claims that ``structmat prove`` checks, with their status in proofs/report.json
# ---------------------------------------------------------------------------------------------


def _claim_status(records: list[dict]) -> tuple[str, str, str]:
    """(sizes verified, verdict, width) of one claim's records in report.json."""
    if not records:
        return "—", "not in the committed report", ""
    ns = [r["n"] for r in records]
    verified = all(r.get("verdict") == "verified" for r in records)
    rejected = all(r.get("negative_control") == "rejected" for r in records)
    verdict = "verified" if verified else "NOT verified"
    verdict += ", controls rejected" if rejected else ", a control NOT rejected"
    widths = {r.get("width") for r in records if r.get("width")}
    sizes = ", ".join(str(n) for n in ns)
    return sizes, verdict, "; ".join(sorted(widths))


def _table(header: list[str], rows: list[list], widths: list[int]) -> nodes.table:
    """A docutils table of plain text (no markup is parsed in the cells)."""
    table = nodes.table(classes=["longtable"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)

    def row_node(cells):
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            para = nodes.paragraph()
            para += (
                cell if isinstance(cell, nodes.Node) else nodes.Text(" ".join(str(cell).split()))
            )
            entry += para
            row += entry
        return row

    head = nodes.thead()
    head += row_node(header)
    group += head
    body = nodes.tbody()
    for cells in rows:
        body += row_node(cells)
    group += body
    return table


class StructmatClaims(SphinxDirective):
    """``.. structmat-claims::`` — a table of every claim of ``proofs.all_claims()``."""

    def run(self):
        from proofs import all_claims

        path = os.path.join(ROOT, "proofs", "report.json")
        self.env.note_dependency(path)
        with open(path, encoding="utf-8") as fh:
            report = json.load(fh)
        by_claim: dict[str, list[dict]] = {}
        for record in report:
            by_claim.setdefault(record["claim"], []).append(record)
        rows = []
        for claim in all_claims():
            sizes, verdict, width = _claim_status(by_claim.get(claim.name, []))
            rows.append(
                [nodes.literal(text=claim.name), claim.item, claim.statement, sizes, verdict, width]
            )
        header = [
            "claim",
            "where (Dao et al., 2022, unless another paper is named)",
            "statement",
            "sizes n checked",
            "status",
            "width",
        ]
        return [_table(header, rows, [14, 18, 38, 12, 10, 8])]


# ---------------------------------------------------------------------------------------------
# the gallery: notebooks/*.ipynb copied (atomically, only when changed) into the source tree
# ---------------------------------------------------------------------------------------------

GALLERY = os.path.join(DOCS, "gallery", "_notebooks")


def _write_atomic(path: str, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".ipynb")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _copy_notebooks(app) -> None:
    os.makedirs(GALLERY, exist_ok=True)
    sources = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))
    wanted = {os.path.basename(s) for s in sources}
    for stale in glob.glob(os.path.join(GALLERY, "*.ipynb")):
        if os.path.basename(stale) not in wanted:
            os.remove(stale)
    for src in sources:
        dst = os.path.join(GALLERY, os.path.basename(src))
        with open(src, "rb") as fh:
            data = fh.read()
        if os.path.exists(dst):
            with open(dst, "rb") as fh:
                if fh.read() == data:
                    continue
        _write_atomic(dst, data)


def _notebook_summary(path: str) -> tuple[str, str]:
    """Title (first heading) and first paragraph of a notebook's first Markdown cell.

    A paragraph that ends with a colon is followed by what it introduces (a display formula
    and the sentence after it).
    """
    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        text = "".join(cell.get("source", []))
        paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
        title = paragraphs[0].lstrip("#").strip() if paragraphs else os.path.basename(path)
        rest = [p for p in paragraphs[1:] if not p.startswith("#")]
        summary: list[str] = []
        for para in rest:  # a paragraph that leads into a display formula keeps it
            summary.append(para)
            if not (para.endswith(":") or para.startswith("$$")):
                break
        return title, "\n\n".join(summary)
    return os.path.basename(path), ""


class StructmatGallery(SphinxDirective):
    """``{structmat-gallery}`` (in a Markdown page) — one entry per notebook and a toctree.

    The generated lines are MyST Markdown, the language of the notebooks' own text.
    """

    def run(self):
        paths = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))
        lines: list[str] = []
        for path in paths:
            self.env.note_dependency(path)
            stem = os.path.splitext(os.path.basename(path))[0]
            title, summary = _notebook_summary(path)
            title = title.replace("[", "(").replace("]", ")")
            lines += [f"- [{title}](_notebooks/{stem}.ipynb) (`notebooks/{stem}.ipynb`)", ""]
            if summary:
                lines += [("  " + line).rstrip() for line in summary.splitlines()] + [""]
        lines += ["```{toctree}", ":hidden:", ""]
        lines += [f"_notebooks/{os.path.splitext(os.path.basename(p))[0]}" for p in paths]
        lines += ["```", ""]
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(
            StringList(lines, source="<structmat-gallery>"), self.content_offset, node
        )
        return node.children


def setup(app):
    app.connect("builder-inited", _copy_notebooks)
    app.add_directive("structmat-api", StructmatAPI)
    app.add_directive("structmat-claims", StructmatClaims)
    app.add_directive("structmat-gallery", StructmatGallery)
    return {"parallel_read_safe": True}
