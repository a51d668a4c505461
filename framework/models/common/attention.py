"""Scaled dot-product attention shared by every family.

Shapes: B batch, H heads, L query length, S key length, D head dim.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, L, H*D) -> (B, H, L, D)"""
    B, L, _ = x.shape
    return x.view(B, L, num_heads, -1).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, L, D) -> (B, L, H*D)"""
    B, H, L, D = x.shape
    return x.transpose(1, 2).reshape(B, L, H * D)


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    bias: torch.Tensor | None,
    *,
    scale: float | None = None,
    dropout_p: float = 0.0,
    need_weights: bool = False,
    is_causal: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Attention through SDPA; the explicit softmax path only when the weights are asked for.

    `bias` is additive, broadcastable to (B, H, L, S): 0 where a key may be attended, a large
    negative number where it is masked (padding, future positions, other documents), and for T5
    the relative position bias. Grouped-query attention is handled by SDPA's `enable_gqa`.
    `is_causal` (with `bias=None`) asks for the look-ahead mask without materialising it.
    """
    if is_causal and bias is not None:
        raise ValueError("pass either an explicit bias or is_causal=True, not both")
    gqa = k.shape[1] != q.shape[1]
    if not need_weights:
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=dropout_p, scale=scale, enable_gqa=gqa, is_causal=is_causal
        )
        return out, None
    if gqa:
        rep = q.shape[1] // k.shape[1]
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    if is_causal:
        from framework.models.common.masks import causal_bias

        bias = causal_bias(q.shape[-2], k.shape[-2], q.dtype, q.device)
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale  # (B, H, L, S)
    if bias is not None:
        scores = scores + bias
    weights = scores.float().softmax(dim=-1).to(q.dtype)
    probs = F.dropout(weights, p=dropout_p, training=dropout_p > 0)
    return torch.matmul(probs, v), weights  # (B, H, L, D), (B, H, L, S)
