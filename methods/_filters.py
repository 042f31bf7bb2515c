"""Private filters shared by the classic baselines (``gff``, ``hybrid_msd``).

Each helper reproduces the numerics of a specific piece of MATLAB/C++ reference code:

* :func:`matlab_gaussian` -- ``fspecial('gaussian', [n n], sigma)`` as its separable 1-D
  factor (the metrics' :func:`~fusionbench.metrics._matlab.gaussian_1d`).
* :func:`imfilter` -- ``imfilter(x, h, 'replicate' | 'symmetric')`` for a separable odd
  kernel (correlation, output the size of the input, double precision).
* :func:`box_sum` -- the cumulative-sum box filter ``boxfilter.m`` of He et al.'s guided
  filter code (the window is truncated at the border, i.e. zero padding), with the same
  sequence of floating-point operations.
* :func:`guided_filter` -- ``guidedfilter.m`` (He, Sun, Tang), gray guide.
* :func:`fast_bilateral` -- Paris & Durand's fast bilateral filter as compiled from
  ``fast_blf.cpp`` / ``fast_blf.h`` (Hybrid-MSD, VIFB distribution): nearest-cell splatting
  into a down-sampled (x, y, intensity) grid, three ``[1 2 1]/4`` passes twice per axis with
  zero borders, trilinear slicing with single-precision weights, late division (bit-identical
  to a loop transcription of the C++; built one grid row at a time to stay in cache).

All images are float64 ``(H, W)``; nothing here loops over pixels in Python.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from fusionbench.metrics._matlab import gaussian_1d

_MODES = {"replicate": "nearest", "symmetric": "reflect"}


def matlab_gaussian(size: int, sigma: float) -> np.ndarray:
    """1-D factor ``g`` of MATLAB ``fspecial('gaussian', [size size], sigma)`` (= ``outer(g, g)``
    to <= 3e-17 per tap): :func:`fusionbench.metrics._matlab.gaussian_1d`, for odd sizes.

    For the kernels used here (half-width ``w <= 3 sigma``) ``fspecial``'s ``eps * max``
    cut-off zeroes nothing; a window where it would (half-width above ~6 sigma) is refused.
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"matlab_gaussian: odd positive size required, got {size}")
    return gaussian_1d(size, sigma)


def _border_index(n: int, c: int, mode: str) -> np.ndarray:
    """Sample of a length-``n`` line read at padded positions ``-c .. n + c - 1``: ndimage's
    ``'nearest'`` (clamp) or ``'reflect'`` (``dcba|abcd|dcba``, repeated for any width)."""
    p = np.arange(-c, n + c)
    if mode == "nearest":
        return np.clip(p, 0, n - 1)
    m = p % (2 * n)
    return np.where(m >= n, 2 * n - 1 - m, m)


def _is_symmetric(g: np.ndarray) -> bool:
    """``NI_Correlate1D``'s symmetry test: odd size, mirrored taps within ``DBL_EPSILON``."""
    c = g.size // 2
    return g.size % 2 == 1 and bool(np.all(np.abs(g[c + 1:] - g[:c][::-1]) <= np.finfo(np.float64).eps))


def correlate1d(x: np.ndarray, g: np.ndarray, axis: int, mode: str) -> np.ndarray:
    """``scipy.ndimage.correlate1d(x, g, axis, mode=mode)`` (2-D float64, ``mode`` ``'nearest'``
    or ``'reflect'``), bit for bit; a symmetric odd ``g`` goes through the compiled kernels of
    :mod:`~fusionbench.methods._filter_kernels` (same sums in the same order as scipy's C
    code, 3-6x faster at 640x480), anything else through scipy itself."""
    g = np.asarray(g, np.float64)
    if x.ndim != 2 or x.dtype != np.float64 or g.ndim != 1 or not _is_symmetric(g):
        return ndimage.correlate1d(x, g, axis=axis, mode=mode)
    from fusionbench.methods import _filter_kernels as kern

    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    c = g.size // 2
    if axis in (1, -1):
        kern.correlate_sym_rows(x, _border_index(x.shape[1], c, mode), g, out)
    else:
        kern.correlate_sym_cols(x, _border_index(x.shape[0], c, mode), g, out)
    return out


