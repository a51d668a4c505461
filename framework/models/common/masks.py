"""Additive attention masks, as the seed guide describes them.

A padding mask marks real tokens with 1 and padding with 0; a look-ahead (causal) mask lets
position i see keys j <= i. Both become one additive bias (0 = attend, dtype-min = blocked) that
broadcasts to (B, H, L, S). Additive rather than boolean so that a fully masked row (a left-pad
query) softmaxes to uniform weights instead of NaN.
"""

from __future__ import annotations

import torch


def _blocked(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).min


def padding_bias(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, S) with 1 = token, 0 = pad -> (B, 1, 1, S) additive bias."""
    keep = attention_mask[:, None, None, :].bool()
    return torch.zeros(keep.shape, dtype=dtype, device=keep.device).masked_fill(~keep, _blocked(dtype))


def causal_bias(q_len: int, k_len: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(1, 1, L, S) bias; the L queries are the last L of the S keys (KV-cache decoding)."""
    offset = k_len - q_len
    q_pos = torch.arange(q_len, device=device)[:, None] + offset
    k_pos = torch.arange(k_len, device=device)[None, :]
    bias = torch.zeros(q_len, k_len, dtype=dtype, device=device)
    return bias.masked_fill(k_pos > q_pos, _blocked(dtype))[None, None]


def document_bias(document_ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, L) document index per token -> (B, 1, L, L) bias blocking attention across documents.

    Used for packed pretraining sequences; combine with `causal_bias` for decoders.
    """
    same = document_ids[:, :, None] == document_ids[:, None, :]
    zeros = torch.zeros(same.shape, dtype=dtype, device=same.device)
    return zeros.masked_fill(~same, _blocked(dtype))[:, None]


def combine(*biases: torch.Tensor | None) -> torch.Tensor | None:
    """Sum the given biases, clamped so that two blocked entries do not overflow to -inf."""
    present = [b for b in biases if b is not None]
    if not present:
        return None
    total = present[0]
    for b in present[1:]:
        total = total + b
    return total.clamp_min(_blocked(total.dtype)) if len(present) > 1 else total


def decoder_bias(
    attention_mask: torch.Tensor | None,
    q_len: int,
    k_len: int,
    dtype: torch.dtype,
    device: torch.device,
    document_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """Causal + padding (+ optional document) bias for a decoder's self-attention."""
    pad = padding_bias(attention_mask, dtype) if attention_mask is not None else None
    docs = document_bias(document_ids, dtype) if document_ids is not None else None
    return combine(causal_bias(q_len, k_len, dtype, device), pad, docs)


def decoder_bias_or_causal(
    attention_mask: torch.Tensor | None,
    q_len: int,
    k_len: int,
    dtype: torch.dtype,
    device: torch.device,
    document_ids: torch.Tensor | None = None,
) -> torch.Tensor | None:
    """Like `decoder_bias`, but None when a plain causal mask is all that is needed (no padding,
    no documents, no cache): attention then runs SDPA with `is_causal=True`, whose fused kernels
    a dense mask would rule out."""
    if attention_mask is None and document_ids is None and q_len == k_len:
        return None
    return decoder_bias(attention_mask, q_len, k_len, dtype, device, document_ids)
