"""DATFuse (Tang, He, Liu, IEEE TCSVT 2023): dual attention transformer fusion, authors' weights.

Network (rebuilt from ``Networks/network.py`` of tthinking/DATFuse @ 0cd93f1, class ``MODEL``
with the test script's ``in_channel=2``; 16 feature channels; BatchNorm in eval mode):

* ``convolutional``: replicate padding 2, 5x5 conv 2->16, BN, ReLU on ``cat[IR, VI]``;
* ``fem`` (one module, applied twice per use with the **same** conv and BN): replicate pad 1,
  3x3 conv, BN, ReLU, replicate pad 1, the same conv, the same BN;
* ``cam``: global average, 1x1 conv 16->4, ReLU, 1x1 conv 4->16, sigmoid (per channel);
  ``sam``: 3x3 conv 16->4 (zero pad) + BN + ReLU, 3x3 conv 4->1 + BN, sigmoid (per pixel);
* encoder: ``f = fem(c)``, ``e = relu(f*cam(f) + f*sam(f) + c)`` with ``c`` the first conv;
* transformer: two Swin blocks with window size 1, 8 heads, MLP ratio 4, LayerNorm, GELU;
* decoder: ``d = fem(T)``, ``d*cam(d) + d*sam(d) + d`` (the same ``fem``/``cam``/``sam``
  modules as the encoder), then 1x1 conv 16->1 and ``tanh``.

Two properties of the authors' transformer code decide the numbers and are reproduced as they
are:

* the block turns the ``(B, C, H, W)`` feature map into tokens with ``x.view(B, H, W, C)``, a
  *reinterpretation* of memory, not a permutation: a "token" is 16 consecutive values of the
  channel-first buffer (16 neighbouring pixels of one row of one channel, wrapping to the next
  row when the width is not a multiple of 16), and ``view(B, C, H, W)`` maps them back. This
  method does exactly that (``reshape(-1, 16)`` of the contiguous buffer);
* with window size 1 each window holds one token, so the softmax over one score is exactly 1
  and the attention output is ``proj(v)``, ``v`` being the last third of ``qkv``; the relative
  position bias, the (all-zero) shift mask, ``q`` and ``k`` have no effect. The unused
  ``relative_position_bias_table``, ``relative_position_index`` and ``patch_embed.norm`` are
  still loaded so that loading is strict. Each block is ``t = t + proj(v(LN1(t)))``,
  ``t = t + fc2(gelu(fc1(LN2(t))))``.

Every layer is stride 1 (window size 1 needs no multiple), so any size works without padding.

Test script (``Test.py``): ``Image.open(path).convert('L')`` for both sources (a colour visible
image becomes PIL's ``L``, ``(19595 R + 38470 G + 7471 B + 2^15) >> 16``, which this method
applies to ``vi_rgb``), ``ToTensor`` (``/255``), channel order ``[IR, VI]``; the output is saved
as ``(out * 255).astype(np.uint8)``, a truncation. ``tanh`` can be negative, where numpy's cast
wraps around; this method returns ``floor(clip(255 out, 0, 255))`` (truncated like the
authors', but clipped instead of wrapped). Gray output only: the authors do not colourise.

Agreement: the repository's own results ``fusion results/001.bmp`` and ``2.bmp`` for its source
pairs ``1`` (768x576) and ``2`` (620x450), checked during development (the images
are not in the data root, so no test can repeat it): 81.9 dB and 81.2 dB, 99.96 % and 99.95 %
of the pixels equal, the rest off by one grey level (float rounding; the script runs on CUDA). The forward pass
is also bit-identical (max |difference| 0) to the authors' ``MODEL`` class imported from the
fetched repository in a temporary folder (with a stand-in for the three ``timm`` helpers it
imports), on random 37x53, 30x30 and 31x47 inputs and on TNO pair 06;
``tests/methods/test_modern_methods_torch.py`` compares it with an independent float64 NumPy
re-implementation (< 1e-4).

Cost (CPU, one thread, 640x480): about 1.2 s, peak extra memory about 300 MiB (1.0 GiB/MP).

Weights: ``DATFuse/model_10.pth`` (a plain state dict, 64 tensors).
"""
from __future__ import annotations

import numpy as np

from fusionbench.data import PairContext
from fusionbench.imageio import pil_gray
from fusionbench.registry import register_method
from fusionbench.methods import _nets

SOURCE = "github.com/tthinking/DATFuse model_10.pth @ 0cd93f1"
WEIGHTS_FILE = "DATFuse/model_10.pth"
C = 16
HEADS = 8
DEPTH = 2


