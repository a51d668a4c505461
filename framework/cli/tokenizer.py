"""`framework tokenizer train RECIPE [key=value ...]`: train the recipe's tokenizer."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("tokenizer", help="train a BPE / WordPiece / Unigram tokenizer from a data recipe",
                       description="Tokenizers for the data path, saved as stock HF fast tokenizer folders.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    train = actions.add_parser("train", help="train the recipe's tokenizer into tokenizer.out_dir",
                               description="Train the tokenizer a data recipe describes, on its sources.")
    train.add_argument("recipe", help="data recipe YAML, e.g. recipes/data/embedded-bpe.yaml")
    train.add_argument("overrides", nargs="*", help="key=value overrides, e.g. tokenizer.vocab_size=4096")
    train.add_argument("--force", action="store_true", help="retrain even if out_dir holds a tokenizer")
    train.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from framework.data.recipe import load_recipe
    from framework.data.tokenizer import load_tokenizer, tokenizer_hash
    from framework.data.tokenizer_train import train_from_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    out = train_from_recipe(recipe, force=args.force)
    tok = load_tokenizer(out)
    print(f"tokenizer: {out}  vocab {len(tok)}  hash {tokenizer_hash(tok)}")
    return 0
