"""GFF: small-image properties and variants (the MATLAB reference outputs are in test_matlab_reference_outputs.py)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import fusionbench
from fusionbench.imageio import quantize


def test_gff_small_shape_range_determinism(small_pair):
    ir, vi = small_pair
    a = fusionbench.fuse(ir, vi, method="gff")
    b = fusionbench.fuse(ir, vi, method="gff")
    assert a.shape == ir.shape and a.dtype == np.float64
    assert np.array_equal(a, b)
    # unclipped two-scale output: close to the sources' range, not a different scale
    assert -0.3 * 255 < a.min() and a.max() < 1.3 * 255
    assert a.std() > 5


def test_gff_fusing_an_image_with_itself_returns_it(small_pair):
    _, vi = small_pair
    np.testing.assert_allclose(fusionbench.fuse(vi, vi, method="gff"), vi, atol=1e-6)


def test_gff_saliency_ties_go_to_visible():
    # both sources flat: zero Laplacian everywhere, every saliency tie -> VI (source 1 in GFF.m)
    ir = np.full((50, 60), 200.0)
    vi = np.full((50, 60), 40.0)
    np.testing.assert_allclose(fusionbench.fuse(ir, vi, method="gff"), vi, atol=1e-6)


def test_gff_rgb_variant_fuses_channels(small_pair):
    ir, vi = small_pair
    vi_rgb = np.stack([vi, np.clip(vi + 30, 0, 255), np.clip(vi - 30, 0, 255)], axis=-1).astype(np.uint8)
    out = fusionbench.fuse(ir.astype(np.uint8), vi_rgb, method="gff:rgb")
    assert out.shape == vi_rgb.shape
    assert not np.allclose(out[..., 0], out[..., 1])
    gray_default = fusionbench.fuse(ir.astype(np.uint8), vi_rgb, method="gff")
    assert gray_default.shape == ir.shape
