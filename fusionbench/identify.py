"""Which script printed this table? Rank metric conventions by how well they reproduce printed means.

A paper's table is a set of means over pairs. When the fused images of some of its rows are in the
result store (``published:<folder>``, our own exact reproductions, ``folder:<name>``), every metric
convention we know can be scored on those images, and the conventions ranked per column by the
error between their means and the printed values, in units of the printed last digit.

The *catalogue* (:func:`catalogue`, 362 conventions with everything registered; names are
``<base>~<variant>``, each with its parameters in the JSON output):

* every registered metric configuration (all namespaces: ``nmi``, ``zoo:nmi``, ``cddfuse:ssim``, ...),
  its ``total`` as stored (name = the metric's name);
* axis ``parts``: for configurations with per-source parts ``.ir``/``.vi``, the ``sum``, ``mean``
  and ``max`` over the two sources (``ssim~mean``; ``~sum`` often equals the total: such exact
  duplicates tie);
* axis ``hist``: an NMI/MI family computed here from joint histograms of the gray images: Hossny's
  ``2*(MI_A/(H_A+H_F) + MI_B/(H_B+H_F))`` and its mean over sources, ``MI/sqrt(H_A*H_F)`` summed /
  averaged over sources, ``(MI_A+MI_B)/(H_A+H_B)`` and the fusion-zoo form
  ``2*(MI_A+MI_B)/(H_IR+H_VI)``; MI summed or averaged in log base 2, e and 10; each on the 256
  integer levels (``~round``/``~floor``: gray rounded or floored to 8 bits), after Liu's
  ``normalize1`` stretch (``~n1``), in 255/128/64 equal bins over 0..255 (``~b255`` ...), ``normalize1``
  then 64 bins (``~n1b64``), or 256 bins over each image's own range (``~data256``). "Distinct
  values" binning is not a separate variant: on integer images it equals the 256 levels;
* axis ``gray``: the metrics of :data:`VARIANT_BASES` with colour images converted by each of
  :data:`fusionbench.conventions.GRAY_CONVERSIONS` (MATLAB rgb2gray unrounded / truncated,
  OpenCV BGR2GRAY, PIL ``convert('L')``, BT.601 Y unrounded, MATLAB ``rgb2ycbcr`` studio Y);
  gray images pass unchanged, so on all-gray data these equal the registered value (computed once);
* axis ``jpeg``: the same metrics on the fused image re-encoded as JPEG quality 75/90/95
  (``cv2.imencode``, as a script that saved its outputs as ``.jpg`` would read them back);
* axis ``window``: SSIM with 11x11/7x7 Gaussian and 7x7/11x11 box windows (mean and sum over
  sources; the registered ``ssim`` parameters), Q_Y with 7x7/11x11 Gaussian and 7x7/8x8/11x11 box
  windows (:func:`fusionbench.conventions.qy_variant`; ``qy`` itself has no window parameter);
* axis ``range``: data-range-dependent constants: SSIM with ``L`` = 255, 1 or 2 (the constants of
  a script that feeds 0..255 images to code written for 0..1 or for skimage's float range), Q_Y
  with Liu's 2e-16, Wang's L=255 or L=1 constants, IFC/VIF on images scaled to 0..1 (their
  ``sigma_nsq`` assumes 0..255).

Re-quantisation of the fused image to 8 bits (floor vs round) is not a variant: the store keeps
fused images as 8-bit PNGs, so both are the identity on them ("uint8 truncation" applies to the
gray conversion of colour inputs: ``gray=matlab_trunc``). The axes are generated per quantity,
not as a cartesian product (e.g. no JPEG x window combinations).

Each (fused image, configuration) value is computed once and cached in
``<store>/<dataset>/identify_cache.json``, keyed by the fused PNG's SHA-256 (from its record), the
pair and the configuration (with the metric's version), so reruns only read the cache. Within one
image, variants whose prepared pixels are identical share one evaluation. ``jobs > 1`` computes
images in a pool of forked processes; values and output do not depend on it.

Ranking: per column, rows with a printed value and stored images; for each configuration the mean
over the row's stored pairs, the absolute error in units of the printed last digit (decimals of the
printed text: ``0.3509`` -> 1e-4), then ``max_abs_err`` and ``mean_abs_err`` over rows. Best first by
(max, mean) error; exact ties (1e-9 units) keep registered configurations before generated ones, then
catalogue order. A column "fits" when the best max error is at most 1 unit.

Subsets (:func:`subset_column`, ``--subset K``): could the paper have used k other pairs? A range
check per row (k-subset means lie between the mean of the k smallest and of the k largest values)
rules conventions out; for those it does not, a same-pairs check looks for ONE set of k pairs,
shared by every row, that reproduces all rows within 1 unit: exact enumeration up to
:data:`ENUM_LIMIT` subsets, else a seeded swap search then scipy's MILP. A subset found is one
explanation, never an identification; with one row and hundreds of conventions, near-fits are
expected by chance.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
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
    ``axis``: the generated axis (``parts``, ``hist``, ``gray``, ``jpeg``, ``window``, ``range``;
    empty for registered configurations). ``view``: how the images are prepared before the metric
    sees them (``gray`` conversion of colour images, ``jpeg`` quality of the fused image's
    re-encoding, ``scale`` of the 0..255 values); ``override``: keyword parameters given to the
    implementation instead of the registered ones; ``impl``: an implementation of
    :mod:`fusionbench.conventions` used instead of the registered metric (``qy_variant``).
    """

    name: str
    base: str | None
    params: dict[str, Any]
    description: str
    reduce: str = "total"
    family: str | None = None
    generated: bool = False
    quantity: str = ""
    axis: str = ""
    view: dict[str, Any] = field(default_factory=dict)
    override: dict[str, Any] = field(default_factory=dict)
    impl: str | None = None

    @property
    def group(self) -> str:
        if self.view or self.override or self.impl:
            return "~variant"
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
#: histogram settings beyond the 256 integer levels: name -> (stretch, bins, description)
_HIST_SETTINGS = {
    "n1": ("normalize1", 256, "Liu normalize1 stretch (min-max to 0..255, rounded), 256 levels"),
    "b255": ("none", 255, "255 equal bins over 0..255"),
    "b128": ("none", 128, "128 equal bins over 0..255"),
    "b64": ("none", 64, "64 equal bins over 0..255"),
    "n1b64": ("normalize1", 64, "normalize1 stretch, then 64 equal bins"),
    "data256": ("data", 256, "256 equal bins over each image's own min..max (MATLAB hist(x(:),256))"),
}


