"""``m3fd``: M3FD, the multi-scenario multi-modality set of TarDAL (Liu et al., CVPR 2022),
4,200 aligned pairs (mostly 1024x768) and a 300-pair fusion subset, as released at
github.com/JinyuanLiu-CV/TarDAL (dataset links in its README; the repository is GPL-3.0, the
data's own terms are set by its authors)::

    <data root>/m3fd/ir/00000.png   infrared, stored as 3 equal channels (read as gray)
    <data root>/m3fd/vi/00000.png   RGB visible
    <data root>/m3fd/fusion300.txt  optional: the 300 fusion-subset pair names, one per line

Splits: ``fusion300`` (the names listed in ``fusion300.txt``) and ``all``. Without ``--split``
the fusion subset is used when its list file is present, else every pair.
"""
from __future__ import annotations

from pathlib import Path

from fusionbench.errors import DatasetNotFoundError
from fusionbench.registry import register_dataset

from ._release import match_pairs, require

SOURCE = ("github.com/JinyuanLiu-CV/TarDAL (M3FD links in its README; cite TarDAL): put the images in "
          "m3fd/ir and m3fd/vi and the fusion subset's names in m3fd/fusion300.txt")
LIST = "fusion300.txt"


def read_list(path: Path) -> list[str]:
    """Pair names of a list file: one per line, extension optional, ``#`` comments ignored."""
    names = []
    for ln in path.read_text().splitlines():
        ln = ln.split("#", 1)[0].strip()
        if ln:
            names.append(Path(ln).stem if Path(ln).suffix else ln)
    return names


@register_dataset("m3fd", description="M3FD multi-scenario pairs (4,200); fusion300 subset when "
                  "m3fd/fusion300.txt is present", folder="m3fd", source=SOURCE, splits=("fusion300", "all"),
                  default_split=None, test_list="fusion300 (m3fd/fusion300.txt: 300 names)")
def _m3fd(root: Path, split: str | None) -> list:
    base = Path(root).expanduser() / "m3fd"
    require("m3fd", [base / "ir", base / "vi"], Path(root), SOURCE)
    listed = base / LIST
    if split is None:
        split = "fusion300" if listed.is_file() else "all"
    if split == "fusion300":
        if not listed.is_file():
            raise DatasetNotFoundError(f"dataset m3fd: split fusion300 needs {listed} (one pair name per line)")
        return match_pairs(base / "ir", base / "vi", "dataset m3fd (fusion300)", names=read_list(listed))
    return match_pairs(base / "ir", base / "vi", "dataset m3fd (all)")
