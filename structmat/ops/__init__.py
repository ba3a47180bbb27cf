"""The structured array classes, one family per module."""

from .blockdiag import BlockDiagonal
from .butterfly import Butterfly
from .convolution import Convolution
from .diagonal import Diagonal
from .fourier import DFT
from .hadamard import Hadamard
from .monarch import Monarch
from .permutation import Permutation
from .sum import Scaled, Sum
from .trig import DCT, DST

__all__ = [
    "BlockDiagonal",
    "Butterfly",
    "Convolution",
    "DCT",
    "DFT",
    "DST",
    "Diagonal",
    "Hadamard",
    "Monarch",
    "Permutation",
    "Scaled",
    "Sum",
]
