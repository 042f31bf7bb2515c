"""Name registries for methods, metrics, datasets, metric presets and input conventions.

Modules in ``fusionbench.methods``, ``fusionbench.metrics`` and ``fusionbench.datasets``
register themselves with the decorators below when imported; the engine never names one.

Registration is lazy: a name is looked up in a *manifest* (name -> registering module plus
its listing data), and only that module is imported (torch only for the methods that use
it). The manifest is built by :func:`discover` (import everything) and cached in the user's
cache folder, keyed by the size and mtime of every domain module file, so adding a file
(a new method or metric) is picked up on the next call without any list to edit.

Method names may carry a variant after a colon (``mdlatlrr:l2``, ``published:RFN-Nest``);
:func:`parse_method` is the one place that splits them.
"""
from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UnknownNameError

DOMAIN_PACKAGES = ("fusionbench.datasets", "fusionbench.metrics", "fusionbench.methods")
MANIFEST_VERSION = 1


@dataclass
class MethodSpec:
    """A registered fusion method.

    ``fn(ir, vi, **params) -> ndarray``: ``ir`` and ``vi`` are float64 gray on 0..255 with the
    same shape; the result is float64 on 0..255 (unquantised). With ``color=True`` the function
    also receives ``vi_rgb=`` (float64 ``HxWx3`` on 0..255, or None when the visible is gray).
    With ``needs_context=True`` it receives ``ctx=`` (a :class:`fusionbench.data.PairContext`).
    ``variants`` maps a variant name to parameter overrides; ``any_variant=True`` passes an
    unlisted variant through as ``params['variant']`` (e.g. ``published:<folder>``).
    ``version`` is part of every cache key: bump it when the method's numerics change.
    ``resolve_params(params) -> params`` (optional) makes implicit choices explicit for the
    cache key, e.g. which weights file a ``weights=None`` will load.
    ``mem_bytes_per_pixel`` (optional) is the measured peak memory per pixel of one call
    (``benchmarks/mem_per_pixel.py``), used by :mod:`fusionbench.guard` to refuse images too
    large for the machine; None means :data:`fusionbench.guard.DEFAULT_BYTES_PER_PIXEL`.
    ``pair_inputs(params, pair) -> list of paths`` (optional): files one pair's output is read
    from; their contents enter that pair's cache key (``folder:<name>``: editing one image
    recomputes only that pair).
    """

    name: str
    fn: Callable[..., Any]
    description: str
    params: dict[str, Any] = field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_variant: str | None = None
    any_variant: bool = False
    deterministic: bool = True
    color: bool = False
    needs_context: bool = False
    version: str = "1"
    reference: str = ""
    trainer: Callable[..., Any] | None = None
    resolve_params: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    resources: dict[str, float] = field(default_factory=dict)  # worker resources its fusing wants
    mem_bytes_per_pixel: float | None = None
    pair_inputs: Callable[[dict[str, Any], str], list[Any]] | None = None


@dataclass
class MetricSpec:
    """A registered metric: a named configuration over one implementation (pyiqa style).

    ``fn(ir, vi, fused, **params) -> float | dict``. ``params`` are the configuration's
    visible data (window, log base, data range, ...): several public names may share one
    ``fn`` with different ``params``. ``input`` names an input convention registered with
    :func:`register_input` that turns each image *as read* (uint8, colour where the file is
    colour) into what the implementation receives: ``'gray'`` (default: float64 gray 0..255,
    MATLAB rgb2gray rounded), ``'raw'`` (the arrays as read, as VIFB's MATLAB code receives
    them), or a compatibility script's own reading rule. A metric with ``parts`` returns
    ``{'total': t, 'ir': a, 'vi': b}``; the parts are reported as ``name.ir`` etc.
    A name ``ns:base`` lives in namespace ``ns`` (``vifb:ssim``); ``quantity`` says which
    quantity it measures (``'ssim'``), so every convention of one quantity can be listed.
    """

    name: str
    fn: Callable[..., Any]
    description: str
    higher_is_better: bool
    reference: str = ""
    parts: tuple[str, ...] = ()
    input: str = "gray"
    version: str = "1"
    label: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    quantity: str | None = None

    @property
    def namespace(self) -> str | None:
        """``'vifb'`` for ``vifb:ssim``; None for a plain name."""
        ns, sep, _ = self.name.partition(":")
        return ns if sep else None

    @property
    def base(self) -> str:
        """The name without its namespace (``ssim`` for ``vifb:ssim``)."""
        return self.name.partition(":")[2] or self.name

    @property
    def measures(self) -> str:
        """The quantity measured: ``quantity`` if given, else the base name."""
        return self.quantity or self.base

    def __call__(self, ir: Any, vi: Any, fused: Any) -> Any:
        """Call the implementation with this configuration's parameters."""
        return self.fn(ir, vi, fused, **self.params)

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


