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

__all__ = ["correlate_sym_rows", "correlate_sym_cols", "bilateral_sweep"]


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


@kernel
def _blur(lo, c, hi, out):
    """One ``fast_blf.h`` blur step, ``out = (lo + hi + 2 c) / 4``, rounded as the C++: the two
    additions in that order (``c + c`` is exact) and ``* 0.25`` (exact, = ``/ 4``)."""
    for i in range(out.shape[0]):
        out[i] = ((lo[i] + hi[i]) + (c[i] + c[i])) * 0.25


@kernel
def _splat_x(a, vmin, sigma_r, y0, y1, cx, row, sd, tmp, xrow):
    """Grid y-row from the pixel rows ``y0 .. y1 - 1``, after the two x passes, into ``xrow``.

    Each pixel adds ``(value, 1)`` to its cell, looping x-major then y like the C++ (pixels of
    different grid rows never share a cell, so per cell this is the C++ order). Then the two
    passes along x on the interior ``x = 1 .. X-2`` (flat stride ``2 Z``; faces stay 0).
    """
    n = row.shape[0]
    kx = 2 * sd
    row[:] = 0.0
    for x in range(a.shape[1]):
        base = cx[x] * kx
        for y in range(y0, y1):
            v = a[y, x]
            k = base + 2 * (int((v - vmin) / sigma_r + 0.5) + 2)
            row[k] += v
            row[k + 1] += 1.0
    _blur(row[:n - 2 * kx], row[kx:n - kx], row[2 * kx:], tmp[kx:n - kx])
    _blur(tmp[:n - 2 * kx], tmp[kx:n - kx], tmp[2 * kx:], xrow[kx:n - kx])


