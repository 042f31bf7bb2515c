"""Compiled kernels of the paper metrics (IFC/VIF, Q_ABF), issue 22 (private).

Imported lazily, inside the metric functions (importing numba costs ~0.5 s). Every kernel loops
in a fixed order written out here (no reassociation, no FMA: :mod:`fusionbench._jit`), so a
result depends only on its inputs and that order; each says which order it follows. Values
differ from the earlier numpy formulations by round-off only (different summation orders).
"""
from __future__ import annotations

import math

import numpy as np

from fusionbench._jit import kernel
from fusionbench.metrics._vmath import atan_into, exp_into

M = 3   # IFC's GSM block side


# --------------------------------------------------------------------------------------------
# IFC: box-window sums at the kept block centres (distsub_est_m's corrDn stride 3)
# --------------------------------------------------------------------------------------------

@kernel
def _block_rows(dst_a, dst_ab, a, b, plain, prod, r, x0):
    """The 3-row sums of block row ``r // M`` from column ``x0``: ``(a[r] + a[r+1]) + a[r+2]``
    into ``dst_a`` (``plain``) and ``(a[r] b[r] + a[r+1] b[r+1]) + a[r+2] b[r+2]`` into
    ``dst_ab`` (``prod``): the first row's term assigned, the others added, as the earlier
    row-by-row form did; the rows loaded once for both. Both buffers have the same length."""
    n = dst_ab.size if prod else dst_a.size
    a0, a1, a2 = a[r, x0:x0 + n], a[r + 1, x0:x0 + n], a[r + 2, x0:x0 + n]
    if plain and prod:
        b0, b1, b2 = b[r, x0:x0 + n], b[r + 1, x0:x0 + n], b[r + 2, x0:x0 + n]
        for x in range(n):
            u0, u1, u2 = a0[x], a1[x], a2[x]
            dst_a[x] = (u0 + u1) + u2
            dst_ab[x] = (u0 * b0[x] + u1 * b1[x]) + u2 * b2[x]
    elif prod:
        b0, b1, b2 = b[r, x0:x0 + n], b[r + 1, x0:x0 + n], b[r + 2, x0:x0 + n]
        for x in range(n):
            dst_ab[x] = (a0[x] * b0[x] + a1[x] * b1[x]) + a2[x] * b2[x]
    else:
        for x in range(n):
            dst_a[x] = (a0[x] + a1[x]) + a2[x]


@kernel
def _window_row(rsum, ring, slot0, nb, a, b, use_b, rem, ru, rd, x0):
    """``rsum = ((B_0 + B_1) + ... + B_{nb-1})`` (``B_q = ring[(slot0 + q) % nb]``), then for
    ``e = 1..rem`` the single rows ``ru - e`` and ``rd + e`` of ``a`` (``a * b`` when ``use_b``),
    upper before lower: :func:`box_interior`'s row order, in one pass for 1, 3 or 5 blocks."""
    n = rsum.size
    if nb == 5:
        r0, r1, r2 = ring[slot0 % 5], ring[(slot0 + 1) % 5], ring[(slot0 + 2) % 5]
        r3, r4 = ring[(slot0 + 3) % 5], ring[(slot0 + 4) % 5]
        if rem == 1 and use_b:
            u, d = a[ru - 1, x0:x0 + n], a[rd + 1, x0:x0 + n]
            ub, db = b[ru - 1, x0:x0 + n], b[rd + 1, x0:x0 + n]
            for x in range(n):
                rsum[x] = ((((((r0[x] + r1[x]) + r2[x]) + r3[x]) + r4[x]) + u[x] * ub[x])
                           + d[x] * db[x])
            return
        if rem == 1:
            u, d = a[ru - 1, x0:x0 + n], a[rd + 1, x0:x0 + n]
            for x in range(n):
                rsum[x] = ((((((r0[x] + r1[x]) + r2[x]) + r3[x]) + r4[x]) + u[x]) + d[x])
            return
        for x in range(n):
            rsum[x] = (((r0[x] + r1[x]) + r2[x]) + r3[x]) + r4[x]
    elif nb == 3:
        r0, r1, r2 = ring[slot0 % 3], ring[(slot0 + 1) % 3], ring[(slot0 + 2) % 3]
        for x in range(n):
            rsum[x] = (r0[x] + r1[x]) + r2[x]
    else:
        r0 = ring[slot0 % nb]
        for x in range(n):
            rsum[x] = r0[x]
        for q in range(1, nb):
            rq = ring[(slot0 + q) % nb]
            for x in range(n):
                rsum[x] = rsum[x] + rq[x]
    for e in range(1, rem + 1):
        u, d = a[ru - e, x0:x0 + n], a[rd + e, x0:x0 + n]
        if use_b:
            ub, db = b[ru - e, x0:x0 + n], b[rd + e, x0:x0 + n]
            for x in range(n):
                rsum[x] = (rsum[x] + u[x] * ub[x]) + d[x] * db[x]
        else:
            for x in range(n):
                rsum[x] = (rsum[x] + u[x]) + d[x]


@kernel
def _window_cols(o, rsum, cb, kc, jb, rem):
    """Column stage of :func:`box_interior` for one output row ``o`` from its row sums."""
    nb = 2 * jb + 1
    for c in range(kc + 2 * jb):             # columns: 3-sample block sums, then runs
        x = M * c + rem                      # column M * (lo + c) in rsum
        cb[c] = (rsum[x] + rsum[x + 1]) + rsum[x + 2]
    if nb == 5 and rem == 1:                 # the finest level's 17-window, in one pass
        for j in range(kc):
            o[j] = (((((cb[j] + cb[j + 1]) + cb[j + 2]) + cb[j + 3]) + cb[j + 4])
                    + rsum[M * j]) + rsum[M * (j + 4) + M + 1]
        return
    if nb == 3 and rem == 0:
        for j in range(kc):
            o[j] = (cb[j] + cb[j + 1]) + cb[j + 2]
        return
    for j in range(kc):
        o[j] = cb[j]
    for q in range(1, nb):
        seg = cb[q:q + kc]
        for j in range(kc):
            o[j] = o[j] + seg[j]
    for e in range(1, rem + 1):
        for j in range(kc):
            o[j] = (o[j] + rsum[M * j + rem - e]) + rsum[M * (j + 2 * jb) + rem + M - 1 + e]


