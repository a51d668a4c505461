"""Tiny prepared datasets and recipes for engine tests (CPU, seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from framework import data

# family preset -> (tokenizer kind, objective, config overrides that switch dropout off)
FAMILIES = {
    "gpt2-debug": ("bpe", "causal-lm", {"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}),
    "llama-debug": ("bpe", "causal-lm", {}),
    "bert-debug": ("wordpiece", "masked-lm", {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}),
    "t5-debug": ("unigram", "span-corruption", {"dropout_rate": 0.0}),
    "transformer-debug": ("unigram", "span-corruption", {"dropout": 0.0, "attention_dropout": 0.0,
                                                         "activation_dropout": 0.0}),
}
REPO = Path(__file__).resolve().parents[2]


def prepare_tiny(root: Path, kind: str) -> Path:
    """Tokenizer (vocab 512) + shards of ~120 embedded documents; returns the shards folder."""
    out = root / kind
    if (out / "shards" / "index.json").exists():
        return out / "shards"
    recipe = data.load_recipe(None, [
        "sources=[{embedded: python-docs, max_documents: 120}]",
        f"tokenizer.kind={kind}", "tokenizer.vocab_size=512", "tokenizer.extra_ids=20",
        f"tokenizer.out_dir={out / 'tokenizer'}", f"prepare.out_dir={out / 'shards'}",
        "prepare.validation_fraction=0.05", "prepare.docs_per_shard=64",
    ] + (["tokenizer.lowercase=true"] if kind == "wordpiece" else []))
    data.train_from_recipe(recipe)
    data.prepare(recipe)
    return out / "shards"


def tiny_recipe(tmp: Path, shards: Path, preset: str, **sections) -> Path:
    """A pretraining recipe for a debug model: fp32, 32-token sequences, logging every step."""
    _, objective, model_overrides = FAMILIES[preset]
    recipe = {
        "run_dir": str(tmp / "run"),
        "model": {"preset": preset, "config": dict(model_overrides)},
        "data": {"path": str(shards), "objective": objective, "seq_len": 32},
        "train": {"max_steps": 20, "micro_batch_size": 2, "global_batch_size": 4, "precision": "fp32",
                  "zero_stage": 0},
        "optim": {"lr": 1e-3, "warmup_steps": 2},
        "checkpoint": {"every": 1000, "keep_last": 2},
        "log": {"every": 1, "eval_every": 0, "eval_batches": 2, "progress": False, "tensorboard": False,
                "plot": False},
        "distributed": {"timeout_s": 120},  # a hang fails the test in minutes, not at the subprocess limit
    }
    for section, values in sections.items():
        recipe.setdefault(section, {}).update(values) if isinstance(values, dict) else recipe.update({section: values})
    path = tmp / f"{preset}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def run_cli(args: list[str], nproc: int = 1, timeout: float = 600, env: dict | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
    """`framework ...` in a subprocess; with nproc > 1 under torchrun (gloo)."""
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "framework.cli.main", *args]
    else:
        cmd = [sys.executable, "-m", "framework.cli.main", *args]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def train_losses(run_dir: Path) -> dict[int, float]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return {r["step"]: r["loss"] for r in records if r.get("kind") == "train"}
