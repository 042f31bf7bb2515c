"""Tables of mean scores from the result store, built as :class:`~fusionbench.render.Grid` models.

:func:`summary_table` tabulates every method of a dataset; :func:`build_paper_table` rebuilds a
paper's table (:mod:`fusionbench.paper`) row by row in the paper's order, each row saying its
source (``ours``, ``published:<folder>`` or ``n/a``), with the printed values, differences and a
ranking comparison on request. Both build one neutral grid that :mod:`fusionbench.render`
renders as text (terminal default), md, csv, latex or json.

Rules shared by every table and format:

* scores come from :mod:`fusionbench.scores` (verified records, current metric versions);
* every mean carries its own n; a cell computed on fewer pairs than the row's table expects is
  flagged ``n/N`` and is not marked best/second against complete rows (unless
  ``allow_partial``); NaN values are counted and reported in a footnote, never dropped silently;
* ties at the printed precision share a rank (every value equal to the best is best).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import FusionbenchError
from .paper import Paper, PaperRow, PaperTable
from .ranking import competition_ranks, concordance, rank_marks  # noqa: F401  (rank_marks re-exported)
from .render import Cell, Column, Grid, render
from .scores import read_values
from .store import ResultStore

NA = "n/a"


def _metric_info(metric: str) -> tuple[str, bool]:
    """(label, higher_is_better) of a metric or part (``ifc.ir``) from the registry."""
    from .errors import UnknownNameError
    from .registry import get_metric

    base = metric.split(".")[0] if "." in metric else metric
    try:
        spec = get_metric(metric)
    except UnknownNameError:
        try:
            spec = get_metric(base)
        except UnknownNameError:
            return metric, True
    label = spec.label or spec.name
    if metric != spec.name:
        label = f"{label}{metric[len(spec.name):]}"
    return label, spec.higher_is_better


def _arrow(hib: bool) -> str:
    return "↑" if hib else "↓"


def _finite(xs: list[float]) -> tuple[list[float], int]:
    ok = [x for x in xs if not (isinstance(x, float) and math.isnan(x))]
    return ok, len(xs) - len(ok)


def mean_std(xs: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and population std (ddof 0) with exact summation; (None, None) when empty."""
    if not xs:
        return None, None
    mean = math.fsum(xs) / len(xs)
    return mean, math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / len(xs))


def simple_grid(rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float | None]],
                higher_is_better: Sequence[bool], *, stds=None, title: str = "", decimals: int = 4) -> Grid:
    """A grid of plain values (``rows`` x ``columns``) marked best/second per column."""
    marks = [rank_marks([r[c] for r in values], higher_is_better[c], decimals) for c in range(len(columns))]
    body = []
    for r, name in enumerate(rows):
        cells = [Cell(text=name)]
        for c in range(len(columns)):
            cells.append(Cell(value=values[r][c], std=stds[r][c] if stds else None, mark=marks[c][r]))
        body.append(cells)
    cols = [Column("method", key="method")] + [Column(c, _arrow(h), key=c) for c, h in zip(columns, higher_is_better)]
    return Grid(title=title, columns=cols, rows=body, decimals=decimals)


