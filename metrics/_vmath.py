"""Vectorisable transcendental functions for numba kernels (issue 22, private).

A scalar ``math.exp``/``math.atan`` inside a compiled loop is a call into the C library per
element, which LLVM cannot vectorise. :func:`exp_into` and :func:`atan_into` compute the same
values (glibc's, bit for bit, on x86_64 with FMA) with AVX2 vectors: ``exp`` by glibc's own
algorithm (below), ``atan`` rounded from a double-double evaluation, with ``math.atan``
asked for the few elements (~4 % of Sobel ratios) whose rounding glibc's stated error bound
leaves open (see :func:`_atan_dd`; 0 differences from ``np.arctan`` on 52M inputs, and on
1.8M decided within 0.01 ulp of the margin among 120M more). Elsewhere (another libm, no FMA)
the values are within 1 ulp of the C library's.

``exp`` reproduces glibc 2.36's ``exp`` on x86_64 bit for bit (tested against ``np.exp`` /
``math.exp``, which call it here). glibc picks ``__exp_fma`` on CPUs with FMA and AVX2: the
algorithm of ``sysdeps/ieee754/dbl-64/e_exp.c`` (Szabolcs Nagy's, the same as Arm's
optimized-routines ``math/exp.c``), compiled with ``-mfma`` so that GCC contracts every
``a + b*c`` whose product has a single use into one fused multiply-add. The contractions used
below were read off the disassembly of this machine's ``libm.so.6``:

* ``x = k ln2/N + r`` with ``N = 128``: ``kd = fma(x, N/ln2, 0x1.8p52)`` (round to an integer
  by the shift), ``ki`` = its bits, ``kd -= 0x1.8p52``,
  ``r = fma(kd, -ln2lo/N, fma(kd, -ln2hi/N, x))``;
* ``2^(k/N) = scale (1 + tail)`` from a table of 128 pairs (:data:`_TAIL`, :data:`_SBITS`),
  ``scale`` = bits ``_SBITS[k % N] + (k << 45)``;
* ``tmp = fma(r2^2, fma(r, C5, C4), fma(r2, fma(r, C3, C2), tail + r))`` with ``r2 = r*r``;
* ``exp(x) = fma(scale, tmp, scale)``.

Outside ``2^-54 <= |x| < 512`` glibc branches (tiny ``x``: ``1 + x``; ``|x| >= 1024``,
infinities and NaN; the under/overflow-safe rescaling for ``512 <= |x| < 1024``): those lanes
are recomputed by the scalar :func:`_exp_special`, a port of the same branches (where glibc's
product ``scale*tmp`` has two uses it is not fused, as here). The table is computed at import
(``decimal``, 50 digits): ``H = 2^(i/N)`` rounded to double, ``tail = 2^(i/N)/H - 1`` rounded,
``_SBITS[i] = bits(H) - (i << 45)`` -- the values of glibc's ``__exp_data.tab``.

Import lazily (numba).
"""
from __future__ import annotations

import decimal
import math

import numpy as np
from numba import types
from numba.extending import intrinsic

from fusionbench._jit import bits_float as _double
from fusionbench._jit import float_bits as _bits
from fusionbench._jit import kernel

__all__ = ["fma", "exp", "exp_into", "atan", "atan_into"]

_N = 128


def _exp_table() -> tuple[np.ndarray, np.ndarray]:
    """``tail[i]``, ``sbits[i]`` with ``2^(i/128) ~= H (1 + tail)``, ``sbits = bits(H) - (i << 45)``."""
    ctx = decimal.Context(prec=50)
    ln2 = ctx.ln(decimal.Decimal(2))
    tail = np.empty(_N)
    sbits = np.empty(_N, dtype=np.int64)
    for i in range(_N):
        v = ctx.exp(ctx.multiply(ln2, decimal.Decimal(i) / _N))
        h = float(v)                      # correctly rounded (CPython converts via the digits)
        tail[i] = float(ctx.subtract(ctx.divide(v, decimal.Decimal(h)), 1))
        sbits[i] = int(np.float64(h).view(np.int64)) - (i << 45)
    return tail, sbits