def _build(path):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class ConvIn(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, C, 5, padding=0)
            self.bn = nn.BatchNorm2d(C)

        def forward(self, x):
            return F.relu(self.bn(self.conv(F.pad(x, (2, 2, 2, 2), mode="replicate"))))

    class ConvOut(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(C, 1, 1)

        def forward(self, x):
            return torch.tanh(self.conv(x))

    class Fem(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(C, C, 3, padding=0)
            self.bn = nn.BatchNorm2d(C)

        def forward(self, x):
            x = F.relu(self.bn(self.conv(F.pad(x, (1, 1, 1, 1), mode="replicate"))))
            return self.bn(self.conv(F.pad(x, (1, 1, 1, 1), mode="replicate")))

    class ChannelAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Sequential(nn.Conv2d(C, C // 4, 1), nn.ReLU(), nn.Conv2d(C // 4, C, 1))

        def forward(self, x):
            return torch.sigmoid(self.fc(x.mean(dim=(2, 3), keepdim=True)))

    class SpatialAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(C, C // 4, 3, padding=1), nn.BatchNorm2d(C // 4),
                                      nn.ReLU(), nn.Conv2d(C // 4, 1, 3, padding=1),
                                      nn.BatchNorm2d(1), nn.Sigmoid())

        def forward(self, x):
            return self.body(x)

    class Attention(nn.Module):
        """Window attention with one token per window: the output is ``proj(v)``."""

        def __init__(self):
            super().__init__()
            self.relative_position_bias_table = nn.Parameter(torch.zeros(1, HEADS))
            self.register_buffer("relative_position_index", torch.zeros(1, 1, dtype=torch.long))
            self.qkv = nn.Linear(C, 3 * C)
            self.proj = nn.Linear(C, C)

        def forward(self, t):
            v = F.linear(t, self.qkv.weight[2 * C:], self.qkv.bias[2 * C:])
            return self.proj(v)

    class Mlp(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(C, 4 * C)
            self.fc2 = nn.Linear(4 * C, C)

        def forward(self, t):
            return self.fc2(F.gelu(self.fc1(t)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1 = nn.LayerNorm(C)
            self.attn = Attention()
            self.norm2 = nn.LayerNorm(C)
            self.mlp = Mlp()

        def forward(self, t):
            t = t + self.attn(self.norm1(t))
            return t + self.mlp(self.norm2(t))

    class BasicLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([Block() for _ in range(DEPTH)])

        def forward(self, x):
            # the authors' x.view(B, H, W, C): tokens are runs of C values of the NCHW buffer
            t = x.contiguous().reshape(-1, C)
            for blk in self.blocks:
                t = blk(t)
            return t.reshape(x.shape)

    class PatchEmbed(nn.Module):  # only its (unused) LayerNorm has weights
        def __init__(self):
            super().__init__()
            self.norm = nn.LayerNorm(96)

    class DATFuseNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.convolutional = ConvIn()
            self.convolutional_out = ConvOut()
            self.fem = Fem()
            self.cam = ChannelAttention()
            self.sam = SpatialAttention()
            self.patch_embed = PatchEmbed()
            self.basicLayer = BasicLayer()

        def attend(self, f):
            return f * self.cam(f) + f * self.sam(f)

        def forward(self, x):
            c = self.convolutional(x)
            f = self.fem(c)
            e = F.relu(self.attend(f) + c)
            d = self.fem(self.basicLayer(e))
            return self.convolutional_out(self.attend(d) + d)

    net = DATFuseNet()
    _nets.load_strict(net, _nets.read_torch(path, "datfuse", key=None), "datfuse", path)
    return net


def load_model(ctx: PairContext | None = None):
    """The DATFuse network with the authors' weights (cached per process)."""
    return _nets.cached_model(_build, _nets.weights_file(WEIGHTS_FILE, SOURCE, "datfuse", ctx))


@register_method(
    "datfuse", resources={"GPU": 1},
    description="DATFuse (Tang et al. TCSVT 2023) dual attention transformer, authors' weights",
    reference="W. Tang, F. He, Y. Liu, Y. Duan, T. Si, DATFuse: Infrared and visible image fusion "
              "via dual attention transformer, IEEE TCSVT 33(7) 2023; code "
              "github.com/tthinking/DATFuse",
    needs_context=True, color=True, version="1",
    mem_bytes_per_pixel=1100)
def datfuse(ir: np.ndarray, vi: np.ndarray, *, vi_rgb: np.ndarray | None = None,
            ctx: PairContext | None = None) -> np.ndarray:
    """Fuse with DATFuse; float64 gray 0..255 in, ``floor(clip(255 out, 0, 255))`` out."""
    net = load_model(ctx)
    vi_gray = pil_gray(vi_rgb).astype(np.float64) if vi_rgb is not None else vi
    with _nets.inference():
        x = _nets.to_batch(ir, vi_gray, scale=1.0 / 255.0, dev=next(net.parameters()).device)
        out = net(x.reshape(1, 2, *x.shape[-2:]))
    return np.floor(np.clip(_nets.to_numpy(out) * 255.0, 0.0, 255.0))
