"""Information-theoretic metrics: mutual information (MI), cross entropy (CE), feature mutual
information (FMI).

Cores take float64 gray images on the 0..255 scale (integer grey levels for MI and CE). The
VIFB-compatible ``vifb:mi`` and ``vifb:ce`` (:mod:`fusionbench.metrics.vifb`) use
:func:`mutinf_vifb` and :func:`cross_entropy`.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fusionbench.imageio import check_images
from fusionbench.metrics._parts import per_source
from fusionbench.registry import register_metric


def _levels(x: np.ndarray) -> np.ndarray:
    """Integer grey levels 0..255 (round half up; identity on 8-bit data)."""
    return np.clip(np.floor(np.asarray(x, np.float64) + 0.5), 0, 255).astype(np.int64)


from fusionbench.metrics._matlab import entropy_of as _entropy_of  # noqa: E402


def _mi_from_levels(a: np.ndarray, b: np.ndarray, log) -> float:
    """``H(a) + H(b) - H(a,b)`` from a 256x256 joint histogram of integer levels 0..255."""
    joint = np.bincount((a.ravel() * 256 + b.ravel()), minlength=256 * 256).astype(np.float64)
    joint /= joint.sum()
    pj = joint.reshape(256, 256)
    return _entropy_of(pj.sum(axis=1), log) + _entropy_of(pj.sum(axis=0), log) - _entropy_of(joint, log)


def mutual_information(x: np.ndarray, f: np.ndarray, log=np.log2, merge_top: bool = False) -> float:
    """MI(X;F) from the 256x256 joint histogram of the integer grey levels (bits by default).

    ``merge_top=True`` reproduces Tang's ``Hab``: its ``grey_matrix+1`` on uint8 saturates, so
    levels 254 and 255 share one joint-histogram bin, while the marginal entropies (MATLAB
    ``entropy``) keep them apart: ``MI = H(X) + H(F) - H_merged(X,F)``.
    """
    lx, lf = _levels(x), _levels(f)
    if not merge_top:
        return _mi_from_levels(lx, lf, log)
    hx = _entropy_of(np.bincount(lx.ravel(), minlength=256) / lx.size, log)
    hf = _entropy_of(np.bincount(lf.ravel(), minlength=256) / lf.size, log)
    joint = np.bincount(np.minimum(lx, 254).ravel() * 256 + np.minimum(lf, 254).ravel(), minlength=256 * 256)
    return hx + hf - _entropy_of(joint / lx.size, log)


def mutinf_vifb(a: np.ndarray, b: np.ndarray) -> float:
    """VIFB's ``mutinf(a, b)`` (inside ``metricsMutinf``): MI in **nats** after a min-max stretch.

    Each image is stretched to 0..1 (all zeros when constant), scaled by 255 and rounded half
    away from zero (MATLAB ``int16``) to 256 levels; MI from the 256x256 joint histogram with
    the natural logarithm.
    """
    def stretch(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        lo, hi = x.min(), x.max()
        y = (x - lo) / (hi - lo) if hi != lo else np.zeros_like(x)
        return np.floor(y * 255 + 0.5).astype(np.int64)

    return _mi_from_levels(stretch(a), stretch(b), np.log)


def cross_entropy(x: np.ndarray, f: np.ndarray) -> float:
    """Relative entropy ``sum_k p_X(k) log2(p_X(k) / p_F(k))`` of the grey-level histograms, in bits.

    As VIFB's ``cross_entropy`` (and Bulanon et al. 2009): 256-bin histograms of the integer
    levels; grey levels missing from either image are skipped (so the value stays finite
    where the fused image lacks a level the source has).
    """
    px = np.bincount(_levels(x).ravel(), minlength=256) / x.size
    pf = np.bincount(_levels(f).ravel(), minlength=256) / f.size
    m = (px != 0) & (pf != 0)
    return float(np.sum(px[m] * np.log2(px[m] / pf[m])))


# -- FMI (Haghighat et al.; Fast-FMI) ---------------------------------------------------------

def _window_vectors(x: np.ndarray, w: int) -> np.ndarray:
    """All w x w windows as rows, elements in MATLAB column-major order (``sub(:)``)."""
    v = sliding_window_view(x, (w, w))              # (M-w+1, N-w+1, w, w) [row, col]
    return np.ascontiguousarray(v.swapaxes(-1, -2)).reshape(-1, w * w)


def _normalised(sub: np.ndarray, axis: int = 1) -> np.ndarray:
    """Each window min-max normalised to 0..1 (all ones where constant), as ``fmi.m`` does in place."""
    lo = sub.min(axis=axis, keepdims=True)
    hi = sub.max(axis=axis, keepdims=True)
    flat = hi == lo
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(flat, 1.0, (sub - lo) / np.where(flat, 1.0, hi - lo))


def _normalised_pdf(sub: np.ndarray) -> np.ndarray:
    y = _normalised(sub)
    return y / y.sum(axis=1, keepdims=True)


def _flat_pair_value(l: int) -> float:
    """``fmi.m``'s value for a pair of constant (but unequal) windows of ``l`` elements.

    Both pdfs are ``1/l`` everywhere. MATLAB/Octave's ``mean`` sums the ``l`` copies in order;
    for l = 9 that gives ``1/9 + 2^-55`` (not ``1/9``), so the centred pdfs are a constant
    ``-2^-55`` instead of 0, their correlation is exactly 1, Nelsen's mixture is the upper
    Frechet bound and the window scores 1 (Octave: 1 + 6e-15). Where the in-order mean is
    exact the correlation is 0 and the window scores 0.
    """
    p, acc = 1.0 / l, 0.0
    for _ in range(l):
        acc += p
    return 0.0 if acc / l == p else 1.0


def _second_source_equal(x: np.ndarray, f: np.ndarray, first_equal: np.ndarray, axis: int) -> np.ndarray:
    """``fmi.m``'s ``bSub == fSub`` test for the second source: where the first source's window
    differed from F's, the original had already min-max normalised ``fSub`` in place, so B's
    raw window is compared with F's normalised one."""
    fcmp = np.where(np.expand_dims(first_equal, axis), f, _normalised(f, axis))
    return np.all(x == fcmp, axis=axis)


