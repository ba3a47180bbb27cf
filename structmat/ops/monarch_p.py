r"""Order-``p`` Monarch matrices: :class:`MonarchP`.

An order-``p`` Monarch matrix is a product of ``p`` block-diagonal factors, each mixing one
digit of the ``b_0 × ⋯ × b_{p-1}`` reshaped vector, interleaved with the permutations that
bring that digit to the last axis (Fu et al., *Monarch Mixer*, NeurIPS 2023, Section 3; Dao et
al., *Monarch*, ICML 2022, for ``p = 2``).  With input digits ``j = (j_0, ..., j_{p-1})`` and
output digits ``i = (i_0, ..., i_{p-1})`` (row-major, ``j_0`` most significant):

.. math::

    A[i, j] = \prod_{t=0}^{p-1} F_t[(i_{t+1}, …, i_{p-1}, j_0, …, j_{t-1}),\ i_t,\ j_t].

Factor ``p-1`` is applied first.  Factor ``t`` has one ``m_t x n_t`` block for every value of
its context (output digits after ``t``, input digits before ``t``), so every axis has its own
input and output size: mixed radices (``16384 = 32·32·16``) and rectangular matrices.  This is
the block tensor-train matrix (:class:`~structmat.BlockTT`) with every rank 1; for ``p = 2``,
``MonarchP([L, R])`` is ``Monarch(L, R)`` (same arrays, the paper's geometry ``q = l``).

Cost: ``2 · nparams`` flops per column, with
``nparams = Σ_t (Π_{s>t} m_s)(Π_{s<t} n_s) m_t n_t``, i.e. ``p · n^{1+1/p}`` multiply-adds for a
square matrix with equal sizes ``b = n^{1/p}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import _backend as B
from ..base import as_param_array
from .blocktt import BlockTT, orderp_sizes

__all__ = ["MonarchP", "orderp_sizes"]


class MonarchP(BlockTT):
    r"""An order-``p`` Monarch matrix (``p >= 2`` block-diagonal factors; module docstring).

    Parameters
    ----------
    factors : sequence of arrays
        Factor ``t`` has shape ``(nblocks_t, m_t, n_t)`` with
        ``nblocks_t = m_{t+1} ⋯ m_{p-1} · n_0 ⋯ n_{t-1}``; the last factor is applied first.
        The matrix is ``(m_0 ⋯ m_{p-1}) x (n_0 ⋯ n_{p-1})``.  Copied at construction.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import Monarch, MonarchP
    >>> A = MonarchP.random(4096, order=3, seed=0)
    >>> A.in_sizes, A.nparams, A.flops(1)
    ((16, 16, 16), 196608, 393216)
    >>> M = Monarch.random(16, seed=1)
    >>> bool(np.allclose(MonarchP([M.L, M.R]).to_dense(), M.to_dense()))
    True
    """

    def __init__(self, factors: Sequence[Any]):
        if isinstance(factors, (str, bytes)) or not isinstance(factors, (tuple, list)):
            raise TypeError(f"factors must be a list of 3-D arrays; got {type(factors).__name__}")
        if len(factors) < 2:
            raise ValueError(
                f"factors must hold at least 2 arrays (order p >= 2); got {len(factors)}"
            )
        arrs, xp = [], None
        for t, F in enumerate(factors):
            a, xp = as_param_array(F, f"factors[{t}]", ndim=3, xp=xp)
            arrs.append(a)
        shapes3 = [tuple(int(v) for v in a.shape) for a in arrs]
        out_sizes = tuple(s[1] for s in shapes3)
        in_sizes = tuple(s[2] for s in shapes3)
        p = len(arrs)
        shapes5 = [(s[0], 1, s[1], s[2], 1) for s in shapes3]
        self._set(arrs, xp, out_sizes, in_sizes, (1,) * (p - 1), shapes5, 3)

    @property
    def order(self) -> int:
        """The number ``p`` of factors.

        Examples
        --------
        >>> from structmat import MonarchP
        >>> MonarchP.random(64, order=3, seed=0).order
        3
        """
        return self.ncores

    @property
    def factors(self) -> tuple:
        """The factors ``(nblocks_t, m_t, n_t)`` (the matrix's own arrays; do not write).

        Examples
        --------
        >>> from structmat import MonarchP
        >>> [f.shape for f in MonarchP.random((2, 3, 4), seed=0).factors]
        [(12, 2, 2), (8, 3, 3), (6, 4, 4)]
        """
        return tuple(self._blocks())

    @classmethod
    def random(  # type: ignore[override]  # ``order`` replaces BlockTT's ranks and cores
        cls,
        n_in: Any,
        n_out: Any = None,
        order: int | None = None,
        seed: Any = None,
        dtype: Any = "float64",
        xp: Any = None,
    ) -> MonarchP:
        """An order-``p`` Monarch matrix with independent Gaussian block entries.

        Parameters
        ----------
        n_in : int or tuple of int
            Input size (split into ``order`` factors by :func:`orderp_sizes`) or the sizes
            ``(n_0, ..., n_{p-1})``.
        n_out : int or tuple of int, optional
            Output size or sizes (default: the input sizes).
        order : int, optional
            ``p`` when ``n_in`` is an int (default 2).
        seed, dtype, xp :
            As for :meth:`structmat.Monarch.random`.

        Examples
        --------
        >>> from structmat import MonarchP
        >>> A = MonarchP.random((32, 32, 16), seed=0)
        >>> A.shape, [f.shape for f in A.factors]
        ((16384, 16384), [(512, 32, 32), (512, 32, 32), (1024, 16, 16)])
        """
        return super().random.__func__(  # type: ignore[attr-defined]  # BlockTT's, for cls
            cls, n_in, n_out, ranks=1, cores=order, seed=seed, dtype=dtype, xp=xp
        )

    @classmethod
    def _random_from_cores(cls, arrs):
        xp = B.get_namespace(arrs[0])
        return MonarchP([xp.reshape(a, (a.shape[0], a.shape[2], a.shape[3])) for a in arrs])

    def _repr_extra(self) -> str:
        return f", order={self.order}, out_sizes={self.out_sizes}, in_sizes={self.in_sizes}"
