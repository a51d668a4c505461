"""Training-step speed of every zoo architecture against the stock transformers class.

Same config, same weights (our export loaded by stock), same batch, one process; forward +
backward + AdamW step, in fp32 and under bf16 autocast. Writes bench/results/models.json and
prints a markdown table (copied into docs/benchmarks.md and the README).

    python bench/bench_models.py [--steps 10] [--batch 8] [--seq 256]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import transformers

from framework.models.registry import build, config_from_preset

# A "small" size per family: big enough that kernels dominate, small enough for a 2-core CPU.
SIZES = {
    "gpt2": ("gpt2-tiny", {}),
    "llama": ("llama-tiny", {}),
    "bert": ("bert-tiny", {}),
    "t5": ("t5-tiny", {}),
    "marian": ("transformer-tiny", {}),
}
STOCK_AUTO = {
    "gpt2": transformers.AutoModelForCausalLM,
    "llama": transformers.AutoModelForCausalLM,
    "bert": transformers.AutoModelForMaskedLM,
    "t5": transformers.AutoModelForSeq2SeqLM,
    "marian": transformers.AutoModelForSeq2SeqLM,
}


def make_batch(config, B: int, L: int) -> dict:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, config.vocab_size, (B, L), generator=g)
    if config.is_encoder_decoder:
        return {"input_ids": ids, "labels": torch.randint(3, config.vocab_size, (B, L // 2), generator=g)}
    return {"input_ids": ids, "labels": ids}


def time_steps(model, batch: dict, steps: int, bf16: bool) -> list[float]:
    """Seconds of each training step, after two warm-up steps."""
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()
    times = []
    for i in range(steps + 2):
        start = time.perf_counter()
        with ctx:
            loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= 2:
            times.append(time.perf_counter() - start)
    return times


def alternating_medians(ours, stock, batch: dict, steps: int, bf16: bool, rounds: int = 3) -> tuple[float, float]:
    """Median step time of each model, measured in alternating rounds so drift hits both alike."""
    t_ours, t_stock = [], []
    for _ in range(rounds):
        t_ours += time_steps(ours, batch, steps, bf16)
        t_stock += time_steps(stock, batch, steps, bf16)
    return statistics.median(t_ours), statistics.median(t_stock)


def bench_family(model_type: str, steps: int, B: int, L: int) -> list[dict]:
    preset, overrides = SIZES[model_type]
    config = config_from_preset(preset, **overrides)
    for key in ("dropout_rate", "dropout", "resid_pdrop", "embd_pdrop", "attn_pdrop", "hidden_dropout_prob",
                "attention_probs_dropout_prob", "attention_dropout"):
        if hasattr(config, key):
            setattr(config, key, 0.0)
    torch.manual_seed(0)
    ours = build(config)
    with tempfile.TemporaryDirectory() as tmp:
        ours.save_pretrained(tmp)
        stock = STOCK_AUTO[model_type].from_pretrained(tmp, attn_implementation="sdpa")
    batch = make_batch(config, B, L)
    tokens = batch["input_ids"].numel() + (batch["labels"].numel() if config.is_encoder_decoder else 0)
    rows = []
    for bf16 in (False, True):
        t_ours, t_stock = alternating_medians(ours, stock, batch, steps, bf16)
        rows.append({
            "model_type": model_type, "preset": preset, "params": ours.num_parameters(),
            "precision": "bf16-autocast" if bf16 else "fp32", "batch": B, "seq_len": L,
            "ours_tokens_per_s": tokens / t_ours, "stock_tokens_per_s": tokens / t_stock,
            "speedup": t_stock / t_ours,
        })
        print(f"{model_type:7s} {rows[-1]['precision']:13s} ours {tokens / t_ours:9.0f} tok/s  "
              f"stock {tokens / t_stock:9.0f} tok/s  ratio {t_stock / t_ours:.2f}", flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| model | preset | precision | ours tok/s | stock tok/s | ours / stock |",
             "|---|---|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model_type']} | {r['preset']} | {r['precision']} | {r['ours_tokens_per_s']:,.0f} | "
                     f"{r['stock_tokens_per_s']:,.0f} | {r['speedup']:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per round (3 alternating rounds)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--only", nargs="*", default=list(SIZES))
    parser.add_argument("--out", default="bench/results/models.json")
    args = parser.parse_args()
    rows = [r for m in args.only for r in bench_family(m, args.steps, args.batch, args.seq)]
    meta = {"torch": torch.__version__, "transformers": transformers.__version__, "cpu": platform.processor()
            or platform.machine(), "threads": torch.get_num_threads(), "steps": args.steps}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    print(markdown(rows))


if __name__ == "__main__":
    main()
