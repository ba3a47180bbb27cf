"""Bad input anywhere in the public API gives a ValueError/TypeError naming the argument."""

from __future__ import annotations

from builtins import type as builtins_type

import array_api_strict
import numpy as np
import pytest

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
    Product,
)
from structmat.base import check_size
from structmat.ops.monarch import monarch_geometry

NAN_INF = [float("nan"), float("inf"), float("-inf")]


def ones(*shape):
    return np.ones(shape)


def with_bad(shape, value):
    a = np.ones(shape)
    a.flat[a.size // 2] = value
    return a


# ----------------------------------------------------------------------------------------------
# sizes
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,exc",
    [
        (0, ValueError),
        (-3, ValueError),
        (2.0, TypeError),
        ("4", TypeError),
        (True, TypeError),
        (None, TypeError),
    ],
)
def test_check_size(value, exc):
    with pytest.raises(exc, match=r"width must be an integer >= 1"):
        check_size(value, "width")


@pytest.mark.parametrize(
    "make",
    [
        lambda v: DFT(v),
        lambda v: DCT(v),
        lambda v: DST(v),
        lambda v: Hadamard(v),
        lambda v: Butterfly.random(v),
        lambda v: Monarch.random(v),
    ],
)
def test_sizes_name_n(make):
    with pytest.raises(ValueError, match=r"\bn(_in)? must be an integer >= 1"):
        make(0)
    with pytest.raises(TypeError, match=r"\bn(_in)? must be an integer"):
        make(4.5)


# ----------------------------------------------------------------------------------------------
# Hadamard, Butterfly: powers of 2
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 6, 12, 100])
def test_hadamard_needs_power_of_two(n):
    with pytest.raises(ValueError, match=rf"n must be a power of 2.*got {n}"):
        Hadamard(n)


def test_hadamard_norm_and_dtype():
    with pytest.raises(ValueError, match="norm must be None or 'ortho'"):
        Hadamard(4, norm="bad")
    with pytest.raises(TypeError, match="dtype"):
        Hadamard(4, dtype="int64")
    with pytest.raises(TypeError, match="dtype"):
        Hadamard(4, dtype="float16")


@pytest.mark.parametrize("n", [3, 12, 1])
def test_butterfly_random_needs_power_of_two(n):
    with pytest.raises(ValueError, match=r"n must be a power of 2"):
        Butterfly.random(n)


@pytest.mark.parametrize("shape", [(3, 2, 2, 3), (2, 2, 2, 4), (3, 2, 3, 4), (0, 2, 2, 0)])
def test_butterfly_twiddle_shape(shape):
    with pytest.raises(ValueError, match=r"twiddle must have shape \(log2\(n\), 2, 2, n // 2\)"):
        Butterfly(np.ones(shape))


def test_butterfly_twiddle_ndim_dtype_values():
    with pytest.raises(ValueError, match="twiddle must be a 4-D array"):
        Butterfly(np.ones((2, 2, 4)))
    with pytest.raises(TypeError, match="twiddle has dtype float16"):
        Butterfly(np.ones((2, 2, 2, 2), dtype=np.float16))
    for v in NAN_INF:
        with pytest.raises(ValueError, match="twiddle contains NaN or Inf"):
            Butterfly(with_bad((2, 2, 2, 2), v))
    with pytest.raises(TypeError, match="dtype"):
        Butterfly.random(4, dtype="int32")


# ----------------------------------------------------------------------------------------------
# Monarch
# ----------------------------------------------------------------------------------------------


def test_monarch_middle_dimension_mismatch_names_both_products():
    L, R = ones(3, 4, 5), ones(4, 4, 4)  # l*r = 15, k*q = 16
    with pytest.raises(ValueError, match=r"l\*r = 3\*5 = 15.*k\*q = 4\*4 = 16"):
        Monarch(L, R)


@pytest.mark.parametrize(
    "L,R,name",
    [
        (ones(4, 4), ones(4, 4, 4), "L"),
        (ones(4, 4, 4), ones(4, 16), "R"),
        (ones(1, 4, 4, 4), ones(4, 4, 4), "L"),
        (ones(4, 4, 4), np.ones(()), "R"),
    ],
)
def test_monarch_wrong_ndim(L, R, name):
    with pytest.raises(ValueError, match=rf"{name} must be a 3-D array"):
        Monarch(L, R)


