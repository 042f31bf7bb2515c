"""``synthetic``: the embedded default dataset, generated deterministically at run time.

Four pairs built from images that scikit-image ships (no download, no data root): the
visible image is the photo darkened to low light (gamma 1.6, x0.55) with mild sensor noise;
the infrared is a blurred, low-contrast version of the scene with warm Gaussian targets added.
Every pair is generated from a fixed seed, so the same install always gives the same pixels.
Sizes vary (256x256 .. 320x240) so shape handling is exercised.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fusionbench.data import Pair
from fusionbench.registry import register_dataset

#: (pair name, scikit-image loader name, output size (H, W), number of warm targets)
SCENES = (("camera", "camera", (256, 256), 2), ("astronaut", "astronaut", (240, 320), 3),
          ("coffee", "coffee", (240, 320), 2), ("chelsea", "chelsea", (256, 256), 1))


def make_pair(scene: str, size: tuple[int, int], n_targets: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generate one uint8 (infrared, visible) pair; visible is colour when the source is."""
    import cv2
    import skimage.data

    img = getattr(skimage.data, scene)()
    img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA).astype(np.float64)
    rng = np.random.default_rng(seed)
    gray = img if img.ndim == 2 else img @ np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])
    vis = 255.0 * (img / 255.0) ** 1.6 * 0.55 + rng.normal(0, 2.0, img.shape)
    ir = 0.35 * cv2.GaussianBlur(gray, (0, 0), 2.0) + 40.0
    yy, xx = np.mgrid[0:size[0], 0:size[1]]
    for _ in range(n_targets):
        cy, cx = rng.uniform(0.2, 0.8, 2) * np.array(size)
        sy, sx = rng.uniform(0.04, 0.1, 2) * np.array(size)
        ir += rng.uniform(120, 170) * np.exp(-(((yy - cy) / sy) ** 2 + ((xx - cx) / sx) ** 2) / 2)
    ir += rng.normal(0, 1.5, ir.shape)
    to8 = lambda a: np.floor(a + 0.5).clip(0, 255).astype(np.uint8)  # noqa: E731
    return to8(ir), to8(vis)


@register_dataset("synthetic", description="embedded default: 4 deterministic generated pairs (no data needed)",
                  source="generated from scikit-image sample images")
def _synthetic(root: Path, split: str | None) -> list[Pair]:
    return [Pair(name, loader=(lambda s=scene, z=size, n=n, k=k: make_pair(s, z, n, seed=1000 + k)))
            for k, (name, scene, size, n) in enumerate(SCENES)]
