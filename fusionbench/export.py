"""Exports of stored scores for spreadsheets: ``table --format xlsx`` and summary ``--per-pair``.

Scores are read only through :func:`fusionbench.scores.read_scores` (verified records, current
metric versions; NaN kept). Conventions, as in the summary table:

* metrics: the given ones (parts such as ``ifc.ir`` when named), else every stored metric total;
* pairs: the dataset's current pairs when its data is present, else every stored pair;
* a mean skips NaN values; ``pairs`` says on how many pairs a method has values (``16/21`` when
  fewer than the dataset's pairs).

The xlsx workbook (pandas + openpyxl) has one sheet per dataset with the means (one row per
method, one column per metric, plus ``pairs`` and ``note``) and one sheet per metric with the
per-pair values (one row per dataset and pair, one column per method), as researchers build by
hand from Linfeng-Tang's MATLAB toolkit output. Sheet names are Excel-safe (``vifb:en`` ->
``vifb_en``; at most 31 characters).

:func:`colour_notes` says which methods stored colour fused images ("colour output, scored as
gray": the gray metrics saw MATLAB's rgb2gray of them; ``vifb:*`` metrics the colour).
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .store import ResultStore

COLOUR_NOTE = "colour output, scored as gray"


def _metrics_of(frame: pd.DataFrame, metrics: Sequence[str] | None) -> list[str]:
    """The given metrics, else the stored ones: ``run``'s default metrics first, then by name."""
    if metrics:
        return list(metrics)
    from .runner import default_metrics

    rank = {m: i for i, m in enumerate(default_metrics())}
    return sorted(set(frame["metric"]), key=lambda m: (rank.get(m, len(rank)), m))


def dataset_scores(store: ResultStore, dataset: str, methods: Sequence[str] | None = None,
                   metrics: Sequence[str] | None = None, pairs: Sequence[str] | None = None
                   ) -> pd.DataFrame:
    """Long frame ``method, pair, metric, value`` of one dataset (see the module docstring)."""
    from .errors import FusionbenchError
    from .scores import read_scores

    available = store.methods(dataset)
    if not available:
        raise FusionbenchError(f"no results for dataset {dataset!r} in {store.root} "
                               f"(datasets there: {', '.join(store.datasets()) or 'none'})")
    methods = list(methods) if methods else available
    unknown = [m for m in methods if m not in available]
    if unknown:
        raise FusionbenchError(f"no scores for {', '.join(unknown)} on {dataset!r} in {store.root}")
    if not metrics:
        return read_scores(store, dataset, methods, None, pairs, parts=False)
    bases = list(dict.fromkeys(m.split(".")[0] for m in metrics))
    long = read_scores(store, dataset, methods, bases, pairs, parts=True)
    return long[long["metric"].isin(list(metrics))].reset_index(drop=True)


def colour_notes(store: ResultStore, dataset: str, methods: Sequence[str] | None = None) -> dict[str, str]:
    """``{method: "colour output, scored as gray (3/21 pairs)"}`` for methods whose stored fused
    images are colour (the record's ``colour`` flag)."""
    out = {}
    for m in methods or store.methods(dataset):
        recs = store.records(dataset, m)
        n = sum(bool(r.get("colour")) for r in recs.values())
        if n:
            out[m] = f"{COLOUR_NOTE} ({n}/{len(recs)} pairs)"
    return out


def means_frame(long: pd.DataFrame, methods: Sequence[str], metrics: Sequence[str],
                n_pairs: int | None = None, notes: dict[str, str] | None = None) -> pd.DataFrame:
    """Means per method (rows) and metric (columns), with ``pairs`` (``k`` or ``k/n``) and ``note``."""
    import pandas as pd

    rows = []
    for m in methods:
        sub = long[long["method"] == m]
        row = {"method": m}
        for c in metrics:
            v = sub.loc[sub["metric"] == c, "value"]
            row[c] = float(v.mean()) if v.notna().any() else float("nan")
        k = sub["pair"].nunique()
        row["pairs"] = f"{k}/{n_pairs}" if n_pairs and k < n_pairs else str(k)
        row["note"] = (notes or {}).get(m, "")
        rows.append(row)
    return pd.DataFrame(rows, columns=["method", *metrics, "pairs", "note"]).set_index("method")


