"""Projection of a dense matrix onto Monarch matrices (``structmat.project_to_monarch``).

Skipped (``NotImplementedError`` in ``setup``) when the installed structmat has no
``project_to_monarch``.
"""

from __future__ import annotations

import structmat

from ._common import BACKENDS, backend, random_array, warm_up

HAVE_PROJECTION = hasattr(structmat, "project_to_monarch")


class ProjectToMonarch:
    """``project_to_monarch(A)`` for a random dense ``n x n`` matrix (paper geometry)."""

    params = (BACKENDS, [256, 1024], ["float32", "float64"])
    param_names = ["backend", "n", "dtype"]
    timeout = 300

    def setup(self, name, n, dtype):
        if not HAVE_PROJECTION:
            raise NotImplementedError("structmat.project_to_monarch is not available")
        self.xp, self.sync = backend(name)
        self.A = random_array(self.xp, (n, n), dtype, seed=0)
        warm_up(lambda: structmat.project_to_monarch(self.A), seconds=0.0, sync=self.sync)

    def time_project(self, name, n, dtype):
        structmat.project_to_monarch(self.A)
        self.sync()

    def peakmem_project(self, name, n, dtype):
        structmat.project_to_monarch(self.A)
        self.sync()


class ProjectToMonarchBlocks:
    """Non-square block counts: slabs of rank above one (``nblocks=(k, l)``)."""

    params = (BACKENDS, [(8, 8), (16, 4)])
    param_names = ["backend", "nblocks"]
    timeout = 300

    def setup(self, name, nblocks):
        if not HAVE_PROJECTION:
            raise NotImplementedError("structmat.project_to_monarch is not available")
        self.xp, self.sync = backend(name)
        self.A = random_array(self.xp, (1024, 1024), "float64", seed=0)
        warm_up(
            lambda: structmat.project_to_monarch(self.A, nblocks=nblocks),
            seconds=0.0,
            sync=self.sync,
        )

    def time_project(self, name, nblocks):
        structmat.project_to_monarch(self.A, nblocks=nblocks)
        self.sync()
