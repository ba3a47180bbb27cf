"""The structured array classes, one family per module."""

from .blockdiag import BlockDiagonal
from .blocktt import BlockTT
from .butterfly import Butterfly
from .convolution import Convolution
from .diagonal import Diagonal
from .fourier import DFT
from .hadamard import Hadamard
from .monarch import Monarch
from .monarch_p import MonarchP
from .permutation import Permutation
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
    "Monarch",
    "MonarchP",
    "Permutation",
    "Scaled",
    "Sum",
]
