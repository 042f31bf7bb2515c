"""Vectorisable transcendental functions for numba kernels (issue 22, private).

A scalar ``math.exp`` inside a compiled loop is a call into the C library per element, which
LLVM cannot vectorise. :func:`exp_into` computes the same values with AVX2 vectors.

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

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from fusionbench._jit import kernel

__all__ = ["fma", "exp", "exp_into"]

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


@intrinsic
def _bits(typingctx, x):
    """The bits of a float64 as int64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _double(typingctx, u):
    """The float64 whose bits are the int64 ``u``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


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