_TAIL, _SBITS = _exp_table()
_INVLN2N = float.fromhex("0x1.71547652b82fep0") * _N
_NEGLN2HIN = float.fromhex("-0x1.62e42fefa0000p-8")
_NEGLN2LON = float.fromhex("-0x1.cf79abc9e3b3ap-47")
_SHIFT = float.fromhex("0x1.8p52")
_C2 = float.fromhex("0x1.ffffffffffdbdp-2")
_C3 = float.fromhex("0x1.555555555543cp-3")
_C4 = float.fromhex("0x1.55555cf172b91p-5")
_C5 = float.fromhex("0x1.1111167a4d017p-7")
_P1009 = 2.0 ** 1009
_PM1022 = 2.0 ** -1022


@intrinsic
def fma(typingctx, a, b, c):
    """``a*b + c`` rounded once (``llvm.fma.f64``; vectorised by LLVM as ``vfmadd...pd``)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)
    return sig, codegen


@kernel(inline="always")
def _exp_core(x):
    """glibc's main path (valid for ``2^-54 <= |x| < 512``); returns ``(tmp, sbits, ki)``."""
    kd = fma(x, _INVLN2N, _SHIFT)
    ki = _bits(kd)
    kd = kd - _SHIFT
    r = fma(kd, _NEGLN2LON, fma(kd, _NEGLN2HIN, x))
    i = ki & (_N - 1)
    tail = _TAIL[i]
    sbits = _SBITS[i] + (ki << 45)
    r2 = r * r
    tmp = fma(r2 * r2, fma(r, _C5, _C4), fma(r2, fma(r, _C3, _C2), tail + r))
    return tmp, sbits, ki


@kernel(inline="always")
def _special(x):
    """Outside glibc's main range ``2^-54 <= |x| < 512`` (its test on the top 12 bits)."""
    top = (_bits(x) >> 52) & 0x7FF
    return (top < 0x3C9) | (top >= 0x408)


@kernel
def _exp_special(x):
    """glibc's ``exp`` outside the main range (scalar; rare)."""
    abstop = (_bits(x) >> 52) & 0x7FF
    if abstop < 0x3C9:                      # |x| < 2^-54 (0 included)
        return 1.0 + x
    if abstop >= 0x409:                     # |x| >= 1024, inf, nan
        if x == -np.inf:
            return 0.0
        if abstop == 0x7FF:
            return 1.0 + x
        return 0.0 if x < 0 else np.inf
    tmp, sbits, ki = _exp_core(x)
    if ki & 0x80000000 == 0:                # k > 0: scale may have overflowed
        scale = _double(sbits - (1009 << 52))
        return _P1009 * fma(scale, tmp, scale)
    scale = _double(sbits + (1022 << 52))   # k < 0: subnormal results
    st = scale * tmp                        # two uses: not fused (as glibc)
    y = scale + st
    if y < 1.0:
        lo = (scale - y) + st
        hi = 1.0 + y
        lo = ((1.0 - hi) + y) + lo
        y = (hi + lo) - 1.0
        if y == 0.0:
            y = 0.0
    return _PM1022 * y


@kernel
def exp(x):
    """glibc 2.36 ``exp(x)`` (x86_64, FMA), bit for bit; scalar form of :func:`exp_into`."""
    if not _special(x):
        tmp, sbits, ki = _exp_core(x)
        scale = _double(sbits)
        return fma(scale, tmp, scale)
    return _exp_special(x)


