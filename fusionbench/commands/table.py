"""``fusionbench table``: mean scores per method per metric from the result store."""
from __future__ import annotations

from fusionbench.cli import add_results, emit
from fusionbench.errors import FusionbenchError
from fusionbench.registry import register_command


def _configure(p) -> None:
    p.add_argument("--dataset", help="dataset (default: every dataset in the store)")
    p.add_argument("--methods", help="comma-separated methods (default: all in the store)")
    p.add_argument("--metrics", help="comma-separated metrics (default: all scored)")
    p.add_argument("--format", choices=("md", "csv", "latex"), default="md")
    p.add_argument("--std", action="store_true", help="show mean ± std")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    add_results(p)


@register_command("table", help="mean score per method per metric from the result store", configure=_configure)
def cmd_table(args) -> int:
    from fusionbench.store import ResultStore
    from fusionbench.tables import summary_table

    store = ResultStore(args.results, create=False)
    datasets = [args.dataset] if args.dataset else store.datasets()
    if not datasets:
        raise FusionbenchError(f"no results in {store.root}; run `fusionbench run` first")
    methods = [m for m in args.methods.split(",") if m] if args.methods else None
    metrics = [m for m in args.metrics.split(",") if m] if args.metrics else None
    texts = [summary_table(store, d, methods, metrics, std=args.std).render(args.format) for d in datasets]
    emit("\n\n".join(texts), args.output)
    return 0
