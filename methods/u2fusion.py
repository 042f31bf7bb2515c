"""U2Fusion (Xu et al., IEEE TPAMI 2020): the DenseNet-style generator with the authors' weights.

Network (rebuilt from ``Net.py`` of hanna-xu/U2Fusion @ 0a58821, n = 44); every convolution is
reflection padding 1, 3x3 VALID, bias, leaky ReLU ``max(x, 0.2x)``:

* encoder: ``conv1_1`` on the 2-channel input ``[I1, I2]`` (2->44), then five dense layers
  (44k->44, k = 1..5), each concatenated *new features first* (``concat([out, x])``): 264 channels;
* decoder: ``conv2_1`` 264->128, ``conv2_2`` 128->64, ``conv2_3`` 64->32 (leaky ReLU), ``conv2_4``
  32->1 followed by ``tanh(x) / 2 + 0.5``. No batch norm.

Test script (``test_main.py``): ``SOURCE1`` is the visible image and ``SOURCE2`` the infrared,
so the channel order is ``[VIS, IR]``; both are the 8-bit values divided by 255, native size.
The output is saved with ``scipy.misc.toimage(out, cmin=0, cmax=out.max())``, i.e. scaled so that
its maximum becomes 255; this method returns ``out / out.max() * 255``. The variant
``u2fusion:minmax`` stretches min..max to 0..255 instead, as ``scipy.misc.imsave`` did in the
third-party run (thfylsty's ``test_main.py``) that made the published U2Fusion images; with it the
published TNO images are reproduced (see the tests). Colour visible images are
used through their gray version (the authors' Y differs from MATLAB's rgb2gray by < 1 grey level
before rounding); the method returns gray.

Weights: ``U2Fusion/u2fusion.npz`` (the TF checkpoint ``model/model.ckpt`` converted to NumPy,
see the weights MANIFEST). Published comparison: ``results/tno/U2Fusion`` and
``results/roadscene/U2Fusion`` were made by a third party (Yu Fu) with this code; the RoadScene
inputs there were a re-encoded JPEG copy, which limits the agreement on that set.
"""
from __future__ import annotations

import numpy as np

from fusionbench.data import PairContext
from fusionbench.registry import register_method
from fusionbench.methods import _nets

SOURCE = ("github.com/hanna-xu/U2Fusion model/model.ckpt @ 0a5882140df67b3e0b588e1f2233e18cf944f1a4, "
          "converted with tools/tf2npz.py")
WEIGHTS_FILE = "U2Fusion/u2fusion.npz"
N = 44

_TF_NAMES = _nets.tf_conv_names(
    [(f"enc.{i}", f"Generator/encoder/{tf}")
     for i, tf in enumerate(["conv1_1"] + [f"dense_block_conv{k}" for k in range(1, 6)])]
    + [(f"dec.{i}", f"Generator_1/decoder/{tf}") for i, tf in enumerate(["conv2_1", "conv2_2", "conv2_3", "conv2_4"])])


def _build(path):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    c = _nets.conv_layer

    class U2FusionNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.ModuleList([c(2, N, reflect=True)] +
                                     [c(N * k, N, reflect=True) for k in range(1, 6)])
            self.dec = nn.ModuleList([c(6 * N, 128, reflect=True), c(128, 64, reflect=True),
                                      c(64, 32, reflect=True), c(32, 1, reflect=True)])

        def forward(self, x):
            x = F.leaky_relu(self.enc[0](x), 0.2)
            for layer in self.enc[1:]:
                x = torch.cat([F.leaky_relu(layer(x), 0.2), x], 1)
            for layer in self.dec[:-1]:
                x = F.leaky_relu(layer(x), 0.2)
            return torch.tanh(self.dec[-1](x)) / 2 + 0.5

    net = U2FusionNet()
    state = _nets.tf_state(_nets.read_npz(path, "u2fusion"), _TF_NAMES, "u2fusion", path)
    _nets.load_strict(net, state, "u2fusion", path)
    return net


def load_model(ctx: PairContext | None = None):
    """The U2Fusion generator with the authors' weights (cached per process)."""
    return _nets.cached_model(_build, _nets.weights_file(WEIGHTS_FILE, SOURCE, "u2fusion", ctx))


@register_method(
    "u2fusion", resources={"GPU": 1},
    description="U2Fusion (Xu et al. TPAMI 2020) generator, authors' weights, output max-scaled",
    mem_bytes_per_pixel=4100, reference="H. Xu, J. Ma, J. Jiang, X. Guo, H. Ling, U2Fusion: A unified unsupervised image "
              "fusion network, IEEE TPAMI 44(1) 2022 (online 2020); code github.com/hanna-xu/U2Fusion",
    params={"scaling": "max"}, variants={"minmax": {"scaling": "minmax"}},
    needs_context=True, version="1")
def u2fusion(ir: np.ndarray, vi: np.ndarray, *, scaling: str = "max",
             ctx: PairContext | None = None) -> np.ndarray:
    """Fuse with U2Fusion; float64 gray 0..255 in and out.

    ``scaling='max'`` (default, the authors' ``test_main.py``): ``out / max(out) * 255``;
    ``scaling='minmax'`` (``u2fusion:minmax``): ``(out - min) / (max - min) * 255``, as
    ``scipy.misc.imsave`` in the third-party run that made the published images.
    """
    if scaling not in ("max", "minmax"):
        raise ValueError(f"u2fusion: unknown scaling {scaling!r} (max, minmax)")
    net = load_model(ctx)
    with _nets.inference():
        x = _nets.to_batch(vi, ir, scale=1.0 / 255.0, dev=next(net.parameters()).device)
        out = _nets.to_numpy(net(x.reshape(1, 2, *x.shape[-2:])))
    if scaling == "minmax":
        return _nets.minmax_stretch(out)
    top = float(out.max())
    return out * (255.0 / top) if top > 0 else out * 255.0
