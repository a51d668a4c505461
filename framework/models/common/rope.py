"""Rotary position embeddings (RoPE) with the exact numerics of transformers v5.

Positions enter attention by rotating query/key channel pairs (i, i + D/2) by the angle
`position * inv_freq[i]`. That half-split pairing (`rotate_half`) is HF's layout, and HF
checkpoints' q/k projections are permuted for it, so we use the same one.
Configs describe RoPE in `config.rope_parameters` (`rope_theta`, `rope_type`, scaling fields).
Shapes: B batch, L length, H heads, D rotary (head) dim.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import PretrainedConfig

from framework.errors import UnsupportedModelError

DEFAULT_THETA = 10000.0
SUPPORTED_ROPE_TYPES = ("default", "llama3")


def rope_parameters_of(config: PretrainedConfig) -> dict:
    """The config's RoPE description as a dict with at least `rope_type` and `rope_theta`."""
    params = dict(getattr(config, "rope_parameters", None) or {})
    params.setdefault("rope_type", params.pop("type", "default"))
    theta = getattr(config, "rope_theta", None) or getattr(config, "default_theta", DEFAULT_THETA)
    params.setdefault("rope_theta", theta)
    return params


def default_inv_freq(dim: int, theta: float) -> torch.Tensor:
    """(D/2,) fp32 inverse frequencies theta^(-2i/D), computed on CPU exactly as HF does (also
    under a meta/GPU default device, so that every rank gets bit-identical values)."""
    return 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64, device="cpu").float() / dim))


def llama3_inv_freq(inv_freq: torch.Tensor, params: dict, max_position_embeddings: int | None) -> torch.Tensor:
    """Llama 3.1+ long-context scaling: long wavelengths divided by `factor`, short ones kept,
    the band between interpolated smoothly (HF's `_compute_llama3_parameters`)."""
    factor = params["factor"]
    low_freq_factor = params["low_freq_factor"]
    high_freq_factor = params["high_freq_factor"]
    old_context_len = params.get("original_max_position_embeddings", max_position_embeddings)
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor

    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium, smoothed, scaled)


def compute_inv_freq(dim: int, params: dict, max_position_embeddings: int | None = None) -> torch.Tensor:
    """(D/2,) fp32 inverse frequencies for a `rope_parameters` dict."""
    rope_type = params.get("rope_type", "default")
    if rope_type not in SUPPORTED_ROPE_TYPES:
        raise UnsupportedModelError(
            f"rope_type '{rope_type}' is not supported; supported: {', '.join(SUPPORTED_ROPE_TYPES)}. "
            f"Check config.rope_parameters."
        )
    inv_freq = default_inv_freq(dim, float(params.get("rope_theta", DEFAULT_THETA)))
    if rope_type == "llama3":
        inv_freq = llama3_inv_freq(inv_freq, params, max_position_embeddings)
    return inv_freq


class RotaryEmbedding(nn.Module):
    """cos/sin tables for given positions, from fp32 frequencies kept in a non-persistent buffer.

    The buffer is not saved (HF recomputes it too). It stays fp32 when the model is cast to
    bf16/fp16: rounded frequencies would shift the angles of far positions by whole radians.
    """

    inv_freq: torch.Tensor

    def __init__(self, dim: int, rope_parameters: dict, max_position_embeddings: int | None = None) -> None:
        super().__init__()
        self.dim = dim
        self.rope_parameters = dict(rope_parameters)
        self.max_position_embeddings = max_position_embeddings
        self.register_buffer("inv_freq", self._fresh_inv_freq(), persistent=False)

    @classmethod
    def from_config(cls, config: PretrainedConfig, dim: int) -> "RotaryEmbedding":
        return cls(dim, rope_parameters_of(config), getattr(config, "max_position_embeddings", None))

    def _fresh_inv_freq(self) -> torch.Tensor:
        return compute_inv_freq(self.dim, self.rope_parameters, self.max_position_embeddings)

    def reset_parameters(self) -> None:
        """Recompute the frequencies in place (after meta-device construction / `to_empty`)."""
        with torch.no_grad():
            self.inv_freq.copy_(self._fresh_inv_freq())

    def _apply(self, fn, recurse: bool = True):
        super()._apply(fn, recurse)
        if self.inv_freq.dtype != torch.float32:  # a dtype cast: keep the frequencies exact
            self.inv_freq = self._fresh_inv_freq().to(self.inv_freq.device)
        return self

    @torch.no_grad()
    def forward(self, position_ids: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L) positions -> cos, sin of shape (B, L, D), computed in fp32 then cast to `dtype`."""
        freqs = position_ids[..., None].float() * self.inv_freq.to(position_ids.device)  # (B, L, D/2)
        emb = torch.cat((freqs, freqs), dim=-1)  # (B, L, D)
        return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(..., D) -> (..., D): [x1, x2] -> [-x2, x1] over the two halves of the last dim."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate (B, H, L, D) queries and keys by (B, L, D) cos/sin (broadcast over heads)."""
    cos, sin = cos[:, None], sin[:, None]  # (B, 1, L, D)
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