def _neg_plogp_sum(p: np.ndarray) -> np.ndarray:
    """Row sums of ``real(-p log2 p)`` (0 where p == 0; for negative p, ``-p log2 |p|``)."""
    ap = np.abs(p)
    lg = np.zeros_like(ap)
    np.log2(ap, out=lg, where=ap > 0)
    return -np.einsum("ij,ij->i", p, lg)


def _window_stats(xs: np.ndarray) -> tuple[np.ndarray, ...]:
    """pdf, cdf, centred pdf, population SD of the bin index, entropy (bits) of each window row."""
    l = xs.shape[1]
    xp = _normalised_pdf(xs)
    i = np.arange(1, l + 1, dtype=np.float64)
    sd = np.sqrt(np.maximum(xp @ (i * i) - (xp @ i) ** 2, 0.0))
    return xp, np.cumsum(xp, axis=1), xp - xp.mean(axis=1, keepdims=True), sd, _neg_plogp_sum(xp)


def _phi(p: np.ndarray) -> np.ndarray:
    """``real(-p log2 p)`` elementwise (0 where p == 0; ``-p log2 |p|`` for negative p)."""
    ap = np.abs(p)
    lg = np.zeros_like(ap)
    np.log2(ap, out=lg, where=ap > 0)
    return -p * lg


def _merge(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, ...]:
    """Merge two rows-sorted breakpoint sets: sorted values, is-from-p flags and, per position,
    how many p and q breakpoints precede it (ties: p first)."""
    l = p.shape[1]
    z = np.concatenate([p, q], axis=1)
    order = np.argsort(z, axis=1, kind="stable")
    t = np.take_along_axis(z, order, axis=1)
    is_p = order < l
    n_p = np.cumsum(is_p, axis=1) - is_p
    n_q = np.arange(2 * l)[None, :] - n_p
    return t, is_p, n_p, n_q


