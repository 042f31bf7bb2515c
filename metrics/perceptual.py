"""Human-visual-system metrics: Chen-Blum Q_CB and Chen-Varshney Q_CV.

Ports of Z. Liu's ``metricChenBlum.m`` and ``metricChen.m`` (zhengliu6699/imageFusionMetrics),
the versions VIFB ships as ``metricsQcb``/``metricsQcv``; on gray images the textbook ``qcb``
and ``qcv`` equal ``vifb:qcb`` and ``vifb:qcv``. Inputs are float64 gray images (any scale:
each image is first min-max stretched to 0..255 and rounded, Liu's ``normalize1``).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from fusionbench.imageio import check_images
from fusionbench.metrics._filters import freq_filter, sep_correlate, sobel_xy
from fusionbench.metrics._matlab import normalize1  # one policy for constant images
from fusionbench.metrics._memo import ContentLRU, register_cache
from fusionbench.registry import register_metric


def freqspace_mesh(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB ``[u, v] = freqspace([M N], 'meshgrid')``: u across columns, v down rows, in [-1, 1)."""
    m, n = shape
    fu = (np.arange(n) - np.floor(n / 2)) * (2.0 / n)
    fv = (np.arange(m) - np.floor(m / 2)) * (2.0 / m)
    return np.meshgrid(fu, fv)


def _gauss31(im: np.ndarray, sigma: float) -> np.ndarray:
    """``filter2(G, im, 'same')`` with Liu's 31x31 unnormalised Gaussian ``exp(-r^2/2s^2)/(2 pi s^2)``."""
    x = np.arange(-15, 16, dtype=np.float64)
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    return sep_correlate(im, g, border="zero") / (2 * np.pi * sigma * sigma)


@lru_cache(maxsize=4)
def _dog_csf(shape: tuple[int, int]) -> np.ndarray:
    """Chen-Blum's DoG contrast sensitivity on the ``freqspace`` grid, frequencies scaled by size/30."""
    f0, f1, a = 15.3870, 1.3456, 0.7622
    hang, lie = shape
    u, v = freqspace_mesh((hang, lie))
    u = (lie / 30) * u
    v = (hang / 30) * v
    r = np.sqrt(u ** 2 + v ** 2)
    out = np.exp(-(r / f0) ** 2) - a * np.exp(-(r / f1) ** 2)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=4)
def _mannos_sakrison(shape: tuple[int, int]) -> np.ndarray:
    """Mannos-Sakrison CSF on the ``freqspace`` grid, frequencies scaled by size/8 (Chen-Varshney)."""
    hang, lie = shape
    u, v = freqspace_mesh((hang, lie))
    u = lie / 8 * u
    v = hang / 8 * v
    r = np.sqrt(u ** 2 + v ** 2)
    out = 2.6 * (0.0192 + 0.144 * r) * np.exp(-(0.144 * r) ** 1.1)
    out.flags.writeable = False
    return out


def _chen_blum_masked_contrast(x: np.ndarray) -> np.ndarray:
    """``C^3 / (C^2 + Z)`` of one image: normalize1, DoG CSF filter, local band-limited contrast."""
    k, h, z = 1.0, 1.0, 0.0001                      # p = 3, q = 2
    im = normalize1(x)
    filt = freq_filter(im, _dog_csf(im.shape))
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.abs(_gauss31(filt, 2.0) / _gauss31(filt, 4.0) - 1)
        c2 = c * c
        return (k * (c2 * c)) / (h * c2 + z)


# a source's masked contrast (Q_CB) and region saliency (Q_CV) are the same for every fused
# image of its pair: computed once (two sources times three colour channels)
_SOURCE_CONTRAST = register_cache(ContentLRU(_chen_blum_masked_contrast, max_entries=6))


