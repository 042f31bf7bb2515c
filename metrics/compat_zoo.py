"""``zoo:*``: the 21 metrics of IVIF_ZOO's ``Metric/`` scripts, values as ``eval_torch.evaluation_one`` computes them.

Reference code followed: RollingPlain/IVIF_ZOO @ 61b0a44, ``Metric/eval_torch.py`` ->
``Metric_torch.py``, ``Qabf.py``, ``Nabf.py``, ``ssim.py``. Images are read with PIL
``.convert('L')`` (input convention ``zoo``: ``(19595 R + 38470 G + 7471 B + 0x8000) >> 16``
on colour, uint8). The script's quirks are reproduced, not fixed; each description says how
the number differs from the textbook metric of the same name. Most of the script runs in
float32 torch (EN, CE, QNCIE, TE, EI, SF, SD, CC, SCD, VIF, MSE, PSNR, Qabf, SSIM, MS_SSIM);
Qy, Qcb and Nabf in float64, MI/NMI in exact integer histograms. Where float64 evaluation of
the same formula agrees with the float32 script to ~1e-6, fusionbench computes in float64; the
metrics whose float32 round-off is part of the value are computed in float32: CE, SSIM and
MS_SSIM with torch as the script, VIF with full 2-D float32 windows (``vifp._vifp_float32``;
the script's own value moves by ~3e-5 between torch thread counts).
"""
from __future__ import annotations

import functools
import math
import threading

import numpy as np

from fusionbench.imageio import check_images
from fusionbench.metrics.gradient import ag, ei, nabf, sf
from fusionbench.metrics.information import mi
from fusionbench.metrics._parts import per_source
from fusionbench.metrics.qabf import QABF_VIFB, qabf
from fusionbench.metrics.similarity import _float64, _triple_u8, cc, mean_mse, psnr, scd
from fusionbench.metrics.stats import en, sd
from fusionbench.metrics.vifp import vifp_sum
from fusionbench.registry import register_input, register_metric, register_preset

REF = "RollingPlain/IVIF_ZOO @61b0a44 Metric/"


from fusionbench.imageio import pil_gray  # noqa: E402

register_input("zoo", pil_gray, "IVIF_ZOO: PIL Image.open(..).convert('L') (integer ITU-R 601 weights, uint8)")


# -- formulas of their own ---------------------------------------------------------------------

def _hist_entropy(x: np.ndarray, eps: float) -> float:
    """``-sum p log2(p + eps)`` of the 256-level histogram of integer levels."""
    levels = np.clip(np.floor(x + 0.5), 0, 255).astype(np.int64)
    p = np.bincount(levels.ravel(), minlength=256) / levels.size
    return float(-(p * np.log2(p + eps)).sum())


