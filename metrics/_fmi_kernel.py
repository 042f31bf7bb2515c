"""Compiled Fast-FMI for 3x3 windows on float feature images (``tang:fmi_dct``, ``fmi`` on float input).

F's window statistics are computed once per position and shared by the two sources. Per window
pair the quantities are those of :func:`fusionbench.metrics.information._joint_entropy` (the
numpy reference, windows as rows): Nelsen's mixture ``k B + (1 - k) pF pX^T`` of the product
and the Frechet bound matching the correlation, the bound's mass on the (at most 17) segments
between the merged CDF breakpoints, the product part's entropy in closed form, and the
``fmi.m`` rules (equal windows score 1, B is compared with F's window as normalised for A, two
constant windows score ``flat_pair``, 0 where MI == 0, ``real(-p log2 p) = -p log2|p|`` for
negative cells).

Order: every sum runs over the window elements in MATLAB ``sub(:)`` order (e = row offset + 3 *
column offset), as ``fmi.m``'s loops; the bound's cells in merged-segment order. The
logarithms (27 per position for the pdfs, up to 34 for the bound's cells) are taken row by
row in long loops of :func:`_log2`, which vectorise; work buffers are flat arrays indexed by
offset (slicing a view per window costs reference counting), and the per-window helpers are
inlined (``inline='always'``: as separate calls their array arguments' reference counting
cost ~40% of the time; the arithmetic is the same). Values equal
:func:`fusionbench.metrics.information._fmi_generic` to ~3e-16 relative on real DCT features
(``tests/metrics/test_fmi_kernel.py`` compares every window); timing:
``python benchmarks/metrics.py --metrics tang:fmi_dct``.

Imported lazily (numba): only :func:`fusionbench.metrics.information._fmi_w3` imports it.
"""
from __future__ import annotations

import math

import numpy as np

from fusionbench._jit import bits_float as _from_bits
from fusionbench._jit import float_bits as _bits
from fusionbench._jit import kernel


# fdlibm e_log.c: ln 2 split (k * _LN2_HI exact) and the minimax coefficients of its R(z)
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_LG1, _LG2, _LG3, _LG4 = 6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, \
    2.222219843214978396e-01
_LG5, _LG6, _LG7 = 1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01
_INV_LN2 = 1.4426950408889634


@kernel
def _log2(x):
    """log2 of a positive float64, within 2 ulp of libm's (tests): fdlibm's ``__ieee754_log``
    (x = 2^k m, m in [sqrt(2)/2, sqrt(2)), log m = f - (hfsq - s (hfsq + R(s^2))), f = m - 1,
    s = f / (2 + f)) times 1 / ln 2. Inlined and branch-free (selects only), so loops over it
    vectorise (AVX2: ~3x faster than calls to libm's log2). Zero gives a finite value (callers
    mask it)."""
    sub = x < 2.2250738585072014e-308                # subnormal: scale by 2^54 first
    x = x * 18014398509481984.0 if sub else x
    ix = _bits(x)
    k = (ix >> 52) - (1077 if sub else 1023)
    mant = ix & 0x000FFFFFFFFFFFFF
    up = mant >= 0x6A09E667F3BCD                     # m >= sqrt(2): halve m
    k = k + 1 if up else k
    f = _from_bits(mant | (0x3FE0000000000000 if up else 0x3FF0000000000000)) - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
    dk = float(k)
    return (dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)) * _INV_LN2


@kernel
def _log2_all(x, out, n):
    """out[i] = log2|x[i]| (0 where x[i] == 0) for i < n: one long loop, vectorised."""
    for i in range(n):
        v = x[i]
        lv = _log2(abs(v))
        out[i] = lv if v != 0.0 else 0.0


@kernel(inline="always")
def _pdf(img, r, c, s, p, o):
    """Load the 3x3 window at top-left (r, c) into ``s[o:o + 9]`` (MATLAB ``sub(:)`` order,
    e = dr + 3 dc) and its pdf into ``p[o:o + 9]``: min-max normalised (ones where constant),
    over its in-order sum (times reciprocals: within 2 ulp of ``fmi.m``'s divisions; the
    equal-window test divides exactly). Returns (constant, min, max - min)."""
    for dc in range(3):
        for dr in range(3):
            s[o + dr + 3 * dc] = img[r + dr, c + dc]
    lo = s[o]
    hi = s[o]
    for e in range(1, 9):
        lo = min(lo, s[o + e])
        hi = max(hi, s[o + e])
    rng = hi - lo
    flat = rng == 0.0
    inv = 1.0 / (1.0 if flat else rng)                # reciprocals: 2 divisions, not 18
    ysum = 0.0
    for e in range(9):
        v = 1.0 if flat else (s[o + e] - lo) * inv
        p[o + e] = v
        ysum += v
    isum = 1.0 / ysum
    for e in range(9):
        p[o + e] = p[o + e] * isum
    return flat, lo, rng


