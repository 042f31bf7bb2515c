"""Papers' published tables as data: definitions and loader by name.

A paper is a JSON file ``fusionbench/papers/<name>.json`` (see ``ssl_waeie.json``): its
citation, its metric columns (each column names the registered metrics that can fill it, the
first being the default), and its tables. A table names its dataset and its rows in the
paper's order; a row gives the values the paper printed (``paper``), and where our numbers come
from: ``method`` (a registered method name, ``name[:variant]``), ``published`` (a folder of
authors' fused images under ``<data root>/results/<dataset>/``), ``train`` (a variant that
``fusionbench reproduce`` trains first; the method then runs with ``weights=`` the trained
file). ``train_alt`` (the paper's own method): a variant ``reproduce --train-ours`` trains and
uses for the row instead of the default weights. ``extras`` are further rows (not in the paper) shown with ``--extras``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources

from .errors import InputError

DEFAULT_PAPER = "ssl_waeie"


@dataclass(frozen=True)
class PaperRow:
    """One row of a paper's table (see the module docstring)."""

    key: str
    name: str
    label: str
    method: str | None = None
    published: str | None = None
    train: str | None = None
    train_alt: str | None = None
    group: str | None = None
    latex: str | None = None
    ours: bool = False
    extra: bool = False
    paper: tuple[float | None, ...] = ()

    @property
    def method_base(self) -> str | None:
        return self.method.partition(":")[0] if self.method else None


@dataclass(frozen=True)
class PaperTable:
    """One table: number, title, dataset (registered name), expected pair count, rows."""

    number: int
    title: str
    dataset: str
    n_pairs: int
    rows: tuple[PaperRow, ...]
    extras: tuple[PaperRow, ...] = ()
    mark_by_group: bool = False

    def row(self, key: str) -> PaperRow:
        for r in (*self.rows, *self.extras):
            if r.key == key:
                return r
        raise KeyError(key)


@dataclass(frozen=True)
class Paper:
    """A paper's tables: ``columns`` (paper's metric names) and the metrics that fill them."""

    name: str
    title: str
    citation: str
    columns: tuple[str, ...]
    column_metrics: dict[str, tuple[str, ...]]
    column_latex: dict[str, str]
    higher_is_better: dict[str, bool]
    tables: dict[int, PaperTable]
    notes: tuple[str, ...] = ()
    paper_file: str | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def table(self, number: int) -> PaperTable:
        if number not in self.tables:
            raise InputError(f"paper {self.name!r} has no table {number} "
                             f"(tables: {', '.join(map(str, sorted(self.tables)))})")
        return self.tables[number]

    def default_metrics(self) -> list[str]:
        return [self.column_metrics[c][0] for c in self.columns]

    def column_of(self, metric: str) -> str | None:
        """The paper column a metric fills (``qabf`` -> ``Q_ABF``), or None."""
        for c, ms in self.column_metrics.items():
            if metric in ms:
                return c
        return None

    def resolve_columns(self, metrics: list[str] | None) -> list[tuple[str | None, str]]:
        """``[(paper column or None, metric)]`` for a table's columns.

        No metrics: the paper's columns with their default metrics. Metrics that each fill a
        different paper column swap into those columns (``['qabf']`` keeps NMI, Q_Y, IFC and
        uses ``qabf`` for Q_ABF). Otherwise the columns are exactly the metrics given, in order,
        each matched to its paper column where it has one.
        """
        if not metrics:
            return [(c, self.column_metrics[c][0]) for c in self.columns]
        cols = [self.column_of(m) for m in metrics]
        if all(cols) and len(set(cols)) == len(cols):
            chosen = dict(zip(cols, metrics))
            return [(c, chosen.get(c, self.column_metrics[c][0])) for c in self.columns]
        return list(zip(cols, metrics))


def _row(d: dict, n_cols: int, extra: bool = False) -> PaperRow:
    vals = tuple(d.get("paper", ()))
    if vals and len(vals) != n_cols:
        raise ValueError(f"row {d.get('key')}: {len(vals)} paper values for {n_cols} columns")
    return PaperRow(key=d["key"], name=d["name"], label=d.get("label", d["name"]),
                    method=d.get("method"), published=d.get("published"), train=d.get("train"),
                    train_alt=d.get("train_alt"),
                    group=d.get("group"), latex=d.get("latex"), ours=bool(d.get("ours", False)),
                    extra=extra, paper=vals)


def paper_from_dict(d: dict) -> Paper:
    """Build a :class:`Paper` from its JSON object (validated)."""
    columns = tuple(d["columns"])
    tables = {}
    for t in d["tables"]:
        rows = tuple(_row(r, len(columns)) for r in t["rows"])
        extras = tuple(_row(r, len(columns), extra=True) for r in t.get("extras", ()))
        keys = [r.key for r in (*rows, *extras)]
        if len(set(keys)) != len(keys):
            raise ValueError(f"table {t['number']}: duplicate row keys")
        tables[int(t["number"])] = PaperTable(number=int(t["number"]), title=t["title"],
                                              dataset=t["dataset"], n_pairs=int(t["n_pairs"]),
                                              rows=rows, extras=extras,
                                              mark_by_group=bool(t.get("mark_by_group", False)))
    return Paper(name=d["name"], title=d.get("title", d["name"]), citation=d.get("citation", ""),
                 columns=columns,
                 column_metrics={c: tuple(v) for c, v in d["column_metrics"].items()},
                 column_latex=dict(d.get("column_latex", {})),
                 higher_is_better={c: bool(d.get("higher_is_better", {}).get(c, True)) for c in columns},
                 tables=tables, notes=tuple(d.get("notes", ())), paper_file=d.get("paper_file"), raw=d)


def list_papers() -> list[str]:
    """Names of the packaged papers."""
    files = resources.files("fusionbench.papers")
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".json"))


def load_paper(name: str = DEFAULT_PAPER) -> Paper:
    """Load a packaged paper's tables by name (``ssl_waeie``)."""
    try:
        text = resources.files("fusionbench.papers").joinpath(f"{name}.json").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"unknown paper {name!r} (papers: {', '.join(list_papers()) or 'none'})") from None
    return paper_from_dict(json.loads(text))
