"""DualFuse (Fu & Wu, ICPR 2020): dual-branch (detail + semantic) auto-encoder, authors' weights.

Network (rebuilt from ``densefuse_net.py`` of thfylsty/ImageFusion_Dualbranch_Fusion @ 9ba523e,
the PyTorch code of the paper by its first author). Every convolution is 3x3 with zero padding 1;
the activation everywhere is ``act(x) = (softplus(2x) - ln 2) / 2`` (parameter-free):

* ``Conv1`` 1->32 + act gives ``x``;
* detail branch: ``Conv_d`` 32->16 + act, then a dense block (16->16, 32->16, 48->16, each + act)
  concatenated *old features first* (``cat([x_d, out])``): 64 channels;
* semantic branch on ``x``: ``Conv2`` 32->64, ``Conv3`` 64->128, ``Conv4`` 128->64, each stride 2
  + act; bilinear upsampling x8 (align_corners=True), then (test mode) bilinear resizing
  (align_corners=True) to the exact size of ``x``: 64 channels;
* encoder output ``cat([detail, semantic])`` (128 channels);
* decoder: 128->64, 64->32, 32->16 (+ act), 16->1 linear.

Fusion rules of the authors' ``test.py`` (it runs all three, in the order l1, add, channel), as
variants:

* ``dualfuse:l1`` (**default**): activity ``|phi|`` averaged over a 3x3 window (zero padding)
  and summed over all 128 channels (the authors' kernel has shape ``(C, C, 3, 3)``), weights
  ``A_k / (A_1 + A_2)``;
* ``dualfuse:add``: ``(phi_ir + phi_vi) / 2``;
* ``dualfuse:channel``: per-channel global means ``p_k``, weights ``p_1 / (p_1 + p_2)``.

Why ``l1`` is the default: neither the repository nor the paper text available here says which
rule produced published numbers. On the 21 TNO pairs (fusionbench, this weights file) the mean
NMI / Q_Y / Q_ABF(Liu) / IFC are l1 0.3351 / 0.6901 / 0.3677 / 2.4746, add 0.3174 / 0.6654 /
0.3450 / 2.4217 and channel 0.3794 / 0.6936 / 0.3594 / 2.5443, against the SSL-WAEIE paper's
DualFuse row 0.3663 / 0.7021 / 0.4076 / 2.6076: l1 is closer than add on all four. channel is
closer on three, but its weights divide by per-channel means of features that can be negative
and it breaks down on some images (TNO 19: half of the pixels saturate at 0 or 255; 17 and 20
partly), so its means are not a fair reading of the network; l1 and add never saturate more
than 0.01 % of a TNO image. l1 is also the first rule of the authors' script.

Inputs are the 8-bit gray values divided by 255 at native size. The authors save with
``ToPILImage`` (``x * 255`` truncated to uint8, wrapping outside 0..1); this method returns
``floor(clip(255 x, 0, 255))`` (truncated like the authors', but clipped instead of wrapped).

Weights: ``DualFuse/best.pkl`` (the only checkpoint published in the repository; its
``test.py`` loads ``./train_result/H_best.pkl``, which is not published). No DualFuse fused
images are published, so agreement is checked by the auto-encoder's reconstruction instead.
"""
from __future__ import annotations

import numpy as np

from fusionbench.data import PairContext
from fusionbench.registry import register_method
from fusionbench.methods import _nets

SOURCE = ("github.com/thfylsty/ImageFusion_Dualbranch_Fusion weights/best.pkl "
          "@ 9ba523eb1f2f6efae7222ab9a7f0edab3a3c2686")
WEIGHTS_FILE = "DualFuse/best.pkl"
LN2 = 0.6931471805599453