def _joint_entropy(fp: np.ndarray, fc: np.ndarray, fsd: np.ndarray, hf: np.ndarray, xp: np.ndarray,
                   xc: np.ndarray, xsd: np.ndarray, hx: np.ndarray, c: np.ndarray, upper: bool) -> np.ndarray:
    """Joint entropy (bits) of Nelsen's joint pmf of F's and X's window pdfs (one sign of c).

    The pmf ``k * B + s * outer(pF, pX)``, ``s = 1 - k``, mixes the product with the Frechet
    bound ``B`` (upper ``min(u, v)`` for c >= 0, lower ``max(u + v - 1, 0)`` for c < 0), k set
    so that the correlation matches c. Cell (i, j) of the bound's pmf -- the original's second
    differences on the CDF grid -- is the overlap of ``(F_{i-1}, F_i]`` with ``(X_{j-1}, X_j]``
    (upper) or with ``(1 - X_j, 1 - X_{j-1}]`` (lower), so at most 2l - 1 cells are non-zero:
    the segments between the merged breakpoints. The entropy of the product part over all
    l*l cells has the closed form ``s (H_F + H_X) - s log2|s|``; the non-zero bound cells are
    then corrected one by one. Equal to summing all l*l cells up to round-off.
    """
    n, l = fp.shape
    t, is_f, n_f, n_x = _merge(fc, xc)
    if upper:
        # sum_ij min(F_i, X_j): an F_i pairs with the X_j >= F_i, an X_j with the F_i > X_j
        bound_sum = np.sum(t * np.where(is_f, l - n_x, l - n_f), axis=1)
        qx = xc                                            # X partition, upper ends ascending
        to_j = np.arange(l)
        degenerate = (fsd * xsd == 0) | (c == 0)
    else:
        # sum_ij max(F_i - Y_j, 0), Y_j = 1 - X_j: pairs with F_i > Y_j (ties add 0)
        y = (1.0 - xc)[:, ::-1]
        ty, is_fy, n_fy, n_y = _merge(fc, y)
        bound_sum = np.sum(np.where(is_fy, ty * n_y, -ty * (l - n_fy - is_fy)), axis=1)
        qx = (1.0 - (xc - xp))[:, ::-1]                   # upper ends of (1 - X_j, 1 - X_{j-1}], ascending
        to_j = np.arange(l)[::-1]
        degenerate = fsd * xsd == 0
    cov = bound_sum - fc.sum(axis=1) * xc.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(degenerate, 0.0, c * fsd * xsd / cov)
    s = 1.0 - k
    # product part over all cells: -sum s pF_i pX_j log2|s pF_i pX_j|
    sf, sx = fp.sum(axis=1), xp.sum(axis=1)
    hj = s * (hf * sx + hx * sf) + _phi(s) * sf * sx
    # non-zero cells of the bound's pmf: segments of the merged partitions
    if not upper:                                          # the upper case reuses the first merge
        t, is_f, n_f, n_x = _merge(fc, qx)
    seg = np.diff(t, axis=1, prepend=0.0)
    valid = (seg > 0) & (n_f < l) & (n_x < l)
    i = np.minimum(n_f, l - 1)
    j = to_j[np.minimum(n_x, l - 1)]
    o = np.take_along_axis(fp, i, axis=1) * np.take_along_axis(xp, j, axis=1)
    so = s[:, None] * o
    corr = _phi(k[:, None] * seg + so) - _phi(so)
    return hj + np.sum(np.where(valid, corr, 0.0), axis=1)


def _fmi_pair(xs: np.ndarray, fs: np.ndarray, fstats: tuple, equal: np.ndarray) -> np.ndarray:
    """Per-window normalised feature MI between windows ``xs`` and ``fs`` (rows of length l).

    ``fstats`` is :func:`_window_stats` of ``fs`` (shared by the two sources); ``equal`` marks
    the windows ``fmi.m`` scores 1 without computing (see :func:`_second_source_equal`).
    """
    n, l = xs.shape
    out = np.ones(n)
    todo = np.flatnonzero(~equal)
    if todo.size == 0:
        return out
    xp, xc, xt, xsd, hx = _window_stats(xs[todo])
    fp, fc, ft, fsd, hf = (a[todo] for a in fstats)
    num = np.einsum("ij,ij->i", xt, ft)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(num == 0, 0.0,
                     num / np.sqrt(np.einsum("ij,ij->i", xt, xt) * np.einsum("ij,ij->i", ft, ft)))
    hj = np.empty(todo.size)
    for upper in (True, False):
        r = np.flatnonzero(c >= 0) if upper else np.flatnonzero(c < 0)
        if r.size:
            hj[r] = _joint_entropy(fp[r], fc[r], fsd[r], hf[r], xp[r], xc[r], xsd[r], hx[r], c[r], upper)
    mi = hx + hf - hj
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.where(mi == 0, 0.0, 2.0 * mi / (hx + hf))
    v[(np.ptp(xs[todo], axis=1) == 0) & (np.ptp(fs[todo], axis=1) == 0)] = _flat_pair_value(l)
    out[todo] = v
    return out


# -- FMI fast path for 8-bit pixel features (w = 3) ----------------------------------------------
#
# Same quantities as above, in exact integer arithmetic. On 8-bit data a window's pdf is
# ``d / D`` with ``d = x - min(x)`` (0..255) and ``D = sum(d)`` (flat window: d = 1, D = 9), so
# with ``N = D_F * D_X`` every CDF breakpoint is an integer multiple of ``1 / N``: F_i = cF_i D_X / N,
# X_j = cX_j D_F / N. The breakpoints are merged as int64 keys by a sorting network (both halves
# are already sorted); each key carries, below its value, the side flag, its rank on its side
# and its ``d``, so suffix minima over the merged keys give every segment's F and X cell.
# All work is in struct-of-arrays layout, a row per window element or segment.

