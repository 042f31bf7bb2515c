"""Scale benchmark: throughput, memory and store overhead of ``run`` on a large synthetic set.

A deterministic generator writes an LLVIP-like set (``llvip/infrared/test``, ``llvip/visible/test``:
JPEG, infrared stored as 3 equal channels, colour visible; pair ``k`` from seed ``k``), and each
configuration runs in a fresh process (so peak RSS is its own)::

    python benchmarks/scale.py --pairs 200 --size 640x512 --preset paper      # throughput
    python benchmarks/scale.py --pairs 200,2000 --metrics en --configs jobs2,dask2   # RSS vs pairs
    python benchmarks/scale.py --store-records 20000                           # store overhead

Reported per configuration: wall seconds, pairs/s, CPU seconds of the client and of its
workers (``time.process_time`` / ``RUSAGE_CHILDREN``), peak RSS of the client and of the largest
worker. Configurations: ``jobs1`` (serial), ``jobs2`` (local pool of 2), ``dask2`` (a 2-worker
``LocalCluster``). OPENBLAS/torch threads are pinned to 1.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

CONFIGS = {"jobs1": ("local", 1), "jobs2": ("local", 2), "dask2": ("dask", 2)}


def make_pair(k: int, size: tuple[int, int]):
    """Pair ``k`` (uint8 infrared HxW, colour visible HxWx3), deterministic from seed ``k``."""
    import numpy as np

    h, w = size
    rng = np.random.default_rng(k)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    scene = 90 + 60 * np.sin(xx / rng.uniform(20, 60) + k) * np.cos(yy / rng.uniform(20, 60))
    ir = 0.4 * scene + 30
    for _ in range(3):
        cy, cx = rng.uniform(0.1, 0.9, 2) * (h, w)
        s = rng.uniform(0.03, 0.08) * h
        ir = ir + rng.uniform(100, 160) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    vis = np.stack([scene * f for f in rng.uniform(0.5, 0.9, 3)], axis=-1)
    ir = ir + rng.normal(0, 2, ir.shape)
    vis = vis + rng.normal(0, 3, vis.shape)
    to8 = lambda a: np.clip(np.floor(a + 0.5), 0, 255).astype(np.uint8)  # noqa: E731
    return to8(ir), to8(vis)


def generate(root: Path, n: int, size: tuple[int, int]) -> Path:
    """Write ``n`` pairs under ``root/llvip`` (skips pairs already there); returns ``root``."""
    import cv2
    import numpy as np

    ir_dir, vi_dir = root / "llvip/infrared/test", root / "llvip/visible/test"
    ir_dir.mkdir(parents=True, exist_ok=True)
    vi_dir.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        name = f"{k:06d}.jpg"
        if (vi_dir / name).exists():
            continue
        ir, vi = make_pair(k, size)
        cv2.imwrite(str(ir_dir / name), np.repeat(ir[..., None], 3, axis=2), [cv2.IMWRITE_JPEG_QUALITY, 90])
        cv2.imwrite(str(vi_dir / name), vi[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    return root


def one(args) -> dict:
    """Run one configuration in this process and measure it."""
    import torch

    torch.set_num_threads(1)
    from fusionbench.executor import make_executor
    from fusionbench.registry import discover
    from fusionbench.runner import run

    kind, jobs = CONFIGS[args.one]
    metrics = args.metrics.split(",") if args.metrics else None
    discover()
    t0 = time.perf_counter()
    ex = make_executor(kind, jobs=jobs)  # a pool / cluster started once (not counted below)
    setup = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        out = run(["average"], "llvip", metrics=metrics, preset=args.preset, results=args.results,
                  root=args.data_root, jobs=jobs, executor=ex, progress=False, log=lambda m: None)
    finally:
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        ex.close()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    me = resource.getrusage(resource.RUSAGE_SELF)
    n = len(out[0].outcomes)
    assert out[0].count("fused") == n, out[0].line()
    return {"config": args.one, "pairs": n, "setup_s": round(setup, 1), "wall_s": round(wall, 1), "pairs_per_s": round(n / wall, 3),
            "client_cpu_s": round(cpu, 1), "worker_cpu_s": round(kids.ru_utime + kids.ru_stime, 1),
            "client_peak_rss_mb": round(me.ru_maxrss / 1024), "worker_peak_rss_mb": round(kids.ru_maxrss / 1024)}


def store_overhead(n: int, work: Path) -> dict:
    """Time rebuilding ``scores.csv`` and printing ``table`` on a store of ``n`` records."""
    import hashlib

    import numpy as np

    from fusionbench.imageio import encode_png
    from fusionbench.store import ResultStore

    store = ResultStore(work / "store")
    rng = np.random.default_rng(0)
    png = encode_png(np.zeros((8, 8), np.uint8))
    digest = hashlib.sha256(png).hexdigest()
    t0 = time.perf_counter()
    names = [f"{k:06d}" for k in range(n)]
    for name in names:
        fp = store.fused_path("scale", "average", name)
        fp.parent.mkdir(parents=True, exist_ok=True)
        fp.write_bytes(png)
        vals = {m: {"version": "1", "values": {m: float(rng.normal())}} for m in ("nmi", "qy", "qabf_liu", "ifc", "en", "sd")}
        rec = {"key": "x", "pair": name, "method": "average", "fused_sha256": digest, "fuse_seconds": 0.0,
               "scores": vals}
        rp = store.record_path("scale", "average", name)  # as write_record writes it, without fsync
        rp.parent.mkdir(parents=True, exist_ok=True)
        rp.write_text(json.dumps({"store_version": 1, **rec}, sort_keys=True, indent=1) + "\n")
    build = time.perf_counter() - t0
    store.write_method_info("scale", "average", {"method": "average", "version": "1", "params": {}})
    c0, t0 = time.process_time(), time.perf_counter()
    store.write_scores("scale", "average", names, ["nmi", "qy", "qabf_liu", "ifc", "en", "sd"])
    rebuild = (time.perf_counter() - t0, time.process_time() - c0)
    cmd = [sys.executable, "-m", "fusionbench.cli", "table", "--dataset", "scale", "--results", str(work / "store")]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    table = time.perf_counter() - t0
    (store.method_dir("scale", "average") / ResultStore.INDEX).unlink(missing_ok=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, capture_output=True, text=True)
    table_cold = time.perf_counter() - t0  # without the verified-record index: every PNG hashed
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fusionbench.cli", "metrics"], capture_output=True, text=True)
    startup = time.perf_counter() - t0
    return {"records": n, "synthesise_s": round(build, 1), "rebuild_scores_csv_wall_s": round(rebuild[0], 2),
            "table_without_index_s": round(table_cold, 2),
            "rebuild_scores_csv_cpu_s": round(rebuild[1], 2), "table_wall_s": round(table, 2),
            "cli_startup_wall_s": round(startup, 2), "table_rc": res.returncode,
            "table_head": res.stdout.splitlines()[:6] if res.returncode == 0 else res.stderr[-300:]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", default="200", help="pair count(s), comma-separated (default 200)")
    ap.add_argument("--size", default="1280x1024", help="WxH of generated pairs (default LLVIP's 1280x1024)")
    ap.add_argument("--configs", default="jobs1,jobs2,dask2")
    ap.add_argument("--metrics")
    ap.add_argument("--preset")
    ap.add_argument("--work", help="folder for data and stores (default: a temporary folder)")
    ap.add_argument("--store-records", type=int, help="only measure store overhead with this many records")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--data-root", help=argparse.SUPPRESS)
    ap.add_argument("--results", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args)))
        return 0
    work = Path(args.work or tempfile.mkdtemp(prefix="fb-scale-"))
    if args.store_records:
        print(json.dumps(store_overhead(args.store_records, work)))
        return 0
    w, h = (int(v) for v in args.size.lower().split("x"))
    for n in (int(v) for v in args.pairs.split(",")):
        t0 = time.perf_counter()
        root = generate(work / f"data{n}_{w}x{h}", n, (h, w))
        print(json.dumps({"generated": n, "size": args.size, "seconds": round(time.perf_counter() - t0, 1)}),
              flush=True)
        for cfg in args.configs.split(","):
            cmd = [sys.executable, __file__, "--one", cfg, "--data-root", str(root),
                   "--results", str(work / f"store-{cfg}-{n}-{w}x{h}")]
            cmd += ["--metrics", args.metrics] if args.metrics else []
            cmd += ["--preset", args.preset] if args.preset else []
            res = subprocess.run(cmd, capture_output=True, text=True)
            line = res.stdout.strip().splitlines()[-1] if res.returncode == 0 else \
                json.dumps({"config": cfg, "error": res.stderr[-500:]})
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
