"""TarDAL (Liu et al., CVPR 2022): the target-aware dual adversarial generator, authors' weights.

Network (rebuilt from ``modules/generator.py`` of JinyuanLiu-CV/TarDAL @ 1d1d1e9, the commit
that published the three weight files; Linfeng-Tang/VIF-Benchmark ``TarDAL/`` holds the same
code and files), ``Generator(dim=32, depth=3)``; every convolution is 3x3, zero padding 1, bias:

* encoder: ``conv 2->32``, BatchNorm, ReLU on ``cat[IR, VI]`` (IR first);
* dense part: three layers ``conv 32k->32`` + BatchNorm + ReLU (k = 1, 2, 3), each output
  appended after its input (``cat[x, t]``): 128 channels;
* fuse part: ``conv 128->128`` + ReLU, ``conv 128->64`` + BN + ReLU, ``conv 64->32`` + BN +
  ReLU, ``conv 32->1`` + ``tanh``; the script clips the result to 0..1.

All layers are stride 1: any size works without padding.

Test script (``fuse.py``, ``pipeline/eval.py``, ``utils/image_pair.py``): IR read with
``cv2.imread(..., GRAYSCALE)``, the visible image in colour and converted with OpenCV's
``COLOR_BGR2GRAY``; both ``/255``, float32. The README runs the three weights as

* ``tardal`` (``weights/tardal.pt``, "optimised for human vision", the default): **without**
  ``--eval``, i.e. the network stays in training mode and every BatchNorm normalises with the
  mean and (biased) variance of the image being fused (the file's running statistics are not
  used; its step counters are 0);
* ``tardal:plus`` (``tardal+.pt``, "optimised for object detection") and ``tardal:plusplus``
  (``tardal++.pt``, "joint human vision and detection") **with** ``--eval`` (stored statistics).

``bn='batch'`` / ``bn='running'`` overrides that choice. The batch statistics are computed
without touching the stored buffers, so calls stay independent and deterministic. Output
(``ImagePair.save_fus``): gray, ``clip(out, 0, 1) * 255`` written by ``cv2.imwrite`` (rounded,
which the result store does too), returned unquantised; with ``--color`` (used in the README for
all three) the fused value is truncated to uint8, combined with the visible image's Cr/Cb
(``COLOR_BGR2YCrCb``) and converted back with ``COLOR_YCrCb2BGR``; this method does that when
the visible image is colour (``vi_rgb``) and returns ``HxWx3``. Not reproduced: the
VIF-Benchmark wrapper also runs the net in half precision (``--half``); this method uses float32,
as the authors' README commands do.

Verification: no TarDAL images of our pairs are published. The forward pass was compared with
the authors' ``Generator`` class (``modules/generator.py`` at 1d1d1e9, imported from the fetched
repository in a temporary folder, never committed) on a random 37x53 input and on TNO pair 06,
for all three files, in training mode for ``tardal`` and eval mode for the others (and eval
mode for ``tardal`` too): the outputs are bit-identical (max |difference| 0).
``tests/methods/test_modern_methods_torch.py`` repeats the check against an independent float64
NumPy re-implementation (< 1e-4). Note that ``tardal:plus`` gives dark images (TNO 06: mean 18
of 255, 48 % of the pixels clipped at 0) with either BatchNorm mode; that is the file's own
behaviour, identical in the authors' module.

Cost (CPU, one thread, 640x480): about 5.5 s, peak extra memory about 465 MiB (1.5 GiB/MP).

Weights: ``TarDAL/tardal.pt``, ``tardal+.pt``, ``tardal++.pt`` (plain state dicts, 46 tensors).
"""
from __future__ import annotations

import numpy as np

from fusionbench.data import PairContext
from fusionbench.registry import register_method
from fusionbench.methods import _nets

SOURCE = ("github.com/JinyuanLiu-CV/TarDAL weights/{name} @ 1d1d1e9 (also Linfeng-Tang/VIF-Benchmark "
          "Checkpoint/TarDAL/{name} @ 23f2e51)")
FILES = {"tardal": "tardal.pt", "plus": "tardal+.pt", "plusplus": "tardal++.pt"}
DEFAULT_BN = {"tardal": "batch", "plus": "running", "plusplus": "running"}
DIM, DEPTH = 32, 3


