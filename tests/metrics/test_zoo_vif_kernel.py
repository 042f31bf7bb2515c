"""``zoo:vif``'s compiled float32 kernels are bit-identical to the straightforward numpy order.

The reference here is the numpy version the kernels replaced, written out plainly: the 2-D
correlation as one shifted float32 multiply-add pass per tap (taps in row-major order, from a
zero array), and LIVE's per-scale terms by :func:`fusionbench.metrics.vifp._scale_terms` on
float32 arrays. Filtered maps are compared bit for bit (``uint32`` views), metric values with
``==``. The agreement with IVIF_ZOO's own values is ``test_compat_metrics.py``'s.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fusionbench.metrics import vifp
from fusionbench.metrics._memo import clear_all


def _numpy_correlate(x: np.ndarray, w: np.ndarray, border: str, step: int = 1) -> np.ndarray:
    """One ``out += p[shifted] * w[i, j]`` float32 pass per tap, taps in row-major order."""
    r = w.shape[0] // 2
    if border == "zero":
        p, (h, wd) = np.pad(x, r), x.shape
    else:
        p, h, wd = x, x.shape[0] - 2 * r, x.shape[1] - 2 * r
    ho, wo = -(-h // step), -(-wd // step)
    out = np.zeros((ho, wo), np.float32)
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            out += p[i:i + (ho - 1) * step + 1:step, j:j + (wo - 1) * step + 1:step] * w[i, j]
    return out


def _numpy_vifp_float32(refs: list[np.ndarray], dist: np.ndarray, grid: str = "zoo",
                        border: str = "zero") -> list[float]:
    """IVIF_ZOO's float32 ``vifp_mscale`` with the numpy loop above and ``_scale_terms``."""
    def terms(img):
        x = np.ascontiguousarray(img, np.float32)
        out = []
        for scale in range(1, 5):
            w = vifp._window_2d_float32(2 ** (4 - scale + 1) + 1, grid)
            if scale > 1:
                x = _numpy_correlate(x, w, border, step=2)
            mu = _numpy_correlate(x, w, border)
            out.append((x, mu, np.maximum(_numpy_correlate(x * x, w, border) - mu * mu, np.float32(0))))
        return out

    dt = terms(dist)
    vals = []
    for ref in refs:
        num = den = 0.0
        for scale, ((r, mu1, s11), (d, mu2, s22)) in enumerate(zip(terms(ref), dt), start=1):
            w = vifp._window_2d_float32(2 ** (4 - scale + 1) + 1, grid)
            s12 = _numpy_correlate(r * d, w, border) - mu1 * mu2
            n_s, d_s = vifp._scale_terms(s11.copy(), s22, s12)
            num += n_s
            den += d_s
        with np.errstate(invalid="ignore", divide="ignore"):
            vals.append(float(np.float64(num) / np.float64(den)))
    return vals


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, np.float32).view(np.uint32)


SHAPES = [(1, 1), (2, 3), (7, 5), (16, 17), (17, 16), (23, 31), (40, 38)]


