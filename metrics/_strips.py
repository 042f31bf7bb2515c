"""Row strips for per-pixel metric pipelines (private helper).

Long chains of numpy operations on whole images are slow: every temporary is a fresh
multi-megabyte array (page faults) and each pass streams through main memory. Running the
same chain on strips of rows that fit in the CPU cache is 2-3x faster and changes no value.
"""
from __future__ import annotations

from collections.abc import Iterator

# elements per strip: ~96 KiB of float64, below glibc's default mmap threshold and L2-sized
STRIP_ELEMENTS = 12288


def row_strips(n_rows: int, n_cols: int, halo: int = 0,
               elements: int = STRIP_ELEMENTS) -> Iterator[tuple[slice, slice]]:
    """Yield ``(source_rows, inner_rows)`` covering rows ``0..n_rows-1`` once.

    ``source_rows`` is the strip widened by up to ``halo`` rows each side (clipped to the
    image); ``inner_rows`` selects, within that strip, the rows the strip is responsible for.
    """
    step = max(1, elements // max(1, n_cols))
    for r0 in range(0, n_rows, step):
        r1 = min(n_rows, r0 + step)
        a0, a1 = max(0, r0 - halo), min(n_rows, r1 + halo)
        yield slice(a0, a1), slice(r0 - a0, r1 - a0)
