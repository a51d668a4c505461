"""`framework import SRC OUT`: bring a stock HF checkpoint into the zoo, checked and converted."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "import",
        help="import a stock HuggingFace model (folder or Hub id) into a checked zoo folder",
        description="Load SRC with the zoo, verifying every tensor name and shape against the "
        "architecture, and write OUT as safetensors. Pickle-based .bin weights are read with "
        "weights-only loading (files that would run code are refused). --task swaps the head, e.g. "
        "a sequence classifier initialised from a causal LM.",
    )
    p.add_argument("src", help="HF model folder or Hub id")
    p.add_argument("out", help="output folder (created)")
    p.add_argument("--task", help="head to build: causal-lm, masked-lm, seq2seq-lm, sequence-classification, base")
    p.add_argument("--num-labels", type=int, help="labels for a new sequence-classification head")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import framework
    from framework.models.tokenizer_files import copy_tokenizer_files

    if args.num_labels is not None and args.task != "sequence-classification":
        from framework.errors import FrameworkError

        raise FrameworkError("--num-labels only applies with --task sequence-classification.")
    model = framework.load(args.src, task=args.task, num_labels=args.num_labels)
    out = model.save_pretrained(args.out)
    if Path(args.src).is_dir():
        copy_tokenizer_files(Path(args.src), out)
    print(f"imported {args.src} as {type(model).__name__} ({model.num_parameters():,} parameters) into {out}")
    return 0
