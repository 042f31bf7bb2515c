"""The ``fusionbench`` command line.

Every sub-command is declared once, in :data:`COMMANDS` (name -> module, run function,
configure function, help). Only the command being run is imported and configured, so
``fusionbench --help`` imports no method, metric or command module. Errors the user can fix
print one line ``error: ...`` and exit non-zero (2 for bad input).
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from .errors import FusionbenchError, InputError


GPU_HELP = """\
GPU: the deep methods densefuse, didfuse, dualfuse and u2fusion run on CUDA automatically when
PyTorch sees a GPU, else on the CPU; FUSIONBENCH_DEVICE overrides the choice (cpu, cuda, cuda:1).
ssl_waeie also picks CUDA when present; `--param device=cpu` (or cuda) overrides it. Training
(`fusionbench train`), the classic methods and every metric run on the CPU."""


# -- shared options (used by command modules too) ------------------------------------------
def add_data_root(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-root", help="data root (default: $FUSIONBENCH_DATA or ~/.cache/fusionbench/data)")


def add_results(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", help="result store folder (default: $FUSIONBENCH_RESULTS or ./results)")


def jobs_arg(text: str) -> int:
    """``--jobs``: a positive integer; more than the CPU cores is capped with a note."""
    from .runner import check_jobs

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of processes, got {text!r}") from None
    try:
        return check_jobs(n, lambda msg: print(msg, file=sys.stderr))
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", type=jobs_arg, default=1,
                   help="parallel processes (default 1; at most the CPU cores, larger is capped)")


def add_weights_root(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights-root", help="other authors' weights (default: $FUSIONBENCH_WEIGHTS, "
                   "else weights/ beside or under the data root)")


# -- executor options (run, reproduce): see fusionbench.executor ----------------------------
def add_executor(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="where tasks run: local processes (default) or a Dask cluster (pip install 'fusionbench[dask]')")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler to use (tcp://host:8786); default: a local cluster of --jobs workers")
    p.add_argument("--ship-inputs", action="store_true",
                   help="send the input images with each task (workers without the data root)")


def executor_kwargs(args) -> dict:
    return {"executor": args.executor, "scheduler": args.scheduler, "ship_inputs": args.ship_inputs}


def add_metric_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metrics", help="comma-separated metric names (see `fusionbench metrics`)")
    p.add_argument("--preset", help="a named metric set (see `fusionbench metrics`)")


def add_reading(p: argparse.ArgumentParser, *, size: bool = True) -> None:
    """``--float-range`` (and ``--max-megapixels``): how input images are read."""
    p.add_argument("--float-range", type=float, choices=(1.0, 255.0), metavar="{1,255}",
                   help="scale of float images (.npy, float TIFF): 1 = values on 0..1 (scaled by 255), "
                   "255 = values on 0..255; without it a float image whose maximum is <= 1 is refused")
    if size:
        p.add_argument("--max-megapixels", type=float, metavar="MP",
                       help="refuse images larger than this (default: Pillow's bomb limit, ~179 MP, "
                       "for every format including .npy); sizes are read from file headers first")


def parse_params(items: list[str]) -> dict:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (values parsed as JSON when possible)."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--param expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def emit(text: str, out: str | None) -> None:
    """Print ``text`` or write it atomically to ``out``."""
    if out:
        from .imageio import atomic_write_text

        atomic_write_text(out, text if text.endswith("\n") else text + "\n")
        print(f"wrote {out}", file=sys.stderr)
    else:
        print(text)


# -- built-in commands ------------------------------------------------------------------------
def cmd_methods(args) -> int:
    from tabulate import tabulate

    from .registry import listing

    rows = []
    for name, s in listing("methods").items():
        variants = ", ".join(f"{name}:{v}" for v in s["variants"]) if s["variants"] else ""
        rows.append([name, s["description"], variants])
    print(tabulate(rows, headers=["method", "description", "variants"], tablefmt="simple"))
    return 0


def cmd_metrics(args) -> int:
    from tabulate import tabulate

    from .registry import listing

    if getattr(args, "same_as", None):
        return _metrics_same_as(args.same_as)

    def params(s):
        return ", ".join(f"{k}={v}" for k, v in s["params"].items())

    rows = [[n, "↑" if s["higher_is_better"] else "↓", s["description"], params(s), s["reference"]]
            for n, s in listing("metrics").items()]
    print(tabulate(rows, headers=["metric", "dir", "description", "params", "reference"], tablefmt="simple"))
    presets = listing("presets")
    if presets:
        print("\npresets (--preset NAME):")
        print(tabulate([[n, ",".join(p["metrics"]), p["description"]] for n, p in presets.items()],
                       headers=["preset", "metrics", "description"], tablefmt="simple"))
    return 0


def _metrics_same_as(quantity: str) -> int:
    """``fusionbench metrics --same-as QUANTITY``: every configuration of one quantity with its conventions."""
    from tabulate import tabulate

    from .conventions import conventions_table

    print(tabulate(conventions_table(quantity), headers=["metric", "input", "params", "dir", "description",
                                                         "reference"], tablefmt="simple"))
    return 0


def _evaluate_compare(args) -> int:
    """``fusionbench evaluate IR VI F --compare ssim,mi``: every convention's value side by side."""
    from tabulate import tabulate

    from .conventions import compare

    rows = compare(args.ir, args.vi, args.fused, args.compare)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(tabulate([[r["quantity"], r["metric"], f"{r['value']:.6g}", r["input"], r["params"], r["note"]]
                    for r in rows], headers=["quantity", "metric", "value", "input", "params", ""],
                   tablefmt="simple", disable_numparse=True))
    return 0


