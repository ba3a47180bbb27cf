"""The class registry: one list that the exports, the zoo, save/load and the checks agree with."""

from __future__ import annotations

import numpy as np
import pytest

import structmat as sm
from structmat.registry import classes, get_class, register_class
from structmat.testing import check_operator

from .zoo import SPECS

NAMES = [
    c.name for c in classes() if c.cls.__module__.startswith("structmat.") and "." not in c.name
]


def test_every_exported_class_is_registered_and_every_registered_class_exported():
    exported = {
        name
        for name in sm.__all__
        if isinstance(getattr(sm, name), type)
        and issubclass(getattr(sm, name), sm.StructuredMatrix)
        and getattr(sm, name) is not sm.StructuredMatrix
    }
    assert exported == set(NAMES), exported ^ set(NAMES)


def test_every_registered_class_is_in_the_zoo():
    in_zoo = set()
    for spec in SPECS:
        A = spec.build(np).A
        stack = [A]
        while stack:
            op = stack.pop()
            in_zoo.add(type(op).__name__)
            stack.extend(getattr(op, "factors", ()) or ())
            stack.extend(getattr(op, "terms", ()) or ())
            if getattr(op, "base", None) is not None:
                stack.append(op.base)
    missing = [n for n in NAMES if n not in in_zoo]
    assert not missing, f"registered classes without a zoo entry: {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_registered_examples_pass_the_protocol_and_save(name, tmp_path):
    info = get_class(name)
    A = info.example(16, 0)
    assert isinstance(A, info.cls)
    check_operator(A)
    path = tmp_path / "op.npz"
    sm.save(path, A)
    assert np.array_equal(np.asarray(sm.load(path).to_dense()), np.asarray(A.to_dense()))


def test_register_class_validates():
    with pytest.raises(TypeError, match="StructuredMatrix"):
        register_class(int, kind="parameterised", summary="x")
    with pytest.raises(ValueError, match="kind"):
        register_class(sm.Diagonal, kind="other", summary="x")
    with pytest.raises(ValueError, match="summary"):
        register_class(sm.Diagonal, kind="parameterised", summary=" ")
    with pytest.raises(ValueError, match="no registered class"):
        get_class("Nope")


def test_cli_tour_lists_every_registered_class():
    import io

    from structmat.cli import tour

    buf = io.StringIO()
    rows = tour(batch=4, quick=True, file=buf)
    shown = {r["class"] for r in rows}
    assert set(NAMES) <= shown, set(NAMES) - shown
    assert all(r["rel_error"] < 1e-12 for r in rows), [r for r in rows if r["rel_error"] >= 1e-12]


def test_to_monarch_and_exact_forms_name_the_registered_classes_they_cover():
    from structmat.exact import to_exact

    A = sm.LowRank(np.ones((4, 1)), np.ones((1, 4)))
    with pytest.raises(TypeError, match="registered classes with a rule: .*Monarch.*DFT"):
        sm.to_monarch(A)
    with pytest.raises(TypeError, match="classes with one: .*Monarch.*Sum"):
        to_exact(A)
