"""fusionbench: benchmark infrared-and-visible image fusion.

``fusionbench.fuse(ir, vi, method=...)`` and ``fusionbench.evaluate(ir, vi, fused, metrics=...)``
are the Python entry points; ``fusionbench`` on the command line does the rest.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["fuse", "evaluate", "__version__"]


def __getattr__(name: str):
    """``fuse`` and ``evaluate`` are imported on first use (``import fusionbench`` stays instant)."""
    if name in ("fuse", "evaluate"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'fusionbench' has no attribute {name!r}")
