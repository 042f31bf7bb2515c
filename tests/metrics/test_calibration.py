"""Every paper and VIFB-style metric against MATLAB values, from files shipped in the repository.

``tests/calibration/`` (see its README) holds three TNO pairs with two fused images each (``mean``
and the published RFN-Nest outputs), one VIFB image with two of VIFB's own fused images, and the
MATLAB reference values of exactly those images (``reference.csv``, copied from
``../shared/reference/`` with provenance columns). These tests need no data root: they run on a
fresh clone with ``FUSIONBENCH_DATA`` unset and no ``../shared``. Tolerances are those of
``test_paper_metrics.py`` (relative 1e-6 for NMI, Q_Y, both Q_ABF; 1e-4 for the IFC and VIF parts)
and ``test_vifb_metrics.py`` (half a unit in the 5th significant digit + 3e-5 relative).
"""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest
from conftest import PAPER_REFERENCE_METRICS as PAPER
from conftest import VIFB_NAMES as VIFB
from conftest import vifb_tolerance

import fusionbench
from fusionbench.imageio import read_image, to_gray_float
from fusionbench.metrics import ifc as ifc_mod
from fusionbench.registry import get_metric

CALIBRATION = Path(__file__).resolve().parents[1] / "calibration"
REFERENCE = CALIBRATION / "reference.csv"



def _read_rows() -> list[dict[str, str]]:
    with open(REFERENCE, newline="") as fh:
        return list(csv.DictReader(fh))


ROWS = _read_rows()


_PAPER_SCORES: dict[str, dict[str, float]] = {}
_VIFB_SCORES: dict[str, dict[str, float]] = {}


def _paper_scores(r: dict[str, str]) -> dict[str, float]:
    if r["fused_file"] not in _PAPER_SCORES:
        ir, vi, fused = (to_gray_float(read_image(CALIBRATION / r[k])) for k in ("ir_file", "vi_file", "fused_file"))
        s = fusionbench.evaluate(ir, vi, fused, metrics=["nmi", "qy", "qabf", "qabf_liu"], parts=True)
        s.update(ifc_mod.ifc_vif_parts(ir, vi, fused))
        _PAPER_SCORES[r["fused_file"]] = s
    return _PAPER_SCORES[r["fused_file"]]


def _vifb_scores(r: dict[str, str]) -> dict[str, float]:
    if r["fused_file"] not in _VIFB_SCORES:
        ir, vi, fused = (read_image(CALIBRATION / r[k]) for k in ("ir_file", "vi_file", "fused_file"))
        _VIFB_SCORES[r["fused_file"]] = {n: float(get_metric(n)(ir, vi, fused)) for n in VIFB.values()}
    return _VIFB_SCORES[r["fused_file"]]


def _id(r: dict[str, str]) -> str:
    return f"{r['dataset']}-{r['pair']}-{r['fused']}-{r['metric']}-{r['part']}"


PAPER_ROWS = [pytest.param(r, id=_id(r)) for r in ROWS if r["metric"] in PAPER]
VIFB_ROWS = [pytest.param(r, id=_id(r)) for r in ROWS if r["metric"] in VIFB]


@pytest.mark.parametrize("row", PAPER_ROWS)
def test_paper_metric_matches_matlab(row):
    name, tol = PAPER[row["metric"]]
    key = name if row["part"] == "total" else f"{name}.{row['part']}"
    ours, ref = _paper_scores(row)[key], float(row["value"])
    rel = abs(ours - ref) / abs(ref)
    assert rel <= tol, f"{key}: ours {ours!r} vs MATLAB {ref!r} (rel err {rel:.2e} > {tol:.0e})"


@pytest.mark.parametrize("row", VIFB_ROWS)
def test_vifb_metric_matches_matlab(row):
    name = VIFB[row["metric"]]
    ours, ref = _vifb_scores(row)[name], float(row["value"])
    assert abs(ours - ref) <= vifb_tolerance(ref), f"{name}: ours {ours!r}, VIFB {ref!r}"


def test_calibration_set_covers_every_paper_and_vifb_metric():
    paper = {(r["metric"], r["part"]) for r in ROWS if r["metric"] in PAPER}
    assert {("NMI", "total"), ("NMI", "ir"), ("NMI", "vi"), ("QY_stable", "total"), ("QABF_vifb", "total"),
            ("QABF_liu", "total"), ("IFC", "ir"), ("IFC", "vi"), ("VIF_vifvec", "ir"),
            ("VIF_vifvec", "vi")} <= paper
    assert {r["metric"] for r in ROWS if r["dataset"] == "vifb"} == set(VIFB)
    # two fused images for each of the three TNO pairs
    tno = {(r["pair"], r["fused"]) for r in ROWS if r["dataset"] == "tno" and r["metric"] in PAPER}
    assert {p for p, _ in tno} == {"01", "03", "04"} and {f for _, f in tno} == {"mean", "RFN-Nest"}


def test_calibration_files_are_the_referenced_images_and_small():
    for r in ROWS:
        data = (CALIBRATION / r["fused_file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["fused_sha256"], r["fused_file"]
        for k in ("ir_file", "vi_file"):
            assert (CALIBRATION / r[k]).is_file(), r[k]
        assert r["source_csv"].startswith("reference/")
    total = sum(p.stat().st_size for p in CALIBRATION.rglob("*") if p.is_file())
    assert total < 3 * 1024 * 1024, f"calibration set is {total} bytes (limit 3 MB)"


def test_calibration_needs_no_data_root(monkeypatch, tmp_path):
    """The values come from the repository tree alone: no data root, no ../shared."""
    monkeypatch.delenv("FUSIONBENCH_DATA", raising=False)
    monkeypatch.setenv("FUSIONBENCH_SHARED", str(tmp_path / "absent"))
    r = next(r for r in ROWS if r["metric"] == "NMI" and r["part"] == "total")
    ir, vi, fused = (to_gray_float(read_image(CALIBRATION / r[k])) for k in ("ir_file", "vi_file", "fused_file"))
    got = fusionbench.evaluate(ir, vi, fused, metrics=["nmi"])["nmi"]
    assert abs(got - float(r["value"])) <= 1e-6 * abs(float(r["value"]))
