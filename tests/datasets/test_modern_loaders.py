"""MSRS, LLVIP and M3FD loaders on temporary folders laid out as the official releases, filled
from the samples in ``../shared/data/{msrs,llvip,m3fd}_sample`` (skipped when absent)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fusionbench.cli import main
from fusionbench.data import load_dataset as _load_ref
from fusionbench.data import validate_pairs
from fusionbench.errors import DatasetNotFoundError, InputError
from fusionbench.registry import get_dataset

PROJECT = Path(__file__).resolve().parents[2]
SAMPLES = Path(os.environ.get("FUSIONBENCH_DATA") or PROJECT.parent / "shared" / "data")


def load_dataset(name: str, **kw):
    """``(store label, pairs)`` of a registered dataset."""
    ref = _load_ref(name, **kw)
    return ref.label, list(ref.pairs)


def _sample(name: str) -> Path:
    p = SAMPLES / f"{name}_sample"
    if not (p / "ir").is_dir():
        pytest.skip(f"{p} absent (the shared data samples)")
    return p


def _copy(src: Path, names: list[str], ir_dst: Path, vi_dst: Path) -> None:
    ir_dst.mkdir(parents=True, exist_ok=True)
    vi_dst.mkdir(parents=True, exist_ok=True)
    for n in names:
        for s, d in ((src / "ir", ir_dst), (src / "vi", vi_dst)):
            f = next(s.glob(f"{n}.*"))
            shutil.copy(f, d / f.name)


@pytest.fixture
def release_root(tmp_path) -> Path:
    """A data root holding msrs/, llvip/ and m3fd/ in their release layouts."""
    msrs, llvip, m3fd = _sample("msrs"), _sample("llvip"), _sample("m3fd")
    _copy(msrs, ["00537D", "00858N", "01023N"], tmp_path / "msrs/test/ir", tmp_path / "msrs/test/vi")
    _copy(msrs, ["00556D", "00633D", "00881N"], tmp_path / "msrs/train/ir", tmp_path / "msrs/train/vi")
    test = [f"19000{k}" for k in range(1, 7)]
    train = [f"20000{k}" for k in range(2, 8)]
    _copy(llvip, test, tmp_path / "llvip/infrared/test", tmp_path / "llvip/visible/test")
    _copy(llvip, train, tmp_path / "llvip/infrared/train", tmp_path / "llvip/visible/train")
    _copy(m3fd, ["M3FD_00471"], tmp_path / "m3fd/ir", tmp_path / "m3fd/vi")
    return tmp_path


def test_msrs_splits_and_day_night(release_root):
    label, test = load_dataset("msrs", root=release_root)
    assert label == "msrs" and [p.name for p in test] == ["00537D", "00858N", "01023N"]
    assert [p.attrs["time"] for p in test] == ["day", "night", "night"]
    _, night = load_dataset("msrs", root=release_root, split="test-night")
    assert [p.name for p in night] == ["00858N", "01023N"]
    _, day = load_dataset("msrs", root=release_root, split="train-day")
    assert [p.name for p in day] == ["00556D", "00633D"]
    assert len(load_dataset("msrs", root=release_root, split="train")[1]) == 3
    validate_pairs(test, "msrs")
    p = test[0]
    assert p.ir_raw().shape == (480, 640) and p.vi_raw().shape == (480, 640, 3) and p.vi_rgb() is not None


def test_llvip_gray_infrared_and_jpeg_as_stored(release_root):
    label, pairs = load_dataset("llvip", root=release_root)
    assert label == "llvip" and len(pairs) == 6 and pairs[0].name == "190001"
    assert len(load_dataset("llvip", root=release_root, split="train")[1]) == 6
    validate_pairs(pairs[:2], "llvip")
    p = pairs[0]
    stored = np.array(Image.open(p.ir_path))
    assert stored.ndim == 3  # the release stores the infrared as 3 equal channels ...
    assert p.ir_raw().shape == (1024, 1280) and np.array_equal(p.ir_raw(), stored[..., 0])  # ... read as gray
    assert np.array_equal(p.vi_raw(), np.array(Image.open(p.vi_path)))  # JPEG decoded as stored
    assert "non-commercial" in get_dataset("llvip").source and "non-commercial" in get_dataset("llvip").description


def test_m3fd_fusion300_list_when_present(release_root):
    _, pairs = load_dataset("m3fd", root=release_root)
    assert [p.name for p in pairs] == ["M3FD_00471"]  # no list file: every pair
    assert pairs[0].ir_raw().shape == (768, 1024)  # 3 equal channels read as gray
    with pytest.raises(DatasetNotFoundError, match="fusion300.txt"):
        load_dataset("m3fd", root=release_root, split="fusion300")
    (release_root / "m3fd" / "fusion300.txt").write_text("# fusion subset\nM3FD_00471.png\n")
    _, listed = load_dataset("m3fd", root=release_root)
    assert [p.name for p in listed] == ["M3FD_00471"]
    (release_root / "m3fd" / "fusion300.txt").write_text("M3FD_00471\nM3FD_09999\n")
    with pytest.raises(InputError, match="M3FD_09999"):
        load_dataset("m3fd", root=release_root)
    assert len(load_dataset("m3fd", root=release_root, split="all")[1]) == 1


def test_colour_infrared_is_refused(release_root):
    f = release_root / "m3fd" / "ir" / "M3FD_00471.png"
    a = np.array(Image.open(f))
    a[0, 0, 1] ^= 1  # channels no longer equal: a real colour image
    Image.fromarray(a).save(f)
    _, pairs = load_dataset("m3fd", root=release_root)
    with pytest.raises(InputError, match="colour infrared"):
        validate_pairs(pairs, "m3fd")


def test_missing_release_names_source(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"llvip/infrared/test.*non-commercial"):
        load_dataset("llvip", root=tmp_path)
    with pytest.raises(DatasetNotFoundError, match=r"msrs/test/ir.*Linfeng-Tang/MSRS"):
        load_dataset("msrs", root=tmp_path)


def test_datasets_command_counts_pairs(release_root, capsys):
    assert main(["datasets", "--data-root", str(release_root)]) == 0
    out = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines() if ln.split()}
    assert "yes (6 pairs)" in out["llvip"] and "3,463" in out["llvip"]
    assert "yes (3 pairs)" in out["msrs"] and "yes (1 pairs)" in out["m3fd"] and "MISSING" in out["tno"]


def test_run_on_llvip_pair(release_root, tmp_path):
    assert main(["run", "--methods", "average", "--dataset", "llvip", "--pairs", "190001", "--metrics", "en",
                 "--data-root", str(release_root), "--results", str(tmp_path / "store"), "--no-progress"]) == 0
    fused = np.array(Image.open(tmp_path / "store" / "llvip" / "average" / "fused" / "190001.png"))
    assert fused.shape == (1024, 1280)


def test_shipped_llvip_inputs_read_alike(release_root, tmp_path):
    """--ship-inputs sends the JPEG bytes; the worker reads them with the same pair class (gray IR)."""
    from fusionbench.runner import run

    for d, ship in (("paths", False), ("shipped", True)):
        out = run(["average"], "llvip", pairs=["190002"], metrics=["en"], root=release_root,
                  results=tmp_path / d, ship_inputs=ship, progress=False, log=lambda m: None)
        assert out[0].count("fused") == 1, out[0].outcomes
    rel = Path("llvip/average/scores.csv")
    assert (tmp_path / "paths" / rel).read_bytes() == (tmp_path / "shipped" / rel).read_bytes()