@pytest.mark.parametrize("n", [17, 9, 5, 3, 7])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_kernel_filtering_equals_numpy_tap_loop_bitwise(shape, n):
    rng = np.random.default_rng(n * 1000 + shape[0] * 37 + shape[1])
    a = rng.uniform(0, 255, shape).astype(np.float32)
    b = np.round(rng.uniform(0, 255, shape)).astype(np.float32)     # 8-bit-like levels
    b[: shape[0] // 2] = 77                                          # a flat region
    w = vifp._window_2d_float32(n, "zoo" if n != 7 else "centred")
    for step in (1, 2):
        got = vifp._correlate_float32([(a, None), (b, None), (a, b), (b, b)], w, "zero", step=step)
        want = [_numpy_correlate(x, w, "zero", step) for x in (a, b, a * b, b * b)]
        for g, e in zip(got, want):
            assert g.shape == e.shape
            assert np.array_equal(_bits(g), _bits(e))
        if min(shape) > 2 * (n // 2):                                # 'valid' needs one whole window
            got = vifp._correlate_float32([(a, None), (a, b)], w, "valid", step=step)
            for g, x in zip(got, (a, a * b)):
                assert np.array_equal(_bits(g), _bits(_numpy_correlate(x, w, "valid", step)))


def test_valid_border_too_small_is_a_clear_error():
    w = vifp._window_2d_float32(5, "zoo")
    with pytest.raises(ValueError, match="too small"):
        vifp._correlate_float32([(np.ones((4, 9), np.float32), None)], w, "valid")


def test_reference_terms_equal_numpy_maps():
    rng = np.random.default_rng(7)
    img = np.round(rng.uniform(0, 255, (61, 53)))
    img[10:40, 5:30] = 128.0                                         # zero local variance
    nsq = np.float32(vifp.SIGMA_NSQ)
    x = img.astype(np.float32)
    for scale, (r, mu1, s11, den) in enumerate(vifp._image_terms(img, "zoo", "zero"), start=1):
        w = vifp._window_2d_float32(2 ** (4 - scale + 1) + 1, "zoo")
        if scale > 1:
            x = _numpy_correlate(x, w, "zero", step=2)
        mu = _numpy_correlate(x, w, "zero")
        var = np.maximum(_numpy_correlate(x * x, w, "zero") - mu * mu, np.float32(0))
        assert np.array_equal(_bits(r), _bits(x)) and np.array_equal(_bits(mu1), _bits(mu))
        assert np.array_equal(s11, var)                              # (equal up to the sign of 0)
        var[var < np.float32(vifp.EPS)] = 0
        assert den == float(np.sum(np.log10(1 + var / nsq), dtype=np.float64))


@pytest.mark.parametrize("shape", [(5, 7), (18, 33), (97, 130)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_zoo_vif_values_equal_numpy_version(shape):
    rng = np.random.default_rng(shape[0])
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    ir = np.clip(np.round(120 + 80 * np.sin(xx / 5.0) + rng.normal(0, 6, shape)), 0, 255)
    vi = np.clip(np.round(255 * xx / shape[1] + rng.normal(0, 3, shape)), 0, 255)
    vi[: shape[0] // 3] = 40.0
    fused = [np.floor((ir + vi + 1) / 2), np.clip(vi + 1, 0, 255), ir.copy(), np.full(shape, 100.0)]
    clear_all()
    for f in fused:                                                  # sources cached after the first
        want = _numpy_vifp_float32([ir, vi], f)
        got = vifp.vifp_sum(ir, vi, f, grid="zoo", border="zero", dtype="float32")
        assert [got["ir"], got["vi"]] == want
    assert vifp.vifp_mscale(ir, fused[0], grid="zoo", border="zero", dtype="float32") == \
        _numpy_vifp_float32([ir], fused[0])[0]
    if min(shape) >= 97:                                             # LIVE's 'valid' form, centred grid
        assert vifp.vifp_mscale(ir, fused[0], grid="centred", border="valid", dtype="float32") == \
            _numpy_vifp_float32([ir], fused[0], "centred", "valid")[0]


def test_zoo_vif_values_equal_numpy_version_on_a_real_pair(data_root):
    from fusionbench.imageio import read_image, to_gray_float

    ir_path = sorted((data_root / "tno" / "ir").iterdir())[0]
    ir = to_gray_float(read_image(ir_path))
    vi = to_gray_float(read_image(data_root / "tno" / "vi" / ir_path.name))
    fused = np.floor((ir + vi + 1) / 2)
    clear_all()
    got = vifp.vifp_sum(ir, vi, fused, grid="zoo", border="zero", dtype="float32")
    assert [got["ir"], got["vi"]] == _numpy_vifp_float32([ir, vi], fused)


def test_numba_is_imported_only_when_the_kernel_runs():
    code = ("import sys; from fusionbench.registry import discover; discover(); "
            "import fusionbench.metrics.vifp; print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
