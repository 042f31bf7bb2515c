"""Executors: where (method, pair) tasks run. The client alone writes the store.

The unit of work is one :class:`Task` (a method on a pair). :func:`execute_task` is *pure with
respect to the store*: it reads the inputs (from the data root, or from bytes shipped with the
task), fuses unless the client sent the stored PNG of a valid record, encodes the PNG,
computes the metrics the client asked for and returns a :class:`TaskResult` (PNG bytes, fuse
time, metric values). The client (:mod:`fusionbench.runner`) decides what each task needs and
writes PNG then record with the store's atomic writes, so every executor gives the same files.

Implementations (same interface, :meth:`Executor.map_unordered`):

* :class:`LocalExecutor` ``jobs=1``: in this process, in order.
* :class:`LocalExecutor` ``jobs>1``: a ``concurrent.futures.ProcessPoolExecutor`` of forked
  workers. A worker that dies (SIGKILL, the out-of-memory killer) breaks the pool: the pair it
  was running is reported failed with the reason, the pool is recreated and the other tasks
  finish. Workers exit within ~0.2 s when the parent dies.
* :class:`DaskExecutor`: a ``dask.distributed`` cluster (``--scheduler ADDRESS``, else a
  ``LocalCluster`` with ``jobs`` single-threaded worker processes). Tasks are submitted with
  ``pure=False`` and ``retries=``; a worker that dies loses only its running task, which the
  scheduler runs again elsewhere. Methods declaring ``MethodSpec.resources`` (e.g.
  ``{"GPU": 1}``) fuse in a task that asks for those worker resources and score in another
  that does not (only when some worker offers them).

At most a small window of tasks (a few per worker) is in flight, so client memory stays flat
however many pairs a dataset has.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FusionbenchError, InputError, MissingResultError

DASK_HINT = "pip install 'fusionbench[dask]'"


@dataclass
class Task:
    """One method on one pair, as sent to a worker (picklable; no store handle).

    ``pair`` is a :class:`fusionbench.data.Pair` with an empty cache read from its paths on the
    worker (path mode), or None when ``inputs`` carries the images (``--ship-inputs``, or
    generated pairs): ``{"pair": pair, "ir": (bytes, suffix), "vi": (bytes, suffix)}`` (file
    bytes, read on the worker by the same pair class) or ``{"arrays": (ir_npy, vi_npy)}``.
    ``digest`` is the client's :func:`fusionbench.imageio.array_digest` of the raw inputs: the
    worker refuses inputs that read differently. ``png`` is the stored fused PNG when the record
    is valid and only metrics are missing (``fuse`` False). ``modules`` are imported on the
    worker before names are resolved (methods/metrics registered outside fusionbench).
    """

    id: int
    method: str            # the registered name (spec name)
    variant: str | None
    params: dict[str, Any]  # the call's full parameter set
    pair_name: str
    dataset: str           # store label
    store_name: str        # the method's store entry
    ctx: Any               # the PairContext context-aware methods receive
    digest: str
    fuse: bool
    metrics: list[str]
    pair: Any = None
    inputs: dict[str, Any] | None = None
    png: bytes | None = None
    modules: tuple[str, ...] = ()
    resources: dict[str, float] = field(default_factory=dict)


@dataclass
class TaskResult:
    """What a worker returns: ``status`` is ``fused``, ``scored``, ``missing`` or ``failed``."""

    id: int
    status: str
    png: bytes | None = None
    fuse_seconds: float | None = None
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    message: str = ""
    seconds: float = 0.0
    error: BaseException | None = None  # a fatal error (weights, store) the client re-raises
    colour: bool = False               # the fused image is colour (kept in the store as such)
    note: str = ""                     # e.g. "fused ≈ visible on 95% of pixels" (fresh fusions)


# -- the worker side ------------------------------------------------------------------------
_SETUP_DONE = False


def tune_malloc() -> bool:
    """Fixed glibc thresholds: arrays under 64 MiB come from the heap, freed memory up to 256 MiB
    is kept (Linux only; True when set).

    glibc's default (or Dask's nanny, which starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``
    and so turns off the dynamic mmap threshold) maps and unmaps the metrics' large temporaries
    on every call: the page faults doubled the CPU time of the paper metrics in a Dask worker
    (sys 2.6 s vs 0.01 s for 32 metric calls at 640x512). In a plain process the gain is
    smaller and load-dependent (263 -> 220 CPU ms for a first fused image at load ~7); with
    the compiled kernels it is 2,500-4,000 page faults, 10-20 ms, of a 50-130 ms triple of the
    paper metrics, so :func:`fusionbench.api.score_triple` (``evaluate``) sets it too.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-1, 256 << 20)) and bool(libc.mallopt(-3, 64 << 20))  # TRIM, MMAP
    except (OSError, AttributeError):
        return False


