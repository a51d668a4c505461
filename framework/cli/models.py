"""`framework models`: the zoo's presets with their sizes."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list the model zoo's presets and parameter counts",
                       description="List every preset of every family, with its parameter count.")
    p.add_argument("--family", help="only this model_type (gpt2, llama, bert, t5, marian)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from framework.models.registry import FAMILIES, build

    print(f"{'preset':<22} {'model_type':<10} {'exports as':<34} {'parameters':>14}")
    for family in FAMILIES.values():
        if args.family and family.model_type != args.family:
            continue
        for name in family.presets:
            with torch.device("meta"):
                n = build(name).num_parameters()
            print(f"{name:<22} {family.model_type:<10} {family.default:<34} {n:>14,}")
    return 0
