"""The one reader of stored scores: tables, ``check``, statistics, reports and the API use it.

Scores are read from the per-pair *records* (``<store>/<dataset>/<method>/records/<pair>.json``),
never from the hand-editable ``scores.csv`` (which is a convenience export rebuilt from the
records). A value is used only when

* its record is intact (valid JSON of the expected shape, its PNG's SHA-256 matches), and
* it was computed with the metric's current ``version`` (when the metric is registered).

A metric that *returned* NaN is kept as NaN (so it can be counted and reported); a metric that was
never computed for a pair is absent. Long format: one row per (method, pair, metric) value.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .store import ResultStore

COLUMNS = ("method", "pair", "metric", "value")


def _current_version(metric: str) -> str | None:
    """The registered version of ``metric`` (or of the metric a part ``m.ir`` belongs to)."""
    from .registry import METRICS, _lookup

    return METRICS[metric].version if _lookup("metrics", metric) else None  # imports just its module


def record_values(rec: dict[str, Any], metrics: Iterable[str] | None = None, *,
                  parts: bool = True) -> dict[str, float]:
    """``{metric (or part): value}`` of one record, version-aware; NaN kept as NaN.

    ``metrics`` restricts to those metrics (their parts included when ``parts``).
    """
    scores = rec.get("scores")
    if not isinstance(scores, dict):
        return {}
    wanted = None if metrics is None else set(metrics)
    out: dict[str, float] = {}
    for m, s in scores.items():
        if wanted is not None and m not in wanted:
            continue
        if not isinstance(s, dict) or not isinstance(s.get("values"), dict):
            continue
        cur = _current_version(m)
        if cur is not None and s.get("version") != cur:
            continue  # computed by an older implementation: stale, not shown
        for k, v in s["values"].items():
            if not parts and k != m:
                continue
            if v is None:
                v = math.nan
            try:
                out[k] = float(v)
            except (TypeError, ValueError):
                continue
    return out


def read_values(store: ResultStore, dataset: str, method: str, metrics: Sequence[str] | None = None,
                pairs: Sequence[str] | None = None, *, parts: bool = True
                ) -> dict[str, dict[str, float]]:
    """``{pair: {metric: value}}`` for one method (verified records, current versions only).

    ``pairs`` restricts and orders the pairs; a pair without a record is absent.
    """
    recs = store.records(dataset, method)
    names = [p for p in pairs if p in recs] if pairs is not None else sorted(recs)
    return {p: record_values(recs[p], metrics, parts=parts) for p in names}


def read_scores(store: ResultStore, dataset: str, methods: Sequence[str] | None = None,
                metrics: Sequence[str] | None = None, pairs: Sequence[str] | None = None, *,
                parts: bool = True) -> pd.DataFrame:
    """Long DataFrame ``method, pair, metric, value`` of every stored value of ``dataset``.

    ``methods`` defaults to every method with results there. Values that returned NaN are rows
    with ``value`` NaN; values never computed are absent.
    """
    import pandas as pd

    methods = list(methods) if methods is not None else store.methods(dataset)
    rows: list[tuple[str, str, str, float]] = []
    for m in methods:
        for p, vals in read_values(store, dataset, m, metrics, pairs, parts=parts).items():
            rows.extend((m, p, k, v) for k, v in vals.items())
    return pd.DataFrame(rows, columns=list(COLUMNS)).astype({"pair": str})


def wide(frame: pd.DataFrame, method: str) -> pd.DataFrame:
    """One method's values as a pair x metric table (NaN where absent or NaN)."""
    sub = frame[frame["method"] == method]
    return sub.pivot_table(index="pair", columns="metric", values="value", aggfunc="first",
                           dropna=False)


def method_frame(store: ResultStore, dataset: str, method: str, metrics: Sequence[str] | None = None,
                 pairs: Sequence[str] | None = None) -> pd.DataFrame:
    """One method's values as a DataFrame indexed by pair, one column per metric and part."""
    import pandas as pd

    vals = read_values(store, dataset, method, metrics, pairs)
    df = pd.DataFrame.from_dict(vals, orient="index", dtype=float)
    df.index = df.index.astype(str)
    df.index.name = "pair"
    return df
