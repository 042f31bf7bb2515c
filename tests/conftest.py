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
