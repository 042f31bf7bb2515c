"""The VIF-Benchmark test scripts' gray reading and colour restoration (PIL), for the TF1 ports.

The PMGI, SDNet, STDFusionNet and CSF scripts of Linfeng-Tang/VIF-Benchmark @ 23f2e51 read each
image with ``scipy.misc.imread(path, flatten=True, mode='YCbCr')``: PIL converts the image to
YCbCr (uint8) and then to ``'F'``, which Pillow does through RGB, so a colour image becomes the
float luma ``0.299 R' + 0.587 G' + 0.114 B'`` of the re-rounded RGB; a gray image stays itself.
The fused gray is saved with ``scipy.misc.imsave`` (min-max stretched to uint8, rounding half up)
and, with ``is_RGB=True`` (``All_in_One.py``), ``img2RGB`` merges it as Y with the visible
image's PIL Cb/Cr and converts back to RGB. For a gray visible image Cb = Cr = 128 and the RGB
output has R = G = B = the fused gray, so the gray image is returned.
"""
from __future__ import annotations

import numpy as np


def authors_gray(vi: np.ndarray, vi_rgb: np.ndarray | None) -> np.ndarray:
    """The visible image as the scripts read it: ``vi`` when gray, else PIL YCbCr -> 'F' of ``vi_rgb``."""
    if vi_rgb is None:
        return np.asarray(vi, dtype=np.float64)
    from PIL import Image

    rgb = np.clip(np.rint(vi_rgb), 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(rgb, "RGB").convert("YCbCr").convert("F"), dtype=np.float64)


def bytescale(x: np.ndarray) -> np.ndarray:
    """``scipy.misc.imsave`` of a float array: ``(x - min) * 255 / (max - min)``, clipped, +0.5, truncated."""
    lo, hi = float(x.min()), float(x.max())
    scale = 255.0 / (hi - lo) if hi > lo else 1.0
    return np.floor(np.clip((x - lo) * scale, 0, 255) + 0.5)


def restore_colour(fused: np.ndarray, vi_rgb: np.ndarray | None) -> np.ndarray:
    """``img2RGB``: the fused gray (0..255) as Y with the visible Cb/Cr -> float64 RGB ``HxWx3``.

    ``fused`` is returned unchanged when the visible image is gray. For colour the Y plane is the
    saved uint8 image (:func:`bytescale` output, or ``fused`` rounded)."""
    if vi_rgb is None:
        return fused
    from PIL import Image

    rgb = np.clip(np.rint(vi_rgb), 0, 255).astype(np.uint8)
    _, cb, cr = Image.fromarray(rgb, "RGB").convert("YCbCr").split()
    y = Image.fromarray(np.clip(np.rint(fused), 0, 255).astype(np.uint8), "L")
    return np.asarray(Image.merge("YCbCr", (y, cb, cr)).convert("RGB"), dtype=np.float64)
