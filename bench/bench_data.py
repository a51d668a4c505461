"""Data-path speed: shard preparation throughput and loader throughput against training steps.

1. Preparation: `framework data prepare` on the embedded corpus (Python's documentation) with
   num_proc 1 and 2: MB of UTF-8 text and tokens per CPU-second (per core), and per wall-clock
   second, end to end (reading through `datasets`, validation split, tokenising, writing shards
   and the index). Also the whole `make demo` data path as shipped (train the 8192-token BPE,
   then prepare).
2. Loading: batches per second of `PackedLoader` (one process, no workers, sampling + collation)
   for each debug/small zoo model's objective and shape, against that model's training step on
   CPU (forward + backward + AdamW) with the same batch shape. The loader must be >= 10x faster.

Writes bench/results/data.json and prints markdown tables (copied into docs/data.md).

    python bench/bench_data.py [--micro-batch 8] [--steps 3]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import torch

from framework.data import (CausalLMCollator, MaskedLMCollator, PackedDataset, PackedLoader, SpanCorruptionCollator,
                            embedded_corpus, load_recipe, prepare, train_from_recipe)
from framework.models.registry import PRESETS, build

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "data" / "embedded-bpe.yaml"
MODELS = ["gpt2-debug", "gpt2-tiny", "llama-debug", "llama-tiny", "bert-debug", "bert-tiny", "t5-debug", "t5-tiny"]
OBJECTIVE = {"gpt2": "causal-lm", "llama": "causal-lm", "bert": "masked-lm", "t5": "span-corruption"}


def text_megabytes(path: Path) -> float:
    return sum(len(json.loads(line)["text"].encode()) for line in path.open(encoding="utf-8")) / 1e6


def bench_demo_path(work: Path) -> dict:
    """The shipped recipe, as `make demo` runs it: train the tokenizer, then prepare."""
    recipe = load_recipe(RECIPE, [f"tokenizer.out_dir={work}/tok", f"prepare.out_dir={work}/demo"])
    start = time.perf_counter()
    embedded_corpus()
    corpus = time.perf_counter()
    train_from_recipe(recipe)
    trained = time.perf_counter()
    prepare(recipe)
    done = time.perf_counter()
    return {"recipe": str(RECIPE.relative_to(ROOT)), "build_corpus_s": round(corpus - start, 2),
            "train_tokenizer_s": round(trained - corpus, 2), "prepare_s": round(done - trained, 2),
            "total_s": round(done - start, 2)}


def cpu_seconds() -> float:
    """User + system CPU time of this process and its reaped children (the tokenizer workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def bench_prepare(work: Path, num_proc: int) -> dict:
    """Per-core rates divide by CPU seconds actually used, so they hold on a shared machine;
    wall-clock rates depend on how many cores were free."""
    recipe = load_recipe(RECIPE, [f"tokenizer.pretrained={work}/tok", f"prepare.out_dir={work}/np{num_proc}",
                                  f"prepare.num_proc={num_proc}"])
    start, cpu = time.perf_counter(), cpu_seconds()
    index = json.loads(prepare(recipe).read_text())
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    tokens = index["splits"]["train"]["num_tokens"] + index["splits"]["validation"]["num_tokens"]
    megabytes = text_megabytes(embedded_corpus())
    return {"num_proc": num_proc, "wall_s": round(seconds, 2), "cpu_s": round(cpu, 2), "text_mb": round(megabytes, 2),
            "tokens": tokens, "mb_per_s_per_core": round(megabytes / cpu, 2),
            "tokens_per_s_per_core": round(tokens / cpu), "mb_per_s_wall": round(megabytes / seconds, 2)}


def collator_for(model_type: str, seq_len: int, vocab: int):
    """The objective's collator; ids for [MASK]/sentinels are stand-ins inside the shards' vocabulary."""
    objective = OBJECTIVE[model_type]
    if objective == "causal-lm":
        return CausalLMCollator(seq_len)
    if objective == "masked-lm":
        return MaskedLMCollator(seq_len, mask_id=3, special_ids=[0, 1, 2, 3], vocab_size=vocab, cls_id=1)
    return SpanCorruptionCollator(seq_len, list(range(vocab - 1, vocab - 101, -1)), eos_id=2, pad_id=0)


def loader_rate(loader: PackedLoader, micro_batch: int, seconds: float = 3.0) -> float:
    batches = loader.batches(0, 1, micro_batch)
    next(batches)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        next(batches)
        n += 1
    return n / (time.perf_counter() - start)


def train_step_rate(preset: str, batch: dict, steps: int) -> float:
    model = build(preset).train()
    vocab = model.config.vocab_size
    accepted = set(inspect.signature(model.forward).parameters)
    inputs = {k: _fit(k, v, vocab) for k, v in batch.items() if k in accepted}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        model(**inputs).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def _fit(key: str, value: torch.Tensor, vocab: int) -> torch.Tensor:
    """Token ids folded into the model's vocabulary (speed does not depend on which ids)."""
    if key in ("input_ids", "decoder_input_ids"):
        return value % vocab
    if key == "labels":
        return torch.where(value >= 0, value % vocab, value)
    return value


def seq_len_for(preset: str) -> int:
    _, kwargs = PRESETS[preset]
    limit = kwargs.get("n_positions") or kwargs.get("max_position_embeddings") or 256
    return min(int(limit), 256)


def bench_loaders(index: Path, vocab: int, micro_batch: int, steps: int) -> list[dict]:
    rows = []
    for preset in MODELS:
        model_type = PRESETS[preset][0]
        seq_len = seq_len_for(preset)
        collator = collator_for(model_type, seq_len, vocab)
        loader = PackedLoader(PackedDataset(index, collator.sample_length, verify="size"), collator, seed=0)
        batches_per_s = loader_rate(loader, micro_batch)
        steps_per_s = train_step_rate(preset, next(loader.batches(0, 1, micro_batch)), steps)
        rows.append({"model": preset, "objective": OBJECTIVE[model_type], "seq_len": seq_len,
                     "micro_batch": micro_batch, "loader_batches_per_s": round(batches_per_s, 1),
                     "train_steps_per_s": round(steps_per_s, 2), "headroom": round(batches_per_s / steps_per_s, 1)})
        print(rows[-1], flush=True)
    return rows


def markdown(result: dict) -> str:
    lines = ["| num_proc | wall s | CPU s | MB text / s / core | tokens / s / core | MB text / s (wall) |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['num_proc']} | {r['wall_s']} | {r['cpu_s']} | {r['mb_per_s_per_core']} | "
              f"{r['tokens_per_s_per_core']:,} | {r['mb_per_s_wall']} |" for r in result["prepare"]]
    lines += ["", "| model | objective | seq_len | loader batches/s | train steps/s | headroom |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['objective']} | {r['seq_len']} | {r['loader_batches_per_s']} | "
              f"{r['train_steps_per_s']} | {r['headroom']}x |" for r in result["loader"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--micro-batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per model")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "data.json"))
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["FRAMEWORK_DATA_CACHE"] = str(work / "cache")  # measure building the corpus too
        demo = bench_demo_path(work)
        print("demo data path:", demo, flush=True)
        rows = [bench_prepare(work, n) for n in (1, 2)]
        print("prepare:", rows, flush=True)
        index = work / "np1" / "index.json"
        vocab = json.loads(index.read_text())["tokenizer"]["vocab_size"]
        loaders = bench_loaders(index, vocab, args.micro_batch, args.steps)
    result = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
                    "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "corpus": "embedded python-docs (Python reference topics + stdlib docstrings)",
        "demo_data_path": demo, "prepare": rows, "loader": loaders,
        "loader_never_bottleneck": all(r["headroom"] >= 10 for r in loaders),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))


if __name__ == "__main__":
    main()