def per_pair_frame(long: pd.DataFrame, methods: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """Per-pair values: one row per (method, pair), one column per metric."""
    frame = long.pivot(index=["method", "pair"], columns="metric", values="value")
    frame = frame.reindex(columns=[c for c in metrics if c in frame.columns])
    order = {m: i for i, m in enumerate(methods)}
    idx = sorted(frame.index, key=lambda t: (order.get(t[0], len(order)), t[1]))
    return frame.reindex(idx)


def per_pair_text(store: ResultStore, dataset: str, methods: Sequence[str] | None = None,
                  metrics: Sequence[str] | None = None, fmt: str = "md",
                  pairs: Sequence[str] | None = None) -> str:
    """Summary ``--per-pair``: every stored value of ``dataset`` as csv or md (latex too)."""
    long = dataset_scores(store, dataset, methods, metrics, pairs)
    methods = list(methods) if methods else store.methods(dataset)
    cols = _metrics_of(long, metrics)
    frame = per_pair_frame(long, methods, cols)
    if fmt == "csv":
        return frame.to_csv(float_format=lambda x: repr(float(x))).rstrip("\n")
    flat = frame.reset_index()
    text = (flat.to_latex(float_format="%.4f", index=False) if fmt == "latex"
            else flat.to_markdown(floatfmt=".4f", index=False, disable_numparse=True))
    title = f"Per-pair scores on {dataset}"
    return text if fmt == "latex" else f"{title}\n\n{text}"


_BAD_SHEET = re.compile(r"[\[\]:*?/\\]")


def sheet_name(name: str, used: set[str]) -> str:
    """An Excel-safe, unique sheet name (<= 31 characters, no ``[]:*?/\\``)."""
    base = _BAD_SHEET.sub("_", name)[:31] or "sheet"
    out, i = base, 2
    while out.lower() in used:
        suffix = f"~{i}"
        out, i = base[:31 - len(suffix)] + suffix, i + 1
    used.add(out.lower())
    return out


def write_xlsx(path: os.PathLike | str, store: ResultStore, datasets: Sequence[str],
               methods: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
               pairs_of: dict[str, Sequence[str] | None] | None = None) -> list[str]:
    """Write the workbook (see the module docstring) atomically; returns its sheet names."""
    import pandas as pd

    from .imageio import atomic_write_bytes

    used: set[str] = set()
    sheets: list[tuple[str, pd.DataFrame]] = []
    per_metric: dict[str, list[pd.DataFrame]] = {}
    for d in datasets:
        pairs = (pairs_of or {}).get(d)
        ms = list(methods) if methods else store.methods(d)
        long = dataset_scores(store, d, ms, metrics, pairs)
        cols = _metrics_of(long, metrics)
        sheets.append((sheet_name(d, used), means_frame(long, ms, cols, len(pairs) if pairs else None,
                                                         colour_notes(store, d, ms))))
        for c in cols:
            sub = long[long["metric"] == c]
            wide = sub.pivot(index="pair", columns="method", values="value").reindex(
                columns=[m for m in ms if m in set(sub["method"])])
            if pairs:
                wide = wide.reindex([p for p in pairs if p in wide.index])
            wide.insert(0, "dataset", d)
            per_metric.setdefault(c, []).append(wide)
    for c, frames in per_metric.items():
        sheets.append((sheet_name(c, used), pd.concat(frames)))
    import io

    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, frame in sheets:
            frame.to_excel(xw, sheet_name=name)
    atomic_write_bytes(path, buf.getvalue())
    return [n for n, _ in sheets]


def user_methods(store: ResultStore, dataset: str) -> list[str]:
    """Methods in the store made from the user's own folders (``folder:<name>``)."""
    return [m for m in store.methods(dataset) if m.startswith("folder:")]


def with_user_rows(paper, store: ResultStore, number: int, dataset: str | None = None):
    """``paper`` with table ``number``'s extra rows extended by every ``folder:<name>`` method the
    store holds on the table's dataset (so ``--extras`` shows your own results beside the paper's)."""
    import dataclasses

    from .paper import PaperRow

    table = paper.table(number)
    known = {r.method for r in (*table.rows, *table.extras)}
    rows = tuple(PaperRow(key=m, name=m, label=m, method=m, extra=True)
                 for m in user_methods(store, dataset or table.dataset) if m not in known)
    if not rows:
        return paper
    tables = dict(paper.tables)
    tables[number] = dataclasses.replace(table, extras=tuple(table.extras) + rows)
    return dataclasses.replace(paper, tables=tables)
