"""Run under torchrun: train each recipe at each ZeRO stage in one process group, print losses.

    torchrun --nproc_per_node 2 tests/training/zero_matrix.py OUT.json STAGES RECIPE [RECIPE ...]

One launch for the whole matrix keeps the test inside the CI budget (DeepSpeed imports once).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import deepspeed
import torch.distributed as dist

from framework.distributed.launch import init_distributed
from framework.training.config import load_pretrain_config
from framework.training.trainer import Trainer
from tests.training.helpers import train_losses


def main() -> None:
    out, stages, recipes = Path(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")], sys.argv[3:]
    info = init_distributed("gloo", 300)
    results = {}
    for recipe in recipes:
        for stage in stages:
            run_dir = Path(recipe).with_suffix("") / f"world{info.world_size}-zero{stage}"
            cfg = load_pretrain_config(recipe, [f"train.zero_stage={stage}", f"run_dir={run_dir}", "export=false"])
            trainer = Trainer(cfg, info)
            engine_type = type(trainer.engine).__name__
            assert isinstance(trainer.engine, deepspeed.DeepSpeedEngine), engine_type
            trainer.run()
            dist.barrier()
            if info.rank == 0:
                results[f"{Path(recipe).stem}/zero{stage}"] = {
                    "engine": engine_type,
                    "optimizer": type(trainer.engine.optimizer).__name__,
                    "losses": train_losses(run_dir),
                }
    if info.rank == 0:
        out.write_text(json.dumps(results))


if __name__ == "__main__":
    main()
