"""The public IVIF datasets read from the data root (layout of ``../shared/data``).

* ``tno``: the 21-pair TNO test set used by RFN-Nest and most IVIF papers (``tno/ir``, ``tno/vi``).
* ``tno_train``: 20 further TNO pairs disjoint from the test set (training only).
* ``roadscene``: RoadScene (FLIR) aligned pairs; split ``test20`` (default) is the 20 pairs of
  ``splits/roadscene_fusionbench_test20.txt``, ``all`` gives all 221.
* ``vifb``: the 21 VIFB benchmark pairs (colour JPEGs).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from fusionbench.data import Pair, folder_pairs, require_folder
from fusionbench.registry import DATASETS, register_dataset


def read_split(filename: str) -> list[str]:
    """Pair names of a packaged split list (``#`` comments and blank lines ignored)."""
    text = resources.files("fusionbench.datasets").joinpath("splits", filename).read_text()
    return [ln.split("\t")[0].strip() for ln in text.splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


def _plain(name: str):
    def load(root: Path, split: str | None) -> list[Pair]:
        return folder_pairs(require_folder(DATASETS[name], root), label=f"dataset {name}")
    return load


TNO_SOURCE = ("A. Toet, TNO Image Fusion Dataset, figshare 1008029; the 21-pair test set as in "
              "github.com/hli1221/imagefusion_deeplearning IV_images (IR<k>.png -> ir/<kk>.png)")

register_dataset("tno", description="TNO 21-pair IVIF test set (8-bit gray PNG)", folder="tno",
                 source=TNO_SOURCE)(_plain("tno"))
register_dataset("tno_train", description="20 TNO training pairs, disjoint from the tno test set",
                 folder="tno_train", source=TNO_SOURCE + "; training pairs: see the data MANIFEST")(
    _plain("tno_train"))
register_dataset("vifb", description="VIFB benchmark, 21 colour pairs (JPEG)", folder="vifb",
                 source="github.com/xingchenzhang/VIFB input/IR and input/VI")(_plain("vifb"))


@register_dataset("roadscene", description="RoadScene (FLIR) pairs, colour visible; default split test20",
                  folder="roadscene", source="github.com/hanna-xu/RoadScene cropinfrared/ and crop_LR_visible/",
                  splits=("test20", "all"), default_split="test20",
                  split_notes={"test20": "fusionbench's own 20-pair list (the paper does not publish its pairs)"})
def _roadscene(root: Path, split: str | None) -> list[Pair]:
    where = require_folder(DATASETS["roadscene"], root)
    names = None if split == "all" else read_split("roadscene_fusionbench_test20.txt")
    return folder_pairs(where, names, label=f"dataset roadscene ({split or 'test20'})")