@kernel
def box_sums(a, b, plain, prod, win, off):
    """:func:`box_interior` of ``a`` (``plain``) and of ``a * b`` (``prod``) in one sweep:
    ``(S_a, S_ab)`` (an empty ``(0, 0)`` array for the one not wanted), each bit for bit the
    single-sum result. Each 3-row block sum is formed once, in a ring of the ``2 jb + 1`` that
    the current output row uses (consecutive output rows share all but one); the rows of ``a``
    and ``b`` are loaded once for both sums."""
    half = (win - 1) // 2
    jb, rem = divmod(half - 1, M)
    lo = off - jb
    nbr, nbc = a.shape[0] // M, a.shape[1] // M
    kr, kc = nbr - 2 * off, nbc - 2 * off
    nb = 2 * jb + 1
    x0 = M * lo - rem
    ncol = M * (kc - 1 + 2 * jb) + M + 2 * rem
    out_a = np.empty((kr, kc) if plain else (0, 0))
    out_ab = np.empty((kr, kc) if prod else (0, 0))
    ring_a = np.empty((nb if plain else 1, ncol))
    ring_ab = np.empty((nb if prod else 1, ncol))
    rsum = np.empty(ncol)
    cb = np.empty(kc + 2 * jb)
    for i in range(kr):
        first = lo + i if i == 0 else lo + i + nb - 1
        for t in range(first, lo + i + nb):   # the block rows not yet in the ring
            s = t % nb
            _block_rows(ring_a[s if plain else 0], ring_ab[s if prod else 0], a, b, plain, prod,
                        M * t, x0)
        ru, rd = M * (lo + i), M * (off + jb + i) + M - 1     # single rows: ru - e, rd + e
        if plain:
            _window_row(rsum, ring_a, lo + i, nb, a, b, False, rem, ru, rd, x0)
            _window_cols(out_a[i], rsum, cb, kc, jb, rem)
        if prod:
            _window_row(rsum, ring_ab, lo + i, nb, a, b, True, rem, ru, rd, x0)
            _window_cols(out_ab[i], rsum, cb, kc, jb, rem)
    return out_a, out_ab


@kernel
def box_interior(a, b, use_b, win, off):
    """``win x win`` window sums of ``a`` (of ``a * b`` when ``use_b``) centred on the middle
    sample ``(3i+1, 3j+1)`` of every block kept by ``ifcvec`` (all but ``off`` a side).

    Order (that of the earlier numpy form, bit for bit): along each axis the window is
    ``2 jb + 1`` whole 3-sample blocks around the centre block plus ``rem`` single samples each
    side (``jb, rem = divmod(half - 1, 3)``). Rows first: each block's 3 rows summed top to
    bottom, the blocks' sums left to right from the first (``(B0 + B1) + B2 ...``), then the
    single rows nearest first, the upper before the lower; then the same along the row of
    those sums. A result depends only on the samples in its window, in the same order for every
    window, so where two subbands agree their sums agree bit for bit. Computed by
    :func:`box_sums` (each 3-row block sum formed once, in a ring).
    """
    s_a, s_ab = box_sums(a, b, not use_b, use_b, win, off)
    return s_ab if use_b else s_a


@kernel
def window_stats(y, win, off, tol):
    """One subband's box-window terms at the kept block centres: ``m = S1/n``, ``nm = n m``,
    ``ss = max(S2 - nm m, 0)``, ``ss + tol`` and ``ss < tol`` (``S1``, ``S2``: window sums of
    ``y`` and ``y*y`` by :func:`box_interior`, ``n = win^2``), in that order per block."""
    s1, s2 = box_sums(y, y, True, True, win, off)
    n = float(win * win)
    kr, kc = s1.shape
    m, nm = np.empty((kr, kc)), np.empty((kr, kc))
    ss_tol, low = np.empty((kr, kc)), np.empty((kr, kc), np.bool_)
    for i in range(kr):
        for j in range(kc):
            mi = s1[i, j] / n
            nmi = n * mi
            d = s2[i, j] - nmi * mi
            ssi = d if (d != d or d >= 0.0) else 0.0     # np.maximum(d, 0.0), NaN included
            m[i, j], nm[i, j], s2[i, j] = mi, nmi, ssi
            ss_tol[i, j] = ssi + tol
            low[i, j] = ssi < tol
    return m, nm, s2, ss_tol, low


@kernel
def _groups_log2(x, lam):
    """``sum_j log2(1 + x lam_j)`` of one block as the sum of the logs of products of 3
    factors in order, as :func:`sum_log2_1p`."""
    nl = lam.size
    t = 0.0
    for j in range(0, nl, 3):
        p3 = x * lam[j] + 1.0
        for m in range(j + 1, min(j + 3, nl)):
            p3 *= x * lam[m] + 1.0
        t += math.log2(p3)
    return t


@kernel
def _row_log_sum(x, prod, lam, acc):
    """``acc`` plus ``sum_j log2(1 + x lam_j)`` of each block of a row (``x``), added in
    order: the log of the product of the block's factors (one log instead of nine), or,
    should that product leave (1e-300, 1e300) (or be NaN), :func:`_groups_log2` (products of
    3 factors). The products ``((1 x lam_0 + 1) ...)(x lam_8 + 1)`` are formed for the whole
    row first (factor by factor, vectorised; ``prod`` is scratch), then the logs, serially."""
    n = x.size
    for j in range(n):
        prod[j] = 1.0
    for m in range(lam.size):
        c = lam[m]
        for j in range(n):
            prod[j] *= x[j] * c + 1.0
    for j in range(n):
        p = prod[j]
        if 1e-300 < p < 1e300:
            acc += math.log2(p)
        else:
            acc += _groups_log2(x[j], lam)
    return acc


