"""The one rule for configurable folders: explicit argument, else environment variable, else default.

Every folder fusionbench reads or writes is found this way: the data root (``--data-root`` /
``FUSIONBENCH_DATA``), the result store (``--results`` / ``FUSIONBENCH_RESULTS``), the weights root
(``--weights-root`` / ``FUSIONBENCH_WEIGHTS``), trained weights (``FUSIONBENCH_TRAINED``) and the
cache (``FUSIONBENCH_CACHE``).
"""
from __future__ import annotations

import os
from pathlib import Path


def configured_path(explicit: os.PathLike | str | None, env: str, default: os.PathLike | str | None) -> Path | None:
    """``explicit`` if given, else ``$env`` if set, else ``default`` (``~`` expanded; None stays None)."""
    if explicit:
        return Path(explicit).expanduser()
    value = os.environ.get(env)
    if value:
        return Path(value).expanduser()
    return Path(default).expanduser() if default is not None else None


def trained_dir(explicit: os.PathLike | str | None = None) -> Path:
    """Trained weights: explicit, else ``$FUSIONBENCH_TRAINED``, else ``~/.cache/fusionbench/trained``."""
    return configured_path(explicit, "FUSIONBENCH_TRAINED", "~/.cache/fusionbench/trained")
