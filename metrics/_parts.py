"""The per-source result shape of metrics that score the fused image against each source.

Such a metric registers ``parts=("ir", "vi")`` and returns ``{"total": t, "ir": a, "vi": b}``;
:func:`per_source` builds it, so every metric combines its two parts the same way.
"""
from __future__ import annotations


def per_source(ir: float, vi: float, combine: str = "mean") -> dict[str, float]:
    """``{"total": (ir + vi) / 2, "ir": ir, "vi": vi}`` (``combine="mean"``) or with
    ``total = ir + vi`` (``combine="sum"``); float64 arithmetic, NaN propagates.

    ``(ir + vi) / 2`` and ``0.5 * (ir + vi)`` are the same float (scaling by a power of two is
    exact), so either spelling of the mean gives this value bit for bit.
    """
    ir, vi = float(ir), float(vi)
    if combine == "mean":
        total = (ir + vi) / 2.0
    elif combine == "sum":
        total = ir + vi
    else:
        raise ValueError(f"combine must be 'mean' or 'sum', got {combine!r}")
    return {"total": total, "ir": ir, "vi": vi}
