"""The documentation site: ``sphinx-build -W`` succeeds and the built pages link correctly.

One test builds the whole site in a subprocess (warnings are errors, as in CI) and checks the
result: the index and the API pages exist with the text they must hold, every claim of
``structmat prove`` is on the claims page, every notebook is in the gallery with its stored
figures, and every internal link of every page resolves to a file and, with a ``#fragment``,
to an element with that id.  The build is one test, not several, so that ``pytest -n 2``
builds it once.
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")


class _Page(HTMLParser):
    """The ids, links (``href``) and sources (``src``) of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.ids.add(value)
            if value and (
                (key == "href" and tag in ("a", "link"))
                or (key == "src" and tag in ("img", "script"))
            ):
                self.links.append(value)

    def handle_data(self, data):
        self.text.append(data)


def _parse(path: str) -> _Page:
    page = _Page()
    with open(path, encoding="utf-8") as fh:
        page.feed(fh.read())
    return page


def broken_links(site: str) -> list[str]:
    """Every internal link of the HTML files under ``site`` that does not resolve.

    A link resolves when its path names an existing file (a directory needs its
    ``index.html``) and its fragment, if any, is the ``id`` of an element of that file.
    External links (with a scheme such as ``https:`` or ``mailto:``) are not followed.
    """
    pages = {
        os.path.normpath(p): _parse(p)
        for p in glob.glob(os.path.join(site, "**", "*.html"), recursive=True)
    }
    broken = []
    for path, page in sorted(pages.items()):
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                continue
            target = (
                path
                if not parts.path
                else os.path.normpath(os.path.join(os.path.dirname(path), unquote(parts.path)))
            )
            if os.path.isdir(target):
                target = os.path.join(target, "index.html")
            where = f"{os.path.relpath(path, site)}: {link}"
            if not os.path.isfile(target):
                broken.append(f"{where} (no file {os.path.relpath(target, site)})")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.endswith(".html"):
                ids = pages[target].ids if target in pages else _parse(target).ids
                if fragment not in ids:
                    broken.append(f"{where} (no id {fragment!r})")
    return broken


def test_broken_links_finds_missing_files_and_fragments(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="sub/page.html#here">ok</a> <a href="sub/page.html#gone">bad id</a> '
        '<a href="missing.html">no file</a> <a href="https://example.org/x.html">external</a> '
        '<img src="sub/pic.png"> <a href="#top">self</a> <p id="top"></p>',
        encoding="utf-8",
    )
    (tmp_path / "sub" / "page.html").write_text(
        '<h1 id="here">x</h1><a href="../index.html">up</a>', encoding="utf-8"
    )
    assert broken_links(str(tmp_path)) == [
        "index.html: sub/page.html#gone (no id 'gone')",
        "index.html: missing.html (no file missing.html)",
        "index.html: sub/pic.png (no file sub/pic.png)",
    ]
    (tmp_path / "sub" / "pic.png").write_bytes(b"\x89PNG")
    (tmp_path / "missing.html").write_text("<p></p>", encoding="utf-8")
    assert broken_links(str(tmp_path)) == ["index.html: sub/page.html#gone (no id 'gone')"]


def test_site_builds_without_warnings_and_links_resolve(tmp_path):
    site = tmp_path / "html"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            DOCS,
            str(site),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout}\n{proc.stderr}"

    index = _parse(site / "index.html")
    text = " ".join(index.text)
    assert "structmat" in text and "Architecture" in text
    assert any(link.startswith("api/") for link in index.links)

    api = _parse(site / "api" / "structmat.html")
    import inspect

    import structmat

    api_ids = set().union(*(_parse(p).ids for p in (site / "api").glob("*.html")))
    for name in structmat.__all__:
        obj = getattr(structmat, name)
        if inspect.ismodule(obj):  # a submodule exported by name has a page of its own
            assert f"module-{obj.__name__}" in api_ids, f"{obj.__name__} has no API page"
        else:
            assert f"structmat.{name}" in api.ids, f"structmat.{name} is not on the API page"
    assert "project_to_monarch" in " ".join(api.text)
    projection = _parse(site / "api" / "projection.html")
    assert "structmat.projection.solver_options" in projection.ids

    from proofs import all_claims

    claims = " ".join(_parse(site / "claims.html").text)
    missing = [c.name for c in all_claims() if c.name not in claims]
    assert not missing, f"claims missing from the claims page: {missing}"
    with open(os.path.join(ROOT, "proofs", "report.json"), encoding="utf-8") as fh:
        records = json.load(fh)
    passed = {r["claim"] for r in records} - {
        r["claim"]
        for r in records
        if r["verdict"] != "verified" or r["negative_control"] != "rejected"
    }
    assert claims.count("verified, controls rejected") == len(passed)
    report = " ".join(_parse(site / "report.html").text)
    assert "Exact verification of the Monarch expressivity claims" in report

    gallery = glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb"))
    assert gallery
    for notebook in gallery:
        stem = os.path.splitext(os.path.basename(notebook))[0]
        page = site / "gallery" / "_notebooks" / f"{stem}.html"
        assert page.is_file(), f"notebook {stem} is not in the gallery"
    figures = [
        link
        for link in _parse(site / "gallery" / "_notebooks" / "03_projection.html").links
        if link.endswith(".png")
    ]
    assert figures, "the stored figures of notebook 03 are not rendered"

    broken = broken_links(str(site))
    assert not broken, "broken internal links:\n" + "\n".join(broken)


def test_code_examples_of_the_pages_run():
    """Every ``python`` code block of the Markdown pages runs (in one namespace per page)."""
    pages = sorted(glob.glob(os.path.join(DOCS, "**", "*.md"), recursive=True))
    ran = 0
    for page in pages:
        with open(page, encoding="utf-8") as fh:
            blocks = re.findall(r"^```python\n(.*?)^```", fh.read(), flags=re.S | re.M)
        namespace: dict = {}
        for block in blocks:
            exec(compile(block, f"{os.path.relpath(page, ROOT)} (code block)", "exec"), namespace)
            ran += 1
    assert ran >= 2
