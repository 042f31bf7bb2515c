"""``fusionbench reproduce``: planning, training via the registered trainer, resume (a second run
recomputes nothing), tables written; with a small registered test double for a trainable method."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusionbench.cli import main
from fusionbench.imageio import write_png
from fusionbench.paper import paper_from_dict
from fusionbench.registry import METHODS, discover, register_method
from fusionbench.reproduce import execute, plan, reproduce, trained_path

TRAIN_CALLS: list[dict] = []


def _fake_trainer(variant=None, *, mu=None, epochs=None, max_steps=None, seed=0, out=None,
                  data_root=None, progress=True, resume=True):
    """Test double of a trainer: writes the variant's blending weight to ``out``."""
    TRAIN_CALLS.append({"variant": variant, "max_steps": max_steps, "out": Path(out)})
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"alpha": {"a": 0.25, "b": 0.75, "c": 0.4}[variant]}))
    return {"out": Path(out), "seconds": 0.0, "final_losses": {"total": 0.0}}


def _blend(ir, vi, weights=None, config="default"):
    alpha = json.loads(Path(weights).read_text())["alpha"] if weights else 0.5
    return alpha * ir + (1 - alpha) * vi


discover()
if "t8_trainable" not in METHODS:
    register_method("t8_trainable", description="test double: blend with a trained weight",
                    params={"weights": None, "config": "default"},
                    variants={v: {"config": v} for v in ("a", "b", "c")},
                    trainer=_fake_trainer)(_blend)


def _paper() -> dict:
    return {
        "name": "tiny", "title": "tiny", "citation": "test", "columns": ["EN", "SD"],
        "column_metrics": {"EN": ["en"], "SD": ["sd"]}, "higher_is_better": {"EN": True, "SD": True},
        "tables": [
            {"number": 1, "title": "Table 1. Methods", "dataset": "tno", "n_pairs": 3, "rows": [
                {"key": "avg", "name": "Average", "method": "average", "paper": [6.0, 30.0]},
                {"key": "mx", "name": "Max", "method": "max", "published": "MAXPUB", "paper": [7.0, 40.0]},
                {"key": "none", "name": "Nothing", "method": "no_such_method_t8", "paper": [1.0, 2.0]},
                {"key": "ours", "name": "Ours", "method": "t8_trainable", "train_alt": "c", "ours": True,
                 "paper": [7.5, 45.0]}]},
            {"number": 3, "title": "Table 3. Variants", "dataset": "tno", "n_pairs": 3, "rows": [
                {"key": "a", "name": "A", "method": "t8_trainable:a", "train": "a", "paper": [6.5, 35.0]},
                {"key": "b", "name": "B", "method": "t8_trainable:b", "train": "b", "paper": [6.6, 36.0]}]}]}


@pytest.fixture
def setup(tmp_path):
    rng = np.random.default_rng(3)
    root = tmp_path / "data"
    for k in range(3):
        ir = (rng.random((20, 28)) * 255).astype(np.uint8)
        vi = (rng.random((20, 28)) * 255).astype(np.uint8)
        write_png(root / "tno" / "ir" / f"p{k}.png", ir)
        write_png(root / "tno" / "vi" / f"p{k}.png", vi)
        if k != 1:
            write_png(root / "results" / "tno" / "MAXPUB" / f"p{k}.png", np.maximum(ir, vi))
    TRAIN_CALLS.clear()
    return paper_from_dict(_paper()), root, tmp_path / "results"


def _mtimes(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file() and "tables" not in p.parts}


