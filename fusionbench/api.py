"""Python API: :func:`fuse` and :func:`evaluate` on arrays or image paths.

Errors: every problem the caller can fix raises a :class:`fusionbench.errors.FusionbenchError`,
which is always a ``ValueError``; an unknown method/metric/preset name is also a ``KeyError``
(:class:`~fusionbench.errors.UnknownNameError`), a missing file also a ``FileNotFoundError``.
A ``ValueError`` raised inside a method or metric (e.g. an image too small for a pyramid) is
re-raised as :class:`~fusionbench.errors.InputError` naming the method or metric.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .data import PairContext
from .errors import FusionbenchError, InputError
from .imageio import Trusted, check_images, is_gray_rgb, read_image, rgb2gray, validated
from .imageio import to_gray_float as _gray
from .registry import MethodCall, MetricSpec, get_metric, parse_method, resolve_metrics

ImageLike = np.ndarray | str | os.PathLike


def _as_raw(img: ImageLike, role: str, **read_kw: Any) -> np.ndarray:
    if isinstance(img, (str, os.PathLike)):
        return read_image(img, **read_kw)
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    return a


def run_method(method: str | MethodCall, ir: np.ndarray, vi: np.ndarray, *, vi_rgb: np.ndarray | None = None,
               ctx: PairContext | None = None, **params: Any) -> np.ndarray:
    """Call a method (a name, parsed with ``params``, or a parsed :class:`MethodCall`) on
    validated float64 gray inputs; returns float64 0..255."""
    if isinstance(method, MethodCall):
        if params:
            raise TypeError("run_method: parameters belong in the MethodCall")
        call = method
    else:
        call = parse_method(method, **params)
    ir, vi = check_images(ir, vi, names=("ir", "vi"), who=f"method {call.full_name}")
    kw = dict(call.params)
    if call.spec.color:
        kw["vi_rgb"] = vi_rgb
    if call.spec.needs_context:
        kw["ctx"] = ctx
    try:
        out = np.asarray(call.spec.fn(ir, vi, **kw), dtype=np.float64)
    except FusionbenchError:
        raise
    except ValueError as exc:  # a method's own check of its input or parameters
        raise InputError(f"method {call.full_name}: {exc}") from None
    if out.shape[:2] != ir.shape:
        raise InputError(f"method {call.full_name} returned shape {out.shape}, expected {ir.shape}")
    if not np.isfinite(out).all():
        raise InputError(f"method {call.full_name} produced NaN or infinite values")
    return out


def fuse(ir: ImageLike, vi: ImageLike, method: str = "average", *,
         weights_root: os.PathLike | str | None = None, float_range: float | None = None,
         max_megapixels: float | None = None, **params: Any) -> np.ndarray:
    """Fuse one pair with a registered method.

    ``ir``/``vi`` are arrays (gray or colour, 0..255) or image paths. Colour visible images are
    converted with MATLAB's rgb2gray; methods registered with ``color=True`` also get the
    colour. Returns the unquantised fused image, float64 on 0..255 (``HxW``; ``HxWx3`` only for
    methods that output colour). ``weights_root``: where other authors' weights are (else
    ``$FUSIONBENCH_WEIGHTS`` and the defaults of :func:`fusionbench.data.weights_root`).
    ``float_range``/``max_megapixels`` are reading parameters of
    :func:`fusionbench.imageio.read_image`; the method's memory estimate is checked against the
    available memory before it runs (:mod:`fusionbench.guard`).
    """
    from .guard import READ_OVERHEAD_BYTES_PER_PIXEL as OVER, check_memory
    from .imageio import _check_pixels, image_shape

    spec = (method if isinstance(method, MethodCall) else parse_method(method, **params)).spec
    for x in (ir, vi):
        if isinstance(x, (str, os.PathLike)) and os.path.isfile(x):
            h, w = image_shape(x)
            _check_pixels(x, h, w, max_megapixels)
            check_memory([spec], h * w, what=f"{x} ({w}x{h})", overhead=OVER)
    kw = {"float_range": float_range, "max_megapixels": max_megapixels}
    ir_raw, vi_raw = _as_raw(ir, "ir", **kw), _as_raw(vi, "vi", **kw)
    if not isinstance(ir, (str, os.PathLike)):
        check_memory([spec], int(np.prod(np.shape(ir_raw)[:2])), what="the given arrays", overhead=OVER)
    if ir_raw.ndim == 3 and not is_gray_rgb(ir_raw):
        raise InputError("fuse: infrared image must be single-channel gray (got colour)")
    vi_rgb = vi_raw.astype(np.float64) if vi_raw.ndim == 3 and not is_gray_rgb(vi_raw) else None
    from pathlib import Path

    from .data import data_root

    ctx = PairContext(dataset="", pair="", data_root=data_root(),
                      weights_root=Path(weights_root).expanduser() if weights_root else None)
    return run_method(method, _gray(ir_raw), _gray(vi_raw), vi_rgb=vi_rgb, ctx=ctx, **params)


def compute_metric(spec: MetricSpec, raw: Sequence[np.ndarray], gray: Sequence[np.ndarray] | None = None,
                   *, converted: dict[str, list] | None = None) -> dict[str, float]:
    """Evaluate one metric spec; returns ``{name: total}`` plus ``{name.part: value}``.

    ``raw`` are the three images as read; ``gray`` (optional) their ``'gray'`` conversion, to
    avoid converting again per metric. ``converted`` (optional): a dict kept across the metrics
    of one triple, ``{input convention: [ir, vi, fused]}``, so each script's input convention
    converts the triple once, not once per metric; inside a :func:`~fusionbench.imageio.validated`
    block that trusts ``raw``, the conversions are trusted too (the conventions keep 0..255).
    """
    if spec.input == "raw":
        args = [np.asarray(a) for a in raw]
    elif spec.input == "gray":
        args = list(gray) if gray is not None else [_gray(np.asarray(a)) for a in raw]
    else:
        args = converted.get(spec.input) if converted is not None else None
        if args is None:
            args = _convert(spec, raw)
            if converted is not None:
                converted[spec.input] = args
    try:
        value = spec.fn(*args, **spec.params)
    except FusionbenchError:
        raise
    except ValueError as exc:  # a metric's own check (image too small, ...)
        raise InputError(f"metric {spec.name}: {exc}") from None
    if isinstance(value, dict):
        out = {spec.name: float(value["total"])}
        out.update({f"{spec.name}.{k}": float(v) for k, v in value.items() if k != "total"})
        return out
    return {spec.name: float(value)}


def _convert(spec: MetricSpec, raw: Sequence[np.ndarray]) -> list:
    """The triple in ``spec.input``'s convention (trusted when the raw images are)."""
    from .imageio import trusted_block
    from .registry import INPUTS

    if spec.input not in INPUTS:
        raise KeyError(f"metric {spec.name}: unknown input convention {spec.input!r}")
    conv = INPUTS[spec.input].convert
    args = [conv(np.asarray(a)) for a in raw]
    block = trusted_block()
    if block is not None and all(block.trusts(a) for a in raw):
        block.add(*(a for a in args if isinstance(a, np.ndarray)))
    return args