@kernel
def channel_log_sums(xs, ys, win, off, x_nm, x_ss_tol, x_low, y_m, y_ss, y_low, ss, lam,
                     want_ifc, want_vif, ifc_eps, vif_nsq, tol):
    """``distsub_est_m`` on one subband pair and the sums over its kept blocks of IFC's and VIF's
    ``log2(1 + g^2 s lam_j / (vv + c))``: ``(ifc_sum, vif_num)``.

    A row of blocks at a time: the channel of each block and its log arguments (vectorised),
    then :func:`_row_log_sum` (the 9-factor products of the row, then the logs in block order).
    Per block, the numpy form's operations in order: ``cov = S_xy - nm_x m_y`` (``S_xy`` by
    :func:`box_interior`), ``g = cov / (ss_x + tol)``, ``vv = (ss_y - g cov) / n``; no reference
    signal: ``g = 0, vv = ss_y``; no distorted signal: ``g = 0, vv = 0``; ``g < 0``: ``vv = ss_y,
    g = 0``; ``vv <= tol``: ``vv = tol``; ``g^2 s`` as ``(g g) s``. Log sums: each block's
    :func:`_row_log_sum` term (one log of the product of its 9 factors, or logs of products
    of 3 where that product leaves ``(1e-300, 1e300)``), added from 0 in row-major block order.
    """
    sxy = box_interior(xs, ys, True, win, off)
    n = float(win * win)
    kr, kc = sxy.shape
    xi, xv = np.empty(kc), np.empty(kc)           # a row of blocks: log arguments, products
    pi, pv = np.empty(kc), np.empty(kc)
    acc_i = 0.0
    acc_v = 0.0
    for i in range(kr):
        # the channel per block (vectorised along the row: the branches are selects)
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
            if want_ifc:                         # loop-invariant: unswitched by LLVM
                xi[j] = gss / (vv + ifc_eps)
            if want_vif:
                xv[j] = gss / (vv + vif_nsq)
        if want_ifc:
            acc_i = _row_log_sum(xi, pi, lam, acc_i)
        if want_vif:
            acc_v = _row_log_sum(xv, pv, lam, acc_v)
    ifc_sum = 0.0
    vif_num = 0.0
    ifc_sum += acc_i
    vif_num += acc_v
    return ifc_sum, vif_num


# --------------------------------------------------------------------------------------------
# IFC: refparams_vecgsm (moments of all overlapping 3x3 blocks, S field of the kept blocks)
# --------------------------------------------------------------------------------------------

@kernel
def block_moments(y):
    """Sums ``s[p]`` and cross sums ``c[p, q]`` of the 9 elements of all overlapping 3x3 blocks.

    Element ``p = 3r + c`` of the block at ``(i, j)`` (``i < h-2``, ``j < w-2``) is
    ``y[i + r, j + c]``. A pair ``(p, q)``, ``q >= p``, is the sum of ``y[u, v] y[u+dr, v+dc]``
    (``(dr, dc) = q - p``, one of 13 offsets) over ``u`` in ``[r_p, r_p + h-2)`` and ``v`` in
    ``[c_p, c_p + w-2)``. Order: column sums over the rows ``2..h-3`` that every pair shares
    (top to bottom, vectorisable along the row; 4 rows added per pass, in that order), then per
    pair the columns of its range left to right, each column's sum plus its one or two edge-row
    products (rows ``r_p..1`` before, ``h-2..`` after, in that order).
    """
    h, w = y.shape
    hb, wb = h - M + 1, w - M + 1
    # offsets (dr, dc) with dr >= 0 and (dr > 0 or dc >= 0)
    ndr = np.array([0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2])
    ndc = np.array([0, 1, 2, -2, -1, 0, 1, 2, -2, -1, 0, 1, 2])
    colp = np.zeros((13, w))
    cols = np.zeros(w)
    u = 2
    while u + 4 <= h - 2:        # 4 rows per pass: each sum loaded and stored once for 4 terms
        y0, y1, y2, y3 = y[u], y[u + 1], y[u + 2], y[u + 3]
        for v in range(w):
            cols[v] = (((cols[v] + y0[v]) + y1[v]) + y2[v]) + y3[v]
        for d in range(13):
            dr, dc = ndr[d], ndc[d]
            lo, hi = max(0, -dc), w - max(0, dc)
            # slices, so that every index is a loop counter (no negative-index wrap: vectorised)
            a0, a1, a2, a3 = y0[lo:hi], y1[lo:hi], y2[lo:hi], y3[lo:hi]
            b0, b1 = y[u + dr, lo + dc:hi + dc], y[u + 1 + dr, lo + dc:hi + dc]
            b2, b3 = y[u + 2 + dr, lo + dc:hi + dc], y[u + 3 + dr, lo + dc:hi + dc]
            acc = colp[d, lo:hi]
            for v in range(hi - lo):     # rows top to bottom, as one row at a time
                acc[v] = ((((acc[v] + a0[v] * b0[v]) + a1[v] * b1[v]) + a2[v] * b2[v])
                          + a3[v] * b3[v])
        u += 4
    while u < h - 2:             # the remaining rows, one at a time
        y0 = y[u]
        for v in range(w):
            cols[v] += y0[v]
        for d in range(13):
            dc = ndc[d]
            lo, hi = max(0, -dc), w - max(0, dc)
            x0, x1, acc = y0[lo:hi], y[u + ndr[d], lo + dc:hi + dc], colp[d, lo:hi]
            for v in range(hi - lo):
                acc[v] += x0[v] * x1[v]
        u += 1
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
def s_field(kept, inv):
    """``v' inv v / 9`` for the non-overlapping 3x3 blocks ``v`` of ``kept`` (row-major elements).

    Order per block: ``q_k = sum_p inv[k, p] v_p`` (from 0, p ascending), then ``sum_k q_k v_k``
    (from 0, k ascending), ``/ 9``; a row of blocks at a time (its elements gathered into
    ``v[p, j]``, so that the loops run along the row, vectorised; ``q_k`` is formed in a
    register, its 9 terms written out).
    """
    nr, nc = kept.shape[0] // M, kept.shape[1] // M
    out = np.empty((nr, nc))
    v = np.empty((9, nc))
    s = np.empty(nc)
    for i in range(nr):
        for p in range(9):
            row = kept[M * i + p // M]
            vp = v[p]
            for j in range(nc):
                vp[j] = row[M * j + p % M]
        for j in range(nc):
            s[j] = 0.0
        v0, v1, v2, v3, v4, v5, v6, v7, v8 = v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]
        for k in range(9):
            c0, c1, c2, c3, c4 = inv[k, 0], inv[k, 1], inv[k, 2], inv[k, 3], inv[k, 4]
            c5, c6, c7, c8 = inv[k, 5], inv[k, 6], inv[k, 7], inv[k, 8]
            vk = v[k]
            for j in range(nc):                  # q_k in a register, p ascending from 0
                qk = 0.0
                qk += c0 * v0[j]
                qk += c1 * v1[j]
                qk += c2 * v2[j]
                qk += c3 * v3[j]
                qk += c4 * v4[j]
                qk += c5 * v5[j]
                qk += c6 * v6[j]
                qk += c7 * v7[j]
                qk += c8 * v8[j]
                s[j] += qk * vk[j]
        o = out[i]
        for j in range(nc):
            o[j] = s[j] / 9.0
    return out


