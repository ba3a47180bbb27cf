"""The operator zoo: every structured class at several sizes, each with an independent reference.

Every zoo entry is described by a :class:`Spec` (an id and a builder) so that tests can be
parametrised over the zoo at collection time and built for any array namespace later::

    for spec in SPECS:
        entry = spec.build(xp)          # xp: numpy, array_api_strict or cupy
        entry.A                         # the structured matrix, parameters in xp
        entry.ref                       # float64 / complex128 NumPy dense reference

Parameters are drawn with NumPy from a generator seeded by the entry id, cast to the entry's
dtype, and moved with ``xp.asarray``.  References are built from those same (cast) values in
float64/complex128 with SciPy/NumPy definitions (``scipy.linalg.dft/hadamard/circulant/
block_diag``, ``scipy.fft.dct/dst`` of the identity, ``numpy.convolve``) or, for Monarch and
Butterfly, from the block formulas of those classes written out here — never through the
classes' own ``to_dense``.  The zoo includes degenerate Monarch geometries on purpose (a prime
size, too many blocks); their :class:`structmat.StructmatWarning` is silenced here.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft
import scipy.linalg

import structmat as sm
from structmat import (
    DCT,
    DFT,
    DST,
    BlockDiagonal,
    Butterfly,
    Convolution,
    Diagonal,
    Hadamard,
    Monarch,
    Permutation,
)

from .tolerance import fft_depth

REAL_DTYPES = ("float32", "float64")
COMPLEX_DTYPES = ("complex64", "complex128")


# ----------------------------------------------------------------------------------------------
# independent dense references
# ----------------------------------------------------------------------------------------------


def ref_dtype(dtype) -> np.dtype:
    """float64 or complex128: the reference precision for a matrix of ``dtype``."""
    return np.dtype(np.complex128) if np.dtype(dtype).kind == "c" else np.dtype(np.float64)


def monarch_entry_reference(L: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Dense Monarch matrix from its entry formula.

    ``M[d l + b, a p + j] = sum_{i : (a q + i) mod l = b} L[b, d, (a q + i) div l] R[a, i, j]``:
    each middle index ``t = a q + i`` contributes the rank-one term ``L[b, :, c] ⊗ R[a, i, :]``
    to the ``(a, b)`` slab (rows ``d l + b``, columns ``a p + j``).
    """
    k, q, p = R.shape
    l, s, r = L.shape
    assert l * r == k * q
    M = np.zeros((l * s, k * p), dtype=np.result_type(L.dtype, R.dtype, np.float64))
    for a in range(k):
        for i in range(q):
            t = a * q + i
            b, c = t % l, t // l
            M[b::l, a * p : (a + 1) * p] += np.outer(L[b, :, c], R[a, i, :])
    return M


