"""Paper tables: transcription of the paper's numbers, best/second marking with ties,
missing-method rows, sources, metric swap, and md/csv/latex/json agreement."""
from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusionbench.cli import main
from fusionbench.imageio import write_png
from fusionbench.paper import load_paper, paper_from_dict
from fusionbench.runner import run
from fusionbench.store import ResultStore
from fusionbench.tables import build_paper_table, rank_marks, ranking_summary

PROJECT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("FUSIONBENCH_SHARED", PROJECT.parent / "shared"))
PAPER_MD = SHARED / "paper" / "SSL-WAEIE.md"


# -- transcription --------------------------------------------------------------------------
def _md_tables(text: str) -> dict[int, list[list[str]]]:
    """Rows (cells) of the markdown table that follows each 'Table N.' caption."""
    out: dict[int, list[list[str]]] = {}
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        m = re.match(r"^Table (\d)\. ", ln)
        if not m:
            continue
        rows, j = [], i + 1
        while j < len(lines) and not lines[j].startswith("|"):
            j += 1
        while j < len(lines) and lines[j].startswith("|"):
            cells = [c.strip() for c in lines[j].strip().strip("|").split("|")]
            rows.append(cells)
            j += 1
        out[int(m.group(1))] = rows
    return out


def _numeric_rows(rows: list[list[str]]) -> list[tuple[str, list[float]]]:
    out = []
    for cells in rows:
        nums = [c for c in cells if re.fullmatch(r"\d+\.\d+", c)]
        if len(nums) == 4:
            label = [c for c in cells if c and not re.fullmatch(r"\d+\.\d+", c)][-1]
            out.append((label, [float(x) for x in nums]))
    return out


def test_transcription_matches_every_cell_of_the_paper():
    if not PAPER_MD.exists():
        pytest.skip(f"{PAPER_MD} absent")
    parsed = _md_tables(PAPER_MD.read_text(encoding="utf-8"))
    paper = load_paper("ssl_waeie")
    assert sorted(parsed) == [1, 2, 3, 4] and sorted(paper.tables) == [1, 2, 3, 4]
    n_cells = 0
    for n in (1, 2, 3, 4):
        md_rows = _numeric_rows(parsed[n])
        rows = paper.table(n).rows
        assert len(md_rows) == len(rows), f"table {n}: {len(md_rows)} rows in the paper, {len(rows)} in the JSON"
        for (label, values), row in zip(md_rows, rows):
            assert re.sub(r"\s", "", label) == re.sub(r"\s", "", row.label), (n, label, row.label)
            assert list(row.paper) == values, (n, row.name)
            n_cells += len(values)
    assert n_cells == 4 * (10 + 10 + 5 + 7)


def test_paper_definition_rows_columns_and_mapping():
    paper = load_paper("ssl_waeie")
    assert paper.citation.startswith("G. Zhang, R. Nie, and J. Cao")
    assert paper.default_metrics() == ["nmi", "qy", "qabf_liu", "ifc"]
    t1, t2 = paper.table(1), paper.table(2)
    names = ["FusionGAN", "DenseFuse", "DIDFuse", "RFN-Nest", "TE-MST", "MDLatLRR", "DualFuse",
             "Bayesian", "Hybrid-MSD", "SSL-WAEIE"]
    assert [r.name for r in t1.rows] == names and [r.name for r in t2.rows] == names
    assert (t1.dataset, t1.n_pairs, t2.dataset, t2.n_pairs) == ("tno", 21, "roadscene", 20)
    # spot values typed from the paper independently of the JSON (Ours rows, Tables 1 and 2)
    assert t1.rows[-1].paper == (0.5826, 0.8320, 0.5412, 3.6330)
    assert t2.rows[-1].paper == (0.6617, 0.8653, 0.5001, 2.9144)
    assert t2.row("te_mst").paper[3] == 2.646
    # published folders staged under the data root (MANIFEST) and rows that train a variant
    assert {r.published for r in t1.rows if r.published} == {
        "FusionGAN", "DenseFuse_add", "DIDFuse", "RFN-Nest", "MDLatLRR_L2", "Bayesian", "Hybrid-MSD"}
    assert {r.published for r in t2.rows if r.published} == {"FusionGAN", "DIDFuse"}
    assert [r.train for r in paper.table(3).rows] == ["mu9", "mu9.5", None, "mu10.5", "mu11"]
    assert [r.train for r in paper.table(4).rows] == ["no_wae", "no_iee", "sl_iee", None, "loss_f", "loss_wf", None]
    assert paper.table(4).mark_by_group
    with pytest.raises(Exception, match="no table 5"):
        paper.table(5)


