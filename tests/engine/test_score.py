"""``fusionbench score DIR``: your own fused images as method ``folder:<name>`` (issue 16, section 1).

Runs on a small folder dataset built from the embedded synthetic images (no data root needed):
pairs ``01``..``04``, a user folder with numbered files (``F1.png`` style, then renamed), one pair
missing and one colour fused image.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import fusionbench
from fusionbench.cli import main
from fusionbench.data import load_dataset
from fusionbench.imageio import quantize, read_image, rgb2gray, write_png
from fusionbench.data import folder_label
from fusionbench.store import ResultStore

METRICS = "nmi,qy,qabf_liu,en,vifb:en"


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    """A dataset folder ``mini/{ir,vi}/0k.png``: 128x96 crops of the synthetic pairs (colour visible kept)."""
    pairs = load_dataset("synthetic").pairs
    root = tmp_path / "mini"
    for k, p in enumerate(pairs, 1):
        crop = (slice(40, 136), slice(40, 168))      # 128x96: small but enough for IFC's pyramid
        write_png(root / "ir" / f"{k:02d}.png", np.asarray(rgb2gray(p.ir_raw()), np.uint8)[crop])
        write_png(root / "vi" / f"{k:02d}.png", p.vi_raw().astype(np.uint8)[crop])
    return root


def _fused(mini: Path, pair: str, colour: bool = False) -> np.ndarray:
    ir = read_image(mini / "ir" / f"{pair}.png")
    vi = read_image(mini / "vi" / f"{pair}.png")
    if colour:
        assert vi.ndim == 3
        return quantize(0.5 * ir[..., None].astype(float) + 0.5 * vi.astype(float))
    return quantize(fusionbench.fuse(ir, vi, method="max"))


@pytest.fixture
def user_dir(tmp_path: Path, mini: Path) -> Path:
    """The user's folder as they have it: numbered F1..F3 (pair 04 missing), F2 in colour."""
    d = tmp_path / "mine"
    for k in (1, 2, 3):
        write_png(d / f"F{k}.png", _fused(mini, f"{k:02d}", colour=(k == 2)))
    return d


def _rename(d: Path) -> None:
    for p in sorted(d.glob("F*.png")):
        p.rename(d / f"{int(p.stem[1:]):02d}.png")


