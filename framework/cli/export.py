"""`framework export SRC OUT [--push-to-hub REPO_ID --private]`: write a model in the vanilla HF format
(safetensors only) with a model card, and optionally publish it."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a model to the vanilla HuggingFace format (and push it to the Hub)",
        description="Load SRC (a pretraining or fine-tuning run, where a fine-tuning run gives its best "
        "checkpoint with LoRA merged; one committed checkpoint; an HF-format model folder or Hub id) through "
        "the zoo and write OUT: config.json (id2label/label2id for classifiers), model.safetensors (sharded "
        "above --max-shard-size), generation_config.json for generative models, the tokenizer files, and a "
        "README.md model card. Stock transformers loads OUT with no custom code. --push-to-hub uploads OUT "
        "with the token from HF_TOKEN or the `hf auth login` cache.",
    )
    p.add_argument("src", help="run folder, checkpoint folder, model folder or Hub id")
    p.add_argument("out", help="output folder (created)")
    p.add_argument("--max-shard-size", type=float, default=5.0, help="GiB per safetensors shard (default 5)")
    p.add_argument("--push-to-hub", metavar="REPO_ID", help="upload OUT to this Hub repository (org/name)")
    p.add_argument("--private", action="store_true", help="create the Hub repository as private")
    p.add_argument("--base-model", metavar="HUB_ID", help="base_model for the model card (default: the run's "
                   "init_from when it is a Hub id)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from framework.finetune.checkpoints import load_model, locate
    from framework.hub import push_folder, write_model_card
    from framework.models.tokenizer_files import copy_tokenizer_files

    if args.private and not args.push_to_hub:
        print("note: --private only applies with --push-to-hub")
    source = locate(args.src)
    model = load_model(args.src)
    out = model.save_pretrained(args.out, max_shard_size=int(args.max_shard_size * 1024**3))
    tok_dir = Path(source.tokenizer)
    copied = copy_tokenizer_files(tok_dir, out) if tok_dir.is_dir() else []
    if not tok_dir.exists():  # a Hub id: its tokenizer through transformers
        from framework.data import load_tokenizer

        copied = [p.name for p in map(Path, load_tokenizer(args.src).save_pretrained(out))]
    write_model_card(out, source.run_dir, base_model=args.base_model, source=None if source.run_dir else args.src)
    print(f"exported {type(model).__name__} ({model.num_parameters():,} parameters) as "
          f"{model.hf_architecture} to {out}" + (f" with tokenizer ({', '.join(copied)})" if copied else ""))
    if args.push_to_hub:
        files = push_folder(out, args.push_to_hub, private=args.private)
        print(f"pushed {len(files)} files to https://huggingface.co/{args.push_to_hub}")
    return 0
