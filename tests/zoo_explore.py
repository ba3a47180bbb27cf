"""Zoo entries of the classes the structure explorer returns: LowRank, Kronecker, Sparse.

References are dense float64/complex128 NumPy matrices built from the same (cast) parameters
with ``numpy.outer`` sums, ``numpy.kron`` and ``scipy.sparse.coo_array`` — never through the
classes' own kernels.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from structmat.ops.kronecker import Kronecker
from structmat.ops.lowrank import LowRank
from structmat.ops.sparse import Sparse

from .zoo import Entry, Spec, _param, draw, ref_dtype


def _lowrank(m, n, r, dtype):
    def build(xp, rng):
        U = draw(rng, (m, r), dtype)
        V = draw(rng, (r, n), dtype)
        Ur, Vr = U.astype(ref_dtype(dtype)), V.astype(ref_dtype(dtype))
        ref = sum(np.outer(Ur[:, i], Vr[i]) for i in range(r))
        return Entry(
            "",
            LowRank(_param(xp, U), _param(xp, V)),
            ref,
            2,
            r * (m + n),
            "LowRank",
            param_dtype=np.dtype(dtype),
        )

    return build


def _kronecker(r, m1, n1, m2, n2, dtype):
    def build(xp, rng):
        Bf = draw(rng, (r, m1, n1), dtype)
        Cf = draw(rng, (r, m2, n2), dtype)
        rd = ref_dtype(dtype)
        ref = sum(np.kron(Bf[i].astype(rd), Cf[i].astype(rd)) for i in range(r))
        return Entry(
            "",
            Kronecker(_param(xp, Bf), _param(xp, Cf)),
            ref,
            2,
            r * (m1 * n1 + m2 * n2),
            "Kronecker",
            param_dtype=np.dtype(dtype),
        )

    return build


def _sparse(m, n, nnz, dtype):
    def build(xp, rng):
        flat = rng.choice(m * n, size=nnz, replace=False)
        rows, cols = flat // n, flat % n
        vals = draw(rng, nnz, dtype)
        ref = scipy.sparse.coo_array(
            (vals.astype(ref_dtype(dtype)), (rows, cols)), shape=(m, n)
        ).toarray()
        return Entry(
            "",
            Sparse(rows, cols, _param(xp, vals), (m, n)),
            ref,
            1,
            2 * nnz,
            "Sparse",
            param_dtype=np.dtype(dtype),
        )

    return build


def specs() -> list[Spec]:
    return [
        Spec("LowRank-6x9-r2-float64", _lowrank(6, 9, 2, "float64"), "LowRank"),
        Spec("LowRank-12x5-r3-float32", _lowrank(12, 5, 3, "float32"), "LowRank"),
        Spec("LowRank-7x7-r1-complex128", _lowrank(7, 7, 1, "complex128"), "LowRank"),
        Spec("LowRank-4x8-r4-complex64", _lowrank(4, 8, 4, "complex64"), "LowRank"),
        Spec("Kronecker-r2-2x3-by-3x2-float64", _kronecker(2, 2, 3, 3, 2, "float64"), "Kronecker"),
        Spec("Kronecker-r1-4x2-by-2x4-float32", _kronecker(1, 4, 2, 2, 4, "float32"), "Kronecker"),
        Spec(
            "Kronecker-r3-3x3-by-3x3-complex128",
            _kronecker(3, 3, 3, 3, 3, "complex128"),
            "Kronecker",
        ),
        Spec("Sparse-6x9-nnz12-float64", _sparse(6, 9, 12, "float64"), "Sparse"),
        Spec("Sparse-8x5-nnz7-float32", _sparse(8, 5, 7, "float32"), "Sparse"),
        Spec("Sparse-7x7-nnz20-complex128", _sparse(7, 7, 20, "complex128"), "Sparse"),
        Spec("Sparse-5x4-nnz0-float64", _sparse(5, 4, 0, "float64"), "Sparse"),
        Spec("Sparse-4x6-dense-float64", _sparse(4, 6, 24, "float64"), "Sparse"),
    ]
