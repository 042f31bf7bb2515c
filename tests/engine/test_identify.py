"""``fusionbench identify``: the catalogue names the configuration that produced a table's means."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fusionbench.cli import main
from fusionbench.scores import read_values
from fusionbench.store import ResultStore

TRUE = ("cddfuse:ssim", "zoo:nmi", "qabf_liu")
QUANT = "ssim,nmi,qabf"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("identify") / "res"
    assert main(["run", "--methods", "average,max", "--dataset", "synthetic", "--metrics", ",".join(TRUE),
                 "--results", str(root), "--no-progress"]) == 0
    return root


def _means(root: Path) -> dict[str, dict[str, float]]:
    st = ResultStore(root, create=False)
    out = {}
    for m in ("average", "max"):
        vals = read_values(st, "synthetic", m, list(TRUE), parts=False)
        out[m] = {k: float(np.mean([v[k] for v in vals.values()])) for k in TRUE}
    return out


def _identify(capsys, root: Path, table: Path, *extra: str) -> str:
    capsys.readouterr()
    rc = main(["identify", "--table", str(table), "--dataset", "synthetic", "--results", str(root),
               "--quantities", QUANT, *extra])
    assert rc == 0
    return capsys.readouterr().out


def test_identify_names_the_producing_configuration(store, tmp_path, capsys):
    means = _means(store)
    table = tmp_path / "t.csv"
    # the 4th column is cddfuse:ssim pushed 5 units of the last digit off on one row: nothing fits
    lines = ["row,SSIM,NMI,QABF,OFF"]
    for m, d in means.items():
        off = f"{d['cddfuse:ssim'] + 5e-4:.4f}" if m == "average" else ""
        lines.append(f"{m},{d['cddfuse:ssim']:.4f},{d['zoo:nmi']:.4f},{d['qabf_liu']:.4f},{off}")
    table.write_text("\n".join(lines) + "\n")
    res = json.loads(_identify(capsys, store, table, "--format", "json", "--top", "50"))
    cols = res["columns"]
    assert set(cols) == {"SSIM", "NMI", "QABF", "OFF"}
    for label, true in zip(("SSIM", "NMI", "QABF"), TRUE):
        ranked = cols[label]
        first = ranked[0]
        assert set(first) >= {"metric", "params", "max_abs_err", "mean_abs_err"}
        assert first["metric"] == true, (label, [e["metric"] for e in ranked[:5]])
        assert first["max_abs_err"] <= 0.5 + 1e-6  # rounded to 4 decimals: within half a unit
        assert first["mean_abs_err"] <= first["max_abs_err"]
        errs = [e["max_abs_err"] for e in ranked]
        assert errs == sorted(errs)
        assert all(r["n"] == 4 for r in first["rows"].values())
    # the off column is fitted only by the one printed row; it is 5 units off the truth
    off = cols["OFF"]
    assert list(off[0]["rows"]) == ["average"]
    true_off = next(e for e in off if e["metric"] == "cddfuse:ssim")
    assert 4.5 <= true_off["max_abs_err"] <= 5.5
    # rerun: the values come from the store's cache file
    assert (store / "synthetic" / "identify_cache.json").is_file()
    text = _identify(capsys, store, table, "--top", "3")
    assert "SSIM:" in text and "1. cddfuse:ssim" in text
    block = text.split("OFF:")[1]
    if off[0]["max_abs_err"] > 1:
        assert "none within ±1 in the last printed digit" in block
    assert "none within" not in text.split("OFF:")[0]


def test_identify_none_fits(store, tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("row,X\naverage,9.1234\nmax,-3.5\n")
    text = _identify(capsys, store, table)
    assert "none within ±1 in the last printed digit" in text


def test_identify_bad_table(store, tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("method,X\naverage,1\n")
    assert main(["identify", "--table", str(table), "--dataset", "synthetic", "--results", str(store)]) == 2
    assert "header" in capsys.readouterr().err
    table.write_text("row,X\nnosuch,1\n")
    assert main(["identify", "--table", str(table), "--dataset", "synthetic", "--results", str(store),
                 "--quantities", QUANT]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_generated_nmi_family_matches_the_registered_scripts(store):
    """The histogram family reproduces Liu's nmi (Hossny form), zoo:nmi and cddfuse:mi (nats)."""
    from fusionbench.data import load_dataset
    from fusionbench.identify import catalogue, decimals, image_values
    from fusionbench.imageio import read_image

    p = load_dataset("synthetic").pairs[0]
    raw = [p.ir_raw(), p.vi_raw(), read_image(store / "synthetic" / "max" / "fused" / f"{p.name}.png")]
    convs = [c for c in catalogue(quantities=["nmi", "mi"])
             if c.name in {"nmi", "zoo:nmi", "cddfuse:mi", "nmi~hossny~round", "nmi~zoo2~round",
                           "mi~sum~loge~round", "nmi~sqrt~round"}]
    v = image_values(raw, convs)
    assert v["nmi~hossny~round"] == pytest.approx(v["nmi"], abs=1e-9)
    assert v["nmi~zoo2~round"] == pytest.approx(v["zoo:nmi"], abs=1e-4)  # zoo adds eps inside its logs
    assert v["mi~sum~loge~round"] == pytest.approx(v["cddfuse:mi"], abs=1e-9)
    assert abs(v["nmi~sqrt~round"] - v["nmi"]) > 1e-6  # a different normalisation
    assert (decimals("0.3509"), decimals("2"), decimals("2.646")) == (4, 0, 3)