def _family_conventions() -> list[Convention]:
    settings = [(g, "none", 256, g, f"gray rgb2gray then {g} to 8 bits, 256 bins") for g in _GRAY8]
    settings += [("round", s, b, k, d) for k, (s, b, d) in _HIST_SETTINGS.items()]
    out = []
    for g, stretch, bins, suffix, sdesc in settings:
        p = {"gray8": g, "bins": bins, "stretch": stretch}
        for form, desc in _NMI_FORMS.items():
            out.append(Convention(f"nmi~{form}~{suffix}", None, {"form": form, **p}, f"NMI {desc}; {sdesc}",
                                  family="hist", generated=True, quantity="nmi", axis="hist"))
        for form, desc in _MI_FORMS.items():
            for b in _LOG_BASES:
                out.append(Convention(f"mi~{form}~log{b}~{suffix}", None, {"form": form, "log_base": b, **p},
                                      f"MI {desc}, log base {b}; {sdesc}",
                                      family="hist", generated=True, quantity="mi", axis="hist"))
    return out


def _family_values(gray: Sequence[np.ndarray], convs: Sequence[Convention]) -> dict[str, float]:
    """Values of the histogram-family conventions ``convs`` on gray float64 (ir, vi, fused)."""
    from .conventions import entropies, hist_levels

    out: dict[str, float] = {}
    settings = dict.fromkeys((c.params["gray8"], c.params["stretch"], c.params["bins"]) for c in convs)
    for g, stretch, bins in settings:
        todo = [c for c in convs if (c.params["gray8"], c.params["stretch"], c.params["bins"]) == (g, stretch, bins)]
        q = np.floor if g == "floor" else np.round
        a, b, f = (hist_levels(np.clip(q(np.asarray(x, dtype=np.float64)), 0, 255), bins, stretch) for x in gray)
        ha, hf, haf = entropies(a, f, bins)
        hb, _, hbf = entropies(b, f, bins)
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


# -- generated variants of registered metrics ----------------------------------------------------
#: registered metrics (gray input) that get gray-conversion and JPEG variants
VARIANT_BASES = ("nmi", "qy", "qabf_liu", "qabf", "ifc", "vif", "ssim", "mi")
JPEG_QUALITIES = (75, 90, 95)
#: SSIM windows x data ranges (C1 = (0.01 L)^2, C2 = (0.03 L)^2) x combination
_SSIM_WINDOWS = {"g11": ("gaussian", 11), "g7": ("gaussian", 7), "u7": ("uniform", 7), "u11": ("uniform", 11)}
_SSIM_RANGES = (255.0, 1.0, 2.0)
#: Q_Y windows: name -> (window, size)
_QY_WINDOWS = {"g7": ("gaussian", 7), "g11": ("gaussian", 11), "box7": ("box", 7), "box8": ("box", 8),
               "box11": ("box", 11)}
#: the axes of generated conventions (``--axes``)
AXES = ("parts", "hist", "gray", "jpeg", "window", "range")


