"""A Monarch linear layer for PyTorch: :class:`MonarchLinear` and :func:`monarch_linear`.

Install with the optional extra ``pip install "structmat[torch]"``.  The layer holds the two
block-diagonal factors of a :class:`~structmat.Monarch` matrix as parameters, ``R`` of shape
``(k, q, p)`` and ``L`` of shape ``(l, s, r)``, in the layout and with the multiply of
:class:`structmat.Monarch` (same factor order as the ``MonarchLinear`` of the reference code of
Dao et al., "Monarch: Expressive Structured Matrices for Efficient and Accurate Training",
ICML 2022: ``R`` is their ``blkdiag1``, ``L`` their ``blkdiag2``).  Its weight is the Monarch
matrix ``M`` (``out_features x in_features``): ``layer(x) = x @ M.T + bias`` as for
:class:`torch.nn.Linear`, at ``2 (k q p + l s r)`` flops per row instead of
``2 in_features out_features``.

A trained dense layer becomes a Monarch layer through the optimal projection
(:func:`structmat.project_to_monarch`): :meth:`MonarchLinear.from_linear` and
:meth:`MonarchLinear.from_dense`.  :meth:`MonarchLinear.to_structmat` and
:meth:`MonarchLinear.from_structmat` convert to and from :class:`structmat.Monarch`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from .base import StructuredMatrix, check_size
from .ops.monarch import Monarch, monarch_geometry
from .projection import project_to_monarch

__all__ = ["MonarchLinear", "monarch_linear"]

#: dtypes the projection runs in; other floating dtypes are projected in float32 and cast back
_PROJECTION_DTYPES = (torch.float32, torch.float64, torch.complex64, torch.complex128)


def _check_factors(L: Any, R: Any) -> tuple[int, ...]:
    """Validate the factor tensors of :func:`monarch_linear`; return ``(k, q, p, l, s, r)``."""
    for name, t in (("L", L), ("R", R)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(t).__name__}")
        if t.ndim != 3:
            raise ValueError(f"{name} must be a 3-D tensor of blocks; got shape {tuple(t.shape)}")
    k, q, p = R.shape
    l, s, r = L.shape
    if l * r != k * q:
        raise ValueError(
            f"middle dimensions differ: L has l*r = {l}*{r} = {l * r} but R has "
            f"k*q = {k}*{q} = {k * q} (L.shape = (l, s, r), R.shape = (k, q, p))"
        )
    return (k, q, p, l, s, r)


def monarch_linear(
    x: torch.Tensor, L: torch.Tensor, R: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """``x @ M.T + bias`` for the Monarch matrix ``M = Monarch(L, R)``, differentiable.

    The functional form of :class:`MonarchLinear` (as :func:`torch.nn.functional.linear` is
    of :class:`torch.nn.Linear`).  Each row ``x[..., :]`` is multiplied by ``M`` in two batched
    matrix multiplications, following the four steps of :class:`structmat.Monarch`: with
    middle index ``t = a q + i``,

    1. ``u[a, i] = sum_j R[a, i, j] x[a p + j]``
    2. ``v[b, c] = u[t]`` at ``t = c l + b``
    3. ``w[b, d] = sum_c L[b, d, c] v[b, c]``
    4. ``y[d l + b] = w[b, d]``

    Parameters
    ----------
    x : torch.Tensor, shape (..., k p)
        Input rows.
    L : torch.Tensor, shape (l, s, r)
    R : torch.Tensor, shape (k, q, p)
        The factors, with ``l r == k q``.
    bias : torch.Tensor, shape (l s,), optional

    Returns
    -------
    torch.Tensor, shape (..., l s)

    Raises
    ------
    TypeError
        An argument is not a tensor.
    ValueError
        The factors are not 3-D, their middle dimensions differ, or ``x`` (``bias``) does not
        have ``k p`` columns (``l s`` entries).

    Examples
    --------
    >>> import torch
    >>> from structmat import Monarch
    >>> from structmat.torch import monarch_linear
    >>> M = Monarch.random(12, 8, nblocks=(4, 2), seed=0)
    >>> L, R = torch.from_numpy(M.L), torch.from_numpy(M.R)
    >>> x = torch.randn(5, 12, dtype=torch.float64)
    >>> y = monarch_linear(x, L, R)
    >>> y.shape
    torch.Size([5, 8])
    >>> torch.allclose(y, x @ torch.from_numpy(M.to_dense()).T)
    True
    """
    k, q, p, l, s, r = _check_factors(L, R)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
    if x.ndim < 1 or x.shape[-1] != k * p:
        raise ValueError(
            f"x must have shape (..., {k * p}) (in_features = k*p = {k}*{p}); "
            f"got shape {tuple(x.shape)}"
        )
    if bias is not None:
        if not isinstance(bias, torch.Tensor):
            raise TypeError(f"bias must be a torch.Tensor or None; got {type(bias).__name__}")
        if tuple(bias.shape) != (l * s,):
            raise ValueError(
                f"bias must have shape ({l * s},) (out_features = l*s); "
                f"got shape {tuple(bias.shape)}"
            )
    lead = x.shape[:-1]
    xb = x.reshape(-1, k, p).transpose(0, 1)  # (k, N, p): x[n, a p + j]
    u = torch.bmm(xb, R.transpose(1, 2))  # (k, N, q): u[a, n, i], t = a q + i
    v = u.transpose(0, 1).reshape(-1, r, l)  # (N, r, l): u[n, t = c l + b]
    w = torch.bmm(v.permute(2, 0, 1), L.transpose(1, 2))  # (l, N, s): w[b, n, d]
    y = w.permute(1, 2, 0).reshape(*lead, s * l)  # y[n, d l + b]
    if bias is not None:
        y = y + bias.to(y.dtype)  # a no-op unless autocast computed y in lower precision
    return y


def _torch_dtype(dtype: Any) -> torch.dtype:
    """The torch dtype of the same name as ``dtype`` (NumPy, torch or array-API dtype)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    name = str(dtype).rsplit(".", 1)[-1]
    found = getattr(torch, name, None)
    if not isinstance(found, torch.dtype):
        raise TypeError(f"dtype {dtype!r} has no torch counterpart")
    return found


