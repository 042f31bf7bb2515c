"""A neutral table model (:class:`Grid`) and one renderer per format.

Every table of fusionbench (store summaries, paper tables, leaderboards) is built as a
:class:`Grid` of :class:`Cell` objects (value, std, n, best/second mark, flag) with footnotes,
then rendered by :func:`render` as

* ``text`` — the terminal default: plain columns, best marked ``★``, second ``☆``, a legend;
* ``md`` — GitHub Markdown: best **bold**, second <u>underlined</u>;
* ``latex`` — a ``tabular`` with ``\\textbf`` / ``\\underline`` (one escaper, :func:`latex_escape`);
* ``csv`` — plain numbers (std, n and NaN counts in their own columns);
* ``json`` — one object per value cell, with its row, column, mark and flags.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .errors import FusionbenchError

FORMATS = ("text", "md", "csv", "latex", "json")
BEST, SECOND = "★", "☆"


@dataclass
class Cell:
    """One cell: a number (``value``, optional ``std``) or a ``text``.

    ``mark``: ``'best'``/``'second'``/``''``; ``flag``: a short qualifier shown after the value
    in every format (``16/21``: computed on 16 of 21 pairs); ``n``/``nan``: how many values the
    mean is over and how many were NaN (exported by csv/json); ``latex``: LaTeX text overriding
    the escaped ``text``; ``meta``: extra fields for the json export.
    """

    value: float | None = None
    std: float | None = None
    text: str | None = None
    mark: str = ""
    flag: str = ""
    n: int | None = None
    nan: int = 0
    signed: bool = False
    latex: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def numeric(self) -> bool:
        return self.text is None


@dataclass
class Column:
    """A column: ``label`` (with ``arrow`` ↑/↓ for metrics), ``key`` for csv/json, ``latex``
    header override; ``only``: formats that show it (None = all)."""

    label: str
    arrow: str = ""
    key: str = ""
    latex: str | None = None
    only: tuple[str, ...] | None = None

    def shown_in(self, fmt: str) -> bool:
        return self.only is None or fmt in self.only


@dataclass
class Grid:
    title: str
    columns: list[Column]
    rows: list[list[Cell]]
    legend: list[str] = field(default_factory=list)     # format-neutral explanation lines
    footnotes: list[str] = field(default_factory=list)
    decimals: int = 4
    group_starts: set[int] = field(default_factory=set)  # rows that begin a new group
    kind: str = "table"


def latex_escape(s: str) -> str:
    """Escape text for LaTeX (the one escaper of the project)."""
    out = []
    table = {"\\": r"\textbackslash{}", "_": r"\_", "&": r"\&", "%": r"\%", "#": r"\#", "$": r"\$",
             "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
             "μ": r"$\mu$", "Δ": r"$\Delta$", "±": r"$\pm$", "↑": r"$\uparrow$", "↓": r"$\downarrow$",
             "★": r"$\star$", "☆": r"$\star$", "†": r"$\dagger$", "≈": r"$\approx$"}
    for ch in s:
        out.append(table.get(ch, ch))
    return "".join(out)


def number(v: float | None, decimals: int, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:+.{decimals}f}" if signed else f"{v:.{decimals}f}"


def _value_text(c: Cell, d: int, pm: str = " ± ") -> str:
    if not c.numeric:
        return c.text or ""
    s = number(c.value, d, c.signed)
    if c.std is not None and c.value is not None:
        s += f"{pm}{c.std:.{d}f}"
    return s


def _flag(c: Cell) -> str:
    return f" ({c.flag})" if c.flag else ""


def _header(col: Column) -> str:
    return col.label + (f" {col.arrow}" if col.arrow else "")


def _cols(g: Grid, fmt: str) -> list[int]:
    return [i for i, c in enumerate(g.columns) if c.shown_in(fmt)]


def to_text(g: Grid) -> str:
    from tabulate import tabulate

    idx = _cols(g, "text")
    sym = {"best": BEST, "second": SECOND}
    body = [[_value_text(r[i], g.decimals) + sym.get(r[i].mark, "") + _flag(r[i]) for i in idx] for r in g.rows]
    text = tabulate(body, headers=[_header(g.columns[i]) for i in idx], tablefmt="simple",
                    disable_numparse=True)
    lines = ([g.title, ""] if g.title else []) + [text, ""]
    legend = [f"{BEST} best, {SECOND} second"] + g.legend
    lines.append("; ".join(legend) + ".")
    lines += [f"  - {n}" for n in g.footnotes]
    return "\n".join(lines)


def to_markdown(g: Grid) -> str:
    from tabulate import tabulate

    idx = _cols(g, "md")

    def cell(c: Cell) -> str:
        s = _value_text(c, g.decimals)
        s = f"**{s}**" if c.mark == "best" else f"<u>{s}</u>" if c.mark == "second" else s
        return s + _flag(c)

    body = [[cell(r[i]) for i in idx] for r in g.rows]
    text = tabulate(body, headers=[_header(g.columns[i]) for i in idx], tablefmt="github",
                    disable_numparse=True)
    parts = ([g.title, ""] if g.title else []) + [text, ""]
    parts.append("; ".join(["Best in **bold**, second <u>underlined</u>"] + g.legend) + ".")
    if g.footnotes:
        parts += [""] + [f"- {n}" for n in g.footnotes]
    return "\n".join(parts)


def to_latex(g: Grid) -> str:
    idx = _cols(g, "latex")

    def cell(c: Cell) -> str:
        if not c.numeric:
            return c.latex if c.latex is not None else latex_escape(c.text or "")
        s = _value_text(c, g.decimals, pm=r" $\pm$ ")
        s = f"\\textbf{{{s}}}" if c.mark == "best" else f"\\underline{{{s}}}" if c.mark == "second" else s
        return s + (f" ({latex_escape(c.flag)})" if c.flag else "")

    def head(col: Column) -> str:
        lab = col.latex if col.latex is not None else latex_escape(col.label)
        return lab + (f" {latex_escape(col.arrow)}" if col.arrow else "")

    spec = "".join("l" if all(not r[i].numeric for r in g.rows) else "c" for i in idx)
    lines = []
    if g.title:
        lines.append(f"% {latex_escape(g.title)}")
    lines += [r"\begin{tabular}{" + spec + "}", r"\hline",
              " & ".join(head(g.columns[i]) for i in idx) + r" \\", r"\hline"]
    for k, r in enumerate(g.rows):
        if k in g.group_starts and k > 0:
            lines.append(r"\hline")
        lines.append(" & ".join(cell(r[i]) for i in idx) + r" \\")
    lines += [r"\hline", r"\end{tabular}"]
    lines += [f"% {latex_escape(x)}" for x in g.legend + g.footnotes]
    return "\n".join(lines) + "\n"


def _num(v: float | None) -> str:
    return "" if v is None else repr(float(v))


def to_csv(g: Grid) -> str:
    import csv
    import io

    idx = _cols(g, "csv")
    has_std = {i for i in idx if any(r[i].std is not None for r in g.rows)}
    has_n = {i for i in idx if any(r[i].flag or r[i].nan for r in g.rows)}
    head: list[str] = []
    for i in idx:
        key = g.columns[i].key or g.columns[i].label
        head.append(key)
        if i in has_std:
            head.append(f"{key} std")
        if i in has_n:
            head += [f"{key} n", f"{key} nan"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    for r in g.rows:
        row: list[Any] = []
        for i in idx:
            c = r[i]
            row.append(c.text if not c.numeric else _num(c.value))
            if i in has_std:
                row.append(_num(c.std))
            if i in has_n:
                row += ["" if c.n is None else c.n, c.nan]
        w.writerow(row)
    return buf.getvalue()


def to_json(g: Grid) -> str:
    import json

    out = []
    text_cols = [i for i, c in enumerate(g.columns) if all(not r[i].numeric for r in g.rows)]
    for r in g.rows:
        ident = {g.columns[i].key or g.columns[i].label: r[i].text for i in text_cols}
        for i, col in enumerate(g.columns):
            c = r[i]
            if not c.numeric or not col.shown_in("json"):
                continue
            d = {**ident, "column": col.key or col.label, "value": c.value, "std": c.std, "n": c.n,
                 "nan": c.nan, "mark": c.mark or None, "flag": c.flag or None, **c.meta}
            out.append(d)
    return json.dumps(out, indent=1, ensure_ascii=False)


RENDERERS = {"text": to_text, "md": to_markdown, "latex": to_latex, "csv": to_csv, "json": to_json}


def render(grid: Grid, fmt: str) -> str:
    """Render ``grid`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in RENDERERS:
        raise FusionbenchError(f"unknown table format {fmt!r} ({', '.join(RENDERERS)})")
    return RENDERERS[fmt](grid)