def _variant_conventions(specs: dict[str, Any], axes: set[str]) -> list[Convention]:
    """Gray-conversion, JPEG, window and data-range variants of the registered metrics ``specs``."""
    from .conventions import GRAY_CONVERSIONS, QY_CONSTANTS

    out: list[Convention] = []
    bases = [b for b in VARIANT_BASES if b in specs and specs[b].input == "gray"]
    if "gray" in axes:
        for b in bases:
            for g, (_, desc) in GRAY_CONVERSIONS.items():
                if g != "matlab":
                    out.append(Convention(f"{b}~gray={g}", b, {**specs[b].params, "gray": g},
                                          f"{b} with colour images converted by {desc}", generated=True,
                                          quantity=specs[b].measures, axis="gray", view={"gray": g}))
    if "jpeg" in axes:
        for b in bases:
            for q in JPEG_QUALITIES:
                out.append(Convention(f"{b}~jpeg{q}", b, {**specs[b].params, "fused_jpeg_quality": q},
                                      f"{b} on the fused image re-encoded as JPEG quality {q} (cv2.imencode)",
                                      generated=True, quantity=specs[b].measures, axis="jpeg", view={"jpeg": q}))
    if "window" in axes or "range" in axes:
        if "ssim" in specs:
            for wn, (window, size) in _SSIM_WINDOWS.items():
                for dr in _SSIM_RANGES:
                    if (wn, dr) == ("g11", 255.0) or ("window" not in axes and wn != "g11") \
                            or ("range" not in axes and dr != 255.0):
                        continue
                    ax = "window" if dr == 255.0 else "range"
                    for combine in ("mean", "sum"):
                        ov = {"window": window, "size": size, "sigma": 1.5, "data_range": dr, "combine": combine}
                        out.append(Convention(f"ssim~{wn}~L{dr:g}~{combine}", "ssim", ov,
                                              f"SSIM {combine} over sources, {size}x{size} {window} window, "
                                              f"C1=(0.01*{dr:g})^2, C2=(0.03*{dr:g})^2", generated=True,
                                              quantity="ssim", axis=ax, override=ov))
        if "qy" in specs:
            for wn, (window, size) in _QY_WINDOWS.items():
                for cn in QY_CONSTANTS:
                    if (wn, cn) == ("g7", "liu") or ("window" not in axes and wn != "g7") \
                            or ("range" not in axes and cn != "liu"):
                        continue
                    ov = {"window": window, "size": size, "sigma": 1.5, "constants": cn}
                    out.append(Convention(f"qy~{wn}~C={cn}", "qy", ov,
                                          f"Q_Y (metricYang rule) with a {size}x{size} {window} window, "
                                          f"SSIM constants {cn}", generated=True, quantity="qy",
                                          axis="window" if cn == "liu" else "range", override=ov,
                                          impl="qy_variant"))
    if "range" in axes:
        for b in ("ifc", "vif"):
            if b in specs:
                out.append(Convention(f"{b}~range=0..1", b, {**specs[b].params, "image_range": "0..1"},
                                      f"{b} on images scaled to 0..1 (sigma_nsq unchanged)", generated=True,
                                      quantity=specs[b].measures, axis="range", view={"scale": 1 / 255}))
    return out


# -- the catalogue ---------------------------------------------------------------------------
def catalogue(metrics: Sequence[str] | None = None, quantities: Sequence[str] | None = None,
              generated: bool = True, axes: Sequence[str] | None = None) -> list[Convention]:
    """Every convention (registered configurations first, then generated variants).

    ``metrics`` keeps registered configurations of those names (and their generated variants);
    ``quantities`` keeps conventions measuring those quantities (``nmi``, ``ssim``); ``generated``
    False drops the generated variants; ``axes`` keeps only generated variants along those axes
    (a subset of :data:`AXES`; default all).
    """
    from .registry import METRICS, discover

    discover()
    want_m = set(metrics) if metrics else None
    want_q = set(quantities) if quantities else None
    want_a = set(AXES if axes is None else axes)
    if want_a - set(AXES):
        raise InputError(f"identify --axes: unknown axis {', '.join(sorted(want_a - set(AXES)))} "
                         f"(axes: {', '.join(AXES)})")
    if want_m:
        unknown = sorted(want_m - set(METRICS))
        if unknown:
            raise InputError(f"identify --metrics: unknown metric(s) {', '.join(unknown)}")
    out: list[Convention] = []
    gen: list[Convention] = []
    specs = {}
    for s in METRICS.values():
        if want_m is not None and s.name not in want_m:
            continue
        if want_q is not None and s.measures not in want_q:
            continue
        specs[s.name] = s
        out.append(Convention(s.name, s.name, dict(s.params), s.description, quantity=s.measures))
        if generated and "parts" in want_a and {"ir", "vi"} <= set(s.parts):
            for r in ("sum", "mean", "max"):
                gen.append(Convention(f"{s.name}~{r}", s.name, {**s.params, "over_sources": r},
                                      f"{s.name}: {r} of the .ir and .vi parts", reduce=r,
                                      generated=True, quantity=s.measures, axis="parts"))
    if generated:
        if want_m is None and "hist" in want_a:
            gen += [c for c in _family_conventions() if want_q is None or c.quantity in want_q]
        gen += _variant_conventions(specs, want_a)
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
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": CACHE_VERSION, "values": self.data}, sort_keys=True))
        os.replace(tmp, self.path)
        self.dirty = False