@pytest.mark.parametrize(
    "L,R",
    [
        (ones(0, 4, 4), ones(4, 4, 4)),
        (ones(4, 4, 4), ones(4, 4, 0)),
        (ones(4, 0, 4), ones(0, 4, 4)),
    ],
)
def test_monarch_empty(L, R):
    with pytest.raises(ValueError, match="L and R must have nonzero shapes"):
        Monarch(L, R)


@pytest.mark.parametrize("name", ["L", "R"])
def test_monarch_float16_and_nonfinite(name):
    good = ones(4, 4, 4)
    half = good.astype(np.float16)
    with pytest.raises(TypeError, match=rf"{name} has dtype float16"):
        Monarch(half, good) if name == "L" else Monarch(good, half)
    for v in NAN_INF:
        bad = with_bad((4, 4, 4), v)
        with pytest.raises(ValueError, match=rf"{name} contains NaN or Inf"):
            Monarch(bad, good) if name == "L" else Monarch(good, bad)


def test_monarch_parameters_that_are_not_arrays():
    with pytest.raises(TypeError, match="R has dtype object; expected a float32/64"):
        Monarch(ones(4, 4, 4), object())
    with pytest.raises(TypeError, match="L has dtype <U1"):
        Monarch(np.full((1, 1, 1), "a"), ones(1, 1, 1))
    with pytest.raises(TypeError, match="R must be an array, not a structured matrix"):
        Monarch(ones(4, 4, 4), Hadamard(4))


@pytest.mark.parametrize(
    "n_in,n_out,nblocks,valid",
    [
        (12, None, 5, r"Valid k: \[1, 2, 3, 4, 6, 12\]; valid l: \[1, 2, 3, 4, 6, 12\]"),
        (96, 24, 16, r"Valid k: \[1, 2, 3, 4, 6, 8, 12, 24\]"),
        (12, 8, (3, 2), r"k=3 must divide n_in=12 and the middle dimension 8"),
        (12, 8, (4, 3), r"l=3 must divide n_out=8"),
    ],
)
def test_monarch_random_bad_nblocks_lists_choices(n_in, n_out, nblocks, valid):
    with pytest.raises(ValueError, match=r"invalid nblocks.*" + valid):
        Monarch.random(n_in, n_out, nblocks=nblocks)


@pytest.mark.parametrize(
    "nblocks,exc,match",
    [
        ((1, 2, 3), ValueError, r"nblocks must be an int or a pair \(k, l\)"),
        (0, ValueError, r"nblocks must be an integer >= 1"),
        ((2, 0), ValueError, r"nblocks\[1\] must be an integer >= 1"),
        (2.5, TypeError, r"nblocks must be an integer"),
    ],
)
def test_monarch_geometry_bad_nblocks(nblocks, exc, match):
    with pytest.raises(exc, match=match):
        monarch_geometry(16, None, nblocks)


def test_monarch_random_bad_sizes_and_dtype():
    with pytest.raises(ValueError, match="n_out must be an integer >= 1"):
        Monarch.random(16, 0)
    with pytest.raises(TypeError, match="dtype must be float32, float64, complex64 or complex128"):
        Monarch.random(16, dtype="float16")


# ----------------------------------------------------------------------------------------------
# Permutation, Diagonal, BlockDiagonal
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "perm,exc,match",
    [
        ([0, 0, 1], ValueError, r"perm must be a permutation of 0..n-1"),
        ([0, 3, 1], ValueError, r"perm must hold indices in \[0, 3\)"),
        ([-1, 0, 1], ValueError, r"perm must hold indices in \[0, 3\)"),
        ([0.0, 1.0], TypeError, r"perm must have an integer dtype"),
        ([[0, 1], [1, 0]], ValueError, r"perm must be 1-D"),
        (np.zeros(0, dtype=int), ValueError, r"perm must not be empty"),
        (np.zeros((1, 0), dtype=int), ValueError, r"perm must be 1-D"),
        (Hadamard(2), TypeError, r"perm must be an array of indices"),
        (object(), TypeError, r"perm must have an integer dtype; got object"),
        (np.zeros(0), TypeError, r"perm must have an integer dtype"),
    ],
)
def test_permutation_bad(perm, exc, match):
    with pytest.raises(exc, match=match):
        Permutation(perm)


def test_permutation_bad_strict():
    with pytest.raises(ValueError, match="perm must be a permutation"):
        Permutation(array_api_strict.asarray([1, 1, 0]))


@pytest.mark.parametrize("r,c,name", [(0, 3, "r"), (3, -1, "c"), (2.0, 3, "r"), (2, "3", "c")])
def test_transpose_perm_bad(r, c, name):
    with pytest.raises((ValueError, TypeError), match=rf"\b{name} must be an integer >= 1"):
        Permutation.transpose_perm(r, c)


