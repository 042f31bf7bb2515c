"""``fusionbench train METHOD``: train a trainable method (one whose spec has a ``trainer``).

The command is generic: it parses the common training options and calls
``spec.trainer(variant=..., epochs=..., max_steps=..., seed=..., out=..., data_root=...,
progress=..., resume=...)`` (``mu=`` only when given). The trainer returns a dict with at least
``out``, ``seconds`` and ``final_losses``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from fusionbench.cli import add_data_root
from fusionbench.errors import FusionbenchError, InputError


def _configure(p) -> None:
    p.add_argument("method", help="a trainable method (e.g. ssl_waeie)")
    p.add_argument("--variant", help="named configuration to train (e.g. no_iee, mu9); default: the method's default")
    p.add_argument("--mu", type=float, help="override the loss weight mu (methods that have one)")
    p.add_argument("--epochs", type=float, help="training epochs (default: the method's recipe)")
    p.add_argument("--max-steps", type=int, help="stop after this many optimisation steps (quick runs)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", help="weights file to write (default: $FUSIONBENCH_TRAINED or "
                   "~/.cache/fusionbench/trained, /<method>/<variant or default>.pt)")
    add_data_root(p)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-resume", action="store_true", help="start afresh even if a checkpoint exists")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def cmd_train(args) -> int:
    from fusionbench.registry import METHODS, discover, parse_method

    base, _, inline = args.method.partition(":")
    variant = args.variant or inline or None
    call = parse_method(base if variant in (None, "default") else f"{base}:{variant}")
    spec = call.spec
    name = spec.name
    if spec.trainer is None:
        discover()
        trainable = ", ".join(sorted(n for n, s in METHODS.items() if s.trainer is not None)) or "none"
        raise InputError(f"method {name!r} is not trainable (trainable: {trainable})")
    if args.max_steps is not None and args.max_steps < 1:
        raise InputError("--max-steps must be at least 1")
    if args.epochs is not None and args.epochs <= 0:
        raise InputError("--epochs must be positive")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    kw = dict(variant=None if variant == "default" else variant, epochs=args.epochs, max_steps=args.max_steps,
              seed=args.seed, out=Path(args.out).expanduser() if args.out else None,
              data_root=Path(args.data_root).expanduser() if args.data_root else None,
              progress=not args.no_progress, resume=not args.no_resume)
    if args.mu is not None:
        kw["mu"] = args.mu
    try:
        res = spec.trainer(**kw)
    except FloatingPointError as exc:
        raise FusionbenchError(str(exc)) from None
    losses = ", ".join(f"{k}={v:.5g}" for k, v in res.get("final_losses", {}).items())
    print(f"wrote {res['out']} ({res['seconds']:.1f} s); final losses: {losses}", file=sys.stderr)
    return 0
