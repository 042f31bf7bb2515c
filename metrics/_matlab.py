"""MATLAB helpers shared by the metric ports (one definition each).

* :func:`gaussian_1d` -- the 1-D factor of ``fspecial('gaussian', size, sigma)`` (normalised;
  the 2-D window is ``outer(g, g)``, equal to MATLAB's to <= 3e-17 per tap). Where ``fspecial``'s
  ``eps * max`` cut-off would zero 2-D taps (half-width above ~6 sigma) its window is not
  separable and :func:`gaussian_1d` raises instead of returning a different window. Used by the
  metrics, the classic methods (``methods/_filters.matlab_gaussian``) and SSL-WAEIE's loss.
* :func:`normalize1` -- Liu's ``normalize1.m``: ``round((x - min) / (max - min) * 255)`` with
  MATLAB's round (half away from zero). **Policy for a constant image** (where the original
  divides 0 by 0 and returns NaN): every pixel becomes level 0 -- a constant image has one grey
  level, so entropies stay 0 and contrast measures see no contrast, instead of NaN spreading
  through a whole table. An all-zero image stays zero, as in the original.
* :func:`entropy_of` -- ``-sum p log p`` over the non-zero probabilities (any log base).
"""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np


def gaussian_1d(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """1-D factor ``g`` of MATLAB ``fspecial('gaussian', size, sigma)`` (float64, sums to 1).

    ``g`` is ``exp(-x^2 / (2 sigma^2))`` at ``x = -(size-1)/2 .. (size-1)/2``, normalised.
    ``fspecial`` zeroes the 2-D taps ``exp(-(x^2+y^2)/(2 sigma^2)) < eps * max``; if its corner
    tap is among them the window is not ``outer(g, g)`` and this raises ``ValueError``.
    """
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    two_s2 = 2.0 * sigma * sigma
    c = float(np.abs(x).min()) if size > 0 else 0.0
    if np.exp(-(x[0] * x[0] + x[0] * x[0]) / two_s2) < np.finfo(np.float64).eps * np.exp(-(2 * c * c) / two_s2):
        raise ValueError(f"fspecial('gaussian', {size}, {sigma}) zeroes its corner taps (eps cut-off): "
                         "not separable, no 1-D factor")
    g = np.exp(-(x * x) / two_s2)
    return g / g.sum()


def _stretch(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    y = (x - lo) / (hi - lo) * 255.0
    r = np.floor(y)
    r += (y - r) >= 0.5                      # MATLAB round (half away from zero; y >= 0)
    return r


def normalize1_levels(img: np.ndarray) -> np.ndarray:
    """:func:`normalize1` as uint8 levels (8-bit inputs go through a 256-entry table)."""
    x = np.asarray(img, dtype=np.float64)
    lo, hi = float(x.min()), float(x.max())
    if hi == lo:
        return np.zeros(x.shape, dtype=np.uint8)
    if lo >= 0 and hi <= 255:
        levels = x.astype(np.uint8)
        if (levels == x).all():               # integer-valued: stretch the 256 levels once
            table = _stretch(np.arange(256.0), lo, hi).clip(0, 255).astype(np.uint8)
            return cv2.LUT(levels, table)
    return _stretch(x, lo, hi).astype(np.uint8)


def normalize1(img: np.ndarray) -> np.ndarray:
    """Liu's ``normalize1`` as float64 levels 0..255 (see the module docstring for constant images)."""
    return normalize1_levels(img).astype(np.float64)


def entropy_of(p: np.ndarray, log: Callable[[np.ndarray], np.ndarray] = np.log2) -> float:
    """``-sum p log p`` over ``p > 0`` (bits with the default ``log2``)."""
    p = p[p > 0]
    return float(-(p * log(p)).sum())
