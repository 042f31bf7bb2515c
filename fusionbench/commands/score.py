"""``fusionbench score DIR --dataset D``: score a folder of your own fused images.

``DIR`` holds one fused image per pair, named after the pair (``01.png``, ``FLIR_00006.jpg``; any
extension the reader takes). The folder becomes method ``folder:<name>`` (default: DIR's name) in
the result store, next to every other method in ``table``, ``figure``, ``check`` and the paper
tables' extra rows. Each pair's cache key hashes that file's content, so editing one image
recomputes only that pair; a pair whose image was removed from DIR is removed from the store.
Missing pairs are listed; files that match no pair are listed and ignored; when no file matches
any pair the error says so (numbering like ``F1.png`` is the user's to rename).

Colour fused images are kept in colour: gray metrics score MATLAB's ``rgb2gray`` of them (the
table notes "colour output, scored as gray"), ``vifb:*`` metrics the colour as VIFB does.

Also here: :func:`evaluate_folders` (``fusionbench evaluate IR_DIR VI_DIR FUSED_DIR``).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from fusionbench.cli import add_data_root, add_jobs, add_metric_args, add_results
from fusionbench.errors import InputError


def _configure(p) -> None:
    p.add_argument("dir", metavar="DIR", help="folder of fused images named after the pairs (01.png, ...)")
    p.add_argument("--dataset", required=True, help="registered dataset (tno, roadscene, ...) or a folder "
                   "with ir/ and vi/")
    p.add_argument("--split", help="dataset split (e.g. roadscene: test20 (default) or all)")
    p.add_argument("--name", help="method name in the store: folder:<name> (default: DIR's name)")
    add_metric_args(p)
    add_results(p)
    add_data_root(p)
    add_jobs(p)
    p.add_argument("--allow-identical", action="store_true",
                   help="score pairs whose infrared and visible images are identical (refused by default)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


_NUM = re.compile(r"(\d+)")


def rename_hint(files: list[str], pairs: list[str], limit: int = 3) -> str:
    """``" (e.g. rename F1.png -> 01.png, F2.png -> 02.png)"`` when the numbers in the file names
    match the pairs' numbers; else an empty string."""
    by_num: dict[int, str] = {}
    for p in pairs:
        m = _NUM.findall(p)
        if len(m) == 1:
            by_num.setdefault(int(m[0]), p)
    sugg = []
    for f in files:
        m = _NUM.findall(Path(f).stem)
        if m and int(m[-1]) in by_num:
            sugg.append(f"{f} -> {by_num[int(m[-1])]}{Path(f).suffix}")
    return f" (e.g. rename {', '.join(sugg[:limit])})" if sugg else ""


def _short(names: list[str], limit: int = 8) -> str:
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def score_folder(folder, dataset: str, *, name: str | None = None, split: str | None = None,
                 metrics=None, preset: str | None = None, results=None, root=None, jobs: int = 1,
                 allow_identical: bool = False, progress: bool | None = None, log=None):
    """Score ``folder`` as method ``folder:<name>`` on ``dataset``; returns the runner summary.

    Raises :class:`InputError` when the folder is missing or empty, or when no file is named
    after a pair. Missing pairs and unmatched files are reported through ``log``.
    """
    from fusionbench.data import load_dataset
    from fusionbench.methods.folder import image_files
    from fusionbench.runner import run
    from fusionbench.store import ResultStore

    log = log or (lambda msg: print(msg, file=sys.stderr))
    d = Path(folder).expanduser()
    if not d.is_dir():
        raise InputError(f"{d}: not a folder (score takes a folder of fused images named after the pairs)")
    name = name or d.resolve().name
    if not name or ":" in name or "/" in name or "\\" in name:
        raise InputError(f"--name {name!r}: a name without ':' or '/' is needed (the method is folder:<name>)")
    files = image_files(d)
    if not files:
        raise InputError(f"{d}: no image files (png, jpg, bmp, tif, npy) in the folder")
    ds = load_dataset(dataset, root=root, split=split)
    label, pairs = ds.label, list(ds.pairs)
    names = [p.name for p in pairs]
    matched = [n for n in names if n in files]
    if not matched:
        listed = sorted(f.name for f in files.values())
        raise InputError(
            f"{d}: no file is named after a pair of dataset {label}: the pairs are {_short(names, 5)}; "
            f"the files are {_short(listed, 5)}. Name each fused image after its pair "
            f"({names[0]}.png, ...){rename_hint(listed, names)}")
    extra = sorted(files[s].name for s in files if s not in set(names))
    missing = [n for n in names if n not in files]
    if extra:
        log(f"ignored: {len(extra)} file(s) in {d} match no pair of {label}: {_short(extra)}")
    if missing:
        log(f"missing: {len(missing)} of {len(names)} pairs of {label} have no fused image in {d}: "
            f"{_short(missing, 21)}")
    method = f"folder:{name}"
    store = ResultStore(results)
    for n in missing:  # an image removed from DIR leaves the store too: the store mirrors DIR
        for p in (store.record_path(label, method, n), store.fused_path(label, method, n)):
            p.unlink(missing_ok=True)
    (summary,) = run([method], ds, metrics=metrics, preset=preset, results=results,
                     root=root, jobs=jobs, progress=progress, method_params={"dir": str(d.resolve())},
                     pairs=matched, log=log, allow_identical=allow_identical)
    recs = store.records(label, method)
    colour = sorted(p for p, r in recs.items() if r.get("colour"))
    info_path = store.method_dir(label, method) / "method.json"
    if info_path.exists():
        import json

        info = json.loads(info_path.read_text())
        info.update(kind="folder", dir=str(d.resolve()), colour_pairs=colour, missing_pairs=missing)
        store.write_method_info(label, method, info)
    if colour:
        log(f"note: {len(colour)} of {len(recs)} fused images of {method} are colour: colour output, "
            "scored as gray by the gray metrics (MATLAB rgb2gray); vifb:* metrics read the colour")
    log(f"{method}: {len(recs)} of {len(names)} pairs of {label} in the store; next: "
        f"fusionbench table --dataset {label}" + (f" --results {results}" if results else ""))
    return summary


