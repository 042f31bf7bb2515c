"""VIFB-compatible metrics ``vifb:*``: the values VIFB's MATLAB functions give, quirks included.

Ported from xingchenzhang/VIFB @ 22b2ea9d, ``metrics/metrics*.m``. VIFB's ``compute_metrics.m``
calls ``metricsX(imgVI, imgIR, fused)`` on ``imread`` output; our interface is
``fn(ir, vi, fused)`` and these metrics are registered with ``input="raw"``, so they receive the
arrays as read (uint8; ``HxWx3`` where the file is colour).

Colour handling (shared by most VIFB functions)
-----------------------------------------------
* Fused colour (``HxWx3``): the metric is computed per channel ``k`` on
  ``(VI[..., k], IR or IR[..., k], F[..., k])`` (the IR is used whole when it is gray) and the
  three values are averaged. Where VIFB would fail (a gray VI with a colour fused image makes
  its ``img1(:,:,k)`` index out of range) the gray source is used for every channel.
* Fused gray: one call on the full sources; a colour source is turned gray inside the helper,
  either by ``rgb2gray`` on uint8 (rounded) or on ``double`` (not rounded), as each VIFB
  function does. VIFB's ``metricsQcb``/``metricsQcv`` fail on a colour source with a gray fused
  image (size mismatch); here the source's MATLAB ``rgb2gray`` is used.
* ``vifb:sf`` follows ``[m,n] = size(fused)``: on a colour image ``n`` is 3W and the three
  channels are scanned side by side as one ``H x 3W`` image (the two seams included).

Values are reproduced to VIFB's stored 5 significant digits (``tests/metrics/test_vifb_metrics.py``
against ``../shared/reference/vifb_metrics.csv``).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fusionbench.imageio import RGB2GRAY, check_images
from fusionbench.metrics.gradient import average_gradient_matlab, edge_intensity, spatial_frequency
from fusionbench.metrics.information import cross_entropy, mutinf_vifb
from fusionbench.metrics.perceptual import chen_blum, chen_varshney
from fusionbench.metrics.qabf import QABF_VIFB, qabf_arrays
from fusionbench.metrics.similarity import ssim_index, vifb_distance
from fusionbench.metrics.stats import entropy, std_population
from fusionbench.registry import register_metric

VIFB_REF = "xingchenzhang/VIFB @ 22b2ea9d metrics/"


# -- colour plumbing --------------------------------------------------------------------------

def _check_raw(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, who: str) -> list[np.ndarray]:
    """Validate (sizes, range, finiteness) and return the arrays unchanged in dtype/shape."""
    arrs = [np.asarray(x) for x in (ir, vi, fused)]
    arrs = [a[..., 0] if a.ndim == 3 and a.shape[2] == 1 else a for a in arrs]
    check_images(*arrs, names=("ir", "vi", "fused"), who=who, gray=False)
    return arrs


def _gray_uint8(x: np.ndarray) -> np.ndarray:
    """MATLAB ``double(rgb2gray(x))`` on the image as read: rounded for uint8, not for float."""
    if x.ndim == 2:
        return np.asarray(x, np.float64)
    g = np.asarray(x, np.float64) @ RGB2GRAY
    return np.floor(g + 0.5) if x.dtype == np.uint8 else g


def _gray_double(x: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray(double(x))``: the weighted sum, not rounded."""
    x = np.asarray(x, np.float64)
    return x if x.ndim == 2 else x @ RGB2GRAY


def _per_channel(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray,
                 single: Callable[[np.ndarray, np.ndarray, np.ndarray], float]) -> float:
    """VIFB's dispatch: ``single(vi, ir, f)`` once for a gray fused image, else mean over channels."""
    if fused.ndim == 2:
        return float(single(vi, ir, np.asarray(fused, np.float64)))
    vals = []
    for k in range(fused.shape[2]):
        v = vi[..., k] if vi.ndim == 3 else vi
        i = ir[..., k] if ir.ndim == 3 else ir
        vals.append(single(v, i, np.asarray(fused[..., k], np.float64)))
    return float(np.mean(vals))


def _fused_bands(fused: np.ndarray) -> list[np.ndarray]:
    f = np.asarray(fused, np.float64)
    return [f] if f.ndim == 2 else [f[..., k] for k in range(f.shape[2])]


# -- the thirteen metrics ---------------------------------------------------------------------

@register_metric("vifb:en", description="VIFB metricsEntropy: entropy (bits) of F, mean over colour channels",
                 higher_is_better=True, input="raw", reference=VIFB_REF + "metricsEntropy.m")
