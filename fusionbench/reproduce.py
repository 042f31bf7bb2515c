"""``fusionbench reproduce``: plan and run everything a paper's tables need, then write them.

Planning (:func:`plan`) turns each row of the requested tables into tasks:

* ``fuse``: run ``row.method`` on the table's dataset when it is registered, and
  ``published:<row.published>`` when that folder of published images exists under the data
  root (both when both exist: the table then uses ours and cross-checks with the published);
* ``train``: rows with ``train`` (Tables 3-4) first train that variant with the method's
  registered trainer into ``<results>/trained/<method>/<variant>.pt`` (an existing file is
  reused), then fuse with ``weights=`` that file.

A row with neither stays ``n/a`` in the table. Each fuse task counts the pairs whose record in
the store is missing or stale (cache key or metric version), so the plan says exactly what is
left; execution (:func:`execute`) runs the tasks in order through :func:`fusionbench.runner.run`
(resumable per pair) under one progress bar with an estimate of the remaining time, then writes
``<results>/tables/table<N>.{md,csv,json}`` (with the paper's values beside ours), and
``table<N>_extras.md`` with the extra rows below the paper's.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import FusionbenchError, InputError, UnknownNameError
from .paper import Paper, PaperRow, load_paper
from .registry import get_metric, parse_method
from .store import ResultStore

TRAINED_DIR = "trained"
TABLES_DIR = "tables"


@dataclass
class Task:
    """One unit of work: ``train`` a variant, or ``fuse`` a dataset with one method."""

    kind: str                      # "train" | "fuse"
    dataset: str
    method: str                    # name[:variant] as given to the runner
    params: dict[str, Any] = field(default_factory=dict)
    rows: list[str] = field(default_factory=list)   # "T1:didfuse", ...
    total: int = 0                 # pairs in the dataset (fuse)
    todo: int = 0                  # pairs to fuse or (re)score (fuse)
    variant: str | None = None     # train
    weights: Path | None = None    # train: output file
    done: bool = False             # train: the weights file exists already
    seconds: float | None = None   # estimated CPU time left (see estimate_seconds)
    basis: str = ""                # where the estimate comes from: "store", "cost table"

    def _eta(self) -> str:
        if not self.seconds:
            return ""
        return f" [~{format_seconds(self.seconds)}, {self.basis}]"

    def describe(self) -> str:
        if self.kind == "train":
            state = "exists, reused" if self.done else "to train"
            return f"train {self.method} -> {self.weights} ({state})" + self._eta()
        extra = f" weights={Path(self.params['weights']).name}" if "weights" in self.params else ""
        return (f"fuse {self.dataset} with {self.method}{extra}: {self.todo} of {self.total} pairs "
                f"to compute" + (" (all reused)" if self.todo == 0 else "") + self._eta())


def format_seconds(s: float) -> str:
    """``42 s``, ``3.5 min``, ``2.1 h``."""
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def method_costs() -> dict[str, Any]:
    """The shipped cost table (``fusionbench/method_costs.json``: CPU s per 640x480 image)."""
    import json

    return json.loads((Path(__file__).with_name("method_costs.json")).read_text())


def estimate_seconds(task: Task, metrics: Sequence[str], megapixels: float | None,
                     recorded: Sequence[float] = (), costs: dict[str, Any] | None = None
                     ) -> tuple[float, str]:
    """Estimated seconds left for a task, and its basis.

    Fuse: ``todo`` pairs x (fusion + metrics). Fusion time per pair is the mean of the store's
    recorded ``fuse_seconds`` for that method on that dataset when there are any ("store"),
    else the cost table's figure scaled by the dataset's mean image size ("cost table"); metric
    times always come from the cost table. Train: the table's seconds per variant (0 when done).
    """
    costs = costs or method_costs()
    if task.kind == "train":
        if task.done:
            return 0.0, "reused"
        base = task.method.partition(":")[0]
        return float(costs["train"].get(base, costs["default_train"])), "cost table"
    if task.todo == 0:
        return 0.0, "reused"
    scale = (megapixels or costs["reference_megapixels"]) / costs["reference_megapixels"]
    table = costs["methods"]
    base = task.method.partition(":")[0]
    metric_s = sum(costs["metrics"].get(m, costs["default_metric"]) for m in metrics) * scale
    if recorded:
        return task.todo * (sum(recorded) / len(recorded) + metric_s), "store"
    fuse_s = table.get(task.method, table.get(base, costs["default_method"])) * scale
    return task.todo * (fuse_s + metric_s), "cost table"


@dataclass
class Plan:
    paper: Paper
    tables: list[int]
    metrics: list[str]
    tasks: list[Task]
    unavailable: list[str]          # "T1 FusionGAN: ..." rows with no source
    results: Path
    data_root: Path

    @property
    def pairs_todo(self) -> int:
        return sum(t.todo for t in self.tasks if t.kind == "fuse")

    @property
    def seconds(self) -> float:
        """Estimated time left for the whole plan (sum over tasks)."""
        return sum(t.seconds or 0.0 for t in self.tasks)

    @property
    def trainings_todo(self) -> int:
        return sum(1 for t in self.tasks if t.kind == "train" and not t.done)

    def text(self) -> str:
        lines = [f"plan for Tables {', '.join(map(str, self.tables))} of {self.paper.name} "
                 f"(metrics {', '.join(self.metrics)}; results {self.results}):"]
        for i, t in enumerate(self.tasks, 1):
            lines.append(f"  [{i}/{len(self.tasks)}] {t.describe()}")
        for u in self.unavailable:
            lines.append(f"  n/a: {u}")
        lines.append(f"  total: {self.trainings_todo} trainings, {self.pairs_todo} pairs to compute; "
                     f"estimated time ~{format_seconds(self.seconds)} on one core (store's fuse_seconds "
                     "where recorded, else the shipped per-method cost table)")
        return "\n".join(lines)


def trained_path(results: Path, method: str, variant: str) -> Path:
    """Where ``reproduce`` keeps a trained variant: ``<results>/trained/<method>/<variant>.pt``."""
    return Path(results) / TRAINED_DIR / method / f"{variant}.pt"


def _registered(method: str) -> bool:
    try:
        parse_method(method)
        return True
    except UnknownNameError:
        return False


def _is_metric(name: str) -> bool:
    try:
        get_metric(name)
        return True
    except UnknownNameError:
        return False


def _published_dir(data_root: Path, dataset: str, folder: str) -> Path:
    """``<data root>/results/<dataset>/<folder>``: ``dataset`` is the registered name (not a label)."""
    return data_root / "results" / dataset / folder


def _pair_done(store: ResultStore, label: str, call, pair, metrics: Sequence[str],
               published_dir: Path | None = None) -> bool:
    """True when the store has a valid result of ``pair`` with every metric (``store.status``)."""
    if published_dir is not None and not any(published_dir.glob(f"{pair.name}.*")):
        return True  # nothing to fuse: the runner reports it as missing, at no cost
    return store.status(label, call, pair, metrics).done


def plan(tables: Sequence[int] = (1, 2, 3, 4), *, paper: Paper | str = "ssl_waeie",
         results: os.PathLike | str | None = None, data_root: os.PathLike | str | None = None,
         metrics: Sequence[str] | None = None, extras: bool = True, count: bool = True,
         train_ours: bool = False) -> Plan:
    """Plan the work for ``tables`` (see the module docstring); nothing is computed.

    ``metrics``: metrics to score (default: the paper's columns' default metrics, those that are
    registered); ``extras``: also run the tables' extra rows; ``count``: count the pairs left
    per fuse task (reads every image once); ``train_ours``: rows of the paper's own method train
    their ``train_alt`` variant and use it instead of the default weights.
    """
    from .data import data_root as _data_root
    from .data import load_dataset, validate_pairs

    paper = load_paper(paper) if isinstance(paper, str) else paper
    store_root = ResultStore(results).root
    root = _data_root(data_root)
    if metrics:
        metric_names = [get_metric(m).name for m in metrics]
    else:
        metric_names = [m for m in paper.default_metrics() if _is_metric(m)]
        if not metric_names:
            raise InputError(f"none of the paper's metrics ({', '.join(paper.default_metrics())}) is "
                             "registered; pass --metrics")
    tasks: dict[tuple, Task] = {}
    unavailable: list[str] = []
    refs: dict[str, Any] = {}

    def ref_of(dataset: str):
        if dataset not in refs:
            ref = load_dataset(dataset, root=root)
            validate_pairs(list(ref.pairs), f"dataset {ref.label}")
            refs[dataset] = ref
        return refs[dataset]

    def add(kind: str, dataset: str, method: str, tag: str, **kw) -> Task:
        key = (kind, dataset, method, tuple(sorted((k, str(v)) for k, v in kw.get("params", {}).items())))
        if key not in tasks:
            tasks[key] = Task(kind=kind, dataset=dataset, method=method, **kw)
        tasks[key].rows.append(tag)
        return tasks[key]

    # the paper's rows of every table first, the extra rows last (they can be cut short)
    todo_rows: list[tuple[int, PaperRow]] = [(n, r) for n in tables for r in paper.table(n).rows]
    if extras:
        todo_rows += [(n, r) for n in tables for r in paper.table(n).extras]
    for n, row in todo_rows:
        table = paper.table(n)
        tag = f"T{n}:{row.key}"
        sources = []
        train = row.train or (row.train_alt if train_ours and row.ours else None)
        if train and row.method:
            base = row.method_base
            method = row.method if row.train else f"{base}:{train}"
            spec = parse_method(base).spec if _registered(base) else None
            if spec is None or not _registered(method):
                unavailable.append(f"Table {n} {row.name}: method {method} not registered")
            elif spec.trainer is None:
                unavailable.append(f"Table {n} {row.name}: method {base} has no trainer")
            else:
                w = trained_path(store_root, base, train)
                add("train", table.dataset, method, tag, variant=train, weights=w, done=w.is_file())
                add("fuse", table.dataset, method, tag, params={"weights": str(w)})
                sources.append("ours")
        elif row.method and _registered(row.method):
            add("fuse", table.dataset, row.method, tag)
            sources.append("ours")
        if row.published and _published_dir(root, table.dataset, row.published).is_dir():
            add("fuse", table.dataset, f"published:{row.published}", tag)
            sources.append("published")
        if not sources and not row.extra:
            why = []
            if row.method:
                why.append(f"method {row.method} not registered")
            if row.published:
                why.append(f"no folder {_published_dir(root, table.dataset, row.published)}")
            else:
                why.append(f"no published images on {table.dataset}")
            unavailable.append(f"Table {n} {row.name}: {'; '.join(why)}")

    store = ResultStore(store_root)
    out = list(tasks.values())
    costs = method_costs()
    for t in out:
        if t.kind == "train":
            t.seconds, t.basis = estimate_seconds(t, metric_names, None, costs=costs)
    for t in out:
        if t.kind != "fuse":
            continue
        ref = ref_of(t.dataset)
        label, pairs = ref.label, ref.pairs
        t.total = len(pairs)
        if not count:
            t.todo = t.total
            continue
        w = t.params.get("weights")
        if w and not Path(w).is_file():
            t.todo = t.total  # weights not trained yet: every pair is new
            continue
        call = parse_method(t.method, **t.params)
        pub = (_published_dir(root, t.dataset, call.params["variant"])
               if call.spec.any_variant and call.params.get("variant") else None)
        try:
            t.todo = sum(not _pair_done(store, label, call, p, metric_names, pub) for p in pairs)
        except FusionbenchError:
            t.todo = t.total  # e.g. the method's weights are missing: the run will report it
    for t in out:
        if t.kind == "fuse":
            ref = ref_of(t.dataset)
            label, pairs = ref.label, list(ref.pairs)
            t.seconds, t.basis = _fuse_estimate(t, store, label, pairs, metric_names, costs)
    return Plan(paper=paper, tables=list(tables), metrics=metric_names, tasks=out,
                unavailable=unavailable, results=store_root, data_root=root)


def _fuse_estimate(t: Task, store: ResultStore, label: str, pairs: list, metrics: Sequence[str],
                   costs: dict[str, Any]) -> tuple[float, str]:
    """:func:`estimate_seconds` for a counted fuse task (mean image size of the dataset's pairs)."""
    import numpy as np

    mp = float(np.mean([p.ir_raw().shape[0] * p.ir_raw().shape[1] for p in pairs])) / 1e6
    try:
        full = parse_method(t.method, **t.params).full_name
    except FusionbenchError:
        full = t.method
    recorded = [float(r["fuse_seconds"]) for r in store.records(label, full).values()
                if isinstance(r.get("fuse_seconds"), (int, float))]
    return estimate_seconds(t, metrics, mp, recorded, costs)


@dataclass
class ReproduceReport:
    plan: Plan
    summaries: list = field(default_factory=list)     # runner MethodSummary objects
    trainings: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    tables_written: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def write_tables(plan_: Plan, store: ResultStore, log: Callable[[str], None] | None = None) -> list[Path]:
    """Write ``<results>/tables/table<N>.{md,csv,json}`` (paper values beside ours)."""
    from .commands.table import table_pairs
    from .imageio import atomic_write_text
    from .tables import build_paper_table

    out = []
    folder = Path(store.root) / TABLES_DIR
    for n in plan_.tables:
        t = plan_.paper.table(n)
        pairs = table_pairs(t.dataset, plan_.data_root)
        res = build_paper_table(store, plan_.paper, n, pairs=pairs, compare=True,
                                metrics=[m for m in plan_.metrics if plan_.paper.column_of(m)] or None)
        for fmt, ext in (("md", "md"), ("csv", "csv"), ("json", "json")):
            p = folder / f"table{n}.{ext}"
            text = res.render(fmt)
            atomic_write_text(p, text if text.endswith("\n") else text + "\n")
            out.append(p)
        from .export import with_user_rows

        paper_x = with_user_rows(plan_.paper, store, n)   # folder:<name> results as extra rows
        if paper_x.table(n).extras:
            ext = build_paper_table(store, paper_x, n, pairs=pairs, compare=True, extras=True,
                                    metrics=[m for m in plan_.metrics if plan_.paper.column_of(m)] or None)
            p = folder / f"table{n}_extras.md"
            atomic_write_text(p, ext.render("md") + "\n")
            out.append(p)
        if log:
            log(f"wrote {folder}/table{n}.{{md,csv,json}}" + (f" and table{n}_extras.md" if paper_x.table(n).extras
                                                               else ""))
    return out


def execute(plan_: Plan, *, jobs: int = 1, progress: bool | None = None, epochs: float | None = None,
            max_steps: int | None = None, seed: int = 0, retrain: bool = False,
            log: Callable[[str], None] | None = None, write: bool = True,
            weights_root: os.PathLike | str | None = None, executor="local",
            scheduler: str | None = None, ship_inputs: bool = False) -> ReproduceReport:
    """Run a plan's tasks in order (resumable), then write the tables.

    ``executor``/``scheduler``/``ship_inputs``: see :func:`fusionbench.runner.run` (a Dask
    cluster is started once for all tasks).

    Training uses the method's registered ``trainer`` (``epochs``/``max_steps`` budget; None =
    the recipe's defaults); an existing weights file is reused unless ``retrain`` (then the
    trainer is called with ``resume=True``, which itself returns a file trained with the same
    settings untouched). One progress bar counts the pairs left, with an ETA. A task that fails
    is reported and the others go on.
    """
    from tqdm import tqdm

    from .executor import Executor, make_executor
    from .runner import run

    log = log or (lambda msg: print(msg, file=sys.stderr))
    ex = executor if isinstance(executor, Executor) or executor == "local" else \
        make_executor(executor, jobs=jobs, scheduler=scheduler, log=log)
    show = progress if progress is not None else sys.stderr.isatty()
    report = ReproduceReport(plan=plan_)
    t0 = time.perf_counter()
    bar = tqdm(total=plan_.pairs_todo, desc="reproduce", unit="pair", disable=not show, file=sys.stderr,
               dynamic_ncols=True)
    n_tasks = len(plan_.tasks)
    done_pairs = 0

    def runner_log(msg: str) -> None:
        # a published folder covering only some pairs: the runner's summary line counts them
        if not msg.startswith("missing: "):
            log(msg)

    try:
        for i, t in enumerate(plan_.tasks, 1):
            head = f"[{i}/{n_tasks}]"
            if t.kind == "train":
                if t.weights is not None and t.weights.is_file() and not retrain:
                    log(f"{head} reuse trained weights {t.weights}")
                    continue
                log(f"{head} train {t.method} -> {t.weights}")
                spec = parse_method(t.method).spec
                try:
                    res = spec.trainer(variant=t.variant, mu=None, epochs=epochs, max_steps=max_steps,
                                       seed=seed, out=t.weights, data_root=plan_.data_root,
                                       progress=show, resume=True)
                    report.trainings.append(dict(res))
                    secs = res.get("seconds") if isinstance(res, dict) else None
                    log(f"{head} trained {t.method}" + (f" in {secs:.0f} s" if secs else ""))
                except (FusionbenchError, OSError) as exc:  # expected: keep the other tasks going
                    report.failures.append(f"train {t.method}: {exc}")
                    log(f"{head} FAILED training {t.method}: {exc}")
                continue
            if "weights" in t.params and not Path(t.params["weights"]).is_file():
                report.failures.append(f"fuse {t.method}: weights {t.params['weights']} missing")
                log(f"{head} skip {t.method}: no weights {t.params['weights']}")
                bar.update(t.todo)
                done_pairs += t.todo
                continue
            log(f"{head} {t.describe()}")
            advanced = 0

            def on_pair(out) -> None:  # the bar moves per pair that needed work
                nonlocal advanced
                if (out.status != "reused" or out.metrics_computed) and advanced < t.todo:
                    advanced += 1
                    bar.update(1)

            try:
                summaries = run([t.method], t.dataset, metrics=plan_.metrics, results=plan_.results,
                                root=plan_.data_root, jobs=jobs, progress=False,
                                method_params=t.params or None, log=runner_log, on_pair=on_pair,
                                weights_root=weights_root, executor=ex, ship_inputs=ship_inputs)
                report.summaries += summaries
                for s in summaries:
                    if s.count("failed"):
                        report.failures.append(f"fuse {s.method} on {s.dataset}: {s.count('failed')} pairs failed")
            except (FusionbenchError, OSError) as exc:  # expected; a programming error aborts
                report.failures.append(f"fuse {t.method} on {t.dataset}: {exc}")
                log(f"{head} FAILED {t.method} on {t.dataset}: {exc}")
            bar.update(t.todo - advanced)
            done_pairs += t.todo
            if not show and t.todo:
                el = time.perf_counter() - t0
                left = plan_.pairs_todo - done_pairs
                eta = f"about {el / done_pairs * left / 60:.1f} min left" if left else "fusion done"
                log(f"{head} progress {done_pairs}/{plan_.pairs_todo} pairs, {el / 60:.1f} min elapsed, {eta}")
    finally:
        bar.close()
        if ex is not executor:
            ex.close()
    if write:
        report.tables_written = write_tables(plan_, ResultStore(plan_.results), log)
    report.seconds = time.perf_counter() - t0
    return report


def reproduce(tables: Sequence[int] = (1, 2, 3, 4), *, paper: Paper | str = "ssl_waeie",
              results: os.PathLike | str | None = None, data_root: os.PathLike | str | None = None,
              jobs: int = 1, metrics: Sequence[str] | None = None, extras: bool = True,
              progress: bool | None = None, epochs: float | None = None, max_steps: int | None = None,
              seed: int = 0, retrain: bool = False, train_ours: bool = False,
              log: Callable[[str], None] | None = None,
              weights_root: os.PathLike | str | None = None) -> ReproduceReport:
    """Plan and run everything ``tables`` need, then write them (see the module docstring)."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    p = plan(tables, paper=paper, results=results, data_root=data_root, metrics=metrics, extras=extras,
             train_ours=train_ours)
    log(p.text())
    return execute(p, jobs=jobs, progress=progress, epochs=epochs, max_steps=max_steps, seed=seed,
                   retrain=retrain, log=log, weights_root=weights_root)
