"""Pixel-domain multi-scale visual information fidelity (LIVE ``vifp_mscale``), as fusion scripts use it.

Not the wavelet-domain ``vifvec`` of fusionbench's ``vif`` (:mod:`fusionbench.metrics.ifc`):
this is Sheikh & Bovik's simplified pixel-domain VIF, four scales of Gaussian-window
statistics. The three de-facto IVIF scripts sum it over the two sources:
``cddfuse:viff`` and ``tang:vif`` (LIVE form, 'valid' filtering) and ``zoo:vif`` (IVIF_ZOO's
re-implementation: off-centre window grid, zero-padded 'same' filtering). Nothing here is
registered under a plain name.
"""
from __future__ import annotations

import cv2
import numpy as np

from fusionbench.metrics._memo import ContentLRU, register_cache
from fusionbench.metrics._parts import per_source

SIGMA_NSQ = 2.0
EPS = 1e-10


def _grid(n: int, grid: str) -> np.ndarray:
    if grid == "centred":
        return np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    if grid == "zoo":
        return np.linspace(float(-n // 2), float(n // 2), n)   # -n//2 floors: -17//2 = -9
    raise ValueError(f"vifp: grid must be 'centred' or 'zoo', got {grid!r}")


def _window_1d(n: int, grid: str) -> np.ndarray:
    """1-D factor of the scale's ``n x n`` Gaussian window (sigma ``n/5``), normalised.

    ``grid='centred'``: MATLAB ``fspecial('gaussian', n, n/5)`` (integer offsets ``-(n-1)/2 ..
    (n-1)/2``). ``grid='zoo'``: IVIF_ZOO's ``torch.linspace(-n//2, n//2, n)``, e.g. 17 points
    from -9 to 8 (step 17/16): off-centre and non-integer, as its ``fspecial_gaussian``.
    """
    x = _grid(n, grid)
    sd = n / 5.0
    g = np.exp(-(x * x) / (2.0 * sd * sd))
    return g / g.sum()


def _filter(x: np.ndarray, g: np.ndarray, border: str) -> np.ndarray:
    """Correlation with ``outer(g, g)``: 'valid' windows only, or 'same' with zero padding."""
    out = cv2.sepFilter2D(np.ascontiguousarray(x), cv2.CV_64F, g, g, borderType=cv2.BORDER_CONSTANT)
    if border == "zero":
        return out
    r = len(g) // 2
    return out[r:x.shape[0] - r, r:x.shape[1] - r]


def _window_2d_float32(n: int, grid: str) -> np.ndarray:
    """IVIF_ZOO's 2-D window in float32: ``exp(-(x^2 + y^2) / (2 (n/5)^2))`` on the grid, over its sum."""
    x = _grid(n, grid).astype(np.float32)
    r2 = x[:, None] ** 2 + x[None, :] ** 2
    g = np.exp(-r2 / np.float32(2 * (n / 5) ** 2)).astype(np.float32)
    return (g / g.sum(dtype=np.float32)).astype(np.float32)


def _kernels():
    """The compiled kernels (numba), imported on first use only."""
    from fusionbench.metrics import _zoo_kernels

    return _zoo_kernels


def _correlate_float32(channels: list[tuple[np.ndarray, np.ndarray | None]], w: np.ndarray, border: str,
                       step: int = 1) -> np.ndarray:
    """Full 2-D float32 correlation of several same-shape channels with ``w``, in one kernel call.

    A channel ``(a, None)`` is ``a``, ``(a, b)`` the float32 product ``a * b`` (rounded once,
    then zero-padded, as ``np.pad(a * b, r)``). Per output pixel the taps are summed in
    row-major order, one float32 rounding per product and per sum, from +0.0: the order of the
    straightforward shifted multiply-add loop over the taps (see
    :func:`fusionbench.metrics._zoo_kernels.correlate_stack`, and the numpy loop it is tested
    against in ``tests/metrics/test_zoo_vif_kernel.py``). ``step=2``: only every second output
    pixel of each axis (the next scale's decimation), with the same arithmetic per pixel.
    Returns (K, ho, wo) float32.
    """
    r = w.shape[0] // 2
    h, wd = channels[0][0].shape
    if border == "zero":
        p = np.zeros((len(channels), h + 2 * r, wd + 2 * r), np.float32)
        inner = p[:, r:r + h, r:r + wd]
    else:
        p = np.empty((len(channels), h, wd), np.float32)
        inner = p
        h, wd = h - 2 * r, wd - 2 * r
        if h < 1 or wd < 1:
            raise ValueError(f"vifp_mscale: image too small for a {w.shape[0]}x{w.shape[0]} 'valid' window "
                             f"({p.shape[2]}x{p.shape[1]})")
    for c, (a, b) in enumerate(channels):
        if b is None:
            inner[c] = a
        else:
            np.multiply(a, b, out=inner[c])
    out = np.empty((len(channels), -(-h // step), -(-wd // step)), np.float32)
    _kernels().correlate_stack(p, np.ascontiguousarray(w, np.float32), step, out)
    return out


def _scale_terms(s11: np.ndarray, s22: np.ndarray, s12: np.ndarray) -> tuple[float, float]:
    """One scale's LIVE terms in the arrays' own dtype: ``g = s12/(s11+eps)``, ``sv = s22 - g s12``
    with the guards of :func:`vifp_mscale`; returns the sums (in float64) of
    ``log10(1 + g^2 s11/(sv + 2))`` and ``log10(1 + s11/2)``. ``s11`` is modified."""
    t = s11.dtype.type
    eps, nsq = t(EPS), t(SIGMA_NSQ)
    gain = s12 / (s11 + eps)
    sv = s22 - gain * s12
    low1 = s11 < eps
    gain[low1] = 0
    sv[low1] = s22[low1]
    s11[low1] = 0
    low2 = s22 < eps
    gain[low2] = 0
    sv[low2] = 0
    neg = gain < 0
    sv[neg] = s22[neg]
    gain[neg] = 0
    sv[sv <= eps] = eps
    return (float(np.sum(np.log10(1 + gain * gain * s11 / (sv + nsq)), dtype=np.float64)),
            float(np.sum(np.log10(1 + s11 / nsq), dtype=np.float64)))


def _image_terms(ref: np.ndarray, grid: str, border: str) -> list[tuple]:
    """Per scale, one reference image's float32 decimation ``r``, local mean ``mu1``, clipped
    variance ``s11`` and its share of the denominator, ``sum log10(1 + s11'/2)`` (float), the
    terms that need no fused image (cached per source image)."""
    kern = _kernels()
    r = np.ascontiguousarray(ref, np.float32)
    out = []
    for scale in range(1, 5):
        w = _window_2d_float32(2 ** (4 - scale + 1) + 1, grid)
        if scale > 1:
            r = _correlate_float32([(r, None)], w, border, step=2)[0]
        mu1, e2 = _correlate_float32([(r, None), (r, r)], w, border)
        s11, den_arg = np.empty_like(mu1), np.empty_like(mu1)
        kern.reference_terms(mu1, e2, s11, den_arg)
        out.append((r, mu1, s11, float(np.sum(np.log10(den_arg), dtype=np.float64))))
    return out


# a source's terms are the same for every fused image of its pair (IVIF_ZOO VIF, float32 path);
# one cache per (grid, border) configuration
_REFERENCE_TERMS: dict[tuple[str, str], ContentLRU] = {}


def _reference_cache(grid: str, border: str) -> ContentLRU:
    key = (grid, border)
    if key not in _REFERENCE_TERMS:
        _REFERENCE_TERMS[key] = register_cache(ContentLRU(lambda ref: _image_terms(ref, grid, border),
                                                          max_entries=4))
    return _REFERENCE_TERMS[key]


def _vifp_float32(refs: list[np.ndarray], dist: np.ndarray, grid: str, border: str) -> list[float]:
    """The same computation in float32 with full (non-separable) 2-D windows, as IVIF_ZOO's
    torch ``vifp_mscale`` (float32 ``F.conv2d``), for several references against one ``dist``.

    Each reference's decimations, means, variances and denominator sums come from a
    content-keyed cache (computed once per source image). Per scale, one kernel pass filters
    the fused image's ``d``, ``d*d`` and every ``r_k*d`` together; the per-pixel formulas of
    :func:`_scale_terms` run in compiled float32 (:mod:`fusionbench.metrics._zoo_kernels`), the
    ``log10`` and the float64 sums in numpy. Every float32 operation is the one, in the order,
    of the numpy version this replaced (shifted multiply-adds over the taps, then
    :func:`_scale_terms` in float32): the values are bit-identical to it (tested).

    On 0..255 data the float32 round-off of ``E[x^2] - mu^2`` decides LIVE's ``< 1e-10``
    guards and the low-variance terms, so the script's value depends on float32 arithmetic:
    not on the exact bits, but on the size of the accumulated round-off in flat regions.
    Measured against the script (worst over its 35 visible images): this sequential float32
    accumulation 5.5e-5; OpenCV ``filter2D`` in direct row bands 4.7e-4; float64 filtering
    rounded to float32 3.7e-4 (12 images); torch ``conv2d`` run here 2.5e-4 (12 images);
    float64 throughout 5e-4. Torch itself on 1 vs 2 threads differs by ~3e-5.
    """
    kern = _kernels()
    cache = _reference_cache(grid, border)
    terms = [cache.get(r) for r in refs]
    num, den = [0.0] * len(refs), [0.0] * len(refs)
    d = np.ascontiguousarray(dist, np.float32)
    for scale in range(1, 5):
        w = _window_2d_float32(2 ** (4 - scale + 1) + 1, grid)
        if scale > 1:
            d = _correlate_float32([(d, None)], w, border, step=2)[0]
        ts = [t[scale - 1] for t in terms]
        filt = _correlate_float32([(d, None), (d, d)] + [(t[0], d) for t in ts], w, border)
        num_arg = np.empty_like(filt[0])
        for k, (_, mu1, s11, d_s) in enumerate(ts):
            kern.fused_terms(filt[0], filt[1], filt[2 + k], mu1, s11, num_arg)
            num[k] += float(np.sum(np.log10(num_arg), dtype=np.float64))
            den[k] += d_s
    with np.errstate(invalid="ignore", divide="ignore"):
        return [float(np.float64(a) / np.float64(b)) for a, b in zip(num, den)]


def vifp_mscale(ref: np.ndarray, dist: np.ndarray, *, grid: str = "centred", border: str = "valid",
                dtype: str = "float64") -> float:
    """LIVE ``vifp_mscale(ref, dist)`` on float64 images (0..255).

    Per scale s = 1..4: window N = 2^(5-s)+1, sigma N/5; for s > 1 both images are filtered
    and decimated by 2 first. Local statistics ``mu``, ``sigma^2 = E[x^2] - mu^2`` (clipped at
    0), ``g = sigma12 / (sigma1^2 + 1e-10)``, ``sv^2 = sigma2^2 - g sigma12`` with LIVE's guards
    (``sigma1^2 < 1e-10``: g = 0, sv^2 = sigma2^2; ``sigma2^2 < 1e-10``: g = sv^2 = 0; g < 0:
    sv^2 = sigma2^2, g = 0; sv^2 floored at 1e-10). Result
    ``sum log10(1 + g^2 sigma1^2/(sv^2 + 2)) / sum log10(1 + sigma1^2/2)`` over all scales
    (NaN when the denominator is 0). ``grid``/``border``: see :func:`_window_1d`; ``border``
    ``'valid'`` (LIVE ``filter2(..., 'valid')``) or ``'zero'`` (zero-padded 'same').
    ``dtype='float32'``: :func:`_vifp_float32`.
    """
    if dtype == "float32":
        return _vifp_float32([ref], dist, grid, border)[0]
    ref = np.asarray(ref, np.float64)
    dist = np.asarray(dist, np.float64)
    num = den = 0.0
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        g = _window_1d(n, grid)
        if scale > 1:
            ref = _filter(ref, g, border)[::2, ::2]
            dist = _filter(dist, g, border)[::2, ::2]
        if min(ref.shape) < (n if border == "valid" else 1):
            raise ValueError(f"vifp_mscale: image too small for scale {scale} ({ref.shape[1]}x{ref.shape[0]})")
        mu1, mu2 = _filter(ref, g, border), _filter(dist, g, border)
        s11 = np.maximum(_filter(ref * ref, g, border) - mu1 * mu1, 0.0)
        s22 = np.maximum(_filter(dist * dist, g, border) - mu2 * mu2, 0.0)
        s12 = _filter(ref * dist, g, border) - mu1 * mu2
        n_s, d_s = _scale_terms(s11, s22, s12)
        num += n_s
        den += d_s
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.float64(num) / np.float64(den))


def vifp_sum(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, *, grid: str = "centred",
             border: str = "valid", nan_as: float | None = None, dtype: str = "float64") -> dict:
    """``vifp_mscale(IR, F) + vifp_mscale(VI, F)`` (range up to 2); ``nan_as`` replaces a NaN part."""
    from fusionbench.imageio import check_images

    a, b, f = check_images(ir, vi, fused, who="vifp")
    if dtype == "float32":
        parts = _vifp_float32([a, b], f, grid, border)
    else:
        parts = [vifp_mscale(x, f, grid=grid, border=border, dtype=dtype) for x in (a, b)]
    if nan_as is not None:
        parts = [nan_as if np.isnan(v) else v for v in parts]
    return per_source(parts[0], parts[1], "sum")
