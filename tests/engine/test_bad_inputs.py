"""Every bad input gives one clear line naming the file, a non-zero exit, and nothing written.

Behaviour chosen per case (also in the README):

| input | behaviour |
|---|---|
| truncated PNG, non-image file, zero-size image, NaN in a float .npy/.tiff | refused (exit 2) |
| colour infrared | refused (exit 2): infrared must be single-channel |
| mismatched IR/VI sizes, missing partner, empty folders | refused (exit 2), all problems listed |
| unreadable permissions | refused (exit 2) |
| 16-bit PNG | converted with a warning, by its maximum M: M <= 255 unchanged, M <= 4095 round(x*255/4095), else round(x/257) (see test_robust_input.py) |
| results folder of another store version | refused (exit 2) |
| corrupt weights file | refused (exit 2) |
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from fusionbench.cli import main


def _good(root, name="good", shape=(12, 16)):
    for d in ("ir", "vi"):
        (root / d).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.random.default_rng(1).integers(0, 255, shape, dtype=np.uint8)).save(root / d / f"{name}.png")


def _truncated(p):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40), dtype=np.uint8)).save(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _colour(p):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (12, 16, 3), dtype=np.uint8)).save(p)


def _nan_tiff(p):
    a = np.full((12, 16), 10.0, np.float32)
    a[0, 0] = np.nan
    Image.fromarray(a, mode="F").save(p)


CASES = {
    "truncated": ("ir/bad.png", _truncated, "corrupt or truncated"),
    "non_image": ("vi/bad.png", lambda p: p.write_text("this is not an image"), "not an image file"),
    "zero_size": ("ir/bad.npy", lambda p: np.save(p, np.zeros((0, 16))), "zero-size image"),
    "nan_npy": ("vi/bad.npy", lambda p: np.save(p, np.where(np.eye(12, 16) > 0, np.nan, 5.0)), "NaN"),
    "nan_tiff": ("ir/bad.tiff", _nan_tiff, "NaN"),
    "colour_ir": ("ir/bad.png", _colour, "colour infrared"),
    "mismatch": ("vi/bad.png", lambda p: Image.fromarray(np.zeros((13, 16), np.uint8)).save(p), "size mismatch"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_refused(tmp_path, capsys, case):
    rel, make, fragment = CASES[case]
    root = tmp_path / "data"
    _good(root)
    side = rel.split("/")[0]
    other = "vi" if side == "ir" else "ir"
    Image.fromarray(np.zeros((12, 16), np.uint8)).save(root / other / "bad.png")
    make(root / rel)
    res = tmp_path / "res"
    code = main(["run", "--methods", "average", "--dataset", str(root), "--results", str(res), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert fragment in err and "Traceback" not in err
    assert "bad" in err  # the file / pair is named
    assert not res.exists()  # validation happens before anything is written


def test_sixteen_bit_png_is_converted_with_warning(tmp_path, capsys):
    root = tmp_path / "data"
    _good(root)
    Image.fromarray((np.arange(12 * 16).reshape(12, 16) * 300).astype(np.uint16)).save(root / "ir" / "good.png")
    with pytest.warns(UserWarning, match=r"good.png: 16-bit image scaled to 8 bits"):
        code = main(["run", "--methods", "average", "--dataset", str(root), "--metrics", "en",
                     "--results", str(tmp_path / "res"), "--no-progress"])
    assert code == 0


def test_empty_folders(tmp_path, capsys):
    for d in ("ir", "vi"):
        (tmp_path / "data" / d).mkdir(parents=True)
    assert main(["run", "--methods", "average", "--dataset", str(tmp_path / "data"),
                 "--results", str(tmp_path / "r")]) == 2
    assert "empty dataset" in capsys.readouterr().err


def test_unreadable_permissions(tmp_path, capsys, monkeypatch):
    root = tmp_path / "data"
    _good(root)
    target = root / "vi" / "good.png"
    if os.geteuid() != 0:
        target.chmod(0)
    else:  # root reads anything: make the permission check see what an ordinary user would
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if str(p) == str(target) else real(p, m, *a, **k))
    code = main(["run", "--methods", "average", "--dataset", str(root), "--results", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "permission denied" in err and str(target) in err


def test_results_from_another_store_version(tmp_path, capsys):
    res = tmp_path / "res"
    res.mkdir()
    (res / "fusionbench-store.json").write_text('{"store_version": 0}')
    assert main(["run", "--methods", "average", "--results", str(res)]) == 2
    assert "store version 0" in capsys.readouterr().err
    legacy = tmp_path / "legacy"
    (legacy / "tno" / "x" / "records").mkdir(parents=True)
    assert main(["run", "--methods", "average", "--results", str(legacy)]) == 2
    assert "without a store marker" in capsys.readouterr().err


def test_corrupt_weights_file(tmp_path, capsys):
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"\x00garbage, not a checkpoint")
    code = main(["run", "--methods", "ssl_waeie", "--weights", str(bad), "--results", str(tmp_path / "r"),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "corrupt.pt" in err and "Traceback" not in err