@kernel(inline="always")
def _moments(p, lg, o, t, cdf, q):
    """Of the pdf ``p[o:o + 9]`` (``lg`` = log2 p, 0 where p == 0): entropy (bits), SD of the bin
    index 1..9, sum t^2 of the centred pdf (into ``t[q]``), sum of the in-order CDF (into
    ``cdf[q]``) and sum of the pdf, in ``fmi.m``'s order."""
    h = 0.0
    e1 = 0.0
    e2 = 0.0
    psum = 0.0
    csum = 0.0
    for e in range(9):
        v = p[o + e]
        h -= v * lg[o + e]
        i = e + 1.0
        e1 += i * v
        e2 += i * i * v
        psum += v
        cdf[q, e] = psum
        csum += psum
    mean = psum / 9.0
    ss = 0.0
    for e in range(9):
        tv = p[o + e] - mean
        t[q, e] = tv
        ss += tv * tv
    return h, math.sqrt(max(e2 - e1 * e1, 0.0)), ss, csum, psum


@kernel(inline="always")
def _mixture(p, lg, ox, of, t, cdf, q, sdx, ssx, csx, sdf, ssf, csf, g, seg, so, lso, aa, om):
    """Nelsen's mixing weight k of the pair (X's pdf at ``p[ox:]``, row q of ``t``/``cdf``; F's at
    ``p[of:]``, row 0) and its bound's cells, for the 17 segments between the merged CDF
    breakpoints, into ``[om:om + 17]`` of: seg (segment lengths, 0 = no cell), so = (1 - k) pF_i
    pX_j, lso = log2|so|, aa = k seg + so. Returns (k, 1 - k, log2|1 - k|)."""
    num = 0.0
    for e in range(9):
        num += t[q, e] * t[0, e]
    c = 0.0 if num == 0.0 else num / math.sqrt(ssx * ssf)
    upper = c >= 0.0
    # X's breakpoints, ascending: X_j (upper bound), or the upper ends 1 - X_{j-1} of the
    # reflected intervals (1 - X_j, 1 - X_{j-1}], j = 8..0 (lower bound; running max against
    # round-off, X_{j-1} taken as X_j - p_j as the reference does)
    if upper:
        for r in range(9):
            g[r] = cdf[q, r]
    else:
        run = 0.0
        for r in range(9):
            v = max(1.0 - (cdf[q, 8 - r] - p[ox + 8 - r]), run)
            g[r] = v
            run = v
    # merge F's and X's breakpoints (ties: F first), 17 steps without data-dependent branches
    # (cf[9] = g[9] = inf): the segment (prev, t] lies in F's interval i and X's interval j
    # (the ranks before t; no cell once one side is exhausted). The bound's mass on it is its
    # length; its weight in sum_ij bound(F_i, X_j) is (9 - i)(9 - j) (upper) or (9 - i)(1 + j)
    # (lower: Y_8 = 1 - X_8 = 0 counts)
    i = 0
    j = 0
    prev = 0.0
    bsum = 0.0
    for m in range(17):
        fi = cdf[0, i]
        gj = g[j]
        take_f = fi <= gj
        tv = fi if take_f else gj
        d = tv - prev if i < 9 and j < 9 else 0.0
        prev = tv
        wt = (9.0 - i) * (9.0 - j) if upper else (9.0 - i) * (1.0 + j)
        bsum += d * wt
        seg[om + m] = d
        ia = min(i, 8)                                 # the cell (clamped where d = 0: none)
        ib = min(j, 8) if upper else max(8 - j, 0)     # X's pdf index of the interval
        so[om + m] = p[of + ia] * p[ox + ib]
        lso[om + m] = lg[of + ia] + lg[ox + ib]
        i += take_f
        j += 1 - take_f
    cov = bsum - csf * csx
    sdd = sdf * sdx
    k = 0.0 if sdd == 0.0 or c == 0.0 else c * sdd / cov
    s = 1.0 - k
    ls = math.log2(abs(s)) if s != 0.0 else 0.0
    for m in range(om, om + 17):
        o = so[m] * s
        so[m] = o
        lso[m] += ls
        aa[m] = seg[m] * k + o
    return k, s, ls


