"""SDNet (Zhang & Ma, IJCV 2021): squeeze-and-decomposition network, authors' weights.

Network (rebuilt from ``SDNet/SDNet.py`` of Linfeng-Tang/VIF-Benchmark @ 23f2e51, the script that
made the published TNO images; the graph of HaoZhang1018/SDNet). Every convolution is zero 'SAME'
padded, stride 1, with bias; ``lrelu(x) = max(x, 0.2x)``:

* two paths (IR, VI), each 1 channel: ``layer1`` 5x5 1->16, ``layer2`` 3x3 16->16, ``layer3``
  3x3 on ``[c1, c2]`` (32->16), ``layer4`` 3x3 on ``[c1, c2, c3]`` (48->16), all leaky ReLU;
* ``layer5_fuse`` 1x1 on ``[c1_ir, c1_vi, c2_ir, c2_vi, c3_ir, c3_vi, c4_ir, c4_vi]`` (128->1),
  tanh: the fused image. The decomposition layers (``layer6_sept`` .. ``layer9_*``, which
  re-create the sources during training) are loaded but not run at test time.

No batch norm. Test script: images read with ``scipy.misc.imread(flatten=True, mode='YCbCr')``,
scaled ``(x - 127.5) / 127.5``, native size; the output ``tanh * 127.5 + 127.5`` is saved with
``scipy.misc.imsave`` (min-max stretched to 0..255). Colour visible images: their PIL luma is
fused and the visible Cb/Cr are restored (``img2RGB``), returned as RGB.

Agreement with the published images (``results/tno/SDNet``, 16 TNO pairs, L. Tang's run of this
script), PSNR of the rounded output: median 55.0 dB, worst 52.4 dB (pair 11). About a third of
the pixels differ by 1 grey level (at most 3); the difference is spatially white (lag-1
autocorrelation about 0.2), carries no image structure and has no 8x8 (JPEG) signature, so it is
not a different checkpoint, padding or stretch; double quantisation before the stretch was tested
and makes it worse (48-52 dB). Its exact cause (the author's run environment) is not identified.

Weights: ``SDNet/SDNet.model.{index,data-00000-of-00001}`` (VIF-Benchmark ``Checkpoint/SDNet``),
read directly with :mod:`fusionbench.methods._tfbundle`.
"""
from __future__ import annotations

import numpy as np

from fusionbench.data import PairContext
from fusionbench.registry import register_method
from fusionbench.methods import _nets, _tfbundle, _ycbcr

SOURCE = "github.com/Linfeng-Tang/VIF-Benchmark Checkpoint/SDNet/SDNet.model.* @ 23f2e51 (see the weights MANIFEST)"
CHECKPOINT = "SDNet/SDNet.model"
#: (scope, kernel, in, out): ``fusion_model/<scope>/{w,b}<scope minus 'layer'>``
LAYERS = ([(f"layer{i}_{s}", k, cin, 16) for s in ("ir", "vi")
           for i, k, cin in ((1, 5, 1), (2, 3, 16), (3, 3, 32), (4, 3, 48))]
          + [("layer5_fuse", 1, 128, 1), ("layer6_sept", 1, 1, 128)]
          + [(f"layer{i}_{s}", 3, cin, cout) for s in ("ir", "vi")
             for i, cin, cout in ((7, 128, 16), (8, 16, 4), (9, 4, 1))])


def _tf_names() -> dict[str, str]:
    names = {}
    for scope, _, _, _ in LAYERS:
        suffix = scope[len("layer"):]
        names[f"{scope}.weight"] = f"fusion_model/{scope}/w{suffix}"
        names[f"{scope}.bias"] = f"fusion_model/{scope}/b{suffix}"
    return names


def _build(prefix):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class SDNet(nn.Module):
        def __init__(self):
            super().__init__()
            for scope, k, cin, cout in LAYERS:
                self.add_module(scope, nn.Conv2d(cin, cout, k, padding=k // 2))

        def forward(self, ir, vi):
            feats = {}
            for s, x in (("ir", ir), ("vi", vi)):
                outs = []
                for i in range(1, 5):
                    x = F.leaky_relu(getattr(self, f"layer{i}_{s}")(x), 0.2)
                    outs.append(x)
                    x = torch.cat(outs, 1)
                feats[s] = outs
            cat = torch.cat([t for pair in zip(feats["ir"], feats["vi"]) for t in pair], 1)
            return torch.tanh(self.layer5_fuse(cat))

    net = SDNet()
    state = _nets.tf_state(_tfbundle.model_variables(prefix), _tf_names(), "sdnet", prefix)
    _nets.load_strict(net, state, "sdnet", prefix)
    return net


def load_model(ctx: PairContext | None = None):
    """The SDNet network with the authors' weights (cached per process)."""
    return _nets.cached_model(_build, _tfbundle.checkpoint(CHECKPOINT, SOURCE, "sdnet", ctx))


@register_method(
    "sdnet", resources={"GPU": 1},
    description="SDNet (Zhang & Ma IJCV 2021), authors' TF weights, min-max output",
    reference="H. Zhang, J. Ma, SDNet: A versatile squeeze-and-decomposition network for real-time "
              "image fusion, IJCV 129 2021; code github.com/HaoZhang1018/SDNet, run as in "
              "github.com/Linfeng-Tang/VIF-Benchmark",
    color=True, needs_context=True, mem_bytes_per_pixel=1700, version="1")
def sdnet(ir: np.ndarray, vi: np.ndarray, *, vi_rgb: np.ndarray | None = None,
          ctx: PairContext | None = None) -> np.ndarray:
    """Fuse with SDNet; float64 0..255 in, min-max stretched float64 0..255 out (RGB for colour VI)."""
    net = load_model(ctx)
    dev = next(net.parameters()).device
    with _nets.inference():
        x_ir = _nets.to_batch((ir - 127.5) / 127.5, dev=dev)
        x_vi = _nets.to_batch((_ycbcr.authors_gray(vi, vi_rgb) - 127.5) / 127.5, dev=dev)
        out = _nets.to_numpy(net(x_ir, x_vi)) * 127.5 + 127.5
    if vi_rgb is None:
        return _nets.minmax_stretch(out)
    return _ycbcr.restore_colour(_ycbcr.bytescale(out), vi_rgb)
