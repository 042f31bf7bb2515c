"""Tables of mean scores from the result store, with best / second-best marking.

Formats: ``md`` (best **bold**, second <u>underlined</u>), ``csv`` (plain numbers),
``latex`` (``\\textbf`` / ``\\underline``). Headers carry ↑/↓ from each metric's
``higher_is_better``. Ties share a rank: every value equal to the best at the printed
precision is bold, and the next distinct value is second.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from .errors import FusionbenchError
from .registry import METRICS, discover
from .store import ResultStore


def rank_marks(values: Sequence[float | None], higher_is_better: bool, decimals: int = 4) -> list[str]:
    """``'best'``, ``'second'`` or ``''`` per value, comparing at ``decimals`` places (ties share)."""
    clean = [round(v, decimals) if v is not None and not math.isnan(v) else None for v in values]
    distinct = sorted({v for v in clean if v is not None}, reverse=higher_is_better)
    best = distinct[0] if distinct else None
    second = distinct[1] if len(distinct) > 1 else None
    return ["best" if v is not None and v == best else "second" if v is not None and v == second else ""
            for v in clean]


@dataclass
class Table:
    """A rectangular table: ``rows`` x ``columns`` of floats (None = not available)."""

    rows: list[str]
    columns: list[str]
    values: list[list[float | None]]
    higher_is_better: list[bool]
    title: str = ""
    row_notes: list[str] = field(default_factory=list)
    stds: list[list[float | None]] | None = None
    decimals: int = 4

    def header(self, col: int, arrows: bool = True) -> str:
        arrow = (" ↑" if self.higher_is_better[col] else " ↓") if arrows else ""
        return self.columns[col] + arrow

    def marks(self) -> list[list[str]]:
        per_col = [rank_marks([r[c] for r in self.values], self.higher_is_better[c], self.decimals)
                   for c in range(len(self.columns))]
        return [[per_col[c][r] for c in range(len(self.columns))] for r in range(len(self.rows))]

    def _cell(self, r: int, c: int) -> str:
        v = self.values[r][c]
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "n/a"
        s = f"{v:.{self.decimals}f}"
        if self.stds is not None and self.stds[r][c] is not None:
            s += f" ± {self.stds[r][c]:.{self.decimals}f}"
        return s

    def to_markdown(self) -> str:
        from tabulate import tabulate

        marks = self.marks()
        body = []
        for r, name in enumerate(self.rows):
            cells = []
            for c in range(len(self.columns)):
                s = self._cell(r, c)
                s = f"**{s}**" if marks[r][c] == "best" else f"<u>{s}</u>" if marks[r][c] == "second" else s
                cells.append(s)
            row = [name, *cells]
            if self.row_notes:
                row.append(self.row_notes[r])
            body.append(row)
        headers = ["method", *(self.header(c) for c in range(len(self.columns)))]
        if self.row_notes:
            headers.append("source")
        text = tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)
        legend = "\n\nBest in **bold**, second <u>underlined</u>."
        return (f"{self.title}\n\n" if self.title else "") + text + legend

    def to_csv(self) -> str:
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        head = ["method", *self.columns]
        if self.stds is not None:
            head += [f"{c}_std" for c in self.columns]
        if self.row_notes:
            head.append("source")
        w.writerow(head)
        for r, name in enumerate(self.rows):
            row = [name, *("" if v is None else repr(float(v)) for v in self.values[r])]
            if self.stds is not None:
                row += ["" if v is None else repr(float(v)) for v in self.stds[r]]
            if self.row_notes:
                row.append(self.row_notes[r])
            w.writerow(row)
        return buf.getvalue()

    def to_latex(self) -> str:
        marks = self.marks()
        esc = lambda s: s.replace("_", r"\_").replace("&", r"\&").replace("%", r"\%")  # noqa: E731
        arrows = [r"$\uparrow$" if h else r"$\downarrow$" for h in self.higher_is_better]
        lines = [r"\begin{tabular}{l" + "c" * len(self.columns) + "}", r"\hline",
                 " & ".join(["Method", *(f"{esc(c)} {a}" for c, a in zip(self.columns, arrows))]) + r" \\",
                 r"\hline"]
        for r, name in enumerate(self.rows):
            cells = []
            for c in range(len(self.columns)):
                s = self._cell(r, c).replace("±", r"$\pm$")
                s = f"\\textbf{{{s}}}" if marks[r][c] == "best" else f"\\underline{{{s}}}" if marks[r][c] == "second" else s
                cells.append(s)
            lines.append(" & ".join([esc(name), *cells]) + r" \\")
        lines += [r"\hline", r"\end{tabular}"]
        return "\n".join(lines) + "\n"

    def render(self, fmt: str) -> str:
        if fmt == "md":
            return self.to_markdown()
        if fmt == "csv":
            return self.to_csv()
        if fmt == "latex":
            return self.to_latex()
        raise FusionbenchError(f"unknown table format {fmt!r} (md, csv, latex)")


def summary_table(store: ResultStore, dataset: str, methods: Sequence[str] | None = None,
                  metrics: Sequence[str] | None = None, std: bool = False) -> Table:
    """Mean (± std) per method per metric over the pairs in each ``scores.csv``."""
    discover()
    available = store.methods(dataset)
    if not available:
        raise FusionbenchError(f"no results for dataset {dataset!r} in {store.root} "
                               f"(datasets there: {', '.join(store.datasets()) or 'none'}); "
                               "run `fusionbench run` first")
    methods = list(methods) if methods else available
    frames = {m: store.scores(dataset, m) for m in methods}
    missing = [m for m, f in frames.items() if f is None]
    if missing:
        raise FusionbenchError(f"no scores for {', '.join(missing)} on {dataset!r} in {store.root}")
    if metrics is None:
        metrics = []
        for f in frames.values():
            metrics += [c for c in f.columns if "." not in c and c not in metrics]
    rows, stds, notes = [], [], []
    for m in methods:
        f = frames[m]
        rows.append([float(f[c].mean()) if c in f and f[c].notna().any() else None for c in metrics])
        stds.append([float(f[c].std(ddof=0)) if c in f and f[c].notna().any() else None for c in metrics])
        notes.append(f"{len(f)} pairs")
    hib = [METRICS[c].higher_is_better if c in METRICS else True for c in metrics]
    return Table(rows=list(methods), columns=list(metrics), values=rows, higher_is_better=hib,
                 title=f"Mean scores on {dataset}", stds=stds if std else None, row_notes=notes)
