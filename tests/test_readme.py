"""Every Python snippet of README.md runs as written (in a scratch folder)."""

from __future__ import annotations

import pathlib
import re
import sys
import types

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_snippets():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_snippet_runs(i, tmp_path, monkeypatch, capsys):
    code = BLOCKS[i]
    if re.search(r"^\s*import torch|^\s*from torch", code, re.M):
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    # a real module, so that classes a snippet defines pickle as they do in a user's script
    mod = types.ModuleType(f"readme_snippet_{i}")
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    exec(compile(code, f"README.md snippet {i}", "exec"), mod.__dict__)
    out = capsys.readouterr().out
    # a printed verdict the snippet's comment promises (True) must not come out False
    assert "False" not in out, out
