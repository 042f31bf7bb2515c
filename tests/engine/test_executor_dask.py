"""``--executor dask``: a 2-worker ``LocalCluster`` gives the store of a local run, byte for byte;
a worker killed mid-run (by pid) costs nothing but time; ``--ship-inputs`` needs no data root on
the workers. One cluster (processes, 1 thread each) serves the module, through ``--scheduler``."""
from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from fusionbench.runner import run
from test_executor import store_snapshot  # the same snapshot as the local executor tests


distributed = pytest.importorskip("distributed")

QUIET = dict(progress=False, log=lambda m: None)


SLOW = textwrap.dedent('''
    import os, time
    from fusionbench.registry import register_method

    @register_method("_t_daskslow", description="slow test double logging pid and pair mean")
    def _t_daskslow(ir, vi):
        with open(os.environ["FB_DASKSLOW_LOG"], "a") as fh:
            fh.write(f"{os.getpid()} {float(ir.mean())!r}\\n")
        time.sleep(0.6)
        return (ir + vi) / 2
''')


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(scheduler address, client, folder of the slow test method's module and log)."""
    from dask.distributed import Client, LocalCluster

    mod = tmp_path_factory.mktemp("daskmod")
    (mod / "fb_daskslow.py").write_text(SLOW)
    old = {k: os.environ.get(k) for k in ("PYTHONPATH", "FB_DASKSLOW_LOG")}
    # workers (and the ones the nanny restarts after a kill) import the test method from here
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(mod), old["PYTHONPATH"]]))
    os.environ["FB_DASKSLOW_LOG"] = str(mod / "calls.log")
    sys.path.insert(0, str(mod))
    c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                     silence_logs=40)
    client = Client(c)
    try:
        yield c.scheduler_address, client, mod
    finally:
        client.close()
        c.close()
        sys.path.remove(str(mod))
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _hide_on_workers(client, folder: Path) -> None:
    """Make every open() under ``folder`` fail inside the worker processes (an audit hook)."""
    def install(prefix: str) -> None:
        def hook(event, args):
            if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)) \
                    and os.fsdecode(args[0]).startswith(prefix):
                raise PermissionError(13, "hidden from this worker", os.fsdecode(args[0]))
        sys.addaudithook(hook)
    client.run(install, str(folder))


def test_dask_store_identical_to_local_on_synthetic(cluster, tmp_path):
    address, _, _ = cluster
    kw = dict(metrics=["en", "qabf"], **QUIET)
    run(["average", "max"], "synthetic", results=tmp_path / "local", **kw)
    run(["average", "max"], "synthetic", results=tmp_path / "dask", executor="dask", scheduler=address, **kw)
    a, b = store_snapshot(tmp_path / "local"), store_snapshot(tmp_path / "dask")
    assert len(a) == 21 and a == b
    # finished tasks are not submitted again: a second run only reuses
    out = run(["average"], "synthetic", results=tmp_path / "dask", executor="dask", scheduler=address, **kw)
    assert out[0].count("reused") == 4 and sum(o.metrics_computed for o in out[0].outcomes) == 0


def test_dask_identical_on_tno_subset_and_ship_inputs(cluster, tmp_path, data_root):
    address, client, _ = cluster
    data = tmp_path / "data" / "tnosub"
    for sub in ("ir", "vi"):
        (data / sub).mkdir(parents=True)
        for n in ("01", "05"):
            shutil.copy(data_root / "tno" / sub / f"{n}.png", data / sub / f"{n}.png")
    kw = dict(metrics=["en", "sd", "qabf", "ssim"], **QUIET)
    run(["average", "gff"], str(data), results=tmp_path / "local", **kw)
    run(["average", "gff"], str(data), results=tmp_path / "dask", executor="dask", scheduler=address, **kw)
    local = store_snapshot(tmp_path / "local")
    assert len(local) == 2 * (2 + 2 + 2) + 1 and local == store_snapshot(tmp_path / "dask")
    # workers that cannot read the data root: path mode fails every pair, --ship-inputs works
    _hide_on_workers(client, data)
    out = run(["average"], str(data), results=tmp_path / "hidden", executor="dask", scheduler=address, **kw)
    assert out[0].count("failed") == 2 and "permission denied" in out[0].outcomes[0].message
    run(["average", "gff"], str(data), results=tmp_path / "shipped", executor="dask", scheduler=address,
        ship_inputs=True, **kw)
    assert store_snapshot(tmp_path / "shipped") == local


def test_killed_dask_worker_run_completes_identically(cluster, tmp_path):
    address, client, mod = cluster
    log = mod / "calls.log"
    importlib.import_module("fb_daskslow")
    kw = dict(metrics=["en", "sd"], **QUIET)
    result: dict = {}
    th = threading.Thread(target=lambda: result.update(out=run(
        ["_t_daskslow"], "synthetic", results=tmp_path / "dask", executor="dask", scheduler=address, **kw)))
    th.start()
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and log.read_text().strip()):
        time.sleep(0.02)
    victim = int(log.read_text().split()[0])
    os.kill(victim, signal.SIGKILL)
    th.join(timeout=240)
    assert not th.is_alive()
    assert result["out"][0].count("fused") == 4, result["out"][0].outcomes
    calls = [ln.split() for ln in log.read_text().splitlines()]
    killed = {m for pid, m in calls if int(pid) == victim}
    assert killed and all(sum(m == k for _, m in calls) >= 2 for k in killed)  # its task ran again
    run(["_t_daskslow"], "synthetic", results=tmp_path / "local", **kw)
    assert store_snapshot(tmp_path / "dask") == store_snapshot(tmp_path / "local")


def test_gpu_method_fuses_only_where_the_resource_is(cluster, tmp_path, monkeypatch):
    from dask.distributed import get_task_stream

    from fusionbench.registry import METHODS

    address, client, _ = cluster
    kw = dict(metrics=["en"], **QUIET)
    run(["max"], "synthetic", results=tmp_path / "local", **kw)
    monkeypatch.setattr(METHODS["max"], "resources", {"GPU": 1})
    notes: list[str] = []
    run(["max"], "synthetic", results=tmp_path / "nogpu", executor="dask", scheduler=address,
        metrics=["en"], progress=False, log=notes.append)  # no worker offers a GPU: fused anywhere, with a note
    assert any("no worker offers" in n for n in notes)
    gpu = sorted(client.scheduler_info()["workers"])[0]

    async def offer(dask_worker):
        await dask_worker.set_resources(GPU=1)

    client.run(offer, workers=[gpu])
    try:
        with get_task_stream(client) as ts:
            run(["max"], "synthetic", results=tmp_path / "gpu", executor="dask", scheduler=address,
                metrics=["en"], progress=False, log=lambda m: None)
        fuse = [t["worker"] for t in ts.data if str(t["key"]).startswith("fuse_part")]
        score = [t for t in ts.data if str(t["key"]).startswith("score_part")]
        assert len(fuse) == 4 and set(fuse) == {gpu} and len(score) == 4
    finally:
        async def withdraw(dask_worker):
            await dask_worker.set_resources(GPU=0)

        client.run(withdraw, workers=[gpu])
    ref = store_snapshot(tmp_path / "local")
    assert store_snapshot(tmp_path / "nogpu") == ref and store_snapshot(tmp_path / "gpu") == ref


def test_missing_dask_extra_is_one_line(monkeypatch):
    from fusionbench.errors import InputError
    from fusionbench.executor import make_executor

    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(InputError, match=r"pip install 'fusionbench\[dask\]'"):
        make_executor("dask", jobs=2)
