"""Table rendering: best bold, second underlined, ties, formats agree."""
from __future__ import annotations

import io

import pandas as pd

from fusionbench.render import render
from fusionbench.tables import rank_marks, simple_grid


def test_rank_marks_with_ties_and_direction():
    assert rank_marks([0.5, 0.7, 0.6], True) == ["", "best", "second"]
    assert rank_marks([0.5, 0.7, 0.6], False) == ["best", "", "second"]
    assert rank_marks([0.7, 0.7, 0.6, None], True) == ["best", "best", "second", ""]
    assert rank_marks([0.70001, 0.70004, 0.6], True, decimals=4) == ["best", "best", "second"]
    assert rank_marks([None, None], True) == ["", ""]


def _table():
    return simple_grid(["a", "b", "c"], ["x", "y"], [[1.0, 3.0], [2.0, None], [3.0, 1.0]], [True, False])


def test_markdown_marks_best_and_second():
    md = render(_table(), "md")
    assert "**3.0000**" in md and "<u>2.0000</u>" in md       # x: higher is better
    assert "**1.0000**" in md and "<u>3.0000</u>" in md       # y: lower is better
    assert "x ↑" in md and "y ↓" in md and "n/a" in md


def test_latex_marks_and_csv_numbers():
    tex = render(_table(), "latex")
    assert r"\textbf{3.0000}" in tex and r"\underline{2.0000}" in tex and tex.count("{") == tex.count("}")
    df = pd.read_csv(io.StringIO(render(_table(), "csv")))
    assert df["x"].tolist() == [1.0, 2.0, 3.0] and pd.isna(df["y"][1])