def _reduce(vals: dict[str, float], c: Convention, name: str | None = None) -> float:
    name = name or c.base
    if c.reduce == "total":
        return vals[name]
    a, b = vals[f"{name}.ir"], vals[f"{name}.vi"]
    return {"sum": a + b, "mean": (a + b) / 2, "max": max(a, b)}[c.reduce]


def _views(raw: Sequence[np.ndarray]) -> Callable[[dict[str, Any]], tuple[str, list[np.ndarray]]]:
    """``view(spec) -> (digest, [ir, vi, fused] gray float64)`` for one pair, each view built once;
    views that give the same pixels share a digest (a gray image makes every gray conversion equal)."""
    from .conventions import gray_view, jpeg_roundtrip

    built: dict[tuple, tuple[str, list[np.ndarray]]] = {}

    def view(spec: dict[str, Any]) -> tuple[str, list[np.ndarray]]:
        key = (spec.get("gray", "matlab"), spec.get("jpeg"), spec.get("scale", 1.0))
        if key not in built:
            g, q, s = key
            ir, vi, f = raw
            if q is not None:
                f = jpeg_roundtrip(f, q)
            imgs = [gray_view(x, g) for x in (ir, vi, f)]
            if s != 1.0:
                imgs = [x * s for x in imgs]
            h = hashlib.sha1()
            for x in imgs:
                h.update(str(x.shape).encode())
                h.update(np.ascontiguousarray(x, np.float64).tobytes())
            built[key] = (h.hexdigest(), imgs)
        return built[key]

    return view


def _variant_values(raw: Sequence[np.ndarray], convs: Sequence[Convention]) -> dict[str, float]:
    """Values of the view/override/implementation variants; one evaluation per distinct
    (implementation, parameters, image pixels)."""
    from . import conventions
    from .errors import FusionbenchError
    from .registry import METRICS

    view = _views(raw)
    memo: dict[tuple, Any] = {}
    out: dict[str, float] = {}
    for c in convs:
        digest, imgs = view(c.view)
        spec = METRICS[c.base]
        params = c.override if c.override else dict(spec.params)
        key = (c.impl or c.base, json.dumps(params, sort_keys=True), digest)
        if key not in memo:
            fn = getattr(conventions, c.impl) if c.impl else spec.fn
            try:
                memo[key] = fn(*imgs, **params)
            except (FusionbenchError, ValueError, ZeroDivisionError):
                memo[key] = math.nan
        v = memo[key]
        if isinstance(v, dict):
            parts = {c.base: v["total"], **{f"{c.base}.{k}": x for k, x in v.items() if k != "total"}}
            try:
                out[c.name] = float(_reduce(parts, c))
            except KeyError:
                out[c.name] = math.nan
        else:
            out[c.name] = float(v)
    return out


def image_values(raw: Sequence[np.ndarray], convs: Sequence[Convention]) -> dict[str, float]:
    """Values of ``convs`` on one pair's raw images (ir, vi, fused as read); NaN where one fails."""
    from .api import compute_metric
    from .imageio import to_gray_float
    from .errors import FusionbenchError
    from .registry import METRICS

    gray = [to_gray_float(a) for a in raw]
    out: dict[str, float] = {}
    groups: dict[str, list[Convention]] = {}
    for c in convs:
        groups.setdefault(c.group, []).append(c)
    for g, cs in groups.items():
        if g == "~hist":
            out.update(_family_values(gray, cs))
            continue
        if g == "~variant":
            out.update(_variant_values(raw, cs))
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


def _load_dataset(dataset: str, data_root=None):
    """The dataset behind a store label (``roadscene`` or ``roadscene-all`` for a non-default split)."""
    from .data import is_registered_dataset, load_dataset

    if not is_registered_dataset(dataset) and "-" in dataset:
        name, split = dataset.rsplit("-", 1)
        if is_registered_dataset(name):
            return load_dataset(name, root=data_root, split=split)
    return load_dataset(dataset, root=data_root)


def _compute(tasks: list[tuple], jobs: int, log: Callable[[str], None] | None) -> Iterator[tuple[int, dict]]:
    """``(index, values)`` of every task ``(index, pair or (ir, vi) arrays, fused path, conventions)``,
    in this process (``jobs=1``) or a pool of ``jobs`` forked workers; results in completion order."""
    if jobs <= 1 or len(tasks) <= 1:
        for t in tasks:
            yield _pair_task(t)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(min(jobs, len(tasks)), mp_context=mp.get_context("fork")) as pool:
        futures = [pool.submit(_pair_task, t) for t in tasks]
        for fut in as_completed(futures):
            yield fut.result()


