"""``fusionbench table``: mean scores per method per metric from the result store.

Without ``--table``: one summary table per dataset (every method in the store). With
``--table N`` (comma list allowed): the paper's Table N rebuilt from the store, rows in the
paper's order, each saying its source (``ours``, ``published:<folder>`` and on how many pairs,
or ``n/a``); ``--compare paper`` adds the printed values, the differences and a ranking summary.
"""
from __future__ import annotations

from pathlib import Path

from fusionbench.cli import add_data_root, add_results, emit
from fusionbench.errors import FusionbenchError, InputError


def _configure(p) -> None:
    p.add_argument("--table", help="the paper's table number(s), e.g. 1 or 1,2, or `leaderboard` (every method "
                   "on --dataset sorted by mean rank; default: summary of the store)")
    p.add_argument("--paper", default="ssl_waeie", help="which paper's tables (default ssl_waeie)")
    p.add_argument("--dataset", help="dataset (summary: default every dataset in the store; "
                   "--table: override the table's dataset label)")
    p.add_argument("--methods", help="summary only: comma-separated methods (default: all in the store)")
    p.add_argument("--metrics", help="comma-separated metrics; with --table, metrics of a paper column "
                   "swap into it (e.g. --metrics qabf uses qabf for Q_ABF), otherwise they are the columns")
    p.add_argument("--format", choices=("text", "md", "csv", "latex", "json", "xlsx"), default=None,
                   help="text (default in a terminal), md (default otherwise), csv, latex, json, or xlsx "
                   "(-o FILE.xlsx: one sheet of means per dataset, one sheet of per-pair values per metric)")
    p.add_argument("--allow-partial", action="store_true",
                   help="rank rows scored on fewer pairs than the others against complete rows")
    p.add_argument("--compare", choices=("paper",), help="add the paper's values, differences and a ranking summary")
    p.add_argument("--per-pair", action="store_true", help="per-pair values instead of means")
    p.add_argument("--extras", action="store_true", help="--table: add the extra rows (methods not in the paper)")
    p.add_argument("--std", action="store_true", help="show mean ± std")
    p.add_argument("--significance", action="store_true",
                   help="dagger on a best value not significantly better than the second (Wilcoxon, Holm)")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    add_results(p)
    add_data_root(p)


def table_pairs(dataset: str, data_root=None, split: str | None = None) -> list[str] | None:
    """Pair names of a registered dataset (or a dataset folder) when its data is present (else None:
    use all records)."""
    from fusionbench.data import is_registered_dataset, load_dataset

    if not is_registered_dataset(dataset) and not Path(dataset).expanduser().is_dir():
        return None
    try:
        return [p.name for p in load_dataset(dataset, root=data_root, split=split).pairs]
    except FusionbenchError:
        return None


def store_pairs(store, label: str, data_root=None) -> list[str] | None:
    """The pairs a store folder's dataset has (from its methods' ``method.json``), when present."""
    for info in store.method_infos(label).values():
        if isinstance(info.get("dataset_path"), str):
            return table_pairs(info["dataset_path"], data_root)
        name = info.get("dataset_name")
        if isinstance(name, str):
            return table_pairs(name, data_root, info.get("split"))
    return table_pairs(label, data_root)


def parse_tables(text: str) -> list[int]:
    try:
        nums = [int(t) for t in text.replace(" ", "").split(",") if t]
    except ValueError:
        raise InputError(f"--table expects numbers like 1 or 1,2 (got {text!r})") from None
    if not nums:
        raise InputError("--table expects at least one table number")
    return nums


def render_paper_tables(store, paper_name: str, numbers: list[int], fmt: str = "md", *,
                        metrics=None, compare: bool = False, std: bool = False, per_pair: bool = False,
                        extras: bool = False, data_root=None, dataset: str | None = None,
                        allow_partial: bool = False, significance: bool = False) -> str:
    """Text of the paper's tables ``numbers`` in one format (json: one list of all cells)."""
    import json

    from fusionbench.paper import load_paper
    from fusionbench.tables import build_paper_table

    paper = load_paper(paper_name)
    results = []
    for n in numbers:
        t = paper.table(n)
        pairs = table_pairs(dataset or t.dataset, data_root)
        if extras:  # your own folder:<name> results join the extra rows
            from fusionbench.export import with_user_rows

            paper = with_user_rows(paper, store, n, dataset)
        results.append(build_paper_table(store, paper, n, metrics=metrics, pairs=pairs, extras=extras,
                                         compare=compare, std=std, dataset=dataset,
                                         allow_partial=allow_partial))
    if significance:  # --significance (fusionbench.stats): best vs second, per table
        from fusionbench.stats import render_paper_significance

        if per_pair or fmt == "csv":
            raise InputError("--significance marks mean tables (text, md, latex, json), not csv or --per-pair")
        rendered = [render_paper_significance(r, fmt) for r in results]
    else:
        rendered = [r.render(fmt, per_pair=per_pair) for r in results]
    if fmt == "json":
        cells = []
        for text in rendered:
            cells += json.loads(text)
        return json.dumps(cells, indent=1, ensure_ascii=False)
    texts = rendered
    if fmt == "csv":
        out, header = [], None
        for t in texts:
            lines = t.splitlines()
            if lines and lines[0] == header:
                lines = lines[1:]
            header = header or (lines[0] if lines else None)
            out += lines
        return "\n".join(out) + "\n"
    return "\n\n".join(texts)