def imfilter(x: np.ndarray, g: np.ndarray, border: str) -> np.ndarray:
    """``imfilter(x, outer(g, g), border)`` for an odd symmetric 1-D factor ``g``.

    ``border`` is ``'replicate'`` (edge value repeated) or ``'symmetric'`` (mirror including
    the edge sample, MATLAB ``padarray(..., 'symmetric')``; any pad width). Computed as
    ``scipy.ndimage.correlate1d`` along axis 0, then axis 1 (:func:`correlate1d`, the same
    bits).
    """
    mode = _MODES[border]
    if g.size == 1:
        return np.asarray(x, np.float64) * g[0]
    y = correlate1d(np.asarray(x, np.float64), g, 0, mode)
    return correlate1d(y, g, 1, mode)


def imfilter2(x: np.ndarray, h: np.ndarray, border: str) -> np.ndarray:
    """``imfilter(x, h, border)`` for a small non-separable odd kernel ``h`` (correlation)."""
    return ndimage.correlate(np.asarray(x, np.float64), np.asarray(h, np.float64), mode=_MODES[border])


def _box_sum_rows(x: np.ndarray, r: int) -> np.ndarray:
    """Window sums of radius ``r`` down the rows via one cumulative sum, as ``boxfilter.m``.

    ``out[i] = c[min(i + r, n - 1)] - c[i - r - 1]`` (the second term absent for ``i <= r``),
    ``c = cumsum(x)``: the three index ranges of the MATLAB code, same subtractions.
    """
    n = x.shape[0]
    c = np.cumsum(x, axis=0)
    out = np.empty_like(c)
    k = max(n - r, 0)
    out[:k] = c[r:]
    out[k:] = c[n - 1]
    if n > r + 1:
        out[r + 1:] -= c[:n - r - 1]
    return out


def box_sum(x: np.ndarray, r: int) -> np.ndarray:
    """``boxfilter(x, r)``: sum over the ``(2r+1)^2`` window clipped to the image (rows first)."""
    return _box_sum_rows(_box_sum_rows(np.asarray(x, np.float64), r).T, r).T


def guided_filter(guide: np.ndarray, p: np.ndarray, r: int, eps: float) -> np.ndarray:
    """He et al.'s ``guidedfilter(I, p, r, eps)`` (gray guide), same operation order."""
    n = box_sum(np.ones_like(guide), r)
    mean_i = box_sum(guide, r) / n
    mean_p = box_sum(p, r) / n
    mean_ip = box_sum(guide * p, r) / n
    cov_ip = mean_ip - mean_i * mean_p
    mean_ii = box_sum(guide * guide, r) / n
    var_i = mean_ii - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    mean_a = box_sum(a, r) / n
    mean_b = box_sum(b, r) / n
    return mean_a * guide + mean_b


_SLICE_PIXELS = 16384   # pixels per slicing block (its work arrays, ~0.6 MB, stay in L2/L3 cache)


def _pass(lo: np.ndarray, c: np.ndarray, hi: np.ndarray, out: np.ndarray, tmp: np.ndarray,
          scale: bool) -> None:
    """``out = ((lo + hi) + (c + c)) * 0.25``: one ``fast_blf.h`` blur step with its roundings.

    The C++ computes ``(l + r + 2 c) / 4``; ``c + c`` and ``* 0.25`` are exact, so the two
    additions round exactly as there. ``scale=False`` leaves out the ``* 0.25``: the result is
    then exactly 4 times the C++ one as long as no value is subnormal or overflows.
    """
    np.add(lo, hi, out=out)
    np.add(c, c, out=tmp)
    out += tmp
    if scale:
        out *= 0.25


