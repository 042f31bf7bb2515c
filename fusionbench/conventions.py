"""Every registered convention of one quantity, side by side (``metrics --same-as``, ``evaluate --compare``).

A *quantity* is what a metric configuration measures (``MetricSpec.measures``: ``ssim`` for
``ssim``, ``vifb:ssim``, ``cddfuse:ssim``, ``tang:ssim``, ``zoo:ssim``). Listing the
configurations of one quantity with their input convention and parameters, and their values on
one image, answers "why don't my numbers match the paper's".
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .errors import UnknownNameError
from .registry import METRICS, MetricSpec, discover


def quantities() -> list[str]:
    """Every quantity measured by some registered metric."""
    discover()
    return sorted({s.measures for s in METRICS.values()})


def conventions(quantity: str) -> list[MetricSpec]:
    """The registered configurations of ``quantity``, plain name first, then by namespace."""
    discover()
    specs = [s for s in METRICS.values() if s.measures == quantity]
    if not specs:
        import difflib

        close = difflib.get_close_matches(quantity, quantities(), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UnknownNameError(f"no metric measures {quantity!r}{hint}; quantities: {', '.join(quantities())}")
    return sorted(specs, key=lambda s: (s.namespace is not None, s.namespace or "", s.name))


def _params_text(spec: MetricSpec) -> str:
    return ", ".join(f"{k}={v}" for k, v in spec.params.items()) or "-"


def conventions_table(quantity: str) -> list[list[str]]:
    """Rows ``[metric, input, params, direction, description, reference]`` for one quantity."""
    return [[s.name, s.input, _params_text(s), s.arrow, s.description, s.reference] for s in conventions(quantity)]


def compare(ir: np.ndarray | str | os.PathLike, vi: np.ndarray | str | os.PathLike,
            fused: np.ndarray | str | os.PathLike, quantity_names: Sequence[str] | str) -> list[dict]:
    """Values of every convention of each quantity on one image: ``[{quantity, metric, input, params, value}]``.

    Images are read once; each configuration applies its own input convention to the raw file
    (as ``fusionbench.evaluate``). A configuration that cannot score this image (e.g. MS-SSIM on a
    small image) gets ``value=nan`` and its error in ``note``.
    """
    from .api import _as_raw, compute_metric
    from .imageio import check_images

    if isinstance(quantity_names, str):
        quantity_names = [q.strip() for q in quantity_names.split(",") if q.strip()]
    specs = [(q, s) for q in quantity_names for s in conventions(q)]
    raw = [_as_raw(x, role) for x, role in zip((ir, vi, fused), ("ir", "vi", "fused"))]
    for a, role in zip(raw, ("ir", "vi", "fused")):
        check_images(a, names=(role,), who="compare", gray=False)
    rows = []
    for q, s in specs:
        try:
            value, note = compute_metric(s, raw)[s.name], ""
        except ValueError as exc:
            value, note = float("nan"), str(exc).splitlines()[0]
        rows.append({"quantity": q, "metric": s.name, "input": s.input, "params": _params_text(s),
                     "value": value, "note": note})
    return rows
