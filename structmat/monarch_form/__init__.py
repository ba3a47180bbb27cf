r"""Every transform in Monarch form: :func:`to_monarch`.

``to_monarch(X)`` returns a :class:`~structmat.Product` whose factors are only
:class:`~structmat.Monarch`, :class:`~structmat.Permutation`, :class:`~structmat.Diagonal` and
adjoints of Monarch matrices (:class:`structmat.base.Adjoint`), equal to ``X`` to rounding.  Every
factor is built from a closed-form formula (roots of unity, Hadamard blocks, butterfly twiddles);
nothing is fitted or projected numerically.  ``Product.form`` spells the factors: ``"M"`` a
Monarch matrix, ``"M*"`` the adjoint of one, ``"P"`` a permutation, ``"D"`` a diagonal.

Conventions: ``Monarch(L, R)`` with ``R`` of shape ``(k, q, p)`` and ``L``
of shape ``(l, s, r)``, ``M[d l + b, a p + j] = sum_i L[b, d, c(i)] R[a, i, j]``; ``ω_N = exp(-2πi/N)``.
Below ``n = k p`` is the split chosen with ``nblocks=k`` (default: the divisor of ``n`` nearest
``√n``); the Monarch's ``R`` then has ``k`` blocks and its ``L`` has ``p`` blocks.

Summary (``n = k p``; "geometry" lists ``R`` as blocks × (rows × cols), then ``L``):

=================================  =======  ==========================  =================
transform                          form     Monarch geometry            parameters
=================================  =======  ==========================  =================
DFT(n), inverse, every norm        MP       R k×(p×p), L p×(k×k)        n (k + p)
Hadamard(n), n = 2^a ≥ 4           M        R k×(p×p), L p×(k×k)        n (k + p)
DCT, DST types 2, 3, 4             MP       R k×(2p×p), L p×(k×2k)      2 n (k + p)
Convolution, circular              MM*      two DFT geometries          2 n (k + p)
Convolution, full                  MM*      rows kept: n+len-1 and n    ≈ 2 N (K + P)
                                   or MPM*  of an N-point pair
Butterfly(n), n = 2^a ≥ 4          M        R k×(p×p), L p×(k×k)        n (k + p)
Monarch                            M        its own                     its own
BlockDiagonal(blocks)              M        R = blocks, L 1×1 ones      blocks + n_out
Permutation, Diagonal              P, D     (kept)                      0, n
Product, A.T, A.H, A.conj()        concat.  factors converted           sum
=================================  =======  ==========================  =================

Formulas (``ω_m = exp(-2πi/m)``; output index ``d p + b``, input ``a p + j`` unless stated):

* **DFT** (four-step FFT): ``F_n = M Q`` with ``L[b, d, a] = s ω_k^{d a}``,
  ``R[a, b, j] = ω_n^{b (a + k j)}`` (twiddles times ``DFT_p``), ``s`` the norm scale, and
  ``Q x = x.reshape(p, k).T.ravel()`` (``Permutation.transpose_perm(p, k)``).  The inverse
  flips the sign of every exponent.
* **Hadamard** (Sylvester): ``H_n = H_k ⊗ H_p``: ``L[b] = H_k``, ``R[a] = H_p``; "ortho" scales L.
* **DCT/DST**: one real Monarch of middle dimension ``2n`` (slabs of rank 2) times an input
  reordering; derivation below.  Type 1 is not covered (below).
* **Convolution** (diagonalised by the DFT): ``C = F⁻¹ diag(F c) F = X₁ X₂ᴴ`` with ``X₁ = M̄ · diag(Q F c / n)``
  (the diagonal folded into R's columns) and ``X₂ = M̄``, ``M̄`` the inverse-sign DFT Monarch.
  Full mode embeds the ``(n + len - 1) × n`` Toeplitz matrix in a circulant of size
  ``N = K P ≥ n + len - 1``: ``X₁`` keeps its first ``n + len - 1`` rows and ``X₂`` its first
  ``n`` (rectangular Monarch factors; an L block of ``P`` rows keeps ``rows / P`` of them, so
  ``P`` must divide the count).  When one ``P`` divides both ``n`` and ``n + len - 1`` the form
  is ``MM*``; otherwise two splits ``P₁ | n + len - 1``, ``P₂ | n`` of the same ``N`` are used
  with a permutation between them (``MPM*``).  ``N`` and the splits minimise the parameter
  count; when ``n + len - 1`` is prime the left factor has one-row L blocks.
* **Butterfly** (levels split at the block size): ``R = B_p ⋯ B_2`` (block-diagonal, ``k`` blocks ``p × p``) and
  ``L`` the ``p`` residue blocks (indices equal mod ``p``) of ``B_n ⋯ B_{2p}``.

DCT/DST derivation (types 2–4, SciPy's convention ``A = diag(f) K diag(w)``,
``K[y, x] = cos or sin(π (y + α)(x + β) / n)``, ``N = 2n``).  With ``u = y + ⌊α⌋``,
``α' = α − ⌊α⌋`` and ``θ = 2π (u + α')(x + β) / N``, both ``e^{-iθ}`` and ``e^{+iθ}`` are entries
``ω_N^{u e}`` of the length-``N`` DFT at the extension indices ``e₁ = x`` and
``e₂ = (−x − 2β) mod N`` times diagonal twiddles (``ω_N^{uβ}`` on the output,
``ω_N^{α'(e + β)}`` and ``±1`` on the input).  In the four-step factorisation of ``F_N`` with
``K = 2k`` blocks, ``e₁ mod K`` and ``e₂ mod K`` are partner residues ``a ↔ −a − 2β``; grouping the
two partners in one ``R`` block makes ``R`` block-diagonal on ``x``, and keeping the output rows
``u < n`` (or ``1 ≤ u ≤ n``) keeps ``k`` rows of every ``L`` block.  Each slab is then a sum of two
complex conjugate rank-1 terms; a 2 × 2 change of basis per slab (``[m, m̄] → [2 Re m, 2 Im m]``)
makes both factors real.  Type 1 has extension lengths ``2(n ∓ 1)`` whose row selection cannot be
uniform over the ``L`` blocks, so it is not covered.

One source for float and exact factors: the DFT, Hadamard, DCT and DST factors are computed
by :func:`closed_form` as :class:`RootSum` arrays (integer exponents of roots of unity, integer
coefficients, a rational scale and at most one square root), and so are the DFT blocks of the
convolution factors.  :func:`to_monarch` evaluates them in floating point;
``to_monarch(X, exact=True)`` reads the same integers as elements of a cyclotomic field (see
:mod:`structmat.exact`, whose :func:`~structmat.exact.verify` proves the result equal to ``X``
built from its definition).  :func:`monarch_width` counts a form's Monarch factors.

Order-``p`` forms: ``to_monarch(X, order=p)`` (``p >= 3``) writes a DFT as
``MonarchP(F_0, ..., F_{p-1}) · Q`` (the mixed-radix FFT, ``Q`` the digit reversal, form ``"MP"``)
and a Hadamard matrix as ``MonarchP(H_{b_0}, ..., H_{b_{p-1}})`` (form ``"M"``) for any
factorisation ``n = b_0 ⋯ b_{p-1}`` given as ``nblocks``; see :func:`orderp_closed_form`.

Other modules add rules with ``to_monarch.register``::

    @to_monarch.register(MyClass)
    def _(X, nblocks, xp):
        return [...]          # a sequence of allowed factors, or a Product

Examples
--------
The DFT is a Monarch product:

>>> import numpy as np, scipy.fft
>>> from structmat import DFT, to_monarch
>>> F = to_monarch(DFT(1024)); x = np.random.default_rng(0).standard_normal(1024)
>>> F.form, bool(np.allclose(F @ x, scipy.fft.fft(x)))
('MP', True)
"""

from . import rules as rules  # importing the rules registers them with to_monarch
from .closed import closed_form
from .dispatch import MonarchWidth, monarch_width, to_monarch
from .orderp import orderp_closed_form
from .rootsum import RootSum

__all__ = [
    "to_monarch",
    "closed_form",
    "orderp_closed_form",
    "RootSum",
    "monarch_width",
    "MonarchWidth",
]
