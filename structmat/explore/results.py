"""The results of the structure explorer: the family names, one candidate, and an approximation
with the table of everything tried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: families with one part, each with its optimal algorithm
SINGLE_FAMILIES = ("lowrank", "monarch", "blockdiag", "block_lowrank", "kronecker", "sparse")


#: structured part + low rank, by alternating projections
SUM_FAMILIES = ("monarch+lowrank", "blockdiag+lowrank", "sparse+lowrank")


FAMILIES = SINGLE_FAMILIES + SUM_FAMILIES


@dataclass
class Candidate:
    """One approximation tried by :func:`approximate`.

    Attributes
    ----------
    family : str
        One of :data:`FAMILIES`.
    config : dict
        The family's size: ``rank``; ``nblocks`` (Monarch: ``None`` or ``(k, l)``);
        ``tiles`` and ``rank``; ``factor_shape`` and ``nterms``; ``nnz``; for sums the
        structured part's configuration under ``"part"`` and the low rank under ``"rank"``.
    nparams : int
        Exact parameter count of the approximation.
    error : float
        Relative Frobenius error ``||A - approx||_F / ||A||_F``.
    seconds : float
        Time spent on this candidate (a decomposition shared by several candidates is charged
        to the first one that needed it).
    split : tuple of int or None
        For sums: ``(structured parameters, low-rank parameters)``.
    iterations : int or None
        For sums: iterations of the alternating projections.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore import approximate
    >>> res = approximate(np.eye(8), 32, families=["sparse"])
    >>> c = res.candidates[0]
    >>> c.family, c.config, c.nparams, c.error
    ('sparse', {'nnz': 16}, 32, 0.0)
    >>> c.as_row()["config"]
    'nnz=16'
    """

    family: str
    config: dict
    nparams: int
    error: float
    seconds: float
    split: tuple | None = None
    iterations: int | None = None

    def as_row(self) -> dict:
        """A flat dictionary (for CSV reports)."""
        return {
            "family": self.family,
            "config": _config_text(self.config),
            "nparams": self.nparams,
            "error": self.error,
            "seconds": self.seconds,
            "split": "" if self.split is None else f"{self.split[0]}+{self.split[1]}",
            "iterations": "" if self.iterations is None else self.iterations,
        }


def _config_text(config: dict) -> str:
    parts = []
    for key, value in config.items():
        if isinstance(value, dict):
            value = "{" + _config_text(value) + "}"
        elif isinstance(value, tuple):
            value = "x".join(str(v) for v in value)
        parts.append(f"{key}={value}")
    return " ".join(parts)


@dataclass
class Approximation:
    """Result of :func:`approximate`.

    Attributes
    ----------
    operator : StructuredMatrix
        The best approximation found (NumPy parameters).
    family : str
    config : dict
    nparams : int
        ``operator.nparams``; never above ``budget``.
    error : float
        ``||A - operator||_F / ||A||_F``, measured densely in float64.
    budget : int
        The budget in parameters.
    candidates : list of Candidate
        Every candidate tried, in the order tried.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat.explore import approximate
    >>> res = approximate(np.outer(np.arange(1.0, 9.0), np.ones(8)), 0.25,
    ...                   families=["lowrank", "sparse"])
    >>> res.family, res.nparams, res.error < 1e-12
    ('lowrank', 16, True)
    >>> sorted(res.best_per_family())
    ['lowrank', 'sparse']
    """

    operator: Any
    family: str
    config: dict
    nparams: int
    error: float
    budget: int
    candidates: list = field(default_factory=list)

    def best_per_family(self) -> dict:
        """``{family: Candidate}``: the lowest-error candidate of every family tried."""
        out: dict = {}
        for c in self.candidates:
            if c.family not in out or c.error < out[c.family].error:
                out[c.family] = c
        return out

    def table(self) -> str:
        """A plain-text table of the best candidate of each family, best first."""
        rows = sorted(self.best_per_family().values(), key=lambda c: c.error)
        lines = [f"{'family':<18} {'params':>9} {'error':>8} {'time s':>7}  config"]
        for c in rows:
            lines.append(
                f"{c.family:<18} {c.nparams:>9} {c.error:>8.4f} {c.seconds:>7.3f}  "
                f"{_config_text(c.config)}"
            )
        return "\n".join(lines)
