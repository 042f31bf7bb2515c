"""Regression checks of metric values against a committed baseline.

Baseline CSV columns: ``dataset,method,pair,metric,value`` and optional ``rtol,atol`` per row
(``pair`` = ``mean`` for a dataset mean; ``metric`` may be a part such as ``ifc.ir``). A row
passes when ``|current - value| <= atol + rtol * |value|`` (row tolerances, else the command's,
else ``rtol=1e-7, atol=1e-12``).

By default the scores are recomputed in a fresh temporary store, so a change in any metric or
method shows up even where a store would have cached it; ``results=`` reads and extends an
existing store instead. Rows whose dataset is absent (no data root), or whose method's weights
file is absent (no weights root), are reported as skipped; ``--strict`` makes skips fail.
"""
from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .data import dataset_location, load_dataset
from .scores import method_frame
from .errors import FusionbenchError, InputError, MissingWeightsError
from .imageio import atomic_write_text
from .registry import DATASETS, METRICS, discover
from .runner import run
from .store import ResultStore, fmt_float

DEFAULT_RTOL = 1e-7
DEFAULT_ATOL = 1e-12
COLUMNS = ["dataset", "method", "pair", "metric", "value"]


def base_metric(column: str) -> str:
    """The registered metric behind a score column (``ifc.ir`` -> ``ifc``)."""
    return column if column in METRICS else column.rsplit(".", 1)[0]


def read_baseline(path: Path | str) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: baseline file not found")
    try:
        df = pd.read_csv(p, dtype={"dataset": str, "method": str, "pair": str, "metric": str})
    except Exception as exc:  # noqa: BLE001 - pandas raises many kinds
        raise InputError(f"{p}: unreadable baseline CSV ({exc})") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"{p}: baseline lacks column(s) {', '.join(missing)} (needs {','.join(COLUMNS)})")
    for c in ("rtol", "atol"):
        if c not in df.columns:
            df[c] = float("nan")
    for c in ("value", "rtol", "atol"):  # text in a number column: name the line, never a TypeError later
        num = pd.to_numeric(df[c], errors="coerce")
        bad = num.isna() & df[c].notna() & ~df[c].astype(str).str.strip().str.lower().isin(["", "nan"])
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise InputError(f"{p}: line {i + 2}: column {c!r} holds {str(df[c].iloc[i])!r}, not a number"
                             + (f" ({int(bad.sum())} such rows)" if bad.sum() > 1 else ""))
        df[c] = num.astype(float)
    return df


@dataclass
class CheckResult:
    rows: pd.DataFrame  # baseline rows + current, abs_diff, rel_diff, status
    skipped_reasons: list[str] = field(default_factory=list)

    @property
    def failed(self) -> pd.DataFrame:
        return self.rows[~self.rows.status.isin(["ok", "skipped"])]

    def summary(self) -> str:
        n = len(self.rows)
        counts = self.rows.status.value_counts().to_dict()
        return (f"{n} baseline values: {counts.get('ok', 0)} ok, {len(self.failed)} failed, "
                f"{counts.get('skipped', 0)} skipped")

    def diff_table(self) -> str:
        from tabulate import tabulate

        bad = self.failed
        if bad.empty:
            return ""
        rows = [[r.dataset, r.method, r.pair, r.metric, fmt_float(r.value),
                 "" if r.current is None or (isinstance(r.current, float) and math.isnan(r.current)) else fmt_float(r.current),
                 "" if math.isnan(r.rel_diff) else f"{r.rel_diff:.3g}", r.status] for r in bad.itertuples()]
        return tabulate(rows, headers=["dataset", "method", "pair", "metric", "baseline", "current",
                                       "rel diff", "status"], tablefmt="simple", disable_numparse=True)


