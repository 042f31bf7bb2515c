"""Two reference baselines: pixel average and pixel maximum.

``average`` saved as 8-bit equals ``floor((IR + VI + 1) / 2)`` (the ``mean`` images of
``../shared/reference/fused_simple``); ``max`` is ``max(IR, VI)``.
"""
from __future__ import annotations

import numpy as np

from fusionbench.registry import register_method


@register_method("average", description="pixel average (IR + VI) / 2", mem_bytes_per_pixel=10, reference="baseline")
def average(ir: np.ndarray, vi: np.ndarray) -> np.ndarray:
    """Mean of the two sources, float64 0..255."""
    return (np.asarray(ir, np.float64) + np.asarray(vi, np.float64)) / 2.0


@register_method("max", description="pixel maximum max(IR, VI)", mem_bytes_per_pixel=10, reference="baseline")
def maximum(ir: np.ndarray, vi: np.ndarray) -> np.ndarray:
    """Pixel-wise maximum of the two sources, float64 0..255."""
    return np.maximum(np.asarray(ir, np.float64), np.asarray(vi, np.float64))
