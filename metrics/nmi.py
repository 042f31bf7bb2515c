"""Normalised mutual information (Hossny et al.) as Liu's toolbox ``metricMI(im1, im2, fim, 1)``.

Reference code followed: zhengliu6699/imageFusionMetrics @ d6f7f1a0, ``metricMI.m`` (case 1),
``mutual_info.m`` and ``normalize1.m``.
"""
from __future__ import annotations

import cv2
import numpy as np

from fusionbench.imageio import check_images
from fusionbench.metrics._memo import ContentLRU, register_cache
from fusionbench.metrics._parts import per_source
from fusionbench.registry import register_metric

N_LEVELS = 256
_CALCHIST_MAX = 1 << 24          # cv2.calcHist counts in float32: exact below 2^24 pixels


from fusionbench.metrics._matlab import entropy_of as _entropy  # noqa: E402
from fusionbench.metrics._matlab import normalize1_levels as normalize1  # noqa: E402


def mutual_info(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """``(MI, H(a), H(b))`` in bits from the 256x256 joint histogram of uint8 levels.

    The joint counts come from ``cv2.calcHist`` (exact integers; float32 holds counts below
    2^24, i.e. images up to 16 megapixels, beyond which ``np.bincount`` is used).
    """
    a, b = np.asarray(a, dtype=np.uint8), np.asarray(b, dtype=np.uint8)
    if a.size < _CALCHIST_MAX:
        counts = cv2.calcHist([a, b], [0, 1], None, [N_LEVELS, N_LEVELS], [0, N_LEVELS, 0, N_LEVELS])
        joint = counts.astype(np.float64) / a.size
    else:
        index = (a.astype(np.uint16) << 8) | b
        joint = np.bincount(index.ravel(), minlength=N_LEVELS * N_LEVELS).reshape(N_LEVELS, N_LEVELS) / a.size
    h_a = _entropy(joint.sum(axis=1))
    h_b = _entropy(joint.sum(axis=0))
    h_ab = _entropy(joint.ravel())
    return h_a + h_b - h_ab, h_a, h_b


def _source_levels(ir: np.ndarray, vi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``normalize1`` levels of both sources (the same for every fused image of a pair)."""
    return normalize1(ir), normalize1(vi)


SOURCE_LEVELS = register_cache(ContentLRU(_source_levels, max_entries=2))


def _part(src: np.ndarray, fused: np.ndarray) -> float:
    mi, h_s, h_f = mutual_info(src, fused)
    den = h_s + h_f
    return 2.0 * mi / den if den > 0 else 0.0


@register_metric(
    "nmi", parts=("ir", "vi"), higher_is_better=True,
    description="normalised mutual information (Hossny), Liu toolbox metricMI(IR,VI,F,1), 0..2",
    reference="Hossny, Nahavandi & Creighton, Electronics Letters 2008; Liu et al. TPAMI 2012 toolbox "
              "(zhengliu6699/imageFusionMetrics @d6f7f1a0 metricMI.m, mutual_info.m, normalize1.m)",
)
def nmi(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> dict[str, float]:
    """NMI of a fused image, with its per-source parts.

    Returns ``{"total": ir + vi, "ir": 2 MI(IR,F)/(H(IR)+H(F)), "vi": 2 MI(VI,F)/(H(VI)+H(F))}``.

    Notes
    -----
    ``NMI = 2 [MI(IR,F)/(H(IR)+H(F)) + MI(VI,F)/(H(VI)+H(F))]`` (Hossny et al., "Comments on
    'Information measure for performance of image fusion'", Electronics Letters 44(18), 2008),
    computed as Liu's ``metricMI(IR, VI, F, 1)``: each image is first stretched by ``normalize1``
    (min-max to 0..255, rounded), entropies and MI use log2 and the 256x256 joint histogram of
    the integer levels. Run ``metricMI(double(IR), double(VI), double(F), 1)`` in MATLAB/Octave
    to reproduce the numbers. Range 0..2 (each part 0..1); higher is better. A constant image
    (where ``normalize1`` divides by zero and the original fails) is one level; a part whose two
    images are both constant (0/0) is 0.
    """
    ir, vi, fused = check_images(ir, vi, fused, who="nmi")
    a, b = SOURCE_LEVELS.get(ir, vi)
    f = normalize1(fused)
    p_ir, p_vi = _part(a, f), _part(b, f)
    return per_source(p_ir, p_vi, "sum")
