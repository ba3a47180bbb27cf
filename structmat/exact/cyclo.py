"""Number-theoretic helpers: square roots inside cyclotomic fields, primes with roots of unity.

* ``sqrt(m)`` of a positive integer lies in a cyclotomic field (Gauss): with
  ``G(p) = sum_k zeta_p^(k^2)`` for an odd prime ``p``, ``G(p) = sqrt(p)`` if ``p = 1 (mod 4)``
  and ``G(p) = i sqrt(p)`` if ``p = 3 (mod 4)``; ``sqrt(2) = zeta_8 + zeta_8^-1``.  The
  element built here is checked exactly to square to ``m``.
* A prime ``p = 1 (mod N)`` has a primitive ``N``-th root of unity ``g`` in ``GF(p)``; the map
  ``zeta_N -> g`` is a ring homomorphism ``Z[zeta_N] -> GF(p)`` (``g`` is a root of ``Phi_N``
  mod ``p``).  A minor whose image is nonzero is nonzero, so ranks mod ``p`` are exact lower
  bounds of ranks over ``Q(zeta_N)``.
"""

from __future__ import annotations

import math
from fractions import Fraction

from sympy import factorint, isprime

from .ring import ExactRing

__all__ = ["sqrt_conductor", "cyclotomic_sqrt", "find_prime", "root_of_unity_mod"]


def _lcm(a: int, b: int) -> int:
    return a * b // math.gcd(a, b)


def _squarefree_part(m: int) -> tuple[int, list[int]]:
    """``m = t^2 * prod(primes)``: returns ``(t, primes)``."""
    t = 1
    primes = []
    for p, e in factorint(m).items():
        t *= p ** (e // 2)
        if e % 2:
            primes.append(int(p))
    return t, sorted(primes)


def sqrt_conductor(value) -> int:
    """Smallest conductor used by :func:`cyclotomic_sqrt` for ``sqrt(value)`` (value > 0 rational).

    Examples
    --------
    >>> from structmat.exact import sqrt_conductor
    >>> sqrt_conductor(4), sqrt_conductor(2), sqrt_conductor(3), sqrt_conductor(5)
    (1, 8, 12, 5)
    """
    q = Fraction(value)
    if q <= 0:
        raise ValueError(f"value must be positive; got {value}")
    m = q.numerator * q.denominator  # sqrt(a/b) = sqrt(a b) / b
    N = 1
    for p in _squarefree_part(m)[1]:
        if p == 2:
            N = _lcm(N, 8)
        elif p % 4 == 1:
            N = _lcm(N, p)
        else:
            N = _lcm(N, 4 * p)
    return N


def cyclotomic_sqrt(value, ring: ExactRing):
    """The positive square root of a positive rational as an element of ``ring``.

    ``ring.N`` must be a multiple of :func:`sqrt_conductor`; the result ``s`` is verified
    exactly to satisfy ``s^2 = value`` (its sign is Gauss's).

    Examples
    --------
    >>> from structmat.exact import ExactRing, cyclotomic_sqrt
    >>> K = ExactRing(24)
    >>> s = cyclotomic_sqrt(6, K)
    >>> K.equal(s * s, K.from_int(6)), round(K.evaluate(s).real, 12)
    (True, 2.449489742783)
    """
    q = Fraction(value)
    need = sqrt_conductor(q)
    if ring.N % need:
        raise ValueError(f"sqrt({q}) needs a conductor multiple of {need}; the ring has {ring.N}")
    m = q.numerator * q.denominator
    t, primes = _squarefree_part(m)
    s = ring.from_int(Fraction(t, q.denominator))
    for p in primes:
        if p == 2:
            r = ring.zeta(ring.N // 8) + ring.zeta(-(ring.N // 8))
        else:
            step = ring.N // p
            G = ring.zero
            for k in range(p):
                G += ring.zeta(step * (k * k % p))
            G = ring.reduce(G)
            if p % 4 == 3:  # G = i sqrt(p): multiply by -i
                G = ring.reduce(G * ring.zeta(-(ring.N // 4)))
            r = G
        s = ring.reduce(s * r)
    if not ring.equal(s * s, ring.from_int(q)):
        raise ArithmeticError(f"internal error: square root of {q} does not square back")
    return s


def find_prime(N: int, minimum: int = 1 << 30) -> int:
    """The smallest prime ``p = 1 (mod N)`` with ``p >= minimum`` and ``p < 2^31``.

    Examples
    --------
    >>> from structmat.exact import find_prime
    >>> p = find_prime(1024)
    >>> p % 1024, p >= 2**30
    (1, True)
    """
    if N < 1:
        raise ValueError(f"N must be >= 1; got {N}")
    k = max(1, (minimum - 1) // N)
    while True:
        p = k * N + 1
        if p >= 1 << 31:
            raise ValueError(f"no prime p = 1 mod {N} below 2^31 above {minimum}")
        if p >= minimum and isprime(p):
            return p
        k += 1


def root_of_unity_mod(N: int, p: int) -> int:
    """An element of exact multiplicative order ``N`` in ``GF(p)`` (``p`` prime, ``N | p - 1``).

    Examples
    --------
    >>> from structmat.exact import root_of_unity_mod
    >>> g = root_of_unity_mod(8, 17)
    >>> pow(g, 8, 17), pow(g, 4, 17) != 1
    (1, True)
    """
    if (p - 1) % N:
        raise ValueError(f"N={N} must divide p-1={p - 1}")
    qs = list(factorint(N)) if N > 1 else []
    for h in range(2, p):
        g = pow(h, (p - 1) // N, p)
        if all(pow(g, N // q, p) != 1 for q in qs):
            return g
    if N == 1:
        return 1
    raise ValueError(f"no element of order {N} mod {p}")
