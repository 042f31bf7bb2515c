"""Issue 22: IFC's faster window/block kernels against the kernels they replaced, bit for bit.

The ``_old_*`` kernels below are the earlier forms (one 3-row block sum per window and output
row, one pass per term) kept as oracles: every output of the new kernels must have the same
bits, for every window size the release uses (3, 5, 9, 17), others that take the general
paths, odd image sizes and every remainder of the 4-row passes.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from fusionbench._jit import kernel
from fusionbench.metrics import _paper_kernels as K
from fusionbench.metrics import ifc as I

M = 3


@kernel
def _old_log2_1p_groups(x, lam, acc):
    """The earlier per-block log term: add ``sum_j log2(1 + x lam_j)`` to ``acc[0]`` as the log
    of the product of all factors, or the production ``_groups_log2`` outside (1e-300, 1e300)."""
    prod = 1.0
    for j in range(lam.size):
        prod *= x * lam[j] + 1.0
    if 1e-300 < prod < 1e300:
        acc[0] += math.log2(prod)
        return
    acc[0] += K._groups_log2(x, lam)


@kernel
def _old_add_row(dst, a, b, use_b, r, x0, first):
    ar = a[r, x0:x0 + dst.size]
    if use_b:
        br = b[r, x0:x0 + dst.size]
        if first:
            for x in range(dst.size):
                dst[x] = ar[x] * br[x]
        else:
            for x in range(dst.size):
                dst[x] = dst[x] + ar[x] * br[x]
    elif first:
        for x in range(dst.size):
            dst[x] = ar[x]
    else:
        for x in range(dst.size):
            dst[x] = dst[x] + ar[x]


@kernel
def _old_box_interior(a, b, use_b, win, off):
    half = (win - 1) // 2
    jb, rem = divmod(half - 1, M)
    lo = off - jb                                # first block of the first kept window
    nbr, nbc = a.shape[0] // M, a.shape[1] // M
    kr, kc = nbr - 2 * off, nbc - 2 * off
    nb = 2 * jb + 1
    out = np.empty((kr, kc))
    x0 = M * lo - rem                            # first column any kept window covers
    ncol = M * (kc - 1 + 2 * jb) + M + 2 * rem
    rsum = np.empty(ncol)
    blk = np.empty(ncol)
    cb = np.empty(kc + 2 * jb)
    for i in range(kr):
        for q in range(nb):                      # whole blocks of rows, then the single rows
            r = M * (lo + i + q)
            _old_add_row(blk, a, b, use_b, r, x0, True)
            _old_add_row(blk, a, b, use_b, r + 1, x0, False)
            _old_add_row(blk, a, b, use_b, r + 2, x0, False)
            if q == 0:
                for x in range(ncol):
                    rsum[x] = blk[x]
            else:
                for x in range(ncol):
                    rsum[x] = rsum[x] + blk[x]
        for e in range(1, rem + 1):
            _old_add_row(rsum, a, b, use_b, M * (lo + i) - e, x0, False)
            _old_add_row(rsum, a, b, use_b, M * (off + jb + i) + M - 1 + e, x0, False)
        for c in range(kc + 2 * jb):             # columns: 3-sample block sums, then runs
            x = M * c + rem                      # column M * (lo + c) in rsum
            cb[c] = (rsum[x] + rsum[x + 1]) + rsum[x + 2]
        o = out[i]
        for j in range(kc):
            o[j] = cb[j]
        for q in range(1, nb):
            seg = cb[q:q + kc]
            for j in range(kc):
                o[j] = o[j] + seg[j]
        for e in range(1, rem + 1):
            for j in range(kc):
                o[j] = o[j] + rsum[M * j + rem - e]
            for j in range(kc):
                o[j] = o[j] + rsum[M * (j + 2 * jb) + rem + M - 1 + e]
    return out


@kernel
def _old_channel_log_sums(xs, ys, win, off, x_nm, x_ss_tol, x_low, y_m, y_ss, y_low, ss, lam,
                     want_ifc, want_vif, ifc_eps, vif_nsq, tol):
    sxy = _old_box_interior(xs, ys, True, win, off)
    n = float(win * win)
    kr, kc = sxy.shape
    ng = 1
    acc_i = np.zeros(ng)
    acc_v = np.zeros(ng)
    for i in range(kr):
        for j in range(kc):
            cov = sxy[i, j] - x_nm[i, j] * y_m[i, j]
            g = cov / x_ss_tol[i, j]
            vv = (y_ss[i, j] - g * cov) / n
            if x_low[i, j]:
                g = 0.0
                vv = y_ss[i, j]
            if y_low[i, j]:
                g = 0.0
                vv = 0.0
            if g < 0:
                vv = y_ss[i, j]
                g = 0.0
            if vv <= tol:
                vv = tol
            gss = g * g * ss[i, j]
            if want_ifc:
                _old_log2_1p_groups(gss / (vv + ifc_eps), lam, acc_i)
            if want_vif:
                _old_log2_1p_groups(gss / (vv + vif_nsq), lam, acc_v)
    ifc_sum = 0.0
    vif_num = 0.0
    for t in range(ng):
        ifc_sum += acc_i[t]
        vif_num += acc_v[t]
    return ifc_sum, vif_num


@kernel
def _old_block_moments(y):
    h, w = y.shape
    hb, wb = h - M + 1, w - M + 1
    # offsets (dr, dc) with dr >= 0 and (dr > 0 or dc >= 0)
    ndr = np.array([0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2])
    ndc = np.array([0, 1, 2, -2, -1, 0, 1, 2, -2, -1, 0, 1, 2])
    colp = np.zeros((13, w))
    cols = np.zeros(w)
    for u in range(2, h - 2):
        y0 = y[u]
        for v in range(w):
            cols[v] += y0[v]
        for d in range(13):
            dc = ndc[d]
            lo, hi = max(0, -dc), w - max(0, dc)
            # slices, so that every index is a loop counter (no negative-index wrap: vectorised)
            x0, x1, acc = y0[lo:hi], y[u + ndr[d], lo + dc:hi + dc], colp[d, lo:hi]
            for v in range(hi - lo):
                acc[v] += x0[v] * x1[v]
    sums = np.empty(9)
    cross = np.empty((9, 9))
    for p in range(9):
        rp, cp = p // M, p % M
        s = 0.0
        for v in range(cp, cp + wb):
            t = cols[v]
            for u in range(rp, 2):
                t += y[u, v]
            for u in range(h - 2, rp + hb):
                t += y[u, v]
            s += t
        sums[p] = s
        for q in range(p, 9):
            rq, cq = q // M, q % M
            dr, dc = rq - rp, cq - cp
            d = 0
            for e in range(13):
                if ndr[e] == dr and ndc[e] == dc:
                    d = e
            s = 0.0
            for v in range(cp, cp + wb):
                t = colp[d, v]
                for u in range(rp, 2):
                    t += y[u, v] * y[u + dr, v + dc]
                for u in range(h - 2, rp + hb):
                    t += y[u, v] * y[u + dr, v + dc]
                s += t
            cross[p, q] = s
            cross[q, p] = s
    return sums, cross


@kernel
def _old_s_field(kept, inv):
    nr, nc = kept.shape[0] // M, kept.shape[1] // M
    out = np.empty((nr, nc))
    v = np.empty((9, nc))
    q = np.empty(nc)
    s = np.empty(nc)
    for i in range(nr):
        for p in range(9):
            row = kept[M * i + p // M]
            vp = v[p]
            for j in range(nc):
                vp[j] = row[M * j + p % M]
        for j in range(nc):
            s[j] = 0.0
        for k in range(9):
            for j in range(nc):
                q[j] = 0.0
            for p in range(9):
                c = inv[k, p]
                vp = v[p]
                for j in range(nc):
                    q[j] += c * vp[j]
            vk = v[k]
            for j in range(nc):
                s[j] += q[j] * vk[j]
        o = out[i]
        for j in range(nc):
            o[j] = s[j] / 9.0
    return out


def _bits(got, want) -> None:
    """Same shape, dtype and bytes (so -0.0 != 0.0 and NaN == NaN of the same payload)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert got.tobytes() == want.tobytes()


