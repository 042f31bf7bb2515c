"""Write the job list (and the edge-case PNGs) for ``run_fmi_crops.m``.

Usage: ``python make_jobs.py SHARED EDGE_DIR JOBS.tsv`` -- SHARED is the shared/ folder, EDGE_DIR
receives the synthetic PNGs of :mod:`edge_cases`. One line per (case, feature); paths absolute.
"""
from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

import edge_cases

# case, ir, vi, fused (relative to shared/, or edge/<name>_<role>.png), row0, col0, height, width, features
CASES = [
    ("tno01_mean", "data/tno/ir/01.png", "data/tno/vi/01.png", "reference/compat/fused/tno/mean/01.png",
     100, 150, 24, 24, "dct,none"),
    ("tno02_max", "data/tno/ir/02.png", "data/tno/vi/02.png", "reference/compat/fused/tno/max/02.png",
     60, 80, 32, 40, "dct"),
    ("tno01_rfnnest", "data/tno/ir/01.png", "data/tno/vi/01.png", "data/results/tno/RFN-Nest/01.png",
     120, 200, 48, 48, "dct,none"),
    ("tno03_vggml", "data/tno/ir/03.png", "data/tno/vi/03.png", "data/results/tno/VggML/03.png",
     30, 10, 40, 32, "dct"),
    ("tno04_mean", "data/tno/ir/04.png", "data/tno/vi/04.png", "reference/compat/fused/tno/mean/04.png",
     200, 300, 48, 48, "dct"),
    ("tno01_mean_corner", "data/tno/ir/01.png", "data/tno/vi/01.png", "reference/compat/fused/tno/mean/01.png",
     246, 336, 24, 24, "dct"),
    ("tno04_mean_flat", "data/tno/ir/04.png", "data/tno/vi/04.png", "reference/compat/fused/tno/mean/04.png",
     112, 328, 32, 32, "none,dct"),                 # 43 pairs of constant, unequal windows
    ("tno02_fused_is_ir", "data/tno/ir/02.png", "data/tno/vi/02.png", "data/tno/ir/02.png",
     0, 0, 24, 32, "dct"),
    ("roadscene00977_mean", "data/roadscene/ir/FLIR_00977.jpg", "data/roadscene/vi/FLIR_00977.jpg",
     "reference/compat/fused/roadscene/mean/FLIR_00977.png", 100, 200, 32, 32, "dct"),
    ("roadscene00993_fusiongan", "data/roadscene/ir/FLIR_00993.jpg", "data/roadscene/vi/FLIR_00993.jpg",
     "data/results/roadscene/FusionGAN/FLIR_00993.png", 50, 60, 40, 40, "dct"),
] + [(f"edge_{n}", f"edge/{n}_ir.png", f"edge/{n}_vi.png", f"edge/{n}_fused.png", 0, 0, *edge_cases.SHAPE,
      "dct,none") for n in edge_cases.NAMES]


def main(shared: str, edge_dir: str, jobs: str) -> None:
    edge = Path(edge_dir)
    edge.mkdir(parents=True, exist_ok=True)
    for n in edge_cases.NAMES:
        for role, img in zip(("ir", "vi", "fused"), edge_cases.images(n)):
            Image.fromarray(img).save(edge / f"{n}_{role}.png")

    def where(rel: str) -> str:
        return str(edge / rel[5:]) if rel.startswith("edge/") else str(Path(shared) / rel)

    with open(jobs, "w") as fh:
        for case, ir, vi, f, r0, c0, h, w, feats in CASES:
            for feat in feats.split(","):
                fh.write("\t".join([case, where(ir), where(vi), where(f), str(r0), str(c0), str(h), str(w), feat])
                         + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