@kernel
def sum_log2_1p(x, lam):
    """``sum over blocks and j of log2(1 + x lam_j)``, as logs of products of 3 factors.

    Order: for ``j`` in groups of 3 (``lam`` ascending), ``((1 + x lam_j)(1 + x lam_j+1))(1 +
    x lam_j+2)`` per block, its ``log2``; blocks in row-major order summed into the group's
    total, the group totals summed in order.
    """
    total = 0.0
    nl = lam.size
    flat = x.ravel()
    for j in range(0, nl, 3):
        g = 0.0
        for i in range(flat.size):
            prod = flat[i] * lam[j] + 1.0
            for m in range(j + 1, min(j + 3, nl)):
                prod *= flat[i] * lam[m] + 1.0
            g += math.log2(prod)
        total += g
    return total


# --------------------------------------------------------------------------------------------
# Q_ABF: per-pixel edge strength, orientation and preservation (both forms of metrics/qabf.py)
# --------------------------------------------------------------------------------------------

@kernel(inline="always")
def _strength_row(r0, r1, r2, gi, ti, negate_x, sx_zero_pi2, sx_zero):
    """One row of Sobel strengths ``gi`` and orientation ratios ``ti`` (see
    :func:`strength_angle`) from three rows of the zero-padded image."""
    for j in range(gi.shape[0]):
        x = 0.0
        x += -1.0 * r0[j]
        x += r0[j + 2]
        x += -2.0 * r1[j]
        x += 2.0 * r1[j + 2]
        x += -1.0 * r2[j]
        x += r2[j + 2]
        y = 0.0
        y += -1.0 * r0[j]
        y += -2.0 * r0[j + 1]
        y += -1.0 * r0[j + 2]
        y += r2[j]
        y += 2.0 * r2[j + 1]
        y += r2[j + 2]
        if negate_x:
            x = -x
        gi[j] = math.sqrt(x * x + y * y)
        if x == 0:
            ti[j] = math.inf if sx_zero_pi2 else y / sx_zero
        else:
            ti[j] = y / x


@kernel
def _padded(img, scale):
    """``scale * img`` with one row/column of zeros around it."""
    h, w = img.shape
    p = np.zeros((h + 2, w + 2))
    for i in range(h):
        src, dst = img[i], p[i + 1]
        for j in range(w):
            dst[j + 1] = scale * src[j]
    return p


@kernel
def strength_angle(img, scale, negate_x, sx_zero_pi2, sx_zero):
    """Sobel strength ``g = sqrt(sx^2 + sy^2)`` of ``scale * img`` and orientation
    ``alpha = atan(sy / sx)`` (``sx`` negated first when ``negate_x``); where ``sx == 0`` the
    ratio is ``+inf`` (``atan = pi/2`` exactly: ``sx_zero_pi2``) or ``sy / sx_zero``.

    ``sx``, ``sy`` are the correlations with ``[-1 0 1; -2 0 2; -1 0 1]`` and its transpose
    with zero padding, summed from 0 over the nonzero taps in row-major order: the order of
    ``cv2.filter2D``, bit for bit (tested). Each row's ratios go into a buffer, then
    :func:`fusionbench.metrics._vmath.atan_into` (glibc's ``atan`` values: ``np.arctan`` of
    the ratio, bit for bit, vectorised).
    """
    h, w = img.shape
    p = _padded(img, scale)
    g = np.empty((h, w))
    alpha = np.empty((h, w))
    buf = np.empty(w)
    for i in range(h):
        _strength_row(p[i], p[i + 1], p[i + 2], g[i], buf, negate_x, sx_zero_pi2, sx_zero)
        atan_into(buf, alpha[i], w)
    return g, alpha


