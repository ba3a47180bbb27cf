"""The structured array classes, one family per module."""

from .blockdiag import BlockDiagonal
from .blocktt import BlockTT
from .butterfly import Butterfly
from .convolution import Convolution
from .diagonal import Diagonal
from .fourier import DFT
from .hadamard import Hadamard
from .kronecker import Kronecker
from .lowrank import LowRank
from .monarch import Monarch
from .monarch_p import MonarchP
from .permutation import Permutation
from .sparse import Sparse
from .sum import Scaled, Sum
from .trig import DCT, DST

__all__ = [
    "BlockDiagonal",
    "BlockTT",
    "Butterfly",
    "Convolution",
    "DCT",
    "DFT",
    "DST",
    "Diagonal",
    "Hadamard",
    "Kronecker",
    "LowRank",
    "Monarch",
    "MonarchP",
    "Permutation",
    "Scaled",
    "Sparse",
    "Sum",
]
