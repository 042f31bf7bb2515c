"""``fusionbench reproduce``: run everything the paper's tables need, then write the tables."""
from __future__ import annotations

from fusionbench.cli import add_data_root, add_executor, add_jobs, add_results, executor_kwargs


def _configure(p) -> None:
    p.add_argument("--tables", default="1,2,3,4", help="comma-separated table numbers (default 1,2,3,4)")
    p.add_argument("--paper", default="ssl_waeie", help="which paper's tables (default ssl_waeie)")
    add_results(p)
    add_data_root(p)
    add_jobs(p)
    add_executor(p)
    p.add_argument("--metrics", help="metrics to score (default: the paper's metrics that are registered)")
    p.add_argument("--no-extras", action="store_true", help="skip the extra rows (methods not in the paper)")
    p.add_argument("--train-ours", action="store_true",
                   help="train the paper's own method (mu = 10) too and use it instead of the default weights")
    p.add_argument("--epochs", type=float, help="training budget: epochs (default: the method's recipe)")
    p.add_argument("--max-steps", type=int, help="training budget: cap on optimiser steps")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--retrain", action="store_true",
                   help="call the trainer even where a trained file exists (it resumes / keeps a finished one)")
    p.add_argument("--weights-root", help="other authors' weights (default: $FUSIONBENCH_WEIGHTS, "
                   "else weights/ beside or under the data root)")
    p.add_argument("--dry-run", action="store_true", help="print the plan only")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def cmd_reproduce(args) -> int:
    import sys
    from pathlib import Path

    from fusionbench.commands.table import parse_tables
    from fusionbench.reproduce import execute, plan

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    p = plan(parse_tables(args.tables), paper=args.paper, results=args.results, data_root=args.data_root,
             metrics=metrics, extras=not args.no_extras, train_ours=args.train_ours)
    print(p.text(), file=sys.stderr)
    if args.dry_run:
        return 0
    rep = execute(p, jobs=args.jobs, progress=False if args.no_progress else None, epochs=args.epochs,
                  max_steps=args.max_steps, seed=args.seed, retrain=args.retrain,
                  weights_root=args.weights_root, **executor_kwargs(args))
    print(f"reproduce finished in {rep.seconds / 60:.1f} min; tables in {Path(p.results) / 'tables'}",
          file=sys.stderr)
    for f in rep.failures:
        print(f"failed: {f}", file=sys.stderr)
    return 1 if rep.failures else 0