@pytest.mark.parametrize(
    "d,exc,match",
    [
        (np.ones((2, 2)), ValueError, r"d must be a 1-D array"),
        (np.ones(0), ValueError, r"d must not be empty"),
        (np.ones(3, dtype=np.float16), TypeError, r"d has dtype float16"),
        (with_bad(4, float("nan")), ValueError, r"d contains NaN or Inf"),
        (with_bad(4, float("inf")), ValueError, r"d contains NaN or Inf"),
        ("abc", (TypeError, ValueError), r"\bd\b"),
    ],
)
def test_diagonal_bad(d, exc, match):
    with pytest.raises(exc, match=match):
        Diagonal(d)


@pytest.mark.parametrize(
    "blocks,exc,match",
    [
        (np.ones((4, 4)), ValueError, r"blocks must be a 3-D array"),
        (np.ones((0, 2, 2)), ValueError, r"blocks must have a nonzero shape"),
        (np.ones((2, 0, 2)), ValueError, r"blocks must have a nonzero shape"),
        (np.ones((2, 2, 2), dtype=np.float16), TypeError, r"blocks has dtype float16"),
        (with_bad((2, 2, 2), float("-inf")), ValueError, r"blocks contains NaN or Inf"),
    ],
)
def test_blockdiagonal_bad(blocks, exc, match):
    with pytest.raises(exc, match=match):
        BlockDiagonal(blocks)


# ----------------------------------------------------------------------------------------------
# DFT, DCT, DST
# ----------------------------------------------------------------------------------------------


def test_dft_bad():
    with pytest.raises(ValueError, match="norm must be None, 'backward', 'ortho' or 'forward'"):
        DFT(8, norm="bad")
    with pytest.raises(TypeError, match="inverse must be a bool"):
        DFT(8, inverse="yes")
    with pytest.raises(TypeError, match="dtype must be complex64 or complex128"):
        DFT(8, dtype="float64")


@pytest.mark.parametrize("cls", [DCT, DST])
@pytest.mark.parametrize(
    "type, exc",
    [
        (0, ValueError),
        (5, ValueError),
        (np.int64(7), ValueError),
        ("2", TypeError),
        (2.5, TypeError),
        (2.0, TypeError),
        (True, TypeError),
        (np.bool_(True), TypeError),
        (None, TypeError),
    ],
)
def test_trig_bad_type(cls, type, exc):
    # checked at construction (2.0 used to be accepted and fail later inside SciPy)
    with pytest.raises(exc, match=r"type must be (an integer \()?1, 2, 3 or 4"):
        cls(8, type=type)


@pytest.mark.parametrize("cls", [DCT, DST])
def test_trig_numpy_integer_type(cls):
    A = cls(8, type=np.int64(3))
    assert A.type == 3 and builtins_type(A.type) is int
    np.testing.assert_array_equal(A.to_dense(), cls(8, type=3).to_dense())


@pytest.mark.parametrize("cls", [DCT, DST])
def test_trig_bad_norm_and_dtype(cls):
    with pytest.raises(ValueError, match="norm must be None or 'ortho'"):
        cls(8, norm="bad")
    with pytest.raises(ValueError, match="norm must be None or 'ortho'"):
        cls(8, norm="forward")
    with pytest.raises(TypeError, match="dtype"):
        cls(8, dtype="int64")


def test_dct1_needs_two_points():
    with pytest.raises(ValueError, match="n must be >= 2 for a type-1 DCT"):
        DCT(1, type=1)


# ----------------------------------------------------------------------------------------------
# Convolution
# ----------------------------------------------------------------------------------------------


def test_convolution_bad():
    with pytest.raises(ValueError, match=r"circular mode needs n >= len\(kernel\) = 5; got n = 3"):
        Convolution(np.ones(5), n=3)
    with pytest.raises(ValueError, match="mode must be 'circular' or 'full'"):
        Convolution(np.ones(3), mode="same")
    with pytest.raises(ValueError, match="kernel must be a 1-D array"):
        Convolution(np.ones((2, 2)))
    with pytest.raises(ValueError, match="kernel must not be empty"):
        Convolution(np.ones(0))
    with pytest.raises(ValueError, match="kernel contains NaN or Inf"):
        Convolution(with_bad(3, float("nan")))
    with pytest.raises(TypeError, match="kernel has dtype float16"):
        Convolution(np.ones(3, dtype=np.float16))
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        Convolution(np.ones(3), n=0, mode="full")