def test_plan_lists_tasks_and_unavailable_rows(setup):
    paper, root, res = setup
    p = plan([1, 3], paper=paper, results=res, data_root=root, metrics=["en", "sd"])
    kinds = [(t.kind, t.method) for t in p.tasks]
    assert kinds == [("fuse", "average"), ("fuse", "max"), ("fuse", "published:MAXPUB"), ("fuse", "t8_trainable"),
                     ("train", "t8_trainable:a"), ("fuse", "t8_trainable:a"),
                     ("train", "t8_trainable:b"), ("fuse", "t8_trainable:b")]
    # published images exist for 2 of 3 pairs: only those count as work
    assert [t.todo for t in p.tasks if t.kind == "fuse"] == [3, 3, 2, 3, 3, 3]
    assert p.trainings_todo == 2 and p.pairs_todo == 17
    assert p.tasks[4].weights == trained_path(res, "t8_trainable", "a")
    assert p.tasks[5].params == {"weights": str(res / "trained" / "t8_trainable" / "a.pt")}
    assert len(p.unavailable) == 1 and "Nothing" in p.unavailable[0]
    assert "2 trainings, 17 pairs to compute" in p.text()
    # --train-ours: the paper's own row trains its train_alt variant instead
    p2 = plan([1], paper=paper, results=res, data_root=root, metrics=["en", "sd"], train_ours=True)
    assert ("train", "t8_trainable:c") in [(t.kind, t.method) for t in p2.tasks]
    assert ("fuse", "t8_trainable") not in [(t.kind, t.method) for t in p2.tasks]


def test_reproduce_runs_writes_tables_and_resumes(setup):
    paper, root, res = setup
    rep = reproduce([1, 3], paper=paper, results=res, data_root=root, metrics=["en", "sd"], progress=False,
                    max_steps=5, log=lambda m: None)
    assert rep.failures == []
    assert [c["variant"] for c in TRAIN_CALLS] == ["a", "b"] and TRAIN_CALLS[0]["max_steps"] == 5
    for n in (1, 3):
        for ext in ("md", "csv", "json"):
            assert (res / "tables" / f"table{n}.{ext}").is_file()
    cells = json.loads((res / "tables" / "table3.json").read_text())
    ours = {(c["row"], c["metric"]): c for c in cells}
    assert ours[("A", "EN")]["source"] == "ours" and ours[("A", "EN")]["n_pairs"] == 3
    assert ours[("A", "SD")]["ours"] != ours[("B", "SD")]["ours"]   # the two trained weights differ
    assert ours[("A", "EN")]["paper"] == 6.5
    t1 = pd.read_csv(res / "tables" / "table1.csv", keep_default_na=False, na_values=[""])
    assert list(t1["method"]) == ["Average", "Max", "Nothing", "Ours"]
    assert list(t1["source"]) == ["ours", "ours", "n/a", "ours"]
    md = (res / "tables" / "table1.md").read_text()
    assert "cross-check Max: published:MAXPUB on 2 pairs" in md and "Ranking against the paper" in md

    before = _mtimes(res)
    TRAIN_CALLS.clear()
    p = plan([1, 3], paper=paper, results=res, data_root=root, metrics=["en", "sd"])
    assert p.pairs_todo == 0 and p.trainings_todo == 0
    rep2 = execute(p, progress=False, log=lambda m: None)
    assert TRAIN_CALLS == []
    assert rep2.summaries and all(s.count("fused") == 0 for s in rep2.summaries)
    assert sum(o.metrics_computed for s in rep2.summaries for o in s.outcomes) == 0
    after = _mtimes(res)
    changed = [k for k in before if before[k] != after.get(k) and not k.endswith(("scores.csv", "method.json"))]
    assert changed == []


def test_resume_after_interruption_and_new_metric(setup):
    paper, root, res = setup
    reproduce([1], paper=paper, results=res, data_root=root, metrics=["en"], progress=False, log=lambda m: None)
    # a run killed before pair p2 of `average` was recorded
    (res / "tno" / "average" / "records" / "p2.json").unlink()
    p = plan([1], paper=paper, results=res, data_root=root, metrics=["en"])
    assert {t.method: t.todo for t in p.tasks} == {"average": 1, "max": 0, "published:MAXPUB": 0,
                                                    "t8_trainable": 0}
    rep = execute(p, progress=False, log=lambda m: None)
    s = {x.method: x for x in rep.summaries}
    assert s["average"].count("fused") == 1 and s["max"].count("fused") == 0
    # a metric added later is scored on the stored images, nothing is fused again
    p = plan([1], paper=paper, results=res, data_root=root, metrics=["en", "sd"])
    assert p.pairs_todo == 3 + 3 + 2 + 3
    rep = execute(p, progress=False, log=lambda m: None)
    assert all(x.count("fused") == 0 for x in rep.summaries)
    assert sum(o.metrics_computed for x in rep.summaries for o in x.outcomes) == 11


