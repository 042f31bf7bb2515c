"""Xydeas & Petrovic's gradient-based fusion metric Q^{AB/F} in its two common implementations.

* ``qabf`` — the usual form as VIFB computes it (xingchenzhang/VIFB @ 22b2ea9d,
  ``metrics/metricsQabf.m``); :func:`qabf_vifb` is its core on float arrays, shared with the
  VIFB-compatible metric set.
* ``qabf_liu`` — Liu's toolbox variant (zhengliu6699/imageFusionMetrics @ d6f7f1a0,
  ``metricXydeas.m``), whose values land nearer the Q_ABF printed in many fusion papers.

The two differ by up to ~0.1 on the same image (orientation term, sigmoid constants, weighting,
zero-gradient handling); see ``../shared/reference/README.md``.
"""
from __future__ import annotations

import cv2
import numpy as np

from fusionbench.imageio import check_images
from fusionbench.metrics._memo import ContentLRU, register_cache
from fusionbench.metrics._strips import row_strips
from fusionbench.registry import register_metric

# Sobel kernels as *correlation* kernels: d/dx (columns, left to right) and d/dy (rows, top down)
_SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
_SOBEL_Y = _SOBEL_X.T.copy()


def _correlate_zero(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """3x3 correlation with zero padding and 'same' size (MATLAB ``filter2(k, img, 'same')``)."""
    return cv2.filter2D(np.ascontiguousarray(img, dtype=np.float64), cv2.CV_64F, kernel,
                        borderType=cv2.BORDER_CONSTANT)


def sobel_xy(img: np.ndarray, *, convolve: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Sobel responses ``(Sx, Sy)`` with zero padding, 'same' size.

    ``convolve=False``: ``filter2`` (correlation) with ``[-1 0 1; -2 0 2; -1 0 1]`` and its
    transpose, as Liu's ``metricXydeas``. ``convolve=True``: ``conv2(img, h, 'same')`` with VIFB's
    ``h3 = [-1 0 1; -2 0 2; -1 0 1]`` (x) and ``h1 = [1 2 1; 0 0 0; -1 -2 -1]`` (y). Convolution
    turns the kernels by 180 degrees: ``rot180(h3) = -h3`` and ``rot180(h1) = [-1 -2 -1; 0 0 0;
    1 2 1]``, so VIFB's responses are ``(-Sx, Sy)`` of the correlation form. The sign matters
    for VIFB's orientation, where ``Sx == 0`` maps to ``+pi/2`` whatever the sign of ``Sy``.
    Values are exact for integer images (integer arithmetic in float64).
    """
    sx = _correlate_zero(img, _SOBEL_X)
    sy = _correlate_zero(img, _SOBEL_Y)
    return (-sx, sy) if convolve else (sx, sy)


def _vifb_strength_angle(img: np.ndarray, rows: slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
    sx, sy = sobel_xy(img, convolve=True)
    sx, sy = sx[rows], sy[rows]
    g = np.sqrt(sx * sx + sy * sy)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(sx == 0, np.pi / 2, np.arctan(sy / np.where(sx == 0, 1.0, sx)))
    return g, a


# VIFB metricsQabf model parameters
_TG, _KG, _DG = 0.9994, -15.0, 0.5
_TA, _KA, _DA = 0.9879, -22.0, 0.8


def _vifb_q(g_s: np.ndarray, a_s: np.ndarray, g_f: np.ndarray, a_f: np.ndarray) -> np.ndarray:
    """Edge preservation ``Q^{SF}`` of one source, per pixel, with VIFB's conventions."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(g_s > g_f, g_f / g_s, np.where(g_s == g_f, g_f, g_s / g_f))
    orient = 1.0 - np.abs(a_s - a_f) / (np.pi / 2)
    q_g = _TG / (1.0 + np.exp(_KG * (rel - _DG)))
    q_a = _TA / (1.0 + np.exp(_KA * (orient - _DA)))
    return q_g * q_a


def qabf_vifb(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """Core of VIFB's ``Qabf(strA, strB, strF)`` on 2-D float64 arrays (the images after ``double()``).

    The arrays are scaled by 255 internally as VIFB's ``255*im2double(double(x))`` does (this
    only matters through the ``gA == gF`` quirk below). Sobel by ``conv2(..., 'same')`` (zero
    padding); ``g = sqrt(Sx^2 + Sy^2)``, ``alpha = atan(Sy/Sx)`` (``pi/2`` where ``Sx == 0``);
    ``G = gF/gA`` where ``gA > gF``, ``gA/gF`` where ``gA < gF`` and **``gF``** (the raw
    magnitude) where they are equal; ``A = 1 - |alphaA - alphaF|/(pi/2)``;
    ``Q = Tg/(1+exp(kg(G-Dg))) * Ta/(1+exp(ka(A-Da)))`` with Tg 0.9994, kg -15, Dg 0.5,
    Ta 0.9879, ka -22, Da 0.8; result ``sum(Q_AF gA + Q_BF gB) / sum(gA + gB)`` (L = 1).
    """
    a, b, f = (np.asarray(x, dtype=np.float64) for x in (a, b, f))
    if not a.shape == b.shape == f.shape or a.ndim != 2:
        raise ValueError(f"qabf_vifb: expected three 2-D arrays of one shape, got {a.shape}, {b.shape}, {f.shape}")
    num = den = 0.0
    for src, inner in row_strips(*a.shape, halo=1):
        g_a, a_a = _vifb_strength_angle(255.0 * a[src], inner)
        g_b, a_b = _vifb_strength_angle(255.0 * b[src], inner)
        g_f, a_f = _vifb_strength_angle(255.0 * f[src], inner)
        q_af = _vifb_q(g_a, a_a, g_f, a_f)
        q_bf = _vifb_q(g_b, a_b, g_f, a_f)
        num += float((q_af * g_a + q_bf * g_b).sum())
        den += float((g_a + g_b).sum())
    return num / den if den > 0 else float("nan")


@register_metric(
    "qabf", higher_is_better=True,
    description="Xydeas-Petrovic edge preservation Q_ABF, usual form (as VIFB metricsQabf)",
    reference="Xydeas & Petrovic, Electronics Letters 36(4) 2000; code: VIFB metricsQabf.m "
              "(xingchenzhang/VIFB @22b2ea9d), reference column QABF_vifb",
)
def qabf(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """Q_ABF of a fused image, exactly as VIFB's ``metricsQabf`` on gray images.

    Notes
    -----
    Xydeas & Petrovic, "Objective image fusion performance measure", Electronics Letters 36(4),
    2000: per-pixel preservation of Sobel edge strength and orientation, weighted by the sources'
    gradient magnitudes. Conventions of the code followed are listed in :func:`qabf_vifb`,
    including its quirk that where ``gA == gF`` the strength ratio is ``gF`` instead of 1 (driving
    ``Q_g`` to ``Tg`` there). The result is symmetric in the two sources. Reproduce with
    ``metricsQabf(uint8(VI), uint8(IR), uint8(F))`` from VIFB. Range 0..~0.98; higher is better.
    Images whose sources have no gradient anywhere give NaN (0/0), as the original.
    """
    ir, vi, fused = check_images(ir, vi, fused, who="qabf")
    return qabf_vifb(vi, ir, fused)


def _liu_strength_angle(img: np.ndarray, rows: slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
    sx, sy = sobel_xy(img)
    sx, sy = sx[rows], sy[rows]
    g = np.sqrt(sx * sx + sy * sy)
    sx = np.where(sx == 0, 1e-5, sx)         # metricXydeas: X + 0.00001 where X == 0
    return g, np.arctan(sy / sx)


def _liu_map(g_a, a_a, g_b, a_b, g_f, a_f) -> np.ndarray:
    eps = 1e-5
    # the original adds 1e-5 to zero magnitudes in this order: the A-side comparison uses the
    # raw gF, everything after it the patched gF; wA, wB are the patched source magnitudes
    a_gt = g_a > g_f
    g_a = np.where(g_a == 0, eps, g_a)
    ratio_af_1 = g_f / g_a
    g_f = np.where(g_f == 0, eps, g_f)
    g_af = np.where(a_gt, ratio_af_1, g_a / g_f)
    b_gt = g_b > g_f
    g_b = np.where(g_b == 0, eps, g_b)
    g_bf = np.where(b_gt, g_f / g_b, g_b / g_f)
    a_af = np.abs(np.abs(a_a - a_f) - np.pi / 2) * (2 / np.pi)
    a_bf = np.abs(np.abs(a_b - a_f) - np.pi / 2) * (2 / np.pi)
    q_af = 1.0 / ((1.0 + np.exp(-10.0 * (g_af - 0.5))) * (1.0 + np.exp(-20.0 * (a_af - 0.75))))
    q_bf = 1.0 / ((1.0 + np.exp(-10.0 * (g_bf - 0.5))) * (1.0 + np.exp(-20.0 * (a_bf - 0.75))))
    return (q_af * g_a + q_bf * g_b) / (g_a + g_b)


def qabf_liu_map(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Per-pixel ``(Q_AF wA + Q_BF wB)/(wA + wB)`` of Liu's ``metricXydeas`` (its mean is the metric)."""
    return _liu_map(*_liu_strength_angle(a), *_liu_strength_angle(b), *_liu_strength_angle(f))


def _liu_strips(img: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """``_liu_strength_angle`` of each row strip of ``img`` (the strips of :func:`_qabf_liu_sum`)."""
    return [_liu_strength_angle(img[src], inner) for src, inner in row_strips(*img.shape, halo=1)]


# a source's strips are the same for every fused image of its pair: computed once (issue 22)
SOURCE_GRADIENTS = register_cache(ContentLRU(_liu_strips, max_entries=4))


def _qabf_liu_sum(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    total = 0.0
    strips_a, strips_b = SOURCE_GRADIENTS.get(a), SOURCE_GRADIENTS.get(b)
    for (src, inner), ga, gb in zip(row_strips(*a.shape, halo=1), strips_a, strips_b):
        total += float(_liu_map(*ga, *gb, *_liu_strength_angle(f[src], inner)).sum())
    return total


@register_metric(
    "qabf_liu", higher_is_better=True, quantity="qabf",
    description="Xydeas-Petrovic Q_ABF as Liu's toolbox metricXydeas (mean of per-pixel weighted Q)",
    reference="Xydeas & Petrovic, Proc. SPIE 4051 (2000); Liu et al. TPAMI 2012 toolbox "
              "(zhengliu6699/imageFusionMetrics @d6f7f1a0 metricXydeas.m), reference column QABF_liu",
)
def qabf_liu(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """Q_ABF of a fused image as Liu's ``metricXydeas(IR, VI, F)``.

    Notes
    -----
    Sobel responses by ``filter2(..., 'same')`` (zero padding); ``g = sqrt(x^2 + y^2)``,
    ``alpha = atan(y/x)`` with ``x = 0`` replaced by 1e-5; ``G = min(gS, gF)/max(gS, gF)`` with
    1e-5 added to zero magnitudes (in the original's order); ``A = ||alphaS - alphaF| - pi/2| 2/pi``;
    ``Q_g = 1/(1+exp(-10(G-0.5)))``, ``Q_a = 1/(1+exp(-20(A-0.75)))``, ``Q^{SF} = Q_g Q_a``;
    result = mean over pixels of ``(Q^{AF} wA + Q^{BF} wB)/(wA + wB)`` with ``w = g`` (L = 1).
    Reproduce with ``metricXydeas(double(IR), double(VI), double(F))``. Range 0..1; higher is
    better. Published results scored this way land nearer the Q_ABF printed in many papers.
    """
    ir, vi, fused = check_images(ir, vi, fused, who="qabf_liu")
    return _qabf_liu_sum(ir, vi, fused) / ir.size
