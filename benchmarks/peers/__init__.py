"""Optional peers for ``benchmarks/metrics.py --peers``: CDDFuse ``Evaluator``, IVIF_ZOO ``Metric_torch``.

Neither is a dependency; each is imported only when its checkout is found (``README.md`` here
says how to fetch one): ``$FUSIONBENCH_PEERS/<dir>`` or ``benchmarks/peers/<dir>``, with
``<dir>`` = ``MMIF-CDDFuse`` (``utils/Evaluator.py``) or ``IVIF_ZOO`` (``Metric/Metric_torch.py``).
A peer that is absent, fails to import, or fails on a call is reported as ``n/a`` and the
benchmark prints fusionbench's figures alone.
"""
from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# fusionbench metric -> (CDDFuse Evaluator attribute, IVIF_ZOO Metric_torch function, arity):
# arity "f" takes the fused image only; "abf" takes (ir, vi, fused) in the peer's own order.
PEER_METRICS: dict[str, tuple[str | None, str | None, str]] = {
    "en": ("EN", "EN_function", "f"),
    "sd": ("SD", "SD_function", "f"),
    "sf": ("SF", "SF_function", "f"),
    "ag": ("AG", "AG_function", "f"),
    "cc": ("CC", "CC_function", "abf"),
    "psnr": ("PSNR", "PSNR_function", "abf"),
    "mi": ("MI", "MI_function", "abf"),
    "qabf": ("Qabf", "Qabf_function", "abf"),
    "vif": ("VIFF", "VIF_function", "abf"),
    "qy": (None, "Qy_function", "abf"),
    "qcb": (None, "Qcb_function", "abf"),
}


def _roots(name: str) -> list[Path]:
    env = os.environ.get("FUSIONBENCH_PEERS")
    return [p for p in ([Path(env) / name] if env else []) + [HERE / name] if p.is_dir()]


def _import(checkout: str, sub: str, module: str):
    for root in _roots(checkout):
        path = str(root / sub) if sub else str(root)
        sys.path.insert(0, path)
        try:
            return importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001  (a peer's own import problem: report, go on)
            print(f"peer {checkout}: import of {module} from {path} failed: {exc}")
        finally:
            sys.path.remove(path)
    return None


def load_peers() -> dict[str, Callable[[str, list[np.ndarray]], object] | None]:
    """``{peer name: call(metric, [ir, vi, fused]) or None when not importable}``."""
    peers: dict[str, Callable | None] = {}
    cdd = _import("MMIF-CDDFuse", "", "utils.Evaluator")
    if cdd is not None:
        ev = cdd.Evaluator

        def call_cdd(metric: str, imgs: list[np.ndarray]) -> object:
            name, _, arity = PEER_METRICS[metric]
            if name is None:
                raise NotImplementedError
            ir, vi, f = imgs
            return getattr(ev, name)(f) if arity == "f" else getattr(ev, name)(f, ir, vi)
        peers["CDDFuse"] = call_cdd
    else:
        peers["CDDFuse"] = None
    zoo = _import("IVIF_ZOO", "Metric", "Metric_torch")
    if zoo is not None:
        import torch

        def call_zoo(metric: str, imgs: list[np.ndarray]) -> object:
            _, name, arity = PEER_METRICS[metric]
            if name is None:
                raise NotImplementedError
            ir, vi, f = (torch.from_numpy(np.ascontiguousarray(a, np.float32)) for a in imgs)
            return getattr(zoo, name)(f) if arity == "f" else getattr(zoo, name)(ir, vi, f)
        peers["IVIF_ZOO"] = call_zoo
    else:
        peers["IVIF_ZOO"] = None
    return peers


def compare(names: list[str], gray: list[np.ndarray], repeat: int, timer) -> None:
    """Print per metric fusionbench's CPU ms through ``evaluate`` and each peer's, with the ratio."""
    from fusionbench.api import evaluate

    peers = load_peers()
    absent = [p for p, c in peers.items() if c is None]
    if absent:
        print(f"peers not importable ({', '.join(absent)}): see benchmarks/peers/README.md; "
              "their columns read n/a")
    header = f"{'metric':<10}{'fusionbench ms':>15}" + "".join(f"{p + ' ms':>15}{'ratio':>8}" for p in peers)
    print("\n" + header + "\n" + "-" * len(header))
    for name in names:
        _, fb = timer(lambda: evaluate(*gray, [name]), repeat)
        row = f"{name:<10}{1000 * fb:>15.2f}"
        for call in peers.values():
            if call is None:
                row += f"{'n/a':>15}{'':>8}"
                continue
            try:
                call(name, gray)
                _, t = timer(lambda: call(name, gray), repeat)
                row += f"{1000 * t:>15.2f}{t / fb:>8.2f}"
            except Exception:  # noqa: BLE001  (not implemented there, or another signature)
                row += f"{'n/a':>15}{'':>8}"
        print(row, flush=True)
    print("ratio = peer ms / fusionbench ms (> 1: fusionbench faster)")
