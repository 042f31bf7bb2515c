"""DIDFuse (Zhao et al., IJCAI 2020): deep image decomposition auto-encoder, authors' weights.

Network (rebuilt from ``DIDFuse.py`` of Zhaozixiang1228/IVIF-DIDFuse @ 5f28730), 64 channels,
3x3 convolutions, BatchNorm in eval mode with the stored running statistics, PReLU with one
parameter:

* encoder: ``f1 = PReLU(BN(conv(reflectpad1(x))))`` (1->64), ``f2 = PReLU(BN(conv_zeropad(f1)))``,
  base ``B = tanh(BN(conv(f2)))`` and detail ``D = tanh(BN(conv(f2)))``;
* decoder: ``o5 = PReLU(BN(conv([B, D])))``, ``o6 = PReLU(BN(conv([o5, f2])))``,
  ``out = sigmoid(BN(conv(reflectpad1([o6, f1]))))`` (128->1).

Test-time rule (``utils_didfuse.Test_fusion``, default ``addition_mode='Sum'``): all four feature
groups are summed, ``B = B_ir + B_vi``, ``D = D_ir + D_vi``, ``f1 = f1_ir + f1_vi``,
``f2 = f2_ir + f2_vi``. Inputs are the 8-bit images divided by 255 at native size; the sigmoid
output times 255 is the result (the authors save it with ``skimage.io.imsave``, i.e. rounded).
For RoadScene/FLIR the authors fed a grayscale visible image, as fusionbench does.

Weights: ``DIDFuse/Encoder_weight_IJCAI.pkl`` and ``DIDFuse/Decoder_weight_IJCAI.pkl`` under the
weights root. On TNO pair 06 the result equals the published ``F1.png`` to within one grey
level (tests check PSNR >= 40 dB against the published images).
"""
from __future__ import annotations

import numpy as np

from fusionbench.data import PairContext
from fusionbench.registry import register_method
from fusionbench.methods import _nets

SOURCE = ("github.com/Zhaozixiang1228/IVIF-DIDFuse Models/{Encoder,Decoder}_weight_IJCAI.pkl "
          "@ 5f287300dce7cbc90b9e08e6872455af6baa279f")
ENCODER_FILE = "DIDFuse/Encoder_weight_IJCAI.pkl"
DECODER_FILE = "DIDFuse/Decoder_weight_IJCAI.pkl"
CH = 64


def _build(enc_path, dec_path):
    import torch
    import torch.nn as nn

    def stage(name: str, cin: int, cout: int, act: nn.Module, pad_first: bool) -> nn.Module:
        # The authors' nn.Sequential indices are kept so that the state-dict keys match:
        # [ReflectionPad2d(1),] Conv2d, BatchNorm2d, activation.
        layers: list[nn.Module] = []
        if pad_first:
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3, padding=0)]
        else:
            layers += [nn.Conv2d(cin, cout, 3, padding=1)]
        layers += [nn.BatchNorm2d(cout), act]
        holder = nn.Module()
        holder.add_module(name, nn.Sequential(*layers))
        return holder

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.cov1 = stage("cov1", 1, CH, nn.PReLU(), True)
            self.cov2 = stage("cov2", CH, CH, nn.PReLU(), False)
            self.cov3 = stage("cov3", CH, CH, nn.Tanh(), False)
            self.cov4 = stage("cov4", CH, CH, nn.Tanh(), False)

        def forward(self, x):
            f1 = self.cov1.cov1(x)
            f2 = self.cov2.cov2(f1)
            return f1, f2, self.cov3.cov3(f2), self.cov4.cov4(f2)

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.cov5 = stage("cov5", 2 * CH, CH, nn.PReLU(), False)
            self.cov6 = stage("cov6", 2 * CH, CH, nn.PReLU(), False)
            self.cov7 = stage("cov7", 2 * CH, 1, nn.Sigmoid(), True)

        def forward(self, f1, f2, b, d):
            o5 = self.cov5.cov5(torch.cat([b, d], 1))
            o6 = self.cov6.cov6(torch.cat([o5, f2], 1))
            return self.cov7.cov7(torch.cat([o6, f1], 1))

    class DIDFuseNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Encoder()
            self.decoder = Decoder()

    net = DIDFuseNet()
    _nets.load_strict(net.encoder, _nets.read_torch(enc_path, "didfuse"), "didfuse", enc_path)
    _nets.load_strict(net.decoder, _nets.read_torch(dec_path, "didfuse"), "didfuse", dec_path)
    return net


def load_model(ctx: PairContext | None = None):
    """The DIDFuse network with the authors' weights (cached per process)."""
    enc = _nets.weights_file(ENCODER_FILE, SOURCE, "didfuse", ctx)
    dec = _nets.weights_file(DECODER_FILE, SOURCE, "didfuse", ctx)
    return _nets.cached_model(_build, enc, dec)


@register_method(
    "didfuse", resources={"GPU": 1},
    description="DIDFuse (Zhao et al. IJCAI 2020) auto-encoder, authors' weights, Sum rule",
    mem_bytes_per_pixel=5700, reference="Z. Zhao et al., DIDFuse: Deep Image Decomposition for Infrared and Visible Image "
              "Fusion, IJCAI 2020; code github.com/Zhaozixiang1228/IVIF-DIDFuse",
    needs_context=True, version="1")
def didfuse(ir: np.ndarray, vi: np.ndarray, *, ctx: PairContext | None = None) -> np.ndarray:
    """Fuse with DIDFuse's Sum rule; float64 gray 0..255 in and out (``255 * sigmoid``)."""
    net = load_model(ctx)
    with _nets.inference():
        x = _nets.to_batch(ir, vi, scale=1.0 / 255.0, dev=next(net.parameters()).device)
        f1, f2, b, d = net.encoder(x)  # batch of 2: [ir, vi]
        out = net.decoder(f1.sum(0, keepdim=True), f2.sum(0, keepdim=True),
                          b.sum(0, keepdim=True), d.sum(0, keepdim=True))
    return np.clip(_nets.to_numpy(out) * 255.0, 0.0, 255.0)