def chen_blum(im1: np.ndarray, im2: np.ndarray, fused: np.ndarray) -> float:
    """Q_CB of ``fused`` with sources ``im1``, ``im2`` (Liu's ``metricChenBlum``, VIFB ``Qcb``).

    Steps: ``normalize1`` each image; contrast sensitivity filter (DoG, f0 15.3870, f1 1.3456,
    a 0.7622, frequencies scaled by size/30); local contrast ``|G2sigma * I / G4sigma * I - 1|``
    with 31x31 Gaussians (zero padding); masked contrast ``C^3 / (C^2 + 1e-4)``; preservation
    ``min/max``; saliency weights ``C1^2/(C1^2+C2^2)``; mean of the quality map.
    """
    c1p, c2p = (_SOURCE_CONTRAST.get(x) for x in (im1, im2))
    cfp = _chen_blum_masked_contrast(np.asarray(fused, np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        q1f = np.where(c1p < cfp, c1p / cfp, cfp / c1p)
        q2f = np.where(c2p < cfp, c2p / cfp, cfp / c2p)
        den = c1p * c1p + c2p * c2p
        lam1 = (c1p * c1p) / den
        lam2 = (c2p * c2p) / den
    return float(np.mean(lam1 * q1f + lam2 * q2f))


def _block_sums(x: np.ndarray, bs: int) -> np.ndarray:
    """Sums over ``bs x bs`` blocks after zero padding to whole blocks (``blkproc``, border [0 0])."""
    m, n = x.shape
    pm, pn = -m % bs, -n % bs
    xp = np.pad(x, ((0, pm), (0, pn)))
    return xp.reshape((m + pm) // bs, bs, (n + pn) // bs, bs).sum(axis=(1, 3))


def _chen_varshney_saliency(x: np.ndarray) -> np.ndarray:
    """Region saliency of a normalised image: block sums (16x16, zero padded) of ``|Sobel|^5``."""
    gx, gy = sobel_xy(x, "zero")
    g = np.sqrt(gx * gx + gy * gy)
    g2 = g * g
    return _block_sums(g2 * g2 * g, 16)


_SOURCE_SALIENCY = register_cache(ContentLRU(_chen_varshney_saliency, max_entries=6))


def chen_varshney(im1: np.ndarray, im2: np.ndarray, fused: np.ndarray) -> float:
    """Q_CV of ``fused`` with sources ``im1``, ``im2`` (Liu's ``metricChen``, VIFB ``Qcv``).

    Steps: ``normalize1`` each image; Sobel magnitudes (``filter2 'same'``, zero padding);
    region saliency ``lambda = sum G^5`` per 16x16 block; differences ``X - F`` filtered by the
    Mannos-Sakrison CSF (frequencies scaled by size/8); ``D = mean(diff^2)`` per block (partial
    blocks zero-padded to 16x16); ``Q = sum(l1 D1 + l2 D2) / sum(l1 + l2)``.
    """
    ws = 16          # alpha = 5: saliency is the block sum of G^5
    a, b, f = (normalize1(x) for x in (im1, im2, fused))

    lam1, lam2 = (_SOURCE_SALIENCY.get(x) for x in (a, b))
    theta_m = _mannos_sakrison(a.shape)
    d1 = _block_sums(freq_filter(a - f, theta_m) ** 2, ws) / (ws * ws)
    d2 = _block_sums(freq_filter(b - f, theta_m) ** 2, ws) / (ws * ws)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.sum(lam1 * d1 + lam2 * d2) / np.sum(lam1 + lam2))


# -- registered textbook metrics ------------------------------------------------------------

@register_metric("qcb", description="Chen-Blum Q_CB: contrast preservation under a human CSF model",
                 higher_is_better=True,
                 reference="Chen & Blum 2009, Image Vis. Comput. 27(10); "
                           "Liu's metricChenBlum.m (= VIFB metricsQcb on gray)")
def qcb(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """Chen-Blum perceptual fusion quality.

    Notes
    -----
    Y. Chen & R. S. Blum, "A new automated quality assessment algorithm for image fusion",
    Image and Vision Computing 27 (2009); Z. Liu's ``metricChenBlum.m``
    (zhengliu6699/imageFusionMetrics), also VIFB's ``metricsQcb`` (equal on gray images).
    See :func:`chen_blum` for the steps. Range 0..1; higher is better. Invariant to affine
    intensity changes of any image (each is min-max stretched first).
    """
    a, b, f = check_images(ir, vi, fused, who="qcb")
    return chen_blum(a, b, f)


@register_metric("qcv", description="Chen-Varshney Q_CV: CSF-filtered regional distortion (lower is better)",
                 higher_is_better=False,
                 reference="Chen & Varshney 2007, Inf. Fusion 8(2); Liu's metricChen.m (= VIFB metricsQcv on gray)")
def qcv(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """Chen-Varshney perceptual fusion quality.

    Notes
    -----
    H. Chen & P. K. Varshney, "A human perception inspired quality metric for image fusion
    based on regional information", Information Fusion 8 (2007); Z. Liu's ``metricChen.m``,
    also VIFB's ``metricsQcv`` (equal on gray images). See :func:`chen_varshney`. A weighted
    mean squared CSF-filtered difference on the 0..255 scale: 0 when F equals both sources,
    lower is better.
    """
    a, b, f = check_images(ir, vi, fused, who="qcv")
    return chen_varshney(a, b, f)
