"""``fusionbench plot``: per-pair lines, box / violin per metric, scatter of two metrics."""
from __future__ import annotations

from fusionbench.cli import add_results


def _configure(p) -> None:
    from fusionbench.plots import KINDS

    p.add_argument("--dataset", required=True, help="dataset in the store")
    p.add_argument("--kind", choices=KINDS, default="pairs",
                   help="pairs: one line per method over the pairs; box/violin: distribution over pairs; "
                   "scatter: one point per method (mean of --metric vs --metric2)")
    p.add_argument("--metric", required=True, help="the metric (x axis for scatter)")
    p.add_argument("--metric2", help="scatter: the y-axis metric")
    p.add_argument("--methods", help="comma-separated methods (default: all in the store)")
    p.add_argument("--title", help="figure title")
    p.add_argument("-o", "--output", required=True, help="figure file (.png, .pdf or .svg)")
    add_results(p)


def cmd_plot(args) -> int:
    import sys

    from fusionbench.commands.stats import split_list
    from fusionbench.plots import plot_from_store
    from fusionbench.store import ResultStore

    store = ResultStore(args.results, create=False)
    out = plot_from_store(store, args.dataset, args.kind, args.metric, args.output, metric2=args.metric2,
                          methods=split_list(args.methods), title=args.title)
    print(f"wrote {out}", file=sys.stderr)
    return 0
