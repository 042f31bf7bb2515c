"""``fusionbench verify``: recompute stored metric values and report every mismatch.

The cache is trusted only as far as it can be checked: a record's PNG digest proves which image
was scored, and ``verify`` proves the values by recomputing them from that PNG and the dataset's
inputs (all records, or a deterministic random sample). A record edited by hand, a value written
by a different implementation with the same version, or a corrupted file shows up here.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import FusionbenchError, UnknownNameError
from .store import ResultStore


@dataclass
class VerifyReport:
    checked: int = 0                       # values recomputed
    records: int = 0
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _same(a: float, b: float, rtol: float, atol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= atol + rtol * abs(b)


def _dataset_of(info: dict[str, Any], label: str, root):
    from .data import load_dataset

    name = info.get("dataset_path") or info.get("dataset_name") or label
    return load_dataset(name, root=root, split=info.get("split") if not info.get("dataset_path") else None)


def verify(results=None, *, data_root=None, datasets=None, sample: int | None = None, seed: int = 0,
           rtol: float = 1e-9, atol: float = 1e-12, log=None) -> VerifyReport:
    """Recompute stored values (all, or ``sample`` random records per store) and compare."""
    import numpy as np

    from .api import compute_metric
    from .imageio import read_image, rgb2gray
    from .registry import get_metric

    store = ResultStore(results, create=False)
    rep = VerifyReport()
    todo: list[tuple[str, str, dict[str, Any]]] = []
    for label in datasets or store.datasets():
        for method, info in store.method_infos(label).items():
            folder = store.method_dir(label, method) / "records"
            for p in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                rec = store.read_record(label, method, p.stem)  # full check: PNG digest, shape
                if rec is None:  # never read by tables (the next run recomputes it): say so
                    rep.mismatches.append({"dataset": label, "method": method, "pair": p.stem, "metric": "-",
                                           "stored": None, "recomputed": None,
                                           "why": "record unreadable or its PNG does not match its digest"})
                else:
                    todo.append((label, method, {"info": info, "pair": p.stem, "rec": rec}))
    if sample is not None and sample < len(todo):
        todo = random.Random(seed).sample(todo, sample)
    refs: dict[str, Any] = {}
    for label, method, item in todo:
        pair, info = item["pair"], item["info"]
        try:
            if label not in refs:
                refs[label] = {p.name: p for p in _dataset_of(info, label, data_root).pairs}
            src = refs[label].get(pair)
        except FusionbenchError as exc:
            rep.skipped.append(f"{label}: inputs not available ({exc})")
            refs[label] = {}
            continue
        if src is None:
            rep.skipped.append(f"{label}/{method}/{pair}: pair not in the dataset")
            continue
        rec = item["rec"]
        fused = read_image(store.fused_path(label, method, pair))
        raw = (src.ir_raw(), src.vi_raw(), fused)
        gray = [np.asarray(rgb2gray(a), dtype=np.float64) for a in raw]
        rep.records += 1
        for m, entry in rec.get("scores", {}).items():
            try:
                spec = get_metric(m)
            except UnknownNameError:
                rep.skipped.append(f"{label}/{method}/{pair}: metric {m} not registered")
                continue
            if not isinstance(entry, dict) or entry.get("version") != spec.version:
                continue  # stale values are never shown; the next run recomputes them
            new = compute_metric(spec, raw, gray)
            for k, v in (entry.get("values") or {}).items():
                rep.checked += 1
                try:
                    stored = float(v)
                except (TypeError, ValueError):
                    stored = math.nan
                if k not in new or not _same(stored, new[k], rtol, atol):
                    rep.mismatches.append({"dataset": label, "method": method, "pair": pair, "metric": k,
                                           "stored": stored, "recomputed": new.get(k), "why": "value differs"})
    return rep


def report_text(rep: VerifyReport) -> str:
    from tabulate import tabulate

    head = (f"verified {rep.checked} stored values in {rep.records} records: "
            f"{len(rep.mismatches)} mismatch(es)")
    lines = [head]
    if rep.mismatches:
        lines.append(tabulate([[m["dataset"], m["method"], m["pair"], m["metric"], m["stored"], m["recomputed"],
                                m["why"]] for m in rep.mismatches],
                              headers=["dataset", "method", "pair", "metric", "stored", "recomputed", "why"]))
        lines.append("rerun with `fusionbench run ... --recompute` to replace the cached values")
    for s in dict.fromkeys(rep.skipped):
        lines.append(f"skipped: {s}")
    return "\n".join(lines)


def configure(p) -> None:
    from .cli import add_data_root, add_results

    add_results(p)
    add_data_root(p)
    p.add_argument("--dataset", help="only this store dataset (label)")
    p.add_argument("--sample", type=int, help="check this many random records (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")


def cmd_verify(args) -> int:
    if args.sample is not None and args.sample < 1:
        raise FusionbenchError("--sample must be at least 1")
    rep = verify(args.results, data_root=args.data_root, datasets=[args.dataset] if args.dataset else None,
                 sample=args.sample, seed=args.seed)
    print(report_text(rep))
    return 0 if rep.ok else 1


__all__ = ["verify", "VerifyReport", "report_text", "Path"]