def monarch_einsum_reference(L: np.ndarray, R: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``M @ X`` through the four steps of the Monarch multiply, one ``einsum`` per block stage."""
    k, q, p = R.shape
    l, s, r = L.shape
    nb = X.shape[1]
    u = np.einsum("aij,ajn->ain", R, X.reshape(k, p, nb))  # 1. u[a, i]
    u = u.reshape(k * q, nb)  # t = a q + i
    v = np.stack([u[np.arange(r) * l + b] for b in range(l)])  # 2. v[b, c] = u[c l + b]
    w = np.einsum("bdc,bcn->bdn", L, v)  # 3. w[b, d]
    y = np.empty((l * s, nb), dtype=w.dtype)
    for b in range(l):  # 4. y[d l + b] = w[b, d]
        y[np.arange(s) * l + b] = w[b]
    return y


def butterfly_factor_reference(twiddle: np.ndarray, e: int) -> np.ndarray:
    """Dense butterfly factor matrix of block size ``k = 2^(e+1)`` (Dao et al.).

    Block-diagonal with ``n/k`` butterfly factors ``[[D1, D2], [D3, D4]]``; ``D`` at block row
    ``u``, block column ``v`` of factor ``g`` is ``diag(twiddle[e, u, v, g k/2:(g+1) k/2])``.
    """
    n = 2 * twiddle.shape[-1]
    k = 2 ** (e + 1)
    h = k // 2
    F = np.zeros((n, n), dtype=np.result_type(twiddle.dtype, np.float64))
    for g in range(n // k):
        for u in range(2):
            for v in range(2):
                d = twiddle[e, u, v, g * h : (g + 1) * h]
                r0, c0 = g * k + u * h, g * k + v * h
                F[r0 : r0 + h, c0 : c0 + h] = np.diag(d)
    return F


def butterfly_reference(twiddle: np.ndarray) -> np.ndarray:
    """``B_n B_{n/2} ... B_2`` as a dense product (``B_2`` applied first)."""
    levels = twiddle.shape[0]
    n = 2 * twiddle.shape[-1]
    out = np.eye(n, dtype=np.result_type(twiddle.dtype, np.float64))
    for e in range(levels):
        out = butterfly_factor_reference(twiddle, e) @ out
    return out


def dft_reference(n: int, norm: str | None = None, inverse: bool = False) -> np.ndarray:
    """``scipy.linalg.dft(n)`` (conjugated for the inverse) with SciPy's normalisations."""
    F = scipy.linalg.dft(n)
    if inverse:
        F = np.conj(F)
    norm = "backward" if norm is None else norm
    if norm == "ortho":
        return F / math.sqrt(n)
    if (norm == "forward") != inverse:
        return F / n
    return F


def trig_reference(kind: str, n: int, type: int, norm: str | None) -> np.ndarray:
    """The matrix of ``scipy.fft.dct/dst(x, type, norm)``: the transform of the identity."""
    fn = scipy.fft.dct if kind == "dct" else scipy.fft.dst
    return fn(np.eye(n), type=type, norm=norm, axis=0)


def hadamard_reference(n: int, norm: str | None = None) -> np.ndarray:
    H = scipy.linalg.hadamard(n).astype(np.float64)
    return H / math.sqrt(n) if norm == "ortho" else H


def convolution_reference(kernel: np.ndarray, n: int, mode: str) -> np.ndarray:
    """``scipy.linalg.circulant`` of the zero-padded kernel, or columns of ``numpy.convolve``."""
    c = np.asarray(kernel, dtype=ref_dtype(kernel.dtype))
    if mode == "circular":
        return scipy.linalg.circulant(np.concatenate([c, np.zeros(n - c.shape[0], c.dtype)]))
    eye = np.eye(n)
    return np.stack([np.convolve(c, eye[:, j]) for j in range(n)], axis=1)


# ----------------------------------------------------------------------------------------------
# entries
# ----------------------------------------------------------------------------------------------


@dataclass
class Entry:
    """A built zoo entry.

    ``param_dtype`` is the dtype of the parameters (``None`` for parameter-free classes, whose
    products follow the operand); ``complex_out`` marks classes whose output is complex for
    real input (DFT); ``keeps_int`` marks classes that only move entries (Permutation).
    """

    id: str
    A: Any
    ref: np.ndarray
    depth: int
    nparams: int
    family: str
    param_dtype: Any = None
    complex_out: bool = False
    keeps_int: bool = False

    @property
    def n(self) -> int:
        """Size used for tolerances: the longest dimension."""
        return max(self.ref.shape)

    @property
    def dtype(self) -> np.dtype:
        """NumPy dtype of the matrix entries."""
        return np.dtype(sm.base.dtype_name(self.A.dtype))


@dataclass(frozen=True)
class Spec:
    id: str
    builder: Callable[[Any, np.random.Generator], Entry]
    family: str

    def build(self, xp) -> Entry:
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        entry = self.builder(xp, rng)
        entry.id = self.id
        return entry

    def __repr__(self) -> str:  # shows as the pytest id
        return self.id


def draw(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    """Standard normal values (complex ones for complex dtypes), cast to ``dtype``."""
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def _param(xp, a: np.ndarray):
    return xp.asarray(a)


# -- builders (each returns an Entry; the id is filled in by Spec.build) --------------------------


def _permutation(n):
    def build(xp, rng):
        perm = rng.permutation(n)
        return Entry(
            "", Permutation(_param(xp, perm)), np.eye(n)[perm], 1, 0, "Permutation", keeps_int=True
        )

    return build


def _transpose_perm(r, c):
    def build(xp, rng):
        P = Permutation.transpose_perm(r, c, xp=xp)
        # y = x.reshape(r, c).T.ravel(): row i of P picks the x entry that lands at i
        ref = np.eye(r * c).reshape(r, c, r * c).transpose(1, 0, 2).reshape(r * c, r * c)
        return Entry("", P, ref, 1, 0, "Permutation", keeps_int=True)

    return build


def _diagonal(n, dtype):
    def build(xp, rng):
        d = draw(rng, n, dtype)
        return Entry(
            "",
            Diagonal(_param(xp, d)),
            np.diag(d.astype(ref_dtype(dtype))),
            1,
            n,
            "Diagonal",
            param_dtype=np.dtype(dtype),
        )

    return build


def _blockdiag(nb, r, c, dtype):
    def build(xp, rng):
        blocks = draw(rng, (nb, r, c), dtype)
        ref = scipy.linalg.block_diag(*blocks.astype(ref_dtype(dtype)))
        return Entry(
            "",
            BlockDiagonal(_param(xp, blocks)),
            ref,
            1,
            nb * r * c,
            "BlockDiagonal",
            param_dtype=np.dtype(dtype),
        )

    return build


def _monarch_from(L, R, xp, dtype):
    ref = monarch_entry_reference(L.astype(ref_dtype(dtype)), R.astype(ref_dtype(dtype)))
    k, q, p = R.shape
    l, s, r = L.shape
    A = Monarch(_param(xp, L), _param(xp, R))
    return Entry("", A, ref, 2, k * q * p + l * s * r, "Monarch", param_dtype=np.dtype(dtype))


def _monarch(n_in, n_out=None, nblocks=None, dtype="float64"):
    def build(xp, rng):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sm.StructmatWarning)  # degenerate ones are intended
            k, q, p, l, s, r = sm.ops.monarch.monarch_geometry(n_in, n_out, nblocks)
        R = draw(rng, (k, q, p), dtype)
        L = draw(rng, (l, s, r), dtype)
        return _monarch_from(L, R, xp, dtype)

    return build


def _monarch_raw(Lshape, Rshape, dtype="float64"):
    """Monarch from explicit block shapes (geometries monarch_geometry does not produce)."""

    def build(xp, rng):
        return _monarch_from(draw(rng, Lshape, dtype), draw(rng, Rshape, dtype), xp, dtype)

    return build


def _butterfly(n, dtype):
    def build(xp, rng):
        s = int(math.log2(n))
        tw = draw(rng, (s, 2, 2, n // 2), dtype)
        ref = butterfly_reference(tw.astype(ref_dtype(dtype)))
        return Entry(
            "",
            Butterfly(_param(xp, tw)),
            ref,
            fft_depth(n),
            2 * n * s,
            "Butterfly",
            param_dtype=np.dtype(dtype),
        )

    return build


def _dft(n, norm=None, inverse=False):
    def build(xp, rng):
        return Entry(
            "",
            DFT(n, norm=norm, inverse=inverse),
            dft_reference(n, norm, inverse),
            fft_depth(n),
            0,
            "DFT",
            complex_out=True,
        )

    return build


def _trig(kind, n, type, norm):
    def build(xp, rng):
        cls = DCT if kind == "dct" else DST
        return Entry(
            "",
            cls(n, type=type, norm=norm),
            trig_reference(kind, n, type, norm),
            fft_depth(n),
            0,
            kind.upper(),
        )

    return build


def _hadamard(n, norm=None):
    def build(xp, rng):
        return Entry(
            "", Hadamard(n, norm=norm), hadamard_reference(n, norm), fft_depth(n), 0, "Hadamard"
        )

    return build


def _convolution(L, n=None, mode="circular", dtype="float64"):
    def build(xp, rng):
        c = draw(rng, L, dtype)
        nn = L if n is None else n
        A = Convolution(_param(xp, c), n=n, mode=mode)
        nfft = nn if mode == "circular" else nn + L - 1
        return Entry(
            "",
            A,
            convolution_reference(c, nn, mode),
            fft_depth(nfft),
            L,
            "Convolution",
            param_dtype=np.dtype(dtype),
        )

    return build


def _product(*builders):
    """Product of the entries built by ``builders`` (left to right)."""

    def build(xp, rng):
        parts = [b(xp, rng) for b in builders]
        A = parts[0].A
        for p in parts[1:]:
            A = A @ p.A
        ref = parts[0].ref
        for p in parts[1:]:
            ref = ref @ p.ref
        pdts = [p.param_dtype for p in parts if p.param_dtype is not None]
        return Entry(
            "",
            A,
            ref,
            sum(p.depth for p in parts),
            sum(p.nparams for p in parts),
            "Product",
            param_dtype=np.result_type(*pdts) if pdts else None,
            complex_out=any(p.complex_out for p in parts),
        )

    return build


def _wrapped(builder, how):
    """``.T``, ``.H`` or ``.conj()`` of the entry built by ``builder``."""

    def build(xp, rng):
        e = builder(xp, rng)
        if how == "T":
            A, ref = e.A.T, e.ref.T
        elif how == "H":
            A, ref = e.A.H, np.conj(e.ref).T
        else:
            A, ref = e.A.conj(), np.conj(e.ref)
        return Entry(
            "",
            A,
            ref,
            e.depth,
            e.nparams,
            e.family,
            param_dtype=e.param_dtype,
            complex_out=e.complex_out,
            keeps_int=e.keeps_int,
        )

    return build


# ----------------------------------------------------------------------------------------------
# the zoo
# ----------------------------------------------------------------------------------------------


def _specs() -> list[Spec]:
    s: list[Spec] = []

    def add(id, builder, family):
        s.append(Spec(id, builder, family))

    for n in (1, 7, 12):
        add(f"Permutation-n{n}", _permutation(n), "Permutation")
    add("Permutation-transpose_perm-3x4", _transpose_perm(3, 4), "Permutation")
    add("Permutation-transpose_perm-5x2", _transpose_perm(5, 2), "Permutation")

    add("Diagonal-n5-float64", _diagonal(5, "float64"), "Diagonal")
    add("Diagonal-n6-float32", _diagonal(6, "float32"), "Diagonal")
    add("Diagonal-n8-complex128", _diagonal(8, "complex128"), "Diagonal")
    add("Diagonal-n7-complex64", _diagonal(7, "complex64"), "Diagonal")

    add("BlockDiagonal-3x2x4-float64", _blockdiag(3, 2, 4, "float64"), "BlockDiagonal")
    add("BlockDiagonal-2x5x3-float32", _blockdiag(2, 5, 3, "float32"), "BlockDiagonal")
    add("BlockDiagonal-4x3x3-complex128", _blockdiag(4, 3, 3, "complex128"), "BlockDiagonal")
    add("BlockDiagonal-1x7x7-float64", _blockdiag(1, 7, 7, "float64"), "BlockDiagonal")

    add("Monarch-n16-float64", _monarch(16), "Monarch")
    add("Monarch-n16-complex128", _monarch(16, dtype="complex128"), "Monarch")
    add("Monarch-n16-float32", _monarch(16, dtype="float32"), "Monarch")
    add("Monarch-n36-complex64", _monarch(36, dtype="complex64"), "Monarch")
    add("Monarch-n12-nonsquare-split", _monarch(12), "Monarch")
    add("Monarch-n12-nblocks2", _monarch(12, nblocks=2), "Monarch")
    add("Monarch-96to24", _monarch(96, 24), "Monarch")
    add("Monarch-96to24-nblocks4", _monarch(96, 24, nblocks=4), "Monarch")
    add("Monarch-24to96-complex128", _monarch(24, 96, dtype="complex128"), "Monarch")
    add("Monarch-12to8-nblocks4x2", _monarch(12, 8, nblocks=(4, 2)), "Monarch")
    add("Monarch-n96-nblocks8-mixed-ranks", _monarch(96, nblocks=8), "Monarch")
    add("Monarch-n7-prime", _monarch(7), "Monarch")
    add("Monarch-n7-nblocks7", _monarch(7, nblocks=7), "Monarch")
    add("Monarch-raw-L6x2x2-R3x4x5", _monarch_raw((6, 2, 2), (3, 4, 5)), "Monarch")
    add(
        "Monarch-raw-L2x3x6-R4x3x2-complex128",
        _monarch_raw((2, 3, 6), (4, 3, 2), "complex128"),
        "Monarch",
    )

    add("Butterfly-n2-float64", _butterfly(2, "float64"), "Butterfly")
    add("Butterfly-n8-float64", _butterfly(8, "float64"), "Butterfly")
    add("Butterfly-n16-complex128", _butterfly(16, "complex128"), "Butterfly")
    add("Butterfly-n8-float32", _butterfly(8, "float32"), "Butterfly")

    for n, norm, inv in [
        (1, None, False),
        (7, None, False),
        (8, "ortho", False),
        (12, "forward", False),
        (7, None, True),
        (8, "ortho", True),
        (6, "forward", True),
    ]:
        tag = f"DFT-n{n}-{norm}" + ("-inverse" if inv else "")
        add(tag, _dft(n, norm, inv), "DFT")

    for kind in ("dct", "dst"):
        for type in (1, 2, 3, 4):
            for norm in (None, "ortho"):
                for n in (7, 8):
                    add(
                        f"{kind.upper()}{type}-n{n}-{norm}",
                        _trig(kind, n, type, norm),
                        kind.upper(),
                    )
    add("DCT1-n2-None", _trig("dct", 2, 1, None), "DCT")
    add("DST1-n1-ortho", _trig("dst", 1, 1, "ortho"), "DST")

    add("Hadamard-n1", _hadamard(1), "Hadamard")
    add("Hadamard-n8", _hadamard(8), "Hadamard")
    add("Hadamard-n16-ortho", _hadamard(16, "ortho"), "Hadamard")

    add("Convolution-circular-L5", _convolution(5), "Convolution")
    add("Convolution-circular-L4-n9", _convolution(4, n=9), "Convolution")
    add("Convolution-circular-L6-complex128", _convolution(6, dtype="complex128"), "Convolution")
    add("Convolution-circular-L3-n7-float32", _convolution(3, n=7, dtype="float32"), "Convolution")
    add("Convolution-full-L3-n6", _convolution(3, n=6, mode="full"), "Convolution")
    add(
        "Convolution-full-L4-n5-complex128",
        _convolution(4, n=5, mode="full", dtype="complex128"),
        "Convolution",
    )
    add("Convolution-full-L7-n1", _convolution(7, n=1, mode="full"), "Convolution")

    add(
        "Product-Monarch-Permutation-Diagonal",
        _product(_monarch(16), _permutation(16), _diagonal(16, "float64")),
        "Product",
    )
    add(
        "Product-DFT-Diagonal-Hadamard",
        _product(_dft(8), _diagonal(8, "complex128"), _hadamard(8)),
        "Product",
    )
    add(
        "Product-rectangular-chain",
        _product(_monarch(96, 24), _blockdiag(4, 24, 6, "float64"), _convolution(3, n=24)),
        "Product",
    )
    add(
        "Product-DCT-Butterfly-float32",
        _product(_trig("dct", 8, 2, "ortho"), _butterfly(8, "float32")),
        "Product",
    )

    add("Transpose-Monarch-96to24", _wrapped(_monarch(96, 24), "T"), "Monarch")
    add(
        "Adjoint-Monarch-n16-complex128", _wrapped(_monarch(16, dtype="complex128"), "H"), "Monarch"
    )
    add(
        "Conj-Monarch-raw-complex128",
        _wrapped(_monarch_raw((2, 3, 6), (4, 3, 2), "complex128"), "conj"),
        "Monarch",
    )
    add("Transpose-Butterfly-n8", _wrapped(_butterfly(8, "float64"), "T"), "Butterfly")
    add("Adjoint-Butterfly-n8-complex128", _wrapped(_butterfly(8, "complex128"), "H"), "Butterfly")
    add("Conj-Butterfly-n4-complex128", _wrapped(_butterfly(4, "complex128"), "conj"), "Butterfly")
    add(
        "Transpose-Convolution-full",
        _wrapped(_convolution(3, n=6, mode="full"), "T"),
        "Convolution",
    )
    add(
        "Adjoint-Convolution-circular-complex128",
        _wrapped(_convolution(5, n=8, dtype="complex128"), "H"),
        "Convolution",
    )
    add("Transpose-DCT2-n7", _wrapped(_trig("dct", 7, 2, None), "T"), "DCT")
    add("Transpose-DST3-n8-ortho", _wrapped(_trig("dst", 8, 3, "ortho"), "T"), "DST")
    add("Adjoint-DFT-n7", _wrapped(_dft(7), "H"), "DFT")
    add("Conj-DFT-n8-ortho", _wrapped(_dft(8, "ortho"), "conj"), "DFT")
    add("Transpose-BlockDiagonal", _wrapped(_blockdiag(3, 2, 4, "float64"), "T"), "BlockDiagonal")
    add("Adjoint-Diagonal-complex128", _wrapped(_diagonal(5, "complex128"), "H"), "Diagonal")
    add("Transpose-Permutation-n7", _wrapped(_permutation(7), "T"), "Permutation")
    add(
        "Adjoint-Product-DFT-Diagonal-Hadamard",
        _wrapped(_product(_dft(8), _diagonal(8, "complex128"), _hadamard(8)), "H"),
        "Product",
    )
    add(
        "Transpose-Product-rectangular",
        _wrapped(_product(_monarch(12, 8, nblocks=(4, 2)), _blockdiag(2, 6, 3, "float64")), "T"),
        "Product",
    )
    return s


def _extension_specs() -> list[Spec]:
    """Entries of the classes whose zoo builders live in their own modules.

    Each module ``tests/zoo_<area>.py`` defines ``specs() -> list[Spec]`` using the
    helpers of this module; the list below names them explicitly (an import error is a
    test failure, never a silently smaller zoo).
    """
    import importlib

    out: list[Spec] = []
    for name in EXTENSIONS:
        out.extend(importlib.import_module(f"tests.{name}").specs())
    return out


#: zoo modules of further classes, each ``tests/<name>.py`` with a ``specs()`` function
EXTENSIONS: tuple[str, ...] = ("zoo_algebra", "zoo_explore", "zoo_orderp")

_CACHE: dict[str, list] = {}


def _all_specs() -> list[Spec]:
    """The whole zoo, built on first use (after this module and the extension modules have
    loaded: an extension module imported first imports this one, so the list cannot be
    built at import time without a cycle)."""
    if "SPECS" not in _CACHE:
        specs_ = _specs() + _extension_specs()
        ids = [s.id for s in specs_]
        assert len(set(ids)) == len(ids), "zoo ids must be unique"
        _CACHE["SPECS"], _CACHE["SPEC_IDS"] = specs_, ids
    return _CACHE["SPECS"]


def __getattr__(name: str):
    # ``SPECS`` and ``SPEC_IDS`` are computed lazily (PEP 562)
    if name in ("SPECS", "SPEC_IDS"):
        _all_specs()
        return _CACHE[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_zoo(xp, families: tuple[str, ...] | None = None) -> list[Entry]:
    """Every zoo entry built for namespace ``xp`` (optionally only some families)."""
    return [s.build(xp) for s in _all_specs() if families is None or s.family in families]


def specs(*families: str) -> list[Spec]:
    """The specs of the given families (all when none given)."""
    return [s for s in _all_specs() if not families or s.family in families]
