"""``vifb:*`` metrics against VIFB's own MATLAB values (``../shared/reference/vifb_metrics.csv``).

Every CSV row (image, method, metric, value stored to 5 significant digits) is one test case:
``|ours - ref| <= 0.5 unit in the 5th significant digit + 3e-5 |ref|``. Inputs are read as
stored (``read_image``), passed as ``fn(ir, vi, fused)``; each fused image is scored once per
module.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, VIFB_NAMES
from conftest import vifb_tolerance as tolerance

from fusionbench.imageio import read_image
from fusionbench.registry import get_metric

_CSV = SHARED / "reference" / "vifb_metrics.csv"

# VIFB renamed MST_SR to LP_SR (commit 7a89c52, "MST_SR should be LP_SR"); its stored MST_SR
# values equal the LP_SR ones row for row, and only LP_SR images are staged.
FOLDER = {"MST_SR": "LP_SR"}
# For these two methods (added to VIFB in d4089a0) every metric, including EN and SD of the
# fused image alone, is off by 1e-4..6e-2 relative: the JPEGs VIFB ships are not the images
# its stored values were computed on. No metric code can match them, so their rows are not
# parametrised below; `test_swinfusion_ydtr_shipped_images_are_not_the_scored_ones` keeps the
# evidence (fused-image-only metrics disagree) as a test that fails if VIFB ever fixes them.
NOT_THE_SCORED_IMAGE = {"SwinFusion", "YDTR"}


def _rows() -> list:
    if not _CSV.exists():
        return []
    out = []
    with open(_CSV, newline="") as fh:
        for r in csv.DictReader(fh):
            if r["method"] in NOT_THE_SCORED_IMAGE:
                continue
            out.append(pytest.param(r["image"], r["method"], r["metric"], float(r["value"]),
                                    id=f"{r['image']}-{r['method']}-{r['metric']}"))
    return out


def _paths(data_root: Path, image: str, method: str) -> tuple[Path, Path, Path]:
    return (data_root / "vifb" / "ir" / f"{image}.jpg", data_root / "vifb" / "vi" / f"{image}.jpg",
            data_root / "results" / "vifb" / FOLDER.get(method, method) / f"{image}.jpg")


_SCORES: dict[tuple[str, str], dict[str, float]] = {}


def _scores(data_root: Path, image: str, method: str) -> dict[str, float]:
    key = (image, FOLDER.get(method, method))
    if key not in _SCORES:
        ir, vi, fused = (read_image(p) for p in _paths(data_root, image, method))
        _SCORES[key] = {n: float(get_metric(n)(ir, vi, fused)) for n in VIFB_NAMES.values()}
    return _SCORES[key]


@pytest.mark.parametrize("image,method,metric,ref", _rows())
def test_vifb_reference_row(data_root, reference_dir, image, method, metric, ref):
    ours = _scores(data_root, image, method)[VIFB_NAMES[metric]]
    assert abs(ours - ref) <= tolerance(ref), f"{VIFB_NAMES[metric]}: ours {ours!r}, VIFB {ref!r}"


@pytest.mark.parametrize("method", sorted(NOT_THE_SCORED_IMAGE))
def test_swinfusion_ydtr_shipped_images_are_not_the_scored_ones(data_root, reference_dir, method):
    """EN and SD depend on the fused image alone, yet disagree with VIFB's stored values far
    beyond rounding on these methods' shipped JPEGs: the stored values came from other images."""
    worst = 0.0
    for image in ("carLight", "kettle", "manCall"):
        ref = _reference_values(reference_dir, image, method)
        ours = _scores(data_root, image, method)
        for name in ("vifb:en", "vifb:sd"):
            worst = max(worst, abs(ours[name] - ref[name]) / tolerance(ref[name]))
    assert worst > 5, f"{method}: EN/SD now agree with VIFB (worst {worst:.2f} tolerances); re-enable its rows"


def test_reference_covers_all_thirteen_metrics(reference_dir):
    with open(reference_dir / "vifb_metrics.csv", newline="") as fh:
        metrics = {r["metric"] for r in csv.DictReader(fh)}
    assert metrics == set(VIFB_NAMES)


def _reference_values(reference_dir: Path, image: str, method: str) -> dict[str, float]:
    with open(reference_dir / "vifb_metrics.csv", newline="") as fh:
        return {VIFB_NAMES[r["metric"]]: float(r["value"]) for r in csv.DictReader(fh)
                if r["image"] == image and r["method"] == method}


def test_evaluate_preset_vifb_reproduces_vifb(data_root, reference_dir):
    import fusionbench

    ref = _reference_values(reference_dir, "manCall", "GFF")
    got = fusionbench.evaluate(*map(str, _paths(data_root, "manCall", "GFF")), preset="vifb")
    assert set(got) == set(ref)
    for name, value in ref.items():
        assert abs(got[name] - value) <= tolerance(value), (name, got[name], value)


