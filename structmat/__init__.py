"""structmat: structured matrices (Monarch, butterfly, DFT, DCT/DST, Hadamard, convolution)
as array classes on NumPy or CuPy."""

from . import explore as explore, io as io
from ._blas_threads import blas_threads_shared, share_blas_threads
from .base import Product, StructmatWarning, StructuredMatrix
from .explore import approximate, frontier
from .fitting import fit_monarch_gd
from .io import load, save
from .monarch_form import to_monarch
from .ops import (
    DCT,
    DFT,
    DST,
    BlockDiagonal,
    BlockTT,
    Butterfly,
    Convolution,
    Diagonal,
    Hadamard,
    Monarch,
    MonarchP,
    Permutation,
    Scaled,
    Sum,
)
from .ops.kronecker import Kronecker
from .ops.lowrank import LowRank
from .ops.sparse import Sparse
from .projection import (
    ProjectionInfo,
    factor_mm_star,
    monarch_factors,
    project_to_monarch,
    projection_error,
    slab_singular_values,
)
from .tt_projection import (
    BlockTTInfo,
    fit_blocktt,
    project_to_blocktt,
    project_to_monarch_p,
)

__version__ = "0.1.0"

__all__ = [
    "approximate",
    "frontier",
    "LowRank",
    "Kronecker",
    "Sparse",
    "StructuredMatrix",
    "StructmatWarning",
    "Product",
    "Permutation",
    "Diagonal",
    "BlockDiagonal",
    "Monarch",
    "MonarchP",
    "BlockTT",
    "Butterfly",
    "DFT",
    "DCT",
    "DST",
    "Hadamard",
    "Convolution",
    "Sum",
    "Scaled",
    "save",
    "load",
    "io",
    "to_monarch",
    "project_to_monarch",
    "projection_error",
    "slab_singular_values",
    "monarch_factors",
    "factor_mm_star",
    "fit_monarch_gd",
    "project_to_blocktt",
    "project_to_monarch_p",
    "fit_blocktt",
    "BlockTTInfo",
    "ProjectionInfo",
    "share_blas_threads",
    "blas_threads_shared",
]
