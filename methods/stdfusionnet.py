"""STDFusionNet (Ma et al., IEEE TIM 2021): salient target detection based fusion, authors' weights.

Network (rebuilt from ``STDFusionNet/test_network.py`` + ``STDFusionNet.py`` of
Linfeng-Tang/VIF-Benchmark @ 23f2e51, the authors' test graph). Convolutions are VALID after
explicit zero padding (``feature_padding``: 2 for the 5x5 stem, 1 for every 3x3, none for 1x1),
stride 1; ``lrelu`` is ``tf.nn.leaky_relu`` (slope 0.2):

* two feature extractors (``vi_extraction_network``, ``ir_extraction_network``), each:
  ``conv1`` 5x5 1->16 + lrelu, then three residual blocks of 1x1 -> 3x3 -> 1x1 convolutions
  (lrelu after the first two), output ``lrelu(conv3 + shortcut)``; the shortcut is the block
  input in block1 (16->16) and a bias-free 1x1 ``identity_conv`` in block2 (16->32) and block3
  (32->64);
* ``reconstruction_network`` on ``[vi_features, ir_features]`` (128 channels): four residual
  blocks of the same form with ``identity_conv`` shortcuts, 128->64->32->16->1, whose outputs
  are ``elu``, ``elu``, ``lrelu`` and ``tanh``.

No batch norm. The salient-target mask is used only by the training loss; the test graph takes
just the two images. Test script: images read with ``scipy.misc.imread(flatten=True,
mode='YCbCr')``, scaled ``x / 127.5 - 1``, native size; output ``(y + 1) * 127.5`` saved with
``scipy.misc.imsave`` (min-max stretched to 0..255); colour visible images get their Cb/Cr back
(``img2RGB``), returned as RGB.

Verification: no published outputs of this checkpoint are staged, so the tests compare (1) the
PyTorch forward pass with an independent NumPy re-execution of the same layer list computed
directly from the checkpoint arrays (float64, HWIO kernels), on random input: max difference
< 2e-3 grey levels; and (2) the layer list with the authors' saved graph (``Fusion.model-29.meta``,
read with :func:`~fusionbench.methods._tfbundle.meta_graph_nodes`): 40 convolutions (the training
graph uses 'SAME' convolutions, equivalent to the test script's explicit zero padding), 29 leaky
ReLUs of slope 0.2, 2 ELUs, 1 tanh, the ``[vi, ir]`` concatenation, and every convolution
reading the variable the port assigns to it.

Weights: ``STDFusionNet/Fusion.model-29.{index,data-00000-of-00001}`` (VIF-Benchmark
``Checkpoint/STDFusionNet``), read directly with :mod:`fusionbench.methods._tfbundle`.
"""
from __future__ import annotations

import numpy as np

from fusionbench.data import PairContext
from fusionbench.registry import register_method
from fusionbench.methods import _nets, _tfbundle, _ycbcr

SOURCE = ("github.com/Linfeng-Tang/VIF-Benchmark Checkpoint/STDFusionNet/Fusion.model-29.* @ 23f2e51 "
          "(see the weights MANIFEST)")
CHECKPOINT = "STDFusionNet/Fusion.model-29"
ROOT = "STDFusion_model"
#: residual blocks: (network, block, in, mid, out, has identity_conv, output activation)
BLOCKS = ([(net, f"block{i}", cin, cin, cout, i > 1, "lrelu")
           for net in ("vi_extraction_network", "ir_extraction_network")
           for i, cin, cout in ((1, 16, 16), (2, 16, 32), (3, 32, 64))]
          + [("reconstruction_network", f"block{i}", cin, cin, cout, True, act)
             for i, cin, cout, act in ((1, 128, 64, "elu"), (2, 64, 32, "elu"), (3, 32, 16, "lrelu"),
                                       (4, 16, 1, "tanh"))])


def _key(*parts: str) -> str:
    return "_".join(parts).replace("_network", "").replace("_extraction", "")


def _tf_names() -> dict[str, str]:
    names = {}
    for net in ("vi_extraction_network", "ir_extraction_network"):
        names[f"{_key(net, 'conv1')}.weight"] = f"{ROOT}/{net}/conv1/w"
        names[f"{_key(net, 'conv1')}.bias"] = f"{ROOT}/{net}/conv1/b"
    for net, blk, _, _, _, ident, _ in BLOCKS:
        k = _key(net, blk)
        for c in ("conv1", "conv2", "conv3"):
            names[f"{k}.{c}.weight"] = f"{ROOT}/{net}/{blk}/{c}/w"
            names[f"{k}.{c}.bias"] = f"{ROOT}/{net}/{blk}/{c}/b"
        if ident:
            names[f"{k}.identity.weight"] = f"{ROOT}/{net}/{blk}/identity_conv/w"
    return names


