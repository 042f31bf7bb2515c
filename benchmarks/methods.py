"""Time every registered deterministic fusion method on one 640x480 pair.

Usage::

    python benchmarks/methods.py [--methods gff,hybrid_msd] [--repeats 5]
                                 [--data-root $FUSIONBENCH_DATA or ../shared/data] [--pair 04] [--memory]
                                 [--threads 1] [--tune-malloc]

Fuses TNO pair ``04`` (640x480) -- or, without the data, a synthetic 640x480 pair -- with
each method (default variant; ``name:variant`` accepted in ``--methods``), once to warm up and
then ``--repeats`` times, and prints the median milliseconds per image: wall-clock and the
process's CPU time (all its threads; on a shared, loaded machine the CPU time is the steadier
figure, on an idle one-thread run both agree). Methods that read a
dataset context get one for the pair (``published:*`` is skipped: it reads files). A method
that cannot run here (missing weights, ...) is reported as skipped with its one-line reason.
Times are wall-clock on this machine with its current load; rerun baselines beside any
comparison. ``--threads`` (default 1) is passed to ``torch.set_num_threads`` for the deep methods
(and to ``cv2.setNumThreads`` when OpenCV is installed); run with ``OPENBLAS_NUM_THREADS=1``.

``--tune-malloc`` sets the glibc thresholds that every fusionbench work process sets
(:func:`fusionbench.executor.tune_malloc`, as ``fusionbench run`` does): freed temporaries are
kept instead of being returned to the OS and faulted in again on the next call. Without it
the figures are those of a bare ``fusionbench.fuse`` in a fresh interpreter (for Hybrid-MSD,
whose ~40 MB of levels are re-faulted per call, that adds ~0.05 s of system CPU time).

Targets: where a method has one (issue 22: Hybrid-MSD <= 0.5 s CPU per 640x480 pair, one
thread), a closing line prints its median CPU time against the target.

``--memory`` adds the peak memory of one fusion: each method is warmed up (weights loaded) in
this process, then run once more in a forked child, whose peak resident set (``VmHWM``, reset to
the current RSS at fork) minus its RSS before the call is the inference's own memory; it is
reported in MiB and per megapixel of the pair (MiB/MP). On CUDA the peak of
``torch.cuda.max_memory_allocated`` is reported instead. One process per method, so the peaks
do not mix.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from fusionbench.api import run_method
from fusionbench.data import PairContext
from fusionbench.imageio import read_image, to_gray_float
from fusionbench.registry import METHODS, discover, parse_method

DEFAULT_ROOT = Path(os.environ.get("FUSIONBENCH_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
CPU_TARGETS_S = {"hybrid_msd": 0.5}     # issue 22 target 4: seconds of CPU per 640x480 pair


def _pair(root: Path, pair: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str]:
    ir_p, vi_p = root / "tno" / "ir" / f"{pair}.png", root / "tno" / "vi" / f"{pair}.png"
    if ir_p.exists() and vi_p.exists():
        ir_raw, vi_raw = read_image(ir_p, collapse_gray=True), read_image(vi_p, collapse_gray=True)
        vi_rgb = vi_raw.astype(np.float64) if vi_raw.ndim == 3 else None
        return to_gray_float(ir_raw), to_gray_float(vi_raw), vi_rgb, f"TNO {pair}"
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:480, 0:640]
    ir = np.clip(90 + 120 * np.exp(-((yy - 240) ** 2 + (xx - 300) ** 2) / 3000.0) + rng.normal(0, 4, yy.shape), 0, 255)
    vi = np.clip(40 + 0.25 * xx + 30 * np.sin(yy / 9.0) + rng.normal(0, 6, yy.shape), 0, 255)
    return np.round(ir), np.round(vi), None, "synthetic"


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _child_peak(run, conn) -> None:
    """Run once in a forked child; send the peak extra memory in bytes (RSS or CUDA)."""
    try:
        torch = sys.modules.get("torch")
        cuda = torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        before = _status_kib("VmRSS")
        run()
        if cuda:
            conn.send(("cuda", torch.cuda.max_memory_allocated() - base))
        else:
            conn.send(("rss", (_status_kib("VmHWM") - before) * 1024))
    except Exception as exc:  # noqa: BLE001
        conn.send(("error", str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__))
    finally:
        conn.close()


def peak_memory(run) -> tuple[str, float]:
    """``(kind, bytes)``: the peak extra memory of ``run()`` measured in a forked child."""
    if not os.path.exists("/proc/self/status"):
        return ("n/a", float("nan"))
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_peak, args=(run, child))
    proc.start()
    child.close()
    kind, value = parent.recv()
    proc.join()
    if kind == "error":
        raise RuntimeError(value)
    return kind, float(value)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", help="comma list (default: every registered deterministic method)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--data-root", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--pair", default="04", help="TNO pair of size 640x480 (default 04)")
    ap.add_argument("--memory", action="store_true", help="also report peak memory (MiB, MiB/MP)")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--tune-malloc", action="store_true", help="glibc mallopt as in fusionbench's work processes")
    args = ap.parse_args(argv)
    tuned = False
    if args.tune_malloc:
        from fusionbench.executor import tune_malloc

        tuned = tune_malloc()
    discover()
    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        pass
    try:
        import cv2

        cv2.setNumThreads(args.threads)
    except ImportError:
        pass
    if args.methods:
        names = [m.strip() for m in args.methods.split(",") if m.strip()]
    else:
        names = [n for n, s in METHODS.items() if s.deterministic and not s.any_variant]
    ir, vi, vi_rgb, label = _pair(args.data_root, args.pair)
    ctx = PairContext(dataset="tno", pair=args.pair, data_root=args.data_root)
    print(f"pair: {label}, {ir.shape[1]}x{ir.shape[0]}; median of {args.repeats} runs after one warm-up; "
          f"malloc {'tuned' if tuned else 'default'}; load average {os.getloadavg()[0]:.1f}")
    mp_size = ir.size / 1e6
    targets: list[str] = []
    print(f"{'method':<24}{'wall ms':>10}{'cpu ms':>10}"
          + (f"{'peak MiB':>10}{'MiB/MP':>9}  kind" if args.memory else ""))
    for name in names:
        try:
            call = parse_method(name)
            run = lambda: run_method(name, ir, vi, vi_rgb=vi_rgb, ctx=ctx)  # noqa: E731
            run()
            wall, cpu = [], []
            for _ in range(max(1, args.repeats)):
                t0, c0 = time.perf_counter(), time.process_time()
                run()
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            line = (f"{call.full_name:<24}{statistics.median(wall) * 1000:>10.1f}"
                    f"{statistics.median(cpu) * 1000:>10.1f}")
            if args.memory:
                kind, peak = peak_memory(run)
                line += f"{peak / 2**20:>10.1f}{peak / 2**20 / mp_size:>9.1f}  {kind}"
            print(line, flush=True)
            target = CPU_TARGETS_S.get(call.full_name)
            if target is not None:
                cpu_s = statistics.median(cpu)
                targets.append(f"{call.full_name}: {cpu_s:.3f} s CPU per {ir.shape[1]}x{ir.shape[0]} pair "
                               f"(median of {len(cpu)}), target <= {target} s: "
                               f"{'met' if cpu_s <= target else 'NOT met'}")
        except Exception as exc:  # noqa: BLE001 - report and go on with the next method
            msg = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            print(f"{name:<24}{'skipped':>10}  ({msg})", flush=True)
    if targets:
        print(f"targets (OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
              f"--threads {args.threads}):")
        for line in targets:
            print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