@kernel
def _blur_yz(y1a, y1b, y1c, sd, col, zcol, grow):
    """Second y pass of one grid row (from its three first-pass rows), then its two z passes
    (interior ``z = 1 .. Z-2``, stride 2; z faces stay 0), column by column, into ``grow``."""
    kx = 2 * sd
    for x in range(y1b.shape[0] // kx):
        s = x * kx
        _blur(y1a[s:s + kx], y1b[s:s + kx], y1c[s:s + kx], col)
        _blur(col[:kx - 4], col[2:kx - 2], col[4:], zcol[2:kx - 2])
        _blur(zcol[:kx - 4], zcol[2:kx - 2], zcol[4:], grow[s + 2:s + kx - 2])


@kernel
def _slice_row(a, y, vmin, sigma_r, g0, g1, wy0, wy1, ix, wx0, wx1, sd, out):
    """Trilinear interpolation of pixel row ``y`` between grid rows ``g0`` (its ``iy``) and
    ``g1`` (``iy + 1``), as ``Math_tools::trilinear_interpolation``: float32 weights
    ``(wx * wy) * wz``, the eight terms summed z, then y, then x outermost to innermost
    (x fastest) from ``term * weight``, value and weight alike; then ``value / weight``."""
    one = np.float32(1.0)
    kx = 2 * sd
    for x in range(a.shape[1]):
        fz = (a[y, x] - vmin) / sigma_r + 2.0
        bz = int(fz)
        az = np.float32(fz - bz)
        wz0 = one - az
        k0 = ix[x] * kx + 2 * bz               # corner (x, y, z) = (0, 0, 0) in a grid row
        k1 = k0 + kx                           # x + 1
        w00, w01 = wx0[x] * wy0, wx1[x] * wy0  # float32 (x, y) weights: [y][x]
        w10, w11 = wx0[x] * wy1, wx1[x] * wy1
        t = np.float64(w00 * wz0)
        v, wt = g0[k0] * t, g0[k0 + 1] * t
        t = np.float64(w01 * wz0)
        v += g0[k1] * t
        wt += g0[k1 + 1] * t
        t = np.float64(w10 * wz0)
        v += g1[k0] * t
        wt += g1[k0 + 1] * t
        t = np.float64(w11 * wz0)
        v += g1[k1] * t
        wt += g1[k1 + 1] * t
        t = np.float64(w00 * az)
        v += g0[k0 + 2] * t
        wt += g0[k0 + 3] * t
        t = np.float64(w01 * az)
        v += g0[k1 + 2] * t
        wt += g0[k1 + 3] * t
        t = np.float64(w10 * az)
        v += g1[k0 + 2] * t
        wt += g1[k0 + 3] * t
        t = np.float64(w11 * az)
        v += g1[k1 + 2] * t
        wt += g1[k1 + 3] * t
        out[y, x] = v / wt


@kernel
def bilateral_sweep(a, vmin, sigma_s, sigma_r, sh, sw, sd, out):
    """``fast_blf.h`` (gray, ``early_division=false``) on ``a`` into ``out``, in one sweep.

    The grid (rows of ``(X, Z, value/weight)``, ``sh`` rows along y) is never held whole:
    at step ``j`` grid row ``j`` is splatted and x-blurred, row ``j - 1`` gets the first y pass,
    row ``j - 2`` the second y pass and both z passes, and the pixel rows whose grid row
    ``iy = int(y/s + 2)`` is ``j - 3`` are sliced (they read rows ``iy`` and ``iy + 1``).
    Rings of 3 (x-blurred, first y pass) and 2 (final) rows stay in cache. Border faces are 0
    throughout, as in the C++ (whose passes write the interior only).
    """
    h, w = a.shape
    n = sw * sd * 2
    kx = 2 * sd
    xr = np.zeros((3, n))                    # rows after the x passes, slot j % 3
    yr = np.zeros((3, n))                    # rows after the first y pass, slot j % 3
    gr = np.zeros((2, n))                    # finished rows, slot j % 2
    cell = np.zeros(n)
    tmp = np.zeros(n)
    col = np.zeros(kx)
    zcol = np.zeros(kx)
    cx = np.empty(w, np.int64)
    ix = np.empty(w, np.int64)
    wx0 = np.empty(w, np.float32)
    wx1 = np.empty(w, np.float32)
    one = np.float32(1.0)
    for x in range(w):
        cx[x] = int(x / sigma_s + 0.5) + 2
        fx = x / sigma_s + 2.0
        ix[x] = int(fx)
        wx1[x] = np.float32(fx - ix[x])
        wx0[x] = one - wx1[x]
    ys = 0                                   # next pixel row to splat
    yq = 0                                   # next pixel row to slice
    for j in range(sh + 1):
        if j < sh:                           # splat + x passes of row j (rows without pixels: 0)
            y0 = ys
            while ys < h and int(ys / sigma_s + 0.5) + 2 == j:
                ys += 1
            _splat_x(a, vmin, sigma_r, y0, ys, cx, cell, sd, tmp, xr[j % 3])
        if 2 <= j < sh:                      # first y pass of row j - 1
            _blur(xr[(j - 2) % 3], xr[(j - 1) % 3], xr[j % 3], yr[(j - 1) % 3])
        if j == sh:                          # y face
            yr[(j - 1) % 3, :] = 0.0
        if 3 <= j:                           # row g = j - 2 finished
            g = j - 2
            _blur_yz(yr[(g - 1) % 3], yr[g % 3], yr[(g + 1) % 3], sd, col, zcol, gr[g % 2])
            yq = _slice_rows(a, vmin, sigma_s, sigma_r, g - 1, gr[(g - 1) % 2], gr[g % 2], ix, wx0, wx1, sd,
                             yq, out)
    gr[(sh - 1) % 2, :] = 0.0                # y face: pixel rows with iy = sh - 2 (rounding)
    yq = _slice_rows(a, vmin, sigma_s, sigma_r, sh - 2, gr[sh % 2], gr[(sh - 1) % 2], ix, wx0, wx1, sd, yq, out)
    if yq != h:                              # cannot happen (2 <= iy <= sh - 2): never return unset rows
        raise RuntimeError("bilateral_sweep: pixel rows left unsliced")


@kernel
def _slice_rows(a, vmin, sigma_s, sigma_r, iy, g0, g1, ix, wx0, wx1, sd, y, out):
    """Slice the pixel rows from ``y`` on whose grid row ``int(y/s + 2)`` is ``iy``; returns the
    next row."""
    one = np.float32(1.0)
    h = a.shape[0]
    while y < h:
        fy = y / sigma_s + 2.0
        if int(fy) != iy:
            break
        wy1 = np.float32(fy - iy)
        _slice_row(a, y, vmin, sigma_r, g0, g1, one - wy1, wy1, ix, wx0, wx1, sd, out)
        y += 1
    return y
