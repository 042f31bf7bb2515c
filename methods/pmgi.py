"""PMGI (Zhang et al., AAAI 2020): proportional maintenance of gradient and intensity, authors' weights.

Network (rebuilt from ``PMGI/PMGI.py`` of Linfeng-Tang/VIF-Benchmark @ 23f2e51, the script that
made the published TNO images; same graph as HaoZhang1018/PMGI_AAAI2020). Two paths, each
convolution zero 'SAME' padded, stride 1, bias, then batch norm, then leaky ReLU ``max(x, 0.2x)``:

* inputs: the IR path sees ``[IR, IR, VI]``, the VI path ``[VI, VI, IR]`` (3 channels);
* ``layer1``/``layer1_vi`` 5x5 3->16, ``layer2``/``layer2_vi`` 3x3 16->16;
* ``layer2_3``/``layer2_3_vi`` 1x1 on ``[c2_ir, c2_vi]`` (gradient/intensity exchange);
* ``layer3``/``layer3_vi`` 3x3 on ``[c1, c2, c2_3]`` of their path (48->16);
* ``layer3_4``/``layer3_4_vi`` 1x1 on ``[c3_ir, c3_vi]``;
* ``layer4``/``layer4_vi`` 3x3 on ``[c1, c2, c3, c3_4]`` (64->16);
* ``layer5`` 1x1 on ``[c1_ir, c1_vi, c2_ir, c2_vi, c3_ir, c3_vi, c4_ir, c4_vi]`` (128->1), tanh.

Batch norm: the test script calls ``tf.contrib.layers.batch_norm(x, decay=0.9, epsilon=1e-5,
scale=True)`` with its default ``is_training=True`` and restores only the ``w``/``b`` variables
through ``reader.get_tensor``; the batch-norm variables are freshly initialised
(gamma 1, beta 0). So at test time each feature map is normalised by its own mean and biased
variance over the image (batch of one), eps 1e-5, with no affine: this is the default
(``bn='batch'``). ``pmgi:moving`` uses the checkpoint's trained gamma/beta and moving statistics
instead (inference-mode batch norm; not what the authors ran).

Test script: each image read with ``scipy.misc.imread(flatten=True, mode='YCbCr')``, scaled
``(x - 127.5) / 127.5``, native size, no padding; output ``tanh * 127.5 + 127.5`` saved with
``scipy.misc.imsave`` (min-max stretched to 0..255). Colour visible images: their PIL luma is
fused and the result gets the visible Cb/Cr back (``img2RGB``), returned as RGB.

Agreement with the published images (``results/tno/PMGI``, 16 TNO pairs, run by L. Tang with
this script; checked in ``tests/methods/test_modern_methods_tf.py``), PSNR of the rounded output:
median 88.4 dB, worst 51.9 dB. 14 pairs reach 84-95 dB (a few pixels 1 level apart: rounding of
values within float32 noise of .5); pairs 07 (51.9 dB) and 08 (58.5 dB) show a spatially white
difference of 1 level at many pixels (at most 3), like every pair of the published SDNet images,
whose cause (the author's run environment) is not identified. With the checkpoint's
moving statistics (``pmgi:moving``) the agreement drops to 16-33 dB, which confirms that the
published images were made with per-image batch statistics.

Weights: ``PMGI/PMGI.{index,data-00000-of-00001}`` (VIF-Benchmark ``Checkpoint/PMGI``), read
directly with :mod:`fusionbench.methods._tfbundle`.
"""
from __future__ import annotations

import numpy as np

from fusionbench.data import PairContext
from fusionbench.registry import register_method
from fusionbench.methods import _nets, _tfbundle, _ycbcr

SOURCE = "github.com/Linfeng-Tang/VIF-Benchmark Checkpoint/PMGI/PMGI.* @ 23f2e51 (see the weights MANIFEST)"
CHECKPOINT = "PMGI/PMGI"
EPS = 1e-5
#: (name, kernel, in, out) in the checkpoint's scopes ``fusion_model/<name>/{w,b}<suffix>``.
LAYERS = [("layer1", 5, 3), ("layer2", 3, 16), ("layer2_3", 1, 32), ("layer3", 3, 48),
          ("layer3_4", 1, 32), ("layer4", 3, 64)]


def _tf_names() -> dict[str, str]:
    names = {}
    for base, _, _ in LAYERS:
        for path in (base, base + "_vi"):
            suffix = path[len("layer"):]
            tf = f"fusion_model/{path}"
            key = path.replace("layer", "l")
            names[f"{key}.conv.weight"] = f"{tf}/w{suffix}"
            names[f"{key}.conv.bias"] = f"{tf}/b{suffix}"
            for ours, theirs in (("gamma", "gamma"), ("beta", "beta"), ("mean", "moving_mean"),
                                 ("var", "moving_variance")):
                names[f"{key}.{ours}"] = f"{tf}/BatchNorm/{theirs}"
    names["l5.weight"], names["l5.bias"] = "fusion_model/layer5/w5", "fusion_model/layer5/b5"
    return names


