"""Numbers that must never be silently wrong: per-cell n, NaN counts, stale versions, parameter
overrides and folder datasets in their own store entries, concurrent runs with different metric
sets, tampered records (verify / --recompute), interrupted runs visible at once."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fusionbench import registry
from fusionbench.cli import main
from fusionbench.render import render
from fusionbench.runner import run
from fusionbench.scores import read_scores
from fusionbench.store import ResultStore
from fusionbench.tables import summary_table

SYN = ["astronaut", "camera", "chelsea", "coffee"]


def _run(res, methods, metrics, pairs=None, **kw):
    return run(methods, "synthetic", metrics=metrics, results=res, progress=False, pairs=pairs,
               log=lambda m: None, **kw)


def _cells(grid, method):
    row = next(r for r in grid.rows if r[0].text == method)
    return {grid.columns[i].key: c for i, c in enumerate(row)}


def test_partial_metric_is_flagged_and_not_ranked(tmp_path):
    res = tmp_path / "r"
    _run(res, "average,max", "en")
    _run(res, "average,max", "sd", pairs=["astronaut"])
    g = summary_table(ResultStore(res, create=False), "synthetic", expected_pairs=SYN)
    for m in ("average", "max"):
        c = _cells(g, m)
        assert c["en"].n == 4 and c["en"].flag == ""
        assert c["sd"].n == 1 and c["sd"].flag == "1/4" and c["sd"].mark == ""   # never bolded
    md, text, csv, tex = (render(g, f) for f in ("md", "text", "csv", "latex"))
    assert md.count("(1/4)") == 2 and text.count("(1/4)") == 2 and tex.count("(1/4)") == 2
    df = pd.read_csv(pd.io.common.StringIO(csv))
    assert df["sd n"].tolist() == [1, 1]
    # with --allow-partial the partial cells are ranked among themselves
    g2 = summary_table(ResultStore(res, create=False), "synthetic", expected_pairs=SYN, allow_partial=True)
    assert {_cells(g2, m)["sd"].mark for m in ("average", "max")} == {"best", "second"}


def test_nan_values_are_counted_and_reported(tmp_path, monkeypatch):
    @registry.register_metric("_t_nanny", description="NaN on two pairs", higher_is_better=True)
    def _nanny(ir, vi, fused):
        return math.nan if ir.shape[0] % 2 == 0 and float(ir.mean()) > 100 else float(fused.mean())

    monkeypatch.setitem(registry.METRICS, "_t_nanny", registry.METRICS["_t_nanny"])
    try:
        res = tmp_path / "r"
        _run(res, "average", "_t_nanny")
        frame = read_scores(ResultStore(res, create=False), "synthetic", metrics=["_t_nanny"])
        n_nan = int(frame["value"].isna().sum())
        assert len(frame) == 4                                    # NaN values are kept as NaN, not dropped
        g = summary_table(ResultStore(res, create=False), "synthetic", expected_pairs=SYN)
        c = _cells(g, "average")["_t_nanny"]
        assert c.nan == n_nan and c.n == 4 - n_nan
        if n_nan:
            assert any("NaN value(s)" in f for f in g.footnotes)
            assert c.flag == f"{4 - n_nan}/4"
    finally:
        registry.METRICS.pop("_t_nanny", None)


def test_table_drops_values_of_a_bumped_metric_version(tmp_path, monkeypatch):
    res = tmp_path / "r"
    _run(res, "average", "en,sd")
    store = ResultStore(res, create=False)
    assert "en" in [c.key for c in summary_table(store, "synthetic").columns]
    monkeypatch.setattr(registry.get_metric("en"), "version", "999")
    cols = [c.key for c in summary_table(store, "synthetic").columns]
    assert "en" not in cols and "sd" in cols                     # stale en is not shown
    assert main(["table", "--results", str(res), "--format", "csv"]) == 0


@pytest.fixture
def alpha_method():
    @registry.register_method("_t_alpha", description="weighted average", params={"alpha": 0.5})
    def _alpha(ir, vi, alpha):
        return alpha * ir + (1 - alpha) * vi

    yield
    registry.METHODS.pop("_t_alpha", None)


def test_parameter_override_is_a_separate_store_entry(tmp_path, alpha_method):
    res = tmp_path / "r"
    _run(res, "_t_alpha", "en")
    store = ResultStore(res, create=False)
    before = store.record_path("synthetic", "_t_alpha", "camera").read_bytes()
    (s,) = _run(res, "_t_alpha", "en", pairs=["camera"], method_params={"alpha": 0.9})
    assert s.store_name.startswith("_t_alpha@alpha=0.9-") and s.method == "_t_alpha (alpha=0.9)"
    assert store.record_path("synthetic", "_t_alpha", "camera").read_bytes() == before
    assert set(store.methods("synthetic")) == {"_t_alpha", s.store_name}
    info = json.loads((store.method_dir("synthetic", "_t_alpha") / "method.json").read_text())
    assert info["params"] == {"alpha": 0.5}
    g = summary_table(store, "synthetic")
    assert [r[0].text for r in g.rows] == ["_t_alpha", "_t_alpha (alpha=0.9)"]


def _folder(root: Path, value: int) -> Path:
    for d, v in (("ir", value), ("vi", 255 - value)):
        (root / d).mkdir(parents=True)
        Image.fromarray(np.full((24, 24), v, np.uint8)).save(root / d / "01.png")
    return root


def test_folder_dataset_never_writes_into_a_registered_or_other_folder_store(tmp_path):
    res = tmp_path / "r"
    a, b = _folder(tmp_path / "A" / "test", 10), _folder(tmp_path / "B" / "test", 200)
    fake_syn = _folder(tmp_path / "C" / "synthetic", 50)
    labels = []
    for d in (a, b, fake_syn):
        (s,) = run("average", str(d), metrics="en", results=res, progress=False, log=lambda m: None)
        labels.append(s.dataset)
    assert labels[0] != labels[1] and all(lab.split("@")[0] in ("test", "synthetic") for lab in labels)
    assert "synthetic" not in labels
    _run(res, "average", "en")
    assert set(ResultStore(res, create=False).datasets()) == set(labels) | {"synthetic"}


CONC = textwrap.dedent('''
    import sys, time
    from fusionbench.registry import register_metric

    @register_metric("_t_slowmetric", description="slow", higher_is_better=True)
    def _slow(ir, vi, fused):
        time.sleep(0.3)
        return float(fused.mean())
''')


def test_concurrent_runs_with_different_metrics_keep_every_value(tmp_path):
    (tmp_path / "concmod.py").write_text(CONC)
    store = tmp_path / "store"

    def cmd(metrics):
        code = (f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import concmod; from fusionbench.cli import main; "
                f"sys.exit(main(['run', '--methods', 'average', '--dataset', 'synthetic', '--metrics', {metrics!r}, "
                f"'--results', {str(store)!r}, '--no-progress']))")
        return [sys.executable, "-c", code]

    procs = [subprocess.Popen(cmd(m), stderr=subprocess.PIPE, text=True)
             for m in ("nmi,en,_t_slowmetric", "sd,qabf,_t_slowmetric")]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    for rec in (store / "synthetic" / "average" / "records").glob("*.json"):
        scores = json.loads(rec.read_text())["scores"]
        assert {"nmi", "en", "sd", "qabf", "_t_slowmetric"} <= set(scores), (rec.name, sorted(scores))


def test_verify_finds_a_tampered_value_and_recompute_repairs_it(tmp_path, capsys):
    res = tmp_path / "r"
    _run(res, "average", "en,sd")
    assert main(["verify", "--results", str(res)]) == 0
    store = ResultStore(res, create=False)
    p = store.record_path("synthetic", "average", "camera")
    rec = json.loads(p.read_text())
    true_en = rec["scores"]["en"]["values"]["en"]
    rec["scores"]["en"]["values"]["en"] = 99.0
    p.write_text(json.dumps(rec))
    capsys.readouterr()
    assert main(["verify", "--results", str(res)]) == 1
    out = capsys.readouterr().out
    assert "1 mismatch" in out and "camera" in out and " 99 " in out
    from fusionbench.verify import verify
    (mm,) = verify(res).mismatches
    assert (mm["pair"], mm["metric"], mm["stored"], mm["recomputed"]) == ("camera", "en", 99.0, true_en)
    assert main(["verify", "--results", str(res), "--sample", "2"]) in (0, 1)
    _run(res, "average", "en,sd", recompute=True)
    assert json.loads(p.read_text())["scores"]["en"]["values"]["en"] == true_en
    assert main(["verify", "--results", str(res)]) == 0


def test_interrupted_run_shows_finished_pairs_at_once(tmp_path):
    """method.json is written with the first finished pair: a run killed later still has a table."""
    from fusionbench.runner import process_pair  # noqa: F401  (the unit the test relies on)

    res = tmp_path / "r"
    seen = []

    def stop_after_two(out):
        seen.append(out.pair)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run("average", "synthetic", metrics="en", results=res, progress=False, log=lambda m: None,
            on_pair=stop_after_two)
    g = summary_table(ResultStore(res, create=False), "synthetic", expected_pairs=SYN)
    c = _cells(g, "average")
    assert c["en"].n == 2 and c["pairs"].text == "2/4"


def test_leaderboard_sorts_by_mean_rank_in_every_format(tmp_path, capsys):
    from fusionbench.tables import leaderboard_table

    res = tmp_path / "r"
    _run(res, "average,max", "en,sd,qabf_liu")
    store = ResultStore(res, create=False)
    g = leaderboard_table(store, "synthetic", metrics=["en", "sd", "qabf_liu"], expected_pairs=SYN)
    vals = {r[1].text: {g.columns[i].key: r[i].value for i in range(len(r))} for r in g.rows}
    ranks = {}
    for m in vals:   # independent: count the other method beating it per column (all higher is better)
        other = next(o for o in vals if o != m)
        ranks[m] = sum(1 + (round(vals[other][k], 4) > round(vals[m][k], 4)) for k in ("en", "sd", "qabf_liu")) / 3
    assert [r[1].text for r in g.rows] == sorted(ranks, key=lambda m: (ranks[m], m))
    assert [round(r[3].value, 6) for r in g.rows] == [round(ranks[r[1].text], 6) for r in g.rows]
    for fmt in ("text", "md", "csv", "latex", "json"):
        capsys.readouterr()
        assert main(["table", "--table", "leaderboard", "--dataset", "synthetic", "--results", str(res),
                     "--format", fmt]) == 0
        out = capsys.readouterr().out
        assert "average" in out and "max" in out and ("mean rank" in out or "mean_rank" in out)
