"""Simoncelli's steerable pyramid with the ``sp5Filters`` set and ``reflect1`` edges (private).

A numpy/OpenCV port of ``buildSpyr(im, ht, 'sp5Filters', 'reflect1')`` from
LabForComputationalVision/matlabPyrTools @ f02ab059, following the toolbox's pure-MATLAB
``corrDn.m`` (the path the IFC/VIF reference values were computed with):

* ``corrDn(im, filt, 'reflect1', step, start)`` is a 2-D *correlation* of ``im`` with ``filt``
  after mirror padding that does not repeat the edge sample (``rconv2``: for an odd ``k x k``
  filter ``(k-1)/2`` samples each side), then sub-sampling ``[start::step]``. This is OpenCV's
  ``BORDER_REFLECT_101`` with a centred anchor.
* ``buildSpyr``: ``hi0 = corrDn(im, hi0filt)``, ``lo = corrDn(im, lo0filt)``; then per level the
  six oriented bands ``corrDn(lo, bfilt_b)`` at the level's size, and
  ``lo = corrDn(lo, lofilt, [2 2], [1 1])`` (full correlation, every second sample from the
  first) for the next level; the final ``lo`` is the low-pass residual.
* ``bfilts(:, b)`` is reshaped column-major to ``7 x 7`` in the MATLAB file; the kernels here
  are already in that (row, column) orientation.

The sp5 coefficients (Karasaridis & Simoncelli 1996, 8 decimals as published) are stored by
their symmetries and expanded at import; :func:`sp5_filters` returns them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _octant_symmetric(octant: list[list[float]]) -> np.ndarray:
    """Expand an 8-fold symmetric kernel from ``octant[r][c]`` (``c <= r``, offsets from the centre)."""
    r = len(octant) - 1
    d = np.abs(np.arange(-r, r + 1))
    big = np.maximum.outer(d, d)
    small = np.minimum.outer(d, d)
    table = np.zeros((r + 1, r + 1))
    for i, row in enumerate(octant):
        table[i, : len(row)] = row
    return table[big, small]


# offsets (row distance, column distance) sorted so that the first index is the larger
_LO0 = _octant_symmetric([[0.40304148],
                          [0.15925570, 0.05586982],
                          [-0.03848215, -0.01551246, 0.00341614]])
_HI0 = _octant_symmetric([[0.81380200],
                          [-0.11435863, -0.07027679],
                          [-0.00981051, -0.00673482, -0.00290081],
                          [0.01261227, 0.00631653, -0.00243812, -0.00350017],
                          [-0.00080639, -0.00133542, -0.00171484, -0.00113093, -0.00033429]])
_LO = 2.0 * _octant_symmetric([[0.10096540],
                               [0.08169618, 0.06426333],
                               [0.03981393, 0.03277038, 0.01396746],
                               [0.01002988, 0.00410600, -0.00661117, -0.00523281],
                               [-0.00962054, -0.00944432, -0.00387812, -0.00244917, 0.00085404]])


def _band_vertical_edge() -> np.ndarray:
    """Band 1: even in rows, odd in columns; left half given for rows 0..3 (row 3 = centre)."""
    left = np.array([[0.00277643, -0.00986904, -0.01021852],
                     [0.00496194, -0.00893064, -0.03075356],
                     [0.01026699, 0.01189859, -0.08226445],
                     [0.01455399, 0.02755155, -0.11732297]])
    left = np.vstack([left, left[2::-1]])                      # rows 4..6 mirror rows 2..0
    return np.hstack([left, np.zeros((7, 1)), -left[:, ::-1]])  # columns 4..6 = -mirror


def _band_oblique() -> np.ndarray:
    """Band 2: odd under a half turn (``f[6-i, 6-j] = -f[i, j]``); rows 0..2 and row 3's left half."""
    top = np.array([[-0.00343249, -0.00358461, 0.01047717, 0.00790407, 0.00459034, -0.00128000, -0.01166982],
                    [-0.00640815, -0.01977507, 0.01486305, 0.04435647, -0.00853965, -0.01161195, -0.00285723],
                    [-0.00073141, -0.04084211, -0.04819057, 0.09454202, 0.05394139, -0.03930573, -0.00182078]])
    mid_left = np.array([0.01124321, -0.00228219, -0.12227230])
    mid = np.concatenate([mid_left, [0.0], -mid_left[::-1]])
    return np.vstack([top, mid, -top[::-1, ::-1]])