# ==========================================================================================
# Store summary
# ==========================================================================================
def summary_table(store: ResultStore, dataset: str, methods: Sequence[str] | None = None,
                  metrics: Sequence[str] | None = None, std: bool = False, *,
                  expected_pairs: Sequence[str] | None = None, allow_partial: bool = False,
                  title: str | None = None, decimals: int = 4,
                  values: dict[str, dict[str, dict[str, float]]] | None = None) -> Grid:
    """Mean (± std) per method per metric over the pairs each method has, as a :class:`Grid`.

    ``expected_pairs``: the dataset's pairs (when its data is present); else the largest pair
    count of any method is expected. See the module docstring for flags and marking.
    ``values``: ``{method: read_values(..., expected_pairs)}`` the caller has already read.
    """
    infos = store.method_infos(dataset)
    if not infos:
        raise FusionbenchError(f"no results for dataset {dataset!r} in {store.root} "
                               f"(datasets there: {', '.join(store.datasets()) or 'none'}); "
                               "run `fusionbench run` first")
    methods = list(methods) if methods else list(infos)
    unknown = [m for m in methods if m not in infos]
    if unknown:
        raise FusionbenchError(f"no results for {', '.join(unknown)} on {dataset!r} in {store.root} "
                               f"(methods there: {', '.join(infos)})")
    per = values if values is not None else {}
    per = {m: per[m] if m in per else read_values(store, dataset, m, None, expected_pairs) for m in methods}
    if metrics is None:
        metrics = []
        for vals in per.values():
            for v in vals.values():
                metrics += [k for k in v if "." not in k and k not in metrics]
    metrics = list(metrics)
    n_rows = {m: len(v) for m, v in per.items()}
    expected = len(expected_pairs) if expected_pairs is not None else max(n_rows.values(), default=0)
    info = [_metric_info(m) for m in metrics]
    stats: dict[tuple[str, str], tuple[float | None, float | None, int, int, list[str]]] = {}
    for m in methods:
        for k in metrics:
            raw = [(p, v[k]) for p, v in per[m].items() if k in v]
            ok, n_nan = _finite([x for _, x in raw])
            nan_pairs = [p for p, x in raw if isinstance(x, float) and math.isnan(x)]
            mu, sd = mean_std(ok)
            stats[m, k] = (mu, sd, len(ok), n_nan, nan_pairs)
    body: list[list[Cell]] = []
    marks = {}
    for c, k in enumerate(metrics):
        vals = [stats[m, k][0] for m in methods]
        elig = [allow_partial or stats[m, k][2] >= expected for m in methods]
        marks[k] = rank_marks(vals, info[c][1], decimals, eligible=elig)
    notes: list[str] = []
    any_partial = False
    for r, m in enumerate(methods):
        row = [Cell(text=store.label(dataset, m)),
               Cell(text=f"{n_rows[m]}/{expected}" if n_rows[m] != expected else str(n_rows[m]))]
        for c, k in enumerate(metrics):
            mu, sd, n, n_nan, nan_pairs = stats[m, k]
            flag = f"{n}/{expected}" if n != expected and mu is not None else ""
            any_partial |= bool(flag)
            row.append(Cell(value=mu, std=sd if std else None, mark=marks[k][r], flag=flag, n=n, nan=n_nan,
                            meta={"method": m, "metric": k}))
            if n_nan:
                shown = ", ".join(nan_pairs[:5]) + (" ..." if len(nan_pairs) > 5 else "")
                notes.append(f"{info[c][0]} of {store.label(dataset, m)}: {n_nan} NaN value(s) "
                             f"(pairs {shown}) not in the mean")
        body.append(row)
    cols = [Column("method", key="method"), Column("pairs", key="pairs")] + [
        Column(lab, _arrow(h), key=k) for k, (lab, h) in zip(metrics, info)]
    legend = []
    if any_partial:
        legend.append("n/N: mean over n of N pairs" +
                      ("" if allow_partial else " (not ranked against complete rows; --allow-partial ranks them)"))
    if std:
        legend.append("mean ± population std over pairs")
    ids = [f"{lab} = `{k}`" for k, (lab, _) in zip(metrics, info) if lab != k]
    if ids:
        legend.append("metrics: " + ", ".join(ids))
    for m in methods:
        colour = infos[m].get("colour_pairs")
        if colour:
            notes.append(f"{store.label(dataset, m)}: colour output, scored as gray by the gray metrics "
                         f"(MATLAB rgb2gray; {len(colour)}/{n_rows[m]} pairs); vifb:* metrics read the colour")
    split = next((i.get("split") for i in infos.values() if i.get("split")), None)
    name = next((i.get("dataset_name") for i in infos.values() if i.get("dataset_name")), None)
    where = dataset
    if split and name:
        from .registry import listing

        note = (listing("datasets").get(name, {}).get("split_notes") or {}).get(split)
        where += f" (dataset {name}, split {split}" + (f": {note}" if note else "") + ")"
    return Grid(title=title or f"Mean scores on {where}, {expected} pairs", columns=cols, rows=body,
                legend=legend, footnotes=notes, decimals=decimals, kind="summary")


