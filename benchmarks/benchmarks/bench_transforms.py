"""Fast transforms (DFT, DCT, Hadamard, convolution) against the FFT library and dense GEMM."""

from __future__ import annotations

import numpy as np

import structmat

from ._common import BACKENDS, backend, random_array, warm_up

TRANSFORMS = ["dft", "dct", "hadamard", "convolution"]


def _fft_module(xp):
    if xp is np:
        import scipy.fft

        return scipy.fft
    import cupyx.scipy.fft

    return cupyx.scipy.fft


def _make(name, n, xp):
    """``(T, library_fn)``: the structmat transform and the FFT-library computation of ``T @ X``."""
    fft = _fft_module(xp)
    if name == "dft":
        return structmat.DFT(n, dtype="complex64"), lambda X: fft.fft(X, axis=0)
    if name == "dct":
        return structmat.DCT(n, type=2, dtype="float32"), lambda X: fft.dct(X, type=2, axis=0)
    if name == "hadamard":
        # no Walsh-Hadamard transform in SciPy: the library baseline is the dense product
        T = structmat.Hadamard(n, dtype="float32")
        D = T.to_dense(xp)
        return T, lambda X: D @ X
    if name == "convolution":
        kernel = random_array(xp, (n,), "float32", seed=2)
        spec = fft.rfft(kernel)[:, None]
        return structmat.Convolution(kernel), lambda X: fft.irfft(
            fft.rfft(X, axis=0) * spec, n=n, axis=0
        )
    raise ValueError(name)


class Transforms:
    """``T @ X`` for ``X`` float32 of shape ``(n, batch)``."""

    params = (BACKENDS, TRANSFORMS, [1024, 4096], [1, 256])
    param_names = ["backend", "transform", "n", "batch"]

    def setup(self, name, transform, n, batch):
        self.xp, self.sync = backend(name)
        self.T, self.library = _make(transform, n, self.xp)
        self.D = self.T.to_dense(self.xp)
        self.X = random_array(self.xp, (n, batch), "float32", seed=1)
        warm_up(
            lambda: self.D @ self.X,
            lambda: self.library(self.X),
            lambda: self.T @ self.X,
            sync=self.sync,
        )

    def time_structmat(self, name, transform, n, batch):
        self.T @ self.X
        self.sync()

    def time_library(self, name, transform, n, batch):
        self.library(self.X)
        self.sync()

    def time_dense(self, name, transform, n, batch):
        self.D @ self.X
        self.sync()

    def peakmem_structmat(self, name, transform, n, batch):
        self.T @ self.X
        self.sync()


class MonarchFormDFT:
    """The DFT as a product of Monarch factors (``structmat.to_monarch``) against the FFT."""

    params = (BACKENDS, [1024, 4096], [1, 256])
    param_names = ["backend", "n", "batch"]

    def setup(self, name, n, batch):
        if not hasattr(structmat, "to_monarch"):
            raise NotImplementedError("structmat.to_monarch is not available")
        self.xp, self.sync = backend(name)
        self.P = structmat.to_monarch(structmat.DFT(n, dtype="complex64"))
        if self.P.xp is not None and self.P.xp is not self.xp:
            self.P = self.P.to_backend(self.xp)
        self.fft = _fft_module(self.xp)
        self.X = random_array(self.xp, (n, batch), "complex64", seed=1)
        warm_up(lambda: self.fft.fft(self.X, axis=0), lambda: self.P @ self.X, sync=self.sync)

    def time_monarch_form(self, name, n, batch):
        self.P @ self.X
        self.sync()

    def time_fft(self, name, n, batch):
        self.fft.fft(self.X, axis=0)
        self.sync()