def worker_setup() -> None:
    """Once per process that runs tasks (a worker, or the client of a serial run): one torch
    thread (names resolve lazily via the registry) and :func:`tune_malloc`."""
    global _SETUP_DONE
    if _SETUP_DONE:
        return
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    tune_malloc()
    _SETUP_DONE = True


def _call(task: Task):
    """The task's :class:`fusionbench.registry.MethodCall`, rebuilt from names on the worker."""
    from .registry import MethodCall, parse_method

    return MethodCall(parse_method(task.method).spec, task.variant, dict(task.params))


def _read_bytes(data: bytes, suffix: str, name: str) -> np.ndarray:
    """Read shipped file bytes exactly as :func:`fusionbench.imageio.read_image` reads a file."""
    from .imageio import read_image

    with tempfile.TemporaryDirectory(prefix="fb-ship-") as d:
        p = Path(d) / f"{name}{suffix}"
        p.write_bytes(data)
        return read_image(p, max_megapixels=float("inf"))  # our own PNG


def _pair_arrays(task: Task) -> tuple[np.ndarray, np.ndarray]:
    """The raw (as stored) infrared and visible arrays of a task's pair."""
    import io

    if task.pair is not None:
        return task.pair.ir_raw(), task.pair.vi_raw()
    inp = task.inputs or {}
    if "arrays" in inp:
        return tuple(np.load(io.BytesIO(b), allow_pickle=False) for b in inp["arrays"])  # type: ignore[return-value]
    with tempfile.TemporaryDirectory(prefix="fb-ship-") as d:
        (ir_b, ir_s), (vi_b, vi_s) = inp["ir"], inp["vi"]
        ir_p, vi_p = Path(d) / "ir" / f"{task.pair_name}{ir_s}", Path(d) / "vi" / f"{task.pair_name}{vi_s}"
        for p, b in ((ir_p, ir_b), (vi_p, vi_b)):
            p.parent.mkdir()
            p.write_bytes(b)
        pair = replace(inp["pair"], ir_path=ir_p, vi_path=vi_p, _cache={})
        return pair.ir_raw(), pair.vi_raw()


def _inputs(task: Task) -> tuple[np.ndarray, np.ndarray]:
    from .imageio import array_digest

    ir_raw, vi_raw = _pair_arrays(task)
    if array_digest(ir_raw, vi_raw) != task.digest:
        raise InputError(f"pair {task.pair_name}: the inputs read on worker {os.uname().nodename} differ "
                         "from the client's (files changed during the run, or another image decoder; "
                         "use --ship-inputs)")
    return ir_raw, vi_raw


def _import_modules(task: Task) -> None:
    for m in task.modules:
        if m not in sys.modules:
            importlib.import_module(m)


