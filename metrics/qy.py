"""Yang et al.'s SSIM-based fusion metric Q_Y as Liu's toolbox ``metricYang``, with a flat-window guard.

Reference code followed: zhengliu6699/imageFusionMetrics @ d6f7f1a0, ``metricYang.m`` (and its
inner ``ssim_yang``). The guard is the one of the reference values' ``QY_stable`` column
(``../shared/reference/README.md``).
"""
from __future__ import annotations

import cv2
import numpy as np

from fusionbench.imageio import check_images
from fusionbench.metrics._memo import ContentLRU, register_cache
from fusionbench.registry import register_metric

WIN = 7
SIGMA = 1.5
C1 = C2 = 2e-16
THRESHOLD = 0.75


from fusionbench.metrics._matlab import gaussian_1d as _gaussian_1d  # noqa: E402


_G = _gaussian_1d(WIN, SIGMA)
assert _G.size == 7                     # the window sums are written out for 7 taps
_HALF = WIN // 2


def _flat(img: np.ndarray) -> np.ndarray:
    """True where the 7x7 'valid' window of ``img`` is exactly constant (max == min)."""
    kernel = np.ones((WIN, WIN), np.uint8)
    hi = cv2.dilate(img, kernel, borderType=cv2.BORDER_REFLECT_101)
    lo = cv2.erode(img, kernel, borderType=cv2.BORDER_REFLECT_101)
    return np.ascontiguousarray((hi == lo)[_HALF:-_HALF, _HALF:-_HALF])


# For integer-valued images a window is constant exactly when its computed variance is ~0: the
# smallest true variance of a non-constant window is w(1-w) >= 1.3e-3 (w = the corner weight,
# a level step of 1), while round-off of E[x^2] - E[x]^2 on 0..255 stays below 1e-9.
_FLAT_VAR = 1e-4


def _is_integral(img: np.ndarray) -> bool:
    return bool((img.astype(np.uint8) == img).all())   # img is within 0..255 (checked)


def _source_stats(ir: np.ndarray, vi: np.ndarray) -> tuple[tuple[np.ndarray, ...], ...]:
    """The fused-image-independent part of :func:`qy`: both sources' window terms ``(mu, mu^2,
    var, flat)`` (``var`` 0 where the window is flat), ``lambda`` and the mask ``SSIM(IR, VI)
    >= 0.75``, in one compiled sweep (:func:`fusionbench.metrics._paper_kernels.
    yang_source_stats`). The images themselves are not part of the result (the cache freezes
    what it keeps)."""
    from fusionbench.metrics import _paper_kernels as K  # noqa: PLC0415

    a, b = (np.ascontiguousarray(x, dtype=np.float64) for x in (ir, vi))
    flat_in = []
    for x in (a, b):
        integral = _is_integral(x)
        flat_in += [integral, np.zeros((1, 1), np.bool_) if integral else _flat(x)]
    mu_a, mu2_a, var_a, flat_a, mu_b, mu2_b, var_b, flat_b, lam, similar = K.yang_source_stats(
        a, b, _G, *flat_in, _FLAT_VAR, C1, C2, THRESHOLD)
    return (mu_a, mu2_a, var_a, flat_a), (mu_b, mu2_b, var_b, flat_b), (lam, similar)


# the two sources' window statistics are the same for every fused image of a pair (issue 22)
SOURCE_STATS = register_cache(ContentLRU(_source_stats, max_entries=2))


@register_metric(
    "qy", higher_is_better=True,
    description="Yang's SSIM-based fusion metric Q_Y (Liu toolbox metricYang, flat-window guard)",
    reference="Yang et al., Information Fusion 9 (2008) 156-160; Liu et al. TPAMI 2012 toolbox "
              "(zhengliu6699/imageFusionMetrics @d6f7f1a0 metricYang.m), reference column QY_stable",
)
def qy(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """Q_Y of a fused image.

    Notes
    -----
    SSIM maps with a normalised 7x7 Gaussian window (sigma 1.5), ``filter2(..., 'valid')`` and
    ``C1 = C2 = 2e-16``. With ``lambda = s_IR^2 / (s_IR^2 + s_VI^2)`` from the window variances:
    where ``SSIM(IR, VI) >= 0.75``, ``Q = lambda SSIM(IR,F) + (1 - lambda) SSIM(VI,F)``, elsewhere
    ``Q = max(SSIM(IR,F), SSIM(VI,F))``; ``Q_Y`` is the mean over the valid windows (Yang, Zhang,
    Wang, Li & Zhang, "A novel similarity based quality metric for image fusion", Information
    Fusion 9, 2008). Code followed: Liu's ``metricYang``, plus one guard: in a window where an
    image is exactly constant (7x7 max == min), its variance and every covariance involving it
    are exactly 0, and ``lambda = 0.5`` where both sources are constant. The original instead
    divides round-off by 2e-16 there (single windows reach 1e5; TNO pair 03 gives NaN); elsewhere
    the two agree, so ``metricYang(double(IR), double(VI), double(F))`` reproduces this value
    wherever it is finite and not dominated by flat windows. Range about -1..1 (0..1 in
    practice); higher is better. Images must be at least 11x11 (the original returns -Inf).
    """
    ir, vi, fused = check_images(ir, vi, fused, who="qy")
    if min(ir.shape) < 11:
        raise ValueError(f"qy: images must be at least 11x11, got {ir.shape[1]}x{ir.shape[0]}")
    from fusionbench.metrics import _paper_kernels as K  # noqa: PLC0415

    h, w = ir.shape
    src_a, src_b, (lam, similar) = SOURCE_STATS.get(ir, vi)
    mu_a, mu2_a, var_a, flat_a = src_a
    mu_b, mu2_b, var_b, flat_b = src_b
    a, b = (np.ascontiguousarray(x, dtype=np.float64) for x in (ir, vi))
    f = np.ascontiguousarray(fused, dtype=np.float64)
    integral = _is_integral(f)
    flat_in = np.zeros((1, 1), np.bool_) if integral else _flat(f)
    total = K.yang_fused(a, b, f, _G, integral, flat_in, _FLAT_VAR, mu_a, mu_b, mu2_a, mu2_b,
                         var_a, var_b, flat_a, flat_b, lam, similar, C1, C2)
    return total / ((h - 2 * _HALF) * (w - 2 * _HALF))
