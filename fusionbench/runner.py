"""The runner: fuse every pair with every method, save 8-bit PNGs, score them, resume.

Protocol (the paper's): metrics are computed on the *saved* 8-bit image
(``floor(x + 0.5)`` clipped to 0..255). A pair's cache key hashes the method's full name, its
resolved parameters (files named in them by content), the method's ``version`` and the input
pixels; a finished pair whose key matches is reused, and only metrics missing from its record
(or whose metric ``version`` changed) are computed. See :mod:`fusionbench.store` for the files.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .api import compute_metric, run_method
from .data import DatasetRef, Pair, load_dataset, validate_pairs
from .errors import FusionbenchError, InputError, MissingResultError, StoreError, WeightsError

#: errors that concern the whole method or store, not one pair: they abort the run
FATAL = (WeightsError, StoreError)
from .imageio import array_digest, atomic_write_bytes, encode_png, is_gray_rgb, quantize, read_image, rgb2gray
from .registry import MethodCall, get_metric, parse_method, resolve_metrics
from .identity import cache_key, display_name, method_fingerprint, store_name  # noqa: F401
from .store import ResultStore


def default_metrics() -> list[str]:
    """Metrics of a run when none are named: the ``paper`` preset (when registered) + EN, SD."""
    try:
        names = resolve_metrics(preset="paper")
    except FusionbenchError:
        names = []
    return names + [m for m in ("en", "sd") if m not in names]


#: a fused image equal to one source on at least this fraction of pixels gets a note
SAME_AS_SOURCE = 0.9


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


def process_pair(store: ResultStore, ds: DatasetRef, call: MethodCall, pair: Pair,
                 metric_names: Sequence[str], weights_root: Path | None = None, *,
                 recompute: bool = False) -> PairOutcome:
    """Fuse (or reuse) one pair and compute its missing metrics; writes PNG then record.

    The store folder is ``ds.label`` (``roadscene-all``) / :func:`store_name` of the call;
    context-aware methods receive ``ds.context(pair)`` (the dataset's own name under the data
    root, ``roadscene``). ``recompute`` ignores the cache (fuses and scores again).
    """
    t0 = time.perf_counter()
    dataset = ds.label
    st = store.status(dataset, call, pair, metric_names, recompute=recompute)
    name = st.store_name
    rec = st.record
    status = "reused"
    if st.fuse:
        try:
            fused = run_method(call, pair.ir(), pair.vi(), vi_rgb=pair.vi_rgb(),
                               ctx=ds.context(pair.name, weights_root))
        except MissingResultError as exc:
            return PairOutcome(pair.name, "missing", message=str(exc))
        q = quantize(fused)
        png = encode_png(q)
        atomic_write_bytes(store.fused_path(dataset, name, pair.name), png)
        rec = {"key": st.key, "pair": pair.name, "method": call.full_name,
               "fused_sha256": hashlib.sha256(png).hexdigest(),
               "fuse_seconds": round(time.perf_counter() - t0, 4), "scores": {},
               "colour": bool(q.ndim == 3 and not is_gray_rgb(q))}
        rec = store.merge_record(dataset, name, pair.name, rec) if not recompute else rec
        if recompute:
            store.write_record(dataset, name, pair.name, rec)
        status = "fused"
    todo = list(st.missing)
    fused8 = read_image(store.fused_path(dataset, name, pair.name), max_megapixels=float("inf"))  # our own PNG
    note = _same_as_source_note(fused8, pair.ir_raw(), pair.vi_raw())
    if todo:
        raw = (pair.ir_raw(), pair.vi_raw(), fused8)
        gray = [np.asarray(rgb2gray(a), dtype=np.float64) for a in raw]
        scores = {}
        for m in todo:
            spec = get_metric(m)
            scores[m] = {"version": spec.version, "values": compute_metric(spec, raw, gray)}
        store.merge_record(dataset, name, pair.name, {**rec, "scores": {**rec.get("scores", {}), **scores}})
    return PairOutcome(pair.name, status, len(todo), seconds=time.perf_counter() - t0, note=note)


def _same_as_source_note(fused8: np.ndarray, ir_raw: np.ndarray, vi_raw: np.ndarray) -> str:
    """"fused ≈ visible on 95% of pixels" when the fused image equals a source on most pixels."""
    from .api import source_agreement

    agree = source_agreement(fused8, ir_raw, vi_raw)
    role, frac = max(agree.items(), key=lambda kv: kv[1])
    if frac < SAME_AS_SOURCE:
        return ""
    return f"fused ≈ {'infrared' if role == 'ir' else 'visible'} on {frac:.0%} of pixels"


_WORK: dict[str, Any] = {}


def _worker_init() -> None:
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _work_one(i: int) -> PairOutcome:
    w = _WORK
    pair = w["pairs"][i]
    try:
        return process_pair(w["store"], w["ds"], w["call"], pair, w["metrics"], w["weights_root"],
                            recompute=w["recompute"])
    except FATAL:
        raise
    except FusionbenchError as exc:
        return PairOutcome(pair.name, "failed", message=str(exc))


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
        allow_identical: bool = False) -> list[MethodSummary]:
    """Fuse and score a dataset with each method; returns one summary per method.

    Everything is validated before work starts (method names, metric names, every image of
    the dataset). Finished pairs are reused (see module docstring). ``jobs > 1`` fuses pairs
    in that many forked processes; results are identical to ``jobs=1``. ``pairs`` restricts the
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
    from tqdm import tqdm

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
    validate_pairs(work, f"dataset {label}")
    if not allow_identical:
        from .api import identical_error, identical_sources

        same = [p.name for p in work if identical_sources(p.ir_raw(), p.vi_raw())]
        if same:
            raise identical_error(f"dataset {label}, pair(s) {', '.join(same)}")
    store = ResultStore(results)
    store.sweep_stale_temps(label)
    order = [p.name for p in all_pairs]
    pairs = work
    summaries = []
    for call in calls:
        name = store_name(call)
        summary = MethodSummary(display_name(call), label, store_name=name)
        info = {**method_fingerprint(call), "store_name": name, "label": display_name(call),
                "dataset": label, "dataset_name": ds.name, "split": ds.split,
                "dataset_path": str(ds.path) if ds.path else None, "description": call.spec.description}
        info_written = False

        def finished(out: PairOutcome) -> None:
            # method.json as soon as one pair is finished: an interrupted run's pairs show at once
            nonlocal info_written
            if not info_written and out.status in ("fused", "reused"):
                store.write_method_info(label, name, info)
                info_written = True
            summary.outcomes.append(out)
            bar.update(1)
            if on_pair:
                on_pair(out)

        bar = tqdm(total=len(pairs), desc=f"{name} [{label}]", unit="pair", disable=progress is False
                   or (progress is None and not sys.stderr.isatty()), file=sys.stderr)
        if jobs > 1 and len(pairs) > 1:
            _WORK.update(store=store, ds=ds, call=call, pairs=pairs, metrics=metric_names,
                         weights_root=wroot, recompute=recompute)
            ctx = mp.get_context("fork")
            with ctx.Pool(min(jobs, len(pairs)), initializer=_worker_init) as pool:
                for out in pool.imap(_work_one, range(len(pairs))):
                    finished(out)
            _WORK.clear()
        else:
            for pair in pairs:
                try:
                    out = process_pair(store, ds, call, pair, metric_names, wroot, recompute=recompute)
                except FATAL:
                    bar.close()
                    raise
                except FusionbenchError as exc:
                    out = PairOutcome(pair.name, "failed", message=str(exc))
                finished(out)
        bar.close()
        if info_written:  # again: the latest run's description, and which outputs are colour
            info["colour_pairs"] = sorted(p for p, r in store.records(label, name).items() if r.get("colour"))
            store.write_method_info(label, name, info)
        summary.scores_path = store.write_scores(label, name, order, metric_names)
        for o in summary.outcomes:
            if o.status in ("missing", "failed"):
                log(f"{o.status}: {name} {label}/{o.pair}: {o.message}")
        log(summary.line())
        for o in summary.outcomes:
            if o.note:
                log(f"  note: {name} {label}/{o.pair}: {o.note}")
        summaries.append(summary)
    return summaries
