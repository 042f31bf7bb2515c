"""``published:<folder>``: fused images already on disk, scored like any other method.

Reads ``<data root>/results/<dataset>/<folder>/<pair>.<ext>`` (png, jpg, bmp, tif, ...). An
absolute folder, ``published:/abs/path``, reads ``/abs/path/<pair>.<ext>`` instead: reading
fused images from outside the data root this way is a deliberate feature (results kept
elsewhere), not a path escape; the store records it under that name. Colour
images are returned as ``HxWx3`` (the store keeps the colour; gray metrics see MATLAB's
rgb2gray of it, VIFB-compatible metrics the colour as VIFB's code does). A missing file raises
:class:`MissingResultError`; the runner reports every missing pair and never averages over
them silently.
"""
from __future__ import annotations

import numpy as np

from fusionbench.data import PairContext
from fusionbench.errors import InputError, MissingResultError
from fusionbench.imageio import IMAGE_SUFFIXES, read_image
from fusionbench.registry import register_method


def published_path(ctx: PairContext, folder: str):
    base = ctx.data_root / "results" / ctx.dataset / folder
    for suf in IMAGE_SUFFIXES:
        p = base / f"{ctx.pair}{suf}"
        if p.exists():
            return p
    return None


@register_method("published", description="authors' published fused images: published:<folder> "
                 "reads <data root>/results/<dataset>/<folder>/<pair>.*; RFN-Nest and FusionGAN are "
                 "published-only (their weights are not available)", any_variant=True,
                 needs_context=True, color=True, mem_bytes_per_pixel=40, reference="published results")
def published(ir: np.ndarray, vi: np.ndarray, *, ctx: PairContext, variant: str | None = None,
              vi_rgb: np.ndarray | None = None) -> np.ndarray:
    if not variant:
        raise InputError("published needs a folder name: --methods published:<folder>")
    if ctx is None:
        raise InputError("published:<folder> needs a dataset context (use `fusionbench run`)")
    p = published_path(ctx, variant)
    if p is None:
        raise MissingResultError(f"published:{variant}: no result for pair {ctx.pair} in "
                                 f"{ctx.data_root / 'results' / ctx.dataset / variant}")
    img = read_image(p)
    if img.shape[:2] != np.shape(ir)[:2]:
        raise InputError(f"{p}: size mismatch with its pair: {img.shape[1]}x{img.shape[0]} vs "
                         f"{np.shape(ir)[1]}x{np.shape(ir)[0]}")
    return img.astype(np.float64)
