"""Property tests of the textbook metric set (plain names): known extremes, closed forms,
symmetry in the two sources, invariances where the definition has them."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fusionbench.registry import get_metric

TEXTBOOK = ["en", "sd", "sf", "ag", "ei", "mi", "ce", "psnr", "rmse", "ssim", "ms_ssim", "cc", "scd",
            "qcb", "qcv", "fmi", "nabf"]
LOWER_IS_BETTER = {"ce", "rmse", "qcv", "nabf"}


def score(name: str, ir, vi, fused) -> float:
    v = get_metric(name)(np.asarray(ir, np.float64), np.asarray(vi, np.float64), np.asarray(fused, np.float64))
    return float(v["total"]) if isinstance(v, dict) else float(v)


@pytest.fixture(scope="module")
def images():
    """Smooth-ish random scene (so windows are not constant), IR and VI views and an average."""
    rng = np.random.default_rng(7)
    h, w = 180, 192                                    # MS-SSIM needs >= 176 pixels per side
    yy, xx = np.mgrid[0:h, 0:w]
    scene = 120 + 60 * np.sin(xx / 9.0) * np.cos(yy / 13.0) + rng.normal(0, 12, (h, w))
    ir = np.clip(np.round(scene + 40 * (xx > w / 2)), 0, 255)
    vi = np.clip(np.round(0.7 * scene + 30 * np.sin(yy / 5.0) + rng.normal(0, 8, (h, w)) + 20), 0, 255)
    fused = np.floor((ir + vi) / 2 + 0.5)
    return ir, vi, fused


def test_registered_with_directions_and_references():
    for name in TEXTBOOK:
        spec = get_metric(name)
        assert spec.higher_is_better is (name not in LOWER_IS_BETTER), name
        assert spec.description and spec.reference, name
        assert spec.input == "gray"


def test_descriptions_state_differences_from_vifb():
    assert "VIFB" in get_metric("psnr").description and "MSE" in get_metric("psnr").description
    assert "sum" in get_metric("ssim").description
    assert "bits" in get_metric("mi").description


@pytest.mark.parametrize("name", ["mi", "ce", "psnr", "rmse", "ssim", "ms_ssim", "cc", "scd", "qcb", "qcv",
                                  "fmi", "nabf"])
def test_symmetric_in_the_two_sources(images, name):
    ir, vi, f = images
    assert score(name, ir, vi, f) == pytest.approx(score(name, vi, ir, f), rel=1e-10, abs=1e-12)


def test_identical_images_give_the_known_extremes(images):
    x = images[0]
    assert score("ssim", x, x, x) == pytest.approx(1.0, abs=1e-12)
    assert score("ms_ssim", x, x, x) == pytest.approx(1.0, abs=1e-12)
    assert score("cc", x, x, x) == pytest.approx(1.0, abs=1e-12)
    assert score("rmse", x, x, x) == 0.0
    assert score("psnr", x, x, x) == math.inf
    assert score("ce", x, x, x) == 0.0
    assert score("qcv", x, x, x) == 0.0
    assert score("qcb", x, x, x) == pytest.approx(1.0, abs=1e-12)
    assert score("fmi", x, x, x) == 1.0
    assert score("nabf", x, x, x) == 0.0
    # MI(X;X) = H(X), so MI(X,F) + MI(X,F) = 2 EN when all three are X
    assert score("mi", x, x, x) == pytest.approx(2 * score("en", x, x, x), rel=1e-12)


def test_fusion_beats_noise_in_each_direction(images):
    """Each metric ranks the average of the sources above the same image misaligned."""
    ir, vi, f = images
    noise = np.roll(f, (37, 53), axis=(0, 1))
    for name in ["mi", "ssim", "ms_ssim", "cc", "qcb", "fmi", "psnr"]:
        assert score(name, ir, vi, f) > score(name, ir, vi, noise), name
    for name in ["rmse", "qcv", "nabf"]:
        assert score(name, ir, vi, f) < score(name, ir, vi, noise), name


def test_two_level_image_closed_forms():
    img = np.zeros((40, 60))
    img[:, 30:] = 255.0                               # half 0, half 255
    z = np.zeros_like(img)
    assert score("en", z, z, img) == pytest.approx(1.0, abs=1e-12)          # 1 bit
    assert score("sd", z, z, img) == pytest.approx(127.5, abs=1e-12)
    assert score("mi", img, img, img) == pytest.approx(2.0, abs=1e-12)       # 1 bit per source


def test_psnr_rmse_of_a_constant_offset(images):
    ir = np.clip(images[0], 0, 200)
    f = ir + 10.0
    assert score("rmse", ir, ir, f) == pytest.approx(10.0, rel=1e-12)
    assert score("psnr", ir, ir, f) == pytest.approx(10 * math.log10(255.0 ** 2 / 100.0), rel=1e-12)
    # offsets 10 and 20 to the two sources: MSE = (100 + 400) / 2
    assert score("psnr", ir, ir + 10.0, f + 10.0) == pytest.approx(10 * math.log10(255.0 ** 2 / 250.0), rel=1e-12)


def test_gradient_closed_forms():
    h, w = 30, 40
    stripes = np.zeros((h, w))
    stripes[:, 1::2] = 10.0                           # columns alternate 0, 10
    z = np.zeros_like(stripes)
    assert score("sf", z, z, stripes) == pytest.approx(10 * math.sqrt((w - 1) / w), rel=1e-12)
    assert score("ag", z, z, stripes) == pytest.approx(math.sqrt(100 / 2), rel=1e-12)
    ramp = np.tile(np.arange(w, dtype=np.float64), (h, 1))
    # Sobel on a unit ramp: 8 inside, 4 in the two replicated border columns
    assert score("ei", z, z, ramp) == pytest.approx((8 * (w - 2) + 4 * 2) / w, rel=1e-12)


def test_correlation_metrics_invariant_to_affine_intensity_changes(images):
    ir, vi, f = images
    f2 = 0.5 * f + 40
    assert score("cc", ir, vi, f2) == pytest.approx(score("cc", ir, vi, f), rel=1e-12)
    assert score("scd", ir, vi, 0.5 * f) != pytest.approx(score("scd", ir, vi, f))  # SCD is not
    # Q_CB min-max stretches every image first
    assert score("qcb", ir, vi, f2) == pytest.approx(score("qcb", ir, vi, f), rel=1e-9)
    assert score("qcb", 0.5 * ir + 10, vi, f) == pytest.approx(score("qcb", ir, vi, f), rel=1e-9)


def test_scd_closed_form():
    rng = np.random.default_rng(0)
    a = rng.uniform(10, 120, (50, 50))
    b = rng.uniform(10, 120, (50, 50))
    # F = A + B: F - B = A and F - A = B, so SCD = corr(A, A) + corr(B, B) = 2
    assert score("scd", a, b, a + b) == pytest.approx(2.0, abs=1e-12)


def test_ssim_is_mean_of_parts_and_mi_in_bits(images):
    ir, vi, f = images
    parts = get_metric("ssim")(ir, vi, f)
    assert parts["total"] == pytest.approx((parts["ir"] + parts["vi"]) / 2, rel=1e-14)
    mi = get_metric("mi")(ir, vi, f)
    assert mi["total"] == pytest.approx(mi["ir"] + mi["vi"], rel=1e-14)
    assert 0 < mi["total"] <= 16


def test_ce_closed_form():
    a = np.zeros((10, 10))
    a[:, 5:] = 100                                   # p_A = (1/2, 1/2) on levels 0, 100
    f = np.zeros((10, 10))
    f[:, 8:] = 100                                   # p_F = (4/5, 1/5)
    expect = 0.5 * math.log2(0.5 / 0.8) + 0.5 * math.log2(0.5 / 0.2)
    assert score("ce", a, a, f) == pytest.approx(expect, rel=1e-12)


def _fmi_literal(a, b, f, w=3):
    """Straight loop port of Haghighat's fmi.m (feature 'none'), for a tiny image."""
    def pair(x, y):
        if np.array_equal(x, y):
            return 1.0
        def pdf(s):
            s = s.flatten(order="F")
            s = np.ones_like(s) if s.max() == s.min() else (s - s.min()) / (s.max() - s.min())
            return s / s.sum()
        xp, fp = pdf(x), pdf(y)
        l = len(xp)
        xc, fc = np.cumsum(xp), np.cumsum(fp)
        xt, ft = xp - xp.mean(), fp - fp.mean()
        num = np.sum(xt * ft)
        c = 0.0 if num == 0 else num / math.sqrt(np.sum(xt * xt) * np.sum(ft * ft))
        idx = np.arange(1, l + 1)
        xsd = math.sqrt(max(np.sum(idx ** 2 * xp) - np.sum(idx * xp) ** 2, 0))
        fsd = math.sqrt(max(np.sum(idx ** 2 * fp) - np.sum(idx * fp) ** 2, 0))
        bound = (lambda u, v: min(u, v)) if c >= 0 else (lambda u, v: max(u + v - 1, 0))
        if (c == 0 and c >= 0) or xsd == 0 or fsd == 0:
            k = 0.0
        else:
            cov = sum(bound(fc[i], xc[j]) - fc[i] * xc[j] for i in range(l) for j in range(l))
            k = c / (cov / (fsd * xsd))
        hj = 0.0
        for i in range(l):
            for j in range(l):
                cdf = lambda ii, jj: 0.0 if ii < 0 or jj < 0 else bound(fc[ii], xc[jj])
                pb = cdf(i, j) - cdf(i - 1, j) - cdf(i, j - 1) + cdf(i - 1, j - 1)
                p = k * pb + (1 - k) * fp[i] * xp[j]
                if p != 0:
                    hj += -p * math.log2(abs(p))
        hx = -sum(p * math.log2(p) for p in xp if p > 0)
        hf = -sum(p * math.log2(p) for p in fp if p > 0)
        mi = hx + hf - hj
        return 0.0 if mi == 0 else 2 * mi / (hx + hf)

    r = w // 2
    vals = []
    for p in range(r, a.shape[0] - r):
        for q in range(r, a.shape[1] - r):
            sl = (slice(p - r, p + r + 1), slice(q - r, q + r + 1))
            vals.append((pair(a[sl], f[sl]) + pair(b[sl], f[sl])) / 2)
    return float(np.mean(vals))


