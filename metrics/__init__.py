"""Fusion quality metrics (installed as ``fusionbench.metrics``); each module registers itself."""
