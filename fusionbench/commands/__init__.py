"""Extra CLI sub-commands; each module registers itself with ``register_command``."""
