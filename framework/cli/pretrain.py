"""`framework pretrain RECIPE [key=value ...]`: pretrain a zoo model with DeepSpeed."""

from __future__ import annotations

import argparse
import json
import os
import subprocess


def add_parser(sub) -> None:
    p = sub.add_parser(
        "pretrain",
        help="pretrain a model from a recipe (DeepSpeed ZeRO 0-3, one process to many nodes)",
        description="Pretrain the recipe's model on prepared shards. Dotted key=value overrides change any "
        "recipe field (train.max_steps=100 train.zero_stage=3). Runs in this process as one rank; "
        "--nproc N starts N local ranks through torchrun. Under torchrun, the deepspeed launcher, "
        "accelerate launch or srun, rank and world size come from that launcher's environment.",
    )
    p.add_argument("recipe", help="YAML recipe, e.g. recipes/pretrain/gpt2-tiny.yaml")
    p.add_argument("overrides", nargs="*", help="key=value overrides")
    p.add_argument("--nproc", type=int, default=1, help="local processes to start (default 1)")
    p.add_argument("--check", action="store_true", help="validate the recipe and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from framework.training.config import load_pretrain_config

    from framework.training.validate import validate

    cfg = load_pretrain_config(args.recipe, args.overrides)  # fails fast, before any process starts
    validate(cfg)
    if args.nproc > 1:
        cfg.grad_accum(args.nproc)
    if args.check:
        print(f"{args.recipe}: valid")
        return 0
    if args.nproc > 1 and "RANK" not in os.environ:
        return _spawn(args)
    from framework.training.trainer import pretrain

    result = pretrain(cfg)
    status = {"status": result.status, "step": result.step, "tokens": result.tokens,
              "final_loss": result.final_loss, "export_dir": str(result.export_dir) if result.export_dir else None}
    if int(os.environ.get("RANK", "0")) == 0:
        (result.run_dir / "status.json").write_text(json.dumps(status, indent=2))
        print(json.dumps(status))
    return 0


def _spawn(args: argparse.Namespace) -> int:
    from framework.distributed.launch import torchrun_command

    return subprocess.call(torchrun_command(args.nproc, ["pretrain", args.recipe, *args.overrides]))
