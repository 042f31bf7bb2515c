"""The result store: fused images, per-pair records and scores tables on disk.

Layout under the store root ``DIR`` (``--results``, else ``$FUSIONBENCH_RESULTS``, else
``./results``)::

    DIR/fusionbench-store.json                 {"store_version": 1}
    DIR/<dataset>/<method-dir>/method.json     method name, variant, parameters
    DIR/<dataset>/<method-dir>/fused/<pair>.png  the saved 8-bit fused image
    DIR/<dataset>/<method-dir>/records/<pair>.json  cache key, PNG digest, metric values
    DIR/<dataset>/<method-dir>/scores.csv      pair, then one column per metric (and part)

``<method-dir>`` is the method name with ``:`` replaced by ``@``. Every file is written
atomically (temporary file + rename), a record only after its PNG, so a run killed at any
moment leaves complete files only, and a record's PNG digest proves the image it scored.
Concurrent runs on one store are safe by per-file atomicity: two runs computing the same pair
write identical files; ``scores.csv`` is rebuilt from all records by whichever run ends last.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import StoreError
from .imageio import atomic_write_text

STORE_VERSION = 1
STORE_FILE = "fusionbench-store.json"


def results_root(explicit: os.PathLike | str | None = None) -> Path:
    """Store root: explicit, else ``$FUSIONBENCH_RESULTS``, else ``./results``."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("FUSIONBENCH_RESULTS")
    return Path(env).expanduser() if env else Path("results")


def method_dirname(full_name: str) -> str:
    return full_name.replace(":", "@").replace("/", "_")


def sha256_file(path: os.PathLike | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fmt_float(x: float) -> str:
    """Shortest exact text of a float (round-trips; byte-identical across runs)."""
    return repr(float(x))


class ResultStore:
    """Access to one store root; see the module docstring for the layout."""

    def __init__(self, root: os.PathLike | str | None = None, *, create: bool = True):
        self.root = results_root(root)
        marker = self.root / STORE_FILE
        if marker.exists():
            try:
                version = json.loads(marker.read_text()).get("store_version")
            except (OSError, ValueError) as exc:
                raise StoreError(f"{marker}: unreadable store marker ({exc})") from None
            if version != STORE_VERSION:
                raise StoreError(f"{self.root}: result store version {version!r} is not this "
                                 f"fusionbench's version {STORE_VERSION}; use another --results folder")
        elif create:
            if any(self.root.glob("*/*/records")):
                raise StoreError(f"{self.root}: holds results without a store marker (another "
                                 "version of the store?); use another --results folder")
            atomic_write_text(marker, json.dumps({"store_version": STORE_VERSION}) + "\n")

    # -- paths -------------------------------------------------------------------------
    def method_dir(self, dataset: str, method: str) -> Path:
        return self.root / dataset / method_dirname(method)

    def fused_path(self, dataset: str, method: str, pair: str) -> Path:
        return self.method_dir(dataset, method) / "fused" / f"{pair}.png"

    def record_path(self, dataset: str, method: str, pair: str) -> Path:
        return self.method_dir(dataset, method) / "records" / f"{pair}.json"

    def sweep_stale_temps(self, dataset: str, older_than: float = 600.0) -> int:
        """Delete temporary files (``.<name>.*.tmp``) left by killed runs, older than ``older_than`` s.

        Young ones may belong to a concurrent run and are left alone. Nothing ever reads them.
        """
        import time

        now, n = time.time(), 0
        for p in (self.root / dataset).glob("*/*/.*.tmp"):
            try:
                if now - p.stat().st_mtime > older_than:
                    p.unlink()
                    n += 1
            except OSError:
                continue
        return n

    # -- records ----------------------------------------------------------------------
    def read_record(self, dataset: str, method: str, pair: str) -> dict[str, Any] | None:
        """The pair's record, or None if absent, unreadable or its PNG does not match it."""
        p = self.record_path(dataset, method, pair)
        try:
            rec = json.loads(p.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None  # a foreign/corrupt record is recomputed, never trusted
        if rec.get("store_version") != STORE_VERSION:
            return None
        png = self.fused_path(dataset, method, pair)
        try:
            if sha256_file(png) != rec.get("fused_sha256"):
                return None
        except OSError:
            return None
        return rec

    def write_record(self, dataset: str, method: str, pair: str, record: dict[str, Any]) -> None:
        record = {"store_version": STORE_VERSION, **record}
        atomic_write_text(self.record_path(dataset, method, pair),
                          json.dumps(record, sort_keys=True, indent=1) + "\n")

    def write_method_info(self, dataset: str, method: str, info: dict[str, Any]) -> None:
        atomic_write_text(self.method_dir(dataset, method) / "method.json",
                          json.dumps(info, sort_keys=True, indent=1, default=str) + "\n")

    # -- listing -----------------------------------------------------------------------
    def datasets(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(d.name for d in self.root.iterdir() if d.is_dir() and not d.name.startswith("."))

    def methods(self, dataset: str) -> list[str]:
        """Full method names with results for ``dataset`` (from each ``method.json``)."""
        base = self.root / dataset
        out = []
        if base.is_dir():
            for d in sorted(base.iterdir()):
                info = d / "method.json"
                if info.exists():
                    try:
                        out.append(json.loads(info.read_text())["method"])
                    except (OSError, ValueError, KeyError):
                        continue
        return out

    def records(self, dataset: str, method: str) -> dict[str, dict[str, Any]]:
        rec_dir = self.method_dir(dataset, method) / "records"
        out = {}
        if rec_dir.is_dir():
            for p in sorted(rec_dir.glob("*.json")):
                rec = self.read_record(dataset, method, p.stem)
                if rec is not None:
                    out[p.stem] = rec
        return out

    def write_scores(self, dataset: str, method: str, pairs: Iterable[str] | None = None,
                     metric_order: list[str] | None = None) -> Path:
        """Rebuild ``scores.csv`` from the records (atomically); returns its path."""
        recs = self.records(dataset, method)
        names = sorted(recs) if pairs is None else [p for p in pairs if p in recs]
        cols: list[str] = []
        for n in names:
            for m in recs[n].get("scores", {}):
                for k in recs[n]["scores"][m]["values"]:
                    if k not in cols:
                        cols.append(k)
        if metric_order:
            rank = {m: i for i, m in enumerate(metric_order)}
            cols.sort(key=lambda c: (rank.get(c.split(".")[0], len(rank)), c))
        lines = [",".join(["pair", *cols])]
        for n in names:
            vals: dict[str, float] = {}
            for m in recs[n].get("scores", {}).values():
                vals.update(m["values"])
            lines.append(",".join([n, *(fmt_float(vals[c]) if c in vals else "" for c in cols)]))
        path = self.method_dir(dataset, method) / "scores.csv"
        atomic_write_text(path, "\n".join(lines) + "\n")
        return path

    def scores(self, dataset: str, method: str):
        """``scores.csv`` as a pandas DataFrame indexed by pair (None when absent)."""
        import pandas as pd

        p = self.method_dir(dataset, method) / "scores.csv"
        if not p.exists():
            return None
        return pd.read_csv(p, dtype={"pair": str}).set_index("pair")