def _pair_task(task: tuple) -> tuple[int, dict[str, float]]:
    """One image's values (also the ``--jobs`` worker): ``(index, pair | (ir, vi), fused, convs)``."""
    idx, src, fused_path, convs = task
    from .executor import worker_setup
    from .imageio import read_image

    worker_setup()
    ir, vi = (src.ir_raw(), src.vi_raw()) if hasattr(src, "ir_raw") else src
    return idx, image_values([ir, vi, read_image(fused_path)], convs)


def collect(store, dataset: str, rows: Sequence[tuple[str, str, dict[str, str]]], convs: Sequence[Convention],
            pairs: Sequence[str] | None = None, data_root=None, log: Callable[[str], None] | None = None,
            jobs: int = 1) -> list[RowData]:
    """Per-pair values of every convention for each row's stored fused images (cache first).

    ``rows``: ``(row label, store method, {column: printed text})``. Values missing from the cache
    are computed once per (fused image, pair), in ``jobs`` processes; the cache and the result do
    not depend on ``jobs`` (each image's values are computed the same way, merged in a fixed order).
    """
    from .executor import portable
    from .registry import METRICS

    versions = {n: s.version for n, s in METRICS.items()}
    keys = {c.name: _conv_key(c, versions) for c in convs}
    ds = _load_dataset(dataset, data_root)
    by_name = {p.name: p for p in ds.pairs}
    cache = ValueCache(store.root / dataset / CACHE_NAME if (store.root / dataset).is_dir() else None)
    known = set(store.methods(dataset))
    plan = []        # (RowData, [(pair, cache entry key)])
    tasks: list[tuple] = []
    pending: dict[str, int] = {}   # cache entry key -> task index (one task per image)
    for label, method, printed in rows:
        if method not in known:
            raise InputError(f"identify: row {label!r}: method {method!r} has no results in the store for "
                             f"{dataset} (store methods: {', '.join(sorted(known)) or 'none'})")
        recs = store.records(dataset, method)
        names = [p for p in (pairs if pairs is not None else sorted(recs)) if p in recs and p in by_name]
        entries = []
        for p in names:
            sha = recs[p].get("fused_sha256")
            fused = store.fused_path(dataset, method, p)
            if not sha:
                sha = hashlib.sha256(fused.read_bytes()).hexdigest()
            ekey = f"{sha}|{p}"
            entry = cache.get(ekey)
            todo = [c for c in convs if keys[c.name] not in entry]
            if todo and ekey not in pending:
                pr = by_name[p]
                src = portable(pr) or (pr.ir_raw(), pr.vi_raw())
                pending[ekey] = len(tasks)
                tasks.append((len(tasks), src, fused, todo))
            entries.append((p, ekey))
        plan.append((RowData(label, method, printed, names), entries))
    if tasks:
        ekeys = {i: k for k, i in pending.items()}
        saved = time.monotonic()
        done = 0
        for idx, vals in _compute(tasks, jobs, log):
            entry = cache.get(ekeys[idx])
            for c in tasks[idx][3]:
                v = vals.get(c.name, math.nan)
                entry[keys[c.name]] = None if not math.isfinite(v) else v
            cache.dirty = True
            done += 1
            if log:
                log(f"  {ekeys[idx].split('|')[1]}: {len(tasks[idx][3])} configurations computed "
                    f"({done}/{len(tasks)} images)")
            if time.monotonic() - saved > 30:  # long runs: keep what is done
                cache.save()
                saved = time.monotonic()
        cache.save()
    out = []
    for rd, entries in plan:
        cols = {c.name: np.array([math.nan if (v := cache.get(ek)[keys[c.name]]) is None else float(v)
                                  for _, ek in entries], dtype=np.float64) for c in convs}
        rd.values = cols
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


# -- subset search: could other pairs explain a column? ------------------------------------------
#: exact enumeration of k-subsets up to this many; beyond it an integer program (scipy milp)
ENUM_LIMIT = 20000
#: conventions per column given the same-pairs check (best-ranked first among those passing the range check)
JOINT_CHECKS = 10


def parse_ks(text: str) -> list[int]:
    """``--subset`` values: ``20``, ``19-21`` or ``18,20``; positive integers, sorted."""
    out: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                out.update(range(min(a, b), max(a, b) + 1))
            else:
                out.add(int(part))
    except ValueError:
        raise InputError(f"identify --subset: expected sizes like 20, 19-21 or 18,20, got {text!r}") from None
    if not out or min(out) < 1:
        raise InputError(f"identify --subset: sizes must be positive, got {text!r}")
    return sorted(out)


