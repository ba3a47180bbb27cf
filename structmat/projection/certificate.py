"""The certificate of a slab's basis: rounding margins (:class:`_Margins`), the quadratic
residual bound, the trace and inertia proofs of the gap, and the safe energy range.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _lapack

#: names of the certificate codes in :attr:`ProjectionInfo.certificates`
_CERT_NAMES = ("none", "exact", "zero", "trace", "inertia", "eigh", "svd")


_FAIL, _EXACT, _ZERO, _TRACE, _INERTIA, _EIGH, _SVD = range(7)


class _Margins:
    """Tolerance and rounding margins of the certificate for ``s x p`` slabs.

    All bounds are rigorous for the true slab ``S`` (exact arithmetic on the stored entries),
    with every computed quantity's rounding bounded in the standard model
    ``fl(a op b) = (a op b)(1 + d)``, ``|d| <= u = eps / 2`` (doubled for complex arithmetic),
    ``gamma_k = k u / (1 - k u)``, and a safety factor 1.25 on the sums below:

    * the Gram matrix ``G_c`` (dtype ``eps``): ``||G_c - S^H S||_2 <= gamma_n ||S||_F^2``
      (``n = max(s, p)``, the length of its inner products); the same bounds its trace;
    * a Rayleigh quotient ``theta = ||S v||^2`` and residual ``r = ||S^H S v - theta v||``
      computed from the slab in a dtype of unit roundoff ``eps_ritz / 2``:
      ``e_theta = 3 gamma_n + (m + 2) u`` and ``e_r = 2 gamma_n + e_theta + 2 u`` (relative to
      ``||S||_F^2``; ``m + 2`` covers ``||v|| != 1``); computed from ``G_c`` instead
      (``from_gram``) they also carry ``gamma_n`` of the Gram matrix;
    * a slab passes when the energy its basis may miss is at most ``tol`` times its discarded
      energy plus the floor ``phi ||S||_F^2``, ``tol = 8 eps sqrt(m)``, ``phi = (8 m eps)^2``
      (``m`` the slab's smaller side): below the floor, energies are not resolved by the
      dtype anyway.
    """

    def __init__(
        self,
        eps: float,
        s: int,
        p: int,
        *,
        eps_ritz: float | None = None,
        cplx: bool = False,
        from_gram: bool = False,
    ):
        m = min(s, p)
        n = max(s, p)
        c = 2.0 if cplx else 1.0
        u = c * float(eps) / 2
        ur = c * float(eps if eps_ritz is None else eps_ritz) / 2

        def gamma(k, uu):
            return k * uu / (1.0 - k * uu)

        self.eps = float(eps)
        self.u = u
        self.m = m
        self.e_gram = gamma(n, u)
        e_theta = 3 * gamma(n, ur) + (m + 2) * ur
        e_r = 2 * gamma(n, ur) + e_theta + 2 * ur
        if from_gram:
            e_theta += self.e_gram
            e_r += self.e_gram
        self.e_theta = 1.25 * e_theta
        self.e_r = 1.25 * e_r
        self.g_chol = gamma(m + 1, u)
        self.tol = 8.0 * self.eps * math.sqrt(m)
        self.phi = (8.0 * m * self.eps) ** 2

    def budget(self, trG: np.ndarray, kept: np.ndarray) -> np.ndarray:
        """Energy a slab may miss: ``tol * discarded + phi * ||S||^2`` (host float64)."""
        return self.tol * np.maximum(trG - kept, 0.0) + self.phi * trG

    def missed(self, theta: np.ndarray, r: np.ndarray, trG: np.ndarray, mu: np.ndarray):
        """Bound of the energy missed by a Ritz basis, given ``mu >= lambda_{rho+1}``.

        ``theta`` and ``r`` (Z, rho) are the computed Rayleigh quotients and residual norms of
        the basis vectors, ``trG`` (Z,) the computed ``||S||_F^2`` and ``mu`` (Z,) a proven upper
        bound of the first eigenvalue of ``S^H S`` the basis does not keep.  With the margins
        of the class, ``theta_lo = theta - e_theta`` and ``r_hi = r + e_r`` bound the true
        values, and the quadratic residual bound (Kato–Temple for ``rho = 1``; Mathias 1998,
        for a Ritz basis of dimension ``rho``) gives
        ``sum_i lambda_i - sum_j theta_j <= rho ||R||_F^2 / (min_j theta_lo_j - mu)``.
        ``inf`` where that gap is not positive (host float64 arrays).
        """
        t = trG[:, None]
        th_lo = np.min(theta - self.e_theta * t, axis=1)
        rr = r + self.e_r * t
        gap = th_lo - mu
        num = theta.shape[1] * np.sum(rr * rr, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(gap > 0, num / np.where(gap > 0, gap, 1.0), np.inf)
        return np.where(np.isfinite(out), out, np.inf)

    def trace_mu(self, theta: np.ndarray, trG: np.ndarray) -> np.ndarray:
        """``lambda_{rho+1} <= trace G - sum_{j <= rho} lambda_j <= trace G - sum_j theta_j``
        (``G`` positive semidefinite, Ky Fan), with the rounding margins."""
        return trG * (1.0 + self.e_gram) - np.sum(theta - self.e_theta * trG[:, None], axis=1)

    def inertia_shift(
        self, theta: np.ndarray, r: np.ndarray, trG: np.ndarray, budget: np.ndarray
    ) -> np.ndarray:
        """The shift ``mu`` of the inertia test of a rank-1 Ritz pair: the largest for which
        :meth:`missed` is half the budget (the closer ``mu`` to ``theta``, the easier the test
        that no other eigenvalue lies above it)."""
        th_lo = theta[:, 0] - self.e_theta * trG
        rr = r[:, 0] + self.e_r * trG
        with np.errstate(divide="ignore", invalid="ignore"):
            return th_lo - rr * rr / (0.5 * budget)

    def inertia_margin(self, trH: np.ndarray, trG: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Shift ``c`` such that a successful floating-point Cholesky of ``H_c - c I`` proves
        the exact ``H = mu I - S^H S + theta v v^H`` positive definite.

        A Cholesky factorisation that runs to completion satisfies ``R^H R = A + dA`` with
        ``||dA||_2 <= gamma_{m+1} / (1 - gamma_{m+1}) trace(A)`` (Demmel 1989; Higham,
        *Accuracy and Stability of Numerical Algorithms*, Thm. 10.5), and ``H_c`` differs from
        ``H`` by at most ``(gamma_n + 6 u) ||S||_F^2 + 2 u sqrt(m) mu`` (Gram matrix and
        assembly); ``c`` is their sum times 1.25, plus an underflow allowance.
        """
        g1 = self.g_chol
        return (
            1.25
            * (
                g1 / (1.0 - g1) * np.abs(trH)
                + (self.e_gram + 6 * self.u) * trG
                + 2 * self.u * math.sqrt(self.m) * np.abs(mu)
            )
            + 1e-300
        )


def _inertia_ok(Ht: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Cholesky test of ``Ht[z] - c[z] I`` (in place), NumPy."""
    m = Ht.shape[-1]
    idx = np.arange(m)
    Ht[:, idx, idx] -= c.astype(Ht.real.dtype)[:, None]
    return _lapack.cholesky_ok(Ht)


def _energy_range(dt) -> tuple[float, float]:
    """Slab energies ``||S||_F^2`` the solvers handle without scaling in dtype ``dt``.

    Inside, every quantity of the Lanczos loop and of the certificate (down to squared
    residuals near ``(eps ||S||^2)^2``) stays a normal number; slabs outside are scaled by a
    power of two first.
    """
    fi = np.finfo(dt)
    return 2.0 ** (fi.minexp // 2 + fi.nmant + 8), 2.0 ** (fi.maxexp // 2 - 8)
