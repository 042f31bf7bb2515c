"""IFC and VIF (pixel-domain GSM vector forms) as the LIVE ``ifcvec`` / ``vifvec`` releases.

Both compare a *reference* image with a *distorted* one. For fusion each source is taken in
turn as the reference and the fused image as the distorted one; the parts ``ir``/``vi`` are
those two values and the fusion score is **their mean** (see ``../shared/reference/README.md``).

Reference code followed (ported, not wrapped): LIVE ``ifcvec.m``, ``distsub_est_m.m``,
``refparams_vecgsm.m``, ``ind2wtree.m`` as distributed in jbhuang0604/SelfExSR @ 8f6dd8c1
(``quant_eval/ifcvec_release``), LIVE ``vifvec.m`` (same helpers, ``sigma_nsq = 0.4``), and
``buildSpyr(img, 4, 'sp5Filters', 'reflect1')`` from LabForComputationalVision/matlabPyrTools
@ f02ab059 with its ``corrDn.m`` fallback (see :mod:`fusionbench.metrics._steerable`).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from fusionbench.imageio import check_images
from fusionbench.metrics._steerable import build_spyr, wtree_location
from fusionbench.registry import register_metric

M = 3                                        # GSM vectors are M x M blocks
SUBBANDS = (4, 7, 10, 13, 16, 19, 22, 25)     # ind2wtree numbering, 4-level sp5 pyramid
HEIGHT = 4
TOL = 1e-15                                   # distsub_est_m's zero-variance tolerance
IFC_EPS = 1e-10                               # ifcvec's tolerance added to sigma_v^2
VIF_SIGMA_NSQ = 0.4                           # vifvec's HVS noise variance
_LOCATIONS = {k: wtree_location(k, HEIGHT) for k in SUBBANDS}
_BANDS = tuple(sorted({b for _, b in _LOCATIONS.values()}))


def _window(k: int) -> int:
    """Side of the box window of subband ``k``: ``2^lev + 1`` with ``lev = ceil((k-1)/6)``."""
    return 2 ** math.ceil((k - 1) / 6) + 1


def _subbands(img: np.ndarray) -> dict[int, np.ndarray]:
    """The subbands ``SUBBANDS`` of ``buildSpyr(img, 4, 'sp5Filters', 'reflect1')``."""
    pyr = build_spyr(img, HEIGHT, bands=_BANDS, hi0=False)
    return {k: pyr.bands[lev][b] for k, (lev, b) in _LOCATIONS.items()}


def _crop(y: np.ndarray) -> np.ndarray:
    return y[: y.shape[0] // M * M, : y.shape[1] // M * M]


def _ref_params(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``refparams_vecgsm`` for one subband: (S field on the block grid, eigenvalues of C_U).

    ``C_U`` is the (population) covariance of all overlapping ``M x M`` blocks; the S field is
    ``v' C_U^{-1} v / M^2`` for the non-overlapping blocks ``v``.
    """
    y = _crop(y)
    h, w = y.shape
    win = np.lib.stride_tricks.sliding_window_view(y, (M, M))       # (h-M+1, w-M+1, M, M)
    vecs = win.reshape(-1, M * M)
    centred = vecs - vecs.mean(axis=0)
    cu = centred.T @ centred / vecs.shape[0]
    blocks = y.reshape(h // M, M, w // M, M).transpose(0, 2, 1, 3).reshape(h // M, w // M, M * M)
    q = blocks @ np.linalg.inv(cu).T                                 # inv(cu) * v for each block
    ss = np.einsum("ijk,ijk->ij", q, blocks) / (M * M)
    lam = np.linalg.eigvalsh(cu)
    return ss, lam


def _channel(y: np.ndarray, yn: np.ndarray, win: int) -> tuple[np.ndarray, np.ndarray]:
    """``distsub_est_m`` for one subband: gain ``g`` and noise variance ``vv`` per block.

    Box-window (``win x win``) statistics centred on each block's middle sample (stride M),
    reflect1 edges, then the release's clean-up rules, in its order.
    """
    y, yn = _crop(y), _crop(yn)
    n = float(win * win)

    # Direct separable window sums (not running sums, not DFT): each output depends only on
    # the samples in its window, so where the two subbands agree, cov == ss_x == ss_y exactly
    # and sigma_v^2 is ~0 as in MATLAB's conv2, rather than round-off of far-away samples.
    ones = np.ones(win)

    def box(a: np.ndarray, normalize: bool) -> np.ndarray:
        k = ones / win if normalize else ones
        full = cv2.sepFilter2D(a, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT_101)
        return full[M // 2::M, M // 2::M]

    mx, my = box(y, True), box(yn, True)
    cov = box(y * yn, False) - n * mx * my
    ss_x = box(y * y, False) - n * mx * mx
    ss_y = box(yn * yn, False) - n * my * my
    ss_x[ss_x < 0] = 0.0
    ss_y[ss_y < 0] = 0.0
    g = cov / (ss_x + TOL)
    vv = (ss_y - g * cov) / n
    low = ss_x < TOL
    g[low] = 0.0
    vv[low] = ss_y[low]
    low = ss_y < TOL
    g[low] = 0.0
    vv[low] = 0.0
    neg = g < 0
    vv[neg] = ss_y[neg]
    g[neg] = 0.0
    vv[vv <= TOL] = TOL
    return g, vv


def _ifc_vif(ref_sub: dict[int, np.ndarray], dist_sub: dict[int, np.ndarray],
             n_pixels: int) -> tuple[float, float]:
    """(ifcvec, vifvec) of one reference/distorted pair from their subbands."""
    ifc_sum = 0.0
    vif_num = 0.0
    vif_den = 0.0
    for k in SUBBANDS:
        win = _window(k)
        g, vv = _channel(ref_sub[k], dist_sub[k], win)
        ss, lam = _ref_params(ref_sub[k])
        off = math.ceil(((win - 1) // 2) / M)
        sl = (slice(off, g.shape[0] - off), slice(off, g.shape[1] - off))
        g, vv, ss = g[sl], vv[sl], ss[sl]
        gs = (g * g * ss)[..., None] * lam                       # g^2 s lambda_j
        ifc_sum += float(np.log2(1.0 + gs / (vv[..., None] + IFC_EPS)).sum())
        vif_num += float(np.log2(1.0 + gs / (vv[..., None] + VIF_SIGMA_NSQ)).sum())
        vif_den += float(np.log2(1.0 + ss[..., None] * lam / VIF_SIGMA_NSQ).sum())
    return ifc_sum / n_pixels, vif_num / vif_den


def ifcvec(ref: np.ndarray, dist: np.ndarray) -> float:
    """LIVE ``ifcvec(ref, dist)`` on float64 gray 0..255 images (order matters)."""
    ref, dist = check_images(ref, dist, names=("reference", "distorted"), who="ifcvec")
    return _ifc_vif(_subbands(ref), _subbands(dist), ref.size)[0]


def vifvec(ref: np.ndarray, dist: np.ndarray) -> float:
    """LIVE ``vifvec(ref, dist)`` on float64 gray 0..255 images (order matters)."""
    ref, dist = check_images(ref, dist, names=("reference", "distorted"), who="vifvec")
    return _ifc_vif(_subbands(ref), _subbands(dist), ref.size)[1]


def ifc_vif_parts(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> dict[str, float]:
    """``ifcvec``/``vifvec`` with each source as reference: keys ``ifc.ir, ifc.vi, vif.ir, vif.vi``.

    The fused image's pyramid is built once and shared by both sources.
    """
    ir, vi, fused = check_images(ir, vi, fused, who="ifc/vif")
    fsub = _subbands(fused)
    out: dict[str, float] = {}
    for name, src in (("ir", ir), ("vi", vi)):
        out[f"ifc.{name}"], out[f"vif.{name}"] = _ifc_vif(_subbands(src), fsub, src.size)
    return out


_NOTES = """
    Notes
    -----
    Subbands: a 4-level steerable pyramid (sp5 filters, reflect1 edges; ``buildSpyr``), of which
    the subbands ``[4 7 10 13 16 19 22 25]`` in ``ind2wtree`` order (orientations 1 and 4 of every
    level) are used. Each is cropped to a multiple of M = 3. Reference statistics: ``C_U`` is the
    covariance of all overlapping 3x3 blocks, ``s`` = ``v' C_U^-1 v / 9`` for non-overlapping blocks
    ``v``, ``lambda_j`` the 9 eigenvalues of ``C_U``. Channel: gain ``g = cov/(var_ref + 1e-15)`` and
    ``sigma_v^2 = (var_dist - g cov)/W`` from a ``W = w x w`` box window (``w = 2^lev + 1``,
    ``lev = ceil((sub-1)/6)``) at the block centres, with the release's clean-up rules; border
    blocks (``ceil(((w-1)/2)/3)`` each side) are dropped.
"""


@register_metric(
    "ifc", parts=("ir", "vi"), higher_is_better=True,
    description="information fidelity criterion (LIVE ifcvec), mean over the two sources as reference",
    reference="Sheikh, Bovik & de Veciana, IEEE TIP 2005; LIVE ifcvec release (jbhuang0604/SelfExSR "
              "@8f6dd8c1 quant_eval/ifcvec_release) with matlabPyrTools @f02ab059 buildSpyr sp5/reflect1",
)
def ifc(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> dict[str, float]:
    """IFC of a fused image: ``ifc.ir = ifcvec(IR, F)``, ``ifc.vi = ifcvec(VI, F)``, total = their mean.

    ``ifcvec = sum over subbands, blocks and j of log2(1 + g^2 s lambda_j / (sigma_v^2 + 1e-10))``
    divided by the number of pixels of the reference (this release's normalisation).
    Range ``[0, inf)`` (bits per pixel); higher is better. Inputs float64 gray 0..255 of equal
    size, at least 72 pixels on each side (a 4-level pyramid).
    """
    p = ifc_vif_parts(ir, vi, fused)
    return {"total": 0.5 * (p["ifc.ir"] + p["ifc.vi"]), "ir": p["ifc.ir"], "vi": p["ifc.vi"]}


@register_metric(
    "vif", parts=("ir", "vi"), higher_is_better=True,
    description="visual information fidelity (LIVE vifvec, pixel-vector GSM), mean over the two sources",
    reference="Sheikh & Bovik, IEEE TIP 2006; LIVE vifvec release (sigma_n^2 = 0.4) with the ifcvec "
              "helpers and matlabPyrTools @f02ab059 buildSpyr sp5/reflect1",
)
def vif(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> dict[str, float]:
    """VIF of a fused image: ``vif.ir = vifvec(IR, F)``, ``vif.vi = vifvec(VI, F)``, total = their mean.

    ``vifvec = sum log2(1 + g^2 s lambda_j / (sigma_v^2 + 0.4)) / sum log2(1 + s lambda_j / 0.4)``
    over subbands, blocks and eigenvalues. Range ``[0, ~1]`` (can exceed 1 for contrast-enhanced
    images); higher is better. This is the LIVE ``vifvec``, not VIFF (Han et al. 2013).
    """
    p = ifc_vif_parts(ir, vi, fused)
    return {"total": 0.5 * (p["vif.ir"] + p["vif.vi"]), "ir": p["vif.ir"], "vi": p["vif.vi"]}


ifc.__doc__ += _NOTES
vif.__doc__ += _NOTES
