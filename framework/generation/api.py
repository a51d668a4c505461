"""`generate`: text generation from any zoo LM, returning exactly what stock HF `generate` returns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from framework.generation.beam_search import beam_search
from framework.generation.config import GenerationConfig, GenerationConfigError
from framework.generation.processors import build_processors
from framework.generation.sampling import sample
from framework.generation.steppers import prepare


@torch.no_grad()
def generate(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
             config: GenerationConfig | None = None, **overrides) -> torch.LongTensor:
    """Generate continuations of `input_ids` (B, L) with `model`.

    Settings come from `config` (default `GenerationConfig()`) updated by `overrides`, e.g.
    `generate(model, ids, mask, num_beams=4, max_new_tokens=32)`; unset special tokens are taken
    from `model.config`. Decoder-only prompts may be left-padded (pass `attention_mask`).

    Returns (B, T) token ids as HF does: for decoder-only models the prompt followed by the new
    tokens; for encoder-decoders the decoder sequence, starting with the decoder start token.
    Rows that ended early are padded after their EOS (with `pad_token_id`; beam search uses
    HF's fill value, which is the first EOS id when the pad id is 0). The model runs in eval mode
    (dropout off) and is put back in its previous mode afterwards.
    """
    cfg = (config or GenerationConfig()).replace(**overrides)
    cfg = cfg.resolve(model.config, model.is_encoder_decoder)
    input_ids, attention_mask = _check_inputs(model, input_ids, attention_mask)
    with _eval_mode(model):
        stepper, prompt = prepare(model, input_ids, attention_mask, cfg, expand=cfg.num_beams)
        max_length = prompt.shape[1] + cfg.max_new_tokens
        processors = build_processors(cfg, prompt_len=prompt.shape[1], max_length=max_length)
        search = beam_search if cfg.num_beams > 1 else sample
        return search(stepper, prompt, cfg, processors, max_length)


def _check_inputs(model: torch.nn.Module, input_ids: torch.Tensor,
                  attention_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.is_floating_point():
        raise GenerationConfigError("input_ids must be a (batch, length) tensor of integer token ids.")
    if input_ids.shape[0] == 0 or input_ids.shape[1] == 0:
        raise GenerationConfigError(f"input_ids is empty (shape {tuple(input_ids.shape)}); give at least one token.")
    if attention_mask is not None and attention_mask.shape != input_ids.shape:
        raise GenerationConfigError(
            f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids has {tuple(input_ids.shape)}."
        )
    device = next(model.parameters()).device
    input_ids = input_ids.to(device=device, dtype=torch.long)
    if attention_mask is not None:
        attention_mask = attention_mask.to(device=device, dtype=torch.long)
    return input_ids, attention_mask


@contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)