@kernel
def fmi3_map(a, b, f, flat_pair, out):
    """Per window position (top-left r, c): FMI(A, F) + FMI(B, F) of the 3x3 windows, into
    ``out`` (shape (H - 2, W - 2)). ``a``, ``b``, ``f``: C-contiguous float64 feature images.

    Row by row, in three passes, so that the logarithms are taken in long loops (vectorised):
    the windows' pdfs; their logs; per pair the moments, the equal-window rules and the
    mixture's cells; the cells' logs; the joint entropies and scores."""
    w = out.shape[1]
    raw = np.empty(w * 27)                             # windows F, A, B of each position
    pdf = np.empty(w * 27)
    lpdf = np.empty(w * 27)
    flat = np.empty(w * 3, np.bool_)
    lo_f = np.empty(w)
    rng_f = np.empty(w)
    seg = np.empty(w * 34)                             # per position and source: 17 cells
    so = np.empty(w * 34)
    lso = np.empty(w * 34)
    aa = np.empty(w * 34)
    laa = np.empty(w * 34)
    todo = np.empty(w * 2, np.bool_)                   # the pair's joint entropy is needed
    val = np.empty(w * 2)                              # its score, or the product part of H
    hsum = np.empty(w * 2)
    t = np.empty((3, 9))
    cdf = np.empty((3, 10))
    cdf[:, 9] = np.inf
    g = np.empty(10)
    g[9] = np.inf
    for r in range(out.shape[0]):
        for c in range(w):
            for q in range(3):
                img = f if q == 0 else (a if q == 1 else b)
                fl, lo, rng = _pdf(img, r, c, raw, pdf, 27 * c + 9 * q)
                flat[3 * c + q] = fl
                if q == 0:
                    lo_f[c] = lo
                    rng_f[c] = rng
        _log2_all(pdf, lpdf, w * 27)
        for c in range(w):
            o0 = 27 * c
            eq_a = True
            for e in range(9):
                if raw[o0 + 9 + e] != raw[o0 + e]:
                    eq_a = False
                    break
            # fmi.m compares B's raw window with F's window as normalised (in place) while
            # scoring A, unless A's was equal to F's
            eq_b = True
            for e in range(9):
                sf = raw[o0 + e]
                ref = sf if eq_a else (1.0 if flat[3 * c] else (sf - lo_f[c]) / rng_f[c])
                if raw[o0 + 18 + e] != ref:
                    eq_b = False
                    break
            hf, sdf, ssf, csf, psf = _moments(pdf, lpdf, o0, t, cdf, 0)
            for src in range(2):
                q = src + 1
                i2 = 2 * c + src
                todo[i2] = False
                if eq_a if src == 0 else eq_b:
                    val[i2] = 1.0
                    continue
                if flat[3 * c + q] and flat[3 * c]:
                    val[i2] = flat_pair
                    continue
                ox = o0 + 9 * q
                hx, sdx, ssx, csx, psx = _moments(pdf, lpdf, ox, t, cdf, q)
                k, s, ls = _mixture(pdf, lpdf, ox, o0, t, cdf, q, sdx, ssx, csx, sdf, ssf, csf,
                                    g, seg, so, lso, aa, 17 * i2)
                # product part over all 81 cells in closed form; the bound's cells correct it
                val[i2] = s * (hf * psx + hx * psf) + (-s * ls) * psf * psx
                hsum[i2] = hx + hf
                todo[i2] = True
                if k == 0.0:                           # no bound part: no correction
                    for m in range(17 * i2, 17 * i2 + 17):
                        seg[m] = 0.0
        _log2_all(aa, laa, w * 34)
        for c in range(w):
            acc = 0.0
            for src in range(2):
                i2 = 2 * c + src
                if not todo[i2]:
                    acc += val[i2]
                    continue
                # phi(k seg + s o) - phi(s o) on the bound's cells, phi(a) = -a log2|a|
                corr = 0.0
                for m in range(17 * i2, 17 * i2 + 17):
                    if seg[m] > 0.0:
                        o = so[m]
                        if o != 0.0:
                            corr += o * lso[m]
                        x = aa[m]
                        if x != 0.0:
                            corr -= x * laa[m]
                hj = val[i2] + corr
                mi = hsum[i2] - hj
                acc += 0.0 if mi == 0.0 else 2.0 * mi / hsum[i2]
            out[r, c] = acc


def fmi3_windows(a: np.ndarray, b: np.ndarray, f: np.ndarray, flat_pair: float) -> np.ndarray:
    """FMI(A, F) + FMI(B, F) per 3x3 window position, shape (H - 2, W - 2) (float64 features)."""
    a, b, f = (np.ascontiguousarray(x, dtype=np.float64) for x in (a, b, f))
    out = np.empty((a.shape[0] - 2, a.shape[1] - 2))
    fmi3_map(a, b, f, float(flat_pair), out)
    return out
