"""Compiled kernels for :mod:`fusionbench.methods._filters` (issue 22: Hybrid-MSD speed).

Imported lazily, inside the filter functions (importing numba costs ~0.5 s). Each kernel
repeats, operation for operation, the arithmetic of the code it replaces, so its outputs are
bit-identical (``fusionbench._jit.kernel``: IEEE order, no fused multiply-add):

* :func:`correlate_sym_rows` / :func:`correlate_sym_cols` -- ``scipy.ndimage.correlate1d``
  with an odd symmetric kernel ``w`` of half-width ``c``: ``NI_Correlate1D`` of
  ``scipy/ndimage/src/ni_filters.c`` computes each output sample as ``o = x[i] * w[c]`` and
  then, for ``k = c, c-1, ..., 1`` (outermost pair first), ``o += (x[i-k] + x[i+k]) * w[c-k]``
  (the left-hand weight), samples outside the line taken from the border extension. Here
  the loops run over a whole line of outputs at once (innermost over the contiguous axis, so
  LLVM vectorises them), each output still accumulating in exactly that order.
* :func:`bilateral_sweep` -- the splat, the six blur passes and the trilinear slicing of
  ``fast_blf.h`` (Paris--Durand, ``early_division=false``) in one sweep along the grid's y axis.
"""
from __future__ import annotations

import numpy as np

from fusionbench._jit import kernel

__all__ = ["correlate_sym_rows", "correlate_sym_cols"]


@kernel
def _pairs4(o, l1, h1, l2, h2, l3, h3, l4, h4, w1, w2, w3, w4):
    """Four consecutive pair terms added into ``o`` in their order: one pass over ``o``."""
    for j in range(o.shape[0]):
        o[j] = (((o[j] + (l1[j] + h1[j]) * w1) + (l2[j] + h2[j]) * w2)
                + (l3[j] + h3[j]) * w3) + (l4[j] + h4[j]) * w4


@kernel
def _pair(o, lo, hi, wk):
    for j in range(o.shape[0]):
        o[j] += (lo[j] + hi[j]) * wk


@kernel
def correlate_sym_rows(x, src, w, out):
    """Symmetric correlation along axis 1 (the contiguous one) of a 2-D float64 array.

    ``src[p]`` is the column of ``x`` at padded position ``p`` (output column ``j`` is centred
    on ``p = j + c``, ``c = len(w) // 2``): the border extension as an index map. ``out`` (the
    shape of ``x``) receives the result. Views start at 0 (no negative-index wraparound in the
    loops, which would stop vectorisation).
    """
    h, n = x.shape
    c = w.shape[0] // 2
    line = np.empty(n + 2 * c)
    for i in range(h):
        for p in range(n + 2 * c):               # the line buffer with its extension
            line[p] = x[i, src[p]]
        o = out[i]
        mid = line[c:c + n]
        for j in range(n):
            o[j] = mid[j] * w[c]
        k = c                                    # outermost pair first, as NI_Correlate1D
        while k >= 4:
            _pairs4(o, line[c - k:c - k + n], line[c + k:c + k + n],
                    line[c - k + 1:c - k + 1 + n], line[c + k - 1:c + k - 1 + n],
                    line[c - k + 2:c - k + 2 + n], line[c + k - 2:c + k - 2 + n],
                    line[c - k + 3:c - k + 3 + n], line[c + k - 3:c + k - 3 + n],
                    w[c - k], w[c - k + 1], w[c - k + 2], w[c - k + 3])
            k -= 4
        while k >= 1:
            _pair(o, line[c - k:c - k + n], line[c + k:c + k + n], w[c - k])
            k -= 1


@kernel
def correlate_sym_cols(x, src, w, out):
    """Symmetric correlation along axis 0 of a C-contiguous 2-D float64 array.

    ``src[p]`` is the row of ``x`` at padded position ``p`` (output row ``i`` is centred on
    ``p = i + c``); each output row is accumulated from whole input rows.
    """
    h = x.shape[0]
    c = w.shape[0] // 2
    for i in range(h):
        o = out[i]
        mid = x[src[i + c]]
        for j in range(o.shape[0]):
            o[j] = mid[j] * w[c]
        k = c                                    # outermost pair first, as NI_Correlate1D
        while k >= 4:
            _pairs4(o, x[src[i + c - k]], x[src[i + c + k]],
                    x[src[i + c - k + 1]], x[src[i + c + k - 1]],
                    x[src[i + c - k + 2]], x[src[i + c + k - 2]],
                    x[src[i + c - k + 3]], x[src[i + c + k - 3]],
                    w[c - k], w[c - k + 1], w[c - k + 2], w[c - k + 3])
            k -= 4
        while k >= 1:
            _pair(o, x[src[i + c - k]], x[src[i + c + k]], w[c - k])
            k -= 1
