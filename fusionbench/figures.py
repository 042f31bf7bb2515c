"""Visual comparison figures (the paper's Fig. 3/4 style): sources and each method's result.

:func:`comparison_figure` lays out the infrared and visible images, then one panel per method,
in a labelled grid ("(a) Infrared", "(b) Visible", "(c) GFF", ...). An optional box
``(x, y, w, h)`` (pixels) is outlined on every panel and shown magnified in a corner inset,
as papers do to point at details. A method's image comes from the result store when it holds
that pair (the saved 8-bit PNG, exactly what was scored), else it is fused on the fly.
Rendering uses matplotlib's Agg backend (no display needed); the PNG is
``cols * panel_width`` by ``rows * panel_height`` inches at ``dpi`` (no tight cropping, so the
pixel size is predictable: ``round(inches * dpi)``).
"""
from __future__ import annotations

import os
import string
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import InputError


def _label(i: int) -> str:
    letters = string.ascii_lowercase
    return f"({letters[i]})" if i < 26 else f"({letters[i // 26 - 1]}{letters[i % 26]})"


def method_image(call, pair, ds, *, store=None) -> np.ndarray:
    """The fused image of ``pair`` by ``call`` (a :class:`~fusionbench.registry.MethodCall`) on
    ``ds`` (a :class:`~fusionbench.data.DatasetRef`): the stored 8-bit PNG if present, else fused now."""
    from .api import run_method
    from .identity import store_name
    from .imageio import quantize, read_image

    name = store_name(call)
    if store is not None:
        rec = store.read_record(ds.label, name, pair.name)
        if rec is not None:
            return np.asarray(read_image(store.fused_path(ds.label, name, pair.name), collapse_gray=True))
    fused = run_method(call, pair.ir(), pair.vi(), vi_rgb=pair.vi_rgb(), ctx=ds.context(pair.name))
    return quantize(fused)


def parse_box(text: str | None) -> tuple[int, int, int, int] | None:
    """``"x,y,w,h"`` -> tuple of ints (pixels), or None."""
    if not text:
        return None
    try:
        x, y, w, h = (int(float(v)) for v in text.split(","))
    except ValueError:
        raise InputError(f"--box expects x,y,w,h in pixels (got {text!r})") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise InputError(f"--box {text!r}: x, y must be >= 0 and w, h > 0")
    return x, y, w, h


def comparison_figure(images: Sequence[np.ndarray], labels: Sequence[str], out: os.PathLike | str, *,
                      cols: int | None = None, box: tuple[int, int, int, int] | None = None,
                      zoom: float = 2.0, corner: str = "lower right", panel_width: float = 2.4,
                      dpi: int = 150, title: str | None = None, box_color: str = "red") -> Path:
    """Save a labelled grid of images as PNG; returns the path.

    ``images``: uint8 (or 0..255) gray ``HxW`` or colour ``HxWx3``; all panels share the first
    image's aspect ratio. ``box``: ``(x, y, w, h)`` in pixels, outlined on every panel and shown
    ``zoom`` times larger in the ``corner`` of the panel (``lower right``, ``lower left``,
    ``upper right``, ``upper left``). Panel height is ``panel_width * H / W`` plus room for the
    label.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if len(images) != len(labels) or not images:
        raise InputError("comparison_figure: need one label per image (and at least one image)")
    h0, w0 = np.asarray(images[0]).shape[:2]
    for img in images:
        if np.asarray(img).shape[:2] != (h0, w0):
            raise InputError("comparison_figure: all images must have the same size")
    if box is not None:
        x, y, w, h = box
        if x + w > w0 or y + h > h0:
            raise InputError(f"box {box} lies outside the {w0}x{h0} image")
    n = len(images)
    cols = max(1, min(cols or min(n, 6), n))
    rows = (n + cols - 1) // cols
    label_h = 0.3
    panel_h = panel_width * h0 / w0
    title_h = 0.35 if title else 0.0
    # whole pixels: the PNG is round(width * dpi) x round(height * dpi)
    fig_w = round(cols * panel_width * dpi) / dpi
    fig_h = round((rows * (panel_h + label_h) + title_h) * dpi) / dpi
    fig = plt.figure(figsize=(fig_w, fig_h), dpi=dpi)
    corners = {"lower right": (1 - 0.02, 0.02, "right", "bottom"), "lower left": (0.02, 0.02, "left", "bottom"),
               "upper right": (1 - 0.02, 1 - 0.02, "right", "top"), "upper left": (0.02, 1 - 0.02, "left", "top")}
    if corner not in corners:
        raise InputError(f"corner must be one of {', '.join(corners)}")
    for i, (img, lab) in enumerate(zip(images, labels)):
        a = np.clip(np.asarray(img, dtype=np.float64), 0, 255).astype(np.uint8)
        r, c = divmod(i, cols)
        left = c * panel_width / fig_w
        bottom = 1 - (title_h + r * (panel_h + label_h) + panel_h) / fig_h
        ax = fig.add_axes((left, bottom, panel_width / fig_w, panel_h / fig_h))
        ax.imshow(a, cmap="gray" if a.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        ax.set_axis_off()
        fig.text(left + panel_width / fig_w / 2, bottom - 0.04 / fig_h, f"{_label(i)} {lab}",
                 ha="center", va="top", fontsize=8)
        if box is not None:
            x, y, w, h = box
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor=box_color, linewidth=1))
            crop = a[y:y + h, x:x + w]
            iw, ih = min(zoom * w / w0, 0.6), min(zoom * h / h0, 0.6)
            cx, cy, ha, va = corners[corner]
            ix = cx - iw if ha == "right" else cx
            iy = cy - ih if va == "top" else cy
            inset = ax.inset_axes((ix, iy, iw, ih))
            inset.imshow(crop, cmap="gray" if crop.ndim == 2 else None, vmin=0, vmax=255,
                         interpolation="nearest", aspect="auto")
            inset.set_xticks([])
            inset.set_yticks([])
            for sp in inset.spines.values():
                sp.set_edgecolor(box_color)
                sp.set_linewidth(1.2)
    if title:
        fig.text(0.5, 1 - 0.05 / fig_h, title, ha="center", va="top", fontsize=10)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, facecolor="white")
    plt.close(fig)
    return out


def figure_for_pair(dataset: str, pair: str, methods: Sequence[str], out: os.PathLike | str, *,
                    results: os.PathLike | str | None = None, root: os.PathLike | str | None = None,
                    split: str | None = None, labels: Sequence[str] | None = None, **kw) -> Path:
    """Fig. 3/4-style figure for one pair of a dataset: IR, VI, then each method's result."""
    from .data import load_dataset
    from .registry import parse_method
    from .store import ResultStore, results_root

    ds = load_dataset(dataset, root=root, split=split)
    label, pairs = ds.label, list(ds.pairs)
    match = [p for p in pairs if p.name == pair]
    if not match:
        shown = ", ".join(p.name for p in pairs[:8]) + (" ..." if len(pairs) > 8 else "")
        raise InputError(f"dataset {label} has no pair {pair!r} (pairs: {shown})")
    p = match[0]
    calls = [parse_method(m) for m in methods]  # validate every name before any work
    store_root = results_root(results)
    store = ResultStore(store_root, create=False) if store_root.exists() else None
    vi = p.vi_raw()
    images = [p.ir_raw(), vi] + [method_image(c, p, ds, store=store) for c in calls]
    names = ["Infrared", "Visible", *(labels or methods)]
    if labels is not None and len(labels) != len(methods):
        raise InputError("--labels needs one label per method")
    return comparison_figure(images, names, out, **kw)
