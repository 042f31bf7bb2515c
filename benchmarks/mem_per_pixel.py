"""Measure each method's peak memory per pixel (the ``mem_bytes_per_pixel`` of its MethodSpec).

Each method runs in a fresh process on random gray pairs of two sizes; after a small warm-up
(imports, weights, caches) the kernel's peak-RSS counter is reset (``/proc/self/clear_refs``)
and the peak above the resident size before the call is divided by the pixel count.
Usage: ``python benchmarks/mem_per_pixel.py [METHOD ...] [--sizes 256,512]`` (Linux only).
"""
from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, os, sys
import numpy as np
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import torch; torch.set_num_threads(1)
from fusionbench.api import run_method
from fusionbench.registry import discover
discover()
name, size = sys.argv[1], int(sys.argv[2])
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
rng = np.random.default_rng(0)
w = rng.uniform(0, 255, (64, 64)); run_method(name, w, w[::-1].copy())
ir = rng.uniform(0, 255, (size, size)); vi = rng.uniform(0, 255, (size, size))
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")
before = status("VmRSS:")
run_method(name, ir, vi)
peak = status("VmHWM:")
print(json.dumps({"method": name, "size": size, "bytes_per_pixel": (peak - before) / (size * size)}))
"""


def main(argv: list[str]) -> None:
    sizes = [256, 512]
    if "--sizes" in argv:
        i = argv.index("--sizes")
        sizes = [int(s) for s in argv[i + 1].split(",")]
        argv = argv[:i] + argv[i + 2:]
    if argv:
        names = argv
    else:
        from fusionbench.registry import METHODS, discover

        discover()
        names = [n for n in sorted(METHODS) if n != "published"]
    for n in names:
        for s in sizes:
            r = subprocess.run([sys.executable, "-c", CHILD, n, str(s)], capture_output=True, text=True)
            line = r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else json.dumps(
                {"method": n, "size": s, "error": (r.stderr.strip().splitlines() or ["?"])[-1][:200]})
            print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