# (window, offset): the release's four, larger offsets, and windows of the general paths
# (jb, rem) = (0, 2), (1, 1), (1, 2), (2, 2), (3, 1)
WINDOWS = [(3, 1), (5, 1), (9, 2), (17, 3), (3, 2), (17, 4), (7, 1), (11, 2), (13, 2), (19, 3),
           (23, 4)]
SHAPES = [(3 * 29 + 1, 3 * 31 + 2), (3 * 40, 3 * 17 + 1), (3 * 19 + 2, 3 * 45)]


@pytest.mark.parametrize("win,off", WINDOWS)
def test_box_sums_ring_is_the_earlier_box_interior_bit_for_bit(win, off):
    rng = np.random.default_rng(win * 10 + off)
    for shape in SHAPES:
        a = rng.normal(size=shape) * 37.0 + 0.3
        b = rng.normal(size=shape) * 11.0 - 0.7
        plain = _old_box_interior(a, a, False, win, off)
        prod = _old_box_interior(a, b, True, win, off)
        s_a, s_ab = K.box_sums(a, b, True, True, win, off)       # both in one sweep
        _bits(s_a, plain)
        _bits(s_ab, prod)
        _bits(K.box_interior(a, b, False, win, off), plain)      # one at a time
        _bits(K.box_interior(a, b, True, win, off), prod)
        s_a, s_ab = K.box_sums(a, b, False, True, win, off)
        assert s_a.size == 0
        _bits(s_ab, prod)


