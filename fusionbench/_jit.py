"""Compiled kernels: one numba configuration for every hand-written loop the project needs.

Only for what no library computes in the order an original needs (a script's float32 tap
order, per-window scalar work that numpy would spread over dozens of whole-array passes).
Import this module lazily, inside the function that needs a kernel: importing numba costs
about 0.5 s, which ``fusionbench --help`` and metrics without kernels must not pay.

Conventions: ``cache=True`` (compiled once per machine, into ``__pycache__`` beside the source
or numba's user cache when that is read-only), ``fastmath=False`` (IEEE semantics: no
reassociation and no fused multiply-add, so the arithmetic order written is the order run),
``error_model='numpy'`` (division by zero gives inf/nan as numpy does), one thread.
:func:`float_bits` / :func:`bits_float` reinterpret a float64 as int64 and back (for kernels that
reproduce a C library's bit manipulations).
"""
from __future__ import annotations

import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["kernel", "float_bits", "bits_float"]


def kernel(fn=None, **options):
    """``numba.njit`` with the project's options (above); ``options`` override them."""
    opts = {"cache": True, "fastmath": False, "error_model": "numpy", "nogil": True, **options}
    if fn is None:
        return lambda f: numba.njit(**opts)(f)
    return numba.njit(**opts)(fn)


@intrinsic
def float_bits(typingctx, x):
    """The int64 bit pattern of a float64 (an LLVM bitcast; vectorises)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def bits_float(typingctx, u):
    """The float64 whose bit pattern is the int64 ``u`` (an LLVM bitcast)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen
