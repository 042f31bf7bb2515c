"""Datasets: image pairs, the data root, folder loading and validation.

A :class:`Pair` is (name, infrared image, visible image). Images are loaded lazily from
files (or produced by a callable for generated data) and validated before any work:
:func:`validate_pairs` reports every problem at once, one line per pair.

Data root: ``--data-root``, else ``$FUSIONBENCH_DATA``, else ``~/.cache/fusionbench/data``;
its layout is ``<dataset>/ir``, ``<dataset>/vi`` and ``results/<dataset>/<method>``.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DatasetNotFoundError, InputError
from .imageio import IMAGE_SUFFIXES, is_gray_rgb, read_image, rgb2gray

DEFAULT_DATA_ROOT = Path("~/.cache/fusionbench/data")


def data_root(explicit: os.PathLike | str | None = None) -> Path:
    """The data root: explicit argument, else ``$FUSIONBENCH_DATA``, else the default."""
    from .paths import configured_path

    return configured_path(explicit, "FUSIONBENCH_DATA", DEFAULT_DATA_ROOT)


def weights_root(explicit: os.PathLike | str | None = None, root: os.PathLike | str | None = None) -> Path:
    """Root of other authors' network weights: explicit (``--weights-root``), else
    ``$FUSIONBENCH_WEIGHTS``, else ``<data root>/../weights`` when that exists, else
    ``<data root>/weights``. Never committed to the project (licences unstated)."""
    from .paths import configured_path

    chosen = configured_path(explicit, "FUSIONBENCH_WEIGHTS", None)
    if chosen is not None:
        return chosen
    base = data_root(root)
    sibling = base.parent / "weights"
    return sibling if sibling.is_dir() else base / "weights"


@dataclass(frozen=True)
class PairContext:
    """What a context-aware method (e.g. ``published``) may know about the pair it fuses."""

    dataset: str
    pair: str
    data_root: Path
    weights_root: Path | None = None


@dataclass
class Pair:
    """One infrared/visible pair.

    ``ir_raw()``/``vi_raw()`` return the arrays exactly as stored (uint8; 3 channels where the
    file has 3, even when they are equal — VIFB's metrics treat such files as colour);
    ``ir()``/``vi()`` the float64 gray 0..255 versions (MATLAB rgb2gray; equal channels give
    that channel); ``vi_rgb()`` the colour visible (float64 ``HxWx3``) or None when it is gray.
    """

    name: str
    ir_path: Path | None = None
    vi_path: Path | None = None
    loader: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None
    #: reading parameters passed to :func:`fusionbench.imageio.read_image` (``float_range``, ...)
    read_kw: dict = field(default_factory=dict, compare=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def _load(self) -> tuple[np.ndarray, np.ndarray]:
        if "raw" not in self._cache:
            if self.loader is not None:
                self._cache["raw"] = self.loader()
            else:
                assert self.ir_path is not None and self.vi_path is not None
                ir = read_image(self.ir_path, **self.read_kw)
                vi = read_image(self.vi_path, **self.read_kw)
                self._cache["raw"] = (ir, vi)
        return self._cache["raw"]

    def ir_raw(self) -> np.ndarray:
        return self._load()[0]

    def vi_raw(self) -> np.ndarray:
        return self._load()[1]

    def ir(self) -> np.ndarray:
        return np.asarray(rgb2gray(self.ir_raw()), dtype=np.float64)

    def vi(self) -> np.ndarray:
        return np.asarray(rgb2gray(self.vi_raw()), dtype=np.float64)

    def vi_rgb(self) -> np.ndarray | None:
        v = self.vi_raw()
        return v.astype(np.float64) if v.ndim == 3 and not is_gray_rgb(v) else None

    @property
    def source(self) -> str:
        return str(self.ir_path.parent.parent) if self.ir_path else "(generated)"

    def problems(self) -> list[str]:
        """Every problem with this pair as one-line messages (empty when it is usable)."""
        try:
            ir, vi = self._load()
        except InputError as exc:
            return [f"pair {self.name}: {exc}"]
        out = []
        if ir.ndim == 3 and not is_gray_rgb(ir):
            out.append(f"pair {self.name}: {self.ir_path or 'infrared'}: colour infrared image "
                       "(infrared must be single-channel gray)")
        if ir.shape[:2] != vi.shape[:2]:
            out.append(f"pair {self.name}: size mismatch: infrared {ir.shape[1]}x{ir.shape[0]} "
                       f"({self.ir_path}) vs visible {vi.shape[1]}x{vi.shape[0]} ({self.vi_path})")
        return out


def _stem_map(folder: Path, problems: list[str] | None = None) -> dict[str, Path]:
    """Image files of ``folder`` by stem. Two images with one stem (``01.jpg`` and ``01.png``) and
    names with control characters are appended to ``problems``; other (non-image) files are
    ignored with one warning per folder."""
    import warnings

    files: dict[str, list[Path]] = {}
    ignored = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_file():
            continue
        if p.suffix.lower() in IMAGE_SUFFIXES:
            files.setdefault(p.stem, []).append(p)
        else:
            ignored.append(p.name)
    if ignored:
        warnings.warn(f"{folder}: ignored {len(ignored)} file(s) that are not images "
                      f"({', '.join(ignored[:3])}{', ...' if len(ignored) > 3 else ''}); images are "
                      f"{', '.join(IMAGE_SUFFIXES)}", UserWarning, stacklevel=3)
    out = {}
    for stem, ps in files.items():
        if any(ord(c) < 32 or ord(c) == 127 for c in stem):
            if problems is not None:
                problems.append(f"{str(ps[0])!r}: file name contains control characters; rename it")
            continue
        if len(ps) > 1:
            if problems is not None:
                problems.append(f"pair {stem}: several images with one name in {folder}: "
                                f"{', '.join(q.name for q in ps)}; keep one")
            continue
        out[stem] = ps[0]
    return out


def match_stems(irs: dict[str, Path], vis: dict[str, Path], names: list[str] | None, ir_dir: Path,
                vi_dir: Path, problems: list[str], make) -> list:
    """Pairs ``make(name, ir, vi)`` of the stems in both maps (``names`` restricts and orders
    them); a stem on one side only is appended to ``problems`` (one line each)."""
    wanted = names if names is not None else sorted(set(irs) | set(vis))
    pairs = []
    for n in wanted:
        if n not in irs and n not in vis:
            problems.append(f"pair {n}: no image in {ir_dir} nor {vi_dir}")
        elif n not in irs:
            problems.append(f"pair {n}: visible {vis[n]} has no infrared partner in {ir_dir}")
        elif n not in vis:
            problems.append(f"pair {n}: infrared {irs[n]} has no visible partner in {vi_dir}")
        else:
            pairs.append(make(n, irs[n], vis[n]))
    return pairs


def folder_pairs(root: Path, names: list[str] | None = None, *, label: str | None = None) -> list[Pair]:
    """Pairs from ``root/ir`` and ``root/vi`` matched by file stem.

    ``names`` restricts (and orders) the pairs. Missing partners, missing folders and an empty
    result raise :class:`InputError` listing every problem.
    """
    label = label or str(root)
    ir_dir, vi_dir = root / "ir", root / "vi"
    missing = [str(d) for d in (ir_dir, vi_dir) if not d.is_dir()]
    if missing:
        raise DatasetNotFoundError(f"{label}: missing folder(s) {', '.join(missing)} "
                                   "(a dataset folder holds ir/ and vi/ with matching file names)")
    problems: list[str] = []
    try:
        irs, vis = _stem_map(ir_dir, problems), _stem_map(vi_dir, problems)
    except PermissionError as exc:
        raise InputError(f"{label}: cannot list folder ({exc.strerror}: {exc.filename})") from None
    pairs = match_stems(irs, vis, names, ir_dir, vi_dir, problems, Pair)
    if problems:
        raise InputError(f"{label}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    if not pairs:
        raise InputError(f"{label}: empty dataset (no images in {ir_dir} and {vi_dir})")
    return pairs


def validate_pairs(pairs: list[Pair], label: str) -> None:
    """Load every pair and raise one :class:`InputError` listing all problems (exit code 2)."""
    if not pairs:
        raise InputError(f"{label}: empty dataset (no pairs)")
    problems = [msg for p in pairs for msg in p.problems()]
    if problems:
        raise InputError(f"{label}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))


def prepare_pairs(pairs: list[Pair], boundary: Path, read_kw: dict | None = None) -> list[Pair]:
    """Give ``pairs`` their reading parameters and warn once when files lie outside ``boundary``.

    Files reached through symbolic links that leave ``boundary`` (the data root, or a folder
    dataset's own folder) are followed, as users do link data, with one warning line per call.
    """
    import warnings

    base = Path(boundary).resolve()
    outside = []
    for p in pairs:
        if read_kw:
            p.read_kw = {**p.read_kw, **read_kw}
        for f in (p.ir_path, p.vi_path):
            if f is not None and not Path(f).resolve().is_relative_to(base):
                outside.append(f)
    if outside:
        warnings.warn(f"{len(outside)} file(s) are symbolic links to outside {base} (e.g. {outside[0]} -> "
                      f"{Path(outside[0]).resolve()}); following them", UserWarning, stacklevel=3)
    return pairs


@dataclass(frozen=True)
class DatasetRef:
    """A resolved dataset: what the runner, tables, figures and reproduce pass around.

    ``name``: the registered name, or the folder's basename; ``split``: the split used (None
    for a folder); ``label``: the store folder (``tno``, ``roadscene-all``, or for a folder
    dataset ``<basename>@<8 hex of its resolved path>``, unique to that path and never equal to
    a registered dataset's label); ``source``: the name context-aware methods receive (the
    registered name; for a folder, its label); ``path``: the folder of a folder dataset.
    """

    name: str
    split: str | None
    label: str
    source: str
    pairs: tuple[Pair, ...]
    root: Path
    registered: bool = True
    path: Path | None = None

    def context(self, pair: str, weights_root: Path | None = None) -> PairContext:
        """The :class:`PairContext` a context-aware method receives for ``pair``."""
        return PairContext(dataset=self.source, pair=pair, data_root=self.root, weights_root=weights_root)

    def select(self, names: list[str] | None) -> list[Pair]:
        """The pairs named in ``names`` (all when None), in that order; unknown names are an error."""
        if names is None:
            return list(self.pairs)
        known = {p.name: p for p in self.pairs}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InputError(f"dataset {self.label} has no pair(s) {', '.join(unknown)}")
        return [known[n] for n in names]


def folder_label(path: os.PathLike | str) -> str:
    """Store label of a folder dataset: ``<basename>@<first 8 hex of sha256(resolved path)>``."""
    import hashlib

    p = Path(path).expanduser().resolve()
    return f"{p.name}@{hashlib.sha256(str(p).encode()).hexdigest()[:8]}"


def split_label(name: str, split: str | None, default_split: str | None) -> str:
    """Store label of a registered dataset: its name, or ``name-split`` for a non-default split."""
    return f"{name}-{split}" if split and split != default_split else name


def is_registered_dataset(name: str) -> bool:
    from .registry import DATASETS, listing

    return name in DATASETS or name in listing("datasets")


def load_dataset(name: str, *, root: os.PathLike | str | None = None,
                 split: str | None = None, read_kw: dict | None = None) -> DatasetRef:
    """Resolve a registered dataset name or a folder path to a :class:`DatasetRef`.

    A path (anything that is an existing folder, or contains a path separator) is read as a
    folder with ``ir/`` and ``vi/``; its store label is :func:`folder_label`. ``read_kw`` are
    reading parameters of :func:`fusionbench.imageio.read_image` (``float_range``,
    ``max_megapixels``). Symbolic links leading outside the data root (a folder dataset: outside
    its folder) are followed with a warning (:func:`prepare_pairs`).
    """
    from .registry import get_dataset

    base = data_root(root)
    p = Path(name).expanduser()
    if not is_registered_dataset(name) and (p.is_dir() or os.sep in name or name.startswith(".")):
        if not p.is_dir():
            raise DatasetNotFoundError(f"dataset folder {p} does not exist")
        if split:
            raise InputError(f"dataset folder {p}: a folder dataset has no splits (got --split {split})")
        label = folder_label(p)
        return DatasetRef(name=p.resolve().name, split=None, label=label, source=label,
                          pairs=tuple(prepare_pairs(folder_pairs(p), p, read_kw)), root=base, registered=False,
                          path=p.resolve())
    spec = get_dataset(name)
    if split and spec.splits and split not in spec.splits:
        raise InputError(f"dataset {name!r} has no split {split!r} (splits: {', '.join(spec.splits)})")
    split = split or spec.default_split
    pairs = prepare_pairs(spec.loader(base, split), base, read_kw)
    return DatasetRef(name=name, split=split, label=split_label(name, split, spec.default_split),
                      source=name, pairs=tuple(pairs), root=base)


def dataset_location(spec, root: os.PathLike | str | None = None) -> tuple[Path | None, bool]:
    """Where a registered dataset is expected, and whether it is present."""
    if spec.folder is None:
        return None, True
    where = data_root(root) / spec.folder
    return where, (where / "ir").is_dir() and (where / "vi").is_dir()


def require_folder(spec, root: Path) -> Path:
    """The dataset's folder under ``root``, or a :class:`DatasetNotFoundError` saying how to get it."""
    root = Path(root).expanduser()
    where = root / spec.folder
    if not ((where / "ir").is_dir() and (where / "vi").is_dir()):
        raise DatasetNotFoundError(
            f"dataset {spec.name!r} not found: looked for {where}/ir and {where}/vi "
            f"(data root {root}; set --data-root or FUSIONBENCH_DATA). Get it from: {spec.source}")
    return where