def cmd_datasets(args) -> int:
    from tabulate import tabulate

    from types import SimpleNamespace

    from .data import data_root, dataset_location
    from .registry import listing

    rows = []
    for name, entry in listing("datasets").items():
        s = SimpleNamespace(**entry)
        where, _ = dataset_location(s, args.data_root)
        present = _presence(name, where, args.data_root)
        rows.append([name, s.description, str(where) if where else "(built in)", present,
                     getattr(s, "test_list", "") or "", s.source])
    print(f"data root: {data_root(args.data_root)}")
    print(tabulate(rows, headers=["dataset", "description", "expected at", "present", "test list", "source"],
                   tablefmt="simple"))
    return 0


def _presence(name: str, where, root) -> str:
    """``yes (N pairs)`` when the dataset's loader finds it (layouts differ: ir/ vi/,
    train/test, infrared/visible), ``MISSING`` otherwise; only folders that exist are read."""
    if where is None:
        return "yes"
    if not Path(where).is_dir():
        return "MISSING"
    from .data import load_dataset

    try:
        return f"yes ({len(load_dataset(name, root=root).pairs)} pairs)"
    except FusionbenchError:
        return "MISSING"


def cmd_run(args) -> int:
    from .runner import run

    params = parse_params(args.param)
    if args.weights:
        if not Path(args.weights).is_file():
            raise InputError(f"{args.weights}: weights file not found")
        params["weights"] = str(Path(args.weights).resolve())
    summaries = run(args.methods, args.dataset, split=args.split, metrics=args.metrics,
                    preset=args.preset, results=args.results, root=args.data_root, jobs=args.jobs,
                    progress=False if args.no_progress else None, method_params=params,
                    pairs=[p for p in args.pairs.split(",") if p] if args.pairs else None,
                    weights_root=args.weights_root, recompute=args.recompute,
                    float_range=args.float_range, max_megapixels=args.max_megapixels,
                    allow_identical=args.allow_identical, **executor_kwargs(args))
    bad = sum(s.count("failed") for s in summaries)
    return 1 if bad else 0