def test_fmi_matches_a_literal_port_of_fmi_m():
    rng = np.random.default_rng(11)
    a = rng.integers(0, 256, (9, 11)).astype(np.float64)
    b = rng.integers(0, 256, (9, 11)).astype(np.float64)
    f = np.floor((a + b) / 2)
    f[:, 6:] = np.floor((255 - a[:, 6:] + b[:, 6:]) / 2)   # anti-correlated with a: c < 0 windows
    f[0:3, 0:3] = a[0:3, 0:3]                         # one window equal to the source (value 1)
    b[4:7, 4:7] = 50                                  # a constant source window
    from fusionbench.metrics import information as info
    from fusionbench.metrics.information import fmi_haghighat

    xp = info._normalised_pdf(info._window_vectors(a, 3))
    fp = info._normalised_pdf(info._window_vectors(f, 3))
    c = np.sum((xp - xp.mean(1, keepdims=True)) * (fp - fp.mean(1, keepdims=True)), axis=1)
    assert (c < 0).sum() >= 5 and (c > 0).sum() >= 5    # both Frechet bounds are exercised

    assert fmi_haghighat(a, b, f) == pytest.approx(_fmi_literal(a, b, f), rel=1e-9)


def _fmi_edge_case_images():
    """8-bit images whose 3x3 windows hit the special cases of fmi.m: constant windows, one-pixel
    windows (zero index variance), F equal to the source, F = source + offset and = 2 x source
    (equal pdfs: k near 1), anti-correlated F (lower Frechet bound), ties between F's and X's CDFs."""
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (12, 14)).astype(np.float64)
    b = rng.integers(0, 256, (12, 14)).astype(np.float64)
    f = np.floor((a + b) / 2)
    a[0:4, 0:4] = 7                                   # constant source windows
    b[0:3, 9:12] = 40
    b[1, 10] = 41                                     # a single non-minimum pixel
    f[0:3, 9:12] = 0
    f[2, 9] = 200
    f[4:7, 0:4] = a[4:7, 0:4]                         # equal to the source
    f[7:10, 0:4] = a[7:10, 0:4] + 3                   # same pdf, different pixels
    f[9:12, 5:9] = np.minimum(2 * (a[9:12, 5:9] % 100), 255)
    f[4:9, 9:14] = 255 - a[4:9, 9:14]                 # anti-correlated
    b[5:8, 5:8] = np.array([[0, 1, 2], [0, 1, 2], [0, 1, 2]])   # CDF ties with F's
    f[5:8, 5:8] = np.array([[0, 0, 1], [2, 0, 1], [2, 0, 1]]) * 3
    return a, b, f