def zoo_ce(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """IVIF_ZOO ``CE_function``: binary cross-entropy of ``sigmoid(F)`` against ``(sigmoid(IR) + sigmoid(VI))/2``.

    On 0..255 data the sigmoid is 1 (in float32) for every level above 16, so after the clamp to
    ``[1e-7, 1-1e-7]`` the value is float32 round-off (~1e-5) carrying almost no information
    about the fusion; it is not the histogram cross entropy of ``ce``. Computed in float32 as the
    script's torch code on one thread: on 8-bit images from per-level torch tables (sigmoid, the
    clamped logs) and a compiled pass that forms each element in torch's float32 order and sums
    them as ATen's ``cascade_sum`` does (:mod:`fusionbench.metrics._moments`; bit for bit the
    one-thread torch value, checked in tests/metrics/test_similarity_8bit.py); other images with
    torch itself. Lower is better (as the script's users read it).
    """
    images = check_images(ir, vi, fused, who="zoo:ce", convert=False)
    u8 = _triple_u8(images)
    if u8 is not None and u8[0].size >= 64 and _torch_sum_lanes() is not None:
        return _zoo_ce_u8(*u8)
    import torch
    import torch.nn.functional as tf

    a, b, f = (torch.from_numpy(np.asarray(_float64(x), np.float32)) for x in images)
    eps = 1e-7
    sf_ = torch.clamp(torch.sigmoid(f), eps, 1.0 - eps)
    target = torch.clamp((torch.sigmoid(a) + torch.sigmoid(b)) / 2, eps, 1.0 - eps)
    return float(tf.binary_cross_entropy(sf_, target).item())


@functools.cache
def _torch_sum_lanes() -> int | None:
    """The float32 vector width with which :func:`fusionbench.metrics._moments._torch_sum_f32`
    reproduces this torch build's one-thread ``torch.sum`` (16 on AVX-512, else 8), checked once
    per process on a few lengths; None where it does not (callers then keep torch itself)."""
    import torch

    from fusionbench.metrics._moments import _torch_sum_f32

    lanes = 16 if "512" in torch.backends.cpu.get_cpu_capability() else 8
    x = np.random.default_rng(22).random(30011).astype(np.float32)   # below ATen's grain: one thread
    sizes = (64, 4103, 30011)
    want = [torch.from_numpy(x[:m]).sum().item() for m in sizes]
    return lanes if want == [float(_torch_sum_f32(x[:m], lanes)) for m in sizes] else None


@functools.cache
def _ce_tables() -> dict[str, object]:
    """torch's float32 values per grey level: sigmoid, and for the fused image's clamped sigmoid
    ``s`` the two clamped logs of ``binary_cross_entropy``; the clamp bounds."""
    import torch

    sig = torch.sigmoid(torch.arange(256, dtype=torch.float32))
    s = torch.clamp(sig, 1e-7, 1.0 - 1e-7)
    return dict(sig=sig.numpy().copy(), log_s=torch.clamp(torch.log(s), min=-100).numpy().copy(),
                log_1ms=torch.clamp(torch.log1p(-s), min=-100).numpy().copy(),
                lo=np.float32(1e-7), hi=np.float32(1.0 - 1e-7))


_CE_WORK = threading.local()


def _zoo_ce_u8(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """:func:`zoo_ce` of uint8 images (see there), in a per-thread float32 work array."""
    from fusionbench.metrics._moments import _bce_elements, _torch_sum_f32

    t = _ce_tables()
    n = a.size
    buf = getattr(_CE_WORK, "buf", None)
    if buf is None or buf.size < n:
        buf = np.empty(n, np.float32)
        if n <= 1 << 22:
            _CE_WORK.buf = buf
    el = _bce_elements(a.reshape(-1), b.reshape(-1), f.reshape(-1), t["sig"], t["lo"], t["hi"],
                       t["log_s"], t["log_1ms"], buf[:n])
    return float(_torch_sum_f32(el, _torch_sum_lanes()) / np.float32(n))   # mean: float32 sum / n in float32


def zoo_nmi(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """IVIF_ZOO ``NMI_function``: ``2 (MI(IR,F) + MI(VI,F)) / (H(IR) + H(VI) + 1e-10)`` in bits.

    Normalised by the *sources'* entropies only, not Hossny's per-source ``H(X) + H(F)``
    (fusionbench ``nmi``); entropies with ``log2(p + 1e-10)``. Range 0..~2; higher is better.
    """
    from fusionbench.metrics.information import mutual_information

    a, b, f = check_images(ir, vi, fused, who="zoo:nmi")
    m = mutual_information(a, f) + mutual_information(b, f)
    return 2.0 * m / (_hist_entropy(a, 1e-10) + _hist_entropy(b, 1e-10) + 1e-10)


def zoo_qncie(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """Q_NCIE (Wang, Shen & Zhang's nonlinear correlation information entropy) as IVIF_ZOO computes it.

    Each image is min-max scaled to 0..1; ``R`` is the 3x3 matrix of global correlation
    coefficients (with ``+1e-10`` in the denominator) between IR, VI and F; with its
    eigenvalues ``r_i``, ``Q = 1 + sum r_i log2(r_i / 3) / (3 log2 256)``. This uses *linear*
    correlations of whole images, not Wang's rank-based nonlinear correlation coefficients, so
    values sit just above 0.8. Range ~0.8..1; higher is better.
    """
    images = check_images(ir, vi, fused, who="zoo:qncie", convert=False)
    u8 = _triple_u8(images)
    c = _qncie_correlations_u8(*u8) if u8 is not None else None
    if c is None:
        c = _qncie_correlations(*(_float64(x) for x in images))
    xy, xf, yf = c
    r = np.linalg.eigvalsh(np.array([[1.0, xy, xf], [xy, 1.0, yf], [xf, yf, 1.0]]))
    hr = -float(np.sum(r * np.log2(r / 3.0) / 3.0)) / np.log2(256.0)
    return 1.0 - hr


def _qncie_correlations_u8(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> tuple[float, float, float] | None:
    """The three ``ncc`` of :func:`_qncie_correlations` for uint8 images from their exact integer
    moments (:mod:`fusionbench.metrics._moments`). Min-max scaling by ``r_x = max - min`` divides the
    centred sums by ``r_x r_y``: ``ncc = (D_xy / (n r_x r_y)) / (sqrt(D_xx D_yy) / (n r_x r_y) + 1e-10)``
    with the exact integers ``D_xy = n S_xy - S_x S_y``. None for a constant image (the float
    formula's 0/0 then applies)."""
    from fusionbench.metrics._moments import centred, sums3

    rng = {k: int(x.max()) - int(x.min()) for k, x in zip("abf", (a, b, f))}
    if 0 in rng.values():
        return None
    m, n = sums3(a, b, f), a.size

    def ncc(x: str, y: str) -> float:
        scale = n * rng[x] * rng[y]
        den = math.sqrt(centred(n, m[x], m[x], m[x + x]) * centred(n, m[y], m[y], m[y + y])) / scale
        return float(centred(n, m[x], m[y], m[x + y]) / scale / (den + 1e-10))

    return ncc("a", "b"), ncc("a", "f"), ncc("b", "f")


def _qncie_correlations(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> tuple[float, float, float]:
    """IVIF_ZOO's ``NCC`` of (IR, VI), (IR, F), (VI, F) after min-max scaling each image to 0..1."""
    def unit(x):
        lo, hi = x.min(), x.max()
        return (x - lo) / (hi - lo)

    a, b, f = unit(a), unit(b), unit(f)

    def ncc(x, y):
        dx, dy = x - x.mean(), y - y.mean()
        return float(np.sum(dx * dy) / (np.sqrt(np.sum(dx * dx) * np.sum(dy * dy)) + 1e-10))

    return ncc(a, b), ncc(a, f), ncc(b, f)


def zoo_te(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """IVIF_ZOO ``TE_function`` with its default q = 1: ``H(IR) + H(VI) - H(F)`` (Shannon, bits).

    Tsallis entropy degenerates to Shannon entropy at q = 1 (the script's default); entropies of
    256-level histograms with ``log2(p + 1e-10)``. Not a fusion-quality measure of the
    literature's Tsallis form; higher values mean a *lower*-entropy F.
    """
    a, b, f = check_images(ir, vi, fused, who="zoo:te")
    return _hist_entropy(a, 1e-10) + _hist_entropy(b, 1e-10) - _hist_entropy(f, 1e-10)


def _qy_filter(x: np.ndarray) -> np.ndarray:
    import cv2

    g = np.exp(-((np.arange(7) - 3.0) ** 2) / (2 * 1.5 ** 2))
    g /= g.sum()
    return cv2.sepFilter2D(np.ascontiguousarray(x, np.float64), cv2.CV_64F, g, np.ones(7),
                           borderType=cv2.BORDER_CONSTANT)


def _qy_ssim(x: np.ndarray, y: np.ndarray, sx: tuple, sy: tuple) -> np.ndarray:
    (mx, vx), (my, vy) = sx, sy
    cxy = _qy_filter(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))


def zoo_qy(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """IVIF_ZOO ``Qy_function``: Yang's Q_Y with the script's window and constants.

    The 7x7 window is a 1x7 Gaussian (sigma 1.5) repeated down 7 rows, so it **sums to 7**
    (local "means" are 7x too large and variances are not variances); zero-padded 'same'
    filtering, C1 = 1e-4 and C2 = 9e-4 on 0..255 data, ``lambda = s_IR / (s_IR + s_VI + 1e-10)``,
    mean over all pixels. Liu's ``metricYang`` (``qy``) uses a normalised window over the valid
    windows. Higher is better.
    """
    a, b, f = check_images(ir, vi, fused, who="zoo:qy")
    stats = {}
    for k, x in (("a", a), ("b", b), ("f", f)):
        m = _qy_filter(x)
        stats[k] = (m, _qy_filter(x * x) - m * m)
    s_ab = _qy_ssim(a, b, stats["a"], stats["b"])
    s_af = _qy_ssim(a, f, stats["a"], stats["f"])
    s_bf = _qy_ssim(b, f, stats["b"], stats["f"])
    va, vb = stats["a"][1], stats["b"][1]
    lam = va / (va + vb + 1e-10)
    q = np.where(s_ab >= 0.75, lam * s_af + (1 - lam) * s_bf, np.maximum(s_af, s_bf))
    return float(q.mean())


def _qcb_gauss(sigma: float) -> np.ndarray:
    x = np.arange(-15, 16, dtype=np.float64)
    return np.exp(-(x * x) / (2 * sigma * sigma)) / np.sqrt(2 * np.pi * sigma * sigma)


def zoo_qcb(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray) -> float:
    """IVIF_ZOO ``Qcb_function``: Chen-Blum Q_CB as that script re-implements it (float64).

    Differences from Chen & Blum / Liu's ``metricChenBlum`` (``qcb``): the DoG contrast
    sensitivity filter is evaluated on ``fftfreq`` grids scaled by ``size/30`` (no
    ``fftshift``/``freqspace``); the 31x31 Gaussians (sigma 2 and 4) are normalised by
    ``2 pi sigma^2`` rather than by their sum and applied with zero padding; the contrast is
    ``G2-blurred / (G4-blurred + 1e-10) - 1``; weights ``C^2 / (C1^2 + C2^2 + 1e-10)``. Images
    are min-max scaled to 0..1 first. Higher is better.
    """
    import cv2

    a, b, f = check_images(ir, vi, fused, who="zoo:qcb")
    h, w = a.shape
    u = np.fft.fftfreq(h)[:, None] * (h / 30.0)
    v = np.fft.fftfreq(w)[None, :] * (w / 30.0)
    r = np.sqrt(u * u + v * v)
    csf = np.exp(-(r / 15.3870) ** 2) - 0.7622 * np.exp(-(r / 1.3456) ** 2)
    g2, g4 = _qcb_gauss(2.0), _qcb_gauss(4.0)

    def contrast_power(x):
        x = (x - x.min()) / (x.max() - x.min())
        y = np.real(np.fft.ifft2(np.fft.fft2(x) * csf))
        b1 = cv2.sepFilter2D(y, cv2.CV_64F, g2, g2, borderType=cv2.BORDER_CONSTANT)
        b2 = cv2.sepFilter2D(y, cv2.CV_64F, g4, g4, borderType=cv2.BORDER_CONSTANT)
        c = np.abs(b1 / (b2 + 1e-10) - 1)
        return c ** 3 / (c ** 2 + 1e-4)

    p1, p2, pf = contrast_power(a), contrast_power(b), contrast_power(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        q1 = np.where(p1 < pf, p1 / pf, pf / p1)
        q2 = np.where(p2 < pf, p2 / pf, pf / p2)
    den = p1 * p1 + p2 * p2 + 1e-10
    return float(np.mean(p1 * p1 / den * q1 + p2 * p2 / den * q2))


def _gauss_win():
    """pytorch_msssim's ``_fspecial_gauss_1d(11, 1.5)`` (float32 torch)."""
    import torch

    coords = torch.arange(11, dtype=torch.float32) - 5
    win = torch.exp(-(coords ** 2) / (2 * 1.5 ** 2))
    return win / win.sum()


_BLUR: dict[str, object] = {}


def _blur_fn(win):
    """pytorch_msssim ``gaussian_filter`` of a ``1x1xHxW`` float32 tensor ('valid', separable).

    The compiled :func:`fusionbench.metrics._moments.blur_valid_f32` reproduces torch's
    one-thread CPU convolution bit for bit (oneDNN's fused multiply-add chain above
    ``TORCH_ONEDNN_MIN`` input elements, the native kernel's multiply-then-add below) and is ~10x
    faster; it is checked against ``conv2d`` once per process on both sides of that size and on
    this torch build, else torch's own ``conv2d`` is used.
    """
    import torch
    import torch.nn.functional as tf

    def torch_blur(z):
        z = tf.conv2d(z, win.view(1, 1, -1, 1))
        return tf.conv2d(z, win.view(1, 1, 1, -1))

    if "ok" not in _BLUR:
        from fusionbench.metrics._moments import blur_valid_f32

        w = win.numpy().copy()
        rng = np.random.default_rng(22)
        tests = [(rng.random(shape) * 65025.0).astype(np.float32) for shape in ((150, 160), (61, 81), (139, 150))]
        _BLUR["ok"] = all(
            np.array_equal(blur_valid_f32(x, w), torch_blur(torch.from_numpy(x)[None, None])[0, 0].numpy())
            for x in tests)
        _BLUR["w"] = w
    if not _BLUR["ok"]:
        return torch_blur
    from fusionbench.metrics._moments import blur_valid_f32

    w = _BLUR["w"]
    return lambda z: torch.from_numpy(blur_valid_f32(np.ascontiguousarray(z[0, 0].numpy()), w))[None, None]


def _torch_ssim_cs(x, y, blur, data_range: float, y_stats=None):
    """pytorch_msssim ``_ssim`` (as copied into IVIF_ZOO ``ssim.py``): separable Gaussian, 'valid',
    float32. ``y_stats``: ``(mu2, blur(y * y))`` when already computed for this ``y`` (the fused
    image is scored against both sources; the same tensors, so the same values)."""
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mu1 = blur(x)
    mu2, byy = y_stats if y_stats is not None else (blur(y), blur(y * y))
    s11 = blur(x * x) - mu1.pow(2)
    s22 = byy - mu2.pow(2)
    s12 = blur(x * y) - mu1 * mu2
    cs_map = (2 * s12 + c2) / (s11 + s22 + c2)
    ssim_map = ((2 * mu1 * mu2 + c1) / (mu1.pow(2) + mu2.pow(2) + c1)) * cs_map
    return _mean_one_thread(ssim_map), _mean_one_thread(cs_map), (mu2, byy)


def _mean_one_thread(t):
    """``t.flatten(2).mean(-1)`` of a ``1x1xHxW`` float32 tensor as torch computes it on one thread
    (float32 cascade sum, then ``/ n`` in float32: :func:`fusionbench.metrics._moments._torch_sum_f32`,
    where it reproduces ``torch.sum`` on this build), whatever torch's thread count: the value the
    script's one-thread reference run gives."""
    import torch

    lanes = _torch_sum_lanes()
    if lanes is None or t.shape[:2] != (1, 1) or t[0, 0].numel() < 64:   # small: torch sums serially
        return t.flatten(2).mean(-1)
    from fusionbench.metrics._moments import _torch_sum_f32

    x = np.ascontiguousarray(t.numpy()).reshape(-1)
    return torch.tensor([[_torch_sum_f32(x, lanes) / np.float32(x.size)]], dtype=torch.float32)


def _zoo_ssim_both(sources: tuple[np.ndarray, ...], f: np.ndarray, multiscale: bool) -> list[float]:
    """``S(src, f)`` for each source: pytorch_msssim ``ssim`` or ``ms_ssim`` as IVIF_ZOO calls them
    (float32 torch, one image per call; the fused image's blurred statistics are computed once per
    scale and shared by the sources)."""
    import torch
    import torch.nn.functional as tf

    # to_tensor keeps float32 input unscaled, then ssim() multiplies by 255: data on 0..65025
    def tensor(a):
        return torch.from_numpy(np.ascontiguousarray(a, np.float32))[None, None] * 255.0

    if min(np.shape(f)) < 11:
        raise ValueError(f"zoo:ssim needs images of at least 11x11 pixels, got {np.shape(f)[1]}x{np.shape(f)[0]}")
    y0 = tensor(f)
    blur = _blur_fn(_gauss_win())
    with torch.no_grad():
        if not multiscale:
            out, stats = [], None
            for src in sources:
                ssim_c, _, stats = _torch_ssim_cs(tensor(src), y0, blur, 255.0, stats)
                out.append(float(ssim_c.mean().item()))
            return out
        if min(y0.shape[-2:]) <= 160:
            raise ValueError(f"zoo:ms_ssim needs both sides > 160 pixels, got {y0.shape[-1]}x{y0.shape[-2]}")
        weights = torch.tensor([0.0448, 0.2856, 0.3001, 0.2363, 0.1333], dtype=torch.float32)
        ys, xs = [y0], [[tensor(src)] for src in sources]
        for i in range(4):                       # the avg_pool pyramid of each image, once
            pad = [s % 2 for s in ys[-1].shape[2:]]
            ys.append(tf.avg_pool2d(ys[-1], kernel_size=2, padding=pad))
            for pyr in xs:
                pyr.append(tf.avg_pool2d(pyr[-1], kernel_size=2, padding=pad))
        stats = [None] * 5
        out = []
        for pyr in xs:
            mcs = []
            for i in range(5):
                ssim_c, cs, stats[i] = _torch_ssim_cs(pyr[i], ys[i], blur, 255.0, stats[i])
                if i < 4:
                    mcs.append(torch.relu(cs))
            vals = torch.stack(mcs + [torch.relu(ssim_c)], dim=0)
            out.append(float(torch.prod(vals ** weights.reshape(-1, 1, 1), dim=0).mean().item()))
        return out


def zoo_ssim(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, *, multiscale: bool = False) -> dict:
    """IVIF_ZOO ``SSIM_function`` / ``MS_SSIM_function``: ``S(IR,F) + S(VI,F)`` (summed, range up to 2).

    ``S`` is pytorch_msssim's SSIM (11x11 Gaussian sigma 1.5, 'valid' windows, K = 0.01, 0.03,
    L = 255) or, with ``multiscale``, its 5-scale MS-SSIM (``avg_pool2d`` with zero padding of odd
    sides, negative terms clipped at 0). The script hands float32 arrays to ``to_tensor``,
    which does not divide them by 255, and then multiplies by 255: the data span 0..65025 with
    L = 255, i.e. C1 and C2 255^2 times too small (near structure-only SSIM). In float32 the
    windows' ``E[x^2] - mu^2`` on such data carries round-off comparable to C2, so the value is
    computed in float32 as the script's torch code does on one thread (float64 would differ by up
    to 1.4e-3): torch's elementwise operations, and its convolutions reproduced bit for bit by a
    compiled kernel (:func:`_blur_fn`).
    """
    a, b, f = check_images(ir, vi, fused, who="zoo:ms_ssim" if multiscale else "zoo:ssim")
    s_ir, s_vi = _zoo_ssim_both((a, b), f, multiscale)
    return per_source(s_ir, s_vi, "sum")


# -- registrations ---------------------------------------------------------------------------

def _reg(name: str, fn, description: str, higher: bool = True, quantity: str | None = None,
         parts: tuple[str, ...] = (), where: str = "Metric_torch.py", **params) -> None:
    register_metric(f"zoo:{name}", description=description, higher_is_better=higher, input="zoo",
                    reference=f"{REF}{where}", params=params, quantity=quantity, parts=parts)(fn)


_reg("ce", zoo_ce, "BCE of sigmoid(F) vs mean sigmoid of the sources on 0..255 data: float32 round-off "
     "(~1e-5), NOT the histogram cross entropy of ce", higher=False)
_reg("nmi", zoo_nmi, "2(MI(IR,F)+MI(VI,F))/(H(IR)+H(VI)): normalised by the SOURCES' entropies, not Hossny's")
_reg("qncie", zoo_qncie, "Q_NCIE from the eigenvalues of the 3x3 matrix of LINEAR global correlations "
     "(not rank-based NCC)")
_reg("te", zoo_te, "Tsallis entropy at the default q=1, i.e. Shannon: H(IR)+H(VI)-H(F)")
_reg("ei", ei, "edge intensity, Sobel with ZERO padding (ei replicates the border)", border="zero")
_reg("qy", zoo_qy, "Yang Q_Y with a 7x7 window summing to 7 (1x7 Gaussian repeated), zero padding, "
     "C1=1e-4, C2=9e-4, mean over all pixels")
_reg("qcb", zoo_qcb, "Chen-Blum Q_CB with fftfreq-scaled CSF and 2*pi*sigma^2-normalised 31x31 Gaussians")
_reg("en", en, "entropy of F in bits with log2(p + 1e-7) (a ~5e-6 relative bias vs en)", log_eps=1e-7)
_reg("mi", mi, "MI(IR,F)+MI(VI,F) in bits (= mi)", parts=("ir", "vi"))
_reg("sf", sf, "spatial frequency, each term the MEAN over its difference grid (sf divides by M*N)",
     norm="differences")
_reg("ag", ag, "torch.gradient central differences, mean over all M*N (vifb:ag divides by (M-1)(N-1))",
     gradient="central", norm="pixels")
_reg("sd", sd, "population SD of F (= sd; float32 in the script)")
_reg("cc", cc, "mean of corr(IR,F), corr(VI,F) (= cc)", parts=("ir", "vi"))
_reg("scd", scd, "sum of the correlations of differences (= scd)")
_reg("vif", vifp_sum, "pixel-domain vifp_mscale SUMMED over IR and VI, but the Gaussian grid is "
     "linspace(-N//2, N//2, N) (off-centre, non-integer) and filtering is zero-padded 'same'",
     parts=("ir", "vi"), grid="zoo", border="zero", dtype="float32")
_reg("mse", mean_mse, "(MSE(IR,F)+MSE(VI,F))/2 on [0,1]-scaled images (as Tang)", higher=False,
     parts=("ir", "vi"), scale=255.0)
_reg("psnr", psnr, "20 log10(255/sqrt(MSE)) with MSE on [0,1] images: = psnr + 48.13 dB (as Tang)",
     mse_scale=255.0)
_reg("qabf", qabf, "Xydeas-Petrovic Q_ABF, zero padding, GAF = gF where gA == gF (= qabf)", where="Qabf.py",
     **QABF_VIFB)
_reg("nabf", nabf, "Kumar N_ABF but pixels with source gradient < Td=2 get weight 0 instead of 0.001",
     higher=False, where="Nabf.py", wt_min=0.0)
_reg("ssim", zoo_ssim, "SSIM(IR,F)+SSIM(VI,F) SUMMED, 11x11 Gaussian valid windows, on x255 data (0..65025) "
     "with L=255 (to_tensor does not scale float input): C1, C2 255^2 too small; float32 torch",
     parts=("ir", "vi"), where="ssim.py", multiscale=False)
_reg("ms_ssim", zoo_ssim, "Wang MS-SSIM (5 scales, avg_pool) SUMMED over IR and VI, with the same x255 bug; "
     "float32 torch", parts=("ir", "vi"), where="ssim.py", multiscale=True)

ZOO_ORDER = ("ce", "nmi", "qncie", "te", "ei", "qy", "qcb", "en", "mi", "sf", "ag", "sd", "cc", "scd", "vif",
             "mse", "psnr", "qabf", "nabf", "ssim", "ms_ssim")
register_preset("zoo", [f"zoo:{m}" for m in ZOO_ORDER],
                "IVIF_ZOO's 21 metrics (eval_torch.py), values as its torch code computes them, quirks included")
