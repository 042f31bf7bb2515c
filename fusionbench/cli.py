"""The ``fusionbench`` command line.

Built-in sub-commands: ``methods``, ``metrics``, ``datasets``, ``run``, ``fuse``, ``evaluate``. Modules in ``fusionbench.commands`` add more with ``register_command``.
Errors the user can fix print one line ``error: ...`` and exit non-zero (2 for bad input).
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from .errors import FusionbenchError, InputError


# -- shared options (used by command modules too) ------------------------------------------
def add_data_root(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-root", help="data root (default: $FUSIONBENCH_DATA or ~/.cache/fusionbench/data)")


def add_results(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", help="result store folder (default: $FUSIONBENCH_RESULTS or ./results)")


def add_jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", type=int, default=1, help="parallel processes (default 1)")


def add_metric_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metrics", help="comma-separated metric names (see `fusionbench metrics`)")
    p.add_argument("--preset", help="a named metric set (see `fusionbench metrics`)")


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

    from .registry import METHODS, discover

    discover()
    rows = []
    for name, s in sorted(METHODS.items()):
        variants = ", ".join(f"{name}:{v}" for v in s.variants) if s.variants else ""
        rows.append([name, s.description, variants])
    print(tabulate(rows, headers=["method", "description", "variants"], tablefmt="simple"))
    return 0


def cmd_metrics(args) -> int:
    from tabulate import tabulate

    from .registry import METRICS, PRESETS, discover

    if getattr(args, "same_as", None):
        return _metrics_same_as(args.same_as)
    discover()
    rows = [[n, s.arrow, s.description, s.reference] for n, s in sorted(METRICS.items())]
    print(tabulate(rows, headers=["metric", "dir", "description", "reference"], tablefmt="simple"))
    if PRESETS:
        print("\npresets (--preset NAME):")
        print(tabulate([[p.name, ",".join(p.metrics), p.description] for p in PRESETS.values()],
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

    from .data import data_root, dataset_location
    from .registry import DATASETS, discover

    discover()
    rows = []
    for name, s in sorted(DATASETS.items()):
        where, present = dataset_location(s, args.data_root)
        rows.append([name, s.description, str(where) if where else "(built in)",
                     "yes" if present else "MISSING", s.source])
    print(f"data root: {data_root(args.data_root)}")
    print(tabulate(rows, headers=["dataset", "description", "expected at", "present", "source"],
                   tablefmt="simple"))
    return 0


def cmd_run(args) -> int:
    import os

    from .runner import run

    if args.weights_root:
        os.environ["FUSIONBENCH_WEIGHTS"] = str(Path(args.weights_root).expanduser())

    params = parse_params(args.param)
    if args.weights:
        if not Path(args.weights).is_file():
            raise InputError(f"{args.weights}: weights file not found")
        params["weights"] = str(Path(args.weights).resolve())
    summaries = run(args.methods, args.dataset, split=args.split, metrics=args.metrics,
                    preset=args.preset, results=args.results, root=args.data_root, jobs=args.jobs,
                    progress=False if args.no_progress else None, method_params=params,
                    pairs=[p for p in args.pairs.split(",") if p] if args.pairs else None)
    bad = sum(s.count("failed") for s in summaries)
    return 1 if bad else 0


def cmd_fuse(args) -> int:
    from .api import fuse
    from .imageio import quantize, write_png

    fused = fuse(args.ir, args.vi, method=args.method)
    write_png(args.output, quantize(fused))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def cmd_evaluate(args) -> int:
    from .api import evaluate

    if getattr(args, "compare", None):
        return _evaluate_compare(args)
    scores = evaluate(args.ir, args.vi, args.fused, metrics=args.metrics, preset=args.preset, parts=args.parts)
    if args.json:
        print(json.dumps(scores, indent=1))
    else:
        for k, v in scores.items():
            print(f"{k:16s} {v:.6f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .registry import COMMANDS, discover

    parser = argparse.ArgumentParser(prog="fusionbench", description="Benchmark infrared-and-visible image fusion.")
    parser.add_argument("--version", action="version", version=f"fusionbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("methods", help="list registered fusion methods").set_defaults(func=cmd_methods)
    p = sub.add_parser("metrics", help="list metrics (direction, reference) and presets")
    p.add_argument("--same-as", metavar="QUANTITY",
                   help="list every configuration of one quantity (e.g. ssim) with its input and parameters")
    p.set_defaults(func=cmd_metrics)
    p = sub.add_parser("datasets", help="list datasets, where they are expected and whether present")
    add_data_root(p)
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("run", help="fuse a dataset with methods, save PNGs and scores (resumable)")
    p.add_argument("--methods", required=True, help="comma-separated method names (name[:variant])")
    p.add_argument("--dataset", default="synthetic", help="registered dataset or a folder with ir/ and vi/")
    p.add_argument("--split", help="dataset split (e.g. roadscene: test20 (default) or all)")
    add_metric_args(p)
    add_results(p)
    add_data_root(p)
    add_jobs(p)
    p.add_argument("--weights-root", help="other authors' weights (default: $FUSIONBENCH_WEIGHTS, "
                   "else weights/ beside or under the data root)")
    p.add_argument("--weights", help="weights file passed to the method(s) as parameter `weights`")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a method parameter (repeatable; value parsed as JSON when possible)")
    p.add_argument("--pairs", help="comma-separated pair names (default: every pair)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("fuse", help="fuse one pair: fusionbench fuse --method M IR VI -o OUT.png")
    p.add_argument("--method", default="average")
    p.add_argument("ir")
    p.add_argument("vi")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_fuse)

    p = sub.add_parser("evaluate", help="score one fused image: fusionbench evaluate IR VI FUSED")
    p.add_argument("ir")
    p.add_argument("vi")
    p.add_argument("fused")
    add_metric_args(p)
    p.add_argument("--json", action="store_true", help='print {"metric": value, ...}')
    p.add_argument("--parts", action="store_true", help="include per-source parts (e.g. ifc.ir)")
    p.add_argument("--compare", metavar="QUANTITIES",
                   help="comma-separated quantities (e.g. ssim,mi,vif): every registered convention's value")
    p.set_defaults(func=cmd_evaluate)

    discover()
    for name, (fn, configure, help_) in sorted(COMMANDS.items()):
        p = sub.add_parser(name, help=help_)
        configure(p)
        p.set_defaults(func=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.simplefilter("default")
    warnings.formatwarning = lambda msg, cat, *a, **k: f"warning: {msg}\n"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except FusionbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: finished pairs are kept; run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
