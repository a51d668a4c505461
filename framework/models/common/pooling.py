"""Pooling for decoder classifiers."""

from __future__ import annotations

import torch

from framework.errors import FrameworkError


def last_token_index(input_ids: torch.Tensor, pad_token_id: int | None) -> torch.Tensor:
    """Index of the rightmost non-padding token per row (B,), HF's rule for decoder classifiers."""
    B, L = input_ids.shape
    if pad_token_id is None:
        if B > 1:
            raise FrameworkError(
                "a decoder classifier needs config.pad_token_id to find the last token of padded rows; "
                "set pad_token_id in the model config (usually the tokenizer's pad or eos id)."
            )
        return torch.full((B,), L - 1, device=input_ids.device)
    positions = torch.arange(L, device=input_ids.device)
    return (positions * (input_ids != pad_token_id)).argmax(-1)
