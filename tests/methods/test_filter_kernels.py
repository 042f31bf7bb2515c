"""The compiled filters of ``methods/_filter_kernels.py`` against the code they replace, bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from fusionbench.methods._filters import correlate1d, imfilter, matlab_gaussian

_KERNELS = {"g7": matlab_gaussian(7, 1.0), "g13": matlab_gaussian(13, 2.0), "g97": matlab_gaussian(97, 16.0),
            "g385": matlab_gaussian(385, 64.0), "box31": np.full(31, 1.0 / 31.0), "tap3": np.array([0.25, 0.5, 0.25])}


@pytest.mark.parametrize("name", sorted(_KERNELS))
@pytest.mark.parametrize("mode", ["reflect", "nearest"])
def test_correlate1d_equals_scipy_bit_for_bit(name, mode):
    """Every size from a single pixel to a line longer than the kernel, both axes: the same
    sums in the same order as NI_Correlate1D, the border extension included (a 385-tap
    kernel over a 1-pixel or 3-pixel line reflects many times)."""
    rng = np.random.default_rng(len(name))
    g = _KERNELS[name]
    for shape in [(1, 1), (3, 2), (7, 11), (40, 29), (5, 400)]:
        x = rng.random(shape) * 255.0
        for axis in (0, 1):
            ref = ndimage.correlate1d(x, g, axis=axis, mode=mode)
            np.testing.assert_array_equal(correlate1d(x, g, axis, mode), ref)


def test_correlate1d_follows_scipys_symmetry_rule():
    """scipy treats a kernel whose mirrored taps differ by <= DBL_EPSILON as symmetric and then
    uses the left-hand taps; a wider asymmetry goes through scipy's general loop."""
    rng = np.random.default_rng(5)
    x = rng.random((30, 50)) * 255.0
    near = matlab_gaussian(13, 2.0).copy()
    near[9] = np.nextafter(np.nextafter(near[9], 1.0), 1.0)       # 2 ulp: still "symmetric"
    skew = matlab_gaussian(13, 2.0).copy()
    skew[9] += 1e-6
    for g in (near, skew, np.array([1.0, 2.0, -3.0])):
        for axis in (0, 1):
            np.testing.assert_array_equal(correlate1d(x, g, axis, "reflect"),
                                          ndimage.correlate1d(x, g, axis=axis, mode="reflect"))
    # float32 input keeps scipy's output dtype
    y = correlate1d(x.astype(np.float32), near, 0, "nearest")
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, ndimage.correlate1d(x.astype(np.float32), near, axis=0, mode="nearest"))


def test_imfilter_is_two_scipy_passes():
    rng = np.random.default_rng(9)
    x = rng.random((37, 53)) * 255.0
    for border, mode in (("symmetric", "reflect"), ("replicate", "nearest")):
        g = matlab_gaussian(25, 4.0)
        ref = ndimage.correlate1d(ndimage.correlate1d(x, g, axis=0, mode=mode), g, axis=1, mode=mode)
        np.testing.assert_array_equal(imfilter(x, g, border), ref)
        # a non-contiguous view gives the same bits
        np.testing.assert_array_equal(imfilter(np.asfortranarray(x), g, border), ref)
