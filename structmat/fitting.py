"""Iterative baselines for Monarch approximation: gradient descent (Adam, SGD) and ALS.

:func:`fit_monarch_gd` minimises ``f = 1/2 ||A - M||_F^2`` over the factors of a Monarch matrix
``M = Monarch(L, R)``.  It exists to be compared with :func:`structmat.project_to_monarch`,
which reaches the global optimum directly; the benchmark ``python -m benchmarks projection``
does that comparison.

The parameters are kept in the slab layout of the projection: slab ``(a, b)`` of ``M`` (rows
``{d l + b}``, columns ``{a p + j}``) is
``Ls[a, b] @ Rs[a, b]`` with ``Ls`` of shape ``(k, l, s, rmax)`` and ``Rs`` of shape
``(k, l, rmax, p)`` (columns / rows beyond the slab's rank held at zero), a bijection with the
entries of ``L`` and ``R``.  One step is then three batched matmuls:
``E = Ls @ Rs - S``, ``grad_L = E @ Rs^H``, ``grad_R = Ls^H @ E``.

For complex parameters the gradient is ``2 df/d(conj z)`` (Wirtinger calculus): the vector of
the real-part and imaginary-part derivatives packed as one complex number, so a step along its
negative decreases ``f`` exactly as for real parameters.

Scale: the fit runs on ``A * 2**-e``, with the power of two chosen so that the root-mean-square
entry of the scaled matrix is about 1, and the factors are scaled back exactly (``L`` and ``R``
each take half of ``2**e``).  Multiplying by a power of two is exact, so the fit of ``A * 2**j``
is the fit of ``A`` with its factors scaled by powers of two whose product is ``2**j``, with the
same history of relative errors, and norms never under- or overflow, whatever the scale of
``A`` (subnormal entries included).
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import numpy as np

from . import _backend as B
from .geometry import (
    factors_from_slabs,
    monarch_geometry,
    slab_factors,
    slab_ranks,
    slab_slots,
    slab_view,
)
from .ops.monarch import Monarch
from .projection._arrays import _H, _abs2, _as_dense, _is_complex, _matmul

__all__ = ["fit_monarch_gd"]

_OPTIMIZERS = ("adam", "sgd", "als")


class _Progress:
    """A one-line progress display on stderr (only when stderr is a terminal)."""

    def __init__(self, total: int, enabled: bool):
        self.total = total
        self.enabled = enabled
        self.last = 0.0

    def update(self, step: int, rel: float, elapsed: float, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        width = 24
        done = int(width * step / max(self.total, 1))
        bar = "#" * done + "." * (width - done)
        sys.stderr.write(
            f"\rfit_monarch_gd [{bar}] {step}/{self.total}  rel_err {rel:.3e}  {elapsed:.1f}s "
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


#: largest power-of-two step of :func:`_times_pow2` (``2**±100`` is a normal float32)
_POW2_STEP = 100


def _times_pow2(xp, X, j: int):
    """``X * 2**j``, exact unless results leave the dtype's range.

    The factor is applied in steps of at most ``2**±100`` (each a normal number even in
    float32), so ``j`` may exceed the dtype's exponent range, e.g. to lift subnormal entries.
    """
    j = int(j)
    while j != 0:
        step = max(-_POW2_STEP, min(_POW2_STEP, j))
        X = X * math.ldexp(1.0, step)
        j -= step
    return X


def _scale_exponent(xp, A) -> int:
    """``e`` with the root-mean-square entry of ``A * 2**-e`` in ``[2**-0.5, 2**0.5]`` (0 for zero ``A``).

    Computed without under- or overflow: ``A`` is first brought to a largest entry in
    ``[0.5, 1)`` (real and imaginary parts counted separately) by an exact power of two.
    """
    parts = (xp.real(A), xp.imag(A)) if _is_complex(xp, A.dtype) else (A,)
    amax = max(float(xp.max(xp.abs(x))) for x in parts)
    if amax == 0.0:
        return 0
    e_max = math.frexp(amax)[1]
    scaled = _times_pow2(xp, A, -e_max)
    mean_sq = float(xp.sum(_abs2(xp, scaled))) / math.prod(int(d) for d in A.shape)
    # mean_sq >= 0.25 / N > 0: the largest entry alone contributes that much
    e = e_max + math.floor(0.5 * math.log2(mean_sq) + 0.5)
    # moderate scales are fitted as given (step sizes keep their meaning); only a root-mean-
    # square entry beyond 2**+-30, where the squares of single precision start to lose range,
    # is rescaled
    return e if abs(e) > _SCALE_FREE else 0


#: root-mean-square entries within ``2**+-_SCALE_FREE`` are fitted without rescaling
_SCALE_FREE = 30


def _slab_mask(xp, geometry, dtype):
    """``(k, l, rmax)`` mask of the used slab columns (1) and the padding (0)."""
    k, q, p, l, s, r = geometry
    rmax, _ = slab_slots(geometry)
    ranks = slab_ranks(k, q, l)
    mask = (np.arange(rmax)[None, None, :] < ranks[:, :, None]).astype(np.float64)
    return xp.asarray(mask, dtype=B.real_dtype_for(xp, dtype))


def _loss_and_grads(xp, Ls, Rs, S):
    E = _matmul(xp, Ls, Rs) - S
    loss = 0.5 * xp.sum(_abs2(xp, E))
    return loss, _matmul(xp, E, _H(xp, Rs)), _matmul(xp, _H(xp, Ls), E)


def _als_sweep(xp, Ls, Rs, S, mask, ridge):
    """Exact least-squares update of ``Ls`` (``Rs`` fixed) and then of ``Rs``, per slab."""
    pad = xp.astype(1.0 - mask, Ls.dtype)
    eye = xp.eye(Ls.shape[-1], dtype=Ls.dtype)
    # Ls = S Rs^H (Rs Rs^H)^-1 ; padded rows of Rs are zero, their diagonal gets 1
    gram = xp.matmul(Rs, _H(xp, Rs)) + (pad[..., None] + ridge) * eye
    Ls = _H(xp, xp.linalg.solve(_H(xp, gram), xp.matmul(Rs, _H(xp, S))))
    Ls = Ls * xp.astype(mask, Ls.dtype)[..., None, :]
    gram = xp.matmul(_H(xp, Ls), Ls) + (pad[..., None] + ridge) * eye
    Rs = xp.linalg.solve(gram, xp.matmul(_H(xp, Ls), S))
    Rs = Rs * xp.astype(mask, Rs.dtype)[..., :, None]
    return Ls, Rs


def fit_monarch_gd(
    A: Any,
    nblocks: Any = None,
    steps: int = 1000,
    lr: float = 1e-2,
    seed: Any = None,
    optimizer: str = "adam",
    *,
    init: Monarch | None = None,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    time_limit: float | None = None,
    target: float | None = None,
    progress: bool | None = None,
):
    """Fit a Monarch matrix to ``A`` by gradient descent on ``1/2 ||A - M||_F^2``.

    The baseline that :func:`structmat.project_to_monarch` is compared with: it starts from a
    random Monarch matrix and follows analytic gradients (Adam or plain SGD), or alternates
    exact least-squares solves for ``L`` and ``R`` (``optimizer="als"``).  It never ends below
    the projection's error (the projection is the global optimum).

    Parameters
    ----------
    A : array, shape (n_out, n_in)
        Real or complex, float32 or float64; any array-API namespace (the fit runs there).
    nblocks : None, int or (int, int)
        Geometry, as in :func:`structmat.project_to_monarch`.
    steps : int
        Number of steps (ALS: sweeps).
    lr : float
        Step size, for ``A`` scaled by a power of two to a root-mean-square entry of about 1
        (the fit runs on that scaled matrix; see below).  Adam: per-parameter step; SGD:
        multiplies the raw gradient, so it must be below about ``1 / ||A_scaled||_2`` for
        stability; ignored by ALS.
    seed : int or numpy.random.Generator, optional
        Seed of the random start.
    optimizer : {"adam", "sgd", "als"}
    init : Monarch, optional
        Start from these factors instead of a random Monarch matrix (same geometry).
    betas, eps : Adam's moment decay rates and denominator guard.
    time_limit : float, optional
        Stop after this many seconds.
    target : float, optional
        Stop once the relative error is at or below ``target``.
    progress : bool, optional
        Show a progress line on stderr; default: only for runs of 200 steps or more and only
        when stderr is a terminal.

    Returns
    -------
    Monarch
        The final iterate (dtype and namespace of ``A``).
    dict
        History as NumPy arrays of equal length (entry 0 is the start, entry ``i`` is after step
        ``i``): ``"step"``, ``"rel_error"`` (``||A - M||_F / ||A||_F``; for a zero ``A``
        0 while ``M`` is zero, ``inf`` otherwise), ``"loss"`` (``1/2 ||A - M||_F^2`` in the
        units of ``A``: it reads 0 or ``inf`` where that energy is outside float64's range,
        i.e. only for entries beyond about 1e+-150) and ``"time"`` (seconds since the start,
        setup included).

    Raises
    ------
    TypeError, ValueError
        Bad ``A`` (as :func:`project_to_monarch`), ``A`` not 2-D, bad ``steps``/``lr``/
        ``optimizer``/``init``.

    Notes
    -----
    Any scale of ``A`` works: when its root-mean-square entry lies beyond ``2**+-30`` the fit
    runs on ``A * 2**-e`` with ``e`` the exponent that brings that entry to about 1 (found
    without forming an under- or overflowing norm), and the returned factors are multiplied
    back by ``2**e`` exactly (``L`` and ``R`` each take half).  The relative errors therefore
    are those of the scaled problem, never an absolute error in disguise; for such scales and
    a power of two ``c`` the fit of ``c A`` is exactly ``c`` times the fit of ``A``, with the
    same history of relative errors.  Moderate scales are fitted as given, so ``lr`` keeps its
    meaning for SGD.

    Examples
    --------
    >>> import numpy as np
    >>> from structmat import fit_monarch_gd, project_to_monarch, projection_error
    >>> A = np.random.default_rng(0).standard_normal((64, 64))
    >>> M, hist = fit_monarch_gd(A, steps=300, lr=0.05, seed=0)
    >>> len(hist["rel_error"]), bool(hist["rel_error"][-1] < hist["rel_error"][0])
    (301, True)
    >>> bool(hist["rel_error"][-1] >= projection_error(A, project_to_monarch(A)) - 1e-12)
    True
    >>> _, tiny = fit_monarch_gd((A * 1e-30).astype(np.float32), steps=0, seed=0)
    >>> round(float(tiny["rel_error"][0]), 2) == round(float(hist["rel_error"][0]), 2)
    True
    """
    t_start = time.perf_counter()
    A, xp = _as_dense(A, "A")
    if A.ndim != 2:
        raise ValueError(
            f"fit_monarch_gd fits one matrix: A must be 2-D; got shape {tuple(A.shape)}"
        )
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer; got {steps!r}")
    steps = int(steps)
    if (
        isinstance(lr, bool)
        or not isinstance(lr, (int, float, np.floating))
        or not (lr > 0)
        or not math.isfinite(lr)
    ):
        raise ValueError(f"lr must be a positive finite number; got {lr!r}")
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {_OPTIMIZERS}; got {optimizer!r}")
    b1, b2 = (float(b) for b in betas)
    if not (0 <= b1 < 1 and 0 <= b2 < 1):
        raise ValueError(f"betas must lie in [0, 1); got {betas!r}")
    n_out, n_in = int(A.shape[0]), int(A.shape[1])
    dt = A.dtype
    cplx = _is_complex(xp, dt)
    geometry = monarch_geometry(n_in, n_out, nblocks)
    if init is not None:
        if not isinstance(init, Monarch):
            raise TypeError(f"init must be a Monarch matrix; got {type(init).__name__}")
        if init.geometry != geometry:
            raise ValueError(
                f"init has geometry {init.geometry}; expected {geometry} for nblocks={nblocks!r}"
            )
        if _is_complex(xp, init.dtype) and not cplx:
            raise TypeError(
                f"init is complex ({init.dtype}) but A is real ({dt}); pass a real init"
            )
        if init.xp is not None and B.namespace_name(init.xp) != B.namespace_name(xp):
            raise TypeError(
                f"init has {B.namespace_name(init.xp)} parameters but A is a "
                f"{B.namespace_name(xp)} array"
            )
        M0 = init
    else:
        rng = np.random.default_rng(seed)
        M0 = Monarch.random(
            n_in, n_out, nblocks=nblocks, seed=rng, dtype="complex128" if cplx else "float64", xp=xp
        )
    # the fit runs on A * 2**-e (root-mean-square entry about 1); L and R take back 2**e_L
    # and 2**e_R exactly at the end
    e = _scale_exponent(xp, A)
    e_L = e // 2
    e_R = e - e_L
    A = _times_pow2(xp, A, -e)
    S = slab_view(xp, xp.reshape(A, (1, n_out, n_in)), geometry)[0, ...]  # (k, l, s, p)
    Ls, Rs = slab_factors(xp, M0.L, M0.R, geometry)
    Ls, Rs = xp.astype(Ls, dt), xp.astype(Rs, dt)
    if init is not None:
        Ls, Rs = _times_pow2(xp, Ls, -e_L), _times_pow2(xp, Rs, -e_R)
    norm_a = math.sqrt(float(xp.sum(_abs2(xp, A))))
    if init is None:
        # scale the random start to the norm of A (split evenly between the factors); a zero A
        # starts at zero (its optimum)
        norm_m = math.sqrt(float(xp.sum(_abs2(xp, xp.matmul(Ls, Rs)))))
        if norm_m > 0:
            c = math.sqrt(norm_a / norm_m)
            Ls, Rs = Ls * c, Rs * c
    mask = _slab_mask(xp, geometry, dt)
    mask_L = xp.astype(mask, dt)[..., None, :]
    mask_R = xp.astype(mask, dt)[..., :, None]

    def relative(loss_value: float) -> float:
        if not math.isfinite(loss_value):
            return math.inf
        if norm_a > 0:
            return math.sqrt(max(2 * loss_value, 0.0)) / norm_a
        return 0.0 if loss_value == 0 else math.inf  # as projection_error for zero A

    show = progress if progress is not None else (steps >= 200 and sys.stderr.isatty())
    bar = _Progress(steps, bool(show))
    loss, gL, gR = _loss_and_grads(xp, Ls, Rs, S)
    lv = float(loss)
    hist_loss = [lv]
    hist_time = [time.perf_counter() - t_start]
    mL = xp.zeros_like(Ls)
    mR = xp.zeros_like(Rs)
    vL = xp.zeros_like(Ls)
    vR = xp.zeros_like(Rs)
    ridge = 0.0
    if optimizer == "als":
        # A is scaled to entries of about 1, so this is a relative ridge (nonzero for zero A)
        ridge = float(xp.finfo(dt).eps) * max(norm_a**2 / max(n_in, n_out), 1.0)

    def second_moment(v, g):
        # per real component (as real-valued Adam on (Re z, Im z))
        if cplx:
            upd = xp.astype(xp.real(g) ** 2, dt) + xp.astype(xp.imag(g) ** 2, dt) * 1j
            return b2 * v + (1 - b2) * upd
        return b2 * v + (1 - b2) * g * g

    def adam_step(m, v, t):
        mh = m / (1 - b1**t)
        vh = v / (1 - b2**t)
        if cplx:
            re = xp.real(mh) / (xp.sqrt(xp.real(vh)) + eps)
            im = xp.imag(mh) / (xp.sqrt(xp.imag(vh)) + eps)
            return xp.astype(re, dt) + xp.astype(im, dt) * 1j
        return mh / (xp.sqrt(vh) + eps)

    # a diverging run (too large lr) overflows: it is detected below and reported
    errstate = np.errstate(over="ignore", invalid="ignore")
    errstate.__enter__()
    try:
        for t in range(1, steps + 1):
            if optimizer == "als":
                Ls, Rs = _als_sweep(xp, Ls, Rs, S, mask, ridge)
            elif optimizer == "sgd":
                Ls = Ls - lr * gL * mask_L
                Rs = Rs - lr * gR * mask_R
            else:
                gLm, gRm = gL * mask_L, gR * mask_R
                mL = b1 * mL + (1 - b1) * gLm
                mR = b1 * mR + (1 - b1) * gRm
                vL = second_moment(vL, gLm)
                vR = second_moment(vR, gRm)
                Ls = Ls - lr * adam_step(mL, vL, t)
                Rs = Rs - lr * adam_step(mR, vR, t)
            loss, gL, gR = _loss_and_grads(xp, Ls, Rs, S)
            lv = float(loss)
            elapsed = time.perf_counter() - t_start
            hist_loss.append(lv)
            hist_time.append(elapsed)
            rel = relative(lv)
            bar.update(t, rel, elapsed)
            if not math.isfinite(lv):
                break
            if target is not None and rel <= target:
                break
            if time_limit is not None and elapsed >= time_limit:
                break
    finally:
        errstate.__exit__(None, None, None)
        if hist_loss:
            bar.update(len(hist_loss) - 1, relative(hist_loss[-1]), hist_time[-1], force=True)
        bar.close()
    if not math.isfinite(hist_loss[-1]):
        raise ValueError(
            f"fit_monarch_gd diverged at step {len(hist_loss) - 1} (loss "
            f"{hist_loss[-1]}); lower lr (got {lr!r})"
        )
    rel_arr = np.asarray([relative(v) for v in hist_loss], dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):
        # back in the units of A (outside float64's range only for |A| beyond ~1e+-150)
        loss_arr = np.ldexp(np.asarray(hist_loss, dtype=np.float64), 2 * e)
    history = {
        "step": np.arange(loss_arr.size),
        "rel_error": rel_arr,
        "loss": loss_arr,
        "time": np.asarray(hist_time, dtype=np.float64),
    }
    Ls = _times_pow2(xp, Ls * mask_L, e_L)
    Rs = _times_pow2(xp, Rs * mask_R, e_R)
    return Monarch(*factors_from_slabs(xp, Ls, Rs, geometry)), history
