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