def test_fmi_matches_the_literal_port_on_edge_cases():
    from fusionbench.metrics.information import fmi_haghighat

    a, b, f = _fmi_edge_case_images()
    assert fmi_haghighat(a, b, f) == pytest.approx(_fmi_literal(a, b, f), rel=1e-9)
    assert fmi_haghighat(b, a, f) == pytest.approx(_fmi_literal(b, a, f), rel=1e-9)
    rng = np.random.default_rng(23)                   # low-contrast images: many ties and zeros
    a, b = rng.integers(0, 4, (2, 8, 9)).astype(np.float64)
    f = np.floor((a + b + rng.integers(0, 2, (8, 9))) / 2)
    assert fmi_haghighat(a, b, f) == pytest.approx(_fmi_literal(a, b, f), rel=1e-9)


def test_fmi_kernel_and_numpy_paths_agree_on_8bit_images():
    """The compiled w=3 kernel and the numpy windows-as-rows path on 8-bit images; shifting
    every image by a quarter level leaves every pdf, hence the value, unchanged."""
    from fusionbench.metrics import information as info

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:40, 0:52]
    a = np.clip(np.round(100 + 60 * np.sin(xx / 5) + rng.normal(0, 10, xx.shape)), 0, 255)
    b = np.clip(np.round(140 - 50 * np.cos(yy / 4) + rng.normal(0, 10, xx.shape)), 0, 255)
    f = np.floor((a + b) / 2)
    f[10:20, 30:45] = 255 - a[10:20, 30:45]
    fast = info.fmi_haghighat(a, b, f)
    assert fast == pytest.approx(info._fmi_generic([a, b, f], 3), rel=1e-13)
    assert info.fmi_haghighat(a + 0.25, b + 0.25, f + 0.25) == pytest.approx(fast, rel=1e-11)
    small = (a[:9, :10] + 0.25, b[:9, :10] + 0.25, f[:9, :10] + 0.25)
    assert info.fmi_haghighat(*small) == pytest.approx(_fmi_literal(*small), rel=1e-9)


