"""Compiled kernels of the cheap metrics (issue 22): exact integer moments and gradient magnitudes
of 8-bit images, and IVIF_ZOO's float32 torch arithmetic (CE elements, ``torch.sum``, the SSIM
Gaussian blur) reproduced bit for bit.

Imported lazily by the 8-bit paths of :mod:`~fusionbench.metrics.stats`,
:mod:`~fusionbench.metrics.similarity`, :mod:`~fusionbench.metrics.gradient` and
:mod:`~fusionbench.metrics.compat_zoo` (importing numba costs ~0.5 s, which ``fusionbench --help``
must not pay). The moment and gradient kernels take flat or 2-D C-contiguous ``uint8`` arrays.

On 8-bit data the first and second moments are integers: ``sum x``, ``sum x^2``, ``sum x y`` are
accumulated exactly in int64 (exact below 2^63 / 255^2 = 1.4e14 pixels), so the statistics built
from them (:func:`centred`, :func:`corr`) need one correctly rounded float conversion per quantity
instead of float64 sums of centred values: they are as exact as, or more exact than, the float64
formulas they replace (which round every centred value and every partial sum).
"""
from __future__ import annotations

import math

import numpy as np

from fusionbench._jit import kernel


@kernel
def _sums1(x):
    """(sum x, sum x^2) of a flat uint8 array, int64."""
    s1 = np.int64(0)
    s2 = np.int64(0)
    for i in range(x.size):
        v = np.int64(x[i])
        s1 += v
        s2 += v * v
    return s1, s2


@kernel
def _sums3(a, b, f):
    """The nine integer moments of three flat uint8 arrays of one size, int64:
    (Sa, Sb, Sf, Saa, Sbb, Sff, Sab, Saf, Sbf)."""
    sa = sb = sf = saa = sbb = sff = sab = saf = sbf = np.int64(0)
    for i in range(a.size):
        x = np.int64(a[i])
        y = np.int64(b[i])
        z = np.int64(f[i])
        sa += x
        sb += y
        sf += z
        saa += x * x
        sbb += y * y
        sff += z * z
        sab += x * y
        saf += x * z
        sbf += y * z
    return sa, sb, sf, saa, sbb, sff, sab, saf, sbf


@kernel
def _central_magnitude(u, out):
    """``out = sqrt((gx^2 + gy^2) / 2)`` of ``np.gradient(u)`` (float64, ``u`` 2-D uint8, at least 2x2).

    With ``G = 2 g`` (integers: the central difference inside, twice the one-sided difference on
    the two borders), ``(gx^2 + gy^2) / 2 = (Gx^2 + Gy^2) * 0.125`` exactly, so each value is the
    very double of the float64 formula (one IEEE multiply by a power of two, one IEEE sqrt).
    Row by row; the interior columns in a branch-free loop, the two border columns after it.
    """
    h, w = u.shape
    for i in range(h):
        i0 = max(i - 1, 0)
        i1 = min(i + 1, h - 1)
        ky = 2 if (i == 0 or i == h - 1) else 1          # one-sided rows: twice the difference
        up, dn, row, o = u[i0], u[i1], u[i], out[i]
        for j in range(1, w - 1):
            gx = np.int32(row[j + 1]) - np.int32(row[j - 1])
            gy = (np.int32(dn[j]) - np.int32(up[j])) * ky
            o[j] = math.sqrt(np.float64(gx * gx + gy * gy) * 0.125)
        for j, j0, j1 in ((0, 0, 1), (w - 1, w - 2, w - 1)):
            gx = (np.int32(row[j1]) - np.int32(row[j0])) * 2
            gy = (np.int32(dn[j]) - np.int32(up[j])) * ky
            o[j] = math.sqrt(np.float64(gx * gx + gy * gy) * 0.125)
    return out


def sums1(u8: np.ndarray) -> tuple[int, int]:
    """``(sum x, sum x^2)`` of a C-contiguous uint8 image, exact (Python ints)."""
    s1, s2 = _sums1(u8.reshape(-1))
    return int(s1), int(s2)


