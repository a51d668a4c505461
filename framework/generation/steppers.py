"""Feeding a zoo model during generation: the whole decoder prompt once, then one token per step.

The strategies only see next-token logits; a stepper hides which kind of model produces them,
keeps its KV cache, and follows beam search's reordering of rows. Inputs are expanded to
`expand` rows per example (one per beam) the way HF expands them: row i*expand + j is beam j of
example i.
"""

from __future__ import annotations

from typing import Protocol

import torch
from transformers.modeling_outputs import BaseModelOutput

from framework.generation.config import GenerationConfig


class Stepper(Protocol):
    def prefill(self, decoder_ids: torch.Tensor) -> torch.Tensor:
        """Run the (N, L) decoder prompt; return the (N, V) float32 logits of the next token."""

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append one (N,) token per row; return the next (N, V) float32 logits."""

    def reorder(self, index: torch.Tensor) -> None:
        """Keep rows `index` (N,) of every per-row state (beam search's surviving beams)."""


class DecoderOnlyStepper:
    """A causal LM with left padding: positions count real tokens only (HF's cumsum rule).

    The padding mask grows by one real column per step; an all-real batch passes no mask at
    all, as HF does (the model's causal bias alone is then exact).
    """

    def __init__(self, model: torch.nn.Module, attention_mask: torch.Tensor) -> None:
        self.model = model
        self.positions = (attention_mask.cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)  # (N, L)
        self.mask: torch.Tensor | None = None if bool(attention_mask.all()) else attention_mask
        self.cache = None

    def prefill(self, decoder_ids: torch.Tensor) -> torch.Tensor:
        return self._run(decoder_ids, self.positions)

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.mask is not None:
            self.mask = torch.cat([self.mask, self.mask.new_ones(self.mask.shape[0], 1)], dim=-1)
        self.positions = self.positions[:, -1:] + 1  # (N, 1)
        return self._run(tokens[:, None], self.positions)

    def reorder(self, index: torch.Tensor) -> None:
        self.cache.reorder(index)
        self.positions = self.positions.index_select(0, index)
        if self.mask is not None:
            self.mask = self.mask.index_select(0, index)

    def _run(self, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        out = self.model(ids, attention_mask=self.mask, position_ids=positions, past_key_values=self.cache,
                         use_cache=True)
        self.cache = out.past_key_values
        return out.logits[:, -1].float()


class EncoderDecoderStepper:
    """Encoder run once per example; the decoder attends to its (expanded) states each step."""

    def __init__(self, model: torch.nn.Module, encoder_hidden: torch.Tensor, attention_mask: torch.Tensor | None):
        self.model = model
        self.encoder_hidden = encoder_hidden  # (N, S, C)
        self.mask = attention_mask  # (N, S) or None
        self.cache = None

    def prefill(self, decoder_ids: torch.Tensor) -> torch.Tensor:
        return self._run(decoder_ids)

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        return self._run(tokens[:, None])

    def reorder(self, index: torch.Tensor) -> None:
        self.cache.reorder(index)
        self.encoder_hidden = self.encoder_hidden.index_select(0, index)
        if self.mask is not None:
            self.mask = self.mask.index_select(0, index)

    def _run(self, decoder_ids: torch.Tensor) -> torch.Tensor:
        out = self.model(attention_mask=self.mask, decoder_input_ids=decoder_ids,
                         encoder_outputs=BaseModelOutput(last_hidden_state=self.encoder_hidden),
                         past_key_values=self.cache, use_cache=True)
        self.cache = out.past_key_values
        return out.logits[:, -1].float()


def infer_attention_mask(input_ids: torch.Tensor, config: GenerationConfig) -> torch.Tensor:
    """HF's rule for a decoder-only prompt given without a mask: pad ids are padding, unless the
    pad id is also an EOS id (then nothing can be told apart and every token counts)."""
    pad = config.pad_token_id
    if pad is not None and bool((input_ids == pad).any()) and pad not in config.eos_ids:
        return (input_ids != pad).long()
    return torch.ones_like(input_ids)


def prepare(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor | None,
            config: GenerationConfig, expand: int) -> tuple[Stepper, torch.Tensor]:
    """A stepper for `model` and the (B*expand, L0) decoder prompt generation continues from."""
    if model.is_encoder_decoder:
        encoded = model.encode(input_ids, attention_mask).last_hidden_state  # (B, S, C)
        mask = attention_mask.repeat_interleave(expand, dim=0) if attention_mask is not None else None
        stepper = EncoderDecoderStepper(model, encoded.repeat_interleave(expand, dim=0), mask)
        start = torch.full((input_ids.shape[0] * expand, 1), config.decoder_start_token_id,
                           dtype=torch.long, device=input_ids.device)
        return stepper, start
    if attention_mask is None:
        attention_mask = infer_attention_mask(input_ids, config)
    prompt = input_ids.repeat_interleave(expand, dim=0)
    return DecoderOnlyStepper(model, attention_mask.repeat_interleave(expand, dim=0)), prompt