def cmd_table(args) -> int:
    import sys

    from fusionbench.render import render
    from fusionbench.store import ResultStore
    from fusionbench.tables import summary_table

    if args.format is None:
        args.format = "text" if (sys.stdout.isatty() and not args.output) else "md"
    store = ResultStore(args.results, create=False)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    if args.table == "leaderboard":
        from fusionbench.tables import leaderboard_table

        if not args.dataset:
            raise InputError("--table leaderboard needs --dataset (e.g. tno, roadscene, vifb)")
        g = leaderboard_table(store, args.dataset, metrics=metrics, allow_partial=args.allow_partial,
                              expected_pairs=store_pairs(store, args.dataset, args.data_root))
        emit(render(g, args.format), args.output)
        return 0
    if args.table:
        if args.format == "xlsx":
            raise InputError("--format xlsx is for the store summary (without --table)")
        if args.methods:
            raise InputError("--methods applies to the summary table; a paper table has the paper's rows")
        text = render_paper_tables(store, args.paper, parse_tables(args.table), args.format,
                                   metrics=metrics, compare=args.compare == "paper", std=args.std,
                                   per_pair=args.per_pair, extras=args.extras,
                                   data_root=args.data_root, dataset=args.dataset,
                                   allow_partial=args.allow_partial, significance=args.significance)
        emit(text, args.output)
        return 0
    if args.compare or args.extras:
        raise InputError("--compare and --extras need --table N")
    if args.dataset:
        datasets = [args.dataset]
    else:  # every dataset with results, the embedded synthetic set last
        datasets = sorted((d for d in store.datasets() if store.method_infos(d)),
                          key=lambda d: (d.startswith("synthetic"), d))
    if not datasets:
        raise FusionbenchError(f"no results in {store.root}; run `fusionbench run` first")
    # a dataset given as a folder path (as to `run --dataset PATH`) is stored under its folder name
    sources = {}
    for i, d in enumerate(datasets):
        if d not in store.datasets() and Path(d).expanduser().is_dir():
            from fusionbench.data import folder_label

            datasets[i] = folder_label(d)
        sources[datasets[i]] = d
    methods = [m for m in args.methods.split(",") if m] if args.methods else None
    pairs_of = {d: store_pairs(store, d, args.data_root) if d == sources[d] else table_pairs(sources[d], args.data_root)
                for d in datasets}
    if args.format == "xlsx":
        return _write_xlsx(store, datasets, methods, metrics, args, pairs_of)
    if args.per_pair:
        from fusionbench.export import per_pair_text

        emit("\n\n".join(per_pair_text(store, d, methods, metrics, args.format, pairs=pairs_of[d])
                           for d in datasets), args.output)
        return 0
    grids = [summary_table(store, d, methods, metrics, std=args.std, allow_partial=args.allow_partial,
                           expected_pairs=pairs_of[d]) for d in datasets]
    if args.significance:  # --significance (fusionbench.stats): dagger + footnotes on each grid
        from fusionbench.stats import mark_summary_grid

        if args.format == "csv":
            raise InputError("--significance marks mean tables (text, md, latex, json), not csv")
        grids = [mark_summary_grid(g, store, d) for g, d in zip(grids, datasets)]
    if args.format == "json":
        import json

        emit(json.dumps([json.loads(render(g, "json")) for g in grids], indent=1, ensure_ascii=False)
             if len(grids) > 1 else render(grids[0], "json"), args.output)
        return 0
    emit("\n\n".join(render(g, args.format) for g in grids), args.output)
    return 0


def _colour_lines(store, dataset: str, methods) -> str:
    from fusionbench.export import colour_notes

    notes = colour_notes(store, dataset, methods)
    return "".join(f"\n{m}: {n}" for m, n in notes.items())


def _write_xlsx(store, datasets, methods, metrics, args, pairs_of) -> int:
    import sys

    from fusionbench.export import write_xlsx

    if not args.output:
        raise InputError("--format xlsx writes a file: add -o FILE.xlsx")
    if args.std:
        raise InputError("--std is not available with --format xlsx (the metric sheets hold every value)")
    sheets = write_xlsx(args.output, store, datasets, methods, metrics, pairs_of=pairs_of)
    print(f"wrote {args.output} (sheets: {', '.join(sheets)})", file=sys.stderr)
    return 0
