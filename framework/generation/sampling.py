"""Greedy decoding and multinomial sampling: one token per row per step (HF's `_sample`).

A row that emitted EOS is finished; it keeps receiving `pad_token_id` until every row is
finished or the length limit is reached, so all rows come back the same length.
"""

from __future__ import annotations

import torch

from framework.generation.config import GenerationConfig
from framework.generation.processors import Processor, apply_processors
from framework.generation.steppers import Stepper


def sample(stepper: Stepper, prompt: torch.Tensor, config: GenerationConfig, processors: list[Processor],
           max_length: int) -> torch.Tensor:
    """Extend the (N, L0) prompt to at most (N, max_length); argmax unless `config.do_sample`."""
    sequences = prompt
    eos = torch.tensor(config.eos_ids, dtype=torch.long, device=prompt.device) if config.eos_ids else None
    unfinished = torch.ones(prompt.shape[0], dtype=torch.bool, device=prompt.device)
    generator = None
    if config.do_sample and config.seed is not None:
        generator = torch.Generator(device=prompt.device).manual_seed(config.seed)
    logits = stepper.prefill(prompt)
    while True:
        scores = apply_processors(processors, sequences, logits)
        if config.do_sample:
            tokens = torch.multinomial(scores.softmax(dim=-1), num_samples=1, generator=generator).squeeze(1)
        else:
            tokens = scores.argmax(dim=-1)
        if eos is not None:
            tokens = torch.where(unfinished, tokens, config.pad_token_id)
            unfinished &= ~torch.isin(tokens, eos)
        sequences = torch.cat([sequences, tokens[:, None]], dim=-1)
        if sequences.shape[1] >= max_length or not bool(unfinished.any()):
            return sequences
        logits = stepper.step(tokens)
