"""Statistics over the per-pair scores of the result store: is a difference real?

Everything here reads scores through :func:`fusionbench.scores.read_scores` (version-aware, NaN
kept) and works on plain arrays, so the pieces can be tested against hand-computed cases.

Conventions
-----------
* **Descriptive** (:func:`describe`): over the pairs with a finite value; ``std`` is the sample
  standard deviation (``ddof=1``; the ``table --std`` column is the population one), ``median``
  the ordinary median.
* **Bootstrap CI of the mean** (:func:`bootstrap_ci`): percentile bootstrap, ``N_RESAMPLES`` =
  10,000 resamples of the pairs with replacement drawn by ``numpy.random.default_rng(SEED)``
  (``SEED`` = 2006), the 2.5 and 97.5 percentiles (``numpy.percentile``, linear) of the resampled
  means. The generator is re-seeded for every call, so equal inputs give equal intervals and
  a rerun gives byte-identical output. Vectorised: one ``(resamples, n)`` index array.
* **Paired comparison** (:func:`paired_test`): on the pairs both methods have a finite value.
  The difference is oriented by the metric's direction, ``d = x - y`` when higher is better and
  ``y - x`` when lower is better, so ``d > 0`` always means *the method beats the reference*.
  ``|d| <= 1e-12 * max(1, |x|, |y|)`` counts as a tie (zero difference). Wins / losses / ties
  count the signs; the effect sizes are the median of ``d`` (ties included) and the fraction of
  common pairs the method wins. The Wilcoxon signed-rank test is ``scipy.stats.wilcoxon`` with
  ``zero_method='wilcox'`` (zero differences are *discarded*, the classical test; SciPy's
  default) and two-sided alternative. Which p-value:

  - no zero differences and no tied ``|d|``, ``n <= 50``: the **exact** null distribution
    (``method='exact'``); with every pair won, p = 2 / 2**n;
  - zeros or ties, at most 13 non-zero differences: the exhaustive **permutation** distribution
    (what SciPy's ``method='auto'`` chooses: the exact conditional distribution given the ties);
  - otherwise the **normal** approximation with SciPy's tie correction (no continuity correction);
  - every difference zero (identical methods): p = 1 (SciPy would return NaN);
  - fewer than 1 non-zero difference or no common pair: p is NaN.

  ``p_method`` in the output says which of ``exact``, ``permutation``, ``normal``, ``identical``.
* **Holm** (:func:`holm`): step-down adjustment over all comparisons of one table (every method
  x metric against the reference), NaN p-values left out of the family.
* **Ranks** (:func:`friedman`): each block (a dataset x metric mean, or a pair x metric value)
  ranks the methods, 1 = best, ties share the average rank; blocks with a missing value are
  dropped (and counted). The Friedman statistic is ``scipy.stats.friedmanchisquare`` (tie
  corrected), which needs at least 3 methods. The Nemenyi critical difference (Demšar 2006, eq.
  after (2)) is ``CD = q_alpha * sqrt(k (k + 1) / (6 N))`` with ``q_alpha`` =
  ``studentized_range.ppf(1 - alpha, k, inf) / sqrt(2)`` (:func:`nemenyi_q`); it matches
  Demšar's Table 5 (q_0.05 = 1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164 for
  k = 2..10) to +-0.001 (his values are rounded from printed studentized-range tables).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import FusionbenchError, InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .store import ResultStore

N_RESAMPLES = 10_000
SEED = 2006
LEVEL = 0.95
ALPHA = 0.05
EXACT_MAX_N = 50          # exact Wilcoxon distribution without ties (SciPy's own limit)
PERMUTATION_MAX_N = 13    # exhaustive permutations with ties/zeros (SciPy's 'auto' limit)
TIE_RTOL = 1e-12

DEMSAR_Q05 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102, 10: 3.164}


# ==========================================================================================
# Building blocks (arrays in, numbers out)
# ==========================================================================================
def bootstrap_ci(x: Sequence[float] | np.ndarray, *, resamples: int = N_RESAMPLES, seed: int = SEED,
                 level: float = LEVEL) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of ``x`` (finite values only).

    Resamples ``x`` with replacement ``resamples`` times (one vectorised index draw from
    ``numpy.random.default_rng(seed)``, in chunks of at most ~4M indices), returns the
    ``(1 - level) / 2`` and ``(1 + level) / 2`` percentiles of the resampled means. One value
    gives ``(x, x)``; none gives ``(nan, nan)``.
    """
    a = np.asarray(x, dtype=np.float64)
    a = a[np.isfinite(a)]
    n = a.size
    if n == 0:
        return math.nan, math.nan
    if n == 1 or np.all(a == a[0]):
        return float(a[0]), float(a[0])
    rng = np.random.default_rng(seed)
    chunk = max(1, (1 << 22) // n)
    means = np.empty(resamples)
    for s in range(0, resamples, chunk):
        m = min(chunk, resamples - s)
        means[s:s + m] = a[rng.integers(0, n, size=(m, n))].mean(axis=1)
    lo, hi = np.percentile(means, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)


def describe(x: Sequence[float] | np.ndarray, *, resamples: int = N_RESAMPLES, seed: int = SEED,
             level: float = LEVEL) -> dict[str, float | int]:
    """``n`` (finite values), ``n_nan``, ``mean``, ``std`` (ddof=1), ``median``, ``ci_low``, ``ci_high``."""
    a = np.asarray(x, dtype=np.float64)
    fin = a[np.isfinite(a)]
    n = int(fin.size)
    lo, hi = bootstrap_ci(fin, resamples=resamples, seed=seed, level=level)
    return {"n": n, "n_nan": int(a.size - n),
            "mean": float(fin.mean()) if n else math.nan,
            "std": float(fin.std(ddof=1)) if n > 1 else math.nan,
            "median": float(np.median(fin)) if n else math.nan,
            "ci_low": lo, "ci_high": hi}


@dataclass
class PairedResult:
    """A paired comparison of a method (``x``) against a reference (``y``); ``d > 0``: x better."""

    n: int
    wins: int
    losses: int
    ties: int
    median_diff: float
    win_fraction: float
    statistic: float
    p: float
    p_method: str


def oriented_diff(x: np.ndarray, y: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """``x - y`` (higher is better) or ``y - x``; values within ``TIE_RTOL`` set to exactly 0."""
    d = (x - y) if higher_is_better else (y - x)
    tol = TIE_RTOL * np.maximum(1.0, np.maximum(np.abs(x), np.abs(y)))
    return np.where(np.abs(d) <= tol, 0.0, d)


def paired_test(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                higher_is_better: bool = True) -> PairedResult:
    """Wilcoxon signed-rank test and effect sizes of paired values (see the module docstring).

    ``x`` and ``y`` are aligned per pair; positions where either is not finite are dropped.
    """
    from scipy import stats as ss

    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xa.shape != ya.shape:
        raise InputError(f"paired values of different lengths ({xa.size} vs {ya.size})")
    ok = np.isfinite(xa) & np.isfinite(ya)
    d = oriented_diff(xa[ok], ya[ok], higher_is_better)
    n = int(d.size)
    wins, losses = int((d > 0).sum()), int((d < 0).sum())
    ties = n - wins - losses
    med = float(np.median(d)) if n else math.nan
    frac = wins / n if n else math.nan
    nz = d[d != 0]
    if n == 0:
        return PairedResult(0, 0, 0, 0, med, frac, math.nan, math.nan, "none")
    if nz.size == 0:
        return PairedResult(n, wins, losses, ties, med, frac, 0.0, 1.0, "identical")
    tied_abs = np.unique(np.abs(nz)).size < nz.size
    if ties == 0 and not tied_abs and n <= EXACT_MAX_N:
        method, how = "exact", "exact"
    elif nz.size <= PERMUTATION_MAX_N:
        stat, p = signed_rank_permutation(nz)
        return PairedResult(n, wins, losses, ties, med, frac, stat, p, "permutation")
    else:
        method, how = "asymptotic", "normal"
    r = ss.wilcoxon(nz, zero_method="wilcox", alternative="two-sided", method=method)
    return PairedResult(n, wins, losses, ties, med, frac, float(r.statistic), float(min(1.0, r.pvalue)),
                        how)


def signed_rank_permutation(nz: np.ndarray) -> tuple[float, float]:
    """Exact two-sided p of the signed-rank statistic by enumerating all ``2**m`` sign patterns.

    ``nz``: the non-zero differences (``m <= PERMUTATION_MAX_N``). Ranks of ``|d|`` with ties
    averaged; ``p = min(1, 2 min(P(T+ <= t), P(T+ >= t)))``, the distribution SciPy's
    ``wilcoxon(..., method=PermutationMethod(n_resamples=inf))`` computes (same values), vectorised
    (a ``2**m x m`` 0/1 matrix times the ranks) instead of SciPy's ~1 s for m = 13.
    Returns ``(min(T+, T-), p)``.
    """
    from scipy.stats import rankdata

    m = nz.size
    r = rankdata(np.abs(nz))
    t = float(r[nz > 0].sum())
    bits = ((np.arange(2 ** m)[:, None] >> np.arange(m)) & 1).astype(np.float64)
    dist = bits @ r
    eps = 1e-9 * max(1.0, float(r.sum()))
    p = min(1.0, 2.0 * min(float((dist <= t + eps).mean()), float((dist >= t - eps).mean())))
    return min(t, float(r.sum()) - t), p


def holm(p: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (same order; NaN stays NaN and is not counted).

    Sorted ascending ``p_(1) <= ... <= p_(m)``: ``adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``.
    """
    arr = np.asarray(p, dtype=np.float64)
    out = np.full(arr.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(arr))
    m = idx.size
    if m == 0:
        return out.tolist()
    order = idx[np.argsort(arr[idx], kind="stable")]
    adj = np.minimum(1.0, (m - np.arange(m)) * arr[order])
    out[order] = np.maximum.accumulate(adj)
    return out.tolist()


def nemenyi_q(k: int, alpha: float = ALPHA) -> float:
    """Nemenyi's ``q_alpha`` for ``k`` methods: studentized range quantile (df = inf) / sqrt(2)."""
    from scipy.stats import studentized_range

    if k < 2:
        raise InputError(f"the Nemenyi test needs at least 2 methods (got {k})")
    return float(studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2))


def critical_difference(k: int, n_blocks: int, alpha: float = ALPHA) -> float:
    """Nemenyi critical difference of mean ranks: ``q_alpha sqrt(k (k + 1) / (6 N))``."""
    return nemenyi_q(k, alpha) * math.sqrt(k * (k + 1) / (6.0 * n_blocks))


def rank_rows(matrix: np.ndarray, higher_is_better: Sequence[bool]) -> np.ndarray:
    """Per-row ranks (1 = best, ties averaged) of a blocks x methods matrix."""
    from scipy.stats import rankdata

    m = np.asarray(matrix, dtype=np.float64)
    sign = np.where(np.asarray(higher_is_better, dtype=bool), -1.0, 1.0)[:, None]
    return rankdata(sign * m, axis=1, method="average")


@dataclass
class FriedmanResult:
    methods: list[str]
    mean_ranks: list[float]
    n_blocks: int
    n_dropped: int
    statistic: float
    p: float
    cd: float
    q_alpha: float
    alpha: float
    blocks: str = ""

    def ordered(self) -> list[tuple[str, float]]:
        return sorted(zip(self.methods, self.mean_ranks), key=lambda t: (t[1], t[0]))

    def cliques(self) -> list[tuple[int, int]]:
        """Maximal runs (start, end indices in :meth:`ordered`) within the critical difference."""
        ranks = [r for _, r in self.ordered()]
        out: list[tuple[int, int]] = []
        for i in range(len(ranks)):
            j = i
            while j + 1 < len(ranks) and ranks[j + 1] - ranks[i] < self.cd:
                j += 1
            if j > i and not any(a <= i and j <= b for a, b in out):
                out.append((i, j))
        return out


def friedman(matrix: np.ndarray, higher_is_better: Sequence[bool], methods: Sequence[str], *,
             alpha: float = ALPHA, blocks: str = "") -> FriedmanResult:
    """Mean ranks, Friedman test and Nemenyi CD of a blocks x methods matrix (NaN blocks dropped)."""
    from scipy.stats import friedmanchisquare

    m = np.asarray(matrix, dtype=np.float64)
    k = m.shape[1] if m.ndim == 2 else 0
    if k != len(methods):
        raise InputError("matrix columns and methods differ")
    keep = np.all(np.isfinite(m), axis=1)
    hib = np.asarray(higher_is_better, dtype=bool)[keep]
    m = m[keep]
    nb = int(m.shape[0])
    if nb == 0 or k < 2:
        raise FusionbenchError(f"ranking needs at least 2 methods and one complete block "
                               f"(got {k} methods, {nb} complete blocks)")
    ranks = rank_rows(m, hib)
    stat, p = math.nan, math.nan
    if k >= 3 and nb >= 2:
        if np.all(ranks == ranks[:, :1]):
            stat, p = 0.0, 1.0
        else:
            r = friedmanchisquare(*m.T * np.where(hib, 1.0, -1.0))
            stat, p = float(r.statistic), float(r.pvalue)
    return FriedmanResult(list(methods), ranks.mean(axis=0).tolist(), nb, int((~keep).sum()), stat, p,
                          critical_difference(k, nb, alpha), nemenyi_q(k, alpha), alpha, blocks)


def best_vs_second(best: Sequence[float], second: Sequence[float], higher_is_better: bool) -> PairedResult:
    """Paired Wilcoxon of the best row against the second of one table column (per-pair values)."""
    return paired_test(best, second, higher_is_better)


def significance_flags(columns: Sequence[tuple[Sequence[float], Sequence[float], bool] | None],
                       alpha: float = ALPHA) -> list[dict[str, Any] | None]:
    """For each column ``(best values, second values, higher_is_better)`` (aligned per pair, or
    None when the column has no best/second): ``{'p', 'p_holm', 'significant', 'n', ...}``.

    Holm runs across the table's columns. ``significant`` is True when the best row is
    significantly better than the second: Holm-adjusted p < ``alpha`` **and** the best wins more
    pairs than it loses (the ranking is by mean, the test on paired differences).
    """
    tests = [None if c is None else best_vs_second(*c) for c in columns]
    adj = holm([t.p if t is not None else math.nan for t in tests])
    out: list[dict[str, Any] | None] = []
    for t, ph in zip(tests, adj):
        if t is None:
            out.append(None)
            continue
        sig = bool(np.isfinite(ph) and ph < alpha and t.wins > t.losses)
        out.append({**asdict(t), "p_holm": ph, "significant": sig})
    return out


# ==========================================================================================
# From the store
# ==========================================================================================
def _metric_info(metric: str) -> tuple[bool, str]:
    from .errors import UnknownNameError
    from .registry import get_metric

    try:
        spec = get_metric(metric)
    except UnknownNameError:
        return True, metric
    return spec.higher_is_better, f"{spec.label or metric} {spec.arrow}"


def higher_is_better(metric: str) -> bool:
    return _metric_info(metric)[0]


def metric_label(metric: str) -> str:
    """``'label ↑'`` from the registry (the name when unregistered)."""
    return _metric_info(metric)[1]


def load_frame(store: ResultStore, dataset: str, methods: Sequence[str] | None = None,
               metrics: Sequence[str] | None = None, pairs: Sequence[str] | None = None) -> pd.DataFrame:
    """Long frame of the store's values (no per-source parts), with a one-line error when empty."""
    from .scores import read_scores

    available = store.methods(dataset)
    if not available:
        raise FusionbenchError(f"no results for dataset {dataset!r} in {store.root} "
                               f"(datasets there: {', '.join(store.datasets()) or 'none'}); "
                               "run `fusionbench run` first")
    if methods:
        missing = [m for m in methods if m not in available]
        if missing:
            raise InputError(f"no results of {', '.join(missing)} on {dataset!r} in {store.root} "
                             f"(methods there: {', '.join(available)})")
    frame = read_scores(store, dataset, methods or available, metrics, pairs, parts=False)
    if metrics:
        absent = [m for m in metrics if m not in set(frame["metric"])]
        if absent:
            raise InputError(f"metric(s) {', '.join(absent)} not scored on {dataset!r} in {store.root}")
    if frame.empty:
        raise FusionbenchError(f"no scores for dataset {dataset!r} in {store.root}")
    order: list[str] = list(metrics) if metrics else []
    for m in (methods or available):   # the run's column order (scores.csv header)
        try:
            head = (store.method_dir(dataset, m) / "scores.csv").read_text().split("\n", 1)[0].split(",")[1:]
        except OSError:
            continue
        order += [c for c in head if "." not in c and c not in order]
    frame.attrs["metric_order"] = order
    return frame


def frame_metrics(frame: pd.DataFrame) -> list[str]:
    """Metrics of a long frame in registry order (unregistered ones last, by name)."""
    from .registry import listing

    first = {m: i for i, m in enumerate(frame.attrs.get("metric_order", []))}
    order = {m: i for i, m in enumerate(listing("metrics"))}
    return sorted(set(frame["metric"]), key=lambda m: (first.get(m, len(first)), order.get(m, len(order)), m))


def frame_methods(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["method"]))


def values_of(frame: pd.DataFrame, method: str, metric: str) -> pd.Series:
    """``pair -> value`` of one method and metric (NaN kept)."""
    sub = frame[(frame["method"] == method) & (frame["metric"] == metric)]
    return sub.set_index("pair")["value"].astype(float)


@dataclass
class StatsRow:
    """One method x metric line of ``fusionbench stats``."""

    dataset: str
    method: str
    metric: str
    n: int
    n_nan: int
    mean: float
    std: float
    median: float
    ci_low: float
    ci_high: float
    n_pairs: int = 0                 # pairs of the dataset with a value of this metric (any method)
    against: str | None = None
    n_common: int | None = None
    wins: int | None = None
    losses: int | None = None
    ties: int | None = None
    median_diff: float | None = None
    win_fraction: float | None = None
    statistic: float | None = None
    p: float | None = None
    p_method: str | None = None
    p_holm: float | None = None
    significant: bool | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def compute_stats(frame: pd.DataFrame, dataset: str, *, against: str | None = None,
                  metrics: Sequence[str] | None = None, methods: Sequence[str] | None = None,
                  alpha: float = ALPHA, resamples: int = N_RESAMPLES, seed: int = SEED) -> list[StatsRow]:
    """Per method x metric statistics and, with ``against``, the paired comparison + Holm.

    A method with fewer pairs than the dataset's (or than the reference) is compared on the
    common pairs only; ``n_common`` and ``note`` say so.
    """
    metrics = list(metrics) if metrics else frame_metrics(frame)
    methods = list(methods) if methods else frame_methods(frame)
    if against is not None and against not in methods:
        have = frame_methods(frame)
        if against not in have:
            raise InputError(f"--against {against}: no results of it in the store "
                             f"(methods there: {', '.join(have)})")
        methods = [against, *methods]
    rows: list[StatsRow] = []
    for metric in metrics:
        hib = higher_is_better(metric)
        sub = frame[frame["metric"] == metric]
        n_pairs = int(sub.loc[sub["value"].notna(), "pair"].nunique())
        ref = values_of(frame, against, metric) if against else None
        for method in methods:
            v = values_of(frame, method, metric)
            if v.empty and method != against:
                continue
            d = describe(v.to_numpy(), resamples=resamples, seed=seed)
            row = StatsRow(dataset=dataset, method=method, metric=metric, n_pairs=n_pairs, **d)
            notes = []
            if d["n"] < n_pairs:
                notes.append(f"{d['n']} of {n_pairs} pairs")
            if d["n_nan"]:
                notes.append(f"{d['n_nan']} NaN")
            if ref is not None and method != against:
                common = v.index.intersection(ref.index)
                x, y = v.loc[common].to_numpy(), ref.loc[common].to_numpy()
                t = paired_test(x, y, hib)
                row.against, row.n_common = against, t.n
                row.wins, row.losses, row.ties = t.wins, t.losses, t.ties
                row.median_diff, row.win_fraction = t.median_diff, t.win_fraction
                row.statistic, row.p, row.p_method = t.statistic, t.p, t.p_method
                n_ref = int(np.isfinite(ref.to_numpy()).sum())
                if t.n < max(d["n"], n_ref):
                    notes.append(f"compared on {t.n} common pairs")
            elif ref is not None:
                row.against = against
                notes.append("reference")
            row.note = "; ".join(notes)
            rows.append(row)
    if against:
        comp = [r for r in rows if r.p is not None]
        for r, ph in zip(comp, holm([r.p for r in comp])):
            r.p_holm = ph
            r.significant = bool(np.isfinite(ph) and ph < alpha)
    return rows


def rank_blocks(frames: Mapping[str, pd.DataFrame], *, metrics: Sequence[str] | None = None,
                methods: Sequence[str] | None = None, by: str = "metrics"
                ) -> tuple[np.ndarray, list[bool], list[str], list[str]]:
    """Blocks x methods matrix for ranking: ``by='metrics'``: one block per dataset x metric (the
    means over the pairs every method has); ``by='pairs'``: one block per dataset x metric x pair.

    Returns ``(matrix, higher_is_better per block, block labels, methods)``; methods default to
    those present in every dataset.
    """
    if by not in ("metrics", "pairs"):
        raise InputError(f"rank blocks must be 'metrics' or 'pairs' (got {by!r})")
    if methods is None:
        sets = [frame_methods(f) for f in frames.values()]
        methods = [m for m in sets[0] if all(m in s for s in sets[1:])] if sets else []
    methods = list(methods)
    rows, hibs, labels = [], [], []
    for ds, f in frames.items():
        for metric in (metrics or frame_metrics(f)):
            sub = f[(f["metric"] == metric) & f["method"].isin(methods)]
            if sub.empty:
                continue
            table = sub.pivot_table(index="pair", columns="method", values="value", aggfunc="first",
                                    dropna=False).reindex(columns=methods)
            table = table[np.all(np.isfinite(table.to_numpy(dtype=float)), axis=1)]
            if table.empty:
                continue
            hib = higher_is_better(metric)
            if by == "metrics":
                rows.append(table.to_numpy(dtype=float).mean(axis=0))
                hibs.append(hib)
                labels.append(f"{ds}:{metric}")
            else:
                for p, vals in zip(table.index, table.to_numpy(dtype=float)):
                    rows.append(vals)
                    hibs.append(hib)
                    labels.append(f"{ds}:{metric}:{p}")
    mat = np.array(rows, dtype=float).reshape(len(rows), len(methods))
    return mat, hibs, labels, methods


def rank_analysis(frames: Mapping[str, pd.DataFrame], *, metrics: Sequence[str] | None = None,
                  methods: Sequence[str] | None = None, by: str = "metrics",
                  alpha: float = ALPHA) -> FriedmanResult:
    mat, hib, labels, methods = rank_blocks(frames, metrics=metrics, methods=methods, by=by)
    kind = ("dataset x metric means over common pairs" if by == "metrics" else
            "dataset x metric x pair values; blocks of one pair are not independent")
    what = f"{len(labels)} blocks = {kind} ({', '.join(frames)})"
    return friedman(mat, hib, methods, alpha=alpha, blocks=what)


# ==========================================================================================
# Critical-difference diagram
# ==========================================================================================
def cd_diagram(result: FriedmanResult, path: str | None = None, *, width: float = 3.5,
               title: str | None = None):
    """Demšar-style critical-difference diagram (matplotlib, Agg); saved when ``path`` is given
    (format from the extension: .png, .pdf, .svg). Returns the figure.

    The axis shows mean rank (1 = best, on the left); each method hangs from its rank; thick bars
    join methods whose mean ranks differ by less than the Nemenyi CD (not significantly
    different); the CD is drawn to scale above the axis.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots import apply_style, save_figure

    apply_style()
    items = result.ordered()
    k = len(items)
    lo, hi = 1, max(k, 2)
    half = (k + 1) // 2
    cliques = result.cliques()
    labels = [f"{name} ({r:.2f})" for name, r in items]
    char_in = 0.062                     # ~width of one 8 pt character, inches
    left_in = max((len(s) for s in labels[:half]), default=4) * char_in + 0.12
    right_in = max((len(s) for s in labels[half:]), default=4) * char_in + 0.12
    n_rows = max(half, k - half)
    height = 0.75 + 0.16 * max(len(cliques), 1) + 0.17 * n_rows
    fig = plt.figure(figsize=(width, height))
    lf, rf = min(0.45, left_in / width), min(0.45, right_in / width)
    ax = fig.add_axes((lf, 0.02, 1 - lf - rf, 0.96))
    ax.axis("off")
    ax.set_xlim(lo - 0.15, hi + 0.15)
    top = 0.0
    ax.plot([lo, hi], [top, top], color="k", lw=0.8)
    for t in range(lo, hi + 1):
        ax.plot([t, t], [top, top + 0.12], color="k", lw=0.8)
        ax.text(t, top + 0.18, str(t), ha="center", va="bottom", fontsize=8)
    cd = result.cd
    if np.isfinite(cd) and cd <= hi - lo:
        y = top + 0.85
        ax.plot([lo, lo + cd], [y, y], color="k", lw=1.0)
        for xx in (lo, lo + cd):
            ax.plot([xx, xx], [y - 0.08, y + 0.08], color="k", lw=1.0)
        ax.text(lo + cd / 2, y + 0.1, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=8)
    elif np.isfinite(cd):
        ax.text((lo + hi) / 2, top + 0.85, f"CD = {cd:.2f} (wider than the rank range)", ha="center",
                va="bottom", fontsize=8)
    for j, (a, b) in enumerate(cliques):   # bars just under the axis
        y = top - 0.3 - 0.25 * j
        ax.plot([items[a][1] - 0.05, items[b][1] + 0.05], [y, y], color="k", lw=2.2,
                solid_capstyle="round")
    base = top - 0.3 - 0.25 * max(len(cliques), 1) - 0.15
    for i, ((name, r), text) in enumerate(zip(items, labels)):
        left = i < half
        row = i if left else k - 1 - i
        y = base - 0.4 * row
        xend = lo - 0.15 if left else hi + 0.15
        ax.plot([r, r, xend], [top, y, y], color="k", lw=0.7, clip_on=False)
        ax.text(xend + (-0.05 if left else 0.05), y, text, fontsize=8, ha="right" if left else "left",
                va="center", clip_on=False)
    ax.set_ylim(base - 0.4 * (n_rows - 1) - 0.25, top + 1.25)
    if title:
        ax.set_title(title, fontsize=8)
    if path:
        save_figure(fig, path)
    return fig


# ==========================================================================================
# Text / CSV / JSON
# ==========================================================================================
def _f(v: float | None, nd: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.{nd}f}"


def _p(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.2e}" if v < 1e-3 else f"{v:.4f}"


def render_text(rows: Sequence[StatsRow], ranking: FriedmanResult | None = None, *,
                against: str | None = None, alpha: float = ALPHA) -> str:
    from tabulate import tabulate

    out: list[str] = []
    for ds in dict.fromkeys(r.dataset for r in rows):
        for metric in dict.fromkeys(r.metric for r in rows if r.dataset == ds):
            sub = [r for r in rows if r.dataset == ds and r.metric == metric]
            head = ["method", "n", "mean", "std", "median", f"{int(LEVEL * 100)}% CI"]
            if against:
                head += ["W/L/T", "med Δ", "win %", "p", "p_holm", ""]
            head.append("note")
            body = []
            for r in sub:
                line = [r.method, r.n, _f(r.mean), _f(r.std), _f(r.median),
                        f"[{_f(r.ci_low)}, {_f(r.ci_high)}]"]
                if against:
                    if r.p is None and r.wins is None:
                        line += ["", "", "", "", "", ""]
                    else:
                        line += [f"{r.wins}/{r.losses}/{r.ties}", _f(r.median_diff),
                                 _f(100 * r.win_fraction if r.win_fraction is not None and not math.isnan(r.win_fraction) else None, 0),
                                 _p(r.p) + (f" ({r.p_method})" if r.p_method not in (None, "exact") else ""),
                                 _p(r.p_holm), "*" if r.significant else ""]
                line.append(r.note)
                body.append(line)
            out.append(f"{ds} — {metric_label(metric)}  ({sub[0].n_pairs} pairs)")
            out.append(tabulate(body, headers=head, tablefmt="simple", disable_numparse=True))
            out.append("")
    out.append(f"CI: {int(LEVEL * 100)}% percentile bootstrap of the mean ({N_RESAMPLES} resamples, seed {SEED}); "
               "std: sample (ddof=1).")
    if against:
        out.append(f"Against {against}: W/L/T = pairs won/lost/tied by the method (direction of each metric); "
                   "med Δ = median paired difference, positive = better than the reference; two-sided Wilcoxon "
                   "signed-rank (exact without ties/zeros, zeros discarded), Holm-adjusted over all "
                   f"{sum(r.p is not None for r in rows)} comparisons; * p_holm < {alpha}. "
                   "Rows with fewer pairs are compared on the common pairs only (see note).")
    if ranking is not None:
        out += ["", render_ranking(ranking)]
    return "\n".join(out)


def render_ranking(res: FriedmanResult) -> str:
    from tabulate import tabulate

    body = [[i + 1, m, f"{r:.3f}"] for i, (m, r) in enumerate(res.ordered())]
    lines = [f"Mean rank (1 = best) over {res.blocks}" + (f"; {res.n_dropped} incomplete blocks dropped"
                                                          if res.n_dropped else ""),
             tabulate(body, headers=["#", "method", "mean rank"], tablefmt="simple", disable_numparse=True)]
    if math.isnan(res.p):
        lines.append("Friedman test: n/a (needs >= 3 methods and >= 2 blocks)")
    else:
        lines.append(f"Friedman chi2 = {res.statistic:.3f}, p = {_p(res.p)} "
                     f"(k = {len(res.methods)}, N = {res.n_blocks})")
    groups = ["{" + ", ".join(m for m, _ in res.ordered()[a:b + 1]) + "}" for a, b in res.cliques()]
    lines.append(f"Nemenyi CD (alpha = {res.alpha}) = {res.cd:.3f} (q = {res.q_alpha:.3f}); "
                 f"not significantly different: {', '.join(groups) if groups else 'none'}")
    return "\n".join(lines)


def render_csv(rows: Sequence[StatsRow]) -> str:
    import csv
    import io

    buf = io.StringIO()
    dicts = [r.as_dict() for r in rows]
    w = csv.DictWriter(buf, fieldnames=list(dicts[0]) if dicts else ["method"], lineterminator="\n")
    w.writeheader()
    for d in dicts:
        w.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v) for k, v in d.items()})
    return buf.getvalue()


def render_json(rows: Sequence[StatsRow], ranking: FriedmanResult | None = None) -> str:
    import json

    return json.dumps([r.as_dict() for r in rows], indent=1, ensure_ascii=False)


@dataclass
class StatsReport:
    """Everything ``stats`` and ``report`` show for a set of datasets."""

    rows: list[StatsRow]
    ranking: FriedmanResult | None
    against: str | None
    frames: dict[str, Any] = field(default_factory=dict)


def stats_report(store: ResultStore, datasets: Sequence[str], *, against: str | None = None,
                 methods: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
                 pairs: Sequence[str] | None = None, rank_by: str = "metrics",
                 alpha: float = ALPHA) -> StatsReport:
    frames = {}
    rows: list[StatsRow] = []
    for ds in datasets:
        want = list(methods) if methods else None
        if want and against and against not in want:
            want = [against, *want]
        f = load_frame(store, ds, want, metrics, pairs)
        frames[ds] = f
        rows += compute_stats(f, ds, against=against, metrics=metrics, methods=want, alpha=alpha)
    if against:   # Holm over every comparison of the whole output
        comp = [r for r in rows if r.p is not None]
        for r, ph in zip(comp, holm([r.p for r in comp])):
            r.p_holm, r.significant = ph, bool(np.isfinite(ph) and ph < alpha)
    ranking = None
    try:
        ranking = rank_analysis(frames, metrics=metrics, methods=methods, by=rank_by, alpha=alpha)
    except FusionbenchError:
        ranking = None
    return StatsReport(rows, ranking, against, frames)


# ==========================================================================================
# `table --significance`: is the best of a column significantly better than the second?
# Works on the table model (fusionbench.render.Grid): a dagger flag on the best cell and footnotes.
# ==========================================================================================
DAGGER = "†"


def _best_second_flags(groups: Sequence[Sequence[int]], n_cols: int, mark: Callable[[int, int], str],
                       per_pair: Callable[[int, int], dict[str, float]], higher: Callable[[int], bool],
                       alpha: float) -> dict[tuple[int, int], dict[str, Any]]:
    """``{(best row, column): flag}`` for every group x column with one best and a second row."""
    cells, inputs = [], []
    for g in groups:
        for c in range(n_cols):
            best = [r for r in g if mark(r, c) == "best"]
            second = [r for r in g if mark(r, c) == "second"]
            if len(best) != 1 or not second:
                continue
            a, b = per_pair(best[0], c), per_pair(second[0], c)
            common = [p for p in a if p in b]
            cells.append((best[0], c, second[0]))
            inputs.append((np.array([a[p] for p in common], dtype=float),
                           np.array([b[p] for p in common], dtype=float), higher(c)))
    return {(r, c): {**fl, "second_row": s} for (r, c, s), fl in zip(cells, significance_flags(inputs, alpha))}


def _footnotes(flags: dict[tuple[int, int], dict[str, Any]], row_name: Callable[[int], str],
               col_name: Callable[[int], str], alpha: float) -> list[str]:
    if not flags:
        return []
    out = [f"{DAGGER}: best not significantly better than the second (two-sided Wilcoxon signed-rank on "
           f"the common pairs, Holm over the table's {len(flags)} best-vs-second comparisons, alpha = "
           f"{alpha}; the best must also win more pairs than it loses):"]
    for (r, c), fl in sorted(flags.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        verdict = "significant" if fl["significant"] else f"not significant {DAGGER}"
        out.append(f"{col_name(c)}: {row_name(r)} vs {row_name(fl['second_row'])} on {fl['n']} common "
                   f"pairs, {fl['wins']}/{fl['losses']}/{fl['ties']} W/L/T, p = {_p(fl['p'])}, "
                   f"p_holm = {_p(fl['p_holm'])}: {verdict}")
    return out


def _dagger(cell: Any) -> None:
    cell.flag = f"{cell.flag}, {DAGGER}" if cell.flag else DAGGER


def paper_flags(t: Any, alpha: float = ALPHA) -> dict[tuple[int, int], dict[str, Any]]:
    """Best-vs-second flags of a :class:`fusionbench.tables.PaperTableData` (per group, its marks)."""
    marks = t.marks()
    metric_of = [m for _, m in t.columns]

    def per_pair(r: int, c: int) -> dict[str, float]:
        return {p: v[metric_of[c]] for p, v in t.rows[r].per_pair.items() if metric_of[c] in v}

    return _best_second_flags(t.groups(), len(t.columns), lambda r, c: marks[r][c], per_pair, t.higher, alpha)


def mark_paper_grid(grid: Any, t: Any, alpha: float = ALPHA) -> Any:
    """Dagger the non-significant best cells of ``paper_grid(t)`` and add the footnotes (in place)."""
    flags = paper_flags(t, alpha)
    col_index = {}
    for c in range(len(t.columns)):
        col_index[c] = next(i for i, col in enumerate(grid.columns) if col.key == t.label(c))
    for (r, c), fl in flags.items():
        if not fl["significant"]:
            _dagger(grid.rows[r][col_index[c]])
    grid.footnotes += _footnotes(flags, lambda r: t.rows[r].row.name, t.label, alpha)
    return grid


def mark_paper_cells(cells: list[dict[str, Any]], t: Any, alpha: float = ALPHA) -> list[dict[str, Any]]:
    """``--format json`` of a paper table: the best cells get ``vs_second``, ``p``, ``p_holm``, ``significant``."""
    for (r, c), fl in paper_flags(t, alpha).items():
        for d in cells:
            if d.get("row") == t.rows[r].row.name and d.get("metric_id") == t.columns[c][1]:
                d.update({"vs_second": t.rows[fl["second_row"]].row.name, "p": fl["p"],
                          "p_holm": fl["p_holm"], "significant": fl["significant"]})
    return cells


def mark_summary_grid(grid: Any, store: ResultStore, dataset: str, alpha: float = ALPHA) -> Any:
    """Dagger the non-significant best cells of a ``summary_table`` grid (cells carry
    ``meta = {'method', 'metric'}``; per-pair values read from the store) and add the footnotes."""
    from .scores import read_values

    value_cols = sorted({i for row in grid.rows for i, cell in enumerate(row) if "metric" in cell.meta})
    methods = [next((cell.meta["method"] for cell in row if "method" in cell.meta), None) for row in grid.rows]
    metrics = [next(row[i].meta["metric"] for row in grid.rows if "metric" in row[i].meta) for i in value_cols]
    cache: dict[int, dict[str, dict[str, float]]] = {}

    def per_pair(r: int, c: int) -> dict[str, float]:
        if r not in cache:
            cache[r] = read_values(store, dataset, methods[r], metrics, parts=False) if methods[r] else {}
        return {p: v[metrics[c]] for p, v in cache[r].items() if metrics[c] in v}

    flags = _best_second_flags([list(range(len(grid.rows)))], len(value_cols),
                               lambda r, c: grid.rows[r][value_cols[c]].mark, per_pair,
                               lambda c: higher_is_better(metrics[c]), alpha)
    for (r, c), fl in flags.items():
        if not fl["significant"]:
            _dagger(grid.rows[r][value_cols[c]])
    grid.footnotes += _footnotes(flags, lambda r: grid.rows[r][0].text or str(methods[r]),
                                 lambda c: grid.columns[value_cols[c]].label, alpha)
    return grid


def render_paper_significance(t: Any, fmt: str, alpha: float = ALPHA) -> str:
    """A paper table rendered with the significance marks (``table --table N --significance``)."""
    import json

    from .render import render
    from .tables import paper_cells, paper_grid

    if fmt == "json":
        return json.dumps(mark_paper_cells(paper_cells(t), t, alpha), indent=1, ensure_ascii=False)
    return render(mark_paper_grid(paper_grid(t), t, alpha), fmt)
