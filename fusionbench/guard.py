"""Memory guard: refuse work whose estimated peak memory exceeds what the machine has.

A method's peak memory grows linearly with the image size: ``MethodSpec.mem_bytes_per_pixel``
is its measured factor (``benchmarks/mem_per_pixel.py``: peak RSS above the resident size
before the call, divided by the pixel count, at 512x512), :data:`DEFAULT_BYTES_PER_PIXEL` for a
method without one. A run adds :data:`RUN_OVERHEAD_BYTES_PER_PIXEL` (the three images as read
and as float64 gray, and the most memory-hungry metric: ``fmi``, 379 B/px measured at 512x512),
``fuse`` only :data:`READ_OVERHEAD_BYTES_PER_PIXEL`. The estimate for a run is
``pixels * (method + overhead) * parallel jobs``; it is compared with the
available memory (``psutil.virtual_memory().available`` when psutil is installed, else
``MemAvailable`` of ``/proc/meminfo``; no check when neither is known). Image sizes come from
file headers (:func:`fusionbench.imageio.image_shape`), before any pixel is loaded.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import InputError

#: factor for methods that do not declare a measured one (bytes per pixel of peak memory; the
#: measured factors range from 10 (average) to 5700 (didfuse, CPU))
DEFAULT_BYTES_PER_PIXEL = 1000.0
#: reading a pair (raw + float64 gray), as ``fuse`` needs (bytes per pixel)
READ_OVERHEAD_BYTES_PER_PIXEL = 50.0
#: a run: reading three images and the hungriest metric (``fmi``: 379 B/px measured)
RUN_OVERHEAD_BYTES_PER_PIXEL = 450.0


class MemoryLimitError(InputError):
    """The estimated peak memory exceeds the available memory (exit code 2)."""


def available_memory() -> int | None:
    """Available memory in bytes (psutil, else /proc/meminfo ``MemAvailable``), None if unknown."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil absent or broken: fall back
        pass
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def bytes_per_pixel(spec, overhead: float = RUN_OVERHEAD_BYTES_PER_PIXEL) -> float:
    """A method's peak-memory factor (measured, else the default) plus ``overhead``."""
    f = getattr(spec, "mem_bytes_per_pixel", None)
    return float(f if f is not None else DEFAULT_BYTES_PER_PIXEL) + overhead


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def check_memory(specs: Iterable, pixels: int, *, what: str, jobs: int = 1,
                 available: int | None = None, overhead: float = RUN_OVERHEAD_BYTES_PER_PIXEL) -> None:
    """Raise :class:`MemoryLimitError` when any method's estimate for ``pixels`` exceeds memory.

    ``what`` names the image (``pair 01 (9000x9000)``); ``jobs`` parallel copies are assumed.
    """
    avail = available_memory() if available is None else available
    if avail is None:
        return
    for spec in specs:
        bpp = bytes_per_pixel(spec, overhead)
        need = pixels * bpp * max(1, jobs)
        if need > avail:
            par = f" x {jobs} jobs" if jobs > 1 else ""
            raise MemoryLimitError(
                f"{spec.name} on {what}: needs about {_gb(need)} of memory ({pixels / 1e6:.1f} megapixels x "
                f"{bpp:.0f} bytes/pixel{par}), more than the {_gb(avail)} available; "
                "use smaller images" + (" or fewer --jobs" if jobs > 1 else ""))


def check_pairs(pairs, specs, *, max_megapixels: float | None = None, jobs: int = 1) -> None:
    """Before loading anything: every pair's size (from headers) within ``max_megapixels`` (default:
    the reading limit) and within the memory estimate of every method."""
    from .imageio import _check_pixels, image_shape

    specs = list(specs)
    biggest, where = 0, ""
    for pair in pairs:
        for f in (pair.ir_path, pair.vi_path):
            if f is None or not Path(f).is_file() or not os.access(f, os.R_OK):
                continue  # generated pairs, and files that validation will report
            try:
                h, w = image_shape(f)
            except InputError:
                continue  # reported by validation with the full reason
            _check_pixels(Path(f), h, w, max_megapixels)
            if h * w > biggest:
                biggest, where = h * w, f"pair {pair.name} ({w}x{h}, {f})"
    if biggest:
        check_memory(specs, biggest, what=where, jobs=jobs)