@dataclass
class DatasetSpec:
    """A registered dataset: ``loader(data_root, split) -> list[Pair]``."""

    name: str
    loader: Callable[..., Any]
    description: str
    folder: str | None = None
    source: str = ""
    splits: tuple[str, ...] = ()
    default_split: str | None = None
    split_notes: dict[str, str] = field(default_factory=dict)   # e.g. "fusionbench's own list"
    test_list: str = ""   # the official test list or split, shown by `fusionbench datasets`


@dataclass
class InputSpec:
    """An input convention: ``convert(raw) -> array`` for one image as read (uint8 2-D or HxWx3)."""

    name: str
    convert: Callable[[Any], Any]
    description: str


@dataclass
class PresetSpec:
    name: str
    metrics: tuple[str, ...]
    description: str


METHODS: dict[str, MethodSpec] = {}
METRICS: dict[str, MetricSpec] = {}
DATASETS: dict[str, DatasetSpec] = {}
PRESETS: dict[str, PresetSpec] = {}
INPUTS: dict[str, InputSpec] = {}


def _check_new(table: Mapping[str, Any], name: str, kind: str) -> None:
    if name in table:
        raise ValueError(f"{kind} {name!r} registered twice")


#: name -> module that registered it, per kind ("methods", "metrics", ...)
ORIGIN: dict[str, dict[str, str]] = {k: {} for k in ("methods", "metrics", "datasets", "presets", "inputs")}


def _caller_module(depth: int = 2) -> str:
    return sys._getframe(depth).f_globals.get("__name__", "?")


def register_method(name: str, *, description: str, **kw: Any) -> Callable:
    """Decorator registering a fusion method (see :class:`MethodSpec`)."""
    origin = _caller_module()

    def deco(fn: Callable) -> Callable:
        _check_new(METHODS, name, "method")
        METHODS[name] = MethodSpec(name=name, fn=fn, description=description, **kw)
        ORIGIN["methods"][name] = origin
        return fn
    return deco


def register_metric(name: str, *, description: str, higher_is_better: bool, **kw: Any) -> Callable:
    """Decorator registering a metric (see :class:`MetricSpec`)."""
    origin = _caller_module()

    def deco(fn: Callable) -> Callable:
        _check_new(METRICS, name, "metric")
        METRICS[name] = MetricSpec(name=name, fn=fn, description=description,
                                   higher_is_better=higher_is_better, **kw)
        ORIGIN["metrics"][name] = origin
        return fn
    return deco


def register_dataset(name: str, *, description: str, **kw: Any) -> Callable:
    """Decorator registering a dataset loader (see :class:`DatasetSpec`)."""
    origin = _caller_module()

    def deco(fn: Callable) -> Callable:
        _check_new(DATASETS, name, "dataset")
        DATASETS[name] = DatasetSpec(name=name, loader=fn, description=description, **kw)
        ORIGIN["datasets"][name] = origin
        return fn
    return deco


