"""Shared fixtures: where the real data, MATLAB references and weights are.

``FUSIONBENCH_DATA`` (CI sets it to ``../shared/data``) or ``../shared/data`` beside the
project is the data root; tests needing it skip with a reason when it is absent.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

PROJECT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FUSIONBENCH_SHARED", PROJECT.parent / "shared"))


def _data_root() -> Path | None:
    env = os.environ.get("FUSIONBENCH_DATA")
    p = Path(env) if env else SHARED / "data"
    return p if (p / "tno" / "ir").is_dir() else None


DATA_ROOT = _data_root()
REFERENCE = SHARED / "reference" if (SHARED / "reference" / "README.md").exists() else None
WEIGHTS = Path(os.environ.get("FUSIONBENCH_WEIGHTS", SHARED / "weights"))
WEIGHTS = WEIGHTS if (WEIGHTS / "MANIFEST.md").exists() else None

needs_data = pytest.mark.skipif(DATA_ROOT is None, reason="real data root absent (set FUSIONBENCH_DATA or put ../shared/data beside the project)")
needs_reference = pytest.mark.skipif(REFERENCE is None, reason="../shared/reference (MATLAB reference values) absent")
needs_weights = pytest.mark.skipif(WEIGHTS is None, reason="weights root absent (set FUSIONBENCH_WEIGHTS or put ../shared/weights beside the project)")


@pytest.fixture
def data_root() -> Path:
    if DATA_ROOT is None:
        pytest.skip("real data root absent (set FUSIONBENCH_DATA or put ../shared/data beside the project)")
    return DATA_ROOT


@pytest.fixture
def reference_dir() -> Path:
    if REFERENCE is None:
        pytest.skip("../shared/reference absent")
    return REFERENCE


@pytest.fixture
def weights_root() -> Path:
    if WEIGHTS is None:
        pytest.skip("weights root absent")
    return WEIGHTS


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "results"


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory) -> Path:
    """A result store with ``average`` and ``max`` run on the embedded synthetic dataset
    (default metrics), built once per test module that asks for it."""
    from fusionbench.cli import main

    root = tmp_path_factory.mktemp("synthetic-store") / "results"
    assert main(["run", "--methods", "average,max", "--dataset", "synthetic", "--results", str(root),
                 "--no-progress"]) == 0
    return root


@pytest.fixture
def small_pair() -> tuple[np.ndarray, np.ndarray]:
    """A 60x80 gray pair on 0..255: a warm blob in the IR, a ramp with stripes in the visible."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:60, 0:80]
    ir = np.clip(120 + 100 * np.exp(-((yy - 30) ** 2 + (xx - 50) ** 2) / 80.0) + rng.normal(0, 3, yy.shape), 0, 255)
    vi = np.clip(60 + 1.5 * xx + 20 * np.sin(yy / 3.0) + rng.normal(0, 5, yy.shape), 0, 255)
    return np.round(ir), np.round(vi)


def write_agreement_summary(rows: list[dict], folder: Path, key, what: str) -> Path:
    """Write ours-vs-reference ``rows`` (dicts with ``rel_err``, ``tol``, ``dataset``, ``pair``,
    ``fused``) to ``folder/summary.csv`` and print the worst relative error per ``key(row)``."""
    import csv

    out = folder / "summary.csv"
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    worst: dict[str, dict] = {}
    for row in rows:
        k = key(row)
        if k not in worst or row["rel_err"] > worst[k]["rel_err"]:
            worst[k] = row
    print(f"\nours vs {what}: {out} ({len(rows)} rows)")
    for k, row in sorted(worst.items()):
        print(f"  {k:<18} worst rel err {row['rel_err']:.2e} (tol {row['tol']:.0e}) at "
              f"{row['dataset']} {row['pair']} {row['fused']}")
    return out


#: the MATLAB reference's metric names -> (our metric, relative tolerance): ../shared/reference/metrics.csv
#: (tests/metrics/test_paper_metrics.py) and its in-repo copy (tests/metrics/test_calibration.py)
PAPER_REFERENCE_METRICS = {
    "NMI": ("nmi", 1e-6),
    "QY_stable": ("qy", 1e-6),
    "QABF_vifb": ("qabf", 1e-6),
    "QABF_liu": ("qabf_liu", 1e-6),
    "IFC": ("ifc", 1e-4),
    "VIF_vifvec": ("vif", 1e-4),
}

#: VIFB's metric names -> ours (../shared/reference/vifb_metrics.csv and the calibration copy)
VIFB_NAMES = {
    "Entropy": "vifb:en", "Variance": "vifb:sd", "Spatial_frequency": "vifb:sf",
    "Avg_gradient": "vifb:ag", "Edge_intensity": "vifb:ei", "Mutinf": "vifb:mi",
    "Cross_entropy": "vifb:ce", "Psnr": "vifb:psnr", "Rmse": "vifb:rmse", "Ssim": "vifb:ssim",
    "Qabf": "vifb:qabf", "Qcb": "vifb:qcb", "Qcv": "vifb:qcv",
}


def vifb_tolerance(ref: float) -> float:
    """VIFB stores 5 significant digits: half a unit in the 5th significant digit of ``ref``
    plus 3e-5 relative (1e-9 for a zero reference)."""
    import math

    if ref == 0:
        return 1e-9
    return 0.5 * 10.0 ** (math.floor(math.log10(abs(ref))) - 4) + 3e-5 * abs(ref)


def psnr(a, b) -> float:
    """PSNR in dB of two images on 0..255 (inf when equal)."""
    mse = float(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def saved(f: np.ndarray) -> np.ndarray:
    """What the result store writes: round half up, clipped."""
    return np.floor(f + 0.5).clip(0, 255)


def tno_pair(data_root: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """TNO pair ``name`` as float64 (infrared, visible)."""
    from fusionbench.imageio import read_image

    ir = read_image(data_root / "tno" / "ir" / f"{name}.png").astype(np.float64)
    vi = read_image(data_root / "tno" / "vi" / f"{name}.png").astype(np.float64)
    return ir, vi


@pytest.fixture
def weights(weights_root, monkeypatch):
    """The weights root, exported as ``FUSIONBENCH_WEIGHTS`` for the test."""
    monkeypatch.setenv("FUSIONBENCH_WEIGHTS", str(weights_root))
    return weights_root
