"""GFF: image fusion with guided filtering (Li, Kang, Hu, IEEE TIP 22(7), 2013).

Port of the authors' MATLAB code as distributed with VIFB (xingchenzhang/VIFB @ 22b2ea9,
``methods/GFF/GFF.m``, ``guidedfilter.m``, ``boxfilter.m``), checked against that code run in
GNU Octave (``../shared/reference/fused/gff``).
"""
from __future__ import annotations

import numpy as np

from fusionbench.methods._filters import guided_filter, imfilter, imfilter2, matlab_gaussian
from fusionbench.registry import register_method

_LAPLACIAN = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def _uint8(x: np.ndarray) -> np.ndarray:
    """MATLAB ``uint8(x)`` for doubles: round half away from zero, saturate to 0..255 (as float)."""
    return np.clip(np.sign(x) * np.floor(np.abs(x) + 0.5), 0.0, 255.0)


def _weights(gray: list[np.ndarray], r1: int, eps1: float, r2: int, eps2: float
             ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Base and detail weight maps of ``GFF.m`` for sources ``gray`` (each on 0..1)."""
    g = matlab_gaussian(11, 5.0)
    sal = [imfilter(np.abs(imfilter2(s, _LAPLACIAN, "replicate")), g, "replicate") + 1e-12
           for s in gray]
    total = sal[0]
    for s in sal[1:]:
        total = total + s
    sal = [s / total for s in sal]
    labels = np.argmax(np.stack(sal), axis=0)          # first maximum wins, as MATLAB max
    masks = [(labels == i).astype(np.float64) for i in range(len(gray))]

    def optimise(r: int, eps: float) -> list[np.ndarray]:
        w = [_uint8(guided_filter(s, p, r, eps) * 255.0) / 255.0 + 1e-12 for s, p in zip(gray, masks)]
        tot = w[0]
        for x in w[1:]:
            tot = tot + x
        return [x / tot for x in w]

    return optimise(r1, eps1), optimise(r2, eps2)


def gff_fuse(sources: list[np.ndarray], *, r1: int = 45, eps1: float = 0.3, r2: int = 7,
             eps2: float = 1e-6, colour: list[np.ndarray] | None = None) -> np.ndarray:
    """``GFF(I)`` on gray sources (float64, 0..255, in the reference's stacking order).

    Returns the raw output ``F`` on 0..1 scale (not clipped; ``GFF.m`` then applies
    ``uint8(F*255)``). With ``colour`` (one ``HxWx3`` array per source, 0..255) the weights come
    from ``sources`` (the gray images) and are applied to every channel, as ``GFF.m`` does
    for colour stacks; the result is then ``HxWx3``.
    """
    gray = [np.asarray(s, np.float64) / 255.0 for s in sources]
    w_base, w_detail = _weights(gray, r1, eps1, r2, eps2)
    avg = np.full(31, 1.0 / 31.0)                     # fspecial('average', [31 31])
    if colour is not None:
        w_base = [w[..., None] for w in w_base]
        w_detail = [w[..., None] for w in w_detail]
        imgs = [np.asarray(c, np.float64) / 255.0 for c in colour]
    else:
        imgs = gray
    fb = np.zeros_like(imgs[0])
    fd = np.zeros_like(imgs[0])
    for img, wb, wd in zip(imgs, w_base, w_detail):
        if img.ndim == 3:
            base = np.stack([imfilter(img[..., c], avg, "replicate") for c in range(3)], axis=-1)
        else:
            base = imfilter(img, avg, "replicate")
        fb = fb + base * wb
        fd = fd + (img - base) * wd
    return fb + fd


@register_method(
    "gff",
    description="guided-filtering fusion (Li, Kang, Hu, TIP 2013), port of the authors' MATLAB code",
    mem_bytes_per_pixel=220, reference="S. Li, X. Kang, J. Hu, 'Image fusion with guided filtering', IEEE TIP 22(7):2864-2875, "
              "2013; code: VIFB methods/GFF (GFF.m, guidedfilter.m, boxfilter.m)",
    params={"r1": 45, "eps1": 0.3, "r2": 7, "eps2": 1e-6, "rgb": False},
    variants={"rgb": {"rgb": True}},
    color=True,
    version="1",
)
def gff(ir: np.ndarray, vi: np.ndarray, *, r1: int = 45, eps1: float = 0.3, r2: int = 7,
        eps2: float = 1e-6, rgb: bool = False, vi_rgb: np.ndarray | None = None) -> np.ndarray:
    """Fuse with GFF; float64 on 0..255 scale, unclipped (``F * 255`` of ``GFF.m``).

    Parameters
    ----------
    ir, vi : float64 gray ``(H, W)`` on 0..255.
    r1, eps1 : guided-filter radius and regularisation for the base-layer weights (45, 0.3).
    r2, eps2 : the same for the detail-layer weights (7, 1e-6).
    rgb : fuse a colour visible image per channel (variant ``gff:rgb``); the default uses
        the toolkit's grayscale policy (the gray visible image, MATLAB ``rgb2gray``).
    vi_rgb : colour visible ``HxWx3`` on 0..255 (passed by the engine), or None.

    Notes
    -----
    Follows ``GFF.m`` step by step. Sources are stacked **VI first, IR second** (VIFB's
    ``run_GFF`` writes them as ``<name>1.jpg``/``<name>2.jpg`` and ``load_images`` reads them in
    that order), which decides saliency ties: equal saliency (e.g. both sources flat) selects
    VI. Steps, on ``double(I)/255``:

    1. saliency ``S_n = imfilter(|imfilter(I_n, L, 'replicate')|, G, 'replicate') + 1e-12``,
       ``L`` the 3x3 Laplacian ``[0 1 0; 1 -4 1; 0 1 0]``, ``G = fspecial('gaussian', 11, 5)``,
       normalised by ``sum_n S_n``; ``P_n = 1`` where ``n`` is the first argmax;
    2. ``W = guidedfilter(I_n, P_n, r, eps)`` for (r1, eps1) and (r2, eps2), quantised exactly as
       the code does -- ``W = double(uint8(W*255))/255`` (round half away from zero, negative
       values to 0) -- then ``W + 1e-12`` normalised over the sources;
    3. base ``B_n = imfilter(I_n, fspecial('average', 31), 'replicate')``, detail ``I_n - B_n``;
       ``F = sum_n B_n W_B,n + D_n W_D,n``.

    The guided filter's box filter is the cumulative-sum ``boxfilter.m`` (window clipped at the
    border, divided by the in-image count) with the same operation order. ``F`` is returned
    ``*255`` without clipping (range about -50..330 on TNO); the store's ``floor(x+.5)`` clipped
    to 0..255 equals the code's ``uint8(F*255)`` for every value. Not reproduced: VIFB's
    wrapper re-encodes both inputs as JPEG (quality 75) before fusing; this port fuses the
    given pixels (as ``../shared/reference/fused`` does). Filters are separable
    (row/column passes) where MATLAB/Octave filter in 2-D: the summation order differs, which
    changes results at the 1e-16 level only.

    Agreement: on the Octave references (TNO 01-05, RoadScene 4 pairs) the raw output agrees
    to the 16-bit quantisation of the reference (~107 dB) and the 8-bit images are identical.
    VIFB's stored MATLAB outputs (its 17 pairs with 3-channel IR; inputs and output re-encoded
    as JPEG quality 75 as ``run_GFF`` and VIFB do) are reproduced pixel for pixel on 12 pairs;
    the other 5 are reproduced exactly when saliency ties go to IR instead, and 3 of the 12
    need ties to VI, so MATLAB's tie outcome there was decided by floating-point noise that
    this port (like Octave) does not have; ties go to VI, as ``max`` does with exact ties.

    Colour: the default follows the toolkit's grayscale policy, as the Octave references do.
    ``gff:rgb`` works as ``GFF.m`` on a colour stack -- weights from the gray of each
    source (``rgb2gray``; the gray IR is its own gray), applied to each RGB channel of VI and
    to the IR replicated in three channels; returns ``HxWx3``.
    """
    if rgb and vi_rgb is not None:
        ir3 = np.repeat(np.asarray(ir, np.float64)[..., None], 3, axis=2)
        return gff_fuse([vi, ir], r1=r1, eps1=eps1, r2=r2, eps2=eps2, colour=[vi_rgb, ir3]) * 255.0
    return gff_fuse([vi, ir], r1=r1, eps1=eps1, r2=r2, eps2=eps2) * 255.0
