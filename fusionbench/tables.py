"""Tables of mean scores from the result store, with best / second-best marking.

:func:`summary_table` tabulates every method of a dataset; :func:`build_paper_table` rebuilds a
paper's table (:mod:`fusionbench.paper`) row by row in the paper's order, each row saying its
source (``ours``, ``published:<folder>`` or ``n/a``), with the printed values, differences and a
ranking comparison on request (:class:`PaperTableResult`, formats md, csv, latex, json).

Formats: ``md`` (best **bold**, second <u>underlined</u>), ``csv`` (plain numbers),
``latex`` (``\\textbf`` / ``\\underline``). Headers carry ↑/↓ from each metric's
``higher_is_better``. Ties share a rank: every value equal to the best at the printed
precision is bold, and the next distinct value is second.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import FusionbenchError
from .paper import Paper, PaperRow, PaperTable
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


def render_as(table, fmt: str) -> str:
    """Render ``table`` with the method its ``FORMATS`` maps ``fmt`` to."""
    if fmt not in table.FORMATS:
        raise FusionbenchError(f"unknown table format {fmt!r} ({', '.join(table.FORMATS)})")
    return getattr(table, table.FORMATS[fmt])()


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

    FORMATS = {"md": "to_markdown", "csv": "to_csv", "latex": "to_latex"}

    def render(self, fmt: str) -> str:
        return render_as(self, fmt)


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


# ==========================================================================================
# Paper tables: a paper's table rebuilt from the store, beside the paper's printed values
# ==========================================================================================
NA = "n/a"


def store_method_name(method: str) -> str:
    """The store's full name of ``name[:variant]`` (default variant resolved when registered)."""
    from .errors import UnknownNameError
    from .registry import parse_method

    try:
        return parse_method(method).full_name
    except UnknownNameError:
        return method


def _row_candidates(store: ResultStore, row: PaperRow) -> list[str]:
    """Store names that may hold our results for a paper row, best first: the variant trained by
    ``reproduce`` into ``<store>/trained/`` (a call with that ``weights`` file), the plain call,
    and the row's ``train_alt`` variant (trained, then plain)."""
    from .errors import UnknownNameError
    from .identity import store_name
    from .registry import parse_method
    from .reproduce import trained_path

    if not row.method:
        return []
    names = [row.method] + ([f"{row.method_base}:{row.train_alt}"] if row.train_alt else [])
    out: list[str] = []
    for m in names:
        try:
            call = parse_method(m)
        except UnknownNameError:
            out.append(m)
            continue
        w = trained_path(store.root, call.spec.name, call.variant or "default")
        if w.is_file() and "weights" in call.params:
            out.append(store_name(parse_method(m, weights=str(w))))
        out.append(call.full_name)
    return out


def read_values(store: ResultStore, dataset: str, method: str, metrics: Sequence[str],
                pairs: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """``{pair: {metric: value}}`` from the store's per-pair records (verified PNGs only).

    A value is used only when it was computed with the metric's current ``version`` (when the
    metric is registered). ``pairs`` restricts (and orders) the pairs.
    """
    discover()
    recs = store.records(dataset, method)
    names = [p for p in pairs if p in recs] if pairs is not None else sorted(recs)
    out: dict[str, dict[str, float]] = {}
    for p in names:
        scores = recs[p].get("scores", {})
        vals: dict[str, float] = {}
        for m in metrics:
            s = scores.get(m)
            if not s or m not in s.get("values", {}):
                continue
            if m in METRICS and s.get("version") != METRICS[m].version:
                continue
            v = s["values"][m]
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                vals[m] = float(v)
        out[p] = vals
    return out


def _mean_std(per_pair: dict[str, dict[str, float]], metric: str) -> tuple[float | None, float | None, int]:
    xs = [v[metric] for v in per_pair.values() if metric in v]
    if not xs:
        return None, None, 0
    mean = math.fsum(xs) / len(xs)
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / len(xs))
    return mean, std, len(xs)


