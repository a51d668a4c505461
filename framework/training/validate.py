"""Static checks of a pretraining recipe against the zoo and its data recipe, before compute.

`framework pretrain --check` runs them, the trainer runs them first, and a test runs them on
every shipped recipe. They need no prepared data and no process group.
"""

from __future__ import annotations

from pathlib import Path

from framework.config import ConfigError
from framework.models.registry import PRESETS, config_from_preset, family_of
from framework.training.config import PretrainConfig

TASK_FOR_OBJECTIVE = {"causal-lm": "causal-lm", "masked-lm": "masked-lm", "span-corruption": "seq2seq-lm"}
TOKENIZER_FOR_OBJECTIVE = {"masked-lm": {"wordpiece"}, "span-corruption": {"unigram"}, "causal-lm": {"bpe"}}


def validate(cfg: PretrainConfig) -> None:
    """Raise ConfigError naming the key and the fix for any combination that cannot run."""
    objective = cfg.data.objective
    if cfg.model.preset:
        if cfg.model.preset not in PRESETS:
            raise ConfigError(f"model.preset '{cfg.model.preset}' is not a zoo preset; see `framework models`.")
        model_config = config_from_preset(cfg.model.preset, **cfg.model.config)
        family = family_of(model_config.model_type)
        task = TASK_FOR_OBJECTIVE[objective]
        if task not in family.tasks:
            raise ConfigError(
                f"data.objective={objective} needs a '{task}' head, which {family.model_type} does not have "
                f"(it has {', '.join(sorted(family.tasks))}); pick the objective that matches the model.")
        _check_positions(cfg, model_config)
    if cfg.data.recipe:
        _check_data_recipe(cfg, model_config if cfg.model.preset else None)


def _check_positions(cfg: PretrainConfig, model_config) -> None:
    from framework.data import max_positions

    limit = max_positions(model_config)
    if limit is not None and cfg.data.seq_len > limit:
        raise ConfigError(f"data.seq_len={cfg.data.seq_len} exceeds the model's {limit} positions; lower it or "
                          f"raise the position table in model.config.")


def _check_data_recipe(cfg: PretrainConfig, model_config) -> None:
    from framework.data import load_recipe

    if not Path(cfg.data.recipe).exists():
        raise ConfigError(f"data.recipe={cfg.data.recipe} does not exist.")
    recipe = load_recipe(cfg.data.recipe)
    tok = recipe.tokenizer
    if tok.pretrained:
        return
    allowed = TOKENIZER_FOR_OBJECTIVE[cfg.data.objective]
    if tok.kind not in allowed:
        raise ConfigError(f"data.recipe {cfg.data.recipe} trains a {tok.kind} tokenizer but data.objective="
                          f"{cfg.data.objective} needs {' or '.join(sorted(allowed))}.")
    if model_config is not None and tok.vocab_size > model_config.vocab_size:
        raise ConfigError(f"data.recipe {cfg.data.recipe} trains {tok.vocab_size} tokens but the model has "
                          f"vocab_size={model_config.vocab_size}; set model.config.vocab_size >= {tok.vocab_size}.")
