"""A self-contained static HTML report of one dataset in the result store.

``build_report(store, dataset, out_dir)`` writes::

    out_dir/index.html        means with 95% CIs, best/second, significance marks (sortable),
                              the per-comparison statistics, ranks + CD diagram, plots, gallery
    out_dir/metrics.html      every metric shown: name, direction, description, reference, version
    out_dir/provenance.html   fusionbench version, store path, data root, methods' parameters,
                              weights hashes, library versions
    out_dir/assets/           report.css and report.js (written by fusionbench, no CDN)
    out_dir/fig/              CD diagram, box and per-pair plots (PNG, and the CD also as SVG)
    out_dir/img/              fused images and sources as PNG, with thumbnails (img/thumbs/)

No server and no network: open ``index.html`` from disk. The JavaScript (sorting, zoom) is
fusionbench's own few lines; ``index.html#selftest`` runs a self-check (sorts every column, checks
that every image loaded) and writes the result as JSON into the page, which the browser test
reads with ``chromium --headless --dump-dom``.

Source images come from the dataset (:func:`fusionbench.data.load_dataset` with ``data_root``,
else ``$FUSIONBENCH_DATA``); when they cannot be loaded the gallery shows the fused images only
and says why.
"""
from __future__ import annotations

import html
import json
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FusionbenchError, InputError
from .stats import ALPHA, LEVEL, N_RESAMPLES, SEED, StatsReport, StatsRow

ASSETS = Path(__file__).parent / "report_assets"
THUMB = 160   # thumbnail: longest side in pixels
BEST_TD = '<td class="best">'

esc = html.escape


def _fmt(v: float | None, nd: int = 4) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{v:.{nd}f}"


def _pfmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{v:.2e}" if v < 1e-3 else f"{v:.4f}"


def _num(v: float | None) -> str:
    return "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else repr(float(v))


