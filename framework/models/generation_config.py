"""generation_config.json for generative exports, so stock `generate` picks up the special tokens."""

from __future__ import annotations

from pathlib import Path

from transformers import GenerationConfig, PretrainedConfig


def save_generation_config(config: PretrainedConfig, out: Path) -> None:
    GenerationConfig.from_model_config(config).save_pretrained(out)
