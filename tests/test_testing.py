"""structmat.testing: the protocol checks pass on the whole zoo and catch broken classes."""

from __future__ import annotations

import numpy as np
import pytest

import structmat as sm
from structmat.testing import check_operator, default_rtol, dottest

from .zoo import SPECS


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_check_operator_passes_on_the_zoo(spec):
    e = spec.build(np)
    if e.dtype.kind != "c" and e.complex_out:
        pytest.skip("complex output for real input: the dense dtype differs from A.dtype")
    check_operator(e.A, e.ref, depth=e.depth + 2)


def test_check_operator_on_array_api_strict():
    xps = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(0)
    L = xps.asarray(rng.standard_normal((4, 4, 4)))
    R = xps.asarray(rng.standard_normal((4, 4, 4)))
    check_operator(sm.Monarch(L, R), pickling=True)


class Scale(sm.StructuredMatrix):
    """A user-written class: ``diag(d)`` through the two kernels only (``wrong``: a broken
    row kernel, so the generic adjoint is wrong)."""

    def __init__(self, d, wrong=False):
        self.d = np.array(d, dtype=np.float64)
        self.wrong = bool(wrong)
        self._xp = np
        self._dtype = self.d.dtype
        self._shape = (self.d.shape[0], self.d.shape[0])

    @property
    def nparams(self):
        return self.d.shape[0]

    def flops(self, batch=1):
        return self.d.shape[0] * batch

    def _mul_cols(self, X):
        return self.d[:, None] * X

    def _mul_rows(self, X):
        return X * (self.d[::-1] if self.wrong else self.d)[None, :]


class _ReturnsInput(Scale):
    """Hands back the operand itself (bypassing the base class's guard)."""

    def __matmul__(self, X):
        return X if isinstance(X, np.ndarray) else super().__matmul__(X)


D6 = np.arange(1.0, 7.0)


def test_a_user_class_passes():
    check_operator(Scale(D6), np.diag(D6))


def test_dottest_catches_a_wrong_adjoint():
    with pytest.raises(AssertionError, match="dot test"):
        dottest(Scale(D6, wrong=True))
    with pytest.raises(AssertionError):
        check_operator(Scale(D6, wrong=True), np.diag(D6))


def test_check_operator_catches_aliasing_and_wrong_values():
    with pytest.raises(AssertionError, match="shares memory"):
        check_operator(_ReturnsInput(np.ones(6)))
    with pytest.raises(AssertionError, match="against the reference"):
        check_operator(Scale(D6), np.diag(D6) * (1 + 1e-6))


def test_errors_and_tolerance():
    with pytest.raises(TypeError, match="StructuredMatrix"):
        check_operator(np.eye(3))
    with pytest.raises(TypeError, match="StructuredMatrix"):
        dottest(np.eye(3))
    assert default_rtol("float32", 100, 2) == pytest.approx(8 * np.finfo(np.float32).eps * 10 * 2)
    assert dottest(sm.Hadamard(8), complex_operands=True) <= default_rtol("complex128", 8, 5)