@kernel
def exp_into(x, out, n):
    """``out[:n] = exp(x[:n])`` (1-D float64 arrays), glibc's values bit for bit.

    One vectorised pass computes the main path for every element and notes whether any lies
    outside ``2^-54 <= |x| < 512``; only then a second pass recomputes those elements.
    """
    special = False
    for j in range(n):
        v = x[j]
        tmp, sbits, ki = _exp_core(v)
        scale = _double(sbits)
        out[j] = fma(scale, tmp, scale)
        special |= _special(v)
    if special:
        for j in range(n):
            if _special(x[j]):
                out[j] = _exp_special(x[j])


# --------------------------------------------------------------------------------------------
# atan: double-double evaluation, rounded; the few elements whose rounding it cannot decide
# are recomputed by the C library (math.atan), so the values are glibc's
# --------------------------------------------------------------------------------------------

_K = 64   # table step 1/64: atan(u) = atan(k/64) + atan((u - k/64)/(1 + u k/64))


def _atan_decimal(x: decimal.Decimal, ctx: decimal.Context) -> decimal.Decimal:
    """``atan(x)`` for ``0 <= x <= 1`` (halve the argument 4 times, then the Taylor series)."""
    one = decimal.Decimal(1)
    for _ in range(4):                      # atan x = 2 atan(x / (1 + sqrt(1 + x^2)))
        x = ctx.divide(x, ctx.add(one, ctx.sqrt(ctx.add(one, ctx.multiply(x, x)))))
    x2, term, total, n = ctx.multiply(x, x), x, x, 1
    while abs(term) > decimal.Decimal(10) ** -60:
        term = ctx.multiply(-term, x2)
        n += 2
        total = ctx.add(total, ctx.divide(term, n))
    return ctx.multiply(total, 16)


def _atan_table() -> tuple[np.ndarray, np.ndarray, float, float]:
    """``atan(k/64)`` for ``k = 0..64`` and ``pi/2`` as double-double (hi, lo) pairs."""
    ctx = decimal.Context(prec=70)
    hi = np.empty(_K + 1)
    lo = np.empty(_K + 1)
    for k in range(_K + 1):
        v = _atan_decimal(ctx.divide(decimal.Decimal(k), _K), ctx)
        hi[k] = float(v)
        lo[k] = float(ctx.subtract(v, decimal.Decimal(hi[k])))
    pio2 = ctx.multiply(_atan_decimal(decimal.Decimal(1), ctx), 2)
    pio2_hi = float(pio2)
    return hi, lo, pio2_hi, float(ctx.subtract(pio2, decimal.Decimal(pio2_hi)))


_ATAN_HI, _ATAN_LO, _PIO2_HI, _PIO2_LO = _atan_table()
_THIRD = -1.0 / 3.0
_TINY = 2.0 ** -960
# glibc 2.36 atan (IBM s_atan.c without its slow paths): below 1.290e-8 it returns x, from
# 5.805e15 on +-pi/2 (its constants A, E); in between it states a maximum error per range of
# |x| -- 0.511 ulp below 1/16, 0.56 ulp in [1/16, 1), 0.503 in [1, 16), 0.5003 above.
_ATAN_A = float.fromhex("0x1.bb67ap-27")
_ATAN_E = float.fromhex("0x1.49ff2p+52")
_H1, _H2, _H3, _H4 = (0.5 - 2.0 ** -e for e in (6, 4, 8, 11))   # 1/2 - m per range


