"""Statistics of the fused image alone: entropy (EN) and standard deviation (SD).

Both take float64 gray 0..255 (the saved 8-bit image); the sources are ignored.
"""
from __future__ import annotations

import numpy as np

from fusionbench.imageio import check_images
from fusionbench.registry import register_metric


def entropy(img: np.ndarray, log_eps: float = 0.0) -> float:
    """Shannon entropy in bits of the 256-bin histogram of integer gray levels 0..255.

    Values are rounded to the nearest level first (they are integers for a saved 8-bit image).
    Range 0..8. Same as VIFB ``metricsEntropy`` for gray images and MATLAB ``entropy`` on uint8.
    ``log_eps`` > 0 computes ``-sum p log2(p + log_eps)`` instead (IVIF_ZOO's ``EN_function``
    adds 1e-7, a ~5e-6 relative bias).
    """
    levels = np.clip(np.floor(np.asarray(img, np.float64) + 0.5), 0, 255).astype(np.int64)
    p = np.bincount(levels.ravel(), minlength=256) / levels.size
    p = p[p > 0]
    return float(-(p * np.log2(p + log_eps)).sum())


def std_population(img: np.ndarray) -> float:
    """Population standard deviation ``sqrt(mean((x - mean x)^2))`` (VIFB ``Variance`` helper)."""
    x = np.asarray(img, np.float64)
    return float(np.sqrt(np.mean((x - x.mean()) ** 2)))


@register_metric("en", description="entropy of the fused image, bits (256-bin histogram)",
                 higher_is_better=True, reference="Roberts et al. 2008; VIFB metricsEntropy (gray)")
def en(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, *, log_eps: float = 0.0) -> float:
    """EN = -sum p log2 p over the 256 gray levels of ``fused``; range 0..8, higher is better.

    Configuration parameter ``log_eps``: see :func:`entropy`."""
    (f,) = check_images(fused, names=("fused",), who="en")
    return entropy(f, log_eps)


@register_metric("sd", description="standard deviation of the fused image (population, 0..255 scale)",
                 higher_is_better=True, reference="Rao 1997; VIFB metricsSD (gray)")
def sd(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """SD = sqrt(mean((F - mean F)^2)) (population SD, N in the denominator); higher is better."""
    (f,) = check_images(fused, names=("fused",), who="sd")
    return std_population(f)
