"""SSL-WAEIE (Zhang, Nie, Cao, IEEE/CAA JAS 2022): the paper's own method, trained here.

``ssl_waeie[:variant]`` fuses with trained weights; variants are the paper's ablations
(Table 4: ``no_wae``, ``no_iee``, ``sl_iee``, ``loss_f``, ``loss_wf``) and mu values (Table 3:
``mu9`` ... ``mu11``; ``mu10`` is the default). Weights are found in this order: the ``weights``
parameter; ``<trained dir>/ssl_waeie/<variant or default>.pt`` (trained dir =
``$FUSIONBENCH_TRAINED`` or ``~/.cache/fusionbench/trained``, where ``fusionbench train ssl_waeie``
writes); the weights shipped in this package (``weights/<variant or default>.pt``). See
``MODEL_CARD.md`` for the architecture choices, the training recipe and the scores.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from fusionbench.errors import MissingWeightsError, WeightsError
from fusionbench.methods.ssl_waeie.train import trainer
from fusionbench.registry import register_method

PACKAGE_WEIGHTS = Path(__file__).resolve().parent / "weights"
_VARIANTS = ("no_wae", "no_iee", "sl_iee", "loss_f", "loss_wf", "mu9", "mu9.5", "mu10", "mu10.5", "mu11")
_CACHE: dict[tuple[str, int, int], object] = {}
_LOCK = threading.Lock()


def _trained_dir() -> Path:
    from fusionbench.paths import trained_dir

    return trained_dir()


def resolve_weights(config: str = "default", weights: str | os.PathLike | None = None) -> Path:
    """The weights file for a configuration (lookup order in the module docstring)."""
    from fusionbench.methods.ssl_waeie.model import weight_names

    if weights:
        p = Path(weights).expanduser()
        if not p.is_file():
            raise MissingWeightsError(f"{p}: weights file not found")
        return p
    stems = weight_names(None if config == "default" else config)
    for folder in (_trained_dir() / "ssl_waeie", PACKAGE_WEIGHTS):
        for stem in stems:
            if (folder / f"{stem}.pt").is_file():
                return folder / f"{stem}.pt"
    v = "" if config == "default" else f" --variant {config}"
    raise MissingWeightsError(f"no weights for ssl_waeie{'' if config == 'default' else ':' + config}; "
                       f"train them with `fusionbench train ssl_waeie{v}` (looked in "
                       f"{_trained_dir() / 'ssl_waeie'} and {PACKAGE_WEIGHTS})")


def resolve_params(params: dict) -> dict:
    """``params`` with ``weights`` replaced by the file that will actually be used (a path string).

    For the runner's cache key: a key built from the resolved parameters hashes the weights
    file's content, so retraining into the trained-weights folder invalidates cached results.
    """
    out = dict(params)
    out["weights"] = str(resolve_weights(out.get("config", "default"), out.get("weights")))
    return out


def load_model(path: Path, config: str = "default", device: str = "cpu"):
    """The eval-mode network of a weights file (cached by path, size and mtime).

    Raises :class:`WeightsError` when the file is unreadable, not SSL-WAEIE weights, or holds a
    network whose architecture differs from the requested configuration's.
    """
    from fusionbench.methods.ssl_waeie.model import config_for
    from fusionbench.methods.ssl_waeie.train import load_weights_file, model_from_weights

    st = path.stat()
    key = (f"{path.resolve()}|{config}|{device}", st.st_size, st.st_mtime_ns)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        obj = load_weights_file(path)
        model = model_from_weights(obj, path)
        want = config_for(None if config == "default" else config).arch_dict()
        have = model.cfg.arch_dict()
        if want != have:
            diff = ", ".join(f"{k}={have[k]} (needs {want[k]})" for k in want if want[k] != have[k])
            raise WeightsError(f"{path}: weights were trained for another network than ssl_waeie"
                               f"{'' if config == 'default' else ':' + config}: {diff}")
        model.eval().to(device)
        _CACHE[key] = model
        return model


def fuse_arrays(ir: np.ndarray, vi: np.ndarray, model, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """``(F, tau_i)``: F = tau_i I_i + (1 - tau_i) I_v in float64 on 0..255, tau_i from the network."""
    import torch

    prev = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with torch.no_grad():
            t_ir = torch.from_numpy(np.asarray(ir, np.float32) / 255.0)[None, None].to(device)
            t_vi = torch.from_numpy(np.asarray(vi, np.float32) / 255.0)[None, None].to(device)
            tau_i = model(t_ir, t_vi).tau_i[0, 0].double().cpu().numpy()
    finally:
        torch.use_deterministic_algorithms(prev)
    ir64, vi64 = np.asarray(ir, np.float64), np.asarray(vi, np.float64)
    return tau_i * ir64 + (1.0 - tau_i) * vi64, tau_i


def _device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


@register_method(
    "ssl_waeie", resources={"GPU": 1},
    description="SSL-WAEIE: weighted auto-encoder + CNN information exchange (paper's method, trained here on tno_train)",
    mem_bytes_per_pixel=3000, reference="Zhang, Nie, Cao, SSL-WAEIE, IEEE/CAA J. Autom. Sinica 9, 2022; implemented from the paper (no code released)",
    params={"config": "default", "weights": None, "device": "auto"},
    variants={v: {"config": v} for v in _VARIANTS},
    version="1",
    trainer=trainer,
    resolve_params=resolve_params,
)
def ssl_waeie(ir: np.ndarray, vi: np.ndarray, *, config: str = "default",
              weights: str | os.PathLike | None = None, device: str = "auto") -> np.ndarray:
    """Fuse with SSL-WAEIE: ``F = tau_i I_i + tau_v I_v`` with tau from the trained CIEN.

    ``ir``, ``vi``: float64 gray 0..255, same shape (any size). Returns float64 on 0..255
    (a per-pixel convex combination of the sources). Eval mode, deterministic algorithms.
    """
    path = resolve_weights(config, weights)
    dev = _device(device)
    model = load_model(path, config, dev)
    fused, _ = fuse_arrays(ir, vi, model, dev)
    return fused
