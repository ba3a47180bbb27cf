"""The tuning of the slab solvers, in one place: :class:`SolverOptions` and :func:`solver_options`.

None of these knobs changes what the projection returns beyond rounding (every slab is
certified or solved by a full SVD whatever they are); they decide which solver a slab goes to
and how the work is cut.  They are read once per call, in the calling thread, from a context
variable, so concurrent projections in different threads or tasks can use different settings.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ._arrays import _eps

__all__ = ["SolverOptions", "solver_options", "current_options"]

#: seed of the start vectors of the iterative slab solvers (results are deterministic)
_START_SEED = 20220404


@dataclass(frozen=True)
class SolverOptions:
    """Tuning of :func:`~structmat.project_to_monarch`'s slab solvers.

    Parameters
    ----------
    lanczos_min_order : int
        Smallest order of a rank-1 slab's Gram matrix solved by Lanczos (smaller ones, and
        every slab of rank above 1, go to a batched ``eigh``).
    lanczos_steps : int or None
        Lanczos steps per slab; ``None``: 18 in single and 30 in double precision, which
        certify about 99 % of the slabs of Gaussian and power-law matrices at order 64 (the
        rest are restarted from their Ritz vector).  More steps help little in single
        precision and hurt in double, where plain Lanczos loses orthogonality and starts to
        duplicate the top Ritz value.
    task_bytes : int
        Bytes of Gram matrices per task of the threaded NumPy rank-1 solver (a task's Gram
        matrices should stay in the processor's shared cache for all Lanczos steps).
    keep_gram_bytes : int
        The NumPy rank-1 solver keeps every Gram matrix for the certificate when they take
        at most this many bytes, and forms them again from the slabs otherwise.
    chunk_bytes : int
        Bytes of Gram matrices per batch chunk of a projection (bounds the working memory).
    tridiag_dense_max : int
        At most this many small tridiagonal problems are solved by a dense batched ``eigh``
        (more by vectorised bisection).
    compiled : bool
        Solve real rank-1 slabs on NumPy by the compiled, fused per-slab solver
        (:mod:`structmat.projection.fused`, needs Numba); ``False`` uses the NumPy solver.
        Both give the same certificates; the compiled one is several times faster.

    Examples
    --------
    >>> from structmat.projection import SolverOptions
    >>> SolverOptions().lanczos_min_order
    32
    """

    lanczos_min_order: int = 32
    lanczos_steps: int | None = None
    task_bytes: int = 1 << 22
    keep_gram_bytes: int = 256 * 2**20
    chunk_bytes: int = 256 * 2**20
    tridiag_dense_max: int = 256
    compiled: bool = True

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "compiled":
                if not isinstance(v, (bool, np.bool_)):
                    raise TypeError(f"compiled must be a bool; got {v!r}")
                continue
            if v is None and f.name == "lanczos_steps":
                continue
            low = 1 if f.name == "lanczos_steps" else 0
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < low:
                what = "a positive" if low else "a non-negative"
                raise ValueError(f"{f.name} must be {what} integer; got {v!r}")


# the default is immutable (a frozen dataclass), so sharing it between contexts is safe
_CURRENT: contextvars.ContextVar[SolverOptions] = contextvars.ContextVar(
    "structmat_solver_options",
    default=SolverOptions(),  # noqa: B039
)


def current_options() -> SolverOptions:
    """The :class:`SolverOptions` in force in this thread or task.

    Examples
    --------
    >>> from structmat.projection import current_options
    >>> current_options().chunk_bytes == 256 * 2**20
    True
    """
    return _CURRENT.get()


@contextlib.contextmanager
def solver_options(**changes) -> Iterator[SolverOptions]:
    """Change some :class:`SolverOptions` for the projections run inside a ``with`` block.

    Parameters
    ----------
    **changes
        Fields of :class:`SolverOptions` and their new values.

    Raises
    ------
    TypeError
        For a name that is not a field.
    ValueError
        For a value that is not a non-negative integer (``lanczos_steps``: positive;
        ``compiled`` takes a bool, and anything else is a ``TypeError``).

    Examples
    --------
    >>> import numpy as np
    >>> import structmat as sm
    >>> from structmat.projection import solver_options
    >>> A = np.random.default_rng(0).standard_normal((64, 64))
    >>> with solver_options(lanczos_min_order=4, lanczos_steps=4):
    ...     M, info = sm.project_to_monarch(A, 8, return_info=True)
    >>> sorted(info.solvers)                    # short runs: some slabs need the SVD
    ['exact', 'lanczos', 'svd', 'zero']
    >>> bool(np.isclose(info.error, sm.project_to_monarch(A, 8, return_info=True)[1].error))
    True
    """
    names = {f.name for f in dataclasses.fields(SolverOptions)}
    bad = sorted(set(changes) - names)
    if bad:
        raise TypeError(
            f"solver_options got unknown option(s) {bad}; expected some of {sorted(names)}"
        )
    token = _CURRENT.set(dataclasses.replace(_CURRENT.get(), **changes))
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def _lanczos_steps(xp, dtype) -> int:
    """Lanczos steps of the rank-1 solver for slabs of ``dtype`` (see :class:`SolverOptions`)."""
    steps = current_options().lanczos_steps
    if steps is not None:
        return int(steps)
    return 18 if _eps(xp, dtype) > 1e-10 else 30


def _make_rng(seed) -> np.random.Generator:
    """The generator of the solvers' random start vectors (``None``: a fixed default seed)."""
    if seed is None:
        return np.random.default_rng(_START_SEED)
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be None, an int or a numpy.random.Generator; got {seed!r}")
    return np.random.default_rng(int(seed))
