"""The runner: fuse every pair with every method, save 8-bit PNGs, score them, resume.

Protocol (the paper's): metrics are computed on the *saved* 8-bit image
(``floor(x + 0.5)`` clipped to 0..255). A pair's cache key hashes the method's full name, its
resolved parameters (files named in them by content), the method's ``version`` and the input
pixels; a finished pair whose key matches is reused, and only metrics missing from its record
(or whose metric ``version`` changed) are computed. See :mod:`fusionbench.store` for the files.

This module is the *client*: it validates the inputs once (keeping only their digests), plans
one task per (method, pair) that still needs work (:func:`plan_task`, from ``store.status``),
pair by pair (every method's task for pair 1, then pair 2, ...: the metrics' caches of the
two sources' statistics then serve every method of a pair), hands the tasks to an executor (:mod:`fusionbench.executor`: serial, a local process pool or a
Dask cluster) and writes every result into the store itself (:func:`commit_result`: PNG, then
record), so every executor gives the same files.
"""
from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .data import DatasetRef, Pair, load_dataset
from .errors import FusionbenchError, InputError, StoreError, WeightsError

#: errors that concern the whole method or store, not one pair: they abort the run
FATAL = (WeightsError, StoreError)
from .imageio import array_digest, atomic_write_bytes
from .registry import MethodCall, get_metric, parse_method, resolve_metrics
from .identity import cache_key_from_digest, display_name, method_fingerprint, store_name
from .executor import Executor, Task, TaskResult, execute_task, make_executor, portable, ship
from .store import ResultStore


def default_metrics() -> list[str]:
    """Metrics of a run when none are named: the ``paper`` preset (when registered) + EN, SD."""
    try:
        names = resolve_metrics(preset="paper")
    except FusionbenchError:
        names = []
    return names + [m for m in ("en", "sd") if m not in names]




