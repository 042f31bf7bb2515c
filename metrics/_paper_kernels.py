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

M = 3   # IFC's GSM block side


# --------------------------------------------------------------------------------------------
# IFC: box-window sums at the kept block centres (distsub_est_m's corrDn stride 3)
# --------------------------------------------------------------------------------------------

@kernel
def box_interior(a, b, use_b, win, off):
    """``win x win`` window sums of ``a`` (of ``a * b`` when ``use_b``) centred on the middle
    sample ``(3i+1, 3j+1)`` of every block kept by ``ifcvec`` (all but ``off`` a side).

    Order: for a block row, first each column's sum over the window's rows, top to bottom (one
    product ``a*b`` per sample, formed as it is added), then the window's columns left to
    right. A result depends only on the samples in its window, in the same order for every
    window, so where two subbands agree over a window their sums agree bit for bit.
    """
    half = (win - 1) // 2
    nbr, nbc = a.shape[0] // M, a.shape[1] // M
    kr, kc = nbr - 2 * off, nbc - 2 * off
    out = np.empty((kr, kc))
    c0 = M * off + 1 - half                      # first column any kept window covers
    ncol = M * (kc - 1) + win
    col = np.empty(ncol)
    for i in range(kr):
        r0 = M * (off + i) + 1 - half
        for x in range(ncol):
            col[x] = 0.0
        for t in range(win):
            ar = a[r0 + t, c0:c0 + ncol]
            if use_b:
                br = b[r0 + t, c0:c0 + ncol]
                for x in range(ncol):
                    col[x] += ar[x] * br[x]
            else:
                for x in range(ncol):
                    col[x] += ar[x]
        o = out[i]
        for j in range(kc):
            o[j] = 0.0
        for t in range(win):
            for j in range(kc):
                o[j] += col[M * j + t]
    return out


