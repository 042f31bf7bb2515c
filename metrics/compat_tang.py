"""``tang:*``: the metrics of Linfeng-Tang/Evaluation-for-Image-Fusion, values as its MATLAB computes them.

Reference code followed: Linfeng-Tang/Evaluation-for-Image-Fusion @ 0e87153,
``Evaluation/analysis_Reference.m`` and the functions it calls, with the image reading of its
``Evaluation_for_*`` scripts (``imread``, ``rgb2gray`` only for colour: uint8). Each value is
what ``analysis_Reference`` computes in the branch that actually evaluates it (``easy=1``
for EN..Qabf, ``easy=0`` for Nabf, SSIM, MS_SSIM, FMI_*); fusionbench never returns the
script's placeholder 1s. Everything is float64, as in MATLAB.

``FMI_dct`` was checked against the unmodified ``analysis_fmi.m`` under GNU Octave 7.3 on image
crops (a whole image takes Octave ~15 min): agreement 6e-15 (``tests/metrics/compat_fmi``).

Not registered: ``FMI_pixel`` (MATLAB ``edge``'s Sobel thinning is an undocumented MEX; Octave's
differs) and ``FMI_w`` (Wavelet Toolbox's 102-tap ``dmey``; PyWavelets' has 62 taps): neither
can be reproduced exactly without MATLAB.
"""
from __future__ import annotations

import numpy as np

from fusionbench.imageio import check_images, rgb2gray
from fusionbench.metrics.gradient import ag, nabf, sf
from fusionbench.metrics.information import fmi, mi
from fusionbench.metrics.mef_ssim import mef_ssim_mscale
from fusionbench.metrics.qabf import QABF_VIFB, qabf
from fusionbench.metrics.similarity import cc, mean_mse, psnr, scd, ssim
from fusionbench.metrics.stats import en, sd
from fusionbench.metrics.vifp import vifp_sum
from fusionbench.registry import register_input, register_metric, register_preset

REF = "Linfeng-Tang/Evaluation-for-Image-Fusion @0e87153 Evaluation/analysis_Reference.m"


def matlab_uint8_gray(raw: np.ndarray) -> np.ndarray:
    """``imread`` then ``rgb2gray`` if colour (MATLAB weights, round half away): uint8."""
    a = np.asarray(raw)
    g = rgb2gray(a)
    return g if g.dtype == np.uint8 else np.asarray(g, np.float64)


register_input("tang", matlab_uint8_gray,
               "MATLAB imread + rgb2gray only for colour (uint8; analysis_Reference makes im2double*255 copies)")


def mef_ssim_metric(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """Tang's ``MS_SSIM``: ``analysis_ms_ssim(cat(3, IR, VI), F)``, i.e. 3-scale MEF-SSIM
    (Ma, Zeng & Wang, IEEE TIP 24(11) 2015), not Wang's MS-SSIM. Range 0..1; higher is better."""
    a, b, f = check_images(ir, vi, fused, who="tang:ms_ssim")
    return mef_ssim_mscale([a, b], f)


def _reg(name: str, fn, description: str, higher: bool = True, quantity: str | None = None,
         parts: tuple[str, ...] = (), where: str = "", **params) -> None:
    register_metric(f"tang:{name}", description=description, higher_is_better=higher, input="tang",
                    reference=f"{REF}{' ' + where if where else ''}", params=params, quantity=quantity,
                    parts=parts)(fn)


_reg("en", en, "MATLAB entropy(uint8 F): 256 bins, bits (= en)")
_reg("sf", sf, "spatial frequency, each term the MEAN over its difference grid (sf divides by M*N)",
     where="SF_evaluation.m", norm="differences")
_reg("sd", sd, "population SD of F (= sd)", where="SD_evaluation.m")
_reg("psnr", psnr, "20 log10(255/sqrt(MSE)) with MSE on [0,1] images: = psnr + 48.13 dB",
     where="PSNR_evaluation.m", mse_scale=255.0)
_reg("mse", mean_mse, "(MSE(IR,F)+MSE(VI,F))/2 on [0,1]-scaled images", higher=False, parts=("ir", "vi"),
     where="MSE_evaluation.m", scale=255.0)
_reg("mi", mi, "MI in bits, but Hab's uint8 '+1' saturates: levels 254 and 255 share a joint bin "
     "(marginals keep them apart), up to ~2.5e-3 off mi", parts=("ir", "vi"),
     where="MI_evaluation.m, Hab.m", merge_top=True)
_reg("vif", vifp_sum, "LIVE pixel-domain vifp_mscale SUMMED over IR and VI (range to 2); not vifvec",
     parts=("ir", "vi"), where="vifp_mscale.m", grid="centred", border="valid")
_reg("ag", ag, "MATLAB gradient (central differences) at all pixels / ((M-1)(N-1)) (= vifb:ag on gray)",
     where="AG_evaluation.m", gradient="central", norm="grid")
_reg("cc", cc, "mean of corr(IR,F), corr(VI,F) (its rBF mean-of-A bug cancels; = cc)", parts=("ir", "vi"),
     where="CC_evaluation.m")
_reg("scd", scd, "sum of the correlations of differences (= scd)", where="analysis_SCD.m")
_reg("qabf", qabf, "Xydeas-Petrovic Q_ABF, conv2 'same', GAF = gF where gA == gF (= qabf)", where="analysis_Qabf.m",
     **QABF_VIFB)
_reg("nabf", nabf, "Kumar N_ABF called as analysis_nabf(IR, VI, F) though its first argument is the fused "
     "image: IR plays F, VI plays A, F plays B (values ~1e-2..1e-1; correct order gives ~1e-7)",
     higher=False, where="analysis_nabf.m", operands="vi,fused,ir")
_reg("ssim", ssim, "(SSIM(F,IR)+SSIM(F,VI))/2 by MATLAB ssim with DynamicRange 1 (class double) on 0..255 data: "
     "C1=1e-4, C2=9e-4 (near structure-only SSIM); 11x11 Gaussian, replicate border, full map mean",
     parts=("ir", "vi"), where="MATLAB ssim", combine="mean", window="gaussian", size=11, sigma=1.5,
     data_range=1.0, border="replicate")
register_metric("tang:ms_ssim", description="MEF-SSIM of F against the (IR, VI) sequence, 3 scales "
                "(analysis_ms_ssim / mef_ssim): NOT Wang's MS-SSIM",
                higher_is_better=True, input="tang", quantity="ms_ssim",
                reference=f"{REF} analysis_ms_ssim.m, mef_ssim.m (Ma, Zeng & Wang, IEEE TIP 24(11) 2015)"
                )(mef_ssim_metric)
_reg("fmi_dct", fmi, "Haghighat FMI on dct2 (orthonormal DCT-II of the whole image) features, 3x3 windows; "
     "matches the script under GNU Octave (image crops, tests/metrics/compat_fmi), not run in MATLAB",
     quantity="fmi", where="analysis_fmi.m (feature 'dct')", feature="dct", w=3)

TANG_ORDER = ("en", "sf", "sd", "psnr", "mse", "mi", "vif", "ag", "cc", "scd", "qabf", "nabf", "ssim",
              "ms_ssim", "fmi_dct")
register_preset("tang", [f"tang:{m}" for m in TANG_ORDER],
                "Tang's Evaluation-for-Image-Fusion analysis_Reference metrics, values as its MATLAB computes them "
                "(FMI_pixel and FMI_w cannot be reproduced without MATLAB and are left out)")
