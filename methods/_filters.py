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


_TAPS = np.array([0.25, 0.5, 0.25])


def _blur_passes(grid: np.ndarray) -> np.ndarray:
    """Two ``(left + right + 2 centre) / 4`` passes per grid axis, x then y then z; faces kept 0.

    ``grid`` is laid out ``(Z, Y, X)`` (x contiguous). ``fast_blf.h`` only writes the interior
    cells, so the border faces of the grid stay zero after every pass. Here each pass is
    ``correlate1d`` with ``[1/4, 1/2, 1/4]`` and zero padding, then the two faces along that
    axis are reset to 0. SciPy evaluates a symmetric 3-tap kernel as ``c/2 + (l + r)/4``, which
    rounds exactly like the C++ ``((l + r) + 2c) / 4`` (scaling by powers of two is exact), so
    the grid is bit-identical to the C++ one.
    """
    for axis in (2, 1, 0):                   # C++ dim 0 (x), 1 (y), 2 (z)
        for _ in range(2):
            grid = ndimage.correlate1d(grid, _TAPS, axis=axis, mode="constant", cval=0.0)
            face = [slice(None)] * 3
            face[axis] = [0, -1]
            grid[tuple(face)] = 0.0
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
    Grid ``(X, Y, Z)`` of size ``int((W-1)/s)+5, int((H-1)/s)+5, int((max-min)/r)+5``
    (padding 2). Each pixel adds ``(value, 1)`` to the cell ``(int(x/s+.5)+2, int(y/s+.5)+2,
    int((v-min)/r+.5)+2)``, accumulated x-major then y as the C++ loops do. Each axis in turn
    gets two passes of ``(l + r + 2c)/4`` on the interior (border faces stay 0). The result
    at a pixel is the trilinear interpolation at ``(x/s+2, y/s+2, (v-min)/r+2)`` with float32
    fractional weights (``typedef float real_type`` in ``math_tools.h``) applied to the
    double grid, eight terms summed in the C++ order, then ``value / weight``. The result is
    bit-identical to a literal transcription of the C++ (see the tests).
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
    plane = sh * sw
    ncell = sd * plane

    xs = np.arange(w, dtype=np.float64)
    ys = np.arange(h, dtype=np.float64)
    # splat, fed in x-major order (as the C++ loops) so bincount accumulates in the same order
    cx = ((xs / sigma_s + 0.5).astype(np.int64) + pad)[:, None]
    cy = ((ys / sigma_s + 0.5).astype(np.int64) + pad)[None, :]
    cz = (z.T / sigma_r + 0.5).astype(np.int64) + pad
    lin = (cz * plane + cy * sw + cx).ravel()
    shape = (sd, sh, sw)
    val = _blur_passes(np.bincount(lin, weights=a.T.ravel(), minlength=ncell).reshape(shape))
    wgt = _blur_passes(np.bincount(lin, minlength=ncell).astype(np.float64).reshape(shape))
    # (value, weight) as one complex grid: one gather per corner; complex * real and complex +
    # act on the two parts separately with exactly the real roundings
    grid = (val + 1j * wgt).ravel()

    # slice: trilinear interpolation, float32 weights as in Math_tools::trilinear_interpolation
    fx = xs / sigma_s + pad
    fy = ys / sigma_s + pad
    fz = z / sigma_r + pad                      # (H, W)
    ix = np.minimum(fx.astype(np.int64), sw - 1)
    iy = np.minimum(fy.astype(np.int64), sh - 1)
    iz = np.minimum(fz.astype(np.int64), sd - 1)
    ixx, iyy, izz = np.minimum(ix + 1, sw - 1), np.minimum(iy + 1, sh - 1), np.minimum(iz + 1, sd - 1)
    ax = (fx - ix).astype(np.float32)[None, :]
    ay = (fy - iy).astype(np.float32)[:, None]
    az = (fz - iz).astype(np.float32)
    one = np.float32(1.0)
    bx, by, bz = one - ax, one - ay, one - az
    xy = {(0, 0): bx * by, (1, 0): ax * by, (0, 1): bx * ay, (1, 1): ax * ay}   # float32
    xi = {0: ix[None, :], 1: ixx[None, :]}
    yi = {0: (iy * sw)[:, None], 1: (iyy * sw)[:, None]}
    acc = None
    for wz, zi in ((bz, iz * plane), (az, izz * plane)):
        for cy_ in (0, 1):
            zy = zi + yi[cy_]
            for cx_ in (0, 1):               # x fastest: the order of the C++ sum
                term = np.take(grid, zy + xi[cx_])
                term *= (xy[cx_, cy_] * wz).astype(np.float64)
                acc = term if acc is None else acc + term
    return acc.real / acc.imag
