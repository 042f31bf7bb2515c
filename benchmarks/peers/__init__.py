"""Optional peers for ``benchmarks/metrics.py --peers``: CDDFuse ``Evaluator``, IVIF_ZOO ``Metric_torch``.

Neither is a dependency; each is imported only when its checkout is found (``README.md`` here
says how to fetch one): ``$FUSIONBENCH_PEERS/<dir>`` or ``benchmarks/peers/<dir>``, with
``<dir>`` = ``MMIF-CDDFuse`` (``utils/Evaluator.py``) or ``IVIF_ZOO`` (``Metric/Metric_torch.py``).
A peer that is absent or fails to import, and a peer function that fails on a call (missing, other
signature, an error from a newer library), read ``n/a`` with the reason; the benchmark then prints
fusionbench's figures alone.

Only same-formula pairs are compared: each peer function is timed against the fusionbench
metric that reproduces that very function (the ``cddfuse:*`` and ``zoo:*`` configurations,
:data:`PEERS`), on the inputs the peer's own evaluation script hands it (CDDFuse
``image_read_cv2(.., 'GRAY')``: float32 arrays; IVIF_ZOO ``eval_torch.evaluation_one``: float32
tensors, int32 arrays for MI/NMI, float32 arrays for Qabf/SSIM), converted before the clock
starts. fusionbench is timed through :func:`fusionbench.evaluate` on the images as read (uint8),
so its time includes validation and the script's input convention.
"""
from __future__ import annotations

import importlib
import os
import statistics
import sys
import time
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class PeerMetric:
    """One peer function and the fusionbench metric with the same formula."""

    label: str      # row label (the quantity)
    fb: str         # fusionbench metric name reproducing the peer function
    fn: str         # the peer's function (CDDFuse: Evaluator attribute; ZOO: Metric_torch function)
    arity: str      # "f": fused only; "abf": the three images in the peer's own order
    kind: str       # the peer script's input type: "f32" ndarray, "tensor" (float32), "int32" ndarray


#: peer -> (checkout folder, sub-folder put on sys.path, module, its metric functions)
PEERS: dict[str, tuple[str, str, str, tuple[PeerMetric, ...]]] = {
    "CDDFuse": ("MMIF-CDDFuse", "", "utils.Evaluator", tuple(
        PeerMetric(label, f"cddfuse:{name}", fn, arity, "f32") for label, name, fn, arity in (
            ("EN", "en", "EN", "f"), ("SD", "sd", "SD", "f"), ("SF", "sf", "SF", "f"),
            ("AG", "ag", "AG", "f"), ("MI", "mi", "MI", "abf"), ("MSE", "mse", "MSE", "abf"),
            ("CC", "cc", "CC", "abf"), ("PSNR", "psnr", "PSNR", "abf"), ("SCD", "scd", "SCD", "abf"),
            ("VIF", "viff", "VIFF", "abf"), ("Qabf", "qabf", "Qabf", "abf"), ("SSIM", "ssim", "SSIM", "abf")))),
    "IVIF_ZOO": ("IVIF_ZOO", "Metric", "Metric_torch", tuple(
        PeerMetric(label, f"zoo:{name}", fn, arity, kind) for label, name, fn, arity, kind in (
            ("EN", "en", "EN_function", "f", "tensor"), ("SD", "sd", "SD_function", "f", "tensor"),
            ("SF", "sf", "SF_function", "f", "tensor"), ("AG", "ag", "AG_function", "f", "tensor"),
            ("MI", "mi", "MI_function", "abf", "int32"), ("MSE", "mse", "MSE_function", "abf", "tensor"),
            ("CC", "cc", "CC_function", "abf", "tensor"), ("PSNR", "psnr", "PSNR_function", "abf", "tensor"),
            ("SCD", "scd", "SCD_function", "abf", "tensor"), ("VIF", "vif", "VIF_function", "abf", "tensor"),
            ("Qabf", "qabf", "Qabf_function", "abf", "f32"), ("SSIM", "ssim", "SSIM_function", "abf", "f32"),
            ("MS_SSIM", "ms_ssim", "MS_SSIM_function", "abf", "f32"),
            ("Nabf", "nabf", "Nabf_function", "abf", "tensor"), ("EI", "ei", "EI_function", "f", "tensor"),
            ("NMI", "nmi", "NMI_function", "abf", "int32"), ("QNCIE", "qncie", "QNCIE_function", "abf", "tensor"),
            ("TE", "te", "TE_function", "abf", "tensor"), ("CE", "ce", "CE_function", "abf", "tensor"),
            ("Qy", "qy", "Qy_function", "abf", "tensor"), ("Qcb", "qcb", "Qcb_function", "abf", "tensor")))),
}

