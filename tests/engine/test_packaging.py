"""The wheel installs the domain folders under fusionbench.* with their data files."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def test_wheel_maps_domain_folders_under_fusionbench(tmp_path):
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path), str(PROJECT)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    (whl,) = tmp_path.glob("fusionbench-*.whl")
    names = set(zipfile.ZipFile(whl).namelist())
    for must in ("fusionbench/cli.py", "fusionbench/methods/simple.py", "fusionbench/metrics/stats.py",
                 "fusionbench/datasets/synthetic.py", "fusionbench/datasets/splits/roadscene_fusionbench_test20.txt",
                 "fusionbench/methods/ssl_waeie/weights/default.pt", "fusionbench/methods/mdlatlrr_projection.npz",
                 "fusionbench/papers/ssl_waeie.json"):
        assert must in names, must
    tops = {n.split("/")[0] for n in names}
    assert not tops & {"methods", "metrics", "datasets"}  # never top-level (HuggingFace `datasets`!)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "fusionbench = fusionbench.cli:main" in zipfile.ZipFile(whl).read(entry).decode()


def test_installed_package_does_not_shadow_huggingface_datasets(tmp_path):
    code = ("import importlib.util, fusionbench.datasets, fusionbench.methods, fusionbench.metrics; "
            "print([str(getattr(importlib.util.find_spec(n), 'origin', None)) for n in ('datasets', 'methods', 'metrics')])")
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert str(PROJECT) not in res.stdout  # the project's folders are not importable as top-level names
