"""Learning-rate schedules as multipliers of the peak LR, for `torch.optim.lr_scheduler.LambdaLR`."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class LRSchedule:
    """A picklable LR multiplier (LambdaLR saves callable objects' state in its state_dict).

    kinds:
      cosine   linear warmup, cosine decay to min_lr_ratio at total_steps
      wsd      warmup-stable-decay: warmup, constant, then linear decay over the last decay_fraction
      constant linear warmup, then constant
    """

    kind: str
    warmup_steps: int
    total_steps: int
    min_lr_ratio: float = 0.1
    decay_fraction: float = 0.2

    def __call__(self, step: int) -> float:
        if self.warmup_steps and step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.kind == "constant":
            return 1.0
        if self.kind == "cosine":
            span = max(1, self.total_steps - self.warmup_steps)
            progress = min(1.0, (step - self.warmup_steps) / span)
            return self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        if self.kind == "wsd":
            decay_steps = max(1, int(self.decay_fraction * self.total_steps))
            decay_start = self.total_steps - decay_steps
            if step < decay_start:
                return 1.0
            progress = min(1.0, (step - decay_start) / decay_steps)
            return 1.0 - (1 - self.min_lr_ratio) * progress
        raise ValueError(f"unknown schedule '{self.kind}'")
