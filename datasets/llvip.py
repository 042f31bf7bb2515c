"""``llvip``: LLVIP, a visible-infrared paired set for low-light vision (Jia et al., ICCV
Workshops 2021), 15,488 aligned pairs at 1280x1024 (train 12,025, test 3,463), as released at
github.com/bupt-ai-cz/LLVIP::

    <data root>/llvip/infrared/{train,test}/010001.jpg
    <data root>/llvip/visible/{train,test}/010001.jpg

Quirks: the infrared JPEGs are stored with 3 equal channels and are read as gray; all images
are JPEG and are read as stored (decoded once, never re-encoded). Licence: LLVIP's terms allow
non-commercial (academic) use only and ask you to cite the paper. Default split: ``test``.
"""
from __future__ import annotations

from pathlib import Path

from fusionbench.registry import register_dataset

from ._release import match_pairs, require

SOURCE = ("github.com/bupt-ai-cz/LLVIP (download links in its README; non-commercial use only, "
          "cite LLVIP): infrared/{train,test}, visible/{train,test}")


@register_dataset("llvip", description="LLVIP low-light street pairs, 1280x1024 JPEG; test 3,463 pairs "
                  "(non-commercial licence)", folder="llvip", source=SOURCE, splits=("test", "train"),
                  default_split="test", test_list="infrared/test + visible/test (3,463 pairs)")
def _llvip(root: Path, split: str | None) -> list:
    split = split or "test"
    base = Path(root).expanduser() / "llvip"
    ir, vi = base / "infrared" / split, base / "visible" / split
    require("llvip", [ir, vi], Path(root), SOURCE)
    return match_pairs(ir, vi, f"dataset llvip ({split})")
