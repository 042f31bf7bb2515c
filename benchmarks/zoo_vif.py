"""``zoo:vif`` CPU time per fused image, and its kernels' compile and cache-load time (issue 17).

    python benchmarks/zoo_vif.py [--repeat 7] [--data-root DIR]

Per size (640x480, 1024x768; TNO pair 04 resized as in ``benchmarks/metrics.py``, else a
deterministic synthetic pair): the median process CPU ms of the registered function for the
first fused image of a pair (source caches cleared) and for each further fused image (the
sources' terms cached), one thread. Then, in two fresh interpreters sharing an empty numba
cache directory: the CPU seconds of the first ``zoo:vif`` call, cold (numba import + compile)
and warm (numba import + loading the cached kernels).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)

_FIRST_CALL = """
import time, numpy as np
from fusionbench.registry import discover, get_metric
discover(); s = get_metric("zoo:vif")
a = np.arange(48 * 64, dtype=np.float64).reshape(48, 64) % 251
c = time.process_time()
s.fn(a, a[::-1].copy(), (a + a[::-1]) / 2, **s.params)
print(time.process_time() - c)
"""


def _pair(data_root: Path, size: tuple[int, int]) -> list[np.ndarray]:
    from fusionbench.imageio import read_image, to_gray_float

    p = data_root / "tno" / "ir" / "04.png"
    if p.exists():
        ir, vi = (to_gray_float(read_image(data_root / "tno" / r / "04.png")) for r in ("ir", "vi"))
    else:
        yy, xx = np.mgrid[0:480, 0:640]
        rng = np.random.default_rng(4)
        ir = np.clip(np.round(120 + 70 * np.sin(xx / 23.0) * np.cos(yy / 31.0) + rng.normal(0, 5, xx.shape)), 0, 255)
        vi = np.clip(np.round(200 * xx / 640 + rng.normal(0, 3, xx.shape)), 0, 255)
    if ir.shape != (size[1], size[0]):
        ir = np.clip(cv2.resize(ir, size, interpolation=cv2.INTER_CUBIC), 0, 255).round()
        vi = np.clip(cv2.resize(vi, size, interpolation=cv2.INTER_CUBIC), 0, 255).round()
    return [ir, vi, np.floor((ir + vi + 1) / 2)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    ap.add_argument("--data-root", type=Path, default=Path(os.environ.get("FUSIONBENCH_DATA", shared)))
    a = ap.parse_args(argv)
    from fusionbench.metrics._memo import clear_all
    from fusionbench.registry import discover, get_metric

    discover()
    spec = get_metric("zoo:vif")
    run = lambda ir, vi, f: spec.fn(ir, vi, f, **spec.params)  # noqa: E731
    run(*_pair(a.data_root, (64, 48)))                          # compile or load the kernels
    for size in ((640, 480), (1024, 768)):
        ir, vi, f = _pair(a.data_root, size)
        others = [np.clip(f + d, 0, 255) for d in (1.0, -1.0, 2.0, -2.0)]
        first, further = [], []
        for i in range(a.repeat):
            clear_all()
            c = time.process_time()
            run(ir, vi, f)
            first.append(time.process_time() - c)
            c = time.process_time()
            run(ir, vi, others[i % len(others)])
            further.append(time.process_time() - c)
        mp = size[0] * size[1] / 1e6
        fi, fu = 1000 * statistics.median(first), 1000 * statistics.median(further)
        print(f"{size[0]}x{size[1]}: first fused image {fi:.1f} ms CPU ({fi / 1000 / mp:.2f} s/MP), "
              f"further fused image {fu:.1f} ms CPU (median of {a.repeat})", flush=True)
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for what in ("cold (compile)", "warm (cached)"):
            out = subprocess.run([sys.executable, "-c", _FIRST_CALL], env=env, capture_output=True, text=True,
                                 check=True)
            print(f"first zoo:vif call in a fresh process, {what}: {float(out.stdout):.2f} s CPU "
                  f"(incl. importing numba)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