def _build(prefix):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    acts = {"lrelu": lambda x: F.leaky_relu(x, 0.2), "elu": F.elu, "tanh": torch.tanh}

    class Block(nn.Module):
        def __init__(self, cin, mid, cout, ident, act):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, mid, 1)
            self.conv2 = nn.Conv2d(mid, mid, 3, padding=1)
            self.conv3 = nn.Conv2d(mid, cout, 1)
            self.identity = nn.Conv2d(cin, cout, 1, bias=False) if ident else None
            self.act = act

        def forward(self, x):
            y = F.leaky_relu(self.conv1(x), 0.2)
            y = self.conv3(F.leaky_relu(self.conv2(y), 0.2))
            return acts[self.act](y + (self.identity(x) if self.identity is not None else x))

    class STDFusionNet(nn.Module):
        def __init__(self):
            super().__init__()
            for net in ("vi_extraction_network", "ir_extraction_network"):
                self.add_module(_key(net, "conv1"), nn.Conv2d(1, 16, 5, padding=2))
            for net, blk, cin, mid, cout, ident, act in BLOCKS:
                self.add_module(_key(net, blk), Block(cin, mid, cout, ident, act))

        def _extract(self, x, net):
            x = F.leaky_relu(getattr(self, _key(net, "conv1"))(x), 0.2)
            for i in (1, 2, 3):
                x = getattr(self, _key(net, f"block{i}"))(x)
            return x

        def forward(self, vi, ir):
            x = torch.cat([self._extract(vi, "vi_extraction_network"),
                           self._extract(ir, "ir_extraction_network")], 1)
            for i in (1, 2, 3, 4):
                x = getattr(self, f"reconstruction_block{i}")(x)
            return x

    net = STDFusionNet()
    state = _nets.tf_state(_tfbundle.model_variables(prefix), _tf_names(), "stdfusionnet", prefix)
    _nets.load_strict(net, state, "stdfusionnet", prefix)
    return net


def load_model(ctx: PairContext | None = None):
    """The STDFusionNet network with the authors' weights (cached per process)."""
    return _nets.cached_model(_build, _tfbundle.checkpoint(CHECKPOINT, SOURCE, "stdfusionnet", ctx))


def forward(ir: np.ndarray, vi_gray: np.ndarray, ctx: PairContext | None = None) -> np.ndarray:
    """The network output ``(y + 1) * 127.5`` (float64, before the min-max stretch)."""
    net = load_model(ctx)
    dev = next(net.parameters()).device
    with _nets.inference():
        x_vi = _nets.to_batch(np.asarray(vi_gray) / 127.5 - 1.0, dev=dev)
        x_ir = _nets.to_batch(np.asarray(ir) / 127.5 - 1.0, dev=dev)
        return (_nets.to_numpy(net(x_vi, x_ir)) + 1.0) * 127.5


@register_method(
    "stdfusionnet", resources={"GPU": 1},
    description="STDFusionNet (Ma et al. TIM 2021), authors' TF weights, min-max output",
    reference="J. Ma, L. Tang, M. Xu, H. Zhang, G. Xiao, STDFusionNet: An infrared and visible image "
              "fusion network based on salient target detection, IEEE TIM 70 2021; code "
              "github.com/Linfeng-Tang/STDFusionNet, run as in github.com/Linfeng-Tang/VIF-Benchmark",
    color=True, needs_context=True, mem_bytes_per_pixel=3200, version="1")
def stdfusionnet(ir: np.ndarray, vi: np.ndarray, *, vi_rgb: np.ndarray | None = None,
                 ctx: PairContext | None = None) -> np.ndarray:
    """Fuse with STDFusionNet; float64 0..255 in, min-max stretched float64 0..255 out (RGB for colour VI)."""
    out = forward(ir, _ycbcr.authors_gray(vi, vi_rgb), ctx)
    if vi_rgb is None:
        return _nets.minmax_stretch(out)
    return _ycbcr.restore_colour(_ycbcr.bytescale(out), vi_rgb)