def _fuse(task: Task, arrays) -> dict[str, Any]:
    from .api import run_method
    from .imageio import encode_png, is_gray_rgb, quantize, to_gray_float

    t0 = time.perf_counter()
    if not task.fuse:
        return {"status": "scored", "png": task.png, "fuse_seconds": None, "t0": t0}
    try:
        ir_raw, vi_raw = arrays if arrays is not None else _inputs(task)
        vi_rgb = vi_raw.astype(np.float64) if vi_raw.ndim == 3 and not is_gray_rgb(vi_raw) else None
        fused = run_method(_call(task), to_gray_float(ir_raw), to_gray_float(vi_raw), vi_rgb=vi_rgb, ctx=task.ctx)
        q = quantize(fused)
        png = encode_png(q)
        return {"status": "fused", "png": png, "fuse_seconds": round(time.perf_counter() - t0, 4), "t0": t0,
                "colour": bool(q.ndim == 3 and not is_gray_rgb(q))}
    except MissingResultError as exc:
        return {"status": "missing", "message": str(exc), "t0": t0}
    except FusionbenchError as exc:
        if _fatal(exc):
            return {"status": "fatal", "error": exc, "t0": t0}
        return {"status": "failed", "message": str(exc), "t0": t0}


def _score(task: Task, fused: dict[str, Any], arrays) -> TaskResult:
    from .api import score_triple
    from .registry import get_metric

    t0 = fused.get("t0", time.perf_counter())
    status = fused["status"]
    if status not in ("fused", "scored"):
        return TaskResult(task.id, status, message=fused.get("message", ""),
                          error=fused.get("error"), seconds=time.perf_counter() - t0)
    note = ""
    try:
        scores: dict[str, dict[str, Any]] = {}
        if status == "fused":
            from .api import same_as_source_note

            ir_raw, vi_raw = arrays if arrays is not None else _inputs(task)
            note = same_as_source_note(_read_bytes(fused["png"], ".png", task.pair_name), ir_raw, vi_raw)
        if task.metrics:
            ir_raw, vi_raw = arrays if arrays is not None else _inputs(task)
            fused8 = _read_bytes(fused["png"], ".png", task.pair_name)
            specs = [get_metric(m) for m in task.metrics]
            values = score_triple((ir_raw, vi_raw, fused8), specs)
            scores = {s.name: {"version": s.version, "values": values[s.name]} for s in specs}
    except FusionbenchError as exc:
        if _fatal(exc):
            return TaskResult(task.id, "fatal", error=exc)
        return TaskResult(task.id, "failed", message=str(exc), seconds=time.perf_counter() - t0)
    return TaskResult(task.id, status, png=fused["png"] if status == "fused" else None,
                      fuse_seconds=fused.get("fuse_seconds"), scores=scores, seconds=time.perf_counter() - t0,
                      colour=bool(fused.get("colour")), note=note)


def fuse_part(task: Task) -> dict[str, Any]:
    """Fuse a task's pair (when ``task.fuse``): PNG bytes, fuse time, status (dask's GPU task)."""
    worker_setup()
    _import_modules(task)
    return _fuse(task, None)


def score_part(task: Task, fused: dict[str, Any]) -> TaskResult:
    """Compute a task's metrics on the PNG that :func:`fuse_part` returned."""
    worker_setup()
    _import_modules(task)
    return _score(task, fused, None)


def execute_task(task: Task) -> TaskResult:
    """Fuse (if needed) and score one task, reading its inputs once; touches no store."""
    worker_setup()
    _import_modules(task)
    arrays = None
    if task.fuse or task.metrics:
        try:
            arrays = _inputs(task)
        except FusionbenchError as exc:
            return TaskResult(task.id, "failed", message=str(exc))
    return _score(task, _fuse(task, arrays), arrays)


def _fatal(exc: BaseException) -> bool:
    from .runner import FATAL

    return isinstance(exc, FATAL)


