"""Plots of stored scores for papers: per-pair lines, box / violin per metric, metric scatter.

All figures use matplotlib's Agg backend, are sized for one paper column (3.5 in wide) with
fonts of at least 8 pt, and take their axis labels from the metric registry (label + arrow).
The format follows the output file's extension (``.png``, ``.pdf``, ``.svg``). Scores come from
:func:`fusionbench.scores.read_scores` (via :func:`fusionbench.stats.load_frame`).

* ``pairs``: one line per method over the pairs (x = pair, y = the metric), what
  Linfeng-Tang's ``plot_metrics.m`` draws; the legend gives each method's mean.
* ``box`` / ``violin``: the distribution over pairs of one metric, one box per method
  (box: median, quartiles, whiskers at 1.5 IQR, the mean as a white dot).
* ``scatter``: one point per method at (mean of metric, mean of metric2), with 95% bootstrap
  CIs as error bars (:func:`fusionbench.stats.bootstrap_ci`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .store import ResultStore

WIDTH = 3.5          # inches: one paper column
FONT = 8             # points: the smallest font used
FORMATS = (".png", ".pdf", ".svg")
KINDS = ("pairs", "box", "violin", "scatter")


def apply_style() -> None:
    """Fonts >= 8 pt everywhere, thin lines: readable at 3.5 in."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({
        "font.size": FONT, "axes.titlesize": FONT, "axes.labelsize": FONT,
        "xtick.labelsize": FONT, "ytick.labelsize": FONT, "legend.fontsize": FONT,
        "figure.titlesize": FONT, "axes.linewidth": 0.6, "lines.linewidth": 1.0,
        "savefig.dpi": 300, "svg.hashsalt": "fusionbench", "pdf.fonttype": 42,
    })


def check_output(path: str | Path) -> Path:
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        raise InputError(f"{p}: unknown figure format {p.suffix or '(none)'!r} (use {', '.join(FORMATS)})")
    return p


def save_figure(fig, path: str | Path) -> Path:
    """Save atomically-enough (temporary name in the same folder, then rename); closes ``fig``."""
    import os

    import matplotlib.pyplot as plt

    p = check_output(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.stem}.tmp{p.suffix}")
    meta = {"Software": None} if p.suffix.lower() == ".png" else (
        {"Creator": None, "Producer": None, "CreationDate": None} if p.suffix.lower() == ".pdf" else {"Date": None})
    fig.savefig(tmp, format=p.suffix.lower()[1:], metadata=meta)
    os.replace(tmp, p)
    plt.close(fig)
    return p


def _colors(n: int) -> list:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _series(frame: pd.DataFrame, methods: Sequence[str], metric: str) -> dict[str, pd.Series]:
    from .stats import values_of

    out = {m: values_of(frame, m, metric) for m in methods}
    out = {m: s for m, s in out.items() if not s.empty}
    if not out:
        raise InputError(f"no values of metric {metric!r} for {', '.join(methods)}")
    return out


def pairs_plot(frame: pd.DataFrame, metric: str, methods: Sequence[str] | None = None, *,
               width: float = WIDTH, title: str | None = None):
    """Per-pair line plot of one metric, one line (with markers) per method."""
    import matplotlib.pyplot as plt

    from .stats import frame_methods, metric_label

    apply_style()
    methods = list(methods) if methods else frame_methods(frame)
    series = _series(frame, methods, metric)
    pairs = sorted({p for s in series.values() for p in s.index})
    x = np.arange(len(pairs))
    fig, ax = plt.subplots(figsize=(width, width * 0.72))
    markers = "os^Dv<>pP*Xh"
    for i, ((m, s), c) in enumerate(zip(series.items(), _colors(len(series)))):
        y = s.reindex(pairs).to_numpy(dtype=float)
        mean = np.nanmean(y) if np.isfinite(y).any() else math.nan
        ax.plot(x, y, marker=markers[i % len(markers)], ms=2.5, lw=0.9, color=c, label=f"{m} ({mean:.3f})")
    ax.set_xlabel("pair")
    ax.set_ylabel(metric_label(metric))
    step = max(1, math.ceil(len(pairs) / 12))
    ax.set_xticks(x[::step])
    ax.set_xticklabels([pairs[i] for i in range(0, len(pairs), step)], rotation=90 if len(pairs) > 6 else 0)
    ax.grid(True, lw=0.3, alpha=0.5)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28 if len(pairs) > 6 else -0.2), ncol=2,
              frameon=False, handlelength=1.5, columnspacing=1.0)
    if title:
        ax.set_title(title)
    fig.tight_layout(pad=0.3)
    return fig