#: the row order of the table (a quantity appears once, with every peer that has it)
LABELS = tuple(dict.fromkeys(m.label for _, _, _, ms in PEERS.values() for m in ms))

#: the cheap metrics the per-call overhead matters for (issue 22 target 1)
CHEAP_LABELS = ("EN", "SD", "SF", "AG", "CC", "SCD", "PSNR", "MSE", "MI", "Qabf", "SSIM")


def fusionbench_names() -> list[str]:
    """Every fusionbench metric compared with some peer, in table order."""
    return list(dict.fromkeys(m.fb for label in LABELS for _, _, _, ms in PEERS.values()
                              for m in ms if m.label == label))


def _roots(name: str) -> list[Path]:
    env = os.environ.get("FUSIONBENCH_PEERS")
    return [p for p in ([Path(env) / name] if env else []) + [HERE / name] if p.is_dir()]


def _torchvision_shim() -> None:
    """IVIF_ZOO's ``ssim.py`` imports ``torchvision.transforms.functional`` for ``to_tensor`` only.

    Without torchvision installed, provide that one function with torchvision's behaviour for
    a 2-D ndarray (``HxW`` -> ``1xHxW`` tensor; uint8 divided by 255, any other dtype unscaled),
    so the other functions of ``Metric_torch`` import; nothing else is replaced."""
    try:
        import torchvision.transforms.functional  # noqa: F401
        return
    except ImportError:
        pass
    import torch

    def to_tensor(pic):
        a = np.asarray(pic)
        if a.ndim == 2:
            a = a[:, :, None]
        t = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).contiguous()
        return t.float().div(255) if t.dtype == torch.uint8 else t

    tv = types.ModuleType("torchvision")
    tr = types.ModuleType("torchvision.transforms")
    fn = types.ModuleType("torchvision.transforms.functional")
    fn.to_tensor = to_tensor
    tv.transforms, tr.functional = tr, fn
    sys.modules.update({"torchvision": tv, "torchvision.transforms": tr, "torchvision.transforms.functional": fn})


def _import(checkout: str, sub: str, module: str):
    """(module or None, reason when None)."""
    roots = _roots(checkout)
    if not roots:
        return None, "not found"
    if module == "Metric_torch":
        _torchvision_shim()
    for root in roots:
        path = str(root / sub) if sub else str(root)
        sys.path.insert(0, path)
        try:
            return importlib.import_module(module), ""
        except Exception as exc:  # noqa: BLE001  (a peer's own import problem: report, go on)
            reason = f"import of {module} from {path} failed: {exc.__class__.__name__}: {exc}"
        finally:
            sys.path.remove(path)
    return None, reason


def _peer_inputs(kind: str, gray: list[np.ndarray]) -> list:
    """The three images as the peer's evaluation script hands them to this function."""
    if kind == "f32":
        return [np.ascontiguousarray(a, np.float32) for a in gray]
    if kind == "int32":
        return [np.ascontiguousarray(a, np.int32) for a in gray]
    import torch

    return [torch.tensor(np.asarray(a, np.float32)).float() for a in gray]


def peer_call(peer: str, module, m: PeerMetric, gray: list[np.ndarray]) -> Callable[[], object]:
    """A no-argument call of the peer function on its own inputs (converted now, untimed)."""
    ir, vi, f = _peer_inputs(m.kind, gray)
    if peer == "CDDFuse":
        fn = getattr(module.Evaluator, m.fn)
        return (lambda: fn(f)) if m.arity == "f" else (lambda: fn(f, ir, vi))
    fn = getattr(module, m.fn)
    return (lambda: fn(f)) if m.arity == "f" else (lambda: fn(ir, vi, f))


def load_peers() -> dict[str, tuple[object | None, str]]:
    """``{peer: (module or None, reason it is missing)}``."""
    return {peer: _import(checkout, sub, module) for peer, (checkout, sub, module, _) in PEERS.items()}


