"""Fast float64 filtering helpers shared by the metric modules (private: not auto-registered).

OpenCV does the spatial filtering (correlation, as MATLAB ``filter2``/``imfilter``); borders are
named as in MATLAB: ``'zero'`` (``filter2``/``conv2`` 'same'), ``'replicate'``
(``imfilter(..., 'replicate')``) and ``'mirror'`` (reflection without repeating the edge pixel).
"""
from __future__ import annotations

import cv2
import numpy as np
import scipy.fft

_BORDERS = {"zero": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE, "mirror": cv2.BORDER_REFLECT_101}


def _f64(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


_SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
_SOBEL_Y = np.ascontiguousarray(_SOBEL_X.T)


def sobel_xy(x: np.ndarray, border: str = "zero", *, passes: str = "separable"
             ) -> tuple[np.ndarray, np.ndarray]:
    """Correlations with ``[-1 0 1; -2 0 2; -1 0 1]`` (gx) and ``[-1 -2 -1; 0 0 0; 1 2 1]`` (gy).

    Same size as ``x`` (float64), border as named in the module docstring. ``passes`` chooses
    the floating-point evaluation order: ``'separable'`` (``cv2.Sobel``: a ``[-1 0 1]`` pass
    then a ``[1 2 1]`` pass) or ``'2d'`` (``cv2.filter2D`` with the full 3x3 kernel, one sum
    per pixel). Both are exact on integer-valued images (integer arithmetic in float64); on
    non-integer images they differ by round-off (~1e-13 on 0..255), and each metric keeps the
    order it was validated with. MATLAB ``conv2(x, h, 'same')`` with a kernel ``h`` is the
    correlation with ``rot90(h, 2)``: for VIFB's ``h3 = [-1 0 1; -2 0 2; -1 0 1]`` that is
    ``-gx``, for ``h1 = [1 2 1; 0 0 0; -1 -2 -1]`` it is ``gy``.
    """
    x = _f64(x)
    b = _BORDERS[border]
    if passes == "separable":
        return (cv2.Sobel(x, cv2.CV_64F, 1, 0, ksize=3, borderType=b),
                cv2.Sobel(x, cv2.CV_64F, 0, 1, ksize=3, borderType=b))
    if passes == "2d":
        return (cv2.filter2D(x, cv2.CV_64F, _SOBEL_X, borderType=b),
                cv2.filter2D(x, cv2.CV_64F, _SOBEL_Y, borderType=b))
    raise ValueError(f"sobel_xy: passes must be 'separable' or '2d', got {passes!r}")


def sep_correlate(x: np.ndarray, k_rows: np.ndarray, k_cols: np.ndarray | None = None,
                  border: str = "zero") -> np.ndarray:
    """Separable correlation, same size: ``k_cols`` runs down the rows (vertical), ``k_rows`` along them.

    With ``k_cols=None`` the same 1-D kernel is used both ways.
    """
    kx = _f64(k_rows).reshape(-1, 1)
    ky = kx if k_cols is None else _f64(k_cols).reshape(-1, 1)
    return cv2.sepFilter2D(_f64(x), cv2.CV_64F, kx, ky, borderType=_BORDERS[border])


def freq_filter(x: np.ndarray, h_centered: np.ndarray) -> np.ndarray:
    """``real(ifft2(ifftshift(fftshift(fft2(x)) .* H)))`` for a real, point-symmetric centred response H.

    ``H`` is laid out as MATLAB's ``freqspace`` grid (zero frequency at ``floor(n/2)``); it must
    satisfy ``H(k) = H(-k)`` (true for any function of the radius), so the product is Hermitian
    and a real FFT pair gives the same result as MATLAB (whose ``ifft2`` then returns real).
    """
    h = np.fft.ifftshift(h_centered)
    n = x.shape[1]
    spec = scipy.fft.rfft2(_f64(x))
    return scipy.fft.irfft2(spec * h[:, : n // 2 + 1], s=x.shape)
