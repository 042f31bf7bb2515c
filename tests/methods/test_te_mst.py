"""TE-MST (Chen et al. 2020), re-implemented from the paper (no public code or outputs exist).

Checks what the construction guarantees: the Laplacian pyramid is invertible, fusing an image
with itself returns it, a warm infrared target dominates the fused low band, and the visible
texture survives through the max-absolute rule.
"""
from __future__ import annotations

import numpy as np
import pytest

import fusionbench
from fusionbench.methods.te_mst import laplacian_pyramid, reconstruct, target_weight


def _rand(shape, seed):
    return np.random.default_rng(seed).uniform(0, 255, shape)


def test_shape_range_dtype_and_determinism():
    ir, vi = _rand((45, 61), 0), _rand((45, 61), 1)
    a = fusionbench.fuse(ir, vi, method="te_mst")
    assert a.shape == (45, 61) and a.dtype == np.float64
    assert a.min() >= 0 and a.max() <= 255
    assert np.array_equal(a, fusionbench.fuse(ir, vi, method="te_mst"))


@pytest.mark.parametrize("shape", [(64, 64), (45, 61), (7, 9)])
def test_pyramid_is_invertible(shape):
    img = _rand(shape, 2)
    np.testing.assert_allclose(reconstruct(laplacian_pyramid(img, 3)), img, atol=1e-9)


def test_self_fusion_is_identity():
    img = _rand((50, 70), 4)
    np.testing.assert_allclose(fusionbench.fuse(img, img, method="te_mst"), img, atol=1e-9)


def test_weight_range_and_monotone_in_lam():
    low = _rand((20, 20), 5)
    w1, w2 = target_weight(low, 1.0), target_weight(low, 8.0)
    assert w1.min() >= 0 and w1.max() <= 1 + 1e-12 and np.isclose(w1.max(), 1.0)
    assert np.all(w2 >= w1 - 1e-12)  # larger lam: more infrared everywhere
    assert np.all(target_weight(np.full((5, 5), 3.0), 4.0) == 0)  # flat IR: no target


def test_hot_target_and_visible_texture():
    rng = np.random.default_rng(6)
    vi = 100 + 20 * np.sign(rng.standard_normal((128, 128)))  # textured, mid grey
    ir = np.full((128, 128), 40.0)
    ir[40:88, 40:88] = 230.0  # large warm target
    f = fusionbench.fuse(ir, vi, method="te_mst")
    assert f[56:72, 56:72].mean() > 180  # target carried over from IR
    bg = f[:24, :24]
    assert abs(bg.mean() - 100) < 15 and bg.std() > 10  # VI brightness and texture kept
