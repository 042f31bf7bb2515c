"""Gradient-based metrics: spatial frequency (SF), average gradient (AG), edge intensity (EI),
and Shreyamsha Kumar's modified fusion-artifact measure (N_ABF).

All cores take float64 gray images on the 0..255 scale. SF and EI are the very functions the
VIFB-compatible ``vifb:sf`` / ``vifb:ei`` use (per colour channel there); VIFB's AG differs
from the paper's and is :func:`average_gradient_matlab`.
"""
from __future__ import annotations

import threading

import numpy as np

from fusionbench.imageio import check_images
from fusionbench.metrics._filters import sobel_xy
from fusionbench.registry import register_metric


def spatial_frequency(f: np.ndarray, norm: str = "pixels") -> float:
    """``sqrt(RF^2 + CF^2)``, ``RF^2 = sum (F(i,j) - F(i,j-1))^2 / D``, CF likewise down columns.

    ``norm='pixels'``: ``D = M*N`` for both terms (Eskicioglu & Fisher 1995; VIFB
    ``metricsSpatial_frequency``). ``norm='differences'``: each term is the *mean* over its own
    difference grid, ``M(N-1)`` and ``(M-1)N`` (CDDFuse ``Evaluator.SF``, Tang ``SF_evaluation``,
    IVIF_ZOO ``SF_function``); about 0.1 % larger on TNO-sized images.
    """
    if norm not in ("pixels", "differences"):
        raise ValueError(f"spatial_frequency: norm must be 'pixels' or 'differences', got {norm!r}")
    sh, sv = _squared_differences(f)
    m, n = np.shape(f)
    if norm == "differences":
        return float(np.sqrt(sh / (m * (n - 1)) + sv / ((m - 1) * n)))
    return float(np.sqrt(sh / (m * n) + sv / (m * n)))


_SQUARES_U16 = (np.arange(256, dtype=np.int64) ** 2).astype(np.uint16).reshape(1, 256)


def _squared_differences(f: np.ndarray) -> tuple[float, float]:
    """Sums of squared horizontal and vertical neighbour differences of ``f``.

    On 8-bit data (a uint8 array, or inside ``evaluate`` the float64 image of one:
    :func:`fusionbench.imageio.uint8_twin`) the sums are integers below 2^53, which float64
    adds exactly in any order: OpenCV ``absdiff`` of the uint8 views, squared by a uint16 lookup
    table and summed (``sumElems``: integer blocks, exact) give the very values of the float64
    sums, without float64 temporaries. Otherwise float64 differences, squared in place, one at
    a time.
    """
    from fusionbench.imageio import uint8_twin

    a = np.asarray(f)
    u8 = a if a.dtype == np.uint8 else uint8_twin(a)
    if u8 is not None and u8.ndim == 2 and min(u8.shape) > 1 and u8.size < 1 << 24:
        import cv2

        u8 = np.ascontiguousarray(u8)
        sq = _SQUARES_U16

        from fusionbench.metrics.similarity import _ssd_u8

        if u8.size < 1 << 24:    # exact integer sums (cv2.norm L2SQR, rounded: see _ssd_u8)
            return _ssd_u8(u8[:, 1:], u8[:, :-1]), _ssd_u8(u8[1:, :], u8[:-1, :])

        def ssd(x: np.ndarray, y: np.ndarray) -> float:   # |x - y| -> its square (uint16) -> sum
            return float(cv2.sumElems(cv2.LUT(cv2.absdiff(x, y), sq))[0])
        return ssd(u8[:, 1:], u8[:, :-1]), ssd(u8[1:, :], u8[:-1, :])
    a = np.asarray(a, np.float64)
    out = []
    for axis in (1, 0):
        d = np.diff(a, axis=axis)
        np.multiply(d, d, out=d)
        out.append(np.sum(d))
        del d
    return out[0], out[1]


