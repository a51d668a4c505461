"""Single-process run whose loss is forced to NaN on chosen micro-steps; prints a JSON report.

    python tests/training/nan_worker.py RECIPE BAD_STEPS(comma list, 1-based) [overrides...]
"""

from __future__ import annotations

import json
import sys

import torch

from framework.distributed.launch import init_distributed
from framework.training.config import load_pretrain_config
from framework.training.trainer import Trainer, TrainingDiverged


def main() -> None:
    recipe, bad = sys.argv[1], {int(s) for s in sys.argv[2].split(",")}
    cfg = load_pretrain_config(recipe, sys.argv[3:])
    trainer = Trainer(cfg, init_distributed("gloo", 120))
    module = trainer.engine.module
    forward = module.forward
    calls = {"n": 0}
    snapshots = {}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        out = forward(*args, **kwargs)
        if calls["n"] in bad:
            snapshots[calls["n"]] = [p.detach().clone() for p in module.parameters()]
            out.loss = out.loss * float("nan")
        return out

    module.forward = poisoned
    report = {"diverged": None}
    try:
        trainer.run()
    except TrainingDiverged as err:
        report["diverged"] = str(err)
    # After a skipped step the weights must equal those right before it (grad accumulation = 1).
    unchanged = {}
    for step, before in snapshots.items():
        if step + 1 in snapshots:
            after = snapshots[step + 1]
            unchanged[step] = all(torch.equal(a, b) for a, b in zip(before, after))
    report.update(skipped=trainer.state.skipped_steps, step=trainer.state.step, unchanged=unchanged,
                  finite=all(torch.isfinite(p).all().item() for p in module.parameters()))
    print("REPORT " + json.dumps(report))


if __name__ == "__main__":
    main()
