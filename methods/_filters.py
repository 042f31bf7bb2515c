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
  zero borders, trilinear slicing with single-precision weights, late division.

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


def imfilter(x: np.ndarray, g: np.ndarray, border: str) -> np.ndarray:
    """``imfilter(x, outer(g, g), border)`` for an odd symmetric 1-D factor ``g``.

    ``border`` is ``'replicate'`` (edge value repeated) or ``'symmetric'`` (mirror including
    the edge sample, MATLAB ``padarray(..., 'symmetric')``; any pad width).
    """
    mode = _MODES[border]
    if g.size == 1:
        return np.asarray(x, np.float64) * g[0]
    y = ndimage.correlate1d(np.asarray(x, np.float64), g, axis=0, mode=mode)
    return ndimage.correlate1d(y, g, axis=1, mode=mode)


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


_BLOCK = 16384          # elements per ufunc call in the grid passes (3 such blocks stay in L2)


def _blur_passes(grid: np.ndarray) -> np.ndarray:
    """Two ``((l + r) + 2c) / 4`` passes per grid axis, x then y then z; faces kept 0.

    ``grid`` is the ``(Y, X, Z, 2)`` float64 C-contiguous grid of (value, weight) pairs, all
    border faces 0 (as the splat leaves them); it is used as a work buffer. ``fast_blf.h``
    only writes the interior cells, so the faces stay zero after every pass.

    A pass along an axis of flat stride ``k`` is ``o[i] = ((g[i-k] + g[i+k]) + (g[i] + g[i])) *
    0.25`` over the flat range ``k .. n-k``, in blocks of :data:`_BLOCK` elements (four ufunc
    calls per block, in cache). That is the C++ sum with the C++ roundings (``2c`` and ``/4``
    are exact), so every cell is bit-identical to ``fast_blf.h``. The flat offsets wrap into
    the next row only for cells on a face of the pass axis; those cells are reset to 0 after
    the pass (the y faces lie outside the flat range). Cells on the faces of the other axes
    read only zeros and stay 0.
    """
    shape = grid.shape
    src = grid.reshape(-1)
    dst = np.zeros_like(src)             # ping-pong buffer; its unwritten head/tail are y faces
    tmp = np.empty(min(_BLOCK, src.size))
    n = src.size
    for axis, k in ((1, shape[2] * shape[3]), (0, shape[1] * shape[2] * shape[3]), (2, shape[3])):
        for _ in range(2):
            for a in range(k, n - k, _BLOCK):
                b = min(a + _BLOCK, n - k)
                o, c, t = dst[a:b], src[a:b], tmp[:b - a]
                np.add(src[a - k:b - k], src[a + k:b + k], out=o)
                np.add(c, c, out=t)
                o += t
                o *= 0.25
            out = dst.reshape(shape)
            if axis == 1:
                out[:, 0] = 0.0
                out[:, -1] = 0.0
            elif axis == 2:
                out[:, :, 0] = 0.0
                out[:, :, -1] = 0.0
            src, dst = dst, src
    return src.reshape(shape)


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

    Here the grid is stored ``(Y, X, Z)`` with the (value, weight) pair innermost: a pixel's
    eight corners then lie in four 32-byte runs close together, which keeps the slicing
    gathers in cache; the layout changes no arithmetic. The corner indices need no clamping:
    ``int(x/s + 2) <= int((W-1)/s) + 3 = X - 2`` (likewise y, z), so ``+1`` stays in the grid.
    """
    a = np.asarray(img, np.float64)
    h, w = a.shape
    vmin = a.min()
    z = a - vmin
    delta = a.max() - vmin
    pad = 2
    sw = int((w - 1) / sigma_s) + 1 + 2 * pad
    sh = int((h - 1) / sigma_s) + 1 + 2 * pad
    sd = int(delta / sigma_r) + 1 + 2 * pad
    row = sw * sd                              # cells per grid y-row

    xs = np.arange(w, dtype=np.float64)
    ys = np.arange(h, dtype=np.float64)
    # splat, fed in x-major order (as the C++ loops) so bincount accumulates in the same order
    cx = ((xs / sigma_s + 0.5).astype(np.int64) + pad)[:, None]
    cy = ((ys / sigma_s + 0.5).astype(np.int64) + pad)[None, :]
    cz = (z.T / sigma_r + 0.5).astype(np.int64) + pad
    lin = (cy * row + cx * sd + cz).ravel()
    # (value, weight) interleaved: bins 2 i and 2 i + 1 of one bincount (values in pixel order)
    idx = np.concatenate((2 * lin, 2 * lin + 1))
    wts = np.concatenate((a.T.ravel(), np.ones(lin.size)))
    cells = np.bincount(idx, weights=wts, minlength=2 * sh * row).reshape(sh, sw, sd, 2)
    # blurred grid as complex (value + i weight): one gather per corner; complex * real and
    # complex + act on the two parts separately with exactly the real roundings
    grid = _blur_passes(cells).view(np.complex128).reshape(-1)

    # slice: trilinear interpolation, float32 weights as in Math_tools::trilinear_interpolation
    fx = xs / sigma_s + pad
    fy = ys / sigma_s + pad
    fz = z / sigma_r + pad                      # (H, W)
    ix, iy, iz = fx.astype(np.int64), fy.astype(np.int64), fz.astype(np.int64)
    one = np.float32(1.0)
    ax = (fx - ix).astype(np.float32)
    ay = (fy - iy).astype(np.float32)[:, None]
    az = (fz - iz).astype(np.float32)
    wx = (one - ax, ax)
    wxy = [[wx[cx_] * wy for cx_ in (0, 1)] for wy in (one - ay, ay)]      # float32 (H, W)
    base = iz
    base += (iy * row)[:, None] + ix * sd
    # corner (cx, cy, cz) of every pixel: grid[base + cz + cy row + cx sd], gathered through
    # offset views of the grid (no index arithmetic); blocks of rows keep the work in cache
    views = [[[grid[cz_ + cy_ * row + cx_ * sd:] for cx_ in (0, 1)] for cy_ in (0, 1)] for cz_ in (0, 1)]
    out = np.empty((h, w))
    rows = max(1, _BLOCK // (2 * w))
    acc = np.empty((rows, w), np.complex128)
    term = np.empty_like(acc)
    wt = np.empty((rows, w), np.float32)
    for r0 in range(0, h, rows):
        r1 = min(r0 + rows, h)
        m = r1 - r0
        acc_, term_, wt_, idx = acc[:m], term[:m], wt[:m], base[r0:r1]
        first = True
        for cz_, wz in ((0, one - az[r0:r1]), (1, az[r0:r1])):
            for cy_ in (0, 1):
                for cx_ in (0, 1):           # x fastest: the order of the C++ sum
                    np.multiply(wxy[cy_][cx_][r0:r1], wz, out=wt_)
                    np.take(views[cz_][cy_][cx_], idx, out=term_)
                    if first:
                        np.multiply(term_, wt_, out=acc_)
                        first = False
                    else:
                        term_ *= wt_
                        acc_ += term_
        np.divide(acc_.real, acc_.imag, out=out[r0:r1])
    return out
