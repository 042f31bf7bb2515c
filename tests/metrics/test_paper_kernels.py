"""Issue 22: the compiled kernels of the paper metrics against direct numpy definitions.

Each kernel is checked against an independent formulation (brute-force window sums, the numpy
per-pixel formulas the kernels replaced, scipy/OpenCV filters), bit for bit where the kernel
keeps the numpy order per element and to round-off where only a summation order changed.
"""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import correlate

from fusionbench._jit import kernel as compiled
from fusionbench.metrics import _paper_kernels as K
from fusionbench.metrics import ifc as I
from fusionbench.metrics import qabf as Q
from fusionbench.metrics import qy as Y
from fusionbench.metrics._filters import sobel_xy
from fusionbench.metrics._memo import clear_all
from fusionbench.metrics._steerable import build_spyr, corr_reflect1, sp5_filters


def _img(seed: int, shape: tuple[int, int], integral: bool = True) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = cv2.GaussianBlur(rng.uniform(0, 255, shape), (0, 0), 2.0) + rng.normal(0, 12, shape)
    x = np.clip(x, 0, 255)
    return np.round(x) if integral else x


def test_corr_reflect1_every_sp5_filter_step_and_crop():
    img = _img(1, (41, 53), integral=False)
    f = sp5_filters()
    for kernel in (f["lo0filt"], f["hi0filt"], f["lofilt"], *f["bfilts"]):
        ref = correlate(img, kernel, mode="mirror")
        np.testing.assert_allclose(corr_reflect1(img, kernel), ref, rtol=0, atol=1e-10)
        np.testing.assert_allclose(corr_reflect1(img, kernel, step=2), ref[::2, ::2], rtol=0, atol=1e-10)
        got = corr_reflect1(img, kernel, crop=3)
        assert got.shape == (39, 51)
        np.testing.assert_array_equal(got, corr_reflect1(img, kernel)[:39, :51])


def test_corr_reflect1_keeps_opencv_and_polyphase_order_bit_for_bit():
    """IFC's noise variance shows the summation order of the pyramid in its 7th digit on some
    images (a fused image close to a source): the kernel keeps the earlier order exactly."""
    img = _img(2, (37, 46), integral=False) * 1.37 + 0.123
    f = sp5_filters()
    for kernel in (f["lo0filt"], *f["bfilts"]):
        want = cv2.filter2D(img, cv2.CV_64F, kernel, borderType=cv2.BORDER_REFLECT_101)
        np.testing.assert_array_equal(corr_reflect1(img, kernel), want)
    lo = f["lofilt"]
    padded = np.pad(img, 4, mode="reflect")
    parts = []
    for a in range(2):
        for b in range(2):
            k = np.ascontiguousarray(lo[a::2, b::2])
            src = np.ascontiguousarray(padded[a::2, b::2])
            parts.append(cv2.filter2D(src, cv2.CV_64F, k, anchor=(0, 0),
                                      borderType=cv2.BORDER_REFLECT_101)[:19, :23])
    want = ((parts[0] + parts[1]) + parts[2]) + parts[3]
    np.testing.assert_array_equal(corr_reflect1(img, lo, step=2), want)




def _row_major_sum(padded: np.ndarray, k: np.ndarray, h: int, w: int) -> np.ndarray:
    """From 0, ``+ k[u, v] * padded[u:u+h, v:v+w]`` over the nonzero taps in row-major order."""
    out = np.zeros((h, w))
    for u, v in zip(*np.nonzero(k)):
        out = out + k[u, v] * padded[u:u + h, v:v + w]
    return out


def test_corr_reflect1_any_tap_pattern_keeps_the_order_bit_for_bit():
    """Filter rows of every tap count 0..9 (a zero first row, rows of 1-3 taps, 8-9 taps split
    into passes) and every parity pattern: each output sums from 0 in row-major tap order, the
    pair as each filter alone, step 2 in the polyphase order."""
    rng = np.random.default_rng(23)
    img = _img(3, (29, 34), integral=False) * 0.77 + 0.01
    k = rng.normal(0, 0.2, (9, 9))
    k[rng.random((9, 9)) < 0.3] = 0.0
    for u, n in enumerate((0, 1, 2, 3, 4, 5, 6, 8, 9)):        # row u keeps its first n taps
        k[u, n:] = 0.0
    k2 = np.ascontiguousarray(k[::-1])                        # zero last row, full first rows
    padded = np.pad(img, 4, mode="reflect")
    want = _row_major_sum(padded, k, 29, 34)
    np.testing.assert_array_equal(corr_reflect1(img, k), want)
    got1, got2 = K.corr_reflect1_pair(img, k, k2, 29, 34)
    np.testing.assert_array_equal(got1, want)
    np.testing.assert_array_equal(got2, _row_major_sum(padded, k2, 29, 34))
    parts = [_row_major_sum(padded[a::2, b::2], k[a::2, b::2], 15, 17) for a in range(2) for b in range(2)]
    np.testing.assert_array_equal(corr_reflect1(img, k, step=2), ((parts[0] + parts[1]) + parts[2]) + parts[3])
    k7 = np.ascontiguousarray(k[1:8, :7])                      # 7x7: OpenCV's order too
    np.testing.assert_array_equal(corr_reflect1(img, k7),
                                  cv2.filter2D(img, cv2.CV_64F, k7, borderType=cv2.BORDER_REFLECT_101))