def _oddeven_merge(lo: int, hi: int, r: int):
    """Comparators of Batcher's odd-even merge of positions lo..hi (halves sorted), step r."""
    step = 2 * r
    if step < hi - lo:
        yield from _oddeven_merge(lo, hi, step)
        yield from _oddeven_merge(lo + r, hi, step)
        yield from ((i, i + r) for i in range(lo + r, hi - r, step))
    else:
        yield lo, lo + r


_MERGE16 = tuple(_oddeven_merge(0, 15, 1))                 # 25 comparators: sorted 8 + sorted 8


def _merge_sorted_halves(key: np.ndarray, kmin: np.ndarray) -> None:
    """Sort rows 0..15 of ``key`` (rows 0..7 and 8..15 each sorted) in place: the comparators of
    :data:`_MERGE16` in their four layers of disjoint pairs (i, i + r), r = 8, 4, 2, 1, one
    vectorised min/max per layer. ``kmin`` is a contiguous int64 scratch of >= 8 rows' size."""
    n = key.shape[1]
    mid = key[2:14].reshape(3, 4, n)
    for lo, hi in ((key[0:8], key[8:16]), (key[4:8], key[8:12]), (mid[:, :2], mid[:, 2:]),
                   (key[1:15:2], key[2:16:2])):
        m = kmin.ravel()[:lo.size].reshape(lo.shape)
        np.minimum(lo, hi, out=m)
        np.maximum(lo, hi, out=hi)
        lo[...] = m
_KEY_SHIFT = 13                                            # key = value << 13 | side << 12 | rank << 8 | d
_SIDE_X = 1 << 12
_LOW_MASK = (1 << _KEY_SHIFT) - 1
_RANK8 = np.arange(8, dtype=np.int32)[:, None] << 8
_IDX9 = np.arange(9, dtype=np.float64)
_STATS_M = np.stack([_IDX9, _IDX9 * _IDX9, 9.0 - _IDX9])   # sums of e d, e^2 d, (9 - e) d = cF
_SEG_M = np.stack([np.ones(17), np.arange(17.0)])         # sums over the 17 segments: 1 and m
_TINY = 1e-300                                             # log2(|a| + tiny): 0 log 0 = 0
_int_range = np.arange(2296, dtype=np.float64)             # D <= 9 * 255
_LOG2_INT = np.log2(np.maximum(_int_range, 1.0))
_XLOG2X_INT = _int_range * _LOG2_INT
_prod_range = np.arange(255 * 255 + 1, dtype=np.float64)
_XLOG2X_PROD = _prod_range * np.log2(np.maximum(_prod_range, 1.0))


class _Buffers:
    """Work arrays for up to ``n`` windows, allocated once per call (large temporaries made per
    chunk would be returned to the OS and page-faulted back each time)."""

    def __init__(self, n: int):
        i32, i64, f64 = np.int32, np.int64, np.float64
        self.sub = [np.empty((9, n), i32) for _ in range(3)]
        self.img = [{"d": np.empty((9, n), i32), "c": np.empty((9, n), i32), "df": np.empty((9, n), f64)}
                    for _ in range(2)]                     # F's and the current source's
        self.keys_x = {name: np.empty((8, n), i32) for name in ("val_lo", "val_diff", "low_lo", "low_diff")}
        self.idx9 = np.empty((9, n), np.intp)
        self.f9 = np.empty((9, n), f64)
        self.key = np.empty((17, n), i64)
        self.kmin = np.empty(8 * n, i64)
        self.o = np.empty((17, n), i64)
        self.xv, self.xl = np.empty((8, n), i32), np.empty((8, n), i32)
        # per segment: low key fields (13 bits, int16), values, lengths, X-flipped low fields, fills
        self.i17 = [np.empty((17, n), t) for t in (np.int16, i32, i32, np.int16, np.int16, np.int16)]
        self.f17 = [np.empty((17, n), f64) for _ in range(2)]


