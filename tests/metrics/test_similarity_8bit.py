"""The 8-bit fast paths of MSE/PSNR/RMSE/CC/SCD/SD/AG (issue 22).

Inside ``evaluate`` (uint8 images: float64 conversions with a uint8 twin) and on uint8 arrays
passed directly, the metrics take integer-sum / compiled paths; outside any ``validated``
block, float64 arrays take the original float64 formulas. MSE/PSNR/RMSE/AG agree with those bit
for bit; CC, SCD and SD come from exact integer moments and must lie within 2 ulp of the exact
value (computed here with 60-digit decimals from numpy int64 sums), which the float64 formulas
only approach (they round every centred value and partial sum).
"""
from __future__ import annotations

import math
from decimal import Decimal, getcontext

import numpy as np
import pytest

from fusionbench.api import compute_metric, evaluate
from fusionbench.metrics import similarity as sim
from fusionbench.registry import METRICS, discover

NAMES = ("psnr", "rmse", "cddfuse:mse", "cddfuse:psnr", "zoo:mse", "zoo:psnr", "tang:mse", "tang:psnr")
MOMENT_NAMES = ("cc", "scd", "cddfuse:cc", "cddfuse:scd", "zoo:cc", "zoo:scd", "tang:cc", "tang:scd")


def _triples() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(22)
    out = []
    for shape in ((37, 53), (120, 97), (2, 300)):
        ir, vi = rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, 256, shape, dtype=np.uint8)
        yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
        vi_s = (127 + 120 * np.sin(xx / 7.0) * np.cos(yy / 5.0)).round().astype(np.uint8)
        out.append((ir, vi, ((ir.astype(np.int32) + vi + 1) // 2).astype(np.uint8)))
        out.append((ir, vi_s, ((3 * ir.astype(np.int32) + vi_s) // 4).astype(np.uint8)))
    ext = np.zeros((40, 41), np.uint8)
    ext[::2] = 255
    out.append((ext, 255 - ext, np.full_like(ext, 255)))             # extreme differences
    out.append((np.full((30, 31), 9, np.uint8), ext[:30, :31], ext[:30, :31].copy()))  # constant source
    out.append((ext, ext.copy(), ext.copy()))                         # all equal: inf PSNR, MSE 0
    return out


def _same(x: float, y: float) -> bool:
    return (math.isnan(x) and math.isnan(y)) or x == y


def _float_path(name: str, raw: tuple[np.ndarray, ...]) -> dict[str, float]:
    gray = [a.astype(np.float64) for a in raw]        # no uint8 twin: the float64 formulas
    return compute_metric(METRICS[name], list(raw), gray)


def _exact_corr(x: np.ndarray, y: np.ndarray) -> Decimal | None:
    """Pearson r of two integer images to 60 digits (None when one is constant)."""
    getcontext().prec = 60
    x, y = x.astype(np.int64).ravel(), y.astype(np.int64).ravel()
    n = x.size
    sx, sy = int(x.sum()), int(y.sum())
    dxy = n * int((x * y).sum()) - sx * sy
    d = (n * int((x * x).sum()) - sx * sx) * (n * int((y * y).sum()) - sy * sy)
    return None if d == 0 else Decimal(dxy) / Decimal(d).sqrt()


def _within_ulps(value: float, exact: Decimal | None, ulps: float, scale: float | None = None) -> bool:
    """``value`` within ``ulps`` units in the last place of ``scale`` (default ``|exact|``)."""
    if exact is None:
        return math.isnan(value)
    return abs(Decimal(value) - exact) <= Decimal(ulps * math.ulp(scale if scale is not None else float(exact)))


def _check_moment_metrics(raw: tuple[np.ndarray, ...], got: dict[str, float]) -> None:
    """cc/scd values (and parts) from the 8-bit paths against the exact correlations."""
    a, b, f = (x.astype(np.int64) for x in raw)
    r = {"ir": _exact_corr(a, f), "vi": _exact_corr(b, f)}
    t1, t2 = _exact_corr(f - b, a), _exact_corr(f - a, b)
    for ns in ("", "cddfuse:", "zoo:", "tang:"):
        for part, ex in r.items():
            assert _within_ulps(got[f"{ns}cc.{part}"], ex, 2), (ns, part, got[f"{ns}cc.{part}"], ex)
        if None in r.values():
            assert math.isnan(got[f"{ns}cc"])
        else:
            assert _within_ulps(got[f"{ns}cc"], (r["ir"] + r["vi"]) / 2, 3, float(abs(r["ir"]) + abs(r["vi"])) / 2)
        if t1 is None or t2 is None:
            assert math.isnan(got[f"{ns}scd"])
        else:
            assert _within_ulps(got[f"{ns}scd"], t1 + t2, 5, float(abs(t1) + abs(t2)))


@pytest.mark.parametrize("k", range(9))
def test_evaluate_8bit_paths_bit_identical(k: int) -> None:
    discover()
    raw = _triples()[k]
    fast = evaluate(*raw, list(NAMES), parts=True)
    for name in NAMES:
        ref = _float_path(name, raw)
        for key, v in ref.items():
            assert _same(fast[key], v), (k, key, fast[key].hex(), float(v).hex())
    moments = evaluate(*raw, list(MOMENT_NAMES), parts=True)
    _check_moment_metrics(raw, moments)
    for name in MOMENT_NAMES:   # the float64 formulas agree to round-off
        for key, v in _float_path(name, raw).items():
            assert _same(moments[key], v) or abs(moments[key] - v) <= 1e-13 * max(1.0, abs(v)), (key, moments[key], v)


def test_uint8_arrays_direct_match_float64() -> None:
    for ir, vi, fu in _triples():
        fl = [x.astype(np.float64) for x in (ir, vi, fu)]
        for fn in (sim.psnr, sim.rmse, sim.mean_mse):
            a, b = fn(ir, vi, fu), fn(*fl)
            a, b = (a, b) if isinstance(a, dict) else ({"v": a}, {"v": b})
            assert all(_same(a[key], b[key]) for key in b), (fn.__name__, a, b)
        _check_moment_metrics((ir, vi, fu), _direct_moment_metrics(ir, vi, fu))


def test_ssd_exact_at_extremes() -> None:
    a = np.zeros((513, 700), np.uint8)
    b = np.full((513, 700), 255, np.uint8)
    assert sim._ssd_u8(a, b) == 513 * 700 * 255 ** 2
    rng = np.random.default_rng(7)
    for shape in ((480, 640), (1, 70001), (33, 1000), (3, 2)):
        x, y = rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(200, 256, shape, dtype=np.uint8)
        for p, q in ((x, y), (y, np.zeros_like(y)), (x, x // 2)):
            assert sim._ssd_u8(p, q) == int(((p.astype(np.int64) - q) ** 2).sum())
    d = a.astype(np.float64) - b
    assert sim.mse(a, b) == float(np.mean(d * d))


def test_float_inputs_keep_float_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    """Non-integer float64 images never reach the 8-bit paths."""
    def boom(*_a, **_k):
        raise AssertionError("8-bit path taken for float input")

    for fn in ("_cc_u8", "_scd_u8", "_ssd_u8"):
        monkeypatch.setattr(sim, fn, boom)
    rng = np.random.default_rng(3)
    ir, vi = rng.uniform(0, 255, (50, 60)), rng.uniform(0, 255, (50, 60))
    fu = 0.4 * ir + 0.6 * vi
    r = evaluate(ir, vi, fu, ["cc", "scd", "psnr", "rmse"])
    assert r["cc"] == (sim.corr2(ir, fu) + sim.corr2(vi, fu)) / 2
    assert r["scd"] == sim.corr2(fu - vi, ir) + sim.corr2(fu - ir, vi)


def _direct_moment_metrics(ir: np.ndarray, vi: np.ndarray, fu: np.ndarray) -> dict[str, float]:
    """cc/scd of uint8 arrays passed straight to the functions, keyed as :func:`_check_moment_metrics` reads."""
    c, d = sim.cc(ir, vi, fu), sim.scd(ir, vi, fu)
    return {f"{ns}{k}": v for ns in ("", "cddfuse:", "zoo:", "tang:")
            for k, v in (("cc", c["total"]), ("cc.ir", c["ir"]), ("cc.vi", c["vi"]), ("scd", d))}


@pytest.mark.parametrize("shape", [(300, 257), (480, 640), (1, 70001)])
def test_integer_moments_exact_on_large_images(shape: tuple[int, int]) -> None:
    """The compiled int64 moments equal numpy's int64 sums (no int32 overflow: 255^2 * n > 2^32),
    and CC/SCD from them are within 2 ulp of the exact values on real-sized images."""
    from fusionbench.metrics._moments import sums1, sums3

    rng = np.random.default_rng(shape[0])
    ir = rng.integers(0, 256, shape, dtype=np.uint8)
    vi = np.clip(rng.normal(120, 40, shape), 0, 255).astype(np.uint8)
    fu = ((ir.astype(np.int32) + 3 * vi.astype(np.int32)) // 4).astype(np.uint8)
    a, b, f = (x.astype(np.int64) for x in (ir, vi, fu))
    want = {"a": a.sum(), "b": b.sum(), "f": f.sum(), "aa": (a * a).sum(), "bb": (b * b).sum(),
            "ff": (f * f).sum(), "ab": (a * b).sum(), "af": (a * f).sum(), "bf": (b * f).sum()}
    assert sums3(ir, vi, fu) == {k: int(v) for k, v in want.items()}
    assert sums1(vi) == (int(want["b"]), int(want["bb"]))
    full = np.full((1100, 1000), 255, np.uint8)
    assert sums3(full, full, full)["ff"] == sums1(full)[1] == 1100 * 1000 * 255 ** 2
    _check_moment_metrics((ir, vi, fu), _direct_moment_metrics(ir, vi, fu))


@pytest.mark.parametrize("shape", [(3, 3), (2, 7), (7, 2), (37, 53), (480, 640)])
def test_ag_8bit_matches_float64(shape: tuple[int, int]) -> None:
    from fusionbench.metrics.gradient import _gradient_magnitude_8bit, average_gradient_matlab

    rng = np.random.default_rng(sum(shape))
    for u in (rng.integers(0, 256, shape, dtype=np.uint8),
              np.where(rng.random(shape) < 0.5, 0, 255).astype(np.uint8)):
        f = u.astype(np.float64)
        gy, gx = np.gradient(f)
        assert np.array_equal(_gradient_magnitude_8bit(u), np.sqrt((gx * gx + gy * gy) / 2.0))
        for norm in ("pixels", "grid"):
            assert average_gradient_matlab(u, norm) == average_gradient_matlab(f, norm)


@pytest.mark.parametrize("shape", [(1, 1), (2, 7), (37, 53), (331, 409)])
def test_sd_sf_8bit_match_float64(shape: tuple[int, int]) -> None:
    from fusionbench.metrics.gradient import _squared_differences
    from fusionbench.metrics.stats import std_population

    rng = np.random.default_rng(shape[1])
    for u in (rng.integers(0, 256, shape, dtype=np.uint8),
              np.where(rng.random(shape) < 0.5, 0, 255).astype(np.uint8)):
        f = u.astype(np.float64)
        n, s1, s2 = u.size, int(u.astype(np.int64).sum()), int((u.astype(np.int64) ** 2).sum())
        getcontext().prec = 60
        exact = (Decimal(n * s2 - s1 * s1) / Decimal(n * n)).sqrt()
        sd = std_population(u)
        assert abs(Decimal(sd) - exact) <= Decimal(math.ulp(float(exact)) if exact else 0), (sd, exact)
        ref = float(np.sqrt(np.mean((f - f.mean()) ** 2)))          # the float64 formula
        assert abs(sd - ref) <= 1e-14 * ref
        if min(shape) > 1:
            assert tuple(map(float, _squared_differences(u))) == tuple(map(float, _squared_differences(f)))


def _torch_one_thread(fn):
    import torch

    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn()
    finally:
        torch.set_num_threads(prev)


@pytest.mark.parametrize("n", [64, 127, 4096, 4103, 65537, 307200, 307213])
def test_compiled_float32_sum_is_torch_sum(n: int) -> None:
    """The compiled cascade sum equals ``torch.sum`` of a float32 tensor on one thread, bit for bit."""
    import torch

    from fusionbench.metrics._moments import _torch_sum_f32
    from fusionbench.metrics.compat_zoo import _torch_sum_lanes

    rng = np.random.default_rng(n)
    lanes = _torch_sum_lanes()
    for x in (rng.random(n), rng.normal(0, 1, n) * 1e3, np.where(rng.random(n) < 0.9, 2e-6, 16.0)):
        x = x.astype(np.float32)
        assert float(_torch_sum_f32(x, lanes)) == _torch_one_thread(lambda: torch.from_numpy(x).sum().item())


@pytest.mark.parametrize("shape", [(8, 8), (37, 53), (480, 640), (333, 501)])
def test_zoo_ce_8bit_is_the_torch_value(shape: tuple[int, int]) -> None:
    """zoo:ce on 8-bit images (tables + compiled pass) equals the script's torch code on one thread
    bit for bit, for dark images (levels below 17, where the sigmoid is not 1) and full-range ones;
    non-integer float images take torch itself."""
    import torch
    import torch.nn.functional as tf

    from fusionbench.metrics.compat_zoo import zoo_ce

    def script(ir, vi, fu):
        a, b, f = (torch.from_numpy(np.asarray(x, np.float32)) for x in (ir, vi, fu))
        s = torch.clamp(torch.sigmoid(f), 1e-7, 1.0 - 1e-7)
        t = torch.clamp((torch.sigmoid(a) + torch.sigmoid(b)) / 2, 1e-7, 1.0 - 1e-7)
        return tf.binary_cross_entropy(s, t).item()

    rng = np.random.default_rng(sum(shape))
    for top in (20, 256):
        ir, vi = (rng.integers(0, top, shape, dtype=np.uint8) for _ in range(2))
        fu = rng.integers(0, top, shape, dtype=np.uint8)
        want = _torch_one_thread(lambda: script(ir, vi, fu))
        assert zoo_ce(ir, vi, fu) == want
        assert evaluate(ir, vi, fu, ["zoo:ce"])["zoo:ce"] == want
    x = [rng.uniform(0, 30, shape) for _ in range(3)]
    assert abs(zoo_ce(*x) - script(*x)) <= 1e-6 * abs(script(*x))


@pytest.mark.parametrize("shape", [(150, 160), (61, 81), (139, 160), (138, 160), (11, 300), (480, 640)])
def test_compiled_blur_is_torch_conv2d(shape: tuple[int, int]) -> None:
    """The compiled separable blur equals pytorch_msssim's two ``conv2d`` passes on one thread bit
    for bit, on both sides of torch's oneDNN size switch (138x160: the second pass has exactly
    20480 input elements), on 0..65025 data and on its squares."""
    import torch
    import torch.nn.functional as tf

    from fusionbench.metrics._moments import blur_valid_f32
    from fusionbench.metrics.compat_zoo import _gauss_win

    win = _gauss_win()
    x = (np.random.default_rng(shape[1]).random(shape) * 65025.0).astype(np.float32)
    for z in (x, x * x):
        t = torch.from_numpy(z)[None, None]
        want = _torch_one_thread(lambda: tf.conv2d(tf.conv2d(t, win.view(1, 1, -1, 1)), win.view(1, 1, 1, -1)))
        assert np.array_equal(blur_valid_f32(z, win.numpy()), want[0, 0].numpy())


def test_zoo_ssim_and_ms_ssim_are_the_torch_values() -> None:
    """zoo:ssim / zoo:ms_ssim (compiled blur, fused-image statistics shared by the two sources)
    equal pytorch_msssim's code as IVIF_ZOO runs it (torch conv2d, one image per call, one thread)."""
    import torch
    import torch.nn.functional as tf

    from fusionbench.metrics.compat_zoo import _gauss_win, zoo_ssim

    win = _gauss_win()

    def blur(z):
        return tf.conv2d(tf.conv2d(z, win.view(1, 1, -1, 1)), win.view(1, 1, 1, -1))

    def ssim_cs(x, y):
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        mu1, mu2 = blur(x), blur(y)
        s11, s22, s12 = blur(x * x) - mu1.pow(2), blur(y * y) - mu2.pow(2), blur(x * y) - mu1 * mu2
        cs = (2 * s12 + c2) / (s11 + s22 + c2)
        sm = ((2 * mu1 * mu2 + c1) / (mu1.pow(2) + mu2.pow(2) + c1)) * cs
        return sm.flatten(2).mean(-1), cs.flatten(2).mean(-1)

    def script(src, f, multi):
        x, y = (torch.from_numpy(a.astype(np.float32))[None, None] * 255.0 for a in (src, f))
        if not multi:
            return ssim_cs(x, y)[0].mean().item()
        w = torch.tensor([0.0448, 0.2856, 0.3001, 0.2363, 0.1333], dtype=torch.float32)
        mcs = []
        for i in range(5):
            s, cs = ssim_cs(x, y)
            if i < 4:
                mcs.append(torch.relu(cs))
                pad = [q % 2 for q in x.shape[2:]]
                x, y = tf.avg_pool2d(x, kernel_size=2, padding=pad), tf.avg_pool2d(y, kernel_size=2, padding=pad)
        return torch.prod(torch.stack(mcs + [torch.relu(s)], dim=0) ** w.reshape(-1, 1, 1), dim=0).mean().item()

    rng = np.random.default_rng(5)
    for shape in ((171, 203), (184, 200), (200, 330)):   # last scale's maps: 1x3, 2x3, 3x11 windows
        yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
        ir = np.clip(127 + 90 * np.sin(xx / 9.0) * np.cos(yy / 13.0) + rng.normal(0, 12, shape), 0, 255)
        ir = ir.astype(np.uint8)
        vi = rng.integers(0, 256, shape, dtype=np.uint8)
        fu = ((ir.astype(np.int32) + vi) // 2).astype(np.uint8)
        for multi in (False, True):
            want = _torch_one_thread(lambda: [script(ir, fu, multi), script(vi, fu, multi)])
            got = zoo_ssim(ir, vi, fu, multiscale=multi)   # whatever torch's thread count
            assert [got["ir"], got["vi"]] == want and got["total"] == want[0] + want[1]


def test_zoo_qncie_8bit_matches_the_float_formula() -> None:
    """zoo:qncie on 8-bit images (exact integer moments) agrees with its float64 formula to
    round-off; a constant image takes the float formula (its 0/0), as before."""
    from fusionbench.metrics.compat_zoo import _qncie_correlations, _qncie_correlations_u8, zoo_qncie

    for ir, vi, fu in _triples()[:6]:
        fast = _qncie_correlations_u8(ir, vi, fu)
        ref = _qncie_correlations(*(x.astype(np.float64) for x in (ir, vi, fu)))
        assert all(abs(x - y) <= 1e-13 for x, y in zip(fast, ref)), (fast, ref)
        q8, qf = zoo_qncie(ir, vi, fu), zoo_qncie(*(x.astype(np.float64) for x in (ir, vi, fu)))
        assert abs(q8 - qf) <= 1e-13 * qf
    ir, vi, fu = _triples()[-2]                       # constant source
    assert _qncie_correlations_u8(ir, vi, fu) is None


def test_zoo_ssim_too_small_is_a_one_line_error() -> None:
    from fusionbench.errors import InputError

    x = np.zeros((8, 30), np.uint8)
    with pytest.raises(InputError, match="at least 11x11"):
        evaluate(x, x + 1, x, ["zoo:ssim"])