def _box_blocks(a: np.ndarray, win: int, off: int) -> np.ndarray:
    """The earlier numpy order of the kept-block window sums: 3-sample block sums, runs of
    blocks, then the single samples outside them; rows, then columns."""
    half = (win - 1) // 2
    jb, rem = divmod(half - 1, 3)
    lo = off - jb

    def axis0(x: np.ndarray) -> np.ndarray:
        n = x.shape[0] // 3
        keep = n - 2 * off
        blocks = x[3 * lo:3 * (lo + keep + 2 * jb)]
        blocks = (blocks[0::3] + blocks[1::3]) + blocks[2::3]
        out = blocks[0:keep]
        for s in range(1, 2 * jb + 1):
            out = out + blocks[s:s + keep]
        for e in range(1, rem + 1):
            for start in (3 * lo - e, 3 * (off + jb) + 2 + e):
                out = out + x[start:start + 3 * (keep - 1) + 1:3]
        return out

    return axis0(axis0(a).T).T


@pytest.mark.parametrize("k", I.SUBBANDS)
def test_box_interior_keeps_the_block_order_bit_for_bit(k):
    win, off = I._window(k), I._offset(k)
    rng = np.random.default_rng(k)
    a, b = rng.normal(size=(2, 3 * 31, 3 * 23))
    np.testing.assert_array_equal(I._box_interior(a, win, off), _box_blocks(a, win, off))
    np.testing.assert_array_equal(I._box_interior(a, win, off, b), _box_blocks(a * b, win, off))


