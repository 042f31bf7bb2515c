"""Ranking analysis: best/second marks, competition ranks and agreement of two rankings.

Values are compared at the printed precision (``decimals``): values equal there tie and
share a rank. Built on :func:`scipy.stats.rankdata` and :func:`scipy.stats.kendalltau`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _rounded(values: Sequence[float | None], decimals: int) -> list[float | None]:
    return [round(v, decimals) if v is not None and not math.isnan(v) else None for v in values]


def rank_marks(values: Sequence[float | None], higher_is_better: bool, decimals: int = 4,
               eligible: Sequence[bool] | None = None) -> list[str]:
    """``'best'``, ``'second'`` or ``''`` per value, comparing at ``decimals`` places (ties share).

    ``eligible`` (optional): which values may be marked at all (e.g. only rows scored on every
    pair); the others get ``''`` and do not take a rank.
    """
    clean = _rounded(values, decimals)
    if eligible is not None:
        clean = [v if ok else None for v, ok in zip(clean, eligible)]
    distinct = sorted({v for v in clean if v is not None}, reverse=higher_is_better)
    best = distinct[0] if distinct else None
    second = distinct[1] if len(distinct) > 1 else None
    return ["best" if v is not None and v == best else "second" if v is not None and v == second else ""
            for v in clean]


def competition_ranks(values: Sequence[float], higher_is_better: bool, decimals: int = 4) -> list[int]:
    """Competition ranks (1 = best; ties at ``decimals`` places share the best rank of the tie)."""
    from scipy.stats import rankdata

    r = np.array([round(v, decimals) for v in values], dtype=float)
    return [int(x) for x in rankdata(-r if higher_is_better else r, method="min")]


def concordance(a: Sequence[float], b: Sequence[float]) -> tuple[int, int, float | None]:
    """Concordant pairs, comparable (untied in both) pairs and Kendall's tau-b of two lists."""
    from scipy.stats import kendalltau

    x, y = np.asarray(a, float), np.asarray(b, float)
    if len(x) < 2:
        return 0, 0, None
    i, j = np.triu_indices(len(x), 1)
    sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    comp = (sx != 0) & (sy != 0)
    conc = int(((sx == sy) & comp).sum())
    tau = kendalltau(x, y).statistic
    return conc, int(comp.sum()), (None if tau is None or math.isnan(tau) else float(tau))
