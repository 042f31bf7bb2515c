"""fusionbench: benchmark infrared-and-visible image fusion.

``fusionbench.fuse(ir, vi, method=...)`` and ``fusionbench.evaluate(ir, vi, fused, metrics=...)``
are the Python entry points; ``fusionbench`` on the command line does the rest.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .api import evaluate, fuse  # noqa: E402

__all__ = ["fuse", "evaluate", "__version__"]
