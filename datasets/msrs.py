"""``msrs``: MSRS, the Multi-Spectral Road Scenarios set of PIAFusion (Tang et al., Information
Fusion 2022), 1,444 aligned pairs at 640x480 (train 1,083, test 361), as released at
github.com/Linfeng-Tang/MSRS (MIT licence)::

    <data root>/msrs/train/ir/00001D.png   8-bit gray infrared
    <data root>/msrs/train/vi/00001D.png   RGB visible
    <data root>/msrs/test/{ir,vi}/...      the official 361-pair test split

The file stem ends in ``D`` (day) or ``N`` (night): every pair carries ``attrs["time"]``
(``"day"``/``"night"``), and the splits ``test-day``/``test-night`` (``train-day``/``train-night``)
keep one of them. Default split: ``test``.
"""
from __future__ import annotations

from pathlib import Path

from fusionbench.registry import register_dataset

from ._release import match_pairs, require

SOURCE = ("github.com/Linfeng-Tang/MSRS (MIT licence; cite PIAFusion, Tang et al. 2022): "
          "train/{ir,vi} and test/{ir,vi}")
SPLITS = ("test", "train", "test-day", "test-night", "train-day", "train-night")


def daytime(name: str) -> dict[str, str]:
    """``{"time": "day"}`` for a ``...D`` stem, ``"night"`` for ``...N``, else empty."""
    tag = name[-1:].upper()
    return {"time": "day" if tag == "D" else "night"} if tag in ("D", "N") else {}


@register_dataset("msrs", description="MSRS road scenes, 640x480, colour visible; test 361 pairs (day/night)",
                  folder="msrs", source=SOURCE, splits=SPLITS, default_split="test",
                  test_list="test/ (361 pairs; test-day / test-night by the D/N suffix)")
def _msrs(root: Path, split: str | None) -> list:
    split = split or "test"
    part, _, when = split.partition("-")
    base = Path(root).expanduser() / "msrs" / part
    require("msrs", [base / "ir", base / "vi"], Path(root), SOURCE)
    pairs = match_pairs(base / "ir", base / "vi", f"dataset msrs ({part})", attrs=daytime)
    if when:
        pairs = [p for p in pairs if p.attrs.get("time") == when]
    return pairs
