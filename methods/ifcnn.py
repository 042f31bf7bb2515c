"""IFCNN (Zhang et al., Information Fusion 2020): the general CNN fusion framework, authors' weights.

Network (rebuilt from ``Code/model.py`` of uzeful/IFCNN @ 8fe59c2), applied to each source
separately up to the fusion layer:

* ``conv1``: ResNet-101's first convolution (7x7, 3->64, no bias) with stride 1 and no padding,
  on the input padded by 3 pixels with edge replication, no activation;
* ``conv2``: replicate padding 1, 3x3 conv 64->64 without bias, BatchNorm (eval mode, stored
  statistics), ReLU;
* fusion: elementwise ``max`` (IFCNN-MAX), ``mean`` (IFCNN-MEAN) or ``sum`` (IFCNN-SUM) of the
  two ``conv2`` feature maps, each with its own trained weights;
* ``conv3`` as ``conv2``, then ``conv4``: 1x1 conv 64->3 with bias, no activation.

Every layer is stride 1, so any image size works without padding to a multiple.

Test script (``Code/IFCNN_Main.py``): every source is read with PIL ``convert('RGB')`` (a gray
file becomes R=G=B), ``ToTensor`` (``/255``) and ``Normalize(mean, std)``; the output is
de-normalised, clamped to 0..1, ``* 255`` and truncated to uint8 (``astype('uint8')``). For gray
datasets (infrared-visible, medical) the authors use ``mean = 0, std = 1`` and save
``cv2.cvtColor(img, COLOR_RGB2GRAY)`` of that uint8 image; for colour sets (multi-focus) they use
the ImageNet statistics ``mean = (0.485, 0.456, 0.406)``, ``std = (0.229, 0.224, 0.225)`` and
keep the RGB result. This method follows that: ``norm='auto'`` (default) is ``unit`` for a gray
visible image (returns the gray ``HxW``) and ``imagenet`` for a colour one (the RGB visible and
the gray IR replicated to 3 channels are fused; returns ``HxWx3``). ``norm='imagenet'`` (variant
``ifcnn:imagenet``) uses the ImageNet statistics for gray inputs too, as the third-party runs
in Linfeng-Tang/VIF-Benchmark (``IFCNN/IFCNN.py``) and Evaluation-for-Image-Fusion did.

Variants: ``ifcnn`` = ``ifcnn:max`` (the default; the authors' README and demo choose
IFCNN-MAX "for fusing multi-focus, infrared-visual and multi-modal medical images" and
IFCNN-MEAN for multi-exposure), ``ifcnn:mean``, ``ifcnn:sum``; ``ifcnn:imagenet`` is MAX with
ImageNet normalisation. The rules are symmetric, so the source order does not matter.

Agreement:

* the authors' own infrared-visible results (``Code/results/IFCNN-MAX-IV-*.png``, the 14 pairs
  whose inputs are in ``Code/datasets/IVDataset``; checked during development, not in the data
  root): default ``ifcnn``, median 90.4 dB, worst 87.0 dB, >= 99.98 % of the pixels equal;
* ``results/tno/IFCNN`` (16 TNO pairs, run by the SeAFusion author with ImageNet normalisation):
  ``ifcnn:imagenet`` median 94.5 dB, worst 92.2 dB (>= 99.996 % equal); the default (``unit``,
  the authors' infrared-visible setting) is a different image there: median 26.4 dB;
* ``results/vifb/IFCNN`` (21 colour pairs, stored as JPEG quality 75): default ``ifcnn`` (RGB
  fusion with ImageNet normalisation) median 40.9 dB, worst 36.6 dB; this output re-encoded as a
  JPEG of quality 75 is at median 48.4 dB, worst 39.5 dB, so most of the gap is the stored JPEG.
  Fusing only the Y channel and restoring Cb/Cr (VIF-Benchmark's ``img2RGB``) matched worse on
  the two pairs tried (43.5 and 33.5 dB against 45.6 and 39.7 dB before re-encoding).

The network's output is bit-identical to the authors' ``IFCNN`` class (``Code/model.py`` imported
in a temporary folder, with a stand-in for ``torchvision.models.resnet101``) for all three files.
Cost (CPU, one thread, 640x480): about 3.4 s, peak extra memory about 470 MiB (1.5 GiB/MP).

Weights: ``IFCNN/IFCNN-{MAX,MEAN,SUM}.pth`` (plain state dicts saved by PyTorch 0.4, so without
BatchNorm ``num_batches_tracked`` counters; those are filled with 0, they are not used in eval
mode).
"""
from __future__ import annotations

import numpy as np

from fusionbench.data import PairContext
from fusionbench.registry import register_method
from fusionbench.methods import _nets

