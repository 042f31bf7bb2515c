"""Every registered convention of one quantity, side by side (``metrics --same-as``, ``evaluate --compare``).

A *quantity* is what a metric configuration measures (``MetricSpec.measures``: ``ssim`` for
``ssim``, ``vifb:ssim``, ``cddfuse:ssim``, ``tang:ssim``, ``zoo:ssim``). Listing the
configurations of one quantity with their input convention and parameters, and their values on
one image, answers "why don't my numbers match the paper's".

The second half holds the *generated* conventions ``fusionbench identify`` adds to the registered
ones: gray conversions of colour images (:data:`GRAY_CONVERSIONS`), JPEG re-encoding
(:func:`jpeg_roundtrip`), Q_Y under other windows and constants (:func:`qy_variant`) and the
histogram binnings of NMI/MI (:func:`hist_levels`, :func:`entropies`).
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .errors import UnknownNameError
from .registry import METRICS, MetricSpec, discover


def quantities() -> list[str]:
    """Every quantity measured by some registered metric."""
    discover()
    return sorted({s.measures for s in METRICS.values()})


def conventions(quantity: str) -> list[MetricSpec]:
    """The registered configurations of ``quantity``, plain name first, then by namespace."""
    discover()
    specs = [s for s in METRICS.values() if s.measures == quantity]
    if not specs:
        import difflib

        close = difflib.get_close_matches(quantity, quantities(), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UnknownNameError(f"no metric measures {quantity!r}{hint}; quantities: {', '.join(quantities())}")
    return sorted(specs, key=lambda s: (s.namespace is not None, s.namespace or "", s.name))


def _params_text(spec: MetricSpec) -> str:
    return ", ".join(f"{k}={v}" for k, v in spec.params.items()) or "-"


def conventions_table(quantity: str) -> list[list[str]]:
    """Rows ``[metric, input, params, direction, description, reference]`` for one quantity."""
    return [[s.name, s.input, _params_text(s), s.arrow, s.description, s.reference] for s in conventions(quantity)]


def compare(ir: np.ndarray | str | os.PathLike, vi: np.ndarray | str | os.PathLike,
            fused: np.ndarray | str | os.PathLike, quantity_names: Sequence[str] | str) -> list[dict]:
    """Values of every convention of each quantity on one image: ``[{quantity, metric, input, params, value}]``.

    Images are read once; each configuration applies its own input convention to the raw file
    (as ``fusionbench.evaluate``). A configuration that cannot score this image (e.g. MS-SSIM on a
    small image) gets ``value=nan`` and its error in ``note``.
    """
    from .api import _as_raw, compute_metric
    from .imageio import check_images

    if isinstance(quantity_names, str):
        quantity_names = [q.strip() for q in quantity_names.split(",") if q.strip()]
    specs = [(q, s) for q in quantity_names for s in conventions(q)]
    raw = [_as_raw(x, role) for x, role in zip((ir, vi, fused), ("ir", "vi", "fused"))]
    for a, role in zip(raw, ("ir", "vi", "fused")):
        check_images(a, names=(role,), who="compare", gray=False)
    rows = []
    for q, s in specs:
        try:
            value, note = compute_metric(s, raw)[s.name], ""
        except ValueError as exc:
            value, note = float("nan"), str(exc).splitlines()[0]
        rows.append({"quantity": q, "metric": s.name, "input": s.input, "params": _params_text(s),
                     "value": value, "note": note})
    return rows


# -- generated conventions (the axes along which scripts differ; used by fusionbench.identify) ------
#
# Each function below turns images as read, or gray float64 images, into what one script would
# compute with; ``fusionbench.identify`` names every variant and scores it like a configuration.

def _gray_matlab(a: np.ndarray) -> np.ndarray:
    from .imageio import to_gray_float

    return to_gray_float(a)


def _gray_matlab_float(a: np.ndarray) -> np.ndarray:
    from .imageio import RGB2GRAY

    return a.astype(np.float64) @ RGB2GRAY


def _gray_matlab_trunc(a: np.ndarray) -> np.ndarray:
    return np.floor(_gray_matlab_float(a))


def _gray_opencv(a: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(_as_uint8(a)), cv2.COLOR_RGB2GRAY).astype(np.float64)


def _gray_pil(a: np.ndarray) -> np.ndarray:
    from .imageio import pil_gray

    return pil_gray(a).astype(np.float64)


_BT601 = np.array([0.299, 0.587, 0.114])


def _gray_y601_float(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) @ _BT601


def _gray_ycbcr_studio(a: np.ndarray) -> np.ndarray:
    y = 16.0 + a.astype(np.float64) @ np.array([65.481, 128.553, 24.966]) / 255.0
    return np.floor(y + 0.5)


def _as_uint8(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a if a.dtype == np.uint8 else np.clip(np.floor(a.astype(np.float64) + 0.5), 0, 255).astype(np.uint8)


#: gray conversions of a COLOUR image (``HxWx3`` RGB as read); gray images pass through unchanged
#: (as the scripts do: ``if size(x, 3) == 3, x = rgb2gray(x)``). name -> (function, description)
GRAY_CONVERSIONS = {
    "matlab": (_gray_matlab, "MATLAB rgb2gray on uint8 (0.2989/0.5870/0.1140, rounded): fusionbench's default"),
    "matlab_float": (_gray_matlab_float, "MATLAB rgb2gray on double (im2double*255): unrounded float 0..255"),
    "matlab_trunc": (_gray_matlab_trunc, "rgb2gray weights, truncated to integers (C-style uint8 cast)"),
    "opencv": (_gray_opencv, "OpenCV cvtColor(BGR2GRAY) on uint8 (0.299/0.587/0.114 fixed point, rounded)"),
    "pil": (_gray_pil, "PIL Image.convert('L') ((19595R+38470G+7471B+32768)>>16)"),
    "y601_float": (_gray_y601_float, "Y of full-range BT.601 YCbCr (0.299/0.587/0.114), unrounded float"),
    "ycbcr_studio": (_gray_ycbcr_studio, "Y of MATLAB rgb2ycbcr on uint8 (studio range 16..235, rounded)"),
}


def gray_view(raw: np.ndarray, how: str = "matlab") -> np.ndarray:
    """Gray float64 of one image as read under the conversion ``how`` (see :data:`GRAY_CONVERSIONS`)."""
    a = np.asarray(raw)
    if a.ndim == 2:
        return a.astype(np.float64, copy=False)
    from .imageio import is_gray_rgb

    if is_gray_rgb(a):
        return a[..., 0].astype(np.float64)
    return GRAY_CONVERSIONS[how][0](a)


def jpeg_roundtrip(raw: np.ndarray, quality: int) -> np.ndarray:
    """The image as a script would read it back after ``cv2.imwrite(.jpg, quality)`` (libjpeg via
    ``cv2.imencode``, 4:2:0 for colour; deterministic for one OpenCV build). RGB in, RGB out."""
    import cv2

    a = np.ascontiguousarray(_as_uint8(raw))
    colour = a.ndim == 3
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(a, cv2.COLOR_RGB2BGR) if colour else a,
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 images
        raise ValueError("JPEG encoding failed")
    out = cv2.imdecode(buf, cv2.IMREAD_COLOR if colour else cv2.IMREAD_GRAYSCALE)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB) if colour else out


# -- Q_Y under other windows and constants -------------------------------------------------------
#: SSIM constants of Q_Y variants: Liu's metricYang (2e-16), Wang's K=(0.01, 0.03) with L=255 and
#: the same K with L=1 (a script computing on 0..255 images with 0..1-range constants)
QY_CONSTANTS = {"liu": (2e-16, 2e-16), "L255": ((0.01 * 255) ** 2, (0.03 * 255) ** 2), "L1": (1e-4, 9e-4)}


def _window_weights(window: str, size: int, sigma: float) -> np.ndarray:
    from fusionbench.metrics._matlab import gaussian_1d

    return gaussian_1d(size, sigma) if window == "gaussian" else np.full(size, 1.0 / size)


def _valid_mean(x: np.ndarray, window: str, size: int, sigma: float) -> np.ndarray:
    """Weighted window means over the 'valid' windows (``filter2(w, x, 'valid')``), any box size.

    Output ``[i, j]`` is the window whose top-left pixel is ``(i, j)``; shape ``(H-size+1, W-size+1)``.
    """
    if window == "gaussian":
        from fusionbench.metrics.similarity import filter2_valid

        if size % 2 == 0:
            raise ValueError("Q_Y variant: a Gaussian window must have an odd size")
        return filter2_valid(x, _window_weights(window, size, sigma))
    s = np.zeros((x.shape[0] + 1, x.shape[1] + 1))
    np.cumsum(np.cumsum(x, axis=0), axis=1, out=s[1:, 1:])
    k = size
    return (s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]) / (k * k)


def _window_flat(x: np.ndarray, var: np.ndarray, size: int, w2min: float) -> np.ndarray:
    """True where the window is exactly constant (as qy's guard: a variance below half the smallest
    possible one of integer images, else max == min over the window)."""
    if bool((np.floor(x) == x).all()):
        return var < 0.5 * w2min * (1.0 - w2min)
    import cv2

    kernel = np.ones((size, size), np.uint8)
    a = size // 2
    hi = cv2.dilate(x, kernel, borderType=cv2.BORDER_REFLECT_101)
    lo = cv2.erode(x, kernel, borderType=cv2.BORDER_REFLECT_101)
    h, w = x.shape
    return (hi == lo)[a:h - (size - 1 - a), a:w - (size - 1 - a)]


def qy_variant(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray, *, window: str = "gaussian", size: int = 7,
               sigma: float = 1.5, constants: str = "liu") -> float:
    """Yang's Q_Y (Liu's ``metricYang`` formulation) under another window or SSIM constants.

    Same rule as :func:`fusionbench.metrics.qy.qy` (``lambda`` from the window variances, weighted
    SSIM where ``SSIM(IR, VI) >= 0.75``, else the larger of the two; mean over the 'valid' windows;
    flat windows have variance and covariances 0, ``lambda = 0.5`` where both sources are flat),
    with ``window`` ``'gaussian'`` (odd ``size``, ``sigma``) or ``'box'`` (any ``size``) and
    ``constants`` a key of :data:`QY_CONSTANTS`. ``window='gaussian', size=7, sigma=1.5,
    constants='liu'`` is ``qy`` itself (tested to 1e-9). Float64 gray inputs on 0..255.
    """
    c1, c2 = QY_CONSTANTS[constants]
    g = _window_weights(window, size, sigma)
    w2min = float(g.min()) ** 2
    if min(ir.shape) < size + 4:
        raise ValueError(f"Q_Y variant: images must be at least {size + 4} pixels on a side")
    imgs = [np.asarray(x, np.float64) for x in (ir, vi, fused)]
    mu = [_valid_mean(x, window, size, sigma) for x in imgs]
    var = [_valid_mean(x * x, window, size, sigma) - m * m for x, m in zip(imgs, mu)]
    flat = [_window_flat(x, v, size, w2min) for x, v in zip(imgs, var)]
    for v, fl in zip(var, flat):
        np.copyto(v, 0.0, where=fl)

    def ssim_map(i: int, j: int) -> np.ndarray:
        cov = _valid_mean(imgs[i] * imgs[j], window, size, sigma) - mu[i] * mu[j]
        np.copyto(cov, 0.0, where=flat[i] | flat[j])
        return ((2 * mu[i] * mu[j] + c1) * (2 * cov + c2)) / ((mu[i] ** 2 + mu[j] ** 2 + c1) * (var[i] + var[j] + c2))

    s_ab, s_af, s_bf = ssim_map(0, 1), ssim_map(0, 2), ssim_map(1, 2)
    vsum = var[0] + var[1]
    lam = np.divide(var[0], vsum, out=np.full_like(vsum, 0.5), where=~(flat[0] & flat[1]))
    q = np.where(s_ab >= 0.75, lam * s_af + (1 - lam) * s_bf, np.maximum(s_af, s_bf))
    return float(q.mean())


# -- NMI / MI from joint histograms, with the binning and stretching scripts use ----------------------
def hist_levels(x: np.ndarray, bins: int = 256, stretch: str = "none") -> np.ndarray:
    """Integer bin index (int64) of every pixel of a gray float64 image 0..255.

    ``stretch='normalize1'``: Liu's ``normalize1`` first (min-max to 0..255, MATLAB round);
    ``'data'``: ``bins`` equal bins over the image's own [min, max] (MATLAB ``hist(x(:), bins)``
    edges); ``'none'``: ``bins`` equal bins over the fixed range [0, 255] (``bins=256`` keeps the
    integer levels). A constant image is one bin.
    """
    from fusionbench.metrics._matlab import normalize1_levels

    x = np.asarray(x, np.float64)
    if stretch == "normalize1":
        x = normalize1_levels(x).astype(np.float64)
    if stretch == "data":
        lo, hi = float(x.min()), float(x.max())
        if hi == lo:
            return np.zeros(x.shape, np.int64)
        return np.minimum(((x - lo) / (hi - lo) * bins).astype(np.int64), bins - 1)
    if bins == 256:
        return np.clip(np.floor(x), 0, 255).astype(np.int64)
    return np.minimum((x * (bins / 255.0)).astype(np.int64), bins - 1)


def entropies(a: np.ndarray, f: np.ndarray, bins: int) -> tuple[float, float, float]:
    """(H(a), H(f), H(a, f)) in bits of two bin-index arrays with ``bins`` bins each."""
    joint = np.bincount(a.ravel() * bins + f.ravel(), minlength=bins * bins).astype(np.float64)
    p = joint.reshape(bins, bins) / joint.sum()

    def h(q: np.ndarray) -> float:
        q = q[q > 0]
        return float(-(q * np.log2(q)).sum())

    return h(p.sum(axis=1)), h(p.sum(axis=0)), h(p.ravel())
