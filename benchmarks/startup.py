"""Start-up cost of the CLI and the library (issue: instant start-up).

Prints wall and CPU seconds (median of N runs, each a fresh interpreter) for
``python -c "import fusionbench"``, ``fusionbench --help``, ``fusionbench metrics`` and
``fusionbench methods``, after one warm-up run that builds the registry manifest cache.
Targets: ``--help`` and ``metrics`` under 0.5 s wall on an idle core; the import under 0.3 s.

    python benchmarks/startup.py [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

CASES = {
    "import fusionbench": [sys.executable, "-c", "import fusionbench"],
    "fusionbench --help": [sys.executable, "-m", "fusionbench.cli", "--help"],
    "fusionbench metrics": [sys.executable, "-m", "fusionbench.cli", "metrics"],
    "fusionbench methods": [sys.executable, "-m", "fusionbench.cli", "methods"],
}


def measure(cmd: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    measure(CASES["fusionbench metrics"])  # warm-up: builds the registry manifest cache once
    print(f"{'command':24s} {'wall s':>8s} {'CPU s':>8s}   (median of {args.runs})")
    for name, cmd in CASES.items():
        res = [measure(cmd) for _ in range(args.runs)]
        print(f"{name:24s} {statistics.median(r[0] for r in res):8.3f} {statistics.median(r[1] for r in res):8.3f}")


if __name__ == "__main__":
    main()
