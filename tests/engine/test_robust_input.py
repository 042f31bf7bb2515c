"""Issue 15, items 6, 10 and 15: input is never misread, too-large input is refused before it
is loaded, and symbolic links out of the data root are followed with a warning.

Each case either refuses with one line naming the file and the fix (exit 2 from the CLI), or
converts with a warning that says exactly what was done.
"""
from __future__ import annotations

import struct
import time
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from fusionbench import guard
from fusionbench.cli import main
from fusionbench.data import folder_pairs, load_dataset
from fusionbench.errors import InputError
from fusionbench.imageio import image_shape, read_image


def _ds(root, shape=(12, 16), name="01", suffix=".png"):
    rng = np.random.default_rng(3)
    for d in ("ir", "vi"):
        (root / d).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(root / d / f"{name}{suffix}")
    return root


def _run(root, res, *extra):
    return main(["run", "--methods", "average", "--dataset", str(root), "--metrics", "en",
                 "--results", str(res), "--no-progress", *extra])


# -- item 6: reading -------------------------------------------------------------------------
def test_int16_npy_with_negatives_is_refused_not_wrapped(tmp_path):
    p = tmp_path / "neg.npy"
    np.save(p, np.array([[-100, 0], [50, 200]], np.int16))
    with pytest.raises(InputError, match=r"neg\.npy: signed integer image with negative values") as e:
        read_image(p)
    assert "rescale" in str(e.value)


def test_float_tiff_0_1_needs_explicit_float_range(tmp_path):
    p = tmp_path / "f.tiff"
    a = np.linspace(0, 1, 12 * 16, dtype=np.float32).reshape(12, 16)
    Image.fromarray(a, mode="F").save(p)
    with pytest.raises(InputError, match=r"f\.tiff: float image with values in 0\.\.1 .*--float-range 1"):
        read_image(p)
    got = read_image(p, float_range=1)
    np.testing.assert_allclose(got, a.astype(np.float64) * 255.0)
    assert np.array_equal(read_image(p, float_range=255), a.astype(np.float64))
    np.save(tmp_path / "big.npy", np.full((4, 4), 7.0))
    with pytest.raises(InputError, match=r"big\.npy: float image outside 0\.\.1"):
        read_image(tmp_path / "big.npy", float_range=1)
    assert read_image(tmp_path / "big.npy").max() == 7.0  # 0..255 float data as before


def test_float_range_is_a_cli_option_threaded_to_reading(tmp_path, capsys):
    root = _ds(tmp_path / "data")
    a = np.random.default_rng(0).uniform(0, 1, (12, 16))
    (root / "ir" / "01.png").unlink()
    np.save(root / "ir" / "01.npy", a)
    assert _run(root, tmp_path / "r1") == 2
    err = capsys.readouterr().err
    assert "01.npy: float image with values in 0..1" in err and "--float-range 1" in err and "Traceback" not in err
    assert _run(root, tmp_path / "r2", "--float-range", "1") == 0
    fused = np.asarray(Image.open(next((tmp_path / "r2").glob("*/average/fused/01.png"))), np.float64)
    vi = np.asarray(Image.open(root / "vi" / "01.png"), np.float64)
    assert np.array_equal(fused, np.floor((a * 255 + vi) / 2 + 0.5))
    # fuse and evaluate take it too
    out = tmp_path / "f.png"
    assert main(["fuse", str(root / "ir" / "01.npy"), str(root / "vi" / "01.png"), "-o", str(out)]) == 2
    assert main(["fuse", "--float-range", "1", str(root / "ir" / "01.npy"), str(root / "vi" / "01.png"),
                 "-o", str(out)]) == 0
    assert main(["evaluate", "--float-range", "1", str(root / "ir" / "01.npy"), str(root / "vi" / "01.png"),
                 str(out), "--metrics", "en"]) == 0