def _int_window_stats(sub: np.ndarray, buf: dict, tmp: _Buffers) -> dict:
    """Per-window integer pdf statistics; ``sub`` is (9, n) int32, elements in ``sub(:)`` order."""
    n = sub.shape[1]
    d, c, df = buf["d"][:, :n], buf["c"][:, :n], buf["df"][:, :n]
    np.subtract(sub, sub.min(axis=0), out=d)
    c[0] = d[0]
    for e in range(1, 9):
        np.add(c[e - 1], d[e], out=c[e])
    flat = c[8] == 0                                        # constant window: pdf 1/9 each
    if flat.any():
        d[:, flat] = 1
        c[:, flat] = np.arange(1, 10, dtype=np.int32)[:, None]
    dsum = c[8].astype(np.int64)
    np.copyto(df, d)
    dsf = dsum.astype(np.float64)
    s1, s2, cdf_sum = _STATS_M @ df
    idx, xlogx = tmp.idx9[:, :n], tmp.f9[:, :n]
    np.copyto(idx, d)
    np.take(_XLOG2X_INT, idx, out=xlogx, mode="clip")
    return {
        "d": d, "df": df, "D": dsum, "Df": dsf, "c": c, "flat": flat,
        # entropy (bits): log2 D - sum d log2 d / D
        "H": _LOG2_INT[dsum] - xlogx.sum(axis=0) / dsf,
        # D^2 * variance of the bin index; 81 D^2 * sum of squared centred pdf
        "V": dsf * s2 - s1 * s1,
        "SS": 81.0 * np.einsum("ij,ij->j", df, df) - 9.0 * dsf * dsf,
        "S": cdf_sum,                                       # D * sum of the CDF
    }


def _fused_keys(st: dict) -> None:
    st["key_low"] = _RANK8 | st["d"][:8]                   # F entry i: rank i
    st["key_last"] = (8 << 8) | st["d"][8]


def _source_keys(st: dict, tmp: _Buffers) -> None:
    """Low key fields and values of X's breakpoints for both bounds (blended per window later).

    Upper bound: X_j, j = 0..7 (d_j). Lower bound: upper ends ``1 - X_{j-1}`` of the reflected
    intervals, ascending for j = 8..1 (rank r = 8 - j, d_j); the last (value 1) is j = 0.
    """
    d, c, dsum = st["d"], st["c"], st["D"]
    n = d.shape[1]
    val_lo, val_diff, low_lo, low_diff = (tmp.keys_x[k][:, :n] for k in ("val_lo", "val_diff", "low_lo",
                                                                           "low_diff"))
    np.subtract(dsum.astype(np.int32), c[7::-1], out=val_lo)
    np.subtract(c[:8], val_lo, out=val_diff)
    np.bitwise_or(_SIDE_X | _RANK8, d[:0:-1], out=low_lo)
    np.bitwise_or(_SIDE_X | _RANK8, d[:8], out=low_diff)
    low_diff -= low_lo
    st.update(val_lo=val_lo, val_diff=val_diff, low_lo=low_lo, low_diff=low_diff)
    st["last_lo"], st["last_diff"] = (8 << 8) | d[0], d[8] - d[0]    # side flag flipped (X fill)


