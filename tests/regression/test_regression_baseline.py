"""CI regression check: every committed baseline value still holds.

``tests/regression/baseline.csv`` covers every registered metric on the embedded synthetic set
and on a few TNO pairs (when the data root is present) for every deterministic method; it was
written by ``fusionbench check --init`` (command in ``tests/regression/README.md``). Any
unintended change to a metric or method fails here with the diff printed.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from fusionbench.check import read_baseline, write_baseline
from fusionbench.cli import main
from fusionbench.registry import METRICS, discover

BASELINE = Path(__file__).with_name("baseline.csv")
_SHARED = Path(__file__).resolve().parents[2].parent / "shared"
DATA = os.environ.get("FUSIONBENCH_DATA") or (str(_SHARED / "data") if (_SHARED / "data" / "tno").is_dir() else None)


def test_committed_baseline_holds(capsys):
    """Recomputes every baseline value; TNO rows are skipped (said in the output) without data."""
    code = main(["check", "--baseline", str(BASELINE), *(["--data-root", DATA] if DATA else [])])
    out = capsys.readouterr().out
    print(out)
    assert code == 0, out
    assert " 0 failed" in out


def test_baseline_covers_every_metric_and_deterministic_method():
    from fusionbench.registry import METHODS

    discover()
    df = read_baseline(BASELINE)
    synth = df[df.dataset == "synthetic"]
    base = {m if m in METRICS else m.rsplit(".", 1)[0] for m in synth.metric}
    assert set(METRICS) <= base
    wanted = {n for n, s in METHODS.items() if s.deterministic and not s.any_variant
              and s.fn.__module__.startswith("fusionbench.methods.")}  # not test doubles
    assert wanted <= {m.split(":")[0] for m in synth.method}


def _scaled(fn, factor):
    def wrapper(*args, **params):
        v = fn(*args, **params)
        return {k: x * factor for k, x in v.items()} if isinstance(v, dict) else v * factor
    return wrapper


@pytest.mark.parametrize("metric", sorted({m if m in METRICS else m.rsplit(".", 1)[0]
                                           for m in pd.read_csv(BASELINE).metric}) if BASELINE.exists() else [])
def test_a_1e4_change_in_any_metric_fails_the_check(metric, tmp_path, monkeypatch, capsys):
    discover()
    df = read_baseline(BASELINE)
    rows = df[(df.dataset == "synthetic") & (df.method == "average")
              & (df.metric.map(lambda m: (m if m in METRICS else m.rsplit(".", 1)[0]) == metric))]
    rows = rows[rows.value.abs() > 1e-6]  # a relative change of 0 is no change
    assert len(rows), f"no synthetic/average rows for {metric}"
    sub = tmp_path / "sub.csv"
    write_baseline(sub, rows)
    assert main(["check", "--baseline", str(sub)]) == 0
    capsys.readouterr()
    monkeypatch.setattr(METRICS[metric], "fn", _scaled(METRICS[metric].fn, 1 + 1e-4))
    code = main(["check", "--baseline", str(sub)])
    out = capsys.readouterr().out
    assert code == 1 and "MOVED" in out and metric in out
    assert f"{len(rows)} failed" in out