def leaderboard_table(store: ResultStore, dataset: str, *, metrics: Sequence[str] | None = None,
                      expected_pairs: Sequence[str] | None = None, allow_partial: bool = False) -> Grid:
    """Every method of the store on ``dataset``, sorted by mean rank over the metric columns.

    Columns: the ``paper`` preset's metrics, then the ``cddfuse`` preset's (the columns of a
    CDDFuse-style table), those registered and scored in the store (or ``metrics``). Rule: in each
    column the methods are ranked (1 = best, direction from the registry, ties share the best
    rank, compared at 4 decimals) among the rows complete on that column (all rows with
    ``allow_partial``); a method's score is the mean of its ranks over the columns where it was
    ranked; sorted by that mean rank, then by the number of ranked columns (more first), then by
    name. Rows ranked on no column come last.
    """
    from .errors import UnknownNameError
    from .registry import resolve_metrics

    values = {m: read_values(store, dataset, m, None, expected_pairs) for m in store.methods(dataset)}
    if metrics is None:
        metrics = []
        for preset in ("paper", "cddfuse"):
            try:
                metrics += [m for m in resolve_metrics(preset=preset) if m not in metrics]
            except UnknownNameError:
                continue
        present = {k for vals in values.values() for v in vals.values() for k in v}
        metrics = [m for m in metrics if m in present]
    g = summary_table(store, dataset, metrics=metrics, expected_pairs=expected_pairs,
                      allow_partial=allow_partial, values=values)
    first = 2  # method, pairs
    ranks: list[list[int]] = [[] for _ in g.rows]
    for c in range(first, len(g.columns)):
        hib = g.columns[c].arrow != "↓"
        idx = [r for r, row in enumerate(g.rows) if row[c].value is not None and (allow_partial or not row[c].flag)]
        if len(idx) < 1:
            continue
        rk = competition_ranks([g.rows[r][c].value for r in idx], hib, g.decimals)
        for r, k in zip(idx, rk):
            ranks[r].append(k)
    means = [sum(r) / len(r) if r else None for r in ranks]
    order = sorted(range(len(g.rows)), key=lambda r: (means[r] is None, means[r] if means[r] is not None else 0,
                                                      -len(ranks[r]), g.rows[r][0].text or ""))
    rows = []
    for pos, r in enumerate(order, 1):
        row = list(g.rows[r])
        rows.append([Cell(text=str(pos))] + row[:first] +
                    [Cell(value=means[r], mark="", n=len(ranks[r]), meta={"method": row[0].text})] + row[first:])
    cols = [Column("#", key="position")] + g.columns[:first] + [Column("mean rank", "↓", key="mean_rank")] + g.columns[first:]
    legend = g.legend + [f"sorted by mean rank over the {len(g.columns) - first} metric columns (1 = best; "
                         "ranked among complete rows)"]
    return Grid(title=f"Leaderboard on {dataset}: {len(rows)} methods", columns=cols, rows=rows,
                legend=legend, footnotes=g.footnotes, decimals=g.decimals, kind="leaderboard")


# ==========================================================================================
# Paper tables: a paper's table rebuilt from the store, beside the paper's printed values
# ==========================================================================================
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


def _mean_std(per_pair: dict[str, dict[str, float]], metric: str) -> tuple[float | None, float | None, int]:
    xs, _ = _finite([v[metric] for v in per_pair.values() if metric in v])
    mu, sd = mean_std(xs)
    return mu, sd, len(xs)


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


