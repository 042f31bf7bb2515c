"""Issue 15, items 7, 9, 12 and 13: the store's files are quoted, readable by the group, swept,
and every failure to write or read them is one line and exit 2 (never a traceback)."""
from __future__ import annotations

import csv
import errno
import json
import os
import tempfile
import time
import warnings

import numpy as np
import pytest
from PIL import Image

from fusionbench import imageio
from fusionbench.cli import main
from fusionbench.store import ResultStore


def _ds(root, names=("01",), shape=(12, 16)):
    rng = np.random.default_rng(5)
    for d in ("ir", "vi"):
        (root / d).mkdir(parents=True, exist_ok=True)
        for n in names:
            Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(root / d / f"{n}.png")
    return root


def _run(root, res, *extra, metrics="en"):
    return main(["run", "--methods", "average", "--dataset", str(root), "--metrics", metrics,
                 "--results", str(res), "--no-progress", *extra])


def _scores_csv(res):
    (p,) = res.glob("*/average/scores.csv")
    return p


def _one_line_error(capsys, code, *fragments):
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err, err
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, err
    for f in fragments:
        assert f in errors[0], err
    return errors[0]


# -- item 7: scores.csv quoting ----------------------------------------------------------------
def test_scores_csv_quotes_names_and_reads_them_back(tmp_path):
    root = _ds(tmp_path / "data", names=("a,b", 'q"x', "NA", "01"))
    res = tmp_path / "res"
    assert _run(root, res) == 0
    with open(_scores_csv(res), newline="") as fh:
        rows = list(csv.reader(fh))
    assert [r[0] for r in rows] == ["pair", "01", "NA", "a,b", 'q"x'] and all(len(r) == 2 for r in rows)
    (d,) = [p.parent.name for p in res.glob("*/average")]
    df = ResultStore(res).scores(d, "average")
    assert list(df.index) == ["01", "NA", "a,b", 'q"x'] and df["en"].notna().all()


def test_pair_names_with_control_characters_are_refused(tmp_path, capsys):
    root = _ds(tmp_path / "data", names=("x\ny", "01"))
    res = tmp_path / "res"
    code = _run(root, res)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "ir/x\\ny.png': file name contains control characters; rename it" in err  # shown escaped
    assert not res.exists()


# -- item 9: one line, exit 2 ------------------------------------------------------------------
@pytest.mark.parametrize("err_no, fragment", [(errno.ENOSPC, "disk full"), (errno.EROFS, "read-only filesystem"),
                                              (errno.EACCES, "permission denied")])
def test_write_failures_are_one_line(tmp_path, capsys, monkeypatch, err_no, fragment):
    root = _ds(tmp_path / "data")
    res = tmp_path / "res"
    assert _run(root, res) == 0  # a store exists; now the disk fails on the next write
    real = os.fsync

    def failing(fd):
        raise OSError(err_no, os.strerror(err_no))

    monkeypatch.setattr(imageio.os, "fsync", failing)
    _one_line_error(capsys, _run(root, res, metrics="sd"), "cannot write", fragment)
    monkeypatch.setattr(imageio.os, "fsync", real)
    assert not [p for p in res.rglob("*.tmp")]  # no temporary file left behind
    assert _run(root, res, metrics="sd") == 0  # and the store is still usable


def test_read_only_store_folder(tmp_path, capsys, monkeypatch):
    root = _ds(tmp_path / "data")
    res = tmp_path / "res"
    if os.geteuid() != 0:
        res.mkdir()
        res.chmod(0o555)
    else:  # root writes anywhere: make mkstemp fail as on a read-only mount
        def ro(*a, **k):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), k.get("dir"))
        monkeypatch.setattr(tempfile, "mkstemp", ro)
    _one_line_error(capsys, _run(root, res), "cannot write")


def test_results_naming_a_file_or_a_path_under_a_file(tmp_path, capsys):
    root = _ds(tmp_path / "data")
    f = tmp_path / "afile"
    f.write_text("x")
    _one_line_error(capsys, _run(root, f), "is a file, not a folder")
    _one_line_error(capsys, _run(root, f / "sub" / "res"), "is a file, not a folder")
    assert f.read_text() == "x"