SOURCE = "github.com/uzeful/IFCNN Code/snapshots/IFCNN-{rule}.pth @ 8fe59c2b1553e52acc793986208ca479d134a8da"
RULES = {"max": "MAX", "mean": "MEAN", "sum": "SUM"}
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
UNIT = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def weights_name(rule: str) -> str:
    return f"IFCNN/IFCNN-{RULES[rule]}.pth"


def _build(path):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class ConvBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(64, 64, 3, padding=0, bias=False)
            self.bn = nn.BatchNorm2d(64)

        def forward(self, x):
            return F.relu(self.bn(self.conv(F.pad(x, (1, 1, 1, 1), mode="replicate"))))

    class IFCNNNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, padding=0, bias=False)
            self.conv2 = ConvBlock()
            self.conv3 = ConvBlock()
            self.conv4 = nn.Conv2d(64, 3, 1)

        def features(self, x):
            return self.conv2(self.conv1(F.pad(x, (3, 3, 3, 3), mode="replicate")))

        def forward(self, a, b, rule: str):
            fa, fb = self.features(a), self.features(b)
            if rule == "max":
                f = torch.maximum(fa, fb)
            elif rule == "sum":
                f = fa + fb
            else:
                f = (fa + fb) / 2
            return self.conv4(self.conv3(f))

    net = IFCNNNet()
    state = _nets.read_torch(path, "ifcnn", key=None)
    for k in list(state):  # PyTorch 0.4 files have no BatchNorm step counters
        if k.endswith(".bn.running_mean"):
            state.setdefault(k.replace("running_mean", "num_batches_tracked"), torch.tensor(0))
    _nets.load_strict(net, state, "ifcnn", path)
    return net


def load_model(rule: str = "max", ctx: PairContext | None = None):
    """IFCNN with the authors' weights for ``rule`` (cached per process)."""
    src = SOURCE.format(rule=RULES[rule])
    return _nets.cached_model(_build, _nets.weights_file(weights_name(rule), src, "ifcnn", ctx))


def _variants():
    v = {r: {"rule": r} for r in RULES}
    v["imagenet"] = {"rule": "max", "norm": "imagenet"}
    return v


@register_method(
    "ifcnn", resources={"GPU": 1},
    description="IFCNN (Zhang et al. Inf. Fusion 2020), authors' weights; variants max (default), "
                "mean, sum, imagenet",
    reference="Y. Zhang, Y. Liu, P. Sun, H. Yan, X. Zhao, L. Zhang, IFCNN: A general image fusion "
              "framework based on convolutional neural network, Information Fusion 54 (2020) "
              "99-118; code github.com/uzeful/IFCNN",
    params={"rule": "max", "norm": "auto"}, variants=_variants(),
    needs_context=True, color=True, version="1",
    mem_bytes_per_pixel=1700)
def ifcnn(ir: np.ndarray, vi: np.ndarray, *, rule: str = "max", norm: str = "auto",
          vi_rgb: np.ndarray | None = None, ctx: PairContext | None = None) -> np.ndarray:
    """Fuse with IFCNN; float64 0..255 (integers, the authors' saved image) out.

    ``rule``: ``max``, ``mean`` or ``sum`` (weights file and fusion layer). ``norm``: ``auto``
    (``unit`` for gray, ``imagenet`` for colour visible images, as the authors' demo), ``unit`` or
    ``imagenet``. Returns ``HxW`` for a gray visible image, ``HxWx3`` for a colour one.
    """
    import torch

    if rule not in RULES:
        raise ValueError(f"ifcnn: unknown rule {rule!r} (max, mean, sum)")
    if norm not in ("auto", "unit", "imagenet"):
        raise ValueError(f"ifcnn: unknown norm {norm!r} (auto, unit, imagenet)")
    colour = vi_rgb is not None
    mean, std = IMAGENET if norm == "imagenet" or (norm == "auto" and colour) else UNIT
    net = load_model(rule, ctx)
    dev = next(net.parameters()).device
    m = torch.tensor(mean, dtype=torch.float32, device=dev).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=dev).view(1, 3, 1, 1)

    def prep(img: np.ndarray):
        a = np.asarray(img, np.float64) / 255.0
        a = np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a
        t = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)[None], dtype=np.float32))
        return (t.to(dev) - m) / s

    with _nets.inference():
        out = net(prep(vi_rgb if colour else vi), prep(ir), rule)
        out = ((out * s + m).clamp(0, 1) * 255)[0].permute(1, 2, 0)
        rgb = out.to("cpu").numpy().astype(np.uint8)  # truncation, as astype('uint8')
    if colour:
        return rgb.astype(np.float64)
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float64)
