"""Two-phase SSL-WAEIE training on random patches of ``tno_train`` (never the ``tno`` test pairs).

Phase 1 trains the WAE with ``L_WAE`` (eq. 9). Phase 2 trains the CIEN with ``L_CIEN`` (eq. 12)
while the WAE encoder is fine-tuned at ``lr_wae_ratio * lr`` (the paper: a tenth). The ``no_wae``
ablation skips phase 1 and trains the (randomly initialised) encoder at the full rate in phase 2.
Adam(beta1 = 0.5, beta2 = 0.999, eps = 1e-8) in both phases; a cosine decay to 5% of the rate
within each phase (see MODEL_CARD.md for every choice and why).

Outputs (all written atomically): the weights file ``OUT`` (``{"format", "config", "state_dict",
"meta"}``, loadable with ``torch.load(weights_only=True)``), the loss log ``OUT`` with suffix
``.losses.csv`` (one row per ``LOG_EVERY`` steps, mean of the terms since the previous row), and
while training a resumable checkpoint ``OUT`` with suffix ``.ckpt`` (removed at the end).
"""
from __future__ import annotations

import csv
import io
import math
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fusionbench.errors import InputError, WeightsError
from fusionbench.imageio import atomic_write_bytes, atomic_write_text
from fusionbench.methods._nets import unsafe_pickle_reason
from fusionbench.methods.ssl_waeie import losses as L
from fusionbench.methods.ssl_waeie.model import SSLConfig, SSLWAEIE, build, config_for

FORMAT = "fusionbench-ssl_waeie-weights"
LOG_EVERY = 10
CKPT_EVERY_S = 60.0
LOG_FIELDS = ["step", "phase", "epoch", "lr", "total", "w_wae", "ssim", "fid", "ie", "seconds"]


def trained_dir() -> Path:
    """Where ``fusionbench train`` writes by default: ``$FUSIONBENCH_TRAINED`` or ``~/.cache/fusionbench/trained``."""
    from fusionbench.paths import trained_dir as _trained

    return _trained()


def run_name(variant: str | None, mu: float | None) -> str:
    """File stem for a training run: the variant, ``mu<X>`` for a bare mu, or ``<variant>_mu<X>``."""
    if mu is None:
        return variant or "default"
    return f"mu{mu:g}" if not variant else f"{variant}_mu{mu:g}"


class PatchSampler:
    """Random ``patch x patch`` crops (with random flips) of the training pairs, area-weighted.

    Pairs are float32 tensors on 0..1; every draw comes from ``numpy.random.Generator``, whose
    state is saved in checkpoints, so a resumed run draws the same patches.
    """

    def __init__(self, pairs: list[tuple[np.ndarray, np.ndarray]], patch: int, batch: int, seed: int) -> None:
        small = [i for i, (a, _) in enumerate(pairs) if min(a.shape) < patch]
        if small:
            raise InputError(f"training images smaller than the {patch}x{patch} patch: pairs {small}")
        self.ir = [torch.from_numpy(np.ascontiguousarray(a, np.float32) / 255.0) for a, _ in pairs]
        self.vi = [torch.from_numpy(np.ascontiguousarray(b, np.float32) / 255.0) for _, b in pairs]
        area = np.array([a.size for a, _ in pairs], np.float64)
        self.p = area / area.sum()
        self.total_pixels = int(area.sum())
        self.patch, self.batch = patch, batch
        self.rng = np.random.default_rng(seed)

    def steps_per_epoch(self) -> int:
        return max(1, math.ceil(self.total_pixels / (self.patch ** 2 * self.batch)))

    def draw(self) -> tuple[torch.Tensor, torch.Tensor]:
        k, p = self.batch, self.patch
        idx = self.rng.choice(len(self.ir), size=k, p=self.p)
        u = self.rng.random((k, 4))
        irs, vis = [], []
        for j, i in enumerate(idx):
            h, w = self.ir[i].shape
            y, x = int(u[j, 0] * (h - p + 1)), int(u[j, 1] * (w - p + 1))
            a, b = self.ir[i][y:y + p, x:x + p], self.vi[i][y:y + p, x:x + p]
            dims = [d for d, f in ((0, u[j, 2] < 0.5), (1, u[j, 3] < 0.5)) if f]
            if dims:
                a, b = a.flip(dims), b.flip(dims)
            irs.append(a)
            vis.append(b)
        return torch.stack(irs)[:, None], torch.stack(vis)[:, None]


