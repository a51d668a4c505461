"""The DeepSpeed config dict, derived from the typed training config (one source of truth)."""

from __future__ import annotations

from typing import Any


def build_deepspeed_config(
    *,
    micro_batch: int,
    grad_accum: int,
    world_size: int,
    zero_stage: int,
    precision: str,
    grad_clip: float,
    offload_optimizer: bool = False,
    offload_params: bool = False,
) -> dict[str, Any]:
    zero: dict[str, Any] = {"stage": zero_stage}
    if zero_stage >= 1:
        zero.update(contiguous_gradients=True, overlap_comm=False)
    if zero_stage >= 2:
        zero.update(reduce_scatter=True)
    if offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
    if offload_params:
        zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    if zero_stage == 3:
        # Gather the full fp32 weights on save so export needs no conversion step.
        zero["stage3_gather_16bit_weights_on_model_save"] = False
    return {
        "train_batch_size": micro_batch * grad_accum * world_size,
        "train_micro_batch_size_per_gpu": micro_batch,
        "gradient_accumulation_steps": grad_accum,
        "gradient_clipping": grad_clip,
        "zero_optimization": zero,
        "bf16": {"enabled": precision == "bf16"},
        "fp16": {"enabled": precision == "fp16", "initial_scale_power": 16, "loss_scale_window": 1000},
        "zero_allow_untested_optimizer": True,
        "zero_force_ds_cpu_optimizer": False,
        "steps_per_print": 2**31 - 1,
        "wall_clock_breakdown": False,
    }