def sums3(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> dict[str, int]:
    """The integer moments of three C-contiguous uint8 images of one shape (Python ints):
    keys ``a, b, f`` (sums), ``aa, bb, ff, ab, af, bf`` (sums of products)."""
    vals = _sums3(a.reshape(-1), b.reshape(-1), f.reshape(-1))
    return dict(zip(("a", "b", "f", "aa", "bb", "ff", "ab", "af", "bf"), (int(v) for v in vals)))


def centred(n: int, sx: int, sy: int, sxy: int) -> int:
    """``n^2`` times the centred cross moment, ``n sum xy - sum x sum y`` (exact integer)."""
    return n * sxy - sx * sy


def corr(dxy: int, dxx: int, dyy: int) -> float:
    """Pearson ``r = dxy / sqrt(dxx dyy)`` from the exact integers of :func:`centred` (NaN when
    an image is constant, as MATLAB ``corr2``'s 0/0). Each integer is rounded once to float64 (the
    product under the root too); the quotient is within ~2 ulp of the exact value."""
    d = dxx * dyy
    if d == 0:
        return float("nan")
    return float(dxy) / math.sqrt(d)


def central_magnitude(u8: np.ndarray, out: np.ndarray) -> np.ndarray:
    """:func:`_central_magnitude` into ``out`` (float64, the shape of ``u8``)."""
    return _central_magnitude(u8, out)


# -- IVIF_ZOO CE on 8-bit images: torch's float32 elements and its float32 sum, reproduced ---------

@kernel
def _bce_elements(a, b, f, sig, lo, hi, log_s, log_1ms, out):
    """Per pixel, in torch's float32 order: ``t = clamp((sig[a] + sig[b]) / 2, lo, hi)``,
    ``out = (t - 1) * log_1ms[f] - t * log_s[f]`` (``binary_cross_entropy``'s element with the
    fused image's clamped sigmoid ``s``: ``log_s = max(log s, -100)``, ``log_1ms = max(log1p(-s), -100)``)."""
    one = np.float32(1.0)
    two = np.float32(2.0)
    for i in range(a.size):
        t = (sig[a[i]] + sig[b[i]]) / two
        t = min(max(t, lo), hi)
        out[i] = (t - one) * log_1ms[f[i]] - t * log_s[f[i]]
    return out


@kernel
def _ceil_log2(x):
    if x <= 2:
        return 1
    v = x - 1
    k = 0
    while v > 1:            # floor(log2(x - 1))
        v >>= 1
        k += 1
    return k + 1


@kernel(inline="always")
def _add_four_vectors(acc, x, base, w):
    """One row of ``row_sum``: the 4 vectors of ``w`` lanes at ``x[base:]`` into level 0."""
    for k in range(4):
        for lane in range(w):
            acc[0, k, lane] += x[base + k * w + lane]


@kernel
def _torch_sum_f32(x, w):
    """``torch.sum`` of a contiguous float32 tensor on one CPU thread, bit for bit: ATen's
    ``cascade_sum`` (``SumKernel.cpp``), float32 accumulation. ``w`` float32 lanes per vector
    (8 for AVX2 / default builds, 16 for AVX-512). The ``n // w`` whole vectors are summed by
    ``row_sum`` (4 interleaved vector accumulators, ``multi_row_sum`` with 4 levels of
    ``2^max(4, ceil_log2(rows) // 4)`` rows each), the scalar tail in order, then the lanes.
    Only for ``n >= w`` (shorter arrays take ATen's scalar path, another order); callers use it
    from 64 elements on."""
    n = x.size
    nvec = n // w
    rows = nvec // 4
    acc = np.zeros((4, 4, w), np.float32)      # [level][ilp column][lane]
    power = max(4, _ceil_log2(rows) // 4)
    step = 1 << power
    mask = step - 1
    i = 0
    while i + step <= rows:
        for _ in range(step):
            _add_four_vectors(acc, x, i * 4 * w, w)
            i += 1
        for j in range(1, 4):
            for k in range(4):
                for lane in range(w):
                    acc[j, k, lane] += acc[j - 1, k, lane]
                    acc[j - 1, k, lane] = np.float32(0.0)
            if (i & (mask << (j * power))) != 0:
                break
    while i < rows:
        _add_four_vectors(acc, x, i * 4 * w, w)
        i += 1
    for j in range(1, 4):
        for k in range(4):
            for lane in range(w):
                acc[0, k, lane] += acc[j, k, lane]
    part = acc[0, 0].copy()                    # row_sum: leftover vectors into column 0, then columns
    for v in range(rows * 4, nvec):
        for lane in range(w):
            part[lane] += x[v * w + lane]
    for k in range(1, 4):
        for lane in range(w):
            part[lane] += acc[0, k, lane]
    total = np.float32(0.0)                    # vectorized_inner_sum: scalar tail, then the lanes
    for e in range(nvec * w, n):
        total += x[e]
    for lane in range(w):
        total += part[lane]
    return total


# -- IVIF_ZOO SSIM / MS-SSIM: torch's float32 Gaussian blur, reproduced ---------------------------

from numba import types as _nbtypes  # noqa: E402
from numba.core.extending import intrinsic as _intrinsic  # noqa: E402


@_intrinsic
def _fma32(typingctx, a, b, c):
    """``fma(a, b, c)`` in float32 with one rounding (LLVM's ``llvm.fma.f32``): the explicit fused
    multiply-add that torch's CPU convolution (oneDNN) performs per tap. (The project's kernels
    never *contract* a multiply and an add; this one reproduces an original that fuses them.)"""
    sig = _nbtypes.float32(_nbtypes.float32, _nbtypes.float32, _nbtypes.float32)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return sig, codegen


@kernel
def _blur_valid_f32(x, w, fused_v, fused_h, tmp, out):
    """``conv2d(conv2d(x, w[:, None]), w[None, :])`` of a 2-D float32 image, 'valid': what
    pytorch_msssim's ``gaussian_filter`` computes on one CPU thread, bit for bit. Each output is
    a chain over the taps in order, from 0: ``acc = fma(w[k], x[i + k], acc)`` (k = 0..K-1) where
    torch runs the pass through oneDNN (``fused_*``), ``acc = acc + w[k] * x[i + k]`` (two
    roundings) where it runs its native convolution; first down the columns into ``tmp`` (one
    row), then along it."""
    h, wd = x.shape
    kk = w.size
    ho, wo = h - kk + 1, wd - kk + 1
    zero = np.float32(0.0)
    for i in range(ho):
        for j in range(wd):
            tmp[j] = zero
        for k in range(kk):
            wk = w[k]
            row = x[i + k]
            if fused_v:
                for j in range(wd):
                    tmp[j] = _fma32(wk, row[j], tmp[j])
            else:
                for j in range(wd):
                    tmp[j] = tmp[j] + wk * row[j]
        o = out[i]
        for j in range(wo):
            o[j] = zero
        for k in range(kk):
            wk = w[k]
            if fused_h:
                for j in range(wo):
                    o[j] = _fma32(wk, tmp[j + k], o[j])
            else:
                for j in range(wo):
                    o[j] = o[j] + wk * tmp[j + k]
    return out


#: torch (``Convolution.cpp``, ``use_mkldnn``) sends a float32 CPU convolution with a single
#: input image and a K x 1 / 1 x K filter to oneDNN when the input has more than this many
#: elements, else to its native kernel
TORCH_ONEDNN_MIN = 20480


def blur_valid_f32(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """:func:`_blur_valid_f32` of a C-contiguous 2-D float32 array with float32 taps ``w``, each
    pass in the arithmetic torch picks for its input size (:data:`TORCH_ONEDNN_MIN`)."""
    k = w.size
    h, wd = x.shape
    out = np.empty((h - k + 1, wd - k + 1), np.float32)
    return _blur_valid_f32(x, w, h * wd > TORCH_ONEDNN_MIN, (h - k + 1) * wd > TORCH_ONEDNN_MIN,
                           np.empty(wd, np.float32), out)