@dataclass
class PaperTableData:
    """A paper table filled from the store: the data; :func:`paper_grid` and
    :func:`paper_cells` turn it into a grid or json cells, :func:`ranking_summary` compares
    its ranking with the paper's."""

    paper: Paper
    table: PaperTable
    dataset: str
    columns: list[tuple[str | None, str]]   # (paper column or None, metric)
    rows: list[RowResult]
    compare: bool = False
    std: bool = False
    decimals: int = 4
    allow_partial: bool = False

    def label(self, c: int) -> str:
        """Column label: the paper's name, with the metric when it is not the only choice."""
        col, metric = self.columns[c]
        if col is None:
            return _metric_info(metric)[0]
        cands = self.paper.column_metrics[col]
        return col if (metric == cands[0] and len(cands) == 1) else f"{col} ({metric})"

    def higher(self, c: int) -> bool:
        col, metric = self.columns[c]
        from .errors import UnknownNameError
        from .registry import get_metric

        try:
            return get_metric(metric).higher_is_better
        except UnknownNameError:
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

    def groups(self) -> list[list[int]]:
        idx = [i for i, rr in enumerate(self.rows) if not rr.row.extra]
        extra = [i for i, rr in enumerate(self.rows) if rr.row.extra]
        if not self.table.mark_by_group:
            return [idx] + ([extra] if extra else [])
        groups: dict[str | None, list[int]] = {}
        for i in idx:
            groups.setdefault(self.rows[i].row.group, []).append(i)
        return list(groups.values()) + ([extra] if extra else [])

    def _marks_of(self, get, partial_rule: bool) -> list[list[str]]:
        marks = [["" for _ in self.columns] for _ in self.rows]
        for g in self.groups():
            for c in range(len(self.columns)):
                elig = None
                if partial_rule and not self.allow_partial and self.table.n_pairs:
                    elig = [self.rows[r].counts[c] >= self.table.n_pairs or self.rows[r].counts[c] == 0
                            for r in g]
                    if not any(e and self.rows[r].counts[c] for e, r in zip(elig, g)):
                        elig = None  # no complete row at all: rank what there is
                m = rank_marks([get(r, c) for r in g], self.higher(c), self.decimals, eligible=elig)
                for r, k in zip(g, m):
                    marks[r][c] = k
        return marks

    def marks(self) -> list[list[str]]:
        """Best / second of our values per column (per group where the table says so); rows on
        fewer pairs than the paper's are not ranked against complete rows (``allow_partial``)."""
        return self._marks_of(lambda r, c: self.rows[r].means[c], True)

    def paper_marks(self) -> list[list[str]]:
        return self._marks_of(self.paper_value, False)

    def fmt(self, v: float | None, sd: float | None = None, signed: bool = False) -> str:
        from .render import number

        s = number(v, self.decimals, signed)
        if sd is not None and v is not None:
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
        metric_desc = ", ".join(f"{self.label(c)} = `{m}`" for c, (_, m) in enumerate(self.columns))
        return (f"{self.table.title} — fusionbench, dataset `{self.dataset}` "
                f"({self.table.n_pairs} pairs in the paper); metrics: {metric_desc}")

    def render(self, fmt: str, per_pair: bool = False) -> str:
        """Shorthand for :func:`render_paper`."""
        return render_paper(self, fmt, per_pair=per_pair)


def ranking_summary(t: PaperTableData) -> list[str]:
    """Per column: how our ranking of the rows compares with the paper's."""
    lines = []
    for c in range(len(t.columns)):
        if t.columns[c][0] is None:
            continue
        for g in t.groups():
            g = [r for r in g if not t.rows[r].row.extra and t.rows[r].means[c] is not None
                 and t.paper_value(r, c) is not None]
            if len(g) < 2:
                continue
            ours = [t.rows[r].means[c] for r in g]
            pap = [t.paper_value(r, c) for r in g]
            hib = t.higher(c)
            ro, rp = competition_ranks(ours, hib, t.decimals), competition_ranks(pap, hib, t.decimals)
            conc, comp, tau = concordance(ours, pap)
            name = lambda r: t.rows[r].row.name  # noqa: E731
            best_o = [name(r) for r, k in zip(g, ro) if k == 1]
            best_p = [name(r) for r, k in zip(g, rp) if k == 1]
            same = [name(r) for r, a, b in zip(g, ro, rp) if a == b]
            grp = t.rows[g[0]].row.group if t.table.mark_by_group else None
            head = f"{t.label(c)}" + (f" [{grp}]" if grp else "")
            verdict = "same best" if set(best_o) == set(best_p) else "different best"
            ours_rows = [r for r in g if t.rows[r].row.ours]
            own = ""
            if ours_rows:
                r0 = ours_rows[0]
                own = f"; {name(r0)} ranks {ro[g.index(r0)]} of {len(g)} here, {rp[g.index(r0)]} in the paper"
            tau_s = f"{tau:+.2f}" if tau is not None else "n/a"
            lines.append(f"{head} ({len(g)} rows with both values): {verdict} (ours: {', '.join(best_o)}; "
                         f"paper: {', '.join(best_p)}){own}; {conc}/{comp} row pairs ordered as in the "
                         f"paper (Kendall tau-b {tau_s}); {len(same)} of {len(g)} rows at the paper's rank")
    return lines


