"""``fusionbench check``: fail (exit 1) when any score moved beyond tolerance from a baseline."""
from __future__ import annotations

import sys

from fusionbench.cli import add_data_root, add_jobs


def _configure(p) -> None:
    p.add_argument("--baseline", required=True, help="baseline CSV: dataset,method,pair,metric,value[,rtol,atol]")
    p.add_argument("--rtol", type=float, help="relative tolerance for rows without their own (default 1e-7)")
    p.add_argument("--atol", type=float, help="absolute tolerance for rows without their own (default 1e-12)")
    p.add_argument("--update", action="store_true", help="write the current values into the baseline and say what changed")
    p.add_argument("--add-missing", action="store_true",
                   help="with --update: add rows for registered methods and metrics the baseline lacks")
    p.add_argument("--results", help="read/extend this store instead of recomputing in a fresh temporary one")
    p.add_argument("--strict", action="store_true", help="also fail when rows are skipped (dataset absent)")
    g = p.add_argument_group("creating a baseline (with --init)")
    g.add_argument("--init", action="store_true", help="compute a new baseline file from --datasets/--methods/--metrics")
    g.add_argument("--datasets", default="synthetic", help="comma-separated datasets (default synthetic)")
    g.add_argument("--methods", help="comma-separated methods (default: every registered deterministic method "
                   "except published:<folder>)")
    g.add_argument("--metrics", help="comma-separated metrics (default: every registered metric)")
    g.add_argument("--pairs", action="append", default=[], metavar="DATASET:P1,P2",
                   help="restrict a dataset to these pairs (no mean row then); repeatable")
    g.add_argument("--tolerance", action="append", default=[], metavar="METHOD:RTOL",
                   help="per-method relative tolerance written on its rows; repeatable")
    add_data_root(p)
    add_jobs(p)


def cmd_check(args) -> int:
    from fusionbench.check import check, update

    if args.init:
        return _init(args)
    if args.add_missing and not args.update:
        from fusionbench.errors import InputError

        raise InputError("--add-missing goes with --update")
    from fusionbench.check import read_baseline

    if read_baseline(args.baseline).empty:
        print(f"error: {args.baseline}: baseline holds 0 values (header only): nothing to check", file=sys.stderr)
        return 1
    res = check(args.baseline, rtol=args.rtol, atol=args.atol, results=args.results, root=args.data_root,
                jobs=args.jobs, log=lambda m: None)
    if args.update:
        changed = update(args.baseline, res)
        print(f"updated {args.baseline}: {len(changed)} value(s) changed")
        if not changed.empty:
            print(res.diff_table())
        if args.add_missing:
            from fusionbench.check import add_missing

            added = add_missing(args.baseline, root=args.data_root, jobs=args.jobs, tolerances=_tolerances(args),
                                log=lambda m: print(m, file=sys.stderr))
            print(f"added {len(added)} row(s) for " + (", ".join(sorted(set(added.method) | {
                m.split(".")[0] for m in added.metric})) if len(added) else "nothing (complete)"))
        return 0
    table = res.diff_table()
    if table:
        print(table)
    print(res.summary())
    skipped = (res.rows.status == "skipped").sum()
    if skipped:
        print(f"note: {skipped} rows skipped because their dataset is absent (set --data-root)", file=sys.stderr)
    return 1 if len(res.failed) or (args.strict and skipped) else 0


def _init(args) -> int:
    from fusionbench.check import generate, package_methods, write_baseline

    methods = [m for m in args.methods.split(",") if m] if args.methods else package_methods()
    pairs = {}
    for item in args.pairs:
        d, _, names = item.partition(":")
        pairs[d] = [n for n in names.split(",") if n]
    tols = _tolerances(args)
    df = generate([d for d in args.datasets.split(",") if d], methods,
                  [m for m in args.metrics.split(",") if m] if args.metrics else None,
                  pairs=pairs, tolerances=tols, root=args.data_root, jobs=args.jobs,
                  log=lambda m: print(m, file=sys.stderr))
    write_baseline(args.baseline, df)
    print(f"wrote {args.baseline}: {len(df)} values ({len(methods)} methods)")
    return 0


def _tolerances(args) -> dict:
    tols = {}
    for item in args.tolerance:
        m, _, r = item.rpartition(":")
        tols[m] = (float(r), float("nan"))
    return tols