@kernel
def window_stats(y, win, off, tol):
    """One subband's box-window terms at the kept block centres: ``m = S1/n``, ``nm = n m``,
    ``ss = max(S2 - nm m, 0)``, ``ss + tol`` and ``ss < tol`` (``S1``, ``S2``: window sums of
    ``y`` and ``y*y`` by :func:`box_interior`, ``n = win^2``), in that order per block."""
    s1 = box_interior(y, y, False, win, off)
    s2 = box_interior(y, y, True, win, off)
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
def _log2_1p_groups(x, lam, acc):
    """Add ``log2`` of the products of 3 factors ``(1 + x lam_j)`` of one block to ``acc[j // 3]``
    (:func:`sum_log2_1p`'s order within a block)."""
    nl = lam.size
    for j in range(0, nl, 3):
        prod = x * lam[j] + 1.0
        for m in range(j + 1, min(j + 3, nl)):
            prod *= x * lam[m] + 1.0
        acc[j // 3] += math.log2(prod)


@kernel
def channel_log_sums(xs, ys, win, off, x_nm, x_ss_tol, x_low, y_m, y_ss, y_low, ss, lam,
                     want_ifc, want_vif, ifc_eps, vif_nsq, tol):
    """``distsub_est_m`` on one subband pair and the sums over its kept blocks of IFC's and VIF's
    ``log2(1 + g^2 s lam_j / (vv + c))``: ``(ifc_sum, vif_num)``.

    Per block, the numpy form's operations in order: ``cov = S_xy - nm_x m_y`` (``S_xy`` by
    :func:`box_interior`), ``g = cov / (ss_x + tol)``, ``vv = (ss_y - g cov) / n``; no reference
    signal: ``g = 0, vv = ss_y``; no distorted signal: ``g = 0, vv = 0``; ``g < 0``: ``vv = ss_y,
    g = 0``; ``vv <= tol``: ``vv = tol``; ``g^2 s`` as ``(g g) s``. Log sums as
    :func:`sum_log2_1p`: per group of 3 eigenvalues over the blocks in row-major order, the
    group totals summed in order.
    """
    sxy = box_interior(xs, ys, True, win, off)
    n = float(win * win)
    kr, kc = sxy.shape
    ng = (lam.size + 2) // 3
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
                _log2_1p_groups(gss / (vv + ifc_eps), lam, acc_i)
            if want_vif:
                _log2_1p_groups(gss / (vv + vif_nsq), lam, acc_v)
    ifc_sum = 0.0
    vif_num = 0.0
    for t in range(ng):
        ifc_sum += acc_i[t]
        vif_num += acc_v[t]
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
    (top to bottom, vectorisable along the row), then per pair the columns of its range left
    to right, each column's sum plus its one or two edge-row products (rows ``r_p..1`` before,
    ``h-2..`` after, in that order).
    """
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
def s_field(kept, inv):
    """``v' inv v / 9`` for the non-overlapping 3x3 blocks ``v`` of ``kept`` (row-major elements).

    Order per block: ``q_k = sum_p inv[k, p] v_p`` (from 0, p ascending), then ``sum_k q_k v_k``
    (from 0, k ascending), ``/ 9``; a row of blocks at a time (its elements gathered into
    ``v[p, j]``, so that the loops run along the row, vectorised).
    """
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

@kernel
def strength_angle(img, scale, negate_x, sx_zero_pi2, sx_zero):
    """Sobel strength ``g = sqrt(sx^2 + sy^2)`` and orientation ``alpha = atan(sy / sx)`` of
    ``scale * img``, ``sx`` negated first when ``negate_x``; where ``sx == 0``: ``alpha = pi/2``
    (``sx_zero_pi2``) or ``atan(sy / sx_zero)``.

    ``sx``, ``sy`` are the correlations with ``[-1 0 1; -2 0 2; -1 0 1]`` and its transpose
    with zero padding, summed from 0 over the nonzero taps in row-major order: the order of
    ``cv2.filter2D``, bit for bit (tested), so the results equal the numpy/OpenCV form's.
    """
    h, w = img.shape
    p = np.zeros((h + 2, w + 2))
    for i in range(h):
        for j in range(w):
            p[i + 1, j + 1] = scale * img[i, j]
    g = np.empty((h, w))
    alpha = np.empty((h, w))
    for i in range(h):
        r0, r1, r2 = p[i], p[i + 1], p[i + 2]
        for j in range(w):
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
            g[i, j] = math.sqrt(x * x + y * y)
            if x == 0:
                alpha[i, j] = math.pi / 2 if sx_zero_pi2 else math.atan(y / sx_zero)
            else:
                alpha[i, j] = math.atan(y / x)
    return g, alpha


@kernel
def _preserve(r, a_s, a_f, folded, joint, tg, kg, dg, ta, ka, da):
    """Edge preservation ``Q^{SF}`` of one pixel (see ``metrics/qabf.py``, ``_preservation``)."""
    if folded:
        o = abs(abs(a_s - a_f) - math.pi / 2) * (2 / math.pi)
    else:
        o = 1.0 - abs(a_s - a_f) / (math.pi / 2)
    if joint:
        return (tg * ta) / ((1.0 + math.exp(kg * (r - dg))) * (1.0 + math.exp(ka * (o - da))))
    return tg / (1.0 + math.exp(kg * (r - dg))) * (ta / (1.0 + math.exp(ka * (o - da))))


@kernel
def qabf_sums(g_a, a_a, g_b, a_b, g_f, a_f, gf_quirk, eps, folded, joint, mean_map,
              tg, kg, dg, ta, ka, da):
    """``(num, den)`` of Q_ABF from the strengths and orientations of A, B and F.

    Per pixel, the numpy form's operations in its order (strength ratios and weights as
    ``_ratios``, preservation as ``_preservation``); ``num`` sums ``q / (wA + wB)``
    (``mean_map``) or ``q`` and ``den`` sums ``wA + wB``, each row left to right into a row
    total, the row totals top to bottom.
    """
    h, w = g_f.shape
    num = 0.0
    den = 0.0
    for i in range(h):
        rn = 0.0
        rd = 0.0
        for j in range(w):
            ga, gb, gf = g_a[i, j], g_b[i, j], g_f[i, j]
            if gf_quirk:          # VIFB: ratio gF where gS == gF, weights the raw strengths
                ra = gf / ga if ga > gf else (gf if ga == gf else ga / gf)
                rb = gf / gb if gb > gf else (gf if gb == gf else gb / gf)
                wa, wb = ga, gb
            else:                 # Liu: eps for zero strengths, A against the raw gF
                wa = eps if ga == 0 else ga
                gfp = eps if gf == 0 else gf
                ra = gf / wa if ga > gf else wa / gfp
                wb = eps if gb == 0 else gb
                rb = gfp / wb if gb > gfp else wb / gfp
            q = (_preserve(ra, a_a[i, j], a_f[i, j], folded, joint, tg, kg, dg, ta, ka, da) * wa
                 + _preserve(rb, a_b[i, j], a_f[i, j], folded, joint, tg, kg, dg, ta, ka, da) * wb)
            if mean_map:
                rn += q / (wa + wb)
            else:
                rn += q
                rd += wa + wb
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
def _mirror_sign(filt, axis):
    """``s`` with ``filt`` mirrored along ``axis`` equal to ``s * filt`` exactly (+1 or -1), else 0."""
    kh, kw = filt.shape
    for s in (1.0, -1.0):
        ok = True
        for u in range(kh):
            for v in range(kw):
                m = filt[kh - 1 - u, v] if axis == 0 else filt[u, kw - 1 - v]
                if m != s * filt[u, v]:
                    ok = False
        if ok:
            return s
    return 0.0


@kernel
def corr7_folded(im, filt, sr, sc, h_out, w_out):
    """:func:`corr_reflect1` (step 1) for a 7x7 filter with mirror signs ``sr``, ``sc`` (+-1), its
    16 folded terms written out: ``R_u = P_u + sr P_(6-u)`` (``u < 3``), ``R_3 = P_3``, then from
    0, ``u`` then ``v`` ascending, ``f[u, v] (R_u[j+v] + sc R_u[j+6-v])`` (``v < 3``) and
    ``f[u, 3] R_u[j+3]`` (zero coefficients of an odd filter add +-0, which changes no value).
    """
    h, w = im.shape
    width = w + 6
    ring = np.empty((7, width))
    rows = np.empty((4, width))
    out = np.empty((h_out, w_out))
    f = filt
    loaded = 0
    for i in range(h_out):
        while loaded < i + 7:
            _padded_row(im, loaded - 3, 3, 1, ring[loaded % 7], ring[loaded % 7])
            loaded += 1
        for u in range(3):
            a, b = ring[(i + u) % 7], ring[(i + 6 - u) % 7]
            r = rows[u]
            for x in range(width):
                r[x] = a[x] + sr * b[x]
        c3 = ring[(i + 3) % 7]
        r3 = rows[3]
        for x in range(width):
            r3[x] = c3[x]
        r0, r1, r2 = rows[0], rows[1], rows[2]
        o = out[i]
        for j in range(w_out):
            s = 0.0
            s += f[0, 0] * (r0[j] + sc * r0[j + 6])
            s += f[0, 1] * (r0[j + 1] + sc * r0[j + 5])
            s += f[0, 2] * (r0[j + 2] + sc * r0[j + 4])
            s += f[0, 3] * r0[j + 3]
            s += f[1, 0] * (r1[j] + sc * r1[j + 6])
            s += f[1, 1] * (r1[j + 1] + sc * r1[j + 5])
            s += f[1, 2] * (r1[j + 2] + sc * r1[j + 4])
            s += f[1, 3] * r1[j + 3]
            s += f[2, 0] * (r2[j] + sc * r2[j + 6])
            s += f[2, 1] * (r2[j + 1] + sc * r2[j + 5])
            s += f[2, 2] * (r2[j + 2] + sc * r2[j + 4])
            s += f[2, 3] * r2[j + 3]
            s += f[3, 0] * (r3[j] + sc * r3[j + 6])
            s += f[3, 1] * (r3[j + 1] + sc * r3[j + 5])
            s += f[3, 2] * (r3[j + 2] + sc * r3[j + 4])
            s += f[3, 3] * r3[j + 3]
            o[j] = s
    return out


@kernel
def corr5_even(im, filt, h_out, w_out):
    """:func:`corr_reflect1` (step 1) for a 5x5 filter even under both mirrorings (sp5's
    ``lo0filt``), the generic folded order written out: ``R_u = P_u + P_(4-u)`` (``u < 2``),
    ``R_2 = P_2``, then from 0, ``u`` then ``v`` ascending, ``f[u, v] (R_u[j+v] + R_u[j+4-v])``
    (``v < 2``) and ``f[u, 2] R_u[j+2]``."""
    h, w = im.shape
    width = w + 4
    ring = np.empty((5, width))
    rows = np.empty((3, width))
    out = np.empty((h_out, w_out))
    f = filt
    loaded = 0
    for i in range(h_out):
        while loaded < i + 5:
            _padded_row(im, loaded - 2, 2, 1, ring[loaded % 5], ring[loaded % 5])
            loaded += 1
        for u in range(2):
            a, b, r = ring[(i + u) % 5], ring[(i + 4 - u) % 5], rows[u]
            for x in range(width):
                r[x] = a[x] + 1.0 * b[x]
        c2, r2 = ring[(i + 2) % 5], rows[2]
        for x in range(width):
            r2[x] = c2[x]
        r0, r1 = rows[0], rows[1]
        o = out[i]
        for j in range(w_out):
            s = 0.0
            s += f[0, 0] * (r0[j + 0] + r0[j + 4])
            s += f[0, 1] * (r0[j + 1] + r0[j + 3])
            s += f[0, 2] * r0[j + 2]
            s += f[1, 0] * (r1[j + 0] + r1[j + 4])
            s += f[1, 1] * (r1[j + 1] + r1[j + 3])
            s += f[1, 2] * r1[j + 2]
            s += f[2, 0] * (r2[j + 0] + r2[j + 4])
            s += f[2, 1] * (r2[j + 1] + r2[j + 3])
            s += f[2, 2] * r2[j + 2]
            o[j] = s
    return out


@kernel
def corr9_even_down2(im, filt, h_out, w_out):
    """:func:`corr_reflect1` with step 2 for a 9x9 filter even under both mirrorings (sp5's
    ``lofilt``), the generic folded order written out on the even (``e``) and odd (``o``)
    samples of the padded rows: ``R_u = P_u + P_(8-u)`` (``u < 4``), ``R_4 = P_4``, then from 0,
    ``u`` then ``v`` ascending, ``f[u, v] (R_u[2j+v] + R_u[2j+8-v])`` (``v < 4``), ``f[u, 4]
    R_u[2j+4]``."""
    h, w = im.shape
    width = (w + 9) // 2
    ring_e = np.empty((9, width))
    ring_o = np.empty((9, width))
    rows_e = np.empty((5, width))
    rows_o = np.empty((5, width))
    out = np.empty((h_out, w_out))
    f = filt
    loaded = 0
    for i in range(h_out):
        while loaded < 2 * i + 9:
            _padded_row(im, loaded - 4, 4, 2, ring_e[loaded % 9], ring_o[loaded % 9])
            loaded += 1
        for u in range(5):
            ta, tb = (2 * i + u) % 9, (2 * i + 8 - u) % 9
            re_, ro_ = rows_e[u], rows_o[u]
            if u < 4:
                for x in range(width):
                    re_[x] = ring_e[ta, x] + 1.0 * ring_e[tb, x]
                    ro_[x] = ring_o[ta, x] + 1.0 * ring_o[tb, x]
            else:
                for x in range(width):
                    re_[x] = ring_e[ta, x]
                    ro_[x] = ring_o[ta, x]
        e0, e1, e2, e3, e4 = rows_e[0], rows_e[1], rows_e[2], rows_e[3], rows_e[4]
        o0, o1, o2, o3, o4 = rows_o[0], rows_o[1], rows_o[2], rows_o[3], rows_o[4]
        res = out[i]
        for j in range(w_out):
            s = 0.0
            s += f[0, 0] * (e0[j + 0] + e0[j + 4])
            s += f[0, 1] * (o0[j + 0] + o0[j + 3])
            s += f[0, 2] * (e0[j + 1] + e0[j + 3])
            s += f[0, 3] * (o0[j + 1] + o0[j + 2])
            s += f[0, 4] * e0[j + 2]
            s += f[1, 0] * (e1[j + 0] + e1[j + 4])
            s += f[1, 1] * (o1[j + 0] + o1[j + 3])
            s += f[1, 2] * (e1[j + 1] + e1[j + 3])
            s += f[1, 3] * (o1[j + 1] + o1[j + 2])
            s += f[1, 4] * e1[j + 2]
            s += f[2, 0] * (e2[j + 0] + e2[j + 4])
            s += f[2, 1] * (o2[j + 0] + o2[j + 3])
            s += f[2, 2] * (e2[j + 1] + e2[j + 3])
            s += f[2, 3] * (o2[j + 1] + o2[j + 2])
            s += f[2, 4] * e2[j + 2]
            s += f[3, 0] * (e3[j + 0] + e3[j + 4])
            s += f[3, 1] * (o3[j + 0] + o3[j + 3])
            s += f[3, 2] * (e3[j + 1] + e3[j + 3])
            s += f[3, 3] * (o3[j + 1] + o3[j + 2])
            s += f[3, 4] * e3[j + 2]
            s += f[4, 0] * (e4[j + 0] + e4[j + 4])
            s += f[4, 1] * (o4[j + 0] + o4[j + 3])
            s += f[4, 2] * (e4[j + 1] + e4[j + 3])
            s += f[4, 3] * (o4[j + 1] + o4[j + 2])
            s += f[4, 4] * e4[j + 2]
            res[j] = s
    return out


@kernel
def corr_reflect1(im, filt, step, h_out, w_out):
    """``corrDn(im, filt, 'reflect1', [step step], [1 1])`` (rows ``< h_out``, columns
    ``< w_out`` of it): ``out[i, j] = sum_{u,v} filt[u, v] P[step i + u, step j + v]`` with ``P``
    the image padded by half the filter each side by reflection without repeating the edge.

    A filter that is even or odd under both mirrorings (``s_r``, ``s_c`` = +-1: the sp5 low-pass
    filters and the bands used by IFC) is folded: per output row, rows ``u`` and ``kh-1-u`` are
    combined first (``R_u = P_u + s_r P_(kh-1-u)``, ``u <= kh//2``), then the sum runs from 0
    over ``u`` and ``v <= kw//2`` in row-major order of ``f[u, v] (R_u[j+v] + s_c R_u[j+kw-1-v])``
    (the centre row / column alone, without a partner; the same order written out for the
    sp5 sizes: :func:`corr7_folded`, :func:`corr5_even`, :func:`corr9_even_down2`). Other filters: from 0, every nonzero
    tap in row-major order. A tap-by-tap sweep along each output row (vectorised along the
    row); each output depends only on the samples under the filter, in the same order for every
    output. Padded rows are built once each, in a ring of ``kh`` rows (no padded image).
    """
    h, w = im.shape
    kh, kw = filt.shape
    ph, pw = kh // 2, kw // 2
    sr, sc = _mirror_sign(filt, 0), _mirror_sign(filt, 1)
    folded = sr != 0.0 and sc != 0.0
    if folded and step == 1 and kh == 7 and kw == 7:            # the same sums, written out
        return corr7_folded(im, filt, sr, sc, h_out, w_out)
    if sr == 1.0 and sc == 1.0 and step == 1 and kh == 5 and kw == 5:
        return corr5_even(im, filt, h_out, w_out)
    if sr == 1.0 and sc == 1.0 and step == 2 and kh == 9 and kw == 9:
        return corr9_even_down2(im, filt, h_out, w_out)
    width = (w + 2 * pw + 1) // 2 if step == 2 else w + 2 * pw
    ring_e = np.empty((kh, width))
    ring_o = np.empty((kh, width))
    r_e = np.empty(width)
    r_o = np.empty(width)
    out = np.zeros((h_out, w_out))
    loaded = 0                                   # padded rows 0..loaded-1 are in the ring
    for i in range(h_out):
        top = step * i
        while loaded < top + kh:
            _padded_row(im, loaded - ph, pw, step, ring_e[loaded % kh], ring_o[loaded % kh])
            loaded += 1
        o = out[i]
        if not folded:
            for u in range(kh):
                slot = (top + u) % kh
                for v in range(kw):
                    c = filt[u, v]
                    if c != 0.0:
                        if step == 1:
                            seg = ring_e[slot, v:v + w_out]
                        elif v % 2 == 0:
                            seg = ring_e[slot, v // 2:v // 2 + w_out]
                        else:
                            seg = ring_o[slot, v // 2:v // 2 + w_out]
                        for j in range(w_out):
                            o[j] += c * seg[j]
            continue
        for u in range(ph + 1):
            a, b = (top + u) % kh, (top + kh - 1 - u) % kh
            if u < ph:
                for x in range(width):
                    r_e[x] = ring_e[a, x] + sr * ring_e[b, x]
                if step == 2:
                    for x in range(width):
                        r_o[x] = ring_o[a, x] + sr * ring_o[b, x]
            elif sr < 0.0:
                continue                         # odd filter: zero centre row
            else:
                for x in range(width):
                    r_e[x] = ring_e[a, x]
                if step == 2:
                    for x in range(width):
                        r_o[x] = ring_o[a, x]
            for v in range(pw + 1):
                c = filt[u, v]
                if c == 0.0:
                    continue
                v2 = kw - 1 - v
                if step == 1:
                    s1, s2 = r_e[v:v + w_out], r_e[v2:v2 + w_out]
                elif v % 2 == 0:
                    s1, s2 = r_e[v // 2:v // 2 + w_out], r_e[v2 // 2:v2 // 2 + w_out]
                else:
                    s1, s2 = r_o[v // 2:v // 2 + w_out], r_o[v2 // 2:v2 // 2 + w_out]
                if v < pw:
                    for j in range(w_out):
                        o[j] += c * (s1[j] + sc * s2[j])
                else:
                    for j in range(w_out):
                        o[j] += c * s1[j]
    return out


# --------------------------------------------------------------------------------------------
# Q_Y (metricYang): Gaussian window statistics ('valid') and the per-window SSIM / Q formulas
# --------------------------------------------------------------------------------------------

@kernel
def gauss7_valid(a, b, use_b, g):
    """``filter2(g g', a, 'valid')`` (of ``a * b`` when ``use_b``) for a 7-tap 1-D window ``g``.

    Order: per output row, the columns' sums ``sum_u g[u] x[i+u, :]`` (from 0, ``u``
    ascending, the product ``a*b`` of a sample formed first), then ``sum_v g[v] col[j+v]``
    (from 0, ``v`` ascending); the taps are written out so that each sum stays in a register
    and the loops along the row are vectorised.
    """
    h, w = a.shape
    ho, wo = h - 6, w - 6
    g0, g1, g2, g3, g4, g5, g6 = g[0], g[1], g[2], g[3], g[4], g[5], g[6]
    out = np.empty((ho, wo))
    col = np.empty(w)
    for i in range(ho):
        a0, a1, a2, a3, a4, a5, a6 = a[i], a[i + 1], a[i + 2], a[i + 3], a[i + 4], a[i + 5], a[i + 6]
        if use_b:
            b0, b1, b2, b3, b4, b5, b6 = b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6]
            for x in range(w):
                s = 0.0
                s += g0 * (a0[x] * b0[x])
                s += g1 * (a1[x] * b1[x])
                s += g2 * (a2[x] * b2[x])
                s += g3 * (a3[x] * b3[x])
                s += g4 * (a4[x] * b4[x])
                s += g5 * (a5[x] * b5[x])
                s += g6 * (a6[x] * b6[x])
                col[x] = s
        else:
            for x in range(w):
                s = 0.0
                s += g0 * a0[x]
                s += g1 * a1[x]
                s += g2 * a2[x]
                s += g3 * a3[x]
                s += g4 * a4[x]
                s += g5 * a5[x]
                s += g6 * a6[x]
                col[x] = s
        o = out[i]
        for j in range(wo):
            s = 0.0
            s += g0 * col[j]
            s += g1 * col[j + 1]
            s += g2 * col[j + 2]
            s += g3 * col[j + 3]
            s += g4 * col[j + 4]
            s += g5 * col[j + 5]
            s += g6 * col[j + 6]
            o[j] = s
    return out


@kernel
def yang_stats(mu, ex2, integral, flat_in, flat_var):
    """One image's window terms, in place: ``var = E[x^2] - mu^2`` into ``ex2``, zeroed where
    flat; returns the flat mask (``var < flat_var`` for integer-valued images, else
    ``flat_in``) and ``mu^2``."""
    ho, wo = mu.shape
    flat = np.empty((ho, wo), np.bool_)
    mu2 = np.empty((ho, wo))
    for i in range(ho):
        for j in range(wo):
            m2 = mu[i, j] * mu[i, j]
            v = ex2[i, j] - m2
            f = v < flat_var if integral else flat_in[i, j]
            flat[i, j] = f
            ex2[i, j] = 0.0 if f else v
            mu2[i, j] = m2
    return flat, mu2


@kernel
def _ssim(sab, mu_a, mu_b, mu2_a, mu2_b, var_a, var_b, flat, c1, c2):
    """One window of ``ssim_yang``: ``(2 mu_a mu_b + C1)(2 cov + C2) / ((mu_a^2 + mu_b^2 + C1)
    (var_a + var_b + C2))``, left to right, ``cov = S_ab - mu_a mu_b`` (0 where flat)."""
    cov = 0.0 if flat else sab - mu_a * mu_b
    num = ((2 * mu_a) * mu_b + c1) * (cov * 2 + c2)
    den = (mu2_a + mu2_b + c1) * (var_a + var_b + c2)
    return num / den


@kernel
def yang_sources(s_ab, mu_a, mu_b, mu2_a, mu2_b, var_a, var_b, flat_a, flat_b, c1, c2, threshold):
    """``lambda`` (0.5 where both windows are flat) and the mask ``SSIM(A, B) >= threshold``."""
    ho, wo = mu_a.shape
    lam = np.empty((ho, wo))
    similar = np.empty((ho, wo), np.bool_)
    for i in range(ho):
        for j in range(wo):
            s = _ssim(s_ab[i, j], mu_a[i, j], mu_b[i, j], mu2_a[i, j], mu2_b[i, j], var_a[i, j],
                      var_b[i, j], flat_a[i, j] or flat_b[i, j], c1, c2)
            similar[i, j] = s >= threshold
            both = flat_a[i, j] and flat_b[i, j]
            lam[i, j] = 0.5 if both else var_a[i, j] / (var_a[i, j] + var_b[i, j])
    return lam, similar


@kernel
def yang_sum(s_af, s_bf, mu_a, mu_b, mu_f, mu2_a, mu2_b, mu2_f, var_a, var_b, var_f,
             flat_a, flat_b, flat_f, lam, similar, c1, c2):
    """Sum of the Q_Y map: ``lambda SSIM(A,F) + (1 - lambda) SSIM(B,F)`` where ``similar``, else
    ``max(SSIM(A,F), SSIM(B,F))``; each row left to right into a row total, rows top to bottom."""
    ho, wo = mu_f.shape
    total = 0.0
    for i in range(ho):
        row = 0.0
        for j in range(wo):
            fa = _ssim(s_af[i, j], mu_a[i, j], mu_f[i, j], mu2_a[i, j], mu2_f[i, j], var_a[i, j],
                       var_f[i, j], flat_a[i, j] or flat_f[i, j], c1, c2)
            fb = _ssim(s_bf[i, j], mu_b[i, j], mu_f[i, j], mu2_b[i, j], mu2_f[i, j], var_b[i, j],
                       var_f[i, j], flat_b[i, j] or flat_f[i, j], c1, c2)
            if similar[i, j]:
                l = lam[i, j]
                row += fa * l + fb * (1.0 - l)
            elif fa != fa or fb != fb:
                row += math.nan                  # np.maximum propagates NaN
            else:
                row += fa if fa >= fb else fb
        total += row
    return total
