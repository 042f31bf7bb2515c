"""Issue 22 target 2: the per-image and per-pair reuse inside ifc/vif, qy and nmi changes no value."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from fusionbench.metrics import ifc as I
from fusionbench.metrics import nmi as N
from fusionbench.metrics._memo import clear_all
from fusionbench.metrics._steerable import build_spyr


def _pair(seed: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ir = np.round(rng.uniform(0, 255, shape))
    vi = np.round(np.clip(0.5 * ir + rng.normal(0, 40, shape), 0, 255))
    return ir, vi


@pytest.mark.parametrize("k", I.SUBBANDS)
def test_box_interior_of_a_product_is_the_window_sum_at_the_kept_block_centres(k):
    win, off = I._window(k), I._offset(k)
    rng = np.random.default_rng(k)
    a, b = rng.normal(size=(2, 3 * 61, 3 * 23))            # 61 block rows: several row chunks
    got = I._box_interior(a, win, off, b)
    assert np.array_equal(got, I._box_interior(a * b, win, off))   # chunked product: same bits
    half = (win - 1) // 2
    sums = sliding_window_view(a * b, (win, win)).sum(axis=(2, 3))  # sums[r, c]: window at r+half
    centres = [np.arange(3 * off + 1, 3 * (n // 3 - off), 3) - half for n in a.shape]
    np.testing.assert_allclose(got, sums[np.ix_(*centres)], rtol=1e-12, atol=1e-12)


def test_window_statistics_are_the_per_pair_expressions():
    ir, _ = _pair(1, (96, 120))
    d = I._Decomposed(ir)
    for k, y in d.sub.items():
        win, off = I._window(k), I._offset(k)
        n = float(win * win)
        w = d.win[k]
        mx = I._box_interior(y, win, off) / n
        ss = np.maximum(I._box_interior(y * y, win, off) - n * mx * mx, 0.0)
        assert np.array_equal(w.m, mx) and np.array_equal(w.nm, n * mx) and np.array_equal(w.ss, ss)
        assert np.array_equal(w.ss_tol, ss + I.TOL) and np.array_equal(w.low, ss < I.TOL)
        assert not w.ss.flags.writeable


def test_pyramid_without_lowpass_residual_has_the_same_bands():
    ir, _ = _pair(2, (90, 110))
    full = build_spyr(ir, 4, bands=(0, 3), hi0=False)
    lean = build_spyr(ir, 4, bands=(0, 3), hi0=False, lowpass=False)
    assert lean.lowpass is None and full.lowpass is not None
    for lev in range(4):
        for b in (0, 3):
            assert np.array_equal(lean.bands[lev][b], full.bands[lev][b])


def test_nmi_source_levels_cached_bit_identical():
    ir, vi = _pair(3, (80, 100))
    clear_all()
    for f in (np.floor((ir + vi + 1) / 2), np.maximum(ir, vi), 0.3 * ir + 0.7 * vi):
        fresh = {}
        levels_f = N.normalize1(f)
        for name, src in (("ir", ir), ("vi", vi)):            # the uncached computation
            mi, h_s, h_f = N.mutual_info(N.normalize1(src), levels_f)
            fresh[name] = 2.0 * mi / (h_s + h_f)
        got = N.nmi(ir, vi, f)
        assert (got["ir"], got["vi"]) == (fresh["ir"], fresh["vi"])
    assert N.SOURCE_LEVELS.misses == 1 and N.SOURCE_LEVELS.hits == 2


def test_mutual_info_joint_histogram_paths_agree(monkeypatch):
    rng = np.random.default_rng(4)
    a = rng.integers(0, 256, (70, 90)).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    fast = N.mutual_info(a, b)                                 # cv2.calcHist
    monkeypatch.setattr(N, "_CALCHIST_MAX", 0)
    assert N.mutual_info(a, b) == fast                         # np.bincount (images >= 16 MP)
    joint = np.zeros((256, 256))
    np.add.at(joint, (a.ravel(), b.ravel()), 1.0)
    p = joint / a.size
    h = lambda q: float(-(q[q > 0] * np.log2(q[q > 0])).sum())   # noqa: E731
    np.testing.assert_allclose(fast, (h(p.sum(1)) + h(p.sum(0)) - h(p.ravel()), h(p.sum(1)), h(p.sum(0))),
                               rtol=1e-12)
