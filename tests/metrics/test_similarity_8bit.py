"""The 8-bit fast paths of MSE/PSNR/RMSE/CC/SCD (issue 22) give the float64 formulas' exact bits.

Inside ``evaluate`` (uint8 images: float64 conversions with a uint8 twin) and on uint8 arrays
passed directly, the metrics take integer-sum / mixed-type paths; outside any ``validated``
block, float64 arrays take the original float64 formulas. Both must agree bit for bit.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from fusionbench.api import compute_metric, evaluate
from fusionbench.metrics import similarity as sim
from fusionbench.registry import METRICS, discover

NAMES = ("cc", "scd", "psnr", "rmse", "cddfuse:mse", "cddfuse:psnr", "cddfuse:cc", "cddfuse:scd",
         "zoo:mse", "zoo:psnr", "tang:mse", "tang:psnr")


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


@pytest.mark.parametrize("k", range(9))
def test_evaluate_8bit_paths_bit_identical(k: int) -> None:
    discover()
    raw = _triples()[k]
    fast = evaluate(*raw, list(NAMES), parts=True)
    for name in NAMES:
        ref = _float_path(name, raw)
        for key, v in ref.items():
            assert _same(fast[key], v), (k, key, fast[key].hex(), float(v).hex())


def test_uint8_arrays_direct_match_float64() -> None:
    for ir, vi, fu in _triples():
        fl = [x.astype(np.float64) for x in (ir, vi, fu)]
        for fn in (sim.cc, sim.scd, sim.psnr, sim.rmse, sim.mean_mse):
            a, b = fn(ir, vi, fu), fn(*fl)
            a, b = (a, b) if isinstance(a, dict) else ({"v": a}, {"v": b})
            assert all(_same(a[key], b[key]) for key in b), (fn.__name__, a, b)


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


@pytest.mark.parametrize("shape", [(300, 257), (331, 409), (480, 640)])
def test_leafwise_pairwise_sums_match_np_sum(shape: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """Images above one leaf (2^16 pixels): the leaf-by-leaf sums equal the float64 formulas,
    and so does the whole-array fallback used when numpy sums differently."""
    rng = np.random.default_rng(shape[0])
    ir = rng.integers(0, 256, shape, dtype=np.uint8)
    vi = np.clip(rng.normal(120, 40, shape), 0, 255).astype(np.uint8)
    fu = ((ir.astype(np.int32) + 3 * vi.astype(np.int32)) // 4).astype(np.uint8)
    a, b, f = (x.astype(np.float64) for x in (ir, vi, fu))
    want_cc = [sim.corr2(a, f), sim.corr2(b, f)]
    want_scd = sim.corr2(f - b, a) + sim.corr2(f - a, b)
    assert sim._tree_ok(shape)
    assert sim._cc_u8((ir, vi), fu) == want_cc
    assert sim._scd_u8(ir, vi, fu) == want_scd
    x = rng.normal(0, 1e3, shape) ** 3
    flat = x.ravel()
    assert sim._tree_sums(flat.size, lambda lo, hi: [np.sum(flat[lo:hi])])[0] == np.sum(x)
    monkeypatch.setattr(sim, "_tree_ok", lambda shape: False)
    assert sim._cc_u8((ir, vi), fu) == want_cc
    assert sim._scd_u8(ir, vi, fu) == want_scd


def test_cv2_sqrt_is_np_sqrt_on_every_gradient_value() -> None:
    """AG's 8-bit path takes ``cv2.sqrt`` of ``q / 8`` for every integer ``q <= 2 * 510^2``."""
    import cv2

    q = np.arange(2 * 510 * 510 + 1, dtype=np.float64).reshape(1, -1) * 0.125
    assert np.array_equal(cv2.sqrt(q), np.sqrt(q))


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
        assert std_population(u) == float(np.sqrt(np.mean((f - f.mean()) ** 2)))
        if min(shape) > 1:
            assert tuple(map(float, _squared_differences(u))) == tuple(map(float, _squared_differences(f)))
