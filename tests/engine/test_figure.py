"""``fusionbench figure``: labelled grid PNG of sources and methods, with an optional zoom box."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fusionbench.cli import main
from fusionbench.figures import comparison_figure, parse_box
from fusionbench.imageio import write_png
from fusionbench.runner import run


@pytest.fixture
def data(tmp_path):
    root = tmp_path / "data"
    rng = np.random.default_rng(5)
    ir = np.zeros((40, 60), np.uint8)
    ir[10:20, 10:30] = 255
    vi = (rng.random((40, 60)) * 120).astype(np.uint8)
    write_png(root / "tno" / "ir" / "a.png", ir)
    write_png(root / "tno" / "vi" / "a.png", vi)
    return root


def test_figure_cli_size_and_content(data, tmp_path, capsys):
    out = tmp_path / "fig.png"
    assert main(["figure", "--dataset", "tno", "--pair", "a", "--methods", "average,max",
                 "--data-root", str(data), "--results", str(tmp_path / "none"), "--box", "5,5,20,10",
                 "--panel-width", "2", "--dpi", "50", "-o", str(out)]) == 0
    with Image.open(out) as im:
        img = im.convert("RGB")
    # 4 panels in one row, 2 in wide; panel height 2 * 40/60 in + 0.3 in for the label
    assert img.size == (4 * 2 * 50, round((2 * 40 / 60 + 0.3) * 50))
    a = np.asarray(img).astype(int)
    red = (a[..., 0] > 200) & (a[..., 1] < 80) & (a[..., 2] < 80)
    assert red.sum() > 50        # the zoom box and the inset frame are drawn in red
    assert main(["figure", "--dataset", "tno", "--pair", "zz", "--methods", "average",
                 "--data-root", str(data), "-o", str(out)]) == 2
    assert "no pair 'zz'" in capsys.readouterr().err


def test_figure_uses_the_stored_image(data, tmp_path):
    import json

    from fusionbench.data import load_dataset
    from fusionbench.figures import method_image
    from fusionbench.registry import parse_method
    from fusionbench.store import ResultStore, sha256_file

    res = tmp_path / "results"
    run(["max"], "tno", root=data, results=res, metrics=["en"], progress=False, log=lambda m: None)
    store = ResultStore(res, create=False)
    ds = load_dataset("tno", root=data)
    pair = ds.pairs[0]
    call = parse_method("max")
    # stand-in stored image (record digest updated): the figure must show it, not a new fusion
    png = store.fused_path("tno", "max", "a")
    write_png(png, np.full((40, 60), 77, np.uint8))
    rec_path = store.record_path("tno", "max", "a")
    rec = json.loads(rec_path.read_text())
    rec["fused_sha256"] = sha256_file(png)
    rec_path.write_text(json.dumps(rec))
    assert (method_image(call, pair, ds, store=store) == 77).all()
    # without a store it fuses: max(IR, VI)
    assert (method_image(call, pair, ds, store=None) ==
            np.maximum(pair.ir_raw(), pair.vi_raw())).all()
    out = tmp_path / "f.png"
    assert main(["figure", "--dataset", "tno", "--pair", "a", "--methods", "max", "--cols", "1",
                 "--data-root", str(data), "--results", str(res), "--dpi", "40", "-o", str(out)]) == 0
    with Image.open(out) as im:
        w, h = im.size
    assert w == round(2.4 * 40) and h == round(3 * (2.4 * 40 / 60 + 0.3) * 40)


def test_comparison_figure_validates():
    g = np.zeros((10, 10), np.uint8)
    with pytest.raises(ValueError, match="same size"):
        comparison_figure([g, np.zeros((5, 5))], ["a", "b"], "/tmp/x.png")
    with pytest.raises(ValueError, match="outside"):
        comparison_figure([g], ["a"], "/tmp/x.png", box=(5, 5, 10, 10))
    assert parse_box("1,2,3,4") == (1, 2, 3, 4) and parse_box(None) is None
    with pytest.raises(ValueError):
        parse_box("1,2,3")
