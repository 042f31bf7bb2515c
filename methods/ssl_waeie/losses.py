"""SSL-WAEIE losses, eqs. (9)-(14) of the paper, on ``(B, 1, H, W)`` float tensors on 0..1.

Norm convention (read literally from the paper): ``||X||_2^2`` is the sum of squares over the
image's pixels (and channels), averaged over the batch; eq. (14) carries its own ``1/(MN)``, so
``L_IE`` is a per-pixel mean (summed over channels and levels). The balance between the terms
therefore depends on the patch size; MODEL_CARD.md records the patch used (64x64).

* ``W_i = I_i / (I_i + I_v)``, ``W_v = 1 - W_i``; where ``I_i + I_v = 0`` both weights are 1/2
  (``WEIGHT_EPS`` is added to numerator and both halves of the denominator).
* ``L_W-WAE = ||W_i (I~_i - I_i)||^2 + ||W_v (I~_v - I_v)||^2``                       (10)
* ``L_ssim = 2 - SSIM(I~_i, I_i) - SSIM(I~_v, I_v)``, SSIM of Wang et al. 2004 with an 11x11
  Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, L = 1, mean over the valid windows  (11)
* ``L_WAE = L_W-WAE + lambda L_ssim``                                                      (9)
* ``L_wf = ||W_i (F - I_i)||^2 + ||W_v (F - I_v)||^2``                                   (13)
* ``L_f = ||F - I_i||^2 + ||F - I_v||^2`` (ablation L_1 of Table 4)
* ``L_IE = -(1/MN) sum_l ||b(dE_i(l) - dE_v(l))||^2``                                   (14)
  with ``b = tanh`` (``bound="tanh"``, our addition: the paper's term is unbounded below and,
  with a learning rate high enough to train on a CPU, drives the IEM weights to infinity) or
  ``b = identity`` (``bound="none"``, the paper's literal term).
* ``L_CIEN = L_wf + mu L_IE``                                                              (12)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from fusionbench.metrics._matlab import gaussian_1d

WEIGHT_EPS = 1e-6


def intensity_weights(ir: torch.Tensor, vi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``W_i = I_i / (I_i + I_v)`` (1/2 where both are 0), ``W_v = 1 - W_i``."""
    w_i = (ir + WEIGHT_EPS) / (ir + vi + 2 * WEIGHT_EPS)
    return w_i, 1.0 - w_i


def sq_norm(x: torch.Tensor) -> torch.Tensor:
    """``||x||_2^2`` per sample (sum over all but the batch axis), averaged over the batch."""
    return x.pow(2).flatten(1).sum(1).mean()


def weighted_fidelity(out: torch.Tensor, ir: torch.Tensor, vi: torch.Tensor) -> torch.Tensor:
    """``||W_i (out - I_i)||^2 + ||W_v (out - I_v)||^2`` (eq. 13; eq. 10 with out_i = out_v)."""
    w_i, w_v = intensity_weights(ir, vi)
    return sq_norm(w_i * (out - ir)) + sq_norm(w_v * (out - vi))


def wae_reconstruction(rec_i: torch.Tensor, rec_v: torch.Tensor, ir: torch.Tensor, vi: torch.Tensor
                       ) -> torch.Tensor:
    """``L_W-WAE`` (eq. 10)."""
    w_i, w_v = intensity_weights(ir, vi)
    return sq_norm(w_i * (rec_i - ir)) + sq_norm(w_v * (rec_v - vi))


def fidelity(out: torch.Tensor, ir: torch.Tensor, vi: torch.Tensor) -> torch.Tensor:
    """Plain fidelity ``L_f = ||F - I_i||^2 + ||F - I_v||^2`` (Table 4, L_1)."""
    return sq_norm(out - ir) + sq_norm(out - vi)


def _gauss_window(size: int = 11, sigma: float = 1.5, dtype=torch.float32, device=None) -> torch.Tensor:
    """``fspecial('gaussian', size, sigma)`` as a ``(1, 1, size, size)`` conv2d weight: the outer
    product in float64 of :func:`fusionbench.metrics._matlab.gaussian_1d`, then cast."""
    g = torch.from_numpy(gaussian_1d(size, sigma))
    return (g[:, None] * g[None, :]).to(dtype=dtype, device=device)[None, None]


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM (Wang et al. 2004) of ``(B, 1, H, W)`` tensors, 'valid' 11x11 Gaussian windows.

    Averaged over windows and batch. Images smaller than 11x11 use the largest odd window that fits.
    """
    size = min(11, x.shape[-1], x.shape[-2])
    size -= (size + 1) % 2
    w = _gauss_window(size, 1.5, x.dtype, x.device)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = F.conv2d(x, w), F.conv2d(y, w)
    sxx = F.conv2d(x * x, w) - mx * mx
    syy = F.conv2d(y * y, w) - my * my
    sxy = F.conv2d(x * y, w) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.mean()


def ssim_loss(rec_i: torch.Tensor, rec_v: torch.Tensor, ir: torch.Tensor, vi: torch.Tensor) -> torch.Tensor:
    """``L_ssim = 2 - SSIM(I~_i, I_i) - SSIM(I~_v, I_v)`` (eq. 11)."""
    return 2.0 - ssim(rec_i, ir) - ssim(rec_v, vi)


def wae_loss(rec_i, rec_v, ir, vi, lam: float = 5.0) -> dict[str, torch.Tensor]:
    """``L_WAE = L_W-WAE + lam L_ssim`` (eq. 9); returns every term (``total`` is minimised)."""
    lw = wae_reconstruction(rec_i, rec_v, ir, vi)
    ls = ssim_loss(rec_i, rec_v, ir, vi)
    return {"total": lw + lam * ls, "w_wae": lw, "ssim": ls}


def ie_loss(ex_i: list[torch.Tensor], ex_v: list[torch.Tensor], bound: str = "tanh") -> torch.Tensor:
    """``L_IE = -(1/MN) sum_l ||b(dE_i(l) - dE_v(l))||^2`` (eq. 14), batch mean; ``b`` tanh or identity."""
    if bound not in ("tanh", "none"):
        raise ValueError(f"bound must be 'tanh' or 'none', got {bound!r}")
    total = ex_i[0].new_zeros(())
    for a, b in zip(ex_i, ex_v):
        d = a - b
        if bound == "tanh":
            d = torch.tanh(d)
        mn = d.shape[-1] * d.shape[-2]
        total = total - sq_norm(d) / mn
    return total


def cien_loss(out, ir: torch.Tensor, vi: torch.Tensor, *, loss: str = "cien", mu: float = 10.0,
              bound: str = "tanh") -> dict[str, torch.Tensor]:
    """Phase-2 loss on a model :class:`~fusionbench.methods.ssl_waeie.model.Output`.

    ``loss="cien"``: ``L_wf + mu L_IE`` (eq. 12); ``"wf"``: ``L_wf``; ``"f"``: ``L_f``.
    Returns every term; ``total`` is minimised. ``ie`` is always reported (for monitoring).
    """
    ie = ie_loss(out.ex_i, out.ex_v, bound)
    if loss == "f":
        fid = fidelity(out.fused, ir, vi)
        return {"total": fid, "fid": fid, "ie": ie.detach()}
    fid = weighted_fidelity(out.fused, ir, vi)
    if loss == "wf":
        return {"total": fid, "fid": fid, "ie": ie.detach()}
    if loss != "cien":
        raise ValueError(f"loss must be 'cien', 'wf' or 'f', got {loss!r}")
    return {"total": fid + mu * ie, "fid": fid, "ie": ie}