def _splat_blur(a: np.ndarray, z: np.ndarray, sigma_s: float, sigma_r: float,
                shape: tuple[int, int, int], scale: bool = True) -> np.ndarray:
    """Splatted and blurred grid of ``fast_blf.h``, built one grid y-row at a time.

    Returns the ``(Y, X, Z, 2)`` float64 grid of (value, weight) pairs (``shape = (Y, X, Z)``)
    after the splat and the two ``[1 2 1]/4`` passes along x, then y, then z, each on the
    interior only (every border face stays 0), bit-identical to the C++.

    The passes along x and z stay inside one y-row (``X * Z * 2`` doubles, ~120 kB here), the
    y passes need three consecutive rows, so the grid is swept once along y: row ``j + 2`` is
    splatted and x-blurred, row ``j + 1`` gets the first y pass, row ``j`` the second y pass
    and both z passes and is written out; the rows in flight stay in cache (a pass over the
    whole 30 MB grid would stream it through memory six times). Splat: the pixels of one
    grid row are fed to ``np.bincount`` in x-major order, the order in which the C++ loops
    accumulate them into a cell (pixels of different grid rows never share a cell).
    In a row, x is the flat stride ``2 Z``: ``[2Z, n - 2Z)`` is exactly the x interior. z is
    stride 2: the cells at ``z = 0, Z - 1`` read a neighbour of the next column and are reset.
    ``scale=False`` leaves out the six ``/ 4`` (see :func:`_pass`): the grid is then exactly
    ``4**6`` times the C++ one, given no subnormal or overflowing value.
    """
    sh, sw, sd = shape
    h, w = a.shape
    n = sw * sd * 2                      # one grid y-row: (X, Z, value/weight)
    kx = 2 * sd
    cy = (np.arange(h, dtype=np.float64) / sigma_s + 0.5).astype(np.int64) + 2
    cx = (np.arange(w, dtype=np.float64) / sigma_s + 0.5).astype(np.int64) + 2
    loc = cx * sd + (z / sigma_r + 0.5).astype(np.int64) + 2          # cell within its y-row
    first = np.searchsorted(cy, np.arange(sh + 1))                     # pixel rows of grid row j
    grid = np.empty((sh, n))
    grid[0] = 0.0
    grid[-1] = 0.0
    xrow = np.zeros((3, n))              # rows after the x passes, slot j % 3
    yrow = np.zeros((3, n))              # rows after the first y pass, slot j % 3
    cell, xbuf, zbuf, y2 = np.zeros(n), np.zeros(n), np.zeros(n), np.empty(n)
    pair = cell.reshape(-1, 2)
    tmp = np.empty(n)
    zbuf_faces = zbuf.reshape(sw, sd, 2)[:, ::sd - 1]                 # z = 0 and z = Z - 1
    # the (lo, centre, hi, out, tmp) views of every pass, made once
    ix_ = slice(kx, n - kx)
    x1 = (cell[:-2 * kx], cell[ix_], cell[2 * kx:], xbuf[ix_], tmp[ix_], scale)
    x2 = [(xbuf[:-2 * kx], xbuf[ix_], xbuf[2 * kx:], xrow[i][ix_], tmp[ix_], scale) for i in range(3)]
    y1 = [(xrow[i], xrow[(i + 1) % 3], xrow[(i + 2) % 3], yrow[(i + 1) % 3], tmp, scale) for i in range(3)]
    y2_ = [(yrow[(i - 1) % 3], yrow[i], yrow[(i + 1) % 3], y2, tmp, scale) for i in range(3)]
    z1 = (y2[:-4], y2[2:-2], y2[4:], zbuf[2:-2], tmp[2:-2], scale)
    z2 = (zbuf[:-4], zbuf[2:-2], zbuf[4:])

    def splat_x(j: int) -> None:
        y0, y1_ = first[j], first[j + 1]
        if y0 == y1_:                    # no pixel in this grid row (the y faces, ...)
            xrow[j % 3].fill(0.0)
            return
        ids = loc[y0:y1_].T.ravel()
        pair[:, 0] = np.bincount(ids, weights=a[y0:y1_].T.ravel(), minlength=n // 2)
        pair[:, 1] = np.bincount(ids, minlength=n // 2)
        _pass(*x1)
        _pass(*x2[j % 3])

    for j in range(3):
        splat_x(j)
    _pass(*y1[0])
    for j in range(1, sh - 1):
        if j + 1 < sh - 1:
            splat_x(j + 2)
            _pass(*y1[j % 3])
        else:
            yrow[(j + 1) % 3].fill(0.0)  # y face
        _pass(*y2_[j % 3])
        _pass(*z1)
        zbuf_faces[...] = 0.0
        _pass(*z2, grid[j, 2:-2], tmp[2:-2], scale)
    grid = grid.reshape(sh, sw, sd, 2)
    grid[:, :, ::sd - 1] = 0.0           # z faces of every row (also its first and last pair)
    return grid


def fast_bilateral(img: np.ndarray, sigma_s: float, sigma_r: float) -> np.ndarray:
    """Paris--Durand fast bilateral filter exactly as ``fast_blf.cpp`` (gray, ``early_division=false``).

    Parameters
    ----------
    img : float64 ``(H, W)``; the reference code requires values in 0..1.
    sigma_s : spatial sampling rate (pixels per grid cell, also the spatial sigma).
    sigma_r : range sampling rate (intensity units per grid cell).

    Notes
    -----
    Reference: ``fast_blf.cpp`` / ``fast_blf.h`` / ``math_tools.h`` of Sylvain Paris's C++ fast
    bilateral filter, compiled as the MEX behind ``fast_bfilter2.m`` in the Hybrid-MSD code
    (VIFB ``methods/Hybrid_MSD``). Grid ``(X, Y, Z)`` of size ``int((W-1)/s)+5,
    int((H-1)/s)+5, int((max-min)/r)+5`` (padding 2). Each pixel adds ``(value, 1)`` to the
    cell ``(int(x/s+.5)+2, int(y/s+.5)+2, int((v-min)/r+.5)+2)``, accumulated x-major then y
    as the C++ loops do. Each axis in turn gets two passes of ``(l + r + 2c)/4`` on the
    interior (border faces stay 0). The result at a pixel is the trilinear interpolation at
    ``(x/s+2, y/s+2, (v-min)/r+2)`` with float32 fractional weights (``typedef float
    real_type`` in ``math_tools.h``) applied to the double grid, eight terms summed in the C++
    order, then ``value / weight``. The result is bit-identical to a literal transcription of
    the C++ (see the tests).

    Implementation (issue 22; same bits as the whole-grid version of 51ac6d9, checked by
    ``tests/methods/test_hybrid_msd.py`` and ``benchmarks/hybrid_msd_bits.py``): the grid is
    stored ``(Y, X, Z)`` with the (value, weight) pair innermost, so a pixel's eight corners lie
    in four 32-byte runs close together; it is splatted and blurred in one sweep along y
    (:func:`_splat_blur`), with the ``/ 4`` of the passes left out when that is exact (below);
    the slicing runs over blocks of image rows. The layout and the blocking change no
    arithmetic. The corner indices need no clamping: ``int(x/s + 2) <= int((W-1)/s) + 3 =
    X - 2`` (likewise y, z), so ``+1`` stays in the grid. At 640x480 (Hybrid-MSD's four
    levels) this is about 3x faster than the whole-grid version (see
    ``benchmarks/methods.py``).
    """
    a = np.asarray(img, np.float64)
    h, w = a.shape
    vmin, vmax = a.min(), a.max()
    z = a - vmin
    delta = vmax - vmin
    pad = 2
    sw = int((w - 1) / sigma_s) + 1 + 2 * pad
    sh = int((h - 1) / sigma_s) + 1 + 2 * pad
    sd = int(delta / sigma_r) + 1 + 2 * pad
    row = sw * sd                              # cells per grid y-row

    # The passes' "/ 4" are left out when no value can turn subnormal or overflow: every
    # nonzero input is then a multiple of 2^-752 and at most 2^900, every grid value exactly
    # 4^6 times the C++ one (a multiple of 2^-764), every slicing product (float32 weights:
    # multiples of 2^-149) at least 2^-913, so value and weight are both exactly 4^6 times
    # the C++ ones and their ratio is the C++ result. Otherwise (tiny or huge values, NaN)
    # each pass scales as the C++ does.
    tiny = vmin if vmin > 0 else np.abs(a).min(initial=np.inf, where=a != 0)
    scale = not (tiny >= 2.0 ** -700 and max(-vmin, vmax) <= 2.0 ** 900)
    grid = _splat_blur(a, z, sigma_s, sigma_r, (sh, sw, sd), scale)
    # blurred grid as complex (value + i weight): one gather per corner; complex * real and
    # complex + act on the two parts separately with exactly the real roundings
    grid = grid.view(np.complex128).reshape(-1)

    # slice: trilinear interpolation, float32 weights as in Math_tools::trilinear_interpolation,
    # in blocks of image rows so that all the work arrays stay in cache
    fx = np.arange(w, dtype=np.float64) / sigma_s + pad
    fy = np.arange(h, dtype=np.float64) / sigma_s + pad
    ix, iy = fx.astype(np.int64), fy.astype(np.int64)
    one = np.float32(1.0)
    ax = (fx - ix).astype(np.float32)
    ay = (fy - iy).astype(np.float32)[:, None]
    wx, wy = (one - ax, ax), (one - ay, ay)
    col = ix * sd                                # cell offset of each pixel column in a y-row
    # corner (cx, cy, cz) of a pixel: grid[base + cz + cy row + cx sd], gathered through offset
    # views of the grid (no index arithmetic per corner). All indices are in range (see
    # Notes), so mode='wrap' changes nothing; it spares the copy np.take makes of ``out`` in
    # its default mode='raise'
    views = [[[grid[cz_ + cy_ * row + cx_ * sd:] for cx_ in (0, 1)] for cy_ in (0, 1)] for cz_ in (0, 1)]
    out = np.empty((h, w))
    rows = max(1, _SLICE_PIXELS // w)
    acc = np.empty((rows, w), np.complex128)
    term = np.empty_like(acc)
    wt = np.empty((rows, w), np.float32)
    wxy = np.empty((2, 2, rows, w), np.float32)
    for r0 in range(0, h, rows):
        r1 = min(r0 + rows, h)
        m = r1 - r0
        acc_, term_, wt_, wxy_ = acc[:m], term[:m], wt[:m], wxy[:, :, :m]
        fz = z[r0:r1] / sigma_r + pad
        base = fz.astype(np.int64)
        az = (fz - base).astype(np.float32)
        base += (iy[r0:r1] * row)[:, None] + col
        for cy_ in (0, 1):
            for cx_ in (0, 1):
                np.multiply(wx[cx_], wy[cy_][r0:r1], out=wxy_[cy_, cx_])
        first = True
        for cz_, wz in ((0, one - az), (1, az)):
            for cy_ in (0, 1):
                for cx_ in (0, 1):           # x fastest: the order of the C++ sum
                    np.multiply(wxy_[cy_, cx_], wz, out=wt_)
                    views[cz_][cy_][cx_].take(base, out=term_, mode="wrap")
                    if first:
                        np.multiply(term_, wt_, out=acc_)
                        first = False
                    else:
                        term_ *= wt_
                        acc_ += term_
        np.divide(acc_.real, acc_.imag, out=out[r0:r1])
    return out