def average_gradient(f: np.ndarray) -> float:
    """Paper AG: mean over the (M-1)(N-1) grid of ``sqrt((dx^2 + dy^2) / 2)`` with forward differences.

    ``dx = F(i,j+1) - F(i,j)``, ``dy = F(i+1,j) - F(i,j)`` (Cui et al. 2015, Opt. Commun. 341).
    """
    f = np.asarray(f, np.float64)
    if min(f.shape) < 2:
        raise ValueError("average gradient needs at least 2x2 pixels")
    dx = f[:-1, 1:] - f[:-1, :-1]
    dy = f[1:, :-1] - f[:-1, :-1]
    return float(np.mean(np.sqrt((dx * dx + dy * dy) / 2.0)))


def average_gradient_matlab(f: np.ndarray, norm: str = "grid") -> float:
    """VIFB ``metricsAvg_gradient`` on one band: MATLAB ``gradient`` (central differences inside,
    one-sided at the border) at all M*N pixels, ``sum(sqrt((gx^2 + gy^2)/2)) / D``.

    ``norm='grid'``: ``D = (M-1)(N-1)`` (VIFB, Tang ``AG_evaluation``); ``norm='pixels'``:
    ``D = M*N``, the plain mean (CDDFuse ``Evaluator.AG``, IVIF_ZOO ``AG_function``).
    """
    from fusionbench.imageio import uint8_twin

    a = np.asarray(f)
    u8 = a if a.dtype == np.uint8 else uint8_twin(a)
    if min(a.shape) < 2:
        raise ValueError("average gradient needs at least 2x2 pixels")
    if u8 is not None and u8.ndim == 2:
        s = _gradient_magnitude_8bit(u8)
    else:
        f = np.asarray(a, np.float64)
        gy, gx = np.gradient(f)
        s = np.multiply(gx, gx, out=gx)            # sqrt((gx^2 + gy^2) / 2), in place
        s += np.multiply(gy, gy, out=gy)
        del gy
        s /= 2.0
        np.sqrt(s, out=s)
    if norm == "pixels":
        return float(s.sum() / a.size)
    if norm != "grid":
        raise ValueError(f"average gradient: norm must be 'grid' or 'pixels', got {norm!r}")
    return float(s.sum() / ((a.shape[0] - 1) * (a.shape[1] - 1)))


_WORK = threading.local()


def _gradient_magnitude_8bit(u8: np.ndarray) -> np.ndarray:
    """``sqrt((gx^2 + gy^2) / 2)`` of ``np.gradient`` for 8-bit data (at least 2x2): the same
    doubles as the float64 code, from integer differences in one compiled pass
    (:func:`fusionbench.metrics._moments.central_magnitude`: ``G = 2 g`` is an integer and
    ``(gx^2 + gy^2) / 2 = (Gx^2 + Gy^2) * 0.125`` exactly). Written into a per-thread float64
    work array (kept for images up to 2 MP: a fresh multi-megabyte array costs more in page
    faults than the arithmetic); the result is valid until this thread's next call (the caller
    sums it at once, in C order like the float64 code, so the sum is bit for bit the same).
    """
    from fusionbench.metrics._moments import central_magnitude

    s = getattr(_WORK, "s", None)
    if s is None or s.shape != u8.shape:
        s = np.empty(u8.shape)
        if u8.size <= 1 << 21:
            _WORK.s = s
    return central_magnitude(np.ascontiguousarray(u8), s)


def edge_intensity(f: np.ndarray, border: str = "replicate") -> float:
    """Mean Sobel gradient magnitude, MATLAB ``imfilter(F, fspecial('sobel'), 'replicate')``
    and its transpose (VIFB ``metricsEdge_intensity``; Rajalingam & Priya 2018).

    ``border='zero'``: zero padding instead (IVIF_ZOO ``EI_function``, ``conv2d(padding=1)``)."""
    f = np.asarray(f, np.float64)
    gx, gy = sobel_xy(f, border)
    return float(np.mean(np.sqrt(gx * gx + gy * gy)))


# -- N_ABF (Petrovic's objective measures as coded by B. K. Shreyamsha Kumar) -----------------
_NABF = dict(Td=2.0, wt_min=0.001, Lg=1.5, Nrg=0.9999, kg=19.0, sigmag=0.5, Nra=0.9995, ka=22.0, sigmaa=0.5)


