"""Rebuild ``tests/calibration/`` from ``../shared`` (maintainers only; the tests never run this).

Copies three TNO pairs (01, 03, 04) with their ``mean`` and published RFN-Nest fused images, one
VIFB image (carLight) with its GFF and MGFF fused images, byte for byte, and every MATLAB
reference value for exactly those images from ``reference/metrics.csv``,
``reference/vifb_metrics.csv`` and ``reference/compat/compat_reference.csv`` into
``reference.csv`` with provenance columns. Usage: ``python tests/calibration/build.py [SHARED]``.
"""
from __future__ import annotations

import csv
import hashlib
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TNO_PAIRS = ("01", "03", "04")
TNO_FUSED = {"mean": "reference/fused_simple/tno/mean/{pair}.png",
             "RFN-Nest": "data/results/tno/RFN-Nest/{pair}.png"}
VIFB_IMAGES = ("carLight",)
VIFB_FUSED = ("GFF", "MGFF")
COLUMNS = ("dataset", "pair", "fused", "metric", "part", "value", "ir_file", "vi_file", "fused_file",
           "source_csv", "script", "script_commit", "fused_sha256")

PAPER_SCRIPTS = {  # metrics.csv: which original code computed each metric (reference/README.md)
    "NMI": ("Liu imageFusionMetrics metricMI(...,1)", "d6f7f1a0"),
    "QY": ("Liu imageFusionMetrics metricYang", "d6f7f1a0"),
    "QY_stable": ("Liu metricYang + flat-window guard (reference/README.md)", "d6f7f1a0"),
    "QABF_vifb": ("VIFB metricsQabf", "22b2ea9d"),
    "QABF_liu": ("Liu imageFusionMetrics metricXydeas", "d6f7f1a0"),
    "IFC": ("LIVE ifcvec (SelfExSR quant_eval) + matlabPyrTools", "8f6dd8c1/f02ab059"),
    "VIF_vifvec": ("LIVE vifvec + matlabPyrTools", "8f6dd8c1/f02ab059"),
}


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _copy(src: Path, rel: str) -> str:
    dst = HERE / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return rel


def main(shared: Path) -> None:
    rows = []
    fused_of: dict[tuple[str, str, str], str] = {}
    for pair in TNO_PAIRS:
        ir = _copy(shared / f"data/tno/ir/{pair}.png", f"tno/ir/{pair}.png")
        vi = _copy(shared / f"data/tno/vi/{pair}.png", f"tno/vi/{pair}.png")
        for name, pattern in TNO_FUSED.items():
            fused_of[("tno", pair, name)] = _copy(shared / pattern.format(pair=pair),
                                                  f"tno/fused/{name}/{pair}.png")
        fused_of[("tno", pair, "")] = f"{ir}|{vi}"
    for img in VIFB_IMAGES:
        ir = _copy(shared / f"data/vifb/ir/{img}.jpg", f"vifb/ir/{img}.jpg")
        vi = _copy(shared / f"data/vifb/vi/{img}.jpg", f"vifb/vi/{img}.jpg")
        for m in VIFB_FUSED:
            fused_of[("vifb", img, m)] = _copy(shared / f"data/results/vifb/{m}/{img}.jpg",
                                               f"vifb/fused/{m}/{img}.jpg")
        fused_of[("vifb", img, "")] = f"{ir}|{vi}"

    def row(dataset, pair, fused, metric, part, value, source, script, commit):
        ir, vi = fused_of[(dataset, pair, "")].split("|")
        rel = fused_of[(dataset, pair, fused)]
        rows.append(dict(dataset=dataset, pair=pair, fused=fused, metric=metric, part=part, value=value,
                         ir_file=ir, vi_file=vi, fused_file=rel, source_csv=source, script=script,
                         script_commit=commit, fused_sha256=_sha(HERE / rel)))

    with open(shared / "reference/metrics.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["dataset"] == "tno" and r["pair"] in TNO_PAIRS and r["fused"] in TNO_FUSED:
                script, commit = PAPER_SCRIPTS.get(r["metric"], ("see reference/README.md", ""))
                row("tno", r["pair"], r["fused"], r["metric"], r["part"], r["value"],
                    "reference/metrics.csv", script, commit)
    with open(shared / "reference/vifb_metrics.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["image"] in VIFB_IMAGES and r["method"] in VIFB_FUSED:
                row("vifb", r["image"], r["method"], r["metric"], "total", r["value"],
                    "reference/vifb_metrics.csv", "VIFB compute_metrics.m (MATLAB, stored 5 s.f.)",
                    "22b2ea9d")
    with open(shared / "reference/compat/compat_reference.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["dataset"] == "tno" and r["pair"] in TNO_PAIRS and r["fused"] in TNO_FUSED:
                row("tno", r["pair"], r["fused"], f"{r['script']}:{r['metric']}", "total", r["value"],
                    "reference/compat/compat_reference.csv", r["script"], r["script_commit"])
    with open(HERE / "reference.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {HERE / 'reference.csv'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2].parent / "shared")
