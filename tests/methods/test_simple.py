"""average/max baselines against the reference `mean`/`max` images, and the Python API."""
from __future__ import annotations

import numpy as np
import pytest

import fusionbench
from fusionbench.imageio import quantize, read_image


@pytest.mark.parametrize("pair", ["01", "03"])
@pytest.mark.parametrize("method, ref", [("average", "mean"), ("max", "max")])
def test_matches_reference_images(data_root, reference_dir, pair, method, ref):
    ir = data_root / "tno" / "ir" / f"{pair}.png"
    vi = data_root / "tno" / "vi" / f"{pair}.png"
    fused = fusionbench.fuse(ir, vi, method=method)
    assert fused.dtype == np.float64
    expect = read_image(reference_dir / "fused_simple" / "tno" / ref / f"{pair}.png")
    assert np.array_equal(quantize(fused), expect)


def test_api_validates_inputs():
    a = np.zeros((4, 4))
    with pytest.raises(ValueError, match="size mismatch"):
        fusionbench.fuse(a, np.zeros((4, 5)))
    with pytest.raises(ValueError, match="NaN"):
        fusionbench.fuse(a, np.full((4, 4), np.nan))
    colour = np.zeros((4, 4, 3))
    colour[..., 0] = 9
    with pytest.raises(ValueError, match="colour"):
        fusionbench.fuse(colour, a)
    grey_as_rgb = np.repeat(np.arange(16.0).reshape(4, 4)[..., None], 3, axis=2)
    assert np.array_equal(fusionbench.fuse(grey_as_rgb, a, method="max"), grey_as_rgb[..., 0])
    with pytest.raises(ValueError, match="size mismatch"):
        fusionbench.evaluate(a, a, np.zeros((3, 4)), metrics=["en"])