def identical_sources(ir_raw: np.ndarray, vi_raw: np.ndarray) -> bool:
    """True when infrared and visible are the same image (equal gray pixels, same size)."""
    a, b = np.asarray(rgb2gray(np.asarray(ir_raw))), np.asarray(rgb2gray(np.asarray(vi_raw)))
    return a.shape == b.shape and bool(np.array_equal(a, b))


def identical_error(where: str) -> InputError:
    """The error for identical infrared and visible inputs (see :func:`identical_sources`)."""
    return InputError(f"{where}: infrared and visible are identical (same file or same pixels); "
                      "fusion scores of such a pair are meaningless (e.g. nmi = 2). Check the "
                      "inputs, or pass --allow-identical (allow_identical=True) to score anyway")


def source_agreement(fused_raw: np.ndarray, ir_raw: np.ndarray, vi_raw: np.ndarray) -> dict[str, float]:
    """Fraction of pixels where the (gray) fused image equals each source exactly: ``{'ir', 'vi'}``."""
    f = _gray(fused_raw)
    out = {}
    for role, src in (("ir", ir_raw), ("vi", vi_raw)):
        s = _gray(src)
        out[role] = float(np.mean(f == s)) if s.shape == f.shape else 0.0
    return out


#: a fused image equal to one source on at least this fraction of pixels gets a note
SAME_AS_SOURCE = 0.9


def same_as_source_note(fused8: np.ndarray, ir_raw: np.ndarray, vi_raw: np.ndarray) -> str:
    """"fused ≈ visible on 95% of pixels" when the fused image equals a source on most pixels."""
    agree = source_agreement(fused8, ir_raw, vi_raw)
    role, frac = max(agree.items(), key=lambda kv: kv[1])
    if frac < SAME_AS_SOURCE:
        return ""
    return f"fused ≈ {'infrared' if role == 'ir' else 'visible'} on {frac:.0%} of pixels"


