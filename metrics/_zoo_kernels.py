"""Compiled float32 kernels of ``zoo:vif`` (IVIF_ZOO ``vifp_mscale``), bit-identical to the numpy order.

Imported lazily by :func:`fusionbench.metrics.vifp._vifp_float32` (numba is never imported at
package or registry import time). Every operation is a float32 IEEE operation written in the
order the numpy version of the same step ran it (``fastmath=False``: no FMA, no reassociation),
so the results are the same bits:

* :func:`correlate_stack`: full (non-separable) 2-D correlation; per output pixel the taps in
  row-major order ``(i, j)``, each ``acc = acc + (p[y*step+i, x*step+j] * w[i, j])`` (one float32
  rounding for the product, one for the sum), the accumulator starting at +0.0. This is the
  order of the straightforward shifted multiply-add loop over the taps (the tap loops outside,
  the pixels inside), which is what reproduces IVIF_ZOO's float32 ``F.conv2d`` within 5.5e-5.
  Per tap row the accumulator of a pixel stays in a register for the row's ``n`` taps (added
  one by one, in order) and the loop over ``x`` vectorises across pixels without changing any
  pixel's order.
* :func:`reference_terms`, :func:`fused_terms`: the per-pixel LIVE formulas of one scale
  (``sigma^2 = E[x^2] - mu^2`` clipped at 0, ``g``, ``sv^2`` and their guards) in float32, in
  the order :func:`fusionbench.metrics.vifp._scale_terms` evaluates them; they return the
  arguments of the two ``log10``, which stay in numpy (numpy's float32 ``log10`` and its float64
  pairwise sum are what the numpy version used).

Constants are ``np.float32`` so that no float64 literal promotes the float32 arithmetic.
"""
from __future__ import annotations

import numpy as np

from fusionbench._jit import kernel

_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)
_EPS = np.float32(1e-10)      # vifp.EPS in float32, as _scale_terms' t(EPS)
_NSQ = np.float32(2.0)        # vifp.SIGMA_NSQ


@kernel
def _row_taps(acc, row, wr, n, step):  # pragma: no cover  (compiled)
    """``acc[x] = (..((acc[x] + row[x*step] * wr[0]) + row[x*step + 1] * wr[1]) .. + row[x*step + n-1] * wr[n-1])``.

    One tap row of the window, added to one output row. The taps of a pixel are added one by
    one in ``j`` order, so the result is that of ``n`` separate ``acc += row[..] * wr[j]``
    passes; keeping ``acc[x]`` in a register across the row saves its loads and stores. Called
    with a literal ``n`` and ``step``, LLVM unrolls the ``j`` loop and vectorises the ``x`` loop.
    """
    for x in range(acc.shape[0]):
        t = acc[x]
        for j in range(n):
            t = t + row[x * step + j] * wr[j]
        acc[x] = t


@kernel
def correlate_stack(p, w, step, out):  # pragma: no cover  (compiled)
    """``out[k] = correlate(p[k], w)`` sampled every ``step``-th pixel of each axis, in float32.

    ``p``: (K, Hp, Wp) float32, already zero-padded (or 'valid'); ``w``: (n, n) float32;
    ``out``: (K, ho, wo) float32 with ``(ho - 1) * step + n <= Hp`` (same for the width).
    Output pixel ``(y, x)`` sums the taps ``p[y*step + i, x*step + j] * w[i, j]`` for i, then j,
    ascending, starting from +0.0. The branches only pass the VIF's window sizes (17, 9, 5, 3)
    and steps (1, 2) as literals to :func:`_row_taps`; the arithmetic is the same in all.
    """
    nk, ho, wo = out.shape
    n = w.shape[0]
    for k in range(nk):
        for y in range(ho):
            acc = out[k, y]
            for x in range(wo):
                acc[x] = _ZERO
            for i in range(n):
                row = p[k, y * step + i]
                wr = w[i]
                if step == 1:
                    if n == 17:
                        _row_taps(acc, row, wr, 17, 1)
                    elif n == 9:
                        _row_taps(acc, row, wr, 9, 1)
                    elif n == 5:
                        _row_taps(acc, row, wr, 5, 1)
                    elif n == 3:
                        _row_taps(acc, row, wr, 3, 1)
                    else:
                        _row_taps(acc, row, wr, n, 1)
                elif step == 2:
                    if n == 9:
                        _row_taps(acc, row, wr, 9, 2)
                    elif n == 5:
                        _row_taps(acc, row, wr, 5, 2)
                    elif n == 3:
                        _row_taps(acc, row, wr, 3, 2)
                    else:
                        _row_taps(acc, row, wr, n, 2)
                else:
                    _row_taps(acc, row, wr, n, step)


@kernel
def reference_terms(mu, e2, s11, den_arg):  # pragma: no cover  (compiled)
    """One reference image's terms at one scale, per pixel in float32.

    ``s11 = max(e2 - mu*mu, 0)`` (numpy's ``np.maximum(.., 0)``: NaN stays NaN) and the
    denominator's ``log10`` argument ``1 + s11'/2`` with ``s11' = 0`` where ``s11 < 1e-10``
    (LIVE's first guard, which :func:`_scale_terms` applies before both sums).
    """
    h, w = mu.shape
    for y in range(h):
        for x in range(w):
            m = mu[y, x]
            v = e2[y, x] - m * m
            if v < _ZERO:
                v = _ZERO
            s11[y, x] = v
            if v < _EPS:
                v = _ZERO
            den_arg[y, x] = _ONE + v / _NSQ


@kernel
def fused_terms(mu2, e2, cross, mu1, s11, num_arg):  # pragma: no cover  (compiled)
    """The fused image's terms at one scale against one reference, per pixel in float32.

    ``mu2``, ``e2``: the fused image's local mean and ``E[d^2]``; ``cross``: ``E[r d]``;
    ``mu1``, ``s11``: the reference's mean and clipped variance (all (h, w)). Writes
    ``num_arg = 1 + g^2 s11' / (sv^2 + 2)`` with, in :func:`_scale_terms`' order,
    ``s22 = max(e2 - mu2^2, 0)``, ``s12 = cross - mu1 mu2``, ``g = s12/(s11 + eps)``,
    ``sv^2 = s22 - g s12``, then the guards ``s11 < eps``: g = 0, sv^2 = s22, s11' = 0;
    ``s22 < eps``: g = sv^2 = 0; ``g < 0``: sv^2 = s22, g = 0; ``sv^2 <= eps``: sv^2 = eps.
    """
    h, w = num_arg.shape
    for y in range(h):
        for x in range(w):
            m2 = mu2[y, x]
            s22 = e2[y, x] - m2 * m2
            if s22 < _ZERO:
                s22 = _ZERO
            a = s11[y, x]
            s12 = cross[y, x] - mu1[y, x] * m2
            g = s12 / (a + _EPS)
            sv = s22 - g * s12
            if a < _EPS:
                g = _ZERO
                sv = s22
                a = _ZERO
            if s22 < _EPS:
                g = _ZERO
                sv = _ZERO
            if g < _ZERO:
                sv = s22
                g = _ZERO
            if sv <= _EPS:
                sv = _EPS
            num_arg[y, x] = _ONE + g * g * a / (sv + _NSQ)
