"""The local executor: serial and pooled runs agree; a killed worker fails its pair only; a killed
parent leaves no worker behind. The kill tests use real ``fusionbench run`` processes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fusionbench.runner import run

SLOW = textwrap.dedent('''
    import os, time
    from fusionbench.registry import register_method

    @register_method("_t_pidslow", description="slow test double that logs its pid")
    def _t_pidslow(ir, vi):
        with open(os.environ["SLOW_LOG"], "a") as fh:
            fh.write(f"{os.getpid()} {float(ir.mean())!r}\\n")
        time.sleep(float(os.environ.get("SLOW_SECONDS", "1.0")))
        return (ir + vi) / 2
''')


def store_snapshot(root: Path) -> dict[str, object]:
    """Every file of a store: bytes, records parsed without their timing (``fuse_seconds``)."""
    out: dict[str, object] = {}
    for p in sorted(root.rglob("*")):
        if p.is_dir() or p.name.startswith("."):  # temp files, the record lock
            continue
        rel = str(p.relative_to(root))
        if p.parent.name == "records":
            rec = json.loads(p.read_text())
            rec.pop("fuse_seconds", None)
            out[rel] = rec
        else:
            out[rel] = p.read_bytes()
    return out


def test_serial_and_pool_give_identical_stores(tmp_path):
    for d, jobs in (("a", 1), ("b", 2)):
        run(["average", "max"], "synthetic", metrics=["en", "sd"], results=tmp_path / d, jobs=jobs,
            progress=False, log=lambda m: None)
    a, b = store_snapshot(tmp_path / "a"), store_snapshot(tmp_path / "b")
    assert len(a) == 2 * (4 + 4 + 2) + 1 and a == b


def _cli(tmp: Path, store: Path, jobs: int) -> list[str]:
    (tmp / "pidslow.py").write_text(SLOW)
    code = (f"import sys; sys.path.insert(0, {str(tmp)!r}); import pidslow; from fusionbench.cli import main; "
            f"sys.exit(main(['run', '--methods', '_t_pidslow', '--dataset', 'synthetic', '--metrics', 'en', "
            f"'--results', {str(store)!r}, '--no-progress', '--jobs', '{jobs}']))")
    return [sys.executable, "-c", code]


def _started(log: Path, n: int, proc, timeout: float = 120) -> list[int]:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= n:
            return [int(ln.split()[0]) for ln in lines]
        time.sleep(0.02)
    raise AssertionError(f"workers did not start ({proc.poll()=})")


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_killed_worker_fails_its_pair_and_the_rest_finish(tmp_path):
    store, log = tmp_path / "store", tmp_path / "calls.log"
    env = {**os.environ, "SLOW_LOG": str(log), "SLOW_SECONDS": "1.5"}
    proc = subprocess.Popen(_cli(tmp_path, store, 2), env=env, stderr=subprocess.PIPE, text=True)
    victim = _started(log, 1, proc)[0]
    os.kill(victim, signal.SIGKILL)
    _, err = proc.communicate(timeout=180)  # no hang: a broken pool is detected and recreated
    assert proc.returncode == 1, err
    failed = [ln for ln in err.splitlines() if ln.startswith("failed: ")]
    assert len(failed) == 1 and f"worker process {victim} was killed by SIGKILL" in failed[0], err
    lost = failed[0].split("synthetic/")[1].split(":")[0]
    recs = {p.stem for p in (store / "synthetic" / "_t_pidslow" / "records").glob("*.json")}
    assert recs == {"camera", "astronaut", "coffee", "chelsea"} - {lost}
    assert "3 fused, 0 reused, 1 FAILED" in err
    # the next run fuses only the lost pair
    res = subprocess.run(_cli(tmp_path, store, 2), env={**env, "SLOW_SECONDS": "0"}, capture_output=True,
                         text=True, timeout=180)
    assert res.returncode == 0 and "1 fused, 3 reused" in res.stderr, res.stderr


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_killed_parent_leaves_no_worker_running(tmp_path):
    store, log = tmp_path / "store", tmp_path / "calls.log"
    env = {**os.environ, "SLOW_LOG": str(log), "SLOW_SECONDS": "20"}
    proc = subprocess.Popen(_cli(tmp_path, store, 2), env=env, stderr=subprocess.DEVNULL)
    workers = _started(log, 2, proc)
    assert all(_running(w) for w in workers)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    t0 = time.time()
    while any(_running(w) for w in workers) and time.time() - t0 < 5:
        time.sleep(0.05)
    left = [w for w in workers if _running(w)]
    for w in left:  # clean up before failing
        os.kill(w, signal.SIGKILL)
    assert not left and time.time() - t0 < 1.0
