"""Yang et al.'s SSIM-based fusion metric Q_Y as Liu's toolbox ``metricYang``, with a flat-window guard.

Reference code followed: zhengliu6699/imageFusionMetrics @ d6f7f1a0, ``metricYang.m`` (and its
inner ``ssim_yang``). The guard is the one of the reference values' ``QY_stable`` column
(``../shared/reference/README.md``).
"""
from __future__ import annotations

import cv2
import numpy as np

from fusionbench.imageio import check_images
from fusionbench.metrics._memo import ContentLRU, register_cache
from fusionbench.metrics._strips import row_strips
from fusionbench.registry import register_metric

WIN = 7
SIGMA = 1.5
C1 = C2 = 2e-16
THRESHOLD = 0.75


from fusionbench.metrics._matlab import gaussian_1d as _gaussian_1d  # noqa: E402


_G = _gaussian_1d(WIN, SIGMA)
_HALF = WIN // 2


def _valid_filter(img: np.ndarray) -> np.ndarray:
    """``filter2(window, img, 'valid')`` with the normalised 7x7 Gaussian window."""
    full = cv2.sepFilter2D(img, cv2.CV_64F, _G, _G, borderType=cv2.BORDER_REFLECT_101)
    return full[_HALF:-_HALF, _HALF:-_HALF]


def _flat(img: np.ndarray) -> np.ndarray:
    """True where the 7x7 'valid' window of ``img`` is exactly constant (max == min)."""
    kernel = np.ones((WIN, WIN), np.uint8)
    hi = cv2.dilate(img, kernel, borderType=cv2.BORDER_REFLECT_101)
    lo = cv2.erode(img, kernel, borderType=cv2.BORDER_REFLECT_101)
    return (hi == lo)[_HALF:-_HALF, _HALF:-_HALF]


# For integer-valued images a window is constant exactly when its computed variance is ~0: the
# smallest true variance of a non-constant window is w(1-w) >= 1.3e-3 (w = the corner weight,
# a level step of 1), while round-off of E[x^2] - E[x]^2 on 0..255 stays below 1e-9.
_FLAT_VAR = 1e-4


def _is_integral(img: np.ndarray) -> bool:
    return bool((img.astype(np.uint8) == img).all())   # img is within 0..255 (checked)


class _Stats:
    """Window means, variances (guarded) and flat masks of one image (a strip of rows), with the
    mean's square and double that every SSIM map with this image evaluates."""

    def __init__(self, img: np.ndarray, integral: bool) -> None:
        self.img = img
        self.mu = _valid_filter(img)
        var = _valid_filter(img * img)
        self.mu2 = self.mu * self.mu
        var -= self.mu2
        self.flat = var < _FLAT_VAR if integral else _flat(img)
        np.copyto(var, 0.0, where=self.flat)
        self.var = var
        self.mu_x2 = 2 * self.mu

    def arrays(self) -> tuple[np.ndarray, ...]:
        return self.img, self.mu, self.mu2, self.var, self.flat, self.mu_x2


def _ssim_map(a: _Stats, b: _Stats) -> np.ndarray:
    """``ssim_yang``'s SSIM map (C1 = C2 = 2e-16) with covariances of flat windows set to 0.

    Evaluated as ``(2 mu_a mu_b + C1)(2 cov + C2) / ((mu_a^2 + mu_b^2 + C1)(var_a + var_b + C2))``,
    left to right, with ``2 mu`` and ``mu^2`` taken from :class:`_Stats`.
    """
    cov = _valid_filter(a.img * b.img)
    cov -= a.mu * b.mu
    np.copyto(cov, 0.0, where=a.flat | b.flat)
    cov *= 2
    cov += C2
    num = a.mu_x2 * b.mu
    num += C1
    num *= cov
    den = a.mu2 + b.mu2
    den += C1
    var = a.var + b.var
    var += C2
    den *= var
    num /= den
    return num


class _SourceStrip:
    """The fused-image-independent part of :func:`_q_sum` for one strip of the two sources."""

    def __init__(self, ir: np.ndarray, vi: np.ndarray, integral: tuple[bool, bool]) -> None:
        self.s_ir, self.s_vi = (_Stats(x, i) for x, i in zip((ir, vi), integral))
        ssim_ab = _ssim_map(self.s_ir, self.s_vi)
        var_sum = self.s_ir.var + self.s_vi.var
        both_flat = self.s_ir.flat & self.s_vi.flat
        self.lam = np.divide(self.s_ir.var, var_sum, out=np.full_like(var_sum, 0.5), where=~both_flat)
        self.one_minus_lam = 1.0 - self.lam
        self.similar = ssim_ab >= THRESHOLD
        self.nbytes = sum(a.nbytes for a in (*self.s_ir.arrays(), *self.s_vi.arrays(),
                                             self.lam, self.one_minus_lam, self.similar))


