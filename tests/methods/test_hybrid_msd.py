"""Hybrid-MSD: small-image properties and variants (the MATLAB reference outputs are in test_matlab_reference_outputs.py)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import fusionbench
from fusionbench.imageio import quantize
from fusionbench.methods._filters import fast_bilateral


def _fast_blf_loops(img: np.ndarray, ss: float, sr: float) -> np.ndarray:
    """Literal loop transcription of fast_blf.h (early_division=false), for tiny images only."""
    h, w = img.shape
    vmin, vmax = img.min(), img.max()
    sw, sh, sd = int((w - 1) / ss) + 5, int((h - 1) / ss) + 5, int((vmax - vmin) / sr) + 5
    data = np.zeros((sw, sh, sd, 2))
    for x in range(w):
        for y in range(h):
            z = img[y, x] - vmin
            c = (int(x / ss + 0.5) + 2, int(y / ss + 0.5) + 2, int(z / sr + 0.5) + 2)
            data[c] += (img[y, x], 1.0)
    buf = np.zeros_like(data)
    for dim in range(3):
        off = np.eye(3, dtype=int)[dim]
        for _ in range(2):
            data, buf = buf, data
            for x in range(1, sw - 1):
                for y in range(1, sh - 1):
                    for z in range(1, sd - 1):
                        lo, hi = (x, y, z) - off, (x, y, z) + off
                        data[x, y, z] = (buf[tuple(lo)] + buf[tuple(hi)] + 2.0 * buf[x, y, z]) / 4.0
    out = np.zeros_like(img)
    f32 = np.float32
    for x in range(w):
        for y in range(h):
            p = (x / ss + 2, y / ss + 2, (img[y, x] - vmin) / sr + 2)
            i0 = [min(int(v), n - 1) for v, n in zip(p, (sw, sh, sd))]
            i1 = [min(i + 1, n - 1) for i, n in zip(i0, (sw, sh, sd))]
            al = [f32(v - i) for v, i in zip(p, i0)]
            acc = np.zeros(2)
            for cz in (0, 1):                # the order of the eight terms in math_tools.h
                for cy in (0, 1):
                    for cx in (0, 1):
                        wx = al[0] if cx else f32(1) - al[0]
                        wy = al[1] if cy else f32(1) - al[1]
                        wz = al[2] if cz else f32(1) - al[2]
                        wt = f32(f32(wx * wy) * wz)
                        idx = ((i1 if cx else i0)[0], (i1 if cy else i0)[1], (i1 if cz else i0)[2])
                        acc = acc + float(wt) * data[idx]
            out[y, x] = acc[0] / acc[1]
    return out


def test_fast_bilateral_equals_loop_transcription():
    rng = np.random.default_rng(1)
    img = rng.random((9, 13))
    img[:, 7:] += 1.0
    img /= img.max()
    for ss, sr in [(2.0, 0.05), (4.0, 0.2), (1.5, 0.1)]:
        # same operations in the same order: bit-identical
        np.testing.assert_array_equal(fast_bilateral(img, ss, sr), _fast_blf_loops(img, ss, sr))


def _fast_blf_whole_grid(img: np.ndarray, ss: float, sr: float) -> np.ndarray:
    """fast_blf.h with whole-grid numpy steps (the implementation before issue 22, 51ac6d9):
    a (Z, Y, X) grid per channel, each pass over the whole grid, one gather per corner."""
    h, w = img.shape
    vmin = img.min()
    sw, sh, sd = int((w - 1) / ss) + 5, int((h - 1) / ss) + 5, int((img.max() - vmin) / sr) + 5
    xs, ys = np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)
    cell = (((img.T - vmin) / sr + 0.5).astype(np.int64) + 2) * (sh * sw) \
        + ((ys / ss + 0.5).astype(np.int64) + 2)[None, :] * sw + ((xs / ss + 0.5).astype(np.int64) + 2)[:, None]
    grids = [np.bincount(cell.ravel(), weights=wt, minlength=sd * sh * sw).reshape(sd, sh, sw).astype(np.float64)
             for wt in (img.T.ravel(), None)]
    for g in grids:
        for axis in (2, 1, 0):
            for _ in range(2):
                inner = [slice(1, -1)] * 3
                lo, hi = list(inner), list(inner)
                lo[axis], hi[axis] = slice(0, -2), slice(2, None)
                new = np.zeros_like(g)
                new[tuple(inner)] = (g[tuple(lo)] + g[tuple(hi)] + 2.0 * g[tuple(inner)]) / 4.0
                g[...] = new
    f32 = np.float32
    fx, fy, fz = xs / ss + 2, ys / ss + 2, (img - vmin) / sr + 2
    i = [np.minimum(v.astype(np.int64), n - 1) for v, n in ((fx, sw), (fy, sh), (fz, sd))]
    j = [np.minimum(v + 1, n - 1) for v, n in zip(i, (sw, sh, sd))]
    al = [(v - k).astype(f32) for v, k in zip((fx, fy, fz), i)]
    acc = [0.0, 0.0]
    for cz in (0, 1):
        for cy in (0, 1):
            for cx in (0, 1):
                wx = al[0] if cx else f32(1) - al[0]
                wy = (al[1] if cy else f32(1) - al[1])[:, None]
                wz = al[2] if cz else f32(1) - al[2]
                wt = ((wx * wy) * wz).astype(np.float64)
                iz, iy, ix = (j[2] if cz else i[2]), (j[1] if cy else i[1])[:, None], (j[0] if cx else i[0])
                acc = [a + wt * g[iz, iy, ix] for a, g in zip(acc, grids)]
    return acc[0] / acc[1]


@pytest.mark.parametrize("shape", [(1, 1), (2, 7), (5, 3), (61, 47), (150, 233)])
def test_fast_bilateral_equals_whole_grid_version(shape):
    """The compiled row-by-row sweep (splat, blur and slicing a few grid rows at a time) changes
    no bit against the straightforward whole-grid version, at the four Hybrid-MSD levels and
    odd rates."""
    rng = np.random.default_rng(sum(shape))
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.clip(0.5 + 0.4 * np.sin(xx / 7.0) * np.cos(yy / 5.0) + rng.normal(0, 0.05, shape), 0, 1)
    img[: h // 2, : w // 3] = np.round(img[: h // 2, : w // 3] * 255) / 255      # 8-bit-like patch
    for ss, sr in [(2.0, 0.05), (4.0, 0.025), (8.0, 0.0125), (16.0, 0.00625), (1.5, 0.1), (3.7, 0.013)]:
        np.testing.assert_array_equal(fast_bilateral(img, ss, sr), _fast_blf_whole_grid(img, ss, sr))


def test_fast_bilateral_subnormal_values_equal_loop_transcription():
    # values near 1e-310 make some grid values or slicing products subnormal: the C++ "/ 4" of
    # every pass must be kept (leaving it out would change the last bits here), and the
    # compiled code must not flush subnormals to zero
    rng = np.random.default_rng(2)
    img = rng.random((9, 13)) * 1e-310
    img[0, 0] = 0.9
    for ss, sr in [(2.0, 0.05), (1.5, 0.1)]:
        np.testing.assert_array_equal(fast_bilateral(img, ss, sr), _fast_blf_loops(img, ss, sr))


def test_fast_bilateral_corner_rounding_up_to_the_face():
    """``33 / 2.2 = 14.999999999999998`` but ``33 / 2.2 + 2 = 17.0``: the last pixel row and
    column (and, with range rate 2.2 over 0..33, the top intensity) interpolate against the
    zero face of the grid; the sweep slices those rows after the last interior grid row."""
    rng = np.random.default_rng(4)
    img = rng.random((34, 34))
    np.testing.assert_array_equal(fast_bilateral(img, 2.2, 0.2), _fast_blf_loops(img, 2.2, 0.2))
    img = rng.random((20, 34)) * 33.0
    img[0, 0], img[1, 1], img[5, 5:9] = 0.0, 33.0, 33.0
    np.testing.assert_array_equal(fast_bilateral(img, 2.0, 2.2), _fast_blf_whole_grid(img, 2.0, 2.2))


def test_fast_bilateral_preserves_edges_and_constants():
    step = np.zeros((40, 60))
    step[:, 30:] = 1.0
    out = fast_bilateral(step, 4.0, 0.05)
    # the range kernel keeps the two sides apart (a 4-px Gaussian would mix them)
    assert np.abs(out - step).max() < 0.02
    np.testing.assert_allclose(fast_bilateral(np.full((20, 30), 0.4), 2.0, 0.05), 0.4, atol=1e-12)


def test_hybrid_msd_small_shape_range_determinism(small_pair):
    ir, vi = small_pair
    a = fusionbench.fuse(ir, vi, method="hybrid_msd")
    assert a.shape == ir.shape and a.dtype == np.float64
    assert np.array_equal(a, fusionbench.fuse(ir, vi, method="hybrid_msd"))
    assert a.min() >= 0.0 and a.max() <= 255.0
    # the IR blob is injected: brighter than the visible there
    assert a[30, 50] > vi[30, 50] + 40


def test_hybrid_msd_fusing_an_image_with_itself_returns_it(small_pair):
    _, vi = small_pair
    np.testing.assert_allclose(fusionbench.fuse(vi, vi, method="hybrid_msd"), vi, atol=1e-8)


def test_hybrid_msd_rgb_variant_fuses_channels(small_pair):
    ir, vi = small_pair
    vi_rgb = np.stack([vi, np.clip(vi + 30, 0, 255), np.clip(vi - 30, 0, 255)], axis=-1).astype(np.uint8)
    out = fusionbench.fuse(ir.astype(np.uint8), vi_rgb, method="hybrid_msd:rgb")
    assert out.shape == vi_rgb.shape
    assert not np.allclose(out[..., 0], out[..., 1])


@pytest.mark.parametrize("pair", ["02", "11", "19"])
def test_hybrid_msd_reproduces_third_party_tno_outputs(pair, data_root):
    """``results/tno/Hybrid-MSD`` (thfylsty/Classic-and-state-of-the-art-image-fusion-methods)
    was made with the authors' test script, whose paths hand the IR image in as ``img1``
    ("Vis") and the visible as ``img2``, and saved through ``ShowImageGrad`` (``uint8(floor(.))``
    of the clipped result): with the same swap and floor the port is pixel-identical."""
    from fusionbench.imageio import read_image
    from fusionbench.methods.hybrid_msd import hybrid_msd_fuse

    theirs = read_image(data_root / "results" / "tno" / "Hybrid-MSD" / f"{pair}.png", collapse_gray=True)
    ir = read_image(data_root / "tno" / "ir" / f"{pair}.png", collapse_gray=True).astype(np.float64)
    vi = read_image(data_root / "tno" / "vi" / f"{pair}.png", collapse_gray=True).astype(np.float64)
    ours = np.floor(hybrid_msd_fuse(ir, vi))      # img1 = IR, img2 = VI, as their script ran it
    assert np.mean(ours == theirs) >= 0.999