def test_block_moments_are_the_brute_force_block_sums():
    y = np.random.default_rng(5).normal(size=(23, 31))
    blocks = sliding_window_view(y, (3, 3)).reshape(-1, 9)
    sums, cross = I._block_moments(y)
    np.testing.assert_allclose(sums, blocks.sum(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cross, blocks.T @ blocks, rtol=1e-12, atol=1e-12)


def test_s_field_is_the_quadratic_form_of_each_block():
    rng = np.random.default_rng(6)
    kept = rng.normal(size=(12, 15))
    a = rng.normal(size=(9, 9))
    inv = a @ a.T
    blocks = kept.reshape(4, 3, 5, 3).transpose(0, 2, 1, 3).reshape(4, 5, 9)
    ref = np.einsum("ijk,kl,ijl->ij", blocks, inv, blocks) / 9
    np.testing.assert_allclose(K.s_field(kept, inv), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fused_kind", ["mean", "source"])
def test_fused_channel_and_log_sums_are_the_array_form(fused_kind):
    ir, vi = _img(7, (96, 111)), _img(8, (96, 111))
    f = ir.copy()                                           # fused == reference: vv at its floor
    if fused_kind == "mean":
        f = np.floor((ir + vi + 1) / 2)
        f[:20, :30] = 128.0                                 # a flat region: the clean-up rules
    ref, dist = I._Decomposed(ir), I._Decomposed(f)
    for k in I.SUBBANDS:
        g, vv = I._channel(ref, dist, k)
        ss, lam = ref.ref_params(k)
        gss = g * g * ss
        want_i = I._sum_log2_1p(gss / (vv + I.IFC_EPS), lam)
        want_v = I._sum_log2_1p(gss / (vv + I.VIF_SIGMA_NSQ), lam)
        x, y = ref.win[k], dist.win[k]
        got_i, got_v = K.channel_log_sums(ref.sub[k], dist.sub[k], I._window(k), I._offset(k), x.nm,
                                          x.ss_tol, x.low, y.m, y.ss, y.low, ss, lam, True, True,
                                          I.IFC_EPS, I.VIF_SIGMA_NSQ, I.TOL)
        assert got_i == pytest.approx(want_i, rel=1e-13) and got_v == pytest.approx(want_v, rel=1e-13)
        if fused_kind == "source":                          # equal subbands: vv is the floor exactly
            assert np.all(vv[~x.low] == I.TOL)


@pytest.mark.parametrize("form", [Q.QABF_LIU, Q.QABF_VIFB])
def test_strength_angle_is_the_numpy_formula_bit_for_bit(form):
    img = _img(9, (40, 47), integral=False)
    img[10:20, 5:15] = 77.0                                  # sx == 0 and sy == 0 pixels
    grad = {k: form[k] for k in ("sobel", "scale", "sx_zero")}
    g, alpha = Q._strength_angle(img, **grad)
    sx, sy = sobel_xy(img if form["scale"] == 1.0 else form["scale"] * img, "zero", passes="2d")
    if form["sobel"] == "conv2":
        sx = -sx
    zero = sx == 0
    assert zero.any()
    if form["sx_zero"] == "pi/2":
        want_alpha = np.where(zero, np.pi / 2, np.arctan(sy / np.where(zero, 1.0, sx)))
    else:
        want_alpha = np.arctan(sy / np.where(zero, form["sx_zero"], sx))
    np.testing.assert_array_equal(g, np.sqrt(sx * sx + sy * sy))
    np.testing.assert_array_equal(alpha, want_alpha)


@pytest.mark.parametrize("form", [Q.QABF_LIU, Q.QABF_VIFB])
def test_qabf_sums_are_the_numpy_maps(form):
    """``qabf`` = the numpy maps' pooling; on glibc x86-64 with FMA, where the vectorised exps
    are glibc's (tests/metrics/test_vmath.py), ``qabf_sums`` = those maps summed sequentially
    (row by row, then the rows), bit for bit."""
    from test_vmath import EXACT  # noqa: PLC0415  (the same platform check)

    ir, vi = _img(10, (50, 61)), _img(11, (50, 61))
    f = np.floor((ir + vi + 1) / 2)
    f[:, :20] = ir[:, :20]                                   # gA == gF there (VIFB's quirk: exp(-1e4))
    f[30:, 40:] = 0.0                                        # zero strengths
    a, b = Q._ordered(ir, vi, form["sources"])
    grad = {k: form[k] for k in ("sobel", "scale", "sx_zero")}
    model = {k: form[k] for k in ("orientation", "product", "Tg", "kg", "Dg", "Ta", "ka", "Da")}
    (g_a, a_a), (g_b, a_b), (g_f, a_f) = (Q._strength_angle(x, **grad) for x in (a, b, f))
    r_a, r_b, w_a, w_b = Q._ratios(g_a, g_b, g_f, form["g_zero"])
    q = Q._preservation(r_a, a_a, a_f, **model) * w_a + Q._preservation(r_b, a_b, a_f, **model) * w_b
    mean_map = form["pooling"] == "mean_map"
    want = (q / (w_a + w_b)).mean() if mean_map else q.sum() / (w_a + w_b).sum()
    clear_all()
    assert Q.qabf(ir, vi, f, **form) == pytest.approx(want, rel=1e-13)
    if not EXACT:
        return
    term = q / (w_a + w_b) if mean_map else q
    seq = lambda m: np.add.accumulate(np.add.accumulate(m, axis=1)[:, -1])[-1]  # noqa: E731
    quirk = form["g_zero"] == "gF"
    num, den = K.qabf_sums(g_a, a_a, g_b, a_b, g_f, a_f, quirk, 0.0 if quirk else float(form["g_zero"]),
                           form["orientation"] == "folded", form["product"] == "joint", mean_map,
                           *(float(form[k]) for k in ("Tg", "kg", "Dg", "Ta", "ka", "Da")))
    assert num == seq(term)
    assert den == (0.0 if mean_map else seq(w_a + w_b))


@compiled
def _gauss7_valid(a, b, use_b, g):
    """``filter2(g g', a, 'valid')`` (of ``a * b`` when ``use_b``) by the production row
    helpers, one filter at a time: the per-image form the Q_Y sweeps are compared with."""
    h, w = a.shape
    out = np.empty((h - 6, w - 6))
    col = np.empty(w)
    for i in range(h - 6):
        K._g7_rows(a, b, use_b, i, g, col)
        K._g7_cols(col, g, out[i])
    return out


def _stats(img: np.ndarray) -> tuple[np.ndarray, ...]:
    """One image's Q_Y window terms on their own: ``(mu, mu^2, var, flat)``, ``var = E[x^2] -
    mu^2`` set to 0 where flat (``var < 1e-4`` for integer-valued images, else 7x7 max == min)."""
    img = np.ascontiguousarray(img, dtype=np.float64)
    mu = _gauss7_valid(img, img, False, Y._G)
    mu2 = mu * mu
    var = _gauss7_valid(img, img, True, Y._G) - mu2
    flat = var < Y._FLAT_VAR if Y._is_integral(img) else Y._flat(img)
    return mu, mu2, np.where(flat, 0.0, var), flat


def test_gauss7_valid_is_the_separable_gaussian_valid_filter():
    a, b = _img(12, (30, 44), integral=False), _img(13, (30, 44), integral=False)
    g = Y._G
    for x, use_b in ((a, False), (a * b, True)):
        ref = cv2.sepFilter2D(x, cv2.CV_64F, g, g, borderType=cv2.BORDER_REFLECT_101)[3:-3, 3:-3]
        got = _gauss7_valid(a, b, use_b, g)
        np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-10)
    np.testing.assert_array_equal(_gauss7_valid(a, b, True, g), _gauss7_valid(a * b, a, False, g))


def _qy_numpy(ir: np.ndarray, vi: np.ndarray, f: np.ndarray) -> float:
    """Q_Y with the guard, in whole-array numpy (the formulation the kernels replaced)."""
    g = Y._G

    def filt(x):
        return cv2.sepFilter2D(x, cv2.CV_64F, g, g, borderType=cv2.BORDER_REFLECT_101)[3:-3, 3:-3]

    def stats(x):
        mu = filt(x)
        var = filt(x * x) - mu * mu
        flat = var < Y._FLAT_VAR if Y._is_integral(x) else Y._flat(x)
        return x, mu, np.where(flat, 0.0, var), flat

    def ssim(s, t):
        cov = np.where(s[3] | t[3], 0.0, filt(s[0] * t[0]) - s[1] * t[1])
        return ((2 * s[1]) * t[1] + Y.C1) * (cov * 2 + Y.C2) / (
            (s[1] * s[1] + t[1] * t[1] + Y.C1) * (s[2] + t[2] + Y.C2))

    a, b, c = stats(ir), stats(vi), stats(f)
    lam = np.where(a[3] & b[3], 0.5, a[2] / np.where(a[3] & b[3], 1.0, a[2] + b[2]))
    s_af, s_bf = ssim(a, c), ssim(b, c)
    q = np.where(ssim(a, b) >= Y.THRESHOLD, s_af * lam + s_bf * (1 - lam), np.maximum(s_af, s_bf))
    return float(q.mean())


@pytest.mark.parametrize("integral", [True, False])
def test_qy_kernels_match_the_numpy_formulation(integral):
    ir, vi = _img(14, (40, 52), integral), _img(15, (40, 52), integral)
    ir[:15, :15] = 30.0                                      # flat windows in both sources
    vi[:15, :15] = 90.0
    f = (ir + vi) / 2 if not integral else np.floor((ir + vi + 1) / 2)
    clear_all()
    assert Y.qy(ir, vi, f) == pytest.approx(_qy_numpy(ir, vi, f), rel=1e-12)


@pytest.mark.parametrize("integral", [True, False])
def test_qy_fused_sweep_is_the_whole_map_form_bit_for_bit(integral):
    """The fused image's one-sweep kernel against whole maps of the same per-window operations
    (the filters by _gauss7_valid, tested above), summed row by row in Python."""
    ir, vi = _img(18, (31, 43), integral), _img(19, (31, 43), integral)
    vi[:, 22:] = ir[:, 22:] * 0.9 + 10                                # similar windows there
    vi = np.round(vi) if integral else vi
    f = np.floor((ir + vi + 1) / 2) if integral else (ir + vi) / 2
    ir[:12, :12], vi[:12, :12], f[20:, 30:] = 30.0, 90.0, 7.0        # flat windows
    clear_all()
    src_a, src_b, (lam, similar) = Y._source_stats(ir, vi)
    mu_a, mu2_a, var_a, fl_a = src_a
    mu_b, mu2_b, var_b, fl_b = src_b
    mu_f, mu2_f, var_f, fl_f = _stats(f)

    def ssim(s, mu_s, mu2_s, var_s, fl_s):
        cov = np.where(fl_s | fl_f, 0.0, s - mu_s * mu_f)
        return ((2 * mu_s) * mu_f + Y.C1) * (cov * 2 + Y.C2) / ((mu2_s + mu2_f + Y.C1) * (var_s + var_f + Y.C2))

    fa = ssim(_gauss7_valid(ir, f, True, Y._G), mu_a, mu2_a, var_a, fl_a)
    fb = ssim(_gauss7_valid(vi, f, True, Y._G), mu_b, mu2_b, var_b, fl_b)
    q = np.where(similar, fa * lam + fb * (1.0 - lam), np.maximum(fa, fb))
    want = 0.0
    for row in q:
        t = 0.0
        for x in row:
            t += float(x)
        want += t
    flat_in = np.zeros((1, 1), np.bool_) if integral else Y._flat(f)
    got = K.yang_fused(ir, vi, f, Y._G, integral, flat_in, Y._FLAT_VAR, mu_a, mu_b, mu2_a, mu2_b,
                       var_a, var_b, fl_a, fl_b, lam, similar, Y.C1, Y.C2)
    assert fl_f.any() and (fl_a & fl_b).any() and similar.any() and not similar.all()
    assert got == want


@pytest.mark.parametrize("integral", [True, False])
def test_qy_source_sweep_is_the_per_image_kernels_bit_for_bit(integral):
    ir, vi = _img(20, (29, 41), integral), _img(21, (29, 41), integral)
    vi[:, 20:] = ir[:, 20:] * 0.9 + 10
    vi = np.round(vi) if integral else vi
    ir[:12, :12], vi[:12, :12], vi[20:, :9] = 30.0, 90.0, 5.0
    got_a, got_b, (lam, similar) = Y._source_stats(ir, vi)
    want_a, want_b = _stats(ir), _stats(vi)
    for got, want in zip((*got_a, *got_b), (*want_a, *want_b)):
        np.testing.assert_array_equal(got, want)
    s_ab = _gauss7_valid(ir, vi, True, Y._G)
    mu_a, mu2_a, var_a, fl_a = want_a
    mu_b, mu2_b, var_b, fl_b = want_b
    cov = np.where(fl_a | fl_b, 0.0, s_ab - mu_a * mu_b)
    ssim = ((2 * mu_a) * mu_b + Y.C1) * (cov * 2 + Y.C2) / ((mu2_a + mu2_b + Y.C1) * (var_a + var_b + Y.C2))
    with np.errstate(invalid="ignore"):
        want_lam = np.where(fl_a & fl_b, 0.5, var_a / (var_a + var_b))
    np.testing.assert_array_equal(lam, want_lam)
    np.testing.assert_array_equal(similar, ssim >= Y.THRESHOLD)
    assert (fl_a & fl_b).any() and (fl_b & ~fl_a).any() and similar.any() and not similar.all()


def test_pyramid_bands_of_equal_regions_are_equal_with_crop():
    a = _img(16, (150, 190))
    b = a.copy()
    b[:, :50] = _img(17, (150, 50))
    pa = build_spyr(a, 4, bands=(0, 3), hi0=False, lowpass=False, crop=3)
    pb = build_spyr(b, 4, bands=(0, 3), hi0=False, lowpass=False, crop=3)
    margin = 50 + 2 + 3
    for level in range(4):
        for band in (0, 3):
            x, y = pa.bands[level][band], pb.bands[level][band]
            assert x.shape[0] % 3 == 0 and x.shape[1] % 3 == 0
            assert np.array_equal(x[:, margin:], y[:, margin:]), (level, band)
        margin = (margin + 4) // 2 + 4 + 3


def test_cli_import_does_not_import_numba():
    code = ("import sys, fusionbench.cli\nfrom fusionbench.registry import discover\ndiscover()\n"
            "assert 'numba' not in sys.modules and 'fusionbench.metrics._paper_kernels' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("x", [0.0, 3.7, 1e12, 1e40])
def test_block_log_sum_one_log_or_groups_of_three(x):
    """One log of the 9 factors' product, or (beyond 1e300: x = 1e40) logs of products of 3."""
    lam = np.array([1e-3, 0.02, 0.5, 1.0, 4.0, 9.0, 30.0, 110.0, 700.0])
    got = K._row_log_sum(np.array([x]), np.empty(1), lam, 0.0)
    assert got == pytest.approx(float(np.log2(1 + x * lam).sum()), rel=1e-13, abs=1e-15)


def test_pyramid_bands_in_pairs_equal_each_band_alone():
    img = _img(18, (75, 90), integral=False)
    f = sp5_filters()
    pyr = build_spyr(img, 3)
    lo = corr_reflect1(img, f["lo0filt"])
    for level in range(3):
        for b in range(6):
            np.testing.assert_array_equal(pyr.bands[level][b], corr_reflect1(lo, f["bfilts"][b]))
        lo = corr_reflect1(lo, f["lofilt"], step=2)
    np.testing.assert_array_equal(pyr.lowpass, lo)