def test_inputs_are_validated():
    a = np.zeros((20, 20))
    fused_only = {"en", "sd", "sf", "ag", "ei"}       # these look at the fused image alone
    for name in TEXTBOOK:
        if name not in fused_only:
            with pytest.raises(ValueError, match="size mismatch"):
                get_metric(name)(a, a, np.zeros((20, 21)))
        with pytest.raises(ValueError, match="NaN"):
            get_metric(name)(a, a, np.full((20, 20), np.nan))
    with pytest.raises(ValueError, match="outside 0..255"):
        get_metric("ssim")(a, a, a + 300)


def test_normalize1_has_one_policy_for_constant_images():
    """Liu's normalize1 divides 0 by 0 on a constant image; fusionbench maps it to level 0
    everywhere, in every metric that uses it (nmi, qcb, qcv), instead of NaN or a crash."""
    from fusionbench.metrics import nmi, perceptual
    from fusionbench.metrics._matlab import normalize1, normalize1_levels

    flat = np.full((40, 50), 77.0)
    assert (normalize1(flat) == 0).all() and (normalize1_levels(flat) == 0).all()
    assert nmi.normalize1 is normalize1_levels and perceptual.normalize1 is normalize1
    ramp = np.tile(np.arange(50.0), (40, 1)) * 2 + 10
    want = np.floor((ramp - 10) / 98 * 255 + 0.5)                 # MATLAB round of the stretch
    assert np.array_equal(normalize1(ramp), want)
    assert np.array_equal(normalize1_levels(ramp.astype(np.uint8)), want.astype(np.uint8))