def _build(path):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def block(cin, cout, bn=True):
        layers = [nn.Conv2d(cin, cout, 3, padding=1)]
        if bn:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    def run(seq, x, batch_stats: bool):
        """A ``Sequential`` of conv[, BN], activation; BN with the image's own statistics when
        ``batch_stats`` (training-mode BatchNorm without updating the stored buffers)."""
        for m in seq:
            if isinstance(m, nn.BatchNorm2d) and batch_stats:
                x = F.batch_norm(x, None, None, m.weight, m.bias, training=True, eps=m.eps)
            else:
                x = m(x)
        return x

    class TarDALGenerator(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = block(2, DIM)
            self.dense = nn.ModuleList([block(DIM * (i + 1), DIM) for i in range(DEPTH)])
            self.fuse = nn.Sequential(
                block(DIM * (DEPTH + 1), DIM * 4, bn=False),
                block(DIM * 4, DIM * 2),
                block(DIM * 2, DIM),
                nn.Sequential(nn.Conv2d(DIM, 1, 3, padding=1), nn.Tanh()),
            )

        def forward(self, ir, vi, batch_stats: bool = False):
            x = run(self.encoder, torch.cat([ir, vi], 1), batch_stats)
            for layer in self.dense:
                x = torch.cat([x, run(layer, x, batch_stats)], 1)
            for stage in self.fuse:
                x = run(stage, x, batch_stats)
            return x

    net = TarDALGenerator()
    _nets.load_strict(net, _nets.read_torch(path, "tardal", key=None), "tardal", path)
    return net


def load_model(model: str = "tardal", ctx: PairContext | None = None):
    """The TarDAL generator with ``model`` in ``tardal``, ``plus``, ``plusplus`` (cached)."""
    name = FILES[model]
    rel = f"TarDAL/{name}"
    return _nets.cached_model(_build, _nets.weights_file(rel, SOURCE.format(name=name), "tardal", ctx))


def cv2_gray(rgb: np.ndarray) -> np.ndarray:
    """OpenCV's ``COLOR_BGR2GRAY`` of an ``HxWx3`` RGB image on 0..255 (uint8 result)."""
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(np.asarray(rgb).astype(np.uint8)), cv2.COLOR_RGB2GRAY)


def colourise(fused8: np.ndarray, vi_rgb: np.ndarray) -> np.ndarray:
    """``save_fus(color=True)``: uint8 Y with the visible Cr/Cb, back to RGB (OpenCV YCrCb)."""
    import cv2

    vi8 = np.ascontiguousarray(np.asarray(vi_rgb).astype(np.uint8))
    ycc = cv2.cvtColor(vi8, cv2.COLOR_RGB2YCrCb)
    ycc[..., 0] = fused8
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB).astype(np.float64)


def _resolve(params: dict) -> dict:
    """Make the implicit BatchNorm choice explicit for the cache key."""
    out = dict(params)
    if out.get("bn") is None:
        out["bn"] = DEFAULT_BN.get(out.get("model", "tardal"), "running")
    return out


@register_method(
    "tardal", resources={"GPU": 1},
    description="TarDAL (Liu et al. CVPR 2022) generator, authors' weights; variants plus, plusplus",
    reference="J. Liu, X. Fan, Z. Huang, G. Wu, R. Liu, W. Zhong, Z. Luo, Target-aware dual "
              "adversarial learning and a multi-scenario multi-modality benchmark to fuse "
              "infrared and visible for object detection, CVPR 2022; code "
              "github.com/JinyuanLiu-CV/TarDAL",
    params={"model": "tardal", "bn": None},
    variants={"plus": {"model": "plus"}, "plusplus": {"model": "plusplus"}},
    resolve_params=_resolve, needs_context=True, color=True, version="1",
    mem_bytes_per_pixel=1600)
def tardal(ir: np.ndarray, vi: np.ndarray, *, model: str = "tardal", bn: str | None = None,
           vi_rgb: np.ndarray | None = None, ctx: PairContext | None = None) -> np.ndarray:
    """Fuse with TarDAL; float64 0..255 out (``HxW``, or ``HxWx3`` for a colour visible image).

    ``model``: ``tardal``, ``plus`` or ``plusplus`` (``tardal.pt``, ``tardal+.pt``,
    ``tardal++.pt``). ``bn``: ``batch`` or ``running``; None follows the authors' README
    (``batch`` for ``tardal``, ``running`` for the others).
    """
    if model not in FILES:
        raise ValueError(f"tardal: unknown model {model!r} (tardal, plus, plusplus)")
    bn = bn or DEFAULT_BN[model]
    if bn not in ("batch", "running"):
        raise ValueError(f"tardal: unknown bn {bn!r} (batch, running)")
    net = load_model(model, ctx)
    dev = next(net.parameters()).device
    vi_gray = cv2_gray(vi_rgb).astype(np.float64) if vi_rgb is not None else vi
    with _nets.inference():
        x_ir = _nets.to_batch(ir, scale=1.0 / 255.0, dev=dev)
        x_vi = _nets.to_batch(vi_gray, scale=1.0 / 255.0, dev=dev)
        out = np.clip(_nets.to_numpy(net(x_ir, x_vi, batch_stats=bn == "batch")), 0.0, 1.0) * 255.0
    if vi_rgb is None:
        return out
    return colourise(out.astype(np.uint8), vi_rgb)