def _current_values(df: pd.DataFrame, store: ResultStore, root, jobs: int,
                    log: Callable[[str], None]) -> tuple[dict, dict]:
    """Recompute (or read) every (dataset, method) group; returns values and per-group errors."""
    values: dict[tuple[str, str, str, str], float] = {}
    errors: dict[tuple[str, str], str] = {}
    for (dataset, method), g in df.groupby(["dataset", "method"], sort=False):
        spec = DATASETS.get(dataset)
        if spec is not None and not dataset_location(spec, root)[1]:
            errors[(dataset, method)] = "skipped"
            continue
        unknown = sorted({m for m in g.metric if base_metric(m) not in METRICS})
        for m in unknown:  # only these rows are errors; the group's other metrics are still checked
            errors[(dataset, method, m)] = f"error: unknown metric {m!r}"
        metrics = sorted({base_metric(m) for m in g.metric if m not in unknown})
        if not metrics:
            continue
        wanted = sorted(set(g.pair) - {"mean"})
        try:
            need_all = (g.pair == "mean").any()
            all_pairs = list(load_dataset(dataset, root=root).pairs)
            (summary,) = run(method, dataset, metrics=metrics, results=store.root, root=root, jobs=jobs,
                             progress=False, pairs=None if need_all else wanted, log=log)
            scores = method_frame(store, summary.dataset, summary.store_name)
        except MissingWeightsError as exc:
            log(f"skipped {method} on {dataset}: {exc}")
            errors[(dataset, method)] = "skipped"
            continue
        except FusionbenchError as exc:
            errors[(dataset, method)] = f"error: {exc}".splitlines()[0]
            continue
        names = [p.name for p in all_pairs]
        for row in g.itertuples():
            if row.metric not in scores.columns:
                continue
            if row.pair == "mean":  # NaN values are skipped, as in the tables; every pair must exist
                if set(names) <= set(scores.index):
                    values[(dataset, method, "mean", row.metric)] = float(scores[row.metric].reindex(names).mean())
            elif row.pair in scores.index:
                values[(dataset, method, row.pair, row.metric)] = float(scores.at[row.pair, row.metric])
    return values, errors


def check(baseline: Path | str, *, rtol: float | None = None, atol: float | None = None,
          results: Path | str | None = None, root=None, jobs: int = 1,
          log: Callable[[str], None] = lambda m: None) -> CheckResult:
    """Compare current scores with the baseline file; see the module docstring."""
    discover()
    df = read_baseline(baseline)
    with tempfile.TemporaryDirectory(prefix="fusionbench-check-") as tmp:
        store = ResultStore(results or tmp)
        values, errors = _current_values(df, store, root, jobs, log)
    cur, absd, reld, status = [], [], [], []
    for row in df.itertuples():
        key = (row.dataset, row.method, row.pair, row.metric)
        err = errors.get((row.dataset, row.method, row.metric)) or errors.get((row.dataset, row.method))
        r_tol = row.rtol if not pd.isna(row.rtol) else (rtol if rtol is not None else DEFAULT_RTOL)
        a_tol = row.atol if not pd.isna(row.atol) else (atol if atol is not None else DEFAULT_ATOL)
        if err:
            cur.append(float("nan")); absd.append(float("nan")); reld.append(float("nan"))
            status.append(err)
            continue
        if key not in values:
            cur.append(float("nan")); absd.append(float("nan")); reld.append(float("nan"))
            status.append("missing: could not be computed")
            continue
        v = values[key]
        d = abs(v - row.value)
        cur.append(v); absd.append(d); reld.append(d / abs(row.value) if row.value else d)
        ok = d <= a_tol + r_tol * abs(row.value) or (math.isnan(v) and math.isnan(row.value))
        status.append("ok" if ok else "MOVED")
    out = df.copy()
    out["current"], out["abs_diff"], out["rel_diff"], out["status"] = cur, absd, reld, status
    return CheckResult(out)


