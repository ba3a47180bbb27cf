"""Zoo entries of the operator algebra: lazy sums, scalar multiples and the structure rules.

References are the NumPy sums and multiples of the references of the terms (built by the
builders of :mod:`tests.zoo`), never the classes' own ``to_dense``.  Scalars are exactly
representable in float32 so that the parameters of absorbed multiples are exact.
"""

from __future__ import annotations

import numpy as np

from structmat import Diagonal, Permutation
from structmat.ops.sum import Scaled, Sum

from .zoo import (
    Entry,
    Spec,
    _blockdiag,
    _butterfly,
    _convolution,
    _dft,
    _diagonal,
    _hadamard,
    _monarch,
    _permutation,
    _product,
    _trig,
)


def _merge(parts, A, ref, extra_params: int, depth_extra: int, family: str) -> Entry:
    pdts = [p.param_dtype for p in parts if p.param_dtype is not None]
    return Entry(
        "",
        A,
        ref,
        max(p.depth for p in parts) + depth_extra,
        sum(p.nparams for p in parts) + extra_params,
        family,
        param_dtype=np.result_type(*pdts) if pdts else None,
        complex_out=any(p.complex_out for p in parts),
    )


def _sum(*signed):
    """``s_1 A_1 + s_2 A_2 + ...`` for ``(sign, builder)`` pairs, through ``+`` and ``-``."""

    def build(xp, rng):
        parts = [(sign, b(xp, rng)) for sign, b in signed]
        A = parts[0][1].A if parts[0][0] > 0 else -parts[0][1].A
        ref = parts[0][0] * parts[0][1].ref
        for sign, p in parts[1:]:
            A = A + p.A if sign > 0 else A - p.A
            ref = ref + sign * p.ref
        assert isinstance(A, Sum)
        # -A of a class without a structured multiple is Scaled(-1, A): one stored scalar
        extra = sum(1 for sign, p in parts if sign < 0 and not isinstance(-p.A, type(p.A)))
        return _merge([p for _, p in parts], A, ref, extra, 1, "Sum")

    return build


def _scaled(alpha, builder):
    """``alpha * A``: a Scaled matrix, or the class itself where it absorbs the scalar."""

    def build(xp, rng):
        e = builder(xp, rng)
        A = alpha * e.A
        absorbed = not isinstance(A, Scaled)
        family = e.family if absorbed else "Scaled"
        out = _merge([e], A, alpha * e.ref, 0 if absorbed else 1, 0 if absorbed else 1, family)
        out.keeps_int = False
        out.complex_out = e.complex_out or (isinstance(alpha, complex) and e.param_dtype is None)
        if isinstance(alpha, complex) and out.param_dtype is not None:
            out.param_dtype = np.result_type(out.param_dtype, np.complex64)
        return out

    return build


def _rule(builder, family, cls):
    """``A @ B`` of two entries of one class that the structure rules keep in that class."""

    def build(xp, rng):
        a, b = builder(xp, rng), builder(xp, rng)
        A = a.A @ b.A
        assert isinstance(A, cls), type(A)
        return Entry(
            "",
            A,
            a.ref @ b.ref,
            a.depth + b.depth,
            a.nparams,
            family,
            param_dtype=a.param_dtype,
            keeps_int=a.keeps_int,
        )

    return build


def _wrapped_sum(builder, how):
    def build(xp, rng):
        e = builder(xp, rng)
        A = {"T": e.A.T, "H": e.A.H, "conj": e.A.conj()}[how]
        ref = {"T": e.ref.T, "H": np.conj(e.ref).T, "conj": np.conj(e.ref)}[how]
        assert isinstance(A, Sum)
        return Entry(
            "",
            A,
            ref,
            e.depth,
            e.nparams,
            e.family,
            param_dtype=e.param_dtype,
            complex_out=e.complex_out,
        )

    return build


def specs() -> list[Spec]:
    """The algebra entries (families ``Sum``, ``Scaled``, and rule results in their class)."""
    s = [
        Spec(
            "Sum-Monarch-Diagonal-Hadamard",
            _sum((1, _monarch(16)), (1, _diagonal(16, "float64")), (1, _hadamard(16))),
            "Sum",
        ),
        Spec(
            "Sum-DFT-minus-Monarch-complex128",
            _sum((1, _dft(8)), (-1, _monarch(8, dtype="complex128"))),
            "Sum",
        ),
        Spec(
            "Sum-float32-Butterfly-Diagonal-minus-Permutation",
            _sum(
                (1, _butterfly(8, "float32")), (1, _diagonal(8, "float32")), (-1, _permutation(8))
            ),
            "Sum",
        ),
        Spec(
            "Sum-rectangular-Monarch-BlockDiagonal",
            _sum((1, _monarch(96, 24)), (-1, _blockdiag(4, 6, 24, "float64"))),
            "Sum",
        ),
        Spec(
            "Sum-Product-Convolution-DCT",
            _sum(
                (1, _product(_monarch(8), _diagonal(8, "float64"))),
                (1, _convolution(8)),
                (-1, _trig("dct", 8, 2, "ortho")),
            ),
            "Sum",
        ),
        Spec(
            "Adjoint-Sum-complex",
            _wrapped_sum(_sum((1, _monarch(12, dtype="complex128")), (1, _dft(12))), "H"),
            "Sum",
        ),
        Spec(
            "Transpose-Sum-rectangular",
            _wrapped_sum(_sum((1, _monarch(96, 24)), (1, _blockdiag(4, 6, 24, "float64"))), "T"),
            "Sum",
        ),
        Spec("Scaled-Hadamard-n8", _scaled(-0.25, _hadamard(8)), "Scaled"),
        Spec("Scaled-complex-Convolution", _scaled(1.5 - 2j, _convolution(5)), "Scaled"),
        Spec("Scaled-complex-DST", _scaled(0.5j, _trig("dst", 7, 3, None)), "Scaled"),
        Spec(
            "Scaled-Product-float32",
            _scaled(3, _product(_butterfly(8, "float32"), _permutation(8))),
            "Scaled",
        ),
        Spec("Scaled-Monarch-absorbed", _scaled(2.5, _monarch(16, 12)), "Monarch"),
        Spec("Scaled-Monarch-complex-absorbed", _scaled(-0.5j, _monarch(12)), "Monarch"),
        Spec("Scaled-Diagonal-absorbed-float32", _scaled(-4, _diagonal(6, "float32")), "Diagonal"),
        Spec(
            "Rule-Diagonal-product",
            _rule(_diagonal(7, "complex128"), "Diagonal", Diagonal),
            "Diagonal",
        ),
        Spec(
            "Rule-Permutation-product",
            _rule(_permutation(9), "Permutation", Permutation),
            "Permutation",
        ),
    ]
    return s
