"""``fusionbench stats``: mean, spread, bootstrap CI, paired Wilcoxon vs a reference, ranks.

See :mod:`fusionbench.stats` for every convention (resamples, seed, which p-value, Holm).
"""
from __future__ import annotations

from fusionbench.cli import add_results, emit
from fusionbench.errors import InputError


def split_list(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _configure(p) -> None:
    p.add_argument("--dataset", required=True, help="dataset(s) in the store, comma-separated "
                   "(several: one table each, ranks across all)")
    p.add_argument("--against", help="reference method: paired Wilcoxon of every other method against it")
    p.add_argument("--methods", help="comma-separated methods (default: all in the store)")
    p.add_argument("--metrics", help="comma-separated metrics (default: every metric in the store)")
    p.add_argument("--pairs", help="comma-separated pair names (default: every stored pair)")
    p.add_argument("--rank-by", choices=("metrics", "pairs"), default="metrics",
                   help="Friedman blocks: dataset x metric means (default) or every dataset x metric x pair")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p.add_argument("--cd", metavar="FILE", help="also write the critical-difference diagram (.png/.pdf/.svg)")
    p.add_argument("--format", choices=("text", "json", "csv"), default="text")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    add_results(p)


def cmd_stats(args) -> int:
    import sys

    from fusionbench.stats import cd_diagram, render_csv, render_json, render_text, stats_report
    from fusionbench.store import ResultStore

    if not 0 < args.alpha < 1:
        raise InputError(f"--alpha must be between 0 and 1 (got {args.alpha})")
    store = ResultStore(args.results, create=False)
    rep = stats_report(store, split_list(args.dataset), against=args.against,
                       methods=split_list(args.methods), metrics=split_list(args.metrics),
                       pairs=split_list(args.pairs), rank_by=args.rank_by, alpha=args.alpha)
    if args.format == "json":
        text = render_json(rep.rows)
    elif args.format == "csv":
        text = render_csv(rep.rows)
    else:
        text = render_text(rep.rows, rep.ranking, against=args.against, alpha=args.alpha)
    emit(text, args.output)
    if args.cd:
        if rep.ranking is None:
            raise InputError("--cd: no ranking (needs at least 2 methods with common pairs)")
        from fusionbench.plots import check_output

        check_output(args.cd)
        cd_diagram(rep.ranking, args.cd)
        print(f"wrote {args.cd}", file=sys.stderr)
    return 0
