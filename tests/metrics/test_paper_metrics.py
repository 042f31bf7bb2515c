"""The paper's metrics against the original MATLAB code (``../shared/reference/metrics.csv``).

Calibration in the style of pyiqa: every CSV row for NMI (total and parts), QY_stable,
QABF_vifb, QABF_liu, IFC and VIF_vifvec parts is one test case, compared with a per-metric
relative tolerance (issue 4: 1e-6 for NMI, Q_Y, both Q_ABF; 1e-4 for the IFC and VIF parts).
Images are read with ``read_image`` and made gray with MATLAB's rgb2gray (``to_gray_float``);
each fused image is scored once per module. The ours-vs-reference table is written to
``<pytest tmp>/paper_metrics/summary.csv`` and the worst relative errors are printed (``-s``).
Plus small property tests with values known in closed form and input validation.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import PAPER_REFERENCE_METRICS, SHARED, write_agreement_summary

import fusionbench
from fusionbench.imageio import read_image, to_gray_float
from fusionbench.metrics import ifc as ifc_mod
from fusionbench.metrics._steerable import build_spyr, corr_reflect1, sp5_filters
from fusionbench.metrics.qabf import qabf_vifb
from fusionbench.registry import get_metric

_CSV = SHARED / "reference" / "metrics.csv"
METRICS = PAPER_REFERENCE_METRICS



def _rows() -> list:
    if not _CSV.exists():
        return []
    with open(_CSV, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["metric"] in METRICS]
    return [pytest.param(r["dataset"], r["pair"], r["fused"], r["fused_file"], r["metric"], r["part"],
                         float(r["value"]), id=f"{r['dataset']}-{r['pair']}-{r['fused']}-{r['metric']}-{r['part']}")
            for r in rows]


def _source(data_root: Path, dataset: str, role: str, pair: str) -> Path:
    hits = sorted((data_root / dataset / role).glob(f"{pair}.*"))
    assert hits, f"no {role} image for {dataset} {pair} under {data_root}"
    return hits[0]


_SCORES: dict[str, dict[str, float]] = {}
_SUMMARY: list[dict[str, object]] = []


def _scores(data_root: Path, dataset: str, pair: str, fused_file: str) -> dict[str, float]:
    if fused_file not in _SCORES:
        ir, vi = (to_gray_float(read_image(_source(data_root, dataset, r, pair))) for r in ("ir", "vi"))
        fused = to_gray_float(read_image(SHARED / fused_file))
        scores = fusionbench.evaluate(ir, vi, fused, metrics=["nmi", "qy", "qabf", "qabf_liu"], parts=True)
        scores.update(ifc_mod.ifc_vif_parts(ir, vi, fused))   # both parts of IFC and VIF in one pass
        _SCORES[fused_file] = scores
    return _SCORES[fused_file]


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    yield _SUMMARY
    if _SUMMARY:
        write_agreement_summary(_SUMMARY, tmp_path_factory.mktemp("paper_metrics"), lambda r: f"{r['metric']}.{r['part']}", "MATLAB reference")


@pytest.mark.parametrize("dataset,pair,fused,fused_file,metric,part,ref", _rows())
def test_matches_matlab_reference(data_root, reference_dir, summary, dataset, pair, fused, fused_file,
                                  metric, part, ref):
    name, tol = METRICS[metric]
    key = name if part == "total" else f"{name}.{part}"
    ours = _scores(data_root, dataset, pair, fused_file)[key]
    rel = abs(ours - ref) / abs(ref)
    summary.append({"dataset": dataset, "pair": pair, "fused": fused, "metric": metric, "part": part,
                    "reference": ref, "ours": ours, "rel_err": rel, "tol": tol})
    assert rel <= tol, f"{metric}.{part}: ours {ours!r} vs MATLAB {ref!r} (rel err {rel:.2e} > {tol:.0e})"


def test_reference_rows_present(reference_dir):
    rows = _rows()
    covered = {(p.values[4], p.values[5]) for p in rows}
    assert {("NMI", "total"), ("NMI", "ir"), ("NMI", "vi"), ("QY_stable", "total"), ("QABF_vifb", "total"),
            ("QABF_liu", "total"), ("IFC", "ir"), ("IFC", "vi"), ("VIF_vifvec", "ir"),
            ("VIF_vifvec", "vi")} <= covered
    assert len(rows) >= 300


def test_registered_ifc_vif_are_the_mean_of_their_parts(data_root):
    ir, vi = (to_gray_float(read_image(data_root / "tno" / r / "01.png")) for r in ("ir", "vi"))
    fused = np.floor((ir + vi + 1) / 2)
    got = fusionbench.evaluate(ir, vi, fused, metrics=["ifc", "vif", "nmi"], parts=True)
    parts = ifc_mod.ifc_vif_parts(ir, vi, fused)
    for m in ("ifc", "vif"):
        assert got[f"{m}.ir"] == parts[f"{m}.ir"] and got[f"{m}.vi"] == parts[f"{m}.vi"]
        assert got[m] == pytest.approx((parts[f"{m}.ir"] + parts[f"{m}.vi"]) / 2, rel=1e-15)
    assert got["nmi"] == pytest.approx(got["nmi.ir"] + got["nmi.vi"], rel=1e-15)
    assert got["ifc.vi"] == pytest.approx(ifc_mod.ifcvec(vi, fused), rel=1e-12)
    assert got["vif.ir"] == pytest.approx(ifc_mod.vifvec(ir, fused), rel=1e-12)


# ---------------------------------------------------------------- properties in closed form

def _image(seed: int = 0, shape: tuple[int, int] = (96, 120)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = np.cumsum(np.cumsum(rng.normal(size=shape), axis=0), axis=1)
    img = np.floor((smooth - smooth.min()) / np.ptp(smooth) * 200 + 20 + rng.uniform(0, 8, shape))
    img[30:50, 40:70] = 128.0                                   # a flat patch (Q_Y guard)
    return img


def test_identical_images_known_values():
    a = _image()
    s = 1.0 / (1.0 + math.exp(-5.0))
    scores = fusionbench.evaluate(a, a, a, metrics=["nmi", "qy", "qabf", "qabf_liu", "vif"], parts=True)
    assert scores["nmi.ir"] == pytest.approx(1.0, abs=1e-12)
    assert scores["nmi"] == pytest.approx(2.0, abs=1e-12)
    assert scores["qy"] == pytest.approx(1.0, abs=1e-12)
    # Liu: G = 1 and A = 1 everywhere -> Q = sigmoid(5)^2 at every pixel
    assert scores["qabf_liu"] == pytest.approx(s * s, abs=1e-12)
    # VIFB: where gA == gF the code uses G = gF (>= 255), so Q_g = Tg; A = 1 -> Q_a = Ta/(1+e^-4.4)
    assert scores["qabf"] == pytest.approx(0.9994 * 0.9879 / (1 + math.exp(-4.4)), abs=1e-12)
    assert scores["vif.ir"] == pytest.approx(1.0, abs=1e-9)


def test_distortion_lowers_the_scores():
    a, b = _image(0), _image(1)
    good = np.floor((a + b + 1) / 2)
    noisy = np.clip(good + np.random.default_rng(5).normal(0, 25, good.shape), 0, 255).round()
    s_good = fusionbench.evaluate(a, b, good, metrics=["nmi", "qy", "qabf", "qabf_liu", "ifc", "vif"])
    s_noisy = fusionbench.evaluate(a, b, noisy, metrics=["nmi", "qy", "qabf", "qabf_liu", "ifc", "vif"])
    for m in s_good:
        assert s_noisy[m] < s_good[m], m


@pytest.mark.parametrize("level", [10.0, 10.25])      # integer-valued and fractional (two guard paths)
def test_qy_guard_keeps_flat_images_finite(level):
    a = _image(0)
    flat = np.full_like(a, level)
    # IR carries nothing: SSIM(IR,VI) < 0.75 everywhere (also on VI's flat patch, where it is the
    # luminance term 2*10*128/(10^2+128^2)), so Q = max(SSIM(IR,F), SSIM(VI,F)) = SSIM(F,F) = 1
    value = fusionbench.evaluate(flat, a, a, metrics=["qy"])["qy"]
    assert value == pytest.approx(1.0, abs=1e-12)
    frac = a + 0.5
    assert fusionbench.evaluate(flat, frac, frac, metrics=["qy"])["qy"] == pytest.approx(1.0, abs=1e-12)


def test_qabf_vifb_core_is_symmetric_and_matches_qabf():
    a, b = _image(0), _image(1)
    f = np.maximum(a, b)
    reg = fusionbench.evaluate(a, b, f, metrics=["qabf"])["qabf"]
    assert qabf_vifb(b, a, f) == pytest.approx(reg, rel=1e-14)
    assert qabf_vifb(a, b, f) == pytest.approx(reg, rel=1e-14)


@pytest.mark.parametrize("metric", ["nmi", "qy", "qabf", "qabf_liu", "ifc", "vif"])
def test_bad_input_raises_value_error(metric):
    a = _image()
    with pytest.raises(ValueError, match="size mismatch"):
        fusionbench.evaluate(a, a, a[:-1], metrics=[metric])
    bad = a.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fusionbench.evaluate(a, a, bad, metrics=[metric])
    with pytest.raises(ValueError):
        fusionbench.evaluate(np.empty((0, 0)), a, a, metrics=[metric])
    fn = get_metric(metric).fn
    with pytest.raises(ValueError, match="outside 0..255"):
        fn(a, a, a * 4)
    with pytest.raises(ValueError, match="size mismatch"):
        fn(a, a[:, :-2], a)


def test_ifc_needs_a_four_level_pyramid():
    small = _image(shape=(60, 80))
    with pytest.raises(ValueError, match="72x72"):
        fusionbench.evaluate(small, small, small, metrics=["ifc"])


# ---------------------------------------------------------------- steerable pyramid

def test_sp5_filters_match_published_coefficients():
    f = sp5_filters()
    # spot values of matlabPyrTools sp5Filters.m (bfilts columns reshaped column-major to 7x7)
    assert f["lo0filt"][2, 2] == 0.40304148 and f["lo0filt"][0, 1] == -0.01551246
    assert f["hi0filt"][4, 4] == 0.81380200 and f["hi0filt"][1, 3] == 0.00631653
    assert f["lofilt"][4, 4] == 2 * 0.10096540 and f["lofilt"][0, 0] == 2 * 0.00085404
    b = f["bfilts"]
    assert b.shape == (6, 7, 7)
    assert b[0][0, 1] == -0.00986904 and b[0][1, 0] == 0.00496194     # bfilts(8,1), bfilts(2,1)
    assert b[1][0, 6] == -0.01166982 and b[1][3, 2] == -0.12227230    # bfilts(43,2), bfilts(18,2)
    assert b[2][0, 1] == 0.00640815 and b[4][0, 0] == -0.01166982 and b[5][0, 0] == -0.01166982
    assert np.array_equal(b[3], -b[0].T)
    for k in b:
        assert abs(k.sum()) < 1e-12                                  # band-pass: no DC response


def test_corr_reflect1_is_mirror_correlation():
    from scipy.ndimage import correlate

    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (45, 58)).astype(float)
    f = sp5_filters()
    for kernel in (f["lo0filt"], f["hi0filt"], f["lofilt"], f["bfilts"][1]):
        ref = correlate(img, kernel, mode="mirror")
        np.testing.assert_allclose(corr_reflect1(img, kernel), ref, rtol=0, atol=1e-11)
        np.testing.assert_allclose(corr_reflect1(img, kernel, step=2), ref[::2, ::2], rtol=0, atol=1e-11)


def test_pyramid_coefficients_are_local():
    """Images equal in a region give bit-identical subbands there (IFC's sigma_v^2 relies on it)."""
    rng = np.random.default_rng(4)
    a = rng.integers(0, 256, (160, 200)).astype(float)
    b = a.copy()
    b[:, :60] = rng.integers(0, 256, (160, 60))
    pa, pb = build_spyr(a, 4), build_spyr(b, 4)
    margin = 60 + 4 + 3                                           # lo0 + band half-widths
    for level in range(4):
        for band in range(6):
            x, y = pa.bands[level][band], pb.bands[level][band]
            assert np.array_equal(x[:, margin:], y[:, margin:]), (level, band)
        margin = (margin + 4) // 2 + 4 + 3                          # lofilt, then next level


def test_flat_source_is_handled_without_error():
    a = _image(0)
    flat = np.full_like(a, 50.0)
    s = fusionbench.evaluate(flat, a, a, metrics=["ifc", "vif", "nmi"], parts=True)
    assert s["ifc.ir"] == 0.0 and s["ifc.vi"] > 0 and s["nmi.ir"] == 0.0
    assert math.isnan(s["vif.ir"]) and s["vif.vi"] == pytest.approx(1.0, abs=1e-9)
