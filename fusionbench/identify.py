"""Which script printed this table? Rank metric conventions by how well they reproduce printed means.

A paper's table is a set of means over pairs. When the fused images of some of its rows are in the
result store (``published:<folder>``, our own exact reproductions, ``folder:<name>``), every metric
convention we know can be scored on those images, and the conventions ranked per column by the
error between their means and the printed values, in units of the printed last digit.

The *catalogue* (:func:`catalogue`):

* every registered metric configuration (all namespaces: ``nmi``, ``zoo:nmi``, ``cddfuse:ssim``, ...),
  its ``total`` as stored (name = the metric's name);
* for configurations with per-source parts ``.ir``/``.vi``: the ``sum``, ``mean`` and ``max`` over
  the two sources (``ssim~mean``; ``~sum`` often equals the total: such exact duplicates tie);
* an NMI/MI family computed here from 256-bin histograms of the gray images (MATLAB ``rgb2gray``,
  then ``round`` or ``floor`` to 8 bits): Hossny's ``2*(MI_A/(H_A+H_F) + MI_B/(H_B+H_F))`` and its
  mean over sources, ``MI/sqrt(H_A*H_F)`` summed / averaged over sources,
  ``(MI_A+MI_B)/(H_A+H_B)`` and the fusion-zoo form ``2*(MI_A+MI_B)/(H_IR+H_VI)``; MI summed or
  averaged over sources in log base 2, e and 10.

Re-quantisation of the fused image to 8 bits (floor vs round) is not a variant: the store keeps
fused images as 8-bit PNGs, so both are the identity on them. JPEG re-encoding is not covered.

Each (fused image, configuration) value is computed once and cached in
``<store>/<dataset>/identify_cache.json``, keyed by the fused PNG's SHA-256 (from its record), the
pair and the configuration (with the metric's version), so reruns only read the cache.

Ranking: per column, rows with a printed value and stored images; for each configuration the mean
over the row's stored pairs, the absolute error in units of the printed last digit (decimals of the
printed text: ``0.3509`` -> 1e-4), then ``max_abs_err`` and ``mean_abs_err`` over rows. Best first by
(max, mean) error; exact ties (1e-9 units) keep registered configurations before generated ones, then
catalogue order. A column "fits" when the best max error is at most 1 unit.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

CACHE_NAME = "identify_cache.json"
CACHE_VERSION = 1
FIT_UNITS = 1.0


@dataclass(frozen=True)
class Convention:
    """One named metric configuration of the catalogue.

    ``base``: the registered metric computed (``None`` for the histogram family computed here,
    whose group is ``family``); ``reduce``: ``total`` or a reduction of the parts
    (``sum``/``mean``/``max``); ``params``: everything that defines it (for the JSON output).
    """

    name: str
    base: str | None
    params: dict[str, Any]
    description: str
    reduce: str = "total"
    family: str | None = None
    generated: bool = False
    quantity: str = ""

    @property
    def group(self) -> str:
        return self.base if self.base is not None else f"~{self.family}"


# -- the histogram family (NMI / MI normalisations) --------------------------------------------
_NMI_FORMS = {
    "hossny": "2*(MI_A/(H_A+H_F) + MI_B/(H_B+H_F)) (Hossny et al. 2008)",
    "hossny_mean": "(MI_A/(H_A+H_F) + MI_B/(H_B+H_F)) (Hossny form averaged over sources)",
    "sqrt": "MI_A/sqrt(H_A*H_F) + MI_B/sqrt(H_B*H_F) (Strehl-Ghosh NMI summed over sources)",
    "sqrt_mean": "mean over sources of MI/sqrt(H_S*H_F)",
    "pooled": "(MI_A+MI_B)/(H_A+H_B)",
    "zoo2": "2*(MI_A+MI_B)/(H_IR+H_VI) (fusion-zoo form)",
}
_MI_FORMS = {"sum": "MI_A+MI_B", "mean": "(MI_A+MI_B)/2"}
_LOG_BASES = {"2": 2.0, "e": math.e, "10": 10.0}
_GRAY8 = ("round", "floor")


def _family_conventions() -> list[Convention]:
    out = []
    for g in _GRAY8:
        for form, desc in _NMI_FORMS.items():
            out.append(Convention(f"nmi~{form}~{g}", None, {"form": form, "gray8": g, "bins": 256},
                                  f"NMI {desc}; gray rgb2gray then {g} to 8 bits, 256 bins",
                                  family="hist", generated=True, quantity="nmi"))
        for form, desc in _MI_FORMS.items():
            for b in _LOG_BASES:
                out.append(Convention(f"mi~{form}~log{b}~{g}", None,
                                      {"form": form, "log_base": b, "gray8": g, "bins": 256},
                                      f"MI {desc}, log base {b}; gray {g} to 8 bits, 256 bins",
                                      family="hist", generated=True, quantity="mi"))
    return out


def _entropies(x: np.ndarray, f: np.ndarray) -> tuple[float, float, float]:
    """(H(x), H(f), H(x, f)) in bits of two int arrays 0..255 (256-bin histograms)."""
    joint = np.bincount((x.ravel().astype(np.int64) << 8) | f.ravel().astype(np.int64),
                        minlength=65536).astype(np.float64)
    p = joint / joint.sum()

    def h(q: np.ndarray) -> float:
        q = q[q > 0]
        return float(-(q * np.log2(q)).sum())

    pj = p.reshape(256, 256)
    return h(pj.sum(axis=1)), h(pj.sum(axis=0)), h(p)


def _family_values(gray: Sequence[np.ndarray], convs: Sequence[Convention]) -> dict[str, float]:
    """Values of the histogram-family conventions ``convs`` on gray float64 (ir, vi, fused)."""
    out: dict[str, float] = {}
    for g in _GRAY8:
        todo = [c for c in convs if c.params["gray8"] == g]
        if not todo:
            continue
        q = np.floor if g == "floor" else np.round
        a, b, f = (np.clip(q(np.asarray(x, dtype=np.float64)), 0, 255).astype(np.int64) for x in gray)
        ha, hf, haf = _entropies(a, f)
        hb, _, hbf = _entropies(b, f)
        mia, mib = ha + hf - haf, hb + hf - hbf

        def div(n: float, d: float) -> float:
            return n / d if d > 0 else math.nan

        forms = {
            "hossny": 2 * (div(mia, ha + hf) + div(mib, hb + hf)),
            "hossny_mean": div(mia, ha + hf) + div(mib, hb + hf),
            "sqrt": div(mia, math.sqrt(ha * hf)) + div(mib, math.sqrt(hb * hf)),
            "sqrt_mean": (div(mia, math.sqrt(ha * hf)) + div(mib, math.sqrt(hb * hf))) / 2,
            "pooled": div(mia + mib, ha + hb),
            "zoo2": 2 * div(mia + mib, ha + hb),
        }
        for c in todo:
            if c.quantity == "nmi":
                out[c.name] = forms[c.params["form"]]
            else:
                s = (mia + mib) / math.log2(_LOG_BASES[c.params["log_base"]])
                out[c.name] = s if c.params["form"] == "sum" else s / 2
    return out


# -- the catalogue ---------------------------------------------------------------------------
def catalogue(metrics: Sequence[str] | None = None, quantities: Sequence[str] | None = None,
              generated: bool = True) -> list[Convention]:
    """Every convention (registered configurations first, then generated variants).

    ``metrics`` keeps registered configurations of those names (and their part reductions);
    ``quantities`` keeps conventions measuring those quantities (``nmi``, ``ssim``); ``generated``
    False drops the generated variants.
    """
    from .registry import METRICS, discover

    discover()
    want_m = set(metrics) if metrics else None
    want_q = set(quantities) if quantities else None
    if want_m:
        unknown = sorted(want_m - set(METRICS))
        if unknown:
            raise InputError(f"identify --metrics: unknown metric(s) {', '.join(unknown)}")
    out: list[Convention] = []
    gen: list[Convention] = []
    for s in METRICS.values():
        if want_m is not None and s.name not in want_m:
            continue
        if want_q is not None and s.measures not in want_q:
            continue
        out.append(Convention(s.name, s.name, dict(s.params), s.description, quantity=s.measures))
        if generated and {"ir", "vi"} <= set(s.parts):
            for r in ("sum", "mean", "max"):
                gen.append(Convention(f"{s.name}~{r}", s.name, {**s.params, "over_sources": r},
                                      f"{s.name}: {r} of the .ir and .vi parts", reduce=r,
                                      generated=True, quantity=s.measures))
    if generated and want_m is None:
        gen += [c for c in _family_conventions() if want_q is None or c.quantity in want_q]
    return out + gen


# -- per-image values, cached ------------------------------------------------------------------
def _conv_key(c: Convention, versions: dict[str, str]) -> str:
    return f"{c.name}#{versions.get(c.base, 'id1') if c.base else 'id1'}"


class ValueCache:
    """``{fused sha256|pair: {configuration#version: value}}`` persisted as JSON in the store."""

    def __init__(self, path: Path | None):
        self.path = path
        self.data: dict[str, dict[str, float | None]] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                d = json.loads(path.read_text())
                if d.get("version") == CACHE_VERSION and isinstance(d.get("values"), dict):
                    self.data = d["values"]
            except (OSError, ValueError):
                self.data = {}

    def get(self, image: str) -> dict[str, float | None]:
        return self.data.setdefault(image, {})

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": CACHE_VERSION, "values": self.data}))
        os.replace(tmp, self.path)
        self.dirty = False


def _reduce(vals: dict[str, float], c: Convention) -> float:
    if c.reduce == "total":
        return vals[c.base]
    a, b = vals[f"{c.base}.ir"], vals[f"{c.base}.vi"]
    return {"sum": a + b, "mean": (a + b) / 2, "max": max(a, b)}[c.reduce]


def image_values(raw: Sequence[np.ndarray], convs: Sequence[Convention]) -> dict[str, float]:
    """Values of ``convs`` on one pair's raw images (ir, vi, fused as read); NaN where one fails."""
    from .api import _gray, compute_metric
    from .errors import FusionbenchError
    from .registry import METRICS

    gray = [_gray(np.asarray(a)) for a in raw]
    out: dict[str, float] = {}
    groups: dict[str, list[Convention]] = {}
    for c in convs:
        groups.setdefault(c.group, []).append(c)
    for g, cs in groups.items():
        if g == "~hist":
            out.update(_family_values(gray, cs))
            continue
        try:
            vals = compute_metric(METRICS[g], raw, gray)
        except (FusionbenchError, ValueError, ZeroDivisionError):
            vals = {}
        for c in cs:
            try:
                out[c.name] = float(_reduce(vals, c))
            except KeyError:
                out[c.name] = math.nan
    return out


@dataclass
class RowData:
    """One table row: the store method, its printed values per column and per-pair values."""

    row: str
    method: str
    printed: dict[str, str]
    pairs: list[str] = field(default_factory=list)
    values: dict[str, np.ndarray] = field(default_factory=dict)   # conv name -> per-pair values


def collect(store, dataset: str, rows: Sequence[tuple[str, str, dict[str, str]]], convs: Sequence[Convention],
            pairs: Sequence[str] | None = None, data_root=None, log: Callable[[str], None] | None = None
            ) -> list[RowData]:
    """Per-pair values of every convention for each row's stored fused images (cache first).

    ``rows``: ``(row label, store method, {column: printed text})``.
    """
    from .data import load_dataset
    from .imageio import read_image
    from .registry import METRICS

    versions = {n: s.version for n, s in METRICS.items()}
    ds = load_dataset(dataset, root=data_root)
    by_name = {p.name: p for p in ds.pairs}
    cache = ValueCache(store.root / dataset / CACHE_NAME if (store.root / dataset).is_dir() else None)
    known = set(store.methods(dataset))
    saved = time.monotonic()
    out = []
    for label, method, printed in rows:
        if method not in known:
            raise InputError(f"identify: row {label!r}: method {method!r} has no results in the store for "
                             f"{dataset} (store methods: {', '.join(sorted(known)) or 'none'})")
        recs = store.records(dataset, method)
        names = [p for p in (pairs if pairs is not None else sorted(recs)) if p in recs and p in by_name]
        rd = RowData(label, method, printed, names)
        cols: dict[str, list[float]] = {c.name: [] for c in convs}
        for p in names:
            rec = recs[p]
            sha = rec.get("fused_sha256")
            fused = store.fused_path(dataset, method, p)
            if not sha:
                sha = hashlib.sha256(fused.read_bytes()).hexdigest()
            entry = cache.get(f"{sha}|{p}")
            todo = [c for c in convs if _conv_key(c, versions) not in entry]
            if todo:
                pr = by_name[p]
                raw = [pr.ir_raw(), pr.vi_raw(), read_image(fused)]
                vals = image_values(raw, todo)
                for c in todo:
                    v = vals.get(c.name, math.nan)
                    entry[_conv_key(c, versions)] = None if not math.isfinite(v) else v
                cache.dirty = True
                if time.monotonic() - saved > 30:  # long runs: keep what is done
                    cache.save()
                    saved = time.monotonic()
                if log:
                    log(f"  {method} {p}: {len(todo)} configurations computed")
            for c in convs:
                v = entry[_conv_key(c, versions)]
                cols[c.name].append(math.nan if v is None else float(v))
        cache.save()
        rd.values = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}
        out.append(rd)
    return out


# -- ranking ---------------------------------------------------------------------------------
def decimals(text: str) -> int:
    """Digits after the decimal point of a printed number (``0.3509`` -> 4, ``2`` -> 0)."""
    t = text.strip().lower()
    if "e" in t:
        raise InputError(f"identify: printed value {text!r}: exponent notation is not supported")
    return len(t.split(".", 1)[1]) if "." in t else 0


def rank_column(label: str, rows: Sequence[RowData], convs: Sequence[Convention], top: int | None = None,
                quantities: set[str] | None = None) -> list[dict[str, Any]]:
    """Conventions ranked for one column: ``[{metric, params, max_abs_err, mean_abs_err, rows}]``.

    ``quantities``: rank only conventions measuring these (a paper column's quantity).
    """
    used = [r for r in rows if r.printed.get(label, "").strip() and r.pairs]
    if not used:
        return []
    printed = np.array([float(r.printed[label]) for r in used])
    unit = np.array([10.0 ** -decimals(r.printed[label]) for r in used])
    ranked = []
    for i, c in enumerate(convs):
        if quantities and c.quantity not in quantities:
            continue
        means = np.array([float(np.mean(r.values[c.name])) for r in used])
        err = np.abs(means - printed) / unit
        if not np.all(np.isfinite(err)):
            continue
        ranked.append((round(float(err.max()), 9), round(float(err.mean()), 9), c.generated, i, c, means, err))
    ranked.sort(key=lambda t: t[:4])
    out = []
    for mx, mn, _, _, c, means, err in ranked[:top] if top else ranked:
        out.append({"metric": c.name, "params": c.params, "max_abs_err": mx, "mean_abs_err": mn,
                    "rows": {r.row: {"method": r.method, "n": len(r.pairs), "printed": r.printed[label],
                                     "mean": float(m), "err": float(e)}
                             for r, m, e in zip(used, means, err)}})
    return out


def identify(store, dataset: str, rows, convs, *, pairs=None, data_root=None, top: int | None = 10,
             log=None, column_quantities: dict[str, set[str]] | None = None) -> dict[str, Any]:
    """``{"columns": {label: ranked list}, "rows": {row: {method, n}}}`` for one table.

    ``column_quantities``: per column label, the quantities its candidates must measure (none:
    the whole catalogue competes).
    """
    data = collect(store, dataset, rows, convs, pairs=pairs, data_root=data_root, log=log)
    labels = list(dict.fromkeys(k for r in data for k in r.printed))
    return {"dataset": dataset, "catalogue_size": len(convs),
            "rows": {r.row: {"method": r.method, "n": len(r.pairs)} for r in data},
            "columns": {lab: rank_column(lab, data, convs, top, (column_quantities or {}).get(lab))
                        for lab in labels}}


# -- inputs ----------------------------------------------------------------------------------
def read_table(path: os.PathLike | str) -> list[tuple[str, str, dict[str, str]]]:
    """Rows ``(method, method, {label: printed text})`` of a CSV ``row,<label>,...``."""
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            lines = [ln for ln in csv.reader(fh) if ln and any(x.strip() for x in ln)]
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror})") from None
    if not lines or lines[0][0].strip() != "row" or len(lines[0]) < 2:
        raise InputError(f"{p}: header must be 'row,<label>,...'")
    labels = [h.strip() for h in lines[0][1:]]
    rows = []
    for n, ln in enumerate(lines[1:], start=2):
        if len(ln) > len(labels) + 1:
            raise InputError(f"{p}: line {n} has {len(ln) - 1} values for {len(labels)} columns")
        printed = {}
        for lab, v in zip(labels, ln[1:]):
            v = v.strip()
            if v:
                try:
                    float(v)
                except ValueError:
                    raise InputError(f"{p}: line {n}, column {lab}: {v!r} is not a number") from None
                printed[lab] = v
        rows.append((ln[0].strip(), ln[0].strip(), printed))
    return rows


