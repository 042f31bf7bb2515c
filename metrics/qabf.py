"""Xydeas & Petrovic's gradient-based fusion metric Q^{AB/F}: one implementation, two public forms.

:func:`qabf` is the one implementation; each public name is a configuration of it whose
parameters are visible data (``fusionbench metrics`` lists them):

* ``qabf`` = :data:`QABF_VIFB` -- the usual form as VIFB computes it (xingchenzhang/VIFB @
  22b2ea9d, ``metrics/metricsQabf.m``); also ``vifb:qabf`` (per colour channel),
  ``cddfuse:qabf``, ``tang:qabf`` and ``zoo:qabf``, whose scripts compute the same.
* ``qabf_liu`` = :data:`QABF_LIU` -- Liu's toolbox (zhengliu6699/imageFusionMetrics @ d6f7f1a0,
  ``metricXydeas.m``), whose values land nearer the Q_ABF printed in many fusion papers.

The two differ by up to ~0.1 on the same image; see ``../shared/reference/README.md``.

Parameters of a form
--------------------
``sources``
    ``'vi,ir'`` or ``'ir,vi'``: which source is A (the first argument of the original). Only
    ``g_zero=1e-5`` depends on it (the VIFB form is symmetric bit for bit).
``sobel``
    ``'conv2'``: VIFB's ``conv2(img, h, 'same')`` with ``h3 = [-1 0 1; -2 0 2; -1 0 1]`` (x)
    and ``h1 = [1 2 1; 0 0 0; -1 -2 -1]`` (y), i.e. ``(-gx, gy)`` of the correlation Sobel;
    ``'filter2'``: Liu's ``filter2(flt, img, 'same')``, ``(gx, gy)``. Zero padding both.
``scale``
    the images are multiplied by it first (VIFB's ``255*im2double(double(x))`` = 255 x; this
    matters only through ``g_zero='gF'``).
``sx_zero``
    orientation where ``Sx == 0``: ``'pi/2'`` (VIFB: ``alpha = pi/2`` whatever ``Sy``) or a
    number that replaces ``Sx`` there (Liu: ``1e-5``); elsewhere ``alpha = atan(Sy/Sx)``.
``g_zero``
    strength ratio ``G = min(gS, gF)/max(gS, gF)`` and where it is undefined: ``'gF'``
    (VIFB's quirk: where ``gS == gF`` the ratio is the raw magnitude ``gF`` instead of 1,
    0/0 never happens) or a number added to zero magnitudes (Liu: ``1e-5``, in the
    original's order: A is compared with the raw ``gF``, everything after it uses the patched
    ``gF``; the weights are the patched source magnitudes).
``orientation``
    ``'abs_diff'``: ``A = 1 - |aS - aF|/(pi/2)`` (VIFB, the paper's eq.); ``'folded'``:
    ``A = ||aS - aF| - pi/2| 2/pi`` (Liu's toolbox).
``Tg, kg, Dg, Ta, ka, Da``
    sigmoids ``Q_g = Tg/(1+exp(kg(G-Dg)))``, ``Q_a = Ta/(1+exp(ka(A-Da)))``, ``Q = Q_g Q_a``.
``product``
    floating-point order of ``Q``: ``'separate'`` (``Q_g`` and ``Q_a`` rounded, then their
    product, as both MATLAB codes) or ``'joint'`` (``Tg Ta / ((1+exp(..))(1+exp(..)))``, one
    division; the order fusionbench's ``qabf_liu`` has always used, within 1 ulp per pixel).
``pooling``
    ``'weighted_sum'``: ``sum(Q_AF wA + Q_BF wB) / sum(wA + wB)`` (VIFB; NaN when the
    sources have no gradient); ``'mean_map'``: mean over pixels of
    ``(Q_AF wA + Q_BF wB)/(wA + wB)`` (Liu). ``w = g`` (L = 1).

All arithmetic runs in float64: the Sobel by OpenCV, every per-pixel formula in compiled
passes (:mod:`fusionbench.metrics._paper_kernels`: the operations of :func:`_ratios` and
:func:`_preservation` in their order, the sums row by row); the sources' strengths and
orientations are cached by content (:data:`SOURCE_GRADIENTS`), so further fused images of a
pair cost only their own.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from fusionbench.imageio import check_images
from fusionbench.metrics._memo import ContentLRU, register_cache
from fusionbench.registry import register_metric

#: VIFB ``metricsQabf`` (the usual form)
QABF_VIFB: dict[str, Any] = dict(
    sources="vi,ir", sobel="conv2", scale=255.0, sx_zero="pi/2", g_zero="gF", orientation="abs_diff",
    Tg=0.9994, kg=-15.0, Dg=0.5, Ta=0.9879, ka=-22.0, Da=0.8, product="separate", pooling="weighted_sum")
#: Liu's toolbox ``metricXydeas``
QABF_LIU: dict[str, Any] = dict(
    sources="ir,vi", sobel="filter2", scale=1.0, sx_zero=1e-5, g_zero=1e-5, orientation="folded",
    Tg=1.0, kg=-10.0, Dg=0.5, Ta=1.0, ka=-20.0, Da=0.75, product="joint", pooling="mean_map")


def _strength_angle(img: np.ndarray, *, sobel: str, scale: float,
                    sx_zero: str | float) -> tuple[np.ndarray, np.ndarray]:
    """Edge strength ``g`` and orientation ``alpha`` of ``img``.

    Compiled passes (:func:`fusionbench.metrics._paper_kernels.strength_angle`): the Sobel of
    :func:`~fusionbench.metrics._filters.sobel_xy` (``'zero'``, ``'2d'``, same bits), per pixel
    ``g = sqrt(sx^2 + sy^2)`` and ``sy/sx`` with the ``sx_zero`` rule (``pi/2`` as
    ``atan(+inf)``, exactly ``pi/2``); then ``atan`` of the ratio, the values of ``np.arctan``
    (glibc's) bit for bit (:func:`fusionbench.metrics._vmath.atan_into`).
    """
    from fusionbench.metrics import _paper_kernels as K  # noqa: PLC0415  (numba: lazily)

    if sobel not in ("conv2", "filter2"):
        raise ValueError(f"qabf: sobel must be 'conv2' or 'filter2', got {sobel!r}")
    pi2 = sx_zero == "pi/2"
    img = np.ascontiguousarray(img, dtype=np.float64)
    return K.strength_angle(img, float(scale), sobel == "conv2", pi2, 1.0 if pi2 else float(sx_zero))


# a source's strength and orientation are the same for every fused image of its pair: computed
# once (issue 22); keyed by the image and the gradient parameters (two sources times two forms)
SOURCE_GRADIENTS = register_cache(ContentLRU(_strength_angle, max_entries=6))


def _ratios(g_a: np.ndarray, g_b: np.ndarray, g_f: np.ndarray, g_zero: str | float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Strength ratios ``G_AF``, ``G_BF`` and weights ``wA``, ``wB`` (see ``g_zero``)."""
    if g_zero == "gF":
        with np.errstate(divide="ignore", invalid="ignore"):
            r_a, r_b = (np.where(g > g_f, g_f / g, np.where(g == g_f, g_f, g / g_f)) for g in (g_a, g_b))
        return r_a, r_b, g_a, g_b
    eps = float(g_zero)
    a_gt = g_a > g_f
    w_a = np.where(g_a == 0, eps, g_a)
    g_fp = np.where(g_f == 0, eps, g_f)
    r_a = np.where(a_gt, g_f / w_a, w_a / g_fp)
    b_gt = g_b > g_fp
    w_b = np.where(g_b == 0, eps, g_b)
    r_b = np.where(b_gt, g_fp / w_b, w_b / g_fp)
    return r_a, r_b, w_a, w_b


def _preservation(r: np.ndarray, a_s: np.ndarray, a_f: np.ndarray, *, orientation: str, product: str,
                  Tg: float, kg: float, Dg: float, Ta: float, ka: float, Da: float) -> np.ndarray:
    """Per-pixel edge preservation ``Q^{SF}`` from the strength ratio and the two orientations."""
    if orientation == "abs_diff":
        o = 1.0 - np.abs(a_s - a_f) / (np.pi / 2)
    elif orientation == "folded":
        o = np.abs(np.abs(a_s - a_f) - np.pi / 2) * (2 / np.pi)
    else:
        raise ValueError(f"qabf: orientation must be 'abs_diff' or 'folded', got {orientation!r}")
    if product == "separate":
        return Tg / (1.0 + np.exp(kg * (r - Dg))) * (Ta / (1.0 + np.exp(ka * (o - Da))))
    if product == "joint":
        return (Tg * Ta) / ((1.0 + np.exp(kg * (r - Dg))) * (1.0 + np.exp(ka * (o - Da))))
    raise ValueError(f"qabf: product must be 'separate' or 'joint', got {product!r}")


def _sums(a: np.ndarray, b: np.ndarray, f: np.ndarray, *, sobel: str,
          scale: float, sx_zero: str | float, g_zero: str | float, pooling: str, orientation: str,
          product: str, Tg: float, kg: float, Dg: float, Ta: float, ka: float, Da: float) -> float:
    """The metric on 2-D float64 arrays, ``a`` being the original's first source (A).

    The per-pixel maps are those of :func:`_ratios` and :func:`_preservation`, evaluated in one
    compiled pass (:func:`fusionbench.metrics._paper_kernels.qabf_sums`, same operations in the
    same order per pixel; the sums run row by row).
    """
    from fusionbench.metrics import _paper_kernels as K  # noqa: PLC0415

    grad = dict(sobel=sobel, scale=scale, sx_zero=sx_zero)
    if pooling not in ("weighted_sum", "mean_map"):
        raise ValueError(f"qabf: pooling must be 'weighted_sum' or 'mean_map', got {pooling!r}")
    if orientation not in ("abs_diff", "folded"):
        raise ValueError(f"qabf: orientation must be 'abs_diff' or 'folded', got {orientation!r}")
    if product not in ("separate", "joint"):
        raise ValueError(f"qabf: product must be 'separate' or 'joint', got {product!r}")
    g_a, a_a = SOURCE_GRADIENTS.get(a, **grad)
    g_b, a_b = SOURCE_GRADIENTS.get(b, **grad)
    g_f, a_f = _strength_angle(f, **grad)
    quirk = g_zero == "gF"
    num, den = K.qabf_sums(g_a, a_a, g_b, a_b, g_f, a_f, quirk, 0.0 if quirk else float(g_zero),
                           orientation == "folded", product == "joint", pooling == "mean_map",
                           float(Tg), float(kg), float(Dg), float(Ta), float(ka), float(Da))
    if pooling == "mean_map":
        return num / a.size
    return num / den if den > 0 else float("nan")


def _ordered(ir: np.ndarray, vi: np.ndarray, sources: str) -> tuple[np.ndarray, np.ndarray]:
    if sources == "ir,vi":
        return ir, vi
    if sources == "vi,ir":
        return vi, ir
    raise ValueError(f"qabf: sources must be 'ir,vi' or 'vi,ir', got {sources!r}")


def qabf_arrays(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, **form: Any) -> float:
    """:func:`qabf` on 2-D float64 arrays of one shape, without input validation (VIFB's colour
    plumbing calls it per channel)."""
    form = dict(form)
    a, b = _ordered(ir, vi, form.pop("sources"))
    return _sums(a, b, fused, **form)


def qabf_vifb(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """VIFB's ``Qabf(strA, strB, strF)`` on 2-D float64 arrays (the images after ``double()``),
    A = ``a``: :data:`QABF_VIFB` (symmetric in ``a``, ``b`` bit for bit)."""
    a, b, f = (np.asarray(x, dtype=np.float64) for x in (a, b, f))
    if not a.shape == b.shape == f.shape or a.ndim != 2:
        raise ValueError(f"qabf_vifb: expected three 2-D arrays of one shape, got {a.shape}, {b.shape}, {f.shape}")
    return _sums(a, b, f, **{k: v for k, v in QABF_VIFB.items() if k != "sources"})


@register_metric(
    "qabf", higher_is_better=True, params=dict(QABF_VIFB),
    description="Xydeas-Petrovic edge preservation Q_ABF, usual form (as VIFB metricsQabf)",
    reference="Xydeas & Petrovic, Electronics Letters 36(4) 2000; code: VIFB metricsQabf.m "
              "(xingchenzhang/VIFB @22b2ea9d), reference column QABF_vifb",
)
def qabf(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, **form: Any) -> float:
    """Q_ABF of a fused image in the form given by ``form`` (:data:`QABF_VIFB`, :data:`QABF_LIU`).

    Notes
    -----
    Xydeas & Petrovic, "Objective image fusion performance measure", Electronics Letters 36(4),
    2000 (and Proc. SPIE 4051, 2000): per-pixel preservation of Sobel edge strength and
    orientation, weighted by the sources' gradient magnitudes. The parameters of a form are
    described in the module docstring. Inputs float64 gray 0..255 of one shape.

    * ``qabf`` (:data:`QABF_VIFB`): exactly VIFB's ``metricsQabf`` on gray images, including
      its quirk that where ``gA == gF`` the strength ratio is ``gF`` instead of 1 (driving
      ``Q_g`` to ``Tg`` there). Reproduce with ``metricsQabf(uint8(VI), uint8(IR), uint8(F))``
      from VIFB. Range 0..~0.98; images whose sources have no gradient anywhere give NaN (0/0),
      as the original.
    * ``qabf_liu`` (:data:`QABF_LIU`): Liu's ``metricXydeas``. Reproduce with
      ``metricXydeas(double(IR), double(VI), double(F))``. Range 0..1. Published results
      scored this way land nearer the Q_ABF printed in many papers.

    Higher is better for both.
    """
    ir, vi, fused = check_images(ir, vi, fused, who="qabf")
    return qabf_arrays(ir, vi, fused, **form)


register_metric(
    "qabf_liu", higher_is_better=True, quantity="qabf", params=dict(QABF_LIU),
    description="Xydeas-Petrovic Q_ABF as Liu's toolbox metricXydeas (mean of per-pixel weighted Q)",
    reference="Xydeas & Petrovic, Proc. SPIE 4051 (2000); Liu et al. TPAMI 2012 toolbox "
              "(zhengliu6699/imageFusionMetrics @d6f7f1a0 metricXydeas.m), reference column QABF_liu",
)(qabf)
