"""CSF (Xu et al., IEEE TCI 2021): classification saliency-based fusion, authors' EC and ED weights.

Networks (rebuilt from ``CSF/networks.py`` of Linfeng-Tang/VIF-Benchmark @ 23f2e51, the authors'
code of hanna-xu/CSF). Every convolution is 5x5: reflection padding 2, VALID, bias, then (where
stated) ``max(x, 0.2x)``:

* encoder (``Encoder/encoder/conv1_{1,4,6,8}``): 1->16->24->24->24, leaky ReLU after each;
* decoder (``Decoder/decoder/conv1_{1..4}``): 24->16->16->16 with leaky ReLU, ->1 with tanh;
* classifier (``Classification/classification/conv1_{6,8,9,11}``): 24->32->64->32->2, each conv
  followed by batch norm (``tf.layers.batch_normalization`` with ``training=False``: the moving
  statistics, eps 1e-3), leaky ReLU and a 2x2 stride-2 'SAME' max pool; the logits are the
  spatial mean of the last map, class 0 = visible, class 1 = infrared.

The test script (``CSF/generate.py``, ``generate``) restores the encoder and decoder from ``ED.ckpt``
and only the classifier from ``EC.ckpt`` (its encoder copy is unused), and uses the "CS-based
strategy":

1. ``I = (x / 255 - 0.5) * 2`` for both images (read with ``imread(flatten=True, mode='YCbCr')``);
2. ``b = VI - mean(VI) + mean(IR)``; integrated-gradient paths ``var_ir[i] = b + (i+1)/10 (IR - b)``
   and ``var_vis[i] = IR + (i+1)/10 (b - IR)``, i = 0..9, each encoded;
3. ``ders_ir = d out[0, 1] / d FEAS`` and ``ders_vis = d out[0, 0] / d FEAS`` on the batch of the
   ten path features. The score is the logit of batch element 0 only and the classifier treats the
   batch elements independently, so the gradient of elements 1..9 is exactly zero and the script's
   ``mean_i |g_i| * 0.25**i`` equals ``|g_0| / 10``; this port evaluates element 0 alone;
4. ``ders_ir += mean(ders_vis) - mean(ders_ir)``; per-pixel, per-channel weights
   ``softmax(ders_vis / c, ders_ir / c)`` with ``c = 0.00015`` (computed as a logistic of the
   difference, equal to the script's ``exp / (exp + exp)`` wherever that does not overflow);
5. fused features ``w_vis * E(VI) + w_ir * E(IR)``, decoded; ``imsave(y / 2 + 0.5)`` min-max
   stretches the result to 0..255. Colour visible images get their Cb/Cr back (``img2RGB``).

The classifier's three 2x2 pools before its last convolution need each side to be at least
17 pixels (reflection padding 2 after the pools), as in the original; smaller inputs are refused.

Verification: no published CSF outputs are staged. The tests compare the encoder, classifier
logits and decoder with an independent NumPy re-execution from the checkpoint arrays (float64)
on random input (< 1e-4), the classifier gradient with central finite differences of the NumPy
classifier, the whole strategy (steps 1-5 with the script's own ``exp / (exp + exp)``) with
:func:`fuse_gray`, and the classifier's pools (2x2, stride 2, 'SAME'), reflection pads and batch
norm epsilon (1e-3) with the authors' saved graph ``EC.ckpt.meta``.

Weights: ``CSF/EC.ckpt.*`` and ``CSF/ED.ckpt.*`` (VIF-Benchmark ``Checkpoint/CSF``), read
directly with :mod:`fusionbench.methods._tfbundle`.
"""
from __future__ import annotations

import numpy as np

from fusionbench.data import PairContext
from fusionbench.errors import InputError
from fusionbench.registry import register_method
from fusionbench.methods import _nets, _tfbundle, _ycbcr