def _page(title: str, body: str, dataset: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<link rel="stylesheet" href="assets/report.css">
</head><body>
<header><h1>{esc(title)}</h1>
<nav><a href="index.html">results</a><a href="index.html#gallery">gallery</a>
<a href="metrics.html">metrics</a><a href="provenance.html">provenance</a></nav></header>
<main>
{body}
</main>
<script src="assets/report.js"></script>
</body></html>
"""


def _save_png(path: Path, img: np.ndarray, thumb: int | None = None) -> tuple[int, int]:
    from PIL import Image

    a = np.asarray(img)
    if a.dtype != np.uint8:
        a = np.clip(np.floor(a.astype(np.float64) + 0.5), 0, 255).astype(np.uint8)
    im = Image.fromarray(a)
    if thumb:
        im.thumbnail((thumb, thumb), Image.Resampling.LANCZOS)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, format="PNG", optimize=False)
    return im.size


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


# ------------------------------------------------------------------------------------------
def _means_table(rep: StatsReport, dataset: str, methods: list[str], metrics: list[str],
                 alpha: float) -> tuple[str, list[str]]:
    """The sortable means table and its footnotes."""
    from .stats import higher_is_better, metric_label, significance_flags, values_of
    from .tables import rank_marks

    frame = rep.frames[dataset]
    by = {(r.method, r.metric): r for r in rep.rows if r.dataset == dataset}
    cols = []
    for metric in metrics:
        hib = higher_is_better(metric)
        means = [by[(m, metric)].mean if (m, metric) in by else None for m in methods]
        marks = rank_marks(means, hib)
        best = [m for m, k in zip(methods, marks) if k == "best"]
        second = [m for m, k in zip(methods, marks) if k == "second"]
        pair = None
        if len(best) == 1 and second:
            a, b = values_of(frame, best[0], metric), values_of(frame, second[0], metric)
            common = a.index.intersection(b.index)
            pair = (a.loc[common].to_numpy(), b.loc[common].to_numpy(), hib)
        cols.append((metric, hib, marks, best, second, pair))
    flags = significance_flags([c[5] for c in cols], alpha)
    head = ['<th data-metric="method">method</th>', '<th data-metric="n" data-better="high">pairs</th>']
    for metric, hib, *_ in cols:
        head.append(f'<th data-metric="{esc(metric)}" data-better="{"high" if hib else "low"}">'
                    f'{esc(metric_label(metric))}</th>')
    body = []
    for i, m in enumerate(methods):
        n = max((by[(m, c)].n for c in metrics if (m, c) in by), default=0)
        cells = [f"<td>{esc(m)}</td>", f'<td data-value="{n}">{n}</td>']
        for (metric, hib, marks, best, second, pair), fl in zip(cols, flags):
            r = by.get((m, metric))
            if r is None:
                cells.append('<td data-value="">n/a</td>')
                continue
            cls = [marks[i]] if marks[i] else []
            if rep.against and m == rep.against:
                cls.append("reference")
            sig = ""
            if rep.against and r.significant:
                direction = "better" if (r.median_diff or 0) > 0 else "worse"
                sig += (f'<span class="sig" title="{direction} than {esc(rep.against)}: '
                        f'p_holm = {_pfmt(r.p_holm)}">*</span>')
            if marks[i] == "best" and fl is not None and not fl["significant"]:
                sig += (f'<span class="sig" title="not significantly better than {esc(second[0])} '
                        f'(p_holm = {_pfmt(fl["p_holm"])})">&dagger;</span>')
            title = f"n = {r.n}" + (f"; {r.note}" if r.note else "")
            cells.append(f'<td class="{" ".join(cls)}" data-value="{_num(r.mean)}" title="{esc(title)}">'
                         f'{_fmt(r.mean)}{sig}<br><span class="ci">[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]</span></td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    table = (f'<table id="means" class="sortable-table" data-methods="{len(methods)}"><thead><tr>'
             + "".join(head) + "</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>")
    notes = [f"Mean over pairs; below it the {int(LEVEL * 100)}% percentile bootstrap CI of the mean "
             f"({N_RESAMPLES} resamples, seed {SEED}). Best <b>bold</b>, second <u>underlined</u> "
             "(by mean, 4 decimals). Click a header to sort (first click: best first)."]
    dag = []
    for (metric, hib, marks, best, second, pair), fl in zip(cols, flags):
        if fl is None:
            continue
        verdict = "significantly better" if fl["significant"] else "not significantly better (&dagger;)"
        dag.append(f"{esc(metric)}: {esc(best[0])} vs {esc(second[0])} on {fl['n']} common pairs: "
                   f"{fl['wins']}/{fl['losses']}/{fl['ties']} W/L/T, p = {_pfmt(fl['p'])}, "
                   f"p_holm = {_pfmt(fl['p_holm'])}: {verdict}")
    if dag:
        notes.append("&dagger; the best mean is not significantly better than the second (two-sided Wilcoxon "
                     f"signed-rank on the common pairs, Holm across the {len(dag)} columns, alpha = {alpha}"
                     ", and more wins than losses): " + "; ".join(dag) + ".")
    if rep.against:
        notes.append(f"<span class=\"sig\">*</span> differs significantly from the reference "
                     f"<b>{esc(rep.against)}</b> (two-sided Wilcoxon signed-rank on common pairs, Holm over "
                     f"all {sum(r.p is not None for r in rep.rows)} comparisons, p_holm &lt; {alpha}); "
                     "hover for the direction and p.")
    partial = sorted({f"{r.method} ({r.metric}: {r.note})" for r in rep.rows
                      if r.dataset == dataset and "pairs" in r.note})
    if partial:
        notes.append("Partial rows (compared on their common pairs only): " + esc("; ".join(partial)) + ".")
    return table, notes


def _stats_table(rows: Sequence[StatsRow], against: str | None) -> str:
    from .stats import metric_label

    head = ["method", "metric", "n", "mean", "std", "median", "CI low", "CI high"]
    if against:
        head += ["W", "L", "T", "median &Delta;", "win %", "p", "p test", "p_holm"]
    head.append("note")
    ths = "".join(f"<th>{h}</th>" for h in head)
    body = []
    for r in rows:
        c = [f"<td>{esc(r.method)}</td>", f"<td>{esc(metric_label(r.metric))}</td>",
             f'<td data-value="{r.n}">{r.n}</td>']
        c += [f'<td data-value="{_num(v)}">{_fmt(v)}</td>' for v in (r.mean, r.std, r.median, r.ci_low, r.ci_high)]
        if against:
            for v in (r.wins, r.losses, r.ties):
                c.append(f'<td data-value="{"" if v is None else v}">{"" if v is None else v}</td>')
            c.append(f'<td data-value="{_num(r.median_diff)}">{_fmt(r.median_diff) if r.wins is not None else ""}</td>')
            wf = None if r.win_fraction is None else 100 * r.win_fraction
            c.append(f'<td data-value="{_num(wf)}">{_fmt(wf, 0) if r.wins is not None else ""}</td>')
            c.append(f'<td data-value="{_num(r.p)}">{_pfmt(r.p) if r.wins is not None else ""}</td>')
            c.append(f"<td>{esc(r.p_method or '')}</td>")
            mark = ' <span class="sig">*</span>' if r.significant else ""
            c.append(f'<td data-value="{_num(r.p_holm)}">{(_pfmt(r.p_holm) + mark) if r.wins is not None else ""}</td>')
        c.append(f"<td>{esc(r.note)}</td>")
        body.append("<tr>" + "".join(c) + "</tr>")
    return (f'<table id="stats" class="sortable-table"><thead><tr>{ths}</tr></thead><tbody>\n'
            + "\n".join(body) + "\n</tbody></table>")


def _figures(rep: StatsReport, dataset: str, out: Path, methods: list[str], metrics: list[str]) -> str:
    from .plots import dist_plot, pairs_plot, save_figure, scatter_plot
    from .stats import cd_diagram, metric_label, render_ranking

    figs: list[tuple[str, str]] = []
    parts = []
    if rep.ranking is not None:
        cd_diagram(rep.ranking, out / "fig" / "cd.png")
        cd_diagram(rep.ranking, out / "fig" / "cd.svg")
        figs.append(("fig/cd.png", f"Critical-difference diagram: mean rank over {rep.ranking.blocks}; "
                     f"bars join methods within the Nemenyi CD = {rep.ranking.cd:.2f} (alpha {rep.ranking.alpha}). "
                     "SVG: fig/cd.svg"))
        parts.append(f"<pre>{esc(render_ranking(rep.ranking))}</pre>")
    frame = rep.frames[dataset]
    for metric in metrics:
        fn = _safe(metric)
        save_figure(dist_plot(frame, metric, methods, kind="box"), out / "fig" / f"box_{fn}.png")
        figs.append((f"fig/box_{fn}.png", f"{metric_label(metric)} over pairs (box: quartiles, white dot: mean)"))
        save_figure(pairs_plot(frame, metric, methods), out / "fig" / f"pairs_{fn}.png")
        figs.append((f"fig/pairs_{fn}.png", f"{metric_label(metric)} per pair (legend: mean)"))
    if len(metrics) >= 2:
        save_figure(scatter_plot(frame, metrics[0], metrics[1], methods), out / "fig" / "scatter.png")
        figs.append(("fig/scatter.png", f"mean {metric_label(metrics[0])} vs {metric_label(metrics[1])} "
                     "with 95% bootstrap CIs"))
    parts.append('<div class="figs">' + "".join(
        f'<figure><a class="zoom" href="{src}" title="{esc(cap)}"><img src="{src}" alt="{esc(cap)}"></a>'
        f"<figcaption>{esc(cap)}</figcaption></figure>" for src, cap in figs) + "</div>")
    return "\n".join(parts)


def _gallery(store, dataset: str, out: Path, methods: list[str], metrics: list[str], frame,
             data_root, split, thumb: int) -> tuple[str, dict[str, Any]]:
    from .data import data_root as resolve_root
    from .data import load_dataset
    from .imageio import read_image
    from .stats import higher_is_better, metric_label
    from .store import method_dirname
    from .tables import rank_marks

    info: dict[str, Any] = {}
    sources: dict[str, Any] = {}
    why = ""
    try:
        name, split = _dataset_of(store, dataset, split)
        ref = load_dataset(name, root=data_root, split=split)
        sources = {p.name: p for p in ref.pairs}
        info["sources"] = f"from dataset {dataset!r} (data root {resolve_root(data_root)})"
    except FusionbenchError as exc:
        why = str(exc).splitlines()[0]
        info["sources"] = f"not shown: {why}"
    names = sorted(set(frame["pair"]))
    vals = {(m, p, k): v for m, p, k, v in frame.itertuples(index=False)}
    rows = []
    n_img = 0
    for p in names:
        cells = []

        def img_cell(full: Path | None, arr, label: str, key: str) -> str:
            nonlocal n_img
            rel_full = f"img/{key}.png"
            rel_th = f"img/thumbs/{key}.png"
            if full is not None:
                a = read_image(full)
            else:
                a = arr
            (out / rel_full).parent.mkdir(parents=True, exist_ok=True)
            if full is not None and full.suffix.lower() == ".png":
                shutil.copyfile(full, out / rel_full)
            else:
                _save_png(out / rel_full, a)
            _save_png(out / rel_th, a, thumb)
            n_img += 1
            return (f'<td><a class="zoom" href="{rel_full}" title="{esc(p)}: {esc(label)}">'
                    f'<img src="{rel_th}" alt="{esc(label)}"></a><span class="label">{esc(label)}</span></td>')

        pair = sources.get(p)
        if pair is not None:
            try:
                cells.append(img_cell(None, pair.ir_raw(), "infrared", f"src/{_safe(p)}_ir"))
                cells.append(img_cell(None, pair.vi_raw(), "visible", f"src/{_safe(p)}_vi"))
            except FusionbenchError as exc:
                cells.append(f"<td>source unreadable: {esc(str(exc).splitlines()[0])}</td>")
        for m in methods:
            f = store.fused_path(dataset, m, p)
            if f.exists():
                cells.append(img_cell(f, None, m, f"fused/{method_dirname(m)}/{_safe(p)}"))
            else:
                cells.append(f'<td class="label">{esc(m)}: no image</td>')
        sc = ['<table class="scores"><tr><th></th>' +
              "".join(f"<th>{esc(metric_label(k))}</th>" for k in metrics) + "</tr>"]
        best = {}
        for k in metrics:
            col = [vals.get((m, p, k)) for m in methods]
            best[k] = dict(zip(methods, rank_marks(col, higher_is_better(k))))
        for m in methods:
            sc.append(f"<tr><td>{esc(m)}</td>" + "".join(
                (BEST_TD if best[k][m] == "best" else "<td>") + f"{_fmt(vals.get((m, p, k)))}</td>"
                for k in metrics) + "</tr>")
        sc.append("</table>")
        cells.append("<td>" + "".join(sc) + "</td>")
        rows.append(f'<tr id="pair-{esc(_safe(p))}"><th>{esc(p)}</th>' + "".join(cells) + "</tr>")
    head = ('<table class="gallery"><thead><tr><th>pair</th>' +
            ("<th>infrared</th><th>visible</th>" if sources else "") +
            "".join(f"<th>{esc(m)}</th>" for m in methods) + "<th>scores</th></tr></thead><tbody>\n")
    note = ("" if sources else
            f'<p class="warn">Source images not shown ({esc(why)}); pass --data-root or set '
            "FUSIONBENCH_DATA. The gallery shows the fused images only.</p>")
    info["images"] = n_img
    return (note + "<p class=\"note\">One row per pair; click an image to zoom (Esc or click to close). "
            "Scores beside: the pair's values, best in bold.</p>"
            + head + "\n".join(rows) + "\n</tbody></table>"), info


def _dataset_of(store, label: str, split: str | None) -> tuple[str, str | None]:
    """The registered dataset (and split) a store folder holds, from its methods' ``method.json``."""
    for info in store.method_infos(label).values():
        name = info.get("dataset_name")
        if isinstance(name, str):
            return name, split or info.get("split")
    return label, split


def _metrics_page(metrics: list[str]) -> str:
    from .errors import UnknownNameError
    from .registry import get_metric

    rows = []
    for m in metrics:
        try:
            s = get_metric(m)
        except UnknownNameError:
            s = None
        if s is None:
            rows.append(f"<tr><td>{esc(m)}</td><td colspan=5>not registered in this fusionbench</td></tr>")
            continue
        params = ", ".join(f"{k}={v}" for k, v in s.params.items())
        rows.append(f"<tr><td>{esc(m)}</td><td>{esc(s.label or m)}</td><td>{esc(s.arrow)} "
                    f"({'higher' if s.higher_is_better else 'lower'} is better)</td>"
                    f"<td style='text-align:left;white-space:normal'>{esc(s.description)}</td>"
                    f"<td style='text-align:left;white-space:normal'>{esc(s.reference)}</td>"
                    f"<td>{esc(s.version)}</td><td>{esc(params)}</td></tr>")
    return ('<h2>Metrics</h2><table id="metrics" class="sortable-table"><thead><tr><th>name</th><th>label</th>'
            "<th>direction</th><th>description</th><th>reference code followed</th><th>version</th>"
            "<th>parameters</th></tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>")


def _weight_hashes(params: dict[str, Any]) -> dict[str, str]:
    """SHA-256 of every parameter that names an existing file (weights, projection matrices)."""
    from .store import sha256_file

    out = {}
    for k, v in params.items():
        if isinstance(v, dict) and "sha256" in v:       # resolved weights: {"file": ..., "sha256": ...}
            out[k] = f"{v.get('file', v.get('path', ''))} sha256:{v['sha256']}"
        elif isinstance(v, str) and v and os.path.isfile(v):
            out[k] = f"{v} sha256:{sha256_file(v)}"
        elif isinstance(k, str) and "sha" in k.lower():
            out[k] = str(v)
    return out


def _provenance_page(store, dataset: str, methods: list[str], data_root, info: dict[str, Any],
                     against: str | None) -> str:
    import datetime
    import platform

    import matplotlib
    import pandas
    import scipy

    from . import __version__
    from .data import data_root as resolve_root
    from .store import method_dirname

    gen = [("fusionbench", __version__), ("dataset", dataset), ("result store", str(store.root.resolve())),
           ("data root", str(resolve_root(data_root))), ("source images", info.get("sources", "")),
           ("reference method (--against)", against or "none"),
           ("generated (UTC)", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")),
           ("python", platform.python_version()), ("numpy", np.__version__), ("scipy", scipy.__version__),
           ("pandas", pandas.__version__), ("matplotlib", matplotlib.__version__),
           ("statistics", f"bootstrap {N_RESAMPLES} resamples, seed {SEED}; Wilcoxon: scipy.stats.wilcoxon; "
                          "Holm; Friedman: scipy.stats.friedmanchisquare; Nemenyi q from scipy.stats.studentized_range")]
    parts = ['<h2>Provenance</h2><table id="provenance"><tbody>' + "".join(
        f"<tr><th>{esc(k)}</th><td style='text-align:left;white-space:normal'>{esc(v)}</td></tr>" for k, v in gen) + "</tbody></table>"]
    rows = []
    for m in methods:
        path = store.method_dir(dataset, m) / "method.json"
        try:
            mi = json.loads(path.read_text())
        except (OSError, ValueError):
            mi = {}
        params = mi.get("params", {}) if isinstance(mi.get("params"), dict) else {}
        hashes = _weight_hashes(params)
        extra = {k: v for k, v in mi.items() if k not in ("params", "method", "dataset", "description", "version")}
        n_rec = len(list((store.method_dir(dataset, m) / "records").glob("*.json")))
        rows.append(f"<tr><td>{esc(m)}</td><td>{esc(str(mi.get('version', '')))}</td>"
                    f"<td style='text-align:left;white-space:normal'>{esc(str(mi.get('description', '')))}</td>"
                    f"<td style='text-align:left;white-space:normal'><code>{esc(json.dumps(params, sort_keys=True, default=str))}</code></td>"
                    f"<td style='text-align:left;white-space:normal'>{esc('; '.join(f'{k}: {v}' for k, v in hashes.items()) or '-')}</td>"
                    f"<td style='text-align:left'>{esc(json.dumps(extra, sort_keys=True, default=str)) if extra else ''}</td>"
                    f"<td>{n_rec}</td><td style='text-align:left'>{esc(method_dirname(m))}/method.json</td></tr>")
    parts.append('<h2>Methods</h2><table id="methods" class="sortable-table"><thead><tr><th>method</th>'
                 "<th>version</th><th>description</th><th>parameters</th><th>weights / files (SHA-256)</th>"
                 "<th>other</th><th>records</th><th>from</th></tr></thead><tbody>\n" + "\n".join(rows)
                 + "\n</tbody></table>")
    return "\n".join(parts)


def build_report(store, dataset: str, out_dir: os.PathLike | str, *, against: str | None = None,
                 methods: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
                 data_root: os.PathLike | str | None = None, split: str | None = None,
                 alpha: float = ALPHA, thumb: int = THUMB) -> Path:
    """Write the report folder (see the module docstring); returns the path of ``index.html``."""
    from .stats import frame_methods, frame_metrics, stats_report

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "index.html").exists():
        raise InputError(f"{out}: folder is not empty and holds no report; choose a new or empty folder")
    for sub in ("fig", "img", "assets"):
        if (out / sub).is_dir():
            shutil.rmtree(out / sub)
    (out / "assets").mkdir(parents=True, exist_ok=True)
    for name in ("report.css", "report.js"):
        shutil.copyfile(ASSETS / name, out / "assets" / name)

    rep = stats_report(store, [dataset], against=against, methods=methods, metrics=metrics, alpha=alpha)
    frame = rep.frames[dataset]
    methods = list(methods) if methods else frame_methods(frame)
    if against and against not in methods:
        methods = [against, *methods]
    metrics = list(metrics) if metrics else frame_metrics(frame)

    means, notes = _means_table(rep, dataset, methods, metrics, alpha)
    n_pairs = frame["pair"].nunique()
    body = [f'<p class="note">Dataset <b>{esc(dataset)}</b>: {len(methods)} methods, {n_pairs} pairs, '
            f"{len(metrics)} metrics, from the store <code>{esc(str(store.root.resolve()))}</code>.</p>",
            "<h2 id=\"results\">Mean scores</h2>", means,
            "".join(f'<p class="legend">{n}</p>' for n in notes)]
    body += ["<h2 id=\"ranks\">Ranks and plots</h2>", _figures(rep, dataset, out, methods, metrics)]
    body += ["<h2 id=\"statistics\">Per method and metric" +
             (f" (paired against {esc(against)})" if against else "") + "</h2>",
             _stats_table([r for r in rep.rows if r.dataset == dataset], against),
             '<p class="legend">W/L/T: pairs the method wins/loses/ties against the reference in the '
             "metric's direction; median &Delta;: median paired difference (positive = better than the "
             "reference); p test: exact (no ties, zeros discarded), permutation (ties, &le; 13 pairs), "
             "normal (ties, more pairs), identical (all differences zero: p = 1).</p>"]
    gallery, info = _gallery(store, dataset, out, methods, metrics, frame, data_root, split, thumb)
    body += ['<h2 id="gallery">Gallery</h2>', gallery]
    title = f"fusionbench report — {dataset}"
    from .imageio import atomic_write_text

    atomic_write_text(out / "metrics.html", _page(title + " — metrics", _metrics_page(metrics), dataset))
    atomic_write_text(out / "provenance.html",
                      _page(title + " — provenance", _provenance_page(store, dataset, methods, data_root, info,
                                                                       against), dataset))
    atomic_write_text(out / "index.html", _page(title, "\n".join(body), dataset))
    return out / "index.html"
