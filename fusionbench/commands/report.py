"""``fusionbench report``: a static, self-contained HTML report of one dataset (open index.html)."""
from __future__ import annotations

from fusionbench.cli import add_data_root, add_results


def _configure(p) -> None:
    p.add_argument("--dataset", required=True, help="dataset in the store")
    p.add_argument("-o", "--output", required=True, help="report folder (new or empty, or an earlier report)")
    p.add_argument("--against", help="reference method for the paired comparisons (significance marks)")
    p.add_argument("--methods", help="comma-separated methods (default: all in the store)")
    p.add_argument("--metrics", help="comma-separated metrics (default: every metric in the store)")
    p.add_argument("--split", help="dataset split for the source images (default: the dataset's default)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    add_results(p)
    add_data_root(p)


def cmd_report(args) -> int:
    import sys

    from fusionbench.commands.stats import split_list
    from fusionbench.errors import InputError
    from fusionbench.report import build_report
    from fusionbench.store import ResultStore

    if not 0 < args.alpha < 1:
        raise InputError(f"--alpha must be between 0 and 1 (got {args.alpha})")
    store = ResultStore(args.results, create=False)
    index = build_report(store, args.dataset, args.output, against=args.against,
                         methods=split_list(args.methods), metrics=split_list(args.metrics),
                         data_root=args.data_root, split=args.split, alpha=args.alpha)
    print(f"wrote {index}", file=sys.stderr)
    return 0
