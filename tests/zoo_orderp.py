"""Zoo entries of the order-p Monarch (:class:`structmat.MonarchP`) and block tensor-train
(:class:`structmat.BlockTT`) matrices.

References come from the entry formula of a block tensor-train matrix, written out here
(:func:`blocktt_entry_reference`): for every entry, the chain of the cores' ``r_t x r_{t+1}``
slices at that entry's digits is multiplied out (a product of small matrices per entry), which
shares nothing with the classes' batched-GEMM multiply.
"""

from __future__ import annotations

import math

import numpy as np

from structmat import BlockTT, MonarchP

from .zoo import Entry, Spec, _param, _wrapped, draw, ref_dtype


def blocktt_entry_reference(cores: list[np.ndarray], out_sizes, in_sizes) -> np.ndarray:
    """Dense block tensor-train matrix from its entry formula.

    ``A[i, j] = G_0[ctx_0][0, i_0, j_0, :] G_1[ctx_1][:, i_1, j_1, :] ⋯ G_{c-1}[ctx_{c-1}][:, i_{c-1}, j_{c-1}, 0]``
    with ``ctx_t`` the row-major index of ``(i_{t+1}, ..., i_{c-1}, j_0, ..., j_{t-1})``; cores
    have shape ``(nblocks_t, r_t, m_t, n_t, r_{t+1})``.
    """
    c = len(cores)
    n_out, n_in = math.prod(out_sizes), math.prod(in_sizes)
    I = np.array(np.unravel_index(np.arange(n_out), out_sizes))  # (c, n_out) digits
    J = np.array(np.unravel_index(np.arange(n_in), in_sizes))  # (c, n_in)
    ii = np.repeat(np.arange(n_out), n_in)
    jj = np.tile(np.arange(n_in), n_out)
    dt = np.result_type(*[G.dtype for G in cores], np.float64)
    chain = np.ones((ii.size, 1, 1), dtype=dt)
    for t in range(c):
        dims = tuple(out_sizes[t + 1 :]) + tuple(in_sizes[:t])
        digits = [I[s][ii] for s in range(t + 1, c)] + [J[s][jj] for s in range(t)]
        ctx = np.ravel_multi_index(digits, dims) if dims else np.zeros(ii.size, dtype=np.int64)
        chain = chain @ cores[t][ctx, :, I[t][ii], J[t][jj], :]
    return chain[:, 0, 0].reshape(n_out, n_in)


def _blocks_shapes(out_sizes, in_sizes, ranks):
    full = (1,) + tuple(ranks) + (1,)
    c = len(out_sizes)
    return [
        (
            math.prod(out_sizes[t + 1 :]) * math.prod(in_sizes[:t]),
            full[t],
            out_sizes[t],
            in_sizes[t],
            full[t + 1],
        )
        for t in range(c)
    ]


def _blocktt(out_sizes, in_sizes, ranks, dtype="float64"):
    def build(xp, rng):
        cores = [draw(rng, s, dtype) for s in _blocks_shapes(out_sizes, in_sizes, ranks)]
        ref = blocktt_entry_reference(
            [G.astype(ref_dtype(dtype)) for G in cores], out_sizes, in_sizes
        )
        A = BlockTT([_param(xp, G) for G in cores])
        return Entry(
            "",
            A,
            ref,
            len(cores),
            sum(G.size for G in cores),
            "BlockTT",
            param_dtype=np.dtype(dtype),
        )

    return build


def _monarchp(out_sizes, in_sizes, dtype="float64"):
    def build(xp, rng):
        shapes = _blocks_shapes(out_sizes, in_sizes, (1,) * (len(out_sizes) - 1))
        cores = [draw(rng, s, dtype) for s in shapes]
        ref = blocktt_entry_reference(
            [G.astype(ref_dtype(dtype)) for G in cores], out_sizes, in_sizes
        )
        A = MonarchP([_param(xp, G[:, 0, :, :, 0].copy()) for G in cores])
        return Entry(
            "",
            A,
            ref,
            len(cores),
            sum(G.size for G in cores),
            "MonarchP",
            param_dtype=np.dtype(dtype),
        )

    return build


def specs() -> list[Spec]:
    s: list[Spec] = []

    def add(id, builder, family):
        s.append(Spec(id, builder, family))

    add("MonarchP-p3-n12-float64", _monarchp((2, 3, 2), (2, 3, 2)), "MonarchP")
    add("MonarchP-p3-24to12-mixed", _monarchp((3, 2, 2), (2, 3, 4)), "MonarchP")
    add("MonarchP-p3-n27-complex128", _monarchp((3, 3, 3), (3, 3, 3), "complex128"), "MonarchP")
    add("MonarchP-p4-n16-float32", _monarchp((2, 2, 2, 2), (2, 2, 2, 2), "float32"), "MonarchP")
    add("MonarchP-p2-n16", _monarchp((4, 4), (4, 4)), "MonarchP")
    add(
        "MonarchP-p3-size1-axis-complex64", _monarchp((2, 1, 3), (3, 2, 1), "complex64"), "MonarchP"
    )
    add("BlockTT-c2-rank2-n16", _blocktt((4, 4), (4, 4), (2,)), "BlockTT")
    add("BlockTT-c3-ranks2x3-12to8", _blocktt((2, 2, 2), (2, 3, 2), (2, 3)), "BlockTT")
    add(
        "BlockTT-c3-rank2-complex128",
        _blocktt((2, 3, 2), (3, 2, 2), (2, 2), "complex128"),
        "BlockTT",
    )
    add(
        "BlockTT-c4-rank2-float32",
        _blocktt((2, 2, 2, 2), (2, 2, 2, 2), (2, 2, 2), "float32"),
        "BlockTT",
    )
    add("Transpose-MonarchP-24to12", _wrapped(_monarchp((3, 2, 2), (2, 3, 4)), "T"), "MonarchP")
    add(
        "Adjoint-BlockTT-complex128",
        _wrapped(_blocktt((2, 3, 2), (3, 2, 2), (2, 2), "complex128"), "H"),
        "BlockTT",
    )
    add(
        "Conj-MonarchP-complex128",
        _wrapped(_monarchp((3, 3, 3), (3, 3, 3), "complex128"), "conj"),
        "MonarchP",
    )
    return s
