"""Time every registered metric on a 640x480 and a 1024x768 image pair, on one thread.

Usage::

    python benchmarks/metrics.py [--metrics nmi,qy,qabf_liu,ifc] [--repeat 7] [--data-root DIR]
    python benchmarks/metrics.py --overhead [--metrics en,sd,sf,cc,psnr]
    python benchmarks/metrics.py --peers
    python benchmarks/metrics.py --paper [--malloc-default]
    python benchmarks/metrics.py --compat

``--overhead``: per metric at 640x480, CPU ms of the bare function on float64 gray arrays
against ``fusionbench.evaluate`` on the same arrays (validation and gray conversion once per
triple), and their difference. ``--peers``: per peer function, the fusionbench metric with the
same formula (``cddfuse:*``, ``zoo:*``) through ``evaluate`` on the images as read (uint8),
against the peer's own function (CDDFuse ``Evaluator``, IVIF_ZOO ``Metric_torch`` on CPU) on
the inputs its script makes, where importable (``benchmarks/peers/README.md``), else
fusionbench's figures alone; process CPU time, ``--metrics`` then names rows (EN,SF,...).
``--paper``: the paper metrics (nmi, qy, qabf_liu, ifc) through ``evaluate``, each and together,
for the first fused image of a pair (cold) and per additional fused image, and the IFC stages.
Their compiled kernels (numba, ``metrics/_paper_kernels.py``) are loaded by the untimed
warm-up call (compiled once per machine and cached: ~30 CPU-s the very first time).
Every other mode ends
with the paper metrics through ``evaluate`` for the first fused image of a pair (nothing cached)
and per additional fused image of the same pair (the sources' IFC decompositions, Q_ABF gradients and Q_Y window statistics cached).

The pair is TNO pair 04 (640x480) from the data root when present, else a deterministic
synthetic pair; the 1024x768 pair is the 640x480 one resized (bicubic). The fused image is
the rounded mean of the two. Prints the median time per metric in ms and the throughput in
megapixels per second, then the total of the paper preset. Targets (issue 4): the paper
metrics together under 150 ms at 640x480, no metric slower than 1 s per megapixel.

Times are wall-clock medians; ``cpu`` columns are medians of this thread's CPU time, which
stay meaningful on a shared, loaded machine (wall time there includes waiting for a core).
``--compat``: the script-convention metrics (``cddfuse:*``, ``tang:*``, ``zoo:*``), issue 17.
``fusionbench.evaluate`` sets, on its first call, the glibc thresholds of every fusionbench work
process (:func:`fusionbench.executor.tune_malloc`: trim 256 MiB, mmap 64 MiB), which removes the
page faults of re-allocating large temporaries; the benchmark sets them at its start, so that
the bare functions and the peers run under the same allocator. ``--malloc-default`` leaves
glibc's defaults (``FUSIONBENCH_MALLOC=default``), for comparison.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
from collections.abc import Callable  # noqa: E402
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

from fusionbench.api import compute_metric, evaluate  # noqa: E402
from fusionbench.imageio import read_image, to_gray_float  # noqa: E402
from fusionbench.registry import METRICS, PRESETS, discover  # noqa: E402

SIZES = ((640, 480), (1024, 768))


def _default_data_root() -> Path:
    env = os.environ.get("FUSIONBENCH_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _base_pair(data_root: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """(ir, vi float64 gray, description) at 640x480."""
    ir_p, vi_p = data_root / "tno" / "ir" / "04.png", data_root / "tno" / "vi" / "04.png"
    if ir_p.exists() and vi_p.exists():
        ir, vi = read_image(ir_p), read_image(vi_p)
        if ir.shape[:2] == (480, 640):
            return to_gray_float(ir), to_gray_float(vi), f"TNO 04 from {data_root}"
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.uniform(0, 255, (480, 640)), (0, 0), 3)
    ir = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).round()
    vi = np.clip(255 - base + rng.normal(0, 8, base.shape), 0, 255).round()
    return ir, vi, "synthetic (seed 0)"


def _pair(ir: np.ndarray, vi: np.ndarray, size: tuple[int, int]) -> list[np.ndarray]:
    if ir.shape != (size[1], size[0]):
        ir = np.clip(cv2.resize(ir, size, interpolation=cv2.INTER_CUBIC), 0, 255).round()
        vi = np.clip(cv2.resize(vi, size, interpolation=cv2.INTER_CUBIC), 0, 255).round()
    fused = np.floor((ir + vi + 1) / 2)
    return [ir, vi, fused]


def _clear_caches() -> None:
    """Forget cached source-side quantities (IFC/VIF, Q_ABF), so a timed call does all of its work."""
    try:
        from fusionbench.metrics._memo import clear_all
    except ImportError:  # pragma: no cover  (older fusionbench: nothing cached)
        return
    clear_all()


def _time(fn, repeat: int, budget_s: float = 10.0, setup=_clear_caches) -> tuple[float, float]:
    """(median wall seconds, median thread CPU seconds); fewer runs for very slow metrics.

    ``setup`` runs untimed before every call (default: clear the metric caches)."""
    setup()
    t0 = time.perf_counter()
    fn()  # warm-up (imports, caches, allocator)
    first = time.perf_counter() - t0
    repeat = max(1, min(repeat, int(budget_s / max(first, 1e-9))))
    wall, cpu = [], []
    for _ in range(repeat):
        setup()
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - t0)
    return statistics.median(wall), statistics.median(cpu)


def tune_malloc(default: bool) -> bool:
    """The allocator thresholds ``evaluate`` sets on its first call, set now (True), or glibc's
    defaults kept for the whole run (``default``: ``FUSIONBENCH_MALLOC=default``, False)."""
    if default:
        os.environ["FUSIONBENCH_MALLOC"] = "default"
    from fusionbench.api import _tune_allocator

    _tune_allocator()
    return not default


CHEAP = ("en", "sd", "sf", "cc", "psnr")


def overhead(names: list[str], gray: list[np.ndarray], repeat: int) -> None:
    """Bare function vs ``fusionbench.evaluate`` on the same float64 gray arrays (CPU ms)."""
    print(f"\n{'metric':<16}{'bare cpu ms':>12}{'evaluate cpu ms':>17}{'overhead ms':>13}")
    for name in names:
        spec = METRICS[name]
        _, bare = _time(lambda: spec.fn(*gray, **spec.params), repeat)
        _, ev = _time(lambda: evaluate(*gray, [name]), repeat)
        print(f"{name:<16}{1000 * bare:>12.2f}{1000 * ev:>17.2f}{1000 * (ev - bare):>13.2f}", flush=True)


def pair_cache(gray: list[np.ndarray], repeat: int) -> None:
    """The paper metrics through ``evaluate``: first fused image of a pair vs each further one."""
    if "paper" not in PRESETS:
        return
    paper = list(PRESETS["paper"].metrics)
    ir, vi, fused = gray
    others = [np.clip(fused + d, 0, 255) for d in (1.0, -1.0, 2.0, -2.0)]   # further "methods"
    state = {"i": 0}

    def next_fused() -> None:
        f = others[state["i"] % len(others)]
        state["i"] += 1
        evaluate(ir, vi, f, paper)

    def warm() -> None:      # sources (and nothing else of the next fused image) cached
        _clear_caches()
        evaluate(ir, vi, fused, paper)

    _, first = _time(lambda: evaluate(ir, vi, fused, paper), repeat)
    _, more = _time(next_fused, repeat, setup=warm)
    print(f"\npaper metrics ({', '.join(paper)}) through evaluate at 640x480, cpu ms: first fused image "
          f"of a pair {1000 * first:.1f}; per additional fused image of the same pair {1000 * more:.1f} "
          f"(target <= 90)")


def _others(fused: np.ndarray, n: int = 8) -> list[np.ndarray]:
    """Further "methods" of the same pair: the fused image shifted by +-1, +-2, ... grey levels."""
    return [np.clip(fused + d, 0, 255) for i in range(1, n // 2 + 1) for d in (float(i), -float(i))]


def _ifc_stages(gray: list[np.ndarray], repeat: int) -> dict[str, float]:
    """CPU ms of the IFC stages on one image (pyramid, window statistics) and one source/fused pair."""
    from fusionbench.metrics import ifc as I  # noqa: PLC0415
    from fusionbench.metrics._steerable import build_spyr  # noqa: PLC0415

    ir, _, fused = gray
    src, dist = I._Decomposed(ir), I._Decomposed(fused)
    for k in I.SUBBANDS:
        src.ref_params(k)
    nothing = lambda: None  # noqa: E731
    stages = {
        "steerable pyramid (one image)":
            lambda: build_spyr(fused, I.HEIGHT, bands=I._BANDS, hi0=False, lowpass=False, crop=I.M),
        "window statistics (one image)": lambda: [I._Window(y, k) for k, y in dist.sub.items()],
        "reference statistics (one source)":
            lambda: [I._ref_params(src.sub[k], I._offset(k)) for k in I.SUBBANDS],
        "channel + log sums (one source)": lambda: I._ifc_vif(src, dist, want_vif=False),
    }
    return {name: 1000 * _time(fn, repeat, setup=nothing)[1] for name, fn in stages.items()}


def paper(gray: list[np.ndarray], repeat: int) -> None:
    """The paper metrics through ``evaluate``, per metric and together: cold and per additional image.

    *cold*: the first fused image of a pair, every cache empty (the sources' pyramids, reference
    statistics and window statistics are computed in the timed call). *additional*: a further fused
    image of the same pair once another one was scored (source-side quantities cached), the
    situation of a table of methods on one pair (issue 22, target 3). The table line: ten fused
    images of one pair scored in turn from empty caches, CPU time per image.
    """
    names = list(PRESETS["paper"].metrics)
    ir, vi, fused = gray
    others = _others(fused)
    state = {"i": 0}

    def warm() -> None:
        _clear_caches()
        evaluate(ir, vi, fused, names)

    def additional(metrics: list[str]) -> Callable[[], None]:
        def run() -> None:
            f = others[state["i"] % len(others)]
            state["i"] += 1
            evaluate(ir, vi, f, metrics)
        return run

    print(f"\n{'paper metric (evaluate)':<26}{'cold cpu ms':>12}{'additional cpu ms':>19}")
    cold_sum = more_sum = 0.0
    for name in names:
        _, cold = _time(lambda: evaluate(ir, vi, fused, [name]), repeat)
        _, more = _time(additional([name]), repeat, setup=warm)
        cold_sum, more_sum = cold_sum + cold, more_sum + more
        print(f"{name:<26}{1000 * cold:>12.1f}{1000 * more:>19.1f}", flush=True)
    print(f"{'sum of the above':<26}{1000 * cold_sum:>12.1f}{1000 * more_sum:>19.1f}")
    _, cold = _time(lambda: evaluate(ir, vi, fused, names), repeat)
    _, more = _time(additional(names), repeat, setup=warm)
    print(f"{'all four in one call':<26}{1000 * cold:>12.1f}{1000 * more:>19.1f}   (target <= 90)")
    table = [fused, *_others(fused, 10)[:9]]
    _, whole = _time(lambda: [evaluate(ir, vi, f, names) for f in table], max(1, repeat // 2))
    print(f"{'  per image of a 10-method table of one pair (caches empty at the start)':<64}"
          f"{1000 * whole / len(table):>8.1f}")
    stages = _ifc_stages(gray, repeat)
    print("\nIFC stages, cpu ms (a cold ifc call = 3 pyramids and window statistics, 2 reference "
          "statistics, 2 channels; an additional image = 1 pyramid and window statistics, 2 channels):")
    for name, ms in stages.items():
        print(f"  {name:<36}{ms:>8.1f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--metrics", help="comma list of metric names (default: every registered metric)")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per metric and size (median)")
    ap.add_argument("--data-root", type=Path, default=_default_data_root())
    ap.add_argument("--malloc-default", action="store_true",
                    help="keep glibc's allocator defaults (evaluate otherwise tunes them on its first call)")
    ap.add_argument("--overhead", action="store_true",
                    help="bare function vs fusionbench.evaluate per metric (default metrics: en,sd,sf,cc,psnr)")
    ap.add_argument("--peers", action="store_true",
                    help="against CDDFuse Evaluator / IVIF_ZOO Metric_torch where importable (benchmarks/peers); "
                         "--metrics then names rows by label (EN,SF,...)")
    ap.add_argument("--paper", action="store_true",
                    help="paper metrics per metric and together: cold (first fused image of a pair) and "
                         "per additional fused image, plus the IFC stages")
    ap.add_argument("--compat", action="store_true", help="the cddfuse:*, tang:* and zoo:* metrics (issue 17)")
    args = ap.parse_args(argv)
    tuned = tune_malloc(args.malloc_default)

    discover()
    default = sorted(METRICS)
    if args.overhead:
        default = list(CHEAP)
    elif args.compat:
        default = [m for m in default if METRICS[m].namespace in ("cddfuse", "tang", "zoo")]
    names = [m.strip() for m in args.metrics.split(",")] if args.metrics else default
    if args.peers:  # --metrics: peer rows by label (EN, SF, ...), case-insensitive
        from peers import LABELS  # noqa: PLC0415  (benchmarks/peers)

        by = {lab.lower(): lab for lab in LABELS}
        unknown = [n for n in names if n.lower() not in by] if args.metrics else []
        names = [by[n.lower()] for n in names if n.lower() in by] if args.metrics else list(LABELS)
    else:
        unknown = [n for n in names if n not in METRICS]
    if unknown:
        ap.error(f"unknown metric(s): {', '.join(unknown)}")
    ir0, vi0, what = _base_pair(args.data_root)
    runs = max(args.repeat, 15) if args.overhead or args.peers else args.repeat
    print(f"pair: {what}; fused = floor((IR+VI+1)/2); median of {runs} runs; 1 thread; "
          f"malloc {'tuned' if tuned else 'default'}; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs")
    pairs = {size: _pair(ir0, vi0, size) for size in SIZES}
    if args.paper:
        paper(pairs[SIZES[0]], args.repeat)
        return 0
    raw = {size: [p.astype(np.uint8) for p in pairs[size]] for size in SIZES}
    if args.overhead or args.peers:
        if args.overhead:
            overhead(names, pairs[SIZES[0]], runs)
        else:
            from peers import compare  # noqa: PLC0415

            compare(raw[SIZES[0]], runs, setup=_clear_caches, labels=names)
        pair_cache(pairs[SIZES[0]], args.repeat)
        return 0

    header = f"{'metric':<16}" + "".join(f"{f'{w}x{h} ms':>14}{'cpu ms':>9}{'MP/s':>8}" for w, h in SIZES)
    print(header)
    print("-" * len(header))
    ms: dict[tuple[str, tuple[int, int]], tuple[float, float]] = {}
    for name in names:
        spec = METRICS[name]
        row = f"{name:<16}"
        for size in SIZES:
            gray, r = pairs[size], raw[size]
            wall, cpu = _time(lambda: compute_metric(spec, r, gray), args.repeat)
            ms[name, size] = (1000 * wall, 1000 * cpu)
            mp = size[0] * size[1] / 1e6
            row += f"{1000 * wall:>14.1f}{1000 * cpu:>9.1f}{mp / wall:>8.2f}"
        print(row, flush=True)
    slow = [n for n in names for s in SIZES if ms[n, s][0] / 1000 / (s[0] * s[1] / 1e6) > 1.0]
    if "paper" in PRESETS and all(m in names for m in PRESETS["paper"].metrics):
        wall = sum(ms[m, SIZES[0]][0] for m in PRESETS["paper"].metrics)
        cpu = sum(ms[m, SIZES[0]][1] for m in PRESETS["paper"].metrics)
        print(f"\npaper preset ({', '.join(PRESETS['paper'].metrics)}) at 640x480: {wall:.1f} ms wall, "
              f"{cpu:.1f} ms cpu (target < 150 ms)")
    print("metrics slower than 1 s/MP (wall): " + (", ".join(sorted(set(slow))) or "none"))
    slow_cpu = [n for n in names for s in SIZES if ms[n, s][1] / 1000 / (s[0] * s[1] / 1e6) > 1.0]
    print("metrics slower than 1 s/MP (cpu): " + (", ".join(sorted(set(slow_cpu))) or "none"))
    pair_cache(pairs[SIZES[0]], args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
