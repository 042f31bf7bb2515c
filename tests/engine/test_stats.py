"""Statistics against hand-computed cases: Wilcoxon, bootstrap, Holm, Friedman, Nemenyi; `stats` CLI."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from fusionbench import stats as st
from fusionbench.cli import main


# -- Wilcoxon -------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [4, 6, 10, 21])
def test_winning_every_pair_gives_exact_p_2_over_2_to_the_n(n):
    rng = np.random.default_rng(n)
    y = rng.uniform(0, 1, n)
    x = y + rng.uniform(0.01, 0.5, n)          # distinct differences, all positive
    t = st.paired_test(x, y, higher_is_better=True)
    assert (t.wins, t.losses, t.ties, t.n) == (n, 0, 0, n)
    assert t.p_method == "exact"
    assert t.p == pytest.approx(2 / 2 ** n, rel=1e-12)
    assert t.win_fraction == 1.0 and t.median_diff > 0
    lose = st.paired_test(y, x, higher_is_better=True)   # losing every pair: same p, no wins
    assert (lose.wins, lose.losses) == (0, n) and lose.p == pytest.approx(t.p) and lose.median_diff < 0


def test_direction_lower_is_better_counts_smaller_values_as_wins():
    x, y = np.array([1.0, 2.0, 3.0, 4.0, 5.5]), np.array([2.0, 4.0, 6.5, 8.0, 10.0])  # d = 1, 2, 3.5, 4, 4.5
    t = st.paired_test(x, y, higher_is_better=False)
    assert t.wins == 5 and t.median_diff == pytest.approx(3.5) and t.p == pytest.approx(2 / 32)


def test_identical_methods_give_p_one_and_coinciding_cis():
    x = np.array([0.3, 0.5, 0.2, 0.9, 0.4, 0.7])
    t = st.paired_test(x, x.copy())
    assert (t.p, t.p_method, t.ties, t.wins, t.losses, t.median_diff) == (1.0, "identical", 6, 0, 0, 0.0)
    a, b = st.describe(x), st.describe(x.copy())
    assert (a["ci_low"], a["ci_high"]) == (b["ci_low"], b["ci_high"])
    # through the store-level code: two identical methods in one frame
    rows = [(m, f"p{i}", "en", v) for m in ("a", "b") for i, v in enumerate(x)]
    frame = pd.DataFrame(rows, columns=["method", "pair", "metric", "value"])
    out = {r.method: r for r in st.compute_stats(frame, "d", against="a")}
    assert out["b"].p == 1.0 and out["b"].p_holm == 1.0 and out["b"].significant is False
    assert (out["a"].ci_low, out["a"].ci_high) == (out["b"].ci_low, out["b"].ci_high)


def test_zero_differences_are_discarded_and_ties_use_the_permutation_distribution():
    y = np.zeros(6)
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])   # one zero difference: 5 non-zero left, all won
    t = st.paired_test(x, y)
    assert (t.wins, t.ties, t.n) == (5, 1, 6)
    assert t.p_method == "permutation" and t.p == pytest.approx(2 / 2 ** 5)
    # tied |d| among 4 wins: the permutation distribution conditional on ties: 2 * 1/16
    t2 = st.paired_test(np.array([1.0, 1.0, 2.0, 3.0]), np.zeros(4))
    assert t2.p_method == "permutation" and t2.p == pytest.approx(2 / 16)
    # the enumeration equals SciPy's exhaustive permutation test on tied data
    from scipy import stats as ss

    d = np.array([3.0, -1.0, 2.0, 2.0, 5.0, -2.0, 4.0, 1.0])
    t4 = st.paired_test(d, np.zeros(8))
    ref = ss.wilcoxon(d, method=ss.PermutationMethod(n_resamples=np.inf))
    assert t4.p_method == "permutation" and t4.p == pytest.approx(ref.pvalue, rel=1e-12)
    assert t4.statistic == pytest.approx(ref.statistic)
    # many pairs with ties: normal approximation
    t3 = st.paired_test(np.r_[np.ones(10), np.arange(1, 11.0)], np.zeros(20))
    assert t3.p_method == "normal" and 0 < t3.p < 1e-3


def test_nan_pairs_are_dropped_from_the_paired_test():
    x = np.array([1.0, 2.0, np.nan, 4.0])
    y = np.array([0.5, 1.0, 0.0, np.nan])
    t = st.paired_test(x, y)
    assert t.n == 2 and t.wins == 2 and t.p == pytest.approx(2 / 4)


# -- bootstrap ------------------------------------------------------------------------------
def test_bootstrap_ci_is_deterministic_and_matches_a_hand_case():
    x = np.random.default_rng(1).normal(5, 2, 21)
    a, b = st.bootstrap_ci(x), st.bootstrap_ci(x)
    assert a == b                                        # fixed seed: identical
    assert st.bootstrap_ci(x, seed=7) != a               # the seed matters
    assert a[0] < x.mean() < a[1]
    # two values {0, 1}: resampled means are 0, 0.5, 1 with probability 1/4, 1/2, 1/4,
    # so the 2.5 and 97.5 percentiles are exactly 0 and 1
    assert st.bootstrap_ci([0.0, 1.0]) == (0.0, 1.0)
    assert st.bootstrap_ci([3.0]) == (3.0, 3.0)
    assert all(math.isnan(v) for v in st.bootstrap_ci([np.nan]))
    # wider spread -> wider interval; the half-width is close to 1.96 sd/sqrt(n) for normal data
    lo, hi = st.bootstrap_ci(x)
    assert (hi - lo) / 2 == pytest.approx(1.96 * x.std(ddof=0) / math.sqrt(x.size), rel=0.15)


def test_describe_counts_nan_and_uses_sample_std():
    d = st.describe([1.0, 2.0, 3.0, np.nan])
    assert d["n"] == 3 and d["n_nan"] == 1 and d["mean"] == 2.0 and d["median"] == 2.0
    assert d["std"] == pytest.approx(1.0)


# -- Holm -----------------------------------------------------------------------------------
def test_holm_on_a_known_vector():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.06
    assert st.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    out = st.holm([0.2, float("nan"), 0.9])
    assert out[0] == pytest.approx(0.4) and math.isnan(out[1]) and out[2] == pytest.approx(0.9)
    assert st.holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])


# -- Friedman / Nemenyi -----------------------------------------------------------------------
def test_friedman_against_hand_computation():
    # 3 blocks rank (A, B, C) = (1, 2, 3), one block (2, 1, 3): rank sums 5, 7, 12
    # chi2 = 12 / (N k (k+1)) * sum R^2 - 3 N (k+1) = 0.25 * 218 - 48 = 6.5, p = exp(-6.5 / 2)
    m = np.array([[3, 2, 1], [3, 2, 1], [3, 2, 1], [2, 3, 1]], dtype=float)   # higher is better
    r = st.friedman(m, [True] * 4, ["A", "B", "C"])
    assert r.mean_ranks == pytest.approx([1.25, 1.75, 3.0])
    assert r.statistic == pytest.approx(6.5) and r.p == pytest.approx(math.exp(-3.25))
    assert r.cd == pytest.approx(st.nemenyi_q(3) * math.sqrt(3 * 4 / (6 * 4)))
    # the same values with lower-is-better blocks reverse the ranks
    rl = st.friedman(m, [False] * 4, ["A", "B", "C"])
    assert rl.mean_ranks == pytest.approx([2.75, 2.25, 1.0])
    # an incomplete block is dropped and counted
    m2 = np.vstack([m, [np.nan, 1, 2]])
    assert st.friedman(m2, [True] * 5, ["A", "B", "C"]).n_dropped == 1


def test_nemenyi_critical_values_match_demsar_table():
    for k, q in st.DEMSAR_Q05.items():
        assert st.nemenyi_q(k, 0.05) == pytest.approx(q, abs=1.5e-3), k
    assert st.nemenyi_q(2, 0.10) == pytest.approx(1.645, abs=1e-3)      # Demšar Table 5(b)
    assert st.critical_difference(5, 4) == pytest.approx(st.nemenyi_q(5) * math.sqrt(30 / 24))


def test_cliques_join_methods_within_the_cd():
    r = st.FriedmanResult(["a", "b", "c", "d"], [1.0, 1.5, 3.0, 3.2], 10, 0, 0.0, 1.0, 1.0, 2.569, 0.05)
    assert r.cliques() == [(0, 1), (2, 3)]


# -- significance of best vs second (table --significance) -------------------------------------
def test_significance_flags_with_holm_across_columns():
    rng = np.random.default_rng(3)
    y = rng.uniform(0, 1, 8)
    clear = (y + rng.uniform(0.1, 0.2, 8), y, True)         # best wins all 8: p = 2/256
    same = (y, y.copy(), True)
    flags = st.significance_flags([clear, same, None])
    assert flags[2] is None
    assert flags[0]["p"] == pytest.approx(2 / 256) and flags[0]["p_holm"] == pytest.approx(2 * 2 / 256)
    assert flags[0]["significant"] is True
    assert flags[1]["p"] == 1.0 and flags[1]["significant"] is False


# -- store-level: partial rows, CLI ----------------------------------------------------------------
def test_partial_rows_are_compared_on_common_pairs_and_say_so():
    rows = [("ref", f"p{i}", "en", float(i)) for i in range(6)]
    rows += [("part", f"p{i}", "en", float(i) + 1.0 + 0.1 * i) for i in range(4)]
    frame = pd.DataFrame(rows, columns=["method", "pair", "metric", "value"])
    out = {r.method: r for r in st.compute_stats(frame, "d", against="ref")}
    part = out["part"]
    assert part.n == 4 and part.n_common == 4 and part.n_pairs == 6 and part.wins == 4
    assert "4 of 6 pairs" in part.note and "compared on 4 common pairs" in part.note
    assert part.p == pytest.approx(2 / 16)
    assert out["ref"].note == "reference" and out["ref"].p is None


def test_stats_cli_json_fields(synthetic_store, capsys):
    assert main(["stats", "--dataset", "synthetic", "--against", "max", "--results", str(synthetic_store),
                 "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    need = {"method", "metric", "n", "mean", "ci_low", "ci_high", "against", "wins", "losses", "ties",
            "p", "p_holm"}
    assert rows and all(need <= set(r) for r in rows)
    avg = [r for r in rows if r["method"] == "average"]
    assert all(r["against"] == "max" and r["wins"] + r["losses"] + r["ties"] == r["n_common"] == 4 for r in avg)
    assert all(r["ci_low"] <= r["mean"] <= r["ci_high"] for r in rows)
    # exact p of 4 pairs takes values k/8; Holm never lowers a p-value
    assert all(r["p_holm"] >= r["p"] and (r["p"] * 8) == pytest.approx(round(r["p"] * 8)) for r in avg)


def test_stats_cli_text_csv_and_cd(synthetic_store, tmp_path, capsys):
    cd = tmp_path / "cd.svg"
    assert main(["stats", "--dataset", "synthetic", "--metrics", "en,sd", "--results", str(synthetic_store),
                 "--cd", str(cd)]) == 0
    out = capsys.readouterr().out
    assert "95% CI" in out and "Mean rank" in out and "Nemenyi CD" in out and cd.read_text().startswith("<?xml")
    assert main(["stats", "--dataset", "synthetic", "--results", str(synthetic_store), "--format", "csv"]) == 0
    df = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert set(df["method"]) == {"average", "max"} and {"mean", "ci_low", "ci_high"} <= set(df.columns)


def test_stats_cli_errors_are_one_line(synthetic_store, capsys):
    assert main(["stats", "--dataset", "synthetic", "--against", "nope", "--results", str(synthetic_store)]) == 2
    assert main(["stats", "--dataset", "tno_missing", "--results", str(synthetic_store)]) == 1
    assert main(["stats", "--dataset", "synthetic", "--metrics", "vif", "--results", str(synthetic_store)]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 3 and "Traceback" not in err


# -- table --significance ---------------------------------------------------------------------
def _table4(n: int = 21):
    """Table 4 filled with made-up per-pair values: within each group the last row is best.

    NMI: the best row beats the second on every pair (significant); Q_Y: the best mean is higher
    but the per-pair differences alternate in sign (not significant); other columns: constant offsets.
    """
    from fusionbench.paper import load_paper
    from fusionbench.tables import PaperTableData, RowResult

    paper = load_paper("ssl_waeie")
    t = paper.table(4)
    cols = paper.resolve_columns(None)
    rng = np.random.default_rng(0)
    base = rng.uniform(0.4, 0.6, n)
    alt = np.where(np.arange(n) % 2 == 0, 1.0, -0.9) * rng.uniform(0.05, 0.06, n)
    rows = []
    for i, row in enumerate(t.rows):
        in_group = [r for r in t.rows if r.group == row.group].index(row)
        per = {}
        for j in range(n):
            vals = {"nmi": base[j] + 0.05 * in_group + 0.001 * j * in_group,
                    "qy": base[j] + (alt[j] if in_group == 3 or (row.group == "Loss" and in_group == 2) else 0.0),
                    "qabf_liu": 0.5 + 0.01 * in_group, "ifc": 2.0 + 0.1 * in_group + 0.001 * j}
            per[f"{j:02d}"] = vals
        means = [float(np.mean([per[p][m] for p in per])) for _, m in cols]
        rows.append(RowResult(row=row, source="ours", store_method=row.method, per_pair=per, means=means,
                              stds=[None] * 4, counts=[n] * 4))
    return PaperTableData(paper=paper, table=t, dataset="tno", columns=cols, rows=rows)


def test_table_significance_marks_paper_table_by_group():
    from fusionbench.render import render
    from fusionbench.tables import paper_grid

    res = _table4()
    flags = st.paper_flags(res)
    # 2 groups x 4 columns, one best and one second each
    assert len(flags) == 8
    nmi = [fl for (r, c), fl in flags.items() if c == 0]
    qy = [fl for (r, c), fl in flags.items() if c == 1]
    assert all(fl["significant"] and fl["wins"] == 21 for fl in nmi)
    assert all(not fl["significant"] for fl in qy)
    n_dagger = sum(not fl["significant"] for fl in flags.values())
    grid = st.mark_paper_grid(paper_grid(res), res)
    value_cols = [i for i, col in enumerate(grid.columns) if col.key in {res.label(c) for c in range(4)}]
    for (r, c), fl in flags.items():
        cell = grid.rows[r][value_cols[c]]
        assert cell.mark == "best" and (st.DAGGER in cell.flag) == (not fl["significant"]), (r, c)
    assert sum(st.DAGGER in cell.flag for row in grid.rows for cell in row) == n_dagger
    md = st.render_paper_significance(res, "md")
    body = [ln for ln in md.split("\n") if ln.startswith("|")][2:]
    assert len(body) == 7 and sum(ln.count(st.DAGGER) for ln in body) == n_dagger
    assert "not significantly better than the second" in md
    tex = st.render_paper_significance(res, "latex")
    assert tex.count(r"$\dagger$") >= n_dagger and tex.count("{") == tex.count("}")
    assert render(paper_grid(res), "md").count(st.DAGGER) == 0          # off unless asked
    cells = json.loads(st.render_paper_significance(res, "json"))
    marked = [c for c in cells if "significant" in c]
    assert len(marked) == 8 and all(c["p_holm"] >= c["p"] for c in marked)


def test_table_cli_significance_on_summary(synthetic_store, capsys):
    assert main(["table", "--dataset", "synthetic", "--results", str(synthetic_store), "--significance",
                 "--format", "md"]) == 0
    out = capsys.readouterr().out
    # 4 pairs: the smallest exact p is 2/16 = 0.125, so no best can be significant: every best has a dagger
    rows = [ln for ln in out.split("\n") if ln.startswith("|")][2:]
    bold = sum(ln.count("**") // 2 for ln in rows)
    assert bold >= 1 and sum(ln.count(st.DAGGER) for ln in rows) == bold
    assert "not significant" in out and "Holm" in out
    assert main(["table", "--dataset", "synthetic", "--results", str(synthetic_store), "--significance",
                 "--format", "csv"]) == 2