def _bands() -> tuple[np.ndarray, ...]:
    b1 = _band_vertical_edge()
    b2 = _band_oblique()
    return (b1, b2, -b2.T, -b1.T, np.rot90(b2), np.fliplr(b2))


_BANDS = tuple(np.ascontiguousarray(b) for b in _bands())
N_ORIENT = len(_BANDS)
_FILTERS = {"lo0filt": _LO0, "hi0filt": _HI0, "lofilt": _LO}


def sp5_filters() -> dict[str, np.ndarray]:
    """The sp5 filters: ``lo0filt`` (5x5), ``hi0filt`` (9x9), ``lofilt`` (9x9), ``bfilts`` (6, 7, 7)."""
    out = {k: v.copy() for k, v in _FILTERS.items()}
    out["bfilts"] = np.stack(_BANDS)
    return out


def corr_reflect1(im: np.ndarray, filt: np.ndarray, step: int = 1,
                  crop: int = 1) -> np.ndarray:
    """``corrDn(im, filt, 'reflect1', [step step], [1 1])`` for an odd-sized filter (float64).

    Mirror padding without repeating the edge sample (``cv2.BORDER_REFLECT_101``), then a direct
    correlation (:func:`fusionbench.metrics._paper_kernels.corr_reflect1`, ``step`` 1 or 2):
    every output sample is a sum over the input samples under the filter in one fixed order, so
    two images that agree locally give bit-identical coefficients there, which IFC's noise
    variance estimate relies on (``sigma_v^2`` is a difference of equal sums in such regions;
    an FFT, or OpenCV's DFT path for large kernels, would spread round-off of far samples).
    ``crop``: only the first multiple of ``crop`` rows and columns of the result are computed.
    """
    from fusionbench.metrics import _paper_kernels as K  # noqa: PLC0415  (numba: lazily)

    if filt.shape[0] % 2 == 0 or filt.shape[1] % 2 == 0:
        raise ValueError("corr_reflect1: only odd-sized filters are supported")
    if min(im.shape) <= max(filt.shape) // 2:
        raise ValueError(f"corr_reflect1: image {im.shape} too small for a {filt.shape} filter")
    if step not in (1, 2):
        raise ValueError(f"corr_reflect1: step must be 1 or 2, got {step}")
    im = np.ascontiguousarray(im, dtype=np.float64)
    h, w = (-(-n // step) // crop * crop for n in im.shape)
    return K.corr_reflect1(im, np.ascontiguousarray(filt, dtype=np.float64), step, h, w)


def max_pyr_height(shape: tuple[int, int], filt_size: int = 9) -> int:
    """matlabPyrTools ``maxPyrHt`` for a 2-D image and a square filter."""
    h, w = shape
    height = 0
    while h >= filt_size and w >= filt_size:
        height += 1
        h, w = h // 2, w // 2
    return height


@dataclass
class SteerablePyramid:
    """Output of :func:`build_spyr`.

    ``bands[level][b]`` is the oriented band ``b`` (0-based, MATLAB band ``b+1``) of ``level``
    (0 = finest, full image size); only the requested bands are present. ``hi0`` is the
    high-pass residual (None when not requested), ``lowpass`` the low-pass residual.
    """

    height: int
    bands: list[dict[int, np.ndarray]] = field(default_factory=list)
    lowpass: np.ndarray | None = None
    hi0: np.ndarray | None = None

    def wtree(self, k: int) -> np.ndarray:
        """Subband ``k`` (1-based) in the order of LIVE's ``ind2wtree``.

        ``ind2wtree`` reverses the pyramid's storage order: with ``n = 6*height + 2`` entries,
        ``k = n + 1 - i`` is storage entry ``i`` (entry 1 = high-pass residual, entries 2..7 =
        level 1 bands 1..6, ..., entry ``n`` = low-pass residual).
        """
        n = N_ORIENT * self.height + 2
        if not 1 <= k <= n:
            raise IndexError(f"subband {k} out of 1..{n}")
        if k == 1:
            return self.lowpass
        if k == n:
            if self.hi0 is None:
                raise KeyError("high-pass residual was not computed")
            return self.hi0
        i = n + 1 - k - 2
        level, band = divmod(i, N_ORIENT)
        return self.bands[level][band]


def wtree_location(k: int, height: int = 4) -> tuple[int, int]:
    """``(level, band)`` (0-based) of oriented subband ``k`` in ``ind2wtree`` numbering."""
    n = N_ORIENT * height + 2
    if not 2 <= k <= n - 1:
        raise IndexError(f"subband {k} is not an oriented band of a {height}-level pyramid")
    return divmod(n + 1 - k - 2, N_ORIENT)


def _oriented(lo: np.ndarray, bands: tuple[int, ...], crop: int) -> dict[int, np.ndarray]:
    """The requested oriented bands of one level, two at a time through one sweep
    (:func:`fusionbench.metrics._paper_kernels.corr_reflect1_pair`: each band's sums in the same
    order as alone)."""
    from fusionbench.metrics import _paper_kernels as K  # noqa: PLC0415

    out: dict[int, np.ndarray] = {}
    todo = list(bands)
    while len(todo) >= 2:
        b1, b2 = todo.pop(0), todo.pop(0)
        if min(lo.shape) <= _BANDS[b1].shape[0] // 2:
            raise ValueError(f"corr_reflect1: image {lo.shape} too small for a {_BANDS[b1].shape} filter")
        lo = np.ascontiguousarray(lo, dtype=np.float64)
        h, w = (n // crop * crop for n in lo.shape)
        out[b1], out[b2] = K.corr_reflect1_pair(lo, _BANDS[b1], _BANDS[b2], h, w)
    for b in todo:
        out[b] = corr_reflect1(lo, _BANDS[b], crop=crop)
    return out


def build_spyr(im: np.ndarray, height: int = 4, bands: tuple[int, ...] | None = None,
               hi0: bool = True, levels: tuple[int, ...] | None = None,
               lowpass: bool = True, crop: int = 1) -> SteerablePyramid:
    """``buildSpyr(im, height, 'sp5Filters', 'reflect1')``.

    Parameters
    ----------
    im : (H, W) array, converted to float64.
    height : number of levels (at most ``maxPyrHt(size(im), 9)``).
    bands : oriented bands to compute (0-based, default all six); others are skipped.
    hi0 : compute the high-pass residual.
    levels : levels at which to compute bands (default all); the low-pass chain runs as far as
        the last level's bands need it.
    lowpass : compute the low-pass residual (else ``lowpass`` is None and the last level's
        low-pass filtering is skipped).
    crop : the oriented bands are computed only on their first multiple of ``crop`` rows and
        columns (IFC's 3x3 blocks use nothing else); the low-pass chain is not cropped.
    """
    im = np.asarray(im, dtype=np.float64)
    if im.ndim != 2:
        raise ValueError(f"build_spyr: expected a 2-D image, got shape {im.shape}")
    max_ht = max_pyr_height(im.shape, _LO.shape[0])
    if height > max_ht:
        raise ValueError(f"image {im.shape[1]}x{im.shape[0]} is too small for a {height}-level "
                         f"steerable pyramid (at most {max_ht} levels)")
    bands = tuple(range(N_ORIENT)) if bands is None else tuple(bands)
    levels = tuple(range(height)) if levels is None else tuple(levels)
    pyr = SteerablePyramid(height=height)
    if hi0:
        pyr.hi0 = corr_reflect1(im, _HI0)
    lo = corr_reflect1(im, _LO0)
    for level in range(height):
        pyr.bands.append(_oriented(lo, bands, crop) if level in levels else {})
        if level < height - 1 or lowpass:
            lo = corr_reflect1(lo, _LO, step=2)
    pyr.lowpass = lo if lowpass else None
    return pyr
