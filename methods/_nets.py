"""Private building blocks for the deep competitors (DenseFuse, DIDFuse, DualFuse, U2Fusion).

What lives here:

* locating a weights file under the weights root (:func:`weights_file`), with a one-line
  :class:`~fusionbench.errors.WeightsError` naming the expected path and where the file comes
  from when it is missing;
* reading PyTorch pickles (``torch.load(weights_only=True)``, CPU) and TensorFlow checkpoints
  converted to ``.npz`` (HWIO kernels), with a clear error when a file is corrupt;
* strict state-dict matching (:func:`load_strict`): every tensor of the file must fill a
  parameter or buffer of the network with the same shape and every parameter must be filled,
  otherwise a ``WeightsError`` lists the differences;
* device choice (CUDA when present, else CPU; ``FUSIONBENCH_DEVICE`` overrides), deterministic
  inference (eval mode, ``torch.inference_mode``, cuDNN deterministic, TF32 off) and a
  per-process cache of loaded networks (:func:`cached_model`, an ``lru_cache`` keyed by the
  builder, the file paths and the device);
* small layers: :class:`Conv` (optional reflection padding, 3x3 by default) and the TF-style
  dense block helpers.

Nothing here is registered; the method modules import it.

RFN-Nest and FusionGAN are not rebuilt: their official weights are not in the weights root
(blobs of 4 MiB or more were left out of the snapshots, see the weights MANIFEST), so their rows
use the authors' published images (``published:RFN-Nest``, ``published:FusionGAN``).
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from fusionbench.data import PairContext, weights_root
from fusionbench.errors import MissingWeightsError, WeightsError

MANIFEST_HINT = "see MANIFEST.md in the weights root"


def _torch():
    import torch

    return torch


def resolve_root(ctx: PairContext | None = None) -> Path:
    """The weights root for a call: ``--weights-root``/``$FUSIONBENCH_WEIGHTS``, else weights/
    beside or under the run's data root (``ctx.data_root``), else under the default data root."""
    if ctx is None:
        return weights_root()
    return weights_root(ctx.weights_root, root=ctx.data_root)


def weights_file(rel: str, source: str, who: str, ctx: PairContext | None = None) -> Path:
    """Absolute path of ``rel`` under the weights root; one-line ``MissingWeightsError`` (a
    ``WeightsError``) when absent, so that ``fusionbench check``/``reproduce`` skip the method.

    ``source`` says where the file is published (repository, path, commit), as in the
    weights MANIFEST.
    """
    p = resolve_root(ctx) / rel
    if not p.is_file():
        raise MissingWeightsError(f"{who}: weights file not found: {p} (get it from {source}; set "
                           "--weights-root or FUSIONBENCH_WEIGHTS to the folder holding "
                           f"{rel.split('/')[0]}/)")
    return p


def unsafe_pickle_reason(exc: BaseException) -> str | None:
    """For the error of ``torch.load(weights_only=True)`` on a pickle holding other objects (one
    that could run code when loaded): torch's specific line (``... GLOBAL posix.system ...``);
    None for any other error."""
    text = str(exc)
    if "weights only load failed" not in text.lower():
        return None
    lines = [ln.strip() for ln in text.splitlines()[1:] if "global" in ln.lower()]
    if not lines:
        return None  # e.g. "Unsupported operand 110": no object that runs code, a corrupt file
    return lines[0][:200]


def read_torch(path: Path, who: str, key: str | None = "weight") -> dict[str, Any]:
    """Read a ``torch.save`` file on the CPU (``weights_only=True``).

    With ``key`` the file must be a dict holding the state dict under that key (DIDFuse and
    DualFuse save ``{'weight': state_dict, 'epoch': ...}``); with ``key=None`` the file is the
    state dict itself.
    """
    torch = _torch()
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling/zip failure is a corrupt file
        why = unsafe_pickle_reason(exc)
        if why is not None:
            raise WeightsError(f"{who}: {path}: refused: holds objects other than tensors and plain "
                               f"values (an unsafe pickle: {why})") from None
        raise WeightsError(f"{who}: {path}: corrupt or unreadable weights file "
                           f"({exc.__class__.__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''})"
                           ) from None
    if key is not None:
        if not isinstance(obj, Mapping) or key not in obj:
            found = sorted(obj)[:8] if isinstance(obj, Mapping) else type(obj).__name__
            raise WeightsError(f"{who}: {path}: expected a dict with a {key!r} entry, found {found}")
        obj = obj[key]
    if not isinstance(obj, Mapping) or not all(torch.is_tensor(v) for v in obj.values()):
        raise WeightsError(f"{who}: {path}: not a PyTorch state dict of tensors")
    return dict(obj)


