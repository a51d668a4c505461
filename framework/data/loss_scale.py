"""Normalising the loss by target tokens across gradient accumulation and ranks.

Averaging per-micro-batch means weights a short batch's tokens more than a long one's. Instead,
sum the token losses and divide by the number of target tokens in the whole optimizer step
(every micro-batch on every rank). The models do the division when given `num_items`:

    micro = [next(batches) for _ in range(accumulation_steps)]
    divisor = loss_divisor(global_num_items(micro), world_size, accumulation_steps)
    for batch in micro:
        loss = model(**{**batch, "num_items": divisor}).loss
        engine.backward(loss)       # averages over ranks and divides by accumulation_steps

`loss_divisor` undoes the engine's averaging so the step's gradient is exactly
sum(token losses) / global target tokens. An engine that sums over accumulation steps (plain
DDP with `no_sync`) passes `accumulation_steps=1`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
import torch.distributed as dist


def global_num_items(micro_batches: Iterable[Mapping], group=None) -> int:
    """Target tokens in these micro-batches, summed over every rank of `group` (if distributed)."""
    local = sum(int(b["num_items"]) for b in micro_batches)
    if not (dist.is_available() and dist.is_initialized()):
        return local
    total = torch.tensor(local, dtype=torch.long)
    if dist.get_backend(group) == "nccl":
        total = total.cuda()
    dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
    return int(total.item())


def loss_divisor(global_items: int, world_size: int = 1, accumulation_steps: int = 1) -> float:
    """The `num_items` to give the model when the engine averages gradients over `world_size`
    ranks and divides each micro-batch's loss by `accumulation_steps`."""
    return max(global_items, 1) / (world_size * accumulation_steps)
