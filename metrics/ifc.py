"""IFC and VIF (pixel-domain GSM vector forms) as the LIVE ``ifcvec`` / ``vifvec`` releases.

Both compare a *reference* image with a *distorted* one. For fusion each source is taken in
turn as the reference and the fused image as the distorted one; the parts ``ir``/``vi`` are
those two values and the fusion score is **their mean** (see ``../shared/reference/README.md``).

Reference code followed (ported, not wrapped): LIVE ``ifcvec.m``, ``distsub_est_m.m``,
``refparams_vecgsm.m``, ``ind2wtree.m`` as distributed in jbhuang0604/SelfExSR @ 8f6dd8c1
(``quant_eval/ifcvec_release``), LIVE ``vifvec.m`` (same helpers, ``sigma_nsq = 0.4``), and
``buildSpyr(img, 4, 'sp5Filters', 'reflect1')`` from LabForComputationalVision/matlabPyrTools
@ f02ab059 with its ``corrDn.m`` fallback (see :mod:`fusionbench.metrics._steerable`).
"""
from __future__ import annotations

import math

import numpy as np

from fusionbench.imageio import check_images
from fusionbench.metrics._memo import ContentLRU, register_cache
from fusionbench.metrics._parts import per_source
from fusionbench.metrics._steerable import build_spyr, wtree_location
from fusionbench.registry import register_metric

M = 3                                        # GSM vectors are M x M blocks
SUBBANDS = (4, 7, 10, 13, 16, 19, 22, 25)     # ind2wtree numbering, 4-level sp5 pyramid
HEIGHT = 4
TOL = 1e-15                                   # distsub_est_m's zero-variance tolerance
IFC_EPS = 1e-10                               # ifcvec's tolerance added to sigma_v^2
VIF_SIGMA_NSQ = 0.4                           # vifvec's HVS noise variance
_LOCATIONS = {k: wtree_location(k, HEIGHT) for k in SUBBANDS}
_BANDS = tuple(sorted({b for _, b in _LOCATIONS.values()}))


def _window(k: int) -> int:
    """Side of the box window of subband ``k``: ``2^lev + 1`` with ``lev = ceil((k-1)/6)``."""
    return 2 ** math.ceil((k - 1) / 6) + 1