def cmd_fuse(args) -> int:
    from .api import fuse
    from .imageio import atomic_write_bytes, encode_png, quantize

    out = Path(args.output)
    if not out.parent.is_dir():
        raise InputError(f"-o {out}: folder {out.parent} does not exist (create it first)")
    if out.is_dir():
        raise InputError(f"-o {out}: is a folder; give a file name such as {out / 'fused.png'}")
    fused = fuse(args.ir, args.vi, method=args.method, weights_root=args.weights_root,
                 float_range=args.float_range, max_megapixels=args.max_megapixels)
    atomic_write_bytes(out, encode_png(quantize(fused)), make_parents=False)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def cmd_evaluate(args) -> int:
    from .api import evaluate

    if getattr(args, "compare", None):
        return _evaluate_compare(args)
    dirs = [Path(x).is_dir() for x in (args.ir, args.vi, args.fused)]
    if any(dirs):
        if not all(dirs):
            raise InputError("evaluate takes three image files (IR VI FUSED) or three folders "
                             "(IR_DIR VI_DIR FUSED_DIR), not a mix")
        from .commands.score import evaluate_folders, format_rows

        per_pair = evaluate_folders(args.ir, args.vi, args.fused, metrics=args.metrics, preset=args.preset,
                                    parts=args.parts, allow_identical=args.allow_identical)
        print(json.dumps(per_pair, indent=1) if args.json else format_rows(per_pair))
        return 0
    scores = evaluate(args.ir, args.vi, args.fused, metrics=args.metrics, preset=args.preset, parts=args.parts,
                      allow_identical=args.allow_identical, float_range=args.float_range,
                      max_megapixels=args.max_megapixels)
    if args.json:
        print(json.dumps(scores, indent=1))
    else:
        for k, v in scores.items():
            print(f"{k:16s} {v:.6f}")
    return 0


def _configure_metrics(p) -> None:
    p.add_argument("--same-as", metavar="QUANTITY",
                   help="list every configuration of one quantity (e.g. ssim) with its input and parameters")


def _configure_datasets(p) -> None:
    add_data_root(p)


def _configure_run(p) -> None:
    p.add_argument("--methods", required=True, help="comma-separated method names (name[:variant])")
    p.add_argument("--dataset", default="synthetic", help="registered dataset or a folder with ir/ and vi/")
    p.add_argument("--split", help="dataset split (e.g. roadscene: test20 (default) or all)")
    add_metric_args(p)
    add_results(p)
    add_data_root(p)
    add_jobs(p)
    add_executor(p)
    add_weights_root(p)
    p.add_argument("--weights", help="weights file passed to the method(s) as parameter `weights`")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a method parameter (repeatable; value parsed as JSON when possible)")
    p.add_argument("--pairs", help="comma-separated pair names (default: every pair)")
    p.add_argument("--allow-identical", action="store_true",
                   help="run pairs whose infrared and visible images are identical (refused by default)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--recompute", action="store_true", help="ignore cached results: fuse and score again")
    add_reading(p)
    p.epilog = GPU_HELP
    p.formatter_class = argparse.RawDescriptionHelpFormatter


def _configure_fuse(p) -> None:
    p.add_argument("--method", default="average")
    p.add_argument("ir")
    p.add_argument("vi")
    p.add_argument("-o", "--output", required=True)
    add_weights_root(p)
    add_reading(p)


def _configure_evaluate(p) -> None:
    p.add_argument("ir", help="infrared image, or a folder of them")
    p.add_argument("vi", help="visible image, or a folder of them (same file names)")
    p.add_argument("fused", help="fused image, or a folder of them (same file names)")
    p.add_argument("--metrics", help="comma-separated metric names (default: as `run`, the paper "
                   "preset + en, sd; see `fusionbench metrics`)")
    p.add_argument("--preset", help="a named metric set (see `fusionbench metrics`)")
    p.add_argument("--allow-identical", action="store_true",
                   help="score even when infrared and visible are identical (refused by default)")
    p.add_argument("--json", action="store_true", help='print {"metric": value, ...}')
    p.add_argument("--parts", action="store_true", help="include per-source parts (e.g. ifc.ir)")
    p.add_argument("--compare", metavar="QUANTITIES",
                   help="comma-separated quantities (e.g. ssim,mi,vif): every registered convention's value")
    add_reading(p)


