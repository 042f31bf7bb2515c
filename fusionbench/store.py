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
Concurrent runs on one store are safe: two runs computing the same pair write identical files,
and a record's scores are merged under a per-record lock (``<method-dir>/.lock``, held only
while reading, merging and writing), so two runs scoring different metrics of one pair both
keep their values. ``scores.csv`` is an export rebuilt from the records; nothing reads it back
as the source of truth (tables, ``check`` and statistics read the records through
:mod:`fusionbench.scores`).
"""
from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import StoreError
from .imageio import atomic_write_text

STORE_VERSION = 1
STORE_FILE = "fusionbench-store.json"


def results_root(explicit: os.PathLike | str | None = None) -> Path:
    """Store root: explicit, else ``$FUSIONBENCH_RESULTS``, else ``./results``."""
    from .paths import configured_path

    return configured_path(explicit, "FUSIONBENCH_RESULTS", "results")


def method_dirname(full_name: str) -> str:
    return full_name.replace(":", "@").replace("/", "_")


from .identity import sha256_file  # noqa: E402,F401  (re-exported)


@dataclass
class PairStatus:
    """What a (method call, pair) needs: ``fuse`` (no valid fused image for the cache key) and
    the metrics still ``missing`` (absent, or computed by an older metric version)."""

    store_name: str
    key: str
    record: dict[str, Any] | None
    fuse: bool
    missing: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return not self.fuse and not self.missing


def fmt_float(x: float) -> str:
    """Shortest exact text of a float (round-trips; byte-identical across runs)."""
    return repr(float(x))


_WARNED_RECORDS: set[tuple[str, str]] = set()


def check_pair_name(name: str) -> str:
    """Refuse pair names with control characters (newline, tab, ...); returns the name."""
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise StoreError(f"pair name {name!r} contains control characters; rename its files")
    return name


def record_problem(rec: Any) -> str | None:
    """Why a parsed record cannot be used (wrong JSON shape), or None when its shape is sound."""
    def kind(v: Any) -> str:
        return {list: "an array", type(None): "null", str: "a string", bool: "a boolean"}.get(
            type(v), "a number" if isinstance(v, (int, float)) else type(v).__name__)

    if not isinstance(rec, dict):
        return f"JSON {kind(rec)}, not an object"
    for k in ("key", "fused_sha256"):
        if not isinstance(rec.get(k), str):
            return f"{k!r} is not a string"
    scores = rec.get("scores", {})
    if not isinstance(scores, dict):
        return f"'scores' is {kind(scores)}, not an object"
    for m, entry in scores.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
            return f"scores of {m!r} are not an object with 'values'"
        for k, v in entry["values"].items():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return f"value {m}/{k} is {v!r}, not a number"
    return None


def _check_store_folder(root: Path) -> None:
    """A ``--results`` that is a file, or lies under a file, is a one-line error."""
    if root.exists() and not root.is_dir():
        raise StoreError(f"--results {root}: is a file, not a folder")
    for parent in root.parents:
        if parent.exists():
            if not parent.is_dir():
                raise StoreError(f"--results {root}: {parent} is a file, not a folder")
            break


class ResultStore:
    """Access to one store root; see the module docstring for the layout."""

    def __init__(self, root: os.PathLike | str | None = None, *, create: bool = True):
        self.root = results_root(root)
        marker = self.root / STORE_FILE
        _check_store_folder(self.root)
        if marker.exists():
            try:
                meta = json.loads(marker.read_text())
            except (OSError, ValueError) as exc:
                raise StoreError(f"{marker}: unreadable store marker ({exc})") from None
            if not isinstance(meta, dict):
                raise StoreError(f"{marker}: malformed store marker (not a JSON object); if {self.root} "
                                 "is a fusionbench store, delete the marker to rewrite it")
            version = meta.get("store_version")
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

        Covers the store marker's, and under ``dataset`` those of ``scores.csv``, ``method.json``,
        fused images and records. Young ones may belong to a concurrent run and are left alone.
        Nothing ever reads them.
        """
        import itertools
        import time

        now, n = time.time(), 0
        base = self.root / dataset
        for p in itertools.chain(self.root.glob(f".{STORE_FILE}.*.tmp"), base.glob("*/.*.tmp"),
                                 base.glob("*/*/.*.tmp")):
            try:
                if now - p.stat().st_mtime > older_than:
                    p.unlink()
                    n += 1
            except OSError:
                continue
        return n

    # -- queries ----------------------------------------------------------------------
    def status(self, dataset: str, call, pair, metrics: Sequence[str], *,
               key: str | None = None, recompute: bool = False) -> PairStatus:
        """What ``call`` still has to do for ``pair`` (a :class:`fusionbench.data.Pair`) in
        store folder ``dataset``: the one query the runner and ``reproduce`` share.

        ``key``: the pair's cache key when already computed; ``recompute``: ignore the cache.
        """
        from .identity import cache_key, store_name
        from .registry import get_metric

        name = store_name(call)
        key = key or cache_key(call, pair.ir_raw(), pair.vi_raw(), pair.name)
        rec = None if recompute else self.read_record(dataset, name, pair.name)
        if rec is None or rec.get("key") != key:
            return PairStatus(name, key, None, True, list(metrics))
        scores = rec.get("scores", {})
        missing = [m for m in metrics if not isinstance(scores.get(m), dict)
                   or scores[m].get("version") != get_metric(m).version]
        return PairStatus(name, key, rec, False, missing)

    @contextmanager
    def record_lock(self, dataset: str, method: str, pair: str) -> Iterator[None]:
        """Exclusive lock for writing a record of one method (``<method-dir>/.lock``, held only
        while a record is read, merged and written; no-op without fcntl)."""
        folder = self.method_dir(dataset, method)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        with open(folder / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def merge_record(self, dataset: str, method: str, pair: str, record: dict[str, Any]) -> dict[str, Any]:
        """Write ``record``, keeping the scores that a concurrent run stored meanwhile for the
        same cache key (``record``'s own scores win). Returns the record as written."""
        with self.record_lock(dataset, method, pair):
            cur = self.read_record(dataset, method, pair)
            if cur is not None and cur.get("key") == record.get("key") and \
                    cur.get("fused_sha256") == record.get("fused_sha256"):
                record = {**record, "scores": {**cur.get("scores", {}), **record.get("scores", {})}}
            self.write_record(dataset, method, pair, record)
        return record

    # -- records ----------------------------------------------------------------------
    def read_record(self, dataset: str, method: str, pair: str) -> dict[str, Any] | None:
        """The pair's record, or None if absent, unreadable, malformed or its PNG does not match it."""
        p = self.record_path(dataset, method, pair)
        try:
            rec = json.loads(p.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None  # a foreign/corrupt record is recomputed, never trusted
        problem = record_problem(rec)
        if problem:
            import warnings

            seen = (str(p), problem)
            if seen not in _WARNED_RECORDS:  # once per file and problem, however often it is read
                _WARNED_RECORDS.add(seen)
                warnings.warn(f"{p}: malformed record ({problem}); treated as absent and recomputed",
                              UserWarning, stacklevel=2)
            return None
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

    def method_infos(self, dataset: str) -> dict[str, dict[str, Any]]:
        """``{store name: method.json}`` of every method with results for ``dataset``."""
        base = self.root / dataset
        out: dict[str, dict[str, Any]] = {}
        if base.is_dir():
            for d in sorted(base.iterdir()):
                info = d / "method.json"
                if info.exists():
                    try:
                        data = json.loads(info.read_text())
                        name = data.get("store_name") or data["method"]
                    except (OSError, ValueError, KeyError, AttributeError, TypeError):
                        continue
                    if isinstance(name, str):
                        out[name] = data
        return out

    def methods(self, dataset: str) -> list[str]:
        """Store names of the methods with results for ``dataset`` (from each ``method.json``)."""
        return list(self.method_infos(dataset))

    def label(self, dataset: str, method: str) -> str:
        """How tables show a stored method (``gff (r1=3)``); its store name when unknown."""
        info = self.method_infos(dataset).get(method, {})
        label = info.get("label")
        return label if isinstance(label, str) else method

    INDEX = ".index.json"

    def records(self, dataset: str, method: str) -> dict[str, dict[str, Any]]:
        """``{pair: record}`` of every valid record of a method (see :meth:`read_record`).

        Verifying a record hashes its PNG; to keep tables fast on large stores the verified
        records are kept in ``<method-dir>/.index.json``, each with the (inode, size, mtime) of
        its record and PNG. An entry is used only while both files are unchanged (every store
        write is a rename, which changes the inode), else the record is verified again. The index
        is a cache: deleting it costs time, never correctness.
        """
        folder = self.method_dir(dataset, method)
        rec_dir = folder / "records"
        out: dict[str, dict[str, Any]] = {}
        if not rec_dir.is_dir():
            return out
        idx_path = folder / self.INDEX
        try:
            idx = json.loads(idx_path.read_text())
            entries = idx["entries"] if isinstance(idx, dict) and idx.get("v") == 1 else {}
            if not isinstance(entries, dict):
                entries = {}
        except (OSError, ValueError, KeyError, TypeError):
            entries = {}
        changed = False
        seen = set()
        for p in sorted(rec_dir.glob("*.json")):
            pair = p.stem
            seen.add(pair)
            try:
                a, b = p.stat(), self.fused_path(dataset, method, pair).stat()
            except OSError:
                continue
            sig = [a.st_ino, a.st_size, a.st_mtime_ns, b.st_ino, b.st_size, b.st_mtime_ns]
            e = entries.get(pair)
            if isinstance(e, dict) and e.get("sig") == sig and isinstance(e.get("rec"), dict):
                out[pair] = e["rec"]
                continue
            rec = self.read_record(dataset, method, pair)
            if rec is not None:
                out[pair] = rec
                entries[pair] = {"sig": sig, "rec": rec}
            else:
                entries.pop(pair, None)
            changed = True
        for gone in [k for k in entries if k not in seen]:
            entries.pop(gone)
            changed = True
        if changed:
            try:
                atomic_write_text(idx_path, json.dumps({"v": 1, "entries": entries}, sort_keys=True))
            except (OSError, StoreError):
                pass  # a read-only store: verify every time
        return out

    def write_scores(self, dataset: str, method: str, pairs: Iterable[str] | None = None,
                     metric_order: list[str] | None = None,
                     records: dict[str, dict[str, Any]] | None = None) -> Path:
        """Rebuild ``scores.csv`` from the records (atomically); returns its path.

        ``records``: the method's :meth:`records`, when the caller has just read them."""
        recs = self.records(dataset, method) if records is None else records
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
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")  # quotes names holding commas or quotes
        w.writerow(["pair", *cols])
        for n in names:
            check_pair_name(n)
            vals: dict[str, float] = {}
            for m in recs[n].get("scores", {}).values():
                vals.update(m["values"])
            w.writerow([n, *(fmt_float(vals[c]) if c in vals else "" for c in cols)])
        path = self.method_dir(dataset, method) / "scores.csv"
        atomic_write_text(path, buf.getvalue())
        return path

    def scores(self, dataset: str, method: str):
        """``scores.csv`` as a pandas DataFrame indexed by pair (None when absent)."""
        import pandas as pd

        p = self.method_dir(dataset, method) / "scores.csv"
        if not p.exists():
            return None
        with open(p, newline="") as fh:
            header = next(csv.reader(fh), ["pair"])
        # pair names are text exactly as written (a pair "NA" stays "NA"); empty / nan values are NaN
        return pd.read_csv(p, dtype={"pair": str}, keep_default_na=False,
                           na_values={c: ["", "nan", "NaN"] for c in header if c != "pair"}).set_index("pair")