def cmd_score(args) -> int:
    summary = score_folder(args.dir, args.dataset, name=args.name, split=args.split, metrics=args.metrics,
                           preset=args.preset, results=args.results, root=args.data_root, jobs=args.jobs,
                           allow_identical=args.allow_identical,
                           progress=False if args.no_progress else None)
    return 1 if summary.count("failed") else 0


# -- evaluate IR_DIR VI_DIR FUSED_DIR -----------------------------------------------------------
def evaluate_folders(ir_dir, vi_dir, fused_dir, *, metrics=None, preset: str | None = None,
                     parts: bool = False, allow_identical: bool = False, log=None
                     ) -> dict[str, dict[str, float]]:
    """``{pair: {metric: value}}`` for every pair with a file in all three folders (by file stem).

    Pairs lacking an infrared, visible or fused file are reported through ``log`` and skipped;
    none at all is an :class:`InputError`. Metric defaults as :func:`fusionbench.evaluate`.
    """
    from fusionbench.api import evaluate
    from fusionbench.methods.folder import image_files

    log = log or (lambda msg: print(msg, file=sys.stderr))
    maps = [image_files(Path(x).expanduser()) for x in (ir_dir, vi_dir, fused_dir)]
    for m, x in zip(maps, (ir_dir, vi_dir, fused_dir)):
        if not m:
            raise InputError(f"{x}: no image files in the folder")
    stems = sorted(set(maps[0]) | set(maps[1]))
    both = [s for s in stems if s in maps[0] and s in maps[1]]
    lone = [s for s in stems if s not in both]
    if lone:
        log(f"skipped: {len(lone)} file(s) without a partner in {ir_dir} / {vi_dir}: {_short(lone)}")
    todo = [s for s in both if s in maps[2]]
    missing = [s for s in both if s not in maps[2]]
    if missing:
        log(f"missing: {len(missing)} of {len(both)} pairs have no fused image in {fused_dir}: {_short(missing)}")
    if not todo:
        raise InputError(f"{fused_dir}: no fused image is named after a pair of {ir_dir} / {vi_dir} "
                         f"(pairs: {_short(both, 5)}){rename_hint(sorted(f.name for f in maps[2].values()), both)}")
    out = {}
    for s in todo:
        try:
            out[s] = evaluate(maps[0][s], maps[1][s], maps[2][s], metrics=metrics, preset=preset, parts=parts,
                              allow_identical=allow_identical)
        except InputError as exc:
            raise InputError(f"pair {s}: {exc}") from None
    return out


def format_rows(scores: dict[str, dict[str, float]]) -> str:
    """Plain-text table: one row per pair, then the mean of each column."""
    import math

    from tabulate import tabulate

    cols: list[str] = []
    for v in scores.values():
        cols += [k for k in v if k not in cols]
    rows = [[p, *(f"{v.get(c, math.nan):.6f}" for c in cols)] for p, v in scores.items()]
    if len(scores) > 1:
        means = []
        for c in cols:
            vals = [v[c] for v in scores.values() if c in v and not math.isnan(v[c])]
            means.append(f"{sum(vals) / len(vals):.6f}" if vals else "nan")
        rows.append([f"mean ({len(scores)} pairs)", *means])
    return tabulate(rows, headers=["pair", *cols], tablefmt="simple", disable_numparse=True)
