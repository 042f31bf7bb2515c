"""CLI sub-command modules; each is declared once in ``fusionbench.cli.COMMANDS``."""