def subset_range(values: np.ndarray, k: int) -> tuple[float, float]:
    """[mean of the k smallest, mean of the k largest] of ``values``: every k-subset mean lies inside
    (a necessary condition only: subset means are discrete, not every value inside is reached)."""
    v = np.sort(values)
    return float(v[:k].mean()), float(v[-k:].mean())


def joint_subset(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, k: int, time_limit: float = 5.0
                 ) -> tuple[str, list[int] | None]:
    """Is there ONE set of ``k`` columns of ``values`` (rows x pairs) whose row means all lie in
    ``[lo, hi]``? ``("feasible", indices)`` with a witness (checked exactly), ``("infeasible", None)``
    (proved: by enumeration when at most :data:`ENUM_LIMIT` subsets, else by the MILP solver), or
    ``("undecided", None)`` when the solver stops at ``time_limit`` seconds.
    """
    m = values.shape[1]
    if k > m:
        return "infeasible", None
    srt = np.sort(values, axis=1)
    if np.any(srt[:, -k:].mean(axis=1) < lo) or np.any(srt[:, :k].mean(axis=1) > hi):
        return "infeasible", None   # some row's range of k-subset means misses its interval

    def ok(idx) -> bool:
        mean = values[:, list(idx)].mean(axis=1)
        return bool(np.all((mean >= lo) & (mean <= hi)))

    if math.comb(m, k) <= ENUM_LIMIT:
        from itertools import combinations

        drop = m - k < k          # enumerate the left-out pairs when fewer
        width = m - k if drop else k
        combos = (np.array(list(combinations(range(m), width)), dtype=np.int64).reshape(-1, width) if width
                  else np.zeros((1, 0), np.int64))
        sums = values[:, combos].sum(axis=2)                          # rows x combos
        if drop:
            sums = values.sum(axis=1, keepdims=True) - sums
        mean = sums / k
        hit = np.all((mean >= lo[:, None]) & (mean <= hi[:, None]), axis=0)
        if not hit.any():
            return "infeasible", None
        c = combos[int(np.argmax(hit))]
        idx = sorted(set(range(m)) - set(c.tolist())) if drop else sorted(c.tolist())
        return ("feasible", idx) if ok(idx) else ("undecided", None)
    idx = _swap_search(values, lo, hi, k)
    if idx is not None and ok(idx):
        return "feasible", idx
    from scipy.optimize import Bounds, LinearConstraint, milp

    cons = [LinearConstraint(np.ones((1, m)), k, k), LinearConstraint(values, k * lo, k * hi)]
    res = milp(np.zeros(m), constraints=cons, integrality=np.ones(m), bounds=Bounds(0, 1),
               options={"time_limit": time_limit, "disp": False})
    if res.status == 0 and res.x is not None:
        idx = sorted(int(i) for i in np.flatnonzero(res.x > 0.5))
        return ("feasible", idx) if len(idx) == k and ok(idx) else ("undecided", None)
    if res.status == 2:
        return "infeasible", None
    return "undecided", None


def _swap_search(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, k: int, starts: int = 4,
                 seed: int = 0) -> list[int] | None:
    """A k-subset whose row means lie in [lo, hi], by best-improvement single swaps (random kicks
    when stuck) from a few seeded random starts: finds one fast when many exist; proves nothing
    when it finds none."""
    m = values.shape[1]
    centre, half = (lo + hi) / 2, np.maximum((hi - lo) / 2, 1e-300)
    rng = np.random.default_rng(seed)
    for _ in range(starts):
        inside = np.zeros(m, bool)
        inside[rng.choice(m, k, replace=False)] = True
        sums = values[:, inside].sum(axis=1)
        for _ in range(25 * m):
            dev = (sums / k - centre) / half
            if np.all(np.abs(dev) <= 1):
                return sorted(np.flatnonzero(inside).tolist())
            ins, outs = np.flatnonzero(inside), np.flatnonzero(~inside)
            if not len(outs):
                break
            # new sums for every swap (i out, j in): rows x |ins| x |outs|
            new = sums[:, None, None] - values[:, ins, None] + values[:, None, outs]
            cost = (((new / k - centre[:, None, None]) / half[:, None, None]) ** 2).sum(axis=0)
            a, b = np.unravel_index(int(np.argmin(cost)), cost.shape)
            if cost[a, b] >= (dev ** 2).sum():   # stuck: kick with two random swaps
                for _ in range(2):
                    i, j = rng.choice(np.flatnonzero(inside)), rng.choice(np.flatnonzero(~inside))
                    inside[i], inside[j] = False, True
                    sums = sums - values[:, i] + values[:, j]
                continue
            inside[ins[a]], inside[outs[b]] = False, True
            sums = new[:, a, b]
    return None


