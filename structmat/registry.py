"""The class registry: every structured-matrix class of structmat, in one list.

The package's exports, the CLI tour, the documentation and the test zoo read this list instead
of writing the classes out again; a class written elsewhere joins with :func:`register_class`.
Each entry records the class, its kind (``"parameterised"``: built from parameter arrays;
``"transform"``: parameter-free, computed in the operand's namespace; ``"composite"``: built
from other matrices), a one-line summary, and a builder of a small random example of about a
given size (used by the tour and by the tests).

Examples
--------
>>> from structmat.registry import classes
>>> [c.name for c in classes("transform")]
['DFT', 'DCT', 'DST', 'Hadamard']
>>> info = classes()[0]
>>> info.name, info.kind
('Permutation', 'parameterised')
>>> info.example(16, 0).shape
(16, 16)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ClassInfo", "register_class", "classes", "get_class"]

_KINDS = ("parameterised", "transform", "composite")


@dataclass(frozen=True)
class ClassInfo:
    """One registered class.

    Attributes
    ----------
    name : str
        The class's public name.
    cls : type
        The class (a :class:`~structmat.StructuredMatrix` subclass).
    kind : {"parameterised", "transform", "composite"}
    summary : str
        One line: the matrix and the cost of its multiply.
    example : callable ``(n, seed) -> StructuredMatrix`` or None
        A random instance with ``n`` columns (or the nearest size the class admits).
    """

    name: str
    cls: type
    kind: str
    summary: str
    example: Callable[[int, int], Any] | None = None


_REGISTRY: dict[str, ClassInfo] = {}
_BUILTINS_LOADED = False


def register_class(
    cls: type,
    *,
    kind: str,
    summary: str,
    example: Callable[[int, int], Any] | None = None,
    name: str | None = None,
) -> type:
    """Add ``cls`` to the registry (or replace its entry); returns ``cls``.

    Parameters
    ----------
    cls : type
        A subclass of :class:`~structmat.StructuredMatrix`.
    kind : {"parameterised", "transform", "composite"}
    summary : str
        One line describing the matrix and its multiply.
    example : callable, optional
        ``example(n, seed)``: a random instance with about ``n`` columns.
    name : str, optional
        Registered name (default ``cls.__name__``).

    Raises
    ------
    TypeError
        When ``cls`` is not a StructuredMatrix subclass.
    ValueError
        For an unknown ``kind`` or an empty ``summary``.

    Examples
    --------
    >>> import numpy as np
    >>> import structmat as sm
    >>> from structmat.registry import register_class, get_class
    >>> class Ones(sm.Diagonal):
    ...     pass
    >>> _ = register_class(Ones, kind="parameterised", summary="diag(1, ..., 1)",
    ...                    example=lambda n, seed: Ones(np.ones(n)), name="doctest.Ones")
    >>> get_class("doctest.Ones").example(3, 0) @ np.arange(3.0)
    array([0., 1., 2.])
    """
    from .base import StructuredMatrix

    if not (isinstance(cls, type) and issubclass(cls, StructuredMatrix)):
        raise TypeError(f"cls must be a StructuredMatrix subclass; got {cls!r}")
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}; got {kind!r}")
    if not isinstance(summary, str) or not summary.strip():
        raise ValueError("summary must be a non-empty string")
    if example is not None and not callable(example):
        raise TypeError(f"example must be callable (n, seed) -> matrix; got {example!r}")
    key = cls.__name__ if name is None else str(name)
    _REGISTRY[key] = ClassInfo(key, cls, kind, summary.strip(), example)
    return cls


def _ensure_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    _register_builtins()


def classes(kind: str | None = None) -> list[ClassInfo]:
    """The registered classes (structmat's own first, in a fixed order), optionally of one kind.

    Examples
    --------
    >>> from structmat.registry import classes
    >>> "Monarch" in [c.name for c in classes("parameterised")]
    True
    """
    _ensure_builtins()
    if kind is not None and kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS} or None; got {kind!r}")
    return [c for c in _REGISTRY.values() if kind is None or c.kind == kind]


def get_class(name: str) -> ClassInfo:
    """The entry registered under ``name``.

    Examples
    --------
    >>> from structmat.registry import get_class
    >>> get_class("DFT").kind
    'transform'
    """
    _ensure_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"no registered class {name!r}; registered: {sorted(_REGISTRY)}") from None


def _pow2(n: int) -> int:
    return 1 << max(1, int(n - 1).bit_length())


def _register_builtins() -> None:
    from . import ops

    def rng(seed):
        return np.random.default_rng(seed)

    def blocks(n):
        m = max(1, int(round(n**0.5)))
        while n % m:
            m -= 1
        return m

    entries = [
        (
            ops.Permutation,
            "parameterised",
            "(P x)[i] = x[perm[i]]; a gather",
            lambda n, s: ops.Permutation(rng(s).permutation(n)),
        ),
        (
            ops.Diagonal,
            "parameterised",
            "diag(d); O(n)",
            lambda n, s: ops.Diagonal(rng(s).standard_normal(n)),
        ),
        (
            ops.BlockDiagonal,
            "parameterised",
            "blocks (nblocks, rows, cols); one batched GEMM",
            lambda n, s: ops.BlockDiagonal(
                rng(s).standard_normal((blocks(n), n // blocks(n), n // blocks(n)))
            ),
        ),
        (
            ops.Monarch,
            "parameterised",
            "P_out diag(L) P_mid diag(R); two batched GEMMs, O(n^1.5) per vector",
            lambda n, s: ops.Monarch.random(n, seed=s),
        ),
        (
            ops.MonarchP,
            "parameterised",
            "order-p Monarch: p block-diagonal factors; O(p n^(1 + 1/p)) per vector",
            lambda n, s: ops.MonarchP.random(_pow2(max(n, 8)), order=3, seed=s),
        ),
        (
            ops.BlockTT,
            "parameterised",
            "block tensor-train: c cores with ranks between them; batched GEMMs",
            lambda n, s: ops.BlockTT.random(_pow2(max(n, 4)), cores=2, ranks=2, seed=s),
        ),
        (
            ops.Butterfly,
            "parameterised",
            "B_n ... B_2 (Dao et al., ICML 2019); O(n log n)",
            lambda n, s: ops.Butterfly.random(_pow2(n), seed=s),
        ),
        (
            ops.Convolution,
            "parameterised",
            "circular (or full) convolution; FFTs",
            lambda n, s: ops.Convolution(rng(s).standard_normal(n)),
        ),
        (
            ops.DFT,
            "transform",
            "the DFT matrix (scipy.linalg.dft); an FFT",
            lambda n, s: ops.DFT(n),
        ),
        (
            ops.DCT,
            "transform",
            "DCT types 1-4 (scipy.fft.dct); FFTs",
            lambda n, s: ops.DCT(n, type=2),
        ),
        (
            ops.DST,
            "transform",
            "DST types 1-4 (scipy.fft.dst); FFTs",
            lambda n, s: ops.DST(n, type=2),
        ),
        (
            ops.Hadamard,
            "transform",
            "Sylvester Hadamard (scipy.linalg.hadamard); fast WHT",
            lambda n, s: ops.Hadamard(_pow2(n)),
        ),
        (
            ops.Sum,
            "composite",
            "a lazy sum of matrices of one shape",
            lambda n, s: ops.Sum(ops.Diagonal(rng(s).standard_normal(n)), ops.DFT(n)),
        ),
        (
            ops.Scaled,
            "composite",
            "a scalar multiple of a matrix",
            lambda n, s: ops.Scaled(0.5, ops.Monarch.random(n, seed=s)),
        ),
    ]

    def sparse(n, s):
        g = rng(s)
        nnz = max(1, n * n // 8)
        flat = g.choice(n * n, size=nnz, replace=False)
        return ops.Sparse(flat // n, flat % n, g.standard_normal(nnz), shape=(n, n))

    def kron(n, s):
        a = blocks(n)
        g = rng(s)
        return ops.Kronecker(g.standard_normal((2, a, a)), g.standard_normal((2, n // a, n // a)))

    entries += [
        (
            ops.LowRank,
            "parameterised",
            "left @ right of rank r; two thin GEMMs",
            lambda n, s: ops.LowRank(
                rng(s).standard_normal((n, 2)), rng(s + 1).standard_normal((2, n))
            ),
        ),
        (
            ops.Kronecker,
            "parameterised",
            "sum of Kronecker products B_i (x) C_i; small GEMMs",
            kron,
        ),
        (ops.Sparse, "parameterised", "non-zeros at (rows, cols); a sparse product", sparse),
    ]
    from .base import Product

    entries.append(
        (
            Product,
            "composite",
            "a lazy product A @ B @ ...; factor by factor",
            lambda n, s: Product(ops.DFT(n), ops.Diagonal(rng(s).standard_normal(n))),
        )
    )
    for cls, kind, summary, example in entries:
        if cls.__name__ not in _REGISTRY:
            register_class(cls, kind=kind, summary=summary, example=example)