def _build(path):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def act(x):
        return (F.softplus(2 * x) - LN2) / 2

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.Conv1 = nn.Conv2d(1, 32, 3, 1, 1)
            self.Conv_d = nn.Conv2d(32, 16, 3, 1, 1)
            self.layers = nn.ModuleDict({"DenseConv1": nn.Conv2d(16, 16, 3, 1, 1),
                                         "DenseConv2": nn.Conv2d(32, 16, 3, 1, 1),
                                         "DenseConv3": nn.Conv2d(48, 16, 3, 1, 1)})
            self.Conv2 = nn.Conv2d(32, 64, 3, 2, 1)
            self.Conv3 = nn.Conv2d(64, 128, 3, 2, 1)
            self.Conv4 = nn.Conv2d(128, 64, 3, 2, 1)

        def forward(self, x):
            x = act(self.Conv1(x))
            d = act(self.Conv_d(x))
            for k in (1, 2, 3):
                d = torch.cat([d, act(self.layers[f"DenseConv{k}"](d))], 1)
            s = act(self.Conv4(act(self.Conv3(act(self.Conv2(x))))))
            s = F.interpolate(s, scale_factor=8, mode="bilinear", align_corners=True)
            s = F.interpolate(s, size=x.shape[-2:], mode="bilinear", align_corners=True)
            return torch.cat([d, s], 1)

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential()
            for name, cin, cout in (("Conv2", 128, 64), ("Conv3", 64, 32), ("Conv4", 32, 16),
                                    ("Conv5", 16, 1)):
                self.layers.add_module(name, nn.Conv2d(cin, cout, 3, 1, 1))

        def forward(self, f):
            convs = list(self.layers)
            for conv in convs[:-1]:
                f = act(conv(f))
            return convs[-1](f)

    class DualFuseNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Encoder()
            self.decoder = Decoder()

    net = DualFuseNet()
    _nets.load_strict(net, _nets.read_torch(path, "dualfuse"), "dualfuse", path)
    return net


def load_model(ctx: PairContext | None = None):
    """The DualFuse network with the published ``best.pkl`` (cached per process)."""
    return _nets.cached_model(_build, _nets.weights_file(WEIGHTS_FILE, SOURCE, "dualfuse", ctx))


def fuse_features(f1, f2, rule: str):
    """The test script's fusion rules on ``(1, 128, H, W)`` encodings."""
    import torch.nn.functional as F

    if rule == "add":
        return (f1 + f2) / 2
    if rule == "l1":
        # 3x3 box mean of |f| summed over every channel (kernel (C, C, 3, 3) of 1/9), zero padding.
        a1 = F.avg_pool2d(f1.abs().sum(1, keepdim=True), 3, 1, 1, count_include_pad=True)
        a2 = F.avg_pool2d(f2.abs().sum(1, keepdim=True), 3, 1, 1, count_include_pad=True)
        return (a1 * f1 + a2 * f2) / (a1 + a2)
    if rule == "channel":
        p1 = f1.mean((2, 3), keepdim=True)
        p2 = f2.mean((2, 3), keepdim=True)
        m1 = p1 / (p1 + p2)
        return f1 * m1 + f2 * (1 - m1)
    raise ValueError(f"dualfuse: unknown rule {rule!r} (add, l1, channel)")


@register_method(
    "dualfuse", resources={"GPU": 1},
    description="DualFuse (Fu & Wu ICPR 2020) dual-branch auto-encoder, published weights; "
                "variants l1 (default), add, channel",
    mem_bytes_per_pixel=2900, reference="Y. Fu, X.-J. Wu, A dual-branch network for infrared and visible image fusion, "
              "ICPR 2020 (arXiv 2101.09643); code github.com/thfylsty/ImageFusion_Dualbranch_Fusion",
    params={"rule": "l1"},
    variants={"add": {"rule": "add"}, "l1": {"rule": "l1"}, "channel": {"rule": "channel"}},
    needs_context=True, version="1")
def dualfuse(ir: np.ndarray, vi: np.ndarray, *, rule: str = "l1",
             ctx: PairContext | None = None) -> np.ndarray:
    """Fuse with DualFuse; float64 gray 0..255 in, ``floor(clip(255 y, 0, 255))`` out."""
    net = load_model(ctx)
    with _nets.inference():
        x = _nets.to_batch(ir, vi, scale=1.0 / 255.0, dev=next(net.parameters()).device)
        f = net.encoder(x)
        out = net.decoder(fuse_features(f[:1], f[1:], rule))
    return np.floor(np.clip(_nets.to_numpy(out) * 255.0, 0.0, 255.0))