def test_two_images_with_one_name_are_refused(tmp_path):
    root = _ds(tmp_path / "data")
    Image.fromarray(np.zeros((12, 16), np.uint8)).save(root / "ir" / "01.jpg")
    with pytest.raises(InputError, match=r"pair 01: several images with one name in .*ir: 01\.jpg, 01\.png; keep one"):
        folder_pairs(root)


def test_gif_is_read_and_other_files_are_reported(tmp_path):
    root = _ds(tmp_path / "data", suffix=".gif")
    (root / "ir" / "notes.txt").write_text("x")
    with pytest.warns(UserWarning, match=r"ir: ignored 1 file\(s\) that are not images \(notes\.txt\)"):
        pairs = folder_pairs(root)
    assert [p.name for p in pairs] == ["01"]
    assert pairs[0].ir().shape == (12, 16)


def test_alpha_opaque_is_dropped_transparent_is_refused(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 255, (6, 7, 3), dtype=np.uint8)
    rgba = np.dstack([rgb, np.full((6, 7), 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    assert np.array_equal(read_image(tmp_path / "opaque.png"), rgb)
    rgba[0, 0, 3] = 10
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    with pytest.raises(InputError, match=r"t\.png: has transparency .*flatten"):
        read_image(tmp_path / "t.png")
    la = np.dstack([rgb[..., 0], np.where(np.eye(6, 7) > 0, 0, 255).astype(np.uint8)])
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    with pytest.raises(InputError, match="has transparency"):
        read_image(tmp_path / "la.png")
    np.save(tmp_path / "a.npy", np.dstack([rgb, np.zeros((6, 7), np.uint8)]))
    with pytest.raises(InputError, match="has transparency"):
        read_image(tmp_path / "a.npy")


def test_animated_and_multipage_files_are_refused(tmp_path):
    frames = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (10, 200)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "pages.tiff", save_all=True, append_images=frames[1:])
    for name in ("anim.gif", "pages.tiff"):
        with pytest.raises(InputError, match=rf"{name}: has 2 frames .*single-frame"):
            read_image(tmp_path / name)


@pytest.mark.parametrize("hi, what, expect", [
    (200, "taken as 8-bit values unchanged", lambda a: a),
    (4095, r"12-bit data \(max 4095 <= 4095\): scaled to 8 bits with round\(x\*255/4095\)",
     lambda a: np.floor(a * 255 / 4095 + 0.5)),
    (65535, r"16-bit image scaled to 8 bits \(round\(x/257\)\)", lambda a: np.floor(a / 257 + 0.5)),
])
def test_sixteen_bit_policy_by_actual_maximum(tmp_path, hi, what, expect):
    a = np.linspace(0, hi, 12 * 16).round().astype(np.uint16).reshape(12, 16)
    p = tmp_path / "d16.png"
    Image.fromarray(a).save(p)
    with pytest.warns(UserWarning, match=rf"d16\.png: .*{what}"):
        got = read_image(p)
    assert got.dtype == np.uint8 and np.array_equal(got, expect(a.astype(np.float64)).astype(np.uint8))
    assert got.max() == min(hi, 255)  # 12-bit / <=255 data is no longer crushed to a few levels


# -- item 10 / 9: size limits and the memory guard --------------------------------------------
def _png_header_only(path, w, h):
    """A PNG whose IHDR claims ``w x h`` (8-bit gray) with a tiny IDAT: opens, never decodes."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))


def test_decompression_bomb_png_is_one_line(tmp_path, capsys):
    big = tmp_path / "bomb.png"
    _png_header_only(big, 20000, 20000)
    small = _ds(tmp_path / "d") / "vi" / "01.png"
    code = main(["evaluate", str(big), str(small), str(small), "--metrics", "en"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "bomb.png: image of 20000x20000 pixels (400.0 megapixels) exceeds the limit" in err
    assert "--max-megapixels" in err


def test_huge_npy_is_refused_from_its_header(tmp_path):
    p = tmp_path / "huge.npy"
    np.lib.format.open_memmap(p, mode="w+", dtype=np.uint8, shape=(20000, 20000)).flush()  # sparse file
    assert image_shape(p) == (20000, 20000)
    t0 = time.process_time()
    with pytest.raises(InputError, match=r"huge\.npy: image of 20000x20000 pixels .* exceeds the limit"):
        read_image(p)
    assert time.process_time() - t0 < 0.5  # refused from the header, nothing loaded
    with pytest.raises(InputError, match="exceeds the limit of 1.0 megapixels"):
        read_image(_ds(tmp_path / "d", shape=(1100, 1000)) / "ir" / "01.png", max_megapixels=1)


def test_max_megapixels_option_on_run_and_fuse(tmp_path, capsys):
    root = _ds(tmp_path / "data", shape=(40, 50))
    assert _run(root, tmp_path / "r", "--max-megapixels", "0.001") == 2
    err = capsys.readouterr().err
    assert "01.png: image of 50x40 pixels" in err and "limit of 0.0 megapixels" in err
    assert not (tmp_path / "r").exists()
    assert main(["fuse", str(root / "ir/01.png"), str(root / "vi/01.png"), "-o", str(tmp_path / "o.png"),
                 "--max-megapixels", "0.001"]) == 2
    assert _run(root, tmp_path / "r", "--max-megapixels", "1") == 0


def test_memory_guard_refuses_before_loading(tmp_path, capsys, monkeypatch):
    root = _ds(tmp_path / "data", shape=(256, 256))
    monkeypatch.setattr(guard, "available_memory", lambda: 35_000_000)  # 35 MB
    code = main(["run", "--methods", "gff", "--dataset", str(root), "--metrics", "en",
                 "--results", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "gff on pair 01 (256x256" in err and "needs about 44 MB of memory" in err
    assert "more than the 35 MB available" in err and "670 bytes/pixel" in err
    assert not (tmp_path / "r").exists()
    # the cheap method fits in the same memory
    assert main(["run", "--methods", "average", "--dataset", str(root), "--metrics", "en",
                 "--results", str(tmp_path / "r"), "--no-progress"]) == 0
    monkeypatch.setattr(guard, "available_memory", lambda: 10_000_000)
    assert main(["fuse", "--method", "gff", str(root / "ir/01.png"), str(root / "vi/01.png"),
                 "-o", str(tmp_path / "o.png")]) == 2
    assert "needs about" in capsys.readouterr().err


def test_memory_estimate_uses_measured_factors():
    from fusionbench.registry import METHODS, discover

    discover()
    for name in ("average", "max", "gff"):
        assert METHODS[name].mem_bytes_per_pixel is not None, name
    # gff measured ~200 B/px: a 9000x9000 image needs well over 8 GB
    need = 9000 * 9000 * guard.bytes_per_pixel(METHODS["gff"])
    assert need > 8e9
    with pytest.raises(guard.MemoryLimitError, match="gff on x: needs about"):
        guard.check_memory([METHODS["gff"]], 9000 * 9000, what="x", available=8 * 10**9)
    assert guard.available_memory() is None or guard.available_memory() > 0


# -- item 15: symbolic links ------------------------------------------------------------------
def test_symlink_outside_the_data_root_is_followed_with_one_warning(tmp_path):
    elsewhere = _ds(tmp_path / "elsewhere")
    root = _ds(tmp_path / "data" / "mine", name="02")
    for d in ("ir", "vi"):
        (root / d / "01.png").symlink_to(elsewhere / d / "01.png")
    with pytest.warns(UserWarning, match=r"2 file\(s\) are symbolic links to outside .*mine .*following them") as rec:
        pairs = list(load_dataset(str(root)).pairs)
    assert len([w for w in rec if "symbolic links" in str(w.message)]) == 1
    assert [p.name for p in pairs] == ["01", "02"] and pairs[0].ir().shape == (12, 16)
    inside = _ds(tmp_path / "plain")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        load_dataset(str(inside))
    assert not seen  # no warning without links out