def usable_cpus() -> int:
    """CPU cores this process may use (affinity-aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_jobs(jobs: Any, log: Callable[[str], None] | None = None) -> int:
    """``--jobs``: 0, negative or non-integer is an :class:`InputError`; more than the usable CPU
    cores is capped to them with a note (through ``log``)."""
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise InputError(f"--jobs must be a positive whole number of processes (got {jobs!r})")
    n = usable_cpus()
    if jobs > n:
        if log:
            log(f"note: --jobs {jobs} is more than the {n} CPU cores available; using {n}")
        return n
    return int(jobs)


@dataclass
class PairOutcome:
    pair: str
    status: str  # "fused", "reused", "missing", "failed"
    metrics_computed: int = 0
    message: str = ""
    seconds: float = 0.0
    note: str = ""  # e.g. "fused ≈ visible on 95% of pixels"


@dataclass
class MethodSummary:
    method: str
    dataset: str
    outcomes: list[PairOutcome] = field(default_factory=list)
    scores_path: Path | None = None
    store_name: str = ""

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    def line(self) -> str:
        parts = [f"{self.count('fused')} fused", f"{self.count('reused')} reused"]
        if self.count("missing"):
            parts.append(f"{self.count('missing')} MISSING")
        if self.count("failed"):
            parts.append(f"{self.count('failed')} FAILED")
        n_metrics = sum(o.metrics_computed for o in self.outcomes)
        return (f"{self.method} on {self.dataset}: {len(self.outcomes)} pairs ({', '.join(parts)}; "
                f"{n_metrics} metric values computed) -> {self.scores_path}")


def _modules(call: MethodCall, metric_names: Sequence[str]) -> tuple[str, ...]:
    """Modules outside fusionbench that registered the method/metrics (a worker imports them)."""
    mods = {call.spec.fn.__module__, *(get_metric(m).fn.__module__ for m in metric_names)}
    return tuple(sorted(m for m in mods if not m.startswith("fusionbench") and m != "__main__"))


def plan_task(store: ResultStore, ds: DatasetRef, call: MethodCall, pair: Pair, digest: str,
              metric_names: Sequence[str], weights_root: Path | None, task_id: int, *,
              recompute: bool = False, ship_inputs: bool = False):
    """What one (method, pair) needs, from ``store.status``: ``(task or None, status)``.

    No valid record for the cache key -> fuse and score every metric; a valid record missing
    metrics (or with older metric versions) -> a scoring task carrying its stored PNG; else
    nothing (None). The pair's pixels are dropped afterwards (client memory stays flat).
    """
    key = cache_key_from_digest(call, digest, pair.name)
    st = store.status(ds.label, call, pair, metric_names, key=key, recompute=recompute)
    if st.done:
        return None, st
    png = None if st.fuse else store.fused_path(ds.label, st.store_name, pair.name).read_bytes()
    portable_pair = None if ship_inputs else portable(pair)
    task = Task(id=task_id, method=call.spec.name, variant=call.variant, params=dict(call.params),
                pair_name=pair.name, dataset=ds.label, store_name=st.store_name,
                ctx=ds.context(pair.name, weights_root), digest=digest, fuse=st.fuse,
                metrics=list(metric_names) if st.fuse else list(st.missing), pair=portable_pair,
                inputs=ship(pair) if portable_pair is None else None, png=png,
                modules=_modules(call, metric_names), resources=dict(getattr(call.spec, "resources", None) or {}))
    pair._cache.clear()
    return task, st


def commit_result(store: ResultStore, task: Task, res: TaskResult, st, *, recompute: bool = False,
                  method: str = "") -> PairOutcome:
    """Write a worker's result into the store (PNG, then record): the client's job only.

    Records are merged under the store's per-record lock (scores a concurrent run stored for
    the same key are kept); ``recompute`` overwrites.
    """
    if res.status == "fatal":
        raise res.error if res.error is not None else StoreError(f"{task.method}: worker failed")
    if res.status in ("missing", "failed"):
        return PairOutcome(task.pair_name, res.status, message=res.message, seconds=res.seconds)
    rec = st.record
    if res.status == "fused":
        assert res.png is not None
        atomic_write_bytes(store.fused_path(task.dataset, task.store_name, task.pair_name), res.png)
        rec = {"key": st.key, "pair": task.pair_name, "method": method,
               "fused_sha256": hashlib.sha256(res.png).hexdigest(),
               "fuse_seconds": res.fuse_seconds, "scores": {}, "colour": res.colour}
    assert rec is not None
    rec = {k: v for k, v in rec.items() if k != "store_version"}
    rec = {**rec, "scores": {**rec.get("scores", {}), **res.scores}}
    if recompute:
        store.write_record(task.dataset, task.store_name, task.pair_name, rec)
    else:
        store.merge_record(task.dataset, task.store_name, task.pair_name, rec)
    return PairOutcome(task.pair_name, "fused" if res.status == "fused" else "reused",
                       len(res.scores), seconds=res.seconds, note=res.note)


def process_pair(store: ResultStore, ds: DatasetRef, call: MethodCall, pair: Pair,
                 metric_names: Sequence[str], weights_root: Path | None = None, *,
                 recompute: bool = False) -> PairOutcome:
    """Fuse (or reuse) one pair and compute its missing metrics in this process; writes PNG
    then record (the serial path of :func:`run`, one task).

    The store folder is ``ds.label`` (``roadscene-all``) / :func:`store_name` of the call;
    context-aware methods receive ``ds.context(pair)``. ``recompute`` ignores the cache.
    """
    digest = array_digest(pair.ir_raw(), pair.vi_raw())
    task, st = plan_task(store, ds, call, pair, digest, metric_names, weights_root, 0, recompute=recompute)
    if task is None:
        return PairOutcome(pair.name, "reused")
    return commit_result(store, task, execute_task(task), st, recompute=recompute, method=call.full_name)


def _validate(pairs: Sequence[Pair], label: str, *, allow_identical: bool = True) -> dict[str, str]:
    """Load every pair once, reporting all problems in one :class:`InputError` (as
    :func:`fusionbench.data.validate_pairs`); returns each pair's input digest. The pixels are
    not kept, so the client's memory does not grow with the dataset. Unless
    ``allow_identical``, a pair whose infrared and visible are identical is refused."""
    from .api import identical_error, identical_sources

    if not pairs:
        raise InputError(f"{label}: empty dataset (no pairs)")
    problems, digests, same = [], {}, []
    for p in pairs:
        msgs = p.problems()
        problems += msgs
        if not msgs:
            digests[p.name] = array_digest(p.ir_raw(), p.vi_raw())
            if not allow_identical and identical_sources(p.ir_raw(), p.vi_raw()):
                same.append(p.name)
        if p.loader is not None or p.ir_path is not None:
            p._cache.clear()
    if problems:
        raise InputError(f"{label}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    if same:
        raise identical_error(f"{label}, pair(s) {', '.join(same)}")
    return digests


def _parse_with_params(methods: Sequence[str], params: dict[str, Any]) -> list[MethodCall]:
    """Parse method names, giving each the overrides it accepts (``--weights`` for one method
    of several); an override that no method accepts is an error."""
    from .registry import accepts

    calls = [parse_method(m) for m in methods]
    for key in params:
        if not any(accepts(c.spec, key) for c in calls):
            raise InputError(f"no method among {', '.join(methods)} has a parameter {key!r}")
    return [parse_method(m, **{k: v for k, v in params.items() if accepts(c.spec, k)})
            for m, c in zip(methods, calls)]


def run(methods: Sequence[str] | str, dataset: str = "synthetic", *, split: str | None = None,
        metrics: Sequence[str] | str | None = None, preset: str | None = None,
        results: os.PathLike | str | None = None, root: os.PathLike | str | None = None,
        jobs: int = 1, progress: bool | None = None, method_params: dict[str, Any] | None = None,
        pairs: Sequence[str] | None = None, log=None,
        on_pair: Callable[[PairOutcome], None] | None = None,
        weights_root: os.PathLike | str | None = None,
        calls: Sequence[MethodCall] | None = None, recompute: bool = False,
        float_range: float | None = None, max_megapixels: float | None = None,
        executor: str | Executor = "local", scheduler: str | None = None,
        ship_inputs: bool = False, allow_identical: bool = False) -> list[MethodSummary]:
    """Fuse and score a dataset with each method; returns one summary per method.

    Everything is validated before work starts (method names, metric names, every image of
    the dataset). Finished pairs are reused (see module docstring). The work, one task per
    (method, pair) still to do, runs on ``executor`` (:mod:`fusionbench.executor`): ``"local"``
    (this process for ``jobs=1``, else a pool of ``jobs`` processes), ``"dask"`` (the cluster at
    ``scheduler``, else a local one of ``jobs`` workers) or an :class:`Executor` instance; only
    this process writes the store, so results are identical whatever runs the tasks.
    ``ship_inputs`` sends each pair's file bytes with its task (workers without the data root).
    Outcomes arrive in completion order (``on_pair``); summaries list them in pair order. ``pairs`` restricts the
    run to those pair names (``scores.csv`` still lists every finished pair of the dataset).
    ``on_pair(outcome)`` is called after each pair (e.g. to drive an outer progress bar).
    ``dataset`` is a name/folder or an already resolved :class:`DatasetRef`; ``calls`` (parsed
    :class:`MethodCall` objects) may be given instead of ``methods`` names. ``weights_root``
    is passed to the methods explicitly (else ``$FUSIONBENCH_WEIGHTS`` and the defaults).
    ``recompute`` ignores every cached result (fuses and scores again, overwriting).
    ``float_range`` and ``max_megapixels`` are reading parameters (see
    :func:`fusionbench.imageio.read_image`); before any image is loaded, every pair's size is
    checked against ``max_megapixels`` and each method's memory estimate (:mod:`fusionbench.guard`).
    A pair whose infrared and visible images are identical is refused (:class:`InputError`)
    unless ``allow_identical``; ``jobs`` < 1 is an error, more than the CPU cores is capped
    (:func:`check_jobs`). A fused image equal to one source on >= 90% of the pixels gets a
    per-pair note in the summary (``PairOutcome.note``), not an error.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    jobs = check_jobs(jobs, log)
    if calls is None:
        if isinstance(methods, str):
            methods = [m for m in methods.split(",") if m.strip()]
        if not methods:
            raise InputError("no methods given (--methods a,b)")
        calls = _parse_with_params(methods, method_params or {})
    metric_names = resolve_metrics(metrics, preset, default=tuple(default_metrics()))
    wroot = Path(weights_root).expanduser() if weights_root else None
    ds = dataset if isinstance(dataset, DatasetRef) else load_dataset(dataset, root=root, split=split)
    label, all_pairs = ds.label, list(ds.pairs)
    work = ds.select(list(pairs) if pairs is not None else None)
    read_kw = {k: v for k, v in (("float_range", float_range), ("max_megapixels", max_megapixels))
               if v is not None}
    for p in work:
        p.read_kw = {**p.read_kw, **read_kw}
    from .guard import check_pairs

    check_pairs(work, [c.spec for c in calls], max_megapixels=max_megapixels,
                jobs=min(jobs, len(work)) if jobs > 1 else 1)
    digests = _validate(work, f"dataset {label}", allow_identical=allow_identical)
    store = ResultStore(results)
    store.sweep_stale_temps(label)
    order = [p.name for p in all_pairs]
    rank = {n: i for i, n in enumerate(order)}
    own = not isinstance(executor, Executor)
    ex = make_executor(executor, jobs=jobs if len(work) > 1 or executor != "local" else 1,
                       scheduler=scheduler, log=log) if own else executor
    runs = [_CallRun(call, ds, store, order, rank, n_pairs=len(work), progress=progress, on_pair=on_pair,
                     position=i)
            for i, call in enumerate(calls)]
    planned: dict[int, tuple] = {}

    def tasks():
        # pair-major: every method's task for a pair follows the previous pair's, so the
        # metrics' source-side caches (pyramids, gradients, window statistics of the two
        # sources) are computed once per pair, not once per (method, pair)
        tid = 0
        for pair in work:
            for r in runs:
                task, st = plan_task(store, ds, r.call, pair, digests[pair.name], metric_names, wroot, tid,
                                     recompute=recompute, ship_inputs=ship_inputs)
                if task is None:
                    r.finished(PairOutcome(pair.name, "reused"))
                    continue
                planned[tid] = (r, task, st)
                tid += 1
                yield task

    try:
        for res in ex.map_unordered(tasks()):
            r, task, st = planned.pop(res.id)
            r.finished(commit_result(store, task, res, st, recompute=recompute, method=r.call.full_name))
    finally:
        for r in runs:
            r.bar.close()
        if own:
            ex.close()
    return [r.close(metric_names, log) for r in runs]


