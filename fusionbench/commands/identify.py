"""``fusionbench identify``: which metric convention printed a table's columns (see fusionbench.identify).

``--table FILE.csv --dataset D``: FILE has header ``row,<label>,...``; each line's first cell is a
method as named in the store (``average``, ``published:RFN-Nest``, ``folder:mine``), the others the
printed values (blank: not printed). ``--paper NAME``: the packaged paper's Tables 1-2 instead, on
the rows whose exact fused images the store holds. Prints the conventions ranked per column by max
and mean absolute error in units of the printed last digit. ``--subset K`` adds, per column, whether
K of the stored pairs could explain the printed values (``--paper``: n-2..n by default); ``--jobs N``
computes the per-image values in N processes (the output does not depend on N).
"""
from __future__ import annotations

import json
import sys
import time

from fusionbench.cli import add_data_root, add_jobs, add_results
from fusionbench.errors import InputError


def _configure(p) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--table", metavar="FILE.csv", help="CSV: row,<label>,...; rows are store methods")
    src.add_argument("--paper", metavar="NAME", help="a packaged paper (ssl_waeie): its Tables 1-2")
    p.add_argument("--dataset", help="dataset of the store (required with --table; with --paper: only "
                   "the paper's tables of this dataset)")
    p.add_argument("--pairs", help="comma-separated pair names (default: every stored pair of each row)")
    p.add_argument("--metrics", help="catalogue: only these registered configurations (and their "
                   "per-source reductions)")
    p.add_argument("--quantities", help="catalogue: only conventions measuring these quantities (nmi,ssim)")
    p.add_argument("--no-generated", action="store_true", help="catalogue: registered configurations only")
    p.add_argument("--axes", help="catalogue: only generated variants along these axes (parts,hist,gray,jpeg,"
                   "window,range; default all)")
    p.add_argument("--split", help="--table: the dataset split whose store label holds the rows (e.g. all: "
                   "label roadscene-all)")
    p.add_argument("--subset", metavar="K", help="also check, per column, whether a subset of K stored pairs "
                   "(20, 19-21) could explain the printed values; --paper: default n-2..n of each table "
                   "('off' to skip)")
    p.add_argument("--allow-partial", action="store_true",
                   help="--paper: also use rows the store holds on fewer pairs than the table (means over those)")
    p.add_argument("--any-quantity", action="store_true",
                   help="--paper: let every convention compete for each column (default: only those measuring "
                   "the column's quantity, e.g. nmi for NMI)")
    p.add_argument("--top", type=int, default=5, help="conventions listed per column (default 5)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    add_jobs(p)
    add_results(p)
    add_data_root(p)


def _cpu() -> float:
    """CPU seconds of this process and of its finished workers (``--jobs``)."""
    import resource

    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime


def _split(text):
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def cmd_identify(args) -> int:
    from fusionbench.identify import catalogue, identify, paper_rows, parse_ks, read_table, render_text
    from fusionbench.store import ResultStore

    if args.top < 1:
        raise InputError("--top must be at least 1")
    store = ResultStore(args.results, create=False)
    convs = catalogue(_split(args.metrics), _split(args.quantities), generated=not args.no_generated,
                      axes=None if args.axes is None else [a for a in _split(args.axes) or [] if a != "none"])
    if not convs:
        raise InputError("identify: the catalogue filters (--metrics/--quantities) leave no configuration")
    jobs = []
    if args.table:
        if not args.dataset:
            raise InputError("identify --table needs --dataset")
        label = args.dataset
        if args.split:
            from fusionbench.data import load_dataset

            label = load_dataset(args.dataset, root=args.data_root, split=args.split).label
        ks = parse_ks(args.subset) if args.subset and args.subset != "off" else None
        jobs.append((label, read_table(args.table), None, ks))
    else:
        from fusionbench.paper import load_paper

        for n, t in sorted(load_paper(args.paper).tables.items()):
            if n not in (1, 2) or (args.dataset and t.dataset != args.dataset):
                continue
            ds, rows = paper_rows(store, args.paper, n, allow_partial=args.allow_partial,
                                  log=lambda m: print(m, file=sys.stderr))
            if rows:
                from fusionbench.identify import paper_column_quantities

                if args.subset == "off":
                    ks = None
                elif args.subset:
                    ks = parse_ks(args.subset)
                else:
                    ks = list(range(max(1, t.n_pairs - 2), t.n_pairs + 1))
                jobs.append((ds, rows, None if args.any_quantity else paper_column_quantities(args.paper, n), ks))
            else:
                print(f"note: table {n} ({t.dataset}): no exact-output row in the store", file=sys.stderr)
        if not jobs:
            raise InputError(f"identify --paper {args.paper}: the store holds no exact-output row of Tables 1-2")
    t0, c0 = time.time(), _cpu()
    results = [identify(store, ds, rows, convs, pairs=_split(args.pairs), data_root=args.data_root,
                        top=args.top, column_quantities=cq, jobs=args.jobs, subset_ks=ks)
               for ds, rows, cq, ks in jobs]
    timing = {"wall_s": round(time.time() - t0, 2), "cpu_s": round(_cpu() - c0, 2)}
    if args.format == "json":
        if len(results) == 1:
            out = {**results[0], "timing": timing}
        else:
            out = {"columns": {k: v for r in results for k, v in r["columns"].items()},
                   "tables": results, "timing": timing}
        print(json.dumps(out, indent=1))
    else:
        print("\n\n".join(render_text(r, args.top) for r in results))
        print(f"\n({len(convs)} configurations; {timing['wall_s']} s wall, {timing['cpu_s']} s CPU)")
    return 0