@dataclass
class RowResult:
    """A paper row filled from the store.

    ``source``: ``'ours'`` (our implementation of ``row.method``), ``'published:<folder>'``
    (the authors' fused images) or ``'n/a'``. ``per_pair`` holds the values of that source.
    ``crosscheck`` (when both ours and the published images are in the store): the published
    images' means on the pairs they cover and ours on the same pairs.
    """

    row: PaperRow
    source: str
    store_method: str | None
    per_pair: dict[str, dict[str, float]]
    means: list[float | None]
    stds: list[float | None]
    counts: list[int]
    crosscheck: dict[str, Any] | None = None

    @property
    def n_pairs(self) -> int:
        return len(self.per_pair)


def _kendall(a: Sequence[float], b: Sequence[float]) -> tuple[int, int, float | None]:
    """Concordant pairs, comparable pairs and Kendall's tau-a of two equal-length lists."""
    conc = comp = 0
    disc = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            sa, sb = (a[i] > a[j]) - (a[i] < a[j]), (b[i] > b[j]) - (b[i] < b[j])
            if sa == 0 or sb == 0:
                continue
            comp += 1
            if sa == sb:
                conc += 1
            else:
                disc += 1
    n = len(a) * (len(a) - 1) // 2
    return conc, comp, ((conc - disc) / n if n else None)


def _ranks(values: Sequence[float], higher_is_better: bool, decimals: int) -> list[int]:
    """Competition ranks (1 = best; ties at ``decimals`` places share a rank)."""
    r = [round(v, decimals) for v in values]
    return [1 + sum((x > v) if higher_is_better else (x < v) for x in r) for v in r]


