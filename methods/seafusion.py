"""SeAFusion (Tang, Yuan, Ma, Information Fusion 2022): the fusion network with the authors' weights.

Network (rebuilt from ``SeAFusion/FusionNet.py`` of Linfeng-Tang/VIF-Benchmark @ 23f2e51, the
method author's own benchmark; class ``FusionNet``). Every 3x3 convolution has zero padding 1
and a bias; ``lrelu`` is leaky ReLU with slope 0.2 unless said otherwise:

* two encoders, one per source (``vis_*`` for the visible Y channel, ``inf_*`` for the
  infrared), each ``conv 1->16`` + lrelu, then two gradient residual dense blocks ``RGBD``
  (16->32, 32->48). ``RGBD(c, o)``: dense part ``x1 = cat[x, lrelu(conv c->c)(x)]``,
  ``x1 = cat[x1, lrelu(conv 2c->c)(x1)]`` then a 1x1 conv ``3c->o``; gradient part
  ``|sobel_x(x)| + |sobel_y(x)|`` (depthwise, zero padding, kernels from the file) then a 1x1
  conv ``c->o``; output ``leaky_relu(dense + gradient, 0.1)``;
* decoder on ``cat[vis, inf]`` (96 channels): ``conv 96->64``, ``64->32``, ``32->16`` each with
  lrelu, then ``conv 16->1`` and ``tanh(x) / 2 + 0.5``. The decoder layers own BatchNorm
  modules (``decode*.bn``, loaded from the file) that the authors' ``forward`` never applies;
  they are kept only so that loading is strict, and are not applied here either.

Test script (``SeAFusion/SeAFusion.py`` + ``utils.py``; the same steps as the authors'
``test.py``): the visible image is read as RGB (a gray file becomes R=G=B) and the infrared as
gray, both ``/255``. ``Y = 0.299R + 0.587G + 0.114B``, ``Cr = 0.713 (R - Y) + 0.5``,
``Cb = 0.564 (B - Y) + 0.5``, each clamped to 0..1. The network fuses ``Y`` with the IR; the
result replaces ``Y`` and ``R = Y + 1.403 (Cr - 0.5)``, ``G = Y - 0.714 (Cr - 0.5) -
0.344 (Cb - 0.5)``, ``B = Y + 1.773 (Cb - 0.5)`` is clamped to 0..1. The saved image is
``uint8(255 (F - min F) / (max F - min F))`` with min and max over all three channels, a
truncation (``tensor2img``). This method returns exactly that: ``HxWx3`` when the visible image is
colour (``vi_rgb``), ``HxW`` for a gray visible image (Cb = Cr = 0.5 exactly, so the three channels
are equal; the authors' float32 arithmetic leaves tiny channel differences, which is why their
PNGs of gray inputs are 3-channel). All layers are stride 1, so any size works without padding.

Agreement (``results/tno/SeAFusion``, the author's own run, and ``results/vifb/SeAFusion``):

* TNO, 16 pairs, gray inputs identical to ours: median 91.0 dB, worst 89.4 dB (this gray result
  against all three channels of the published PNG; >= 99.99 % of the values equal, the rest off
  by one from float rounding before the truncation);
* VIFB, 21 colour pairs: median 41.0 dB, worst 36.6 dB. Most of the gap is the JPEG (quality 75,
  4:2:0) VIFB stores: the same output re-encoded with libjpeg at quality 75 is at median 47.9 dB,
  worst 42.0 dB. Re-encoding the *inputs* as JPEG first (as VIFB's MATLAB wrappers do) does not
  change that. What remains is a small luminance offset (on ``walking`` the published Y is
  0.76 grey levels brighter, ``Y_pub ~ 0.992 Y + 1.95``), not explained by rounding instead of
  truncation (+0.5, 44.0 -> 44.7 dB there), by OpenCV's or PIL's YCbCr instead of the authors',
  or by stretching Y alone; VIFB's images may come from another run or checkpoint.

The network's output is bit-identical to the authors' ``FusionNet`` (imported from the fetched
repository in a temporary folder) on random input and TNO 06. Cost (CPU, one thread, 640x480):
about 5.5 s, peak extra memory about 340 MiB (1.1 GiB per megapixel).

Weights: ``SeAFusion/SeAFusion.pth`` (a plain state dict, 72 tensors), see the weights MANIFEST
section 7.
"""
from __future__ import annotations

import numpy as np

from fusionbench.data import PairContext
from fusionbench.registry import register_method
from fusionbench.methods import _nets

SOURCE = ("github.com/Linfeng-Tang/VIF-Benchmark Checkpoint/SeAFusion/SeAFusion.pth "
          "@ 23f2e51 (the method author's benchmark)")
WEIGHTS_FILE = "SeAFusion/SeAFusion.pth"