@kernel
def _qabf_row(ga, aa, gb, ab, gf, af, gf_quirk, eps, folded, joint, mean_map,
              tg, kg, dg, ta, ka, da, arg, ex, term, wsum):
    """One row of Q_ABF's per-pixel maps: ``term[j]`` = ``q / (wA + wB)`` (``mean_map``) or
    ``q``, ``wsum[j]`` = ``wA + wB``, with ``q = Q^{AF} wA + Q^{BF} wB``.

    The operations of the numpy form per pixel in its order (strength ratios and weights as
    ``_ratios``, preservation ``Q^{SF}`` as ``_preservation``). Three vectorised passes: the
    four sigmoid arguments of each pixel into ``arg`` (``[gA | aA | gB | aB]``, 4 w), their
    ``exp`` (:func:`fusionbench.metrics._vmath.exp_into`: glibc's values bit for bit, so every
    map equals the earlier scalar ``math.exp`` kernel's), then ``q``.
    """
    w = gf.shape[0]
    for j in range(w):
        a, b, f = ga[j], gb[j], gf[j]
        # min/max ratios as one division of the selected operands (the same quotients)
        if gf_quirk:          # VIFB: ratio gF where gS == gF, weights the raw strengths
            ra = f if a == f else (f if a > f else a) / (a if a > f else f)
            rb = f if b == f else (f if b > f else b) / (b if b > f else f)
        else:                 # Liu: eps for zero strengths, A against the raw gF
            wa = eps if a == 0 else a
            fp = eps if f == 0 else f
            ra = (f if a > f else wa) / (wa if a > f else fp)
            wb = eps if b == 0 else b
            rb = (fp if b > fp else wb) / (wb if b > fp else fp)
        if folded:
            oa = abs(abs(aa[j] - af[j]) - math.pi / 2) * (2 / math.pi)
            ob = abs(abs(ab[j] - af[j]) - math.pi / 2) * (2 / math.pi)
        else:
            oa = 1.0 - abs(aa[j] - af[j]) / (math.pi / 2)
            ob = 1.0 - abs(ab[j] - af[j]) / (math.pi / 2)
        arg[j] = kg * (ra - dg)
        arg[w + j] = ka * (oa - da)
        arg[2 * w + j] = kg * (rb - dg)
        arg[3 * w + j] = ka * (ob - da)
    exp_into(arg, ex, 4 * w)
    for j in range(w):
        a, b = ga[j], gb[j]
        if gf_quirk:
            wa, wb = a, b
        else:
            wa = eps if a == 0 else a
            wb = eps if b == 0 else b
        if joint:
            pa = (tg * ta) / ((1.0 + ex[j]) * (1.0 + ex[w + j]))
            pb = (tg * ta) / ((1.0 + ex[2 * w + j]) * (1.0 + ex[3 * w + j]))
        else:
            pa = tg / (1.0 + ex[j]) * (ta / (1.0 + ex[w + j]))
            pb = tg / (1.0 + ex[2 * w + j]) * (ta / (1.0 + ex[3 * w + j]))
        q = pa * wa + pb * wb
        term[j] = q / (wa + wb) if mean_map else q
        wsum[j] = wa + wb


@kernel
def qabf_sums(g_a, a_a, g_b, a_b, g_f, a_f, gf_quirk, eps, folded, joint, mean_map,
              tg, kg, dg, ta, ka, da):
    """``(num, den)`` of Q_ABF from the strengths and orientations of A, B and F.

    Per pixel, the numpy form's operations in its order (:func:`_qabf_row`); ``num`` sums
    ``q / (wA + wB)`` (``mean_map``) or ``q`` and ``den`` sums ``wA + wB`` (not ``mean_map``),
    each row left to right into a row total, the row totals top to bottom.
    """
    h, w = g_f.shape
    arg = np.empty(4 * w)
    ex = np.empty(4 * w)
    term = np.empty(w)
    wsum = np.empty(w)
    num = 0.0
    den = 0.0
    for i in range(h):
        _qabf_row(g_a[i], a_a[i], g_b[i], a_b[i], g_f[i], a_f[i], gf_quirk, eps, folded, joint,
                  mean_map, tg, kg, dg, ta, ka, da, arg, ex, term, wsum)
        rn = 0.0
        rd = 0.0
        for j in range(w):
            rn += term[j]
        if not mean_map:
            for j in range(w):
                rd += wsum[j]
        num += rn
        den += rd
    return num, den


# --------------------------------------------------------------------------------------------
# Steerable pyramid: correlation with reflect1 (mirror, edge sample not repeated) edges
# --------------------------------------------------------------------------------------------