def test_fuse_into_a_missing_folder(tmp_path, capsys):
    root = _ds(tmp_path / "data")
    out = tmp_path / "missing" / "out.png"
    code = main(["fuse", str(root / "ir/01.png"), str(root / "vi/01.png"), "-o", str(out)])
    _one_line_error(capsys, code, "does not exist")
    assert not out.parent.exists()


@pytest.mark.parametrize("bad", ["[1, 2]", "null", '"text"', "SCORES_LIST", "STRING_VALUE"])
def test_malformed_record_is_recomputed_with_a_warning(tmp_path, capsys, bad):
    root = _ds(tmp_path / "data", names=("01", "02"))
    res = tmp_path / "res"
    assert _run(root, res) == 0
    (rec,) = res.glob("*/average/records/01.json")
    good = json.loads(rec.read_text())
    if bad == "SCORES_LIST":
        text = json.dumps({**good, "scores": [1, 2]})
    elif bad == "STRING_VALUE":
        text = json.dumps({**good, "scores": {"en": {"version": good["scores"]["en"]["version"],
                                                      "values": {"en": "6.5"}}}})
    else:
        text = bad
    rec.write_text(text)
    with pytest.warns(UserWarning, match=r"01\.json: malformed record \(.*\); treated as absent and recomputed"):
        assert _run(root, res) == 0  # not blocking
    assert "Traceback" not in capsys.readouterr().err
    assert json.loads(rec.read_text())["scores"]["en"] == good["scores"]["en"]  # recomputed
    with warnings.catch_warnings(record=True) as seen:
        assert _run(root, res) == 0
    assert not [w for w in seen if "malformed" in str(w.message)]  # healed: no warning any more


def test_malformed_store_marker(tmp_path, capsys):
    root = _ds(tmp_path / "data")
    res = tmp_path / "res"
    res.mkdir()
    (res / "fusionbench-store.json").write_text("[1]")
    _one_line_error(capsys, _run(root, res), "malformed store marker", "delete")


# -- item 12: modes follow the umask -----------------------------------------------------------
@pytest.mark.parametrize("mask", [0o022, 0o002])
def test_outputs_follow_the_umask(tmp_path, mask):
    root = _ds(tmp_path / "data")
    res = tmp_path / "res"
    old = os.umask(mask)
    try:
        assert _run(root, res) == 0
        out = tmp_path / "f.png"
        assert main(["fuse", str(root / "ir/01.png"), str(root / "vi/01.png"), "-o", str(out)]) == 0
    finally:
        os.umask(old)
    files = [p for p in res.rglob("*") if p.is_file()] + [out]
    dirs = [p for p in res.rglob("*") if p.is_dir()] + [res]
    assert len(files) >= 5  # marker, method.json, scores.csv, fused PNG, record
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(0o666 & ~mask)}
    assert {oct(p.stat().st_mode & 0o777) for p in dirs} == {oct(0o777 & ~mask)}


# -- item 13: temporary files of every kind are swept --------------------------------------------
def test_stale_temps_of_scores_method_and_marker_are_swept(tmp_path):
    root = _ds(tmp_path / "data")
    res = tmp_path / "res"
    assert _run(root, res) == 0
    mdir = _scores_csv(res).parent
    old = [mdir / ".scores.csv.abc123.tmp", mdir / ".method.json.abc123.tmp",
           res / ".fusionbench-store.json.abc123.tmp", mdir / "records" / ".01.json.abc.tmp",
           mdir / "fused" / ".01.png.abc.tmp"]
    young = mdir / ".scores.csv.young.tmp"
    for p in old + [young]:
        p.write_text("partial")
    stale = time.time() - 3600
    for p in old:
        os.utime(p, (stale, stale))
    assert _run(root, res) == 0
    assert [p for p in old if p.exists()] == []
    assert young.exists()  # may belong to a concurrent run