def _q_sum(src: _SourceStrip, fused: np.ndarray, integral: bool) -> float:
    """Sum of the Q_Y map over the 'valid' windows whose centre rows are those of the strip."""
    s_f = _Stats(fused, integral)
    ssim_af = _ssim_map(src.s_ir, s_f)
    ssim_bf = _ssim_map(src.s_vi, s_f)
    q = np.maximum(ssim_af, ssim_bf)
    ssim_af *= src.lam                   # lambda SSIM(IR,F) + (1 - lambda) SSIM(VI,F) where similar
    ssim_bf *= src.one_minus_lam
    ssim_af += ssim_bf
    np.copyto(q, ssim_af, where=src.similar)
    return float(q.sum())


def _source_strips(ir: np.ndarray, vi: np.ndarray) -> list[_SourceStrip]:
    """:class:`_SourceStrip` of every strip of :func:`qy` (copies of the rows: kept in a cache)."""
    h, w = ir.shape
    integral = (_is_integral(ir), _is_integral(vi))
    out = []
    for rows, _ in row_strips(h - 2 * _HALF, w):
        src = slice(rows.start, rows.stop + 2 * _HALF)
        out.append(_SourceStrip(ir[src].copy(), vi[src].copy(), integral))
    return out


# the two sources' window statistics are the same for every fused image of a pair (issue 22)
SOURCE_STATS = register_cache(ContentLRU(_source_strips, max_entries=2))


@register_metric(
    "qy", higher_is_better=True,
    description="Yang's SSIM-based fusion metric Q_Y (Liu toolbox metricYang, flat-window guard)",
    reference="Yang et al., Information Fusion 9 (2008) 156-160; Liu et al. TPAMI 2012 toolbox "
              "(zhengliu6699/imageFusionMetrics @d6f7f1a0 metricYang.m), reference column QY_stable",
)
def qy(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """Q_Y of a fused image.

    Notes
    -----
    SSIM maps with a normalised 7x7 Gaussian window (sigma 1.5), ``filter2(..., 'valid')`` and
    ``C1 = C2 = 2e-16``. With ``lambda = s_IR^2 / (s_IR^2 + s_VI^2)`` from the window variances:
    where ``SSIM(IR, VI) >= 0.75``, ``Q = lambda SSIM(IR,F) + (1 - lambda) SSIM(VI,F)``, elsewhere
    ``Q = max(SSIM(IR,F), SSIM(VI,F))``; ``Q_Y`` is the mean over the valid windows (Yang, Zhang,
    Wang, Li & Zhang, "A novel similarity based quality metric for image fusion", Information
    Fusion 9, 2008). Code followed: Liu's ``metricYang``, plus one guard: in a window where an
    image is exactly constant (7x7 max == min), its variance and every covariance involving it
    are exactly 0, and ``lambda = 0.5`` where both sources are constant. The original instead
    divides round-off by 2e-16 there (single windows reach 1e5; TNO pair 03 gives NaN); elsewhere
    the two agree, so ``metricYang(double(IR), double(VI), double(F))`` reproduces this value
    wherever it is finite and not dominated by flat windows. Range about -1..1 (0..1 in
    practice); higher is better. Images must be at least 11x11 (the original returns -Inf).
    """
    ir, vi, fused = check_images(ir, vi, fused, who="qy")
    if min(ir.shape) < 11:
        raise ValueError(f"qy: images must be at least 11x11, got {ir.shape[1]}x{ir.shape[0]}")
    h, w = ir.shape
    integral_f = _is_integral(fused)
    total = 0.0
    # strips of output rows; each needs its input rows plus the window's 6 extra rows
    strips = SOURCE_STATS.get(ir, vi)
    for (rows, _), src_strip in zip(row_strips(h - 2 * _HALF, w), strips):
        src = slice(rows.start, rows.stop + 2 * _HALF)
        total += _q_sum(src_strip, fused[src], integral_f)
    return total / ((h - 2 * _HALF) * (w - 2 * _HALF))
