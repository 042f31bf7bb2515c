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
from fusionbench.registry import register_command


def _configure(p) -> None:
    p.add_argument("--table", help="the paper's table number(s), e.g. 1 or 1,2 (default: summary of the store)")
    p.add_argument("--paper", default="ssl_waeie", help="which paper's tables (default ssl_waeie)")
    p.add_argument("--dataset", help="dataset (summary: default every dataset in the store; "
                   "--table: override the table's dataset label)")
    p.add_argument("--methods", help="summary only: comma-separated methods (default: all in the store)")
    p.add_argument("--metrics", help="comma-separated metrics; with --table, metrics of a paper column "
                   "swap into it (e.g. --metrics qabf uses qabf for Q_ABF), otherwise they are the columns")
    p.add_argument("--format", choices=("md", "csv", "latex", "json", "xlsx"), default="md",
                   help="md, csv, latex, json (--table), or xlsx (-o FILE.xlsx: one sheet of means per "
                   "dataset, one sheet of per-pair values per metric)")
    p.add_argument("--compare", choices=("paper",), help="add the paper's values, differences and a ranking summary")
    p.add_argument("--per-pair", action="store_true", help="per-pair values instead of means")
    p.add_argument("--extras", action="store_true", help="--table: add the extra rows (methods not in the paper)")
    p.add_argument("--std", action="store_true", help="show mean ± std")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    add_results(p)
    add_data_root(p)


def table_pairs(dataset: str, data_root=None) -> list[str] | None:
    """Pair names of a registered dataset when its data is present (else None: use all records)."""
    from fusionbench.data import load_dataset

    try:
        return [p.name for p in load_dataset(dataset, root=data_root)[1]]
    except FusionbenchError:
        return None


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
                        extras: bool = False, data_root=None, dataset: str | None = None) -> str:
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
                                         compare=compare, std=std, dataset=dataset))
    if fmt == "json":
        cells = []
        for r in results:
            cells += json.loads(r.render("json", per_pair=per_pair))
        return json.dumps(cells, indent=1, ensure_ascii=False)
    texts = [r.render(fmt, per_pair=per_pair) for r in results]
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


@register_command("table", help="mean scores per method per metric; --table N: the paper's Table N "
                  "(--compare paper)", configure=_configure)
def cmd_table(args) -> int:
    from fusionbench.store import ResultStore
    from fusionbench.tables import summary_table

    store = ResultStore(args.results, create=False)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    if args.table:
        if args.format == "xlsx":
            raise InputError("--format xlsx is for the store summary (without --table)")
        if args.methods:
            raise InputError("--methods applies to the summary table; a paper table has the paper's rows")
        text = render_paper_tables(store, args.paper, parse_tables(args.table), args.format,
                                   metrics=metrics, compare=args.compare == "paper", std=args.std,
                                   per_pair=args.per_pair, extras=args.extras,
                                   data_root=args.data_root, dataset=args.dataset)
        emit(text, args.output)
        return 0
    if args.compare or args.extras:
        raise InputError("--compare and --extras need --table N")
    if args.format == "json":
        raise InputError("--format json needs --table N (use csv for the store summary)")
    datasets = [args.dataset] if args.dataset else store.datasets()
    if not datasets:
        raise FusionbenchError(f"no results in {store.root}; run `fusionbench run` first")
    # a dataset given as a folder path (as to `run --dataset PATH`) is stored under its folder name
    sources = {}
    for i, d in enumerate(datasets):
        if d not in store.datasets() and Path(d).expanduser().is_dir():
            datasets[i] = Path(d).expanduser().resolve().name
        sources[datasets[i]] = d
    methods = [m for m in args.methods.split(",") if m] if args.methods else None
    pairs_of = {d: table_pairs(src, args.data_root) for d, src in sources.items()}
    if args.format == "xlsx":
        return _write_xlsx(store, datasets, methods, metrics, args, pairs_of)
    if args.per_pair:
        from fusionbench.export import per_pair_text

        emit("\n\n".join(per_pair_text(store, d, methods, metrics, args.format, pairs=pairs_of[d])
                           for d in datasets), args.output)
        return 0
    texts = [summary_table(store, d, methods, metrics, std=args.std).render(args.format) for d in datasets]
    if args.format == "md":
        texts = [t + _colour_lines(store, d, methods) for t, d in zip(texts, datasets)]
    emit("\n\n".join(texts), args.output)
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