SOURCE = "github.com/Linfeng-Tang/VIF-Benchmark Checkpoint/CSF/{EC,ED}.ckpt.* @ 23f2e51 (see the weights MANIFEST)"
EC, ED = "CSF/EC.ckpt", "CSF/ED.ckpt"
SAMPLES = 10
C = 0.00015
BN_EPS = 1e-3
MIN_SIDE = 17
ENCODER = [("conv1_1", 1, 16), ("conv1_4", 16, 24), ("conv1_6", 24, 24), ("conv1_8", 24, 24)]
DECODER = [("conv1_1", 24, 16), ("conv1_2", 16, 16), ("conv1_3", 16, 16), ("conv1_4", 16, 1)]
CLASSIFIER = [("conv1_6", 24, 32), ("conv1_8", 32, 64), ("conv1_9", 64, 32), ("conv1_11", 32, 2)]


def _tf_names() -> tuple[dict[str, str], dict[str, str]]:
    """(names read from ED, names read from EC): module key -> TF variable."""
    ed = _nets.tf_conv_names([(f"enc.{i}", f"Encoder/encoder/{n}") for i, (n, _, _) in enumerate(ENCODER)]
                             + [(f"dec.{i}", f"Decoder/decoder/{n}") for i, (n, _, _) in enumerate(DECODER)])
    ec = _nets.tf_conv_names([(f"cls.{i}.conv", f"Classification/classification/{n}")
                              for i, (n, _, _) in enumerate(CLASSIFIER)])
    for i in range(len(CLASSIFIER)):
        tf = f"Classification/classification/b{i}/batch_normalization"
        ec.update({f"cls.{i}.bn.weight": f"{tf}/gamma", f"cls.{i}.bn.bias": f"{tf}/beta",
                   f"cls.{i}.bn.running_mean": f"{tf}/moving_mean",
                   f"cls.{i}.bn.running_var": f"{tf}/moving_variance"})
    return ed, ec