class _CallRun:
    """One method's share of a run: its summary, progress bar and store epilogue."""

    def __init__(self, call: MethodCall, ds: DatasetRef, store: ResultStore, order: list[str],
                 rank: dict[str, int], *, n_pairs: int, progress, on_pair, position: int = 0):
        from tqdm import tqdm

        self.call, self.ds, self.store, self.order, self.rank, self.on_pair = call, ds, store, order, rank, on_pair
        self.name = store_name(call)
        self.summary = MethodSummary(display_name(call), ds.label, store_name=self.name)
        self.info = {**method_fingerprint(call), "store_name": self.name, "label": display_name(call),
                     "dataset": ds.label, "dataset_name": ds.name, "split": ds.split,
                     "dataset_path": str(ds.path) if ds.path else None, "description": call.spec.description}
        self.info_written = False
        self.bar = tqdm(total=n_pairs, desc=f"{self.name} [{ds.label}]", unit="pair",
                        position=position, disable=progress is False
                        or (progress is None and not sys.stderr.isatty()), file=sys.stderr)

    def finished(self, out: PairOutcome) -> None:
        # method.json as soon as one pair is finished: an interrupted run's pairs show at once
        if not self.info_written and out.status in ("fused", "reused"):
            self.store.write_method_info(self.ds.label, self.name, self.info)
            self.info_written = True
        self.summary.outcomes.append(out)
        self.bar.update(1)
        if self.on_pair:
            self.on_pair(out)

    def close(self, metric_names: Sequence[str], log) -> MethodSummary:
        """After every task: method.json again (colour pairs), scores.csv, the summary lines."""
        summary, label, name = self.summary, self.ds.label, self.name
        summary.outcomes.sort(key=lambda o: self.rank.get(o.pair, 0))
        recs = self.store.records(label, name)
        if self.info_written:  # again: the latest run's description, and which outputs are colour
            self.info["colour_pairs"] = sorted(p for p, r in recs.items() if r.get("colour"))
            self.store.write_method_info(label, name, self.info)
        summary.scores_path = self.store.write_scores(label, name, self.order, metric_names, records=recs)
        for o in summary.outcomes:
            if o.status in ("missing", "failed"):
                log(f"{o.status}: {name} {label}/{o.pair}: {o.message}")
        log(summary.line())
        for o in summary.outcomes:
            if o.note:
                log(f"  note: {name} {label}/{o.pair}: {o.note}")
        return summary