def _build(prefix):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class ConvBN(nn.Module):
        def __init__(self, k: int, cin: int):
            super().__init__()
            self.conv = nn.Conv2d(cin, 16, k, padding=k // 2)
            self.gamma = nn.Parameter(torch.ones(16))
            self.beta = nn.Parameter(torch.zeros(16))
            self.register_buffer("mean", torch.zeros(16))
            self.register_buffer("var", torch.ones(16))

        def forward(self, x, moving: bool = False):
            x = self.conv(x)
            if moving:
                x = F.batch_norm(x, self.mean, self.var, self.gamma, self.beta, False, 0.0, EPS)
            else:  # the test script: statistics of this image, gamma 1, beta 0
                x = F.batch_norm(x, None, None, None, None, True, 0.0, EPS)
            return F.leaky_relu(x, 0.2)

    class PMGINet(nn.Module):
        def __init__(self):
            super().__init__()
            for base, k, cin in LAYERS:
                for path in (base, base + "_vi"):
                    self.add_module(path.replace("layer", "l"), ConvBN(k, cin))
            self.l5 = nn.Conv2d(128, 1, 1)

        def forward(self, ir, vi, moving: bool = False):
            def f(layer, *xs):
                return layer(torch.cat(xs, 1), moving)

            c1i, c1v = f(self.l1, ir, ir, vi), f(self.l1_vi, vi, vi, ir)
            c2i, c2v = f(self.l2, c1i), f(self.l2_vi, c1v)
            c23i, c23v = f(self.l2_3, c2i, c2v), f(self.l2_3_vi, c2i, c2v)
            c3i, c3v = f(self.l3, c1i, c2i, c23i), f(self.l3_vi, c1v, c2v, c23v)
            c34i, c34v = f(self.l3_4, c3i, c3v), f(self.l3_4_vi, c3i, c3v)
            c4i, c4v = f(self.l4, c1i, c2i, c3i, c34i), f(self.l4_vi, c1v, c2v, c3v, c34v)
            return torch.tanh(self.l5(torch.cat([c1i, c1v, c2i, c2v, c3i, c3v, c4i, c4v], 1)))

    net = PMGINet()
    state = _nets.tf_state(_tfbundle.model_variables(prefix), _tf_names(), "pmgi", prefix)
    _nets.load_strict(net, state, "pmgi", prefix)
    return net


def load_model(ctx: PairContext | None = None):
    """The PMGI network with the authors' weights (cached per process)."""
    return _nets.cached_model(_build, _tfbundle.checkpoint(CHECKPOINT, SOURCE, "pmgi", ctx))


@register_method(
    "pmgi", resources={"GPU": 1},
    description="PMGI (Zhang et al. AAAI 2020), authors' TF weights, test-script batch norm, min-max output",
    reference="H. Zhang, H. Xu, Y. Xiao, X. Guo, J. Ma, Rethinking the image fusion: a fast unified "
              "image fusion network based on proportional maintenance of gradient and intensity, "
              "AAAI 2020; code github.com/HaoZhang1018/PMGI_AAAI2020, run as in "
              "github.com/Linfeng-Tang/VIF-Benchmark",
    params={"bn": "batch"}, variants={"moving": {"bn": "moving"}},
    color=True, needs_context=True, mem_bytes_per_pixel=2200, version="1")
def pmgi(ir: np.ndarray, vi: np.ndarray, *, bn: str = "batch", vi_rgb: np.ndarray | None = None,
         ctx: PairContext | None = None) -> np.ndarray:
    """Fuse with PMGI; float64 0..255 in, min-max stretched float64 0..255 out (RGB for colour VI).

    ``bn='batch'`` (default): batch norm with the image's own statistics, as the test script ran;
    ``bn='moving'``: the checkpoint's moving statistics and affine parameters.
    """
    if bn not in ("batch", "moving"):
        raise ValueError(f"pmgi: unknown bn {bn!r} (batch, moving)")
    net = load_model(ctx)
    dev = next(net.parameters()).device
    with _nets.inference():
        x_ir = _nets.to_batch((ir - 127.5) / 127.5, dev=dev)
        x_vi = _nets.to_batch((_ycbcr.authors_gray(vi, vi_rgb) - 127.5) / 127.5, dev=dev)
        out = _nets.to_numpy(net(x_ir, x_vi, bn == "moving")) * 127.5 + 127.5
    if vi_rgb is None:
        return _nets.minmax_stretch(out)
    return _ycbcr.restore_colour(_ycbcr.bytescale(out), vi_rgb)