def vifb_en(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """VIFB ``metricsEntropy``: 256-bin entropy in bits of each fused channel (levels
    ``floor(x)``), averaged over channels. Equals ``en`` on a gray image. Range 0..8; higher is better."""
    _, _, f = _check_raw(ir, vi, fused, "vifb:en")
    return float(np.mean([entropy(np.floor(b)) for b in _fused_bands(f)]))


@register_metric("vifb:sd", description="VIFB metricsVariance: population SD of F, mean over colour channels",
                 higher_is_better=True, input="raw", reference=VIFB_REF + "metricsVariance.m")
def vifb_sd(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """VIFB ``metricsVariance`` (despite the name, a standard deviation): population SD of each
    fused channel, averaged. Equals ``sd`` on a gray image. Higher is better."""
    _, _, f = _check_raw(ir, vi, fused, "vifb:sd")
    return float(np.mean([std_population(b) for b in _fused_bands(f)]))


@register_metric("vifb:sf", description="VIFB metricsSpatial_frequency: SF of F (colour: channels side by side)",
                 higher_is_better=True, input="raw", reference=VIFB_REF + "metricsSpatial_frequency.m")
def vifb_sf(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """VIFB ``metricsSpatial_frequency``: ``sqrt(RF + CF)``, squared differences summed and divided
    by ``m*n`` from ``[m,n] = size(F)``. Quirk: for a colour F, MATLAB gives ``n = 3W`` and
    indexes the array as ``H x 3W`` (R, G, B side by side), so the value is the SF of that
    strip, including the two channel seams. Equals ``sf`` on a gray image. Higher is better."""
    _, _, f = _check_raw(ir, vi, fused, "vifb:sf")
    bands = _fused_bands(f)
    return spatial_frequency(np.concatenate(bands, axis=1) if len(bands) > 1 else bands[0])


@register_metric("vifb:ag",
                 description="VIFB metricsAvg_gradient: MATLAB-gradient AG / ((M-1)(N-1)), mean over channels",
                 higher_is_better=True, input="raw", reference=VIFB_REF + "metricsAvg_gradient.m")
def vifb_ag(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """VIFB ``metricsAvg_gradient``: per channel, MATLAB ``gradient`` (central differences, one-sided
    at the border), ``sum(sqrt((gx^2+gy^2)/2)) / ((M-1)(N-1))``; channel mean. Differs from
    ``ag`` (forward differences on the (M-1)(N-1) grid). Higher is better."""
    _, _, f = _check_raw(ir, vi, fused, "vifb:ag")
    return float(np.mean([average_gradient_matlab(b) for b in _fused_bands(f)]))


@register_metric("vifb:ei", description="VIFB metricsEdge_intensity: mean Sobel magnitude of F (all channels)",
                 higher_is_better=True, input="raw", reference=VIFB_REF + "metricsEdge_intensity.m")
def vifb_ei(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """VIFB ``metricsEdge_intensity``: ``imfilter(F, fspecial('sobel'), 'replicate')`` and its
    transpose per channel, mean of the magnitude over all pixels and channels (channels are the
    same size, so the channel mean of :func:`edge_intensity`). Equals ``ei`` on gray. Higher is better."""
    _, _, f = _check_raw(ir, vi, fused, "vifb:ei")
    return float(np.mean([edge_intensity(b) for b in _fused_bands(f)]))


@register_metric("vifb:mi", description="VIFB metricsMutinf: MI(VI,F)+MI(IR,F) in nats after min-max stretch",
                 higher_is_better=True, input="raw", reference=VIFB_REF + "metricsMutinf.m")
def vifb_mi(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """VIFB ``metricsMutinf``: ``mutinf(VI,F) + mutinf(IR,F)`` per channel, channel mean;
    ``mutinf`` stretches each image to 0..255 (rounded), 256x256 joint histogram, natural log
    (nats). A colour source with a gray F goes through ``rgb2gray`` on uint8. Differs from
    ``mi`` (bits, no stretch). Higher is better."""
    ir, vi, f = _check_raw(ir, vi, fused, "vifb:mi")
    return _per_channel(ir, vi, f, lambda v, i, fk: mutinf_vifb(_gray_uint8(v), fk) + mutinf_vifb(_gray_uint8(i), fk))


@register_metric("vifb:ce", description="VIFB metricsCross_entropy: (KL(VI||F)+KL(IR||F))/2 in bits, channel mean",
                 higher_is_better=False, input="raw", reference=VIFB_REF + "metricsCross_entropy.m")
def vifb_ce(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """VIFB ``metricsCross_entropy``: ``(D(VI||F) + D(IR||F)) / 2`` of the 256-level histograms
    (bits; levels missing from either image skipped), per channel, channel mean. Equals ``ce``
    on gray images. Lower is better."""
    ir, vi, f = _check_raw(ir, vi, fused, "vifb:ce")
    return _per_channel(ir, vi, f, lambda v, i, fk: (cross_entropy(_gray_uint8(v), fk)
                                                     + cross_entropy(_gray_uint8(i), fk)) / 2.0)


def _vifb_d(v: np.ndarray, i: np.ndarray, fk: np.ndarray) -> float:
    return (vifb_distance(_gray_double(v), fk) + vifb_distance(_gray_double(i), fk)) / 2.0


@register_metric("vifb:psnr", description="VIFB metricsPsnr: 20log10(255/sqrt(d)), d=sqrt(sum diff^2)/(MN), not an MSE",
                 higher_is_better=True, input="raw", reference=VIFB_REF + "metricsPsnr.m")
def vifb_psnr(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """VIFB ``metricsPsnr``: ``20 log10(255 / sqrt(MES))`` with ``MES = (d(VI,F) + d(IR,F)) / 2`` and
    ``d(X,F) = sqrt(sum((X-F)^2)) / (M*N)`` (VIFB's ``mse`` helper -- not a mean squared error,
    hence typical values of 55-65 dB), per channel, channel mean. Differs from ``psnr``.
    Higher is better."""
    ir, vi, f = _check_raw(ir, vi, fused, "vifb:psnr")

    def single(v, i, fk):
        d = _vifb_d(v, i, fk)
        return float("inf") if d == 0 else 20.0 * np.log10(255.0 / np.sqrt(d))

    return _per_channel(ir, vi, f, single)


@register_metric("vifb:rmse", description="VIFB metricsRmse: (d(VI,F)+d(IR,F))/2, d=sqrt(sum diff^2)/(MN)",
                 higher_is_better=False, input="raw", reference=VIFB_REF + "metricsRmse.m")
def vifb_rmse(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """VIFB ``metricsRmse``: ``(d(VI,F) + d(IR,F)) / 2`` with ``d(X,F) = sqrt(sum((X-F)^2)) / (M*N)``
    (= RMSE / sqrt(M*N), so values are ~0.02-0.1), per channel, channel mean. Differs from
    ``rmse``. Lower is better."""
    ir, vi, f = _check_raw(ir, vi, fused, "vifb:rmse")
    return _per_channel(ir, vi, f, _vifb_d)


@register_metric("vifb:ssim", description="VIFB metricsSsim: SSIM(VI,F)+SSIM(IR,F) (sum, range up to 2)",
                 higher_is_better=True, input="raw", reference=VIFB_REF + "metricsSsim.m")
def vifb_ssim(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """VIFB ``metricsSsim``: the **sum** ``SSIM(VI,F) + SSIM(IR,F)`` (Wang's SSIM, 11x11 Gaussian
    sigma 1.5, valid windows), per channel, channel mean; a colour source with gray F goes
    through ``rgb2gray`` on uint8. ``ssim`` reports the mean of the two instead. Higher is better."""
    ir, vi, f = _check_raw(ir, vi, fused, "vifb:ssim")
    return _per_channel(ir, vi, f, lambda v, i, fk: ssim_index(_gray_uint8(v), fk) + ssim_index(_gray_uint8(i), fk))


@register_metric("vifb:qabf", description="VIFB metricsQabf: Xydeas-Petrovic Q_ABF, VIFB form (quirks kept)",
                 higher_is_better=True, input="raw", params=dict(QABF_VIFB),
                 reference=VIFB_REF + "metricsQabf.m")
def vifb_qabf(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, **form) -> float:
    """VIFB ``metricsQabf``: :func:`fusionbench.metrics.qabf.qabf` in the form
    :data:`~fusionbench.metrics.qabf.QABF_VIFB` (Tg 0.9994, kg -15, Dg 0.5, Ta 0.9879, ka -22,
    Da 0.8; Sobel by ``conv2(..., 'same')``; ``alpha = atan(Sy/Sx)``, pi/2 where Sx == 0;
    ``A = 1 - |aX - aF| / (pi/2)``; ``sum(Q_AF gA + Q_BF gB) / sum(gA + gB)``) per channel
    (A = VI, B = IR), channel mean. Quirks kept: the images are scaled by 255 first
    (``255*im2double`` of a double), and where ``gX == gF`` the strength ratio is set to ``gF``
    itself instead of 1. A colour source with gray F goes through ``rgb2gray`` on double
    (not rounded). Range 0..1; higher is better."""
    ir, vi, f = _check_raw(ir, vi, fused, "vifb:qabf")
    return _per_channel(ir, vi, f, lambda v, i, fk: qabf_arrays(_gray_double(i), _gray_double(v), fk, **form))


@register_metric("vifb:qcb", description="VIFB metricsQcb: Chen-Blum Q_CB per channel, channel mean",
                 higher_is_better=True, input="raw", reference=VIFB_REF + "metricsQcb.m")
def vifb_qcb(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """VIFB ``metricsQcb`` (Liu's ``metricChenBlum``, :func:`chen_blum`) per channel with
    (VI, IR, F), channel mean. Range 0..1; higher is better."""
    ir, vi, f = _check_raw(ir, vi, fused, "vifb:qcb")
    return _per_channel(ir, vi, f, lambda v, i, fk: chen_blum(_gray_uint8(v), _gray_uint8(i), fk))


@register_metric("vifb:qcv",
                 description="VIFB metricsQcv: Chen-Varshney Q_CV per channel, channel mean (lower is better)",
                 higher_is_better=False, input="raw", reference=VIFB_REF + "metricsQcv.m")
def vifb_qcv(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """VIFB ``metricsQcv`` (Liu's ``metricChen``, :func:`chen_varshney`: 16x16 ``blkproc`` blocks
    with zero padding, MATLAB ``freqspace``) per channel with (VI, IR, F), channel mean.
    Lower is better."""
    ir, vi, f = _check_raw(ir, vi, fused, "vifb:qcv")
    return _per_channel(ir, vi, f, lambda v, i, fk: chen_varshney(_gray_uint8(v), _gray_uint8(i), fk))

