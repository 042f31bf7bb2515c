"""Shared reading rules for datasets laid out as their official releases (MSRS, LLVIP, M3FD).

* :class:`ReleasePair`: a :class:`fusionbench.data.Pair` whose infrared, when stored as 3
  channels with R = G = B (LLVIP's and M3FD's JPEG/PNG infrared), is read as its one gray
  channel; a 3-channel infrared whose channels differ stays colour and is refused by
  validation. JPEGs are decoded as stored (Pillow), never re-encoded. ``attrs`` carries
  per-pair facts of the release (MSRS: ``{"time": "day"|"night"}``).
* :func:`match_pairs`: pairs from an infrared and a visible folder matched by file stem, every
  problem (missing partner, missing folder, empty) reported at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fusionbench.data import Pair
from fusionbench.errors import DatasetNotFoundError, InputError
from fusionbench.imageio import IMAGE_SUFFIXES, is_gray_rgb


@dataclass
class ReleasePair(Pair):
    """A pair of an official release: gray-as-RGB infrared collapsed, release attributes kept."""

    attrs: dict[str, str] = field(default_factory=dict)

    def ir_raw(self) -> np.ndarray:
        if "ir1" not in self._cache:
            a = super().ir_raw()
            self._cache["ir1"] = np.ascontiguousarray(a[..., 0]) if a.ndim == 3 and is_gray_rgb(a) else a
        return self._cache["ir1"]


def _stems(folder: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES:
            files.setdefault(p.stem, p)
    return files


def require(dataset: str, folders: list[Path], root: Path, source: str) -> None:
    """Raise :class:`DatasetNotFoundError` naming every missing folder and where to get the data."""
    missing = [str(d) for d in folders if not d.is_dir()]
    if missing:
        raise DatasetNotFoundError(
            f"dataset {dataset!r} not found: missing {', '.join(missing)} (data root {root}; set "
            f"--data-root or FUSIONBENCH_DATA). Get it from: {source}")


def match_pairs(ir_dir: Path, vi_dir: Path, label: str, names: list[str] | None = None,
                attrs=None) -> list[ReleasePair]:
    """Pairs of ``ir_dir`` and ``vi_dir`` by stem (``names`` restricts and orders them)."""
    try:
        irs, vis = _stems(ir_dir), _stems(vi_dir)
    except PermissionError as exc:
        raise InputError(f"{label}: cannot list folder ({exc.strerror}: {exc.filename})") from None
    from fusionbench.data import match_stems

    problems: list[str] = []
    pairs = match_stems(irs, vis, names, ir_dir, vi_dir, problems,
                        lambda n, a, b: ReleasePair(n, a, b, attrs=attrs(n) if attrs else {}))
    if problems:
        raise InputError(f"{label}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    if not pairs:
        raise InputError(f"{label}: empty dataset (no images in {ir_dir} and {vi_dir})")
    return pairs