def _build(ec_prefix, ed_prefix):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def conv(cin, cout):
        return nn.Conv2d(cin, cout, 5, padding=2, padding_mode="reflect")

    class ClsLayer(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.conv = conv(cin, cout)
            self.bn = nn.BatchNorm2d(cout, eps=BN_EPS, track_running_stats=True)

        def forward(self, x):
            x = F.leaky_relu(self.bn(self.conv(x)), 0.2)
            return F.max_pool2d(x, 2, 2, ceil_mode=True)  # TF 'SAME' pool: pads at the end

    class CSFNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.ModuleList([conv(a, b) for _, a, b in ENCODER])
            self.dec = nn.ModuleList([conv(a, b) for _, a, b in DECODER])
            self.cls = nn.ModuleList([ClsLayer(a, b) for _, a, b in CLASSIFIER])

        def encode(self, x):
            for layer in self.enc:
                x = F.leaky_relu(layer(x), 0.2)
            return x

        def decode(self, x):
            for layer in self.dec[:-1]:
                x = F.leaky_relu(layer(x), 0.2)
            return torch.tanh(self.dec[-1](x))

        def classify(self, x):
            for layer in self.cls:
                x = layer(x)
            return x.mean(dim=(2, 3))

    net = CSFNet()
    ed_names, ec_names = _tf_names()
    ed_vars = _tfbundle.model_variables(ed_prefix)
    ec_vars = _tfbundle.model_variables(ec_prefix)
    # EC also holds an encoder copy that the test script does not restore; ED holds no classifier.
    ec_vars = {k: v for k, v in ec_vars.items() if k.startswith("Classification/")}
    state = {**_nets.tf_state(ed_vars, ed_names, "csf", ed_prefix),
             **_nets.tf_state(ec_vars, ec_names, "csf", ec_prefix)}
    state.update({f"cls.{i}.bn.num_batches_tracked": torch.tensor(0) for i in range(len(CLASSIFIER))})
    _nets.load_strict(net, state, "csf", f"{ec_prefix}, {ed_prefix}")
    return net


def load_model(ctx: PairContext | None = None):
    """The CSF encoder, decoder and classifier with the authors' weights (cached per process)."""
    return _nets.cached_model(_build, _tfbundle.checkpoint(EC, SOURCE, "csf", ctx),
                              _tfbundle.checkpoint(ED, SOURCE, "csf", ctx))


def saliency_weights(g_vis: np.ndarray, g_ir: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step 4: ``(w_vis, w_ir)`` from the classifier gradients of element 0 (float64 arrays)."""
    d_vis = np.abs(g_vis) / SAMPLES
    d_ir = np.abs(g_ir) / SAMPLES
    d_ir = d_ir + d_vis.mean() - d_ir.mean()
    w_vis = 0.5 * (1.0 + np.tanh((d_vis - d_ir) / (2.0 * C)))  # exp(a)/(exp(a)+exp(b)), stable
    return w_vis, 1.0 - w_vis


def fuse_gray(ir: np.ndarray, vi_gray: np.ndarray, ctx: PairContext | None = None) -> np.ndarray:
    """The decoded fused image ``y / 2 + 0.5`` (float64, before the min-max stretch)."""
    import torch

    if min(ir.shape) < MIN_SIDE:
        raise InputError(f"csf: images must be at least {MIN_SIDE} pixels on each side "
                         f"(got {ir.shape[1]}x{ir.shape[0]}; the classifier pools three times)")
    net = load_model(ctx)
    dev = next(net.parameters()).device
    ir_n = (np.asarray(ir, dtype=np.float64) / 255.0 - 0.5) * 2
    vi_n = (np.asarray(vi_gray, dtype=np.float64) / 255.0 - 0.5) * 2
    base = vi_n - vi_n.mean() + ir_n.mean()
    path_ir = base + (ir_n - base) / SAMPLES          # var_ir[0]
    path_vis = ir_n + (base - ir_n) / SAMPLES         # var_vis[0]
    grads = []
    with _nets.inference():
        f_vis, f_ir = net.encode(_nets.to_batch(vi_n, dev=dev)), net.encode(_nets.to_batch(ir_n, dev=dev))
        p_ir, p_vis = net.encode(_nets.to_batch(path_ir, dev=dev)), net.encode(_nets.to_batch(path_vis, dev=dev))
    with torch.inference_mode(False), torch.enable_grad():
        for feats, cls in ((p_vis, 0), (p_ir, 1)):
            x = feats.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(net.classify(x)[0, cls], x)
            grads.append(g.detach().double().cpu().numpy())
    w_vis, w_ir = saliency_weights(grads[0], grads[1])
    fused = (w_vis * f_vis.double().cpu().numpy() + w_ir * f_ir.double().cpu().numpy())
    with _nets.inference():
        y = net.decode(torch.from_numpy(fused.astype(np.float32)).to(dev))
    return _nets.to_numpy(y) / 2 + 0.5


@register_method(
    "csf", resources={"GPU": 1},
    description="CSF (Xu et al. TCI 2021), classification-saliency feature weights, authors' EC/ED weights",
    reference="H. Xu, H. Zhang, J. Ma, Classification saliency-based rule for visible and infrared "
              "image fusion, IEEE TCI 7 2021; code github.com/hanna-xu/CSF, run as in "
              "github.com/Linfeng-Tang/VIF-Benchmark",
    color=True, needs_context=True, mem_bytes_per_pixel=2400, version="1")
def csf(ir: np.ndarray, vi: np.ndarray, *, vi_rgb: np.ndarray | None = None,
        ctx: PairContext | None = None) -> np.ndarray:
    """Fuse with CSF; float64 0..255 in, min-max stretched float64 0..255 out (RGB for colour VI)."""
    out = fuse_gray(ir, _ycbcr.authors_gray(vi, vi_rgb), ctx)
    if vi_rgb is None:
        return _nets.minmax_stretch(out)
    return _ycbcr.restore_colour(_ycbcr.bytescale(out), vi_rgb)