def _decompositions():
    rng = np.random.default_rng(3)
    h, w = 101, 118                                            # odd: cropped subbands differ
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = 128 + 70 * np.sin(xx / 7.0) * np.cos(yy / 9.0)
    ir = np.round(np.clip(smooth + rng.normal(0, 9, (h, w)), 0, 255))
    vi = np.round(np.clip(255 * xx / w + rng.normal(0, 5, (h, w)), 0, 255))
    mean = np.floor((ir + vi + 1) / 2)
    mean[:24, :30] = 128.0                                     # flat: the clean-up rules
    ref = I._Decomposed(ir)
    return ref, [(ref, I._Decomposed(mean)), (ref, I._Decomposed(ir.copy())),  # fused == source
                 (I._Decomposed(vi), I._Decomposed(mean))]


def test_window_stats_are_the_earlier_expressions_bit_for_bit():
    ref, _ = _decompositions()
    for k, y in ref.sub.items():
        win, off = I._window(k), I._offset(k)
        n = float(win * win)
        s1, s2 = _old_box_interior(y, y, False, win, off), _old_box_interior(y, y, True, win, off)
        m = s1 / n
        nm = n * m
        ss = np.maximum(s2 - nm * m, 0.0)
        got = K.window_stats(y, win, off, I.TOL)
        for g, want in zip(got, (m, nm, ss, ss + I.TOL, ss < I.TOL)):
            _bits(g, want)


@pytest.mark.parametrize("want", [(True, True), (True, False), (False, True)])
def test_channel_log_sums_row_form_is_the_earlier_kernel_bit_for_bit(want):
    _, pairs = _decompositions()
    for ref, dist in pairs:
        for k in I.SUBBANDS:
            x, y = ref.win[k], dist.win[k]
            ss, lam = ref.ref_params(k)
            args = (ref.sub[k], dist.sub[k], I._window(k), I._offset(k), x.nm, x.ss_tol, x.low, y.m,
                    y.ss, y.low, ss, lam, *want, I.IFC_EPS, I.VIF_SIGMA_NSQ, I.TOL)
            _bits(np.array(K.channel_log_sums(*args)), np.array(_old_channel_log_sums(*args)))


def test_row_log_sum_is_the_serial_block_sum_with_its_fallback():
    """Products beyond (1e-300, 1e300), inf and NaN take the groups of 3, in block order."""
    lam = np.array([1e-3, 0.02, 0.5, 1.0, 4.0, 9.0, 30.0, 110.0, 700.0])
    x = np.array([0.0, 3.7, 1e12, 1e40, 2.5e-3, np.inf, 7.0, np.nan, 1e-9, 4e33, 0.5])
    acc = np.array([0.25])
    for v in x:
        _old_log2_1p_groups(v, lam, acc)
    _bits(np.float64(K._row_log_sum(x, np.empty(x.size), lam, 0.25)), np.float64(acc[0]))
    finite = x[np.isfinite(x)]
    acc[0] = 0.25
    for v in finite:
        _old_log2_1p_groups(v, lam, acc)
    _bits(np.float64(K._row_log_sum(finite, np.empty(finite.size), lam, 0.25)), np.float64(acc[0]))
    assert np.isfinite(acc[0])


@pytest.mark.parametrize("h", [23, 24, 25, 26, 27])                # every remainder of 4 rows
def test_block_moments_four_rows_per_pass_are_the_earlier_sums_bit_for_bit(h):
    y = np.random.default_rng(h).normal(size=(h, 31)) * 50.0
    for got, want in zip(K.block_moments(y), _old_block_moments(y)):
        _bits(got, want)


def test_block_moments_and_s_field_of_real_subbands_bit_for_bit():
    ref, _ = _decompositions()
    rng = np.random.default_rng(9)
    a = rng.normal(size=(9, 9))
    inv = a @ a.T
    for k, y in ref.sub.items():
        for got, want in zip(K.block_moments(y), _old_block_moments(y)):
            _bits(got, want)
        off = I._offset(k)
        kept = np.ascontiguousarray(y[M * off:y.shape[0] - M * off, M * off:y.shape[1] - M * off])
        _bits(K.s_field(kept, inv), _old_s_field(kept, inv))
