"""Similarity of the fused image to each source: SSIM, MS-SSIM, PSNR, RMSE, CC, SCD.

All functions here take float64 gray images on the 0..255 scale. The registered metrics score
a fused image ``F`` against the infrared ``A`` and visible ``B`` source; each docstring states
how the two per-source values are combined. The VIFB-compatible versions (``vifb:ssim``,
``vifb:psnr``, ``vifb:rmse`` in :mod:`fusionbench.metrics.vifb`) share the cores below.
"""
from __future__ import annotations

import numpy as np

from fusionbench.imageio import check_images, trusted_block, uint8_twin
from fusionbench.metrics._filters import sep_correlate
from fusionbench.metrics._matlab import gaussian_1d  # noqa: F401  (re-exported)
from fusionbench.metrics._memo import ContentLRU, register_cache
from fusionbench.metrics._parts import per_source
from fusionbench.registry import register_metric

SSIM_K = (0.01, 0.03)
SSIM_L = 255.0
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def filter2_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    """MATLAB ``filter2(outer(g, g), img, 'valid')`` for a symmetric separable window."""
    r = len(g) // 2
    return sep_correlate(img, g, border="zero")[r:img.shape[0] - r, r:img.shape[1] - r]


def _local_stats(x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Windowed mean and variance (``filter2(w, x.*x) - mu.^2``) over the valid windows."""
    mu = filter2_valid(x, g)
    return mu, filter2_valid(x * x, g) - mu * mu


# a source's window statistics, keyed by the image and the window (six entries: two sources
# times three colour channels)
_SOURCE_STATS = register_cache(ContentLRU(_local_stats, max_entries=6))


def _ssim_maps(a: np.ndarray, b: np.ndarray, g: np.ndarray, memo_a: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
    """Wang et al. SSIM and contrast-structure maps over the 'valid' windows.

    ``memo_a``: ``a`` is a source image scored against many fused images; its statistics are
    memoised.
    """
    if min(a.shape) < len(g):
        raise ValueError(f"SSIM needs images of at least {len(g)}x{len(g)} pixels, got {a.shape[1]}x{a.shape[0]}")
    c1 = (SSIM_K[0] * SSIM_L) ** 2
    c2 = (SSIM_K[1] * SSIM_L) ** 2
    if memo_a:
        mu_a, s_aa = _SOURCE_STATS.get(a, g)
    else:
        mu_a, s_aa = _local_stats(a, g)
    mu_b, s_bb = _local_stats(b, g)
    mu_aa, mu_bb, mu_ab = mu_a * mu_a, mu_b * mu_b, mu_a * mu_b
    s_ab = filter2_valid(a * b, g) - mu_ab
    cs = (2 * s_ab + c2) / (s_aa + s_bb + c2)
    ssim_map = ((2 * mu_ab + c1) * (2 * s_ab + c2)) / ((mu_aa + mu_bb + c1) * (s_aa + s_bb + c2))
    return ssim_map, cs


def ssim_index(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two gray images (Wang et al. 2004 reference ``ssim_index.m``); ``a`` is the
    source (its window statistics are memoised for repeated calls).

    11x11 Gaussian window (sigma 1.5), K = (0.01, 0.03), L = 255, statistics over the 'valid'
    windows only (``filter2(..., 'valid')``), result ``mean2(ssim_map)``. Symmetric; 1 for
    identical images. This is also the inner ``ssim`` of VIFB's ``metricsSsim``.
    """
    ssim_map, _ = _ssim_maps(np.asarray(a, np.float64), np.asarray(b, np.float64), gaussian_1d(), memo_a=True)
    return float(ssim_map.mean())


def ssim_map_general(a: np.ndarray, b: np.ndarray, *, window: str = "gaussian", size: int = 11,
                     sigma: float = 1.5, data_range: float = SSIM_L, sample_covariance: bool = False,
                     border: str = "valid", k: tuple[float, float] = SSIM_K, dtype: str = "float64") -> np.ndarray:
    """SSIM map of Wang et al. under the conventions that scripts vary (float64 throughout).

    ``window``: ``'gaussian'`` (``fspecial('gaussian', size, sigma)``) or ``'uniform'``
    (``size x size`` box, as scikit-image's default). ``data_range`` L sets ``C1 = (k1 L)^2``,
    ``C2 = (k2 L)^2``. ``sample_covariance``: multiply (co)variances by ``NP/(NP-1)``
    (scikit-image). ``border``: ``'valid'`` keeps only windows inside the image (``filter2
    'valid'``; scikit-image's cropped map is the same set), ``'replicate'`` filters 'same'
    with replicated borders and keeps every pixel (MATLAB ``ssim``). ``dtype='float32'`` (uniform
    window, 'valid' only) computes as scikit-image >= 0.19 does for float32 input: every array
    float32, ``scipy.ndimage.uniform_filter``; it reproduces that code's values bit for bit.
    """
    if dtype == "float32":
        return _ssim_map_float32_uniform(a, b, size, data_range, sample_covariance, border, window, k)
    if min(a.shape) < size:
        raise ValueError(f"SSIM needs images of at least {size}x{size} pixels, got {a.shape[1]}x{a.shape[0]}")
    g = gaussian_1d(size, sigma) if window == "gaussian" else np.full(size, 1.0 / size)
    if window not in ("gaussian", "uniform"):
        raise ValueError(f"SSIM window must be 'gaussian' or 'uniform', got {window!r}")
    if border == "valid":
        filt = lambda x: filter2_valid(x, g)  # noqa: E731
    elif border == "replicate":
        filt = lambda x: sep_correlate(x, g, border="replicate")  # noqa: E731
    else:
        raise ValueError(f"SSIM border must be 'valid' or 'replicate', got {border!r}")
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    mu_a, mu_b = filt(a), filt(b)
    norm = size * size / (size * size - 1.0) if sample_covariance else 1.0
    s_aa = norm * (filt(a * a) - mu_a * mu_a)
    s_bb = norm * (filt(b * b) - mu_b * mu_b)
    s_ab = norm * (filt(a * b) - mu_a * mu_b)
    c1 = (k[0] * data_range) ** 2
    c2 = (k[1] * data_range) ** 2
    return ((2 * mu_a * mu_b + c1) * (2 * s_ab + c2)) / ((mu_a * mu_a + mu_b * mu_b + c1) * (s_aa + s_bb + c2))


def _ssim_map_float32_uniform(a, b, size, data_range, sample_covariance, border, window, k) -> np.ndarray:
    from scipy.ndimage import uniform_filter

    if window != "uniform" or border != "valid":
        raise ValueError("SSIM dtype='float32' is implemented for window='uniform', border='valid' only")
    if min(a.shape) < size:
        raise ValueError(f"SSIM needs images of at least {size}x{size} pixels, got {a.shape[1]}x{a.shape[0]}")
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    mu_a, mu_b = uniform_filter(a, size), uniform_filter(b, size)
    norm = np.float32(size * size / (size * size - 1.0) if sample_covariance else 1.0)
    s_aa = norm * (uniform_filter(a * a, size) - mu_a * mu_a)
    s_bb = norm * (uniform_filter(b * b, size) - mu_b * mu_b)
    s_ab = norm * (uniform_filter(a * b, size) - mu_a * mu_b)
    c1 = np.float32((k[0] * data_range) ** 2)
    c2 = np.float32((k[1] * data_range) ** 2)
    m = ((2 * mu_a * mu_b + c1) * (2 * s_ab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (s_aa + s_bb + c2))
    r = (size - 1) // 2
    return m[r:m.shape[0] - r, r:m.shape[1] - r].astype(np.float64)


def _downsample2(x: np.ndarray) -> np.ndarray:
    """``imfilter(x, ones(2)/4, 'symmetric', 'same')`` then ``x(1:2:end, 1:2:end)``."""
    p = np.pad(x, ((0, 1), (0, 1)), mode="symmetric")
    s = (p[:-1, :-1] + p[1:, :-1] + p[:-1, 1:] + p[1:, 1:]) / 4.0
    return s[::2, ::2]


def ms_ssim_index(a: np.ndarray, b: np.ndarray, weights: tuple[float, ...] = MS_SSIM_WEIGHTS) -> float:
    """Multi-scale SSIM of two gray images (Wang, Simoncelli, Bovik 2003; reference ``msssim.m``).

    Five scales; at each the 11x11 Gaussian SSIM statistics over the 'valid' windows; between
    scales a 2x2 mean filter (symmetric border) and decimation by 2. Result
    ``prod(mcs[:-1] ** w[:-1]) * mssim[-1] ** w[-1]``. Needs at least 176 pixels on the short
    side (11 * 2**4). A negative contrast-structure (or final SSIM) mean at some scale makes the
    reference's power complex; here such a mean is clipped at 0 (as ``pytorch_msssim`` does),
    giving 0 for badly mismatched images.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    levels = len(weights)
    need = 11 * 2 ** (levels - 1)
    if min(a.shape) < need:
        raise ValueError(f"MS-SSIM needs images of at least {need}x{need} pixels, got {a.shape[1]}x{a.shape[0]}")
    g = gaussian_1d()
    mcs, mssim = [], 0.0
    for lev in range(levels):
        ssim_map, cs = _ssim_maps(a, b, g)
        mcs.append(cs.mean())
        mssim = ssim_map.mean()
        if lev < levels - 1:
            a, b = _downsample2(a), _downsample2(b)
    cs = np.maximum(np.array(mcs[:-1]), 0.0)
    return float(np.prod(np.power(cs, weights[:-1])) * np.power(max(mssim, 0.0), weights[-1]))


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error ``mean((a - b)^2)``.

    On 8-bit data (uint8 arrays, or float64 images with a uint8 twin inside ``evaluate``) from
    the exact integer sum of squared differences (:func:`_ssd_u8`): the squares are integers
    and their float64 sum is exact (below 2^53), so ``S / n`` is the very value of the float64
    formula.
    """
    ua, ub = _u8(a), _u8(b)
    if ua is not None and ub is not None and ua.shape == ub.shape:
        return _ssd_u8(ua, ub) / ua.size
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return float(np.mean(d * d))


# -- 8-bit fast paths (issue 22): exact integer arithmetic or the float64 formula's own values

_SQUARES_U16 = (np.arange(256, dtype=np.int64) ** 2).astype(np.uint16).reshape(1, 256)


def _u8(img: np.ndarray) -> np.ndarray | None:
    """The C-contiguous 2-D uint8 image ``img`` is, or is the exact float64 conversion of
    (:func:`fusionbench.imageio.uint8_twin`), else None (the float64 formulas then apply)."""
    if not isinstance(img, np.ndarray) or img.ndim != 2 or img.size >= 1 << 31:
        return None
    u8 = img if img.dtype == np.uint8 else uint8_twin(img) if img.dtype == np.float64 else None
    return None if u8 is None else np.ascontiguousarray(u8)


def _ssd_u8(a: np.ndarray, b: np.ndarray) -> float:
    """``sum((a - b)^2)`` of two uint8 images, exact (a float64 integer).

    Up to 2^24 pixels: OpenCV ``norm(a, b, NORM_L2SQR)``, rounded to the nearest integer. Its
    sum of integer squares is exact, but some builds (IPP) return ``sqrt(S)^2``, a few ulp off;
    with ``S < 2^24 * 255^2 < 2^40`` that error is below 1e-3, so rounding restores ``S``.
    Larger images: ``absdiff``, squared by a uint16 lookup table, ``sumElems`` (integer blocks).
    """
    import cv2

    if a.size < 1 << 24:
        return float(round(cv2.norm(a, b, cv2.NORM_L2SQR)))
    return float(cv2.sumElems(cv2.LUT(cv2.absdiff(a, b), _SQUARES_U16))[0])


def _cc_u8(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> list[float]:
    """``[corr2(a, f), corr2(b, f)]`` of uint8 images from their exact integer moments
    (:mod:`fusionbench.metrics._moments`: one compiled pass, int64 sums; ``r = (n Sxy - Sx Sy) /
    sqrt((n Sxx - Sx^2)(n Syy - Sy^2))`` with exact integers, then one rounding per quantity):
    within a few ulp of the exact correlation, at least as close as the float64 formula."""
    from fusionbench.metrics._moments import centred, corr, sums3

    m, n = sums3(a, b, f), f.size
    d_ff = centred(n, m["f"], m["f"], m["ff"])
    return [corr(centred(n, m[s], m["f"], m[s + "f"]), centred(n, m[s], m[s], m[s + s]), d_ff) for s in "ab"]


def _scd_u8(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """:func:`scd` of uint8 images from their exact integer moments (as :func:`_cc_u8`): the
    difference ``F - VI`` has ``sum = Sf - Sb``, ``sum of squares = Sff - 2 Sbf + Sbb`` and
    ``sum (F - VI) IR = Saf - Sab``, all exact integers (likewise ``F - IR`` with VI)."""
    from fusionbench.metrics._moments import centred, corr, sums3

    m, n = sums3(a, b, f), f.size
    out = 0.0
    for s, o in (("a", "b"), ("b", "a")):   # corr(F - other, source)
        sx = m["f"] - m[o]
        sxx = m["ff"] - 2 * m[o + "f"] + m[o + o]
        sxy = m[s + "f"] - m["ab"]
        out += corr(n * sxy - sx * m[s], n * sxx - sx * sx, centred(n, m[s], m[s], m[s + s]))
    return out


def _triple_u8(images: list[np.ndarray]) -> list[np.ndarray] | None:
    """The uint8 images of a validated triple when all are 8-bit (see :func:`_u8`), else None."""
    u8 = [_u8(x) for x in images]
    return None if any(u is None for u in u8) else u8


def _float64(a: np.ndarray) -> np.ndarray:
    """``a`` as float64, as :func:`check_images` converts it (once per ``validated`` block)."""
    if a.dtype == np.float64:
        return a
    t = trusted_block()
    return t.float64(a) if t is not None and t.trusts(a) else a.astype(np.float64)


def vifb_distance(a: np.ndarray, b: np.ndarray) -> float:
    """VIFB's ``mse`` helper: ``sqrt(sum((a - b)^2)) / (M*N)`` -- not a mean squared error.

    (``metricsPsnr``/``metricsRmse``, xingchenzhang/VIFB @ 22b2ea9d.) It is the root of the
    sum, divided by the pixel count, i.e. ``RMSE / sqrt(M*N)``.
    """
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return float(np.sqrt(np.sum(d * d)) / d.size)


def corr2(a: np.ndarray, b: np.ndarray) -> float:
    """MATLAB ``corr2``: Pearson correlation of all pixels (NaN when one image is constant)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    da = a - a.mean()
    db = b - b.mean()
    den = np.sqrt(np.sum(da * da) * np.sum(db * db))
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.sum(da * db) / den)


# -- registered textbook metrics ------------------------------------------------------------

@register_metric("ssim", description="SSIM, mean of SSIM(IR,F) and SSIM(VI,F) (VIFB's vifb:ssim is their sum)",
                 higher_is_better=True, parts=("ir", "vi"),
                 reference="Wang et al. 2004, IEEE TIP 13(4); ssim_index.m (11x11 Gaussian 1.5, valid windows)")
def ssim(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, *, combine: str = "mean", **conventions) -> dict:
    """Structural similarity of the fused image to both sources.

    Notes
    -----
    ``SSIM = (SSIM(IR,F) + SSIM(VI,F)) / 2`` with Wang et al.'s SSIM (IEEE TIP 2004, reference
    ``ssim_index.m``): 11x11 Gaussian window sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255, mean over
    the valid windows. Range -1..1 (1 when F equals both sources); higher is better.
    Deliberate difference from VIFB: ``metricsSsim`` reports the *sum* of the two terms
    (range up to 2); ``vifb:ssim`` gives that, this is the mean. Parts ``ssim.ir``/``ssim.vi``.

    Configuration parameters: ``combine`` (``'mean'`` or ``'sum'`` of the two per-source
    values) and the keywords of :func:`ssim_map_general` (window, size, sigma, data_range,
    sample_covariance, border); the map's mean is taken over its pixels.
    """
    a, b, f = check_images(ir, vi, fused, who="ssim")
    if conventions:
        s_ir = float(ssim_map_general(f, a, **conventions).mean(dtype=np.float64))
        s_vi = float(ssim_map_general(f, b, **conventions).mean(dtype=np.float64))
    else:
        s_ir, s_vi = ssim_index(a, f), ssim_index(b, f)
    if combine not in ("mean", "sum"):
        raise ValueError(f"ssim: combine must be 'mean' or 'sum', got {combine!r}")
    return per_source(s_ir, s_vi, combine)


@register_metric("ms_ssim", description="multi-scale SSIM, mean of MS-SSIM(IR,F) and MS-SSIM(VI,F)",
                 higher_is_better=True, parts=("ir", "vi"),
                 reference="Wang, Simoncelli, Bovik 2003 (Asilomar); msssim.m (5 scales, 2x2 mean downsampling)")
def ms_ssim(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> dict:
    """Multi-scale SSIM of the fused image to both sources.

    Notes
    -----
    ``MS_SSIM = (MS-SSIM(IR,F) + MS-SSIM(VI,F)) / 2``, each per Wang et al. 2003 (reference
    ``msssim.m``: weights 0.0448, 0.2856, 0.3001, 0.2363, 0.1333; 11x11 Gaussian 1.5; 2x2 mean
    filter with symmetric border then decimation by 2). Images need at least 176 pixels on
    each side. Range 0..1 (1 for identical images); higher is better.
    """
    a, b, f = check_images(ir, vi, fused, who="ms_ssim")
    return per_source(ms_ssim_index(a, f), ms_ssim_index(b, f))


@register_metric("psnr", description="PSNR in dB from the true MSE averaged over IR and VI (VIFB's differs)",
                 higher_is_better=True,
                 reference="Jagalingam & Hegde 2015, Aquatic Procedia 4; 10*log10(255^2/MSE)")
def psnr(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, *, peak: str = "255", mse_scale: float = 1.0) -> float:
    """Peak signal-to-noise ratio of the fused image against both sources.

    Notes
    -----
    ``PSNR = 10 log10(255^2 / MSE)`` with ``MSE = (MSE(IR,F) + MSE(VI,F)) / 2`` and
    ``MSE(X,F) = mean((X - F)^2)``. Infinite when F equals both sources; higher is better.
    Deliberate difference from VIFB: ``metricsPsnr`` uses ``sqrt(sum((X-F)^2))/(M*N)`` in place
    of the MSE, which puts typical values at 55-65 dB instead of 10-20 dB (``vifb:psnr``).

    Configuration parameters: ``peak='fused_max'`` puts ``max(F)`` in place of 255 (CDDFuse);
    ``mse_scale=255`` takes the MSE of the images divided by 255 (0..1) while keeping the peak
    255, i.e. adds ``20 log10(255) = 48.13 dB`` (Tang, IVIF_ZOO).
    """
    images = check_images(ir, vi, fused, who="psnr", convert=False)  # 8-bit: exact integer path
    a, b, f = _triple_u8(images) or [_float64(x) for x in images]
    m = (mse(a, f) + mse(b, f)) / 2.0 / (mse_scale * mse_scale)
    if m == 0:
        return float("inf")
    if peak not in ("255", "fused_max"):
        raise ValueError(f"psnr: peak must be '255' or 'fused_max', got {peak!r}")
    top = 255.0 if peak == "255" else float(f.max())
    return float(10.0 * np.log10(top ** 2 / m))


def mean_mse(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, *, scale: float = 1.0) -> dict:
    """``(MSE(IR,F) + MSE(VI,F)) / 2`` of the images divided by ``scale`` (1: 0..255, 255: 0..1).

    Registered only as script configurations (``cddfuse:mse``, ``tang:mse``, ``zoo:mse``):
    fusionbench's own error metric is ``rmse``. Lower is better.
    """
    images = check_images(ir, vi, fused, who="mse", convert=False)  # 8-bit: exact integer path
    a, b, f = _triple_u8(images) or [_float64(x) for x in images]
    return per_source(mse(a, f) / scale ** 2, mse(b, f) / scale ** 2)


@register_metric("rmse", description="root mean squared error, mean of RMSE(IR,F) and RMSE(VI,F) (VIFB's differs)",
                 higher_is_better=False, parts=("ir", "vi"),
                 reference="Jagalingam & Hegde 2015, Aquatic Procedia 4")
def rmse(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> dict:
    """Root mean squared error of the fused image against both sources.

    Notes
    -----
    ``RMSE = (RMSE(IR,F) + RMSE(VI,F)) / 2`` with ``RMSE(X,F) = sqrt(mean((X - F)^2))`` on the
    0..255 scale. Range 0..255; lower is better. Deliberate difference from VIFB:
    ``metricsRmse`` averages ``sqrt(sum((X-F)^2))/(M*N)`` (= RMSE / sqrt(M*N)), see ``vifb:rmse``.
    """
    a, b, f = check_images(ir, vi, fused, who="rmse")
    return per_source(np.sqrt(mse(a, f)), np.sqrt(mse(b, f)))


@register_metric("cc", description="correlation coefficient, mean of corr(IR,F) and corr(VI,F)",
                 higher_is_better=True, parts=("ir", "vi"),
                 reference="Shreyamsha Kumar 2015 (SIVP 9) fusion_perform_fn.m; MATLAB corr2")
def cc(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> dict:
    """Pearson correlation of the fused image with each source, averaged.

    Notes
    -----
    ``CC = (r(IR,F) + r(VI,F)) / 2`` with ``r`` = MATLAB ``corr2`` over all pixels (as the
    "average normalized correlation" of Shreyamsha Kumar's ``fusion_perform_fn.m``). Range
    -1..1; invariant to affine intensity changes of any image; NaN when an image is constant.
    Higher is better.
    """
    images = check_images(ir, vi, fused, who="cc", convert=False)
    u8 = _triple_u8(images)
    if u8 is not None:
        return per_source(*_cc_u8(*u8))
    a, b, f = (_float64(x) for x in images)
    return per_source(corr2(a, f), corr2(b, f))


@register_metric("scd", description="sum of the correlations of differences, corr(F-VI,IR) + corr(F-IR,VI)",
                 higher_is_better=True,
                 reference="Aslantas & Bendes 2015, AEU 69(12); SCD.m (MATLAB corr2)")
def scd(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """Sum of the correlations of differences.

    Notes
    -----
    ``SCD = r(F - VI, IR) + r(F - IR, VI)`` (Aslantas & Bendes, AEU 2015; their ``SCD.m`` with
    ``corr2``): the difference image ``F - VI`` approximates what F took from IR and vice versa.
    Range -2..2 (typically 0..2); symmetric in the two sources; higher is better.
    """
    images = check_images(ir, vi, fused, who="scd", convert=False)
    u8 = _triple_u8(images)
    if u8 is not None:
        return _scd_u8(*u8)
    a, b, f = (_float64(x) for x in images)
    return corr2(f - b, a) + corr2(f - a, b)
