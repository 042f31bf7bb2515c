"""The store survives SIGKILL at any moment and concurrent runs; runs are deterministic.

A real ``fusionbench run`` process (the CLI entry point, with one slow test method registered
before it starts) is killed with SIGKILL at several points; afterwards every file the store
reads is complete and consistent, and the next run finishes the work, re-fusing only the pairs
that had no finished record.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fusionbench.imageio import read_image
from fusionbench.store import sha256_file

SLOW = textwrap.dedent('''
    import os, time
    from fusionbench.registry import register_method

    @register_method("_t_slow", description="slow test double")
    def _t_slow(ir, vi):
        with open(os.environ["SLOW_LOG"], "a") as fh:
            fh.write(f"{ir.shape}\\n")
        time.sleep(float(os.environ.get("SLOW_SECONDS", "0.8")))
        return (ir + vi) / 2
''')


def _cmd(tmp: Path, store: Path) -> list[str]:
    (tmp / "slowmod.py").write_text(SLOW)
    code = (f"import sys; sys.path.insert(0, {str(tmp)!r}); import slowmod; from fusionbench.cli import main; "
            f"sys.exit(main(['run', '--methods', '_t_slow', '--dataset', 'synthetic', '--metrics', 'en,sd', "
            f"'--results', {str(store)!r}, '--no-progress']))")
    return [sys.executable, "-c", code]


def _env(log: Path, seconds: float = 0.8) -> dict:
    return {**os.environ, "SLOW_LOG": str(log), "SLOW_SECONDS": str(seconds)}


def _finished(store: Path) -> set[str]:
    recs = store / "synthetic" / "_t_slow" / "records"
    return {p.stem for p in recs.glob("*.json")} if recs.is_dir() else set()


def assert_store_consistent(store: Path) -> None:
    """Every non-temporary file parses; every record's PNG digest matches its PNG."""
    for p in store.rglob("*"):
        if p.is_dir():
            continue
        if p.name.startswith(".") and p.name.endswith(".tmp"):
            continue  # a killed writer's temp file: never read, swept later
        if p.name == ".lock":
            continue  # the method folder's record lock (empty)
        if p.suffix == ".png":
            assert read_image(p).ndim == 2
        elif p.suffix == ".json":
            data = json.loads(p.read_text())
            if p.parent.name == "records":
                png = p.parent.parent / "fused" / f"{p.stem}.png"
                assert sha256_file(png) == data["fused_sha256"], p
        elif p.suffix == ".csv":
            pd.read_csv(p)
        else:
            raise AssertionError(f"unexpected file {p}")


def test_sigkill_at_several_points_then_resume(tmp_path):
    store, log = tmp_path / "store", tmp_path / "calls.log"
    for target in (1, 2):  # kill after the 1st, then after the 2nd finished record
        proc = subprocess.Popen(_cmd(tmp_path, store), env=_env(log), stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while len(_finished(store)) < target and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        time.sleep(0.1 * target)  # land somewhere inside the next pair's work
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert_store_consistent(store)
    # a kill during interpreter start-up / validation, before any new pair
    proc = subprocess.Popen(_cmd(tmp_path, store), env=_env(log), stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert_store_consistent(store)
    done_before = _finished(store)
    assert 2 <= len(done_before) < 4
    calls_before = len(log.read_text().splitlines())
    res = subprocess.run(_cmd(tmp_path, store), env=_env(log, 0.0), capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert_store_consistent(store)
    assert _finished(store) == {"camera", "astronaut", "coffee", "chelsea"}
    new_calls = len(log.read_text().splitlines()) - calls_before
    assert new_calls == 4 - len(done_before)  # only unfinished pairs were fused again
    assert f"{4 - len(done_before)} fused, {len(done_before)} reused" in res.stderr
    assert len(pd.read_csv(store / "synthetic" / "_t_slow" / "scores.csv")) == 4


def test_two_concurrent_runs_share_a_store(tmp_path):
    store, log = tmp_path / "store", tmp_path / "calls.log"
    procs = [subprocess.Popen(_cmd(tmp_path, store), env=_env(log, 0.2), stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert_store_consistent(store)
    single = tmp_path / "single"
    subprocess.run(_cmd(tmp_path, single), env=_env(tmp_path / "x.log", 0.0), check=True, capture_output=True)
    a = (store / "synthetic" / "_t_slow" / "scores.csv").read_bytes()
    b = (single / "synthetic" / "_t_slow" / "scores.csv").read_bytes()
    assert a == b


def test_two_runs_give_byte_identical_scores(tmp_path):
    from fusionbench.cli import main

    for d in ("a", "b"):
        assert main(["run", "--methods", "average", "--dataset", "synthetic", "--results", str(tmp_path / d),
                     "--no-progress"]) == 0
    a = (tmp_path / "a" / "synthetic" / "average" / "scores.csv").read_bytes()
    assert a == (tmp_path / "b" / "synthetic" / "average" / "scores.csv").read_bytes()
    fused = sorted((tmp_path / "a" / "synthetic" / "average" / "fused").glob("*.png"))
    for p in fused:
        assert np.array_equal(read_image(p), read_image(tmp_path / "b" / "synthetic" / "average" / "fused" / p.name))
