"""``tang:fmi_dct`` (and the raw-pixel ``fmi``) against Tang's ``analysis_fmi.m`` run under GNU Octave.

``compat_fmi/reference.csv`` holds the values of the unmodified script on small crops of TNO and
RoadScene images and on the synthetic edge cases of ``compat_fmi/edge_cases.py`` (how they were
computed: ``compat_fmi/README.md``). The crops are taken from the images as the script's driver
reads them (uint8 gray), before ``dct2``: the features are the DCT of the crop. The script is
float64, so the tolerance is 1e-6 relative (measured worst: 6e-15).
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

from fusionbench.api import compute_metric
from fusionbench.imageio import read_image
from fusionbench.registry import get_metric

HERE = Path(__file__).resolve().parent / "compat_fmi"
sys.path.insert(0, str(HERE))
import edge_cases  # noqa: E402

TOL = 1e-6
METRIC = {"dct": "tang:fmi_dct", "none": "fmi"}


def _rows() -> list:
    with open(HERE / "reference.csv", newline="") as fh:
        return [pytest.param(r, id=f"{r['case']}-{r['feature']}") for r in csv.DictReader(fh)]


def _where(rel: str) -> Path | None:
    """A path of the CSV (relative to shared/) on this machine: data/ under the data root."""
    from conftest import DATA_ROOT, SHARED

    if rel.startswith("data/"):
        return DATA_ROOT / rel[5:] if DATA_ROOT is not None else None
    return SHARED / rel


def _images(row: dict) -> list[np.ndarray]:
    if row["case"].startswith("edge_"):
        return list(edge_cases.images(row["case"][5:]))
    paths = [_where(row[k]) for k in ("ir", "vi", "fused")]
    if not all(p is not None and p.exists() for p in paths):
        pytest.skip(f"../shared data for {row['case']} absent")
    r0, c0, h, w = (int(row[k]) for k in ("row0", "col0", "height", "width"))
    return [read_image(p)[r0:r0 + h, c0:c0 + w] for p in paths]


@pytest.mark.parametrize("row", _rows())
def test_fmi_matches_octave_analysis_fmi(row):
    name = METRIC[row["feature"]]
    ours = compute_metric(get_metric(name), _images(row))[name]
    ref = float(row["value"])
    assert abs(ours - ref) <= TOL * abs(ref), f"{name} {row['case']}: ours {ours!r}, Octave {ref!r}"


def _dct(x: np.ndarray) -> np.ndarray:
    from scipy.fft import dctn

    return dctn(np.asarray(x, np.float64), norm="ortho")


@pytest.mark.parametrize("name", edge_cases.NAMES)
def test_fmi_paths_agree_on_the_edge_cases(name):
    """The compiled w=3 kernel and the generic numpy path give the same value, on raw pixels
    and on DCT features (both fmi.m rules included)."""
    from fusionbench.metrics.information import _fmi_generic, _fmi_w3

    imgs = [x.astype(np.float64) for x in edge_cases.images(name)]
    assert _fmi_w3(imgs) == pytest.approx(_fmi_generic(imgs, 3), rel=1e-9)
    feats = [_dct(x) for x in imgs]
    assert _fmi_w3(feats) == pytest.approx(_fmi_generic(feats, 3), rel=1e-9)


def test_fmi_rules_of_fmi_m():
    """Constant unequal windows score 1 (Octave's in-order mean of nine 1/9 is not 1/9), and B is
    compared with F's normalised window: a 0/1 B window equal to it scores 1."""
    from fusionbench.metrics.information import _flat_pair_value, _fmi_generic, fmi_haghighat

    assert _flat_pair_value(9) == 1.0
    const = [np.full((3, 3), v) for v in (7.0, 9.0, 60.0)]
    assert fmi_haghighat(*const) == 1.0
    rng = np.random.default_rng(4)
    a = rng.integers(0, 256, (3, 3)).astype(np.float64)
    f = np.array([[30.0, 120, 30], [120, 30, 120], [30, 120, 30]])
    b = (f - 30) / 90                                  # = F's window min-max normalised
    b_off = b.copy()
    b_off[0, 0] = 0.5                                  # not equal any more
    one_a = fmi_haghighat(a, a, f)                     # A's window score on both sides
    assert fmi_haghighat(a, b, f) == pytest.approx((one_a + 1.0) / 2, rel=1e-12)
    assert fmi_haghighat(a, b_off, f) < (one_a + 1.0) / 2 - 1e-3
    g = rng.uniform(0, 255, (20, 24))                  # float w=3 path: constant windows in all three
    f2, b2 = g * 0.5 + 10, g * 0.25
    g[5:9, 5:9], f2[5:9, 5:9], b2[5:9, 5:9] = 3.0, 80.0, 1.0
    v = fmi_haghighat(g, b2, f2)
    assert v == pytest.approx(_fmi_generic([g, b2, f2], 3), rel=1e-9)