def test_cli_evaluate_preset_vifb_json(data_root, reference_dir, capsys):
    from fusionbench.cli import main

    ref = _reference_values(reference_dir, "kettle", "MGFF")
    rc = main(["evaluate", *map(str, _paths(data_root, "kettle", "MGFF")), "--preset", "vifb", "--json"])
    assert rc in (0, None)
    got = json.loads(capsys.readouterr().out)
    assert set(got) == set(ref)
    for name, value in ref.items():
        assert abs(got[name] - value) <= tolerance(value), (name, got[name], value)


def test_vifb_directions_and_raw_input():
    lower = {"vifb:ce", "vifb:rmse", "vifb:qcv"}
    for name in VIFB_NAMES.values():
        spec = get_metric(name)
        assert spec.input == "raw"
        assert spec.higher_is_better is (name not in lower), name


def _gray_triplet(seed: int = 0, shape=(64, 80)):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, shape).astype(np.uint8)
    ir = np.clip(base.astype(int) + rng.integers(-40, 41, shape), 0, 255).astype(np.uint8)
    vi = np.clip(255 - base.astype(int) + rng.integers(-40, 41, shape), 0, 255).astype(np.uint8)
    fused = ((ir.astype(int) + vi) // 2).astype(np.uint8)
    return ir, vi, fused


def test_vifb_equals_textbook_where_vifb_says_so_on_gray():
    """On gray images VIFB's EN, SD, SF, EI, CE, Q_CB, Q_CV are the textbook ones; SSIM is the
    sum of the two terms; RMSE is the true RMSE / sqrt(M N)."""
    ir, vi, f = _gray_triplet()
    g = [x.astype(np.float64) for x in (ir, vi, f)]
    for v, t in [("vifb:en", "en"), ("vifb:sd", "sd"), ("vifb:sf", "sf"), ("vifb:ei", "ei"),
                 ("vifb:ce", "ce"), ("vifb:qcb", "qcb"), ("vifb:qcv", "qcv")]:
        assert get_metric(v)(ir, vi, f) == pytest.approx(get_metric(t)(*g), rel=1e-12), v
    assert get_metric("vifb:ssim")(ir, vi, f) == pytest.approx(2 * get_metric("ssim")(*g)["total"], rel=1e-12)
    n = ir.size
    assert get_metric("vifb:rmse")(ir, vi, f) == pytest.approx(get_metric("rmse")(*g)["total"] / math.sqrt(n),
                                                                  rel=1e-12)


def test_vifb_colour_fused_is_channel_mean_and_sf_scans_channels_side_by_side():
    ir, vi, f = _gray_triplet(1)
    rng = np.random.default_rng(2)
    vi3 = np.stack([vi, np.roll(vi, 1, 0), np.roll(vi, 2, 1)], axis=2)
    f3 = np.stack([f, (f // 2).astype(np.uint8), np.clip(f.astype(int) + rng.integers(0, 5, f.shape), 0, 255)
                   .astype(np.uint8)], axis=2)
    per = [get_metric("vifb:qcb")(ir, vi3[..., k], f3[..., k]) for k in range(3)]
    assert get_metric("vifb:qcb")(ir, vi3, f3) == pytest.approx(np.mean(per), rel=1e-12)
    strip = np.concatenate([f3[..., k] for k in range(3)], axis=1)
    wide = np.concatenate([ir] * 3, axis=1)
    assert get_metric("vifb:sf")(ir, vi3, f3) == pytest.approx(get_metric("vifb:sf")(wide, wide, strip), rel=1e-12)


def test_vifb_rejects_size_mismatch():
    ir, vi, f = _gray_triplet()
    with pytest.raises(ValueError, match="size mismatch"):
        get_metric("vifb:ssim")(ir, vi, f[:-1])


def test_vifb_gray_fused_with_colour_visible_runs_like_roadscene():
    """Gray IR and fused with a colour VI (RoadScene-like): VIFB's gray-fused branch; colour
    sources go through MATLAB rgb2gray (rounded for uint8 where VIFB converts the uint8 image)."""
    ir, vi, f = _gray_triplet(4)
    vi3 = np.stack([vi, np.roll(vi, 3, 1), 255 - vi], axis=2).astype(np.uint8)
    vi_gray = np.floor(vi3.astype(np.float64) @ np.array([0.298936021293775, 0.587043074451121,
                                                          0.114020904255103]) + 0.5).astype(np.uint8)
    for name in VIFB_NAMES.values():
        got = get_metric(name)(ir, vi3, f)
        assert np.isfinite(got), name
        if name in ("vifb:mi", "vifb:ce", "vifb:ssim", "vifb:qcb", "vifb:qcv"):   # uint8 rgb2gray
            assert got == pytest.approx(get_metric(name)(ir, vi_gray, f), rel=1e-12), name
