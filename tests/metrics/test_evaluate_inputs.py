"""Issue 22 target 1: ``evaluate`` converts each image triple once per input convention, and the
8-bit fast paths of EN, SF and AG give the float64 code's values bit for bit (SD, CC and SCD come
from exact integer moments: within an ulp or two of the exact value, and of the float64 code)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from fusionbench.api import evaluate
from fusionbench.imageio import check_images, uint8_twin, validated
from fusionbench.metrics.gradient import average_gradient_matlab, spatial_frequency
from fusionbench.metrics.stats import entropy, std_population
from fusionbench.registry import INPUTS, METRICS, discover

discover()


def _triple(seed: int = 5, shape: tuple[int, int] = (61, 83)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    ir = rng.integers(0, 256, shape).astype(np.uint8)
    vi = np.clip(0.5 * ir + rng.normal(60, 40, shape), 0, 255).astype(np.uint8)
    return [ir, vi, ((ir.astype(np.uint16) + vi + 1) // 2).astype(np.uint8)]


# the formulas as written before the fast paths (float64 throughout)
def _en(x, eps=0.0):
    lv = np.clip(np.floor(np.asarray(x, np.float64) + 0.5), 0, 255).astype(np.int64)
    p = np.bincount(lv.ravel(), minlength=256) / lv.size
    p = p[p > 0]
    return float(-(p * np.log2(p + eps)).sum())


def _sd(x):
    x = np.asarray(x, np.float64)
    return float(np.sqrt(np.mean((x - x.mean()) ** 2)))


def _sd_int(u8):
    """SD from numpy's exact int64 moments: ``sqrt((n S2 - S1^2) / n^2)``, one correctly rounded
    division of Python ints (the 8-bit path's arithmetic, from independently computed sums)."""
    v = u8.astype(np.int64)
    n, s1, s2 = v.size, int(v.sum()), int((v * v).sum())
    return float(np.sqrt((n * s2 - s1 * s1) / (n * n)))


def _sf(x, norm):
    x = np.asarray(x, np.float64)
    dh, dv = np.diff(x, axis=1), np.diff(x, axis=0)
    if norm == "differences":
        return float(np.sqrt(np.mean(dh * dh) + np.mean(dv * dv)))
    return float(np.sqrt(np.sum(dh * dh) / x.size + np.sum(dv * dv) / x.size))


def _ag(x, norm):
    x = np.asarray(x, np.float64)
    gy, gx = np.gradient(x)
    s = np.sqrt((gx * gx + gy * gy) / 2.0)
    return float(s.sum() / (x.size if norm == "pixels" else (x.shape[0] - 1) * (x.shape[1] - 1)))


@pytest.mark.parametrize("seed", range(12))
def test_8bit_fast_paths_equal_the_float64_formulas_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(2, 300, 2)) if seed > 1 else ((2, 2), (3, 2))[seed]
    u8 = rng.integers(0, int(rng.integers(1, 256)), (h, w)).astype(np.uint8)
    if seed == 2:                                   # worst case for the sums: a 0/255 checkerboard
        u8 = (np.indices((h, w)).sum(0) % 2 * 255).astype(np.uint8)
    if seed % 3 == 1:                               # a non-contiguous view (channel of gray RGB)
        u8 = np.ascontiguousarray(np.dstack([u8] * 3))[..., 0]
    x = u8.astype(np.float64)
    with validated(u8) as block:
        g = u8.astype(np.float64)
        block.add_float64(u8, g)
        assert uint8_twin(g) is u8 and uint8_twin(x) is None
        for img in (u8, g, x):                      # uint8, float64 with its twin, plain float64
            assert entropy(img) == _en(x) and entropy(img, 1e-7) == _en(x, 1e-7)
            assert std_population(img) == (_sd_int(u8) if img is not x else _sd(x))
            assert abs(std_population(img) - _sd(x)) <= 1e-14 * _sd(x)
            for norm in ("pixels", "differences"):
                assert spatial_frequency(img, norm) == _sf(x, norm)
            for norm in ("pixels", "grid"):
                assert average_gradient_matlab(img, norm) == _ag(x, norm)
    y = rng.uniform(-2, 258, (h, w))                # non-integer data keep the float64 code
    assert entropy(y) == _en(y) and std_population(y) == _sd(y)
    for norm in ("pixels", "differences"):
        assert spatial_frequency(y, norm) == _sf(y, norm)
    for norm in ("pixels", "grid"):
        assert average_gradient_matlab(y, norm) == _ag(y, norm) and average_gradient_matlab(x, norm) == _ag(x, norm)


CHEAP = ["en", "sd", "sf", "ag", "cc", "scd", "psnr", "mi", "qabf", "ssim"]
COMPAT = [f"{ns}:{m}" for ns in ("cddfuse", "zoo", "tang") for m in ("en", "sd", "sf", "ag", "cc", "psnr", "mse", "mi")]


