"""Image reading, MATLAB rgb2gray, round-half-up quantisation, atomic writes."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from fusionbench.errors import InputError
from fusionbench.imageio import atomic_write_text, quantize, read_image, rgb2gray


def test_quantize_is_round_half_up_with_clipping():
    x = np.array([-3.0, 0.49, 0.5, 1.5, 2.5, 254.5, 300.0])
    assert quantize(x).tolist() == [0, 0, 1, 2, 3, 255, 255]


def test_rgb2gray_matches_matlab_formula():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 200, 30]]], dtype=np.uint8)
    expect = np.floor(rgb.astype(float) @ [0.298936021293775, 0.587043074451121, 0.114020904255103] + 0.5)
    assert rgb2gray(rgb).tolist() == expect.astype(np.uint8).tolist()
    # MATLAB: rgb2gray(uint8([255 0 0])) == 76, ([0 255 0]) == 150, ([0 0 255]) == 29
    assert rgb2gray(rgb)[0, :3].tolist() == [76, 150, 29]


def test_read_errors_name_the_file(tmp_path):
    trunc = tmp_path / "t.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40), dtype=np.uint8)).save(trunc)
    data = trunc.read_bytes()
    trunc.write_bytes(data[: len(data) // 2])
    notimg = tmp_path / "n.png"
    notimg.write_text("hello")
    nan = tmp_path / "nan.npy"
    np.save(nan, np.array([[1.0, np.nan]]))
    empty = tmp_path / "e.npy"
    np.save(empty, np.zeros((0, 5)))
    for p, msg in [(trunc, "corrupt or truncated"), (notimg, "not an image"), (nan, "NaN"),
                   (empty, "zero-size"), (tmp_path / "missing.png", "not found")]:
        with pytest.raises(InputError, match=msg) as exc:
            read_image(p)
        assert str(p) in str(exc.value)


def test_16bit_png_is_scaled_with_warning(tmp_path):
    p = tmp_path / "w.png"
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(p)
    with pytest.warns(UserWarning, match="16-bit"):
        img = read_image(p)
    assert img.dtype == np.uint8 and img.max() == 255


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    p = tmp_path / "x.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(p)
    p.chmod(0)
    with pytest.raises(InputError, match="permission denied"):
        read_image(p)


def test_atomic_write_leaves_no_temp_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