def _offset(k: int) -> int:
    """Border blocks dropped each side for subband ``k``: ``ceil(((win-1)/2)/M)``."""
    return math.ceil(((_window(k) - 1) // 2) / M)


def _crop(y: np.ndarray) -> np.ndarray:
    """``y`` cropped to a multiple of M rows and columns, C-contiguous (for the kernels)."""
    return np.ascontiguousarray(y[: y.shape[0] // M * M, : y.shape[1] // M * M])


def _box_interior(a: np.ndarray, win: int, off: int, b: np.ndarray | None = None) -> np.ndarray:
    """``win x win`` window sums of ``a`` (of ``a * b`` when ``b`` is given) at the centres of the
    blocks kept by ``ifcvec`` (all but ``off`` a side).

    ``a`` has a multiple of M rows and columns; block ``(i, j)`` is centred on sample
    ``(3i+1, 3j+1)`` as in ``distsub_est_m``'s ``corrDn(..., 'reflect1', [3 3], [2 2])``. For the
    kept blocks the window never reaches the subband's edge (``off = ceil(((win-1)/2)/3)``), so
    no edge rule is involved. Summed directly, in one fixed order
    (:func:`fusionbench.metrics._paper_kernels.box_interior`: whole 3-sample blocks, runs of
    blocks, then the single samples outside them, rows then columns; IFC's values on fused
    images close to a source depend on this order in their 7th digit): each output depends
    only on the samples in its window, so where two subbands agree their statistics agree bit
    for bit (the
    noise variance estimate ``vv`` relies on it; running sums or a DFT would leave round-off of
    far-away samples there, which IFC's ``1e-10`` floor magnifies).
    """
    from fusionbench.metrics import _paper_kernels as K  # noqa: PLC0415  (numba: lazily)

    a = np.ascontiguousarray(a, dtype=np.float64)
    if b is None:
        return K.box_interior(a, a, False, win, off)
    return K.box_interior(a, np.ascontiguousarray(b, dtype=np.float64), True, win, off)


class _Window:
    """Box-window statistics of one subband at the kept block centres (see :func:`_channel`).

    ``m = S1 / n`` (the window mean), ``nm = n * m`` and ``ss = max(S2 - nm * m, 0)`` (the
    window's sum of squared deviations) with ``S1``, ``S2`` the window sums of ``y`` and ``y^2``
    and ``n`` the window's sample count; ``ss_tol = ss + 1e-15`` and ``low = ss < 1e-15`` are
    the divisor and mask that ``distsub_est_m`` uses when the image is the reference. Every
    array is the very expression ``distsub_est_m``'s port evaluates per (reference, distorted)
    pair, computed once per image instead.
    """

    __slots__ = ("m", "nm", "ss", "ss_tol", "low")

    def __init__(self, y: np.ndarray, k: int) -> None:
        from fusionbench.metrics import _paper_kernels as K  # noqa: PLC0415  (numba: lazily)

        self.m, self.nm, self.ss, self.ss_tol, self.low = K.window_stats(
            np.ascontiguousarray(y, dtype=np.float64), _window(k), _offset(k), TOL)

    def arrays(self) -> tuple[np.ndarray, ...]:
        return self.m, self.nm, self.ss, self.ss_tol, self.low


class _Decomposed:
    """The used subbands of one image (cropped to multiples of M), their window statistics
    (:class:`_Window`) and, computed on first use, each subband's reference statistics
    (:func:`_ref_params`) and VIF denominator."""

    def __init__(self, img: np.ndarray) -> None:
        pyr = build_spyr(img, HEIGHT, bands=_BANDS, hi0=False, lowpass=False, crop=M)
        self.n_pixels = img.size
        self.sub = {k: _crop(pyr.bands[lev][b]) for k, (lev, b) in _LOCATIONS.items()}
        self.win = {k: _Window(y, k) for k, y in self.sub.items()}
        self._ref: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._vif_den: dict[int, float] = {}
        arrays = [*self.sub.values(), *(a for w in self.win.values() for a in w.arrays())]
        for a in arrays:
            a.flags.writeable = False          # shared through the cache: never modified
        self.nbytes = sum(a.nbytes for a in arrays)

    def ref_params(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """:func:`_ref_params` of subband ``k`` (kept blocks), computed once per image."""
        if k not in self._ref:
            ss, lam = _ref_params(self.sub[k], _offset(k))
            ss.flags.writeable = lam.flags.writeable = False
            self._ref[k] = ss, lam
        return self._ref[k]

    def vif_den(self, k: int) -> float:
        """``vifvec``'s denominator term of subband ``k`` (this image as the reference)."""
        if k not in self._vif_den:
            ss, lam = self.ref_params(k)
            self._vif_den[k] = _sum_log2_1p(ss / VIF_SIGMA_NSQ, lam)
        return self._vif_den[k]


# Scoring a table of methods on one pair decomposes the same two sources for every fused image,
# and ``ifc`` and ``vif`` of one fused image decompose it twice; a digest (~0.1 ms at 640x480)
# replaces a pyramid, its moments and the reference statistics (~20 ms).
DECOMPOSITIONS = register_cache(ContentLRU(_Decomposed, max_entries=6))


def _block_moments(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums and cross sums of the M*M elements of all overlapping M x M blocks of ``y``.

    Element ``p = (r, c)`` (row-major) of the block at ``(i, j)`` is ``y[i + r, j + c]``,
    ``i < h-M+1``, ``j < w-M+1``. Returns ``(sum_p, sum_pq)``; the summation order is that of
    :func:`fusionbench.metrics._paper_kernels.block_moments` (the 13 distinct offsets
    ``q - p`` share their column sums).
    """
    from fusionbench.metrics import _paper_kernels as K  # noqa: PLC0415

    return K.block_moments(np.ascontiguousarray(y, dtype=np.float64))


def _ref_params(y: np.ndarray, off: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``refparams_vecgsm`` for one (cropped) subband: (S field, eigenvalues of C_U).

    ``C_U`` is the (population) covariance of all overlapping ``M x M`` blocks; the S field is
    ``v' C_U^{-1} v / M^2`` for the non-overlapping blocks ``v``, returned for the block grid
    less ``off`` blocks each side (the blocks ``ifcvec`` keeps).
    """
    h, w = y.shape
    n = (h - M + 1) * (w - M + 1)
    sums, cross = _block_moments(y)
    mean = sums / n
    cu = cross / n - np.outer(mean, mean)
    from fusionbench.metrics import _paper_kernels as K  # noqa: PLC0415

    kept = y[M * off:h - M * off, M * off:w - M * off]
    try:
        inv = np.linalg.inv(cu)
    except np.linalg.LinAlgError:   # a subband without variation (flat reference): MATLAB's inv
        inv = np.linalg.pinv(cu)    # gives Inf and the result NaN; here such blocks carry s = 0
    ss = K.s_field(kept, np.ascontiguousarray(inv))          # v' inv(cu) v / 9 for each block v
    lam = np.linalg.eigvalsh(cu)
    return ss, lam


def _channel(ref: _Decomposed, dist: _Decomposed, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``distsub_est_m`` for subband ``k``: gain ``g`` and noise variance ``vv`` per kept block.

    Box-window statistics centred on each block's middle sample (stride M), then the release's
    clean-up rules, in its order. Only the blocks ``ifcvec`` keeps are computed (their windows
    never reach the reflect1 edges). Where the two subbands agree over a window,
    ``cov == ss_x == ss_y`` exactly and ``vv`` is ~0, as with MATLAB's direct ``conv2``. The
    terms of one image alone come from :class:`_Window`; the arithmetic is, operation for
    operation, ``cov = S_xy - n mx my``, ``g = cov / (ss_x + tol)``, ``vv = (ss_y - g cov) / n``.
    The scores use the same operations fused with their log sums
    (:func:`fusionbench.metrics._paper_kernels.channel_log_sums`); this array form is for tests.
    """
    win = _window(k)
    n = float(win * win)
    x, y = ref.win[k], dist.win[k]
    cov = _box_interior(ref.sub[k], win, _offset(k), dist.sub[k])
    cov -= x.nm * y.m
    g = cov / x.ss_tol
    vv = (y.ss - g * cov) / n
    np.copyto(g, 0.0, where=x.low)       # no reference signal: all of the distorted is noise
    np.copyto(vv, y.ss, where=x.low)
    np.copyto(g, 0.0, where=y.low)       # no distorted signal
    np.copyto(vv, 0.0, where=y.low)
    neg = g < 0                          # gain constrained to be non-negative
    np.copyto(vv, y.ss, where=neg)
    np.copyto(g, 0.0, where=neg)
    np.copyto(vv, TOL, where=vv <= TOL)
    return g, vv


def _sum_log2_1p(x: np.ndarray, lam: np.ndarray) -> float:
    """``sum over blocks and j of log2(1 + x * lam_j)``, taking logs of products of 3 factors
    (:func:`fusionbench.metrics._paper_kernels.sum_log2_1p`)."""
    from fusionbench.metrics import _paper_kernels as K  # noqa: PLC0415

    return float(K.sum_log2_1p(np.ascontiguousarray(x, dtype=np.float64), np.ascontiguousarray(lam)))


def _ifc_vif(ref: _Decomposed, dist: _Decomposed, want_ifc: bool = True,
             want_vif: bool = True) -> tuple[float, float]:
    """(ifcvec, vifvec) of one reference/distorted pair (NaN for the one not wanted).

    Per subband, :func:`_channel` and the log sums in one compiled pass
    (:func:`fusionbench.metrics._paper_kernels.channel_log_sums`, the same operations per block).
    """
    from fusionbench.metrics import _paper_kernels as K  # noqa: PLC0415

    ifc_sum = vif_num = vif_den = 0.0
    for k in SUBBANDS:
        x, y = ref.win[k], dist.win[k]
        ss, lam = ref.ref_params(k)                               # ss: the kept blocks
        s_ifc, s_vif = K.channel_log_sums(ref.sub[k], dist.sub[k], _window(k), _offset(k), x.nm,
                                          x.ss_tol, x.low, y.m, y.ss, y.low, ss, lam,
                                          want_ifc, want_vif, IFC_EPS, VIF_SIGMA_NSQ, TOL)
        ifc_sum += s_ifc
        if want_vif:
            vif_num += s_vif
            vif_den += ref.vif_den(k)
    vif = (vif_num / vif_den if vif_den > 0 else math.nan) if want_vif else math.nan
    return (ifc_sum / ref.n_pixels if want_ifc else math.nan), vif


def _check_size(img: np.ndarray, who: str) -> None:
    h, w = img.shape
    if min(h, w) < 72:
        raise ValueError(f"{who}: images must be at least 72x72 for the 4-level pyramid, got {w}x{h}")


def ifcvec(ref: np.ndarray, dist: np.ndarray) -> float:
    """LIVE ``ifcvec(ref, dist)`` on float64 gray 0..255 images (order matters)."""
    ref, dist = check_images(ref, dist, names=("reference", "distorted"), who="ifcvec")
    _check_size(ref, "ifcvec")
    return _ifc_vif(DECOMPOSITIONS.get(ref), DECOMPOSITIONS.get(dist), want_vif=False)[0]


def vifvec(ref: np.ndarray, dist: np.ndarray) -> float:
    """LIVE ``vifvec(ref, dist)`` on float64 gray 0..255 images (order matters)."""
    ref, dist = check_images(ref, dist, names=("reference", "distorted"), who="vifvec")
    _check_size(ref, "vifvec")
    return _ifc_vif(DECOMPOSITIONS.get(ref), DECOMPOSITIONS.get(dist), want_ifc=False)[1]


def ifc_vif_parts(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, *, want_ifc: bool = True,
                  want_vif: bool = True, who: str = "ifc/vif") -> dict[str, float]:
    """``ifcvec``/``vifvec`` with each source as reference: keys ``ifc.ir, ifc.vi, vif.ir, vif.vi``.

    The fused image's pyramid is built once and shared by both sources; every decomposition
    (and a source's reference statistics) comes from :data:`DECOMPOSITIONS`, so ``ifc`` and
    ``vif`` of one fused image share its pyramid, and the fused images of one pair share the
    sources'.
    """
    ir, vi, fused = check_images(ir, vi, fused, who=who)
    _check_size(ir, who)
    dist = DECOMPOSITIONS.get(fused)
    out: dict[str, float] = {}
    for name, src in (("ir", ir), ("vi", vi)):
        out[f"ifc.{name}"], out[f"vif.{name}"] = _ifc_vif(DECOMPOSITIONS.get(src), dist, want_ifc, want_vif)
    return out


@register_metric(
    "ifc", parts=("ir", "vi"), higher_is_better=True,
    description="information fidelity criterion (LIVE ifcvec), mean over the two sources as reference",
    reference="Sheikh, Bovik & de Veciana, IEEE TIP 2005; LIVE ifcvec release (jbhuang0604/SelfExSR "
              "@8f6dd8c1 quant_eval/ifcvec_release) with matlabPyrTools @f02ab059 buildSpyr sp5/reflect1",
)
def ifc(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> dict[str, float]:
    """IFC of a fused image: ``ifc.ir = ifcvec(IR, F)``, ``ifc.vi = ifcvec(VI, F)``, total = their mean.

    Returns ``{"total": (ir + vi)/2, "ir": ..., "vi": ...}``. Inputs float64 gray 0..255 of
    equal size, at least 72 pixels on each side (a 4-level pyramid); otherwise ``ValueError``.

    Notes
    -----
    ``ifcvec(ref, dist) = sum over subbands k, blocks b and j = 1..9 of
    log2(1 + g_b^2 s_b lambda_j / (sigma_v,b^2 + 1e-10))``, divided by the number of pixels
    (this release's normalisation): Sheikh, Bovik & de Veciana, "An information fidelity
    criterion for image quality assessment using natural scene statistics", IEEE TIP 14(12),
    2005. Code followed: LIVE ``ifcvec.m``, ``distsub_est_m.m``, ``refparams_vecgsm.m``,
    ``ind2wtree.m`` (jbhuang0604/SelfExSR @ 8f6dd8c1, ``quant_eval/ifcvec_release``) with
    ``buildSpyr(img, 4, 'sp5Filters', 'reflect1')`` of matlabPyrTools @ f02ab059.

    Subbands ``[4 7 10 13 16 19 22 25]`` in ``ind2wtree`` order (orientations 1 and 4 of every
    level), each cropped to a multiple of M = 3. Reference statistics: ``C_U`` the covariance of
    all overlapping 3x3 blocks, ``s = v' C_U^-1 v / 9`` for the non-overlapping blocks ``v``,
    ``lambda_j`` the eigenvalues of ``C_U``. Channel: ``g = cov/(var_ref + 1e-15)``,
    ``sigma_v^2 = (var_dist - g cov)/w^2`` from a ``w x w`` box window (``w = 2^lev + 1``,
    ``lev = ceil((k-1)/6)``) at the block centres (stride 3, reflect1 edges), with the release's
    clean-up rules; ``ceil(((w-1)/2)/3)`` border blocks are dropped each side.

    For fusion each source is the reference in turn (the fused image is the "distorted" one);
    the mean of the two parts lands on the scale of published IFC tables, their sum would be
    about twice too large. Reproduce a part with ``ifcvec(double(IR), double(F))``.
    Range ``[0, inf)`` (bits per pixel); higher is better.
    """
    p = ifc_vif_parts(ir, vi, fused, want_vif=False, who="ifc")
    return per_source(p["ifc.ir"], p["ifc.vi"])


@register_metric(
    "vif", parts=("ir", "vi"), higher_is_better=True,
    description="visual information fidelity (LIVE vifvec, pixel-vector GSM), mean over the two sources",
    reference="Sheikh & Bovik, IEEE TIP 2006; LIVE vifvec release (sigma_n^2 = 0.4) with the ifcvec "
              "helpers and matlabPyrTools @f02ab059 buildSpyr sp5/reflect1",
)
def vif(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> dict[str, float]:
    """VIF of a fused image: ``vif.ir = vifvec(IR, F)``, ``vif.vi = vifvec(VI, F)``, total = their mean.

    Returns ``{"total": (ir + vi)/2, "ir": ..., "vi": ...}``; input rules as :func:`ifc`.

    Notes
    -----
    ``vifvec(ref, dist) = sum log2(1 + g^2 s lambda_j / (sigma_v^2 + 0.4)) /
    sum log2(1 + s lambda_j / 0.4)`` over the same subbands, blocks and eigenvalues as
    :func:`ifc` (Sheikh & Bovik, "Image information and visual quality", IEEE TIP 15(2), 2006;
    LIVE ``vifvec.m``, same helper functions and pyramid, ``sigma_nsq = 0.4``). Reproduce a
    part with ``vifvec(double(IR), double(F))``. Range ``[0, ~1]`` (1 for identical images; can
    exceed 1 for contrast enhancement); higher is better. This is the LIVE pixel-vector VIF, not
    VIFF (Han et al. 2013). A part whose reference is constant is NaN (0/0, as in the original);
    IFC is 0 there (the original's ``inv`` of a zero covariance gives NaN).
    """
    p = ifc_vif_parts(ir, vi, fused, want_ifc=False, who="vif")
    return per_source(p["vif.ir"], p["vif.vi"])
