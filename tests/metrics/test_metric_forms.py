"""Issue 14 (items 5, 6): metric forms as data over one implementation, and the shared helpers
(one Sobel, one content memo, one per-source result, one MATLAB Gaussian)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import convolve2d, correlate2d

from fusionbench.metrics import qabf as Q
from fusionbench.metrics._filters import sobel_xy
from fusionbench.metrics._matlab import gaussian_1d
from fusionbench.metrics._memo import CACHES, ContentLRU, clear_all
from fusionbench.metrics._parts import per_source
from fusionbench.registry import get_metric, listing

H3 = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])     # VIFB's x kernel (conv2)
H1 = np.array([[1.0, 2, 1], [0, 0, 0], [-1, -2, -1]])     # VIFB's y kernel (conv2)


def _triple(seed: int = 0, shape: tuple[int, int] = (64, 80)):
    rng = np.random.default_rng(seed)
    ir = np.round(rng.uniform(0, 255, shape))
    ir[:20, :30] = 90.0                                      # flat: zero gradients
    vi = np.round(np.clip(0.5 * ir + rng.normal(60, 25, shape), 0, 255))
    f = np.floor((ir + vi + 1) / 2)
    f[:20, :30] = 90.0
    return ir, vi, f


# -- qabf: one implementation, the forms are data ---------------------------------------------

def test_every_qabf_name_is_one_implementation_with_its_form_as_params():
    fns = {get_metric(n).fn for n in ("qabf", "qabf_liu", "cddfuse:qabf", "tang:qabf", "zoo:qabf")}
    assert fns == {Q.qabf}
    assert get_metric("qabf").params == Q.QABF_VIFB and get_metric("qabf_liu").params == Q.QABF_LIU
    for n in ("vifb:qabf", "cddfuse:qabf", "tang:qabf", "zoo:qabf"):
        assert get_metric(n).params == Q.QABF_VIFB, n
    listed = listing("metrics")
    assert listed["qabf_liu"]["params"]["g_zero"] == 1e-5 and listed["qabf"]["params"]["g_zero"] == "gF"


def test_qabf_forms_reproduce_their_named_originals():
    ir, vi, f = _triple()
    assert get_metric("qabf")(ir, vi, f) == Q.qabf(ir, vi, f, **Q.QABF_VIFB) == Q.qabf_vifb(vi, ir, f)
    # the VIFB form is symmetric bit for bit; Liu's depends on which source is A (zero handling)
    assert Q.qabf(ir, vi, f, **{**Q.QABF_VIFB, "sources": "ir,vi"}) == Q.qabf(ir, vi, f, **Q.QABF_VIFB)
    liu = Q.qabf(ir, vi, f, **Q.QABF_LIU)
    assert Q.qabf(ir, vi, f, **{**Q.QABF_LIU, "sources": "vi,ir"}) != liu
    # the two sigmoid products differ only by round-off
    sep = Q.qabf(ir, vi, f, **{**Q.QABF_LIU, "product": "separate"})
    assert sep == pytest.approx(liu, rel=1e-14)


@pytest.mark.parametrize("key", ["sobel", "sx_zero", "g_zero", "orientation", "Tg", "kg", "Ta", "ka", "Da", "pooling"])
def test_each_qabf_parameter_is_used(key):
    """Swapping one parameter of Liu's form for VIFB's moves the value."""
    ir, vi, f = _triple(1)
    assert Q.qabf(ir, vi, f, **{**Q.QABF_LIU, key: Q.QABF_VIFB[key]}) != Q.qabf(ir, vi, f, **Q.QABF_LIU)


@pytest.mark.parametrize("key", ["sources", "sobel", "g_zero", "orientation", "product", "pooling"])
def test_qabf_unknown_parameter_value_is_a_value_error(key):
    ir, vi, f = _triple()
    with pytest.raises(ValueError, match=key if key != "g_zero" else "could not convert"):
        Q.qabf(ir, vi, f, **{**Q.QABF_VIFB, key: "nope"})


def test_qabf_vifb_gradient_strips_equal_matlab_conv2():
    ir, _, _ = _triple()
    g, a = Q._strength_angle(ir, sobel="conv2", scale=1.0, sx_zero="pi/2")
    sx, sy = convolve2d(ir, H3, mode="same"), convolve2d(ir, H1, mode="same")
    assert np.array_equal(g, np.sqrt(sx * sx + sy * sy))
    with np.errstate(divide="ignore", invalid="ignore"):
        assert np.array_equal(a, np.where(sx == 0, np.pi / 2, np.arctan(sy / sx)))


# -- one Sobel ---------------------------------------------------------------------------------

def test_sobel_passes_exact_on_integers_and_round_off_apart_on_floats():
    ir, _, _ = _triple()
    ref = (correlate2d(ir, H3, mode="same"), correlate2d(ir, -H1, mode="same"))   # gx, gy
    for passes in ("separable", "2d"):
        got = sobel_xy(ir, "zero", passes=passes)
        assert all(np.array_equal(x, y) for x, y in zip(got, ref)), passes
    x = ir + np.random.default_rng(2).uniform(-0.5, 0.5, ir.shape)
    sep, full = sobel_xy(x, passes="separable"), sobel_xy(x, passes="2d")
    exact = (correlate2d(x, H3, mode="same"), correlate2d(x, -H1, mode="same"))
    for s, d, e in zip(sep, full, exact):
        assert np.abs(s - e).max() < 1e-11 and np.abs(d - e).max() < 1e-11
    with pytest.raises(ValueError, match="passes"):
        sobel_xy(x, passes="fft")


# -- one memo ------------------------------------------------------------------------------------

def test_source_memos_are_registered_content_lrus_and_bit_identical():
    from fusionbench.metrics import perceptual as P
    from fusionbench.metrics import similarity as S

    for c in (P._SOURCE_CONTRAST, P._SOURCE_SALIENCY, S._SOURCE_STATS, Q.SOURCE_GRADIENTS):
        assert isinstance(c, ContentLRU) and c in CACHES
    ir, vi, f = _triple(3)
    names = ("qcb", "qcv", "ssim")
    clear_all()
    cold = {n: get_metric(n)(ir, vi, f) for n in names}
    f2 = np.maximum(ir, vi)
    clear_all()
    cold2 = {n: get_metric(n)(ir, vi, f2) for n in names}
    assert {n: get_metric(n)(ir, vi, f2) for n in names} == cold2       # sources from the memo
    assert {n: get_metric(n)(ir, vi, f) for n in names} == cold
    for c in (P._SOURCE_CONTRAST, P._SOURCE_SALIENCY, S._SOURCE_STATS):
        assert (c.misses, c.hits) == (2, 4)


def test_content_lru_keys_on_parameters():
    c = ContentLRU(lambda x, k=1.0: x * k, max_entries=4)
    x = np.arange(6.0)
    assert np.array_equal(c.get(x, k=2.0), 2 * x) and np.array_equal(c.get(x, k=3.0), 3 * x)
    assert np.array_equal(c.get(x, k=2.0), 2 * x)
    assert c.misses == 2 and c.hits == 1


# -- one per-source result -----------------------------------------------------------------------

def test_per_source_mean_and_sum():
    rng = np.random.default_rng(4)
    for a, b in rng.normal(0, 1e3, (200, 2)):
        assert per_source(a, b)["total"] == 0.5 * (a + b) == (a + b) / 2.0
    assert per_source(1.5, 2.25, "sum") == {"total": 3.75, "ir": 1.5, "vi": 2.25}
    assert np.isnan(per_source(np.nan, 1.0)["total"])
    with pytest.raises(ValueError, match="combine"):
        per_source(1.0, 2.0, "max")


# -- one MATLAB Gaussian ---------------------------------------------------------------------------

def _fspecial(n: int, s: float) -> np.ndarray:
    x = np.arange(n) - (n - 1) / 2.0
    xx, yy = np.meshgrid(x, x)
    h = np.exp(-(xx * xx + yy * yy) / (2 * s * s))
    h[h < np.finfo(np.float64).eps * h.max()] = 0
    return h / h.sum()


@pytest.mark.parametrize("n, s", [(11, 1.5), (7, 1.5), (11, 5.0), (13, 2.0), (4, 1.0), (25, 2.0)])
def test_gaussian_1d_outer_is_fspecial_to_round_off(n, s):
    g = gaussian_1d(n, s)
    assert g.sum() == pytest.approx(1.0, abs=1e-15)
    assert np.abs(np.outer(g, g) - _fspecial(n, s)).max() < 3e-17


def test_gaussian_1d_refuses_windows_fspecial_cuts_and_methods_share_it():
    import torch

    from fusionbench.methods._filters import matlab_gaussian
    from fusionbench.methods.ssl_waeie.losses import _gauss_window

    assert (_fspecial(27, 2.0) == 0).any()
    with pytest.raises(ValueError, match="not separable"):
        gaussian_1d(27, 2.0)
    assert np.array_equal(matlab_gaussian(11, 5.0), gaussian_1d(11, 5.0))
    with pytest.raises(ValueError, match="odd"):
        matlab_gaussian(4, 1.0)
    g = gaussian_1d(11, 1.5)
    w = _gauss_window(11, 1.5, torch.float64)[0, 0].numpy()
    assert np.array_equal(w, np.outer(g, g))
