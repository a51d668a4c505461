"""Model FLOPs utilisation with the standard 6N + attention formula (PaLM appendix B)."""

from __future__ import annotations

# Dense bf16 peak FLOP/s per device, for devices we can recognise by name.
PEAK_FLOPS = {
    "H200": 989e12,
    "H100": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "A10G": 125e12,
}


def flops_per_token(n_params: int, n_layers: int, d_model: int, seq_len: int) -> float:
    """Training FLOPs per token: 6N for the matmuls plus 12 * layers * d_model * L for attention."""
    return 6 * n_params + 12 * n_layers * d_model * seq_len


def detect_peak_flops() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    for key, peak in PEAK_FLOPS.items():
        if key in name:
            return peak
    return None


def mfu(tokens_per_second: float, flops_token: float, peak_flops: float | None, world_size: int) -> float | None:
    if not peak_flops:
        return None
    return tokens_per_second * flops_token / (peak_flops * world_size)