def register_input(name: str, convert: Callable[[Any], Any], description: str) -> None:
    """Register an input convention (how a script reads an image) for ``MetricSpec.input``."""
    _check_new(INPUTS, name, "input convention")
    INPUTS[name] = InputSpec(name, convert, description)
    ORIGIN["inputs"][name] = _caller_module()


def register_preset(name: str, metrics: list[str] | tuple[str, ...], description: str) -> None:
    """Register a named list of metrics (``--preset NAME``)."""
    _check_new(PRESETS, name, "preset")
    PRESETS[name] = PresetSpec(name, tuple(metrics), description)
    ORIGIN["presets"][name] = _caller_module()


_discovered = False


def _domain_modules() -> list[str]:
    out = []
    for pkg_name in DOMAIN_PACKAGES:
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg_name + "."):
            if not info.name.rsplit(".", 1)[-1].startswith("_"):
                out.append(info.name)
    return out


def discover() -> None:
    """Import every module of the domain packages so that they register themselves."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for name in _domain_modules():
        importlib.import_module(name)


# -- the manifest: what is registered where, without importing it --------------------------
_TABLES = {"methods": METHODS, "metrics": METRICS, "datasets": DATASETS, "presets": PRESETS,
           "inputs": INPUTS}
_manifest: dict[str, Any] | None = None


def _plain(v: Any) -> Any:
    """JSON-safe listing value (callables and objects by their repr)."""
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return repr(v)


def _listing(spec: Any) -> dict[str, Any]:
    from dataclasses import fields

    out = {}
    for f in fields(spec):
        v = getattr(spec, f.name)
        if callable(v) and not isinstance(v, type):
            continue
        out[f.name] = _plain(v)
    return out


def _stamp() -> list[list[Any]]:
    """Size and mtime of every module file of the domain packages (the manifest's cache key)."""
    import importlib.util

    out: list[list[Any]] = []
    for pkg_name in DOMAIN_PACKAGES:
        spec = importlib.util.find_spec(pkg_name)
        for base in (spec.submodule_search_locations or []):
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
                for fn in sorted(filenames):
                    if fn.endswith(".py"):
                        st = os.stat(os.path.join(dirpath, fn))
                        out.append([os.path.join(dirpath, fn), st.st_size, st.st_mtime_ns])
    return out


def _cache_file() -> Path:
    from . import __version__

    from .paths import configured_path

    xdg = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    base = configured_path(None, "FUSIONBENCH_CACHE", os.path.join(xdg, "fusionbench"))
    return base / f"registry-{__version__}-v{MANIFEST_VERSION}.json"


def build_manifest() -> dict[str, Any]:
    """Import every domain module and describe every registered name (no callables)."""
    discover()
    entries: dict[str, Any] = {}
    for kind, table in _TABLES.items():
        entries[kind] = {}
        for name, spec in table.items():
            module = ORIGIN[kind].get(name, "")
            if not module.startswith(DOMAIN_PACKAGES):
                continue  # registered at run time (tests, plugins): not part of the manifest
            entries[kind][name] = {"module": module, **_listing(spec)}
    return entries


def manifest() -> dict[str, Any]:
    """The manifest (cached on disk; rebuilt when any domain module file changed)."""
    global _manifest
    if _manifest is not None:
        return _manifest
    stamp = _stamp()
    path = _cache_file()
    try:
        data = json.loads(path.read_text())
        if data.get("stamp") == stamp and isinstance(data.get("entries"), dict):
            _manifest = data["entries"]
            return _manifest
    except (OSError, ValueError, AttributeError):
        pass
    _manifest = build_manifest()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"stamp": stamp, "entries": _manifest}))
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache only costs start-up time
    return _manifest


def _lookup(kind: str, name: str) -> bool:
    """Make ``name`` of ``kind`` registered by importing just its module; True if found."""
    table = _TABLES[kind]
    if name in table:
        return True
    entry = manifest().get(kind, {}).get(name)
    if entry is not None:
        try:
            importlib.import_module(entry["module"])
        except ImportError:
            pass
        if name in table:
            return True
    discover()  # not in the manifest (or moved): fall back to importing everything
    return name in table


