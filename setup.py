"""Package discovery for the package-dir mapping.

The engine lives in ``fusionbench/``; the domain folders ``methods/``, ``metrics/`` and
``datasets/`` install as ``fusionbench.methods``, ``fusionbench.metrics`` and
``fusionbench.datasets`` (never as top-level names). Metadata is in ``pyproject.toml``.
"""
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent
MAPPING = {"fusionbench": "fusionbench", "fusionbench.methods": "methods",
           "fusionbench.metrics": "metrics", "fusionbench.datasets": "datasets"}


def _packages() -> list[str]:
    found = []
    for pkg, folder in MAPPING.items():
        root = HERE / folder
        for init in sorted(root.rglob("__init__.py")):
            rel = init.parent.relative_to(root)
            found.append(".".join([pkg, *rel.parts]) if rel.parts else pkg)
    return found


setup(packages=_packages(), package_dir=MAPPING)
