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


_FLAT_PAIR_9 = _flat_pair_value(9)


def fmi_haghighat(a: np.ndarray, b: np.ndarray, f: np.ndarray, feature: str = "none", w: int = 3,
                  chunk: int = 16384) -> float:
    """Fast-FMI (Haghighat & Razian 2014) of fused ``f`` with sources ``a`` and ``b``.

    ``feature``: ``'none'`` (raw pixels), ``'gradient'`` (MATLAB ``gradient(x)`` with one output:
    the horizontal derivative only) or ``'dct'`` (``dct2`` of the whole image). With ``w = 3``
    (``fmi`` on raw pixels, ``tang:fmi_dct``) the compiled kernel :func:`_fmi_w3`; other ``w``
    the generic numpy path :func:`_fmi_generic` (windows as rows).

    Two rules of ``fmi.m`` that only its arithmetic decides, checked against Tang's copy under
    Octave (``tests/metrics/compat_fmi``): B's window is compared with F's window as normalised
    for A (:func:`_second_source_equal`), and two constant, unequal windows score
    :func:`_flat_pair_value` (1 for 3x3 windows).
    """
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
    compares them window by window; ``fmi`` on 8-bit images equals the former exact-integer
    path except where that path scored as 1 a B window equal to F's raw window: ``fmi.m``
    compares B with F's normalised window). ``tang:fmi_dct`` (DCT included): 0.21-0.27 s CPU at
    640x480 (0.67-0.88 s/MP) and 0.57-0.63 s at 1024x768 (0.73-0.80 s/MP) on an idle shared 2-core
    machine (``benchmarks/metrics.py``), against 0.74-1.0 s and 2.6 s for the numpy path it
    replaced. The first call on a
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
                 higher_is_better=True, version="3",
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
    FMI_pixel. One compiled pass over the windows (equal to a literal loop port to 1e-9
    relative and to the vectorised numpy path to ~1e-15; speed: :func:`_fmi_w3`).
    Matches Tang's copy of ``fmi.m`` (``analysis_fmi.m``, feature 'none') under GNU Octave to
    2e-15 (``tests/metrics/compat_fmi``). Version 2: two constant, unequal windows score 1 and
    VI's window is compared with F's normalised one, as ``fmi.m`` computes (see
    :func:`fmi_haghighat`); on images with constant regions version 1 was up to ~1e-3 lower.
    Version 3: where IR's window differs from F's, a VI window equal to F's *raw* window is
    computed (``fmi.m`` compares it with F's normalised window), not scored 1: 1 up to
    round-off, but 0 for a one-pixel window (TNO 01 with max fusion: -8.9e-6 relative).
    Configuration parameters ``feature`` ('none', 'gradient', 'dct') and ``w`` as
    :func:`fmi_haghighat`.
    """
    a, b, f = check_images(ir, vi, fused, who="fmi")
    return fmi_haghighat(a, b, f, feature=feature, w=w)