def get_input(name: str) -> InputSpec:
    """The input convention ``name`` (importing just the module that registers it)."""
    if not _lookup("inputs", name):
        known = ", ".join(sorted(listing("inputs")))
        raise UnknownNameError(f"unknown input convention {name!r} (known: {known})")
    return INPUTS[name]


def listing(kind: str) -> dict[str, dict[str, Any]]:
    """Listing data of every registered name of ``kind`` without importing the modules."""
    return dict(sorted(manifest().get(kind, {}).items()))


def _unknown(kind: str, name: str, table: Mapping[str, Any]) -> UnknownNameError:
    import difflib

    close = difflib.get_close_matches(name, list(table), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return UnknownNameError(f"unknown {kind} {name!r}{hint}; `fusionbench {kind}s` lists them")


@dataclass(frozen=True)
class MethodCall:
    """A parsed method name: spec, variant and the full parameter set."""

    spec: MethodSpec
    variant: str | None
    params: dict[str, Any]

    @property
    def full_name(self) -> str:
        return f"{self.spec.name}:{self.variant}" if self.variant else self.spec.name


def parse_method(name: str, **overrides: Any) -> MethodCall:
    """Split ``name[:variant]`` and resolve its parameters (defaults < variant < overrides)."""
    base, _, variant = name.strip().partition(":")
    if not _lookup("methods", base):
        raise _unknown("method", base, METHODS)
    spec = METHODS[base]
    variant = variant or spec.default_variant or None
    params = dict(spec.params)
    if variant:
        if variant in spec.variants:
            params.update(spec.variants[variant])
        elif spec.any_variant:
            params["variant"] = variant
        else:
            listed = ", ".join(f"{base}:{v}" for v in spec.variants) or "none"
            raise UnknownNameError(f"unknown variant {variant!r} of method {base!r} (variants: {listed})")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    accepted = _accepted_params(spec)
    if accepted is not None:
        bad = [k for k in overrides if k not in accepted]
        if bad:
            raise UnknownNameError(f"method {base!r} has no parameter {', '.join(map(repr, bad))} "
                                   f"(parameters: {', '.join(sorted(accepted)) or 'none'})")
    params.update(overrides)
    return MethodCall(spec, variant, params)


def accepts(spec: MethodSpec, param: str) -> bool:
    """Whether a method takes keyword parameter ``param``."""
    accepted = _accepted_params(spec)
    return accepted is None or param in accepted


def _accepted_params(spec: MethodSpec) -> set[str] | None:
    """Keyword parameters a method accepts (None when it takes ``**kwargs``)."""
    import inspect

    sig = inspect.signature(spec.fn)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    names = {n for n, p in list(sig.parameters.items())[2:]
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return (names | set(spec.params)) - {"ctx", "vi_rgb"}


def get_metric(name: str) -> MetricSpec:
    if not _lookup("metrics", name):
        raise _unknown("metric", name, METRICS)
    return METRICS[name]


def get_dataset(name: str) -> DatasetSpec:
    if not _lookup("datasets", name):
        raise _unknown("dataset", name, DATASETS)
    return DATASETS[name]


def resolve_metrics(metrics: str | list[str] | tuple[str, ...] | None = None,
                    preset: str | None = None, default: tuple[str, ...] = ("en", "sd")) -> list[str]:
    """Metric names from a comma list and/or a preset, validated, order kept, no repeats."""
    names: list[str] = []
    if preset:
        if not _lookup("presets", preset):
            raise _unknown("preset", preset, PRESETS)
        names += PRESETS[preset].metrics
    if isinstance(metrics, str):
        metrics = [m for m in metrics.split(",") if m.strip()]
    names += [m.strip() for m in (metrics or [])]
    if not names:
        names = list(default)
    out: list[str] = []
    for n in names:
        get_metric(n)
        if n not in out:
            out.append(n)
    return out
