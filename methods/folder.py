"""``folder:<name>``: your own fused images (a folder of files named after the pairs), scored
like any other method. Made by ``fusionbench score DIR --dataset D [--name NAME]``.

The images are read from the method parameter ``dir`` (``fusionbench score`` passes it), else from
the folder ``<name>`` itself (relative to the working directory, or absolute), as
``<dir>/<pair>.<ext>`` for any extension :func:`fusionbench.imageio.read_image` reads (png, jpg,
bmp, tif, npy; extension case ignored). Colour images are returned as ``HxWx3``: the store keeps
the colour; gray metrics score MATLAB's ``rgb2gray`` of it, ``vifb:*`` metrics the colour, as
VIFB's code does (the pair's record says ``"colour": true``).

Identity: the folder's location is not part of the cache key; each pair's key hashes that pair's
file content (``pair_inputs``), so editing one image recomputes only that pair, and moving or
renaming the folder recomputes nothing. A pair without a file raises
:class:`~fusionbench.errors.MissingResultError` (reported per pair, never averaged over).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fusionbench.data import PairContext
from fusionbench.errors import InputError, MissingResultError
from fusionbench.imageio import IMAGE_SUFFIXES, read_image
from fusionbench.registry import register_method


def folder_dir(params: dict) -> Path:
    """The folder of a ``folder:<name>`` call: ``params['dir']``, else ``<name>`` as a path."""
    d = params.get("dir") or params.get("variant")
    if not d:
        raise InputError("folder needs a name: folder:<name> (see `fusionbench score DIR`)")
    return Path(os.fspath(d)).expanduser()


def image_files(folder: Path) -> dict[str, Path]:
    """``{stem: path}`` of the readable image files in ``folder`` (first by name on a stem clash)."""
    out: dict[str, Path] = {}
    try:
        entries = sorted(folder.iterdir())
    except FileNotFoundError:
        raise MissingResultError(f"{folder}: folder not found") from None
    except NotADirectoryError:
        raise InputError(f"{folder}: not a folder") from None
    except PermissionError:
        raise InputError(f"{folder}: permission denied (cannot list folder)") from None
    for p in entries:
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES:
            out.setdefault(p.stem, p)
    return out


def pair_file(params: dict, pair: str) -> Path | None:
    folder = folder_dir(params)
    for p in sorted(folder.glob(f"{pair}.*")) if folder.is_dir() else []:
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            return p
    return None


def _pair_inputs(params: dict, pair: str) -> list[Path]:
    p = pair_file(params, pair)
    return [p] if p is not None else []


def _identity(params: dict) -> dict:
    """The cache key's parameters: the name only (contents enter through ``pair_inputs``)."""
    return {"variant": params.get("variant")}


@register_method("folder", description="your own fused images: folder:<name> reads <dir>/<pair>.* "
                 "(made by `fusionbench score DIR --dataset D --name NAME`)", any_variant=True,
                 needs_context=True, color=True, params={"dir": None}, reference="user results",
                 resolve_params=_identity, pair_inputs=_pair_inputs)
def folder(ir: np.ndarray, vi: np.ndarray, *, ctx: PairContext | None = None, variant: str | None = None,
           dir: str | None = None, vi_rgb: np.ndarray | None = None) -> np.ndarray:
    params = {"variant": variant, "dir": dir}
    if ctx is None:
        raise InputError("folder:<name> needs a pair context (use `fusionbench score` or `run`)")
    p = pair_file(params, ctx.pair)
    if p is None:
        raise MissingResultError(f"folder:{variant}: no fused image for pair {ctx.pair} in {folder_dir(params)}")
    img = read_image(p)
    if img.shape[:2] != np.shape(ir)[:2]:
        raise InputError(f"{p}: size mismatch with pair {ctx.pair}: {img.shape[1]}x{img.shape[0]} vs "
                         f"{np.shape(ir)[1]}x{np.shape(ir)[0]}")
    return img.astype(np.float64)