def _configure_nothing(p) -> None:
    pass


_C = "fusionbench.commands."
#: every sub-command, declared once: name -> (module, run function, configure function, help)
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "methods": ("fusionbench.cli", "cmd_methods", "_configure_nothing", "list registered fusion methods"),
    "metrics": ("fusionbench.cli", "cmd_metrics", "_configure_metrics",
                "list metrics (direction, parameters, reference) and presets"),
    "datasets": ("fusionbench.cli", "cmd_datasets", "_configure_datasets",
                 "list datasets, where they are expected and whether present"),
    "run": ("fusionbench.cli", "cmd_run", "_configure_run",
            "fuse a dataset with methods, save PNGs and scores (resumable)"),
    "fuse": ("fusionbench.cli", "cmd_fuse", "_configure_fuse",
             "fuse one pair: fusionbench fuse --method M IR VI -o OUT.png"),
    "evaluate": ("fusionbench.cli", "cmd_evaluate", "_configure_evaluate",
                 "score one fused image: fusionbench evaluate IR VI FUSED (or three folders: one row per pair)"),
    "score": (_C + "score", "cmd_score", "_configure",
              "score your own fused images: fusionbench score DIR --dataset D [--name N] (method folder:<name>)"),
    "identify": (_C + "identify", "cmd_identify", "_configure",
                 "which metric convention printed a table: rank the catalogue against printed means"),
    "table": (_C + "table", "cmd_table", "_configure",
              "mean scores per method per metric; --table N: the paper's Table N (--compare paper)"),
    "figure": (_C + "figure", "cmd_figure", "_configure",
               "visual comparison of one pair (sources + each method, optional zoomed box) as PNG"),
    "reproduce": (_C + "reproduce", "cmd_reproduce", "_configure",
                  "plan and run everything the paper's tables need (resumable), then write them "
                  "into <results>/tables"),
    "train": (_C + "train", "cmd_train", "_configure",
              "train a trainable method's weights (resumable; progress bar and loss log)"),
    "check": (_C + "check", "cmd_check", "_configure",
              "regression check of scores against a baseline CSV (exit 1 on any move)"),
    "verify": ("fusionbench.verify", "cmd_verify", "configure",
               "recompute stored metric values (all or --sample N) and report every mismatch"),
    "stats": (_C + "stats", "cmd_stats", "_configure",
              "per-method statistics with bootstrap CIs; --against M: paired Wilcoxon + Holm; "
              "mean ranks, Friedman, Nemenyi CD"),
    "plot": (_C + "plot", "cmd_plot", "_configure",
             "plots of stored scores (pairs, box, violin, scatter) as PNG/PDF/SVG"),
    "report": (_C + "report", "cmd_report", "_configure",
               "static HTML report: means with CIs and significance, CD diagram, plots, gallery, "
               "metrics, provenance"),
}


def _resolve(module: str, attr: str):
    import importlib

    return getattr(importlib.import_module(module), attr)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; sub-commands other than ``only`` get their name and help alone."""
    from . import __version__

    parser = argparse.ArgumentParser(prog="fusionbench", description="Benchmark infrared-and-visible image fusion.",
                                     epilog=GPU_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fusionbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, run_fn, configure_fn, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if only is None or name == only:
            _resolve(module, configure_fn)(p)
            p.set_defaults(func=(module, run_fn))
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.simplefilter("default")
    warnings.formatwarning = lambda msg, cat, *a, **k: f"warning: {msg}\n"
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        only = next((a for a in argv if not a.startswith("-")), None)
        parser = build_parser(only if only in COMMANDS else None)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(_resolve(*args.func)(args) or 0)
    except FusionbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: finished pairs are kept; run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except MemoryError:
        print("error: out of memory (the images are too large for this machine; try smaller images "
              "or fewer --jobs)", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, read-only filesystem, permissions: one line, never a traceback
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
