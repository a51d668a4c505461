"""Pretraining benchmarks on CPU: tokens/s and MFU of the tiny recipes (bf16), and per-rank
memory of parameters + gradients + optimizer state at 1 and 2 ranks for ZeRO 0-3.

MFU needs a peak: on CPU we measure it (the best bf16 matmul rate of this machine), so the
figure says how close the training step gets to what this CPU can do.

    python bench/bench_pretrain.py [--steps 30]   -> bench/results/pretrain.json, markdown tables
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
TINY = ["gpt2-tiny", "llama-tiny", "bert-tiny", "t5-tiny", "transformer-tiny"]


def cpu_peak_bf16() -> float:
    """Best observed bf16 matmul FLOP/s (2048^3 matmuls)."""
    a = torch.randn(2048, 2048, dtype=torch.bfloat16)
    b = torch.randn(2048, 2048, dtype=torch.bfloat16)
    a @ b
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        best = max(best, 2 * 2048**3 / (time.perf_counter() - start))
    return best


def throughput(recipe: str, steps: int, peak: float, tmp: Path) -> dict:
    run_dir = tmp / recipe
    cmd = [sys.executable, "-m", "framework.cli.main", "pretrain", f"recipes/pretrain/{recipe}.yaml",
           f"run_dir={run_dir}", f"train.max_steps={steps}", "log.every=1", "log.eval_every=0", "log.progress=false",
           "export=false", "checkpoint.every=100000", f"log.peak_flops={peak}", "train.precision=bf16"]
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steady = [r for r in records if r.get("kind") == "train" and r["step"] > 5]
    return {"recipe": recipe, "tokens_per_s": statistics.median(r["tokens_per_s"] for r in steady),
            "mfu": statistics.median(r["mfu"] for r in steady), "steps": steps}


def zero_memory(preset: str, tmp: Path) -> list[dict]:
    rows = []
    for world in (1, 2):
        for stage in range(4):
            out = tmp / f"mem-{world}-{stage}.json"
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={world}",
                   "bench/zero_memory_worker.py", str(stage), preset, str(out)]
            subprocess.run(cmd, cwd=REPO, check=True, capture_output=True,
                           env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
            ranks = json.loads(out.read_text())
            rank0 = ranks[0]
            rows.append({**rank0, "preset": preset,
                         "total_bytes": rank0["params_bytes"] + rank0["grads_bytes"] + rank0["optimizer_bytes"]})
    return rows


def tables(result: dict) -> str:
    lines = [f"CPU bf16 peak (measured): {result['cpu_peak_flops'] / 1e9:.0f} GFLOP/s", "",
             "| recipe | tokens/s | MFU (of measured CPU peak) |", "|---|---:|---:|"]
    for r in result["throughput"]:
        lines.append(f"| {r['recipe']} | {r['tokens_per_s']:,.0f} | {100 * r['mfu']:.1f}% |")
    lines += ["", f"Per-rank memory, {result['memory'][0]['preset']} (fp32 weights, AdamW):", "",
              "| ZeRO | ranks | params MB | grads MB | optimizer MB | total MB |", "|---:|---:|---:|---:|---:|---:|"]
    for r in result["memory"]:
        mb = lambda b: f"{b / 2**20:.1f}"  # noqa: E731
        lines.append(f"| {r['stage']} | {r['world_size']} | {mb(r['params_bytes'])} | {mb(r['grads_bytes'])} | "
                     f"{mb(r['optimizer_bytes'])} | {mb(r['total_bytes'])} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--memory-preset", default="llama-tiny")
    parser.add_argument("--out", default="bench/results/pretrain.json")
    args = parser.parse_args()
    peak = cpu_peak_bf16()
    with tempfile.TemporaryDirectory() as tmp:
        result = {"cpu_peak_flops": peak, "threads": torch.get_num_threads(),
                  "throughput": [throughput(r, args.steps, peak, Path(tmp)) for r in TINY],
                  "memory": zero_memory(args.memory_preset, Path(tmp))}
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(tables(result))


if __name__ == "__main__":
    main()
