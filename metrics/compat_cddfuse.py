"""``cddfuse:*``: the metrics of CDDFuse's ``utils/Evaluator.py``, values as that script computes them.

Reference code followed: Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f, ``utils/Evaluator.py`` (class
``Evaluator``) with images read by ``utils/img_read_save.py:image_read_cv2(path, 'GRAY')``, as
its ``test_IVF.py`` calls them, in its pinned environment (scikit-image 0.19). Every name is a
configuration of a shared fusionbench implementation; the differences from the textbook metric
of the same name are the parameters shown by ``fusionbench metrics --same-as QUANTITY``.

Input convention ``cddfuse``: ``cv2.imread`` (BGR, gray files replicated) -> float32 ->
``cvtColor(BGR2GRAY)`` (0.299/0.587/0.114 in float32) -> ``np.round``: float32 on 0..255.
The script computes in float32 (numpy 1.23); fusionbench computes in float64 from the same
integer pixels, which agrees to ~4e-7 relative (the script's own run-to-run spread across
numpy versions is 7.9e-7, ``../shared/reference/compat/README.md`` A.2).
"""
from __future__ import annotations

import cv2
import numpy as np

from fusionbench.metrics.gradient import ag, sf
from fusionbench.metrics.information import mi
from fusionbench.metrics.qabf import QABF_VIFB, qabf
from fusionbench.metrics.similarity import cc, mean_mse, psnr, scd, ssim
from fusionbench.metrics.stats import en, sd
from fusionbench.metrics.vifp import vifp_sum
from fusionbench.registry import register_input, register_metric, register_preset

REF = "Zhaozixiang1228/MMIF-CDDFuse @fd8da1f utils/Evaluator.py"


def cv2_gray_float32(raw: np.ndarray) -> np.ndarray:
    """CDDFuse ``image_read_cv2(path, 'GRAY')`` on an image as read (uint8 gray or RGB).

    A 2-D 8-bit image is its own conversion (``np.round`` of integers is the identity): inside
    :func:`fusionbench.evaluate` (a :func:`~fusionbench.imageio.validated` block trusting it) the
    uint8 array itself is handed on, since every ``cddfuse:*`` metric takes float64 of its inputs
    first (``check_images``) and float64 of the uint8 array is the very float64 of its float32
    copy; the block converts it once for all metrics (the gray image's own float64). Outside
    ``evaluate`` the float32 array is returned, as the script has it.
    """
    a = np.asarray(raw)
    if a.ndim == 2:
        if a.dtype == np.uint8:
            from fusionbench.imageio import trusted_block

            block = trusted_block()
            if block is not None and block.trusts(a):
                return a
            return a.astype(np.float32)
        return np.round(a.astype(np.float32))
    return np.round(cv2.cvtColor(np.ascontiguousarray(a, np.float32), cv2.COLOR_RGB2GRAY))


register_input("cddfuse", cv2_gray_float32,
               "CDDFuse image_read_cv2(.., 'GRAY'): cv2 BGR -> float32 -> cvtColor BGR2GRAY -> np.round (float32 0..255)")


def _reg(name: str, fn, description: str, higher: bool = True, quantity: str | None = None,
         parts: tuple[str, ...] = (), **params) -> None:
    register_metric(f"cddfuse:{name}", description=description, higher_is_better=higher, input="cddfuse",
                    reference=f"{REF} Evaluator.{name.upper() if name != 'qabf' else 'Qabf'}",
                    params=params, quantity=quantity, parts=parts)(fn)


_reg("en", en, "entropy of F in bits, 256 bins (= en)")
_reg("sd", sd, "population SD of F (= sd; float32 in the script)")
_reg("sf", sf, "spatial frequency with each term the MEAN over its difference grid (sf divides by M*N)",
     norm="differences")
_reg("ag", ag, "average gradient: np.gradient central differences, mean over all M*N (vifb:ag divides by (M-1)(N-1))",
     gradient="central", norm="pixels")
_reg("mi", mi, "MI(F,IR)+MI(F,VI) in NATS (sklearn mutual_info_score on the pixel values); = mi x ln 2",
     parts=("ir", "vi"), base="e")
_reg("mse", mean_mse, "(MSE(IR,F)+MSE(VI,F))/2 on the 0..255 scale (Tang/ZOO use 0..1)", higher=False,
     parts=("ir", "vi"), scale=1.0)
_reg("cc", cc, "mean of corr(IR,F), corr(VI,F) (= cc)", parts=("ir", "vi"))
_reg("psnr", psnr, "10 log10(max(F)^2 / MSE): peak is the FUSED IMAGE'S MAX, not 255", peak="fused_max")
_reg("scd", scd, "sum of the correlations of differences (= scd)")
_reg("viff", vifp_sum, "LIVE pixel-domain vifp_mscale SUMMED over IR and VI (range to 2), NaN -> 1; not vifvec",
     quantity="vif", parts=("ir", "vi"), grid="centred", border="valid", nan_as=1.0)
_reg("qabf", qabf, "Xydeas-Petrovic Q_ABF, VIFB form incl. GAF = gF where gA == gF (= qabf)", **QABF_VIFB)
_reg("ssim", ssim, "SSIM(F,IR)+SSIM(F,VI) SUMMED, skimage 0.19 defaults: 7x7 uniform window, sample covariance, "
     "data_range = 2 (float dtype range), so C1, C2 ~16000x smaller than for L=255",
     parts=("ir", "vi"), combine="sum", window="uniform", size=7, data_range=2.0, sample_covariance=True,
     dtype="float32")

register_preset("cddfuse", [f"cddfuse:{m}" for m in ("en", "sd", "sf", "mi", "scd", "viff", "qabf", "ssim")],
                "the 8 columns CDDFuse's test_IVF.py prints (EN SD SF MI SCD VIF Qabf SSIM), values as it computes them")
