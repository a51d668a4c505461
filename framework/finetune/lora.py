"""LoRA (Hu et al. 2021): y = W x + b + (alpha / r) B A x with W frozen, A (r, in), B (out, r) = 0.

Written here rather than through peft because it keeps every base weight under its own name:
`LoRALinear` *is* the `nn.Linear` it adapts (same `weight`, `bias`), plus `lora_A` / `lora_B`. So
the zoo's HF key maps, DeepSpeed checkpoints, ZeRO partitioning and activation checkpointing see
the same model, and merging at export is one matrix product per adapted layer
(`merge_lora_state`). bench/bench_lora.py compares it with peft.
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import nn

from framework.errors import FrameworkError

logger = logging.getLogger(__name__)

# The attention projections LoRA adapts by default (the paper adapts W_q and W_v).
DEFAULT_TARGETS: dict[str, list[str]] = {
    "bert": ["attention.self.query", "attention.self.value"],
    "gpt2": ["attn.c_attn"],
    "llama": ["self_attn.q_proj", "self_attn.v_proj"],
    "t5": ["SelfAttention.q", "SelfAttention.v", "EncDecAttention.q", "EncDecAttention.v"],
    "marian": ["self_attn.q_proj", "self_attn.v_proj", "encoder_attn.q_proj", "encoder_attn.v_proj"],
}


class LoRALinear(nn.Linear):
    """An `nn.Linear` with a low-rank update; shapes: x (..., in) -> (..., out)."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float) -> None:
        nn.Module.__init__(self)
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight, self.bias = base.weight, base.bias
        self.r, self.scaling = r, alpha / r
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, dtype=base.weight.dtype,
                                               device=base.weight.device))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, dtype=base.weight.dtype,
                                               device=base.weight.device))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # B = 0: the adapted model starts as the base
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update = F.linear(F.linear(self.lora_dropout(x), self.lora_A), self.lora_B)  # (..., out)
        return F.linear(x, self.weight, self.bias) + self.scaling * update

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, r={self.r}, scaling={self.scaling:g}"


def _matches(name: str, patterns: list[str]) -> bool:
    return any(name == p or name.endswith("." + p) for p in patterns)


def apply_lora(model: nn.Module, *, r: int, alpha: float, dropout: float, targets: list[str],
               trainable: list[str]) -> dict:
    """Swap the target Linears for LoRALinear in place and freeze everything else but `trainable`
    (module-name suffixes: the new head, plus what the recipe lists). Returns a report."""
    family = getattr(model.config, "model_type", "")
    patterns = targets or DEFAULT_TARGETS.get(family, [])
    if not patterns:
        raise FrameworkError(f"model.lora.targets is empty and '{family}' has no default; name the Linear "
                             f"modules to adapt (e.g. q_proj, v_proj).")
    swapped = []
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.Linear) and not isinstance(module, LoRALinear) and _matches(name, patterns):
            owner, _, leaf = name.rpartition(".")
            setattr(model.get_submodule(owner) if owner else model, leaf, LoRALinear(module, r, alpha, dropout))
            swapped.append(name)
    if not swapped:
        raise FrameworkError(f"model.lora.targets {patterns} match no Linear module of {type(model).__name__}; "
                             f"module names look like: {_linear_names(model)[:6]}.")
    for pname, param in model.named_parameters():
        param.requires_grad = pname.endswith(("lora_A", "lora_B")) or _inside(pname, trainable)
    counts = _count(model)
    logger.info("LoRA r=%d alpha=%g on %d modules; trainable %s of %s parameters (%.2f%%)", r, alpha,
                len(swapped), f"{counts[0]:,}", f"{counts[1]:,}", 100 * counts[0] / counts[1])
    return {"modules": swapped, "trainable_parameters": counts[0], "total_parameters": counts[1]}


def _inside(param_name: str, patterns: list[str]) -> bool:
    """Whether a parameter belongs to a module (or a parent module) named by a pattern."""
    parts = param_name.split(".")[:-1]
    return any(_matches(".".join(parts[:i]), patterns) for i in range(1, len(parts) + 1))


def _linear_names(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]


def _count(model: nn.Module) -> tuple[int, int]:
    seen: dict[int, tuple[int, bool]] = {id(p): (p.numel(), p.requires_grad) for p in model.parameters()}
    return sum(n for n, t in seen.values() if t), sum(n for n, _ in seen.values())


def has_lora(state: dict[str, torch.Tensor]) -> bool:
    return any(k.endswith(".lora_A") for k in state)


def merge_lora_state(state: dict[str, torch.Tensor], scaling: float) -> dict[str, torch.Tensor]:
    """Fold every adapter into its base weight: W <- W + scaling * B @ A; adapter keys removed."""
    merged = dict(state)
    for key in [k for k in state if k.endswith(".lora_A")]:
        prefix = key[: -len(".lora_A")]
        A, B = merged.pop(key).float(), merged.pop(prefix + ".lora_B").float()
        weight = merged[prefix + ".weight"]
        merged[prefix + ".weight"] = (weight.float() + scaling * (B @ A)).to(weight.dtype)
    return merged
