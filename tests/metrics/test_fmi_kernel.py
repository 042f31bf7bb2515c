"""The compiled 3x3 Fast-FMI kernel (``metrics/_fmi_kernel.py``) against the numpy windows-as-rows path.

The reference is :func:`fusionbench.metrics.information._fmi_pair` (the path ``_fmi_generic`` takes
for any ``w``), evaluated per window position, so a wrong window cannot hide in the image mean.
The images hit every branch of ``fmi.m``: constant windows (in one image or in both), windows equal
to F's, a B window equal to F's normalised one, one-hot windows (zero index variance),
anti-correlated windows (lower Frechet bound), CDF ties, negative values (DCT features), F equal
to a source, and 3xN / Nx3 / 3x3 images.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.fft import dctn

from fusionbench.metrics import information as info


def _generic_per_window(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> np.ndarray:
    """FMI(A, F) + FMI(B, F) per 3x3 window (row-major positions) by the numpy reference."""
    av, bv, fv = (info._window_vectors(np.asarray(x, np.float64), 3) for x in (a, b, f))
    fstats = info._window_stats(fv)
    eq_a = np.all(av == fv, axis=1)
    eq_b = info._second_source_equal(bv, fv, eq_a, axis=1)
    return info._fmi_pair(av, fv, fstats, eq_a) + info._fmi_pair(bv, fv, fstats, eq_b)


def _kernel_per_window(a, b, f) -> np.ndarray:
    from fusionbench.metrics._fmi_kernel import fmi3_windows

    return fmi3_windows(a, b, f, info._FLAT_PAIR_9).ravel()


def _special_images(h: int = 24, w: int = 29, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(0.0, 40.0, (h, w))
    b = rng.normal(5.0, 25.0, (h, w))
    f = 0.6 * a + 0.4 * b + rng.normal(0.0, 3.0, (h, w))
    a[0:5, 0:5] = -3.5                                  # constant source windows
    f[2:7, 2:7] = 11.0                                  # constant F: flat-flat pairs where they overlap
    b[3:8, 1:6] = 2.0
    f[8:12, 0:6] = a[8:12, 0:6]                         # windows equal to A's
    f[8:12, 20:26] = -2.0 * a[8:12, 20:26] + 7.0        # anti-correlated with A: lower bound
    chk = (np.add.outer(np.arange(h), np.arange(w)) % 2).astype(np.float64)
    f[14:19, 3:10] = 30.0 + 90.0 * chk[14:19, 3:10]     # two-valued F ...
    b[14:19, 3:10] = chk[14:19, 3:10]                   # ... and B = F's normalised window
    f[20:23, 0:3], b[20:23, 0:3] = 5.0, 0.0            # one-hot F and B = its normalised window:
    f[21, 1], b[21, 1] = 9.0, 1.0                       # 1 by the rule (computed, it would be 0)
    a[13:16, 12:15] = 0.0                               # a one-hot A window: zero index variance
    a[14, 13] = 4.0
    q = np.round(rng.uniform(0, 3, (6, 8)))             # few levels: ties between the CDFs
    a[17:23, 18:26], f[17:23, 18:26] = q, np.round(q + rng.uniform(0, 1.2, (6, 8)))
    return a, b, f


def test_kernel_matches_the_numpy_path_per_window():
    a, b, f = _special_images()
    ours, ref = _kernel_per_window(a, b, f), _generic_per_window(a, b, f)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-13)
    # the cases above really occur: equal windows, B equal to F's normalised window, constant
    # pairs, one-hot windows, anti-correlated windows
    av, bv, fv = (info._window_vectors(x, 3) for x in (a, b, f))
    eq_a = np.all(av == fv, axis=1)
    assert eq_a.sum() >= 4
    assert (info._second_source_equal(bv, fv, eq_a, axis=1) & ~np.all(bv == fv, axis=1)).sum() >= 4
    assert (np.ptp(bv, axis=1) == 0).sum() >= 4 and ((np.ptp(bv, axis=1) == 0) & (np.ptp(fv, axis=1) == 0)).sum() >= 1
    assert (info._window_stats(av)[3] == 0).sum() >= 1
    xp, fp = info._normalised_pdf(av), info._normalised_pdf(fv)
    c = np.sum((xp - xp.mean(1, keepdims=True)) * (fp - fp.mean(1, keepdims=True)), axis=1)
    assert (c < 0).sum() >= 20 and (c > 0).sum() >= 20


@pytest.mark.parametrize("shape", [(3, 3), (3, 17), (19, 3), (4, 5)])
def test_kernel_on_small_and_thin_images(shape):
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    a, b = rng.normal(0, 10, (2, *shape))
    f = 0.5 * (a + b) + rng.normal(0, 1, shape)
    ours = _kernel_per_window(a, b, f)
    assert ours.shape == ((shape[0] - 2) * (shape[1] - 2),)
    np.testing.assert_allclose(ours, _generic_per_window(a, b, f), rtol=1e-12, atol=1e-13)


def test_kernel_on_dct_features_and_fused_equal_to_a_source():
    a, b, f = _special_images(31, 26, seed=3)
    feats = [dctn(x, norm="ortho") for x in (a, b, f)]
    np.testing.assert_allclose(_kernel_per_window(*feats), _generic_per_window(*feats), rtol=1e-12, atol=1e-13)
    # F = A: every A window scores 1; B's are compared with A's own windows
    per = _kernel_per_window(feats[0], feats[1], feats[0])
    np.testing.assert_allclose(per, _generic_per_window(feats[0], feats[1], feats[0]), rtol=1e-12, atol=1e-13)
    assert info.fmi_haghighat(a, b, f, feature="dct") == pytest.approx(
        info._fmi_generic(feats, 3), rel=1e-13)


def test_kernel_on_constant_images():
    const = [np.full((5, 6), v) for v in (-1.0, 3.0, 8.0)]
    assert np.all(_kernel_per_window(*const) == 2 * info._FLAT_PAIR_9)
    same = np.full((5, 6), 2.5)
    assert np.all(_kernel_per_window(same, same, same) == 2.0)


def test_kernel_log2_is_within_2_ulp_of_numpy():
    """The kernel's vectorised log2 (fdlibm's log / ln 2) on pdf-like values, tiny, subnormal,
    near-1 and large values; zero is masked to 0 by the caller's loop."""
    from fusionbench.metrics._fmi_kernel import _log2_all

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(0, 1, 20000), 10.0 ** rng.uniform(-310, 300, 20000),
                        1 + rng.normal(0, 1e-9, 2000), 2.0 ** np.arange(-1074, 1024),
                        np.nextafter(np.sqrt(2.0), [0.0, 4.0]), [5e-324, 1.0]])
    x = x[x > 0]
    out = np.empty_like(x)
    _log2_all(x, out, x.size)
    ref = np.log2(x)
    assert np.all(np.abs(out - ref) <= 2 * np.spacing(np.abs(ref)) + 1e-300)
    assert out[-1] == 0.0                              # log2(1) exactly
    z = np.array([0.0, -0.25, 0.5])
    _log2_all(z, out[:3], 3)
    assert out[0] == 0.0 and out[1] == -2.0 and out[2] == -1.0
