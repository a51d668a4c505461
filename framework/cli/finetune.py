"""`framework finetune RECIPE [key=value ...]`: fine-tune a zoo model on labelled data with DeepSpeed."""

from __future__ import annotations

import argparse
import json
import os
import subprocess


def add_parser(sub) -> None:
    p = sub.add_parser(
        "finetune",
        help="fine-tune a model from a recipe: classification, SFT or seq2seq, optionally with LoRA",
        description="Fine-tune model.init_from (a pretraining or fine-tuning run, a checkpoint, an HF model folder "
        "or Hub id) on the recipe's data with the pretraining engine (DeepSpeed ZeRO 0-3, committed checkpoints, "
        "resume). Validation metrics are logged every log.eval_every steps; eval.select keeps the best checkpoint "
        "and eval.patience stops early. At the end <run_dir>/hf holds the best model in the HF format with a model "
        "card, and <run_dir>/eval_test.json its test-split metrics. Dotted key=value overrides change any field.",
    )
    p.add_argument("recipe", help="YAML recipe, e.g. recipes/finetune/bert-sentiment.yaml")
    p.add_argument("overrides", nargs="*", help="key=value overrides")
    p.add_argument("--nproc", type=int, default=1, help="local processes to start (default 1)")
    p.add_argument("--check", action="store_true", help="validate the recipe (no data, no weights) and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from framework.finetune.config import load_finetune_config
    from framework.finetune.runner import finetune, validate

    cfg = load_finetune_config(args.recipe, args.overrides)
    if args.check:
        validate(cfg)
        print(f"{args.recipe}: valid")
        return 0
    if args.nproc > 1 and "RANK" not in os.environ:
        from framework.distributed.launch import torchrun_command

        return subprocess.call(torchrun_command(args.nproc, ["finetune", args.recipe, *args.overrides]))
    result, report = finetune(cfg)
    status = {"status": result.status, "step": result.step, "final_loss": result.final_loss, "best": result.best,
              "export_dir": str(result.export_dir) if result.export_dir else None,
              "new_weights": report.new_weights, "lora": report.lora and {k: v for k, v in report.lora.items()
                                                                          if k != "modules"}}
    if int(os.environ.get("RANK", "0")) == 0:
        (result.run_dir / "status.json").write_text(json.dumps(status, indent=2))
        print(json.dumps(status))
    return 0
