"""SSL-WAEIE: network parts, contribution rule, each loss term, training, variants, weights."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import fusionbench
from fusionbench.errors import WeightsError
from fusionbench.methods import ssl_waeie as pkg
from fusionbench.methods.ssl_waeie import losses as L
from fusionbench.methods.ssl_waeie import train as T
from fusionbench.methods.ssl_waeie.model import (VARIANT_OVERRIDES, IEM, SSLConfig, build, config_for,
                                                 contributions)

TINY = dict(widths=(4, 4, 8), ced_widths=(4, 4), patch=32, batch=2)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No test reads or writes the user's trained-weights folder."""
    monkeypatch.setenv("FUSIONBENCH_TRAINED", str(tmp_path / "trained"))
    torch.set_num_threads(1)


def _pair(h=37, w=53, seed=0):
    rng = np.random.default_rng(seed)
    ir = rng.uniform(0, 255, (h, w))
    vi = np.clip(0.5 * ir + rng.uniform(0, 120, (h, w)), 0, 255)
    return ir, vi


# -- network parts ---------------------------------------------------------------------------
def test_shapes_any_size_and_siamese_weight_sharing():
    cfg = SSLConfig(**{k: v for k, v in TINY.items() if k in ("widths", "ced_widths")})
    m = build(cfg, seed=1).eval()
    ir, vi = torch.rand(2, 1, 23, 31), torch.rand(2, 1, 23, 31)
    feats = m.wae.encode(ir)
    assert [tuple(f.shape) for f in feats] == [(2, 4, 23, 31), (2, 4, 23, 31), (2, 8, 23, 31)]
    rec_i, rec_v = m.wae(ir, vi)
    assert rec_i.shape == ir.shape and 0 <= rec_i.min() and rec_i.max() <= 1
    # one encoder/decoder serves both branches: swapping the inputs swaps the outputs
    rec_v2, rec_i2 = m.wae(vi, ir)
    assert torch.allclose(rec_i, rec_i2, atol=1e-6) and torch.allclose(rec_v, rec_v2, atol=1e-6)
    out = m(ir, vi)
    assert out.fused.shape == out.tau_i.shape == out.de_i.shape == (2, 1, 23, 31)
    assert [tuple(e.shape[1:2]) for e in out.ex_i] == [(4,), (4,), (8,)]
    # the CED is one shared branch: swapped inputs give swapped maps (eval-mode BatchNorm)
    de_v, de_i = m.cien.reduce(out.ex_v, out.ex_i)
    assert torch.allclose(de_i, out.de_i) and torch.allclose(de_v, out.de_v)
    assert sum(p.numel() for p in m.cien.ced.parameters()) == (
        (3 * 3 * 16 * 4 + 4) + (3 * 3 * 4 * 4 + 4) + 2 * 4 + (3 * 3 * 4 * 4 + 4) + (3 * 3 * 4 * 4 + 4) + 2 * 4
        + (3 * 3 * 4 * 4 + 4) + (3 * 3 * 4 * 1 + 1) + 2 * 1)
    # one IEM-CNN per level: 2C -> 2C 3x3 conv
    assert [tuple(i.conv.weight.shape) for i in m.cien.iee] == [(8, 8, 3, 3), (8, 8, 3, 3), (16, 16, 3, 3)]


def test_iem_splits_into_two_halves_of_one_convolution():
    torch.manual_seed(0)
    iem = IEM(3)
    fi, fv = torch.randn(1, 3, 5, 6), torch.randn(1, 3, 5, 6)
    ei, ev = iem(fi, fv)
    full = torch.relu(iem.conv(torch.cat([fi, fv], 1)))
    assert torch.equal(ei, full[:, :3]) and torch.equal(ev, full[:, 3:])
    assert (ei >= 0).all() and (ev >= 0).all()


@pytest.mark.parametrize("iee,levels,cin", [("multi", 3, 16), ("single", 1, 8), ("none", 0, 16)])
def test_ablation_architectures(iee, levels, cin):
    m = build(SSLConfig(widths=(4, 4, 8), ced_widths=(4, 4), iee=iee))
    assert len(m.cien.iee) == levels
    assert m.cien.ced[0].conv1.in_channels == cin
    out = m.eval()(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16))
    assert out.fused.shape == (1, 1, 16, 16)