def test_metric_swap_and_header():
    paper = load_paper("ssl_waeie")
    assert paper.resolve_columns(None) == [("NMI", "nmi"), ("Q_Y", "qy"), ("Q_ABF", "qabf_liu"), ("IFC", "ifc")]
    assert paper.resolve_columns(["qabf"]) == [("NMI", "nmi"), ("Q_Y", "qy"), ("Q_ABF", "qabf"), ("IFC", "ifc")]
    assert paper.resolve_columns(["nmi", "qy", "qabf", "ifc"]) == paper.resolve_columns(["qabf"])
    assert paper.resolve_columns(["en", "ifc"]) == [(None, "en"), ("IFC", "ifc")]
    store = ResultStore(Path("/nonexistent-fusionbench-store"), create=False)
    t = build_paper_table(store, paper, 1, metrics=["qabf"])
    assert [t.label(c) for c in range(4)] == ["NMI", "Q_Y", "Q_ABF (qabf)", "IFC"]
    t = build_paper_table(store, paper, 1)
    assert t.label(2) == "Q_ABF (qabf_liu)"
    assert "Q_ABF (qabf_liu)" in t.render("md")


# -- marking ------------------------------------------------------------------------------------
def test_rank_marks_ties_share_rank():
    assert rank_marks([0.5, 0.7, 0.7, 0.6, None], True) == ["", "best", "best", "second", ""]
    assert rank_marks([0.5, 0.7, 0.6], False) == ["best", "", "second"]
    # equal at the printed precision counts as a tie
    assert rank_marks([0.12344, 0.12341, 0.1], True) == ["best", "best", "second"]


# -- tables built from a small store -------------------------------------------------------------
def _tiny_paper(dataset: str = "tno") -> dict:
    return {
        "name": "tiny", "title": "tiny", "citation": "test", "columns": ["EN", "SD"],
        "column_metrics": {"EN": ["en"], "SD": ["sd"]},
        "column_latex": {"EN": "EN", "SD": "SD"},
        "higher_is_better": {"EN": True, "SD": True},
        "tables": [{
            "number": 1, "title": "Table 1. Tiny", "dataset": dataset, "n_pairs": 3,
            "rows": [
                {"key": "avg", "name": "Average", "method": "average", "paper": [5.0, 20.0]},
                {"key": "avg2", "name": "Average_again", "method": "average", "paper": [5.5, 25.0]},
                {"key": "mx", "name": "Max", "method": "max", "published": "MAXPUB", "paper": [6.0, 30.0]},
                {"key": "pub", "name": "Pub only", "method": "not_a_method_t8", "published": "MAXPUB",
                 "paper": [7.0, 10.0]},
                {"key": "gone", "name": "Gone", "method": "not_a_method_t8", "published": None,
                 "paper": [1.0, 1.0]},
            ]}]}


