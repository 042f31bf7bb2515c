"""Compiled kernels: one numba configuration for every hand-written loop the project needs.

Only for what no library computes in the order an original needs (a script's float32 tap
order, per-window scalar work that numpy would spread over dozens of whole-array passes).
Import this module lazily, inside the function that needs a kernel: importing numba costs
about 0.5 s, which ``fusionbench --help`` and metrics without kernels must not pay.

Conventions: ``cache=True`` (compiled once per machine, into ``__pycache__`` beside the source
or numba's user cache when that is read-only), ``fastmath=False`` (IEEE semantics: no
reassociation and no fused multiply-add, so the arithmetic order written is the order run),
``error_model='numpy'`` (division by zero gives inf/nan as numpy does), one thread.
"""
from __future__ import annotations

import numba

__all__ = ["kernel"]


def kernel(fn=None, **options):
    """``numba.njit`` with the project's options (above); ``options`` override them."""
    opts = {"cache": True, "fastmath": False, "error_model": "numpy", "nogil": True, **options}
    if fn is None:
        return lambda f: numba.njit(**opts)(f)
    return numba.njit(**opts)(fn)
