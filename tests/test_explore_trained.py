"""Trained weights: the digits MLP trains, and measure() reports against an independent SVD."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("sklearn")

from structmat.explore.trained import _markdown, measure, train_digits_mlp  # noqa: E402


def test_train_and_measure():
    weights, acc = train_digits_mlp((48, 40), max_iter=30, seed=1)
    assert [w.shape for w in weights.values()] == [(48, 64), (40, 48), (10, 40)]
    assert acc > 0.8  # it learned something: chance is 0.1
    rows = measure(weights, budgets=(0.25, 0.5), families=["lowrank", "monarch", "sparse"])
    assert [(r["matrix"], r["budget"]) for r in rows] == [
        ("layer0", 0.25),
        ("layer0", 0.5),
        ("layer1", 0.25),
        ("layer1", 0.5),
    ]  # 10 x 40 skipped
    for r in rows:
        W = weights[r["matrix"]]
        rank = r["nparams"] // sum(W.shape)
        s = np.linalg.svd(W, compute_uv=False)
        assert abs(r["lowrank_error"] - math.sqrt(np.sum(s[rank:] ** 2) / np.sum(s**2))) < 1e-12
        assert r["best_error"] <= r["lowrank_error"] + 1e-12
    table = _markdown(rows)
    assert table.count("\n") == len(rows) + 1 and "| layer1 | 40×48 | 50 % |" in table