@dataclass
class PaperTableResult:
    """A paper table rebuilt from the store; renders as md, csv, latex or json."""

    paper: Paper
    table: PaperTable
    dataset: str
    columns: list[tuple[str | None, str]]   # (paper column or None, metric)
    rows: list[RowResult]
    compare: bool = False
    std: bool = False
    decimals: int = 4

    # -- columns ---------------------------------------------------------------------------
    def label(self, c: int) -> str:
        """Column label: the paper's name, with the metric when it is not the only choice."""
        col, metric = self.columns[c]
        if col is None:
            return METRICS[metric].label or metric if metric in METRICS else metric
        cands = self.paper.column_metrics[col]
        return col if (metric == cands[0] and len(cands) == 1) else f"{col} ({metric})"

    def higher(self, c: int) -> bool:
        col, metric = self.columns[c]
        if metric in METRICS:
            return METRICS[metric].higher_is_better
        return self.paper.higher_is_better.get(col, True) if col else True

    def paper_value(self, r: int, c: int) -> float | None:
        col = self.columns[c][0]
        row = self.rows[r].row
        if col is None or not row.paper:
            return None
        return row.paper[self.paper.columns.index(col)]

    def diff(self, r: int, c: int) -> float | None:
        a, b = self.rows[r].means[c], self.paper_value(r, c)
        return None if a is None or b is None else a - b

    # -- marking ---------------------------------------------------------------------------
    def _groups(self) -> list[list[int]]:
        idx = [i for i, rr in enumerate(self.rows) if not rr.row.extra]
        extra = [i for i, rr in enumerate(self.rows) if rr.row.extra]
        if not self.table.mark_by_group:
            return [idx] + ([extra] if extra else [])
        groups: dict[str | None, list[int]] = {}
        for i in idx:
            groups.setdefault(self.rows[i].row.group, []).append(i)
        return list(groups.values()) + ([extra] if extra else [])

    def _marks_of(self, get) -> list[list[str]]:
        marks = [["" for _ in self.columns] for _ in self.rows]
        for g in self._groups():
            for c in range(len(self.columns)):
                m = rank_marks([get(r, c) for r in g], self.higher(c), self.decimals)
                for r, k in zip(g, m):
                    marks[r][c] = k
        return marks

    def marks(self) -> list[list[str]]:
        """Best / second of our values per column (per group where the table says so)."""
        return self._marks_of(lambda r, c: self.rows[r].means[c])

    def paper_marks(self) -> list[list[str]]:
        return self._marks_of(self.paper_value)

    # -- text pieces -----------------------------------------------------------------------
    def fmt(self, v: float | None, sd: float | None = None, signed: bool = False) -> str:
        if v is None:
            return NA
        s = f"{v:+.{self.decimals}f}" if signed else f"{v:.{self.decimals}f}"
        if sd is not None:
            s += f" ± {sd:.{self.decimals}f}"
        return s

    def source_text(self, rr: RowResult) -> str:
        if rr.source == NA:
            return NA
        counts = [n for n in rr.counts if n] or [rr.n_pairs]
        n = min(counts)
        expected = self.table.n_pairs
        return f"{rr.source} ({n}/{expected} pairs)" if expected else f"{rr.source} ({n} pairs)"

    def heading(self) -> str:
        metric_desc = ", ".join(
            f"{self.label(c)} = `{m}`" for c, (_, m) in enumerate(self.columns))
        return (f"{self.table.title} — fusionbench, dataset `{self.dataset}` "
                f"({self.table.n_pairs} pairs in the paper); metrics: {metric_desc}")

    def ranking_summary(self) -> list[str]:
        """Per column: how our ranking of the rows compares with the paper's."""
        lines = []
        for c in range(len(self.columns)):
            if self.columns[c][0] is None:
                continue
            for g in self._groups():
                g = [r for r in g if not self.rows[r].row.extra and self.rows[r].means[c] is not None
                     and self.paper_value(r, c) is not None]
                if len(g) < 2:
                    continue
                ours = [self.rows[r].means[c] for r in g]
                pap = [self.paper_value(r, c) for r in g]
                hib = self.higher(c)
                ro, rp = _ranks(ours, hib, self.decimals), _ranks(pap, hib, self.decimals)
                conc, comp, tau = _kendall(ours, pap)
                name = lambda r: self.rows[r].row.name  # noqa: E731
                best_o = [name(r) for r, k in zip(g, ro) if k == 1]
                best_p = [name(r) for r, k in zip(g, rp) if k == 1]
                same = [name(r) for r, a, b in zip(g, ro, rp) if a == b]
                grp = self.rows[g[0]].row.group if self.table.mark_by_group else None
                head = f"{self.label(c)}" + (f" [{grp}]" if grp else "")
                verdict = ("same best" if set(best_o) == set(best_p) else "different best")
                ours_rows = [r for r in g if self.rows[r].row.ours]
                own = ""
                if ours_rows:
                    r0 = ours_rows[0]
                    own = (f"; {name(r0)} ranks {ro[g.index(r0)]} of {len(g)} here, "
                           f"{rp[g.index(r0)]} in the paper")
                tau_s = f"{tau:+.2f}" if tau is not None else "n/a"
                lines.append(f"{head} ({len(g)} rows with both values): {verdict} (ours: {', '.join(best_o)}; "
                             f"paper: {', '.join(best_p)}){own}; {conc}/{comp} row pairs ordered as in the "
                             f"paper (Kendall tau {tau_s}); {len(same)} of {len(g)} rows at the paper's rank")
        return lines

    def notes(self) -> list[str]:
        out = []
        with_source = [rr for rr in self.rows if rr.source != NA]
        for c, (_, m) in enumerate(self.columns):
            if with_source and all(rr.counts[c] == 0 for rr in with_source):
                out.append(f"{self.label(c)}: `{m}` is not scored in this store (score it with "
                           f"`fusionbench reproduce --metrics ...,{m}` or `fusionbench run --metrics {m}`)")
        for rr in self.rows:
            if rr.source == NA:
                what = []
                if rr.row.method:
                    what.append(f"no results of method `{rr.row.method}` in the store")
                if rr.row.published:
                    what.append(f"no results of `published:{rr.row.published}`")
                else:
                    what.append(f"no published images on {self.dataset}")
                out.append(f"{rr.row.name}: not available ({'; '.join(what)})")
        for rr in self.rows:
            cc = rr.crosscheck
            if not cc:
                continue
            vals = ", ".join(
                f"{self.label(c)} {self.fmt(p)} (ours {self.fmt(o)})"
                for c, (p, o) in enumerate(zip(cc["published"], cc["ours"])))
            out.append(f"cross-check {rr.row.name}: {cc['source']} on {cc['n_pairs']} pairs: {vals}, "
                       "ours on the same pairs in parentheses")
        return out

    # -- formats ---------------------------------------------------------------------------
    def _header_cells(self, arrows: bool = True) -> list[str]:
        heads = []
        for c in range(len(self.columns)):
            a = (" ↑" if self.higher(c) else " ↓") if arrows else ""
            heads.append(self.label(c) + a)
            if self.compare:
                heads += ["paper", "Δ"]
        return heads

    def to_markdown(self) -> str:
        from tabulate import tabulate

        marks, pmarks = self.marks(), self.paper_marks()
        wrap = lambda s, k: f"**{s}**" if k == "best" else f"<u>{s}</u>" if k == "second" else s  # noqa: E731
        has_group = any(rr.row.group for rr in self.rows)
        body = []
        for r, rr in enumerate(self.rows):
            cells = [rr.row.group or ""] if has_group else []
            cells.append(rr.row.name + (" (extra)" if rr.row.extra else ""))
            for c in range(len(self.columns)):
                cells.append(wrap(self.fmt(rr.means[c], rr.stds[c] if self.std else None), marks[r][c]))
                if self.compare:
                    cells.append(wrap(self.fmt(self.paper_value(r, c)), pmarks[r][c]))
                    cells.append(self.fmt(self.diff(r, c), signed=True))
            cells.append(self.source_text(rr))
            body.append(cells)
        headers = (["group"] if has_group else []) + ["method", *self._header_cells(), "source"]
        text = tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)
        parts = [self.heading(), "", text, "",
                 "Best in **bold**, second <u>underlined</u>" +
                 (" (within each group)" if self.table.mark_by_group else "") +
                 ("; mean ± population std over pairs" if self.std else "") +
                 ("; `paper`: the value printed in the paper (marked by the paper's own ranking), "
                  "Δ = ours − paper" if self.compare else "") + "."]
        notes = self.notes()
        if notes:
            parts += [""] + [f"- {n}" for n in notes]
        if self.compare:
            summ = self.ranking_summary()
            if summ:
                parts += ["", "Ranking against the paper:"] + [f"- {s}" for s in summ]
        return "\n".join(parts)

    def to_csv(self) -> str:
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        head = ["table", "group", "method", "source", "n_pairs"]
        for c in range(len(self.columns)):
            head.append(self.label(c))
            if self.std:
                head.append(f"{self.label(c)} std")
            if self.compare:
                head += [f"{self.label(c)} paper", f"{self.label(c)} diff"]
        w.writerow(head)
        num = lambda v: "" if v is None else repr(float(v))  # noqa: E731
        for r, rr in enumerate(self.rows):
            row = [self.table.number, rr.row.group or "", rr.row.name, rr.source, rr.n_pairs]
            for c in range(len(self.columns)):
                row.append(num(rr.means[c]))
                if self.std:
                    row.append(num(rr.stds[c]))
                if self.compare:
                    row += [num(self.paper_value(r, c)), num(self.diff(r, c))]
            w.writerow(row)
        return buf.getvalue()

    def to_latex(self) -> str:
        marks, pmarks = self.marks(), self.paper_marks()

        def esc(s: str) -> str:
            for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("&", r"\&"), ("%", r"\%"),
                         ("#", r"\#"), ("μ", r"$\mu$"), ("Δ", r"$\Delta$"), ("±", r"$\pm$")):
                s = s.replace(a, b)
            return s

        def wrap(s: str, k: str) -> str:
            return f"\\textbf{{{s}}}" if k == "best" else f"\\underline{{{s}}}" if k == "second" else s

        def cell(v, sd=None, signed=False) -> str:
            return self.fmt(v, sd, signed).replace(" ± ", r" $\pm$ ")

        has_group = any(rr.row.group for rr in self.rows)
        ncols = len(self.columns) * (3 if self.compare else 1)
        heads = []
        for c in range(len(self.columns)):
            col, m = self.columns[c]
            lab = self.paper.column_latex.get(col, esc(col)) if col else esc(self.label(c))
            if col and self.label(c) != col:
                lab += f" ({esc(m)})"
            heads.append(lab + (r" $\uparrow$" if self.higher(c) else r" $\downarrow$"))
            if self.compare:
                heads += ["paper", r"$\Delta$"]
        spec = ("l" if has_group else "") + "l" + "c" * ncols + "l"
        lines = [f"% {esc(self.heading())}", r"\begin{tabular}{" + spec + "}", r"\hline",
                 " & ".join((["Group"] if has_group else []) + ["Method", *heads, "Source"]) + r" \\",
                 r"\hline"]
        prev_group = None
        for r, rr in enumerate(self.rows):
            cells = []
            if has_group:
                g = rr.row.group or ""
                cells.append(esc(g) if g != prev_group else "")
                if prev_group is not None and g != prev_group:
                    lines.append(r"\hline")
                prev_group = g
            cells.append(rr.row.latex if rr.row.latex else esc(rr.row.name))
            for c in range(len(self.columns)):
                cells.append(wrap(cell(rr.means[c], rr.stds[c] if self.std else None), marks[r][c]))
                if self.compare:
                    cells.append(wrap(cell(self.paper_value(r, c)), pmarks[r][c]))
                    cells.append(cell(self.diff(r, c), signed=True))
            cells.append(esc(self.source_text(rr)))
            lines.append(" & ".join(cells) + r" \\")
        lines += [r"\hline", r"\end{tabular}"]
        for n in self.notes():
            lines.append(f"% {esc(n)}")
        if self.compare:
            for s in self.ranking_summary():
                lines.append(f"% {esc(s)}")
        return "\n".join(lines) + "\n"

    def cells(self) -> list[dict[str, Any]]:
        """One object per cell, in the paper's row order (the ``--format json`` records)."""
        out = []
        for r, rr in enumerate(self.rows):
            for c, (col, metric) in enumerate(self.columns):
                d: dict[str, Any] = {"table": self.table.number, "row": rr.row.name,
                                     "metric": col or metric, "metric_id": metric,
                                     "ours": rr.means[c], "source": rr.source, "n_pairs": rr.counts[c]}
                if rr.row.group:
                    d["group"] = rr.row.group
                if rr.row.extra:
                    d["extra"] = True
                if self.std:
                    d["std"] = rr.stds[c]
                if self.compare:
                    d["paper"] = self.paper_value(r, c)
                    d["diff"] = self.diff(r, c)
                if rr.crosscheck:
                    d["crosscheck"] = {"source": rr.crosscheck["source"],
                                       "n_pairs": rr.crosscheck["n_pairs"],
                                       "published": rr.crosscheck["published"][c],
                                       "ours_same_pairs": rr.crosscheck["ours"][c]}
                out.append(d)
        return out

    def to_json(self) -> str:
        import json

        return json.dumps(self.cells(), indent=1, ensure_ascii=False)

    # -- per pair --------------------------------------------------------------------------
    def per_pair_rows(self) -> list[tuple[RowResult, str, list[float | None]]]:
        out = []
        for rr in self.rows:
            for p, vals in rr.per_pair.items():
                out.append((rr, p, [vals.get(m) for _, m in self.columns]))
        return out

    def render_per_pair(self, fmt: str) -> str:
        rows = self.per_pair_rows()
        labels = [self.label(c) for c in range(len(self.columns))]
        if fmt == "json":
            import json

            return json.dumps([{"table": self.table.number, "row": rr.row.name, "pair": p,
                                "metric": col or m, "metric_id": m, "value": v, "source": rr.source}
                               for rr, p, vals in rows for (col, m), v in zip(self.columns, vals)],
                              indent=1, ensure_ascii=False)
        if fmt == "csv":
            import csv
            import io

            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(["table", "method", "source", "pair", *labels])
            for rr, p, vals in rows:
                w.writerow([self.table.number, rr.row.name, rr.source, p,
                            *("" if v is None else repr(float(v)) for v in vals)])
            return buf.getvalue()
        if fmt == "latex":
            lines = [r"\begin{tabular}{lll" + "c" * len(labels) + "}", r"\hline",
                     " & ".join(["Method", "Source", "Pair", *(s.replace("_", r"\_") for s in labels)]) + r" \\",
                     r"\hline"]
            for rr, p, vals in rows:
                lines.append(" & ".join([rr.row.latex or rr.row.name.replace("_", r"\_"),
                                         rr.source.replace("_", r"\_"), p.replace("_", r"\_"),
                                         *(self.fmt(v) for v in vals)]) + r" \\")
            lines += [r"\hline", r"\end{tabular}"]
            return "\n".join(lines) + "\n"
        from tabulate import tabulate

        body = [[rr.row.name, rr.source, p, *(self.fmt(v) for v in vals)] for rr, p, vals in rows]
        return (f"{self.table.title} — per pair ({self.dataset})\n\n" +
                tabulate(body, headers=["method", "source", "pair", *labels], tablefmt="github",
                         disable_numparse=True))

    FORMATS = {"md": "to_markdown", "csv": "to_csv", "latex": "to_latex", "json": "to_json"}

    def render(self, fmt: str, per_pair: bool = False) -> str:
        return self.render_per_pair(fmt) if per_pair else render_as(self, fmt)


