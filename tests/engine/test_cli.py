"""CLI: listings, run/table round trip, single-pair commands, clear errors without tracebacks."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from fusionbench.cli import main


def _pair_folder(root, pairs):
    for d in ("ir", "vi"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for name, (hi, wi), (hv, wv) in pairs:
        Image.fromarray(np.full((hi, wi), 100, np.uint8)).save(root / "ir" / f"{name}.png")
        Image.fromarray(np.full((hv, wv), 50, np.uint8)).save(root / "vi" / f"{name}.png")
    return root


def test_listings(capsys):
    for cmd in ("methods", "metrics", "datasets"):
        assert main([cmd]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(ln.split()[:1] == ["average"] for ln in lines)                 # a method row
    en = [ln for ln in lines if ln.split()[:1] == ["en"]]
    assert len(en) == 1 and en[0].split()[1] == "↑"                          # metric row with direction
    assert any(ln.split()[:1] == ["synthetic"] and "(built in)" in ln for ln in lines)
    assert any(ln.split()[:1] == ["paper"] and "nmi" in ln for ln in lines)   # preset row


def test_run_then_table(tmp_path, capsys):
    res = str(tmp_path / "res")
    assert main(["run", "--methods", "average,max", "--dataset", "synthetic", "--metrics", "en,sd",
                 "--results", res, "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["table", "--results", res, "--format", "md"]) == 0
    out = capsys.readouterr().out
    import pandas as pd

    means = {m: pd.read_csv(tmp_path / "res" / "synthetic" / m / "scores.csv")[["en", "sd"]].mean()
             for m in ("average", "max")}
    rows = {ln.split("|")[1].strip(): ln for ln in out.splitlines() if ln.startswith("| average") or ln.startswith("| max")}
    for k in ("en", "sd"):
        hi, lo = sorted(means, key=lambda m: -means[m][k])
        assert f"**{means[hi][k]:.4f}**" in rows[hi] and f"<u>{means[lo][k]:.4f}</u>" in rows[lo], (k, out)
    assert "en ↑" in out and "| pairs" in out


def test_fuse_and_evaluate(tmp_path, capsys):
    root = _pair_folder(tmp_path / "d", [("a", (16, 16), (16, 16))])
    out = tmp_path / "f.png"
    assert main(["fuse", "--method", "average", str(root / "ir/a.png"), str(root / "vi/a.png"), "-o", str(out)]) == 0
    assert np.array(Image.open(out)).tolist() == np.full((16, 16), 75).tolist()
    capsys.readouterr()
    assert main(["evaluate", str(root / "ir/a.png"), str(root / "vi/a.png"), str(out), "--metrics", "en,sd", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"en": 0.0, "sd": 0.0}


@pytest.mark.parametrize("argv, fragment", [
    (["run", "--methods", "nosuch", "--dataset", "synthetic"], "unknown method 'nosuch'"),
    (["run", "--methods", "average", "--dataset", "nosuchset"], "unknown dataset 'nosuchset'"),
    (["run", "--methods", "average", "--dataset", "./no/such/folder"], "does not exist"),
    (["run", "--methods", "average", "--dataset", "synthetic", "--metrics", "bogus"], "unknown metric 'bogus'"),
    (["fuse", "--method", "average", "/nonexistent/ir.png", "/nonexistent/vi.png", "-o", "/tmp/x.png"], "file not found"),
])
def test_bad_input_is_one_line_error(argv, fragment, capsys, tmp_path):
    code = main(argv + (["--results", str(tmp_path / "r")] if argv[0] == "run" else []))
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and "Traceback" not in err


def test_missing_registered_dataset_says_where(tmp_path, capsys):
    code = main(["run", "--methods", "average", "--dataset", "tno", "--data-root", str(tmp_path / "empty"),
                 "--results", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "looked for" in err and "figshare" in err


def test_folder_with_mismatch_and_unreadable_reports_all(tmp_path, capsys):
    root = _pair_folder(tmp_path / "bad", [("ok", (8, 8), (8, 8)), ("mis", (8, 8), (8, 9))])
    (root / "ir" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (root / "vi" / "broken.png").write_bytes(b"not a png")
    (root / "ir" / "lonely.png").write_bytes((root / "ir" / "ok.png").read_bytes())
    code = main(["run", "--methods", "average", "--dataset", str(root), "--results", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "lonely" in err and "no visible partner" in err
    root_lonely = root / "ir" / "lonely.png"
    root_lonely.unlink()
    code = main(["run", "--methods", "average", "--dataset", str(root), "--results", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "2 problem(s)" in err and "size mismatch" in err and "pair broken" in err
    assert not (tmp_path / "r" / "bad").exists()  # nothing written before validation passes