def read_npz(path: Path, who: str) -> dict[str, np.ndarray]:
    """Read a plain ``.npz`` (TF variables converted to NumPy, see the weights MANIFEST)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: np.asarray(z[k]) for k in z.files}
    except Exception as exc:  # noqa: BLE001 - BadZipFile, ValueError, OSError...
        raise WeightsError(f"{who}: {path}: corrupt or unreadable .npz weights file "
                           f"({exc.__class__.__name__})") from None
    bad = [k for k, v in out.items() if v.dtype.kind != "f" or not np.isfinite(v).all()]
    if bad:
        raise WeightsError(f"{who}: {path}: non-float or non-finite tensors: {', '.join(bad[:5])}")
    return out


def tf_conv_names(pairs) -> dict[str, str]:
    """``{module.weight: tf/kernel, module.bias: tf/bias}`` for ``(module, tf_scope)`` pairs."""
    out: dict[str, str] = {}
    for mod, tf in pairs:
        out[f"{mod}.weight"] = f"{tf}/kernel"
        out[f"{mod}.bias"] = f"{tf}/bias"
    return out


def hwio_to_oihw(k: np.ndarray) -> np.ndarray:
    """TF conv kernel ``[kh, kw, in, out]`` -> PyTorch ``[out, in, kh, kw]``."""
    return np.ascontiguousarray(np.transpose(k, (3, 2, 0, 1)))


def tf_state(arrays: Mapping[str, np.ndarray], names: Mapping[str, str], who: str, path: Path
             ) -> dict[str, Any]:
    """Map TF variable names to module keys (``names``: module key -> TF name), strictly.

    Every TF variable of the file must be used and every mapped name must exist; kernels
    (4-D) are converted HWIO -> OIHW.
    """
    torch = _torch()
    wanted = set(names.values())
    missing = sorted(wanted - set(arrays))
    extra = sorted(set(arrays) - wanted)
    if missing or extra:
        raise WeightsError(f"{who}: {path}: variables do not match the network: "
                           f"missing {missing[:6] or 'none'}, unexpected {extra[:6] or 'none'}")
    out = {}
    for key, tf_name in names.items():
        a = arrays[tf_name]
        out[key] = torch.from_numpy(hwio_to_oihw(a) if a.ndim == 4 else np.ascontiguousarray(a))
    return out


def load_strict(module, state: Mapping[str, Any], who: str, path: Path | str) -> None:
    """Load ``state`` into ``module`` with every tensor matched by name and shape.

    Raises a ``WeightsError`` listing missing keys, unexpected keys and shape mismatches
    (PyTorch's own error is a multi-line message)."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
              if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or extra or shapes:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} ({', '.join(missing[:4])})")
        if extra:
            parts.append(f"unexpected {len(extra)} ({', '.join(extra[:4])})")
        if shapes:
            parts.append(f"shape mismatch {len(shapes)} ({'; '.join(shapes[:3])})")
        raise WeightsError(f"{who}: {path}: weights do not fit the network: " + ", ".join(parts))
    module.load_state_dict(dict(state), strict=True)


def device():
    """``FUSIONBENCH_DEVICE`` when set (e.g. ``cpu``), else CUDA when available, else CPU."""
    torch = _torch()
    want = os.environ.get("FUSIONBENCH_DEVICE")
    if want:
        try:
            dev = torch.device(want)
        except RuntimeError:
            from fusionbench.errors import InputError

            raise InputError(f"FUSIONBENCH_DEVICE={want!r} is not a torch device (cpu, cuda, cuda:1)") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            from fusionbench.errors import InputError

            raise InputError(f"FUSIONBENCH_DEVICE={want!r} but PyTorch sees no CUDA GPU here "
                             "(unset it, or use FUSIONBENCH_DEVICE=cpu)")
        return dev
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@functools.lru_cache(maxsize=16)
def _cached(builder: Callable[..., Any], paths: tuple[str, ...], dev: str):
    torch = _torch()
    net = builder(*[Path(p) for p in paths])
    net = net.to(torch.device(dev)).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def cached_model(builder: Callable[..., Any], *paths: Path):
    """``builder(*paths)`` built once per process, file paths and device, in eval mode."""
    return _cached(builder, tuple(str(Path(p).resolve()) for p in paths), str(device()))


def clear_cache() -> None:
    """Forget every loaded network (tests use it)."""
    _cached.cache_clear()


@contextmanager
def inference():
    """Deterministic, gradient-free inference: cuDNN deterministic, no TF32, inference mode."""
    torch = _torch()
    cudnn = torch.backends.cudnn
    old = (cudnn.deterministic, cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32, cudnn.allow_tf32)
    cudnn.deterministic, cudnn.benchmark = True, False
    torch.backends.cuda.matmul.allow_tf32 = False
    cudnn.allow_tf32 = False
    try:
        with torch.inference_mode():
            yield
    finally:
        cudnn.deterministic, cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32, cudnn.allow_tf32 = old


def to_batch(*images: np.ndarray, scale: float = 1.0, dev=None):
    """Stack gray float64 images (H, W) into a float32 tensor ``(N, 1, H, W)`` times ``scale``."""
    torch = _torch()
    arr = np.stack([np.asarray(im, dtype=np.float64) * scale for im in images])[:, None]
    return torch.from_numpy(arr.astype(np.float32)).to(dev if dev is not None else device())


def to_numpy(t) -> np.ndarray:
    """``(1, 1, H, W)`` (or ``(H, W)``) tensor -> float64 ``(H, W)`` array on the CPU."""
    a = t.detach().to("cpu").double().numpy()
    return a.reshape(a.shape[-2], a.shape[-1])


def _nn():
    import torch.nn as nn

    return nn


def conv_layer(cin: int, cout: int, *, k: int = 3, stride: int = 1, reflect: bool = False):
    """A 2-D convolution with 'same' padding: reflection padding of ``k//2`` then a VALID conv
    (``reflect=True``, as TF ``tf.pad(..., 'REFLECT')`` + VALID and PyTorch ReflectionPad2d), or
    zero padding inside the conv (``reflect=False``)."""
    nn = _nn()
    if reflect:
        return nn.Conv2d(cin, cout, k, stride, padding=k // 2, padding_mode="reflect")
    return nn.Conv2d(cin, cout, k, stride, padding=k // 2)


def minmax_stretch(x: np.ndarray) -> np.ndarray:
    """``(x - min) / (max - min) * 255`` (scipy.misc.imsave/bytescale of a float array)."""
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        return np.zeros_like(x, dtype=np.float64)
    return (x - lo) * (255.0 / (hi - lo))