# -- executors --------------------------------------------------------------------------------
class Executor:
    """Runs tasks; yields results in completion order. Use as a context manager."""

    def map_unordered(self, tasks: Iterable[Task]) -> Iterator[TaskResult]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalExecutor(Executor):
    """Serial (``jobs=1``) or a process pool of ``jobs`` forked workers (see the module docstring)."""

    def __init__(self, jobs: int = 1):
        self.jobs = max(1, int(jobs))
        self._pool = None
        self._queue = None
        self._procs: dict[int, Any] = {}

    def map_unordered(self, tasks: Iterable[Task]) -> Iterator[TaskResult]:
        if self.jobs == 1:
            for t in tasks:
                yield execute_task(t)
            return
        yield from self._pooled(iter(tasks))

    # one pool at a time; recreated after a worker died
    def _new_pool(self):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("fork")
        self._queue = ctx.SimpleQueue()
        self._procs = {}
        self._pool = ProcessPoolExecutor(self.jobs, mp_context=ctx, initializer=_pool_init,
                                         initargs=(self._queue, os.getpid()))
        return self._pool

    def _pooled(self, tasks: Iterator[Task]) -> Iterator[TaskResult]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        window = 2 * self.jobs
        retry: list[Task] = []
        breaks: dict[int, int] = {}
        running: dict[Any, Task] = {}
        started: dict[int, int] = {}  # task id -> worker pid, from the workers' start messages
        pool = self._pool or self._new_pool()
        exhausted = False
        while True:
            broken = False
            while len(running) < window and (retry or not exhausted) and not broken:
                t = retry.pop(0) if retry else next(tasks, None)
                if t is None:
                    exhausted = True
                    break
                try:
                    running[pool.submit(_pool_task, t)] = t
                except BrokenProcessPool:
                    retry.insert(0, t)
                    broken = True
                self._procs.update(getattr(pool, "_processes", None) or {})
            if not running and not broken:
                return
            if not broken:
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in done:
                    try:
                        res = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        continue
                    t = running.pop(fut)
                    started.pop(t.id, None)
                    yield res
            self._drain(started)
            if not broken:
                continue
            # a worker died: its task fails, the other tasks in flight run again in a new pool
            lost = list(running.values())
            running.clear()
            dead = {pid: p.exitcode for pid, p in self._procs.items()}
            self._shutdown()
            for t in lost:
                pid = started.pop(t.id, None)
                code = dead.get(pid) if pid is not None else None
                breaks[t.id] = breaks.get(t.id, 0) + 1
                culprit = code is not None and code < 0 and code != -signal.SIGTERM
                if culprit or breaks[t.id] > 2:
                    why = (f"worker process {pid} was killed by {_signame(-code)} while running it "
                           "(out of memory?)") if culprit else "its worker process died repeatedly"
                    yield TaskResult(t.id, "failed", message=why)
                else:
                    retry.append(t)
            pool = self._new_pool()

    def _drain(self, started: dict[int, int]) -> None:
        q = self._queue
        while q is not None and not q.empty():
            tid, pid = q.get()
            started[tid] = pid

    def _shutdown(self) -> None:
        """Stop the pool now: queued tasks are cancelled, running workers terminated (Ctrl-C,
        an error, or the end of the run when nothing is running any more)."""
        if self._pool is not None:
            procs = list((getattr(self._pool, "_processes", None) or {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join(timeout=5)
            self._pool = None

    def close(self) -> None:
        self._shutdown()


def _signame(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


_POOL_QUEUE = None


def _pool_init(queue, parent: int) -> None:
    """Worker start: torch single-threaded, and exit as soon as the parent is gone."""
    global _POOL_QUEUE
    _POOL_QUEUE = queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(0.1)

    threading.Thread(target=watch, daemon=True, name="fusionbench-parent-watch").start()


def _pool_task(task: Task) -> TaskResult:
    if _POOL_QUEUE is not None:
        _POOL_QUEUE.put((task.id, os.getpid()))
    return execute_task(task)


class DaskExecutor(Executor):
    """Tasks on a ``dask.distributed`` cluster (see the module docstring)."""

    def __init__(self, scheduler: str | None = None, jobs: int = 1, retries: int = 2, log=None):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise InputError(f"--executor dask needs Dask: {DASK_HINT}") from None
        self.retries = retries
        self._cluster = None
        self.log = log or (lambda msg: None)
        if scheduler:
            try:
                self.client = Client(scheduler, timeout="20s")
            except OSError as exc:
                raise InputError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        else:
            self._cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                                         dashboard_address=None, silence_logs=40)
            self.client = Client(self._cluster)
        self.client.run(worker_setup)

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> process id (tests kill one)."""
        return self.client.run(os.getpid)

    def _offers(self, resources: dict[str, float]) -> bool:
        info = self.client.scheduler_info().get("workers", {})
        return any(all(w.get("resources", {}).get(k, 0) >= v for k, v in resources.items())
                   for w in info.values())

    def map_unordered(self, tasks: Iterable[Task]) -> Iterator[TaskResult]:
        from dask.distributed import as_completed

        nthreads = sum(self.client.nthreads().values()) or 1
        window = 2 * nthreads + 2
        it = iter(tasks)
        offers: dict[tuple, bool] = {}
        ac = as_completed()
        pending: dict[Any, Task] = {}

        def submit(t: Task) -> None:
            key = tuple(sorted(t.resources.items()))
            if t.resources and key not in offers:
                offers[key] = self._offers(t.resources)
                if not offers[key]:
                    self.log(f"note: no worker offers {t.resources}; {t.method} fuses on any worker")
            if t.resources and offers[key]:
                f1 = self.client.submit(fuse_part, t, pure=False, retries=self.retries, resources=t.resources)
                fut = self.client.submit(score_part, t, f1, pure=False, retries=self.retries)
            else:
                fut = self.client.submit(execute_task, t, pure=False, retries=self.retries)
            pending[fut] = t
            ac.add(fut)

        for t in it:
            submit(t)
            if len(pending) >= window:
                break
        for fut in ac:
            t = pending.pop(fut)
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, a worker's crash: this task only
                res = TaskResult(t.id, "failed", message=f"dask: {exc.__class__.__name__}: {exc}")
            fut.release()
            yield res
            nxt = next(it, None)
            if nxt is not None:
                submit(nxt)

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


def make_executor(kind: str = "local", *, jobs: int = 1, scheduler: str | None = None, log=None) -> Executor:
    """``local`` (:class:`LocalExecutor`) or ``dask`` (:class:`DaskExecutor`)."""
    if kind == "local":
        if scheduler:
            raise InputError("--scheduler needs --executor dask")
        return LocalExecutor(jobs)
    if kind == "dask":
        return DaskExecutor(scheduler, jobs=jobs, log=log)
    raise InputError(f"unknown executor {kind!r} (local or dask)")


def ship(pair) -> dict[str, Any]:
    """Inputs of a pair as bytes for a worker that cannot read the data root: the files' bytes
    (read on the worker by the same pair class, e.g. a gray-as-RGB infrared rule), or for a
    generated pair the arrays themselves."""
    import io

    p = portable(pair)
    if p is not None:
        return {"pair": p, "ir": (Path(pair.ir_path).read_bytes(), Path(pair.ir_path).suffix),
                "vi": (Path(pair.vi_path).read_bytes(), Path(pair.vi_path).suffix)}
    out = []
    for a in (pair.ir_raw(), pair.vi_raw()):
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        out.append(buf.getvalue())
    return {"arrays": tuple(out)}


def portable(pair) -> Any:
    """The pair itself without its pixel cache when a worker can read it from its paths, else None."""
    import pickle

    if pair.ir_path is None or pair.vi_path is None:
        return None
    p = replace(pair, _cache={}, ir_path=Path(pair.ir_path).absolute(), vi_path=Path(pair.vi_path).absolute())
    if p.loader is not None:
        try:
            pickle.dumps(p.loader)
        except Exception:  # noqa: BLE001 - a closure: ship the arrays instead
            return None
    return p


def png_digest(png: bytes) -> str:
    return hashlib.sha256(png).hexdigest()