# ----------------------------------------------------------------------------------------------
# operands
# ----------------------------------------------------------------------------------------------

OPERATORS = [
    ("Monarch", lambda: Monarch.random(12, 8, nblocks=(4, 2), seed=0)),
    ("Hadamard", lambda: Hadamard(8)),
    ("DFT", lambda: DFT(6)),
    ("Convolution-full", lambda: Convolution(np.ones(3), n=4, mode="full")),
    ("Product", lambda: Diagonal(np.ones(8)) @ Hadamard(8)),
    ("Transpose", lambda: Monarch.random(12, 8, nblocks=(4, 2), seed=0).T),
]


@pytest.mark.parametrize("name,make", OPERATORS, ids=[o[0] for o in OPERATORS])
def test_wrong_operand_shape(name, make):
    A = make()
    n_out, n_in = A.shape
    with pytest.raises(ValueError, match=rf"X has shape \({n_in + 1},\); expected \({n_in},\)"):
        A @ np.ones(n_in + 1)
    with pytest.raises(ValueError, match=rf"X has shape \(3, {n_in + 1}\); expected"):
        A @ np.ones((3, n_in + 1))
    with pytest.raises(
        ValueError, match=rf"X has shape \(2, {n_out + 1}\); expected \(\.\.\., {n_out}\)"
    ):
        np.ones((2, n_out + 1)) @ A
    with pytest.raises(ValueError, match=r"X has shape .*expected \(\.\.\., "):
        A.rmatmul(array_api_strict.asarray(np.ones((2, n_out + 1)))) if A.xp is None else A.rmatmul(
            np.ones((2, n_out + 1))
        )


@pytest.mark.parametrize("name,make", OPERATORS, ids=[o[0] for o in OPERATORS])
def test_zero_dim_operand(name, make):
    A = make()
    with pytest.raises(ValueError, match="X must be at least 1-D"):
        A @ np.asarray(2.0)
    with pytest.raises(ValueError, match=r"X has shape \(\)"):
        A.rmatmul(np.asarray(2.0))
    with pytest.raises(ValueError, match="X must be at least 1-D"):
        A @ 2.0


@pytest.mark.parametrize("name,make", OPERATORS, ids=[o[0] for o in OPERATORS])
@pytest.mark.parametrize(
    "bad", ["abc", {"a": 1}, None, object()], ids=["str", "dict", "None", "object"]
)
def test_non_array_operand(name, make, bad):
    A = make()
    with pytest.raises(TypeError, match="X must be an array"):
        A @ bad
    with pytest.raises(TypeError, match="X must be an array"):
        A.rmatmul(bad)


def test_list_operand_is_accepted():
    assert np.array_equal(Hadamard(2) @ [1.0, 2.0], [3.0, -1.0])


# ----------------------------------------------------------------------------------------------
# dense conversion and composition
# ----------------------------------------------------------------------------------------------


def test_numpy_asarray_refuses_non_numpy_parameters():
    S = Monarch.random(16, seed=0, xp="array_api_strict")
    with pytest.raises(TypeError, match=r"array_api_strict parameters; use \.to_dense\(\)"):
        np.asarray(S)
    with pytest.raises(TypeError, match="aslinearoperator needs NumPy parameters"):
        S.aslinearoperator()
    with pytest.raises(ValueError, match="without a copy"):
        Monarch.random(16, seed=0).__array__(copy=False)


def test_to_dense_bad_namespace():
    with pytest.raises(TypeError, match="xp must be"):
        Hadamard(4).to_dense("nonsense")


def test_product_errors():
    with pytest.raises(
        ValueError, match=r"factor shapes do not chain: factor 0 is 8x8 but factor 1 is 4x4"
    ):
        Product(Hadamard(8), Hadamard(4))
    with pytest.raises(ValueError, match=r"factor shapes do not chain"):
        Monarch.random(16, seed=0) @ Monarch.random(12, 8, nblocks=(4, 2), seed=0)
    with pytest.raises(ValueError, match=r"factor shapes do not chain: factor 1 is 8x12"):
        Product(Hadamard(8), Monarch.random(12, 8, nblocks=(4, 2), seed=0), Hadamard(8))
    with pytest.raises(ValueError, match="Product needs at least one factor"):
        Product()
    with pytest.raises(TypeError, match=r"factors\[1\] must be a StructuredMatrix; got ndarray"):
        Product(Hadamard(4), np.eye(4))
