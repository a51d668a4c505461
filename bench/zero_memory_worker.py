"""Per-rank bytes of parameters, gradients and optimizer state for one ZeRO stage (run under torchrun).

    torchrun --nproc_per_node W bench/zero_memory_worker.py STAGE PRESET OUT.json
"""

from __future__ import annotations

import json
import sys

import deepspeed
import torch
import torch.distributed as dist

from framework.distributed.deepspeed_config import build_deepspeed_config
from framework.distributed.launch import init_distributed
from framework.models.registry import build
from framework.training.optim import GuardedAdamW, param_groups


def nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def main() -> None:
    stage, preset, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    info = init_distributed("gloo", 300)
    torch.manual_seed(0)
    model = build(preset)
    optimizer = GuardedAdamW(param_groups(model, 0.1), lr=1e-4)
    config = build_deepspeed_config(micro_batch=2, grad_accum=1, world_size=info.world_size, zero_stage=stage,
                                    precision="fp32", grad_clip=1.0)
    engine, _, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, config=config, dist_init_required=False)
    ids = torch.randint(3, model.config.vocab_size, (2, 64))
    engine.backward(engine(ids, labels=ids).loss)
    engine.step()

    module_params = {id(p) for p in engine.module.parameters()}
    params = sum(nbytes(p.ds_tensor) if hasattr(p, "ds_tensor") else nbytes(p) for p in engine.module.parameters())
    inner = engine.optimizer.optimizer if hasattr(engine.optimizer, "optimizer") else engine.optimizer
    state = sum(nbytes(t) for s in inner.state.values() for t in s.values() if torch.is_tensor(t))
    master = sum(nbytes(p) for g in inner.param_groups for p in g["params"] if id(p) not in module_params)
    full = sum(p.ds_numel if hasattr(p, "ds_numel") else p.numel() for p in engine.module.parameters()) * 4
    grads = full // info.world_size if stage >= 2 else full  # ZeRO-2/3 keep only this rank's gradient partition
    row = {"stage": stage, "world_size": info.world_size, "rank": info.rank, "params_bytes": params,
           "grads_bytes": grads, "optimizer_bytes": state + master}
    rows = [None] * info.world_size
    dist.all_gather_object(rows, row)
    if info.rank == 0:
        with open(out, "w") as f:
            json.dump(rows, f)


if __name__ == "__main__":
    main()
