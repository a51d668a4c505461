"""Shared fixtures: tiny tokenizers, and the end-to-end chains (pretrain -> fine-tune) run once per
session with their DeepSpeed processes side by side, so the suite fits a few minutes of CPU."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.finetune.helpers import hf_folder, launch, wait_all
from tests.training.helpers import REPO, prepare_tiny, tiny_recipe

RECIPES = REPO / "recipes" / "finetune"


@pytest.fixture(scope="session")
def tokenizers(tmp_path_factory):
    """kind -> (tokenizer folder, shards folder), prepared once."""
    root = tmp_path_factory.mktemp("tiny-data")
    return {kind: (prepare_tiny(root, kind).parent / "tokenizer", prepare_tiny(root, kind))
            for kind in ("wordpiece", "bpe", "unigram")}


@dataclass
class Chains:
    root: Path
    runs: dict[str, Path]  # chain name -> fine-tuning run folder
    bases: dict[str, Path]  # chain name -> what it was initialised from


# chain -> (shipped tiny recipe, base, overrides making it a debug-size test run)
CHAINS = {
    "bert": ("bert-tiny-sentiment.yaml", "pretrain:bert-debug", []),
    "gpt2": ("gpt2-tiny-sft.yaml", "pretrain:gpt2-debug", []),
    "t5": ("t5-tiny-summarize.yaml", "pretrain:t5-debug", []),
    "llama": ("llama-tiny-topics-lora.yaml", "hf:llama-debug", []),
    "transformer": ("transformer-tiny-translate.yaml", "hf:transformer-debug", []),
    # the llama run again on 2 gloo ranks with ZeRO-3: same seed, same global batches, same losses
    "llama-zero3": ("llama-tiny-topics-lora.yaml", "same:llama", ["train.zero_stage=3", "train.micro_batch_size=8",
                                                                  "--nproc", "2"]),
    # lr 0: the validation loss never improves after the first evaluation, so patience 1 stops the run
    "bert-early": ("bert-tiny-sentiment.yaml", "same:bert", ["optim.lr=0.0", "log.eval_every=2", "eval.select=loss",
                                                             "eval.patience=1"]),
}
TOKENIZER_KIND = {"bert": "wordpiece", "gpt2": "bpe", "llama": "bpe", "t5": "unigram", "transformer": "unigram"}


@pytest.fixture(scope="session")
def chains(tmp_path_factory, tokenizers) -> Chains:
    root = tmp_path_factory.mktemp("chains")
    bases, pretrains = {}, []
    for name, (_, base, _) in CHAINS.items():
        kind, preset = base.split(":")
        if kind == "same":
            continue
        tok_dir, shards = tokenizers[TOKENIZER_KIND[name]]
        if kind == "hf":  # initialised from an HF model folder (a Hub download looks the same)
            bases[name] = hf_folder(root / f"{name}-hf", preset, tok_dir)
            continue
        recipe = tiny_recipe(_mkdir(root / f"{name}-pretrain"), shards, preset, train={"max_steps": 3},
                             log={"every": 1, "eval_every": 0, "eval_batches": 0, "progress": False,
                                  "tensorboard": False, "plot": False})
        bases[name] = root / f"{name}-pretrain" / "run"
        pretrains.append(launch(["pretrain", str(recipe)], root / f"{name}-pretrain.log"))
    wait_all(pretrains)
    runs, finetunes = {}, []
    for name, (recipe, base, overrides) in CHAINS.items():
        if base.startswith("same:"):
            bases[name] = bases[base.split(":")[1]]
        runs[name] = root / f"{name}-finetune"
        args = ["finetune", str(RECIPES / recipe), f"run_dir={runs[name]}", f"model.init_from={bases[name]}", *overrides]
        finetunes.append(launch(args, root / f"{name}-finetune.log"))
    wait_all(finetunes)
    return Chains(root, runs, bases)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
