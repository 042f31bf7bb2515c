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


def sobel_xy(x: np.ndarray, border: str = "zero") -> tuple[np.ndarray, np.ndarray]:
    """Correlations with ``[-1 0 1; -2 0 2; -1 0 1]`` (gx) and ``[-1 -2 -1; 0 0 0; 1 2 1]`` (gy)."""
    x = _f64(x)
    b = _BORDERS[border]
    gx = cv2.Sobel(x, cv2.CV_64F, 1, 0, ksize=3, borderType=b)
    gy = cv2.Sobel(x, cv2.CV_64F, 0, 1, ksize=3, borderType=b)
    return gx, gy


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


class ArrayMemo:
    """Small LRU memo of derived arrays keyed by a tag and the *content* of an input array.

    Fusion benchmarks score many fused images against the same two sources; metrics use one
    memo per quantity to compute a *source's* filtered statistics once (six entries: two
    sources times three colour channels). Results are returned read-only.
    """

    def __init__(self, maxsize: int = 6):
        from collections import OrderedDict
        from threading import Lock

        self._data: OrderedDict = OrderedDict()
        self._lock = Lock()
        self.maxsize = maxsize

    def get(self, tag: str, arr: np.ndarray, compute):
        import hashlib

        a = np.ascontiguousarray(arr)
        key = (tag, a.shape, a.dtype.str, hashlib.blake2b(a.tobytes(), digest_size=16).digest())
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = compute(a)
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, np.ndarray):
                v.flags.writeable = False
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return value

