"""`framework` entry point. Each subcommand lives in its own module under `framework.cli` and
exposes `add_parser(subparsers)`, which registers the parser and sets `func(args) -> int`."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from framework.errors import FrameworkError

# Subcommand modules, in the order `--help` lists them.
COMMANDS = ["models", "pretrain", "generate", "tokenizer", "data", "finetune", "evaluate", "viz", "export", "import_cmd", "slurm"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="framework",
        description="Pretrain and fine-tune transformers (GPT-2, Llama, BERT, T5, Transformer) with "
        "DeepSpeed, locally or on Slurm; import from and export to the HuggingFace format.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"framework.cli.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # `key=value` overrides may follow options (`pretrain R --nproc 2 train.max_steps=5`).
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except FrameworkError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
