"""Table rendering: best bold, second underlined, ties, formats agree."""
from __future__ import annotations

import io

import pandas as pd

from fusionbench.tables import Table, rank_marks


def test_rank_marks_with_ties_and_direction():
    assert rank_marks([0.5, 0.7, 0.6], True) == ["", "best", "second"]
    assert rank_marks([0.5, 0.7, 0.6], False) == ["best", "", "second"]
    assert rank_marks([0.7, 0.7, 0.6, None], True) == ["best", "best", "second", ""]
    assert rank_marks([0.70001, 0.70004, 0.6], True, decimals=4) == ["best", "best", "second"]
    assert rank_marks([None, None], True) == ["", ""]


def _table():
    return Table(rows=["a", "b", "c"], columns=["x", "y"], values=[[1.0, 3.0], [2.0, None], [3.0, 1.0]],
                 higher_is_better=[True, False])


def test_markdown_marks_best_and_second():
    md = _table().to_markdown()
    assert "**3.0000**" in md and "<u>2.0000</u>" in md       # x: higher is better
    assert "**1.0000**" in md and "<u>3.0000</u>" in md       # y: lower is better
    assert "x ↑" in md and "y ↓" in md and "n/a" in md


def test_latex_marks_and_csv_numbers():
    tex = _table().to_latex()
    assert r"\textbf{3.0000}" in tex and r"\underline{2.0000}" in tex and tex.count("{") == tex.count("}")
    df = pd.read_csv(io.StringIO(_table().to_csv()))
    assert df["x"].tolist() == [1.0, 2.0, 3.0] and pd.isna(df["y"][1])