def _sobel_kumar(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``sobel_fn``: Sobel / 8 on a mirror extension (edge pixel not repeated); returns gv, gh, |g|."""
    gx, gy = sobel_xy(x, "mirror")
    gv = gx / 8.0   # [-1 0 1; -2 0 2; -1 0 1] / 8
    gh = gy / 8.0   # [-1 -2 -1; 0 0 0; 1 2 1] / 8
    return gv, gh, np.sqrt(gh * gh + gv * gv)


def _angle(gv: np.ndarray, gh: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.arctan(gv / gh)
    return np.where((gv == 0) & (gh == 0), 0.0, a)


def _edge_preservation(gX: np.ndarray, aX: np.ndarray, gF: np.ndarray, aF: np.ndarray) -> np.ndarray:
    p = _NABF
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(gX > gF, gF / gX, gX / gF)
    g = np.where((gX == 0) | (gF == 0), 0.0, g)
    a = np.abs(np.abs(aX - aF) - np.pi / 2) * 2 / np.pi
    qg = p["Nrg"] / (1 + np.exp(-p["kg"] * (g - p["sigmag"])))
    qa = p["Nra"] / (1 + np.exp(-p["ka"] * (a - p["sigmaa"])))
    return np.sqrt(qg * qa)


def nabf_kumar(a: np.ndarray, b: np.ndarray, f: np.ndarray, wt_min: float = _NABF["wt_min"]) -> float:
    """Modified fusion artifacts N_ABF (Shreyamsha Kumar), ``objective_fusion_perform_fn.m``.

    Inputs on the 0..255 scale (the threshold Td = 2 acts on gradient magnitudes). ``wt_min``
    is the weight of pixels whose source gradient is below Td (0.001 in the original;
    IVIF_ZOO's vectorised ``get_Nabf`` uses 0).
    """
    p = _NABF
    gvA, ghA, gA = _sobel_kumar(np.asarray(a, np.float64))
    gvB, ghB, gB = _sobel_kumar(np.asarray(b, np.float64))
    gvF, ghF, gF = _sobel_kumar(np.asarray(f, np.float64))
    aA, aB, aF = _angle(gvA, ghA), _angle(gvB, ghB), _angle(gvF, ghF)
    qAF = _edge_preservation(gA, aA, gF, aF)
    qBF = _edge_preservation(gB, aB, gF, aF)
    wA = np.where(gA >= p["Td"], gA ** p["Lg"], wt_min)
    wB = np.where(gB >= p["Td"], gB ** p["Lg"], wt_min)
    na = (gF > gA) & (gF > gB)
    num = np.sum(np.where(na, (1 - qAF) * wA + (1 - qBF) * wB, 0.0))
    return float(num / np.sum(wA + wB))


# -- registered textbook metrics ------------------------------------------------------------

@register_metric("sf", description="spatial frequency of the fused image, sqrt(RF^2+CF^2), sums / (M*N)",
                 higher_is_better=True,
                 reference="Eskicioglu & Fisher 1995, IEEE TCOM 43(12); = VIFB metricsSpatial_frequency on gray")
def sf(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, *, norm: str = "pixels") -> float:
    """Spatial frequency of the fused image.

    Notes
    -----
    ``SF = sqrt(RF^2 + CF^2)``, ``RF^2 = 1/(MN) sum_i sum_{j>=2} (F(i,j) - F(i,j-1))^2``, CF the
    same down the columns (Eskicioglu & Fisher 1995). Equal to VIFB's ``metricsSpatial_frequency``
    on a gray image (``vifb:sf`` differs on colour: see there). Some scripts divide by the
    number of differences (M(N-1)) instead; the difference is small for large images.
    Range 0..255; higher is better. Sources are ignored.
    ``norm='differences'`` (a configuration parameter) takes each term's mean over its own
    difference grid instead, as the CDDFuse, Tang and IVIF_ZOO scripts do.
    """
    (f,) = check_images(fused, names=("fused",), who="sf", convert=False)  # 8-bit: integer sums
    return spatial_frequency(f, norm)


@register_metric("ag", description="average gradient (forward differences, mean over the (M-1)(N-1) grid)",
                 higher_is_better=True,
                 reference="Cui et al. 2015, Opt. Commun. 341 (VIFB's vifb:ag uses MATLAB gradient instead)")
def ag(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, *, gradient: str = "forward",
       norm: str = "grid") -> float:
    """Average gradient of the fused image.

    Notes
    -----
    ``AG = 1/((M-1)(N-1)) sum_{i<M, j<N} sqrt(((F(i,j+1)-F(i,j))^2 + (F(i+1,j)-F(i,j))^2) / 2)``
    (Cui et al., Optics Communications 341, 2015). Deliberate difference from VIFB:
    ``metricsAvg_gradient`` takes MATLAB ``gradient`` (central differences) at all M*N pixels
    and divides by (M-1)(N-1) (``vifb:ag``). Range 0..255; higher is better.

    Configuration parameters: ``gradient='central'`` uses MATLAB/NumPy ``gradient`` at all
    M*N pixels (:func:`average_gradient_matlab`) with ``norm='grid'`` (divide by (M-1)(N-1),
    VIFB/Tang) or ``norm='pixels'`` (divide by M*N, CDDFuse/IVIF_ZOO).
    """
    (f,) = check_images(fused, names=("fused",), who="ag", convert=False)  # 8-bit: integer gradients
    if gradient == "central":
        return average_gradient_matlab(f, norm)
    if gradient != "forward" or norm != "grid":
        raise ValueError(f"ag: unsupported gradient={gradient!r}, norm={norm!r}")
    return average_gradient(f)


@register_metric("ei", description="edge intensity: mean Sobel gradient magnitude of the fused image",
                 higher_is_better=True,
                 reference="Rajalingam & Priya 2018 (IJESI); = VIFB metricsEdge_intensity on gray")
def ei(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, *, border: str = "replicate") -> float:
    """Edge intensity of the fused image.

    Notes
    -----
    ``EI = mean(sqrt(Gx^2 + Gy^2))`` with the unnormalised 3x3 Sobel kernels and replicated
    borders (MATLAB ``imfilter(F, fspecial('sobel'), 'replicate')``), as VIFB's
    ``metricsEdge_intensity``. Range 0..~1442; higher is better. Sources are ignored.
    """
    (f,) = check_images(fused, names=("fused",), who="ei")
    return edge_intensity(f, border)


@register_metric("nabf", description="N_ABF: Kumar's modified fusion-artifact measure (noise added by fusion)",
                 higher_is_better=False,
                 reference="Shreyamsha Kumar 2013/2015 (SIVP 9:1193); objective_fusion_perform_fn.m (CBF code)")
def nabf(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, *, wt_min: float = 0.001,
         operands: str = "ir,vi,fused") -> float:
    """Modified fusion artifacts N_ABF.

    Notes
    -----
    Petrovic's edge preservation ``Q^XF = sqrt(Q_g Q_a)`` (Nrg 0.9999, kg 19, sigma_g 0.5;
    Nra 0.9995, ka 22, sigma_a 0.5; Sobel / 8 with mirrored borders; folded angle difference),
    weights ``w_X = g_X^1.5`` where ``g_X >= 2`` else 0.001;
    ``N_ABF = sum_{gF > gA and gF > gB} ((1-Q^AF) w_A + (1-Q^BF) w_B) / sum(w_A + w_B)``
    (B. K. Shreyamsha Kumar, "Image fusion based on pixel significance using cross bilateral
    filter", SIViP 2015; his ``objective_fusion_perform_fn.m``, shipped in VIFB
    ``methods/CBF``). Images on the 0..255 scale: scripts that pass ``im2double`` images (0..1)
    make every weight 0.001 and get different values. Range 0..1 (0 = no artifacts); lower is
    better.

    Configuration parameters: ``wt_min`` (weight below Td); ``operands`` names which images
    play the original's ``(I1, I2, f)``: ``'vi,fused,ir'`` reproduces Tang's
    ``analysis_Reference``, which calls ``analysis_nabf(ir, vi, F)`` although the function takes
    the fused image first (so IR plays the fused image).
    """
    a, b, f = check_images(ir, vi, fused, who="nabf")
    imgs = {"ir": a, "vi": b, "fused": f}
    x1, x2, xf = (imgs[k.strip()] for k in operands.split(","))
    return nabf_kumar(x1, x2, xf, wt_min)
