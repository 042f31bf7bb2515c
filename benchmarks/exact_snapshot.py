"""Zero-tolerance snapshot of metric values, for refactors that must not move a single bit.

    python benchmarks/exact_snapshot.py --dump /tmp/before.json [--metrics qabf,qabf_liu,...]
    python benchmarks/exact_snapshot.py --check /tmp/before.json

Scores every registered metric (or those named) on seven triples chosen for the corner cases
of the metric cores: TNO pair 01 with an 8-bit fused image, a non-integer float triple, a
constant fused image, a constant source, piecewise-constant images (zero-gradient regions, the
fused equal to a source), all-constant images, and a VIFB pair with a colour visible image.
Values are stored as ``float.hex`` (errors as their message); ``--check`` asserts exact
equality (NaN == NaN) and prints every difference. Needs ``FUSIONBENCH_DATA`` for the TNO/VIFB
triples (skipped without it).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np


def _triples() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1234)
    h, w = 184, 200
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = 127.5 + 60 * np.sin(xx / 13.0) * np.cos(yy / 17.0)
    out: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    ir_f = smooth + rng.normal(0, 9.3, (h, w))
    vi_f = 255 * (xx / w) ** 1.3 * 0.8 + rng.normal(0, 4.1, (h, w))
    ir_f, vi_f = ir_f.clip(0, 255), vi_f.clip(0, 255)
    out["float"] = (ir_f, vi_f, (0.37 * ir_f + 0.63 * vi_f + rng.normal(0, 2.2, (h, w))).clip(0, 255))
    ir_u = np.round(ir_f).astype(np.uint8)
    vi_u = np.round(vi_f).astype(np.uint8)
    out["const_fused"] = (ir_u, vi_u, np.full((h, w), 128, np.uint8))
    out["const_source"] = (np.full((h, w), 77, np.uint8), vi_u, np.round((77 + vi_f) / 2).astype(np.uint8))
    blocks = rng.integers(0, 256, (h // 23 + 1, w // 25 + 1))
    pc_a = np.kron(blocks, np.ones((23, 25)))[:h, :w].astype(np.uint8)
    pc_b = np.where(xx < w // 2, 40, 200).astype(np.uint8)
    pc_b[60:120, 50:150] = 90
    out["piecewise"] = (pc_a, pc_b, pc_a.copy())   # fused == ir: gA == gF everywhere
    out["all_const"] = (np.full((h, w), 10, np.uint8), np.full((h, w), 200, np.uint8),
                        np.full((h, w), 100, np.uint8))
    data = os.environ.get("FUSIONBENCH_DATA")
    if data:
        from fusionbench.imageio import read_image

        tno = Path(data) / "tno"
        irs = sorted((tno / "ir").iterdir())
        if irs:
            ir = read_image(irs[0])
            vi = read_image(tno / "vi" / irs[0].name)
            fu = np.round((ir.astype(np.float64) + vi) / 2).astype(np.uint8)
            out["tno01"] = (ir, vi, fu)
        vifb = Path(data) / "vifb"
        if (vifb / "ir" / "fight.jpg").exists():
            ir = read_image(vifb / "ir" / "fight.jpg")
            vi = read_image(vifb / "vi" / "fight.jpg")
            ir2 = ir if ir.ndim == 2 else ir[..., 0]
            fu = np.round(0.5 * ir2[..., None].astype(np.float64) + 0.5 * vi).astype(np.uint8) \
                if vi.ndim == 3 else np.round((ir2.astype(np.float64) + vi) / 2).astype(np.uint8)
            out["vifb_fight_colour"] = (ir, vi, fu)
    return out


def _enc(v: float) -> str:
    return "nan" if math.isnan(v) else float(v).hex()


def compute(names: list[str] | None) -> dict[str, dict[str, str]]:
    from fusionbench.api import compute_metric
    from fusionbench.imageio import to_gray_float as _gray
    from fusionbench.metrics._memo import clear_all
    from fusionbench.registry import METRICS, discover

    discover()
    names = names or sorted(METRICS)
    res: dict[str, dict[str, str]] = {}
    for tname, raw in _triples().items():
        gray = [_gray(np.asarray(a)) for a in raw]
        row: dict[str, str] = {}
        for rep in range(2):             # second pass: the source-side caches are warm
            for n in names:
                try:
                    vals = {k: _enc(v) for k, v in compute_metric(METRICS[n], raw, gray).items()}
                except Exception as exc:  # noqa: BLE001  (recorded, compared as text)
                    vals = {n: f"error: {type(exc).__name__}: {exc}"}
                for k, v in vals.items():
                    key = f"{k}#{rep}"
                    row[key] = v
        res[tname] = row
        clear_all()
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--dump")
    g.add_argument("--check")
    ap.add_argument("--metrics", default="")
    a = ap.parse_args(argv)
    if a.dump:
        names = [m for m in a.metrics.split(",") if m] or None
        snap = compute(names)
        Path(a.dump).write_text(json.dumps(snap, indent=0, sort_keys=True))
        print(f"wrote {sum(len(r) for r in snap.values())} values on {len(snap)} triples to {a.dump}")
        return 0
    ref = json.loads(Path(a.check).read_text())
    names = sorted({k.split("#")[0].split(".")[0] for r in ref.values() for k in r
                    if not k.split("#")[0].split(".")[0].startswith("error")})
    from fusionbench.registry import METRICS, discover

    discover()
    names = [n for n in names if n in METRICS]
    new = compute(names)
    bad = 0
    for t, row in ref.items():
        for k, v in row.items():
            nv = new.get(t, {}).get(k)
            if nv != v:
                bad += 1
                print(f"DIFF {t} {k}: before {v} after {nv}")
    n = sum(len(r) for r in ref.values())
    print(f"{n - bad}/{n} values identical on {len(ref)} triples, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
