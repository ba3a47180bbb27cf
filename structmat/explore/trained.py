"""Trained weights to measure the explorer on: an MLP trained on scikit-learn's digits.

scikit-learn ships the 8 x 8 handwritten digits (1,797 images) with the package, so the weights
are reproducible without any download.  ``python -m structmat.explore.trained`` trains the
network and prints, for every weight matrix and the budgets 12.5 %, 25 % and 50 % of its dense
size, the best family found by :func:`structmat.explore.approximate`, its error, and the
error of low rank at the same budget (a Markdown table).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from typing import Any

import numpy as np

from ..base import check_size
from .approximate import approximate, parse_budget

__all__ = ["train_digits_mlp", "measure"]


def train_digits_mlp(
    hidden: Any = (384, 384, 384), *, alpha: float = 1e-3, max_iter: int = 200, seed: int = 0
) -> tuple[dict, float]:
    """Train ``MLPClassifier(hidden)`` on the digits; return its weights and the test accuracy.

    Parameters
    ----------
    hidden : sequence of int
        Widths of the hidden layers.
    alpha : float
        L2 penalty (scikit-learn's ``alpha``).
    max_iter : int
        Epochs of Adam.
    seed : int
        Seeds the initialisation, the batches and the 75 / 25 train/test split.

    Returns
    -------
    weights : dict
        ``{"layer{i}": W}`` with ``W`` of shape ``(n_out, n_in)`` (float64), so that a layer
        computes ``W @ x``.
    accuracy : float
        Accuracy on the held-out quarter.

    Examples
    --------
    >>> from structmat.explore.trained import train_digits_mlp
    >>> W, acc = train_digits_mlp((16,), max_iter=5)
    >>> sorted((k, v.shape) for k, v in W.items())
    [('layer0', (16, 64)), ('layer1', (10, 16))]
    """
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    widths = tuple(check_size(h, "hidden[i]") for h in hidden)
    max_iter = check_size(max_iter, "max_iter")
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    net = MLPClassifier(
        hidden_layer_sizes=widths, alpha=float(alpha), max_iter=max_iter, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit(Xtr, ytr)
    weights = {
        f"layer{i}": np.ascontiguousarray(W.T, dtype=np.float64) for i, W in enumerate(net.coefs_)
    }
    return weights, float(net.score(Xte, yte))


def measure(
    weights: dict,
    budgets: Any = (0.125, 0.25, 0.5),
    families: Any = None,
    min_size: int = 32,
    **kwargs: Any,
) -> list[dict]:
    """For every matrix and budget: the best family, its error, and low rank's error.

    Matrices with a side below ``min_size`` are skipped.  ``kwargs`` go to
    :func:`structmat.explore.approximate`.

    Returns
    -------
    list of dict
        Keys ``matrix``, ``shape``, ``budget`` (the fraction or count given), ``nparams``
        (the budget in parameters), ``best_family``, ``best_config``, ``best_error``,
        ``lowrank_error`` (``None`` when no rank fits), ``seconds``.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore.trained import measure
    >>> W = {"w": np.random.default_rng(0).standard_normal((32, 32))}
    >>> rows = measure(W, budgets=[0.5], families=["lowrank", "monarch"])
    >>> rows[0]["best_error"] <= rows[0]["lowrank_error"]
    True
    """
    rows = []
    for name, W in weights.items():
        if min(W.shape) < min_size:
            continue
        for b in budgets:
            t0 = time.perf_counter()
            res = approximate(W, b, families=families, **kwargs)
            lr = [c.error for c in res.candidates if c.family == "lowrank"]
            rows.append(
                {
                    "matrix": name,
                    "shape": tuple(W.shape),
                    "budget": b,
                    "nparams": parse_budget(b, W.size),
                    "best_family": res.family,
                    "best_config": res.table().splitlines()[1].split(None, 3)[-1]
                    if len(res.table().splitlines()) > 1
                    else "",
                    "best_error": res.error,
                    "lowrank_error": lr[0] if lr else None,
                    "seconds": time.perf_counter() - t0,
                }
            )
    return rows


def _markdown(rows: list[dict]) -> str:
    lines = [
        "| matrix | shape | budget | best family | best error | low rank error | time s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        b = r["budget"]
        btxt = f"{100 * b:g} %" if isinstance(b, float) else str(b)
        lr = "–" if r["lowrank_error"] is None else f"{r['lowrank_error']:.4f}"
        lines.append(
            f"| {r['matrix']} | {r['shape'][0]}×{r['shape'][1]} | {btxt} | "
            f"{r['best_family']} | {r['best_error']:.4f} | {lr} | {r['seconds']:.1f} |"
        )
    return "\n".join(lines)


def _main(argv: list | None = None) -> int:
    """Command line: train, measure, print a Markdown table."""
    ap = argparse.ArgumentParser(
        prog="python -m structmat.explore.trained",
        description="Explorer figures on an MLP trained on digits.",
    )
    ap.add_argument("--hidden", type=int, nargs="+", default=[384, 384, 384])
    ap.add_argument("--alpha", type=float, default=1e-3)
    ap.add_argument("--max-iter", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budgets", type=float, nargs="+", default=[0.125, 0.25, 0.5])
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    weights, acc = train_digits_mlp(
        args.hidden, alpha=args.alpha, max_iter=args.max_iter, seed=args.seed
    )
    print(
        f"MLP {args.hidden} on digits: test accuracy {acc:.3f} "
        f"(trained in {time.perf_counter() - t0:.1f} s)"
    )
    rows = measure(weights, budgets=args.budgets)
    print(_markdown(rows))
    wins: dict = {}
    for r in rows:
        if r["lowrank_error"] is not None:
            key = f"{100 * r['budget']:g} %"
            won = r["best_error"] < r["lowrank_error"] * (1 - 1e-9)
            wins.setdefault(key, [0, 0])
            wins[key][0] += won
            wins[key][1] += 1
    for key, (won, total) in wins.items():
        print(f"budget {key}: beats low rank on {won} of {total} matrices")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
