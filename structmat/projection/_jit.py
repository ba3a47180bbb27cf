"""Numba-compiled kernels of the fused rank-1 slab solver (:mod:`structmat.projection.fused`).

Imported only through :func:`structmat.projection.fused.kernel`, which reports a missing or
broken Numba instead of raising.  Every slab runs its whole pipeline here while it sits in the
processor's first-level cache: gather, Gram matrix (:func:`_gram`: its upper blocks in
registers, the lower ones mirrored), Lanczos (:func:`_gemv`), the top eigenpair of the small
tridiagonal matrix (:func:`tridiag_top`), the Ritz pair and its residual in double precision,
and the certificate (trace bound, or an inertia test by a blocked Cholesky factorisation,
:func:`cholesky_ok`).  Hand-written because no library offers a per-matrix pipeline of this
kind: the batched NumPy route streams every slab and Gram matrix through memory once per
stage, which costs more than the arithmetic.  BLAS ``gemm`` for the Gram matrix took
4.5-4.9 us per 64 x 64 float32 slab on one thread, :func:`_gram` 3.5-3.9 us (it skips the
blocks below the diagonal).

Floating-point flags: the loops may be reassociated and contracted to fused multiply-adds
(``fastmath={"reassoc", "contract"}``).  The rounding margins of the certificate
(:class:`~structmat.projection.certificate._Margins`) bound sums evaluated in any order, and
a fused multiply-add rounds once where the standard model allows two roundings; no flag that
assumes finite values or approximates divisions or square roots is used.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .certificate import _FAIL, _INERTIA, _TRACE

_FM = {"reassoc", "contract"}


@intrinsic
def _prefetch(typingctx, address):
    """Ask the processor to bring the cache line at integer ``address`` into its second-level
    cache (LLVM's ``llvm.prefetch``: read, locality 2); no effect on results.  Not into the
    first level: a whole slab brought there would evict the slab and Gram matrix being
    solved (at n = 4096 float32 this made the solve about 12 % slower)."""
    if not isinstance(address, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", fnty=fnty)
        builder.call(fn, [builder.inttoptr(args[0], i8p), i32(0), i32(2), i32(1)])
        return context.get_dummy_value()

    return types.void(address), codegen


#: positions in the constants vector ``cst`` of :func:`_solve_slabs`
(
    C_LO_E,
    C_HI_E,
    C_THR_REL,
    C_E_THETA,
    C_E_R,
    C_E_GRAM,
    C_G_CHOL,
    C_U,
    C_TOL,
    C_PHI,
    C_M,
    C_NEAR,
    C_STOP,
) = range(13)
N_CONST = 13

#: stages after which ``cst[C_STOP]`` ends a slab's work (to time the stages; 0 runs all)
STAGES = ("gather", "gram", "lanczos", "ritz", "certificate")


#: lanes of the vector operations below; rows of the Cholesky buffer are padded to a multiple
LANES = 16


def _vec_type(fty):
    return ir.VectorType(fty, LANES)


def _vec_load(builder, address, fty, align):
    ptr = builder.inttoptr(address, _vec_type(fty).as_pointer())
    return builder.load(ptr, align=align)


def _vec_store(builder, value, address, fty, align):
    ptr = builder.inttoptr(address, _vec_type(fty).as_pointer())
    builder.store(value, ptr, align=align)


def _vec_splat(builder, x, fty):
    vty = _vec_type(fty)
    v = builder.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(ir.IntType(32), 0))
    mask = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)
    return builder.shuffle_vector(v, ir.Constant(vty, ir.Undefined), mask)


def _vec_fmuladd(builder, a, b, c):
    """``a * b + c``, fused where the processor has it (``llvm.fmuladd``)."""
    el = "f32" if a.type.element == ir.FloatType() else "f64"
    fnty = ir.FunctionType(a.type, [a.type, a.type, a.type])
    fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.fmuladd.v{LANES}{el}")
    return builder.call(fn, [a, b, c])


# The Cholesky inertia test is written with explicit vector operations on LANES consecutive
# entries (row addresses as integers) because Numba's loops over a row tail that starts at a
# varying column do not compile to vector code, and LAPACK's unblocked ?potf2 spends most of
# its time in per-column calls; the blocked loop below is 1.5 (float32) to 2 (float64) times as
# fast at m = 64.


@intrinsic
def _vec_rank1(typingctx, dst, src, a):
    """``dst[0:LANES] -= a * src[0:LANES]`` (``dst``, ``src``: integer addresses of entries
    of ``a``'s type)."""
    if not (isinstance(dst, types.Integer) and isinstance(src, types.Integer)):
        return None
    if not isinstance(a, types.Float):
        return None

    def codegen(context, builder, sig, args):
        fty = context.get_value_type(sig.args[2])
        al = context.get_abi_sizeof(fty)
        d, p0, x0 = args
        prod = builder.fmul(_vec_splat(builder, x0, fty), _vec_load(builder, p0, fty, al))
        _vec_store(builder, builder.fsub(_vec_load(builder, d, fty, al), prod), d, fty, al)
        return context.get_dummy_value()

    return types.void(dst, src, a), codegen


@intrinsic
def _vec_div(typingctx, dst, x):
    """``dst[0:LANES] /= x`` (true division, entries of ``x``'s type)."""
    if not (isinstance(dst, types.Integer) and isinstance(x, types.Float)):
        return None

    def codegen(context, builder, sig, args):
        fty = context.get_value_type(sig.args[1])
        al = context.get_abi_sizeof(fty)
        d, x0 = args
        q = builder.fdiv(_vec_load(builder, d, fty, al), _vec_splat(builder, x0, fty))
        _vec_store(builder, q, d, fty, al)
        return context.get_dummy_value()

    return types.void(dst, x), codegen


def _kernel_types(ints, named, count=None) -> bool:
    """The typing rule of the vector kernels: integer addresses and strides ``ints``, and
    ``named`` giving the float type of the entries they address: an array of that dtype, or
    (``count`` given) a tuple of ``count`` scalars of it."""
    if not all(isinstance(x, types.Integer) for x in ints):
        return False
    if count is None:
        return isinstance(named, types.Array) and isinstance(named.dtype, types.Float)
    return (
        isinstance(named, types.UniTuple)
        and named.count == count
        and isinstance(named.dtype, types.Float)
    )


def _kernel_prologue(context, builder, sig, args, n):
    """``(float type, its size in bytes, i64, the first n arguments as int64)`` for a vector
    kernel whose argument ``n`` names the float type (:func:`_kernel_types`)."""
    fty = context.get_value_type(sig.args[n].dtype)
    vals = [context.cast(builder, v, t, types.int64) for v, t in zip(args[:n], sig.args[:n])]
    return fty, context.get_abi_sizeof(fty), ir.IntType(64), vals


@intrinsic
def _vec_rank4x4(typingctx, t0, t1, t2, t3, s0, s1, s2, s3, c):
    """For each target ``r`` (addresses ``t0 .. t3``):
    ``t_r[0:LANES] -= sum_q c[4 r + q] * s_q[0:LANES]`` (sources ``s0 .. s3``); ``c`` is a
    tuple of 16 scalars of the rows' type.  Each source is loaded once for all four targets;
    the coefficients are values, not memory, so a loop of such calls broadcasts them once."""
    addrs = (t0, t1, t2, t3, s0, s1, s2, s3)
    if not _kernel_types(addrs, c, 16):
        return None

    def codegen(context, builder, sig, args):
        fty, al, _, _ = _kernel_prologue(context, builder, sig, args, 8)
        src = [_vec_load(builder, x, fty, al) for x in args[4:8]]
        coef = [builder.extract_value(args[8], i) for i in range(16)]
        for r in range(4):
            acc = None
            for q in range(4):
                cv = _vec_splat(builder, coef[4 * r + q], fty)
                acc = (
                    builder.fmul(cv, src[q])
                    if acc is None
                    else _vec_fmuladd(builder, cv, src[q], acc)
                )
            t = args[r]
            _vec_store(builder, builder.fsub(_vec_load(builder, t, fty, al), acc), t, fty, al)
        return context.get_dummy_value()

    return types.void(*addrs, c), codegen


@intrinsic
def _vec_rows4(typingctx, t0, rs, c):
    """Finish four rows of a Cholesky factor on one vector of columns: with ``c`` the tuple
    ``(r00, r01, r02, r03, r11, r12, r13, r22, r23, r33)`` of their 4 x 4 corner and ``t0``
    the address of row 0's entries (rows ``rs`` bytes apart), row ``k`` becomes
    ``(h_k - sum_(q<k) r_qk row_q) / r_kk`` (a true division), rows in order."""
    if not _kernel_types((t0, rs), c, 10):
        return None

    def codegen(context, builder, sig, args):
        fty, al, i64, (t, rsv) = _kernel_prologue(context, builder, sig, args, 2)
        cv = [_vec_splat(builder, builder.extract_value(args[2], i), fty) for i in range(10)]
        # positions of r_qk in c
        at = {(0, 0): 0, (0, 1): 1, (0, 2): 2, (0, 3): 3, (1, 1): 4, (1, 2): 5, (1, 3): 6}
        at.update({(2, 2): 7, (2, 3): 8, (3, 3): 9})
        done = []
        for k in range(4):
            addr = builder.add(t, builder.mul(ir.Constant(i64, k), rsv))
            x = _vec_load(builder, addr, fty, al)
            for q in range(k):
                x = builder.fsub(x, builder.fmul(cv[at[q, k]], done[q]))
            x = builder.fdiv(x, cv[at[k, k]])
            _vec_store(builder, x, addr, fty, al)
            done.append(x)
        return context.get_dummy_value()

    return types.void(t0, rs, c), codegen


@intrinsic
def _same_float_arrays(typingctx, a, b, c):
    """Nothing at run time; refuses to compile unless ``a``, ``b`` and ``c`` are arrays of one
    float dtype (the vector kernels below read every array at that type's width)."""
    arrs = (a, b, c)
    if not all(isinstance(x, types.Array) and isinstance(x.dtype, types.Float) for x in arrs):
        return None
    if not (a.dtype == b.dtype == c.dtype):
        return None

    def codegen(context, builder, sig, args):
        return context.get_dummy_value()

    return types.void(a, b, c), codegen


def _gemv_intrinsic(nch):
    """An intrinsic ``(w, g, rs, q, nrows, arr)``:
    ``w[0:nch*LANES] = sum_r q[r] * g_r[0:nch*LANES]`` over rows ``r < nrows`` at addresses
    ``g + r * rs`` (bytes); ``w``, ``g``, ``q``: integer addresses of entries of the float
    type of the array ``arr`` (which only names that type)."""

    @intrinsic
    def gemv(typingctx, w, g, rs, q, nrows, arr):
        if not _kernel_types((w, g, rs, q, nrows), arr):
            return None

        def codegen(context, builder, sig, args):
            fty, al, i64, (wa, ga, rsv, qa, nr) = _kernel_prologue(context, builder, sig, args, 5)
            vty = _vec_type(fty)
            step = ir.Constant(i64, LANES * al)
            # two sets of accumulators (even and odd rows): half the length of each chain
            accs = [
                cgutils.alloca_once_value(builder, ir.Constant(vty, None)) for _ in range(2 * nch)
            ]
            npairs = builder.lshr(nr, ir.Constant(i64, 1))

            def rows(r0, sets):
                for k, acc_set in enumerate(sets):
                    r = builder.add(r0, ir.Constant(i64, k))
                    row = builder.add(ga, builder.mul(r, rsv))
                    qp = builder.inttoptr(
                        builder.add(qa, builder.mul(r, ir.Constant(i64, al))), fty.as_pointer()
                    )
                    qv = _vec_splat(builder, builder.load(qp, align=al), fty)
                    for c in range(nch):
                        x = _vec_load(
                            builder,
                            builder.add(row, builder.mul(ir.Constant(i64, c), step)),
                            fty,
                            al,
                        )
                        acc = accs[acc_set * nch + c]
                        builder.store(_vec_fmuladd(builder, qv, x, builder.load(acc)), acc)

            with cgutils.for_range(builder, npairs, intp=i64) as loop:
                rows(builder.shl(loop.index, ir.Constant(i64, 1)), (0, 1))
            odd = builder.icmp_unsigned(
                "!=", builder.and_(nr, ir.Constant(i64, 1)), ir.Constant(i64, 0)
            )
            with builder.if_then(odd):
                rows(builder.sub(nr, ir.Constant(i64, 1)), (0,))
            for c in range(nch):
                tot = builder.fadd(builder.load(accs[c]), builder.load(accs[nch + c]))
                _vec_store(
                    builder, tot, builder.add(wa, builder.mul(ir.Constant(i64, c), step)), fty, al
                )
            return context.get_dummy_value()

        return types.void(w, g, rs, q, nrows, arr), codegen

    return gemv


_vec_gemv4 = _gemv_intrinsic(4)
_vec_gemv1 = _gemv_intrinsic(1)


def _syrk_intrinsic(nv):
    """An intrinsic ``(g, xr, xc, rsg, rsx, nd, arr)`` that writes one 4 x ``nv * LANES``
    block of ``G = X^T X``: ``G[i + r, j + c] = sum_{d < nd} X[d, i + r] X[d, j + c]``.

    Arguments are integer addresses and byte strides: ``g`` the address of ``G[i, j]``, ``xr``
    of ``X[0, i]``, ``xc`` of ``X[0, j]``, ``rsg`` and ``rsx`` the row strides of ``G`` and
    ``X``; ``arr`` an array of their float type (only its type is used).  The ``4 nv`` sums
    stay in registers over the loop on ``d``; each row of ``X`` gives ``nv`` vector loads and
    four broadcasts."""

    @intrinsic
    def syrk(typingctx, g, xr, xc, rsg, rsx, nd, arr):
        if not _kernel_types((g, xr, xc, rsg, rsx, nd), arr):
            return None

        def codegen(context, builder, sig, args):
            prologue = _kernel_prologue(context, builder, sig, args, 6)
            fty, al, i64, (ga, xra, xca, rsgv, rsxv, ndv) = prologue
            vty = _vec_type(fty)
            step = ir.Constant(i64, LANES * al)
            accs = [
                cgutils.alloca_once_value(builder, ir.Constant(vty, None)) for _ in range(4 * nv)
            ]
            with cgutils.for_range(builder, ndv, intp=i64) as loop:
                off = builder.mul(loop.index, rsxv)
                rowc = builder.add(xca, off)
                rowr = builder.add(xra, off)
                xs = [
                    _vec_load(
                        builder, builder.add(rowc, builder.mul(ir.Constant(i64, c), step)), fty, al
                    )
                    for c in range(nv)
                ]
                for r in range(4):
                    sp = builder.inttoptr(
                        builder.add(rowr, ir.Constant(i64, r * al)), fty.as_pointer()
                    )
                    sv = _vec_splat(builder, builder.load(sp, align=al), fty)
                    for c in range(nv):
                        acc = accs[r * nv + c]
                        builder.store(_vec_fmuladd(builder, sv, xs[c], builder.load(acc)), acc)
            for r in range(4):
                row = builder.add(ga, builder.mul(ir.Constant(i64, r), rsgv))
                for c in range(nv):
                    _vec_store(
                        builder,
                        builder.load(accs[r * nv + c]),
                        builder.add(row, builder.mul(ir.Constant(i64, c), step)),
                        fty,
                        al,
                    )
            return context.get_dummy_value()

        return types.void(g, xr, xc, rsg, rsx, nd, arr), codegen

    return syrk


_vec_syrk1 = _syrk_intrinsic(1)
_vec_syrk2 = _syrk_intrinsic(2)
_vec_syrk3 = _syrk_intrinsic(3)
_vec_syrk4 = _syrk_intrinsic(4)


@njit(nogil=True, cache=True, inline="always")
def _gram(X, G, mr, m):
    """``G = X^T X`` (``X`` C-contiguous ``(mr, m)``, ``G`` ``(m, m)`` of the same dtype).

    For ``m`` a multiple of :data:`LANES`: the diagonal ``LANES x LANES`` blocks and those
    above them, four rows by up to four (float64: two) vectors of columns at a time, then the
    blocks below the diagonal copied from their mirror images (about 60 % of the arithmetic of
    a full product at m = 64).  Other orders: BLAS ``gemm``."""
    _same_float_arrays(X, G, G)
    if m % LANES != 0:
        np.dot(X.T, X, G)
        return
    isz = X.itemsize
    rsx = X.shape[1] * isz
    rsg = G.shape[1] * isz
    xa = X.ctypes.data
    ga = G.ctypes.data
    group = 4 if isz == 4 else 2
    for i0 in range(0, m, 4):
        c = (i0 // LANES) * LANES
        while c < m:
            nv = min(group, (m - c) // LANES)
            g = ga + i0 * rsg + c * isz
            xr = xa + i0 * isz
            xc = xa + c * isz
            if nv == 4:
                _vec_syrk4(g, xr, xc, rsg, rsx, mr, X)
            elif nv == 3:
                _vec_syrk3(g, xr, xc, rsg, rsx, mr, X)
            elif nv == 2:
                _vec_syrk2(g, xr, xc, rsg, rsx, mr, X)
            else:
                _vec_syrk1(g, xr, xc, rsg, rsx, mr, X)
            c += nv * LANES
    for ib in range(LANES, m, LANES):
        for jb in range(0, ib, LANES):
            for a in range(LANES):
                Ga = G[ib + a]
                for b in range(LANES):
                    Ga[jb + b] = G[jb + b, ib + a]


@njit(nogil=True, cache=True, inline="always")
def _gemv(G, q, w, m):
    """``w[:m] = G[:m, :m] q[:m]`` for the symmetric C-contiguous ``G`` (a sum of rows of G
    weighted by ``q``; ``q`` and ``w`` contiguous, of ``G``'s dtype), in vector blocks of 64
    and 16 columns, the last ``m % 16`` columns by scalar loops."""
    _same_float_arrays(G, q, w)
    isz = G.itemsize
    rs = G.shape[1] * isz
    ga = G.ctypes.data
    qa = q.ctypes.data
    wa = w.ctypes.data
    c = 0
    while c + 4 * LANES <= m:
        _vec_gemv4(wa + c * isz, ga + c * isz, rs, qa, m, G)
        c += 4 * LANES
    while c + LANES <= m:
        _vec_gemv1(wa + c * isz, ga + c * isz, rs, qa, m, G)
        c += LANES
    for i in range(c, m):
        w[i] = 0
    for k in range(m):
        qk = q[k]
        for i in range(c, m):
            w[i] += qk * G[k, i]


@njit(nogil=True, cache=True, inline="always")
def _chol_row(H, base, rs, isz, end, k, i0):
    """Row ``k`` of the Cholesky factor, given rows ``i0 .. k-1`` still to subtract: minus
    ``H[i, k] * row i`` for those rows, then divided by the square root of its pivot.
    ``False`` when the pivot is not positive (or NaN)."""
    jk = (k & ~(LANES - 1)) * isz
    rk = base + k * rs
    for i in range(i0, k):
        a = H[i, k]
        ri = base + i * rs
        for jb in range(jk, end, LANES * isz):
            _vec_rank1(rk + jb, ri + jb, a)
    d = H[k, k]
    if not (d > 0):
        return False
    d = np.sqrt(d)
    for jb in range(jk, end, LANES * isz):
        _vec_div(rk + jb, d)
    H[k, k] = d
    return True


@njit(nogil=True, cache=True)
def cholesky_ok(H, m):
    """Cholesky factorisation ``H = R^T R`` of the symmetric ``H[:, :m]``, read from its upper
    triangle and overwritten there by ``R``; ``True`` when every pivot was positive.

    ``H`` is C-contiguous ``(m, mp)`` with ``mp`` a multiple of :data:`LANES` and columns
    ``m ..`` zero.  Entries below the diagonal are overwritten with values of no meaning.
    Rows are finished four at a time: each block of four first subtracts its parts along the
    finished rows (four source rows against four target rows per vector operation), then
    factors its own 4 x 4 corner in scalars and finishes its four rows with those ten numbers
    (:func:`_vec_rows4`: no scalar is read back from a row just written); the last ``m % 4``
    rows go one at a time.  Every entry of ``R`` is thus ``(h_kj - sum_i r_ik r_ij) / r_kk`` with the sum taken
    in some order and the division a true division, which is all the rounding-error bound
    of Cholesky's method (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed.,
    Thm. 10.3: ``R^T R = H + dH``, ``|dH| <= gamma_(m+1) |R^T| |R|``) assumes, and a
    pivot that is not positive stops it as in LAPACK's ``?potf2``.
    """
    isz = H.itemsize
    rs = H.shape[1] * isz
    end = rs
    base = H.ctypes.data
    kb = 0
    while kb + 4 <= m:
        js = (kb & ~(LANES - 1)) * isz
        t0 = base + kb * rs
        i = 0
        while i + 4 <= kb:
            # H[i + q, kb + r] at position 4 r + q
            c = (
                H[i, kb],
                H[i + 1, kb],
                H[i + 2, kb],
                H[i + 3, kb],
                H[i, kb + 1],
                H[i + 1, kb + 1],
                H[i + 2, kb + 1],
                H[i + 3, kb + 1],
                H[i, kb + 2],
                H[i + 1, kb + 2],
                H[i + 2, kb + 2],
                H[i + 3, kb + 2],
                H[i, kb + 3],
                H[i + 1, kb + 3],
                H[i + 2, kb + 3],
                H[i + 3, kb + 3],
            )
            s0 = base + i * rs
            for jb in range(js, end, LANES * isz):
                _vec_rank4x4(
                    t0 + jb,
                    t0 + rs + jb,
                    t0 + 2 * rs + jb,
                    t0 + 3 * rs + jb,
                    s0 + jb,
                    s0 + rs + jb,
                    s0 + 2 * rs + jb,
                    s0 + 3 * rs + jb,
                    c,
                )
            i += 4
        # the 4 x 4 corner in scalars, then its rows across the columns (vectors)
        r00 = H[kb, kb]
        if not (r00 > 0):
            return False
        r00 = np.sqrt(r00)
        r01 = H[kb, kb + 1] / r00
        r02 = H[kb, kb + 2] / r00
        r03 = H[kb, kb + 3] / r00
        r11 = H[kb + 1, kb + 1] - r01 * r01
        if not (r11 > 0):
            return False
        r11 = np.sqrt(r11)
        r12 = (H[kb + 1, kb + 2] - r01 * r02) / r11
        r13 = (H[kb + 1, kb + 3] - r01 * r03) / r11
        r22 = H[kb + 2, kb + 2] - r02 * r02 - r12 * r12
        if not (r22 > 0):
            return False
        r22 = np.sqrt(r22)
        r23 = (H[kb + 2, kb + 3] - r02 * r03 - r12 * r13) / r22
        r33 = H[kb + 3, kb + 3] - r03 * r03 - r13 * r13 - r23 * r23
        if not (r33 > 0):
            return False
        r33 = np.sqrt(r33)
        c4 = (r00, r01, r02, r03, r11, r12, r13, r22, r23, r33)
        for jb in range(js, end, LANES * isz):
            _vec_rows4(t0 + jb, rs, c4)
        # the corner as computed in scalars (the vectors divided its diagonal too)
        H[kb, kb] = r00
        H[kb, kb + 1] = r01
        H[kb, kb + 2] = r02
        H[kb, kb + 3] = r03
        H[kb + 1, kb + 1] = r11
        H[kb + 1, kb + 2] = r12
        H[kb + 1, kb + 3] = r13
        H[kb + 2, kb + 2] = r22
        H[kb + 2, kb + 3] = r23
        H[kb + 3, kb + 3] = r33
        kb += 4
    for k in range(kb, m):  # the last m % 4 rows, one at a time
        if not _chol_row(H, base, rs, isz, end, k, 0):
            return False
    return True


@njit(nogil=True, cache=True, inline="always")
def _normalize_or_e0(v, n):
    """Scale ``v[:n]`` (float64) to unit length and return its former norm; a zero or
    non-finite vector becomes ``e_0`` (norm reported as 1)."""
    nrm = 0.0
    for i in range(n):
        nrm += v[i] * v[i]
    nrm = np.sqrt(nrm)
    if not (nrm > 0.0) or not np.isfinite(nrm):
        for i in range(n):
            v[i] = 0.0
        v[0] = 1.0
        return 1.0
    for i in range(n):
        v[i] /= nrm
    return nrm


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@njit(nogil=True, cache=True, inline="always")
def _hash_uniform1(key, index):
    """A number uniform in ``[-1, 1)`` from the 64-bit ``key`` and ``index``: the SplitMix64
    finaliser (Steele, Lea and Flood, OOPSLA 2014) of ``key + (index + 1) * golden``, its top
    53 bits as a fraction.  Written out because it runs inside the compiled slab loop, where
    no generator object is available."""
    z = key + (np.uint64(index) + np.uint64(1)) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return np.float64(z >> np.uint64(11)) * (2.0**-52) - 1.0


@njit(nogil=True, cache=True)
def hash_uniform(key, out):
    """Fill the 2-D float64 ``out`` (n, m) with :func:`_hash_uniform1` of ``key`` and the flat
    index ``t * m + i`` (the start vectors of :func:`_solve_slabs` before normalisation)."""
    n, m = out.shape
    for t in range(n):
        for i in range(m):
            out[t, i] = _hash_uniform1(key, t * m + i)


@njit(nogil=True, cache=True)
def _laguerre_top(a, b, K, hi, lo):
    """The top eigenvalue of the symmetric tridiagonal ``T`` (diagonal ``a[:K]``, off-diagonal
    ``b[:K-1] >= 0``, ``||T||`` about 1) by Laguerre's method from ``hi`` (an upper bound),
    or NaN when it does not settle within 20 steps inside ``[lo, hi]``.

    The characteristic polynomial has only real roots, so Laguerre's iteration started above
    the largest root decreases monotonically to it, cubically near a simple root (Wilkinson,
    *The Algebraic Eigenvalue Problem*, ch. 7).  Its derivatives come from the pivots
    ``D_i`` of ``x I - T = L D L^T`` (all positive above the top eigenvalue):
    ``p'/p = sum D_i'/D_i`` and ``sum_j 1/(x - lambda_j)^2 = sum (D_i'/D_i)^2 - D_i''/D_i``.
    A step can land on the eigenvalue to rounding, just below it: the pivots then count one
    eigenvalue above the iterate (Sturm), and that iterate is returned.
    """
    x = hi
    kf = float(K)
    tiny = 1e-280
    for it in range(20):
        d = x - a[0]
        if d == 0.0:
            d = -tiny
        below = 1 if d < 0.0 else 0  # eigenvalues above x
        r = 1.0 / d
        d1 = 1.0
        d2 = 0.0
        g = r
        h = r * r
        for i in range(1, K):
            c = b[i - 1] * b[i - 1]
            cr2 = c * r * r
            d2 = cr2 * (d2 - 2.0 * d1 * d1 * r)
            d1 = 1.0 + cr2 * d1
            d = (x - a[i]) - c * r
            if d == 0.0:
                d = -tiny
            if d < 0.0:
                below += 1
            r = 1.0 / d
            t = d1 * r
            g += t
            h += t * t - d2 * r
        if below > 0:
            # past the top eigenvalue: by rounding only when just the top one lies above
            return x if (below == 1 and it > 0) else np.nan
        disc = (kf - 1.0) * (kf * h - g * g)
        step = kf / (g + np.sqrt(max(disc, 0.0)))
        if not (step >= 0.0) or not np.isfinite(step):
            return np.nan
        x_new = x - step
        if not (x_new >= lo):
            return np.nan
        if step <= 2.0**-44 * max(abs(x), 1.0) or x_new == x:
            return x_new
        x = x_new
    return np.nan


@njit(nogil=True, cache=True)
def tridiag_top(a, b, K, y, work):
    """Top eigenvalue of the symmetric tridiagonal matrix of diagonal ``a[:K]`` and
    off-diagonal ``b[:K-1]`` (float64) by Laguerre's iteration (:func:`_laguerre_top`) or,
    where that does not settle, Sturm bisection, and its unit eigenvector into ``y[:K]`` by
    inverse iteration; ``work`` (4, K) is scratch.  Returns the eigenvalue estimate (the
    Rayleigh quotient of ``y``).

    Laguerre's value is shifted up by ``2**-30`` (``T`` scaled to norm about 1) for the inverse
    iteration, which then converges in one or two steps unless a second eigenvalue lies
    within about that distance.  The bisection (a multisection: three points per round) stops
    once the bracket holds the top eigenvalue alone (or is at rounding level) and is at most
    ``2**-16`` of ``||T||`` wide, plus a factor ``2**-8``: a Lanczos matrix in double precision
    holds near copies of its converged top value, and inverse iteration shifted to the
    bracket's upper end separates them only when the bracket is much narrower than their
    distance.  It runs on ``|b|`` (the same eigenvalues; eigenvectors differ by
    signs, restored at the end), whose top eigenvector has no negative entry (Perron), so the
    all-ones start is never orthogonal to it.
    """
    for i in range(K):
        y[i] = 0.0
    y[0] = 1.0
    if K == 1:
        return a[0]
    scale = 0.0
    for i in range(K):
        scale = max(scale, abs(a[i]))
    for i in range(K - 1):
        scale = max(scale, abs(b[i]))
    if not (scale > 0.0) or not np.isfinite(scale):
        return a[0]
    tiny = 1e-280
    a_s = work[0]
    b_s = work[1]
    piv = work[2]
    sgn = work[3]
    lo = -np.inf
    hi = -np.inf
    for i in range(K):
        a_s[i] = a[i] / scale
        rad = 0.0
        if i > 0:
            rad += b_s[i - 1]
        if i < K - 1:
            b_s[i] = abs(b[i]) / scale
            rad += b_s[i]
        lo = max(lo, a_s[i])  # the largest eigenvalue is at least every diagonal entry
        hi = max(hi, a_s[i] + rad)  # and at most every Gershgorin bound
    hi = hi + 1e-12 * (hi - lo) + 1e-13
    lo = lo - 1e-13
    x = _laguerre_top(a_s, b_s, K, hi, lo)
    if np.isfinite(x):
        # just above the top eigenvalue: inverse iteration converges at once
        hi = x + 2.0**-30
    else:
        # multisection on T / scale (Sturm counts of the LDL^T pivots at three points per round,
        # whose division chains overlap): the largest eigenvalue is the smallest x with all K
        # eigenvalues below it; each round quarters the bracket
        alone_at = -1  # the round at which the bracket first held one eigenvalue
        for it in range(30):
            h = 0.25 * (hi - lo)
            x1 = lo + h
            x2 = lo + 2.0 * h
            x3 = lo + 3.0 * h
            if not (lo < x1 and x1 < x2 and x2 < x3 and x3 < hi):
                break
            d1 = a_s[0] - x1
            d2 = a_s[0] - x2
            d3 = a_s[0] - x3
            c1 = 1 if d1 < 0 else 0
            c2 = 1 if d2 < 0 else 0
            c3 = 1 if d3 < 0 else 0
            for i in range(1, K):
                bb = b_s[i - 1] * b_s[i - 1]
                if d1 == 0.0:
                    d1 = -tiny
                if d2 == 0.0:
                    d2 = -tiny
                if d3 == 0.0:
                    d3 = -tiny
                d1 = (a_s[i] - x1) - bb / d1
                d2 = (a_s[i] - x2) - bb / d2
                d3 = (a_s[i] - x3) - bb / d3
                if d1 < 0:
                    c1 += 1
                if d2 < 0:
                    c2 += 1
                if d3 < 0:
                    c3 += 1
            if c1 >= K:
                hi = x1
            elif c2 >= K:
                lo = x1
                hi = x2
                if c1 == K - 1 and alone_at < 0:
                    alone_at = it
            elif c3 >= K:
                lo = x2
                hi = x3
                if c2 == K - 1 and alone_at < 0:
                    alone_at = it
            else:
                lo = x3
                if c3 == K - 1 and alone_at < 0:
                    alone_at = it
            if alone_at >= 0 and it >= 8 and it >= alone_at + 4:
                break
    sig = hi
    # inverse iteration: L D L^T of sig I - T (positive definite up to rounding)
    for i in range(K):
        y[i] = 1.0
    # the reciprocals of the pivots of L D L^T
    piv[0] = 1.0 / max(sig - a_s[0], tiny)
    for i in range(1, K):
        piv[i] = 1.0 / max((sig - a_s[i]) - b_s[i - 1] * b_s[i - 1] * piv[i - 1], tiny)
    for _ in range(3):
        for i in range(1, K):
            y[i] += b_s[i - 1] * piv[i - 1] * y[i - 1]
        y[K - 1] *= piv[K - 1]
        for i in range(K - 2, -1, -1):
            y[i] = (y[i] + b_s[i] * y[i + 1]) * piv[i]
        if _normalize_or_e0(y, K) == 1.0 and y[0] == 1.0:
            break  # the solve broke down (or converged to e_0 exactly): nothing to refine
    # back to the signs of b: T = D |T| D with D = diag(sgn)
    sgn[0] = 1.0
    for i in range(1, K):
        sgn[i] = -sgn[i - 1] if b[i - 1] < 0 else sgn[i - 1]
    for i in range(K):
        y[i] *= sgn[i]
    th = 0.0
    for i in range(K):
        ty = a[i] * y[i]
        if i > 0:
            ty += b[i - 1] * y[i - 1]
        if i < K - 1:
            ty += b[i] * y[i + 1]
        th += y[i] * ty
    return th


def _solve_slabs(
    flat,
    off,
    s,
    p,
    sd,
    pos,
    right,
    steps,
    starts,
    key,
    use_key,
    q0,
    use_q0,
    cst,
    V,
    W,
    trG,
    theta,
    direct,
    missed,
    cert,
    oor,
):
    """Solve the rank-1 ``s x p`` slabs whose row ``d`` is ``flat[off[t] + d * sd:][:p]``
    (``t`` over ``off``), writing row ``pos[t]`` of every output (and reading that row of
    ``starts`` and ``q0``).

    ``right``: the Gram matrix is ``S^T S`` (``V`` right singular vectors, ``W = S v``);
    otherwise ``S S^T`` (``W = S^T v``).  ``starts`` (n, m) holds random unit vectors (the
    start is the Gram row of largest diagonal plus 0.1 times it), or, with ``use_key``, they
    come from :func:`_hash_uniform` of ``key`` (normalised here); ``q0`` (n, m) holds the
    starts of a restart when ``use_q0``.  ``cst`` holds the energy range, the Lanczos stop threshold and
    the margins of the certificate (positions ``C_*``).
    """
    m = p if right else s
    mr = s if right else p
    dt = flat.dtype
    X = np.empty((mr, m), dtype=dt)
    G = np.empty((m, m), dtype=dt)
    Q = np.zeros((steps, m), dtype=dt)
    w = np.empty(m, dtype=dt)
    vt = np.empty(m, dtype=dt)
    al = np.zeros(steps)
    be = np.zeros(steps)
    y = np.zeros(steps)
    work = np.zeros((4, steps))
    sc = np.zeros(2, dtype=dt)
    zero = sc[0]  # 0 and 1 in the slab's dtype: the Lanczos loop runs in that dtype
    sc[1] = 1
    one = sc[1]
    v64 = np.empty(m)
    g64 = np.empty(m)
    # the shifted Gram matrix of the inertia test, rows padded to whole vectors (zeros)
    # (for m a multiple of LANES, the Gram matrix itself: it is not read after H is built,
    # and the slab's working set stays smaller)
    in_place = m % LANES == 0
    Hb = G if in_place else np.zeros((m, -(-m // LANES) * LANES), dtype=dt)
    lo_e = cst[C_LO_E]
    hi_e = cst[C_HI_E]
    e_theta = cst[C_E_THETA]
    e_r = cst[C_E_R]
    e_gram = cst[C_E_GRAM]
    g1 = cst[C_G_CHOL]
    u = cst[C_U]
    tol = cst[C_TOL]
    phi = cst[C_PHI]
    near_frac = cst[C_NEAR]
    stop = int(cst[C_STOP])
    base = flat.ctypes.data
    isz = flat.itemsize
    for t in range(off.shape[0]):
        o = pos[t]
        if t + 1 < off.shape[0]:
            # the next slab's rows come in from memory while this one is solved
            for d in range(s):
                a0 = base + (off[t + 1] + d * sd) * isz
                for b_ in range(0, p * isz, 64):
                    _prefetch(a0 + b_)
        # gather the slab (X = S, or S^T) and its energy in double precision
        tg = 0.0
        for d in range(s):
            row = flat[off[t] + d * sd : off[t] + d * sd + p]
            if right:
                Xd = X[d]
                for j in range(p):
                    xv = row[j]
                    Xd[j] = xv
                    tg += np.float64(xv) * np.float64(xv)
            else:
                for j in range(p):
                    xv = row[j]
                    X[j, d] = xv
                    tg += np.float64(xv) * np.float64(xv)
        trG[o] = tg
        cert[o] = _FAIL
        if not (tg >= lo_e and tg <= hi_e):
            oor[o] = True
            continue
        oor[o] = False
        if stop == 1:
            continue
        _gram(X, G, mr, m)
        if stop == 2:
            continue
        thr = cst[C_THR_REL] * tg
        # start vector
        if use_q0:
            for i in range(m):
                Q[0, i] = q0[o, i]
        else:
            ib = 0
            for i in range(1, m):
                if G[i, i] > G[ib, ib]:
                    ib = i
            nc = 0.0
            for i in range(m):
                nc += np.float64(G[ib, i]) * np.float64(G[ib, i])
            nc = np.sqrt(nc)
            if not (nc > 0.0):
                nc = 1.0
            if use_key:
                nr = 0.0
                for i in range(m):
                    r_ = _hash_uniform1(key, o * m + i)
                    g64[i] = r_
                    nr += r_ * r_
                nr = np.sqrt(nr) if nr > 0.0 else 1.0
                for i in range(m):
                    Q[0, i] = np.float64(G[ib, i]) / nc + 0.1 * g64[i] / nr
            else:
                for i in range(m):
                    Q[0, i] = np.float64(G[ib, i]) / nc + 0.1 * np.float64(starts[o, i])
        nq = 0.0
        for i in range(m):
            nq += np.float64(Q[0, i]) * np.float64(Q[0, i])
        nq = np.sqrt(nq)
        if not (nq > 0.0):
            nq = 1.0
        for i in range(m):
            Q[0, i] = np.float64(Q[0, i]) / nq
        # Lanczos (three-term recurrence; G symmetric, so G q is a sum of rows of G)
        bprev = zero
        for j in range(steps):
            qj = Q[j]
            qp = Q[j - 1] if j > 0 else Q[j]
            bp = bprev if j > 0 else zero
            # w = G q (G symmetric: a sum of its rows)
            _gemv(G, qj, w, m)
            a = zero
            for i in range(m):
                a += qj[i] * w[i]
            al[j] = a
            # w - a q_j - b q_(j-1) and its norm, in one pass
            bb = zero
            for i in range(m):
                x = w[i] - a * qj[i] - bp * qp[i]
                w[i] = x
                bb += x * x
            if j + 1 == steps:
                break
            bb = np.sqrt(bb)
            qn = Q[j + 1]
            if not (bb > thr):
                # the Krylov space became invariant (to rounding): later vectors are zero
                bb = zero
                for i in range(m):
                    qn[i] = 0
            else:
                inv = one / bb
                for i in range(m):
                    qn[i] = w[i] * inv
            be[j] = bb
            bprev = bb
        if stop == 3:
            continue
        tridiag_top(al, be, steps, y, work)
        # Ritz vector, rounded to the slab's dtype (the vector returned); all that follows
        # is about the direction of that rounded vector
        for i in range(m):
            v64[i] = 0.0
        for j in range(steps):
            yj = y[j]
            for i in range(m):
                v64[i] += yj * np.float64(Q[j, i])
        _normalize_or_e0(v64, m)
        for i in range(m):
            vt[i] = v64[i]
        nv = 0.0
        for i in range(m):
            nv += np.float64(vt[i]) * np.float64(vt[i])
        nv = np.sqrt(nv)
        for i in range(m):
            v64[i] = np.float64(vt[i]) / nv
            V[o, i] = vt[i]
        # u = X v (unit v), theta = ||u||^2, residual || X^T u - theta v ||, in double
        # (one pass over the rows of X: X^T u accumulates while each row is at hand)
        th = 0.0
        for j in range(m):
            g64[j] = 0.0
        Wo = W[o]
        i = 0
        while i + 4 <= mr:  # four rows at a time: four independent sums, one pass over g64
            X0 = X[i]
            X1 = X[i + 1]
            X2 = X[i + 2]
            X3 = X[i + 3]
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            a3 = 0.0
            for j in range(m):
                vj = v64[j]
                a0 += np.float64(X0[j]) * vj
                a1 += np.float64(X1[j]) * vj
                a2 += np.float64(X2[j]) * vj
                a3 += np.float64(X3[j]) * vj
            th += a0 * a0 + a1 * a1 + a2 * a2 + a3 * a3
            Wo[i] = a0 * nv  # X times the rounded vector
            Wo[i + 1] = a1 * nv
            Wo[i + 2] = a2 * nv
            Wo[i + 3] = a3 * nv
            for j in range(m):
                g64[j] += (
                    a0 * np.float64(X0[j])
                    + a1 * np.float64(X1[j])
                    + a2 * np.float64(X2[j])
                    + a3 * np.float64(X3[j])
                )
            i += 4
        while i < mr:
            Xi = X[i]
            acc = 0.0
            for j in range(m):
                acc += np.float64(Xi[j]) * v64[j]
            th += acc * acc
            Wo[i] = acc * nv
            for j in range(m):
                g64[j] += acc * np.float64(Xi[j])
            i += 1
        for j in range(m):
            g64[j] -= th * v64[j]
        rs = 0.0
        for j in range(m):
            rs += g64[j] * g64[j]
        r = np.sqrt(rs)
        theta[o] = th
        if stop == 4:
            continue
        kept = th
        if th >= near_frac * tg:
            # nearly rank 1: tg - theta would cancel, so measure || X - W v^T ||^2 directly
            de = 0.0
            for i in range(mr):
                wi = np.float64(W[o, i])
                for j in range(m):
                    ev = np.float64(X[i, j]) - wi * np.float64(vt[j])
                    de += ev * ev
            direct[o] = de
            kept = tg - de
        # the certificate (see _Margins): the trace bound of the gap, else the inertia test
        bud = tol * max(tg - kept, 0.0) + phi * tg
        th_lo = th - e_theta * tg
        rr = r + e_r * tg
        mu_tr = tg * (1.0 + e_gram) - th_lo
        gap = th_lo - mu_tr
        mis = np.inf
        if gap > 0:
            mis = rr * rr / gap
        if mis <= bud:
            cert[o] = _TRACE
            missed[o] = mis
            continue
        mu = th_lo - rr * rr / (0.5 * bud)
        if not (mu > 0.0) or not np.isfinite(mu):
            continue
        trH = cst[C_M] * mu + tg + th
        c = (
            1.25
            * (
                g1 / (1.0 - g1) * abs(trH)
                + (e_gram + 6.0 * u) * tg
                + 2.0 * u * np.sqrt(cst[C_M]) * abs(mu)
            )
            + 1e-300
        )
        sc[0] = th  # rounded to the slab's dtype
        sc[1] = mu - c
        thd = sc[0]
        shift = sc[1]
        # whole rows (the Cholesky reads the upper triangle): loops from 0 over a row view
        # compile to vector code, loops from a varying start do not
        if in_place:
            for i in range(m):
                ti = thd * vt[i]
                Gi = G[i]
                for j in range(m):
                    Gi[j] = ti * vt[j] - Gi[j]
                Gi[i] += shift
        else:
            for i in range(m):
                ti = thd * vt[i]
                Gi = G[i]
                Hi = Hb[i]
                for j in range(m):
                    Hi[j] = ti * vt[j] - Gi[j]
                for j in range(m, Hb.shape[1]):
                    Hi[j] = 0
                Hb[i, i] += shift
        if cholesky_ok(Hb, m):
            gap = th_lo - mu
            if gap > 0:
                cert[o] = _INERTIA
                missed[o] = rr * rr / gap


_SOLVERS: dict = {}


def _signature(dt):
    """The one signature :func:`solver` compiles per dtype: a read-only flat view of the
    slabs' memory, and contiguous index and work arrays."""
    f = types.float32 if dt == np.float32 else types.float64

    def c(t, nd=1):
        return types.Array(t, nd, "C")

    idx = c(types.int64)
    i64 = types.int64
    return types.void(
        types.Array(f, 1, "C", readonly=True),
        idx,
        i64,
        i64,
        i64,
        idx,
        types.boolean,
        i64,
        c(f, 2),
        types.uint64,
        types.boolean,
        c(f, 2),
        types.boolean,
        c(types.float64),
        c(f, 2),
        c(f, 2),
        c(types.float64),
        c(types.float64),
        c(types.float64),
        c(types.float64),
        c(types.int8),
        c(types.boolean),
    )


def solver(dtype):
    """The compiled :func:`_solve_slabs` for real ``dtype`` (float32 or float64), compiled on
    first use (or loaded from Numba's on-disk cache) and kept."""
    dt = np.dtype(dtype)
    fn = _SOLVERS.get(dt)
    if fn is None:
        fn = njit(_signature(dt), nogil=True, cache=True, fastmath=_FM)(_solve_slabs)
        _SOLVERS[dt] = fn
    return fn