def cpu_time(fn: Callable[[], object], repeat: int, budget_s: float = 8.0,
             setup: Callable[[], None] | None = None) -> float:
    """Median process CPU seconds of ``fn()`` (one untimed warm-up; fewer runs for slow calls)."""
    if setup:
        setup()
    c0 = time.process_time()
    fn()
    first = time.process_time() - c0
    n = max(1, min(repeat, int(budget_s / max(first, 1e-9))))
    if n == 1 and first > budget_s / 2:
        return first
    out = []
    for _ in range(n):
        if setup:
            setup()
        c0 = time.process_time()
        fn()
        out.append(time.process_time() - c0)
    return statistics.median(out)


def _value(v: object) -> float:
    try:
        return float(v.item() if hasattr(v, "item") else v)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return float("nan")


def compare(raw: list[np.ndarray], repeat: int, setup: Callable[[], None] | None = None,
            labels: list[str] | None = None) -> list[dict]:
    """Time every peer function and its fusionbench counterpart; print the table; return its rows.

    ``raw``: the image triple as read (uint8 ``HxW``), handed to :func:`fusionbench.evaluate`;
    each peer gets the conversion its own script makes of the same pixels. ``setup`` runs
    untimed before every fusionbench call (the benchmark clears the source caches there, so
    each timed call does all of its work). Ratio = fastest peer ms / fusionbench ms (> 1:
    fusionbench faster).
    """
    from fusionbench.api import evaluate
    from fusionbench.registry import METRICS, discover

    discover()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the peers' own divide-by-zero warnings
        return _compare(raw, repeat, setup, labels, evaluate, METRICS)


def _compare(raw, repeat, setup, labels, evaluate, METRICS) -> list[dict]:
    gray = [np.asarray(a, np.float64) for a in raw]
    peers = load_peers()
    for peer, (mod, why) in peers.items():
        if mod is None:
            print(f"peer {peer}: n/a ({why}); see benchmarks/peers/README.md")
    labels = list(labels or LABELS)
    cols = list(PEERS)
    head = f"{'metric':<9}" + "".join(f"{'fusionbench':>18}{'ms':>8}{p + ' ms':>13}{'ratio':>7}" for p in cols)
    print("\n" + head + "\n" + "-" * len(head))
    rows: list[dict] = []
    failures: list[str] = []
    for label in labels:
        line = f"{label:<9}"
        for peer in cols:
            mod = peers[peer][0]
            m = next((x for x in PEERS[peer][3] if x.label == label), None)
            if m is None:
                line += f"{'-':>18}{'':>8}{'':>13}{'':>7}"
                continue
            if m.fb not in METRICS:
                line += f"{m.fb:>18}{'n/a':>8}{'':>13}{'':>7}"
                continue
            fb = cpu_time(lambda: evaluate(*raw, [m.fb]), repeat, setup=setup)
            row = {"label": label, "peer": peer, "fusionbench": m.fb, "fb_ms": 1000 * fb,
                   "peer_fn": m.fn, "peer_ms": None}
            peer_txt, ratio = "n/a", ""
            if mod is not None:
                try:
                    call = peer_call(peer, mod, m, gray)
                    row["peer_value"] = _value(call())
                    t = cpu_time(call, repeat)
                    row["peer_ms"] = 1000 * t
                    peer_txt, ratio = f"{1000 * t:.2f}", f"{t / fb:.2f}"
                except Exception as exc:  # noqa: BLE001  (missing there, or fails with this library)
                    failures.append(f"{peer} {m.fn}: {exc.__class__.__name__}: {str(exc).splitlines()[0][:120]}")
            row["fb_value"] = evaluate(*raw, [m.fb])[m.fb]
            rows.append(row)
            line += f"{m.fb:>18}{1000 * fb:>8.2f}{peer_txt:>13}{ratio:>7}"
        print(line, flush=True)
    print("ratio = peer ms / fusionbench ms (> 1: fusionbench faster); CPU time (process_time), medians")
    behind = [f"{r['label']} vs {r['peer']} ({r['peer_ms'] / r['fb_ms']:.2f})" for r in rows
              if r["peer_ms"] is not None and r["peer_ms"] < r["fb_ms"]]
    print("behind a peer (issue 22 target 1: none): " + (", ".join(behind) or "none"))
    for f in failures:
        print(f"  n/a: {f}")
    return rows