def _bounds(used: Sequence[RowData], label: str, tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = np.array([float(r.printed[label]) for r in used])
    u = np.array([10.0 ** -decimals(r.printed[label]) for r in used])
    return p, p - tol * u, p + tol * u


def subset_column(label: str, rows: Sequence[RowData], ranked: Sequence[dict[str, Any]], ks: Sequence[int],
                  tol: float = FIT_UNITS, joint_checks: int = JOINT_CHECKS) -> dict[str, Any]:
    """Could a k-subset of the stored pairs explain a column, for some convention of ``ranked``?

    1. Range check (every ranked convention, every ``k``): each row's printed value must be within
       ``tol`` last-digit units of ``[mean of its k smallest, mean of its k largest]`` values over
       the row's own pairs. Failing it, no k-subset can explain the column under that convention.
    2. Same-pairs check (the first ``joint_checks`` conventions passing 1, best-ranked first): is
       there one set of k pairs, common to every row, whose means reproduce all rows within ``tol``
       (:func:`joint_subset`)? A found subset is one explanation, not an identification.
    """
    used = [r for r in rows if r.printed.get(label, "").strip() and r.pairs]
    out: dict[str, Any] = {"k": list(ks), "pool": {r.row: len(r.pairs) for r in used}}
    if not used:
        return {**out, "verdict": "no row"}
    shared = sorted(set.intersection(*(set(r.pairs) for r in used)))
    out["shared_pool"] = len(shared)
    _, lo, hi = _bounds(used, label, tol)
    passing: list[tuple[str, list[int]]] = []
    for e in ranked:
        good = []
        for k in ks:
            fine = True
            for r, a, b in zip(used, lo, hi):
                v = r.values[e["metric"]]
                if k > len(v) or not np.all(np.isfinite(v)):
                    fine = False
                    break
                rmin, rmax = subset_range(v, k)
                if rmax < a or rmin > b:
                    fine = False
                    break
            if fine:
                good.append(k)
        if good:
            passing.append((e["metric"], good))
    out["range_ok"] = len(passing)
    out["range_ok_k"] = {str(k): sum(k in good for _, good in passing) for k in ks}
    out["range_checked"] = len(ranked)
    checks = []
    too_few = len(shared) < min(ks)
    for name, good in ([] if too_few else passing[:joint_checks]):
        for k in good:
            if k > len(shared):
                checks.append({"metric": name, "k": k, "joint": "infeasible",
                               "why": f"the rows share only {len(shared)} pairs"})
                continue
            vals = np.array([[r.values[name][r.pairs.index(p)] for p in shared] for r in used])
            status, idx = joint_subset(vals, lo, hi, k)
            item: dict[str, Any] = {"metric": name, "k": k, "joint": status}
            if idx is not None:
                chosen = [shared[i] for i in idx]
                item["left_out"] = [p for p in shared if p not in chosen]
                item["means"] = {r.row: float(v.mean()) for r, v in zip(used, vals[:, idx])}
            checks.append(item)
    out["joint"] = checks
    feas = [c for c in checks if c["joint"] == "feasible"]
    ktext = f"k={ks[0]}" if len(ks) == 1 else f"k={ks[0]}..{ks[-1]}"
    if not passing:
        out["verdict"] = (f"no {ktext} subset of the stored pairs can explain it under any of the "
                          f"{len(ranked)} conventions (range check)")
    elif too_few:
        out["verdict"] = (f"range check passes for {len(passing)} of {len(ranked)} conventions (each row on its "
                          f"own pairs), but the rows share only {len(shared)} stored pairs: no common {ktext} "
                          "subset exists among them (check rows separately)")
    elif feas:
        f0 = feas[0]
        out["verdict"] = (f"a k-subset could explain it (not identified): {f0['metric']} with k={f0['k']} "
                          f"(e.g. leaving out {_pairs_text(f0['left_out'])}); range check passes "
                          f"for {len(passing)} of {len(ranked)} conventions")
    else:
        und = any(c["joint"] == "undecided" for c in checks)
        out["verdict"] = (f"range check passes for {len(passing)} of {len(ranked)} conventions, but no single "
                          f"set of pairs fits every row for the {min(len(passing), joint_checks)} checked"
                          + (" (some undecided: solver time limit)" if und else "")
                          + ("" if len(passing) <= joint_checks else "; the others were not checked"))
    return out


def _pairs_text(names: Sequence[str], most: int = 6) -> str:
    if not names:
        return "nothing"
    if len(names) <= most:
        return ", ".join(names)
    return f"{len(names)} pairs, listed in the JSON output"


def _none_at(s: dict[str, Any], k: int) -> bool:
    """True when :func:`subset_column` proved that no convention explains the column with k pairs."""
    n = s.get("range_ok_k", {}).get(str(k), 0)
    checks = [c for c in s.get("joint", []) if c["k"] == k]
    return n == 0 or (len(checks) == n and all(c["joint"] == "infeasible" for c in checks))


def subset_table(rows: Sequence[RowData], columns: dict[str, dict[str, Any]], tol: float = FIT_UNITS
                 ) -> list[dict[str, Any]]:
    """Table-level check: per k, one set of pairs for EVERY column, each under the first convention
    found feasible for it alone (:func:`subset_column`); other convention choices are not checked."""
    firsts: dict[int, dict[str, str]] = {k: {} for s in columns.values() for k in s.get("k", [])}
    for label, s in columns.items():
        for c in s.get("joint", []):
            if c["joint"] == "feasible":
                firsts[c["k"]].setdefault(label, c["metric"])
    out = []
    labels = list(columns)
    for k, chosen in sorted(firsts.items()):
        if set(chosen) != set(labels):
            missing = sorted(set(labels) - set(chosen))
            proved = all(_none_at(columns[lab], k) for lab in missing)
            out.append({"k": k, "joint": "infeasible" if proved else "none found",
                        "why": f"no convention explains {', '.join(missing)} with k={k} pairs"
                        + (" (every convention ruled out)" if proved else " among those checked")})
            continue
        blocks, los, his, shared = [], [], [], None
        for label, name in chosen.items():
            used = [r for r in rows if r.printed.get(label, "").strip() and r.pairs]
            pool = set.intersection(*(set(r.pairs) for r in used))
            shared = pool if shared is None else shared & pool
        shared_l = sorted(shared or ())
        for label, name in chosen.items():
            used = [r for r in rows if r.printed.get(label, "").strip() and r.pairs]
            _, lo, hi = _bounds(used, label, tol)
            blocks.append(np.array([[r.values[name][r.pairs.index(p)] for p in shared_l] for r in used]))
            los.append(lo)
            his.append(hi)
        status, idx = joint_subset(np.vstack(blocks), np.concatenate(los), np.concatenate(his), k) \
            if len(shared_l) >= k else ("infeasible", None)
        item: dict[str, Any] = {"k": k, "conventions": chosen, "joint": status}
        if idx is not None:
            item["left_out"] = [p for i, p in enumerate(shared_l) if i not in idx]
        out.append(item)
    return out


def identify(store, dataset: str, rows, convs, *, pairs=None, data_root=None, top: int | None = 10,
             log=None, column_quantities: dict[str, set[str]] | None = None, jobs: int = 1,
             subset_ks: Sequence[int] | None = None) -> dict[str, Any]:
    """``{"columns": {label: ranked list}, "rows": {row: {method, n}}}`` for one table.

    ``column_quantities``: per column label, the quantities its candidates must measure (none:
    the whole catalogue competes). ``jobs``: processes computing per-image values. ``subset_ks``:
    also ask, per column, whether a subset of that many stored pairs could explain it
    (:func:`subset_column`, under ``"subsets"``; the table-level check under ``"subset_table"``).
    """
    data = collect(store, dataset, rows, convs, pairs=pairs, data_root=data_root, log=log, jobs=jobs)
    labels = list(dict.fromkeys(k for r in data for k in r.printed))
    ranked = {lab: rank_column(lab, data, convs, None, (column_quantities or {}).get(lab)) for lab in labels}
    out: dict[str, Any] = {"dataset": dataset, "catalogue_size": len(convs),
                           "rows": {r.row: {"method": r.method, "n": len(r.pairs)} for r in data},
                           "columns": {lab: (v[:top] if top else v) for lab, v in ranked.items()}}
    if subset_ks:
        out["subsets"] = {lab: subset_column(lab, data, ranked[lab], subset_ks) for lab in labels}
        out["subset_table"] = subset_table(data, out["subsets"])
    return out


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
        sub = result.get("subsets", {}).get(lab)
        if sub:
            lines.append(f"  subsets (k={','.join(map(str, sub['k']))}; pairs per row "
                         + ", ".join(f"{k}={v}" for k, v in sub["pool"].items())
                         + f"; shared by all rows: {sub.get('shared_pool', 0)}): {sub['verdict']}")
            for c in sub.get("joint", [])[:top]:
                extra = (f", left out: {_pairs_text(c['left_out'])}" if "left_out" in c
                         else f" ({c['why']})" if "why" in c else "")
                lines.append(f"    same pairs for every row: {c['metric']} k={c['k']}: {c['joint']}{extra}")
    for t in result.get("subset_table", []):
        conv = "; ".join(f"{k}: {v}" for k, v in t.get("conventions", {}).items())
        extra = f" ({t['why']})" if "why" in t else (f"; left out: {_pairs_text(t['left_out'])}"
                                                     if "left_out" in t else "")
        lines.append(f"\none set of {t['k']} pairs for all columns{' (' + conv + ')' if conv else ''}: "
                     f"{t['joint']}{extra}" + (" (only the first feasible convention of each column is tried)"
                                               if conv else ""))
    return "\n".join(lines)
