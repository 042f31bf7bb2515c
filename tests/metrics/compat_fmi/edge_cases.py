"""Synthetic 8-bit images (16x20) whose windows hit analysis_fmi.m's special branches.

Built from integer formulas only (no random generator), so the Octave run and the tests see the
same pixels. ``images(name) -> (ir, vi, fused)`` as uint8 arrays.
"""
from __future__ import annotations

import numpy as np

SHAPE = (16, 20)


def _patterns() -> tuple[np.ndarray, np.ndarray]:
    i, j = np.mgrid[0:SHAPE[0], 0:SHAPE[1]]
    p1 = (i * 37 + j * 91 + (i * j) % 7 * 13) % 256
    p2 = (i * i * 5 + j * 53 + 17) % 256
    return p1, p2


def images(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (ir, vi, fused) triple of one edge case.

    * ``flat``: constant VI and F (DCT: only the DC coefficient is non-zero, so most windows of
      VI and F are all zero, while IR's are not);
    * ``anti``: F = 255 - IR (negated DCT features apart from DC: correlation < 0, the lower
      Frechet bound);
    * ``offset``: F = VI + 3 (equal DCT windows except at DC) and IR = F in the left third;
    * ``binary``: raw-pixel case: F takes two values (30, 120) in a checkerboard region and is
      constant (77) in another, where VI holds the same checkerboard as 0/1 and the constant 1,
      i.e. VI equals F's min-max normalised window there.
    """
    i, j = np.mgrid[0:SHAPE[0], 0:SHAPE[1]]
    p1, p2 = _patterns()
    if name == "flat":
        ir, vi, f = p1, np.full(SHAPE, 100), np.full(SHAPE, 60)
    elif name == "anti":
        ir, vi, f = p1, p2, 255 - p1
    elif name == "offset":
        vi = np.minimum(p2, 250)
        f = vi + 3
        ir = p1.copy()
        ir[:, :7] = f[:, :7]
    elif name == "binary":
        ir, vi, f = p1.copy(), p2.copy(), (p1 + p2) // 2
        chk = (i + j) % 2
        vi[2:8, 3:11] = chk[2:8, 3:11]
        f[2:8, 3:11] = 30 + 90 * chk[2:8, 3:11]
        vi[9:14, 10:17] = 1
        f[9:14, 10:17] = 77
    else:
        raise KeyError(name)
    return tuple(np.asarray(x, np.uint8) for x in (ir, vi, f))


NAMES = ("flat", "anti", "offset", "binary")