def test_contributions_sum_to_one_and_lie_in_unit_interval():
    g = torch.Generator().manual_seed(0)
    de_i = torch.relu(torch.randn(1000, generator=g) * 3)
    de_v = torch.relu(torch.randn(1000, generator=g) * 3)
    de_i[:10] = 0
    de_v[:10] = 0
    for eps in (1e-3, 0.1, 1.0):
        ti, tv = contributions(de_i, de_v, eps)
        assert torch.allclose(ti + tv, torch.ones_like(ti), atol=0, rtol=0)
        assert (ti >= 0).all() and (ti <= 1).all() and (tv >= 0).all() and (tv <= 1).all()
        assert torch.all(ti[:10] == 0.5)
    # inverse proportional: more exchanged information -> smaller contribution (eq. 7)
    ti, tv = contributions(torch.tensor([3.0]), torch.tensor([1.0]), 0.0)
    assert ti.item() == pytest.approx(0.25) and tv.item() == pytest.approx(0.75)


# -- losses against hand-computed values ---------------------------------------------------------
def test_weighted_fidelity_and_fidelity_by_hand():
    ir = torch.tensor([[[[0.2, 0.6], [0.0, 1.0]]]])
    vi = torch.tensor([[[[0.6, 0.2], [0.0, 0.0]]]])
    f = torch.tensor([[[[0.5, 0.5], [0.1, 0.5]]]])
    # W_i = [.25, .75, .5, 1], W_v = [.75, .25, .5, 0]
    wi = [0.25, 0.75, 0.5, 1.0]
    wv = [0.75, 0.25, 0.5, 0.0]
    fv, iv, vv = [0.5, 0.5, 0.1, 0.5], [0.2, 0.6, 0.0, 1.0], [0.6, 0.2, 0.0, 0.0]
    want = sum((a * (x - y)) ** 2 for a, x, y in zip(wi, fv, iv)) + sum((a * (x - y)) ** 2 for a, x, y in zip(wv, fv, vv))
    assert L.weighted_fidelity(f, ir, vi).item() == pytest.approx(want, rel=1e-5)
    want_f = sum((x - y) ** 2 for x, y in zip(fv, iv)) + sum((x - y) ** 2 for x, y in zip(fv, vv))
    assert L.fidelity(f, ir, vi).item() == pytest.approx(want_f, rel=1e-6)
    # batch mean: two identical samples give the same value
    assert L.weighted_fidelity(f.repeat(2, 1, 1, 1), ir.repeat(2, 1, 1, 1), vi.repeat(2, 1, 1, 1)).item() == \
        pytest.approx(want, rel=1e-5)
    # eq. 10 uses separate reconstructions
    assert L.wae_reconstruction(f, f, ir, vi).item() == pytest.approx(want, rel=1e-5)


def test_ssim_matches_scikit_image_and_loss_terms():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (1, 1, 24, 30))
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)
    ref = structural_similarity(x[0, 0], y[0, 0], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=1.0)
    got = L.ssim(torch.tensor(x), torch.tensor(y)).item()
    assert got == pytest.approx(ref, abs=1e-6)
    tx, ty = torch.tensor(x), torch.tensor(y)
    assert L.ssim(tx, tx).item() == pytest.approx(1.0, abs=1e-9)
    assert L.ssim_loss(tx, tx, tx, ty).item() == pytest.approx(1.0 - ref, abs=1e-6)
    terms = L.wae_loss(tx, tx, tx, ty, lam=5.0)
    w_rec = L.wae_reconstruction(tx, tx, tx, ty).item()
    assert terms["total"].item() == pytest.approx(w_rec + 5.0 * (1.0 - ref), rel=1e-6)


def test_information_exchange_loss_by_hand():
    a1 = torch.tensor([[[[1.0, 0.0], [0.0, 2.0]]]])
    b1 = torch.tensor([[[[0.0, 0.0], [1.0, 0.0]]]])
    a2 = torch.zeros(1, 2, 2, 2)
    b2 = torch.ones(1, 2, 2, 2) * 0.5
    # level 1: diffs 1, 0, -1, 2 -> squares 1+0+1+4 = 6, /MN=4 -> 1.5 ; level 2: 8 * .25 = 2, /4 -> .5
    assert L.ie_loss([a1, a2], [b1, b2], bound="none").item() == pytest.approx(-(1.5 + 0.5))
    t = math.tanh
    want = -((t(1) ** 2 * 2 + t(2) ** 2) / 4 + 8 * t(0.5) ** 2 / 4)
    assert L.ie_loss([a1, a2], [b1, b2], bound="tanh").item() == pytest.approx(want, rel=1e-6)


