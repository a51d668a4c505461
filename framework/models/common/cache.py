"""KV cache for incremental decoding: one (key, value) pair per layer, grown along the sequence."""

from __future__ import annotations

import torch


class KVCache:
    """Keys and values of past positions, (B, H, S, D) per layer.

    Self-attention layers append to their entry; cross-attention layers of encoder-decoders store
    the projected encoder states once (`set_static`) and reuse them every step.
    """

    def __init__(self, num_layers: int) -> None:
        self.keys: list[torch.Tensor | None] = [None] * num_layers
        self.values: list[torch.Tensor | None] = [None] * num_layers

    def seq_len(self, layer: int = 0) -> int:
        k = self.keys[layer]
        return 0 if k is None else k.shape[-2]

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append this step's (B, H, L, D) keys/values and return the full (B, H, S, D) ones."""
        if self.keys[layer] is not None:
            k = torch.cat([self.keys[layer], k], dim=-2)
            v = torch.cat([self.values[layer], v], dim=-2)
        self.keys[layer], self.values[layer] = k, v
        return k, v

    def has(self, layer: int) -> bool:
        return self.keys[layer] is not None

    def get(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.keys[layer], self.values[layer]

    def set_static(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> None:
        self.keys[layer], self.values[layer] = k, v

    def reorder(self, index: torch.Tensor) -> None:
        """Select batch rows (beam search keeps the surviving beams)."""
        for i, k in enumerate(self.keys):
            if k is not None:
                self.keys[i] = k.index_select(0, index)
                self.values[i] = self.values[i].index_select(0, index)


class EncoderDecoderCache:
    """Self-attention cache that grows, plus cross-attention keys/values computed once."""

    def __init__(self, num_layers: int) -> None:
        self.self_attn = KVCache(num_layers)
        self.cross_attn = KVCache(num_layers)

    def seq_len(self) -> int:
        return self.self_attn.seq_len()

    def reorder(self, index: torch.Tensor) -> None:
        self.self_attn.reorder(index)
        self.cross_attn.reorder(index)