def build_paper_table(store: ResultStore, paper: Paper, number: int, *,
                      metrics: Sequence[str] | None = None, pairs: Sequence[str] | None = None,
                      extras: bool = False, compare: bool = False, std: bool = False,
                      dataset: str | None = None) -> PaperTableResult:
    """Fill a paper table from the store.

    Each row uses our implementation (``row.method``, else the trained ``row.train_alt``
    variant) when the store holds its results, else
    the published images (``published:<row.published>``), else it is ``n/a``. Where both are
    in the store, the published images' means on the pairs they cover (and ours on the same
    pairs) are kept as a cross-check. ``metrics`` swaps columns (see
    :meth:`fusionbench.paper.Paper.resolve_columns`); ``pairs`` restricts the pairs used.
    """
    discover()
    table = paper.table(number)
    dataset = dataset or table.dataset
    columns = paper.resolve_columns(list(metrics) if metrics else None)
    metric_names = [m for _, m in columns]
    rows = list(table.rows) + (list(table.extras) if extras else [])
    results = []
    for row in rows:
        candidates = _row_candidates(store, row)
        ours_name, ours = (candidates[0] if candidates else None), {}
        for cand in candidates:
            vals = read_values(store, dataset, cand, metric_names, pairs)
            if any(vals.values()):
                ours_name, ours = cand, vals
                break
        pub_name = f"published:{row.published}" if row.published else None
        pub = read_values(store, dataset, pub_name, metric_names, pairs) if pub_name else {}
        ours = {p: v for p, v in ours.items() if v}
        pub = {p: v for p, v in pub.items() if v}
        if ours:
            source, used, per_pair = "ours", ours_name, ours
        elif pub:
            source, used, per_pair = pub_name, pub_name, pub
        else:
            source, used, per_pair = NA, None, {}
        stats = [_mean_std(per_pair, m) for m in metric_names]
        cross = None
        if ours and pub:
            common = [p for p in pub if p in ours]
            pub_c = {p: pub[p] for p in common}
            ours_c = {p: ours[p] for p in common}
            cross = {"source": pub_name, "n_pairs": len(common),
                     "published": [_mean_std(pub_c, m)[0] for m in metric_names],
                     "ours": [_mean_std(ours_c, m)[0] for m in metric_names]}
        results.append(RowResult(row=row, source=source, store_method=used, per_pair=per_pair,
                                 means=[s[0] for s in stats], stds=[s[1] for s in stats],
                                 counts=[s[2] for s in stats], crosscheck=cross))
    return PaperTableResult(paper=paper, table=table, dataset=dataset, columns=columns, rows=results,
                            compare=compare, std=std)