def _fmi_pair_int(x: dict, f: dict, tmp: _Buffers) -> np.ndarray:
    """Per-window normalised feature MI of a source's and F's windows (exact-integer version)."""
    n = x["D"].shape[0]
    num = 81.0 * np.einsum("ij,ij->j", x["df"], f["df"]) - 9.0 * x["Df"] * f["Df"]
    with np.errstate(invalid="ignore", divide="ignore"):
        c = num / np.sqrt(x["SS"] * f["SS"])
    c[num == 0] = 0.0
    upper = c >= 0
    up = upper.view(np.int8)
    nn = f["D"] * x["D"]
    # merged breakpoints in units of 1/N: keys of F (rows 0..7) and X (rows 8..15), F_8 = 1 last
    key = tmp.key[:, :n]
    np.multiply(f["c"][:8], x["D"], out=key[:8])
    key[:8] <<= _KEY_SHIFT
    key[:8] |= f["key_low"]
    xv, xl = tmp.xv[:, :n], tmp.xl[:, :n]
    np.multiply(x["val_diff"], up, out=xv)
    xv += x["val_lo"]
    np.multiply(xv, f["D"], out=key[8:16])
    key[8:16] <<= _KEY_SHIFT
    np.multiply(x["low_diff"], up, out=xl)
    xl += x["low_lo"]
    key[8:16] |= xl
    _merge_sorted_halves(key[:16], tmp.kmin[:8 * n])
    np.left_shift(nn, _KEY_SHIFT, out=key[16])
    key[16] |= f["key_last"]
    low, val, seg, low_x, gf, gx = (b[:, :n] for b in tmp.i17)
    np.bitwise_and(key, _LOW_MASK, out=low, casting="unsafe")
    np.right_shift(key, _KEY_SHIFT, out=val, casting="unsafe")
    seg[0] = val[0]                                        # segment m = (t_{m-1}, t_m], N units
    np.subtract(val[1:], val[:-1], out=seg[1:])
    # cell of each segment: first F key and first X key at or after it (suffix minima)
    np.bitwise_xor(low, _SIDE_X, out=low_x)
    gf[16] = low[16]
    np.multiply(x["last_diff"], up, out=gx[16])
    gx[16] += x["last_lo"]
    for m in range(15, -1, -1):
        np.minimum(low[m], gf[m + 1], out=gf[m])
        np.minimum(low_x[m], gx[m + 1], out=gx[m])
    o = tmp.o[:, :n]                                       # N * product cell pF_i pX_j
    np.bitwise_and(gf, 255, out=o, casting="unsafe")
    gx &= 255
    o *= gx
    gf >>= 8                                               # F cell index i
    np.subtract(9, gf, out=gf)                             # 9 - i
    a, t = (b[:, :n] for b in tmp.f17)
    np.multiply(seg, gf, out=a)
    np.multiply(a, gf, out=t)
    pm = _SEG_M @ a
    sq = t.sum(axis=0)
    # N * sum_ij bound(F_i, X_j) = sum_m seg (9 - i)(9 - j); upper j = m - i, lower j = 8 - m + i
    bound_sum = np.where(upper, 18.0 * pm[0] - pm[1] - sq, pm[1] - 8.0 * pm[0] + sq)
    cov = bound_sum - f["S"] * x["S"]
    vv = f["V"] * x["V"]
    with np.errstate(invalid="ignore", divide="ignore"):
        k = c * np.sqrt(vv) / cov
    k[(vv == 0) | ((c == 0) & upper)] = 0.0
    s = 1.0 - k
    # N * cell = k seg + s o on the bound's support; sum of a log2|a| minus the product part's
    np.multiply(seg, k, out=a)
    np.multiply(o, s, out=t)
    a += t
    np.abs(a, out=t)
    t += _TINY
    np.log2(t, out=t)
    t *= a
    t_all = t.sum(axis=0)
    np.take(_XLOG2X_PROD, o, out=t, mode="clip")
    phi_s = s * np.log2(np.abs(s) + _TINY)
    t_prod = phi_s * o.sum(axis=0) + s * t.sum(axis=0)
    nf = nn.astype(np.float64)
    hx, hf = x["H"], f["H"]
    hj = s * (hf + hx) - phi_s - (t_all - t_prod) / nf + k * np.log2(nf)
    mi = hx + hf - hj
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 2.0 * mi / (hx + hf)
    out[mi == 0] = 0.0
    return out


_FLAT_PAIR_9 = _flat_pair_value(9)


def _is_8bit(x: np.ndarray) -> bool:
    return bool(x.size) and x.min() >= 0 and x.max() <= 255 and bool(np.all(x == np.floor(x)))