def paper_notes(t: PaperTableData) -> list[str]:
    out = []
    with_source = [rr for rr in t.rows if rr.source != NA]
    for c, (_, m) in enumerate(t.columns):
        if with_source and all(rr.counts[c] == 0 for rr in with_source):
            out.append(f"{t.label(c)}: `{m}` is not scored in this store (score it with "
                       f"`fusionbench reproduce --metrics ...,{m}` or `fusionbench run --metrics {m}`)")
    for rr in t.rows:
        if rr.source == NA:
            what = []
            if rr.row.method:
                what.append(f"no results of method `{rr.row.method}` in the store")
            if rr.row.published:
                what.append(f"no results of `published:{rr.row.published}`")
            else:
                what.append(f"no published images on {t.dataset}")
            out.append(f"{rr.row.name}: not available ({'; '.join(what)})")
    for rr in t.rows:
        nans = {}
        for c, (_, m) in enumerate(t.columns):
            k = sum(1 for v in rr.per_pair.values() if m in v and isinstance(v[m], float) and math.isnan(v[m]))
            if k:
                nans[t.label(c)] = k
        if nans:
            out.append(f"{rr.row.name}: NaN values not in the mean: " +
                       ", ".join(f"{lab} {k}" for lab, k in nans.items()))
    for rr in t.rows:
        cc = rr.crosscheck
        if not cc:
            continue
        vals = ", ".join(f"{t.label(c)} {t.fmt(p)} (ours {t.fmt(o)})"
                         for c, (p, o) in enumerate(zip(cc["published"], cc["ours"])))
        out.append(f"cross-check {rr.row.name}: {cc['source']} on {cc['n_pairs']} pairs: {vals}, "
                   "ours on the same pairs in parentheses")
    return out


def paper_grid(t: PaperTableData) -> Grid:
    """The paper table as a neutral grid (group, method, values [, paper, Δ], source)."""
    marks, pmarks = t.marks(), t.paper_marks()
    has_group = any(rr.row.group for rr in t.rows)
    cols: list[Column] = [Column("table", key="table", only=("csv",))]
    if has_group:
        cols.append(Column("group", key="group"))
    cols.append(Column("method", key="method", latex="Method"))
    cols += [Column("source", key="source", only=("csv",)), Column("n_pairs", key="n_pairs", only=("csv",))]
    for c in range(len(t.columns)):
        col, m = t.columns[c]
        lab = t.label(c)
        latex = None
        if col:
            latex = t.paper.column_latex.get(col)
            if latex is not None and lab != col:
                from .render import latex_escape

                latex += f" ({latex_escape(m)})"
        cols.append(Column(lab, _arrow(t.higher(c)), key=lab, latex=latex))
        if t.compare:
            cols += [Column("paper", key=f"{lab} paper"), Column("Δ", key=f"{lab} diff")]
    cols.append(Column("source", key="source_text", latex="Source", only=("text", "md", "latex")))
    body = []
    starts: set[int] = set()
    prev = object()
    for r, rr in enumerate(t.rows):
        g = rr.row.group or ""
        if has_group and g != prev:
            starts.add(r)
        cells = [Cell(text=str(t.table.number))]
        if has_group:
            cells.append(Cell(text=g if g != prev else "" if r else g))
        prev = g
        cells.append(Cell(text=rr.row.name + (" (extra)" if rr.row.extra else ""), latex=rr.row.latex))
        cells += [Cell(text=rr.source), Cell(text=str(rr.n_pairs))]
        for c in range(len(t.columns)):
            n = rr.counts[c]
            flag = f"{n}/{t.table.n_pairs}" if n and n != max(rr.counts) and t.table.n_pairs else ""
            cells.append(Cell(value=rr.means[c], std=rr.stds[c] if t.std else None, mark=marks[r][c],
                              flag=flag, n=n))
            if t.compare:
                cells += [Cell(value=t.paper_value(r, c), mark=pmarks[r][c]),
                          Cell(value=t.diff(r, c), signed=True)]
        cells.append(Cell(text=t.source_text(rr)))
        body.append(cells)
    legend = []
    if t.table.mark_by_group:
        legend.append("marked within each group")
    if t.std:
        legend.append("mean ± population std over pairs")
    if t.compare:
        legend.append("`paper`: the value printed in the paper (marked by the paper's own ranking), "
                      "Δ = ours − paper")
    legend.append(f"rows on fewer than {t.table.n_pairs} pairs are not ranked against complete rows"
                  if not t.allow_partial else "partial rows ranked (--allow-partial)")
    notes = paper_notes(t)
    if t.compare:
        summ = ranking_summary(t)
        if summ:
            notes += ["Ranking against the paper:"] + summ
    return Grid(title=t.heading(), columns=cols, rows=body, legend=legend, footnotes=notes,
                decimals=t.decimals, group_starts=starts, kind="paper")