def _build(path):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Conv(nn.Module):
        """``.conv`` (3x3 or 1x1, bias) plus an optional unused ``.bn`` (kept for the keys)."""

        def __init__(self, cin, cout, k=3, bn=False):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, k, padding=k // 2)
            if bn:
                self.bn = nn.BatchNorm2d(cout)

        def forward(self, x):
            return self.conv(x)

    class Sobel(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.convx = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
            self.convy = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)

        def forward(self, x):
            return self.convx(x).abs() + self.convy(x).abs()

    class Dense(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = Conv(c, c)
            self.conv2 = Conv(2 * c, c)

        def forward(self, x):
            x = torch.cat([x, F.leaky_relu(self.conv1(x), 0.2)], 1)
            return torch.cat([x, F.leaky_relu(self.conv2(x), 0.2)], 1)

    class RGBD(nn.Module):
        def __init__(self, c, o):
            super().__init__()
            self.dense = Dense(c)
            self.convdown = Conv(3 * c, o, k=1)
            self.sobelconv = Sobel(c)
            self.convup = Conv(c, o, k=1)

        def forward(self, x):
            return F.leaky_relu(self.convdown(self.dense(x)) + self.convup(self.sobelconv(x)), 0.1)

    class SeAFusionNet(nn.Module):
        def __init__(self):
            super().__init__()
            for side in ("vis", "inf"):
                setattr(self, f"{side}_conv", Conv(1, 16))
                setattr(self, f"{side}_rgbd1", RGBD(16, 32))
                setattr(self, f"{side}_rgbd2", RGBD(32, 48))
            self.decode4 = Conv(96, 64, bn=True)
            self.decode3 = Conv(64, 32, bn=True)
            self.decode2 = Conv(32, 16, bn=True)
            self.decode1 = Conv(16, 1, bn=True)

        def encode(self, side, x):
            x = F.leaky_relu(getattr(self, f"{side}_conv")(x), 0.2)
            return getattr(self, f"{side}_rgbd2")(getattr(self, f"{side}_rgbd1")(x))

        def forward(self, y_vis, ir):
            x = torch.cat([self.encode("vis", y_vis), self.encode("inf", ir)], 1)
            for layer in (self.decode4, self.decode3, self.decode2):
                x = F.leaky_relu(layer(x), 0.2)
            return torch.tanh(self.decode1(x)) / 2 + 0.5

    net = SeAFusionNet()
    _nets.load_strict(net, _nets.read_torch(path, "seafusion", key=None), "seafusion", path)
    return net


def load_model(ctx: PairContext | None = None):
    """The SeAFusion network with the authors' weights (cached per process)."""
    return _nets.cached_model(_build, _nets.weights_file(WEIGHTS_FILE, SOURCE, "seafusion", ctx))


def rgb_to_ycbcr(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The authors' ``RGB2YCrCb`` on ``HxWx3`` 0..1: ``(Y, Cb, Cr)``, each clamped to 0..1."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cr = (r - y) * 0.713 + 0.5
    cb = (b - y) * 0.564 + 0.5
    return np.clip(y, 0, 1), np.clip(cb, 0, 1), np.clip(cr, 0, 1)


def ycbcr_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """The authors' ``YCbCr2RGB``: ``HxWx3`` clamped to 0..1."""
    r = y + 1.403 * (cr - 0.5)
    g = y - 0.714 * (cr - 0.5) - 0.344 * (cb - 0.5)
    b = y + 1.773 * (cb - 0.5)
    return np.clip(np.stack([r, g, b], axis=-1), 0.0, 1.0)


def _save_rule(x: np.ndarray) -> np.ndarray:
    """``tensor2img``: min-max over the whole array, ``* 255``, truncated to integers."""
    return np.floor(_nets.minmax_stretch(x))


@register_method(
    "seafusion", resources={"GPU": 1},
    description="SeAFusion (Tang et al. Inf. Fusion 2022) fusion network, authors' weights, "
                "Y-channel fusion with Cb/Cr restored",
    reference="L. Tang, J. Yuan, J. Ma, Image fusion in the loop of high-level vision tasks: a "
              "semantic-aware real-time infrared and visible image fusion network, Information "
              "Fusion 82 (2022) 28-42; code github.com/Linfeng-Tang/SeAFusion",
    needs_context=True, color=True, version="1",
    mem_bytes_per_pixel=1200)
def seafusion(ir: np.ndarray, vi: np.ndarray, *, vi_rgb: np.ndarray | None = None,
              ctx: PairContext | None = None) -> np.ndarray:
    """Fuse with SeAFusion; float64 0..255 (integers, the authors' saved image) out.

    Returns ``HxWx3`` when ``vi_rgb`` (colour visible, 0..255) is given, else ``HxW``.
    """
    net = load_model(ctx)
    dev = next(net.parameters()).device
    if vi_rgb is not None:
        y, cb, cr = rgb_to_ycbcr(np.asarray(vi_rgb, np.float64) / 255.0)
    else:
        y = np.clip(np.asarray(vi, np.float64) / 255.0, 0.0, 1.0)
    with _nets.inference():
        x_y = _nets.to_batch(y, dev=dev)
        x_ir = _nets.to_batch(ir, scale=1.0 / 255.0, dev=dev)
        fused = _nets.to_numpy(net(x_y, x_ir))
    if vi_rgb is None:
        return _save_rule(np.clip(fused, 0.0, 1.0))
    return _save_rule(ycbcr_to_rgb(fused, cb, cr))