def _fmi_8bit(a: np.ndarray, b: np.ndarray, f: np.ndarray, chunk: int = 8192) -> float:
    """Fast-FMI with raw-pixel features and w = 3 on integer images 0..255 (exact arithmetic)."""
    imgs = [np.asarray(x).astype(np.int32) for x in (a, b, f)]
    h, w = imgs[0].shape[0] - 2, imgs[0].shape[1] - 2
    rows = max(1, min(h, chunk // w))
    tmp = _Buffers(rows * w)
    total = 0.0
    for r0 in range(0, h, rows):
        r1 = min(r0 + rows, h)
        n = (r1 - r0) * w
        # (9, n) windows, element e = row offset + 3 * column offset (MATLAB sub(:) order)
        sa, sb, sf = (s[:, :n] for s in tmp.sub)
        for x, sub in zip(imgs, (sa, sb, sf)):
            for e in range(9):
                np.copyto(sub[e].reshape(r1 - r0, w), x[r0 + e % 3:r1 + e % 3, e // 3:e // 3 + w])
        eq_a = np.all(sa == sf, axis=0)
        eq_b = np.all(sb == sf, axis=0)
        # fmi.m compares B's raw window with F's window as normalised for A (where A's differed):
        # equal only if B's is 0/1 -- checked exactly, on the few windows where B's max <= 1
        cand = np.flatnonzero(~eq_a & (sb.max(axis=0) <= 1))
        if cand.size:
            eq_b[cand] = _second_source_equal(sb[:, cand].astype(np.float64), sf[:, cand].astype(np.float64),
                                              np.zeros(cand.size, bool), axis=0)
        fst = _int_window_stats(sf, tmp.img[0], tmp)
        f_flat = fst["flat"].copy()
        _fused_keys(fst)
        for sx, eq in ((sa, eq_a), (sb, eq_b)):
            xst = _int_window_stats(sx, tmp.img[1], tmp)
            _source_keys(xst, tmp)
            v = _fmi_pair_int(xst, fst, tmp)
            v[xst["flat"] & f_flat] = _FLAT_PAIR_9
            v[eq] = 1.0
            total += float(v.sum()) / 2.0
    return total / (h * w)


def fmi_haghighat(a: np.ndarray, b: np.ndarray, f: np.ndarray, feature: str = "none", w: int = 3,
                  chunk: int = 16384) -> float:
    """Fast-FMI (Haghighat & Razian 2014) of fused ``f`` with sources ``a`` and ``b``.

    ``feature``: ``'none'`` (raw pixels), ``'gradient'`` (MATLAB ``gradient(x)`` with one output:
    the horizontal derivative only) or ``'dct'`` (``dct2`` of the whole image). Raw pixels with
    ``w = 3`` on integer images 0..255 take the exact-integer path :func:`_fmi_8bit`; other
    ``w = 3`` inputs (DCT features: ``tang:fmi_dct``) the compiled kernel :func:`_fmi_w3`;
    other ``w`` the generic numpy path :func:`_fmi_generic` (windows as rows).

    Two rules of ``fmi.m`` that only its arithmetic decides, checked against Tang's copy under
    Octave (``tests/metrics/compat_fmi``): B's window is compared with F's window as normalised
    for A (:func:`_second_source_equal`), and two constant, unequal windows score
    :func:`_flat_pair_value` (1 for 3x3 windows).
    """
    if (feature == "none" and w == 3 and min(np.shape(a)) >= 3
            and all(_is_8bit(np.asarray(x)) for x in (a, b, f))):
        return _fmi_8bit(a, b, f)
    feats = []
    for x in (a, b, f):
        x = np.asarray(x, np.float64)
        if feature == "gradient":
            x = np.gradient(x, axis=1)
        elif feature == "dct":
            from scipy.fft import dctn

            x = dctn(x, norm="ortho")
        elif feature != "none":
            raise ValueError(f"fmi: unsupported feature {feature!r} (none, gradient, dct)")
        feats.append(x)
    if min(feats[0].shape) < w:
        raise ValueError(f"fmi needs images of at least {w}x{w} pixels")
    if w == 3:
        return _fmi_w3(feats)
    return _fmi_generic(feats, w, chunk)


def _fmi_w3(feats: list[np.ndarray]) -> float:
    """Fast-FMI with w = 3 on float feature images: the compiled kernel
    :func:`fusionbench.metrics._fmi_kernel.fmi3_windows` (numba, imported here, not at start-up).

    Every window pair in one pass, F's window statistics shared by the two sources; the same
    quantities as :func:`_fmi_pair` / :func:`_joint_entropy`, equal to :func:`_fmi_generic` to
    3e-16 relative on TNO and RoadScene DCT features (``tests/metrics/test_fmi_kernel.py``
    compares them window by window). ``tang:fmi_dct`` (DCT included): 0.27 s CPU at 640x480
    (0.86 s/MP) and 0.74 s at 1024x768 (0.94 s/MP), measured on a loaded shared 2-core machine,
    3.8x and 3.5x the numpy path it replaced, timed in the same process. The first call on a
    machine compiles the kernel (4-5 s CPU, cached in ``__pycache__``); later processes load it
    in about 1 s CPU, half of it numba's import.
    """
    from fusionbench.metrics._fmi_kernel import fmi3_windows

    per_window = fmi3_windows(*feats, _FLAT_PAIR_9)          # FMI(A, F) + FMI(B, F) per window
    return float(np.sum(per_window)) / 2.0 / per_window.size


def _fmi_generic(feats: list[np.ndarray], w: int, chunk: int = 16384) -> float:
    """Fast-FMI on float feature images, any odd window size ``w`` (windows as rows)."""
    av, bv, fv = (_window_vectors(x, w) for x in feats)
    total = 0.0
    for s in range(0, len(av), chunk):
        sl = slice(s, s + chunk)
        fstats = _window_stats(fv[sl])
        eq_a = np.all(av[sl] == fv[sl], axis=1)
        eq_b = _second_source_equal(bv[sl], fv[sl], eq_a, axis=1)
        total += float(np.sum(_fmi_pair(av[sl], fv[sl], fstats, eq_a)
                              + _fmi_pair(bv[sl], fv[sl], fstats, eq_b)) / 2.0)
    return total / len(av)


# -- registered textbook metrics ------------------------------------------------------------

@register_metric("mi", description="mutual information MI(IR,F)+MI(VI,F) in bits, 256-level joint histograms",
                 higher_is_better=True, parts=("ir", "vi"),
                 reference="Qu, Zhang, Yan 2002, Electron. Lett. 38(7) (vifb:mi is in nats, after a min-max stretch)")
def mi(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, *, base: str = "2", merge_top: bool = False) -> dict:
    """Mutual information between the fused image and the sources.

    Notes
    -----
    ``MI = MI(IR,F) + MI(VI,F)``, ``MI(X,F) = H(X) + H(F) - H(X,F)`` from the 256x256 joint
    histogram of the integer grey levels, **in bits** (Qu, Zhang & Yan, Electronics Letters
    2002). Range 0..16; higher is better. Parts ``mi.ir``, ``mi.vi``. Deliberate difference
    from VIFB: ``metricsMutinf`` first min-max stretches each image and uses natural logs
    (nats), see ``vifb:mi``; on images that already span 0..255 the VIFB value is this one
    times ln 2.

    Configuration parameters: ``base='e'`` gives nats (CDDFuse's scikit-learn
    ``mutual_info_score``); ``merge_top`` Tang's saturated joint histogram (see
    :func:`mutual_information`).
    """
    a, b, f = check_images(ir, vi, fused, who="mi")
    log = {"2": np.log2, "e": np.log}[base]
    return per_source(mutual_information(a, f, log, merge_top), mutual_information(b, f, log, merge_top), "sum")


@register_metric("ce", description="cross entropy (KL(IR||F)+KL(VI||F))/2 of grey-level histograms, bits",
                 higher_is_better=False,
                 reference="Bulanon et al. 2009, Biosyst. Eng. 103(1); = VIFB metricsCross_entropy on gray")
def ce(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """Cross entropy between the sources' and the fused image's grey-level distributions.

    Notes
    -----
    ``CE = (D(p_IR || p_F) + D(p_VI || p_F)) / 2`` with ``D(p||q) = sum p log2(p/q)`` over the
    256 grey levels present in both images (Bulanon, Burks & Alchanatis 2009; VIFB's
    ``metricsCross_entropy``, equal on gray images). 0 when F has each source's histogram;
    lower is better.
    """
    a, b, f = check_images(ir, vi, fused, who="ce")
    return (cross_entropy(a, f) + cross_entropy(b, f)) / 2.0


@register_metric("fmi", description="feature mutual information (pixel features, 3x3 windows, Fast-FMI)",
                 higher_is_better=True, version="2",
                 reference="Haghighat et al. 2011, Comput. Electr. Eng. 37(5); "
                           "Fast-FMI fmi.m (AICT 2014), feature 'none', w=3")
def fmi(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, *, feature: str = "none", w: int = 3) -> float:
    """Feature mutual information on raw pixels (FMI_pixel).

    Notes
    -----
    Haghighat, Aghagolzadeh & Seyedarabi (Computers & Electrical Engineering 2011), computed as
    Haghighat & Razian's Fast-FMI ``fmi.m`` with ``feature='none'``, ``w=3``: in every 3x3
    window each image is min-max normalised and turned into a 9-bin pdf, the joint pdf of
    source and fused pdfs is Nelsen's mixture of the product and the Frechet bound matching
    their correlation, and ``2 MI / (H_X + H_F)`` is averaged over the two sources and all
    windows (1 where a window of F equals the source's). Range 0..1; higher is better. Note:
    ``fmi.m``'s own default feature is 'edge' (MATLAB ``edge``), which some scripts still label
    FMI_pixel. Vectorised over all windows (equal to a literal loop port to 1e-9 relative; on
    8-bit images in exact integer arithmetic, about 0.25 s of one core per 640x480 image).
    Matches Tang's copy of ``fmi.m`` (``analysis_fmi.m``, feature 'none') under GNU Octave to
    2e-15 (``tests/metrics/compat_fmi``). Version 2: two constant, unequal windows score 1 and
    VI's window is compared with F's normalised one, as ``fmi.m`` computes (see
    :func:`fmi_haghighat`); on images with constant regions version 1 was up to ~1e-3 lower.
    Configuration parameters ``feature`` ('none', 'gradient', 'dct') and ``w`` as
    :func:`fmi_haghighat`.
    """
    a, b, f = check_images(ir, vi, fused, who="fmi")
    return fmi_haghighat(a, b, f, feature=feature, w=w)
