"""Time every registered metric on a 640x480 and a 1024x768 image pair, on one thread.

Usage::

    python benchmarks/metrics.py [--metrics nmi,qy,qabf_liu,ifc] [--repeat 7] [--data-root DIR]

The pair is TNO pair 04 (640x480) from the data root when present, else a deterministic
synthetic pair; the 1024x768 pair is the 640x480 one resized (bicubic). The fused image is
the rounded mean of the two. Prints the median time per metric in ms and the throughput in
megapixels per second, then the total of the paper preset. Targets (issue 4): the paper
metrics together under 150 ms at 640x480, no metric slower than 1 s per megapixel.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

try:  # keep torch (if a metric uses it) on one thread too
    import torch  # noqa: E402

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    torch = None

cv2.setNumThreads(1)

from fusionbench.api import compute_metric  # noqa: E402
from fusionbench.imageio import read_image, to_gray_float  # noqa: E402
from fusionbench.registry import METRICS, PRESETS, discover  # noqa: E402

SIZES = ((640, 480), (1024, 768))


def _default_data_root() -> Path:
    env = os.environ.get("FUSIONBENCH_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _base_pair(data_root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str]:
    """(ir, vi float64 gray, vi colour uint8 or None, description) at 640x480."""
    ir_p, vi_p = data_root / "tno" / "ir" / "04.png", data_root / "tno" / "vi" / "04.png"
    if ir_p.exists() and vi_p.exists():
        ir, vi = read_image(ir_p), read_image(vi_p)
        if ir.shape[:2] == (480, 640):
            return to_gray_float(ir), to_gray_float(vi), None, f"TNO 04 from {data_root}"
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.uniform(0, 255, (480, 640)), (0, 0), 3)
    ir = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).round()
    vi = np.clip(255 - base + rng.normal(0, 8, base.shape), 0, 255).round()
    return ir, vi, None, "synthetic (seed 0)"


def _pair(ir: np.ndarray, vi: np.ndarray, size: tuple[int, int]) -> list[np.ndarray]:
    if ir.shape != (size[1], size[0]):
        ir = np.clip(cv2.resize(ir, size, interpolation=cv2.INTER_CUBIC), 0, 255).round()
        vi = np.clip(cv2.resize(vi, size, interpolation=cv2.INTER_CUBIC), 0, 255).round()
    fused = np.floor((ir + vi + 1) / 2)
    return [ir, vi, fused]


def _time(fn, repeat: int) -> float:
    fn()  # warm-up (imports, caches, allocator)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--metrics", help="comma list of metric names (default: every registered metric)")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per metric and size (median)")
    ap.add_argument("--data-root", type=Path, default=_default_data_root())
    args = ap.parse_args(argv)

    discover()
    names = [m.strip() for m in args.metrics.split(",")] if args.metrics else sorted(METRICS)
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        ap.error(f"unknown metric(s): {', '.join(unknown)}")
    ir0, vi0, _, what = _base_pair(args.data_root)
    print(f"pair: {what}; fused = floor((IR+VI+1)/2); median of {args.repeat} runs; 1 thread")
    pairs = {size: _pair(ir0, vi0, size) for size in SIZES}
    raw = {size: [p.astype(np.uint8) for p in pairs[size]] for size in SIZES}

    header = f"{'metric':<16}" + "".join(f"{f'{w}x{h} ms':>14}{'MP/s':>8}" for w, h in SIZES)
    print(header)
    print("-" * len(header))
    ms: dict[tuple[str, tuple[int, int]], float] = {}
    for name in names:
        spec = METRICS[name]
        row = f"{name:<16}"
        for size in SIZES:
            gray, r = pairs[size], raw[size]
            t = _time(lambda: compute_metric(spec, r, gray), args.repeat)
            ms[name, size] = 1000 * t
            mp = size[0] * size[1] / 1e6
            row += f"{1000 * t:>14.1f}{mp / t:>8.2f}"
        print(row, flush=True)
    slow = [n for n in names for s in SIZES if ms[n, s] / 1000 / (s[0] * s[1] / 1e6) > 1.0]
    if "paper" in PRESETS and all(m in names for m in PRESETS["paper"].metrics):
        tot = sum(ms[m, SIZES[0]] for m in PRESETS["paper"].metrics)
        print(f"\npaper preset ({', '.join(PRESETS['paper'].metrics)}) at 640x480: {tot:.1f} ms "
              f"(target < 150 ms)")
    print("metrics slower than 1 s/MP: " + (", ".join(sorted(set(slow))) or "none"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
