"""``fusionbench figure``: the paper's Fig. 3/4-style visual comparison of one pair, as PNG."""
from __future__ import annotations

from fusionbench.cli import add_data_root, add_results


def _configure(p) -> None:
    p.add_argument("--dataset", required=True, help="dataset name (or a folder with ir/ and vi/)")
    p.add_argument("--split", help="dataset split (default: the dataset's default)")
    p.add_argument("--pair", required=True, help="pair name, e.g. 06 or FLIR_00977")
    p.add_argument("--methods", required=True, help="comma-separated methods, one panel each")
    p.add_argument("--labels", help="comma-separated panel labels for the methods (default: method names)")
    p.add_argument("--box", help="zoomed inset box x,y,w,h in pixels (outlined on every panel)")
    p.add_argument("--zoom", type=float, default=2.0, help="inset magnification (default 2)")
    p.add_argument("--corner", default="lower right",
                   choices=("lower right", "lower left", "upper right", "upper left"))
    p.add_argument("--cols", type=int, help="panels per row (default: up to 6)")
    p.add_argument("--panel-width", type=float, default=2.4, help="inches per panel (default 2.4)")
    p.add_argument("--dpi", type=int, default=150)
    p.add_argument("--title", help="figure title")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")
    add_results(p)
    add_data_root(p)


def cmd_figure(args) -> int:
    import sys

    from fusionbench.figures import figure_for_pair, parse_box

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    labels = [s.strip() for s in args.labels.split(",")] if args.labels else None
    out = figure_for_pair(args.dataset, args.pair, methods, args.output, results=args.results,
                          root=args.data_root, split=args.split, labels=labels, cols=args.cols,
                          box=parse_box(args.box), zoom=args.zoom, corner=args.corner,
                          panel_width=args.panel_width, dpi=args.dpi, title=args.title)
    print(f"wrote {out}", file=sys.stderr)
    return 0
