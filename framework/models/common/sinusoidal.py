"""Fixed sinusoidal position encodings ("Attention Is All You Need", section 3.5).

PE(pos, 2i) = sin(pos / 10000^(2i/C)), PE(pos, 2i+1) = cos(pos / 10000^(2i/C)).
The paper (and the seed guide) interleave sin and cos; Marian and fairseq-derived checkpoints
store the same numbers half-split, all sines first, then all cosines. The layout only permutes
channels, but a checkpoint's weights were trained against one of them, so it must match.
Shapes: P positions, L length, C channels.
"""

from __future__ import annotations

import torch
from torch import nn

from framework.errors import FrameworkError


def sinusoidal_table(num_positions: int, dim: int, interleaved: bool = False) -> torch.Tensor:
    """(P, C) float32 table, computed in float64 so every layout rounds the same way."""
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]  # (P, 1)
    two_i = torch.arange(0, dim, 2, dtype=torch.float64)  # (ceil(C/2),)
    angles = pos / torch.pow(10000.0, two_i / dim)  # (P, ceil(C/2))
    sin, cos = angles.sin(), angles[:, : dim // 2].cos()
    if interleaved:
        table = torch.empty(num_positions, dim, dtype=torch.float64)
        table[:, 0::2], table[:, 1::2] = sin, cos
    else:
        table = torch.cat([sin, cos], dim=-1)
    return table.float()


class SinusoidalPositions(nn.Module):
    """The table as a buffer named `weight`, so it sits where HF's frozen embedding does.

    Not an `nn.Embedding`: generic init code would overwrite it with random numbers, and
    optimisers and ZeRO would treat it as a parameter. Models list its key in `generated_keys`
    because HF neither writes nor requires it; `reset_parameters` rebuilds it after an init or
    a move from the meta device.
    """

    def __init__(self, num_positions: int, dim: int, interleaved: bool = False) -> None:
        super().__init__()
        self.interleaved = interleaved
        self.register_buffer("weight", sinusoidal_table(num_positions, dim, interleaved))

    def reset_parameters(self) -> None:
        P, C = self.weight.shape
        with torch.no_grad():
            self.weight.copy_(sinusoidal_table(P, C, self.interleaved).to(self.weight))

    def forward(self, start: int, length: int) -> torch.Tensor:
        """Encodings of positions start .. start+length-1: (L, C), broadcast over the batch."""
        P = self.weight.shape[0]
        if start + length > P:
            raise FrameworkError(
                f"sequence reaches position {start + length} but the model has {P} positions "
                f"(max_position_embeddings); truncate inputs or generate fewer tokens."
            )
        return self.weight[start : start + length]
