"""Building the model for a run and applying what the engine applies from outside."""

from __future__ import annotations

import functools
import logging

import torch
from torch.utils.checkpoint import checkpoint

from framework.models.base import ZooModel
from framework.models.registry import config_from_preset, resolve_class
from framework.training.config import ModelSection

logger = logging.getLogger(__name__)

SPECIAL_IDS = ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id")


def build_model(section: ModelSection, special_ids: dict[str, int | None], task: str) -> ZooModel:
    """Random init from a preset, or pretrained weights; the tokenizer's special ids go in the config."""
    if section.init_from:
        import framework

        model = framework.load(section.init_from, task=task)
        for key, value in section.config.items():
            setattr(model.config, key, value)
    else:
        config = config_from_preset(section.preset, **section.config)
        for key, value in special_ids.items():
            if value is not None and key in SPECIAL_IDS:
                setattr(config, key, value)
        model = resolve_class(config, task).from_config(config)
    return model.train()


def apply_activation_checkpointing(model: ZooModel) -> int:
    """Recompute every declared block in backward (non-reentrant, RNG-preserving). Returns count."""
    count = 0
    for module in model.modules():
        if isinstance(module, model.block_classes):
            module.forward = functools.partial(checkpoint, module.forward, use_reentrant=False)
            count += 1
    if not count:
        logger.warning("activation checkpointing: %s declares no block classes", type(model).__name__)
    return count


def maybe_compile(model: ZooModel, enabled: bool) -> ZooModel:
    if not enabled:
        return model
    for module in model.modules():
        if isinstance(module, model.block_classes):
            module.compile()
    return model


def model_dims(config) -> tuple[int, int]:
    """(layers, width) across the zoo's config naming schemes, for the FLOPs formula."""
    layers = next(getattr(config, k) for k in ("num_hidden_layers", "n_layer", "num_layers", "encoder_layers")
                  if getattr(config, k, None))
    width = next(getattr(config, k) for k in ("hidden_size", "n_embd", "d_model") if getattr(config, k, None))
    if getattr(config, "is_encoder_decoder", False):
        layers += getattr(config, "num_decoder_layers", None) or getattr(config, "decoder_layers", 0) or layers
    return layers, width


def parameter_count(model: torch.nn.Module) -> int:
    seen = {id(p): p.numel() for p in model.parameters()}
    return sum(seen.values())
