"""MEF-SSIM (Ma, Zeng & Wang 2015), the multi-exposure-fusion SSIM that Tang's script calls "MS_SSIM".

Reference code followed: Linfeng-Tang/Evaluation-for-Image-Fusion @ 0e87153, ``mef_ssim.m`` and
``analysis_ms_ssim.m`` (K. Ma's public MEF-SSIM code). The original loops over every 11x11
window; here each per-window quantity is written in terms of filtered images (box sums for
the structure-consistency and norms, Gaussian-weighted moments for the SSIM terms), so the
whole map is a handful of separable filters. Registered only as ``tang:ms_ssim``.
"""
from __future__ import annotations

import cv2
import numpy as np

from fusionbench.metrics.similarity import _downsample2, filter2_valid, gaussian_1d

EPS = float(np.finfo(np.float64).eps)


def _box_sum_valid(x: np.ndarray, w: int) -> np.ndarray:
    """Sum over each ``w x w`` window inside the image (exact for integer-valued input)."""
    s = cv2.boxFilter(np.ascontiguousarray(x, np.float64), cv2.CV_64F, (w, w), normalize=False,
                      borderType=cv2.BORDER_CONSTANT)
    r = w // 2
    return s[r:x.shape[0] - r, r:x.shape[1] - r]


def mef_ssim_index(seq: list[np.ndarray], f: np.ndarray, k: float = 0.03, size: int = 11,
                   sigma: float = 1.5) -> float:
    """One-scale MEF-SSIM ``mef_ssim(imgSeq, fI, K, window)`` of fused ``f`` for source images ``seq``.

    Per window: signal strength ``ed_k = ||x_k - mu_k|| + 0.001`` (box statistics), structure
    consistency ``R = ||sum_k (x_k - mean)|| / sum_k ||x_k - mu_k||`` mapped to an exponent
    ``p = min(tan(pi R / 2), 10)``, weights ``(ed_k/11)^p + eps`` normalised; the desired
    patch ``r = sum_k w_k (x_k - mu_k)/ed_k`` rescaled to norm ``max_k ed_k``; then the SSIM
    contrast-structure term ``(2 s_rf + C)/(s_r^2 + s_f^2 + C)``, ``C = (0.03*255)^2``, with the
    Gaussian window. Returns the mean over the valid windows.
    """
    n = size * size
    g = gaussian_1d(size, sigma)
    xs = [np.asarray(x, np.float64) for x in seq]
    f = np.asarray(f, np.float64)
    kk = len(xs)
    s1 = [_box_sum_valid(x, size) for x in xs]
    # centred second moments times n: C_kl = sum (x_k - mu_k)(x_l - mu_l) = S_kl - S_k S_l / n
    cov = {}
    for i in range(kk):
        for j in range(i, kk):
            sij = _box_sum_valid(xs[i] * xs[j], size)
            cov[i, j] = cov[j, i] = (n * sij - s1[i] * s1[j]) / n
    norms = [np.sqrt(np.maximum(cov[i, i], 0.0)) for i in range(kk)]
    ed = [v + 0.001 for v in norms]
    tot = sum(cov[i, j] for i in range(kk) for j in range(kk))
    numer = np.sqrt(np.maximum(tot, 0.0))
    denom = sum(norms)
    r = (numer + EPS) / (denom + EPS)
    r[r > 1] = 1 - EPS
    r[r < 0] = EPS
    p = np.minimum(np.tan(np.pi / 2 * r), 10.0)
    wmap = [(e / size) ** p + EPS for e in ed]
    wsum = sum(wmap)
    a = [w / wsum / e for w, e in zip(wmap, ed)]        # weight of (x_k - mu_k) in the patch
    max_ed = np.maximum.reduce(ed)
    rnorm2 = sum(a[i] * a[j] * cov[i, j] for i in range(kk) for j in range(kk))
    rnorm = np.sqrt(np.maximum(rnorm2, 0.0))
    scale = np.where(rnorm > 0, max_ed / np.where(rnorm > 0, rnorm, 1.0), 1.0)
    # Gaussian-weighted moments (window sums to 1)
    gm = [filter2_valid(x, g) for x in xs]
    gf = filter2_valid(f, g)
    var_f = filter2_valid(f * f, g) - gf * gf
    var_r = np.zeros_like(gf)
    cov_rf = np.zeros_like(gf)
    for i in range(kk):
        cov_rf += a[i] * (filter2_valid(xs[i] * f, g) - gm[i] * gf)
        for j in range(kk):
            var_r += a[i] * a[j] * (filter2_valid(xs[i] * xs[j], g) - gm[i] * gm[j])
    var_r *= scale * scale
    cov_rf *= scale
    c = (k * 255.0) ** 2
    qmap = (2 * cov_rf + c) / (var_r + var_f + c)
    return float(qmap.mean())


def mef_ssim_mscale(seq: list[np.ndarray], f: np.ndarray, level: int = 3,
                    weights: tuple[float, ...] = (0.0448, 0.2856, 0.3001)) -> float:
    """``analysis_ms_ssim(imgSeq, fI)``: MEF-SSIM at ``level`` scales, ``prod(Q_l ^ w_l)``.

    Weights are normalised to sum 1; between scales every image is filtered with the 2x2 mean
    (symmetric border) and decimated by 2. Needs ``min(H, W) / 2^(level-1) >= 11``.
    """
    xs = [np.asarray(x, np.float64) for x in seq]
    f = np.asarray(f, np.float64)
    if min(f.shape) / 2 ** (level - 1) < 11:
        raise ValueError(f"MEF-SSIM needs images of at least {11 * 2 ** (level - 1)} pixels a side")
    w = np.asarray(weights, np.float64)
    w = w / w.sum()
    qs = []
    for lev in range(level):
        qs.append(mef_ssim_index(xs, f))
        if lev < level - 1:
            xs = [_downsample2(x) for x in xs]
            f = _downsample2(f)
    return float(np.prod(np.asarray(qs) ** w))
