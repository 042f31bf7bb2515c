"""Bayesian fusion (Zhao, Xu, Zhang, Liu, Zhang, Signal Processing 2020).

Port of the authors' MATLAB ``BayesFusion.m`` (Zhaozixiang1228/IVIF-Bayesian-Fusion, commit
76df0c7): the fused image is ``I = X + VI`` where the offset ``X`` is the latent variable of a
hierarchical Bayesian regression ``IR - VI = X + noise`` with a Laplacian likelihood and a
total-variation prior, inferred by EM. The M-step is a few ADMM-like sweeps whose TV step is
solved in closed form with 2-D FFTs (periodic boundary, as ``psf2otf`` in the original); the
E-step updates the per-pixel precisions ``C`` (likelihood) and ``D`` (prior) and the global
scale hyper-parameters.
"""
from __future__ import annotations

import numpy as np

from fusionbench.registry import register_method


def _diff_cols(h: np.ndarray) -> np.ndarray:
    """``imfilter(H, [1, -1])``: correlation, zero boundary -> ``H(x) - H(x+1)`` (last column ``H``)."""
    out = h.copy()
    out[:, :-1] -= h[:, 1:]
    return out


def _diff_rows(h: np.ndarray) -> np.ndarray:
    """``imfilter(H, [1; -1])``: ``H(y) - H(y+1)`` with zero padding below."""
    out = h.copy()
    out[:-1, :] -= h[1:, :]
    return out


def _otf_first_difference(shape: tuple[int, int], axis: int) -> np.ndarray:
    """MATLAB ``psf2otf([1, -1])`` (axis 1) or ``psf2otf([1; -1])`` (axis 0) for ``shape``.

    The 1x2 kernel is zero-padded and circularly shifted so that its centre (the second tap,
    ``floor(2/2) = 1``) sits at the origin: ``-1`` at index 0 and ``+1`` at the last index.
    """
    psf = np.zeros(shape)
    if axis == 1:
        psf[0, 0], psf[0, -1] = -1.0, 1.0
    else:
        psf[0, 0], psf[-1, 0] = -1.0, 1.0
    return np.fft.fft2(psf)


def _soft(x: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    return np.sign(x) * np.maximum(np.abs(x) - t, 0.0)


@register_method(
    "bayesian",
    description="Bayesian fusion: hierarchical Bayesian regression with TV prior, solved by EM",
    mem_bytes_per_pixel=290, reference="Zhao et al., Bayesian fusion for infrared and visible images, Signal Processing 177 (2020) "
              "107734; port of BayesFusion.m (Zhaozixiang1228/IVIF-Bayesian-Fusion)",
    params={"lam": 0.5, "em_iters": 15, "m_iters": 2},
)
def bayesian(ir: np.ndarray, vi: np.ndarray, *, lam: float = 0.5, em_iters: int = 15,
             m_iters: int = 2) -> np.ndarray:
    """Fuse IR and VI with the Bayesian model of Zhao et al. (2020).

    Parameters
    ----------
    ir, vi : ndarray
        float64 gray images on 0..255, same shape.
    lam : float
        TV weight ``LAMBDA`` (0.5 in the authors' code, on the 0..1 intensity scale).
    em_iters, m_iters : int
        EM iterations (15) and inner M-step sweeps (2), as the authors' code.

    Returns
    -------
    ndarray
        float64 fused image on 0..255 (clipped, as MATLAB's ``imwrite`` of a double clips
        to 0..1).

    Notes
    -----
    The computation runs on the 0..1 scale (``im2double``), because ``lam`` and the ``1e-6``
    guards of the original are scale dependent. Steps, per EM iteration::

        M-step (m_iters times):
            X  = (2 C Y + rho H) / (2 C + 2 D + rho)           Y = IR - VI
            H  = argmin |Dx H - F1|^2 + |Dy H - F2|^2 + |X - H|^2   (FFT, periodic)
            F1 = soft(Dx H, lam / rho), F2 = soft(Dy H, lam / rho) (zero-padded differences)
        E-step:
            D = sqrt(2 / tau_b / (X^2 + 1e-6)),  C = sqrt(2 / tau_a / (Y - X + 1e-6)^2)
            D = min(D, 2 C),  rho = (C + D) / 2
            tau_b = mean(1 / (D + 1e-6) + tau_b / 2), tau_a likewise with C

    The fused image is ``X + VI``. As in the original, the differences used for ``F1``/``F2``
    are ``imfilter`` correlations with zero padding while the FFT solve uses ``psf2otf``
    (circular convolution); the mismatch is kept. A pixel where ``Y - X = -1e-6`` exactly would
    give ``C = inf`` in MATLAB; here the guard is applied the same way, so it can occur only in
    the same (measure-zero) case, and then ``nan_to_num`` keeps the output finite.
    Deterministic; about 1 s for a 640x480 pair on one (shared) core.
    """
    u = np.asarray(ir, np.float64) / 255.0
    v = np.asarray(vi, np.float64) / 255.0
    y = u - v
    shape = y.shape
    k1 = _otf_first_difference(shape, 1)
    k2 = _otf_first_difference(shape, 0)
    denom = 1.0 + (np.conj(k1) * k1).real + (np.conj(k2) * k2).real
    ck1, ck2 = np.conj(k1), np.conj(k2)

    rho: float | np.ndarray = 1.0
    c = np.ones(shape)
    d = np.ones(shape)
    f1 = np.zeros(shape)
    f2 = np.zeros(shape)
    h = np.zeros(shape)
    x = np.zeros(shape)
    tau_a = tau_b = 1.0
    for _ in range(em_iters):
        for _ in range(m_iters):
            x = (2.0 * c * y + rho * h) / (2.0 * c + 2.0 * d + rho)
            spec = np.fft.fft2(x) + ck1 * np.fft.fft2(f1) + ck2 * np.fft.fft2(f2)
            h = np.real(np.fft.ifft2(spec / denom))
            f1 = _soft(_diff_cols(h), lam / rho)
            f2 = _soft(_diff_rows(h), lam / rho)
        with np.errstate(divide="ignore"):
            d = np.sqrt(2.0 / tau_b / (x ** 2 + 1e-6))
            c = np.sqrt(2.0 / tau_a / ((y - x + 1e-6) ** 2))
        d = np.minimum(d, 2.0 * c)
        rho = 0.5 * (c + d)
        tau_b = float(np.mean(1.0 / (d + 1e-6) + tau_b / 2.0))
        tau_a = float(np.mean(1.0 / (c + 1e-6) + tau_a / 2.0))
    fused = np.nan_to_num(x + v, nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(fused, 0.0, 1.0) * 255.0