@kernel
def _padded_row(im, r, pw, step, dst_even, dst_odd):
    """Row ``r`` (reflected into ``0..h-1``) of ``im`` padded by ``pw`` mirrored samples each
    side; with ``step == 2`` split into its even and odd samples, else all in ``dst_even``."""
    h, w = im.shape
    if r < 0:
        r = -r
    elif r >= h:
        r = 2 * (h - 1) - r
    row = im[r]
    if step == 1:
        for x in range(w):
            dst_even[pw + x] = row[x]
        for x in range(pw):
            dst_even[pw - 1 - x] = row[x + 1]
            dst_even[pw + w + x] = row[w - 2 - x]
        return
    for x in range(w + 2 * pw):
        c = x - pw
        if c < 0:
            c = -c
        elif c >= w:
            c = 2 * (w - 1) - c
        if x % 2 == 0:
            dst_even[x // 2] = row[c]
        else:
            dst_odd[x // 2] = row[c]


@kernel
def _taps4(o, x, v0, v1, v2, v3, c0, c1, c2, c3, init=False):
    """``o[j] = (((o[j] + c0 x[v0+j]) + c1 x[v1+j]) + c2 x[v2+j]) + c3 x[v3+j]``: four taps in
    their order with the sum in a register (one load and store of ``o`` per four taps)."""
    n = o.size
    x0, x1, x2, x3 = x[v0:v0 + n], x[v1:v1 + n], x[v2:v2 + n], x[v3:v3 + n]
    for j in range(n):
        s = 0.0 if init else o[j]
        s += c0 * x0[j]
        s += c1 * x1[j]
        s += c2 * x2[j]
        s += c3 * x3[j]
        o[j] = s


@kernel
def _taps3(o, x, v0, v1, v2, c0, c1, c2):
    """:func:`_taps4` with three taps."""
    n = o.size
    x0, x1, x2 = x[v0:v0 + n], x[v1:v1 + n], x[v2:v2 + n]
    for j in range(n):
        s = o[j]
        s += c0 * x0[j]
        s += c1 * x1[j]
        s += c2 * x2[j]
        o[j] = s


@kernel
def _taps2(o, x, v0, v1, c0, c1):
    """:func:`_taps4` with two taps."""
    n = o.size
    x0, x1 = x[v0:v0 + n], x[v1:v1 + n]
    for j in range(n):
        s = o[j]
        s += c0 * x0[j]
        s += c1 * x1[j]
        o[j] = s


@kernel
def _taps1(o, x, v0, c0):
    """:func:`_taps4` with one tap."""
    n = o.size
    x0 = x[v0:v0 + n]
    for j in range(n):
        o[j] += c0 * x0[j]


@kernel
def _taps5(o, x, vs, cs, init):
    """:func:`_taps4` with the 5 taps ``vs[:5]``, ``cs[:5]`` (a whole filter row per pass;
    ``init``: the sums start from 0.0, not from ``o``)."""
    n = o.size
    c0, c1, c2, c3, c4 = cs[0], cs[1], cs[2], cs[3], cs[4]
    x0, x1, x2 = x[vs[0]:vs[0] + n], x[vs[1]:vs[1] + n], x[vs[2]:vs[2] + n]
    x3, x4 = x[vs[3]:vs[3] + n], x[vs[4]:vs[4] + n]
    for j in range(n):
        s = 0.0 if init else o[j]
        s += c0 * x0[j]
        s += c1 * x1[j]
        s += c2 * x2[j]
        s += c3 * x3[j]
        s += c4 * x4[j]
        o[j] = s


@kernel
def _taps6(o, x, vs, cs, init):
    """:func:`_taps4` with the 6 taps ``vs[:6]``, ``cs[:6]`` (a whole filter row per pass;
    ``init``: the sums start from 0.0, not from ``o``)."""
    n = o.size
    c0, c1, c2, c3, c4, c5 = cs[0], cs[1], cs[2], cs[3], cs[4], cs[5]
    x0, x1, x2 = x[vs[0]:vs[0] + n], x[vs[1]:vs[1] + n], x[vs[2]:vs[2] + n]
    x3, x4, x5 = x[vs[3]:vs[3] + n], x[vs[4]:vs[4] + n], x[vs[5]:vs[5] + n]
    for j in range(n):
        s = 0.0 if init else o[j]
        s += c0 * x0[j]
        s += c1 * x1[j]
        s += c2 * x2[j]
        s += c3 * x3[j]
        s += c4 * x4[j]
        s += c5 * x5[j]
        o[j] = s


@kernel
def _taps7(o, x, vs, cs, init):
    """:func:`_taps4` with the 7 taps ``vs[:7]``, ``cs[:7]`` (a whole filter row per pass;
    ``init``: the sums start from 0.0, not from ``o``)."""
    n = o.size
    c0, c1, c2, c3, c4, c5, c6 = cs[0], cs[1], cs[2], cs[3], cs[4], cs[5], cs[6]
    x0, x1, x2 = x[vs[0]:vs[0] + n], x[vs[1]:vs[1] + n], x[vs[2]:vs[2] + n]
    x3, x4, x5 = x[vs[3]:vs[3] + n], x[vs[4]:vs[4] + n], x[vs[5]:vs[5] + n]
    x6 = x[vs[6]:vs[6] + n]
    for j in range(n):
        s = 0.0 if init else o[j]
        s += c0 * x0[j]
        s += c1 * x1[j]
        s += c2 * x2[j]
        s += c3 * x3[j]
        s += c4 * x4[j]
        s += c5 * x5[j]
        s += c6 * x6[j]
        o[j] = s


@kernel
def _add_taps(o, x, vs, cs, n, init):
    """``o[j] += cs[k] x[vs[k] + j]`` for ``k = 0..n-1`` in that order, each sample's sum a
    chain in tap order exactly as one tap at a time: up to seven taps per pass over ``o`` (a
    whole row of a 7x7 or 5x5 filter), the sum in a register. ``init``: ``o`` is taken as zero
    (the sums start from 0.0; its contents are not read)."""
    k = 0
    if n == 0:
        if init:
            o[:] = 0.0
        return
    while n - k > 7:
        _taps4(o, x, vs[k], vs[k + 1], vs[k + 2], vs[k + 3], cs[k], cs[k + 1], cs[k + 2], cs[k + 3],
               init)
        init = False
        k += 4
    r = n - k
    if r == 7:
        _taps7(o, x, vs[k:], cs[k:], init)
    elif r == 6:
        _taps6(o, x, vs[k:], cs[k:], init)
    elif r == 5:
        _taps5(o, x, vs[k:], cs[k:], init)
    elif r == 4:
        _taps4(o, x, vs[k], vs[k + 1], vs[k + 2], vs[k + 3], cs[k], cs[k + 1], cs[k + 2], cs[k + 3],
               init)
    else:
        if init:
            o[:] = 0.0
        if r == 3:
            _taps3(o, x, vs[k], vs[k + 1], vs[k + 2], cs[k], cs[k + 1], cs[k + 2])
        elif r == 2:
            _taps2(o, x, vs[k], vs[k + 1], cs[k], cs[k + 1])
        else:
            _taps1(o, x, vs[k], cs[k])


@kernel
def _row_taps(filt, u, b, step):
    """The nonzero taps of filter row ``u`` at columns ``b, b+step, ...`` in column order:
    ``(count, sample offsets v // step, coefficients)``."""
    kw = filt.shape[1]
    vs = np.empty(kw, np.int64)
    cs = np.empty(kw)
    n = 0
    for v in range(b, kw, step):
        if filt[u, v] != 0.0:
            vs[n] = v // step
            cs[n] = filt[u, v]
            n += 1
    return n, vs, cs


@kernel
def _tap_table(filt, a, b, step):
    """:func:`_row_taps` of the filter rows ``a, a+step, ...``, as arrays indexed by row."""
    kh, kw = filt.shape
    counts = np.zeros(kh, np.int64)
    offs = np.zeros((kh, kw), np.int64)
    coefs = np.zeros((kh, kw))
    for u in range(a, kh, step):
        n, vs, cs = _row_taps(filt, u, b, step)
        counts[u] = n
        offs[u, :n] = vs[:n]
        coefs[u, :n] = cs[:n]
    return counts, offs, coefs


@kernel
def corr_reflect1_pair(im, f1, f2, h_out, w_out):
    """:func:`corr_reflect1` (step 1) with two filters of one size sharing the padded rows;
    each output's order is exactly the single-filter one (and OpenCV's)."""
    h, w = im.shape
    kh, kw = f1.shape
    ph, pw = kh // 2, kw // 2
    width = w + 2 * pw
    ring = np.empty((kh, width))
    n1, v1, c1 = _tap_table(f1, 0, 0, 1)
    n2, v2, c2 = _tap_table(f2, 0, 0, 1)
    out1 = np.empty((h_out, w_out))
    out2 = np.empty((h_out, w_out))
    loaded = 0
    for i in range(h_out):
        while loaded < i + kh:
            _padded_row(im, loaded - ph, pw, 1, ring[loaded % kh], ring[loaded % kh])
            loaded += 1
        for u in range(kh):                      # (one filter per pass: faster than both in one)
            x = ring[(i + u) % kh]
            _add_taps(out1[i], x, v1[u], c1[u], n1[u], u == 0)
            _add_taps(out2[i], x, v2[u], c2[u], n2[u], u == 0)
    return out1, out2


@kernel
def corr_reflect1(im, filt, step, h_out, w_out):
    """``corrDn(im, filt, 'reflect1', [step step], [1 1])`` (rows ``< h_out``, columns
    ``< w_out`` of it): ``out[i, j] = sum_{u,v} filt[u, v] P[step i + u, step j + v]`` with ``P``
    the image padded by half the filter each side by reflection without repeating the edge.

    Order, that of OpenCV's direct ``filter2D`` (float64) bit for bit (tested): step 1, from 0,
    the nonzero taps in row-major order. Step 2, the polyphase form: for each parity ``(a, b)``
    in ``(0,0), (0,1), (1,0), (1,1)`` a sum from 0 over the nonzero taps ``filt[a::2, b::2]`` in
    row-major order, then ``((s00 + s01) + s10) + s11``. IFC's noise variance is a small
    difference of window sums where fused and source nearly agree, so the order of these sums
    shows in the 7th digit of some IFC values; this one keeps the earlier values. Vectorised
    along each output row, a whole filter row (up to seven taps) per pass (:func:`_add_taps`),
    the first pass of a row starting its sums from 0.0 (no zero-filled image); padded rows are
    built once each, in a ring of ``kh`` rows (no padded image).
    """
    h, w = im.shape
    kh, kw = filt.shape
    ph, pw = kh // 2, kw // 2
    width = (w + 2 * pw + 1) // 2 if step == 2 else w + 2 * pw
    ring_e = np.empty((kh, width))
    ring_o = np.empty((kh, width))
    out = np.empty((h_out, w_out))
    part = np.empty(w_out)
    n0, v0, c0 = _tap_table(filt, 0, 0, step)      # step 1: all taps; step 2: parity (0, 0)
    n1, v1, c1 = _tap_table(filt, 0, 1, 2)         # the other parities (step 2 only)
    n2, v2, c2 = _tap_table(filt, 1, 0, 2)
    n3, v3, c3 = _tap_table(filt, 1, 1, 2)
    loaded = 0                                   # padded rows 0..loaded-1 are in the ring
    for i in range(h_out):
        top = step * i
        while loaded < top + kh:
            _padded_row(im, loaded - ph, pw, step, ring_e[loaded % kh], ring_o[loaded % kh])
            loaded += 1
        o = out[i]
        if step == 1:
            for u in range(kh):
                _add_taps(o, ring_e[(top + u) % kh], v0[u], c0[u], n0[u], u == 0)
            continue
        for u in range(0, kh, 2):                # parity (0, 0) summed in place: o = s00
            _add_taps(o, ring_e[(top + u) % kh], v0[u], c0[u], n0[u], u == 0)
        for par in range(1, 4):                  # (0.0 + s00 would be s00: a sum from +0.0
            a, b = par // 2, par % 2             # is never -0.0), then o += s01, s10, s11
            ns, vs, cs = (n1, v1, c1) if par == 1 else (n2, v2, c2) if par == 2 else (n3, v3, c3)
            for u in range(a, kh, 2):
                src = ring_e[(top + u) % kh] if b == 0 else ring_o[(top + u) % kh]
                _add_taps(part, src, vs[u], cs[u], ns[u], u == a)
            for j in range(w_out):
                o[j] += part[j]
    return out


# --------------------------------------------------------------------------------------------
# Q_Y (metricYang): Gaussian window statistics ('valid') and the per-window SSIM / Q formulas
# --------------------------------------------------------------------------------------------

@kernel
def _g7_rows(a, b, use_b, i, g, col):
    """Column stage of ``filter2(g g', x, 'valid')`` (Q_Y's 7x7 Gaussian window) for output
    row ``i`` into ``col``: ``sum_u g[u] x[i+u, :]`` from 0, ``u`` ascending (``x = a * b``, the
    product of a sample formed first, when ``use_b``, else ``a``). The 7-tap loop is unrolled
    by the compiler, so each sum stays in a register and the loop along the row is
    vectorised."""
    for x in range(a.shape[1]):
        s = 0.0
        for u in range(7):
            s += g[u] * (a[i + u, x] * b[i + u, x]) if use_b else g[u] * a[i + u, x]
        col[x] = s


@kernel
def _g7_rows4(a, b, f, i, g, cf, cff, caf, cbf):
    """:func:`_g7_rows` of ``f``, ``f*f``, ``a*f`` and ``b*f`` for output row ``i`` in one loop
    (four independent sums per sample, each in :func:`_g7_rows`' order)."""
    for x in range(f.shape[1]):
        s = 0.0
        t = 0.0
        p = 0.0
        q = 0.0
        for u in range(7):
            y = f[i + u, x]
            c = g[u]
            s += c * y
            t += c * (y * y)
            p += c * (a[i + u, x] * y)
            q += c * (b[i + u, x] * y)
        cf[x] = s
        cff[x] = t
        caf[x] = p
        cbf[x] = q


@kernel
def _g7_rows5(a, b, i, g, ca, caa, cb, cbb, cab):
    """:func:`_g7_rows` of ``a``, ``a*a``, ``b``, ``b*b`` and ``a*b`` for output row ``i`` in one
    loop (five independent sums per sample, each in :func:`_g7_rows`' order)."""
    for x in range(a.shape[1]):
        s = 0.0
        t = 0.0
        v = 0.0
        y = 0.0
        z = 0.0
        for u in range(7):
            p = a[i + u, x]
            q = b[i + u, x]
            c = g[u]
            s += c * p
            t += c * (p * p)
            v += c * q
            y += c * (q * q)
            z += c * (p * q)
        ca[x] = s
        caa[x] = t
        cb[x] = v
        cbb[x] = y
        cab[x] = z


@kernel
def _g7_cols(col, g, o):
    """Row stage of the filter of :func:`_g7_rows`: ``o[j] = sum_v g[v] col[j+v]`` (from 0,
    ``v`` ascending; unrolled and vectorised likewise)."""
    for j in range(o.size):
        s = 0.0
        for v in range(7):
            s += g[v] * col[j + v]
        o[j] = s


@kernel
def _ssim(sab, mu_a, mu_b, mu2_a, mu2_b, var_a, var_b, flat, c1, c2):
    """One window of ``ssim_yang``: ``(2 mu_a mu_b + C1)(2 cov + C2) / ((mu_a^2 + mu_b^2 + C1)
    (var_a + var_b + C2))``, left to right, ``cov = S_ab - mu_a mu_b`` (0 where flat)."""
    cov = 0.0 if flat else sab - mu_a * mu_b
    num = ((2 * mu_a) * mu_b + c1) * (cov * 2 + c2)
    den = (mu2_a + mu2_b + c1) * (var_a + var_b + c2)
    return num / den


@kernel
def yang_fused(a, b, f, g, integral, flat_in, flat_var, mu_a, mu_b, mu2_a, mu2_b, var_a, var_b,
               flat_a, flat_b, lam, similar, c1, c2):
    """The fused image's part of Q_Y in one sweep over the output rows: the sum of the Q_Y map.

    Per output row, the window sums of ``f``, ``f*f``, ``a*f`` and ``b*f`` (:func:`_g7_rows`'
    and :func:`_g7_cols`' order), ``f``'s variance ``E[f^2] - mu^2`` and flat mask (``var <
    flat_var`` for integer-valued images, else ``flat_in``; ``var`` 0 where flat), then per window
    ``lambda SSIM(A,F) + (1 - lambda) SSIM(B,F)`` where ``similar``, else ``max(SSIM(A,F),
    SSIM(B,F))`` (NaN if either is); each row summed left to right into a row total, the row
    totals top to bottom. Only row buffers are kept (no full-size maps of the fused image).
    """
    h, w = f.shape
    ho, wo = h - 6, w - 6
    cf, cff, caf, cbf = np.empty(w), np.empty(w), np.empty(w), np.empty(w)
    mu = np.empty(wo)
    ex2 = np.empty(wo)
    saf = np.empty(wo)
    sbf = np.empty(wo)
    q = np.empty(wo)
    total = 0.0
    for i in range(ho):
        _g7_rows4(a, b, f, i, g, cf, cff, caf, cbf)
        _g7_cols(cf, g, mu)
        _g7_cols(cff, g, ex2)
        _g7_cols(caf, g, saf)
        _g7_cols(cbf, g, sbf)
        for j in range(wo):
            m = mu[j]
            m2 = m * m
            v = ex2[j] - m2
            ff = v < flat_var if integral else flat_in[i, j]
            vf = 0.0 if ff else v
            fa = _ssim(saf[j], mu_a[i, j], m, mu2_a[i, j], m2, var_a[i, j], vf,
                       flat_a[i, j] or ff, c1, c2)
            fb = _ssim(sbf[j], mu_b[i, j], m, mu2_b[i, j], m2, var_b[i, j], vf,
                       flat_b[i, j] or ff, c1, c2)
            if similar[i, j]:
                l = lam[i, j]
                q[j] = fa * l + fb * (1.0 - l)
            elif fa != fa or fb != fb:
                q[j] = math.nan                  # np.maximum propagates NaN
            else:
                q[j] = fa if fa >= fb else fb
        row = 0.0
        for j in range(wo):
            row += q[j]
        total += row
    return total


@kernel
def yang_source_stats(a, b, g, integral_a, flat_in_a, integral_b, flat_in_b, flat_var, c1, c2,
                      threshold):
    """The two sources' part of Q_Y in one sweep over the output rows: for each source
    ``(mu, mu^2, var, flat)`` as :func:`yang_fused` computes them for the fused image, and
    ``lambda = var_a / (var_a + var_b)`` (0.5 where both windows are flat) and ``similar =
    SSIM(A, B) >= threshold`` (``S_ab`` the window sums of ``a*b``); the tests compare every
    element, bit for bit, with the per-image form (each filter and the variance on its own)."""
    h, w = a.shape
    ho, wo = h - 6, w - 6
    ca, caa, cb, cbb, cab = np.empty(w), np.empty(w), np.empty(w), np.empty(w), np.empty(w)
    mu_a, var_a, mu2_a = np.empty((ho, wo)), np.empty((ho, wo)), np.empty((ho, wo))
    mu_b, var_b, mu2_b = np.empty((ho, wo)), np.empty((ho, wo)), np.empty((ho, wo))
    flat_a, flat_b = np.empty((ho, wo), np.bool_), np.empty((ho, wo), np.bool_)
    lam, similar = np.empty((ho, wo)), np.empty((ho, wo), np.bool_)
    s_ab = np.empty(wo)
    for i in range(ho):
        _g7_rows5(a, b, i, g, ca, caa, cb, cbb, cab)
        _g7_cols(ca, g, mu_a[i])
        _g7_cols(caa, g, var_a[i])
        _g7_cols(cb, g, mu_b[i])
        _g7_cols(cbb, g, var_b[i])
        _g7_cols(cab, g, s_ab)
        for j in range(wo):
            m2 = mu_a[i, j] * mu_a[i, j]
            v = var_a[i, j] - m2
            fa = v < flat_var if integral_a else flat_in_a[i, j]
            flat_a[i, j] = fa
            var_a[i, j] = 0.0 if fa else v
            mu2_a[i, j] = m2
            m2 = mu_b[i, j] * mu_b[i, j]
            v = var_b[i, j] - m2
            fb = v < flat_var if integral_b else flat_in_b[i, j]
            flat_b[i, j] = fb
            var_b[i, j] = 0.0 if fb else v
            mu2_b[i, j] = m2
            sim = _ssim(s_ab[j], mu_a[i, j], mu_b[i, j], mu2_a[i, j], mu2_b[i, j], var_a[i, j],
                        var_b[i, j], fa or fb, c1, c2)
            similar[i, j] = sim >= threshold
            lam[i, j] = 0.5 if (fa and fb) else var_a[i, j] / (var_a[i, j] + var_b[i, j])
    return mu_a, mu2_a, var_a, flat_a, mu_b, mu2_b, var_b, flat_b, lam, similar
