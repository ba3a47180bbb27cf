"""Order-p forms: the mixed-radix FFT (with its digit reversal) and Sylvester's Kronecker
products written as ``MonarchP`` matrices.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from typing import Any

import numpy as np

from ..base import Product, StructuredMatrix, dtype_name
from ..ops import (
    DFT,
    Hadamard,
)
from .common import _arr, _as_int, _ns, _on, _perm
from .fourstep import _dft_norm, _sylvester
from .rootsum import RootSum


def _orderp_order(order: Any) -> int:
    if isinstance(order, bool) or not isinstance(order, numbers.Integral):
        raise TypeError(f"order must be an integer >= 2; got {order!r}")
    if int(order) < 2:
        raise ValueError(f"order must be an integer >= 2; got {int(order)}")
    return int(order)


def _orderp_sizes(n: int, order: int, nblocks: Any, what: str) -> tuple[int, ...]:
    from ..ops.blocktt import orderp_sizes

    if nblocks is None:
        return orderp_sizes(n, order)
    if isinstance(nblocks, (str, bytes)) or not isinstance(nblocks, (tuple, list)):
        raise TypeError(
            f"with order={order}, nblocks must be a tuple of {order} sizes with product "
            f"{n}; got {nblocks!r}"
        )
    sizes = tuple(_as_int(b, f"nblocks[{t}]") for t, b in enumerate(nblocks))
    if len(sizes) != order or min(sizes) < 1 or math.prod(sizes) != n:
        raise ValueError(
            f"nblocks={tuple(nblocks)!r} is not a split of {what} of size {n} into "
            f"order={order} sizes >= 1 with product {n}"
        )
    return sizes


def _digits_value(index: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    """``Σ_s j_s E_s`` (``E_s = b_0 ⋯ b_{s-1}``, ``j_0`` least significant) of the row-major
    digits ``(j_0, ..., j_{t-1})`` of ``index``: the digit reversal of mixed radix."""
    if not sizes:
        return np.zeros_like(index)
    digits = np.unravel_index(index, sizes)
    out = np.zeros_like(index)
    E = 1
    for s, b in enumerate(sizes):
        out = out + digits[s] * E
        E *= b
    return out


def orderp_closed_form(X: StructuredMatrix, order: int, sizes: Any = None) -> list:
    r"""The exact closed-form order-``p`` Monarch factors of a DFT or Hadamard matrix.

    Sizes ``n = b_0 ⋯ b_{p-1}``; input digits ``j`` and output digits ``i`` row-major
    (module :mod:`structmat.ops.monarch_p`), ``U_t = b_{t+1} ⋯ b_{p-1}`` and
    ``E_t = b_0 ⋯ b_{t-1}``.

    * **DFT** (mixed-radix decimation in time, twiddles folded into the blocks):
      ``F_n = MonarchP(F_0, ..., F_{p-1}) · Q`` with
      ``F_t[(i_{>t}, j_{<t}), i_t, j_t] = ω_n^{i_t U_t (j_t E_t + Σ_{s<t} j_s E_s)}`` and
      ``(Q x)[j] = x[Σ_s j_s E_s]`` (the digit reversal).  Proof: with ``u = Σ i_t U_t`` and
      ``e = Σ j_s E_s``, ``u e = Σ_{t,s} i_t j_s U_t E_s`` and ``U_t E_s`` is a multiple of
      ``n`` whenever ``s > t``, so ``ω_n^{u e}`` is the product over ``t`` of the terms with
      ``s <= t``, which is the product of the factors' entries.  For ``p = 2`` this is the
      four-step form ``F P ∈ M`` of :func:`closed_form`.  The norm's scale goes to ``F_0``.
    * **Hadamard** (``n = 2^a``, every ``b_t`` a power of 2): ``H_n = H_{b_0} ⊗ ⋯ ⊗ H_{b_{p-1}}``,
      every block of ``F_t`` is ``H_{b_t}``; no permutation.

    Parameters
    ----------
    X : DFT or Hadamard
    order : int
        ``p >= 2``.
    sizes : tuple of int, optional
        ``(b_0, ..., b_{p-1})`` (default :func:`structmat.ops.blocktt.orderp_sizes`).

    Returns
    -------
    list of tuples
        ``("Mp", [F_0, ..., F_{p-1}], sizes)`` (:class:`RootSum` factors of shape
        ``(nblocks_t, b_t, b_t)``), followed for the DFT by ``("P", perm)``.

    Examples
    --------
    >>> from structmat import DFT
    >>> from structmat.monarch_form import orderp_closed_form
    >>> (tok, F, sizes), (tok2, perm) = orderp_closed_form(DFT(8), 3)
    >>> tok, sizes, [f.shape for f in F], perm.tolist()
    ('Mp', (2, 2, 2), [(4, 2, 2), (4, 2, 2), (4, 2, 2)], [0, 4, 2, 6, 1, 5, 3, 7])
    """
    order = _orderp_order(order)
    if isinstance(X, DFT):
        n = X.n
        b = _orderp_sizes(n, order, sizes, "DFT")
        sign = (-1, 1)[bool(X.inverse)]  # ω_n = exp(sign 2πi / n)
        cores = []
        for t in range(order):
            I_t = math.prod(b[t + 1 :])
            J_t = math.prod(b[:t])
            U_t, E_t = I_t, J_t
            jl = _digits_value(np.arange(J_t), b[:t])  # Σ_{s<t} j_s E_s
            # exponent [j_<t, i_t, j_t] = i_t U_t (j_t E_t + Σ_{s<t} j_s E_s) mod n
            expo = (
                np.arange(b[t])[None, :, None]
                * U_t
                * (np.arange(b[t])[None, None, :] * E_t + jl[:, None, None])
            ) % n
            core = RootSum.root(
                np.broadcast_to(expo[None], (I_t, J_t, b[t], b[t])).reshape(I_t * J_t, b[t], b[t]),
                n,
                sign,
            )
            cores.append(core)
        cores[0] = cores[0] * _dft_norm(n, X.norm, X.inverse)
        perm = _digits_value(np.arange(n), b)
        return [("Mp", cores, b), ("P", np.asarray(perm, dtype=np.int64))]
    if isinstance(X, Hadamard):
        n = X.n
        b = _orderp_sizes(n, order, sizes, "Hadamard")
        if any(v & (v - 1) for v in b):
            raise ValueError(f"Hadamard sizes must be powers of 2; got {b}")
        cores = []
        for t in range(order):
            nb = n // b[t]
            cores.append(
                RootSum.root(np.broadcast_to(_sylvester(b[t]), (nb, b[t], b[t])), 2, sign=1)
            )
        if X.norm == "ortho":
            cores[0] = cores[0] * RootSum.sqrt_rational(Fraction(1, n), fold_two=False)
        return [("Mp", cores, b)]
    raise TypeError(f"order-p forms cover DFT and Hadamard; got {type(X).__name__}")


def _orderp_stage_specs(cores: list, sizes: tuple[int, ...]) -> list:
    """Order-2 specs ``[("P", ...), ("M", ones, F_0), ("P", ...), ..., ("M", ones, F_{p-1}), ("P", ...)]``
    of an order-``p`` Monarch with square sizes: factor ``t`` is a block-diagonal Monarch (one
    ``1 x 1`` block per row of ``L``) between the permutations that move digit ``t`` last and
    back.  Identity permutations are left out; adjacent ones are merged."""
    p = len(cores)
    n = math.prod(sizes)
    perms: list = []  # (out_perm, in_perm) per stage, as index arrays
    for t in range(p):
        I_t, J_t, b = math.prod(sizes[t + 1 :]), math.prod(sizes[:t]), sizes[t]
        # before stage t the vector is (j_<t, j_t, i_>t); the blocks read (i_>t, j_<t, j_t)
        pin = np.arange(n).reshape(J_t, b, I_t).transpose(2, 0, 1).reshape(-1)
        pout = np.arange(n).reshape(I_t, J_t, b).transpose(1, 2, 0).reshape(-1)
        perms.append((pout, pin))
    specs: list = []
    pending = None  # a permutation to the right of the last factor
    for t in range(p):
        pout, pin = perms[t]
        left = pout if pending is None else pending[pout]  # (P_a P_b x)[i] = x[b[a[i]]]
        if not np.array_equal(left, np.arange(n)):
            specs.append(("P", left))
        nb, m, _ = cores[t].shape
        ones = RootSum.const(np.ones((nb * m, 1, 1), dtype=np.int64))
        specs.append(("M", ones, cores[t]))
        pending = pin
    if pending is not None and not np.array_equal(pending, np.arange(n)):
        specs.append(("P", pending))
    return specs


def _to_monarch_orderp(X, nblocks, order, xp, exact):
    from ..ops.monarch_p import MonarchP

    if isinstance(X, MonarchP) and exact is False:
        if X.order != order:
            raise ValueError(f"X is a MonarchP of order {X.order}, not {order}")
        return Product(_on(X, xp), form="M")
    if not isinstance(X, (DFT, Hadamard)):
        raise TypeError(
            f"to_monarch(..., order={order}) covers DFT and Hadamard (and MonarchP "
            f"itself); got {type(X).__name__}"
        )
    specs = orderp_closed_form(X, order, nblocks)
    if exact is not False:
        if exact is not True:
            raise ValueError(f"exact must be False or True with order={order}; got {exact!r}")
        from ..exact.forms import _common_product, _from_specs

        flat = []
        for sp in specs:
            flat.extend(_orderp_stage_specs(sp[1], sp[2]) if sp[0] == "Mp" else [sp])
        return _common_product(_from_specs(flat))
    ns = _ns(X, xp)
    real = not np.issubdtype(np.dtype(dtype_name(X.dtype)), np.complexfloating)
    factors: list = []
    tokens = ""
    for sp in specs:
        if sp[0] == "P":
            factors.append(_perm(ns, sp[1], X.dtype))
            tokens += "P"
        else:
            blocks = []
            for core in sp[1]:
                v = core.to_complex()
                blocks.append(_arr(ns, v.real if real else v, X.dtype))
            factors.append(MonarchP(blocks))
            tokens += "M"
    return Product(*factors, form=tokens)