def load_training_pairs(data_root: Path | None, dataset: str = "tno_train") -> list[tuple[np.ndarray, np.ndarray]]:
    """Gray float64 (infrared, visible) arrays of a dataset's pairs (refuses the ``tno`` test set)."""
    from fusionbench.data import load_dataset, validate_pairs

    if dataset == "tno":
        raise InputError("refusing to train on the tno test pairs; use tno_train")
    ref = load_dataset(dataset, root=data_root)
    label, pairs = ref.label, list(ref.pairs)
    validate_pairs(pairs, f"dataset {label}")
    return [(p.ir(), p.vi()) for p in pairs]


def _plan(cfg: SSLConfig, spe: int, epochs: float | None, max_steps: int | None) -> tuple[int, int]:
    """Steps of phase 1 and phase 2. ``epochs`` sets phase 2 and scales phase 1 by the same ratio."""
    e1, e2 = cfg.wae_epochs, cfg.cien_epochs
    if epochs is not None:
        e1, e2 = e1 * epochs / e2, float(epochs)
    n1 = int(round(e1 * spe)) if cfg.pretrain_wae else 0
    n2 = max(1, int(round(e2 * spe)))
    if max_steps is not None and n1 + n2 > max_steps:
        if max_steps < 1:
            raise InputError("--max-steps must be at least 1")
        n1 = min(n1, max(1, int(round(max_steps * n1 / (n1 + n2)))), max_steps - 1) if n1 else 0
        n2 = max_steps - n1
    return n1, n2


def _lr_at(cfg: SSLConfig, base: float, k: int, n: int) -> float:
    if cfg.lr_decay == "none" or n <= 1:
        return base
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * k / n)))


def _make_optimizer(model: SSLWAEIE, cfg: SSLConfig, phase: int) -> torch.optim.Adam:
    kw = dict(betas=tuple(cfg.betas), eps=cfg.adam_eps)
    if phase == 1:
        return torch.optim.Adam([{"params": model.wae.parameters(), "lr": cfg.lr, "base": cfg.lr}], **kw)
    enc_lr = cfg.lr * (cfg.lr_wae_ratio if cfg.pretrain_wae else 1.0)
    return torch.optim.Adam([{"params": model.cien.parameters(), "lr": cfg.lr, "base": cfg.lr},
                             {"params": model.wae.encoder.parameters(), "lr": enc_lr, "base": enc_lr}], **kw)


def _torch_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _write_log(path: Path, rows: list[dict]) -> None:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=LOG_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_text(path, out.getvalue())


def _side(out: Path, suffix: str) -> Path:
    return out.with_name(out.stem + suffix)


