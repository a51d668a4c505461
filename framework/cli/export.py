"""`framework export SRC OUT`: write a model in the vanilla HF format (safetensors only)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a model to the vanilla HuggingFace format",
        description="Load SRC (an HF-format model folder or Hub id) through the zoo and write OUT: "
        "config.json, model.safetensors (sharded above --max-shard-size), generation_config.json for "
        "generative models, and the tokenizer files found next to the weights. Stock transformers "
        "loads OUT with AutoModel*.from_pretrained and no custom code.",
    )
    p.add_argument("src", help="model folder or Hub id")
    p.add_argument("out", help="output folder (created)")
    p.add_argument("--max-shard-size", type=float, default=5.0, help="GiB per safetensors shard (default 5)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import framework
    from framework.models.tokenizer_files import copy_tokenizer_files

    model = framework.load(args.src)
    out = model.save_pretrained(args.out, max_shard_size=int(args.max_shard_size * 1024**3))
    src = Path(args.src)
    copied = copy_tokenizer_files(src, out) if src.is_dir() else []
    print(f"exported {type(model).__name__} ({model.num_parameters():,} parameters) as "
          f"{model.hf_architecture} to {out}" + (f" with tokenizer ({', '.join(copied)})" if copied else ""))
    return 0