def write_baseline(path: Path | str, df: pd.DataFrame) -> None:
    """Write a baseline CSV atomically (values as exact shortest floats)."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")  # names with commas or quotes are quoted
    w.writerow(COLUMNS + ["rtol", "atol"])
    for r in df.itertuples():
        tol = ["" if pd.isna(r.rtol) else repr(float(r.rtol)), "" if pd.isna(r.atol) else repr(float(r.atol))]
        w.writerow([r.dataset, r.method, r.pair, r.metric, fmt_float(r.value), *tol])
    atomic_write_text(path, buf.getvalue())


def update(baseline: Path | str, result: CheckResult) -> pd.DataFrame:
    """Replace baseline values by current ones; returns the rows that changed (or could not be computed)."""
    rows = result.rows
    computed = rows.status.isin(["ok", "MOVED"])
    changed = rows[rows.status == "MOVED"]
    new = rows.copy()
    new.loc[computed, "value"] = new.loc[computed, "current"]
    write_baseline(baseline, new)
    return changed


def generate(datasets: Sequence[str], methods: Sequence[str], metrics: Sequence[str] | None, *,
             pairs: dict[str, list[str]] | None = None, tolerances: dict[str, tuple[float, float]] | None = None,
             root=None, jobs: int = 1, log: Callable[[str], None] = lambda m: None) -> pd.DataFrame:
    """Build baseline rows (per pair and ``mean``) by computing every method x metric.

    ``pairs`` restricts a dataset to named pairs (then no ``mean`` row is written for it);
    ``tolerances`` maps a method name to ``(rtol, atol)`` written on its rows.
    """
    discover()
    metrics = list(metrics) if metrics else sorted(METRICS)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fusionbench-baseline-") as tmp:
        for d in datasets:
            spec = DATASETS.get(d)
            if spec is not None and not dataset_location(spec, root)[1]:
                log(f"skipped dataset {d}: not present under the data root")
                continue
            subset = (pairs or {}).get(d)
            for m in methods:
                (s,) = run(m, d, metrics=metrics, results=tmp, root=root, jobs=jobs, progress=False,
                           pairs=subset, log=log)
                scores = method_frame(ResultStore(tmp), s.dataset, s.store_name)
                rt, at = (tolerances or {}).get(m, (float("nan"), float("nan")))
                for col in scores.columns:
                    for pair, v in scores[col].items():
                        rows.append((d, m, pair, col, float(v), rt, at))
                    if subset is None:
                        rows.append((d, m, "mean", col, float(scores[col].mean()), rt, at))
    return pd.DataFrame(rows, columns=COLUMNS + ["rtol", "atol"])


def package_methods() -> list[str]:
    """Every deterministic method of the package (not test doubles, not ``published:``)."""
    from .registry import METHODS, ORIGIN

    discover()
    return [n for n, sp in sorted(METHODS.items())
            if sp.deterministic and not sp.any_variant and ORIGIN["methods"].get(n, "").startswith("fusionbench.methods.")]


def missing_coverage(baseline: Path | str) -> tuple[list[str], list[str]]:
    """(methods, metrics) registered in the package but without rows in the baseline."""
    from .registry import ORIGIN

    discover()
    df = read_baseline(baseline)
    have_metrics = {base_metric(m) for m in df.metric}
    metrics = [m for m in sorted(METRICS) if m not in have_metrics
               and ORIGIN["metrics"].get(m, "").startswith("fusionbench.metrics.")]
    have_methods = {m.split(":")[0] for m in df.method}
    return [m for m in package_methods() if m not in have_methods], metrics


def add_missing(baseline: Path | str, *, root=None, jobs: int = 1,
                tolerances: dict[str, tuple[float, float]] | None = None,
                log: Callable[[str], None] = lambda m: None) -> pd.DataFrame:
    """Append rows for registered methods and metrics that the baseline lacks; returns them.

    New methods get every metric of the baseline (and the new ones), existing methods get the
    new metrics; each on the baseline's own datasets and pairs (a dataset with ``mean`` rows:
    every pair; else the pairs it lists). Existing rows are kept as they are.
    """
    df = read_baseline(baseline)
    new_methods, new_metrics = missing_coverage(baseline)
    if not new_methods and not new_metrics:
        return df.iloc[0:0]
    all_metrics = sorted({base_metric(m) for m in df.metric} | set(new_metrics))
    parts = []
    for d, g in df.groupby("dataset", sort=False):
        subset = None if (g.pair == "mean").any() else sorted(set(g.pair))
        pairs = {d: subset} if subset else None
        methods_here = list(dict.fromkeys(g.method))
        jobs_todo = [(m, all_metrics) for m in new_methods]
        if new_metrics:
            jobs_todo += [(m, new_metrics) for m in methods_here]
        for m, metrics in jobs_todo:
            tol = (tolerances or {}).get(m)
            if tol is None and m in methods_here:
                rt = g[g.method == m].rtol.dropna()
                tol = (float(rt.iloc[0]), float("nan")) if len(rt) else None
            try:
                parts.append(generate([d], [m], metrics, pairs=pairs, tolerances={m: tol} if tol else None,
                                      root=root, jobs=jobs, log=log))
            except FusionbenchError as exc:
                log(f"skipped {m} on {d}: {exc}")
    new = pd.concat(parts, ignore_index=True) if parts else df.iloc[0:0]
    write_baseline(baseline, pd.concat([df, new], ignore_index=True))
    return new