#: rows of the packaged paper whose fused images we hold exactly (published or reproduced)
PAPER_EXACT_ROWS = ("rfn_nest", "fusiongan", "didfuse", "bayesian", "densefuse")


def paper_rows(store, paper_name: str, number: int, *, allow_partial: bool = False,
               log: Callable[[str], None] | None = None
               ) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """(dataset, rows) of a paper table: the exact-output rows whose images the store holds.

    Each row uses whichever of ``published:<folder>`` and its own method holds more pairs (the
    published folder on a tie). A row covering fewer pairs than the table's ``n_pairs`` is left
    out (its mean is not the printed mean's) unless ``allow_partial``; ``log`` says so. Printed
    values are formatted back from the JSON with 4 decimals (the paper's printing; see its notes).
    """
    from .paper import load_paper

    paper = load_paper(paper_name)
    t = paper.table(number)
    known = set(store.methods(t.dataset)) if t.dataset in store.datasets() else set()
    rows = []
    for r in t.rows:
        if r.key not in PAPER_EXACT_ROWS or not r.paper:
            continue
        cands = ([f"published:{r.published}"] if r.published else []) + ([r.method] if r.method else [])
        cands = [m for m in cands if m in known]
        if not cands:
            continue
        counts = {m: len(store.records(t.dataset, m)) for m in cands}
        method = max(cands, key=lambda m: counts[m])  # first (published) wins ties
        if counts[method] < t.n_pairs and not allow_partial:
            if log:
                log(f"note: table {number}: row {r.name} left out: {method} holds {counts[method]} of "
                    f"{t.n_pairs} pairs (--allow-partial uses it on those)")
            continue
        printed = {f"T{number}:{c}": f"{v:.4f}" for c, v in zip(paper.columns, r.paper) if v is not None}
        rows.append((f"{r.name} ({method})", method, printed))
    return t.dataset, rows