def _tiny_data(root: Path, n: int = 3, size: int = 24) -> Path:
    rng = np.random.default_rng(8)
    for k in range(n):
        ir = rng.integers(0, 256, (size, size), dtype=np.uint8)
        vi = rng.integers(0, 256, (size, size), dtype=np.uint8)
        write_png(root / "tno" / "ir" / f"{k:02d}.png", ir)
        write_png(root / "tno" / "vi" / f"{k:02d}.png", vi)
        if k < 2:  # published images for 2 of 3 pairs: max with a small change
            write_png(root / "results" / "tno" / "MAXPUB" / f"{k:02d}.png",
                      np.maximum(ir, vi) // 2 + 10)
    return root


@pytest.fixture
def tiny_store(tmp_path):
    root = _tiny_data(tmp_path / "data")
    res = tmp_path / "results"
    run(["average", "max", "published:MAXPUB"], "tno", root=root, results=res, metrics=["en", "sd"],
        progress=False, log=lambda m: None)
    return ResultStore(res, create=False), paper_from_dict(_tiny_paper()), root


def test_sources_counts_missing_rows_and_crosscheck(tiny_store):
    store, paper, root = tiny_store
    t = build_paper_table(store, paper, 1, compare=True)
    by = {r.row.key: r for r in t.rows}
    assert [r.row.key for r in t.rows] == ["avg", "avg2", "mx", "pub", "gone"]
    assert by["avg"].source == "ours" and by["avg"].n_pairs == 3
    assert by["mx"].source == "ours" and by["mx"].crosscheck["n_pairs"] == 2
    assert by["pub"].source == "published:MAXPUB" and by["pub"].n_pairs == 2
    assert by["gone"].source == "n/a" and by["gone"].means == [None, None] and by["gone"].counts == [0, 0]
    # the means are the means of the stored per-pair values
    sc = store.scores("tno", "max")
    assert by["mx"].means[0] == pytest.approx(sc["en"].mean(), abs=1e-12)
    assert by["mx"].stds[1] == pytest.approx(sc["sd"].std(ddof=0), abs=1e-12)
    pub = store.scores("tno", "published:MAXPUB").dropna()
    assert by["mx"].crosscheck["published"][0] == pytest.approx(pub["en"].mean(), abs=1e-12)
    assert by["mx"].crosscheck["ours"][0] == pytest.approx(sc.loc[pub.index, "en"].mean(), abs=1e-12)
    md = t.render("md")
    assert "| Gone" in md and "n/a" in md and "published:MAXPUB (2/3 pairs)" in md
    assert "cross-check Max: published:MAXPUB on 2 pairs" in md
    assert "Gone: not available" in md
    # restricting the pairs
    t2 = build_paper_table(store, paper, 1, pairs=["00"])
    assert {r.row.key: r.n_pairs for r in t2.rows} == {"avg": 1, "avg2": 1, "mx": 1, "pub": 1, "gone": 0}


def test_best_second_marking_with_ties(tiny_store):
    store, paper, _ = tiny_store
    t = build_paper_table(store, paper, 1)
    marks = t.marks()
    # rows avg and avg2 are the same method: identical values tie
    assert marks[0] == marks[1]
    for c in range(2):
        col = [None if r.means[c] is None else round(r.means[c], 4) for r in t.rows]
        distinct = sorted({v for v in col if v is not None}, reverse=True)
        for r, v in enumerate(col):  # independent of rank_marks: the highest is best, the next second
            want = "" if v is None else "best" if v == distinct[0] else "second" if v == distinct[1] else ""
            assert marks[r][c] == want, (r, c, col)
        assert sum(m[c] == "best" for m in marks) >= 1
    md = t.render("md")
    for r, rr in enumerate(t.rows):
        for c in range(2):
            s = t.fmt(rr.means[c])
            if marks[r][c] == "best":
                assert f"**{s}**" in md
            elif marks[r][c] == "second":
                assert f"<u>{s}</u>" in md
    tex = t.render("latex")
    n_best = sum(m.count("best") for m in marks)
    n_second = sum(m.count("second") for m in marks)
    assert tex.count(r"\textbf{") == n_best and tex.count(r"\underline{") == n_second


def test_marking_by_group_and_paper_marks():
    d = _tiny_paper()
    d["tables"][0]["mark_by_group"] = True
    for i, row in enumerate(d["tables"][0]["rows"]):
        row["group"] = "A" if i < 2 else "B"
    paper = paper_from_dict(d)
    store = ResultStore(Path("/nonexistent-fusionbench-store"), create=False)
    t = build_paper_table(store, paper, 1, compare=True)
    pm = t.paper_marks()
    # group A: 5.0 < 5.5 ; group B: 6.0, 7.0, 1.0 (EN column)
    assert [m[0] for m in pm] == ["second", "best", "second", "best", ""]
    assert [m[1] for m in pm] == ["second", "best", "best", "second", ""]


def test_formats_agree(tiny_store):
    store, paper, _ = tiny_store
    t = build_paper_table(store, paper, 1, compare=True, std=True)
    cells = json.loads(t.render("json"))
    assert len(cells) == 5 * 2
    assert [c["row"] for c in cells[::2]] == ["Average", "Average_again", "Max", "Pub only", "Gone"]
    assert set(cells[0]) >= {"table", "row", "metric", "ours", "paper", "source", "n_pairs"}
    df = pd.read_csv(io.StringIO(t.render("csv")), keep_default_na=False, na_values=[""])  # source "n/a" stays text
    assert list(df["method"]) == ["Average", "Average_again", "Max", "Pub only", "Gone"]
    for cell in cells:
        row = df[df["method"] == cell["row"]].iloc[0]
        v = row[cell["metric"]]
        if cell["ours"] is None:
            assert pd.isna(v)
        else:
            assert v == cell["ours"]  # exact: both print repr(float)
            assert row[f"{cell['metric']} std"] == cell["std"]
            assert row[f"{cell['metric']} diff"] == pytest.approx(cell["ours"] - cell["paper"], abs=1e-12)
            assert f"{cell['ours']:.4f} ± {cell['std']:.4f}" in t.render("md")
            assert f"{cell['ours']:.4f} $\\pm$ {cell['std']:.4f}" in t.render("latex")
        assert row[f"{cell['metric']} paper"] == cell["paper"]
        assert row["source"] == cell["source"]
    # ranking summary compares our order with the paper's
    summ = ranking_summary(t)
    assert len(summ) == 2 and all("row pairs ordered as in the paper" in s for s in summ)


def test_latex_is_well_formed(tiny_store):
    store, paper, _ = tiny_store
    for kw in ({}, {"compare": True}, {"compare": True, "std": True}):
        tex = build_paper_table(store, paper, 1, **kw).render("latex")
        body = "\n".join(ln for ln in tex.splitlines() if not ln.startswith("%"))
        assert body.count(r"\begin{tabular}") == 1 and body.count(r"\end{tabular}") == 1
        assert body.index(r"\begin{tabular}") < body.index(r"\end{tabular}")
        depth = 0
        for ch in body:
            depth += {"{": 1, "}": -1}.get(ch, 0)
            assert depth >= 0
        assert depth == 0
        spec = re.search(r"\\begin\{tabular\}\{([a-z]+)\}", body).group(1)
        for ln in body.splitlines():
            if ln.endswith(r"\\"):
                assert ln.count(" & ") == len(spec) - 1, ln
        assert "Average\\_again" in body           # underscores escaped in text
        assert re.search(r"\\textbf\{\d+\.\d{4}", body)


def test_table_cli_real_paper_all_rows(tiny_store, tmp_path, capsys):
    store, _, root = tiny_store
    res = str(store.root)
    # Table 1 of the real paper on this store: ten rows in the paper's order, all n/a except
    # the published RFN-Nest images once they are scored
    write_png(root / "results" / "tno" / "RFN-Nest" / "00.png", np.full((24, 24), 100, np.uint8))
    run(["published:RFN-Nest"], "tno", root=root, results=res, metrics=["en", "sd"], progress=False,
        log=lambda m: None)
    assert main(["table", "--table", "1", "--results", res, "--metrics", "en,sd", "--format", "json",
                 "--data-root", str(root)]) == 0
    cells = json.loads(capsys.readouterr().out)
    rows = list(dict.fromkeys(c["row"] for c in cells))
    assert rows == [r.name for r in load_paper().table(1).rows]
    src = {c["row"]: (c["source"], c["n_pairs"]) for c in cells}
    assert src["RFN-Nest"] == ("published:RFN-Nest", 1)
    assert src["FusionGAN"] == ("n/a", 0)
    assert main(["table", "--table", "1,2", "--results", res, "--metrics", "en,sd", "--format", "md",
                 "--compare", "paper", "--data-root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "Table 1." in out and "Table 2." in out and "SSL-WAEIE" in out
    assert main(["table", "--table", "1", "--results", res, "--per-pair", "--format", "csv",
                 "--metrics", "en", "--data-root", str(root)]) == 0
    df = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype={"pair": str})
    assert list(df["pair"]) == ["00"] and df["method"][0] == "RFN-Nest"
    assert main(["table", "--table", "9", "--results", res]) == 2
    assert "no table 9" in capsys.readouterr().err
    assert main(["table", "--compare", "paper", "--results", res]) == 2