def _check_dtype(dtype: Any) -> torch.dtype | None:
    if dtype is None:
        return None
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype or None; got {dtype!r}")
    if not (dtype.is_floating_point or dtype.is_complex):
        raise TypeError(f"dtype must be a floating or complex torch.dtype; got {dtype}")
    return dtype


def _to_tensor(a: Any, name: str, dtype: torch.dtype | None, device: Any) -> torch.Tensor:
    """A fresh tensor holding array ``a`` (torch, NumPy, CuPy, array-API) with no autograd history."""
    if isinstance(a, torch.Tensor):
        t = a.detach()
    else:
        try:
            t = torch.from_dlpack(a)
        except Exception:
            try:
                t = torch.as_tensor(np.asarray(a.get() if hasattr(a, "get") else a))
            except Exception as exc:
                raise TypeError(
                    f"{name} must be an array or tensor; got {type(a).__name__}"
                ) from exc
    return t.to(device=device, dtype=dtype, copy=True)


class MonarchLinear(nn.Module):
    """A linear layer ``y = x @ M.T + bias`` whose weight ``M`` is a Monarch matrix.

    Takes inputs of shape ``(..., in_features)`` like :class:`torch.nn.Linear`.  The
    parameters are the factors of :class:`structmat.Monarch`: ``R`` (``k`` blocks of
    ``q x p``, applied first) and ``L`` (``l`` blocks of ``s x r``), with
    ``in_features = k p``, ``out_features = l s`` and middle dimension ``k q = l r``; see
    :func:`monarch_linear` for the multiply.  ``M`` has ``k q p + l s r`` parameters instead of
    ``in_features * out_features``.

    Parameters
    ----------
    in_features, out_features : int
    nblocks : None, int or (int, int)
        Geometry, as in :func:`structmat.ops.monarch.monarch_geometry`: ``(k, l)`` gives ``R``
        ``k`` blocks and ``L`` ``l`` blocks with middle dimension
        ``min(in_features, out_features)``; an int ``b`` means ``(b, b)`` (the reference code's
        ``nblocks``); ``None`` is the paper's Monarch (``k`` and ``l`` the divisors of the
        sizes nearest their square roots, every slab of rank 1).  A degenerate geometry (for
        example a prime size with the default blocks) gives a
        :class:`~structmat.StructmatWarning` that suggests better ones.
    bias : bool, default True
        Whether the layer has an additive bias of ``out_features`` entries.
    dtype : torch.dtype, optional
        A floating or complex dtype (default :func:`torch.get_default_dtype`).
    device : torch.device or str, optional

    Attributes
    ----------
    R : torch.nn.Parameter, shape (k, q, p)
    L : torch.nn.Parameter, shape (l, s, r)
    bias : torch.nn.Parameter of shape (out_features,), or None

    Notes
    -----
    Initialisation (:meth:`reset_parameters`): every block of ``R`` and ``L`` is uniform on
    ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` with the block's own fan-in (``p`` and ``r``), ``L``
    scaled by ``sqrt(3)`` so that the output has the variance of
    :class:`torch.nn.Linear`'s default initialisation (``in_features / 3`` times the mean
    square of an input entry, per output entry); the bias is initialised as
    :class:`torch.nn.Linear`'s.

    Examples
    --------
    >>> import torch
    >>> from structmat.torch import MonarchLinear
    >>> _ = torch.manual_seed(0)
    >>> layer = MonarchLinear(64, 32, nblocks=4)
    >>> layer
    MonarchLinear(in_features=64, out_features=32, nblocks=(4, 4), bias=True)
    >>> layer.geometry, layer.R.shape, layer.L.shape
    ((4, 8, 16, 4, 8, 8), torch.Size([4, 8, 16]), torch.Size([4, 8, 8]))
    >>> layer(torch.randn(10, 3, 64)).shape
    torch.Size([10, 3, 32])
    >>> sum(t.numel() for t in layer.parameters())         # dense: 64 * 32 + 32 = 2080
    800
    >>> W = layer.to_dense()                                # the weight, (32, 64), differentiable
    >>> x = torch.randn(5, 64)
    >>> torch.allclose(layer(x), x @ W.T + layer.bias, atol=1e-6)
    True
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        nblocks: Any = None,
        bias: bool = True,
        dtype: Any = None,
        device: Any = None,
    ):
        super().__init__()
        in_features = check_size(in_features, "in_features")
        out_features = check_size(out_features, "out_features")
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(
                f"bias must be a bool; got {bias!r} (to set the values, assign "
                f"layer.bias.data or use MonarchLinear.from_dense(W, bias=...))"
            )
        dtype = _check_dtype(dtype)
        k, q, p, l, s, r = monarch_geometry(in_features, out_features, nblocks)
        kw = {"dtype": dtype, "device": device}
        self.in_features = in_features
        self.out_features = out_features
        self.R = nn.Parameter(torch.empty((k, q, p), **kw))
        self.L = nn.Parameter(torch.empty((l, s, r), **kw))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, **kw))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    # -- geometry --------------------------------------------------------------------------------
    @property
    def geometry(self) -> tuple[int, int, int, int, int, int]:
        """``(k, q, p, l, s, r)``: ``R`` has ``k`` blocks of ``q x p``, ``L`` ``l`` of ``s x r``."""
        k, q, p = self.R.shape
        l, s, r = self.L.shape
        return (int(k), int(q), int(p), int(l), int(s), int(r))

    @property
    def nblocks(self) -> tuple[int, int]:
        """``(k, l)``: the number of blocks of ``R`` and of ``L``.

        Examples
        --------
        >>> from structmat.torch import MonarchLinear
        >>> MonarchLinear(12, 8, nblocks=(4, 2)).nblocks
        (4, 2)
        """
        return (int(self.R.shape[0]), int(self.L.shape[0]))

    @property
    def nparams(self) -> int:
        """Number of parameters of the weight, ``k q p + l s r`` (the bias not counted).

        Examples
        --------
        >>> from structmat.torch import MonarchLinear
        >>> MonarchLinear(256, 256).nparams                # dense: 65536
        8192
        """
        return self.R.numel() + self.L.numel()

    # -- module ------------------------------------------------------------------------------
    def reset_parameters(self) -> None:
        """Draw new parameters (see Notes of :class:`MonarchLinear`); uses torch's global RNG.

        Examples
        --------
        >>> import torch
        >>> from structmat.torch import MonarchLinear
        >>> layer = MonarchLinear(16, 16)
        >>> _ = torch.manual_seed(0); layer.reset_parameters(); R0 = layer.R.detach().clone()
        >>> _ = torch.manual_seed(0); layer.reset_parameters()
        >>> torch.equal(layer.R, R0)
        True
        """
        k, q, p, l, s, r = self.geometry
        with torch.no_grad():
            nn.init.uniform_(self.R, -1.0 / math.sqrt(p), 1.0 / math.sqrt(p))
            bound_l = math.sqrt(3.0 / r)
            nn.init.uniform_(self.L, -bound_l, bound_l)
            if self.bias is not None:
                bound = 1.0 / math.sqrt(self.in_features)
                nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x @ M.T + bias`` for rows ``x`` of shape ``(..., in_features)``.

        Examples
        --------
        >>> import torch
        >>> from structmat.torch import MonarchLinear
        >>> MonarchLinear(16, 8, nblocks=(4, 2))(torch.randn(2, 5, 16)).shape
        torch.Size([2, 5, 8])
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"input must be a torch.Tensor; got {type(x).__name__}")
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"input must have shape (..., {self.in_features}) (in_features); "
                f"got shape {tuple(x.shape)}"
            )
        if x.dtype != self.R.dtype and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(
                f"input has dtype {x.dtype} but the layer's parameters have dtype "
                f"{self.R.dtype}; cast one of them, e.g. x.to({self.R.dtype})"
            )
        return monarch_linear(x, self.L, self.R, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"nblocks={self.nblocks}, bias={self.bias is not None}"
        )

    def to_dense(self) -> torch.Tensor:
        """The weight ``M`` as a dense ``(out_features, in_features)`` tensor (differentiable).

        Examples
        --------
        >>> from structmat.torch import MonarchLinear
        >>> MonarchLinear(16, 8).to_dense().shape
        torch.Size([8, 16])
        """
        eye = torch.eye(self.in_features, dtype=self.R.dtype, device=self.R.device)
        return monarch_linear(eye, self.L, self.R).T

    # -- conversions -------------------------------------------------------------------------
    def to_structmat(self) -> Monarch:
        """The weight as a :class:`structmat.Monarch` of torch tensors (copies, no autograd).

        Same dtype and device as the layer; ``M.to_dense()`` equals :meth:`to_dense`.  The bias
        is not part of it.  ``M.to_backend(numpy)`` gives NumPy factors (CPU tensors).

        Examples
        --------
        >>> import torch
        >>> from structmat.torch import MonarchLinear
        >>> layer = MonarchLinear(16, 16, dtype=torch.float64)
        >>> M = layer.to_structmat()
        >>> M.geometry == layer.geometry
        True
        >>> torch.allclose(M.to_dense(), layer.to_dense().detach())
        True
        """
        return Monarch(self.L.detach().clone(), self.R.detach().clone())

    @classmethod
    def from_structmat(
        cls, M: Monarch, bias: Any = None, *, dtype: Any = None, device: Any = None
    ) -> MonarchLinear:
        """A layer whose weight is the Monarch matrix ``M`` (its factors are copied).

        Parameters
        ----------
        M : structmat.Monarch
            Of any geometry and backend (NumPy, CuPy, torch, array API).  Other structured
            matrices: use :func:`structmat.to_monarch` for an exact Monarch form, or
            :meth:`from_dense` for the nearest Monarch matrix.
        bias : array or tensor of shape (M.shape[0],), optional
            Copied into the layer's bias; ``None`` gives a layer without bias.
        dtype : torch.dtype, optional
            Default: ``M``'s dtype.
        device : torch.device or str, optional
            Default: the device of ``M``'s factors (CPU for NumPy).

        Examples
        --------
        >>> import torch
        >>> from structmat import Monarch
        >>> from structmat.torch import MonarchLinear
        >>> M = Monarch.random(12, 8, nblocks=(4, 2), seed=0)
        >>> layer = MonarchLinear.from_structmat(M)
        >>> layer
        MonarchLinear(in_features=12, out_features=8, nblocks=(4, 2), bias=False)
        >>> layer.R.dtype
        torch.float64
        >>> torch.allclose(layer.to_dense().detach(), torch.from_numpy(M.to_dense()))
        True
        """
        if not isinstance(M, Monarch):
            kind = type(M).__name__
            hint = (
                "use structmat.to_monarch(M) for an exact Monarch form, or "
                "MonarchLinear.from_dense(M.to_dense()) for the nearest Monarch matrix"
                if isinstance(M, StructuredMatrix)
                else "use MonarchLinear.from_dense for a dense matrix"
            )
            raise TypeError(f"M must be a structmat.Monarch; got {kind} ({hint})")
        dtype = _check_dtype(dtype)
        if dtype is None:
            dtype = _torch_dtype(M.dtype)
        R = _to_tensor(M.R, "M.R", dtype, device)
        L = _to_tensor(M.L, "M.L", dtype, R.device if device is None else device)
        b = None
        if bias is not None:
            b = _to_tensor(bias, "bias", dtype, R.device)
            if tuple(b.shape) != (M.shape[0],):
                raise ValueError(
                    f"bias must have shape ({M.shape[0]},) (out_features); "
                    f"got shape {tuple(b.shape)}"
                )
        layer = cls.__new__(cls)
        nn.Module.__init__(layer)
        layer.in_features = int(M.shape[1])
        layer.out_features = int(M.shape[0])
        layer.R = nn.Parameter(R)
        layer.L = nn.Parameter(L)
        if b is None:
            layer.register_parameter("bias", None)
        else:
            layer.bias = nn.Parameter(b)
        return layer

    @classmethod
    def from_dense(
        cls,
        W: Any,
        bias: Any = None,
        nblocks: Any = None,
        *,
        seed: Any = None,
        dtype: Any = None,
        device: Any = None,
    ) -> MonarchLinear:
        """A layer whose weight is the Monarch matrix nearest to ``W`` in Frobenius norm.

        The weight is :func:`structmat.project_to_monarch` of ``W`` (the optimal projection,
        one certified truncated SVD per slab).  Weights in a dtype the projection does not take
        (float16, bfloat16) are projected in float32 and cast back.

        Parameters
        ----------
        W : tensor or array, shape (out_features, in_features)
            A torch tensor (its autograd history is dropped) or any array structmat accepts.
        bias : tensor or array of shape (out_features,), optional
            Copied into the layer's bias; ``None`` gives a layer without bias.
        nblocks : None, int or (int, int)
            Geometry, as for :class:`MonarchLinear`.
        seed : None, int or numpy.random.Generator
            Start vectors of the projection's iterative solvers (see
            :func:`structmat.project_to_monarch`; the default is fixed, results reproducible).
        dtype, device : optional
            Of the layer; default those of ``W``.

        Examples
        --------
        >>> import torch
        >>> from structmat.torch import MonarchLinear
        >>> W = torch.randn(32, 64)
        >>> layer = MonarchLinear.from_dense(W, nblocks=4)
        >>> layer.nparams, W.numel()
        (768, 2048)
        >>> bool(torch.linalg.norm(W - layer.to_dense()) < torch.linalg.norm(W))
        True
        """
        dtype = _check_dtype(dtype)
        if isinstance(W, torch.Tensor):
            Wd = W.detach()
            target = W.dtype if dtype is None else dtype
            if Wd.dtype not in _PROJECTION_DTYPES:
                Wd = Wd.to(torch.complex64 if Wd.is_complex() else torch.float32)
            M = project_to_monarch(Wd, nblocks, seed=seed)
            dev = W.device if device is None else device
        else:
            M = project_to_monarch(W, nblocks, seed=seed)
            target = dtype
            dev = device
        return cls.from_structmat(M, bias, dtype=target, device=dev)

    @classmethod
    def from_linear(
        cls, linear: nn.Linear, nblocks: Any = None, *, seed: Any = None
    ) -> MonarchLinear:
        """The Monarch layer nearest to a :class:`torch.nn.Linear` (optimal projection).

        The weight is :func:`structmat.project_to_monarch` of ``linear.weight``; the bias is
        copied.  Dtype and device are those of ``linear``.

        Parameters
        ----------
        linear : torch.nn.Linear
        nblocks : None, int or (int, int)
            Geometry, as for :class:`MonarchLinear`.
        seed : None, int or numpy.random.Generator
            See :meth:`from_dense`.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> from structmat.torch import MonarchLinear
        >>> _ = torch.manual_seed(0)
        >>> dense = nn.Linear(256, 64)
        >>> layer = MonarchLinear.from_linear(dense, nblocks=4)
        >>> layer
        MonarchLinear(in_features=256, out_features=64, nblocks=(4, 4), bias=True)
        >>> torch.equal(layer.bias, dense.bias)
        True
        """
        if not isinstance(linear, nn.Linear):
            raise TypeError(
                f"linear must be a torch.nn.Linear; got {type(linear).__name__} "
                f"(for a weight tensor use MonarchLinear.from_dense)"
            )
        return cls.from_dense(linear.weight, linear.bias, nblocks, seed=seed)