def test_cien_loss_combinations():
    m = build(SSLConfig(widths=(4, 4, 8), ced_widths=(4, 4))).eval()
    ir, vi = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    out = m(ir, vi)
    full = L.cien_loss(out, ir, vi, loss="cien", mu=10.0)
    wf = L.weighted_fidelity(out.fused, ir, vi)
    ie = L.ie_loss(out.ex_i, out.ex_v)
    assert full["total"].item() == pytest.approx((wf + 10 * ie).item(), rel=1e-6)
    assert L.cien_loss(out, ir, vi, loss="wf")["total"].item() == pytest.approx(wf.item(), rel=1e-6)
    assert L.cien_loss(out, ir, vi, loss="f")["total"].item() == pytest.approx(
        L.fidelity(out.fused, ir, vi).item(), rel=1e-6)


# -- training ----------------------------------------------------------------------------------
def _train_pairs_root(data_root_or_none):
    return (data_root_or_none, "tno_train") if data_root_or_none else (None, "synthetic")


@pytest.fixture
def train_source(request):
    try:
        root = request.getfixturevalue("data_root")
    except pytest.skip.Exception:
        root = None
    return _train_pairs_root(root)


def test_short_real_training_lowers_the_loss(tmp_path, train_source):
    root, dataset = train_source
    cfg = SSLConfig(**TINY, lr=2e-3, wae_epochs=1, cien_epochs=1)
    res = T.trainer(out=tmp_path / "w.pt", data_root=root, dataset=dataset, max_steps=80, progress=False,
                    config=cfg)
    rows = list(__import__("csv").DictReader(open(res["log"])))
    p1 = [float(r["total"]) for r in rows if r["phase"] == "1"]
    p2 = [float(r["fid"]) for r in rows if r["phase"] == "2"]
    assert len(p1) >= 2 and len(p2) >= 2
    assert p1[-1] < 0.7 * p1[0]
    assert res["final_losses"]["wae_total"] < p1[0]
    assert (tmp_path / "w.pt").is_file() and not (tmp_path / "w.ckpt").exists()


@pytest.mark.parametrize("variant", [v for v in VARIANT_OVERRIDES if v != "default"])
def test_every_variant_trains_one_step_and_fuses(tmp_path, variant):
    out = tmp_path / f"{variant}.pt"
    res = T.trainer(variant, out=out, dataset="synthetic", max_steps=2, progress=False)
    assert res["out"] == out and out.is_file()
    obj = T.load_weights_file(out)
    assert obj["config"]["mu"] == config_for(variant).mu and obj["meta"]["variant"] == variant
    ir, vi = _pair(20, 24)
    fused = fusionbench.fuse(ir, vi, method=f"ssl_waeie:{variant}", weights=str(out))
    assert fused.shape == ir.shape and np.isfinite(fused).all()
    lo, hi = np.minimum(ir, vi), np.maximum(ir, vi)
    assert (fused >= lo - 1e-9).all() and (fused <= hi + 1e-9).all()


def test_resume_continues_exactly(tmp_path, monkeypatch):
    cfg = SSLConfig(**TINY, wae_epochs=1, cien_epochs=1)
    ref = T.trainer(out=tmp_path / "ref.pt", dataset="synthetic", max_steps=6, progress=False, config=cfg)
    monkeypatch.setattr(T, "CKPT_EVERY_S", -1.0)
    real_draw = T.PatchSampler.draw
    calls = {"n": 0}

    def failing_draw(self):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real_draw(self)

    monkeypatch.setattr(T.PatchSampler, "draw", failing_draw)
    with pytest.raises(KeyboardInterrupt):
        T.trainer(out=tmp_path / "cut.pt", dataset="synthetic", max_steps=6, progress=False, config=cfg)
    assert (tmp_path / "cut.ckpt").is_file() and not (tmp_path / "cut.pt").exists()
    monkeypatch.setattr(T.PatchSampler, "draw", real_draw)
    res = T.trainer(out=tmp_path / "cut.pt", dataset="synthetic", max_steps=6, progress=False, config=cfg)
    assert res["resumed"]
    a = T.load_weights_file(tmp_path / "ref.pt")["state_dict"]
    b = T.load_weights_file(tmp_path / "cut.pt")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    again = T.trainer(out=tmp_path / "cut.pt", dataset="synthetic", max_steps=6, progress=False, config=cfg)
    assert again["skipped"]


def test_refuses_the_test_set():
    with pytest.raises(ValueError, match="tno test"):
        T.load_training_pairs(None, "tno")


