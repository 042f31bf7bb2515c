"""Fusion methods (installed as ``fusionbench.methods``); each module registers itself."""
