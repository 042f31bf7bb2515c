"""Compiled Fast-FMI for 3x3 windows on float feature images (``tang:fmi_dct``, ``fmi`` on float input).

One pass over the window positions: F's window statistics are computed once per position and
shared by the two sources. Per window pair the quantities are those of
:func:`fusionbench.metrics.information._joint_entropy` (the numpy reference, windows as rows):
Nelsen's mixture ``k B + (1 - k) pF pX^T`` of the product and the Frechet bound matching the
correlation, the bound's mass on the (at most 17) segments between the merged CDF breakpoints,
the product part's entropy in closed form, and the ``fmi.m`` rules (equal windows score 1, B
is compared with F's window as normalised for A, two constant windows score ``flat_pair``,
0 where MI == 0, ``real(-p log2 p) = -p log2|p|`` for negative cells).

Order: every sum runs over the window elements in MATLAB ``sub(:)`` order (e = row offset + 3 *
column offset), as ``fmi.m``'s loops; the segments in merged order. Values equal
:func:`fusionbench.metrics.information._fmi_generic` to ~3e-16 relative on real DCT features
(``tests/metrics/test_fmi_kernel.py`` compares every window); timing:
``python benchmarks/metrics.py --metrics tang:fmi_dct``.

Imported lazily (numba): only :func:`fusionbench.metrics.information._fmi_w3` imports it.
"""
from __future__ import annotations

import math

import numpy as np

from fusionbench._jit import kernel


@kernel
def _load(img, r, c, s):
    """The 3x3 window with top-left (r, c), elements in MATLAB ``sub(:)`` order (e = dr + 3 dc)."""
    for dc in range(3):
        for dr in range(3):
            s[dr + 3 * dc] = img[r + dr, c + dc]


@kernel
def _stats(s, y, p, lg, t, cdf):
    """pdf statistics of window ``s`` (``fmi.m``'s order); fills y (min-max normalised window,
    ones where constant), p (pdf), lg (log2 p, 0 where p == 0), t (centred pdf), cdf (in-order
    cumulative sum). Returns (flat, entropy in bits, SD of the bin index 1..9, sum t^2,
    sum of the CDF, sum of the pdf)."""
    lo = s[0]
    hi = s[0]
    for e in range(1, 9):
        lo = min(lo, s[e])
        hi = max(hi, s[e])
    rng = hi - lo
    flat = rng == 0.0
    ysum = 0.0
    for e in range(9):
        v = 1.0 if flat else (s[e] - lo) / rng
        y[e] = v
        ysum += v
    h = 0.0
    e1 = 0.0
    e2 = 0.0
    psum = 0.0
    csum = 0.0
    for e in range(9):
        v = y[e] / ysum
        p[e] = v
        if v > 0.0:
            lv = math.log2(v)
            lg[e] = lv
            h -= v * lv
        else:
            lg[e] = 0.0
        i = e + 1.0
        e1 += i * v
        e2 += i * i * v
        psum += v
        cdf[e] = psum
        csum += psum
    mean = psum / 9.0
    ss = 0.0
    for e in range(9):
        tv = p[e] - mean
        t[e] = tv
        ss += tv * tv
    return flat, h, math.sqrt(max(e2 - e1 * e1, 0.0)), ss, csum, psum


