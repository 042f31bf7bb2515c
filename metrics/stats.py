"""Statistics of the fused image alone: entropy (EN) and standard deviation (SD).

Both take float64 gray 0..255 (the saved 8-bit image); the sources are ignored.
"""
from __future__ import annotations

import math

import numpy as np

from fusionbench.imageio import check_images, uint8_twin
from fusionbench.registry import register_metric


def level_counts(img: np.ndarray) -> np.ndarray:
    """int64 counts of the 256 integer grey levels ``clip(floor(x + 0.5), 0, 255)`` of ``img``.

    Inside :func:`fusionbench.evaluate` a float64 image converted from 8 bits is counted from its
    uint8 twin (:func:`fusionbench.imageio.uint8_twin`): the same levels, no rounding pass.
    """
    u8 = _twin(img)
    if u8 is None:
        lv = np.asarray(img, np.float64) + 0.5
        np.floor(lv, out=lv)
        np.clip(lv, 0, 255, out=lv)
        u8 = lv.astype(np.uint8)
    return _counts_u8(u8)


def _twin(img: np.ndarray) -> np.ndarray | None:
    if isinstance(img, np.ndarray) and img.dtype == np.uint8:
        return img
    return uint8_twin(img) if isinstance(img, np.ndarray) else None


def _counts_u8(u8: np.ndarray) -> np.ndarray:
    """Counts of the 256 levels of a uint8 image: OpenCV ``calcHist`` (exact integer counts,
    returned as float32, hence exact below 2^24 pixels; larger images use ``np.bincount``)."""
    if u8.size < 1 << 24:
        import cv2

        return cv2.calcHist([np.ascontiguousarray(u8)], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    return np.bincount(u8.ravel(), minlength=256)


def entropy(img: np.ndarray, log_eps: float = 0.0) -> float:
    """Shannon entropy in bits of the 256-bin histogram of integer gray levels 0..255.

    Values are rounded to the nearest level first (they are integers for a saved 8-bit image).
    Range 0..8. Same as VIFB ``metricsEntropy`` for gray images and MATLAB ``entropy`` on uint8.
    ``log_eps`` > 0 computes ``-sum p log2(p + log_eps)`` instead (IVIF_ZOO's ``EN_function``
    adds 1e-7, a ~5e-6 relative bias).
    """
    counts = level_counts(img)
    p = counts / int(counts.sum())
    p = p[p > 0]
    return float(-(p * np.log2(p + log_eps)).sum())


def std_population(img: np.ndarray) -> float:
    """Population standard deviation ``sqrt(mean((x - mean x)^2))`` (VIFB ``Variance`` helper).

    On 8-bit data (uint8, or inside ``evaluate`` a float64 image with a uint8 twin) from the exact
    integer moments ``S1 = sum x``, ``S2 = sum x^2`` (one compiled int64 pass,
    :func:`fusionbench.metrics._moments.sums1`): the variance ``(n S2 - S1^2) / n^2`` is one
    correctly rounded division of exact integers, then one IEEE square root -- within an ulp of
    the exact SD (the float64 formula rounds every deviation and partial sum). Other images: the
    float64 formula.
    """
    u8 = _twin(img)
    if u8 is not None and u8.ndim == 2 and u8.size < 1 << 40:
        from fusionbench.metrics._moments import sums1

        n = u8.size
        s1, s2 = sums1(np.ascontiguousarray(u8))
        return math.sqrt((n * s2 - s1 * s1) / (n * n))
    x = np.asarray(img, np.float64)
    return float(np.sqrt(np.mean((x - x.mean()) ** 2)))


@register_metric("en", description="entropy of the fused image, bits (256-bin histogram)",
                 higher_is_better=True, reference="Roberts et al. 2008; VIFB metricsEntropy (gray)")
def en(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, *, log_eps: float = 0.0) -> float:
    """EN = -sum p log2 p over the 256 gray levels of ``fused``; range 0..8, higher is better.

    Configuration parameter ``log_eps``: see :func:`entropy`."""
    (f,) = check_images(fused, names=("fused",), who="en", convert=False)  # 8-bit: counted as uint8
    return entropy(f, log_eps)


@register_metric("sd", description="standard deviation of the fused image (population, 0..255 scale)",
                 higher_is_better=True, reference="Rao 1997; VIFB metricsSD (gray)")
def sd(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """SD = sqrt(mean((F - mean F)^2)) (population SD, N in the denominator); higher is better."""
    (f,) = check_images(fused, names=("fused",), who="sd", convert=False)  # 8-bit: from its uint8 levels
    return std_population(f)
