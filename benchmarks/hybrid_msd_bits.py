"""Bit-identity check for Hybrid-MSD, GFF and ``methods/_filters`` across code changes.

Usage::

    python benchmarks/hybrid_msd_bits.py --save DIR      # with the old code: store the outputs
    python benchmarks/hybrid_msd_bits.py --compare DIR   # with the new code: np.array_equal each

Cases: every TNO pair (gray), 6 RoadScene pairs (gray) and one through ``hybrid_msd:rgb``, 2 MSRS
pairs, synthetic images of odd sizes (1x1 up to 257x383), and ``fast_bilateral`` called directly
with non-default sampling rates (fractional, coarse, a constant image); GFF (the other user of
``methods/_filters``: ``imfilter`` with 'replicate' borders, the guided filter) on the same
pairs and through ``gff:rgb``; ``imfilter`` called directly (both borders, kernels wider than
the image). Each output is the
float64 array itself (``.npy``), compared with ``np.array_equal`` -- not the saved 8-bit PNG.
Missing data folders are skipped (and reported). Nothing here is a test: run it by hand
before and after a change of ``methods/_filters.py``, ``methods/_filter_kernels.py``,
``methods/hybrid_msd.py`` or ``methods/gff.py``.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

from fusionbench.api import run_method
from fusionbench.imageio import read_image, to_gray_float
from fusionbench.methods._filters import fast_bilateral, imfilter, matlab_gaussian
from fusionbench.registry import discover

DEFAULT_ROOT = Path(os.environ.get("FUSIONBENCH_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def _pairs(root: Path):
    """``(label, ir, vi, vi_rgb)`` for the real pairs found under ``root``."""
    sets = [("tno", sorted((root / "tno" / "ir").glob("*.png"))),
            ("roadscene", sorted((root / "roadscene" / "ir").glob("*.jpg"))[:6]),
            ("msrs", sorted((root / "msrs_sample" / "ir").glob("*.png"))[:2])]
    for name, irs in sets:
        if not irs:
            print(f"skipped {name}: no data under {root}")
        for ir_p in irs:
            vi_p = ir_p.parents[1] / "vi" / ir_p.name
            ir_raw, vi_raw = read_image(ir_p, collapse_gray=True), read_image(vi_p, collapse_gray=True)
            yield f"{name}_{ir_p.stem}", to_gray_float(ir_raw), to_gray_float(vi_raw), \
                (vi_raw.astype(np.float64) if vi_raw.ndim == 3 else None)


def _synthetic():
    rng = np.random.default_rng(22)
    for h, w in [(1, 1), (2, 3), (7, 11), (33, 17), (101, 203), (257, 383)]:
        yy, xx = np.mgrid[0:h, 0:w]
        ir = np.clip(80 + 150 * np.exp(-((yy - h / 2) ** 2 + (xx - w / 3) ** 2) / (0.05 * h * w + 1))
                     + rng.normal(0, 5, (h, w)), 0, 255).round()
        vi = np.clip(30 + 180 * xx / max(w, 1) + 25 * np.sin(yy / 3.0) + rng.normal(0, 8, (h, w)), 0, 255)
        yield f"synthetic_{h}x{w}", ir, vi, None


def cases(root: Path):
    """``(label, thunk)`` for every output that must not change."""
    discover()
    out = []
    first_rgb = True
    for label, ir, vi, vi_rgb in [*_pairs(root), *_synthetic()]:
        out.append((f"hybrid_msd_{label}", lambda ir=ir, vi=vi: run_method("hybrid_msd", ir, vi)))
        out.append((f"gff_{label}", lambda ir=ir, vi=vi: run_method("gff", ir, vi)))
        if vi_rgb is not None and first_rgb and label.startswith("roadscene"):
            first_rgb = False
            out.append((f"hybrid_msd_rgb_{label}",
                        lambda ir=ir, vi=vi, c=vi_rgb: run_method("hybrid_msd:rgb", ir, vi, vi_rgb=c)))
            out.append((f"gff_rgb_{label}", lambda ir=ir, vi=vi, c=vi_rgb: run_method("gff:rgb", ir, vi, vi_rgb=c)))
    rng = np.random.default_rng(7)
    img = rng.random((123, 77))
    img[:, 40:] = 0.3 * img[:, 40:] + 0.7
    for ss, sr in [(1.5, 0.1), (3.7, 0.013), (2.0, 0.05), (16.0, 0.2), (40.0, 0.5), (1.0, 0.3)]:
        out.append((f"fast_bilateral_s{ss}_r{sr}", lambda ss=ss, sr=sr: fast_bilateral(img, ss, sr)))
    out.append(("fast_bilateral_constant", lambda: fast_bilateral(np.full((31, 45), 0.4), 2.0, 0.05)))
    for shape in [(1, 1), (3, 2), (40, 29), (123, 77)]:
        x = rng.random(shape) * 255
        for size, sigma in [(7, 1.0), (13, 2.0), (97, 16.0), (385, 64.0)]:
            g = matlab_gaussian(size, sigma)
            for border in ("symmetric", "replicate"):
                out.append((f"imfilter_{shape[0]}x{shape[1]}_{size}_{border}",
                            lambda x=x, g=g, b=border: imfilter(x, g, b)))
        out.append((f"imfilter_{shape[0]}x{shape[1]}_box31", lambda x=x: imfilter(x, np.full(31, 1 / 31), "replicate")))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--save", type=Path, help="store the outputs (.npy) and sha256s here")
    g.add_argument("--compare", type=Path, help="compare with the outputs stored here")
    ap.add_argument("--data-root", type=Path, default=DEFAULT_ROOT)
    args = ap.parse_args(argv)
    n_bad = n = 0
    for label, run in cases(args.data_root):
        y = np.asarray(run())
        assert y.dtype == np.float64, label
        sha = hashlib.sha256(np.ascontiguousarray(y).tobytes()).hexdigest()[:16]
        n += 1
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            np.save(args.save / f"{label}.npy", y)
            print(f"{label:<40} {y.shape} {sha}", flush=True)
            continue
        ref = np.load(args.compare / f"{label}.npy")
        same = ref.shape == y.shape and np.array_equal(ref, y)
        n_bad += not same
        diff = "" if same or ref.shape != y.shape else f" max|diff| {np.abs(ref - y).max():.3g}"
        print(f"{label:<40} {y.shape} {'identical' if same else 'DIFFERENT' + diff}", flush=True)
    if args.compare:
        print(f"{n - n_bad}/{n} outputs bit-identical")
    return 1 if n_bad else 0


if __name__ == "__main__":
    sys.exit(main())