@kernel
def _pair(px, lx, tx, cx, hx, sdx, ssx, csx, psx, pf, lf, tf, cf, hf, sdf, ssf, csf, psf,
          g, seg, si, sj):
    """Normalised feature MI ``2 MI / (H_X + H_F)`` of one window pair (X a source, F fused)."""
    num = 0.0
    for e in range(9):
        num += tx[e] * tf[e]
    c = 0.0 if num == 0.0 else num / math.sqrt(ssx * ssf)
    upper = c >= 0.0
    # X's breakpoints, ascending: X_j (upper bound), or the upper ends 1 - X_{j-1} of the
    # reflected intervals (1 - X_j, 1 - X_{j-1}], j = 8..0 (lower bound; running max against
    # round-off, X_{j-1} taken as X_j - p_j as the reference does)
    if upper:
        for r in range(9):
            g[r] = cx[r]
    else:
        run = 0.0
        for r in range(9):
            v = max(1.0 - (cx[8 - r] - px[8 - r]), run)
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
        fi = cf[i]
        gj = g[j]
        take_f = fi <= gj
        tv = fi if take_f else gj
        d = tv - prev if i < 9 and j < 9 else 0.0
        prev = tv
        wt = (9.0 - i) * (9.0 - j) if upper else (9.0 - i) * (1.0 + j)
        bsum += d * wt
        seg[m] = d
        si[m] = i
        sj[m] = j if upper else 8 - j              # X's pdf index of the interval
        i += take_f
        j += 1 - take_f
    cov = bsum - csf * csx
    sdd = sdf * sdx
    k = 0.0 if sdd == 0.0 or c == 0.0 else c * sdd / cov
    s = 1.0 - k
    ls = math.log2(abs(s)) if s != 0.0 else 0.0
    # product part over all 81 cells in closed form; then, on the bound's non-zero cells,
    # phi(k seg + s o) - phi(s o), phi(a) = -a log2|a|, o = pF_i pX_j (log2|s o| from the logs
    # of the pdfs)
    corr = 0.0
    if k != 0.0:
        for m in range(17):
            if seg[m] <= 0.0:
                continue
            a = si[m]
            b = sj[m]
            so = pf[a] * px[b] * s
            if so != 0.0:
                corr += so * (ls + lf[a] + lx[b])
            aa = seg[m] * k + so
            if aa != 0.0:
                corr -= aa * math.log2(abs(aa))
    hj = s * (hf * psx + hx * psf) + (-s * ls) * psf * psx + corr
    mi = hx + hf - hj
    return 0.0 if mi == 0.0 else 2.0 * mi / (hx + hf)


@kernel
def fmi3_map(a, b, f, flat_pair, out):
    """Per window position (top-left r, c): FMI(A, F) + FMI(B, F) of the 3x3 windows, into
    ``out`` (shape (H - 2, W - 2)). ``a``, ``b``, ``f``: C-contiguous float64 feature images."""
    sa = np.empty(9)
    sf = np.empty(9)
    yf = np.empty(9)
    pf = np.empty(9)
    lf = np.empty(9)
    tf = np.empty(9)
    cf = np.empty(10)
    cf[9] = np.inf
    sx = np.empty(9)
    yx = np.empty(9)
    px = np.empty(9)
    lx = np.empty(9)
    tx = np.empty(9)
    cx = np.empty(9)
    g = np.empty(10)
    g[9] = np.inf
    seg = np.empty(18)
    si = np.empty(18, np.int64)
    sj = np.empty(18, np.int64)
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            _load(f, r, c, sf)
            flat_f, hf, sdf, ssf, csf, psf = _stats(sf, yf, pf, lf, tf, cf)
            _load(a, r, c, sa)
            eq_a = True
            for e in range(9):
                if sa[e] != sf[e]:
                    eq_a = False
                    break
            acc = 0.0
            for src in range(2):
                if src == 0:
                    for e in range(9):
                        sx[e] = sa[e]
                    eq = eq_a
                else:
                    _load(b, r, c, sx)
                    # fmi.m compares B's raw window with F's window as normalised (in place)
                    # while scoring A, unless A's was equal to F's
                    eq = True
                    for e in range(9):
                        if sx[e] != (sf[e] if eq_a else yf[e]):
                            eq = False
                            break
                if eq:
                    acc += 1.0
                    continue
                flat_x, hx, sdx, ssx, csx, psx = _stats(sx, yx, px, lx, tx, cx)
                if flat_x and flat_f:
                    acc += flat_pair
                else:
                    acc += _pair(px, lx, tx, cx, hx, sdx, ssx, csx, psx, pf, lf, tf, cf, hf, sdf, ssf, csf,
                                 psf, g, seg, si, sj)
            out[r, c] = acc


def fmi3_windows(a: np.ndarray, b: np.ndarray, f: np.ndarray, flat_pair: float) -> np.ndarray:
    """FMI(A, F) + FMI(B, F) per 3x3 window position, shape (H - 2, W - 2) (float64 features)."""
    a, b, f = (np.ascontiguousarray(x, dtype=np.float64) for x in (a, b, f))
    out = np.empty((a.shape[0] - 2, a.shape[1] - 2))
    fmi3_map(a, b, f, float(flat_pair), out)
    return out
