"""Shared fixtures: the array-namespace fixture ``xp`` and the hypothesis profiles."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _cupy_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def _namespaces():
    import array_api_strict

    params = [
        pytest.param(np, id="numpy"),
        pytest.param(array_api_strict, id="array_api_strict"),
    ]
    params.append(
        pytest.param(
            "cupy",
            id="cupy",
            marks=[
                pytest.mark.gpu,
                pytest.mark.skipif(not _cupy_available(), reason="needs CuPy and a CUDA device"),
            ],
        )
    )
    return params


@pytest.fixture(params=_namespaces())
def xp(request):
    """An array namespace: numpy, array_api_strict, and cupy (``gpu`` marker)."""
    mod = request.param
    if mod == "cupy":
        import cupy

        return cupy
    return mod


def to_numpy(a):
    """Host copy of any backend's array (tests only)."""
    if hasattr(a, "get"):
        return a.get()
    return np.asarray(a)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