@kernel(inline="always")
def _atan_dd(t):
    """``atan(t)`` rounded to nearest, or NaN where glibc might round differently: branch-free,
    vectorisable.

    The double-double value ``hi + lo`` (error below 2^-13 ulp; measured: at most 2^-14.2
    against mpmath on 180k inputs, the largest where ``|t| < 1/128``) is rounded to ``hi``.
    Where ``|lo|`` is below ``(1/2 - m) ulp``, glibc's result, off the true value by at most
    its stated error ``1/2 + e`` ulp (above), can only be ``hi`` when ``m > e + 2^-13``:
    ``m`` = 2^-6, 2^-4, 2^-8, 2^-11 in its four ranges (the least slack, 2^-12.4, above 16). Elsewhere (about ``2 m`` of the elements),
    at powers of two, results below 2^-960 and NaN input the value is NaN, for the caller to
    ask ``math.atan``. Below glibc's ``A`` the result is ``t``, from its ``E`` on ``+-pi/2``.

    ``u = |t|`` or ``1/|t|`` (as ``uh + ul``, for ``|t| > 1``: ``atan = pi/2 - atan(1/|t|)``),
    ``k = round(64 u)``, ``z = (u - k/64)/(1 + u k/64)`` (``|z| <= 1/128``, double-double),
    ``atan(u) = atan(k/64) + z + z^3 (-1/3 + z^2/5 - z^4/7 + z^6/9)``.
    """
    a = abs(t)
    big = a > 1.0
    uh = 1.0 / a if big else a
    ul = fma(-uh, a, 1.0) * uh if big else 0.0   # (1 - uh a)/a to 2^-50 relative
    ul = 0.0 if a == np.inf else ul
    kd = uh * _K + _SHIFT                     # k = 64 u rounded to an integer (0..64)
    k = _bits(kd) & 0x7F
    c = (kd - _SHIFT) * (1.0 / _K)
    nh = uh - c                               # exact (Sterbenz, or c = 0)
    n = nh + ul
    nl = ul - (n - nh)
    ph = uh * c                               # 1 + u c as dh + dl
    pl = fma(uh, c, -ph) + ul * c
    dh = 1.0 + ph
    dl = (ph - (dh - 1.0)) + pl
    rd = 1.0 / dh
    zh = n * rd                               # z as zh + zl (zl from the exact residual)
    zl = (fma(-zh, dh, n) - zh * dl + nl) * rd
    z2 = zh * zh
    poly = _THIRD + z2 * (0.2 + z2 * (-1.0 / 7.0 + z2 * (1.0 / 9.0)))
    corr = zl + zh * z2 * poly + _ATAN_LO[k]
    sh = _ATAN_HI[k] + zh                     # two-sum of atan(k/64) and z
    bb = sh - _ATAN_HI[k]
    sl = ((_ATAN_HI[k] - (sh - bb)) + (zh - bb)) + corr
    if big:                                   # pi/2 - (sh + sl)
        rh = _PIO2_HI - sh
        rl = ((_PIO2_HI - rh) - sh) + (_PIO2_LO - sl)
    else:
        rh = sh
        rl = sl
    hi = rh + rl                              # rounded result
    lo = rl - (hi - rh)
    e = _bits(hi) & 0x7FF0000000000000
    ulp = _double(e - (52 << 52)) if e > (64 << 52) else 1.0
    half = _H1 if a < 0.0625 else (_H2 if a < 1.0 else (_H3 if a < 16.0 else _H4))
    ok = (abs(lo) < half * ulp) & ((_bits(hi) & 0xFFFFFFFFFFFFF) != 0) & (abs(hi) > _TINY)
    res = hi if ok else np.nan
    res = _PIO2_HI if a >= _ATAN_E else res
    res = -res if t < 0 else res
    return t if a < _ATAN_A else res


@kernel
def atan(t):
    """glibc's ``atan(t)``: :func:`_atan_dd`, or ``math.atan`` where it cannot decide."""
    r = _atan_dd(t)
    return math.atan(t) if r != r else r


@kernel
def atan_into(x, out, n):
    """``out[:n] = atan(x[:n])`` (1-D float64, ``out`` not ``x``): glibc's values.

    A vectorised pass (:func:`_atan_dd`), then ``math.atan`` for the undecided elements
    (marked NaN by the first pass; about 6 % of Sobel ratios).
    """
    for j in range(n):
        out[j] = _atan_dd(x[j])
    for j in range(n):
        if out[j] != out[j]:
            out[j] = math.atan(x[j])
