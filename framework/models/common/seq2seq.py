"""Pieces shared by the encoder-decoder families (T5, Marian-style transformer)."""

from __future__ import annotations

import torch

from framework.errors import FrameworkError
from framework.models.common.losses import IGNORE_INDEX


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int | None, decoder_start_token_id: int | None) -> torch.Tensor:
    """Teacher-forcing decoder inputs from (B, L) labels: position t sees label t-1.

    The first position gets `decoder_start_token_id`; ignored labels (-100) become padding, since
    they are not token ids (HF's `_shift_right` / `shift_tokens_right`).
    """
    if decoder_start_token_id is None:
        raise FrameworkError(
            "config.decoder_start_token_id is not set, so decoder inputs cannot be made from labels; "
            "set it in the model config (T5 and Marian use the pad id) or pass decoder_input_ids."
        )
    if pad_token_id is None:
        raise FrameworkError("config.pad_token_id is not set; it replaces -100 when labels are shifted into decoder inputs.")
    shifted = labels.new_empty(labels.shape)  # (B, L)
    shifted[..., 1:] = labels[..., :-1]
    shifted[..., 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == IGNORE_INDEX, pad_token_id)
