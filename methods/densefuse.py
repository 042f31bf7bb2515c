"""DenseFuse (Li & Wu, IEEE TIP 2019) with the authors' TensorFlow weights (SSIM weight 1e2).

Network (rebuilt from ``encoder.py``/``decoder.py`` of hli1221/imagefusion_densefuse @ ef23f0f,
the paper's release); every convolution is 3x3, reflection padding 1, VALID, stride 1:

* encoder: ``conv1_1`` 1->16 + ReLU, then a dense block of three convolutions (16->16, 32->16,
  48->16, ReLU) each concatenated *new features first* (``concat([out, x])``), giving 64 channels
  ordered ``[out3, out2, out1, x]``;
* decoder: ``conv2_1`` 64->64, ``conv2_2`` 64->32, ``conv2_3`` 32->16 with ReLU, ``conv2_4`` 16->1
  linear.

Fusion rules of the test script (``generate.py``), as variants:

* ``densefuse:add`` (default, the paper's main setting): ``phi = phi_ir + phi_vi`` (plain sum);
* ``densefuse:l1``: per-pixel activity ``A_k = sum_c |phi_k^c|`` (no window averaging in the
  authors' code), ``phi = (A_ir phi_ir + A_vi phi_vi) / (A_ir + A_vi)``.

Inputs are the raw 8-bit gray values (0..255) at native size. The decoder output is saved by
``scipy.misc.imsave`` of a float array, which stretches min..max to 0..255; this method returns
that stretch, ``(y - min) / (max - min) * 255`` (the store's rounding then equals bytescale's).
The committed ``get_train_images`` would resize test images to 256x256 and transpose them; the
published outputs are native size, so neither is done here.

Weights: ``DenseFuse/densefuse_tf_ssim1e2.npz`` (the ``..._all_weight_1e2.ckpt`` that ``main.py``
uses, converted to NumPy; see the weights MANIFEST). The PyTorch port's ``densefuse_gray.model``
is a separately trained network and is not used. Published comparison: the DenseFuse images in
``results/tno/DenseFuse_{add,l1}`` were made by a third party (Yu Fu) with this code and these
weights.
"""
from __future__ import annotations

import numpy as np

from fusionbench.data import PairContext
from fusionbench.registry import register_method
from fusionbench.methods import _nets

SOURCE = ("github.com/hli1221/imagefusion_densefuse models/densefuse_gray.zip "
          "(densefuse_model_bs2_epoch4_all_weight_1e2.ckpt) @ ef23f0f06c4fce7a6c2c04c9d20119e3d96507b9, "
          "converted with tools/tf2npz.py")
WEIGHTS_FILE = "DenseFuse/densefuse_tf_ssim1e2.npz"

# module key -> TF variable name
_TF_NAMES = _nets.tf_conv_names(
    [("conv1_1", "encoder/conv1_1"), ("dense1", "encoder/dense_block_conv1"),
     ("dense2", "encoder/dense_block_conv2"), ("dense3", "encoder/dense_block_conv3"),
     ("conv2_1", "decoder/conv2_1"), ("conv2_2", "decoder/conv2_2"),
     ("conv2_3", "decoder/conv2_3"), ("conv2_4", "decoder/conv2_4")])


def _build(path):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    c = _nets.conv_layer

    class DenseFuseTF(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1_1 = c(1, 16, reflect=True)
            self.dense1 = c(16, 16, reflect=True)
            self.dense2 = c(32, 16, reflect=True)
            self.dense3 = c(48, 16, reflect=True)
            self.conv2_1 = c(64, 64, reflect=True)
            self.conv2_2 = c(64, 32, reflect=True)
            self.conv2_3 = c(32, 16, reflect=True)
            self.conv2_4 = c(16, 1, reflect=True)

        def encode(self, x):
            x = F.relu(self.conv1_1(x))
            for layer in (self.dense1, self.dense2, self.dense3):
                x = torch.cat([F.relu(layer(x)), x], 1)  # new features first, as the TF code
            return x

        def decode(self, f):
            f = F.relu(self.conv2_1(f))
            f = F.relu(self.conv2_2(f))
            f = F.relu(self.conv2_3(f))
            return self.conv2_4(f)

    net = DenseFuseTF()
    state = _nets.tf_state(_nets.read_npz(path, "densefuse"), _TF_NAMES, "densefuse", path)
    _nets.load_strict(net, state, "densefuse", path)
    return net


def load_model(ctx: PairContext | None = None):
    """DenseFuse with the TF 1e2 weights (cached per process)."""
    return _nets.cached_model(_build, _nets.weights_file(WEIGHTS_FILE, SOURCE, "densefuse", ctx))


def fuse_features(f_ir, f_vi, strategy: str):
    """The test script's fusion layer on ``(1, 64, H, W)`` feature maps."""
    if strategy == "add":
        return f_ir + f_vi
    if strategy == "l1":
        a_ir = f_ir.abs().sum(1, keepdim=True)
        a_vi = f_vi.abs().sum(1, keepdim=True)
        total = a_ir + a_vi
        # Where both activities are zero the authors' code divides 0/0; use equal weights.
        w_ir = (a_ir / total.clamp_min(1e-30)).where(total > 0, 0.5 + 0 * total)
        return w_ir * f_ir + (1 - w_ir) * f_vi
    raise ValueError(f"densefuse: unknown strategy {strategy!r} (add, l1)")


@register_method(
    "densefuse", resources={"GPU": 1},
    description="DenseFuse (Li & Wu TIP 2019), authors' TF weights (SSIM 1e2); variants add, l1",
    mem_bytes_per_pixel=1700, reference="H. Li, X.-J. Wu, DenseFuse: A fusion approach to infrared and visible images, "
              "IEEE TIP 28(5) 2019; code github.com/hli1221/imagefusion_densefuse",
    params={"strategy": "add"}, variants={"add": {"strategy": "add"}, "l1": {"strategy": "l1"}},
    default_variant="add", needs_context=True, version="1")
def densefuse(ir: np.ndarray, vi: np.ndarray, *, strategy: str = "add",
              ctx: PairContext | None = None) -> np.ndarray:
    """Fuse with DenseFuse; float64 gray 0..255 in, min-max stretched float64 0..255 out."""
    net = load_model(ctx)
    with _nets.inference():
        x = _nets.to_batch(ir, vi, dev=next(net.parameters()).device)
        f = net.encode(x)
        out = net.decode(fuse_features(f[:1], f[1:], strategy))
    return _nets.minmax_stretch(_nets.to_numpy(out))