def test_evaluate_on_8bit_arrays_equals_evaluate_on_their_float64():
    raw = _triple()
    names = [n for n in CHEAP + COMPAT if n in METRICS]
    one_by_one = {n: evaluate(*raw, [n], parts=True) for n in names}
    together = evaluate(*raw, names, parts=True)               # conversions shared across metrics
    as_float = evaluate(*[a.astype(np.float64) for a in raw], names, parts=True)   # no uint8 twins
    assert together.keys() == as_float.keys()
    moments = ("sd", "cc", "scd")       # exact integer moments on 8 bits: equal to round-off
    for k, v in together.items():
        if k.split(":")[-1].split(".")[0] in moments:
            assert abs(v - as_float[k]) <= 1e-14 * abs(as_float[k]), (k, v, as_float[k])
        else:
            assert v == as_float[k], k
    for n in names:
        assert one_by_one[n] == {k: v for k, v in together.items() if k == n or k.startswith(n + ".")}


def test_each_input_convention_converts_the_triple_once(monkeypatch):
    raw = _triple()
    calls = []
    for name in ("cddfuse", "zoo"):
        spec = INPUTS[name]
        orig = spec.convert
        monkeypatch.setattr(spec, "convert", lambda a, orig=orig, name=name: calls.append(name) or orig(a))
    evaluate(*raw, ["cddfuse:en", "cddfuse:sd", "cddfuse:cc", "zoo:cc", "zoo:psnr", "cc"])
    assert calls.count("cddfuse") == 3 and calls.count("zoo") == 3


def test_trusted_conversions_are_made_once_and_read_only():
    a = np.full((8, 9), 7, np.uint8)
    with validated(a):
        (f1,) = check_images(a, names=("fused",))
        (f2,) = check_images(a, names=("fused",))
        assert f1 is f2 and f1.dtype == np.float64 and not f1.flags.writeable
        assert uint8_twin(f1) is a
        with pytest.raises(ValueError):
            f1[0, 0] = 1.0                           # a metric cannot change what the next one sees
    (f3,) = check_images(a, names=("fused",))        # outside the block: a private copy, as before
    assert f3 is not f1 and f3.flags.writeable and uint8_twin(f3) is None


def test_cddfuse_convention_is_float32_outside_evaluate_and_the_image_itself_inside():
    conv = INPUTS["cddfuse"].convert
    a = _triple()[0]
    out = conv(a)
    assert out.dtype == np.float32 and np.array_equal(out, a)
    with validated(a):
        assert conv(a) is a
        assert conv(a.copy()).dtype == np.float32   # an untrusted copy: the script's float32


# -- benchmarks/peers: mapping and a fake peer, end to end -------------------------------------------

@pytest.fixture
def peers_module(monkeypatch):
    bench = Path(__file__).resolve().parents[2] / "benchmarks"
    monkeypatch.syspath_prepend(str(bench))
    sys.modules.pop("peers", None)
    import peers

    yield peers
    sys.modules.pop("peers", None)


def test_peer_table_pairs_name_registered_metrics_of_that_script(peers_module):
    for peer, (_, _, _, entries) in peers_module.PEERS.items():
        ns = {"CDDFuse": "cddfuse:", "IVIF_ZOO": "zoo:"}[peer]
        for m in entries:
            assert m.fb.startswith(ns) and m.fb in METRICS, m
            assert m.fn in METRICS[m.fb].reference or peer == "IVIF_ZOO", m


def test_compare_with_a_fake_peer_and_a_missing_one(peers_module, tmp_path, monkeypatch, capsys):
    fake = tmp_path / "MMIF-CDDFuse" / "utils"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "Evaluator.py").write_text(
        "import numpy as np\n"
        "class Evaluator:\n"
        "    @classmethod\n"
        "    def EN(cls, img):\n"
        "        a = np.uint8(np.round(img)).flatten(); h = np.bincount(a) / a.shape[0]\n"
        "        return -sum(h * np.log2(h + (h == 0)))\n"
        "    @classmethod\n"
        "    def SD(cls, img):\n"
        "        return np.std(img)\n")
    monkeypatch.setenv("FUSIONBENCH_PEERS", str(tmp_path))
    monkeypatch.setattr(peers_module, "HERE", tmp_path / "nowhere")
    sys.modules.pop("utils", None)
    sys.modules.pop("utils.Evaluator", None)
    rows = peers_module.compare(_triple(), repeat=1, labels=["EN", "SD", "SF"])
    sys.modules.pop("utils", None)
    sys.modules.pop("utils.Evaluator", None)
    text = capsys.readouterr().out
    assert "peer IVIF_ZOO: n/a (not found)" in text
    by = {(r["label"], r["peer"]): r for r in rows}
    for label in ("EN", "SD"):
        r = by[label, "CDDFuse"]
        assert r["peer_ms"] is not None and r["peer_ms"] > 0
        assert r["peer_value"] == pytest.approx(r["fb_value"], rel=1e-6)   # the same formula
    assert by["SF", "CDDFuse"]["peer_ms"] is None and "CDDFuse SF: AttributeError" in text
