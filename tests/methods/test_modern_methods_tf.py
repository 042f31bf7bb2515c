"""PMGI, SDNet, STDFusionNet and CSF: TF1 checkpoints read without TensorFlow, rebuilt in PyTorch.

Checks:

* the tensor-bundle reader (``methods/_tfbundle.py``) against bytes read here independently
  (offset of a known tensor, file checksum from the weights MANIFEST) and, when present, against
  the weights root's own ``tools/tfbundle.py``; corrupt files give one-line errors;
* strict loading: every model variable of each checkpoint fills the network, nothing else;
* missing weights: one-line error naming the file and its MANIFEST source;
* odd sizes, determinism, colour visible images (Y fused, Cb/Cr restored);
* PMGI and SDNet against the published TNO images (``results/tno/{PMGI,SDNet}``, L. Tang's runs
  of the authors' scripts) on two small pairs (all 16 pairs under ``-m slow``);
* STDFusionNet and CSF (no published images): the PyTorch forward passes against a NumPy
  re-execution of the authors' layer lists computed directly from the checkpoint arrays
  (float64, HWIO kernels), and CSF's classifier gradient against central finite differences.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import shutil

import numpy as np
import pytest
from conftest import psnr, tno_pair as _pair

import fusionbench
from fusionbench.errors import InputError, MissingWeightsError, WeightsError
from fusionbench.imageio import read_image

METHODS = ["pmgi", "pmgi:moving", "sdnet", "stdfusionnet", "csf"]
CHECKPOINTS = {"pmgi": "PMGI/PMGI", "sdnet": "SDNet/SDNet.model",
               "stdfusionnet": "STDFusionNet/Fusion.model-29", "csf": "CSF/EC.ckpt"}


# --- NumPy reference layers (float64, TF layouts) -------------------------------------------

def np_conv(x: np.ndarray, k: np.ndarray, b: np.ndarray | None = None, pad: int = 0,
            mode: str = "constant") -> np.ndarray:
    """TF conv2d, stride 1, of ``x`` (C, H, W) with HWIO kernel ``k`` after padding ``pad``."""
    if pad:
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)), mode=mode)
    kh, kw = k.shape[:2]
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # C, H', W', kh, kw
    out = np.einsum("chwij,ijco->ohw", win, k.astype(np.float64), optimize=True)
    return out + (0 if b is None else b.astype(np.float64)[:, None, None])


def lrelu(x):
    return np.maximum(x, 0.2 * x)


def elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def maxpool_same(x):
    """TF max_pool 2x2 stride 2 'SAME' (odd sizes padded with -inf at the end)."""
    c, h, w = x.shape
    x = np.pad(x, ((0, 0), (0, h % 2), (0, w % 2)), constant_values=-np.inf)
    return x.reshape(c, x.shape[1] // 2, 2, x.shape[2] // 2, 2).max(axis=(2, 4))


# --- the tensor-bundle reader ---------------------------------------------------------------

def test_bundle_reader_matches_bytes_read_independently(weights):
    from fusionbench.methods import _tfbundle

    prefix = weights / "SDNet" / "SDNet.model"
    data = (weights / "SDNet" / "SDNet.model.data-00000-of-00001").read_bytes()
    # the weights MANIFEST's sha256 of this file: the bytes below are the published ones
    assert hashlib.sha256(data).hexdigest() == \
        "17e4426453f09f3dae7887244f48eed54550bdd584792ac284597ee3713293a0"
    entries = _tfbundle.read_entries(prefix)
    e = entries["fusion_model/layer7_ir/w7_ir"]
    assert (e.dtype, e.shape, e.shard, e.size) == ("<f4", (3, 3, 128, 16), 0, 3 * 3 * 128 * 16 * 4)
    arrays = _tfbundle.read_bundle(prefix)
    assert len(arrays) == 32 and all(a.dtype == np.float32 for a in arrays.values())
    # tensors are laid out back to back: the 1-element layer5 bias sits at byte 114304
    assert entries["fusion_model/layer5_fuse/b5_fuse"].offset == 114304
    direct = np.frombuffer(data, "<f4", count=1, offset=114304)
    np.testing.assert_array_equal(arrays["fusion_model/layer5_fuse/b5_fuse"], direct)
    raw = np.frombuffer(data, "<f4", count=e.size // 4, offset=e.offset).reshape(e.shape)
    np.testing.assert_array_equal(arrays["fusion_model/layer7_ir/w7_ir"], raw)
    assert _tfbundle.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value


@pytest.mark.parametrize("rel", sorted(set(CHECKPOINTS.values()) | {"CSF/ED.ckpt"}))
def test_bundle_reader_agrees_with_weights_root_tool(weights, rel):
    tool = weights / "tools" / "tfbundle.py"
    if not tool.exists():
        pytest.skip("weights root has no tools/tfbundle.py")
    spec = importlib.util.spec_from_file_location("shared_tfbundle", tool)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from fusionbench.methods import _tfbundle

    _, theirs, _ = mod.load(str(weights / rel))
    ours = _tfbundle.read_bundle(weights / rel)
    assert set(ours) == set(theirs)
    for k, v in theirs.items():
        assert ours[k].dtype == v.dtype and ours[k].shape == v.shape, k
        np.testing.assert_array_equal(ours[k], v, err_msg=k)


def test_bundle_reader_rejects_corrupt_files(weights, tmp_path):
    from fusionbench.methods import _tfbundle

    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(weights / "SDNet" / f"SDNet.model{suffix}", tmp_path / f"m{suffix}")
    data = bytearray((tmp_path / "m.data-00000-of-00001").read_bytes())
    data[200] ^= 0xFF
    (tmp_path / "m.data-00000-of-00001").write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum mismatch for tensor fusion_model/layer1_ir/w1_ir") as exc:
        _tfbundle.read_bundle(tmp_path / "m")
    assert "\n" not in str(exc.value)
    index = (tmp_path / "m.index").read_bytes()
    (tmp_path / "m.index").write_bytes(index[:-10])
    with pytest.raises(WeightsError, match="corrupt checkpoint index"):
        _tfbundle.read_bundle(tmp_path / "m")
    (tmp_path / "m.index").write_bytes(index[:100] + bytes([index[100] ^ 1]) + index[101:])
    with pytest.raises(WeightsError, match="checksum mismatch in table block"):
        _tfbundle.read_bundle(tmp_path / "m")


# --- strict loading and errors ----------------------------------------------------------------

@pytest.mark.parametrize("module, n_vars", [("pmgi", 74),
                                            ("sdnet", 32), ("stdfusionnet", 72)])
def test_every_checkpoint_variable_fills_the_network(weights, module, n_vars):
    import torch

    from fusionbench.methods import _tfbundle

    mod = importlib.import_module(f"fusionbench.methods.{module}")
    arrays = _tfbundle.model_variables(weights / CHECKPOINTS[module])
    names = mod._tf_names()
    assert set(names.values()) == set(arrays) and len(arrays) == n_vars
    own = mod.load_model().state_dict()
    assert set(own) == set(names)
    for key, tf in names.items():
        a = arrays[tf]
        ref = np.transpose(a, (3, 2, 0, 1)) if a.ndim == 4 else a
        assert torch.equal(own[key].cpu(), torch.from_numpy(np.ascontiguousarray(ref))), key


def test_csf_uses_ed_encoder_decoder_and_ec_classifier(weights):
    from fusionbench.methods import _tfbundle, csf

    ec = _tfbundle.model_variables(weights / "CSF" / "EC.ckpt")
    ed = _tfbundle.model_variables(weights / "CSF" / "ED.ckpt")
    net = csf.load_model()
    own = {k: v.cpu().numpy() for k, v in net.state_dict().items()}
    ed_names, ec_names = csf._tf_names()
    assert set(ed_names.values()) == set(ed)
    assert set(ec_names.values()) == {k for k in ec if k.startswith("Classification/")}
    np.testing.assert_array_equal(own["enc.0.weight"], np.transpose(ed["Encoder/encoder/conv1_1/kernel"], (3, 2, 0, 1)))
    np.testing.assert_array_equal(own["cls.3.bn.running_var"],
                                  ec["Classification/classification/b3/batch_normalization/moving_variance"])
    assert not net.training and not any(p.requires_grad for p in net.parameters())


def test_strict_loading_rejects_a_renamed_variable(weights, monkeypatch):
    from fusionbench.methods import _nets, sdnet

    names = dict(sdnet._tf_names())
    names["layer1_ir.weight"] = "fusion_model/layer1_ir/w1_missing"
    monkeypatch.setattr(sdnet, "_tf_names", lambda: names)
    _nets.clear_cache()
    try:
        with pytest.raises(WeightsError, match=r"missing \['fusion_model/layer1_ir/w1_missing'\].*w1_ir"):
            sdnet._build(weights / "SDNet" / "SDNet.model")
    finally:
        _nets.clear_cache()


@pytest.mark.parametrize("method, rel", [("pmgi", "PMGI/PMGI.index"), ("sdnet", "SDNet/SDNet.model.index"),
                                         ("stdfusionnet", "STDFusionNet/Fusion.model-29.index"),
                                         ("csf", "CSF/EC.ckpt.index")])
def test_missing_weights_one_line_error(tmp_path, monkeypatch, method, rel):
    monkeypatch.setenv("FUSIONBENCH_WEIGHTS", str(tmp_path))
    img = np.full((24, 24), 100.0)
    with pytest.raises(MissingWeightsError) as exc:
        fusionbench.fuse(img, img, method=method)
    msg = str(exc.value)
    assert "\n" not in msg and str(tmp_path / rel) in msg
    assert "Linfeng-Tang/VIF-Benchmark" in msg and "MANIFEST" in msg


# --- inference ----------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_runs_on_odd_size_and_is_deterministic(weights, method):
    rng = np.random.default_rng(3)
    ir = rng.integers(0, 256, (37, 53)).astype(np.float64)
    vi = np.clip(ir[::-1] * 0.7 + 30, 0, 255)
    a = fusionbench.fuse(ir, vi, method=method)
    b = fusionbench.fuse(ir, vi, method=method)
    assert a.shape == (37, 53) and a.dtype == np.float64
    assert a.min() == 0 and a.max() == pytest.approx(255)  # min-max stretched like imsave
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", ["pmgi", "sdnet", "stdfusionnet", "csf"])
def test_colour_visible_fuses_luma_and_restores_chroma(weights, method):
    from PIL import Image

    rng = np.random.default_rng(5)
    ir = rng.integers(0, 256, (29, 41)).astype(np.float64)
    rgb = np.stack([np.clip(ir * s + o, 0, 255) for s, o in ((0.5, 90), (0.8, 20), (0.3, 10))], -1).round()
    out = fusionbench.fuse(ir, rgb, method=method)
    assert out.shape == (29, 41, 3)
    ycc = np.asarray(Image.fromarray(out.astype(np.uint8), "RGB").convert("YCbCr"), dtype=float)
    ycc_vi = np.asarray(Image.fromarray(rgb.astype(np.uint8), "RGB").convert("YCbCr"), dtype=float)
    assert np.abs(ycc[..., 1:] - ycc_vi[..., 1:]).mean() < 1.5   # chroma comes from the visible
    from fusionbench.methods import _ycbcr

    gray = fusionbench.fuse(ir, _ycbcr.authors_gray(None, rgb), method=method)  # the luma fusion
    inside = ((out > 0) & (out < 255)).all(-1)   # no RGB clipping after adding the chroma back
    assert inside.mean() > 0.5 and np.abs(ycc[..., 0] - gray)[inside].max() <= 2


def test_csf_refuses_images_too_small_for_its_classifier(weights):
    img = np.full((12, 40), 50.0)
    with pytest.raises(InputError, match="at least 17 pixels") as exc:
        fusionbench.fuse(img, img + 1, method="csf")
    assert "\n" not in str(exc.value)


def test_sources_are_not_interchangeable(weights):
    rng = np.random.default_rng(9)
    ir = rng.integers(0, 256, (30, 30)).astype(np.float64)
    vi = np.clip(255 - ir + rng.normal(0, 20, ir.shape), 0, 255)
    for m in ("pmgi", "sdnet", "stdfusionnet", "csf"):
        assert np.abs(fusionbench.fuse(ir, vi, method=m) - fusionbench.fuse(vi, ir, method=m)).max() > 5, m


# --- published TNO images -----------------------------------------------------------------

PUBLISHED = {"pmgi": "PMGI", "sdnet": "SDNet"}
# PSNR floors on the two smallest published pairs (measured: PMGI 86.2 / 58.5 dB, SDNet 52.4 / 54.6 dB)
FLOORS = {("pmgi", "11"): 80.0, ("pmgi", "08"): 55.0, ("sdnet", "11"): 50.0, ("sdnet", "08"): 50.0}


@pytest.mark.parametrize("method, pair", sorted(FLOORS))
def test_reproduces_published_tno(weights, data_root, method, pair):
    folder, floor = PUBLISHED[method], FLOORS[(method, pair)]
    ref = data_root / "results" / "tno" / folder / f"{pair}.png"
    if not ref.exists():
        pytest.skip(f"{ref} absent")
    ir, vi = _pair(data_root, pair)
    fused = np.floor(fusionbench.fuse(ir, vi, method=method) + 0.5)
    assert psnr(fused, read_image(ref, collapse_gray=True)) >= floor


@pytest.mark.slow
@pytest.mark.parametrize("method, median, worst", [("pmgi", 80.0, 50.0), ("sdnet", 54.0, 52.0)])
def test_reproduces_all_published_tno(weights, data_root, method, median, worst):
    folder = PUBLISHED[method]
    refs = sorted((data_root / "results" / "tno" / folder).glob("*.png"))
    if len(refs) < 16:
        pytest.skip("published TNO images absent")
    vals = []
    for ref in refs:
        ir, vi = _pair(data_root, ref.stem)
        vals.append(psnr(np.floor(fusionbench.fuse(ir, vi, method=method) + 0.5),
                         read_image(ref, collapse_gray=True)))
    assert np.median(vals) >= median and min(vals) >= worst


def test_pmgi_moving_statistics_do_not_reproduce_published(weights, data_root):
    """The published images were made with per-image batch statistics (the script's default)."""
    ir, vi = _pair(data_root, "11")
    ref = read_image(data_root / "results" / "tno" / "PMGI" / "11.png", collapse_gray=True)
    assert psnr(np.floor(fusionbench.fuse(ir, vi, method="pmgi:moving") + 0.5), ref) < 40


# --- NumPy re-execution: STDFusionNet and CSF ---------------------------------------------------

def _random_pair(h, w, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    ir = np.clip(100 + 120 * np.exp(-((yy - h / 2) ** 2 + (xx - w / 3) ** 2) / 40.0) + rng.normal(0, 8, (h, w)), 0, 255)
    vi = np.clip(40 + 4 * xx + 25 * np.sin(yy / 2.0) + rng.normal(0, 10, (h, w)), 0, 255)
    return np.round(ir), np.round(vi)


def _std_numpy(v, ir, vi):
    """STDFusionNet's test graph (test_network.py) in NumPy from the checkpoint arrays ``v``."""
    def block(x, scope, act, ident):
        w = lambda n: v[f"STDFusion_model/{scope}/{n}/w"]  # noqa: E731
        b = lambda n: v[f"STDFusion_model/{scope}/{n}/b"]  # noqa: E731
        y = lrelu(np_conv(x, w("conv1"), b("conv1")))
        y = lrelu(np_conv(y, w("conv2"), b("conv2"), pad=1))
        y = np_conv(y, w("conv3"), b("conv3"))
        short = np_conv(x, v[f"STDFusion_model/{scope}/identity_conv/w"]) if ident else x
        return act(y + short)

    def extract(img, net):
        x = lrelu(np_conv(img[None], v[f"STDFusion_model/{net}/conv1/w"], v[f"STDFusion_model/{net}/conv1/b"], pad=2))
        for i in (1, 2, 3):
            x = block(x, f"{net}/block{i}", lrelu, i > 1)
        return x

    x = np.concatenate([extract(vi / 127.5 - 1, "vi_extraction_network"),
                        extract(ir / 127.5 - 1, "ir_extraction_network")])
    for i, act in zip((1, 2, 3, 4), (elu, elu, lrelu, np.tanh)):
        x = block(x, f"reconstruction_network/block{i}", act, True)
    return (x[0] + 1) * 127.5


def test_stdfusionnet_matches_numpy_reexecution(weights):
    from fusionbench.methods import _tfbundle, stdfusionnet

    v = _tfbundle.model_variables(weights / "STDFusionNet" / "Fusion.model-29")
    ir, vi = _random_pair(23, 30, 1)
    ref = _std_numpy(v, ir, vi)
    got = stdfusionnet.forward(ir, vi)
    assert np.abs(got - ref).max() < 2e-3 and ref.std() > 5
    np.testing.assert_allclose(fusionbench.fuse(ir, vi, method="stdfusionnet"),
                               (ref - ref.min()) / (ref.max() - ref.min()) * 255, atol=0.02)


def _csf_conv(v, scope, x, last_linear=False):
    k, b = v[f"{scope}/kernel"], v[f"{scope}/bias"]
    y = np_conv(x, k, b, pad=2, mode="reflect")
    return y if last_linear else lrelu(y)


def _csf_encode(ed, img):
    x = img[None]
    for name in ("conv1_1", "conv1_4", "conv1_6", "conv1_8"):
        x = _csf_conv(ed, f"Encoder/encoder/{name}", x)
    return x


def _csf_decode(ed, x):
    for name in ("conv1_1", "conv1_2", "conv1_3"):
        x = _csf_conv(ed, f"Decoder/decoder/{name}", x)
    return np.tanh(_csf_conv(ed, "Decoder/decoder/conv1_4", x, last_linear=True))[0]


def _csf_classify(ec, x):
    for i, name in enumerate(("conv1_6", "conv1_8", "conv1_9", "conv1_11")):
        scope = "Classification/classification"
        z = np_conv(x, ec[f"{scope}/{name}/kernel"], ec[f"{scope}/{name}/bias"], pad=2, mode="reflect")
        bn = f"{scope}/b{i}/batch_normalization"
        s = ec[f"{bn}/gamma"] / np.sqrt(ec[f"{bn}/moving_variance"].astype(np.float64) + 1e-3)
        z = (z - ec[f"{bn}/moving_mean"][:, None, None]) * s[:, None, None] + ec[f"{bn}/beta"][:, None, None]
        x = maxpool_same(lrelu(z))
    return x.mean(axis=(1, 2))


def test_csf_networks_match_numpy_reexecution(weights):
    import torch

    from fusionbench.methods import _nets, _tfbundle, csf

    ec = _tfbundle.model_variables(weights / "CSF" / "EC.ckpt")
    ed = _tfbundle.model_variables(weights / "CSF" / "ED.ckpt")
    net = csf.load_model()
    ir, vi = _random_pair(19, 26, 2)
    x = (vi / 255 - 0.5) * 2
    feats = _csf_encode(ed, x)
    with _nets.inference():
        t_feats = net.encode(_nets.to_batch(x, dev="cpu").to(next(net.parameters()).device))
        t_logits = net.classify(t_feats).cpu().double().numpy()[0]
        t_dec = net.decode(t_feats).cpu().double().numpy()[0, 0]
    assert np.abs(t_feats.cpu().double().numpy()[0] - feats).max() < 1e-4 and feats.std() > 0.01
    np.testing.assert_allclose(t_logits, _csf_classify(ec, feats), atol=1e-4)
    np.testing.assert_allclose(t_dec, _csf_decode(ed, feats), atol=1e-4)

    # the classifier gradient against central differences of the NumPy classifier (float64)
    f32 = t_feats.cpu().double().numpy()[0]
    with torch.inference_mode(False), torch.enable_grad():
        leaf = t_feats.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(net.classify(leaf)[0, 1], leaf)
    g = g.cpu().double().numpy()[0]
    rng = np.random.default_rng(0)
    picks = [tuple(int(rng.integers(0, n)) for n in f32.shape) for _ in range(12)]
    picks.append(tuple(int(i) for i in np.unravel_index(np.abs(g).argmax(), g.shape)))
    eps = 1e-5
    for p in picks:
        up, dn = f32.copy(), f32.copy()
        up[p] += eps
        dn[p] -= eps
        fd = (_csf_classify(ec, up)[1] - _csf_classify(ec, dn)[1]) / (2 * eps)
        assert fd == pytest.approx(g[p], rel=2e-3, abs=1e-7), p
    assert np.abs(g).max() > 1e-5


def test_csf_pipeline_follows_generate_py(weights):
    """Steps 1-5 of the docstring recomputed with the NumPy encoder/decoder (gradients from the
    PyTorch classifier, checked above against finite differences)."""
    import torch

    from fusionbench.methods import _tfbundle, csf

    ed = _tfbundle.model_variables(weights / "CSF" / "ED.ckpt")
    net = csf.load_model()
    ir, vi = _random_pair(21, 24, 4)
    ir_n, vi_n = (ir / 255 - 0.5) * 2, (vi / 255 - 0.5) * 2
    base = vi_n - vi_n.mean() + ir_n.mean()
    ders = {}
    for cls, path in ((1, base + 0.1 * (ir_n - base)), (0, ir_n + 0.1 * (base - ir_n))):
        f = torch.from_numpy(_csf_encode(ed, path)[None].astype(np.float32)).to(next(net.parameters()).device)
        with torch.enable_grad():
            f.requires_grad_(True)
            (g,) = torch.autograd.grad(net.classify(f)[0, cls], f)
        ders[cls] = np.abs(g.cpu().double().numpy()[0]) / 10
    ders[1] = ders[1] + ders[0].mean() - ders[1].mean()
    e0, e1 = np.exp(ders[0] / 0.00015), np.exp(ders[1] / 0.00015)   # the script's softmax
    assert np.isfinite(e0).all() and np.isfinite(e1).all()
    fused = e0 / (e0 + e1) * _csf_encode(ed, vi_n) + e1 / (e0 + e1) * _csf_encode(ed, ir_n)
    ref = _csf_decode(ed, fused) / 2 + 0.5
    got = csf.fuse_gray(ir, vi)
    assert np.abs(got - ref).max() < 1e-3 and ref.std() > 0.01


# --- the authors' saved graphs (.meta MetaGraphDef) -----------------------------------------

def _meta(weights, rel):
    from fusionbench.methods import _tfbundle

    p = weights / f"{rel}.meta"
    if not p.exists():
        pytest.skip(f"{p} absent")
    return _tfbundle.meta_graph_nodes(p)


def test_stdfusionnet_layer_list_matches_saved_graph(weights):
    """The training graph's ``Fusion/STDFusion_model`` ops: as many convolutions and activations
    of each kind as the rebuilt network, leaky slope 0.2, and each conv reads the variable the
    port maps to that position."""
    from collections import Counter

    from fusionbench.methods import stdfusionnet

    nodes = [n for n in _meta(weights, "STDFusionNet/Fusion.model-29") if n.name.startswith("Fusion/")]
    ops = Counter(n.op for n in nodes)
    assert (ops["Conv2D"], ops["LeakyRelu"], ops["Elu"], ops["Tanh"], ops["ConcatV2"]) == (40, 29, 2, 1, 1)
    assert {round(n.attr_float("alpha"), 6) for n in nodes if n.op == "LeakyRelu"} == {0.2}
    kernels = {n.inputs[1].removesuffix("/read") for n in nodes if n.op == "Conv2D"}
    assert kernels == {v for v in stdfusionnet._tf_names().values() if v.endswith("/w")}
    concat = next(n for n in nodes if n.op == "ConcatV2")
    assert "vi_extraction" in concat.inputs[0] and "ir_extraction" in concat.inputs[1]  # [vi, ir]


def test_csf_classifier_matches_saved_graph(weights):
    import struct

    nodes = _meta(weights, "CSF/EC.ckpt")
    pools = [n for n in nodes if n.op == "MaxPool"]
    assert len(pools) == 4
    assert all(n.attr_ints("ksize") == [1, 2, 2, 1] == n.attr_ints("strides") and n.attr_str("padding") == "SAME"
               for n in pools)
    assert {n.attr_str("mode") for n in nodes if n.op == "MirrorPad"} == {"REFLECT"}
    eps = [n for n in nodes if n.name.startswith("Classification/classification/b")
           and n.name.endswith("batch_normalization/batchnorm/add/y")]
    assert len(eps) == 4
    for n in eps:  # TensorProto float_val (field 5) of the epsilon constant
        raw = n.attrs["value"]
        assert struct.unpack("<f", raw[-4:])[0] == pytest.approx(1e-3)
