"""AdamW with the usual decay exemptions, and a guard that skips non-finite updates."""

from __future__ import annotations

import torch
from torch import nn


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: matrices decay; norms, biases and embeddings do not (GPT-3/Llama practice)."""
    embedding_params = {id(p) for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    decay, no_decay, seen = [], [], set()
    for p in model.parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        exempt = p.ndim < 2 or id(p) in embedding_params
        (no_decay if exempt else decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


class GuardedAdamW(torch.optim.AdamW):
    """AdamW that leaves parameters untouched when any gradient is NaN/inf.

    DeepSpeed's ZeRO and mixed-precision optimizers already skip such steps (and count them in
    `engine.skipped_steps`); the plain fp32 ZeRO-0 path hands the client optimizer through
    unchanged, so this gives it the same contract. DeepSpeed reads `overflow` to decide whether
    the step was applied and whether to advance the LR schedule.
    """

    overflow: bool = False

    @torch.no_grad()
    def step(self, closure=None):
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        self.overflow = bool(grads) and not torch.stack([torch.isfinite(g).all() for g in grads]).all().item()
        if self.overflow:
            self.zero_grad(set_to_none=True)
            return None
        return super().step(closure)