def dist_plot(frame: pd.DataFrame, metric: str, methods: Sequence[str] | None = None, *,
              kind: str = "box", width: float = WIDTH, title: str | None = None):
    """Box or violin plot of one metric over the pairs, one per method (mean as a white dot)."""
    import matplotlib.pyplot as plt

    from .stats import frame_methods, metric_label

    apply_style()
    methods = list(methods) if methods else frame_methods(frame)
    series = _series(frame, methods, metric)
    names = list(series)
    data = [s.to_numpy(dtype=float) for s in series.values()]
    data = [d[np.isfinite(d)] for d in data]
    fig, ax = plt.subplots(figsize=(width, width * 0.75))
    pos = np.arange(1, len(data) + 1)
    cols = _colors(len(data))
    if kind == "violin":
        ok = [i for i, d in enumerate(data) if d.size > 1 and np.ptp(d) > 0]
        if ok:
            parts = ax.violinplot([data[i] for i in ok], positions=pos[ok], showmedians=True, widths=0.8)
            for body, i in zip(parts["bodies"], ok):
                body.set_facecolor(cols[i])
                body.set_alpha(0.6)
        for i, d in enumerate(data):
            if i not in ok and d.size:
                ax.plot([pos[i]], [d[0]], "_", ms=10, color=cols[i])
    else:
        bp = ax.boxplot(data, positions=pos, widths=0.6, patch_artist=True, flierprops={"ms": 2},
                        medianprops={"color": "k", "lw": 0.9})
        for patch, c in zip(bp["boxes"], cols):
            patch.set_facecolor(c)
            patch.set_alpha(0.6)
    means = [d.mean() if d.size else np.nan for d in data]
    ax.plot(pos, means, "o", ms=3, mfc="white", mec="k", mew=0.6, ls="none", label="mean")
    ax.set_xticks(pos)
    ax.set_xticklabels(names, rotation=45 if len(names) > 3 else 0, ha="right" if len(names) > 3 else "center")
    ax.set_ylabel(metric_label(metric))
    ax.grid(True, axis="y", lw=0.3, alpha=0.5)
    if title:
        ax.set_title(title)
    fig.tight_layout(pad=0.3)
    return fig


def scatter_plot(frame: pd.DataFrame, metric: str, metric2: str, methods: Sequence[str] | None = None, *,
                 width: float = WIDTH, title: str | None = None):
    """One point per method at (mean metric, mean metric2) with 95% bootstrap CI error bars."""
    import matplotlib.pyplot as plt

    from .stats import bootstrap_ci, frame_methods, metric_label

    apply_style()
    methods = list(methods) if methods else frame_methods(frame)
    s1, s2 = _series(frame, methods, metric), _series(frame, methods, metric2)
    names = [m for m in methods if m in s1 and m in s2]
    if not names:
        raise InputError(f"no method has values of both {metric!r} and {metric2!r}")
    fig, ax = plt.subplots(figsize=(width, width * 0.85))
    markers = "os^Dv<>pP*Xh"
    for i, (m, c) in enumerate(zip(names, _colors(len(names)))):
        a, b = s1[m].to_numpy(dtype=float), s2[m].to_numpy(dtype=float)
        mx, my = np.nanmean(a), np.nanmean(b)
        (xl, xh), (yl, yh) = bootstrap_ci(a), bootstrap_ci(b)
        ax.errorbar([mx], [my], xerr=[[mx - xl], [xh - mx]], yerr=[[my - yl], [yh - my]], fmt=markers[i % len(markers)],
                    ms=4, color=c, elinewidth=0.6, capsize=1.5, label=m)
    ax.set_xlabel(metric_label(metric))
    ax.set_ylabel(metric_label(metric2))
    ax.grid(True, lw=0.3, alpha=0.5)
    ax.legend(frameon=False, loc="best", handletextpad=0.3)
    if title:
        ax.set_title(title)
    fig.tight_layout(pad=0.3)
    return fig


def make_plot(frame: pd.DataFrame, kind: str, metric: str, metric2: str | None = None,
              methods: Sequence[str] | None = None, title: str | None = None):
    """The figure of one ``kind`` (see :data:`KINDS`)."""
    if kind not in KINDS:
        raise InputError(f"unknown plot kind {kind!r} (kinds: {', '.join(KINDS)})")
    if kind == "pairs":
        return pairs_plot(frame, metric, methods, title=title)
    if kind in ("box", "violin"):
        return dist_plot(frame, metric, methods, kind=kind, title=title)
    if not metric2:
        raise InputError("--kind scatter needs --metric2 (the y axis)")
    return scatter_plot(frame, metric, metric2, methods, title=title)


def plot_from_store(store: ResultStore, dataset: str, kind: str, metric: str, output: str | Path, *,
                    metric2: str | None = None, methods: Sequence[str] | None = None,
                    title: str | None = None) -> Path:
    """Read the store and write one plot to ``output``."""
    from .stats import load_frame

    check_output(output)
    wanted = [metric] + ([metric2] if metric2 else [])
    frame = load_frame(store, dataset, methods, wanted)
    fig = make_plot(frame, kind, metric, metric2, methods, title=title)
    return save_figure(fig, output)