def paper_column_quantities(paper_name: str, number: int) -> dict[str, set[str]]:
    """``{"T<n>:<column>": {quantities of the metrics the paper JSON lists for it}}``."""
    from .paper import load_paper
    from .registry import METRICS, discover

    discover()
    paper = load_paper(paper_name)
    return {f"T{number}:{c}": {METRICS[m].measures for m in paper.column_metrics[c] if m in METRICS}
            for c in paper.columns}


# -- text --------------------------------------------------------------------------------------
def render_text(result: dict[str, Any], top: int = 5) -> str:
    lines = [f"dataset {result['dataset']}: {result['catalogue_size']} configurations; rows: "
             + ", ".join(f"{k} (n={v['n']})" for k, v in result["rows"].items())]
    for lab, ranked in result["columns"].items():
        lines.append(f"\n{lab}:")
        if not ranked:
            lines.append("  no row with a printed value and stored images")
            continue
        best = ranked[0]
        if best["max_abs_err"] > FIT_UNITS:
            lines.append("  none within ±1 in the last printed digit")
        worst = max(best["rows"].items(), key=lambda kv: kv[1]["err"])
        for i, e in enumerate(ranked[:top], 1):
            lines.append(f"  {i}. {e['metric']:<28} max {e['max_abs_err']:.2f}  mean {e['mean_abs_err']:.2f}"
                         " (units of the last printed digit)")
        lines.append("  best: " + "; ".join(f"{k}: printed {v['printed']}, ours {v['mean']:.4f} "
                                             f"(err {v['err']:.2f}, n={v['n']})" for k, v in best["rows"].items()))
        lines.append(f"  row driving the residual: {worst[0]}")
    return "\n".join(lines)
