"""Monarch ``M @ X`` and ``X @ M`` against dense GEMM (asv ``time_`` and ``peakmem_``)."""

from __future__ import annotations

import structmat

from ._common import BACKENDS, backend, random_array, warm_up


class MonarchMultiply:
    """Square Monarch matrices of size ``n`` applied to ``batch`` columns (or rows)."""

    params = (BACKENDS, [1024, 4096], [1, 1024], ["float32", "float64"])
    param_names = ["backend", "n", "batch", "dtype"]
    timeout = 300

    def setup(self, name, n, batch, dtype):
        self.xp, self.sync = backend(name)
        self.M = structmat.Monarch.random(n, seed=0, dtype=dtype, xp=name)
        self.A = self.M.to_dense()
        self.X = random_array(self.xp, (n, batch), dtype, seed=1)
        self.Xrows = self.xp.ascontiguousarray(self.X.T)
        # warm-up: BLAS threads, allocator, CuPy kernels; the Monarch product last
        warm_up(
            lambda: self.A @ self.X,
            lambda: self.Xrows @ self.M,
            lambda: self.M @ self.X,
            sync=self.sync,
        )

    def time_monarch_columns(self, name, n, batch, dtype):
        self.M @ self.X
        self.sync()

    def time_monarch_rows(self, name, n, batch, dtype):
        self.Xrows @ self.M
        self.sync()

    def time_dense(self, name, n, batch, dtype):
        self.A @ self.X
        self.sync()

    def peakmem_monarch_columns(self, name, n, batch, dtype):
        self.M @ self.X
        self.sync()

    def peakmem_monarch_rows(self, name, n, batch, dtype):
        self.Xrows @ self.M
        self.sync()


class MonarchMultiplyLarge:
    """n = 16384 (no dense baseline: the dense matrix alone would be 1 GiB in float32)."""

    params = (BACKENDS, [1024])
    param_names = ["backend", "batch"]
    timeout = 300

    def setup(self, name, batch):
        self.xp, self.sync = backend(name)
        self.M = structmat.Monarch.random(16384, seed=0, dtype="float32", xp=name)
        self.X = random_array(self.xp, (16384, batch), "float32", seed=1)
        warm_up(lambda: self.M @ self.X, sync=self.sync)

    def time_monarch_columns(self, name, batch):
        self.M @ self.X
        self.sync()

    def peakmem_monarch_columns(self, name, batch):
        self.M @ self.X
        self.sync()
