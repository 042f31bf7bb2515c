"""Papers' published tables as data (``<name>.json``), loaded by :func:`fusionbench.paper.load_paper`."""