def test_readme_workflow_three_lines(tmp_path, mini, user_dir, capsys):
    """README "Score your own method": run the baselines, score the folder, export xlsx."""
    import pandas as pd

    res, xlsx = tmp_path / "results", tmp_path / "mini.xlsx"
    # numbered files: refused with a hint at renaming
    assert main(["score", str(user_dir), "--dataset", str(mini), "--results", str(res)]) == 2
    err = capsys.readouterr().err
    assert "no file is named after a pair" in err and "F1.png -> 01.png" in err
    _rename(user_dir)
    # the three lines
    assert main(["run", "--methods", "average", "--dataset", str(mini), "--results", str(res),
                 "--no-progress"]) == 0
    assert main(["score", str(user_dir), "--dataset", str(mini), "--results", str(res), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"missing: 1 of 4 pairs of {folder_label(mini)} have no fused image" in err and "04" in err
    assert "colour output, scored as gray" in err
    assert main(["table", "--dataset", str(mini), "--results", str(res), "--format", "xlsx", "-o", str(xlsx)]) == 0
    sheets = pd.read_excel(xlsx, sheet_name=None, dtype={"pair": str})
    assert set(sheets) >= {folder_label(mini)[:31], "nmi", "qy", "qabf_liu", "ifc", "en", "sd"}
    means = sheets[folder_label(mini)[:31]].set_index("method")
    assert list(means.index) == ["average", "folder:mine"]
    assert str(means.at["folder:mine", "pairs"]) == "3/4" and str(means.at["average", "pairs"]) == "4"
    assert "colour output, scored as gray" in means.at["folder:mine", "note"]
    nmi = sheets["nmi"].set_index("pair")
    assert list(nmi.index) == ["01", "02", "03", "04"] and np.isnan(nmi.at["04", "folder:mine"])
    # the stored values are exactly the file's scores: gray metrics on MATLAB rgb2gray of the colour image
    f2 = read_image(user_dir / "02.png")
    assert f2.ndim == 3
    ref = fusionbench.evaluate(mini / "ir" / "02.png", mini / "vi" / "02.png", f2, metrics=["nmi", "en"])
    assert nmi.at["02", "folder:mine"] == ref["nmi"]
    assert means.at["folder:mine", "nmi"] == pytest.approx(nmi["folder:mine"].mean(skipna=True), rel=1e-12)
    info = json.loads((res / folder_label(mini) / "folder@mine" / "method.json").read_text())
    assert info["kind"] == "folder" and info["colour_pairs"] == ["02"] and info["missing_pairs"] == ["04"]


def test_colour_image_scored_by_each_metrics_own_rule(tmp_path, mini, user_dir):
    from fusionbench.commands.score import score_folder
    from fusionbench.registry import get_metric
    from fusionbench.scores import read_values

    _rename(user_dir)
    res = tmp_path / "r"
    score_folder(user_dir, str(mini), metrics=METRICS, results=res, progress=False, log=lambda m: None)
    vals = read_values(ResultStore(res), folder_label(mini), "folder:mine")
    raw = [read_image(p) for p in (mini / "ir" / "02.png", mini / "vi" / "02.png", user_dir / "02.png")]
    gray = [np.asarray(rgb2gray(a), float) for a in raw]
    assert vals["02"]["vifb:en"] == float(get_metric("vifb:en").fn(*raw))          # colour, as VIFB
    assert vals["02"]["en"] == float(get_metric("en").fn(*gray))                   # rgb2gray
    assert vals["02"]["vifb:en"] != vals["02"]["en"]
    rec = ResultStore(res).read_record(folder_label(mini), "folder:mine", "02")
    assert rec["colour"] is True
    assert read_image(ResultStore(res).fused_path(folder_label(mini), "folder:mine", "02")).ndim == 3  # store keeps colour


def test_editing_one_image_recomputes_only_that_pair(tmp_path, mini, user_dir):
    from fusionbench.commands.score import score_folder

    _rename(user_dir)
    res = tmp_path / "r"
    kw = dict(metrics="nmi,en", results=res, progress=False, log=lambda m: None)
    s1 = score_folder(user_dir, str(mini), **kw)
    assert [o.status for o in s1.outcomes] == ["fused"] * 3
    img = read_image(user_dir / "03.png")
    img[0, 0] = 255 - img[0, 0]
    write_png(user_dir / "03.png", img)
    s2 = score_folder(user_dir, str(mini), **kw)
    assert {o.pair: o.status for o in s2.outcomes} == {"01": "reused", "02": "reused", "03": "fused"}
    # moving the folder changes nothing: the identity is the files' content
    moved = tmp_path / "elsewhere" / "mine"
    shutil.move(str(user_dir), moved)
    s3 = score_folder(moved, str(mini), **kw)
    assert [o.status for o in s3.outcomes] == ["reused"] * 3
    # an image removed from the folder leaves the store
    (moved / "01.png").unlink()
    score_folder(moved, str(mini), **kw)
    assert sorted(ResultStore(res).records(folder_label(mini), "folder:mine")) == ["02", "03"]


def test_folder_method_in_table_figure_and_check(tmp_path, mini, user_dir, capsys, monkeypatch):
    _rename(user_dir)
    res = tmp_path / "r"
    monkeypatch.chdir(tmp_path)   # folder:mine without a dir parameter reads ./mine
    assert main(["score", "mine", "--dataset", str(mini), "--results", str(res), "--metrics", "nmi,en",
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["table", "--dataset", folder_label(mini), "--results", str(res)]) == 0
    out = capsys.readouterr().out
    assert "folder:mine" in out and "colour output, scored as gray" in out
    assert main(["table", "--dataset", folder_label(mini), "--results", str(res), "--per-pair", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "method,pair,nmi,en" and len(lines) == 4 and lines[1].startswith("folder:mine,01,")
    # the paper tables' extra rows (table 1's dataset overridden by this store's dataset)
    assert main(["table", "--table", "1", "--extras", "--dataset", folder_label(mini), "--results", str(res),
                 "--metrics", "nmi"]) == 0
    assert "folder:mine (extra)" in capsys.readouterr().out
    fig = tmp_path / "fig.png"
    assert main(["figure", "--dataset", str(mini), "--pair", "02", "--methods", "folder:mine",
                 "--results", str(res), "-o", str(fig)]) == 0
    assert fig.stat().st_size > 0
    base = tmp_path / "base.csv"
    assert main(["check", "--init", "--baseline", str(base), "--datasets", str(mini), "--methods", "folder:mine",
                 "--metrics", "nmi,en", "--pairs", f"{mini}:01,02"]) == 0
    assert main(["check", "--baseline", str(base)]) == 0


def test_evaluate_defaults_to_runs_metrics_and_takes_folders(tmp_path, mini, user_dir, capsys):
    from fusionbench.runner import default_metrics

    _rename(user_dir)
    args = [str(mini / "ir" / "01.png"), str(mini / "vi" / "01.png"), str(user_dir / "01.png")]
    assert main(["evaluate", *args, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert list(got) == default_metrics() and len(got) > 2      # was only en, sd
    assert list(fusionbench.evaluate(*args)) == default_metrics()
    assert main(["evaluate", str(mini / "ir"), str(mini / "vi"), str(user_dir), "--metrics", "nmi,en"]) == 0
    cap = capsys.readouterr()
    rows = [ln.split() for ln in cap.out.splitlines()[2:]]
    assert [r[0] for r in rows[:3]] == ["01", "02", "03"] and rows[3][0] == "mean"
    assert float(rows[0][1]) == pytest.approx(fusionbench.evaluate(*args, metrics=["nmi"])["nmi"], abs=1e-6)
    assert "missing: 1 of 4 pairs" in cap.err
    assert main(["evaluate", str(mini / "ir"), str(mini / "vi"), str(user_dir / "01.png")]) == 2
    assert main(["evaluate", str(mini / "ir"), str(mini / "vi"), str(user_dir), "--metrics", "en", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"01", "02", "03"}


def test_score_errors_are_one_line(tmp_path, mini, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["score", str(empty), "--dataset", str(mini), "--results", str(tmp_path / "r")]) == 2
    assert "no image files" in capsys.readouterr().err
    assert main(["score", str(tmp_path / "nope"), "--dataset", str(mini)]) == 2
    assert "not a folder" in capsys.readouterr().err
    d = tmp_path / "odd"
    write_png(d / "01.png", np.zeros((5, 5), np.uint8))
    assert main(["score", str(d), "--dataset", str(mini), "--results", str(tmp_path / "r"), "--metrics", "en",
                 "--no-progress"]) == 1                                       # the pair fails: size mismatch
    assert "size mismatch" in capsys.readouterr().err


def test_scoring_tunes_the_allocator_once_per_process(monkeypatch):
    """``evaluate`` (``score_triple``) sets the work processes' glibc thresholds on its first
    call, once; ``FUSIONBENCH_MALLOC=default`` leaves the allocator alone."""
    import fusionbench.api as api
    import fusionbench.executor as ex

    calls = []
    monkeypatch.setattr(ex, "tune_malloc", lambda: calls.append(1) or True)
    rng = np.random.default_rng(5)
    ir, vi = rng.uniform(0, 255, (2, 24, 30))
    for env, want in ((None, [1]), ("default", [])):
        monkeypatch.setattr(api, "_ALLOCATOR_TUNED", False)
        if env is None:
            monkeypatch.delenv("FUSIONBENCH_MALLOC", raising=False)
        else:
            monkeypatch.setenv("FUSIONBENCH_MALLOC", env)
        calls.clear()
        api.evaluate(ir, vi, (ir + vi) / 2, ["sd"])
        api.evaluate(ir, vi, (ir + vi) / 3, ["sd"])
        assert calls == want
