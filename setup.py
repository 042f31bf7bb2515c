"""Package discovery for the package-dir mapping.

The engine lives in ``fusionbench/``; the domain folders ``methods/``, ``metrics/`` and
``datasets/`` install as ``fusionbench.methods``, ``fusionbench.metrics`` and
``fusionbench.datasets`` (never as top-level names). Data files inside a package (split
lists, shipped weights, paper values, model cards) install with it. Metadata is in
``pyproject.toml``.
"""
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent
MAPPING = {"fusionbench": "fusionbench", "fusionbench.methods": "methods",
           "fusionbench.metrics": "metrics", "fusionbench.datasets": "datasets"}
DATA_SUFFIXES = {".txt", ".csv", ".json", ".pt", ".npz", ".npy", ".md", ".js", ".css"}


def _walk() -> tuple[list[str], dict[str, str], dict[str, list[str]]]:
    packages, dirs, data = [], {}, {}
    for pkg, folder in MAPPING.items():
        root = HERE / folder
        for init in sorted(root.rglob("__init__.py")):
            rel = init.parent.relative_to(root)
            name = ".".join([pkg, *rel.parts]) if rel.parts else pkg
            packages.append(name)
            dirs[name] = str(init.parent.relative_to(HERE))
    for name, d in dirs.items():
        pkg_dir = HERE / d
        files = []
        for f in pkg_dir.rglob("*"):
            if not f.is_file() or f.suffix not in DATA_SUFFIXES or "__pycache__" in f.parts:
                continue
            owner = f.parent
            while owner != pkg_dir and not (owner / "__init__.py").exists():
                owner = owner.parent
            if owner == pkg_dir:
                files.append(str(f.relative_to(pkg_dir)))
        if files:
            data[name] = sorted(files)
    return packages, MAPPING, data


PACKAGES, PACKAGE_DIR, PACKAGE_DATA = _walk()
setup(packages=PACKAGES, package_dir=PACKAGE_DIR, package_data=PACKAGE_DATA)