def load_weights_file(path: Path) -> dict:
    """Read and check a weights file; any problem raises a one-line :class:`WeightsError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is one user-facing line
        why = unsafe_pickle_reason(exc)
        if why is not None:
            raise WeightsError(f"{path}: refused: holds objects other than tensors and plain values "
                               f"(an unsafe pickle: {why})") from None
        raise WeightsError(f"{path}: not a readable PyTorch weights file ({exc.__class__.__name__})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT or "state_dict" not in obj or "config" not in obj:
        raise WeightsError(f"{path}: not an SSL-WAEIE weights file (written by `fusionbench train ssl_waeie`)")
    return obj


def load_checkpoint(path: Path) -> dict | None:
    """A training checkpoint, read with ``torch.load(weights_only=True)`` (tensors and plain values:
    model and optimizer state dicts, the loss rows, numpy's bit-generator state as a dict of ints,
    torch's RNG state as a uint8 tensor). A checkpoint holding any other object (a pickle that
    would run code when loaded) is refused with :class:`WeightsError`; an unreadable (truncated,
    foreign) one is ignored with a warning, and training starts again."""
    import pickle
    import warnings

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = unsafe_pickle_reason(exc)
        if first is not None:
            raise WeightsError(f"{path}: refused: the checkpoint holds objects other than tensors and "
                               f"plain values (an unsafe pickle: {first}); delete it to train from scratch") from None
        first = (str(exc).splitlines() or [""])[0][:160]
        warnings.warn(f"{path}: unreadable checkpoint ({first}); training starts again", UserWarning, stacklevel=2)
    except Exception as exc:  # noqa: BLE001 - an unreadable checkpoint is ignored (training restarts)
        warnings.warn(f"{path}: unreadable checkpoint ({exc.__class__.__name__}); training starts again",
                      UserWarning, stacklevel=2)
    return None


def model_from_weights(obj: dict, path: Path) -> SSLWAEIE:
    """Build the network described by a weights file and load its parameters."""
    try:
        cfg = SSLConfig.from_dict(obj["config"])
        model = SSLWAEIE(cfg)
        model.load_state_dict(obj["state_dict"], strict=True)
    except Exception as exc:  # noqa: BLE001
        msg = str(exc).splitlines()[0][:200]
        raise WeightsError(f"{path}: weights do not match the SSL-WAEIE network ({msg})") from None
    return model


def trainer(variant: str | None = None, *, mu: float | None = None, epochs: float | None = None,
            max_steps: int | None = None, seed: int = 0, out: Path | None = None,
            data_root: Path | None = None, progress: bool = True, resume: bool = True,
            dataset: str = "tno_train", config: SSLConfig | None = None) -> dict:
    """Train SSL-WAEIE (``variant`` = a name of :data:`VARIANT_OVERRIDES`, None = default).

    ``epochs`` sets the phase-2 epochs (phase 1 scaled by the recipe's ratio); ``max_steps`` caps
    the total steps of both phases (shared in proportion). ``out`` defaults to
    ``<trained dir>/ssl_waeie/<run name>.pt``. With ``resume`` a matching ``.ckpt`` beside ``out``
    is continued, and a finished ``out`` trained with the same settings is returned untouched.
    ``config`` (tests/experiments) replaces the variant's :class:`SSLConfig`.

    Returns ``{"out", "log", "seconds", "steps", "final_losses", "resumed", "skipped"}``.
    """
    from tqdm import tqdm

    t_start = time.perf_counter()
    if config is None:
        try:
            cfg = config_for(variant, mu)
        except KeyError:
            from fusionbench.methods.ssl_waeie.model import VARIANT_OVERRIDES
            raise InputError(f"unknown ssl_waeie variant {variant!r} (variants: "
                             f"{', '.join(v for v in VARIANT_OVERRIDES if v != 'default')})") from None
    else:
        cfg = config
    name = run_name(variant, mu)
    out = Path(out).expanduser() if out else trained_dir() / "ssl_waeie" / f"{name}.pt"
    log_path, ckpt_path = _side(out, ".losses.csv"), _side(out, ".ckpt")
    pairs = load_training_pairs(Path(data_root).expanduser() if data_root else None, dataset)
    sampler = PatchSampler(pairs, cfg.patch, cfg.batch, seed)
    spe = sampler.steps_per_epoch()
    n1, n2 = _plan(cfg, spe, epochs, max_steps)
    plan = {"config": cfg.to_dict(), "seed": seed, "n1": n1, "n2": n2, "dataset": dataset,
            "total_pixels": sampler.total_pixels}

    if resume and out.is_file():
        try:
            done = load_weights_file(out)
        except WeightsError:
            done = None
        if done and done.get("meta", {}).get("plan") == plan:
            meta = done["meta"]
            if progress:
                print(f"{out} is already trained with these settings; returning it "
                      "(use --no-resume to train again)", file=sys.stderr)
            return {"out": out, "log": log_path, "seconds": meta["seconds"], "steps": n1 + n2,
                    "final_losses": meta["final_losses"], "resumed": False, "skipped": True}

    model = build(cfg, seed)
    step, rows, seconds_before, resumed = 0, [], 0.0, False
    opt_state = None
    if resume and ckpt_path.is_file():
        ck = load_checkpoint(ckpt_path)
        if isinstance(ck, dict) and ck.get("plan") == plan:
            model.load_state_dict(ck["model"])
            step, rows, seconds_before = ck["step"], ck["rows"], ck["seconds"]
            sampler.rng.bit_generator.state = ck["rng"]
            torch.set_rng_state(ck["torch_rng"])
            opt_state = ck["opt"] if ck.get("opt_phase") == (1 if step < n1 else 2) else None
            resumed = True
            if progress:
                print(f"resuming {ckpt_path} at step {step}/{n1 + n2}", file=sys.stderr)

    phase = 1 if step < n1 else 2
    opt = _make_optimizer(model, cfg, phase)
    if opt_state is not None:
        opt.load_state_dict(opt_state)

    def save_ckpt() -> None:
        atomic_write_bytes(ckpt_path, _torch_bytes({
            "plan": plan, "model": model.state_dict(), "opt": opt.state_dict(), "opt_phase": phase, "step": step, "rows": rows,
            "seconds": seconds_before + time.perf_counter() - t_start, "rng": sampler.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state()}))
        _write_log(log_path, rows)

    bar = tqdm(total=n1 + n2, initial=step, desc=f"train ssl_waeie:{name}", unit="step",
               disable=not progress, file=sys.stderr, dynamic_ncols=True)
    acc: dict[str, float] = {}
    acc_n = 0
    last_ckpt = time.perf_counter()
    model.train()
    while step < n1 + n2:
        if phase == 1 and step >= n1:
            phase = 2
            opt = _make_optimizer(model, cfg, 2)
        k, n = (step, n1) if phase == 1 else (step - n1, n2)
        for g in opt.param_groups:
            g["lr"] = _lr_at(cfg, g["base"], k, n)
        ir, vi = sampler.draw()
        if phase == 1:
            rec_i, rec_v = model.wae(ir, vi)
            terms = L.wae_loss(rec_i, rec_v, ir, vi, cfg.lam)
        else:
            terms = L.cien_loss(model(ir, vi), ir, vi, loss=cfg.loss, mu=cfg.mu, bound=cfg.ie_bound)
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        opt.step()
        if not torch.isfinite(terms["total"]):
            raise FloatingPointError(f"ssl_waeie training diverged at step {step} (loss {terms['total'].item()})")
        step += 1
        for key, v in terms.items():
            acc[key] = acc.get(key, 0.0) + float(v.detach())
        acc_n += 1
        if step % LOG_EVERY == 0 or step == n1 + n2 or step == n1:
            row = {"step": step, "phase": phase, "epoch": round(k / spe, 4) if phase == 1 else round((step - n1) / spe, 4),
                   "lr": opt.param_groups[0]["lr"], "seconds": round(seconds_before + time.perf_counter() - t_start, 2)}
            row.update({f: "" for f in ("total", "w_wae", "ssim", "fid", "ie")})
            row.update({key: v / acc_n for key, v in acc.items()})
            rows.append(row)
            bar.set_postfix({key: f"{v / acc_n:.4g}" for key, v in acc.items() if key != "total"}, refresh=False)
            acc, acc_n = {}, 0
        bar.update(1)
        if time.perf_counter() - last_ckpt > CKPT_EVERY_S and step < n1 + n2:
            save_ckpt()
            last_ckpt = time.perf_counter()
    bar.close()

    seconds = seconds_before + time.perf_counter() - t_start
    final = _final_losses(rows, n1)
    meta = {"variant": variant or "default", "name": name, "seed": seed, "plan": plan, "steps": n1 + n2,
            "steps_per_epoch": spe, "seconds": round(seconds, 1), "final_losses": final,
            "torch": str(torch.__version__), "threads": torch.get_num_threads(),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    model.eval()
    atomic_write_bytes(out, _torch_bytes({"format": FORMAT, "config": cfg.to_dict(),
                                          "state_dict": model.state_dict(), "meta": meta}))
    _write_log(log_path, rows)
    if ckpt_path.exists():
        ckpt_path.unlink()
    return {"out": out, "log": log_path, "seconds": seconds, "steps": n1 + n2, "final_losses": final,
            "resumed": resumed, "skipped": False}


def _final_losses(rows: list[dict], n1: int, last: int = 5) -> dict[str, float]:
    """Means of the last ``last`` log rows of each phase (about the last 50 steps)."""
    out: dict[str, float] = {}
    for phase, keys in ((1, ("total", "w_wae", "ssim")), (2, ("total", "fid", "ie"))):
        rs = [r for r in rows if r["phase"] == phase][-last:]
        for k in keys:
            vals = [r[k] for r in rs if r.get(k) != ""]
            if vals:
                out[f"{'wae' if phase == 1 else 'cien'}_{k}"] = float(np.mean(vals))
    return out
