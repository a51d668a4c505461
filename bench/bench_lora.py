"""LoRA written here (framework.finetune.lora) against peft's, on the same zoo model and adapters.

Both adapt the same Linear modules with the same rank, alpha and initial weights. Measured per
implementation: the optimizer step time (forward + backward + AdamW over the trainable
parameters, CPU, fp32, one thread; median over --rounds alternating rounds of --steps), trainable parameters, whether the checkpoint keys of
the base weights are unchanged (what the zoo's HF key maps and our export need), and the merged
model's agreement with the adapted one. peft is optional: `pip install peft` to compare.

Writes bench/results/lora.json.

    python bench/bench_lora.py [--preset llama-tiny] [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from framework.finetune.lora import DEFAULT_TARGETS, LoRALinear, apply_lora, merge_lora_state
from framework.models.registry import build

ROOT = Path(__file__).resolve().parents[1]


def step_time(model, ids, labels, steps: int) -> float:
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    times = []
    for _ in range(steps + 2):
        start = time.perf_counter()
        logits = model(input_ids=ids).logits
        loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:])


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def ours(preset: str, r: int, alpha: float):
    torch.manual_seed(0)
    model = build(preset, task="sequence-classification").train()
    base_keys = set(model.state_dict())
    apply_lora(model, r=r, alpha=alpha, dropout=0.0, targets=[], trainable=["score", "classifier"])
    return model, base_keys <= set(model.state_dict())


def with_peft(preset: str, r: int, alpha: float):
    from peft import LoraConfig, inject_adapter_in_model

    torch.manual_seed(0)
    model = build(preset, task="sequence-classification").train()
    base_keys = set(model.state_dict())
    family = model.config.model_type
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=DEFAULT_TARGETS[family],
                        modules_to_save=None)
    model = inject_adapter_in_model(config, model)
    for name, p in model.named_parameters():
        p.requires_grad = "lora_" in name or name.startswith(("score", "classifier"))
    return model, base_keys <= set(model.state_dict())


def merge_error(model) -> float:
    """max |adapted - merged| logits after randomising B, for our implementation."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LoRALinear):
                m.lora_B.normal_(std=0.1)
    ids = torch.randint(3, 400, (2, 16))
    model.eval()
    adapted = model(input_ids=ids).logits
    merged_state = merge_lora_state(model.state_dict(), scaling=next(
        m.scaling for m in model.modules() if isinstance(m, LoRALinear)))
    fresh = build(PRESET, task="sequence-classification").eval()
    fresh.load_state_dict(merged_state)
    with torch.no_grad():
        return float((fresh(input_ids=ids).logits - adapted).abs().max())


PRESET = "llama-tiny"


def main() -> None:
    global PRESET
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="llama-tiny")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--r", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    PRESET = args.preset
    torch.manual_seed(0)
    ids = torch.randint(3, 400, (8, 128))
    labels = torch.randint(0, 2, (8,))
    results = {}
    builders = {"framework": ours}
    try:
        import peft

        builders[f"peft {peft.__version__}"] = with_peft
    except ImportError:
        print("peft is not installed; measuring only this implementation")
    models = {name: builder(args.preset, args.r, 2.0 * args.r) for name, builder in builders.items()}
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):  # alternate, so machine load hits both alike
        for name, (model, _) in models.items():
            times[name].append(step_time(model, ids, labels, args.steps))
    for name, (model, keys_kept) in models.items():
        results[name] = {"step_s": round(statistics.median(times[name]), 4),
                         "trainable_parameters": trainable(model), "base_keys_unchanged": keys_kept}
        print(name, results[name], flush=True)
    results["framework"]["merge_max_abs_error"] = merge_error(ours(args.preset, args.r, 2.0 * args.r)[0])
    out = {"preset": args.preset, "batch": list(ids.shape), "r": args.r, "alpha": 2.0 * args.r,
           "threads": torch.get_num_threads(), "results": results}
    (ROOT / "bench" / "results" / "lora.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