def evaluate(ir: ImageLike, vi: ImageLike, fused: ImageLike, metrics: Sequence[str] | str | None = None,
             *, parts: bool = False, preset: str | None = None, float_range: float | None = None,
             max_megapixels: float | None = None, allow_identical: bool = True) -> dict[str, float]:
    """Score a fused image against its two sources.

    ``ir``, ``vi``, ``fused``: arrays or paths. Plain metrics receive float64 gray 0..255
    (colour converted with MATLAB rgb2gray); ``vifb:*`` metrics receive the images as read
    (uint8, 3 channels where the file has 3, as VIFB's ``imread`` gives them). ``metrics`` is a
    list or comma string of registered names and/or ``preset`` a preset name (default: the same
    metrics as ``fusionbench run``, :func:`fusionbench.runner.default_metrics`). With
    ``parts=True`` the per-source parts (``"ifc.ir"``, ...) are included.
    ``allow_identical=False`` refuses identical infrared and visible inputs (the CLI's default).
    ``float_range``/``max_megapixels``: reading parameters (:func:`fusionbench.imageio.read_image`).

    Raises
    ------
    ValueError
        Every input problem, as :class:`~fusionbench.errors.InputError` (size mismatch, NaN,
        unreadable file, image too small for a metric, identical sources when refused).
    KeyError
        An unknown metric or preset name, as :class:`~fusionbench.errors.UnknownNameError`
        (which is a ``ValueError`` too).
    """
    if metrics is None and preset is None:
        from .runner import default_metrics

        names = resolve_metrics(None, None, default=tuple(default_metrics()))
    else:
        names = resolve_metrics(metrics, preset)
    kw = {"float_range": float_range, "max_megapixels": max_megapixels}
    raw = [_as_raw(x, role, **kw) for x, role in zip((ir, vi, fused), ("ir", "vi", "fused"))]
    for a, role in zip(raw, ("ir", "vi", "fused")):
        check_images(a, names=(role,), who="evaluate", gray=False, convert=False)
    shapes = {a.shape[:2] for a in raw}
    if len(shapes) != 1:
        raise InputError("evaluate: size mismatch: " + ", ".join(
            f"{r} {a.shape[1]}x{a.shape[0]}" for r, a in zip(("ir", "vi", "fused"), raw)))
    if not allow_identical and identical_sources(raw[0], raw[1]):
        raise identical_error("evaluate")
    out: dict[str, float] = {}
    for name, vals in score_triple(raw, [get_metric(n) for n in names], checked=True).items():
        out.update(vals if parts else {name: vals[name]})
    return out


_ALLOCATOR_TUNED = False


def _tune_allocator() -> None:
    """Once per process, before the first triple is scored: the glibc allocator thresholds that
    every fusionbench work process sets (:func:`fusionbench.executor.tune_malloc`: arrays under
    64 MiB from the heap, up to 256 MiB of freed memory kept), so that scoring in a plain
    Python process (``evaluate``) runs as in the runner's processes.

    With glibc's defaults the metrics' large temporaries are returned to the system and faulted
    in again on every call: about 2,500-4,000 page faults per 640x480 triple of the paper
    metrics here, 10-20 ms of a 50-130 ms call (``benchmarks/metrics.py --paper``). Set
    ``FUSIONBENCH_MALLOC=default`` to leave the allocator alone.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return
    _ALLOCATOR_TUNED = True
    if os.environ.get("FUSIONBENCH_MALLOC", "").strip().lower() != "default":
        from .executor import tune_malloc

        tune_malloc()


def score_triple(raw: Sequence[np.ndarray], specs: Sequence[MetricSpec], *,
                 checked: bool = False) -> dict[str, dict[str, float]]:
    """Every metric of ``specs`` on one image triple ``raw = (ir, vi, fused)`` as read:
    ``{metric name: compute_metric(...)}``, the one scoring path of ``evaluate`` and the runner.

    The triple is validated once (unless ``checked``: the caller did) and trusted inside the
    block: the metrics' own ``check_images`` calls cost nothing, the gray triple is built once
    (only if a metric takes gray), each input convention converts the triple once, and each
    image is hashed once for the metrics' source caches (:func:`~fusionbench.metrics._memo.same_images`).
    """
    from .metrics._memo import same_images

    _tune_allocator()
    if not checked:
        for a, role in zip(raw, ("ir", "vi", "fused")):
            check_images(a, names=(role,), who="score", gray=False, convert=False)
    out: dict[str, dict[str, float]] = {}
    converted: dict[str, list] = {}
    with validated(*raw) as trusted, same_images():
        gray = _trusted_gray(raw, trusted) if any(s.input == "gray" for s in specs) else None
        for spec in specs:
            out[spec.name] = compute_metric(spec, raw, gray, converted=converted)
    return out


def _trusted_gray(raw: Sequence[np.ndarray], trusted: Trusted) -> list[np.ndarray]:
    """The float64 gray triple, trusted, with each 8-bit image recorded as its exact uint8 twin
    (and, for 2-D uint8 images, as the float64 conversion of that very array, so conventions
    that pass 8-bit gray through reuse it). Converted images are read-only: every metric of the
    triple shares them."""
    g8s = [rgb2gray(a) for a in raw]
    # one allocation for the converted images (C-contiguous slices, as separate arrays would be)
    todo = [i for i, g8 in enumerate(g8s) if g8.dtype != np.float64]
    block = np.empty((len(todo),) + g8s[todo[0]].shape, np.float64) if todo else None
    gray = []
    for i, g8 in enumerate(g8s):
        if g8.dtype == np.float64:
            g = g8
        else:
            g = block[todo.index(i)]
            g[...] = g8
            g.flags.writeable = False
            if g8.dtype == np.uint8:
                trusted.add_float64(g8, g)
        trusted.add(g)
        gray.append(g)
    return gray