def test_cli_reproduce_dry_run_and_errors(setup, capsys):
    _, root, res = setup
    # the real paper's Tables 1 and 3 on a tiny TNO: the plan names every task, nothing runs
    assert main(["reproduce", "--tables", "1,3", "--results", str(res), "--data-root", str(root),
                 "--metrics", "en", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "plan for Tables 1, 3 of ssl_waeie" in err
    assert not (res / "tables").exists()
    if "ssl_waeie" in METHODS and METHODS["ssl_waeie"].trainer is not None:
        assert f"train ssl_waeie:mu9 -> {res / 'trained' / 'ssl_waeie' / 'mu9.pt'}" in err
    # RoadScene is absent from this data root: a clean error
    assert main(["reproduce", "--tables", "2", "--results", str(res), "--data-root", str(root),
                 "--metrics", "en", "--dry-run"]) == 2
    assert "roadscene" in capsys.readouterr().err


@pytest.mark.slow
def test_reproduce_table3_with_the_real_trainer_tiny_budget(data_root, tmp_path):
    """Table 3 end to end with SSL-WAEIE's registered trainer (1 step per variant) on 2 crops of TNO
    (96x96: IFC's pyramid needs at least 72x72)."""
    from fusionbench.imageio import read_image

    if "ssl_waeie" not in METHODS or METHODS["ssl_waeie"].trainer is None:
        pytest.skip("ssl_waeie with a trainer is not registered")
    root = tmp_path / "data"
    (root).mkdir()
    (root / "tno_train").symlink_to(data_root / "tno_train")
    for name in ("01", "05"):
        for side in ("ir", "vi"):
            img = read_image(data_root / "tno" / side / f"{name}.png", collapse_gray=True)
            write_png(root / "tno" / side / f"{name}.png", np.ascontiguousarray(img[:96, :96]))
    res = tmp_path / "results"
    rep = reproduce([3], results=res, data_root=root, progress=False, max_steps=1, log=lambda m: None)
    assert not [f for f in rep.failures if "train" in f], rep.failures
    cells = json.loads((res / "tables" / "table3.json").read_text())
    trained = [c for c in cells if c["row"] != "μ = 10 (SSL-WAEIE)"]
    assert {c["source"] for c in trained} == {"ours"} and {c["n_pairs"] for c in trained} == {2}
    for v in ("mu9", "mu9.5", "mu10.5", "mu11"):
        assert (res / "trained" / "ssl_waeie" / f"{v}.pt").is_file()
    assert not [f for f in rep.failures if "mu" in f and "train" in f]
    p = plan([3], results=res, data_root=root)
    assert p.trainings_todo == 0


def test_method_without_weights_is_reported_not_fatal(setup):
    from fusionbench.errors import WeightsError

    def _no_weights(params):
        raise WeightsError("t8_noweights: no weights file")

    def _fn(ir, vi, weights=None):
        raise WeightsError("t8_noweights: no weights file")

    if "t8_noweights" not in METHODS:
        register_method("t8_noweights", description="test double without weights", params={"weights": None},
                        resolve_params=_no_weights)(_fn)
    paper, root, res = setup
    d = _paper()
    d["tables"][0]["rows"].append({"key": "nw", "name": "NoWeights", "method": "t8_noweights", "paper": [1.0, 1.0]})
    p = plan([1], paper=paper_from_dict(d), results=res, data_root=root, metrics=["en"])
    assert {t.method: t.todo for t in p.tasks}["t8_noweights"] == 3
    rep = execute(p, progress=False, log=lambda m: None)
    assert rep.failures and all("t8_noweights" in f for f in rep.failures)
    cells = json.loads((res / "tables" / "table1.json").read_text())
    assert {c["row"]: c["source"] for c in cells}["NoWeights"] == "n/a"
    assert {c["row"]: c["source"] for c in cells}["Average"] == "ours"
