"""``to_monarch``: the single-dispatch entry point, its options (``exact``, ``order``), and the
width of a form (``monarch_width``).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from .. import _backend as B
from ..base import Adjoint, Product
from ..ops import (
    Diagonal,
    Monarch,
    Permutation,
)
from .common import _SUPPORTED
from .orderp import _orderp_order, _to_monarch_orderp


@functools.singledispatch
def _rules(X, nblocks, xp):
    from ..registry import classes

    # the registered classes that have a rule (the registry is the list of classes)
    ruled = [c.name for c in classes() if _rules.dispatch(c.cls) is not _rules.registry[object]]
    raise TypeError(
        f"to_monarch has no rule for {type(X).__name__}; supported: {_SUPPORTED} "
        f"(registered classes with a rule: {', '.join(ruled)}). "
        f"New classes add one with to_monarch.register(cls)"
    )


_TOKEN = {Monarch: "M", Permutation: "P", Diagonal: "D"}


def _token(f: Any) -> str | None:
    if isinstance(f, Adjoint) and isinstance(f.base, Monarch):
        return "M*"
    for cls, tok in _TOKEN.items():
        if isinstance(f, cls):
            return tok
    return None


class MonarchWidth(NamedTuple):
    """Monarch factor count and the width ``w`` of a form (see :func:`monarch_width`)."""

    monarch_factors: int
    width: int


def _form_tokens(form: str) -> list[str]:
    toks, i = [], 0
    while i < len(form):
        if form.startswith("M*", i):
            toks.append("M*")
            i += 2
        elif form[i] in "MPD":
            toks.append(form[i])
            i += 1
        else:
            raise ValueError(f"form strings use M, M*, P and D only; got {form!r}")
    return toks


def monarch_width(form: Any) -> MonarchWidth:
    """How many Monarch factors a form uses and the least ``w`` with the form's Monarch factors
    fitting the pattern ``(M M*)^w``.

    The ``M`` and ``M*`` factors are read left to right and placed greedily in the alternating
    slots ``M, M*, M, M*, ...`` (an ``M`` factor takes the next ``M`` slot, an ``M*`` the next
    ``M*`` slot, skipped slots are identities); ``w`` is the number of ``M M*`` pairs used.
    Permutations and diagonals are not counted: they stay visible in the form string.

    Parameters
    ----------
    form : str, Product or ExactProduct
        A form string such as ``"MPM*"`` or an object with a ``.form`` attribute.

    Returns
    -------
    MonarchWidth
        ``(monarch_factors, width)``.

    Examples
    --------
    >>> from structmat import DFT, Convolution, to_monarch
    >>> from structmat.monarch_form import monarch_width
    >>> monarch_width(to_monarch(DFT(16))), monarch_width("MM*"), monarch_width("M*M")
    (MonarchWidth(monarch_factors=1, width=1), MonarchWidth(monarch_factors=2, width=1), MonarchWidth(monarch_factors=2, width=2))
    """
    s = form if isinstance(form, str) else getattr(form, "form", None)
    if not isinstance(s, str):
        raise TypeError(
            f"form must be a form string or have a .form string; got {type(form).__name__}"
        )
    slot = -1  # slots 0, 2, 4, ... are M; 1, 3, ... are M*
    count = 0
    for tok in _form_tokens(s):
        if tok in ("M", "M*"):
            count += 1
            want = 0 if tok == "M" else 1
            slot += 1
            if slot % 2 != want:
                slot += 1
    return MonarchWidth(count, (slot + 2) // 2 if count else 0)


def to_monarch(
    X: Any, nblocks: Any = None, *, xp: Any = None, exact: Any = False, order: Any = None
) -> Any:
    """Write ``X`` exactly as a product of Monarch, permutation and diagonal factors.

    Parameters
    ----------
    X : StructuredMatrix
        A DFT (composite n), Hadamard, DCT/DST (types 2–4), Convolution, Butterfly, Monarch,
        BlockDiagonal, Permutation, Diagonal, a Product of these, or ``.T``/``.H``/``.conj()``
        of one (see the table in :mod:`structmat.monarch_form`).
    nblocks : int or (int, int), optional
        The split ``n = k·p``: the Monarch's ``R`` gets ``k`` blocks and its ``L`` ``n // k``
        (a pair must be ``(k, n // k)``).  Default: the divisor of ``n`` nearest ``√n``.
        Ignored by factors already in Monarch form and by full convolutions (which pick their
        own circulant size).
    xp : namespace or name, optional
        Namespace of the factors (default: X's parameters', else NumPy).  Parametrised inputs
        are moved there explicitly with ``X.to_backend(xp)``.  Not used with ``exact``.
    exact : False, True or "symbolic", optional
        ``True`` returns the same product (same factor classes, order and ``form``) with exact
        factors from :mod:`structmat.exact`, generated from the same closed forms as the float
        ones: entries in a cyclotomic field ``Q(ζ_N)`` (square roots of the "ortho" norms
        included).  Floating-point parameters (a convolution kernel, butterfly twiddles, Monarch
        blocks) are read exactly as the dyadic rationals they are.  ``"symbolic"`` replaces a
        convolution kernel by real symbols ``c0, c1, ...`` and butterfly twiddles by symbols
        (:func:`structmat.exact.butterfly_symbol_names`).  Check the result with
        :func:`structmat.exact.verify`.
    order : int, optional
        ``None`` or 2: the Monarch forms above.  ``p >= 3``: the order-``p`` Monarch form
        (:class:`~structmat.MonarchP`) of a DFT or Hadamard matrix, see
        :func:`orderp_closed_form`; ``nblocks`` is then the tuple of sizes
        ``(b_0, ..., b_{p-1})`` with product ``n`` (default :func:`structmat.ops.blocktt.orderp_sizes`).
        With ``exact=True`` each factor of the order-``p`` Monarch is written as a block-diagonal
        :class:`~structmat.exact.ExactMonarch` between axis permutations (``verify`` then uses
        its dense method: sizes up to about 64; ``structmat prove --claim orderp-dft`` checks
        the same closed forms entrywise up to ``n = 4096``).

    Returns
    -------
    Product or structmat.exact.ExactProduct
        With factors :class:`~structmat.Monarch`, :class:`~structmat.base.Adjoint` of a Monarch,
        :class:`~structmat.Permutation` and :class:`~structmat.Diagonal` only; ``.form`` spells
        them (``"M"``, ``"M*"``, ``"P"``, ``"D"``), e.g. ``"MP"`` for the DFT.  With ``exact``
        an :class:`~structmat.exact.ExactProduct` of the exact counterparts.

    Raises
    ------
    TypeError
        X has no rule (a plain array, an unregistered class).
    ValueError
        X's size has no Monarch form (prime n, n < 4, DCT type 1) or ``nblocks`` is invalid.

    Examples
    --------
    >>> import numpy as np, scipy.fft, scipy.linalg
    >>> from structmat import DCT, DFT, Hadamard, to_monarch
    >>> F = to_monarch(DFT(12), nblocks=3)
    >>> F.form, [type(f).__name__ for f in F.factors], F.factors[0].nblocks
    ('MP', ['Monarch', 'Permutation'], (3, 4))
    >>> bool(np.allclose(F.to_dense(), scipy.linalg.dft(12)))
    True
    >>> to_monarch(Hadamard(8)).form
    'M'
    >>> C = to_monarch(DCT(15, type=2, norm="ortho"))
    >>> C.form, bool(np.allclose(C @ np.eye(15), scipy.fft.dct(np.eye(15), norm="ortho", axis=0)))
    ('MP', True)
    >>> from structmat.exact import verify
    >>> E = to_monarch(DFT(12), nblocks=3, exact=True)
    >>> E.form, E.ring.N, bool(verify(E, DFT(12)))
    ('MP', 12, True)
    >>> F3 = to_monarch(DFT(4096), order=3)
    >>> F3.form, type(F3.factors[0]).__name__, F3.factors[0].in_sizes
    ('MP', 'MonarchP', (16, 16, 16))
    >>> x = np.random.default_rng(1).standard_normal(4096)
    >>> bool(np.allclose(F3 @ x, scipy.fft.fft(x)))
    True
    >>> to_monarch(DFT(7))
    Traceback (most recent call last):
    ...
    ValueError: DFT has no Monarch form for n=7: it needs n = k·p with k, p >= 2 (a composite n such as 4, 6, 12, 1000)
    """
    if order is not None and _orderp_order(order) != 2:
        return _to_monarch_orderp(X, nblocks, _orderp_order(order), xp, exact)
    if exact is not False:
        from ..exact.forms import exact_monarch

        return exact_monarch(X, nblocks, exact)
    ns = None if xp is None else B.resolve_xp(xp)
    out = _rules.dispatch(type(X))(X, nblocks, ns)  # the default rule raises TypeError
    factors = list(out.factors) if isinstance(out, Product) else list(out)
    tokens = []
    for i, f in enumerate(factors):
        tok = _token(f)
        if tok is None:
            raise TypeError(
                f"the to_monarch rule for {type(X).__name__} returned a {type(f).__name__} as "
                f"factor {i}; allowed: Monarch, Adjoint of a Monarch, Permutation, Diagonal"
            )
        tokens.append(tok)
    return Product(*factors, form="".join(tokens))


to_monarch.register = _rules.register  # type: ignore[attr-defined]


to_monarch.registry = _rules.registry  # type: ignore[attr-defined]