def paper_cells(t: PaperTableData) -> list[dict[str, Any]]:
    """One object per cell, in the paper's row order (the ``--format json`` records)."""
    out = []
    for r, rr in enumerate(t.rows):
        for c, (col, metric) in enumerate(t.columns):
            d: dict[str, Any] = {"table": t.table.number, "row": rr.row.name, "metric": col or metric,
                                 "metric_id": metric, "ours": rr.means[c], "source": rr.source,
                                 "n_pairs": rr.counts[c]}
            if rr.row.group:
                d["group"] = rr.row.group
            if rr.row.extra:
                d["extra"] = True
            if t.std:
                d["std"] = rr.stds[c]
            if t.compare:
                d["paper"] = t.paper_value(r, c)
                d["diff"] = t.diff(r, c)
            if rr.crosscheck:
                d["crosscheck"] = {"source": rr.crosscheck["source"], "n_pairs": rr.crosscheck["n_pairs"],
                                   "published": rr.crosscheck["published"][c],
                                   "ours_same_pairs": rr.crosscheck["ours"][c]}
            out.append(d)
    return out


def per_pair_grid(t: PaperTableData) -> Grid:
    cols = [Column("table", key="table", only=("csv",)), Column("method", key="method"),
            Column("source", key="source"), Column("pair", key="pair")]
    cols += [Column(t.label(c), key=t.label(c)) for c in range(len(t.columns))]
    body = []
    for rr in t.rows:
        for p, vals in rr.per_pair.items():
            body.append([Cell(text=str(t.table.number)), Cell(text=rr.row.name, latex=rr.row.latex),
                         Cell(text=rr.source), Cell(text=p)] +
                        [Cell(value=vals.get(m)) for _, m in t.columns])
    return Grid(title=f"{t.table.title} — per pair ({t.dataset})", columns=cols, rows=body,
                decimals=t.decimals, kind="per_pair")


def render_paper(t: PaperTableData, fmt: str, per_pair: bool = False) -> str:
    """A paper table in ``fmt``; json is :func:`paper_cells` (or one object per pair value)."""
    import json

    if fmt == "json":
        if per_pair:
            return json.dumps([{"table": t.table.number, "row": rr.row.name, "pair": p, "metric": col or m,
                                "metric_id": m, "value": vals.get(m), "source": rr.source}
                               for rr in t.rows for p, vals in rr.per_pair.items() for col, m in t.columns],
                              indent=1, ensure_ascii=False)
        return json.dumps(paper_cells(t), indent=1, ensure_ascii=False)
    return render(per_pair_grid(t) if per_pair else paper_grid(t), fmt)


def build_paper_table(store: ResultStore, paper: Paper, number: int, *,
                      metrics: Sequence[str] | None = None, pairs: Sequence[str] | None = None,
                      extras: bool = False, compare: bool = False, std: bool = False,
                      dataset: str | None = None, allow_partial: bool = False) -> PaperTableData:
    """Fill a paper table from the store.

    Each row uses our implementation (``row.method``, else the trained ``row.train_alt``
    variant) when the store holds its results, else
    the published images (``published:<row.published>``), else it is ``n/a``. Where both are
    in the store, the published images' means on the pairs they cover (and ours on the same
    pairs) are kept as a cross-check. ``metrics`` swaps columns (see
    :meth:`fusionbench.paper.Paper.resolve_columns`); ``pairs`` restricts the pairs used.
    """
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
    return PaperTableData(paper=paper, table=table, dataset=dataset, columns=columns, rows=results,
                          compare=compare, std=std, allow_partial=allow_partial)