# -- inference and weights -------------------------------------------------------------------
def test_shipped_weights_fuse_deterministically_any_size():
    assert (pkg.PACKAGE_WEIGHTS / "default.pt").is_file()
    assert pkg.resolve_weights("default") == pkg.PACKAGE_WEIGHTS / "default.pt"
    assert pkg.resolve_weights("mu10") == pkg.PACKAGE_WEIGHTS / "default.pt"
    ir, vi = _pair(41, 66)
    a = fusionbench.fuse(ir, vi, method="ssl_waeie")
    b = fusionbench.fuse(ir, vi, method="ssl_waeie")
    assert a.dtype == np.float64 and a.shape == ir.shape and np.array_equal(a, b)
    lo, hi = np.minimum(ir, vi), np.maximum(ir, vi)
    assert (a >= lo - 1e-9).all() and (a <= hi + 1e-9).all()
    # a real fusion: not a copy of either source
    assert np.abs(a - ir).mean() > 1 and np.abs(a - vi).mean() > 1


def test_trained_dir_takes_precedence_and_explicit_weights_win(tmp_path, monkeypatch):
    trained = tmp_path / "trained" / "ssl_waeie"
    res = T.trainer(out=trained / "default.pt", dataset="synthetic", max_steps=1, progress=False,
                    config=SSLConfig(**TINY))
    assert pkg.resolve_weights("default") == res["out"]
    assert pkg.resolve_weights("mu10") == res["out"]
    assert pkg.resolve_params({"config": "default", "weights": None})["weights"] == str(res["out"])
    assert pkg.resolve_weights("default", str(pkg.PACKAGE_WEIGHTS / "default.pt")) == pkg.PACKAGE_WEIGHTS / "default.pt"


def test_missing_corrupt_and_mismatched_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(pkg, "PACKAGE_WEIGHTS", tmp_path / "none")
    with pytest.raises(WeightsError, match="fusionbench train ssl_waeie --variant no_iee"):
        pkg.resolve_weights("no_iee")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    ir, vi = _pair(16, 16)
    with pytest.raises(WeightsError, match="bad.pt"):
        fusionbench.fuse(ir, vi, method="ssl_waeie", weights=str(bad))
    other = tmp_path / "other.pt"
    torch.save({"a": torch.zeros(1)}, other)
    with pytest.raises(WeightsError, match="other.pt: not an SSL-WAEIE"):
        fusionbench.fuse(ir, vi, method="ssl_waeie", weights=str(other))
    single = tmp_path / "single.pt"
    T.trainer("sl_iee", out=single, dataset="synthetic", max_steps=1, progress=False)
    with pytest.raises(WeightsError, match="single.pt: weights were trained for another network"):
        fusionbench.fuse(ir, vi, method="ssl_waeie", weights=str(single))
    with pytest.raises(WeightsError, match="nope.pt: weights file not found"):
        fusionbench.fuse(ir, vi, method="ssl_waeie", weights=str(tmp_path / "nope.pt"))


def test_cli_train_then_fuse_with_the_result(tmp_path, capsys):
    from fusionbench.cli import main

    out = tmp_path / "W.pt"
    rc = main(["train", "ssl_waeie", "--variant", "mu9", "--max-steps", "2", "--out", str(out),
               "--data-root", str(tmp_path / "empty"), "--no-progress"])
    # no data root with tno_train there -> a one-line error, exit code 2
    assert rc == 2 and "tno_train" in capsys.readouterr().err
    assert main(["train", "average", "--max-steps", "1"]) == 2
    assert "not trainable" in capsys.readouterr().err
    assert main(["train", "ssl_waeie", "--variant", "nope"]) == 2


def test_cli_train_max_steps_on_real_data_then_load(tmp_path, data_root, capsys):
    from fusionbench.cli import main

    out = tmp_path / "W.pt"
    assert main(["train", "ssl_waeie", "--max-steps", "3", "--out", str(out), "--data-root", str(data_root),
                 "--no-progress"]) == 0
    assert "final losses" in capsys.readouterr().err
    assert out.is_file() and (tmp_path / "W.losses.csv").is_file()
    obj = T.load_weights_file(out)
    assert obj["meta"]["plan"]["dataset"] == "tno_train" and obj["meta"]["steps"] == 3
    ir, vi = _pair(30, 30)
    assert fusionbench.fuse(ir, vi, method="ssl_waeie", weights=str(out)).shape == (30, 30)
