"""Dataset loaders (installed as ``fusionbench.datasets``); each module registers itself."""
